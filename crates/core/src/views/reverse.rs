//! Reverse stress tests: given a loss (or any figure past a threshold), how
//! likely it is, what the paths that reach it have in common against all
//! paths, a handful of paths that stand for them, and how plausibility falls
//! as the loss grows.
//!
//! Every figure honours the table's per-path prior (`PathTable::prior`, the
//! likelihood ratios of a tilted run say): probabilities are weighted sums,
//! means are self-normalised weighted means, and standard errors come from the
//! delta method over the weights, which for equal weights are the binomial and
//! the sample-mean ones.

use serde::Serialize;

use super::pool::{entropy_pool, LinearView, Relation};
use super::table::{PathTable, UnknownColumn};
use crate::model::{Model, Tilt};
use crate::scenario::load::unknown_name;
use crate::stats::LIKELIHOOD_RATIO;

/// Fewer breaching paths than this make the conditional figures too noisy for
/// a committee's paper: the result says so and suggests a larger run.
pub const MIN_BREACHING_PATHS: usize = 1_000;

/// Representative paths drawn unless asked otherwise.
pub const DEFAULT_MEDOIDS: usize = 5;

/// Breaching paths the k-medoids search looks at, at most: PAM's swap step is
/// quadratic in them, and an evenly spaced subsample of 1,500 already places
/// five medoids far inside the spread of the rest.
pub const MEDOID_SAMPLE: usize = 1_500;

/// Thresholds on the severity-plausibility frontier.
pub const FRONTIER_POINTS: usize = 24;

/// The frontier stops where fewer paths than this breach: beyond, the
/// probability is a handful of paths.
pub const FRONTIER_MIN_PATHS: usize = 10;

/// A column's standard deviation at or below this share of its mean is
/// rounding, not spread.
const RELATIVE_NOISE: f64 = 1e-10;

/// Which way a figure breaches its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The figure is at most the threshold (a return at most -30%).
    AtMost,
    /// The figure is at least the threshold (a drawdown of at least 30%).
    AtLeast,
}

/// What counts as a breach: one per-path column past a threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breach {
    pub column: String,
    pub side: Side,
    pub threshold: f64,
    /// For people: "portfolio us_60_40 loses at least 30%".
    pub description: String,
}

impl Breach {
    /// A book (`portfolio.NAME` or `strategy.NAME`) losing at least `loss`
    /// of its starting value over the horizon: its P&L at most `-loss`.
    pub fn loss(book: &str, loss: f64) -> Breach {
        Breach {
            column: format!("{book}.pnl"),
            side: Side::AtMost,
            threshold: -loss,
            description: format!("{} loses at least {}", book_label(book), percent(loss)),
        }
    }

    /// A book falling at least `loss` below its running peak at some point.
    pub fn drawdown(book: &str, loss: f64) -> Breach {
        Breach {
            column: format!("{book}.max_drawdown"),
            side: Side::AtLeast,
            threshold: loss,
            description: format!("{} draws down at least {}", book_label(book), percent(loss)),
        }
    }

    /// An asset (a price) falling at least `loss` over the horizon: its
    /// terminal return at most `-loss`.
    pub fn asset_loss(asset: &str, loss: f64) -> Breach {
        Breach {
            column: format!("{asset}.terminal_return"),
            side: Side::AtMost,
            threshold: -loss,
            description: format!("{asset} falls at least {} over the horizon", percent(loss)),
        }
    }

    /// An asset falling at least `loss` below its running peak at some point.
    pub fn asset_drawdown(asset: &str, loss: f64) -> Breach {
        Breach {
            column: format!("{asset}.max_drawdown"),
            side: Side::AtLeast,
            threshold: loss,
            description: format!("{asset} draws down at least {}", percent(loss)),
        }
    }

    /// Any per-path column at most or at least `threshold`.
    pub fn figure(column: &str, side: Side, threshold: f64) -> Breach {
        let relation = match side {
            Side::AtMost => "at most",
            Side::AtLeast => "at least",
        };
        Breach {
            column: column.to_string(),
            side,
            threshold,
            description: format!("{column} {relation} {threshold}"),
        }
    }

    /// Whether a path's value breaches; a path without a value never does.
    pub fn hits(&self, value: f64) -> bool {
        match self.side {
            Side::AtMost => value <= self.threshold,
            Side::AtLeast => value >= self.threshold,
        }
    }

    /// The same breach at another threshold.
    fn at(&self, threshold: f64) -> Breach {
        Breach {
            threshold,
            ..self.clone()
        }
    }
}

fn book_label(book: &str) -> String {
    match book.split_once('.') {
        Some((kind, name)) => format!("{kind} {name}"),
        None => book.to_string(),
    }
}

fn percent(x: f64) -> String {
    format!("{}%", (x * 1e4).round() / 1e2)
}

/// The book columns a breach can name: `portfolio.NAME` and `strategy.NAME`
/// prefixes of the run's `.pnl` columns, in column order.
pub fn books(table: &PathTable, kind: &str) -> Vec<String> {
    let prefix = format!("{kind}.");
    table
        .available
        .iter()
        .filter_map(|c| c.strip_prefix(&prefix)?.strip_suffix(".pnl"))
        .filter(|name| !name.contains(".position."))
        .map(str::to_string)
        .collect()
}

