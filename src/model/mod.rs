//! The model: how one path moves through one step.
//!
//! [`Model::new`] turns a checked [`Scenario`] into flat per-regime tables (Cholesky
//! factors, per-asset step constants, transition rows) once; [`Model::step`] then
//! advances one [`PathState`] by one trading day without allocating. The model knows
//! nothing of threads, statistics or files.

mod events;

use nalgebra::DMatrix;
use rand::Rng;
use rand_distr::{Distribution, Exp1, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::scenario::{Feature, ProcessKind, Scenario};
pub use events::Effects;
use events::EventModel;

/// Most Brownian drivers a scenario may have (the step keeps them on the stack).
pub const MAX_DRIVERS: usize = 64;

/// Largest number of jumps drawn in one step (guards the inversion loop only; at the
/// validated maximum intensity of 252 a year, P(N > 1000) in one day is nil).
const MAX_JUMPS_PER_STEP: u32 = 1000;

/// One asset's constants, fixed for the whole run.
#[derive(Debug, Clone)]
pub struct AssetModel {
    pub name: String,
    pub unit: String,
    pub process: ProcessKind,
    /// Log-price assets hold `ln(level)`; OU assets hold the level itself.
    pub is_log: bool,
    /// Starting state: `ln(initial)` or `initial`.
    pub x0: f64,
    pub initial: f64,
    driver: usize,
    variance_driver: usize,
    initial_variance: f64,
    scaling: Option<ValuationScaling>,
    /// Whether any regime or event can give the asset a positive jump intensity.
    can_jump: bool,
}

impl AssetModel {
    /// The level an asset's state stands for.
    #[inline]
    pub fn level(&self, x: f64) -> f64 {
        if self.is_log {
            // Relative to the start, so the start itself maps back exactly.
            self.initial * (x - self.x0).exp()
        } else {
            x
        }
    }
}

/// `lambda_t = lambda * min(max_factor, (V_t/V_ref)^exponent)` with
/// `ln(V_t/V_ref) = ln(V_0/V_ref) + (x_t - x_0) - sales_growth * t`.
#[derive(Debug, Clone, Copy)]
struct ValuationScaling {
    log_gap0: f64,
    sales_growth: f64,
    exponent: f64,
    log_max_factor: f64,
}

/// What one asset does in one step, with the regime's parameters and the active
/// events' effects folded in. Rebuilt only when the regime or the set of active
/// events changes, so the step itself reads one flat record per asset.
///
/// GBM and OU share one form, `x' = decay x + drift_dt + vol_sqrt_dt w`: GBM has
/// `decay = 1`, `drift_dt = (mu - sigma^2/2) dt`; OU its exact transition.
#[derive(Debug, Clone, Copy, Default)]
struct AssetStep {
    heston: bool,
    driver: usize,
    variance_driver: usize,
    decay: f64,
    drift_dt: f64,
    vol_sqrt_dt: f64,
    /// Heston: `0.5 s^2 dt` with `s` the event vol scale, `kappa dt`, `kappa theta dt`,
    /// `xi sqrt(dt)`.
    half_scale_squared_dt: f64,
    kappa_dt: f64,
    kappa_theta_dt: f64,
    xi_sqrt_dt: f64,
    jump_intensity: f64,
    jump_mean: f64,
    jump_sd: f64,
}

/// Per-regime, per-asset constants of one step.
#[derive(Debug, Clone, Copy, Default)]
struct StepParams {
    drift: f64,
    vol: f64,
    mean: f64,
    mean_reversion: f64,
    long_run_variance: f64,
    vol_of_vol: f64,
    /// OU exact discretisation: `x' = m + (x - m) decay + ou_sd * w`.
    ou_decay: f64,
    ou_sd: f64,
    jump_intensity: f64,
    jump_mean: f64,
    jump_sd: f64,
}

#[derive(Debug, Clone)]
struct RegimeModel {
    /// Lower-triangular factor `L` with `L L^T` the regime's correlation, row-major.
    cholesky: Vec<f64>,
    params: Vec<StepParams>,
    /// `(j, q_ij)` for every destination with a positive base intensity.
    exits: Vec<(usize, f64)>,
    /// `sum_j q_ij dt` before any multiplier or state term.
    base_exit_probability: f64,
    /// State terms of this row: `(destination, feature, coefficient)`.
    state_terms: Vec<(usize, Feature, f64)>,
}

/// The simulation model built from a scenario.
#[derive(Debug, Clone)]
pub struct Model {
    pub steps: usize,
    pub dt: f64,
    sqrt_dt: f64,
    pub drivers: usize,
    pub regime_names: Vec<String>,
    pub event_names: Vec<String>,
    pub assets: Vec<AssetModel>,
    regimes: Vec<RegimeModel>,
    initial_cdf: Vec<f64>,
    events: Vec<EventModel>,
    /// `(step, event)` of dated events, sorted by step.
    dated: Vec<(usize, usize)>,
    /// GBM and OU assets (one linear update each), Heston assets, assets that can
    /// jump, and assets whose running peak a transition feature reads.
    linear_assets: Vec<usize>,
    heston_assets: Vec<usize>,
    jump_assets: Vec<usize>,
    peak_assets: Vec<usize>,
}

/// Everything that evolves along one path.
#[derive(Debug, Clone)]
pub struct PathState {
    /// Per asset: log-level (log-price processes) or level (OU).
    pub x: Vec<f64>,
    /// Per asset: Heston variance (unused otherwise). May dip below 0 under full truncation.
    pub variance: Vec<f64>,
    /// The regime in force for the next step.
    pub regime: usize,
    /// The regime the last step's increments were drawn under.
    pub regime_in_step: usize,
    /// Events that fired in the last step, as a bit mask.
    pub fired: u64,
    peak: Vec<f64>,
    /// Correlated driver increments of the current step (standard normal).
    w: Vec<f64>,
    dated_cursor: usize,
    active_until: Vec<usize>,
    next_fire: Vec<usize>,
    effects_mask: u64,
    effects: Effects,
    /// `steps[a]` holds for `(steps_regime, effects_mask)`.
    steps: Vec<AssetStep>,
    steps_key: Option<(usize, u64)>,
    rng: Xoshiro256PlusPlus,
}

/// A correlation factor `A` with `A A^T = C`: Cholesky where `C` is positive definite,
/// otherwise (semi-definite, e.g. two drivers with correlation 1) the lower-triangular
/// factor of `C + eps I` with eps at rounding level, which validation already bounds.
fn correlation_factor(correlation: &DMatrix<f64>) -> Vec<f64> {
    let n = correlation.nrows();
    let mut jitter = 0.0;
    loop {
        let matrix = correlation + DMatrix::identity(n, n) * jitter;
        if let Some(cholesky) = matrix.cholesky() {
            let l = cholesky.l();
            return (0..n * n).map(|k| l[(k / n, k % n)]).collect();
        }
        jitter = if jitter == 0.0 { 1e-12 } else { jitter * 10.0 };
    }
}

impl Model {
    pub fn new(scenario: &Scenario) -> Model {
        let dt = scenario.dt;
        let regimes = scenario
            .regimes
            .iter()
            .enumerate()
            .map(|(i, regime)| {
                let params = scenario
                    .assets
                    .iter()
                    .map(|asset| {
                        let p = asset.params[i];
                        let kappa = p.mean_reversion;
                        let (ou_decay, ou_sd) = if kappa > 0.0 {
                            let decay = (-kappa * dt).exp();
                            (
                                decay,
                                p.vol * ((1.0 - decay * decay) / (2.0 * kappa)).sqrt(),
                            )
                        } else {
                            (1.0, p.vol * dt.sqrt())
                        };
                        StepParams {
                            drift: p.drift,
                            vol: p.vol,
                            mean: p.mean,
                            mean_reversion: kappa,
                            long_run_variance: p.long_run_variance,
                            vol_of_vol: p.vol_of_vol,
                            ou_decay,
                            ou_sd,
                            jump_intensity: p.jump_intensity,
                            jump_mean: p.jump_mean,
                            jump_sd: p.jump_sd,
                        }
                    })
                    .collect();
                let exits: Vec<(usize, f64)> = regime
                    .intensities
                    .iter()
                    .enumerate()
                    .filter(|(j, q)| *j != i && **q > 0.0)
                    .map(|(j, q)| (j, *q))
                    .collect();
                let state_terms = scenario
                    .state_terms
                    .iter()
                    .filter(|t| t.from == i)
                    .map(|t| (t.to, t.feature, t.coefficient))
                    .collect();
                RegimeModel {
                    cholesky: correlation_factor(&regime.correlation),
                    params,
                    base_exit_probability: exits.iter().map(|(_, q)| q * dt).sum(),
                    exits,
                    state_terms,
                }
            })
            .collect();

        let events: Vec<EventModel> = scenario.events.iter().map(EventModel::new).collect();
        let assets: Vec<AssetModel> = scenario
            .assets
            .iter()
            .map(|asset| AssetModel {
                name: asset.name.clone(),
                unit: asset.unit.clone(),
                process: asset.process,
                is_log: asset.is_log(),
                x0: if asset.is_log() {
                    asset.initial.ln()
                } else {
                    asset.initial
                },
                initial: asset.initial,
                driver: asset.driver,
                variance_driver: asset.variance_driver.unwrap_or(asset.driver),
                initial_variance: asset.initial_variance,
                scaling: asset.jump_scaling.map(|s| ValuationScaling {
                    log_gap0: (s.valuation_initial / s.valuation_reference).ln(),
                    sales_growth: s.sales_growth,
                    exponent: s.exponent,
                    log_max_factor: s.max_factor.ln(),
                }),
                can_jump: asset.params.iter().any(|p| p.jump_intensity > 0.0),
            })
            .collect();

        let mut dated: Vec<(usize, usize)> = events
            .iter()
            .enumerate()
            .filter_map(|(e, event)| event.dated_step().map(|step| (step, e)))
            .collect();
        dated.sort();
        let mut peak_assets: Vec<usize> = Vec::new();
        for term in &scenario.state_terms {
            let Feature::Drawdown { asset } = term.feature;
            if !peak_assets.contains(&asset) {
                peak_assets.push(asset);
            }
        }
        let indices = |keep: &dyn Fn(&AssetModel) -> bool| -> Vec<usize> {
            (0..assets.len()).filter(|&a| keep(&assets[a])).collect()
        };
        let linear_assets = indices(&|a| a.process != ProcessKind::Heston);
        let heston_assets = indices(&|a| a.process == ProcessKind::Heston);
        let jump_assets = indices(&|a| a.can_jump);
        let mut cumulative = 0.0;
        let initial_cdf = scenario
            .initial_distribution
            .iter()
            .map(|p| {
                cumulative += p;
                cumulative
            })
            .collect();

        Model {
            steps: scenario.steps(),
            dt,
            sqrt_dt: dt.sqrt(),
            drivers: scenario.drivers.len(),
            regime_names: scenario.regimes.iter().map(|r| r.name.clone()).collect(),
            event_names: scenario.events.iter().map(|e| e.name.clone()).collect(),
            assets,
            regimes,
            initial_cdf,
            events,
            dated,
            linear_assets,
            heston_assets,
            jump_assets,
            peak_assets,
        }
    }

    pub fn regimes(&self) -> usize {
        self.regimes.len()
    }

    /// A fresh state, to be set up with [`Model::start_path`].
    pub fn new_state(&self) -> PathState {
        let n = self.assets.len();
        PathState {
            x: vec![0.0; n],
            variance: vec![0.0; n],
            regime: 0,
            regime_in_step: 0,
            fired: 0,
            peak: vec![0.0; n],
            w: vec![0.0; self.drivers],
            dated_cursor: 0,
            active_until: vec![0; self.events.len()],
            next_fire: vec![usize::MAX; self.events.len()],
            effects_mask: 0,
            effects: Effects::neutral(n, self.regimes.len()),
            steps: vec![AssetStep::default(); n],
            steps_key: None,
            rng: <Xoshiro256PlusPlus as rand::SeedableRng>::seed_from_u64(0),
        }
    }

    /// Puts `state` at time 0 of a path whose randomness comes from `rng`.
    pub fn start_path(&self, state: &mut PathState, mut rng: Xoshiro256PlusPlus) {
        for (a, asset) in self.assets.iter().enumerate() {
            state.x[a] = asset.x0;
            state.peak[a] = asset.x0;
            state.variance[a] = asset.initial_variance;
        }
        let u: f64 = rng.random();
        state.regime = self
            .initial_cdf
            .iter()
            .position(|c| u < *c)
            .unwrap_or(self.initial_cdf.len() - 1);
        state.regime_in_step = state.regime;
        state.fired = 0;
        state.dated_cursor = 0;
        state.active_until.iter_mut().for_each(|a| *a = 0);
        for (e, event) in self.events.iter().enumerate() {
            state.next_fire[e] = event.first_firing(&mut rng, self.dt);
        }
        state.effects_mask = 0;
        state.effects.reset();
        state.steps_key = None;
        state.rng = rng;
    }

    /// Advances `state` through step `t` (from `dates[t]` to `dates[t + 1]`): events
    /// fire first, then every asset moves under the regime in force at the start of
    /// the step, then the regime chain moves.
    pub fn step(&self, state: &mut PathState, t: usize) {
        state.fired = 0;
        if !self.events.is_empty() {
            self.apply_events(state, t);
        }
        state.regime_in_step = state.regime;
        let key = (state.regime, state.effects_mask);
        if state.steps_key != Some(key) {
            self.fold_step_constants(state);
            state.steps_key = Some(key);
        }
        let regime = &self.regimes[state.regime];
        let n = self.drivers;
        // A local copy of the generator stays in registers across the draws.
        let mut rng = state.rng.clone();
        let PathState {
            x,
            variance,
            peak,
            steps,
            w,
            ..
        } = state;
        correlated_normals(&regime.cholesky, n, &mut rng, w);
        let rng = &mut rng;

        for &a in &self.linear_assets {
            let c = &steps[a];
            x[a] = c.decay * x[a] + c.drift_dt + c.vol_sqrt_dt * w[c.driver];
        }
        for &a in &self.heston_assets {
            // Full-truncation Euler (Lord, Koekkoek & van Dijk 2010): the drift and
            // diffusion read max(v, 0); v itself may go negative.
            let c = &steps[a];
            let v = variance[a];
            let v_plus = v.max(0.0);
            let sd = v_plus.sqrt();
            x[a] +=
                c.drift_dt - c.half_scale_squared_dt * v_plus + c.vol_sqrt_dt * sd * w[c.driver];
            variance[a] = v + c.kappa_theta_dt - c.kappa_dt * v_plus
                + c.xi_sqrt_dt * sd * w[c.variance_driver];
        }
        for &a in &self.jump_assets {
            let (asset, c) = (&self.assets[a], &steps[a]);
            let mut intensity = c.jump_intensity;
            if let Some(s) = asset.scaling {
                let time = t as f64 * self.dt;
                let log_gap = s.log_gap0 + (x[a] - asset.x0) - s.sales_growth * time;
                intensity *= (s.exponent * log_gap).min(s.log_max_factor).exp();
            }
            if intensity > 0.0 {
                let u: f64 = rng.random();
                let count = poisson_count(intensity * self.dt, u);
                if count > 0 {
                    let k = count as f64;
                    let size: f64 = StandardNormal.sample(rng);
                    x[a] += k * c.jump_mean + k.sqrt() * c.jump_sd * size;
                }
            }
        }
        for &a in &self.peak_assets {
            peak[a] = peak[a].max(x[a]);
        }
        state.rng = rng.clone();

        if self.regimes.len() > 1 {
            self.move_regime(state);
        }
    }

    /// Folds the regime's parameters and the active events' effects into per-asset
    /// step constants.
    fn fold_step_constants(&self, state: &mut PathState) {
        let regime = &self.regimes[state.regime];
        let (dt, sqrt_dt) = (self.dt, self.sqrt_dt);
        let effects = &state.effects;
        for (a, asset) in self.assets.iter().enumerate() {
            let p = &regime.params[a];
            let scale = effects.vol_scale[a];
            let drift = p.drift + effects.drift_shift[a];
            let jumps = (
                p.jump_intensity * effects.jump_scale[a],
                p.jump_mean,
                p.jump_sd,
            );
            let mut c = AssetStep {
                driver: asset.driver,
                variance_driver: asset.variance_driver,
                jump_intensity: jumps.0,
                jump_mean: jumps.1,
                jump_sd: jumps.2,
                ..AssetStep::default()
            };
            match asset.process {
                ProcessKind::Gbm => {
                    let vol = p.vol * scale;
                    c.decay = 1.0;
                    c.drift_dt = (drift - 0.5 * vol * vol) * dt;
                    c.vol_sqrt_dt = vol * sqrt_dt;
                }
                ProcessKind::Heston => {
                    c.heston = true;
                    c.drift_dt = drift * dt;
                    c.half_scale_squared_dt = 0.5 * scale * scale * dt;
                    c.vol_sqrt_dt = scale * sqrt_dt;
                    c.kappa_dt = p.mean_reversion * dt;
                    c.kappa_theta_dt = p.mean_reversion * p.long_run_variance * dt;
                    c.xi_sqrt_dt = p.vol_of_vol * sqrt_dt;
                }
                ProcessKind::Ou => {
                    // Exact transition of dX = kappa (m - X) dt + sigma dW over one
                    // step, plus an event's drift shift in level units per year.
                    let mean = p.mean + effects.mean_shift[a];
                    c.decay = p.ou_decay;
                    c.drift_dt = mean * (1.0 - p.ou_decay) + effects.drift_shift[a] * dt;
                    c.vol_sqrt_dt = p.ou_sd * scale;
                }
            }
            state.steps[a] = c;
        }
    }

    fn move_regime(&self, state: &mut PathState) {
        let regime = &self.regimes[state.regime];
        let u: f64 = state.rng.random();
        let dynamic = state.effects.any_multiplier || !regime.state_terms.is_empty();
        if !dynamic && u >= regime.base_exit_probability {
            return;
        }
        let from = state.regime;
        let mut cumulative = 0.0;
        for &(to, q) in &regime.exits {
            let mut probability = q * self.dt;
            if dynamic {
                probability *= state.effects.multiplier(from, to);
                let exponent: f64 = regime
                    .state_terms
                    .iter()
                    .filter(|(j, _, _)| *j == to)
                    .map(|(_, feature, c)| c * self.feature(state, *feature))
                    .sum();
                if exponent != 0.0 {
                    probability *= exponent.exp();
                }
            }
            cumulative += probability;
            if u < cumulative {
                state.regime = to;
                return;
            }
        }
    }

    #[inline]
    fn feature(&self, state: &PathState, feature: Feature) -> f64 {
        match feature {
            Feature::Drawdown { asset } => 1.0 - (state.x[asset] - state.peak[asset]).exp(),
        }
    }

    fn apply_events(&self, state: &mut PathState, t: usize) {
        while let Some(&(step, e)) = self.dated.get(state.dated_cursor) {
            if step > t {
                break;
            }
            state.dated_cursor += 1;
            if step == t {
                self.fire(state, e, t);
            }
        }
        for e in 0..self.events.len() {
            if state.next_fire[e] == t {
                self.fire(state, e, t);
                state.next_fire[e] = self.events[e].next_firing(&mut state.rng, t, self.dt);
            }
        }
        let mut mask = 0u64;
        for (e, until) in state.active_until.iter().enumerate() {
            if t < *until {
                mask |= 1 << e;
            }
        }
        if mask != state.effects_mask {
            state.effects_mask = mask;
            state.effects.reset();
            for (e, event) in self.events.iter().enumerate() {
                if mask & (1 << e) != 0 {
                    event.add_effects(&mut state.effects);
                }
            }
        }
    }

    fn fire(&self, state: &mut PathState, e: usize, t: usize) {
        let event = &self.events[e];
        state.fired |= 1 << e;
        state.active_until[e] = state.active_until[e].max(t + event.duration_steps);
        for jump in &event.jumps {
            let size: f64 = StandardNormal.sample(&mut state.rng);
            state.x[jump.asset] += jump.mean + jump.sd * size;
            state.variance[jump.asset] += jump.variance;
        }
        if let Some(regime) = event.force_regime {
            state.regime = regime;
        }
    }
}

/// Fills `w[..n]` with standard normals correlated by the lower-triangular factor
/// `cholesky` (row-major, `n x n`). Common sizes get their own copy with the loop
/// bounds known at compile time, which lets the compiler unroll the products.
#[inline]
fn correlated_normals(cholesky: &[f64], n: usize, rng: &mut Xoshiro256PlusPlus, w: &mut [f64]) {
    match n {
        1 => correlate::<1>(cholesky, rng, w),
        2 => correlate::<2>(cholesky, rng, w),
        3 => correlate::<3>(cholesky, rng, w),
        4 => correlate::<4>(cholesky, rng, w),
        5 => correlate::<5>(cholesky, rng, w),
        6 => correlate::<6>(cholesky, rng, w),
        7 => correlate::<7>(cholesky, rng, w),
        8 => correlate::<8>(cholesky, rng, w),
        _ => {
            let mut z = [0.0f64; MAX_DRIVERS];
            for value in z[..n].iter_mut() {
                *value = StandardNormal.sample(rng);
            }
            for i in 0..n {
                let row = &cholesky[i * n..i * n + i + 1];
                w[i] = row.iter().zip(&z[..=i]).map(|(l, z)| l * z).sum();
            }
        }
    }
}

#[inline]
fn correlate<const N: usize>(cholesky: &[f64], rng: &mut Xoshiro256PlusPlus, w: &mut [f64]) {
    let w = &mut w[..N];
    let mut z = [0.0f64; N];
    for value in z.iter_mut() {
        *value = StandardNormal.sample(rng);
    }
    let cholesky = &cholesky[..N * N];
    for i in 0..N {
        let mut sum = 0.0;
        for j in 0..=i {
            sum += cholesky[i * N + j] * z[j];
        }
        w[i] = sum;
    }
}

/// Draws a Poisson(`mean`) count from one uniform by inversion. Since
/// `P(N = 0) = e^-mean >= 1 - mean`, most steps return 0 without an `exp`.
#[inline]
pub fn poisson_count(mean: f64, u: f64) -> u32 {
    if u < 1.0 - mean {
        return 0;
    }
    let mut probability = (-mean).exp();
    let mut cumulative = probability;
    let mut count = 0;
    while u >= cumulative && count < MAX_JUMPS_PER_STEP {
        count += 1;
        probability *= mean / count as f64;
        cumulative += probability;
    }
    count
}

/// An exponential waiting time with the given annual rate, in whole steps.
pub(crate) fn steps_until_arrival(
    rng: &mut Xoshiro256PlusPlus,
    rate_per_year: f64,
    dt: f64,
) -> usize {
    let years: f64 = Exp1.sample(rng);
    let steps = years / (rate_per_year * dt);
    if steps.is_finite() && steps < usize::MAX as f64 / 2.0 {
        steps as usize
    } else {
        usize::MAX / 2
    }
}
