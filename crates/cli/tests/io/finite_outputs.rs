//! Every scenario the engine accepts runs to finite numbers: random scenarios
//! drawn *inside* the documented ranges (docs/SCENARIOS.md), weighted to their
//! ends, are simulated with the bundled portfolios, an inline portfolio and the
//! stress vectors, and every figure of the summary must be a finite number.
//!
//! Each case starts from the merged default scenario (every block of the model
//! at once: Heston, jumps, OU rates, the Taylor rule, derived yields, carry,
//! flows, signals, events) and redraws many numbers of one to three assets (in
//! every regime) and of some events, with the horizon often at its 50-year
//! maximum. A draw that validation refuses (a range that depends on others,
//! such as the log-price headroom) is skipped and counted; enough must pass for
//! the test to mean something. The draws are deterministic; a longer search:
//!
//! ```text
//! STORMGLASS_FINITE_CASES=2000 cargo test --release --test io finite_outputs -- --nocapture
//! ```
//!
//! (`STORMGLASS_FINITE_SEED` picks another sequence.)

use std::path::Path;

use stormglass_core::engine::{RunOptions, Silent};
use stormglass_core::model::Model;
use stormglass_core::portfolio::{self, BookFiles};
use stormglass_core::scenario;

use crate::common;
use common::Rng;

const DEFAULT_CASES: usize = 40;

/// Draws inside a range, on top of the shared generator.
trait Inside {
    fn inside(&mut self, range: (f64, f64, bool)) -> f64;
}

impl Inside for Rng {
    /// A value in `[lo, hi]`: an end a quarter of the time each, else uniform
    /// (log-uniform when `log`, for ranges spanning orders of magnitude).
    fn inside(&mut self, (lo, hi, log): (f64, f64, bool)) -> f64 {
        let u = self.unit();
        if u < 0.25 {
            lo
        } else if u < 0.5 {
            hi
        } else if log {
            (lo.ln() + self.unit() * (hi.ln() - lo.ln())).exp()
        } else {
            lo + self.unit() * (hi - lo)
        }
    }
}

/// The documented range of `key` for an asset of `process`: `(lo, hi, log)`.
/// Open ends are stepped inside by a small margin.
fn asset_range(process: &str, key: &str) -> Option<(f64, f64, bool)> {
    let price = matches!(process, "gbm" | "heston" | "beta");
    let level = matches!(process, "ou");
    Some(match key {
        "initial" if price => (1e-6, 1e9, true),
        "initial" if level => (-100.0, 100.0, false),
        "drift" if price => (-5.0, 5.0, false),
        "vol" if price && process != "heston" => (0.0, 5.0, false),
        "vol" if level => (0.0, 100.0, false),
        "mean" if level => (-100.0, 100.0, false),
        "mean_reversion" if process == "heston" => (1e-3, 252.0, true),
        "mean_reversion" if level => (0.0, 252.0, false),
        "long_run_variance" => (1e-6, 4.0, true),
        "vol_of_vol" => (0.0, 10.0, false),
        "initial_variance" => (0.0, 4.0, false),
        "jump_intensity" if price || level => (0.0, 252.0, false),
        "jump_mean" if price || level => (-5.0, 5.0, false),
        "jump_sd" if price || level => (0.0, 5.0, false),
        _ => return None,
    })
}

fn redraw_params(table: &mut toml::Table, process: &str, rng: &mut Rng, share: f64) {
    for (key, value) in table.iter_mut() {
        if key == "betas" {
            if let toml::Value::Table(betas) = value {
                for beta in betas.iter_mut().map(|(_, v)| v) {
                    if rng.chance(share) {
                        *beta = toml::Value::Float(rng.inside((-10.0, 10.0, false)));
                    }
                }
            }
            continue;
        }
        if let Some(range) = asset_range(process, key) {
            if (value.is_float() || value.is_integer()) && rng.chance(share) {
                *value = toml::Value::Float(rng.inside(range));
            }
        }
    }
}

fn redraw_jump(jump: &mut toml::Value, rng: &mut Rng, share: f64) {
    if let toml::Value::Table(jump) = jump {
        for (key, range) in [("mean", (-5.0, 5.0, false)), ("sd", (0.0, 5.0, false))] {
            if rng.chance(share) {
                jump.insert(key.into(), toml::Value::Float(rng.inside(range)));
            }
        }
    }
}

