//! The scenario format: TOML files in, a checked [`Scenario`] out.
//!
//! Loading happens in two stages. `load` reads the files (following `extends`),
//! merges them and deserializes the raw structs of `raw`; `validate` checks every
//! value once and builds the typed `Scenario` that the model takes. Nothing
//! downstream re-checks user input.

pub mod calendar;
pub(crate) mod check;
pub mod error;
pub mod levels;
pub mod load;
pub mod mechanisms;
pub mod raw;
pub mod settings;
mod signals;
mod validate;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use nalgebra::DMatrix;

pub use check::KeyRange;
pub use error::{Diagnostic, ScenarioError};
pub use mechanisms::Mechanism;
pub use raw::{CalendarKind, FxQuote, ProcessKind};
pub use signals::{SignalKind, SignalRule, Signals, SIGNAL_DESCRIPTIONS};
pub(crate) use validate::run_date;

/// Most Brownian drivers a scenario may have (the step keeps them on the stack).
pub const MAX_DRIVERS: usize = 64;
/// Default number of paths when the scenario does not set `scenario.paths`.
pub const DEFAULT_PATHS: u64 = 10_000;
/// Default seed when the scenario does not set `scenario.seed`.
pub const DEFAULT_SEED: u64 = 20_251_128;
/// Default number of full paths kept for plots and `sample_paths.csv`.
pub const DEFAULT_SAMPLE_PATHS: u64 = 1_000;
/// Events are tracked in a 64-bit mask per path.
pub const MAX_EVENTS: usize = 64;
/// Far above any real market; keeps the per-asset checks and reports bounded.
pub const MAX_ASSETS: usize = 256;
/// Sample paths record their regime in a byte.
pub const MAX_REGIMES: usize = 256;
/// A regime row whose exit probability per step could exceed this is refused.
pub const MAX_EXIT_PROBABILITY_PER_STEP: f64 = 0.5;

/// A validated scenario: every name resolved to an index, every value in range.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub paths: u64,
    pub sample_paths: usize,
    pub calendar: CalendarKind,
    /// Trading dates of the grid: `dates[0]` is the start, one more per step.
    pub dates: Vec<NaiveDate>,
    /// Year fraction of one step.
    pub dt: f64,
    pub regimes: Vec<Regime>,
    /// Probability of starting in each regime.
    pub initial_distribution: Vec<f64>,
    pub state_terms: Vec<StateTerm>,
    /// Names of the Brownian drivers, in the order of the correlation matrices.
    pub drivers: Vec<String>,
    pub assets: Vec<Asset>,
    pub events: Vec<Event>,
    /// Asset pairs whose realised correlation every path reports.
    pub correlation_pairs: Vec<(usize, usize)>,
    pub flows: Option<Flows>,
    /// The early-warning signals every path evaluates.
    pub signals: Option<Signals>,
    /// Currencies, the US dollar first.
    pub currencies: Vec<Currency>,
    /// Per asset, the currency it is priced in.
    pub asset_currency: Vec<usize>,
    /// Portfolio files to evaluate, resolved against the scenario file naming them.
    pub portfolio_files: Vec<PathBuf>,
    /// Stress-vector files, resolved the same way.
    pub stress_files: Vec<PathBuf>,
    /// Portfolios written inline (`[[portfolio]]`), unchecked until `crate::portfolio`.
    pub inline_portfolios: Vec<toml::Table>,
    /// The files the scenario came from, for locating keys of inline portfolios.
    pub sources: load::Sources,
    /// SHA-256 of the fully resolved scenario (after `extends`), hex.
    pub hash: String,
    /// The fully resolved scenario as TOML.
    pub resolved: toml::Table,
    /// What this file changes from the file it `extends` (none without `extends`).
    pub overrides: Option<load::Overrides>,
    /// Keys set over the file (`--set`, a fit's trial values), each with the
    /// file's value; empty for a file as written.
    pub settings: Vec<settings::Applied>,
    /// Which assets and regime the report is about (`[report]`).
    pub report: ReportRoles,
    /// Every numeric key validation checked, with its value and valid interval.
    pub ranges: Vec<KeyRange>,
    /// The mechanisms `[mechanisms]` switched off (already applied above).
    pub mechanisms_off: Vec<Mechanism>,
    /// What the run should know about its dates: an event or a chair dated
    /// before the start (already happened), a window clipped to the horizon.
    pub notes: Vec<Diagnostic>,
    /// The user's levels file the run starts from (`run --levels`), if any.
    pub levels: Option<levels::LevelsRecord>,
}

