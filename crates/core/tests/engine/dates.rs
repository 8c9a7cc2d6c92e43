//! Runs from any date: relative dates, events before the start, clipped
//! windows, the FOMC calendar past its listed dates, and the user's own
//! starting levels (`run --levels`).

use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use stormglass_core::scenario::{self, levels, Mechanism, Scenario, Trigger};
use stormglass_core::Recipe;

use crate::common::{bundled, column, header, mean_and_se, run, scenario, ROOT, THESIS_SCENARIOS};

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(*ROOT).join("target/test-dates");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The bundled levels, dated `as_of` instead of their own day.
fn levels_on(as_of: &str) -> PathBuf {
    let text =
        std::fs::read_to_string(Path::new(*ROOT).join("scenarios/base/levels.toml")).unwrap();
    let text = text.replace("start_date = 2025-11-28", &format!("start_date = {as_of}"));
    assert!(text.contains(as_of));
    let file = scratch(&format!("levels-{as_of}.toml"));
    std::fs::write(&file, text).unwrap();
    file
}

fn thesis_path(name: &str) -> PathBuf {
    Path::new(*ROOT).join(format!("scenarios/{name}.toml"))
}

fn prepare(name: &str, levels: &Path, settings: &[&str]) -> Scenario {
    Recipe {
        scenario: thesis_path(name),
        levels: Some(levels.to_path_buf()),
        settings: settings.iter().map(|s| s.to_string()).collect(),
        no_portfolios: true,
        ..Recipe::default()
    }
    .prepare(1)
    .unwrap_or_else(|e| panic!("{name}: {e}"))
    .scenario
}

#[test]
fn every_thesis_scenario_runs_from_a_later_date_with_only_the_date_changed() {
    for as_of in ["2026-12-04", "2027-06-30"] {
        let file = levels_on(as_of);
        for name in THESIS_SCENARIOS {
            let scenario = prepare(name, &file, &[]);
            assert_eq!(scenario.dates[0].to_string(), as_of, "{name}");
            // One year on, as the scenario's horizon says.
            let end = *scenario.dates.last().unwrap();
            assert!(
                (end - scenario.dates[0]).num_days() >= 360,
                "{name}: ends {end}"
            );
            // The chair of May 2026 is in office from the first day.
            let rule = scenario
                .assets
                .iter()
                .find_map(|a| a.policy.as_ref())
                .unwrap();
            assert_eq!(rule.chair_step, Some(0), "{name}");
            assert_eq!(rule.chair_bias_at(0), rule.chair_bias, "{name}");
            let said = scenario
                .notes
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n");
            assert!(
                said.contains("in force from the first day"),
                "{name}: {said}"
            );
            assert!(
                said.contains("new_fed_chair") || said.contains("events[0].date"),
                "{name}: {said}"
            );
            // Eight meetings a year, on the published calendar where there is one.
            assert_eq!(rule.meeting_steps.len(), 8, "{name} from {as_of}");
            // The tariff window moves with the start: it opens on the first day.
            let tariff = scenario
                .events
                .iter()
                .find(|e| e.name == "tariff_wave")
                .unwrap();
            assert!(tariff.enabled, "{name}");
            assert!(
                matches!(tariff.trigger, Trigger::Poisson { first_step: 0, end_step, .. } if end_step > 200),
                "{name}: {:?}",
                tariff.trigger
            );
            let result = run(&scenario, 300, 7, 1, 0);
            for asset in &scenario.assets {
                let name_col = if asset.is_log() {
                    "terminal_return"
                } else {
                    "terminal_change"
                };
                let values = column(&result, &format!("{}.{name_col}", asset.name));
                assert!(
                    values.iter().all(|v| v.is_finite()),
                    "{name}: {}",
                    asset.name
                );
            }
        }
    }
}

#[test]
fn a_chair_already_in_office_lowers_the_policy_rate_from_the_first_meeting() {
    // From 2026-12-04 the chair's bias (dovish_bias 1% times alignment 0.75)
    // lowers the rule's target from the start. Switched off on the same seeds
    // and paths, the mean policy rate after a year must be higher; the size is
    // at most the bias itself (the rule adjusts part of the way each meeting,
    // and the regimes the bias feeds move the rate too).
    let file = levels_on("2026-12-04");
    let on = prepare("default", &file, &[]);
    let mut off = on.clone();
    off.switch_off(Mechanism::NewChair);
    let paths = 4_000;
    let rate_on = column(&run(&on, paths, 3, 0, 0), "fed_funds.terminal_change");
    let rate_off = column(&run(&off, paths, 3, 0, 0), "fed_funds.terminal_change");
    let paired: Vec<f64> = rate_on.iter().zip(&rate_off).map(|(a, b)| a - b).collect();
    let (difference, se) = mean_and_se(&paired);
    println!("chair in office: mean policy rate change {difference:.5} (se {se:.5})");
    // Four standard errors from zero, and no more than the bias (plus 4 se).
    assert!(difference < -4.0 * se, "difference {difference}, se {se}");
    assert!(
        difference > -0.0075 - 4.0 * se,
        "difference {difference}, se {se}"
    );
}

