//! The strategies' section: per strategy, its P&L beside its buy-and-hold
//! twin's (distribution functions from their 101 quantiles), and the share
//! of paths in each of its states on every date.

use chrono::NaiveDate;

use super::drawdown::{Cdf, Overlay};
use super::portfolios::{quantile_curve, quantile_span};
use super::regimes::Occupancy;
use super::sample::padded;
use super::{colour, job, percent, Job, Meta, RunData, Scale, HEIGHT, WIDTH};

/// The page section the strategy charts and tables go under.
pub const SECTION: &str = "Strategies";

pub fn jobs(run: RunData<'_>) -> Vec<Job<'_>> {
    let mut jobs = Vec::new();
    let dates: Vec<NaiveDate> = run.scenario.dates[..run.scenario.steps()].to_vec();
    for s in &run.summary.strategies {
        let Some(hold) = run.summary.portfolios.iter().find(|p| p.name == s.name) else {
            continue;
        };
        let own = s.book.pnl_quantiles.as_slice();
        let twin = hold.pnl_quantiles.as_slice();
        let (lo, hi) = quantile_span(&[own, twin]);
        let title = format!("{}: profit and loss, rules against buy and hold", s.name);
        jobs.push(job(
            Meta {
                name: format!("strategy_pnl_{}", s.name),
                section: SECTION,
                title: title.clone(),
                caption: format!(
                    "The share of paths on which {} ends the horizon at or below each gain or loss, following its rules and holding its book as written, on the same paths: where the rules' curve lies right of the other's, they left the book better off at that point of the distribution. It ends ahead on {} of paths.",
                    s.name,
                    percent(s.ahead.value)
                ),
            },
            (WIDTH, HEIGHT),
            Overlay {
                title,
                cdf: Cdf {
                    x_desc: format!(
                        "P&L, share of the starting value in {} (%)",
                        s.book.base_currency
                    ),
                    scale: Scale::Fraction,
                    range: padded(lo, hi),
                    curves: vec![
                        quantile_curve("with its rules".into(), colour(1), own),
                        quantile_curve("buy and hold".into(), colour(0), twin),
                    ],
                    markers: Vec::new(),
                },
            },
        ));
        let title = format!("{}: which state the book is in, date by date", s.name);
        jobs.push(job(
            Meta {
                name: format!("strategy_states_{}", s.name),
                section: SECTION,
                title: title.clone(),
                caption: format!(
                    "The share of paths on which {} holds each of its states on every date: when its rules tend to move the book, and how much of the run it spends away from the book as written.",
                    s.name
                ),
            },
            (WIDTH, HEIGHT),
            Occupancy {
                title,
                dates: dates.clone(),
                shares: s
                    .states
                    .iter()
                    .map(|st| (st.name.clone(), st.share_by_step.clone()))
                    .collect(),
            },
        ));
    }
    jobs
}
