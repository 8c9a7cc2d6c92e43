//! Fitting scenario keys to target figures by simulated moments.
//!
//! The chosen keys ("free" keys) are varied, inside the intervals the
//! scenario's own validation accepts, until the run's figures match the
//! targets in weighted least squares:
//!
//! ```text
//! objective(x) = sum_i weight_i * ((achieved_i(x) - target_i) / scale_i)^2
//! ```
//!
//! A one-sided target (`at_least` or `at_most` instead of `value`) counts
//! only its violation, `min(0, achieved - bound)` or `max(0, achieved -
//! bound)`: a figure the fit must not push past a limit (a record low).
//!
//! A target may carry its own `standard_error` (a figure estimated from
//! history is uncertain too): it adds to the simulated one in quadrature,
//! `scale_i = sqrt(se_sim^2 + se_target^2)`, so a target history knows only
//! roughly pulls the fit only as hard as history can say.
//!
//! `scale_i` is the figure's standard error at the starting point over the
//! pilot's paths, held fixed for the whole fit so that the objective's only
//! dependence on `x` is through the simulated figures; the objective is then
//! a sum of squared z-scores, and a weight of 1 (the default) counts every
//! target by its own precision.
//!
//! Every trial runs the same seed and path count (common random numbers): the
//! objective is a deterministic function of `x`, continuous wherever each
//! path's figures are (percentiles, means; a probability is a count of paths
//! and moves in steps). Nelder-Mead from `argmin` searches a transformed,
//! unbounded space (logistic map for two-sided intervals, exponential for
//! one-sided ones), so no trial leaves the valid intervals. A final run at the
//! full path count reports the achieved figures with their standard errors.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use argmin::core::{CostFunction, Executor, State};
use argmin::solver::neldermead::NelderMead;
use serde::{Deserialize, Serialize};

use crate::engine::{self, RunOptions, Silent};
use crate::figures::catalogue::{
    measure_all, names_a_portfolio, realism_name, unknown_figure, Catalogue, Figure, Measured,
};
use crate::history::{self, Realism, Standing};
use crate::model::Model;
use crate::output::{self, OutputError};
use crate::portfolio::{self, BookFiles};
use crate::scenario::load::{nearest, unknown_name};
use crate::scenario::settings::{self, Setting};
use crate::scenario::{self, KeyRange, Scenario, ScenarioError};

/// Paths of the probe run that lists the realism figures a scenario has.
const PROBE_PATHS: u64 = 64;

/// A trial value validation refuses (a combination of keys that no single
/// range forbids) costs this much: Nelder-Mead only compares costs, so any
/// value above every feasible one steers it back.
const INFEASIBLE: f64 = 1e100;

/// The transformed coordinate is held within this: logistic(30) is 1 - 1e-13,
/// so a trial stays strictly inside an open interval.
const MAX_COORDINATE: f64 = 30.0;

/// A fitted value this close to a bound (relative to the interval's width, or
/// to the start's distance from a one-sided bound) sits on it.
const AT_BOUND: f64 = 1e-6;

/// A target's weight lies in `[MIN_WEIGHT, MAX_WEIGHT]`: a million to one
/// between two targets is more than any fit needs, and within it a weighted
/// sum of squared z-scores cannot overflow (docs/TARGETS.md).
pub const MIN_WEIGHT: f64 = 1e-6;
pub const MAX_WEIGHT: f64 = 1e6;

/// A target missed by more than this many standard errors is missed.
const MISSED_Z: f64 = 2.0;

/// Nelder-Mead stops when the costs of the simplex's vertices have a standard
/// deviation below this (squared z-scores).
const SD_TOLERANCE: f64 = 1e-8;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TargetsError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Read(#[from] crate::input::InputError),
    /// Problems of the targets file, each `file:line: message`.
    #[error("{}", .0.join("\nerror: "))]
    Targets(Vec<String>),
    #[error("{0}")]
    Free(String),
    #[error("the scenario at its starting values does not run: {0}")]
    Start(String),
    #[error(transparent)]
    Engine(#[from] engine::EngineError),
    #[error("{0}")]
    Unreachable(String),
    #[error("the optimiser failed: {0}")]
    Optimiser(String),
}

impl crate::UserFixable for TargetsError {
    /// Whether the user fixes this by changing the inputs.
    fn is_user_fixable(&self) -> bool {
        match self {
            TargetsError::Engine(e) => e.is_user_fixable(),
            TargetsError::Optimiser(_) => false,
            _ => true,
        }
    }
}

/// Whether a target is a value to meet or a bound to respect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Equal,
    AtLeast,
    AtMost,
}

impl TargetKind {
    /// How far `achieved` misses `value`: signed, 0 when a bound holds.
    pub fn miss(self, achieved: f64, value: f64) -> f64 {
        let difference = achieved - value;
        match self {
            TargetKind::Equal => difference,
            TargetKind::AtLeast => difference.min(0.0),
            TargetKind::AtMost => difference.max(0.0),
        }
    }

