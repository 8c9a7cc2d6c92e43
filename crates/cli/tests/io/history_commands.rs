//! A run held against history, end to end: the realism section read back
//! from the files, warnings, and a user's own anchors.

use crate::common;
use common::*;
use std::collections::HashMap;
use std::path::Path;
use stormglass_core::history::{self};

/// Type 7 quantile, written out again so the check does not share the engine's.
fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let h = (values.len() - 1) as f64 * q;
    let below = h.floor() as usize;
    let above = (below + 1).min(values.len() - 1);
    values[below] + (h - below as f64) * (values[above] - values[below])
}

#[test]
fn the_realism_section_counts_back_from_paths_metrics_csv() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    stormglass_ok(&[
        "run",
        "--paths",
        "3000",
        "--no-portfolios",
        "--out",
        out.to_str().unwrap(),
    ]);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let csv = std::fs::read_to_string(out.join("paths_metrics.csv")).unwrap();
    let mut lines = csv.lines();
    let names: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mut columns: HashMap<&str, Vec<f64>> = HashMap::new();
    for line in lines {
        for (name, cell) in names.iter().zip(line.split(',')) {
            columns
                .entry(name)
                .or_default()
                .push(cell.parse().unwrap_or(f64::NAN));
        }
    }
    let figures = summary["realism"]["figures"].as_array().unwrap();
    assert!(figures.len() > 40, "{}", figures.len());
    let mut checked = 0;
    for f in figures {
        let asset = f["asset"].as_str().unwrap();
        let history = f["history"].as_f64().unwrap();
        let run = f["run"].as_f64().unwrap();
        let beyond = f["paths_beyond"].as_u64();
        let col = |metric: &str| -> Vec<f64> {
            columns[format!("{asset}.{metric}").as_str()]
                .iter()
                .copied()
                .filter(|v| !v.is_nan())
                .collect()
        };
        let count = |values: &[f64], hit: &dyn Fn(f64) -> bool| -> u64 {
            values.iter().filter(|v| hit(**v)).count() as u64
        };
        let (expected, expected_beyond) = match f["figure"].as_str().unwrap() {
            "return_quantile" | "change_quantile" | "worst_day_quantile" => {
                let metric = match f["figure"].as_str().unwrap() {
                    "return_quantile" => "terminal_return",
                    "change_quantile" => "terminal_change",
                    _ => "worst_day",
                };
                let mut values = col(metric);
                let label = f["label"].as_str().unwrap();
                let q: f64 = label.rsplit('p').next().unwrap().parse::<f64>().unwrap() / 100.0;
                let beyond = if q < 0.5 {
                    Some(count(&values, &|v| v < history))
                } else if q > 0.5 {
                    Some(count(&values, &|v| v > history))
                } else {
                    None
                };
                (quantile(&mut values, q), beyond)
            }
            "drawdown_probability" => {
                let values = col("max_drawdown");
                let threshold: f64 = f["label"]
                    .as_str()
                    .unwrap()
                    .split(">= ")
                    .nth(1)
                    .unwrap()
                    .trim_end_matches("%)")
                    .parse::<f64>()
                    .unwrap()
                    / 100.0;
                let hits = count(&values, &|v| v >= threshold);
                (hits as f64 / values.len() as f64, Some(hits))
            }
            "mean_max_drawdown" => {
                let values = col("max_drawdown");
                (values.iter().sum::<f64>() / values.len() as f64, None)
            }
            "realized_vol_median" => (quantile(&mut col("realized_vol"), 0.5), None),
            "change_sd" => {
                let values = col("terminal_change");
                (variance(&values).sqrt(), None)
            }
            record => {
                // A record: the run's 1% tail on its side, and the paths past it.
                let (metric, low_side) = match record {
                    "level_low" => ("min", true),
                    "level_high" => ("max", false),
                    "worst_day" => ("worst_day", true),
                    "best_day" => ("best_day", false),
                    "worst_return" => ("terminal_return", true),
                    "best_return" => ("terminal_return", false),
                    other => panic!("a figure the test does not know: {other}"),
                };
                let mut values = col(metric);
                let past = if low_side {
                    count(&values, &|v| v < history)
                } else {
                    count(&values, &|v| v > history)
                };
                let q = if low_side { 0.01 } else { 0.99 };
                (quantile(&mut values, q), Some(past))
            }
        };
        // The CSV holds every figure to the shortest text that reads back to the
        // same f64, so only summation order separates the two (means: ~1e-15).
        assert!(
            (run - expected).abs() <= 1e-12 * expected.abs().max(1.0),
            "{asset} {}: summary {run}, recounted {expected}",
            f["label"]
        );
        assert_eq!(beyond, expected_beyond, "{asset} {}", f["label"]);
        checked += 1;
    }
    assert_eq!(checked, figures.len());
    assert!(summary["realism"]["outside"].as_u64().unwrap() > 0);
}

