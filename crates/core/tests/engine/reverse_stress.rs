//! Reverse stress tests against closed forms: on lognormal markets the
//! probability of a breach and the conditional mean of a correlated market
//! given it are known exactly. Each statistical check pins the seed and allows
//! four of the estimate's own standard errors (the ones the reverse stress
//! test reports), so a wrong error would fail as surely as a wrong estimate.

use crate::common::{self, assert_within, header};

use stormglass_core::portfolio::pricing::normal_cdf;
use stormglass_core::views::reverse::{self, Breach, Options, Side};
use stormglass_core::views::PathTable;

const K: f64 = 4.0;
const PATHS: u64 = 20_000;

/// Two correlated lognormal markets over a year: `a` (20% vol) and `b` (30%).
fn pair(drift_a: f64, rho: f64) -> String {
    format!(
        "{}[correlation]\ndrivers = [\"a\", \"b\"]\nmatrix = [[1.0, {rho:?}], [{rho:?}, 1.0]]\n[assets.a]\nprocess = \"gbm\"\ninitial = 100.0\ndrift = {drift_a:?}\nvol = 0.2\n[assets.b]\nprocess = \"gbm\"\ninitial = 50.0\ndrift = 0.03\nvol = 0.3\n",
        header("pair", 252)
    )
}

fn table(run: &stormglass_core::Run) -> PathTable {
    PathTable::from_simulation(&run.simulation, None).expect("table")
}

#[test]
fn the_breach_probability_is_the_lognormal_tail() {
    let run = common::run(&common::scenario(&pair(0.05, 0.6)), PATHS, 31, 0, 0);
    let breach = Breach::figure("a.terminal_return", Side::AtMost, -0.2);
    let r = reverse::reverse_stress(&table(&run), &breach, Options::default()).unwrap();
    // ln(S_T/S_0) ~ N(mu - sigma^2/2, sigma^2) over one year.
    let expected = normal_cdf(((0.8f64).ln() - (0.05 - 0.02)) / 0.2);
    assert_within(
        "P(a falls 20%)",
        r.probability,
        expected,
        r.standard_error,
        K,
    );
    assert!(r.enough_paths, "{} breaching paths", r.breaching);
}

#[test]
fn the_conditional_mean_of_a_correlated_market_is_the_truncated_lognormal_one() {
    let rho = 0.6;
    let run = common::run(&common::scenario(&pair(0.05, rho)), PATHS, 32, 0, 0);
    let threshold: f64 = -0.15;
    let breach = Breach::figure("a.terminal_return", Side::AtMost, threshold);
    let r = reverse::reverse_stress(&table(&run), &breach, Options::default()).unwrap();
    // X = ln(a_T/a_0) ~ N(mx, 0.2^2), Y = ln(b_T/b_0) ~ N(my, 0.3^2), corr rho:
    // E[e^Y | X <= c] = e^(my + sy^2/2) Phi((c - mx - rho sx sy) / sx) / Phi((c - mx) / sx).
    let (mx, sx) = (0.05 - 0.02, 0.2);
    let (my, sy) = (0.03 - 0.045, 0.3);
    let c = (1.0 + threshold).ln();
    let conditional = (my + sy * sy / 2.0f64).exp() * normal_cdf((c - mx - rho * sx * sy) / sx)
        / normal_cdf((c - mx) / sx)
        - 1.0;
    let b = r
        .common
        .iter()
        .find(|d| d.column == "b.terminal_return")
        .expect("b in the table");
    assert_within(
        "E[b | a breaches]",
        b.breach_mean,
        conditional,
        b.breach_se,
        K,
    );
    let unconditional = (0.03f64).exp() - 1.0;
    assert_within(
        "E[b | breach] - E[b]",
        b.difference,
        conditional - unconditional,
        b.difference_se,
        K,
    );
    // The breach column is the definition, not a finding.
    assert!(r.common.iter().all(|d| d.column != "a.terminal_return"));
    // a's own figures (its level, its drawdown) depart the most.
    assert!(r.common[0].column.starts_with("a."), "{:?}", r.common[0]);
}

#[test]
fn a_tilted_run_weighted_by_its_likelihood_ratios_gives_the_untilted_probability() {
    // Run a market drifting down hard, toward the breach, and weigh each path by
    // the likelihood ratio of the plain market's terminal log return against
    // the tilted one's (for a constant-volatility GBM the ratio of the whole
    // paths depends on the terminal value alone): the weighted probability is
    // the plain market's.
    let (plain, tilted, sigma) = (0.05, -0.25, 0.2);
    let run = common::run(&common::scenario(&pair(tilted, 0.0)), PATHS, 33, 0, 0);
    let mut table = table(&run);
    let log_return = |r: f64| (1.0 + r).ln();
    let density = |x: f64, drift: f64| {
        let z = (x - (drift - sigma * sigma / 2.0)) / sigma;
        (-0.5 * z * z).exp()
    };
    let prior: Vec<f64> = table
        .column("a.terminal_return")
        .unwrap()
        .iter()
        .map(|&r| density(log_return(r), plain) / density(log_return(r), tilted))
        .collect();
    table.prior = Some(prior);
    let breach = Breach::figure("a.terminal_return", Side::AtMost, -0.3);
    let r = reverse::reverse_stress(&table, &breach, Options::default()).unwrap();
    let expected = normal_cdf(((0.7f64).ln() - (plain - sigma * sigma / 2.0)) / sigma);
    assert_within(
        "P(a falls 30%), reweighted",
        r.probability,
        expected,
        r.standard_error,
        K,
    );
    // The tilt pays: far more breaching paths than the plain run's share.
    assert!(r.breaching as f64 > 5.0 * expected * PATHS as f64);
    assert!(r.effective_breaching < r.breaching as f64);
}

