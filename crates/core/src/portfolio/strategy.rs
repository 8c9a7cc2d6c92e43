//! Strategies: a portfolio file's `[trading]`, `[states.NAME]` and `[[rules]]`,
//! checked against the scenario and the file's own positions.
//!
//! A strategy is a state machine over target weights. The book as written is
//! the state `book`; each `[states.NAME]` sets some positions' weights or hedge
//! ratios (or takes every other position to cash). A rule moves the book from
//! one of its `from` states to its `to` state at the first close at which all
//! its conditions hold (signals, regimes, drawdowns, levels, dates, the
//! strategy's own return or drawdown since it entered its state). Rules are
//! tried in the file's order: the first that holds wins the step, and the
//! others wait (the stated precedence). The positions the new state changes
//! trade `delay_days` closes later at that close's prices, paying `cost_bps`
//! on the value traded; then no rule fires for `cooldown_days` closes.
//!
//! Every portfolio with rules is also valued without them (its buy-and-hold
//! twin, same trading costs and bands at its rebalancing dates), on the same
//! paths, so the difference the rules make is paired path by path.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::spec::{Holding, Position};
use crate::scenario::check::{Bound, Checker};
use crate::scenario::Scenario;

/// The state the book starts in: its positions as written.
pub const BOOK_STATE: &str = "book";
/// Most states and rules one strategy may declare.
pub const MAX_STATES: usize = 32;
pub const MAX_RULES: usize = 64;
/// The longest look-back or wait a rule may ask for, in trading days (ten years).
pub const MAX_RULE_DAYS: u32 = 2520;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTrading {
    cost_bps: Option<f64>,
    band: Option<f64>,
    cooldown_days: Option<u32>,
    delay_days: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawState {
    #[serde(default)]
    description: String,
    #[serde(default)]
    weights: IndexMap<String, f64>,
    #[serde(default)]
    hedge_ratios: IndexMap<String, f64>,
    #[serde(default)]
    to_cash: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum Names {
    One(String),
    Many(Vec<String>),
}

impl Names {
    fn list(&self) -> Vec<String> {
        match self {
            Names::One(name) => vec![name.clone()],
            Names::Many(names) => names.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    name: String,
    #[serde(default)]
    description: String,
    from: Option<Names>,
    to: String,
    when: RawWhen,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWhen {
    signal: Option<Names>,
    quiet: Option<Names>,
    quiet_days: Option<u32>,
    regime: Option<String>,
    not_regime: Option<String>,
    drawdown_above: Option<f64>,
    #[serde(default)]
    drawdown_of: IndexMap<String, f64>,
    #[serde(default)]
    above: IndexMap<String, f64>,
    #[serde(default)]
    below: IndexMap<String, f64>,
    after: Option<toml::Value>,
    before: Option<toml::Value>,
    state_return_below: Option<f64>,
    state_return_above: Option<f64>,
    state_drawdown_above: Option<f64>,
    days_in_state: Option<u32>,
}

/// How a book trades: its costs, its rebalancing band, and, for a strategy,
/// how long it waits after acting and how late its orders fill.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Trading {
    /// Cost of a trade, in basis points of the value traded (an asset's or
    /// deposit's value, a forward's notional, an option's premium, a hedge's
    /// notional).
    pub cost_bps: f64,
    /// At a rebalancing date, a position trades back to its weight only when
    /// it has drifted further than this from it (0: always).
    pub band: f64,
    /// Closes after a rule fires during which no rule fires.
    pub cooldown_steps: usize,
    /// Closes between the close a rule fires at and the close its trades fill at.
    pub delay_steps: usize,
}

impl Default for Trading {
    fn default() -> Self {
        Trading {
            cost_bps: 0.0,
            band: 0.0,
            cooldown_steps: 0,
            delay_steps: 1,
        }
    }
}

/// A strategy: the states its rules move the book between, and the rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Strategy {
    /// `states[0]` is [`BOOK_STATE`].
    pub states: Vec<State>,
    pub rules: Vec<Rule>,
}

/// Target weights and hedge ratios, one per position of the portfolio (in
/// its order, the residual cash last).
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub name: String,
    pub description: String,
    pub weights: Vec<f64>,
    pub hedge_ratios: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub description: String,
    /// The states it acts in, as a bit mask of state indices.
    pub from: u64,
    pub to: usize,
    /// Every condition must hold at the close.
    pub when: Vec<Trigger>,
    /// The conditions in words, for reports.
    pub text: String,
}

impl Rule {
    pub fn acts_in(&self, state: usize) -> bool {
        self.from & (1 << state) != 0
    }
}

/// One condition of a rule, read at a close from what is known at it.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// One of these signals (indices into the scenario's signal rules) holds.
    Signal(Vec<usize>),
    /// None of these signals has held at any of the last `steps` closes.
    Quiet {
        signals: Vec<usize>,
        steps: usize,
    },
    /// The regime of the step that ended at the close is (or is not) this one.
    InRegime(usize),
    OutOfRegime(usize),
    /// The book's fall from its running peak is at least this fraction.
    Drawdown(f64),
    /// A price asset's fall from its running peak is at least `fall`.
    AssetDrawdown {
        asset: usize,
        fall: f64,
    },
    /// An asset's level is at least / at most `level` (in its own units).
    Above {
        asset: usize,
        level: f64,
    },
    Below {
        asset: usize,
        level: f64,
    },
    /// The close is on or after / before this grid point.
    After(usize),
    Before(usize),
    /// The book's return since it entered its current state is at most / at
    /// least this fraction.
    StateReturnBelow(f64),
    StateReturnAbove(f64),
    /// Its fall from its peak since it entered its current state.
    StateDrawdown(f64),
    /// It has held its current state for at least this many closes.
    DaysInState(usize),
}

impl Trigger {
    /// The assets whose levels it reads.
    pub fn asset(&self) -> Option<usize> {
        match self {
            Trigger::AssetDrawdown { asset, .. }
            | Trigger::Above { asset, .. }
            | Trigger::Below { asset, .. } => Some(*asset),
            _ => None,
        }
    }

    pub fn reads_signals(&self) -> bool {
        matches!(self, Trigger::Signal(_) | Trigger::Quiet { .. })
    }
}

/// The file's trading terms, defaults filled in.
pub(super) fn trading(raw: &RawTrading, check: &mut Checker<'_>) -> Trading {
    let defaults = Trading::default();
    let cost_bps = check.range_explained(
        "trading.cost_bps",
        raw.cost_bps.unwrap_or(defaults.cost_bps),
        Bound::Closed(0.0),
        Bound::Closed(1000.0),
        " (basis points of the value traded: 5 = 0.05%)",
    );
    let band = check.range_explained(
        "trading.band",
        raw.band.unwrap_or(defaults.band),
        Bound::Closed(0.0),
        Bound::Closed(1.0),
        " (a weight's drift before it is traded back: 0.02 = 2 points)",
    );
    let days =
        |check: &mut Checker<'_>, key: &str, value: Option<u32>, default: usize, max: u32| {
            let days = value.unwrap_or(default as u32);
            if days > max {
                check.error(
                    key,
                    format!("{days} is out of range; valid: 0 to {max} trading days"),
                );
            }
            days.min(max) as usize
        };
    Trading {
        cost_bps,
        band,
        cooldown_steps: days(
            check,
            "trading.cooldown_days",
            raw.cooldown_days,
            defaults.cooldown_steps,
            252,
        ),
        delay_steps: days(
            check,
            "trading.delay_days",
            raw.delay_days,
            defaults.delay_steps,
            21,
        ),
    }
}

