//! Per-path summaries, kept while the path streams past: nothing of the path itself
//! is stored.

use super::signals::{signal_columns, SignalTracker};
use crate::model::{AssetModel, Lanes, Model};
use crate::scenario::ProcessKind;

/// The per-path figures, one column each, in this order: per asset its eight
/// figures ([`ASSET_METRICS`]); per Heston asset its terminal variance; per regime the share of steps
/// spent in it, then per regime the first entry time; per event its firing count;
/// per correlation pair its realised correlation overall, then in each regime.
#[derive(Debug, Clone)]
pub struct MetricLayout {
    pub names: Vec<String>,
    assets: usize,
    heston: Vec<usize>,
    regimes: usize,
    events: usize,
    /// The first of the flow loop's two columns, when the scenario has flows.
    flow_start: Option<usize>,
    /// The first signal column, when the scenario has signals.
    signal_start: Option<usize>,
    /// The path's likelihood ratio `dP/dQ`, when the run samples under a tilt.
    likelihood_ratio: Option<usize>,
    /// Columns before those an observer appended.
    builtin: usize,
}

/// The figures kept for every asset, in column order, as named for a log-price
/// asset; a level (OU) asset's third is [`LEVEL_CHANGE_METRIC`] instead.
pub const ASSET_METRICS: [&str; 8] = [
    "max_drawdown",
    "realized_vol",
    "terminal_return",
    "min",
    "max",
    "terminal_level",
    "worst_day",
    "best_day",
];

/// The per-path column of a tilted run's likelihood ratio `dP/dQ`, the
/// weight that makes its figures the scenario's own.
pub const LIKELIHOOD_RATIO: &str = "likelihood_ratio";

/// The name of a level asset's third figure: `x_T - x_0` in the asset's units,
/// not a return, so it does not share the log-price assets' name.
pub const LEVEL_CHANGE_METRIC: &str = "terminal_change";

/// The name of an asset's figure `metric` (an index into [`ASSET_METRICS`]).
pub fn asset_metric_name(is_log: bool, metric: usize) -> &'static str {
    if metric == 2 && !is_log {
        LEVEL_CHANGE_METRIC
    } else {
        ASSET_METRICS[metric]
    }
}

impl MetricLayout {
    pub fn new(model: &Model) -> MetricLayout {
        let mut names = Vec::new();
        for asset in &model.assets {
            for m in 0..ASSET_METRICS.len() {
                names.push(format!(
                    "{}.{}",
                    asset.name,
                    asset_metric_name(asset.is_log, m)
                ));
            }
        }
        let heston: Vec<usize> = model
            .assets
            .iter()
            .enumerate()
            .filter(|(_, a)| a.process == ProcessKind::Heston)
            .map(|(i, _)| i)
            .collect();
        for &a in &heston {
            names.push(format!("{}.terminal_variance", model.assets[a].name));
        }
        for regime in &model.regime_names {
            names.push(format!("regime.{regime}.time_share"));
        }
        for regime in &model.regime_names {
            names.push(format!("regime.{regime}.first_entry_years"));
        }
        for event in &model.event_names {
            names.push(format!("event.{event}.firings"));
        }
        for &(a, b) in &model.correlation_pairs {
            let pair = format!("corr.{}.{}", model.assets[a].name, model.assets[b].name);
            names.push(pair.clone());
            for regime in &model.regime_names {
                names.push(format!("{pair}.{regime}"));
            }
        }
        let flow_start = model.flows.is_some().then(|| {
            names.push("flows.max_pressure".to_string());
            names.push("flows.pressure_share".to_string());
            names.len() - 2
        });
        let signal_start = model.signals.as_ref().map(|signals| {
            let start = names.len();
            names.extend(signal_columns(signals));
            start
        });
        let likelihood_ratio = model.tilt().map(|_| {
            names.push(LIKELIHOOD_RATIO.to_string());
            names.len() - 1
        });
        MetricLayout {
            builtin: names.len(),
            names,
            flow_start,
            signal_start,
            likelihood_ratio,
            assets: model.assets.len(),
            heston,
            regimes: model.regime_names.len(),
            events: model.event_names.len(),
        }
    }

