//! Sweeps: one scenario run at every point of a grid of one or two of its
//! keys, every point on the same seed and path count (common random
//! numbers). Path `i` of every point starts from the same random streams, so
//! what differs between two points is what the keys change, not the draws:
//! the difference between neighbouring points carries far less noise than
//! the difference of two independent runs (crates/cli/tests/io/sweep.rs measures how much).
//!
//! A sweep measures every figure a targets file may name
//! ([`crate::figures::measure_every_figure`]) at every point, with
//! its standard error; every portfolio of the book (the scenario's own and
//! any `--portfolio` file) is valued at every point, loaded against that
//! point's scenario, so its figures are swept too.

pub mod sensitivity;

use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::engine::{EngineError, RunOptions, Silent, Simulation};
use crate::figures::catalogue::unknown_figure;
use crate::figures::{measure_every_figure, measure_named, Measured};
use crate::model::Model;
use crate::portfolio::{self, Book, BookFiles};
use crate::scenario::settings::{self, Setting};
use crate::scenario::{Scenario, ScenarioError};

/// Keys a sweep varies at most: a line, or a heat map.
pub const MAX_AXES: usize = 2;
/// Points of a sweep's grid at most.
pub const MAX_POINTS: usize = 10_000;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SweepError {
    /// A `--vary` or `--keys` the scenario cannot take.
    #[error("{0}")]
    Axis(String),
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl crate::UserFixable for SweepError {
    /// Whether the user can fix it in the input.
    fn is_user_fixable(&self) -> bool {
        match self {
            SweepError::Axis(_) | SweepError::Scenario(_) => true,
            SweepError::Engine(e) => e.is_user_fixable(),
        }
    }
}

/// A swept key and its values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Axis {
    /// The key path as a scenario file writes it.
    pub key: String,
    pub values: Vec<f64>,
    /// Every value was written as a whole number: it is set as a TOML
    /// integer, which integer keys (`max_firings`) require.
    pub integer: bool,
}

