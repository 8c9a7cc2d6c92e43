//! `summary.json`: what a run found, with everything needed to reproduce it.

use rayon::prelude::*;
use serde::Serialize;

use crate::engine::Simulation;
use crate::figures::KeyNumbers;
use crate::model::Model;
use crate::scenario::Scenario;
use crate::stats::{percentile_sorted, Distribution, SignalOutcome};

/// Quantiles of each max drawdown kept in the summary: 0%, 1%, ..., 100%.
pub const DRAWDOWN_QUANTILES: usize = 101;

/// Bumped whenever a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub schema_version: u32,
    pub engine: &'static str,
    pub version: &'static str,
    pub scenario: ScenarioInfo,
    pub seed: u64,
    pub paths: u64,
    /// The measure the paths were drawn under, when not the scenario's own:
    /// every figure of this summary is then under the tilted measure, and
    /// only figures weighted by the per-path `likelihood_ratio` (`views`,
    /// `reverse-stress`) are the scenario's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tilt: Option<crate::model::Tilt>,
    pub steps: usize,
    pub wall_time_seconds: f64,
    pub path_steps_per_second: f64,
    pub assets: Vec<AssetSummary>,
    pub regimes: Vec<RegimeSummary>,
    pub regime_occupancy: RegimeOccupancy,
    pub events: Vec<EventSummary>,
    pub correlations: Vec<CorrelationSummary>,
    /// The report's headline figures (see `report::key_numbers`).
    pub key_numbers: KeyNumbers,
    /// What the early-warning signals are judged against (absent without signals).
    pub signal_target: Option<SignalTarget>,
    pub signals: Vec<SignalSummary>,
    /// Per portfolio: P&L distribution, VaR/ES, drawdowns, stress tests, worst paths.
    pub portfolios: Vec<crate::portfolio::PortfolioSummary>,
    /// Per strategy (a portfolio with rules): its figures against its
    /// buy-and-hold twin's, its states, its rules' firings, its costs.
    pub strategies: Vec<crate::figures::strategies::StrategySummary>,
    /// What validation warned about: the scenario runs, but these figures will
    /// lie where history cannot defend them.
    pub warnings: Vec<crate::history::Warning>,
    /// The run's figures beside history's (`history::Realism`).
    pub realism: crate::history::Realism,
    /// Keys set over the scenario file (`--set KEY=VALUE`); absent when
    /// there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<crate::scenario::settings::Setting>,
}

/// The drawdown the signals should precede: the equity's fall from its running
/// peak reaching `target_drawdown`, within `within_days` of a signal's first firing.
#[derive(Debug, Clone, Serialize)]
pub struct SignalTarget {
    pub equity: String,
    pub target_drawdown: f64,
    pub within_days: usize,
    /// Share of paths on which the drawdown happens at all (the base rate).
    pub probability_of_drawdown: f64,
    /// When it first happens, in years, over those paths.
    pub drawdown_years: Distribution,
}

/// One signal's first firings, judged path by path (docs/MODEL.md, "Signals").
#[derive(Debug, Clone, Serialize)]
pub struct SignalSummary {
    pub name: String,
    pub description: String,
    /// Share of paths on which the signal fires at least once.
    pub probability_fired: f64,
    /// Time of the first firing, in years, over the paths where it fires.
    pub first_firing_years: Distribution,
    /// Paths by outcome of the first firing.
    pub hits: u64,
    pub false_alarms: u64,
    pub late: u64,
    /// Fired too close to the horizon's end to judge (excluded from the rates).
    pub open: u64,
    /// `hits / (hits + false_alarms + late)`: of the judged firings, the share the
    /// target drawdown followed within the window.
    pub hit_rate: f64,
    pub false_alarm_rate: f64,
    /// The share of judged firings that came after the drawdown had already happened.
    pub late_rate: f64,
    /// Of the paths with the target drawdown, the share the signal called in time.
    pub coverage: f64,
    /// Why a rate or the coverage is null: a share of no paths (0 of 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// From the first firing to the drawdown, in years, over the hits.
    pub lead_time_years: Distribution,
}