    pub fn columns(&self) -> usize {
        self.names.len()
    }

    pub fn asset_column(&self, asset: usize, metric: usize) -> usize {
        asset * ASSET_METRICS.len() + metric
    }

    pub fn time_share_column(&self, regime: usize) -> usize {
        self.assets * ASSET_METRICS.len() + self.heston.len() + regime
    }

    pub fn first_entry_column(&self, regime: usize) -> usize {
        self.time_share_column(0) + self.regimes + regime
    }

    pub fn event_column(&self, event: usize) -> usize {
        self.first_entry_column(0) + self.regimes + event
    }

    /// The realised correlation of pair `pair`: overall (`regime = None`) or in a regime.
    pub fn correlation_column(&self, pair: usize, regime: Option<usize>) -> usize {
        self.event_column(0) + self.events + pair * (self.regimes + 1) + regime.map_or(0, |r| r + 1)
    }

    /// The flow loop's two columns (maximum pressure, share of steps under
    /// pressure), when the scenario has flows.
    pub fn flow_columns(&self) -> Option<(usize, usize)> {
        self.flow_start.map(|c| (c, c + 1))
    }

    /// The first signal column (`signal.drawdown_years`), when the scenario has
    /// signals.
    pub fn signal_start(&self) -> Option<usize> {
        self.signal_start
    }

    /// The likelihood ratio's column, when the run samples under a tilt.
    pub fn likelihood_ratio_column(&self) -> Option<usize> {
        self.likelihood_ratio
    }

    /// The engine's own columns (those an observer appended come after).
    pub fn builtin_columns(&self) -> usize {
        self.builtin
    }

    /// Appends columns written by an observer outside the engine; returns the first.
    pub fn append(&mut self, names: Vec<String>) -> usize {
        let first = self.names.len();
        self.names.extend(names);
        first
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
}

/// Streaming summaries of a batch of paths (one per lane), asset-major like the
/// [`Lanes`]. In log-price terms for log assets: the running peak and the largest
/// fall below it give the max drawdown `1 - exp(-fall)` exactly on the daily grid;
/// the sum of squared daily log-returns with their telescoped sum `x_T - x_0`
/// gives the sample variance.
#[derive(Debug, Clone)]
pub struct PathSummary {
    count: usize,
    start: Vec<f64>,
    previous: Vec<f64>,
    peak: Vec<f64>,
    trough: Vec<f64>,
    largest_fall: Vec<f64>,
    sum_squares: Vec<f64>,
    /// The most negative and most positive one-step change of the state.
    worst_step: Vec<f64>,
    best_step: Vec<f64>,
    steps: usize,
    regimes: usize,
    last_regime: Vec<usize>,
    /// `[lane * regimes + regime]`.
    regime_steps: Vec<u32>,
    first_entry: Vec<u32>,
    events: usize,
    /// `[lane * events + event]`.
    event_firings: Vec<u32>,
    pairs: Vec<(usize, usize)>,
    /// `[((pair * regimes + regime) * lanes + lane) * 5 + m]`: the sums of a, b,
    /// a^2, b^2 and ab over the daily changes of a pair in a regime's finished
    /// spells (the count is the regime's steps).
    co_moments: Vec<f64>,
    /// `[(pair * 5 + m) * lanes + lane]`: the same sums over the lane's current
    /// spell in `spell_regime`, kept lane-contiguous so that adding a step
    /// vectorises; a spell is added to `co_moments` when the regime changes.
    spell: Vec<f64>,
    spell_regime: Vec<usize>,
    /// Per lane: the largest pressure and the steps under pressure.
    max_pressure: Vec<f64>,
    pressure_steps: Vec<u32>,
    flows: bool,
    signals: Option<SignalTracker>,
}

/// Co-moment sums per pair and lane: a, b, a^2, b^2, ab.
const CO_MOMENTS: usize = 5;

/// The sample correlation of `n` observations from their five co-moment sums
/// (NaN below three observations or without variation).
fn correlation(n: f64, m: &[f64; CO_MOMENTS]) -> f64 {
    let (sa, sb, saa, sbb, sab) = (m[0], m[1], m[2], m[3], m[4]);
    let var_a = n * saa - sa * sa;
    let var_b = n * sbb - sb * sb;
    if n < 3.0 || !(var_a > 0.0 && var_b > 0.0) {
        return f64::NAN;
    }
    ((n * sab - sa * sb) / (var_a * var_b).sqrt()).clamp(-1.0, 1.0)
}

impl PathSummary {
    pub fn new(model: &Model, count: usize) -> PathSummary {
        let per_asset = vec![0.0; model.assets.len() * count];
        let (regimes, events) = (model.regimes(), model.event_names.len());
        PathSummary {
            count,
            start: per_asset.clone(),
            previous: per_asset.clone(),
            peak: per_asset.clone(),
            trough: per_asset.clone(),
            largest_fall: per_asset.clone(),
            worst_step: per_asset.clone(),
            best_step: per_asset.clone(),
            sum_squares: per_asset,
            steps: 0,
            regimes,
            last_regime: vec![0; count],
            regime_steps: vec![0; count * regimes],
            first_entry: vec![u32::MAX; count * regimes],
            events,
            event_firings: vec![0; count * events],
            pairs: model.correlation_pairs.clone(),
            co_moments: vec![0.0; model.correlation_pairs.len() * regimes * count * CO_MOMENTS],
            spell: vec![0.0; model.correlation_pairs.len() * CO_MOMENTS * count],
            spell_regime: vec![0; count],
            max_pressure: vec![0.0; count],
            pressure_steps: vec![0; count],
            flows: model.flows.is_some(),
            signals: model
                .signals
                .as_ref()
                .map(|spec| SignalTracker::new(spec, count)),
        }
    }