    /// `= v`, `>= v` or `<= v`, for tables and messages.
    pub fn shown(self, value: f64) -> String {
        match self {
            TargetKind::Equal => format!("= {value}"),
            TargetKind::AtLeast => format!(">= {value}"),
            TargetKind::AtMost => format!("<= {value}"),
        }
    }
}

impl Target {
    /// The scale of a miss: the simulated standard error and the target's own
    /// in quadrature.
    pub fn scale(&self, simulated: f64) -> f64 {
        simulated.hypot(self.standard_error)
    }
}

/// One target as the file gives it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    pub figure: String,
    /// The value, or the bound of a one-sided target.
    pub value: f64,
    pub kind: TargetKind,
    pub weight: f64,
    /// The target's own standard error (0 for a value known exactly).
    pub standard_error: f64,
    /// Whether the value (and, unless the file gives one, the standard error)
    /// is history's: the realism figure's anchor, scaled to the run's horizon
    /// as the realism section scales it. Filled in by [`Fit::new`].
    pub from_history: bool,
    /// The line of its `[[target]]` table.
    pub line: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    target: Vec<toml::Spanned<RawTarget>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    figure: Option<String>,
    value: Option<f64>,
    at_least: Option<f64>,
    at_most: Option<f64>,
    from_history: Option<bool>,
    weight: Option<f64>,
    standard_error: Option<f64>,
}

/// Reads a targets file: `[[target]]` tables of `figure`, `value` and an
/// optional `weight` (default 1). Figures are checked against a scenario later.
pub fn read_targets(path: &Path) -> Result<Vec<Target>, TargetsError> {
    let text = crate::input::read_text(path, crate::input::Kind::Targets)?;
    parse_targets(&text, path)
}

/// [`read_targets`] of text held in memory; `path` names it in messages.
pub fn parse_targets(text: &str, path: &Path) -> Result<Vec<Target>, TargetsError> {
    let file = path.display();
    let raw: RawFile = toml::from_str(text)
        .map_err(|e| TargetsError::Targets(vec![format!("{file}: {}", e.to_string().trim())]))?;
    let mut problems = Vec::new();
    let mut targets = Vec::new();
    for spanned in &raw.target {
        let line = text[..spanned.span().start].matches('\n').count() + 1;
        let raw = spanned.get_ref();
        let at = |message: String| format!("{file}:{line}: {message}");
        let Some(figure) = raw.figure.clone() else {
            problems.push(at("[[target]] needs `figure`".into()));
            continue;
        };
        let given = [
            (raw.value, TargetKind::Equal),
            (raw.at_least, TargetKind::AtLeast),
            (raw.at_most, TargetKind::AtMost),
        ];
        let mut given: Vec<(f64, TargetKind)> = given
            .iter()
            .filter_map(|(v, k)| v.map(|v| (v, *k)))
            .collect();
        let from_history = raw.from_history == Some(true);
        if from_history {
            if !figure.starts_with("realism.") {
                problems.push(at(format!(
                    "target `{figure}`: from_history belongs to realism figures \
                     (`realism.ASSET.LABEL`), whose anchors give history's value"
                )));
                continue;
            }
            // Filled in from the anchor once the scenario's run names it.
            given.push((0.0, TargetKind::Equal));
        }
        let [(value, kind)] = given[..] else {
            problems.push(at(if given.is_empty() {
                format!(
                    "target `{figure}` needs `value` (or a bound, `at_least` or `at_most`, \
                     or `from_history = true`)"
                )
            } else {
                format!(
                    "target `{figure}` needs exactly one of `value`, `at_least`, `at_most` \
                     and `from_history = true`"
                )
            }));
            continue;
        };
        if !value.is_finite() {
            problems.push(at(format!("target `{figure}`: value must be finite")));
            continue;
        }
        let weight = raw.weight.unwrap_or(1.0);
        if !(MIN_WEIGHT..=MAX_WEIGHT).contains(&weight) {
            let shown = if weight == 0.0 || (1e-4..1e9).contains(&weight.abs()) {
                weight.to_string()
            } else {
                format!("{weight:e}")
            };
            problems.push(at(format!(
                "target `{figure}`: weight {shown} is out of range; valid: {MIN_WEIGHT:e} to {MAX_WEIGHT:e} (a weight multiplies the target's squared z-score; 1 counts it by its own precision)"
            )));
            continue;
        }
        let standard_error = raw.standard_error.unwrap_or(0.0);
        if !(standard_error >= 0.0 && standard_error.is_finite()) {
            problems.push(at(format!(
                "target `{figure}`: standard_error {standard_error} must be at least 0 and finite"
            )));
            continue;
        }
        targets.push(Target {
            figure,
            value,
            kind,
            weight,
            standard_error: if from_history {
                raw.standard_error.unwrap_or(f64::NAN)
            } else {
                standard_error
            },
            from_history,
            line,
        });
    }
    if raw.target.is_empty() {
        problems.push(format!("{file}: no [[target]] tables"));
    }
    if problems.is_empty() {
        Ok(targets)
    } else {
        Err(TargetsError::Targets(problems))
    }
}

