//! `calibrate history`: the Markov-switching fit held against statsmodels' own
//! test suite (which matches Stata and EViews), and against regimes the engine
//! itself simulates.

use crate::common;

use std::path::Path;

use nalgebra::DMatrix;
use stormglass_core::calibrate::data::{self, Changes, Frequency, Selection, Transform};
use stormglass_core::calibrate::history;
use stormglass_core::calibrate::markov::{Params, Regression};

fn fixture(name: &str) -> Vec<f64> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/statsmodels")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

fn fedfunds() -> Regression {
    let y = fixture("fedfunds.csv");
    Regression {
        x: vec![vec![1.0]; y.len()],
        y: y.into_iter().map(|v| vec![v]).collect(),
        regimes: 2,
        switching_covariance: false,
    }
}

fn areturns() -> Regression {
    let a = fixture("areturns.csv");
    Regression {
        y: a[1..].iter().map(|v| vec![*v]).collect(),
        x: a[..a.len() - 1].iter().map(|v| vec![1.0, *v]).collect(),
        regimes: 2,
        switching_covariance: true,
    }
}

/// A two-regime univariate parameter set in statsmodels' order.
fn params(p00: f64, p10: f64, coefficients: [&[f64]; 2], variances: [f64; 2]) -> Params {
    Params {
        transition: vec![vec![p00, 1.0 - p00], vec![p10, 1.0 - p10]],
        coefficients: coefficients
            .iter()
            .map(|c| DMatrix::from_column_slice(c.len(), 1, c))
            .collect(),
        covariances: variances
            .iter()
            .map(|v| DMatrix::from_element(1, 1, *v))
            .collect(),
    }
}

/// statsmodels' own tolerance in these tests: atol 1e-5 on the log likelihood.
const LLF_TOLERANCE: f64 = 1e-5;

#[test]
fn fedfunds_likelihood_and_smoothed_probabilities_at_statas_parameters() {
    // TestFedFundsConst: Stata's estimates, the variance shared.
    let sigma2 = 2.107562_f64.powi(2);
    let stata = params(
        0.9820939,
        0.0503587,
        [&[3.70877], &[9.556793]],
        [sigma2, sigma2],
    );
    let model = fedfunds();
    let filtered = model.filter(&stata).unwrap();
    assert!(
        (filtered.log_likelihood - -508.63592).abs() < LLF_TOLERANCE,
        "{}",
        filtered.log_likelihood
    );
    // Stata's smoothed probabilities, matched by statsmodels to atol 1e-6.
    let (smoothed, _) = model.smooth(&stata, &filtered);
    let expected = fixture("fedfunds_smoothed_stata.csv");
    assert_eq!(smoothed.len(), expected.len());
    let worst = smoothed
        .iter()
        .zip(&expected)
        .map(|(s, e)| (s[0] - e).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-6, "largest difference {worst}");
}

#[test]
fn fedfunds_fit_reaches_the_maximum_statsmodels_and_stata_report() {
    let model = fedfunds();
    let fit = model
        .fit_best(&history::starts(&model.y, model.regressors(), 2), 500)
        .unwrap();
    let fit_params = history::permute(&fit.params, &order_by_first_mean(&fit.params));
    assert!(
        (fit.log_likelihood - -508.63592).abs() < LLF_TOLERANCE,
        "{}",
        fit.log_likelihood
    );
    // statsmodels' MLE (its fit, to 1e-6 of Stata's printed estimates).
    let natural = model.natural(&fit_params);
    let mle = [0.98209618, 0.05036498, 3.70877542, 9.55676298, 4.44181911];
    for (got, want) in natural.iter().zip(mle) {
        assert!(
            (got - want).abs() < 1e-4 * want.abs().max(1.0),
            "{natural:?}"
        );
    }
    // bse_oim, as printed (seven digits); the variance's is not compared there
    // (statsmodels estimates sigma^2, Stata sigma).
    let errors = model.standard_errors(&fit_params).unwrap();
    let printed = [0.0104002, 0.0268434, 0.1767083, 0.2999889];
    for (got, want) in errors.iter().zip(printed) {
        assert!((got - want).abs() < 2e-4 * want, "{errors:?}");
    }
}

