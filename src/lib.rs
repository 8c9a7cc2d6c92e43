//! Stormglass: a Monte Carlo scenario engine for macro markets.
//!
//! Data flows one way: [`scenario`] (TOML files, validation) → [`model`] (one step
//! of one path) → [`engine`] (paths in parallel, random streams) → [`stats`]
//! (streaming, mergeable accumulators; [`history`] holds them against the
//! record) → [`portfolio`] (users' books valued on
//! every path, VaR, ES, stress tests) → [`report`] (JSON, CSV, console).
//!
//! ```no_run
//! use std::path::Path;
//! let scenario = stormglass::scenario::load(Path::new("scenarios/default.toml"))?;
//! let run = stormglass::run_scenario(&scenario, &stormglass::engine::RunOptions {
//!     paths: 10_000, seed: scenario.seed, threads: 0, sample_paths: 100,
//! }, &stormglass::engine::Silent)?;
//! println!("{}", run.summary.assets[0].max_drawdown.mean);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

pub mod attribute;
pub mod calibrate;
pub mod engine;
pub mod history;
pub mod input;
pub mod model;
pub mod portfolio;
pub mod report;
pub mod scenario;
pub mod stats;
pub mod sweep;
pub mod tasks;

/// The engine's version, recorded in every output.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A finished run: the simulation and its summary.
pub struct Run {
    pub simulation: engine::Simulation,
    pub summary: report::Summary,
}

/// Builds the model, simulates and summarises.
pub fn run_scenario(
    scenario: &scenario::Scenario,
    options: &engine::RunOptions,
    progress: &dyn engine::Progress,
) -> Result<Run, engine::EngineError> {
    let model = model::Model::new(scenario);
    let simulation = engine::simulate(&model, options, progress)?;
    let summary = report::Summary::new(scenario, &model, &simulation);
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
    let mut summary = report::Summary::new(scenario, &model, &simulation);
    summary.portfolios = portfolio::summarise(scenario, &model, book, &simulation);
    Ok(Run {
        simulation,
        summary,
    })
}
