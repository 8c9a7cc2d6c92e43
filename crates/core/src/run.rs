//! The one entry point of a run, for the command, Python and the tasks alike:
//! a [`Recipe`] (the files and flags that make it, which shards and plans
//! record as its provenance) is [`Recipe::prepare`]d (every file loaded and
//! checked), then [`Prepared::simulate`]d and [`Prepared::summarise`]d.
//! [`run_scenario`] and [`run_with_portfolios`] do the same for a scenario
//! already in memory.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::{self, EngineError, Progress, RunOptions, Simulation};
use crate::history::Anchors;
use crate::model::Model;
use crate::output;
use crate::portfolio::{self, Book, BookFiles, PortfolioTracker};
use crate::scenario::{self, Diagnostic, Scenario, ScenarioError};
use crate::Summary;

/// The most full paths a run keeps (as `scenario.sample_paths`).
pub const MAX_SAMPLE_PATHS: usize = 100_000;

/// Input that cannot make a run; the message names the file, key or flag.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct RecipeError {
    pub message: String,
    /// Each problem's file, line and key, where a scenario or book file has them.
    pub diagnostics: Vec<Diagnostic>,
}

impl RecipeError {
    pub fn new(message: impl Into<String>) -> RecipeError {
        RecipeError {
            message: message.into(),
            diagnostics: Vec::new(),
        }
    }
}

impl From<ScenarioError> for RecipeError {
    fn from(error: ScenarioError) -> RecipeError {
        RecipeError {
            message: error.to_string(),
            diagnostics: error.diagnostics().to_vec(),
        }
    }
}

/// Everything that decides a run's numbers, as given on the command line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Recipe {
    pub scenario: PathBuf,
    /// `KEY=VALUE` settings, applied in order as a child file would.
    #[serde(default)]
    pub settings: Vec<String>,
    /// Overrides `scenario.paths`.
    pub paths: Option<u64>,
    /// Overrides `scenario.seed`.
    pub seed: Option<u64>,
    /// Overrides `scenario.sample_paths`.
    pub sample_paths: Option<usize>,
    #[serde(default)]
    pub portfolios: Vec<PathBuf>,
    #[serde(default)]
    pub stresses: Vec<PathBuf>,
    #[serde(default)]
    pub no_portfolios: bool,
    /// History anchors other than the built-in ones.
    pub anchors: Option<PathBuf>,
    /// The user's starting levels and their date (`--levels`).
    #[serde(default)]
    pub levels: Option<PathBuf>,
    /// Draws the paths under this tilt, each carrying its likelihood ratio
    /// (`model::tilt`); absent for a plain run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tilt: Option<crate::model::Tilt>,
}

/// A recipe's files loaded and checked: ready to simulate and summarise.
pub struct Prepared {
    pub recipe: Recipe,
    pub scenario: Scenario,
    pub model: Model,
    pub book: Book,
    /// The recipe's own anchors, where it names a file.
    pub own_anchors: Option<Anchors>,
    pub options: RunOptions,
}

impl Recipe {
    /// The portfolio and stress files the run values.
    pub fn book_files(&self) -> BookFiles {
        BookFiles {
            portfolios: self.portfolios.clone(),
            stresses: self.stresses.clone(),
            skip_scenario: self.no_portfolios,
            settings: Vec::new(),
        }
    }

    /// Loads and checks every file, applies the settings and the overrides.
    pub fn prepare(&self, threads: usize) -> Result<Prepared, RecipeError> {
        let mut scenario = scenario::load_at(&self.scenario, self.levels.as_deref())?;
        let settings = scenario::settings::parse_all(&self.settings).map_err(RecipeError::new)?;
        if !settings.is_empty() {
            scenario = scenario::settings::apply(&scenario, &self.scenario, &settings)?;
        }
        let own_anchors = match &self.anchors {
            Some(file) => Some(crate::history::load(file).map_err(RecipeError::new)?),
            None => None,
        };
        if let Some(paths) = self.paths {
            if paths == 0 {
                return Err(RecipeError::new("--paths must be at least 1"));
            }
            scenario.paths = paths;
        }
        if let Some(seed) = self.seed {
            scenario.seed = seed;
        }
        if self.sample_paths.is_some_and(|n| n > MAX_SAMPLE_PATHS) {
            return Err(RecipeError::new(format!(
                "--sample-paths must be at most {MAX_SAMPLE_PATHS}"
            )));
        }
        let sample_paths = self
            .sample_paths
            .unwrap_or(scenario.sample_paths)
            .min(scenario.paths as usize);
        let options = RunOptions {
            paths: scenario.paths,
            seed: scenario.seed,
            threads,
            sample_paths,
        };
        let mut model = Model::new(&scenario);
        if let Some(tilt) = &self.tilt {
            model = model.tilted(tilt).map_err(RecipeError::new)?;
        }
        let book = portfolio::load(&scenario, &model, &self.book_files())?;
        Ok(Prepared {
            recipe: self.clone(),
            scenario,
            model,
            book,
            own_anchors,
            options,
        })
    }
}

