//! What views do to a finished run: each view's prior and posterior value,
//! the cost of the posterior (relative entropy, effective scenarios), and the
//! run's key numbers and every portfolio's and strategy's figures under the
//! posterior beside the prior, all read with the same weighted figures
//! ([`crate::stats::WeightedSample`]) so that the two compare.

use serde::Serialize;

use super::file::ViewsFile;
use std::ops::Range;

use super::pool::{entropy_pool_parts_with_confidence, PartViews, PoolError, Relation, ViewTarget};
use super::table::PathTable;
use crate::figures::KeyNumbers;
use crate::scenario::ScenarioError;
use crate::stats::WeightedSample;

/// Below this share of the paths the posterior rests on too few of them to
/// be read with the run's own precision: a warning, not an error (a
/// committee may mean a severe view).
pub const FEW_SCENARIOS_SHARE: f64 = 0.10;

/// Loss thresholds of `P(loss > x)` for every book (10% = 0.10).
pub const LOSS_THRESHOLDS: [f64; 3] = [0.05, 0.10, 0.20];

/// Percentiles of every distribution compared.
pub const PERCENTILES: [f64; 5] = [0.01, 0.05, 0.50, 0.95, 0.99];

/// One linear view as solved: its statement and values.
#[derive(Debug, Clone, Serialize)]
pub struct ViewOutcome {
    /// The view's name in the file.
    pub view: String,
    pub statement: String,
    pub relation: &'static str,
    pub target: f64,
    pub confidence: f64,
    /// `sum p c` and `sum q c` of its coefficients.
    pub prior: f64,
    pub posterior: f64,
    /// The dual multiplier: `q ∝ p exp(sum multiplier * c)`.
    pub multiplier: f64,
}

/// One figure under the prior and the posterior.
#[derive(Debug, Clone, Serialize)]
pub struct FigureRow {
    /// `key numbers`, a viewed column, or a book (`portfolio.core`).
    pub group: String,
    pub figure: String,
    pub prior: f64,
    pub posterior: f64,
}

/// Everything the views command reports.
#[derive(Debug, Clone, Serialize)]
pub struct ViewsOutcome {
    pub paths: usize,
    pub views: Vec<ViewOutcome>,
    pub relative_entropy: f64,
    pub effective_scenarios: f64,
    pub effective_share: f64,
    pub figures: Vec<FigureRow>,
    pub warnings: Vec<String>,
    #[serde(skip)]
    pub prior: Vec<f64>,
    #[serde(skip)]
    pub posterior: Vec<f64>,
}

/// Why views could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ViewsError {
    #[error(transparent)]
    File(#[from] ScenarioError),
    /// The views as a whole cannot be met; the message names those in
    /// conflict, each with its file and line.
    #[error("{error}")]
    Pool {
        error: PoolError,
        file: std::path::PathBuf,
    },
}

impl crate::UserFixable for ViewsError {
    fn is_user_fixable(&self) -> bool {
        true
    }
}

/// The books (`portfolio.NAME`, `strategy.NAME`) whose P&L the run has.
pub fn books(available: &[String]) -> Vec<String> {
    available
        .iter()
        .filter_map(|c| c.strip_suffix(".pnl"))
        .filter(|p| {
            (p.starts_with("portfolio.") || p.starts_with("strategy.")) && !p.contains(".position.")
        })
        .map(str::to_string)
        .collect()
}

/// Every column the outcome reads besides the views': the key numbers'
/// (`key_columns`, [`KeyNumbers::columns`]) and each book's P&L, those the
/// run has.
pub fn figure_columns(available: &[String], key_columns: Vec<String>) -> Vec<String> {
    let mut wanted = key_columns;
    for book in books(available) {
        wanted.push(format!("{book}.pnl"));
    }
    let mut unique: Vec<String> = Vec::new();
    for c in wanted {
        if available.contains(&c) && !unique.contains(&c) {
            unique.push(c);
        }
    }
    unique
}

/// Applies the views of `file` to `table` (which holds the views' columns
/// and [`figure_columns`]).
pub fn apply(
    file: &ViewsFile,
    table: &PathTable,
    key_numbers: Option<&KeyNumbers>,
) -> Result<ViewsOutcome, ViewsError> {
    let whole = 0..table.paths();
    apply_parts(file, table, std::slice::from_ref(&whole), key_numbers)
}

