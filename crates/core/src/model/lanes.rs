//! A batch of paths advanced together, one step at a time.
//!
//! Per-asset state and per-asset step constants are stored asset-major,
//! `[asset * lanes + lane]`, so that every asset's update is a straight loop over
//! the lanes that the compiler can vectorise. What differs between lanes (the
//! regime, the active events) is folded into the per-lane step constants only
//! when it changes.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::{
    correlated_normals, implied_vol, poisson_count, tilt::Tilting, Effects, Model, ProcessKind,
};

/// 25 basis points.
const QUARTER_POINT: f64 = 0.0025;
use crate::scenario::Feature;

/// Per-lane step constants, asset-major. GBM and OU share one form,
/// `x' = decay x + drift_dt + vol_sqrt_dt w`: GBM has `decay = 1` and
/// `drift_dt = (mu - sigma^2/2) dt`; OU its exact transition. Heston reads
/// `drift_dt = mu dt`, `vol_sqrt_dt = s sqrt(dt)` (s the event vol scale) and its
/// own four constants.
#[derive(Debug, Clone, Default)]
struct StepTable {
    decay: Vec<f64>,
    drift_dt: Vec<f64>,
    vol_sqrt_dt: Vec<f64>,
    half_scale_squared_dt: Vec<f64>,
    kappa_dt: Vec<f64>,
    kappa_theta_dt: Vec<f64>,
    xi_sqrt_dt: Vec<f64>,
    jump_intensity: Vec<f64>,
    jump_mean: Vec<f64>,
    jump_sd: Vec<f64>,
}

/// The state of `count` paths.
#[derive(Debug, Clone)]
pub struct Lanes {
    pub count: usize,
    assets: usize,
    /// `[asset * count + lane]`: log-level (log-price processes) or level (OU).
    pub x: Vec<f64>,
    /// `[asset * count + lane]`: Heston variance; may dip below 0 under full truncation.
    pub variance: Vec<f64>,
    /// Per lane, the regime in force for the next step.
    pub regime: Vec<usize>,
    /// Per lane, the regime the last step's increments were drawn under.
    pub regime_in_step: Vec<usize>,
    /// Per lane, the events that fired in the last step, as a bit mask.
    pub fired: Vec<u64>,
    /// Per lane, `ln(dP/dQ)` of the draws a tilt changed (0 without a tilt).
    pub log_likelihood_ratio: Vec<f64>,
    /// Per lane, foreign investors' trailing annualised own-currency return `F`
    /// and the selling pressure `P` it creates (0 without flows).
    pub flow: Vec<f64>,
    pub pressure: Vec<f64>,
    peak: Vec<f64>,
    /// `[asset * count + lane]`: the state at the start of the step, which beta
    /// assets read (kept only when the model has any).
    x_start: Vec<f64>,
    /// The state at the start of the previous step (for lagged couplings).
    x_previous_start: Vec<f64>,
    /// `[driver * count + lane]`: this step's correlated standard normals.
    w: Vec<f64>,
    table: StepTable,
    table_key: Vec<Option<(usize, u64)>>,
    events: usize,
    dated_cursor: Vec<usize>,
    /// `[lane * events + event]`.
    active_until: Vec<usize>,
    /// `[lane * events + event]`: firings so far.
    firings: Vec<u32>,
    next_fire: Vec<usize>,
    effects_mask: Vec<u64>,
    effects: Vec<Effects>,
    /// Per lane, the stream of the draws made every step whatever happens
    /// (the drivers' normals, the jump and regime uniforms)...
    rngs: Vec<Xoshiro256PlusPlus>,
    /// ...and the stream of the draws made only when something happens (event
    /// arrivals, event and jump sizes). Kept apart so that switching a
    /// mechanism off leaves every path's diffusion on the same numbers: runs
    /// compared by `attribute` stay common-random-number pairs.
    event_rngs: Vec<Xoshiro256PlusPlus>,
}

impl Lanes {
    /// The state of asset `asset` on every lane.
    #[inline]
    pub fn asset(&self, asset: usize) -> &[f64] {
        &self.x[asset * self.count..(asset + 1) * self.count]
    }

    /// The variance of asset `asset` on lane `lane`.
    pub fn variance_of(&self, asset: usize, lane: usize) -> f64 {
        self.variance[asset * self.count + lane]
    }

