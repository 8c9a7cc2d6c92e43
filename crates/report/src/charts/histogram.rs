//! Histogram panels shared by the distribution charts: filled bars for one
//! series, outlines for several, vertical markers for summary figures.

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::sample::{Bin, Sample};
use super::{
    colour, draw_legend, label_style, legend_line, percent, tick_style, with_title, DrawResult,
    Figure, Scale, LABEL_SIZE, TICK_SIZE,
};

/// One distribution in a panel.
pub struct Series {
    pub label: String,
    pub colour: RGBColor,
    pub bins: Vec<Bin>,
    /// Shares of paths below and above the panel's range, counted in its end bins.
    pub outside: (f64, f64),
}

impl Series {
    /// `sample` in `bins` equal bins over `range`, values beyond it in the end bins.
    pub fn of(
        label: String,
        colour: RGBColor,
        sample: &Sample,
        range: (f64, f64),
        bins: usize,
    ) -> Series {
        Series {
            label,
            colour,
            bins: sample.histogram(range.0, range.1, bins),
            outside: sample.shares_outside(range.0, range.1),
        }
    }
}

/// A vertical line at a summary figure.
pub struct Marker {
    pub label: String,
    pub colour: RGBColor,
    pub x: f64,
}

pub struct Panel {
    /// Drawn above the panel when not empty.
    pub title: String,
    pub x_desc: String,
    pub y_desc: String,
    pub scale: Scale,
    pub range: (f64, f64),
    pub series: Vec<Series>,
    pub markers: Vec<Marker>,
    pub legend: bool,
}

impl Panel {
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let area = if self.title.is_empty() {
            area.clone()
        } else {
            let size = fitted_size(&self.title, area.dim_in_pixel().0);
            let style = ("sans-serif", size).into_font().color(&BLACK);
            area.titled(&self.title, style)?
        };
        // The note on a tail piled into an end bar goes under the axis, where
        // no marker, legend or bar can run into it.
        let area = match self.note_for(area.dim_in_pixel().0) {
            Some((note, size)) => {
                let height = area.dim_in_pixel().1;
                let (plot, strip) = area.split_vertically(height.saturating_sub(NOTE_HEIGHT));
                strip.draw(&Text::new(
                    note,
                    (12, 2),
                    ("sans-serif", size).into_font().color(&BLACK.mix(0.7)),
                ))?;
                plot
            }
            None => area,
        };
        let top = self
            .series
            .iter()
            .flat_map(|s| s.bins.iter().map(|b| b.share))
            .fold(0.0f64, f64::max);
        // Room above the bars for the legend.
        let headroom = if self.legend { 1.4 } else { 1.1 };
        let top = if top > 0.0 { top * headroom } else { 0.01 };
        let mut chart = share_chart(
            &area,
            self.range,
            top,
            &self.scale,
            &self.x_desc,
            &self.y_desc,
        )?;
        let single = self.series.len() == 1;
        for series in &self.series {
            let c = series.colour;
            if single {
                chart
                    .draw_series(series.bins.iter().map(|b| {
                        Rectangle::new([(b.lower, 0.0), (b.upper, b.share)], c.mix(0.55).filled())
                    }))?
                    .label(series.label.as_str())
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 6), (x + 20, y + 6)], c.mix(0.55).filled())
                    });
            } else {
                let outline = series
                    .bins
                    .iter()
                    .flat_map(|b| [(b.lower, b.share), (b.upper, b.share)]);
                let first = series.bins.first().map(|b| (b.lower, 0.0));
                let last = series.bins.last().map(|b| (b.upper, 0.0));
                chart
                    .draw_series(LineSeries::new(
                        first.into_iter().chain(outline).chain(last),
                        c.stroke_width(3),
                    ))?
                    .label(series.label.as_str())
                    .legend(legend_line(c, 3));
            }
        }
        for marker in &self.markers {
            let c = marker.colour;
            chart
                .draw_series(LineSeries::new(
                    [(marker.x, 0.0), (marker.x, top)],
                    c.stroke_width(2),
                ))?
                .label(marker.label.as_str())
                .legend(legend_line(c, 2));
        }
        if self.legend {
            draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
        Ok(())
    }

    /// The tail note for a panel `width` pixels wide and its font size: the
    /// words when they fit, the short form in a narrow panel (one of a grid).
    fn note_for(&self, width: u32) -> Option<(String, u32)> {
        let (long, short) = self.tail_notes()?;
        let fitted = |note: &String| fitted_size_in(note, width, MIN_NOTE_SIZE, TICK_SIZE);
        let size = fitted(&long);
        Some(if fits(&long, size, width) {
            (long, size)
        } else {
            let size = fitted(&short);
            (short, size)
        })
    }

    /// Says where the end bins hold values beyond the axis, and how many, so a
    /// tail piled into the last bar is not read as a spike at the edge: in
    /// words, and as short as a narrow panel needs.
    fn tail_notes(&self) -> Option<(String, String)> {
        let worst = |side: fn(&(f64, f64)) -> f64| {
            self.series
                .iter()
                .map(|s| side(&s.outside))
                .fold(0.0, f64::max)
        };
        let (below, above) = (worst(|o| o.0), worst(|o| o.1));
        let (lo, hi) = self.range;
        let label = |v: f64| self.scale.change_label(v);
        let share = |p: f64| {
            if p < 0.001 {
                "<0.1%".to_string()
            } else {
                format!("{:.1}%", p * 100.0)
            }
        };
        let (mut long, mut short) = (Vec::new(), Vec::new());
        if below > 0.0 {
            long.push(format!(
                "below {} in the first bar ({} of paths)",
                label(lo),
                share(below)
            ));
            short.push(format!("< {} ({})", label(lo), share(below)));
        }
        if above > 0.0 {
            long.push(format!(
                "beyond {} in the last bar ({} of paths)",
                label(hi),
                share(above)
            ));
            short.push(format!("> {} ({})", label(hi), share(above)));
        }
        (!long.is_empty()).then(|| {
            (
                format!("values {}", long.join("; ")),
                format!("end bars: {} of paths", short.join(", ")),
            )
        })
    }
}