/// The column prefix of the book `name` of `kind` (`portfolio` or
/// `strategy`), or the error naming the nearest book the run values.
pub fn book(table: &PathTable, kind: &str, name: &str) -> Result<String, ReverseError> {
    let names = books(table, kind);
    if names.iter().any(|n| n == name) {
        return Ok(format!("{kind}.{name}"));
    }
    let message = if names.is_empty() {
        format!("unknown {kind} `{name}`: this run values no {kind}; run it with `--portfolio FILE` (a {kind} is a portfolio file's book)")
    } else {
        unknown_name(kind, name, &names)
    };
    Err(ReverseError::UnknownBook(message))
}

/// Why a reverse stress test cannot be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ReverseError {
    #[error("{0}")]
    UnknownColumn(#[from] UnknownColumn),
    #[error("{0}")]
    UnknownBook(String),
    /// The threshold is not a number, or a loss not positive.
    #[error("{0}")]
    BadThreshold(String),
    /// No path breaches: the message gives the range the run's paths span.
    #[error("no path breaches `{description}`: on this run's {paths} paths `{column}` ranges from {min} to {max}; {hint}")]
    NoBreach {
        description: String,
        column: String,
        paths: usize,
        min: f64,
        max: f64,
        hint: String,
    },
}

impl crate::UserFixable for ReverseError {
    fn is_user_fixable(&self) -> bool {
        true
    }
}

/// Checks a loss given on the command line: a positive fraction of the
/// starting value (more than 1 only for a leveraged book).
pub fn check_loss(loss: f64) -> Result<(), ReverseError> {
    if loss.is_finite() && loss > 0.0 {
        Ok(())
    } else {
        Err(ReverseError::BadThreshold(format!(
            "--loss {loss}: a loss is a positive fraction of the starting value (0.30 for 30%)"
        )))
    }
}

/// What a book's or an asset's loss is measured on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Measure {
    /// The return over the horizon.
    #[default]
    Return,
    /// The largest fall below a running peak.
    Drawdown,
}

/// What breaches, as a user names it.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Portfolio(String),
    Strategy(String),
    /// A price asset (`spx`): its terminal return or its max drawdown.
    Asset(String),
    /// Any per-path column, past `--at-most` or `--at-least`.
    Figure(String),
}

/// The request of a reverse stress test: what breaches and where.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub target: Target,
    /// A book's or an asset's loss, a positive fraction.
    pub loss: Option<f64>,
    pub on: Measure,
    /// A figure's threshold: exactly one of the two.
    pub at_most: Option<f64>,
    pub at_least: Option<f64>,
}

impl Request {
    /// The breach the request names, its names checked against the run's
    /// columns (an unknown one gets the nearest the run has).
    pub fn breach(&self, table: &PathTable) -> Result<Breach, ReverseError> {
        let bad = |m: String| Err(ReverseError::BadThreshold(m));
        let loss = || -> Result<f64, ReverseError> {
            let loss = self.loss.ok_or_else(|| {
                ReverseError::BadThreshold(
                    "give the loss (--loss) of a portfolio, strategy or asset: 0.30 for 30%".into(),
                )
            })?;
            check_loss(loss)?;
            Ok(loss)
        };
        let thresholds = self.at_most.is_some() || self.at_least.is_some();
        if !matches!(self.target, Target::Figure(_)) && thresholds {
            return bad("--at-most and --at-least go with --figure; a portfolio, strategy or asset takes --loss".into());
        }
        let on_book = |prefix: String| -> Result<Breach, ReverseError> {
            let loss = loss()?;
            Ok(match self.on {
                Measure::Return => Breach::loss(&prefix, loss),
                Measure::Drawdown => Breach::drawdown(&prefix, loss),
            })
        };
        match &self.target {
            Target::Portfolio(name) => on_book(book(table, "portfolio", name)?),
            Target::Strategy(name) => on_book(book(table, "strategy", name)?),
            Target::Asset(name) => {
                let assets: Vec<String> = table
                    .available
                    .iter()
                    .filter_map(|c| c.strip_suffix(".terminal_return"))
                    .map(str::to_string)
                    .collect();
                if !assets.iter().any(|a| a == name) {
                    return Err(ReverseError::UnknownBook(unknown_name(
                        "asset with a return (a price, not a rate or a level)",
                        name,
                        &assets,
                    )));
                }
                let loss = loss()?;
                Ok(match self.on {
                    Measure::Return => Breach::asset_loss(name, loss),
                    Measure::Drawdown => Breach::asset_drawdown(name, loss),
                })
            }
            Target::Figure(column) => {
                if self.loss.is_some() {
                    return bad("--loss goes with a portfolio, strategy or asset; a figure takes --at-most X or --at-least X".into());
                }
                if !table.has(column) {
                    return Err(table.unknown(column).into());
                }
                match (self.at_most, self.at_least) {
                    (Some(x), None) => Ok(Breach::figure(column, Side::AtMost, x)),
                    (None, Some(x)) => Ok(Breach::figure(column, Side::AtLeast, x)),
                    _ => bad(format!(
                        "the figure `{column}` needs exactly one threshold: --at-most X or --at-least X"
                    )),
                }
            }
        }
    }
}