    /// The state of every asset on lane `lane`, in asset order.
    pub fn lane(&self, lane: usize) -> impl Iterator<Item = f64> + '_ {
        (0..self.assets).map(move |a| self.x[a * self.count + lane])
    }
}

impl Model {
    /// State for `count` paths, to be set up with [`Model::start_lane`].
    pub fn new_lanes(&self, count: usize) -> Lanes {
        let (assets, events) = (self.assets.len(), self.events.len());
        let per_asset = vec![0.0; assets * count];
        Lanes {
            count,
            assets,
            x: per_asset.clone(),
            variance: per_asset.clone(),
            regime: vec![0; count],
            regime_in_step: vec![0; count],
            fired: vec![0; count],
            log_likelihood_ratio: vec![0.0; count],
            flow: vec![0.0; count],
            pressure: vec![0.0; count],
            peak: per_asset.clone(),
            x_start: if self.keeps_start {
                per_asset.clone()
            } else {
                Vec::new()
            },
            x_previous_start: if self.keeps_previous_start {
                per_asset.clone()
            } else {
                Vec::new()
            },
            // At least one driver's worth: assets without noise read driver 0 times 0.
            w: vec![0.0; self.drivers.max(1) * count],
            table: StepTable {
                decay: per_asset.clone(),
                drift_dt: per_asset.clone(),
                vol_sqrt_dt: per_asset.clone(),
                half_scale_squared_dt: per_asset.clone(),
                kappa_dt: per_asset.clone(),
                kappa_theta_dt: per_asset.clone(),
                xi_sqrt_dt: per_asset.clone(),
                jump_intensity: per_asset.clone(),
                jump_mean: per_asset.clone(),
                jump_sd: per_asset,
            },
            table_key: vec![None; count],
            events,
            dated_cursor: vec![0; count],
            active_until: vec![0; count * events],
            firings: vec![0; count * events],
            next_fire: vec![usize::MAX; count * events],
            effects_mask: vec![0; count],
            effects: vec![Effects::neutral(assets, self.regimes.len()); count],
            rngs: vec![<Xoshiro256PlusPlus as rand::SeedableRng>::seed_from_u64(0); count],
            event_rngs: vec![<Xoshiro256PlusPlus as rand::SeedableRng>::seed_from_u64(0); count],
        }
    }

    /// Puts lane `lane` at time 0 of a path whose randomness comes from `rng`.
    pub fn start_lane(&self, lanes: &mut Lanes, lane: usize, mut rng: Xoshiro256PlusPlus) {
        let count = lanes.count;
        for (a, asset) in self.assets.iter().enumerate() {
            lanes.x[a * count + lane] = asset.x0;
            lanes.peak[a * count + lane] = asset.x0;
            lanes.variance[a * count + lane] = asset.initial_variance;
        }
        let u: f64 = rng.random();
        let regime = self
            .initial_cdf
            .iter()
            .position(|c| u < *c)
            .unwrap_or(self.initial_cdf.len() - 1);
        lanes.regime[lane] = regime;
        lanes.regime_in_step[lane] = regime;
        let mut event_rng =
            <Xoshiro256PlusPlus as rand::SeedableRng>::seed_from_u64(rng.random::<u64>());
        lanes.fired[lane] = 0;
        lanes.flow[lane] = 0.0;
        lanes.pressure[lane] = self.flows.map_or(0.0, |f| f.pressure(0.0));
        lanes.dated_cursor[lane] = 0;
        let events = self.events.len();
        let mut log_ratio = 0.0;
        for (e, event) in self.events.iter().enumerate() {
            lanes.active_until[lane * events + e] = 0;
            lanes.firings[lane * events + e] = 0;
            lanes.next_fire[lane * events + e] = event.first_firing(
                &mut event_rng,
                self.dt,
                self.arrival_tilt(e),
                &mut log_ratio,
            );
        }
        lanes.log_likelihood_ratio[lane] = log_ratio;
        lanes.effects_mask[lane] = 0;
        lanes.effects[lane].reset();
        lanes.table_key[lane] = None;
        lanes.rngs[lane] = rng;
        lanes.event_rngs[lane] = event_rng;
        for (a, of, per_regime, scale) in &self.implied_vols {
            let variance = lanes.variance[of * count + lane].max(self.assets[*of].variance_floor);
            lanes.x[a * count + lane] = implied_vol(variance, per_regime[regime], *scale);
        }
        for a in 0..self.assets.len() {
            let k = a * count + lane;
            if !lanes.x_start.is_empty() {
                lanes.x_start[k] = lanes.x[k];
            }
            if !lanes.x_previous_start.is_empty() {
                lanes.x_previous_start[k] = lanes.x[k];
            }
        }
    }

