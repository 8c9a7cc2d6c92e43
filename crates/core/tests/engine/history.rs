//! The realism section and the bundled scenarios against history's anchors
//! (data/history/anchors.toml).

use crate::common;
use common::*;

use stormglass_core::history::{self, Figure, RealismFigure, Standing};

/// The paths of the calibration runs the scenarios' opening comments quote. At
/// 20,000 paths a quantile's or probability's standard error is under 0.7% of a
/// return, small against history's bands (2 standard errors of 20 years of
/// data: 10 to 40 points wide), so a figure inside by more than a few standard
/// errors at the fixed seed stays inside.
const PATHS: u64 = 20_000;

fn realism_of(name: &str) -> Vec<RealismFigure> {
    let scenario = bundled(name);
    let run = run(&scenario, PATHS, scenario.seed, 0, 0);
    run.summary.realism.figures
}

fn figure<'a>(figures: &'a [RealismFigure], asset: &str, label: &str) -> &'a RealismFigure {
    figures
        .iter()
        .find(|f| f.asset == asset && f.label == label)
        .unwrap_or_else(|| panic!("no realism figure {asset} {label}"))
}

#[test]
fn the_built_in_anchors_parse_and_name_the_default_scenarios_assets() {
    let anchors = history::builtin();
    assert!(anchors.anchors.len() >= 50, "{}", anchors.anchors.len());
    let default = bundled("default");
    for anchor in &anchors.anchors {
        assert!(
            default.assets.iter().any(|a| a.name == anchor.asset),
            "anchor on {} names no asset of default.toml",
            anchor.asset
        );
        assert!(!anchor.source.is_empty() && !anchor.period.is_empty());
    }
    for (asset, figure) in [
        ("spx", Figure::ReturnQuantile),
        ("spx", Figure::DrawdownProbability),
        ("spx", Figure::MeanMaxDrawdown),
        ("spx", Figure::WorstDay),
        ("spx", Figure::WorstDayQuantile),
        ("ndx", Figure::WorstDayQuantile),
        ("vix", Figure::LevelLow),
        ("dxy", Figure::ReturnQuantile),
        ("eurusd", Figure::LevelHigh),
        ("usdjpy", Figure::ReturnQuantile),
        ("gold", Figure::ReturnQuantile),
        ("silver", Figure::ReturnQuantile),
        ("us10y", Figure::ChangeSd),
        ("us2y", Figure::ChangeQuantile),
    ] {
        assert!(
            anchors
                .anchors
                .iter()
                .any(|a| a.asset == asset && a.figure == figure),
            "no {figure:?} anchor for {asset}"
        );
    }
    assert!(anchors.episodes.len() >= 5);
}

#[test]
fn a_bad_anchors_file_is_refused_with_its_line_and_what_is_wrong() {
    let text = "[about]\ngenerated_by = \"x\"\nversion = 1\n\n[[anchor]]\nasset = \"spx\"\nfigure = \"return_quantil\"\nvalue = 0.1\nlow = 0.0\nhigh = 0.2\nkind = \"derived\"\nsource = \"s\"\nperiod = \"p\"\n";
    let error = history::parse(text, "anchors.toml").unwrap_err();
    assert!(error.starts_with("anchors.toml:7:"), "{error}");
    assert!(error.contains("return_quantile"), "{error}");
    let outside = text
        .replace("return_quantil", "return_quantile")
        .replace("value = 0.1", "q = 0.05\nhorizon_years = 1.0\nvalue = 0.3");
    let error = history::parse(&outside, "anchors.toml").unwrap_err();
    assert!(error.contains("must contain the value 0.3"), "{error}");
}

/// Type 7 quantile, written out again so the check does not share the engine's.
fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let h = (values.len() - 1) as f64 * q;
    let below = h.floor() as usize;
    let above = (below + 1).min(values.len() - 1);
    values[below] + (h - below as f64) * (values[above] - values[below])
}

#[test]
fn baseline_lands_inside_historys_band_on_the_figures_a_committee_reads_first() {
    let figures = realism_of("baseline");
    for (asset, label) in [
        ("spx", "1y return p05"),
        ("spx", "P(1y max drawdown >= 20%)"),
        ("spx", "mean 1y max drawdown"),
        ("spx", "median realised vol"),
        ("spx", "1y worst day p50"),
        ("dxy", "1y return p05"),
        ("eurusd", "record high (run p99 of path highs)"),
        ("vix", "record low (run p01 of path lows)"),
        ("us10y", "1y change sd"),
    ] {
        let f = figure(&figures, asset, label);
        println!(
            "{asset} {label}: run {:.4} (se {:?}), history {:.4} [{:.4}, {:.4}]",
            f.run, f.run_se, f.history, f.low, f.high
        );
        assert_eq!(f.standing, Standing::Inside, "{asset} {label}");
    }
}

