//! Policy shocks and other events as the hot loop sees them: when they fire, what
//! they do on firing (jumps, a forced regime), and the parameter changes and
//! transition multipliers in force while they are active.

use rand_xoshiro::Xoshiro256PlusPlus;

use super::steps_until_arrival;
use super::tilt::arrival_log_ratio;
use crate::scenario::{Event, EventJump, Multiplier, Trigger};

#[derive(Debug, Clone)]
pub(super) struct EventModel {
    trigger: Trigger,
    pub duration_steps: usize,
    /// Per regime in force at the firing.
    pub jumps: Vec<Vec<EventJump>>,
    pub force_regime: Option<usize>,
    multipliers: Vec<Multiplier>,
    adjustments: Vec<crate::scenario::Adjustment>,
    drawdown: Option<(usize, f64)>,
    /// Firings at most per path (`u32::MAX`: no cap).
    pub max_firings: u32,
    /// A switched-off event draws its first arrival but never fires.
    enabled: bool,
    /// `(level asset, level)`: a drawdown trigger fires only at or above it.
    pub confirm: Option<(usize, f64)>,
}

impl EventModel {
    pub fn new(event: &Event) -> EventModel {
        EventModel {
            trigger: event.trigger,
            duration_steps: event.duration_steps,
            jumps: event.jumps.clone(),
            force_regime: event.force_regime,
            multipliers: event.multipliers.clone(),
            adjustments: event.adjustments.clone(),
            max_firings: event.max_firings.unwrap_or(u32::MAX),
            enabled: event.enabled,
            confirm: match event.trigger {
                Trigger::Drawdown { confirm, .. } => confirm,
                _ => None,
            },
            drawdown: match event.trigger {
                Trigger::Drawdown {
                    asset, threshold, ..
                } => Some((asset, (-threshold).ln_1p())),
                _ => None,
            },
        }
    }

    pub fn dated_step(&self) -> Option<usize> {
        match self.trigger {
            Trigger::Dated { step } if self.enabled => Some(step),
            _ => None,
        }
    }

    /// `(asset, ln(1 - threshold))` of a drawdown-triggered event: it fires when
    /// `x - peak <= ln(1 - threshold)`, the drawdown test without an `exp`.
    #[inline]
    pub fn drawdown_trigger(&self) -> Option<(usize, f64)> {
        self.drawdown
    }

    /// Whether the event fires at Poisson arrivals (the only firings a tilt
    /// can make more frequent).
    pub fn is_poisson(&self) -> bool {
        matches!(self.trigger, Trigger::Poisson { rate_per_year, .. } if rate_per_year > 0.0)
            && self.enabled
    }

    /// The step of the first Poisson firing (`usize::MAX` for dated events or never);
    /// for drawdown-triggered events the first step they may fire (0). The
    /// arrival is drawn at `tilt.factor` times the rate and its log likelihood
    /// ratio added to `log_ratio`.
    pub fn first_firing(
        &self,
        rng: &mut Xoshiro256PlusPlus,
        dt: f64,
        tilt: ArrivalTilt,
        log_ratio: &mut f64,
    ) -> usize {
        let first = match self.trigger {
            Trigger::Drawdown { .. } => 0,
            Trigger::Poisson {
                rate_per_year,
                first_step,
                end_step,
            } if rate_per_year > 0.0 => arrival(
                rng,
                first_step,
                rate_per_year,
                end_step,
                dt,
                tilt,
                log_ratio,
            ),
            _ => usize::MAX,
        };
        if self.enabled {
            first
        } else {
            usize::MAX
        }
    }

