//! Trading lane by lane: the portfolios that pay costs or follow rules.
//!
//! A traded portfolio's lanes go their own ways: each holds its own state,
//! fires its rules at its own closes and trades its own positions. Trades
//! settle in the portfolio's base-currency cash (`residual_cash`), which also
//! pays the costs, so value only moves between positions and the positions'
//! P&Ls still add up to the portfolio's (the cash's P&L carries the costs).
//!
//! At every close, in this order: the state held through the step is counted;
//! orders due at this close fill; expired options roll at the state's
//! notional; a rebalancing date trades the positions outside their band; then
//! the rules are read from what is known at this close (no later state has
//! been pushed yet) and the first that holds places an order for
//! `delay_steps` closes later.

use super::*;
use crate::portfolio::strategy::{Strategy, Trigger};
use crate::stats::SignalTracker;

/// Never (a step no path reaches).
const NEVER: u32 = u32::MAX;
/// No order waiting to fill.
const NO_ORDER: u8 = u8::MAX;

/// A strategy compiled against the tracker's market slots.
pub(crate) struct CompiledStrategy {
    /// Target weight and hedge ratio of each position of the portfolio, per state.
    weights: Vec<Vec<f64>>,
    hedges: Vec<Vec<f64>>,
    rules: Vec<CompiledRule>,
    offsets: Offsets,
}

/// Where a strategy's counters start among all strategies': its states'
/// tallies over the run (`tally`), its states' and its rules' per-lane
/// counters (`state`, `rule`). Past the last strategy: their sizes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Offsets {
    pub(crate) tally: usize,
    pub(crate) state: usize,
    pub(crate) rule: usize,
}

struct CompiledRule {
    from: u64,
    to: u8,
    when: Vec<Check>,
    /// The signals of its first `signal` condition, a bit each: only the
    /// lanes where one of them holds can fire it.
    signal_mask: Option<u32>,
}

/// A [`Trigger`] with its assets resolved to market slots.
enum Check {
    Signal(Vec<usize>),
    Quiet { signals: Vec<usize>, steps: u32 },
    InRegime(usize),
    OutOfRegime(usize),
    Drawdown(f64),
    AssetDrawdown { peak: usize, slot: usize, fall: f64 },
    Above { slot: usize, level: f64 },
    Below { slot: usize, level: f64 },
    After(u32),
    Before(u32),
    StateReturnBelow(f64),
    StateReturnAbove(f64),
    StateDrawdown(f64),
    DaysInState(u32),
}

impl CompiledStrategy {
    pub(crate) fn new(
        spec: &Strategy,
        offsets: Offsets,
        slot: &mut impl FnMut(usize) -> usize,
        peak_slots: &mut Vec<usize>,
    ) -> CompiledStrategy {
        let rules = spec
            .rules
            .iter()
            .map(|rule| CompiledRule {
                from: rule.from,
                to: rule.to as u8,
                when: rule
                    .when
                    .iter()
                    .map(|trigger| match *trigger {
                        Trigger::Signal(ref s) => Check::Signal(s.clone()),
                        Trigger::Quiet { ref signals, steps } => Check::Quiet {
                            signals: signals.clone(),
                            steps: steps as u32,
                        },
                        Trigger::InRegime(r) => Check::InRegime(r),
                        Trigger::OutOfRegime(r) => Check::OutOfRegime(r),
                        Trigger::Drawdown(d) => Check::Drawdown(d),
                        Trigger::AssetDrawdown { asset, fall } => {
                            let slot = slot(asset);
                            let peak = match peak_slots.iter().position(|&s| s == slot) {
                                Some(p) => p,
                                None => {
                                    peak_slots.push(slot);
                                    peak_slots.len() - 1
                                }
                            };
                            Check::AssetDrawdown { peak, slot, fall }
                        }
                        Trigger::Above { asset, level } => Check::Above {
                            slot: slot(asset),
                            level,
                        },
                        Trigger::Below { asset, level } => Check::Below {
                            slot: slot(asset),
                            level,
                        },
                        Trigger::After(t) => Check::After(t.min(NEVER as usize - 1) as u32),
                        Trigger::Before(t) => Check::Before(t.min(NEVER as usize - 1) as u32),
                        Trigger::StateReturnBelow(r) => Check::StateReturnBelow(r),
                        Trigger::StateReturnAbove(r) => Check::StateReturnAbove(r),
                        Trigger::StateDrawdown(d) => Check::StateDrawdown(d),
                        Trigger::DaysInState(d) => Check::DaysInState(d as u32),
                    })
                    .collect(),
                signal_mask: rule.when.iter().find_map(|trigger| match trigger {
                    Trigger::Signal(signals) => {
                        Some(signals.iter().fold(0u32, |mask, &r| mask | 1 << r))
                    }
                    _ => None,
                }),
            })
            .collect();
        CompiledStrategy {
            weights: spec.states.iter().map(|s| s.weights.clone()).collect(),
            hedges: spec.states.iter().map(|s| s.hedge_ratios.clone()).collect(),
            rules,
            offsets,
        }
    }

