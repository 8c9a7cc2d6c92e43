//! `stormglass views`: a finished run's paths reweighted to meet views
//! (entropy pooling), without simulating again.

use std::path::PathBuf;

use stormglass_core::output;
use stormglass_report as report;

use crate::args::Out;
use crate::failure::{say, Failure, Result};

/// `stormglass views`'s arguments (its description is on `Command::Views`).
#[derive(clap::Args)]
pub struct Args {
    /// A finished run's folder (with paths_metrics.csv or .parquet).
    run: PathBuf,
    /// The views file (TOML, `[[view]]` tables; see views/dollar_falls.toml).
    #[arg(long, value_name = "FILE")]
    views: PathBuf,
    #[command(flatten)]
    out: Out,
}

pub fn run(args: Args) -> Result {
    let stem = args
        .views
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "views".into());
    let run_name = args
        .run
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    let out = args.out.folder(|| format!("{run_name}-views-{stem}"));
    output::check_target(&out, args.out.force)?;
    let applied = report::views::apply_to_run(&args.run, &args.views)?;
    let charts = report::views::views_charts(&applied.file, &applied.table, &applied.outcome)
        .map_err(Failure::other)?;
    report::views::write_views(
        &out,
        args.out.force,
        &applied.provenance,
        &applied.outcome,
        &charts,
    )?;
    let outcome = &applied.outcome;
    for v in &outcome.views {
        say(format_args!(
            "{:<24} {:<48} prior {:>10}  posterior {:>10}",
            v.view,
            v.statement,
            report::views::number(v.prior),
            report::views::number(v.posterior)
        ))?;
    }
    for f in outcome.figures.iter().filter(|f| f.group == "key numbers") {
        say(format_args!(
            "{:<73} prior {:>10}  posterior {:>10}",
            f.figure,
            report::views::number(f.prior),
            report::views::number(f.posterior)
        ))?;
    }
    say(format_args!(
        "relative entropy {}; {} effective scenarios of {} paths ({:.1}%)",
        report::views::number(outcome.relative_entropy),
        report::views::number(outcome.effective_scenarios),
        outcome.paths,
        100.0 * outcome.effective_share
    ))?;
    for warning in &outcome.warnings {
        eprintln!("warning: {warning}");
    }
    say(format_args!(
        "wrote {} (posterior.csv, posterior.parquet, views.json, views.csv, views_figures.csv, {} charts and views.html)",
        out.display(),
        charts.len()
    ))
}