/// Checks the states and rules of a portfolio whose positions (the residual
/// cash last) are `positions`.
pub(super) fn build(
    raw_states: &IndexMap<String, RawState>,
    raw_rules: &[RawRule],
    positions: &[Position],
    base: usize,
    scenario: &Scenario,
    check: &mut Checker<'_>,
) -> Option<Strategy> {
    if !check.list_length("states", "states", raw_states.len() + 1, MAX_STATES)
        | !check.list_length("rules", "rules", raw_rules.len(), MAX_RULES)
    {
        return None;
    }
    let position_names: Vec<String> = positions
        .iter()
        .filter(|p| p.name != super::spec::RESIDUAL_CASH)
        .map(|p| p.name.clone())
        .collect();
    let book = State {
        name: BOOK_STATE.to_string(),
        description: "the book as written".to_string(),
        weights: positions.iter().map(|p| p.weight).collect(),
        hedge_ratios: positions.iter().map(|p| p.hedge_ratio).collect(),
    };
    let mut states = vec![book.clone()];
    for (name, raw) in raw_states {
        let key = format!("states.{name}");
        check.identifier(&key, "state name", name);
        if name == BOOK_STATE {
            check.error(
                &key,
                format!("`{BOOK_STATE}` is the state the book starts in, its positions as written; name this state otherwise"),
            );
        }
        let mut state = State {
            name: name.clone(),
            description: raw.description.clone(),
            weights: book.weights.clone(),
            hedge_ratios: book.hedge_ratios.clone(),
        };
        if raw.to_cash {
            state.weights.iter_mut().for_each(|w| *w = 0.0);
        }
        for (position, &weight) in &raw.weights {
            let at = format!("{key}.weights.{position}");
            let Some(k) = check.lookup(&at, "position", position, &position_names) else {
                continue;
            };
            check.range(&at, weight, Bound::Closed(-100.0), Bound::Closed(100.0));
            state.weights[k] = weight;
        }
        for (position, &ratio) in &raw.hedge_ratios {
            let at = format!("{key}.hedge_ratios.{position}");
            let Some(k) = check.lookup(&at, "position", position, &position_names) else {
                continue;
            };
            check.range_explained(
                &at,
                ratio,
                Bound::Closed(0.0),
                Bound::Closed(1.0),
                " (the share of the currency exposure hedged)",
            );
            if positions[k].holding == Holding::Forward {
                check.error(
                    &at,
                    "a forward is itself a currency position: set its weight in `weights` instead",
                );
            } else if positions[k].currency == base && ratio > 0.0 {
                check.error(
                    &at,
                    "the position is priced in the base currency, so it has no currency exposure to hedge",
                );
            }
            state.hedge_ratios[k] = ratio;
        }
        if raw.weights.is_empty() && raw.hedge_ratios.is_empty() && !raw.to_cash {
            check.error(
                &key,
                "sets nothing: give `weights`, `hedge_ratios` or `to_cash = true`",
            );
        }
        // The residual cash is what the others leave over.
        let funded: f64 = positions
            .iter()
            .zip(&state.weights)
            .filter(|(p, _)| p.holding.is_funded() && p.name != super::spec::RESIDUAL_CASH)
            .map(|(_, w)| w)
            .sum();
        if let Some(last) = state.weights.last_mut() {
            *last = 1.0 - funded;
        }
        states.push(state);
    }
    let state_names: Vec<String> = states.iter().map(|s| s.name.clone()).collect();
    check.unique_names(
        "rule name",
        raw_rules.iter().map(|r| r.name.as_str()),
        |i| format!("rules[{i}].name"),
    );
    let mut rules = Vec::new();
    for (i, raw) in raw_rules.iter().enumerate() {
        let key = format!("rules[{i}]");
        check.identifier(&format!("{key}.name"), "rule name", &raw.name);
        let to = check.lookup(&format!("{key}.to"), "state", &raw.to, &state_names);
        let mut from = 0u64;
        match &raw.from {
            None => {
                for s in 0..states.len() {
                    if Some(s) != to {
                        from |= 1 << s;
                    }
                }
            }
            Some(names) => {
                for (j, name) in names.list().iter().enumerate() {
                    let at = match names {
                        Names::One(_) => format!("{key}.from"),
                        Names::Many(_) => format!("{key}.from[{j}]"),
                    };
                    if let Some(s) = check.lookup(&at, "state", name, &state_names) {
                        if Some(s) == to {
                            check.error(
                                &at,
                                format!("`{name}` is the state the rule leads to: a rule moves the book from one state to another"),
                            );
                        }
                        from |= 1 << s;
                    }
                }
            }
        }
        let when = triggers(&raw.when, &format!("{key}.when"), scenario, check);
        if when.is_empty() {
            check.error(
                format!("{key}.when"),
                "gives no condition: for example when = { signal = [\"S3\", \"S5\"] } or when = { drawdown_above = 0.10 }",
            );
        }
        let Some(to) = to else { continue };
        if from == 0 {
            check.error(
                format!("{key}.from"),
                format!("the rule acts in no state: it leads to `{}`, and a rule moves the book from another state; declare a [states.NAME] for it to lead to or from", raw.to),
            );
        }
        rules.push(Rule {
            name: raw.name.clone(),
            description: raw.description.clone(),
            from,
            to,
            text: describe(&when, scenario),
            when,
        });
    }
    for (j, later) in rules.iter().enumerate() {
        for (i, earlier) in rules[..j].iter().enumerate() {
            if earlier.when == later.when
                && earlier.from & later.from != 0
                && earlier.to != later.to
            {
                let shared = (0..states.len())
                    .find(|s| earlier.from & later.from & (1 << s) != 0)
                    .map_or("", |s| states[s].name.as_str());
                check.error(
                    format!("rules[{j}]"),
                    format!(
                        "contradicts rule `{}` (rules[{i}]): both fire on the same conditions in state `{shared}` but lead to different states (`{}` and `{}`); give them different conditions or `from` states",
                        earlier.name, states[earlier.to].name, states[later.to].name
                    ),
                );
            }
        }
    }
    Some(Strategy { states, rules })
}

