//! Importance sampling: a run may draw its regime moves and its events'
//! Poisson arrivals under a tilted measure `Q` (exit intensities into chosen
//! regimes and chosen events' rates multiplied by factors) and carry, per
//! path, the log likelihood ratio `ln(dP/dQ)` of every draw the tilt changed.
//! Weighting each path by its ratio makes every figure an unbiased estimate
//! under the scenario's own measure `P`. The tilt is how a run samples, not
//! what the market does, so it lives in the run's recipe, not in the scenario.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::scenario::load::unknown_name;

/// The largest factor a tilt may put on an intensity: beyond it a path's
/// likelihood ratio spans more orders of magnitude than a run can average.
pub const MAX_TILT_FACTOR: f64 = 100.0;

/// The largest total exit probability of a step the tilt raises the chain's
/// to (unless the scenario's own is higher): the tilted chain must keep a
/// chance to stay wherever the plain one has, or staying would be a move the
/// tilted run never makes and the weights could not correct.
pub const MAX_TILTED_EXIT: f64 = 0.5;

/// Factors by name: per destination regime on every exit intensity into it,
/// per Poisson event on its rate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tilt {
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub regimes: IndexMap<String, f64>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub events: IndexMap<String, f64>,
}

impl Tilt {
    /// Whether it changes nothing (no factor, or every factor 1).
    pub fn is_neutral(&self) -> bool {
        self.regimes
            .values()
            .chain(self.events.values())
            .all(|f| *f == 1.0)
    }
}

/// For people: "exits into crisis x8, crash's rate x5" ("no factor" when empty).
impl std::fmt::Display for Tilt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let regimes = self
            .regimes
            .iter()
            .map(|(name, factor)| format!("exits into {name} x{factor}"));
        let events = self
            .events
            .iter()
            .map(|(name, factor)| format!("{name}'s rate x{factor}"));
        let factors: Vec<String> = regimes.chain(events).collect();
        if factors.is_empty() {
            write!(f, "no factor")
        } else {
            write!(f, "{}", factors.join(", "))
        }
    }
}

/// A tilt as the step reads it: a factor per destination regime and per event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tilting {
    pub spec: Tilt,
    pub into: Vec<f64>,
    pub rates: Vec<f64>,
}

impl Tilting {
    /// Checks `tilt`'s names against the model's regimes and Poisson events
    /// (`poisson[e]`) and its factors against `(0, MAX_TILT_FACTOR]`.
    pub fn new(
        tilt: &Tilt,
        regimes: &[String],
        events: &[String],
        poisson: &[bool],
    ) -> Result<Tilting, String> {
        let check = |kind: &str, name: &str, factor: f64| {
            if factor.is_finite() && factor > 0.0 && factor <= MAX_TILT_FACTOR {
                Ok(())
            } else {
                Err(format!(
                    "tilt of {kind} `{name}`: factor {factor} is outside (0, {MAX_TILT_FACTOR}]"
                ))
            }
        };
        let mut into = vec![1.0; regimes.len()];
        for (name, &factor) in &tilt.regimes {
            let r = regimes
                .iter()
                .position(|n| n == name)
                .ok_or_else(|| format!("tilt: {}", unknown_name("regime", name, regimes)))?;
            check("regime", name, factor)?;
            into[r] = factor;
        }
        let mut rates = vec![1.0; events.len()];
        for (name, &factor) in &tilt.events {
            let e = events
                .iter()
                .position(|n| n == name)
                .ok_or_else(|| format!("tilt: {}", unknown_name("event", name, events)))?;
            check("event", name, factor)?;
            if !poisson[e] {
                return Err(format!(
                    "tilt of event `{name}`: only an event with a Poisson rate (`rate_per_year`) can be tilted; this one is dated or drawdown-triggered"
                ));
            }
            rates[e] = factor;
        }
        Ok(Tilting {
            spec: tilt.clone(),
            into,
            rates,
        })
    }
}

/// `ln(1 - e^{-h})`, the log probability of an arrival in one step at hazard
/// `h = rate dt`, without cancellation for small `h`.
fn ln_arrival_in_step(hazard: f64) -> f64 {
    (-(-hazard).exp_m1()).ln()
}

