//! `calibrate targets`: scenario keys fitted to target figures. Small
//! scenarios (one or two GBM assets, about four months of weekdays) and few
//! paths keep every fit under a second.

use crate::common;
use common::{stormglass, stormglass_ok};

use std::path::{Path, PathBuf};

use stormglass::calibrate::targets::{parse_targets, Fit, Options, TargetsError};
use stormglass::scenario::settings::{self, Setting};
use stormglass::scenario::{self, Trigger};

const SEED: u64 = 11;

/// A two-regime scenario of two GBM assets and a Poisson event, `eq` at `vol`.
fn scenario_text(vol: f64) -> String {
    format!(
        r#"[scenario]
name = "fit_small"
description = "Two GBM assets, two regimes, one Poisson event"
seed = {SEED}
paths = 2000
start_date = 2026-01-05
horizon_steps = 84
calendar = "weekdays"
sample_paths = 0

[report]
equity = "eq"
dollar = "fx"
core_assets = ["eq", "fx"]

[correlation]
drivers = ["eq", "fx"]

[regimes.calm]
intensities = {{ stress = 0.5 }}

[regimes.stress]
intensities = {{ calm = 2.0 }}

[assets.eq]
process = "gbm"
initial = 100.0
drift = 0.05
vol = {vol}
by_regime.stress = {{ drift = -0.2 }}

[assets.fx]
process = "gbm"
initial = 1.1
vol = 0.08

[[events]]
name = "shock"
rate_per_year = 1.0
duration_days = 5
jumps = {{ eq = {{ mean = -0.05, sd = 0.02 }} }}
"#
    )
}

/// Writes `text` as `name` in `dir`.
fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn options(free: &[&str], pilot_paths: u64, paths: u64) -> Options {
    Options {
        settings: Vec::new(),
        free: free.iter().map(|s| s.to_string()).collect(),
        pilot_paths,
        paths,
        seed: SEED,
        threads: 0,
        max_iterations: 200,
        refine_iterations: 0,
    }
}

/// A fit of `free` to `targets` (TOML text) on the scenario at `vol`.
fn fit(
    dir: &Path,
    vol: f64,
    targets: &str,
    free: &[&str],
    pilot: u64,
    paths: u64,
) -> Result<Fit, TargetsError> {
    let scenario = write(dir, "fit_small.toml", &scenario_text(vol));
    let targets_path = write(dir, "targets.toml", targets);
    let targets = parse_targets(targets, &targets_path)?;
    Fit::new(
        &scenario,
        &targets_path,
        targets,
        options(free, pilot, paths),
    )
}

#[test]
fn a_fit_recovers_the_value_that_made_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let figure = "eq.return.p05";
    let known = 0.20;
    let target_text = |value: f64| format!("[[target]]\nfigure = \"{figure}\"\nvalue = {value}\n");
    // The target: the figure at the known vol on 4,000 paths; the fit's pilot
    // sees only the first 1,000 of them, so it can miss by its sampling error.
    let probe = fit(
        dir.path(),
        0.30,
        &target_text(0.0),
        &["assets.eq.vol"],
        1000,
        4000,
    )
    .unwrap();
    let at_known = probe.measure(&[known], 4000).unwrap()[0];
    let step = 0.01;
    let slope = (probe.measure(&[known + step], 1000).unwrap()[0].value
        - probe.measure(&[known - step], 1000).unwrap()[0].value)
        / (2.0 * step);

    let fit = fit(
        dir.path(),
        0.30,
        &target_text(at_known.value),
        &["assets.eq.vol"],
        1000,
        4000,
    )
    .unwrap();
    let calibration = fit.run().unwrap();
    let fitted = calibration.keys[0].fitted;
    // The pilot's figure differs from the target by about its standard error
    // over 1,000 paths (twice the 4,000-path one), which the slope turns into
    // a vol: three of those, by the delta method, is the tolerance.
    let pilot_se = 2.0 * at_known.se;
    let tolerance = 3.0 * pilot_se / slope.abs();
    println!("fitted {fitted}, known {known}, tolerance {tolerance:.4} (slope {slope:.3})");
    assert!(
        (fitted - known).abs() <= tolerance,
        "fitted {fitted}, known {known}, tolerance {tolerance}"
    );
    assert!(
        calibration.targets[0].z.abs() <= 3.0,
        "{:?}",
        calibration.targets
    );
    assert_eq!(calibration.keys[0].start, 0.30);
    assert!(calibration.keys[0].at_bound.is_none());
}

