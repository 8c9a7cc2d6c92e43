//! Deterministic stress tests: instantaneous shocks (a historical episode's
//! moves, or a user's vector) applied to a portfolio as it stands at the start.
//!
//! Assets a vector does not shock stay flat, except satellites (`beta`
//! assets), which move by their betas on the shocked assets under the vector's
//! `regime` (the scenario's first regime unless named): a dollar shock moves
//! EUR/USD, an S&P 500 shock the Nasdaq-100. Nothing else is derived: a yield,
//! spread or implied volatility moves only if the vector shocks it.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use std::path::Path;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::pricing::{black_scholes, par_bond_return};
use super::spec::{read, Holding, Portfolio};

/// The largest relative rise of a price in a stress shock (100,000%).
const MAX_PRICE_MOVE: f64 = 1000.0;
use crate::scenario::check::Checker;
use crate::scenario::check::{number, MAX_LEVEL, MAX_PRICE_INITIAL, MIN_PRICE_INITIAL};
use crate::scenario::load::{self, SourceFile, Sources};
use crate::scenario::{FxQuote, ProcessKind, Scenario, ScenarioError, ShortRate};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStressFile {
    stress: Vec<RawStress>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStress {
    name: String,
    #[serde(default)]
    description: String,
    regime: Option<String>,
    shocks: IndexMap<String, RawShock>,
}

/// A number (a relative move of a price, a change of a level) or `{ to = level }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum RawShock {
    Move(f64),
    To { to: f64 },
}

/// A checked stress vector.
#[derive(Debug, Clone)]
pub struct StressVector {
    pub name: String,
    pub description: String,
    pub regime: usize,
    /// Per shocked asset, the change of its state `x` (log for prices, level otherwise).
    pub shocks: Vec<(usize, f64)>,
}

/// One portfolio under one stress vector.
#[derive(Debug, Clone, Serialize)]
pub struct StressResult {
    pub stress: String,
    /// The change of the portfolio's value, as a fraction of its starting value.
    pub pnl: f64,
    /// The same in the base currency.
    pub pnl_amount: f64,
    /// Each position's part of `pnl`.
    pub positions: IndexMap<String, f64>,
    /// `pnl` had every currency hedge been resized to its position's shocked
    /// value: a hedge rebalanced through the episode rather than left at its
    /// starting notional. Equal to `pnl` for a portfolio without hedges.
    pub pnl_rehedged: f64,
}

/// Reads a stress file (an array of `[[stress]]` tables) and checks it against `scenario`.
pub fn load_file(
    path: &Path,
    scenario: &Scenario,
    start: &[f64],
) -> Result<Vec<StressVector>, ScenarioError> {
    let text = read(path, load::FileKind::Stress)?;
    let table = load::parse_table(&text, path)?;
    let sources = Sources {
        files: vec![SourceFile {
            path: path.to_path_buf(),
            text,
        }],
        ..Sources::default()
    };
    let raw: RawStressFile = load::deserialize_table(&table, &sources, "")?;
    let asset_names: Vec<String> = scenario.assets.iter().map(|a| a.name.clone()).collect();
    let regime_names: Vec<String> = scenario.regimes.iter().map(|r| r.name.clone()).collect();
    let mut check = Checker::new(&sources);
    if !check.list_length(
        "stress",
        "stress vectors",
        raw.stress.len(),
        crate::scenario::check::MAX_STRESS_VECTORS,
    ) {
        return check.finish(None);
    }
    check.unique_names(
        "stress vector",
        raw.stress.iter().map(|s| s.name.as_str()),
        |i| format!("stress[{i}].name"),
    );
    let mut vectors = Vec::new();
    for (i, s) in raw.stress.iter().enumerate() {
        if s.name.chars().count() > load::MAX_NAME_CHARS {
            check.error(
                format!("stress[{i}].name"),
                format!(
                    "`{}` is longer than the limit of {} characters",
                    load::shown_name(&s.name),
                    load::MAX_NAME_CHARS
                ),
            );
        }
        let regime = match &s.regime {
            None => 0,
            Some(name) => check
                .lookup(
                    &format!("stress[{i}].regime"),
                    "regime",
                    name,
                    &regime_names,
                )
                .unwrap_or(0),
        };
        let mut shocks = Vec::new();
        for (asset, shock) in &s.shocks {
            let key = format!("stress[{i}].shocks.{asset}");
            let Some(a) = check.lookup(&key, "asset", asset, &asset_names) else {
                continue;
            };
            let spec = &scenario.assets[a];
            // Bounded like the scenario's own inputs, so that no position's
            // repricing can overflow: a price rises at most 1000-fold (the start
            // is at least 1e-6 and at most 1e9), a level moves within the range of
            // an OU asset's `initial`.
            let dx = match (shock, spec.is_log()) {
                (RawShock::Move(m), true) if !(*m > -1.0 && *m <= MAX_PRICE_MOVE) => {
                    check.error(key, format!("{} is out of range; valid: (-1, {MAX_PRICE_MOVE}] (a relative move, -0.57 = a 57% fall)", number(*m)));
                    continue;
                }
                (RawShock::Move(m), true) => m.ln_1p(),
                (RawShock::Move(m), false) if !(m.abs() <= MAX_LEVEL) => {
                    check.error(key, format!("{} is out of range; valid: [-{MAX_LEVEL}, {MAX_LEVEL}] (a change in the asset's units)", number(*m)));
                    continue;
                }
                (RawShock::Move(m), false) => *m,
                (RawShock::To { to }, true)
                    if !(*to >= MIN_PRICE_INITIAL && *to <= MAX_PRICE_INITIAL) =>
                {
                    check.error(
                        key,
                        format!(
                            "{} is out of range; valid: [{}, {}] (a price level)",
                            number(*to),
                            number(MIN_PRICE_INITIAL),
                            number(MAX_PRICE_INITIAL)
                        ),
                    );
                    continue;
                }
                (RawShock::To { to }, true) => (to / start[a]).ln(),
                (RawShock::To { to }, false) if !(to.abs() <= MAX_LEVEL) => {
                    check.error(
                        key,
                        format!(
                            "{} is out of range; valid: [-{MAX_LEVEL}, {MAX_LEVEL}] (a level in the asset's units)",
                            number(*to)
                        ),
                    );
                    continue;
                }
                (RawShock::To { to }, false) => to - start[a],
            };
            if !dx.is_finite() {
                check.error(key, "must be a finite number");
                continue;
            }
            shocks.push((a, dx));
        }
        vectors.push(StressVector {
            name: s.name.clone(),
            description: s.description.clone(),
            regime,
            shocks,
        });
    }
    check.finish(Some(vectors))
}

