//! Attribution: which mechanism of the model makes the tail.
//!
//! The scenario runs as it is (the *full* run), then once with each chosen
//! mechanism switched off ([`Scenario::switch_off`]), then once with all of
//! them off together; every run on the same seed and path count. Path `i` of
//! every run starts from the same random streams, and switching a mechanism
//! off moves no draw before the place it would act, so the runs are
//! common-random-number pairs: the difference `full - off` of a figure is
//! measured path by path, and its standard error comes from the per-path
//! differences ([`estimate`]), far below that of two independent runs
//! whenever the mechanism changes few paths.
//!
//! Memory: the full run's per-path columns that the figures read are kept
//! (a handful of `paths`-long vectors), each later run is compared with them
//! and dropped; the interaction remainder keeps one per-path vector per
//! figure.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::engine::{EngineError, RunOptions, Silent};
use crate::figures::paired::{self, Columns, Linearised, Statistic, Unit};
use crate::model::Model;
use crate::portfolio::{Book, BookFiles};
use crate::scenario::settings::{self, Setting};
use crate::scenario::{Mechanism, Scenario, ScenarioError};

pub use crate::figures::paired::DRAWDOWN_LEVELS;

/// The label of the row of every mechanism off together.
pub const ALL: &str = "all";
/// The label of the interaction remainder's row: `all - Σ one at a time`.
pub const INTERACTION: &str = "interaction";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttributeError {
    /// `--mechanisms` names no mechanism of the model.
    #[error("--mechanisms: {0}")]
    UnknownMechanism(String),
    /// A mechanism the scenario does not have switched on.
    #[error("--mechanisms: scenario `{scenario}` does not have the mechanism `{mechanism}` switched on (it has: {present})")]
    Absent {
        scenario: String,
        mechanism: String,
        present: String,
    },
    /// Nothing to switch off.
    #[error("scenario `{scenario}` has no mechanism switched on: nothing to attribute (mechanisms: {known})")]
    NoMechanisms { scenario: String, known: String },
    /// A `--set` that does not parse.
    #[error("--set {0}")]
    Setting(String),
    #[error("--paths {0}: an attribution needs at least 2 paths for its standard errors")]
    TooFewPaths(u64),
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl crate::UserFixable for AttributeError {
    /// Whether the user can fix it in the input.
    fn is_user_fixable(&self) -> bool {
        match self {
            AttributeError::Engine(e) => e.is_user_fixable(),
            _ => true,
        }
    }
}

/// The mechanisms named (`None`: every one the scenario has), checked
/// against the scenario: an unknown name gets the nearest valid one, a
/// mechanism the scenario lacks the list of those it has. Repeats count once;
/// the order is [`Mechanism::ALL`]'s.
pub fn choose_mechanisms(
    scenario: &Scenario,
    named: Option<&[String]>,
) -> Result<Vec<Mechanism>, AttributeError> {
    let present = scenario.mechanisms_present();
    let listed = |ms: &[Mechanism]| {
        if ms.is_empty() {
            "none".to_string()
        } else {
            ms.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")
        }
    };
    let chosen = match named {
        None | Some([]) => present.clone(),
        Some(names) => {
            let valid: Vec<String> = Mechanism::names().into_iter().map(String::from).collect();
            let mut chosen = Vec::new();
            for name in names {
                let name = name.trim();
                let m = Mechanism::from_name(name).ok_or_else(|| {
                    AttributeError::UnknownMechanism(crate::scenario::load::unknown_name(
                        "mechanism",
                        name,
                        &valid,
                    ))
                })?;
                if !present.contains(&m) {
                    return Err(AttributeError::Absent {
                        scenario: scenario.name.clone(),
                        mechanism: name.to_string(),
                        present: listed(&present),
                    });
                }
                if !chosen.contains(&m) {
                    chosen.push(m);
                }
            }
            chosen.sort();
            chosen
        }
    };
    if chosen.is_empty() {
        return Err(AttributeError::NoMechanisms {
            scenario: scenario.name.clone(),
            known: Mechanism::names().join(", "),
        });
    }
    Ok(chosen)
}

/// An attribution ready to run: the scenario file loaded, `--set` applied,
/// the mechanisms chosen and the portfolios read.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The file as loaded, before `--set`.
    pub base: Scenario,
    /// With `--set` applied: the full run's scenario.
    pub scenario: Scenario,
    pub path: PathBuf,
    pub settings: Vec<Setting>,
    pub mechanisms: Vec<Mechanism>,
    pub book: Book,
}

