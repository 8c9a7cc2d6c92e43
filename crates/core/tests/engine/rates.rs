//! The rate blocks: a policy rate moving at meetings by its reaction function, a
//! dovish chair, the policy error's bear steepening, yields and spreads, and the
//! depreciation pass-through into inflation expectations. With every volatility at
//! zero the paths are exact and checked to the basis point's billionth.

use crate::common;
use common::*;

/// Inflation expectations fixed at `pi` (an OU with no volatility at its mean), a
/// term premium fixed at 0.5%, a policy rate from 4% with meetings every 10 steps,
/// the 2y and 10y yields, the 2s10s slope and the real short rate.
fn rates_scenario(pi: f64, policy_extra: &str, premium_extra: &str, extra: &str) -> String {
    format!(
        "{}[assets.inflation]\nprocess = \"ou\"\ninitial = {pi}\nmean = {pi}\nmean_reversion = 1.0\nvol = 0.0\n\
         [assets.premium]\nprocess = \"ou\"\ninitial = 0.005\nmean = 0.005\nmean_reversion = 2.0\nvol = 0.0\n{premium_extra}\n\
         [assets.fed_funds]\nprocess = \"policy_rate\"\ninitial = 0.04\n\
         [assets.fed_funds.policy]\ninflation = \"inflation\"\nneutral_rate = 0.03\ninflation_target = 0.02\ninflation_response = 1.5\nadjustment = 0.6\nmax_move = 0.005\nmeeting_every_days = 10\n{policy_extra}\n\
         [assets.us2y]\nprocess = \"yield\"\ncurve = {{ policy_rate = \"fed_funds\", term_premium = \"premium\", maturity_years = 2.0, rate_mean_reversion = 0.5 }}\n\
         [assets.us10y]\nprocess = \"yield\"\ncurve = {{ policy_rate = \"fed_funds\", term_premium = \"premium\", maturity_years = 10.0, rate_mean_reversion = 0.5 }}\n\
         [assets.slope]\nprocess = \"spread\"\nspread = [\"us10y\", \"us2y\"]\n\
         [assets.real_rate]\nprocess = \"spread\"\nspread = [\"fed_funds\", \"inflation\"]\n{extra}",
        header("rates", 50)
    )
}

fn path_of(run: &stormglass_core::Run, asset: usize) -> Vec<f64> {
    let samples = &run.simulation.samples;
    (0..samples.points)
        .map(|t| samples.level(0, t, asset))
        .collect()
}

const FED_FUNDS: usize = 2;

#[test]
fn the_policy_rate_moves_only_at_meetings_in_quarter_points_toward_its_target() {
    // Target 3% + 1.5 (3% - 2%) = 4.5%. Meetings close 60% of the gap, rounded to
    // 25 bp: +25 bp (gap 50 bp: 30 bp), then +25 bp (gap 25 bp: 15 bp), then
    // nothing. Meetings are steps 9, 19, 29, 39, 49: the rate changes in the
    // close of dates[10] and dates[20].
    let run = run(&scenario(&rates_scenario(0.03, "", "", "")), 2, 30, 1, 2);
    let rate = path_of(&run, FED_FUNDS);
    for (t, r) in rate.iter().enumerate() {
        let expected = match t {
            0..=9 => 0.04,
            10..=19 => 0.0425,
            _ => 0.045,
        };
        assert!((r - expected).abs() < 1e-12, "step {t}: {r} vs {expected}");
    }
}

#[test]
fn a_dovish_chair_lowers_the_rate_from_the_date() {
    // From the chair's date (step 24) the target falls by 2% x 0.5 = 1%: 3.5%.
    let chair = "chair_date = 2026-02-06\ndovish_bias = 0.02\ncommittee_alignment = 0.5";
    let run = run(&scenario(&rates_scenario(0.03, chair, "", "")), 2, 31, 1, 2);
    let rate = path_of(&run, FED_FUNDS);
    assert!((rate[20] - 0.045).abs() < 1e-12);
    // Meeting at step 29: gap -100 bp, 60% is -60 bp -> -50 bp; at 39: gap -50 bp,
    // -30 bp -> -25 bp.
    assert!((rate[30] - 0.04).abs() < 1e-12, "{}", rate[30]);
    assert!((rate[40] - 0.0375).abs() < 1e-12, "{}", rate[40]);
}

