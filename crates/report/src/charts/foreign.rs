//! The foreign investor's view: the S&P 500's return over the horizon in euros
//! and in yen, unhedged and hedged, beside its return in dollars.

use super::histogram::{Panel, PanelGrid, Series};
use super::sample::padded;
use super::{colour, job, Job, Meta, RunData, Scale, HEIGHT, WIDTH};
use crate::roles::display_name;

const BINS: usize = 50;

pub fn jobs(run: RunData<'_>) -> Vec<Job<'_>> {
    let returns = |asset: &str| run.sample(&format!("{asset}.terminal_return"));
    let roles = &run.scenario.report;
    let Some(home) = returns(&roles.equity) else {
        return Vec::new();
    };
    let equity = display_name(&roles.equity);
    let mut medians = Vec::new();
    let panels: Vec<Panel> = roles
        .foreign_views
        .iter()
        .filter_map(|view| {
            let unhedged = returns(&view.unhedged)?;
            let hedged = returns(&view.hedged)?;
            let samples = [
                ("in USD".to_string(), &home),
                (format!("in {}, unhedged", view.currency), &unhedged),
                (format!("in {}, hedged", view.currency), &hedged),
            ];
            let lo = samples
                .iter()
                .map(|(_, s)| s.quantile(0.005))
                .fold(f64::INFINITY, f64::min);
            let hi = samples
                .iter()
                .map(|(_, s)| s.quantile(0.995))
                .fold(f64::NEG_INFINITY, f64::max);
            let (lo, hi) = padded(lo, hi);
            medians.push((
                view.currency.as_str(),
                unhedged.quantile(0.5),
                hedged.quantile(0.5),
            ));
            Some(Panel {
                title: format!("an investor in {}", view.currency),
                x_desc: "return over the horizon (%)".into(),
                y_desc: "share of paths (%)".into(),
                scale: Scale::Fraction,
                range: (lo, hi),
                series: samples
                    .iter()
                    .enumerate()
                    .map(|(i, (label, s))| {
                        Series::of(
                            format!("{label} (median {})", super::percent(s.quantile(0.5))),
                            colour([6, 1, 0][i]),
                            s,
                            (lo, hi),
                            BINS,
                        )
                    })
                    .collect(),
                markers: Vec::new(),
                legend: true,
            })
        })
        .collect();
    if panels.is_empty() {
        return Vec::new();
    }
    let gaps: Vec<String> = medians
        .iter()
        .map(|(c, u, h)| format!("{} in {c}", super::percent(h - u)))
        .collect();
    let title = format!("The {equity} as foreign investors see it");
    let meta = Meta {
        name: "foreign_investor".into(),
        section: "The foreign investor's view",
        title: title.clone(),
        caption: format!(
            "The {equity}'s return translated into the investor's currency: the gap between the unhedged and hedged curves is the currency's move net of hedging carry (hedging adds {} at the median).",
            gaps.join(" and ")
        ),
    };
    let figure = PanelGrid {
        title,
        panels,
        columns: 2,
    };
    vec![job(meta, (WIDTH, HEIGHT), figure)]
}
