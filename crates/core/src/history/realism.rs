//! The realism section: each anchored figure of a run beside history's.
//!
//! Every run figure is counted from the per-path table (`paths_metrics.csv`), so
//! a reader can recount it. A one-year anchor is scaled to the run's horizon
//! where a scaling rule exists (return quantiles: the median's drift times the
//! horizon, the spread around it by the square root of time; level changes by
//! the square root of time); drawdown figures and records are judged only at
//! their own horizon (within 5%).

use serde::{Deserialize, Serialize};

use super::{Anchor, Anchors, Figure};
use crate::engine::Simulation;
use crate::model::{AssetModel, Model};
use crate::stats::percentile_sorted;

/// How close a run's horizon must be to an anchor's to be judged as it is: a
/// year of 251 trading days is one year. Beyond it, figures that scale are
/// scaled and those that do not (drawdowns, records over a window) are not judged.
const SAME_HORIZON: f64 = 0.05;

/// A level record is not judged when the run starts within this fraction of it
/// (gold at its record high): any drift then sets a new one, which says nothing
/// about realism.
const NEAR_RECORD: f64 = 0.1;

/// The quantile of the per-path figure a record is judged by: a run that
/// reproduced decades of history puts about 1% of its paths beyond the record.
pub const RECORD_QUANTILE: f64 = 0.01;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Realism {
    /// Where the anchors came from.
    pub anchors: String,
    pub horizon_years: f64,
    /// Figures outside history's band, or beyond its record.
    pub outside: usize,
    pub figures: Vec<RealismFigure>,
}

/// Where a run figure stands against history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    Inside,
    Below,
    Above,
    /// The anchor's horizon differs from the run's and the figure does not scale.
    NotComparable,
}

/// How a realism figure is written for a reader: the same units as the charts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reads {
    /// A fraction, in percent (returns, drawdowns, probabilities).
    Percent,
    /// A rate's level held in decimals, in percent (a yield of 0.0452 as 4.52%).
    RatePercent,
    /// A change of a rate held in decimals, in basis points (0.0125 as 125 bp).
    BasisPoints,
    /// An implied volatility held in decimals, in points (0.186 as 18.6).
    VolPoints,
    /// A level or change in the asset's own units.
    #[default]
    Units,
}