#[test]
fn the_objective_uses_common_random_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let targets = "[[target]]\nfigure = \"eq.drawdown.p50\"\nvalue = 0.1\n\n\
                   [[target]]\nfigure = \"p_equity_drawdown\"\nvalue = 0.2\n";
    let fit = fit(
        dir.path(),
        0.25,
        targets,
        &["assets.eq.vol", "events[name=shock].rate_per_year"],
        500,
        500,
    )
    .unwrap();
    let point = [0.23, 1.7];
    let first = fit.objective(&point).unwrap();
    let second = fit.objective(&point).unwrap();
    assert_eq!(first.to_bits(), second.to_bits(), "{first} {second}");
    // And it does move with the parameters.
    assert_ne!(fit.objective(&[0.27, 1.7]).unwrap(), first);
}

#[test]
fn an_unreachable_target_names_the_target_and_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    // A realised vol of 900% needs a vol above validation's bound of 5.
    let targets = "[[target]]\nfigure = \"eq.vol.p50\"\nvalue = 9.0\n";
    let fit = fit(dir.path(), 0.2, targets, &["assets.eq.vol"], 300, 300).unwrap();
    let error = fit.run().unwrap_err();
    assert!(matches!(error, TargetsError::Unreachable(_)), "{error}");
    let message = error.to_string();
    for part in [
        "target `eq.vol.p50` = 9 cannot be reached within the bounds",
        "achieved",
        "`assets.eq.vol` at its upper bound 5",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
}

#[test]
fn bad_targets_files_and_keys_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("targets.toml");
    let missing = "[[target]]\nfigure = \"eq.return.p05\"\nvalue = -0.1\n\n\
                   [[target]]\nfigure = \"eq.drawdown.p50\"\n";
    let message = parse_targets(missing, &path).unwrap_err().to_string();
    assert!(
        message.contains(&format!(
            "{}:5: target `eq.drawdown.p50` needs `value`",
            path.display()
        )),
        "{message}"
    );
    let weightless = "[[target]]\nfigure = \"eq.return.p05\"\nvalue = -0.1\nweight = 0\n";
    let message = parse_targets(weightless, &path).unwrap_err().to_string();
    assert!(
        message.contains(":1: ") && message.contains("weight 0 is out of range"),
        "{message}"
    );
    let history_of_a_column = "[[target]]\nfigure = \"eq.return.p05\"\nfrom_history = true\n";
    let message = parse_targets(history_of_a_column, &path)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains(":1: target `eq.return.p05`: from_history belongs to realism figures"),
        "{message}"
    );
    let two_values =
        "[[target]]\nfigure = \"realism.spx.1y_return_p05\"\nvalue = -0.2\nfrom_history = true\n";
    let message = parse_targets(two_values, &path).unwrap_err().to_string();
    assert!(message.contains("needs exactly one of"), "{message}");
    let unknown_field = "[[target]]\nfigure = \"eq.return.p05\"\nvalu = -0.1\n";
    let message = parse_targets(unknown_field, &path).unwrap_err().to_string();
    assert!(
        message.contains("valu") && message.contains("line 3"),
        "{message}"
    );

    let typo = "[[target]]\nfigure = \"eq.return.p05\"\nvalue = -0.1\n\n\
                [[target]]\nfigure = \"eq.retrun.p05\"\nvalue = -0.1\n";
    let message = fit(dir.path(), 0.2, typo, &["assets.eq.vol"], 100, 100)
        .err()
        .unwrap()
        .to_string();
    assert!(
        message.contains(":5: unknown figure `eq.retrun.p05`; did you mean `eq.return.p05`?"),
        "{message}"
    );

    let good = "[[target]]\nfigure = \"eq.return.p05\"\nvalue = -0.1\n";
    let message = fit(dir.path(), 0.2, good, &["assets.eq.vlo"], 100, 100)
        .err()
        .unwrap()
        .to_string();
    assert!(
        message.contains("--free unknown key `assets.eq.vlo`; did you mean `assets.eq.vol`?"),
        "{message}"
    );
    let message = fit(dir.path(), 0.2, good, &["scenario.name"], 100, 100)
        .err()
        .unwrap()
        .to_string();
    assert!(
        message.contains("not a numeric key with a valid range"),
        "{message}"
    );
    let message = fit(
        dir.path(),
        0.2,
        good,
        &["events[0].rate_per_year"],
        100,
        100,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(message.contains("chosen by name"), "{message}");
}

