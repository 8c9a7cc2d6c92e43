//! `--format parquet`: the tables as typed Parquet files, holding exactly the
//! CSV twins' numbers, on `run`, `sweep` and `merge`.

use crate::common;

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, UInt16Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use common::stormglass_ok;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// Every batch of a Parquet file, its schema's key values and its row groups.
fn read(path: &Path) -> (Vec<RecordBatch>, HashMap<String, String>, usize) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let metadata = builder.schema().metadata().clone();
    let groups = builder.metadata().num_row_groups();
    let batches = builder.build().unwrap().map(|b| b.unwrap()).collect();
    (batches, metadata.into(), groups)
}

/// A CSV file as its header and its rows of cells.
fn csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (header, rows)
}

/// A figure column's cells as the CSV writes them: empty for null.
fn cells(batches: &[RecordBatch], column: &str) -> Vec<String> {
    let mut out = Vec::new();
    for batch in batches {
        let array = batch.column_by_name(column).unwrap();
        match array.data_type() {
            DataType::Float64 => {
                let values = array.as_primitive::<Float64Type>();
                for i in 0..values.len() {
                    out.push(if values.is_null(i) {
                        String::new()
                    } else {
                        format!("{}", values.value(i))
                    });
                }
            }
            DataType::Date32 => {
                let values = array.as_primitive::<Date32Type>();
                for i in 0..values.len() {
                    out.push(values.value_as_date(i).unwrap().to_string());
                }
            }
            DataType::Dictionary(_, _) => {
                let dictionary = array.as_dictionary::<UInt16Type>();
                let names = dictionary.values().as_string::<i32>();
                for key in dictionary.keys().values() {
                    out.push(names.value(*key as usize).to_string());
                }
            }
            _ => {
                let text = arrow_cast_free(array.as_ref());
                out.extend(text);
            }
        }
    }
    out
}

/// Integer columns as text, without the arrow-cast crate.
fn arrow_cast_free(array: &dyn Array) -> Vec<String> {
    use arrow_array::types::{UInt32Type, UInt64Type};
    match array.data_type() {
        DataType::UInt64 => array
            .as_primitive::<UInt64Type>()
            .values()
            .iter()
            .map(|v| v.to_string())
            .collect(),
        DataType::UInt32 => array
            .as_primitive::<UInt32Type>()
            .values()
            .iter()
            .map(|v| v.to_string())
            .collect(),
        other => panic!("unexpected column type {other}"),
    }
}

/// Every column of `parquet` holds exactly the cells of its CSV twin.
fn assert_same_table(dir: &Path, name: &str) -> HashMap<String, String> {
    let (batches, metadata, _) = read(&dir.join(format!("{name}.parquet")));
    let (header, rows) = csv(&dir.join(format!("{name}.csv")));
    let schema = batches[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, header, "{name}: columns");
    let total: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(total, rows.len(), "{name}: rows");
    for (c, column) in header.iter().enumerate() {
        let expected: Vec<&str> = rows.iter().map(|r| r[c].as_str()).collect();
        assert_eq!(cells(&batches, column), expected, "{name}: column {column}");
    }
    metadata
}

#[test]
fn a_parquet_run_holds_the_csv_numbers_typed_and_records_its_provenance() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    stormglass_ok(&[
        "run",
        "--paths",
        "300",
        "--sample-paths",
        "4",
        "--seed",
        "11",
        "--format",
        "both",
        "--out",
        out.to_str().unwrap(),
    ]);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    for name in ["paths_metrics", "fan_bands", "sample_paths"] {
        let metadata = assert_same_table(&out, name);
        assert_eq!(metadata["stormglass.seed"], "11", "{name}");
        assert_eq!(metadata["stormglass.paths"], "300", "{name}");
        assert_eq!(metadata["stormglass.version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(
            metadata["stormglass.scenario_hash"],
            summary["scenario"]["hash"].as_str().unwrap(),
            "{name}"
        );
    }
    let (samples, _, _) = read(&out.join("sample_paths.parquet"));
    let schema = samples[0].schema();
    assert_eq!(
        schema.field_with_name("date").unwrap().data_type(),
        &DataType::Date32
    );
    assert!(matches!(
        schema.field_with_name("regime").unwrap().data_type(),
        DataType::Dictionary(_, _)
    ));

    // Parquet alone: no CSV tables beside it.
    let only = dir.path().join("only");
    stormglass_ok(&[
        "run",
        "--paths",
        "300",
        "--format",
        "parquet",
        "--out",
        only.to_str().unwrap(),
    ]);
    assert!(only.join("paths_metrics.parquet").is_file());
    assert!(!only.join("paths_metrics.csv").exists());
    assert!(!only.join("fan_bands.csv").exists());
}

#[test]
fn merged_shards_and_sweeps_write_parquet_too() {
    let dir = tempfile::tempdir().unwrap();
    let shards = dir.path().join("shards");
    for shard in ["0/2", "1/2"] {
        stormglass_ok(&[
            "run",
            "--paths",
            "400",
            "--shard",
            shard,
            "--out",
            shards.to_str().unwrap(),
        ]);
    }
    let merged = dir.path().join("merged");
    stormglass_ok(&[
        "merge",
        shards.to_str().unwrap(),
        "--format",
        "both",
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert_same_table(&merged, "paths_metrics");

    let sweep = dir.path().join("sweep");
    stormglass_ok(&[
        "sweep",
        "scenarios/default.toml",
        "--vary",
        "assets.spx.drift=0.04,0.08",
        "--paths",
        "300",
        "--format",
        "both",
        "--out",
        sweep.to_str().unwrap(),
    ]);
    let (batches, metadata, groups) = read(&sweep.join("sweep.parquet"));
    assert_eq!(groups, 1);
    assert_eq!(metadata["stormglass.paths"], "300");
    let (header, rows) = csv(&sweep.join("sweep.csv"));
    // The Parquet table adds each point's label after its index.
    let schema = batches[0].schema();
    let mut names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names.remove(1), "label");
    assert_eq!(names, header);
    for (c, column) in header.iter().enumerate().skip(1) {
        let expected: Vec<&str> = rows.iter().map(|r| r[c].as_str()).collect();
        assert_eq!(cells(&batches, column), expected, "sweep: column {column}");
    }
}
