//! `stormglass task`: one task of a plan, by the index a scheduler hands over.

use std::path::PathBuf;

use stormglass_core::tasks::{self, Manifest};

use super::merge::{absolute, enter};
use super::run::say_shard;
use crate::args::Threads;
use crate::failure::{say, Failure, Result};
use crate::progress::Bar;

/// `stormglass task`'s arguments (its description is on `Command::Task`).
#[derive(clap::Args)]
pub struct Args {
    /// The plan's manifest.json.
    manifest: PathBuf,
    /// The task to run, from 0 [default: $SLURM_ARRAY_TASK_ID, else
    /// $JOB_COMPLETION_INDEX].
    #[arg(long)]
    index: Option<usize>,
    #[command(flatten)]
    threads: Threads,
    /// Run the task again although its part exists.
    #[arg(long)]
    force: bool,
    /// Print the plan's number of tasks (for a scheduler's array size) and stop.
    #[arg(long, conflicts_with_all = ["index", "force"])]
    count: bool,
}

/// The task index the scheduler hands over, where `--index` is not given.
const INDEX_VARIABLES: [&str; 2] = ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"];

pub fn run(args: Args) -> Result {
    let threads = args.threads.checked()?;
    if args.count {
        let (manifest, _) = Manifest::read(&args.manifest)?;
        return say(format_args!("{}", manifest.tasks.len()));
    }
    let index = match args.index {
        Some(index) => index,
        None => index_from_scheduler()?,
    };
    let manifest_path = absolute(&args.manifest)?;
    let (manifest, sha) = Manifest::read(&manifest_path)?;
    let task = manifest.task(&args.manifest, index)?;
    enter(&manifest.directory, "the plan")?;
    let (prepared, shard_run, part) = tasks::run_task(
        &manifest,
        &sha,
        &manifest_path,
        task,
        threads,
        args.force,
        &Bar::new(),
    )?;
    say_shard(&part, &prepared, &shard_run)
}

fn index_from_scheduler() -> Result<usize> {
    let (name, value) = INDEX_VARIABLES
        .iter()
        .find_map(|name| std::env::var(name).ok().map(|v| (*name, v)))
        .ok_or_else(|| {
            Failure::input(format!(
                "no task index: pass --index I, or run under a scheduler that sets {}",
                INDEX_VARIABLES.join(" or ")
            ))
        })?;
    value
        .trim()
        .parse()
        .map_err(|_| Failure::input(format!("${name} is `{value}`, not a task index")))
}