impl Setup {
    /// Loads `path` (from the `levels` file, if any), applies `settings` (`KEY=VALUE` texts), checks
    /// `mechanisms` (none: every one the scenario has) and reads the
    /// `portfolios` files (only these: the scenario's own are left out, so
    /// that an attribution without `--portfolio` runs no valuation).
    pub fn new(
        path: &Path,
        levels: Option<&Path>,
        settings: &[String],
        mechanisms: &[String],
        portfolios: &[PathBuf],
    ) -> Result<Setup, AttributeError> {
        let base = crate::scenario::load_at(path, levels)?;
        let set = settings
            .iter()
            .map(|text| Setting::parse(text).map_err(AttributeError::Setting))
            .collect::<Result<Vec<_>, _>>()?;
        let scenario = if set.is_empty() {
            base.clone()
        } else {
            settings::apply(&base, path, &set)?
        };
        let mechanisms = choose_mechanisms(&scenario, Some(mechanisms))?;
        let files = BookFiles {
            portfolios: portfolios.to_vec(),
            skip_scenario: true,
            ..BookFiles::default()
        };
        let book = crate::portfolio::load(&scenario, &Model::new(&scenario), &files)?;
        Ok(Setup {
            base,
            scenario,
            path: path.to_path_buf(),
            settings: set,
            mechanisms,
            book,
        })
    }

    /// The options of a run of `paths` and `seed` (the scenario's where
    /// `None`).
    pub fn options(
        &self,
        paths: Option<u64>,
        seed: Option<u64>,
        threads: usize,
    ) -> AttributeOptions {
        AttributeOptions {
            paths: paths.unwrap_or(self.scenario.paths),
            seed: seed.unwrap_or(self.scenario.seed),
            threads,
        }
    }

    /// Runs it ([`run`]).
    pub fn run(
        &self,
        options: AttributeOptions,
        progress: &dyn Fn(usize, usize),
    ) -> Result<Attribution, AttributeError> {
        run(
            &self.scenario,
            &self.base,
            &self.path,
            &self.settings,
            &self.mechanisms,
            &self.book,
            options,
            progress,
        )
    }
}

/// How every run runs.
#[derive(Debug, Clone, Copy)]
pub struct AttributeOptions {
    pub paths: u64,
    pub seed: u64,
    pub threads: usize,
}

/// A mechanism as the outputs describe it.
#[derive(Debug, Clone, Serialize)]
pub struct MechanismInfo {
    pub name: String,
    pub description: String,
}

/// A figure as the outputs describe it.
#[derive(Debug, Clone, Serialize)]
pub struct FigureInfo {
    pub name: String,
    pub label: String,
    pub unit: Unit,
    pub key: bool,
    /// Its value in the full run.
    pub full: f64,
}

/// One mechanism's (or all together's, or the interaction's) effect on one
/// figure.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Effect {
    /// The figure with the mechanism off (NaN for the interaction).
    pub off: f64,
    /// `full - off`: what the mechanism adds to the figure.
    pub difference: f64,
    /// From the per-path differences (common random numbers).
    pub se: f64,
    /// The standard error the same difference would have from two
    /// independent runs of as many paths (NaN for the interaction).
    pub independent_se: f64,
}

impl Effect {
    /// `difference / se` (NaN where the standard error is zero).
    pub fn z(&self) -> f64 {
        if self.se > 0.0 {
            self.difference / self.se
        } else {
            f64::NAN
        }
    }
}

