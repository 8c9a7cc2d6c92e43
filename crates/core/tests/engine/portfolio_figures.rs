//! A portfolio's named figures (`portfolio.NAME.es95`, ...): the catalogue's
//! values against the portfolio's own tables, their standard errors against
//! the spread of independent replications, and `compare`'s paired
//! differences against a direct computation and against replications.

use std::path::{Path, PathBuf};

use crate::common;
use common::header;

use stormglass_core::compare::{self, PortfolioComparison, Side};
use stormglass_core::engine::{RunOptions, Silent};
use stormglass_core::figures::catalogue::unknown_figure;
use stormglass_core::figures::{measure_every_figure, measure_named};
use stormglass_core::model::Model;
use stormglass_core::portfolio::{self, Book, BookFiles};
use stormglass_core::scenario::Scenario;

const SEED: u64 = 20_261_206;

/// A USD equity (GBM at `vol`) and a 10-year yield, over a quarter, and the
/// 60/40 book of `book` inline.
fn world(vol: f64) -> Scenario {
    common::scenario(&format!(
        r#"{}
[assets.spx]
process = "gbm"
initial = 100.0
drift = 0.05
vol = {vol}

[assets.us10y]
process = "ou"
initial = 0.04
mean = 0.04
mean_reversion = 0.5
vol = 0.01

[currencies.USD]
short_rate = 0.04

[[portfolio]]
name = "book"
base_currency = "USD"
rebalance = "monthly"
loss_thresholds = [0.05, 0.10]
[portfolio.positions.equities]
asset = "spx"
weight = 0.6
[portfolio.positions.treasuries]
treasury = "us10y"
maturity_years = 10.0
weight = 0.4
"#,
        header("portfolio_figures", 63)
    ))
}

fn book(scenario: &Scenario) -> Book {
    portfolio::load(scenario, &Model::new(scenario), &BookFiles::default())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn options(paths: u64, seed: u64) -> RunOptions {
    RunOptions {
        paths,
        seed,
        threads: 0,
        sample_paths: 0,
    }
}

const FIGURES: [&str; 6] = [
    "portfolio.book.return.p05",
    "portfolio.book.var95",
    "portfolio.book.es95",
    "portfolio.book.es99",
    "portfolio.book.drawdown.p95",
    "portfolio.book.loss_prob.0.10",
];

fn names() -> Vec<String> {
    FIGURES.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_portfolio_s_figures_are_its_own_tables_numbers() {
    let s = world(0.2);
    let book = book(&s);
    let run =
        stormglass_core::run_with_portfolios(&s, &book, &options(4000, SEED), &Silent).unwrap();
    let all = measure_every_figure(&s, &Model::new(&s), &book, &run.simulation);
    let value = |name: &str| {
        all.iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("the catalogue lists {name}"))
            .1
            .value
    };
    let table = &run.summary.portfolios[0];
    let same = |what: &str, a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{what}: {a} vs {b}");
    same("var95", value("portfolio.book.var95"), table.risk[0].var);
    same("es95", value("portfolio.book.es95"), table.risk[0].es);
    same("var99", value("portfolio.book.var99"), table.risk[1].var);
    same("es99", value("portfolio.book.es99"), table.risk[1].es);
    same(
        "return.p05",
        value("portfolio.book.return.p05"),
        table.pnl_quantiles[5],
    );
    same(
        "drawdown.p95",
        value("portfolio.book.drawdown.p95"),
        table.max_drawdown_quantiles[95],
    );
    same(
        "return.mean",
        value("portfolio.book.return.mean"),
        table.pnl.mean,
    );
    for (name, row) in ["0.05", "0.10"].iter().zip(&table.loss_probabilities) {
        same(
            name,
            value(&format!("portfolio.book.loss_prob.{name}")),
            row.probability,
        );
    }
}

#[test]
fn a_portfolio_s_standard_errors_match_the_spread_of_independent_runs() {
    // 200 runs on their own seeds: the sd of a figure across them is what its
    // standard error claims to be. The sd of 200 draws is itself off by
    // 1/sqrt(2 * 199) = 5% (one sd), so the ratio must be within 3 of those.
    let (runs, paths) = (200, 1000);
    let s = world(0.2);
    let book = book(&s);
    let model = Model::new(&s);
    let names = names();
    let measured: Vec<Vec<_>> = (0..runs)
        .map(|r| {
            let simulation =
                portfolio::simulate(&s, &model, &book, &options(paths, SEED + r), &Silent).unwrap();
            measure_named(&names, &s, &model, &book, &simulation)
        })
        .collect();
    let tolerance = 3.0 / (2.0 * (runs as f64 - 1.0)).sqrt();
    for (f, name) in names.iter().enumerate() {
        let values: Vec<f64> = measured.iter().map(|m| m[f].value).collect();
        let spread = common::variance(&values).sqrt();
        let claimed = measured.iter().map(|m| m[f].se).sum::<f64>() / runs as f64;
        let ratio = claimed / spread;
        println!("{name}: se {claimed:.5}, spread of runs {spread:.5}, ratio {ratio:.3}");
        assert!(
            (ratio - 1.0).abs() < tolerance,
            "{name}: the standard error {claimed} against the runs' spread {spread}"
        );
    }
}

fn compared(scenarios: &[(&str, &Scenario, u64)], paths: u64) -> Vec<PortfolioComparison> {
    let runs: Vec<(Book, _)> = scenarios
        .iter()
        .map(|(_, s, seed)| {
            let book = book(s);
            let simulation =
                portfolio::simulate(s, &Model::new(s), &book, &options(paths, *seed), &Silent)
                    .unwrap();
            (book, simulation)
        })
        .collect();
    let sides: Vec<Side> = scenarios
        .iter()
        .zip(&runs)
        .map(|((label, scenario, _), (book, simulation))| Side {
            label,
            scenario,
            book,
            simulation,
        })
        .collect();
    compare::compare_portfolios(&sides)
}

fn figure<'a>(c: &'a [PortfolioComparison], name: &str) -> &'a compare::ComparedFigure {
    c[0].figures
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("compared: {name}"))
}