/// Which assets and regime the report's headline numbers and charts are about.
/// Names set in `[report]` are validated; the defaults (the bundled scenarios'
/// names) are not, and a chart or number whose asset is absent is left out.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRoles {
    /// The equity index of the drawdown key number.
    pub equity: String,
    /// The dollar index of the dollar-fall key number.
    pub dollar: String,
    /// A fall of the equity from a running peak at least this large counts.
    pub equity_drawdown: f64,
    /// The dollar ending at least this much lower counts.
    pub dollar_fall: f64,
    /// Fan charts, drawdown and volatility distributions, VaR and ES, in this order.
    pub core_assets: Vec<String>,
    /// The regime whose first entry the regime chart shows.
    pub stress_regime: String,
    pub foreign_views: Vec<ForeignView>,
}

/// The equity as an investor in `currency` sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignView {
    pub currency: String,
    pub unhedged: String,
    pub hedged: String,
}

impl Default for ReportRoles {
    fn default() -> ReportRoles {
        let view = |currency: &str, unhedged: &str, hedged: &str| ForeignView {
            currency: currency.into(),
            unhedged: unhedged.into(),
            hedged: hedged.into(),
        };
        ReportRoles {
            equity: "spx".into(),
            dollar: "dxy".into(),
            equity_drawdown: 0.20,
            dollar_fall: 0.10,
            core_assets: ["spx", "dxy", "gold", "us10y", "fed_funds", "vix"]
                .map(String::from)
                .to_vec(),
            stress_regime: "sell_america".into(),
            foreign_views: vec![
                view("EUR", "spx_eur", "spx_eur_hedged"),
                view("JPY", "spx_jpy", "spx_jpy_hedged"),
            ],
        }
    }
}

impl Scenario {
    pub fn steps(&self) -> usize {
        self.dates.len() - 1
    }

    pub fn regime_index(&self, name: &str) -> Option<usize> {
        self.regimes.iter().position(|r| r.name == name)
    }

    pub fn asset_index(&self, name: &str) -> Option<usize> {
        self.assets.iter().position(|a| a.name == name)
    }

    pub fn currency_index(&self, name: &str) -> Option<usize> {
        self.currencies.iter().position(|c| c.name == name)
    }

    /// The valid interval (and current value) of a numeric key, as
    /// validation declared it.
    pub fn range_of(&self, key: &str) -> Option<&KeyRange> {
        self.ranges.iter().find(|r| r.key == key)
    }
}

/// The currency every scenario prices in; always `currencies[0]`.
pub const USD: &str = "USD";

/// A currency and how the scenario prices it.
#[derive(Debug, Clone, PartialEq)]
pub struct Currency {
    pub name: String,
    /// The FX asset and its quote direction (`None` for the dollar).
    pub fx: Option<(usize, FxQuote)>,
    pub short_rate: ShortRate,
}

/// A currency's short rate: a constant or a simulated level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ShortRate {
    Constant(f64),
    Asset(usize),
}

#[derive(Debug, Clone)]
pub struct Regime {
    pub name: String,
    pub description: String,
    /// Annual intensities `q_ij` to every regime `j` (0 on the diagonal).
    pub intensities: Vec<f64>,
    /// Correlation of the drivers in this regime (validated positive semi-definite).
    pub correlation: DMatrix<f64>,
}

