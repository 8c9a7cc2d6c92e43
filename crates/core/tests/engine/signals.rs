//! The early-warning signals S1..S5: each rule on a scripted path whose firing
//! day can be worked out by hand, the judging of first firings against the
//! drawdown that follows, and the firing frequency against a closed form.

use crate::common;
use common::*;

use statrs::distribution::{ContinuousCDF, Normal};
use stormglass_core::model::Model;
use stormglass_core::stats::{signal_columns, SignalOutcome, SignalTracker};

/// Five assets the signals read, and a Fed put, with every signal switched on.
fn scripted_scenario(signals: &str) -> Model {
    let text = format!(
        r#"{header}
[assets.spx]
process = "heston"
initial = 100.0
initial_variance = 0.04
drift = 0.0
mean_reversion = 1.0
long_run_variance = 0.04
vol_of_vol = 0.1

[assets.vix]
process = "implied_vol"
implied_vol = {{ of = "spx" }}

[assets.dxy]
process = "gbm"
initial = 100.0
drift = 0.0
vol = 0.05

[assets.ndx]
process = "gbm"
initial = 100.0
drift = 0.0
vol = 0.2

[assets.us10y]
process = "ou"
initial = 0.04
mean_reversion = 0.1
mean = 0.04
vol = 0.01

[[events]]
name = "fed_put"
date = 2026-03-02

[signals]
equity = "spx"
dollar = "dxy"
target_drawdown = 0.2
within_days = 30
{signals}
"#,
        header = header("scripted", 100)
    );
    Model::new(&scenario(&text))
}

/// One path, given day by day: each day's state of spx, vix, dxy, ndx and us10y
/// as levels (log-levels are taken here), and whether the Fed put fired.
struct Day {
    spx: f64,
    vix: f64,
    dxy: f64,
    ndx: f64,
    us10y: f64,
    easing: bool,
}

impl Default for Day {
    fn default() -> Day {
        Day {
            spx: 100.0,
            vix: 0.2,
            dxy: 100.0,
            ndx: 100.0,
            us10y: 0.04,
            easing: false,
        }
    }
}

/// Feeds `days` (day 0 is the start) through the tracker and returns the row of
/// signal columns: drawdown time, then per signal first firing, lead, outcome.
fn track(model: &Model, days: &[Day]) -> Vec<f64> {
    let spec = model.signals.as_ref().expect("signals");
    let mut lanes = model.new_lanes(1);
    let mut tracker = SignalTracker::new(spec, 1);
    let set = |lanes: &mut stormglass_core::model::Lanes, day: &Day| {
        let names = ["spx", "vix", "dxy", "ndx", "us10y"];
        let values = [day.spx.ln(), day.vix, day.dxy.ln(), day.ndx.ln(), day.us10y];
        for (name, value) in names.iter().zip(values) {
            let a = model.assets.iter().position(|x| x.name == *name).unwrap();
            lanes.x[a] = value;
        }
        lanes.fired[0] = if day.easing { 1 } else { 0 };
    };
    set(&mut lanes, &days[0]);
    tracker.start(&lanes);
    for (t, day) in days[1..].iter().enumerate() {
        set(&mut lanes, day);
        tracker.push(&lanes, t);
    }
    let columns = signal_columns(spec).len();
    let mut row = vec![0f64; columns];
    tracker.finish(model.dt, 0, columns, &mut row);
    row
}

/// The day of the first firing of signal `r` (None if it never fires).
fn first_day(model: &Model, row: &[f64], r: usize) -> Option<usize> {
    let years = row[1 + 3 * r];
    (!years.is_nan()).then(|| (years / model.dt).round() as usize)
}

fn days(n: usize, f: impl FnMut(usize) -> Day) -> Vec<Day> {
    (0..n).map(f).collect()
}

#[test]
fn s1_fires_the_day_the_dollar_is_3_percent_lower_and_vol_50_percent_higher_than_ten_days_before() {
    let model = scripted_scenario(
        "s1 = { implied_vol = \"vix\", window_days = 10, dollar_fall = 0.03, vol_rise = 0.5 }",
    );
    // The dollar loses 1% a day from day 20 to day 24; vol goes 0.2 -> 0.32 on day
    // 22. On day 23 the dollar is 1 - 0.99^4 = 3.9% below day 13 and vol 60%
    // higher; on day 22 the fall is only 2.97%.
    let path = days(60, |d| Day {
        dxy: 100.0 * 0.99f64.powi(d.clamp(19, 24) as i32 - 19),
        vix: if d >= 22 { 0.32 } else { 0.2 },
        ..Day::default()
    });
    let row = track(&model, &path);
    assert_eq!(first_day(&model, &row, 0), Some(23));
    // Vol that rises only 45% never fires it.
    let path = days(60, |d| Day {
        dxy: 100.0 * 0.99f64.powi(d.clamp(19, 24) as i32 - 19),
        vix: if d >= 22 { 0.29 } else { 0.2 },
        ..Day::default()
    });
    assert_eq!(first_day(&model, &track(&model, &path), 0), None);
}