    /// The offsets of the strategy that follows it, on a run of `steps` steps
    /// (it keeps a tally of its states at every step).
    pub(crate) fn next_offsets(&self, steps: usize) -> Offsets {
        Offsets {
            tally: self.offsets.tally + steps * self.states(),
            state: self.offsets.state + self.states(),
            rule: self.offsets.rule + self.rules.len(),
        }
    }

    /// Where its tally of states over the run starts.
    pub(crate) fn tally_offset(&self) -> usize {
        self.offsets.tally
    }

    pub(crate) fn reads_signals(&self) -> bool {
        self.rules.iter().any(|r| {
            r.when
                .iter()
                .any(|c| matches!(c, Check::Signal(_) | Check::Quiet { .. }))
        })
    }

    fn states(&self) -> usize {
        self.weights.len()
    }
}

/// Every traded portfolio's per-lane state in one batch, `[p * lanes + lane]`
/// (per state or rule: `[(offset + s) * lanes + lane]`).
pub(crate) struct LaneBook {
    state: Vec<u8>,
    order: Vec<u8>,
    fill_at: Vec<u32>,
    /// No rule fires before this close.
    calm_until: Vec<u32>,
    entered_at: Vec<u32>,
    entry_value: Vec<f64>,
    state_peak: Vec<f64>,
    turnover: Vec<f64>,
    costs: Vec<f64>,
    transitions: Vec<u32>,
    /// Per lane and state or rule of every strategy ([`Offsets`]).
    state_steps: Vec<u32>,
    firings: Vec<u32>,
    first_fired: Vec<u32>,
    signals: Option<SignalTracker>,
    /// The last close at which each signal held, `[signal * lanes + lane]`.
    signal_last: Vec<u32>,
    /// Running peaks of the levels `peak_slots` names.
    peaks: Vec<f64>,
    /// This batch's counts ([`PathObserver::tallies`]).
    pub(super) tallies: Vec<u64>,
    /// Scratch of the rules' evaluation: the lanes a rule may fire on.
    candidates: Vec<u32>,
    /// The lanes where any of a set of signals holds at this close, by the
    /// set's bits: shared by every strategy reading the same signals.
    signal_lanes: Vec<(u32, Vec<u32>)>,
    /// Whether a strategy's lane has never left its book, so that its
    /// positions are its twin's: they are valued once, for the twin, and
    /// copied when the lane first trades away from the book. Most paths
    /// never do, which is what makes twenty variants of a playbook cheap.
    following: Vec<bool>,
    /// Per portfolio, the lanes no longer following, in the order of their
    /// places in the position arrays ([`LaneSet`]): a strategy's in the
    /// order they left the book, any other traded portfolio's all, in order.
    own_lanes: Vec<Vec<u32>>,
    /// Per portfolio and lane, where the lane's positions are: its index in
    /// `own_lanes` (a following lane's are its twin's).
    place: Vec<u32>,
    /// Which signals hold at this close on each lane, a bit per signal.
    signal_bits: Vec<u32>,
}

impl LaneBook {
    pub(super) fn new(tracker: &PortfolioTracker<'_>, lanes: usize) -> LaneBook {
        let traded = tracker.portfolios.iter().any(|p| p.trading.is_some());
        let per_portfolio = if traded {
            tracker.portfolios.len() * lanes
        } else {
            0
        };
        let Offsets {
            tally,
            state: states,
            rule: rules,
        } = tracker.counters;
        let signals = tracker.signals.as_ref();
        LaneBook {
            state: vec![0; per_portfolio],
            order: vec![NO_ORDER; per_portfolio],
            fill_at: vec![0; per_portfolio],
            calm_until: vec![0; per_portfolio],
            entered_at: vec![0; per_portfolio],
            entry_value: vec![0.0; per_portfolio],
            state_peak: vec![0.0; per_portfolio],
            turnover: vec![0.0; per_portfolio],
            costs: vec![0.0; per_portfolio],
            transitions: vec![0; per_portfolio],
            state_steps: vec![0; states * lanes],
            firings: vec![0; rules * lanes],
            first_fired: vec![NEVER; rules * lanes],
            signal_last: vec![NEVER; signals.map_or(0, |s| s.rules.len()) * lanes],
            signals: signals.map(|spec| SignalTracker::new(spec, lanes)),
            peaks: vec![0.0; tracker.peak_slots.len() * lanes],
            tallies: vec![0; tally],
            candidates: Vec::with_capacity(lanes),
            signal_lanes: Vec::new(),
            following: vec![false; per_portfolio],
            own_lanes: vec![Vec::new(); if traded { tracker.portfolios.len() } else { 0 }],
            place: vec![0; per_portfolio],
            signal_bits: vec![0; if signals.is_some() { lanes } else { 0 }],
        }
    }
}

