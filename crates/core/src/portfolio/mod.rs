//! Portfolios: what a scenario does to a user's own book.
//!
//! `spec` reads and checks portfolio files against the scenario; `tracker`
//! values every portfolio on every path as the engine streams it (an engine
//! [`crate::engine::PathObserver`], so the engine knows nothing of portfolios);
//! `risk` turns the per-path columns into VaR, ES and contributions; `stress`
//! applies instantaneous shock vectors; `pricing` holds the closed forms.
//! [`summarise`] gathers it all for the report.

pub mod pricing;
pub mod risk;
pub mod spec;
pub mod strategy;
pub mod stress;
pub mod tracker;

use std::path::PathBuf;

use indexmap::IndexMap;
use rayon::prelude::*;
use serde::Serialize;

pub use spec::{BookSetting, Holding, Portfolio, Position, Rebalance};
pub use stress::{StressResult, StressVector};
pub use tracker::PortfolioTracker;

use crate::engine::{self, BatchObserver, Simulation};
use crate::model::Model;
use crate::scenario::{Diagnostic, Scenario, ScenarioError};
use crate::stats::Distribution;

/// Confidence levels of the VaR and ES table.
pub const RISK_LEVELS: [f64; 2] = [0.95, 0.99];
/// Worst paths replayed and described per portfolio.
pub const WORST_PATHS: usize = 5;

/// The portfolios and stress vectors a run evaluates.
#[derive(Debug, Clone, Default)]
pub struct Book {
    pub portfolios: Vec<Portfolio>,
    pub stresses: Vec<StressVector>,
}

impl Book {
    pub fn is_empty(&self) -> bool {
        self.portfolios.is_empty()
    }

    /// Every portfolio's warnings, in the book's order.
    pub fn warnings(&self) -> impl Iterator<Item = &crate::history::Warning> {
        self.portfolios.iter().flat_map(|p| &p.warnings)
    }
}

/// Where to find portfolios beyond the scenario's own.
#[derive(Debug, Clone, Default)]
pub struct BookFiles {
    /// Extra portfolio files (`--portfolio`).
    pub portfolios: Vec<PathBuf>,
    /// Extra stress files (`--stress`).
    pub stresses: Vec<PathBuf>,
    /// Leave out the portfolios and stress files the scenario names.
    pub skip_scenario: bool,
    /// Portfolio keys set without editing their files (a sweep's axes).
    pub settings: Vec<spec::BookSetting>,
}

/// The starting level of every asset (derived ones included).
pub fn start_levels(model: &Model) -> Vec<f64> {
    model.assets.iter().map(|a| a.initial).collect()
}

/// Simulates every path of `model` (built from `scenario`), every portfolio
/// of `book` valued on each.
pub fn simulate(
    scenario: &Scenario,
    model: &Model,
    book: &Book,
    options: &engine::RunOptions,
    progress: &dyn engine::Progress,
) -> Result<Simulation, engine::EngineError> {
    if book.portfolios.is_empty() {
        return engine::simulate(model, options, progress);
    }
    let tracker = PortfolioTracker::new(scenario, model, &book.portfolios);
    engine::simulate_with(model, options, progress, &tracker)
}

