//! The report end to end: a tiny run writes every chart as PNG and SVG and one
//! well-formed, self-contained report.html; `compare` puts runs side by side and
//! refuses broken run folders clearly.

use crate::common;
use common::{stormglass, stormglass_ok};

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The charts a run of the default scenario draws.
const DEFAULT_CHARTS: [&str; 23] = [
    "fan_spx",
    "fan_dxy",
    "fan_gold",
    "fan_us10y",
    "fan_fed_funds",
    "fan_vix",
    "drawdown_spx",
    "drawdown_dxy",
    "drawdown_gold",
    "rise_us10y",
    "rise_fed_funds",
    "rise_vix",
    "volatility",
    "regime_occupancy",
    "first_entry_sell_america",
    "correlation_by_regime",
    "foreign_investor",
    "signal_firing",
    "signal_lead_time",
    "portfolio_pnl",
    "portfolio_drawdown",
    "strategy_pnl_thesis_playbook",
    "strategy_states_thesis_playbook",
];

/// A tiny run of a bundled scenario into `dir/<name>`.
fn tiny_run(scenario: &str, dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(name);
    stormglass_ok(&[
        "run",
        &format!("scenarios/{scenario}.toml"),
        "--paths",
        "300",
        "--sample-paths",
        "5",
        "--out",
        &out.to_string_lossy(),
    ]);
    out
}

/// Tiny runs of the default and baseline scenarios, shared by the tests.
fn runs() -> &'static (tempfile::TempDir, PathBuf, PathBuf) {
    static RUNS: OnceLock<(tempfile::TempDir, PathBuf, PathBuf)> = OnceLock::new();
    RUNS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let default = tiny_run("default", dir.path(), "default");
        let baseline = tiny_run("baseline", dir.path(), "baseline");
        (dir, default, baseline)
    })
}

/// Parses `page` as XML (the report is written as well-formed XHTML) and returns
/// the ids of its figures with the width and height of each inline SVG.
fn figures(page: &str) -> Vec<(String, u32, u32)> {
    let document = roxmltree::Document::parse_with_options(
        page,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("the page is not well-formed: {e}"));
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "html");
    assert!(
        root.descendants().any(|n| n.has_tag_name("title")),
        "no <title>"
    );
    root.descendants()
        .filter(|n| n.has_tag_name("figure"))
        .map(|figure| {
            let id = figure
                .attribute("id")
                .expect("a figure has an id")
                .to_string();
            let svg = figure
                .children()
                .find(|n| n.has_tag_name("svg"))
                .unwrap_or_else(|| panic!("figure {id} holds no inline svg"));
            let size = |name: &str| svg.attribute(name).unwrap().parse::<u32>().unwrap();
            let (width, height) = (size("width"), size("height"));
            assert!(
                figure.descendants().any(|n| n.has_tag_name("figcaption")),
                "figure {id} has no caption"
            );
            (id, width, height)
        })
        .collect()
}

/// Decodes a PNG, returning its size and RGB(A) pixels.
fn decode_png(path: &Path) -> (u32, u32, Vec<u8>, usize) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut pixels)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (info.width, info.height, pixels, info.color_type.samples())
}

