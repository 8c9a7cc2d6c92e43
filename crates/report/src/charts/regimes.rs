//! Regimes: the share of paths in each regime on every date (stacked to 100%),
//! and when paths first enter the stress regime.

use chrono::NaiveDate;
use plotters::coord::combinators::WithKeyPoints;
use plotters::coord::types::{RangedCoordf64, RangedDate};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    colour, date_axis, date_tick_label, date_ticks, draw_legend, job, label_style, legend_box,
    percent, tick_style, with_title, DrawResult, Figure, Job, Meta, RunData, HEIGHT, WIDTH,
};
use stormglass_core::scenario::calendar::TRADING_DAYS_PER_YEAR;

/// Width of the regime key beside the occupancy chart, in pixels.
const LEGEND_WIDTH: i32 = 240;
/// Bins of the first-entry histogram.
const BINS: usize = 36;
/// Height of a key entry, in pixels.
const KEY_ROW: i32 = 34;

/// Shares over dates: a date axis across, 0 to 1 up.
pub(super) type DateShares = Cartesian2d<WithKeyPoints<RangedDate<NaiveDate>>, RangedCoordf64>;

/// Shares of paths stacked to 100% over the dates, with their key: the
/// regimes', or a strategy's states'.
pub(super) struct Occupancy {
    pub(super) title: String,
    pub(super) dates: Vec<NaiveDate>,
    /// Per series, its name and share on each date.
    pub(super) shares: Vec<(String, Vec<f64>)>,
}

struct FirstEntry {
    title: String,
    /// `(from, to, share of all paths)`.
    bars: Vec<(NaiveDate, NaiveDate, f64)>,
    regime_colour: RGBColor,
}

pub fn jobs(run: RunData<'_>) -> Vec<Job<'_>> {
    let occupancy = &run.summary.regime_occupancy;
    if occupancy.shares.len() < 2 {
        return Vec::new();
    }
    let dates: Vec<NaiveDate> = run.scenario.dates[..run.scenario.steps()].to_vec();
    let mut jobs = Vec::new();
    let title = "Which regime the world is in, date by date".to_string();
    jobs.push(job(
        Meta {
            name: "regime_occupancy".into(),
            section: "Regimes",
            title: title.clone(),
            caption: "The share of paths in each regime on every date: how the scenario's story is expected to unfold, and how much probability the stress regimes gather over time.".into(),
        },
        (WIDTH, HEIGHT),
        Occupancy {
            title,
            dates: dates.clone(),
            shares: occupancy
                .shares
                .iter()
                .map(|(name, series)| (name.clone(), series.clone()))
                .collect(),
        },
    ));

    let stress = run.scenario.report.stress_regime.as_str();
    let Some(r) = run.model.regime_names.iter().position(|n| n == stress) else {
        return jobs;
    };
    let Some(sample) = run.sample(&format!("regime.{stress}.first_entry_years")) else {
        return jobs;
    };
    let steps = dates.len();
    let step_of =
        |years: f64| ((years * TRADING_DAYS_PER_YEAR).round().max(0.0) as usize).min(steps);
    let all_dates = &run.scenario.dates;
    let width = steps.div_ceil(BINS).max(1);
    let mut counts = vec![0u64; steps.div_ceil(width)];
    for years in &sample.sorted {
        let bin = (step_of(*years) / width).min(counts.len() - 1);
        counts[bin] += 1;
    }
    let bars = counts
        .iter()
        .enumerate()
        .map(|(b, c)| {
            let from = all_dates[(b * width).min(steps)];
            let to = all_dates[((b + 1) * width).min(steps)];
            (from, to, *c as f64 / sample.paths as f64)
        })
        .collect();
    let entered = sample.sorted.len() as f64 / sample.paths as f64;
    let median_date = all_dates[step_of(sample.quantile(0.5))];
    let title = format!("First entry into {stress}");
    jobs.push(job(
        Meta {
            name: format!("first_entry_{stress}"),
            section: "Regimes",
            title: title.clone(),
            caption: format!(
                "When paths first enter {stress}: {} of paths enter it within the horizon, half of those by {}.",
                percent(entered),
                median_date.format("%e %B %Y").to_string().trim()
            ),
        },
        (WIDTH, HEIGHT),
        FirstEntry {
            title,
            bars,
            regime_colour: colour(r),
        },
    ));
    jobs
}

impl Figure for Occupancy {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let area = with_title(root, &self.title)?;
        let (Some(first), Some(last)) = (self.dates.first(), self.dates.last()) else {
            return Ok(());
        };
        let (plot, key) = area.split_horizontally(area.dim_in_pixel().0 as i32 - LEGEND_WIDTH);
        let ticks = date_ticks(*first, *last);
        let mut chart = ChartBuilder::on(&plot)
            .margin(16)
            .x_label_area_size(56)
            .y_label_area_size(86)
            .build_cartesian_2d(date_axis(*first, *last, &ticks), 0.0..1.0)?;
        chart
            .configure_mesh()
            .y_labels(6)
            .disable_x_mesh()
            .x_label_formatter(&|d: &NaiveDate| date_tick_label(d, &ticks))
            .y_label_formatter(&|v: &f64| percent(*v))
            .x_desc("date")
            .y_desc("share of paths (%)")
            .label_style(tick_style())
            .axis_desc_style(label_style())
            .light_line_style(TRANSPARENT)
            .bold_line_style(BLACK.mix(0.1))
            .draw()?;
        let bands: Vec<&[f64]> = self.shares.iter().map(|(_, s)| s.as_slice()).collect();
        draw_stacked(&mut chart, &self.dates, &bands)?;
        let names: Vec<&str> = self.shares.iter().map(|(n, _)| n.as_str()).collect();
        draw_stack_key(&key, &names, 40)?;
        Ok(())
    }
}

