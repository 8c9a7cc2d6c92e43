//! Bad input gets a clear error: the file, the line, the key path, what is wrong
//! and what would be valid. Each case is a file under tests/scenarios/bad.

use crate::common;
use common::stormglass;

use std::path::{Path, PathBuf};

use stormglass_core::input::InputError;
use stormglass_core::scenario::{self, ScenarioError};

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
fn an_event_after_the_horizon_is_noted_and_never_fires() {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/date_after_horizon.toml");
    let scenario = scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
    let late = scenario.events.iter().find(|e| e.name == "late").unwrap();
    assert!(!late.enabled);
    assert_contains(
        &scenario.notes[0].to_string(),
        &[
            "date_after_horizon.toml:6: events[1].date",
            "2027-03-02 falls after the horizon's end 2026-06-30",
            "does not happen in this run",
        ],
    );
}

#[test]
fn files_that_cannot_be_scenarios_get_their_own_message() {
    assert!(matches!(
        scenario::load(&bad("missing.toml")),
        Err(ScenarioError::Input(InputError::Io { .. }))
    ));
    assert!(matches!(
        scenario::load(&bad("")),
        Err(ScenarioError::Input(InputError::IsDirectory { .. }))
    ));
    assert!(matches!(
        scenario::load(&bad("empty.toml")),
        Err(ScenarioError::Input(InputError::Empty { .. }))
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
        "crates/cli/tests/scenarios/child.toml",
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

/// A folder of scenario files, each `(name, text)`; `{default}` in a text is
/// the path of the bundled scenarios/default.toml.
fn scenario_folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let default = Path::new(*crate::common::ROOT).join("scenarios/default.toml");
    let folder = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let text = text.replace("{default}", &default.display().to_string());
        std::fs::write(folder.path().join(name), text).unwrap();
    }
    folder
}

fn bundled_default() -> scenario::Scenario {
    scenario::load(&Path::new(*crate::common::ROOT).join("scenarios/default.toml")).unwrap()
}

/// The resolved scenario's events, as TOML tables.
fn resolved_events(scenario: &scenario::Scenario) -> Vec<toml::Table> {
    scenario.resolved["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_table().unwrap().clone())
        .collect()
}

fn event_names(scenario: &scenario::Scenario) -> Vec<&str> {
    scenario.events.iter().map(|e| e.name.as_str()).collect()
}

/// The error of the scenario file `name` in `folder`, with its diagnostics'
/// files, printed.
fn folder_error(folder: &tempfile::TempDir, name: &str) -> (String, Vec<Option<PathBuf>>) {
    let error = scenario::load(&folder.path().join(name)).expect_err(name);
    let text = error.to_string();
    println!("{text}");
    let files = error.diagnostics().iter().map(|d| d.file.clone()).collect();
    (text, files)
}

const DEFAULT_EVENTS: [&str; 4] = [
    "new_fed_chair",
    "tariff_wave",
    "fed_put",
    "midterm_elections",
];

#[test]
fn a_child_changes_one_event_by_name_and_keeps_the_others() {
    let folder = scenario_folder(&[(
        "child.toml",
        "extends = \"{default}\"\n[scenario]\nname = \"child\"\n\n[events.tariff_wave]\nrate_per_year = 6.0\n",
    )]);
    let child = scenario::load(&folder.path().join("child.toml")).unwrap_or_else(|e| panic!("{e}"));
    let default = bundled_default();
    assert_eq!(event_names(&child), DEFAULT_EVENTS);
    let scenario::Trigger::Poisson { rate_per_year, .. } = child.events[1].trigger else {
        panic!("tariff_wave is a Poisson event");
    };
    assert_eq!(rate_per_year, 6.0);
    // Every other key of every event as the default has it, in its order.
    let mut expected = resolved_events(&default);
    expected[1].insert("rate_per_year".into(), toml::Value::Float(6.0));
    assert_eq!(resolved_events(&child), expected);
    assert_eq!(
        expected[1].keys().collect::<Vec<_>>(),
        resolved_events(&child)[1].keys().collect::<Vec<_>>()
    );
}

#[test]
fn a_child_adds_and_removes_events_by_name() {
    let folder = scenario_folder(&[
        (
            "added.toml",
            "extends = \"{default}\"\n[scenario]\nname = \"added\"\n\n[events.rate_cut]\ndate = 2026-03-02\njumps = { fed_funds = { mean = -0.0025 } }\n",
        ),
        (
            "removed.toml",
            "extends = \"{default}\"\n[scenario]\nname = \"removed\"\n\n[events.midterm_elections]\nremove = true\n",
        ),
    ]);
    let default = bundled_default();
    let added = scenario::load(&folder.path().join("added.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        event_names(&added),
        [
            "new_fed_chair",
            "tariff_wave",
            "fed_put",
            "midterm_elections",
            "rate_cut"
        ]
    );
    let events = resolved_events(&added);
    assert_eq!(events[..4], resolved_events(&default)[..]);
    assert_eq!(events[4]["name"].as_str(), Some("rate_cut"));
    assert!(matches!(
        added.events[4].trigger,
        scenario::Trigger::Dated { .. }
    ));

    let removed =
        scenario::load(&folder.path().join("removed.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        event_names(&removed),
        ["new_fed_chair", "tariff_wave", "fed_put"]
    );
    assert_eq!(resolved_events(&removed), resolved_events(&default)[..3]);
}

#[test]
fn by_name_changes_that_cannot_apply_are_errors_in_the_child() {
    let folder = scenario_folder(&[
        (
            "unknown.toml",
            "extends = \"{default}\"\n[scenario]\nname = \"unknown\"\n\n[events.midterm_election]\nremove = true\n",
        ),
        (
            "renamed.toml",
            "extends = \"{default}\"\n[scenario]\nname = \"renamed\"\n\n[events.tariff_wave]\nname = \"tariff_waves\"\nrate_per_year = 3.0\n",
        ),
        (
            "remove_and_change.toml",
            "extends = \"{default}\"\n[scenario]\nname = \"both\"\n\n[events.tariff_wave]\nremove = true\nrate_per_year = 3.0\n",
        ),
    ]);
    let (text, _) = folder_error(&folder, "unknown.toml");
    assert_contains(
        &text,
        &[
            "unknown.toml:6: events.midterm_election.remove",
            "no event `midterm_election` in default.toml to remove",
            "did you mean `midterm_elections`?",
        ],
    );
    let (text, _) = folder_error(&folder, "renamed.toml");
    assert_contains(
        &text,
        &[
            "renamed.toml:6: events.tariff_wave.name",
            "`tariff_waves` differs from `tariff_wave`",
        ],
    );
    // Without `extends` there is nothing to change by name.
    let text = inline_error("[assets.eq]\nprocess = \"gbm\"\ninitial = 1.0\nvol = 0.1\n[events.shock]\ndate = 2026-01-06\n");
    assert_contains(
        &text,
        &[
            "bounds.toml:10: events: invalid type: map",
            "write `[[events]]` for each event",
        ],
    );
    let (text, _) = folder_error(&folder, "remove_and_change.toml");
    assert_contains(
        &text,
        &[
            "remove_and_change.toml:7: events.tariff_wave.rate_per_year",
            "give no other keys",
        ],
    );
}

#[test]
fn an_error_in_a_by_name_change_is_located_at_the_child_line() {
    let folder = scenario_folder(&[(
        "child.toml",
        "extends = \"{default}\"\n[scenario]\nname = \"child\"\n\n# Far too often.\n[events.tariff_wave]\nduration_days = 10\nrate_per_year = 300.0\n",
    )]);
    let (text, files) = folder_error(&folder, "child.toml");
    assert_contains(
        &text,
        &["child.toml:8: events[1].rate_per_year: 300 is out of range"],
    );
    assert_eq!(files, [Some(folder.path().join("child.toml"))]);
    assert!(!text.contains("replaces"), "no array was replaced: {text}");
}

#[test]
fn a_child_that_replaces_the_events_is_blamed_and_told_so() {
    // The second event is dated yet gives a window: the problem's key,
    // `events[1].window_start`, is not written in the child, but default.toml's
    // events[1] (tariff_wave) has one; that file's events are dropped, so the
    // message must not point there.
    let folder = scenario_folder(&[(
        "child.toml",
        "extends = \"{default}\"\n[scenario]\nname = \"child\"\n\n[[events]]\nname = \"fed_put\"\ndate = 2026-03-02\n\n[[events]]\nname = \"rate_cut\"\ndate = 2026-03-02\nwindow_end = 2026-04-01\n",
    )]);
    let (text, files) = folder_error(&folder, "child.toml");
    assert_contains(
        &text,
        &[
            "child.toml:9: events[1].window_start: a window applies only to Poisson events",
            "`[[events]]` in child.toml replaces the 4 events of default.toml (new_fed_chair, tariff_wave, fed_put, midterm_elections)",
            "to change one event, write `[events.NAME]` with only the keys that change",
        ],
    );
    assert_eq!(files, [Some(folder.path().join("child.toml"))]);
}

#[test]
fn by_name_changes_work_down_a_chain_of_any_depth() {
    let folder = scenario_folder(&[
        (
            "child.toml",
            "extends = \"{default}\"\n[scenario]\nname = \"child\"\n\n[events.rate_cut]\ndate = 2026-03-02\n\n[events.tariff_wave]\nrate_per_year = 4.0\n",
        ),
        (
            "grandchild.toml",
            "extends = \"child.toml\"\n[scenario]\nname = \"grandchild\"\n\n[events.rate_cut]\nduration_days = 5\n\n[events.new_fed_chair]\nremove = true\n",
        ),
        (
            "bad_grandchild.toml",
            "extends = \"child.toml\"\n[scenario]\nname = \"bad\"\n\n[events.rate_cut]\nduration_days = -5\n",
        ),
        (
            "replacing.toml",
            "extends = \"{default}\"\n[scenario]\nname = \"replacing\"\n\n[[events]]\nname = \"fed_put\"\ndate = 2026-03-02\n",
        ),
        (
            "over_replacing.toml",
            "extends = \"replacing.toml\"\n[scenario]\nname = \"over\"\n\n[events.fed_put]\nduration_days = 3\n\n[events.rate_cut]\ndate = 2026-03-02\nwindow_end = 2026-04-01\n",
        ),
    ]);
    let grandchild =
        scenario::load(&folder.path().join("grandchild.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        event_names(&grandchild),
        ["tariff_wave", "fed_put", "midterm_elections", "rate_cut"]
    );
    let events = resolved_events(&grandchild);
    assert_eq!(events[0]["rate_per_year"].as_float(), Some(4.0));
    assert_eq!(events[3]["duration_days"].as_integer(), Some(5));
    assert!(events[3].contains_key("date"));
    // An error in an event the child added, changed by the grandchild.
    let (text, _) = folder_error(&folder, "bad_grandchild.toml");
    assert_contains(&text, &["bad_grandchild.toml:6: events[4].duration_days"]);
    // A by-name change over a list the parent replaced: located in the file
    // that wrote it, never in default.toml, with the parent's replacement noted.
    let (text, files) = folder_error(&folder, "over_replacing.toml");
    assert_contains(
        &text,
        &[
            "over_replacing.toml:8: events[1].window_start",
            "`[[events]]` in replacing.toml replaces the 4 events of default.toml",
        ],
    );
    assert!(files
        .iter()
        .all(|f| f.as_deref()
            != Some(&Path::new(*crate::common::ROOT).join("scenarios/default.toml"))));
}

#[test]
fn inline_portfolios_merge_by_name_and_events_start_a_list_where_the_parent_has_none() {
    let base = "[scenario]\nname = \"small\"\nstart_date = 2026-01-05\nhorizon_steps = 20\ncalendar = \"weekdays\"\n\n[assets.eq]\nprocess = \"gbm\"\ninitial = 100.0\nvol = 0.2\n\n[[portfolio]]\nname = \"long\"\nbase_currency = \"USD\"\npositions.eq = { asset = \"eq\", weight = 1.0 }\n\n[[portfolio]]\nname = \"short\"\nbase_currency = \"USD\"\npositions.eq = { asset = \"eq\", weight = -1.0 }\n";
    let folder = scenario_folder(&[
        ("base.toml", base),
        (
            "child.toml",
            "extends = \"base.toml\"\n[scenario]\nname = \"child\"\n\n[portfolio.long]\nvalue = 5e6\n\n[portfolio.long.positions.eq]\nweight = 0.5\n\n[events.shock]\ndate = 2026-01-12\njumps = { eq = { mean = -0.1 } }\n",
        ),
    ]);
    let child = scenario::load(&folder.path().join("child.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(event_names(&child), ["shock"]);
    let portfolios = &child.inline_portfolios;
    assert_eq!(portfolios.len(), 2);
    assert_eq!(portfolios[0]["name"].as_str(), Some("long"));
    assert_eq!(portfolios[0]["value"].as_float(), Some(5e6));
    let position = &portfolios[0]["positions"]["eq"];
    assert_eq!(position["weight"].as_float(), Some(0.5));
    assert_eq!(position["asset"].as_str(), Some("eq"));
    assert_eq!(portfolios[1]["name"].as_str(), Some("short"));
    assert!(portfolios[1].get("value").is_none());
}

#[test]
fn the_changes_table_lists_by_name_changes_by_event_name() {
    let folder = scenario_folder(&[(
        "child.toml",
        "extends = \"{default}\"\n[scenario]\nname = \"child\"\n\n[events.tariff_wave]\nrate_per_year = 6.0\n\n[events.midterm_elections]\nremove = true\n\n[events.rate_cut]\ndate = 2026-03-02\n",
    )]);
    let child = scenario::load(&folder.path().join("child.toml")).unwrap_or_else(|e| panic!("{e}"));
    let changes = &child.overrides.as_ref().unwrap().changes;
    for change in changes {
        println!("{} | {:?} | {}", change.key, change.parent, change.child);
    }
    let find = |key: &str| {
        changes
            .iter()
            .find(|c| c.key == key)
            .unwrap_or_else(|| panic!("no change `{key}`"))
    };
    let rate = find("events.tariff_wave.rate_per_year");
    assert_eq!(rate.parent.as_deref(), Some("2.0"));
    assert_eq!(rate.child, "6.0");
    let removed = find("events.midterm_elections");
    assert_eq!(removed.child, "(removed)");
    assert!(removed
        .parent
        .as_deref()
        .unwrap()
        .contains("US mid-term elections"));
    let added = find("events.rate_cut.date");
    assert_eq!(added.parent, None);
    assert_eq!(added.child, "2026-03-02");
    // Nothing else: the events the child leaves alone are not listed.
    assert_eq!(
        changes
            .iter()
            .filter(|c| c.key.starts_with("events"))
            .count(),
        3
    );
}

#[test]
fn the_headroom_counts_what_a_price_reads_from_other_assets_and_events() {
    let years50 = |body: &str| {
        let text = format!("[scenario]\nname = \"reach\"\nstart_date = 2026-01-05\nhorizon_years = 50\ncalendar = \"weekdays\"\n{body}");
        scenario::load_str(&text, Path::new("reach.toml")).map_err(|e| e.to_string())
    };
    let price = "[assets.fx]\nprocess = \"beta\"\ninitial = 100.0\nvol = 0.1\n";
    let rates = "[assets.a]\nprocess = \"ou\"\ninitial = 0.02\nmean = 0.02\nmean_reversion = 0.0\nvol = VOL\n[assets.b]\nprocess = \"ou\"\ninitial = 0.01\nmean = 0.01\nmean_reversion = 0.5\nvol = 0.01\n[assets.gap]\nprocess = \"spread\"\nspread = [\"a\", \"b\"]\n";
    // A beta on a spread of two rates: realistic rates run, a rate with a
    // volatility of 100 (inside its range) would move the price by e^thousands.
    let beta_on_spread = |vol: &str| {
        format!(
            "{}betas = {{ gap = 3.0 }}\n{}",
            price,
            rates.replace("VOL", vol)
        )
    };
    years50(&beta_on_spread("0.01")).expect("realistic rates");
    let error = years50(&beta_on_spread("100.0")).unwrap_err();
    assert_contains(
        &error,
        &["assets.fx", "the log-price could move by", "more than 600"],
    );
    // Event jumps on a price: a dated jump of 5 runs, one 252 times a year does not.
    let gbm = "[assets.x]\nprocess = \"gbm\"\ninitial = 100.0\nvol = 0.2\n";
    years50(&format!("{gbm}[[events]]\nname = \"once\"\ndate = 2030-01-02\njumps = {{ x = {{ mean = -5.0, sd = 1.0 }} }}\n")).expect("one jump");
    let error = years50(&format!("{gbm}[[events]]\nname = \"often\"\nrate_per_year = 252.0\njumps = {{ x = {{ mean = -5.0, sd = 1.0 }} }}\n")).unwrap_err();
    assert_contains(&error, &["assets.x", "the log-price could move by"]);
    // A carry on an absurd domestic rate (a level of 100 is inside its range).
    let carry = |rate: f64| {
        format!("{price}betas = {{ x = 1.0 }}\ncarry = {{ foreign_rate = 0.02, domestic_rate = \"r\" }}\n{gbm}[assets.r]\nprocess = \"ou\"\ninitial = {rate:?}\nmean = {rate:?}\nmean_reversion = 1.0\nvol = 0.01\n")
    };
    years50(&carry(0.04)).expect("a 4% carry");
    let error = years50(&carry(100.0)).unwrap_err();
    assert_contains(&error, &["assets.fx", "the log-price could move by"]);
}
