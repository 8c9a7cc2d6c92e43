//! The realism section, as the console and the HTML page show it: each figure
//! of the run beside history's, those outside its band or beyond its record
//! flagged, with the paths beyond history's figure counted.

use std::io::{self, Write};

use super::labels::fixed;
use super::page::Page;
use stormglass_core::history::{Reads, Realism, RealismFigure, Standing, RECORD_QUANTILE};
use stormglass_core::Summary;

/// The columns of a realism row.
const HEADER: [&str; 7] = [
    "asset",
    "figure",
    "history",
    "history's band",
    "this run",
    "",
    "paths beyond history",
];

/// A figure's value as the charts write it: percent, basis points, points.
fn value(reads: Reads, v: f64) -> String {
    match reads {
        Reads::Percent => format!("{}%", fixed(v * 100.0, 1)),
        Reads::RatePercent => format!("{}%", fixed(v * 100.0, 2)),
        Reads::BasisPoints => format!("{} bp", fixed(v * 1e4, 0)),
        Reads::VolPoints => fixed(v * 100.0, 1),
        Reads::Units => fixed(v, 4),
    }
}

/// A figure's cells, in the order of [`HEADER`].
fn cells(f: &RealismFigure) -> [String; 7] {
    let value = |v: f64| value(f.reads, v);
    let band = if f.figure.is_record() {
        "record".to_string()
    } else {
        format!("[{}, {}]", value(f.low), value(f.high))
    };
    let standing = match f.standing {
        Standing::Inside => "",
        Standing::Below => "BELOW",
        Standing::Above => "ABOVE",
        Standing::NotComparable => "n/a",
    };
    let beyond = match (f.share_beyond, f.history_share_beyond) {
        (Some(run), Some(history)) => {
            format!("{:.1}% (history {:.0}%)", run * 100.0, history * 100.0)
        }
        (Some(run), None) => format!("{:.2}%", run * 100.0),
        _ => String::new(),
    };
    [
        f.asset.clone(),
        format!("{}{}", f.label, if f.scaled { " *" } else { "" }),
        value(f.history),
        band,
        value(f.run),
        standing.to_string(),
        beyond,
    ]
}

/// What the flags mean, and where history comes from.
fn legend(realism: &Realism) -> Vec<String> {
    let mut lines = vec![format!(
        "{} of {} figures outside history ({}). BELOW / ABOVE: outside history's band (its figure ± 2 standard errors of the historical estimate) or beyond its record; a record is judged by the run's 1% tail. n/a: the anchor's horizon differs from the run's and the figure does not scale, or the run starts within 10% of a level record.",
        realism.outside,
        realism.figures.len(),
        realism.anchors
    )];
    if realism.figures.iter().any(|f| f.scaled) {
        lines.push(format!(
            "* history scaled from its one-year figure to the run's {:.2} years.",
            realism.horizon_years
        ));
    }
    lines
}