/// The merged default scenario with a random share of its numbers redrawn.
fn draw(base: &toml::Table, rng: &mut Rng) -> toml::Table {
    let mut table = base.clone();
    let share = 0.2 + 0.6 * rng.unit();
    if let Some(toml::Value::Table(meta)) = table.get_mut("scenario") {
        meta.remove("end_date");
        meta.remove("horizon_steps");
        // At least a year: the default's dated events must stay inside.
        let years = if rng.chance(0.4) {
            50.0
        } else {
            rng.inside((1.0, 50.0, true))
        };
        meta.insert("horizon_years".into(), toml::Value::Float(years));
    }
    if let Some(toml::Value::Table(assets)) = table.get_mut("assets") {
        // A few assets redrawn hard, so that most draws stay inside the ranges
        // that depend on several values (the log-price headroom) and run.
        let count = assets.len() as u64;
        let chosen: Vec<usize> = (0..1 + rng.next() % 3)
            .map(|_| (rng.next() % count) as usize)
            .collect();
        for (a, (_, asset)) in assets.iter_mut().enumerate() {
            if !chosen.contains(&a) {
                continue;
            }
            let toml::Value::Table(asset) = asset else {
                continue;
            };
            let process = asset
                .get("process")
                .and_then(|p| p.as_str())
                .unwrap_or("")
                .to_string();
            redraw_params(asset, &process, rng, share);
            if let Some(toml::Value::Table(by_regime)) = asset.get_mut("by_regime") {
                for regime in by_regime.iter_mut().map(|(_, v)| v) {
                    if let toml::Value::Table(regime) = regime {
                        redraw_params(regime, &process, rng, share);
                    }
                }
            }
            if process == "heston" {
                // The floor's range is [0, the least of the asset's variances]:
                // drawn inside it, an end half the time.
                let variance = |t: &toml::Table, key: &str| t.get(key).and_then(|v| v.as_float());
                let mut least = variance(asset, "initial_variance")
                    .into_iter()
                    .chain(variance(asset, "long_run_variance"))
                    .fold(f64::INFINITY, f64::min);
                if let Some(toml::Value::Table(by_regime)) = asset.get("by_regime") {
                    for regime in by_regime.values().filter_map(|v| v.as_table()) {
                        least = least.min(variance(regime, "long_run_variance").unwrap_or(least));
                    }
                }
                if least.is_finite() {
                    let share_of_least = if rng.chance(0.5) {
                        (rng.next() % 2) as f64
                    } else {
                        rng.unit()
                    };
                    asset.insert("variance_floor".into(), (least * share_of_least).into());
                }
            }
        }
    }
    if let Some(toml::Value::Array(events)) = table.get_mut("events") {
        for event in events.iter_mut() {
            let toml::Value::Table(event) = event else {
                continue;
            };
            if !rng.chance(0.3) {
                continue;
            }
            if event.contains_key("rate_per_year") && rng.chance(share) {
                let rate = rng.inside((0.0, 252.0, false));
                event.insert("rate_per_year".into(), toml::Value::Float(rate));
            }
            if let Some(toml::Value::Table(jumps)) = event.get_mut("jumps") {
                jumps
                    .iter_mut()
                    .map(|(_, v)| v)
                    .for_each(|j| redraw_jump(j, rng, share));
            }
            if let Some(toml::Value::Table(by_regime)) = event.get_mut("jumps_by_regime") {
                for jumps in by_regime.iter_mut().map(|(_, v)| v) {
                    if let toml::Value::Table(jumps) = jumps {
                        jumps
                            .iter_mut()
                            .map(|(_, v)| v)
                            .for_each(|j| redraw_jump(j, rng, share));
                    }
                }
            }
        }
    }
    // An inline portfolio holding every kind of position, at a random size.
    let value = rng.inside((1.0, 1e15, true));
    let inline = format!(
        r#"name = "every_kind"
base_currency = "EUR"
value = {value:?}
rebalance = "monthly"
[positions.equity]
asset = "spx"
weight = 0.5
hedge_ratio = 0.5
[positions.bond]
treasury = "us10y"
weight = 0.3
[positions.cash]
cash = "JPY"
weight = 0.2
[positions.puts]
option = "put"
underlying = "spx"
implied_vol = "vix"
moneyness = 0.9
tenor_days = 21
weight = 0.5
"#
    );
    table.insert(
        "portfolio".into(),
        toml::Value::Array(vec![toml::Value::Table(inline.parse().unwrap())]),
    );
    table
}