/// As [`apply`], the table's rows being the parts of a sharded run laid end
/// to end (`parts`, in order, covering every row): the views are solved with
/// each part's sums ([`entropy_pool_parts_with_confidence`]), as the parts
/// would be were their paths on different machines.
pub fn apply_parts(
    file: &ViewsFile,
    table: &PathTable,
    parts: &[Range<usize>],
    key_numbers: Option<&KeyNumbers>,
) -> Result<ViewsOutcome, ViewsError> {
    let (linear, confidence) = file.linear_views(table)?;
    let prior: Vec<f64> = (0..table.paths()).map(|p| table.prior_of(p)).collect();
    let pool_error = |error| ViewsError::Pool {
        error,
        file: file.path.clone(),
    };
    let covered = parts.first().map_or(0, |r| r.start) == 0
        && parts.windows(2).all(|w| w[0].end == w[1].start)
        && parts.last().map_or(0, |r| r.end) == table.paths();
    if !covered {
        return Err(pool_error(PoolError::Input(format!(
            "the parts' rows {parts:?} do not cover the {} paths in order",
            table.paths()
        ))));
    }
    let part_views: Vec<PartViews> = parts
        .iter()
        .map(|rows| PartViews {
            prior: &prior[rows.clone()],
            coefficients: linear
                .iter()
                .map(|v| &v.coefficients[rows.clone()])
                .collect(),
        })
        .collect();
    let targets: Vec<ViewTarget> = linear.iter().map(ViewTarget::of).collect();
    let pooled = entropy_pool_parts_with_confidence(&part_views, &targets, &confidence)
        .map_err(pool_error)?;
    let posterior: Vec<f64> = pooled.posterior.concat();
    let mut views = Vec::new();
    let mut owner = 0;
    let mut left_in_owner = 0;
    for (i, view) in linear.iter().enumerate() {
        if left_in_owner == 0 {
            if i > 0 {
                owner += 1;
            }
            left_in_owner = match &file.views[owner].kind {
                super::ViewKind::Ranking { columns } => columns.len() - 1,
                _ => 1,
            };
        }
        left_in_owner -= 1;
        let source = &file.views[owner];
        let statement = match &source.kind {
            super::ViewKind::Ranking { .. } => view
                .name
                .split_once(", ")
                .map(|(_, pair)| pair.to_string())
                .unwrap_or_default(),
            super::ViewKind::Quantile { column, level } => format!(
                "{} (P({column} <= {}) {} {level})",
                source.statement(),
                source.target,
                relation_sign(view.relation)
            ),
            _ => source.statement(),
        };
        views.push(ViewOutcome {
            view: source.name.clone(),
            statement,
            relation: relation_name(view.relation),
            target: view.target,
            confidence: confidence[i],
            prior: dot(&prior, &view.coefficients),
            posterior: dot(&posterior, &view.coefficients),
            multiplier: pooled.multipliers[i],
        });
    }
    let paths = table.paths();
    let effective_share = pooled.effective_scenarios / paths as f64;
    let mut warnings = Vec::new();
    if effective_share < FEW_SCENARIOS_SHARE {
        warnings.push(format!(
            "the posterior rests on {:.0} effective scenarios, {:.1}% of the {paths} paths (below {:.0}%): its figures are much less precise than the run's; soften the views (a confidence below 1) or run more paths",
            pooled.effective_scenarios,
            100.0 * effective_share,
            100.0 * FEW_SCENARIOS_SHARE
        ));
    }
    let figures = compare_figures(file, table, key_numbers, &prior, &posterior);
    Ok(ViewsOutcome {
        paths,
        views,
        relative_entropy: pooled.relative_entropy,
        effective_scenarios: pooled.effective_scenarios,
        effective_share,
        figures,
        warnings,
        prior,
        posterior,
    })
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

fn relation_name(r: Relation) -> &'static str {
    match r {
        Relation::Equal => "equals",
        Relation::AtMost => "at_most",
        Relation::AtLeast => "at_least",
    }
}

fn relation_sign(r: Relation) -> &'static str {
    match r {
        Relation::Equal => "=",
        Relation::AtMost => "<=",
        Relation::AtLeast => ">=",
    }
}

fn percent(p: f64) -> String {
    format!("{}", (p * 100.0 * 1e6).round() / 1e6)
}

/// Whether a path's figure falls in an event.
type Event<'a> = dyn Fn(f64) -> bool + 'a;