#[test]
fn settings_change_keys_through_a_child_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "fit_small.toml", &scenario_text(0.2));
    let base = scenario::load(&path).unwrap();
    let range = base.range_of("events.shock.rate_per_year").unwrap();
    assert_eq!(range.value, 1.0);
    assert!(range.low == 0.0 && range.high.is_finite());
    assert_eq!(base.range_of("assets.eq.vol").unwrap().high, 5.0);
    let settings = [
        Setting::parse("events[name=shock].rate_per_year = 3.5").unwrap(),
        Setting::parse("assets.fx.vol=0.1").unwrap(),
    ];
    let changed = settings::apply(&base, &path, &settings).unwrap();
    assert!(matches!(
        changed.events[0].trigger,
        Trigger::Poisson { rate_per_year, .. } if rate_per_year == 3.5
    ));
    assert_eq!(changed.assets[1].params[0].vol, 0.1);
    // Out of its range, the file's own check speaks, naming the key.
    let message = settings::apply(&base, &path, &[Setting::parse("assets.fx.vol=9").unwrap()])
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("assets.fx.vol") && message.contains("out of range"),
        "{message}"
    );
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
fn refining_on_the_full_paths_meets_a_target_they_made() {
    let dir = tempfile::tempdir().unwrap();
    let figure = "eq.drawdown.p50";
    let probe_targets = format!("[[target]]\nfigure = \"{figure}\"\nvalue = 0.1\n");
    let probe = fit(
        dir.path(),
        0.30,
        &probe_targets,
        &["assets.eq.vol"],
        500,
        2000,
    )
    .unwrap();
    let made = probe.measure(&[0.2], 2000).unwrap()[0].value;
    let targets = format!("[[target]]\nfigure = \"{figure}\"\nvalue = {made}\n");
    let scenario = write(dir.path(), "fit_small.toml", &scenario_text(0.30));
    let targets_path = write(dir.path(), "targets.toml", &targets);
    let mut options = options(&["assets.eq.vol"], 500, 2000);
    options.refine_iterations = 40;
    let fit = Fit::new(
        &scenario,
        &targets_path,
        parse_targets(&targets, &targets_path).unwrap(),
        options,
    )
    .unwrap();
    let calibration = fit.run().unwrap();
    // The final run is the very sample that made the target (same seed, same
    // paths): with common random numbers the refined fit meets it far inside
    // its standard error, where the pilot's alone misses by its own.
    let refine = calibration.refine.as_ref().expect("refined");
    assert!(refine.trials > 2, "{refine:?}");
    let z = calibration.targets[0].z;
    assert!(z.abs() < 0.1, "z {z}: {:?}", calibration.targets);
    assert!(
        (calibration.keys[0].fitted - 0.2).abs() < 0.01,
        "{:?}",
        calibration.keys
    );
}

