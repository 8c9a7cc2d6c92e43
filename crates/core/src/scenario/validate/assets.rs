//! Assets: processes and their per-regime parameters, satellites' betas, and
//! the rate blocks' links between assets.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use super::*;

/// Which parameters each process reads; any other parameter is an error.
pub(super) fn allowed_params(
    process: ProcessKind,
) -> (&'static [&'static str], &'static [&'static str]) {
    match process {
        ProcessKind::Gbm => (
            &["drift", "vol", "jump_intensity", "jump_mean", "jump_sd"],
            &["vol"],
        ),
        ProcessKind::Heston => (
            &[
                "drift",
                "mean_reversion",
                "long_run_variance",
                "vol_of_vol",
                "jump_intensity",
                "jump_mean",
                "jump_sd",
            ],
            &["mean_reversion", "long_run_variance", "vol_of_vol"],
        ),
        ProcessKind::Beta => (
            &["drift", "vol", "jump_intensity", "jump_mean", "jump_sd"],
            &[],
        ),
        // The meeting noise: the sd of the gap's error before rounding, per meeting.
        ProcessKind::PolicyRate => (&["vol", "bias"], &[]),
        ProcessKind::Yield | ProcessKind::Spread | ProcessKind::ImpliedVol => (&[], &[]),
        ProcessKind::Ou => (
            &[
                "mean",
                "mean_reversion",
                "vol",
                "jump_intensity",
                "jump_mean",
                "jump_sd",
            ],
            &["mean", "mean_reversion", "vol"],
        ),
    }
}

