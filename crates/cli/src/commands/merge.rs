//! `stormglass merge`: the parts of a run simulated as shards put back
//! together into the folder a single run writes, bit for bit; or every point
//! of a plan.

use std::path::{Path, PathBuf};

use stormglass_core::tasks::{self, Manifest, PartSet, PlanMerge};
use stormglass_report as report;

use super::run::finish_run;
use crate::args::{command_line, Out, TableArgs, Threads};
use crate::failure::{say, Failure, Result};

/// `stormglass merge`'s arguments (its description is on `Command::Merge`).
#[derive(clap::Args)]
pub struct Args {
    /// Part files, or folders of them, of every shard of one run; or a plan's
    /// manifest.json, whose every point is merged.
    #[arg(required = true)]
    parts: Vec<PathBuf>,
    #[command(flatten)]
    out: Out,
    #[command(flatten)]
    threads: Threads,
    #[command(flatten)]
    tables: TableArgs,
}

pub fn run(args: Args) -> Result {
    let threads = args.threads.checked()?;
    if let [input] = &args.parts[..] {
        if let Some(manifest) = tasks::manifest::plan_manifest(input) {
            return merge_plan(&absolute(&manifest)?, &args, threads);
        }
    }
    let files = tasks::part_files(&args.parts)?
        .iter()
        .map(|f| absolute(f))
        .collect::<Result<Vec<_>>>()?;
    let parts = PartSet::gather(&files, |header, missing| {
        let recipe = &header.recipe;
        format!(
            "`stormglass run {} --shard {}/{}` (and the same flags) for each",
            recipe.scenario.display(),
            missing[0],
            header.shard.count
        )
    })?;
    // A folder of its own: a merge never takes the place of a single run of
    // the same scenario (output/<scenario name>) unasked.
    let out = absolute(
        &args
            .out
            .folder(|| format!("{}-merged", parts.header().scenario_name)),
    )?;
    enter(&parts.header().directory, "the shards' run")?;
    let (prepared, simulation) = tasks::merge_parts(&parts, threads, &|e| e)?;
    finish_run(&prepared, &simulation, &out, args.tables, args.out.force)
}

/// Merges every point of the plan at `manifest_path` into its run folder,
/// and a plan that sweeps into its sweep too.
fn merge_plan(manifest_path: &Path, args: &Args, threads: usize) -> Result {
    let (manifest, sha) = Manifest::read(manifest_path)?;
    let out = args.out.out.as_deref().map(absolute).transpose()?;
    enter(&manifest.directory, "the plan")?;
    let plan = PlanMerge::gather(manifest, &sha, manifest_path, out)?;
    let force = args.out.force;
    plan.check_targets(force)?;
    let swept = plan.merge_each(threads, |folder, prepared, simulation| {
        finish_run(prepared, simulation, folder, args.tables, force)
    })?;
    if let Some(swept) = swept {
        let dir = plan.sweep_dir();
        let written = report::sweep::write_sweep(
            &dir,
            force,
            args.tables.format.into(),
            &swept,
            &plan.manifest.charts,
            &command_line(),
        )?;
        say(format_args!(
            "wrote {} (sweep.csv, sweep.json, {written} charts and sweep.html; {} points)",
            dir.display(),
            swept.points.len()
        ))?;
    }
    Ok(())
}

/// `path` made absolute, before the command moves into a recorded folder.
pub fn absolute(path: &Path) -> Result<PathBuf> {
    Ok(tasks::manifest::absolute(path)?)
}

/// Moves into `directory`, where a plan or a shard read its recipe's files, so
/// they are read again as typed there.
pub fn enter(directory: &Path, what: &str) -> Result {
    std::env::set_current_dir(directory).map_err(|e| {
        Failure::input(format!(
            "{}: the folder {what} was made in: {e}; run it where the recipe's files have the same paths",
            directory.display()
        ))
    })
}
