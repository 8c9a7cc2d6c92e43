//! The `stormglass` command: parses arguments, hands them to one command
//! module (`commands/`), and turns what it came to into an exit status.

mod args;
mod commands;
mod failure;
mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use commands::{
    attribute, calibrate, compare, list, merge, plan, reverse_stress, run, sensitivity, sweep,
    task, validate, views,
};

/// Monte Carlo scenario engine for macro markets.
#[derive(Parser)]
#[command(name = "stormglass", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a scenario and write its outputs (the default command), into
    /// output/<scenario name> unless --out says otherwise.
    Run(run::Args),
    /// Check scenario, portfolio and stress files without simulating.
    Validate(validate::Args),
    /// List the bundled scenarios.
    List,
    /// Compare runs side by side: scenario files (run here) or finished run
    /// folders, and with --portfolio one book under every scenario; into
    /// output/compare-<names> unless --out says otherwise.
    Compare(compare::Args),
    /// Run a scenario at every value of one or two keys, every point on the
    /// same random numbers, and chart the figures against them; into
    /// output/<scenario name>-sweep unless --out says otherwise.
    Sweep(sweep::Args),
    /// Bump keys down and up one at a time and rank their effects on the key
    /// numbers, with tornado charts; into output/<scenario name>-sensitivity
    /// unless --out says otherwise.
    Sensitivity(sensitivity::Args),
    /// Switch the scenario's mechanisms off one at a time (and all together),
    /// every run on the same random numbers, and measure what each adds to
    /// the key numbers and the tail; into output/<scenario name>-attribution
    /// unless --out says otherwise.
    Attribute(attribute::Args),
    /// Reverse stress test of a finished run: how likely a loss of at least
    /// --loss is, what the paths that make it have in common against all
    /// paths, representative breaching paths and the severity-plausibility
    /// frontier; into output/<run folder>-reverse-stress unless --out says
    /// otherwise.
    ReverseStress(reverse_stress::Args),
    /// Write a plan: a run, or every point of a sweep, cut into shards as
    /// numbered tasks for a scheduler (a Slurm array, a Kubernetes Indexed Job).
    Plan(plan::Args),
    /// Run one task of a plan (the index the scheduler hands over).
    Task(task::Args),
    /// Put the parts of a run simulated as shards (`run --shard I/N`) back
    /// together into the run folder a single run writes, bit for bit; into
    /// output/<scenario name>-merged (a plan's own folder for a plan) unless
    /// --out says otherwise.
    Merge(merge::Args),
    /// Reweight a finished run's paths to views (entropy pooling), without
    /// simulating again: each path's posterior probability and the figures
    /// under it beside the prior; a plan's run is read from its tasks' parts
    /// without merging them. Into output/<run>-views-<file> (<plan folder>
    /// for a plan) unless --out says otherwise.
    Views(views::Args),
    /// Fit scenario parameters: regimes to history, keys to target figures.
    Calibrate {
        #[command(subcommand)]
        command: calibrate::Command,
    },
}

fn main() -> ExitCode {
    failure::clean_up_on_interrupt();
    let cli = Cli::parse();
    failure::exit(
        match cli.command.unwrap_or(Command::Run(run::Args::default())) {
            Command::Run(args) => run::run(args),
            Command::Validate(args) => validate::run(args),
            Command::List => list::run(),
            Command::Compare(args) => compare::run(args),
            Command::Sweep(args) => sweep::run(args),
            Command::Sensitivity(args) => sensitivity::run(args),
            Command::Attribute(args) => attribute::run(args),
            Command::ReverseStress(args) => reverse_stress::run(args),
            Command::Views(args) => views::run(args),
            Command::Plan(args) => plan::run(args),
            Command::Task(args) => task::run(args),
            Command::Merge(args) => merge::run(args),
            Command::Calibrate { command } => calibrate::run(command),
        },
    )
}
