//! Starting levels from the user's own market data (`run --levels FILE`): the
//! date they were taken and the level of each asset, set over the scenario's
//! own as a child file would set them, so the scenario's validation judges
//! each against its valid range. The file is TOML in the form of
//! `scenarios/base/levels.toml`, or a CSV of `asset,level,date` rows as a
//! market-data export gives them.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::error::{Diagnostic, ScenarioError};
use super::load::{self, unknown_name, FileKind, SourceFile, Sources};
use super::settings::{self, Setting};
use super::{ProcessKind, Scenario};

/// The level keys an asset can be given, as a scenario file writes them.
const ASSET_KEYS: [&str; 3] = [
    "initial",
    "initial_variance",
    "jump_scaling.valuation_initial",
];
/// The key holding the date the levels were taken.
const START_KEY: &str = "scenario.start_date";

/// A levels file, read and checked for form (not yet against a scenario).
#[derive(Debug, Clone)]
pub struct Levels {
    pub file: PathBuf,
    /// SHA-256 of the file's text, hex.
    pub sha256: String,
    /// The date the levels were taken: the run starts there.
    pub as_of: NaiveDate,
    entries: Vec<Entry>,
    /// Rows dated before the as-of date.
    notes: Vec<Diagnostic>,
}

/// One level: the scenario key it sets and the line that gives it.
#[derive(Debug, Clone)]
struct Entry {
    key: String,
    value: f64,
    line: Option<usize>,
}

/// What every output records of the levels a run started from. A scenario
/// carries it, so every setting applied over the scenario later (a sweep's
/// point, a fit's trial) starts from the same levels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelsRecord {
    pub file: String,
    pub sha256: String,
    pub as_of: String,
    /// Each key set and its value.
    pub levels: Vec<(String, f64)>,
    /// Rows dated before the as-of date.
    #[serde(skip)]
    pub notes: Vec<Diagnostic>,
}

impl LevelsRecord {
    /// The levels as settings over the scenario file: the start date first.
    pub fn settings(&self) -> Vec<Setting> {
        let start = toml::Value::Datetime(
            self.as_of
                .parse()
                .expect("the as-of date is a NaiveDate's text, a TOML date"),
        );
        std::iter::once(Setting {
            key: START_KEY.into(),
            value: start,
        })
        .chain(self.levels.iter().map(|(key, value)| Setting {
            key: key.clone(),
            value: toml::Value::Float(*value),
        }))
        .collect()
    }
}

impl Levels {
    pub fn record(&self) -> LevelsRecord {
        LevelsRecord {
            file: self.file.display().to_string(),
            sha256: self.sha256.clone(),
            as_of: self.as_of.to_string(),
            levels: self
                .entries
                .iter()
                .map(|e| (e.key.clone(), e.value))
                .collect(),
            notes: self.notes.clone(),
        }
    }
}

/// Reads `path`: a CSV when it ends in `.csv`, TOML otherwise.
pub fn read(path: &Path) -> Result<Levels, ScenarioError> {
    let text = load::read_text_of(path, FileKind::Levels)?;
    let sha256 = Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let source = SourceFile {
        path: path.to_path_buf(),
        text,
    };
    let (as_of, entries, notes) = if is_csv {
        read_csv(&source)?
    } else {
        read_toml(&source)?
    };
    Ok(Levels {
        file: path.to_path_buf(),
        sha256,
        as_of,
        entries,
        notes,
    })
}

type Read = (NaiveDate, Vec<Entry>, Vec<Diagnostic>);

