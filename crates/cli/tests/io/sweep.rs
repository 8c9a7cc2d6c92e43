//! Sweeps and sensitivities: common random numbers make neighbouring points'
//! differences precise, the outputs hold every point, a plan of a sweep
//! merges to the sweep's own table, and bad input is refused clearly.

use crate::common;

use std::path::Path;

use common::{bundled, column, mean_and_se, run, stormglass, stormglass_ok, variance};
use stormglass_core::scenario::settings::{self, Setting};
use stormglass_core::sweep::{self, Axis};

const PATHS: u64 = 4000;

/// The standard error of the difference of a per-path figure's mean between
/// two drifts of the S&P 500: on the same seed (paired, path by path) against
/// two independent seeds. With common random numbers the paths' terminal
/// returns move together and their difference is almost deterministic.
#[test]
fn common_random_numbers_shrink_the_error_of_a_difference() {
    let path = Path::new(*crate::common::ROOT).join("scenarios/default.toml");
    let base = bundled("default");
    let at = |drift: f64| {
        let setting = Setting::number("assets.spx.drift", drift).unwrap();
        settings::apply(&base, &path, &[setting]).unwrap()
    };
    let (low, high) = (at(0.06), at(0.10));
    let a = column(&run(&low, PATHS, 7, 0, 0), "spx.terminal_return");
    let b = column(&run(&high, PATHS, 7, 0, 0), "spx.terminal_return");
    let independent = column(&run(&high, PATHS, 8, 0, 0), "spx.terminal_return");
    let paired: Vec<f64> = b.iter().zip(&a).map(|(b, a)| b - a).collect();
    let (difference, se_paired) = mean_and_se(&paired);
    let n = PATHS as f64;
    // Two independent runs: the variances add.
    let se_independent = ((variance(&a) + variance(&independent)) / n).sqrt();
    // The drift's own effect: 4 points a year over the one-year horizon,
    // less in regimes that override it (by_regime drifts do not move).
    assert!(
        difference > 0.0 && difference < 0.05,
        "difference {difference}"
    );
    // Independent seeds give a ratio of 1 (within about 1/sqrt(2 * 4000) =
    // 1.1%, the relative error of a standard error from 4,000 paths);
    // measured 0.22 here (paths whose drawdown-driven regime switches flip
    // with the drift keep most of their noise), so 0.5 fails only if pairing
    // stops removing most of the variance.
    let ratio = se_paired / se_independent;
    assert!(ratio < 0.5, "CRN ratio {ratio}");
    // And the independent difference agrees with the paired one within its
    // error (4 standard errors).
    let (mean_a, _) = mean_and_se(&a);
    let (mean_independent, _) = mean_and_se(&independent);
    let loose = mean_independent - mean_a;
    assert!(
        (loose - difference).abs() < 4.0 * se_independent,
        "independent {loose} against paired {difference} (se {se_independent})"
    );
}

#[test]
fn axes_parse_ranges_and_lists_and_refuse_bad_ones() {
    let range = Axis::parse("assets.spx.drift=0.04:0.12:5").unwrap();
    assert_eq!(range.key, "assets.spx.drift");
    assert_eq!(range.values, vec![0.04, 0.06, 0.08, 0.1, 0.12]);
    assert!(!range.integer);
    let list = Axis::parse("events[name=tariff_wave].rate_per_year=1,2,4").unwrap();
    assert_eq!(list.key, "events.tariff_wave.rate_per_year");
    assert!(list.integer);
    assert_eq!(list.setting(4.0), "events.tariff_wave.rate_per_year=4");
    for bad in [
        "assets.spx.drift",
        "assets.spx.drift=a:b:3",
        "assets.spx.drift=0:1:1",
        "assets.spx.drift=1,1",
        "assets.spx.drift=0:1",
    ] {
        assert!(Axis::parse(bad).is_err(), "{bad} parsed");
    }
    let grid = sweep::grid(&[range, list]);
    assert_eq!(grid.len(), 15);
    assert_eq!(grid[1], vec![0.04, 2.0]);
}