    /// Starts every lane from the lanes' current state.
    pub fn start(&mut self, lanes: &Lanes) {
        self.start.copy_from_slice(&lanes.x);
        self.previous.copy_from_slice(&lanes.x);
        self.peak.copy_from_slice(&lanes.x);
        self.trough.copy_from_slice(&lanes.x);
        self.largest_fall.iter_mut().for_each(|v| *v = 0.0);
        self.sum_squares.iter_mut().for_each(|v| *v = 0.0);
        self.worst_step.fill(0.0);
        self.best_step.fill(0.0);
        self.steps = 0;
        self.regime_steps.iter_mut().for_each(|v| *v = 0);
        self.first_entry.iter_mut().for_each(|v| *v = u32::MAX);
        for lane in 0..self.count {
            let regime = lanes.regime[lane];
            self.first_entry[lane * self.regimes + regime] = 0;
            self.last_regime[lane] = regime;
        }
        self.event_firings.iter_mut().for_each(|v| *v = 0);
        self.co_moments.fill(0.0);
        self.spell.fill(0.0);
        self.spell_regime.copy_from_slice(&lanes.regime);
        self.max_pressure.iter_mut().for_each(|v| *v = 0.0);
        self.pressure_steps.iter_mut().for_each(|v| *v = 0);
        if let Some(signals) = &mut self.signals {
            signals.start(lanes);
        }
    }

