//! Portfolios with hand-checkable answers: cash, hedges, one-asset books,
//! options against Black-Scholes, VaR and ES of known samples, ES contributions,
//! stress vectors, worst-path replays, and bad portfolio files.
//!
//! Statistical checks pin the seed and state their tolerance as a multiple of
//! the standard error of the estimate; the rest hold path by path to the f64
//! precision of the per-path table.

use crate::common;
use common::{assert_within, header};

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use stormglass_core::engine::{RunOptions, Silent};
use stormglass_core::model::Model;
use stormglass_core::portfolio::pricing::{
    black_scholes, bond_price, normal_cdf, par_bond_duration, OptionKind,
};
use stormglass_core::portfolio::{self, risk, stress, BookFiles};
use stormglass_core::scenario::{self, Scenario};
use stormglass_core::Run;

const SEED: u64 = 20_251_128;
const DT: f64 = 1.0 / 252.0;

/// A one-factor world: a USD equity, EUR/USD, a deterministic USD asset, a
/// constant implied vol and a 10-year yield, with constant short rates (USD 4%,
/// EUR 2%).
pub(crate) fn world(steps: usize, portfolios: &str) -> Scenario {
    world_with_fx_vol(steps, 0.1, portfolios)
}

/// [`world`] with EUR/USD's volatility `eurusd_vol` (0: the rate holds at 1.25).
fn world_with_fx_vol(steps: usize, eurusd_vol: f64, portfolios: &str) -> Scenario {
    let text = format!(
        r#"{}
[assets.spx]
process = "gbm"
initial = 100.0
drift = 0.05
vol = 0.2

[assets.eurusd]
process = "gbm"
initial = 1.25
vol = {eurusd_vol:?}

[assets.flat]
process = "gbm"
initial = 50.0
drift = 0.05
vol = 0.0

[assets.vol]
process = "ou"
initial = 0.2
mean = 0.2
mean_reversion = 1.0
vol = 0.0

[assets.y10]
process = "ou"
initial = 0.04
mean = 0.04
mean_reversion = 0.5
vol = 0.01

[assets.ndx]
process = "beta"
initial = 1000.0
betas = {{ spx = 1.25 }}
vol = 0.05

[currencies.USD]
short_rate = 0.04

[currencies.EUR]
fx = "eurusd"
quote = "usd_per_unit"
short_rate = 0.02

{portfolios}
"#,
        header("portfolios", steps)
    );
    common::scenario(&text)
}

fn book(scenario: &Scenario) -> portfolio::Book {
    portfolio::load(scenario, &Model::new(scenario), &BookFiles::default())
        .unwrap_or_else(|e| panic!("{e}"))
}

pub(crate) fn run(scenario: &Scenario, paths: u64) -> Run {
    let options = RunOptions {
        paths,
        seed: SEED,
        threads: 0,
        sample_paths: 0,
    };
    stormglass_core::run_with_portfolios(scenario, &book(scenario), &options, &Silent).expect("run")
}

#[test]
fn cash_has_no_variance_in_its_own_currency() {
    let s = world(
        63,
        r#"
[[portfolio]]
name = "euro_cash"
base_currency = "EUR"
[portfolio.positions.deposit]
cash = "EUR"
weight = 1.0
"#,
    );
    let run = run(&s, 500);
    let pnl = common::column(&run, "portfolio.euro_cash.pnl");
    // A deposit at 2% accrues (1 + 0.02 dt) a step, whatever the FX and equity do.
    let expected = (1.0 + 0.02 * DT).powi(63) - 1.0;
    for v in &pnl {
        assert!((v - expected).abs() < 1e-7, "{v} against {expected}");
    }
    let summary = &run.summary.portfolios[0];
    assert!(summary.pnl.sd < 1e-7);
    assert!(summary.max_drawdown.percentile("p99") == 0.0);
}

