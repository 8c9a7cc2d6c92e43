//! What history says: the stylised facts every run is held against
//! (`data/history/anchors.toml`, derived from the shipped series by
//! `data/history/derive.py`, or published records with their sources), and the
//! realism section that sets a run's figures beside them.

mod realism;
pub mod warnings;

use std::path::Path;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

pub use realism::{Reads, Realism, RealismFigure, Standing, RECORD_QUANTILE};
pub use warnings::{warnings, Warning, RECORD_DAY_FACTOR};

/// The anchors shipped with the engine, compiled in so that every run has them.
const BUILTIN: &str = include_str!("../../../../data/history/anchors.toml");

/// The name the built-in anchors are reported under.
pub const BUILTIN_NAME: &str = "data/history/anchors.toml (built in)";

/// A file of history anchors.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anchors {
    pub about: About,
    #[serde(rename = "anchor")]
    pub anchors: Vec<Anchor>,
    #[serde(default, rename = "episode")]
    pub episodes: Vec<Episode>,
    /// Where the anchors came from (not in the file).
    #[serde(skip)]
    pub origin: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct About {
    pub generated_by: String,
    pub version: u32,
    #[serde(default)]
    pub description: String,
}

/// One historical figure of one asset.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anchor {
    /// The Stormglass asset it describes; a scenario's asset of that name is held
    /// against it.
    pub asset: String,
    pub figure: Figure,
    /// The quantile, for `*_quantile` figures.
    pub q: Option<f64>,
    /// The drawdown, for `drawdown_probability`.
    pub threshold: Option<f64>,
    /// The window the figure is measured over; records have none.
    pub horizon_years: Option<f64>,
    pub value: f64,
    /// History's band: where a model that reproduced history would land, from
    /// the sampling error of the historical estimate (equal to `value` for a
    /// record).
    pub low: f64,
    pub high: f64,
    /// `derived` (computed from a shipped series) or `published`.
    pub kind: String,
    pub source: String,
    pub period: String,
    #[serde(default)]
    pub note: String,
}

/// The kinds of figure an anchor can state; see docs/MODEL.md, "Realism".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Figure {
    /// A quantile of the simple return over the horizon.
    ReturnQuantile,
    /// The worst and best returns over any window of the horizon on record.
    WorstReturn,
    BestReturn,
    /// The probability that the max drawdown within the horizon reaches `threshold`.
    DrawdownProbability,
    MeanMaxDrawdown,
    /// The median annualised realised volatility over windows of the horizon.
    RealizedVolMedian,
    /// A quantile and the standard deviation of a level's change over the horizon.
    ChangeQuantile,
    ChangeSd,
    /// Record low and high levels.
    LevelLow,
    LevelHigh,
    /// The largest one-day fall and rise on record.
    WorstDay,
    BestDay,
    /// A quantile, over windows of the horizon, of the window's largest one-day
    /// fall (a simple return): how fat the daily tail is in an ordinary year
    /// and in a bad one.
    WorstDayQuantile,
    /// A quantile of the daily level over the period (not comparable with
    /// per-path figures; listed, not judged).
    LevelQuantile,
}

impl Figure {
    /// Whether the figure is a record: the extreme of decades, not a band.
    pub fn is_record(self) -> bool {
        matches!(
            self,
            Figure::WorstReturn
                | Figure::BestReturn
                | Figure::LevelLow
                | Figure::LevelHigh
                | Figure::WorstDay
                | Figure::BestDay
        )
    }
}

/// A historical episode and its moves (simple returns; changes for levels).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Episode {
    pub name: String,
    pub start: toml::value::Datetime,
    pub end: toml::value::Datetime,
    pub moves: IndexMap<String, f64>,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub note: String,
}

/// The built-in anchors.
pub fn builtin() -> &'static Anchors {
    static ANCHORS: std::sync::OnceLock<Anchors> = std::sync::OnceLock::new();
    ANCHORS.get_or_init(|| {
        parse(BUILTIN, BUILTIN_NAME).expect("the built-in anchors are checked by a test")
    })
}

/// Reads a user's anchors file.
pub fn load(path: &Path) -> Result<Anchors, String> {
    let text =
        crate::input::read_text(path, crate::input::Kind::Anchors).map_err(|e| e.to_string())?;
    parse(&text, &path.display().to_string())
}

/// Parses and checks anchors; `origin` names the file in messages.
pub fn parse(text: &str, origin: &str) -> Result<Anchors, String> {
    let mut anchors: Anchors = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|span| format!(":{}", text[..span.start].matches('\n').count() + 1))
            .unwrap_or_default();
        format!("{origin}{line}: {}", e.message())
    })?;
    for (i, anchor) in anchors.anchors.iter().enumerate() {
        check(anchor).map_err(|what| {
            format!(
                "{origin}: anchor[{i}] ({} {:?}): {what}",
                anchor.asset, anchor.figure
            )
        })?;
    }
    anchors.origin = origin.to_string();
    Ok(anchors)
}

fn check(anchor: &Anchor) -> Result<(), String> {
    let finite = [anchor.value, anchor.low, anchor.high];
    if finite.iter().any(|v| !v.is_finite()) {
        return Err("value, low and high must be finite numbers".into());
    }
    if !(anchor.low <= anchor.value && anchor.value <= anchor.high) {
        return Err(format!(
            "the band [{}, {}] must contain the value {}",
            anchor.low, anchor.high, anchor.value
        ));
    }
    let quantile = matches!(
        anchor.figure,
        Figure::ReturnQuantile
            | Figure::ChangeQuantile
            | Figure::LevelQuantile
            | Figure::WorstDayQuantile
    );
    match anchor.q {
        Some(q) if !quantile => return Err(format!("q = {q} belongs to quantile figures only")),
        Some(q) if !(q > 0.0 && q < 1.0) => return Err(format!("q = {q} must lie in (0, 1)")),
        None if quantile => return Err("a quantile figure needs q in (0, 1)".into()),
        _ => {}
    }
    match (anchor.figure, anchor.threshold) {
        (Figure::DrawdownProbability, Some(t)) if t > 0.0 && t < 1.0 => {}
        (Figure::DrawdownProbability, _) => {
            return Err("drawdown_probability needs a threshold in (0, 1)".into())
        }
        (_, Some(_)) => return Err("threshold belongs to drawdown_probability only".into()),
        _ => {}
    }
    let windowed = !anchor.figure.is_record() && anchor.figure != Figure::LevelQuantile;
    match anchor.horizon_years {
        Some(h) if !(h > 0.0 && h <= 50.0) => {
            Err(format!("horizon_years = {h} must lie in (0, 50]"))
        }
        None if windowed => Err("this figure is measured over a window: give horizon_years".into()),
        _ => Ok(()),
    }
}
