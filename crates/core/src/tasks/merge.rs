//! Parts put back together: the shards of one run into its simulation, bit
//! for bit as a single run makes it, and every point of a plan.

use std::path::{Path, PathBuf};

use super::error::TaskError;
use super::manifest::Point;
use super::part::{self, PartError, PartSet, TaskTag};
use super::plan::parse_settings;
use super::Manifest;
use crate::engine::{PathObserver, Simulation};
use crate::output::{self, OutputError};
use crate::run::Prepared;
use crate::scenario::{self, settings::Setting, Scenario};
use crate::stats::MetricLayout;
use crate::sweep::{self, Sweep};

/// The part files `inputs` name: files as given, folders by the `.part`
/// files they hold, in name order.
pub fn part_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, TaskError> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(input)
                .map_err(|e| TaskError::Input(format!("{}: {e}", input.display())))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "part"))
                .collect();
            inside.sort();
            if inside.is_empty() {
                return Err(TaskError::Input(format!(
                    "{}: holds no .part files",
                    input.display()
                )));
            }
            files.extend(inside);
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

/// Rebuilds the run the parts came from, checks it is theirs and merges them;
/// `part_error` says how to fix a damaged part (which task to run again).
/// The recipe's files are read from the current folder: enter the folder the
/// parts record first.
pub fn merge_parts(
    parts: &PartSet,
    threads: usize,
    part_error: &dyn Fn(PartError) -> PartError,
) -> Result<(Prepared, Simulation), TaskError> {
    let prepared = prepare_parts(parts, threads)?;
    let simulation = parts
        .merge(run_layout(&prepared), &part::RunShape::of(&prepared))
        .map_err(part_error)?;
    Ok((prepared, simulation))
}

/// Rebuilds the run the parts came from and checks it is theirs (its
/// scenario and files unchanged since the shards ran). The recipe's files
/// are read from the current folder: enter the folder the parts record first.
pub fn prepare_parts(parts: &PartSet, threads: usize) -> Result<Prepared, TaskError> {
    let header = parts.header();
    let prepared = header.recipe.prepare(threads)?;
    if prepared.fingerprint()? != header.run {
        return Err(TaskError::Input(format!(
            "{}: its scenario or files changed since the shards ran (the run they build is no longer the parts' run); run the shards again",
            header.recipe.scenario.display()
        )));
    }
    Ok(prepared)
}

/// The per-path columns of `prepared`'s run, as its parts' rows hold them.
pub fn run_layout(prepared: &Prepared) -> MetricLayout {
    let mut layout = MetricLayout::new(&prepared.model);
    layout.append(PathObserver::columns(&prepared.tracker()));
    layout
}

/// The parts of point `point` of the plan at `manifest_path` (absolute, its
/// manifest `manifest` of hash `sha`): every task of the point has run and
/// left its own part, of this plan; else the error names the tasks to run.
pub fn point_parts(
    manifest: &Manifest,
    sha: &str,
    manifest_path: &Path,
    point: usize,
) -> Result<PartSet, TaskError> {
    let plan_dir = manifest_path.parent().unwrap_or(Path::new("."));
    part::sweep_stale_parts(&plan_dir.join("parts"));
    let tasks: Vec<_> = manifest.tasks.iter().filter(|t| t.point == point).collect();
    let missing: Vec<String> = tasks
        .iter()
        .filter(|t| !Manifest::part_path(plan_dir, t.index).exists())
        .map(|t| t.index.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(TaskError::Input(format!(
            "{}: task{} {} of {} ha{} not run (no part in {}): run `stormglass task {} --index I` for each",
            manifest_path.display(),
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", "),
            manifest.tasks.len(),
            if missing.len() > 1 { "ve" } else { "s" },
            plan_dir.join("parts").display(),
            manifest_path.display(),
        )));
    }
    let files: Vec<PathBuf> = tasks
        .iter()
        .map(|t| Manifest::part_path(plan_dir, t.index))
        .collect();
    for (file, task) in files.iter().zip(&tasks) {
        let header = part::read_header(file).map_err(|e| e.of_task(task.index, manifest_path))?;
        let tag = TaskTag {
            manifest: sha.to_string(),
            index: task.index,
        };
        if header.task.as_ref() != Some(&tag) {
            return Err(TaskError::Input(format!(
                "{}: not task {}'s part of this plan ({}); run `stormglass task {} --index {} --force`",
                file.display(),
                task.index,
                match &header.task {
                    Some(t) if t.manifest == sha => format!("it is task {}'s", t.index),
                    Some(_) => "it comes from another plan".to_string(),
                    None => "it was written by `run --shard`".to_string(),
                },
                manifest_path.display(),
                task.index
            )));
        }
    }
    Ok(PartSet::gather(&files, |_, _| String::new())?)
}