impl Reads {
    fn of(figure: Figure, relative: bool, asset: &AssetModel) -> Reads {
        let level = matches!(
            figure,
            Figure::LevelLow | Figure::LevelHigh | Figure::LevelQuantile
        );
        if relative {
            Reads::Percent
        } else if matches!(asset.process, crate::scenario::ProcessKind::ImpliedVol) {
            Reads::VolPoints
        } else if asset.unit.starts_with("decimal") {
            if level {
                Reads::RatePercent
            } else {
                Reads::BasisPoints
            }
        } else {
            Reads::Units
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RealismFigure {
    pub asset: String,
    pub figure: Figure,
    /// What is compared, in words: "1y return p05", "record low".
    pub label: String,
    /// Whether the figures are fractions (printed in percent) rather than levels
    /// in the asset's units.
    pub relative: bool,
    /// How the figures are written for a reader, as the charts write them.
    #[serde(default)]
    pub reads: Reads,
    /// History's figure and band, scaled to the run's horizon where `scaled`.
    pub history: f64,
    pub low: f64,
    pub high: f64,
    pub scaled: bool,
    /// The run's figure, counted from the per-path table, and its standard error
    /// (absent for records).
    pub run: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_se: Option<f64>,
    pub standing: Standing,
    /// `run - history`.
    pub distance: f64,
    /// Paths beyond history's figure (below a low quantile, a record low or a
    /// drawdown threshold's reach; above a high one), and the share history
    /// itself puts there where it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paths_beyond: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share_beyond: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_share_beyond: Option<f64>,
    pub source: String,
    pub period: String,
}

/// One asset's per-path figure, sorted, NaN dropped.
struct Column(Vec<f64>);

impl Column {
    fn of(simulation: &Simulation, name: &str) -> Option<Column> {
        let mut values: Vec<f64> = simulation.column(name)?.filter(|v| !v.is_nan()).collect();
        values.sort_unstable_by(f64::total_cmp);
        (!values.is_empty()).then_some(Column(values))
    }

    fn quantile(&self, q: f64) -> f64 {
        percentile_sorted(&self.0, q)
    }

    /// Half the distance between the order statistics one binomial standard
    /// deviation either side of the quantile's rank: its standard error.
    fn quantile_se(&self, q: f64) -> f64 {
        let n = self.0.len() as f64;
        let spread = (n * q * (1.0 - q)).sqrt() / n;
        (self.quantile((q + spread).min(1.0)) - self.quantile((q - spread).max(0.0))) / 2.0
    }

    fn below(&self, x: f64) -> u64 {
        self.0.partition_point(|v| *v < x) as u64
    }

    fn above(&self, x: f64) -> u64 {
        (self.0.len() - self.0.partition_point(|v| *v <= x)) as u64
    }

    fn at_least(&self, x: f64) -> u64 {
        (self.0.len() - self.0.partition_point(|v| *v < x)) as u64
    }

    fn mean_sd(&self) -> (f64, f64) {
        let n = self.0.len() as f64;
        let mean = self.0.iter().sum::<f64>() / n;
        let squares: f64 = self.0.iter().map(|v| (v - mean) * (v - mean)).sum();
        (mean, (squares / (n - 1.0).max(1.0)).sqrt())
    }

    fn len(&self) -> f64 {
        self.0.len() as f64
    }
}

impl Realism {
    /// Holds `simulation` against every anchor whose asset the model has.
    pub fn new(anchors: &Anchors, model: &Model, simulation: &Simulation) -> Realism {
        let horizon = model.steps as f64 * model.dt;
        let mut figures = Vec::new();
        for anchor in &anchors.anchors {
            let Some(asset) = model.assets.iter().find(|a| a.name == anchor.asset) else {
                continue;
            };
            let median = anchors.anchors.iter().find(|a| {
                a.asset == anchor.asset
                    && a.figure == Figure::ReturnQuantile
                    && a.q == Some(0.5)
                    && a.horizon_years == anchor.horizon_years
            });
            if let Some(figure) = judge(anchor, median, asset, horizon, simulation) {
                figures.push(figure);
            }
        }
        Realism {
            anchors: anchors.origin.clone(),
            horizon_years: horizon,
            outside: figures
                .iter()
                .filter(|f| matches!(f.standing, Standing::Below | Standing::Above))
                .count(),
            figures,
        }
    }
}

/// The run's figure against one anchor, or `None` where the run has no such
/// figure (a return anchor on a level asset, a daily-level quantile).
fn judge(
    anchor: &Anchor,
    median: Option<&Anchor>,
    asset: &AssetModel,
    horizon: f64,
    simulation: &Simulation,
) -> Option<RealismFigure> {
    let is_log = asset.is_log;
    let column = |metric: &str| Column::of(simulation, &format!("{}.{metric}", anchor.asset));
    let ratio = anchor.horizon_years.map(|h| horizon / h);
    let same_horizon = ratio.is_none_or(|r| (r - 1.0).abs() <= SAME_HORIZON);
    let scale_of = |ratio: f64| (ratio - 1.0).abs() > SAME_HORIZON;
    let q = anchor.q.unwrap_or(0.5);
    let (mut history, mut low, mut high) = (anchor.value, anchor.low, anchor.high);
    let mut scaled = false;
    let mut comparable = true;
    let run;
    let mut run_se = None;
    let mut beyond = None;
    let mut history_share = None;
    let label;
    let years = anchor
        .horizon_years
        .map(|h| format!("{}y ", trim(h)))
        .unwrap_or_default();
    match anchor.figure {
        Figure::ReturnQuantile if is_log => {
            let returns = column("terminal_return")?;
            if let Some(r) = ratio.filter(|r| scale_of(*r)) {
                // Log-return quantiles: the median's drift scales with time, the
                // distance from it with its square root.
                let drift = median.map_or(0.0, |m| m.value.ln_1p());
                let rescale = |v: f64| (drift * r + (v.ln_1p() - drift) * r.sqrt()).exp_m1();
                (history, low, high) = (rescale(history), rescale(low), rescale(high));
                scaled = true;
            }
            run = returns.quantile(q);
            run_se = Some(returns.quantile_se(q));
            (beyond, history_share) = tail_count(&returns, q, history);
            label = format!("{years}return p{:02}", pct(q));
        }
        Figure::WorstReturn | Figure::BestReturn if is_log => {
            let returns = column("terminal_return")?;
            comparable = same_horizon;
            if anchor.figure == Figure::WorstReturn {
                run = returns.quantile(RECORD_QUANTILE);
                beyond = Some(returns.below(history));
                label = format!("worst {years}return on record (run p01)");
            } else {
                run = returns.quantile(1.0 - RECORD_QUANTILE);
                beyond = Some(returns.above(history));
                label = format!("best {years}return on record (run p99)");
            }
        }
        Figure::DrawdownProbability => {
            let drawdowns = column("max_drawdown")?;
            let threshold = anchor.threshold.expect("checked on load");
            comparable = same_horizon;
            let hits = drawdowns.at_least(threshold);
            let p = hits as f64 / drawdowns.len();
            run = p;
            run_se = Some((p * (1.0 - p) / drawdowns.len()).sqrt());
            beyond = Some(hits);
            history_share = Some(history);
            label = format!("P({years}max drawdown >= {}%)", trim(threshold * 100.0));
        }
        Figure::MeanMaxDrawdown => {
            let drawdowns = column("max_drawdown")?;
            comparable = same_horizon;
            let (mean, sd) = drawdowns.mean_sd();
            run = mean;
            run_se = Some(sd / drawdowns.len().sqrt());
            label = format!("mean {years}max drawdown");
        }
        Figure::RealizedVolMedian => {
            let vols = column("realized_vol")?;
            run = vols.quantile(0.5);
            run_se = Some(vols.quantile_se(0.5));
            label = "median realised vol".to_string();
        }
        Figure::ChangeQuantile if !is_log => {
            let changes = column("terminal_change")?;
            if let Some(r) = ratio.filter(|r| scale_of(*r)) {
                (history, low, high) = (history * r.sqrt(), low * r.sqrt(), high * r.sqrt());
                scaled = true;
            }
            run = changes.quantile(q);
            run_se = Some(changes.quantile_se(q));
            (beyond, history_share) = tail_count(&changes, q, history);
            label = format!("{years}change p{:02}", pct(q));
        }
        Figure::ChangeSd if !is_log => {
            let changes = column("terminal_change")?;
            if let Some(r) = ratio.filter(|r| scale_of(*r)) {
                (history, low, high) = (history * r.sqrt(), low * r.sqrt(), high * r.sqrt());
                scaled = true;
            }
            let (_, sd) = changes.mean_sd();
            run = sd;
            run_se = Some(sd / (2.0 * (changes.len() - 1.0)).max(1.0).sqrt());
            label = format!("{years}change sd");
        }
        Figure::LevelLow => {
            let lows = column("min")?;
            comparable = asset.initial > history * (1.0 + NEAR_RECORD);
            run = lows.quantile(RECORD_QUANTILE);
            beyond = Some(lows.below(history));
            label = "record low (run p01 of path lows)".to_string();
        }
        Figure::LevelHigh => {
            let highs = column("max")?;
            comparable = asset.initial < history * (1.0 - NEAR_RECORD);
            run = highs.quantile(1.0 - RECORD_QUANTILE);
            beyond = Some(highs.above(history));
            label = "record high (run p99 of path highs)".to_string();
        }
        Figure::WorstDay => {
            let days = column("worst_day")?;
            run = days.quantile(RECORD_QUANTILE);
            beyond = Some(days.below(history));
            label = "worst day on record (run p01)".to_string();
        }
        Figure::WorstDayQuantile if is_log => {
            // A daily figure over the window: it does not scale with the horizon.
            let days = column("worst_day")?;
            comparable = same_horizon;
            run = days.quantile(q);
            run_se = Some(days.quantile_se(q));
            (beyond, history_share) = tail_count(&days, q, history);
            label = format!("{years}worst day p{:02}", pct(q));
        }
        Figure::BestDay => {
            let days = column("best_day")?;
            run = days.quantile(1.0 - RECORD_QUANTILE);
            beyond = Some(days.above(history));
            label = "best day on record (run p99)".to_string();
        }
        _ => return None,
    }
    let lower_is_beyond = match anchor.figure {
        Figure::WorstReturn | Figure::LevelLow | Figure::WorstDay => Some(true),
        Figure::BestReturn | Figure::LevelHigh | Figure::BestDay => Some(false),
        _ => None,
    };
    let standing = if !comparable {
        Standing::NotComparable
    } else {
        match lower_is_beyond {
            Some(true) if run < history => Standing::Below,
            Some(false) if run > history => Standing::Above,
            Some(_) => Standing::Inside,
            None if run < low => Standing::Below,
            None if run > high => Standing::Above,
            None => Standing::Inside,
        }
    };
    let paths = simulation.paths as f64;
    let relative = match anchor.figure {
        Figure::DrawdownProbability => true,
        Figure::LevelLow | Figure::LevelHigh | Figure::LevelQuantile => false,
        _ => is_log,
    };
    Some(RealismFigure {
        asset: anchor.asset.clone(),
        figure: anchor.figure,
        label,
        relative,
        reads: Reads::of(anchor.figure, relative, asset),
        history,
        low,
        high,
        scaled,
        run,
        run_se,
        standing,
        distance: run - history,
        paths_beyond: beyond,
        share_beyond: beyond.map(|b| b as f64 / paths),
        history_share_beyond: history_share,
        source: anchor.source.clone(),
        period: anchor.period.clone(),
    })
}

/// Paths in the tail beyond history's `q` quantile `value` (below it for
/// q < 0.5, above for q > 0.5), and the share history puts there (`q`).
fn tail_count(column: &Column, q: f64, value: f64) -> (Option<u64>, Option<f64>) {
    if q < 0.5 {
        (Some(column.below(value)), Some(q))
    } else if q > 0.5 {
        (Some(column.above(value)), Some(1.0 - q))
    } else {
        (None, None)
    }
}

fn pct(q: f64) -> u32 {
    (q * 100.0).round() as u32
}

fn trim(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