#[test]
fn a_tiny_run_writes_the_whole_report() {
    let (_, out, _) = runs();
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    let figures = figures(&page);
    let ids: Vec<&str> = figures.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(ids, DEFAULT_CHARTS, "the page holds every chart, in order");
    for (name, width, height) in &figures {
        let (w, h, _, _) = decode_png(&out.join("charts").join(format!("{name}.png")));
        assert_eq!((w, h), (*width, *height), "{name}.png");
        let svg = std::fs::read_to_string(out.join("charts").join(format!("{name}.svg"))).unwrap();
        assert!(svg.starts_with("<svg"), "{name}.svg");
    }
    for text in [
        "Key numbers",
        "S&amp;P 500 falls 20% or more from a peak",
        "DXY ends 10% or more lower",
        "both on the same path",
        "VaR 99%",
        "It extends levels.toml",
        "scenario SHA-256",
        "20251128",
        "median lead (days)",
    ] {
        assert!(page.contains(text), "the page lacks {text:?}");
    }
    // Self-contained: nothing is fetched from anywhere.
    for fetch in ["<script", "<link", "src=\"http", "url(", "@import"] {
        assert!(!page.contains(fetch), "the page fetches something: {fetch}");
    }

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let key = &summary["key_numbers"];
    for p in ["p_equity_drawdown", "p_dollar_fall", "p_joint_selloff"] {
        let value = key[p].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&value), "{p} = {value}");
    }
    assert!(key["p_joint_selloff"].as_f64() <= key["p_equity_drawdown"].as_f64());
    let tail = &key["tail_risk"][0];
    assert_eq!(tail["asset"], "spx");
    let var95 = tail["levels"][0]["value_at_risk"].as_f64().unwrap();
    let es95 = tail["levels"][0]["expected_shortfall"].as_f64().unwrap();
    let var99 = tail["levels"][1]["value_at_risk"].as_f64().unwrap();
    assert!(var95 <= es95 && var95 <= var99, "{tail}");
    let quantiles = summary["assets"][0]["max_drawdown_quantiles"]
        .as_array()
        .unwrap();
    assert_eq!(quantiles.len(), 101);
}

#[test]
fn chart_text_is_drawn_with_the_embedded_font() {
    // A bare machine has no fonts: the title must still be ink on the PNG.
    let (_, out, _) = runs();
    let (width, _, pixels, samples) = decode_png(&out.join("charts/fan_spx.png"));
    let title_band = &pixels[..(width as usize * 40 * samples)];
    let dark = title_band
        .chunks(samples)
        .filter(|p| p[..3].iter().all(|c| *c < 80))
        .count();
    assert!(dark > 200, "only {dark} dark pixels in the title band");
}

#[test]
fn a_scenario_that_extends_another_lists_what_it_changes() {
    let (_, _, baseline) = runs();
    let page = std::fs::read_to_string(baseline.join("report.html")).unwrap();
    assert!(
        page.contains("Keys set differently from default.toml"),
        "no parameter table"
    );
    assert!(page.contains("<td>assets.fed_funds.policy.dovish_bias</td>"));

    let path = Path::new(*crate::common::ROOT).join("scenarios/baseline.toml");
    let scenario = stormglass_core::scenario::load(&path).unwrap();
    let overrides = scenario.overrides.expect("baseline extends default");
    assert!(overrides.parent.ends_with("default.toml"));
    let change = overrides
        .changes
        .iter()
        .find(|c| c.key == "assets.fed_funds.policy.dovish_bias")
        .expect("the chair's bias is changed");
    assert_eq!(change.child, "0.0");
    assert_ne!(change.parent.as_deref(), Some("0.0"));
    assert!(overrides.changes.iter().all(|c| c.key != "extends"));
    // Events changed by name are listed by name.
    let tariffs = overrides
        .changes
        .iter()
        .find(|c| c.key == "events.tariff_wave.rate_per_year")
        .unwrap_or_else(|| panic!("the tariff rate is changed: {:?}", overrides.changes));
    assert_eq!(
        (tariffs.parent.as_deref(), tariffs.child.as_str()),
        (Some("2.0"), "0.5")
    );
}

#[test]
fn a_single_asset_scenario_gets_a_shorter_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = tiny_run("gbm", dir.path(), "gbm");
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(page.contains("(none: this scenario extends no other file)"));
    assert!(
        page.contains("Not in this scenario, so left out of this report: dxy, gold"),
        "the page says what it leaves out"
    );
    let figures = figures(&page);
    assert!(
        figures.len() < DEFAULT_CHARTS.len(),
        "{} charts",
        figures.len()
    );
    for (name, width, height) in &figures {
        let (w, h, _, _) = decode_png(&out.join("charts").join(format!("{name}.png")));
        assert_eq!((w, h), (*width, *height), "{name}.png");
    }
}

