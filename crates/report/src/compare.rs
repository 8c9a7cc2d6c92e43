//! `stormglass compare`: several runs side by side, from runs just made or from
//! finished run folders (their `summary.json`), as a report in the run report's
//! style: the key numbers in columns and the drawdown CDFs overlaid, and with
//! `--portfolio` one book's figures under every scenario with their paired
//! differences.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::attribution::value_text;
use super::charts::{self, drawdown_cdf_overlay, Scale};
use super::files::Written;
use super::html;
use super::page::write_report;
use super::page::Page;
use stormglass_core::attribute::Effect;
use stormglass_core::compare::{Difference, PortfolioComparison};
use stormglass_core::figures::paired::Unit;
use stormglass_core::figures::{KeyNumbers, Measured};
use stormglass_core::history::Realism;
use stormglass_core::output::{write_atomically, OutputError};
use stormglass_core::Summary;

/// One run in a comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Compared {
    pub label: String,
    pub description: String,
    /// Where it came from: a scenario file or a run folder.
    pub source: String,
    pub paths: u64,
    pub seed: u64,
    pub hash: String,
    /// The run's start date (absent in folders an older Stormglass wrote).
    pub as_of: Option<String>,
    /// The user's levels file's hash, where the run started from one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub levels_sha256: Option<String>,
    pub version: String,
    pub key_numbers: KeyNumbers,
    /// The run's realism section (absent in folders an older Stormglass wrote).
    pub realism: Option<Realism>,
    #[serde(skip)]
    pub drawdowns: Vec<ComparedDrawdown>,
}

/// An asset's max drawdown quantiles at 0%, 1%, ..., 100%.
#[derive(Debug, Clone, Deserialize)]
pub struct ComparedDrawdown {
    pub name: String,
    pub unit: String,
    /// The asset's process as summary.json writes it (`impliedvol` for the VIX).
    #[serde(default)]
    pub process: String,
    pub measured_as: String,
    pub max_drawdown_quantiles: Vec<f64>,
}

/// Why a run folder cannot be compared.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompareError {
    #[error("{}: no summary.json here; give a finished run folder (one `stormglass run` wrote) or a scenario .toml file", dir.display())]
    MissingSummary { dir: PathBuf },
    /// summary.json is not a readable regular file of UTF-8 text.
    #[error("{0}")]
    Input(stormglass_core::scenario::ScenarioError),
    #[error("{}: is not a valid Stormglass summary: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
}

/// The part of `summary.json` a comparison reads.
#[derive(Deserialize)]
struct SummaryFile {
    engine: String,
    version: String,
    scenario: ScenarioFile,
    seed: u64,
    paths: u64,
    assets: Vec<ComparedDrawdown>,
    key_numbers: KeyNumbers,
    #[serde(default)]
    realism: Option<Realism>,
}

#[derive(Deserialize)]
struct ScenarioFile {
    name: String,
    description: String,
    hash: String,
    #[serde(default)]
    start_date: Option<String>,
    #[serde(default)]
    levels: Option<LevelsFile>,
}

#[derive(Deserialize)]
struct LevelsFile {
    sha256: String,
}

impl Compared {
    /// A run made in this process.
    pub fn from_summary(summary: &Summary, source: &Path) -> Compared {
        Compared {
            label: summary.scenario.name.clone(),
            description: summary.scenario.description.clone(),
            source: source.display().to_string(),
            paths: summary.paths,
            seed: summary.seed,
            hash: summary.scenario.hash.clone(),
            as_of: Some(summary.scenario.start_date.clone()),
            levels_sha256: summary.scenario.levels.as_ref().map(|l| l.sha256.clone()),
            version: summary.version.to_string(),
            key_numbers: summary.key_numbers.clone(),
            realism: Some(summary.realism.clone()),
            drawdowns: summary
                .assets
                .iter()
                .map(|a| ComparedDrawdown {
                    name: a.name.clone(),
                    unit: a.unit.clone(),
                    process: a.process.clone(),
                    measured_as: a.measured_as.to_string(),
                    max_drawdown_quantiles: a.max_drawdown_quantiles.clone(),
                })
                .collect(),
        }
    }

