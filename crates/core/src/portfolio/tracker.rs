//! The per-path portfolio tracker: every portfolio valued on every path at every
//! step, streamed like the engine's own per-path figures (start, one push per
//! step, finish into the path's row), so memory stays one row per path.
//!
//! The market each portfolio reads (asset levels, each currency's dollar value
//! and short rate) is computed once per step for all portfolios; positions then
//! update with multiply-adds over the lanes. Positions are valued in their own
//! currency and translated into the portfolio's base currency; a position's
//! P&L is the sum over steps of its base-currency value change, so the positions'
//! P&Ls add up to the portfolio's exactly (rebalancing moves value between
//! positions without creating any).

// Index loops over the lanes, as in the model: several arrays per lane.
#![allow(clippy::needless_range_loop)]

mod trading;

use std::ops::Range;

use super::pricing::{black_scholes, black_scholes_mark, par_bond_return, payoff};
use super::spec::{Holding, Portfolio, RESIDUAL_CASH};
use super::strategy::Trading;
use crate::engine::{BatchObserver, PathObserver};
use crate::model::{Lanes, Model};
use crate::scenario::{FxQuote, Scenario, ShortRate};

/// What a position holds, with its market inputs as slots of the market arrays.
#[derive(Debug, Clone, Copy)]
enum Leg {
    Asset {
        slot: usize,
    },
    Cash,
    Forward,
    Treasury {
        slot: usize,
        maturity_years: f64,
    },
    Option {
        spec: super::spec::OptionSpec,
        underlying: usize,
        vol: usize,
    },
}

#[derive(Debug, Clone, Copy)]
struct CompiledPosition {
    leg: Leg,
    currency: usize,
    weight: f64,
    hedge_ratio: f64,
    /// Whether any state of its portfolio hedges it (its hedge ratio is per lane).
    may_hedge: bool,
}

#[derive(Debug, Clone)]
struct CompiledPortfolio {
    base: usize,
    value: f64,
    rebalance_every: Option<usize>,
    positions: Range<usize>,
    /// Its costs and band: it trades lane by lane ([`trading`]).
    trading: Option<Trading>,
    /// Its base-currency cash, where trades settle (a traded portfolio has one).
    residual: Option<usize>,
    /// Index into `PortfolioTracker::strategies` when it follows rules.
    strategy: Option<usize>,
    /// An earlier portfolio holding the same book the same way (the twins of
    /// a strategy's variants): its columns are copied, not computed again.
    same_as: Option<usize>,
    /// For a strategy: the portfolio valued without its rules (its twin, or
    /// the one the twin copies). A lane that has never left the book is that
    /// portfolio's lane, so it is not valued twice ([`trading`]).
    twin: Option<usize>,
}

/// The lanes a step's valuation runs over, each as `(place, lane)`: where
/// its positions are in the position arrays (`k * lanes + place`), and the
/// lane whose market it reads. Every lane of the batch sits at its own
/// place (loops the compiler vectorises); a strategy keeps the lanes it no
/// longer shares with its twin packed at the front, in the order of its
/// list, so that valuing them reads a few dense rows, not a scatter over all.
trait LaneSet: Copy {
    fn each(self) -> impl Iterator<Item = (usize, usize)>;
}

/// Lanes `0..n`, each at its own place.
#[derive(Clone, Copy)]
struct AllLanes(usize);

impl LaneSet for AllLanes {
    fn each(self) -> impl Iterator<Item = (usize, usize)> {
        (0..self.0).map(|l| (l, l))
    }
}

/// A strategy's own lanes: the `j`-th at place `j`.
impl LaneSet for &[u32] {
    fn each(self) -> impl Iterator<Item = (usize, usize)> {
        self.iter().enumerate().map(|(j, &l)| (j, l as usize))
    }
}

/// How a currency's dollar value and short rate are read.
#[derive(Debug, Clone, Copy)]
struct CurrencyInputs {
    fx: Option<(usize, FxQuote)>,
    rate: Rate,
}

#[derive(Debug, Clone, Copy)]
enum Rate {
    Constant(f64),
    Slot(usize),
}

/// Every portfolio of a run, compiled for the tracker.
pub struct PortfolioTracker<'a> {
    model: &'a Model,
    /// The assets read, in slot order.
    slots: Vec<usize>,
    currencies: Vec<CurrencyInputs>,
    portfolios: Vec<CompiledPortfolio>,
    positions: Vec<CompiledPosition>,
    strategies: Vec<trading::CompiledStrategy>,
    /// The scenario's signals, when a rule reads them.
    signals: Option<crate::scenario::Signals>,
    /// Slots whose running peak a rule reads.
    peak_slots: Vec<usize>,
    /// The sizes of the strategies' counters; `tally` is the counts over
    /// all paths (each strategy's states at every step).
    counters: trading::Offsets,
    columns: Vec<String>,
}