/// Where a column's figures sit on the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Regimes,
    Events,
    Signals,
    Assets,
    Correlations,
    Flows,
    Portfolios,
    Strategies,
}

impl Group {
    pub fn of(column: &str) -> Group {
        let head = column.split('.').next().unwrap_or("");
        match head {
            "regime" => Group::Regimes,
            "event" => Group::Events,
            "signal" => Group::Signals,
            "corr" => Group::Correlations,
            "flows" => Group::Flows,
            "portfolio" => Group::Portfolios,
            "strategy" => Group::Strategies,
            _ => Group::Assets,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Group::Regimes => "Regimes",
            Group::Events => "Events",
            Group::Signals => "Signals",
            Group::Assets => "Assets",
            Group::Correlations => "Realised correlations",
            Group::Flows => "Flows",
            Group::Portfolios => "Portfolios",
            Group::Strategies => "Strategies",
        }
    }

    pub const ALL: [Group; 8] = [
        Group::Regimes,
        Group::Events,
        Group::Signals,
        Group::Assets,
        Group::Correlations,
        Group::Flows,
        Group::Portfolios,
        Group::Strategies,
    ];
}

/// How one column's mean over the breaching paths departs from its mean over
/// all paths.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Departure {
    pub column: String,
    pub group: Group,
    /// The conditional mean given the breach, and its standard error.
    pub breach_mean: f64,
    pub breach_se: f64,
    /// The mean over all paths (the prior's).
    pub all_mean: f64,
    /// `breach_mean - all_mean`, and its standard error (delta method, the
    /// two means' shared paths included).
    pub difference: f64,
    pub difference_se: f64,
    /// The difference in the column's prior standard deviations: the ranking
    /// key, comparable across columns of any unit and any run size.
    pub shift_sd: f64,
    /// The difference in its standard errors: below 2 in size it is not told
    /// apart from noise.
    pub z: f64,
    /// The share of breaching (all) paths' weight with a value in this column
    /// (a regime's first entry has none on paths that never enter it).
    pub breach_present: f64,
    pub all_present: f64,
}

/// One point of the severity-plausibility frontier.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrontierPoint {
    pub threshold: f64,
    /// The prior probability of a breach at this threshold, its standard
    /// error, and the paths that breach.
    pub probability: f64,
    pub standard_error: f64,
    pub breaching: usize,
    /// The relative entropy `sum q ln(q/p)` of the exponential tilt of the
    /// prior that makes the threshold the figure's expectation (Breuer and
    /// Csiszár: the least implausible model in which this loss is the mean),
    /// with the tilt's effective number of paths; absent when the column has
    /// paths without a value.
    pub relative_entropy: Option<f64>,
    pub effective_scenarios: Option<f64>,
}

/// A breaching path standing for the breaching paths nearest to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Medoid {
    /// The path's index in the run (`engine::replay` re-simulates it).
    pub path: usize,
    /// The share of the breaching probability in its cluster, and the
    /// (subsampled) breaching paths in it.
    pub share: f64,
    pub members: usize,
    /// The breach figure on this path.
    pub value: f64,
    /// The path's figures the clusters were drawn on, in `ReverseStress::medoid_columns` order.
    pub figures: Vec<f64>,
}

/// A reverse stress test of a finished run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReverseStress {
    pub breach: Breach,
    pub paths: usize,
    /// Paths that breach, their prior probability and its standard error.
    pub breaching: usize,
    pub probability: f64,
    pub standard_error: f64,
    /// Kish's effective number of breaching paths, `(sum w)^2 / sum w^2`
    /// (their count when every path is equally likely).
    pub effective_breaching: f64,
    /// At least [`MIN_BREACHING_PATHS`] paths breach.
    pub enough_paths: bool,
    /// Every column but the breach's own, ranked by `|shift_sd|`, largest first.
    pub common: Vec<Departure>,
    pub frontier: Vec<FrontierPoint>,
    /// The figures the medoids were drawn on (standardised by their prior
    /// standard deviations).
    pub medoid_columns: Vec<String>,
    pub medoids: Vec<Medoid>,
    /// On a run tilted toward the breach (its table holds the per-path
    /// `likelihood_ratio`), the importance-sampling figures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub importance_sampling: Option<ImportanceSampling>,
}

/// A tilted run's own check of its estimate: the breach probability as the
/// plain mean `(1/n) sum LR 1_B` with its standard error `sd(LR 1_B) /
/// sqrt(n)`, how many equally likely paths the ratios are worth, and the
/// mean ratio, which is 1 in expectation (far from it, the tilt went too far
/// for the paths run).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportanceSampling {
    pub probability: f64,
    pub standard_error: f64,
    /// Kish's `(sum LR)^2 / sum LR^2` over all paths.
    pub effective_paths: f64,
    pub mean_ratio: f64,
    pub mean_ratio_se: f64,
}