/// How a free key's valid interval maps onto the whole real line.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Map {
    /// `low + (high - low) logistic(u)`.
    Interval {
        low: f64,
        high: f64,
    },
    /// `low + scale e^u`, `scale` the start's distance from `low`.
    Above {
        low: f64,
        scale: f64,
    },
    /// `high - scale e^u`.
    Below {
        high: f64,
        scale: f64,
    },
    Line,
}

impl Map {
    fn new(range: &KeyRange, start: f64) -> Map {
        let floor = |d: f64| d.max(1e-3 * range.low.abs().max(range.high.abs()).clamp(1e-3, 1.0));
        match (range.low.is_finite(), range.high.is_finite()) {
            (true, true) => Map::Interval {
                low: range.low,
                high: range.high,
            },
            (true, false) => Map::Above {
                low: range.low,
                scale: floor(start - range.low),
            },
            (false, true) => Map::Below {
                high: range.high,
                scale: floor(range.high - start),
            },
            (false, false) => Map::Line,
        }
    }

    fn value(self, u: f64) -> f64 {
        let u = u.clamp(-MAX_COORDINATE, MAX_COORDINATE);
        match self {
            Map::Interval { low, high } => low + (high - low) / (1.0 + (-u).exp()),
            Map::Above { low, scale } => low + scale * u.exp(),
            Map::Below { high, scale } => high - scale * u.exp(),
            Map::Line => u,
        }
    }

    fn coordinate(self, x: f64) -> f64 {
        let u = match self {
            Map::Interval { low, high } => {
                let f = ((x - low) / (high - low)).clamp(1e-9, 1.0 - 1e-9);
                (f / (1.0 - f)).ln()
            }
            Map::Above { low, scale } => ((x - low).max(scale * 1e-9) / scale).ln(),
            Map::Below { high, scale } => ((high - x).max(scale * 1e-9) / scale).ln(),
            Map::Line => x,
        };
        u.clamp(-MAX_COORDINATE, MAX_COORDINATE)
    }

    /// The bound `x` sits on, if any.
    fn bound_hit(self, x: f64) -> Option<(&'static str, f64)> {
        match self {
            Map::Interval { low, high } => {
                let tolerance = AT_BOUND * (high - low);
                if x - low <= tolerance {
                    Some(("lower", low))
                } else if high - x <= tolerance {
                    Some(("upper", high))
                } else {
                    None
                }
            }
            Map::Above { low, scale } => (x - low <= AT_BOUND * scale).then_some(("lower", low)),
            Map::Below { high, scale } => (high - x <= AT_BOUND * scale).then_some(("upper", high)),
            Map::Line => None,
        }
    }
}

/// One free key: its interval, start and map.
#[derive(Debug, Clone)]
struct Free {
    range: KeyRange,
    start: f64,
    map: Map,
}

/// How to fit.
#[derive(Debug, Clone)]
pub struct Options {
    /// Key paths to vary.
    pub free: Vec<String>,
    /// `--set` settings every trial has (and the fitted child keeps).
    pub settings: Vec<Setting>,
    /// Paths of every trial of the fit.
    pub pilot_paths: u64,
    /// Paths of the final run at the fitted values.
    pub paths: u64,
    pub seed: u64,
    pub threads: usize,
    /// Nelder-Mead iterations at most.
    pub max_iterations: u64,
    /// Iterations of a second Nelder-Mead on the full paths from the pilot's
    /// fit (0: none). The pilot's 1,000 paths match the targets in their own
    /// sample; on the full paths the same values miss by about the pilot's
    /// sampling error, which the second stage removes at the full paths' cost.
    pub refine_iterations: u64,
    /// Portfolio files valued besides the scenario's own, when a target
    /// names a portfolio's figure.
    pub portfolios: Vec<PathBuf>,
}

/// A fit set up: the scenario, its free keys and resolved targets.
pub struct Fit {
    base: Scenario,
    path: PathBuf,
    targets_path: PathBuf,
    free: Vec<Free>,
    targets: Vec<Target>,
    figures: Vec<Figure>,
    options: Options,
    /// The portfolios every trial values.
    books: BookFiles,
    /// Each target's standard error at the start over the pilot's paths.
    scales: Vec<f64>,
    trials: AtomicU64,
}

/// Why a scenario key cannot be fitted, with the nearest numeric key.
fn free_key_problem(key: &str, base: &Scenario) -> String {
    let numeric: Vec<String> = base.ranges.iter().map(|r| r.key.clone()).collect();
    if settings::known_keys(base).iter().any(|k| k == key) {
        let hint = nearest(key, &numeric)
            .map(|n| format!("; did you mean `{n}`?"))
            .unwrap_or_default();
        format!("--free `{key}`: not a numeric key with a valid range{hint}")
    } else {
        format!("--free {}", unknown_name("key", key, &numeric))
    }
}

