//! A run's tables as Arrow record batches: the Parquet files of
//! `--format parquet`, and the tables the Python package turns into DataFrames.
//!
//! Every table has the same columns as its CSV twin, typed: figures are `f64`
//! (a missing figure is null, where the CSV leaves the cell empty), dates are
//! dates, and assets and regimes are dictionary-encoded strings. The per-path
//! table is cut into batches of [`ROWS_PER_BATCH`] paths, each built from the
//! simulation's own rows and dropped once written, so a million-path table is
//! never held twice.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use arrow_array::types::UInt16Type;
use arrow_array::{
    ArrayRef, Date32Array, DictionaryArray, Float64Array, RecordBatch, StringArray, UInt16Array,
    UInt32Array, UInt64Array,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use chrono::NaiveDate;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use stormglass_core::engine::Simulation;
use stormglass_core::model::Model;
use stormglass_core::scenario::Scenario;
use stormglass_core::stats::PERCENTILES;

/// Paths in one batch of the per-path table, and in one Parquet row group. The
/// writer holds one batch and one row group's encoded pages at a time, each
/// about 66 MB for the default scenario's 253 figures: what writing Parquet
/// adds to a run's memory, whatever its number of paths.
pub const ROWS_PER_BATCH: usize = 32_768;

/// Why a table could not be built or written.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error(transparent)]
    Arrow(#[from] ArrowError),
    #[error(transparent)]
    Parquet(#[from] ParquetError),
}

/// A table: its schema and the batches of its rows, built one at a time.
pub struct Table<'a> {
    pub schema: SchemaRef,
    batches: Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + Send + 'a>,
}

impl<'a> Table<'a> {
    /// A table of batches already built (a small one, held whole).
    pub fn of_batches(schema: SchemaRef, batches: Vec<RecordBatch>) -> Table<'static> {
        Table {
            schema,
            batches: Box::new(batches.into_iter().map(Ok)),
        }
    }

    /// The batches, built as they are taken.
    pub fn batches(self) -> impl Iterator<Item = Result<RecordBatch, ArrowError>> + Send + 'a {
        self.batches
    }
}

/// What every table's schema records of the run it comes from, as Parquet key
/// values: the version, the scenario's name and hash, the seed and the paths.
fn provenance(scenario: &str, hash: &str, seed: u64, paths: u64) -> HashMap<String, String> {
    HashMap::from([
        ("stormglass.version".into(), stormglass_core::VERSION.into()),
        ("stormglass.scenario".into(), scenario.into()),
        ("stormglass.scenario_hash".into(), hash.into()),
        ("stormglass.seed".into(), seed.to_string()),
        ("stormglass.paths".into(), paths.to_string()),
    ])
}

fn schema(fields: Vec<Field>, scenario: &Scenario, simulation: &Simulation) -> SchemaRef {
    let mut metadata = provenance(
        &scenario.name,
        &scenario.hash,
        simulation.seed,
        simulation.paths,
    );
    metadata.insert("stormglass.as_of".into(), scenario.dates[0].to_string());
    if let Some(levels) = &scenario.levels {
        metadata.insert("stormglass.levels_sha256".into(), levels.sha256.clone());
    }
    Arc::new(Schema::new_with_metadata(fields, metadata))
}

fn dictionary_field(name: &str) -> Field {
    Field::new(
        name,
        DataType::Dictionary(Box::new(DataType::UInt16), Box::new(DataType::Utf8)),
        false,
    )
}

/// Days since 1970-01-01, Arrow's `date32`.
fn days_since_epoch(date: NaiveDate) -> i32 {
    const UNIX_EPOCH_FROM_CE: i32 = 719_163;
    use chrono::Datelike;
    date.num_days_from_ce() - UNIX_EPOCH_FROM_CE
}

/// `keys` into `names`, dictionary-encoded.
fn dictionary(keys: Vec<u16>, names: &[String]) -> Result<ArrayRef, ArrowError> {
    let values = Arc::new(StringArray::from_iter_values(names));
    Ok(Arc::new(DictionaryArray::<UInt16Type>::try_new(
        UInt16Array::from(keys),
        values,
    )?))
}

