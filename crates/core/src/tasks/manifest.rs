//! A plan: a run, or every point of a sweep, cut into shards, written down as
//! numbered tasks. A scheduler hands each task its index (a Slurm array's
//! `SLURM_ARRAY_TASK_ID`, a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX`);
//! `stormglass task` runs one, and `stormglass merge` puts every point back
//! together once all have run.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::Shard;
use crate::input;
use crate::run::{Recipe, RecipeError};
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
    #[error(transparent)]
    Input(#[from] input::InputError),
    #[error("{}: {message}", path.display())]
    Unreadable { path: PathBuf, message: String },
    #[error("{}: written by Stormglass {version} (manifest format {format}); this is {} (format {MANIFEST_FORMAT}): plan again with this version", path.display(), crate::VERSION)]
    OtherVersion {
        path: PathBuf,
        version: String,
        format: u32,
    },
    #[error("{}: {key}: {message}; plan again rather than edit a manifest", path.display())]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
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
        let bytes =
            input::read_bytes(path, input::Kind::PlanManifest).map_err(ManifestError::Input)?;
        // The checksum of the very bytes parsed: parts record it to tie them to this plan.
        let sha = {
            use sha2::{Digest, Sha256};
            format!("{:x}", Sha256::digest(&bytes))
        };
        let text = input::decode_utf8(bytes, path, input::Kind::PlanManifest)?;
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
        manifest
            .check()
            .map_err(|(key, message)| ManifestError::Invalid {
                path: path.to_path_buf(),
                key,
                message,
            })?;
        Ok((manifest, sha))
    }

    /// Checks what `task` and `merge` index with, divide by or write to: a
    /// hand-edited manifest is refused with the key and its valid range, as
    /// a scenario is. `Err((key, what is wrong))`.
    fn check(&self) -> Result<(), (String, String)> {
        let fail = |key: &str, message: String| Err((key.to_string(), message));
        if self.shards == 0 {
            return fail(
                "shards",
                "is 0; a plan cuts each point into at least 1 shard".into(),
            );
        }
        if self.points.is_empty() {
            return fail("points", "is empty; a plan has at least one point".into());
        }
        for (i, axis) in self.axes.iter().enumerate() {
            if axis.values.is_empty() {
                return fail(
                    &format!("axes[{i}].values"),
                    "is empty; an axis has at least one value".into(),
                );
            }
            if let Some(v) = axis.values.iter().find(|v| !v.is_finite()) {
                return fail(
                    &format!("axes[{i}].values"),
                    format!("holds {v}; values are finite numbers"),
                );
            }
        }
        let grid = self
            .axes
            .iter()
            .try_fold(1usize, |n, axis| n.checked_mul(axis.values.len()));
        if grid != Some(self.points.len()) {
            let grid = grid.map_or("more than can be counted".to_string(), |n| n.to_string());
            return fail(
                "points",
                format!(
                    "holds {} points where the axes make {grid}; every combination of the axes' values is one point",
                    self.points.len()
                ),
            );
        }
        let mut labels = std::collections::HashMap::new();
        for (i, point) in self.points.iter().enumerate() {
            if point.index != i {
                return fail(
                    &format!("points[{i}].index"),
                    format!(
                        "is {}; the points are numbered 0 to {} in order",
                        point.index,
                        self.points.len() - 1
                    ),
                );
            }
            if let Err(why) = check_label(&point.label) {
                return fail(
                    &format!("points[{i}].label"),
                    format!("`{}` {why}", shown(&point.label)),
                );
            }
            if let Some(first) = labels.insert(point.label.as_str(), i) {
                return fail(
                    &format!("points[{i}].label"),
                    format!(
                        "`{}` is points[{first}]'s too; each point has its own folder",
                        point.label
                    ),
                );
            }
        }
        let tasks = self.points.len().checked_mul(self.shards);
        if tasks != Some(self.tasks.len()) {
            return fail(
                "tasks",
                format!(
                    "holds {} tasks where {} points of {} shards make {}",
                    self.tasks.len(),
                    self.points.len(),
                    self.shards,
                    tasks.map_or("more than can be counted".to_string(), |n| n.to_string())
                ),
            );
        }
        for (i, task) in self.tasks.iter().enumerate() {
            let expected = Task {
                index: i,
                point: i / self.shards,
                shard: Shard {
                    index: i % self.shards,
                    count: self.shards,
                },
            };
            if *task != expected {
                return fail(
                    &format!("tasks[{i}]"),
                    format!(
                        "is task {} of point {}, shard {}/{}; task {i} of this plan is point {}, shard {}/{}",
                        task.index,
                        task.point,
                        task.shard.index,
                        task.shard.count,
                        expected.point,
                        expected.shard.index,
                        expected.shard.count
                    ),
                );
            }
        }
        Ok(())
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

/// The manifest `input` names when it names a plan: a plan's manifest
/// (a `.json` file), or a folder holding one; `None` otherwise (a run's
/// folder, a part file).
pub fn plan_manifest(input: &Path) -> Option<PathBuf> {
    let manifest = if input.is_dir() {
        input.join(MANIFEST_FILE)
    } else {
        input.to_path_buf()
    };
    (manifest.is_file() && manifest.extension().is_some_and(|x| x == "json")).then_some(manifest)
}

/// The longest point label: a folder name on every common filesystem.
const MAX_LABEL: usize = 200;

/// Whether `label` names one folder inside the plan's `runs`: letters,
/// digits and `._=+-` only (as [`crate::sweep::label_at`] makes them), never a
/// path (`/`, `\`, `..`) or a hidden name.
fn check_label(label: &str) -> Result<(), String> {
    if label.is_empty() {
        return Err("is empty; a label names the point's folder".into());
    }
    if label.len() > MAX_LABEL {
        return Err(format!(
            "is {} bytes long; at most {MAX_LABEL}",
            label.len()
        ));
    }
    if label.starts_with('.') {
        return Err(
            "starts with `.`; a label is a plain folder name, never `.`, `..` or hidden".into(),
        );
    }
    if let Some(c) = label
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "._=+-".contains(*c)))
    {
        return Err(format!(
            "holds {c:?}; a label is a folder name of letters, digits and `._=+-`, never a path"
        ));
    }
    Ok(())
}

/// `text` cut to a length a message can show.
fn shown(text: &str) -> String {
    const SHOWN: usize = 60;
    if text.chars().count() <= SHOWN {
        text.escape_debug().to_string()
    } else {
        let head: String = text.chars().take(SHOWN).collect();
        format!("{}...", head.escape_debug())
    }
}

/// `path` made absolute (against the current folder), so it names the same
/// file after the command moves into a plan's or a part's folder.
pub fn absolute(path: &Path) -> Result<PathBuf, RecipeError> {
    std::path::absolute(path).map_err(|e| RecipeError::new(format!("{}: {e}", path.display())))
}