    /// A finished run folder, from its `summary.json`.
    pub fn from_run_folder(dir: &Path) -> Result<Compared, CompareError> {
        let path = dir.join("summary.json");
        if !path.exists() {
            return Err(CompareError::MissingSummary {
                dir: dir.to_path_buf(),
            });
        }
        let text = stormglass_core::scenario::load::read_text_of(
            &path,
            stormglass_core::scenario::load::FileKind::RunSummary,
        )
        .map_err(CompareError::Input)?;
        let corrupt = |message: String| CompareError::Corrupt {
            path: path.clone(),
            message,
        };
        let mut deserializer = serde_json::Deserializer::from_str(&text);
        let file: SummaryFile =
            serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
                let at = e.path().to_string();
                let at = if at == "." || at == "?" {
                    String::new()
                } else {
                    format!(" (at `{at}`)")
                };
                let inner = e.into_inner();
                if inner.is_syntax() || inner.is_eof() {
                    corrupt(format!("not valid JSON: {inner}"))
                } else if inner.to_string().starts_with("missing field") {
                    corrupt(format!(
                        "{inner}{at}; it may come from an older Stormglass: run the scenario again"
                    ))
                } else {
                    corrupt(format!("{inner}{at}"))
                }
            })?;
        if file.engine != "stormglass" {
            return Err(corrupt(format!(
                "`engine` is {:?}, not \"stormglass\"",
                file.engine
            )));
        }
        Ok(Compared {
            label: file.scenario.name,
            description: file.scenario.description,
            source: dir.display().to_string(),
            paths: file.paths,
            seed: file.seed,
            hash: file.scenario.hash,
            as_of: file.scenario.start_date,
            levels_sha256: file.scenario.levels.map(|l| l.sha256),
            version: file.version,
            key_numbers: file.key_numbers,
            realism: file.realism,
            drawdowns: file.assets,
        })
    }
}

/// Makes labels unique: a second run of the same scenario becomes `name (2)`.
pub fn unique_labels(runs: &mut [Compared]) {
    let mut seen: Vec<String> = Vec::new();
    for run in runs.iter_mut() {
        let mut label = run.label.clone();
        let mut n = 1;
        while seen.contains(&label) {
            n += 1;
            label = format!("{} ({n})", run.label);
        }
        seen.push(label.clone());
        run.label = label;
    }
}

/// The default folder name: `compare-<label>-<label>...`.
pub fn default_folder(runs: &[Compared]) -> String {
    let names: Vec<String> = runs
        .iter()
        .map(|r| {
            r.label
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect()
        })
        .collect();
    format!("compare-{}", names.join("-"))
}

#[derive(Serialize)]
struct ComparisonFile<'a> {
    engine: &'static str,
    version: &'static str,
    runs: &'a [Compared],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    portfolios: &'a [PortfolioComparison],
}

/// Writes `compare.html`, `comparison.json` and the charts into `dir`,
/// atomically, and with `portfolios` (`compare --portfolio`)
/// `portfolio_comparison.csv`.
pub fn write_comparison(
    dir: &Path,
    runs: &[Compared],
    portfolios: &[PortfolioComparison],
    force: bool,
) -> Result<Written, OutputError> {
    write_atomically(dir, force, |staging| {
        let started = std::time::Instant::now();
        let record = ComparisonFile {
            engine: "stormglass",
            version: stormglass_core::VERSION,
            runs,
            portfolios,
        };
        let json = serde_json::to_string_pretty(&record).unwrap_or_default();
        let path = staging.join("comparison.json");
        stormglass_core::output::write_staged(&path, |out| writeln!(out, "{json}"))?;
        if !portfolios.is_empty() {
            let csv = stormglass_core::compare::csv(portfolios);
            stormglass_core::output::write_staged(
                &staging.join("portfolio_comparison.csv"),
                |out| out.write_all(csv.as_bytes()),
            )?;
        }
        let (page, charts) = comparison_report(runs, portfolios)?;
        write_report(staging, "compare.html", &page, &charts)?;
        Ok(Written {
            report_seconds: started.elapsed().as_secs_f64(),
            charts: charts.len(),
        })
    })
}

/// `compare.html`, self-contained (its charts are inline SVG), and its charts.
pub fn comparison_report(
    runs: &[Compared],
    portfolios: &[PortfolioComparison],
) -> Result<(String, Vec<charts::Chart>), charts::ChartError> {
    let charts = charts::draw_all(drawdown_jobs(runs))?;
    Ok((comparison_page(runs, portfolios, &charts), charts))
}

/// Standard errors either side a value or a difference is shown with.
const SHOWN_SE: f64 = super::attribution::SHOWN_SE;

/// A value with its error: `-8.12% ± 0.31`.
pub(crate) fn measured_text(m: &Measured, unit: Unit) -> String {
    if !m.se.is_finite() {
        return value_text(m.value, unit, 2);
    }
    format!(
        "{} ± {}",
        value_text(m.value, unit, 2),
        value_text(SHOWN_SE * m.se, unit, 2).trim_end_matches('%')
    )
}

/// A difference with its error: `+1.20 ± 0.30 pp`.
fn difference_text(d: &Difference) -> String {
    super::attribution::effect_text(
        &Effect {
            off: f64::NAN,
            difference: d.value,
            se: d.se,
            independent_se: f64::NAN,
        },
        2,
    )
}

