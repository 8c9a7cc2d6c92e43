//! The log-price headroom: every range alone is runnable, but drift x horizon,
//! jumps x horizon, carry x horizon and betas on other assets multiply, so a
//! scenario is refused when a price could move by more than [`MAX_LOG_MOVE`]
//! in log terms over its horizon.
//!
//! Each asset gets a *reach*: a bound on its log move (prices) or on the
//! absolute level it can take (level assets), counted as the move's mean plus
//! 12 standard deviations were the whole horizon spent in its worst regime.
//! Assets read one another (betas, carry, pass-through, the policy rule, the
//! curve, spreads), and the links can loop (the dollar has a beta on the real
//! rate, inflation a pass-through from the dollar), so the reaches are the
//! least fixed point of `reach = own + links(reach)`, found by iteration; a
//! loop whose gain is 1 or more grows without bound and is refused.

use super::super::{Asset, Event, Flows, ProcessKind, Trigger};
use crate::scenario::check::{Checker, MAX_VARIANCE};

/// The log-price move over the horizon that a scenario may reach: e^600 ~ 4e260,
/// so a price that starts at most at 1e9 and a portfolio of at most 1e15 stay
/// far inside f64's 1.8e308.
pub(crate) const MAX_LOG_MOVE: f64 = 600.0;

/// Standard deviations a reach counts beyond the mean move.
const SIGMAS: f64 = 12.0;

/// Passes of the fixed-point iteration: a loop of gain g has converged to
/// within g^200 of its fixed point, and one of gain 1 or more has passed
/// [`DIVERGED`] long before.
const PASSES: usize = 200;

/// A reach past which the iteration stops: far beyond [`MAX_LOG_MOVE`], so the
/// assets it concerns are refused either way.
const DIVERGED: f64 = 1e6 * MAX_LOG_MOVE;

/// What events and flows add to one asset, whatever the regime.
#[derive(Debug, Clone, Copy)]
struct EventReach {
    /// Sum over events of their firings' jump reach.
    jumps: f64,
    /// Heston: variance the event jumps can add.
    variance: f64,
    drift_shift: f64,
    mean_shift: f64,
    vol_scale: f64,
    jump_intensity_scale: f64,
}

/// The most times an event can fire on one path: once for a dated event; the
/// Poisson count's mean plus 12 sd; one firing per cooldown for a drawdown
/// trigger; never more than `max_firings`.
fn firings(event: &Event, steps: usize, years_per_step: f64) -> f64 {
    let bound = match event.trigger {
        Trigger::Dated { .. } => 1.0,
        Trigger::Poisson {
            rate_per_year,
            first_step,
            end_step,
        } => {
            let n = rate_per_year * end_step.saturating_sub(first_step) as f64 * years_per_step;
            n + SIGMAS * n.sqrt() + 1.0
        }
        Trigger::Drawdown { cooldown_steps, .. } => {
            (steps as f64 / cooldown_steps.max(1) as f64).floor() + 1.0
        }
    };
    event
        .max_firings
        .map_or(bound, |cap| bound.min(f64::from(cap)))
}

fn event_reach(
    assets: &[Asset],
    events: &[Event],
    flows: Option<&Flows>,
    steps: usize,
) -> Vec<EventReach> {
    let mut reach = vec![
        EventReach {
            jumps: 0.0,
            variance: 0.0,
            drift_shift: 0.0,
            mean_shift: 0.0,
            vol_scale: 1.0,
            jump_intensity_scale: 1.0,
        };
        assets.len()
    ];
    let years_per_step = 1.0 / crate::scenario::calendar::TRADING_DAYS_PER_YEAR;
    for event in events {
        let n = firings(event, steps, years_per_step);
        for (a, reach) in reach.iter_mut().enumerate() {
            // The largest jump of the event on `a` in any regime.
            let (mean, sd, variance) = event
                .jumps
                .iter()
                .flatten()
                .filter(|j| j.asset == a)
                .fold((0.0f64, 0.0f64, 0.0f64), |(m, s, v), j| {
                    (m.max(j.mean.abs()), s.max(j.sd), v.max(j.variance.abs()))
                });
            reach.jumps += n * mean + SIGMAS * n.sqrt() * sd;
            reach.variance += n * variance;
        }
        for adjustment in &event.adjustments {
            let r = &mut reach[adjustment.asset];
            r.drift_shift = r.drift_shift.max(adjustment.drift_shift.abs());
            r.mean_shift = r.mean_shift.max(adjustment.mean_shift.abs());
            r.vol_scale = r.vol_scale.max(adjustment.vol_scale);
            r.jump_intensity_scale = r.jump_intensity_scale.max(adjustment.jump_intensity_scale);
        }
    }
    if let Some(flows) = flows {
        // The selling pressure lowers both drifts by impact x P, P <= max_pressure.
        reach[flows.equity].drift_shift += flows.equity_impact * flows.max_pressure;
        reach[flows.currency].drift_shift += flows.currency_impact * flows.max_pressure;
    }
    reach
}