/// Why a signal's rates or coverage are null: each is a share of paths, and
/// a share of none is no number.
fn signal_note(judged: bool, drawdowns: bool) -> Option<String> {
    let rates = "hit_rate, false_alarm_rate and late_rate are null: no first firing could be judged (0 of 0; the signal never fires, or only too near the horizon's end)";
    let coverage = "coverage is null: no path has the target drawdown (0 of 0)";
    match (judged, drawdowns) {
        (true, true) => None,
        (false, true) => Some(rates.into()),
        (true, false) => Some(coverage.into()),
        (false, false) => Some(format!("{rates}; {coverage}")),
    }
}

/// The per-path realised correlation of the daily changes of two assets: over the
/// whole path, and over the steps spent in each regime (paths with fewer than three
/// such steps have none).
#[derive(Debug, Clone, Serialize)]
pub struct CorrelationSummary {
    pub assets: [String; 2],
    pub overall: Distribution,
    pub by_regime: indexmap::IndexMap<String, Distribution>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioInfo {
    pub name: String,
    pub description: String,
    /// SHA-256 of the resolved scenario (after `extends`).
    pub hash: String,
    pub start_date: String,
    pub end_date: String,
    pub calendar: String,
    pub drivers: Vec<String>,
    /// The user's levels file the run started from (`run --levels`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub levels: Option<crate::scenario::levels::LevelsRecord>,
    /// What the run says about its dates: events before the start, clipped windows.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AssetSummary {
    pub name: String,
    pub unit: String,
    pub process: String,
    pub initial: f64,
    /// "relative" (log-price: drawdown and return are fractions, vol of log-returns)
    /// or "level" (OU: drawdown and change in the asset's units, vol of daily changes).
    pub measured_as: &'static str,
    pub max_drawdown: Distribution,
    /// The max drawdown's quantiles at 0%, 1%, ..., 100% (101 values), enough to
    /// redraw its distribution from this file alone.
    pub max_drawdown_quantiles: Vec<f64>,
    pub realized_vol: Distribution,
    /// Log-price assets: `S_T/S_0 - 1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminal_return: Option<Distribution>,
    /// Level (OU) assets: `x_T - x_0` in the asset's units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminal_change: Option<Distribution>,
    pub min: Distribution,
    pub max: Distribution,
    /// The level at the horizon, in the asset's units.
    pub terminal_level: Distribution,
    /// The path's largest one-day fall and rise: a simple return for log-price
    /// assets, a change in the asset's units for level assets.
    pub worst_day: Distribution,
    pub best_day: Distribution,
}

impl AssetSummary {
    /// The terminal return (log-price assets) or change (level assets).
    pub fn terminal_move(&self) -> &Distribution {
        self.terminal_return
            .as_ref()
            .or(self.terminal_change.as_ref())
            .expect("every asset has one of the two")
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RegimeSummary {
    pub name: String,
    pub description: String,
    /// Share of the horizon's steps spent in the regime.
    pub time_share: Distribution,
    /// Share of paths that are ever in the regime.
    pub probability_entered: f64,
    /// Time of the first entry, in years, over the paths that enter it.
    pub first_entry_years: Distribution,
}

#[derive(Debug, Clone, Serialize)]
pub struct RegimeOccupancy {
    /// `dates[t]` starts step `t`.
    pub dates: Vec<String>,
    /// Per regime, the share of paths in it during each step.
    pub shares: indexmap::IndexMap<String, Vec<f64>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventSummary {
    pub name: String,
    pub probability_fired: f64,
    pub mean_firings: f64,
}

impl Summary {
    pub fn new(scenario: &Scenario, model: &Model, simulation: &Simulation) -> Summary {
        let layout = &simulation.layout;
        let columns = layout.columns();
        // Observers' columns (portfolios) are summarised by their own code.
        let distributions: Vec<Distribution> = (0..layout.builtin_columns())
            .into_par_iter()
            .map(|c| {
                Distribution::from_values(
                    simulation.metrics.iter().skip(c).step_by(columns).copied(),
                )
            })
            .collect();
        let column = |name: String| -> &Distribution {
            &distributions[layout.column(&name).expect("layout names every column")]
        };
        let drawdown_quantiles: Vec<Vec<f64>> = (0..model.assets.len())
            .into_par_iter()
            .map(|a| {
                let c = layout.asset_column(a, 0);
                let mut sorted: Vec<f64> = simulation
                    .metrics
                    .iter()
                    .skip(c)
                    .step_by(columns)
                    .filter(|v| !v.is_nan())
                    .copied()
                    .collect();
                sorted.sort_unstable_by(f64::total_cmp);
                let last = (DRAWDOWN_QUANTILES - 1) as f64;
                (0..DRAWDOWN_QUANTILES)
                    .map(|k| percentile_sorted(&sorted, k as f64 / last))
                    .collect()
            })
            .collect();
        let assets = model
            .assets
            .iter()
            .enumerate()
            .zip(drawdown_quantiles)
            .map(|((a, asset), max_drawdown_quantiles)| {
                let metric = |m: usize| distributions[layout.asset_column(a, m)].clone();
                AssetSummary {
                    name: asset.name.clone(),
                    unit: asset.unit.clone(),
                    process: format!("{:?}", asset.process).to_lowercase(),
                    initial: asset.initial,
                    measured_as: if asset.is_log { "relative" } else { "level" },
                    max_drawdown: metric(0),
                    max_drawdown_quantiles,
                    realized_vol: metric(1),
                    terminal_return: asset.is_log.then(|| metric(2)),
                    terminal_change: (!asset.is_log).then(|| metric(2)),
                    min: metric(3),
                    max: metric(4),
                    terminal_level: metric(5),
                    worst_day: metric(6),
                    best_day: metric(7),
                }
            })
            .collect();
        let paths = simulation.paths as f64;
        let regimes = scenario
            .regimes
            .iter()
            .map(|regime| {
                let first_entry =
                    column(format!("regime.{}.first_entry_years", regime.name)).clone();
                RegimeSummary {
                    name: regime.name.clone(),
                    description: regime.description.clone(),
                    time_share: column(format!("regime.{}.time_share", regime.name)).clone(),
                    probability_entered: first_entry.count as f64 / paths,
                    first_entry_years: first_entry,
                }
            })
            .collect();
        let regime_count = model.regimes();
        let steps = model.steps;
        let mut shares = indexmap::IndexMap::new();
        for (r, name) in model.regime_names.iter().enumerate() {
            let series = (0..steps)
                .map(|t| simulation.occupancy[t * regime_count + r] as f64 / paths)
                .collect();
            shares.insert(name.clone(), series);
        }
        let events = model
            .event_names
            .iter()
            .enumerate()
            .map(|(e, name)| {
                let c = layout.event_column(e);
                let (mut fired, mut total) = (0u64, 0f64);
                for count in simulation.metrics.iter().skip(c).step_by(columns) {
                    fired += (*count > 0.0) as u64;
                    total += *count;
                }
                EventSummary {
                    name: name.clone(),
                    probability_fired: fired as f64 / paths,
                    mean_firings: total / paths,
                }
            })
            .collect();
        let correlations = model
            .correlation_pairs
            .iter()
            .enumerate()
            .map(|(p, &(a, b))| CorrelationSummary {
                assets: [model.assets[a].name.clone(), model.assets[b].name.clone()],
                overall: distributions[layout.correlation_column(p, None)].clone(),
                by_regime: model
                    .regime_names
                    .iter()
                    .enumerate()
                    .map(|(r, name)| {
                        (
                            name.clone(),
                            distributions[layout.correlation_column(p, Some(r))].clone(),
                        )
                    })
                    .collect(),
            })
            .collect();
        let (signal_target, signals) = match (&model.signals, layout.signal_start()) {
            (Some(spec), Some(start)) => {
                let drawdown = &distributions[start];
                let target = SignalTarget {
                    equity: model.assets[spec.equity].name.clone(),
                    target_drawdown: spec.target_drawdown,
                    within_days: spec.within_steps,
                    probability_of_drawdown: drawdown.count as f64 / paths,
                    drawdown_years: drawdown.clone(),
                };
                let rules = spec
                    .rules
                    .iter()
                    .enumerate()
                    .map(|(r, rule)| {
                        let first = &distributions[start + 1 + 3 * r];
                        let lead = &distributions[start + 2 + 3 * r];
                        let mut counts = [0u64; 5];
                        for code in simulation
                            .metrics
                            .iter()
                            .skip(start + 3 + 3 * r)
                            .step_by(columns)
                        {
                            if let Some(outcome) = SignalOutcome::from_code(*code) {
                                counts[outcome as usize] += 1;
                            }
                        }
                        let hits = counts[SignalOutcome::Hit as usize];
                        let false_alarms = counts[SignalOutcome::FalseAlarm as usize];
                        let late = counts[SignalOutcome::Late as usize];
                        let judged = (hits + false_alarms + late) as f64;
                        let share = |n: u64| {
                            if judged > 0.0 {
                                n as f64 / judged
                            } else {
                                f64::NAN
                            }
                        };
                        SignalSummary {
                            name: rule.name.to_string(),
                            description: rule.description.to_string(),
                            probability_fired: first.count as f64 / paths,
                            first_firing_years: first.clone(),
                            hits,
                            false_alarms,
                            late,
                            open: counts[SignalOutcome::Open as usize],
                            hit_rate: share(hits),
                            false_alarm_rate: share(false_alarms),
                            late_rate: share(late),
                            coverage: if drawdown.count > 0 {
                                hits as f64 / drawdown.count as f64
                            } else {
                                f64::NAN
                            },
                            note: signal_note(judged > 0.0, drawdown.count > 0),
                            lead_time_years: lead.clone(),
                        }
                    })
                    .collect();
                (Some(target), rules)
            }
            _ => (None, Vec::new()),
        };
        let seconds = simulation.wall_time.as_secs_f64();
        Summary {
            schema_version: SCHEMA_VERSION,
            engine: "stormglass",
            version: crate::VERSION,
            scenario: ScenarioInfo {
                name: scenario.name.clone(),
                description: scenario.description.clone(),
                hash: scenario.hash.clone(),
                start_date: scenario.dates[0].to_string(),
                end_date: scenario.dates[steps].to_string(),
                calendar: format!("{:?}", scenario.calendar).to_lowercase(),
                drivers: scenario.drivers.clone(),
                levels: scenario.levels.clone(),
                notes: scenario.notes.iter().map(ToString::to_string).collect(),
            },
            seed: simulation.seed,
            paths: simulation.paths,
            tilt: model.tilt().cloned(),
            steps,
            wall_time_seconds: seconds,
            path_steps_per_second: if seconds > 0.0 {
                paths * steps as f64 / seconds
            } else {
                0.0
            },
            assets,
            regimes,
            regime_occupancy: RegimeOccupancy {
                dates: scenario.dates[..steps]
                    .iter()
                    .map(|d| d.to_string())
                    .collect(),
                shares,
            },
            events,
            correlations,
            key_numbers: KeyNumbers::new(&scenario.report, model, simulation),
            signal_target,
            signals,
            portfolios: Vec::new(),
            strategies: Vec::new(),
            warnings: crate::history::warnings(scenario, crate::history::builtin()),
            realism: crate::history::Realism::new(crate::history::builtin(), model, simulation),
            settings: scenario
                .settings
                .iter()
                .map(|a| a.setting.clone())
                .collect(),
        }
    }
}
