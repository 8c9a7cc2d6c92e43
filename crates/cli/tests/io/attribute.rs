//! `stormglass attribute`: the paired difference of a mechanism switched off
//! matches a closed form within its paired standard error, common random
//! numbers make that error far smaller than two independent runs', results do
//! not depend on the thread count, bad input is refused clearly, and the
//! command writes its three files.

use std::path::Path;
use std::process::Command;

use stormglass_core::attribute::{self, AttributeOptions, Attribution};
use stormglass_core::engine::{self, RunOptions, Silent};
use stormglass_core::figures::paired::Statistic;
use stormglass_core::model::Model;
use stormglass_core::portfolio::Book;
use stormglass_core::scenario::{self, Mechanism, Scenario};

/// Per-path jump of the log-price when the tariff wave fires.
const JUMP: f64 = -0.05;
/// The wave's rate per year.
const RATE: f64 = 4.0;
/// Trading days simulated.
const STEPS: usize = 126;
const PATHS: u64 = 4000;
const SEED: u64 = 17;

/// One GBM asset (`eq`) and a Poisson event that moves its log-price by
/// exactly [`JUMP`] (sd 0); with `put`, a drawdown-triggered event that only
/// lifts the drift for ten days (it draws nothing, so a path it never
/// touches is the same draw for draw with it on or off).
fn scenario_text(put: bool) -> String {
    let mut text = format!(
        r#"[scenario]
name = "jump_gbm"
description = "One GBM asset with a fixed-size Poisson jump"
seed = {SEED}
paths = {PATHS}
start_date = 2026-01-05
horizon_steps = {STEPS}
calendar = "weekdays"
sample_paths = 0

[report]
equity = "eq"
core_assets = ["eq"]

[assets.eq]
process = "gbm"
initial = 100.0
drift = 0.05
vol = 0.2

[[events]]
name = "wave"
rate_per_year = {RATE:?}
duration_days = 1
jumps = {{ eq = {{ mean = {JUMP:?}, sd = 0.0 }} }}
"#
    );
    if put {
        text.push_str(
            r#"
[[events]]
name = "put"
drawdown_trigger = { asset = "eq", threshold = 0.12 }
cooldown_days = 10
duration_days = 10
adjustments = { eq = { drift_shift = 0.05 } }
"#,
        );
    }
    text
}

