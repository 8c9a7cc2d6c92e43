//! A sorted sample of one per-path figure: quantiles and histograms in one pass
//! each, at any number of paths.

use crate::stats::percentile_sorted;

/// The finite values of a per-path column, sorted ascending.
#[derive(Debug, Clone)]
pub struct Sample {
    pub sorted: Vec<f64>,
    /// Paths in the run, with or without a value.
    pub paths: usize,
}

/// One histogram bin: `[lower, upper)` and the share of all paths in it.
#[derive(Debug, Clone, Copy)]
pub struct Bin {
    pub lower: f64,
    pub upper: f64,
    pub share: f64,
}

impl Sample {
    pub fn new(values: impl Iterator<Item = f32>) -> Option<Sample> {
        let mut paths = 0;
        let mut sorted: Vec<f64> = values
            .inspect(|_| paths += 1)
            .filter(|v| v.is_finite())
            .map(f64::from)
            .collect();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_unstable_by(f64::total_cmp);
        Some(Sample { sorted, paths })
    }

    pub fn quantile(&self, p: f64) -> f64 {
        percentile_sorted(&self.sorted, p)
    }

    pub fn mean(&self) -> f64 {
        self.sorted.iter().sum::<f64>() / self.sorted.len() as f64
    }

    /// `(value, cumulative probability)` at `points + 1` evenly spaced probabilities.
    pub fn quantile_curve(&self, points: usize) -> Vec<(f64, f64)> {
        (0..=points)
            .map(|k| {
                let p = k as f64 / points as f64;
                (self.quantile(p), p)
            })
            .collect()
    }

    /// `bins` equal bins over `[lower, upper]`; values outside go to the end bins.
    /// Shares are of all paths, so a figure some paths lack sums to less than 1.
    pub fn histogram(&self, lower: f64, upper: f64, bins: usize) -> Vec<Bin> {
        let width = (upper - lower) / bins as f64;
        let mut counts = vec![0u64; bins];
        if width > 0.0 {
            for v in &self.sorted {
                let bin = (((v - lower) / width).max(0.0) as usize).min(bins - 1);
                counts[bin] += 1;
            }
        } else {
            counts[0] = self.sorted.len() as u64;
        }
        counts
            .iter()
            .enumerate()
            .map(|(i, c)| Bin {
                lower: lower + i as f64 * width,
                upper: lower + (i + 1) as f64 * width,
                share: *c as f64 / self.paths as f64,
            })
            .collect()
    }

    /// A range for the x axis covering the 0.5th to 99.5th percentiles, padded,
    /// never empty.
    pub fn display_range(&self) -> (f64, f64) {
        let (lo, hi) = (self.quantile(0.005), self.quantile(0.995));
        padded(lo, hi)
    }
}

/// `[lo, hi]` widened by 5% on each side (by 1% of the value, or 0.01, if empty).
pub fn padded(lo: f64, hi: f64) -> (f64, f64) {
    let span = hi - lo;
    if span > 0.0 {
        (lo - 0.05 * span, hi + 0.05 * span)
    } else {
        let pad = (lo.abs() * 0.01).max(0.01);
        (lo - pad, hi + pad)
    }
}
