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
use super::check::{
    Bound, Checker, KeyRange, MAX_JUMP, MAX_LEVEL, MAX_PRICE_INITIAL, MAX_VARIANCE,
    MIN_PRICE_INITIAL,
};
use super::error::ScenarioError;
use super::load::{Loaded, Sources};
use super::raw::{
    CalendarKind, CorrelationPairs, ProcessKind, RawAsset, RawAssetParams, RawEvent, RawScenario,
};
use super::*;

mod assets;
mod correlation;
mod dates;
mod events;
mod headroom;
mod markets;
mod regimes;
mod signals;

use assets::*;
use correlation::*;
use dates::*;
use events::*;
use markets::*;
use regimes::*;

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
    let off = mechanisms_off(&raw, &mut check);
    let scenario = build(&raw, merged, &mut check).map(|scenario| {
        let ranges = by_event_name(check.take_ranges(), &scenario.events);
        let mut scenario = Scenario {
            overrides: sources.overrides.clone(),
            ranges,
            notes: check.take_notes(),
            ..scenario
        };
        for mechanism in off {
            scenario.switch_off(mechanism);
        }
        scenario
    });
    check.finish(scenario)
}

/// The mechanisms `[mechanisms]` switches off: each key a mechanism's name,
/// each value `"on"`, `"off"`, `true` or `false`.
fn mechanisms_off(raw: &RawScenario, check: &mut Checker<'_>) -> Vec<Mechanism> {
    let names = Mechanism::names();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut off = Vec::new();
    for (name, value) in &raw.mechanisms {
        let key = format!("mechanisms.{name}");
        let Some(index) = check.lookup(&key, "mechanism", name, &names) else {
            continue;
        };
        match value {
            toml::Value::Boolean(false) => off.push(Mechanism::ALL[index]),
            toml::Value::String(text) if text == "off" => off.push(Mechanism::ALL[index]),
            toml::Value::Boolean(true) => {}
            toml::Value::String(text) if text == "on" => {}
            other => check.error(
                key,
                format!("{other} is not a switch; valid: \"on\", \"off\", true, false"),
            ),
        }
    }
    off
}

/// Keys under `events[i]` as a child file writes them, `events.NAME`: an
/// index would replace the parent's whole array.
fn by_event_name(ranges: Vec<KeyRange>, events: &[Event]) -> Vec<KeyRange> {
    ranges
        .into_iter()
        .map(|mut range| {
            if let Some(rest) = range.key.strip_prefix("events[") {
                if let Some((index, tail)) = rest.split_once(']') {
                    if let Some(event) = index.parse::<usize>().ok().and_then(|i| events.get(i)) {
                        range.key = format!("events.{}{tail}", event.name);
                    }
                }
            }
            range
        })
        .collect()
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
    if !check.list_length("assets", "assets", asset_names.len(), MAX_ASSETS) {
        return None;
    }
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
    if drivers.len() > super::MAX_DRIVERS {
        check.error(
            "correlation.drivers",
            format!(
                "{} Brownian drivers; at most {} are supported",
                drivers.len(),
                super::MAX_DRIVERS
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
    let events = build_events(
        raw,
        &dates,
        calendar,
        &regime_names,
        &asset_names,
        &assets,
        check,
    );
    // The reach adds up every asset's parameters through betas and events: on
    // a value already refused it repeats that one problem for every asset
    // linked to it, located in files the user did not touch.
    if check.problems() == 0 {
        headroom::check_headroom(
            &assets,
            &events,
            flows.as_ref(),
            &regime_names,
            dates.len() - 1,
            check,
        );
    }
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
        settings: Vec::new(),
        ranges: Vec::new(),
        report,
        mechanisms_off: Vec::new(),
        notes: Vec::new(),
        levels: None,
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
    if let Some(fall) = given.equity_drawdown {
        roles.equity_drawdown = check.range_explained(
            "report.equity_drawdown",
            fall,
            Open(0.0),
            Open(1.0),
            " (0.2 = a fall of 20% from a peak)",
        );
    }
    if let Some(fall) = given.dollar_fall {
        roles.dollar_fall = check.range_explained(
            "report.dollar_fall",
            fall,
            Open(0.0),
            Open(1.0),
            " (0.1 = ending 10% lower)",
        );
    }
    if let Some(names) = &given.core_assets {
        let key_of = |i: usize| format!("report.core_assets[{i}]");
        if check.list_length("report.core_assets", "core assets", names.len(), MAX_ASSETS) {
            check.unique_names("core asset", names.iter().map(String::as_str), key_of);
        } else {
            return roles;
        }
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

/// A date a file other than the scenario writes (a strategy's rule): a
/// calendar date or one relative to the run (`"start + 3M"`), on `dates`'
/// grid.
pub(crate) fn run_date(value: &toml::Value, dates: &[NaiveDate]) -> Result<NaiveDate, String> {
    dates::parse_run_date(value, dates::RunDates::of(dates))
}
