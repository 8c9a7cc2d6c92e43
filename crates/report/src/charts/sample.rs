//! A sorted sample of one per-path figure: quantiles and histograms in one pass
//! each, at any number of paths.

use stormglass_core::stats::percentile_sorted;

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
    pub fn new(values: impl Iterator<Item = f64>) -> Option<Sample> {
        let mut paths = 0;
        let mut sorted: Vec<f64> = values
            .inspect(|_| paths += 1)
            .filter(|v| v.is_finite())
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

    /// The shares of all paths below `lower` and above `upper`: the values that
    /// [`Sample::histogram`] counts in its end bins.
    pub fn shares_outside(&self, lower: f64, upper: f64) -> (f64, f64) {
        let below = self.sorted.partition_point(|v| *v < lower);
        let above = self.sorted.len() - self.sorted.partition_point(|v| *v <= upper);
        let n = self.paths as f64;
        (below as f64 / n, above as f64 / n)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_of_all_paths_and_outliers_land_in_the_end_bins() {
        // Five paths, one without a value: shares sum to 4/5.
        let sample = Sample::new([-1.0f64, 0.1, 0.6, 2.0, f64::NAN].into_iter()).unwrap();
        assert_eq!(sample.paths, 5);
        let bins = sample.histogram(0.0, 1.0, 2);
        assert_eq!(bins.len(), 2);
        assert_eq!(
            (bins[0].lower, bins[0].upper, bins[1].upper),
            (0.0, 0.5, 1.0)
        );
        assert!((bins[0].share - 0.4).abs() < 1e-12, "{bins:?}");
        assert!((bins[1].share - 0.4).abs() < 1e-12, "{bins:?}");
    }

    #[test]
    fn shares_outside_count_what_the_end_bins_absorb() {
        let sample =
            Sample::new([-1.0f64, 0.0, 0.1, 0.6, 1.0, 2.0, 3.0, f64::NAN].into_iter()).unwrap();
        // Of 8 paths: one below 0, two above 1 (the bounds themselves are inside).
        assert_eq!(sample.shares_outside(0.0, 1.0), (1.0 / 8.0, 2.0 / 8.0));
        assert_eq!(sample.shares_outside(-5.0, 5.0), (0.0, 0.0));
    }

    #[test]
    fn a_column_without_values_has_no_sample() {
        assert!(Sample::new([f64::NAN, f64::NAN].into_iter()).is_none());
        assert!(Sample::new(std::iter::empty()).is_none());
    }

    #[test]
    fn the_quantile_curve_runs_from_minimum_to_maximum() {
        let sample = Sample::new([3.0f64, 1.0, 2.0].into_iter()).unwrap();
        let curve = sample.quantile_curve(4);
        assert_eq!(curve.first(), Some(&(1.0, 0.0)));
        assert_eq!(curve.last(), Some(&(3.0, 1.0)));
        assert_eq!(curve[2], (2.0, 0.5));
    }
}
