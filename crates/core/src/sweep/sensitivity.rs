//! Sensitivity: each key bumped down and up, one at a time (the others at the
//! scenario's values), every run on the same seed as the base run, and the
//! keys ranked by how far each moves the chosen figures.
//!
//! A bump of `b` moves a key from `v` to `v - b |v|` and `v + b |v|`; a key at
//! zero moves by `b` times its valid range's width where that is finite, else
//! by `b` itself. A bumped value outside the valid range is clipped to it; a
//! side that clipping leaves at `v` is not run.

use std::path::Path;

use serde::Serialize;

use super::{SweepError, SweepOptions};
use crate::figures::catalogue::names_a_portfolio;
use crate::figures::{measure_named, Measured};
use crate::portfolio::BookFiles;
use crate::scenario::load::{nearest, unknown_name};
use crate::scenario::settings::{self, Setting};
use crate::scenario::Scenario;

/// The default bump: 10% of the key's value.
pub const DEFAULT_BUMP: f64 = 0.1;

/// Where a key that is not numeric (or unknown) is named with the nearest
/// numeric one.
pub fn not_numeric(key: &str, base: &Scenario, flag: &str) -> String {
    let numeric: Vec<String> = settable_ranges(base).map(|r| r.key.clone()).collect();
    if settings::known_keys(base).iter().any(|k| k == key) {
        let hint = nearest(key, &numeric)
            .map(|n| format!("; did you mean `{n}`?"))
            .unwrap_or_default();
        format!("{flag} `{key}`: not a numeric key with a valid range{hint}")
    } else {
        format!("{flag} {}", unknown_name("key", key, &numeric))
    }
}

/// The numeric keys a setting can reach (an array element chosen by index,
/// `regime_chain.state_dependence[0]`, cannot be set alone).
fn settable_ranges(base: &Scenario) -> impl Iterator<Item = &crate::scenario::KeyRange> {
    base.ranges.iter().filter(|r| !r.key.contains('['))
}

/// Whether `key` is one of the couplings between the thesis's blocks: the
/// cross-border flows' impacts, the policy rule's response and the new
/// chair's bias, betas of one asset on another, pass-throughs, the crash
/// intensity's valuation scaling, and the shocks' rates.
fn is_coupling(key: &str) -> bool {
    const SUFFIXES: [&str; 10] = [
        "flows.equity_impact",
        "flows.currency_impact",
        "flows.threshold",
        ".policy.dovish_bias",
        ".policy.committee_alignment",
        ".policy.inflation_response",
        ".jump_scaling.exponent",
        ".pass_through.coefficient",
        ".policy_error.coefficient",
        ".rate_per_year",
    ];
    let base_beta = key.contains(".betas.") && !key.contains(".by_regime.");
    base_beta || SUFFIXES.iter().any(|s| key.ends_with(s))
}

/// The coupling keys `scenario` has, in the file's order.
pub fn coupling_keys(scenario: &Scenario) -> Vec<String> {
    settable_ranges(scenario)
        .filter(|r| is_coupling(&r.key))
        .map(|r| r.key.clone())
        .collect()
}

