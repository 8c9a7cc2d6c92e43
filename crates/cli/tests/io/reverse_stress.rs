//! `stormglass reverse-stress` end to end: a run with a book, then its
//! reverse stress test from the run's folder: the files, the record, the page,
//! the medoids replayed exactly, and the errors for bad input.

use std::path::Path;
use std::process::Command;

const SCENARIO: &str = r#"[scenario]
name = "two_markets"
start_date = 2026-01-05
horizon_steps = 126
calendar = "weekdays"
sample_paths = 0
seed = 7

[regimes.calm]
intensities = { stress = 0.8 }
[regimes.stress]
intensities = { calm = 2.0 }

[correlation]
drivers = ["spx", "dxy"]
matrix = [[1.0, -0.3], [-0.3, 1.0]]

[assets.spx]
process = "gbm"
initial = 100.0
drift = 0.05
vol = 0.25
by_regime.stress = { drift = -0.4, vol = 0.4 }

[assets.dxy]
process = "gbm"
initial = 100.0
vol = 0.08

[currencies.USD]
short_rate = 0.04
"#;

const BOOK: &str = r#"name = "levered"
base_currency = "USD"
value = 1_000_000
weights_sum = 1.5
[positions.spx]
asset = "spx"
weight = 1.5
"#;

fn stormglass(args: &[&str], cwd: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_stormglass"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("the binary runs")
}

fn ok(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn refused(output: &std::process::Output, says: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(says), "expected `{says}` in: {stderr}");
}

#[test]
fn a_book_loss_is_stress_tested_from_the_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    std::fs::write(cwd.join("two_markets.toml"), SCENARIO).unwrap();
    std::fs::write(cwd.join("levered.toml"), BOOK).unwrap();
    ok(&stormglass(
        &[
            "run",
            "two_markets.toml",
            "--portfolio",
            "levered.toml",
            "--paths",
            "4000",
            "--threads",
            "2",
            "--out",
            "run",
        ],
        cwd,
    ));
    let stdout = ok(&stormglass(
        &[
            "reverse-stress",
            "run",
            "--portfolio",
            "levered",
            "--loss",
            "0.25",
            "--out",
            "rs",
        ],
        cwd,
    ));
    assert!(
        stdout.contains("portfolio levered loses at least 25%"),
        "{stdout}"
    );
    // Fewer than 1,000 of 4,000 paths breach: the command says so.
    assert!(stdout.contains("fewer than 1000"), "{stdout}");
    let out = cwd.join("rs");
    for file in [
        "reverse_stress.json",
        "common.csv",
        "common.parquet",
        "frontier.csv",
        "medoids.csv",
        "reverse_stress.html",
        "charts/reverse_stress_frontier.png",
        "charts/reverse_stress_medoids.svg",
    ] {
        assert!(out.join(file).exists(), "{file} missing");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("reverse_stress.json")).unwrap())
            .unwrap();
    assert_eq!(json["paths"], 4000);
    assert_eq!(json["seed"], 7);
    assert_eq!(json["breach"]["column"], "portfolio.levered.pnl");
    assert_eq!(json["breach"]["threshold"], -0.25);
    assert!(json["advice"]
        .as_str()
        .is_some_and(|a| a.contains("--paths")));
    // The probability is the share of the run's own per-path P&Ls at or below -25%.
    let table = std::fs::read_to_string(cwd.join("run/paths_metrics.csv")).unwrap();
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let c = header
        .iter()
        .position(|h| *h == "portfolio.levered.pnl")
        .unwrap();
    let breaching = lines
        .filter(|l| l.split(',').nth(c).unwrap().parse::<f64>().unwrap() <= -0.25)
        .count();
    assert_eq!(json["breaching"], breaching);
    assert_eq!(json["probability"], breaching as f64 / 4000.0);
    let common = std::fs::read_to_string(out.join("common.csv")).unwrap();
    assert!(common.starts_with(
        "rank,column,group,breach_mean,breach_se,all_mean,difference,difference_se,shift_sd,z,breach_present,all_present\n"
    ));
    assert!(common.contains(",regime.stress.time_share,regimes,"));
    let html = std::fs::read_to_string(out.join("reverse_stress.html")).unwrap();
    assert!(html.contains("What the breaching paths have in common"));
    // Every medoid's replay reproduced the run's P&L, and the book was found.
    assert!(!html.contains("do not reproduce"), "replays differ");
    assert!(!html.contains("is not drawn"), "book not replayed");

    // Bad input: a misspelt book, a loss no path reaches, a misspelt column.
    refused(
        &stormglass(
            &[
                "reverse-stress",
                "run",
                "--portfolio",
                "levred",
                "--loss",
                "0.2",
            ],
            cwd,
        ),
        "did you mean `levered`",
    );
    refused(
        &stormglass(
            &[
                "reverse-stress",
                "run",
                "--portfolio",
                "levered",
                "--loss",
                "5",
            ],
            cwd,
        ),
        "the largest loss any path makes is",
    );
    refused(
        &stormglass(
            &[
                "reverse-stress",
                "run",
                "--figure",
                "spx.terminal_retrn",
                "--at-most",
                "-0.2",
            ],
            cwd,
        ),
        "did you mean `spx.terminal_return`",
    );
    refused(
        &stormglass(&["reverse-stress", "run", "--asset", "spx"], cwd),
        "--loss",
    );
}