    /// Advances every lane through step `t` (from `dates[t]` to `dates[t + 1]`):
    /// events fire first, then every asset moves under the regime in force at the
    /// start of the step, then the regime chain moves.
    pub fn step(&self, lanes: &mut Lanes, t: usize) {
        let count = lanes.count;
        if !lanes.x_previous_start.is_empty() {
            // The previous start is only read, never written: take the old start's
            // buffer rather than copying it (x_start is kept whenever this one is).
            std::mem::swap(&mut lanes.x_previous_start, &mut lanes.x_start);
        }
        if !lanes.x_start.is_empty() {
            lanes.x_start.copy_from_slice(&lanes.x);
        }
        for lane in 0..count {
            lanes.fired[lane] = 0;
            if !self.events.is_empty() {
                self.apply_events(lanes, lane, t);
            }
            let regime = lanes.regime[lane];
            lanes.regime_in_step[lane] = regime;
            let key = (regime, lanes.effects_mask[lane]);
            if lanes.table_key[lane] != Some(key) {
                self.fold_step_constants(lanes, lane);
                lanes.table_key[lane] = Some(key);
            }
            let rng = &mut lanes.rngs[lane];
            if self.correlated_drivers > 0 {
                correlated_normals(
                    &self.regimes[regime].cholesky,
                    self.correlated_drivers,
                    rng,
                    &mut lanes.w[lane..],
                    count,
                );
            }
            // The same draws in the same order as the full product would use.
            for d in self.correlated_drivers..self.drivers {
                lanes.w[d * count + lane] = StandardNormal.sample(rng);
            }
        }

        let table = &lanes.table;
        for &a in &self.linear_assets {
            let span = a * count..(a + 1) * count;
            let d = self.assets[a].driver;
            let w = &lanes.w[d * count..(d + 1) * count];
            let x = &mut lanes.x[span.clone()];
            let (decay, drift, vol) = (
                &table.decay[span.clone()],
                &table.drift_dt[span.clone()],
                &table.vol_sqrt_dt[span],
            );
            for l in 0..count {
                x[l] = decay[l] * x[l] + drift[l] + vol[l] * w[l];
            }
        }
        for &a in &self.heston_assets {
            // Full-truncation Euler (Lord, Koekkoek & van Dijk 2010): the drift and
            // diffusion read max(v, 0); v itself may go negative. Above a floor f
            // the same scheme runs on u = v - f: the price reads f + max(u, 0), the
            // variance's diffusion sqrt(max(u, 0)).
            let span = a * count..(a + 1) * count;
            let asset = &self.assets[a];
            let (d, dv) = (asset.driver, asset.variance_driver);
            let w = &lanes.w[d * count..(d + 1) * count];
            let wv = &lanes.w[dv * count..(dv + 1) * count];
            let x = &mut lanes.x[span.clone()];
            let v = &mut lanes.variance[span.clone()];
            let half = &table.half_scale_squared_dt[span.clone()];
            let (drift, vol) = (
                &table.drift_dt[span.clone()],
                &table.vol_sqrt_dt[span.clone()],
            );
            let (kappa, kappa_theta, xi) = (
                &table.kappa_dt[span.clone()],
                &table.kappa_theta_dt[span.clone()],
                &table.xi_sqrt_dt[span],
            );
            let floor = asset.variance_floor;
            if floor == 0.0 {
                for l in 0..count {
                    let v_plus = v[l].max(0.0);
                    let sd = v_plus.sqrt();
                    x[l] += drift[l] - half[l] * v_plus + vol[l] * sd * w[l];
                    v[l] += kappa_theta[l] - kappa[l] * v_plus + xi[l] * sd * wv[l];
                }
            } else {
                for l in 0..count {
                    let above = (v[l] - floor).max(0.0);
                    let v_plus = floor + above;
                    x[l] += drift[l] - half[l] * v_plus + vol[l] * v_plus.sqrt() * w[l];
                    v[l] += kappa_theta[l] - kappa[l] * v_plus + xi[l] * above.sqrt() * wv[l];
                }
            }
        }
        self.move_rates(lanes, t);
        if let Some(flows) = &self.flows {
            // Selling pressure from the last step lowers both drifts.
            let (s, c) = (flows.equity * count, flows.currency * count);
            for lane in 0..count {
                let pressure = lanes.pressure[lane];
                lanes.x[s + lane] -= flows.equity_impact_dt * pressure;
                lanes.x[c + lane] -= flows.currency_impact_dt * pressure;
            }
        }
        for &a in &self.jump_assets {
            let asset = &self.assets[a];
            for lane in 0..count {
                let k = a * count + lane;
                let base = lanes.table.jump_intensity[k];
                // The uniform is drawn whether or not this regime can jump, so
                // the stream does not depend on the regime path.
                let u: f64 = lanes.rngs[lane].random();
                if base > 0.0 {
                    let jumps = match asset.scaling {
                        None => poisson_count(base * self.dt, u),
                        // No jump is possible below one minus the largest mean: most
                        // steps end there, without the valuation's exp.
                        Some(s) if u < 1.0 - base * s.max_factor * self.dt => 0,
                        Some(s) => {
                            let time = t as f64 * self.dt;
                            let factor = s.log_factor(lanes.x[k], asset.x0, time).exp();
                            poisson_count(base * factor * self.dt, u)
                        }
                    };
                    if jumps > 0 {
                        let n = jumps as f64;
                        let size: f64 = StandardNormal.sample(&mut lanes.event_rngs[lane]);
                        lanes.x[k] +=
                            n * lanes.table.jump_mean[k] + n.sqrt() * lanes.table.jump_sd[k] * size;
                    }
                }
            }
        }
        self.derive(&mut lanes.x, count, t + 1);
        self.derive_implied_vols(lanes);
        // Beta assets last: their bases (gbm, heston, ou) have moved, events and
        // jumps included. Their own drift, vol and jumps use the GBM constants.
        for &(a, ref uniform) in &self.beta_assets {
            let d = self.assets[a].driver;
            let span = a * count..(a + 1) * count;
            let (drift, vol) = (
                &lanes.table.drift_dt[span.clone()],
                &lanes.table.vol_sqrt_dt[span.clone()],
            );
            let w = &lanes.w[d * count..(d + 1) * count];
            match uniform {
                // The same betas in every regime: straight loops over the lanes.
                Some(betas) => {
                    let (before, rest) = lanes.x.split_at_mut(a * count);
                    let (x, after) = rest.split_at_mut(count);
                    for &(base, beta) in betas {
                        let start = &lanes.x_start[base * count..(base + 1) * count];
                        let now = if base < a {
                            &before[base * count..(base + 1) * count]
                        } else {
                            &after[(base - a - 1) * count..(base - a) * count]
                        };
                        for l in 0..count {
                            x[l] += beta * (now[l] - start[l]);
                        }
                    }
                    for l in 0..count {
                        x[l] += drift[l] + vol[l] * w[l];
                    }
                    if let Some(carry) = self.carries[a] {
                        let domestic =
                            &lanes.x_start[carry.domestic * count..(carry.domestic + 1) * count];
                        for l in 0..count {
                            x[l] += (carry.foreign_rate - domestic[l]) * self.dt;
                        }
                    }
                }
                None => {
                    for lane in 0..count {
                        let betas = &self.regimes[lanes.regime_in_step[lane]].betas[a];
                        let systematic: f64 = betas
                            .iter()
                            .map(|&(base, beta)| {
                                let b = base * count + lane;
                                beta * (lanes.x[b] - lanes.x_start[b])
                            })
                            .sum();
                        let carry = self.carries[a].map_or(0.0, |c| {
                            (c.foreign_rate - lanes.x_start[c.domestic * count + lane]) * self.dt
                        });
                        lanes.x[a * count + lane] +=
                            systematic + drift[lane] + vol[lane] * w[lane] + carry;
                    }
                }
            }
            if let Some(liquidation) = self.liquidations[a] {
                // Margin calls: while the VIX stood high at the last close, the
                // asset is sold with the equity (in the same step, so a
                // satellite of this asset sees it).
                let (vix, equity) = (liquidation.implied_vol * count, liquidation.equity * count);
                for lane in 0..count {
                    if lanes.x_start[vix + lane] >= liquidation.above {
                        let moved = lanes.x[equity + lane] - lanes.x_start[equity + lane];
                        lanes.x[a * count + lane] += liquidation.beta * moved;
                    }
                }
            }
        }
        if let Some(flows) = &self.flows {
            let c = flows.currency * count;
            for lane in 0..count {
                let moved = lanes.x[c + lane] - lanes.x_start[c + lane];
                let flow = flows.decay * lanes.flow[lane] + moved;
                lanes.flow[lane] = flow;
                lanes.pressure[lane] = flows.pressure(flow);
            }
        }
        for &a in &self.peak_assets {
            let span = a * count..(a + 1) * count;
            for (peak, &x) in lanes.peak[span.clone()].iter_mut().zip(&lanes.x[span]) {
                *peak = peak.max(x);
            }
        }

        if self.regimes.len() > 1 {
            for lane in 0..count {
                self.move_regime(lanes, lane, t);
            }
        }
    }

