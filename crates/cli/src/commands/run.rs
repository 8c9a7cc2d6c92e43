//! `stormglass run`: one scenario simulated, its folder written and its
//! summary printed; or one shard of it (`--shard I/N`) into a part file.

use std::io::Write;
use std::path::Path;

use stormglass_core::engine::{Shard, ShardRun, Simulation};
use stormglass_core::output;
use stormglass_core::run::Prepared;
use stormglass_core::tasks;
use stormglass_report::{self as report, OutputOptions, PATHS_METRICS_AUTO_LIMIT};

use crate::args::{Format, Out, PathsCsv, RecipeArgs, TableArgs, Threads};
use crate::failure::{printed, say, Failure, Result};
use crate::progress::Bar;

/// `stormglass run`'s arguments (its description is on `Command::Run`).
#[derive(clap::Args, Default)]
pub struct Args {
    #[command(flatten)]
    recipe: RecipeArgs,
    #[command(flatten)]
    threads: Threads,
    #[command(flatten)]
    out: Out,
    #[command(flatten)]
    tables: TableArgs,
    /// Simulate only shard I of N (from 0: 0/4 to 3/4), a contiguous share of
    /// the run's batches, into a part file in --out [default:
    /// output/<scenario name>-shards]; `stormglass merge` puts the parts together.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
}

pub fn run(args: Args) -> Result {
    let threads = args.threads.checked()?;
    let prepared = args.recipe.recipe().prepare(threads)?;
    super::validate::print_notes(&prepared.scenario);
    super::validate::print_warnings(&prepared.warnings());
    if let Some(shard) = &args.shard {
        let shard = Shard::parse(shard).map_err(|e| Failure::input(format!("--shard {e}")))?;
        let dir = args
            .out
            .folder(|| format!("{}-shards", prepared.scenario.name));
        let part = dir.join(format!("shard-{}-of-{}.part", shard.index, shard.count));
        let shard_run =
            tasks::run_shard(&prepared, shard, &part, None, args.out.force, &Bar::new())?;
        return say_shard(&part, &prepared, &shard_run);
    }
    let out = args.out.folder(|| prepared.scenario.name.clone());
    output::check_target(&out, args.out.force)?;
    prepared.check_memory()?;
    let simulation = prepared.simulate(&Bar::new())?;
    finish_run(&prepared, &simulation, &out, args.tables, args.out.force)
}

/// Says where a shard's part went and which paths it holds.
pub fn say_shard(part: &Path, prepared: &Prepared, shard_run: &ShardRun) -> Result {
    say(format_args!(
        "wrote {} (shard {}: paths {} to {} of {}, in {:.2}s)",
        part.display(),
        shard_run.shard,
        shard_run.rows.start,
        shard_run.rows.end,
        prepared.options.paths,
        shard_run.simulation.wall_time.as_secs_f64()
    ))
}

/// Summarises a finished simulation of `prepared`, writes its folder and prints
/// its summary: a single run and a merge of shards end here alike.
pub fn finish_run(
    prepared: &Prepared,
    simulation: &Simulation,
    out: &Path,
    tables: TableArgs,
    force: bool,
) -> Result {
    let TableArgs { paths_csv, format } = tables;
    // Summaries and charts keep to the threads the run was given.
    let pool = Threads::pool(prepared.options.threads)?;
    let summary = pool.install(|| prepared.summarise(simulation));
    let paths = prepared.options.paths;
    let paths_metrics = match paths_csv {
        PathsCsv::Always => true,
        PathsCsv::Never => false,
        PathsCsv::Auto => paths <= PATHS_METRICS_AUTO_LIMIT,
    };
    let written = pool.install(|| {
        report::write_run(
            out,
            &prepared.scenario,
            &prepared.model,
            simulation,
            &summary,
            OutputOptions {
                paths_metrics,
                tables: format.into(),
                force,
            },
        )
    })?;
    let mut stdout = std::io::stdout().lock();
    printed(report::print_summary(&mut stdout, &summary).and_then(|()| {
        writeln!(
            stdout,
            "\nwrote {} ({} charts and report.html in {:.2}s)",
            out.display(),
            written.charts,
            written.report_seconds
        )?;
        if !paths_metrics && paths_csv == PathsCsv::Auto {
            writeln!(stdout, "{}", skipped_paths_csv(paths, format))?;
        }
        Ok(())
    }))
}

/// Why a run folder has no per-path table, and how to get one.
fn skipped_paths_csv(paths: u64, format: Format) -> String {
    let file = match format {
        Format::Csv => "paths_metrics.csv",
        Format::Parquet => "paths_metrics.parquet",
        Format::Both => "paths_metrics.csv and .parquet",
    };
    format!(
        "{file} not written: {paths} paths is more than --paths-csv auto writes \
         ({PATHS_METRICS_AUTO_LIMIT}); pass --paths-csv always to write it"
    )
}