/// A row of effects: every figure with one mechanism off.
#[derive(Debug, Clone, Serialize)]
pub struct Switched {
    /// A mechanism's name, [`ALL`] or [`INTERACTION`].
    pub mechanism: String,
    /// In the order of [`Attribution::figures`].
    pub effects: Vec<Effect>,
    /// Simulating and comparing (0 for the interaction).
    pub seconds: f64,
}

/// A finished attribution.
#[derive(Debug, Clone, Serialize)]
pub struct Attribution {
    pub version: &'static str,
    pub scenario_name: String,
    pub scenario_file: String,
    /// The scenario's hash before any `--set`.
    pub scenario_hash: String,
    /// The start date, and the user's levels file's hash if the run starts from one.
    pub as_of: String,
    pub levels_sha256: Option<String>,
    pub seed: u64,
    pub paths: u64,
    pub settings: Vec<String>,
    /// The portfolios compared, by name.
    pub portfolios: Vec<String>,
    pub mechanisms: Vec<MechanismInfo>,
    pub figures: Vec<FigureInfo>,
    /// One per mechanism in [`Attribution::mechanisms`]' order, then
    /// [`ALL`], then [`INTERACTION`].
    pub rows: Vec<Switched>,
    /// The full run's simulation alone.
    pub full_seconds: f64,
    pub seconds: f64,
}

/// The paired difference `full - off` of `statistic` between two runs whose
/// path `i` shares its random streams (`full[i]` and `off[i]` are path `i`'s
/// per-path values), with its standard error from the per-path differences
/// of the influence values ([`estimate`]); also returns those differences.
pub fn paired(statistic: Statistic, full: &[f64], off: &[f64]) -> (Effect, Vec<f64>) {
    let (measured, differences) = paired::paired_difference(statistic, full, off);
    let effect = Effect {
        off: measured.second.value,
        difference: measured.difference,
        se: measured.se,
        independent_se: measured.independent_se,
    };
    (effect, differences)
}

