//! The model: how a path moves through one step.
//!
//! [`Model::new`] turns a checked [`Scenario`] into flat per-regime tables (Cholesky
//! factors, per-asset parameters, transition rows) once; [`Model::step`] then
//! advances a small batch of paths, the [`Lanes`], by one trading day without
//! allocating. Each lane is one path with its own random stream; lanes are laid out
//! asset-major so the per-asset updates run as straight loops over the lanes. The
//! model knows nothing of threads, statistics or files.

mod events;
mod lanes;
pub mod tilt;

use nalgebra::DMatrix;
use rand_distr::{Distribution, Exp1, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::scenario::{
    Curve, Feature, PassThrough, PolicyError, PolicyRule, ProcessKind, Scenario,
};
pub use events::Effects;
use events::EventModel;
pub use lanes::Lanes;
pub use tilt::Tilt;
use tilt::Tilting;

pub use crate::scenario::MAX_DRIVERS;

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
    /// The least variance of a Heston asset (`Asset::variance_floor`).
    pub variance_floor: f64,
    pub(crate) scaling: Option<ValuationScaling>,
    /// Whether any regime or event can give the asset a positive jump intensity.
    can_jump: bool,
}

impl ValuationScaling {
    /// `min(exponent ln(V_t/V_ref), ln max_factor)` at state `x` and time `t`
    /// (years): the log of the factor on crash intensity.
    #[inline]
    fn log_factor(&self, x: f64, x0: f64, time: f64) -> f64 {
        let log_gap = self.log_gap0 + (x - x0) - self.sales_growth * time;
        (self.exponent * log_gap).min(self.log_max_factor)
    }
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
pub(crate) struct ValuationScaling {
    log_gap0: f64,
    sales_growth: f64,
    exponent: f64,
    log_max_factor: f64,
    max_factor: f64,
}

/// The flow loop's step constants: `F' = decay F + dx_currency`, the dollar's
/// log-return summed with a memory of `half_life_days` (foreign holders'
/// cumulative currency gain on their US assets, a loss when negative);
/// `P = min(cap, max(0, -F - threshold))`; the drifts fall by `impact * P * dt`.
#[derive(Debug, Clone, Copy)]
pub struct FlowModel {
    pub equity: usize,
    pub currency: usize,
    decay: f64,
    threshold: f64,
    equity_impact_dt: f64,
    currency_impact_dt: f64,
    cap: f64,
}

impl FlowModel {
    /// `P = min(cap, max(0, -F - threshold))`.
    #[inline]
    pub fn pressure(&self, flow: f64) -> f64 {
        (-flow - self.threshold).clamp(0.0, self.cap)
    }

