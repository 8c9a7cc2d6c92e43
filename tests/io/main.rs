//! The files in and out: the command line end to end (runs, reports, Parquet,
//! shards, sweeps), the input files (validation and its messages, size limits,
//! mutated inputs, random accepted scenarios running to finite numbers), and
//! the documentation's links.
//!
//! One binary for all of them: each integration-test binary is linked with the
//! release profile's thin LTO, so every extra binary costs a link of the whole
//! engine (see tests/engine/main.rs for the other one).

#[path = "../common/mod.rs"]
mod common;

mod attribute;
mod cli;
mod docs;
mod finite_outputs;
mod fuzz_inputs;
mod golden;
mod input_limits;
mod parquet;
mod report;
mod shards;
mod sweep;
mod validation;