fn triggers(
    raw: &RawWhen,
    key: &str,
    scenario: &Scenario,
    check: &mut Checker<'_>,
) -> Vec<Trigger> {
    let mut when = Vec::new();
    let signal_names: Vec<String> = scenario
        .signals
        .as_ref()
        .map(|s| s.rules.iter().map(|r| r.name.to_string()).collect())
        .unwrap_or_default();
    let signals = |check: &mut Checker<'_>, field: &str, names: &Names| -> Vec<usize> {
        let list = names.list();
        if list.is_empty() {
            check.error(
                format!("{key}.{field}"),
                "names no signal: give one or more of S1 to S5",
            );
        }
        if signal_names.is_empty() {
            check.error(
                format!("{key}.{field}"),
                "the scenario computes no signals (it has no [signals] table)",
            );
            return Vec::new();
        }
        list.iter()
            .enumerate()
            .filter_map(|(j, name)| {
                let at = match names {
                    Names::One(_) => format!("{key}.{field}"),
                    Names::Many(_) => format!("{key}.{field}[{j}]"),
                };
                check.lookup(&at, "signal", &name.to_ascii_uppercase(), &signal_names)
            })
            .collect()
    };
    if let Some(names) = &raw.signal {
        when.push(Trigger::Signal(signals(check, "signal", names)));
    }
    match (&raw.quiet, raw.quiet_days) {
        (Some(names), days) => {
            let days = days.unwrap_or(21);
            if !(1..=252).contains(&days) {
                check.error(
                    format!("{key}.quiet_days"),
                    format!("{days} is out of range; valid: 1 to 252 trading days"),
                );
            }
            when.push(Trigger::Quiet {
                signals: signals(check, "quiet", names),
                steps: days.max(1) as usize,
            });
        }
        (None, Some(_)) => check.error(
            format!("{key}.quiet_days"),
            "belongs with `quiet`, the signals that must stay silent",
        ),
        (None, None) => {}
    }
    let regime_names: Vec<String> = scenario.regimes.iter().map(|r| r.name.clone()).collect();
    if let Some(name) = &raw.regime {
        if let Some(r) = check.lookup(&format!("{key}.regime"), "regime", name, &regime_names) {
            when.push(Trigger::InRegime(r));
        }
    }
    if let Some(name) = &raw.not_regime {
        if let Some(r) = check.lookup(&format!("{key}.not_regime"), "regime", name, &regime_names) {
            when.push(Trigger::OutOfRegime(r));
        }
    }
    let fall = |check: &mut Checker<'_>, at: &str, value: f64| {
        check.range_explained(
            at,
            value,
            Bound::Open(0.0),
            Bound::Open(1.0),
            " (a fall from the running peak: 0.1 = 10%)",
        )
    };
    if let Some(d) = raw.drawdown_above {
        when.push(Trigger::Drawdown(fall(
            check,
            &format!("{key}.drawdown_above"),
            d,
        )));
    }
    let asset_names: Vec<String> = scenario.assets.iter().map(|a| a.name.clone()).collect();
    for (name, &d) in &raw.drawdown_of {
        let at = format!("{key}.drawdown_of.{name}");
        let Some(a) = check.lookup(&at, "asset", name, &asset_names) else {
            continue;
        };
        if !scenario.assets[a].is_log() {
            check.error(
                &at,
                format!("`{name}` is a level (a rate or a volatility), which has no drawdown; use `above` or `below`"),
            );
        }
        when.push(Trigger::AssetDrawdown {
            asset: a,
            fall: fall(check, &at, d),
        });
    }
    for (table, above) in [(&raw.above, true), (&raw.below, false)] {
        for (name, &level) in table {
            let at = format!("{key}.{}.{name}", if above { "above" } else { "below" });
            let Some(a) = check.lookup(&at, "asset", name, &asset_names) else {
                continue;
            };
            if !level.is_finite() {
                check.error(&at, format!("{level} must be a finite level"));
            } else if scenario.assets[a].is_log() && !(level > 0.0) {
                check.error(
                    &at,
                    format!(
                        "`{name}` is a price, always above 0: a level of {level} is never crossed"
                    ),
                );
            }
            when.push(if above {
                Trigger::Above { asset: a, level }
            } else {
                Trigger::Below { asset: a, level }
            });
        }
    }
    for (value, after) in [(&raw.after, true), (&raw.before, false)] {
        let Some(value) = value else { continue };
        let at = format!("{key}.{}", if after { "after" } else { "before" });
        match crate::scenario::run_date(value, &scenario.dates) {
            Ok(date) => {
                let step = scenario.dates.partition_point(|d| *d < date);
                when.push(if after {
                    Trigger::After(step)
                } else {
                    Trigger::Before(step)
                });
            }
            Err(message) => check.error(at, message),
        }
    }
    if let Some(r) = raw.state_return_below {
        when.push(Trigger::StateReturnBelow(check.range_explained(
            &format!("{key}.state_return_below"),
            r,
            Bound::Open(-1.0),
            Bound::Closed(10.0),
            " (the return since the state was entered: -0.05 = a 5% loss)",
        )));
    }
    if let Some(r) = raw.state_return_above {
        when.push(Trigger::StateReturnAbove(check.range_explained(
            &format!("{key}.state_return_above"),
            r,
            Bound::Open(-1.0),
            Bound::Closed(10.0),
            " (the return since the state was entered: 0.1 = a 10% gain)",
        )));
    }
    if let Some(d) = raw.state_drawdown_above {
        when.push(Trigger::StateDrawdown(fall(
            check,
            &format!("{key}.state_drawdown_above"),
            d,
        )));
    }
    if let Some(days) = raw.days_in_state {
        if !(1..=MAX_RULE_DAYS).contains(&days) {
            check.error(
                format!("{key}.days_in_state"),
                format!("{days} is out of range; valid: 1 to {MAX_RULE_DAYS} trading days"),
            );
        }
        when.push(Trigger::DaysInState(days.max(1) as usize));
    }
    when
}