/// `q_ij(t) *= exp(coefficient * feature_t)` for `from -> to`.
#[derive(Debug, Clone, PartialEq)]
pub struct StateTerm {
    pub from: usize,
    pub to: usize,
    pub feature: Feature,
    pub coefficient: f64,
}

/// State variables that can drive transition intensities. Each is bounded, which is
/// what lets validation bound the exit probability per step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Feature {
    /// The asset's fall from its running peak, as a fraction in [0, 1].
    Drawdown { asset: usize },
    /// Cross-border selling pressure `P_t`, in [0, cap] (see [`Flows`]).
    Pressure { cap: f64 },
    /// The log of an equity's valuation factor, `min(exponent ln(V_t/V_ref),
    /// ln max_factor)` of its `jump_scaling`: record valuations make every
    /// liquidity shock likelier to turn into a crisis.
    Valuation { asset: usize, bound: f64 },
}

impl Feature {
    /// The largest value the feature can take.
    pub fn upper_bound(&self) -> f64 {
        match self {
            Feature::Drawdown { .. } => 1.0,
            Feature::Pressure { cap } => *cap,
            Feature::Valuation { bound, .. } => *bound,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Asset {
    pub name: String,
    pub description: String,
    pub unit: String,
    pub process: ProcessKind,
    pub initial: f64,
    /// Index of the asset's Brownian driver.
    pub driver: usize,
    /// Index of the variance driver (Heston only).
    pub variance_driver: Option<usize>,
    /// Initial Heston variance (0 for other processes).
    pub initial_variance: f64,
    /// The least variance a Heston asset can hold: it diffuses as
    /// `floor + u`, `u` a CIR process reverting to `long_run_variance - floor`
    /// (0 for other processes, and the plain Heston model).
    pub variance_floor: f64,
    /// The asset's parameters in each regime.
    pub params: Vec<AssetParams>,
    /// Beta assets: per regime, `(asset, beta)` on that asset's move in the step.
    pub betas: Vec<Vec<(usize, f64)>>,
    pub policy: Option<PolicyRule>,
    pub curve: Option<Curve>,
    /// Spread assets: `(a, b)`, the level is `a - b`.
    pub spread: Option<(usize, usize)>,
    pub implied_vol: Option<ImpliedVol>,
    /// Beta assets: `x += (foreign_rate - domestic) dt` each step.
    pub carry: Option<Carry>,
    pub pass_through: Option<PassThrough>,
    pub policy_error: Option<PolicyError>,
    pub jump_scaling: Option<JumpScaling>,
    pub liquidation: Option<Liquidation>,
}

impl Asset {
    /// Log-price processes report relative moves; level processes absolute ones.
    pub fn is_log(&self) -> bool {
        self.process.is_log()
    }
}

impl ProcessKind {
    /// Whether the state is a log-price (else a level, in the asset's units).
    pub fn is_log(self) -> bool {
        matches!(
            self,
            ProcessKind::Gbm | ProcessKind::Heston | ProcessKind::Beta
        )
    }

    /// Whether the level is computed from other assets rather than simulated.
    pub fn is_derived(self) -> bool {
        matches!(
            self,
            ProcessKind::Yield | ProcessKind::Spread | ProcessKind::ImpliedVol
        )
    }

    /// The name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            ProcessKind::Gbm => "gbm",
            ProcessKind::Heston => "heston",
            ProcessKind::Ou => "ou",
            ProcessKind::Beta => "beta",
            ProcessKind::PolicyRate => "policy_rate",
            ProcessKind::Yield => "yield",
            ProcessKind::Spread => "spread",
            ProcessKind::ImpliedVol => "implied_vol",
        }
    }
}

/// A policy rate's reaction function: at each meeting the rate moves toward
/// `neutral_rate + inflation_response (pi_e - inflation_target) + growth_response
/// gap - chair_bias(t) + bias` by `round25(adjustment * gap + noise)`, clipped to
/// `max_move` and floored at 0.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyRule {
    /// The asset holding inflation expectations `pi_e` (a level asset).
    pub inflation: usize,
    /// The asset holding the output gap, if the rule answers growth.
    pub growth: Option<usize>,
    pub growth_response: f64,
    pub neutral_rate: f64,
    pub inflation_target: f64,
    pub inflation_response: f64,
    pub adjustment: f64,
    pub max_move: f64,
    /// Steps in which a meeting takes place, ascending.
    pub meeting_steps: Vec<usize>,
    /// From this step on, the chair's dovish bias `dovish_bias * committee_alignment`.
    pub chair_step: Option<usize>,
    /// The day the chair takes (or took) office, as the scenario dates it.
    pub chair_date: Option<NaiveDate>,
    pub chair_bias: f64,
}

