//! The folders `stormglass sweep` and `stormglass sensitivity` write: the
//! tables as CSV and JSON, their charts and a page in the report's style.

use std::path::Path;

use super::charts::{self, Chart, SweepHeat, SweepLine, Tornado, TornadoBar};
use super::files::{write_parquet_file, TableFormat};
use super::labels::{self, FigureReading};
use super::page::write_report;
use super::page::{escape, Page};
use stormglass_core::output::{write_atomically, write_bytes, OutputError};
use stormglass_core::sweep::sensitivity::Sensitivity;
use stormglass_core::sweep::Sweep;

/// The sweep's charts of `chart_figures`: a line per figure for one key, a
/// heat map for two.
pub fn sweep_charts(sweep: &Sweep, chart_figures: &[String]) -> Result<Vec<Chart>, OutputError> {
    let mut charts = Vec::new();
    for name in chart_figures {
        let Some(f) = sweep.figure_index(name) else {
            continue;
        };
        let reading = labels::figure(name, &sweep.assets);
        let value: Vec<f64> = sweep.points.iter().map(|p| p.figures[f].value).collect();
        let se: Vec<f64> = sweep.points.iter().map(|p| p.figures[f].se).collect();
        match &sweep.axes[..] {
            [axis] => charts.push(charts::sweep_line(&SweepLine {
                key: (&axis.key, &labels::key(&axis.key)),
                figure: (name, &reading),
                x: &axis.values,
                value: &value,
                se: &se,
            })?),
            [x, y] => charts.push(charts::sweep_heat(&SweepHeat {
                keys: (&labels::key(&x.key), &labels::key(&y.key)),
                figure: (name, &reading),
                x: &x.values,
                y: &y.values,
                value: &value,
            })?),
            _ => {}
        }
    }
    Ok(charts)
}

/// Writes a sweep's folder atomically: sweep.csv (and/or sweep.parquet),
/// sweep.json, charts/ and sweep.html.
pub fn write_sweep(
    dir: &Path,
    force: bool,
    tables: TableFormat,
    sweep: &Sweep,
    chart_figures: &[String],
    command: &str,
) -> Result<usize, OutputError> {
    let (page, charts) = sweep_report(sweep, chart_figures, command)?;
    let (csv, json) = (sweep.csv(), sweep.json());
    write_atomically(dir, force, |staging| {
        if tables.csv() {
            write_bytes(&staging.join("sweep.csv"), csv.as_bytes())?;
        }
        if tables.parquet() {
            write_parquet_file(
                &staging.join("sweep.parquet"),
                super::columnar::sweep(sweep),
            )?;
        }
        write_bytes(&staging.join("sweep.json"), json.as_bytes())?;
        write_report(staging, "sweep.html", &page, &charts)
    })?;
    Ok(charts.len())
}

/// `sweep.html`, self-contained (its charts are inline SVG), and its charts.
pub fn sweep_report(
    sweep: &Sweep,
    chart_figures: &[String],
    command: &str,
) -> Result<(String, Vec<Chart>), OutputError> {
    let charts = sweep_charts(sweep, chart_figures)?;
    Ok((sweep_page(sweep, &charts, chart_figures, command), charts))
}

fn sweep_page(sweep: &Sweep, charts: &[Chart], chart_figures: &[String], command: &str) -> String {
    let keys: Vec<&str> = sweep.axes.iter().map(|a| a.key.as_str()).collect();
    let mut page = Page::new(&format!("Stormglass sweep: {}", sweep.scenario_name));
    page.heading(
        1,
        "top",
        &format!("{} swept over {}", sweep.scenario_name, keys.join(" and ")),
    );
    page.paragraph(
        "meta",
        &crate::page::meta_line(
            &sweep.scenario_name,
            &sweep.scenario_file,
            &sweep.scenario_hash,
            sweep.seed,
            sweep.paths,
            &sweep.settings,
            command,
        ),
    );
    page.paragraph(
        "meta",
        &format!(
            "{} points in {:.1}s. sweep.csv and sweep.json hold all {} figures of every point with their standard errors; the table shows the charted ones as value ± 1.96 standard errors.",
            sweep.points.len(),
            sweep.seconds,
            sweep.figures.len()
        ),
    );
    let shown: Vec<(usize, &String)> = chart_figures
        .iter()
        .filter_map(|name| sweep.figure_index(name).map(|i| (i, name)))
        .collect();
    let readings: Vec<FigureReading> = shown
        .iter()
        .map(|(_, name)| labels::figure(name, &sweep.assets))
        .collect();
    let mut header: Vec<String> = vec!["point".into()];
    header.extend(keys.iter().map(|k| labels::key(k)));
    header.extend(readings.iter().map(|r| r.label.clone()));
    let rows: Vec<Vec<String>> = sweep
        .points
        .iter()
        .map(|p| {
            let mut row = vec![p.index.to_string()];
            row.extend(p.values.iter().map(|v| labels::number(*v)));
            row.extend(
                shown
                    .iter()
                    .zip(&readings)
                    .map(|((i, _), r)| r.with_se(p.figures[*i].value, p.figures[*i].se)),
            );
            row
        })
        .collect();
    page.heading(2, "points", "Points");
    page.table("numbers", &header, &rows);
    let mut names: Vec<(String, String)> = keys
        .iter()
        .map(|k| (labels::key(k), k.to_string()))
        .collect();
    names.extend(
        readings
            .iter()
            .zip(&shown)
            .map(|(r, (_, name))| (r.label.clone(), name.to_string())),
    );
    page.push(&names_note(&names));
    page.charts(charts, &[]);
    page.finish()
}

