//! Errors a scenario file can produce, each naming the file, the line and the key.

use std::fmt;
use std::path::PathBuf;

/// One problem found in a scenario, located as precisely as the source allows.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// The file that sets the offending key (the child-most file in an `extends` chain).
    pub file: Option<PathBuf>,
    /// 1-based line of the key in `file`, where it could be found.
    pub line: Option<usize>,
    /// The full key path, for example `regimes.sell_america.correlation`.
    pub key: String,
    /// What is wrong, with the value and the valid range or the nearest valid name.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{}: ", file.display(), line)?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            _ => {}
        }
        if self.key.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.key, self.message)
        }
    }
}

/// Why a scenario could not be loaded.
/// Problems located and listed in full; past this only their number is told,
/// which also bounds the work of locating keys in the sources.
pub const MAX_LISTED_PROBLEMS: usize = 50;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// Not read at all: missing, not a regular file, too large, not UTF-8 or blank.
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    #[error("{}:{line}:{column}: TOML syntax error: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("`extends` forms a cycle: {}", chain.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" -> "))]
    ExtendsCycle { chain: Vec<PathBuf> },
    #[error("{}", render_all(.0))]
    Invalid(Vec<Diagnostic>),
}

impl ScenarioError {
    /// The diagnostics of an invalid scenario (empty for the other kinds).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ScenarioError::Invalid(diagnostics) => diagnostics,
            _ => &[],
        }
    }
}

/// Every problem up to the checker's cap (one more for its own "and N more"
/// line), then only their number: problems gathered from several files stay bounded too.
fn render_all(diagnostics: &[Diagnostic]) -> String {
    let cap = MAX_LISTED_PROBLEMS + 1;
    let mut lines: Vec<String> = diagnostics
        .iter()
        .take(cap)
        .map(|d| d.to_string())
        .collect();
    if diagnostics.len() > cap {
        lines.push(format!("and {} more problems", diagnostics.len() - cap));
    }
    lines.join("\n")
}
