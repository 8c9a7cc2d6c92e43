//! `stormglass reverse-stress`: how likely a loss is in a finished run, what
//! the paths that make it have in common, and a handful of paths that stand
//! for them.

use std::path::PathBuf;

use stormglass_core::output;
use stormglass_core::views::reverse::{self, Measure, Options, Request, Target};
use stormglass_report as report;
use stormglass_report::finished::FinishedRun;

use crate::args::{command_line, Out, Threads};
use crate::failure::{say, Failure, Result};
use crate::progress::Bar;

/// What a book's or an asset's loss is measured on.
#[derive(Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum On {
    /// The return over the horizon: a breach loses at least --loss.
    #[default]
    Return,
    /// The largest fall below a running peak: a breach falls at least --loss.
    Drawdown,
}

/// `stormglass reverse-stress`'s arguments (its description is on `Command::ReverseStress`).
#[derive(clap::Args)]
pub struct Args {
    /// A finished run's folder (with summary.json and paths_metrics.csv or .parquet).
    #[arg(value_name = "RUN_DIR")]
    run_dir: PathBuf,
    /// The breach is this portfolio's loss.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["strategy", "asset", "figure"])]
    portfolio: Option<String>,
    /// The breach is this strategy's loss (a portfolio with rules).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["asset", "figure"])]
    strategy: Option<String>,
    /// The breach is this asset's loss (`spx` for the S&P 500).
    #[arg(long, value_name = "NAME", conflicts_with = "figure")]
    asset: Option<String>,
    /// The loss, a fraction of the starting value: 0.30 for 30%.
    #[arg(long, value_name = "FRACTION")]
    loss: Option<f64>,
    /// What the loss is measured on.
    #[arg(long, value_enum, default_value_t = On::Return)]
    on: On,
    /// The breach is any per-path column (`spx.terminal_return`,
    /// `regime.sell_america.time_share`) at most --at-most or at least --at-least.
    #[arg(long, value_name = "COLUMN")]
    figure: Option<String>,
    #[arg(
        long,
        value_name = "X",
        requires = "figure",
        conflicts_with = "at_least",
        allow_hyphen_values = true
    )]
    at_most: Option<f64>,
    #[arg(
        long,
        value_name = "X",
        requires = "figure",
        allow_hyphen_values = true
    )]
    at_least: Option<f64>,
    /// Representative breaching paths to find and draw.
    #[arg(long, value_name = "K", default_value_t = reverse::DEFAULT_MEDOIDS)]
    medoids: usize,
    /// Re-run the scenario tilted toward the breach (importance sampling:
    /// the regimes and Poisson events the breaching paths share made more
    /// frequent, factors from 1 to 20) into a run folder beside the report,
    /// and report from it, every figure weighted by the paths' likelihood
    /// ratios.
    #[arg(long)]
    tilt: bool,
    /// The tilted re-run's paths [default: the run's].
    #[arg(long, value_name = "N", requires = "tilt")]
    paths: Option<u64>,
    #[command(flatten)]
    threads: Threads,
    #[command(flatten)]
    out: Out,
}

pub fn run(args: Args) -> Result {
    let request = request(&args)?;
    let run = FinishedRun::open(&args.run_dir)?;
    // Every column: what the breaching paths have in common is read off all of them.
    let table = run.load(&run.columns)?;
    let breach = request.breach(&table)?;
    if args.medoids > 20 {
        return Err(Failure::input(format!(
            "--medoids {}: at most 20 representative paths are drawn",
            args.medoids
        )));
    }
    let options = Options {
        medoids: args.medoids,
    };
    let result = reverse::reverse_stress(&table, &breach, options)?;
    let name = args
        .run_dir
        .file_name()
        .map_or("run".into(), |n| n.to_string_lossy().into_owned());
    let out = args.out.folder(|| format!("{name}-reverse-stress"));
    output::check_target(&out, args.out.force)?;
    let command = command_line();
    if !args.tilt {
        return write(&args, &out, &args.run_dir, &run, &result, &command, None);
    }
    // The tilted run's folder sits beside the report.
    let tilted_dir = out.with_file_name(format!("{name}-tilted"));
    let threads = args.threads.checked()?;
    let announce = |recipe: &stormglass_core::Recipe, paths: u64| {
        let _ = say(format_args!(
            "re-running {paths} paths of {} tilted toward the breach (seed {}): {}",
            run.scenario_name,
            recipe.seed.unwrap_or_default(),
            recipe.tilt.clone().unwrap_or_default()
        ));
    };
    // The summaries keep to the threads the command was given.
    let tilted = Threads::pool(threads)?.install(|| {
        report::reverse::tilted_rerun(
            &args.run_dir,
            &run,
            &table,
            &breach,
            args.paths,
            threads,
            &tilted_dir,
            args.out.force,
            &Bar::new(),
            &announce,
        )
    })?;
    say(format_args!(
        "wrote the tilted run {}",
        tilted.dir.display()
    ))?;
    let plain = report::reverse::PlainEstimate::new(&args.run_dir, &run, &result);
    let result = reverse::reverse_stress(&tilted.table, &request.breach(&tilted.table)?, options)?;
    write(
        &args,
        &out,
        &tilted.dir,
        &tilted.run,
        &result,
        &command,
        Some(&plain),
    )
}

/// Writes the report of `result` (on the run in `run_dir`) and says what it found.
fn write(
    args: &Args,
    out: &std::path::Path,
    run_dir: &std::path::Path,
    run: &FinishedRun,
    result: &reverse::ReverseStress,
    command: &str,
    plain: Option<&report::reverse::PlainEstimate>,
) -> Result {
    let traces = report::reverse::trace_medoids(run_dir, run, result);
    let charts = report::reverse::write_reverse_stress(
        out,
        args.out.force,
        run_dir,
        run,
        result,
        &traces,
        command,
        plain,
    )?;
    if let Some(plain) = plain {
        say(format_args!(
            "plain run: {} of {} paths breach, probability {:.4}% ± {:.4}% (1 se)",
            plain.breaching,
            plain.paths,
            plain.probability * 100.0,
            plain.standard_error * 100.0
        ))?;
        if let Some(importance) = &result.importance_sampling {
            let worth = report::reverse::paths_worth(plain, importance, result.paths as u64);
            say(format_args!("{}", report::reverse::tilt_verdict(worth)))?;
        }
    }
    for line in report::reverse::console_lines(result, command) {
        say(format_args!("{line}"))?;
    }
    say(format_args!(
        "wrote {} (reverse_stress.json, common.csv and .parquet, frontier.csv, medoids.csv, {charts} charts and reverse_stress.html)",
        out.display()
    ))
}

/// The request the flags make (clap has kept the targets apart).
fn request(args: &Args) -> Result<Request> {
    let target = if let Some(name) = &args.portfolio {
        Target::Portfolio(name.clone())
    } else if let Some(name) = &args.strategy {
        Target::Strategy(name.clone())
    } else if let Some(name) = &args.asset {
        Target::Asset(name.clone())
    } else if let Some(column) = &args.figure {
        Target::Figure(column.clone())
    } else {
        return Err(Failure::input(
            "say what breaches: --portfolio NAME --loss X, --strategy NAME --loss X, --asset NAME --loss X, or --figure COLUMN --at-most X (or --at-least X)",
        ));
    };
    Ok(Request {
        target,
        loss: args.loss,
        on: match args.on {
            On::Return => Measure::Return,
            On::Drawdown => Measure::Drawdown,
        },
        at_most: args.at_most,
        at_least: args.at_least,
    })
}