impl PolicyRule {
    /// The rule's own target, before the chair's and the regime's biases:
    /// `neutral_rate + inflation_response (pi_e - target) + growth_response gap`.
    #[inline]
    pub fn rule_target(&self, inflation: f64, gap: f64) -> f64 {
        self.neutral_rate
            + self.inflation_response * (inflation - self.inflation_target)
            + self.growth_response * gap
    }

    /// `chair_bias(t)`.
    pub fn chair_bias_at(&self, step: usize) -> f64 {
        match self.chair_step {
            Some(from) if step >= from => self.chair_bias,
            _ => 0.0,
        }
    }
}

/// A yield of maturity `n`: the expected average policy rate under mean reversion
/// at speed `k` toward `r_inf = neutral_rate - chair_bias(t)`, plus the term
/// premium scaled by `n / 10`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Curve {
    pub policy_rate: usize,
    pub term_premium: usize,
    pub maturity_years: f64,
    pub rate_mean_reversion: f64,
}

/// The implied volatility of Heston asset `of` over `horizon_years`: the expected
/// average variance `theta + (v - theta)(1 - e^{-kappa tau})/(kappa tau)` under the
/// regime's parameters, square-rooted, times `1 + risk_premium`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImpliedVol {
    pub of: usize,
    pub horizon_years: f64,
    pub risk_premium: f64,
}

/// The carry of a currency hedge rolled every day: under covered interest parity
/// the forward hedging a dollar asset into a foreign currency earns the foreign
/// short rate and pays the dollar one, `x += (foreign_rate - r_domestic) dt`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Carry {
    pub foreign_rate: f64,
    /// The asset holding the dollar short rate (a level asset).
    pub domestic: usize,
}

/// `x -= coefficient * dln currency` of the previous step: depreciation raises the
/// level, appreciation lowers it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PassThrough {
    pub currency: usize,
    pub coefficient: f64,
}

/// The OU mean rises by
/// `coefficient * max(0, pi_e - target) * max(0, neutral - r) + discretionary * max(0, r_rule - r)`
/// of the named policy rate: easing below neutral with inflation above target,
/// and easing beyond what the rule asks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PolicyError {
    pub policy_rate: usize,
    pub coefficient: f64,
    pub discretionary: f64,
}

/// Margin selling of a beta asset in a crash: while `implied_vol` stands at or
/// above `above` at the start of a step, the asset also moves `beta` times the
/// `equity`'s log-return of the step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Liquidation {
    pub implied_vol: usize,
    pub above: f64,
    pub equity: usize,
    pub beta: f64,
}