/// Smallest font size a panel title may shrink to.
const MIN_TITLE_SIZE: u32 = 14;

/// Pixels under a panel for its note on values beyond the axis.
const NOTE_HEIGHT: u32 = 24;

/// Smallest font size of that note.
const MIN_NOTE_SIZE: u32 = 12;

/// The largest font size, from the label size down, at which `title` fits in
/// `width` pixels with a margin, so neighbouring panels' titles never run into
/// each other.
pub fn fitted_size(title: &str, width: u32) -> u32 {
    fitted_size_in(title, width, MIN_TITLE_SIZE, LABEL_SIZE)
}

/// As [`fitted_size`], between `smallest` and `largest`.
fn fitted_size_in(title: &str, width: u32, smallest: u32, largest: u32) -> u32 {
    (smallest..=largest)
        .rev()
        .find(|size| fits(title, *size, width))
        .unwrap_or(smallest)
}

/// Whether `text` at font `size` fits in `width` pixels with a margin.
fn fits(text: &str, size: u32, width: u32) -> bool {
    super::register_font();
    let room = width.saturating_sub(16);
    ("sans-serif", size)
        .into_font()
        .box_size(text)
        .is_ok_and(|(w, _)| w <= room)
}

/// The mean, median, 95th and 99th percentile markers of a distribution.
pub fn summary_markers(scale: &Scale, mean: f64, quantile: impl Fn(f64) -> f64) -> Vec<Marker> {
    [
        ("mean", mean),
        ("median", quantile(0.5)),
        ("95th percentile", quantile(0.95)),
        ("99th percentile", quantile(0.99)),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (what, x))| Marker {
        label: format!("{what} {}", scale.change_label(x)),
        colour: colour(i + 1),
        x,
    })
    .collect()
}

/// Splits `area` into a grid for `n` panels, at most `columns` wide.
pub fn grid<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    n: usize,
    columns: usize,
) -> Vec<DrawingArea<DB, Shift>> {
    let columns = columns.min(n).max(1);
    let rows = n.div_ceil(columns);
    area.split_evenly((rows, columns))
}

/// Rows of panels a chart of `n` panels in `columns` columns needs.
pub fn rows(n: usize, columns: usize) -> u32 {
    n.div_ceil(columns.max(1)).max(1) as u32
}

/// Histogram panels under one title, `columns` to a row.
pub struct PanelGrid {
    pub title: String,
    pub panels: Vec<Panel>,
    pub columns: usize,
}

impl PanelGrid {
    /// The chart's height with `panel_height` per row of panels under the title.
    pub fn height(&self, panel_height: u32) -> u32 {
        70 + panel_height * rows(self.panels.len(), self.columns)
    }
}

