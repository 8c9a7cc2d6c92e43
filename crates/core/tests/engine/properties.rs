//! Property tests: any valid scenario simulates without panicking and gives finite
//! figures; any scenario with one invalid value is refused with an error.

use std::fmt::Write;
use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use stormglass_core::engine::{RunOptions, Silent};
use stormglass_core::scenario;

#[derive(Debug, Clone)]
struct AssetSpec {
    process: usize,
    initial: f64,
    drift: f64,
    vol: f64,
    kappa: f64,
    theta: f64,
    xi: f64,
    jump_intensity: f64,
    jump_mean: f64,
    jump_sd: f64,
}

#[derive(Debug, Clone)]
struct Spec {
    steps: usize,
    regimes: usize,
    intensities: Vec<f64>,
    assets: Vec<AssetSpec>,
    /// Vectors whose normalised Gram matrix is each regime's correlation (PSD by construction).
    factors: Vec<Vec<Vec<f64>>>,
    dated_event: Option<(usize, f64, f64)>,
    poisson_rate: f64,
    state_coefficient: f64,
}

fn asset() -> impl Strategy<Value = AssetSpec> {
    (
        0usize..4,
        0.5f64..100.0,
        -1.0f64..1.0,
        0.0f64..1.0,
        0.1f64..10.0,
        0.001f64..0.5,
        0.0f64..2.0,
        0.0f64..20.0,
        -0.3f64..0.3,
        0.0f64..0.3,
    )
        .prop_map(
            |(
                process,
                initial,
                drift,
                vol,
                kappa,
                theta,
                xi,
                jump_intensity,
                jump_mean,
                jump_sd,
            )| AssetSpec {
                process,
                initial,
                drift,
                vol,
                kappa,
                theta,
                xi,
                jump_intensity,
                jump_mean,
                jump_sd,
            },
        )
}

fn spec() -> impl Strategy<Value = Spec> {
    (1usize..4, 1usize..4, 1usize..40).prop_flat_map(|(regimes, assets, steps)| {
        (
            Just(steps),
            Just(regimes),
            prop::collection::vec(0.0f64..20.0, regimes * regimes),
            prop::collection::vec(asset(), assets),
            prop::collection::vec(
                prop::collection::vec(prop::collection::vec(-1.0f64..1.0, 3), 2 * assets),
                regimes,
            ),
            prop::option::of((0usize..40, -0.2f64..0.2, 0.0f64..0.1)),
            0.0f64..10.0,
            -3.0f64..3.0,
        )
            .prop_map(
                |(
                    steps,
                    regimes,
                    intensities,
                    assets,
                    factors,
                    dated_event,
                    poisson_rate,
                    state_coefficient,
                )| Spec {
                    steps,
                    regimes,
                    intensities,
                    assets,
                    factors,
                    dated_event,
                    poisson_rate,
                    state_coefficient,
                },
            )
    })
}

