//! The attribution's waterfall: a figure from its value with every mechanism
//! off, through each mechanism's one-at-a-time contribution and the
//! interaction remainder, to its value in the full run.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    cell_axis, colour, key_row, label_style, percent, render, tick_style, with_title, Chart,
    ChartError, DrawResult, Figure, KeyMark, Meta, WIDTH,
};

/// The page section the waterfalls belong to.
pub const ATTRIBUTION_SECTION: &str = "Waterfalls";

/// One bar between the two totals.
#[derive(Debug, Clone)]
pub struct WaterfallStep {
    pub label: String,
    pub change: f64,
    pub se: f64,
    /// The change as the page writes it (`+1.2 pp`).
    pub text: String,
}

/// A waterfall of a figure given as a fraction (drawn in percent).
#[derive(Debug, Clone)]
pub struct Waterfall {
    /// What the figure is, for the title and axis.
    pub figure: String,
    /// The value with every mechanism off, and as the page writes it.
    pub start: f64,
    pub start_text: String,
    /// The value in the full run.
    pub end: f64,
    pub end_text: String,
    /// The mechanisms' contributions, then the interaction remainder: they
    /// add up from `start` to `end`.
    pub steps: Vec<WaterfallStep>,
    /// Standard errors either side a whisker spans.
    pub whisker_se: f64,
}

/// Draws `waterfall_<n>` of the figure named `name`.
pub fn waterfall(n: usize, name: &str, waterfall: &Waterfall) -> Result<Chart, ChartError> {
    let title = format!("What makes {}", waterfall.figure);
    let height = (170 + 46 * (waterfall.steps.len() as u32 + 2)).max(300);
    render(
        Meta {
            name: format!("waterfall_{n:02}"),
            section: ATTRIBUTION_SECTION,
            title: title.clone(),
            caption: format!(
                "{name} from its value with every mechanism off (top bar) to its value in the full run (bottom bar). Each bar between is one mechanism's contribution, the full run minus the run with that mechanism alone off, on the same paths, with whiskers of ±{} standard errors of the paired difference. Mechanisms interact, so these one-at-a-time contributions need not add up to the total: the interaction bar is the remainder (all off at once minus the sum of the one-at-a-time contributions).",
                waterfall.whisker_se
            ),
        },
        (WIDTH, height),
        &WaterfallDrawing { title, waterfall },
    )
}

struct WaterfallDrawing<'a> {
    title: String,
    waterfall: &'a Waterfall,
}

/// A bar: its label, where it starts and ends, its whisker's half-width and
/// the text at its end.
struct Bar<'a> {
    label: &'a str,
    from: f64,
    to: f64,
    whisker: f64,
    text: &'a str,
    fill: RGBAColor,
}

impl WaterfallDrawing<'_> {
    fn bars(&self) -> Vec<Bar<'_>> {
        let w = self.waterfall;
        let total = BLACK.mix(0.45);
        let mut bars = vec![Bar {
            label: "all off",
            from: 0.0,
            to: w.start,
            whisker: 0.0,
            text: &w.start_text,
            fill: total,
        }];
        let mut level = w.start;
        for (i, step) in w.steps.iter().enumerate() {
            let fill = if i + 1 == w.steps.len() {
                colour(3).mix(0.85)
            } else if step.change >= 0.0 {
                colour(0).mix(0.85)
            } else {
                colour(1).mix(0.85)
            };
            let change = if step.change.is_finite() {
                step.change
            } else {
                0.0
            };
            bars.push(Bar {
                label: &step.label,
                from: level,
                to: level + change,
                whisker: if step.se.is_finite() {
                    w.whisker_se * step.se
                } else {
                    0.0
                },
                text: &step.text,
                fill,
            });
            level += change;
        }
        bars.push(Bar {
            label: "full",
            from: 0.0,
            to: w.end,
            whisker: 0.0,
            text: &w.end_text,
            fill: total,
        });
        bars
    }
}

