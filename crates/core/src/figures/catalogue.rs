//! Every figure a run offers by name: the key numbers, statistics of every
//! asset's per-path figures, tails, regimes, events, the realism section's
//! figures and every portfolio's figures, each with its standard error.
//! Targets (`calibrate targets`), sweeps and sensitivities name figures from
//! this one catalogue.
//!
//! A portfolio's figures follow its assets' grammar under
//! `portfolio.NAME.`: `return.STAT` and `drawdown.STAT` (STAT is `mean`,
//! `sd` or `pNN`) of its P&L and its max drawdown, as fractions of its
//! starting value; `var95`, `es95`, `var99`, `es99` as its own VaR and ES
//! table computes them ([`risk::tail`]); `loss_prob.T` for each of its
//! `loss_thresholds` T (written with at least two decimals, `0.10`): the share
//! of paths losing more than T, as its loss table.
//!
//! A strategy (a portfolio with rules) has every one of these under
//! `strategy.NAME.` for the book followed by its rules (`portfolio.NAME.` is
//! its buy-and-hold twin), and besides: `excess.STAT`, the statistic of its
//! P&L minus the twin's path by path; `turnover.STAT`, `costs.STAT` and
//! `transitions.STAT` per path; `state.S.time_share.STAT`; and per rule R
//! `rule.R.probability_fired` and `rule.R.mean_firings`.

use serde::Serialize;

use crate::engine::Simulation;
use crate::figures::KeyNumbers;
use crate::history::{self, Realism, RealismFigure};
use crate::model::Model;
use crate::portfolio::{risk, Book};
use crate::scenario::Scenario;
use crate::stats::{percentile_sorted, PERCENTILES};

/// The statistic of a per-path figure a target names.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Stat {
    Mean,
    Sd,
    /// A quantile, as a fraction.
    Quantile(f64),
}

/// What a figure's name resolves to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Figure {
    /// A statistic of a per-path column (`spx.terminal_return`).
    Column {
        column: String,
        stat: Stat,
    },
    /// The share of paths with a value in the column (a regime ever entered).
    Entered {
        column: String,
    },
    /// The share of paths where the event fired at least once.
    Fired {
        column: String,
    },
    EquityDrawdown,
    DollarFall,
    JointSelloff,
    /// VaR (`es = false`) or ES of an asset's loss at `confidence`.
    Tail {
        asset: String,
        confidence: f64,
        es: bool,
    },
    /// A realism figure, by its name among [`realism_name`]s.
    Realism {
        name: String,
    },
    /// VaR (`es = false`) or ES of a portfolio's loss at `confidence`, from
    /// its P&L column as its risk table computes them.
    PortfolioTail {
        pnl: String,
        confidence: f64,
        es: bool,
    },
    /// The share of paths whose P&L column loses more than `threshold`.
    PortfolioLoss {
        pnl: String,
        threshold: f64,
    },
    /// A statistic of one column minus another, path by path.
    Excess {
        column: String,
        minus: String,
        stat: Stat,
    },
}

/// Prefix of every portfolio figure's name.
pub const PORTFOLIO_PREFIX: &str = "portfolio.";
/// Prefix of every strategy figure's name.
pub const STRATEGY_PREFIX: &str = "strategy.";

/// A strategy's figures that are statistics of one of its per-path columns.
const STRATEGY_COLUMNS: [&str; 3] = ["turnover", "costs", "transitions"];

/// The figures of a portfolio that are statistics of a per-path column, and
/// that column's metric (`portfolio.NAME.METRIC`).
const PORTFOLIO_FIGURES: [(&str, &str); 2] = [("return", "pnl"), ("drawdown", "max_drawdown")];

/// The confidence levels a tail figure's name may give, as written in it.
const TAIL_LEVELS: [(&str, f64); 2] = [("95", 0.95), ("99", 0.99)];

/// A loss threshold as a figure's name writes it: at least two decimals
/// (`0.10`), more where the threshold needs them (`0.025`).
pub fn threshold_name(threshold: f64) -> String {
    let short = format!("{threshold:.2}");
    if short.parse::<f64>() == Ok(threshold) {
        short
    } else {
        format!("{threshold}")
    }
}