fn read_toml(source: &SourceFile) -> Result<Read, ScenarioError> {
    let table = load::parse_table(&source.text, &source.path)?;
    let sources = Sources::only(source);
    let mut problems = Vec::new();
    let mut entries = Vec::new();
    let mut as_of = None;
    for (section, value) in &table {
        match (section.as_str(), value) {
            ("scenario", toml::Value::Table(meta)) => {
                for (key, value) in meta {
                    let full = format!("scenario.{key}");
                    if full != START_KEY {
                        problems.push(sources.diagnostic(&full, format!("a levels file sets only `{START_KEY}` of the [scenario] table (the date the levels were taken)")));
                        continue;
                    }
                    match value.as_datetime().map(|d| d.to_string()).as_deref().map(parse_day) {
                        Some(Ok(date)) => as_of = Some(date),
                        Some(Err(message)) => problems.push(sources.diagnostic(&full, message)),
                        None => problems.push(sources.diagnostic(
                            &full,
                            format!("expected a date like 2026-12-04, found {}", value.type_str()),
                        )),
                    }
                }
            }
            ("assets", toml::Value::Table(assets)) => {
                for (asset, fields) in assets {
                    let Some(fields) = fields.as_table() else {
                        problems.push(sources.diagnostic(
                            format!("assets.{asset}"),
                            "expected a table of levels, like [assets.spx] initial = 6800.0",
                        ));
                        continue;
                    };
                    let mut leaves = Vec::new();
                    flatten(fields, "", &mut leaves);
                    for (field, value) in leaves {
                        let key = format!("assets.{asset}.{field}");
                        if !ASSET_KEYS.contains(&field.as_str()) {
                            problems.push(sources.diagnostic(&key, format!("not a level; a levels file sets {} of an asset", ASSET_KEYS.map(|k| format!("`{k}`")).join(", "))));
                            continue;
                        }
                        match value.as_float().or_else(|| value.as_integer().map(|i| i as f64)) {
                            Some(level) if level.is_finite() => {
                                let (_, line) = sources.locate(&key);
                                entries.push(Entry { key, value: level, line });
                            }
                            _ => problems.push(sources.diagnostic(&key, format!("expected a number, found {value}"))),
                        }
                    }
                }
            }
            _ => problems.push(sources.diagnostic(
                section.as_str(),
                "a levels file holds a [scenario] table with `start_date` and [assets.NAME] tables of levels",
            )),
        }
    }
    let as_of = match as_of {
        Some(date) => Some(date),
        None => {
            problems.push(Diagnostic {
                file: Some(source.path.clone()),
                line: None,
                key: START_KEY.into(),
                message: "missing: give the date the levels were taken, [scenario] start_date = 2026-12-04".into(),
            });
            None
        }
    };
    finish(source, as_of, entries, Vec::new(), problems)
}

/// `(field path, value)` of every leaf under `table`.
fn flatten(table: &toml::Table, prefix: &str, out: &mut Vec<(String, toml::Value)>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten(inner, &path, out),
            other => out.push((path, other.clone())),
        }
    }
}

fn parse_day(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| format!("\"{text}\" is not a date; write it as 2026-12-04"))
}

