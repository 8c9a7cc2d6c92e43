//! One book under several scenarios: `compare --portfolio FILE`. The file is
//! loaded against every scenario (each must know its assets and currencies),
//! valued on every path of each run, and its figures
//! ([`paired::portfolio_figures`], named as the catalogue names them) are set
//! side by side with the difference of each from the first scenario's.
//!
//! Runs on the same seed and path count share path `i`'s random streams, so a
//! difference is paired: its standard error is that of the mean of the
//! per-path differences of the figures' influence values (as an attribution's,
//! [`crate::attribute::paired`]), and what the two runs share cancels path by
//! path. Runs on different seeds are independent: pairing their paths by index
//! would still be valid but gains nothing, and calling it paired would
//! mislead, so their differences carry the independent runs' error,
//! `sqrt(se_a^2 + se_b^2)`, and say so.

use std::path::Path;

use serde::Serialize;

use crate::attribute::paired;
use crate::engine::Simulation;
use crate::figures::catalogue::{measure_named, Measured};
use crate::figures::paired::{portfolio_figures, Columns, FigureSpec, Unit};
use crate::model::Model;
use crate::portfolio::{self, Book, BookFiles};
use crate::scenario::{Diagnostic, Scenario, ScenarioError};

/// The book of `file` (every portfolio in it, none of the scenario's own),
/// checked against `scenario` (loaded from `source`): a problem names the
/// portfolio file's line and key and the scenario it was checked against.
pub fn load_book(scenario: &Scenario, source: &Path, file: &Path) -> Result<Book, ScenarioError> {
    let files = BookFiles {
        portfolios: vec![file.to_path_buf()],
        skip_scenario: true,
        ..BookFiles::default()
    };
    portfolio::load(scenario, &Model::new(scenario), &files).map_err(|e| {
        let against = format!(
            "checked against scenario `{}` ({})",
            scenario.name,
            source.display()
        );
        match e {
            ScenarioError::Invalid(found) => ScenarioError::Invalid(
                found
                    .into_iter()
                    .map(|d| Diagnostic {
                        message: format!("{}; {against}", d.message),
                        ..d
                    })
                    .collect(),
            ),
            other => ScenarioError::Invalid(vec![Diagnostic {
                file: Some(file.to_path_buf()),
                line: None,
                key: String::new(),
                message: format!("{other}; {against}"),
            }]),
        }
    })
}

/// One compared run: the scenario, the book loaded against it and the run
/// that valued the book on every path.
pub struct Side<'a> {
    pub label: &'a str,
    pub scenario: &'a Scenario,
    pub book: &'a Book,
    pub simulation: &'a Simulation,
}

/// A difference from the first run, with its standard error.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Difference {
    pub value: f64,
    pub se: f64,
}

/// One figure of a portfolio in every run.
#[derive(Debug, Clone, Serialize)]
pub struct ComparedFigure {
    /// As the catalogue names it (`portfolio.us_60_40.es95`).
    pub name: String,
    pub label: String,
    pub unit: Unit,
    /// Its value and standard error in each run, in the runs' order.
    pub runs: Vec<Measured>,
    /// Each later run's value minus the first's (none for the first).
    pub differences: Vec<Option<Difference>>,
}

/// A portfolio under every compared scenario.
#[derive(Debug, Clone, Serialize)]
pub struct PortfolioComparison {
    pub portfolio: String,
    pub description: String,
    pub origin: String,
    /// The runs' labels, in order.
    pub runs: Vec<String>,
    /// Whether the differences are paired on common random numbers.
    pub paired: bool,
    /// Why they are, or are not, in words.
    pub pairing: String,
    pub figures: Vec<ComparedFigure>,
}

/// Whether the runs share their paths' random streams: the same seed and as
/// many paths. Otherwise, why not.
fn pairing(sides: &[Side]) -> Result<(), String> {
    let first = sides[0].simulation;
    let differ = |what: &str, values: Vec<String>| {
        format!(
            "the runs' {what} differ ({}), so their paths are independent: each difference's standard error is that of two independent runs, sqrt(se_a^2 + se_b^2); give one --seed to pair them",
            values.join(", ")
        )
    };
    if sides.iter().any(|s| s.simulation.seed != first.seed) {
        return Err(differ(
            "seeds",
            sides
                .iter()
                .map(|s| format!("{} {}", s.label, s.simulation.seed))
                .collect(),
        ));
    }
    if sides.iter().any(|s| s.simulation.paths != first.paths) {
        return Err(differ(
            "path counts",
            sides
                .iter()
                .map(|s| format!("{} {}", s.label, s.simulation.paths))
                .collect(),
        ));
    }
    Ok(())
}

