//! The folder `stormglass attribute` writes: the table as CSV and JSON, a
//! waterfall chart per key number and a page in the report's style.

use std::path::Path;

use super::charts::{self, Chart, Waterfall, WaterfallStep};
use super::page::write_report;
use super::page::Page;
use stormglass_core::attribute::{Attribution, Effect, FigureInfo, ALL, INTERACTION};
use stormglass_core::figures::paired::Unit;
use stormglass_core::output::{write_atomically, write_bytes, OutputError};

/// Standard errors either side a table's `±` and a chart's whisker show.
pub const SHOWN_SE: f64 = 2.0;

/// Decimals that show a figure's effects to the precision its standard
/// errors allow: the typical (median) `±` half-width to one significant
/// digit, 1 to 3 decimals of a percent.
fn decimals(figure: usize, attribution: &Attribution) -> usize {
    decimals_for(attribution.rows.iter().map(|r| r.effects[figure].se))
}

fn decimals_for(standard_errors: impl Iterator<Item = f64>) -> usize {
    let mut widths: Vec<f64> = standard_errors
        .map(|se| scaled(SHOWN_SE * se))
        .filter(|w| w.is_finite() && *w > 0.0)
        .collect();
    if widths.is_empty() {
        return 1;
    }
    widths.sort_unstable_by(f64::total_cmp);
    let typical = widths[widths.len() / 2];
    (-typical.log10().floor() as i64).clamp(1, 3) as usize
}

/// A value in its display unit: percent, or percentage points of a rate
/// quoted as a decimal (both a hundredth).
fn scaled(v: f64) -> f64 {
    100.0 * v
}

/// A figure's value: `12.3%` (a rate's change in percentage points, `+0.52 pp`).
pub fn value_text(v: f64, unit: Unit, decimals: usize) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let s = clean(scaled(v), decimals);
    match unit {
        Unit::Share | Unit::Return => format!("{s}%"),
        Unit::RateChange => format!("{} pp", signed(&s)),
    }
}

/// A difference in percentage points (of a probability, a return or a
/// rate alike), signed: `+1.2 pp`.
pub fn difference_text(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    format!("{} pp", signed(&clean(scaled(v), decimals)))
}

/// `+1.2 ± 0.3 pp`: the difference and [`SHOWN_SE`] standard errors.
pub fn effect_text(e: &Effect, decimals: usize) -> String {
    if !e.difference.is_finite() {
        return "-".into();
    }
    let d = signed(&clean(scaled(e.difference), decimals));
    if e.se.is_finite() {
        format!("{d} ± {} pp", clean(scaled(SHOWN_SE * e.se), decimals))
    } else {
        format!("{d} pp")
    }
}

/// `v` with `decimals` decimals, `-0.0` shown as `0.0`; rounded to 12
/// significant digits first, so `0.07195 - 0.0651` (0.006849999...) shows
/// as the 0.69 points it is.
fn clean(v: f64, decimals: usize) -> String {
    let v = stormglass_core::attribute::rounded(v);
    let text = format!("{v:.decimals$}");
    if text
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        text.trim_start_matches('-').to_string()
    } else {
        text
    }
}

fn signed(text: &str) -> String {
    if text.starts_with('-') || text.chars().all(|c| c == '0' || c == '.') {
        text.to_string()
    } else {
        format!("+{text}")
    }
}

/// The key numbers' effects as console lines: a row per mechanism, `all`
/// and `interaction`, a column per key number.
pub fn key_table(a: &Attribution) -> Vec<String> {
    let keys: Vec<usize> = (0..a.figures.len()).filter(|&f| a.figures[f].key).collect();
    let width = a
        .rows
        .iter()
        .map(|r| r.mechanism.len())
        .max()
        .unwrap_or(0)
        .max(11);
    let column = 24;
    let mut lines = Vec::new();
    let mut header = format!("{:<width$}", "");
    for &f in &keys {
        header.push_str(&format!("{:>column$}", a.figures[f].name));
    }
    lines.push(header);
    let mut full = format!("{:<width$}", "full");
    for &f in &keys {
        let figure = &a.figures[f];
        full.push_str(&format!(
            "{:>column$}",
            value_text(figure.full, figure.unit, decimals(f, a))
        ));
    }
    lines.push(full);
    for row in &a.rows {
        let mut line = format!("{:<width$}", row.mechanism);
        for &f in &keys {
            line.push_str(&format!(
                "{:>column$}",
                effect_text(&row.effects[f], decimals(f, a))
            ));
        }
        lines.push(line);
    }
    if let Some(all) = a.row(ALL) {
        let mut line = format!("{:<width$}", "all off");
        for &f in &keys {
            line.push_str(&format!(
                "{:>column$}",
                value_text(all.effects[f].off, a.figures[f].unit, decimals(f, a))
            ));
        }
        lines.push(line);
    }
    lines
}

