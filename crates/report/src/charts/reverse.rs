//! A reverse stress test's two charts: the severity-plausibility frontier, and
//! the representative breaching paths (medoids) over time.

use chrono::NaiveDate;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    colour, date_axis, date_tick_label, date_ticks, key_row, label_style, padded_span, percent,
    render, tick_style, with_title, Chart, ChartError, DrawResult, Figure, KeyMark, Meta, HEIGHT,
    WIDTH,
};

pub const SECTION: &str = "Reverse stress test";

/// Standard errors either side of the frontier's probabilities.
const BAND_SE: f64 = 1.96;

/// The frontier: at each severity, the breach's probability and the relative
/// entropy of the least implausible model in which it is the mean.
pub struct Frontier<'a> {
    /// What the severity axis shows ("loss of portfolio us_60_40").
    pub axis: String,
    /// Severity reads as a percentage (a loss, a drawdown, a return).
    pub fraction: bool,
    pub severity: &'a [f64],
    pub probability: &'a [f64],
    pub standard_error: &'a [f64],
    /// NaN where the tilt is not defined.
    pub relative_entropy: &'a [f64],
    /// The severity asked about, marked on both panels.
    pub asked: f64,
}

pub fn frontier(frontier: &Frontier<'_>) -> Result<Chart, ChartError> {
    let title = format!("Severity against plausibility: {}", frontier.axis);
    render(
        Meta {
            name: "reverse_stress_frontier".into(),
            section: SECTION,
            title: title.clone(),
            caption: "Above, the probability that a path is at least this severe (log scale, with ±1.96 standard errors); below, the relative entropy (in nats) of the exponential tilt of the run's paths that makes this severity the expected outcome: the least implausible model in which it is the mean. The dashed line marks the severity asked about.".into(),
        },
        (WIDTH, HEIGHT + 200),
        &FrontierDrawing { title, frontier },
    )
}

struct FrontierDrawing<'a, 'b> {
    title: String,
    frontier: &'b Frontier<'a>,
}

impl Figure for FrontierDrawing<'_, '_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let f = self.frontier;
        let area = with_title(root, &self.title)?;
        let has_entropy = f.relative_entropy.iter().any(|e| e.is_finite());
        let mut key = vec![
            ("probability", KeyMark::Line(colour(0).to_rgba(), 3)),
            ("±1.96 standard errors", KeyMark::Fill(colour(0).mix(0.2))),
        ];
        if has_entropy {
            key.push(("relative entropy", KeyMark::Line(colour(1).to_rgba(), 3)));
        }
        key.push(("asked", KeyMark::Line(BLACK.mix(0.6), 2)));
        let area = key_row(&area, &key)?;
        let split = if has_entropy {
            area.dim_in_pixel().1 * 3 / 5
        } else {
            area.dim_in_pixel().1
        };
        let (top, bottom) = area.split_vertically(split);
        let (x_lo, x_hi) = padded_span(0.05, f.severity.iter().copied().chain([f.asked]));
        let x_label = |v: &f64| {
            if f.fraction {
                percent(*v)
            } else {
                super::plain(*v)
            }
        };
        let positive: Vec<f64> = f
            .probability
            .iter()
            .zip(f.standard_error)
            .flat_map(|(p, s)| [p + BAND_SE * s, (p - BAND_SE * s).max(p / 10.0)])
            .filter(|v| *v > 0.0)
            .collect();
        let y_lo = positive.iter().copied().fold(1.0, f64::min) * 0.8;
        let y_hi = positive.iter().copied().fold(0.0, f64::max).min(1.0) * 1.25;
        let mut chart = ChartBuilder::on(&top)
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(110)
            .build_cartesian_2d(x_lo..x_hi, (y_lo.max(1e-12)..y_hi.max(1e-11)).log_scale())?;
        chart
            .configure_mesh()
            .x_labels(7)
            .y_labels(6)
            .x_label_formatter(&x_label)
            .y_label_formatter(&|v: &f64| format!("{:.2}%", v * 100.0))
            .x_desc(if has_entropy { "" } else { f.axis.as_str() })
            .y_desc("probability")
            .label_style(tick_style())
            .axis_desc_style(label_style())
            .light_line_style(TRANSPARENT)
            .bold_line_style(BLACK.mix(0.1))
            .draw()?;
        let floor = y_lo.max(1e-12);
        let upper = f
            .severity
            .iter()
            .zip(f.probability.iter().zip(f.standard_error))
            .map(|(x, (p, s))| (*x, (p + BAND_SE * s).max(floor)));
        let lower = f
            .severity
            .iter()
            .zip(f.probability.iter().zip(f.standard_error))
            .map(|(x, (p, s))| (*x, (p - BAND_SE * s).max(floor)));
        let polygon: Vec<(f64, f64)> = upper
            .chain(lower.collect::<Vec<_>>().into_iter().rev())
            .collect();
        chart.draw_series(std::iter::once(Polygon::new(
            polygon,
            colour(0).mix(0.2).filled(),
        )))?;
        let points: Vec<(f64, f64)> = f
            .severity
            .iter()
            .zip(f.probability)
            .filter(|(_, p)| **p > 0.0)
            .map(|(x, p)| (*x, *p))
            .collect();
        chart.draw_series(LineSeries::new(points.clone(), colour(0).stroke_width(3)))?;
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 4, colour(0).filled())),
        )?;
        chart.draw_series(DashedLineSeries::new(
            [(f.asked, floor), (f.asked, y_hi.max(1e-11))],
            8,
            6,
            BLACK.mix(0.6).stroke_width(2),
        ))?;
        if !has_entropy {
            return Ok(());
        }
        let (e_lo, e_hi) = padded_span(0.05, f.relative_entropy.iter().copied().chain([0.0]));
        let mut chart = ChartBuilder::on(&bottom)
            .margin(16)
            .x_label_area_size(56)
            .y_label_area_size(110)
            .build_cartesian_2d(x_lo..x_hi, e_lo.min(0.0)..e_hi)?;
        chart
            .configure_mesh()
            .x_labels(7)
            .y_labels(5)
            .x_label_formatter(&x_label)
            .y_label_formatter(&|v: &f64| super::plain(*v))
            .x_desc(f.axis.as_str())
            .y_desc("relative entropy (nats)")
            .label_style(tick_style())
            .axis_desc_style(label_style())
            .light_line_style(TRANSPARENT)
            .bold_line_style(BLACK.mix(0.1))
            .draw()?;
        let points: Vec<(f64, f64)> = f
            .severity
            .iter()
            .zip(f.relative_entropy)
            .filter(|(_, e)| e.is_finite())
            .map(|(x, e)| (*x, *e))
            .collect();
        chart.draw_series(LineSeries::new(points.clone(), colour(1).stroke_width(3)))?;
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 4, colour(1).filled())),
        )?;
        chart.draw_series(DashedLineSeries::new(
            [(f.asked, e_lo.min(0.0)), (f.asked, e_hi)],
            8,
            6,
            BLACK.mix(0.6).stroke_width(2),
        ))?;
        Ok(())
    }
}