    /// Implied vols from their Heston asset's variance under each lane's regime.
    fn derive_implied_vols(&self, lanes: &mut Lanes) {
        let count = lanes.count;
        for (a, of, per_regime, scale) in &self.implied_vols {
            let floor = self.assets[*of].variance_floor;
            for lane in 0..count {
                let variance = lanes.variance[of * count + lane].max(floor);
                let params = per_regime[lanes.regime_in_step[lane]];
                lanes.x[a * count + lane] = implied_vol(variance, params, *scale);
            }
        }
    }

    /// The rate blocks of step `t`, reading the state at the start of the step:
    /// the depreciation pass-through (of the previous step's currency move,
    /// symmetric: rectifying daily moves, `max(0, -dln X)`, would turn the
    /// currency's noise into a drift of about `0.4 sigma_X sqrt(252)` a year), the
    /// policy error's pull on OU means, and the policy rates' meetings.
    fn move_rates(&self, lanes: &mut Lanes, t: usize) {
        let count = lanes.count;
        for &(a, pass) in &self.pass_throughs {
            for lane in 0..count {
                let c = pass.currency * count + lane;
                let last_move = lanes.x_start[c] - lanes.x_previous_start[c];
                lanes.x[a * count + lane] -= pass.coefficient * last_move;
            }
        }
        for &(a, error) in &self.policy_errors {
            let rule = self.rule(error.policy_rate);
            for lane in 0..count {
                let rate = lanes.x_start[error.policy_rate * count + lane];
                let inflation = lanes.x_start[rule.inflation * count + lane];
                let growth = rule.growth.map_or(0.0, |g| lanes.x_start[g * count + lane]);
                let behind = (inflation - rule.inflation_target).max(0.0)
                    * (rule.neutral_rate - rate).max(0.0);
                let beyond_rule = (rule.rule_target(inflation, growth) - rate).max(0.0);
                // The OU mean rises by the error: over one step the level moves
                // (1 - decay) of the way toward it.
                let k = a * count + lane;
                lanes.x[k] += (error.coefficient * behind + error.discretionary * beyond_rule)
                    * (1.0 - lanes.table.decay[k]);
            }
        }
        for (a, rule) in &self.policies {
            if rule.meeting_steps.binary_search(&t).is_err() {
                continue;
            }
            let d = self.assets[*a].driver;
            let chair_bias = rule.chair_bias_at(t);
            for lane in 0..count {
                let k = a * count + lane;
                let inflation = lanes.x_start[rule.inflation * count + lane];
                let growth = rule.growth.map_or(0.0, |g| lanes.x_start[g * count + lane]);
                let bias = self.regimes[lanes.regime_in_step[lane]].params[*a].bias;
                let target = rule.rule_target(inflation, growth) - chair_bias + bias;
                let rate = lanes.x[k];
                let wanted = rule.adjustment * (target - rate)
                    + lanes.table.vol_sqrt_dt[k] * lanes.w[d * count + lane];
                // Committees move in quarter points, at most max_move a meeting.
                let step = ((wanted / QUARTER_POINT).round() * QUARTER_POINT)
                    .clamp(-rule.max_move, rule.max_move);
                lanes.x[k] = (rate + step).max(0.0);
            }
        }
    }