/// The console table: the figures outside history (every figure is in the
/// report and `summary.json`).
pub fn print(out: &mut impl Write, realism: &Realism) -> io::Result<()> {
    if realism.figures.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(
        out,
        "realism: {} of {} figures outside history{}",
        realism.outside,
        realism.figures.len(),
        if realism.outside > 0 {
            " (these below; all of them in report.html and summary.json)"
        } else {
            ""
        }
    )?;
    if realism.outside == 0 {
        return Ok(());
    }
    let row = |c: &[String; 7]| {
        format!(
            "{:<9} {:<42} {:>10} {:>20} {:>10}  {:<5} {}",
            c[0], c[1], c[2], c[3], c[4], c[5], c[6]
        )
    };
    writeln!(out, "{}", row(&HEADER.map(String::from)))?;
    let outside = realism.figures.iter().filter(|f| is_outside(f));
    for f in outside {
        writeln!(out, "{}", row(&cells(f)).trim_end())?;
    }
    for line in legend(realism).iter().skip(1) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// Figures outside history the report's summary lists before the charts.
const SUMMARY_ROWS: usize = 10;

/// How far outside history a figure lies, in units that rank bands and
/// records together: beyond a band, in band widths; beyond a record, the
/// run's share of paths past it over the 1% a record is judged by, less one.
fn excess(f: &RealismFigure) -> f64 {
    if f.figure.is_record() {
        return f
            .share_beyond
            .map_or(0.0, |share| share / RECORD_QUANTILE - 1.0);
    }
    let width = (f.high - f.low).abs().max(f64::MIN_POSITIVE);
    let beyond = if f.run > f.high {
        f.run - f.high
    } else {
        f.low - f.run
    };
    (beyond / width).max(0.0)
}

fn is_outside(f: &RealismFigure) -> bool {
    matches!(f.standing, Standing::Below | Standing::Above)
}

/// The HTML summary that opens the report: the warnings, then only the figures
/// outside history, so the charts follow closely; [`html_table`] holds them all.
pub fn html_summary(summary: &Summary) -> Option<String> {
    let realism = &summary.realism;
    if realism.figures.is_empty() && summary.warnings.is_empty() {
        return None;
    }
    let mut page = Page::new("");
    for warning in &summary.warnings {
        page.paragraph("warning", &format!("Warning: {warning}"));
    }
    if !realism.figures.is_empty() {
        for line in legend(realism) {
            page.paragraph("note", &line);
        }
        let mut outside: Vec<&RealismFigure> =
            realism.figures.iter().filter(|f| is_outside(f)).collect();
        outside.sort_by(|a, b| excess(b).total_cmp(&excess(a)));
        let rows: Vec<Vec<String>> = outside
            .iter()
            .take(SUMMARY_ROWS)
            .map(|f| cells(f).to_vec())
            .collect();
        if !rows.is_empty() {
            page.table("realism", &HEADER.map(String::from), &rows);
        }
        let more = outside.len().saturating_sub(SUMMARY_ROWS);
        let lead = if more > 0 {
            format!(
                "The {SUMMARY_ROWS} furthest from history; {more} more outside, and every figure, "
            )
        } else {
            "Every figure ".to_string()
        };
        page.push(&format!(
            "<p class=\"note\">{lead}<a href=\"#realism-all\">beside history</a> after the charts.</p>\n"
        ));
    }
    Some(page.body)
}

/// Every figure beside history, folded (no script: `<details>`).
pub fn html_table(summary: &Summary) -> Option<String> {
    let realism = &summary.realism;
    if realism.figures.is_empty() {
        return None;
    }
    let mut page = Page::new("");
    page.push(&format!(
        "<details id=\"realism-all\"><summary>All {} figures beside history ({} outside)</summary>\n",
        realism.figures.len(),
        realism.outside
    ));
    let rows: Vec<Vec<String>> = realism.figures.iter().map(|f| cells(f).to_vec()).collect();
    page.table("realism", &HEADER.map(String::from), &rows);
    page.push("</details>\n");
    Some(page.body)
}

/// The comparison page's section: each figure once, history's value and band,
/// then every run's figure with its flag.
pub fn comparison(runs: &[(&str, &Realism)]) -> Option<String> {
    let mut order: Vec<(String, String)> = Vec::new();
    let mut first: Vec<&RealismFigure> = Vec::new();
    for (_, realism) in runs {
        for f in &realism.figures {
            let key = (f.asset.clone(), f.label.clone());
            if !order.contains(&key) {
                order.push(key);
                first.push(f);
            }
        }
    }
    if order.is_empty() {
        return None;
    }
    let mut page = Page::new("");
    let mut lines = vec![
        "Each run's figures beside history's; the history column is the first run's, scaled to its horizon where marked *.".to_string(),
    ];
    for (label, realism) in runs {
        lines.push(format!(
            "{label}: {} of {} figures outside history.",
            realism.outside,
            realism.figures.len()
        ));
    }
    for line in lines {
        page.paragraph("note", &line);
    }
    let mut header: Vec<String> = HEADER[..4].iter().map(|s| s.to_string()).collect();
    header.extend(runs.iter().map(|(label, _)| label.to_string()));
    let rows: Vec<Vec<String>> = order
        .iter()
        .zip(&first)
        .map(|((asset, label), reference)| {
            let mut row = cells(reference)[..4].to_vec();
            for (_, realism) in runs {
                let cell = realism
                    .figures
                    .iter()
                    .find(|f| &f.asset == asset && &f.label == label)
                    .map_or_else(
                        || "n/a".to_string(),
                        |f| {
                            let c = cells(f);
                            format!("{} {}", c[4], c[5]).trim_end().to_string()
                        },
                    );
                row.push(cell);
            }
            row
        })
        .collect();
    page.table("realism", &header, &rows);
    Some(page.body)
}