/// `asset,level[,date]` rows, an optional header line, `#` comments. An asset
/// may name a level other than its `initial` as `spx.initial_variance`.
fn read_csv(source: &SourceFile) -> Result<Read, ScenarioError> {
    let path = &source.path;
    let mut problems = Vec::new();
    let at = |line: usize, key: &str, message: String| Diagnostic {
        file: Some(path.clone()),
        line: Some(line),
        key: key.to_string(),
        message,
    };
    let mut rows: Vec<(usize, String, f64, Option<NaiveDate>)> = Vec::new();
    let mut header_seen = false;
    for (index, raw_line) in source.text.lines().enumerate() {
        let line = index + 1;
        let text = raw_line.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let cells: Vec<&str> = text.split(',').map(str::trim).collect();
        let level = cells.get(1).map(|c| c.parse::<f64>());
        if !header_seen && rows.is_empty() && !matches!(level, Some(Ok(_))) {
            header_seen = true;
            let names: Vec<String> = cells.iter().map(|c| c.to_ascii_lowercase()).collect();
            if names.first().map(String::as_str) != Some("asset")
                || names.get(1).map(String::as_str) != Some("level")
                || !(names.len() == 2 || (names.len() == 3 && names[2] == "date"))
            {
                problems.push(at(
                    line,
                    "",
                    format!(
                        "expected the header `asset,level,date` (or `asset,level`), found `{text}`"
                    ),
                ));
            }
            continue;
        }
        if !(2..=3).contains(&cells.len()) {
            problems.push(at(
                line,
                "",
                format!(
                    "expected `asset,level,date`, found {} cells: `{text}`",
                    cells.len()
                ),
            ));
            continue;
        }
        let asset = cells[0];
        let level = match cells[1].parse::<f64>() {
            Ok(level) if level.is_finite() => level,
            _ => {
                problems.push(at(
                    line,
                    asset,
                    format!("level \"{}\" is not a number", cells[1]),
                ));
                continue;
            }
        };
        let date = match cells.get(2).filter(|c| !c.is_empty()) {
            Some(cell) => match parse_day(cell) {
                Ok(date) => Some(date),
                Err(message) => {
                    problems.push(at(line, asset, message));
                    continue;
                }
            },
            None => None,
        };
        rows.push((line, asset.to_string(), level, date));
    }
    let as_of = rows.iter().filter_map(|r| r.3).max();
    let mut entries: Vec<Entry> = Vec::new();
    let mut notes = Vec::new();
    for (line, asset, level, date) in rows {
        let (name, field) = match asset.split_once('.') {
            Some((name, "valuation_initial")) => (name, "jump_scaling.valuation_initial"),
            Some((name, field)) => (name, field),
            None => (asset.as_str(), "initial"),
        };
        let key = format!("assets.{name}.{field}");
        if !ASSET_KEYS.contains(&field) {
            problems.push(at(
                line,
                &asset,
                format!(
                    "not a level; a row names an asset (`spx`) or one of its levels: {}",
                    ["initial_variance", "valuation_initial"]
                        .map(|f| format!("`{name}.{f}`"))
                        .join(", ")
                ),
            ));
            continue;
        }
        if let Some(first) = entries.iter().find(|e| e.key == key) {
            problems.push(at(
                line,
                &asset,
                format!("given twice: also on line {}", first.line.unwrap_or(0)),
            ));
            continue;
        }
        if let (Some(date), Some(as_of)) = (date, as_of) {
            if date < as_of {
                let days = (as_of - date).num_days();
                let unit = if days == 1 { "day" } else { "days" };
                notes.push(at(
                    line,
                    &asset,
                    format!(
                        "the level is from {date}, {days} {unit} before the as-of date {as_of}"
                    ),
                ));
            }
        }
        entries.push(Entry {
            key,
            value: level,
            line: Some(line),
        });
    }
    if as_of.is_none() {
        problems.push(Diagnostic {
            file: Some(path.clone()),
            line: None,
            key: "date".into(),
            message: "no row gives a date: add a third column `date` with the day the levels were taken (2026-12-04)".into(),
        });
    }
    finish(source, as_of, entries, notes, problems)
}

fn finish(
    source: &SourceFile,
    as_of: Option<NaiveDate>,
    entries: Vec<Entry>,
    notes: Vec<Diagnostic>,
    mut problems: Vec<Diagnostic>,
) -> Result<Read, ScenarioError> {
    if entries.is_empty() && problems.is_empty() {
        problems.push(Diagnostic {
            file: Some(source.path.clone()),
            line: None,
            key: String::new(),
            message: "gives no level: add a row `spx,6800,2026-12-04` (CSV) or [assets.spx] initial = 6800.0 (TOML)".into(),
        });
    }
    match as_of {
        Some(as_of) if problems.is_empty() => Ok((as_of, entries, notes)),
        _ => Err(ScenarioError::Invalid(problems)),
    }
}

