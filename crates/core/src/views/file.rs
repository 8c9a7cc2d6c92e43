//! A views file: what a user believes about a finished run's per-path figures,
//! as `[[view]]` tables (docs/MODEL.md, "Views on a finished run").
//!
//! ```toml
//! [[view]]
//! name = "dollar falls"
//! kind = "probability"            # expectation | probability | quantile | ranking
//! column = "dxy.terminal_return"
//! below = -0.10                   # P(column <= -0.10); `above` for P(column > x)
//! equals = 0.40                   # or at_most / at_least
//! confidence = 0.8                # optional, in [0, 1], 1 by default
//! ```
//!
//! Every problem is reported with the file, the line and the key, the valid
//! range or the nearest column the run has.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::pool::{LinearView, Relation};
use super::table::PathTable;
use crate::scenario::check::{Bound, Checker};
use crate::scenario::load::{self, SourceFile, Sources};
use crate::scenario::ScenarioError;

/// The most views one file may hold: far above a committee's use, small
/// enough that the dual's `k x k` Hessian stays trivial.
pub const MAX_VIEWS: usize = 100;

/// The kinds of view, as the file spells them.
pub const KINDS: [&str; 4] = ["expectation", "probability", "quantile", "ranking"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    view: Vec<RawView>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawView {
    name: Option<String>,
    kind: String,
    column: Option<String>,
    columns: Option<Vec<String>>,
    below: Option<f64>,
    above: Option<f64>,
    level: Option<f64>,
    equals: Option<f64>,
    at_most: Option<f64>,
    at_least: Option<f64>,
    confidence: Option<f64>,
}

/// What a view is about.
#[derive(Debug, Clone, PartialEq)]
pub enum ViewKind {
    /// `E[column]`.
    Expectation { column: String },
    /// `P(column <= threshold)` (`below`) or `P(column > threshold)` (`above`).
    Probability {
        column: String,
        threshold: f64,
        above: bool,
    },
    /// The `level` quantile of `column`: `q_level = v` is `P(column <= v) = level`.
    Quantile { column: String, level: f64 },
    /// `E[columns[0]] >= E[columns[1]] >= ...`.
    Ranking { columns: Vec<String> },
}

/// One checked view.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub name: String,
    pub kind: ViewKind,
    /// `Equal` for a ranking (unused).
    pub relation: Relation,
    /// The target (the quantile's value for a quantile view; 0 for a ranking).
    pub target: f64,
    pub confidence: f64,
    /// 1-based line of the `[[view]]` table, for messages.
    pub line: Option<usize>,
}

/// A checked views file.
#[derive(Debug, Clone)]
pub struct ViewsFile {
    pub path: PathBuf,
    pub description: Option<String>,
    pub views: Vec<View>,
    /// SHA-256 of the file's text, hex.
    pub sha256: String,
}

impl View {
    /// The per-path columns the view reads.
    pub fn columns(&self) -> Vec<&str> {
        match &self.kind {
            ViewKind::Expectation { column }
            | ViewKind::Probability { column, .. }
            | ViewKind::Quantile { column, .. } => vec![column.as_str()],
            ViewKind::Ranking { columns } => columns.iter().map(String::as_str).collect(),
        }
    }

    /// How the view reads in a table: `P(dxy.terminal_return <= -0.1) = 0.4`.
    pub fn statement(&self) -> String {
        let relation = match self.relation {
            Relation::Equal => "=",
            Relation::AtMost => "<=",
            Relation::AtLeast => ">=",
        };
        match &self.kind {
            ViewKind::Expectation { column } => format!("E[{column}] {relation} {}", self.target),
            ViewKind::Probability {
                column,
                threshold,
                above,
            } => format!(
                "P({column} {} {threshold}) {relation} {}",
                if *above { ">" } else { "<=" },
                self.target
            ),
            ViewKind::Quantile { column, level } => {
                format!("q{level}({column}) {relation} {}", self.target)
            }
            ViewKind::Ranking { columns } => columns
                .iter()
                .map(|c| format!("E[{c}]"))
                .collect::<Vec<_>>()
                .join(" >= "),
        }
    }
}