/// Each portfolio's figures in every run and each run's difference from the
/// first, as rows: the figure, then a value per run, then a difference per
/// later run.
pub fn portfolio_rows(c: &PortfolioComparison) -> (Vec<String>, Vec<Vec<String>>) {
    let first = c.runs.first().map_or("", String::as_str);
    let mut header = vec!["figure".to_string(), "name".to_string()];
    header.extend(c.runs.iter().cloned());
    header.extend(c.runs.iter().skip(1).map(|r| format!("{r} − {first}")));
    let rows = c
        .figures
        .iter()
        .map(|f| {
            let mut row = vec![f.label.clone(), f.name.clone()];
            row.extend(f.runs.iter().map(|m| measured_text(m, f.unit)));
            row.extend(f.differences.iter().flatten().map(difference_text));
            row
        })
        .collect();
    (header, rows)
}

fn portfolio_sections(page: &mut Page, portfolios: &[PortfolioComparison]) {
    for c in portfolios {
        page.heading(
            2,
            &format!("portfolio-{}", c.portfolio),
            &format!("Portfolio {} under every scenario", c.portfolio),
        );
        let about = if c.description.is_empty() {
            c.origin.clone()
        } else {
            format!("{} ({})", c.description, c.origin)
        };
        page.paragraph("description", &about);
        page.paragraph(
            "note",
            &format!(
                "Values and differences ± {SHOWN_SE} standard errors; returns, VaR, ES and drawdowns are fractions of the starting value, differences in percentage points. Differences are {}: {}.",
                if c.paired { "paired" } else { "unpaired" },
                c.pairing
            ),
        );
        let (header, rows) = portfolio_rows(c);
        page.table("portfolio-comparison", &header, &rows);
    }
}

fn drawdown_jobs(runs: &[Compared]) -> Vec<charts::Job<'static>> {
    let mut assets: Vec<&str> = Vec::new();
    for run in runs {
        for asset in &run.key_numbers.core_assets {
            if !assets.contains(&asset.as_str()) {
                assets.push(asset);
            }
        }
    }
    assets
        .into_iter()
        .filter_map(|asset| {
            let mut scale = None;
            let curves: Vec<(String, Vec<f64>)> = runs
                .iter()
                .filter_map(|run| {
                    let d = run.drawdowns.iter().find(|d| d.name == asset)?;
                    // A level's "drawdown" is a bond rally or a calming VIX:
                    // only prices are compared by their drawdowns.
                    if d.measured_as != "relative" {
                        return None;
                    }
                    let q: Vec<f64> = d.max_drawdown_quantiles.clone();
                    if q.len() < 2 || q.iter().any(|v| !v.is_finite()) {
                        return None;
                    }
                    scale.get_or_insert(Scale::of(
                        d.measured_as == "relative",
                        &d.unit,
                        d.process == "impliedvol",
                    ));
                    Some((run.label.clone(), q))
                })
                .collect();
            Some(drawdown_cdf_overlay(asset, scale?, curves))
        })
        .collect()
}

fn comparison_page(
    runs: &[Compared],
    portfolios: &[PortfolioComparison],
    charts: &[charts::Chart],
) -> String {
    let labels: Vec<&str> = runs.iter().map(|r| r.label.as_str()).collect();
    let title = format!("Comparison: {}", labels.join(" vs "));
    let mut page = Page::new(&title);
    page.heading(1, "top", &title);
    page.paragraph(
        "description",
        "The same key numbers and drawdown distributions for each run, side by side.",
    );
    page.heading(2, "runs", "Runs");
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                r.label.clone(),
                r.description.clone(),
                r.paths.to_string(),
                r.seed.to_string(),
                r.hash.chars().take(12).collect(),
                r.source.clone(),
            ]
        })
        .collect();
    page.table(
        "runs",
        &[
            "run".into(),
            "description".into(),
            "paths".into(),
            "seed".into(),
            "scenario SHA-256".into(),
            "from".into(),
        ],
        &rows,
    );
    page.heading(2, "key-numbers", "Key numbers");
    let columns: Vec<(String, u64, &KeyNumbers)> = runs
        .iter()
        .map(|r| (r.label.clone(), r.paths, &r.key_numbers))
        .collect();
    html::key_numbers(&mut page, &columns);
    let mut versions = String::new();
    for r in runs {
        let _ = write!(versions, "{} {}; ", r.label, r.version);
    }
    page.paragraph(
        "note",
        &format!("Stormglass versions: {}", versions.trim_end_matches("; ")),
    );
    let realisms: Vec<(&str, &Realism)> = runs
        .iter()
        .filter_map(|r| r.realism.as_ref().map(|x| (r.label.as_str(), x)))
        .collect();
    portfolio_sections(&mut page, portfolios);
    if let Some(section) = super::realism::comparison(&realisms) {
        page.heading(2, "realism", "Against history");
        page.push(&section);
    }
    page.charts(charts, &[]);
    page.finish()
}