impl Axis {
    /// Parses `KEY=a:b:n` (`n` values evenly from `a` to `b`) or
    /// `KEY=v1,v2,...`.
    pub fn parse(text: &str) -> Result<Axis, String> {
        let setting = Setting::parse(text).map_err(|e| format!("--vary {e}"))?;
        let written = match &setting.value {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let key = setting.key;
        let problem = |what: String| format!("--vary `{text}`: {what}");
        let number = |s: &str| -> Result<f64, String> {
            let v: f64 = s.trim().parse().map_err(|_| {
                problem(format!(
                    "`{}` is not a number; give KEY=a:b:n (n values from a to b) or KEY=v1,v2,...",
                    s.trim()
                ))
            })?;
            if v.is_finite() {
                Ok(v)
            } else {
                Err(problem(format!("`{}` is not a finite number", s.trim())))
            }
        };
        let whole = |s: &str| s.trim().parse::<i64>().is_ok();
        let (values, integer) = if written.contains(':') {
            let parts: Vec<&str> = written.split(':').collect();
            let [a, b, n] = parts[..] else {
                return Err(problem("a range is a:b:n (from a to b in n values)".into()));
            };
            let count: usize = n
                .trim()
                .parse()
                .map_err(|_| problem(format!("`{}` is not a count of values", n.trim())))?;
            if !(2..=MAX_POINTS).contains(&count) {
                return Err(problem(format!(
                    "{count} values; a range has 2 to {MAX_POINTS}"
                )));
            }
            let (from, to) = (number(a)?, number(b)?);
            let values: Vec<f64> = (0..count)
                .map(|i| {
                    let v = from + (to - from) * i as f64 / (count - 1) as f64;
                    // 0.04:0.12:3 gives 0.08, not 0.07999999999999999.
                    format!("{v:.12e}").parse().unwrap_or(v)
                })
                .collect();
            let integer = whole(a) && whole(b) && values.iter().all(|v| v.fract() == 0.0);
            (values, integer)
        } else {
            let items: Vec<&str> = written.split(',').collect();
            let values = items
                .iter()
                .map(|s| number(s))
                .collect::<Result<Vec<f64>, String>>()?;
            (values, items.iter().all(|s| whole(s)))
        };
        for (i, v) in values.iter().enumerate() {
            if values[..i].contains(v) {
                return Err(problem(format!("the value {v} comes twice")));
            }
        }
        Ok(Axis {
            key,
            values,
            integer,
        })
    }

    /// Whether the axis sets a key of a portfolio (`portfolio.NAME.KEY`: a
    /// rule's threshold, a state's weight) rather than of the scenario.
    pub fn is_book_key(&self) -> bool {
        self.key.starts_with("portfolio.")
    }

    /// The value `value` as the key takes it.
    fn toml_value(&self, value: f64) -> toml::Value {
        if self.integer {
            toml::Value::Integer(value as i64)
        } else {
            toml::Value::Float(value)
        }
    }

    /// `KEY=VALUE` setting the key to `value`, as `--set` takes it.
    pub fn setting(&self, value: f64) -> String {
        if self.integer {
            format!("{}={}", self.key, value as i64)
        } else {
            format!("{}={value:?}", self.key)
        }
    }
}

/// Checks `axes` against the scenario (loaded from its file, before any
/// `--set`): at most [`MAX_AXES`], distinct, not also `--set`, numeric keys
/// with every value inside the key's valid range.
pub fn check_axes(base: &Scenario, axes: &[Axis], set: &[Setting]) -> Result<(), SweepError> {
    let fail = |m: String| Err(SweepError::Axis(m));
    if axes.is_empty() {
        return fail("--vary: give one or two keys to sweep (KEY=a:b:n or KEY=v1,v2,...)".into());
    }
    if axes.len() > MAX_AXES {
        return fail(format!(
            "--vary: {} keys; a sweep varies one or two",
            axes.len()
        ));
    }
    if axes.len() == 2 && axes[0].key == axes[1].key {
        return fail(format!("--vary `{}`: given twice", axes[0].key));
    }
    let points: usize = axes.iter().map(|a| a.values.len()).product();
    if points > MAX_POINTS {
        return fail(format!(
            "--vary: {points} points; a sweep has at most {MAX_POINTS}"
        ));
    }
    for axis in axes {
        if set.iter().any(|s| s.key == axis.key) {
            return fail(format!(
                "--vary `{}`: also given to --set; a key is either set or swept",
                axis.key
            ));
        }
        if axis.is_book_key() {
            // Checked when each point's book loads, against the portfolio's own ranges.
            continue;
        }
        let Some(range) = base.range_of(&axis.key) else {
            return fail(sensitivity::not_numeric(&axis.key, base, "--vary"));
        };
        for v in &axis.values {
            if *v < range.low || *v > range.high {
                return fail(format!(
                    "--vary `{}`: {v} is outside the key's valid range [{}, {}]",
                    axis.key, range.low, range.high
                ));
            }
        }
    }
    Ok(())
}

/// Every point of the grid, the first axis varying slowest.
pub fn grid(axes: &[Axis]) -> Vec<Vec<f64>> {
    let mut points = vec![Vec::new()];
    for axis in axes {
        points = points
            .into_iter()
            .flat_map(|p| {
                axis.values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.push(*v);
                    q
                })
            })
            .collect();
    }
    points
}

/// The scenario settings and the book (`books` with the portfolio keys set)
/// of the point at `values`.
fn point_at(axes: &[Axis], values: &[f64], books: &BookFiles) -> (Vec<String>, BookFiles) {
    let mut settings = Vec::new();
    let mut book = books.clone();
    for (axis, &value) in axes.iter().zip(values) {
        if axis.is_book_key() {
            book.settings.extend(portfolio::BookSetting::parse(
                &axis.key,
                axis.toml_value(value),
            ));
        } else {
            settings.push(axis.setting(value));
        }
    }
    (settings, book)
}