#[test]
fn areturns_fit_with_switching_variance_reaches_statas_maximum() {
    // TestAreturnsConstL1Variance: y = |r_t|, x = [1, |r_{t-1}|].
    let model = areturns();
    let stata = params(
        0.7530865,
        0.6825357,
        [&[0.7641424, 0.0790744], &[1.972771, 0.527953]],
        [0.5895792_f64.powi(2), 1.605333_f64.powi(2)],
    );
    let at_stata = model.filter(&stata).unwrap().log_likelihood;
    assert!((at_stata - -745.7977).abs() < 1e-4, "{at_stata}");
    let fit = model
        .fit_best(&history::starts(&model.y, model.regressors(), 2), 500)
        .unwrap();
    assert!(
        (fit.log_likelihood - -745.7977).abs() < 1e-4,
        "{}",
        fit.log_likelihood
    );
    let fit_params = history::permute(&fit.params, &order_by_first_mean(&fit.params));
    let natural = model.natural(&fit_params);
    let stata_natural = model.natural(&stata);
    for (got, want) in natural.iter().zip(&stata_natural) {
        assert!(
            (got - want).abs() < 2e-4 * want.abs().max(1.0),
            "{natural:?}"
        );
    }
    let errors = model.standard_errors(&fit_params).unwrap();
    // Stata's bse_oim, the variances aside (statsmodels compares the first six).
    let printed = [
        0.0634387, 0.0662574, 0.0782852, 0.0301862, 0.2784204, 0.0857841,
    ];
    // Ours are in the natural order: p00, p10, then regime 0's (const, beta),
    // then regime 1's; statsmodels lists the constants before the betas.
    let ours = [
        errors[0], errors[1], errors[2], errors[3], errors[4], errors[5],
    ];
    for (got, want) in ours.iter().zip(printed) {
        assert!((got - want).abs() < 1e-3 * want, "{errors:?}");
    }
}

fn order_by_first_mean(p: &Params) -> Vec<usize> {
    let mut order: Vec<usize> = (0..p.coefficients.len()).collect();
    order.sort_by(|a, b| p.coefficients[*a][(0, 0)].total_cmp(&p.coefficients[*b][(0, 0)]));
    order
}

/// Two assets in two regimes, simulated daily for 24 years on one path.
const TRUE_SCENARIO: &str = r#"
[scenario]
name = "recovery"
seed = 7
paths = 1
start_date = 2000-01-03
horizon_years = 24.0
sample_paths = 1

[correlation]
drivers = ["a", "b"]

[regimes.calm]
intensities = { turbulent = 0.5 }
correlation_pairs = { a = { b = 0.2 } }

[regimes.turbulent]
intensities = { calm = 2.0 }
correlation_pairs = { a = { b = 0.7 } }

[regime_chain]
initial = "calm"

[assets.a]
process = "gbm"
initial = 100.0
drift = 0.10
vol = 0.12
by_regime.turbulent = { drift = -0.30, vol = 0.35 }

[assets.b]
process = "gbm"
initial = 50.0
drift = 0.05
vol = 0.08
by_regime.turbulent = { drift = 0.0, vol = 0.20 }
"#;

