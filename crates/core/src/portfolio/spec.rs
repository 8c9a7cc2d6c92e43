//! Portfolio files: the TOML a user writes, checked once against the scenario
//! into [`Portfolio`]s whose names are resolved to asset and currency indices.
//!
//! A portfolio file and an inline `[[portfolio]]` table of a scenario share one
//! format. Errors name the file, the line and the key, like the scenario's.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use std::path::Path;

use indexmap::IndexMap;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::pricing::OptionKind;
use super::strategy::{Strategy, Trading};
use crate::history::Warning;
use crate::scenario::check::{Bound, Checker};
use crate::scenario::load::{self, SourceFile, Sources};
use crate::scenario::{Scenario, ScenarioError};

/// Trading days in a month: the default tenor of rolled options.
pub const MONTH_TRADING_DAYS: u32 = 21;
/// Tolerance of a declared weight sum or notional total.
const SUM_TOLERANCE: f64 = 1e-9;

/// The largest portfolio value: a quadrillion in the base currency leaves the
/// P&L of any bounded path (see the scenario's ranges) far inside f64.
pub const MAX_VALUE: f64 = 1e15;
/// The name of the base-currency cash that holds what the weights leave over.
pub const RESIDUAL_CASH: &str = "residual_cash";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPortfolio {
    name: String,
    #[serde(default)]
    description: String,
    base_currency: String,
    value: Option<f64>,
    rebalance: Option<Rebalance>,
    weights_sum: Option<f64>,
    notional_total: Option<f64>,
    #[serde(default)]
    loss_thresholds: Vec<f64>,
    positions: IndexMap<String, RawPosition>,
    trading: Option<super::strategy::RawTrading>,
    #[serde(default)]
    states: IndexMap<String, super::strategy::RawState>,
    #[serde(default)]
    rules: Vec<super::strategy::RawRule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPosition {
    asset: Option<String>,
    cash: Option<String>,
    forward: Option<String>,
    treasury: Option<String>,
    maturity_years: Option<f64>,
    option: Option<OptionKind>,
    underlying: Option<String>,
    implied_vol: Option<String>,
    moneyness: Option<f64>,
    tenor_days: Option<u32>,
    weight: Option<f64>,
    notional: Option<f64>,
    hedge_ratio: Option<f64>,
}

/// How often the book returns to its weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rebalance {
    /// Buy and hold.
    Never,
    Daily,
    Weekly,
    Monthly,
    Quarterly,
    Annually,
}

impl Rebalance {
    /// Steps between rebalancings (trading days).
    pub fn every_steps(self) -> Option<usize> {
        match self {
            Rebalance::Never => None,
            Rebalance::Daily => Some(1),
            Rebalance::Weekly => Some(5),
            Rebalance::Monthly => Some(21),
            Rebalance::Quarterly => Some(63),
            Rebalance::Annually => Some(252),
        }
    }
}

/// A checked portfolio.
#[derive(Debug, Clone)]
pub struct Portfolio {
    pub name: String,
    pub description: String,
    /// Where it was written: a file, or a scenario's `portfolio[i]`.
    pub origin: String,
    /// SHA-256 of the portfolio's text (a file) or table (inline), hex.
    pub hash: String,
    /// Index into `Scenario::currencies`.
    pub base: usize,
    /// The starting value, in the base currency.
    pub value: f64,
    pub rebalance: Rebalance,
    /// Losses (fractions of the starting value) whose probability is reported.
    pub loss_thresholds: Vec<f64>,
    pub positions: Vec<Position>,
    /// Positions that check but cannot do what they look like they do (one
    /// whose base-currency value cannot move, a hedge with nothing to hedge).
    pub warnings: Vec<Warning>,
    /// Its costs and rebalancing band, given a `[trading]` table or rules.
    pub trading: Option<Trading>,
    /// Its rules, if it has any: then the run values it twice, with the rules
    /// (`strategy.NAME.*`) and without (`portfolio.NAME.*`).
    pub strategy: Option<Strategy>,
}

