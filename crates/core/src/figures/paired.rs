//! The figures an attribution compares, each as a statistic of one per-path
//! value, and their linearisation: every figure is a smooth function of the
//! run's empirical distribution, so its error is the mean of a per-path
//! *influence value*, and the error of a difference between two runs on the
//! same paths is the mean of the per-path differences of those values.
//!
//! For a statistic `T` of the distribution `F` of a per-path value `x`,
//! `T(F_n) - T(F) ≈ (1/n) Σ_i IF(x_i)` (the delta method for functionals;
//! Serfling 1980, ch. 6; van der Vaart 1998, ch. 20). The influence values:
//!
//! * a mean `m`: `IF(x) = x - m` (a probability is the mean of an indicator);
//! * the `p` quantile `q`: `IF(x) = s (p - 1{x <= q})`, with the sparsity
//!   `s = 1 / f(q)` estimated from the order statistics, `s ≈ (Q(p + h) -
//!   Q(p - h)) / 2h`, `h = sqrt(p (1 - p) / n)` (Bloch and Gastwirth 1968;
//!   the same spread the calibration's quantile standard errors read);
//! * VaR at `a` (the `a` quantile of the loss `L = -x`) likewise;
//! * ES at `a`, the mean loss beyond `v = VaR_a`: `IF(L) = v + (L - v)^+ /
//!   (1 - a) - ES` (no density needed).
//!
//! For the paired difference of two runs whose path `i` shares its random
//! streams, `d_i = IF_full(x_i) - IF_off(y_i)` and the standard error is
//! `sd(d) / sqrt(n)`: what the pairs share cancels path by path.

use std::sync::OnceLock;

use serde::Serialize;

use crate::engine::Simulation;
use crate::figures::catalogue::{threshold_name, PORTFOLIO_PREFIX};
use crate::figures::Measured;
use crate::portfolio::{risk, Book, Portfolio};
use crate::scenario::Scenario;
use crate::stats::{percentile_sorted, TailRisk};

/// The drawdown levels of the equity whose probabilities are compared
/// besides the key number's own: a 1987/2020-sized fall and a 2000-02/2008
/// one.
pub const DRAWDOWN_LEVELS: [f64; 2] = [0.34, 0.50];

/// How a figure is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A probability or a share, shown in percent (differences in
    /// percentage points).
    Share,
    /// A return or a loss as a fraction, shown in percent.
    Return,
    /// A change of a rate quoted as a decimal, shown in percentage points.
    RateChange,
}

impl Unit {
    /// As the CSV writes it.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Share => "share",
            Unit::Return => "return",
            Unit::RateChange => "rate_change",
        }
    }
}

/// The per-path value a figure is a statistic of.
#[derive(Debug, Clone, PartialEq)]
pub enum PathValue {
    /// A column of the per-path table.
    Column(String),
    /// 1 where the column is at least `threshold`, else 0.
    AtLeast { column: String, threshold: f64 },
    /// 1 where the column is at most `threshold`, else 0.
    AtMost { column: String, threshold: f64 },
    /// 1 where both hold.
    Both(Box<PathValue>, Box<PathValue>),
    /// 1 where the column (a P&L) loses more than `threshold`, else 0.
    LossBeyond { column: String, threshold: f64 },
}

impl PathValue {
    /// The columns it reads.
    pub fn columns(&self) -> Vec<&str> {
        match self {
            PathValue::Column(c)
            | PathValue::AtLeast { column: c, .. }
            | PathValue::AtMost { column: c, .. }
            | PathValue::LossBeyond { column: c, .. } => vec![c.as_str()],
            PathValue::Both(a, b) => {
                let mut columns = a.columns();
                columns.extend(b.columns());
                columns
            }
        }
    }

