//! Per-path summaries, kept while the path streams past: nothing of the path itself
//! is stored.

use crate::model::{AssetModel, Model, PathState};
use crate::scenario::ProcessKind;

/// The per-path figures, one column each, in this order: per asset its five
/// figures; per Heston asset its terminal variance; per regime the share of steps
/// spent in it, then per regime the first entry time; per event its firing count.
#[derive(Debug, Clone)]
pub struct MetricLayout {
    pub names: Vec<String>,
    assets: usize,
    heston: Vec<usize>,
    regimes: usize,
}

/// The figures kept for every asset, in column order.
pub const ASSET_METRICS: [&str; 5] = [
    "max_drawdown",
    "realized_vol",
    "terminal_return",
    "min",
    "max",
];

impl MetricLayout {
    pub fn new(model: &Model) -> MetricLayout {
        let mut names = Vec::new();
        for asset in &model.assets {
            for metric in ASSET_METRICS {
                names.push(format!("{}.{metric}", asset.name));
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
        MetricLayout {
            names,
            assets: model.assets.len(),
            heston,
            regimes: model.regime_names.len(),
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

    pub fn column(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
}

/// Running figures of one asset on one path, in its state space.
#[derive(Debug, Clone, Copy, Default)]
struct AssetTrack {
    start: f64,
    previous: f64,
    peak: f64,
    trough: f64,
    largest_fall: f64,
    sum_squares: f64,
}

/// Streaming summary of one path. In log-price terms for log assets: the running
/// peak and the largest fall below it give the max drawdown `1 - exp(-fall)`
/// exactly on the daily grid; the sum of squared daily log-returns with their
/// telescoped sum `x_T - x_0` gives the sample variance.
#[derive(Debug, Clone)]
pub struct PathSummary {
    tracks: Vec<AssetTrack>,
    steps: usize,
    last_regime: usize,
    regime_steps: Vec<u32>,
    first_entry: Vec<u32>,
    event_firings: Vec<u32>,
}

impl PathSummary {
    pub fn new(model: &Model) -> PathSummary {
        PathSummary {
            tracks: vec![AssetTrack::default(); model.assets.len()],
            steps: 0,
            last_regime: 0,
            regime_steps: vec![0; model.regimes()],
            first_entry: vec![u32::MAX; model.regimes()],
            event_firings: vec![0; model.event_names.len()],
        }
    }

    pub fn start(&mut self, state: &PathState) {
        for (track, &x) in self.tracks.iter_mut().zip(&state.x) {
            *track = AssetTrack {
                start: x,
                previous: x,
                peak: x,
                trough: x,
                largest_fall: 0.0,
                sum_squares: 0.0,
            };
        }
        self.steps = 0;
        self.regime_steps.iter_mut().for_each(|v| *v = 0);
        self.first_entry.iter_mut().for_each(|v| *v = u32::MAX);
        self.first_entry[state.regime] = 0;
        self.last_regime = state.regime;
        self.event_firings.iter_mut().for_each(|v| *v = 0);
    }

    /// Records step `t` after the model has taken it.
    #[inline]
    pub fn push(&mut self, state: &PathState, t: usize) {
        for (track, &x) in self.tracks.iter_mut().zip(&state.x) {
            let r = x - track.previous;
            track.sum_squares += r * r;
            track.previous = x;
            // Selects rather than f64::max/min: they compile to single max/min
            // instructions without NaN handling, and the state is never NaN.
            track.peak = if x > track.peak { x } else { track.peak };
            track.trough = if x < track.trough { x } else { track.trough };
            let fall = track.peak - x;
            track.largest_fall = if fall > track.largest_fall {
                fall
            } else {
                track.largest_fall
            };
        }
        self.steps += 1;
        let used = state.regime_in_step;
        self.regime_steps[used] += 1;
        if used != self.last_regime && self.first_entry[used] == u32::MAX {
            self.first_entry[used] = t as u32;
        }
        if state.regime != used && self.first_entry[state.regime] == u32::MAX {
            self.first_entry[state.regime] = t as u32 + 1;
        }
        self.last_regime = state.regime;
        if state.fired != 0 {
            for (e, count) in self.event_firings.iter_mut().enumerate() {
                *count += ((state.fired >> e) & 1) as u32;
            }
        }
    }

    /// Writes the path's row of the metric table.
    pub fn finish(&self, model: &Model, layout: &MetricLayout, state: &PathState, row: &mut [f32]) {
        let n = self.steps.max(1) as f64;
        for (a, (asset, track)) in model.assets.iter().zip(&self.tracks).enumerate() {
            let total = track.previous - track.start;
            let variance = if self.steps > 1 {
                ((track.sum_squares - total * total / n) / (n - 1.0)).max(0.0)
            } else {
                0.0
            };
            let realized_vol = (variance / model.dt).sqrt();
            let values = figures(
                asset,
                track.largest_fall,
                realized_vol,
                total,
                track.trough,
                track.peak,
            );
            for (m, value) in values.iter().enumerate() {
                row[layout.asset_column(a, m)] = *value as f32;
            }
        }
        for (k, &a) in layout.heston.iter().enumerate() {
            row[layout.assets * ASSET_METRICS.len() + k] = state.variance[a].max(0.0) as f32;
        }
        for (r, &steps) in self.regime_steps.iter().enumerate() {
            row[layout.time_share_column(r)] = (steps as f64 / n) as f32;
            row[layout.first_entry_column(r)] = match self.first_entry[r] {
                u32::MAX => f32::NAN,
                step => (step as f64 * model.dt) as f32,
            };
        }
        for (e, &count) in self.event_firings.iter().enumerate() {
            row[layout.event_column(e)] = count as f32;
        }
    }
}

/// An asset's five figures in its own terms: relative for log-price assets, in
/// level units for OU assets (a rate's drawdown is its largest fall in rate units).
fn figures(
    asset: &AssetModel,
    fall: f64,
    realized_vol: f64,
    total: f64,
    trough: f64,
    peak: f64,
) -> [f64; 5] {
    if asset.is_log {
        [
            -(-fall).exp_m1(),
            realized_vol,
            total.exp_m1(),
            asset.level(trough),
            asset.level(peak),
        ]
    } else {
        [fall, realized_vol, total, trough, peak]
    }
}
