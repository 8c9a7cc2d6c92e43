//! Realised volatility distributions of the core assets, one panel each.

use super::histogram::{Marker, Panel, PanelGrid, Series};
use super::{colour, job, Job, Meta, RunData, Scale, WIDTH};
use crate::roles::display_name;

const BINS: usize = 40;
const COLUMNS: usize = 3;
const PANEL_HEIGHT: u32 = 380;

pub fn jobs(run: RunData<'_>) -> Vec<Job<'_>> {
    let panels: Vec<Panel> = run
        .scenario
        .report
        .core_assets
        .iter()
        .filter_map(|name| {
            let a = run.asset_index(name)?;
            let sample = run.sample(&format!("{name}.realized_vol"))?;
            let scale = run.scale(a);
            let range = sample.display_range();
            let range = (range.0.max(0.0), range.1);
            let mean = sample.mean();
            let unit = match &scale {
                Scale::Fraction => "% a year".to_string(),
                Scale::Decimal => "pp a year".to_string(),
                Scale::VolPoints => "points a year".to_string(),
                Scale::Units(unit) => format!("{unit} a year"),
            };
            Some(Panel {
                title: display_name(name).to_string(),
                x_desc: format!("realised volatility ({unit})"),
                y_desc: "share of paths (%)".into(),
                range,
                series: vec![Series::of("paths".into(), colour(0), &sample, range, BINS)],
                markers: vec![Marker {
                    label: format!("mean {}", scale.change_label(mean)),
                    colour: colour(1),
                    x: mean,
                }],
                scale,
                legend: true,
            })
        })
        .collect();
    if panels.is_empty() {
        return Vec::new();
    }
    let title = "Realised volatility over the horizon".to_string();
    let meta = Meta {
        name: "volatility".into(),
        section: "Realised volatility",
        title: title.clone(),
        caption: "The annualised volatility of daily moves that each path lives through: a long right tail means stress regimes and crashes, not the average, set the risk.".into(),
    };
    let figure = PanelGrid {
        title,
        panels,
        columns: COLUMNS,
    };
    vec![job(meta, (WIDTH, figure.height(PANEL_HEIGHT)), figure)]
}
