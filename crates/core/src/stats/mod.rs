//! Statistics: streaming per-path summaries, mergeable fan-chart histograms and
//! distribution summaries of the per-path figures.
//!
//! Everything here is an accumulator fed by the engine, or a pure function of the
//! finished per-path table; none of it knows how paths are scheduled.

mod distribution;
mod fan;
mod path;
mod signals;
mod tail;
mod weighted;

pub use distribution::{percentile_sorted, Distribution, PERCENTILES};
pub use fan::{FanGrid, FanHistogram, FAN_BINS};
pub use path::{
    asset_metric_name, MetricLayout, PathSummary, ASSET_METRICS, LEVEL_CHANGE_METRIC,
    LIKELIHOOD_RATIO,
};
pub use signals::{signal_columns, SignalOutcome, SignalTracker};
pub use tail::TailRisk;
pub use weighted::WeightedSample;
