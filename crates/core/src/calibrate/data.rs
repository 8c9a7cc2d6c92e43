//! A user's history: a CSV of dated observations, checked cell by cell, sampled
//! at the frequency asked for and turned into the changes a fit models.

use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};

use crate::scenario::load::unknown_name;

/// Why a history file cannot be fitted; every variant names the file, and the
/// line and column where there is one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
}

/// How often the observations come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    Daily,
    Weekly,
    Monthly,
    Quarterly,
}

impl std::str::FromStr for Frequency {
    type Err = String;

    /// A frequency by its name (`monthly`, in any case), as the command line
    /// and Python give it.
    fn from_str(text: &str) -> Result<Frequency, String> {
        Frequency::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(text))
            .ok_or_else(|| {
                let names: Vec<&str> = Frequency::ALL.iter().map(|f| f.name()).collect();
                format!("unknown frequency `{text}`; valid: {}", names.join(", "))
            })
    }
}

impl Frequency {
    pub const ALL: [Frequency; 4] = [
        Frequency::Daily,
        Frequency::Weekly,
        Frequency::Monthly,
        Frequency::Quarterly,
    ];

    /// Observations a year: 252 trading days, 52 weeks, 12 months, 4 quarters.
    pub fn per_year(self) -> f64 {
        match self {
            Frequency::Daily => 252.0,
            Frequency::Weekly => 52.0,
            Frequency::Monthly => 12.0,
            Frequency::Quarterly => 4.0,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Frequency::Daily => "daily",
            Frequency::Weekly => "weekly",
            Frequency::Monthly => "monthly",
            Frequency::Quarterly => "quarterly",
        }
    }

    /// The period a date falls in: observations sharing it are one observation
    /// at this frequency.
    fn period(self, date: NaiveDate) -> (i32, u32) {
        match self {
            Frequency::Daily => (date.year(), date.ordinal()),
            Frequency::Weekly => {
                let week = date.iso_week();
                (week.year(), week.week())
            }
            Frequency::Monthly => (date.year(), date.month()),
            Frequency::Quarterly => (date.year(), date.month0() / 3),
        }
    }

    /// The frequency of dates whose median gap is `days`.
    fn of_gap(days: i64) -> Frequency {
        match days {
            ..=4 => Frequency::Daily,
            5..=10 => Frequency::Weekly,
            11..=45 => Frequency::Monthly,
            _ => Frequency::Quarterly,
        }
    }
}

/// The file as read: dates ascending, and every selected column complete.
#[derive(Debug, Clone)]
pub struct Table {
    pub path: PathBuf,
    pub dates: Vec<NaiveDate>,
    /// Each value's line in the file, for messages.
    pub lines: Vec<usize>,
    pub names: Vec<String>,
    /// Each column's asset in the fragment: its `--as` name, else [`asset_name`].
    pub assets: Vec<String>,
    /// How each column is fitted as read: a difference for `--levels` and a
    /// rate or volatility `--as`, else a log change.
    pub transforms: Vec<Transform>,
    /// `values[k][t]`: series `k` at row `t`.
    pub values: Vec<Vec<f64>>,
    /// The frequency the file's dates come at.
    pub frequency: Frequency,
}

/// How a series becomes what the model fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// `ln(v_t / v_{t-1})`: prices, indices, exchange rates.
    LogChange,
    /// `v_t - v_{t-1}`, in the series' units: rates, spreads, anything that
    /// can be zero or negative.
    Difference,
}

/// The changes a fit models, one row a period.
#[derive(Debug, Clone)]
pub struct Changes {
    pub names: Vec<String>,
    /// Each series' asset name in the fragment (see [`Table::assets`]).
    pub assets: Vec<String>,
    pub transforms: Vec<Transform>,
    pub frequency: Frequency,
    /// The date each change ends on.
    pub dates: Vec<NaiveDate>,
    /// `rows[t][k]`: series `k`'s change into `dates[t]`.
    pub rows: Vec<Vec<f64>>,
    /// The levels the changes come from, at the sampled dates (one more than
    /// `rows`): `levels[k][t]`.
    pub levels: Vec<Vec<f64>>,
}

