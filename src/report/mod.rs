//! Output: the run summary (`summary.json`), the CSV exports and the console table,
//! written atomically into the run's folder.

mod console;
mod files;
mod portfolios;
mod summary;

pub use console::print_summary;
pub use files::{write_run, OutputError, OutputOptions};
pub use summary::{
    AssetSummary, CorrelationSummary, EventSummary, RegimeSummary, SignalSummary, SignalTarget,
    Summary, SCHEMA_VERSION,
};