#[test]
fn regimes_the_engine_simulates_are_recovered_within_their_standard_errors() {
    let scenario = common::scenario(TRUE_SCENARIO);
    let run = common::run(&scenario, 1, 7, 1, 1);
    let samples = &run.simulation.samples;
    let levels: Vec<Vec<f64>> = (0..2)
        .map(|a| {
            (0..samples.points)
                .map(|t| samples.level(0, t, a))
                .collect()
        })
        .collect();
    let rows: Vec<Vec<f64>> = (1..samples.points)
        .map(|t| {
            (0..2)
                .map(|a| (levels[a][t] / levels[a][t - 1]).ln())
                .collect()
        })
        .collect();
    let changes = Changes {
        names: vec!["a".into(), "b".into()],
        assets: vec!["a".into(), "b".into()],
        transforms: vec![Transform::LogChange; 2],
        frequency: Frequency::Daily,
        dates: scenario.dates[1..samples.points].to_vec(),
        rows,
        levels,
    };
    let fit = history::fit(changes, 2).unwrap();
    let dt = scenario.dt;
    let stay = |rate: f64| (-rate * dt).exp();
    // The scenario's values in the fit's natural parameters, per step.
    let truth = [
        ("p[calm->calm]", stay(0.5)),
        ("p[turbulent->calm]", 1.0 - stay(2.0)),
        ("mean[calm].a", (0.10 - 0.5 * 0.12 * 0.12) * dt),
        ("mean[calm].b", (0.05 - 0.5 * 0.08 * 0.08) * dt),
        ("mean[turbulent].a", (-0.30 - 0.5 * 0.35 * 0.35) * dt),
        ("mean[turbulent].b", (0.0 - 0.5 * 0.20 * 0.20) * dt),
        ("variance[calm].a", 0.12 * 0.12 * dt),
        ("covariance[calm].b.a", 0.2 * 0.12 * 0.08 * dt),
        ("variance[calm].b", 0.08 * 0.08 * dt),
        ("variance[turbulent].a", 0.35 * 0.35 * dt),
        ("covariance[turbulent].b.a", 0.7 * 0.35 * 0.20 * dt),
        ("variance[turbulent].b", 0.20 * 0.20 * dt),
    ];
    assert_eq!(fit.parameters.len(), truth.len());
    // Each estimate within 3 of its standard errors, and all of them jointly:
    // the sum of squared z-scores under chi-square with 12 degrees of freedom,
    // whose 99.9th percentile is 32.9 (the estimates are correlated, so this is
    // a loose joint check; the per-parameter one is the strict one).
    let mut chi2 = 0.0;
    for (name, value) in truth {
        let p = fit.parameters.iter().find(|p| p.name == name).unwrap();
        let z = (p.value - value) / p.standard_error.unwrap();
        assert!(
            z.abs() < 3.0,
            "{name}: {} +- {} against {value}",
            p.value,
            p.standard_error.unwrap()
        );
        chi2 += z * z;
    }
    assert!(chi2 < 32.9, "{chi2}");
    // The smoothed regime matches the simulated one on most days.
    let agree = (0..fit.smoothed.len())
        .filter(|&t| (fit.smoothed[t][1] > 0.5) == (samples.regime(0, t + 1) == 1))
        .count();
    assert!(agree as f64 > 0.9 * fit.smoothed.len() as f64, "{agree}");
    // The scenario written from the fit loads, with the fitted intensities.
    let text = fit.scenario_toml("fitted", "test");
    let fitted = stormglass_core::scenario::load_str(&text, Path::new("fitted.toml"))
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(fitted.regimes.len(), 2);
    assert_eq!(fitted.assets.len(), 2);
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn bad_history_files_get_a_message_with_the_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let all = Selection::default();
    let cases = [
        (
            "gap.csv",
            "date,spx\n2020-01-01,1\n2020-01-02,\n",
            "gap.csv:3: column `spx` has a gap on 2020-01-02",
        ),
        (
            "text.csv",
            "date,spx\n2020-01-01,1\n2020-01-02,abc\n",
            "text.csv:3: column `spx`: `abc` is not a finite number",
        ),
        (
            "order.csv",
            "date,spx\n2020-01-02,1\n2020-01-01,2\n",
            "order.csv:3: 2020-01-01 does not come after 2020-01-02",
        ),
        (
            "date.csv",
            "date,spx\n20-1-1x,1\n",
            "date.csv:2: `20-1-1x` is not a date",
        ),
        (
            "cells.csv",
            "date,spx\n2020-01-01,1,2\n",
            "cells.csv:2: 3 cells where the header has 2",
        ),
    ];
    for (name, text, expected) in cases {
        let path = write(dir.path(), name, text);
        let message = data::read(&path, &all).unwrap_err().to_string();
        assert!(message.contains(expected), "{message}");
    }
    let path = write(dir.path(), "typo.csv", "date,close\n2020-01-01,1\n");
    let selection = Selection {
        series: vec!["closr".into()],
        ..Selection::default()
    };
    let message = data::read(&path, &selection).unwrap_err().to_string();
    assert!(message.contains("`close`"), "{message}");

    let short: String = (1..=10)
        .map(|d| format!("2020-01-{d:02},{}\n", 100 + d))
        .collect();
    let path = write(dir.path(), "short.csv", &format!("date,spx\n{short}"));
    let table = data::read(&path, &all).unwrap();
    let message = table.changes(&all).unwrap_err().to_string();
    assert!(
        message.contains("9 daily changes from 10 rows; a fit needs at least 30"),
        "{message}"
    );

    let flat: String = (0..60)
        .map(|d| format!("2020-{:02}-{:02},5\n", 1 + d / 28, 1 + d % 28))
        .collect();
    let path = write(dir.path(), "flat.csv", &format!("date,spx\n{flat}"));
    let table = data::read(&path, &all).unwrap();
    let message = table.changes(&all).unwrap_err().to_string();
    assert!(message.contains("constant series"), "{message}");

    let negative: String = (0..60)
        .map(|d| {
            format!(
                "2020-{:02}-{:02},{}\n",
                1 + d / 28,
                1 + d % 28,
                (d as f64 * 0.7).sin() - 0.5
            )
        })
        .collect();
    let path = write(dir.path(), "rate.csv", &format!("date,rate\n{negative}"));
    let table = data::read(&path, &all).unwrap();
    let message = table.changes(&all).unwrap_err().to_string();
    assert!(message.contains("--levels rate"), "{message}");
    let levels = Selection {
        levels: vec!["rate".into()],
        ..Selection::default()
    };
    assert!(table.changes(&levels).is_ok());

    // Too many parameters for the rows: 5 regimes of one series need 175.
    let path = Path::new(*crate::common::ROOT).join("data/history/sp500.csv");
    let table = data::read(&path, &all).unwrap();
    let monthly = Selection {
        frequency: Some(Frequency::Quarterly),
        ..Selection::default()
    };
    let changes = table.changes(&monthly).unwrap();
    let message = history::fit(changes, 5).unwrap_err().to_string();
    assert!(
        message.contains("observations for 30 parameters"),
        "{message}"
    );
}