/// A figure column: NaN (a figure the path does not have) becomes null.
fn figures(values: impl Iterator<Item = f64>) -> ArrayRef {
    Arc::new(Float64Array::from_iter(
        values.map(|v| (!v.is_nan()).then_some(v)),
    ))
}

/// `paths_metrics`: one row per path, `path` then every per-path figure.
pub fn paths_metrics<'a>(scenario: &Scenario, simulation: &'a Simulation) -> Table<'a> {
    let mut fields = vec![Field::new("path", DataType::UInt64, false)];
    fields.extend(
        simulation
            .layout
            .names
            .iter()
            .map(|name| Field::new(name, DataType::Float64, true)),
    );
    let schema = schema(fields, scenario, simulation);
    let columns = simulation.layout.columns();
    let rows = simulation.metrics.len() / columns.max(1);
    let batch_schema = schema.clone();
    let batches = (0..rows).step_by(ROWS_PER_BATCH).map(move |start| {
        let end = (start + ROWS_PER_BATCH).min(rows);
        let block = &simulation.metrics[start * columns..end * columns];
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns + 1);
        arrays.push(Arc::new(UInt64Array::from_iter_values(
            start as u64..end as u64,
        )));
        for c in 0..columns {
            arrays.push(figures(block.iter().skip(c).step_by(columns).copied()));
        }
        RecordBatch::try_new(batch_schema.clone(), arrays)
    });
    Table {
        schema,
        batches: Box::new(batches),
    }
}

/// `fan_bands`: one row per date and asset, the level at every percentile.
pub fn fan_bands<'a>(
    scenario: &'a Scenario,
    model: &'a Model,
    simulation: &'a Simulation,
) -> Table<'a> {
    let mut fields = vec![
        Field::new("date", DataType::Date32, false),
        dictionary_field("asset"),
    ];
    fields.extend(
        PERCENTILES
            .iter()
            .map(|p| Field::new(format!("p{:02}", *p as u32), DataType::Float64, true)),
    );
    let schema = schema(fields, scenario, simulation);
    let batch_schema = schema.clone();
    let build = move || {
        let assets = model.assets.len();
        let rows = scenario.dates.len() * assets;
        let dates = scenario
            .dates
            .iter()
            .flat_map(|d| std::iter::repeat_n(days_since_epoch(*d), assets));
        let names: Vec<String> = model.assets.iter().map(|a| a.name.clone()).collect();
        let mut arrays: Vec<ArrayRef> = vec![
            Arc::new(Date32Array::from_iter_values(dates)),
            dictionary((0..rows).map(|r| (r % assets) as u16).collect(), &names)?,
        ];
        for p in PERCENTILES {
            arrays.push(figures((0..rows).map(|r| {
                let (t, a) = (r / assets, r % assets);
                let x = simulation
                    .fan
                    .quantile(&simulation.fan_grid, t, a, p / 100.0);
                model.assets[a].level(x)
            })));
        }
        RecordBatch::try_new(batch_schema, arrays)
    };
    Table {
        schema,
        batches: Box::new(std::iter::once_with(build)),
    }
}

/// `sample_paths`: one row per kept path and date, the regime and every
/// asset's level.
pub fn sample_paths<'a>(
    scenario: &'a Scenario,
    model: &'a Model,
    simulation: &'a Simulation,
) -> Table<'a> {
    let mut fields = vec![
        Field::new("path", DataType::UInt32, false),
        Field::new("date", DataType::Date32, false),
        dictionary_field("regime"),
    ];
    fields.extend(
        model
            .assets
            .iter()
            .map(|a| Field::new(&a.name, DataType::Float64, true)),
    );
    let schema = schema(fields, scenario, simulation);
    let batch_schema = schema.clone();
    let build = move || {
        let samples = &simulation.samples;
        let dates = scenario.dates.len();
        let rows = samples.paths * dates;
        let at = |r: usize| (r / dates, r % dates);
        let mut arrays: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from_iter_values(
                (0..rows).map(|r| at(r).0 as u32),
            )),
            Arc::new(Date32Array::from_iter_values(
                (0..rows).map(|r| days_since_epoch(scenario.dates[at(r).1])),
            )),
            dictionary(
                (0..rows)
                    .map(|r| {
                        let (p, t) = at(r);
                        samples.regime(p, t) as u16
                    })
                    .collect(),
                &model.regime_names,
            )?,
        ];
        for a in 0..model.assets.len() {
            arrays.push(figures((0..rows).map(|r| {
                let (p, t) = at(r);
                samples.level(p, t, a)
            })));
        }
        RecordBatch::try_new(batch_schema, arrays)
    };
    Table {
        schema,
        batches: Box::new(std::iter::once_with(build)),
    }
}

