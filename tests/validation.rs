//! Bad input gets a clear error: the file, the line, the key path, what is wrong
//! and what would be valid. Each case is a file under tests/scenarios/bad.

mod common;
use common::stormglass;

use std::path::{Path, PathBuf};

use stormglass::scenario::{self, ScenarioError};

/// The error of an inline scenario that must not load.
fn inline_error(text: &str) -> String {
    let text = format!(
        "[scenario]\nname = \"bounds\"\nstart_date = 2026-01-05\nhorizon_steps = 5\ncalendar = \"weekdays\"\n{text}"
    );
    let error = scenario::load_str(&text, Path::new("bounds.toml"))
        .expect_err(&text)
        .to_string();
    println!("{error}");
    error
}

fn bad(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios/bad")
        .join(name)
}

fn good(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(name)
}

/// The error message for a bad file, checked to name the file.
fn message(name: &str) -> String {
    let error = scenario::load(&bad(name)).expect_err(name);
    let text = error.to_string();
    println!("{name}: {text}");
    assert!(
        text.contains(name.trim_end_matches(".toml")),
        "{text} does not name the file"
    );
    text
}

fn assert_contains(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "expected `{part}` in: {text}");
    }
}

#[test]
fn valid_files_load_and_extends_overrides_keys() {
    let base = scenario::load(&good("base.toml")).unwrap();
    let child = scenario::load(&good("child.toml")).unwrap();
    assert_eq!(base.name, "small");
    assert_eq!(child.name, "child");
    let fx = child.asset_index("fx").unwrap();
    assert_eq!(child.assets[fx].params[0].vol, 0.12);
    assert_eq!(base.assets[fx].params[0].vol, 0.08);
    // Inherited untouched: the equity and the event.
    assert_eq!(child.assets.len(), 2);
    assert_eq!(child.events.len(), 1);
    assert_ne!(base.hash, child.hash);
    // The regime-specific parameters overlay the asset's defaults.
    let eq = child.asset_index("eq").unwrap();
    let stress = child.regime_index("stress").unwrap();
    assert_eq!(child.assets[eq].params[stress].drift, -0.3);
    assert_eq!(child.assets[eq].params[stress].mean_reversion, 2.0);
    // expected_duration_years 0.25 with one destination is an intensity of 4 a year.
    assert!((child.regimes[stress].intensities[0] - 4.0).abs() < 1e-12);
}

#[test]
fn syntax_errors_give_line_and_column() {
    assert_contains(
        &message("syntax.toml"),
        &["syntax.toml:4:17", "TOML syntax error"],
    );
}

#[test]
fn unknown_keys_name_the_nearest_valid_key() {
    assert_contains(
        &message("unknown_key.toml"),
        &[
            "unknown_key.toml:4",
            "assets.eq.vol_of_voll",
            "did you mean `vol_of_vol`",
        ],
    );
    assert_contains(
        &message("unknown_process.toml"),
        &["assets.fx.process", "`gmb`", "did you mean `gbm`"],
    );
    assert_contains(
        &message("unknown_regime.toml"),
        &["regimes.calm.intensities.stres", "did you mean `stress`"],
    );
    assert_contains(
        &message("unknown_asset.toml"),
        &[
            "unknown_asset.toml:6",
            "events[0].jumps.eqq",
            "did you mean `eq`",
        ],
    );
    let roles = message("report_roles.toml");
    assert_contains(
        &roles,
        &[
            "report_roles.toml:4: report.equity: unknown asset `eqq`; did you mean `eq`?",
            "report_roles.toml:5: report.stress_regime: unknown regime `stres`; did you mean `stress`?",
            "report.foreign_views[0].hedged: unknown asset `eq_hedged`",
            "report_roles.toml:7: report.equity_drawdown: 1.5 is out of range; valid: (0, 1) (0.2 = a fall of 20% from a peak)",
            "report_roles.toml:8: report.dollar_fall: 0 is out of range; valid: (0, 1) (0.1 = ending 10% lower)",
        ],
    );
}

