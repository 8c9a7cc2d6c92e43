//! The figures at the top of the report: how likely the joint sell-off of US
//! assets is, and the tail risk of each core asset.

use serde::{Deserialize, Serialize};

use crate::engine::Simulation;
use crate::model::Model;
use crate::scenario::ReportRoles;
use crate::stats::TailRisk;

/// Confidence levels of VaR and ES.
pub const CONFIDENCE: [f64; 2] = [0.95, 0.99];

/// Probabilities over paths; `None` where the scenario lacks the asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyNumbers {
    pub equity: String,
    pub dollar: String,
    pub equity_drawdown_threshold: f64,
    pub dollar_fall_threshold: f64,
    /// P(max drawdown of the equity index >= threshold).
    pub p_equity_drawdown: Option<f64>,
    /// P(terminal return of the dollar index <= -threshold).
    pub p_dollar_fall: Option<f64>,
    /// Both on the same path.
    pub p_joint_selloff: Option<f64>,
    /// The report's core assets (`[report] core_assets`).
    pub core_assets: Vec<String>,
    /// Per core log-price asset, of the loss `-terminal_return` (see `stats::TailRisk`).
    pub tail_risk: Vec<AssetTailRisk>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetTailRisk {
    pub asset: String,
    /// At 95% then 99%.
    pub levels: Vec<TailRisk>,
}

impl KeyNumbers {
    pub fn new(roles: &ReportRoles, model: &Model, simulation: &Simulation) -> KeyNumbers {
        KeyNumbers::of_columns(roles, model, simulation.paths, |name| {
            Some(simulation.column(name)?.collect())
        })
    }

    /// The per-path columns these key numbers read: the equity index's
    /// drawdown, the dollar's and each core asset's terminal return.
    pub fn columns(&self) -> Vec<String> {
        key_columns(&self.equity, &self.dollar, &self.core_assets)
    }

    /// The per-path columns the key numbers of a scenario with `roles` read.
    pub fn columns_of(roles: &ReportRoles) -> Vec<String> {
        key_columns(&roles.equity, &roles.dollar, &roles.core_assets)
    }

    /// As [`KeyNumbers::new`], from the per-path columns `column` gives (those
    /// of [`KeyNumbers::columns_of`]) of a run of `paths` paths.
    pub fn of_columns(
        roles: &ReportRoles,
        model: &Model,
        paths: u64,
        column: impl Fn(&str) -> Option<Vec<f64>>,
    ) -> KeyNumbers {
        let drawdowns = column(&format!("{}.max_drawdown", roles.equity));
        let dollar = column(&format!("{}.terminal_return", roles.dollar));
        let paths = paths as f64;
        let share = |hits: usize| hits as f64 / paths;
        let equity_hit = |d: f64| d >= roles.equity_drawdown;
        let dollar_hit = |r: f64| r <= -roles.dollar_fall;
        let p_equity_drawdown = drawdowns
            .as_ref()
            .map(|d| share(d.iter().filter(|v| equity_hit(**v)).count()));
        let p_dollar_fall = dollar
            .as_ref()
            .map(|r| share(r.iter().filter(|v| dollar_hit(**v)).count()));
        let p_joint_selloff = drawdowns.as_ref().zip(dollar.as_ref()).map(|(d, r)| {
            share(
                d.iter()
                    .zip(r)
                    .filter(|(d, r)| equity_hit(**d) && dollar_hit(**r))
                    .count(),
            )
        });
        let tail_risk = roles
            .core_assets
            .iter()
            .filter(|name| model.assets.iter().any(|a| a.name == **name && a.is_log))
            .filter_map(|name| {
                let mut losses: Vec<f64> = column(&format!("{name}.terminal_return"))?
                    .into_iter()
                    .filter(|r| !r.is_nan())
                    .map(|r| -r)
                    .collect();
                losses.sort_unstable_by(f64::total_cmp);
                Some(AssetTailRisk {
                    asset: name.to_string(),
                    levels: CONFIDENCE
                        .iter()
                        .map(|a| TailRisk::of_sorted_losses(&losses, *a))
                        .collect(),
                })
            })
            .collect();
        KeyNumbers {
            equity: roles.equity.clone(),
            dollar: roles.dollar.clone(),
            core_assets: roles.core_assets.clone(),
            equity_drawdown_threshold: roles.equity_drawdown,
            dollar_fall_threshold: roles.dollar_fall,
            p_equity_drawdown,
            p_dollar_fall,
            p_joint_selloff,
            tail_risk,
        }
    }
}

fn key_columns(equity: &str, dollar: &str, core_assets: &[String]) -> Vec<String> {
    let mut columns = vec![
        format!("{equity}.max_drawdown"),
        format!("{dollar}.terminal_return"),
    ];
    columns.extend(
        core_assets
            .iter()
            .map(|asset| format!("{asset}.terminal_return")),
    );
    columns
}