#[test]
fn a_fully_hedged_foreign_position_earns_the_usd_return_plus_the_rate_differential() {
    let s = world(
        252,
        r#"
[[portfolio]]
name = "hedged"
base_currency = "EUR"
[portfolio.positions.flat]
asset = "flat"
weight = 1.0
hedge_ratio = 1.0

[[portfolio]]
name = "unhedged"
base_currency = "EUR"
[portfolio.positions.flat]
asset = "flat"
weight = 1.0
"#,
    );
    let run = run(&s, 400);
    let hedged = common::column(&run, "portfolio.hedged.pnl");
    let unhedged = common::column(&run, "portfolio.unhedged.pnl");
    // The dollar asset grows as e^(0.05 t); the hedge pays the EUR rate and costs
    // the USD rate: (1 + (0.02 - 0.04) dt) a step. What is left is the product of
    // the asset's daily return (2e-4) and the FX move (0.63% sd): about 2e-5 over
    // a year, far inside 2e-4.
    let expected = (0.05f64).exp() * (1.0 - 0.02 * DT).powi(252) - 1.0;
    for v in &hedged {
        assert!((v - expected).abs() < 2e-4, "{v} against {expected}");
    }
    // Unhedged, the euro investor carries EUR/USD's 10% vol.
    let sd = common::variance(&unhedged).sqrt();
    assert!(sd > 0.08, "unhedged sd {sd}");
}

#[test]
fn a_portfolio_holding_one_asset_reproduces_its_distribution() {
    let s = world(
        126,
        r#"
[[portfolio]]
name = "only_spx"
base_currency = "USD"
[portfolio.positions.spx]
asset = "spx"
weight = 1.0
"#,
    );
    let run = run(&s, 1000);
    let pnl = common::column(&run, "portfolio.only_spx.pnl");
    let ret = common::column(&run, "spx.terminal_return");
    let dd = common::column(&run, "portfolio.only_spx.max_drawdown");
    let asset_dd = common::column(&run, "spx.max_drawdown");
    for p in 0..pnl.len() {
        assert!((pnl[p] - ret[p]).abs() < 1e-5, "path {p}");
        assert!((dd[p] - asset_dd[p]).abs() < 1e-5, "path {p}");
    }
    let position = common::column(&run, "portfolio.only_spx.position.spx.pnl");
    assert_eq!(pnl, position);
}

#[test]
fn black_scholes_matches_the_closed_form() {
    // S = K = 100, r = 5%, sigma = 20%, T = 1 (Hull's textbook case):
    // call 10.450583572185565, put 5.573526022256971.
    let call = black_scholes(OptionKind::Call, 100.0, 100.0, 1.0, 0.2, 0.05);
    let put = black_scholes(OptionKind::Put, 100.0, 100.0, 1.0, 0.2, 0.05);
    assert!((call - 10.450_583_572_185_565).abs() < 1e-9, "{call}");
    assert!((put - 5.573_526_022_256_971).abs() < 1e-9, "{put}");
    // Hull (Options, Futures and Other Derivatives), example 15.6: S = 42,
    // K = 40, r = 10%, sigma = 20%, T = 0.5: c = 4.76, p = 0.81.
    let c = black_scholes(OptionKind::Call, 42.0, 40.0, 0.5, 0.2, 0.1);
    let p = black_scholes(OptionKind::Put, 42.0, 40.0, 0.5, 0.2, 0.1);
    assert!(
        (c - 4.76).abs() < 0.005 && (p - 0.81).abs() < 0.005,
        "{c} {p}"
    );
    // Put-call parity and the straddle.
    let parity = c - p - (42.0 - 40.0 * (-0.1f64 * 0.5).exp());
    assert!(parity.abs() < 1e-12);
    let straddle = black_scholes(OptionKind::Straddle, 42.0, 40.0, 0.5, 0.2, 0.1);
    assert!((straddle - c - p).abs() < 1e-12);
    assert!((normal_cdf(-1.0) - 0.158_655_253_931_457_05).abs() < 1e-15);
}

