//! `stormglass._native`: the engine for Python. The package `stormglass`
//! (python/stormglass/) wraps it; this module only runs the engine and hands
//! back its results as JSON text, HTML and Arrow IPC streams, which the package
//! turns into dicts and DataFrames without a row-by-row copy.
//!
//! Every call that simulates or draws releases the GIL, and runs through the
//! same library functions as the command line, so a seed gives the CLI's
//! numbers bit for bit.

use std::path::{Path, PathBuf};

use arrow_ipc::writer::StreamWriter;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use stormglass_core::calibrate::data::{self as history_data, AssetMapping, Frequency, Selection};
use stormglass_core::calibrate::history as history_fit;
use stormglass_core::calibrate::targets;
use stormglass_core::compare::{self as portfolio_compare, PortfolioComparison, Side};
use stormglass_core::engine::{self, Silent, Simulation};
use stormglass_core::output::{self, OutputError};
use stormglass_core::portfolio::BookFiles;
use stormglass_core::run::{Prepared, Recipe, RecipeError};
use stormglass_core::scenario::settings::Setting;
use stormglass_core::scenario::{self, Diagnostic};
use stormglass_core::sweep::{self as sweeps, Axis, SweepOptions};
use stormglass_core::tasks;
use stormglass_core::Summary;
use stormglass_core::UserFixable;
use stormglass_report::columnar::{self, Table};
use stormglass_report::compare::{self, Compared};
use stormglass_report::{self as report, OutputOptions, TableFormat};

create_exception!(
    _native,
    StormglassError,
    PyException,
    "Anything that stops Stormglass."
);
create_exception!(
    _native,
    InputError,
    StormglassError,
    "Input the user can fix (the CLI's exit status 2): a scenario, book or data \
     file, a key or an argument. `file`, `line` and `key` locate the first \
     problem; `diagnostics` lists every one."
);
create_exception!(
    _native,
    EngineError,
    StormglassError,
    "The engine could not finish (an interrupted run, a full disk, a chart it could not draw)."
);

/// An input error, with the diagnostics' file, line and key as attributes.
fn input_error(py: Python<'_>, message: &str, diagnostics: &[Diagnostic]) -> PyErr {
    let error = InputError::new_err(python_names(message));
    let value = error.value(py);
    let located: Vec<_> = diagnostics
        .iter()
        .map(|d| {
            (
                d.file.as_ref().map(|f| f.display().to_string()),
                d.line,
                d.key.clone(),
                d.message.clone(),
            )
        })
        .collect();
    let first = located.first().cloned().unwrap_or_default();
    let set = || -> PyResult<()> {
        value.setattr("file", first.0)?;
        value.setattr("line", first.1)?;
        value.setattr("key", (!first.2.is_empty()).then_some(first.2))?;
        let list = PyList::empty(py);
        for (file, line, key, message) in located {
            let d = PyDict::new(py);
            d.set_item("file", file)?;
            d.set_item("line", line)?;
            d.set_item("key", key)?;
            d.set_item("message", message)?;
            list.append(d)?;
        }
        value.setattr("diagnostics", list)
    };
    match set() {
        Ok(()) => error,
        Err(e) => e,
    }
}

fn recipe_error(py: Python<'_>, error: RecipeError) -> PyErr {
    input_error(py, &error.message, &error.diagnostics)
}

/// The one conversion of the library's errors: `ValueError` (with its
/// diagnostics, as `ScenarioError`) for what the caller can fix, as the CLI's
/// exit status 2 says, `stormglass.EngineError` for the rest.
fn library_error<E: UserFixable>(py: Python<'_>, error: E) -> PyErr {
    if error.is_user_fixable() {
        input_error(py, &error.to_string(), &[])
    } else {
        EngineError::new_err(error.to_string())
    }
}

fn output_error(py: Python<'_>, error: OutputError) -> PyErr {
    library_error(py, error)
}

