//! Early-warning signals: when each first fires against when the target drawdown
//! happens, and how long before the drawdown the hits came.

use chrono::NaiveDate;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::sample::{padded, Sample};
use super::{
    colour, date_axis, date_tick_label, date_ticks, draw_legend, job, label_style, legend_line,
    percent, tick_style, with_title, DrawResult, Figure, Job, Meta, RunData, HEIGHT, WIDTH,
};
use crate::roles::display_name;
use stormglass_core::scenario::calendar::TRADING_DAYS_PER_YEAR;

struct Firing {
    title: String,
    dates: Vec<NaiveDate>,
    /// Per signal (then the drawdown), the share of all paths fired by each date.
    curves: Vec<(String, RGBColor, u32, Vec<f64>)>,
}

struct LeadTime {
    title: String,
    /// Per signal with hits: name and lead times in trading days (p10, p25, p50, p75, p90).
    rows: Vec<(String, [f64; 5])>,
}

pub fn jobs(run: RunData<'_>) -> Vec<Job<'_>> {
    let summary = run.summary;
    let Some(target) = &summary.signal_target else {
        return Vec::new();
    };
    if summary.signals.is_empty() {
        return Vec::new();
    }
    let dates = run.scenario.dates.clone();
    let steps = run.scenario.steps();
    let cumulative = |sample: &Sample| -> Vec<f64> {
        let mut counts = vec![0u64; steps + 1];
        for years in &sample.sorted {
            let step = ((years * TRADING_DAYS_PER_YEAR).round().max(0.0) as usize).min(steps);
            counts[step] += 1;
        }
        let mut total = 0;
        counts
            .iter()
            .map(|c| {
                total += c;
                total as f64 / sample.paths as f64
            })
            .collect()
    };
    let mut curves = Vec::new();
    for (i, signal) in summary.signals.iter().enumerate() {
        if let Some(sample) = run.sample(&format!("signal.{}.first_years", signal.name)) {
            curves.push((
                signal.name.to_uppercase(),
                colour(i),
                2,
                cumulative(&sample),
            ));
        }
    }
    let drawdown = format!(
        "{:.0}% {} drawdown",
        target.target_drawdown * 100.0,
        display_name(&target.equity)
    );
    if let Some(sample) = run.sample("signal.drawdown_years") {
        curves.push((drawdown.clone(), colour(6), 4, cumulative(&sample)));
    }
    let mut jobs = Vec::new();
    if !curves.is_empty() {
        let title = "When the signals first fire".to_string();
        jobs.push(job(
            Meta {
                name: "signal_firing".into(),
                section: "Signals",
                title: title.clone(),
                caption: format!(
                    "The share of paths on which each signal has fired by each date, beside the share that has had the {drawdown}: a useful signal rises before the black line, not with it."
                ),
            },
            (WIDTH, HEIGHT),
            Firing {
                title,
                dates,
                curves,
            },
        ));
    }
    let rows: Vec<(String, [f64; 5])> = summary
        .signals
        .iter()
        .filter_map(|signal| {
            let sample = run.sample(&format!("signal.{}.lead_years", signal.name))?;
            let days =
                [0.10, 0.25, 0.50, 0.75, 0.90].map(|p| sample.quantile(p) * TRADING_DAYS_PER_YEAR);
            Some((signal.name.to_uppercase(), days))
        })
        .collect();
    if !rows.is_empty() {
        let title = format!("Lead time of the hits before the {drawdown}");
        jobs.push(job(
            Meta {
                name: "signal_lead_time".into(),
                section: "Signals",
                title: title.clone(),
                caption: format!(
                    "On the paths where a signal's first firing was followed by the {drawdown} within {} trading days, how long before it the signal fired: the black tick is the median, the box holds the middle half of those paths, the line four in five.",
                    target.within_days
                ),
            },
            (WIDTH, HEIGHT),
            LeadTime { title, rows },
        ));
    }
    jobs
}

impl Figure for Firing {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let area = with_title(root, &self.title)?;
        let (Some(first), Some(last)) = (self.dates.first(), self.dates.last()) else {
            return Ok(());
        };
        let top = self
            .curves
            .iter()
            .filter_map(|(_, _, _, c)| c.last().copied())
            .fold(0.0, f64::max);
        let top = (top * 1.1).clamp(0.01, 1.0);
        let ticks = date_ticks(*first, *last);
        let mut chart = ChartBuilder::on(&area)
            .margin(16)
            .x_label_area_size(56)
            .y_label_area_size(86)
            .build_cartesian_2d(date_axis(*first, *last, &ticks), 0.0..top)?;
        chart
            .configure_mesh()
            .y_labels(6)
            .max_light_lines(1)
            .x_label_formatter(&|d: &NaiveDate| date_tick_label(d, &ticks))
            .y_label_formatter(&|v: &f64| percent(*v))
            .x_desc("date")
            .y_desc("share of paths fired by then (%)")
            .label_style(tick_style())
            .axis_desc_style(label_style())
            .light_line_style(BLACK.mix(0.04))
            .bold_line_style(BLACK.mix(0.1))
            .draw()?;
        for (label, c, width, curve) in &self.curves {
            let (c, width) = (*c, *width);
            chart
                .draw_series(LineSeries::new(
                    self.dates.iter().copied().zip(curve.iter().copied()),
                    c.stroke_width(width),
                ))?
                .label(label.as_str())
                .legend(legend_line(c, width));
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        Ok(())
    }
}

impl Figure for LeadTime {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let area = with_title(root, &self.title)?;
        let hi = self
            .rows
            .iter()
            .map(|(_, q)| q[4])
            .filter(|v| v.is_finite())
            .fold(1.0, f64::max);
        let (_, hi) = padded(0.0, hi);
        let n = self.rows.len();
        // The first signal on top.
        let names: Vec<String> = self
            .rows
            .iter()
            .rev()
            .map(|(name, _)| name.clone())
            .collect();
        let mut chart = ChartBuilder::on(&area)
            .margin(16)
            .x_label_area_size(56)
            .y_label_area_size(86)
            .build_cartesian_2d(0.0..hi, -0.5..(n as f64 - 0.5))?;
        let label = |v: &f64| {
            let i = v.round();
            if (v - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .x_labels(8)
            .y_labels(n * 2 + 1)
            .disable_y_mesh()
            .max_light_lines(1)
            .x_label_formatter(&|v: &f64| format!("{v:.0}"))
            .y_label_formatter(&label)
            .x_desc("lead time (trading days before the drawdown)")
            .y_desc("signal")
            .label_style(tick_style())
            .axis_desc_style(label_style())
            .light_line_style(BLACK.mix(0.04))
            .bold_line_style(BLACK.mix(0.1))
            .draw()?;
        for (i, (_, q)) in self.rows.iter().enumerate() {
            if q.iter().any(|v| !v.is_finite()) {
                continue;
            }
            let y = (n - 1 - i) as f64;
            let c = colour(i);
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(q[0], y), (q[4], y)],
                c.stroke_width(2),
            )))?;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(q[1], y - 0.25), (q[3], y + 0.25)],
                c.mix(0.6).filled(),
            )))?;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(q[2], y - 0.3), (q[2], y + 0.3)],
                BLACK.stroke_width(3),
            )))?;
        }
        Ok(())
    }
}
