//! A finished run's folder read back: its provenance from `summary.json` and
//! the columns a computation names from its per-path table
//! (`paths_metrics.parquet` by column projection, else `paths_metrics.csv`
//! parsing only those columns), as a [`PathTable`]. Here, not in the core,
//! because the core reads no columnar file (docs/ARCHITECTURE.md).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use arrow_array::{Array, Float64Array};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;

use stormglass_core::figures::KeyNumbers;
use stormglass_core::input::InputError;
use stormglass_core::model::Tilt;
use stormglass_core::scenario::load::{read_text_of, FileKind};
use stormglass_core::stats::LIKELIHOOD_RATIO;
use stormglass_core::views::PathTable;

/// A finished run: what its outputs record of it, and where its per-path
/// table is.
#[derive(Debug, Clone)]
pub struct FinishedRun {
    pub dir: PathBuf,
    pub version: String,
    pub seed: u64,
    pub paths: u64,
    pub scenario_name: String,
    pub scenario_hash: String,
    pub key_numbers: Option<KeyNumbers>,
    /// `paths_metrics.parquet` or `paths_metrics.csv`.
    pub table_file: PathBuf,
    /// Every per-path column, in the table's order (without `path`).
    pub columns: Vec<String>,
    /// The tilt the paths were drawn under, for a run tilted toward a breach.
    pub tilt: Option<Tilt>,
}

/// Why a run folder could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FinishedError {
    #[error("{}: not a run folder: it has no summary.json (a folder `stormglass run --out` wrote)", dir.display())]
    NotARun { dir: PathBuf },
    #[error("{}: the run has no per-path table (paths_metrics.parquet or paths_metrics.csv): `stormglass run` writes it up to {} paths; run the scenario again with `--paths-csv always`", dir.display(), crate::PATHS_METRICS_AUTO_LIMIT)]
    NoTable { dir: PathBuf },
    #[error("{}: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
    #[error(transparent)]
    Input(#[from] InputError),
}

impl stormglass_core::UserFixable for FinishedError {
    fn is_user_fixable(&self) -> bool {
        match self {
            FinishedError::Input(e) => e.is_user_fixable(),
            _ => true,
        }
    }
}

impl FinishedRun {
    /// Reads `summary.json` and the per-path table's column names.
    pub fn open(dir: &Path) -> Result<FinishedRun, FinishedError> {
        let summary = dir.join("summary.json");
        if !summary.is_file() {
            return Err(FinishedError::NotARun {
                dir: dir.to_path_buf(),
            });
        }
        let text =
            read_text_of(&summary, FileKind::RunSummary).map_err(|e| FinishedError::Corrupt {
                path: summary.clone(),
                message: e.to_string(),
            })?;
        let corrupt = |message: String| FinishedError::Corrupt {
            path: summary.clone(),
            message,
        };
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| corrupt(format!("not valid JSON: {e}")))?;
        let text_at = |pointer: &str| -> Result<String, FinishedError> {
            json.pointer(pointer)
                .and_then(|v| v.as_str())
                .map(str::to_string)
                .ok_or_else(|| corrupt(format!("no `{pointer}`; run the scenario again")))
        };
        let number_at = |pointer: &str| -> Result<u64, FinishedError> {
            json.pointer(pointer)
                .and_then(|v| v.as_u64())
                .ok_or_else(|| corrupt(format!("no `{pointer}`; run the scenario again")))
        };
        let key_numbers = json
            .get("key_numbers")
            .and_then(|k| serde_json::from_value(k.clone()).ok());
        let parquet = dir.join("paths_metrics.parquet");
        let csv = dir.join("paths_metrics.csv");
        let (table_file, columns) = if parquet.is_file() {
            let columns = parquet_columns(&parquet)?;
            (parquet, columns)
        } else if csv.is_file() {
            let columns = csv_header(&csv)?;
            (csv, columns)
        } else {
            return Err(FinishedError::NoTable {
                dir: dir.to_path_buf(),
            });
        };
        Ok(FinishedRun {
            dir: dir.to_path_buf(),
            version: text_at("/version")?,
            seed: number_at("/seed")?,
            paths: number_at("/paths")?,
            scenario_name: text_at("/scenario/name")?,
            scenario_hash: text_at("/scenario/hash")?,
            key_numbers,
            table_file,
            columns,
            tilt: json
                .get("tilt")
                .and_then(|t| serde_json::from_value(t.clone()).ok()),
        })
    }

    /// The named columns of the per-path table (each must be among
    /// [`FinishedRun::columns`]). Every path is equally likely, but on a run
    /// tilted toward a breach, whose paths' prior is their likelihood ratios
    /// normalised to sum to one.
    pub fn load(&self, wanted: &[String]) -> Result<PathTable, FinishedError> {
        let tilted = self.columns.iter().any(|c| c == LIKELIHOOD_RATIO);
        let mut reading = wanted.to_vec();
        if tilted && !wanted.iter().any(|w| w == LIKELIHOOD_RATIO) {
            reading.push(LIKELIHOOD_RATIO.to_string());
        }
        let mut columns = if self.table_file.extension().is_some_and(|e| e == "parquet") {
            parquet_load(&self.table_file, &self.columns, &reading)?
        } else {
            csv_load(&self.table_file, &self.columns, &reading)?
        };
        let ratios = if tilted {
            let at = reading.iter().position(|w| w == LIKELIHOOD_RATIO);
            at.map(|at| columns[at].clone())
        } else {
            None
        };
        columns.truncate(wanted.len());
        let paths = columns.first().map_or(0, |c| c.len());
        if paths as u64 != self.paths {
            return Err(FinishedError::Corrupt {
                path: self.table_file.clone(),
                message: format!(
                    "{paths} rows, but summary.json records {} paths; run the scenario again",
                    self.paths
                ),
            });
        }
        let mut table = PathTable::new(self.columns.clone(), paths);
        for (name, values) in wanted.iter().zip(columns) {
            table.insert(name, values);
        }
        if let Some(ratios) = ratios {
            table.prior = Some(self.prior_of(ratios)?);
        }
        Ok(table)
    }

    /// The paths' prior from their likelihood ratios: each a finite number at
    /// least 0, not all 0, normalised to sum to one.
    fn prior_of(&self, ratios: Vec<f64>) -> Result<Vec<f64>, FinishedError> {
        let corrupt = |message: String| FinishedError::Corrupt {
            path: self.table_file.clone(),
            message,
        };
        if let Some(path) = ratios.iter().position(|r| !(r.is_finite() && *r >= 0.0)) {
            return Err(corrupt(format!(
                "path {path}'s `{LIKELIHOOD_RATIO}` is {}: a likelihood ratio is a finite number at least 0; run the scenario again",
                ratios[path]
            )));
        }
        let total: f64 = ratios.iter().sum();
        if total <= 0.0 {
            return Err(corrupt(format!(
                "every path's `{LIKELIHOOD_RATIO}` is 0; run the scenario again"
            )));
        }
        Ok(ratios.into_iter().map(|r| r / total).collect())
    }
}