fn plain_input(py: Python<'_>) -> impl Fn(&dyn std::fmt::Display) -> PyErr + '_ {
    move |e| input_error(py, &e.to_string(), &[])
}

/// A message of the library's, with the command line's options (`--paths`,
/// `--pilot-paths`, `--chart`) written as the Python keywords that give them
/// (`paths`, `pilot_paths`, `charts`).
fn python_names(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("--") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let end = after
            .find(|c: char| !(c.is_ascii_lowercase() || c == '-'))
            .unwrap_or(after.len());
        let flag = &after[..end];
        if flag.is_empty() || !flag.starts_with(|c: char| c.is_ascii_lowercase()) {
            out.push_str("--");
        } else {
            let keyword = match flag {
                "chart" => "charts".to_string(),
                "portfolio" => "portfolios".to_string(),
                "stress" => "stresses".to_string(),
                other => other.replace('-', "_"),
            };
            out.push_str(&keyword);
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn engine_error(py: Python<'_>, error: engine::EngineError) -> PyErr {
    library_error(py, error)
}

/// Refuses more worker threads than the CLI's `--threads` takes.
fn check_threads(threads: usize) -> PyResult<()> {
    let limit = engine::thread_limit();
    if threads > limit {
        return Err(PyValueError::new_err(format!(
            "threads={threads} is more than this machine can use: give 0 (all {} cores) up to {limit}",
            engine::effective_threads(0)
        )));
    }
    Ok(())
}

/// How often a call waiting for the engine looks for Ctrl-C.
const SIGNAL_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// Runs `work` on a thread of its own, without the GIL, while this thread
/// checks for signals: on Ctrl-C (KeyboardInterrupt) the engine is asked to
/// stop ([`engine::request_cancel`]), which a run does at its next batch of
/// paths and a fit at its next likelihood, and the interrupt is raised once
/// the work has returned: nothing is left running, and an output folder is
/// never half-written (writes are not interrupted; they are atomic).
fn interruptible<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    std::thread::scope(|scope| {
        let worker = scope.spawn(work);
        loop {
            let finished = py.detach(|| {
                let until = std::time::Instant::now() + SIGNAL_POLL;
                while !worker.is_finished() && std::time::Instant::now() < until {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                worker.is_finished()
            });
            if finished {
                break;
            }
            if let Err(interrupt) = py.check_signals() {
                engine::request_cancel();
                let _ = py.detach(|| worker.join());
                engine::clear_cancel();
                return Err(interrupt);
            }
        }
        worker
            .join()
            .map_err(|_| EngineError::new_err("the engine stopped on an internal error"))
    })
}

fn json<T: serde::Serialize>(value: &T) -> PyResult<String> {
    serde_json::to_string(value).map_err(|e| EngineError::new_err(e.to_string()))
}

/// A table as one Arrow IPC stream, its batches as the engine builds them.
fn ipc_stream<'py>(py: Python<'py>, table: Table<'_>) -> PyResult<Bound<'py, PyBytes>> {
    let encode = || -> Result<Vec<u8>, arrow_schema::ArrowError> {
        let mut bytes = Vec::new();
        let mut writer = StreamWriter::try_new(&mut bytes, &table.schema.clone())?;
        for batch in table.batches() {
            writer.write(&batch?)?;
        }
        writer.finish()?;
        drop(writer);
        Ok(bytes)
    };
    let bytes = py
        .detach(encode)
        .map_err(|e| EngineError::new_err(e.to_string()))?;
    Ok(PyBytes::new(py, &bytes))
}

fn pool(threads: usize) -> PyResult<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(engine::effective_threads(threads))
        .build()
        .map_err(|e| EngineError::new_err(e.to_string()))
}

fn table_format(format: &str) -> PyResult<TableFormat> {
    match format {
        "csv" => Ok(TableFormat::Csv),
        "parquet" => Ok(TableFormat::Parquet),
        "both" => Ok(TableFormat::Both),
        other => Err(PyValueError::new_err(format!(
            "format `{other}`: give \"csv\", \"parquet\" or \"both\""
        ))),
    }
}

fn settings(py: Python<'_>, texts: &[String]) -> PyResult<Vec<Setting>> {
    texts
        .iter()
        .map(|t| Setting::parse(t).map_err(|e| plain_input(py)(&format!("set {e}"))))
        .collect()
}

/// Checks a scenario file as `stormglass validate` does; returns its facts as
/// JSON (name, hash, seed, paths, steps, warnings).
#[pyfunction]
fn validate(py: Python<'_>, path: PathBuf) -> PyResult<String> {
    let loaded = py.detach(|| scenario::load(&path));
    let scenario = loaded.map_err(|e| input_error(py, &e.to_string(), e.diagnostics()))?;
    let anchors = stormglass_core::history::builtin();
    let warnings = stormglass_core::history::warnings(&scenario, anchors);
    json(&serde_json::json!({
        "file": path.display().to_string(),
        "name": scenario.name,
        "description": scenario.description,
        "hash": scenario.hash,
        "seed": scenario.seed,
        "paths": scenario.paths,
        "steps": scenario.dates.len().saturating_sub(1),
        "assets": scenario.assets.iter().map(|a| a.name.clone()).collect::<Vec<_>>(),
        "regimes": scenario.regimes.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
        "warnings": warnings,
        "version": stormglass_core::VERSION,
    }))
}

/// A finished run, held in memory.
#[pyclass(frozen, module = "stormglass._native")]
struct NativeRun {
    prepared: Prepared,
    simulation: Simulation,
    summary: Summary,
}

/// Simulates a recipe as `stormglass run` does.
#[pyfunction]
#[pyo3(signature = (scenario, settings, paths, seed, sample_paths, portfolios, stresses, no_portfolios, anchors, levels, threads))]
#[allow(clippy::too_many_arguments)]
fn run(
    py: Python<'_>,
    scenario: PathBuf,
    settings: Vec<String>,
    paths: Option<u64>,
    seed: Option<u64>,
    sample_paths: Option<usize>,
    portfolios: Vec<PathBuf>,
    stresses: Vec<PathBuf>,
    no_portfolios: bool,
    anchors: Option<PathBuf>,
    levels: Option<PathBuf>,
    threads: usize,
) -> PyResult<NativeRun> {
    let recipe = Recipe {
        scenario,
        settings,
        paths,
        seed,
        sample_paths,
        portfolios,
        stresses,
        no_portfolios,
        anchors,
        levels,
        tilt: None,
    };
    check_threads(threads)?;
    let prepared = py
        .detach(|| recipe.prepare(threads))
        .map_err(|e| recipe_error(py, e))?;
    let pool = pool(threads)?;
    let (simulation, summary) = interruptible(py, || {
        prepared.check_memory()?;
        let simulation = prepared.simulate(&Silent)?;
        let summary = pool.install(|| prepared.summarise(&simulation));
        Ok::<_, engine::EngineError>((simulation, summary))
    })?
    .map_err(|e| engine_error(py, e))?;
    Ok(NativeRun {
        prepared,
        simulation,
        summary,
    })
}

#[pymethods]
impl NativeRun {
    /// `summary.json`'s text.
    fn summary_json(&self) -> PyResult<String> {
        json(&self.summary)
    }

    /// One of the run's tables (`paths_metrics`, `fan_bands`, `sample_paths`,
    /// or a strategy table: `strategies`, `strategy_rules`, `strategy_states`,
    /// `strategy_states_by_step`) as an Arrow IPC stream.
    fn table<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyBytes>> {
        let (scenario, model, simulation) = (
            &self.prepared.scenario,
            &self.prepared.model,
            &self.simulation,
        );
        let table = match name {
            "paths_metrics" => columnar::paths_metrics(scenario, simulation),
            "fan_bands" => columnar::fan_bands(scenario, model, simulation),
            "sample_paths" => columnar::sample_paths(scenario, model, simulation),
            other => match report::strategies::strategy_sheet(other, scenario, &self.summary) {
                Some(sheet) => columnar::sheet(sheet, scenario, simulation),
                None => {
                    return Err(PyValueError::new_err(format!(
                        "no table `{other}`: give paths_metrics, fan_bands, sample_paths, {}",
                        report::strategies::TABLES.join(", ")
                    )))
                }
            },
        };
        ipc_stream(py, table)
    }

    /// The portfolio tables' CSV text (`portfolios`, `positions`, `quantiles`,
    /// `losses`), as the run folder's `portfolios.csv`, `portfolio_positions.csv`,
    /// `portfolio_quantiles.csv` and `portfolio_losses.csv`; empty without portfolios.
    fn portfolio_csv(&self, name: &str) -> PyResult<String> {
        let mut out = Vec::new();
        let all = &self.summary.portfolios;
        if !all.is_empty() {
            report::portfolio_csv(&mut out, name, all).map_err(|e| {
                PyValueError::new_err(format!(
                    "portfolio table `{name}`: {e}; give portfolios, positions, quantiles or losses"
                ))
            })?;
        }
        String::from_utf8(out).map_err(|e| EngineError::new_err(e.to_string()))
    }

    /// `report.html`, self-contained.
    fn report_html(&self, py: Python<'_>) -> PyResult<String> {
        let p = &self.prepared;
        py.detach(|| report::run_report(&p.scenario, &p.model, &self.simulation, &self.summary))
            .map(|(page, _)| page)
            .map_err(|e| EngineError::new_err(e.to_string()))
    }

    /// Writes the run's folder as `stormglass run --out` does.
    fn write(
        &self,
        py: Python<'_>,
        out: PathBuf,
        force: bool,
        format: &str,
        paths_metrics: bool,
    ) -> PyResult<()> {
        let tables = table_format(format)?;
        let p = &self.prepared;
        let pool = pool(p.options.threads)?;
        py.detach(|| {
            output::check_target(&out, force)?;
            pool.install(|| {
                report::write_run(
                    &out,
                    &p.scenario,
                    &p.model,
                    &self.simulation,
                    &self.summary,
                    OutputOptions {
                        paths_metrics,
                        tables,
                        force,
                    },
                )
            })
        })
        .map(|_| ())
        .map_err(|e| output_error(py, e))
    }
}

/// Finished runs as `stormglass compare` labels them (`sources` are the
/// scenario files they ran) and, with `portfolio`, that file's portfolios
/// under every run: each run must have valued the file.
fn comparison(
    py: Python<'_>,
    runs: &[PyRef<'_, NativeRun>],
    sources: &[String],
    portfolio: Option<&Path>,
) -> PyResult<(Vec<Compared>, Vec<PortfolioComparison>)> {
    let mut compared: Vec<Compared> = runs
        .iter()
        .zip(sources)
        .map(|(run, source)| Compared::from_summary(&run.summary, Path::new(source)))
        .collect();
    compare::unique_labels(&mut compared);
    let Some(file) = portfolio else {
        return Ok((compared, Vec::new()));
    };
    let mut books = Vec::new();
    for (run, source) in runs.iter().zip(sources) {
        let scenario = &run.prepared.scenario;
        let book = portfolio_compare::load_book(scenario, Path::new(source), file)
            .map_err(|e| input_error(py, &e.to_string(), e.diagnostics()))?;
        for p in &book.portfolios {
            if run
                .simulation
                .column(&format!("portfolio.{}.pnl", p.name))
                .is_none()
            {
                return Err(plain_input(py)(&format!(
                    "the run of {source} did not value portfolio `{}` of {}: run it with portfolios=[{:?}], or give compare its scenario file",
                    p.name,
                    file.display(),
                    file.display().to_string()
                )));
            }
        }
        books.push(book);
    }
    let sides: Vec<Side> = compared
        .iter()
        .zip(runs)
        .zip(&books)
        .map(|((c, run), book)| Side {
            label: &c.label,
            scenario: &run.prepared.scenario,
            book,
            simulation: &run.simulation,
        })
        .collect();
    let portfolios = py.detach(|| portfolio_compare::compare_portfolios(&sides));
    Ok((compared, portfolios))
}

/// `compare.html` for finished runs, labelled as `stormglass compare` labels
/// them; `sources` are the scenario files they ran; with `portfolio`, its
/// section of that file's portfolios under every run.
#[pyfunction]
#[pyo3(signature = (runs, sources, portfolio))]
fn compare_html(
    py: Python<'_>,
    runs: Vec<PyRef<'_, NativeRun>>,
    sources: Vec<String>,
    portfolio: Option<PathBuf>,
) -> PyResult<String> {
    let (compared, portfolios) = comparison(py, &runs, &sources, portfolio.as_deref())?;
    py.detach(|| compare::comparison_report(&compared, &portfolios))
        .map(|(page, _)| page)
        .map_err(|e| EngineError::new_err(e.to_string()))
}

/// `portfolio`'s portfolios under every run, side by side with each run's
/// difference from the first: comparison.json's `portfolios` and
/// portfolio_comparison.csv's text.
#[pyfunction]
fn compare_portfolio(
    py: Python<'_>,
    runs: Vec<PyRef<'_, NativeRun>>,
    sources: Vec<String>,
    portfolio: PathBuf,
) -> PyResult<(String, String)> {
    let (_, portfolios) = comparison(py, &runs, &sources, Some(&portfolio))?;
    Ok((json(&portfolios)?, portfolio_compare::csv(&portfolios)))
}

/// A finished sweep.
#[pyclass(frozen, module = "stormglass._native")]
struct NativeSweep {
    sweep: sweeps::Sweep,
    charts: Vec<String>,
}

/// Runs `stormglass sweep`: every point on the same seed and paths.
#[pyfunction]
#[pyo3(signature = (scenario, vary, settings, paths, seed, threads, charts, portfolios, levels))]
#[allow(clippy::too_many_arguments)]
fn sweep(
    py: Python<'_>,
    scenario: PathBuf,
    vary: Vec<String>,
    settings: Vec<String>,
    paths: Option<u64>,
    seed: Option<u64>,
    threads: usize,
    charts: Vec<String>,
    portfolios: Vec<PathBuf>,
    levels: Option<PathBuf>,
) -> PyResult<NativeSweep> {
    let input = plain_input(py);
    check_threads(threads)?;
    if paths == Some(0) {
        return Err(input(&"paths must be at least 1"));
    }
    let axes = vary
        .iter()
        .map(|text| Axis::parse(text))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| input(&e))?;
    let base = scenario::load_at(&scenario, levels.as_deref())
        .map_err(|e| input_error(py, &e.to_string(), e.diagnostics()))?;
    let set = self::settings(py, &settings)?;
    let sweep_error = |e: sweeps::SweepError| library_error(py, e);
    sweeps::check_axes(&base, &axes, &set).map_err(sweep_error)?;
    let start = sweeps::scenario_with(&base, &scenario, &set, &[]).map_err(sweep_error)?;
    let options = SweepOptions {
        paths: paths.unwrap_or(start.paths),
        seed: seed.unwrap_or(start.seed),
        threads,
    };
    let books = BookFiles {
        portfolios,
        ..BookFiles::default()
    };
    let charts = sweeps::chosen_figures("charts", &start, &books, &charts, options.seed)
        .map_err(sweep_error)?;
    let result = interruptible(py, || {
        sweeps::run(&base, &scenario, &set, &axes, options, &books, &|_, _| {})
    })?
    .map_err(sweep_error)?;
    Ok(NativeSweep {
        sweep: result,
        charts,
    })
}

#[pymethods]
impl NativeSweep {
    /// `sweep.json`'s text.
    fn json(&self) -> String {
        self.sweep.json()
    }

    /// `sweep.csv`'s table as an Arrow IPC stream.
    fn table<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        ipc_stream(py, columnar::sweep(&self.sweep))
    }

    /// `sweep.html`, self-contained.
    fn report_html(&self, py: Python<'_>) -> PyResult<String> {
        page(py, || {
            report::sweep::sweep_report(&self.sweep, &self.charts, "stormglass.sweep")
        })
    }

    /// Writes the sweep's folder as `stormglass sweep --out` does.
    fn write(&self, py: Python<'_>, out: PathBuf, force: bool, format: &str) -> PyResult<()> {
        let tables = table_format(format)?;
        folder(py, &out, force, || {
            report::sweep::write_sweep(
                &out,
                force,
                tables,
                &self.sweep,
                &self.charts,
                "stormglass.sweep",
            )
        })
    }
}

/// A page and its charts built with the GIL released; the page.
fn page<T>(
    py: Python<'_>,
    build: impl FnOnce() -> Result<(String, T), OutputError> + Send,
) -> PyResult<String>
where
    T: Send,
{
    py.detach(build)
        .map(|(page, _)| page)
        .map_err(|e| output_error(py, e))
}

/// A folder written with the GIL released, refused as the CLI's `--out`
/// would refuse it.
fn folder(
    py: Python<'_>,
    out: &Path,
    force: bool,
    write: impl FnOnce() -> Result<usize, OutputError> + Send,
) -> PyResult<()> {
    py.detach(|| {
        output::check_target(out, force)?;
        write()
    })
    .map(|_| ())
    .map_err(|e| output_error(py, e))
}

/// A finished sensitivity.
#[pyclass(frozen, module = "stormglass._native")]
struct NativeSensitivity {
    sensitivity: sweeps::sensitivity::Sensitivity,
}

/// Runs `stormglass sensitivity`: each key bumped down and up, one at a time,
/// every run on the same seed and paths.
#[pyfunction]
#[pyo3(signature = (scenario, keys, bump, figures, settings, paths, seed, threads, portfolios, levels))]
#[allow(clippy::too_many_arguments)]
fn sensitivity(
    py: Python<'_>,
    scenario: PathBuf,
    keys: Vec<String>,
    bump: f64,
    figures: Vec<String>,
    settings: Vec<String>,
    paths: Option<u64>,
    seed: Option<u64>,
    threads: usize,
    portfolios: Vec<PathBuf>,
    levels: Option<PathBuf>,
) -> PyResult<NativeSensitivity> {
    check_threads(threads)?;
    if paths == Some(0) {
        return Err(plain_input(py)(&"paths must be at least 1"));
    }
    let base = scenario::load_at(&scenario, levels.as_deref())
        .map_err(|e| input_error(py, &e.to_string(), e.diagnostics()))?;
    let set = self::settings(py, &settings)?;
    let failure = |e: sweeps::SweepError| library_error(py, e);
    let start = sweeps::scenario_with(&base, &scenario, &set, &[]).map_err(failure)?;
    let options = SweepOptions {
        paths: paths.unwrap_or(start.paths),
        seed: seed.unwrap_or(start.seed),
        threads,
    };
    let keys = if keys.is_empty() {
        sweeps::sensitivity::coupling_keys(&start)
    } else {
        keys
    };
    let books = BookFiles {
        portfolios,
        ..BookFiles::default()
    };
    let figures = sweeps::chosen_figures("figures", &start, &books, &figures, options.seed)
        .map_err(failure)?;
    let sensitivity = interruptible(py, || {
        sweeps::sensitivity::run(
            &base,
            &scenario,
            &set,
            &keys,
            bump,
            &figures,
            options,
            &books,
            &|_, _| {},
        )
    })?
    .map_err(failure)?;
    Ok(NativeSensitivity { sensitivity })
}

#[pymethods]
impl NativeSensitivity {
    /// `sensitivity.json`'s text.
    fn json(&self) -> String {
        self.sensitivity.json()
    }

    /// `sensitivity.csv`'s text.
    fn csv(&self) -> String {
        self.sensitivity.csv()
    }

    /// `sensitivity.html`, self-contained.
    fn report_html(&self, py: Python<'_>) -> PyResult<String> {
        page(py, || {
            report::sweep::sensitivity_report(&self.sensitivity, "stormglass.sensitivity")
        })
    }

    /// Writes the sensitivity's folder as `stormglass sensitivity --out` does.
    fn write(&self, py: Python<'_>, out: PathBuf, force: bool) -> PyResult<()> {
        folder(py, &out, force, || {
            report::sweep::write_sensitivity(
                &out,
                force,
                &self.sensitivity,
                "stormglass.sensitivity",
            )
        })
    }
}

/// Writes a plan as `stormglass plan` does; returns its manifest's path.
#[pyfunction]
#[pyo3(signature = (scenario, settings, paths, seed, sample_paths, portfolios, stresses, no_portfolios, anchors, levels, vary, charts, shards, out, force))]
#[allow(clippy::too_many_arguments)]
fn plan(
    py: Python<'_>,
    scenario: PathBuf,
    settings: Vec<String>,
    paths: Option<u64>,
    seed: Option<u64>,
    sample_paths: Option<usize>,
    portfolios: Vec<PathBuf>,
    stresses: Vec<PathBuf>,
    no_portfolios: bool,
    anchors: Option<PathBuf>,
    levels: Option<PathBuf>,
    vary: Vec<String>,
    charts: Vec<String>,
    shards: usize,
    out: PathBuf,
    force: bool,
) -> PyResult<PathBuf> {
    let recipe = Recipe {
        scenario,
        settings,
        paths,
        seed,
        sample_paths,
        portfolios,
        stresses,
        no_portfolios,
        anchors,
        levels,
        tilt: None,
    };
    let axes = vary
        .iter()
        .map(|text| Axis::parse(text))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| plain_input(py)(&e))?;
    py.detach(|| {
        let manifest = tasks::plan(&recipe, axes, charts, shards)?;
        tasks::write_plan(&out, &manifest, force)
    })
    .map_err(|e| library_error(py, e))
}