/// A strategy table ([`crate::strategies::Sheet`]): text as strings, figures
/// as `f64` (NaN as null), counts as `u64`, dates as dates.
pub fn sheet(
    sheet: crate::strategies::Sheet,
    scenario: &Scenario,
    simulation: &Simulation,
) -> Table<'static> {
    let fields = sheet_fields(&sheet);
    sheet_table(sheet, schema(fields, scenario, simulation))
}

/// A [`crate::strategies::Sheet`] of a finished run's folder (a reverse
/// stress test's tables), with the run's provenance.
pub fn run_sheet(
    sheet: crate::strategies::Sheet,
    scenario: &str,
    hash: &str,
    seed: u64,
    paths: u64,
) -> Table<'static> {
    let fields = sheet_fields(&sheet);
    let metadata = provenance(scenario, hash, seed, paths);
    sheet_table(sheet, Arc::new(Schema::new_with_metadata(fields, metadata)))
}

fn sheet_fields(sheet: &crate::strategies::Sheet) -> Vec<Field> {
    use crate::strategies::Cells;
    sheet
        .columns
        .iter()
        .map(|(name, cells)| match cells {
            Cells::Text(_) => Field::new(name, DataType::Utf8, false),
            Cells::Number(_) => Field::new(name, DataType::Float64, true),
            Cells::Count(_) => Field::new(name, DataType::UInt64, true),
            Cells::Date(_) => Field::new(name, DataType::Date32, false),
        })
        .collect()
}

fn sheet_table(sheet: crate::strategies::Sheet, schema: SchemaRef) -> Table<'static> {
    use crate::strategies::Cells;
    let batch_schema = schema.clone();
    let build = move || {
        let arrays: Vec<ArrayRef> = sheet
            .columns
            .into_iter()
            .map(|(_, cells)| -> ArrayRef {
                match cells {
                    Cells::Text(v) => Arc::new(StringArray::from_iter_values(v)),
                    Cells::Number(v) => figures(v.into_iter()),
                    Cells::Count(v) => Arc::new(UInt64Array::from(v)),
                    Cells::Date(v) => Arc::new(Date32Array::from_iter_values(
                        v.into_iter().map(days_since_epoch),
                    )),
                }
            })
            .collect();
        RecordBatch::try_new(batch_schema, arrays)
    };
    Table {
        schema,
        batches: Box::new(std::iter::once_with(build)),
    }
}

/// Writes `table` as Parquet (Snappy-compressed), a row group per batch.
pub fn write_parquet(out: impl Write + Send, table: Table<'_>) -> Result<(), TableError> {
    // Figures are nearly all distinct, so a dictionary would only grow (a
    // hash table per column) until the writer gave it up: only the columns
    // typed as dictionaries (assets, regimes) are written as one.
    let mut properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_dictionary_enabled(false)
        .set_max_row_group_row_count(Some(ROWS_PER_BATCH))
        .set_created_by(format!("stormglass {}", stormglass_core::VERSION));
    for field in table.schema.fields() {
        if matches!(field.data_type(), DataType::Dictionary(..)) {
            properties = properties
                .set_column_dictionary_enabled(ColumnPath::from(field.name().as_str()), true);
        }
    }
    let properties = properties.build();
    let mut writer = ArrowWriter::try_new(out, table.schema.clone(), Some(properties))?;
    for batch in table.batches() {
        writer.write(&batch?)?;
    }
    writer.close()?;
    Ok(())
}

