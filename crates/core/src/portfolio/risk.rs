//! Risk measures of a per-path P&L sample: value at risk, expected shortfall and
//! each position's contribution to it, quantile grids for charts.
//!
//! Losses are positive numbers. With `n` paths and level `alpha`, the tail is
//! the `k = ceil((1 - alpha) n)` worst paths (ties broken by path index, so the
//! set is deterministic); VaR is the loss of the k-th worst path and ES the mean
//! loss over the tail, so `ES >= VaR` always. A position's contribution is its
//! mean loss over the same tail (Euler allocation of ES under the empirical
//! measure), so the contributions add up to ES.

/// The tail of a P&L sample at one confidence level.
#[derive(Debug, Clone, PartialEq)]
pub struct Tail {
    pub level: f64,
    pub var: f64,
    pub es: f64,
    /// Path indices of the tail, worst first.
    pub paths: Vec<usize>,
}

/// Path indices sorted from the worst P&L to the best (NaN last, ties by index).
pub fn worst_first(pnl: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..pnl.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (pnl[a], pnl[b]);
        match (x.is_nan(), y.is_nan()) {
            (false, false) => x.total_cmp(&y).then(a.cmp(&b)),
            (nan_a, nan_b) => nan_a.cmp(&nan_b).then(a.cmp(&b)),
        }
    });
    order
}

/// VaR and ES at `level` (0.95, 0.99) from paths ordered by [`worst_first`].
pub fn tail(pnl: &[f64], order: &[usize], level: f64) -> Tail {
    let n = order.len();
    if n == 0 {
        return Tail {
            level,
            var: f64::NAN,
            es: f64::NAN,
            paths: Vec::new(),
        };
    }
    let k = tail_size(n, level);
    let paths = order[..k].to_vec();
    let var = -pnl[paths[k - 1]];
    let es = -paths.iter().map(|&p| pnl[p]).sum::<f64>() / k as f64;
    Tail {
        level,
        var,
        es,
        paths,
    }
}

/// The number of paths in the tail at `level` of `n` (at least one).
fn tail_size(n: usize, level: f64) -> usize {
    // 1 - 0.95 is 0.050000000000000044 in floating point: without the nudge, 100
    // paths would give a tail of 6.
    (((1.0 - level) * n as f64 - 1e-9).ceil() as usize).clamp(1, n)
}

/// [`tail`]'s VaR and ES from P&Ls sorted ascending (none NaN), which are
/// the values [`worst_first`] orders: the same numbers, summed in the same order.
pub fn tail_of_ascending(sorted: &[f64], level: f64) -> (f64, f64) {
    if sorted.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let k = tail_size(sorted.len(), level);
    let worst = &sorted[..k];
    (-worst[k - 1], -worst.iter().sum::<f64>() / k as f64)
}

/// A position's contribution to the ES of `tail`: its mean loss over the tail paths.
pub fn contribution(position_pnl: &[f64], tail: &Tail) -> f64 {
    if tail.paths.is_empty() {
        return f64::NAN;
    }
    -tail.paths.iter().map(|&p| position_pnl[p]).sum::<f64>() / tail.paths.len() as f64
}

/// The 101 quantiles p0, p1, ..., p100 of sorted values (type 7), for charts
/// (a distribution's shape, or a CDF read sideways).
pub fn quantile_grid(sorted: &[f64]) -> Vec<f64> {
    (0..=100)
        .map(|q| crate::stats::percentile_sorted(sorted, q as f64 / 100.0))
        .collect()
}

/// The paths losing more than `threshold` (a P&L below `-threshold`).
pub fn losses_beyond(pnl: impl IntoIterator<Item = f64>, threshold: f64) -> usize {
    pnl.into_iter().filter(|v| *v < -threshold).count()
}

/// The share of paths losing more than `threshold` and its standard error.
pub fn loss_probability(pnl: &[f64], threshold: f64) -> (f64, f64) {
    let n = pnl.len() as f64;
    let p = losses_beyond(pnl.iter().copied(), threshold) as f64 / n;
    (p, (p * (1.0 - p) / n).sqrt())
}
