//! `stormglass views`: a finished run's paths reweighted to the shipped
//! views file, read from its CSV and from its Parquet table alike; the views
//! met to 1e-9; conflicting views and a run without a per-path table refused
//! with messages that say what to do; a user's folder never overwritten
//! without --force.

use std::path::Path;

use crate::common::{stormglass, stormglass_ok};

fn run_folder(dir: &Path, format: &str, paths_csv: &str) -> String {
    let out = dir.join(format!("run-{format}-{paths_csv}"));
    let out_text = out.to_string_lossy().into_owned();
    stormglass_ok(&[
        "run",
        "scenarios/default.toml",
        "--paths",
        "3000",
        "--seed",
        "11",
        "--format",
        format,
        "--paths-csv",
        paths_csv,
        "--out",
        &out_text,
    ]);
    out_text
}

fn posterior(path: &Path) -> Vec<f64> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn views_reweight_a_run_from_csv_and_parquet_alike() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_folder(dir.path(), "both", "always");
    let csv_only = dir.path().join("csv-only");
    // The same run with only its CSV table: copy the folder without the Parquet file.
    std::fs::create_dir(&csv_only).unwrap();
    for name in ["summary.json", "paths_metrics.csv"] {
        std::fs::copy(Path::new(&run).join(name), csv_only.join(name)).unwrap();
    }
    let out_parquet = dir.path().join("views-parquet");
    let out_csv = dir.path().join("views-csv");
    let printed = stormglass_ok(&[
        "views",
        &run,
        "--views",
        "views/dollar_falls.toml",
        "--out",
        out_parquet.to_str().unwrap(),
    ]);
    assert!(printed.contains("effective scenarios"), "{printed}");
    stormglass_ok(&[
        "views",
        csv_only.to_str().unwrap(),
        "--views",
        "views/dollar_falls.toml",
        "--out",
        out_csv.to_str().unwrap(),
    ]);
    let a = posterior(&out_parquet.join("posterior.csv"));
    let b = posterior(&out_csv.join("posterior.csv"));
    assert_eq!(a.len(), 3000);
    // Both tables hold the same f64 figures (CSV in shortest round-trip form).
    assert_eq!(a, b);
    assert!((a.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_parquet.join("views.json")).unwrap())
            .unwrap();
    let views = json["views"].as_array().unwrap();
    assert_eq!(views.len(), 4);
    // The probability view holds with equality; the others within their bounds.
    assert!((views[0]["posterior"].as_f64().unwrap() - 0.40).abs() < 1e-9);
    assert!(views[2]["posterior"].as_f64().unwrap() >= -1e-9);
    assert!(views[3]["posterior"].as_f64().unwrap() >= 0.05 - 1e-9);
    assert_eq!(json["seed"].as_u64(), Some(11));
    assert_eq!(json["views_sha256"].as_str().unwrap().len(), 64);
    assert!(json["effective_scenarios"].as_f64().unwrap() > 300.0);
    for file in [
        "posterior.parquet",
        "views.csv",
        "views_figures.csv",
        "views.html",
    ] {
        assert!(out_parquet.join(file).is_file(), "{file}");
    }
    // A user's folder is not replaced without --force.
    let mine = dir.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "keep me").unwrap();
    let again = stormglass(&[
        "views",
        &run,
        "--views",
        "views/dollar_falls.toml",
        "--out",
        mine.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(mine.join("notes.txt").is_file());
}

#[test]
fn conflicting_views_and_a_run_without_a_table_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_folder(dir.path(), "csv", "always");
    let views = dir.path().join("conflict.toml");
    std::fs::write(
        &views,
        "[[view]]\nname = \"falls\"\nkind = \"probability\"\ncolumn = \"dxy.terminal_return\"\nbelow = -0.1\nequals = 0.4\n\n\
         [[view]]\nname = \"falls more\"\nkind = \"probability\"\ncolumn = \"dxy.terminal_return\"\nbelow = -0.1\nequals = 0.6\n",
    )
    .unwrap();
    let output = stormglass(&["views", &run, "--views", views.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("view `falls` (") && message.contains("view `falls more` ("),
        "{message}"
    );
    assert!(message.contains("conflict"), "{message}");

    let bare = run_folder(dir.path(), "csv", "never");
    let output = stormglass(&["views", &bare, "--views", "views/dollar_falls.toml"]);
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("--paths-csv always"), "{message}");
}