impl ImportanceSampling {
    /// The figures of likelihood ratios `ratios` and breach `hit`, per path.
    pub fn new(ratios: &[f64], hit: &[bool]) -> ImportanceSampling {
        let n = ratios.len() as f64;
        let mean_and_se = |values: &mut dyn Iterator<Item = f64>| {
            let (mut sum, mut squares) = (0.0, 0.0);
            for v in values {
                sum += v;
                squares += v * v;
            }
            let mean = sum / n;
            let variance = ((squares - n * mean * mean) / (n - 1.0).max(1.0)).max(0.0);
            (mean, (variance / n).sqrt(), sum, squares)
        };
        let (probability, standard_error, _, _) = mean_and_se(
            &mut ratios
                .iter()
                .zip(hit)
                .map(|(r, &h)| if h { *r } else { 0.0 }),
        );
        let (mean_ratio, mean_ratio_se, sum, squares) = mean_and_se(&mut ratios.iter().copied());
        ImportanceSampling {
            probability,
            standard_error,
            effective_paths: if squares > 0.0 {
                sum * sum / squares
            } else {
                0.0
            },
            mean_ratio,
            mean_ratio_se,
        }
    }
}

/// The table's weights, normalised to sum to one.
fn weights(table: &PathTable) -> Vec<f64> {
    let n = table.paths();
    match &table.prior {
        Some(prior) => {
            let total: f64 = prior.iter().sum();
            prior.iter().map(|w| w / total).collect()
        }
        None => vec![1.0 / n as f64; n],
    }
}

/// The prior probability of `breach` over the paths of `values`, its standard
/// error `sqrt(sum w^2 (1_B - P)^2)` (the binomial `sqrt(P(1-P)/n)` for equal
/// weights), and the count of breaching paths.
pub fn probability(values: &[f64], weights: Option<&[f64]>, breach: &Breach) -> (f64, f64, usize) {
    let count = values.iter().filter(|&&v| breach.hits(v)).count();
    let Some(weights) = weights else {
        // Every path equally likely: the share, exactly as a count reads.
        let n = values.len() as f64;
        let p = count as f64 / n;
        return (p, (p * (1.0 - p) / n).sqrt(), count);
    };
    let p: f64 = values
        .iter()
        .zip(weights)
        .filter(|(&v, _)| breach.hits(v))
        .map(|(_, w)| w)
        .sum();
    let variance: f64 = values
        .iter()
        .zip(weights)
        .map(|(&v, &w)| {
            let indicator = if breach.hits(v) { 1.0 } else { 0.0 };
            w * w * (indicator - p) * (indicator - p)
        })
        .sum();
    (p, variance.sqrt(), count)
}

/// How `values` over the breaching paths (`hit`) depart from all paths, or
/// `None` for a column without spread or without a value on any breaching path.
fn departure(column: &str, values: &[f64], weights: &[f64], hit: &[bool]) -> Option<Departure> {
    let (mut w_all, mut sum_all, mut w_breach, mut sum_breach) = (0.0, 0.0, 0.0, 0.0);
    for ((&x, &w), &h) in values.iter().zip(weights).zip(hit) {
        if x.is_finite() {
            w_all += w;
            sum_all += w * x;
            if h {
                w_breach += w;
                sum_breach += w * x;
            }
        }
    }
    if w_breach <= 0.0 {
        return None;
    }
    let all_mean = sum_all / w_all;
    let breach_mean = sum_breach / w_breach;
    let (mut spread, mut breach_var, mut difference_var) = (0.0, 0.0, 0.0);
    for ((&x, &w), &h) in values.iter().zip(weights).zip(hit) {
        if !x.is_finite() {
            continue;
        }
        spread += w * (x - all_mean) * (x - all_mean);
        // The influence of the path on the difference of the two
        // self-normalised means: its variance is sum w^2 influence^2.
        let mut influence = -(x - all_mean) / w_all;
        if h {
            let own = (x - breach_mean) / w_breach;
            breach_var += w * w * own * own;
            influence += own;
        }
        difference_var += w * w * influence * influence;
    }
    let sd = (spread / w_all).sqrt();
    // A column constant but for rounding (a deposit's P&L, summed in a
    // different order on each path) has no spread to rank.
    let has_spread = sd > RELATIVE_NOISE * all_mean.abs() && sd > 0.0;
    if !has_spread {
        return None;
    }
    let difference = breach_mean - all_mean;
    let difference_se = difference_var.sqrt();
    let breach_share: f64 = weights
        .iter()
        .zip(hit)
        .filter(|(_, &h)| h)
        .map(|(w, _)| w)
        .sum();
    Some(Departure {
        column: column.to_string(),
        group: Group::of(column),
        breach_mean,
        breach_se: breach_var.sqrt(),
        all_mean,
        difference,
        difference_se,
        shift_sd: difference / sd,
        z: if difference_se > 0.0 {
            difference / difference_se
        } else {
            0.0
        },
        breach_present: w_breach / breach_share,
        all_present: w_all,
    })
}

