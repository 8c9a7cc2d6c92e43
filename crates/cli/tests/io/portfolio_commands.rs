//! A portfolio file given to `run`, end to end.

use crate::common;

#[test]
fn the_cli_runs_a_portfolio_file_and_writes_the_tables() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let output = common::stormglass(&[
        "run",
        "--paths",
        "300",
        "--sample-paths",
        "0",
        "--no-portfolios",
        "--portfolio",
        "portfolios/us_60_40.toml",
        "--stress",
        "stress/episodes.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("us_60_40") && stdout.contains("april_2025"),
        "{stdout}"
    );
    let csv = std::fs::read_to_string(out.join("portfolios.csv")).unwrap();
    assert_eq!(csv.lines().count(), 2);
    assert!(csv.lines().next().unwrap().contains("es99,var99_amount"));
    // Loss probabilities are a table of their own, not a packed "0.05:0.3;..." cell.
    assert!(!csv.contains("0.05:"), "{csv}");
    let losses = std::fs::read_to_string(out.join("portfolio_losses.csv")).unwrap();
    let rows: Vec<&str> = losses.lines().collect();
    assert_eq!(rows[0], "portfolio,threshold,probability,standard_error");
    let thresholds: Vec<&str> = rows[1..]
        .iter()
        .map(|r| r.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(thresholds, ["0.05", "0.1", "0.2"], "{losses}");
    let json = std::fs::read_to_string(out.join("summary.json")).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(summary["portfolios"][0]["name"], "us_60_40");
    assert_eq!(
        summary["portfolios"][0]["sha256"].as_str().unwrap().len(),
        64
    );

    let bad_run = common::stormglass(&[
        "run",
        "--portfolio",
        "crates/core/tests/portfolios/bad/hedge_ratio.toml",
    ]);
    assert_eq!(bad_run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_run.stderr).contains("positions.spx.hedge_ratio"));
}

#[test]
fn compare_sets_one_book_under_every_scenario_with_paired_differences() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("compare");
    let stdout = common::stormglass_ok(&[
        "compare",
        "scenarios/default.toml",
        "scenarios/baseline.toml",
        "scenarios/default.toml",
        "--paths",
        "400",
        "--seed",
        "7",
        "--portfolio",
        "portfolios/us_60_40.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        stdout.contains("portfolio us_60_40 (paired differences")
            && stdout.contains("ES 95%")
            && stdout.contains("baseline − default"),
        "{stdout}"
    );
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("comparison.json")).unwrap())
            .unwrap();
    let book = &record["portfolios"][0];
    assert_eq!(book["portfolio"], "us_60_40");
    assert_eq!(book["paired"], true);
    assert_eq!(book["runs"][2], "default (2)");
    let figures = book["figures"].as_array().unwrap();
    let es95 = figures
        .iter()
        .find(|f| f["name"] == "portfolio.us_60_40.es95")
        .expect("es95 compared");
    // The same scenario on the same seed: nothing differs, not even by noise.
    assert_eq!(es95["differences"][2]["value"], 0.0);
    assert_eq!(es95["differences"][2]["se"], 0.0);
    let baseline = &es95["differences"][1];
    let (value, se) = (
        baseline["value"].as_f64().unwrap(),
        baseline["se"].as_f64().unwrap(),
    );
    let runs = &es95["runs"];
    let expected = runs[1]["value"].as_f64().unwrap() - runs[0]["value"].as_f64().unwrap();
    assert!((value - expected).abs() < 1e-12, "{value} vs {expected}");
    assert!(se > 0.0 && se.is_finite(), "{se}");
    let csv = std::fs::read_to_string(out.join("portfolio_comparison.csv")).unwrap();
    assert!(csv.starts_with("portfolio,figure,run,value,se,difference,difference_se,paired\n"));
    assert!(csv.contains("us_60_40,portfolio.us_60_40.es95,baseline,"));
    let page = std::fs::read_to_string(out.join("compare.html")).unwrap();
    assert!(page.contains("Portfolio us_60_40 under every scenario"));
    assert!(page.contains("portfolio.us_60_40.loss_prob.0.10"));

    // A scenario without the book's assets is named with what it lacks.
    let missing = common::stormglass(&[
        "compare",
        "scenarios/default.toml",
        "scenarios/gbm.toml",
        "--paths",
        "100",
        "--portfolio",
        "portfolios/gold_silver.toml",
        "--out",
        dir.path().join("missing").to_str().unwrap(),
    ]);
    assert_eq!(missing.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr
            .contains("portfolios/gold_silver.toml:11: positions.gold.asset: unknown asset `gold`")
            && stderr.contains("scenario `gbm` (scenarios/gbm.toml)"),
        "{stderr}"
    );
    assert!(!dir.path().join("missing").exists());

    // A finished run keeps no paths to value a book on.
    let folder = common::stormglass(&[
        "compare",
        out.to_str().unwrap(),
        "scenarios/baseline.toml",
        "--portfolio",
        "portfolios/us_60_40.toml",
    ]);
    assert_eq!(folder.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&folder.stderr).contains("keeps no paths"));
}

