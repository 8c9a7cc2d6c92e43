//! The one way every input file (scenario, portfolio, stress) reports problems:
//! a [`Checker`] collects them all, not just the first, each with its key path
//! located in the sources (file and line).
//!
//! A range check passes only when its comparisons hold, never by a comparison
//! failing: NaN fails every comparison, so it is always rejected.

use super::error::{Diagnostic, ScenarioError};
use super::load::{identifier_problem, unknown_name, Sources};

/// One end of a valid interval.
#[derive(Clone, Copy)]
pub(crate) enum Bound {
    Closed(f64),
    Open(f64),
    None,
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
            Bound::None => value > f64::NEG_INFINITY,
        };
        let below = match hi {
            Bound::Closed(h) => value <= h,
            Bound::Open(h) => value < h,
            Bound::None => value < f64::INFINITY,
        };
        if !(above && below) {
            let lo_text = match lo {
                Bound::Closed(l) => format!("[{l}"),
                Bound::Open(l) => format!("({l}"),
                Bound::None => "(-inf".to_string(),
            };
            let hi_text = match hi {
                Bound::Closed(h) => format!("{h}]"),
                Bound::Open(h) => format!("{h})"),
                Bound::None => "inf)".to_string(),
            };
            self.error(
                key,
                format!("{value} is out of range; valid: {lo_text}, {hi_text}{explanation}"),
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