impl<'a> PortfolioTracker<'a> {
    pub fn new(scenario: &Scenario, model: &'a Model, portfolios: &[Portfolio]) -> Self {
        let mut slots: Vec<usize> = Vec::new();
        let mut slot = |asset: usize| match slots.iter().position(|&a| a == asset) {
            Some(s) => s,
            None => {
                slots.push(asset);
                slots.len() - 1
            }
        };
        let currencies = scenario
            .currencies
            .iter()
            .map(|c| CurrencyInputs {
                fx: c.fx.map(|(a, quote)| (slot(a), quote)),
                rate: match c.short_rate {
                    ShortRate::Constant(r) => Rate::Constant(r),
                    ShortRate::Asset(a) => Rate::Slot(slot(a)),
                },
            })
            .collect();
        let mut compiled: Vec<CompiledPortfolio> = Vec::new();
        let mut positions = Vec::new();
        let mut columns = Vec::new();
        let mut strategies = Vec::new();
        let mut peak_slots = Vec::new();
        let mut counters = trading::Offsets::default();
        // A portfolio with rules is valued twice: without them (its buy-and-hold
        // twin, `portfolio.NAME`), then with them (`strategy.NAME`).
        let runs = portfolios.iter().flat_map(|p| {
            std::iter::once((p, false)).chain(p.strategy.as_ref().map(|_| (p, true)))
        });
        let mut held: Vec<(&Portfolio, usize)> = Vec::new();
        for (p, with_rules) in runs {
            let same_as = if with_rules {
                None
            } else {
                let twin = held.iter().find(|(q, _)| same_book(p, q)).map(|(_, c)| *c);
                held.push((p, compiled.len()));
                twin
            };
            let first = positions.len();
            for (j, position) in p.positions.iter().enumerate() {
                let leg = match position.holding {
                    Holding::Asset { asset } => Leg::Asset { slot: slot(asset) },
                    Holding::Cash => Leg::Cash,
                    Holding::Forward => Leg::Forward,
                    Holding::Treasury {
                        yield_asset,
                        maturity_years,
                    } => Leg::Treasury {
                        slot: slot(yield_asset),
                        maturity_years,
                    },
                    Holding::Option(spec) => Leg::Option {
                        spec,
                        underlying: slot(spec.underlying),
                        vol: slot(spec.implied_vol),
                    },
                };
                let may_hedge = position.hedge_ratio > 0.0
                    || (with_rules
                        && p.strategy
                            .iter()
                            .flat_map(|s| &s.states)
                            .any(|s| s.hedge_ratios[j] > 0.0));
                positions.push(CompiledPosition {
                    leg,
                    currency: position.currency,
                    weight: position.weight,
                    hedge_ratio: position.hedge_ratio,
                    may_hedge,
                });
            }
            let residual = p
                .positions
                .iter()
                .position(|q| q.name == RESIDUAL_CASH)
                .map(|j| first + j);
            let strategy = match (&p.strategy, with_rules) {
                (Some(spec), true) => {
                    let compiled_strategy =
                        trading::CompiledStrategy::new(spec, counters, &mut slot, &mut peak_slots);
                    counters = compiled_strategy.next_offsets(scenario.steps());
                    strategies.push(compiled_strategy);
                    columns.extend(strategy_column_names(p));
                    Some(strategies.len() - 1)
                }
                _ => {
                    columns.extend(column_names(p));
                    None
                }
            };
            let twin = with_rules.then(|| {
                let twin = compiled.len() - 1;
                compiled[twin].same_as.unwrap_or(twin)
            });
            compiled.push(CompiledPortfolio {
                twin,
                base: p.base,
                value: p.value,
                rebalance_every: p.rebalance.every_steps(),
                positions: first..positions.len(),
                trading: p.trading,
                residual,
                strategy,
                same_as,
            });
        }
        let signals = strategies
            .iter()
            .any(|s| s.reads_signals())
            .then(|| scenario.signals.clone())
            .flatten();
        PortfolioTracker {
            model,
            slots,
            currencies,
            portfolios: compiled,
            positions,
            strategies,
            signals,
            peak_slots,
            counters,
            columns,
        }
    }
}

