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

#[test]
fn a_position_that_cannot_move_is_warned_about_by_validate_and_run_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("euro_in_euros.toml");
    let text = "name = \"euro_in_euros\"\nbase_currency = \"EUR\"\n\n[positions.long_euro]\nasset = \"eurusd\"\nweight = 1.0\n";
    std::fs::write(&file, text).unwrap();
    let expected = [
        format!("{}:5: positions.long_euro.asset", file.display()),
        "cannot move".to_string(),
        r#"[positions.long_euro] forward = "USD", weight = -1"#.to_string(),
    ];
    let validated = common::stormglass(&["validate", file.to_str().unwrap()]);
    assert!(validated.status.success());
    let stderr = String::from_utf8_lossy(&validated.stderr);
    assert!(
        stderr.contains(&format!("warning: {}", expected[0])),
        "{stderr}"
    );
    for part in &expected {
        assert!(stderr.contains(part.as_str()), "{part} not in {stderr}");
    }
    let out = dir.path().join("run");
    let ran = common::stormglass(&[
        "run",
        "--paths",
        "200",
        "--sample-paths",
        "0",
        "--no-portfolios",
        "--portfolio",
        file.to_str().unwrap(),
        "--portfolio",
        "portfolios/eur_short_usd.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert!(ran.status.success(), "{stderr}");
    assert!(stderr.contains(expected[2].as_str()), "{stderr}");
    // The bundled forward book is not warned about: it moves.
    assert!(!stderr.contains("eur_short_usd"), "{stderr}");
    let json = std::fs::read_to_string(out.join("summary.json")).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&json).unwrap();
    let keys: Vec<&str> = summary["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"positions.long_euro.asset"), "{keys:?}");
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("positions.long_euro.asset"));
    assert_eq!(summary["portfolios"][1]["positions"][0]["kind"], "forward");
}
