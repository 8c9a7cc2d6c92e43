//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::sync::LazyLock;

use stormglass_core::engine::{RunOptions, Silent};
use stormglass_core::scenario::{self, Scenario};
use stormglass_core::Run;

/// The repository's root (where `scenarios/`, `data/` and `portfolios/`
/// are), whichever crate's tests include this module.
pub static ROOT: LazyLock<&'static str> = LazyLock::new(|| {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().unwrap_or(root);
    Box::leak(root.to_string_lossy().into_owned().into_boxed_str())
});

/// The bundled scenarios of the thesis (the textbook ones, gbm, heston and
/// merton, aside).
pub const THESIS_SCENARIOS: [&str; 5] = [
    "default",
    "baseline",
    "classic_risk_off",
    "stagflation",
    "tariff_escalation",
];

/// A bundled scenario by name (panics with the validation message if invalid).
pub fn bundled(name: &str) -> Scenario {
    let path = Path::new(*ROOT)
        .join("scenarios")
        .join(format!("{name}.toml"));
    scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// A scenario from TOML text (panics with the validation message if invalid).
pub fn scenario(text: &str) -> Scenario {
    scenario::load_str(text, Path::new("test.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `scenario` with the given paths, seed and threads.
pub fn run(scenario: &Scenario, paths: u64, seed: u64, threads: usize, sample_paths: usize) -> Run {
    let options = RunOptions {
        paths,
        seed,
        threads,
        sample_paths,
    };
    stormglass_core::run_scenario(scenario, &options, &Silent).expect("run")
}

/// Per-path values of a metric column, as f64.
pub fn column(run: &Run, name: &str) -> Vec<f64> {
    run.simulation
        .column(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .collect()
}

/// Sample mean and its standard error.
pub fn mean_and_se(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

/// Unbiased sample variance.
pub fn variance(values: &[f64]) -> f64 {
    let (mean, _) = mean_and_se(values);
    values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len() as f64 - 1.0)
}

/// A one-asset scenario header over `steps` weekday steps (dt = 1/252).
pub fn header(name: &str, steps: usize) -> String {
    format!(
        "[scenario]\nname = \"{name}\"\nstart_date = 2026-01-05\nhorizon_steps = {steps}\ncalendar = \"weekdays\"\nsample_paths = 0\n"
    )
}

/// Asserts `|estimate - expected| <= k * se`, printing the numbers either way.
pub fn assert_within(what: &str, estimate: f64, expected: f64, se: f64, k: f64) {
    let z = (estimate - expected) / se;
    println!("{what}: estimate {estimate:.6}, expected {expected:.6}, se {se:.2e}, z = {z:.2}");
    assert!(
        z.abs() <= k,
        "{what}: estimate {estimate} differs from {expected} by {z:.2} standard errors (tolerance {k})"
    );
}

/// xorshift64*: a reproducible generator for the seeded input searches
/// (`fuzz_inputs`, `finite_outputs`); enough spread for choosing mutations.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// The seed of the small scenario the calibration tests fit.
pub const FIT_SEED: u64 = 11;

/// A two-regime scenario of two GBM assets and a Poisson event, `eq` at `vol`.
pub fn fit_scenario_text(vol: f64) -> String {
    format!(
        r#"[scenario]
name = "fit_small"
description = "Two GBM assets, two regimes, one Poisson event"
seed = {FIT_SEED}
paths = 2000
start_date = 2026-01-05
horizon_steps = 84
calendar = "weekdays"
sample_paths = 0

[report]
equity = "eq"
dollar = "fx"
core_assets = ["eq", "fx"]

[correlation]
drivers = ["eq", "fx"]

[regimes.calm]
intensities = {{ stress = 0.5 }}

[regimes.stress]
intensities = {{ calm = 2.0 }}

[assets.eq]
process = "gbm"
initial = 100.0
drift = 0.05
vol = {vol}
by_regime.stress = {{ drift = -0.2 }}

[assets.fx]
process = "gbm"
initial = 1.1
vol = 0.08

[[events]]
name = "shock"
rate_per_year = 1.0
duration_days = 5
jumps = {{ eq = {{ mean = -0.05, sd = 0.02 }} }}
"#
    )
}