impl Figure for WaterfallDrawing<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let bars = self.bars();
        let area = with_title(root, &self.title)?;
        let area = key_row(
            &area,
            &[
                ("raises it", KeyMark::Fill(colour(0).mix(0.85))),
                ("lowers it", KeyMark::Fill(colour(1).mix(0.85))),
                ("interaction", KeyMark::Fill(colour(3).mix(0.85))),
                ("total", KeyMark::Fill(BLACK.mix(0.45))),
            ],
        )?;
        let values = bars
            .iter()
            .flat_map(|b| [b.from, b.to - b.whisker, b.to + b.whisker])
            .filter(|v| v.is_finite());
        let (lo, hi) = values.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let span = (hi - lo).max(1e-6);
        // Room on the right for the numbers written beside the bars.
        let (lo, hi) = (lo - 0.04 * span, hi + 0.22 * span);
        let rows = bars.len();
        let longest = bars.iter().map(|b| b.label.len()).max().unwrap_or(0);
        // Row 0 at the bottom: the first bar (all off) is the top row.
        let bar_of = |row: usize| bars.get(rows.checked_sub(row + 1)?);
        let mut chart = ChartBuilder::on(&area)
            .margin(16)
            .x_label_area_size(56)
            .y_label_area_size((longest as u32 * 11 + 24).clamp(90, 320))
            .build_cartesian_2d(lo..hi, cell_axis(rows))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(rows)
            .y_label_formatter(&|v: &SegmentValue<usize>| match v {
                SegmentValue::CenterOf(row) => {
                    bar_of(*row).map_or(String::new(), |b| b.label.to_string())
                }
                _ => String::new(),
            })
            .x_label_formatter(&|v: &f64| percent(*v))
            .x_desc(self.waterfall.figure.as_str())
            .label_style(tick_style())
            .axis_desc_style(label_style())
            .light_line_style(TRANSPARENT)
            .bold_line_style(BLACK.mix(0.1))
            .draw()?;
        // Connectors from each bar's end to the next bar's start.
        for row in 1..rows {
            let Some(bar) = bar_of(row) else { continue };
            if bar.to.is_finite() {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![
                        (bar.to, SegmentValue::CenterOf(row)),
                        (bar.to, SegmentValue::CenterOf(row - 1)),
                    ],
                    BLACK.mix(0.35).stroke_width(1),
                )))?;
            }
        }
        for row in 0..rows {
            let Some(bar) = bar_of(row) else { continue };
            if !(bar.from.is_finite() && bar.to.is_finite()) {
                continue;
            }
            let mut rectangle = Rectangle::new(
                [
                    (bar.from, SegmentValue::Exact(row)),
                    (bar.to, SegmentValue::Exact(row + 1)),
                ],
                bar.fill.filled(),
            );
            rectangle.set_margin(9, 9, 0, 0);
            chart.draw_series(std::iter::once(rectangle))?;
            if bar.whisker > 0.0 {
                let whisker = BLACK.stroke_width(2);
                let (a, b) = (bar.to - bar.whisker, bar.to + bar.whisker);
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![
                        (a, SegmentValue::CenterOf(row)),
                        (b, SegmentValue::CenterOf(row)),
                    ],
                    whisker,
                )))?;
                for end in [a, b] {
                    chart.draw_series(std::iter::once(
                        EmptyElement::at((end, SegmentValue::CenterOf(row)))
                            + PathElement::new(vec![(0, -7), (0, 7)], whisker),
                    ))?;
                }
            }
            let right = bar.from.max(bar.to + bar.whisker);
            chart.draw_series(std::iter::once(
                EmptyElement::at((right, SegmentValue::CenterOf(row)))
                    + Text::new(bar.text.to_string(), (10, -9), tick_style()),
            ))?;
        }
        chart.draw_series(std::iter::once(PathElement::new(
            vec![
                (0.0, SegmentValue::Exact(0)),
                (0.0, SegmentValue::Exact(rows)),
            ],
            BLACK.stroke_width(1),
        )))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waterfall_draws_every_bar_and_its_numbers() {
        let w = Waterfall {
            figure: "P(spx drawdown ≥ 20%)".into(),
            start: 0.2,
            start_text: "20.0%".into(),
            end: 0.3,
            end_text: "30.0%".into(),
            steps: vec![
                WaterfallStep {
                    label: "flow_loop".into(),
                    change: 0.07,
                    se: 0.01,
                    text: "+7.0 pp".into(),
                },
                WaterfallStep {
                    label: "fed_put".into(),
                    change: -0.01,
                    se: 0.002,
                    text: "-1.0 pp".into(),
                },
                WaterfallStep {
                    label: "interaction".into(),
                    change: 0.04,
                    se: 0.01,
                    text: "+4.0 pp".into(),
                },
            ],
            whisker_se: 2.0,
        };
        let chart = waterfall(0, "p_equity_drawdown", &w).expect("draws");
        for text in [
            "flow_loop",
            "fed_put",
            "interaction",
            "all off",
            "+7.0 pp",
            "30.0%",
        ] {
            assert!(chart.svg.contains(text), "{text} missing");
        }
        assert!(chart.caption.contains("need not add up"));
        assert!(!chart.png.is_empty());
    }
}
