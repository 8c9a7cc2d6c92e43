//! `stormglass reverse-stress`: a reverse stress test of a finished run as
//! files (`reverse_stress.json`, `common.csv` and `.parquet`, `frontier.csv`,
//! `medoids.csv`) and a page in the report's style with the frontier and the
//! medoids' paths, which are re-simulated from the run's scenario and seed.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::charts::reverse::{self as draw, Frontier, MedoidPaths};
use super::charts::Chart;
use super::columnar;
use super::files::write_parquet_file;
use super::finished::FinishedRun;
use super::page::{escape, write_report, Page};
use super::strategies::Sheet;
use stormglass_core::engine;
use stormglass_core::model::Model;
use stormglass_core::output::{write_atomically, write_with, OutputError};
use stormglass_core::portfolio::{self, tracker::PortfolioTracker, BookFiles};
use stormglass_core::run::Recipe;
use stormglass_core::views::reverse::{
    Group, ImportanceSampling, ReverseStress, Side, MIN_BREACHING_PATHS,
};

/// Markets drawn beside the book on the medoids' chart, where the scenario
/// has them: the S&P 500 and the dollar index.
const TRACED_MARKETS: [(&str, &str); 2] = [("spx", "S&P 500"), ("dxy", "Dollar index (DXY)")];

/// The medoids' paths re-simulated, or why they could not be.
#[derive(Debug, Clone, Default)]
pub struct Traces {
    pub dates: Vec<NaiveDate>,
    /// Per panel: its title and one line per medoid (change from the start).
    pub panels: Vec<(String, Vec<Vec<f64>>)>,
    /// What the page should say about the replays (a book file not found,
    /// a replay that does not reproduce the run).
    pub notes: Vec<String>,
}

/// The part of `summary.json` that says where the run's books came from.
#[derive(Deserialize)]
struct BookOrigins {
    #[serde(default)]
    portfolios: Vec<BookOrigin>,
}

#[derive(Deserialize)]
struct BookOrigin {
    name: String,
    origin: String,
    sha256: String,
}

/// Re-simulates the medoids of `result` from the run folder `dir`: the
/// scenario from `scenario.resolved.toml`, the seed from `summary.json`, the
/// book (for a portfolio's or strategy's breach) from the file the run read,
/// when it is still there unchanged. Every replay is checked against the
/// run's own figure for the path.
pub fn trace_medoids(dir: &Path, run: &FinishedRun, result: &ReverseStress) -> Traces {
    let mut traces = Traces::default();
    let scenario = match stormglass_core::scenario::load(&dir.join("scenario.resolved.toml")) {
        Ok(s) => s,
        Err(e) => {
            traces.notes.push(format!(
                "The medoids' paths are not drawn: the run's scenario.resolved.toml does not load ({e})."
            ));
            return traces;
        }
    };
    let model = match &run.tilt {
        // A tilted run's paths are drawn under its tilt: so are their replays.
        Some(tilt) => match Model::new(&scenario).tilted(tilt) {
            Ok(model) => model,
            Err(e) => {
                traces.notes.push(format!(
                    "The medoids' paths are not drawn: the run's tilt does not fit its scenario ({e})."
                ));
                return traces;
            }
        },
        None => Model::new(&scenario),
    };
    traces.dates = scenario.dates.clone();
    let column = &result.breach.column;
    let book_prefix = ["portfolio.", "strategy."]
        .iter()
        .find_map(|kind| {
            let rest = column.strip_prefix(kind)?;
            let name = rest.rsplit_once('.')?.0;
            Some(format!("{kind}{name}"))
        })
        .filter(|prefix| !prefix.contains(".position."));
    let book = book_prefix
        .as_ref()
        .and_then(|prefix| load_book(dir, &scenario, &model, prefix, &mut traces.notes));
    let tracker = book
        .as_ref()
        .map(|p| PortfolioTracker::new(&scenario, &model, std::slice::from_ref(p)));
    let markets: Vec<(usize, &str)> = TRACED_MARKETS
        .iter()
        .filter_map(|(name, label)| {
            let a = model
                .assets
                .iter()
                .position(|a| a.name == *name && a.is_log)?;
            Some((a, *label))
        })
        .collect();
    let mut book_lines = Vec::new();
    let mut market_lines = vec![Vec::new(); markets.len()];
    let mut mismatched = Vec::new();
    for medoid in &result.medoids {
        let mut levels = vec![Vec::new(); markets.len()];
        let mut book_line = Vec::new();
        let mut batch = tracker.as_ref().map(|t| (t.new_batch(1), t.columns_of()));
        let mut last_row = Vec::new();
        engine::replay(&model, run.seed, medoid.path as u64, |t, lanes| {
            for (line, (a, _)) in levels.iter_mut().zip(&markets) {
                line.push(model.assets[*a].level(lanes.asset(*a)[0]));
            }
            if let Some((batch, names)) = batch.as_mut() {
                use stormglass_core::engine::BatchObserver;
                if t == 0 {
                    batch.start(lanes);
                    book_line.push(0.0);
                    return;
                }
                batch.push(lanes, t - 1);
                let mut row = vec![0.0; names.len()];
                batch.finish(&mut row, names.len(), 0);
                let at = |metric: &str| {
                    let prefix = book_prefix.as_deref().unwrap_or_default();
                    names
                        .iter()
                        .position(|n| *n == format!("{prefix}.{metric}"))
                        .map_or(f64::NAN, |c| row[c])
                };
                book_line.push(at("pnl"));
                last_row = row;
            }
        });
        // The replay must reproduce the run's own figure for the path.
        let replayed = match &tracker {
            Some(t) => t
                .columns_of()
                .iter()
                .position(|n| n == column)
                .map(|c| last_row[c]),
            None => None,
        };
        if let Some(replayed) = replayed {
            if !(replayed == medoid.value || (replayed - medoid.value).abs() <= 1e-9) {
                mismatched.push(medoid.path);
            }
        }
        for (line, levels) in market_lines.iter_mut().zip(levels) {
            let start = levels.first().copied().unwrap_or(f64::NAN);
            line.push(levels.iter().map(|l| l / start - 1.0).collect());
        }
        if tracker.is_some() {
            book_lines.push(book_line);
        }
    }
    if !mismatched.is_empty() {
        traces.notes.push(format!(
            "The replays of paths {mismatched:?} do not reproduce the run's `{column}`: the scenario or book files changed since the run; the lines drawn are today's files' paths."
        ));
    }
    if let Some(prefix) = &book_prefix {
        if !book_lines.is_empty() {
            traces
                .panels
                .push((format!("{} (P&L from the start)", prefix), book_lines));
        }
    }
    for ((_, label), lines) in markets.iter().zip(market_lines) {
        traces.panels.push((label.to_string(), lines));
    }
    traces
}