/// The settings of the point at `values`.
pub fn settings_at(axes: &[Axis], values: &[f64]) -> Vec<String> {
    axes.iter()
        .zip(values)
        .map(|(a, v)| a.setting(*v))
        .collect()
}

/// A name for point `index`'s folder: `p003_assets.spx.drift=0.05`.
pub fn label_at(index: usize, axes: &[Axis], values: &[f64]) -> String {
    let mut label = format!("p{index:03}");
    for setting in settings_at(axes, values) {
        label.push('_');
        label.extend(setting.chars().map(|c| {
            if c.is_ascii_alphanumeric() || "._=+-".contains(c) {
                c
            } else {
                '-'
            }
        }));
    }
    label
}

/// One point's figures.
#[derive(Debug, Clone, Serialize)]
pub struct PointResult {
    pub index: usize,
    pub label: String,
    /// The swept keys' values, in the axes' order.
    pub values: Vec<f64>,
    /// In the order of [`Sweep::figures`].
    pub figures: Vec<Measured>,
    /// Simulating and measuring the point.
    pub seconds: f64,
}

/// A finished sweep.
#[derive(Debug, Clone, Serialize)]
pub struct Sweep {
    pub version: &'static str,
    pub scenario_name: String,
    pub scenario_file: String,
    /// The scenario's hash before any setting (each point's own differs).
    pub scenario_hash: String,
    /// The start date, and the user's levels file's hash if the run starts from one.
    pub as_of: String,
    pub levels_sha256: Option<String>,
    pub seed: u64,
    pub paths: u64,
    /// `--set` settings every point has.
    pub settings: Vec<String>,
    pub axes: Vec<Axis>,
    /// Every figure's name, as a targets file names it.
    pub figures: Vec<String>,
    pub points: Vec<PointResult>,
    pub seconds: f64,
    /// How each asset's figures read, for the pages (not written: the
    /// scenario file says it).
    #[serde(skip)]
    pub assets: Vec<AssetReading>,
}

/// What a page needs to write an asset's figures in its units.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetReading {
    pub name: String,
    pub is_log: bool,
    pub unit: String,
    pub implied_vol: bool,
}

impl AssetReading {
    pub fn of(scenario: &Scenario) -> Vec<AssetReading> {
        scenario
            .assets
            .iter()
            .map(|a| AssetReading {
                name: a.name.clone(),
                is_log: a.process.is_log(),
                unit: a.unit.clone(),
                implied_vol: matches!(a.process, crate::scenario::ProcessKind::ImpliedVol),
            })
            .collect()
    }
}

impl Sweep {
    /// An empty sweep of `base` (loaded from `path`) over `axes`.
    pub fn new(
        base: &Scenario,
        path: &Path,
        settings: &[Setting],
        axes: &[Axis],
        seed: u64,
        paths: u64,
    ) -> Sweep {
        Sweep {
            version: crate::VERSION,
            scenario_name: base.name.clone(),
            scenario_file: path.display().to_string(),
            scenario_hash: base.hash.clone(),
            as_of: base.dates[0].to_string(),
            levels_sha256: base.levels.as_ref().map(|l| l.sha256.clone()),
            seed,
            paths,
            settings: settings
                .iter()
                .map(|s| format!("{}={}", s.key, s.value))
                .collect(),
            axes: axes.to_vec(),
            figures: Vec::new(),
            points: Vec::new(),
            seconds: 0.0,
            assets: AssetReading::of(base),
        }
    }