/// `n` daily rows from 2020-01-01 of `columns` series that wander.
fn wandering(n: usize, columns: usize) -> Vec<String> {
    let first = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
    (0..n)
        .map(|t| {
            let cells: Vec<String> = (0..columns)
                .map(|c| {
                    format!(
                        "{}",
                        100.0 + (t as f64 * (0.3 + c as f64)).sin() + t as f64 * 0.01
                    )
                })
                .collect();
            format!(
                "{},{}",
                first + chrono::Duration::days(t as i64),
                cells.join(",")
            )
        })
        .collect()
}

#[test]
fn columns_that_become_one_asset_name_are_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let all = Selection::default();
    for (header, first, second) in [
        ("date,EUR/USD,EUR-USD", "`EUR/USD`", "`EUR-USD`"),
        ("date,Gold,gold", "`Gold`", "`gold`"),
        ("date,日本,中国", "`日本`", "`中国`"),
        ("date,ß,é", "`ß`", "`é`"),
        ("date,spx,spx", "`spx`", "the header repeats it"),
    ] {
        let text = format!("{header}\n{}\n", wandering(60, 2).join("\n"));
        let path = write(dir.path(), "twins.csv", &text);
        let message = data::read(&path, &all).unwrap_err().to_string();
        assert!(
            message.starts_with(&format!("{}:1:", path.display()))
                && message.contains(first)
                && message.contains(second),
            "{header}: {message}"
        );
    }
    // One of the two, chosen, fits.
    let text = format!("date,Gold,gold\n{}\n", wandering(60, 2).join("\n"));
    let path = write(dir.path(), "twins.csv", &text);
    let one = Selection {
        series: vec!["gold".into()],
        ..Selection::default()
    };
    assert!(data::read(&path, &one).is_ok());
}

