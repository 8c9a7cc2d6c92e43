//! `stormglass attribute`: the scenario's mechanisms switched off one at a
//! time, and all together, on the same random numbers.

use stormglass_core::attribute::Setup;
use stormglass_core::output;
use stormglass_report as report;

use crate::args::{command_line, Out, Runs};
use crate::failure::{say, Result};
use crate::progress::run_counter;

/// `stormglass attribute`'s arguments (its description is on `Command::Attribute`).
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    runs: Runs,
    /// Mechanisms to switch off, comma-separated or repeated [default: every
    /// mechanism the scenario has switched on].
    #[arg(long, value_delimiter = ',', value_name = "NAME")]
    mechanisms: Vec<String>,
    #[command(flatten)]
    out: Out,
}

pub fn run(args: Args) -> Result {
    let threads = args.runs.threads.checked()?;
    let setup = Setup::new(
        &args.runs.scenario,
        args.runs.levels.levels.as_deref(),
        &args.runs.set.settings,
        &args.mechanisms,
        &args.runs.portfolios,
    )?;
    let options = setup.options(args.runs.paths, args.runs.seed, threads);
    let out = args
        .out
        .folder(|| format!("{}-attribution", setup.base.name));
    output::check_target(&out, args.out.force)?;
    let result = setup.run(options, &run_counter("runs"))?;
    let charts =
        report::attribution::write_attribution(&out, args.out.force, &result, &command_line())?;
    for line in report::attribution::key_table(&result) {
        say(format_args!("{line}"))?;
    }
    say(format_args!(
        "wrote {} (attribution.csv, attribution.json, {charts} waterfall charts and attribution.html; {} runs in {:.1}s, the full run alone {:.1}s)",
        out.display(),
        result.mechanisms.len() + 2,
        result.seconds,
        result.full_seconds
    ))
}
