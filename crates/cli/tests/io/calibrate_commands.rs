//! `calibrate history` and `calibrate targets` as commands: the files they
//! write, their exit statuses, and `--set` recorded by `run` and `compare`.

use std::path::{Path, PathBuf};

use stormglass_core::calibrate::targets::parse_targets;
use stormglass_core::scenario;

use crate::common::fit_scenario_text as scenario_text;
use crate::common::{self, stormglass, stormglass_ok};

/// Writes `text` as `name` in `dir`.
fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_command_writes_a_fragment_that_runs_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fit");
    let fragment = dir.path().join("fitted-sp500.toml");
    let (out_arg, fragment_arg) = (out.to_str().unwrap(), fragment.to_str().unwrap());
    let args = [
        "calibrate",
        "history",
        "data/history/sp500.csv",
        "--frequency",
        "weekly",
        "--regimes",
        "2",
        "--out",
        out_arg,
        "--fragment",
        fragment_arg,
    ];
    let stdout = common::stormglass_ok(&args);
    assert!(stdout.contains("log likelihood"), "{stdout}");
    for file in [
        "fitted.toml",
        "calibration.json",
        "smoothed_probabilities.csv",
        "calibration.html",
        "charts/smoothed_probabilities.png",
        "charts/smoothed_probabilities.svg",
    ] {
        assert!(out.join(file).is_file(), "{file}");
    }
    let written = std::fs::read_to_string(&fragment).unwrap();
    assert_eq!(
        written,
        std::fs::read_to_string(out.join("fitted.toml")).unwrap()
    );
    let scenario = stormglass_core::scenario::load(&fragment).unwrap();
    assert_eq!(scenario.regimes.len(), 2);

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("calibration.json")).unwrap())
            .unwrap();
    let observations = json["data"]["observations"].as_u64().unwrap() as usize;
    assert_eq!(json["data"]["sha256"].as_str().unwrap().len(), 64);
    for key in ["log_likelihood", "aic", "bic"] {
        assert!(json[key].as_f64().unwrap().is_finite(), "{key}");
    }
    let parameters = json["parameters"].as_array().unwrap();
    assert_eq!(
        parameters.len(),
        json["parameter_count"].as_u64().unwrap() as usize
    );
    assert!(parameters
        .iter()
        .all(|p| p["standard_error"].as_f64().unwrap() > 0.0));
    let rows = json["transition_matrix"].as_array().unwrap();
    for row in rows {
        let sum: f64 = row
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_f64().unwrap())
            .sum();
        assert!((sum - 1.0).abs() < 1e-12, "{row}");
    }
    let csv = std::fs::read_to_string(out.join("smoothed_probabilities.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("date,calm,turbulent"));
    let body: Vec<&str> = lines.collect();
    assert_eq!(body.len(), observations);
    for line in body {
        // Six decimals a cell: a row sums to 1 within their rounding.
        let sum: f64 = line
            .split(',')
            .skip(1)
            .map(|v| v.parse::<f64>().unwrap())
            .sum();
        assert!((sum - 1.0).abs() <= 1e-6, "{line}");
    }

    // A second fit to the same --out file is refused without --force, and
    // leaves the file as it was; the folder, a previous fit's, is replaced.
    let again = common::stormglass(&args);
    assert_eq!(again.status.code(), Some(2));
    let message = String::from_utf8_lossy(&again.stderr);
    assert!(
        message.contains("exists") && message.contains("--force"),
        "{message}"
    );
    assert_eq!(std::fs::read_to_string(&fragment).unwrap(), written);
    let mut forced = args.to_vec();
    forced.push("--force");
    common::stormglass_ok(&forced);
}

#[test]
fn a_fit_whose_scenario_validate_refuses_exits_2_saying_what_to_change() {
    // Each of these used to exit 0 with a fragment `validate` refuses.
    let dir = tempfile::tempdir().unwrap();
    let days = |from: chrono::NaiveDate, n: i64, f: &dyn Fn(f64) -> f64| -> String {
        (0..n)
            .map(|t| format!("{},{}\n", from + chrono::Duration::days(t), f(t as f64)))
            .collect()
    };
    let start = chrono::NaiveDate::from_ymd_opt(2015, 1, 1).unwrap();
    let wave = |t: f64| 1.0 + 0.1 * (t * 0.05).sin() + 0.02 * (t * 1.3).sin();
    let spread = write(
        dir.path(),
        "spread.csv",
        &format!("date,spread\n{}", days(start, 400, &|t| 350.0 * wave(t))),
    );
    let cap = write(
        dir.path(),
        "cap.csv",
        &format!("date,cap\n{}", days(start, 400, &|t| 2.5e12 * wave(t))),
    );
    let old = write(
        dir.path(),
        "old.csv",
        &format!(
            "date,px\n{}",
            days(
                chrono::NaiveDate::from_ymd_opt(1880, 1, 1).unwrap(),
                400,
                &|t| 100.0 * wave(t)
            )
        ),
    );
    let (spread, cap, old) = (
        spread.to_str().unwrap().to_string(),
        cap.to_str().unwrap().to_string(),
        old.to_str().unwrap().to_string(),
    );
    let cases: [(&[&str], &[&str]); 5] = [
        (
            &["data/history/vix.csv", "--regimes", "2"],
            &["assets.vix.by_regime.turbulent.drift", "--levels vix"],
        ),
        (
            &[
                "data/history/sp500.csv",
                "--frequency",
                "monthly",
                "--regimes",
                "5",
            ],
            &["exit probability", "fewer regimes than 5"],
        ),
        (
            &[&spread, "--levels", "spread", "--regimes", "1"],
            &["assets.spread.mean", "rescale the column"],
        ),
        (
            &[&cap, "--regimes", "1"],
            &["assets.cap.initial", "rescale the column"],
        ),
        (
            &[&old, "--regimes", "1"],
            &["scenario.start_date", "data end on 1881"],
        ),
    ];
    for (n, (args, expected)) in cases.iter().enumerate() {
        let out = dir.path().join(format!("out{n}"));
        let fragment = dir.path().join(format!("fitted{n}.toml"));
        let mut all = vec!["calibrate", "history"];
        all.extend_from_slice(args);
        let (out_arg, fragment_arg) = (out.to_str().unwrap(), fragment.to_str().unwrap());
        all.extend_from_slice(&["--out", out_arg, "--fragment", fragment_arg]);
        let output = common::stormglass(&all);
        let message = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {message}");
        assert!(message.contains("What to change"), "{args:?}: {message}");
        for text in *expected {
            assert!(message.contains(text), "{args:?}: {text}: {message}");
        }
        assert!(!out.exists() && !fragment.exists(), "{args:?} wrote");
    }
    // The VIX as a level fits, and its fragment validates.
    let out = dir.path().join("vix-levels");
    let out_arg = out.to_str().unwrap();
    common::stormglass_ok(&[
        "calibrate",
        "history",
        "data/history/vix.csv",
        "--levels",
        "vix",
        "--regimes",
        "2",
        "--out",
        out_arg,
    ]);
    let fitted = out.join("fitted.toml");
    common::stormglass_ok(&["validate", fitted.to_str().unwrap()]);
}

#[test]
fn the_command_exits_2_naming_the_problem_in_bad_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    std::fs::write(&path, "date,spx\n2020-01-01,100\n2020-01-02,abc\n").unwrap();
    let output = common::stormglass(&[
        "calibrate",
        "history",
        path.to_str().unwrap(),
        "--out",
        dir.path().join("out").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("bad.csv:3"), "{message}");
    assert!(!dir.path().join("out").exists());
}

#[test]
fn a_fit_that_does_not_converge_exits_2_saying_what_to_try() {
    // A level that moves only in six 5% steps: the calm regime's variance
    // collapses onto the zero changes, and the observed information is singular.
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("date,x\n");
    let first = chrono::NaiveDate::from_ymd_opt(2000, 1, 3).unwrap();
    let mut level = 100.0_f64;
    for d in 0..400 {
        if d % 50 == 0 {
            level *= 1.05;
        }
        text.push_str(&format!("{},{level}\n", first + chrono::Duration::days(d)));
    }
    let path = write(dir.path(), "steps.csv", &text);
    let out = dir.path().join("out");
    let output = common::stormglass(&[
        "calibrate",
        "history",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("steps.csv: 399 daily changes of x")
            && message.contains("did not converge")
            && message.contains("try fewer regimes"),
        "{message}"
    );
    assert!(!out.exists());
}

#[test]
fn the_command_writes_a_fitted_scenario_that_loads() {
    let dir = tempfile::tempdir().unwrap();
    let scenario_path = write(dir.path(), "fit_small.toml", &scenario_text(0.3));
    let targets_path = write(
        dir.path(),
        "targets.toml",
        "[[target]]\nfigure = \"eq.return.p05\"\nvalue = -0.15\n\n\
         [[target]]\nfigure = \"eq.drawdown.p50\"\nvalue = 0.08\nweight = 0.5\n",
    );
    let out = dir.path().join("calibrated");
    let out_text = out.to_string_lossy().into_owned();
    let stdout = stormglass_ok(&[
        "calibrate",
        "targets",
        &scenario_path.to_string_lossy(),
        "--targets",
        &targets_path.to_string_lossy(),
        "--free",
        "assets.eq.vol",
        "--pilot-paths",
        "400",
        "--paths",
        "1000",
        "--out",
        &out_text,
    ]);
    assert!(
        stdout.contains("eq.return.p05") && stdout.contains("assets.eq.vol"),
        "{stdout}"
    );
    for file in ["fitted.toml", "targets.csv", "calibration.json"] {
        assert!(out.join(file).is_file(), "{file}");
    }
    let calibration: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("calibration.json")).unwrap())
            .unwrap();
    let fitted_vol = calibration["keys"][0]["fitted"].as_f64().unwrap();
    assert_eq!(calibration["keys"][0]["key"], "assets.eq.vol");
    assert_eq!(calibration["version"], env!("CARGO_PKG_VERSION"));
    for hash in ["scenario_hash", "targets_sha256"] {
        assert_eq!(calibration[hash].as_str().unwrap().len(), 64, "{hash}");
    }
    assert_eq!(calibration["targets"].as_array().unwrap().len(), 2);
    assert!(calibration["trials"].as_u64().unwrap() > 2);
    let csv = std::fs::read_to_string(out.join("targets.csv")).unwrap();
    assert!(
        csv.starts_with(
            "figure,kind,target,target_standard_error,achieved,standard_error,z,weight,note\neq.return.p05,equal,"
        ),
        "{csv}"
    );
    // fitted.toml extends the input by a path relative to its own folder.
    let fitted = scenario::load(&out.join("fitted.toml")).unwrap();
    assert_eq!(fitted.assets[0].params[0].vol, fitted_vol);
    assert_eq!(fitted.name, "fit_small");

    // A missing value fails with exit status 2, before anything is written.
    let bad = write(
        dir.path(),
        "bad.toml",
        "[[target]]\nfigure = \"eq.return.p05\"\n",
    );
    let output = stormglass(&[
        "calibrate",
        "targets",
        &scenario_path.to_string_lossy(),
        "--targets",
        &bad.to_string_lossy(),
        "--free",
        "assets.eq.vol",
        "--out",
        &dir.path().join("never").to_string_lossy(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad.toml:1: target `eq.return.p05` needs `value`"),
        "{stderr}"
    );
    assert!(!dir.path().join("never").exists());
}

#[test]
fn run_set_changes_a_key_and_records_it_in_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let scenario_path = write(dir.path(), "fit_small.toml", &scenario_text(0.2));
    let out = dir.path().join("run");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run".to_string(),
            scenario_path.to_string_lossy().into_owned(),
            "--paths".into(),
            "300".into(),
            "--out".into(),
            out.to_string_lossy().into_owned(),
            "--force".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        stormglass(&args)
    };
    let output = run(&[
        "--set",
        "assets.eq.vol=0.4",
        "--set",
        "events[name=shock].rate_per_year=2",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["settings"][0]["key"], "assets.eq.vol");
    assert_eq!(summary["settings"][0]["value"], 0.4);
    assert_eq!(summary["settings"][1]["key"], "events.shock.rate_per_year");
    let vol = summary["assets"][0]["realized_vol"]["mean"]
        .as_f64()
        .unwrap();
    assert!((vol - 0.4).abs() < 0.03, "{vol}");
    // The report lists what was set beside the file's own values.
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    let set = &page[page
        .find("Set for this run (--set)")
        .expect("the settings table")..];
    let table = &set[..set.find("</table>").unwrap()];
    for cell in ["assets.eq.vol", "0.2", "0.4", "events.shock.rate_per_year"] {
        assert!(
            table.contains(&format!("<td>{cell}</td>")),
            "{cell}: {table}"
        );
    }

    for (setting, expected) in [
        ("assets.eq.vlo=0.4", "did you mean `assets.eq.vol`?"),
        (
            "assets.eq.vol=9",
            "assets.eq.vol: 9 is out of range; valid: [0, 5]",
        ),
        ("assets.eq.vol", "expected KEY=VALUE"),
    ] {
        let output = run(&["--set", setting]);
        assert_eq!(output.status.code(), Some(2), "{setting}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{setting}: {stderr}");
    }
}

#[test]
fn compare_set_changes_every_scenario_file_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let low = write(dir.path(), "low.toml", &scenario_text(0.1));
    let high = write(
        dir.path(),
        "high.toml",
        &scenario_text(0.3).replace("fit_small", "high"),
    );
    let out = dir.path().join("compared");
    let args = [
        "compare",
        low.to_str().unwrap(),
        high.to_str().unwrap(),
        "--paths",
        "300",
        "--set",
        "assets.eq.vol=0.2",
        "--out",
        out.to_str().unwrap(),
    ];
    stormglass_ok(&args);
    // The same key at the same value and seed: the two runs now agree.
    let text = std::fs::read_to_string(out.join("comparison.json")).unwrap();
    let comparison: serde_json::Value = serde_json::from_str(&text).unwrap();
    let runs = comparison["runs"].as_array().expect("runs");
    assert_eq!(runs[0]["key_numbers"], runs[1]["key_numbers"], "{text}");
    assert_ne!(runs[0]["hash"], runs[1]["hash"]);

    // A finished run folder cannot take settings.
    let finished = dir.path().join("finished");
    stormglass_ok(&[
        "run",
        low.to_str().unwrap(),
        "--paths",
        "100",
        "--out",
        finished.to_str().unwrap(),
    ]);
    let output = stormglass(&[
        "compare",
        finished.to_str().unwrap(),
        high.to_str().unwrap(),
        "--set",
        "assets.eq.vol=0.2",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("--set changes the scenario files"),
        "{message}"
    );
}

#[test]
fn every_number_a_fit_writes_is_finite_or_null_with_a_reason() {
    // A weight near f64's limit used to pass as "positive and finite" and
    // overflow the objective; weights now keep to a documented range.
    for weight in ["1e308", "1e7", "1e-7", "0", "-1"] {
        let text = format!("[[target]]\nfigure = \"eq.vol.p50\"\nvalue = 0.2\nweight = {weight}\n");
        let message = parse_targets(&text, Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("t.toml:1:") && message.contains("valid: 1e-6 to 1e6"),
            "{weight}: {message}"
        );
    }
    // The stress regime is entered on few paths: its time share's median is
    // 0 on every path near it (a standard error of 0), so a target of 0.1 is
    // missed by an infinite number of standard errors; on 40 paths the 99%
    // expected shortfall's tail holds one path (no standard error); a target
    // met exactly has z 0, not 0/0.
    let dir = tempfile::tempdir().unwrap();
    let targets = "[[target]]\nfigure = \"regime.stress.time_share.p50\"\nvalue = 0.1\n\
                   [[target]]\nfigure = \"eq.es99\"\nvalue = 0.1\n\
                   [[target]]\nfigure = \"regime.stress.time_share.p05\"\nvalue = 0.0\n";
    let out = dir.path().join("fit");
    let scenario = write(dir.path(), "fit_small.toml", &scenario_text(0.2));
    let targets_path = write(dir.path(), "targets.toml", targets);
    let output = stormglass(&[
        "calibrate",
        "targets",
        scenario.to_str().unwrap(),
        "--targets",
        targets_path.to_str().unwrap(),
        "--free",
        "assets.fx.vol",
        "--pilot-paths",
        "40",
        "--paths",
        "40",
        "--max-iterations",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(out.join("calibration.json").is_file(), "{stdout}\n{stderr}");
    let text = std::fs::read_to_string(out.join("calibration.json")).unwrap();
    assert!(!text.contains("NaN") && !text.contains("inf"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(json["objective"].as_f64().unwrap().is_finite(), "{text}");
    let rows = json["targets"].as_array().unwrap();
    let z_null = &rows[0];
    assert!(z_null["z"].is_null(), "{z_null}");
    assert!(
        z_null["note"]
            .as_str()
            .unwrap()
            .contains("standard error of 0"),
        "{z_null}"
    );
    let es = &rows[1];
    assert!(es["standard_error"].is_null(), "{es}");
    assert!(es["note"].as_str().unwrap().contains("two paths"), "{es}");
    let met = &rows[2];
    assert_eq!(met["z"].as_f64(), Some(0.0), "{met}");
    assert!(met.get("note").is_none(), "{met}");
    // Every number anywhere in the record is finite; a null has a note beside it.
    fn check(value: &serde_json::Value, path: &str) {
        match value {
            serde_json::Value::Number(n) => assert!(n.as_f64().unwrap().is_finite(), "{path}"),
            serde_json::Value::Object(map) => {
                let noted = map.keys().any(|k| k.contains("note"));
                for (k, v) in map {
                    // `at_bound` is a word, null when no bound is hit.
                    assert!(
                        !v.is_null() || noted || k == "at_bound",
                        "{path}.{k} is null without a note"
                    );
                    check(v, &format!("{path}.{k}"));
                }
            }
            serde_json::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    check(v, &format!("{path}[{i}]"));
                }
            }
            _ => {}
        }
    }
    check(&json, "calibration");
    let csv = std::fs::read_to_string(out.join("targets.csv")).unwrap();
    assert!(!csv.contains("NaN") && !csv.contains("inf"), "{csv}");
}

#[test]
fn calibrate_history_takes_out_as_every_command_does_and_points_old_flags_to_it() {
    let data = "data/history/sp500.csv";
    let old = stormglass(&["calibrate", "history", data, "--dir", "x"]);
    assert_eq!(old.status.code(), Some(2));
    let message = String::from_utf8_lossy(&old.stderr);
    assert!(message.contains("--dir is now --out"), "{message}");
    assert!(message.contains("--fragment FILE"), "{message}");
    let file_as_folder = stormglass(&["calibrate", "history", data, "--out", "fitted.toml"]);
    assert_eq!(file_as_folder.status.code(), Some(2));
    let message = String::from_utf8_lossy(&file_as_folder.stderr);
    assert!(
        message.contains("--out fitted.toml: names the output folder")
            && message.contains("--fragment fitted.toml"),
        "{message}"
    );
    assert!(!std::path::Path::new(*crate::common::ROOT)
        .join("fitted.toml")
        .exists());
}

/// The last row of a bundled CSV: its date and its cells.
fn last_row(file: &str) -> (String, Vec<f64>) {
    let text = std::fs::read_to_string(Path::new(*common::ROOT).join(file)).unwrap();
    let line = text.lines().rfind(|l| !l.trim().is_empty()).unwrap();
    let mut cells = line.split(',');
    let date = cells.next().unwrap().to_string();
    (date, cells.map(|c| c.trim().parse().unwrap()).collect())
}

#[test]
fn a_fragment_fitted_with_as_names_runs_with_the_engine_assets_report_from_the_last_close() {
    let dir = tempfile::tempdir().unwrap();
    let fragment = dir.path().join("spx-k2.toml");
    stormglass_ok(&[
        "calibrate",
        "history",
        "data/history/sp500.csv",
        "--as",
        "spx=close",
        "--frequency",
        "weekly",
        "--out",
        dir.path().join("fit").to_str().unwrap(),
        "--fragment",
        fragment.to_str().unwrap(),
    ]);
    let (date, cells) = last_row("data/history/sp500.csv");
    let s = scenario::load(&fragment).unwrap();
    // A weekday's close: the run starts on it, at its level.
    assert_eq!(s.dates[0].to_string(), date);
    let spx = s.asset_index("spx").expect("the column is fitted as spx");
    assert_eq!(s.assets[spx].initial, cells[0]);
    assert_eq!(s.report.core_assets, ["spx"]);

    let out = dir.path().join("run");
    stormglass_ok(&[
        "run",
        fragment.to_str().unwrap(),
        "--paths",
        "300",
        "--out",
        out.to_str().unwrap(),
    ]);
    for chart in ["fan_spx.png", "drawdown_spx.png"] {
        assert!(out.join("charts").join(chart).is_file(), "{chart}");
    }
    let fan = std::fs::read_to_string(out.join("fan_bands.csv")).unwrap();
    let first = fan.lines().nth(1).unwrap();
    assert!(
        first.starts_with(&format!("{date},spx,{}", cells[0])),
        "{first}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["key_numbers"]["equity"], "spx");
    assert!(summary["key_numbers"]["p_equity_drawdown"].is_f64());
    let realism = summary["realism"]["figures"].as_array().unwrap();
    assert!(realism.iter().any(|f| f["asset"] == "spx"), "no spx anchor");
}

#[test]
fn a_rate_in_percent_is_fitted_in_the_engines_decimals() {
    let dir = tempfile::tempdir().unwrap();
    let fragment = dir.path().join("rates.toml");
    stormglass_ok(&[
        "calibrate",
        "history",
        "data/history/us_rates_monthly_1946_1991.csv",
        "--series",
        "r12,r120",
        "--levels",
        "r12",
        "--as",
        "us10y=r120",
        "--out",
        dir.path().join("fit").to_str().unwrap(),
        "--fragment",
        fragment.to_str().unwrap(),
    ]);
    let (_, cells) = last_row("data/history/us_rates_monthly_1946_1991.csv");
    let s = scenario::load(&fragment).unwrap();
    // `1991-02` is the month's last day, a Thursday.
    assert_eq!(s.dates[0].to_string(), "1991-02-28");
    let us10y = s.asset_index("us10y").unwrap();
    // The fragment writes six significant digits: 8.069% is 0.08069.
    assert!((s.assets[us10y].initial - cells[2] / 100.0).abs() < 1e-9);
    // The unmapped column keeps its own name and units.
    let r12 = s.asset_index("r12").unwrap();
    assert!((s.assets[r12].initial - cells[0]).abs() < 1e-9);
    assert_eq!(s.report.core_assets, ["r12", "us10y"]);
}

#[test]
fn a_bad_as_mapping_names_the_file_and_the_nearest_name_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let fragment = write(dir.path(), "mine.toml", "# my own notes\n");
    let fails = |mapping: &str, data: &str| {
        let out = dir.path().join("fit");
        let output = stormglass(&[
            "calibrate",
            "history",
            data,
            "--as",
            mapping,
            "--out",
            out.to_str().unwrap(),
            "--fragment",
            fragment.to_str().unwrap(),
            "--force",
        ]);
        assert_eq!(output.status.code(), Some(2), "{mapping}");
        assert!(!out.exists());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let sp500 = "data/history/sp500.csv";
    let unknown = fails("spz=close", sp500);
    assert!(
        unknown.contains(sp500)
            && unknown.contains("unknown engine asset `spz`; did you mean `spx`?"),
        "{unknown}"
    );
    let missing = fails("spx=clsoe", sp500);
    assert!(
        missing.contains(&format!("{sp500}:1:"))
            && missing.contains("no column `clsoe`")
            && missing.contains("the file's columns: close"),
        "{missing}"
    );
    let malformed = fails("spx", sp500);
    assert!(malformed.contains("write ASSET=COLUMN"), "{malformed}");
    let price_unit = fails("spx=close:percent", sp500);
    assert!(price_unit.contains("`spx` is a price"), "{price_unit}");
    // The VIX in points read as decimals would be a volatility of 1,376%.
    let vix = "data/history/vix.csv";
    let decimals = fails("vix=vix:decimal", vix);
    assert!(
        decimals.contains(&format!("{vix}:2:")) && decimals.contains("valid: [-1, 1]"),
        "{decimals}"
    );
    assert_eq!(
        std::fs::read_to_string(&fragment).unwrap(),
        "# my own notes\n"
    );
}