#[test]
fn the_engine_pays_the_black_scholes_premium_for_its_puts() {
    // One month of an at-the-money put on an asset that grows deterministically
    // at 5% a year: the put expires worthless, so the overlay loses the
    // Black-Scholes premium it paid, financed at the 4% dollar rate.
    let s = world(
        21,
        r#"
[[portfolio]]
name = "puts"
base_currency = "USD"
[portfolio.positions.cash]
cash = "USD"
weight = 1.0
[portfolio.positions.put]
option = "put"
underlying = "flat"
implied_vol = "vol"
moneyness = 1.0
tenor_days = 21
weight = 0.5
"#,
    );
    let run = run(&s, 130);
    let put = common::column(&run, "portfolio.puts.position.put.pnl");
    let premium = black_scholes(OptionKind::Put, 1.0, 1.0, 21.0 * DT, 0.2, 0.04);
    let expected = -0.5 * premium * (1.0 + 0.04 * DT).powi(21);
    for v in &put {
        assert!((v - expected).abs() < 1e-7, "{v} against {expected}");
    }
}

#[test]
fn a_constant_yield_treasury_earns_its_carry_and_duration_matches() {
    // The par bond: D = (1 - 1.02^-20) / 0.04 = 8.1757 for 10 years at 4%.
    let d = par_bond_duration(0.04, 10.0);
    assert!((d - 8.175_7).abs() < 1e-4, "{d}");
    // Price change of a 1 bp move: -D dy + C dy^2/2 to first order.
    let dp = bond_price(0.04, 10.0, 0.0401) - 1.0;
    assert!((dp + d * 0.0001).abs() < 1e-6, "{dp}");
    let s = world(
        63,
        r#"
[[portfolio]]
name = "bonds"
base_currency = "USD"
[portfolio.positions.note]
treasury = "y10"
maturity_years = 10
weight = 1.0
"#,
    );
    let run = run(&s, 2000);
    let pnl = common::column(&run, "portfolio.bonds.pnl");
    // Starting at its 4% mean, the yield carries 4% a year; its moves average
    // out to first order, and convexity adds C sigma^2 t / 2 (about 0.1% here).
    let h = 1e-4;
    let convexity =
        (bond_price(0.04, 10.0, 0.04 + h) + bond_price(0.04, 10.0, 0.04 - h) - 2.0) / (h * h);
    let t = 63.0 * DT;
    let expected = 0.04 * t + 0.5 * convexity * 0.01 * 0.01 * t;
    let (mean, se) = common::mean_and_se(&pnl);
    assert_within("treasury mean P&L", mean, expected, se, 4.0);
    // Its sd is about the duration times the yield's sd over the quarter.
    let sd = common::variance(&pnl).sqrt();
    assert!((sd / (d * 0.01 * t.sqrt()) - 1.0).abs() < 0.1, "sd {sd}");
}

#[test]
fn var_and_es_of_a_known_sample() {
    // Losses 1%, 2%, ..., 100%: the worst 5 of 100 are 96..100%.
    let pnl: Vec<f64> = (1..=100).map(|i| -(i as f64) / 100.0).collect();
    let order = risk::worst_first(&pnl);
    let t95 = risk::tail(&pnl, &order, 0.95);
    assert_eq!(t95.paths.len(), 5);
    assert!((t95.var - 0.96).abs() < 1e-12);
    assert!((t95.es - 0.98).abs() < 1e-12);
    let t99 = risk::tail(&pnl, &order, 0.99);
    assert!((t99.var - 1.0).abs() < 1e-12 && (t99.es - 1.0).abs() < 1e-12);
}