impl Figure for PanelGrid {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let area = with_title(root, &self.title)?;
        for (panel, cell) in self
            .panels
            .iter()
            .zip(grid(&area, self.panels.len(), self.columns))
        {
            panel.draw(&cell)?;
        }
        Ok(())
    }
}

/// A chart with real-valued axes on a `DB` drawing area.
pub type ShareChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A distribution chart's frame: changes over `range` on x (written as `scale`
/// writes them), shares of paths from 0 to `top` on y (in percent), with the
/// axes, labels and grid every distribution chart uses.
pub fn share_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    (lo, hi): (f64, f64),
    top: f64,
    scale: &Scale,
    x_desc: &str,
    y_desc: &str,
) -> Result<ShareChart<'a, DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(54)
        .y_label_area_size(78)
        .build_cartesian_2d(lo..hi, 0.0..top)?;
    chart
        .configure_mesh()
        .x_labels(7)
        .y_labels(6)
        .max_light_lines(1)
        .x_label_formatter(&|v: &f64| scale.change_tick(*v, hi - lo))
        .y_label_formatter(&|v: &f64| percent(*v))
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(tick_style())
        .axis_desc_style(label_style())
        .light_line_style(BLACK.mix(0.04))
        .bold_line_style(BLACK.mix(0.1))
        .draw()?;
    Ok(chart)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_panel_titles_shrink_to_fit_their_panel() {
        // The default scenario's longest regime panel, three to a 1200-pixel row:
        // at the label size it is wider than its 400-pixel panel and ran into
        // the next panel's title.
        let title = "dovish_debasement: mean -0.19 (84% of paths)";
        let size = fitted_size(title, 400);
        assert!(size < LABEL_SIZE, "{size}");
        let (w, _) = ("sans-serif", size).into_font().box_size(title).unwrap();
        assert!(w <= 400 - 16, "{w}");
        // A short title keeps the label size.
        assert_eq!(fitted_size("whole path: mean -0.03", 400), LABEL_SIZE);
    }

    #[test]
    fn a_tail_beyond_the_axis_is_said_in_the_panel() {
        let sample = Sample::new([0.1f64, 0.2, 0.3, 5.0].into_iter()).unwrap();
        let panel = Panel {
            title: String::new(),
            x_desc: String::new(),
            y_desc: String::new(),
            scale: Scale::Fraction,
            range: (0.0, 1.0),
            series: vec![Series::of(
                "paths".into(),
                colour(0),
                &sample,
                (0.0, 1.0),
                10,
            )],
            markers: Vec::new(),
            legend: false,
        };
        assert_eq!(
            panel.tail_notes().map(|n| n.0).as_deref(),
            Some("values beyond 100% in the last bar (25.0% of paths)")
        );
        let inside = Panel {
            series: vec![Series::of(
                "paths".into(),
                colour(0),
                &sample,
                (0.0, 6.0),
                10,
            )],
            ..panel
        };
        assert_eq!(inside.tail_notes(), None);
    }

    /// A panel of the volatility grid (400 pixels wide) with tails on both
    /// sides: its note ran into the next panels' until it took the short form.
    #[test]
    fn the_tail_note_of_a_narrow_panel_fits_its_panel() {
        let values = (0..1000)
            .map(|i| 0.05 + i as f64 * 0.0004)
            .chain([0.01, 0.9]);
        let sample = Sample::new(values).unwrap();
        let panel = Panel {
            title: String::new(),
            x_desc: String::new(),
            y_desc: String::new(),
            scale: Scale::Fraction,
            range: (0.077, 0.43),
            series: vec![Series::of(
                "paths".into(),
                colour(0),
                &sample,
                (0.077, 0.43),
                40,
            )],
            markers: Vec::new(),
            legend: false,
        };
        let (long, _) = panel.tail_notes().unwrap();
        assert!(!fits(&long, MIN_NOTE_SIZE, 400), "{long}");
        let (note, size) = panel.note_for(400).unwrap();
        assert!(size >= MIN_NOTE_SIZE);
        let (w, _) = ("sans-serif", size).into_font().box_size(&note).unwrap();
        assert!(w <= 400 - 16, "{note}: {w} pixels");
        // A wide panel keeps the words.
        assert_eq!(panel.note_for(1200).unwrap().0, long);
    }
}
