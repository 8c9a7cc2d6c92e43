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
use stormglass_core::views::reverse::{Group, ReverseStress, Side, MIN_BREACHING_PATHS};

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
    let model = Model::new(&scenario);
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
    #[serde(flatten)]
    result: &'a ReverseStress,
}

#[derive(Serialize)]
struct ScenarioRef<'a> {
    name: &'a str,
    hash: &'a str,
}

/// What to say when too few paths breach: how many a larger run would give.
pub fn advice(result: &ReverseStress) -> Option<String> {
    if result.enough_paths {
        return None;
    }
    let needed = if result.probability > 0.0 {
        (MIN_BREACHING_PATHS as f64 / result.probability).ceil() as u64
    } else {
        0
    };
    Some(format!(
        "Only {} of {} paths breach (fewer than {MIN_BREACHING_PATHS}): the conditional figures are noisy. Run the scenario again with --paths {} or more (about {MIN_BREACHING_PATHS} breaching paths at this probability), with --paths-csv always above 100,000 paths.",
        result.breaching,
        result.paths,
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
pub fn json(run_dir: &Path, run: &FinishedRun, result: &ReverseStress, command: &str) -> String {
    let file = record(run_dir, run, result, command);
    serde_json::to_string_pretty(&file).unwrap_or_default()
}

fn record<'a>(
    run_dir: &Path,
    run: &'a FinishedRun,
    result: &'a ReverseStress,
    command: &'a str,
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
        advice: advice(result),
        result,
    }
}

/// Writes the reverse stress test's files and page into `dir`, atomically;
/// returns the charts drawn.
pub fn write_reverse_stress(
    dir: &Path,
    force: bool,
    run_dir: &Path,
    run: &FinishedRun,
    result: &ReverseStress,
    traces: &Traces,
    command: &str,
) -> Result<usize, OutputError> {
    let charts = reverse_charts(result, traces)?;
    let page = reverse_page(run_dir, run, result, traces, &charts, command);
    let file = record(run_dir, run, result, command);
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
    if let Some(advice) = advice(result) {
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

/// The console summary: the breach's probability and the leading departures.
pub fn console_lines(result: &ReverseStress) -> Vec<String> {
    let mut lines = vec![format!(
        "{}: {} of {} paths, probability {:.3}% ± {:.3}% (1 se)",
        result.breach.description,
        result.breaching,
        result.paths,
        result.probability * 100.0,
        result.standard_error * 100.0
    )];
    if let Some(advice) = advice(result) {
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
