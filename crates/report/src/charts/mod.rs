//! The run's charts, drawn once onto any plotters backend and rendered twice:
//! PNG (for mail and slides) and SVG (inlined into `report.html`).
//!
//! Text is drawn with DejaVu Sans compiled into the binary, so a machine with no
//! fonts installed renders the same PNGs. Colours are the Okabe–Ito palette,
//! distinguishable under the common forms of colour blindness. Each family of
//! charts lives in its own file and returns the jobs that draw it; the jobs run
//! in parallel.

mod attribution;
mod calibration;
mod correlation;
mod drawdown;
mod fan;
mod foreign;
mod histogram;
mod portfolios;
mod regimes;
pub mod reverse;
mod sample;
mod signals;
mod strategies;
mod sweep;
mod views;
mod volatility;

use std::sync::Once;

use chrono::{Datelike, NaiveDate};
use plotters::coord::combinators::{BindKeyPoints, WithKeyPoints};
use plotters::coord::types::RangedDate;
use plotters::coord::Shift;
use plotters::prelude::*;
use rayon::prelude::*;

use stormglass_core::engine::Simulation;
use stormglass_core::model::Model;
use stormglass_core::scenario::Scenario;
use stormglass_core::Summary;

pub use attribution::{waterfall, Waterfall, WaterfallStep, ATTRIBUTION_SECTION};
pub use calibration::{smoothed_probabilities, SmoothedProbabilities};
pub use drawdown::drawdown_cdf_overlay;
pub use portfolios::SECTION as PORTFOLIO_SECTION;
pub use sample::Sample;
pub use strategies::SECTION as STRATEGY_SECTION;
pub use sweep::{
    sweep_heat, sweep_line, tornado, SweepHeat, SweepLine, Tornado, TornadoBar,
    SENSITIVITY_SECTION, SWEEP_SECTION,
};
pub use views::{prior_posterior, VIEWS_SECTION};

/// Every chart's size in pixels; the page shows them about this wide.
pub const WIDTH: u32 = 1200;
pub const HEIGHT: u32 = 600;

/// Okabe & Ito (2008), in the order series take them: blue, vermillion, bluish
/// green, orange, reddish purple, sky blue, black, yellow.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(230, 159, 0),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

/// The colour of series `i`.
pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Font sizes in pixels at [`WIDTH`].
pub const TITLE_SIZE: u32 = 30;
pub const LABEL_SIZE: u32 = 22;
pub const TICK_SIZE: u32 = 18;

static FONT: &[u8] = include_bytes!("../../../../assets/fonts/DejaVuSans.ttf");

/// Registers the embedded font as "sans-serif", plotters' default family.
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are the bundled file; a failure would show as missing text,
        // which the tests of the PNGs would catch.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// A drawn chart in both formats, with what the page says about it.
#[derive(Debug, Clone)]
pub struct Chart {
    /// File stem: `charts/<name>.png` and `.svg`.
    pub name: String,
    /// The page section it belongs to.
    pub section: &'static str,
    pub title: String,
    /// One sentence: what to read from the chart.
    pub caption: String,
    pub width: u32,
    pub height: u32,
    pub png: Vec<u8>,
    pub svg: String,
}

#[derive(Debug, thiserror::Error)]
#[error("chart {name}: {message}")]
pub struct ChartError {
    pub name: String,
    pub message: String,
}

pub type DrawResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Something that draws itself onto any backend.
pub trait Figure: Send + Sync {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static;
}

/// A chart waiting to be drawn.
pub type Job<'a> = Box<dyn FnOnce() -> Result<Chart, ChartError> + Send + 'a>;

/// What a chart is: its name, section, title and caption.
pub struct Meta {
    pub name: String,
    pub section: &'static str,
    pub title: String,
    pub caption: String,
}

/// A job that renders `figure` at `size`.
pub fn job<'a, F: Figure + 'a>(meta: Meta, size: (u32, u32), figure: F) -> Job<'a> {
    Box::new(move || render(meta, size, &figure))
}

