//! The realised correlation of the equity index and the dollar, split by regime:
//! positive in a sell-off of US assets, negative when the dollar is a haven.

use super::histogram::{Marker, Panel, PanelGrid, Series};
use super::{colour, job, Job, Meta, RunData, Scale, WIDTH};
use crate::roles::display_name;

const BINS: usize = 40;
const COLUMNS: usize = 3;
const PANEL_HEIGHT: u32 = 360;

pub fn jobs(run: RunData<'_>) -> Vec<Job<'_>> {
    let roles = &run.scenario.report;
    let pair = format!("corr.{}.{}", roles.equity, roles.dollar);
    let mut columns = vec![("whole path".to_string(), pair.clone())];
    for regime in &run.model.regime_names {
        columns.push((regime.clone(), format!("{pair}.{regime}")));
    }
    let panels: Vec<Panel> = columns
        .into_iter()
        .enumerate()
        .filter_map(|(i, (label, column))| {
            let sample = run.sample(&column)?;
            let mean = sample.mean();
            let share = sample.sorted.len() as f64 / sample.paths as f64;
            let mut bins = sample.histogram(-1.0, 1.0, BINS);
            // Within the paths that have a value, so rarely visited regimes show their shape.
            for bin in &mut bins {
                bin.share /= share;
            }
            Some(Panel {
                title: if i == 0 {
                    format!("whole path: mean {mean:+.2}")
                } else {
                    format!("{label}: mean {mean:+.2} ({:.0}% of paths)", share * 100.0)
                },
                x_desc: "correlation of daily moves".into(),
                y_desc: "share of those paths (%)".into(),
                scale: Scale::Units("correlation".into()),
                range: (-1.0, 1.0),
                series: vec![Series {
                    label: label.clone(),
                    colour: colour(if i == 0 { 6 } else { i - 1 }),
                    bins,
                    // Correlations lie in [-1, 1], the panel's whole range.
                    outside: (0.0, 0.0),
                }],
                markers: vec![Marker {
                    label: format!("mean {mean:+.2}"),
                    colour: colour(1),
                    x: mean,
                }],
                legend: false,
            })
        })
        .collect();
    if panels.len() < 2 {
        return Vec::new();
    }
    let (equity, dollar) = (display_name(&roles.equity), display_name(&roles.dollar));
    let title = format!("{equity} and {dollar}: realised correlation by regime");
    let meta = Meta {
        name: "correlation_by_regime".into(),
        section: "Equities and the dollar",
        title: title.clone(),
        caption: format!(
            "Per path, the correlation of daily {equity} and {dollar} moves over the days spent in each regime: where it turns positive, the dollar falls with equities instead of cushioning them."
        ),
    };
    let figure = PanelGrid {
        title,
        panels,
        columns: COLUMNS,
    };
    vec![job(meta, (WIDTH, figure.height(PANEL_HEIGHT)), figure)]
}