    /// Records step `t` after the model has taken it.
    #[inline]
    pub fn push(&mut self, lanes: &Lanes, t: usize) {
        if !self.pairs.is_empty() {
            self.push_co_moments(lanes);
        }
        // Straight loops over every (asset, lane) that vectorise. f64::max and
        // min compile to max/min with a NaN blend and plain stores; the selects
        // `if x > peak { x } else { peak }` compiled to masked stores, which
        // took twice as long (the state is never NaN, so both agree).
        let n = self.worst_step.len();
        let (x, previous) = (&lanes.x[..n], &self.previous[..n]);
        let (worst, best) = (&mut self.worst_step[..n], &mut self.best_step[..n]);
        for i in 0..n {
            let r = x[i] - previous[i];
            worst[i] = worst[i].min(r);
            best[i] = best[i].max(r);
        }
        let states = lanes.x.iter().zip(&mut self.previous);
        let extremes = self.peak.iter_mut().zip(&mut self.trough);
        let figures = self.sum_squares.iter_mut().zip(&mut self.largest_fall);
        for (((&x, previous), (peak, trough)), (sum_squares, largest_fall)) in
            states.zip(extremes).zip(figures)
        {
            let r = x - *previous;
            *sum_squares += r * r;
            *previous = x;
            *peak = peak.max(x);
            *trough = trough.min(x);
            *largest_fall = largest_fall.max(*peak - x);
        }
        self.steps += 1;
        if let Some(signals) = &mut self.signals {
            signals.push(lanes, t);
        }
        if self.flows {
            for (lane, &pressure) in lanes.pressure.iter().enumerate() {
                if pressure > 0.0 {
                    self.pressure_steps[lane] += 1;
                    if pressure > self.max_pressure[lane] {
                        self.max_pressure[lane] = pressure;
                    }
                }
            }
        }
        for lane in 0..self.count {
            let used = lanes.regime_in_step[lane];
            let now = lanes.regime[lane];
            let base = lane * self.regimes;
            self.regime_steps[base + used] += 1;
            if used != self.last_regime[lane] && self.first_entry[base + used] == u32::MAX {
                self.first_entry[base + used] = t as u32;
            }
            if now != used && self.first_entry[base + now] == u32::MAX {
                self.first_entry[base + now] = t as u32 + 1;
            }
            self.last_regime[lane] = now;
            let fired = lanes.fired[lane];
            if fired != 0 {
                for e in 0..self.events {
                    self.event_firings[lane * self.events + e] += ((fired >> e) & 1) as u32;
                }
            }
        }
    }

    /// Adds this step's daily changes of every correlation pair to the lanes'
    /// spells, closing the spells of lanes whose regime changed.
    fn push_co_moments(&mut self, lanes: &Lanes) {
        let count = self.count;
        for lane in 0..count {
            let regime = lanes.regime_in_step[lane];
            if regime != self.spell_regime[lane] {
                self.close_spell(lane);
                self.spell_regime[lane] = regime;
            }
        }
        for (p, &(a, b)) in self.pairs.iter().enumerate() {
            let (xa, xb) = (lanes.asset(a), lanes.asset(b));
            let previous_a = &self.previous[a * count..(a + 1) * count];
            let previous_b = &self.previous[b * count..(b + 1) * count];
            let spell = &mut self.spell[p * CO_MOMENTS * count..(p + 1) * CO_MOMENTS * count];
            let (sa, rest) = spell.split_at_mut(count);
            let (sb, rest) = rest.split_at_mut(count);
            let (saa, rest) = rest.split_at_mut(count);
            let (sbb, sab) = rest.split_at_mut(count);
            for l in 0..count {
                let (ra, rb) = (xa[l] - previous_a[l], xb[l] - previous_b[l]);
                sa[l] += ra;
                sb[l] += rb;
                saa[l] += ra * ra;
                sbb[l] += rb * rb;
                sab[l] += ra * rb;
            }
        }
    }

    /// Moves lane `lane`'s current spell sums into its regime's totals.
    fn close_spell(&mut self, lane: usize) {
        let (count, regime) = (self.count, self.spell_regime[lane]);
        for p in 0..self.pairs.len() {
            let at = ((p * self.regimes + regime) * count + lane) * CO_MOMENTS;
            for m in 0..CO_MOMENTS {
                let open = &mut self.spell[(p * CO_MOMENTS + m) * count + lane];
                self.co_moments[at + m] += *open;
                *open = 0.0;
            }
        }
    }

    /// Lane `lane`'s co-moment sums of pair `p` in regime `r`, its open spell
    /// included.
    fn co_moments_of(&self, p: usize, r: usize, lane: usize) -> [f64; CO_MOMENTS] {
        let count = self.count;
        let at = ((p * self.regimes + r) * count + lane) * CO_MOMENTS;
        let mut sums: [f64; CO_MOMENTS] = self.co_moments[at..at + CO_MOMENTS]
            .try_into()
            .expect("five sums");
        if self.spell_regime[lane] == r {
            for (m, sum) in sums.iter_mut().enumerate() {
                *sum += self.spell[(p * CO_MOMENTS + m) * count + lane];
            }
        }
        sums
    }

