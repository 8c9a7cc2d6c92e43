//! What each strategy did on the run's paths, against its buy-and-hold twin:
//! its own figures as a portfolio's, every figure's paired difference from
//! the twin with its standard error (and the error two independent runs
//! would have had), the time in each state and the share of paths in it at
//! every step, how often each rule fired and how early before the equity's
//! drawdown, its turnover and costs.

use std::sync::{Arc, OnceLock};

use rayon::prelude::*;
use serde::Serialize;

use crate::engine::Simulation;
use crate::figures::catalogue::share;
use crate::figures::paired::{
    book_figures, paired_difference_of, Columns, FigureSpec, Sample, Unit,
};
use crate::figures::Measured;
use crate::model::Model;
use crate::portfolio::strategy::Trading;
use crate::portfolio::{
    same_summary, summarise_book, Book, Portfolio, PortfolioSummary, PortfolioTracker,
};
use crate::scenario::Scenario;
use crate::stats::Distribution;

/// Everything the run says about one strategy.
#[derive(Debug, Clone, Serialize)]
pub struct StrategySummary {
    pub name: String,
    pub description: String,
    pub origin: String,
    pub sha256: String,
    pub trading: Trading,
    /// The book followed by its rules, summarised as a portfolio (columns
    /// `strategy.NAME.*`; the stress tests are its starting book's, as the twin's).
    pub book: PortfolioSummary,
    /// Each figure of the strategy beside its twin's (`portfolio.NAME.*`, the
    /// same book held without rules on the same paths) and their difference.
    pub versus_hold: Vec<VersusHold>,
    /// The strategy's P&L minus its twin's, path by path (fractions of the
    /// starting value).
    pub excess_return: Distribution,
    /// The share of paths on which the strategy ends ahead of its twin.
    pub ahead: Measured,
    pub states: Vec<StateSummary>,
    pub rules: Vec<RuleSummary>,
    /// Value traded and costs paid over the horizon, as fractions of the
    /// starting value, and the number of state changes, per path.
    pub turnover: Distribution,
    pub costs: Distribution,
    pub transitions: Distribution,
    /// The twin's, for comparison (it trades at its rebalancing dates).
    pub hold_turnover: Distribution,
    pub hold_costs: Distribution,
}

impl StrategySummary {
    /// Its figure `figure` (`es95`, `return.p05`: the name after
    /// `strategy.NAME.`) beside the twin's.
    pub fn versus(&self, figure: &str) -> Option<&VersusHold> {
        let prefix = format!("strategy.{}.", self.name);
        self.versus_hold
            .iter()
            .find(|v| v.name.strip_prefix(&prefix) == Some(figure))
    }
}