/// The breach figure's range on the run's paths, for the error when none breaches.
fn no_breach(table: &PathTable, breach: &Breach, values: &[f64]) -> ReverseError {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let min = finite.clone().fold(f64::INFINITY, f64::min);
    let max = finite.fold(f64::NEG_INFINITY, f64::max);
    let is_return = breach.column.ends_with(".pnl") || breach.column.ends_with(".terminal_return");
    let hint = if is_return && breach.side == Side::AtMost {
        format!(
            "the largest loss any path makes is {}: give --loss below it (or run more paths)",
            percent(-min)
        )
    } else if breach.column.ends_with(".max_drawdown") && breach.side == Side::AtLeast {
        format!(
            "the deepest drawdown any path makes is {}: give --loss below it (or run more paths)",
            percent(max)
        )
    } else {
        match breach.side {
            Side::AtMost => format!("give --at-most at or above {min} (or run more paths)"),
            Side::AtLeast => format!("give --at-least at or below {max} (or run more paths)"),
        }
    };
    ReverseError::NoBreach {
        description: breach.description.clone(),
        column: breach.column.clone(),
        paths: table.paths(),
        min,
        max,
        hint,
    }
}

/// The options of a reverse stress test beyond its breach.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub medoids: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            medoids: DEFAULT_MEDOIDS,
        }
    }
}

/// The reverse stress test of `breach` on the table's held columns (every
/// held column is compared; hold them all for the full table).
pub fn reverse_stress(
    table: &PathTable,
    breach: &Breach,
    options: Options,
) -> Result<ReverseStress, ReverseError> {
    if !breach.threshold.is_finite() {
        return Err(ReverseError::BadThreshold(format!(
            "the threshold of `{}` is {}: give a finite number",
            breach.column, breach.threshold
        )));
    }
    let values = table.column(&breach.column)?;
    let weights = weights(table);
    let prior = table.prior.as_ref().map(|_| weights.as_slice());
    let (probability, standard_error, breaching) = self::probability(values, prior, breach);
    if breaching == 0 {
        return Err(no_breach(table, breach, values));
    }
    let hit: Vec<bool> = values.iter().map(|&v| breach.hits(v)).collect();
    let (breach_weight, breach_square) = weights
        .iter()
        .zip(&hit)
        .filter(|(_, &h)| h)
        .fold((0.0, 0.0), |(s, q), (w, _)| (s + w, q + w * w));
    // The ratios weigh the paths; they are no figure of the market.
    let mut common: Vec<Departure> = table
        .columns
        .iter()
        .filter(|(name, _)| **name != breach.column && *name != LIKELIHOOD_RATIO)
        .filter_map(|(name, column)| departure(name, column, &weights, &hit))
        .collect();
    // Stable: equal shifts keep the run's column order.
    common.sort_by(|a, b| b.shift_sd.abs().total_cmp(&a.shift_sd.abs()));
    let frontier = frontier(values, &weights, prior, breach);
    let medoid_columns = medoid_columns(table);
    let medoids = medoids(
        table,
        &medoid_columns,
        values,
        &weights,
        &hit,
        options.medoids,
    );
    Ok(ReverseStress {
        breach: breach.clone(),
        paths: table.paths(),
        breaching,
        probability,
        standard_error,
        effective_breaching: breach_weight * breach_weight / breach_square,
        enough_paths: breaching >= MIN_BREACHING_PATHS,
        common,
        frontier,
        medoid_columns,
        medoids,
        importance_sampling: table
            .columns
            .get(LIKELIHOOD_RATIO)
            .map(|ratios| ImportanceSampling::new(ratios, &hit)),
    })
}

/// The factors a tilt toward a breach is clamped to: at least 1 (a tilt
/// only makes what the breach needs more frequent) and at most 20 (beyond,
/// a path's likelihood ratio varies too much for a run of the same size).
pub const BREACH_TILT_RANGE: (f64, f64) = (1.0, 20.0);

/// A tilt toward `breach` read off a plain run's table (docs/MODEL.md,
/// "Tilted runs"): on every exit into a regime, its mean time share over the
/// breaching paths over its mean over all paths; on every Poisson event's
/// rate, its mean firings over the breaching paths over its mean over all
/// (the cross-entropy choice for a Poisson rate); each clamped to
/// [`BREACH_TILT_RANGE`] and rounded to two decimals, the factors of 1 left
/// out. The table must hold the regimes' `time_share` and the events'
/// `firings` columns (those it lacks are left untilted).
pub fn tilt_toward(
    table: &PathTable,
    breach: &Breach,
    model: &Model,
) -> Result<Tilt, ReverseError> {
    let values = table.column(&breach.column)?;
    let weights = weights(table);
    let hit: Vec<bool> = values.iter().map(|&v| breach.hits(v)).collect();
    let factor = |column: String| -> f64 {
        let Ok(figures) = table.column(&column) else {
            return 1.0;
        };
        let (mut all, mut given, mut breach_weight) = (0.0, 0.0, 0.0);
        for ((&x, &w), &h) in figures.iter().zip(&weights).zip(&hit) {
            if x.is_finite() {
                all += w * x;
                if h {
                    given += w * x;
                    breach_weight += w;
                }
            }
        }
        if all <= 0.0 || breach_weight <= 0.0 {
            return 1.0;
        }
        let (low, high) = BREACH_TILT_RANGE;
        ((given / breach_weight / all).clamp(low, high) * 100.0).round() / 100.0
    };
    let mut tilt = Tilt::default();
    for name in &model.regime_names {
        let f = factor(format!("regime.{name}.time_share"));
        if f > 1.0 {
            tilt.regimes.insert(name.clone(), f);
        }
    }
    for (e, name) in model.event_names.iter().enumerate() {
        let f = factor(format!("event.{name}.firings"));
        if model.is_poisson_event(e) && f > 1.0 {
            tilt.events.insert(name.clone(), f);
        }
    }
    Ok(tilt)
}