/// The waterfall of key number `f`: from the value with every mechanism off,
/// each mechanism's contribution, the interaction remainder, to the full value.
fn waterfall(a: &Attribution, f: usize) -> Option<Waterfall> {
    let figure: &FigureInfo = &a.figures[f];
    let (unit, d) = (figure.unit, decimals(f, a));
    let all = a.row(ALL)?.effects[f];
    let step = |label: &str, e: &Effect| WaterfallStep {
        label: label.to_string(),
        change: e.difference,
        se: e.se,
        text: effect_text(e, d),
    };
    let mut steps: Vec<WaterfallStep> = a
        .rows
        .iter()
        .filter(|r| r.mechanism != ALL && r.mechanism != INTERACTION)
        .map(|r| step(&r.mechanism, &r.effects[f]))
        .collect();
    steps.push(step(INTERACTION, &a.row(INTERACTION)?.effects[f]));
    Some(Waterfall {
        figure: figure.label.clone(),
        start: all.off,
        start_text: value_text(all.off, unit, d),
        end: figure.full,
        end_text: value_text(figure.full, unit, d),
        steps,
        whisker_se: SHOWN_SE,
    })
}

/// The waterfall charts, one per key number.
pub fn attribution_charts(a: &Attribution) -> Result<Vec<Chart>, OutputError> {
    let mut out = Vec::new();
    for (n, f) in (0..a.figures.len())
        .filter(|&f| a.figures[f].key)
        .enumerate()
    {
        if let Some(w) = waterfall(a, f) {
            out.push(charts::waterfall(n, &a.figures[f].name, &w)?);
        }
    }
    Ok(out)
}

/// `attribution.html`, self-contained (its charts are inline SVG), and its
/// charts.
pub fn attribution_report(
    a: &Attribution,
    command: &str,
) -> Result<(String, Vec<Chart>), OutputError> {
    let charts = attribution_charts(a)?;
    Ok((attribution_page(a, &charts, command), charts))
}

/// Writes an attribution's folder atomically: attribution.csv,
/// attribution.json, charts/ and attribution.html. Returns the charts
/// written.
pub fn write_attribution(
    dir: &Path,
    force: bool,
    a: &Attribution,
    command: &str,
) -> Result<usize, OutputError> {
    let (page, charts) = attribution_report(a, command)?;
    let (csv, json) = (a.csv(), a.json());
    write_atomically(dir, force, |staging| {
        write_bytes(&staging.join("attribution.csv"), csv.as_bytes())?;
        write_bytes(&staging.join("attribution.json"), json.as_bytes())?;
        write_report(staging, "attribution.html", &page, &charts)
    })?;
    Ok(charts.len())
}

fn attribution_page(a: &Attribution, charts: &[Chart], command: &str) -> String {
    let mut page = Page::new(&format!("Stormglass attribution: {}", a.scenario_name));
    page.heading(
        1,
        "top",
        &format!("Which mechanism makes the tail of {}", a.scenario_name),
    );
    page.paragraph(
        "meta",
        &super::page::meta_line(
            &a.scenario_name,
            &a.scenario_file,
            &a.scenario_hash,
            a.seed,
            a.paths,
            &a.settings,
            command,
        ),
    );
    page.paragraph(
        "meta",
        &format!(
            "{} runs in {:.1}s (the full run alone {:.1}s): the scenario as it is, once with each mechanism below switched off, and once with all of them off together. An effect is the figure of the full run minus the figure with the mechanism off, measured on the same paths, shown as the difference ± {SHOWN_SE} standard errors in percentage points. The standard errors come from the per-path differences of the two runs (delta method: a quantile's, VaR's or ES's per-path influence values, a mean's or probability's per-path values), so they are far smaller than two independent runs would give.",
            a.mechanisms.len() + 2,
            a.seconds,
            a.full_seconds
        ),
    );
    page.heading(2, "mechanisms", "Mechanisms switched off");
    let rows: Vec<Vec<String>> = a
        .mechanisms
        .iter()
        .map(|m| vec![m.name.clone(), m.description.clone()])
        .collect();
    page.table(
        "runs",
        &[
            "mechanism".to_string(),
            "switching it off removes".to_string(),
        ],
        &rows,
    );

    let keys: Vec<usize> = (0..a.figures.len()).filter(|&f| a.figures[f].key).collect();
    if !keys.is_empty() {
        page.heading(2, "key-numbers", "Key numbers");
        page.paragraph(
            "note",
            "all: every mechanism off together. interaction: all minus the sum of the one-at-a-time effects; mechanisms that feed each other (a deeper drawdown arming the Fed put, a weaker dollar feeding the flow loop) make it non-zero.",
        );
        page.table("numbers", &header(a), &effect_rows(a, &keys));
    }
    page.heading(2, "figures", "Every figure");
    page.paragraph(
        "note",
        "A row per figure: its value in the full run, each mechanism's effect, every mechanism off together and the interaction remainder. attribution.csv and attribution.json hold the same with the value of every run and z = difference / standard error.",
    );
    let every: Vec<usize> = (0..a.figures.len()).collect();
    page.table("numbers", &header(a), &effect_rows(a, &every));
    page.charts(charts, &[]);
    page.finish()
}