    /// Its value on every path, from the run's `columns` (as
    /// [`Columns::of`] kept them).
    pub fn values(&self, columns: &Columns) -> Vec<f64> {
        let column = |name: &str| columns.get(name);
        let indicator = |hit: bool| if hit { 1.0 } else { 0.0 };
        match self {
            PathValue::Column(c) => column(c).to_vec(),
            PathValue::AtLeast {
                column: c,
                threshold,
            } => column(c)
                .iter()
                .map(|v| indicator(*v >= *threshold))
                .collect(),
            PathValue::AtMost {
                column: c,
                threshold,
            } => column(c)
                .iter()
                .map(|v| indicator(*v <= *threshold))
                .collect(),
            PathValue::LossBeyond {
                column: c,
                threshold,
            } => column(c)
                .iter()
                .map(|v| indicator(risk::losses_beyond([*v], *threshold) == 1))
                .collect(),
            PathValue::Both(a, b) => a
                .values(columns)
                .iter()
                .zip(b.values(columns))
                .map(|(x, y)| indicator(*x > 0.5 && y > 0.5))
                .collect(),
        }
    }
}

/// The statistic of the per-path values a figure is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Statistic {
    Mean,
    /// The `p` quantile, linear between order statistics.
    Quantile(f64),
    /// VaR and ES of the loss `-x` at a confidence, as the report's key
    /// numbers compute them ([`TailRisk`]).
    ValueAtRisk(f64),
    ExpectedShortfall(f64),
    /// VaR and ES of a portfolio's P&L as its own table computes them (the
    /// worst `ceil((1 - a) n)` paths, [`risk::tail`]).
    PortfolioVar(f64),
    PortfolioEs(f64),
}

/// A figure an attribution compares.
#[derive(Debug, Clone, PartialEq)]
pub struct FigureSpec {
    /// As a targets file names it where it has a name there.
    pub name: String,
    /// A short description for tables and charts.
    pub label: String,
    pub unit: Unit,
    /// A key number: charted as a waterfall.
    pub key: bool,
    pub value: PathValue,
    pub statistic: Statistic,
}

/// The per-path columns of a run that the figures read, and nothing else.
#[derive(Debug, Clone, Default)]
pub struct Columns {
    names: Vec<String>,
    values: Vec<Vec<f64>>,
}

impl Columns {
    /// Copies the columns `figures` read out of `simulation` (a column the run
    /// lacks reads as NaN on every path).
    pub fn of(figures: &[FigureSpec], simulation: &Simulation) -> Columns {
        let mut columns = Columns::default();
        for name in figures.iter().flat_map(|f| f.value.columns()) {
            if columns.names.iter().any(|n| n == name) {
                continue;
            }
            let values = match simulation.column(name) {
                Some(c) => c.collect(),
                None => vec![f64::NAN; simulation.paths as usize],
            };
            columns.names.push(name.to_string());
            columns.values.push(values);
        }
        columns
    }

    fn get(&self, name: &str) -> &[f64] {
        self.names
            .iter()
            .position(|n| n == name)
            .map_or(&[], |i| &self.values[i])
    }
}

/// A figure's value in one run, and what its influence function needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Linearised {
    pub value: f64,
    influence: Influence,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Influence {
    Mean,
    /// `s (p - 1{x <= q})`; for a VaR the loss `-x` and `q` the VaR.
    Quantile {
        p: f64,
        at: f64,
        sparsity: f64,
        loss: bool,
    },
    /// `v + (L - v)^+ / (1 - a) - es` of the loss `L = -x`.
    Shortfall {
        a: f64,
        var: f64,
    },
}

/// A per-path value with its sort, made once for every figure that reads it
/// (a book's percentiles, VaRs and ESs all read its P&L) and shared by the
/// strategies whose buy-and-hold twins are the same book.
#[derive(Debug)]
pub struct Sample {
    values: Vec<f64>,
    ascending: OnceLock<Vec<f64>>,
}