/// Every portfolio of the first run's book under every run, its figures side
/// by side and each run's difference from the first. Every side's book is the
/// same file loaded against its own scenario, so the portfolios have the
/// same names.
pub fn compare_portfolios(sides: &[Side]) -> Vec<PortfolioComparison> {
    let Some(first) = sides.first() else {
        return Vec::new();
    };
    let paired_runs = pairing(sides);
    first
        .book
        .portfolios
        .iter()
        .map(|p| {
            let specs = portfolio_figures(p);
            let names: Vec<String> = specs.iter().map(|f| f.name.clone()).collect();
            let measured: Vec<Vec<Measured>> = sides
                .iter()
                .map(|s| {
                    let model = Model::new(s.scenario);
                    measure_named(&names, s.scenario, &model, s.book, s.simulation)
                })
                .collect();
            let values: Vec<Vec<Vec<f64>>> = sides
                .iter()
                .map(|s| per_path_values(&specs, s.simulation))
                .collect();
            let figures = specs
                .iter()
                .enumerate()
                .map(|(f, spec)| ComparedFigure {
                    name: spec.name.clone(),
                    label: spec.label.clone(),
                    unit: spec.unit,
                    runs: measured.iter().map(|m| m[f]).collect(),
                    differences: (0..sides.len())
                        .map(|r| {
                            (r > 0).then(|| {
                                let se = if paired_runs.is_ok() {
                                    paired(spec.statistic, &values[r][f], &values[0][f]).0.se
                                } else {
                                    measured[r][f].se.hypot(measured[0][f].se)
                                };
                                Difference {
                                    value: measured[r][f].value - measured[0][f].value,
                                    se,
                                }
                            })
                        })
                        .collect(),
                })
                .collect();
            PortfolioComparison {
                portfolio: p.name.clone(),
                description: p.description.clone(),
                origin: p.origin.clone(),
                runs: sides.iter().map(|s| s.label.to_string()).collect(),
                pairing: match &paired_runs {
                    Ok(()) => format!(
                        "every run has seed {} and {} paths: path i of each starts from the same random streams, so each difference is paired path by path and its standard error is that of the per-path differences",
                        first.simulation.seed, first.simulation.paths
                    ),
                    Err(why) => why.clone(),
                },
                paired: paired_runs.is_ok(),
                figures,
            }
        })
        .collect()
}

/// Each figure's per-path values in one run.
fn per_path_values(specs: &[FigureSpec], simulation: &Simulation) -> Vec<Vec<f64>> {
    let columns = Columns::of(specs, simulation);
    specs.iter().map(|f| f.value.values(&columns)).collect()
}

/// `portfolio_comparison.csv`: a row per portfolio, figure and run: its value
/// and standard error, and (after the first run) its difference from the
/// first run's, that difference's standard error and whether it is paired.
pub fn csv(comparisons: &[PortfolioComparison]) -> String {
    let number = |v: f64| {
        if v.is_finite() {
            format!("{v}")
        } else {
            String::new()
        }
    };
    let mut out = String::from("portfolio,figure,run,value,se,difference,difference_se,paired\n");
    for c in comparisons {
        for f in &c.figures {
            for (r, (m, d)) in f.runs.iter().zip(&f.differences).enumerate() {
                let (difference, se) = d.map_or((String::new(), String::new()), |d| {
                    (number(d.value), number(d.se))
                });
                out.push_str(&format!(
                    "{},{},{},{},{},{difference},{se},{}\n",
                    c.portfolio,
                    f.name,
                    // Labels are scenario names (identifiers), " (2)" at most: no comma.
                    c.runs[r],
                    number(m.value),
                    number(m.se),
                    if r == 0 {
                        String::new()
                    } else {
                        c.paired.to_string()
                    }
                ));
            }
        }
    }
    out
}
