//! Warnings: a scenario that validates but will print figures history cannot
//! defend. They never stop a run; `validate` and `run` print them and
//! `summary.json` records them.

use serde::Serialize;

use super::{ProcessKind, Scenario};
use crate::history::{Anchors, Figure};

/// How far beyond a one-day record a move must be able to reach to be warned about.
pub const RECORD_DAY_FACTOR: f64 = 1.5;

/// Standard deviations of a jump's size counted as "can reach".
const JUMP_REACH_SD: f64 = 4.0;

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
    for (a, asset) in scenario.assets.iter().enumerate() {
        if !asset.is_log() {
            continue;
        }
        let record = |figure: Figure| {
            anchors
                .anchors
                .iter()
                .find(|x| x.asset == asset.name && x.figure == figure)
                .map(|x| x.value)
        };
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