/// `varNN` or `esNN` at one of [`TAIL_LEVELS`]: (whether ES, the confidence).
fn tail_of(name: &str) -> Option<(bool, f64)> {
    let (es, level) = match name.strip_prefix("var") {
        Some(level) => (false, level),
        None => (true, name.strip_prefix("es")?),
    };
    let (_, confidence) = TAIL_LEVELS.iter().find(|(l, _)| *l == level)?;
    Some((es, *confidence))
}

/// The portfolios named in `figures` (the second part of every
/// `portfolio.NAME.…`), in order, each once.
pub fn portfolios_named(figures: &[String]) -> Vec<String> {
    books_named(figures, PORTFOLIO_PREFIX)
}

/// The second part of every figure of `figures` under `prefix`, in order, each once.
fn books_named(figures: &[String], prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for figure in figures {
        if let Some(name) = figure
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('.').next())
        {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
    }
    names
}

/// What is wrong with the figure `name` that is not among `figures` (every
/// figure of the run): a portfolio the run does not have is named with the
/// portfolios it has; any other name gets the nearest valid one.
pub fn unknown_figure(name: &str, figures: &[String]) -> String {
    let books = [
        (
            STRATEGY_PREFIX,
            "strategy",
            "strategies",
            "this run has no strategy: a strategy is a portfolio file with [[rules]]",
            "",
        ),
        (
            PORTFOLIO_PREFIX,
            "portfolio",
            "portfolios",
            "this run has no portfolio",
            "; a portfolio comes from the scenario's [portfolios] or --portfolio FILE",
        ),
    ];
    for (prefix, what, plural, none, origin) in books {
        let Some(book) = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('.').next())
        else {
            continue;
        };
        let named = books_named(figures, prefix);
        if named.iter().any(|n| n == book) {
            continue;
        }
        let has = if named.is_empty() {
            none.to_string()
        } else {
            format!("this run's {plural}: {}", named.join(", "))
        };
        let hint = crate::scenario::load::nearest(book, &named)
            .map_or(String::new(), |best| format!("; did you mean `{best}`?"));
        return format!(
            "unknown figure `{name}`: no {what} `{book}` in this run ({has}{origin}){hint}"
        );
    }
    crate::scenario::load::unknown_name("figure", name, figures)
}

/// Whether any of `names` is a portfolio's figure, so the run must value its book.
pub fn names_a_portfolio(names: &[String]) -> bool {
    names
        .iter()
        .any(|n| n.starts_with(PORTFOLIO_PREFIX) || n.starts_with(STRATEGY_PREFIX))
}

/// The figures of an asset and the per-path column each is a statistic of.
pub(crate) fn asset_figures(is_log: bool) -> [(&'static str, &'static str); 8] {
    [
        (
            if is_log { "return" } else { "change" },
            if is_log {
                "terminal_return"
            } else {
                "terminal_change"
            },
        ),
        ("drawdown", "max_drawdown"),
        ("vol", "realized_vol"),
        ("level", "terminal_level"),
        ("min", "min"),
        ("max", "max"),
        ("worst_day", "worst_day"),
        ("best_day", "best_day"),
    ]
}

/// A realism figure's name: `realism.ASSET.LABEL`, the label in snake case
/// ("1y return p05" is `realism.spx.1y_return_p05`).
pub fn realism_name(figure: &RealismFigure) -> String {
    format!(
        "realism.{}.{}",
        figure.asset,
        super::snake_case(&figure.label)
    )
}

/// `pNN` (1 to 99) as a fraction.
pub(crate) fn quantile_of(stat: &str) -> Option<f64> {
    let digits = stat.strip_prefix('p')?;
    if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u32 = digits.parse().ok()?;
    (1..=99).contains(&n).then(|| f64::from(n) / 100.0)
}

/// Whether the scenario has the assets a key number is about (`[report]`'s
/// `equity` and `dollar`).
pub(crate) fn key_number_applies(key: &str, scenario: &Scenario) -> bool {
    let has = |name: &str| scenario.asset_index(name).is_some();
    match key {
        "p_equity_drawdown" => has(&scenario.report.equity),
        "p_dollar_fall" => has(&scenario.report.dollar),
        "p_joint_selloff" => has(&scenario.report.equity) && has(&scenario.report.dollar),
        _ => true,
    }
}