/// A part of the plan at `manifest_path` damaged after its header was read,
/// named by its task (which to run again).
pub fn task_part_error(manifest: &Manifest, manifest_path: &Path, error: PartError) -> PartError {
    let plan_dir = manifest_path.parent().unwrap_or(Path::new("."));
    let task = match &error {
        PartError::Damaged { path, .. } => manifest
            .tasks
            .iter()
            .find(|t| Manifest::part_path(plan_dir, t.index) == *path),
        _ => None,
    };
    match task {
        Some(task) => error.of_task(task.index, manifest_path),
        None => error,
    }
}

/// Every point of a plan, its parts present and of this plan, ready to merge.
pub struct PlanMerge {
    pub manifest: Manifest,
    pub manifest_path: PathBuf,
    pub plan_dir: PathBuf,
    /// The folder the runs (and the sweep) are written into.
    pub out: PathBuf,
    pub points: Vec<(Point, PartSet)>,
    /// For a sweep: the scenario file as loaded, and the plan's own settings,
    /// to which every point adds its own.
    pub sweep_base: Option<(Scenario, Vec<Setting>)>,
}

impl PlanMerge {
    /// Checks that every task of the plan at `manifest_path` (absolute) has
    /// run and left its own part; `out` defaults to the plan's folder. The
    /// recipe's files are read from the current folder: enter
    /// `manifest.directory` first.
    pub fn gather(
        manifest: Manifest,
        sha: &str,
        manifest_path: &Path,
        out: Option<PathBuf>,
    ) -> Result<PlanMerge, TaskError> {
        let plan_dir = manifest_path
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let out = out.unwrap_or_else(|| plan_dir.clone());
        part::sweep_stale_parts(&plan_dir.join("parts"));
        let mut points = Vec::with_capacity(manifest.points.len());
        for point in &manifest.points {
            let set = point_parts(&manifest, sha, manifest_path, point.index)?;
            points.push((point.clone(), set));
        }
        let sweep_base = if manifest.axes.is_empty() {
            None
        } else {
            let recipe = &manifest.recipe;
            let file = scenario::load_at(&recipe.scenario, recipe.levels.as_deref())
                .map_err(|e| TaskError::Input(e.to_string()))?;
            Some((file, parse_settings(&manifest.recipe.settings)?))
        };
        Ok(PlanMerge {
            manifest,
            manifest_path: manifest_path.to_path_buf(),
            plan_dir,
            out,
            points,
            sweep_base,
        })
    }

    /// The run folder of `point`: `run` for a plan of one run, else
    /// `runs/<label>`.
    pub fn folder(&self, point: &Point) -> PathBuf {
        if self.manifest.points.len() == 1 {
            self.out.join("run")
        } else {
            self.out.join("runs").join(&point.label)
        }
    }

    /// Whether every folder the merge writes may be written (see
    /// [`output::check_target`]): checked before anything is merged.
    pub fn check_targets(&self, force: bool) -> Result<(), OutputError> {
        for (point, _) in &self.points {
            output::check_target(&self.folder(point), force)?;
        }
        if self.sweep_base.is_some() {
            output::check_target(&self.sweep_dir(), force)?;
        }
        Ok(())
    }

    /// The sweep's folder, for a plan that sweeps.
    pub fn sweep_dir(&self) -> PathBuf {
        self.out.join("sweep")
    }

    /// A part damaged after its header was read, named by its task.
    pub fn part_error(&self, error: PartError) -> PartError {
        task_part_error(&self.manifest, &self.manifest_path, error)
    }

    /// Merges the parts of `point` into its simulation.
    pub fn merge(
        &self,
        parts: &PartSet,
        threads: usize,
    ) -> Result<(Prepared, Simulation), TaskError> {
        merge_parts(parts, threads, &|e| self.part_error(e))
    }

    /// Merges every point in turn and hands each to `write` with its run
    /// folder; for a plan that sweeps, returns the sweep of every point
    /// (for the caller to write into [`PlanMerge::sweep_dir`]).
    pub fn merge_each<E: From<TaskError>>(
        &self,
        threads: usize,
        mut write: impl FnMut(&Path, &Prepared, &Simulation) -> Result<(), E>,
    ) -> Result<Option<Sweep>, E> {
        let grid = sweep::grid(&self.manifest.axes);
        let mut swept: Option<Sweep> = None;
        for (point, parts) in &self.points {
            let (prepared, simulation) = self.merge(parts, threads)?;
            write(&self.folder(point), &prepared, &simulation)?;
            if let Some((file, settings)) = &self.sweep_base {
                // Every point runs the plan's seed and paths: the first tells them.
                let swept = swept.get_or_insert_with(|| {
                    Sweep::new(
                        file,
                        &self.manifest.recipe.scenario,
                        settings,
                        &self.manifest.axes,
                        prepared.options.seed,
                        prepared.options.paths,
                    )
                });
                swept.add(
                    point.index,
                    grid[point.index].clone(),
                    &prepared.scenario,
                    &prepared.model,
                    &prepared.book,
                    &simulation,
                    simulation.wall_time.as_secs_f64(),
                );
            }
        }
        Ok(swept.map(|mut swept| {
            swept.seconds = swept.points.iter().map(|p| p.seconds).sum();
            swept
        }))
    }
}