/// Runs task `index` of the plan at `manifest` as `stormglass task` does;
/// returns its part's path. The recipe's files are read from the folder the
/// plan was written in, which is the process's working folder while this runs.
#[pyfunction]
#[pyo3(signature = (manifest, index, threads, force))]
fn task(
    py: Python<'_>,
    manifest: PathBuf,
    index: usize,
    threads: usize,
    force: bool,
) -> PyResult<PathBuf> {
    check_threads(threads)?;
    let manifest_path = tasks::manifest::absolute(&manifest).map_err(|e| library_error(py, e))?;
    let (plan, sha) = tasks::Manifest::read(&manifest_path).map_err(|e| library_error(py, e))?;
    let task = plan
        .task(&manifest, index)
        .map_err(|e| library_error(py, e))?;
    let run = || tasks::run_task(&plan, &sha, &manifest_path, task, threads, force, &Silent);
    let (_, _, part) = in_folder(py, &plan.directory, || interruptible(py, run))??
        .map_err(|e| library_error(py, e))?;
    Ok(part)
}

/// Merges every point of the plan at `manifest` as `stormglass merge` does,
/// into `out` (the plan's folder when `None`); returns the folder. Like
/// `task`, it reads the recipe's files from the plan's folder.
#[pyfunction]
#[pyo3(signature = (manifest, out, force, threads, format))]
fn merge(
    py: Python<'_>,
    manifest: PathBuf,
    out: Option<PathBuf>,
    force: bool,
    threads: usize,
    format: &str,
) -> PyResult<PathBuf> {
    check_threads(threads)?;
    let tables = table_format(format)?;
    let manifest_path = tasks::manifest::absolute(&manifest).map_err(|e| library_error(py, e))?;
    let out = out
        .map(|o| tasks::manifest::absolute(&o))
        .transpose()
        .map_err(|e| library_error(py, e))?;
    let (plan, sha) = tasks::Manifest::read(&manifest_path).map_err(|e| library_error(py, e))?;
    let directory = plan.directory.clone();
    let work = || -> Result<PathBuf, tasks::TaskError> {
        let plan = tasks::PlanMerge::gather(plan, &sha, &manifest_path, out)?;
        plan.check_targets(force)?;
        let swept = plan.merge_each(threads, |folder, prepared, simulation| {
            let summary = prepared.summarise(simulation);
            report::write_run(
                folder,
                &prepared.scenario,
                &prepared.model,
                simulation,
                &summary,
                OutputOptions {
                    paths_metrics: prepared.options.paths <= report::PATHS_METRICS_AUTO_LIMIT,
                    tables,
                    force,
                },
            )
            .map(|_| ())
            .map_err(tasks::TaskError::from)
        })?;
        if let Some(swept) = swept {
            report::sweep::write_sweep(
                &plan.sweep_dir(),
                force,
                tables,
                &swept,
                &plan.manifest.charts,
                "stormglass.merge",
            )?;
        }
        Ok(plan.out.clone())
    };
    in_folder(py, &directory, || interruptible(py, work))??.map_err(|e| library_error(py, e))
}

