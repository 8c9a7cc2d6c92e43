//! Realised volatility distributions of the core assets, one panel each.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::histogram::{grid, rows, Marker, Panel, Series};
use super::{colour, job, with_title, DrawResult, Figure, Job, Meta, RunData, Scale, WIDTH};
use crate::report::roles::display_name;

const BINS: usize = 40;
const COLUMNS: usize = 3;
const PANEL_HEIGHT: u32 = 380;

struct Volatility {
    title: String,
    panels: Vec<Panel>,
}

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
                Scale::Units(unit) => format!("{unit} a year"),
            };
            Some(Panel {
                title: display_name(name).to_string(),
                x_desc: format!("realised volatility ({unit})"),
                y_desc: "share of paths (%)".into(),
                range,
                series: vec![Series {
                    label: "paths".into(),
                    colour: colour(0),
                    bins: sample.histogram(range.0, range.1, BINS),
                }],
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
    let height = 70 + PANEL_HEIGHT * rows(panels.len(), COLUMNS);
    let title = "Realised volatility over the horizon".to_string();
    let meta = Meta {
        name: "volatility".into(),
        section: "Realised volatility",
        title: title.clone(),
        caption: "The annualised volatility of daily moves that each path lives through: a long right tail means stress regimes and crashes, not the average, set the risk.".into(),
    };
    vec![job(meta, (WIDTH, height), Volatility { title, panels })]
}

impl Figure for Volatility {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let area = with_title(root, &self.title)?;
        for (panel, cell) in self
            .panels
            .iter()
            .zip(grid(&area, self.panels.len(), COLUMNS))
        {
            panel.draw(&cell)?;
        }
        Ok(())
    }
}