#[test]
fn a_portfolio_breach_is_bit_identical_for_any_thread_count_and_its_medoids_breach() {
    let s = crate::portfolios::world(
        126,
        r#"
[[portfolio]]
name = "levered"
base_currency = "EUR"
[portfolio.positions.spx]
asset = "spx"
weight = 1.5
[portfolio.positions.ndx]
asset = "ndx"
weight = 0.5
"#,
    );
    let results: Vec<String> = [1, 2]
        .iter()
        .map(|&threads| {
            let options = stormglass_core::engine::RunOptions {
                paths: 4_000,
                seed: 34,
                threads,
                sample_paths: 0,
            };
            let book = stormglass_core::portfolio::load(
                &s,
                &stormglass_core::model::Model::new(&s),
                &Default::default(),
            )
            .unwrap();
            let run = stormglass_core::run_with_portfolios(
                &s,
                &book,
                &options,
                &stormglass_core::engine::Silent,
            )
            .unwrap();
            let table = table(&run);
            let prefix = reverse::book(&table, "portfolio", "levered").unwrap();
            let r =
                reverse::reverse_stress(&table, &Breach::loss(&prefix, 0.2), Options::default())
                    .unwrap();
            let pnl = table.column("portfolio.levered.pnl").unwrap();
            assert_eq!(r.medoids.len(), reverse::DEFAULT_MEDOIDS);
            for m in &r.medoids {
                assert!(
                    pnl[m.path] <= -0.2,
                    "medoid path {} does not breach",
                    m.path
                );
            }
            let shares: f64 = r.medoids.iter().map(|m| m.share).sum();
            assert!((shares - 1.0).abs() < 1e-12);
            assert!(!r.enough_paths && r.breaching > 0, "{}", r.breaching);
            serde_json::to_string(&r).unwrap()
        })
        .collect();
    assert_eq!(results[0], results[1]);
}

#[test]
fn the_frontier_s_relative_entropy_is_the_normal_tilt_s() {
    // A level with no mean reversion moves as sigma W: its change over a year
    // is N(0, sigma^2) exactly. Tilting a normal to mean t costs
    // D = t^2 / (2 sigma^2) nats. The run's tilt is of its sample, whose
    // moment generating function at lambda = t / sigma^2 has the relative
    // standard error sqrt(e^(lambda^2 sigma^2) - 1) / sqrt(n); D's error is
    // that of ln M(lambda) (its error in lambda is second order), so each
    // point is allowed four of those.
    let sigma: f64 = 0.01;
    let text = format!(
        "{}[assets.y]\nprocess = \"ou\"\ninitial = 0.04\nmean = 0.04\nmean_reversion = 0.0\nvol = {sigma}\n",
        header("level", 252)
    );
    let run = common::run(&common::scenario(&text), PATHS, 35, 0, 0);
    let breach = Breach::figure("y.terminal_change", Side::AtMost, -0.015);
    let r = reverse::reverse_stress(&table(&run), &breach, Options::default()).unwrap();
    assert_within(
        "P(y falls 1.5 sd)",
        r.probability,
        normal_cdf(-1.5),
        r.standard_error,
        K,
    );
    assert_eq!(r.frontier.len(), reverse::FRONTIER_POINTS);
    let mut checked = 0;
    for point in &r.frontier {
        let t = point.threshold;
        let expected = t * t / (2.0 * sigma * sigma);
        let se = ((t * t / (sigma * sigma)).exp() - 1.0).sqrt() / (PATHS as f64).sqrt();
        let d = point
            .relative_entropy
            .expect("a complete column has a tilt");
        // Beyond e^(lambda^2 sigma^2) = 1 + n / 16 the error allowed exceeds
        // the value itself: nothing to check there.
        if 4.0 * se < expected {
            assert_within(&format!("D at {t:.4}"), d, expected, se, K);
            checked += 1;
        }
        assert!(point.probability > 0.0 && point.breaching >= reverse::FRONTIER_MIN_PATHS);
    }
    assert!(checked >= 10, "only {checked} frontier points checked");
    // Severer thresholds are rarer and need a larger tilt.
    for pair in r.frontier.windows(2) {
        assert!(pair[1].probability <= pair[0].probability);
        assert!(pair[1].relative_entropy > pair[0].relative_entropy);
    }
}
