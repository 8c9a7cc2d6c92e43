//! Strategies: portfolios whose rules move them between states on every path.
//!
//! Path-by-path checks hold to the f64 rounding of the per-path table; the
//! statistical ones pin the seed and state their tolerance in standard errors.

use std::path::Path;

use stormglass_core::engine::{self, BatchObserver, PathObserver};
use stormglass_core::model::{Lanes, Model};
use stormglass_core::portfolio::{self, BookFiles, PortfolioTracker};
use stormglass_core::scenario;

use crate::common;
use crate::portfolios::{assert_contains, message, run, world};

const DT: f64 = 1.0 / 252.0;

/// A book of the world's equity, put overlay and forward, trading at a cost
/// with a band, and a rule whose condition `when` decides everything else.
fn book_with_rule(when: &str, delay: u32) -> String {
    book(
        &format!("cost_bps = 10\nband = 0.02\ndelay_days = {delay}"),
        "spx = 0.2, short_usd = 0.5, puts = 0.6",
        when,
        "{ days_in_state = 10 }",
    )
}

/// The world's book `playbook` trading on `trading` (the body of its
/// `[trading]` table), moved to `defensive` (its `weights`) by the rule `act`
/// when `act_when` holds and back by `back` when `back_when` does.
fn book(trading: &str, weights: &str, act_when: &str, back_when: &str) -> String {
    format!(
        r#"
[[portfolio]]
name = "playbook"
base_currency = "USD"
rebalance = "monthly"
[portfolio.positions.spx]
asset = "spx"
weight = 0.6
[portfolio.positions.ndx]
asset = "ndx"
weight = 0.3
[portfolio.positions.short_usd]
forward = "EUR"
weight = 0.0
[portfolio.positions.puts]
option = "put"
underlying = "spx"
implied_vol = "vol"
moneyness = 0.95
weight = 0.2
[portfolio.trading]
{trading}
[portfolio.states.defensive]
weights = {{ {weights} }}
[[portfolio.rules]]
name = "act"
from = "book"
to = "defensive"
when = {act_when}
[[portfolio.rules]]
name = "back"
from = "defensive"
to = "book"
when = {back_when}
"#
    )
}

/// Asserts that every book column of `a` (its figures, positions' P&Ls,
/// turnover and costs; not a strategy's states and rules) equals `b`'s bit
/// for bit on every path; the number of columns compared.
fn assert_same_book(run: &stormglass_core::Run, a: &str, b: &str) -> usize {
    let mut compared = 0;
    for name in run.simulation.layout.names.iter() {
        let Some(metric) = name.strip_prefix(&format!("{a}.")) else {
            continue;
        };
        if metric == "transitions" || metric.starts_with("state.") || metric.starts_with("rule.") {
            continue;
        }
        let theirs = common::column(run, &format!("{b}.{metric}"));
        for (x, y) in common::column(run, name).iter().zip(&theirs) {
            assert_eq!(x.to_bits(), y.to_bits(), "{metric}: {x} against {y}");
        }
        compared += 1;
    }
    compared
}