/// Renders a spec as scenario TOML.
fn render(spec: &Spec) -> String {
    let mut t = String::new();
    writeln!(t, "[scenario]\nname = \"prop\"\nstart_date = 2026-01-05\nhorizon_steps = {}\ncalendar = \"weekdays\"\nsample_paths = 5\n", spec.steps).unwrap();
    let drivers: Vec<String> = spec
        .assets
        .iter()
        .enumerate()
        .flat_map(|(a, s)| {
            let mut d = vec![format!("a{a}")];
            if s.process == 1 {
                d.push(format!("a{a}_variance"));
            }
            d
        })
        .collect();
    writeln!(t, "[correlation]\ndrivers = {drivers:?}\n").unwrap();
    for r in 0..spec.regimes {
        writeln!(t, "[regimes.r{r}]").unwrap();
        let exits: Vec<String> = (0..spec.regimes)
            .filter(|&j| j != r)
            .map(|j| format!("r{j} = {:?}", spec.intensities[r * spec.regimes + j]))
            .collect();
        writeln!(t, "intensities = {{ {} }}", exits.join(", ")).unwrap();
        let vectors = &spec.factors[r][..drivers.len()];
        let norm = |v: &Vec<f64>| v.iter().map(|x| x * x).sum::<f64>();
        let rows: Vec<String> = (0..drivers.len())
            .map(|i| {
                let cells: Vec<String> = (0..drivers.len())
                    .map(|j| {
                        if i == j {
                            "1.0".to_string()
                        } else {
                            let dot: f64 =
                                vectors[i].iter().zip(&vectors[j]).map(|(a, b)| a * b).sum();
                            let denominator = (norm(&vectors[i]) * norm(&vectors[j])).sqrt();
                            let c = if denominator > 0.0 {
                                dot / denominator
                            } else {
                                0.0
                            };
                            format!("{c:?}")
                        }
                    })
                    .collect();
                format!("[{}]", cells.join(", "))
            })
            .collect();
        writeln!(t, "correlation = [{}]\n", rows.join(", ")).unwrap();
    }
    if spec.regimes > 1 && spec.assets[0].process != 2 {
        writeln!(t, "[[regime_chain.state_dependence]]\nfrom = \"r0\"\nto = \"r1\"\nfeature = \"drawdown.a0\"\ncoefficient = {:?}\n", spec.state_coefficient).unwrap();
    }
    for (a, s) in spec.assets.iter().enumerate() {
        // A beta asset needs a base that is not one: asset 0 never is.
        let kind = if s.process == 3 && (a == 0 || spec.assets[0].process == 3) {
            0
        } else {
            s.process
        };
        let process = ["gbm", "heston", "ou", "beta"][kind];
        writeln!(
            t,
            "[assets.a{a}]\nprocess = \"{process}\"\ninitial = {:?}",
            s.initial
        )
        .unwrap();
        match kind {
            0 => writeln!(t, "drift = {:?}\nvol = {:?}", s.drift, s.vol).unwrap(),
            3 => writeln!(
                t,
                "drift = {:?}\nvol = {:?}\nbetas = {{ a0 = {:?} }}",
                s.drift,
                s.vol,
                2.0 * s.drift
            )
            .unwrap(),
            1 => writeln!(
                t,
                "drift = {:?}\nmean_reversion = {:?}\nlong_run_variance = {:?}\nvol_of_vol = {:?}",
                s.drift, s.kappa, s.theta, s.xi
            )
            .unwrap(),
            _ => writeln!(
                t,
                "mean = {:?}\nmean_reversion = {:?}\nvol = {:?}",
                s.drift, s.kappa, s.vol
            )
            .unwrap(),
        }
        writeln!(
            t,
            "jump_intensity = {:?}\njump_mean = {:?}\njump_sd = {:?}\n",
            s.jump_intensity, s.jump_mean, s.jump_sd
        )
        .unwrap();
    }
    if let Some((day, mean, sd)) = spec.dated_event {
        let date = chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap()
            + chrono::Duration::days(day.min(spec.steps) as i64);
        writeln!(t, "[[events]]\nname = \"dated\"\ndate = {date}\nduration_days = 3\njumps = {{ a0 = {{ mean = {mean:?}, sd = {sd:?} }} }}\n").unwrap();
    }
    writeln!(t, "[[events]]\nname = \"poisson\"\nrate_per_year = {:?}\nduration_days = 2\ntransition_multipliers = [{{ from = \"*\", to = \"*\", factor = 1.5 }}]\nadjustments = {{ a0 = {{ vol_scale = 1.5, drift_shift = 0.1 }} }}\n", spec.poisson_rate).unwrap();
    // With two log-price assets: a flow loop, a drawdown-triggered event and a
    // correlation statistic on them.
    let log_assets: Vec<usize> = (0..spec.assets.len())
        .filter(|&a| {
            let kind = spec.assets[a].process;
            kind != 2 && !(kind == 3 && (a == 0 || spec.assets[0].process == 3))
        })
        .collect();
    if let [first, second, ..] = log_assets[..] {
        writeln!(t, "[flows]\nequity = \"a{first}\"\ncurrency = \"a{second}\"\nthreshold = {:?}\nequity_impact = 0.5\ncurrency_impact = 0.5\n", spec.state_coefficient.abs() / 10.0).unwrap();
        writeln!(t, "[[events]]\nname = \"put\"\ndrawdown_trigger = {{ asset = \"a{first}\", threshold = 0.05 }}\ncooldown_days = 5\njumps = {{ a{second} = {{ mean = 0.01 }} }}\n").unwrap();
        writeln!(
            t,
            "[statistics]\ncorrelations = [[\"a{first}\", \"a{second}\"]]\n"
        )
        .unwrap();
    }
    t
}