/// One key's bumped values.
#[derive(Debug, Clone, Serialize)]
pub struct Bump {
    pub key: String,
    pub value: f64,
    /// `None` (null) where the bump would leave the key's valid range, or
    /// not move it: that side is not run, as `note` says.
    pub down: Option<f64>,
    pub up: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The bumps of `keys` by `bump`, checked against the scenario's ranges.
pub fn bumps(base: &Scenario, keys: &[String], bump: f64) -> Result<Vec<Bump>, SweepError> {
    if !(bump > 0.0 && bump <= 1.0) {
        return Err(SweepError::Axis(format!(
            "--bump {bump}: valid from above 0 to 1 (a share of each key's value)"
        )));
    }
    let mut out: Vec<Bump> = Vec::new();
    let mut problems = Vec::new();
    for key in keys {
        let key = match settings::normalize_key(key) {
            Ok(k) => k,
            Err(e) => {
                problems.push(format!("--keys {e}"));
                continue;
            }
        };
        if out.iter().any(|b| b.key == key) {
            problems.push(format!("--keys `{key}`: given twice"));
            continue;
        }
        let Some(range) = settable_ranges(base).find(|r| r.key == key) else {
            problems.push(not_numeric(&key, base, "--keys"));
            continue;
        };
        let v = range.value;
        let step = if v != 0.0 {
            bump * v.abs()
        } else if (range.high - range.low).is_finite() {
            bump * (range.high - range.low)
        } else {
            bump
        };
        let side = |x: f64| {
            let x = x.clamp(range.low, range.high);
            (x != v).then_some(x)
        };
        let (down, up) = (side(v - step), side(v + step));
        let missing = match (down, up) {
            (None, None) => Some("down and up"),
            (None, Some(_)) => Some("down"),
            (Some(_), None) => Some("up"),
            _ => None,
        };
        let note = missing.map(|sides| {
            format!(
                "{sides}: not run, the key's value {v} sits on its valid range's bound [{}, {}], so the bump cannot move it that way",
                range.low, range.high
            )
        });
        out.push(Bump {
            key,
            value: v,
            down,
            up,
            note,
        });
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(SweepError::Axis(problems.join("\nerror: ")))
    }
}

/// A key's effect on every figure.
#[derive(Debug, Clone, Serialize)]
pub struct Effect {
    pub bump: Bump,
    /// In the order of [`Sensitivity::figures`]; `None` (left out of the
    /// JSON) for a side not run, as the bump's `note` says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_down: Option<Vec<Measured>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_up: Option<Vec<Measured>>,
    pub seconds: f64,
}

impl Effect {
    /// The span of the figure over the key's down, base and up values (a
    /// key that moves it the same way both sides still shows).
    pub fn swing(&self, figure: usize, base: f64) -> f64 {
        let at = |side: &Option<Vec<Measured>>| side.as_ref().map_or(base, |m| m[figure].value);
        let (down, up) = (at(&self.at_down), at(&self.at_up));
        down.max(up).max(base) - down.min(up).min(base)
    }
}

/// A finished sensitivity analysis.
#[derive(Debug, Clone, Serialize)]
pub struct Sensitivity {
    pub version: &'static str,
    pub scenario_name: String,
    pub scenario_file: String,
    pub scenario_hash: String,
    pub as_of: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub levels_sha256: Option<String>,
    pub seed: u64,
    pub paths: u64,
    pub bump: f64,
    pub settings: Vec<String>,
    pub figures: Vec<String>,
    pub base: Vec<Measured>,
    pub effects: Vec<Effect>,
    pub seconds: f64,
    /// How each asset's figures read, for the page (not written).
    #[serde(skip)]
    pub assets: Vec<super::AssetReading>,
}

impl Sensitivity {
    /// The effects on figure `figure`, largest swing first (ties in the
    /// keys' order).
    pub fn ranked(&self, figure: usize) -> Vec<&Effect> {
        let base = self.base[figure].value;
        let mut ranked: Vec<&Effect> = self.effects.iter().collect();
        ranked.sort_by(|a, b| b.swing(figure, base).total_cmp(&a.swing(figure, base)));
        ranked
    }

    /// `sensitivity.csv`: a row per figure and key, ranked within each figure.
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "figure,rank,key,value,down,up,figure_base,figure_base_se,figure_at_down,figure_at_down_se,figure_at_up,figure_at_up_se,swing\n",
        );
        let number = |v: Option<f64>| match v {
            Some(v) if v.is_finite() => format!("{v}"),
            _ => String::new(),
        };
        for (f, name) in self.figures.iter().enumerate() {
            let base = self.base[f];
            for (rank, effect) in self.ranked(f).into_iter().enumerate() {
                let at = |side: &Option<Vec<Measured>>| side.as_ref().map(|m| m[f]);
                let (down, up) = (at(&effect.at_down), at(&effect.at_up));
                out.push_str(&format!(
                    "{name},{},{},{},{},{},{},{},{},{},{},{},{}\n",
                    rank + 1,
                    effect.bump.key,
                    number(Some(effect.bump.value)),
                    number(effect.bump.down),
                    number(effect.bump.up),
                    number(Some(base.value)),
                    number(Some(base.se)),
                    number(down.map(|m| m.value)),
                    number(down.map(|m| m.se)),
                    number(up.map(|m| m.value)),
                    number(up.map(|m| m.se)),
                    number(Some(effect.swing(f, base.value))),
                ));
            }
        }
        out
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a sensitivity serialises") + "\n"
    }
}

