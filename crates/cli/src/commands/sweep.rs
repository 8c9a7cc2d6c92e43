//! `stormglass sweep`: a scenario at every value of one or two keys, on the
//! same random numbers, its figures charted against them.

use stormglass_core::output;
use stormglass_core::sweep::{self, Sweep};
use stormglass_report as report;

use crate::args::{command_line, Format, Out, Runs, VaryArgs};
use crate::failure::{say, Result};
use crate::progress::run_counter;

/// `stormglass sweep`'s arguments (its description is on `Command::Sweep`).
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    runs: Runs,
    #[command(flatten)]
    vary: VaryArgs,
    #[command(flatten)]
    out: Out,
    /// The table's file: sweep.csv, sweep.parquet or both.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    format: Format,
}

pub fn run(args: Args) -> Result {
    args.runs.checked()?;
    let (axes, charts) = args.vary.read()?;
    let start = args.runs.start()?;
    sweep::check_axes(&start.base, &axes, &start.set)?;
    let books = args.runs.book_files();
    let charts = sweep::chosen_figures(
        "--chart",
        &start.scenario,
        &books,
        &charts,
        start.options.seed,
    )?;
    let out = args.out.folder(|| format!("{}-sweep", start.base.name));
    output::check_target(&out, args.out.force)?;
    let result = sweep::run(
        &start.base,
        &args.runs.scenario,
        &start.set,
        &axes,
        start.options,
        &books,
        &run_counter("points"),
    )?;
    let written = report::sweep::write_sweep(
        &out,
        args.out.force,
        args.format.into(),
        &result,
        &charts,
        &command_line(),
    )?;
    print_sweep(&result, &charts)?;
    say(format_args!(
        "wrote {} (sweep.csv, sweep.json, {written} charts and sweep.html; {} points in {:.1}s)",
        out.display(),
        result.points.len(),
        result.seconds
    ))
}

/// The charted figures at every point, as value ± 1.96 standard errors.
fn print_sweep(sweep: &Sweep, charts: &[String]) -> Result {
    let shown: Vec<usize> = charts
        .iter()
        .filter_map(|name| sweep.figure_index(name))
        .collect();
    let mut header: Vec<String> = sweep.axes.iter().map(|a| a.key.clone()).collect();
    header.extend(shown.iter().map(|i| sweep.figures[*i].clone()));
    say(format_args!("{}", header.join("  ")))?;
    for point in &sweep.points {
        let mut row: Vec<String> = point.values.iter().map(|v| format!("{v}")).collect();
        row.extend(shown.iter().map(|i| {
            let m = point.figures[*i];
            format!("{:.4} ± {:.4}", m.value, 1.96 * m.se)
        }));
        say(format_args!("{}", row.join("  ")))?;
    }
    Ok(())
}