/// Every asset's change of state under `vector`: the shocks, then satellites by
/// their betas, bases before satellites.
pub fn state_moves(scenario: &Scenario, vector: &StressVector) -> Vec<f64> {
    let n = scenario.assets.len();
    let mut dx = vec![0.0; n];
    let mut shocked = vec![false; n];
    for &(a, d) in &vector.shocks {
        dx[a] = d;
        shocked[a] = true;
    }
    // Satellites of satellites: as many passes as the longest chain, at most n.
    for _ in 0..n {
        let mut changed = false;
        for (a, asset) in scenario.assets.iter().enumerate() {
            if shocked[a] || asset.process != ProcessKind::Beta {
                continue;
            }
            let moved: f64 = asset.betas[vector.regime]
                .iter()
                .map(|&(base, beta)| beta * dx[base])
                .sum();
            if moved != dx[a] {
                dx[a] = moved;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    dx
}

/// The portfolio's P&L under an instantaneous move of every asset by `dx`: no
/// time passes (no carry, no option decay); prices and FX reprice, Treasuries
/// reprice at the shocked yield, options at the shocked spot and implied vol,
/// and hedges pay the FX move on the hedged share.
pub fn apply(
    scenario: &Scenario,
    start: &[f64],
    portfolio: &Portfolio,
    vector: &StressVector,
) -> StressResult {
    let dx = state_moves(scenario, vector);
    let level = |a: usize, shocked: bool| {
        let d = if shocked { dx[a] } else { 0.0 };
        if scenario.assets[a].is_log() {
            start[a] * d.exp()
        } else {
            start[a] + d
        }
    };
    let usd = |c: usize, shocked: bool| match scenario.currencies[c].fx {
        None => 1.0,
        Some((a, FxQuote::UsdPerUnit)) => level(a, shocked),
        Some((a, FxQuote::UnitsPerUsd)) => 1.0 / level(a, shocked),
    };
    let rate = |c: usize, shocked: bool| match scenario.currencies[c].short_rate {
        ShortRate::Constant(r) => r,
        ShortRate::Asset(a) => level(a, shocked),
    };
    let base = portfolio.base;
    let mut positions = IndexMap::new();
    let mut total = 0.0;
    let mut total_rehedged = 0.0;
    for p in &portfolio.positions {
        let c = p.currency;
        let s0 = usd(c, false) / usd(base, false);
        let s1 = usd(c, true) / usd(base, true);
        let start_base = p.weight * portfolio.value;
        let (local0, local1) = match p.holding {
            Holding::Asset { asset } => {
                let local = start_base / s0;
                (local, local * level(asset, true) / level(asset, false))
            }
            // A forward's base-currency loan does not move with the shock: its
            // P&L is its foreign leg's, `local * (s1 - s0)`, as for cash.
            Holding::Cash | Holding::Forward => {
                let local = start_base / s0;
                (local, local)
            }
            Holding::Treasury {
                yield_asset,
                maturity_years,
            } => {
                let local = start_base / s0;
                let r = par_bond_return(
                    level(yield_asset, false),
                    level(yield_asset, true),
                    maturity_years,
                    0.0,
                );
                (local, local * (1.0 + r))
            }
            Holding::Option(spec) => {
                let spot0 = level(spec.underlying, false);
                let contracts = start_base / (spot0 * s0);
                let strike = spec.moneyness * spot0;
                let years = spec.tenor_steps as f64 * scenario.dt;
                let price = |shocked: bool| {
                    black_scholes(
                        spec.kind,
                        level(spec.underlying, shocked),
                        strike,
                        years,
                        level(spec.implied_vol, shocked),
                        rate(c, shocked),
                    )
                };
                // The premium was paid from the overlay's own cash: it starts at 0.
                let premium = contracts * price(false);
                (0.0, contracts * price(true) - premium)
            }
        };
        let (hedge, rehedge) = if c != base {
            let ratio = p.hedge_ratio * (s0 - s1);
            (ratio * local0, ratio * local1)
        } else {
            (0.0, 0.0)
        };
        let pnl = local1 * s1 - local0 * s0 + hedge;
        total += pnl;
        total_rehedged += local1 * s1 - local0 * s0 + rehedge;
        positions.insert(p.name.clone(), pnl / portfolio.value);
    }
    StressResult {
        stress: vector.name.clone(),
        pnl: total / portfolio.value,
        pnl_amount: total,
        positions,
        pnl_rehedged: total_rehedged / portfolio.value,
    }
}
