//! Fan charts: the 5/25/50/75/95th percentile bands of a level over the run's
//! calendar, with a few sample paths for the texture of single paths.

use chrono::NaiveDate;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::sample::padded;
use super::{
    colour, date_axis, date_tick_label, date_ticks, job, key_row, label_style, tick_style,
    with_title, DrawResult, Figure, Job, KeyMark, Meta, RunData, Scale, HEIGHT, WIDTH,
};
use crate::roles::display_name;

/// Sample paths drawn over the bands.
const SAMPLE_PATHS: usize = 5;
const BANDS: [f64; 5] = [0.05, 0.25, 0.50, 0.75, 0.95];

struct Fan {
    title: String,
    scale: Scale,
    unit: String,
    dates: Vec<NaiveDate>,
    /// Per date, the levels at [`BANDS`].
    bands: Vec<[f64; 5]>,
    samples: Vec<Vec<f64>>,
}

pub fn jobs(run: RunData<'_>) -> Vec<Job<'_>> {
    run.scenario
        .report
        .core_assets
        .iter()
        .filter_map(|name| run.asset_index(name))
        .map(|a| {
            let asset = &run.model.assets[a];
            let name = display_name(&asset.name).to_string();
            let title = format!("{name}: the range of outcomes");
            let meta = Meta {
                name: format!("fan_{}", asset.name),
                section: "Fan charts",
                title: title.clone(),
                caption: format!(
                    "{name} on each date: half of the paths lie in the dark band, nine in ten in the light one, and the thin lines are single paths."
                ),
            };
            let sim = run.simulation;
            let bands = (0..run.scenario.dates.len())
                .map(|t| BANDS.map(|p| asset.level(sim.fan.quantile(&sim.fan_grid, t, a, p))))
                .collect();
            let samples = (0..sim.samples.paths.min(SAMPLE_PATHS))
                .map(|p| (0..sim.samples.points).map(|t| sim.samples.level(p, t, a)).collect())
                .collect();
            let scale = run.scale(a);
            let unit = match scale {
                Scale::Decimal => "%".to_string(),
                Scale::VolPoints => "points".to_string(),
                _ => asset.unit.clone(),
            };
            job(
                meta,
                (WIDTH, HEIGHT),
                Fan {
                    title,
                    scale,
                    unit,
                    dates: run.scenario.dates.clone(),
                    bands,
                    samples,
                },
            )
        })
        .collect()
}

impl Figure for Fan {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let blue = colour(0);
        let grey = RGBColor(110, 110, 110);
        let area = with_title(root, &self.title)?;
        let area = key_row(
            &area,
            &[
                ("5th to 95th percentile", KeyMark::Fill(blue.mix(0.18))),
                ("25th to 75th percentile", KeyMark::Fill(blue.mix(0.38))),
                ("median", KeyMark::Line(colour(1).to_rgba(), 3)),
                ("sample paths", KeyMark::Line(grey.to_rgba(), 1)),
            ],
        )?;
        let (Some(first), Some(last)) = (self.dates.first(), self.dates.last()) else {
            return Ok(());
        };
        let values = self
            .bands
            .iter()
            .flat_map(|b| [b[0], b[4]])
            .chain(self.samples.iter().flatten().copied())
            .filter(|v| v.is_finite());
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        if !lo.is_finite() || !hi.is_finite() || lo > hi {
            return Ok(());
        }
        let (lo, hi) = padded(lo, hi);
        let ticks = date_ticks(*first, *last);
        let mut chart = ChartBuilder::on(&area)
            .margin(16)
            .x_label_area_size(56)
            .y_label_area_size(96)
            .build_cartesian_2d(date_axis(*first, *last, &ticks), lo..hi)?;
        let scale = &self.scale;
        chart
            .configure_mesh()
            .y_labels(8)
            .x_label_formatter(&|d: &NaiveDate| date_tick_label(d, &ticks))
            .y_label_formatter(&|v: &f64| scale.level_tick(*v, hi - lo))
            .x_desc("date")
            .y_desc(format!("level ({})", self.unit))
            .label_style(tick_style())
            .axis_desc_style(label_style())
            .max_light_lines(2)
            .light_line_style(BLACK.mix(0.04))
            .bold_line_style(BLACK.mix(0.12))
            .draw()?;
        let band = |i: usize, j: usize| -> Vec<(NaiveDate, f64)> {
            let upper = self.dates.iter().zip(&self.bands).map(|(d, b)| (*d, b[j]));
            let lower = self
                .dates
                .iter()
                .zip(&self.bands)
                .rev()
                .map(|(d, b)| (*d, b[i]));
            upper.chain(lower).collect()
        };
        chart.draw_series(std::iter::once(Polygon::new(
            band(0, 4),
            blue.mix(0.18).filled(),
        )))?;
        chart.draw_series(std::iter::once(Polygon::new(
            band(1, 3),
            blue.mix(0.38).filled(),
        )))?;
        for path in &self.samples {
            chart.draw_series(LineSeries::new(
                self.dates.iter().copied().zip(path.iter().copied()),
                colour(6).mix(0.45).stroke_width(1),
            ))?;
        }
        chart.draw_series(LineSeries::new(
            self.dates.iter().zip(&self.bands).map(|(d, b)| (*d, b[2])),
            colour(1).stroke_width(3),
        ))?;
        Ok(())
    }
}
