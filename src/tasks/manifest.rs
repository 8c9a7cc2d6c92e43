//! A plan: a run, or every point of a sweep, cut into shards, written down as
//! numbered tasks. A scheduler hands each task its index (a Slurm array's
//! `SLURM_ARRAY_TASK_ID`, a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX`);
//! `stormglass task` runs one, and `stormglass merge` puts every point back
//! together once all have run.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::recipe::{Recipe, RecipeError};
use crate::engine::Shard;
use crate::report::sha256_of;
use crate::sweep::Axis;

/// The manifest format's version.
pub const MANIFEST_FORMAT: u32 = 1;
/// The manifest's file name in a plan's folder.
pub const MANIFEST_FILE: &str = "manifest.json";

/// One run of the plan: the base recipe with `settings` applied on top.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub index: usize,
    /// A name for the point's folder, from its settings (`run` for a plain run).
    pub label: String,
    /// `KEY=VALUE`, applied after the base recipe's own settings.
    pub settings: Vec<String>,
    /// The point's run fingerprint at planning time: a task refuses to run
    /// a scenario that has changed since.
    pub run: String,
}

/// One shard of one point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub index: usize,
    pub point: usize,
    pub shard: Shard,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub version: String,
    pub scenario_name: String,
    /// The folder the plan was written in: tasks and the merge read the
    /// recipe's files from there, as typed, so their outputs name them as a
    /// run from that folder would.
    pub directory: PathBuf,
    pub recipe: Recipe,
    /// Swept keys (none for a plain run); points vary the first slowest.
    pub axes: Vec<Axis>,
    /// The figures the merged sweep charts.
    pub charts: Vec<String>,
    pub shards: usize,
    pub points: Vec<Point>,
    pub tasks: Vec<Task>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    #[error("{}: {message}", path.display())]
    Unreadable { path: PathBuf, message: String },
    #[error("{}: written by Stormglass {version} (manifest format {format}); this is {} (format {MANIFEST_FORMAT}): plan again with this version", path.display(), crate::VERSION)]
    OtherVersion {
        path: PathBuf,
        version: String,
        format: u32,
    },
    #[error("task {index} is not in {}: it has {tasks} tasks, 0 to {}", path.display(), tasks.saturating_sub(1))]
    NoSuchTask {
        path: PathBuf,
        index: usize,
        tasks: usize,
    },
}

impl Manifest {
    /// The plan of `points` (the base recipe's own run when empty), each cut into `shards`.
    pub fn new(
        scenario_name: &str,
        directory: PathBuf,
        recipe: Recipe,
        axes: Vec<Axis>,
        points: Vec<(String, Vec<String>, String)>,
        shards: usize,
    ) -> Manifest {
        let points: Vec<Point> = points
            .into_iter()
            .enumerate()
            .map(|(index, (label, settings, run))| Point {
                index,
                label,
                settings,
                run,
            })
            .collect();
        let tasks = (0..points.len() * shards)
            .map(|index| Task {
                index,
                point: index / shards,
                shard: Shard {
                    index: index % shards,
                    count: shards,
                },
            })
            .collect();
        Manifest {
            format: MANIFEST_FORMAT,
            version: crate::VERSION.to_string(),
            scenario_name: scenario_name.to_string(),
            directory,
            recipe,
            axes,
            charts: Vec::new(),
            shards,
            points,
            tasks,
        }
    }

    /// Reads the manifest at `path`, and its SHA-256 (which every part records).
    pub fn read(path: &Path) -> Result<(Manifest, String), ManifestError> {
        let unreadable = |message: String| ManifestError::Unreadable {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| unreadable(format!("cannot read the plan's manifest: {e}")))?;
        #[derive(Deserialize)]
        struct Version {
            format: u32,
            version: String,
        }
        let not_a_manifest = |e: serde_json::Error| {
            unreadable(format!(
                "not a plan's manifest (written by `stormglass plan`): {e}"
            ))
        };
        let version: Version = serde_json::from_str(&text).map_err(not_a_manifest)?;
        if version.format != MANIFEST_FORMAT || version.version != crate::VERSION {
            return Err(ManifestError::OtherVersion {
                path: path.to_path_buf(),
                version: version.version,
                format: version.format,
            });
        }
        let manifest: Manifest = serde_json::from_str(&text).map_err(not_a_manifest)?;
        let sha = sha256_of(path).map_err(|e| unreadable(e.to_string()))?;
        Ok((manifest, sha))
    }

    /// The manifest as written to its file.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a manifest serialises");
        text.push('\n');
        text
    }

    /// Task `index`, or a message naming the plan's range.
    pub fn task(&self, path: &Path, index: usize) -> Result<Task, ManifestError> {
        self.tasks
            .get(index)
            .copied()
            .ok_or(ManifestError::NoSuchTask {
                path: path.to_path_buf(),
                index,
                tasks: self.tasks.len(),
            })
    }

    /// The recipe of point `point`: the base one with the point's settings after its own.
    pub fn recipe_of(&self, point: usize) -> Recipe {
        let mut recipe = self.recipe.clone();
        recipe
            .settings
            .extend(self.points[point].settings.iter().cloned());
        recipe
    }

    /// Where task `index` writes its part, in the plan's folder `dir`.
    pub fn part_path(dir: &Path, index: usize) -> PathBuf {
        dir.join("parts").join(format!("task-{index:05}.part"))
    }
}

/// `path` made absolute (against the current folder), so it names the same
/// file after the command moves into a plan's or a part's folder.
pub fn absolute(path: &Path) -> Result<PathBuf, RecipeError> {
    std::path::absolute(path).map_err(|e| RecipeError::new(format!("{}: {e}", path.display())))
}