/// An asset's reach in each regime from its own parameters and events.
fn own_reach(asset: &Asset, extra: &EventReach, years: f64) -> Vec<f64> {
    asset
        .params
        .iter()
        .map(|p| {
            let lambda = p.jump_intensity * extra.jump_intensity_scale;
            let jump_square = p.jump_mean * p.jump_mean + p.jump_sd * p.jump_sd;
            match asset.process {
                ProcessKind::Gbm | ProcessKind::Heston | ProcessKind::Beta => {
                    let vol = if asset.process == ProcessKind::Heston {
                        (p.long_run_variance.max(asset.initial_variance) + extra.variance).sqrt()
                    } else {
                        p.vol
                    } * extra.vol_scale;
                    let mean =
                        (p.drift.abs() + extra.drift_shift + lambda * p.jump_mean.abs()) * years;
                    let variance = (vol * vol + lambda * jump_square) * years;
                    mean + SIGMAS * variance.sqrt() + extra.jumps
                }
                ProcessKind::Ou => {
                    // Mean reversion forgets: the variance of the level is at
                    // most sigma^2 min(T, 1 / (2 kappa)), a drift's sum at most
                    // its rate times min(T, 1 / kappa).
                    let kappa = p.mean_reversion;
                    let (mean_years, variance_years) = if kappa > 0.0 {
                        (years.min(1.0 / kappa), years.min(0.5 / kappa))
                    } else {
                        (years, years)
                    };
                    let vol = p.vol * extra.vol_scale;
                    asset.initial.abs()
                        + p.mean.abs()
                        + extra.mean_shift
                        + (extra.drift_shift + lambda * p.jump_mean.abs()) * mean_years
                        + SIGMAS * ((vol * vol + lambda * jump_square) * variance_years).sqrt()
                        + extra.jumps
                }
                ProcessKind::PolicyRate => asset.initial.abs() + extra.jumps,
                ProcessKind::ImpliedVol => {
                    // The Heston variance it reads, as a vol, scaled by its premium.
                    let premium = asset.implied_vol.map_or(0.0, |v| v.risk_premium.abs());
                    (MAX_VARIANCE + extra.variance).sqrt() * (1.0 + premium)
                }
                ProcessKind::Yield | ProcessKind::Spread => 0.0,
            }
        })
        .collect()
}

