//! Events: dated, Poisson and drawdown-triggered policy shocks, their jumps,
//! adjustments and transition multipliers.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use super::*;

pub(super) fn build_events(
    raw: &RawScenario,
    dates: &[NaiveDate],
    calendar: CalendarKind,
    regime_names: &[String],
    asset_names: &[String],
    assets: &[Asset],
    check: &mut Checker<'_>,
) -> Vec<Event> {
    if raw.events.len() > MAX_EVENTS {
        check.error(
            "events",
            format!(
                "{} events; at most {MAX_EVENTS} are supported",
                raw.events.len()
            ),
        );
        return Vec::new();
    }
    let steps = dates.len() - 1;
    check.unique_names(
        "event name",
        raw.events.iter().map(|e| e.name.as_str()),
        |i| format!("events[{i}].name"),
    );
    raw.events
        .iter()
        .enumerate()
        .filter_map(|(index, event)| {
            let key = format!("events[{index}]");
            check.identifier(&format!("{key}.name"), "event name", &event.name);
            let (trigger, timing, date) =
                build_trigger(&key, event, dates, calendar, asset_names, assets, check)?;
            let max_duration = (MAX_HORIZON_YEARS * TRADING_DAYS_PER_YEAR) as u64;
            if event.duration_days > max_duration {
                check.error(
                    format!("{key}.duration_days"),
                    format!(
                        "{} is out of range; valid: [0, {max_duration}] trading days",
                        event.duration_days
                    ),
                );
            }
            let regime_or_any =
                |check: &mut Checker<'_>, k: &str, name: &str| -> Result<Option<usize>, ()> {
                    if name == "*" {
                        Ok(None)
                    } else {
                        check
                            .lookup(k, "regime", name, regime_names)
                            .map(Some)
                            .ok_or(())
                    }
                };
            let mut multipliers = Vec::new();
            for (m, multiplier) in event.transition_multipliers.iter().enumerate() {
                let k = format!("{key}.transition_multipliers[{m}]");
                let from = regime_or_any(check, &format!("{k}.from"), &multiplier.from);
                let to = regime_or_any(check, &format!("{k}.to"), &multiplier.to);
                let factor = check.range(
                    &format!("{k}.factor"),
                    multiplier.factor,
                    Closed(0.0),
                    Closed(1000.0),
                );
                if let (Ok(from), Ok(to)) = (from, to) {
                    multipliers.push(Multiplier { from, to, factor });
                }
            }
            let base_jumps: Vec<EventJump> = event
                .jumps
                .iter()
                .filter_map(|(name, jump)| {
                    build_jump(
                        &format!("{key}.jumps.{name}"),
                        name,
                        jump,
                        asset_names,
                        assets,
                        check,
                    )
                })
                .collect();
            for regime in event.jumps_by_regime.keys() {
                check.lookup(
                    &format!("{key}.jumps_by_regime.{regime}"),
                    "regime",
                    regime,
                    regime_names,
                );
            }
            let jumps = regime_names
                .iter()
                .map(|regime| {
                    let mut jumps = base_jumps.clone();
                    if let Some(table) = event.jumps_by_regime.get(regime) {
                        for (name, jump) in table {
                            let k = format!("{key}.jumps_by_regime.{regime}.{name}");
                            if let Some(jump) =
                                build_jump(&k, name, jump, asset_names, assets, check)
                            {
                                jumps.retain(|j| j.asset != jump.asset);
                                jumps.push(jump);
                            }
                        }
                    }
                    jumps
                })
                .collect();
            let mut adjustments = Vec::new();
            for (asset_name, adjustment) in &event.adjustments {
                let k = format!("{key}.adjustments.{asset_name}");
                let Some(asset) = check.lookup(&k, "asset", asset_name, asset_names) else {
                    continue;
                };
                if adjustment.mean_shift != 0.0 && assets[asset].process != ProcessKind::Ou {
                    check.error(
                        format!("{k}.mean_shift"),
                        "applies only to assets with process \"ou\"",
                    );
                }
                adjustments.push(Adjustment {
                    asset,
                    drift_shift: check.range(
                        &format!("{k}.drift_shift"),
                        adjustment.drift_shift,
                        Closed(-5.0),
                        Closed(5.0),
                    ),
                    vol_scale: check.range(
                        &format!("{k}.vol_scale"),
                        adjustment.vol_scale.unwrap_or(1.0),
                        Closed(0.0),
                        Closed(20.0),
                    ),
                    jump_intensity_scale: check.range(
                        &format!("{k}.jump_intensity_scale"),
                        adjustment.jump_intensity_scale.unwrap_or(1.0),
                        Closed(0.0),
                        Closed(1000.0),
                    ),
                    mean_shift: check.range(
                        &format!("{k}.mean_shift"),
                        adjustment.mean_shift,
                        Closed(-MAX_LEVEL),
                        Closed(MAX_LEVEL),
                    ),
                });
            }
            let force_regime = event.force_regime.as_ref().and_then(|name| {
                check.lookup(&format!("{key}.force_regime"), "regime", name, regime_names)
            });
            let max_firings = event.max_firings.and_then(|most| {
                if most == 0 || most > MAX_FIRINGS {
                    check.error(
                        format!("{key}.max_firings"),
                        format!("{most} is out of range; valid: [1, {MAX_FIRINGS}] firings per path"),
                    );
                    return None;
                }
                if matches!(trigger, Trigger::Dated { .. }) {
                    check.error(
                        format!("{key}.max_firings"),
                        "applies only to Poisson and drawdown-triggered events: a dated event fires once",
                    );
                }
                u32::try_from(most).ok()
            });
            let mut event = Event {
                name: event.name.clone(),
                description: event.description.clone(),
                trigger,
                date,
                duration_steps: event.duration_days.min(steps as u64 + 1) as usize,
                multipliers,
                jumps,
                adjustments,
                force_regime,
                max_firings,
                enabled: timing != Timing::Outside,
            };
            if let Timing::Before(elapsed) = timing {
                carry_over(&mut event, elapsed, &key, dates[0], check);
            }
            Some(event)
        })
        .collect()
}