#[test]
fn a_scenario_compared_with_itself_differs_by_nothing() {
    let s = world(0.2);
    let c = compared(&[("a", &s, SEED), ("b", &s, SEED)], 2000);
    assert!(c[0].paired, "{}", c[0].pairing);
    for f in &c[0].figures {
        let d = f.differences[1].expect("a difference for the second run");
        assert_eq!((d.value, d.se), (0.0, 0.0), "{}", f.name);
    }
}

#[test]
fn the_paired_standard_error_is_the_per_path_differences_and_matches_replications() {
    let (calm, stormy) = (world(0.15), world(0.25));
    let paths = 4000;
    // The mean return's paired error is the sd of the per-path differences
    // of P&L over sqrt(n), computed here straight from the runs' columns.
    let c = compared(&[("calm", &calm, SEED), ("stormy", &stormy, SEED)], paths);
    let pnl = |s: &Scenario| {
        let book = book(s);
        let simulation =
            portfolio::simulate(s, &Model::new(s), &book, &options(paths, SEED), &Silent).unwrap();
        simulation
            .column("portfolio.book.pnl")
            .unwrap()
            .collect::<Vec<f64>>()
    };
    let differences: Vec<f64> = pnl(&stormy)
        .iter()
        .zip(pnl(&calm))
        .map(|(a, b)| a - b)
        .collect();
    let (mean, se) = common::mean_and_se(&differences);
    let d = figure(&c, "portfolio.book.return.mean").differences[1].unwrap();
    assert!((d.value - mean).abs() < 1e-12, "{} vs {mean}", d.value);
    assert!((d.se / se - 1.0).abs() < 1e-9, "{} vs {se}", d.se);

    // The tails' paired errors against 60 replications on their own seeds
    // (each pair on one seed): within 3 sds of the replications' sd, as above.
    let runs = 60;
    let names = ["portfolio.book.es95", "portfolio.book.return.p05"];
    let mut differences = vec![Vec::new(); names.len()];
    let mut claimed = vec![0.0; names.len()];
    let mut unpaired = vec![0.0; names.len()];
    for r in 0..runs {
        let seed = SEED + 1 + r;
        let c = compared(&[("calm", &calm, seed), ("stormy", &stormy, seed)], 2000);
        for (f, name) in names.iter().enumerate() {
            let figure = figure(&c, name);
            let d = figure.differences[1].unwrap();
            differences[f].push(d.value);
            claimed[f] += d.se / runs as f64;
            unpaired[f] += figure.runs[0].se.hypot(figure.runs[1].se) / runs as f64;
        }
    }
    let tolerance = 3.0 / (2.0 * (runs as f64 - 1.0)).sqrt();
    for (f, name) in names.iter().enumerate() {
        let spread = common::variance(&differences[f]).sqrt();
        let ratio = claimed[f] / spread;
        println!(
            "{name}: paired se {:.5}, spread {spread:.5}, ratio {ratio:.3}, unpaired se {:.5}",
            claimed[f], unpaired[f]
        );
        assert!((ratio - 1.0).abs() < tolerance, "{name}: ratio {ratio}");
        // Common random numbers are the point: the pairs share their equity draws.
        assert!(
            claimed[f] < 0.6 * unpaired[f],
            "{name}: no gain from pairing"
        );
    }
}

#[test]
fn runs_on_different_seeds_are_compared_unpaired_and_say_so() {
    let s = world(0.2);
    let c = compared(&[("a", &s, SEED), ("b", &s, SEED + 1)], 2000);
    assert!(!c[0].paired);
    assert!(c[0].pairing.contains("seeds differ"), "{}", c[0].pairing);
    let f = figure(&c, "portfolio.book.es95");
    let d = f.differences[1].unwrap();
    assert_eq!(d.se, f.runs[0].se.hypot(f.runs[1].se));
}

fn temp_file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn a_book_whose_asset_a_scenario_lacks_is_refused_naming_both() {
    let s = world(0.2);
    let (_dir, file) = temp_file(
        "gold.toml",
        "name = \"gold_book\"\nbase_currency = \"USD\"\n\n[positions.bullion]\nasset = \"gold\"\nweight = 1.0\n",
    );
    let error = compare::load_book(&s, Path::new("scenarios/world.toml"), &file)
        .unwrap_err()
        .to_string();
    for part in [
        "gold.toml:5",
        "positions.bullion.asset",
        "`gold`",
        "scenario `portfolio_figures` (scenarios/world.toml)",
    ] {
        assert!(error.contains(part), "`{part}` missing from: {error}");
    }
}

#[test]
fn a_figure_of_a_portfolio_the_run_lacks_lists_the_run_s_portfolios() {
    let s = world(0.2);
    let book = book(&s);
    let run = stormglass_core::run_with_portfolios(&s, &book, &options(64, SEED), &Silent).unwrap();
    let names: Vec<String> = measure_every_figure(&s, &Model::new(&s), &book, &run.simulation)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let message = unknown_figure("portfolio.us_60_40.es95", &names);
    assert!(
        message.contains("no portfolio `us_60_40`") && message.contains("portfolios: book"),
        "{message}"
    );
    let message = unknown_figure("portfolio.book.es97", &names);
    assert!(
        message.contains("did you mean `portfolio.book.es95`"),
        "{message}"
    );
}
