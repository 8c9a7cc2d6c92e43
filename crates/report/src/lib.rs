//! Stormglass's outputs: a run's folder (`summary.json`, CSV and Parquet
//! tables, charts, `report.html`), the console table, and the pages of
//! comparisons, sweeps, sensitivities, attributions and calibrations, written
//! atomically through [`stormglass_core::output`]. Nothing here computes a
//! figure: it draws and labels what the core measured.

pub mod attribution;
pub mod calibration;
pub mod charts;
pub mod columnar;
pub mod compare;
mod console;
pub mod files;
pub mod finished;
pub mod html;
mod labels;
pub mod page;
mod portfolios;
mod realism;
pub mod reverse;
pub mod roles;
pub mod strategies;
pub mod sweep;
pub mod views;

pub use console::print_summary;
pub use files::{
    run_report, write_parquet_file, write_run, OutputOptions, TableFormat, Written,
    PATHS_METRICS_AUTO_LIMIT,
};
pub use page::write_report;
pub use portfolios::portfolio_csv;
