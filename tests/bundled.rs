//! The bundled scenarios against each other: what the thesis says each should show.

mod common;
use common::*;

use std::path::Path;

fn bundled(name: &str) -> stormglass::scenario::Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.toml"));
    stormglass::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// The share of paths where the S&P 500 falls 20% or more from a peak and the
/// dollar ends 10% or more lower: the joint sell-off of US assets.
fn joint_selloff(run: &stormglass::Run) -> f64 {
    let drawdowns = column(run, "spx.max_drawdown");
    let dollar = column(run, "dxy.terminal_return");
    let hits = drawdowns
        .iter()
        .zip(&dollar)
        .filter(|(d, x)| **d >= 0.2 && **x <= -0.1)
        .count();
    hits as f64 / drawdowns.len() as f64
}

#[test]
fn the_thesis_puts_more_probability_on_a_joint_selloff_than_the_baseline() {
    let paths = 4_000;
    let default = run(&bundled("default"), paths, 41, 0, 0);
    let baseline = run(&bundled("baseline"), paths, 41, 0, 0);
    let (p1, p0) = (joint_selloff(&default), joint_selloff(&baseline));
    // Two proportions of 4,000 paths: the standard error of their difference.
    let n = paths as f64;
    let se = (p1 * (1.0 - p1) / n + p0 * (1.0 - p0) / n).sqrt();
    println!(
        "P(S&P drawdown >= 20% and DXY <= -10%): default {p1:.3}, baseline {p0:.3}, se {se:.4}"
    );
    assert!(p1 - p0 > 4.0 * se);
}

#[test]
fn equities_and_the_dollar_fall_together_only_in_sell_america() {
    // Per-path realised correlation of daily S&P and DXY moves over the days spent
    // in each regime, averaged over the paths that spent at least three days there.
    let run = run(&bundled("default"), 4_000, 42, 0, 0);
    let correlation = &run.summary.correlations[0];
    assert_eq!(correlation.assets, ["spx".to_string(), "dxy".to_string()]);
    let sell = &correlation.by_regime["sell_america"];
    let classic = &correlation.by_regime["classic_risk_off"];
    println!(
        "sell_america {:.3} (se {:.4}), classic_risk_off {:.3} (se {:.4})",
        sell.mean, sell.sem, classic.mean, classic.sem
    );
    assert!(sell.mean > 4.0 * sell.sem, "sell_america: {}", sell.mean);
    assert!(
        classic.mean < -4.0 * classic.sem,
        "classic_risk_off: {}",
        classic.mean
    );
}