impl Batch<'_> {
    /// Every traded lane back at its book, at the start of the path.
    pub(super) fn start_trading(&mut self, lanes: &Lanes) {
        let n = self.count;
        let tracker = self.tracker;
        let book = &mut self.lanes;
        if book.state.is_empty() {
            return;
        }
        book.state.fill(0);
        book.order.fill(NO_ORDER);
        book.calm_until.fill(0);
        book.entered_at.fill(0);
        book.turnover.fill(0.0);
        book.costs.fill(0.0);
        book.transitions.fill(0);
        book.state_steps.fill(0);
        book.firings.fill(0);
        book.first_fired.fill(NEVER);
        book.signal_last.fill(NEVER);
        for (p, portfolio) in tracker.portfolios.iter().enumerate() {
            book.entry_value[p * n..(p + 1) * n].fill(portfolio.value);
            book.state_peak[p * n..(p + 1) * n].fill(portfolio.value);
            book.following[p * n..(p + 1) * n].fill(portfolio.twin.is_some());
            book.own_lanes[p].clear();
            if portfolio.twin.is_none() {
                book.own_lanes[p].extend(0..n as u32);
                for (l, place) in book.place[p * n..(p + 1) * n].iter_mut().enumerate() {
                    *place = l as u32;
                }
            }
        }
        if let Some(signals) = &mut book.signals {
            signals.start(lanes);
        }
        for (j, &s) in tracker.peak_slots.iter().enumerate() {
            book.peaks[j * n..(j + 1) * n].copy_from_slice(&self.level[s * n..(s + 1) * n]);
        }
    }

    /// Reads what the rules watch besides the books: the signals and the
    /// levels' running peaks, at the close after step `t`.
    pub(super) fn watch_market(&mut self, lanes: &Lanes, t: usize) {
        let n = self.count;
        let now = (t + 1) as u32;
        let book = &mut self.lanes;
        if let Some(signals) = &mut book.signals {
            signals.push(lanes, t);
            book.signal_bits.fill(0);
            for r in 0..book.signal_last.len() / n.max(1) {
                let holds = signals.holds(r);
                for (last, &h) in book.signal_last[r * n..(r + 1) * n].iter_mut().zip(holds) {
                    if h {
                        *last = now;
                    }
                }
                for (bits, &h) in book.signal_bits.iter_mut().zip(holds) {
                    *bits |= u32::from(h) << r;
                }
            }
            book.signal_lanes.clear();
        }
        for (j, &s) in self.tracker.peak_slots.iter().enumerate() {
            let level = &self.level[s * n..(s + 1) * n];
            for (peak, &x) in book.peaks[j * n..(j + 1) * n].iter_mut().zip(level) {
                if x > *peak {
                    *peak = x;
                }
            }
        }
    }

    /// Whether lane `l` of portfolio `p` is still its twin's ([`LaneBook::following`]).
    #[inline]
    pub(super) fn follows_twin(&self, p: usize, l: usize) -> bool {
        self.lanes
            .following
            .get(p * self.count + l)
            .is_some_and(|&f| f)
    }

    /// Values strategy `p` through the step to `now`, and tracks its
    /// drawdown: the lanes that have left the book on their own, the others
    /// as its twin (valued already, earlier in the portfolios' order).
    pub(super) fn value_strategy(&mut self, p: usize, now: usize, dt: f64) {
        let n = self.count;
        let own = std::mem::take(&mut self.lanes.own_lanes[p]);
        // Following lanes are not valued, nor their drawdown tracked: they
        // take their twin's when they leave it ([`Self::leave_twin`]); until
        // then a rule reads the twin's peak.
        self.value_book(p, now, dt, &own[..]);
        if own.len() < n {
            let twin = self.tracker.portfolios[p].twin.unwrap_or(p);
            // The twin comes before its strategy in the portfolios' order.
            let (earlier, from_p) = self.total.split_at_mut(p * n);
            let twin_total = &earlier[twin * n..(twin + 1) * n];
            let following = &self.lanes.following[p * n..(p + 1) * n];
            for ((total, &theirs), &follows) in
                from_p[..n].iter_mut().zip(twin_total).zip(following)
            {
                *total = if follows { theirs } else { *total };
            }
        }
        self.stop_out_of_range(p);
        self.track_drawdown(p, &own[..]);
        self.lanes.own_lanes[p] = own;
    }

    /// Where lane `l`'s positions of portfolio `p` are in the position
    /// arrays ([`LaneSet`]): its own place for a book that does not trade.
    #[inline]
    pub(super) fn place(&self, p: usize, l: usize) -> usize {
        self.lanes
            .place
            .get(p * self.count + l)
            .map_or(l, |&place| place as usize)
    }

    /// The portfolio whose running peak lane `l` of `p` has: its twin's
    /// while it follows it (its own is not tracked until it leaves).
    fn peak_of(&self, p: usize, l: usize) -> f64 {
        let valued_as = match self.tracker.portfolios[p].twin {
            Some(twin) if self.follows_twin(p, l) => twin,
            _ => p,
        };
        self.peak[valued_as * self.count + l]
    }

    /// Lane `l` of strategy `p` takes its twin's positions, value, drawdown,
    /// turnover and costs as they stand, and is valued on its own from now on.
    pub(super) fn leave_twin(&mut self, p: usize, l: usize) {
        let n = self.count;
        let tracker = self.tracker;
        let portfolio = &tracker.portfolios[p];
        let Some(twin) = portfolio.twin else {
            return;
        };
        // The next place at the front of its position arrays.
        let place = self.lanes.own_lanes[p].len();
        let twin_positions = tracker.portfolios[twin].positions.clone();
        for (k, from) in portfolio.positions.clone().zip(twin_positions) {
            let (to, from) = (k * n + place, from * n + l);
            self.holding[to] = self.holding[from];
            self.strike[to] = self.strike[from];
            self.settlement[to] = self.settlement[from];
            self.value[to] = self.value[from];
            self.pnl[to] = self.pnl[from];
            self.pnl_before[to] = self.pnl_before[from];
            self.hedge[to] = self.hedge[from];
            self.expiry[to] = self.expiry[from];
        }
        let (to, from) = (p * n + l, twin * n + l);
        self.total[to] = self.total[from];
        self.peak[to] = self.peak[from];
        self.max_drawdown[to] = self.max_drawdown[from];
        self.under_water_steps[to] = self.under_water_steps[from];
        self.spell[to] = self.spell[from];
        self.longest_spell[to] = self.longest_spell[from];
        self.lanes.turnover[to] = self.lanes.turnover[from];
        self.lanes.costs[to] = self.lanes.costs[from];
        if let Some(stopped) = self
            .stopped
            .iter()
            .find(|s| s.portfolio == twin && s.lane == l)
        {
            let pnl = stopped.pnl.clone();
            self.stopped.push(Stopped {
                portfolio: p,
                lane: l,
                pnl,
            });
        }
        self.lanes.following[to] = false;
        if let Some(s) = portfolio.strategy {
            let offset = tracker.strategies[s].offsets.state;
            // Every close so far was counted in the book at once.
            self.lanes.state_steps[offset * n + l] = self.steps as u32;
        }
        self.lanes.own_lanes[p].push(l as u32);
        self.lanes.place[to] = place as u32;
    }

    /// Columns a traded portfolio writes after its positions' P&Ls.
    pub(super) fn trading_columns(&self, p: usize) -> usize {
        let portfolio = &self.tracker.portfolios[p];
        if portfolio.trading.is_none() {
            return 0;
        }
        TRADING_METRICS.len()
            + portfolio.strategy.map_or(0, |s| {
                let strategy = &self.tracker.strategies[s];
                1 + strategy.states() + 2 * strategy.rules.len()
            })
    }

    pub(super) fn write_trading(&self, p: usize, l: usize, row: &mut [f64]) {
        let portfolio = &self.tracker.portfolios[p];
        if portfolio.trading.is_none() {
            return;
        }
        let n = self.count;
        let i = p * n + l;
        let book = &self.lanes;
        let v0 = portfolio.value;
        row[0] = book.turnover[i] / v0;
        row[1] = book.costs[i] / v0;
        let Some(s) = portfolio.strategy else {
            return;
        };
        let strategy = &self.tracker.strategies[s];
        let steps = self.steps.max(1) as f64;
        let dt = self.tracker.model.dt;
        row[2] = f64::from(book.transitions[i]);
        let mut c = 3;
        for state in 0..strategy.states() {
            row[c] = f64::from(book.state_steps[(strategy.offsets.state + state) * n + l]) / steps;
            c += 1;
        }
        for r in 0..strategy.rules.len() {
            let at = (strategy.offsets.rule + r) * n + l;
            row[c] = f64::from(book.firings[at]);
            row[c + 1] = match book.first_fired[at] {
                NEVER => f64::NAN,
                step => f64::from(step) * dt,
            };
            c += 2;
        }
    }

    /// What a traded portfolio does at the close after the step to `now`.
    pub(super) fn trade_at_close(&mut self, p: usize, lanes: &Lanes, now: usize, last: bool) {
        let n = self.count;
        let tracker = self.tracker;
        let portfolio = &tracker.portfolios[p];
        // Only the lanes valued on their own trade: a following lane's
        // positions are its twin's, which has traded them already.
        let own = std::mem::take(&mut self.lanes.own_lanes[p]);
        if let Some(s) = portfolio.strategy {
            let strategy = &tracker.strategies[s];
            let states = strategy.states();
            let offset = strategy.offsets.state;
            let tally = strategy.offsets.tally + (now - 1) * states;
            // Following lanes are in the book: counted at once (and their
            // steps in it when they leave, [`Self::leave_twin`]).
            self.lanes.tallies[tally] += (n - own.len()) as u64;
            for &l in &own {
                let l = l as usize;
                let state = self.lanes.state[p * n + l] as usize;
                self.lanes.state_steps[(offset + state) * n + l] += 1;
                self.lanes.tallies[tally + state] += 1;
            }
            let span = p * n..(p + 1) * n;
            for (peak, &total) in self.lanes.state_peak[span.clone()]
                .iter_mut()
                .zip(&self.total[span])
            {
                *peak = if total > *peak { total } else { *peak };
            }
        }
        if last {
            self.lanes.own_lanes[p] = own;
            return;
        }
        let now32 = now as u32;
        let live = |batch: &Self, l: usize| batch.total[p * n + l].is_finite();
        if portfolio.strategy.is_some() {
            for &l in &own {
                let (l, i) = (l as usize, p * n + l as usize);
                if self.lanes.order[i] != NO_ORDER
                    && self.lanes.fill_at[i] == now32
                    && live(self, l)
                {
                    let to = self.lanes.order[i];
                    self.lanes.order[i] = NO_ORDER;
                    self.change_state(p, l, to as usize, now);
                }
            }
        }
        self.roll_expired_options(p, now, &own[..]);
        if portfolio
            .rebalance_every
            .is_some_and(|every| now % every == 0)
        {
            for &l in &own {
                if live(self, l as usize) {
                    self.rebalance_lane(p, l as usize);
                }
            }
        }
        self.lanes.own_lanes[p] = own;
        if let Some(s) = portfolio.strategy {
            self.fire_rules(p, s, lanes, now);
        }
    }

    /// Buys the next options of portfolio `p`'s overlays whose contracts
    /// expired at close `now`, on each lane's notional (its state's weight, or
    /// the book's, of the portfolio's value).
    pub(super) fn roll_expired_options(&mut self, p: usize, now: usize, on: impl LaneSet) {
        let n = self.count;
        let portfolio = &self.tracker.portfolios[p];
        for k in portfolio.positions.clone() {
            if !matches!(self.tracker.positions[k].leg, Leg::Option { .. }) {
                continue;
            }
            for (i, l) in on.each() {
                let total = self.total[p * n + l];
                if self.expiry[k * n + i] == now && total.is_finite() {
                    let notional = self.weight_of(p, k, l) * total;
                    let traded = self.open_options(k, k * n + i, l, portfolio.base, notional, now);
                    self.charge(p, l, traded);
                }
            }
        }
    }

    /// On every lane of strategy portfolio `p` open to a rule at close `now`
    /// (no order waiting, calm, valued), fires the first rule of strategy `s`
    /// (in the file's order) that acts in the lane's state and whose every
    /// condition holds. A rule is tried only on the lanes that could fire it:
    /// those where its signal holds, or (if it does not act in the book)
    /// those that have left their twin; most closes, that is a few lanes.
    fn fire_rules(&mut self, p: usize, s: usize, lanes: &Lanes, now: usize) {
        let n = self.count;
        let tracker = self.tracker;
        let strategy = &tracker.strategies[s];
        let now32 = now as u32;
        let mut candidates = std::mem::take(&mut self.lanes.candidates);
        for (r, rule) in strategy.rules.iter().enumerate() {
            candidates.clear();
            if rule.from & 1 == 0 {
                // A lane still following its twin is in the book.
                candidates.extend_from_slice(&self.lanes.own_lanes[p]);
            } else if let Some(mask) = rule.signal_mask {
                candidates.extend_from_slice(self.lanes_where_signals_hold(mask));
            } else {
                candidates.extend(0..n as u32);
            }
            for &l in &candidates {
                let (l, i) = (l as usize, p * n + l as usize);
                let book = &self.lanes;
                let open = book.order[i] == NO_ORDER
                    && now32 >= book.calm_until[i]
                    && self.total[i].is_finite()
                    && rule.from & (1 << book.state[i]) != 0;
                if open && rule.when.iter().all(|c| self.holds(c, p, l, lanes, now32)) {
                    self.fire(p, s, r, l, now);
                }
            }
        }
        self.lanes.candidates = candidates;
    }

    /// The lanes where any signal of `mask` holds at this close, found once a
    /// close for every strategy that asks.
    fn lanes_where_signals_hold(&mut self, mask: u32) -> &[u32] {
        let book = &mut self.lanes;
        let at = match book.signal_lanes.iter().position(|(m, _)| *m == mask) {
            Some(at) => at,
            None => {
                let lanes = (0..book.signal_bits.len() as u32)
                    .filter(|&l| book.signal_bits[l as usize] & mask != 0)
                    .collect();
                book.signal_lanes.push((mask, lanes));
                book.signal_lanes.len() - 1
            }
        };
        &book.signal_lanes[at].1
    }

    /// Whether `check` holds on lane `l` of portfolio `p` at close `now`.
    fn holds(&self, check: &Check, p: usize, l: usize, lanes: &Lanes, now: u32) -> bool {
        let n = self.count;
        let i = p * n + l;
        let book = &self.lanes;
        let total = self.total[i];
        match *check {
            Check::Signal(ref signals) => book
                .signal_bits
                .get(l)
                .is_some_and(|bits| signals.iter().any(|&r| bits >> r & 1 == 1)),
            Check::Quiet { ref signals, steps } => signals.iter().all(|&r| {
                let last = book.signal_last[r * n + l];
                last == NEVER || now - last >= steps
            }),
            Check::InRegime(r) => lanes.regime_in_step[l] == r,
            Check::OutOfRegime(r) => lanes.regime_in_step[l] != r,
            Check::Drawdown(d) => 1.0 - total / self.peak_of(p, l) >= d,
            Check::AssetDrawdown { peak, slot, fall } => {
                1.0 - self.level[slot * n + l] / book.peaks[peak * n + l] >= fall
            }
            Check::Above { slot, level } => self.level[slot * n + l] >= level,
            Check::Below { slot, level } => self.level[slot * n + l] <= level,
            Check::After(t) => now >= t,
            Check::Before(t) => now < t,
            Check::StateReturnBelow(r) => total / book.entry_value[i] - 1.0 <= r,
            Check::StateReturnAbove(r) => total / book.entry_value[i] - 1.0 >= r,
            Check::StateDrawdown(d) => 1.0 - total / book.state_peak[i] >= d,
            Check::DaysInState(d) => now - book.entered_at[i] >= d,
        }
    }

    /// Rule `r` of strategy `s` fires on lane `l` of portfolio `p` at close
    /// `now`: its order fills `delay_steps` closes later (now, without delay).
    fn fire(&mut self, p: usize, s: usize, r: usize, l: usize, now: usize) {
        let n = self.count;
        let i = p * n + l;
        let strategy = &self.tracker.strategies[s];
        let trading = self.tracker.portfolios[p].trading.unwrap_or_default();
        let at = (strategy.offsets.rule + r) * n + l;
        if self.follows_twin(p, l) {
            // From this close on the lane may hold what its twin does not:
            // it is valued on its own (the same numbers until its order fills).
            self.leave_twin(p, l);
        }
        self.lanes.firings[at] += 1;
        if self.lanes.first_fired[at] == NEVER {
            self.lanes.first_fired[at] = now as u32;
        }
        let to = strategy.rules[r].to;
        let fill = now + trading.delay_steps;
        self.lanes.calm_until[i] = (fill + 1 + trading.cooldown_steps) as u32;
        if trading.delay_steps == 0 {
            self.change_state(p, l, to as usize, now);
        } else {
            self.lanes.order[i] = to;
            self.lanes.fill_at[i] = fill as u32;
        }
    }

    /// The target weight of position `k` of portfolio `p` on lane `l`.
    fn weight_of(&self, p: usize, k: usize, l: usize) -> f64 {
        let portfolio = &self.tracker.portfolios[p];
        match portfolio.strategy {
            Some(s) => {
                let state = self.lanes.state[p * self.count + l] as usize;
                self.tracker.strategies[s].weights[state][k - portfolio.positions.start]
            }
            None => self.tracker.positions[k].weight,
        }
    }

    /// Moves lane `l` of strategy portfolio `p` into state `to` at close
    /// `now`: every position whose weight the two states set differently
    /// trades to its new weight, every changed hedge ratio is reset.
    fn change_state(&mut self, p: usize, l: usize, to: usize, now: usize) {
        let n = self.count;
        let i = p * n + l;
        let tracker = self.tracker;
        let portfolio = &tracker.portfolios[p];
        let Some(s) = portfolio.strategy else {
            return;
        };
        let strategy = &tracker.strategies[s];
        let from = self.lanes.state[i] as usize;
        if from == to {
            return;
        }
        debug_assert!(!self.follows_twin(p, l), "a rule fired first");
        let base = portfolio.base;
        let place = self.place(p, l);
        let funded = self.funded(p, l);
        let total = self.total[i];
        let mut traded = 0.0;
        for k in portfolio.positions.clone() {
            if Some(k) == portfolio.residual {
                continue;
            }
            let j = k - portfolio.positions.start;
            let (old, new) = (strategy.weights[from][j], strategy.weights[to][j]);
            let (h_old, h_new) = (strategy.hedges[from][j], strategy.hedges[to][j]);
            if h_old != h_new {
                traded += (h_new - h_old).abs() * self.value[k * n + place].abs();
                self.hedge[k * n + place] = h_new;
            }
            if old == new {
                continue;
            }
            traded += match tracker.positions[k].leg {
                Leg::Option { .. } => {
                    let sold = self.close_options(p, k, l);
                    sold + self.open_options(k, k * n + place, l, base, new * total, now)
                }
                _ => self.trade_to(p, k, l, new * funded),
            };
        }
        self.charge(p, l, traded);
        let book = &mut self.lanes;
        book.state[i] = to as u8;
        book.entered_at[i] = now as u32;
        book.entry_value[i] = self.total[i];
        book.state_peak[i] = self.total[i];
        book.transitions[i] += 1;
    }

    /// The portfolio's value less its option overlays' market value: what the
    /// funded positions' weights apply to.
    fn funded(&self, p: usize, l: usize) -> f64 {
        let n = self.count;
        let portfolio = &self.tracker.portfolios[p];
        let mut funded = self.total[p * n + l];
        let place = self.place(p, l);
        for k in portfolio.positions.clone() {
            if let Leg::Option { .. } = self.tracker.positions[k].leg {
                let s = self.fx(self.tracker.positions[k].currency, portfolio.base, l, false);
                funded -= self.value[k * n + place] - self.settlement[k * n + place] * s;
            }
        }
        funded
    }

    /// Cash into (or out of) portfolio `p`'s base-currency cash on lane `l`.
    fn move_cash(&mut self, p: usize, l: usize, amount: f64) {
        let n = self.count;
        if let Some(r) = self.tracker.portfolios[p].residual {
            let i = r * n + self.place(p, l);
            self.holding[i] += amount;
            self.value[i] += amount;
        }
    }

    /// Pays the cost of `traded` (base currency) from the cash.
    fn charge(&mut self, p: usize, l: usize, traded: f64) {
        if traded == 0.0 || self.tracker.portfolios[p].trading.is_none() {
            return;
        }
        let n = self.count;
        let portfolio = &self.tracker.portfolios[p];
        let cost = portfolio.trading.map_or(0.0, |t| t.cost_bps) * 1e-4 * traded;
        let i = p * n + l;
        self.lanes.turnover[i] += traded;
        if cost == 0.0 {
            return;
        }
        self.lanes.costs[i] += cost;
        self.move_cash(p, l, -cost);
        if let Some(r) = portfolio.residual {
            let i = r * n + self.place(p, l);
            self.pnl[i] -= cost;
        }
        self.total[i] -= cost;
    }

    /// Trades funded position `k` (not an option) to `target` (base currency,
    /// a forward's notional) against the cash; the value traded.
    fn trade_to(&mut self, p: usize, k: usize, l: usize, target: f64) -> f64 {
        let n = self.count;
        let i = k * n + self.place(p, l);
        let position = self.tracker.positions[k];
        let s = self.fx(position.currency, self.tracker.portfolios[p].base, l, false);
        let old = self.value[i];
        match position.leg {
            Leg::Asset { slot } => self.holding[i] = target / (s * self.level[slot * n + l]),
            Leg::Cash | Leg::Treasury { .. } => self.holding[i] = target / s,
            Leg::Forward => {
                // Closed at its value, which settles in cash, and struck again.
                let notional = self.holding[i] * s;
                self.move_cash(p, l, old);
                self.holding[i] = target / s;
                self.settlement[i] = -target;
                self.value[i] = 0.0;
                return (target - notional).abs();
            }
            Leg::Option { .. } => return 0.0,
        }
        self.value[i] = target;
        self.move_cash(p, l, old - target);
        (target - old).abs()
    }

    /// Sells option position `k`'s contracts at their mark; its whole value
    /// (contracts and own cash) goes to the cash. The premium received.
    fn close_options(&mut self, p: usize, k: usize, l: usize) -> f64 {
        let n = self.count;
        let i = k * n + self.place(p, l);
        let position = self.tracker.positions[k];
        let s = self.fx(position.currency, self.tracker.portfolios[p].base, l, false);
        let market = self.value[i] - self.settlement[i] * s;
        self.move_cash(p, l, self.value[i]);
        self.holding[i] = 0.0;
        self.settlement[i] = 0.0;
        self.value[i] = 0.0;
        market.abs()
    }

    /// Buys option position `k`'s contracts (at `i` in the position arrays,
    /// on lane `l`'s market) on `notional` (base currency) for a full tenor
    /// from close `now`, the premium paid from its own cash (its value does
    /// not move). The premium paid.
    pub(super) fn open_options(
        &mut self,
        k: usize,
        i: usize,
        l: usize,
        base: usize,
        notional: f64,
        now: usize,
    ) -> f64 {
        let n = self.count;
        let position = self.tracker.positions[k];
        let Leg::Option {
            spec,
            underlying,
            vol,
        } = position.leg
        else {
            return 0.0;
        };
        self.expiry[i] = now + spec.tenor_steps;
        if notional == 0.0 {
            self.holding[i] = 0.0;
            return 0.0;
        }
        let spot = self.level[underlying * n + l];
        let s = self.fx(position.currency, base, l, false);
        let contracts = notional / (spot * s);
        let strike = spec.moneyness * spot;
        let price = black_scholes(
            spec.kind,
            spot,
            strike,
            spec.tenor_steps as f64 * self.tracker.model.dt,
            self.level[vol * n + l],
            self.rate[position.currency * n + l],
        );
        self.holding[i] = contracts;
        self.strike[i] = strike;
        self.settlement[i] -= contracts * price;
        (contracts * price * s).abs()
    }

    /// A rebalancing date on lane `l`: option overlays hand their cash to the
    /// book; every funded position further than the band from its weight
    /// trades back to it.
    fn rebalance_lane(&mut self, p: usize, l: usize) {
        let n = self.count;
        let tracker = self.tracker;
        let portfolio = &tracker.portfolios[p];
        let band = portfolio.trading.map_or(0.0, |t| t.band);
        let place = self.place(p, l);
        for k in portfolio.positions.clone() {
            if let Leg::Option { .. } = tracker.positions[k].leg {
                let s = self.fx(tracker.positions[k].currency, portfolio.base, l, false);
                let cash = self.settlement[k * n + place] * s;
                self.settlement[k * n + place] = 0.0;
                self.value[k * n + place] -= cash;
                self.move_cash(p, l, cash);
            }
        }
        let funded = self.funded(p, l);
        let mut traded = 0.0;
        for k in portfolio.positions.clone() {
            let leg = tracker.positions[k].leg;
            if Some(k) == portfolio.residual || matches!(leg, Leg::Option { .. }) {
                continue;
            }
            let weight = self.weight_of(p, k, l);
            let s = self.fx(tracker.positions[k].currency, portfolio.base, l, false);
            let held = match leg {
                Leg::Forward => self.holding[k * n + place] * s,
                _ => self.value[k * n + place],
            };
            let drift = (held / funded - weight).abs();
            if band == 0.0 || drift > band {
                traded += self.trade_to(p, k, l, weight * funded);
            }
        }
        self.charge(p, l, traded);
    }
}