#[test]
fn the_thesis_lies_outside_history_only_within_the_records() {
    let scenario = bundled("default");
    let run = run(&scenario, PATHS, scenario.seed, 0, 0);
    let figures = &run.summary.realism.figures;
    let record = |asset: &str, label: &str| figure(figures, asset, label).history;
    // Its 5th percentiles no worse than the worst twelve months on record, for
    // every asset with such a record.
    let with_records: Vec<&str> = figures
        .iter()
        .filter(|f| f.figure == Figure::WorstReturn)
        .map(|f| f.asset.as_str())
        .collect();
    assert!(with_records.len() >= 6, "{with_records:?}");
    for asset in with_records {
        let p05 = figure(figures, asset, "1y return p05").run;
        let worst = record(asset, "worst 1y return on record (run p01)");
        println!("{asset}: p05 {p05:.4}, worst year on record {worst:.4}");
        assert!(p05 >= worst, "{asset}: p05 {p05} below the record {worst}");
    }
    // No VIX below 9 on any path: the variance floor bounds it. EUR/USD is a
    // diffusion with no bound, so its highest path grows with the number of
    // paths; the thesis keeps it below 2.0 on all but one path in a thousand.
    let least_vix = column(&run, "vix.min").into_iter().fold(f64::MAX, f64::min);
    let mut highs = column(&run, "eurusd.max");
    let euro_p999 = quantile(&mut highs, 0.999);
    println!("least VIX {least_vix:.4}, EUR/USD's highs p99.9 {euro_p999:.4}");
    assert!(least_vix >= 0.09, "{least_vix}");
    assert!(euro_p999 <= 2.0, "{euro_p999}");
    // One-day moves: the run's 1% tails within 1.5 times the records.
    let factor = stormglass_core::history::RECORD_DAY_FACTOR;
    for asset in ["spx", "dxy", "eurusd", "usdjpy", "gold", "silver"] {
        for label in [
            "worst day on record (run p01)",
            "best day on record (run p99)",
        ] {
            let Some(f) = figures
                .iter()
                .find(|f| f.asset == asset && f.label == label)
            else {
                continue;
            };
            let limit = (f.history.ln_1p() * factor).exp_m1();
            println!("{asset} {label}: run {:.4}, limit {limit:.4}", f.run);
            assert!(f.run.abs() <= limit.abs(), "{asset} {label}: {}", f.run);
        }
    }
}

#[test]
fn classic_risk_off_moves_with_the_signs_of_2008_and_2020() {
    let scenario = bundled("classic_risk_off");
    let run = run(&scenario, 4_000, scenario.seed, 0, 0);
    let episodes = &history::builtin().episodes;
    let median = |name: &str| {
        let mut values = column(&run, name);
        quantile(&mut values, 0.5)
    };
    for episode in episodes
        .iter()
        .filter(|e| e.name.contains("2008") || e.name.contains("2020"))
    {
        for (asset, metric) in [("spx", "terminal_return"), ("us10y", "terminal_change")] {
            let moved = episode.moves[asset];
            let median = median(&format!("{asset}.{metric}"));
            println!(
                "{}: {asset} moved {moved:+.3}; the run's median {median:+.4}",
                episode.name
            );
            assert_eq!(median.signum(), moved.signum(), "{} {asset}", episode.name);
        }
    }
    // The dollar hedges: its daily moves run against equities' in the regime.
    let hedge = &run.summary.correlations[0].by_regime["classic_risk_off"];
    assert!(hedge.percentile("p50") < -0.3, "{:?}", hedge.percentiles);
    // The S&P 500's drawdown reaches the episodes' size: 2020's -34% at the median
    // path is not required, but a quarter of paths fall as far.
    let drawdowns = column(&run, "spx.max_drawdown");
    let deep = drawdowns.iter().filter(|d| **d >= 0.34).count() as f64 / drawdowns.len() as f64;
    println!("share of paths with a 34% drawdown: {deep:.3}");
    assert!(deep >= 0.25, "{deep}");
}
