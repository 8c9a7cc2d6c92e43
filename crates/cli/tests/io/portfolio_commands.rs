//! A portfolio file given to `run`, end to end.

use crate::common;

#[test]
fn the_cli_runs_a_portfolio_file_and_writes_the_tables() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let output = common::stormglass(&[
        "run",
        "--paths",
        "300",
        "--sample-paths",
        "0",
        "--no-portfolios",
        "--portfolio",
        "portfolios/us_60_40.toml",
        "--stress",
        "stress/episodes.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("us_60_40") && stdout.contains("april_2025"),
        "{stdout}"
    );
    let csv = std::fs::read_to_string(out.join("portfolios.csv")).unwrap();
    assert_eq!(csv.lines().count(), 2);
    assert!(csv.lines().next().unwrap().contains("es99,var99_amount"));
    // Loss probabilities are a table of their own, not a packed "0.05:0.3;..." cell.
    assert!(!csv.contains("0.05:"), "{csv}");
    let losses = std::fs::read_to_string(out.join("portfolio_losses.csv")).unwrap();
    let rows: Vec<&str> = losses.lines().collect();
    assert_eq!(rows[0], "portfolio,threshold,probability,standard_error");
    let thresholds: Vec<&str> = rows[1..]
        .iter()
        .map(|r| r.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(thresholds, ["0.05", "0.1", "0.2"], "{losses}");
    let json = std::fs::read_to_string(out.join("summary.json")).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(summary["portfolios"][0]["name"], "us_60_40");
    assert_eq!(
        summary["portfolios"][0]["sha256"].as_str().unwrap().len(),
        64
    );

    let bad_run = common::stormglass(&[
        "run",
        "--portfolio",
        "crates/core/tests/portfolios/bad/hedge_ratio.toml",
    ]);
    assert_eq!(bad_run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_run.stderr).contains("positions.spx.hedge_ratio"));
}
