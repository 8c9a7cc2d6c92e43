//! A history fit over its data: the first series above, the smoothed
//! probability of each regime below (stacked to 100%), and the episodes of the
//! history anchors shaded across both, so a reader sees which stretches the fit
//! calls turbulent and whether they are the ones history remembers.

use chrono::NaiveDate;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::regimes::{draw_stack_key, draw_stacked};
use super::{
    date_axis, date_tick_label, date_ticks, label_style, plain, render, tick_style, with_title,
    Chart, ChartError, DrawResult, Figure, Meta, HEIGHT, WIDTH,
};

/// Width of the regime key beside the panels, in pixels.
const LEGEND_WIDTH: i32 = 220;
/// The series panel's share of the height under the title.
const SERIES_SHARE: f64 = 0.4;

/// What the chart shows, in the fit's own terms.
pub struct SmoothedProbabilities<'a> {
    /// The date each smoothed probability belongs to.
    pub dates: &'a [NaiveDate],
    /// The series drawn above, and its level on each date.
    pub series: (&'a str, &'a [f64]),
    /// The regime names, calmest first.
    pub regimes: &'a [String],
    /// `smoothed[t][j]`: the probability of regime `j` on `dates[t]`.
    pub smoothed: &'a [Vec<f64>],
    /// Episodes to shade: name, first and last day.
    pub episodes: Vec<(String, NaiveDate, NaiveDate)>,
}

/// Draws the chart `smoothed_probabilities`, PNG and SVG.
pub fn smoothed_probabilities(data: &SmoothedProbabilities<'_>) -> Result<Chart, ChartError> {
    let (first, last) = (data.dates.first(), data.dates.last());
    let in_range = |(_, from, to): &&(String, NaiveDate, NaiveDate)| {
        first.is_some_and(|f| to >= f) && last.is_some_and(|l| from <= l)
    };
    let shown = data.episodes.iter().filter(in_range).count();
    let caption = format!(
        "The probability of each fitted regime on every date given all the data (Kim's smoother), below the level of {}{}.",
        data.series.0,
        match shown {
            0 => String::new(),
            1 => ", with the one history episode within the data shaded".into(),
            n => format!(", with the {n} history episodes within the data shaded"),
        }
    );
    let title = "Fitted regimes over the history".to_string();
    render(
        Meta {
            name: "smoothed_probabilities".into(),
            section: "Calibration",
            title: title.clone(),
            caption,
        },
        (WIDTH, HEIGHT + HEIGHT / 3),
        &Drawing { title, data },
    )
}

struct Drawing<'a, 'b> {
    title: String,
    data: &'b SmoothedProbabilities<'a>,
}

impl Figure for Drawing<'_, '_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let data = self.data;
        let area = with_title(root, &self.title)?;
        let (Some(&first), Some(&last)) = (data.dates.first(), data.dates.last()) else {
            return Ok(());
        };
        let (plots, key) = area.split_horizontally(area.dim_in_pixel().0 as i32 - LEGEND_WIDTH);
        let split = (plots.dim_in_pixel().1 as f64 * SERIES_SHARE) as i32;
        let (upper, lower) = plots.split_vertically(split);
        let ticks = date_ticks(first, last);
        let episodes: Vec<(&str, NaiveDate, NaiveDate)> = data
            .episodes
            .iter()
            .filter(|(_, from, to)| *to >= first && *from <= last)
            .map(|(name, from, to)| (name.as_str(), (*from).max(first), (*to).min(last)))
            .collect();
        let shade = BLACK.mix(0.12).filled();

        let (name, levels) = data.series;
        let finite = levels.iter().copied().filter(|v| v.is_finite());
        let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        let pad = ((hi - lo) * 0.05).max(hi.abs().max(1.0) * 1e-6);
        let (lo, hi) = if lo.is_finite() {
            (lo - pad, hi + pad)
        } else {
            (0.0, 1.0)
        };
        let mut top = ChartBuilder::on(&upper)
            .margin(16)
            .x_label_area_size(10)
            .y_label_area_size(86)
            .build_cartesian_2d(date_axis(first, last, &ticks), lo..hi)?;
        top.configure_mesh()
            .y_labels(5)
            .disable_x_mesh()
            .x_label_formatter(&|_| String::new())
            .y_label_formatter(&|v: &f64| plain(*v))
            .y_desc(name)
            .label_style(tick_style())
            .axis_desc_style(label_style())
            .light_line_style(TRANSPARENT)
            .bold_line_style(BLACK.mix(0.1))
            .draw()?;
        for (_, from, to) in &episodes {
            top.draw_series(std::iter::once(Rectangle::new(
                [(*from, lo), (*to, hi)],
                shade,
            )))?;
        }
        top.draw_series(LineSeries::new(
            data.dates.iter().copied().zip(levels.iter().copied()),
            BLACK.stroke_width(2),
        ))?;
        for (i, (label, from, _)) in episodes.iter().enumerate() {
            // Alternate heights so neighbouring episodes' names do not overlap.
            let y = hi - (hi - lo) * (0.06 + 0.1 * (i % 3) as f64);
            top.draw_series(std::iter::once(Text::new(
                label.to_string(),
                (*from, y),
                ("sans-serif", 15).into_font().color(&BLACK.mix(0.75)),
            )))?;
        }

        let mut bottom = ChartBuilder::on(&lower)
            .margin(16)
            .x_label_area_size(56)
            .y_label_area_size(86)
            .build_cartesian_2d(date_axis(first, last, &ticks), 0.0..1.0)?;
        bottom
            .configure_mesh()
            .y_labels(6)
            .disable_x_mesh()
            .x_label_formatter(&|d: &NaiveDate| date_tick_label(d, &ticks))
            .y_label_formatter(&|v: &f64| format!("{:.0}", v * 100.0))
            .x_desc("date")
            .y_desc("probability (%)")
            .label_style(tick_style())
            .axis_desc_style(label_style())
            .light_line_style(TRANSPARENT)
            .bold_line_style(BLACK.mix(0.1))
            .draw()?;
        let bands: Vec<Vec<f64>> = (0..data.regimes.len())
            .map(|j| {
                data.smoothed
                    .iter()
                    .map(|row| row.get(j).copied().unwrap_or(0.0))
                    .collect()
            })
            .collect();
        let bands: Vec<&[f64]> = bands.iter().map(Vec::as_slice).collect();
        draw_stacked(&mut bottom, data.dates, &bands)?;
        for (_, from, to) in &episodes {
            bottom.draw_series(std::iter::once(Rectangle::new(
                [(*from, 0.0), (*to, 1.0)],
                BLACK.mix(0.25).stroke_width(1),
            )))?;
        }

        let names: Vec<&str> = data.regimes.iter().map(String::as_str).collect();
        let below_key = draw_stack_key(&key, &names, split + 40)?;
        if !episodes.is_empty() {
            let y = below_key;
            key.draw(&Rectangle::new([(8, y - 9), (30, y + 9)], shade))?;
            key.draw(&Text::new(
                "episode",
                (40, y),
                tick_style().pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
        }
        Ok(())
    }
}