impl Sample {
    pub fn new(values: Vec<f64>) -> Sample {
        Sample {
            values,
            ascending: OnceLock::new(),
        }
    }

    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The values in `f64::total_cmp` order, sorted on first use.
    fn ascending(&self) -> &[f64] {
        self.ascending.get_or_init(|| {
            let mut sorted = self.values.clone();
            sorted.sort_unstable_by(f64::total_cmp);
            sorted
        })
    }

    /// The losses `-x` in `total_cmp` order: negation reverses that order
    /// exactly, so this is the sort of the negated values, bit for bit.
    fn ascending_losses(&self) -> Vec<f64> {
        self.ascending().iter().rev().map(|v| -v).collect()
    }
}

impl Linearised {
    /// The figure `statistic` of `values` (one per path, none NaN for a
    /// finite result).
    pub fn new(statistic: Statistic, values: &[f64]) -> Linearised {
        Linearised::of(statistic, &Sample::new(values.to_vec()))
    }

    /// As [`Linearised::new`], reading the sample's sort if another figure
    /// has made it.
    pub fn of(statistic: Statistic, sample: &Sample) -> Linearised {
        let values = sample.values();
        let n = values.len();
        match statistic {
            Statistic::Mean => Linearised {
                value: values.iter().sum::<f64>() / n.max(1) as f64,
                influence: Influence::Mean,
            },
            Statistic::Quantile(p) => {
                let sorted = sample.ascending();
                let at = percentile_sorted(sorted, p);
                Linearised {
                    value: at,
                    influence: Influence::Quantile {
                        p,
                        at,
                        sparsity: sparsity(sorted, p),
                        loss: false,
                    },
                }
            }
            Statistic::ValueAtRisk(a) | Statistic::ExpectedShortfall(a) => {
                let losses = sample.ascending_losses();
                let tail = TailRisk::of_sorted_losses(&losses, a);
                if matches!(statistic, Statistic::ValueAtRisk(_)) {
                    Linearised {
                        value: tail.value_at_risk,
                        influence: Influence::Quantile {
                            p: a,
                            at: tail.value_at_risk,
                            sparsity: sparsity(&losses, a),
                            loss: true,
                        },
                    }
                } else {
                    Linearised {
                        value: tail.expected_shortfall,
                        influence: Influence::Shortfall {
                            a,
                            var: tail.value_at_risk,
                        },
                    }
                }
            }
            Statistic::PortfolioVar(a) | Statistic::PortfolioEs(a) => {
                let (var, es) = portfolio_tail(sample, a);
                if matches!(statistic, Statistic::PortfolioVar(_)) {
                    Linearised {
                        value: var,
                        influence: Influence::Quantile {
                            p: a,
                            at: var,
                            sparsity: sparsity(&sample.ascending_losses(), a),
                            loss: true,
                        },
                    }
                } else {
                    Linearised {
                        value: es,
                        influence: Influence::Shortfall { a, var },
                    }
                }
            }
        }
    }

    /// The influence value of a path whose per-path value is `x`: its mean
    /// over the run's paths is (close to) zero, and the figure's error is
    /// their sum over `n`.
    #[inline]
    pub fn influence(&self, x: f64) -> f64 {
        match self.influence {
            Influence::Mean => x - self.value,
            Influence::Quantile {
                p,
                at,
                sparsity,
                loss,
            } => {
                let x = if loss { -x } else { x };
                sparsity * (p - if x <= at { 1.0 } else { 0.0 })
            }
            Influence::Shortfall { a, var } => var + (-x - var).max(0.0) / (1.0 - a) - self.value,
        }
    }
}

/// `1 / f(q_p)` from the sorted sample: the spread of the quantiles one
/// binomial standard deviation of the rank either side of `p`, over the
/// width of that band.
fn sparsity(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len() as f64;
    let h = (p * (1.0 - p) / n).sqrt();
    let (low, high) = ((p - h).max(0.0), (p + h).min(1.0));
    if high <= low {
        return 0.0;
    }
    (percentile_sorted(sorted, high) - percentile_sorted(sorted, low)) / (high - low)
}

