//! The one way every input file (scenario, portfolio, stress) reports problems:
//! a [`Checker`] collects them all, not just the first, each with its key path
//! located in the sources (file and line).
//!
//! A range check passes only when its comparisons hold, never by a comparison
//! failing: NaN fails every comparison, so it is always rejected.

use super::error::{Diagnostic, ScenarioError};
use super::load::{identifier_problem, unknown_name, Sources};

/// The range of a price asset's `initial`. With the log-price's move over the
/// horizon bounded by 600 (validate/assets.rs, `check_log_headroom`), a level is
/// at most 1e9 * e^600 ~ 4e269: finite in f64 with room for a portfolio's value.
pub(crate) const MIN_PRICE_INITIAL: f64 = 1e-6;
pub(crate) const MAX_PRICE_INITIAL: f64 = 1e9;

/// The largest |level| of an OU asset's `initial` and `mean` (and of the shift
/// of its mean by an event): in the asset's units, 100 is 10,000 percentage
/// points for a rate kept as a fraction.
pub(crate) const MAX_LEVEL: f64 = 100.0;

/// The largest |mean| and sd of a jump: log terms for prices, the asset's units
/// for OU assets.
pub(crate) const MAX_JUMP: f64 = 5.0;

/// A number as a message shows it: plain where that is short, else in
/// scientific notation (1e39, not forty digits; 1e-6, not 0.000001).
pub(crate) fn number(x: f64) -> String {
    if x != 0.0 && !(1e-4..1e16).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// One end of a valid interval.
#[derive(Clone, Copy)]
pub(crate) enum Bound {
    Closed(f64),
    Open(f64),
}

/// Collects problems; keys are relative to `prefix` (an inline portfolio's
/// `portfolio[0]`, for one).
pub(crate) struct Checker<'a> {
    sources: &'a Sources,
    prefix: String,
    diagnostics: Vec<Diagnostic>,
}

impl<'a> Checker<'a> {
    pub fn new(sources: &'a Sources) -> Checker<'a> {
        Checker::with_prefix(sources, String::new())
    }

    pub fn with_prefix(sources: &'a Sources, prefix: String) -> Checker<'a> {
        Checker {
            sources,
            prefix,
            diagnostics: Vec::new(),
        }
    }

    /// The sources problems are located in.
    pub fn sources(&self) -> &'a Sources {
        self.sources
    }

    /// How many problems have been reported so far.
    pub fn problems(&self) -> usize {
        self.diagnostics.len()
    }

    pub fn error(&mut self, key: impl Into<String>, message: impl Into<String>) {
        let key = key.into();
        let key = if self.prefix.is_empty() {
            key
        } else {
            format!("{}.{key}", self.prefix)
        };
        let diagnostic = self.sources.diagnostic(key, message);
        // A default shared by several regimes is checked once per regime; say it once.
        if !self.diagnostics.contains(&diagnostic) {
            self.diagnostics.push(diagnostic);
        }
    }

    /// Checks `lo <= value <= hi` (or strict bounds); NaN always fails.
    pub fn range(&mut self, key: &str, value: f64, lo: Bound, hi: Bound) -> f64 {
        self.range_explained(key, value, lo, hi, "")
    }

    /// [`Checker::range`] with `explanation` after the interval in the message,
    /// for units a number alone does not make clear (" (0.1 = a loss of 10%)").
    pub fn range_explained(
        &mut self,
        key: &str,
        value: f64,
        lo: Bound,
        hi: Bound,
        explanation: &str,
    ) -> f64 {
        let above = match lo {
            Bound::Closed(l) => value >= l,
            Bound::Open(l) => value > l,
        };
        let below = match hi {
            Bound::Closed(h) => value <= h,
            Bound::Open(h) => value < h,
        };
        if !(above && below) {
            let lo_text = match lo {
                Bound::Closed(l) => format!("[{}", number(l)),
                Bound::Open(l) => format!("({}", number(l)),
            };
            let hi_text = match hi {
                Bound::Closed(h) => format!("{}]", number(h)),
                Bound::Open(h) => format!("{})", number(h)),
            };
            self.error(
                key,
                format!(
                    "{} is out of range; valid: {lo_text}, {hi_text}{explanation}",
                    number(value)
                ),
            );
        }
        value
    }

    /// Reports `name` unless it is a valid identifier.
    pub fn identifier(&mut self, key: &str, what: &str, name: &str) {
        if let Some(problem) = identifier_problem(what, name) {
            self.error(key, problem);
        }
    }

    /// Resolves `name` among `names`, or reports it with the nearest valid one.
    pub fn lookup(&mut self, key: &str, what: &str, name: &str, names: &[String]) -> Option<usize> {
        if let Some(index) = names.iter().position(|n| n == name) {
            return Some(index);
        }
        self.error(key, unknown_name(what, name, names));
        None
    }

    /// `value` if nothing was reported (and there is a value), else every problem.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, ScenarioError> {
        match value {
            Some(value) if self.diagnostics.is_empty() => Ok(value),
            _ => Err(ScenarioError::Invalid(self.diagnostics)),
        }
    }
}
