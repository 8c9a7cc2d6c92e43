//! One pass from the raw structs to the checked [`Scenario`], collecting every
//! problem it finds (not just the first) with its key path and location.
//!
//! Range checks are written `!(value >= lo)` on purpose: NaN fails every
//! comparison, so this form rejects it where `value < lo` would let it through.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use chrono::{Duration, NaiveDate};
use indexmap::IndexMap;
use nalgebra::DMatrix;
use sha2::{Digest, Sha256};

use super::calendar::{self, TRADING_DAYS_PER_YEAR};
use super::check::{Bound, Checker};
use super::error::ScenarioError;
use super::load::{Loaded, Sources};
use super::raw::{
    CalendarKind, CorrelationPairs, ProcessKind, RawAsset, RawAssetParams, RawEvent, RawScenario,
};
use super::*;

mod signals;

/// Symmetry and unit-diagonal tolerance of correlation matrices.
const CORRELATION_TOLERANCE: f64 = 1e-9;
/// Smallest eigenvalue still accepted as positive semi-definite (rounding of the input).
const EIGENVALUE_TOLERANCE: f64 = -1e-10;
/// Longest horizon accepted, in years.
const MAX_HORIZON_YEARS: f64 = 50.0;
/// The largest `max_firings` (a cap beyond any horizon's steps means no cap).
const MAX_FIRINGS: u64 = 1_000_000;

use Bound::{Closed, Open};

pub(super) fn validate(loaded: Loaded) -> Result<Scenario, ScenarioError> {
    let Loaded {
        raw,
        merged,
        sources,
    } = loaded;
    let mut check = Checker::new(&sources);
    let scenario = build(&raw, merged, &mut check).map(|scenario| Scenario {
        overrides: sources.overrides.clone(),
        ..scenario
    });
    check.finish(scenario)
}