    /// The next Poisson firing after one in step `t`. A Poisson process has at least
    /// one arrival in a step with probability `1 - exp(-rate dt)`; several arrivals
    /// in one step count as one firing. For drawdown-triggered events, the first
    /// step after the cooldown. Tilted as [`EventModel::first_firing`].
    pub fn next_firing(
        &self,
        rng: &mut Xoshiro256PlusPlus,
        t: usize,
        dt: f64,
        tilt: ArrivalTilt,
        log_ratio: &mut f64,
    ) -> usize {
        match self.trigger {
            Trigger::Drawdown { cooldown_steps, .. } => t + cooldown_steps,
            Trigger::Poisson {
                rate_per_year,
                end_step,
                ..
            } => arrival(rng, t + 1, rate_per_year, end_step, dt, tilt, log_ratio),
            Trigger::Dated { .. } => usize::MAX,
        }
    }

    pub fn add_effects(&self, effects: &mut Effects) {
        for a in &self.adjustments {
            effects.drift_shift[a.asset] += a.drift_shift;
            effects.vol_scale[a.asset] *= a.vol_scale;
            effects.jump_scale[a.asset] *= a.jump_intensity_scale;
            effects.mean_shift[a.asset] += a.mean_shift;
        }
        if !self.multipliers.is_empty() {
            effects.any_multiplier = true;
            let regimes = effects.regimes;
            for from in 0..regimes {
                for to in 0..regimes {
                    for m in self.multipliers.iter().filter(|m| m.applies(from, to)) {
                        effects.transition[from * regimes + to] *= m.factor;
                    }
                }
            }
        }
    }
}

/// How an event's arrivals are drawn: at `factor` times its rate, the
/// likelihood ratio censored at step `horizon` (the run's end: later
/// arrivals are never seen).
#[derive(Debug, Clone, Copy)]
pub struct ArrivalTilt {
    pub factor: f64,
    pub horizon: usize,
}

/// The step of the first Poisson arrival from step `from` on, or `usize::MAX` if it
/// falls at or after `end_step`; drawn at `tilt.factor` times the rate, with
/// the gap's `ln(dP/dQ)` added to `log_ratio` (nothing at factor 1, where the
/// draw is the plain one).
fn arrival(
    rng: &mut Xoshiro256PlusPlus,
    from: usize,
    rate_per_year: f64,
    end_step: usize,
    dt: f64,
    tilt: ArrivalTilt,
    log_ratio: &mut f64,
) -> usize {
    let step = from + steps_until_arrival(rng, rate_per_year * tilt.factor, dt);
    let step = if step < end_step { step } else { usize::MAX };
    if tilt.factor != 1.0 {
        let seen_until = end_step.min(tilt.horizon);
        *log_ratio += arrival_log_ratio(rate_per_year * dt, tilt.factor, from, step, seen_until);
    }
    step
}

/// The combined effect of the events active on a path: sums of shifts, products of
/// scales and of transition multipliers. Neutral values when nothing is active, so
/// the step reads them unconditionally.
#[derive(Debug, Clone)]
pub struct Effects {
    pub drift_shift: Vec<f64>,
    pub vol_scale: Vec<f64>,
    pub jump_scale: Vec<f64>,
    pub mean_shift: Vec<f64>,
    pub any_multiplier: bool,
    regimes: usize,
    transition: Vec<f64>,
}

impl Effects {
    pub fn neutral(assets: usize, regimes: usize) -> Effects {
        Effects {
            drift_shift: vec![0.0; assets],
            vol_scale: vec![1.0; assets],
            jump_scale: vec![1.0; assets],
            mean_shift: vec![0.0; assets],
            any_multiplier: false,
            regimes,
            transition: vec![1.0; regimes * regimes],
        }
    }

    pub fn reset(&mut self) {
        self.drift_shift.iter_mut().for_each(|v| *v = 0.0);
        self.vol_scale.iter_mut().for_each(|v| *v = 1.0);
        self.jump_scale.iter_mut().for_each(|v| *v = 1.0);
        self.mean_shift.iter_mut().for_each(|v| *v = 0.0);
        self.transition.iter_mut().for_each(|v| *v = 1.0);
        self.any_multiplier = false;
    }

    #[inline]
    pub fn multiplier(&self, from: usize, to: usize) -> f64 {
        self.transition[from * self.regimes + to]
    }
}