const ONE_ASSET: &str = r#"
[assets.spx]
process = "gbm"
initial = 100.0
drift = 0.05
vol = 0.2
"#;

fn with_event(event: &str) -> Scenario {
    scenario(&format!(
        "{}{ONE_ASSET}\n[[events]]\n{event}",
        header("dated", 60)
    ))
}

#[test]
fn an_event_before_the_start_has_happened_its_jumps_are_in_the_levels() {
    // The header starts on 2026-01-05 (weekday calendar). A crash dated ten
    // weekdays earlier with a 30-day adjustment: its jump is not applied
    // again, its adjustment stays for the 20 days left.
    let happened = with_event(
        "name = \"crash\"\ndate = 2025-12-22\nduration_days = 30\njumps = { spx = { mean = -0.3, sd = 0.0 } }\nadjustments = { spx = { vol_scale = 2.0 } }",
    );
    let event = &happened.events[0];
    assert!(event.enabled);
    assert_eq!(event.trigger, Trigger::Dated { step: 0 });
    assert_eq!(event.duration_steps, 20);
    assert!(event.jumps.iter().all(Vec::is_empty));
    let note = happened.notes[0].to_string();
    assert!(
        note.contains("events[0].date") && note.contains("20 trading days left"),
        "{note}"
    );

    // The same event without its adjustment leaves nothing: the run is the
    // plain GBM's, number for number.
    let gone = with_event("name = \"crash\"\ndate = 2025-12-22\nduration_days = 30\njumps = { spx = { mean = -0.3, sd = 0.0 } }");
    assert!(!gone.events[0].enabled);
    let plain = scenario(&format!("{}{ONE_ASSET}", header("dated", 60)));
    let a = column(&run(&gone, 500, 5, 1, 0), "spx.terminal_return");
    let b = column(&run(&plain, 500, 5, 1, 0), "spx.terminal_return");
    assert_eq!(a, b);

    // The adjustment in force doubles the vol for the first 20 of 60 steps:
    // the terminal log-return variance is sigma^2 (4 * 20 + 40) / 252.
    let returns = column(&run(&happened, 20_000, 5, 0, 0), "spx.terminal_return");
    let logs: Vec<f64> = returns.iter().map(|r| r.ln_1p()).collect();
    let var = crate::common::variance(&logs);
    let expected = 0.04 * (4.0 * 20.0 + 40.0) / 252.0;
    // The sample variance's standard error for a normal sample: var sqrt(2/(n-1)).
    let se = expected * (2.0 / 19_999.0f64).sqrt();
    crate::common::assert_within(
        "variance with the adjustment carried over",
        var,
        expected,
        se,
        4.0,
    );
}

#[test]
fn windows_are_clipped_to_the_horizon_and_events_outside_it_never_fire() {
    let clipped = with_event("name = \"wave\"\nrate_per_year = 50.0\nwindow_start = 2025-06-01\nwindow_end = \"start + 1M\"\njumps = { spx = { mean = -0.01 } }");
    match clipped.events[0].trigger {
        Trigger::Poisson {
            first_step,
            end_step,
            ..
        } => {
            assert_eq!(first_step, 0);
            // The last step in the window closes on 2026-02-05 (start + 1M).
            assert_eq!(clipped.dates[end_step], day(2026, 2, 5));
        }
        other => panic!("{other:?}"),
    }
    assert!(clipped.notes[0]
        .to_string()
        .contains("it runs from the start"));

    for (event, says) in [
        (
            "window_start = 2025-01-01\nwindow_end = 2025-12-31",
            "before the start",
        ),
        ("window_start = \"end + 1D\"", "after the horizon's end"),
    ] {
        let outside = with_event(&format!("name = \"wave\"\nrate_per_year = 50.0\n{event}\njumps = {{ spx = {{ mean = -0.01 }} }}"));
        assert!(!outside.events[0].enabled, "{event}");
        assert!(
            outside.notes[0].to_string().contains(says),
            "{event}: {}",
            outside.notes[0]
        );
        let result = run(&outside, 500, 5, 1, 0);
        let wave = result
            .summary
            .events
            .iter()
            .find(|e| e.name == "wave")
            .unwrap();
        assert_eq!(wave.probability_fired, 0.0, "{event}");
    }
    let late = with_event("name = \"vote\"\ndate = 2030-11-05\njumps = { spx = { mean = -0.01 } }");
    assert!(!late.events[0].enabled);
    assert!(late.notes[0]
        .to_string()
        .contains("after the horizon's end"));
}