/// Thresholds from the figure's prior mean (where no tilt is needed) to the
/// most severe one that still leaves [`FRONTIER_MIN_PATHS`] breaching paths,
/// evenly spaced, with each one's probability.
fn frontier(
    values: &[f64],
    weights: &[f64],
    prior: Option<&[f64]>,
    breach: &Breach,
) -> Vec<FrontierPoint> {
    let mut finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.len() < FRONTIER_MIN_PATHS {
        return Vec::new();
    }
    finite.sort_unstable_by(f64::total_cmp);
    let complete = finite.len() == values.len();
    let mean: f64 = if complete {
        values.iter().zip(weights).map(|(v, w)| v * w).sum()
    } else {
        finite.iter().sum::<f64>() / finite.len() as f64
    };
    let extreme = match breach.side {
        Side::AtMost => finite[FRONTIER_MIN_PATHS - 1],
        Side::AtLeast => finite[finite.len() - FRONTIER_MIN_PATHS],
    };
    let span = extreme - mean;
    if span == 0.0 || span.is_sign_positive() != (breach.side == Side::AtLeast) {
        return Vec::new();
    }
    (1..=FRONTIER_POINTS)
        .map(|i| {
            let threshold = mean + span * i as f64 / FRONTIER_POINTS as f64;
            let (probability, standard_error, breaching) =
                self::probability(values, prior, &breach.at(threshold));
            // The least implausible reweighting in which the threshold is the
            // mean: an exponential tilt of the prior (the solver's posterior).
            let tilt = complete
                .then(|| {
                    entropy_pool(
                        weights,
                        &[LinearView {
                            name: format!("{} = {threshold}", breach.column),
                            coefficients: values.to_vec(),
                            relation: Relation::Equal,
                            target: threshold,
                        }],
                    )
                    .ok()
                })
                .flatten();
            FrontierPoint {
                threshold,
                probability,
                standard_error,
                breaching,
                relative_entropy: tilt.as_ref().map(|t| t.relative_entropy),
                effective_scenarios: tilt.as_ref().map(|t| t.effective_scenarios),
            }
        })
        .collect()
}

/// The figures a path is placed by for the medoids: where each market ended
/// (its terminal return or change), the share of time in each regime and each
/// event's firings, the scenario's drivers rather than their echoes in every
/// book.
pub fn medoid_columns(table: &PathTable) -> Vec<String> {
    table
        .columns
        .keys()
        .filter(|name| {
            let group = Group::of(name);
            (group == Group::Assets
                && (name.ends_with(".terminal_return") || name.ends_with(".terminal_change")))
                || (group == Group::Regimes && name.ends_with(".time_share"))
                || (group == Group::Events && name.ends_with(".firings"))
        })
        .cloned()
        .collect()
}