fn load(put: bool) -> Scenario {
    scenario::load_str(&scenario_text(put), Path::new("jump_gbm.toml"))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn attribute(scenario: &Scenario, mechanisms: &[Mechanism], threads: usize) -> Attribution {
    attribute::run(
        scenario,
        scenario,
        Path::new("jump_gbm.toml"),
        &[],
        mechanisms,
        &Book::default(),
        AttributeOptions {
            paths: PATHS,
            seed: SEED,
            threads,
        },
        &|_, _| {},
    )
    .expect("attribution runs")
}

/// The terminal log-returns of `scenario`'s paths.
fn log_returns(scenario: &Scenario) -> Vec<f64> {
    let model = Model::new(scenario);
    let options = RunOptions {
        paths: PATHS,
        seed: SEED,
        threads: 0,
        sample_paths: 0,
    };
    let simulation = engine::simulate(&model, &options, &Silent).expect("run");
    simulation
        .column("eq.terminal_return")
        .expect("column")
        .map(f64::ln_1p)
        .collect()
}

// The tolerance of the closed-form checks: the paired difference is the mean
// of n = 4,000 independent per-path differences, so by the central limit
// theorem it is normal about the true difference with the paired standard
// error as its sd (itself estimated to about 1/sqrt(2n) = 1.1%). A correct
// model misses by more than 3 standard errors with probability 0.27%; the
// seed is pinned, so the test is deterministic, and a change of the model
// that shifts the effect by a few percent of its size fails it.

/// Switching the wave off removes, in expectation, exactly its jumps: the
/// wave fires in each step with probability p = 1 - exp(-rate dt)
/// (several arrivals in a step count once), so the firings over N steps are
/// Binomial(N, p) and the mean log-return falls by N p |jump|; the mean
/// simple return, e^{mu T} times E[e^{jump K}] less one, by e^{mu T} (1 -
/// (1 - p + p e^{jump})^N).
#[test]
fn switching_a_fixed_jump_off_moves_the_mean_by_its_closed_form() {
    let full = load(false);
    let model = Model::new(&full);
    assert_eq!(model.steps, STEPS);
    let p = -(-RATE * model.dt).exp_m1();
    let n = STEPS as f64;

    let mut off = full.clone();
    off.switch_off(Mechanism::TariffWaves);
    let (effect, _) = attribute::paired(Statistic::Mean, &log_returns(&full), &log_returns(&off));
    let expected = n * p * JUMP;
    assert!(
        (effect.difference - expected).abs() < 3.0 * effect.se,
        "log-return: paired difference {} ± {} against {expected}",
        effect.difference,
        effect.se
    );

    let result = attribute(&full, &[Mechanism::TariffWaves], 0);
    let e = result
        .effect("tariff_waves", "eq.return.mean")
        .expect("the figure");
    let growth = (0.05 * n * model.dt).exp();
    let expected = growth * ((1.0 - p + p * JUMP.exp()).powf(n) - 1.0);
    assert!(
        (e.difference - expected).abs() < 3.0 * e.se,
        "simple return: paired difference {} ± {} against {expected}",
        e.difference,
        e.se
    );
    // One mechanism: all off is that mechanism off, and nothing interacts.
    let all = result.effect(attribute::ALL, "eq.return.mean").unwrap();
    assert_eq!(all.difference, e.difference);
    let interaction = result
        .effect(attribute::INTERACTION, "eq.return.mean")
        .unwrap();
    assert_eq!(interaction.difference, 0.0);
    assert_eq!(interaction.se, 0.0);
}

/// The put touches few paths and draws nothing: its paired standard error
/// is a small fraction of what two independent runs of as many paths give.
/// Measured with this seed: 0.026 of it for the mean return, 0.039 for the
/// mean drawdown, 0.21 for the return's p05 (a quantile's influence values
/// differ wherever the two runs' densities at the quantile do). The bounds
/// (0.1 for the means, 0.4 for the quantile) fail only if pairing stops
/// cancelling the paths the put leaves alone; independent runs give 1.
#[test]
fn pairing_shrinks_the_error_of_a_coupling_that_barely_changes_the_paths() {
    let result = attribute(&load(true), &[Mechanism::FedPut], 0);
    for (figure, bound) in [
        ("eq.return.mean", 0.1),
        ("eq.drawdown.mean", 0.1),
        ("eq.return.p05", 0.4),
    ] {
        let e = result.effect("fed_put", figure).unwrap();
        let ratio = e.se / e.independent_se;
        eprintln!(
            "{figure}: difference {:.5}, paired se {:.6}, independent se {:.6}, ratio {ratio:.3}",
            e.difference, e.se, e.independent_se
        );
        assert!(ratio < bound, "{figure}: ratio {ratio}");
        // The put lifts the drift after a fall: returns rise, drawdowns shrink.
        assert!(e.z().abs() > 3.0, "{figure}: z {}", e.z());
        let sign = if figure == "eq.drawdown.mean" {
            -1.0
        } else {
            1.0
        };
        assert!(sign * e.difference > 0.0, "{figure}: {}", e.difference);
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let scenario = load(true);
    let mechanisms = scenario.mechanisms_present();
    assert_eq!(mechanisms, vec![Mechanism::FedPut, Mechanism::TariffWaves]);
    let one = attribute(&scenario, &mechanisms, 1);
    let two = attribute(&scenario, &mechanisms, 2);
    assert_eq!(one.csv(), two.csv());
    // The interaction row closes the waterfall: all = Σ one at a time + it.
    for f in 0..one.figures.len() {
        let sum: f64 = one.rows[..2].iter().map(|r| r.effects[f].difference).sum();
        let all = one.row(attribute::ALL).unwrap().effects[f].difference;
        let interaction = one.row(attribute::INTERACTION).unwrap().effects[f].difference;
        assert!((sum + interaction - all).abs() < 1e-12);
    }
}

#[test]
fn bad_mechanisms_are_refused_with_the_nearest_name_or_the_list() {
    let scenario = load(true);
    let named = |names: &[&str]| -> Vec<String> { names.iter().map(|s| s.to_string()).collect() };
    let typo = attribute::choose_mechanisms(&scenario, Some(&named(&["fed_pt"])))
        .unwrap_err()
        .to_string();
    assert!(typo.contains("did you mean `fed_put`"), "{typo}");
    let absent = attribute::choose_mechanisms(&scenario, Some(&named(&["flow_loop"])))
        .unwrap_err()
        .to_string();
    assert!(
        absent.contains("does not have the mechanism `flow_loop`")
            && absent.contains("fed_put, tariff_waves"),
        "{absent}"
    );
    let chosen =
        attribute::choose_mechanisms(&scenario, Some(&named(&["tariff_waves", "fed_put"])))
            .unwrap();
    assert_eq!(chosen, vec![Mechanism::FedPut, Mechanism::TariffWaves]);
    let mut none = load(false);
    none.switch_off(Mechanism::TariffWaves);
    let error = attribute::choose_mechanisms(&none, None).unwrap_err();
    assert!(
        error.to_string().contains("nothing to attribute"),
        "{error}"
    );
}

/// The page parses as XML (as every page of the report does).
fn well_formed(html: &str) {
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(html, options).expect("well-formed");
}

#[test]
fn the_command_writes_the_table_the_record_and_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jump_gbm.toml");
    std::fs::write(&file, scenario_text(true)).unwrap();
    let out = dir.path().join("jump_gbm-attribution");
    let status = Command::new(env!("CARGO_BIN_EXE_stormglass"))
        .args(["attribute", file.to_str().unwrap(), "--paths", "600"])
        .args(["--threads", "1", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let stdout = String::from_utf8_lossy(&status.stdout);
    assert!(stdout.contains("p_equity_drawdown") && stdout.contains("interaction"));

    let csv = std::fs::read_to_string(out.join("attribution.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "mechanism,figure,unit,full,off,difference,se,z,independent_se"
    );
    assert!(csv.contains("\nfed_put,p_equity_drawdown,share,"));
    assert!(csv.contains("\nall,eq.es99,return,"));
    assert!(csv.contains("\ninteraction,eq.return.mean,return,"));

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("attribution.json")).unwrap())
            .unwrap();
    assert_eq!(json["paths"], 600);
    assert_eq!(json["seed"], SEED);
    assert_eq!(json["scenario"]["name"], "jump_gbm");
    assert!(json["scenario"]["hash"]
        .as_str()
        .is_some_and(|h| !h.is_empty()));
    assert_eq!(json["mechanisms"][0]["name"], "fed_put");
    assert!(json["mechanisms"][0]["description"]
        .as_str()
        .is_some_and(|d| d.contains("Fed put")));
    assert_eq!(
        json["rows"].as_array().unwrap().len(),
        csv.lines().count() - 1
    );

    let html = std::fs::read_to_string(out.join("attribution.html")).unwrap();
    well_formed(&html);
    assert!(html.contains("waterfall_00") && html.contains("need not add up"));
    assert!(out.join("charts/waterfall_00.png").exists());

    // A run whose folder has the attribution beside it shows its key numbers.
    let run = Command::new(env!("CARGO_BIN_EXE_stormglass"))
        .args([
            "run",
            file.to_str().unwrap(),
            "--paths",
            "300",
            "--threads",
            "1",
        ])
        .args(["--out", dir.path().join("jump_gbm").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report = std::fs::read_to_string(dir.path().join("jump_gbm/report.html")).unwrap();
    well_formed(&report);
    assert!(report.contains("What drives this run"));
    assert!(report.contains("../jump_gbm-attribution/attribution.html"));

    // A typo fails as bad input, with the nearest name.
    let typo = Command::new(env!("CARGO_BIN_EXE_stormglass"))
        .args([
            "attribute",
            file.to_str().unwrap(),
            "--mechanisms",
            "tarif_waves",
        ])
        .args(["--out", dir.path().join("typo").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(typo.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&typo.stderr).contains("did you mean `tariff_waves`"));
}