#[test]
fn range_and_type_errors_name_the_key_value_and_valid_range() {
    let text = message("out_of_range.toml");
    assert_contains(
        &text,
        &[
            "out_of_range.toml:4",
            "assets.fx.vol",
            "-0.1",
            "valid: [0, 5]",
        ],
    );
    assert_eq!(
        text.lines().count(),
        1,
        "one problem, reported once: {text}"
    );
    assert_contains(
        &message("nan.toml"),
        &["assets.eq.drift", "NaN", "valid: [-5, 5]"],
    );
    assert_contains(
        &message("negative_intensity.toml"),
        &["regimes.calm.intensities.stress", "-1", "valid: [0, inf)"],
    );
    assert_contains(&message("wrong_type.toml"), &["scenario.paths", "\"many\""]);
    assert_contains(
        &message("param_not_for_process.toml"),
        &[
            "assets.fx.mean_reversion",
            "does not apply to process \"gbm\"",
        ],
    );
}

#[test]
fn correlation_matrices_must_be_symmetric_and_positive_semi_definite() {
    assert_contains(
        &message("not_psd.toml"),
        &[
            "not_psd.toml:4",
            "regimes.stress.correlation",
            "not positive semi-definite",
            "smallest eigenvalue -0.8",
        ],
    );
    assert_contains(
        &message("not_symmetric.toml"),
        &[
            "regimes.stress.correlation",
            "not symmetric",
            "[1][0] is 0.3",
        ],
    );
}

#[test]
fn correlation_pairs_change_the_default_matrix() {
    let text = |regime: &str| {
        format!(
            "[scenario]\nname = \"p\"\nstart_date = 2026-01-05\nhorizon_steps = 5\n[correlation]\ndrivers = [\"a\", \"b\", \"c\"]\npairs = {{ a = {{ b = 0.3 }}, c = {{ a = -0.2 }} }}\n[regimes.calm]\n[regimes.stress]\n{regime}\n[assets.a]\nprocess = \"gbm\"\ninitial = 1.0\nvol = 0.1\n[assets.b]\nprocess = \"gbm\"\ninitial = 1.0\nvol = 0.1\n[assets.c]\nprocess = \"gbm\"\ninitial = 1.0\nvol = 0.1\n"
        )
    };
    let pairs = scenario::load_str(
        &text("correlation_pairs = { b = { c = 0.5 } }"),
        Path::new("p.toml"),
    )
    .unwrap();
    let full = scenario::load_str(
        &text("correlation = [[1.0, 0.3, -0.2], [0.3, 1.0, 0.5], [-0.2, 0.5, 1.0]]"),
        Path::new("p.toml"),
    )
    .unwrap();
    assert_eq!(pairs.regimes[1].correlation, full.regimes[1].correlation);
    // The regime without changes keeps the default: a-b 0.3, a-c -0.2, b-c 0.
    let calm = &pairs.regimes[0].correlation;
    assert_eq!((calm[(0, 1)], calm[(2, 0)], calm[(1, 2)]), (0.3, -0.2, 0.0));
}

#[test]
fn correlation_pairs_are_checked_like_matrices() {
    assert_contains(
        &message("pairs_unknown_driver.toml"),
        &["regimes.calm.correlation_pairs.eq.fxx", "did you mean `fx`"],
    );
    assert_contains(
        &message("pairs_twice.toml"),
        &["correlation.pairs.fx.eq", "given twice"],
    );
    assert_contains(
        &message("pairs_not_psd.toml"),
        &["correlation.pairs", "not positive semi-definite"],
    );
    assert_contains(
        &message("both_correlation_forms.toml"),
        &["regimes.stress", "not both"],
    );
}

#[test]
fn correlation_statistics_name_two_different_assets() {
    let text = message("correlation_pair.toml");
    assert_contains(
        &text,
        &[
            "statistics.correlations[0][1]",
            "did you mean `fx`",
            "statistics.correlations[1]",
            "same asset twice",
            "statistics.correlations[2]",
            "two assets",
        ],
    );
}