/// Every number of `value` that is not finite, with its path; a `null` (how
/// serde_json writes a NaN or an infinity) counts as not finite.
fn not_finite(value: &serde_json::Value, path: &str, found: &mut Vec<String>) {
    match value {
        serde_json::Value::Null => found.push(format!("{path} = null")),
        serde_json::Value::Number(n) if !n.as_f64().is_some_and(f64::is_finite) => {
            found.push(format!("{path} = {n}"));
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                not_finite(item, &format!("{path}[{i}]"), found);
            }
        }
        // A distribution of no values (a signal that never hit) has no mean:
        // its `count` of 0 says so, and its nulls are not a number gone wrong.
        serde_json::Value::Object(fields) if fields.get("count") == Some(&0.into()) => {}
        serde_json::Value::Object(fields) => {
            // A signal none of whose firings could be judged has no rates
            // (0 of 0), and none has a coverage when no path had the drawdown.
            let judged = ["hits", "false_alarms", "late"]
                .iter()
                .filter_map(|k| fields.get(*k).and_then(|v| v.as_u64()))
                .sum::<u64>();
            let undefined = |key: &str| {
                fields.contains_key("hits")
                    && ((judged == 0 && key.ends_with("_rate"))
                        || (key == "coverage" && fields["hits"] == 0))
                    && fields[key].is_null()
            };
            for (key, item) in fields.iter().filter(|(k, _)| !undefined(k)) {
                not_finite(item, &format!("{path}.{key}"), found);
            }
        }
        _ => {}
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn every_accepted_scenario_runs_to_finite_numbers() {
    let root = Path::new(*crate::common::ROOT).join("scenarios");
    let base = scenario::load::load_file(&root.join("default.toml"))
        .unwrap()
        .merged;
    let cases = env_number("STORMGLASS_FINITE_CASES", DEFAULT_CASES as u64) as usize;
    let mut rng = Rng(env_number("STORMGLASS_FINITE_SEED", 0x5eed_f1a7) | 1);
    let (mut ran, mut refused) = (0usize, 0usize);
    for case in 0..cases {
        let mut table = draw(&base, &mut rng);
        // Loaded as if it sat beside the default, so the portfolio files resolve.
        let origin = root.join("drawn.toml");
        // A draw the headroom refuses is retried on shorter horizons: the
        // longest one it allows is where finiteness is most at risk.
        let mut loaded = None;
        for _ in 0..4 {
            let text = toml::to_string(&table).unwrap();
            match scenario::load_str(&text, &origin) {
                Ok(scenario) => {
                    loaded = Some((scenario, text));
                    break;
                }
                Err(error) => {
                    if std::env::var_os("STORMGLASS_FINITE_VERBOSE").is_some() {
                        println!("case {case} refused: {error}");
                    }
                    let meta = table["scenario"].as_table_mut().unwrap();
                    let years = meta["horizon_years"].as_float().unwrap();
                    meta.insert("horizon_years".into(), (years / 4.0).max(1.0).into());
                }
            }
        }
        let Some((scenario, text)) = loaded else {
            refused += 1;
            continue;
        };
        let model = Model::new(&scenario);
        let Ok(book) = portfolio::load(&scenario, &model, &BookFiles::default()) else {
            refused += 1;
            continue;
        };
        let options = RunOptions {
            paths: 16,
            seed: case as u64,
            threads: 2,
            sample_paths: 2,
        };
        let run = stormglass_core::run_with_portfolios(&scenario, &book, &options, &Silent)
            .unwrap_or_else(|e| panic!("case {case}: {e}\n{text}"));
        let summary = serde_json::to_value(&run.summary).unwrap();
        let mut found = Vec::new();
        not_finite(&summary, "summary", &mut found);
        if !found.is_empty() {
            let dir = std::env::temp_dir().join(format!("stormglass-finite-case-{case}.toml"));
            std::fs::write(&dir, &text).unwrap();
            panic!(
                "case {case}: {} figures are not finite, first {:?}; the scenario is in {}",
                found.len(),
                &found[..found.len().min(8)],
                dir.display()
            );
        }
        ran += 1;
    }
    println!("{ran} scenarios ran to finite numbers, {refused} draws were refused");
    // Refusals are fine (a draw may break a range that depends on others, on
    // every horizon tried), but at least a third must run or the test checks little.
    assert!(
        3 * ran >= cases,
        "only {ran} of {cases} draws were accepted"
    );
}