    fn new(flows: &crate::scenario::Flows, dt: f64) -> FlowModel {
        // Half-life h steps: decay^h = 1/2.
        let decay = 0.5f64.powf(1.0 / flows.half_life_days);
        FlowModel {
            equity: flows.equity,
            currency: flows.currency,
            decay,
            threshold: flows.threshold,
            equity_impact_dt: flows.equity_impact * dt,
            currency_impact_dt: flows.currency_impact * dt,
            cap: flows.max_pressure,
        }
    }
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
    bias: f64,
}

#[derive(Debug, Clone)]
struct RegimeModel {
    /// The leading `correlated_drivers` rows and columns of the lower-triangular
    /// factor `L` with `L L^T` the regime's correlation, row-major.
    cholesky: Vec<f64>,
    params: Vec<StepParams>,
    /// `(j, q_ij)` for every destination with a positive base intensity.
    exits: Vec<(usize, f64)>,
    /// `sum_j q_ij dt` before any multiplier or state term.
    base_exit_probability: f64,
    /// The largest factor the state terms can put on any exit of this row:
    /// `max_j exp(sum of max(0, coefficient) * feature bound)`.
    state_bound: f64,
    /// State terms of this row: `(destination, feature, coefficient)`.
    state_terms: Vec<(usize, Feature, f64)>,
    /// Per asset, `(base asset, beta)` for beta assets (empty for the others).
    betas: Vec<Vec<(usize, f64)>>,
}

/// The simulation model built from a scenario.
#[derive(Debug, Clone)]
pub struct Model {
    pub steps: usize,
    pub dt: f64,
    sqrt_dt: f64,
    pub drivers: usize,
    /// The leading drivers that any regime correlates; the rest are independent
    /// standard normals in every regime (their factor rows are unit rows).
    correlated_drivers: usize,
    pub regime_names: Vec<String>,
    pub event_names: Vec<String>,
    pub assets: Vec<AssetModel>,
    /// Asset pairs whose realised correlation the statistics track.
    pub correlation_pairs: Vec<(usize, usize)>,
    /// The cross-border flow loop, if the scenario has one.
    pub flows: Option<FlowModel>,
    /// The early-warning signals the statistics evaluate on every path.
    pub signals: Option<crate::scenario::Signals>,
    /// The rate blocks: policy rates with their rules, OU couplings, yields
    /// (with `(1 - e^{-kn})/(kn)` precomputed) and spreads.
    policies: Vec<(usize, PolicyRule)>,
    pass_throughs: Vec<(usize, PassThrough)>,
    policy_errors: Vec<(usize, PolicyError)>,
    curves: Vec<(usize, Curve, f64)>,
    spreads: Vec<(usize, usize, usize)>,
    implied_vols: Vec<ImpliedVolModel>,
    /// Whether a step must keep the state at its start (and the one before).
    keeps_start: bool,
    keeps_previous_start: bool,
    regimes: Vec<RegimeModel>,
    initial_cdf: Vec<f64>,
    events: Vec<EventModel>,
    /// `(step, event)` of dated events, sorted by step.
    dated: Vec<(usize, usize)>,
    /// GBM and OU assets (one linear update each), beta assets (which move after
    /// every other asset), Heston assets, assets that can jump, and assets whose
    /// running peak a transition feature reads.
    linear_assets: Vec<usize>,
    /// In dependency order, with their betas where every regime has the same.
    beta_assets: Vec<(usize, Option<Betas>)>,
    /// Per asset, the hedge carry of a beta asset.
    carries: Vec<Option<crate::scenario::Carry>>,
    /// Per asset, a beta asset's margin selling in a crash.
    liquidations: Vec<Option<crate::scenario::Liquidation>>,
    heston_assets: Vec<usize>,
    jump_assets: Vec<usize>,
    peak_assets: Vec<usize>,
    /// The measure the run samples under, when not the scenario's own.
    tilt: Option<Tilting>,
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

/// The number of leading drivers after which every row and column of every
/// factor is a unit vector: those drivers are independent normals in any regime,
/// and multiplying them by the factor would only add zeros.
fn correlated_drivers(factors: &[Vec<f64>], n: usize) -> usize {
    let unit = |l: &[f64], i: usize| {
        (0..n).all(|j| {
            let (row, column) = (l[i * n + j], l[j * n + i]);
            if j == i {
                row == 1.0
            } else {
                row == 0.0 && column == 0.0
            }
        })
    };
    (0..n)
        .rev()
        .find(|&i| factors.iter().any(|l| !unit(l, i)))
        .map_or(0, |i| i + 1)
}

/// The leading `k x k` block of an `n x n` row-major matrix.
fn leading_block(l: &[f64], n: usize, k: usize) -> Vec<f64> {
    (0..k * k).map(|m| l[(m / k) * n + m % k]).collect()
}

impl Model {
    pub fn new(scenario: &Scenario) -> Model {
        let dt = scenario.dt;
        let drivers = scenario.drivers.len();
        let factors: Vec<Vec<f64>> = scenario
            .regimes
            .iter()
            .map(|regime| correlation_factor(&regime.correlation))
            .collect();
        let correlated = correlated_drivers(&factors, drivers);
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
                            bias: p.bias,
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
                    betas: scenario.assets.iter().map(|a| a.betas[i].clone()).collect(),
                    cholesky: leading_block(&factors[i], drivers, correlated),
                    params,
                    base_exit_probability: exits.iter().map(|(_, q)| q * dt).sum(),
                    state_bound: exits
                        .iter()
                        .map(|&(to, _)| {
                            scenario
                                .state_terms
                                .iter()
                                .filter(|t| t.from == i && t.to == to)
                                .map(|t| t.coefficient.max(0.0) * t.feature.upper_bound())
                                .sum::<f64>()
                                .exp()
                        })
                        .fold(1.0, f64::max),
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
                variance_floor: asset.variance_floor,
                scaling: asset.jump_scaling.map(|s| ValuationScaling {
                    log_gap0: (s.valuation_initial / s.valuation_reference).ln(),
                    sales_growth: s.sales_growth,
                    exponent: s.exponent,
                    log_max_factor: s.max_factor.ln(),
                    max_factor: s.max_factor,
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
        let triggers = events
            .iter()
            .filter_map(|e| e.drawdown_trigger().map(|(asset, _)| asset));
        let features = scenario
            .state_terms
            .iter()
            .filter_map(|term| match term.feature {
                Feature::Drawdown { asset } => Some(asset),
                Feature::Pressure { .. } | Feature::Valuation { .. } => None,
            });
        for asset in features.chain(triggers) {
            if !peak_assets.contains(&asset) {
                peak_assets.push(asset);
            }
        }
        let indices = |keep: &dyn Fn(&AssetModel) -> bool| -> Vec<usize> {
            (0..assets.len()).filter(|&a| keep(&assets[a])).collect()
        };
        let linear_assets = indices(&|a| matches!(a.process, ProcessKind::Gbm | ProcessKind::Ou));
        // Satellites of satellites move after their bases (validation refuses circles).
        let mut beta_assets: Vec<usize> = Vec::new();
        let mut pending = indices(&|a| a.process == ProcessKind::Beta);
        while !pending.is_empty() {
            let before = pending.len();
            pending.retain(|&a| {
                let ready = scenario.assets[a].betas.iter().flatten().all(|&(base, _)| {
                    scenario.assets[base].process != ProcessKind::Beta
                        || beta_assets.contains(&base)
                });
                if ready {
                    beta_assets.push(a);
                }
                !ready
            });
            if pending.len() == before {
                beta_assets.append(&mut pending);
            }
        }
        let heston_assets = indices(&|a| a.process == ProcessKind::Heston);
        let jump_assets = indices(&|a| a.can_jump);
        let policies: Vec<(usize, PolicyRule)> = scenario
            .assets
            .iter()
            .enumerate()
            .filter_map(|(a, asset)| asset.policy.clone().map(|rule| (a, rule)))
            .collect();
        let pass_throughs: Vec<(usize, PassThrough)> = scenario
            .assets
            .iter()
            .enumerate()
            .filter_map(|(a, asset)| asset.pass_through.map(|p| (a, p)))
            .collect();
        let policy_errors: Vec<(usize, PolicyError)> = scenario
            .assets
            .iter()
            .enumerate()
            .filter_map(|(a, asset)| asset.policy_error.map(|p| (a, p)))
            .collect();
        let curves: Vec<(usize, Curve, f64)> = scenario
            .assets
            .iter()
            .enumerate()
            .filter_map(|(a, asset)| {
                asset.curve.map(|c| {
                    let kn = c.rate_mean_reversion * c.maturity_years;
                    (a, c, (1.0 - (-kn).exp()) / kn)
                })
            })
            .collect();
        let spreads: Vec<(usize, usize, usize)> = scenario
            .assets
            .iter()
            .enumerate()
            .filter_map(|(a, asset)| asset.spread.map(|(i, j)| (a, i, j)))
            .collect();
        let implied_vols = scenario
            .assets
            .iter()
            .enumerate()
            .filter_map(|(a, asset)| {
                asset.implied_vol.map(|iv| {
                    let per_regime = scenario.assets[iv.of]
                        .params
                        .iter()
                        .map(|p| {
                            let kt = p.mean_reversion * iv.horizon_years;
                            (p.long_run_variance, (1.0 - (-kt).exp()) / kt)
                        })
                        .collect();
                    (a, iv.of, per_regime, 1.0 + iv.risk_premium)
                })
            })
            .collect();
        let beta_assets: Vec<(usize, Option<Betas>)> = beta_assets
            .into_iter()
            .map(|a| {
                let per_regime = &scenario.assets[a].betas;
                let uniform = per_regime.windows(2).all(|pair| pair[0] == pair[1]);
                (a, uniform.then(|| per_regime[0].clone()))
            })
            .collect();
        // Liquidation channels belong to beta assets, which keep the start already.
        let keeps_start = !beta_assets.is_empty()
            || scenario.flows.is_some()
            || !pass_throughs.is_empty()
            || !policy_errors.is_empty()
            || !policies.is_empty();
        let keeps_previous_start = !pass_throughs.is_empty();
        let mut cumulative = 0.0;
        let initial_cdf = scenario
            .initial_distribution
            .iter()
            .map(|p| {
                cumulative += p;
                cumulative
            })
            .collect();

        let mut model = Model {
            steps: scenario.steps(),
            dt,
            sqrt_dt: dt.sqrt(),
            drivers,
            correlated_drivers: correlated,
            regime_names: scenario.regimes.iter().map(|r| r.name.clone()).collect(),
            event_names: scenario.events.iter().map(|e| e.name.clone()).collect(),
            assets,
            correlation_pairs: scenario.correlation_pairs.clone(),
            flows: scenario.flows.map(|f| FlowModel::new(&f, dt)),
            signals: scenario.signals.clone(),
            policies,
            pass_throughs,
            policy_errors,
            curves,
            spreads,
            implied_vols,
            carries: scenario.assets.iter().map(|a| a.carry).collect(),
            liquidations: scenario.assets.iter().map(|a| a.liquidation).collect(),
            keeps_start,
            keeps_previous_start,
            regimes,
            initial_cdf,
            events,
            dated,
            linear_assets,
            beta_assets,
            heston_assets,
            jump_assets,
            peak_assets,
            tilt: None,
        };
        // Derived levels start where their inputs do.
        let mut levels: Vec<f64> = model.assets.iter().map(|a| a.initial).collect();
        model.derive(&mut levels, 1, 0);
        let first_regime = scenario
            .initial_distribution
            .iter()
            .position(|p| *p > 0.0)
            .unwrap_or(0);
        for (a, of, per_regime, scale) in &model.implied_vols {
            let asset = &scenario.assets[*of];
            let v = asset.initial_variance.max(asset.variance_floor);
            levels[*a] = implied_vol(v, per_regime[first_regime], *scale);
        }
        for (asset, level) in model.assets.iter_mut().zip(levels) {
            if asset.process.is_derived() {
                asset.initial = level;
                asset.x0 = level;
            }
        }
        model
    }

    /// The rule of the policy-rate asset `asset`.
    fn rule(&self, asset: usize) -> &PolicyRule {
        &self
            .policies
            .iter()
            .find(|(a, _)| *a == asset)
            .expect("validation links every curve and policy error to a policy rate")
            .1
    }

    /// Computes yields, then spreads, from their inputs in `levels`
    /// (`[asset * stride + lane]`, every lane) at grid point `point` (the close
    /// after step `point - 1`):
    /// `y_n = r_inf + (r - r_inf)(1 - e^{-kn})/(kn) + b G(d) + tp n/10`,
    /// `r_inf = neutral_rate - b` with `b` the chair's bias, known from the start,
    /// and `b G(d)` what the rate expected before the chair takes office, `d`
    /// years away, adds to the average (see [`chair_still_ahead`]). The chair
    /// is in office from step `chair_step`, which starts at point `chair_step`.
    fn derive(&self, levels: &mut [f64], stride: usize, point: usize) {
        for &(a, curve, loading) in &self.curves {
            let rule = self.rule(curve.policy_rate);
            let bias = rule.chair_step.map_or(0.0, |_| rule.chair_bias);
            let long_run = rule.neutral_rate - bias;
            let before_chair = match rule.chair_step {
                Some(step) if step > point => {
                    let years_ahead = (step - point) as f64 * self.dt;
                    bias * chair_still_ahead(
                        years_ahead,
                        curve.rate_mean_reversion,
                        curve.maturity_years,
                    )
                }
                _ => 0.0,
            };
            let anchor = long_run + before_chair;
            let premium_weight = curve.maturity_years / 10.0;
            for lane in 0..stride {
                let rate = levels[curve.policy_rate * stride + lane];
                let premium = levels[curve.term_premium * stride + lane];
                levels[a * stride + lane] =
                    anchor + (rate - long_run) * loading + premium * premium_weight;
            }
        }
        for &(a, i, j) in &self.spreads {
            for lane in 0..stride {
                levels[a * stride + lane] = levels[i * stride + lane] - levels[j * stride + lane];
            }
        }
    }

    pub fn regimes(&self) -> usize {
        self.regimes.len()
    }

    /// The model sampling under `tilt` (docs/MODEL.md, "Tilted runs"), or the
    /// error naming the regime or event it cannot tilt; a neutral tilt leaves
    /// the model as it is, bit for bit.
    pub fn tilted(mut self, tilt: &Tilt) -> Result<Model, String> {
        let poisson: Vec<bool> = self.events.iter().map(|e| e.is_poisson()).collect();
        let tilting = Tilting::new(tilt, &self.regime_names, &self.event_names, &poisson)?;
        self.tilt = (!tilt.is_neutral()).then_some(tilting);
        Ok(self)
    }

    /// The tilt the model samples under, if any: its paths then carry a
    /// likelihood ratio.
    pub fn tilt(&self) -> Option<&Tilt> {
        self.tilt.as_ref().map(|t| &t.spec)
    }

    /// Whether event `e` fires at Poisson arrivals (a tilt can raise its rate).
    pub fn is_poisson_event(&self, e: usize) -> bool {
        self.events[e].is_poisson()
    }

    /// How event `e`'s arrivals are drawn.
    fn arrival_tilt(&self, e: usize) -> events::ArrivalTilt {
        events::ArrivalTilt {
            factor: self.tilt.as_ref().map_or(1.0, |t| t.rates[e]),
            horizon: self.steps,
        }
    }
}

/// The share of a target change `d` years ahead that the expected average of a
/// rate mean-reverting at speed `k` over the next `n` years still lacks: the
/// rate reverts to `r_inf + b` until the change and to `r_inf` after it, so the
/// average exceeds the one under `r_inf` alone by
/// `b (d - (e^{-k(n-d)} - e^{-kn})/k) / n` for `d < n`, and by
/// `b (1 - (1 - e^{-kn})/(kn))` once the change lies beyond the maturity.
fn chair_still_ahead(d: f64, k: f64, n: f64) -> f64 {
    if d >= n {
        1.0 - (1.0 - (-k * n).exp()) / (k * n)
    } else {
        (d - ((-k * (n - d)).exp() - (-k * n).exp()) / k) / n
    }
}

/// A satellite's `(base asset, beta)` list.
type Betas = Vec<(usize, f64)>;

/// An implied vol: `(asset, Heston asset, per regime (theta, loading), 1 + risk
/// premium)`, with `loading = (1 - e^{-kappa tau})/(kappa tau)`.
type ImpliedVolModel = (usize, usize, Vec<(f64, f64)>, f64);

/// `sqrt(theta + (v - theta) loading) * scale`, with `v` floored at 0.
#[inline]
pub(crate) fn implied_vol(variance: f64, (theta, loading): (f64, f64), scale: f64) -> f64 {
    (theta + (variance.max(0.0) - theta) * loading)
        .max(0.0)
        .sqrt()
        * scale
}

/// Writes `n` standard normals correlated by the lower-triangular factor `cholesky`
/// (row-major, `n x n`) into `w[i * stride]`, `i < n`. Sizes up to 16 get their
/// own copy with the loop bounds known at compile time, which lets the compiler
/// unroll the products.
#[inline]
fn correlated_normals(
    cholesky: &[f64],
    n: usize,
    rng: &mut Xoshiro256PlusPlus,
    w: &mut [f64],
    stride: usize,
) {
    match n {
        1 => correlate::<1>(cholesky, rng, w, stride),
        2 => correlate::<2>(cholesky, rng, w, stride),
        3 => correlate::<3>(cholesky, rng, w, stride),
        4 => correlate::<4>(cholesky, rng, w, stride),
        5 => correlate::<5>(cholesky, rng, w, stride),
        6 => correlate::<6>(cholesky, rng, w, stride),
        7 => correlate::<7>(cholesky, rng, w, stride),
        8 => correlate::<8>(cholesky, rng, w, stride),
        _ => correlated_normals_large(cholesky, n, rng, w, stride),
    }
}

/// More than eight drivers: kept out of line so that the common sizes' code stays
/// small where it is inlined into the step.
#[inline(never)]
fn correlated_normals_large(
    cholesky: &[f64],
    n: usize,
    rng: &mut Xoshiro256PlusPlus,
    w: &mut [f64],
    stride: usize,
) {
    match n {
        9 => correlate::<9>(cholesky, rng, w, stride),
        10 => correlate::<10>(cholesky, rng, w, stride),
        11 => correlate::<11>(cholesky, rng, w, stride),
        12 => correlate::<12>(cholesky, rng, w, stride),
        13 => correlate::<13>(cholesky, rng, w, stride),
        14 => correlate::<14>(cholesky, rng, w, stride),
        15 => correlate::<15>(cholesky, rng, w, stride),
        16 => correlate::<16>(cholesky, rng, w, stride),
        _ => {
            let mut z = [0.0f64; MAX_DRIVERS];
            for value in z[..n].iter_mut() {
                *value = StandardNormal.sample(rng);
            }
            for i in 0..n {
                let row = &cholesky[i * n..i * n + i + 1];
                w[i * stride] = row.iter().zip(&z[..=i]).map(|(l, z)| l * z).sum();
            }
        }
    }
}

#[inline]
fn correlate<const N: usize>(
    cholesky: &[f64],
    rng: &mut Xoshiro256PlusPlus,
    w: &mut [f64],
    stride: usize,
) {
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
        w[i * stride] = sum;
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