impl Fit {
    /// Loads the scenario at `path`, checks the free keys and resolves the
    /// targets' figures (an unknown one is reported with its line and the
    /// nearest valid name), then measures the start on the pilot's paths.
    pub fn new(
        path: &Path,
        targets_path: &Path,
        targets: Vec<Target>,
        options: Options,
    ) -> Result<Fit, TargetsError> {
        let base = scenario::load(path)?;
        // Free keys start from the values the scenario has with --set applied; a
        // key --set fixes cannot also be free.
        let start_scenario = if options.settings.is_empty() {
            base.clone()
        } else {
            settings::apply(&base, path, &options.settings)?
        };
        if options.free.is_empty() {
            return Err(TargetsError::Free("--free: give at least one key".into()));
        }
        let mut free = Vec::new();
        let mut problems = Vec::new();
        for key in &options.free {
            let key = match settings::normalize_key(key) {
                Ok(k) => k,
                Err(e) => {
                    problems.push(format!("--free {e}"));
                    continue;
                }
            };
            if free.iter().any(|f: &Free| f.range.key == key) {
                problems.push(format!("--free `{key}`: given twice"));
                continue;
            }
            if options.settings.iter().any(|s| s.key == key) {
                problems.push(format!(
                    "--free `{key}`: also given to --set; a key is either set or fitted"
                ));
                continue;
            }
            match start_scenario.range_of(&key) {
                Some(range) => free.push(Free {
                    range: range.clone(),
                    start: range.value,
                    map: Map::new(range, range.value),
                }),
                None => problems.push(free_key_problem(&key, &base)),
            }
        }
        if !problems.is_empty() {
            return Err(TargetsError::Free(problems.join("\nerror: ")));
        }
        let model = Model::new(&start_scenario);
        // The portfolios (the scenario's and --portfolio's) are valued in
        // every trial only when a target is one of their figures: they cost
        // every trial time.
        let target_names: Vec<String> = targets.iter().map(|t| t.figure.clone()).collect();
        let books = if names_a_portfolio(&target_names) {
            BookFiles {
                portfolios: options.portfolios.clone(),
                ..BookFiles::default()
            }
        } else {
            BookFiles {
                skip_scenario: true,
                ..BookFiles::default()
            }
        };
        let book = portfolio::load(&start_scenario, &model, &books)?;
        let probe = engine::simulate(
            &model,
            &run_options(&options, PROBE_PATHS.min(options.pilot_paths)),
            &Silent,
        )?;
        let realism = Realism::new(history::builtin(), &model, &probe);
        let catalogue = Catalogue::new(&start_scenario, &model, &realism, &book);
        let mut figures = Vec::new();
        let mut problems = Vec::new();
        for target in &targets {
            match catalogue.resolve(&target.figure, &start_scenario, &model) {
                Some(f) => figures.push(f),
                None => problems.push(format!(
                    "{}:{}: {}",
                    targets_path.display(),
                    target.line,
                    unknown_figure(&target.figure, &catalogue.names)
                )),
            }
        }
        if !problems.is_empty() {
            return Err(TargetsError::Targets(problems));
        }
        let mut targets = targets;
        for target in targets.iter_mut().filter(|t| t.from_history) {
            let anchor = realism
                .figures
                .iter()
                .find(|f| realism_name(f) == target.figure)
                .expect("resolved above");
            if anchor.standing == Standing::NotComparable {
                return Err(TargetsError::Targets(vec![format!(
                    "{}:{}: target `{}`: history's figure is not comparable at this \
                     scenario's horizon ({:.2} years), so it has no value to fit to",
                    targets_path.display(),
                    target.line,
                    target.figure,
                    realism.horizon_years
                )]));
            }
            target.value = anchor.history;
            // The band is history's figure +- 2 of its (bootstrap) standard errors.
            if target.standard_error.is_nan() {
                target.standard_error = (anchor.high - anchor.low) / 4.0;
            }
        }
        let mut fit = Fit {
            base,
            path: path.to_path_buf(),
            targets_path: targets_path.to_path_buf(),
            free,
            targets,
            figures,
            options,
            books,
            scales: Vec::new(),
            trials: AtomicU64::new(0),
        };
        let start = fit.start();
        // A key validation checks but the file cannot set (a parameter of
        // another process) fails here, before any fitting.
        if let Err(e) = fit.scenario_at(&start) {
            return Err(TargetsError::Free(format!(
                "--free: the scenario does not accept {} set in a child file: {e}",
                fit.free
                    .iter()
                    .map(|f| format!("`{}`", f.range.key))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let measured = fit
            .measure(&start, fit.options.pilot_paths)
            .map_err(|e| TargetsError::Start(e.to_string()))?;
        fit.scales = measured
            .iter()
            .zip(&fit.targets)
            .map(|(m, t)| {
                let floor = 1e-9 * t.value.abs().max(1e-3);
                let simulated = if m.se.is_finite() { m.se } else { 0.0 };
                t.scale(simulated).max(floor)
            })
            .collect();
        for (m, t) in measured.iter().zip(&fit.targets) {
            if !m.value.is_finite() {
                return Err(TargetsError::Targets(vec![format!(
                    "{}:{}: figure `{}` has no value in this scenario's run (no path has it)",
                    fit.targets_path.display(),
                    t.line,
                    t.figure
                )]));
            }
        }
        Ok(fit)
    }

    /// The targets, history's values filled in.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// The free keys' values in the scenario as loaded.
    pub fn start(&self) -> Vec<f64> {
        self.free.iter().map(|f| f.start).collect()
    }

    /// The scenario with the free keys at `values`, validated as a child file.
    pub fn scenario_at(&self, values: &[f64]) -> Result<Scenario, TargetsError> {
        let settings = self.settings(values)?;
        Ok(settings::apply(&self.base, &self.path, &settings)?)
    }

    fn settings(&self, values: &[f64]) -> Result<Vec<Setting>, TargetsError> {
        let mut settings = self.options.settings.clone();
        for (f, v) in self.free.iter().zip(values) {
            settings.push(Setting::number(&f.range.key, *v).map_err(TargetsError::Free)?);
        }
        Ok(settings)
    }

    /// The targets' figures with the free keys at `values`, on `paths` paths
    /// of the fit's seed.
    pub fn measure(&self, values: &[f64], paths: u64) -> Result<Vec<Measured>, TargetsError> {
        self.trials.fetch_add(1, Ordering::Relaxed);
        let scenario = self.scenario_at(values)?;
        let model = Model::new(&scenario);
        let book = portfolio::load(&scenario, &model, &self.books)?;
        let simulation = portfolio::simulate(
            &scenario,
            &model,
            &book,
            &run_options(&self.options, paths),
            &Silent,
        )?;
        Ok(measure_all(
            &self.figures,
            &scenario,
            &model,
            &simulation,
            None,
        ))
    }

    /// The objective at `values`, on the pilot's paths.
    pub fn objective(&self, values: &[f64]) -> Result<f64, TargetsError> {
        let measured = self.measure(values, self.options.pilot_paths)?;
        Ok(self.cost_of(&measured, &self.scales))
    }

    fn cost_of(&self, measured: &[Measured], scales: &[f64]) -> f64 {
        measured
            .iter()
            .zip(&self.targets)
            .zip(scales)
            .map(|((m, t), s)| {
                let z = t.kind.miss(m.value, t.value) / s;
                // A miss of many orders of magnitude is as bad as a refused
                // trial, and keeps the sum finite.
                let term = t.weight * z * z;
                if term.is_finite() {
                    term.min(INFEASIBLE)
                } else {
                    INFEASIBLE
                }
            })
            .sum()
    }

    /// Fits, runs the fitted scenario on the full paths and reports; a target
    /// missed with a free key on its bound is [`TargetsError::Unreachable`].
    pub fn run(&self) -> Result<Calibration, TargetsError> {
        let started = Instant::now();
        let u0: Vec<f64> = self
            .free
            .iter()
            .map(|f| f.map.coordinate(f.start))
            .collect();
        // A step of 0.5 in the transformed space: an eighth of a two-sided
        // interval at its middle, a factor e^0.5 from a one-sided bound.
        let pilot = self.search(
            u0,
            0.5,
            self.options.pilot_paths,
            &self.scales,
            self.options.max_iterations,
        )?;
        let pilot_trials = self.trials.load(Ordering::Relaxed);
        let mut best = pilot.clone();
        let mut refine = None;
        if self.options.refine_iterations > 0 && self.options.paths != self.options.pilot_paths {
            let values = self.values_at(&pilot.u);
            // Scaled by the full paths' own standard errors at the pilot's fit.
            let scales: Vec<f64> = self
                .measure(&values, self.options.paths)?
                .iter()
                .zip(&self.scales)
                .zip(&self.targets)
                .map(|((m, pilot_scale), t)| {
                    if m.se > 0.0 {
                        t.scale(m.se)
                    } else {
                        *pilot_scale
                    }
                })
                .collect();
            // A small first simplex: the pilot's fit is within its sampling
            // error of the full paths' one.
            let refined = self.search(
                pilot.u.clone(),
                0.05,
                self.options.paths,
                &scales,
                self.options.refine_iterations,
            )?;
            refine = Some(Refinement {
                iterations: refined.iterations,
                converged: refined.converged,
                objective: refined.objective,
                trials: self.trials.load(Ordering::Relaxed) - pilot_trials,
            });
            best = refined;
        }
        let fitted = self.values_at(&best.u);
        let (objective, iterations, converged) =
            (pilot.objective, pilot.iterations, pilot.converged);
        let trials = pilot_trials;
        let fit_seconds = started.elapsed().as_secs_f64();
        let final_started = Instant::now();
        let measured = self.measure(&fitted, self.options.paths)?;
        let final_seconds = final_started.elapsed().as_secs_f64();
        let targets: Vec<TargetResult> = self
            .targets
            .iter()
            .zip(&measured)
            .map(|(t, m)| TargetResult {
                figure: t.figure.clone(),
                target: t.value,
                kind: t.kind,
                weight: t.weight,
                achieved: m.value,
                standard_error: m.se,
                target_standard_error: t.standard_error,
                from_history: t.from_history,
                z: match t.kind.miss(m.value, t.value) {
                    // A target met exactly, or a bound that holds, is met
                    // whatever the error (0 too).
                    0.0 => 0.0,
                    miss => miss / t.scale(m.se),
                },
                note: None,
            })
            .map(TargetResult::noted)
            .collect();
        let keys: Vec<KeyResult> = self
            .free
            .iter()
            .zip(&fitted)
            .map(|(f, x)| KeyResult {
                key: f.range.key.clone(),
                start: f.start,
                fitted: *x,
                low: f.range.low,
                high: f.range.high,
                bounds_note: match (f.range.low.is_finite(), f.range.high.is_finite()) {
                    (true, true) => None,
                    (false, true) => Some("no lower bound: low is null".into()),
                    (true, false) => Some("no upper bound: high is null".into()),
                    (false, false) => Some("no bound on either side: low and high are null".into()),
                },
                at_bound: f.map.bound_hit(*x).map(|(side, _)| side.to_string()),
            })
            .collect();
        let calibration = Calibration {
            engine: "stormglass",
            version: crate::VERSION,
            scenario: self.path.display().to_string(),
            scenario_hash: self.base.hash.clone(),
            targets_file: self.targets_path.display().to_string(),
            targets_sha256: crate::input::read_bytes(
                &self.targets_path,
                crate::input::Kind::Targets,
            )
            .map(|bytes| {
                use sha2::{Digest, Sha256};
                format!("{:x}", Sha256::digest(&bytes))
            })
            .unwrap_or_default(),
            seed: self.options.seed,
            pilot_paths: self.options.pilot_paths,
            paths: self.options.paths,
            iterations,
            converged,
            objective,
            trials,
            refine,
            fit_seconds,
            final_seconds,
            keys,
            targets,
        };
        calibration.check_reachable()?;
        Ok(calibration)
    }

    /// The text of `fitted.toml` for a file written into `dir`: a child of
    /// the input scenario with the fitted values.
    pub fn fitted_text(
        &self,
        calibration: &Calibration,
        dir: &Path,
    ) -> Result<String, TargetsError> {
        let values: Vec<f64> = calibration.keys.iter().map(|k| k.fitted).collect();
        let settings = self.settings(&values)?;
        let header = format!(
            "# Fitted by stormglass {}:\n\
             #   stormglass calibrate targets {} --targets {} --free {} \\\n\
             #     --pilot-paths {} --paths {} --seed {}{}{}\n\
             # Targets against achieved: targets.csv and calibration.json beside this file.\n\n",
            crate::VERSION,
            file_name(&self.path),
            file_name(&self.targets_path),
            calibration
                .keys
                .iter()
                .map(|k| k.key.as_str())
                .collect::<Vec<_>>()
                .join(","),
            calibration.pilot_paths,
            calibration.paths,
            calibration.seed,
            self.options
                .settings
                .iter()
                .map(|s| format!(" --set {}={}", s.key, s.value))
                .collect::<String>(),
            if calibration.refine.is_some() {
                format!(" --refine-iterations {}", self.options.refine_iterations)
            } else {
                String::new()
            },
        );
        Ok(settings::child_text(&self.path, dir, &settings, &header))
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn run_options(options: &Options, paths: u64) -> RunOptions {
    RunOptions {
        paths,
        seed: options.seed,
        threads: options.threads,
        sample_paths: 0,
    }
}

/// Where one Nelder-Mead search ended.
#[derive(Debug, Clone)]
struct Searched {
    u: Vec<f64>,
    objective: f64,
    iterations: u64,
    converged: bool,
}

impl Fit {
    fn values_at(&self, u: &[f64]) -> Vec<f64> {
        self.free
            .iter()
            .zip(u)
            .map(|(f, u)| f.map.value(*u))
            .collect()
    }

    /// Nelder-Mead from `u0` on `paths` paths, the first simplex `step` away
    /// along each coordinate, toward the middle so that a start near a bound
    /// is not pushed onto it.
    fn search(
        &self,
        u0: Vec<f64>,
        step: f64,
        paths: u64,
        scales: &[f64],
        iterations: u64,
    ) -> Result<Searched, TargetsError> {
        let mut simplex = vec![u0.clone()];
        for i in 0..u0.len() {
            let mut vertex = u0.clone();
            vertex[i] += if vertex[i] > 0.0 { -step } else { step };
            simplex.push(vertex);
        }
        let solver = NelderMead::new(simplex)
            .with_sd_tolerance(SD_TOLERANCE)
            .map_err(|e| TargetsError::Optimiser(e.to_string()))?;
        let problem = Problem {
            fit: self,
            paths,
            scales,
        };
        let result = Executor::new(problem, solver)
            .configure(|state| state.max_iters(iterations))
            .run()
            .map_err(|e| TargetsError::Optimiser(e.to_string()))?;
        let state = result.state();
        let u = state
            .get_best_param()
            .cloned()
            .ok_or_else(|| TargetsError::Optimiser("no point evaluated".into()))?;
        Ok(Searched {
            u,
            objective: state.get_best_cost(),
            iterations: state.get_iter(),
            converged: state
                .get_termination_reason()
                .is_some_and(|r| matches!(r, argmin::core::TerminationReason::SolverConverged)),
        })
    }
}

/// The objective in the transformed coordinates, for argmin.
struct Problem<'a> {
    fit: &'a Fit,
    paths: u64,
    scales: &'a [f64],
}

impl CostFunction for Problem<'_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, u: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        let values = self.fit.values_at(u);
        match self.fit.measure(&values, self.paths) {
            Ok(measured) => Ok(self.fit.cost_of(&measured, self.scales)),
            // Validation refusing a combination of values is a region to avoid;
            // the engine failing is not.
            Err(TargetsError::Scenario(_)) => Ok(INFEASIBLE),
            Err(e) => Err(argmin::core::Error::msg(e.to_string())),
        }
    }
}

/// One target after the fit, on the final run's paths.
#[derive(Debug, Clone, Serialize)]
pub struct TargetResult {
    pub figure: String,
    pub target: f64,
    pub kind: TargetKind,
    pub weight: f64,
    #[serde(serialize_with = "finite_or_null")]
    pub achieved: f64,
    /// The achieved figure's, from the final run's paths.
    #[serde(serialize_with = "finite_or_null")]
    pub standard_error: f64,
    /// The target's own, from its file (0 unless given), or history's.
    pub target_standard_error: f64,
    /// Whether the target and its standard error are history's anchor's.
    pub from_history: bool,
    /// The miss over both standard errors in quadrature: `(achieved -
    /// target) / sqrt(se^2 + target_se^2)`, or a one-sided target's
    /// violation (0 when it holds).
    #[serde(serialize_with = "finite_or_null")]
    pub z: f64,
    /// Why `achieved`, `standard_error` or `z` is null, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A number as JSON, or null where it is not finite: every null comes with
/// a note that says why.
pub fn finite_or_null<S: serde::Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    if value.is_finite() {
        serializer.serialize_f64(*value)
    } else {
        serializer.serialize_none()
    }
}

/// `value` as a CSV cell: empty where it is not finite.
fn cell(value: f64) -> String {
    if value.is_finite() {
        value.to_string()
    } else {
        String::new()
    }
}

impl TargetResult {
    /// Says why a figure of the final run has no finite value, where one has none.
    fn noted(mut self) -> TargetResult {
        let why = if !self.achieved.is_finite() {
            Some("no path of the final run has this figure, so neither its standard error nor z exists")
        } else if !self.standard_error.is_finite() {
            Some("the standard error needs at least two paths where the figure is measured (an expected shortfall's tail holds one): raise --paths")
        } else if !self.z.is_finite() {
            Some("the achieved figure misses the target with a standard error of 0 (every path gives the same value, as in a regime never entered) and the target has none: no z-score measures the miss; give the target a standard_error")
        } else {
            None
        };
        self.note = why.map(String::from);
        self
    }
}

/// One free key after the fit.
#[derive(Debug, Clone, Serialize)]
pub struct KeyResult {
    pub key: String,
    pub start: f64,
    pub fitted: f64,
    /// The valid interval's ends; null where the key has no bound on that
    /// side (`bounds_note` says so).
    #[serde(serialize_with = "finite_or_null")]
    pub low: f64,
    #[serde(serialize_with = "finite_or_null")]
    pub high: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bounds_note: Option<String>,
    /// `lower` or `upper` when the fitted value sits on that bound.
    pub at_bound: Option<String>,
}

/// The second search, on the full paths.
#[derive(Debug, Clone, Serialize)]
pub struct Refinement {
    pub iterations: u64,
    pub converged: bool,
    /// On the full paths, scaled by their standard errors at the pilot's fit.
    pub objective: f64,
    /// Runs of the full paths, the one scaling the objective included.
    pub trials: u64,
}

/// What a fit found: `calibration.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    pub engine: &'static str,
    pub version: &'static str,
    pub scenario: String,
    /// SHA-256 of the resolved input scenario.
    pub scenario_hash: String,
    pub targets_file: String,
    /// SHA-256 of the targets file's bytes.
    pub targets_sha256: String,
    pub seed: u64,
    pub pilot_paths: u64,
    pub paths: u64,
    pub iterations: u64,
    /// Whether Nelder-Mead stopped on its tolerance (not on the iteration cap).
    pub converged: bool,
    /// The objective at the fitted values, on the pilot's paths.
    pub objective: f64,
    /// Pilot runs of the fit, the one at the starting values included (not the final run).
    pub trials: u64,
    /// The second search, on the full paths (`Options::refine_iterations`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refine: Option<Refinement>,
    pub fit_seconds: f64,
    pub final_seconds: f64,
    pub keys: Vec<KeyResult>,
    pub targets: Vec<TargetResult>,
}

impl Calibration {
    /// The targets missed by more than [`MISSED_Z`] standard errors.
    pub fn missed(&self) -> Vec<&TargetResult> {
        self.targets
            .iter()
            .filter(|t| t.z.is_nan() || t.z.abs() > MISSED_Z)
            .collect()
    }

    /// A miss with a free key on its bound: no value inside the bounds
    /// reaches the target.
    fn check_reachable(&self) -> Result<(), TargetsError> {
        let missed = self.missed();
        let on_bounds: Vec<String> = self
            .keys
            .iter()
            .filter_map(|k| {
                let side = k.at_bound.as_deref()?;
                let bound = if side == "lower" { k.low } else { k.high };
                Some(format!("`{}` at its {side} bound {bound}", k.key))
            })
            .collect();
        if missed.is_empty() || on_bounds.is_empty() {
            return Ok(());
        }
        let lines: Vec<String> = missed
            .iter()
            .map(|t| {
                format!(
                    "target `{}` {} cannot be reached within the bounds: achieved {:.6} (standard error {:.2e}, z {:.1})",
                    t.figure, t.kind.shown(t.target), t.achieved, t.standard_error, t.z
                )
            })
            .collect();
        Err(TargetsError::Unreachable(format!(
            "{}; the fit stopped with {}",
            lines.join("; "),
            on_bounds.join(", ")
        )))
    }

    /// `targets.csv`: one row a target.
    pub fn targets_csv(&self) -> String {
        let mut text = String::from(
            "figure,kind,target,target_standard_error,achieved,standard_error,z,weight,note\n",
        );
        for t in &self.targets {
            text.push_str(&format!(
                "{},{},{},{},{},{},{},{},{}\n",
                t.figure,
                serde_json::to_value(t.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default(),
                t.target,
                t.target_standard_error,
                cell(t.achieved),
                cell(t.standard_error),
                cell(t.z),
                t.weight,
                t.note
                    .as_deref()
                    .map(|n| format!("\"{}\"", n.replace('"', "\"\"")))
                    .unwrap_or_default()
            ));
        }
        text
    }

    /// The console table: targets against achieved, then the keys.
    pub fn print(&self, out: &mut impl Write) -> io::Result<()> {
        let width = self
            .targets
            .iter()
            .map(|t| t.figure.len())
            .chain(self.keys.iter().map(|k| k.key.len()))
            .max()
            .unwrap_or(6)
            .max(6);
        writeln!(
            out,
            "{:<width$} {:>12} {:>12} {:>10} {:>7}",
            "figure", "target", "achieved", "std err", "z"
        )?;
        for t in &self.targets {
            let target = match t.kind {
                TargetKind::Equal => format!("{:.6}", t.target),
                TargetKind::AtLeast => format!(">= {:.6}", t.target),
                TargetKind::AtMost => format!("<= {:.6}", t.target),
            };
            let shown = |v: f64, text: String| if v.is_finite() { text } else { "n/a".into() };
            writeln!(
                out,
                "{:<width$} {:>12} {:>12} {:>10} {:>7}",
                t.figure,
                target,
                shown(t.achieved, format!("{:.6}", t.achieved)),
                shown(t.standard_error, format!("{:.2e}", t.standard_error)),
                shown(t.z, format!("{:.2}", t.z))
            )?;
            if let Some(note) = &t.note {
                writeln!(out, "  ({}: {note})", t.figure)?;
            }
        }
        writeln!(out)?;
        writeln!(
            out,
            "{:<width$} {:>12} {:>12}  valid",
            "key", "start", "fitted"
        )?;
        for k in &self.keys {
            writeln!(
                out,
                "{:<width$} {:>12.6} {:>12.6}  [{}, {}]{}",
                k.key,
                k.start,
                k.fitted,
                k.low,
                k.high,
                k.at_bound
                    .as_ref()
                    .map_or(String::new(), |s| format!("  at its {s} bound"))
            )?;
        }
        writeln!(
            out,
            "\n{} iterations{}, {} runs of {} paths, objective {:.4}; fit {:.1}s, final run ({} paths) {:.1}s",
            self.iterations,
            if self.converged { "" } else { " (stopped at the cap)" },
            self.trials,
            self.pilot_paths,
            self.objective,
            self.fit_seconds,
            self.paths,
            self.final_seconds
        )?;
        if let Some(r) = &self.refine {
            writeln!(
                out,
                "refined on {} paths: {} iterations{}, {} runs, objective {:.4}",
                self.paths,
                r.iterations,
                if r.converged {
                    ""
                } else {
                    " (stopped at the cap)"
                },
                r.trials,
                r.objective
            )?;
        }
        Ok(())
    }
}

/// Writes `fitted.toml`, `targets.csv` and `calibration.json` into `dir`,
/// atomically, as a run writes its folder.
pub fn write(
    dir: &Path,
    fit: &Fit,
    calibration: &Calibration,
    force: bool,
) -> Result<(), OutputError> {
    output::write_atomically(dir, force, |staging| {
        let io = |path: PathBuf| move |source| OutputError::Io { path, source };
        let fitted =
            fit.fitted_text(calibration, &final_dir(dir))
                .map_err(|e| OutputError::Io {
                    path: dir.join("fitted.toml"),
                    source: io::Error::other(e.to_string()),
                })?;
        let json = serde_json::to_string_pretty(calibration).unwrap_or_default() + "\n";
        for (name, text) in [
            ("fitted.toml", fitted),
            ("targets.csv", calibration.targets_csv()),
            ("calibration.json", json),
        ] {
            let path = staging.join(name);
            std::fs::write(&path, text).map_err(io(path.clone()))?;
        }
        Ok(())
    })
}

/// Where `dir` will be once written, absolute (its parent exists by then).
fn final_dir(dir: &Path) -> PathBuf {
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match (std::fs::canonicalize(parent), dir.file_name()) {
        (Ok(parent), Some(leaf)) => parent.join(leaf),
        _ => dir.to_path_buf(),
    }
}
