//! Views on a finished run: its per-path figures reweighted to a user's views
//! (entropy pooling), and the paths that breach a loss (reverse stress tests).
//! Nothing here simulates: every figure is a weighted sum over paths a run
//! already made.

mod file;
mod outcome;
mod parts;
mod pool;
mod table;

pub use file::{View, ViewKind, ViewsFile, KINDS, MAX_VIEWS};
pub use outcome::{
    apply, apply_parts, books, figure_columns, FigureRow, ViewOutcome, ViewsError, ViewsOutcome,
    FEW_SCENARIOS_SHARE, LOSS_THRESHOLDS, PERCENTILES,
};
pub use parts::PlanPoint;
pub use pool::{
    entropy_figures, entropy_pool, entropy_pool_parts, entropy_pool_parts_with_confidence,
    entropy_pool_with_confidence, LinearView, PartViews, PoolError, Pooled, PooledParts, Relation,
    ViewTarget,
};
pub use table::{PathTable, UnknownColumn};

pub mod reverse;
