//! A run's folder: its summary, tables, charts and page, written through the
//! core's atomic output ([`stormglass_core::output`]).

use std::io::{self, Write};
use std::path::Path;

use stormglass_core::engine::Simulation;
use stormglass_core::model::Model;
use stormglass_core::output::{write_atomically, write_with, OutputError};
use stormglass_core::scenario::Scenario;
use stormglass_core::stats::PERCENTILES;
use stormglass_core::Summary;

use crate::charts::{self, Chart, ChartError, RunData};

use crate::page::write_report;
use crate::{columnar, html};

/// The files a run's tables are written as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TableFormat {
    /// `NAME.csv`.
    #[default]
    Csv,
    /// `NAME.parquet` (see [`crate::columnar`]).
    Parquet,
    /// Both.
    Both,
}

impl TableFormat {
    pub fn csv(self) -> bool {
        self != TableFormat::Parquet
    }

    pub fn parquet(self) -> bool {
        self != TableFormat::Csv
    }
}

/// Up to this many paths a run folder holds its per-path table unless told
/// otherwise (the CLI's `--paths-csv auto`, Python's merge).
pub const PATHS_METRICS_AUTO_LIMIT: u64 = 100_000;

/// What to write besides `summary.json`.
#[derive(Debug, Clone, Copy)]
pub struct OutputOptions {
    /// Write `paths_metrics` (one row per path).
    pub paths_metrics: bool,
    /// As CSV, Parquet or both: `fan_bands`, `sample_paths` and `paths_metrics`.
    pub tables: TableFormat,
    /// Replace an existing folder that is not a previous Stormglass run.
    pub force: bool,
}

impl From<ChartError> for OutputError {
    fn from(error: ChartError) -> OutputError {
        OutputError::Render(Box::new(error))
    }
}

/// What writing a run took.
#[derive(Debug, Clone, Copy)]
pub struct Written {
    /// Drawing the charts and the page, encoding them, in seconds.
    pub report_seconds: f64,
    pub charts: usize,
}

/// Writes every output file of a run into `dir`, atomically.
pub fn write_run(
    dir: &Path,
    scenario: &Scenario,
    model: &Model,
    simulation: &Simulation,
    summary: &Summary,
    options: OutputOptions,
) -> Result<Written, OutputError> {
    let drives = crate::attribution::drives_section(dir, scenario);
    write_atomically(dir, options.force, |staging| {
        write_files(
            staging,
            scenario,
            model,
            simulation,
            summary,
            options,
            drives.as_deref(),
        )
    })
}

/// `drives`: the "What drives this run" section, from an attribution beside
/// the run's folder, put before the charts.
fn write_files(
    dir: &Path,
    scenario: &Scenario,
    model: &Model,
    simulation: &Simulation,
    summary: &Summary,
    options: OutputOptions,
    drives: Option<&str>,
) -> Result<Written, OutputError> {
    write_with(&dir.join("summary.json"), |out| {
        serde_json::to_writer_pretty(&mut *out, summary).map_err(io::Error::other)?;
        writeln!(out)
    })?;
    write_with(&dir.join("scenario.resolved.toml"), |out| {
        let text = toml::to_string(&scenario.resolved).map_err(io::Error::other)?;
        write!(
            out,
            "# Resolved scenario `{}` (sha256 {}), as run.\n{text}",
            scenario.name, scenario.hash
        )
    })?;
    if options.tables.csv() {
        write_with(&dir.join("fan_bands.csv"), |out| {
            write_fan_bands(out, scenario, model, simulation)
        })?;
        write_with(&dir.join("sample_paths.csv"), |out| {
            write_sample_paths(out, scenario, model, simulation)
        })?;
        if options.paths_metrics {
            write_with(&dir.join("paths_metrics.csv"), |out| {
                write_paths_metrics(out, simulation)
            })?;
        }
    }
    if options.tables.parquet() {
        let tables = [
            (
                "fan_bands",
                columnar::fan_bands(scenario, model, simulation),
            ),
            (
                "sample_paths",
                columnar::sample_paths(scenario, model, simulation),
            ),
        ];
        let per_path = options.paths_metrics.then(|| {
            (
                "paths_metrics",
                columnar::paths_metrics(scenario, simulation),
            )
        });
        for (name, table) in tables.into_iter().chain(per_path) {
            write_parquet_file(&dir.join(format!("{name}.parquet")), table)?;
        }
    }
    if !summary.portfolios.is_empty() {
        use crate::portfolios as p;
        let all = &summary.portfolios;
        write_with(&dir.join("portfolios.csv"), |out| {
            p::write_portfolios_csv(out, all)
        })?;
        write_with(&dir.join("portfolio_positions.csv"), |out| {
            p::write_positions_csv(out, all)
        })?;
        write_with(&dir.join("portfolio_quantiles.csv"), |out| {
            p::write_quantiles_csv(out, all)
        })?;
        write_with(&dir.join("portfolio_losses.csv"), |out| {
            p::write_losses_csv(out, all)
        })?;
    }
    if !summary.strategies.is_empty() {
        for name in crate::strategies::TABLES {
            let Some(sheet) = crate::strategies::strategy_sheet(name, scenario, summary) else {
                continue;
            };
            if options.tables.csv() {
                write_with(&dir.join(format!("{name}.csv")), |out| sheet.write_csv(out))?;
            }
            if options.tables.parquet() {
                write_parquet_file(
                    &dir.join(format!("{name}.parquet")),
                    columnar::sheet(sheet, scenario, simulation),
                )?;
            }
        }
    }
    let started = std::time::Instant::now();
    let (mut page, charts) = run_report(scenario, model, simulation, summary)?;
    if let Some(section) = drives {
        let at = page
            .find("<nav><h2 id=\"charts\">")
            .or_else(|| page.find("</main>"))
            .unwrap_or(page.len());
        page.insert_str(at, section);
    }
    write_report(dir, "report.html", &page, &charts)?;
    Ok(Written {
        report_seconds: started.elapsed().as_secs_f64(),
        charts: charts.len(),
    })
}