/// The figures a scenario offers for targets, by name.
pub(crate) struct Catalogue {
    /// Every name a message may suggest (percentiles at the summary's levels).
    pub(crate) names: Vec<String>,
    realism: Vec<String>,
    /// Each portfolio of the run's book and its loss thresholds.
    portfolios: Vec<(String, Vec<f64>)>,
    /// Each strategy: its name, loss thresholds, states and rules.
    strategies: Vec<StrategyNames>,
}

struct StrategyNames {
    name: String,
    thresholds: Vec<f64>,
    states: Vec<String>,
    rules: Vec<String>,
}

impl Catalogue {
    pub(crate) fn new(
        scenario: &Scenario,
        model: &Model,
        realism: &Realism,
        book: &Book,
    ) -> Catalogue {
        let mut names = Vec::new();
        for key in ["p_equity_drawdown", "p_dollar_fall", "p_joint_selloff"] {
            if key_number_applies(key, scenario) {
                names.push(key.to_string());
            }
        }
        let stats: Vec<String> = ["mean".to_string(), "sd".to_string()]
            .into_iter()
            .chain(PERCENTILES.iter().map(|p| format!("p{:02}", *p as u32)))
            .collect();
        for asset in &model.assets {
            for (figure, _) in asset_figures(asset.is_log) {
                for stat in &stats {
                    names.push(format!("{}.{figure}.{stat}", asset.name));
                }
            }
            if asset.is_log {
                for (level, _) in TAIL_LEVELS {
                    names.push(format!("{}.var{level}", asset.name));
                    names.push(format!("{}.es{level}", asset.name));
                }
            }
        }
        for regime in &scenario.regimes {
            names.push(format!("regime.{}.probability_entered", regime.name));
            for stat in &stats {
                names.push(format!("regime.{}.time_share.{stat}", regime.name));
            }
        }
        for event in &scenario.events {
            names.push(format!("event.{}.probability_fired", event.name));
            names.push(format!("event.{}.mean_firings", event.name));
        }
        // Records have no standard error to scale a miss by.
        let realism: Vec<String> = realism
            .figures
            .iter()
            .filter(|f| f.run_se.is_some())
            .map(realism_name)
            .collect();
        names.extend(realism.iter().cloned());
        let portfolios: Vec<(String, Vec<f64>)> = book
            .portfolios
            .iter()
            .map(|p| (p.name.clone(), p.loss_thresholds.clone()))
            .collect();
        let book_names = |prefix: &str, thresholds: &[f64], names: &mut Vec<String>| {
            for (figure, _) in PORTFOLIO_FIGURES {
                for stat in &stats {
                    names.push(format!("{prefix}.{figure}.{stat}"));
                }
            }
            for (level, _) in TAIL_LEVELS {
                names.push(format!("{prefix}.var{level}"));
                names.push(format!("{prefix}.es{level}"));
            }
            for t in thresholds {
                names.push(format!("{prefix}.loss_prob.{}", threshold_name(*t)));
            }
        };
        for (portfolio, thresholds) in &portfolios {
            book_names(
                &format!("{PORTFOLIO_PREFIX}{portfolio}"),
                thresholds,
                &mut names,
            );
        }
        let strategies: Vec<StrategyNames> = book
            .portfolios
            .iter()
            .filter_map(|p| {
                p.strategy.as_ref().map(|s| StrategyNames {
                    name: p.name.clone(),
                    thresholds: p.loss_thresholds.clone(),
                    states: s.states.iter().map(|x| x.name.clone()).collect(),
                    rules: s.rules.iter().map(|x| x.name.clone()).collect(),
                })
            })
            .collect();
        for strategy in &strategies {
            let prefix = format!("{STRATEGY_PREFIX}{}", strategy.name);
            book_names(&prefix, &strategy.thresholds, &mut names);
            for figure in std::iter::once("excess").chain(STRATEGY_COLUMNS) {
                for stat in &stats {
                    names.push(format!("{prefix}.{figure}.{stat}"));
                }
            }
            for state in &strategy.states {
                for stat in &stats {
                    names.push(format!("{prefix}.state.{state}.time_share.{stat}"));
                }
            }
            for rule in &strategy.rules {
                names.push(format!("{prefix}.rule.{rule}.probability_fired"));
                names.push(format!("{prefix}.rule.{rule}.mean_firings"));
            }
        }
        Catalogue {
            names,
            realism,
            portfolios,
            strategies,
        }
    }

