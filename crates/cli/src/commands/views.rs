//! `stormglass views`: a finished run's paths reweighted to meet views
//! (entropy pooling), without simulating again; or a plan's, read from its
//! tasks' parts without merging them.

use std::path::PathBuf;

use stormglass_core::output;
use stormglass_core::tasks::{self, Manifest};
use stormglass_report as report;

use super::merge::{absolute, enter};
use crate::args::Out;
use crate::failure::{say, Failure, Result};

/// `stormglass views`'s arguments (its description is on `Command::Views`).
#[derive(clap::Args)]
pub struct Args {
    /// A finished run's folder (with paths_metrics.csv or .parquet); or a
    /// plan's manifest.json (or its folder) whose tasks have run, read from
    /// their parts without merging them.
    run: PathBuf,
    /// The views file (TOML, `[[view]]` tables; see views/dollar_falls.toml).
    #[arg(long, value_name = "FILE")]
    views: PathBuf,
    /// For a plan that sweeps: the point (its folder's name in `runs/`) whose
    /// parts to read.
    #[arg(long, value_name = "NAME")]
    point: Option<String>,
    #[command(flatten)]
    out: Out,
}

pub fn run(args: Args) -> Result {
    let stem = args
        .views
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "views".into());
    let plan = tasks::manifest::plan_manifest(&args.run);
    if plan.is_none() && args.point.is_some() {
        return Err(Failure::input(format!(
            "{}: --point chooses a point of a plan, and this is not a plan's manifest.json or folder",
            args.run.display()
        )));
    }
    let run_name = match &plan {
        // A plan is named after its folder (`manifest.json` may be given
        // alone), a sweep's point after both.
        Some(manifest) => {
            let folder = std::fs::canonicalize(manifest)
                .ok()
                .and_then(|m| m.parent().and_then(|p| p.file_name()).map(|n| n.to_owned()));
            let folder = folder
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "plan".into());
            match &args.point {
                Some(point) => format!("{folder}-{point}"),
                None => folder,
            }
        }
        None => args
            .run
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into()),
    };
    let out = args.out.folder(|| format!("{run_name}-views-{stem}"));
    // Made absolute before a plan's command moves into the plan's folder.
    let out = if plan.is_some() { absolute(&out)? } else { out };
    output::check_target(&out, args.out.force)?;
    let applied = match plan {
        Some(manifest) => {
            let manifest_path = absolute(&manifest)?;
            let views = absolute(&args.views)?;
            let (manifest, sha) = Manifest::read(&manifest_path)?;
            enter(&manifest.directory, "the plan")?;
            report::views::apply_to_plan(
                manifest,
                &sha,
                &manifest_path,
                args.point.as_deref(),
                &views,
            )?
        }
        None => report::views::apply_to_run(&args.run, &args.views)?,
    };
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