#[test]
fn var_and_es_of_a_lognormal_book() {
    // A one-asset book of a GBM: ln(1 + R) ~ N(m, s^2), m = (mu - sigma^2/2) T,
    // s = sigma sqrt(T). VaR95 = 1 - e^(m - 1.6449 s);
    // ES95 = 1 - e^(m + s^2/2) Phi(-1.6449 - s) / 0.05.
    let s = world(
        63,
        r#"
[[portfolio]]
name = "only_spx"
base_currency = "USD"
[portfolio.positions.spx]
asset = "spx"
weight = 1.0
"#,
    );
    let n = 20_000;
    let run = run(&s, n);
    let t = 63.0 * DT;
    let (m, sd) = ((0.05 - 0.02) * t, 0.2 * t.sqrt());
    let z = 1.644_853_626_951_472_2;
    let var = 1.0 - (m - z * sd).exp();
    let es = 1.0 - (m + sd * sd / 2.0).exp() * normal_cdf(-z - sd) / 0.05;
    let risk95 = &run.summary.portfolios[0].risk[0];
    // The standard error of a sample quantile: sqrt(p (1 - p) / n) / density,
    // the density of 1 + R at the quantile being phi(z) / (s e^q).
    let density =
        (-z * z / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt() / (sd * (m - z * sd).exp());
    let se_var = (0.05 * 0.95 / n as f64).sqrt() / density;
    assert_within("VaR95", risk95.var, var, se_var, 4.0);
    // ES averages the tail: its error is about the tail's sd over sqrt(k), plus the
    // VaR's (Acerbi & Tasche): twice the quantile's is generous.
    assert_within("ES95", risk95.es, es, 2.0 * se_var, 4.0);
}

#[test]
fn es_contributions_add_up_to_the_total() {
    let s = world(
        126,
        r#"
[[portfolio]]
name = "mixed"
base_currency = "EUR"
rebalance = "monthly"
weights_sum = 0.9
[portfolio.positions.spx]
asset = "spx"
weight = 0.5
hedge_ratio = 0.5
[portfolio.positions.ndx]
asset = "ndx"
weight = -0.2
[portfolio.positions.note]
treasury = "y10"
maturity_years = 10
weight = 0.6
[portfolio.positions.put]
option = "straddle"
underlying = "spx"
implied_vol = "vol"
weight = 0.3
"#,
    );
    let run = run(&s, 2000);
    let summary = &run.summary.portfolios[0];
    // The 10% the weights leave is cash in the base currency.
    assert_eq!(summary.positions.last().unwrap().name, "residual_cash");
    let pnl = common::column(&run, "portfolio.mixed.pnl");
    let mut sum_of_positions = vec![0.0; pnl.len()];
    for q in &summary.positions {
        let values = common::column(&run, &format!("portfolio.mixed.position.{}.pnl", q.name));
        for (total, v) in sum_of_positions.iter_mut().zip(values) {
            *total += v;
        }
    }
    for (p, (a, b)) in pnl.iter().zip(&sum_of_positions).enumerate() {
        assert!((a - b).abs() < 1e-5, "path {p}: {a} against {b}");
    }
    for row in &summary.risk {
        let total: f64 = row.es_contributions.values().sum();
        assert!((total - row.es).abs() < 1e-5, "{total} against {}", row.es);
        assert!(row.es >= row.var);
    }
    // The replayed worst path is the path of the table, to the bit.
    let worst = &summary.worst_paths[0];
    assert_eq!(worst.pnl.to_bits(), pnl[worst.path as usize].to_bits());
    assert!((worst.pnl - summary.pnl_quantiles[0]).abs() < 1e-6);
    assert_eq!(summary.pnl_quantiles.len(), 101);
    assert_eq!(summary.max_drawdown_quantiles.len(), 101);
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let s = world(
        42,
        r#"
[[portfolio]]
name = "mixed"
base_currency = "EUR"
rebalance = "weekly"
[portfolio.positions.spx]
asset = "spx"
weight = 1.0
hedge_ratio = 0.7
[portfolio.positions.put]
option = "put"
underlying = "spx"
implied_vol = "vol"
moneyness = 0.9
tenor_days = 10
weight = 1.0
"#,
    );
    let b = book(&s);
    let go = |threads| {
        let options = RunOptions {
            paths: 300,
            seed: SEED,
            threads,
            sample_paths: 0,
        };
        stormglass_core::run_with_portfolios(&s, &b, &options, &Silent).expect("run")
    };
    assert_eq!(go(1).simulation.metrics, go(2).simulation.metrics);
}

#[test]
fn stress_vectors_reprice_by_hand() {
    let s = world(
        10,
        r#"
[[portfolio]]
name = "eur_unhedged"
base_currency = "EUR"
[portfolio.positions.spx]
asset = "spx"
weight = 1.0

[[portfolio]]
name = "eur_hedged"
base_currency = "EUR"
[portfolio.positions.spx]
asset = "spx"
weight = 1.0
hedge_ratio = 1.0

[[portfolio]]
name = "nasdaq"
base_currency = "USD"
[portfolio.positions.ndx]
asset = "ndx"
weight = 1.0
"#,
    );
    let model = Model::new(&s);
    let b = book(&s);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.toml");
    std::fs::write(
        &file,
        "[[stress]]\nname = \"crash\"\nshocks = { spx = -0.5, eurusd = 0.25 }\n",
    )
    .unwrap();
    let start = portfolio::start_levels(&model);
    let vectors = stress::load_file(&file, &s, &start).unwrap();
    let applied: Vec<_> = b
        .portfolios
        .iter()
        .map(|p| stress::apply(&s, &start, p, &vectors[0]))
        .collect();
    let results: Vec<f64> = applied.iter().map(|r| r.pnl).collect();
    // Half the dollars, each worth 1/1.25 of the euros: 0.5 / 1.25 - 1 = -0.6.
    assert!((results[0] + 0.6).abs() < 1e-12, "{}", results[0]);
    // The hedge sold the dollars at the old rate: +(1 - 1/1.25) = +0.2.
    assert!((results[1] + 0.4).abs() < 1e-12, "{}", results[1]);
    // Resized to the shocked position (half the dollars), the hedge earns half as
    // much: -0.6 + 0.5 x 0.2 = -0.5; without a hedge nothing changes.
    assert!(
        (applied[1].pnl_rehedged + 0.5).abs() < 1e-12,
        "{}",
        applied[1].pnl_rehedged
    );
    assert_eq!(applied[0].pnl_rehedged, applied[0].pnl);
    // The Nasdaq moves by its beta of 1.25: 0.5^1.25 - 1.
    assert!((results[2] - (0.5f64.powf(1.25) - 1.0)).abs() < 1e-12);
}

#[test]
fn the_default_scenario_bundles_six_portfolios_and_four_episodes() {
    let path = Path::new(*crate::common::ROOT).join("scenarios/default.toml");
    let s = scenario::load(&path).unwrap();
    let b = book(&s);
    let names: Vec<&str> = b.portfolios.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "us_60_40",
            "eur_spx_unhedged",
            "eur_spx_hedged",
            "gold_silver",
            "short_usd_long_vol",
            "thesis_playbook"
        ]
    );
    // The playbook is the one strategy: two states, its two rules on S3 and S5.
    let playbook = b.portfolios[5].strategy.as_ref().expect("rules");
    assert_eq!(playbook.states.len(), 2);
    assert_eq!(playbook.rules.len(), 2);
    let episodes: Vec<&str> = b.stresses.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(episodes, ["gfc", "covid", "2022", "april_2025"]);
    // A US 60/40 in the GFC: the S&P 500's -57% on 60%, plus the bond rally on 40%.
    let model = Model::new(&s);
    let start = portfolio::start_levels(&model);
    let gfc = stress::apply(&s, &start, &b.portfolios[0], &b.stresses[0]);
    assert!((gfc.positions["equities"] + 0.6 * 0.57).abs() < 1e-12);
    assert!(gfc.positions["treasuries"] > 0.05);
}

