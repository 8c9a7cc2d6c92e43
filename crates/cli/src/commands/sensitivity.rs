//! `stormglass sensitivity`: keys bumped down and up one at a time, ranked
//! by their effects on the figures.

use stormglass_core::output;
use stormglass_core::sweep::{self, sensitivity};
use stormglass_report as report;

use crate::args::{command_line, Out, Runs};
use crate::failure::{say, Result};
use crate::progress::run_counter;

/// `stormglass sensitivity`'s arguments (its description is on `Command::Sensitivity`).
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    runs: Runs,
    /// Keys to bump, comma-separated or repeated [default: every coupling of
    /// the thesis blocks the scenario has: flows, the policy rule and the
    /// chair, betas, pass-throughs, the crash scaling, the shocks' rates].
    #[arg(long, value_delimiter = ',', value_name = "KEY")]
    keys: Vec<String>,
    /// The bump, as a share of each key's value: 0.1 runs each key at 90% and 110%.
    #[arg(long, default_value_t = sensitivity::DEFAULT_BUMP)]
    bump: f64,
    /// Figures to rank the keys by, any name a targets file takes;
    /// comma-separated or repeated [default: the key numbers and the
    /// equity's return p05].
    #[arg(long = "figure", value_delimiter = ',', value_name = "FIGURE")]
    figures: Vec<String>,
    #[command(flatten)]
    out: Out,
}

pub fn run(args: Args) -> Result {
    args.runs.checked()?;
    let start = args.runs.start()?;
    let keys = if args.keys.is_empty() {
        sensitivity::coupling_keys(&start.scenario)
    } else {
        args.keys.clone()
    };
    let books = args.runs.book_files();
    let figures = sweep::chosen_figures(
        "--figure",
        &start.scenario,
        &books,
        &args.figures,
        start.options.seed,
    )?;
    let out = args
        .out
        .folder(|| format!("{}-sensitivity", start.base.name));
    output::check_target(&out, args.out.force)?;
    let result = sensitivity::run(
        &start.base,
        &args.runs.scenario,
        &start.set,
        &keys,
        args.bump,
        &figures,
        start.options,
        &books,
        &run_counter("runs"),
    )?;
    let written = report::sweep::write_sensitivity(&out, args.out.force, &result, &command_line())?;
    for (f, name) in result.figures.iter().enumerate() {
        say(format_args!(
            "{name}: {:.4} at the scenario's values; largest swings:",
            result.base[f].value
        ))?;
        for effect in result.ranked(f).into_iter().take(5) {
            say(format_args!(
                "  {:<50} {:.4}",
                effect.bump.key,
                effect.swing(f, result.base[f].value)
            ))?;
        }
    }
    say(format_args!(
        "wrote {} (sensitivity.csv, sensitivity.json, {written} tornado charts and sensitivity.html; {} keys in {:.1}s)",
        out.display(),
        result.effects.len(),
        result.seconds
    ))
}
