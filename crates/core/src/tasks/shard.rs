//! One shard of a run: simulated, and written as a part file that `merge`
//! puts back together with the others.

use std::path::{Path, PathBuf};

use super::error::{current_dir, TaskError};
use super::manifest::{Manifest, Task};
use super::part::{self, TaskTag};
use crate::engine::{self, Progress, Shard, ShardRun};
use crate::run::Prepared;

/// Simulates shard `shard` of `prepared` and writes its part to `part`
/// (`task`: the plan's task it is, if any). An existing part is kept unless
/// `force`.
pub fn run_shard(
    prepared: &Prepared,
    shard: Shard,
    part: &Path,
    task: Option<TaskTag>,
    force: bool,
    progress: &dyn Progress,
) -> Result<ShardRun, TaskError> {
    if part.exists() && !force {
        let what = match &task {
            Some(tag) => format!("task {}", tag.index),
            None => format!("shard {shard}"),
        };
        return Err(TaskError::Input(format!(
            "{}: exists: {what} already ran; pass --force to run it again",
            part.display()
        )));
    }
    let fingerprint = prepared.fingerprint()?;
    let shard_run = engine::simulate_shard(
        &prepared.model,
        &prepared.options,
        progress,
        &prepared.tracker(),
        shard,
    )?;
    let header = part::header_of(
        &shard_run,
        fingerprint,
        &prepared.scenario.name,
        current_dir()?,
        &prepared.recipe,
        prepared.model.steps,
        task,
    );
    part::write_part(part, &header, &shard_run, force)?;
    Ok(shard_run)
}

/// Runs `task` of the plan `manifest` (read from `manifest_path`, absolute,
/// whose hash is `sha`) into its part in the plan's `parts/`, and returns the
/// run it prepared, the shard it simulated and the part's path. The recipe's
/// files are read from the current folder: enter `manifest.directory` first.
pub fn run_task(
    manifest: &Manifest,
    sha: &str,
    manifest_path: &Path,
    task: Task,
    threads: usize,
    force: bool,
    progress: &dyn Progress,
) -> Result<(Prepared, ShardRun, PathBuf), TaskError> {
    let prepared = manifest.recipe_of(task.point).prepare(threads)?;
    if prepared.fingerprint()? != manifest.points[task.point].run {
        return Err(TaskError::Input(format!(
            "{}: its scenario or files changed since the plan was written; plan again",
            manifest.recipe.scenario.display()
        )));
    }
    let plan_dir = manifest_path.parent().unwrap_or(Path::new("."));
    let part = Manifest::part_path(plan_dir, task.index);
    let tag = TaskTag {
        manifest: sha.to_string(),
        index: task.index,
    };
    let shard_run = run_shard(&prepared, task.shard, &part, Some(tag), force, progress)?;
    Ok((prepared, shard_run, part))
}