#[test]
fn a_setting_takes_exactly_one_value() {
    for (text, value) in [
        ("assets.spx.vol=0.2", toml::Value::Float(0.2)),
        ("assets.spx.vol = 0.2  # a comment", toml::Value::Float(0.2)),
        ("scenario.name=\"a b\"", toml::Value::String("a b".into())),
        ("scenario.name=plain", toml::Value::String("plain".into())),
        (
            "events.x.rate_per_year=[1, 2]",
            toml::Value::Array(vec![1.into(), 2.into()]),
        ),
    ] {
        assert_eq!(Setting::parse(text).unwrap().value, value, "{text}");
    }
    // Whatever follows the value used to be parsed as more of a TOML document
    // and dropped: the run recorded the first value only.
    for text in [
        "assets.spx.vol=0.2\nassets.spx.drift=0.5",
        "assets.spx.vol=0.2\n[assets.gold]\nvol = 9",
        "assets.spx.vol=0.2\r\nother=1",
        "scenario.name=a\nb",
    ] {
        let error = Setting::parse(text).unwrap_err();
        assert!(
            error.contains("one value")
                && (error.contains("assets.spx.vol") || error.contains("scenario.name")),
            "{text:?}: {error}"
        );
    }
    let output = stormglass(&[
        "run",
        "scenarios/default.toml",
        "--paths",
        "10",
        "--set",
        "assets.spx.vol=0.2\nassets.spx.drift=0.5",
        "--out",
        "/nonexistent/never-written",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("one value"), "{stderr}");
}

#[test]
fn sensitivity_names_its_own_option_for_an_unknown_figure() {
    let output = stormglass(&[
        "sensitivity",
        "scenarios/default.toml",
        "--keys",
        "assets.spx.drift",
        "--figure",
        "p_equity_drawdwn",
        "--paths",
        "100",
        "--out",
        "/nonexistent/never-written",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--figure")
            && !stderr.contains("--chart")
            && stderr.contains("p_equity_drawdown"),
        "{stderr}"
    );
}

#[test]
fn sweep_writes_every_point_and_a_plan_of_it_merges_to_the_same_table() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sweep");
    let out_text = out.to_str().unwrap();
    // From the bundled levels as a user's file: the sweep and the plan start
    // from it and record it.
    let printed = stormglass_ok(&[
        "sweep",
        "scenarios/default.toml",
        "--vary",
        "assets.spx.drift=0.04:0.12:3",
        "--paths",
        "1000",
        "--levels",
        "scenarios/base/levels.csv",
        "--out",
        out_text,
    ]);
    assert!(printed.contains("3 points"), "{printed}");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(record["scenario"]["as_of"], "2025-11-28");
    assert_eq!(
        record["scenario"]["levels_sha256"].as_str().unwrap().len(),
        64
    );
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[0].starts_with("point,assets.spx.drift,p_equity_drawdown,p_equity_drawdown.se"));
    assert!(lines[2].starts_with("1,0.08,"));
    for name in [
        "sweep.json",
        "sweep.html",
        "charts/sweep_p_equity_drawdown.png",
    ] {
        assert!(out.join(name).is_file(), "{name}");
    }
    // A higher drift never lowers the mean S&P return on the same paths.
    let header: Vec<&str> = lines[0].split(',').collect();
    let at = header.iter().position(|h| *h == "spx.return.mean").unwrap();
    let means: Vec<f64> = lines[1..]
        .iter()
        .map(|l| l.split(',').nth(at).unwrap().parse().unwrap())
        .collect();
    assert!(means[0] < means[1] && means[1] < means[2], "{means:?}");

    let plan = dir.path().join("plan");
    let plan_text = plan.to_str().unwrap();
    stormglass_ok(&[
        "plan",
        "scenarios/default.toml",
        "--vary",
        "assets.spx.drift=0.04:0.12:3",
        "--paths",
        "1000",
        "--shards",
        "2",
        "--levels",
        "scenarios/base/levels.csv",
        "--out",
        plan_text,
    ]);
    let manifest = plan.join("manifest.json");
    let manifest_text = manifest.to_str().unwrap();
    for index in 0..6 {
        stormglass_ok(&["task", manifest_text, "--index", &index.to_string()]);
    }
    stormglass_ok(&["merge", manifest_text]);
    let merged = std::fs::read_to_string(plan.join("sweep/sweep.csv")).unwrap();
    assert_eq!(merged, csv, "the plan's sweep differs from the sweep's");
    assert!(plan
        .join("runs/p001_assets.spx.drift=0.08/summary.json")
        .is_file());
}