/// Draws `figure` as PNG and SVG.
pub fn render<F: Figure>(
    meta: Meta,
    (width, height): (u32, u32),
    figure: &F,
) -> Result<Chart, ChartError> {
    register_font();
    let fail = |message: String| ChartError {
        name: meta.name.clone(),
        message,
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        figure.draw(&root).map_err(|e| fail(e.to_string()))?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    let mut pixels = vec![0u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        figure.draw(&root).map_err(|e| fail(e.to_string()))?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    let png = encode_png(&pixels, width, height).map_err(|e| fail(e.to_string()))?;
    Ok(Chart {
        name: meta.name,
        section: meta.section,
        title: meta.title,
        caption: meta.caption,
        width,
        height,
        png,
        svg,
    })
}

fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, png::EncodingError> {
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        // Measured on the default scenario's charts: fast deflate with adaptive
        // filters gives files of about 150 KB in half the time of the default
        // level (80 KB); without the filters, 220 KB.
        encoder.set_compression(png::Compression::Fast);
        encoder.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(rgb)?;
    }
    Ok(bytes)
}

/// A finished run, as the charts read it.
#[derive(Clone, Copy)]
pub struct RunData<'a> {
    pub scenario: &'a Scenario,
    pub model: &'a Model,
    pub simulation: &'a Simulation,
    pub summary: &'a Summary,
}

impl RunData<'_> {
    pub fn asset_index(&self, name: &str) -> Option<usize> {
        self.model.assets.iter().position(|a| a.name == name)
    }

    /// The finite values of a per-path column, sorted; `None` when the column is
    /// absent or empty.
    pub fn sample(&self, column: &str) -> Option<Sample> {
        Sample::new(self.simulation.column(column)?)
    }

    /// How an asset's figures read: fractions, or levels in its own units.
    pub fn scale(&self, asset: usize) -> Scale {
        let asset = &self.model.assets[asset];
        let implied_vol = matches!(
            asset.process,
            stormglass_core::scenario::ProcessKind::ImpliedVol
        );
        Scale::of(asset.is_log, &asset.unit, implied_vol)
    }
}

/// `n` rows (or columns) of cells as a segmented axis, each tick under its
/// cell's middle. plotters' integer ranges include their end, so `0..n` would
/// draw one empty row more.
pub fn cell_axis(
    n: usize,
) -> plotters::coord::ranged1d::SegmentedCoord<plotters::coord::types::RangedCoordusize> {
    (0..n.max(1) - 1).into_segmented()
}

/// Every chart of a run, drawn in parallel, in page order.
pub fn run_charts(run: RunData<'_>) -> Result<Vec<Chart>, ChartError> {
    let mut jobs: Vec<Job<'_>> = Vec::new();
    jobs.extend(fan::jobs(run));
    jobs.extend(drawdown::jobs(run));
    jobs.extend(volatility::jobs(run));
    jobs.extend(regimes::jobs(run));
    jobs.extend(correlation::jobs(run));
    jobs.extend(foreign::jobs(run));
    jobs.extend(signals::jobs(run));
    jobs.extend(portfolios::jobs(run));
    jobs.extend(strategies::jobs(run));
    draw_all(jobs)
}

/// Runs `jobs` in parallel, keeping their order.
pub fn draw_all(jobs: Vec<Job<'_>>) -> Result<Vec<Chart>, ChartError> {
    jobs.into_par_iter().map(|job| job()).collect()
}

/// How the values of an axis read.
#[derive(Debug, Clone, PartialEq)]
pub enum Scale {
    /// A fraction shown in percent (returns, drawdowns, volatility of prices).
    Fraction,
    /// A rate in decimals: levels in percent, changes in percentage points.
    Decimal,
    /// An implied volatility held in decimals (0.186) and quoted in points
    /// (18.6), as the VIX is.
    VolPoints,
    /// A level in the asset's own units.
    Units(String),
}

impl Scale {
    /// How an asset's figures read: relative changes of a log-price asset as
    /// fractions; an implied volatility in points; decimal rates in percent;
    /// anything else in its own units.
    pub fn of(relative: bool, unit: &str, implied_vol: bool) -> Scale {
        if relative {
            Scale::Fraction
        } else if implied_vol {
            Scale::VolPoints
        } else if unit.starts_with("decimal") {
            Scale::Decimal
        } else {
            Scale::Units(unit.to_string())
        }
    }