#[test]
fn history_line_endings_and_overflowing_changes_get_their_own_message() {
    let dir = tempfile::tempdir().unwrap();
    let all = Selection::default();
    // Classic Mac line endings: as many rows as the file shows.
    let rows = wandering(200, 1);
    let path = write(
        dir.path(),
        "cr.csv",
        &format!("date,spx\r{}\r", rows.join("\r")),
    );
    let table = data::read(&path, &all).unwrap();
    assert_eq!((table.names.len(), table.dates.len()), (1, 200));
    let mixed = write(
        dir.path(),
        "mixed.csv",
        &format!(
            "date,spx\r\n{}\n{}\r",
            rows[..100].join("\r\n"),
            rows[100..].join("\r")
        ),
    );
    assert_eq!(data::read(&mixed, &all).unwrap().dates.len(), 200);
    let bad = write(
        dir.path(),
        "badcr.csv",
        "date,spx\r2020-01-01,1\r2020-01-02,x\r",
    );
    let message = data::read(&bad, &all).unwrap_err().to_string();
    assert!(message.contains("badcr.csv:3:"), "{message}");

    // Levels at the float's limit: their differences overflow, which is said
    // as such, with the line, not blamed on a regime.
    let mut huge: Vec<String> = wandering(60, 1);
    huge[41] = format!("{},-1.7e308", &huge[41][..10]);
    huge[40] = format!("{},1.7e308", &huge[40][..10]);
    let path = write(
        dir.path(),
        "huge.csv",
        &format!("date,spread\n{}\n", huge.join("\n")),
    );
    let levels = Selection {
        levels: vec!["spread".into()],
        ..Selection::default()
    };
    let message = data::read(&path, &levels)
        .unwrap()
        .changes(&levels)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("huge.csv:43:")
            && message.contains("rescale")
            && !message.contains("regime"),
        "{message}"
    );
    // Each change finite, their variance not.
    let mut big: Vec<String> = wandering(60, 1);
    for (t, row) in big.iter_mut().enumerate() {
        let sign = if t % 2 == 0 { 1.0 } else { -1.0 };
        *row = format!("{},{}", &row[..10], sign * 4e307);
    }
    let path = write(
        dir.path(),
        "big.csv",
        &format!("date,spread\n{}\n", big.join("\n")),
    );
    let message = data::read(&path, &levels)
        .unwrap()
        .changes(&levels)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("big.csv") && message.contains("rescale") && !message.contains("regime"),
        "{message}"
    );
}

#[test]
fn one_regime_has_no_expected_duration_and_says_why() {
    let path = Path::new(*crate::common::ROOT).join("data/history/sp500.csv");
    let weekly = Selection {
        frequency: Some(Frequency::Weekly),
        ..Selection::default()
    };
    let table = data::read(&path, &weekly).unwrap();
    let fit = history::fit(table.changes(&weekly).unwrap(), 1).unwrap();
    let json = serde_json::to_string(&fit.report("test", "sp500.csv".into(), "0".into())).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        value["expected_durations"][0][1],
        serde_json::Value::Null,
        "{json}"
    );
    assert!(
        value["expected_durations_note"]
            .as_str()
            .is_some_and(|n| n.contains("never left")),
        "{json}"
    );
    let figures = &value["regime_figures"][0];
    assert!(figures["expected_duration_years"].is_null(), "{figures}");
    assert!(figures["duration_note"].is_string(), "{figures}");
    let fragment = fit.scenario_toml("one", "test");
    assert!(
        fragment.contains("never leaves") && !fragment.contains("inf"),
        "{fragment}"
    );
    fit.check_fragment(&fragment).unwrap();
}