#[test]
fn a_one_sided_target_counts_only_its_violation() {
    let dir = tempfile::tempdir().unwrap();
    let probe = fit(
        dir.path(),
        0.25,
        "[[target]]\nfigure = \"eq.return.p05\"\nvalue = 0.0\n\n[[target]]\nfigure = \"eq.vol.p50\"\nvalue = 0.0\n",
        &["assets.eq.vol"],
        1000,
        1000,
    )
    .unwrap();
    let at = |vol: f64| probe.measure(&[vol], 1000).unwrap();
    let (wanted, limit) = (at(0.30)[0].value, at(0.20)[1]);

    // A bound that holds at the value the other target wants is not felt: the
    // fit meets that target and the bound's z is 0.
    let loose = format!(
        "[[target]]\nfigure = \"eq.return.p05\"\nvalue = {wanted}\n\n\
         [[target]]\nfigure = \"eq.vol.p50\"\nat_most = {}\n",
        at(0.35)[1].value
    );
    let calibration = fit(dir.path(), 0.25, &loose, &["assets.eq.vol"], 1000, 1000)
        .unwrap()
        .run()
        .unwrap();
    assert_eq!(calibration.targets[1].z, 0.0, "{:?}", calibration.targets);
    assert!(
        (calibration.keys[0].fitted - 0.30).abs() < 0.01,
        "{:?}",
        calibration.keys
    );

    // A bound that binds holds the key short of what the other target wants:
    // the realised vol's median, far more precise than a 5th percentile of
    // returns, stays within three of its standard errors of the bound.
    let tight = format!(
        "[[target]]\nfigure = \"eq.return.p05\"\nvalue = {wanted}\n\n\
         [[target]]\nfigure = \"eq.vol.p50\"\nat_most = {}\n",
        limit.value
    );
    let calibration = fit(dir.path(), 0.25, &tight, &["assets.eq.vol"], 1000, 1000)
        .unwrap()
        .run()
        .unwrap();
    let bound = &calibration.targets[1];
    assert!(
        bound.achieved <= limit.value + 3.0 * limit.se,
        "{bound:?} against {limit:?}"
    );
    let fitted = calibration.keys[0].fitted;
    assert!(fitted < 0.25 && fitted > 0.18, "{fitted}");
    assert!(calibration.targets_csv().contains("eq.vol.p50,at_most,"));

    // Exactly one of value, at_least and at_most.
    let both = "[[target]]\nfigure = \"eq.vol.p50\"\nvalue = 0.2\nat_least = 0.1\n";
    let message = parse_targets(both, Path::new("t.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains(
            "t.toml:1: target `eq.vol.p50` needs exactly one of `value`, `at_least`, `at_most` and `from_history = true`"
        ),
        "{message}"
    );
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
fn a_targets_own_standard_error_adds_in_quadrature() {
    let text = "[[target]]\nfigure = \"eq.vol.p50\"\nvalue = 0.2\nstandard_error = 0.4\n";
    let targets = parse_targets(text, Path::new("t.toml")).unwrap();
    assert_eq!(targets[0].standard_error, 0.4);
    // 0.3, 0.4, 0.5: the miss's scale is the hypotenuse.
    assert!((targets[0].scale(0.3) - 0.5).abs() < 1e-15);
    let exact = parse_targets(
        "[[target]]\nfigure = \"eq.vol.p50\"\nvalue = 0.2\n",
        Path::new("t.toml"),
    )
    .unwrap();
    assert_eq!(exact[0].scale(0.3), 0.3);

    // A target far from what the scenario can give, but known only roughly,
    // is met within its error: no key sits on a bound, no refusal.
    let dir = tempfile::tempdir().unwrap();
    let rough = "[[target]]\nfigure = \"eq.vol.p50\"\nvalue = 0.3\nstandard_error = 0.2\n";
    let calibration = fit(dir.path(), 0.2, rough, &["assets.eq.vol"], 300, 300)
        .unwrap()
        .run()
        .unwrap();
    let t = &calibration.targets[0];
    assert_eq!(t.target_standard_error, 0.2);
    assert!(t.z.abs() < 1.0, "{t:?}");

    let negative = "[[target]]\nfigure = \"eq.vol.p50\"\nvalue = 0.2\nstandard_error = -1\n";
    let message = parse_targets(negative, Path::new("t.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("t.toml:1: target `eq.vol.p50`: standard_error -1 must be at least 0"),
        "{message}"
    );
}

/// The bundled baseline's S&P 500 keys are the fit its header records (2,000
/// pilot paths, refined on 20,000): on history's targets, those values beat
/// the hand-set ones they replaced and their neighbours on either side, on a
/// sample of their own (common random numbers, so the comparison carries no
/// sampling noise between trials).
#[test]
fn the_baselines_fitted_keys_are_historys_best_among_their_neighbours() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let targets_path = root.join("data/calibration/baseline_targets.toml");
    let text = std::fs::read_to_string(&targets_path).unwrap();
    let mut options = options(
        &["assets.spx.long_run_variance", "assets.spx.jump_intensity"],
        5_000,
        5_000,
    );
    let baseline = root.join("scenarios/baseline.toml");
    // The seed the fit in the file's header ran on: the scenario's own.
    options.seed = scenario::load(&baseline).unwrap().seed;
    let fit = Fit::new(
        &baseline,
        &targets_path,
        parse_targets(&text, &targets_path).unwrap(),
        options,
    )
    .unwrap();
    // Every S&P 500 target is history's own figure and standard error (a
    // quarter of the anchor's band, its value +- 2 bootstrap errors).
    let anchors = &stormglass::history::builtin().anchors;
    let worst_day_median = anchors
        .iter()
        .find(|a| {
            a.asset == "spx"
                && a.figure == stormglass::history::Figure::WorstDayQuantile
                && a.q == Some(0.5)
        })
        .unwrap();
    let target = fit
        .targets()
        .iter()
        .find(|t| t.figure == "realism.spx.1y_worst_day_p50")
        .unwrap();
    assert!(target.from_history);
    assert_eq!(target.value, worst_day_median.value);
    assert_eq!(
        target.standard_error,
        (worst_day_median.high - worst_day_median.low) / 4.0
    );
    assert_eq!(fit.targets().iter().filter(|t| t.from_history).count(), 6);
    let fitted = fit.start();
    assert_eq!(fitted, [0.017331, 0.105237], "the file's values");
    let at_fit = fit.objective(&fitted).unwrap();
    let (variance, jumps) = (fitted[0], fitted[1]);
    for (what, values) in [
        ("the hand-set values", [0.02, 0.15]),
        ("a 15% higher variance", [variance * 1.15, jumps]),
        ("a 15% lower variance", [variance * 0.85, jumps]),
        ("no crash jumps in calm markets", [variance, 0.0]),
        ("crash jumps twice as often", [variance, 2.0 * jumps]),
    ] {
        let objective = fit.objective(&values).unwrap();
        println!("{what}: objective {objective:.3} against {at_fit:.3}");
        assert!(objective > at_fit, "{what}: {objective} <= {at_fit}");
    }
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
