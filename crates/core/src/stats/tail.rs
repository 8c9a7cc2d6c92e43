//! Tail risk of a per-path return: value at risk and expected shortfall.
//!
//! With the loss `L = -return` over the horizon, sorted over all paths:
//! `VaR_a` is the `a` quantile of `L` (linear between order statistics, as
//! [`percentile_sorted`]), and `ES_a` is the mean of the losses at or above
//! `VaR_a`, the average of the worst `(1 - a)` share of outcomes.

use serde::{Deserialize, Serialize};

use super::percentile_sorted;

/// VaR and ES at one confidence level, as losses (positive = a loss).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TailRisk {
    pub confidence: f64,
    pub value_at_risk: f64,
    pub expected_shortfall: f64,
}

impl TailRisk {
    /// The tail risk at `confidence` (for example 0.95) of losses sorted ascending.
    /// NaN for an empty sample.
    pub fn of_sorted_losses(sorted_losses: &[f64], confidence: f64) -> TailRisk {
        let value_at_risk = percentile_sorted(sorted_losses, confidence);
        let start = sorted_losses.partition_point(|loss| *loss < value_at_risk);
        let tail = &sorted_losses[start..];
        let expected_shortfall = if tail.is_empty() {
            f64::NAN
        } else {
            tail.iter().sum::<f64>() / tail.len() as f64
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
    fn uniform_losses_have_known_var_and_es() {
        // Losses at the midpoints of 100,000 equal slices of [0, 1]: the U(0, 1)
        // loss has VaR_a = a and ES_a = (1 + a) / 2.
        let n = 100_000;
        let losses: Vec<f64> = (0..n).map(|i| (i as f64 + 0.5) / n as f64).collect();
        for a in [0.95, 0.99] {
            let tail = TailRisk::of_sorted_losses(&losses, a);
            assert!((tail.value_at_risk - a).abs() < 1e-4, "{tail:?}");
            assert!(
                (tail.expected_shortfall - (1.0 + a) / 2.0).abs() < 1e-4,
                "{tail:?}"
            );
        }
    }

    #[test]
    fn the_worst_outcomes_set_the_shortfall() {
        let losses: Vec<f64> = (1..=100).map(f64::from).collect();
        let tail = TailRisk::of_sorted_losses(&losses, 0.95);
        // Type-7 quantile: 1 + 0.95 * 99 = 95.05; the losses above it are 96..=100.
        assert!((tail.value_at_risk - 95.05).abs() < 1e-12);
        assert_eq!(tail.expected_shortfall, 98.0);
    }

    #[test]
    fn an_empty_sample_has_no_tail() {
        let tail = TailRisk::of_sorted_losses(&[], 0.95);
        assert!(tail.value_at_risk.is_nan() && tail.expected_shortfall.is_nan());
    }
}