/// Whether the spec's chain can pass an exit probability of 0.5 per step.
fn exits_too_fast(spec: &Spec) -> bool {
    (0..spec.regimes).any(|r| {
        let total: f64 = (0..spec.regimes)
            .filter(|&j| j != r)
            .map(|j| {
                let state = if r == 0 && j == 1 && spec.assets[0].process != 2 {
                    spec.state_coefficient.max(0.0).exp()
                } else {
                    1.0
                };
                spec.intensities[r * spec.regimes + j] * 1.5 * state
            })
            .sum();
        total / 252.0 > 0.5
    })
}

proptest! {
    // The saved failures are read from, and new ones written to,
    // properties.proptest-regressions beside this file. (By default proptest
    // would look in tests/proptest-regressions/properties.txt, having found
    // this binary's main.rs next to this file.)
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn valid_scenarios_simulate_without_panicking(spec in spec()) {
        prop_assume!(!exits_too_fast(&spec));
        let text = render(&spec);
        let scenario = scenario::load_str(&text, Path::new("prop.toml"))
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let options = RunOptions { paths: 40, seed: 3, threads: 2, sample_paths: 5 };
        let run = stormglass_core::run_scenario(&scenario, &options, &Silent).unwrap();
        for asset in &run.summary.assets {
            prop_assert!(asset.max_drawdown.mean.is_finite(), "{text}");
            prop_assert!(asset.realized_vol.mean >= 0.0, "{text}");
        }
        let shares: f64 = run.summary.regimes.iter().map(|r| r.time_share.mean).sum();
        prop_assert!((shares - 1.0).abs() < 1e-5, "time shares sum to {shares}");
    }

    #[test]
    fn one_invalid_value_is_always_refused(spec in spec(), mutation in 0usize..9) {
        prop_assume!(!exits_too_fast(&spec));
        let text = render(&spec);
        let broken = match mutation {
            0 => text.replacen("initial = ", "initial = -", 1).replacen("process = \"ou\"", "process = \"gbm\"", 1),
            1 => text.replacen("jump_sd = ", "jump_sd = -1", 1),
            2 => text.replacen("horizon_steps = ", "horizon_steps = 0 #", 1),
            3 => text.replacen("jump_intensity", "jump_intensty", 1),
            4 => text.replacen("a0 = { mean", "nope = { mean", 1).replacen("adjustments = { a0", "adjustments = { nope", 1),
            5 => text.replacen("correlation = [", "correlation = [[2.0], ", 1),
            6 => text.replacen("rate_per_year = ", "rate_per_year = -", 1),
            7 => text.replacen("jump_mean = ", "jump_mean = nan #", 1),
            _ => text.replacen("[scenario]", "[scenario]\nseed = -4", 1),
        };
        prop_assume!(broken != text);
        let result = scenario::load_str(&broken, Path::new("prop.toml"));
        prop_assert!(result.is_err(), "accepted:\n{broken}");
        let message = result.unwrap_err().to_string();
        prop_assert!(message.contains("prop.toml"), "{message}");
    }
}
