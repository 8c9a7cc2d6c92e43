//! The portfolios' section: every portfolio's P&L and maximum drawdown over the
//! horizon, overlaid as distribution functions read from their 101 quantiles.

use super::drawdown::{Cdf, Curve, Overlay};
use super::sample::padded;
use super::{colour, job, Job, Meta, RunData, Scale, HEIGHT, WIDTH};
use plotters::style::RGBColor;
use stormglass_core::portfolio::PortfolioSummary;

/// The page section the portfolio charts and tables go under.
pub const SECTION: &str = "Portfolios";

/// One curve per portfolio.
fn curves<'a>(
    portfolios: &'a [PortfolioSummary],
    quantiles: impl Fn(&'a PortfolioSummary) -> &'a [f64],
) -> Vec<Curve> {
    portfolios
        .iter()
        .enumerate()
        .map(|(i, p)| {
            quantile_curve(
                format!("{} ({})", p.name, p.base_currency),
                colour(i),
                quantiles(p),
            )
        })
        .collect()
}

/// A distribution function from its quantiles `q_0..q_100`: the points
/// `(q_k, k / 100)`.
pub(super) fn quantile_curve(label: String, colour: RGBColor, q: &[f64]) -> Curve {
    let last = (q.len().max(2) - 1) as f64;
    let points = q
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .map(|(k, v)| (*v, k as f64 / last))
        .collect();
    (label, colour, points)
}

/// The lowest 1st and highest 99th percentile over the portfolios.
fn span<'a>(
    portfolios: &'a [PortfolioSummary],
    quantiles: impl Fn(&'a PortfolioSummary) -> &'a [f64],
) -> (f64, f64) {
    let sets: Vec<&[f64]> = portfolios.iter().map(quantiles).collect();
    quantile_span(&sets)
}

/// The lowest 1st and highest 99th percentile over sets of quantiles.
pub(super) fn quantile_span(sets: &[&[f64]]) -> (f64, f64) {
    let at = |q: &[f64], share: f64| {
        let n = q.len();
        if n < 2 {
            f64::NAN
        } else {
            q[((n - 1) as f64 * share).round() as usize]
        }
    };
    let lo = sets
        .iter()
        .map(|q| at(q, 0.01))
        .filter(|v| v.is_finite())
        .fold(f64::INFINITY, f64::min);
    let hi = sets
        .iter()
        .map(|q| at(q, 0.99))
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    if lo.is_finite() && hi.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    }
}

pub fn jobs(run: RunData<'_>) -> Vec<Job<'_>> {
    let portfolios = &run.summary.portfolios;
    if portfolios.is_empty() {
        return Vec::new();
    }
    let (lo, hi) = span(portfolios, |p| &p.pnl_quantiles);
    let pnl_title = "Portfolios: profit and loss over the horizon".to_string();
    let pnl = job(
        Meta {
            name: "portfolio_pnl".into(),
            section: SECTION,
            title: pnl_title.clone(),
            caption: "The share of paths on which each portfolio ends the horizon at or below each gain or loss, in its own base currency: the further left a curve's lower part, the heavier that book's losses in the bad paths.".into(),
        },
        (WIDTH, HEIGHT),
        Overlay {
            title: pnl_title,
            cdf: Cdf {
                x_desc: "P&L, share of the starting value in the base currency (%)".into(),
                scale: Scale::Fraction,
                range: padded(lo, hi),
                curves: curves(portfolios, |p| &p.pnl_quantiles),
                markers: Vec::new(),
            },
        },
    );
    let (_, deepest) = span(portfolios, |p| &p.max_drawdown_quantiles);
    let drawdown_title = "Portfolios: maximum drawdown".to_string();
    let drawdown = job(
        Meta {
            name: "portfolio_drawdown".into(),
            section: SECTION,
            title: drawdown_title.clone(),
            caption: "The share of paths on which each portfolio's largest fall from its running peak stays at or below each level: a curve further right means deeper drawdowns are likelier.".into(),
        },
        (WIDTH, HEIGHT),
        Overlay {
            title: drawdown_title,
            cdf: Cdf {
                x_desc: "maximum drawdown of the portfolio's value (%)".into(),
                scale: Scale::Fraction,
                range: (0.0, padded(0.0, deepest * 1.1).1),
                curves: curves(portfolios, |p| &p.max_drawdown_quantiles),
                markers: Vec::new(),
            },
        },
    );
    vec![pnl, drawdown]
}