#[test]
fn yields_and_spreads_follow_their_formulas() {
    let run = run(&scenario(&rates_scenario(0.03, "", "", "")), 2, 32, 1, 2);
    let samples = &run.simulation.samples;
    let loading = |n: f64| (1.0 - (-0.5 * n).exp()) / (0.5 * n);
    for t in [0, 15, 50] {
        let r = samples.level(0, t, FED_FUNDS);
        let y2 = 0.03 + (r - 0.03) * loading(2.0) + 0.005 * 0.2;
        let y10 = 0.03 + (r - 0.03) * loading(10.0) + 0.005;
        assert!((samples.level(0, t, 3) - y2).abs() < 1e-12);
        assert!((samples.level(0, t, 4) - y10).abs() < 1e-12);
        assert!((samples.level(0, t, 5) - (y10 - y2)).abs() < 1e-12);
        assert!((samples.level(0, t, 6) - (r - 0.03)).abs() < 1e-12);
    }
}

#[test]
fn cutting_below_neutral_with_inflation_above_target_steepens_the_curve() {
    // A very dovish chair from the start pulls the rate below the 3% neutral while
    // expectations sit at 3.5%, above the 2% target: the policy error raises the
    // term premium, the 10y and the 2s10s slope against the same path without it.
    let chair = "chair_date = 2026-01-05\ndovish_bias = 0.04\ncommittee_alignment = 1.0";
    let error = "policy_error = { policy_rate = \"fed_funds\", coefficient = 50.0 }";
    let with = run(
        &scenario(&rates_scenario(0.035, chair, error, "")),
        2,
        33,
        1,
        2,
    );
    let without = run(
        &scenario(&rates_scenario(0.035, chair, "", "")),
        2,
        33,
        1,
        2,
    );
    let (rate, premium) = (path_of(&with, FED_FUNDS), path_of(&with, 1));
    assert!(rate[50] < 0.03, "the rate ends below neutral: {}", rate[50]);
    assert_eq!(
        rate,
        path_of(&without, FED_FUNDS),
        "the policy error leaves the rate alone"
    );
    assert!(premium[50] > 0.005 + 1e-4, "term premium {}", premium[50]);
    let (y10, slope) = (path_of(&with, 4)[50], path_of(&with, 5)[50]);
    let (y10_0, slope_0) = (path_of(&without, 4)[50], path_of(&without, 5)[50]);
    assert!(
        y10 > y10_0 + 1e-4 && slope > slope_0 + 1e-4,
        "10y {y10} vs {y10_0}, slope {slope} vs {slope_0}"
    );
}

#[test]
fn a_dovish_chair_lowers_the_real_rate_and_the_dollar() {
    // The dollar as a beta asset on the real short rate (4 log points per unit):
    // its own noise is the same on both runs, so the difference is the chair's.
    let chair = "chair_date = 2026-01-05\ndovish_bias = 0.02\ncommittee_alignment = 1.0";
    let dollar = "[assets.dxy]\nprocess = \"beta\"\ninitial = 99.5\nbetas = { real_rate = 4.0 }\nvol = 0.07\n";
    let with = run(
        &scenario(&rates_scenario(0.03, chair, "", dollar)),
        500,
        34,
        0,
        0,
    );
    let without = run(
        &scenario(&rates_scenario(0.03, "", "", dollar)),
        500,
        34,
        0,
        0,
    );
    let real = |r: &stormglass_core::Run| column(r, "real_rate.terminal_change");
    let dxy = |r: &stormglass_core::Run| column(r, "dxy.terminal_return");
    for (a, b) in real(&with).iter().zip(real(&without)) {
        assert!(a < &(b - 0.01), "real rate change {a} vs {b}");
    }
    for (a, b) in dxy(&with).iter().zip(dxy(&without)) {
        assert!(a < &b, "dxy {a} vs {b}");
    }
}