/// Runs `work` with `folder` as the process's working folder, then moves
/// back: a plan's recipe names its files as typed where it was written.
fn in_folder<T>(py: Python<'_>, folder: &Path, work: impl FnOnce() -> T) -> PyResult<T> {
    let here = std::env::current_dir()
        .map_err(|e| EngineError::new_err(format!("the current folder: {e}")))?;
    std::env::set_current_dir(folder).map_err(|e| {
        plain_input(py)(&format!(
            "{}: the folder the plan was made in: {e}; run it where the recipe's files have the same paths",
            folder.display()
        ))
    })?;
    let result = work();
    std::env::set_current_dir(&here)
        .map_err(|e| EngineError::new_err(format!("{}: {e}", here.display())))?;
    Ok(result)
}

/// A finished attribution.
#[pyclass(frozen, module = "stormglass._native")]
struct NativeAttribution {
    attribution: stormglass_core::attribute::Attribution,
}

/// Runs `stormglass attribute`: the scenario, each mechanism off, all off,
/// every run on the same seed and paths.
#[pyfunction]
#[pyo3(signature = (scenario, mechanisms, settings, paths, seed, threads, portfolios, levels))]
#[allow(clippy::too_many_arguments)]
fn attribute(
    py: Python<'_>,
    scenario: PathBuf,
    mechanisms: Vec<String>,
    settings: Vec<String>,
    paths: Option<u64>,
    seed: Option<u64>,
    threads: usize,
    portfolios: Vec<PathBuf>,
    levels: Option<PathBuf>,
) -> PyResult<NativeAttribution> {
    use stormglass_core::attribute::{AttributeError, Setup};
    let failure = |e: AttributeError| match &e {
        AttributeError::Scenario(s) => input_error(py, &e.to_string(), s.diagnostics()),
        _ => library_error(py, e),
    };
    check_threads(threads)?;
    let setup = Setup::new(
        &scenario,
        levels.as_deref(),
        &settings,
        &mechanisms,
        &portfolios,
    )
    .map_err(failure)?;
    let options = setup.options(paths, seed, threads);
    let attribution = interruptible(py, || setup.run(options, &|_, _| {}))?.map_err(failure)?;
    Ok(NativeAttribution { attribution })
}