fn bad(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/portfolios/bad")
        .join(name)
}

/// The error for a bad portfolio file loaded against the default scenario.
pub(crate) fn message(name: &str) -> String {
    let path = Path::new(*crate::common::ROOT).join("scenarios/default.toml");
    let s = scenario::load(&path).unwrap();
    let files = if name.starts_with("stress") {
        BookFiles {
            stresses: vec![bad(name)],
            skip_scenario: true,
            ..BookFiles::default()
        }
    } else {
        BookFiles {
            portfolios: vec![bad(name)],
            skip_scenario: true,
            ..BookFiles::default()
        }
    };
    let text = portfolio::load(&s, &Model::new(&s), &files)
        .expect_err(name)
        .to_string();
    println!("{name}: {text}");
    assert!(text.contains(name), "{text} does not name the file");
    text
}

pub(crate) fn assert_contains(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "expected `{part}` in: {text}");
    }
}

#[test]
fn bad_portfolio_files_name_the_key() {
    assert_contains(
        &message("unknown_asset.toml"),
        &[
            ":5: positions.equities.asset",
            "unknown asset `spz`",
            "did you mean `spx`?",
        ],
    );
    assert_contains(
        &message("unknown_currency.toml"),
        &[
            ":2: base_currency",
            "unknown currency `CHF`",
            "valid: USD, EUR, JPY",
        ],
    );
    assert_contains(
        &message("weights_sum.toml"),
        &[":3: weights_sum", "declares 1 but", "add up to 0.9"],
    );
    assert_contains(
        &message("hedge_ratio.toml"),
        &[
            ":7: positions.spx.hedge_ratio",
            "1.5 is out of range; valid: [0, 1]",
        ],
    );
    assert_contains(
        &message("unknown_key.toml"),
        &["positions.equities.wieght", "did you mean `weight`?"],
    );
    assert_contains(
        &message("notional_total.toml"),
        &[":3: notional_total", "add up to 900000"],
    );
    assert_contains(
        &message("forward_unknown_currency.toml"),
        &[
            ":5: positions.short_usd.forward",
            "unknown currency `USX`",
            "did you mean `USD`?",
        ],
    );
    assert_contains(
        &message("forward_base_currency.toml"),
        &[
            ":5: positions.short_eur.forward",
            "`EUR` is the portfolio's base currency",
            "valid: USD, JPY",
            ":7: positions.short_eur.hedge_ratio",
            "scale its `weight` instead",
        ],
    );
    assert_contains(
        &message("stress_unknown_asset.toml"),
        &["stress[0].shocks.glod", "did you mean `gold`?"],
    );
}

