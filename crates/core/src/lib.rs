//! The Stormglass engine: a Monte Carlo scenario engine for macro markets,
//! without its outputs (`stormglass-report`) or its command (`stormglass`).
//!
//! Data flows one way, each module using only those before it:
//! [`input`] and [`output`] (bounded reads, atomic writes) → [`scenario`] (TOML
//! files, validation) → [`model`] (one step of one path) → [`engine`] (paths
//! in parallel, random streams) → [`stats`] (streaming, mergeable
//! accumulators) → [`history`] (the record a run is held against) →
//! [`portfolio`] (users' books valued on every path, VaR, ES, stress tests) →
//! [`figures`] (every figure a user can name) → [`summary`] → [`run`] (the one
//! entry point of a run, with its provenance) → [`tasks`] (shards, plans and
//! merges), [`calibrate`], [`sweep`] and [`attribute`] (many runs) → [`views`]
//! (a finished run's paths reweighted to views, reverse stress tests).
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
pub mod compare;
pub mod engine;
pub mod figures;
pub mod history;
pub mod input;
pub mod model;
pub mod output;
pub mod portfolio;
pub mod run;
pub mod scenario;
pub mod stats;
pub mod summary;
pub mod sweep;
pub mod tasks;
pub mod views;

pub use run::{run_scenario, run_with_portfolios, Prepared, Recipe, RecipeError, Run};
pub use summary::{
    AssetSummary, CorrelationSummary, EventSummary, RegimeSummary, SignalSummary, SignalTarget,
    Summary, DRAWDOWN_QUANTILES, SCHEMA_VERSION,
};

/// The engine's version, recorded in every output.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Whether an error is the user's to fix (a file, a key, a flag: the command
/// exits with status 2, Python raises `ValueError`) or the machine's (status
/// 1, `RuntimeError`). Every error the library returns says which.
pub trait UserFixable: std::error::Error {
    fn is_user_fixable(&self) -> bool;
}

/// Errors that are always the input's.
macro_rules! always_user_fixable {
    ($($error:ty),*) => {$(
        impl UserFixable for $error {
            fn is_user_fixable(&self) -> bool {
                true
            }
        }
    )*};
}

always_user_fixable!(
    scenario::ScenarioError,
    run::RecipeError,
    input::InputError,
    tasks::ManifestError
);
