//! Charts of many runs of one scenario: a figure against one swept key with
//! its confidence band, a heat map of a figure over two swept keys, and a
//! tornado of the effects of bumping keys down and up.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    cell_axis, colour, key_row, label_style, padded_span, render, tick_style, with_title, Chart,
    ChartError, DrawResult, Figure, KeyMark, Meta, HEIGHT, WIDTH,
};
use crate::labels::{file_stem, number, FigureReading};

/// The page section the sweep's charts belong to.
pub const SWEEP_SECTION: &str = "Sweep";
/// The page section the tornado charts belong to.
pub const SENSITIVITY_SECTION: &str = "Sensitivity";

/// Two standard errors either side: about a 95% band.
const BAND_SE: f64 = 1.96;

/// Intervals between an axis's ticks (so ticks read with the decimals this spacing needs).
const TICKS: f64 = 6.0;

/// Pixels right of a heat map for its colour scale.
const COLOUR_BAR_WIDTH: u32 = 150;

/// A swept key's value on an axis, with the decimals the tick spacing needs.
fn key_tick(v: f64, step: f64) -> String {
    let decimals = if step > 0.0 && step.is_finite() {
        (-step.log10()).ceil().clamp(0.0, 6.0) as usize
    } else {
        0
    };
    crate::labels::fixed(v, decimals)
}

/// A figure's value and standard error at each point of one swept key.
pub struct SweepLine<'a> {
    /// The key's path and its label.
    pub key: (&'a str, &'a str),
    /// The figure's name (the chart's file is named after it) and how it reads.
    pub figure: (&'a str, &'a FigureReading),
    pub x: &'a [f64],
    pub value: &'a [f64],
    pub se: &'a [f64],
}

/// Draws `sweep_<figure>` (the figure against the key, with its 95% band).
pub fn sweep_line(line: &SweepLine<'_>) -> Result<Chart, ChartError> {
    let (name, reading) = line.figure;
    let title = format!("{} against {}", reading.label, line.key.1);
    render(
        Meta {
            name: format!("sweep_{}", file_stem(name)),
            section: SWEEP_SECTION,
            title: title.clone(),
            caption: format!(
                "{} ({name}) at every value of {} ({}), with the band of ±{BAND_SE} standard errors of each point. Every point runs on the same random numbers, so the difference between neighbouring points is far more precise than the bands' widths suggest.",
                reading.label, line.key.1, line.key.0
            ),
        },
        (WIDTH, HEIGHT),
        &LineDrawing { title, line },
    )
}

struct LineDrawing<'a, 'b> {
    title: String,
    line: &'b SweepLine<'a>,
}

impl Figure for LineDrawing<'_, '_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let line = self.line;
        let area = with_title(root, &self.title)?;
        let area = key_row(
            &area,
            &[
                ("value", KeyMark::Line(colour(0).to_rgba(), 3)),
                ("±1.96 standard errors", KeyMark::Fill(colour(0).mix(0.2))),
            ],
        )?;
        let (x_lo, x_hi) = padded_span(0.06, line.x.iter().copied());
        let band = |sign: f64| {
            line.value
                .iter()
                .zip(line.se)
                .map(move |(v, s)| v + sign * BAND_SE * if s.is_finite() { *s } else { 0.0 })
        };
        let (y_lo, y_hi) = padded_span(0.06, band(-1.0).chain(band(1.0)));
        let mut chart = ChartBuilder::on(&area)
            .margin(16)
            .x_label_area_size(56)
            .y_label_area_size(110)
            .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)?;
        let reading = line.figure.1;
        let (x_step, y_step) = ((x_hi - x_lo) / TICKS, (y_hi - y_lo) / TICKS);
        chart
            .configure_mesh()
            .x_labels(TICKS as usize + 1)
            .y_labels(TICKS as usize + 1)
            .x_desc(line.key.1)
            .y_desc(reading.axis())
            .x_label_formatter(&|v: &f64| key_tick(*v, x_step))
            .y_label_formatter(&|v: &f64| reading.tick(*v, y_step))
            .label_style(tick_style())
            .axis_desc_style(label_style())
            .light_line_style(TRANSPARENT)
            .bold_line_style(BLACK.mix(0.1))
            .draw()?;
        let finite = |(x, v): (&f64, f64)| v.is_finite().then_some((*x, v));
        let upper: Vec<(f64, f64)> = line.x.iter().zip(band(1.0)).filter_map(finite).collect();
        let lower: Vec<(f64, f64)> = line.x.iter().zip(band(-1.0)).filter_map(finite).collect();
        let polygon: Vec<(f64, f64)> = upper
            .iter()
            .copied()
            .chain(lower.into_iter().rev())
            .collect();
        chart.draw_series(std::iter::once(Polygon::new(
            polygon,
            colour(0).mix(0.2).filled(),
        )))?;
        let points: Vec<(f64, f64)> = line
            .x
            .iter()
            .zip(line.value.iter().copied())
            .filter_map(finite)
            .collect();
        chart.draw_series(LineSeries::new(points.clone(), colour(0).stroke_width(3)))?;
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 4, colour(0).filled())),
        )?;
        Ok(())
    }
}