#[test]
fn bad_currency_tables_name_the_key() {
    let text = format!(
        "{}[assets.spx]\nprocess = \"gbm\"\ninitial = 1.0\n[currencies.EUR]\nfx = \"eurusd\"\nquote = \"usd_per_unit\"\nshort_rate = 0.02\n[currencies.JPY]\nfx = \"spx\"\nshort_rate = 0.0\n",
        header("bad_currency", 5)
    );
    let error = scenario::load_str(&text, Path::new("bad_currency.toml"))
        .expect_err("invalid")
        .to_string();
    println!("{error}");
    assert_contains(
        &error,
        &[
            "currencies.EUR.fx: unknown asset `eurusd`",
            "currencies.JPY.quote: missing",
        ],
    );
}

proptest! {
    // A failure's seed is saved beside this file, as properties.rs does.
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::with_cases(64)
    })]

    /// ES is at least VaR, and the positions' contributions add up to ES.
    #[test]
    fn es_bounds_var_and_contributions_add_up(
        positions in prop::collection::vec(prop::collection::vec(-1.0f64..1.0, 50), 1..5),
        level in 0.5f64..0.999,
    ) {
        let n = positions[0].len();
        let total: Vec<f64> = (0..n).map(|p| positions.iter().map(|q| q[p]).sum()).collect();
        let order = risk::worst_first(&total);
        let tail = risk::tail(&total, &order, level);
        prop_assert!(tail.es >= tail.var - 1e-12);
        let sum: f64 = positions.iter().map(|q| risk::contribution(q, &tail)).sum();
        prop_assert!((sum - tail.es).abs() < 1e-9);
    }
}