/// The figures per path of one portfolio, in column order. `left_range` is 1 on
/// a path whose valuation left the range the engine can value (see
/// [`MAX_VALUE_GROWTH`]) and was stopped there, else 0.
pub const PORTFOLIO_METRICS: [&str; 5] = [
    "pnl",
    "max_drawdown",
    "time_under_water",
    "longest_under_water_years",
    "left_range",
];

/// A path's valuation stops, its figures held at the last step it could be
/// valued, once the portfolio's value passes this multiple of the starting
/// value, or is not a number (a position gone infinite or NaN takes the total
/// with it). Far beyond any market (e^633: a
/// price drift of 5 a year for 50 years is e^250), and with a starting value of
/// at most 1e15 still 1e17 below f64's limit, so every P&L stays finite.
pub const MAX_VALUE_GROWTH: f64 = 1e275;

/// Rates and yields below this (a year, as a fraction) have no meaningful
/// deposit or bond value: a path whose cash or Treasury reads one stops being
/// valued at that step, like one passing [`MAX_VALUE_GROWTH`].
pub const MIN_VALUED_RATE: f64 = -1.0;

/// Whether `a` and `b` hold the same positions the same way, rules aside, so
/// that their values agree on every path.
pub(crate) fn same_book(a: &Portfolio, b: &Portfolio) -> bool {
    a.base == b.base
        && a.value == b.value
        && a.rebalance == b.rebalance
        && a.trading == b.trading
        && a.positions.len() == b.positions.len()
        && a.positions.iter().zip(&b.positions).all(|(x, y)| {
            (x.holding, x.currency, x.weight, x.hedge_ratio)
                == (y.holding, y.currency, y.weight, y.hedge_ratio)
        })
}

/// The figures per path of a portfolio that trades (`[trading]` or rules),
/// after its positions' P&Ls: the value traded and the costs paid, as
/// fractions of the starting value.
pub const TRADING_METRICS: [&str; 2] = ["turnover", "costs"];

/// A portfolio's columns: its figures, then each position's P&L, then (if it
/// trades) its turnover and costs.
pub fn column_names(p: &Portfolio) -> Vec<String> {
    book_columns(&format!("portfolio.{}", p.name), p)
}

fn book_columns(prefix: &str, p: &Portfolio) -> Vec<String> {
    let mut names: Vec<String> = PORTFOLIO_METRICS
        .iter()
        .map(|m| format!("{prefix}.{m}"))
        .collect();
    for position in &p.positions {
        names.push(format!("{prefix}.position.{}.pnl", position.name));
    }
    if p.trading.is_some() {
        names.extend(TRADING_METRICS.iter().map(|m| format!("{prefix}.{m}")));
    }
    names
}

/// A strategy's columns: those of its book (under `strategy.NAME`), then its
/// state changes, the share of steps in each state, and each rule's firings
/// and first firing (in years; NaN where it never fired).
pub fn strategy_column_names(p: &Portfolio) -> Vec<String> {
    let prefix = format!("strategy.{}", p.name);
    let mut names = book_columns(&prefix, p);
    let Some(strategy) = &p.strategy else {
        return names;
    };
    names.push(format!("{prefix}.transitions"));
    for state in &strategy.states {
        names.push(format!("{prefix}.state.{}.time_share", state.name));
    }
    for rule in &strategy.rules {
        names.push(format!("{prefix}.rule.{}.firings", rule.name));
        names.push(format!("{prefix}.rule.{}.first_years", rule.name));
    }
    names
}

impl PathObserver for PortfolioTracker<'_> {
    fn columns(&self) -> Vec<String> {
        self.columns.clone()
    }

    fn batch(&self, lanes: usize) -> Box<dyn BatchObserver + '_> {
        Box::new(self.new_batch(lanes))
    }

    fn tallies(&self) -> usize {
        self.counters.tally
    }
}