#[test]
fn s2_fires_when_the_rolling_skewness_of_dollar_returns_first_reaches_minus_the_threshold() {
    let model = scripted_scenario("s2 = { window_days = 20, skew = 2.0 }");
    // Alternating +-0.4% days, one -3% day on day 40: the skewness computed
    // directly from the last 20 daily returns decides the first firing day.
    let returns: Vec<f64> = (0..80)
        .map(|d| match d {
            0 => 0.0,
            40 => -0.03,
            d if d % 2 == 0 => 0.004,
            _ => -0.004,
        })
        .collect();
    let mut log = 0.0;
    let levels: Vec<f64> = returns
        .iter()
        .map(|r| {
            log += r;
            100.0 * f64::exp(log)
        })
        .collect();
    let expected = (20..80).find(|&n| {
        let window = &returns[n + 1 - 20..=n];
        let mean = window.iter().sum::<f64>() / 20.0;
        let m2 = window.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / 20.0;
        let m3 = window.iter().map(|r| (r - mean).powi(3)).sum::<f64>() / 20.0;
        m3 / m2.powf(1.5) <= -2.0
    });
    assert_eq!(expected, Some(40), "the hand check itself");
    let path = days(80, |d| Day {
        dxy: levels[d],
        ..Day::default()
    });
    assert_eq!(first_day(&model, &track(&model, &path), 0), expected);
    // Without the large fall the skew is near zero: no firing.
    let path = days(80, |d| Day {
        dxy: 100.0 * if d % 2 == 1 { 0.996 } else { 1.0 },
        ..Day::default()
    });
    assert_eq!(first_day(&model, &track(&model, &path), 0), None);
}

#[test]
fn s3_needs_the_dollar_and_equities_down_together_with_the_leader_falling_more() {
    let model = scripted_scenario(
        "s3 = { window_days = 10, dollar_fall = 0.03, equity_fall = 0.07, leader = \"ndx\" }",
    );
    // Day 30: spx -8%, dxy -4%, ndx -12%: fires that day.
    let selloff = |ndx: f64, dxy: f64| {
        days(60, move |d| Day {
            spx: if d >= 30 { 92.0 } else { 100.0 },
            dxy: if d >= 30 { dxy } else { 100.0 },
            ndx: if d >= 30 { ndx } else { 100.0 },
            ..Day::default()
        })
    };
    assert_eq!(
        first_day(&model, &track(&model, &selloff(88.0, 96.0)), 0),
        Some(30)
    );
    // The leader falling less than the index: no firing.
    assert_eq!(
        first_day(&model, &track(&model, &selloff(95.0, 96.0)), 0),
        None
    );
    // The dollar rising (the classic pattern): no firing.
    assert_eq!(
        first_day(&model, &track(&model, &selloff(88.0, 104.0)), 0),
        None
    );
}

#[test]
fn s4_fires_once_a_full_window_of_equities_the_dollar_and_bonds_moving_as_one() {
    let model = scripted_scenario(
        "s4 = { window_days = 10, correlation = 0.999, with = { dxy = 1, us10y = -1 } }",
    );
    // From day 20 every day the equity moves by e, the dollar by e/2 and the 10y
    // by -e/10 (yields up as prices fall): correlation +1 once the window holds
    // only such days, that is from day 30 (days 21..30 are ten such changes).
    // Before day 20 the three move independently.
    let moves = |d: usize| -> (f64, f64, f64) {
        if d > 20 {
            let e = if d % 3 == 0 { -0.02 } else { 0.01 };
            (e, e / 2.0, -e / 10.0)
        } else {
            let s = [0.01, -0.01, 0.0];
            (s[d % 3], s[(d + 1) % 3], s[d % 2] / 10.0)
        }
    };
    let mut state = (0.0, 0.0, 0.04);
    let path = days(60, |d| {
        if d > 0 {
            let (e, x, y) = moves(d);
            state = (state.0 + e, state.1 + x, state.2 + y);
        }
        Day {
            spx: 100.0 * f64::exp(state.0),
            dxy: 100.0 * f64::exp(state.1),
            us10y: state.2,
            ..Day::default()
        }
    });
    let first = first_day(&model, &track(&model, &path), 0);
    assert_eq!(first, Some(30));
}

#[test]
fn s5_fires_when_the_dollar_and_equities_keep_falling_after_an_easing() {
    let model = scripted_scenario(
        "s5 = { events = [\"fed_put\"], within_days = 10, dollar_fall = 0.01, equity_fall = 0.03 }",
    );
    // The put fires on day 40 (levels 90 and 100 at its end); by day 46 the dollar
    // is 1.5% lower and equities 4% lower.
    let after = |late: usize| {
        days(80, move |d| Day {
            spx: if d >= 40 + late { 86.4 } else { 90.0 },
            dxy: if d >= 40 + late { 98.5 } else { 100.0 },
            easing: d == 40,
            ..Day::default()
        })
    };
    assert_eq!(first_day(&model, &track(&model, &after(6)), 0), Some(46));
    // The same fall 11 days after the easing is outside the window.
    assert_eq!(first_day(&model, &track(&model, &after(11)), 0), None);
}