#[test]
fn portfolio_values_and_stress_shocks_are_bounded_so_that_no_pnl_overflows() {
    assert_contains(
        &message("value_too_large.toml"),
        &[":3: value", "1e307 is out of range; valid: (0, 1e15]"],
    );
    assert_contains(
        &message("stress_out_of_range.toml"),
        &[
            "stress[0].shocks.spx",
            "valid: (-1, 1000]",
            "stress[0].shocks.us10y",
            "valid: [-100, 100] (a change in the asset's units)",
            "stress[0].shocks.gold",
            "valid: [1e-6, 1000000000] (a price level)",
            "stress[0].shocks.vix",
            "valid: [-100, 100] (a level in the asset's units)",
        ],
    );
}

#[test]
fn a_path_whose_yield_leaves_the_priceable_range_stops_being_valued_and_is_counted() {
    // The yield runs from 4% toward -500% (kappa 20: below -100% within weeks);
    // a par bond has no price there, so each path is valued up to the step
    // before and said to have left the range, with every figure finite.
    let text = r#"
[assets.crash]
process = "ou"
initial = 0.04
mean = -5.0
mean_reversion = 20.0
vol = 0.01

[[portfolio]]
name = "bonds"
base_currency = "USD"
value = 1000.0
[portfolio.positions.bond]
treasury = "crash"
maturity_years = 10.0
weight = 0.5
[portfolio.positions.equity]
asset = "spx"
weight = 0.5
"#;
    let scenario = world(252, text);
    let run = run(&scenario, 64);
    let bonds = &run.summary.portfolios[0];
    assert_eq!(bonds.paths_left_range, 64);
    let figures = serde_json::to_string(bonds).unwrap();
    assert!(!figures.contains("null"), "{figures}");
    // Stopped when the yield passed -100%: by then the bond had gained from
    // the falling yield, so the P&L is a large finite gain on every path.
    assert!(bonds.pnl.percentile("p01") > 0.0, "{figures}");
    assert!(bonds.pnl.mean.is_finite());
}

/// A book short the dollar against the euro two ways: a forward, and its two
/// legs written as deposits (a dollar loan and a euro deposit of the same value).
const SHORT_USD_TWO_WAYS: &str = r#"
[[portfolio]]
name = "forward"
base_currency = "EUR"
rebalance = "monthly"
[portfolio.positions.spx]
asset = "spx"
weight = 0.6
[portfolio.positions.short_usd]
forward = "USD"
weight = -0.8

[[portfolio]]
name = "legs"
base_currency = "EUR"
rebalance = "monthly"
[portfolio.positions.spx]
asset = "spx"
weight = 0.6
[portfolio.positions.usd_loan]
cash = "USD"
weight = -0.8
[portfolio.positions.eur_deposit]
cash = "EUR"
weight = 0.8
"#;

#[test]
fn a_forward_is_a_foreign_deposit_funded_by_a_base_currency_loan_on_every_path() {
    let s = world(252, SHORT_USD_TWO_WAYS);
    let run = run(&s, 300);
    let forward = common::column(&run, "portfolio.forward.position.short_usd.pnl");
    let loan = common::column(&run, "portfolio.legs.position.usd_loan.pnl");
    let deposit = common::column(&run, "portfolio.legs.position.eur_deposit.pnl");
    let totals = (
        common::column(&run, "portfolio.forward.pnl"),
        common::column(&run, "portfolio.legs.pnl"),
    );
    let mut moved = 0.0f64;
    for path in 0..forward.len() {
        // Two computations of the same sums in another order: equal to the
        // rounding of a year of daily multiply-adds on values of order 1.
        let legs = loan[path] + deposit[path];
        assert!(
            (forward[path] - legs).abs() < 1e-12,
            "path {path}: forward {} against legs {legs}",
            forward[path]
        );
        assert!((totals.0[path] - totals.1[path]).abs() < 1e-12);
        moved = moved.max(forward[path].abs());
    }
    // EUR/USD's 10% vol moves an 80% position by several percent: the equality
    // above is not one of zeros.
    assert!(moved > 0.05, "largest forward P&L {moved}");
    let summary = &run.summary.portfolios[0];
    let short = &summary.positions[1];
    assert_eq!((short.kind, short.currency.as_str()), ("forward", "USD"));
    assert_eq!(short.weight, -0.8);
    // The forward is unfunded: the euro cash holds what the equities leave.
    let residual = &summary.positions[2];
    assert_eq!(residual.name, portfolio::spec::RESIDUAL_CASH);
    assert!((residual.weight - 0.4).abs() < 1e-15);
}

