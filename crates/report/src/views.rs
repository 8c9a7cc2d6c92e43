//! The folder `stormglass views` writes: each path's posterior probability
//! (CSV and Parquet, to join to the run's per-path table by `path`),
//! `views.json`, the views and the figures under prior and posterior as CSV,
//! and `views.html` with a chart per viewed column and per book.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use serde::Serialize;

use super::charts::{self, Chart};
use super::finished::FinishedRun;
use super::page::{escape, write_report, Page};
use stormglass_core::output::{write_atomically, write_with, OutputError};
use stormglass_core::stats::WeightedSample;
use stormglass_core::views::{books, PathTable, PlanPoint, ViewsFile, ViewsOutcome};

/// Points of each prior and posterior curve.
const CURVE_POINTS: usize = 201;

/// What `views.json` records besides the outcome: where it came from.
#[derive(Debug, Serialize)]
pub struct Provenance {
    pub version: &'static str,
    /// The run's folder, or the plan's manifest whose parts were read.
    pub run: PathBuf,
    /// The plan's point whose parts were read (none for a run's folder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub point: Option<String>,
    pub scenario: String,
    pub scenario_hash: String,
    pub run_version: String,
    pub seed: u64,
    pub paths: u64,
    pub views_file: PathBuf,
    pub views_sha256: String,
    pub description: Option<String>,
}

#[derive(Serialize)]
struct Json<'a> {
    #[serde(flatten)]
    provenance: &'a Provenance,
    #[serde(flatten)]
    outcome: &'a ViewsOutcome,
}

impl Provenance {
    pub fn of(run: &FinishedRun, file: &ViewsFile) -> Provenance {
        Provenance {
            version: stormglass_core::VERSION,
            run: run.dir.clone(),
            point: None,
            scenario: run.scenario_name.clone(),
            scenario_hash: run.scenario_hash.clone(),
            run_version: run.version.clone(),
            seed: run.seed,
            paths: run.paths,
            views_file: file.path.clone(),
            views_sha256: file.sha256.clone(),
            description: file.description.clone(),
        }
    }

    /// Of the plan's point `plan` whose parts were read.
    pub fn of_plan(plan: &PlanPoint, file: &ViewsFile) -> Provenance {
        let header = plan.parts.header();
        Provenance {
            version: stormglass_core::VERSION,
            run: plan.manifest_path.clone(),
            point: Some(plan.point.label.clone()),
            scenario: plan.prepared.scenario.name.clone(),
            scenario_hash: plan.prepared.scenario.hash.clone(),
            run_version: header.version.clone(),
            seed: header.seed,
            paths: header.paths,
            views_file: file.path.clone(),
            views_sha256: file.sha256.clone(),
            description: file.description.clone(),
        }
    }
}

/// A figure as the tables show it: four significant digits, scientific
/// beyond a million or below a thousandth.
pub fn number(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    if x != 0.0 && !(1e-3..1e6).contains(&x.abs()) {
        return format!("{x:.3e}");
    }
    let decimals = (3 - x.abs().max(1e-3).log10().floor() as i32).clamp(0, 6) as usize;
    format!("{x:.decimals$}")
}

/// The views' charts: the prior and posterior distribution of each viewed
/// column and of each book's return.
pub fn views_charts(
    file: &ViewsFile,
    table: &PathTable,
    outcome: &ViewsOutcome,
) -> Result<Vec<Chart>, charts::ChartError> {
    let mut columns = file.columns();
    for book in books(&table.available) {
        columns.push(format!("{book}.pnl"));
    }
    let curve = |sample: &WeightedSample| -> Vec<f64> {
        (0..CURVE_POINTS)
            .map(|k| sample.quantile(k as f64 / (CURVE_POINTS - 1) as f64))
            .collect()
    };
    let jobs = columns
        .iter()
        .enumerate()
        .filter_map(|(i, column)| {
            let values = table.column(column).ok()?;
            let prior = WeightedSample::new(values, &outcome.prior);
            let posterior = WeightedSample::new(values, &outcome.posterior);
            if prior.is_empty() {
                return None;
            }
            Some(charts::prior_posterior(
                i,
                column,
                curve(&prior),
                curve(&posterior),
            ))
        })
        .collect();
    charts::draw_all(jobs)
}