#[test]
fn a_rule_that_never_fires_leaves_the_strategy_its_buy_and_hold_twin_bit_for_bit() {
    let s = world(252, &book_with_rule(r#"{ after = "end + 1Y" }"#, 1));
    let run = run(&s, 300);
    // The figures, five positions' P&Ls, turnover and costs.
    assert_eq!(
        assert_same_book(&run, "portfolio.playbook", "strategy.playbook"),
        5 + 5 + 2
    );
    // Neither is idle: the band and the monthly rolls of the puts trade, at a cost.
    let costs = common::column(&run, "strategy.playbook.costs");
    assert!(costs.iter().all(|c| *c > 0.0));
    let firings = common::column(&run, "strategy.playbook.rule.act.firings");
    assert!(firings.iter().all(|f| *f == 0.0));
    let summary = &run.summary.strategies[0];
    assert_eq!(summary.ahead.value, 0.0);
    assert_eq!(summary.states[0].time_share.mean, 1.0);
}

#[test]
fn going_to_cash_on_a_date_pays_its_cost_then_earns_the_short_rate_on_every_path() {
    let s = world(
        126,
        r#"
[[portfolio]]
name = "exit"
base_currency = "USD"
[portfolio.positions.spx]
asset = "spx"
weight = 1.0
[portfolio.trading]
cost_bps = 25
delay_days = 0
[portfolio.states.out]
to_cash = true
[[portfolio.rules]]
name = "sell"
to = "out"
when = { after = "start + 2M" }
"#,
    );
    let run = run(&s, 64);
    let date = s.dates[0]
        .checked_add_months(chrono::Months::new(2))
        .unwrap();
    let sold_at = s.dates.partition_point(|d| *d < date);
    assert!(sold_at > 20 && sold_at < 126);
    let model = Model::new(&s);
    let spx = s.asset_index("spx").unwrap();
    let pnl = common::column(&run, "strategy.exit.pnl");
    let twin = common::column(&run, "portfolio.exit.pnl");
    let first = common::column(&run, "strategy.exit.rule.sell.first_years");
    for (path, (&pnl, &twin)) in pnl.iter().zip(&twin).enumerate() {
        let mut level = (0.0, 0.0);
        engine::replay(&model, run.simulation.seed, path as u64, |t, lanes| {
            let x = model.assets[spx].level(lanes.asset(spx)[0]);
            if t == 0 {
                level.0 = x;
            }
            if t == sold_at {
                level.1 = x;
            }
        });
        // Sold at the close the date falls on, 25 bp of the value traded paid,
        // the rest in dollar cash at 4% for the steps that are left.
        let expected =
            level.1 / level.0 * (1.0 - 25e-4) * (1.0 + 0.04 * DT).powi((126 - sold_at) as i32)
                - 1.0;
        assert!(
            (pnl - expected).abs() < 1e-12,
            "path {path}: {pnl} against {expected}"
        );
        assert!((first[path] - sold_at as f64 * DT).abs() < 1e-12);
        if path == 0 {
            assert!((pnl - twin).abs() > 1e-4, "the rule changed nothing");
        }
    }
}

#[test]
fn the_paired_difference_from_buy_and_hold_carries_far_less_noise_than_two_runs() {
    let s = world(252, &book_with_rule("{ drawdown_of = { spx = 0.05 } }", 1));
    let run = run(&s, 4000);
    let summary = &run.summary.strategies[0];
    let mean = summary
        .versus_hold
        .iter()
        .find(|v| v.name == "strategy.playbook.return.mean")
        .unwrap();
    // A mean's paired standard error is the per-path differences' sd / sqrt(n).
    let own = common::column(&run, "strategy.playbook.pnl");
    let twin = common::column(&run, "portfolio.playbook.pnl");
    let excess: Vec<f64> = own.iter().zip(&twin).map(|(a, b)| a - b).collect();
    let (difference, se) = common::mean_and_se(&excess);
    assert!((mean.difference - difference).abs() < 1e-12);
    assert!((mean.se - se).abs() < 1e-9 * se.max(1e-12));
    // Two separate runs of 4,000 paths would measure it with an error
    // sqrt(se_a^2 + se_b^2); the pairs share their paths and cancel most of it.
    assert!(
        mean.se < mean.independent_se / 3.0,
        "paired {} against independent {}",
        mean.se,
        mean.independent_se
    );
    let (_, se_own) = common::mean_and_se(&own);
    let (_, se_twin) = common::mean_and_se(&twin);
    assert!((mean.independent_se - se_own.hypot(se_twin)).abs() < 1e-9);
    // The rule acts on most paths: a 5% fall of the S&P 500 within a year.
    let act = &summary.rules[0];
    assert!(act.fired.value > 0.5, "fired on {}", act.fired.value);
    // Time in the two states adds up to the horizon on every path.
    let book = common::column(&run, "strategy.playbook.state.book.time_share");
    let defensive = common::column(&run, "strategy.playbook.state.defensive.time_share");
    for (a, b) in book.iter().zip(&defensive) {
        assert!((a + b - 1.0).abs() < 1e-12);
    }
    // The share of paths in each state at each step counts every path once.
    for t in 0..252 {
        let total: f64 = summary.states.iter().map(|x| x.share_by_step[t]).sum();
        assert!((total - 1.0).abs() < 1e-12);
    }
    // The positions' P&Ls still add up to the book's, costs in the cash's.
    let mut sum = vec![0.0; own.len()];
    for position in ["spx", "ndx", "short_usd", "puts", "residual_cash"] {
        let column = common::column(&run, &format!("strategy.playbook.position.{position}.pnl"));
        for (s, v) in sum.iter_mut().zip(column) {
            *s += v;
        }
    }
    for (s, v) in sum.iter().zip(&own) {
        assert!((s - v).abs() < 1e-12, "{s} against {v}");
    }
}

#[test]
fn strategies_do_not_depend_on_the_thread_count() {
    let s = world(126, &book_with_rule("{ drawdown_of = { spx = 0.04 } }", 2));
    let options = |threads| engine::RunOptions {
        paths: 1200,
        seed: 7,
        threads,
        sample_paths: 0,
    };
    let book = portfolio::load(&s, &Model::new(&s), &BookFiles::default()).unwrap();
    let one =
        stormglass_core::run_with_portfolios(&s, &book, &options(1), &engine::Silent).unwrap();
    let two =
        stormglass_core::run_with_portfolios(&s, &book, &options(2), &engine::Silent).unwrap();
    assert_eq!(one.simulation.tallies, two.simulation.tallies);
    assert!(!one.simulation.tallies.is_empty());
    let bits = |r: &stormglass_core::Run| -> Vec<u64> {
        r.simulation.metrics.iter().map(|v| v.to_bits()).collect()
    };
    assert_eq!(bits(&one), bits(&two));
}

/// Path `path` of `model`'s run under `seed`, the lanes at every grid point.
fn states_of(model: &Model, seed: u64, path: u64) -> Vec<Lanes> {
    let mut states = Vec::new();
    engine::replay(model, seed, path, |_, lanes| states.push(lanes.clone()));
    states
}

/// The state counts a batch of one lane keeps when shown `states` in turn.
fn state_track(tracker: &PortfolioTracker<'_>, states: &[Lanes]) -> Vec<u64> {
    let mut batch = tracker.new_batch(1);
    batch.start(&states[0]);
    for (t, lanes) in states[1..].iter().enumerate() {
        batch.push(lanes, t);
    }
    let mut counts = vec![0; tracker.tallies()];
    batch.tally(&mut counts);
    counts
}

#[test]
fn a_rule_acting_at_a_close_sees_nothing_after_it() {
    // The default scenario (its signals, regimes and VIX) and a strategy that
    // flips often: on any signal, in the sell-off regime, or on a high VIX.
    let path = Path::new(*common::ROOT).join("scenarios/default.toml");
    let mut s = scenario::load(&path).unwrap();
    let text = r#"
name = "flighty"
base_currency = "USD"
[positions.spx]
asset = "spx"
weight = 1.0
[positions.puts]
option = "put"
underlying = "spx"
weight = 0.0
[trading]
delay_days = 1
[states.scared]
weights = { spx = 0.5, puts = 0.5 }
[states.out]
to_cash = true
[[rules]]
name = "signal"
from = "book"
to = "scared"
when = { signal = ["S1", "S2", "S3", "S4", "S5"] }
[[rules]]
name = "vix"
from = "book"
to = "out"
when = { above = { vix = 0.2 } }
[[rules]]
name = "calm"
to = "book"
when = { below = { vix = 0.19 }, quiet = ["S1", "S2", "S3", "S4", "S5"], quiet_days = 3 }
"#;
    let file = std::env::temp_dir().join(format!("flighty-{}.toml", std::process::id()));
    std::fs::write(&file, text).unwrap();
    s.portfolio_files.clear();
    let model = Model::new(&s);
    let book = portfolio::load(
        &s,
        &model,
        &BookFiles {
            portfolios: vec![file.clone()],
            ..BookFiles::default()
        },
    )
    .unwrap();
    std::fs::remove_file(&file).unwrap();
    let tracker = PortfolioTracker::new(&s, &model, &book.portfolios);
    let states = tracker.tallies() / model.steps;
    let a = states_of(&model, 5, 11);
    let b = states_of(&model, 5, 12);
    let whole = state_track(&tracker, &a);
    let mut diverged = 0;
    for t in [20, 60, 120, 200] {
        // Path 11 to close t, then path 12's states: every decision up to
        // close t is the same, so is every state held through close t + 2
        // (an order placed at t fills at t + 1 and is held from then on).
        let mut spliced = a[..=t].to_vec();
        spliced.extend_from_slice(&b[t + 1..]);
        let track = state_track(&tracker, &spliced);
        let through = (t + 2) * states;
        assert_eq!(whole[..through], track[..through], "splice at close {t}");
        if whole[through..] != track[through..] {
            diverged += 1;
        }
    }
    // The splices do change what comes after: the comparison is not of two idle books.
    assert!(diverged >= 2, "{diverged} splices changed the later states");
}

#[test]
fn bad_rules_name_the_file_line_and_key() {
    assert_contains(
        &message("rule_unknown_signal.toml"),
        &[":14: rules[0].when.signal[1]", "unknown signal `S7`"],
    );
    assert_contains(
        &message("rule_unknown_position.toml"),
        &[
            ":9: states.out.weights.spz",
            "unknown position `spz`",
            "did you mean `spx`?",
        ],
    );
    assert_contains(
        &message("rule_threshold.toml"),
        &[
            ":14: rules[0].when.drawdown_above",
            "1.5 is out of range; valid: (0, 1)",
        ],
    );
    assert_contains(
        &message("rule_contradiction.toml"),
        &[
            "rules[1]",
            "contradicts rule `exit`",
            "in state `book`",
            "`out` and `hedged`",
        ],
    );
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config {
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..proptest::test_runner::Config::with_cases(24)
    })]

    /// Any trading terms, state weights and thresholds inside their documented
    /// ranges run to finite figures on every path (a first firing is a time in
    /// the horizon, or NaN where the rule never fired).
    #[test]
    fn every_strategy_inside_the_ranges_runs_to_finite_figures(
        cost_bps in 0.0f64..=1000.0,
        band in 0.0f64..=1.0,
        cooldown in 0u32..=252,
        delay in 0u32..=21,
        weights in proptest::collection::vec(-100.0f64..=100.0, 4),
        fall in 0.001f64..0.999,
        days in 1u32..=2520,
    ) {
        let text = book(
            &format!(
                "cost_bps = {cost_bps:?}\nband = {band:?}\ncooldown_days = {cooldown}\ndelay_days = {delay}"
            ),
            &format!(
                "spx = {:?}, ndx = {:?}, short_usd = {:?}, puts = {:?}",
                weights[0], weights[1], weights[2], weights[3]
            ),
            &format!("{{ drawdown_of = {{ spx = {fall:?} }} }}"),
            &format!("{{ days_in_state = {days} }}"),
        );
        let s = world(63, &text);
        let run = run(&s, 64);
        let horizon = 63.0 * DT;
        for name in &run.simulation.layout.names {
            if !name.starts_with("strategy.playbook.") {
                continue;
            }
            for v in common::column(&run, name) {
                if name.ends_with(".first_years") {
                    proptest::prop_assert!(v.is_nan() || (0.0..=horizon + 1e-12).contains(&v), "{name}: {v}");
                } else {
                    proptest::prop_assert!(v.is_finite(), "{name}: {v}");
                }
            }
        }
        for figure in &run.summary.strategies[0].versus_hold {
            proptest::prop_assert!(figure.difference.is_finite(), "{}", figure.name);
        }
    }
}