    /// Folds lane `lane`'s regime parameters and active events' effects into its
    /// step constants.
    fn fold_step_constants(&self, lanes: &mut Lanes, lane: usize) {
        let regime = &self.regimes[lanes.regime[lane]];
        let (dt, sqrt_dt, count) = (self.dt, self.sqrt_dt, lanes.count);
        let effects = &lanes.effects[lane];
        let table = &mut lanes.table;
        for (a, asset) in self.assets.iter().enumerate() {
            let p = &regime.params[a];
            let k = a * count + lane;
            let scale = effects.vol_scale[a];
            let drift = p.drift + effects.drift_shift[a];
            table.jump_intensity[k] = p.jump_intensity * effects.jump_scale[a];
            table.jump_mean[k] = p.jump_mean;
            table.jump_sd[k] = p.jump_sd;
            match asset.process {
                ProcessKind::Gbm | ProcessKind::Beta => {
                    let vol = p.vol * scale;
                    table.decay[k] = 1.0;
                    table.drift_dt[k] = (drift - 0.5 * vol * vol) * dt;
                    table.vol_sqrt_dt[k] = vol * sqrt_dt;
                }
                ProcessKind::Heston => {
                    table.drift_dt[k] = drift * dt;
                    table.half_scale_squared_dt[k] = 0.5 * scale * scale * dt;
                    table.vol_sqrt_dt[k] = scale * sqrt_dt;
                    table.kappa_dt[k] = p.mean_reversion * dt;
                    table.kappa_theta_dt[k] = p.mean_reversion * p.long_run_variance * dt;
                    table.xi_sqrt_dt[k] = p.vol_of_vol * sqrt_dt;
                }
                ProcessKind::PolicyRate => {
                    // The meeting noise, per meeting (not per sqrt(year)).
                    table.vol_sqrt_dt[k] = p.vol * scale;
                }
                ProcessKind::Yield | ProcessKind::Spread | ProcessKind::ImpliedVol => {}
                ProcessKind::Ou => {
                    // Exact transition of dX = kappa (m - X) dt + sigma dW over one
                    // step, plus an event's drift shift in level units per year.
                    let mean = p.mean + effects.mean_shift[a];
                    table.decay[k] = p.ou_decay;
                    table.drift_dt[k] = mean * (1.0 - p.ou_decay) + effects.drift_shift[a] * dt;
                    table.vol_sqrt_dt[k] = p.ou_sd * scale;
                }
            }
        }
    }