#[test]
fn sweep_refuses_keys_and_values_it_cannot_run() {
    let cases = [
        ("assets.spx.drit=0:1:3", "assets.spx.drift"),
        ("assets.spx.vol=0:9:3", "valid range"),
        ("scenario.name=1,2", "not a numeric key"),
    ];
    for (vary, expected) in cases {
        let output = stormglass(&[
            "sweep",
            "scenarios/default.toml",
            "--vary",
            vary,
            "--paths",
            "100",
            "--out",
            "/nonexistent/never-written",
        ]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{vary}: {stderr}");
        assert!(stderr.contains(expected), "{vary}: {stderr}");
    }
    let output = stormglass(&[
        "sweep",
        "scenarios/default.toml",
        "--vary",
        "assets.spx.drift=0:0.1:2",
        "--chart",
        "spx.retrun.p05",
        "--paths",
        "100",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("spx.return.p05"), "{stderr}");
}

#[test]
fn sensitivity_ranks_the_tariff_rate_first_for_the_equity_drawdown() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sensitivity");
    stormglass_ok(&[
        "sensitivity",
        "scenarios/default.toml",
        "--keys",
        "events.tariff_wave.rate_per_year,assets.gold.betas.dxy",
        "--figure",
        "p_equity_drawdown",
        "--bump",
        "0.5",
        "--paths",
        "2000",
        "--out",
        out.to_str().unwrap(),
    ]);
    let csv = std::fs::read_to_string(out.join("sensitivity.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 2);
    // Gold's dollar beta cannot move the S&P 500's drawdown: on common random
    // numbers its swing is exactly zero, and the tariff rate (1 and 3 a year
    // against 2) moves it.
    assert_eq!(rows[0][2], "events.tariff_wave.rate_per_year");
    assert_eq!(rows[1][2], "assets.gold.betas.dxy");
    assert_eq!(rows[1][12], "0");
    let swing: f64 = rows[0][12].parse().unwrap();
    assert!(swing > 0.0);
    assert!(out.join("charts/tornado_p_equity_drawdown.png").is_file());
}

/// The text of every `<text>` element of an SVG chart, in document order.
fn svg_texts(path: &Path) -> Vec<String> {
    let svg = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let document = roxmltree::Document::parse_with_options(&svg, options).unwrap();
    document
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or_default().trim().to_string())
        .collect()
}

/// A number printed with the float noise of its binary form (`0.11000000000000001`,
/// `1.5399999999999998`) or in exponent notation (`8.000e-4`) in the page's
/// text (the inline charts' coordinates aside).
fn has_float_noise(page: &str) -> Option<String> {
    let mut text = String::new();
    let mut rest = page;
    while let Some(start) = rest.find("<svg") {
        text.push_str(&rest[..start]);
        rest = rest[start..]
            .find("</svg>")
            .map_or("", |end| &rest[start + end..]);
    }
    text.push_str(rest);
    let text = text.as_str();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            let number = &text[start..i];
            let decimals = number.split('.').nth(1).map_or(0, str::len);
            let exponent = text[i..].starts_with("e-") || text[i..].starts_with("e+");
            if decimals >= 8 || exponent {
                return Some(text[start..(i + 3).min(text.len())].to_string());
            }
        } else {
            i += 1;
        }
    }
    None
}

/// The pages a committee reads: labels instead of key paths, figures in
/// percent, numbers without float noise, charts named after their figure, a
/// heat map with a colour scale and ticks under its cells, and tornado ticks
/// that read differently.
#[test]
fn sweep_and_sensitivity_pages_read_in_words_and_units() {
    let dir = tempfile::tempdir().unwrap();
    let sweep_out = dir.path().join("sweep");
    stormglass_ok(&[
        "sweep",
        "scenarios/default.toml",
        "--vary",
        "flows.threshold=0.06:0.18:4",
        "--vary",
        "events.tariff_wave.rate_per_year=0.7,1.4",
        "--paths",
        "400",
        "--out",
        sweep_out.to_str().unwrap(),
    ]);
    let page = std::fs::read_to_string(sweep_out.join("sweep.html")).unwrap();
    assert_eq!(has_float_noise(&page), None, "float noise in sweep.html");
    assert!(
        page.contains("<th>flow loop: threshold</th>"),
        "no key label"
    );
    assert!(page.contains("<th>P(equity drawdown past its threshold)</th>"));
    assert!(
        page.contains("% ± "),
        "probabilities are not shown in percent"
    );
    let heat = sweep_out.join("charts/sweep_p_equity_drawdown.svg");
    let texts = svg_texts(&heat);
    // Ticks under the cells: each swept value once on its axis, nothing between.
    for value in ["0.06", "0.1", "0.14", "0.18", "0.7", "1.4"] {
        assert_eq!(
            texts.iter().filter(|t| *t == value).count(),
            1,
            "tick {value} in {texts:?}"
        );
    }
    // The colour scale beside the map: its ticks read in percent.
    let cells = 4 * 2;
    let percents = texts.iter().filter(|t| t.ends_with('%')).count();
    assert!(percents > cells, "no colour scale ticks: {texts:?}");
    for figure in ["p_dollar_fall", "p_joint_selloff", "spx_return_p05"] {
        assert!(sweep_out
            .join(format!("charts/sweep_{figure}.png"))
            .is_file());
    }

    let sensitivity_out = dir.path().join("sensitivity");
    stormglass_ok(&[
        "sensitivity",
        "scenarios/default.toml",
        "--keys",
        "assets.silver.betas.gold,events.tariff_wave.rate_per_year,assets.inflation_2y.pass_through.coefficient",
        "--figure",
        "spx.return.p05",
        "--bump",
        "0.1",
        "--paths",
        "400",
        "--out",
        sensitivity_out.to_str().unwrap(),
    ]);
    let page = std::fs::read_to_string(sensitivity_out.join("sensitivity.html")).unwrap();
    assert_eq!(
        has_float_noise(&page),
        None,
        "float noise in sensitivity.html"
    );
    // The silver beta 1.4 bumped by 10% is 1.54, not 1.5399999999999998.
    assert!(page.contains("<td>1.54</td>"), "{page}");
    assert!(page.contains("Silver: beta to Gold"));
    let tornado = sensitivity_out.join("charts/tornado_spx_return_p05.svg");
    let ticks: Vec<String> = svg_texts(&tornado)
        .into_iter()
        .filter(|t| t.ends_with('%') && t.len() < 10)
        .collect();
    let mut unique = ticks.clone();
    unique.sort();
    unique.dedup();
    assert!(ticks.len() >= 3, "{ticks:?}");
    assert_eq!(unique.len(), ticks.len(), "repeated ticks: {ticks:?}");
}

