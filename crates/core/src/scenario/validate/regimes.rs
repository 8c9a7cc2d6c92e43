//! The regime chain: regimes and their intensities, the initial distribution,
//! state-dependent transitions and the bound on exit probabilities per step.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use super::*;

pub(super) fn build_regimes(
    raw: &RawScenario,
    names: &[String],
    drivers: &[String],
    default_correlation: &DMatrix<f64>,
    check: &mut Checker<'_>,
) -> Vec<Regime> {
    let empty = raw::RawRegime::default();
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let regime = raw.regimes.get(name).unwrap_or(&empty);
            let key = format!("regimes.{name}");
            let mut intensities = vec![0.0; names.len()];
            let mut set = |check: &mut Checker<'_>, entries: &IndexMap<String, f64>, field: &str, scale: f64| {
                for (to, value) in entries {
                    let entry_key = format!("{key}.{field}.{to}");
                    let Some(j) = check.lookup(&entry_key, "regime", to, names) else {
                        continue;
                    };
                    if j == i {
                        check.error(&entry_key, "a regime cannot transition to itself; list only the other regimes");
                        continue;
                    }
                    let value = check.range(&entry_key, *value, Closed(0.0), Open(f64::INFINITY));
                    intensities[j] = value * scale;
                }
            };
            match (&regime.intensities, regime.expected_duration_years, &regime.exit_weights) {
                (Some(_), Some(_), _) | (Some(_), _, Some(_)) => check.error(
                    &key,
                    "give either `intensities` or `expected_duration_years` with `exit_weights`, not both",
                ),
                (Some(entries), None, None) => set(check, entries, "intensities", 1.0),
                (None, Some(duration), Some(weights)) => {
                    let duration = check.range(&format!("{key}.expected_duration_years"), duration, Open(0.0), Closed(1000.0));
                    let total: f64 = weights.values().filter(|w| **w > 0.0).sum();
                    if !(total > 0.0) {
                        check.error(format!("{key}.exit_weights"), "weights must be >= 0 with a positive sum");
                    } else if duration > 0.0 {
                        set(check, weights, "exit_weights", 1.0 / (duration * total));
                    }
                }
                (None, Some(_), None) => check.error(
                    format!("{key}.exit_weights"),
                    "`expected_duration_years` needs `exit_weights`: the relative chance of each destination",
                ),
                (None, None, Some(_)) => check.error(
                    format!("{key}.expected_duration_years"),
                    "`exit_weights` needs `expected_duration_years`",
                ),
                (None, None, None) => {} // absorbing regime
            }
            let correlation = match (&regime.correlation, &regime.correlation_pairs) {
                (Some(_), Some(_)) => {
                    check.error(&key, "give either `correlation` (a full matrix) or `correlation_pairs` (changes to the default), not both");
                    None
                }
                (Some(rows), None) => check_correlation(&format!("{key}.correlation"), rows, drivers, check),
                (None, Some(pairs)) => apply_pairs(&format!("{key}.correlation_pairs"), default_correlation, pairs, drivers, check),
                (None, None) => None,
            }
            .unwrap_or_else(|| default_correlation.clone());
            Regime {
                name: name.clone(),
                description: regime.description.clone(),
                intensities,
                correlation,
            }
        })
        .collect()
}

pub(super) fn build_initial(
    raw: &RawScenario,
    names: &[String],
    check: &mut Checker<'_>,
) -> Vec<f64> {
    let chain = &raw.regime_chain;
    let mut distribution = vec![0.0; names.len()];
    match (&chain.initial, &chain.initial_distribution) {
        (Some(_), Some(_)) => {
            check.error(
                "regime_chain",
                "give either `initial` or `initial_distribution`, not both",
            );
        }
        (Some(name), None) => {
            if let Some(i) = check.lookup("regime_chain.initial", "regime", name, names) {
                distribution[i] = 1.0;
            }
        }
        (None, Some(weights)) => {
            for (name, p) in weights {
                let key = format!("regime_chain.initial_distribution.{name}");
                if let Some(i) = check.lookup(&key, "regime", name, names) {
                    distribution[i] = check.range(&key, *p, Closed(0.0), Closed(1.0));
                }
            }
            let total: f64 = distribution.iter().sum();
            if !((total - 1.0).abs() <= 1e-9) {
                check.error(
                    "regime_chain.initial_distribution",
                    format!("probabilities sum to {total}; they must sum to 1"),
                );
            }
        }
        (None, None) => distribution[0] = 1.0,
    }
    distribution
}

