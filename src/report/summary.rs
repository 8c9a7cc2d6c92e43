//! `summary.json`: what a run found, with everything needed to reproduce it.

use rayon::prelude::*;
use serde::Serialize;

use crate::engine::Simulation;
use crate::model::Model;
use crate::scenario::Scenario;
use crate::stats::{Distribution, ASSET_METRICS};

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
    pub steps: usize,
    pub wall_time_seconds: f64,
    pub path_steps_per_second: f64,
    pub assets: Vec<AssetSummary>,
    pub regimes: Vec<RegimeSummary>,
    pub regime_occupancy: RegimeOccupancy,
    pub events: Vec<EventSummary>,
    pub correlations: Vec<CorrelationSummary>,
    /// Per portfolio: P&L distribution, VaR/ES, drawdowns, stress tests, worst paths.
    pub portfolios: Vec<crate::portfolio::PortfolioSummary>,
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
    pub realized_vol: Distribution,
    pub terminal_return: Distribution,
    pub min: Distribution,
    pub max: Distribution,
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
        let assets = model
            .assets
            .iter()
            .map(|asset| {
                let metric =
                    |m: usize| column(format!("{}.{}", asset.name, ASSET_METRICS[m])).clone();
                AssetSummary {
                    name: asset.name.clone(),
                    unit: asset.unit.clone(),
                    process: format!("{:?}", asset.process).to_lowercase(),
                    initial: asset.initial,
                    measured_as: if asset.is_log { "relative" } else { "level" },
                    max_drawdown: metric(0),
                    realized_vol: metric(1),
                    terminal_return: metric(2),
                    min: metric(3),
                    max: metric(4),
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
                    total += *count as f64;
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
            },
            seed: simulation.seed,
            paths: simulation.paths,
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
            portfolios: Vec::new(),
        }
    }
}