    /// A strategy's figure, `rest` being the name after `strategy.`.
    fn resolve_strategy(&self, rest: &str, stat: impl Fn(&str) -> Option<Stat>) -> Option<Figure> {
        let (name, figure) = rest.split_once('.')?;
        let strategy = self.strategies.iter().find(|s| s.name == name)?;
        let column = |metric: &str| format!("{STRATEGY_PREFIX}{name}.{metric}");
        let parts: Vec<&str> = figure.split('.').collect();
        match parts.as_slice() {
            ["excess", s] => Some(Figure::Excess {
                column: column("pnl"),
                minus: format!("{PORTFOLIO_PREFIX}{name}.pnl"),
                stat: stat(s)?,
            }),
            [metric, s] if STRATEGY_COLUMNS.contains(metric) => Some(Figure::Column {
                column: column(metric),
                stat: stat(s)?,
            }),
            ["state", state, "time_share", s] if strategy.states.iter().any(|x| x == state) => {
                Some(Figure::Column {
                    column: column(&format!("state.{state}.time_share")),
                    stat: stat(s)?,
                })
            }
            ["rule", rule, what] if strategy.rules.iter().any(|x| x == rule) => {
                let firings = column(&format!("rule.{rule}.firings"));
                match *what {
                    "probability_fired" => Some(Figure::Fired { column: firings }),
                    "mean_firings" => Some(Figure::Column {
                        column: firings,
                        stat: Stat::Mean,
                    }),
                    _ => None,
                }
            }
            _ => book_figure(
                &format!("{STRATEGY_PREFIX}{name}"),
                &strategy.thresholds,
                figure,
                stat,
            ),
        }
    }

    /// A portfolio's figure, `rest` being the name after `portfolio.`.
    fn resolve_portfolio(&self, rest: &str, stat: impl Fn(&str) -> Option<Stat>) -> Option<Figure> {
        let (portfolio, figure) = rest.split_once('.')?;
        let (_, thresholds) = self.portfolios.iter().find(|(p, _)| p == portfolio)?;
        book_figure(
            &format!("{PORTFOLIO_PREFIX}{portfolio}"),
            thresholds,
            figure,
            stat,
        )
    }

    pub(crate) fn resolve(&self, name: &str, scenario: &Scenario, model: &Model) -> Option<Figure> {
        if name.starts_with("p_") && !key_number_applies(name, scenario) {
            return None;
        }
        match name {
            "p_equity_drawdown" => return Some(Figure::EquityDrawdown),
            "p_dollar_fall" => return Some(Figure::DollarFall),
            "p_joint_selloff" => return Some(Figure::JointSelloff),
            _ => {}
        }
        if name.starts_with("realism.") {
            return self
                .realism
                .iter()
                .any(|n| n == name)
                .then(|| Figure::Realism {
                    name: name.to_string(),
                });
        }
        let stat = |s: &str| match s {
            "mean" => Some(Stat::Mean),
            "sd" => Some(Stat::Sd),
            _ => quantile_of(s).map(Stat::Quantile),
        };
        if let Some(rest) = name.strip_prefix(PORTFOLIO_PREFIX) {
            return self.resolve_portfolio(rest, stat);
        }
        if let Some(rest) = name.strip_prefix(STRATEGY_PREFIX) {
            return self.resolve_strategy(rest, stat);
        }
        let parts: Vec<&str> = name.split('.').collect();
        match parts.as_slice() {
            ["regime", regime, "probability_entered"] => {
                scenario.regime_index(regime)?;
                Some(Figure::Entered {
                    column: format!("regime.{regime}.first_entry_years"),
                })
            }
            ["regime", regime, "time_share", s] => {
                scenario.regime_index(regime)?;
                Some(Figure::Column {
                    column: format!("regime.{regime}.time_share"),
                    stat: stat(s)?,
                })
            }
            ["event", event, what] => {
                scenario.events.iter().find(|e| e.name == *event)?;
                let column = format!("event.{event}.firings");
                match *what {
                    "probability_fired" => Some(Figure::Fired { column }),
                    "mean_firings" => Some(Figure::Column {
                        column,
                        stat: Stat::Mean,
                    }),
                    _ => None,
                }
            }
            [asset, tail] => {
                let a = model.assets.iter().find(|a| a.name == *asset && a.is_log)?;
                let (es, confidence) = tail_of(tail)?;
                Some(Figure::Tail {
                    asset: a.name.clone(),
                    confidence,
                    es,
                })
            }
            [asset, figure, s] => {
                let a = model.assets.iter().find(|a| a.name == *asset)?;
                let (_, column) = asset_figures(a.is_log)
                    .into_iter()
                    .find(|(f, _)| f == figure)?;
                Some(Figure::Column {
                    column: format!("{asset}.{column}"),
                    stat: stat(s)?,
                })
            }
            _ => None,
        }
    }
}