/// A book's VaR and ES at `level` as [`risk::tail`] reads them from the
/// paths ordered by [`risk::worst_first`]. Without NaNs that order's values are
/// the ascending sort's (ties are equal bit for bit), so the sort is shared;
/// NaNs go last there but not in `total_cmp`, so then the paths are ordered.
fn portfolio_tail(sample: &Sample, level: f64) -> (f64, f64) {
    let values = sample.values();
    if values.iter().any(|v| v.is_nan()) {
        let tail = risk::tail(values, &risk::worst_first(values), level);
        return (tail.var, tail.es);
    }
    risk::tail_of_ascending(sample.ascending(), level)
}

/// The sample standard deviation of `values` over `sqrt(n)`: the standard
/// error of their mean. Summed in index order, so it does not depend on how
/// the paths were scheduled.
pub fn standard_error(values: &[f64]) -> f64 {
    let n = values.len();
    if n < 2 {
        return f64::NAN;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let squares: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    (squares / (n - 1) as f64).sqrt() / (n as f64).sqrt()
}

/// A figure of two runs whose path `i` shares its random streams, and their
/// paired difference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairedDifference {
    /// The figure in each run, with its own standard error.
    pub first: Measured,
    pub second: Measured,
    /// `first - second`, with the standard error of the per-path differences
    /// of the influence values (what the pairs share cancels path by path)...
    pub difference: f64,
    pub se: f64,
    /// ...and the one two independent runs of as many paths would give.
    pub independent_se: f64,
}

/// The paired difference of `statistic` between `first[i]` and `second[i]`
/// (path `i`'s values in each run), and the per-path differences of their
/// influence values.
pub fn paired_difference(
    statistic: Statistic,
    first: &[f64],
    second: &[f64],
) -> (PairedDifference, Vec<f64>) {
    paired_difference_of(
        statistic,
        &Sample::new(first.to_vec()),
        &Sample::new(second.to_vec()),
    )
}

/// As [`paired_difference`], on samples whose sorts other figures share.
pub fn paired_difference_of(
    statistic: Statistic,
    first: &Sample,
    second: &Sample,
) -> (PairedDifference, Vec<f64>) {
    let (first_fit, second_fit) = (
        Linearised::of(statistic, first),
        Linearised::of(statistic, second),
    );
    let (first, second) = (first.values(), second.values());
    let (first_influence, second_influence): (Vec<f64>, Vec<f64>) = first
        .iter()
        .zip(second)
        .map(|(x, y)| (first_fit.influence(*x), second_fit.influence(*y)))
        .unzip();
    let differences: Vec<f64> = first_influence
        .iter()
        .zip(&second_influence)
        .map(|(a, b)| a - b)
        .collect();
    let (first_se, second_se) = (
        standard_error(&first_influence),
        standard_error(&second_influence),
    );
    let paired = PairedDifference {
        first: Measured {
            value: first_fit.value,
            se: first_se,
        },
        second: Measured {
            value: second_fit.value,
            se: second_se,
        },
        difference: first_fit.value - second_fit.value,
        se: standard_error(&differences),
        // Two independent runs of as many paths: their variances add.
        independent_se: first_se.hypot(second_se),
    };
    (paired, differences)
}