    /// Measures point `index` (at `values`) from its run, which valued
    /// `book`; the first point measured fixes the figures' names.
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        index: usize,
        values: Vec<f64>,
        scenario: &Scenario,
        model: &Model,
        book: &Book,
        simulation: &Simulation,
        seconds: f64,
    ) {
        let figures = if self.figures.is_empty() {
            let all = measure_every_figure(scenario, model, book, simulation);
            let (names, figures) = all.into_iter().unzip();
            self.figures = names;
            figures
        } else {
            measure_named(&self.figures, scenario, model, book, simulation)
        };
        self.points.push(PointResult {
            index,
            label: label_at(index, &self.axes, &values),
            values,
            figures,
            seconds,
        });
    }

    /// The position of figure `name`.
    pub fn figure_index(&self, name: &str) -> Option<usize> {
        self.figures.iter().position(|f| f == name)
    }

    /// `sweep.csv`: a row per point: its index, the swept keys' values, then
    /// every figure's value and standard error (`NAME`, `NAME.se`).
    pub fn csv(&self) -> String {
        let mut out = String::from("point");
        for axis in &self.axes {
            out.push(',');
            out.push_str(&axis.key);
        }
        for name in &self.figures {
            out.push_str(&format!(",{name},{name}.se"));
        }
        out.push('\n');
        let number = |v: f64| {
            if v.is_finite() {
                format!("{v}")
            } else {
                String::new()
            }
        };
        for point in &self.points {
            out.push_str(&point.index.to_string());
            for v in &point.values {
                out.push(',');
                out.push_str(&number(*v));
            }
            for m in &point.figures {
                out.push(',');
                out.push_str(&number(m.value));
                out.push(',');
                out.push_str(&number(m.se));
            }
            out.push('\n');
        }
        out
    }

    /// `sweep.json`: the record, each point's figures by name.
    pub fn json(&self) -> String {
        #[derive(Serialize)]
        struct JsonPoint<'a> {
            index: usize,
            label: &'a str,
            settings: indexmap::IndexMap<&'a str, f64>,
            seconds: f64,
            figures: indexmap::IndexMap<&'a str, Measured>,
        }
        #[derive(Serialize)]
        struct JsonSweep<'a> {
            version: &'a str,
            scenario: indexmap::IndexMap<&'a str, &'a str>,
            seed: u64,
            paths: u64,
            settings: &'a [String],
            axes: &'a [Axis],
            seconds: f64,
            points: Vec<JsonPoint<'a>>,
        }
        let record = JsonSweep {
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
            axes: &self.axes,
            seconds: self.seconds,
            points: self
                .points
                .iter()
                .map(|p| JsonPoint {
                    index: p.index,
                    label: &p.label,
                    settings: self
                        .axes
                        .iter()
                        .map(|a| a.key.as_str())
                        .zip(p.values.iter().copied())
                        .collect(),
                    seconds: p.seconds,
                    figures: self
                        .figures
                        .iter()
                        .map(String::as_str)
                        .zip(p.figures.iter().copied())
                        .collect(),
                })
                .collect(),
        };
        serde_json::to_string_pretty(&record).expect("a sweep serialises") + "\n"
    }
}

/// How every point runs.
#[derive(Debug, Clone, Copy)]
pub struct SweepOptions {
    pub paths: u64,
    pub seed: u64,
    pub threads: usize,
}

impl SweepOptions {
    fn run_options(&self) -> RunOptions {
        RunOptions {
            paths: self.paths,
            seed: self.seed,
            threads: self.threads,
            sample_paths: 0,
        }
    }
}

/// The scenario of the file `path` (loaded as `base`) with `set`, then
/// `extra`, applied.
pub fn scenario_with(
    base: &Scenario,
    path: &Path,
    set: &[Setting],
    extra: &[String],
) -> Result<Scenario, SweepError> {
    let mut settings = set.to_vec();
    for text in extra {
        settings.push(Setting::parse(text).map_err(SweepError::Axis)?);
    }
    if settings.is_empty() {
        return Ok(base.clone());
    }
    Ok(settings::apply(base, path, &settings)?)
}

/// `scenario`'s model and book (the portfolios of `books`, checked against
/// it) and a run of both on `options`.
pub(crate) fn simulate_book(
    scenario: &Scenario,
    books: &BookFiles,
    options: &RunOptions,
) -> Result<(Model, Book, Simulation), SweepError> {
    let model = Model::new(scenario);
    let book = portfolio::load(scenario, &model, books)?;
    let simulation = portfolio::simulate(scenario, &model, &book, options, &Silent)?;
    Ok((model, book, simulation))
}