pub(super) fn build_state_terms(
    raw: &RawScenario,
    regime_names: &[String],
    asset_names: &[String],
    assets: &[Asset],
    flows: Option<&Flows>,
    check: &mut Checker<'_>,
) -> Vec<StateTerm> {
    let mut terms = Vec::new();
    for (index, term) in raw.regime_chain.state_dependence.iter().enumerate() {
        let key = format!("regime_chain.state_dependence[{index}]");
        let from = check.lookup(&format!("{key}.from"), "regime", &term.from, regime_names);
        let to = check.lookup(&format!("{key}.to"), "regime", &term.to, regime_names);
        if from.is_some() && from == to {
            check.error(format!("{key}.to"), "must differ from `from`");
        }
        let coefficient = check.range(
            &format!("{key}.coefficient"),
            term.coefficient,
            Closed(-50.0),
            Closed(50.0),
        );
        let feature = match term.feature.split_once('.') {
            None if term.feature == "pressure" => match flows {
                Some(flows) => Some(Feature::Pressure { cap: flows.max_pressure }),
                None => {
                    check.error(format!("{key}.feature"), "\"pressure\" needs a [flows] table");
                    None
                }
            },
            Some(("drawdown", asset)) => check
                .lookup(&format!("{key}.feature"), "asset", asset, asset_names)
                .and_then(|a| {
                    if assets.get(a).is_some_and(|a| a.is_log()) {
                        Some(Feature::Drawdown { asset: a })
                    } else {
                        check.error(format!("{key}.feature"), format!("drawdown of `{asset}` is not a fraction: only log-price assets (gbm, heston) can drive transitions"));
                        None
                    }
                }),
            Some(("valuation", asset)) => check
                .lookup(&format!("{key}.feature"), "asset", asset, asset_names)
                .and_then(|a| match assets.get(a).and_then(|a| a.jump_scaling) {
                    Some(scaling) => Some(Feature::Valuation {
                        asset: a,
                        bound: scaling.max_factor.ln(),
                    }),
                    None => {
                        check.error(format!("{key}.feature"), format!("valuation of `{asset}` needs its `jump_scaling` table (valuation_initial, valuation_reference, ...)"));
                        None
                    }
                }),
            _ => {
                check.error(
                    format!("{key}.feature"),
                    format!("unknown feature \"{}\"; valid: \"drawdown.<asset>\", \"pressure\", \"valuation.<asset>\"", term.feature),
                );
                None
            }
        };
        if let (Some(from), Some(to), Some(feature)) = (from, to, feature) {
            terms.push(StateTerm {
                from,
                to,
                feature,
                coefficient,
            });
        }
    }
    terms
}

/// Refuses a chain whose exit probability per step could pass 0.5 once every event
/// multiplier and state term is at its largest: beyond that, `q dt` is no longer a
/// probability one step can carry and the discretisation stops meaning anything.
pub(super) fn check_exit_probabilities(
    regimes: &[Regime],
    events: &[Event],
    state_terms: &[StateTerm],
    dt: f64,
    check: &mut Checker<'_>,
) {
    for (i, regime) in regimes.iter().enumerate() {
        let mut bound = 0.0;
        for (j, &q) in regime.intensities.iter().enumerate() {
            if j == i || q == 0.0 {
                continue;
            }
            let event_factor: f64 = events
                .iter()
                .map(|e| {
                    e.multipliers
                        .iter()
                        .filter(|m| m.applies(i, j))
                        .map(|m| m.factor)
                        .product::<f64>()
                        .max(1.0)
                })
                .product();
            let state_exponent: f64 = state_terms
                .iter()
                .filter(|t| t.from == i && t.to == j)
                .map(|t| t.coefficient.max(0.0) * t.feature.upper_bound())
                .sum();
            bound += q * dt * event_factor * state_exponent.exp();
        }
        if bound > MAX_EXIT_PROBABILITY_PER_STEP {
            check.error(
                format!("regimes.{}", regime.name),
                format!(
                    "the exit probability per step can reach {} with every event multiplier and state term at its largest; valid: at most {MAX_EXIT_PROBABILITY_PER_STEP}. Lower the intensities, the multipliers or the state coefficients",
                    crate::scenario::check::figure(bound)
                ),
            );
        }
    }
}