impl PortfolioTracker<'_> {
    /// Where each strategy's tally of its states at every step starts among
    /// the run's tallies, in the book's order.
    pub fn state_tally_offsets(&self) -> Vec<usize> {
        self.strategies.iter().map(|s| s.tally_offset()).collect()
    }

    /// The names of the columns the tracker writes.
    pub fn columns_of(&self) -> &[String] {
        &self.columns
    }

    /// The tracker's state for `lanes` paths (public for replays of single paths).
    pub fn new_batch(&self, lanes: usize) -> Batch<'_> {
        let per_slot = vec![0.0; self.slots.len() * lanes];
        let per_currency = vec![0.0; self.currencies.len() * lanes];
        let per_position = vec![0.0; self.positions.len() * lanes];
        let per_portfolio = vec![0.0; self.portfolios.len() * lanes];
        Batch {
            tracker: self,
            count: lanes,
            steps: 0,
            level: per_slot.clone(),
            level_before: per_slot,
            usd: per_currency.clone(),
            usd_before: per_currency.clone(),
            per_usd: per_currency.clone(),
            per_usd_before: per_currency.clone(),
            rate: per_currency.clone(),
            rate_before: per_currency,
            holding: per_position.clone(),
            strike: per_position.clone(),
            settlement: per_position.clone(),
            value: per_position.clone(),
            pnl_before: per_position.clone(),
            hedge: per_position.clone(),
            pnl: per_position,
            expiry: vec![0; self.positions.len() * lanes],
            lanes: trading::LaneBook::new(self, lanes),
            local_before: vec![0.0; lanes],
            local_after: vec![0.0; lanes],
            total: per_portfolio.clone(),
            peak: per_portfolio.clone(),
            max_drawdown: per_portfolio,
            under_water_steps: vec![0; self.portfolios.len() * lanes],
            spell: vec![0; self.portfolios.len() * lanes],
            longest_spell: vec![0; self.portfolios.len() * lanes],
            stopped: Vec::new(),
        }
    }
}

/// One batch's portfolio state, position-major like the lanes: `[k * lanes + lane]`.
pub struct Batch<'a> {
    tracker: &'a PortfolioTracker<'a>,
    count: usize,
    steps: usize,
    level: Vec<f64>,
    level_before: Vec<f64>,
    usd: Vec<f64>,
    usd_before: Vec<f64>,
    /// Units of each currency per dollar (`1 / usd`), so translations multiply.
    per_usd: Vec<f64>,
    per_usd_before: Vec<f64>,
    rate: Vec<f64>,
    rate_before: Vec<f64>,
    /// Units of an asset, the local value of cash or a Treasury, option contracts.
    holding: Vec<f64>,
    strike: Vec<f64>,
    /// An option overlay's own cash (premiums out, payoffs in), local currency;
    /// a forward's base-currency leg, in the base currency.
    settlement: Vec<f64>,
    /// The position's value in the base currency.
    value: Vec<f64>,
    pnl: Vec<f64>,
    /// `pnl` at the start of the step, kept for paths whose valuation stops in it.
    pnl_before: Vec<f64>,
    /// The hedge ratio of each position on each lane.
    hedge: Vec<f64>,
    /// The step at which an option position's contracts expire, per lane.
    expiry: Vec<usize>,
    /// Traded portfolios' and strategies' state on every lane.
    lanes: trading::LaneBook,
    local_before: Vec<f64>,
    local_after: Vec<f64>,
    total: Vec<f64>,
    peak: Vec<f64>,
    max_drawdown: Vec<f64>,
    under_water_steps: Vec<u32>,
    spell: Vec<u32>,
    longest_spell: Vec<u32>,
    /// Paths whose valuation stopped, by `(portfolio, lane)`, with the
    /// positions' P&L at the last step valued. Rare, so a list.
    stopped: Vec<Stopped>,
}

struct Stopped {
    portfolio: usize,
    lane: usize,
    pnl: Vec<f64>,
}

