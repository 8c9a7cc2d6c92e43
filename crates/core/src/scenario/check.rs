//! The one way every input file (scenario, portfolio, stress) reports problems:
//! a [`Checker`] collects them all, not just the first, each with its key path
//! located in the sources (file and line).
//!
//! A range check passes only when its comparisons hold, never by a comparison
//! failing: NaN fails every comparison, so it is always rejected.

use std::collections::HashSet;

use super::error::{Diagnostic, ScenarioError};
use super::load::{identifier_problem, unknown_name, Sources};

/// The range of a price asset's `initial`. With the log-price's move over the
/// horizon bounded by 600 (validate/headroom.rs, `MAX_LOG_MOVE`), a level is
/// at most 1e9 * e^600 ~ 4e269: finite in f64 with room for a portfolio's value.
pub(crate) const MIN_PRICE_INITIAL: f64 = 1e-6;
pub(crate) const MAX_PRICE_INITIAL: f64 = 1e9;

/// The largest |level| of an OU asset's `initial` and `mean` (and of the shift
/// of its mean by an event): in the asset's units, 100 is 10,000 percentage
/// points for a rate kept as a fraction.
pub(crate) const MAX_LEVEL: f64 = 100.0;

/// The largest variance a Heston asset starts at or reverts to (`initial_variance`,
/// `long_run_variance`): a volatility of 200%.
pub(crate) const MAX_VARIANCE: f64 = 4.0;

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

/// A derived figure in a message (a reach, a bound): four significant
/// digits, and an exponent where plain digits would run long, so a value of
/// 1e300 reads `1.000e300`, not three hundred digits.
pub(crate) fn figure(x: f64) -> String {
    if !x.is_finite() || x == 0.0 {
        return format!("{x}");
    }
    if !(1e-3..1e6).contains(&x.abs()) {
        return format!("{x:.3e}");
    }
    let decimals = (3 - x.abs().log10().floor() as i32).clamp(0, 6) as usize;
    let text = format!("{x:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
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
    /// Every distinct (key, message) reported, located or not, so a repeat is
    /// found in constant time however many problems there are.
    seen: HashSet<(String, String)>,
    /// Every numeric key's valid interval, first check of each key only (a
    /// default shared by several regimes is checked once per regime).
    ranges: Vec<KeyRange>,
    ranged: HashSet<String>,
    /// What the run should know that is not a problem (an event dated before
    /// the start counts as already happened).
    notes: Vec<Diagnostic>,
}

/// A numeric key's value after validation and its valid interval, for tools
/// that vary a key and must stay inside what the file's own checks accept.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRange {
    /// The key path as written in a scenario file (`assets.spx.vol`).
    pub key: String,
    /// The value validation saw, the default where the file does not set it.
    pub value: f64,
    /// The interval's ends; whether they are open does not matter to a tool
    /// that maps an unbounded search into the interval's inside.
    pub low: f64,
    pub high: f64,
}

pub use super::error::MAX_LISTED_PROBLEMS;

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
            ranges: Vec::new(),
            ranged: HashSet::new(),
            notes: Vec::new(),
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

    /// Tells the user something about `key` that does not stop the run.
    pub fn note(&mut self, key: impl Into<String>, message: impl Into<String>) {
        let note = Diagnostic {
            message: message.into(),
            ..self.locate(&key.into())
        };
        self.notes.push(note);
    }

    pub fn take_notes(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.notes)
    }

    /// Where `key` (relative to the prefix) is written, for a warning that
    /// names it like an error does.
    pub fn locate(&self, key: &str) -> Diagnostic {
        let key = if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        };
        self.sources.diagnostic(key, String::new())
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
        self.record_range(key, value, lo, hi);
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

    fn record_range(&mut self, key: &str, value: f64, lo: Bound, hi: Bound) {
        let key = if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        };
        if !self.ranged.insert(key.clone()) {
            return;
        }
        let end = |b: Bound| match b {
            Bound::Closed(v) | Bound::Open(v) => v,
        };
        self.ranges.push(KeyRange {
            key,
            value,
            low: end(lo),
            high: end(hi),
        });
    }

    /// The ranges checked so far, in the order first checked.
    pub fn take_ranges(&mut self) -> Vec<KeyRange> {
        self.ranged.clear();
        std::mem::take(&mut self.ranges)
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