/// A sweep of the playbook's wait before it goes back to its book: every
/// point on the same paths, the twin's figures identical at each, the
/// strategy's time on the defensive growing with the wait.
#[test]
fn a_sweep_varies_a_rules_threshold_in_its_portfolio_file() {
    use stormglass_core::sweep::{self, Axis, SweepOptions};
    let path = Path::new(*common::ROOT).join("scenarios/default.toml");
    let base = scenario::load(&path).unwrap();
    let key = "portfolio.thesis_playbook.rules.signals_clear.when.quiet_days";
    let axes = [Axis::parse(&format!("{key}=5,63")).unwrap()];
    let options = SweepOptions {
        paths: 2000,
        seed: 3,
        threads: 0,
    };
    let result = sweep::run(
        &base,
        &path,
        &[],
        &axes,
        options,
        &BookFiles::default(),
        &|_, _| {},
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let at = |point: usize, name: &str| {
        let f = result
            .figure_index(name)
            .unwrap_or_else(|| panic!("no {name}"));
        result.points[point].figures[f]
    };
    let twin = "portfolio.thesis_playbook.return.mean";
    assert_eq!(at(0, twin).value.to_bits(), at(1, twin).value.to_bits());
    let defensive = "strategy.thesis_playbook.state.defensive.time_share.mean";
    let (short, long) = (at(0, defensive), at(1, defensive));
    // Waiting 63 quiet days rather than 5 keeps the book defensive longer:
    // more than four standard errors of the difference (taken as independent,
    // which overstates it on common paths).
    assert!(
        long.value - short.value > 4.0 * long.se.hypot(short.se),
        "{short:?} against {long:?}"
    );

    let refused = |vary: &str| {
        let axes = [Axis::parse(vary).unwrap()];
        sweep::run(
            &base,
            &path,
            &[],
            &axes,
            options,
            &BookFiles::default(),
            &|_, _| {},
        )
        .err()
        .unwrap_or_else(|| panic!("{vary} ran"))
        .to_string()
    };
    assert_contains(
        &refused("portfolio.thesis_playbook.rules.signals_clar.when.quiet_days=5,10"),
        &["signals_clar", "did you mean `signals_clear`?"],
    );
    assert_contains(
        &refused(&format!("{key}=0,10")),
        &["thesis_playbook.toml", "quiet_days", "valid: 1 to 252"],
    );
    assert_contains(
        &refused("portfolio.thesis_playbok.trading.cost_bps=1,2"),
        &[
            "unknown portfolio `thesis_playbok`",
            "did you mean `thesis_playbook`?",
        ],
    );
}

#[test]
fn a_lane_valued_as_its_twin_until_it_leaves_the_book_matches_one_valued_on_its_own() {
    // `playbook` shares its twin's positions on a lane until a rule fires
    // there; `mirror` leaves the book at the first close for a state holding
    // the same weights, so every lane of it is valued on its own throughout.
    // Both then follow the same rules: every figure of their books agrees
    // bit for bit.
    let trading = "cost_bps = 10\nband = 0.02\ndelay_days = 1";
    let weights = "spx = 0.2, short_usd = 0.5, puts = 0.6";
    let act = "{ drawdown_of = { spx = 0.15 } }";
    let back = "{ days_in_state = 15 }";
    let playbook = book(trading, weights, act, back);
    let mirror = book(trading, weights, act, back)
        .replace("name = \"playbook\"", "name = \"mirror\"")
        .replace("from = \"book\"", "from = \"same\"")
        .replace("to = \"book\"", "to = \"same\"")
        .replace(
            "[[portfolio.rules]]\nname = \"act\"",
            "[portfolio.states.same]\nweights = { spx = 0.6, ndx = 0.3, short_usd = 0.0, puts = 0.2 }\n\
             [[portfolio.rules]]\nname = \"leave\"\nfrom = \"book\"\nto = \"same\"\nwhen = { after = \"start\" }\n\
             [[portfolio.rules]]\nname = \"act\"",
        );
    let s = world(252, &format!("{playbook}\n{mirror}"));
    let run = run(&s, 512);
    let fired = common::column(&run, "strategy.playbook.rule.act.first_years");
    let left = fired.iter().filter(|t| t.is_finite()).count();
    let times: Vec<f64> = fired.iter().copied().filter(|t| t.is_finite()).collect();
    let spread = times.iter().cloned().fold(f64::NAN, f64::max)
        - times.iter().cloned().fold(f64::NAN, f64::min);
    // Not vacuous: some lanes leave the book at various closes, some never do.
    assert!(left > 50 && left < 462, "{left} of 512 lanes left the book");
    assert!(spread > 0.25, "first firings spread over {spread} years");
    let mirror_left = common::column(&run, "strategy.mirror.rule.leave.firings");
    assert!(mirror_left.iter().all(|f| *f == 1.0));
    assert_eq!(
        assert_same_book(&run, "strategy.playbook", "strategy.mirror"),
        5 + 5 + 2
    );
    // The time in the book and in `same` add up to the playbook's time in its book.
    let book_share = common::column(&run, "strategy.playbook.state.book.time_share");
    let same_share = common::column(&run, "strategy.mirror.state.same.time_share");
    let mirror_book = common::column(&run, "strategy.mirror.state.book.time_share");
    for ((a, b), c) in book_share.iter().zip(&same_share).zip(&mirror_book) {
        assert!((a - (b + c)).abs() < 1e-12, "{a} against {b} + {c}");
    }
}

#[test]
fn variants_sharing_a_twin_are_summarised_as_each_would_be_alone() {
    // Two variants of one book, different rules: their buy-and-hold twins
    // are the same numbers, so the run summarises that book once and copies
    // it; each copy, and each variant's paired figures against it, must be
    // what a run holding that variant alone reports.
    let trading = "cost_bps = 10\nband = 0.02\ndelay_days = 1";
    let weights = "spx = 0.2, short_usd = 0.5, puts = 0.6";
    let back = "{ days_in_state = 15 }";
    let first = book(trading, weights, "{ drawdown_of = { spx = 0.15 } }", back);
    let second = book(trading, weights, "{ drawdown_of = { spx = 0.08 } }", back)
        .replace("name = \"playbook\"", "name = \"second\"");
    let both = run(&world(252, &format!("{first}\n{second}")), 512);
    let alone = run(&world(252, &second), 512);
    let renamed = |text: String| text.replace("\"second\"", "\"playbook\"");
    let twin_of = |r: &stormglass_core::Run, name: &str| {
        let summary = r.summary.portfolios.iter().find(|p| p.name == name);
        let summary = summary.expect("the twin's summary").clone();
        renamed(format!(
            "{:?}",
            (
                summary.name,
                &summary.pnl,
                &summary.risk,
                &summary.worst_paths
            )
        ))
    };
    assert_eq!(twin_of(&both, "second"), twin_of(&alone, "second"));
    assert_eq!(twin_of(&both, "second"), twin_of(&both, "playbook"));
    let versus_hold = |r: &stormglass_core::Run| {
        let strategy = r.summary.strategies.iter().find(|s| s.name == "second");
        format!("{:?}", strategy.expect("the variant's summary").versus_hold)
    };
    assert_eq!(versus_hold(&both), versus_hold(&alone));
    // Not vacuous: the two variants trade differently.
    let fired = |name: &str| common::column(&both, &format!("strategy.{name}.rule.act.firings"));
    assert_ne!(fired("playbook"), fired("second"));
}