fn build(raw: &RawScenario, merged: toml::Table, check: &mut Checker<'_>) -> Option<Scenario> {
    let meta = &raw.scenario;
    check.identifier("scenario.name", "scenario name", &meta.name);
    let paths = meta.paths.unwrap_or(DEFAULT_PATHS);
    if paths == 0 {
        check.error("scenario.paths", "0 is out of range; valid: at least 1");
    }
    let sample_paths = meta.sample_paths.unwrap_or(DEFAULT_SAMPLE_PATHS);
    if sample_paths > 100_000 {
        check.error(
            "scenario.sample_paths",
            format!("{sample_paths} is out of range; valid: [0, 100000]"),
        );
    }
    let calendar = meta.calendar.unwrap_or(CalendarKind::Nyse);
    let dates = build_dates(raw, calendar, check)?;
    let dt = 1.0 / TRADING_DAYS_PER_YEAR;

    let regime_names: Vec<String> = raw.regimes.keys().cloned().collect();
    let regime_names = if regime_names.is_empty() {
        vec!["base".to_string()]
    } else {
        regime_names
    };
    for name in &regime_names {
        check.identifier(&format!("regimes.{name}"), "regime name", name);
    }
    if regime_names.len() > MAX_REGIMES {
        check.error(
            "regimes",
            format!(
                "{} regimes; at most {MAX_REGIMES} are supported",
                regime_names.len()
            ),
        );
    }
    let asset_names: Vec<String> = raw.assets.keys().cloned().collect();
    if asset_names.is_empty() {
        check.error(
            "assets",
            "a scenario needs at least one asset, for example [assets.spx]",
        );
    }
    for name in &asset_names {
        check.identifier(&format!("assets.{name}"), "asset name", name);
    }

    let drivers = build_drivers(raw, check);
    if drivers.len() > crate::model::MAX_DRIVERS {
        check.error(
            "correlation.drivers",
            format!(
                "{} Brownian drivers; at most {} are supported",
                drivers.len(),
                crate::model::MAX_DRIVERS
            ),
        );
        return None;
    }
    let default_correlation = build_default_correlation(raw, &drivers, check);
    let regimes = build_regimes(raw, &regime_names, &drivers, &default_correlation, check);
    let initial_distribution = build_initial(raw, &regime_names, check);
    let assets = build_assets(raw, &regime_names, &drivers, &dates, check);
    let flows = build_flows(raw, &asset_names, &assets, check);
    let state_terms = build_state_terms(
        raw,
        &regime_names,
        &asset_names,
        &assets,
        flows.as_ref(),
        check,
    );
    let events = build_events(raw, &dates, &regime_names, &asset_names, &assets, check);
    check_exit_probabilities(&regimes, &events, &state_terms, dt, check);
    let correlation_pairs = build_correlation_pairs(raw, &asset_names, check);
    let signals = signals::build_signals(raw, &asset_names, &assets, &events, check);
    let (currencies, asset_currency) = build_currencies(raw, &asset_names, &assets, check);
    let (portfolio_files, stress_files) = portfolio_refs(raw, check.sources());
    let report = build_report(raw, &asset_names, &regime_names, check);

    let hash = {
        let canonical = toml::to_string(&merged).unwrap_or_default();
        let digest = Sha256::digest(canonical.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    };
    Some(Scenario {
        name: meta.name.clone(),
        description: meta.description.clone(),
        seed: meta.seed.unwrap_or(DEFAULT_SEED),
        paths,
        sample_paths: sample_paths.min(paths) as usize,
        calendar,
        dates,
        dt,
        regimes,
        initial_distribution,
        state_terms,
        drivers,
        assets,
        events,
        correlation_pairs,
        flows,
        signals,
        currencies,
        asset_currency,
        portfolio_files,
        stress_files,
        inline_portfolios: raw.portfolio.clone(),
        sources: check.sources().clone(),
        hash,
        resolved: merged,
        overrides: None,
        report,
    })
}

/// The report's roles: names given in `[report]` must exist.
fn build_report(
    raw: &RawScenario,
    asset_names: &[String],
    regime_names: &[String],
    check: &mut Checker<'_>,
) -> ReportRoles {
    let given = &raw.report;
    let mut roles = ReportRoles::default();
    let asset = |check: &mut Checker<'_>, key: &str, name: &String, slot: &mut String| {
        check.lookup(key, "asset", name, asset_names);
        slot.clone_from(name);
    };
    if let Some(name) = &given.equity {
        asset(check, "report.equity", name, &mut roles.equity);
    }
    if let Some(name) = &given.dollar {
        asset(check, "report.dollar", name, &mut roles.dollar);
    }
    if let Some(names) = &given.core_assets {
        for (i, name) in names.iter().enumerate() {
            check.lookup(
                &format!("report.core_assets[{i}]"),
                "asset",
                name,
                asset_names,
            );
        }
        roles.core_assets.clone_from(names);
    }
    if let Some(name) = &given.stress_regime {
        check.lookup("report.stress_regime", "regime", name, regime_names);
        roles.stress_regime.clone_from(name);
    }
    if let Some(views) = &given.foreign_views {
        roles.foreign_views = views
            .iter()
            .enumerate()
            .map(|(i, view)| {
                let key = format!("report.foreign_views[{i}]");
                if view.currency.trim().is_empty() {
                    check.error(
                        format!("{key}.currency"),
                        "must name the investor's currency, like \"EUR\"",
                    );
                }
                check.lookup(
                    &format!("{key}.unhedged"),
                    "asset",
                    &view.unhedged,
                    asset_names,
                );
                check.lookup(&format!("{key}.hedged"), "asset", &view.hedged, asset_names);
                ForeignView {
                    currency: view.currency.clone(),
                    unhedged: view.unhedged.clone(),
                    hedged: view.hedged.clone(),
                }
            })
            .collect();
    }
    roles
}

fn parse_date(value: &toml::Value) -> Result<NaiveDate, String> {
    match value {
        toml::Value::Datetime(datetime) => match (datetime.date, datetime.time) {
            (Some(date), None) => {
                NaiveDate::from_ymd_opt(date.year as i32, date.month as u32, date.day as u32)
                    .ok_or_else(|| format!("{datetime} is not a calendar date"))
            }
            _ => Err(format!(
                "{datetime} must be a date alone, like 2026-05-15 (no time of day)"
            )),
        },
        toml::Value::String(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| format!("\"{text}\" is not a date; write it as 2026-05-15")),
        other => Err(format!(
            "expected a date like 2026-05-15, found {}",
            other.type_str()
        )),
    }
}