#[test]
fn the_shipped_sp500_history_fits_two_regimes_at_weekly_frequency() {
    let path = Path::new(*crate::common::ROOT).join("data/history/sp500.csv");
    let weekly = Selection {
        frequency: Some(Frequency::Weekly),
        ..Selection::default()
    };
    let table = data::read(&path, &weekly).unwrap();
    assert_eq!(table.frequency, Frequency::Daily);
    let fit = history::fit(table.changes(&weekly).unwrap(), 2).unwrap();
    let calm = &fit.figures[0];
    let turbulent = &fit.figures[1];
    // The calm regime's vol below the index's long-run 16%, the turbulent one's
    // above it, and the turbulent regime the rarer.
    assert!(
        calm.annual_vol[0] < 0.16 && turbulent.annual_vol[0] > 0.2,
        "{:?}",
        fit.figures
    );
    assert!(turbulent.long_run_share < 0.5);
    // The smoothed probabilities put late 2008 in the turbulent regime.
    let october_2008 = fit
        .changes
        .dates
        .iter()
        .position(|d| d.to_string().as_str() >= "2008-10-15")
        .unwrap();
    assert!(fit.smoothed[october_2008][1] > 0.99);
}

#[test]
fn mutated_history_files_never_panic_and_every_refusal_names_the_file() {
    // Seeded mutations of a valid two-series file: cells blanked, replaced by
    // text, zero, a negative or a huge number, lines dropped or swapped,
    // characters cut. Each either fits to finite figures or is refused with a
    // message that starts with the file's name.
    let dir = tempfile::tempdir().unwrap();
    let sp500 =
        std::fs::read_to_string(Path::new(*crate::common::ROOT).join("data/history/sp500.csv"))
            .unwrap();
    let base: Vec<String> = std::iter::once("date,spx,other".to_string())
        .chain(
            sp500
                .lines()
                .skip(1)
                .take(260)
                .enumerate()
                .map(|(i, line)| {
                    let (date, close) = line.split_once(',').unwrap();
                    format!("{date},{close},{}", 50.0 + (i as f64 * 0.37).sin())
                }),
        )
        .collect();
    let mut rng = common::Rng(0x5eed_ca1b);
    let (mut fitted, mut refused) = (0, 0);
    for case in 0..120 {
        let mut lines = base.clone();
        for _ in 0..1 + rng.below(3) {
            let at = 1 + rng.below(lines.len() - 1);
            match rng.below(7) {
                0 => {
                    lines.remove(at);
                }
                1 => {
                    let other = 1 + rng.below(lines.len() - 1);
                    lines.swap(at, other);
                }
                2 => {
                    let cut = rng.below(lines[at].len());
                    lines[at].truncate(cut);
                }
                _ => {
                    let mut cells: Vec<String> = lines[at].split(',').map(String::from).collect();
                    let column = rng.below(cells.len());
                    cells[column] = ["", "abc", "0", "-3", "1e308", "NaN"][rng.below(6)].into();
                    lines[at] = cells.join(",");
                }
            }
        }
        let path = write(
            dir.path(),
            &format!("case{case}.csv"),
            &(lines.join("\n") + "\n"),
        );
        let selection = Selection {
            levels: if rng.chance(0.5) {
                vec!["other".into()]
            } else {
                Vec::new()
            },
            ..Selection::default()
        };
        let result = data::read(&path, &selection)
            .and_then(|table| table.changes(&selection))
            .map_err(history::FitError::from)
            .and_then(|changes| history::fit(changes, 1 + rng.below(2)));
        match result {
            Ok(fit) => {
                fitted += 1;
                assert!(fit.log_likelihood.is_finite(), "case {case}");
                assert!(fit
                    .parameters
                    .iter()
                    .all(|p| p.value.is_finite() && p.standard_error.is_none_or(f64::is_finite)));
            }
            Err(error) => {
                refused += 1;
                let message = error.to_string();
                let named = message.starts_with(&path.display().to_string())
                    || message.contains(&format!("case{case}"))
                    || message.contains("changes of");
                assert!(named, "case {case}: {message}");
            }
        }
    }
    // Both outcomes occur: the mutations neither all break nor all spare the file.
    assert!(
        fitted > 0 && refused > 0,
        "{fitted} fitted, {refused} refused"
    );
}