#[test]
fn a_first_firing_is_a_hit_when_the_drawdown_follows_within_the_window() {
    let model =
        scripted_scenario("s3 = { window_days = 5, dollar_fall = 0.03, equity_fall = 0.07 }");
    // S3 fires on day 30 (spx 100 -> 92, dxy -4%); the drawdown reaches 20% on day
    // `crash` (spx 80). Window 30 days, horizon 100 days.
    let path = |crash: usize| {
        days(101, move |d| Day {
            spx: if d >= crash {
                80.0
            } else if d >= 30 {
                92.0
            } else {
                100.0
            },
            dxy: if d >= 30 { 96.0 } else { 100.0 },
            ..Day::default()
        })
    };
    let years = |days: usize| days as f64 * model.dt;
    let row = track(&model, &path(45));
    assert_eq!(row[0], years(45), "drawdown time");
    assert_eq!(row[1], years(30), "first firing");
    assert_eq!(row[2], years(15), "lead time");
    assert_eq!(SignalOutcome::from_code(row[3]), Some(SignalOutcome::Hit));
    let row = track(&model, &path(61));
    assert!(row[2].is_nan(), "no lead time without a hit");
    assert_eq!(
        SignalOutcome::from_code(row[3]),
        Some(SignalOutcome::FalseAlarm)
    );
}

#[test]
fn s3_fires_on_a_path_as_often_as_the_closed_form_says() {
    // Two independent driftless GBMs, window of one day: S3 fires on a day with
    // probability p = Phi(ln(1 - 0.005) / s_d) Phi(ln(1 - 0.01) / s_e) (the
    // log-drift -sigma^2/2 dt included), so over n days a path sees it with
    // probability 1 - (1 - p)^n.
    let (vol_d, vol_e, steps, paths) = (0.08, 0.2, 20, 20_000u64);
    let text = format!(
        r#"{}
[assets.spx]
process = "gbm"
initial = 100.0
drift = 0.0
vol = {vol_e}

[assets.dxy]
process = "gbm"
initial = 100.0
drift = 0.0
vol = {vol_d}

[signals]
equity = "spx"
dollar = "dxy"
s3 = {{ window_days = 1, dollar_fall = 0.005, equity_fall = 0.01 }}
"#,
        header("s3_closed_form", steps)
    );
    let run = run(&scenario(&text), paths, 7, 0, 0);
    let dt: f64 = 1.0 / 252.0;
    let normal = |x: f64| Normal::standard().cdf(x);
    let day =
        |fall: f64, vol: f64| normal(((-fall).ln_1p() + 0.5 * vol * vol * dt) / (vol * dt.sqrt()));
    let p = day(0.005, vol_d) * day(0.01, vol_e);
    let expected = 1.0 - (1.0 - p).powi(steps as i32);
    let signal = &run.summary.signals[0];
    let fired = signal.probability_fired;
    // Every firing path is judged once (the target drawdown of 20% is out of
    // reach in 20 days of these vols, so firings are false alarms or open).
    let fired_paths = signal.first_firing_years.count;
    assert_eq!(
        signal.hits + signal.false_alarms + signal.late + signal.open,
        fired_paths
    );
    // A proportion of 20,000 paths: its standard error, at 4 of them.
    let se = (expected * (1.0 - expected) / paths as f64).sqrt();
    assert_within("P(S3 fires)", fired, expected, se, 4.0);
}

#[test]
fn rates_of_no_paths_are_null_with_a_note_saying_why() {
    // A signal that never fires and a drawdown no path reaches in 20 days:
    // every rate and the coverage are shares of 0 paths.
    let text = format!(
        r#"{}
[assets.spx]
process = "gbm"
initial = 100.0
vol = 0.1

[assets.dxy]
process = "gbm"
initial = 100.0
vol = 0.05

[signals]
equity = "spx"
dollar = "dxy"
s3 = {{ window_days = 1, dollar_fall = 0.5, equity_fall = 0.5 }}
"#,
        header("never_fires", 20)
    );
    let run = run(&scenario(&text), 200, 7, 0, 0);
    let json = serde_json::to_value(&run.summary.signals[0]).unwrap();
    for key in ["hit_rate", "false_alarm_rate", "late_rate", "coverage"] {
        assert!(json[key].is_null(), "{key}: {json}");
    }
    let note = json["note"].as_str().unwrap_or_default();
    assert!(
        note.contains("0 of 0") && note.contains("hit_rate") && note.contains("coverage"),
        "{json}"
    );
}
