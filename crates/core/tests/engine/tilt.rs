//! Runs tilted toward a rare breach (importance sampling): weighted by their
//! likelihood ratios, their estimates must be the plain run's. Each check
//! pins the seeds and allows four standard errors: of the mean ratio for
//! `E_Q[LR] = 1`, and the two runs' errors combined (`sqrt(se_1^2 + se_2^2)`,
//! the runs being independent) where a tilted estimate meets a plain one.

use crate::common::{self, assert_within, header};

use stormglass_core::engine::{RunOptions, Silent};
use stormglass_core::model::{Model, Tilt};
use stormglass_core::Run;

const K: f64 = 4.0;
const PATHS: u64 = 40_000;

/// A calm market that now and then turns to a crisis (0.1 a year, leaving
/// at 3 a year) and suffers a crash (0.1 a year, a 15% fall): a 45%
/// drawdown within the year is rare (about 0.9%).
fn rare() -> stormglass_core::scenario::Scenario {
    common::scenario(&format!(
        "{}[regimes.calm]\nintensities = {{ crisis = 0.1 }}\n[regimes.crisis]\nintensities = {{ calm = 3.0 }}\n[regime_chain]\ninitial = \"calm\"\n[assets.spx]\nprocess = \"gbm\"\ninitial = 100.0\ndrift = 0.07\nvol = 0.12\nby_regime.crisis = {{ drift = -0.6, vol = 0.35 }}\n[[events]]\nname = \"crash\"\nrate_per_year = 0.1\njumps = {{ spx = {{ mean = -0.15, sd = 0.05 }} }}\n",
        header("rare", 252)
    ))
}

fn tilt() -> Tilt {
    let mut tilt = Tilt::default();
    tilt.regimes.insert("crisis".into(), 8.0);
    tilt.events.insert("crash".into(), 5.0);
    tilt
}

fn run(tilt: Option<&Tilt>, seed: u64) -> Run {
    let scenario = rare();
    let mut model = Model::new(&scenario);
    if let Some(tilt) = tilt {
        model = model.tilted(tilt).expect("tilt");
    }
    let options = RunOptions {
        paths: PATHS,
        seed,
        threads: 0,
        sample_paths: 0,
    };
    let prepared = stormglass_core::run::Prepared {
        recipe: Default::default(),
        scenario,
        model,
        book: Default::default(),
        own_anchors: None,
        options,
    };
    let simulation = prepared.simulate(&Silent).expect("run");
    let summary = prepared.summarise(&simulation);
    Run {
        simulation,
        summary,
    }
}

/// The mean of `values` weighted by the ratios `lr`, `(1/n) sum lr x`, and its
/// standard error `sd(lr x) / sqrt(n)`.
fn weighted_mean(values: &[f64], lr: &[f64]) -> (f64, f64) {
    let products: Vec<f64> = values.iter().zip(lr).map(|(x, w)| x * w).collect();
    common::mean_and_se(&products)
}

fn indicator(values: &[f64], at_least: f64) -> Vec<f64> {
    values
        .iter()
        .map(|&v| if v >= at_least { 1.0 } else { 0.0 })
        .collect()
}

#[test]
fn the_likelihood_ratios_average_one() {
    let tilted = run(Some(&tilt()), 41);
    let lr = common::column(&tilted, "likelihood_ratio");
    let (mean, se) = common::mean_and_se(&lr);
    assert_within("E_Q[LR]", mean, 1.0, se, K);
    assert_eq!(tilted.summary.tilt, Some(tilt()));
    // The default scenario's chain has state terms and event multipliers.
    let default = common::bundled("default");
    let mut tilt = Tilt::default();
    tilt.regimes.insert("sell_america".into(), 5.0);
    tilt.regimes.insert("classic_risk_off".into(), 3.0);
    let model = Model::new(&default).tilted(&tilt).expect("tilt");
    let options = RunOptions {
        paths: 3_000,
        seed: 43,
        threads: 0,
        sample_paths: 0,
    };
    let simulation = stormglass_core::engine::simulate(&model, &options, &Silent).expect("run");
    let lr: Vec<f64> = simulation
        .column("likelihood_ratio")
        .expect("column")
        .collect();
    let (mean, se) = common::mean_and_se(&lr);
    assert_within("E_Q[LR] on the default scenario", mean, 1.0, se, K);
}

#[test]
fn a_tilted_run_estimates_a_rare_tail_without_bias_and_more_tightly() {
    let plain = run(None, 42);
    let tilted = run(Some(&tilt()), 44);
    assert!(plain.simulation.column("likelihood_ratio").is_none());
    let threshold = 0.45;
    let hits = indicator(&common::column(&plain, "spx.max_drawdown"), threshold);
    let (p_plain, se_plain) = common::mean_and_se(&hits);
    let lr = common::column(&tilted, "likelihood_ratio");
    let tilted_hits = indicator(&common::column(&tilted, "spx.max_drawdown"), threshold);
    let (p_tilted, se_tilted) = weighted_mean(&tilted_hits, &lr);
    let breaching = tilted_hits.iter().filter(|&&h| h > 0.0).count();
    let (sum, squares) = lr.iter().fold((0.0, 0.0), |(s, q), r| (s + r, q + r * r));
    println!(
        "P(drawdown >= 45%): plain {p_plain:.5} ± {se_plain:.5} ({} paths breach), tilted {p_tilted:.5} ± {se_tilted:.5} ({breaching} paths breach, effective sample size {:.0} of {PATHS})",
        hits.iter().filter(|&&h| h > 0.0).count(),
        sum * sum / squares
    );
    let combined = (se_plain * se_plain + se_tilted * se_tilted).sqrt();
    assert_within("P(drawdown >= 45%), tilted", p_tilted, p_plain, combined, K);
    assert!(
        se_tilted < se_plain,
        "the tilt should tighten the estimate: {se_tilted} against {se_plain}"
    );
}

#[test]
fn a_tilted_run_estimates_a_mean_without_bias() {
    let plain = run(None, 45);
    let tilted = run(Some(&tilt()), 46);
    let (m_plain, se_plain) = common::mean_and_se(&common::column(&plain, "spx.terminal_return"));
    let lr = common::column(&tilted, "likelihood_ratio");
    let (m_tilted, se_tilted) = weighted_mean(&common::column(&tilted, "spx.terminal_return"), &lr);
    let combined = (se_plain * se_plain + se_tilted * se_tilted).sqrt();
    assert_within(
        "E[spx terminal return], tilted",
        m_tilted,
        m_plain,
        combined,
        K,
    );
    // Unweighted, the tilted run is the crisis-heavy measure: far off.
    let (m_q, _) = common::mean_and_se(&common::column(&tilted, "spx.terminal_return"));
    assert!(
        (m_q - m_plain).abs() > 10.0 * combined,
        "the tilt should move the unweighted mean: {m_q} against {m_plain}"
    );
}