#[test]
fn a_transition_probability_on_its_bound_has_no_standard_error_and_the_rest_do() {
    // Three regimes of daily S&P 500 changes: the fit never moves from the
    // turbulent regime straight to the calm one (the probability goes to 0),
    // so that entry is held fixed and the others' errors come from the rest
    // of the information.
    let path = Path::new(*crate::common::ROOT).join("data/history/sp500.csv");
    let all = Selection::default();
    let table = data::read(&path, &all).unwrap();
    let fit = history::fit(table.changes(&all).unwrap(), 3).unwrap();
    let on_bound: Vec<&str> = fit
        .parameters
        .iter()
        .filter(|p| p.standard_error.is_none())
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(on_bound, ["p[turbulent->calm]"]);
    let bound = fit
        .parameters
        .iter()
        .find(|p| p.standard_error.is_none())
        .unwrap();
    assert!(
        bound.value < stormglass_core::calibrate::markov::AT_BOUND,
        "{}",
        bound.value
    );
    for p in fit.parameters.iter().filter(|p| p.standard_error.is_some()) {
        let error = p.standard_error.unwrap();
        assert!(error.is_finite() && error > 0.0, "{}: {error}", p.name);
    }
    // The vols rise from calm to turbulent.
    let vols: Vec<f64> = fit.figures.iter().map(|f| f.annual_vol[0]).collect();
    assert!(vols[0] < vols[1] && vols[1] < vols[2], "{vols:?}");
}

#[test]
fn a_history_fit_is_bit_identical_for_any_thread_count() {
    // The starts run in parallel; the best is chosen in the starts' order.
    let path = Path::new(*crate::common::ROOT).join("data/history/sp500.csv");
    let weekly = Selection {
        frequency: Some(Frequency::Weekly),
        ..Selection::default()
    };
    let fit_on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let table = data::read(&path, &weekly).unwrap();
            history::fit(table.changes(&weekly).unwrap(), 2).unwrap()
        })
    };
    let (one, three) = (fit_on(1), fit_on(3));
    assert_eq!(one.log_likelihood.to_bits(), three.log_likelihood.to_bits());
    assert_eq!(one.params, three.params);
    assert_eq!(one.smoothed, three.smoothed);
    let bits = |fit: &history::HistoryFit| -> Vec<u64> {
        fit.parameters
            .iter()
            .flat_map(|p| {
                [
                    p.value.to_bits(),
                    p.standard_error.unwrap_or(f64::NAN).to_bits(),
                ]
            })
            .collect()
    };
    assert_eq!(bits(&one), bits(&three));
}

#[test]
fn the_names_as_takes_are_the_bundled_scenarios_assets_with_their_units_and_a_report() {
    use stormglass_core::calibrate::data::{EngineUnit, ENGINE_ASSETS};
    let path = std::path::Path::new(*crate::common::ROOT).join("scenarios/default.toml");
    let s = stormglass_core::scenario::load(&path).unwrap();
    let anchors = stormglass_core::history::builtin();
    for (name, unit) in ENGINE_ASSETS {
        let a = s.asset_index(name).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(s.assets[a].is_log(), unit == EngineUnit::Price, "{name}");
        let reported = s.report.core_assets.iter().any(|c| c == name)
            || anchors.anchors.iter().any(|x| x.asset == name);
        assert!(reported, "{name} has neither a report role nor an anchor");
    }
}