    /// A level (fan charts): decimals read as percent.
    pub fn level_label(&self, value: f64) -> String {
        match self {
            Scale::Fraction | Scale::Units(_) => plain(value),
            Scale::Decimal => percent(value),
            Scale::VolPoints => plain(value * 100.0),
        }
    }

    /// A change (drawdown, return, volatility): fractions in percent, decimals in
    /// percentage points.
    pub fn change_label(&self, value: f64) -> String {
        match self {
            Scale::Fraction => percent(value),
            Scale::Decimal | Scale::VolPoints => plain(value * 100.0),
            Scale::Units(_) => plain(value),
        }
    }

    /// Tick labels of an axis spanning `span`: percent with one decimal on every
    /// tick when the axis spans less than 10 points, so ticks read alike.
    pub fn level_tick(&self, value: f64, span: f64) -> String {
        match self {
            Scale::Decimal if span < 0.1 => format!("{:.1}%", value * 100.0),
            _ => self.level_label(value),
        }
    }

    /// As [`Scale::level_tick`], for changes.
    pub fn change_tick(&self, value: f64, span: f64) -> String {
        match self {
            Scale::Fraction if span < 0.1 => format!("{:.1}%", value * 100.0),
            _ => self.change_label(value),
        }
    }

    /// A change with its unit, for sentences: "25%", "1.99 percentage points",
    /// "12.5 points".
    pub fn change_text(&self, value: f64) -> String {
        match self {
            Scale::Fraction => percent(value),
            Scale::Decimal | Scale::VolPoints | Scale::Units(_) => {
                format!("{} {}", self.change_label(value), self.change_unit())
            }
        }
    }

    /// The unit of a change, for axis titles.
    pub fn change_unit(&self) -> String {
        match self {
            Scale::Fraction => "%".into(),
            Scale::Decimal => "percentage points".into(),
            Scale::VolPoints => "points".into(),
            Scale::Units(unit) => unit.clone(),
        }
    }
}

/// `0.253` as `25.3%`, with fewer decimals for larger numbers.
pub fn percent(value: f64) -> String {
    let p = value * 100.0;
    if p.abs() >= 10.0 || p == p.round() {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

/// A number with as many decimals as its size needs, without trailing zeros.
pub fn plain(value: f64) -> String {
    let a = value.abs();
    let text = if a >= 100.0 || a == 0.0 {
        format!("{value:.0}")
    } else if a >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// Most date ticks an axis carries before it steps to longer periods.
const MAX_DATE_TICKS: usize = 10;

/// A date axis from `first` to `last` whose ticks (from [`date_ticks`], which
/// the labels read too), and so its grid lines, fall on
/// calendar boundaries: month starts, or the starts of quarters, half years and
/// years when the horizon is longer. Plotters' own ticks are evenly spaced in
/// days, which puts "Jul 2026" on 31 July.
pub fn date_axis(
    first: NaiveDate,
    last: NaiveDate,
    ticks: &[NaiveDate],
) -> WithKeyPoints<RangedDate<NaiveDate>> {
    (first..last).with_key_points(ticks.to_vec())
}

/// The tick dates of [`date_axis`]: the first of every `step`-th month (steps of
/// 1, 2, 3, 6 or 12 months, or whole multiples of years), aligned so quarters
/// start in January, April, July and October.
pub fn date_ticks(first: NaiveDate, last: NaiveDate) -> Vec<NaiveDate> {
    let index = |d: NaiveDate| d.year() as i64 * 12 + d.month0() as i64;
    let months = (index(last) - index(first)).max(0) as usize + 1;
    let step = [1, 2, 3, 6, 12]
        .into_iter()
        .find(|s| months.div_ceil(*s) <= MAX_DATE_TICKS)
        .unwrap_or_else(|| 12 * months.div_ceil(12 * MAX_DATE_TICKS));
    let step = step as i64;
    let mut m = index(first);
    if first.day() != 1 {
        m += 1;
    }
    m = m.div_euclid(step) * step + if m.rem_euclid(step) == 0 { 0 } else { step };
    let mut ticks = Vec::new();
    while m <= index(last) {
        let date = NaiveDate::from_ymd_opt(m.div_euclid(12) as i32, m.rem_euclid(12) as u32 + 1, 1);
        match date {
            Some(d) if d >= first && d <= last => ticks.push(d),
            _ => {}
        }
        m += step;
    }
    if ticks.len() < 2 {
        // Under two months: days, every `days`-th from the first.
        let span = (last - first).num_days().max(0) as usize + 1;
        let days = span.div_ceil(MAX_DATE_TICKS).max(1);
        ticks = first
            .iter_days()
            .step_by(days)
            .take_while(|d| *d <= last)
            .collect();
    }
    ticks
}

/// A date tick's label: the month and year, or the year alone on a tick that
/// opens a year of an axis ticked yearly.
pub fn date_tick_label(date: &NaiveDate, ticks: &[NaiveDate]) -> String {
    let monthly = ticks.iter().all(|d| d.day() == 1);
    let yearly = ticks.len() >= 2 && monthly && ticks.iter().all(|d| d.month() == 1);
    if yearly {
        date.format("%Y").to_string()
    } else if monthly {
        date.format("%b %Y").to_string()
    } else {
        date.format("%-d %b").to_string()
    }
}

/// Text styles at the sizes above.
pub fn title_style() -> TextStyle<'static> {
    ("sans-serif", TITLE_SIZE).into_font().color(&BLACK)
}
pub fn label_style() -> TextStyle<'static> {
    ("sans-serif", LABEL_SIZE).into_font().color(&BLACK)
}
pub fn tick_style() -> TextStyle<'static> {
    ("sans-serif", TICK_SIZE).into_font().color(&BLACK)
}

