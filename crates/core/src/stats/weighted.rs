//! Figures of a per-path column when paths carry probabilities (a views
//! posterior, or the prior they are compared with): mean, quantiles, VaR and
//! ES, the probability of an event.
//!
//! The quantile is the inverse of the weighted distribution function, the
//! smallest value whose cumulative probability reaches `p` (Hyndman and Fan
//! type 1): with unequal weights there is no order statistic to interpolate
//! between, and prior and posterior are read the same way so that they
//! compare. ES is Acerbi and Tasche's: the probability-weighted mean of the
//! worst `1 - a` of the distribution, the atom at VaR counted in part.

use super::TailRisk;

/// A column's finite values sorted ascending with their probabilities,
/// renormalised over those values (a path without the figure drops out).
#[derive(Debug, Clone)]
pub struct WeightedSample {
    values: Vec<f64>,
    /// Each value's probability, and the cumulative probability up to and
    /// including it.
    probabilities: Vec<f64>,
    cumulative: Vec<f64>,
    total: f64,
}

impl WeightedSample {
    pub fn new(values: &[f64], weights: &[f64]) -> WeightedSample {
        let mut pairs: Vec<(f64, f64)> = values
            .iter()
            .zip(weights)
            .filter(|(v, w)| v.is_finite() && **w > 0.0)
            .map(|(v, w)| (*v, *w))
            .collect();
        pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let total: f64 = pairs.iter().map(|p| p.1).sum();
        let mut running = 0.0;
        let mut cumulative = Vec::with_capacity(pairs.len());
        let probabilities: Vec<f64> = pairs.iter().map(|(_, w)| w / total).collect();
        for q in &probabilities {
            running += q;
            cumulative.push(running);
        }
        WeightedSample {
            values: pairs.into_iter().map(|p| p.0).collect(),
            probabilities,
            cumulative,
            total,
        }
    }

    /// The probability the paths with a value carry (1 for a complete column).
    pub fn coverage(&self) -> f64 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The smallest value whose cumulative probability reaches `p`; NaN when empty.
    pub fn quantile(&self, p: f64) -> f64 {
        if self.values.is_empty() {
            return f64::NAN;
        }
        let at = self
            .cumulative
            .partition_point(|c| *c < p.clamp(0.0, 1.0) * (1.0 - 1e-12));
        self.values[at.min(self.values.len() - 1)]
    }

    pub fn mean(&self) -> f64 {
        if self.values.is_empty() {
            return f64::NAN;
        }
        self.values
            .iter()
            .zip(&self.probabilities)
            .map(|(v, q)| v * q)
            .sum()
    }

    /// P(value <= x).
    pub fn at_most(&self, x: f64) -> f64 {
        let at = self.values.partition_point(|v| *v <= x);
        if at == 0 {
            0.0
        } else {
            self.cumulative[at - 1]
        }
    }

    /// VaR and ES at `confidence` of a sample of losses (positive = a loss).
    pub fn tail_risk(&self, confidence: f64) -> TailRisk {
        let value_at_risk = self.quantile(confidence);
        let expected_shortfall = if self.values.is_empty() || confidence >= 1.0 {
            f64::NAN
        } else {
            // E[L | worst 1 - a] = (sum_{L > VaR} q L + (F(VaR) - a) VaR) / (1 - a).
            let start = self.values.partition_point(|v| *v <= value_at_risk);
            let below = if start == 0 {
                0.0
            } else {
                self.cumulative[start - 1]
            };
            let beyond: f64 = self.values[start..]
                .iter()
                .zip(&self.probabilities[start..])
                .map(|(v, q)| v * q)
                .sum();
            (beyond + (below - confidence).max(0.0) * value_at_risk) / (1.0 - confidence)
        };
        TailRisk {
            confidence,
            value_at_risk,
            expected_shortfall,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_weights_on_a_uniform_grid_have_known_figures() {
        // Losses at the midpoints of n equal slices of [0, 1]: the U(0, 1)
        // loss has mean 1/2, VaR_a = a and ES_a = (1 + a) / 2, to 1/n.
        let n = 100_000;
        let losses: Vec<f64> = (0..n).map(|i| (i as f64 + 0.5) / n as f64).collect();
        let sample = WeightedSample::new(&losses, &vec![1.0 / n as f64; n]);
        assert!((sample.mean() - 0.5).abs() < 1e-12);
        for a in [0.95, 0.99] {
            let tail = sample.tail_risk(a);
            assert!((tail.value_at_risk - a).abs() < 2.0 / n as f64, "{tail:?}");
            assert!((tail.expected_shortfall - (1.0 + a) / 2.0).abs() < 2.0 / n as f64);
        }
        assert!((sample.at_most(0.25) - 0.25).abs() < 2.0 / n as f64);
    }

    #[test]
    fn weights_move_the_figures_as_probabilities() {
        // Two values: 0 with probability 0.9, 1 with 0.1. ES at 0.95 is 1; at
        // 0.85 it mixes the atom at 0: (0.1 * 1 + 0.05 * 0) / 0.15.
        let sample = WeightedSample::new(&[1.0, 0.0, f64::NAN], &[0.1, 0.9, 0.5]);
        assert_eq!(sample.quantile(0.5), 0.0);
        assert_eq!(sample.quantile(0.95), 1.0);
        assert!((sample.mean() - 0.1).abs() < 1e-15);
        assert_eq!(sample.tail_risk(0.95).expected_shortfall, 1.0);
        assert!((sample.tail_risk(0.85).expected_shortfall - 0.1 / 0.15).abs() < 1e-12);
        assert!((sample.coverage() - 1.0).abs() < 1e-15);
        assert_eq!(sample.at_most(0.5), 0.9);
    }
}