fn parquet_error(path: &Path) -> impl Fn(String) -> FinishedError + '_ {
    move |message| FinishedError::Corrupt {
        path: path.to_path_buf(),
        message: format!("not a readable Parquet table: {message}"),
    }
}

fn open_file(path: &Path) -> Result<File, FinishedError> {
    File::open(path).map_err(|e| FinishedError::Corrupt {
        path: path.to_path_buf(),
        message: format!("cannot open: {e}"),
    })
}

fn parquet_columns(path: &Path) -> Result<Vec<String>, FinishedError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(open_file(path)?)
        .map_err(|e| parquet_error(path)(e.to_string()))?;
    Ok(builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|n| n != "path")
        .collect())
}

fn parquet_load(
    path: &Path,
    columns: &[String],
    wanted: &[String],
) -> Result<Vec<Vec<f64>>, FinishedError> {
    let error = parquet_error(path);
    let builder = ParquetRecordBatchReaderBuilder::try_new(open_file(path)?)
        .map_err(|e| error(e.to_string()))?;
    // Leaf i of the file is column i of the schema: the table is flat.
    let indices: Vec<usize> = wanted
        .iter()
        .map(|w| {
            builder
                .schema()
                .index_of(w)
                .map_err(|_| error(format!("no column `{w}`")))
        })
        .collect::<Result<_, _>>()?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), indices.iter().copied());
    let reader = builder
        .with_projection(mask)
        .build()
        .map_err(|e| error(e.to_string()))?;
    let _ = columns;
    let mut out: Vec<Vec<f64>> = vec![Vec::new(); wanted.len()];
    for batch in reader {
        let batch = batch.map_err(|e| error(e.to_string()))?;
        for (slot, name) in wanted.iter().enumerate() {
            let array = batch
                .column_by_name(name)
                .and_then(|a| a.as_any().downcast_ref::<Float64Array>())
                .ok_or_else(|| error(format!("column `{name}` is not a column of figures")))?;
            out[slot].extend((0..array.len()).map(|i| {
                if array.is_null(i) {
                    f64::NAN
                } else {
                    array.value(i)
                }
            }));
        }
    }
    Ok(out)
}

fn csv_header(path: &Path) -> Result<Vec<String>, FinishedError> {
    let mut line = String::new();
    BufReader::new(open_file(path)?)
        .read_line(&mut line)
        .map_err(|e| FinishedError::Corrupt {
            path: path.to_path_buf(),
            message: format!("cannot read its header: {e}"),
        })?;
    let mut names = line.trim_end().split(',');
    if names.next() != Some("path") {
        return Err(FinishedError::Corrupt {
            path: path.to_path_buf(),
            message: "its header does not start with `path`: not a per-path table".into(),
        });
    }
    Ok(names.map(str::to_string).collect())
}

fn csv_load(
    path: &Path,
    columns: &[String],
    wanted: &[String],
) -> Result<Vec<Vec<f64>>, FinishedError> {
    // Cell index of each wanted column (cell 0 is `path`).
    let cells: Vec<usize> = wanted
        .iter()
        .map(|w| columns.iter().position(|c| c == w).map(|i| i + 1))
        .collect::<Option<_>>()
        .ok_or_else(|| FinishedError::Corrupt {
            path: path.to_path_buf(),
            message: "a column its header names is missing".into(),
        })?;
    let last = cells.iter().copied().max().unwrap_or(0);
    let mut out: Vec<Vec<f64>> = vec![Vec::new(); wanted.len()];
    let mut row = vec![f64::NAN; last + 1];
    for (number, line) in BufReader::new(open_file(path)?).lines().enumerate().skip(1) {
        let corrupt = |message: String| FinishedError::Corrupt {
            path: path.to_path_buf(),
            message: format!("line {}: {message}", number + 1),
        };
        let line = line.map_err(|e| corrupt(e.to_string()))?;
        if line.is_empty() {
            continue;
        }
        let mut seen = 0;
        for (i, cell) in line.split(',').take(last + 1).enumerate() {
            row[i] = if cell.is_empty() {
                f64::NAN
            } else {
                cell.parse()
                    .map_err(|_| corrupt(format!("`{cell}` is not a number")))?
            };
            seen = i + 1;
        }
        if seen <= last {
            return Err(corrupt(format!(
                "{seen} cells, fewer than the header's columns"
            )));
        }
        for (slot, cell) in cells.iter().enumerate() {
            out[slot].push(row[*cell]);
        }
    }
    Ok(out)
}