/// A title line across the top of `root`, returning the area below it.
pub fn with_title<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<DrawingArea<DB, Shift>, DrawingAreaErrorKind<DB::ErrorType>> {
    // ab_glyph draws glyphs partly above the anchor: leave room at the top.
    root.margin(14, 0, 6, 6).titled(title, title_style())
}

/// The legend box every chart uses.
pub fn draw_legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_series_labels()
        .position(position)
        .label_font(tick_style())
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()
}

/// A short line of `colour` for a legend entry.
pub fn legend_line(colour: RGBColor, width: u32) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(width))
}

/// A small filled box of `colour` for a legend entry.
pub fn legend_box(colour: RGBAColor) -> impl Fn((i32, i32)) -> Rectangle<(i32, i32)> {
    move |(x, y)| Rectangle::new([(x, y - 6), (x + 20, y + 6)], colour.filled())
}

/// How a key entry is marked.
#[derive(Debug, Clone, Copy)]
pub enum KeyMark {
    Fill(RGBAColor),
    Line(RGBAColor, u32),
}

/// A key laid out in one row across the top of `area`, out of the data's way;
/// returns the area below it.
pub fn key_row<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[(&str, KeyMark)],
) -> Result<DrawingArea<DB, Shift>, DrawingAreaErrorKind<DB::ErrorType>> {
    const ROW: u32 = 34;
    let (row, rest) = area.split_vertically(ROW);
    let style = tick_style();
    let gap = 28;
    let widths: Vec<i32> = items
        .iter()
        .map(|(label, _)| {
            let (w, _) = row.estimate_text_size(label, &style).unwrap_or((0, 0));
            30 + w as i32
        })
        .collect();
    let total: i32 = widths.iter().sum::<i32>() + gap * (items.len() as i32 - 1).max(0);
    let mut x = ((row.dim_in_pixel().0 as i32 - total) / 2).max(0);
    let y = ROW as i32 / 2;
    for ((label, mark), width) in items.iter().zip(widths) {
        match mark {
            KeyMark::Fill(c) => {
                row.draw(&Rectangle::new([(x, y - 8), (x + 22, y + 8)], c.filled()))?;
            }
            KeyMark::Line(c, w) => {
                row.draw(&PathElement::new(
                    vec![(x, y), (x + 22, y)],
                    c.stroke_width(*w),
                ))?;
            }
        }
        row.draw(&Text::new(
            label.to_string(),
            (x + 30, y),
            style.pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Left,
                plotters::style::text_anchor::VPos::Center,
            )),
        ))?;
        x += width + gap;
    }
    Ok(rest)
}

