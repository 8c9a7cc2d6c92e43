//! The scenario file as written: serde structs that mirror the TOML one to one.
//!
//! Nothing here is checked beyond types; `validate` turns a `RawScenario` into the
//! checked [`crate::scenario::Scenario`]. Every struct denies unknown keys so that a
//! typo is an error naming the nearest valid key, never a silently ignored setting.

use indexmap::IndexMap;
use serde::Deserialize;

/// The whole file after `extends` has been resolved.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub scenario: RawMeta,
    #[serde(default)]
    pub regimes: IndexMap<String, RawRegime>,
    #[serde(default)]
    pub regime_chain: RawRegimeChain,
    #[serde(default)]
    pub correlation: RawCorrelation,
    #[serde(default)]
    pub assets: IndexMap<String, RawAsset>,
    #[serde(default)]
    pub events: Vec<RawEvent>,
    #[serde(default)]
    pub statistics: RawStatistics,
    pub flows: Option<RawFlows>,
    pub signals: Option<RawSignals>,
    /// Currencies a portfolio can be based in or hold, besides the US dollar.
    #[serde(default)]
    pub currencies: IndexMap<String, RawCurrency>,
    /// Portfolio and stress files evaluated on every run.
    pub portfolios: Option<RawPortfolioRefs>,
    /// Portfolios written inline, in the portfolio file format (checked by
    /// `crate::portfolio`).
    #[serde(default)]
    pub portfolio: Vec<toml::Table>,
    #[serde(default)]
    pub report: RawReport,
    /// Mechanisms switched on or off by name (`flow_loop = "off"`); every
    /// mechanism the scenario has is on unless this says otherwise.
    #[serde(default)]
    pub mechanisms: IndexMap<String, toml::Value>,
}

/// A currency: the FX asset that prices it against the dollar, and its short rate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCurrency {
    pub fx: Option<String>,
    pub quote: Option<FxQuote>,
    /// A constant in decimals, or the name of a level asset.
    pub short_rate: Option<toml::Value>,
    /// Assets priced in this currency (every other asset is priced in dollars).
    #[serde(default)]
    pub assets: Vec<String>,
}

/// How an FX asset quotes its currency against the dollar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FxQuote {
    /// Dollars per unit of the currency (EUR/USD).
    UsdPerUnit,
    /// Units of the currency per dollar (USD/JPY).
    UnitsPerUsd,
}

/// Files of portfolios and stress vectors, relative to the scenario file that names them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPortfolioRefs {
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub stress: Vec<String>,
}

/// Which assets and regime the report's headline numbers and charts are about;
/// each key left out takes the bundled scenarios' name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReport {
    pub equity: Option<String>,
    pub dollar: Option<String>,
    /// The equity drawdown of the key numbers, a fraction.
    pub equity_drawdown: Option<f64>,
    /// The dollar's fall of the key numbers, a fraction.
    pub dollar_fall: Option<f64>,
    pub core_assets: Option<Vec<String>>,
    pub stress_regime: Option<String>,
    pub foreign_views: Option<Vec<RawForeignView>>,
}

/// The equity as an investor in `currency` sees it, unhedged and hedged.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawForeignView {
    pub currency: String,
    pub unhedged: String,
    pub hedged: String,
}

/// Cross-border flows: foreign investors' trailing own-currency return on US
/// equities, and the selling pressure it creates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFlows {
    pub equity: String,
    pub currency: String,
    pub half_life_days: Option<f64>,
    pub threshold: Option<f64>,
    pub equity_impact: Option<f64>,
    pub currency_impact: Option<f64>,
    pub max_pressure: Option<f64>,
}