/// Every number in `value` is finite, and every null sits beside a note.
fn assert_finite_or_noted(value: &serde_json::Value, path: &str) {
    match value {
        serde_json::Value::Number(n) => {
            assert!(n.as_f64().is_some_and(f64::is_finite), "{path}: {n}")
        }
        serde_json::Value::Object(map) => {
            let noted = map.keys().any(|k| k.contains("note"));
            for (k, v) in map {
                assert!(!v.is_null() || noted, "{path}.{k} is null without a note");
                assert_finite_or_noted(v, &format!("{path}.{k}"));
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                assert!(!v.is_null(), "{path}[{i}] is null");
                assert_finite_or_noted(v, &format!("{path}[{i}]"));
            }
        }
        _ => {}
    }
}

#[test]
fn sweep_and_sensitivity_records_hold_finite_numbers_or_say_why_not() {
    // On 40 paths the 99% expected shortfall's tail holds one path: it has no
    // standard error, which used to be a bare null.
    let dir = tempfile::tempdir().unwrap();
    let sweep_out = dir.path().join("sweep");
    stormglass_ok(&[
        "sweep",
        "scenarios/default.toml",
        "--vary",
        "assets.spx.drift=0:0.1:2",
        "--paths",
        "40",
        "--out",
        sweep_out.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(sweep_out.join("sweep.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let es = &json["points"][0]["figures"]["spx.es99"];
    assert!(es["se"].is_null() && es["note"].is_string(), "{es}");
    assert_finite_or_noted(&json, "sweep");

    let out = dir.path().join("sensitivity");
    stormglass_ok(&[
        "sensitivity",
        "scenarios/default.toml",
        "--keys",
        "assets.spx.drift",
        "--figure",
        "spx.es99",
        "--paths",
        "40",
        "--out",
        out.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(out.join("sensitivity.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(json["base"][0]["se"].is_null(), "{text}");
    assert_finite_or_noted(&json, "sensitivity");
}

#[test]
fn a_bump_that_cannot_move_a_key_says_why_its_side_is_missing() {
    let path = Path::new(*crate::common::ROOT).join("scenarios/default.toml");
    let base = bundled("default");
    let at_bound = settings::apply(
        &base,
        &path,
        &[Setting::number("events.tariff_wave.rate_per_year", 0.0).unwrap()],
    )
    .unwrap();
    let bumps = sweep::sensitivity::bumps(
        &at_bound,
        &["events.tariff_wave.rate_per_year".to_string()],
        0.1,
    )
    .unwrap();
    assert_eq!(bumps[0].down, None);
    assert!(bumps[0].up.is_some());
    let json = serde_json::to_value(&bumps[0]).unwrap();
    assert!(json["down"].is_null(), "{json}");
    let note = json["note"].as_str().unwrap_or_default();
    assert!(note.starts_with("down: not run"), "{json}");
}