    /// Writes each lane's row of the metric table into `rows` (lane after lane).
    pub fn finish(&self, model: &Model, layout: &MetricLayout, lanes: &Lanes, rows: &mut [f64]) {
        let n = self.steps.max(1) as f64;
        let columns = layout.columns();
        for lane in 0..self.count {
            let row = &mut rows[lane * columns..(lane + 1) * columns];
            for (a, asset) in model.assets.iter().enumerate() {
                let k = a * self.count + lane;
                let total = self.previous[k] - self.start[k];
                let variance = if self.steps > 1 {
                    ((self.sum_squares[k] - total * total / n) / (n - 1.0)).max(0.0)
                } else {
                    0.0
                };
                let realized_vol = (variance / model.dt).sqrt();
                let values = figures(
                    asset,
                    self.largest_fall[k],
                    realized_vol,
                    total,
                    [self.trough[k], self.peak[k], self.previous[k]],
                    [self.worst_step[k], self.best_step[k]],
                );
                for (m, value) in values.iter().enumerate() {
                    row[layout.asset_column(a, m)] = *value;
                }
            }
            for (h, &a) in layout.heston.iter().enumerate() {
                row[layout.assets * ASSET_METRICS.len() + h] = lanes
                    .variance_of(a, lane)
                    .max(model.assets[a].variance_floor);
            }
            for r in 0..self.regimes {
                let steps = self.regime_steps[lane * self.regimes + r];
                row[layout.time_share_column(r)] = steps as f64 / n;
                row[layout.first_entry_column(r)] = match self.first_entry[lane * self.regimes + r]
                {
                    u32::MAX => f64::NAN,
                    step => step as f64 * model.dt,
                };
            }
            for e in 0..self.events {
                row[layout.event_column(e)] = self.event_firings[lane * self.events + e] as f64;
            }
            for p in 0..self.pairs.len() {
                let mut overall = [0.0; CO_MOMENTS];
                for r in 0..self.regimes {
                    let m = self.co_moments_of(p, r, lane);
                    let steps = self.regime_steps[lane * self.regimes + r] as f64;
                    row[layout.correlation_column(p, Some(r))] = correlation(steps, &m);
                    for (total, value) in overall.iter_mut().zip(m) {
                        *total += value;
                    }
                }
                row[layout.correlation_column(p, None)] = correlation(self.steps as f64, &overall);
            }
            if let Some((max_column, share_column)) = layout.flow_columns() {
                row[max_column] = self.max_pressure[lane];
                row[share_column] = self.pressure_steps[lane] as f64 / n;
            }
            if let Some(column) = layout.likelihood_ratio {
                row[column] = lanes.log_likelihood_ratio[lane].exp();
            }
        }
        if let (Some(signals), Some(start)) = (&self.signals, layout.signal_start) {
            signals.finish(model.dt, start, columns, rows);
        }
    }
}

/// An asset's figures in its own terms: relative for log-price assets, in
/// level units for OU assets (a rate's drawdown is its largest fall in rate units,
/// its worst day its largest one-day fall).
fn figures(
    asset: &AssetModel,
    fall: f64,
    realized_vol: f64,
    total: f64,
    [trough, peak, last]: [f64; 3],
    [worst_step, best_step]: [f64; 2],
) -> [f64; ASSET_METRICS.len()] {
    if asset.is_log {
        [
            -(-fall).exp_m1(),
            realized_vol,
            total.exp_m1(),
            asset.level(trough),
            asset.level(peak),
            asset.level(last),
            worst_step.exp_m1(),
            best_step.exp_m1(),
        ]
    } else {
        [
            fall,
            realized_vol,
            total,
            trough,
            peak,
            last,
            worst_step,
            best_step,
        ]
    }
}