/// The finite values' range, padded by `share` of its width (at least a
/// thousandth of its size) so no point sits on the frame; `(0, 1)` if none.
pub(crate) fn padded_span(share: f64, values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * share).max(hi.abs().max(lo.abs()).max(1e-9) * 1e-3);
    (lo - pad, hi + pad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_like_a_strategist_writes_them() {
        assert_eq!(percent(0.253), "25%");
        assert_eq!(percent(0.055), "5.5%");
        assert_eq!(percent(-0.1), "-10%");
        assert_eq!(plain(0.5), "0.5");
        assert_eq!(plain(-1.0), "-1");
        assert_eq!(plain(6800.0), "6800");
        assert_eq!(Scale::Decimal.change_label(0.0085), "0.85");
        assert_eq!(Scale::Decimal.level_tick(0.04, 0.03), "4.0%");
        assert_eq!(Scale::Fraction.change_tick(0.3, 0.8), "30%");
        // The VIX is held as 0.7 and quoted as 70 points, never "70%".
        let vix = Scale::of(false, "decimal", true);
        assert_eq!(vix, Scale::VolPoints);
        assert_eq!(vix.level_tick(0.7, 0.6), "70");
        assert_eq!(vix.change_label(0.291), "29.1");
        assert_eq!(vix.change_unit(), "points");
    }

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn date_ticks_fall_on_calendar_boundaries() {
        // The default scenario's year spans 13 calendar months, more than the
        // ten ticks allowed, so every other month start, counted from January.
        let ticks = date_ticks(ymd(2025, 11, 28), ymd(2026, 11, 30));
        assert_eq!(
            ticks,
            vec![
                ymd(2026, 1, 1),
                ymd(2026, 3, 1),
                ymd(2026, 5, 1),
                ymd(2026, 7, 1),
                ymd(2026, 9, 1),
                ymd(2026, 11, 1),
            ]
        );
        assert_eq!(date_tick_label(&ticks[1], &ticks), "Mar 2026");
        // A quarter: every month start inside it.
        let quarter = date_ticks(ymd(2026, 1, 1), ymd(2026, 3, 31));
        assert_eq!(
            quarter,
            vec![ymd(2026, 1, 1), ymd(2026, 2, 1), ymd(2026, 3, 1)]
        );
        // Two and a half years: quarter starts.
        let q = date_ticks(ymd(2025, 11, 28), ymd(2028, 5, 30));
        assert!(q.iter().all(|d| d.day() == 1 && (d.month() - 1) % 3 == 0));
        assert_eq!(q.first(), Some(&ymd(2026, 1, 1)));
        assert!(q.len() <= MAX_DATE_TICKS);
        // Fifty years: whole years, labelled by the year alone.
        let years = date_ticks(ymd(2025, 11, 28), ymd(2075, 11, 28));
        assert!(years.len() <= MAX_DATE_TICKS && years.len() >= 5);
        assert!(years.iter().all(|d| d.month() == 1 && d.day() == 1));
        assert_eq!(
            date_tick_label(&years[0], &years),
            years[0].year().to_string()
        );
        // A horizon of a few days inside one month has no month start: days.
        let days = date_ticks(ymd(2026, 1, 5), ymd(2026, 1, 20));
        assert_eq!(days.first(), Some(&ymd(2026, 1, 5)));
        assert!(days.len() >= 2 && days.len() <= MAX_DATE_TICKS);
        assert_eq!(date_tick_label(&days[0], &days), "5 Jan");
    }

    #[test]
    fn a_chart_renders_to_png_and_svg_at_its_size() {
        struct Blank;
        impl Figure for Blank {
            fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
            where
                DB::ErrorType: 'static,
            {
                with_title(root, "A title & more")?;
                Ok(())
            }
        }
        let meta = Meta {
            name: "blank".into(),
            section: "Test",
            title: "A title".into(),
            caption: "Nothing.".into(),
        };
        let chart = render(meta, (320, 200), &Blank).unwrap();
        assert!(chart.svg.contains("A title &amp; more"), "{}", chart.svg);
        assert!(chart.png.starts_with(b"\x89PNG"));
        assert_eq!((chart.width, chart.height), (320, 200));
    }
}