#[test]
fn sweeps_chart_a_portfolio_s_figures_and_name_the_portfolios_a_run_has() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sweep");
    let file = dir.path().join("all_spx.toml");
    std::fs::write(
        &file,
        "name = \"all_spx\"\nbase_currency = \"USD\"\nloss_thresholds = [0.1]\n[positions.spx]\nasset = \"spx\"\nweight = 1.0\n",
    )
    .unwrap();
    common::stormglass_ok(&[
        "sweep",
        "scenarios/gbm.toml",
        "--vary",
        "assets.spx.vol=0.1,0.3",
        "--paths",
        "300",
        "--portfolio",
        file.to_str().unwrap(),
        "--chart",
        "portfolio.all_spx.es95",
        "--out",
        out.to_str().unwrap(),
    ]);
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let es = header
        .iter()
        .position(|h| *h == "portfolio.all_spx.es95")
        .expect("the sweep measures the book");
    let values: Vec<f64> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(es).unwrap().parse().unwrap())
        .collect();
    assert!(
        values[1] > values[0],
        "a wilder equity, a deeper ES: {values:?}"
    );

    let unknown = common::stormglass(&[
        "sweep",
        "scenarios/gbm.toml",
        "--vary",
        "assets.spx.vol=0.1,0.3",
        "--portfolio",
        file.to_str().unwrap(),
        "--chart",
        "portfolio.us_60_40.es95",
        "--out",
        dir.path().join("unknown").to_str().unwrap(),
    ]);
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("no portfolio `us_60_40` in this run (this run's portfolios: all_spx"),
        "{stderr}"
    );
}

#[test]
fn a_position_that_cannot_move_is_warned_about_by_validate_and_run_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("euro_in_euros.toml");
    let text = "name = \"euro_in_euros\"\nbase_currency = \"EUR\"\n\n[positions.long_euro]\nasset = \"eurusd\"\nweight = 1.0\n";
    std::fs::write(&file, text).unwrap();
    let expected = [
        format!("{}:5: positions.long_euro.asset", file.display()),
        "cannot move".to_string(),
        r#"[positions.long_euro] forward = "USD", weight = -1"#.to_string(),
    ];
    let validated = common::stormglass(&["validate", file.to_str().unwrap()]);
    assert!(validated.status.success());
    let stderr = String::from_utf8_lossy(&validated.stderr);
    assert!(
        stderr.contains(&format!("warning: {}", expected[0])),
        "{stderr}"
    );
    for part in &expected {
        assert!(stderr.contains(part.as_str()), "{part} not in {stderr}");
    }
    let out = dir.path().join("run");
    let ran = common::stormglass(&[
        "run",
        "--paths",
        "200",
        "--sample-paths",
        "0",
        "--no-portfolios",
        "--portfolio",
        file.to_str().unwrap(),
        "--portfolio",
        "portfolios/eur_short_usd.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert!(ran.status.success(), "{stderr}");
    assert!(stderr.contains(expected[2].as_str()), "{stderr}");
    // The bundled forward book is not warned about: it moves.
    assert!(!stderr.contains("eur_short_usd"), "{stderr}");
    let json = std::fs::read_to_string(out.join("summary.json")).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&json).unwrap();
    let keys: Vec<&str> = summary["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"positions.long_euro.asset"), "{keys:?}");
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("positions.long_euro.asset"));
    assert_eq!(summary["portfolios"][1]["positions"][0]["kind"], "forward");
}

