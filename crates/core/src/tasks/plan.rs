//! A plan: a run, or every point of a sweep, cut into shards as numbered
//! tasks for a scheduler (a Slurm array, a Kubernetes Indexed Job).

use std::path::{Path, PathBuf};

use super::error::{current_dir, TaskError};
use super::{part, Manifest, MANIFEST_FILE};
use crate::engine;
use crate::output;
use crate::run::Recipe;
use crate::scenario::{self, settings, settings::Setting};
use crate::sweep::{self, Axis};

/// The manifest of `recipe` cut into `shards` shards per point, sweeping
/// `axes` (none: one run) and charting `charts` (only when it sweeps).
pub fn plan(
    recipe: &Recipe,
    axes: Vec<Axis>,
    charts: Vec<String>,
    shards: usize,
) -> Result<Manifest, TaskError> {
    if shards == 0 {
        return Err(TaskError::Input("--shards must be at least 1".into()));
    }
    let prepared = recipe.prepare(1)?;
    let batches = engine::BatchLayout::new(&prepared.options).batches();
    if shards > batches {
        return Err(TaskError::Input(format!(
            "--shards {shards}: the run has {batches} batches of {} paths, and a shard is at least one; use at most {batches} shards or more --paths",
            engine::BATCH_PATHS
        )));
    }
    let points = if axes.is_empty() {
        if !charts.is_empty() {
            return Err(TaskError::Input(
                "--chart: a plan charts figures only when it sweeps (--vary)".into(),
            ));
        }
        vec![("run".to_string(), Vec::new(), prepared.fingerprint()?)]
    } else {
        let file = scenario::load_at(&recipe.scenario, recipe.levels.as_deref())
            .map_err(|e| TaskError::Input(e.to_string()))?;
        let set = parse_settings(&recipe.settings)?;
        sweep::check_axes(&file, &axes, &set)?;
        if let Some(axis) = axes.iter().find(|a| a.is_book_key()) {
            return Err(TaskError::Input(format!(
                "--vary `{}`: a plan's points vary scenario keys; sweep a portfolio's key with `stormglass sweep`, whose points share one book file",
                axis.key
            )));
        }
        let mut points = Vec::new();
        for (index, values) in sweep::grid(&axes).into_iter().enumerate() {
            let settings = sweep::settings_at(&axes, &values);
            let mut point_recipe = recipe.clone();
            point_recipe.settings.extend(settings.iter().cloned());
            let point = point_recipe.prepare(1)?;
            points.push((
                sweep::label_at(index, &axes, &values),
                settings,
                point.fingerprint()?,
            ));
        }
        points
    };
    let charts = if axes.is_empty() {
        charts
    } else {
        sweep::chosen_figures(
            "--chart",
            &prepared.scenario,
            &recipe.book_files(),
            &charts,
            prepared.options.seed,
        )?
    };
    let name = prepared.scenario.name.clone();
    let mut manifest = Manifest::new(&name, current_dir()?, recipe.clone(), axes, points, shards);
    manifest.charts = charts;
    Ok(manifest)
}

/// `--set KEY=VALUE` texts as settings.
pub fn parse_settings(texts: &[String]) -> Result<Vec<Setting>, TaskError> {
    settings::parse_all(texts).map_err(TaskError::Input)
}

/// Writes `manifest` into the plan folder `dir` and returns the manifest's
/// path; with `force`, a previous plan's parts go (they would not merge with
/// the new plan).
pub fn write_plan(dir: &Path, manifest: &Manifest, force: bool) -> Result<PathBuf, TaskError> {
    let manifest_path = dir.join(MANIFEST_FILE);
    if dir.exists() && !force {
        let empty = std::fs::read_dir(dir)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !empty {
            return Err(TaskError::Input(format!(
                "{}: exists; choose another --out, or pass --force to replace the plan there",
                dir.display()
            )));
        }
    }
    if force {
        let parts = dir.join("parts");
        if let Ok(entries) = std::fs::read_dir(&parts) {
            for entry in entries.flatten() {
                let path = entry.path();
                if part::starts_as_part(&path) {
                    std::fs::remove_file(&path)
                        .map_err(|e| TaskError::Io(format!("{}: {e}", path.display())))?;
                }
            }
        }
    }
    std::fs::create_dir_all(dir.join("parts"))
        .map_err(|e| TaskError::Io(format!("{}: {e}", dir.display())))?;
    output::write_file_atomically(&manifest_path, manifest.to_json().as_bytes(), true)?;
    Ok(manifest_path)
}