#[test]
fn a_falling_dollar_passes_into_inflation_expectations() {
    // The dollar falls 0.2/252 in log terms a step; a tenth of each move passes
    // into expectations the next step, against the OU's pull back to 3%.
    let dollar = "[assets.dxy]\nprocess = \"gbm\"\ninitial = 99.5\ndrift = -0.2\nvol = 0.0\n";
    let text = rates_scenario(0.03, "", "", dollar).replace(
        "mean_reversion = 1.0\nvol = 0.0\n",
        "mean_reversion = 1.0\nvol = 0.0\npass_through = { currency = \"dxy\", coefficient = 0.1 }\n",
    );
    let run = run(&scenario(&text), 2, 35, 1, 2);
    let dt = 1.0f64 / 252.0;
    let decay = (-dt).exp();
    let fall = 0.2 * dt;
    let mut expected = 0.03;
    for t in 0..50 {
        expected = 0.03 + (expected - 0.03) * decay + if t > 0 { 0.1 * fall } else { 0.0 };
    }
    let inflation = path_of(&run, 0);
    assert!(
        (inflation[50] - expected).abs() < 1e-12,
        "{} vs {expected}",
        inflation[50]
    );
    assert!(inflation[50] > 0.0305);
}

#[test]
fn a_euro_investor_earns_the_dollar_return_less_the_currency_unhedged_and_plus_the_rate_gap_hedged()
{
    // Unhedged, the S&P 500 in euros is S / EURUSD: ln return = ln S_T/S_0 -
    // ln E_T/E_0. Hedged by a daily-rolled forward, covered interest parity adds
    // (r_EUR - r_USD) dt a day: here (2% - 4%) over one year.
    let text = format!(
        "{}[assets.spx]\nprocess = \"gbm\"\ninitial = 6800.0\nvol = 0.2\n[assets.eurusd]\nprocess = \"gbm\"\ninitial = 1.16\nvol = 0.08\n\
         [assets.usd_rate]\nprocess = \"ou\"\ninitial = 0.04\nmean = 0.04\nmean_reversion = 1.0\nvol = 0.0\n\
         [assets.spx_eur]\nprocess = \"beta\"\ninitial = 6800.0\nbetas = {{ spx = 1.0, eurusd = -1.0 }}\n\
         [assets.spx_eur_hedged]\nprocess = \"beta\"\ninitial = 6800.0\nbetas = {{ spx = 1.0 }}\ncarry = {{ foreign_rate = 0.02, domestic_rate = \"usd_rate\" }}\n",
        header("foreign", 252)
    );
    let run = run(&scenario(&text), 500, 38, 0, 0);
    let log = |name: &str| {
        column(&run, name)
            .iter()
            .map(|r| r.ln_1p())
            .collect::<Vec<f64>>()
    };
    let (spx, eur, unhedged, hedged) = (
        log("spx.terminal_return"),
        log("eurusd.terminal_return"),
        log("spx_eur.terminal_return"),
        log("spx_eur_hedged.terminal_return"),
    );
    for p in 0..spx.len() {
        // f64 storage of the returns: only the rounding of exp and ln remains
        // (an f32 table would be off by about 1e-7).
        assert!(
            (unhedged[p] - (spx[p] - eur[p])).abs() < 1e-10,
            "unhedged {} vs {}",
            unhedged[p],
            spx[p] - eur[p]
        );
        assert!(
            (hedged[p] - (spx[p] - 0.02)).abs() < 1e-10,
            "hedged {} vs {}",
            hedged[p],
            spx[p] - 0.02
        );
    }
}