#[test]
fn a_strategy_writes_its_tables_charts_section_and_console_lines() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let stdout = common::stormglass_ok(&[
        "run",
        "--paths",
        "400",
        "--sample-paths",
        "0",
        "--no-portfolios",
        "--portfolio",
        "portfolios/thesis_playbook.toml",
        "--format",
        "both",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        stdout.contains("strategy - hold") && stdout.contains("paths ahead"),
        "{stdout}"
    );
    let json = std::fs::read_to_string(out.join("summary.json")).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&json).unwrap();
    let strategy = &summary["strategies"][0];
    let headers = [
        (
            "strategies",
            "strategy,figure,hold_figure,label,unit,strategy_value,strategy_se,hold_value,hold_se,difference,difference_se_paired,difference_se_independent",
            strategy["versus_hold"].as_array().unwrap().len(),
        ),
        (
            "strategy_rules",
            "strategy,rule,description,from_states,to_state,conditions,fired_share,fired_share_se,mean_firings,first_firing_years_mean,first_firing_years_p50,target_drawdown,paths_with_drawdown,fired_before_drawdown_share,lead_years_mean,lead_years_p50,fired_without_drawdown_share",
            2,
        ),
        (
            "strategy_states",
            "strategy,state,description,targets,time_share_mean,time_share_p50,ever_share",
            2,
        ),
        (
            "strategy_states_by_step",
            "strategy,date,state,share_of_paths",
            2 * summary["steps"].as_u64().unwrap() as usize,
        ),
    ];
    for (name, header, rows) in headers {
        let csv = std::fs::read_to_string(out.join(format!("{name}.csv"))).unwrap();
        assert_eq!(csv.lines().next(), Some(header), "{name}");
        assert_eq!(csv.lines().count(), rows + 1, "{name}");
        let file = std::fs::File::open(out.join(format!("{name}.parquet"))).unwrap();
        let reader =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let columns: Vec<&str> = reader
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(columns.join(","), header, "{name}.parquet");
    }
    // The ES95 row holds the summary's paired difference, digit for digit.
    let es95 = strategy["versus_hold"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "strategy.thesis_playbook.es95")
        .unwrap();
    let csv = std::fs::read_to_string(out.join("strategies.csv")).unwrap();
    let row = csv
        .lines()
        .find(|l| l.contains(",strategy.thesis_playbook.es95,"))
        .unwrap();
    let cells: Vec<&str> = row.split(',').collect();
    assert_eq!(cells[9].parse::<f64>().unwrap(), es95["difference"]);
    assert_eq!(cells[10].parse::<f64>().unwrap(), es95["se"]);

    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    for needle in [
        "<h2 id=\"strategies\">Strategies</h2>",
        "id=\"strategy-thesis_playbook\"",
        "table class=\"strategy-versus numbers\"",
        "table class=\"strategy-rules\"",
        "common random numbers",
        "id=\"strategy_pnl_thesis_playbook\"",
        "id=\"strategy_states_thesis_playbook\"",
    ] {
        assert!(page.contains(needle), "report.html lacks {needle}");
    }
    // The section follows the portfolios'.
    let at = |id: &str| {
        page.find(id)
            .unwrap_or_else(|| panic!("report.html lacks {id}"))
    };
    assert!(at("id=\"portfolios\"") < at("id=\"strategies\""));
    for chart in [
        "strategy_pnl_thesis_playbook",
        "strategy_states_thesis_playbook",
    ] {
        assert!(out.join(format!("charts/{chart}.png")).is_file(), "{chart}");
        assert!(out.join(format!("charts/{chart}.svg")).is_file(), "{chart}");
    }
}