#[test]
fn relative_dates_that_cannot_be_read_name_the_key_and_the_form() {
    let text = format!(
        "{}{ONE_ASSET}\n[[events]]\nname = \"wave\"\nrate_per_year = 2.0\nwindow_end = \"start + 5Q\"\n",
        header("dated", 60)
    );
    let error = scenario::load_str(&text, Path::new("test.toml"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("events[0].window_end"), "{error}");
    assert!(error.contains("\"start + 5M\""), "{error}");
}

#[test]
fn meetings_follow_the_published_calendar_then_the_fomc_pattern() {
    let default = bundled("default");
    let rule = default
        .assets
        .iter()
        .find_map(|a| a.policy.as_ref())
        .unwrap();
    let dates: Vec<NaiveDate> = rule
        .meeting_steps
        .iter()
        .map(|s| default.dates[s + 1])
        .collect();
    // The listed 2026 meetings, each landing in the step ending on its day.
    assert_eq!(dates[0], day(2025, 12, 10));
    assert!(dates.contains(&day(2026, 10, 28)));

    // Past the listed calendar (it ends in January 2028), eight a year by the
    // pattern; where it is listed, the listed day (2027-06-09, not the
    // pattern's 06-16).
    for (as_of, listed_june) in [("2027-01-04", true), ("2029-03-01", false)] {
        let scenario = prepare("default", &levels_on(as_of), &[]);
        let rule = scenario
            .assets
            .iter()
            .find_map(|a| a.policy.as_ref())
            .unwrap();
        let dates: Vec<NaiveDate> = rule
            .meeting_steps
            .iter()
            .map(|s| scenario.dates[s + 1])
            .collect();
        assert_eq!(dates.len(), 8, "{as_of}: {dates:?}");
        for pair in dates.windows(2) {
            let gap = (pair[1] - pair[0]).num_days();
            assert!((35..=63).contains(&gap), "{as_of}: {pair:?}");
        }
        if listed_june {
            assert!(dates.contains(&day(2027, 6, 9)), "{dates:?}");
        } else {
            assert!(
                dates.iter().all(|d| d.weekday() == chrono::Weekday::Wed),
                "{dates:?}"
            );
        }
    }
}

#[test]
fn the_scenarios_own_levels_given_as_a_file_change_no_number() {
    // levels.csv repeats levels.toml's values and date: the run from it must be
    // the bundled run, number for number, and record the file.
    let csv = Path::new(*ROOT).join("scenarios/base/levels.csv");
    let from_file = prepare("default", &csv, &[]);
    let own = bundled("default");
    for (a, b) in from_file.assets.iter().zip(&own.assets) {
        assert_eq!(a.initial, b.initial, "{}", a.name);
        assert_eq!(a.initial_variance, b.initial_variance, "{}", a.name);
    }
    let a = run(&from_file, 300, 9, 1, 0);
    let b = run(&own, 300, 9, 1, 0);
    assert_eq!(
        column(&a, "spx.terminal_return"),
        column(&b, "spx.terminal_return")
    );
    assert_eq!(
        column(&a, "fed_funds.terminal_change"),
        column(&b, "fed_funds.terminal_change")
    );
    let record = from_file.levels.as_ref().expect("recorded");
    assert_eq!(record.as_of, "2025-11-28");
    let text = std::fs::read(&csv).unwrap();
    use sha2::Digest;
    let sha: String = sha2::Sha256::digest(&text)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(record.sha256, sha);
    assert!(
        from_file.settings.is_empty(),
        "levels are not listed as --set"
    );
    assert_eq!(a.summary.scenario.levels.as_ref(), Some(record));
}

#[test]
fn levels_settings_apply_after_the_file_and_win() {
    let csv = Path::new(*ROOT).join("scenarios/base/levels.csv");
    let scenario = prepare("default", &csv, &["assets.spx.initial=7000"]);
    assert_eq!(
        scenario.assets[scenario.asset_index("spx").unwrap()].initial,
        7000.0
    );
    assert_eq!(scenario.settings.len(), 1);

    // Settings applied later (a sweep's point, a fit's trial) keep the levels
    // and their date.
    let later = scenario::settings::apply(
        &scenario,
        &thesis_path("default"),
        &[scenario::settings::Setting::parse("assets.dxy.initial=90").unwrap()],
    )
    .unwrap();
    assert_eq!(later.levels, scenario.levels);
    assert_eq!(later.dates[0], scenario.dates[0]);
    assert_eq!(
        later.assets[later.asset_index("dxy").unwrap()].initial,
        90.0
    );
    let dated = prepare("default", &levels_on("2026-12-04"), &[]);
    let later = scenario::settings::apply(
        &dated,
        &thesis_path("default"),
        &[scenario::settings::Setting::parse("assets.spx.drift=0.05").unwrap()],
    )
    .unwrap();
    assert_eq!(later.dates[0].to_string(), "2026-12-04");
    assert_eq!(later.notes.len(), dated.notes.len());
}

#[test]
fn a_vix_level_starts_the_model_at_that_vix() {
    // The VIX is read from the S&P 500's variance: a VIX level sets the
    // variance that gives it, and the model's starting VIX is that level.
    let file = scratch("vix-level.csv");
    std::fs::write(&file, "asset,level,date\nvix,0.2250,2026-12-04\n").unwrap();
    let scenario = prepare("default", &file, &[]);
    let model = stormglass_core::model::Model::new(&scenario);
    let vix = scenario.asset_index("vix").unwrap();
    let start = stormglass_core::portfolio::start_levels(&model)[vix];
    assert!((start - 0.225).abs() < 1e-12, "{start}");
    let spx = &scenario.assets[scenario.asset_index("spx").unwrap()];
    assert!(spx.initial_variance > 0.0218, "{}", spx.initial_variance);
    let said = scenario
        .notes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        said.contains("vix-level.csv:2: assets.vix.initial: vix 0.225: spx.initial_variance"),
        "{said}"
    );
}