/// A rule's conditions in words.
pub fn describe(when: &[Trigger], scenario: &Scenario) -> String {
    let signal = |s: &[usize]| -> String {
        let names: Vec<&str> = s
            .iter()
            .filter_map(|&i| scenario.signals.as_ref().map(|x| x.rules[i].name))
            .collect();
        names.join(" or ")
    };
    let asset = |a: usize| scenario.assets[a].name.as_str();
    let percent = |x: f64| {
        format!(
            "{}%",
            crate::scenario::check::number((x * 1000.0).round() / 10.0)
        )
    };
    let date = |t: usize| {
        scenario
            .dates
            .get(t)
            .map_or("after the horizon".to_string(), |d| d.to_string())
    };
    let parts: Vec<String> = when
        .iter()
        .map(|t| match t {
            Trigger::Signal(s) => format!("{} fires", signal(s)),
            Trigger::Quiet { signals, steps } => {
                format!("{} silent for {steps} days", signal(signals))
            }
            Trigger::InRegime(r) => format!("regime is {}", scenario.regimes[*r].name),
            Trigger::OutOfRegime(r) => format!("regime is not {}", scenario.regimes[*r].name),
            Trigger::Drawdown(d) => format!("book down {} from its peak", percent(*d)),
            Trigger::AssetDrawdown { asset: a, fall } => {
                format!("{} down {} from its peak", asset(*a), percent(*fall))
            }
            Trigger::Above { asset: a, level } => format!("{} ≥ {level}", asset(*a)),
            Trigger::Below { asset: a, level } => format!("{} ≤ {level}", asset(*a)),
            Trigger::After(t) => format!("on or after {}", date(*t)),
            Trigger::Before(t) => format!("before {}", date(*t)),
            Trigger::StateReturnBelow(r) => format!("return in state ≤ {}", percent(*r)),
            Trigger::StateReturnAbove(r) => format!("return in state ≥ {}", percent(*r)),
            Trigger::StateDrawdown(d) => format!("down {} in state", percent(*d)),
            Trigger::DaysInState(n) => format!("{n} days in state"),
        })
        .collect();
    parts.join(" and ")
}
