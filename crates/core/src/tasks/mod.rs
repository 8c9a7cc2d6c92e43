//! Runs as tasks: a run rebuilt from its recipe, cut into shards whose parts
//! merge back into the single run bit for bit, and plans of many such tasks
//! (sweep points × shards) that a cluster scheduler hands out by index.

mod error;
pub mod manifest;
pub mod merge;
pub mod part;
pub mod plan;
pub mod shard;

pub use error::TaskError;
pub use manifest::{Manifest, ManifestError, MANIFEST_FILE};
pub use merge::{
    merge_parts, part_files, point_parts, prepare_parts, run_layout, task_part_error, PlanMerge,
};
pub use part::{PartError, PartHeader, PartSet, TaskTag};
pub use plan::{plan, write_plan};
pub use shard::{run_shard, run_task};