/// Runs the attribution of `scenario` (loaded from `path`, before `set`,
/// which `scenario` already has applied) over `mechanisms`, with `book`'s
/// portfolios valued in every run; `progress(done, total)` after each run.
#[allow(clippy::too_many_arguments)]
pub fn run(
    scenario: &Scenario,
    base: &Scenario,
    path: &Path,
    set: &[Setting],
    mechanisms: &[Mechanism],
    book: &Book,
    options: AttributeOptions,
    progress: &dyn Fn(usize, usize),
) -> Result<Attribution, AttributeError> {
    if options.paths < 2 {
        return Err(AttributeError::TooFewPaths(options.paths));
    }
    let started = Instant::now();
    let specs = paired::attribution_figures(scenario, book);
    let total = mechanisms.len() + 2;
    let run_options = RunOptions {
        paths: options.paths,
        seed: options.seed,
        threads: options.threads,
        sample_paths: 0,
    };
    let simulate = |scenario: &Scenario| -> Result<Columns, AttributeError> {
        let model = Model::new(scenario);
        let simulation = crate::portfolio::simulate(scenario, &model, book, &run_options, &Silent)?;
        Ok(Columns::of(&specs, &simulation))
    };

    let full_started = Instant::now();
    // The full run's columns the figures read (a handful, each `paths`
    // long), held while every other run is compared with them.
    let full_columns = simulate(scenario)?;
    let full: Vec<f64> = specs
        .iter()
        .map(|f| Linearised::new(f.statistic, &f.value.values(&full_columns)).value)
        .collect();
    let full_seconds = full_started.elapsed().as_secs_f64();
    progress(1, total);

    let n = options.paths as usize;
    // Per figure and path: the all-off difference's influence minus the
    // one-at-a-time ones', whose mean is the interaction remainder's error.
    let mut remainder: Vec<Vec<f64>> = vec![vec![0.0; n]; specs.len()];
    let mut rows = Vec::new();
    let runs: Vec<(String, Vec<Mechanism>)> = mechanisms
        .iter()
        .map(|m| (m.name().to_string(), vec![*m]))
        .chain(std::iter::once((ALL.to_string(), mechanisms.to_vec())))
        .collect();
    for (done, (label, off)) in runs.into_iter().enumerate() {
        let run_started = Instant::now();
        let mut switched = scenario.clone();
        for m in &off {
            switched.switch_off(*m);
        }
        let columns = simulate(&switched)?;
        let sign = if label == ALL { 1.0 } else { -1.0 };
        let mut effects = Vec::with_capacity(specs.len());
        for (f, spec) in specs.iter().enumerate() {
            let off_values = spec.value.values(&columns);
            let full_values = spec.value.values(&full_columns);
            let (effect, differences) = paired(spec.statistic, &full_values, &off_values);
            for (r, d) in remainder[f].iter_mut().zip(&differences) {
                *r += sign * d;
            }
            effects.push(effect);
        }
        rows.push(Switched {
            mechanism: label,
            effects,
            seconds: run_started.elapsed().as_secs_f64(),
        });
        progress(done + 2, total);
    }
    let interaction = (0..specs.len())
        .map(|f| {
            let one_at_a_time: f64 = rows[..mechanisms.len()]
                .iter()
                .map(|r| r.effects[f].difference)
                .sum();
            Effect {
                off: f64::NAN,
                difference: rows[mechanisms.len()].effects[f].difference - one_at_a_time,
                se: paired::standard_error(&remainder[f]),
                independent_se: f64::NAN,
            }
        })
        .collect();
    rows.push(Switched {
        mechanism: INTERACTION.to_string(),
        effects: interaction,
        seconds: 0.0,
    });
    Ok(Attribution {
        version: crate::VERSION,
        scenario_name: base.name.clone(),
        scenario_file: path.display().to_string(),
        scenario_hash: base.hash.clone(),
        as_of: base.dates[0].to_string(),
        levels_sha256: base.levels.as_ref().map(|l| l.sha256.clone()),
        seed: options.seed,
        paths: options.paths,
        settings: set
            .iter()
            .map(|s| format!("{}={}", s.key, s.value))
            .collect(),
        portfolios: book.portfolios.iter().map(|p| p.name.clone()).collect(),
        mechanisms: mechanisms
            .iter()
            .map(|m| MechanismInfo {
                name: m.name().to_string(),
                description: m.description().to_string(),
            })
            .collect(),
        figures: specs
            .iter()
            .zip(&full)
            .map(|(s, value)| FigureInfo {
                name: s.name.clone(),
                label: s.label.clone(),
                unit: s.unit,
                key: s.key,
                full: *value,
            })
            .collect(),
        rows,
        full_seconds,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A number for the CSV and JSON: rounded to 12 significant digits, so a
/// difference such as `0.07195 - 0.0651` reads `0.00685`, not
/// `0.006849999999999995`.
pub fn rounded(v: f64) -> f64 {
    if v.is_finite() {
        format!("{v:.11e}").parse().unwrap_or(v)
    } else {
        v
    }
}

/// The columns of `attribution.csv` and of the Python table.
pub const CSV_COLUMNS: [&str; 9] = [
    "mechanism",
    "figure",
    "unit",
    "full",
    "off",
    "difference",
    "se",
    "z",
    "independent_se",
];

impl Attribution {
    /// The position of figure `name`.
    pub fn figure_index(&self, name: &str) -> Option<usize> {
        self.figures.iter().position(|f| f.name == name)
    }

    /// The row of `mechanism` (a name, [`ALL`] or [`INTERACTION`]).
    pub fn row(&self, mechanism: &str) -> Option<&Switched> {
        self.rows.iter().find(|r| r.mechanism == mechanism)
    }

    /// The effect of `mechanism` on figure `figure`, by names.
    pub fn effect(&self, mechanism: &str, figure: &str) -> Option<Effect> {
        let f = self.figure_index(figure)?;
        Some(self.row(mechanism)?.effects[f])
    }

    /// `attribution.csv`: a row per mechanism (then `all`, then
    /// `interaction`) and figure, with [`CSV_COLUMNS`].
    pub fn csv(&self) -> String {
        let mut out = CSV_COLUMNS.join(",");
        out.push('\n');
        let number = |v: f64| {
            if v.is_finite() {
                format!("{}", rounded(v))
            } else {
                String::new()
            }
        };
        for row in &self.rows {
            for (figure, e) in self.figures.iter().zip(&row.effects) {
                out.push_str(&format!(
                    "{},{},{},{},{},{},{},{},{}\n",
                    row.mechanism,
                    figure.name,
                    figure.unit.name(),
                    number(figure.full),
                    number(e.off),
                    number(e.difference),
                    number(e.se),
                    number(e.z()),
                    number(e.independent_se),
                ));
            }
        }
        out
    }

    /// `attribution.json`: the rows of the CSV with the provenance.
    pub fn json(&self) -> String {
        #[derive(Serialize)]
        struct JsonRow<'a> {
            mechanism: &'a str,
            figure: &'a str,
            unit: paired::Unit,
            full: Option<f64>,
            off: Option<f64>,
            difference: Option<f64>,
            se: Option<f64>,
            z: Option<f64>,
            independent_se: Option<f64>,
        }
        #[derive(Serialize)]
        struct JsonAttribution<'a> {
            version: &'a str,
            scenario: indexmap::IndexMap<&'a str, &'a str>,
            seed: u64,
            paths: u64,
            settings: &'a [String],
            portfolios: &'a [String],
            mechanisms: &'a [MechanismInfo],
            figures: Vec<JsonFigure<'a>>,
            estimator: &'a str,
            full_seconds: f64,
            seconds: f64,
            rows: Vec<JsonRow<'a>>,
        }
        #[derive(Serialize)]
        struct JsonFigure<'a> {
            name: &'a str,
            label: &'a str,
            unit: paired::Unit,
            key: bool,
            full: Option<f64>,
        }
        let finite = |v: f64| v.is_finite().then(|| rounded(v));
        let record = JsonAttribution {
            version: self.version,
            scenario: [
                ("name", self.scenario_name.as_str()),
                ("file", self.scenario_file.as_str()),
                ("hash", self.scenario_hash.as_str()),
                ("as_of", self.as_of.as_str()),
            ]
            .into_iter()
            .chain(
                self.levels_sha256
                    .as_deref()
                    .map(|sha| ("levels_sha256", sha)),
            )
            .collect(),
            seed: self.seed,
            paths: self.paths,
            settings: &self.settings,
            portfolios: &self.portfolios,
            mechanisms: &self.mechanisms,
            figures: self
                .figures
                .iter()
                .map(|f| JsonFigure {
                    name: &f.name,
                    label: &f.label,
                    unit: f.unit,
                    key: f.key,
                    full: finite(f.full),
                })
                .collect(),
            estimator: ESTIMATOR,
            full_seconds: self.full_seconds,
            seconds: self.seconds,
            rows: self
                .rows
                .iter()
                .flat_map(|row| {
                    self.figures
                        .iter()
                        .zip(&row.effects)
                        .map(move |(f, e)| JsonRow {
                            mechanism: &row.mechanism,
                            figure: &f.name,
                            unit: f.unit,
                            full: finite(f.full),
                            off: finite(e.off),
                            difference: finite(e.difference),
                            se: finite(e.se),
                            z: finite(e.z()),
                            independent_se: finite(e.independent_se),
                        })
                })
                .collect(),
        };
        serde_json::to_string_pretty(&record).expect("an attribution serialises") + "\n"
    }
}

/// What the outputs say about how the standard errors are estimated.
pub const ESTIMATOR: &str = "paired difference full - off over the same paths (common random numbers); se = sd of the per-path differences of influence values / sqrt(paths): for a mean or probability the value itself, for a quantile or VaR s (p - 1{x <= q}) with the sparsity s from the order statistics, for ES VaR + (loss - VaR)+ / (1 - a) - ES (delta method)";