#[test]
fn drawdown_triggers_are_checked() {
    let text = message("trigger.toml");
    assert_contains(
        &text,
        &[
            "events[0].drawdown_trigger.threshold",
            "valid: (0, 1)",
            "events[0].cooldown_days",
            "events[0].jumps_by_regime.calmm",
            "did you mean `calm`",
            "events[0].max_firings",
            "valid: [1, 1000000] firings per path",
            "events[1].max_firings",
            "a dated event fires once",
        ],
    );
}

#[test]
fn flows_are_checked() {
    let text = message("flows.toml");
    assert_contains(
        &text,
        &[
            "flows.currency",
            "did you mean `fx`",
            "flows.half_life_days",
            "valid: [1, 2520]",
            "unknown feature \"presure\"",
            "\"pressure\"",
        ],
    );
}

#[test]
fn signals_are_checked() {
    let text = message("signals.toml");
    assert_contains(
        &text,
        &[
            "signals.dollar",
            "did you mean `fx`",
            "signals.target_drawdown",
            "valid: (0, 1)",
            "signals.s1.implied_vol",
            "must be an implied_vol asset",
            "signals.s4.with.fx",
            "valid: 1",
            "signals.s5.events[0]",
            "did you mean `shock`",
        ],
    );
}

#[test]
fn rate_blocks_name_assets_of_the_right_process() {
    let text = message("rates.toml");
    assert_contains(
        &text,
        &[
            "assets.pi.policy_error.policy_rate: `pi` has process \"ou\"; valid here: policy_rate",
            "assets.ff.policy: process \"policy_rate\" needs `policy`",
            "assets.y10.initial: process \"yield\" computes its level",
            "assets.y10.curve.policy_rate",
            "assets.wide.spread[0]: `eq` has process \"heston\"",
        ],
    );
}

#[test]
fn generators_that_could_leave_with_probability_over_half_a_step_are_refused() {
    assert_contains(
        &message("exit_probability.toml"),
        &["regimes.calm", "can reach 0.595", "at most 0.5"],
    );
}

#[test]
fn beta_assets_need_betas_and_no_circles() {
    assert_contains(
        &message("beta_on_beta.toml"),
        &["assets.sat.betas", "in a circle: sat -> sat2 -> sat"],
    );
    assert_contains(
        &message("beta_missing.toml"),
        &["assets.sat.betas", "needs `betas`"],
    );
    assert_contains(
        &message("betas_not_for_gbm.toml"),
        &["assets.fx.betas", "applies only to process \"beta\""],
    );
}

#[test]
fn event_dates_must_fall_inside_the_horizon() {
    assert_contains(
        &message("date_outside.toml"),
        &[
            "events[0].date",
            "2027-03-02",
            "outside the horizon",
            "2026-06-30",
        ],
    );
}

#[test]
fn files_that_cannot_be_scenarios_get_their_own_message() {
    assert!(matches!(
        scenario::load(&bad("missing.toml")),
        Err(ScenarioError::Io { .. })
    ));
    assert!(matches!(
        scenario::load(&bad("")),
        Err(ScenarioError::IsDirectory { .. })
    ));
    assert!(matches!(
        scenario::load(&bad("empty.toml")),
        Err(ScenarioError::Empty { .. })
    ));
    let cycle = scenario::load(&bad("cycle_a.toml")).unwrap_err();
    assert!(matches!(cycle, ScenarioError::ExtendsCycle { .. }));
    assert_contains(
        &cycle.to_string(),
        &["cycle_a.toml -> ", "cycle_b.toml -> ", "cycle_a.toml"],
    );
}