/// A book's figure under `prefix` (`portfolio.NAME` or `strategy.NAME`),
/// `figure` being the name after it.
fn book_figure(
    prefix: &str,
    thresholds: &[f64],
    figure: &str,
    stat: impl Fn(&str) -> Option<Stat>,
) -> Option<Figure> {
    let column = |metric: &str| format!("{prefix}.{metric}");
    if let Some(threshold) = figure.strip_prefix("loss_prob.") {
        let threshold = *thresholds
            .iter()
            .find(|t| threshold_name(**t) == threshold)?;
        return Some(Figure::PortfolioLoss {
            pnl: column("pnl"),
            threshold,
        });
    }
    if let Some((es, confidence)) = tail_of(figure) {
        return Some(Figure::PortfolioTail {
            pnl: column("pnl"),
            confidence,
            es,
        });
    }
    let (figure, s) = figure.split_once('.')?;
    let (_, metric) = PORTFOLIO_FIGURES.iter().find(|(f, _)| *f == figure)?;
    Some(Figure::Column {
        column: column(metric),
        stat: stat(s)?,
    })
}

/// A figure's value in a run and its standard error. As JSON, a value or
/// error that is not finite is null, and `note` says why.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    pub value: f64,
    pub se: f64,
}

pub(crate) fn sorted_column(simulation: &Simulation, column: &str) -> Vec<f64> {
    let mut values: Vec<f64> = simulation
        .column(column)
        .map(|c| c.filter(|v| !v.is_nan()).collect())
        .unwrap_or_default();
    values.sort_unstable_by(f64::total_cmp);
    values
}

/// Half the distance between the quantiles one binomial standard deviation
/// of the rank either side of `q`: the quantile's standard error from the
/// order statistics (as the realism section's), with no density to estimate.
pub(crate) fn quantile_se(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len() as f64;
    let spread = (q * (1.0 - q) / n).sqrt();
    (percentile_sorted(sorted, (q + spread).min(1.0))
        - percentile_sorted(sorted, (q - spread).max(0.0)))
        / 2.0
}

/// A share of `hits` in `n` paths; its standard error is the binomial one at
/// (hits + 1) / (n + 2), which stays positive when no path (or every path)
/// hits, so a miss at 0% is still scaled by something.
pub(crate) fn share(hits: usize, n: usize) -> Measured {
    let n = n.max(1) as f64;
    let smoothed = (hits as f64 + 1.0) / (n + 2.0);
    Measured {
        value: hits as f64 / n,
        se: (smoothed * (1.0 - smoothed) / n).sqrt(),
    }
}