#[pymethods]
impl NativeAttribution {
    /// `attribution.json`'s text.
    fn json(&self) -> String {
        self.attribution.json()
    }

    /// `attribution.csv`'s table as an Arrow IPC stream.
    fn table<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        ipc_stream(py, columnar::attribution(&self.attribution))
    }

    /// `attribution.html`, self-contained.
    fn report_html(&self, py: Python<'_>) -> PyResult<String> {
        page(py, || {
            report::attribution::attribution_report(&self.attribution, "stormglass.attribute")
        })
    }

    /// Writes the attribution's folder as `stormglass attribute --out` does.
    fn write(&self, py: Python<'_>, out: PathBuf, force: bool) -> PyResult<()> {
        folder(py, &out, force, || {
            report::attribution::write_attribution(
                &out,
                force,
                &self.attribution,
                "stormglass.attribute",
            )
        })
    }
}

/// Runs `stormglass calibrate history` into `out`; returns the fragment's text.
#[pyfunction]
#[pyo3(signature = (data, regimes, series, levels, frequency, assets, out, force))]
#[allow(clippy::too_many_arguments)]
fn calibrate_history(
    py: Python<'_>,
    data: PathBuf,
    regimes: usize,
    series: Option<Vec<String>>,
    levels: Option<Vec<String>>,
    frequency: Option<String>,
    assets: Vec<String>,
    out: PathBuf,
    force: bool,
) -> PyResult<String> {
    let input = plain_input(py);
    let assets = assets
        .iter()
        .map(|text| {
            text.parse::<AssetMapping>()
                .map_err(|e| input(&format!("assets: {e}")))
        })
        .collect::<PyResult<Vec<_>>>()?;
    let frequency = match frequency.as_deref() {
        None => None,
        Some(name) => Some(name.parse::<Frequency>().map_err(|_| {
            input(&format!(
                "frequency `{name}`: give daily, weekly, monthly or quarterly"
            ))
        })?),
    };
    let selection = Selection {
        series: series.unwrap_or_default(),
        levels: levels.unwrap_or_default(),
        frequency,
        assets,
    };
    let stem = data
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "history".into());
    output::check_target(&out, force).map_err(|e| output_error(py, e))?;
    let table = history_data::read(&data, &selection).map_err(|e| input(&e))?;
    let changes = table.changes(&selection).map_err(|e| input(&e))?;
    let fit = interruptible(py, || history_fit::fit(changes, regimes))?
        .map_err(|e| input(&format!("{}: {e}", data.display())))?;
    let sha256 = output::sha256_of(&data)
        .map_err(|e| input(&format!("{}: cannot read: {e}", data.display())))?;
    let command = format!(
        "stormglass.calibrate_history({}, regimes={regimes})",
        data.display()
    );
    let provenance = report::calibration::Provenance {
        command: &command,
        data_file: &data,
        data_sha256: &sha256,
    };
    let name = format!("{}-k{regimes}", history_fit::asset_name(&stem));
    let fragment = report::calibration::history_fragment(&fit, &name, &provenance);
    fit.check_fragment(&fragment)
        .map_err(|e| input(&format!("{}: {e}", data.display())))?;
    let episodes = &stormglass_core::history::builtin().episodes;
    py.detach(|| {
        report::calibration::write_history_fit(&out, force, &fit, &fragment, &provenance, episodes)
    })
    .map_err(|e| output_error(py, e))?;
    Ok(fragment)
}