fn levels_error(name: &str, text: &str) -> String {
    let file = scratch(name);
    std::fs::write(&file, text).unwrap();
    let error = match levels::read(&file) {
        Err(e) => return e.to_string(),
        Ok(levels) => levels::apply(&bundled("default"), &thesis_path("default"), &levels, &[]),
    };
    error
        .map(|_| String::new())
        .unwrap_or_else(|e| e.to_string())
}

#[test]
fn bad_levels_name_the_file_the_line_and_what_to_write() {
    let cases: [(&str, &str, &[&str]); 12] = [
        (
            "vix_twice.csv",
            "asset,level,date\nspx.initial_variance,0.02,2026-12-04\nvix,0.175,2026-12-04\n",
            &[
                "vix_twice.csv:3",
                "also on line 2",
                "the VIX or the variance",
            ],
        ),
        (
            "vix_low.csv",
            "asset,level,date\nvix,0.01,2026-12-04\n",
            &["vix_low.csv:2", "out of reach", "lowest starting level"],
        ),
        (
            "unknown.csv",
            "asset,level,date\nspx,6850,2026-12-04\nspy,5,2026-12-04\n",
            &["unknown.csv:3", "`spy`", "`spx`"],
        ),
        (
            "percent.csv",
            "asset,level,date\nfed_funds,3.5,2026-12-04\n",
            &["percent.csv:2", "350%", "0.035"],
        ),
        (
            "misquote.csv",
            "asset,level,date\neurusd,116,2026-12-04\n",
            &["misquote.csv:2", "100 times", "1.16"],
        ),
        (
            "vix.csv",
            "asset,level,date\nvix,17.5,2026-12-04\n",
            &["vix.csv:2", "1750%", "write 0.175"],
        ),
        (
            "undated.csv",
            "asset,level\nspx,6850\n",
            &["undated.csv", "date"],
        ),
        (
            "twice.csv",
            "asset,level,date\nspx,6850,2026-12-04\nspx,6860,2026-12-04\n",
            &["twice.csv:3", "line 2"],
        ),
        (
            "header.csv",
            "name,close\nspx,6850\n",
            &["header.csv:1", "asset,level,date"],
        ),
        (
            "empty.toml",
            "[scenario]\nstart_date = 2026-12-04\n",
            &["gives no level"],
        ),
        (
            "vol.toml",
            "[scenario]\nstart_date = 2026-12-04\n[assets.spx]\nvol = 0.2\n",
            &["vol.toml:4", "assets.spx.vol", "not a level"],
        ),
        (
            "range.toml",
            "[scenario]\nstart_date = 2026-12-04\n[assets.spx]\ninitial = -5.0\n",
            &["range.toml:4", "assets.spx.initial"],
        ),
    ];
    for (name, text, says) in cases {
        let error = levels_error(name, text);
        for part in says {
            assert!(error.contains(part), "{name}: `{part}` not in: {error}");
        }
    }
}