/// The columns of a table of figures: the figure, its full value, one per
/// row of effects.
fn header(a: &Attribution) -> Vec<String> {
    let mut header = vec!["figure".to_string(), "full".to_string()];
    header.extend(a.rows.iter().map(|r| r.mechanism.clone()));
    header.push("all off".to_string());
    header
}

fn effect_rows(a: &Attribution, figures: &[usize]) -> Vec<Vec<String>> {
    figures
        .iter()
        .map(|&f| {
            let figure = &a.figures[f];
            let d = decimals(f, a);
            let mut row = vec![
                figure.label.clone(),
                value_text(figure.full, figure.unit, d),
            ];
            row.extend(a.rows.iter().map(|r| effect_text(&r.effects[f], d)));
            row.push(
                a.row(ALL)
                    .map_or("-".into(), |r| value_text(r.effects[f].off, figure.unit, d)),
            );
            row
        })
        .collect()
}

/// The folder an attribution of the run in `run_dir` has by default:
/// `output/<name>-attribution` beside `output/<name>`.
pub fn folder_beside(run_dir: &Path) -> Option<std::path::PathBuf> {
    let name = run_dir.file_name()?.to_string_lossy().into_owned();
    Some(run_dir.with_file_name(format!("{name}-attribution")))
}

/// The "What drives this run" section of a run's `report.html`, when an
/// attribution folder sits beside the run's (as `stormglass attribute`
/// writes it by default): its key-number table, read from
/// `attribution.json`, and a link to its page. No attribution is computed
/// here: a run reads one small file or nothing, and is no slower.
pub fn drives_section(
    run_dir: &Path,
    scenario: &stormglass_core::scenario::Scenario,
) -> Option<String> {
    let folder = folder_beside(run_dir)?;
    let text = stormglass_core::input::read_text(
        &folder.join("attribution.json"),
        stormglass_core::input::Kind::Attribution,
    )
    .ok()?;
    let record: serde_json::Value = serde_json::from_str(&text).ok()?;
    let number = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
    let keys: Vec<(&str, &str)> = record["figures"]
        .as_array()?
        .iter()
        .filter(|f| f["key"].as_bool() == Some(true))
        .filter_map(|f| Some((f["name"].as_str()?, f["label"].as_str()?)))
        .collect();
    let rows = record["rows"].as_array()?;
    let mut mechanisms: Vec<&str> = Vec::new();
    for row in rows {
        if let Some(m) = row["mechanism"].as_str() {
            if !mechanisms.contains(&m) {
                mechanisms.push(m);
            }
        }
    }
    let effect = |mechanism: &str, figure: &str| {
        rows.iter()
            .find(|r| r["mechanism"] == mechanism && r["figure"] == figure)
            .map(|r| Effect {
                off: number(&r["off"]),
                difference: number(&r["difference"]),
                se: number(&r["se"]),
                independent_se: number(&r["independent_se"]),
            })
    };
    let decimals = |figure: &str| {
        decimals_for(
            mechanisms
                .iter()
                .filter_map(|m| effect(m, figure))
                .map(|e| e.se),
        )
    };
    let mut page = Page::new("");
    page.heading(2, "what-drives-this-run", "What drives this run");
    let hash = record["scenario"]["hash"].as_str().unwrap_or("");
    let stale = if hash == scenario.hash {
        String::new()
    } else {
        format!(
            " It was made from another version of the scenario (hash {hash}, this run's {}): run stormglass attribute again to refresh it.",
            scenario.hash
        )
    };
    page.paragraph(
        "meta",
        &format!(
            "From the attribution beside this run ({} paths, seed {}): each mechanism's effect on the key numbers, the full run minus the run with it switched off on the same paths, ± {SHOWN_SE} paired standard errors.{stale}",
            record["paths"], record["seed"]
        ),
    );
    let mut header = vec!["mechanism".to_string()];
    header.extend(keys.iter().map(|(_, label)| label.to_string()));
    let table: Vec<Vec<String>> = mechanisms
        .iter()
        .map(|m| {
            let mut row = vec![m.to_string()];
            row.extend(keys.iter().map(|(name, _)| {
                effect(m, name).map_or("-".into(), |e| effect_text(&e, decimals(name)))
            }));
            row
        })
        .collect();
    page.table("numbers", &header, &table);
    let link = format!(
        "../{}/attribution.html",
        folder.file_name()?.to_string_lossy()
    );
    page.push(&format!(
        "<p class=\"note\"><a href=\"{}\">{}</a> has every figure and the waterfall charts.</p>\n",
        super::page::escape(&link),
        super::page::escape(&link)
    ));
    Some(page.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_without_float_noise() {
        assert_eq!(value_text(0.07195, Unit::Share, 1), "7.2%");
        assert_eq!(difference_text(0.07195 - 0.0651, 2), "+0.69 pp");
        assert_eq!(difference_text(-0.00001, 1), "0.0 pp");
        assert_eq!(value_text(0.0052, Unit::RateChange, 2), "+0.52 pp");
        let e = Effect {
            off: 0.1,
            difference: -0.012,
            se: 0.0015,
            independent_se: 0.004,
        };
        assert_eq!(effect_text(&e, 1), "-1.2 ± 0.3 pp");
    }
}