/// One figure of the strategy against its twin.
#[derive(Debug, Clone, Serialize)]
pub struct VersusHold {
    /// As the catalogue names the strategy's figure (`strategy.NAME.es95`).
    pub name: String,
    /// The twin's (`portfolio.NAME.es95`).
    pub hold_name: String,
    pub label: String,
    pub unit: Unit,
    pub strategy: Measured,
    pub hold: Measured,
    /// `strategy - hold`, with the standard error of the paired per-path
    /// differences...
    pub difference: f64,
    pub se: f64,
    /// ...and the one two independent runs of as many paths would give.
    pub independent_se: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StateSummary {
    pub name: String,
    pub description: String,
    /// The share of the horizon's steps spent in it, per path.
    pub time_share: Distribution,
    /// The share of paths that were ever in it.
    pub ever: f64,
    /// The share of paths in it during each step.
    pub share_by_step: Vec<f64>,
    /// Its target for each position of the portfolio, in the portfolio's
    /// order, the residual cash last.
    pub targets: Vec<StateTarget>,
}

/// What a state holds of one position.
#[derive(Debug, Clone, Serialize)]
pub struct StateTarget {
    pub position: String,
    /// The fraction of the book's value it holds (for an option overlay, the
    /// underlying notional covered).
    pub weight: f64,
    /// The share of its currency exposure sold forward into the base currency.
    pub hedge_ratio: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleSummary {
    pub name: String,
    pub description: String,
    pub from: Vec<String>,
    pub to: String,
    /// Its conditions in words.
    pub conditions: String,
    /// The share of paths on which it fired at least once, with its standard error.
    pub fired: Measured,
    pub mean_firings: f64,
    /// When it first fired (years from the start), over the paths where it did.
    pub first_years: Distribution,
    /// How its first firing stood against the equity's target drawdown (the
    /// signals' `target_drawdown`), when the scenario has signals.
    pub against_drawdown: Option<AgainstDrawdown>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgainstDrawdown {
    /// The equity's fall from its peak the signals are judged against.
    pub target_drawdown: f64,
    /// Paths that reached it.
    pub paths_with_drawdown: u64,
    /// Of those, the share on which the rule had fired before it.
    pub fired_before: f64,
    /// How long before it, in years, on those paths.
    pub lead_years: Distribution,
    /// Of the paths on which the rule fired, the share that never reached it.
    pub fired_without_drawdown: f64,
}

/// Summarises every strategy of `book` from the run's per-path columns and tallies.
pub fn summarise(
    scenario: &Scenario,
    model: &Model,
    book: &Book,
    simulation: &Simulation,
) -> Vec<StrategySummary> {
    let tracker = PortfolioTracker::new(scenario, model, &book.portfolios);
    let with_offsets: Vec<(&Portfolio, usize)> = book
        .portfolios
        .iter()
        .filter(|p| p.strategy.is_some())
        .zip(tracker.state_tally_offsets())
        .collect();
    // Variants of one playbook share their buy-and-hold twin: its columns are
    // the same numbers, so its figures' samples (and their sorts) are made once.
    let twin_of: Vec<usize> = with_offsets
        .iter()
        .map(|&(p, _)| {
            with_offsets
                .iter()
                .position(|&(q, _)| same_summary(p, q))
                .expect("a portfolio summarises as itself")
        })
        .collect();
    let twins: Vec<OnceLock<Vec<Arc<Sample>>>> =
        with_offsets.iter().map(|_| OnceLock::new()).collect();
    with_offsets
        .par_iter()
        .zip(&twin_of)
        .map(|(&(p, offset), &first)| {
            let hold = twins[first].get_or_init(|| {
                let twin = with_offsets[first].0;
                let figures =
                    book_figures(&format!("portfolio.{}", twin.name), &twin.loss_thresholds);
                samples_of(&figures, simulation)
            });
            summarise_one(scenario, model, book, p, simulation, offset, hold)
        })
        .collect()
}

/// Each figure's per-path values, one sample per distinct value: the figures
/// of a book reading its P&L share one sort.
fn samples_of(figures: &[FigureSpec], simulation: &Simulation) -> Vec<Arc<Sample>> {
    let columns = Columns::of(figures, simulation);
    let mut samples: Vec<Arc<Sample>> = Vec::with_capacity(figures.len());
    for (i, figure) in figures.iter().enumerate() {
        let sample = match figures[..i].iter().position(|f| f.value == figure.value) {
            Some(j) => Arc::clone(&samples[j]),
            None => Arc::new(Sample::new(figure.value.values(&columns))),
        };
        samples.push(sample);
    }
    samples
}

fn summarise_one(
    scenario: &Scenario,
    model: &Model,
    book: &Book,
    p: &Portfolio,
    simulation: &Simulation,
    tally_offset: usize,
    hold_samples: &[Arc<Sample>],
) -> StrategySummary {
    let strategy = p.strategy.as_ref().expect("only strategies are summarised");
    let own = format!("strategy.{}", p.name);
    let twin = format!("portfolio.{}", p.name);
    let column = |name: &str| -> Vec<f64> {
        simulation
            .column(name)
            .map(|c| c.collect())
            .unwrap_or_default()
    };
    let distribution = |values: &[f64]| Distribution::from_values(values.iter().copied());
    let paths = simulation.paths as usize;

    let own_figures = book_figures(&own, &p.loss_thresholds);
    let hold_figures = book_figures(&twin, &p.loss_thresholds);
    let own_samples = samples_of(&own_figures, simulation);
    let versus_hold = own_figures
        .iter()
        .zip(&hold_figures)
        .zip(own_samples.iter().zip(hold_samples))
        .map(|((mine, theirs), (x, y))| {
            let (paired, _) = paired_difference_of(mine.statistic, x, y);
            VersusHold {
                name: mine.name.clone(),
                hold_name: theirs.name.clone(),
                label: mine.label.clone(),
                unit: mine.unit,
                strategy: paired.first,
                hold: paired.second,
                difference: paired.difference,
                se: paired.se,
                independent_se: paired.independent_se,
            }
        })
        .collect();

    let pnl = column(&format!("{own}.pnl"));
    let hold_pnl = column(&format!("{twin}.pnl"));
    let excess: Vec<f64> = pnl.iter().zip(&hold_pnl).map(|(a, b)| a - b).collect();
    let ahead_count = excess.iter().filter(|d| **d > 0.0).count();
    // As the catalogue measures `rule.R.probability_fired`, with its error.
    let share = |count: usize| share(count, paths);

    let states_count = strategy.states.len();
    let states = strategy
        .states
        .iter()
        .enumerate()
        .map(|(s, state)| {
            let time = column(&format!("{own}.state.{}.time_share", state.name));
            let share_by_step = (0..model.steps)
                .map(|t| {
                    simulation
                        .tallies
                        .get(tally_offset + t * states_count + s)
                        .map_or(f64::NAN, |&c| c as f64 / paths.max(1) as f64)
                })
                .collect();
            StateSummary {
                name: state.name.clone(),
                description: state.description.clone(),
                ever: time.iter().filter(|x| **x > 0.0).count() as f64 / paths.max(1) as f64,
                time_share: distribution(&time),
                share_by_step,
                targets: p
                    .positions
                    .iter()
                    .zip(state.weights.iter().zip(&state.hedge_ratios))
                    .map(|(position, (&weight, &hedge_ratio))| StateTarget {
                        position: position.name.clone(),
                        weight,
                        hedge_ratio,
                    })
                    .collect(),
            }
        })
        .collect();

    let drawdown_years = scenario
        .signals
        .as_ref()
        .map(|s| (s.target_drawdown, column("signal.drawdown_years")));
    let rules = strategy
        .rules
        .iter()
        .map(|rule| {
            let firings = column(&format!("{own}.rule.{}.firings", rule.name));
            let first = column(&format!("{own}.rule.{}.first_years", rule.name));
            let fired_count = firings.iter().filter(|f| **f > 0.0).count();
            let against_drawdown = drawdown_years.as_ref().map(|(target, drawdown)| {
                let with_drawdown: Vec<usize> =
                    (0..paths).filter(|&i| !drawdown[i].is_nan()).collect();
                let leads: Vec<f64> = with_drawdown
                    .iter()
                    .filter(|&&i| first[i] < drawdown[i])
                    .map(|&i| drawdown[i] - first[i])
                    .collect();
                let fired_without = (0..paths)
                    .filter(|&i| !first[i].is_nan() && drawdown[i].is_nan())
                    .count();
                AgainstDrawdown {
                    target_drawdown: *target,
                    paths_with_drawdown: with_drawdown.len() as u64,
                    fired_before: leads.len() as f64 / with_drawdown.len().max(1) as f64,
                    lead_years: distribution(&leads),
                    fired_without_drawdown: fired_without as f64 / fired_count.max(1) as f64,
                }
            });
            RuleSummary {
                name: rule.name.clone(),
                description: rule.description.clone(),
                from: strategy
                    .states
                    .iter()
                    .enumerate()
                    .filter(|(s, _)| rule.acts_in(*s))
                    .map(|(_, state)| state.name.clone())
                    .collect(),
                to: strategy.states[rule.to].name.clone(),
                conditions: rule.text.clone(),
                fired: share(fired_count),
                mean_firings: firings.iter().sum::<f64>() / paths.max(1) as f64,
                first_years: distribution(&first),
                against_drawdown,
            }
        })
        .collect();

    StrategySummary {
        name: p.name.clone(),
        description: p.description.clone(),
        origin: p.origin.clone(),
        sha256: p.hash.clone(),
        trading: p.trading.unwrap_or_default(),
        book: summarise_book(scenario, model, &book.stresses, p, simulation, &own),
        versus_hold,
        excess_return: distribution(&excess),
        ahead: share(ahead_count),
        states,
        rules,
        turnover: distribution(&column(&format!("{own}.turnover"))),
        costs: distribution(&column(&format!("{own}.costs"))),
        transitions: distribution(&column(&format!("{own}.transitions"))),
        hold_turnover: distribution(&column(&format!("{twin}.turnover"))),
        hold_costs: distribution(&column(&format!("{twin}.costs"))),
    }
}