/// The figures compared for `scenario` (and the portfolios of `book`): the
/// key numbers, the equity's deeper drawdowns, the return figures of the
/// equity, the dollar and gold, the 10-year yield's change, the time in the
/// stress regime and each portfolio's tail and mean.
pub fn attribution_figures(scenario: &Scenario, book: &Book) -> Vec<FigureSpec> {
    let roles = &scenario.report;
    let log_asset = |name: &str| {
        scenario
            .asset_index(name)
            .filter(|&a| scenario.assets[a].is_log())
            .map(|_| name.to_string())
    };
    let mut figures = Vec::new();
    let mut push = |name: String, label: String, unit, key, value, statistic| {
        figures.push(FigureSpec {
            name,
            label,
            unit,
            key,
            value,
            statistic,
        })
    };
    let equity = log_asset(&roles.equity);
    let dollar = log_asset(&roles.dollar);
    let drawdown_hit = |equity: &str, threshold: f64| PathValue::AtLeast {
        column: format!("{equity}.max_drawdown"),
        threshold,
    };
    let dollar_hit = |dollar: &str| PathValue::AtMost {
        column: format!("{dollar}.terminal_return"),
        threshold: -roles.dollar_fall,
    };
    let pct = |v: f64| format!("{}%", (v * 100.0).round());
    if let Some(e) = &equity {
        push(
            "p_equity_drawdown".into(),
            format!("P({e} drawdown ≥ {})", pct(roles.equity_drawdown)),
            Unit::Share,
            true,
            drawdown_hit(e, roles.equity_drawdown),
            Statistic::Mean,
        );
    }
    if let Some(d) = &dollar {
        push(
            "p_dollar_fall".into(),
            format!("P({d} falls ≥ {})", pct(roles.dollar_fall)),
            Unit::Share,
            true,
            dollar_hit(d),
            Statistic::Mean,
        );
    }
    if let (Some(e), Some(d)) = (&equity, &dollar) {
        push(
            "p_joint_selloff".into(),
            "P(both: joint sell-off)".to_string(),
            Unit::Share,
            true,
            PathValue::Both(
                Box::new(drawdown_hit(e, roles.equity_drawdown)),
                Box::new(dollar_hit(d)),
            ),
            Statistic::Mean,
        );
    }
    if let Some(e) = &equity {
        for level in DRAWDOWN_LEVELS {
            push(
                format!("p_{e}_drawdown_{}", (level * 100.0).round()),
                format!("P({e} drawdown ≥ {})", pct(level)),
                Unit::Share,
                false,
                drawdown_hit(e, level),
                Statistic::Mean,
            );
        }
    }
    let mut assets: Vec<String> = Vec::new();
    for name in [equity.clone(), dollar.clone(), log_asset("gold")]
        .into_iter()
        .flatten()
    {
        if !assets.contains(&name) {
            assets.push(name);
        }
    }
    for a in &assets {
        let returns = || PathValue::Column(format!("{a}.terminal_return"));
        let each: [(&str, String, Statistic); 7] = [
            (
                "return.p50",
                "median return".into(),
                Statistic::Quantile(0.5),
            ),
            ("return.mean", "mean return".into(), Statistic::Mean),
            ("return.p05", "return p05".into(), Statistic::Quantile(0.05)),
            ("var95", "VaR 95%".into(), Statistic::ValueAtRisk(0.95)),
            ("es95", "ES 95%".into(), Statistic::ExpectedShortfall(0.95)),
            ("var99", "VaR 99%".into(), Statistic::ValueAtRisk(0.99)),
            ("es99", "ES 99%".into(), Statistic::ExpectedShortfall(0.99)),
        ];
        for (suffix, label, statistic) in each {
            push(
                format!("{a}.{suffix}"),
                format!("{a} {label}"),
                Unit::Return,
                false,
                returns(),
                statistic,
            );
        }
        push(
            format!("{a}.drawdown.mean"),
            format!("{a} mean max drawdown"),
            Unit::Return,
            false,
            PathValue::Column(format!("{a}.max_drawdown")),
            Statistic::Mean,
        );
    }
    if let Some(a) = scenario
        .asset_index("us10y")
        .filter(|&a| !scenario.assets[a].is_log())
    {
        let name = &scenario.assets[a].name;
        push(
            format!("{name}.change.mean"),
            format!("{name} mean change"),
            Unit::RateChange,
            false,
            PathValue::Column(format!("{name}.terminal_change")),
            Statistic::Mean,
        );
    }
    if scenario.regime_index(&roles.stress_regime).is_some() {
        let regime = &roles.stress_regime;
        push(
            format!("regime.{regime}.time_share.mean"),
            format!("time in {regime}"),
            Unit::Share,
            false,
            PathValue::Column(format!("regime.{regime}.time_share")),
            Statistic::Mean,
        );
    }
    // A strategy's figures follow its twin's: which mechanism makes the
    // playbook pay (or cost) is asked of both.
    let books = book.portfolios.iter().flat_map(|p| {
        std::iter::once(("portfolio", p, ""))
            .chain(p.strategy.as_ref().map(|_| ("strategy", p, " (rules)")))
    });
    for (kind, p, tag) in books {
        let pnl = || PathValue::Column(format!("{kind}.{}.pnl", p.name));
        for (suffix, label, statistic) in [
            ("var95", "VaR 95%", Statistic::PortfolioVar(0.95)),
            ("es95", "ES 95%", Statistic::PortfolioEs(0.95)),
            ("return.mean", "mean return", Statistic::Mean),
        ] {
            push(
                format!("{kind}.{}.{suffix}", p.name),
                format!("{}{tag} {label}", p.name),
                Unit::Return,
                false,
                pnl(),
                statistic,
            );
        }
    }
    figures
}