/// Runs the base and every bump of `keys` (each run on `options`' seed,
/// the portfolios of `books` valued where `figures` name one) and measures
/// `figures` in each; `progress(done, total)` after each run.
#[allow(clippy::too_many_arguments)]
pub fn run(
    base: &Scenario,
    path: &Path,
    set: &[Setting],
    keys: &[String],
    bump: f64,
    figures: &[String],
    options: SweepOptions,
    books: &BookFiles,
    progress: &dyn Fn(usize, usize),
) -> Result<Sensitivity, SweepError> {
    let started = std::time::Instant::now();
    let start = super::scenario_with(base, path, set, &[])?;
    for key in keys {
        if set.iter().any(|s| &s.key == key) {
            return Err(SweepError::Axis(format!(
                "--keys `{key}`: also given to --set; a key is either set or bumped"
            )));
        }
    }
    // Bumped from the values the run has, --set included.
    let bumps = bumps(&start, keys, bump)?;
    if bumps.is_empty() {
        return Err(SweepError::Axis(
            "no keys to bump: the scenario has none of the default couplings; name them with --keys"
                .into(),
        ));
    }
    let mut runs: Vec<(usize, bool, String)> = Vec::new();
    for (i, b) in bumps.iter().enumerate() {
        for (up, value) in [(false, b.down), (true, b.up)] {
            if let Some(v) = value {
                let setting = Setting::number(&b.key, v).map_err(SweepError::Axis)?;
                let text = format!("{}={}", setting.key, setting.value);
                // Checked before anything runs.
                super::scenario_with(base, path, set, std::slice::from_ref(&text))?;
                runs.push((i, up, text));
            }
        }
    }
    let total = runs.len() + 1;
    let run_options = options.run_options();
    // A book is valued only where a figure reads it: it costs every run time.
    let no_book = BookFiles {
        skip_scenario: true,
        ..BookFiles::default()
    };
    let books = if names_a_portfolio(figures) {
        books
    } else {
        &no_book
    };
    let measure = |scenario: &Scenario| -> Result<Vec<Measured>, SweepError> {
        let (model, book, simulation) = super::simulate_book(scenario, books, &run_options)?;
        Ok(measure_named(figures, scenario, &model, &book, &simulation))
    };
    let base_figures = measure(&start)?;
    progress(1, total);
    let mut effects: Vec<Effect> = bumps
        .into_iter()
        .map(|bump| Effect {
            bump,
            at_down: None,
            at_up: None,
            seconds: 0.0,
        })
        .collect();
    for (done, (i, up, text)) in runs.into_iter().enumerate() {
        let run_started = std::time::Instant::now();
        let scenario = super::scenario_with(base, path, set, &[text])?;
        let measured = measure(&scenario)?;
        let effect = &mut effects[i];
        if up {
            effect.at_up = Some(measured);
        } else {
            effect.at_down = Some(measured);
        }
        effect.seconds += run_started.elapsed().as_secs_f64();
        progress(done + 2, total);
    }
    let sweep = super::Sweep::new(base, path, set, &[], options.seed, options.paths);
    Ok(Sensitivity {
        version: crate::VERSION,
        scenario_name: sweep.scenario_name,
        scenario_file: sweep.scenario_file,
        scenario_hash: sweep.scenario_hash,
        as_of: sweep.as_of,
        levels_sha256: sweep.levels_sha256,
        seed: options.seed,
        paths: options.paths,
        bump,
        settings: sweep.settings,
        figures: figures.to_vec(),
        base: base_figures,
        effects,
        seconds: started.elapsed().as_secs_f64(),
        assets: sweep.assets,
    })
}
