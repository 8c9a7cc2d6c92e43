//! An HTML page of the report's kind (a run's, a comparison's, a sweep's,
//! an attribution's, a calibration's): its styles, its building blocks, its
//! record line, and writing it with its charts.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use stormglass_core::output::{create_folder, write_with, OutputError};

use crate::charts::Chart;

const STYLE: &str = "
body { margin: 0; background: #f6f6f4; color: #1a1a1a;
  font: 16px/1.5 -apple-system, 'Segoe UI', 'DejaVu Sans', Helvetica, Arial, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 32px 64px; background: #fff; }
h1 { font-size: 30px; margin: 8px 0 4px; }
h2 { font-size: 22px; margin: 36px 0 8px; border-bottom: 2px solid #0072b2; padding-bottom: 4px; }
h3 { font-size: 18px; margin: 24px 0 4px; }
p.description { font-size: 18px; color: #333; margin-top: 0; }
table { border-collapse: collapse; margin: 8px 0 16px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 12px; border-bottom: 1px solid #ddd; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
table.signals td:nth-child(2), table.runs td, table.runs th { text-align: left; }
table.numbers td { white-space: nowrap; }
table.sensitivity td:nth-child(2) { text-align: left; white-space: normal; }
table.sensitivity td:nth-child(3) { text-align: left; font-family: 'DejaVu Sans Mono', Menlo, Consolas, monospace; font-size: 13px; color: #555; white-space: normal; }
code { font-family: 'DejaVu Sans Mono', Menlo, Consolas, monospace; font-size: 14px; }
table.parameters td { text-align: left; font-family: 'DejaVu Sans Mono', Menlo, Consolas, monospace; font-size: 14px; }
thead th { border-bottom: 2px solid #999; }
.note { color: #555; font-size: 14px; }
figure { margin: 24px 0; }
figure svg { width: 100%; height: auto; display: block; }
figcaption { margin-top: 6px; font-size: 15px; color: #333; }
nav ul { columns: 2; padding-left: 20px; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; }
dl.meta dt { color: #555; }
dl.meta dd { margin: 0; font-variant-numeric: tabular-nums; }
details > summary { cursor: pointer; color: #0072b2; font-size: 17px; margin: 8px 0; }
";

/// Escapes text for HTML (and XML) content and attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page under construction.
pub struct Page {
    pub body: String,
    title: String,
}

impl Page {
    pub fn new(title: &str) -> Page {
        Page {
            body: String::new(),
            title: title.to_string(),
        }
    }

    /// Appends markup the caller has escaped.
    pub fn push(&mut self, html: &str) {
        self.body.push_str(html);
    }

    pub fn heading(&mut self, level: u8, id: &str, text: &str) {
        let _ = writeln!(
            self.body,
            "<h{level} id=\"{}\">{}</h{level}>",
            escape(id),
            escape(text)
        );
    }

    pub fn paragraph(&mut self, class: &str, text: &str) {
        let _ = writeln!(self.body, "<p class=\"{class}\">{}</p>", escape(text));
    }

    /// A table of text cells; the first row is the header.
    pub fn table(&mut self, class: &str, header: &[String], rows: &[Vec<String>]) {
        let _ = writeln!(self.body, "<table class=\"{class}\"><thead><tr>");
        for cell in header {
            let _ = write!(self.body, "<th>{}</th>", escape(cell));
        }
        self.body.push_str("</tr></thead><tbody>\n");
        for row in rows {
            self.body.push_str("<tr>");
            for cell in row {
                let _ = write!(self.body, "<td>{}</td>", escape(cell));
            }
            self.body.push_str("</tr>\n");
        }
        self.body.push_str("</tbody></table>\n");
    }

    /// A list of links to the chart sections, then every chart under its section,
    /// after the section's introduction in `intros` (markup), if any.
    pub fn charts(&mut self, charts: &[Chart], intros: &[(&str, String)]) {
        let mut sections: Vec<&str> = Vec::new();
        for chart in charts {
            if !sections.contains(&chart.section) {
                sections.push(chart.section);
            }
        }
        if sections.is_empty() {
            return;
        }
        self.push("<nav><h2 id=\"charts\">Charts</h2><ul>\n");
        for section in &sections {
            let _ = writeln!(
                self.body,
                "<li><a href=\"#{}\">{}</a></li>",
                section_id(section),
                escape(section)
            );
        }
        self.push("</ul></nav>\n");
        for section in sections {
            self.heading(2, &section_id(section), section);
            for (_, intro) in intros.iter().filter(|(s, _)| *s == section) {
                self.push(intro);
            }
            for chart in charts.iter().filter(|c| c.section == section) {
                self.figure(chart);
            }
        }
    }

    fn figure(&mut self, chart: &Chart) {
        let svg = chart.svg.trim().replacen(
            "<svg ",
            &format!("<svg role=\"img\" aria-label=\"{}\" ", escape(&chart.title)),
            1,
        );
        let _ = writeln!(
            self.body,
            "<figure id=\"{}\">\n{svg}\n<figcaption><strong>{}.</strong> {} <span class=\"note\">(charts/{}.png, .svg)</span></figcaption>\n</figure>",
            escape(&chart.name),
            escape(&chart.title),
            escape(&chart.caption),
            escape(&chart.name),
        );
    }

    pub fn finish(self) -> String {
        format!(
            "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n<meta name=\"generator\" content=\"stormglass {}\"/>\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n{}</main>\n</body>\n</html>\n",
            stormglass_core::VERSION,
            escape(&self.title),
            self.body
        )
    }
}

fn section_id(section: &str) -> String {
    section
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// The record line under a page's title: the scenario, its hash, the paths
/// and seed every run shares, the settings, the command and the version.
pub fn meta_line(
    name: &str,
    file: &str,
    hash: &str,
    seed: u64,
    paths: u64,
    settings: &[String],
    command: &str,
) -> String {
    let set = if settings.is_empty() {
        String::new()
    } else {
        format!(" Every run also sets {}.", settings.join(", "))
    };
    format!(
        "Scenario {name} ({file}, hash {hash}); {paths} paths per run, seed {seed} in every run (common random numbers).{set} Command: {command}. Stormglass {}.",
        stormglass_core::VERSION
    )
}

/// Writes `charts/<name>.png` and `.svg` for every chart, and the page.
pub fn write_report(
    dir: &Path,
    page_name: &str,
    page: &str,
    charts: &[Chart],
) -> Result<(), OutputError> {
    let folder = dir.join("charts");
    create_folder(&folder)?;
    for chart in charts {
        write_with(&folder.join(format!("{}.png", chart.name)), |out| {
            out.write_all(&chart.png)
        })?;
        write_with(&folder.join(format!("{}.svg", chart.name)), |out| {
            out.write_all(chart.svg.as_bytes())
        })?;
    }
    write_with(&dir.join(page_name), |out| out.write_all(page.as_bytes()))
}
