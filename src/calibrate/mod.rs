//! Calibration: regimes fitted to a user's history ([`history`], reading it
//! with [`data`], on the Markov-switching model of [`markov`]), and scenario
//! keys fitted to target figures of the run ([`targets`]).

pub mod data;
pub mod history;
pub mod markov;
pub mod targets;

/// `text` in lower case with every run of characters other than ASCII
/// letters and digits turned into one `_`, none at either end: a column
/// heading or a label as a name a scenario or a targets file can use.
pub fn snake_case(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>()
        .join("_")
}