impl Figure for FirstEntry {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let area = with_title(root, &self.title)?;
        let (Some(first), Some(last)) = (self.bars.first(), self.bars.last()) else {
            return Ok(());
        };
        let top = self.bars.iter().map(|b| b.2).fold(0.0, f64::max).max(1e-4) * 1.15;
        let ticks = date_ticks(first.0, last.1);
        let mut chart = ChartBuilder::on(&area)
            .margin(16)
            .x_label_area_size(56)
            .y_label_area_size(86)
            .build_cartesian_2d(date_axis(first.0, last.1, &ticks), 0.0..top)?;
        chart
            .configure_mesh()
            .y_labels(6)
            .x_label_formatter(&|d: &NaiveDate| date_tick_label(d, &ticks))
            .y_label_formatter(&|v: &f64| percent(*v))
            .x_desc("date of first entry")
            .y_desc("share of all paths (%)")
            .label_style(tick_style())
            .axis_desc_style(label_style())
            .light_line_style(TRANSPARENT)
            .bold_line_style(BLACK.mix(0.1))
            .draw()?;
        let c = self.regime_colour;
        chart
            .draw_series(self.bars.iter().map(|(from, to, share)| {
                Rectangle::new([(*from, 0.0), (*to, *share)], c.mix(0.8).filled())
            }))?
            .label("paths entering in the period")
            .legend(legend_box(c.mix(0.8)));
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    }
}

/// Bands stacked from 0: band `i` between the sum of the bands below it and
/// that sum plus `bands[i]`, on every date, in the series colours.
pub(super) fn draw_stacked<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, DateShares>,
    dates: &[NaiveDate],
    bands: &[&[f64]],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let mut below = vec![0.0; dates.len()];
    for (i, shares) in bands.iter().enumerate() {
        let above: Vec<f64> = below.iter().zip(*shares).map(|(b, s)| b + s).collect();
        let outline: Vec<(NaiveDate, f64)> = dates
            .iter()
            .zip(&above)
            .map(|(d, v)| (*d, *v))
            .chain(dates.iter().zip(&below).rev().map(|(d, v)| (*d, *v)))
            .collect();
        chart.draw_series(std::iter::once(Polygon::new(
            outline,
            colour(i).mix(0.85).filled(),
        )))?;
        below = above;
    }
    Ok(())
}

/// The key of [`draw_stacked`]'s bands, top down as they stack, from `top`
/// pixels down; returns the height below it for another entry.
pub(super) fn draw_stack_key<DB: DrawingBackend>(
    key: &DrawingArea<DB, Shift>,
    names: &[&str],
    top: i32,
) -> Result<i32, DrawingAreaErrorKind<DB::ErrorType>> {
    let count = names.len() as i32;
    for (i, name) in names.iter().enumerate().rev() {
        let y = top + (count - 1 - i as i32) * KEY_ROW;
        key.draw(&Rectangle::new(
            [(8, y - 9), (30, y + 9)],
            colour(i).mix(0.85).filled(),
        ))?;
        key.draw(&Text::new(
            name.to_string(),
            (40, y),
            tick_style().pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    Ok(top + count * KEY_ROW)
}