/// The figures of `portfolio` that a comparison of scenarios sets side by
/// side, named as the catalogue names them (`portfolio.NAME.es95`): its mean
/// and its 5th and 50th percentile return, VaR and ES at 95% and 99%, the
/// median and 95th percentile of its max drawdown and the probability of
/// each of its loss thresholds.
pub fn portfolio_figures(portfolio: &Portfolio) -> Vec<FigureSpec> {
    book_figures(
        &format!("{PORTFOLIO_PREFIX}{}", portfolio.name),
        &portfolio.loss_thresholds,
    )
}

/// [`portfolio_figures`] of the book whose columns start with `prefix`
/// (`portfolio.NAME` or a strategy's `strategy.NAME`).
pub fn book_figures(prefix: &str, loss_thresholds: &[f64]) -> Vec<FigureSpec> {
    let pnl = || PathValue::Column(format!("{prefix}.pnl"));
    let drawdown = || PathValue::Column(format!("{prefix}.max_drawdown"));
    let mut figures: Vec<FigureSpec> = [
        ("return.mean", "mean return", pnl(), Statistic::Mean),
        ("return.p05", "return p05", pnl(), Statistic::Quantile(0.05)),
        (
            "return.p50",
            "median return",
            pnl(),
            Statistic::Quantile(0.5),
        ),
        ("var95", "VaR 95%", pnl(), Statistic::PortfolioVar(0.95)),
        ("es95", "ES 95%", pnl(), Statistic::PortfolioEs(0.95)),
        ("var99", "VaR 99%", pnl(), Statistic::PortfolioVar(0.99)),
        ("es99", "ES 99%", pnl(), Statistic::PortfolioEs(0.99)),
        (
            "drawdown.p50",
            "median max drawdown",
            drawdown(),
            Statistic::Quantile(0.5),
        ),
        (
            "drawdown.p95",
            "max drawdown p95",
            drawdown(),
            Statistic::Quantile(0.95),
        ),
    ]
    .into_iter()
    .map(|(suffix, label, value, statistic)| FigureSpec {
        name: format!("{prefix}.{suffix}"),
        label: label.to_string(),
        unit: Unit::Return,
        key: false,
        value,
        statistic,
    })
    .collect();
    for &threshold in loss_thresholds {
        figures.push(FigureSpec {
            name: format!("{prefix}.loss_prob.{}", threshold_name(threshold)),
            label: format!("P(loss > {}%)", (threshold * 1000.0).round() / 10.0),
            unit: Unit::Share,
            key: false,
            value: PathValue::LossBeyond {
                column: format!("{prefix}.pnl"),
                threshold,
            },
            statistic: Statistic::Mean,
        });
    }
    figures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mean_s_influence_gives_the_usual_standard_error() {
        let values: Vec<f64> = (0..1000).map(|i| (i % 7) as f64).collect();
        let l = Linearised::new(Statistic::Mean, &values);
        let influence: Vec<f64> = values.iter().map(|x| l.influence(*x)).collect();
        let direct = standard_error(&values);
        assert!((standard_error(&influence) - direct).abs() < 1e-12);
    }

    #[test]
    fn a_quantile_s_influence_matches_the_order_statistics_spread() {
        // Uniform on [0, 1]: f = 1, so the median's standard error is
        // sqrt(0.25 / n).
        let n = 100_000;
        let values: Vec<f64> = (0..n).map(|i| (i as f64 + 0.5) / n as f64).collect();
        let l = Linearised::new(Statistic::Quantile(0.5), &values);
        assert!((l.value - 0.5).abs() < 1e-9);
        let influence: Vec<f64> = values.iter().map(|x| l.influence(*x)).collect();
        let se = standard_error(&influence);
        let expected = (0.25 / n as f64).sqrt();
        assert!((se / expected - 1.0).abs() < 0.01, "{se} vs {expected}");
    }

    #[test]
    fn the_shortfall_s_influence_averages_to_zero() {
        let n = 10_000;
        let values: Vec<f64> = (0..n).map(|i| (i as f64 + 0.5) / n as f64 - 0.5).collect();
        for statistic in [
            Statistic::ExpectedShortfall(0.95),
            Statistic::PortfolioEs(0.95),
        ] {
            let l = Linearised::new(statistic, &values);
            let mean = values.iter().map(|x| l.influence(*x)).sum::<f64>() / n as f64;
            assert!(mean.abs() < 1e-3, "{statistic:?}: {mean}");
            // Uniform losses on [-0.5, 0.5]: ES95 = 0.475.
            assert!((l.value - 0.475).abs() < 1e-3, "{statistic:?}: {}", l.value);
        }
    }

    #[test]
    fn a_book_s_tail_from_the_shared_sort_is_the_ordered_paths_one_bit_for_bit() {
        // Ties and signed zeros: the sort shared with the other figures must
        // give what the paths ordered worst first give, and the loss sort
        // must be the sort of the negated values.
        let values: Vec<f64> = (0..5000)
            .map(|i| match i % 97 {
                0 => -0.0,
                1 => 0.0,
                _ => {
                    (((i * 7919) % 1013) as f64 / 1013.0 - 0.5)
                        .mul_add(100.0, 0.0)
                        .round()
                        / 100.0
                }
            })
            .collect();
        let bits = |(a, b): (f64, f64)| (a.to_bits(), b.to_bits());
        let sample = Sample::new(values.clone());
        for level in [0.9, 0.95, 0.99, 0.999, 0.9999] {
            let tail = risk::tail(&values, &risk::worst_first(&values), level);
            assert_eq!(
                bits(portfolio_tail(&sample, level)),
                bits((tail.var, tail.es))
            );
        }
        let mut negated: Vec<f64> = values.iter().map(|v| -v).collect();
        negated.sort_unstable_by(f64::total_cmp);
        let losses = sample.ascending_losses();
        assert!(negated
            .iter()
            .zip(&losses)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
        // With a NaN the paths are ordered (NaN last), as before.
        let mut with_nan = values;
        with_nan[17] = f64::NAN;
        let tail = risk::tail(&with_nan, &risk::worst_first(&with_nan), 0.99);
        let sample = Sample::new(with_nan);
        assert_eq!(
            bits(portfolio_tail(&sample, 0.99)),
            bits((tail.var, tail.es))
        );
    }
}