/// What the assets an asset reads add to its reach in regime `r`, given every
/// asset's current reach (`worst`: over regimes).
fn linked_reach(assets: &[Asset], a: usize, r: usize, worst: &[f64], years: f64) -> f64 {
    let asset = &assets[a];
    let mut linked = 0.0;
    if let Some(betas) = asset.betas.get(r) {
        linked += betas
            .iter()
            .map(|&(b, beta)| beta.abs() * worst[b])
            .sum::<f64>();
    }
    if let Some(carry) = asset.carry {
        linked += (carry.foreign_rate.abs() + worst[carry.domestic]) * years;
    }
    if let Some(pass) = asset.pass_through {
        linked += pass.coefficient.abs() * worst[pass.currency];
    }
    if let Some(error) = asset.policy_error {
        // err = max(0, pi_e - target) max(0, neutral - r) shifts the mean by
        // coefficient * err.
        if let Some(rule) = assets[error.policy_rate].policy.as_ref() {
            let inflation_gap = worst[rule.inflation] + rule.inflation_target.abs();
            let rate_gap = rule.neutral_rate.abs() + worst[error.policy_rate];
            linked += error.coefficient.abs() * inflation_gap * rate_gap;
            let growth = rule.growth.map_or(0.0, |g| rule.growth_response * worst[g]);
            let beyond_rule = rule.neutral_rate.abs()
                + rule.inflation_response * inflation_gap
                + growth
                + worst[error.policy_rate];
            linked += error.discretionary.abs() * beyond_rule;
        }
    }
    if let Some(liquidation) = asset.liquidation {
        linked += liquidation.beta.abs() * worst[liquidation.equity];
    }
    if let Some(rule) = asset.policy.as_ref() {
        // The rule moves toward r* = neutral + phi (pi_e - target) - bias by at
        // most max_move a meeting, with noise of sd `vol` a meeting.
        let meetings = rule.meeting_steps.len() as f64;
        let biases = asset
            .params
            .iter()
            .map(|p| p.bias.abs())
            .fold(0.0, f64::max);
        let noise = asset.params.get(r).map_or(0.0, |p| p.vol);
        let target = rule.neutral_rate.abs()
            + rule.inflation_response * (worst[rule.inflation] + rule.inflation_target.abs())
            + rule.growth.map_or(0.0, |g| rule.growth_response * worst[g])
            + rule.chair_bias.abs()
            + biases;
        let toward = target + rule.max_move + SIGMAS * noise * meetings.sqrt();
        linked += toward.min(rule.max_move * meetings);
    }
    if let Some(curve) = asset.curve.as_ref() {
        let rule = assets[curve.policy_rate].policy.as_ref();
        let anchor = rule.map_or(0.0, |p| p.neutral_rate.abs() + p.chair_bias.abs());
        linked += 2.0 * anchor
            + worst[curve.policy_rate]
            + worst[curve.term_premium] * curve.maturity_years / 10.0;
    }
    if let Some((x, y)) = asset.spread {
        linked += worst[x] + worst[y];
    }
    linked
}

/// Refuses every log-price asset whose reach passes [`MAX_LOG_MOVE`], naming
/// its worst regime.
pub(super) fn check_headroom(
    assets: &[Asset],
    events: &[Event],
    flows: Option<&Flows>,
    regime_names: &[String],
    steps: usize,
    check: &mut Checker<'_>,
) {
    let years = steps as f64 / crate::scenario::calendar::TRADING_DAYS_PER_YEAR;
    let extras = event_reach(assets, events, flows, steps);
    let own: Vec<Vec<f64>> = assets
        .iter()
        .zip(&extras)
        .map(|(asset, extra)| own_reach(asset, extra, years))
        .collect();
    let worst_of = |reach: &[Vec<f64>]| -> Vec<f64> {
        reach
            .iter()
            .map(|r| r.iter().copied().fold(0.0, f64::max))
            .collect()
    };
    let mut reach = own.clone();
    for _ in 0..PASSES {
        let worst = worst_of(&reach);
        // NaN never settles and is refused below, as a diverging loop is.
        if worst.iter().any(|w| !(*w <= DIVERGED)) {
            break;
        }
        let next: Vec<Vec<f64>> = own
            .iter()
            .enumerate()
            .map(|(a, regimes)| {
                regimes
                    .iter()
                    .enumerate()
                    .map(|(r, own)| own + linked_reach(assets, a, r, &worst, years))
                    .collect()
            })
            .collect();
        if next == reach {
            break;
        }
        reach = next;
    }
    for (asset, reach) in assets.iter().zip(&reach) {
        if !asset.is_log() {
            continue;
        }
        // total_cmp puts NaN above every number: it is reported, not skipped.
        let Some((r, &move_)) = reach.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)) else {
            continue;
        };
        if !(move_ <= MAX_LOG_MOVE) {
            let regime = regime_names.get(r).map_or("base", String::as_str);
            check.error(
                format!("assets.{}", asset.name),
                format!(
                    "in regime `{regime}` the log-price could move by {} over the {years:.1}-year horizon, more than {MAX_LOG_MOVE} (e^{MAX_LOG_MOVE} times a price and a portfolio value nears f64's limit): the reach is (|drift| + jump_intensity |jump_mean|) T + 12 sqrt((vol^2 + jump_intensity (jump_mean^2 + jump_sd^2)) T), plus the events' jumps and adjustments, the carry and |beta| times each base's reach (docs/SCENARIOS.md, \"Ranges that depend on the horizon\"); lower the drift, the jumps, the betas or the horizon",
                    crate::scenario::check::figure(move_)
                ),
            );
        }
    }
}
