//! `stormglass compare`: runs side by side, from scenario files run here or
//! from finished run folders.

use std::io::Write;
use std::path::PathBuf;

use stormglass_core::engine::RunOptions;
use stormglass_core::output;
use stormglass_core::scenario::settings;
use stormglass_report::compare::{self, Compared};

use crate::args::{load, Out, Settings, Threads};
use crate::failure::{printed, Failure, Result};
use crate::progress::Bar;

/// `stormglass compare`'s arguments (its description is on `Command::Compare`).
#[derive(clap::Args)]
pub struct Args {
    /// Scenario .toml files to run, or folders of finished runs (with summary.json).
    #[arg(required = true, num_args = 2..)]
    inputs: Vec<PathBuf>,
    /// Paths for each scenario file run here (overrides scenario.paths).
    #[arg(long, default_value_t = 10_000)]
    paths: u64,
    /// Random seed for the scenario files run here (default: each scenario's own).
    #[arg(long)]
    seed: Option<u64>,
    #[command(flatten)]
    threads: Threads,
    #[command(flatten)]
    set: Settings,
    #[command(flatten)]
    out: Out,
}

pub fn run(args: Args) -> Result {
    if args.paths == 0 {
        return Err(Failure::input("--paths must be at least 1"));
    }
    let threads = args.threads.checked()?;
    if let Some(out) = &args.out.out {
        output::check_target(out, args.out.force)?;
    }
    let set = args.set.parse()?;
    // Every input is checked before anything runs, so a typo fails fast.
    let mut inputs = Vec::new();
    for input in &args.inputs {
        if input.is_dir() {
            if !set.is_empty() {
                return Err(Failure::input(format!(
                    "{}: --set changes the scenario files compare runs, and this is a finished run's folder; run it again with `stormglass run --set`",
                    input.display()
                )));
            }
            let run = Compared::from_run_folder(input).map_err(Failure::input)?;
            inputs.push(Ok(run));
        } else {
            let scenario = load(input)?;
            let scenario = if set.is_empty() {
                scenario
            } else {
                settings::apply(&scenario, input, &set)?
            };
            inputs.push(Err(scenario));
        }
    }
    let mut runs = Vec::new();
    for (input, path) in inputs.into_iter().zip(&args.inputs) {
        match input {
            Ok(run) => runs.push(run),
            Err(mut scenario) => {
                scenario.paths = args.paths;
                if let Some(seed) = args.seed {
                    scenario.seed = seed;
                }
                let options = RunOptions {
                    paths: scenario.paths,
                    seed: scenario.seed,
                    threads,
                    sample_paths: 0,
                };
                let run = stormglass_core::run_scenario(&scenario, &options, &Bar::new())?;
                runs.push(Compared::from_summary(&run.summary, path));
            }
        }
    }
    compare::unique_labels(&mut runs);
    let out = args.out.folder(|| compare::default_folder(&runs));
    let pool = Threads::pool(threads)?;
    let written = pool.install(|| compare::write_comparison(&out, &runs, args.out.force))?;
    let mut stdout = std::io::stdout().lock();
    let cell = |p: Option<f64>| p.map_or("n/a".to_string(), |p| format!("{:.1}%", p * 100.0));
    let mut result = Ok(());
    for run in &runs {
        let k = &run.key_numbers;
        result = result.and_then(|()| {
            writeln!(
                stdout,
                "{:<24} P(equity drawdown) {:>6}  P(dollar fall) {:>6}  P(both) {:>6}{}",
                run.label,
                cell(k.p_equity_drawdown),
                cell(k.p_dollar_fall),
                cell(k.p_joint_selloff),
                run.realism.as_ref().map_or(String::new(), |r| format!(
                    "  outside history {}/{}",
                    r.outside,
                    r.figures.len()
                ))
            )
        });
    }
    printed(result.and_then(|()| {
        writeln!(
            stdout,
            "\nwrote {} ({} charts and compare.html in {:.2}s)",
            out.display(),
            written.charts,
            written.report_seconds
        )
    }))
}