impl Changes {
    /// `first to last`: the dates the changes end on.
    pub fn period(&self) -> String {
        match (self.dates.first(), self.dates.last()) {
            (Some(first), Some(last)) => format!("{first} to {last}"),
            _ => "no dates".into(),
        }
    }
}

/// What to take from a table.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// The columns to fit; all of them when empty.
    pub series: Vec<String>,
    /// Columns modelled as differences rather than log changes.
    pub levels: Vec<String>,
    /// The frequency to sample at; the file's own when `None`.
    pub frequency: Option<Frequency>,
    /// Columns fitted as the engine's own assets (`--as spx=close`).
    pub assets: Vec<AssetMapping>,
}

/// `--as ASSET=COLUMN[:percent|:decimal]`: a column fitted as one of the
/// engine's assets, so that a run of the fragment gets that asset's report
/// (fan chart, drawdowns, the key numbers, realism against its anchors).
#[derive(Debug, Clone, PartialEq)]
pub struct AssetMapping {
    pub asset: String,
    pub column: String,
    /// For a rate or volatility asset: whether the column is in percent (4.25
    /// = 4.25%, the way yields and the VIX are quoted) or already in decimals;
    /// `None` when not said, read as percent.
    pub percent: Option<bool>,
}

/// What an engine asset's level is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineUnit {
    /// A positive price or index: fitted as log changes, a GBM in the fragment.
    Price,
    /// A rate or a volatility in decimals (0.0425 = 4.25%): fitted as
    /// differences, an Ornstein-Uhlenbeck level in the fragment.
    Decimal,
}

/// The bundled scenario's assets that the report (`[report]` defaults) or
/// history's anchors know by name: the names `--as` takes. A test holds them
/// to the bundled scenario's processes.
pub const ENGINE_ASSETS: [(&str, EngineUnit); 11] = [
    ("spx", EngineUnit::Price),
    ("ndx", EngineUnit::Price),
    ("dxy", EngineUnit::Price),
    ("gold", EngineUnit::Price),
    ("silver", EngineUnit::Price),
    ("eurusd", EngineUnit::Price),
    ("usdjpy", EngineUnit::Price),
    ("us10y", EngineUnit::Decimal),
    ("us2y", EngineUnit::Decimal),
    ("fed_funds", EngineUnit::Decimal),
    ("vix", EngineUnit::Decimal),
];

impl std::str::FromStr for AssetMapping {
    type Err = String;

    fn from_str(text: &str) -> Result<AssetMapping, String> {
        let Some((asset, rest)) = text.split_once('=') else {
            return Err(format!(
                "`{text}`: write ASSET=COLUMN, the engine's asset name then the CSV column, as in spx=close"
            ));
        };
        let (column, percent) = match rest.rsplit_once(':') {
            Some((column, "percent")) => (column, Some(true)),
            Some((column, "decimal")) => (column, Some(false)),
            Some((_, unit)) => {
                return Err(format!(
                    "`{text}`: unknown unit `{unit}`; valid: percent, decimal (after the column, as in us10y=dgs10:percent)"
                ))
            }
            None => (rest, None),
        };
        let (asset, column) = (asset.trim(), column.trim());
        if asset.is_empty() || column.is_empty() {
            return Err(format!(
                "`{text}`: write ASSET=COLUMN, the engine's asset name then the CSV column, as in spx=close"
            ));
        }
        Ok(AssetMapping {
            asset: asset.to_string(),
            column: column.to_string(),
            percent,
        })
    }
}

/// The unit of engine asset `name`, if `--as` takes it.
pub fn engine_unit(name: &str) -> Option<EngineUnit> {
    ENGINE_ASSETS
        .iter()
        .find(|(asset, _)| *asset == name)
        .map(|&(_, unit)| unit)
}

/// The fewest changes any fit takes; a fit with many parameters needs more
/// ([`crate::calibrate::history`]).
pub const MIN_CHANGES: usize = 30;

/// The most series one fit takes: the covariances grow with their square.
pub const MAX_SERIES: usize = 8;