/// Runs `stormglass calibrate targets` into `out`.
#[pyfunction]
#[pyo3(signature = (scenario, targets_file, free, settings, paths, pilot_paths, seed, threads, max_iterations, refine_iterations, out, force, portfolios))]
#[allow(clippy::too_many_arguments)]
fn calibrate_targets(
    py: Python<'_>,
    scenario: PathBuf,
    targets_file: PathBuf,
    free: Vec<String>,
    settings: Vec<String>,
    paths: Option<u64>,
    pilot_paths: u64,
    seed: Option<u64>,
    threads: usize,
    max_iterations: u64,
    refine_iterations: u64,
    out: PathBuf,
    force: bool,
    portfolios: Vec<PathBuf>,
) -> PyResult<()> {
    let input = plain_input(py);
    check_threads(threads)?;
    if pilot_paths == 0 || paths == Some(0) {
        return Err(input(&"paths and pilot_paths must be at least 1"));
    }
    let failure = |e: targets::TargetsError| library_error(py, e);
    let base =
        scenario::load(&scenario).map_err(|e| input_error(py, &e.to_string(), e.diagnostics()))?;
    output::check_target(&out, force).map_err(|e| output_error(py, e))?;
    let target_list = targets::read_targets(&targets_file).map_err(failure)?;
    let options = targets::Options {
        free,
        settings: self::settings(py, &settings)?,
        pilot_paths,
        paths: paths.unwrap_or(base.paths),
        seed: seed.unwrap_or(base.seed),
        threads,
        max_iterations,
        refine_iterations,
        portfolios,
    };
    let fit = targets::Fit::new(&scenario, &targets_file, target_list, options).map_err(failure)?;
    let calibration = interruptible(py, || fit.run())?.map_err(failure)?;
    py.detach(|| targets::write(&out, &fit, &calibration, force))
        .map_err(|e| output_error(py, e))
}