/// An event that fired `elapsed` trading days before the start has happened:
/// its jumps and forced regime are in the starting levels and regime, and
/// what lasts (multipliers, adjustments) stays in force for what is left of
/// its duration.
fn carry_over(
    event: &mut Event,
    elapsed: usize,
    key: &str,
    start: NaiveDate,
    check: &mut Checker<'_>,
) {
    let date = event.date.expect("a dated event has its date");
    for jumps in &mut event.jumps {
        jumps.clear();
    }
    event.force_regime = None;
    let lasting = !event.multipliers.is_empty() || !event.adjustments.is_empty();
    let remaining = event.duration_steps.saturating_sub(elapsed);
    if lasting && remaining > 0 {
        event.duration_steps = remaining;
        check.note(
            format!("{key}.date"),
            format!(
                "{date} is before the start {start}: the event has happened; its effects stay in force for the {remaining} trading days left of its {} ({elapsed} have passed)",
                elapsed + remaining
            ),
        );
    } else {
        event.enabled = false;
        check.note(
            format!("{key}.date"),
            format!("{date} is before the start {start}: the event has happened, and nothing of it lasts into the run"),
        );
    }
}

pub(super) fn build_jump(
    k: &str,
    asset_name: &str,
    jump: &raw::RawJump,
    asset_names: &[String],
    assets: &[Asset],
    check: &mut Checker<'_>,
) -> Option<EventJump> {
    let asset = check.lookup(k, "asset", asset_name, asset_names)?;
    if assets[asset].process.is_derived() {
        check.error(
            k,
            format!(
                "`{asset_name}` is computed from other assets and cannot jump; jump its inputs"
            ),
        );
        return None;
    }
    // Log terms for prices, the asset's units for OU assets: the same bounds
    // as the assets' own jumps.
    let mean = check.range(
        &format!("{k}.mean"),
        jump.mean,
        Closed(-MAX_JUMP),
        Closed(MAX_JUMP),
    );
    let sd = check.range(&format!("{k}.sd"), jump.sd, Closed(0.0), Closed(MAX_JUMP));
    let variance = check.range(
        &format!("{k}.variance"),
        jump.variance,
        Closed(-4.0),
        Closed(4.0),
    );
    if jump.variance != 0.0 && assets[asset].process != ProcessKind::Heston {
        check.error(
            format!("{k}.variance"),
            "applies only to assets with process \"heston\"",
        );
    }
    Some(EventJump {
        asset,
        mean,
        sd,
        variance,
    })
}

/// The step in which something dated `date` happens: it lands on the first trading
/// day on or after `date`, so it moves the close of that day.
pub(super) fn step_of(date: NaiveDate, dates: &[NaiveDate]) -> usize {
    let landing = dates.partition_point(|d| *d < date);
    landing.max(1) - 1
}

/// When an event stands against the run's horizon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timing {
    /// It may fire within the horizon.
    Within,
    /// It fired this many trading days before the start.
    Before(usize),
    /// It cannot fire within the horizon (its date or window lies outside).
    Outside,
}

