//! Distribution summaries of one per-path figure.

use serde::{Deserialize, Serialize};

/// The percentiles every summary reports.
pub const PERCENTILES: [f64; 9] = [1.0, 5.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0];

/// Mean, dispersion and percentiles of a per-path figure over all paths.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Distribution {
    /// Paths with a value (a regime never entered has no first-entry time).
    pub count: u64,
    pub mean: f64,
    pub sd: f64,
    /// Standard error of the mean: `sd / sqrt(count)`.
    pub sem: f64,
    /// `p01`, `p05`, ..., `p99`.
    pub percentiles: indexmap::IndexMap<String, f64>,
}

impl Distribution {
    /// Summarises `values`, skipping NaN. The sum runs in index order, so the result
    /// does not depend on how the values were produced.
    pub fn from_values(values: impl Iterator<Item = f64>) -> Distribution {
        let mut sorted: Vec<f64> = values.filter(|v| !v.is_nan()).collect();
        let n = sorted.len();
        let (mean, sd) = if n == 0 {
            (f64::NAN, f64::NAN)
        } else {
            let mean = sorted.iter().sum::<f64>() / n as f64;
            let squares: f64 = sorted.iter().map(|v| (v - mean) * (v - mean)).sum();
            let sd = if n <= 1 {
                0.0
            } else if squares.is_finite() {
                (squares / (n - 1) as f64).sqrt()
            } else {
                // Levels above ~1e154 overflow when squared: the same sum in
                // units of the largest deviation.
                let scale = sorted.iter().map(|v| (v - mean).abs()).fold(0.0, f64::max);
                let scaled: f64 = sorted
                    .iter()
                    .map(|v| ((v - mean) / scale) * ((v - mean) / scale))
                    .sum();
                scale * (scaled / (n - 1) as f64).sqrt()
            };
            (mean, sd)
        };
        sorted.sort_unstable_by(f64::total_cmp);
        let percentiles = PERCENTILES
            .iter()
            .map(|p| {
                (
                    format!("p{:02}", *p as u32),
                    percentile_sorted(&sorted, *p / 100.0),
                )
            })
            .collect();
        Distribution {
            count: n as u64,
            mean,
            sd,
            sem: sd / (n as f64).sqrt(),
            percentiles,
        }
    }

    pub fn percentile(&self, name: &str) -> f64 {
        self.percentiles.get(name).copied().unwrap_or(f64::NAN)
    }
}

/// The `p` quantile of sorted values, linear between order statistics
/// (Hyndman and Fan type 7, the default of R and NumPy).
pub fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let h = (n - 1) as f64 * p.clamp(0.0, 1.0);
            let below = h.floor() as usize;
            let above = (below + 1).min(n - 1);
            sorted[below] + (h - below as f64) * (sorted[above] - sorted[below])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_match_numpy_linear() {
        let sorted = [1.0, 2.0, 3.0, 4.0];
        // numpy.percentile([1, 2, 3, 4], [25, 50, 90]) = [1.75, 2.5, 3.7]
        assert!((percentile_sorted(&sorted, 0.25) - 1.75).abs() < 1e-12);
        assert!((percentile_sorted(&sorted, 0.5) - 2.5).abs() < 1e-12);
        assert!((percentile_sorted(&sorted, 0.9) - 3.7).abs() < 1e-12);
    }

    #[test]
    fn the_sd_of_huge_values_does_not_overflow() {
        let d = Distribution::from_values([1e300, 3e300].into_iter());
        assert!(
            (d.sd / (2f64.sqrt() * 1e300) - 1.0).abs() < 1e-12,
            "{}",
            d.sd
        );
    }

    #[test]
    fn distribution_skips_missing_values() {
        let d = Distribution::from_values([1.0f64, f64::NAN, 3.0].into_iter());
        assert_eq!(d.count, 2);
        assert_eq!(d.mean, 2.0);
        assert!((d.sd - 2f64.sqrt()).abs() < 1e-12);
    }
}