fn build_dates(
    raw: &RawScenario,
    calendar: CalendarKind,
    check: &mut Checker<'_>,
) -> Option<Vec<NaiveDate>> {
    let meta = &raw.scenario;
    let start = match parse_date(&meta.start_date) {
        Ok(date) => date,
        Err(message) => {
            check.error("scenario.start_date", message);
            return None;
        }
    };
    // Keeps every date arithmetic on the grid far from chrono's range limits.
    let (earliest, latest) = (
        NaiveDate::from_ymd_opt(1900, 1, 1).expect("a valid date"),
        NaiveDate::from_ymd_opt(2200, 12, 31).expect("a valid date"),
    );
    if start < earliest || start > latest {
        check.error(
            "scenario.start_date",
            format!("{start} is out of range; valid: {earliest} to {latest}"),
        );
        return None;
    }
    let given = [
        meta.end_date.is_some(),
        meta.horizon_years.is_some(),
        meta.horizon_steps.is_some(),
    ]
    .iter()
    .filter(|g| **g)
    .count();
    if given != 1 {
        check.error(
            "scenario",
            format!(
                "set exactly one of `end_date`, `horizon_years` and `horizon_steps` (found {given})"
            ),
        );
        return None;
    }
    let max_steps = (MAX_HORIZON_YEARS * TRADING_DAYS_PER_YEAR) as u64;
    let dates = if let Some(end) = &meta.end_date {
        let end = match parse_date(end) {
            Ok(date) => date,
            Err(message) => {
                check.error("scenario.end_date", message);
                return None;
            }
        };
        if end <= start || end > start + Duration::days((MAX_HORIZON_YEARS * 365.25) as i64) {
            check.error(
                "scenario.end_date",
                format!("{end} must fall after start_date {start} and within {MAX_HORIZON_YEARS} years of it"),
            );
            return None;
        }
        calendar::grid_until(start, end, calendar)
    } else if let Some(years) = meta.horizon_years {
        if !(years > 0.0 && years <= MAX_HORIZON_YEARS) {
            check.error(
                "scenario.horizon_years",
                format!("{years} is out of range; valid: (0, {MAX_HORIZON_YEARS}]"),
            );
            return None;
        }
        let end = start + Duration::days((years * 365.25).round() as i64);
        calendar::grid_until(start, end, calendar)
    } else {
        let steps = meta.horizon_steps.unwrap_or(0);
        if steps == 0 || steps > max_steps {
            check.error(
                "scenario.horizon_steps",
                format!("{steps} is out of range; valid: [1, {max_steps}]"),
            );
            return None;
        }
        calendar::grid_with_steps(start, steps as usize, calendar)
    };
    if dates.len() < 2 {
        check.error(
            "scenario",
            "the horizon holds no trading day after the start; extend end_date",
        );
        return None;
    }
    Some(dates)
}

fn build_drivers(raw: &RawScenario, check: &mut Checker<'_>) -> Vec<String> {
    if let Some(drivers) = &raw.correlation.drivers {
        for (index, name) in drivers.iter().enumerate() {
            check.identifier(
                &format!("correlation.drivers[{index}]"),
                "driver name",
                name,
            );
            if drivers[..index].contains(name) {
                check.error(
                    format!("correlation.drivers[{index}]"),
                    format!("driver `{name}` is listed twice"),
                );
            }
        }
        return drivers.clone();
    }
    // Without an explicit list, each asset brings its own drivers, in asset order.
    let mut drivers = Vec::new();
    for (name, asset) in raw.assets.iter().filter(|(_, a)| draws_noise(a)) {
        let driver = asset.driver.clone().unwrap_or_else(|| name.clone());
        if !drivers.contains(&driver) {
            drivers.push(driver);
        }
        if asset.process == ProcessKind::Heston {
            let variance = asset
                .variance_driver
                .clone()
                .unwrap_or_else(|| format!("{name}_variance"));
            if !drivers.contains(&variance) {
                drivers.push(variance);
            }
        }
    }
    drivers
}

fn check_correlation(
    key: &str,
    rows: &[Vec<f64>],
    drivers: &[String],
    check: &mut Checker<'_>,
) -> Option<DMatrix<f64>> {
    let n = drivers.len();
    if rows.len() != n || rows.iter().any(|row| row.len() != n) {
        let shape: Vec<usize> = rows.iter().map(|r| r.len()).collect();
        check.error(
            key,
            format!(
                "must be {n}x{n}, one row and column per driver ({}); found {} rows of lengths {:?}",
                drivers.join(", "),
                rows.len(),
                shape
            ),
        );
        return None;
    }
    check_matrix(
        key,
        DMatrix::from_fn(n, n, |i, j| rows[i][j]),
        drivers,
        check,
    )
}