fn invalid(path: &Path, line: Option<usize>, message: impl Into<String>) -> DataError {
    DataError::Invalid {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

/// Reads `YYYY-MM-DD`, `YYYY-MM` (the month's last day) or `YYYYQn` (the
/// quarter's last day).
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(date);
    }
    let last_day = |year: i32, month: u32| {
        let next = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(year, month + 1, 1)
        };
        next.and_then(|d| d.pred_opt())
    };
    if let Some((year, quarter)) = text.split_once(['Q', 'q']) {
        let (year, quarter) = (year.parse::<i32>().ok()?, quarter.parse::<u32>().ok()?);
        return (1..=4)
            .contains(&quarter)
            .then(|| last_day(year, quarter * 3))
            .flatten();
    }
    let (year, month) = text.split_once('-')?;
    let (year, month) = (year.parse::<i32>().ok()?, month.parse::<u32>().ok()?);
    (1..=12)
        .contains(&month)
        .then(|| last_day(year, month))
        .flatten()
}

/// Reads a history CSV: a header, then a date and one number per column on
/// every row. Gaps, cells that are not numbers, dates out of order and a
/// selection naming no column are errors with the line and column.
pub fn read(path: &Path, selection: &Selection) -> Result<Table, DataError> {
    let text = crate::input::read_text(path, crate::input::Kind::HistoryCsv)?;
    let mut rows = lines(&text).filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = rows.next() else {
        return Err(invalid(
            path,
            None,
            "the file is empty; expected a header line `date,SERIES,...` and one row a date",
        ));
    };
    let header: Vec<String> = header.split(',').map(|h| h.trim().to_string()).collect();
    if header.len() < 2 {
        return Err(invalid(
            path,
            Some(1),
            "the header has no series: expected `date,SERIES,...`",
        ));
    }
    let columns: Vec<String> = header[1..].to_vec();
    for (i, name) in columns.iter().enumerate() {
        if name.is_empty() {
            return Err(invalid(
                path,
                Some(1),
                format!("column {} has no name in the header", i + 2),
            ));
        }
    }
    let wanted: Vec<usize> = if selection.series.is_empty() {
        (0..columns.len()).collect()
    } else {
        selection
            .series
            .iter()
            .map(|name| {
                columns
                    .iter()
                    .position(|c| c == name)
                    .ok_or_else(|| invalid(path, Some(1), unknown_name("series", name, &columns)))
            })
            .collect::<Result<_, _>>()?
    };
    for name in &selection.levels {
        if !wanted.iter().any(|&c| &columns[c] == name) {
            let fitted: Vec<String> = wanted.iter().map(|&c| columns[c].clone()).collect();
            return Err(invalid(
                path,
                Some(1),
                format!("--levels: {}", unknown_name("fitted series", name, &fitted)),
            ));
        }
    }
    let mapped = mappings(path, selection, &columns, &wanted)?;
    let assets: Vec<String> = wanted
        .iter()
        .map(
            |&c| match mapped.iter().find(|(m, _)| m.column == columns[c]) {
                Some((m, _)) => m.asset.clone(),
                None => asset_name(&columns[c]),
            },
        )
        .collect();
    check_asset_names(path, &columns, &wanted, &assets)?;
    let transforms: Vec<Transform> = wanted
        .iter()
        .map(|&c| {
            let decimal = mapped
                .iter()
                .any(|(m, unit)| m.column == columns[c] && *unit == EngineUnit::Decimal);
            if decimal || selection.levels.contains(&columns[c]) {
                Transform::Difference
            } else {
                Transform::LogChange
            }
        })
        .collect();
    if wanted.len() > MAX_SERIES {
        return Err(invalid(
            path,
            Some(1),
            format!(
                "{} series selected; a fit takes at most {MAX_SERIES} (choose with --series)",
                wanted.len()
            ),
        ));
    }
    let mut table = Table {
        path: path.to_path_buf(),
        dates: Vec::new(),
        lines: Vec::new(),
        names: wanted.iter().map(|&c| columns[c].clone()).collect(),
        assets,
        transforms,
        values: vec![Vec::new(); wanted.len()],
        frequency: Frequency::Daily,
    };
    for (line, row) in rows {
        let cells: Vec<&str> = row.split(',').map(str::trim).collect();
        if cells.len() != header.len() {
            return Err(invalid(
                path,
                Some(line),
                format!(
                    "{} cells where the header has {}",
                    cells.len(),
                    header.len()
                ),
            ));
        }
        let date = parse_date(cells[0]).ok_or_else(|| {
            invalid(
                path,
                Some(line),
                format!(
                    "`{}` is not a date; expected YYYY-MM-DD, YYYY-MM or YYYYQn",
                    cells[0]
                ),
            )
        })?;
        if let Some(previous) = table.dates.last() {
            if date <= *previous {
                return Err(invalid(
                    path,
                    Some(line),
                    format!("{date} does not come after {previous}: rows must be in date order, one a date"),
                ));
            }
        }
        for (k, &c) in wanted.iter().enumerate() {
            let cell = cells[c + 1];
            let name = &columns[c];
            if cell.is_empty()
                || cell.eq_ignore_ascii_case("na")
                || cell.eq_ignore_ascii_case("nan")
            {
                return Err(invalid(
                    path,
                    Some(line),
                    format!("column `{name}` has a gap on {date}; fill it or drop the row (a fit needs every series on every date)"),
                ));
            }
            let value: f64 = cell
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .ok_or_else(|| {
                    invalid(
                        path,
                        Some(line),
                        format!("column `{name}`: `{cell}` is not a finite number"),
                    )
                })?;
            table.values[k].push(value);
        }
        table.dates.push(date);
        table.lines.push(line);
    }
    let mut gaps: Vec<i64> = table
        .dates
        .windows(2)
        .map(|w| (w[1] - w[0]).num_days())
        .collect();
    gaps.sort_unstable();
    table.frequency = Frequency::of_gap(gaps.get(gaps.len() / 2).copied().unwrap_or(1));
    for (mapping, unit) in &mapped {
        let Some(k) = table.names.iter().position(|n| *n == mapping.column) else {
            continue;
        };
        let values = &mut table.values[k];
        if *unit != EngineUnit::Decimal {
            continue;
        }
        if mapping.percent == Some(false) {
            if let Some(t) = values.iter().position(|v| v.abs() > 1.0) {
                return Err(invalid(
                    path,
                    Some(table.lines[t]),
                    format!(
                        "--as {}={}:decimal: `{}` reads {} as decimals, {}%; valid: [-1, 1] (-100% to 100%); a column in percent is --as {0}={1}",
                        mapping.asset,
                        mapping.column,
                        mapping.column,
                        shown(values[t]),
                        shown(100.0 * values[t])
                    ),
                ));
            }
            continue;
        }
        // Percent is how yields and the VIX are quoted; a column that never
        // leaves [-1, 1] reads as decimals already, and a guess either way
        // would be off a hundredfold: the user says which.
        if mapping.percent.is_none() && values.iter().all(|v| v.abs() <= 1.0) {
            return Err(invalid(
                path,
                Some(1),
                format!(
                    "--as {}={}: `{}` is in decimals (0.0425 = 4.25%) and the column never leaves [-1, 1], so it may be in decimals already or in percent near zero; say which: --as {0}={1}:decimal or --as {0}={1}:percent",
                    mapping.asset, mapping.column, mapping.asset
                ),
            ));
        }
        for v in values.iter_mut() {
            *v /= 100.0;
        }
    }
    Ok(table)
}