/// Per-regime parameters of one asset, annualised. Those a process does not use are 0.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AssetParams {
    pub drift: f64,
    pub vol: f64,
    pub mean: f64,
    pub mean_reversion: f64,
    pub long_run_variance: f64,
    pub vol_of_vol: f64,
    pub jump_intensity: f64,
    pub jump_mean: f64,
    pub jump_sd: f64,
    /// Policy rates: the regime's bias to the reaction-function target.
    pub bias: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JumpScaling {
    pub valuation_initial: f64,
    pub valuation_reference: f64,
    pub sales_growth: f64,
    pub exponent: f64,
    pub max_factor: f64,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub name: String,
    pub description: String,
    pub trigger: Trigger,
    /// The day a dated event happens (or happened, before the start).
    pub date: Option<NaiveDate>,
    /// Steps for which multipliers and adjustments stay in force after a firing.
    pub duration_steps: usize,
    pub multipliers: Vec<Multiplier>,
    /// Per regime (the one in force when the event fires), the jumps it applies.
    pub jumps: Vec<Vec<EventJump>>,
    pub adjustments: Vec<Adjustment>,
    pub force_regime: Option<usize>,
    /// Firings at most, per path.
    pub max_firings: Option<u32>,
    /// False when a mechanism switch took the event out: it still draws its
    /// first arrival (so the other draws of a path stay where they were) but
    /// never fires.
    pub enabled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trigger {
    /// Fires once, in step `step` (its effect shows in the close of `dates[step + 1]`).
    Dated { step: usize },
    /// Fires at Poisson times with `rate_per_year` in steps `first_step..end_step`.
    Poisson {
        rate_per_year: f64,
        first_step: usize,
        end_step: usize,
    },
    /// Fires at the start of a step when `asset` stands at least `threshold` below
    /// its running peak, at most once every `cooldown_steps`.
    Drawdown {
        asset: usize,
        threshold: f64,
        cooldown_steps: usize,
        /// And only while this level asset stands at or above the level.
        confirm: Option<(usize, f64)>,
    },
}

/// Multiplies `q_ij` while the event is in force; `None` matches every regime.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Multiplier {
    pub from: Option<usize>,
    pub to: Option<usize>,
    pub factor: f64,
}

impl Multiplier {
    pub fn applies(&self, from: usize, to: usize) -> bool {
        self.from.is_none_or(|f| f == from) && self.to.is_none_or(|t| t == to)
    }
}

/// A jump applied when the event fires: log size N(mean, sd) for log-price assets,
/// level size for OU assets; `variance` is added to a Heston variance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventJump {
    pub asset: usize,
    pub mean: f64,
    pub sd: f64,
    pub variance: f64,
}

/// Parameter changes in force while the event is active.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adjustment {
    pub asset: usize,
    pub drift_shift: f64,
    pub vol_scale: f64,
    pub jump_intensity_scale: f64,
    pub mean_shift: f64,
}

/// The reflexive loop of cross-border flows. Foreign holders' cumulative
/// currency loss on their US assets (the gap between their unhedged and hedged
/// returns) is `L = -F`, with `F` the dollar's log-return summed with a memory
/// of `half_life_days`; once the loss passes `threshold`, the excess is the
/// selling pressure `P = min(cap, max(0, L - threshold))`, which lowers the
/// equity and currency drifts by `equity_impact * P` and `currency_impact * P`
/// a year and can raise transition intensities through the `pressure` feature.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flows {
    pub equity: usize,
    pub currency: usize,
    pub half_life_days: f64,
    pub threshold: f64,
    pub equity_impact: f64,
    pub currency_impact: f64,
    pub max_pressure: f64,
}

/// Loads, merges and validates the scenario at `path`.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    validate::validate(load::load_file(path)?)
}

/// Loads the scenario at `path` started from the levels file `levels`, if
/// one is given (`--levels`): its date and levels over the file's.
pub fn load_at(path: &Path, levels: Option<&Path>) -> Result<Scenario, ScenarioError> {
    let scenario = load(path)?;
    match levels {
        None => Ok(scenario),
        Some(file) => levels::apply(&scenario, path, &levels::read(file)?, &[]),
    }
}

/// Validates scenario text held in memory (`origin` names it and anchors `extends`).
pub fn load_str(text: &str, origin: &Path) -> Result<Scenario, ScenarioError> {
    validate::validate(load::load_str(text, origin)?)
}