/// A finished run: the simulation and its summary.
pub struct Run {
    pub simulation: Simulation,
    pub summary: Summary,
}

/// Builds the model, simulates and summarises `scenario` as it is.
pub fn run_scenario(
    scenario: &Scenario,
    options: &RunOptions,
    progress: &dyn Progress,
) -> Result<Run, EngineError> {
    run_with_portfolios(scenario, &Book::default(), options, progress)
}

/// Like [`run_scenario`], with every portfolio of `book` valued on every path and
/// summarised into `summary.portfolios`.
pub fn run_with_portfolios(
    scenario: &Scenario,
    book: &Book,
    options: &RunOptions,
    progress: &dyn Progress,
) -> Result<Run, EngineError> {
    let prepared = Prepared {
        recipe: Recipe::default(),
        scenario: scenario.clone(),
        model: Model::new(scenario),
        book: book.clone(),
        own_anchors: None,
        options: *options,
    };
    let simulation = prepared.simulate(progress)?;
    let summary = prepared.summarise(&simulation);
    Ok(Run {
        simulation,
        summary,
    })
}

impl Prepared {
    /// The tracker that values the book's portfolios on every path.
    pub fn tracker(&self) -> PortfolioTracker<'_> {
        PortfolioTracker::new(&self.scenario, &self.model, &self.book.portfolios)
    }

    /// Simulates every path, the book's portfolios (if any) valued on each.
    pub fn simulate(&self, progress: &dyn Progress) -> Result<Simulation, EngineError> {
        portfolio::simulate(
            &self.scenario,
            &self.model,
            &self.book,
            &self.options,
            progress,
        )
    }

    /// Refuses a run this machine cannot hold, before it starts.
    pub fn check_memory(&self) -> Result<(), EngineError> {
        engine::memory::check(
            &self.model,
            &self.options,
            self.tracker().columns_of().len(),
        )
    }

    /// The anchors the run is held against.
    pub fn anchors(&self) -> &Anchors {
        self.own_anchors
            .as_ref()
            .unwrap_or_else(|| crate::history::builtin())
    }

    /// The scenario's warnings against the run's anchors, then its portfolios'.
    pub fn warnings(&self) -> Vec<crate::history::Warning> {
        let mut warnings = crate::history::warnings(&self.scenario, self.anchors());
        warnings.extend(self.book.warnings().cloned());
        warnings
    }

    /// The run's summary, portfolios and realism included.
    pub fn summarise(&self, simulation: &Simulation) -> Summary {
        let mut summary = Summary::new(&self.scenario, &self.model, simulation);
        if let Some(anchors) = &self.own_anchors {
            summary.realism = crate::history::Realism::new(anchors, &self.model, simulation);
        }
        summary.warnings = self.warnings();
        summary.portfolios =
            portfolio::summarise(&self.scenario, &self.model, &self.book, simulation);
        summary.strategies = crate::figures::strategies::summarise(
            &self.scenario,
            &self.model,
            &self.book,
            simulation,
        );
        summary
    }

    /// What identifies the run's numbers: the engine's version, the scenario
    /// (its hash covers every file of its chain, settings applied), the paths,
    /// the seed, the samples, and the contents of every other file named.
    /// Two parts belong to one run exactly when their fingerprints agree.
    pub fn fingerprint(&self) -> Result<String, RecipeError> {
        let mut hasher = Sha256::new();
        let mut add = |label: &str, value: &str| {
            hasher.update(label.as_bytes());
            hasher.update([0]);
            hasher.update(value.as_bytes());
            hasher.update([0]);
        };
        add("version", crate::VERSION);
        add("scenario", &self.scenario.hash);
        for setting in &self.recipe.settings {
            add("set", setting);
        }
        add("paths", &self.options.paths.to_string());
        add("seed", &self.options.seed.to_string());
        add("sample_paths", &self.options.sample_paths.to_string());
        add("no_portfolios", &self.recipe.no_portfolios.to_string());
        if let Some(tilt) = self.model.tilt() {
            add("tilt", &serde_json::to_string(tilt).unwrap_or_default());
        }
        let named = if self.recipe.no_portfolios {
            (&[][..], &[][..])
        } else {
            (
                &self.scenario.portfolio_files[..],
                &self.scenario.stress_files[..],
            )
        };
        let files = named
            .0
            .iter()
            .chain(&self.recipe.portfolios)
            .map(|p| ("portfolio", p))
            .chain(
                named
                    .1
                    .iter()
                    .chain(&self.recipe.stresses)
                    .map(|p| ("stress", p)),
            )
            .chain(self.recipe.anchors.iter().map(|p| ("anchors", p)));
        for (label, path) in files {
            add(label, &file_hash(path)?);
        }
        Ok(format!("{:x}", hasher.finalize()))
    }
}

fn file_hash(path: &Path) -> Result<String, RecipeError> {
    output::sha256_of(path).map_err(|e| RecipeError::new(format!("{}: {e}", path.display())))
}