/// One line of a portfolio.
#[derive(Debug, Clone)]
pub struct Position {
    pub name: String,
    pub holding: Holding,
    /// The currency the holding is valued in (index into `Scenario::currencies`).
    pub currency: usize,
    /// The starting value as a fraction of the portfolio's (negative: short). For an
    /// option overlay, the underlying notional covered at every roll.
    pub weight: f64,
    /// Share of the position's currency exposure sold forward into the base currency.
    pub hedge_ratio: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Holding {
    /// Units of a simulated asset, valued at its level.
    Asset { asset: usize },
    /// A deposit accruing its currency's short rate.
    Cash,
    /// A forward purchase of the position's currency against the base currency,
    /// held as its two legs (covered interest parity): a deposit in the foreign
    /// currency and a loan of the same starting value in the base currency, each
    /// accruing its short rate. Unfunded: it starts at 0 and is struck again at
    /// every rebalancing; a negative weight sells the currency forward.
    Forward,
    /// A constant-maturity par Treasury priced off a simulated yield.
    Treasury {
        yield_asset: usize,
        maturity_years: f64,
    },
    /// Options bought at every roll, held to expiry.
    Option(OptionSpec),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionSpec {
    pub kind: OptionKind,
    pub underlying: usize,
    /// The level asset read as the implied volatility (decimal).
    pub implied_vol: usize,
    /// Strike over spot at each roll.
    pub moneyness: f64,
    pub tenor_steps: usize,
}

impl Holding {
    /// A short name for tables.
    pub fn kind(&self) -> &'static str {
        match self {
            Holding::Asset { .. } => "asset",
            Holding::Cash => "cash",
            Holding::Forward => "forward",
            Holding::Treasury { .. } => "treasury",
            Holding::Option(spec) => match spec.kind {
                OptionKind::Put => "put",
                OptionKind::Call => "call",
                OptionKind::Straddle => "straddle",
            },
        }
    }

    /// Funded holdings carry the portfolio's value; option overlays and
    /// forwards start at 0.
    pub fn is_funded(&self) -> bool {
        !matches!(self, Holding::Option(_) | Holding::Forward)
    }
}

/// A sum for a message, without the last bits of rounding (0.8999999999999999).
fn tidy(x: f64) -> String {
    let rounded = if x == 0.0 || !x.is_finite() {
        x
    } else {
        // A tiny (subnormal) sum has no finite scale: rounding it would make NaN.
        let scale = 10f64.powi(11 - x.abs().log10().floor() as i32);
        if scale.is_finite() {
            (x * scale).round() / scale
        } else {
            x
        }
    };
    crate::scenario::check::number(rounded)
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads a portfolio file and checks it against `scenario`, whose assets start
/// at the levels `start`.
pub fn load_file(
    path: &Path,
    scenario: &Scenario,
    start: &[f64],
) -> Result<Portfolio, ScenarioError> {
    load_file_with(path, scenario, start, &[])
}

/// [`load_file`] with the `settings` naming this file's portfolio applied.
pub fn load_file_with(
    path: &Path,
    scenario: &Scenario,
    start: &[f64],
    settings: &[BookSetting],
) -> Result<Portfolio, ScenarioError> {
    let text = read(path, load::FileKind::Portfolio)?;
    let mut table = load::parse_table(&text, path)?;
    let applied = apply_settings(&mut table, settings, &path.display().to_string())?;
    let sources = Sources {
        files: vec![SourceFile {
            path: path.to_path_buf(),
            text: text.clone(),
        }],
        ..Sources::default()
    };
    check(
        &table,
        &sources,
        String::new(),
        path.display().to_string(),
        sha256_hex(&(text + &applied)),
        scenario,
        start,
    )
}

/// A key of a portfolio set to a value without editing its file (a sweep's
/// `--vary portfolio.NAME.KEY=...`): `key` is written as in the file, a rule
/// chosen by its name (`rules.signals_clear.when.quiet_days`).
#[derive(Debug, Clone, PartialEq)]
pub struct BookSetting {
    pub portfolio: String,
    pub key: String,
    pub value: toml::Value,
}

impl BookSetting {
    /// `portfolio.NAME.KEY` as a setting of `value`, or `None` for any other key.
    pub fn parse(key: &str, value: toml::Value) -> Option<BookSetting> {
        let (portfolio, key) = key.strip_prefix("portfolio.")?.split_once('.')?;
        Some(BookSetting {
            portfolio: portfolio.to_string(),
            key: key.to_string(),
            value,
        })
    }
}

/// Applies the `settings` that name the portfolio of `table` (from `origin`);
/// what was applied, as lines for the portfolio's hash.
fn apply_settings(
    table: &mut toml::Table,
    settings: &[BookSetting],
    origin: &str,
) -> Result<String, ScenarioError> {
    let name = table
        .get("name")
        .and_then(toml::Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut applied = String::new();
    for setting in settings.iter().filter(|s| s.portfolio == name) {
        set_key(table, &setting.key, setting.value.clone()).map_err(|message| {
            ScenarioError::Invalid(vec![crate::scenario::Diagnostic {
                file: Some(origin.into()),
                line: None,
                key: format!("portfolio.{name}.{}", setting.key),
                message,
            }])
        })?;
        applied.push_str(&format!("\n# set {} = {}", setting.key, setting.value));
    }
    Ok(applied)
}

/// Sets `key` (dotted; an element of an array of tables chosen by its
/// `name`, `rules.NAME`) in `table`: every table on the way must exist, the
/// key itself may be new.
fn set_key(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    let mut here = table;
    let mut at = 0;
    while at + 1 < parts.len() {
        let part = parts[at];
        let known: Vec<String> = here.keys().cloned().collect();
        let Some(next) = here.get_mut(part) else {
            return Err(load::unknown_name("key", part, &known));
        };
        here = match next {
            toml::Value::Table(inner) => {
                at += 1;
                inner
            }
            toml::Value::Array(items) => {
                let names: Vec<String> = items
                    .iter()
                    .filter_map(|i| i.get("name").and_then(toml::Value::as_str))
                    .map(String::from)
                    .collect();
                let name = parts[at + 1];
                let Some(index) = names.iter().position(|n| n == name) else {
                    return Err(format!(
                        "`{part}` is a list chosen by name: {}",
                        load::unknown_name("entry", name, &names)
                    ));
                };
                if at + 2 >= parts.len() {
                    return Err(format!(
                        "`{part}.{name}` is a whole entry: name one of its keys"
                    ));
                }
                at += 2;
                match &mut items[index] {
                    toml::Value::Table(inner) => inner,
                    _ => return Err(format!("`{part}` holds no tables")),
                }
            }
            _ => return Err(format!("`{part}` is a value, not a table")),
        };
    }
    let last = parts[parts.len() - 1];
    if here.get(last).is_some_and(|v| v.is_table() || v.is_array()) {
        return Err(format!("`{last}` is a table or a list, not a value"));
    }
    here.insert(last.to_string(), value);
    Ok(())
}

/// Reads a TOML file, with the scenario loader's errors for a missing, empty or
/// directory path.
pub(super) fn read(path: &Path, kind: load::FileKind) -> Result<String, ScenarioError> {
    load::read_text_of(path, kind)
}

/// Checks the scenario's inline portfolio `index`.
pub fn load_inline(
    index: usize,
    scenario: &Scenario,
    start: &[f64],
) -> Result<Portfolio, ScenarioError> {
    load_inline_with(index, scenario, start, &[])
}

/// [`load_inline`] with the `settings` naming its portfolio applied.
pub fn load_inline_with(
    index: usize,
    scenario: &Scenario,
    start: &[f64],
    settings: &[BookSetting],
) -> Result<Portfolio, ScenarioError> {
    let mut table = scenario.inline_portfolios[index].clone();
    let origin_file = scenario
        .sources
        .files
        .first()
        .map(|f| f.path.display().to_string())
        .unwrap_or_default();
    apply_settings(&mut table, settings, &origin_file)?;
    let table = &table;
    let text = toml::to_string(table).unwrap_or_default();
    let origin = scenario
        .sources
        .files
        .first()
        .map(|f| f.path.display().to_string())
        .unwrap_or_default();
    check(
        table,
        &scenario.sources,
        format!("portfolio[{index}]"),
        format!("{origin}: portfolio[{index}]"),
        sha256_hex(&text),
        scenario,
        start,
    )
}

fn check(
    table: &toml::Table,
    sources: &Sources,
    prefix: String,
    origin: String,
    hash: String,
    scenario: &Scenario,
    start: &[f64],
) -> Result<Portfolio, ScenarioError> {
    let raw: RawPortfolio = load::deserialize_table(table, sources, &prefix)?;
    let mut check = Checker::with_prefix(sources, prefix);
    let portfolio = build(raw, origin, hash, scenario, start, &mut check);
    check.finish(portfolio)
}

/// The dollar value of one unit of currency `c` when assets stand at `levels`.
pub fn usd_per_unit(scenario: &Scenario, levels: &[f64], c: usize) -> f64 {
    match scenario.currencies[c].fx {
        None => 1.0,
        Some((a, crate::scenario::FxQuote::UsdPerUnit)) => levels[a],
        Some((a, crate::scenario::FxQuote::UnitsPerUsd)) => 1.0 / levels[a],
    }
}

fn build(
    raw: RawPortfolio,
    origin: String,
    hash: String,
    scenario: &Scenario,
    start: &[f64],
    check: &mut Checker<'_>,
) -> Option<Portfolio> {
    check.identifier("name", "portfolio name", &raw.name);
    let lengths_ok = check.list_length(
        "positions",
        "positions",
        raw.positions.len(),
        crate::scenario::check::MAX_POSITIONS,
    ) & check.list_length(
        "loss_thresholds",
        "loss thresholds",
        raw.loss_thresholds.len(),
        crate::scenario::check::MAX_POSITIONS,
    );
    if !lengths_ok {
        return None;
    }
    let currency_names: Vec<String> = scenario.currencies.iter().map(|c| c.name.clone()).collect();
    let asset_names: Vec<String> = scenario.assets.iter().map(|a| a.name.clone()).collect();
    let base = check.lookup(
        "base_currency",
        "currency",
        &raw.base_currency,
        &currency_names,
    );
    for (i, threshold) in raw.loss_thresholds.iter().enumerate() {
        check.range_explained(
            &format!("loss_thresholds[{i}]"),
            *threshold,
            Bound::Open(0.0),
            Bound::Closed(10.0),
            " (0.1 = a loss of 10%)",
        );
    }
    if raw.positions.is_empty() {
        check.error("positions", "a portfolio needs at least one position, for example [positions.equities] asset = \"spx\", weight = 1.0");
    }

    let mut positions = Vec::new();
    // (position index, notional in its currency) for sizing once the value is known.
    let mut notionals: Vec<(usize, f64)> = Vec::new();
    let mut weight_sum = 0.0;
    let mut any_weight = false;
    for (name, p) in &raw.positions {
        let key = format!("positions.{name}");
        check.identifier(&key, "position name", name);
        if name == RESIDUAL_CASH {
            check.error(
                &key,
                format!("`{RESIDUAL_CASH}` is reserved for the cash the weights leave over"),
            );
        }
        let kinds = [
            p.asset.is_some(),
            p.cash.is_some(),
            p.forward.is_some(),
            p.treasury.is_some(),
            p.option.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            check.error(
                &key,
                "give exactly one of `asset`, `cash`, `forward`, `treasury` or `option`",
            );
            continue;
        }
        if p.treasury.is_none() && p.maturity_years.is_some() {
            check.error(
                format!("{key}.maturity_years"),
                "belongs to a `treasury` position",
            );
        }
        let option_keys = p.underlying.is_some()
            || p.implied_vol.is_some()
            || p.moneyness.is_some()
            || p.tenor_days.is_some();
        if p.option.is_none() && option_keys {
            check.error(
                &key,
                "`underlying`, `implied_vol`, `moneyness` and `tenor_days` belong to an `option` position",
            );
        }
        let (holding, currency) = if let Some(asset) = &p.asset {
            let Some(a) = check.lookup(&format!("{key}.asset"), "asset", asset, &asset_names)
            else {
                continue;
            };
            if !(start[a] != 0.0) {
                check.error(
                    format!("{key}.asset"),
                    format!("`{asset}` starts at 0, so no position in it can be sized"),
                );
            }
            (Holding::Asset { asset: a }, scenario.asset_currency[a])
        } else if let Some(cash) = &p.cash {
            let Some(c) = check.lookup(&format!("{key}.cash"), "currency", cash, &currency_names)
            else {
                continue;
            };
            (Holding::Cash, c)
        } else if let Some(forward) = &p.forward {
            let Some(c) = check.lookup(
                &format!("{key}.forward"),
                "currency",
                forward,
                &currency_names,
            ) else {
                continue;
            };
            if base == Some(c) {
                let others: Vec<&str> = currency_names
                    .iter()
                    .filter(|n| **n != raw.base_currency)
                    .map(String::as_str)
                    .collect();
                check.error(
                    format!("{key}.forward"),
                    format!(
                        "`{forward}` is the portfolio's base currency: a forward buys or sells a foreign currency against it; valid: {}",
                        others.join(", ")
                    ),
                );
            }
            if p.hedge_ratio.is_some() {
                check.error(
                    format!("{key}.hedge_ratio"),
                    "a forward is itself a currency position: scale its `weight` instead of hedging it",
                );
            }
            (Holding::Forward, c)
        } else if let Some(treasury) = &p.treasury {
            let Some(a) = check.lookup(&format!("{key}.treasury"), "asset", treasury, &asset_names)
            else {
                continue;
            };
            let maturity_years = match (p.maturity_years, scenario.assets[a].curve) {
                (Some(m), _) => m,
                (None, Some(curve)) => curve.maturity_years,
                (None, None) => {
                    check.error(
                        format!("{key}.maturity_years"),
                        format!("missing: `{treasury}` is not a `yield` asset with a curve, so give the bond's maturity in years"),
                    );
                    continue;
                }
            };
            if scenario.assets[a].is_log() {
                check.error(
                    format!("{key}.treasury"),
                    format!("`{treasury}` is a price; a Treasury is priced off a yield (a level asset in decimals)"),
                );
            }
            check.range(
                &format!("{key}.maturity_years"),
                maturity_years,
                Bound::Open(0.0),
                Bound::Closed(50.0),
            );
            (
                Holding::Treasury {
                    yield_asset: a,
                    maturity_years,
                },
                scenario.asset_currency[a],
            )
        } else {
            let kind = p.option.unwrap_or(OptionKind::Put);
            let Some(underlying_name) = &p.underlying else {
                check.error(
                    format!("{key}.underlying"),
                    "missing: the asset the options are written on, for example \"spx\"",
                );
                continue;
            };
            let Some(u) = check.lookup(
                &format!("{key}.underlying"),
                "asset",
                underlying_name,
                &asset_names,
            ) else {
                continue;
            };
            if !scenario.assets[u].is_log() {
                check.error(
                    format!("{key}.underlying"),
                    format!("`{underlying_name}` must be a price (gbm, heston or beta asset)"),
                );
            }
            let implied = match &p.implied_vol {
                Some(name) => {
                    check.lookup(&format!("{key}.implied_vol"), "asset", name, &asset_names)
                }
                None => {
                    let found = scenario
                        .assets
                        .iter()
                        .position(|a| a.implied_vol.is_some_and(|iv| iv.of == u));
                    if found.is_none() {
                        check.error(
                            format!("{key}.implied_vol"),
                            format!("missing: no `implied_vol` asset of `{underlying_name}` in the scenario; name the asset to read as implied volatility"),
                        );
                    }
                    found
                }
            };
            let Some(implied_vol) = implied else {
                continue;
            };
            if scenario.assets[implied_vol].is_log() {
                check.error(
                    format!("{key}.implied_vol"),
                    "must be a level asset holding a volatility in decimals (0.2 = 20%)",
                );
            }
            let moneyness = check.range_explained(
                &format!("{key}.moneyness"),
                p.moneyness.unwrap_or(1.0),
                Bound::Open(0.2),
                Bound::Open(5.0),
                " (strike over spot, 0.95 = 5% out of the money for a put)",
            );
            let tenor_days = p.tenor_days.unwrap_or(MONTH_TRADING_DAYS);
            if !(1..=252).contains(&tenor_days) {
                check.error(
                    format!("{key}.tenor_days"),
                    format!("{tenor_days} is out of range; valid: 1 to 252 trading days"),
                );
            }
            (
                Holding::Option(OptionSpec {
                    kind,
                    underlying: u,
                    implied_vol,
                    moneyness,
                    tenor_steps: tenor_days.max(1) as usize,
                }),
                scenario.asset_currency[u],
            )
        };
        let hedge_ratio = check.range_explained(
            &format!("{key}.hedge_ratio"),
            p.hedge_ratio.unwrap_or(0.0),
            Bound::Closed(0.0),
            Bound::Closed(1.0),
            " (the share of the currency exposure hedged)",
        );
        let index = positions.len();
        match (p.weight, p.notional) {
            (Some(w), None) => {
                check.range(
                    &format!("{key}.weight"),
                    w,
                    Bound::Closed(-100.0),
                    Bound::Closed(100.0),
                );
                if holding.is_funded() {
                    weight_sum += w;
                }
                any_weight = true;
            }
            (None, Some(n)) => {
                if !n.is_finite() {
                    check.error(
                        format!("{key}.notional"),
                        format!("{n} must be a finite amount"),
                    );
                }
                notionals.push((index, n));
            }
            _ => {
                check.error(
                    &key,
                    "give exactly one of `weight` (a fraction of the portfolio's value) or `notional` (an amount in the position's currency)",
                );
            }
        }
        positions.push(Position {
            name: name.clone(),
            holding,
            currency,
            weight: p.weight.unwrap_or(0.0),
            hedge_ratio,
        });
    }
    let base = base?;

    // Notionals in base currency at the starting FX rates.
    let base_usd = usd_per_unit(scenario, start, base);
    let mut notional_sum = 0.0;
    let mut funded_notional = 0.0;
    let in_base: Vec<(usize, f64)> = notionals
        .iter()
        .map(|&(i, n)| {
            let b = n * usd_per_unit(scenario, start, positions[i].currency) / base_usd;
            notional_sum += b;
            if positions[i].holding.is_funded() {
                funded_notional += b;
            }
            (i, b)
        })
        .collect();
    if let Some(declared) = raw.notional_total {
        if !((declared - notional_sum).abs() <= SUM_TOLERANCE * declared.abs().max(1.0)) {
            check.error(
                "notional_total",
                format!(
                    "declares {declared} but the positions' notionals add up to {} ({} at the starting FX rates)",
                    tidy(notional_sum),
                    raw.base_currency
                ),
            );
        }
    }
    let value = match raw.value {
        Some(v) => {
            if !(v > 0.0 && v <= MAX_VALUE) {
                check.error(
                    "value",
                    format!(
                        "{} is out of range; valid: (0, {MAX_VALUE:e}] in the base currency",
                        crate::scenario::check::number(v)
                    ),
                );
            }
            v
        }
        None if !notionals.is_empty() && any_weight => {
            check.error("value", "missing: positions mix `weight` and `notional`, so the portfolio's value must be given");
            return None;
        }
        None if !notionals.is_empty() => {
            if !(funded_notional > 0.0 && funded_notional <= MAX_VALUE) {
                check.error("value", format!("missing: the funded notionals add up to {}, so the portfolio's value must be given", crate::scenario::check::number(funded_notional)));
                return None;
            }
            funded_notional
        }
        None => 1_000_000.0,
    };
    for (i, b) in in_base {
        positions[i].weight = b / value;
        if positions[i].holding.is_funded() {
            weight_sum += b / value;
        }
    }
    if let Some(declared) = raw.weights_sum {
        if !((declared - weight_sum).abs() <= SUM_TOLERANCE.max(1e-12 * declared.abs())) {
            check.error(
                "weights_sum",
                format!(
                    "declares {declared} but the funded positions' weights add up to {} (option overlays do not count)",
                    tidy(weight_sum)
                ),
            );
        }
    }
    let warnings = positions
        .iter()
        .filter_map(|position| degenerate(position, base, scenario, check))
        .collect();
    let residual = 1.0 - weight_sum;
    let trades = raw.trading.is_some() || !raw.rules.is_empty() || !raw.states.is_empty();
    // A strategy's trades settle in its base-currency cash, so it always has one.
    if residual.abs() > 1e-12 || trades {
        positions.push(Position {
            name: RESIDUAL_CASH.to_string(),
            holding: Holding::Cash,
            currency: base,
            weight: residual,
            hedge_ratio: 0.0,
        });
    }
    let trading =
        trades.then(|| super::strategy::trading(&raw.trading.clone().unwrap_or_default(), check));
    if !raw.states.is_empty() && raw.rules.is_empty() {
        check.error(
            "states",
            "states without [[rules]] are never entered: add a rule that leads to one",
        );
    }
    let strategy = if raw.rules.is_empty() {
        None
    } else {
        super::strategy::build(&raw.states, &raw.rules, &positions, base, scenario, check)
    };
    Some(Portfolio {
        trading,
        strategy,
        name: raw.name,
        description: raw.description,
        origin,
        hash,
        base,
        value,
        rebalance: raw.rebalance.unwrap_or(Rebalance::Never),
        loss_thresholds: if raw.loss_thresholds.is_empty() {
            vec![0.05, 0.10, 0.20]
        } else {
            raw.loss_thresholds
        },
        positions,
        warnings,
    })
}

/// The warning for a position that cannot do what it looks like it does, if any.
fn degenerate(
    position: &Position,
    base: usize,
    scenario: &Scenario,
    check: &Checker<'_>,
) -> Option<Warning> {
    let key = format!("positions.{}", position.name);
    let base_name = &scenario.currencies[base].name;
    let currency = &scenario.currencies[position.currency].name;
    let (key, message) = match position.holding {
        Holding::Asset { asset } if value_in_base_is_constant(scenario, asset, base) => {
            let asset_name = &scenario.assets[asset].name;
            (
                format!("{key}.asset"),
                format!(
                    "`{asset_name}` is the price of one {base_name} in {currency}, so each unit held is worth one {base_name} in {base_name} on every path: this position's value in {base_name}, the base currency, cannot move. \
                     To hold the view that {base_name} rises against {currency}, sell {currency} forward against {base_name} (with the carry of the two short rates): \
                     [positions.{name}] forward = \"{currency}\", weight = {short}; for the opposite view, weight = {long}",
                    name = position.name,
                    short = tidy(-position.weight),
                    long = tidy(position.weight),
                ),
            )
        }
        _ if position.hedge_ratio > 0.0 && position.currency == base => (
            format!("{key}.hedge_ratio"),
            format!(
                "has no effect: the position is priced in {base_name}, the base currency, so it has no currency exposure to hedge"
            ),
        ),
        Holding::Cash if position.hedge_ratio == 1.0 => (
            format!("{key}.hedge_ratio"),
            format!(
                "a {currency} deposit fully hedged into {base_name} is a {base_name} deposit (covered interest parity): it earns the {base_name} short rate and its value in {base_name} does not move with {currency}. \
                 For the {currency} exposure leave out `hedge_ratio`; for {base_name} cash write cash = \"{base_name}\""
            ),
        ),
        _ => return None,
    };
    let located = check.locate(&key);
    Some(Warning {
        key: located.key,
        file: located.file.map(|f| f.display().to_string()),
        line: located.line,
        message,
    })
}

/// Whether one unit of `asset` is worth the same in `base` on every path: its
/// level times the dollar value of its currency over the base's, as powers of
/// the assets read, cancels out (EUR/USD, a dollar price of one euro, held by a
/// euro investor; USD/JPY priced in yen held by a dollar investor).
fn value_in_base_is_constant(scenario: &Scenario, asset: usize, base: usize) -> bool {
    let mut powers: Vec<(usize, i32)> = vec![(asset, 1)];
    let mut multiply = |a: usize, power: i32| match powers.iter_mut().find(|(b, _)| *b == a) {
        Some((_, p)) => *p += power,
        None => powers.push((a, power)),
    };
    let usd_value = |c: usize| -> Option<(usize, i32)> {
        scenario.currencies[c].fx.map(|(a, quote)| match quote {
            crate::scenario::FxQuote::UsdPerUnit => (a, 1),
            crate::scenario::FxQuote::UnitsPerUsd => (a, -1),
        })
    };
    if let Some((a, power)) = usd_value(scenario.asset_currency[asset]) {
        multiply(a, power);
    }
    if let Some((a, power)) = usd_value(base) {
        multiply(a, -power);
    }
    powers.iter().all(|(_, p)| *p == 0)
}