/// The scenario of the file `path` (already loaded as `base`) started from
/// `levels`, with `more` settings applied after them.
pub fn apply(
    base: &Scenario,
    path: &Path,
    levels: &Levels,
    more: &[Setting],
) -> Result<Scenario, ScenarioError> {
    let names: Vec<String> = base.assets.iter().map(|a| a.name.clone()).collect();
    let known = settings::known_keys(base);
    let located = |entry: &Entry, message: String| Diagnostic {
        file: Some(levels.file.clone()),
        line: entry.line,
        key: entry.key.clone(),
        message,
    };
    let mut problems = Vec::new();
    // An implied vol (the VIX) is set through its Heston asset's variance.
    let mut levels = levels.clone();
    for entry in &mut levels.entries {
        let name = entry.key.split('.').nth(1).unwrap_or_default();
        let Some(asset) = base.asset_index(name) else {
            continue;
        };
        if base.assets[asset].implied_vol.is_none() || !entry.key.ends_with(".initial") {
            continue;
        }
        match implied_variance(base, asset, entry.value) {
            Ok((key, variance, note)) => {
                levels.notes.push(located(entry, note));
                entry.key = key;
                entry.value = variance;
            }
            Err(message) => problems.push(located(entry, message)),
        }
    }
    for (i, entry) in levels.entries.iter().enumerate() {
        if let Some(first) = levels.entries[..i].iter().find(|e| e.key == entry.key) {
            problems.push(located(
                entry,
                format!(
                    "sets `{}` again (also on line {}): give the VIX or the variance, not both",
                    entry.key,
                    first.line.unwrap_or(0)
                ),
            ));
        }
    }
    let levels = &levels;
    for entry in &levels.entries {
        let name = entry.key.split('.').nth(1).unwrap_or_default();
        match base.asset_index(name) {
            None => problems.push(located(entry, unknown_name("asset", name, &names))),
            Some(asset) if known.contains(&entry.key) => {
                if let Some(problem) = implausible(base, asset, entry) {
                    problems.push(located(entry, problem));
                }
            }
            Some(asset) => {
                problems.push(located(entry, computed_level(base, &known, asset, entry)))
            }
        }
    }
    if !problems.is_empty() {
        return Err(ScenarioError::Invalid(problems));
    }
    let with_levels = Scenario {
        levels: Some(levels.record()),
        ..base.clone()
    };
    settings::apply(&with_levels, path, more).map_err(|error| match error {
        ScenarioError::Invalid(diagnostics) => ScenarioError::Invalid(
            diagnostics
                .into_iter()
                .map(|d| locate_in_levels(base, levels, d))
                .collect(),
        ),
        other => other,
    })
}

/// A problem with a key the levels file set, located in that file, with the
/// asset's unit (a level in percent where the scenario takes a decimal is the
/// usual slip).
fn locate_in_levels(base: &Scenario, levels: &Levels, d: Diagnostic) -> Diagnostic {
    if d.key == START_KEY {
        return Diagnostic {
            file: Some(levels.file.clone()),
            line: None,
            ..d
        };
    }
    let Some(entry) = levels.entries.iter().find(|e| e.key == d.key) else {
        return d;
    };
    let name = entry.key.split('.').nth(1).unwrap_or_default();
    let unit = base
        .asset_index(name)
        .map(|a| &base.assets[a].unit)
        .filter(|u| !u.is_empty() && entry.key.ends_with(".initial"));
    Diagnostic {
        file: Some(levels.file.clone()),
        line: entry.line,
        message: match unit {
            Some(unit) => format!("{} (the scenario's unit for {name}: {unit})", d.message),
            None => d.message,
        },
        ..d
    }
}

/// How far a price may stand from the scenario's own starting level before
/// it is taken for a misquote (EUR/USD written 116 for 1.16) rather than the market.
const MAX_LEVEL_RATIO: f64 = 10.0;

