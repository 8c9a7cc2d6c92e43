//! One point of a plan whose tasks have run, read for views without merging
//! it: each part's rows are read in turn and only the columns a computation
//! names are kept, the parts laid end to end with their row ranges, so the
//! views are solved with per-part sums
//! ([`super::entropy_pool_parts_with_confidence`]) and the run's whole table,
//! nor its simulation, is ever built.

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::table::PathTable;
use crate::figures::KeyNumbers;
use crate::run::Prepared;
use crate::scenario::load::unknown_name;
use crate::stats::MetricLayout;
use crate::tasks::manifest::Point;
use crate::tasks::{self, part::RunShape, Manifest, PartSet, TaskError};

/// A plan's point, its parts present, of this plan and of the run its
/// recipe builds.
pub struct PlanPoint {
    pub manifest_path: PathBuf,
    pub manifest: Manifest,
    pub point: Point,
    pub parts: PartSet,
    pub prepared: Prepared,
    layout: MetricLayout,
}

impl PlanPoint {
    /// The point named `point` (its label; may be left out when the plan has
    /// one point) of the plan at `manifest_path` (absolute, its manifest
    /// `manifest` of hash `sha`). Refused as `stormglass merge` refuses
    /// them: a task not run, a part of another task or plan, a damaged part,
    /// a scenario changed since. The recipe's files are read from the
    /// current folder: enter `manifest.directory` first.
    pub fn open(
        manifest: Manifest,
        sha: &str,
        manifest_path: &Path,
        point: Option<&str>,
    ) -> Result<PlanPoint, TaskError> {
        let labels: Vec<String> = manifest.points.iter().map(|p| p.label.clone()).collect();
        let chosen = match point {
            Some(name) => manifest
                .points
                .iter()
                .find(|p| p.label == name)
                .ok_or_else(|| {
                    TaskError::Input(format!(
                        "{}: {}",
                        manifest_path.display(),
                        unknown_name("point of the plan", name, &labels)
                    ))
                })?,
            None => match manifest.points.as_slice() {
                [one] => one,
                _ => {
                    return Err(TaskError::Input(format!(
                        "{}: the plan sweeps {} points; views apply to one run: choose its point with --point NAME (`point=` in Python), one of {}",
                        manifest_path.display(),
                        labels.len(),
                        labels.join(", ")
                    )))
                }
            },
        }
        .clone();
        let parts = tasks::point_parts(&manifest, sha, manifest_path, chosen.index)?;
        let prepared = tasks::prepare_parts(&parts, 1)?;
        let layout = tasks::run_layout(&prepared);
        parts
            .check_shape(&layout, &RunShape::of(&prepared))
            .map_err(|e| tasks::task_part_error(&manifest, manifest_path, e))?;
        Ok(PlanPoint {
            manifest_path: manifest_path.to_path_buf(),
            manifest,
            point: chosen,
            parts,
            prepared,
            layout,
        })
    }

    /// Every per-path column of the point's run, in its order.
    pub fn columns(&self) -> &[String] {
        &self.layout.names
    }

    /// The run's paths.
    pub fn paths(&self) -> u64 {
        self.parts.header().paths
    }

    /// The columns the run's key numbers read ([`KeyNumbers::columns_of`]).
    pub fn key_columns(&self) -> Vec<String> {
        KeyNumbers::columns_of(&self.prepared.scenario.report)
    }

    /// The `wanted` columns (each among [`PlanPoint::columns`]) of every
    /// path, every path equally likely, read part by part; and each part's
    /// rows in the table.
    pub fn load(&self, wanted: &[String]) -> Result<(PathTable, Vec<Range<usize>>), TaskError> {
        let indices: Vec<usize> = wanted
            .iter()
            .map(|name| {
                self.layout.column(name).ok_or_else(|| {
                    TaskError::Input(unknown_name("per-path column", name, &self.layout.names))
                })
            })
            .collect::<Result<_, _>>()?;
        let read = self
            .parts
            .read_columns(&self.layout, &RunShape::of(&self.prepared), &indices)
            .map_err(|e| tasks::task_part_error(&self.manifest, &self.manifest_path, e))?;
        let mut table = PathTable::new(self.layout.names.clone(), self.paths() as usize);
        for (name, values) in wanted.iter().zip(read.columns) {
            table.insert(name, values);
        }
        Ok((table, read.rows))
    }

    /// The run's key numbers, from `table` (which holds
    /// [`PlanPoint::key_columns`] that the run has).
    pub fn key_numbers(&self, table: &PathTable) -> KeyNumbers {
        KeyNumbers::of_columns(
            &self.prepared.scenario.report,
            &self.prepared.model,
            self.paths(),
            |name| table.column(name).ok().map(<[f64]>::to_vec),
        )
    }
}