pub(super) fn build_trigger(
    key: &str,
    event: &RawEvent,
    dates: &[NaiveDate],
    calendar: CalendarKind,
    asset_names: &[String],
    assets: &[Asset],
    check: &mut Checker<'_>,
) -> Option<(Trigger, Timing, Option<NaiveDate>)> {
    if event.cooldown_days.is_some() && event.drawdown_trigger.is_none() {
        check.error(
            format!("{key}.cooldown_days"),
            "applies only to events with a `drawdown_trigger`",
        );
    }
    if let Some(trigger) = &event.drawdown_trigger {
        if event.date.is_some() || event.rate_per_year.is_some() {
            check.error(
                key,
                "give one of `date`, `rate_per_year` and `drawdown_trigger`, not several",
            );
            return None;
        }
        let k = format!("{key}.drawdown_trigger");
        let asset = check.lookup(&format!("{k}.asset"), "asset", &trigger.asset, asset_names)?;
        if !assets[asset].is_log() {
            check.error(format!("{k}.asset"), "a drawdown trigger needs a log-price asset (gbm, heston, beta): its drawdown is a fraction");
        }
        let threshold = check.range(
            &format!("{k}.threshold"),
            trigger.threshold,
            Open(0.0),
            Open(1.0),
        );
        let max_cooldown = (MAX_HORIZON_YEARS * TRADING_DAYS_PER_YEAR) as u64;
        let cooldown = event.cooldown_days.unwrap_or(21);
        if cooldown == 0 || cooldown > max_cooldown {
            check.error(
                format!("{key}.cooldown_days"),
                format!("{cooldown} is out of range; valid: [1, {max_cooldown}] trading days"),
            );
        }
        let confirm = match (&trigger.confirm, trigger.above) {
            (None, None) => None,
            (Some(name), Some(above)) => {
                let level = check.lookup(&format!("{k}.confirm"), "asset", name, asset_names);
                let above = check.range(
                    &format!("{k}.above"),
                    above,
                    Closed(-MAX_LEVEL),
                    Closed(MAX_LEVEL),
                );
                match level {
                    Some(a) if assets[a].is_log() => {
                        check.error(format!("{k}.confirm"), format!("`{name}` is a log-price asset; the confirmation reads a level (an implied vol, a rate)"));
                        None
                    }
                    Some(a) => Some((a, above)),
                    None => None,
                }
            }
            _ => {
                check.error(
                    &k,
                    "`confirm` and `above` go together: the asset and the level it must reach, like confirm = \"vix\", above = 0.4",
                );
                None
            }
        };
        return Some((
            Trigger::Drawdown {
                asset,
                threshold,
                cooldown_steps: cooldown.max(1) as usize,
                confirm,
            },
            Timing::Within,
            None,
        ));
    }
    let run = RunDates::of(dates);
    let (start, end) = (run.start, run.end.expect("a grid has two dates"));
    let read = |check: &mut Checker<'_>, field: &str, value: &toml::Value| -> Option<NaiveDate> {
        parse_run_date(value, run)
            .map_err(|message| check.error(format!("{key}.{field}"), message))
            .ok()
    };
    match (&event.date, event.rate_per_year) {
        (Some(date), None) => {
            if event.window_start.is_some() || event.window_end.is_some() {
                check.error(
                    format!("{key}.window_start"),
                    "a window applies only to Poisson events (with `rate_per_year`)",
                );
            }
            let date = read(check, "date", date)?;
            let timing = if date < start {
                Timing::Before(sessions_before_start(date, dates, calendar))
            } else if date > end {
                check.note(
                    format!("{key}.date"),
                    format!("{date} falls after the horizon's end {end}: the event does not happen in this run"),
                );
                Timing::Outside
            } else {
                Timing::Within
            };
            let step = if timing == Timing::Within {
                step_of(date, dates)
            } else {
                0
            };
            Some((Trigger::Dated { step }, timing, Some(date)))
        }
        (None, Some(rate)) => {
            let rate_per_year = check.range(
                &format!("{key}.rate_per_year"),
                rate,
                Closed(0.0),
                Closed(TRADING_DAYS_PER_YEAR),
            );
            let from = match &event.window_start {
                Some(value) => Some(read(check, "window_start", value)?),
                None => None,
            };
            let to = match &event.window_end {
                Some(value) => Some(read(check, "window_end", value)?),
                None => None,
            };
            if let (Some(from), Some(to)) = (from, to) {
                if to < from {
                    check.error(
                        format!("{key}.window_end"),
                        format!("{to} must fall on or after window_start {from}"),
                    );
                    return None;
                }
            }
            let outside = |check: &mut Checker<'_>, field: &str, message: String| {
                check.note(format!("{key}.{field}"), message);
                Some((
                    Trigger::Poisson {
                        rate_per_year,
                        first_step: 0,
                        end_step: 0,
                    },
                    Timing::Outside,
                    None,
                ))
            };
            if let Some(to) = to.filter(|to| *to < start) {
                return outside(check, "window_end", format!("the window closed on {to}, before the start {start}: the event does not happen in this run"));
            }
            if let Some(from) = from.filter(|from| *from > end) {
                return outside(check, "window_start", format!("the window opens on {from}, after the horizon's end {end}: the event does not happen in this run"));
            }
            let first_step = match from {
                Some(from) if from < start => {
                    check.note(
                        format!("{key}.window_start"),
                        format!("the window opened on {from}, before the start {start}: it runs from the start"),
                    );
                    0
                }
                Some(from) => step_of(from, dates),
                None => 0,
            };
            let end_step = match to {
                Some(to) if to <= end => step_of(to, dates) + 1,
                _ => dates.len() - 1,
            };
            Some((
                Trigger::Poisson {
                    rate_per_year,
                    first_step,
                    end_step,
                },
                Timing::Within,
                None,
            ))
        }
        (Some(_), Some(_)) => {
            check.error(
                key,
                "give either `date` (a dated event) or `rate_per_year` (a Poisson event), not both",
            );
            None
        }
        (None, None) => {
            check.error(
                key,
                "needs `date` (a dated event), `rate_per_year` (a Poisson event) or `drawdown_trigger`",
            );
            None
        }
    }
}
