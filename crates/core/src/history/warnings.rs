//! Warnings: a scenario that validates but will print figures history cannot
//! defend. They never stop a run; `validate` and `run` print them and
//! `summary.json` records them.

use serde::Serialize;

use super::{Anchors, Figure};
use crate::scenario::{ProcessKind, Scenario};

/// How far beyond a one-day record a move must be able to reach to be warned about.
pub const RECORD_DAY_FACTOR: f64 = 1.5;

/// Standard deviations of a jump's size counted as "can reach".
const JUMP_REACH_SD: f64 = 4.0;

/// Standard deviations of a price's log move over the horizon counted as "can
/// reach" for the level warning.
const LEVEL_REACH_SD: f64 = 4.0;

/// How far past a record level a price must be able to go to be warned about.
const LEVEL_FACTOR: f64 = 10.0;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Warning {
    /// The key path the warning is about.
    pub key: String,
    /// Where that key is written, when it is written in a file.
    pub file: Option<String>,
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{file}:{line}: ")?,
            (Some(file), None) => write!(f, "{file}: ")?,
            _ => {}
        }
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Every warning of `scenario`, held against `anchors` for the one-day records.
pub fn warnings(scenario: &Scenario, anchors: &Anchors) -> Vec<Warning> {
    let mut found = Vec::new();
    let mut warn = |key: String, message: String| {
        let (file, line) = scenario.sources.locate(&key);
        found.push(Warning {
            key,
            file: file.map(|f| f.display().to_string()),
            line,
            message,
        });
    };
    for asset in &scenario.assets {
        if asset.process != ProcessKind::Heston || asset.variance_floor > 0.0 {
            continue;
        }
        let failing: Vec<String> = scenario
            .regimes
            .iter()
            .zip(&asset.params)
            .filter(|(_, p)| 2.0 * p.mean_reversion * p.long_run_variance < p.vol_of_vol.powi(2))
            .map(|(r, p)| {
                format!(
                    "{} (2 kappa theta = {:.3} < xi^2 = {:.3})",
                    r.name,
                    2.0 * p.mean_reversion * p.long_run_variance,
                    p.vol_of_vol.powi(2)
                )
            })
            .collect();
        if !failing.is_empty() {
            warn(
                format!("assets.{}.vol_of_vol", asset.name),
                format!(
                    "the Feller condition fails in {}: the variance will sit at zero on some paths, and a VIX read from it below anything on record; set `variance_floor` (docs/MODEL.md, \"Heston\")",
                    failing.join(", ")
                ),
            );
        }
    }
    let horizon = scenario.steps() as f64 * scenario.dt;
    let vols = price_vols(scenario);
    let record_of = |asset: &str, figure: Figure| {
        anchors
            .anchors
            .iter()
            .find(|x| x.asset == asset && x.figure == figure)
            .map(|x| x.value)
    };
    for (a, asset) in scenario.assets.iter().enumerate() {
        if !asset.is_log() {
            continue;
        }
        let record = |figure: Figure| record_of(&asset.name, figure);
        let drift = asset
            .params
            .iter()
            .map(|p| p.drift.abs())
            .fold(0.0, f64::max);
        let reach = drift * horizon + LEVEL_REACH_SD * vols[a] * horizon.sqrt();
        let (highest, lowest) = (asset.initial * reach.exp(), asset.initial * (-reach).exp());
        let beyond = [
            (record(Figure::LevelHigh), highest, true),
            (record(Figure::LevelLow), lowest, false),
        ];
        for (record, reached, high) in beyond {
            let Some(record) = record else { continue };
            let past = if high {
                reached > record * LEVEL_FACTOR
            } else {
                reached < record / LEVEL_FACTOR
            };
            if past {
                warn(
                    format!("assets.{}", asset.name),
                    format!(
                        "{} can reach {reached:.4} within the horizon (its largest drift and {LEVEL_REACH_SD} sd of its largest vol), {LEVEL_FACTOR} times past its record {} of {record} ({})",
                        asset.name,
                        if high { "high" } else { "low" },
                        anchors.origin
                    ),
                );
            }
        }
    }
    for (a, asset) in scenario.assets.iter().enumerate() {
        if !asset.is_log() {
            continue;
        }
        let record = |figure: Figure| record_of(&asset.name, figure);
        let (Some(worst), Some(best)) = (record(Figure::WorstDay), record(Figure::BestDay)) else {
            continue;
        };
        let (low, high) = (
            (worst.ln_1p() * RECORD_DAY_FACTOR).exp_m1(),
            (best.ln_1p() * RECORD_DAY_FACTOR).exp_m1(),
        );
        let mut reaches: Vec<(String, f64, f64)> = Vec::new();
        for event in &scenario.events {
            for jump in event.jumps.iter().flatten().filter(|j| j.asset == a) {
                let reach = JUMP_REACH_SD * jump.sd;
                reaches.push((
                    format!("events.{}.jumps.{}", event.name, asset.name),
                    jump.mean - reach,
                    jump.mean + reach,
                ));
            }
        }
        for (regime, p) in scenario.regimes.iter().zip(&asset.params) {
            if p.jump_intensity > 0.0 {
                let reach = JUMP_REACH_SD * p.jump_sd;
                reaches.push((
                    format!("assets.{}.by_regime.{}.jump_mean", asset.name, regime.name),
                    p.jump_mean - reach,
                    p.jump_mean + reach,
                ));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (key, least, most) in reaches {
            let (least, most) = (least.exp_m1(), most.exp_m1());
            if (least < low || most > high) && seen.insert(key.clone()) {
                warn(
                    key,
                    format!(
                        "one jump of {} can reach {:+.1}% to {:+.1}% in a day (mean +- {JUMP_REACH_SD} sd), beyond {RECORD_DAY_FACTOR} times its records ({:+.1}% and {:+.1}%, {})",
                        asset.name,
                        least * 100.0,
                        most * 100.0,
                        worst * 100.0,
                        best * 100.0,
                        anchors.origin
                    ),
                );
            }
        }
    }
    found
}

/// Each price's largest vol over the regimes, in log terms per sqrt(year): a
/// GBM's `vol`, a Heston asset's square root of its largest `long_run_variance`
/// or `initial_variance`, a beta asset's own vol with its betas' share of its
/// bases' vols (added as if independent, the bases resolved in as many passes
/// as the longest chain). Level assets count 0.
fn price_vols(scenario: &Scenario) -> Vec<f64> {
    let largest = |f: &dyn Fn(&crate::scenario::AssetParams) -> f64,
                   params: &[crate::scenario::AssetParams]| {
        params.iter().map(f).fold(0.0, f64::max)
    };
    let mut vols: Vec<f64> = scenario
        .assets
        .iter()
        .map(|asset| match asset.process {
            ProcessKind::Gbm | ProcessKind::Beta => largest(&|p| p.vol, &asset.params),
            ProcessKind::Heston => largest(&|p| p.long_run_variance, &asset.params)
                .max(asset.initial_variance)
                .sqrt(),
            _ => 0.0,
        })
        .collect();
    for _ in 0..scenario.assets.len() {
        let mut changed = false;
        for (a, asset) in scenario.assets.iter().enumerate() {
            if asset.process != ProcessKind::Beta {
                continue;
            }
            let from_bases = asset
                .betas
                .iter()
                .map(|betas| {
                    betas
                        .iter()
                        .map(|&(base, beta)| (beta * vols[base]).powi(2))
                        .sum::<f64>()
                })
                .fold(0.0, f64::max);
            let own = largest(&|p| p.vol, &asset.params);
            let vol = (own * own + from_bases).sqrt();
            if vol > vols[a] {
                vols[a] = vol;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    vols
}