/// `base` with the given pairs set (both triangles), then checked whole.
fn apply_pairs(
    key: &str,
    base: &DMatrix<f64>,
    pairs: &CorrelationPairs,
    drivers: &[String],
    check: &mut Checker<'_>,
) -> Option<DMatrix<f64>> {
    let mut matrix = base.clone();
    let mut set: Vec<(usize, usize)> = Vec::new();
    let mut ok = true;
    for (a, row) in pairs {
        let Some(i) = check.lookup(&format!("{key}.{a}"), "driver", a, drivers) else {
            ok = false;
            continue;
        };
        for (b, value) in row {
            let k = format!("{key}.{a}.{b}");
            let Some(j) = check.lookup(&k, "driver", b, drivers) else {
                ok = false;
                continue;
            };
            if i == j {
                check.error(&k, "a driver's correlation with itself is always 1; list pairs of different drivers");
                ok = false;
                continue;
            }
            if set.contains(&(i, j)) || set.contains(&(j, i)) {
                check.error(&k, format!("the pair {a} / {b} is given twice"));
                ok = false;
                continue;
            }
            let before = check.problems();
            let value = check.range(&k, *value, Closed(-1.0), Closed(1.0));
            ok &= check.problems() == before;
            set.push((i, j));
            matrix[(i, j)] = value;
            matrix[(j, i)] = value;
        }
    }
    if !ok {
        return None;
    }
    check_matrix(key, matrix, drivers, check)
}

fn check_matrix(
    key: &str,
    matrix: DMatrix<f64>,
    drivers: &[String],
    check: &mut Checker<'_>,
) -> Option<DMatrix<f64>> {
    let n = drivers.len();
    let mut ok = true;
    for i in 0..n {
        if !((matrix[(i, i)] - 1.0).abs() <= CORRELATION_TOLERANCE) {
            check.error(
                format!("{key}[{i}][{i}]"),
                format!("diagonal entry is {}; must be 1", matrix[(i, i)]),
            );
            ok = false;
        }
        for j in 0..i {
            let (a, b) = (matrix[(i, j)], matrix[(j, i)]);
            if !((-1.0..=1.0).contains(&a) && (-1.0..=1.0).contains(&b)) {
                check.error(
                    format!("{key}[{i}][{j}]"),
                    format!("{a} / {b} out of range; valid: [-1, 1]"),
                );
                ok = false;
            } else if !((a - b).abs() <= CORRELATION_TOLERANCE) {
                check.error(
                    key.to_string(),
                    format!(
                        "not symmetric: entry [{i}][{j}] is {a} but [{j}][{i}] is {b} ({} vs {})",
                        drivers[i], drivers[j]
                    ),
                );
                ok = false;
            }
        }
    }
    if !ok {
        return None;
    }
    let smallest = matrix
        .clone()
        .symmetric_eigen()
        .eigenvalues
        .iter()
        .cloned()
        .fold(f64::INFINITY, f64::min);
    if !(smallest >= EIGENVALUE_TOLERANCE) {
        check.error(
            key,
            format!("not positive semi-definite: smallest eigenvalue {smallest:.6}; no set of drivers can have these correlations"),
        );
        return None;
    }
    Some(matrix)
}

fn build_default_correlation(
    raw: &RawScenario,
    drivers: &[String],
    check: &mut Checker<'_>,
) -> DMatrix<f64> {
    let identity = DMatrix::identity(drivers.len(), drivers.len());
    let matrix = match &raw.correlation.matrix {
        Some(rows) => check_correlation("correlation.matrix", rows, drivers, check)
            .unwrap_or_else(|| identity.clone()),
        None => identity.clone(),
    };
    match &raw.correlation.pairs {
        Some(pairs) => {
            apply_pairs("correlation.pairs", &matrix, pairs, drivers, check).unwrap_or(identity)
        }
        None => matrix,
    }
}