/// Reads and checks every portfolio and stress file of a run, reporting the
/// problems of all of them at once.
pub fn load(scenario: &Scenario, model: &Model, files: &BookFiles) -> Result<Book, ScenarioError> {
    let start = start_levels(model);
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    let mut book = Book::default();
    let keep = |result: Result<Portfolio, ScenarioError>,
                book: &mut Book,
                diagnostics: &mut Vec<Diagnostic>|
     -> Result<(), ScenarioError> {
        match result {
            Ok(p) => {
                if book.portfolios.iter().any(|q| q.name == p.name) {
                    diagnostics.push(Diagnostic {
                        file: None,
                        line: None,
                        key: "name".to_string(),
                        message: format!(
                            "portfolio `{}` ({}) has the name of another portfolio of this run; names must differ",
                            p.name, p.origin
                        ),
                    });
                } else {
                    book.portfolios.push(p);
                }
                Ok(())
            }
            Err(ScenarioError::Invalid(found)) => {
                diagnostics.extend(found);
                Ok(())
            }
            Err(other) => Err(other),
        }
    };
    let (scenario_files, scenario_stress, inline) = if files.skip_scenario {
        (Vec::new(), Vec::new(), 0)
    } else {
        (
            scenario.portfolio_files.clone(),
            scenario.stress_files.clone(),
            scenario.inline_portfolios.len(),
        )
    };
    let max = crate::scenario::check::MAX_PORTFOLIOS;
    if inline + scenario_files.len() + files.portfolios.len() > max {
        return Err(ScenarioError::Invalid(vec![scenario.sources.diagnostic(
            "portfolio",
            format!(
                "{} portfolios in this run; at most {max} are allowed",
                inline + scenario_files.len() + files.portfolios.len()
            ),
        )]));
    }
    for i in 0..inline {
        keep(
            spec::load_inline_with(i, scenario, &start, &files.settings),
            &mut book,
            &mut diagnostics,
        )?;
    }
    for path in scenario_files.iter().chain(&files.portfolios) {
        keep(
            spec::load_file_with(path, scenario, &start, &files.settings),
            &mut book,
            &mut diagnostics,
        )?;
    }
    for path in scenario_stress.iter().chain(&files.stresses) {
        match stress::load_file(path, scenario, &start) {
            Ok(vectors) => book.stresses.extend(vectors),
            Err(ScenarioError::Invalid(found)) => diagnostics.extend(found),
            Err(other) => return Err(other),
        }
    }
    for setting in &files.settings {
        if !book.portfolios.iter().any(|p| p.name == setting.portfolio) {
            let names: Vec<String> = book.portfolios.iter().map(|p| p.name.clone()).collect();
            diagnostics.push(Diagnostic {
                file: None,
                line: None,
                key: format!("portfolio.{}.{}", setting.portfolio, setting.key),
                message: crate::scenario::load::unknown_name(
                    "portfolio",
                    &setting.portfolio,
                    &names,
                ),
            });
        }
    }
    if diagnostics.is_empty() {
        Ok(book)
    } else {
        Err(ScenarioError::Invalid(diagnostics))
    }
}

/// A position's line in the summary.
#[derive(Debug, Clone, Serialize)]
pub struct PositionSummary {
    pub name: String,
    pub kind: &'static str,
    pub currency: String,
    /// Starting weight (for an option overlay, the notional covered).
    pub weight: f64,
    pub hedge_ratio: f64,
    /// The position's P&L over the horizon, as a fraction of the portfolio's starting value.
    pub pnl: Distribution,
}

/// VaR and ES at one level, as fractions of the starting value and as amounts.
#[derive(Debug, Clone, Serialize)]
pub struct RiskRow {
    pub level: f64,
    pub var: f64,
    pub es: f64,
    pub var_amount: f64,
    pub es_amount: f64,
    /// Paths in the tail the ES averages over.
    pub tail_paths: usize,
    /// Each position's contribution to `es` (they add up to it).
    pub es_contributions: IndexMap<String, f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LossProbability {
    /// A loss of this fraction of the starting value...
    pub threshold: f64,
    /// ...is exceeded on this share of paths.
    pub probability: f64,
    pub standard_error: f64,
}

/// A regime held from `from` to `to` (dates of the closes that bracket it).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RegimeSpell {
    pub regime: String,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EventFiring {
    pub event: String,
    /// The close in whose step the event fired.
    pub date: String,
}

/// One of the worst paths, replayed: what happened on it.
#[derive(Debug, Clone, Serialize)]
pub struct WorstPath {
    pub path: u64,
    pub pnl: f64,
    pub max_drawdown: f64,
    pub regimes: Vec<RegimeSpell>,
    pub events: Vec<EventFiring>,
}

impl WorstPath {
    /// Its regime spells in words, "REGIME from DATE", in order.
    pub fn spells(&self) -> Vec<String> {
        self.regimes
            .iter()
            .map(|s| format!("{} from {}", s.regime, s.from))
            .collect()
    }