/// A figure's value at every point of a grid of two swept keys.
pub struct SweepHeat<'a> {
    /// The keys' labels, across and up.
    pub keys: (&'a str, &'a str),
    pub figure: (&'a str, &'a FigureReading),
    pub x: &'a [f64],
    pub y: &'a [f64],
    /// `value[i * y.len() + j]` at `(x[i], y[j])`.
    pub value: &'a [f64],
}

/// Draws `sweep_<figure>` as a heat map, each cell labelled with its value.
pub fn sweep_heat(heat: &SweepHeat<'_>) -> Result<Chart, ChartError> {
    let (name, reading) = heat.figure;
    let title = format!("{} over {} and {}", reading.label, heat.keys.0, heat.keys.1);
    render(
        Meta {
            name: format!("sweep_{}", file_stem(name)),
            section: SWEEP_SECTION,
            title: title.clone(),
            caption: format!(
                "{} ({name}) at every pair of values of {} (across) and {} (up), darker for larger values, as the scale on the right reads; sweep.csv has each cell's standard error.",
                reading.label, heat.keys.0, heat.keys.1
            ),
        },
        (WIDTH, HEIGHT + HEIGHT / 3),
        &HeatDrawing { title, heat },
    )
}

struct HeatDrawing<'a, 'b> {
    title: String,
    heat: &'b SweepHeat<'a>,
}

impl Figure for HeatDrawing<'_, '_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let heat = self.heat;
        let reading = heat.figure.1;
        let area = with_title(root, &self.title)?;
        let width = area.dim_in_pixel().0;
        let (area, scale_area) = area.split_horizontally(width.saturating_sub(COLOUR_BAR_WIDTH));
        let (nx, ny) = (heat.x.len(), heat.y.len());
        // Segmented axes put each tick under the middle of its cell.
        let mut chart = ChartBuilder::on(&area)
            .margin(16)
            .x_label_area_size(56)
            .y_label_area_size(110)
            .build_cartesian_2d(cell_axis(nx), cell_axis(ny))?;
        let centre_label = |values: &[f64], v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) => values.get(*i).map_or(String::new(), |x| number(*x)),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(nx.min(20))
            .y_labels(ny.min(20))
            .x_desc(heat.keys.0)
            .y_desc(heat.keys.1)
            .x_label_formatter(&|v| centre_label(heat.x, v))
            .y_label_formatter(&|v| centre_label(heat.y, v))
            .label_style(tick_style())
            .axis_desc_style(label_style())
            .draw()?;
        let (lo, hi) = padded_span(0.06, heat.value.iter().copied());
        let share = |v: f64| {
            if hi > lo {
                ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
            } else {
                0.5
            }
        };
        let shade = |v: f64| colour(0).mix(0.08 + 0.85 * share(v));
        let cell_text = nx * ny <= 150;
        for i in 0..nx {
            for j in 0..ny {
                let v = heat.value[i * ny + j];
                let fill = if v.is_finite() {
                    shade(v).filled()
                } else {
                    WHITE.filled()
                };
                chart.draw_series(std::iter::once(Rectangle::new(
                    [
                        (SegmentValue::Exact(i), SegmentValue::Exact(j)),
                        (SegmentValue::Exact(i + 1), SegmentValue::Exact(j + 1)),
                    ],
                    fill,
                )))?;
                if cell_text {
                    let dark = v.is_finite() && share(v) > 0.55;
                    let style = ("sans-serif", 16)
                        .into_font()
                        .color(if dark { &WHITE } else { &BLACK })
                        .pos(Pos::new(HPos::Center, VPos::Center));
                    chart.draw_series(std::iter::once(Text::new(
                        reading.value(v),
                        (SegmentValue::CenterOf(i), SegmentValue::CenterOf(j)),
                        style,
                    )))?;
                }
            }
        }
        // The colour scale: what a shade means, from the smallest value to the largest.
        let mut bar = ChartBuilder::on(&scale_area)
            .margin_top(16)
            .margin_bottom(72)
            .margin_right(8)
            .y_label_area_size(COLOUR_BAR_WIDTH - 40)
            .build_cartesian_2d(0.0..1.0, lo..hi)?;
        let step = (hi - lo) / TICKS;
        bar.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_labels(TICKS as usize + 1)
            .y_label_formatter(&|v: &f64| reading.tick(*v, step))
            .label_style(tick_style())
            .draw()?;
        const SHADES: usize = 64;
        for k in 0..SHADES {
            let (a, b) = (k as f64 / SHADES as f64, (k + 1) as f64 / SHADES as f64);
            let (va, vb) = (lo + a * (hi - lo), lo + b * (hi - lo));
            bar.draw_series(std::iter::once(Rectangle::new(
                [(0.0, va), (1.0, vb)],
                shade((va + vb) / 2.0).filled(),
            )))?;
        }
        Ok(())
    }
}