impl Batch<'_> {
    fn read_market(&mut self, lanes: &Lanes) {
        let n = self.count;
        let tracker = self.tracker;
        for (s, &a) in tracker.slots.iter().enumerate() {
            let asset = &tracker.model.assets[a];
            let out = &mut self.level[s * n..(s + 1) * n];
            if asset.is_log {
                for (level, &x) in out.iter_mut().zip(lanes.asset(a)) {
                    *level = asset.level(x);
                }
            } else {
                out.copy_from_slice(lanes.asset(a));
            }
        }
        for (c, inputs) in tracker.currencies.iter().enumerate() {
            let usd = &mut self.usd[c * n..(c + 1) * n];
            let per_usd = &mut self.per_usd[c * n..(c + 1) * n];
            match inputs.fx {
                None => {
                    usd.fill(1.0);
                    per_usd.fill(1.0);
                }
                Some((s, quote)) => {
                    let level = &self.level[s * n..(s + 1) * n];
                    let (direct, inverse) = match quote {
                        FxQuote::UsdPerUnit => (usd, per_usd),
                        FxQuote::UnitsPerUsd => (per_usd, usd),
                    };
                    direct.copy_from_slice(level);
                    for (u, x) in inverse.iter_mut().zip(level) {
                        *u = 1.0 / x;
                    }
                }
            }
            let rate = &mut self.rate[c * n..(c + 1) * n];
            match inputs.rate {
                Rate::Constant(r) => rate.fill(r),
                Rate::Slot(s) => rate.copy_from_slice(&self.level[s * n..(s + 1) * n]),
            }
        }
    }

    /// Base-currency units per unit of currency `c` on lane `l`, now or at the start of the step.
    #[inline]
    fn fx(&self, c: usize, base: usize, l: usize, before: bool) -> f64 {
        let n = self.count;
        let (usd, per_usd) = if before {
            (&self.usd_before, &self.per_usd_before)
        } else {
            (&self.usd, &self.per_usd)
        };
        usd[c * n + l] * per_usd[base * n + l]
    }

    /// Resets every funded position to its weight of the portfolio's value less the
    /// options' market value; overlays keep their contracts and hand over their cash.
    fn rebalance(&mut self, p: usize) {
        let n = self.count;
        let tracker = self.tracker;
        let portfolio = &tracker.portfolios[p];
        for l in 0..n {
            let mut funded = self.total[p * n + l];
            for k in portfolio.positions.clone() {
                if let Leg::Option { .. } = tracker.positions[k].leg {
                    let s = self.fx(tracker.positions[k].currency, portfolio.base, l, false);
                    let market = self.value[k * n + l] - self.settlement[k * n + l] * s;
                    funded -= market;
                    self.settlement[k * n + l] = 0.0;
                    self.value[k * n + l] = market;
                }
            }
            for k in portfolio.positions.clone() {
                let position = &tracker.positions[k];
                let target = position.weight * funded;
                let s = self.fx(position.currency, portfolio.base, l, false);
                let local = target / s;
                match position.leg {
                    Leg::Asset { slot } => {
                        self.holding[k * n + l] = local / self.level[slot * n + l]
                    }
                    Leg::Cash | Leg::Treasury { .. } => self.holding[k * n + l] = local,
                    Leg::Forward => {
                        // Struck again at zero value: what it had made is in `funded`.
                        self.holding[k * n + l] = local;
                        self.settlement[k * n + l] = -target;
                        self.value[k * n + l] = 0.0;
                        continue;
                    }
                    Leg::Option { .. } => continue,
                }
                self.value[k * n + l] = target;
            }
        }
    }

    /// Moves position `k` through the step just taken: its local value, its
    /// hedge, its base-currency value and P&L.
    fn move_position(&mut self, k: usize, base: usize, now: usize, dt: f64, on: impl LaneSet) {
        let n = self.count;
        let position = self.tracker.positions[k];
        let c = position.currency;
        let span = k * n..(k + 1) * n;
        let Batch {
            level,
            level_before,
            usd,
            usd_before,
            per_usd,
            per_usd_before,
            rate,
            rate_before,
            holding,
            strike,
            settlement,
            value,
            pnl,
            pnl_before,
            expiry,
            hedge,
            local_before,
            local_after,
            ..
        } = self;
        let rate_c = &rate_before[c * n..(c + 1) * n];
        let holding = &mut holding[span.clone()];
        // Base-currency units per unit of `c`: usd(c) / usd(base).
        let (usd_c_before, per_usd_base_before) = (
            &usd_before[c * n..(c + 1) * n],
            &per_usd_before[base * n..(base + 1) * n],
        );
        let (usd_c, per_usd_base) = (&usd[c * n..(c + 1) * n], &per_usd[base * n..(base + 1) * n]);
        let (per_usd_c, usd_base) = (&per_usd[c * n..(c + 1) * n], &usd[base * n..(base + 1) * n]);
        let growth = |r: f64| {
            if r >= MIN_VALUED_RATE {
                1.0 + r * dt
            } else {
                f64::NAN
            }
        };
        match position.leg {
            Leg::Asset { slot } => {
                let before = &level_before[slot * n..(slot + 1) * n];
                let after = &level[slot * n..(slot + 1) * n];
                for (i, l) in on.each() {
                    local_before[i] = holding[i] * before[l];
                    local_after[i] = holding[i] * after[l];
                }
            }
            Leg::Cash => {
                for (i, l) in on.each() {
                    local_before[i] = holding[i];
                    holding[i] *= growth(rate_c[l]);
                    local_after[i] = holding[i];
                }
            }
            Leg::Forward => {
                // Its two legs: the foreign deposit and the base-currency loan,
                // each accruing its own short rate; its value is their sum in base.
                let r_base = &rate_before[base * n..(base + 1) * n];
                let loan = &mut settlement[span.clone()];
                let value = &mut value[span.clone()];
                let (pnl, gained) = (&mut pnl[span.clone()], &pnl_before[span]);
                for (i, l) in on.each() {
                    holding[i] *= growth(rate_c[l]);
                    loan[i] *= growth(r_base[l]);
                    let v = holding[i] * usd_c[l] * per_usd_base[l] + loan[i];
                    pnl[i] = gained[i] + (v - value[i]);
                    value[i] = v;
                }
                return;
            }
            Leg::Treasury {
                slot,
                maturity_years,
            } => {
                let before = &level_before[slot * n..(slot + 1) * n];
                let after = &level[slot * n..(slot + 1) * n];
                for (i, l) in on.each() {
                    local_before[i] = holding[i];
                    let (y0, y1) = (before[l], after[l]);
                    let growth = if y0 >= MIN_VALUED_RATE && y1 >= MIN_VALUED_RATE {
                        1.0 + par_bond_return(y0, y1, maturity_years, dt)
                    } else {
                        f64::NAN
                    };
                    holding[i] *= growth;
                    local_after[i] = holding[i];
                }
            }
            Leg::Option {
                spec,
                underlying,
                vol,
            } => {
                let expiry = &expiry[span.clone()];
                let settlement = &mut settlement[span.clone()];
                let strike = &strike[span.clone()];
                let value = &value[span.clone()];
                let spot = &level[underlying * n..(underlying + 1) * n];
                let sigma = &level[vol * n..(vol + 1) * n];
                let r_now = &rate[c * n..(c + 1) * n];
                for (i, l) in on.each() {
                    // The overlay's local value at the start of the step.
                    local_before[i] = if c == base {
                        value[i]
                    } else {
                        value[i] / (usd_c_before[l] * per_usd_base_before[l])
                    };
                    settlement[i] *= 1.0 + rate_c[l] * dt;
                    let market = if now == expiry[i] {
                        settlement[i] += holding[i] * payoff(spec.kind, spot[l], strike[i]);
                        holding[i] = 0.0;
                        0.0
                    } else if holding[i] == 0.0 {
                        // No contracts (an overlay a strategy holds only in some
                        // states): nothing to price.
                        0.0
                    } else {
                        let years = expiry[i].saturating_sub(now) as f64 * dt;
                        holding[i]
                            * black_scholes_mark(
                                spec.kind,
                                spot[l],
                                strike[i],
                                years,
                                years.sqrt(),
                                sigma[l],
                                r_now[l],
                            )
                    };
                    local_after[i] = market + settlement[i];
                }
            }
        }
        let value = &mut value[span.clone()];
        let (pnl, gained) = (&mut pnl[span.clone()], &pnl_before[span.clone()]);
        if c == base {
            for (i, _) in on.each() {
                pnl[i] = gained[i] + (local_after[i] - value[i]);
                value[i] = local_after[i];
            }
            return;
        }
        if position.may_hedge {
            let hedge = &hedge[span.clone()];
            // The hedge sells `hedge_ratio` of the local value forward for one step
            // at the covered-interest-parity forward S (1 + (r_base - r_local) dt);
            // its gain or loss settles into the position itself, as in a
            // currency-hedged share class, so the position compounds its hedged return.
            let r_base = &rate_before[base * n..(base + 1) * n];
            let settled = local_before;
            for (i, l) in on.each() {
                let s_before = usd_c_before[l] * per_usd_base_before[l];
                let s_after = usd_c[l] * per_usd_base[l];
                let forward = s_before * (1.0 + (r_base[l] - rate_c[l]) * dt);
                // In units of `c`: divided by s_after, i.e. times usd(base) / usd(c).
                settled[i] =
                    hedge[i] * settled[i] * (forward - s_after) * (usd_base[l] * per_usd_c[l]);
                local_after[i] += settled[i];
            }
            match position.leg {
                Leg::Asset { slot } => {
                    let after = &level[slot * n..(slot + 1) * n];
                    for (i, l) in on.each() {
                        holding[i] = local_after[i] / after[l];
                    }
                }
                Leg::Cash | Leg::Treasury { .. } => {
                    for (i, _) in on.each() {
                        holding[i] = local_after[i];
                    }
                }
                // Valued and returned above: a forward carries no hedge.
                Leg::Forward => {}
                Leg::Option { .. } => {
                    let cash = &mut settlement[span];
                    for (i, _) in on.each() {
                        cash[i] += settled[i];
                    }
                }
            }
        }
        for (i, l) in on.each() {
            let v = local_after[i] * usd_c[l] * per_usd_base[l];
            pnl[i] = gained[i] + (v - value[i]);
            value[i] = v;
        }
    }

    /// Moves every position of portfolio `p` through the step to `now` on the
    /// lanes `on`, and adds them up to its total there.
    fn value_book(&mut self, p: usize, now: usize, dt: f64, on: impl LaneSet) {
        let n = self.count;
        let portfolio = &self.tracker.portfolios[p];
        for (_, l) in on.each() {
            self.total[p * n + l] = 0.0;
        }
        for k in portfolio.positions.clone() {
            self.move_position(k, portfolio.base, now, dt, on);
            for (i, l) in on.each() {
                self.total[p * n + l] += self.value[k * n + i];
            }
        }
    }

    /// Stops the valuation of the paths of portfolio `p` that left the range it
    /// can be valued in during this step: their total and P&L go back to the
    /// step before, and stay there.
    fn stop_out_of_range(&mut self, p: usize) {
        let n = self.count;
        let portfolio = &self.tracker.portfolios[p];
        let limit = portfolio.value * MAX_VALUE_GROWTH;
        let totals = &self.total[p * n..(p + 1) * n];
        // Almost always none: one pass before the lane by lane search.
        if totals.iter().all(|t| t.abs() <= limit) {
            return;
        }
        for l in 0..n {
            if self.total[p * n + l].abs() <= limit || self.follows_twin(p, l) {
                continue;
            }
            if self.stopped.iter().any(|s| s.portfolio == p && s.lane == l) {
                continue;
            }
            let place = self.place(p, l);
            let positions = portfolio.positions.clone();
            let pnl: Vec<f64> = positions.map(|k| self.pnl_before[k * n + place]).collect();
            self.stopped.push(Stopped {
                portfolio: p,
                lane: l,
                pnl,
            });
        }
    }

    /// The running peak, drawdown and time under water of portfolio `p` on
    /// the lanes `on`.
    fn track_drawdown(&mut self, p: usize, on: impl LaneSet) {
        let span = p * self.count..(p + 1) * self.count;
        let total = &self.total[span.clone()];
        let peak = &mut self.peak[span.clone()];
        let max_drawdown = &mut self.max_drawdown[span.clone()];
        let under_water = &mut self.under_water_steps[span.clone()];
        let spell = &mut self.spell[span.clone()];
        let longest = &mut self.longest_spell[span];
        let stopped = &self.stopped;
        let any_stopped = stopped.iter().any(|s| s.portfolio == p);
        // Selects, not branches: whether a close is a new peak is a coin flip the
        // branch predictor loses.
        for (_, l) in on.each() {
            if any_stopped && stopped.iter().any(|s| s.portfolio == p && s.lane == l) {
                continue;
            }
            let at_peak = total[l] >= peak[l];
            peak[l] = if at_peak { total[l] } else { peak[l] };
            let below = u32::from(!at_peak);
            under_water[l] += below;
            spell[l] = (spell[l] + 1) * below;
            longest[l] = longest[l].max(spell[l]);
            let drawdown = 1.0 - total[l] / peak[l];
            max_drawdown[l] = if drawdown > max_drawdown[l] {
                drawdown
            } else {
                max_drawdown[l]
            };
        }
    }
}