pub(crate) fn statistic(sorted: &[f64], stat: Stat) -> Measured {
    let n = sorted.len() as f64;
    if sorted.is_empty() {
        return Measured {
            value: f64::NAN,
            se: f64::NAN,
        };
    }
    let mean = sorted.iter().sum::<f64>() / n;
    let sd =
        (sorted.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
    match stat {
        Stat::Mean => Measured {
            value: mean,
            se: sd / n.sqrt(),
        },
        // The normal theory's sd / sqrt(2 (n - 1)): heavy tails make it optimistic.
        Stat::Sd => Measured {
            value: sd,
            se: sd / (2.0 * (n - 1.0).max(1.0)).sqrt(),
        },
        Stat::Quantile(q) => Measured {
            value: percentile_sorted(sorted, q),
            se: quantile_se(sorted, q),
        },
    }
}

/// Losses (the values negated), smallest first, from values sorted smallest first.
fn sorted_losses(sorted: &[f64]) -> Vec<f64> {
    sorted.iter().rev().map(|v| -v).collect()
}

/// An expected shortfall at `confidence`: the mean of the `tail` (the
/// largest of `losses`) beyond `var`. Its error is the delta method's
/// ([`super::paired`]): the standard error of the mean of the per-path
/// influence `var + (L - var)^+ / (1 - a) - es`, which counts where the tail
/// starts as well as what is in it (the tail's own spread over its size
/// alone understates it by about a third for a normal tail). No error from a
/// tail of one path.
fn shortfall(losses: &[f64], tail: &[f64], var: f64, confidence: f64) -> Measured {
    let es = statistic(tail, Stat::Mean).value;
    let influence: Vec<f64> = losses
        .iter()
        .map(|l| var + (l - var).max(0.0) / (1.0 - confidence) - es)
        .collect();
    Measured {
        value: es,
        se: if tail.len() > 1 {
            super::paired::standard_error(&influence)
        } else {
            f64::NAN
        },
    }
}

impl Measured {
    /// Why the value or its standard error is not a number, in words.
    pub fn note(&self) -> Option<&'static str> {
        if !self.value.is_finite() {
            Some("no path of the run has this figure (as a regime never entered), so it has neither value nor standard error")
        } else if !self.se.is_finite() {
            Some("the standard error needs at least two paths where the figure is measured (an expected shortfall's tail holds one): raise the paths")
        } else {
            None
        }
    }
}

impl Serialize for Measured {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let note = self.note();
        let mut out = serializer.serialize_struct("Measured", 2 + usize::from(note.is_some()))?;
        out.serialize_field("value", &self.value.is_finite().then_some(self.value))?;
        out.serialize_field("se", &self.se.is_finite().then_some(self.se))?;
        if let Some(note) = note {
            out.serialize_field("note", note)?;
        }
        out.end()
    }
}

/// Every figure a run of `scenario` offers as a target (the names a targets
/// file may give: key numbers, statistics of every asset's per-path figures,
/// tails, regimes, events, the realism section's figures and the figures of
/// every portfolio of `book`, which the run valued), by name, with its
/// standard error.
pub fn measure_every_figure(
    scenario: &Scenario,
    model: &Model,
    book: &Book,
    simulation: &Simulation,
) -> Vec<(String, Measured)> {
    let realism = Realism::new(history::builtin(), model, simulation);
    let catalogue = Catalogue::new(scenario, model, &realism, book);
    let figures: Vec<Figure> = catalogue
        .names
        .iter()
        .map(|name| {
            catalogue
                .resolve(name, scenario, model)
                .expect("the catalogue resolves its own names")
        })
        .collect();
    let measured = measure_all(&figures, scenario, model, simulation, Some(realism));
    catalogue.names.into_iter().zip(measured).collect()
}

/// The figures named `names` in a run (NaN for a name the run does not have):
/// a sweep's later points are measured on its first point's names.
pub fn measure_named(
    names: &[String],
    scenario: &Scenario,
    model: &Model,
    book: &Book,
    simulation: &Simulation,
) -> Vec<Measured> {
    let realism = Realism::new(history::builtin(), model, simulation);
    let catalogue = Catalogue::new(scenario, model, &realism, book);
    let resolved: Vec<Option<Figure>> = names
        .iter()
        .map(|name| catalogue.resolve(name, scenario, model))
        .collect();
    let figures: Vec<Figure> = resolved.iter().flatten().cloned().collect();
    let mut measured =
        measure_all(&figures, scenario, model, simulation, Some(realism)).into_iter();
    resolved
        .iter()
        .map(|figure| match figure {
            Some(_) => measured.next().expect("one per resolved figure"),
            None => Measured {
                value: f64::NAN,
                se: f64::NAN,
            },
        })
        .collect()
}

