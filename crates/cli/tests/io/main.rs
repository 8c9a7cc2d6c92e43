//! The files in and out: the command line end to end (runs, reports, Parquet,
//! shards, sweeps), the input files (validation and its messages, size limits,
//! mutated inputs, random accepted scenarios running to finite numbers), and
//! the documentation's links.
//!
//! One binary for all of them: each integration-test binary is linked with the
//! release profile's thin LTO, so every extra binary costs a link of the whole
//! engine (see tests/engine/main.rs for the other one).

#[path = "../../../core/tests/common/mod.rs"]
mod shared;

/// The helpers every test binary shares, and running the command.
mod common {
    pub use super::shared::*;

    /// Runs the `stormglass` binary from the repository root.
    pub fn stormglass(args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_stormglass"))
            .args(args)
            .current_dir(*ROOT)
            .output()
            .expect("the binary runs")
    }

    /// Runs the binary and returns its standard output, panicking with its
    /// standard error unless it succeeded.
    pub fn stormglass_ok(args: &[&str]) -> String {
        let output = stormglass(args);
        assert!(
            output.status.success(),
            "stormglass {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

mod attribute;
mod calibrate_commands;
mod cli;
mod docs;
mod finite_outputs;
mod fuzz_inputs;
mod golden;
mod history_commands;
mod input_limits;
mod parquet;
mod portfolio_commands;
mod report;
mod reverse_stress;
mod shards;
mod sweep;
mod validation;
mod views_command;
