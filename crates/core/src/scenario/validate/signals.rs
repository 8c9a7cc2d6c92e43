//! `[signals]`: the early-warning signals S1..S5 and the drawdown that judges them.

use super::{Bound, Checker, Closed, Open};
use crate::scenario::raw::RawScenario;
use crate::scenario::SIGNAL_DESCRIPTIONS;
use crate::scenario::{Asset, Event, ProcessKind, SignalKind, SignalRule, Signals};

/// Longest look-back window or judging horizon, in trading days (ten years).
const MAX_WINDOW_DAYS: u32 = 2520;

pub(super) fn build_signals(
    raw: &RawScenario,
    asset_names: &[String],
    assets: &[Asset],
    events: &[Event],
    check: &mut Checker<'_>,
) -> Option<Signals> {
    let spec = raw.signals.as_ref()?;
    let log_asset = |check: &mut Checker<'_>, key: &str, name: &str| {
        let index = check.lookup(key, "asset", name, asset_names)?;
        if !assets[index].is_log() {
            check.error(
                key,
                format!("`{name}` must be a log-price asset (gbm, heston, beta): the signal reads its returns"),
            );
            return None;
        }
        Some(index)
    };
    let equity = log_asset(check, "signals.equity", &spec.equity);
    let dollar = log_asset(check, "signals.dollar", &spec.dollar);
    if equity.is_some() && equity == dollar {
        check.error("signals.dollar", "must differ from signals.equity");
    }
    let target_drawdown = check.range(
        "signals.target_drawdown",
        spec.target_drawdown.unwrap_or(0.2),
        Open(0.0),
        Open(1.0),
    );
    let within_steps = window(check, "signals.within_days", spec.within_days, 126);
    let fall = |check: &mut Checker<'_>, key: &str, value: Option<f64>, default: f64| {
        // A fall of a fraction: below 1, so that ln(1 - fall) exists.
        check.range(key, value.unwrap_or(default), Closed(0.0), Open(1.0))
    };

    let mut rules = Vec::new();
    let mut rule = |index: usize, kind: SignalKind| {
        let (name, description) = SIGNAL_DESCRIPTIONS[index];
        rules.push(SignalRule {
            name,
            description,
            kind,
        });
    };
    if let Some(s1) = &spec.s1 {
        let implied_vol = check.lookup(
            "signals.s1.implied_vol",
            "asset",
            &s1.implied_vol,
            asset_names,
        );
        if let Some(i) = implied_vol {
            if assets[i].process != ProcessKind::ImpliedVol {
                check.error(
                    "signals.s1.implied_vol",
                    format!("`{}` must be an implied_vol asset", s1.implied_vol),
                );
            }
        }
        let kind = SignalKind::DollarDownVolUp {
            window: window(check, "signals.s1.window_days", s1.window_days, 10),
            implied_vol: implied_vol.unwrap_or(0),
            dollar_fall: fall(check, "signals.s1.dollar_fall", s1.dollar_fall, 0.02),
            vol_rise: check.range(
                "signals.s1.vol_rise",
                s1.vol_rise.unwrap_or(0.3),
                Closed(0.0),
                Closed(100.0),
            ),
        };
        rule(0, kind);
    }
    if let Some(s2) = &spec.s2 {
        let window_steps = window(check, "signals.s2.window_days", s2.window_days, 20);
        if window_steps < 3 {
            check.error(
                "signals.s2.window_days",
                format!("{window_steps} is out of range; a skewness needs at least 3 days"),
            );
        }
        let kind = SignalKind::DollarSkew {
            window: window_steps,
            skew: check.range(
                "signals.s2.skew",
                s2.skew.unwrap_or(1.5),
                Open(0.0),
                Closed(100.0),
            ),
        };
        rule(1, kind);
    }
    if let Some(s3) = &spec.s3 {
        let leader = s3
            .leader
            .as_ref()
            .and_then(|name| log_asset(check, "signals.s3.leader", name));
        let kind = SignalKind::JointSelloff {
            window: window(check, "signals.s3.window_days", s3.window_days, 10),
            dollar_fall: fall(check, "signals.s3.dollar_fall", s3.dollar_fall, 0.02),
            equity_fall: fall(check, "signals.s3.equity_fall", s3.equity_fall, 0.05),
            leader,
        };
        rule(2, kind);
    }
    if let Some(s4) = &spec.s4 {
        let window_steps = window(check, "signals.s4.window_days", s4.window_days, 20);
        if window_steps < 3 {
            check.error(
                "signals.s4.window_days",
                format!("{window_steps} is out of range; a correlation needs at least 3 days"),
            );
        }
        if s4.with.is_empty() {
            check.error(
                "signals.s4.with",
                "needs at least one asset, for example { dxy = 1 }",
            );
        }
        let mut with = Vec::new();
        for (name, &sign) in &s4.with {
            let key = format!("signals.s4.with.{name}");
            let index = check.lookup(&key, "asset", name, asset_names);
            if !(sign == 1.0 || sign == -1.0) {
                check.error(&key, format!("{sign} is not an orientation; valid: 1 (falls with the equity in a US sell-off) or -1 (rises)"));
            }
            if let Some(index) = index {
                if Some(index) == equity {
                    check.error(&key, "is the equity itself");
                }
                with.push((index, sign));
            }
        }
        let kind = SignalKind::Correlation {
            window: window_steps,
            with,
            correlation: check.range(
                "signals.s4.correlation",
                s4.correlation.unwrap_or(0.6),
                Open(-1.0),
                Closed(1.0),
            ),
        };
        rule(3, kind);
    }
    if let Some(s5) = &spec.s5 {
        let names: Vec<String> = events.iter().map(|e| e.name.clone()).collect();
        if s5.events.is_empty() {
            check.error(
                "signals.s5.events",
                "needs at least one easing event, for example [\"fed_put\"]",
            );
        }
        let mut mask = 0u64;
        for (i, name) in s5.events.iter().enumerate() {
            if let Some(e) = check.lookup(&format!("signals.s5.events[{i}]"), "event", name, &names)
            {
                mask |= 1 << e;
            }
        }
        let kind = SignalKind::EasingBackfires {
            events: mask,
            within: window(check, "signals.s5.within_days", s5.within_days, 10),
            dollar_fall: fall(check, "signals.s5.dollar_fall", s5.dollar_fall, 0.01),
            equity_fall: fall(check, "signals.s5.equity_fall", s5.equity_fall, 0.03),
        };
        rule(4, kind);
    }
    Some(Signals {
        equity: equity?,
        dollar: dollar?,
        target_drawdown,
        within_steps,
        rules,
    })
}

/// A window in trading days, in [1, MAX_WINDOW_DAYS].
fn window(check: &mut Checker<'_>, key: &str, value: Option<u32>, default: u32) -> usize {
    let days = value.unwrap_or(default);
    check.range(
        key,
        days as f64,
        Bound::Closed(1.0),
        Bound::Closed(MAX_WINDOW_DAYS as f64),
    );
    days as usize
}