/// A reverse stress test of a finished run.
#[pyclass(frozen, module = "stormglass._native")]
struct NativeReverseStress {
    run_dir: PathBuf,
    run: report::finished::FinishedRun,
    result: stormglass_core::views::reverse::ReverseStress,
    /// For a tilted re-run: the plain run it was chosen from.
    plain: Option<report::reverse::PlainEstimate>,
}

/// Runs `stormglass reverse-stress` on the run folder `run_dir`: `kind` is
/// `portfolio`, `strategy`, `asset` or `figure`, `on` is `return` or `drawdown`.
/// With `tilted_dir`, re-runs the scenario tilted toward the breach into that
/// folder (`paths` paths, the run's by default) and reports from it.
#[pyfunction]
#[pyo3(signature = (run_dir, kind, name, loss, on, at_most, at_least, medoids, tilted_dir, paths, threads, force))]
#[allow(clippy::too_many_arguments)]
fn reverse_stress(
    py: Python<'_>,
    run_dir: PathBuf,
    kind: &str,
    name: String,
    loss: Option<f64>,
    on: &str,
    at_most: Option<f64>,
    at_least: Option<f64>,
    medoids: usize,
    tilted_dir: Option<PathBuf>,
    paths: Option<u64>,
    threads: usize,
    force: bool,
) -> PyResult<NativeReverseStress> {
    use stormglass_core::views::reverse::{self, Measure, Options, Request, Target};
    let target = match kind {
        "portfolio" => Target::Portfolio(name),
        "strategy" => Target::Strategy(name),
        "asset" => Target::Asset(name),
        _ => Target::Figure(name),
    };
    let on = match on {
        "drawdown" => Measure::Drawdown,
        _ => Measure::Return,
    };
    let request = Request {
        target,
        loss,
        on,
        at_most,
        at_least,
    };
    let run = report::finished::FinishedRun::open(&run_dir).map_err(|e| library_error(py, e))?;
    let table = py
        .detach(|| run.load(&run.columns))
        .map_err(|e| library_error(py, e))?;
    let breach = request.breach(&table).map_err(|e| library_error(py, e))?;
    let options = Options { medoids };
    let result = py
        .detach(|| reverse::reverse_stress(&table, &breach, options))
        .map_err(|e| library_error(py, e))?;
    let Some(tilted_dir) = tilted_dir else {
        return Ok(NativeReverseStress {
            run_dir,
            run,
            result,
            plain: None,
        });
    };
    check_threads(threads)?;
    let pool = pool(threads)?;
    let tilted = py
        .detach(|| {
            pool.install(|| {
                report::reverse::tilted_rerun(
                    &run_dir,
                    &run,
                    &table,
                    &breach,
                    paths,
                    threads,
                    &tilted_dir,
                    force,
                    &engine::Silent,
                    &|_, _| {},
                )
            })
        })
        .map_err(|e| library_error(py, e))?;
    let plain = report::reverse::PlainEstimate::new(&run_dir, &run, &result);
    let result = py
        .detach(|| {
            let breach = request.breach(&tilted.table)?;
            reverse::reverse_stress(&tilted.table, &breach, options)
        })
        .map_err(|e| library_error(py, e))?;
    Ok(NativeReverseStress {
        run_dir: tilted.dir,
        run: tilted.run,
        result,
        plain: Some(plain),
    })
}

#[pymethods]
impl NativeReverseStress {
    /// `reverse_stress.json`'s text.
    fn json(&self) -> String {
        report::reverse::json(
            &self.run_dir,
            &self.run,
            &self.result,
            "stormglass.reverse_stress",
            self.plain.as_ref(),
        )
    }

    /// The table `name` (`common`, `frontier` or `medoids`) as an Arrow IPC stream.
    fn table<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyBytes>> {
        let sheet = report::reverse::sheet(&self.result, name).ok_or_else(|| {
            input_error(
                py,
                &scenario::load::unknown_name(
                    "reverse stress table",
                    name,
                    &report::reverse::TABLES.map(String::from),
                ),
                &[],
            )
        })?;
        let run = &self.run;
        ipc_stream(
            py,
            columnar::run_sheet(
                sheet,
                &run.scenario_name,
                &run.scenario_hash,
                run.seed,
                run.paths,
            ),
        )
    }