    /// The events that fired on it, "EVENT DATE" joined by commas, or "none".
    pub fn events_text(&self) -> String {
        if self.events.is_empty() {
            return "none".into();
        }
        let events: Vec<String> = self
            .events
            .iter()
            .map(|e| format!("{} {}", e.event, e.date))
            .collect();
        events.join(", ")
    }
}

/// Everything the run says about one portfolio.
#[derive(Debug, Clone, Serialize)]
pub struct PortfolioSummary {
    pub name: String,
    pub description: String,
    pub origin: String,
    pub sha256: String,
    pub base_currency: String,
    pub value: f64,
    pub rebalance: Rebalance,
    pub positions: Vec<PositionSummary>,
    /// The P&L over the horizon as a fraction of the starting value.
    pub pnl: Distribution,
    /// Quantiles p0, p1, ..., p100 of `pnl`.
    pub pnl_quantiles: Vec<f64>,
    /// The largest fall of the value below its running peak, as a fraction.
    pub max_drawdown: Distribution,
    /// Quantiles p0, ..., p100 of `max_drawdown` (its CDF read sideways).
    pub max_drawdown_quantiles: Vec<f64>,
    /// The share of steps whose close is below the running peak.
    pub time_under_water: Distribution,
    /// The longest run of closes below the running peak, in years.
    pub longest_under_water_years: Distribution,
    pub risk: Vec<RiskRow>,
    pub loss_probabilities: Vec<LossProbability>,
    pub stress: Vec<StressResult>,
    pub worst_paths: Vec<WorstPath>,
    /// Paths whose valuation left the range it can be valued in and stopped
    /// there (`tracker::MAX_VALUE_GROWTH`, `tracker::MIN_VALUED_RATE`); their
    /// figures are those of the last step valued.
    pub paths_left_range: usize,
}

/// Summarises every portfolio of `book` from the run's per-path columns.
pub fn summarise(
    scenario: &Scenario,
    model: &Model,
    book: &Book,
    simulation: &Simulation,
) -> Vec<PortfolioSummary> {
    // A book the run holds twice (the twins of a playbook's variants) has the
    // same columns: it is summarised once and the copies take their names.
    let first: Vec<usize> = book
        .portfolios
        .iter()
        .map(|p| {
            book.portfolios
                .iter()
                .position(|q| same_summary(p, q))
                .expect("a portfolio summarises as itself")
        })
        .collect();
    let mut summaries: Vec<Option<PortfolioSummary>> = book
        .portfolios
        .par_iter()
        .zip(&first)
        .enumerate()
        .map(|(i, (p, &first))| {
            (first == i).then(|| {
                summarise_book(
                    scenario,
                    model,
                    &book.stresses,
                    p,
                    simulation,
                    &format!("portfolio.{}", p.name),
                )
            })
        })
        .collect();
    for (i, p) in book.portfolios.iter().enumerate() {
        if summaries[i].is_none() {
            let mut copy = summaries[first[i]]
                .clone()
                .expect("summarised before its copies");
            copy.name = p.name.clone();
            copy.description = p.description.clone();
            copy.origin = p.origin.clone();
            copy.sha256 = p.hash.clone();
            summaries[i] = Some(copy);
        }
    }
    summaries.into_iter().flatten().collect()
}

/// Whether `a` and `b` summarise alike but for their names: the same book
/// held the same way ([`PortfolioTracker`] copies such a book's columns),
/// with the same position names and loss thresholds.
pub fn same_summary(a: &Portfolio, b: &Portfolio) -> bool {
    tracker::same_book(a, b)
        && a.loss_thresholds == b.loss_thresholds
        && a.positions
            .iter()
            .zip(&b.positions)
            .all(|(x, y)| x.name == y.name)
}

/// The summary of portfolio `p` from the columns under `prefix` (its own,
/// `portfolio.NAME`, or its strategy's, `strategy.NAME`), with `stresses`
/// applied to its starting book.
pub(crate) fn summarise_book(
    scenario: &Scenario,
    model: &Model,
    stresses: &[StressVector],
    p: &Portfolio,
    simulation: &Simulation,
    prefix: &str,
) -> PortfolioSummary {
    let start = start_levels(model);
    let column = |name: String| -> Vec<f64> {
        simulation
            .column(&name)
            .map(|c| c.collect())
            .unwrap_or_default()
    };
    let pnl = column(format!("{prefix}.pnl"));
    let drawdown = column(format!("{prefix}.max_drawdown"));
    let position_pnl: Vec<Vec<f64>> = p
        .positions
        .iter()
        .map(|q| column(format!("{prefix}.position.{}.pnl", q.name)))
        .collect();
    let order = risk::worst_first(&pnl);
    let risk = RISK_LEVELS
        .iter()
        .map(|&level| {
            let tail = risk::tail(&pnl, &order, level);
            RiskRow {
                level,
                var: tail.var,
                es: tail.es,
                var_amount: tail.var * p.value,
                es_amount: tail.es * p.value,
                tail_paths: tail.paths.len(),
                es_contributions: p
                    .positions
                    .iter()
                    .zip(&position_pnl)
                    .map(|(q, values)| (q.name.clone(), risk::contribution(values, &tail)))
                    .collect(),
            }
        })
        .collect();
    let sorted = |values: &[f64]| {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
        v.sort_unstable_by(f64::total_cmp);
        v
    };
    // Sorted input sorts in linear time: each distribution sorts its values once.
    let distribution = |sorted: &[f64]| Distribution::from_values(sorted.iter().copied());
    let pnl_sorted: Vec<f64> = order
        .iter()
        .map(|&i| pnl[i])
        .filter(|v| !v.is_nan())
        .collect();
    let drawdown_sorted = sorted(&drawdown);
    // The worst paths are replayed with this book alone: a book's valuation
    // reads the market and nothing of the others'.
    let tracker = PortfolioTracker::new(scenario, model, std::slice::from_ref(p));
    let worst_paths = order
        .iter()
        .take(WORST_PATHS)
        .map(|&path| {
            replay(
                scenario,
                model,
                &tracker,
                prefix,
                simulation.seed,
                path as u64,
            )
        })
        .collect();
    PortfolioSummary {
        name: p.name.clone(),
        description: p.description.clone(),
        origin: p.origin.clone(),
        sha256: p.hash.clone(),
        base_currency: scenario.currencies[p.base].name.clone(),
        value: p.value,
        rebalance: p.rebalance,
        positions: p
            .positions
            .iter()
            .zip(&position_pnl)
            .map(|(q, values)| PositionSummary {
                name: q.name.clone(),
                kind: q.holding.kind(),
                currency: scenario.currencies[q.currency].name.clone(),
                weight: q.weight,
                hedge_ratio: q.hedge_ratio,
                pnl: distribution(&sorted(values)),
            })
            .collect(),
        pnl_quantiles: risk::quantile_grid(&pnl_sorted),
        pnl: distribution(&pnl_sorted),
        max_drawdown_quantiles: risk::quantile_grid(&drawdown_sorted),
        max_drawdown: distribution(&drawdown_sorted),
        time_under_water: distribution(&sorted(&column(format!("{prefix}.time_under_water")))),
        longest_under_water_years: distribution(&sorted(&column(format!(
            "{prefix}.longest_under_water_years"
        )))),
        risk,
        loss_probabilities: p
            .loss_thresholds
            .iter()
            .map(|&threshold| {
                let (probability, standard_error) = risk::loss_probability(&pnl, threshold);
                LossProbability {
                    threshold,
                    probability,
                    standard_error,
                }
            })
            .collect(),
        stress: stresses
            .iter()
            .map(|v| stress::apply(scenario, &start, p, v))
            .collect(),
        worst_paths,
        paths_left_range: column(format!("{prefix}.left_range"))
            .iter()
            .filter(|&&x| x > 0.0)
            .count(),
    }
}

/// Re-simulates `path` alone and tells what happened on it to the book whose
/// columns start with `prefix` (`portfolio.NAME` or `strategy.NAME`).
pub fn replay(
    scenario: &Scenario,
    model: &Model,
    tracker: &PortfolioTracker<'_>,
    prefix: &str,
    seed: u64,
    path: u64,
) -> WorstPath {
    let mut batch = tracker.new_batch(1);
    let mut regimes: Vec<RegimeSpell> = Vec::new();
    let mut events = Vec::new();
    let date = |t: usize| scenario.dates[t].to_string();
    engine::replay(model, seed, path, |t, lanes| {
        if t == 0 {
            batch.start(lanes);
            return;
        }
        batch.push(lanes, t - 1);
        let regime = &model.regime_names[lanes.regime_in_step[0]];
        match regimes.last_mut() {
            Some(spell) if &spell.regime == regime => spell.to = date(t),
            _ => regimes.push(RegimeSpell {
                regime: regime.clone(),
                from: date(t - 1),
                to: date(t),
            }),
        }
        let fired = lanes.fired[0];
        for (e, name) in model.event_names.iter().enumerate() {
            if fired & (1 << e) != 0 {
                events.push(EventFiring {
                    event: name.clone(),
                    date: date(t),
                });
            }
        }
    });
    let names = tracker.columns_of();
    let mut row = vec![0f64; names.len()];
    batch.finish(&mut row, names.len(), 0);
    let at = |metric: &str| {
        let name = format!("{prefix}.{metric}");
        names
            .iter()
            .position(|n| *n == name)
            .map_or(f64::NAN, |c| row[c])
    };
    WorstPath {
        path,
        pnl: at("pnl"),
        max_drawdown: at("max_drawdown"),
        regimes,
        events,
    }
}