/// A column of a per-path CSV, by name.
fn csv_column(path: &Path, name: &str) -> Vec<f64> {
    let table = std::fs::read_to_string(path).unwrap();
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let c = header.iter().position(|h| *h == name).unwrap();
    lines
        .map(|l| l.split(',').nth(c).unwrap().parse::<f64>().unwrap())
        .collect()
}

#[test]
fn a_rare_breach_offers_a_tilted_rerun_and_makes_it() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    std::fs::write(cwd.join("two_markets.toml"), SCENARIO).unwrap();
    std::fs::write(cwd.join("levered.toml"), BOOK).unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "reverse-stress",
            "run",
            "--portfolio",
            "levered",
            "--loss",
            "0.4",
            "--out",
            "rs",
            "--force",
        ];
        args.extend(extra);
        ok(&stormglass(&args, cwd))
    };
    ok(&stormglass(
        &[
            "run",
            "two_markets.toml",
            "--portfolio",
            "levered.toml",
            "--paths",
            "4000",
            "--out",
            "run",
        ],
        cwd,
    ));
    let stdout = run(&[]);
    // Too few breach: the exact command of the tilted re-run is given.
    let command =
        "stormglass reverse-stress run --portfolio levered --loss 0.4 --out rs --force --tilt";
    assert!(stdout.contains(command), "{stdout}");
    let plain: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cwd.join("rs/reverse_stress.json")).unwrap())
            .unwrap();
    assert!(plain["advice"].as_str().unwrap().contains(command));
    assert!(plain.get("importance_sampling").is_none());

    let stdout = run(&["--tilt", "--paths", "6000"]);
    assert!(
        stdout.contains("tilted run: importance-sampling estimate"),
        "{stdout}"
    );
    let tilted_dir = cwd.join("run-tilted");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tilted_dir.join("summary.json")).unwrap())
            .unwrap();
    let factor = summary["tilt"]["regimes"]["stress"].as_f64().unwrap();
    assert!((1.0..=20.0).contains(&factor), "{factor}");
    assert_eq!(summary["paths"], 6000);
    assert_ne!(summary["seed"], 7);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cwd.join("rs/reverse_stress.json")).unwrap())
            .unwrap();
    assert_eq!(json["tilt"], summary["tilt"]);
    assert_eq!(json["plain_run"]["breaching"], plain["breaching"]);
    // The probability is the likelihood-ratio-weighted share of the re-run's
    // own per-path P&Ls at or below -40%.
    let table = tilted_dir.join("paths_metrics.csv");
    let ratios = csv_column(&table, "likelihood_ratio");
    let pnl = csv_column(&table, "portfolio.levered.pnl");
    let total: f64 = ratios.iter().sum();
    let weighted: f64 = ratios
        .iter()
        .zip(&pnl)
        .filter(|(_, &p)| p <= -0.4)
        .map(|(r, _)| r / total)
        .sum();
    let probability = json["probability"].as_f64().unwrap();
    assert!(
        (probability - weighted).abs() < 1e-12,
        "{probability} against {weighted}"
    );
    assert!(json["breaching"].as_u64() > plain["breaching"].as_u64());
    // The tilted estimate is the plain one's within four combined standard
    // errors (the runs' seeds differ, so their errors add).
    let importance = &json["importance_sampling"];
    let (p_tilted, se_tilted) = (
        importance["probability"].as_f64().unwrap(),
        importance["standard_error"].as_f64().unwrap(),
    );
    let (p_plain, se_plain) = (
        plain["probability"].as_f64().unwrap(),
        plain["standard_error"].as_f64().unwrap(),
    );
    let combined = (se_tilted * se_tilted + se_plain * se_plain).sqrt();
    assert!(
        (p_tilted - p_plain).abs() <= 4.0 * combined,
        "tilted {p_tilted} ± {se_tilted}, plain {p_plain} ± {se_plain}"
    );
    // What a tilted path is worth in plain ones: the ratio of the two
    // estimates' variances per path, said in the page.
    let worth = (se_plain * se_plain * plain["paths"].as_f64().unwrap())
        / (se_tilted * se_tilted * json["paths"].as_f64().unwrap());
    let reported = json["tilted_path_worth"].as_f64().unwrap();
    assert!(
        (reported / worth - 1.0).abs() < 1e-12,
        "{reported} against {worth}"
    );
    let html = std::fs::read_to_string(cwd.join("rs/reverse_stress.html")).unwrap();
    assert!(html.contains("drawn tilted toward the breach"));
    assert!(html.contains("A tilted path is worth"));
    // The medoids replay under the run's tilt, exactly.
    assert!(!html.contains("do not reproduce"), "replays differ");
    assert!(!html.contains("is not drawn"), "book not replayed");
}