/// The names behind the labels, for `--set`, `--vary` and targets files.
fn names_note(names: &[(String, String)]) -> String {
    let mut note = String::from("<p class=\"note\">Names in the files: ");
    let items: Vec<String> = names
        .iter()
        .map(|(label, name)| format!("{} = <code>{}</code>", escape(label), escape(name)))
        .collect();
    note.push_str(&items.join("; "));
    note.push_str(".</p>\n");
    note
}

/// The tornado charts, one per figure.
pub fn tornado_charts(sensitivity: &Sensitivity) -> Result<Vec<Chart>, OutputError> {
    let bump = format!(
        "down and up by {}%",
        labels::number(100.0 * sensitivity.bump)
    );
    let mut charts = Vec::new();
    for (f, name) in sensitivity.figures.iter().enumerate() {
        let reading = labels::figure(name, &sensitivity.assets);
        let bars: Vec<TornadoBar> = sensitivity
            .ranked(f)
            .into_iter()
            .map(|e| TornadoBar {
                key: labels::key(&e.bump.key),
                down: e.at_down.as_ref().map(|m| m[f].value),
                up: e.at_up.as_ref().map(|m| m[f].value),
            })
            .collect();
        charts.push(charts::tornado(&Tornado {
            figure: (name, &reading),
            base: sensitivity.base[f].value,
            bars: &bars,
            bump: &bump,
        })?);
    }
    Ok(charts)
}

/// Writes a sensitivity's folder atomically: sensitivity.csv, .json,
/// charts/ and sensitivity.html.
pub fn write_sensitivity(
    dir: &Path,
    force: bool,
    sensitivity: &Sensitivity,
    command: &str,
) -> Result<usize, OutputError> {
    let (page, charts) = sensitivity_report(sensitivity, command)?;
    let (csv, json) = (sensitivity.csv(), sensitivity.json());
    write_atomically(dir, force, |staging| {
        write_bytes(&staging.join("sensitivity.csv"), csv.as_bytes())?;
        write_bytes(&staging.join("sensitivity.json"), json.as_bytes())?;
        write_report(staging, "sensitivity.html", &page, &charts)
    })?;
    Ok(charts.len())
}

/// `sensitivity.html`, self-contained, and its tornado charts.
pub fn sensitivity_report(
    sensitivity: &Sensitivity,
    command: &str,
) -> Result<(String, Vec<Chart>), OutputError> {
    let charts = tornado_charts(sensitivity)?;
    Ok((sensitivity_page(sensitivity, &charts, command), charts))
}

fn sensitivity_page(s: &Sensitivity, charts: &[Chart], command: &str) -> String {
    let mut page = Page::new(&format!("Stormglass sensitivity: {}", s.scenario_name));
    page.heading(1, "top", &format!("What drives {}", s.scenario_name));
    page.paragraph(
        "meta",
        &crate::page::meta_line(
            &s.scenario_name,
            &s.scenario_file,
            &s.scenario_hash,
            s.seed,
            s.paths,
            &s.settings,
            command,
        ),
    );
    page.paragraph(
        "meta",
        &format!(
            "{} keys, each bumped down and up by {}% of its value (clipped to its valid range), one at a time: {} runs in {:.1}s. The tables rank the keys by the swing, the span of the figure over the key's down, own and up values; figures are shown as value ± 1.96 standard errors.",
            s.effects.len(),
            labels::number(100.0 * s.bump),
            1 + s
                .effects
                .iter()
                .map(|e| usize::from(e.at_down.is_some()) + usize::from(e.at_up.is_some()))
                .sum::<usize>(),
            s.seconds
        ),
    );
    for (f, name) in s.figures.iter().enumerate() {
        let reading = labels::figure(name, &s.assets);
        page.heading(2, &format!("figure-{f}"), &reading.label);
        page.paragraph(
            "meta",
            &format!(
                "{name}, at the scenario's values: {}.",
                reading.with_se(s.base[f].value, s.base[f].se)
            ),
        );
        let header: Vec<String> = [
            "rank", "what", "key", "value", "down", "up", "at down", "at up", "swing",
        ]
        .iter()
        .map(|h| h.to_string())
        .collect();
        let at = |side: &Option<Vec<stormglass_core::figures::Measured>>| {
            side.as_ref()
                .map_or("-".into(), |m| reading.with_se(m[f].value, m[f].se))
        };
        let value = |v: Option<f64>| v.map_or("-".into(), labels::number);
        let rows: Vec<Vec<String>> = s
            .ranked(f)
            .into_iter()
            .enumerate()
            .map(|(rank, e)| {
                vec![
                    (rank + 1).to_string(),
                    labels::key(&e.bump.key),
                    e.bump.key.clone(),
                    labels::number(e.bump.value),
                    value(e.bump.down),
                    value(e.bump.up),
                    at(&e.at_down),
                    at(&e.at_up),
                    reading.swing(e.swing(f, s.base[f].value)),
                ]
            })
            .collect();
        page.table("numbers sensitivity", &header, &rows);
    }
    page.charts(charts, &[]);
    page.finish()
}