impl ViewsFile {
    /// Reads and checks a views file against the columns a run has.
    pub fn load(path: &Path, available: &[String]) -> Result<ViewsFile, ScenarioError> {
        let text = load::read_text_of(path, load::FileKind::Views)?;
        let table = load::parse_table(&text, path)?;
        let sources = Sources {
            files: vec![SourceFile {
                path: path.to_path_buf(),
                text: text.clone(),
            }],
            ..Sources::default()
        };
        let raw: RawFile = load::deserialize_table(&table, &sources, "")?;
        let mut check = Checker::new(&sources);
        let views = build(raw.view, available, &mut check);
        let views = check.finish(views)?;
        Ok(ViewsFile {
            path: path.to_path_buf(),
            description: raw.description,
            views,
            sha256: sha256_hex(&text),
        })
    }

    /// Every column the views read, once each, in the order first named.
    pub fn columns(&self) -> Vec<String> {
        let mut columns: Vec<String> = Vec::new();
        for view in &self.views {
            for column in view.columns() {
                if !columns.iter().any(|c| c == column) {
                    columns.push(column.to_string());
                }
            }
        }
        columns
    }

    /// The views as the solver's linear views, each with its confidence: a
    /// ranking of `n` columns is `n - 1` views `E[a] - E[b] >= 0`. A name
    /// carries the file and line, so the solver's messages locate the view.
    pub fn linear_views(
        &self,
        table: &PathTable,
    ) -> Result<(Vec<LinearView>, Vec<f64>), ScenarioError> {
        let mut views = Vec::new();
        let mut confidence = Vec::new();
        let mut problems = Vec::new();
        for (i, view) in self.views.iter().enumerate() {
            let label = self.label(i);
            let column = |name: &str| -> Result<&[f64], String> {
                table.column(name).map_err(|e| e.message)
            };
            // A probability counts a path without the figure as outside the
            // event; an expectation cannot average over a missing figure.
            let whole = |name: &str| -> Result<Vec<f64>, String> {
                let values = column(name)?;
                let missing = values.iter().filter(|v| !v.is_finite()).count();
                if missing > 0 {
                    return Err(format!(
                        "column `{name}` has no value on {missing} of {} paths (the run has no such figure there); an expectation or ranking needs one on every path, a probability view counts those paths outside its event",
                        values.len()
                    ));
                }
                Ok(values.to_vec())
            };
            let indicator = |name: &str, threshold: f64, above: bool| -> Result<Vec<f64>, String> {
                Ok(column(name)?
                    .iter()
                    .map(|v| {
                        f64::from(u8::from(if above {
                            *v > threshold
                        } else {
                            *v <= threshold
                        }))
                    })
                    .collect())
            };
            let built: Result<Vec<LinearView>, String> = match &view.kind {
                ViewKind::Expectation { column } => whole(column).map(|c| {
                    vec![LinearView {
                        name: label.clone(),
                        coefficients: c,
                        relation: view.relation,
                        target: view.target,
                    }]
                }),
                ViewKind::Probability {
                    column,
                    threshold,
                    above,
                } => indicator(column, *threshold, *above).map(|c| {
                    vec![LinearView {
                        name: label.clone(),
                        coefficients: c,
                        relation: view.relation,
                        target: view.target,
                    }]
                }),
                // q_level(X) <= v  <=>  P(X <= v) >= level, and the reverse.
                ViewKind::Quantile { column, level } => {
                    indicator(column, view.target, false).map(|c| {
                        vec![LinearView {
                            name: label.clone(),
                            coefficients: c,
                            relation: match view.relation {
                                Relation::Equal => Relation::Equal,
                                Relation::AtMost => Relation::AtLeast,
                                Relation::AtLeast => Relation::AtMost,
                            },
                            target: *level,
                        }]
                    })
                }
                ViewKind::Ranking { columns } => columns
                    .windows(2)
                    .map(|pair| {
                        let (a, b) = (whole(&pair[0])?, whole(&pair[1])?);
                        Ok(LinearView {
                            name: format!("{label}, `{}` above `{}`", pair[0], pair[1]),
                            coefficients: a.iter().zip(&b).map(|(a, b)| a - b).collect(),
                            relation: Relation::AtLeast,
                            target: 0.0,
                        })
                    })
                    .collect(),
            };
            match built {
                Ok(built) => {
                    confidence.extend(std::iter::repeat_n(view.confidence, built.len()));
                    views.extend(built);
                }
                Err(message) => problems.push(crate::scenario::Diagnostic {
                    file: Some(self.path.clone()),
                    line: view.line,
                    key: format!("view[{i}]"),
                    message,
                }),
            }
        }
        if problems.is_empty() {
            Ok((views, confidence))
        } else {
            Err(ScenarioError::Invalid(problems))
        }
    }

