//! The Stormglass engine: a Monte Carlo scenario engine for macro markets,
//! without its outputs (`stormglass-report`) or its command (`stormglass`).
//!
//! Data flows one way, each module using only those before it:
//! [`input`] and [`output`] (bounded reads, atomic writes) → [`scenario`] (TOML
//! files, validation) → [`model`] (one step of one path) → [`engine`] (paths
//! in parallel, random streams) → [`stats`] (streaming, mergeable
//! accumulators) → [`history`] (the record a run is held against) →
//! [`portfolio`] (users' books valued on every path, VaR, ES, stress tests) →
//! [`figures`] (every figure a user can name) → [`summary`] and [`tasks`] (a
//! run's recipe, its summary, shards and plans) → [`calibrate`], [`sweep`] and
//! [`attribute`] (many runs).
//!
//! ```no_run
//! use std::path::Path;
//! let scenario = stormglass_core::scenario::load(Path::new("scenarios/default.toml"))?;
//! let run = stormglass_core::run_scenario(&scenario, &stormglass_core::engine::RunOptions {
//!     paths: 10_000, seed: scenario.seed, threads: 0, sample_paths: 100,
//! }, &stormglass_core::engine::Silent)?;
//! println!("{}", run.summary.assets[0].max_drawdown.mean);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

pub mod attribute;
pub mod calibrate;
pub mod engine;
pub mod figures;
pub mod history;
pub mod input;
pub mod model;
pub mod output;
pub mod portfolio;
pub mod scenario;
pub mod stats;
pub mod summary;
pub mod sweep;
pub mod tasks;

pub use summary::{
    AssetSummary, CorrelationSummary, EventSummary, RegimeSummary, SignalSummary, SignalTarget,
    Summary, DRAWDOWN_QUANTILES, SCHEMA_VERSION,
};

/// The engine's version, recorded in every output.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A finished run: the simulation and its summary.
pub struct Run {
    pub simulation: engine::Simulation,
    pub summary: Summary,
}

/// Builds the model, simulates and summarises.
pub fn run_scenario(
    scenario: &scenario::Scenario,
    options: &engine::RunOptions,
    progress: &dyn engine::Progress,
) -> Result<Run, engine::EngineError> {
    let model = model::Model::new(scenario);
    let simulation = engine::simulate(&model, options, progress)?;
    let summary = Summary::new(scenario, &model, &simulation);
    Ok(Run {
        simulation,
        summary,
    })
}

/// Like [`run_scenario`], with every portfolio of `book` valued on every path and
/// summarised into `summary.portfolios`.
pub fn run_with_portfolios(
    scenario: &scenario::Scenario,
    book: &portfolio::Book,
    options: &engine::RunOptions,
    progress: &dyn engine::Progress,
) -> Result<Run, engine::EngineError> {
    let model = model::Model::new(scenario);
    let tracker = portfolio::PortfolioTracker::new(scenario, &model, &book.portfolios);
    let simulation = engine::simulate_with(&model, options, progress, &tracker)?;
    let mut summary = Summary::new(scenario, &model, &simulation);
    summary.portfolios = portfolio::summarise(scenario, &model, book, &simulation);
    Ok(Run {
        simulation,
        summary,
    })
}