/// Checks each `--as` against the engine's assets and the file's columns:
/// every mapping with its asset's unit.
fn mappings<'s>(
    path: &Path,
    selection: &'s Selection,
    columns: &[String],
    wanted: &[usize],
) -> Result<Vec<(&'s AssetMapping, EngineUnit)>, DataError> {
    let engine_names: Vec<String> = ENGINE_ASSETS.iter().map(|(a, _)| a.to_string()).collect();
    let mut mapped = Vec::new();
    for (i, mapping) in selection.assets.iter().enumerate() {
        let flag = format!("--as {}={}", mapping.asset, mapping.column);
        let Some(unit) = engine_unit(&mapping.asset) else {
            return Err(invalid(
                path,
                None,
                format!(
                    "{flag}: {} The engine's assets with a report of their own: {}",
                    unknown_name("engine asset", &mapping.asset, &engine_names),
                    engine_names.join(", ")
                ),
            ));
        };
        if !columns.contains(&mapping.column) {
            return Err(invalid(
                path,
                Some(1),
                format!(
                    "{flag}: no column `{}` in the header; the file's columns: {}",
                    mapping.column,
                    columns.join(", ")
                ),
            ));
        }
        if !wanted.iter().any(|&c| columns[c] == mapping.column) {
            return Err(invalid(
                path,
                Some(1),
                format!(
                    "{flag}: `{}` is not among the columns --series fits; add it to --series",
                    mapping.column
                ),
            ));
        }
        if let Some(earlier) = selection.assets[..i]
            .iter()
            .find(|m| m.asset == mapping.asset || m.column == mapping.column)
        {
            return Err(invalid(
                path,
                None,
                format!(
                    "{flag}: --as {}={} maps it already; a column is one asset and an asset one column",
                    earlier.asset, earlier.column
                ),
            ));
        }
        if unit == EngineUnit::Price && selection.levels.contains(&mapping.column) {
            return Err(invalid(
                path,
                None,
                format!(
                    "{flag}: `{}` is a price, fitted as log changes; leave `{}` out of --levels",
                    mapping.asset, mapping.column
                ),
            ));
        }
        if unit == EngineUnit::Price && mapping.percent.is_some() {
            return Err(invalid(
                path,
                None,
                format!(
                    "{flag}: `{}` is a price; a unit (:percent, :decimal) belongs to a rate or volatility ({})",
                    mapping.asset,
                    ENGINE_ASSETS
                        .iter()
                        .filter(|(_, u)| *u == EngineUnit::Decimal)
                        .map(|(a, _)| *a)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        mapped.push((mapping, unit));
    }
    Ok(mapped)
}

/// A cell's value for a message: as written for ordinary magnitudes, in
/// exponent form for huge and tiny ones (never 300 digits).
fn shown(value: f64) -> String {
    if value == 0.0 || (1e-4..1e9).contains(&value.abs()) {
        value.to_string()
    } else {
        format!("{value:e}")
    }
}

/// The lines of `text`, numbered from 1, ended by LF, CRLF or a lone CR:
/// a file saved with classic Mac line endings is as many lines as it shows,
/// not one header of every cell.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\n', '\r']) {
            Some(at) => {
                let skip = if current[at..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = Some(&current[at + skip..]);
                Some(&current[..at])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
    .enumerate()
    .map(|(i, line)| (i + 1, line))
}

/// Refuses two selected columns that would become the same asset name in
/// the fragment (`EUR/USD` and `EUR-USD`, `Gold` and `gold`, a repeated
/// heading): a scenario holds an asset's table once.
fn check_asset_names(
    path: &Path,
    columns: &[String],
    wanted: &[usize],
    assets: &[String],
) -> Result<(), DataError> {
    for (i, &a) in wanted.iter().enumerate() {
        let name = &assets[i];
        if let Some(j) = assets[..i].iter().position(|b| b == name) {
            let b = wanted[j];
            let how = if a == b {
                return Err(invalid(
                    path,
                    Some(1),
                    format!("--series names `{}` twice", columns[a]),
                ));
            } else if columns[a] == columns[b] {
                "the header repeats it".to_string()
            } else if *name != asset_name(&columns[a]) || *name != asset_name(&columns[b]) {
                format!("`{name}` is what --as names one of them; give the other an --as name of its own")
            } else {
                format!(
                    "an asset name keeps ASCII letters and digits only, in lower case, so both become `{name}`"
                )
            };
            return Err(invalid(
                path,
                Some(1),
                format!(
                    "columns {} `{}` and {} `{}` would be the same asset: {how}; rename one in the header, or fit one of them with --series",
                    b + 2,
                    columns[b],
                    a + 2,
                    columns[a]
                ),
            ));
        }
    }
    Ok(())
}

impl Table {
    /// The changes at `selection`'s frequency: the last observation of each
    /// period, then log changes or differences.
    pub fn changes(&self, selection: &Selection) -> Result<Changes, DataError> {
        let frequency = selection.frequency.unwrap_or(self.frequency);
        if frequency < self.frequency {
            return Err(invalid(
                &self.path,
                None,
                format!(
                    "--frequency {}: the file's dates are {}; a fit can sample them less often, not more",
                    frequency.name(),
                    self.frequency.name()
                ),
            ));
        }
        let mut kept: Vec<usize> = Vec::new();
        for t in 0..self.dates.len() {
            let last_of_period = t + 1 == self.dates.len()
                || frequency.period(self.dates[t + 1]) != frequency.period(self.dates[t]);
            if last_of_period {
                kept.push(t);
            }
        }
        // What the file was read as, and what `selection` adds: a table can be
        // read once and sampled with other `--levels`.
        let transforms: Vec<Transform> = self
            .names
            .iter()
            .zip(&self.transforms)
            .map(|(n, &t)| {
                if selection.levels.contains(n) {
                    Transform::Difference
                } else {
                    t
                }
            })
            .collect();
        for (k, name) in self.names.iter().enumerate() {
            if transforms[k] == Transform::LogChange {
                if let Some(&t) = kept.iter().find(|&&t| self.values[k][t] <= 0.0) {
                    return Err(invalid(
                        &self.path,
                        Some(self.lines[t]),
                        format!(
                            "column `{name}` is {} on {}: log changes need positive values; pass --levels {name} to fit its differences",
                            shown(self.values[k][t]), self.dates[t]
                        ),
                    ));
                }
            }
        }
        let levels: Vec<Vec<f64>> = self
            .values
            .iter()
            .map(|v| kept.iter().map(|&t| v[t]).collect())
            .collect();
        let rows: Vec<Vec<f64>> = (1..kept.len())
            .map(|t| {
                (0..self.names.len())
                    .map(|k| match transforms[k] {
                        Transform::LogChange => (levels[k][t] / levels[k][t - 1]).ln(),
                        Transform::Difference => levels[k][t] - levels[k][t - 1],
                    })
                    .collect()
            })
            .collect();
        if rows.len() < MIN_CHANGES {
            return Err(invalid(
                &self.path,
                None,
                format!(
                    "{} {} changes from {} rows; a fit needs at least {MIN_CHANGES}",
                    rows.len(),
                    frequency.name(),
                    self.dates.len()
                ),
            ));
        }
        for (k, name) in self.names.iter().enumerate() {
            // Levels near the float's limit (1e308) have differences or
            // ratios beyond it; a variance beyond it breaks the fit later
            // with a message about regimes that would mislead.
            if let Some(t) = rows.iter().position(|r| !r[k].is_finite()) {
                let (from, to) = (kept[t], kept[t + 1]);
                return Err(invalid(
                    &self.path,
                    Some(self.lines[to]),
                    format!(
                        "column `{name}`: the change from {} on {} to {} on {} is beyond the largest number a float holds; rescale the column (thousands or millions of its unit)",
                        shown(self.values[k][from]), self.dates[from], shown(self.values[k][to]), self.dates[to]
                    ),
                ));
            }
            let mean = rows.iter().map(|r| r[k]).sum::<f64>() / rows.len() as f64;
            let variance = rows.iter().map(|r| (r[k] - mean).powi(2)).sum::<f64>();
            if !mean.is_finite() || !variance.is_finite() {
                return Err(invalid(
                    &self.path,
                    None,
                    format!(
                        "column `{name}`: its {} changes are too large to square (their variance is beyond the largest number a float holds); rescale the column (thousands or millions of its unit)",
                        frequency.name()
                    ),
                ));
            }
            let first = rows.first().map(|r| r[k]);
            if rows.iter().all(|r| Some(r[k]) == first) {
                return Err(invalid(
                    &self.path,
                    None,
                    format!("column `{name}` does not change at {} frequency: a constant series has no variance to fit", frequency.name()),
                ));
            }
        }
        Ok(Changes {
            names: self.names.clone(),
            assets: self.assets.clone(),
            transforms,
            frequency,
            dates: kept[1..].iter().map(|&t| self.dates[t]).collect(),
            rows,
            levels,
        })
    }
}

/// A scenario name for a CSV column: [`crate::figures::snake_case`], a leading digit
/// prefixed.
pub fn asset_name(column: &str) -> String {
    let mut name = crate::figures::snake_case(column);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert_str(0, "s_");
    }
    name
}