    /// `view `dollar falls` (views.toml:3)`: how messages name view `i`.
    pub fn label(&self, i: usize) -> String {
        let view = &self.views[i];
        match view.line {
            Some(line) => format!("view `{}` ({}:{line})", view.name, self.path.display()),
            None => format!("view `{}` ({})", view.name, self.path.display()),
        }
    }
}

fn build(raw: Vec<RawView>, available: &[String], check: &mut Checker) -> Option<Vec<View>> {
    if raw.is_empty() {
        check.error(
            "view",
            "no views: a views file needs at least one [[view]] table",
        );
        return None;
    }
    if !check.list_length("view", "views", raw.len(), MAX_VIEWS) {
        return None;
    }
    let kinds: Vec<String> = KINDS.iter().map(|k| k.to_string()).collect();
    let count = raw.len();
    let mut views = Vec::new();
    for (i, raw) in raw.into_iter().enumerate() {
        let key = |k: &str| format!("view[{i}].{k}");
        let line = check.locate(&format!("view[{i}]")).line;
        let name = raw.name.clone().unwrap_or_else(|| format!("{}", i + 1));
        let kind = check.lookup(&key("kind"), "kind of view", &raw.kind, &kinds);
        let column = |check: &mut Checker, needed: bool| -> Option<String> {
            match &raw.column {
                Some(c) => check
                    .lookup(&key("column"), "per-path column", c, available)
                    .map(|_| c.clone()),
                None if needed => {
                    check.error(key("kind"), format!("a {} view needs a `column`", raw.kind));
                    None
                }
                None => None,
            }
        };
        let unused = |check: &mut Checker, what: &str, set: bool| {
            if set {
                check.error(
                    key(what),
                    format!("`{what}` has no meaning in a {} view", raw.kind),
                );
            }
        };
        let relations = [
            ("equals", raw.equals, Relation::Equal),
            ("at_most", raw.at_most, Relation::AtMost),
            ("at_least", raw.at_least, Relation::AtLeast),
        ];
        let given: Vec<&(&str, Option<f64>, Relation)> =
            relations.iter().filter(|r| r.1.is_some()).collect();
        let confidence = match raw.confidence {
            Some(c) => check.range_explained(
                &key("confidence"),
                c,
                Bound::Closed(0.0),
                Bound::Closed(1.0),
                " (1 = the view holds exactly; 0 = ignored)",
            ),
            None => 1.0,
        };
        let target = |check: &mut Checker| -> Option<(&'static str, f64, Relation)> {
            match given.as_slice() {
                [(which, Some(value), relation)] => {
                    if !value.is_finite() {
                        check.error(key(which), format!("{value} is not a finite number"));
                        return None;
                    }
                    Some((which, *value, *relation))
                }
                [] => {
                    check.error(
                        format!("view[{i}]"),
                        "missing its target: give one of `equals`, `at_most` or `at_least`",
                    );
                    None
                }
                _ => {
                    check.error(
                        key(given[1].0),
                        format!(
                            "give one of `equals`, `at_most` or `at_least`, not both `{}` and `{}`",
                            given[0].0, given[1].0
                        ),
                    );
                    None
                }
            }
        };
        let built = match kind.map(|k| KINDS[k]) {
            Some("expectation") => {
                unused(check, "columns", raw.columns.is_some());
                unused(check, "below", raw.below.is_some());
                unused(check, "above", raw.above.is_some());
                unused(check, "level", raw.level.is_some());
                let column = column(check, true);
                let target = target(check);
                column.zip(target).map(|(column, (_, value, relation))| {
                    (ViewKind::Expectation { column }, value, relation)
                })
            }
            Some("probability") => {
                unused(check, "columns", raw.columns.is_some());
                unused(check, "level", raw.level.is_some());
                let column = column(check, true);
                let threshold = match (raw.below, raw.above) {
                    (Some(t), None) => Some((t, false, "below")),
                    (None, Some(t)) => Some((t, true, "above")),
                    (None, None) => {
                        check.error(
                            format!("view[{i}]"),
                            "a probability view needs `below` (P(column <= x)) or `above` (P(column > x))",
                        );
                        None
                    }
                    (Some(_), Some(_)) => {
                        check.error(
                            key("above"),
                            "give `below` or `above`, not both (two views state a range)",
                        );
                        None
                    }
                };
                let threshold = threshold.filter(|(t, _, which)| {
                    let finite = t.is_finite();
                    if !finite {
                        check.error(key(which), format!("{t} is not a finite number"));
                    }
                    finite
                });
                let target = target(check).filter(|(which, value, _)| {
                    check.range_explained(
                        &key(which),
                        *value,
                        Bound::Closed(0.0),
                        Bound::Closed(1.0),
                        " (a probability)",
                    );
                    (0.0..=1.0).contains(value)
                });
                match (column, threshold, target) {
                    (Some(column), Some((threshold, above, _)), Some((_, value, relation))) => {
                        Some((
                            ViewKind::Probability {
                                column,
                                threshold,
                                above,
                            },
                            value,
                            relation,
                        ))
                    }
                    _ => None,
                }
            }
            Some("quantile") => {
                unused(check, "columns", raw.columns.is_some());
                unused(check, "below", raw.below.is_some());
                unused(check, "above", raw.above.is_some());
                let column = column(check, true);
                let level = match raw.level {
                    Some(level) => {
                        check.range_explained(
                            &key("level"),
                            level,
                            Bound::Open(0.0),
                            Bound::Open(1.0),
                            " (0.05 = the 5% quantile)",
                        );
                        (level > 0.0 && level < 1.0).then_some(level)
                    }
                    None => {
                        check.error(
                            format!("view[{i}]"),
                            "a quantile view needs `level` (0.05 = the 5% quantile)",
                        );
                        None
                    }
                };
                let target = target(check);
                match (column, level, target) {
                    (Some(column), Some(level), Some((_, value, relation))) => {
                        Some((ViewKind::Quantile { column, level }, value, relation))
                    }
                    _ => None,
                }
            }
            Some("ranking") => {
                unused(check, "column", raw.column.is_some());
                unused(check, "below", raw.below.is_some());
                unused(check, "above", raw.above.is_some());
                unused(check, "level", raw.level.is_some());
                for (which, value, _) in &relations {
                    unused(check, which, value.is_some());
                }
                match &raw.columns {
                    Some(columns) if columns.len() >= 2 => {
                        let known = columns.iter().enumerate().all(|(c, name)| {
                            check
                                .lookup(
                                    &format!("view[{i}].columns[{c}]"),
                                    "per-path column",
                                    name,
                                    available,
                                )
                                .is_some()
                        });
                        known.then(|| {
                            (
                                ViewKind::Ranking {
                                    columns: columns.clone(),
                                },
                                0.0,
                                Relation::Equal,
                            )
                        })
                    }
                    _ => {
                        check.error(
                            key("columns"),
                            "a ranking view needs `columns`, at least two, highest expectation first",
                        );
                        None
                    }
                }
            }
            _ => None,
        };
        if let Some((kind, target, relation)) = built {
            views.push(View {
                name,
                kind,
                relation,
                target,
                confidence,
                line,
            });
        }
    }
    if views.len() < count {
        return None;
    }
    check.unique_names("view name", views.iter().map(|v| v.name.as_str()), |i| {
        format!("view[{i}].name")
    });
    Some(views)
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
