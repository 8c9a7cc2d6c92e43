//! The one way every input file (scenario, portfolio, stress) reports problems:
//! a [`Checker`] collects them all, not just the first, each with its key path
//! located in the sources (file and line).
//!
//! A range check passes only when its comparisons hold, never by a comparison
//! failing: NaN fails every comparison, so it is always rejected.

use std::collections::HashSet;

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
    /// Every distinct (key, message) reported, located or not, so a repeat is
    /// found in constant time however many problems there are.
    seen: HashSet<(String, String)>,
}

/// Problems located and listed in full; past this only their number is told,
/// which also bounds the work of locating keys in the sources.
pub const MAX_LISTED_PROBLEMS: usize = 50;

/// The longest lists a portfolio or stress file may give (docs/SCENARIOS.md,
/// "Limits"): far above real use, and small enough that checking each entry
/// stays quick. A scenario's own caps are beside [`super::MAX_EVENTS`].
pub const MAX_PORTFOLIOS: usize = 100;
pub const MAX_POSITIONS: usize = 1000;
pub const MAX_STRESS_VECTORS: usize = 1000;

impl<'a> Checker<'a> {
    pub fn new(sources: &'a Sources) -> Checker<'a> {
        Checker::with_prefix(sources, String::new())
    }

    pub fn with_prefix(sources: &'a Sources, prefix: String) -> Checker<'a> {
        Checker {
            sources,
            prefix,
            diagnostics: Vec::new(),
            seen: HashSet::new(),
        }
    }

    /// The sources problems are located in.
    pub fn sources(&self) -> &'a Sources {
        self.sources
    }

    /// How many problems have been reported so far.
    pub fn problems(&self) -> usize {
        self.seen.len()
    }

    pub fn error(&mut self, key: impl Into<String>, message: impl Into<String>) {
        let key = key.into();
        let key = if self.prefix.is_empty() {
            key
        } else {
            format!("{}.{key}", self.prefix)
        };
        let message = message.into();
        // A default shared by several regimes is checked once per regime; say it once.
        if !self.seen.insert((key.clone(), message.clone())) {
            return;
        }
        if self.diagnostics.len() < MAX_LISTED_PROBLEMS {
            self.diagnostics.push(self.sources.diagnostic(key, message));
        }
    }

    /// Reports a list longer than `max`; `false` then, so the caller skips its
    /// entries rather than check (and report) each one.
    pub fn list_length(&mut self, key: &str, what: &str, length: usize, max: usize) -> bool {
        if length > max {
            self.error(key, format!("{length} {what}; at most {max} are allowed"));
            return false;
        }
        true
    }

    /// Reports every name of `names` seen before, with the key of its first use.
    /// `key_of(i)` is the key of entry `i`.
    pub fn unique_names<'n>(
        &mut self,
        what: &str,
        names: impl IntoIterator<Item = &'n str>,
        key_of: impl Fn(usize) -> String,
    ) {
        let mut first: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for (index, name) in names.into_iter().enumerate() {
            if let Some(&earlier) = first.get(name) {
                self.error(
                    key_of(index),
                    format!(
                        "duplicate {what} `{}`: already given at `{}`",
                        super::load::shown_name(name),
                        key_of(earlier)
                    ),
                );
            } else {
                first.insert(name, index);
            }
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
            Some(value) if self.seen.is_empty() => Ok(value),
            _ => {
                let mut diagnostics = self.diagnostics;
                let unlisted = self.seen.len() - diagnostics.len();
                if unlisted > 0 {
                    diagnostics.push(Diagnostic {
                        file: self.sources.files.first().map(|f| f.path.clone()),
                        line: None,
                        key: String::new(),
                        message: format!("and {unlisted} more problems"),
                    });
                }
                Err(ScenarioError::Invalid(diagnostics))
            }
        }
    }
}