/// Runs every point of the sweep of `base` (loaded from `path`) over `axes`,
/// in order, the portfolios of `books` valued at each, calling
/// `progress(done, total)` after each.
#[allow(clippy::too_many_arguments)]
pub fn run(
    base: &Scenario,
    path: &Path,
    set: &[Setting],
    axes: &[Axis],
    options: SweepOptions,
    books: &BookFiles,
    progress: &dyn Fn(usize, usize),
) -> Result<Sweep, SweepError> {
    check_axes(base, axes, set)?;
    let started = Instant::now();
    let points = grid(axes);
    // Every point is checked before the first runs: a value validation
    // refuses in combination with the other key fails now, not hours in.
    for values in &points {
        let (settings, book) = point_at(axes, values, books);
        let scenario = scenario_with(base, path, set, &settings)?;
        if axes.iter().any(Axis::is_book_key) {
            portfolio::load(&scenario, &Model::new(&scenario), &book)?;
        }
    }
    let total = points.len();
    let mut sweep = Sweep::new(base, path, set, axes, options.seed, options.paths);
    for (index, values) in points.into_iter().enumerate() {
        let point_started = Instant::now();
        let (settings, point_books) = point_at(axes, &values, books);
        let scenario = scenario_with(base, path, set, &settings)?;
        let (model, book, simulation) =
            simulate_book(&scenario, &point_books, &options.run_options())?;
        let seconds = point_started.elapsed().as_secs_f64();
        sweep.add(
            index,
            values,
            &scenario,
            &model,
            &book,
            &simulation,
            seconds,
        );
        progress(index + 1, total);
    }
    sweep.seconds = started.elapsed().as_secs_f64();
    Ok(sweep)
}

/// The figures a sweep or sensitivity charts when none are named: the key
/// numbers the scenario has, and its equity's one-year 5th percentile.
pub fn default_chart_figures(scenario: &Scenario, figures: &[String]) -> Vec<String> {
    let equity = &scenario.report.equity;
    [
        "p_equity_drawdown".to_string(),
        "p_dollar_fall".to_string(),
        "p_joint_selloff".to_string(),
        format!("{equity}.return.p05"),
    ]
    .into_iter()
    .filter(|name| figures.contains(name))
    .collect()
}

/// Paths of the probe run that lists a scenario's figures.
const PROBE_PATHS: u64 = 64;

/// The names of every figure a run of `scenario` with the portfolios of
/// `books` has, from a small run.
pub fn figure_names(
    scenario: &Scenario,
    books: &BookFiles,
    seed: u64,
) -> Result<Vec<String>, SweepError> {
    let options = RunOptions {
        paths: PROBE_PATHS,
        seed,
        threads: 1,
        sample_paths: 0,
    };
    let (model, book, simulation) = simulate_book(scenario, books, &options)?;
    Ok(measure_every_figure(scenario, &model, &book, &simulation)
        .into_iter()
        .map(|(name, _)| name)
        .collect())
}

/// Checks figure names against `figures`, naming the nearest; `option` is
/// how the caller's user gave them (`--chart`, `--figure`, `charts=`), since
/// sweeps chart figures and sensitivities rank by them.
pub fn check_figures(option: &str, names: &[String], figures: &[String]) -> Result<(), SweepError> {
    let problems: Vec<String> = names
        .iter()
        .filter(|n| !figures.contains(n))
        .map(|n| format!("{option}: {}", unknown_figure(n, figures)))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(SweepError::Axis(problems.join("\nerror: ")))
    }
}

/// The figures to chart or rank by: those `named` (after `option`, the flag
/// that named them), checked against those of the scenario and the
/// portfolios of `books`, else the defaults.
pub fn chosen_figures(
    option: &str,
    scenario: &Scenario,
    books: &BookFiles,
    named: &[String],
    seed: u64,
) -> Result<Vec<String>, SweepError> {
    let figures = figure_names(scenario, books, seed)?;
    if named.is_empty() {
        return Ok(default_chart_figures(scenario, &figures));
    }
    check_figures(option, named, &figures)?;
    Ok(named.to_vec())
}