    /// Writes the folder `stormglass reverse-stress --out` writes (the
    /// medoids re-simulated for its chart).
    fn write(&self, py: Python<'_>, out: PathBuf, force: bool) -> PyResult<()> {
        folder(py, &out, force, || {
            let traces = report::reverse::trace_medoids(&self.run_dir, &self.run, &self.result);
            report::reverse::write_reverse_stress(
                &out,
                force,
                &self.run_dir,
                &self.run,
                &self.result,
                &traces,
                "stormglass.reverse_stress",
                self.plain.as_ref(),
            )
        })
    }
}

/// The most worker threads a call may ask for on this machine (the CLI's
/// `--threads` limit).
#[pyfunction]
fn thread_limit() -> usize {
    engine::thread_limit()
}

/// A finished run's paths reweighted to views.
#[pyclass(frozen, module = "stormglass._native")]
struct NativeViews {
    applied: report::views::Applied,
}

/// Applies a views file to a finished run folder, as `stormglass views` does;
/// or to a plan's run (`run` its manifest.json or folder, `point` the point
/// of a plan that sweeps) read from its tasks' parts without merging them.
/// Like `merge`, a plan's recipe files are read from the plan's folder.
#[pyfunction]
#[pyo3(signature = (run, views, point=None))]
fn views(
    py: Python<'_>,
    run: PathBuf,
    views: PathBuf,
    point: Option<String>,
) -> PyResult<NativeViews> {
    use report::views::ViewsRunError;
    use stormglass_core::views::ViewsError;
    let applied = match tasks::manifest::plan_manifest(&run) {
        Some(manifest) => {
            let absolute = |p: &Path| tasks::manifest::absolute(p).map_err(|e| library_error(py, e));
            let manifest_path = absolute(&manifest)?;
            let views = absolute(&views)?;
            let (plan, sha) =
                tasks::Manifest::read(&manifest_path).map_err(|e| library_error(py, e))?;
            let directory = plan.directory.clone();
            let work = || {
                report::views::apply_to_plan(plan, &sha, &manifest_path, point.as_deref(), &views)
            };
            in_folder(py, &directory, || py.detach(work))?
        }
        None => {
            if point.is_some() {
                return Err(plain_input(py)(&format!(
                    "{}: point= chooses a point of a plan, and this is not a plan's manifest.json or folder",
                    run.display()
                )));
            }
            py.detach(|| report::views::apply_to_run(&run, &views))
        }
    }
    .map_err(|e| match &e {
        ViewsRunError::Views(ViewsError::File(s)) => {
            input_error(py, &e.to_string(), s.diagnostics())
        }
        _ => library_error(py, e),
    })?;
    Ok(NativeViews { applied })
}

#[pymethods]
impl NativeViews {
    /// `views.json`'s text.
    fn json(&self) -> String {
        report::views::views_json(&self.applied.provenance, &self.applied.outcome)
    }

    /// `posterior.parquet`'s table as an Arrow IPC stream.
    fn posterior<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let table = report::views::posterior_table(&self.applied.provenance, &self.applied.outcome)
            .map_err(|e| EngineError::new_err(e.to_string()))?;
        ipc_stream(py, table)
    }

    /// `views.html`, self-contained.
    fn report_html(&self, py: Python<'_>) -> PyResult<String> {
        let applied = &self.applied;
        py.detach(|| {
            report::views::views_charts(&applied.file, &applied.table, &applied.outcome).map(
                |charts| report::views::views_page(&applied.provenance, &applied.outcome, &charts),
            )
        })
        .map_err(|e| EngineError::new_err(e.to_string()))
    }

    /// Writes the views folder as `stormglass views --out` does.
    fn write(&self, py: Python<'_>, out: PathBuf, force: bool) -> PyResult<()> {
        let applied = &self.applied;
        py.detach(|| -> Result<(), String> {
            output::check_target(&out, force).map_err(|e| e.to_string())?;
            let charts =
                report::views::views_charts(&applied.file, &applied.table, &applied.outcome)
                    .map_err(|e| e.to_string())?;
            report::views::write_views(&out, force, &applied.provenance, &applied.outcome, &charts)
                .map_err(|e| e.to_string())
        })
        .map_err(|e| input_error(py, &e, &[]))
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", stormglass_core::VERSION)?;
    m.add_function(wrap_pyfunction!(thread_limit, m)?)?;
    m.add("StormglassError", m.py().get_type::<StormglassError>())?;
    m.add("InputError", m.py().get_type::<InputError>())?;
    m.add("EngineError", m.py().get_type::<EngineError>())?;
    m.add_class::<NativeRun>()?;
    m.add_class::<NativeSweep>()?;
    m.add_class::<NativeAttribution>()?;
    m.add_class::<NativeSensitivity>()?;
    m.add_class::<NativeReverseStress>()?;
    m.add_function(wrap_pyfunction!(reverse_stress, m)?)?;
    m.add_class::<NativeViews>()?;
    m.add_function(wrap_pyfunction!(views, m)?)?;
    m.add_function(wrap_pyfunction!(sensitivity, m)?)?;
    m.add_function(wrap_pyfunction!(plan, m)?)?;
    m.add_function(wrap_pyfunction!(task, m)?)?;
    m.add_function(wrap_pyfunction!(merge, m)?)?;
    m.add_function(wrap_pyfunction!(validate, m)?)?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(compare_html, m)?)?;
    m.add_function(wrap_pyfunction!(compare_portfolio, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(attribute, m)?)?;
    m.add_function(wrap_pyfunction!(calibrate_history, m)?)?;
    m.add_function(wrap_pyfunction!(calibrate_targets, m)?)?;
    Ok(())
}