/// Optional per-path figures.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStatistics {
    /// Asset pairs whose realised correlation each path reports, overall and per regime.
    #[serde(default)]
    pub correlations: Vec<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMeta {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub seed: Option<u64>,
    pub paths: Option<u64>,
    /// A TOML date (`2025-11-28`) or a string in that form.
    pub start_date: toml::Value,
    pub end_date: Option<toml::Value>,
    pub horizon_years: Option<f64>,
    pub horizon_steps: Option<u64>,
    pub calendar: Option<CalendarKind>,
    pub sample_paths: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalendarKind {
    /// New York Stock Exchange trading days: weekends and NYSE holidays skipped.
    Nyse,
    /// Monday to Friday.
    Weekdays,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegime {
    #[serde(default)]
    pub description: String,
    /// Annual transition intensities to other regimes.
    pub intensities: Option<IndexMap<String, f64>>,
    /// Alternative to `intensities`: the expected time spent in the regime...
    pub expected_duration_years: Option<f64>,
    /// ...and the relative weights of its destinations.
    pub exit_weights: Option<IndexMap<String, f64>>,
    /// Correlation of the Brownian drivers while in this regime.
    pub correlation: Option<Vec<Vec<f64>>>,
    /// Alternative to `correlation`: the default matrix with these pairs changed.
    pub correlation_pairs: Option<CorrelationPairs>,
}

/// Correlations by driver pair: `{ spx = { dxy = -0.2, gold = 0.1 } }`.
pub type CorrelationPairs = IndexMap<String, IndexMap<String, f64>>;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegimeChain {
    pub initial: Option<String>,
    pub initial_distribution: Option<IndexMap<String, f64>>,
    #[serde(default)]
    pub state_dependence: Vec<RawStateTerm>,
}

/// `q_ij(t) *= exp(coefficient * feature_t)` for the transition `from -> to`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStateTerm {
    pub from: String,
    pub to: String,
    pub feature: String,
    pub coefficient: f64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCorrelation {
    pub drivers: Option<Vec<String>>,
    pub matrix: Option<Vec<Vec<f64>>>,
    /// Pairs set on top of `matrix` (or of the identity).
    pub pairs: Option<CorrelationPairs>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessKind {
    /// Log-price with regime drift and volatility (plus optional jumps).
    Gbm,
    /// Log-price with Heston stochastic variance (plus optional jumps).
    Heston,
    /// Ornstein-Uhlenbeck level, for rate-like factors (plus optional jumps).
    Ou,
    /// A satellite: log-returns as betas on other assets' moves in the same step,
    /// plus its own drift, volatility and jumps.
    Beta,
    /// A policy rate that moves only at meetings, in 25 bp steps, toward a
    /// reaction-function target (`[assets.<name>.policy]`).
    PolicyRate,
    /// A yield of a given maturity, derived from a policy rate and a term premium
    /// (`[assets.<name>.curve]`).
    Yield,
    /// The difference of two other assets' levels (`spread = ["a", "b"]`: a - b).
    Spread,
    /// Implied volatility of a Heston asset from its variance state
    /// (`implied_vol = { of = "spx" }`): the VIX.
    ImpliedVol,
}

/// The parameters an asset can set at its top level (the default in every regime)
/// and again under `by_regime.<regime>` (that regime only).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAssetParams {
    pub drift: Option<f64>,
    pub vol: Option<f64>,
    pub mean: Option<f64>,
    pub mean_reversion: Option<f64>,
    pub long_run_variance: Option<f64>,
    pub vol_of_vol: Option<f64>,
    pub jump_intensity: Option<f64>,
    pub jump_mean: Option<f64>,
    pub jump_sd: Option<f64>,
    pub betas: Option<IndexMap<String, f64>>,
    /// Policy rates: the regime's bias added to the reaction-function target.
    pub bias: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAsset {
    pub process: ProcessKind,
    /// Required, except for derived processes (yield, spread), whose start is computed.
    pub initial: Option<f64>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub unit: String,
    pub driver: Option<String>,
    pub variance_driver: Option<String>,
    pub initial_variance: Option<f64>,
    pub variance_floor: Option<f64>,
    pub jump_scaling: Option<RawJumpScaling>,
    pub drift: Option<f64>,
    pub vol: Option<f64>,
    pub mean: Option<f64>,
    pub mean_reversion: Option<f64>,
    pub long_run_variance: Option<f64>,
    pub vol_of_vol: Option<f64>,
    pub jump_intensity: Option<f64>,
    pub jump_mean: Option<f64>,
    pub jump_sd: Option<f64>,
    pub betas: Option<IndexMap<String, f64>>,
    pub bias: Option<f64>,
    pub policy: Option<RawPolicy>,
    pub curve: Option<RawCurve>,
    pub spread: Option<Vec<String>>,
    pub implied_vol: Option<RawImpliedVol>,
    /// Beta assets: a currency hedge's carry under covered interest parity.
    pub carry: Option<RawCarry>,
    /// OU assets: a share of the currency's depreciation passes into the level.
    pub pass_through: Option<RawPassThrough>,
    /// OU assets: the mean rises with the policy error of a policy rate.
    pub policy_error: Option<RawPolicyError>,
    /// Beta assets: sold with the equity while the implied vol is high.
    pub liquidation: Option<RawLiquidation>,
    #[serde(default)]
    pub by_regime: IndexMap<String, RawAssetParams>,
}

/// The reaction function of a policy rate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub inflation: String,
    pub neutral_rate: f64,
    pub inflation_target: f64,
    pub inflation_response: Option<f64>,
    pub adjustment: Option<f64>,
    pub max_move: Option<f64>,
    pub meeting_dates: Option<Vec<toml::Value>>,
    pub meeting_every_days: Option<u64>,
    pub chair_date: Option<toml::Value>,
    pub dovish_bias: Option<f64>,
    pub committee_alignment: Option<f64>,
    /// A level asset holding the output gap, which the target answers.
    pub growth: Option<String>,
    pub growth_response: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCurve {
    pub policy_rate: String,
    pub term_premium: String,
    pub maturity_years: f64,
    pub rate_mean_reversion: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCarry {
    pub foreign_rate: f64,
    pub domestic_rate: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawImpliedVol {
    pub of: String,
    pub horizon_days: Option<f64>,
    pub risk_premium: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPassThrough {
    pub currency: String,
    pub coefficient: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicyError {
    pub policy_rate: String,
    pub coefficient: f64,
    /// Per unit of easing beyond what the rule asks (the rule's target without
    /// the chair's and the regime's biases, less the rate).
    pub discretionary: Option<f64>,
}

/// Beta assets: margin selling in a crash. While the implied vol stands at or
/// above `above`, the asset also moves `beta` times the equity's log-return.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLiquidation {
    pub implied_vol: String,
    pub above: f64,
    pub equity: String,
    pub beta: f64,
}

impl RawAsset {
    /// The top-level parameters, which every regime inherits.
    pub fn defaults(&self) -> RawAssetParams {
        RawAssetParams {
            drift: self.drift,
            vol: self.vol,
            mean: self.mean,
            mean_reversion: self.mean_reversion,
            long_run_variance: self.long_run_variance,
            vol_of_vol: self.vol_of_vol,
            jump_intensity: self.jump_intensity,
            jump_mean: self.jump_mean,
            jump_sd: self.jump_sd,
            betas: self.betas.clone(),
            bias: self.bias,
        }
    }
}

/// Jump intensity scaled by valuation: `(V_t / V_ref)^exponent`, with
/// `V_t = valuation_initial * (S_t / S_0) * exp(-sales_growth * t)`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJumpScaling {
    pub valuation_initial: f64,
    pub valuation_reference: f64,
    #[serde(default)]
    pub sales_growth: f64,
    pub exponent: f64,
    pub max_factor: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvent {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub date: Option<toml::Value>,
    pub rate_per_year: Option<f64>,
    pub window_start: Option<toml::Value>,
    pub window_end: Option<toml::Value>,
    #[serde(default)]
    pub duration_days: u64,
    #[serde(default)]
    pub transition_multipliers: Vec<RawMultiplier>,
    #[serde(default)]
    pub jumps: IndexMap<String, RawJump>,
    #[serde(default)]
    pub adjustments: IndexMap<String, RawAdjustment>,
    pub force_regime: Option<String>,
    /// Fires when an asset's drawdown reaches a threshold (the Fed put).
    pub drawdown_trigger: Option<RawDrawdownTrigger>,
    /// Drawdown-triggered events: trading days before the event can fire again.
    pub cooldown_days: Option<u64>,
    /// Firings at most, per path (unlimited when left out).
    pub max_firings: Option<u64>,
    /// Jumps that replace `jumps` (asset by asset) when the event fires in a regime.
    #[serde(default)]
    pub jumps_by_regime: IndexMap<String, IndexMap<String, RawJump>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDrawdownTrigger {
    pub asset: String,
    /// Fraction below the running peak, in (0, 1).
    pub threshold: f64,
    /// And only while this level asset (the VIX) stands at or above `above`.
    pub confirm: Option<String>,
    pub above: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMultiplier {
    pub from: String,
    pub to: String,
    pub factor: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJump {
    #[serde(default)]
    pub mean: f64,
    #[serde(default)]
    pub sd: f64,
    #[serde(default)]
    pub variance: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdjustment {
    #[serde(default)]
    pub drift_shift: f64,
    pub vol_scale: Option<f64>,
    pub jump_intensity_scale: Option<f64>,
    #[serde(default)]
    pub mean_shift: f64,
}

/// The early-warning signals S1..S5: what they watch and how a firing is judged.
/// Each `sN` table switches its signal on.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSignals {
    pub equity: String,
    pub dollar: String,
    pub target_drawdown: Option<f64>,
    pub within_days: Option<u32>,
    pub s1: Option<RawSignal1>,
    pub s2: Option<RawSignal2>,
    pub s3: Option<RawSignal3>,
    pub s4: Option<RawSignal4>,
    pub s5: Option<RawSignal5>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSignal1 {
    pub implied_vol: String,
    pub window_days: Option<u32>,
    pub dollar_fall: Option<f64>,
    pub vol_rise: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSignal2 {
    pub window_days: Option<u32>,
    pub skew: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSignal3 {
    pub window_days: Option<u32>,
    pub dollar_fall: Option<f64>,
    pub equity_fall: Option<f64>,
    pub leader: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSignal4 {
    pub window_days: Option<u32>,
    pub correlation: Option<f64>,
    /// Asset name → orientation (+1: moves with the equity in a US sell-off; -1:
    /// against it).
    pub with: IndexMap<String, f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSignal5 {
    pub events: Vec<String>,
    pub within_days: Option<u32>,
    pub dollar_fall: Option<f64>,
    pub equity_fall: Option<f64>,
}