    fn move_regime(&self, lanes: &mut Lanes, lane: usize, t: usize) {
        if let Some(tilt) = &self.tilt {
            return self.move_regime_tilted(lanes, lane, t, tilt);
        }
        let from = lanes.regime[lane];
        let regime = &self.regimes[from];
        let u: f64 = lanes.rngs[lane].random();
        let effects = &lanes.effects[lane];
        let dynamic = effects.any_multiplier || !regime.state_terms.is_empty();
        // Most steps stay: test u against an upper bound of the exit probability
        // (state terms at their largest) before computing any exp.
        let base = if effects.any_multiplier {
            regime
                .exits
                .iter()
                .map(|&(to, q)| q * self.dt * effects.multiplier(from, to))
                .sum()
        } else {
            regime.base_exit_probability
        };
        if u >= base * regime.state_bound {
            return;
        }
        let mut cumulative = 0.0;
        for &(to, q) in &regime.exits {
            cumulative += if dynamic {
                self.exit_probability(lanes, lane, t, from, to, q)
            } else {
                q * self.dt
            };
            if u < cumulative {
                lanes.regime[lane] = to;
                return;
            }
        }
    }

    /// The probability of leaving regime `from` for `to` (base intensity `q`)
    /// in step `t`: `q dt` times the active events' multipliers and the
    /// exponential of the row's state terms.
    fn exit_probability(
        &self,
        lanes: &Lanes,
        lane: usize,
        t: usize,
        from: usize,
        to: usize,
        q: f64,
    ) -> f64 {
        let regime = &self.regimes[from];
        let effects = &lanes.effects[lane];
        let mut probability = q * self.dt * effects.multiplier(from, to);
        let exponent: f64 = regime
            .state_terms
            .iter()
            .filter(|(j, _, _)| *j == to)
            .map(|(_, feature, c)| c * self.feature(lanes, lane, *feature, t))
            .sum();
        if exponent != 0.0 {
            probability *= exponent.exp();
        }
        probability
    }