fn build_regimes(
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

fn build_initial(raw: &RawScenario, names: &[String], check: &mut Checker<'_>) -> Vec<f64> {
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

/// Which parameters each process reads; any other parameter is an error.
fn allowed_params(process: ProcessKind) -> (&'static [&'static str], &'static [&'static str]) {
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

fn param_entries(p: &RawAssetParams) -> [(&'static str, Option<f64>); 10] {
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

fn overlay(base: &RawAssetParams, over: &RawAssetParams) -> RawAssetParams {
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

fn build_assets(
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
    }
    assets
}

fn build_asset_processes(
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

fn build_asset(
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
        (Some(value), false) if is_log => check.range(
            &format!("{key}.initial"),
            value,
            Open(0.0),
            Open(f64::INFINITY),
        ),
        (Some(value), false) => {
            check.range(&format!("{key}.initial"), value, Bound::None, Bound::None)
        }
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
    if asset.process != ProcessKind::Heston && asset.initial_variance.is_some() {
        check.error(
            format!("{key}.initial_variance"),
            format!("applies only to process \"heston\", not \"{process_name}\""),
        );
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
                    Open(f64::INFINITY),
                )
            },
            mean: check.range(&at("mean"), value(merged.mean), Bound::None, Bound::None),
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
                    Closed(4.0),
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
            jump_mean: if is_log {
                check.range(
                    &at("jump_mean"),
                    value(merged.jump_mean),
                    Closed(-5.0),
                    Closed(5.0),
                )
            } else {
                check.range(
                    &at("jump_mean"),
                    value(merged.jump_mean),
                    Bound::None,
                    Bound::None,
                )
            },
            jump_sd: if is_log {
                check.range(
                    &at("jump_sd"),
                    value(merged.jump_sd),
                    Closed(0.0),
                    Closed(5.0),
                )
            } else {
                check.range(
                    &at("jump_sd"),
                    value(merged.jump_sd),
                    Closed(0.0),
                    Open(f64::INFINITY),
                )
            },
        };
        params.push(p);
    }

    let initial_variance = if asset.process == ProcessKind::Heston {
        match asset.initial_variance {
            Some(v) => check.range(
                &format!("{key}.initial_variance"),
                v,
                Closed(0.0),
                Closed(4.0),
            ),
            None => params.first().map_or(0.0, |p| p.long_run_variance),
        }
    } else {
        0.0
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
        params,
        betas: Vec::new(),
        policy: None,
        curve: None,
        spread: None,
        implied_vol: None,
        carry: None,
        pass_through: None,
        policy_error: None,
        jump_scaling,
    }
}

/// A beta asset's betas in every regime: the top-level table overlaid, key by key,
/// by `by_regime.<regime>.betas`. Only beta assets take betas, only on assets that
/// are not themselves beta assets (so every base has moved before its satellites).
fn build_betas(
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

fn build_state_terms(
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
            _ => {
                check.error(
                    format!("{key}.feature"),
                    format!("unknown feature \"{}\"; valid: \"drawdown.<asset>\", \"pressure\"", term.feature),
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

fn build_events(
    raw: &RawScenario,
    dates: &[NaiveDate],
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
    let mut names: Vec<&str> = Vec::new();
    raw.events
        .iter()
        .enumerate()
        .filter_map(|(index, event)| {
            let key = format!("events[{index}]");
            check.identifier(&format!("{key}.name"), "event name", &event.name);
            if names.contains(&event.name.as_str()) {
                check.error(
                    format!("{key}.name"),
                    format!("another event is already called `{}`", event.name),
                );
            }
            names.push(&event.name);
            let trigger = build_trigger(&key, event, dates, asset_names, assets, check)?;
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
                        Bound::None,
                        Bound::None,
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
            Some(Event {
                name: event.name.clone(),
                description: event.description.clone(),
                trigger,
                duration_steps: event.duration_days.min(steps as u64 + 1) as usize,
                multipliers,
                jumps,
                adjustments,
                force_regime,
                max_firings,
            })
        })
        .collect()
}

fn build_jump(
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
    let log = assets[asset].is_log();
    let (lo, hi) = if log {
        (-5.0, 5.0)
    } else {
        (f64::MIN, f64::MAX)
    };
    let mean = check.range(&format!("{k}.mean"), jump.mean, Closed(lo), Closed(hi));
    let sd = check.range(
        &format!("{k}.sd"),
        jump.sd,
        Closed(0.0),
        Closed(if log { 5.0 } else { f64::MAX }),
    );
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
fn step_of(date: NaiveDate, dates: &[NaiveDate]) -> usize {
    let landing = dates.partition_point(|d| *d < date);
    landing.max(1) - 1
}

fn build_trigger(
    key: &str,
    event: &RawEvent,
    dates: &[NaiveDate],
    asset_names: &[String],
    assets: &[Asset],
    check: &mut Checker<'_>,
) -> Option<Trigger> {
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
        return Some(Trigger::Drawdown {
            asset,
            threshold,
            cooldown_steps: cooldown.max(1) as usize,
        });
    }
    let (start, end) = (
        dates[0],
        *dates.last().expect("dates has at least two entries"),
    );
    let date_in_horizon =
        |check: &mut Checker<'_>, field: &str, value: &toml::Value| -> Option<NaiveDate> {
            match parse_date(value) {
                Ok(date) if date >= start && date <= end => Some(date),
                Ok(date) => {
                    check.error(
                        format!("{key}.{field}"),
                        format!("{date} is outside the horizon; valid: {start} to {end}"),
                    );
                    None
                }
                Err(message) => {
                    check.error(format!("{key}.{field}"), message);
                    None
                }
            }
        };
    match (&event.date, event.rate_per_year) {
        (Some(date), None) => {
            if event.window_start.is_some() || event.window_end.is_some() {
                check.error(
                    format!("{key}.window_start"),
                    "a window applies only to Poisson events (with `rate_per_year`)",
                );
            }
            let date = date_in_horizon(check, "date", date)?;
            Some(Trigger::Dated {
                step: step_of(date, dates),
            })
        }
        (None, Some(rate)) => {
            let rate_per_year = check.range(
                &format!("{key}.rate_per_year"),
                rate,
                Closed(0.0),
                Closed(TRADING_DAYS_PER_YEAR),
            );
            let first_step = match &event.window_start {
                Some(value) => step_of(date_in_horizon(check, "window_start", value)?, dates),
                None => 0,
            };
            let end_step = match &event.window_end {
                Some(value) => step_of(date_in_horizon(check, "window_end", value)?, dates) + 1,
                None => dates.len() - 1,
            };
            if end_step <= first_step {
                check.error(format!("{key}.window_end"), "must fall after window_start");
                return None;
            }
            Some(Trigger::Poisson {
                rate_per_year,
                first_step,
                end_step,
            })
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

/// Refuses a chain whose exit probability per step could pass 0.5 once every event
/// multiplier and state term is at its largest: beyond that, `q dt` is no longer a
/// probability one step can carry and the discretisation stops meaning anything.
fn check_exit_probabilities(
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
                    "the exit probability per step can reach {bound:.3} with every event multiplier and state term at its largest; valid: at most {MAX_EXIT_PROBABILITY_PER_STEP}. Lower the intensities, the multipliers or the state coefficients"
                ),
            );
        }
    }
}

fn build_correlation_pairs(
    raw: &RawScenario,
    asset_names: &[String],
    check: &mut Checker<'_>,
) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    for (index, pair) in raw.statistics.correlations.iter().enumerate() {
        let key = format!("statistics.correlations[{index}]");
        let [a, b] = pair.as_slice() else {
            check.error(
                &key,
                format!(
                    "must name two assets, like [\"spx\", \"dxy\"]; found {} names",
                    pair.len()
                ),
            );
            continue;
        };
        let (Some(i), Some(j)) = (
            check.lookup(&format!("{key}[0]"), "asset", a, asset_names),
            check.lookup(&format!("{key}[1]"), "asset", b, asset_names),
        ) else {
            continue;
        };
        if i == j {
            check.error(&key, "names the same asset twice");
        } else if pairs.contains(&(i, j)) || pairs.contains(&(j, i)) {
            check.error(&key, format!("the pair {a} / {b} is listed twice"));
        } else {
            pairs.push((i, j));
        }
    }
    pairs
}

fn build_flows(
    raw: &RawScenario,
    asset_names: &[String],
    assets: &[Asset],
    check: &mut Checker<'_>,
) -> Option<Flows> {
    let flows = raw.flows.as_ref()?;
    let log_asset = |check: &mut Checker<'_>, field: &str, name: &str| {
        let index = check.lookup(&format!("flows.{field}"), "asset", name, asset_names)?;
        if !assets[index].is_log() {
            check.error(format!("flows.{field}"), format!("`{name}` must be a log-price asset (gbm, heston, beta): flows read its returns"));
            return None;
        }
        Some(index)
    };
    let equity = log_asset(check, "equity", &flows.equity);
    let currency = log_asset(check, "currency", &flows.currency);
    if equity.is_some() && equity == currency {
        check.error("flows.currency", "must differ from flows.equity");
    }
    let result = Flows {
        equity: equity.unwrap_or(0),
        currency: currency.unwrap_or(0),
        half_life_days: check.range(
            "flows.half_life_days",
            flows.half_life_days.unwrap_or(20.0),
            Closed(1.0),
            Closed(2520.0),
        ),
        threshold: check.range(
            "flows.threshold",
            flows.threshold.unwrap_or(0.0),
            Closed(-5.0),
            Closed(5.0),
        ),
        equity_impact: check.range(
            "flows.equity_impact",
            flows.equity_impact.unwrap_or(0.0),
            Closed(0.0),
            Closed(10.0),
        ),
        currency_impact: check.range(
            "flows.currency_impact",
            flows.currency_impact.unwrap_or(0.0),
            Closed(0.0),
            Closed(10.0),
        ),
        max_pressure: check.range(
            "flows.max_pressure",
            flows.max_pressure.unwrap_or(1.0),
            Open(0.0),
            Closed(10.0),
        ),
    };
    (equity.is_some() && currency.is_some()).then_some(result)
}

#[derive(Default)]
struct Links {
    policy: Option<PolicyRule>,
    curve: Option<Curve>,
    spread: Option<(usize, usize)>,
    implied_vol: Option<ImpliedVol>,
    carry: Option<Carry>,
    pass_through: Option<PassThrough>,
    policy_error: Option<PolicyError>,
}

/// The rate blocks' references between assets: each names assets of the process
/// it needs, and each belongs to one process.
fn build_links(
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
        let mut meeting_steps: Vec<usize> = Vec::new();
        match (&policy.meeting_dates, policy.meeting_every_days) {
            (Some(_), Some(_)) => check.error(
                &k,
                "give either `meeting_dates` or `meeting_every_days`, not both",
            ),
            (Some(list), None) => {
                for (i, value) in list.iter().enumerate() {
                    if let Some(step) =
                        calendar_step(check, &format!("{k}.meeting_dates[{i}]"), value, dates)
                    {
                        meeting_steps.push(step);
                    }
                }
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
        let chair_step = policy.chair_date.as_ref().and_then(|value| {
            // A chair already in office acts from the start; one who takes
            // office after the horizon never does.
            match parse_date(value) {
                Ok(date) if date < dates[0] => Some(0),
                _ => calendar_step(check, &format!("{k}.chair_date"), value, dates),
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
        let rule = PolicyRule {
            inflation: inflation.unwrap_or(0),
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
            links.policy_error = Some(PolicyError {
                policy_rate,
                coefficient,
            });
        }
    }
    links
}

/// The step of a date from a calendar that may run beyond the horizon (FOMC
/// meetings, a chair's start): dates outside it are skipped, not errors, so that
/// a scenario can shorten the horizon of the one it extends.
fn calendar_step(
    check: &mut Checker<'_>,
    key: &str,
    value: &toml::Value,
    dates: &[NaiveDate],
) -> Option<usize> {
    match parse_date(value) {
        Ok(date) if date >= dates[0] && Some(&date) <= dates.last() => Some(step_of(date, dates)),
        Ok(_) => None,
        Err(message) => {
            check.error(key, message);
            None
        }
    }
}

/// A circle of beta assets taking betas on each other, if there is one.
fn beta_cycle(assets: &[Asset]) -> Option<Vec<usize>> {
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
fn draws_noise(asset: &RawAsset) -> bool {
    match asset.process {
        ProcessKind::Heston => true,
        process if process.is_derived() => false,
        _ => {
            let vols = std::iter::once(asset.vol).chain(asset.by_regime.values().map(|p| p.vol));
            vols.flatten().any(|v| v != 0.0)
        }
    }
}

/// The currency table: the dollar first (its short rate the first policy rate
/// unless `[currencies.USD]` says otherwise), then every declared currency with
/// the FX asset pricing it. Returns the currencies and each asset's currency.
fn build_currencies(
    raw: &RawScenario,
    asset_names: &[String],
    assets: &[Asset],
    check: &mut Checker<'_>,
) -> (Vec<Currency>, Vec<usize>) {
    let policy_rate = assets
        .iter()
        .position(|a| a.process == ProcessKind::PolicyRate);
    let mut currencies = vec![Currency {
        name: USD.to_string(),
        fx: None,
        short_rate: policy_rate.map_or(ShortRate::Constant(0.0), ShortRate::Asset),
    }];
    let mut asset_currency = vec![0; assets.len()];
    for (name, raw_currency) in &raw.currencies {
        let key = format!("currencies.{name}");
        let well_formed = name.len() == 3 && name.chars().all(|c| c.is_ascii_uppercase());
        if !well_formed {
            check.error(
                &key,
                format!("currency `{name}` must be a three-letter ISO code in capitals, like EUR"),
            );
        }
        let index = if name == USD {
            0
        } else {
            currencies.push(Currency {
                name: name.clone(),
                fx: None,
                short_rate: ShortRate::Constant(0.0),
            });
            currencies.len() - 1
        };
        match (&raw_currency.fx, raw_currency.quote, name == USD) {
            (Some(_), _, true) => check.error(
                format!("{key}.fx"),
                "the dollar is the currency every FX asset quotes against; it has no `fx`",
            ),
            (Some(fx), Some(quote), false) => {
                if let Some(a) = check.lookup(&format!("{key}.fx"), "asset", fx, asset_names) {
                    if assets[a].is_log() {
                        currencies[index].fx = Some((a, quote));
                    } else {
                        check.error(
                            format!("{key}.fx"),
                            format!("`{fx}` must be a price (gbm, heston or beta asset), not a level"),
                        );
                    }
                }
            }
            (Some(_), None, false) => check.error(
                format!("{key}.quote"),
                "missing: say how the FX asset quotes, `usd_per_unit` (EUR/USD) or `units_per_usd` (USD/JPY)",
            ),
            (None, _, false) => check.error(
                format!("{key}.fx"),
                "missing: name the FX asset that prices this currency against the dollar",
            ),
            (None, _, true) => {}
        }
        let rate_key = format!("{key}.short_rate");
        match &raw_currency.short_rate {
            None if name == USD => {}
            None => check.error(
                &rate_key,
                "missing: a constant (0.02 = 2%) or the name of a rate asset",
            ),
            Some(toml::Value::String(asset)) => {
                if let Some(a) = check.lookup(&rate_key, "asset", asset, asset_names) {
                    if assets[a].is_log() {
                        check.error(
                            &rate_key,
                            format!("`{asset}` must be a rate (a level asset), not a price"),
                        );
                    } else {
                        currencies[index].short_rate = ShortRate::Asset(a);
                    }
                }
            }
            Some(value) => match value.as_float().or(value.as_integer().map(|i| i as f64)) {
                Some(rate) => {
                    let rate = check.range(&rate_key, rate, Closed(-0.1), Closed(1.0));
                    currencies[index].short_rate = ShortRate::Constant(rate);
                }
                None => check.error(
                    &rate_key,
                    format!("must be a number or an asset name, found {value}"),
                ),
            },
        }
        for (i, asset) in raw_currency.assets.iter().enumerate() {
            let asset_key = format!("{key}.assets[{i}]");
            if let Some(a) = check.lookup(&asset_key, "asset", asset, asset_names) {
                if asset_currency[a] != 0 {
                    check.error(
                        &asset_key,
                        format!(
                            "`{asset}` is already priced in {}",
                            currencies[asset_currency[a]].name
                        ),
                    );
                }
                asset_currency[a] = index;
            }
        }
    }
    (currencies, asset_currency)
}

/// Portfolio and stress files, each relative to the scenario file that names it.
fn portfolio_refs(raw: &RawScenario, sources: &Sources) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let Some(refs) = &raw.portfolios else {
        return (Vec::new(), Vec::new());
    };
    let resolve = |key: &str, names: &[String]| -> Vec<PathBuf> {
        let (file, _) = sources.locate(key);
        let folder = file
            .as_deref()
            .and_then(|f| f.parent())
            .map(Path::to_path_buf)
            .unwrap_or_default();
        names.iter().map(|n| folder.join(n)).collect()
    };
    (
        resolve("portfolios.files", &refs.files),
        resolve("portfolios.stress", &refs.stress),
    )
}