/// Up to `k` medoids of the breaching paths (PAM: a greedy build, then the
/// best swap while one lowers the weighted sum of distances), on their
/// `columns` standardised by the prior's standard deviation; over at most
/// [`MEDOID_SAMPLE`] breaching paths, evenly spaced in path order.
fn medoids(
    table: &PathTable,
    columns: &[String],
    values: &[f64],
    weights: &[f64],
    hit: &[bool],
    k: usize,
) -> Vec<Medoid> {
    let breaching: Vec<usize> = (0..hit.len()).filter(|&p| hit[p]).collect();
    let sample: Vec<usize> = if breaching.len() > MEDOID_SAMPLE {
        (0..MEDOID_SAMPLE)
            .map(|i| breaching[i * breaching.len() / MEDOID_SAMPLE])
            .collect()
    } else {
        breaching
    };
    let k = k.min(sample.len());
    if k == 0 {
        return Vec::new();
    }
    // Standardised coordinates; a column without spread or with a missing
    // value on a sampled path adds nothing to any distance.
    let mut coordinates = vec![0.0; sample.len() * columns.len()];
    let dims = columns.len();
    for (c, name) in columns.iter().enumerate() {
        let Ok(column) = table.column(name) else {
            continue;
        };
        let mean: f64 = column.iter().zip(weights).map(|(x, w)| x * w).sum();
        let sd = column
            .iter()
            .zip(weights)
            .map(|(x, w)| w * (x - mean) * (x - mean))
            .sum::<f64>()
            .sqrt();
        // NaN (a missing value) fails this too.
        let has_spread = sd > 0.0;
        if !has_spread {
            continue;
        }
        for (i, &p) in sample.iter().enumerate() {
            coordinates[i * dims + c] = (column[p] - mean) / sd;
        }
    }
    let n = sample.len();
    let mut distance = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..i {
            let d = (0..dims)
                .map(|c| {
                    let e = coordinates[i * dims + c] - coordinates[j * dims + c];
                    e * e
                })
                .sum::<f64>()
                .sqrt();
            distance[i * n + j] = d;
            distance[j * n + i] = d;
        }
    }
    let weight: Vec<f64> = sample.iter().map(|&p| weights[p]).collect();
    let chosen = pam(&distance, &weight, k);
    let mut share = vec![0.0; k];
    let mut members = vec![0; k];
    for (i, w) in weight.iter().enumerate() {
        let nearest = nearest_of(&distance, n, &chosen, i).0;
        share[nearest] += w;
        members[nearest] += 1;
    }
    let total: f64 = share.iter().sum();
    let mut found: Vec<Medoid> = chosen
        .iter()
        .enumerate()
        .map(|(m, &i)| {
            let path = sample[i];
            Medoid {
                path,
                share: share[m] / total,
                members: members[m],
                value: values[path],
                figures: columns
                    .iter()
                    .map(|c| table.column(c).map_or(f64::NAN, |v| v[path]))
                    .collect(),
            }
        })
        .collect();
    found.sort_by(|a, b| b.share.total_cmp(&a.share).then(a.path.cmp(&b.path)));
    found
}

/// The medoid (index into `chosen`) nearest to point `i`, its distance, and
/// the distance to the second nearest.
fn nearest_of(distance: &[f64], n: usize, chosen: &[usize], i: usize) -> (usize, f64, f64) {
    let (mut best, mut first, mut second) = (0, f64::INFINITY, f64::INFINITY);
    for (m, &c) in chosen.iter().enumerate() {
        let d = distance[i * n + c];
        if d < first {
            second = first;
            first = d;
            best = m;
        } else if d < second {
            second = d;
        }
    }
    (best, first, second)
}