#[test]
fn every_bad_file_exits_with_status_2_and_a_message_never_a_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/bad");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.push(dir.join("missing.toml"));
    files.push(dir.clone());
    for file in files {
        let file = file.to_string_lossy().into_owned();
        for command in ["validate", "run"] {
            let output = stormglass(&[command, &file]);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "{command} {file}: {stderr}");
            assert!(stderr.starts_with("error: "), "{command} {file}: {stderr}");
            assert!(
                !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
                "{stderr}"
            );
        }
    }
}

#[test]
fn a_run_the_machine_cannot_hold_is_refused_with_its_estimate() {
    let base = good("base.toml");
    let output = stormglass(&[
        "run",
        &base.to_string_lossy(),
        "--paths",
        "4000000000",
        "--out",
        "/nonexistent/never",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("GiB") && stderr.contains("needs about"),
        "{stderr}"
    );
}

#[test]
fn validate_accepts_several_files_and_reports_each() {
    let output = stormglass(&[
        "validate",
        "scenarios/default.toml",
        "tests/scenarios/child.toml",
    ]);
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.matches(": ok").count(), 2, "{stdout}");
}

#[test]
fn every_level_and_jump_is_bounded_so_that_levels_stay_finite() {
    // Price assets start in [1e-6, 1e9]: 1e39 (beyond f32) and a subnormal 1e-320 are refused.
    let error = inline_error(
        "[assets.big]\nprocess = \"gbm\"\ninitial = 1e39\nvol = 0.1\n[assets.gold]\nprocess = \"gbm\"\ninitial = 1e-320\nvol = 0.1\n",
    );
    assert_contains(
        &error,
        &[
            "assets.big.initial: 1e39 is out of range; valid: [1e-6, 1000000000] (a price)",
            "assets.gold.initial",
        ],
    );
    // Level (OU) assets: initial and mean in [-100, 100], vol at most 100, jumps as for prices.
    let error = inline_error(
        "[assets.r]\nprocess = \"ou\"\ninitial = -3.4e38\nmean = 4294967296\nmean_reversion = 1.0\nvol = 1e300\njump_intensity = 2\njump_mean = -6\njump_sd = 3.4e38\n",
    );
    assert_contains(
        &error,
        &[
            "assets.r.initial",
            "valid: [-100, 100] (a level in the asset's units; rates are fractions, 0.04 = 4%)",
            "assets.r.mean: 4294967296 is out of range; valid: [-100, 100]",
            "assets.r.vol",
            "assets.r.jump_mean: -6 is out of range; valid: [-5, 5]",
            "assets.r.jump_sd",
        ],
    );
    // Drift 5 for 50 years is a factor e^250 and runs; 252 jumps a year of
    // mean 5 for 50 years could not.
    let years50 = |params: &str| {
        let text = format!("[scenario]\nname = \"bounds\"\nstart_date = 2026-01-05\nhorizon_years = 50\ncalendar = \"weekdays\"\n[assets.x]\nprocess = \"gbm\"\ninitial = 1e9\n{params}\n");
        scenario::load_str(&text, Path::new("bounds.toml")).map_err(|e| e.to_string())
    };
    years50("drift = 5.0\nvol = 0.2").expect("drift 5 over 50 years");
    let error = years50("drift = 5.0\nvol = 0.2\njump_intensity = 252\njump_mean = 5").unwrap_err();
    println!("{error}");
    assert_contains(
        &error,
        &[
            "assets.x",
            "in regime",
            "the log-price could move by",
            "more than 600",
        ],
    );
    // Event jumps and mean shifts on level assets.
    let error = inline_error(
        "[assets.r]\nprocess = \"ou\"\ninitial = 0.04\nmean = 0.04\nmean_reversion = 1.0\nvol = 0.01\n[[events]]\nname = \"shock\"\ndate = 2026-01-06\njumps = { r = { mean = 1e300, sd = 3.4e38 } }\nduration_days = 2\nadjustments = { r = { mean_shift = 1e300 } }\n",
    );
    assert_contains(
        &error,
        &[
            "events[0].jumps.r.mean",
            "events[0].jumps.r.sd",
            "events[0].adjustments.r.mean_shift",
        ],
    );
}