/// `sweep`: one row per point, the swept keys' values then every figure and
/// its standard error (`NAME`, `NAME.se`), as in `sweep.csv`.
pub fn sweep(sweep: &stormglass_core::sweep::Sweep) -> Table<'_> {
    let mut fields = vec![
        Field::new("point", DataType::UInt64, false),
        Field::new("label", DataType::Utf8, false),
    ];
    fields.extend(
        sweep
            .axes
            .iter()
            .map(|axis| Field::new(&axis.key, DataType::Float64, true)),
    );
    for name in &sweep.figures {
        fields.push(Field::new(name, DataType::Float64, true));
        fields.push(Field::new(format!("{name}.se"), DataType::Float64, true));
    }
    let metadata = provenance(
        &sweep.scenario_name,
        &sweep.scenario_hash,
        sweep.seed,
        sweep.paths,
    );
    let schema = Arc::new(Schema::new_with_metadata(fields, metadata));
    let batch_schema = schema.clone();
    let build = move || {
        let points = &sweep.points;
        let finite = |v: f64| v.is_finite().then_some(v);
        let mut arrays: Vec<ArrayRef> = vec![
            Arc::new(UInt64Array::from_iter_values(
                points.iter().map(|p| p.index as u64),
            )),
            Arc::new(StringArray::from_iter_values(
                points.iter().map(|p| p.label.as_str()),
            )),
        ];
        for a in 0..sweep.axes.len() {
            arrays.push(Arc::new(Float64Array::from_iter(
                points.iter().map(|p| finite(p.values[a])),
            )));
        }
        for f in 0..sweep.figures.len() {
            arrays.push(Arc::new(Float64Array::from_iter(
                points.iter().map(|p| finite(p.figures[f].value)),
            )));
            arrays.push(Arc::new(Float64Array::from_iter(
                points.iter().map(|p| finite(p.figures[f].se)),
            )));
        }
        RecordBatch::try_new(batch_schema, arrays)
    };
    Table {
        schema,
        batches: Box::new(std::iter::once_with(build)),
    }
}

/// `attribution`: one row per mechanism (then `all`, `interaction`) and
/// figure, the columns of `attribution.csv`.
pub fn attribution(a: &stormglass_core::attribute::Attribution) -> Table<'_> {
    use stormglass_core::attribute::CSV_COLUMNS;
    let fields: Vec<Field> = CSV_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, name)| {
            if i < 3 {
                Field::new(*name, DataType::Utf8, false)
            } else {
                Field::new(*name, DataType::Float64, true)
            }
        })
        .collect();
    let metadata = provenance(&a.scenario_name, &a.scenario_hash, a.seed, a.paths);
    let schema = Arc::new(Schema::new_with_metadata(fields, metadata));
    let batch_schema = schema.clone();
    let build = move || {
        let cells = || {
            a.rows
                .iter()
                .flat_map(|row| a.figures.iter().zip(&row.effects).map(move |c| (row, c)))
        };
        let number = |v: f64| {
            v.is_finite()
                .then(|| stormglass_core::attribute::rounded(v))
        };
        let unit = |u: stormglass_core::figures::paired::Unit| u.name();
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                cells().map(|(row, _)| row.mechanism.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                cells().map(|(_, (f, _))| f.name.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                cells().map(|(_, (f, _))| unit(f.unit)),
            )),
            Arc::new(Float64Array::from_iter(
                cells().map(|(_, (f, _))| number(f.full)),
            )),
            Arc::new(Float64Array::from_iter(
                cells().map(|(_, (_, e))| number(e.off)),
            )),
            Arc::new(Float64Array::from_iter(
                cells().map(|(_, (_, e))| number(e.difference)),
            )),
            Arc::new(Float64Array::from_iter(
                cells().map(|(_, (_, e))| number(e.se)),
            )),
            Arc::new(Float64Array::from_iter(
                cells().map(|(_, (_, e))| number(e.z())),
            )),
            Arc::new(Float64Array::from_iter(
                cells().map(|(_, (_, e))| number(e.independent_se)),
            )),
        ];
        RecordBatch::try_new(batch_schema, arrays)
    };
    Table {
        schema,
        batches: Box::new(std::iter::once_with(build)),
    }
}