/// A run's `report.html`, self-contained (its charts are inline SVG), and its charts.
pub fn run_report(
    scenario: &Scenario,
    model: &Model,
    simulation: &Simulation,
    summary: &Summary,
) -> Result<(String, Vec<Chart>), ChartError> {
    let charts = charts::run_charts(RunData {
        scenario,
        model,
        simulation,
        summary,
    })?;
    Ok((html::run_page(scenario, summary, &charts), charts))
}

/// Writes one table as a Parquet file inside a staged folder.
pub fn write_parquet_file(path: &Path, table: columnar::Table<'_>) -> Result<(), OutputError> {
    write_with(path, |out| {
        columnar::write_parquet(out, table).map_err(io::Error::other)
    })
}

fn write_fan_bands(
    out: &mut impl Write,
    scenario: &Scenario,
    model: &Model,
    simulation: &Simulation,
) -> io::Result<()> {
    write!(out, "date,asset")?;
    for p in PERCENTILES {
        write!(out, ",p{:02}", p as u32)?;
    }
    writeln!(out)?;
    for (t, date) in scenario.dates.iter().enumerate() {
        for (a, asset) in model.assets.iter().enumerate() {
            write!(out, "{date},{}", asset.name)?;
            for p in PERCENTILES {
                let x = simulation
                    .fan
                    .quantile(&simulation.fan_grid, t, a, p / 100.0);
                write!(out, ",{}", asset.level(x))?;
            }
            writeln!(out)?;
        }
    }
    Ok(())
}

fn write_sample_paths(
    out: &mut impl Write,
    scenario: &Scenario,
    model: &Model,
    simulation: &Simulation,
) -> io::Result<()> {
    // Wide: one row per path and date, a column per asset (a third of the size
    // of one row per asset, and how time series are usually read).
    let samples = &simulation.samples;
    write!(out, "path,date,regime")?;
    for asset in &model.assets {
        write!(out, ",{}", asset.name)?;
    }
    writeln!(out)?;
    for p in 0..samples.paths {
        for (t, date) in scenario.dates.iter().enumerate() {
            write!(
                out,
                "{p},{date},{}",
                model.regime_names[samples.regime(p, t)]
            )?;
            for a in 0..model.assets.len() {
                write!(out, ",{}", samples.level(p, t, a))?;
            }
            writeln!(out)?;
        }
    }
    Ok(())
}

fn write_paths_metrics(out: &mut impl Write, simulation: &Simulation) -> io::Result<()> {
    let columns = simulation.layout.columns();
    write!(out, "path")?;
    for name in &simulation.layout.names {
        write!(out, ",{name}")?;
    }
    writeln!(out)?;
    for (p, row) in simulation.metrics.chunks_exact(columns).enumerate() {
        write!(out, "{p}")?;
        for value in row {
            if value.is_nan() {
                write!(out, ",")?;
            } else {
                write!(out, ",{value}")?;
            }
        }
        writeln!(out)?;
    }
    Ok(())
}