#[test]
fn a_forward_with_the_rate_held_earns_the_carry_of_the_two_short_rates() {
    let s = world_with_fx_vol(
        252,
        0.0,
        r#"
[[portfolio]]
name = "short_usd"
base_currency = "EUR"
[portfolio.positions.short_usd]
forward = "USD"
weight = -1.0
"#,
    );
    let run = run(&s, 50);
    // Covered interest parity with EUR/USD held at 1.25: the dollar loan grows at
    // 4%, the euro deposit it funds at 2%, compounded daily (docs/MODEL.md,
    // "Forwards").
    let (r_usd, r_eur) = (0.04, 0.02);
    let carry = (1.0 + r_eur * DT).powi(252) - (1.0 + r_usd * DT).powi(252);
    let deposit = (1.0 + r_eur * DT).powi(252) - 1.0;
    let forward = common::column(&run, "portfolio.short_usd.position.short_usd.pnl");
    let total = common::column(&run, "portfolio.short_usd.pnl");
    for (f, t) in forward.iter().zip(&total) {
        assert!((f - carry).abs() < 1e-12, "{f} against {carry}");
        assert!((t - (deposit + carry)).abs() < 1e-12, "{t}");
    }
    // Short the higher-yielding dollar: about the 2-point gap, paid.
    assert!((carry + 0.0202).abs() < 5e-4, "{carry}");
}

#[test]
fn a_position_whose_value_in_the_base_currency_cannot_move_is_warned_about() {
    let s = world(
        21,
        r#"
[[portfolio]]
name = "euro_in_euros"
base_currency = "EUR"
[portfolio.positions.fx]
asset = "eurusd"
weight = 0.5
[portfolio.positions.hedged_cash]
cash = "USD"
weight = 0.3
hedge_ratio = 1.0
[portfolio.positions.local]
cash = "EUR"
weight = 0.2
hedge_ratio = 0.5

[[portfolio]]
name = "euro_in_dollars"
base_currency = "USD"
[portfolio.positions.fx]
asset = "eurusd"
weight = 1.0
"#,
    );
    let b = book(&s);
    let warnings = &b.portfolios[0].warnings;
    let texts: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 3, "{texts:#?}");
    assert_contains(
        &texts[0],
        &[
            "test.toml:",
            "portfolio[0].positions.fx.asset: `eurusd` is the price of one EUR in USD",
            "worth one EUR in EUR on every path",
            "cannot move",
            r#"[positions.fx] forward = "USD", weight = -0.5"#,
        ],
    );
    assert_contains(
        &texts[1],
        &[
            "portfolio[0].positions.hedged_cash.hedge_ratio",
            "a USD deposit fully hedged into EUR is a EUR deposit",
        ],
    );
    assert_contains(
        &texts[2],
        &["portfolio[0].positions.local.hedge_ratio", "has no effect"],
    );
    assert!(warnings.iter().all(|w| w.line.is_some()), "{texts:#?}");
    // The dollar investor's EUR/USD moves: no warning.
    assert!(b.portfolios[1].warnings.is_empty());
    // The warned position's value is indeed flat: a unit is one euro.
    let run = run(&s, 50);
    for v in common::column(&run, "portfolio.euro_in_euros.position.fx.pnl") {
        assert!(v.abs() < 1e-12, "{v}");
    }
    // And the run records the warnings with the scenario's.
    let recorded: Vec<String> = run.summary.warnings.iter().map(|w| w.key.clone()).collect();
    for w in warnings {
        assert!(recorded.contains(&w.key), "{recorded:?}");
    }
}
