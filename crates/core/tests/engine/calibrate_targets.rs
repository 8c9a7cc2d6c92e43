//! `calibrate targets`: scenario keys fitted to target figures. Small
//! scenarios (one or two GBM assets, about four months of weekdays) and few
//! paths keep every fit under a second.

use std::path::{Path, PathBuf};

use stormglass_core::calibrate::targets::{parse_targets, Fit, Options, TargetsError};
use stormglass_core::scenario::settings::{self, Setting};
use stormglass_core::scenario::{self, Trigger};

use crate::common::{fit_scenario_text as scenario_text, FIT_SEED as SEED};

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
        portfolios: Vec::new(),
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
    let root = Path::new(*crate::common::ROOT);
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
    let anchors = &stormglass_core::history::builtin().anchors;
    let worst_day_median = anchors
        .iter()
        .find(|a| {
            a.asset == "spx"
                && a.figure == stormglass_core::history::Figure::WorstDayQuantile
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