/// One key's bar of a tornado: the figure with the key bumped down and up.
pub struct TornadoBar {
    /// The key's label.
    pub key: String,
    pub down: Option<f64>,
    pub up: Option<f64>,
}

/// A tornado chart: bars from the base value to the bumped ones, largest
/// swing on top.
pub struct Tornado<'a> {
    pub figure: (&'a str, &'a FigureReading),
    pub base: f64,
    /// Largest swing first.
    pub bars: &'a [TornadoBar],
    /// What a bump is, for the caption ("down and up by 10%").
    pub bump: &'a str,
}

/// Draws `tornado_<figure>`.
pub fn tornado(tornado: &Tornado<'_>) -> Result<Chart, ChartError> {
    let (name, reading) = tornado.figure;
    let title = format!("What moves {}", reading.label);
    let height = (160 + 46 * tornado.bars.len() as u32).max(HEIGHT / 2);
    render(
        Meta {
            name: format!("tornado_{}", file_stem(name)),
            section: SENSITIVITY_SECTION,
            title: title.clone(),
            caption: format!(
                "{} ({name}) with each key bumped {} (one at a time, the others at the scenario's values, every run on the same random numbers), from the scenario's own value (the vertical line); the keys that move it most are on top.",
                reading.label, tornado.bump
            ),
        },
        (WIDTH, height),
        &TornadoDrawing { title, tornado },
    )
}

struct TornadoDrawing<'a, 'b> {
    title: String,
    tornado: &'b Tornado<'a>,
}

impl Figure for TornadoDrawing<'_, '_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let t = self.tornado;
        let area = with_title(root, &self.title)?;
        let (down_colour, up_colour) = (colour(1), colour(0));
        let area = key_row(
            &area,
            &[
                ("key bumped down", KeyMark::Fill(down_colour.mix(0.8))),
                ("key bumped up", KeyMark::Fill(up_colour.mix(0.8))),
            ],
        )?;
        let values = t
            .bars
            .iter()
            .flat_map(|b| [b.down, b.up])
            .flatten()
            .chain(std::iter::once(t.base));
        let (lo, hi) = padded_span(0.06, values);
        let reading = t.figure.1;
        let step = (hi - lo) / TICKS;
        let rows = t.bars.len().max(1);
        let longest = t.bars.iter().map(|b| b.key.len()).max().unwrap_or(0);
        // Row 0 at the bottom: the largest swing, bars[0], is row rows - 1.
        let bar_of = |row: usize| t.bars.get(rows.checked_sub(row + 1)?);
        let mut chart = ChartBuilder::on(&area)
            .margin(16)
            .x_label_area_size(56)
            .y_label_area_size((longest as u32 * 10 + 20).clamp(80, 460))
            .build_cartesian_2d(lo..hi, cell_axis(rows))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(rows)
            .y_label_formatter(&|v: &SegmentValue<usize>| match v {
                SegmentValue::CenterOf(row) => {
                    bar_of(*row).map_or(String::new(), |b| b.key.clone())
                }
                _ => String::new(),
            })
            .x_labels(TICKS as usize + 1)
            .x_label_formatter(&|v: &f64| reading.tick(*v, step))
            .x_desc(reading.axis())
            .label_style(tick_style())
            .axis_desc_style(label_style())
            .light_line_style(TRANSPARENT)
            .bold_line_style(BLACK.mix(0.1))
            .draw()?;
        for row in 0..rows {
            let Some(bar) = bar_of(row) else { continue };
            for (value, fill) in [(bar.down, down_colour), (bar.up, up_colour)] {
                let Some(value) = value.filter(|v| v.is_finite()) else {
                    continue;
                };
                let mut rectangle = Rectangle::new(
                    [
                        (t.base, SegmentValue::Exact(row)),
                        (value, SegmentValue::Exact(row + 1)),
                    ],
                    fill.mix(0.8).filled(),
                );
                rectangle.set_margin(8, 8, 0, 0);
                chart.draw_series(std::iter::once(rectangle))?;
            }
        }
        chart.draw_series(std::iter::once(PathElement::new(
            vec![
                (t.base, SegmentValue::Exact(0)),
                (t.base, SegmentValue::Exact(rows)),
            ],
            BLACK.stroke_width(2),
        )))?;
        Ok(())
    }
}
