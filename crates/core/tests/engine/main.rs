//! The engine's numbers, in-process: the processes, rates, signals and
//! portfolios against closed forms, the bundled scenarios, property tests, and
//! calibration and history (the regime-switching fit against statsmodels, the
//! fit to targets, the bundled scenarios against the shipped history).
//!
//! One binary for all of them: each integration-test binary is linked with the
//! release profile's thin LTO, so every extra binary costs a link of the whole
//! engine (see tests/io/main.rs for the other one).

#[path = "../common/mod.rs"]
mod common;

mod architecture;
mod bundled;
mod calibrate;
mod calibrate_targets;
mod dates;
mod history;
mod mechanisms;
mod portfolio_figures;
mod portfolios;
mod processes;
mod properties;
mod rates;
mod reverse_stress;
mod signals;
mod strategies;
mod tilt;
mod views;