/// `ln(dP/dQ)` of one Poisson gap drawn from step `from` on: at per-step
/// hazard `hazard = rate dt` under `P` and `factor` times it under `Q`, the
/// first arrival falls `k` steps later with probability `(1 - e^{-h})
/// e^{-k h}` (geometric). An arrival at or after `end` (the event's end or
/// the horizon, whichever comes first) is never seen, so only the censored
/// tail `P(k >= end - from) = e^{-(end - from) h}` enters.
pub fn arrival_log_ratio(hazard: f64, factor: f64, from: usize, arrival: usize, end: usize) -> f64 {
    if factor == 1.0 || from >= end {
        return 0.0;
    }
    let tilted = hazard * factor;
    if arrival < end {
        let gap = (arrival - from) as f64;
        gap * (tilted - hazard) + ln_arrival_in_step(hazard) - ln_arrival_in_step(tilted)
    } else {
        (end - from) as f64 * (tilted - hazard)
    }
}

/// The probability of the outcome that fills `[below, upto)` of a uniform
/// draw: outcomes are laid end to end from 0, and a total past 1 cuts off
/// the last ones.
pub fn slot_probability(below: f64, upto: f64) -> f64 {
    upto.min(1.0) - below.min(1.0)
}

/// `ln(dP/dQ)` of staying when the exits together have probability `plain`
/// under `P` and `tilted` under `Q`.
pub fn stay_log_ratio(plain: f64, tilted: f64) -> f64 {
    (-plain.min(1.0)).ln_1p() - (-tilted.min(1.0)).ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gap's log ratio against the geometric probabilities written out.
    #[test]
    fn arrival_ratio_is_the_geometric_ratio() {
        let (rate, dt, factor) = (0.8, 1.0 / 252.0, 6.0);
        let (h, g) = (rate * dt, rate * dt * factor);
        let geometric =
            |hazard: f64, k: usize| (1.0 - (-hazard).exp()) * (-hazard * k as f64).exp();
        let direct = (geometric(h, 37) / geometric(g, 37)).ln();
        assert!((arrival_log_ratio(h, factor, 100, 137, 500) - direct).abs() < 1e-12);
        // Censored: the tail sums of the two geometric laws.
        let tail = |hazard: f64, m: usize| (-hazard * m as f64).exp();
        let direct = (tail(h, 400) / tail(g, 400)).ln();
        assert!((arrival_log_ratio(h, factor, 100, usize::MAX, 500) - direct).abs() < 1e-12);
        assert!((arrival_log_ratio(h, factor, 100, 650, 500) - direct).abs() < 1e-12);
        assert_eq!(arrival_log_ratio(h, 1.0, 100, 137, 500), 0.0);
        assert_eq!(arrival_log_ratio(h, factor, 500, usize::MAX, 500), 0.0);
    }

    #[test]
    fn stay_and_slots_are_probabilities() {
        assert!((stay_log_ratio(0.01, 0.05) - (0.99f64 / 0.95).ln()).abs() < 1e-15);
        assert_eq!(slot_probability(0.2, 0.5), 0.5 - 0.2);
        assert_eq!(slot_probability(0.9, 1.4), 1.0 - 0.9);
        assert_eq!(slot_probability(1.2, 1.4), 0.0);
    }

    #[test]
    fn names_and_factors_are_checked() {
        let regimes = vec!["calm".to_string(), "crisis".to_string()];
        let events = vec!["shock".to_string(), "vote".to_string()];
        let poisson = [true, false];
        let mut tilt = Tilt::default();
        tilt.regimes.insert("crisi".into(), 3.0);
        let error = Tilting::new(&tilt, &regimes, &events, &poisson).unwrap_err();
        assert!(error.contains("did you mean `crisis`"), "{error}");
        tilt.regimes.clear();
        tilt.regimes.insert("crisis".into(), 0.0);
        assert!(Tilting::new(&tilt, &regimes, &events, &poisson).is_err());
        tilt.regimes.insert("crisis".into(), 4.0);
        tilt.events.insert("vote".into(), 2.0);
        let error = Tilting::new(&tilt, &regimes, &events, &poisson).unwrap_err();
        assert!(error.contains("Poisson"), "{error}");
        tilt.events.clear();
        tilt.events.insert("shock".into(), 2.0);
        let tilting = Tilting::new(&tilt, &regimes, &events, &poisson).unwrap();
        assert_eq!(tilting.into, vec![1.0, 4.0]);
        assert_eq!(tilting.rates, vec![2.0, 1.0]);
    }
}
