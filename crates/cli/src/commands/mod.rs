//! One module per subcommand: each parses nothing (clap did), calls the
//! library, prints, and returns what the command came to.

pub mod attribute;
pub mod calibrate;
pub mod compare;
pub mod list;
pub mod merge;
pub mod plan;
pub mod reverse_stress;
pub mod run;
pub mod sensitivity;
pub mod sweep;
pub mod task;
pub mod validate;
pub mod views;