/// Every figure of `figures` in one run; `realism` is computed here when a
/// figure needs it and none is given.
pub(crate) fn measure_all(
    figures: &[Figure],
    scenario: &Scenario,
    model: &Model,
    simulation: &Simulation,
    realism: Option<Realism>,
) -> Vec<Measured> {
    let needs_realism = figures.iter().any(|f| matches!(f, Figure::Realism { .. }));
    let realism = realism
        .or_else(|| needs_realism.then(|| Realism::new(history::builtin(), model, simulation)));
    // Each column sorted once however many of its statistics are asked for.
    let mut sorted: std::collections::HashMap<String, std::rc::Rc<Vec<f64>>> =
        std::collections::HashMap::new();
    let mut sorted_column = |simulation: &Simulation, column: &str| {
        sorted
            .entry(column.to_string())
            .or_insert_with(|| std::rc::Rc::new(sorted_column(simulation, column)))
            .clone()
    };
    let needs_keys = figures.iter().any(|f| {
        matches!(
            f,
            Figure::EquityDrawdown | Figure::DollarFall | Figure::JointSelloff
        )
    });
    let keys = needs_keys.then(|| KeyNumbers::new(&scenario.report, model, simulation));
    let n = simulation.paths as usize;
    let missing = Measured {
        value: f64::NAN,
        se: f64::NAN,
    };
    figures
        .iter()
        .map(|figure| match figure {
            Figure::Column { column, stat } => statistic(&sorted_column(simulation, column), *stat),
            Figure::Excess {
                column,
                minus,
                stat,
            } => {
                let mut differences: Vec<f64> =
                    match (simulation.column(column), simulation.column(minus)) {
                        (Some(a), Some(b)) => a
                            .zip(b)
                            .map(|(x, y)| x - y)
                            .filter(|d| !d.is_nan())
                            .collect(),
                        _ => Vec::new(),
                    };
                differences.sort_unstable_by(f64::total_cmp);
                statistic(&differences, *stat)
            }
            Figure::Entered { column } => share(sorted_column(simulation, column).len(), n),
            Figure::Fired { column } => share(
                simulation
                    .column(column)
                    .map_or(0, |c| c.filter(|v| *v > 0.0).count()),
                n,
            ),
            Figure::EquityDrawdown | Figure::DollarFall | Figure::JointSelloff => {
                let k = keys.as_ref().expect("computed above");
                let p = match figure {
                    Figure::EquityDrawdown => k.p_equity_drawdown,
                    Figure::DollarFall => k.p_dollar_fall,
                    _ => k.p_joint_selloff,
                };
                p.map_or(missing, |p| share((p * n as f64).round() as usize, n))
            }
            Figure::Tail {
                asset,
                confidence,
                es,
            } => {
                let losses = sorted_losses(&sorted_column(
                    simulation,
                    &format!("{asset}.terminal_return"),
                ));
                let var = percentile_sorted(&losses, *confidence);
                if !*es {
                    return Measured {
                        value: var,
                        se: quantile_se(&losses, *confidence),
                    };
                }
                let tail = &losses[losses.partition_point(|l| *l < var)..];
                shortfall(&losses, tail, var, *confidence)
            }
            Figure::PortfolioTail {
                pnl,
                confidence,
                es,
            } => {
                // Worst first already, so the risk table's tail is a prefix.
                let sorted = sorted_column(simulation, pnl);
                let order: Vec<usize> = (0..sorted.len()).collect();
                let tail = risk::tail(&sorted, &order, *confidence);
                let losses = sorted_losses(&sorted);
                if !*es {
                    return Measured {
                        value: tail.var,
                        se: quantile_se(&losses, *confidence),
                    };
                }
                let worst = &losses[losses.len() - tail.paths.len()..];
                Measured {
                    value: tail.es,
                    se: shortfall(&losses, worst, tail.var, *confidence).se,
                }
            }
            Figure::PortfolioLoss { pnl, threshold } => share(
                simulation
                    .column(pnl)
                    .map_or(0, |c| risk::losses_beyond(c, *threshold)),
                n,
            ),
            Figure::Realism { name } => realism
                .as_ref()
                .and_then(|r| r.figures.iter().find(|f| realism_name(f) == *name))
                .map_or(missing, |f| Measured {
                    value: f.run,
                    se: f.run_se.unwrap_or(f64::NAN),
                }),
        })
        .collect()
}
