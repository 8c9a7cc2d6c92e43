//! Views on a finished run: its per-path figures reweighted to a user's views
//! (entropy pooling), and the paths that breach a loss (reverse stress tests).
//! Nothing here simulates: every figure is a weighted sum over paths a run
//! already made.

mod table;

pub use table::{PathTable, UnknownColumn};

pub mod reverse;