/// The seed of a run tilted toward a breach: the plain run's with the bits
/// of "tilt" flipped, so that its paths are independent of the plain run's
/// (and the two estimates' errors add), yet fixed by the recorded seed.
pub fn tilted_seed(seed: u64) -> u64 {
    seed ^ 0x7469_6c74
}

/// The recipe that re-runs the finished run in `dir` under `tilt`: its
/// `scenario.resolved.toml`, the book files it read (as `summary.json`
/// records them; a book written inline in the scenario is not re-valued),
/// `paths` paths and the tilted seed. [`check_rerun_books`] then checks
/// that the books are the run's.
pub fn tilted_recipe(
    dir: &Path,
    run: &FinishedRun,
    tilt: stormglass_core::model::Tilt,
    paths: u64,
) -> Recipe {
    let portfolios = book_origins(dir)
        .into_iter()
        .map(|origin| PathBuf::from(origin.origin))
        .filter(|path| path.is_file())
        .collect();
    Recipe {
        scenario: dir.join("scenario.resolved.toml"),
        paths: Some(paths),
        seed: Some(tilted_seed(run.seed)),
        sample_paths: Some(0),
        portfolios,
        no_portfolios: true,
        tilt: Some(tilt),
        ..Recipe::default()
    }
}

/// Why a tilted re-run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RerunError {
    #[error(transparent)]
    Recipe(#[from] stormglass_core::RecipeError),
    #[error(transparent)]
    Scenario(#[from] stormglass_core::scenario::ScenarioError),
    #[error(transparent)]
    Engine(#[from] stormglass_core::engine::EngineError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Finished(#[from] super::finished::FinishedError),
    #[error(transparent)]
    Reverse(#[from] stormglass_core::views::reverse::ReverseError),
    /// Nothing to tilt toward, or the run's books cannot be valued again.
    #[error("{0}")]
    Input(String),
}

impl stormglass_core::UserFixable for RerunError {
    fn is_user_fixable(&self) -> bool {
        match self {
            RerunError::Recipe(e) => e.is_user_fixable(),
            RerunError::Scenario(e) => e.is_user_fixable(),
            RerunError::Engine(e) => e.is_user_fixable(),
            RerunError::Output(e) => e.is_user_fixable(),
            RerunError::Finished(e) => e.is_user_fixable(),
            RerunError::Reverse(e) => e.is_user_fixable(),
            RerunError::Input(_) => true,
        }
    }
}

/// A run tilted toward a breach, written and read back.
pub struct TiltedRun {
    pub dir: PathBuf,
    pub run: FinishedRun,
    pub table: stormglass_core::views::PathTable,
}

/// Re-runs the finished run in `dir` (whose table is `table`) tilted toward
/// `breach` ([`reverse::tilt_toward`]): `paths` paths (the run's by
/// default) under [`tilted_seed`], written with its per-path table into
/// `tilted_dir` and read back, its paths weighted by their likelihood
/// ratios. `announce` hears the tilt and seed before the paths run.
#[allow(clippy::too_many_arguments)]
pub fn tilted_rerun(
    dir: &Path,
    run: &FinishedRun,
    table: &stormglass_core::views::PathTable,
    breach: &stormglass_core::views::reverse::Breach,
    paths: Option<u64>,
    threads: usize,
    tilted_dir: &Path,
    force: bool,
    progress: &dyn engine::Progress,
    announce: &dyn Fn(&Recipe, u64),
) -> Result<TiltedRun, RerunError> {
    use stormglass_core::views::reverse;
    stormglass_core::output::check_target(tilted_dir, force)?;
    let scenario = stormglass_core::scenario::load(&dir.join("scenario.resolved.toml"))?;
    let tilt = reverse::tilt_toward(table, breach, &Model::new(&scenario))?;
    if tilt.is_neutral() {
        return Err(RerunError::Input(format!(
            "no regime or Poisson event is more frequent on the paths where {} than on all paths: there is nothing to tilt toward (run more paths instead)",
            breach.description
        )));
    }
    let recipe = tilted_recipe(dir, run, tilt, paths.unwrap_or(run.paths));
    let prepared = recipe.prepare(threads)?;
    check_rerun_books(dir, &prepared.book.portfolios, &breach.column).map_err(RerunError::Input)?;
    prepared.check_memory()?;
    announce(&recipe, prepared.options.paths);
    let simulation = prepared.simulate(progress)?;
    let summary = prepared.summarise(&simulation);
    let tables = if run.table_file.extension().is_some_and(|e| e == "parquet") {
        crate::TableFormat::Parquet
    } else {
        crate::TableFormat::Csv
    };
    crate::write_run(
        tilted_dir,
        &prepared.scenario,
        &prepared.model,
        &simulation,
        &summary,
        crate::OutputOptions {
            paths_metrics: true,
            tables,
            force,
        },
    )?;
    let tilted = FinishedRun::open(tilted_dir)?;
    let table = tilted.load(&tilted.columns)?;
    Ok(TiltedRun {
        dir: tilted_dir.to_path_buf(),
        run: tilted,
        table,
    })
}

/// The books the run in `dir` valued, as its `summary.json` records them.
fn book_origins(dir: &Path) -> Vec<BookOrigin> {
    std::fs::read_to_string(dir.join("summary.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<BookOrigins>(&text).ok())
        .map(|o| o.portfolios)
        .unwrap_or_default()
}

/// Refuses a re-run whose book files changed since the run in `dir`, or
/// that lacks the book the breach names (`column`).
pub fn check_rerun_books(
    dir: &Path,
    books: &[portfolio::Portfolio],
    column: &str,
) -> Result<(), String> {
    for origin in book_origins(dir) {
        if let Some(book) = books.iter().find(|b| b.name == origin.name) {
            if book.hash != origin.sha256 {
                return Err(format!(
                    "{}: the book `{}` has changed since the run (its sha256 differs); a tilted re-run must value the run's own books",
                    origin.origin, origin.name
                ));
            }
        }
    }
    let named = ["portfolio.", "strategy."].iter().find_map(|kind| {
        let name = column.strip_prefix(kind)?.rsplit_once('.')?.0;
        Some(name.to_string())
    });
    match named {
        Some(name) if !books.iter().any(|b| b.name == name) => Err(format!(
            "the book `{name}` cannot be re-valued: the run read it from a file not found from here, or from the scenario itself; run the command from the folder the run was made in"
        )),
        _ => Ok(()),
    }
}

/// The book `prefix` names, from the file the run read (as `summary.json`
/// records it), if it is still there with the same hash.
fn load_book(
    dir: &Path,
    scenario: &stormglass_core::scenario::Scenario,
    model: &Model,
    prefix: &str,
    notes: &mut Vec<String>,
) -> Option<portfolio::Portfolio> {
    let name = prefix.split_once('.')?.1;
    let text = std::fs::read_to_string(dir.join("summary.json")).ok()?;
    let origins: BookOrigins = serde_json::from_str(&text).ok()?;
    let origin = origins.portfolios.into_iter().find(|b| b.name == name)?;
    let files = BookFiles {
        portfolios: vec![PathBuf::from(&origin.origin)],
        skip_scenario: true,
        ..BookFiles::default()
    };
    let loaded = portfolio::load(scenario, model, &files)
        .ok()
        .and_then(|book| book.portfolios.into_iter().find(|p| p.name == name));
    match loaded {
        Some(p) if p.hash == origin.sha256 => Some(p),
        Some(_) => {
            notes.push(format!(
                "The book's line is not drawn: {} has changed since the run (its sha256 differs).",
                origin.origin
            ));
            None
        }
        None => {
            notes.push(format!("The book's line is not drawn: the run read it from {}, which does not load from here (run the command from the folder the run was made in).", origin.origin));
            None
        }
    }
}

/// What `reverse_stress.json` holds: the run, the breach, and every figure.
#[derive(Serialize)]
struct ReverseFile<'a> {
    engine: &'static str,
    version: &'static str,
    command: &'a str,
    run_dir: String,
    scenario: ScenarioRef<'a>,
    seed: u64,
    paths: u64,
    min_breaching_paths: usize,
    advice: Option<String>,
    /// On a run tilted toward the breach: its tilt, and the plain run it was
    /// chosen from with that run's own estimate.
    #[serde(skip_serializing_if = "Option::is_none")]
    tilt: Option<&'a stormglass_core::model::Tilt>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plain_run: Option<&'a PlainEstimate>,
    /// How many plain paths a tilted one is worth ([`paths_worth`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    tilted_path_worth: Option<f64>,
    #[serde(flatten)]
    result: &'a ReverseStress,
}

/// The plain run a tilted one was chosen from, and its own estimate of the
/// breach's probability.
#[derive(Debug, Clone, Serialize)]
pub struct PlainEstimate {
    pub run_dir: String,
    pub seed: u64,
    pub paths: u64,
    pub breaching: usize,
    pub probability: f64,
    pub standard_error: f64,
}

/// How many plain paths one tilted path is worth for the breach's
/// probability: the plain estimate's variance per path over the tilted
/// one's, `(se_plain² n_plain) / (se_tilted² n_tilted)`. Above 1 the tilt
/// paid for itself; below, more plain paths would have done better.
pub fn paths_worth(plain: &PlainEstimate, importance: &ImportanceSampling, paths: u64) -> f64 {
    let plain_variance = plain.standard_error.powi(2) * plain.paths as f64;
    let tilted_variance = importance.standard_error.powi(2) * paths as f64;
    plain_variance / tilted_variance
}

/// [`paths_worth`] in words.
pub fn tilt_verdict(worth: f64) -> String {
    if !worth.is_finite() {
        return "Without a breach in both runs the two cannot be compared.".into();
    }
    if worth > 1.0 {
        format!(
            "A tilted path is worth {worth:.1} plain ones for this probability: the tilt paid for itself."
        )
    } else {
        format!(
            "A tilted path is worth {worth:.2} plain ones for this probability: the tilt did not help (the breach is driven by what it does not raise: diffusion, jumps, drawdown-triggered events); run more plain paths instead."
        )
    }
}

impl PlainEstimate {
    pub fn new(run_dir: &Path, run: &FinishedRun, result: &ReverseStress) -> PlainEstimate {
        PlainEstimate {
            run_dir: run_dir.display().to_string(),
            seed: run.seed,
            paths: run.paths,
            breaching: result.breaching,
            probability: result.probability,
            standard_error: result.standard_error,
        }
    }
}

/// The command that re-runs `command` tilted toward the breach.
fn tilted_command(command: &str) -> String {
    if command.starts_with("stormglass.") {
        // Python: the same call, with the keyword.
        "sg.reverse_stress(..., tilt=True)".to_string()
    } else {
        format!("{command} --tilt")
    }
}

#[derive(Serialize)]
struct ScenarioRef<'a> {
    name: &'a str,
    hash: &'a str,
}

/// What to say when too few paths breach: the exact command that re-runs
/// `command` tilted toward the breach, or how many paths a larger run would
/// need; on a tilted run, how many paths the tilted re-run would need.
pub fn advice(result: &ReverseStress, command: &str) -> Option<String> {
    if result.enough_paths {
        return None;
    }
    let share = result.breaching as f64 / result.paths as f64;
    if result.importance_sampling.is_some() {
        let needed = (MIN_BREACHING_PATHS as f64 / share).ceil() as u64;
        return Some(format!(
            "Only {} of the tilted run's {} paths breach (fewer than {MIN_BREACHING_PATHS}): the conditional figures are noisy. Re-run it with --paths {} or more: {command}",
            result.breaching,
            result.paths,
            round_up(needed)
        ));
    }
    let needed = if result.probability > 0.0 {
        (MIN_BREACHING_PATHS as f64 / result.probability).ceil() as u64
    } else {
        0
    };
    Some(format!(
        "Only {} of {} paths breach (fewer than {MIN_BREACHING_PATHS}): the conditional figures are noisy. Re-run the scenario tilted toward the breach (importance sampling: the regimes and events the breaching paths share made more frequent, every figure reweighted by the paths' likelihood ratios so it stays unbiased): {}. Or run the scenario again with --paths {} or more (about {MIN_BREACHING_PATHS} breaching paths at this probability), with --paths-csv always above 100,000 paths.",
        result.breaching,
        result.paths,
        tilted_command(command),
        round_up(needed)
    ))
}

/// `n` rounded up to two significant digits, for a path count people type.
fn round_up(n: u64) -> u64 {
    let mut scale = 1;
    while n / scale >= 100 {
        scale *= 10;
    }
    n.div_ceil(scale) * scale
}

/// The tables a reverse stress test writes, by name.
pub const TABLES: [&str; 3] = ["common", "frontier", "medoids"];

/// The table `name` (one of [`TABLES`]), or `None`.
pub fn sheet(result: &ReverseStress, name: &str) -> Option<Sheet> {
    match name {
        "common" => Some(common_sheet(result)),
        "frontier" => Some(frontier_sheet(result)),
        "medoids" => Some(medoids_sheet(result)),
        _ => None,
    }
}

/// The ranked table (`common.csv`, `.parquet`).
pub fn common_sheet(result: &ReverseStress) -> Sheet {
    let c = &result.common;
    let mut sheet = Sheet::default();
    let numbers = |f: fn(&stormglass_core::views::reverse::Departure) -> f64| {
        c.iter().map(f).collect::<Vec<f64>>()
    };
    sheet.number("rank", (1..=c.len()).map(|r| r as f64).collect());
    sheet.text("column", c.iter().map(|d| d.column.clone()).collect());
    sheet.text("group", c.iter().map(|d| group_name(d.group)).collect());
    sheet.number("breach_mean", numbers(|d| d.breach_mean));
    sheet.number("breach_se", numbers(|d| d.breach_se));
    sheet.number("all_mean", numbers(|d| d.all_mean));
    sheet.number("difference", numbers(|d| d.difference));
    sheet.number("difference_se", numbers(|d| d.difference_se));
    sheet.number("shift_sd", numbers(|d| d.shift_sd));
    sheet.number("z", numbers(|d| d.z));
    sheet.number("breach_present", numbers(|d| d.breach_present));
    sheet.number("all_present", numbers(|d| d.all_present));
    sheet
}

fn group_name(group: Group) -> String {
    serde_json::to_value(group)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

pub fn frontier_sheet(result: &ReverseStress) -> Sheet {
    let f = &result.frontier;
    let mut sheet = Sheet::default();
    sheet.number("threshold", f.iter().map(|p| p.threshold).collect());
    sheet.number("probability", f.iter().map(|p| p.probability).collect());
    sheet.number(
        "standard_error",
        f.iter().map(|p| p.standard_error).collect(),
    );
    sheet.number("breaching", f.iter().map(|p| p.breaching as f64).collect());
    sheet.number(
        "relative_entropy",
        f.iter()
            .map(|p| p.relative_entropy.unwrap_or(f64::NAN))
            .collect(),
    );
    sheet.number(
        "effective_scenarios",
        f.iter()
            .map(|p| p.effective_scenarios.unwrap_or(f64::NAN))
            .collect(),
    );
    sheet
}

pub fn medoids_sheet(result: &ReverseStress) -> Sheet {
    let m = &result.medoids;
    let mut sheet = Sheet::default();
    sheet.number("path", m.iter().map(|x| x.path as f64).collect());
    sheet.number("share", m.iter().map(|x| x.share).collect());
    sheet.number("members", m.iter().map(|x| x.members as f64).collect());
    sheet.number(&result.breach.column, m.iter().map(|x| x.value).collect());
    for (i, name) in result.medoid_columns.iter().enumerate() {
        sheet.number(name, m.iter().map(|x| x.figures[i]).collect());
    }
    sheet
}

/// `reverse_stress.json`'s text.
pub fn json(
    run_dir: &Path,
    run: &FinishedRun,
    result: &ReverseStress,
    command: &str,
    plain: Option<&PlainEstimate>,
) -> String {
    let file = record(run_dir, run, result, command, plain);
    serde_json::to_string_pretty(&file).unwrap_or_default()
}

fn record<'a>(
    run_dir: &Path,
    run: &'a FinishedRun,
    result: &'a ReverseStress,
    command: &'a str,
    plain: Option<&'a PlainEstimate>,
) -> ReverseFile<'a> {
    ReverseFile {
        engine: "stormglass",
        version: stormglass_core::VERSION,
        command,
        run_dir: run_dir.display().to_string(),
        scenario: ScenarioRef {
            name: &run.scenario_name,
            hash: &run.scenario_hash,
        },
        seed: run.seed,
        paths: run.paths,
        min_breaching_paths: MIN_BREACHING_PATHS,
        advice: advice(result, command),
        tilt: run.tilt.as_ref(),
        plain_run: plain,
        tilted_path_worth: plain
            .zip(result.importance_sampling.as_ref())
            .map(|(plain, importance)| paths_worth(plain, importance, run.paths)),
        result,
    }
}

/// Writes the reverse stress test's files and page into `dir`, atomically;
/// returns the charts drawn. `plain` is the plain run a tilted `run` was
/// chosen from.
#[allow(clippy::too_many_arguments)]
pub fn write_reverse_stress(
    dir: &Path,
    force: bool,
    run_dir: &Path,
    run: &FinishedRun,
    result: &ReverseStress,
    traces: &Traces,
    command: &str,
    plain: Option<&PlainEstimate>,
) -> Result<usize, OutputError> {
    let charts = reverse_charts(result, traces)?;
    let page = reverse_page(run_dir, run, result, traces, &charts, command, plain);
    let file = record(run_dir, run, result, command, plain);
    let sheets: Vec<(&str, Sheet)> = TABLES
        .iter()
        .filter_map(|name| Some((*name, sheet(result, name)?)))
        .collect();
    write_atomically(dir, force, |staging| {
        write_with(&staging.join("reverse_stress.json"), |out| {
            serde_json::to_writer_pretty(&mut *out, &file).map_err(io::Error::other)?;
            writeln!(out)
        })?;
        for (name, sheet) in &sheets {
            write_with(&staging.join(format!("{name}.csv")), |out| {
                sheet.write_csv(out)
            })?;
        }
        write_parquet_file(
            &staging.join("common.parquet"),
            columnar::run_sheet(
                sheets[0].1.clone(),
                &run.scenario_name,
                &run.scenario_hash,
                run.seed,
                run.paths,
            ),
        )?;
        write_report(staging, "reverse_stress.html", &page, &charts)
    })?;
    Ok(charts.len())
}

fn chart_error(e: super::charts::ChartError) -> OutputError {
    OutputError::Render(Box::new(e))
}

/// How severity reads on the frontier: a loss as a positive fraction.
fn severity(result: &ReverseStress, threshold: f64) -> f64 {
    if is_loss(result) {
        -threshold
    } else {
        threshold
    }
}

/// A breach on a return at most minus a loss, drawn as the loss.
fn is_loss(result: &ReverseStress) -> bool {
    let column = &result.breach.column;
    (column.ends_with(".pnl") || column.ends_with(".terminal_return"))
        && result.breach.side == Side::AtMost
}

fn reverse_charts(result: &ReverseStress, traces: &Traces) -> Result<Vec<Chart>, OutputError> {
    let mut charts = Vec::new();
    if !result.frontier.is_empty() {
        let f = &result.frontier;
        let x: Vec<f64> = f.iter().map(|p| severity(result, p.threshold)).collect();
        let probability: Vec<f64> = f.iter().map(|p| p.probability).collect();
        let se: Vec<f64> = f.iter().map(|p| p.standard_error).collect();
        let entropy: Vec<f64> = f
            .iter()
            .map(|p| p.relative_entropy.unwrap_or(f64::NAN))
            .collect();
        let column = &result.breach.column;
        let fraction =
            column.ends_with(".pnl") || column.ends_with("drawdown") || column.ends_with("_return");
        let axis = if is_loss(result) {
            format!("loss: {column} at or below minus it")
        } else {
            let side = match result.breach.side {
                Side::AtMost => "at most",
                Side::AtLeast => "at least",
            };
            format!("{column} {side}")
        };
        charts.push(
            draw::frontier(&Frontier {
                axis,
                fraction,
                severity: &x,
                probability: &probability,
                standard_error: &se,
                relative_entropy: &entropy,
                asked: severity(result, result.breach.threshold),
            })
            .map_err(chart_error)?,
        );
    }
    if !traces.panels.is_empty() && !result.medoids.is_empty() {
        let labels: Vec<String> = result
            .medoids
            .iter()
            .map(|m| format!("path {} ({:.0}%)", m.path, m.share * 100.0))
            .collect();
        charts.push(
            draw::medoid_paths(&MedoidPaths {
                dates: &traces.dates,
                panels: &traces.panels,
                labels: &labels,
            })
            .map_err(chart_error)?,
        );
    }
    Ok(charts)
}

/// A number to four significant digits, for the page.
pub fn number(x: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    if x == 0.0 {
        return "0".into();
    }
    let digits = (3 - x.abs().log10().floor() as i32).clamp(0, 8) as usize;
    format!("{x:.digits$}")
}

/// Rows of the page's table shown per group.
const ROWS_PER_GROUP: usize = 12;

fn reverse_page(
    run_dir: &Path,
    run: &FinishedRun,
    result: &ReverseStress,
    traces: &Traces,
    charts: &[Chart],
    command: &str,
    plain: Option<&PlainEstimate>,
) -> String {
    let mut page = Page::new(&format!(
        "Stormglass reverse stress test: {}",
        run.scenario_name
    ));
    page.heading(
        1,
        "top",
        &format!("Reverse stress test: {}", result.breach.description),
    );
    page.paragraph(
        "meta",
        &format!(
            "Run {} (scenario {}, hash {}; {} paths, seed {}; Stormglass {} wrote it). Command: {command}. Stormglass {}.",
            run_dir.display(),
            run.scenario_name,
            run.scenario_hash,
            run.paths,
            run.seed,
            run.version,
            stormglass_core::VERSION
        ),
    );
    page.heading(2, "probability", "How likely it is");
    page.paragraph(
        "description",
        &format!(
            "{} on {} of {} paths: a probability of {:.3}% ± {:.3}% (one standard error; {}).",
            capitalised(&result.breach.description),
            result.breaching,
            result.paths,
            result.probability * 100.0,
            result.standard_error * 100.0,
            if (result.effective_breaching - result.breaching as f64).abs() < 1e-6 {
                "every path equally likely".to_string()
            } else {
                format!(
                    "weighted by the run's prior, {:.0} effective breaching paths",
                    result.effective_breaching
                )
            }
        ),
    );
    if let Some(importance) = &result.importance_sampling {
        page.paragraph("description", &importance_text(run, importance, plain));
    }
    if let Some(advice) = advice(result, command) {
        page.push(&format!(
            "<p class=\"description\"><strong>Too few breaching paths.</strong> {}</p>\n",
            escape(&advice)
        ));
    }
    page.heading(2, "common", "What the breaching paths have in common");
    page.paragraph(
        "note",
        "Each figure's mean over the breaching paths (the most likely scenario given the breach) against its mean over all paths, ranked by the difference in the figure's standard deviations over all paths. ± is one standard error (delta method over the paths' weights; the difference's error counts the paths the two means share). |z| below 2 is not told apart from noise. common.csv has every figure.",
    );
    for group in Group::ALL {
        let rows: Vec<Vec<String>> = result
            .common
            .iter()
            .filter(|d| d.group == group)
            .take(ROWS_PER_GROUP)
            .map(|d| {
                vec![
                    d.column.clone(),
                    format!("{} ± {}", number(d.breach_mean), number(d.breach_se)),
                    number(d.all_mean),
                    format!("{} ± {}", number(d.difference), number(d.difference_se)),
                    format!("{:+.2}", d.shift_sd),
                    format!("{:+.1}", d.z),
                ]
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        page.heading(3, &format!("common-{}", group_name(group)), group.title());
        page.table(
            "numbers",
            &[
                "figure".into(),
                "given the breach".into(),
                "all paths".into(),
                "difference".into(),
                "shift (sd)".into(),
                "z".into(),
            ],
            &rows,
        );
    }
    if !result.medoids.is_empty() {
        page.heading(2, "medoids", "Representative breaching paths");
        let mut text = String::new();
        let _ = write!(
            text,
            "The {} medoids of the breaching paths (k-medoids on each path's markets' ends, time in each regime and event firings, standardised): each is a real path of the run, the one nearest to the breaching paths it stands for. Their share of the breaching probability and their figures:",
            result.medoids.len()
        );
        page.paragraph("note", &text);
        let mut header = vec![
            "path".to_string(),
            "share".into(),
            result.breach.column.clone(),
        ];
        header.extend(result.medoid_columns.iter().cloned());
        let rows: Vec<Vec<String>> = result
            .medoids
            .iter()
            .map(|m| {
                let mut row = vec![
                    m.path.to_string(),
                    format!("{:.0}%", m.share * 100.0),
                    number(m.value),
                ];
                row.extend(m.figures.iter().map(|v| number(*v)));
                row
            })
            .collect();
        page.push("<div style=\"overflow-x: auto\">");
        page.table("numbers", &header, &rows);
        page.push("</div>\n");
    }
    for note in &traces.notes {
        page.paragraph("note", note);
    }
    page.charts(charts, &[]);
    page.finish()
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What a tilted run's figures rest on: its tilt, the importance-sampling
/// estimate with its error and effective paths, the mean ratio, and the
/// plain run's estimate beside them.
fn importance_text(
    run: &FinishedRun,
    importance: &ImportanceSampling,
    plain: Option<&PlainEstimate>,
) -> String {
    let mut text = format!(
        "The paths were drawn tilted toward the breach ({}) and every figure is weighted by the paths' likelihood ratios, so it is the scenario's own. Importance-sampling estimate (1/n) Σ LR·1{{breach}}: {:.4}% ± {:.4}% (one standard error); the ratios are worth {:.0} equally likely paths of {}; their mean is {:.3} ± {:.3} (1 expected).",
        run.tilt.clone().unwrap_or_default(),
        importance.probability * 100.0,
        importance.standard_error * 100.0,
        importance.effective_paths,
        run.paths,
        importance.mean_ratio,
        importance.mean_ratio_se,
    );
    if let Some(plain) = plain {
        let _ = write!(
            text,
            " The plain run the tilt was chosen from ({}, seed {}) has {} breaching paths of {}: {:.4}% ± {:.4}%.",
            plain.run_dir,
            plain.seed,
            plain.breaching,
            plain.paths,
            plain.probability * 100.0,
            plain.standard_error * 100.0
        );
        text.push(' ');
        text.push_str(&tilt_verdict(paths_worth(plain, importance, run.paths)));
    }
    text
}

/// The console summary: the breach's probability and the leading departures.
pub fn console_lines(result: &ReverseStress, command: &str) -> Vec<String> {
    let mut lines = vec![format!(
        "{}: {} of {} paths, probability {:.3}% ± {:.3}% (1 se)",
        result.breach.description,
        result.breaching,
        result.paths,
        result.probability * 100.0,
        result.standard_error * 100.0
    )];
    if let Some(importance) = &result.importance_sampling {
        lines.push(format!(
            "tilted run: importance-sampling estimate {:.4}% ± {:.4}% (1 se), effective paths {:.0} of {}, mean likelihood ratio {:.3} ± {:.3}",
            importance.probability * 100.0,
            importance.standard_error * 100.0,
            importance.effective_paths,
            result.paths,
            importance.mean_ratio,
            importance.mean_ratio_se
        ));
    }
    if let Some(advice) = advice(result, command) {
        lines.push(format!("warning: {advice}"));
    }
    lines.push(format!(
        "{:<56} {:>12} {:>12} {:>9}",
        "given the breach, against all paths", "breach mean", "all paths", "shift sd"
    ));
    // The drivers first, a few of each: the books' own figures echo the
    // breach and lead any overall ranking.
    for group in CONSOLE_GROUPS {
        for d in result
            .common
            .iter()
            .filter(|d| d.group == group)
            .take(CONSOLE_ROWS)
        {
            lines.push(format!(
                "{:<56} {:>12} {:>12} {:>+9.2}",
                format!("{}: {}", group.title(), d.column),
                number(d.breach_mean),
                number(d.all_mean),
                d.shift_sd
            ));
        }
    }
    lines
}

/// The groups the console shows, and the rows of each.
const CONSOLE_GROUPS: [Group; 4] = [Group::Regimes, Group::Events, Group::Signals, Group::Assets];
const CONSOLE_ROWS: usize = 3;