#[test]
fn the_run_warns_where_its_figures_can_leave_history_and_still_runs() {
    let feller = scenario(&format!(
        "{}[assets.x]\nprocess = \"heston\"\ninitial = 100.0\nmean_reversion = 1.0\nlong_run_variance = 0.02\nvol_of_vol = 0.6\n",
        header("feller", 10)
    ));
    let warnings = stormglass_core::history::warnings(&feller, history::builtin());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].key, "assets.x.vol_of_vol");
    assert!(warnings[0].message.contains("Feller"), "{}", warnings[0]);
    let floored = stormglass_core::scenario::load_str(
        &format!(
            "{}[assets.x]\nprocess = \"heston\"\ninitial = 100.0\nmean_reversion = 1.0\nlong_run_variance = 0.02\nvol_of_vol = 0.6\nvariance_floor = 0.004\n",
            header("floored", 10)
        ),
        Path::new("floored.toml"),
    )
    .unwrap();
    assert!(stormglass_core::history::warnings(&floored, history::builtin()).is_empty());
    // A EUR/USD with an 80% vol can end a year beyond ten times its records.
    let wild = scenario(&format!(
        "{}[assets.eurusd]\nprocess = \"gbm\"\ninitial = 1.16\nvol = 0.8\n",
        header("wild", 252)
    ));
    let warnings = stormglass_core::history::warnings(&wild, history::builtin());
    let texts: Vec<String> = warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(warnings.len(), 2, "{texts:?}");
    assert!(texts[0].contains("times past its record high"), "{texts:?}");
    assert!(texts[1].contains("times past its record low"), "{texts:?}");
    // The bundled scenarios warn about nothing.
    for name in THESIS_SCENARIOS {
        let warnings = stormglass_core::history::warnings(&bundled(name), history::builtin());
        assert!(warnings.is_empty(), "{name}: {warnings:?}");
    }
    // A jump of the S&P 500 that can reach -40% in a day: warned, with its file and line.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("crash.toml");
    std::fs::write(
        &file,
        format!(
            "extends = \"{}\"\n[assets.spx.by_regime.sell_america]\njump_mean = -0.3\njump_sd = 0.05\n",
            Path::new(*crate::common::ROOT)
                .join("scenarios/default.toml")
                .display()
        ),
    )
    .unwrap();
    let output = stormglass(&["validate", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("crash.toml:3: assets.spx.by_regime.sell_america.jump_mean"),
        "{stderr}"
    );
    assert!(!stderr.contains("Feller"), "{stderr}");
}

#[test]
fn a_users_own_anchors_replace_the_built_in_ones_and_a_bad_file_stops_before_simulating() {
    let dir = tempfile::tempdir().unwrap();
    let anchors = dir.path().join("mine.toml");
    std::fs::write(
        &anchors,
        "[about]\ngenerated_by = \"hand\"\nversion = 1\n\n[[anchor]]\nasset = \"spx\"\nfigure = \"return_quantile\"\nq = 0.05\nhorizon_years = 1.0\nvalue = -0.9\nlow = -0.95\nhigh = -0.85\nkind = \"published\"\nsource = \"a desk view\"\nperiod = \"2026\"\n",
    )
    .unwrap();
    let out = dir.path().join("run");
    let anchors_arg = anchors.to_str().unwrap();
    stormglass_ok(&[
        "run",
        "--paths",
        "500",
        "--no-portfolios",
        "--anchors",
        anchors_arg,
        "--out",
        out.to_str().unwrap(),
    ]);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let figures = summary["realism"]["figures"].as_array().unwrap();
    assert_eq!(figures.len(), 1);
    assert_eq!(figures[0]["standing"], "above");
    assert_eq!(summary["realism"]["anchors"], anchors_arg);

    std::fs::write(
        &anchors,
        "[about]\ngenerated_by = \"hand\"\nversion = 1\nanchor = 3\n",
    )
    .unwrap();
    let output = stormglass(&[
        "run",
        "--anchors",
        anchors_arg,
        "--out",
        dir.path().join("never").to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("mine.toml:4:"), "{stderr}");
    assert!(!dir.path().join("never").exists());
}