pub(super) fn param_entries(p: &RawAssetParams) -> [(&'static str, Option<f64>); 10] {
    [
        ("bias", p.bias),
        ("drift", p.drift),
        ("vol", p.vol),
        ("mean", p.mean),
        ("mean_reversion", p.mean_reversion),
        ("long_run_variance", p.long_run_variance),
        ("vol_of_vol", p.vol_of_vol),
        ("jump_intensity", p.jump_intensity),
        ("jump_mean", p.jump_mean),
        ("jump_sd", p.jump_sd),
    ]
}

pub(super) fn overlay(base: &RawAssetParams, over: &RawAssetParams) -> RawAssetParams {
    RawAssetParams {
        drift: over.drift.or(base.drift),
        vol: over.vol.or(base.vol),
        mean: over.mean.or(base.mean),
        mean_reversion: over.mean_reversion.or(base.mean_reversion),
        long_run_variance: over.long_run_variance.or(base.long_run_variance),
        vol_of_vol: over.vol_of_vol.or(base.vol_of_vol),
        jump_intensity: over.jump_intensity.or(base.jump_intensity),
        jump_mean: over.jump_mean.or(base.jump_mean),
        jump_sd: over.jump_sd.or(base.jump_sd),
        bias: over.bias.or(base.bias),
        betas: match (&base.betas, &over.betas) {
            (Some(base), Some(over)) => {
                let mut merged = base.clone();
                merged.extend(over.iter().map(|(k, v)| (k.clone(), *v)));
                Some(merged)
            }
            (base, over) => over.clone().or_else(|| base.clone()),
        },
    }
}

pub(super) fn build_assets(
    raw: &RawScenario,
    regime_names: &[String],
    drivers: &[String],
    dates: &[NaiveDate],
    check: &mut Checker<'_>,
) -> Vec<Asset> {
    let mut assets = build_asset_processes(raw, regime_names, drivers, check);
    let names: Vec<String> = raw.assets.keys().cloned().collect();
    let processes: Vec<ProcessKind> = raw.assets.values().map(|a| a.process).collect();
    for (index, (name, raw_asset)) in raw.assets.iter().enumerate() {
        let links = build_links(name, raw_asset, &names, &processes, dates, check);
        let asset = &mut assets[index];
        asset.policy = links.policy;
        asset.curve = links.curve;
        asset.spread = links.spread;
        asset.implied_vol = links.implied_vol;
        asset.carry = links.carry;
        asset.pass_through = links.pass_through;
        asset.policy_error = links.policy_error;
        asset.liquidation = links.liquidation;
    }
    assets
}

pub(super) fn build_asset_processes(
    raw: &RawScenario,
    regime_names: &[String],
    drivers: &[String],
    check: &mut Checker<'_>,
) -> Vec<Asset> {
    let assets: Vec<Asset> = raw
        .assets
        .iter()
        .map(|(name, asset)| build_asset(name, asset, regime_names, drivers, check))
        .collect();
    let names: Vec<String> = raw.assets.keys().cloned().collect();
    let assets: Vec<Asset> = raw
        .assets
        .iter()
        .zip(assets)
        .map(|((name, raw_asset), mut asset)| {
            asset.betas = build_betas(name, raw_asset, regime_names, &names, raw, check);
            asset
        })
        .collect();
    if let Some(cycle) = beta_cycle(&assets) {
        let path: Vec<&str> = cycle.iter().map(|&a| names[a].as_str()).collect();
        check.error(
            format!("assets.{}.betas", path[0]),
            format!(
                "satellites cannot depend on each other in a circle: {}",
                path.join(" -> ")
            ),
        );
    }
    assets
}

pub(super) fn build_asset(
    name: &str,
    asset: &RawAsset,
    regime_names: &[String],
    drivers: &[String],
    check: &mut Checker<'_>,
) -> Asset {
    let key = format!("assets.{name}");
    let is_log = asset.process.is_log();
    let initial = match (asset.initial, asset.process.is_derived()) {
        (Some(_), true) => {
            check.error(
                format!("{key}.initial"),
                format!(
                    "process \"{}\" computes its level from other assets; remove `initial`",
                    asset.process.name()
                ),
            );
            0.0
        }
        (None, true) => 0.0,
        (None, false) => {
            check.error(format!("{key}.initial"), "missing required key `initial`");
            0.0
        }
        (Some(value), false) if is_log => check.range_explained(
            &format!("{key}.initial"),
            value,
            Closed(MIN_PRICE_INITIAL),
            Closed(MAX_PRICE_INITIAL),
            " (a price)",
        ),
        (Some(value), false) => check.range_explained(
            &format!("{key}.initial"),
            value,
            Closed(-MAX_LEVEL),
            Closed(MAX_LEVEL),
            " (a level in the asset's units; rates are fractions, 0.04 = 4%)",
        ),
    };
    let (allowed, required) = allowed_params(asset.process);
    let process_name = asset.process.name();

    let driver_name = asset.driver.clone().unwrap_or_else(|| name.to_string());
    // Derived levels, and assets with no volatility in any regime, draw nothing.
    let driver = if !draws_noise(asset) {
        if asset.driver.is_some() && asset.process.is_derived() {
            check.error(
                format!("{key}.driver"),
                format!("process \"{}\" draws no randomness", asset.process.name()),
            );
        }
        0
    } else {
        check
            .lookup(&format!("{key}.driver"), "driver", &driver_name, drivers)
            .unwrap_or(0)
    };
    let variance_driver = if asset.process == ProcessKind::Heston {
        let variance_name = asset
            .variance_driver
            .clone()
            .unwrap_or_else(|| format!("{name}_variance"));
        let index = check.lookup(
            &format!("{key}.variance_driver"),
            "driver",
            &variance_name,
            drivers,
        );
        if index == Some(driver) {
            check.error(format!("{key}.variance_driver"), "must differ from the asset's price driver; correlate them through the correlation matrix instead");
        }
        index
    } else {
        if asset.variance_driver.is_some() {
            check.error(
                format!("{key}.variance_driver"),
                format!("applies only to process \"heston\", not \"{process_name}\""),
            );
        }
        None
    };
    for (field, given) in [
        ("initial_variance", asset.initial_variance),
        ("variance_floor", asset.variance_floor),
    ] {
        if asset.process != ProcessKind::Heston && given.is_some() {
            check.error(
                format!("{key}.{field}"),
                format!("applies only to process \"heston\", not \"{process_name}\""),
            );
        }
    }

    let defaults = asset.defaults();
    for (field, value) in param_entries(&defaults) {
        if value.is_some() && !allowed.contains(&field) {
            check.error(
                format!("{key}.{field}"),
                format!(
                    "does not apply to process \"{process_name}\"; its parameters are {}",
                    allowed.join(", ")
                ),
            );
        }
    }
    for (regime, params) in &asset.by_regime {
        check.lookup(
            &format!("{key}.by_regime.{regime}"),
            "regime",
            regime,
            regime_names,
        );
        for (field, value) in param_entries(params) {
            if value.is_some() && !allowed.contains(&field) {
                check.error(
                    format!("{key}.by_regime.{regime}.{field}"),
                    format!(
                        "does not apply to process \"{process_name}\"; its parameters are {}",
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    let mut params = Vec::with_capacity(regime_names.len());
    let mut missing_reported = false;
    for regime in regime_names {
        let (merged, prefix) = match asset.by_regime.get(regime) {
            Some(over) => (
                overlay(&defaults, over),
                format!("{key}.by_regime.{regime}"),
            ),
            None => (defaults.clone(), key.clone()),
        };
        for field in required {
            let present = param_entries(&merged)
                .iter()
                .any(|(f, v)| f == field && v.is_some());
            if !present && !missing_reported {
                check.error(format!("{key}.{field}"), format!("process \"{process_name}\" needs `{field}` (at the asset's top level, or under by_regime.{regime})"));
                missing_reported = true;
            }
        }
        let at = |field: &str| {
            if asset
                .by_regime
                .get(regime)
                .and_then(|o| {
                    param_entries(o)
                        .iter()
                        .find(|(f, _)| *f == field)
                        .and_then(|(_, v)| *v)
                })
                .is_some()
            {
                format!("{prefix}.{field}")
            } else {
                format!("{key}.{field}")
            }
        };
        let value = |v: Option<f64>| v.unwrap_or(0.0);
        let p = AssetParams {
            bias: check.range(&at("bias"), value(merged.bias), Closed(-0.2), Closed(0.2)),
            drift: check.range(&at("drift"), value(merged.drift), Closed(-5.0), Closed(5.0)),
            vol: if is_log {
                check.range(&at("vol"), value(merged.vol), Closed(0.0), Closed(5.0))
            } else {
                check.range(
                    &at("vol"),
                    value(merged.vol),
                    Closed(0.0),
                    Closed(MAX_LEVEL),
                )
            },
            mean: check.range(
                &at("mean"),
                value(merged.mean),
                Closed(-MAX_LEVEL),
                Closed(MAX_LEVEL),
            ),
            mean_reversion: if asset.process == ProcessKind::Heston {
                check.range(
                    &at("mean_reversion"),
                    value(merged.mean_reversion),
                    Open(0.0),
                    Closed(TRADING_DAYS_PER_YEAR),
                )
            } else {
                check.range(
                    &at("mean_reversion"),
                    value(merged.mean_reversion),
                    Closed(0.0),
                    Closed(TRADING_DAYS_PER_YEAR),
                )
            },
            long_run_variance: if asset.process == ProcessKind::Heston {
                check.range(
                    &at("long_run_variance"),
                    value(merged.long_run_variance),
                    Open(0.0),
                    Closed(MAX_VARIANCE),
                )
            } else {
                0.0
            },
            vol_of_vol: check.range(
                &at("vol_of_vol"),
                value(merged.vol_of_vol),
                Closed(0.0),
                Closed(10.0),
            ),
            jump_intensity: check.range(
                &at("jump_intensity"),
                value(merged.jump_intensity),
                Closed(0.0),
                Closed(TRADING_DAYS_PER_YEAR),
            ),
            // The same bounds in log terms and in an OU asset's units: a jump
            // of 5 is a factor e^5 on a price and 500 percentage points on a rate.
            jump_mean: check.range(
                &at("jump_mean"),
                value(merged.jump_mean),
                Closed(-MAX_JUMP),
                Closed(MAX_JUMP),
            ),
            jump_sd: check.range(
                &at("jump_sd"),
                value(merged.jump_sd),
                Closed(0.0),
                Closed(MAX_JUMP),
            ),
        };
        params.push(p);
    }

    let initial_variance = if asset.process == ProcessKind::Heston {
        match asset.initial_variance {
            Some(v) => check.range(
                &format!("{key}.initial_variance"),
                v,
                Closed(0.0),
                Closed(MAX_VARIANCE),
            ),
            None => params.first().map_or(0.0, |p| p.long_run_variance),
        }
    } else {
        0.0
    };
    let variance_floor = match asset.variance_floor {
        Some(floor) if asset.process == ProcessKind::Heston => {
            let floor = check.range(
                &format!("{key}.variance_floor"),
                floor,
                Closed(0.0),
                Closed(MAX_VARIANCE),
            );
            let least = params
                .iter()
                .map(|p| p.long_run_variance)
                .fold(f64::INFINITY, f64::min)
                .min(initial_variance);
            if floor > least {
                check.error(
                    format!("{key}.variance_floor"),
                    format!(
                        "{floor} is above the least long_run_variance or initial_variance of the asset ({least}): the floor must lie at or below both"
                    ),
                );
            }
            floor
        }
        _ => 0.0,
    };

    let jump_scaling = asset.jump_scaling.as_ref().map(|s| {
        let k = format!("{key}.jump_scaling");
        if !is_log {
            check.error(
                &k,
                format!(
                    "applies only to log-price processes (gbm, heston), not \"{process_name}\""
                ),
            );
        }
        JumpScaling {
            valuation_initial: check.range(
                &format!("{k}.valuation_initial"),
                s.valuation_initial,
                Open(0.0),
                Open(f64::INFINITY),
            ),
            valuation_reference: check.range(
                &format!("{k}.valuation_reference"),
                s.valuation_reference,
                Open(0.0),
                Open(f64::INFINITY),
            ),
            sales_growth: check.range(
                &format!("{k}.sales_growth"),
                s.sales_growth,
                Closed(-1.0),
                Closed(1.0),
            ),
            exponent: check.range(
                &format!("{k}.exponent"),
                s.exponent,
                Closed(-20.0),
                Closed(20.0),
            ),
            max_factor: check.range(
                &format!("{k}.max_factor"),
                s.max_factor.unwrap_or(10.0),
                Closed(1.0),
                Closed(1000.0),
            ),
        }
    });

    Asset {
        name: name.to_string(),
        description: asset.description.clone(),
        unit: asset.unit.clone(),
        process: asset.process,
        initial,
        driver,
        variance_driver,
        initial_variance,
        variance_floor,
        params,
        betas: Vec::new(),
        policy: None,
        curve: None,
        spread: None,
        implied_vol: None,
        carry: None,
        pass_through: None,
        policy_error: None,
        liquidation: None,
        jump_scaling,
    }
}

/// A beta asset's betas in every regime: the top-level table overlaid, key by key,
/// by `by_regime.<regime>.betas`. Only beta assets take betas, only on assets that
/// are not themselves beta assets (so every base has moved before its satellites).
pub(super) fn build_betas(
    name: &str,
    asset: &RawAsset,
    regime_names: &[String],
    asset_names: &[String],
    raw: &RawScenario,
    check: &mut Checker<'_>,
) -> Vec<Vec<(usize, f64)>> {
    let key = format!("assets.{name}");
    let defaults = asset.defaults();
    if asset.process != ProcessKind::Beta {
        if asset.betas.is_some() {
            check.error(format!("{key}.betas"), "applies only to process \"beta\"");
        }
        for (regime, params) in &asset.by_regime {
            if params.betas.is_some() {
                check.error(
                    format!("{key}.by_regime.{regime}.betas"),
                    "applies only to process \"beta\"",
                );
            }
        }
        return vec![Vec::new(); regime_names.len()];
    }
    regime_names
        .iter()
        .map(|regime| {
            let (merged, prefix) = match asset.by_regime.get(regime) {
                Some(over) if over.betas.is_some() => (overlay(&defaults, over), format!("{key}.by_regime.{regime}.betas")),
                _ => (defaults.clone(), format!("{key}.betas")),
            };
            let Some(betas) = merged.betas.filter(|b| !b.is_empty()) else {
                check.error(format!("{key}.betas"), "process \"beta\" needs `betas`, for example betas = { gold = 1.4 }");
                return Vec::new();
            };
            betas
                .iter()
                .filter_map(|(base, beta)| {
                    let k = format!("{prefix}.{base}");
                    let index = check.lookup(&k, "asset", base, asset_names)?;
                    if base == name {
                        check.error(&k, "an asset cannot be its own base");
                        return None;
                    }
                    if raw.assets[index].process == ProcessKind::ImpliedVol {
                        check.error(&k, format!("`{base}` is an implied vol, computed after the satellites; take a beta on its Heston asset"));
                        return None;
                    }
                    Some((index, check.range(&k, *beta, Closed(-10.0), Closed(10.0))))
                })
                .collect()
        })
        .collect()
}

/// A circle of beta assets taking betas on each other, if there is one.
pub(super) fn beta_cycle(assets: &[Asset]) -> Option<Vec<usize>> {
    let bases = |a: usize| -> Vec<usize> {
        let mut all: Vec<usize> = assets[a].betas.iter().flatten().map(|&(b, _)| b).collect();
        all.sort_unstable();
        all.dedup();
        all.retain(|&b| assets[b].process == ProcessKind::Beta);
        all
    };
    // Depth-first search with the path on a stack: 0 unvisited, 1 on the path, 2 done.
    fn visit(
        a: usize,
        bases: &dyn Fn(usize) -> Vec<usize>,
        state: &mut [u8],
        path: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        state[a] = 1;
        path.push(a);
        for b in bases(a) {
            if state[b] == 1 {
                let from = path.iter().position(|&p| p == b).unwrap_or(0);
                let mut cycle = path[from..].to_vec();
                cycle.push(b);
                return Some(cycle);
            }
            if state[b] == 0 {
                if let Some(cycle) = visit(b, bases, state, path) {
                    return Some(cycle);
                }
            }
        }
        path.pop();
        state[a] = 2;
        None
    }
    let mut state = vec![0u8; assets.len()];
    (0..assets.len())
        .filter(|&a| assets[a].process == ProcessKind::Beta)
        .find_map(|a| {
            if state[a] == 0 {
                visit(a, &bases, &mut state, &mut Vec::new())
            } else {
                None
            }
        })
}

/// Whether an asset draws a Brownian driver: every Heston asset, and any other
/// simulated asset with a non-zero `vol` in some regime.
pub(super) fn draws_noise(asset: &RawAsset) -> bool {
    match asset.process {
        ProcessKind::Heston => true,
        process if process.is_derived() => false,
        _ => {
            let vols = std::iter::once(asset.vol).chain(asset.by_regime.values().map(|p| p.vol));
            vols.flatten().any(|v| v != 0.0)
        }
    }
}

#[derive(Default)]
pub(super) struct Links {
    policy: Option<PolicyRule>,
    curve: Option<Curve>,
    spread: Option<(usize, usize)>,
    implied_vol: Option<ImpliedVol>,
    carry: Option<Carry>,
    pass_through: Option<PassThrough>,
    policy_error: Option<PolicyError>,
    liquidation: Option<Liquidation>,
}

/// The rate blocks' references between assets: each names assets of the process
/// it needs, and each belongs to one process.
pub(super) fn build_links(
    name: &str,
    asset: &RawAsset,
    names: &[String],
    processes: &[ProcessKind],
    dates: &[NaiveDate],
    check: &mut Checker<'_>,
) -> Links {
    let key = format!("assets.{name}");
    let process = asset.process;
    let mut links = Links::default();
    let belongs = |check: &mut Checker<'_>, field: &str, present: bool, owner: ProcessKind| {
        if present && process != owner {
            check.error(
                format!("{key}.{field}"),
                format!(
                    "applies only to process \"{}\", not \"{}\"",
                    owner.name(),
                    process.name()
                ),
            );
        }
        if !present && process == owner {
            check.error(
                format!("{key}.{field}"),
                format!("process \"{}\" needs `{field}`", owner.name()),
            );
        }
        present && process == owner
    };
    // An asset reference that must be of one of `kinds`.
    let reference = |check: &mut Checker<'_>,
                     field: &str,
                     target: &str,
                     kinds: &[ProcessKind]|
     -> Option<usize> {
        let index = check.lookup(&format!("{key}.{field}"), "asset", target, names)?;
        if !kinds.contains(&processes[index]) {
            let valid: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
            check.error(
                format!("{key}.{field}"),
                format!(
                    "`{target}` has process \"{}\"; valid here: {}",
                    processes[index].name(),
                    valid.join(", ")
                ),
            );
            return None;
        }
        Some(index)
    };
    let level_inputs = [ProcessKind::Ou, ProcessKind::PolicyRate, ProcessKind::Yield];
    let log_prices = [ProcessKind::Gbm, ProcessKind::Heston, ProcessKind::Beta];

    if belongs(
        check,
        "policy",
        asset.policy.is_some(),
        ProcessKind::PolicyRate,
    ) {
        let policy = asset.policy.as_ref().expect("checked above");
        let k = format!("{key}.policy");
        let inflation = reference(
            check,
            "policy.inflation",
            &policy.inflation,
            &[ProcessKind::Ou],
        );
        let run = RunDates::of(dates);
        let mut meeting_steps: Vec<usize> = Vec::new();
        match (&policy.meeting_dates, policy.meeting_every_days) {
            (Some(_), Some(_)) => check.error(
                &k,
                "give either `meeting_dates` or `meeting_every_days`, not both",
            ),
            (Some(list), None) => {
                let mut listed = Vec::new();
                for (i, value) in list.iter().enumerate() {
                    match parse_run_date(value, run) {
                        Ok(date) => listed.push(date),
                        Err(message) => check.error(format!("{k}.meeting_dates[{i}]"), message),
                    }
                }
                // Meetings before the start have happened: the starting rate holds them.
                meeting_steps = meetings_by_pattern(&listed, dates)
                    .into_iter()
                    .chain(listed)
                    .filter(|date| *date >= dates[0] && Some(date) <= dates.last())
                    .map(|date| step_of(date, dates))
                    .collect();
            }
            (None, every) => {
                let every = every.unwrap_or(30);
                if every == 0 || every > 2520 {
                    check.error(
                        format!("{k}.meeting_every_days"),
                        format!("{every} is out of range; valid: [1, 2520] trading days"),
                    );
                } else {
                    meeting_steps = (every as usize - 1..dates.len() - 1)
                        .step_by(every as usize)
                        .collect();
                }
            }
        }
        meeting_steps.sort_unstable();
        meeting_steps.dedup();
        let chair_key = format!("{k}.chair_date");
        let chair_date =
            policy
                .chair_date
                .as_ref()
                .and_then(|value| match parse_run_date(value, run) {
                    Ok(date) => Some(date),
                    Err(message) => {
                        check.error(&chair_key, message);
                        None
                    }
                });
        let chair_step = chair_date.and_then(|date| {
            let end = *dates.last().expect("a grid has two dates");
            if date < dates[0] {
                check.note(
                    &chair_key,
                    format!(
                        "the chair took office on {date}, before the start {}: the dovish bias is in force from the first day",
                        dates[0]
                    ),
                );
                Some(0)
            } else if date > end {
                check.note(
                    &chair_key,
                    format!("the chair takes office on {date}, after the horizon's end {end}: no dovish bias in this run"),
                );
                None
            } else {
                Some(step_of(date, dates))
            }
        });
        let dovish_bias = check.range(
            &format!("{k}.dovish_bias"),
            policy.dovish_bias.unwrap_or(0.0),
            Closed(-0.1),
            Closed(0.1),
        );
        let alignment = check.range(
            &format!("{k}.committee_alignment"),
            policy.committee_alignment.unwrap_or(1.0),
            Closed(0.0),
            Closed(1.0),
        );
        let growth = policy
            .growth
            .as_ref()
            .and_then(|name| reference(check, "policy.growth", name, &[ProcessKind::Ou]));
        let growth_response = check.range(
            &format!("{k}.growth_response"),
            policy.growth_response.unwrap_or(0.0),
            Closed(0.0),
            Closed(10.0),
        );
        if policy.growth.is_none() && growth_response != 0.0 {
            check.error(
                format!("{k}.growth_response"),
                "needs `growth`: the level asset holding the output gap",
            );
        }
        let rule = PolicyRule {
            inflation: inflation.unwrap_or(0),
            growth,
            growth_response,
            neutral_rate: check.range(
                &format!("{k}.neutral_rate"),
                policy.neutral_rate,
                Closed(-0.05),
                Closed(0.2),
            ),
            inflation_target: check.range(
                &format!("{k}.inflation_target"),
                policy.inflation_target,
                Closed(-0.05),
                Closed(0.2),
            ),
            inflation_response: check.range(
                &format!("{k}.inflation_response"),
                policy.inflation_response.unwrap_or(1.5),
                Closed(0.0),
                Closed(10.0),
            ),
            adjustment: check.range(
                &format!("{k}.adjustment"),
                policy.adjustment.unwrap_or(0.5),
                Closed(0.0),
                Closed(1.0),
            ),
            max_move: check.range(
                &format!("{k}.max_move"),
                policy.max_move.unwrap_or(0.005),
                Closed(0.0025),
                Closed(0.05),
            ),
            meeting_steps,
            chair_step,
            chair_date,
            chair_bias: dovish_bias * alignment,
        };
        links.policy = inflation.map(|_| rule);
    }
    if belongs(check, "curve", asset.curve.is_some(), ProcessKind::Yield) {
        let curve = asset.curve.as_ref().expect("checked above");
        let policy_rate = reference(
            check,
            "curve.policy_rate",
            &curve.policy_rate,
            &[ProcessKind::PolicyRate],
        );
        let term_premium = reference(
            check,
            "curve.term_premium",
            &curve.term_premium,
            &[ProcessKind::Ou],
        );
        let maturity_years = check.range(
            &format!("{key}.curve.maturity_years"),
            curve.maturity_years,
            Open(0.0),
            Closed(50.0),
        );
        let rate_mean_reversion = check.range(
            &format!("{key}.curve.rate_mean_reversion"),
            curve.rate_mean_reversion,
            Open(0.0),
            Closed(10.0),
        );
        if let (Some(policy_rate), Some(term_premium)) = (policy_rate, term_premium) {
            links.curve = Some(Curve {
                policy_rate,
                term_premium,
                maturity_years,
                rate_mean_reversion,
            });
        }
    }
    if belongs(check, "spread", asset.spread.is_some(), ProcessKind::Spread) {
        let pair = asset.spread.as_ref().expect("checked above");
        if let [a, b] = pair.as_slice() {
            let a = reference(check, "spread[0]", a, &level_inputs);
            let b = reference(check, "spread[1]", b, &level_inputs);
            if a.is_some() && a == b {
                check.error(format!("{key}.spread"), "names the same asset twice");
            } else if let (Some(a), Some(b)) = (a, b) {
                links.spread = Some((a, b));
            }
        } else {
            check.error(
                format!("{key}.spread"),
                format!(
                    "must name two assets, like [\"us10y\", \"us2y\"]; found {}",
                    pair.len()
                ),
            );
        }
    }
    if belongs(
        check,
        "implied_vol",
        asset.implied_vol.is_some(),
        ProcessKind::ImpliedVol,
    ) {
        let spec = asset.implied_vol.as_ref().expect("checked above");
        let of = reference(check, "implied_vol.of", &spec.of, &[ProcessKind::Heston]);
        let days = check.range(
            &format!("{key}.implied_vol.horizon_days"),
            spec.horizon_days.unwrap_or(30.0),
            Closed(1.0),
            Closed(3650.0),
        );
        let risk_premium = check.range(
            &format!("{key}.implied_vol.risk_premium"),
            spec.risk_premium.unwrap_or(0.0),
            Closed(0.0),
            Closed(2.0),
        );
        links.implied_vol = of.map(|of| ImpliedVol {
            of,
            horizon_years: days / 365.0,
            risk_premium,
        });
    }
    if let Some(carry) = &asset.carry {
        if process != ProcessKind::Beta {
            check.error(
                format!("{key}.carry"),
                format!(
                    "applies only to process \"beta\", not \"{}\"",
                    process.name()
                ),
            );
        } else {
            let foreign_rate = check.range(
                &format!("{key}.carry.foreign_rate"),
                carry.foreign_rate,
                Closed(-0.05),
                Closed(0.5),
            );
            let levels = [
                ProcessKind::Ou,
                ProcessKind::PolicyRate,
                ProcessKind::Yield,
                ProcessKind::Spread,
            ];
            if let Some(domestic) =
                reference(check, "carry.domestic_rate", &carry.domestic_rate, &levels)
            {
                links.carry = Some(Carry {
                    foreign_rate,
                    domestic,
                });
            }
        }
    }
    if let Some(pass) = &asset.pass_through {
        if process != ProcessKind::Ou {
            check.error(
                format!("{key}.pass_through"),
                format!("applies only to process \"ou\", not \"{}\"", process.name()),
            );
        } else if let Some(currency) =
            reference(check, "pass_through.currency", &pass.currency, &log_prices)
        {
            let coefficient = check.range(
                &format!("{key}.pass_through.coefficient"),
                pass.coefficient,
                Closed(0.0),
                Closed(10.0),
            );
            links.pass_through = Some(PassThrough {
                currency,
                coefficient,
            });
        }
    }
    if let Some(error) = &asset.policy_error {
        if process != ProcessKind::Ou {
            check.error(
                format!("{key}.policy_error"),
                format!("applies only to process \"ou\", not \"{}\"", process.name()),
            );
        } else if let Some(policy_rate) = reference(
            check,
            "policy_error.policy_rate",
            &error.policy_rate,
            &[ProcessKind::PolicyRate],
        ) {
            let coefficient = check.range(
                &format!("{key}.policy_error.coefficient"),
                error.coefficient,
                Closed(0.0),
                Closed(1000.0),
            );
            let discretionary = check.range(
                &format!("{key}.policy_error.discretionary"),
                error.discretionary.unwrap_or(0.0),
                Closed(0.0),
                Closed(10.0),
            );
            links.policy_error = Some(PolicyError {
                policy_rate,
                coefficient,
                discretionary,
            });
        }
    }
    if let Some(liquidation) = &asset.liquidation {
        if process != ProcessKind::Beta {
            check.error(
                format!("{key}.liquidation"),
                format!(
                    "applies only to process \"beta\", not \"{}\"",
                    process.name()
                ),
            );
        } else {
            let implied_vol = reference(
                check,
                "liquidation.implied_vol",
                &liquidation.implied_vol,
                &[ProcessKind::ImpliedVol],
            );
            // The equity must move before the beta assets do.
            let equity = reference(
                check,
                "liquidation.equity",
                &liquidation.equity,
                &[ProcessKind::Gbm, ProcessKind::Heston],
            );
            let above = check.range(
                &format!("{key}.liquidation.above"),
                liquidation.above,
                Open(0.0),
                Closed(10.0),
            );
            let beta = check.range(
                &format!("{key}.liquidation.beta"),
                liquidation.beta,
                Closed(-10.0),
                Closed(10.0),
            );
            if let (Some(implied_vol), Some(equity)) = (implied_vol, equity) {
                links.liquidation = Some(Liquidation {
                    implied_vol,
                    above,
                    equity,
                    beta,
                });
            }
        }
    }
    links
}

/// The step of a date from a calendar that may run beyond the horizon (FOMC
/// meetings, a chair's start): dates outside it are skipped, not errors, so that
/// a scenario can shorten the horizon of the one it extends.
/// A published meeting calendar ends; the committee does not. Outside the
/// span of the listed dates (and a month either side, where the listed ones
/// govern), meetings follow the FOMC's pattern of eight a year, so a scenario
/// runs from any start without a calendar of its own.
pub(super) fn meetings_by_pattern(listed: &[NaiveDate], dates: &[NaiveDate]) -> Vec<NaiveDate> {
    /// The listed calendar's reach beyond its first and last meeting.
    const LISTED_REACH_DAYS: i64 = 31;
    let (Some(start), Some(end)) = (dates.first(), dates.last()) else {
        return Vec::new();
    };
    let span = listed
        .iter()
        .min()
        .zip(listed.iter().max())
        .map(|(first, last)| {
            (
                *first - Duration::days(LISTED_REACH_DAYS),
                *last + Duration::days(LISTED_REACH_DAYS),
            )
        });
    (chrono::Datelike::year(start)..=chrono::Datelike::year(end))
        .flat_map(calendar::fomc_pattern)
        .filter(|date| date >= start && date <= end)
        .filter(|date| span.is_none_or(|(from, to)| *date < from || *date > to))
        .collect()
}