    /// [`Model::move_regime`] under a tilt: every exit's probability `p_j`
    /// (as the plain chain has it) becomes `p_j f_j s` with `f_j` the factor
    /// on exits into `j` and `s` scaling the total down to
    /// [`super::tilt::MAX_TILTED_EXIT`] if the factors raise it past that
    /// (and past the plain total); the same uniform picks the outcome, and
    /// its `ln(P/Q)`, "stay" included, is added to the lane's ratio.
    fn move_regime_tilted(&self, lanes: &mut Lanes, lane: usize, t: usize, tilt: &Tilting) {
        use super::tilt::{slot_probability, stay_log_ratio, MAX_TILTED_EXIT};
        let from = lanes.regime[lane];
        let regime = &self.regimes[from];
        let u: f64 = lanes.rngs[lane].random();
        let mut plain = [0.0f64; crate::scenario::MAX_REGIMES];
        let (mut plain_total, mut tilted_total) = (0.0, 0.0);
        for (k, &(to, q)) in regime.exits.iter().enumerate() {
            plain[k] = self.exit_probability(lanes, lane, t, from, to, q);
            plain_total += plain[k];
            tilted_total += plain[k] * tilt.into[to];
        }
        let cap = plain_total.max(MAX_TILTED_EXIT);
        let scale = if tilted_total > cap {
            cap / tilted_total
        } else {
            1.0
        };
        let (mut plain_cumulative, mut tilted_cumulative) = (0.0, 0.0);
        for (k, &(to, _)) in regime.exits.iter().enumerate() {
            let tilted = plain[k] * tilt.into[to] * scale;
            let (plain_below, tilted_below) = (plain_cumulative, tilted_cumulative);
            plain_cumulative += plain[k];
            tilted_cumulative += tilted;
            if u < tilted_cumulative {
                lanes.regime[lane] = to;
                lanes.log_likelihood_ratio[lane] += slot_probability(plain_below, plain_cumulative)
                    .ln()
                    - slot_probability(tilted_below, tilted_cumulative).ln();
                return;
            }
        }
        lanes.log_likelihood_ratio[lane] += stay_log_ratio(plain_total, tilted_cumulative);
    }

    /// A state feature at the end of step `t`.
    #[inline]
    fn feature(&self, lanes: &Lanes, lane: usize, feature: Feature, t: usize) -> f64 {
        match feature {
            Feature::Drawdown { asset } => {
                let k = asset * lanes.count + lane;
                1.0 - (lanes.x[k] - lanes.peak[k]).exp()
            }
            Feature::Pressure { .. } => lanes.pressure[lane],
            Feature::Valuation { asset, .. } => {
                let model = &self.assets[asset];
                model.scaling.map_or(0.0, |s| {
                    let time = (t + 1) as f64 * self.dt;
                    s.log_factor(lanes.x[asset * lanes.count + lane], model.x0, time)
                })
            }
        }
    }

    fn apply_events(&self, lanes: &mut Lanes, lane: usize, t: usize) {
        while let Some(&(step, e)) = self.dated.get(lanes.dated_cursor[lane]) {
            if step > t {
                break;
            }
            lanes.dated_cursor[lane] += 1;
            if step == t {
                self.fire(lanes, lane, e, t);
            }
        }
        let events = lanes.events;
        for e in 0..events {
            let next = lanes.next_fire[lane * events + e];
            let fires = match self.events[e].drawdown_trigger() {
                // The drawdown at the start of the step: the last close against the
                // running peak of the closes.
                Some((asset, log_floor)) => {
                    let k = asset * lanes.count + lane;
                    t >= next
                        && lanes.x[k] - lanes.peak[k] <= log_floor
                        && self.events[e].confirm.is_none_or(|(level, above)| {
                            lanes.x[level * lanes.count + lane] >= above
                        })
                }
                None => next == t,
            };
            if fires {
                self.fire(lanes, lane, e, t);
                let firings = &mut lanes.firings[lane * events + e];
                *firings += 1;
                lanes.next_fire[lane * events + e] = if *firings >= self.events[e].max_firings {
                    usize::MAX
                } else {
                    self.events[e].next_firing(
                        &mut lanes.event_rngs[lane],
                        t,
                        self.dt,
                        self.arrival_tilt(e),
                        &mut lanes.log_likelihood_ratio[lane],
                    )
                };
            }
        }
        let mut mask = 0u64;
        for (e, until) in lanes.active_until[lane * events..(lane + 1) * events]
            .iter()
            .enumerate()
        {
            if t < *until {
                mask |= 1 << e;
            }
        }
        if mask != lanes.effects_mask[lane] {
            lanes.effects_mask[lane] = mask;
            let effects = &mut lanes.effects[lane];
            effects.reset();
            for (e, event) in self.events.iter().enumerate() {
                if mask & (1 << e) != 0 {
                    event.add_effects(effects);
                }
            }
        }
    }

