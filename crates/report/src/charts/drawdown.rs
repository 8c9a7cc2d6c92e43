//! Max drawdown distributions: per core asset a histogram beside the empirical
//! CDF, with the mean, median, 95th and 99th percentiles marked; and the CDFs of
//! several runs overlaid, for comparisons.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::histogram::{share_chart, summary_markers, Marker, Panel, Series};
use super::sample::{padded, Sample};
use super::{
    colour, draw_legend, job, label_style, legend_line, with_title, DrawResult, Figure, Job, Meta,
    RunData, Scale, HEIGHT, WIDTH,
};
use crate::roles::{display_name, in_sentence};

const BINS: usize = 50;
/// Points of the CDF curve drawn from a run's sorted values.
const CDF_POINTS: usize = 400;

struct Drawdown {
    title: String,
    histogram: Panel,
    cdf: Cdf,
}

/// A labelled, coloured CDF: `(value, probability)` points.
pub type Curve = (String, RGBColor, Vec<(f64, f64)>);

/// Cumulative distribution curves, `(value, probability)`, one per series.
pub struct Cdf {
    pub x_desc: String,
    pub scale: Scale,
    pub range: (f64, f64),
    pub curves: Vec<Curve>,
    pub markers: Vec<Marker>,
}

/// Per core asset, the distribution of its worst move on each path: the
/// maximum drawdown of a price, the largest rise above the start of a level
/// (a yield, the VIX), whose risk is a rise: a level's "drawdown" is a bond
/// rally or a calming market.
pub fn jobs(run: RunData<'_>) -> Vec<Job<'_>> {
    run.scenario
        .report
        .core_assets
        .iter()
        .filter_map(|name| {
            let a = run.asset_index(name)?;
            let asset = &run.model.assets[a];
            let scale = run.scale(a);
            let display = display_name(name);
            let subject = in_sentence(name);
            // A price's risk is a fall below its peak; a level's a rise above today.
            let (sample, what, section, chart, how, verb) = if asset.is_log {
                (
                    run.sample(&format!("{name}.max_drawdown"))?,
                    "maximum drawdown",
                    "Maximum drawdown",
                    format!("drawdown_{name}"),
                    "falls below its running peak",
                    "falls",
                )
            } else {
                let start = asset.initial;
                let column = run.simulation.column(&format!("{name}.max"))?;
                (
                    Sample::new(column.map(|high| (high - start).max(0.0)))?,
                    "largest rise above the start",
                    "Largest rise",
                    format!("rise_{name}"),
                    "rises above where it starts (its highest level less today's)",
                    "rises",
                )
            };
            let caption = format!(
                "How far {subject} {how} at worst on each path: one path in twenty {verb} further than {}, one in a hundred further than {}.",
                scale.change_text(sample.quantile(0.95)),
                scale.change_text(sample.quantile(0.99))
            );
            let x_desc = format!("{what} ({})", scale.change_unit());
            let (lo, hi) = padded(0.0, sample.quantile(0.999));
            let (lo, hi) = (lo.max(0.0), hi);
            let markers = || summary_markers(&scale, sample.mean(), |p| sample.quantile(p));
            let title = format!("{display}: {what} over the horizon");
            let meta = Meta {
                name: chart,
                section,
                title: title.clone(),
                caption,
            };
            let figure = Drawdown {
                title,
                histogram: Panel {
                    title: "distribution".into(),
                    x_desc: x_desc.clone(),
                    y_desc: "share of paths (%)".into(),
                    scale: scale.clone(),
                    range: (lo, hi),
                    series: vec![Series::of("paths".into(), colour(0), &sample, (lo, hi), BINS)],
                    markers: markers(),
                    legend: false,
                },
                cdf: Cdf {
                    x_desc,
                    scale: scale.clone(),
                    range: (lo, hi),
                    curves: vec![(
                        "cumulative share of paths".into(),
                        colour(0),
                        sample.quantile_curve(CDF_POINTS),
                    )],
                    markers: markers(),
                },
            };
            Some(job(meta, (WIDTH, HEIGHT), figure))
        })
        .collect()
}

impl Figure for Drawdown {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let area = with_title(root, &self.title)?;
        let (left, right) = area.split_horizontally(area.dim_in_pixel().0 / 2);
        self.histogram.draw(&left)?;
        let right = right.titled("cumulative distribution", label_style())?;
        self.cdf.draw(&right)
    }
}

impl Cdf {
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (lo, hi) = self.range;
        let mut chart = share_chart(
            area,
            self.range,
            1.0,
            &self.scale,
            &self.x_desc,
            "share of paths at or below (%)",
        )?;
        for (label, c, curve) in &self.curves {
            let c = *c;
            // Beyond the axis the curve continues flat: clip it to the range.
            let points = curve
                .iter()
                .map(|(x, p)| (x.clamp(lo, hi), *p))
                .chain(std::iter::once((hi, 1.0)));
            chart
                .draw_series(LineSeries::new(points, c.stroke_width(3)))?
                .label(label.as_str())
                .legend(legend_line(c, 3));
        }
        for marker in &self.markers {
            let c = marker.colour;
            chart
                .draw_series(LineSeries::new(
                    [(marker.x, 0.0), (marker.x, 1.0)],
                    c.stroke_width(2),
                ))?
                .label(marker.label.as_str())
                .legend(legend_line(c, 2));
        }
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        Ok(())
    }
}

/// A titled [`Cdf`] filling the whole chart.
pub struct Overlay {
    pub title: String,
    pub cdf: Cdf,
}

impl Figure for Overlay {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let area = with_title(root, &self.title)?;
        self.cdf.draw(&area)
    }
}

/// The drawdown CDFs of several runs of one asset on one chart: `runs` holds a
/// label and the quantiles at evenly spaced probabilities from 0 to 1.
pub fn drawdown_cdf_overlay<'a>(
    asset: &str,
    scale: Scale,
    runs: Vec<(String, Vec<f64>)>,
) -> Job<'a> {
    let display = display_name(asset).to_string();
    let top = runs
        .iter()
        .filter_map(|(_, q)| {
            let n = q.len();
            // The 99.9th percentile is not kept; the 99th, padded, shows the tail.
            (n > 1).then(|| q[((n - 1) as f64 * 0.99).round() as usize])
        })
        .fold(0.0f64, f64::max);
    let (_, hi) = padded(0.0, top * 1.1);
    let curves = runs
        .into_iter()
        .enumerate()
        .map(|(i, (label, q))| {
            let last = (q.len().max(2) - 1) as f64;
            let curve = q
                .iter()
                .enumerate()
                .map(|(k, v)| (*v, k as f64 / last))
                .collect();
            (label, colour(i), curve)
        })
        .collect();
    let title = format!("{display}: maximum drawdown, run by run");
    let meta = Meta {
        name: format!("compare_drawdown_{asset}"),
        section: "Maximum drawdown compared",
        title: title.clone(),
        caption: format!(
            "The share of paths whose {display} drawdown stays at or below each level: a curve further right and lower means deeper falls are more likely."
        ),
    };
    job(
        meta,
        (WIDTH, HEIGHT),
        Overlay {
            title,
            cdf: Cdf {
                x_desc: format!("maximum drawdown ({})", scale.change_unit()),
                scale,
                range: (0.0, hi),
                curves,
                markers: Vec::new(),
            },
        },
    )
}
