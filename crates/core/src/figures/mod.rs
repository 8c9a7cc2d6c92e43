//! Every figure a user can name, in one place: the key numbers at the top of a
//! report ([`KeyNumbers`]), the catalogue of named figures that targets, sweeps
//! and sensitivities measure ([`catalogue`]), and the paired per-path figures
//! an attribution compares ([`paired`]). The report labels them; it does not
//! define them.

pub mod catalogue;
pub mod key_numbers;
pub mod paired;
pub mod strategies;

pub use catalogue::{measure_every_figure, measure_named, realism_name, Measured};
pub use key_numbers::{AssetTailRisk, KeyNumbers, CONFIDENCE};

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