/// Partitioning around medoids on a full distance matrix with point weights:
/// the indices of `k` medoids. Deterministic: ties keep the lowest index.
fn pam(distance: &[f64], weight: &[f64], k: usize) -> Vec<usize> {
    let n = weight.len();
    let mut chosen: Vec<usize> = Vec::with_capacity(k);
    let mut nearest = vec![f64::INFINITY; n];
    while chosen.len() < k {
        let mut best = (f64::INFINITY, usize::MAX);
        for h in (0..n).filter(|h| !chosen.contains(h)) {
            let cost: f64 = (0..n)
                .map(|o| weight[o] * nearest[o].min(distance[o * n + h]))
                .sum();
            if cost < best.0 {
                best = (cost, h);
            }
        }
        chosen.push(best.1);
        for (o, near) in nearest.iter_mut().enumerate() {
            *near = near.min(distance[o * n + best.1]);
        }
    }
    // The swap phase: the single best exchange of a medoid for a non-medoid,
    // while it lowers the cost; a cap keeps a pathological input finite.
    for _ in 0..100 {
        let near: Vec<(usize, f64, f64)> = (0..n)
            .map(|o| nearest_of(distance, n, &chosen, o))
            .collect();
        let mut best = (-1e-12, 0, 0);
        for h in (0..n).filter(|h| !chosen.contains(h)) {
            for m in 0..chosen.len() {
                let change: f64 = (0..n)
                    .map(|o| {
                        let (owner, first, second) = near[o];
                        let to_h = distance[o * n + h];
                        let now = if owner == m {
                            to_h.min(second)
                        } else {
                            to_h.min(first)
                        };
                        weight[o] * (now - first)
                    })
                    .sum();
                if change < best.0 {
                    best = (change, m, h);
                }
            }
        }
        if best.0 >= -1e-12 {
            break;
        }
        chosen[best.1] = best.2;
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(columns: &[(&str, Vec<f64>)]) -> PathTable {
        let n = columns[0].1.len();
        let names = columns.iter().map(|(c, _)| c.to_string()).collect();
        let mut t = PathTable::new(names, n);
        for (name, values) in columns {
            t.insert(name, values.clone());
        }
        t
    }

    #[test]
    fn equal_weights_give_the_binomial_error_and_plain_means() {
        let pnl: Vec<f64> = (0..100).map(|i| -0.5 + i as f64 / 100.0).collect();
        let other: Vec<f64> = (0..100).map(|i| (i % 7) as f64).collect();
        let t = table(&[("portfolio.a.pnl", pnl.clone()), ("x", other.clone())]);
        let r = reverse_stress(&t, &Breach::loss("portfolio.a", 0.3), Options::default()).unwrap();
        // Paths 0..=20 have pnl <= -0.30.
        assert_eq!(r.breaching, 21);
        let p: f64 = 0.21;
        assert!((r.probability - p).abs() < 1e-12);
        assert!((r.standard_error - (p * (1.0 - p) / 100.0_f64).sqrt()).abs() < 1e-12);
        let x = &r.common[0];
        let breach_mean = other[..21].iter().sum::<f64>() / 21.0;
        let all_mean = other.iter().sum::<f64>() / 100.0;
        assert!((x.breach_mean - breach_mean).abs() < 1e-12);
        assert!((x.all_mean - all_mean).abs() < 1e-12);
        // The conditional mean's error is the sample one, with the divisor n.
        let var = other[..21]
            .iter()
            .map(|v| (v - breach_mean).powi(2))
            .sum::<f64>()
            / 21.0;
        assert!((x.breach_se - (var / 21.0).sqrt()).abs() < 1e-12);
        assert!((r.effective_breaching - 21.0).abs() < 1e-9);
        assert!(!r.enough_paths);
    }

    #[test]
    fn a_prior_weights_every_figure() {
        // Doubling the weight of the breaching paths must match duplicating them.
        let pnl = vec![-0.4, -0.35, 0.1, 0.2, 0.0];
        let x = vec![1.0, 2.0, 3.0, 4.0, 5.0];
        let mut weighted = table(&[("portfolio.a.pnl", pnl.clone()), ("x", x.clone())]);
        weighted.prior = Some(vec![2.0, 2.0, 1.0, 1.0, 1.0]);
        let duplicated = table(&[
            ("portfolio.a.pnl", [pnl.clone(), pnl[..2].to_vec()].concat()),
            ("x", [x.clone(), x[..2].to_vec()].concat()),
        ]);
        let breach = Breach::loss("portfolio.a", 0.3);
        let a = reverse_stress(&weighted, &breach, Options::default()).unwrap();
        let b = reverse_stress(&duplicated, &breach, Options::default()).unwrap();
        assert!((a.probability - b.probability).abs() < 1e-12);
        assert!((a.common[0].breach_mean - b.common[0].breach_mean).abs() < 1e-12);
        assert!((a.common[0].all_mean - b.common[0].all_mean).abs() < 1e-12);
    }

    #[test]
    fn bad_input_names_the_range_or_the_nearest_name() {
        let t = table(&[("portfolio.us_60_40.pnl", vec![-0.1, 0.05, 0.2])]);
        let e = reverse_stress(
            &t,
            &Breach::loss("portfolio.us_60_40", 0.3),
            Options::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("largest loss any path makes is 10%"), "{e}");
        let e = book(&t, "portfolio", "us_6040").unwrap_err().to_string();
        assert!(e.contains("did you mean `us_60_40`"), "{e}");
        let e = book(&t, "strategy", "x").unwrap_err().to_string();
        assert!(e.contains("values no strategy"), "{e}");
        let e = reverse_stress(
            &t,
            &Breach::figure("spx.terminal_retrun", Side::AtMost, -0.2),
            Options::default(),
        )
        .unwrap_err();
        assert!(matches!(e, ReverseError::UnknownColumn(_)), "{e}");
        assert!(check_loss(-0.3).is_err() && check_loss(f64::NAN).is_err());
        let t = table(&[
            ("spx.terminal_return", vec![-0.1, 0.05, 0.2]),
            ("regime.calm.time_share", vec![0.1, 0.5, 0.9]),
        ]);
        let request = |target: Target, loss: Option<f64>, at_most: Option<f64>| Request {
            target,
            loss,
            on: Measure::Return,
            at_most,
            at_least: None,
        };
        let e = request(Target::Asset("sp".into()), Some(0.2), None)
            .breach(&t)
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean `spx`"), "{e}");
        let e = request(Target::Figure("regime.calm.time_share".into()), None, None)
            .breach(&t)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--at-most X or --at-least X"), "{e}");
        let e = request(
            Target::Figure("regime.calm.time_share".into()),
            Some(0.2),
            Some(0.1),
        )
        .breach(&t)
        .unwrap_err()
        .to_string();
        assert!(e.contains("--loss goes with"), "{e}");
        let e = request(
            Target::Figure("regime.calm.time_shar".into()),
            None,
            Some(0.1),
        )
        .breach(&t)
        .unwrap_err()
        .to_string();
        assert!(e.contains("did you mean `regime.calm.time_share`"), "{e}");
        let b = request(Target::Asset("spx".into()), Some(0.05), None)
            .breach(&t)
            .unwrap();
        assert_eq!(
            (b.column.as_str(), b.threshold),
            ("spx.terminal_return", -0.05)
        );
    }

    #[test]
    fn pam_finds_the_centres_of_separated_clusters() {
        // Two tight groups on a line: 0, 0.1, 0.2 and 10, 10.1, 10.2.
        let points: [f64; 6] = [0.0, 0.1, 0.2, 10.0, 10.1, 10.2];
        let n = points.len();
        let distance: Vec<f64> = (0..n * n)
            .map(|i| (points[i / n] - points[i % n]).abs())
            .collect();
        let mut chosen = pam(&distance, &[1.0; 6], 2);
        chosen.sort_unstable();
        assert_eq!(chosen, vec![1, 4]);
    }
}