impl BatchObserver for Batch<'_> {
    fn start(&mut self, lanes: &Lanes) {
        let n = self.count;
        self.steps = 0;
        self.read_market(lanes);
        let tracker = self.tracker;
        for (p, portfolio) in tracker.portfolios.iter().enumerate() {
            for l in 0..n {
                self.total[p * n + l] = portfolio.value;
                self.peak[p * n + l] = portfolio.value;
                self.max_drawdown[p * n + l] = 0.0;
                self.under_water_steps[p * n + l] = 0;
                self.spell[p * n + l] = 0;
                self.longest_spell[p * n + l] = 0;
            }
            self.stopped.clear();
            if portfolio.twin.is_some() {
                // Every lane starts following its twin: a strategy's positions
                // are the twin's, taken when a lane leaves ([`Self::leave_twin`]).
                continue;
            }
            for k in portfolio.positions.clone() {
                let position = &tracker.positions[k];
                for l in 0..n {
                    let i = k * n + l;
                    self.expiry[i] = 0;
                    self.hedge[i] = position.hedge_ratio;
                    self.settlement[i] = 0.0;
                    self.pnl[i] = 0.0;
                    let start = position.weight * portfolio.value;
                    let local = start / self.fx(position.currency, portfolio.base, l, false);
                    self.value[i] = start;
                    match position.leg {
                        Leg::Asset { slot } => self.holding[i] = local / self.level[slot * n + l],
                        Leg::Cash | Leg::Treasury { .. } => self.holding[i] = local,
                        Leg::Forward => {
                            self.holding[i] = local;
                            self.settlement[i] = -start;
                            self.value[i] = 0.0;
                        }
                        Leg::Option { .. } => self.value[i] = 0.0,
                    }
                }
                if let Leg::Option { .. } = position.leg {
                    for l in 0..n {
                        let notional = position.weight * portfolio.value;
                        self.open_options(k, k * n + l, l, portfolio.base, notional, 0);
                    }
                }
            }
        }
        self.level_before.copy_from_slice(&self.level);
        self.usd_before.copy_from_slice(&self.usd);
        self.per_usd_before.copy_from_slice(&self.per_usd);
        self.rate_before.copy_from_slice(&self.rate);
        self.start_trading(lanes);
    }

    fn push(&mut self, lanes: &Lanes, t: usize) {
        let n = self.count;
        let tracker = self.tracker;
        let dt = tracker.model.dt;
        std::mem::swap(&mut self.level, &mut self.level_before);
        std::mem::swap(&mut self.usd, &mut self.usd_before);
        std::mem::swap(&mut self.per_usd, &mut self.per_usd_before);
        std::mem::swap(&mut self.rate, &mut self.rate_before);
        self.read_market(lanes);
        // Every position moved below writes its P&L from the step before's
        // (a swap, not a copy of every position's lanes).
        std::mem::swap(&mut self.pnl, &mut self.pnl_before);
        self.steps += 1;
        let now = t + 1;
        let last = now == tracker.model.steps;
        self.watch_market(lanes, t);
        for (p, portfolio) in tracker.portfolios.iter().enumerate() {
            if portfolio.same_as.is_some() {
                continue;
            }
            if portfolio.twin.is_some() {
                self.value_strategy(p, now, dt);
            } else {
                self.value_book(p, now, dt, AllLanes(n));
                self.stop_out_of_range(p);
                self.track_drawdown(p, AllLanes(n));
            }
            if portfolio.trading.is_some() {
                self.trade_at_close(p, lanes, now, last);
                continue;
            }
            if last {
                continue;
            }
            self.roll_expired_options(p, now, AllLanes(n));
            if portfolio
                .rebalance_every
                .is_some_and(|every| now % every == 0)
            {
                self.rebalance(p);
            }
        }
    }

    fn finish(&mut self, rows: &mut [f64], columns: usize, first: usize) {
        let n = self.count;
        let tracker = self.tracker;
        let dt = tracker.model.dt;
        let steps = self.steps.max(1) as f64;
        let mut column = first;
        let mut starts = Vec::with_capacity(tracker.portfolios.len());
        for (p, portfolio) in tracker.portfolios.iter().enumerate() {
            let v0 = portfolio.value;
            let figures = PORTFOLIO_METRICS.len();
            starts.push(column);
            let width = figures + portfolio.positions.len() + self.trading_columns(p);
            if portfolio.twin.is_some() {
                for l in 0..n {
                    if self.follows_twin(p, l) {
                        self.leave_twin(p, l);
                    }
                }
            }
            if let Some(source) = portfolio.same_as {
                let from = starts[source];
                for l in 0..n {
                    let row = &mut rows[l * columns..(l + 1) * columns];
                    row.copy_within(from..from + width, column);
                }
                column += width;
                continue;
            }
            for l in 0..n {
                let i = p * n + l;
                let row = &mut rows[l * columns..(l + 1) * columns];
                let stopped = self
                    .stopped
                    .iter()
                    .find(|s| s.portfolio == p && s.lane == l);
                // The positions' P&Ls add up to the portfolio's.
                let total = stopped.map_or(self.total[i], |s| v0 + s.pnl.iter().sum::<f64>());
                row[column] = (total - v0) / v0;
                row[column + 1] = self.max_drawdown[i];
                row[column + 2] = self.under_water_steps[i] as f64 / steps;
                row[column + 3] = self.longest_spell[i] as f64 * dt;
                row[column + 4] = f64::from(u8::from(stopped.is_some()));
                let place = self.place(p, l);
                for (j, k) in portfolio.positions.clone().enumerate() {
                    let pnl = stopped.map_or(self.pnl[k * n + place], |s| s.pnl[j]);
                    row[column + figures + j] = pnl / v0;
                }
                let extra = column + figures + portfolio.positions.len();
                self.write_trading(p, l, &mut row[extra..]);
            }
            column += figures + portfolio.positions.len() + self.trading_columns(p);
        }
    }

    fn tally(&self, counts: &mut [u64]) {
        for (count, own) in counts.iter_mut().zip(&self.lanes.tallies) {
            *count += own;
        }
    }
}