fn compare_figures(
    file: &ViewsFile,
    table: &PathTable,
    key_numbers: Option<&KeyNumbers>,
    prior: &[f64],
    posterior: &[f64],
) -> Vec<FigureRow> {
    let mut rows = Vec::new();
    let mut push = |group: &str, figure: String, a: f64, b: f64| {
        rows.push(FigureRow {
            group: group.to_string(),
            figure,
            prior: a,
            posterior: b,
        })
    };
    let samples = |column: &str| {
        table.column(column).ok().map(|values| {
            (
                WeightedSample::new(values, prior),
                WeightedSample::new(values, posterior),
            )
        })
    };
    if let Some(k) = key_numbers {
        let probability = |column: String, event: &dyn Fn(f64) -> bool, weights: &[f64]| {
            table.column(&column).ok().map(|values| {
                values
                    .iter()
                    .zip(weights)
                    .filter(|(v, _)| event(**v))
                    .map(|(_, w)| w)
                    .sum::<f64>()
            })
        };
        let drawdown = format!("{}.max_drawdown", k.equity);
        let dollar = format!("{}.terminal_return", k.dollar);
        let equity_hit = |d: f64| d >= k.equity_drawdown_threshold;
        let dollar_hit = |r: f64| r <= -k.dollar_fall_threshold;
        let figures: [(String, String, &Event); 2] = [
            (
                format!(
                    "P({} max drawdown >= {}%)",
                    k.equity,
                    percent(k.equity_drawdown_threshold)
                ),
                drawdown.clone(),
                &equity_hit,
            ),
            (
                format!(
                    "P({} falls >= {}%)",
                    k.dollar,
                    percent(k.dollar_fall_threshold)
                ),
                dollar.clone(),
                &dollar_hit,
            ),
        ];
        for (figure, column, event) in figures {
            if let (Some(a), Some(b)) = (
                probability(column.clone(), event, prior),
                probability(column, event, posterior),
            ) {
                push("key numbers", figure, a, b);
            }
        }
        if let (Ok(d), Ok(r)) = (table.column(&drawdown), table.column(&dollar)) {
            let joint = |weights: &[f64]| -> f64 {
                d.iter()
                    .zip(r)
                    .zip(weights)
                    .filter(|((d, r), _)| equity_hit(**d) && dollar_hit(**r))
                    .map(|(_, w)| w)
                    .sum()
            };
            push(
                "key numbers",
                "P(joint sell-off)".to_string(),
                joint(prior),
                joint(posterior),
            );
        }
        for asset in &k.core_assets {
            let column = format!("{asset}.terminal_return");
            if let Some((a, b)) = table.column(&column).ok().map(|values| {
                let losses: Vec<f64> = values.iter().map(|v| -v).collect();
                (
                    WeightedSample::new(&losses, prior),
                    WeightedSample::new(&losses, posterior),
                )
            }) {
                for level in crate::figures::key_numbers::CONFIDENCE {
                    let (ta, tb) = (a.tail_risk(level), b.tail_risk(level));
                    let l = percent(level);
                    push(
                        "key numbers",
                        format!("{asset} VaR {l}%"),
                        ta.value_at_risk,
                        tb.value_at_risk,
                    );
                    push(
                        "key numbers",
                        format!("{asset} ES {l}%"),
                        ta.expected_shortfall,
                        tb.expected_shortfall,
                    );
                }
            }
        }
    }
    for column in file.columns() {
        if let Some((a, b)) = samples(&column) {
            push(&column, "mean".to_string(), a.mean(), b.mean());
            for p in PERCENTILES {
                push(
                    &column,
                    format!("p{}", percent(p)),
                    a.quantile(p),
                    b.quantile(p),
                );
            }
        }
    }
    for book in books(&table.available) {
        let Ok(pnl) = table.column(&format!("{book}.pnl")) else {
            continue;
        };
        let (a, b) = (
            WeightedSample::new(pnl, prior),
            WeightedSample::new(pnl, posterior),
        );
        push(&book, "mean return".to_string(), a.mean(), b.mean());
        for p in PERCENTILES {
            push(
                &book,
                format!("return p{}", percent(p)),
                a.quantile(p),
                b.quantile(p),
            );
        }
        let losses: Vec<f64> = pnl.iter().map(|v| -v).collect();
        let (la, lb) = (
            WeightedSample::new(&losses, prior),
            WeightedSample::new(&losses, posterior),
        );
        for level in crate::figures::key_numbers::CONFIDENCE {
            let (ta, tb) = (la.tail_risk(level), lb.tail_risk(level));
            let l = percent(level);
            push(
                &book,
                format!("VaR {l}%"),
                ta.value_at_risk,
                tb.value_at_risk,
            );
            push(
                &book,
                format!("ES {l}%"),
                ta.expected_shortfall,
                tb.expected_shortfall,
            );
        }
        for x in LOSS_THRESHOLDS {
            // P(loss > x) = 1 - P(loss <= x).
            push(
                &book,
                format!("P(loss > {}%)", percent(x)),
                1.0 - la.at_most(x),
                1.0 - lb.at_most(x),
            );
        }
    }
    rows
}