/// The medoids' paths: one panel per series (a market or the book), each a
/// line per medoid, as the change from the start.
pub struct MedoidPaths<'a> {
    pub dates: &'a [NaiveDate],
    /// Per panel: its title and, per medoid, the change from the start at
    /// every date.
    pub panels: &'a [(String, Vec<Vec<f64>>)],
    /// Per medoid: its label in the key ("path 1234, 31% of breaches").
    pub labels: &'a [String],
}

pub fn medoid_paths(paths: &MedoidPaths<'_>) -> Result<Chart, ChartError> {
    let title = "Representative breaching paths (medoids)".to_string();
    let panels = paths.panels.len().max(1) as u32;
    render(
        Meta {
            name: "reverse_stress_medoids".into(),
            section: SECTION,
            title: title.clone(),
            caption: "Each line is one medoid: an actual path of the run, re-simulated from its seed, that stands for the breaching paths nearest to it (in their markets' ends, time in each regime and events). Each panel shows the change from the start.".into(),
        },
        (WIDTH, 140 + 300 * panels),
        &MedoidDrawing { title, paths },
    )
}

struct MedoidDrawing<'a, 'b> {
    title: String,
    paths: &'b MedoidPaths<'a>,
}

impl Figure for MedoidDrawing<'_, '_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let p = self.paths;
        let area = with_title(root, &self.title)?;
        let key: Vec<(&str, KeyMark)> = p
            .labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.as_str(), KeyMark::Line(colour(i).to_rgba(), 3)))
            .collect();
        let area = key_row(&area, &key)?;
        let (Some(first), Some(last)) = (p.dates.first(), p.dates.last()) else {
            return Ok(());
        };
        let ticks = date_ticks(*first, *last);
        let rows = area.split_evenly((p.panels.len().max(1), 1));
        for ((name, lines), row) in p.panels.iter().zip(rows) {
            let (lo, hi) = padded_span(0.05, lines.iter().flatten().copied().chain([0.0]));
            let mut chart = ChartBuilder::on(&row)
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(96)
                .caption(name, label_style())
                .build_cartesian_2d(date_axis(*first, *last, &ticks), lo..hi)?;
            chart
                .configure_mesh()
                .y_labels(5)
                .x_label_formatter(&|d: &NaiveDate| date_tick_label(d, &ticks))
                .y_label_formatter(&|v: &f64| percent(if v.abs() < 1e-9 { 0.0 } else { *v }))
                .label_style(tick_style())
                .axis_desc_style(label_style())
                .light_line_style(TRANSPARENT)
                .bold_line_style(BLACK.mix(0.1))
                .draw()?;
            for (i, line) in lines.iter().enumerate() {
                chart.draw_series(LineSeries::new(
                    p.dates.iter().copied().zip(line.iter().copied()),
                    colour(i).stroke_width(2),
                ))?;
            }
        }
        Ok(())
    }
}
