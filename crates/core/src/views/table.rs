//! A finished run's per-path figures, column by column.

use indexmap::IndexMap;

use crate::engine::Simulation;
use crate::scenario::load::unknown_name;

/// A finished run's per-path figures (the columns of `paths_metrics`), of
/// which only those a computation names are held: a million paths of the
/// default's 250-odd figures would be 2 GB, a view needs a handful.
#[derive(Debug, Clone, Default)]
pub struct PathTable {
    /// Every per-path figure the run has, in its column order, for naming
    /// the nearest one when a user misspells a column.
    pub available: Vec<String>,
    /// The columns held, by name; each has one value per path (NaN where the
    /// run has no figure, as an empty CSV cell).
    pub columns: IndexMap<String, Vec<f64>>,
    /// Each path's prior probability, summing to one; `None` when every path
    /// is equally likely (a plain run).
    pub prior: Option<Vec<f64>>,
    paths: usize,
}

/// A column the run does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct UnknownColumn {
    pub name: String,
    pub message: String,
}

impl PathTable {
    /// An empty table of `paths` rows with the given column names available.
    pub fn new(available: Vec<String>, paths: usize) -> PathTable {
        PathTable {
            available,
            columns: IndexMap::new(),
            prior: None,
            paths,
        }
    }

    /// The named columns of a simulation still in memory (every column when
    /// `wanted` is `None`); a tilted run's paths weighted by their likelihood
    /// ratios, normalised.
    pub fn from_simulation(
        simulation: &Simulation,
        wanted: Option<&[&str]>,
    ) -> Result<PathTable, UnknownColumn> {
        let names = simulation.layout.names.clone();
        let mut table = PathTable::new(names.clone(), simulation.paths as usize);
        let wanted: Vec<&str> = match wanted {
            Some(wanted) => wanted.to_vec(),
            None => names.iter().map(String::as_str).collect(),
        };
        for name in wanted {
            let values = simulation
                .column(name)
                .ok_or_else(|| table.unknown(name))?
                .collect();
            table.insert(name, values);
        }
        if let Some(ratios) = simulation.column(crate::stats::LIKELIHOOD_RATIO) {
            let ratios: Vec<f64> = ratios.collect();
            let total: f64 = ratios.iter().sum();
            table.prior = Some(ratios.iter().map(|r| r / total).collect());
        }
        Ok(table)
    }

    /// Paths (rows).
    pub fn paths(&self) -> usize {
        self.paths
    }

    /// Adds a column; a loader's step. `values` must have one value per path.
    pub fn insert(&mut self, name: &str, values: Vec<f64>) {
        assert_eq!(
            values.len(),
            self.paths,
            "column `{name}`: one value per path"
        );
        self.columns.insert(name.to_string(), values);
    }

    /// Whether the run has a column of that name (held or not).
    pub fn has(&self, name: &str) -> bool {
        self.available.iter().any(|n| n == name)
    }

    /// A held column's values, or the error naming the nearest column the run has.
    pub fn column(&self, name: &str) -> Result<&[f64], UnknownColumn> {
        self.columns
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| self.unknown(name))
    }

    /// The error for a column the run lacks, with the nearest it has.
    pub fn unknown(&self, name: &str) -> UnknownColumn {
        UnknownColumn {
            name: name.to_string(),
            message: unknown_name("per-path column", name, &self.available),
        }
    }

    /// Path `p`'s prior probability.
    pub fn prior_of(&self, p: usize) -> f64 {
        match &self.prior {
            Some(prior) => prior[p],
            None => 1.0 / self.paths as f64,
        }
    }
}