/// The page.
pub fn views_page(provenance: &Provenance, outcome: &ViewsOutcome, charts: &[Chart]) -> String {
    let mut page = Page::new(&format!("Views on {}", provenance.scenario));
    page.heading(1, "top", &format!("Views on {}", provenance.scenario));
    page.paragraph(
        "meta",
        &format!(
            "Run {}{} (scenario {}, hash {}, seed {}, {} paths, Stormglass {}); views {} (sha256 {}). Stormglass {}.",
            provenance.run.display(),
            provenance
                .point
                .as_ref()
                .map(|p| format!(", point {p}, read from its parts"))
                .unwrap_or_default(),
            provenance.scenario,
            provenance.scenario_hash,
            provenance.seed,
            provenance.paths,
            provenance.run_version,
            provenance.views_file.display(),
            &provenance.views_sha256[..12.min(provenance.views_sha256.len())],
            provenance.version
        ),
    );
    if let Some(description) = &provenance.description {
        page.paragraph("lead", description);
    }
    for warning in &outcome.warnings {
        page.push(&format!(
            "<p class=\"warning\"><strong>Warning:</strong> {}</p>\n",
            escape(warning)
        ));
    }
    page.paragraph(
        "lead",
        &format!(
            "The posterior is the reweighting of the run's paths closest to the prior (every path equally likely) in relative entropy that meets the views (entropy pooling). Relative entropy {}; {} effective scenarios, {:.1}% of the paths.",
            number(outcome.relative_entropy),
            number(outcome.effective_scenarios),
            100.0 * outcome.effective_share
        ),
    );
    page.heading(2, "views", "Views");
    let header: Vec<String> = [
        "view",
        "statement",
        "confidence",
        "prior",
        "posterior",
        "multiplier",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let rows: Vec<Vec<String>> = outcome
        .views
        .iter()
        .map(|v| {
            vec![
                v.view.clone(),
                v.statement.clone(),
                number(v.confidence),
                number(v.prior),
                number(v.posterior),
                number(v.multiplier),
            ]
        })
        .collect();
    page.table("figures", &header, &rows);
    page.heading(2, "figures", "Figures under the prior and the posterior");
    page.paragraph(
        "note",
        "Both columns read the paths with the same weighted figures: a quantile is the smallest value whose probability at or below reaches it, ES the probability-weighted mean of the worst tail. Returns and losses are fractions of the starting value.",
    );
    let header: Vec<String> = ["group", "figure", "prior", "posterior", "change"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let rows: Vec<Vec<String>> = outcome
        .figures
        .iter()
        .map(|f| {
            vec![
                f.group.clone(),
                f.figure.clone(),
                number(f.prior),
                number(f.posterior),
                number(f.posterior - f.prior),
            ]
        })
        .collect();
    page.table("figures", &header, &rows);
    page.charts(charts, &[]);
    page.finish()
}

/// Writes the views folder `dir` atomically (an existing folder only with `force`).
pub fn write_views(
    dir: &Path,
    force: bool,
    provenance: &Provenance,
    outcome: &ViewsOutcome,
    charts: &[Chart],
) -> Result<(), OutputError> {
    let page = views_page(provenance, outcome, charts);
    write_atomically(dir, force, |staging| {
        write_with(&staging.join("posterior.csv"), |out| {
            writeln!(out, "path,prior,posterior")?;
            for (p, (a, b)) in outcome.prior.iter().zip(&outcome.posterior).enumerate() {
                writeln!(out, "{p},{a},{b}")?;
            }
            Ok(())
        })?;
        write_with(&staging.join("posterior.parquet"), |out| {
            posterior_parquet(out, provenance, outcome).map_err(std::io::Error::other)
        })?;
        write_with(&staging.join("views.json"), |out| {
            writeln!(out, "{}", views_json(provenance, outcome))
        })?;
        write_with(&staging.join("views.csv"), |out| {
            writeln!(
                out,
                "view,statement,relation,target,confidence,prior,posterior,multiplier"
            )?;
            for v in &outcome.views {
                writeln!(
                    out,
                    "{},{},{},{},{},{},{},{}",
                    csv_text(&v.view),
                    csv_text(&v.statement),
                    v.relation,
                    v.target,
                    v.confidence,
                    v.prior,
                    v.posterior,
                    v.multiplier
                )?;
            }
            Ok(())
        })?;
        write_with(&staging.join("views_figures.csv"), |out| {
            writeln!(out, "group,figure,prior,posterior")?;
            for f in &outcome.figures {
                writeln!(
                    out,
                    "{},{},{},{}",
                    csv_text(&f.group),
                    csv_text(&f.figure),
                    f.prior,
                    f.posterior
                )?;
            }
            Ok(())
        })?;
        write_report(staging, "views.html", &page, charts)
    })
}

/// A CSV cell: quoted when it holds a comma or a quote.
fn csv_text(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn posterior_parquet(
    out: impl Write + Send,
    provenance: &Provenance,
    outcome: &ViewsOutcome,
) -> Result<(), crate::columnar::TableError> {
    crate::columnar::write_parquet(out, posterior_table(provenance, outcome)?)
}

/// `posterior.parquet`'s table: `path`, `prior`, `posterior`, with the run's
/// provenance and the views file's hash in its metadata.
pub fn posterior_table(
    provenance: &Provenance,
    outcome: &ViewsOutcome,
) -> Result<crate::columnar::Table<'static>, arrow_schema::ArrowError> {
    let metadata = std::collections::HashMap::from([
        (
            "stormglass.version".to_string(),
            provenance.version.to_string(),
        ),
        (
            "stormglass.scenario".to_string(),
            provenance.scenario.clone(),
        ),
        (
            "stormglass.scenario_hash".to_string(),
            provenance.scenario_hash.clone(),
        ),
        ("stormglass.seed".to_string(), provenance.seed.to_string()),
        (
            "stormglass.views_sha256".to_string(),
            provenance.views_sha256.clone(),
        ),
    ]);
    let schema = Arc::new(
        Schema::new(vec![
            Field::new("path", DataType::UInt64, false),
            Field::new("prior", DataType::Float64, false),
            Field::new("posterior", DataType::Float64, false),
        ])
        .with_metadata(metadata),
    );
    let n = outcome.prior.len() as u64;
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(UInt64Array::from_iter_values(0..n)),
        Arc::new(Float64Array::from(outcome.prior.clone())),
        Arc::new(Float64Array::from(outcome.posterior.clone())),
    ];
    let batch = RecordBatch::try_new(schema.clone(), arrays)?;
    Ok(crate::columnar::Table::of_batches(schema, vec![batch]))
}

/// `views.json`'s text.
pub fn views_json(provenance: &Provenance, outcome: &ViewsOutcome) -> String {
    serde_json::to_string_pretty(&Json {
        provenance,
        outcome,
    })
    .unwrap_or_default()
}

/// Why views could not be applied to a run folder or a plan's parts.
#[derive(Debug, thiserror::Error)]
pub enum ViewsRunError {
    #[error(transparent)]
    Run(#[from] super::finished::FinishedError),
    #[error(transparent)]
    Plan(#[from] stormglass_core::tasks::TaskError),
    #[error(transparent)]
    Views(#[from] stormglass_core::views::ViewsError),
}

impl stormglass_core::UserFixable for ViewsRunError {
    fn is_user_fixable(&self) -> bool {
        match self {
            ViewsRunError::Run(e) => e.is_user_fixable(),
            ViewsRunError::Plan(e) => e.is_user_fixable(),
            ViewsRunError::Views(e) => e.is_user_fixable(),
        }
    }
}

/// A run folder, or a plan's point, with views applied: what the command
/// and Python report.
pub struct Applied {
    pub file: ViewsFile,
    pub table: PathTable,
    pub provenance: Provenance,
    pub outcome: ViewsOutcome,
}

/// The columns a views file and the outcome's figures read, of those a run
/// has (`available`), the key numbers' being `key_columns`.
fn wanted_columns(file: &ViewsFile, available: &[String], key_columns: Vec<String>) -> Vec<String> {
    let mut wanted = file.columns();
    for column in stormglass_core::views::figure_columns(available, key_columns) {
        if !wanted.contains(&column) {
            wanted.push(column);
        }
    }
    wanted
}

/// Reads the run folder `run_dir` (only the columns the views and the
/// figures need) and the views file, and applies the views.
pub fn apply_to_run(run_dir: &Path, views_file: &Path) -> Result<Applied, ViewsRunError> {
    use stormglass_core::views::ViewsError;
    let run = FinishedRun::open(run_dir)?;
    let file = ViewsFile::load(views_file, &run.columns).map_err(ViewsError::File)?;
    let key_columns = run
        .key_numbers
        .as_ref()
        .map(|k| k.columns())
        .unwrap_or_default();
    let table = run.load(&wanted_columns(&file, &run.columns, key_columns))?;
    let outcome = stormglass_core::views::apply(&file, &table, run.key_numbers.as_ref())?;
    let provenance = Provenance::of(&run, &file);
    Ok(Applied {
        file,
        table,
        provenance,
        outcome,
    })
}

/// Applies the views file to point `point` of the plan at `manifest_path`
/// (absolute; its manifest `manifest` of hash `sha`) from its tasks' parts,
/// without merging them: each part's rows are read in turn for the columns
/// the views and the figures need, and the views are solved with per-part
/// sums. The outcome is the single run's (docs/MODEL.md). The recipe's
/// files are read from the current folder: enter `manifest.directory` first
/// (and make `views_file` absolute before).
pub fn apply_to_plan(
    manifest: stormglass_core::tasks::Manifest,
    sha: &str,
    manifest_path: &Path,
    point: Option<&str>,
    views_file: &Path,
) -> Result<Applied, ViewsRunError> {
    use stormglass_core::views::ViewsError;
    let plan = PlanPoint::open(manifest, sha, manifest_path, point)?;
    let file = ViewsFile::load(views_file, plan.columns()).map_err(ViewsError::File)?;
    let (table, parts) = plan.load(&wanted_columns(&file, plan.columns(), plan.key_columns()))?;
    let key_numbers = plan.key_numbers(&table);
    let outcome = stormglass_core::views::apply_parts(&file, &table, &parts, Some(&key_numbers))?;
    let provenance = Provenance::of_plan(&plan, &file);
    Ok(Applied {
        file,
        table,
        provenance,
        outcome,
    })
}