/// Why `entry`'s level cannot be the market's, judged against the scenario's
/// own: a price a factor of ten away, a rate written in percent.
fn implausible(base: &Scenario, asset: usize, entry: &Entry) -> Option<String> {
    let a = &base.assets[asset];
    let level = entry.value;
    let field = entry.key.splitn(3, '.').nth(2).unwrap_or_default();
    let decimal = a.unit.starts_with("decimal");
    match field {
        "initial" if a.is_log() => {
            let ratio = level / a.initial;
            (!(ratio > 1.0 / MAX_LEVEL_RATIO && ratio < MAX_LEVEL_RATIO)).then(|| {
                format!(
                    "{level} is {} times the scenario's own starting level {} ({}); check the quote and its unit",
                    significant(ratio),
                    a.initial,
                    if a.unit.is_empty() { "no unit given" } else { &a.unit }
                )
            })
        }
        "initial" if decimal && level.abs() > 1.0 => Some(format!(
            "{level} would be {}%: the scenario's unit for {} is {}; write {} for {level}%",
            level * 100.0,
            a.name,
            a.unit,
            level / 100.0
        )),
        "initial_variance" if level > 1.0 => Some(format!(
            "a variance of {level} is a volatility of {:.0}%: the variance of a {level}% volatility is {}",
            level.sqrt() * 100.0,
            (level / 100.0).powi(2)
        )),
        _ => None,
    }
}

fn significant(ratio: f64) -> String {
    if ratio >= 1.0 {
        format!("{ratio:.0}")
    } else {
        format!("{ratio:.3}")
    }
}

/// The variance of the Heston asset behind the implied vol `asset` that gives
/// it `level` at the start, with the key it sets and a note saying so: the
/// inverse of `model::implied_vol`, `sqrt(theta + (v - theta) loading) (1 + premium)`,
/// under the regime whose parameters price the starting level (the first the
/// run can start in, as the model's own starting level does).
fn implied_variance(
    base: &Scenario,
    asset: usize,
    level: f64,
) -> Result<(String, f64, String), String> {
    let a = &base.assets[asset];
    let vol = a.implied_vol.expect("an implied-vol asset");
    let of = &base.assets[vol.of];
    if level > 1.0 {
        return Err(format!(
            "{level} would be a volatility of {}%: the scenario's unit for {} is {}; write {} for {level}",
            level * 100.0,
            a.name,
            a.unit,
            level / 100.0
        ));
    }
    let regime = base
        .initial_distribution
        .iter()
        .position(|p| *p > 0.0)
        .unwrap_or(0);
    let params = &of.params[regime];
    let kt = params.mean_reversion * vol.horizon_years;
    let loading = if kt > 1e-12 {
        (1.0 - (-kt).exp()) / kt
    } else {
        1.0
    };
    let theta = params.long_run_variance;
    let scale = 1.0 + vol.risk_premium;
    let variance = theta + ((level / scale).powi(2) - theta) / loading;
    let floor = of.variance_floor;
    if !(variance > floor && variance <= 1.0) {
        let lowest = (theta + (floor - theta) * loading).max(0.0).sqrt() * scale;
        return Err(format!(
            "{} at {level} is out of reach: in {} the model's lowest starting level is {lowest:.4} and a variance of 1 (a 100% volatility) its highest",
            a.name, base.regimes[regime].name
        ));
    }
    let note = format!(
        "{} {level}: {}.initial_variance {variance:.6}, the variance that gives it in {}, the regime the starting level is priced in",
        a.name, of.name, base.regimes[regime].name
    );
    Ok((
        format!("assets.{}.initial_variance", of.name),
        variance,
        note,
    ))
}

/// Why an asset takes no level of the kind `entry` sets, and what to set instead.
fn computed_level(base: &Scenario, known: &[String], asset: usize, entry: &Entry) -> String {
    let a = &base.assets[asset];
    let field = entry.key.splitn(3, '.').nth(2).unwrap_or_default();
    if a.process.is_derived() || a.process == ProcessKind::Yield {
        return format!(
            "{} is computed by the model (process {}): its level follows from the assets it is built from; set theirs instead",
            a.name,
            a.process.name()
        );
    }
    format!(
        "{} (process {}) has no `{field}`; it takes {}",
        a.name,
        a.process.name(),
        ASSET_KEYS
            .iter()
            .filter(|k| known.contains(&format!("assets.{}.{k}", a.name)))
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}
