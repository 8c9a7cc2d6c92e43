//! Output: the run summary (`summary.json`), the CSV and Parquet exports and the console table,
//! written atomically into the run's folder.

pub mod attribution;
pub mod calibration;
pub mod charts;
pub mod columnar;
pub mod compare;
mod console;
pub mod files;
pub mod html;
pub mod key_numbers;
mod labels;
mod portfolios;
mod realism;
pub mod roles;
mod summary;
pub mod sweep;

pub use console::print_summary;
pub use files::{
    check_target, remove_staging, run_report, sha256_of, write_atomically, write_bytes,
    write_file_atomically, write_parquet_file, write_report, write_run, OutputError, OutputOptions,
    TableFormat, Written,
};
pub use portfolios::portfolio_csv;
pub use summary::{
    AssetSummary, CorrelationSummary, EventSummary, RegimeSummary, SignalSummary, SignalTarget,
    Summary, DRAWDOWN_QUANTILES, SCHEMA_VERSION,
};
