//! Views on a finished run: a column's distribution under the prior and the
//! posterior, as two cumulative curves on one chart.

use super::drawdown::{Cdf, Overlay};
use super::sample::padded;
use super::{colour, job, Job, Meta, Scale, HEIGHT, WIDTH};

/// The page section of the views' charts.
pub const VIEWS_SECTION: &str = "Prior and posterior";

/// The prior and posterior CDFs of `column`: each curve is the column's
/// quantiles at evenly spaced probabilities from 0 to 1.
pub fn prior_posterior<'a>(
    index: usize,
    column: &str,
    prior: Vec<f64>,
    posterior: Vec<f64>,
) -> Job<'a> {
    let fraction =
        column.ends_with("return") || column.ends_with("pnl") || column.ends_with("drawdown");
    let scale = if fraction {
        Scale::Fraction
    } else {
        Scale::Units(String::new())
    };
    // The 1st to 99th percentiles, padded: the extreme paths would squash the rest.
    let at = |q: &[f64], p: f64| q[((q.len().max(2) - 1) as f64 * p).round() as usize];
    let lo = at(&prior, 0.01).min(at(&posterior, 0.01));
    let hi = at(&prior, 0.99).max(at(&posterior, 0.99));
    let range = padded(lo, hi);
    let curve = |q: Vec<f64>| {
        let last = (q.len().max(2) - 1) as f64;
        q.into_iter()
            .enumerate()
            .map(|(k, v)| (v, k as f64 / last))
            .collect::<Vec<_>>()
    };
    let title = format!("{column}: prior and posterior");
    let meta = Meta {
        name: format!("views_{index}_{}", column.replace('.', "_")),
        section: VIEWS_SECTION,
        title: title.clone(),
        caption: format!(
            "The share of probability at or below each value of {column}, before the views (every path equally likely) and after them (each path at its posterior probability): where the posterior curve lies left, the views make low values more likely."
        ),
    };
    job(
        meta,
        (WIDTH, HEIGHT),
        Overlay {
            title,
            cdf: Cdf {
                x_desc: column.to_string(),
                scale,
                range,
                curves: vec![
                    ("prior".to_string(), colour(0), curve(prior)),
                    ("posterior".to_string(), colour(1), curve(posterior)),
                ],
                markers: Vec::new(),
            },
        },
    )
}
