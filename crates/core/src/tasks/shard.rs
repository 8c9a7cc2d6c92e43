//! One shard of a run: simulated, and written as a part file that `merge`
//! puts back together with the others.

use std::path::Path;

use super::error::{current_dir, TaskError};
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