#[test]
fn the_meeting_calendar_continues_past_its_last_listed_date() {
    // Inflation at 4%: the target is 3% + 1.5 (4% - 2%) = 6%, and every meeting
    // moves the rate by its 50 bp cap until the gap is small. Only two meetings
    // are listed (the closes of dates[10] and dates[20], 2026-01-19 and
    // 2026-02-02); a month past the last, meetings follow the FOMC's pattern,
    // whose next date in this 80-session horizon is 2026-03-18.
    let text = rates_scenario(0.04, "", "", "").replace("horizon_steps = 50", "horizon_steps = 80");
    let dates = scenario(&text).dates;
    let listed = format!("meeting_dates = [{}, {}]", dates[10], dates[20]);
    let text = text.replace("meeting_every_days = 10", &listed);
    let run = run(&scenario(&text), 2, 33, 1, 2);
    let rate = path_of(&run, FED_FUNDS);
    assert!((rate[15] - 0.045).abs() < 1e-12, "{}", rate[15]);
    assert!((rate[25] - 0.05).abs() < 1e-12, "{}", rate[25]);
    let march = dates
        .iter()
        .position(|d| d.to_string() == "2026-03-18")
        .expect("in the horizon");
    // Frozen at 5% until the pattern's meeting, 50 bp higher in its close, and
    // no other meeting before the horizon ends (the next is 2026-04-29).
    assert!(
        (rate[march - 1] - 0.05).abs() < 1e-12,
        "{}",
        rate[march - 1]
    );
    assert!((rate[march] - 0.055).abs() < 1e-12, "{}", rate[march]);
    assert!((rate.last().unwrap() - 0.055).abs() < 1e-12);
}

#[test]
fn the_curve_prices_a_known_chair_from_the_start_and_does_not_jump_on_the_date() {
    // The chair's 1% bias from step 23 (the session closing on its date) is
    // known from the start: a yield is the average
    // of the expected rate path dr = k (m(s) - r) ds with m = 3% until the date
    // and 2% after it. Integrated here by small Euler steps (error ~1e-9).
    let chair = "chair_date = 2026-02-06\ndovish_bias = 0.02\ncommittee_alignment = 0.5";
    let run = run(&scenario(&rates_scenario(0.03, chair, "", "")), 2, 33, 1, 2);
    let samples = &run.simulation.samples;
    let k = 0.5;
    let expected_average = |r0: f64, years_to_chair: f64, n: f64| {
        let steps = 200_000;
        let h = n / steps as f64;
        let (mut r, mut sum) = (r0, 0.0);
        for i in 0..steps {
            let s = (i as f64 + 0.5) * h;
            let target = if s < years_to_chair { 0.03 } else { 0.02 };
            let next = r + k * (target - r) * h;
            sum += 0.5 * (r + next) * h;
            r = next;
        }
        sum / n
    };
    let d = 23.0 / 252.0;
    for (asset, n, weight) in [(3, 2.0, 0.2), (4, 10.0, 1.0)] {
        let y = samples.level(0, 0, asset);
        let expected = expected_average(0.04, d, n) + 0.005 * weight;
        assert!((y - expected).abs() < 1e-7, "{n}y: {y} vs {expected}");
    }
    // Around the date the 10y moves by the day's drift alone (a few bp), not by
    // the 50 bp x (1 - loading) the bias would add in one step.
    let ten_year: Vec<f64> = (0..samples.points)
        .map(|t| samples.level(0, t, 4))
        .collect();
    let largest = ten_year
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f64::max);
    let rate = path_of(&run, FED_FUNDS);
    let largest_rate_effect = rate
        .windows(2)
        .map(|w| (w[1] - w[0]).abs() * (1.0 - (-5.0f64).exp()) / 5.0)
        .fold(0.0, f64::max);
    println!("largest one-day 10y move {largest:.6}, of which a meeting explains {largest_rate_effect:.6}");
    assert!(largest <= largest_rate_effect + 2e-4, "{largest}");
}