#[test]
fn two_tiny_runs_compare_side_by_side() {
    let (dir, default, baseline) = runs();
    let out = dir.path().join("comparison");
    let stdout = stormglass_ok(&[
        "compare",
        &default.to_string_lossy(),
        &baseline.to_string_lossy(),
        "--out",
        &out.to_string_lossy(),
    ]);
    assert!(
        stdout.contains("default") && stdout.contains("baseline"),
        "{stdout}"
    );
    let page = std::fs::read_to_string(out.join("compare.html")).unwrap();
    let figures = figures(&page);
    assert!(figures
        .iter()
        .any(|(id, _, _)| id == "compare_drawdown_spx"));
    // Only prices are compared by drawdown: a yield's is a bond rally.
    for level in ["us10y", "fed_funds", "vix"] {
        let id = format!("compare_drawdown_{level}");
        assert!(!figures.iter().any(|(f, _, _)| *f == id), "{id}");
    }
    for (name, width, height) in &figures {
        let (w, h, _, _) = decode_png(&out.join("charts").join(format!("{name}.png")));
        assert_eq!((w, h), (*width, *height), "{name}.png");
    }
    assert!(
        page.contains("<th>default</th><th>baseline</th>"),
        "key numbers side by side"
    );
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("comparison.json")).unwrap())
            .unwrap();
    assert_eq!(record["runs"].as_array().unwrap().len(), 2);

    // A scenario file next to a run folder: it is run here, with few paths.
    let mixed = dir.path().join("mixed");
    stormglass_ok(&[
        "compare",
        "scenarios/stagflation.toml",
        &default.to_string_lossy(),
        "--paths",
        "200",
        "--out",
        &mixed.to_string_lossy(),
    ]);
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(mixed.join("comparison.json")).unwrap())
            .unwrap();
    assert_eq!(record["runs"][0]["paths"], 200);
    assert_eq!(record["runs"][0]["label"], "stagflation");
}

#[test]
fn compare_names_a_missing_or_corrupt_summary() {
    let (dir, default, _) = runs();
    let default = default.to_string_lossy().into_owned();
    let broken = dir.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    let cases = [
        (None, "no summary.json here"),
        (
            Some("{\"engine\": \"stormglass\", \"paths\": 3"),
            "not valid JSON",
        ),
        (Some("{\"engine\": \"stormglass\"}"), "missing field"),
        (
            Some("{\"engine\": \"stormglass\", \"paths\": \"many\"}"),
            "invalid type",
        ),
    ];
    for (content, expected) in cases {
        let file = broken.join("summary.json");
        match content {
            Some(text) => std::fs::write(&file, text).unwrap(),
            None => {
                let _ = std::fs::remove_file(&file);
            }
        }
        let output = stormglass(&["compare", &default, &broken.to_string_lossy()]);
        assert_eq!(output.status.code(), Some(2), "{expected}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(expected) && stderr.contains(&*broken.to_string_lossy()),
            "{stderr}"
        );
    }
}

/// The first Chromium on this machine: `$CHROMIUM`, else a known name on PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
    .find(|candidate| candidate.is_file())
}

/// Headless Chromium, started as the machine's probe starts it (no network
/// chatter, a throwaway profile).
struct Browser {
    binary: PathBuf,
    scratch: tempfile::TempDir,
}

impl Browser {
    /// The browser, or `None` (the test is skipped) when none is installed,
    /// unless `STORMGLASS_REQUIRE_CHROMIUM` is set (as `.ci/run` sets it):
    /// then a missing browser fails the test instead of skipping it.
    fn find() -> Option<Browser> {
        let Some(binary) = chromium() else {
            assert!(
                std::env::var_os("STORMGLASS_REQUIRE_CHROMIUM").is_none(),
                "STORMGLASS_REQUIRE_CHROMIUM is set and no Chromium was found (install chromium or set CHROMIUM=/path/to/chrome)"
            );
            println!(
                "skipped: Chromium not found (install chromium or set CHROMIUM=/path/to/chrome)"
            );
            return None;
        };
        Some(Browser {
            binary,
            scratch: tempfile::tempdir().unwrap(),
        })
    }