    fn fire(&self, lanes: &mut Lanes, lane: usize, e: usize, t: usize) {
        let event = &self.events[e];
        let count = lanes.count;
        lanes.fired[lane] |= 1 << e;
        let until = &mut lanes.active_until[lane * lanes.events + e];
        *until = (*until).max(t + event.duration_steps);
        for jump in &event.jumps[lanes.regime[lane]] {
            let size: f64 = StandardNormal.sample(&mut lanes.event_rngs[lane]);
            lanes.x[jump.asset * count + lane] += jump.mean + jump.sd * size;
            lanes.variance[jump.asset * count + lane] += jump.variance;
        }
        if let Some(regime) = event.force_regime {
            lanes.regime[lane] = regime;
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    use super::super::{Model, Tilt};

    /// A calm regime leaving for `a` (1 a year) and `b` (2 a year), over
    /// one weekday step.
    fn chain() -> Model {
        let text = "[scenario]\nname = \"chain\"\nstart_date = 2026-01-05\nhorizon_steps = 1\ncalendar = \"weekdays\"\nsample_paths = 0\n[regimes.calm]\nintensities = { a = 1.0, b = 2.0 }\n[regimes.a]\nintensities = { calm = 1.0 }\n[regimes.b]\nintensities = { calm = 1.0 }\n[regime_chain]\ninitial = \"calm\"\n[assets.x]\nprocess = \"gbm\"\ninitial = 1.0\nvol = 0.1\n";
        let scenario =
            crate::scenario::load_str(text, std::path::Path::new("chain.toml")).expect("scenario");
        Model::new(&scenario)
    }

    /// Steps one lane of path `path` once: its regime after the move and
    /// the move's `ln(dP/dQ)`.
    fn one_move(model: &Model, path: u64) -> (usize, f64) {
        let mut lanes = model.new_lanes(1);
        // Its own stream per path (the engine's keying is a layer above).
        model.start_lane(&mut lanes, 0, Xoshiro256PlusPlus::seed_from_u64(path));
        model.step(&mut lanes, 0);
        (lanes.regime[0], lanes.log_likelihood_ratio[0])
    }

    /// Every outcome's log ratio against the one-step probabilities written
    /// out: `p_j = q_j dt` under the scenario, `p_j f_j s` under the tilt,
    /// staying `1 - sum`.
    fn check_moves(factor_b: f64, expect_scale: impl Fn(f64) -> f64) {
        let mut tilt = Tilt::default();
        tilt.regimes.insert("b".into(), factor_b);
        let model = chain().tilted(&tilt).expect("tilt");
        let dt = model.dt;
        let (p_a, p_b) = (1.0 * dt, 2.0 * dt);
        let s = expect_scale(p_a + p_b * factor_b);
        let (q_a, q_b) = (p_a * s, p_b * factor_b * s);
        let mut seen = [0; 3];
        for path in 0..4_000 {
            let (regime, log_ratio) = one_move(&model, path);
            let direct = match regime {
                0 => ((1.0 - p_a - p_b) / (1.0 - q_a - q_b)).ln(),
                1 => (p_a / q_a).ln(),
                _ => (p_b / q_b).ln(),
            };
            seen[regime] += 1;
            assert!(
                (log_ratio - direct).abs() < 1e-12,
                "regime {regime}: {log_ratio} against {direct}"
            );
        }
        assert!(seen.iter().all(|&n| n > 0), "every outcome drawn: {seen:?}");
    }

    #[test]
    fn a_tilted_move_carries_its_exact_likelihood_ratio() {
        check_moves(30.0, |_| 1.0);
    }

    #[test]
    fn a_tilt_past_the_cap_is_scaled_to_it() {
        // 100 times 2 a year into b is 0.8 of a day's probability: scaled
        // down to MAX_TILTED_EXIT, so staying keeps half.
        check_moves(100.0, |total| super::super::tilt::MAX_TILTED_EXIT / total);
    }

    #[test]
    fn a_neutral_tilt_is_no_tilt() {
        let mut tilt = Tilt::default();
        tilt.regimes.insert("b".into(), 1.0);
        let model = chain().tilted(&tilt).expect("tilt");
        assert!(model.tilt().is_none());
        let plain = chain();
        for path in 0..200 {
            assert_eq!(one_move(&model, path), one_move(&plain, path));
        }
    }
}
