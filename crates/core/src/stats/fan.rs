//! Fan-chart bands over all paths in memory that does not grow with the number of
//! paths: one histogram of `FAN_BINS` bins per step and asset, in the asset's state
//! space (log-level for log-price assets, level for OU assets).
//!
//! The grid for each step is set from a pilot of the first paths: their range,
//! widened by half its width on each side. With 1,000 pilot paths a bin is then
//! about 1/500 of four times the pilot's spread (about 0.02 standard deviations for
//! a normal marginal), and values outside the grid fall into the end bins, which
//! only the 0th and 100th percentiles would read. Counts are integers, so merging
//! histograms is exact in any order.

use crate::model::Lanes;

/// Bins per step and asset.
pub const FAN_BINS: usize = 256;

/// Where each step's bins lie.
#[derive(Debug, Clone)]
pub struct FanGrid {
    pub steps: usize,
    pub series: usize,
    lower: Vec<f64>,
    width: Vec<f64>,
    inverse_width: Vec<f64>,
}

impl FanGrid {
    /// A grid covering `values` (per point `t * series + s`, min and max over the pilot).
    pub fn from_ranges(steps: usize, series: usize, minimum: &[f64], maximum: &[f64]) -> FanGrid {
        let mut lower = Vec::with_capacity(minimum.len());
        let mut width = Vec::with_capacity(minimum.len());
        for (lo, hi) in minimum.iter().zip(maximum) {
            let spread = hi - lo;
            if spread > 0.0 {
                let pad = 0.5 * spread;
                lower.push(lo - pad);
                width.push((spread + 2.0 * pad) / FAN_BINS as f64);
            } else {
                // Every pilot path at one value (the start): a zero-width grid whose
                // every quantile is that value exactly.
                lower.push(*lo);
                width.push(0.0);
            }
        }
        FanGrid::from_edges(steps, series, lower, width).expect("one edge and one width per point")
    }

    /// The grid with these lower edges and bin widths per point (as [`FanGrid::edges`]
    /// gives them), or `None` where their lengths do not fit `steps` and `series`.
    pub fn from_edges(
        steps: usize,
        series: usize,
        lower: Vec<f64>,
        width: Vec<f64>,
    ) -> Option<FanGrid> {
        let points = (steps + 1) * series;
        if lower.len() != points || width.len() != points {
            return None;
        }
        let inverse_width = width
            .iter()
            .map(|w| if *w > 0.0 { 1.0 / w } else { 0.0 })
            .collect();
        Some(FanGrid {
            steps,
            series,
            lower,
            width,
            inverse_width,
        })
    }

    /// Every point's lower edge and bin width, `[t * series + s]`.
    pub fn edges(&self) -> (&[f64], &[f64]) {
        (&self.lower, &self.width)
    }

    #[inline]
    fn bin(&self, point: usize, value: f64) -> usize {
        bin_of(value, self.lower[point], self.inverse_width[point])
    }
}

/// The bin of `value`; values below the grid land in bin 0, above it in the last.
/// (`as usize` saturates: negative and NaN give 0.)
#[inline]
fn bin_of(value: f64, lower: f64, inverse_width: f64) -> usize {
    (((value - lower) * inverse_width) as usize).min(FAN_BINS - 1)
}

/// Counts per (step, asset, bin).
#[derive(Debug, Clone)]
pub struct FanHistogram {
    counts: Vec<u32>,
    series: usize,
}

impl FanHistogram {
    pub fn new(grid: &FanGrid) -> FanHistogram {
        FanHistogram {
            counts: vec![0; (grid.steps + 1) * grid.series * FAN_BINS],
            series: grid.series,
        }
    }

    /// Adds the state of every lane at grid point `t`.
    #[inline]
    pub fn push_lanes(&mut self, grid: &FanGrid, t: usize, lanes: &Lanes) {
        self.touch_step(t);
        for s in 0..self.series {
            let point = t * self.series + s;
            // A fixed-size row: `bin_of` is below FAN_BINS, so no bounds check.
            let row: &mut [u32; FAN_BINS] = (&mut self.counts
                [point * FAN_BINS..(point + 1) * FAN_BINS])
                .try_into()
                .expect("a row holds FAN_BINS counts");
            let (lower, inverse_width) = (grid.lower[point], grid.inverse_width[point]);
            for &x in lanes.asset(s) {
                row[bin_of(x, lower, inverse_width)] += 1;
            }
        }
    }

    /// Reads one count per cache line of step `t`'s rows. They were last touched
    /// a batch ago and have left the nearer caches; these reads are independent of
    /// each other, so the lines come back together, where the increments alone
    /// would bring them back one scattered miss at a time. (A prefetch instruction
    /// would do the same without waiting, but needs `unsafe`.)
    #[inline]
    fn touch_step(&self, t: usize) {
        let row_span = self.series * FAN_BINS;
        let rows = &self.counts[t * row_span..(t + 1) * row_span];
        // 16 counts are 64 bytes, a cache line.
        std::hint::black_box(rows.iter().step_by(16).fold(0u32, |a, &b| a ^ b));
    }

    /// Adds one value at grid point `(t, s)`.
    #[inline]
    pub fn push(&mut self, grid: &FanGrid, t: usize, s: usize, value: f64) {
        let point = t * self.series + s;
        self.counts[point * FAN_BINS + grid.bin(point, value)] += 1;
    }

    /// Every count, `[(t * series + s) * FAN_BINS + bin]`.
    pub fn counts(&self) -> &[u32] {
        &self.counts
    }

    /// Every count, to add another histogram's into (as [`FanHistogram::merge`]).
    pub fn counts_mut(&mut self) -> &mut [u32] {
        &mut self.counts
    }

    pub fn merge(&mut self, other: &FanHistogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    /// The `p` quantile (0..=1) at `(t, s)`, linear within the bin it falls in.
    pub fn quantile(&self, grid: &FanGrid, t: usize, s: usize, p: f64) -> f64 {
        let point = t * self.series + s;
        let row = &self.counts[point * FAN_BINS..(point + 1) * FAN_BINS];
        let total: u64 = row.iter().map(|c| *c as u64).sum();
        if total == 0 {
            return f64::NAN;
        }
        let target = p.clamp(0.0, 1.0) * total as f64;
        let mut below = 0.0;
        for (bin, &count) in row.iter().enumerate() {
            let count = count as f64;
            if count > 0.0 && below + count >= target {
                let within = ((target - below) / count).clamp(0.0, 1.0);
                return grid.lower[point] + (bin as f64 + within) * grid.width[point];
            }
            below += count;
        }
        grid.lower[point] + FAN_BINS as f64 * grid.width[point]
    }

    pub fn bytes(steps: usize, series: usize) -> u64 {
        ((steps + 1) * series * FAN_BINS * std::mem::size_of::<u32>()) as u64
    }
}