    /// Runs the browser headless on `page` with `extra` flags; returns stdout.
    fn headless(&self, page: &Path, extra: &[String]) -> String {
        let page = std::fs::canonicalize(page).unwrap();
        let mut args: Vec<String> = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        args.push(format!(
            "--user-data-dir={}",
            self.scratch.path().join("profile").display()
        ));
        args.extend_from_slice(extra);
        args.push(format!("file://{}", page.display()));
        let output = std::process::Command::new(&self.binary)
            .args(&args)
            .output()
            .expect("Chromium starts");
        assert!(
            output.status.success(),
            "{}: {}",
            self.binary.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Paints `page` into a 1280 x `height` screenshot and checks it is not a
    /// blank page: at least 1% of its pixels carry ink (a page of tables and
    /// text has about 4%, one with charts far more; a blank one none).
    fn paints(&self, page: &Path, height: u32) {
        let shot = self.scratch.path().join("shot.png");
        self.headless(
            page,
            &[
                format!("--screenshot={}", shot.display()),
                format!("--window-size=1280,{height}"),
            ],
        );
        let (width, painted, pixels, samples) = decode_png(&shot);
        assert_eq!((width, painted), (1280, height), "{}", page.display());
        let total = pixels.len() / samples;
        let ink = pixels
            .chunks(samples)
            .filter(|p| p[..3].iter().any(|c| *c < 200))
            .count();
        assert!(
            ink > total / 100,
            "{}: {ink} of {total} pixels are not near white: the page did not render",
            page.display()
        );
    }
}

#[test]
fn report_renders_in_headless_chromium() {
    let Some(browser) = Browser::find() else {
        return;
    };
    let (dir, out, baseline) = runs();
    let page = out.join("report.html");

    // The browser's own parse of the page holds every chart as SVG.
    let dom = browser.headless(&page, &["--dump-dom".to_string()]);
    for name in DEFAULT_CHARTS {
        assert!(
            dom.contains(&format!("<figure id=\"{name}\">")),
            "{name} missing from the rendered DOM"
        );
    }
    assert!(dom.matches("<svg").count() >= DEFAULT_CHARTS.len());
    browser.paints(&page, 2000);

    // The other pages a committee gets: a comparison, a sweep, a sensitivity.
    let compared = dir.path().join("chromium-compare");
    stormglass_ok(&[
        "compare",
        &out.to_string_lossy(),
        &baseline.to_string_lossy(),
        "--out",
        &compared.to_string_lossy(),
    ]);
    let swept = dir.path().join("chromium-sweep");
    stormglass_ok(&[
        "sweep",
        "scenarios/default.toml",
        "--vary",
        "flows.threshold=0.08,0.16",
        "--vary",
        "events.tariff_wave.rate_per_year=1,3",
        "--paths",
        "200",
        "--out",
        &swept.to_string_lossy(),
    ]);
    let bumped = dir.path().join("chromium-sensitivity");
    stormglass_ok(&[
        "sensitivity",
        "scenarios/default.toml",
        "--keys",
        "flows.threshold,events.tariff_wave.rate_per_year",
        "--paths",
        "200",
        "--out",
        &bumped.to_string_lossy(),
    ]);
    for (page, figure) in [
        (compared.join("compare.html"), "compare_drawdown_spx"),
        (swept.join("sweep.html"), "sweep_p_equity_drawdown"),
        (bumped.join("sensitivity.html"), "tornado_p_equity_drawdown"),
    ] {
        let dom = browser.headless(&page, &["--dump-dom".to_string()]);
        assert!(
            dom.contains(&format!("<figure id=\"{figure}\">")),
            "{figure} missing from {}",
            page.display()
        );
        browser.paints(&page, 1600);
    }
}

#[test]
fn the_report_table_chooses_the_assets_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/base.toml");
    let file = dir.path().join("roles.toml");
    std::fs::write(
        &file,
        format!(
            "extends = {:?}\n[scenario]\nname = \"roles\"\n[report]\nequity = \"eq\"\ndollar = \"fx\"\ncore_assets = [\"fx\", \"eq\"]\n",
            base.to_string_lossy()
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    stormglass_ok(&[
        "run",
        &file.to_string_lossy(),
        "--paths",
        "200",
        "--out",
        &out.to_string_lossy(),
    ]);
    let figures = figures(&std::fs::read_to_string(out.join("report.html")).unwrap());
    let ids: Vec<&str> = figures.iter().map(|(id, _, _)| id.as_str()).collect();
    assert!(
        ids.starts_with(&["fan_fx", "fan_eq", "drawdown_fx", "drawdown_eq"]),
        "{ids:?}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let key = &summary["key_numbers"];
    assert_eq!(key["equity"], "eq");
    assert!(key["p_joint_selloff"].is_number(), "{key}");
    assert_eq!(key["tail_risk"][0]["asset"], "fx");
}

#[test]
fn the_key_number_thresholds_are_the_scenarios_to_choose() {
    let (dir, default, _) = runs();
    let scenario = dir.path().join("thresholds.toml");
    let parent =
        std::fs::canonicalize(Path::new(*crate::common::ROOT).join("scenarios/default.toml"))
            .unwrap();
    std::fs::write(
        &scenario,
        format!(
            "extends = {:?}\n[scenario]\nname = \"thresholds\"\n[report]\nequity_drawdown = 0.125\ndollar_fall = 0.05\n",
            parent.to_string_lossy()
        ),
    )
    .unwrap();
    let out = dir.path().join("thresholds");
    stormglass_ok(&[
        "run",
        &scenario.to_string_lossy(),
        "--paths",
        "300",
        "--sample-paths",
        "5",
        "--paths-csv",
        "always",
        "--no-portfolios",
        "--out",
        &out.to_string_lossy(),
    ]);
    // The probabilities are the shares of paths past the thresholds given, read
    // back from the per-path table.
    let table = std::fs::read_to_string(out.join("paths_metrics.csv")).unwrap();
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (drawdown, dollar) = (at("spx.max_drawdown"), at("dxy.terminal_return"));
    let (mut equity_hits, mut dollar_hits, mut joint, mut paths) = (0, 0, 0, 0);
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let d = cells[drawdown].parse::<f64>().unwrap() >= 0.125;
        let r = cells[dollar].parse::<f64>().unwrap() <= -0.05;
        equity_hits += d as usize;
        dollar_hits += r as usize;
        joint += (d && r) as usize;
        paths += 1;
    }
    assert_eq!(paths, 300);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let key = &summary["key_numbers"];
    assert_eq!(key["equity_drawdown_threshold"], 0.125);
    assert_eq!(key["dollar_fall_threshold"], 0.05);
    for (name, hits) in [
        ("p_equity_drawdown", equity_hits),
        ("p_dollar_fall", dollar_hits),
        ("p_joint_selloff", joint),
    ] {
        assert_eq!(key[name].as_f64().unwrap(), hits as f64 / 300.0, "{name}");
    }
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(page.contains("S&amp;P 500 falls 12.5% or more from a peak"));
    assert!(page.contains("DXY ends 5% or more lower"));

    // Beside a run with the default thresholds, both are named, in run order.
    let comparison = dir.path().join("thresholds_compared");
    stormglass_ok(&[
        "compare",
        &default.to_string_lossy(),
        &out.to_string_lossy(),
        "--out",
        &comparison.to_string_lossy(),
    ]);
    let page = std::fs::read_to_string(comparison.join("compare.html")).unwrap();
    assert!(
        page.contains("S&amp;P 500 falls 20% / 12.5% or more from a peak"),
        "both thresholds named"
    );
}

/// The text inside the first element with `id`, tags dropped.
fn section_text(page: &str, id: &str) -> String {
    let start = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element with id {id}"));
    let rest = &page[start..];
    let end = rest[1..].find("<h2").map_or(rest.len(), |e| e + 1);
    let mut text = String::new();
    let mut in_tag = false;
    for c in rest[..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

/// The cells of every body row of the first `<table class="CLASS">` after
/// the element with `id`.
fn table_rows(page: &str, id: &str, class: &str) -> Vec<Vec<String>> {
    let from = page.find(&format!("id=\"{id}\"")).expect("the section");
    let start = from
        + page[from..]
            .find(&format!("<table class=\"{class}\">"))
            .expect("the table");
    let end = start + page[start..].find("</table>").unwrap();
    let body = &page[start..end];
    let body = &body[body.find("<tbody>").unwrap()..];
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td>")
                .skip(1)
                .map(|cell| cell.split("</td>").next().unwrap().to_string())
                .collect()
        })
        .collect()
}

/// The page a committee forwards: the charts come soon after the key numbers
/// (only the figures outside history before them, every figure after, folded),
/// each figure in the unit its charts use, and no "drawdown" of a level.
#[test]
fn the_page_puts_the_charts_first_and_reads_in_units() {
    let (_, out, _) = runs();
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    let first_chart = page.find("<figure").expect("a chart");
    let full_table = page
        .find("<details id=\"realism-all\">")
        .expect("the full table, folded");
    assert!(
        first_chart < full_table,
        "the full table comes before the charts"
    );
    assert!(page.find("id=\"realism\"").unwrap() < first_chart);

    // Before the charts, only the figures outside history.
    for row in table_rows(&page, "realism", "realism") {
        assert!(
            row[5] == "BELOW" || row[5] == "ABOVE",
            "a figure inside history in the summary: {row:?}"
        );
    }
    // The VIX in points, yields' levels in percent and changes in basis points.
    let all = table_rows(&page, "realism-all", "realism");
    let mut checked = 0;
    for row in &all {
        let this_run = &row[4];
        match (row[0].as_str(), row[1].contains("change")) {
            ("vix", _) => {
                let points: f64 = this_run.parse().unwrap_or_else(|_| panic!("{row:?}"));
                assert!(points > 1.0, "the VIX in decimals: {row:?}");
                checked += 1;
            }
            ("us10y" | "us2y" | "fed_funds", true) => {
                assert!(this_run.ends_with(" bp"), "{row:?}");
                checked += 1;
            }
            ("us10y" | "us2y" | "fed_funds", false) => {
                assert!(this_run.ends_with('%'), "{row:?}");
                checked += 1;
            }
            _ => {}
        }
    }
    assert!(checked >= 5, "{checked} VIX and yield figures in {all:?}");

    // A yield's or the VIX's risk is a rise: no drawdown charts of levels.
    for level in ["us10y", "fed_funds", "vix"] {
        assert!(!out.join(format!("charts/drawdown_{level}.png")).exists());
        assert!(out.join(format!("charts/rise_{level}.png")).is_file());
    }
    for wrong in ["the Gold", "the Policy rate"] {
        assert!(!page.contains(wrong), "{wrong:?} in the page");
    }
    // Every "further than X" in a caption says X's unit.
    for (at, _) in page.match_indices("further than ") {
        let rest = &page[at + "further than ".len()..];
        let figure = &rest[..rest.find([',', '<']).unwrap_or(rest.len())];
        assert!(
            figure.contains('%') || figure.contains("points"),
            "a figure without its unit: further than {figure}"
        );
    }
}

/// The portfolio section holds what the CSVs hold: amounts in the base
/// currency, loss probabilities as a table, ES contributions per position and
/// the worst paths; the longest spell under water replaces the share of days
/// under water, which is about 90% for every book.
#[test]
fn the_portfolio_section_holds_what_the_tables_hold() {
    let (_, out, _) = runs();
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    let section = section_text(&page, "portfolios");
    for expected in [
        "USD 1,000,000",
        "EUR 1,000,000",
        "loses 10% or more",
        "ES 95% contribution",
        "equities",
        "treasuries",
        "longest under water, median",
        "months",
    ] {
        assert!(section.contains(expected), "{expected:?} missing");
    }
    assert!(!section.contains("time under water"));
    let worst = section_text(&page, "portfolio-worst");
    assert!(
        worst.contains(" from 2025-") && worst.contains('#'),
        "{worst}"
    );
    // Loss probabilities are a table, not the CSV's packed string.
    assert!(!page.contains("0.05:0."));
}
