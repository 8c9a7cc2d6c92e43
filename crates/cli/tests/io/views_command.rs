//! `stormglass views`: a finished run's paths reweighted to the shipped
//! views file, read from its CSV and from its Parquet table alike; the views
//! met to 1e-9; conflicting views and a run without a per-path table refused
//! with messages that say what to do; a user's folder never overwritten
//! without --force.

use std::path::Path;

use crate::common::{stormglass, stormglass_ok};

fn run_folder(dir: &Path, format: &str, paths_csv: &str) -> String {
    let out = dir.join(format!("run-{format}-{paths_csv}"));
    let out_text = out.to_string_lossy().into_owned();
    stormglass_ok(&[
        "run",
        "scenarios/default.toml",
        "--paths",
        "3000",
        "--seed",
        "11",
        "--format",
        format,
        "--paths-csv",
        paths_csv,
        "--out",
        &out_text,
    ]);
    out_text
}

fn posterior(path: &Path) -> Vec<f64> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn views_reweight_a_run_from_csv_and_parquet_alike() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_folder(dir.path(), "both", "always");
    let csv_only = dir.path().join("csv-only");
    // The same run with only its CSV table: copy the folder without the Parquet file.
    std::fs::create_dir(&csv_only).unwrap();
    for name in ["summary.json", "paths_metrics.csv"] {
        std::fs::copy(Path::new(&run).join(name), csv_only.join(name)).unwrap();
    }
    let out_parquet = dir.path().join("views-parquet");
    let out_csv = dir.path().join("views-csv");
    let printed = stormglass_ok(&[
        "views",
        &run,
        "--views",
        "views/dollar_falls.toml",
        "--out",
        out_parquet.to_str().unwrap(),
    ]);
    assert!(printed.contains("effective scenarios"), "{printed}");
    stormglass_ok(&[
        "views",
        csv_only.to_str().unwrap(),
        "--views",
        "views/dollar_falls.toml",
        "--out",
        out_csv.to_str().unwrap(),
    ]);
    let a = posterior(&out_parquet.join("posterior.csv"));
    let b = posterior(&out_csv.join("posterior.csv"));
    assert_eq!(a.len(), 3000);
    // Both tables hold the same f64 figures (CSV in shortest round-trip form).
    assert_eq!(a, b);
    assert!((a.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_parquet.join("views.json")).unwrap())
            .unwrap();
    let views = json["views"].as_array().unwrap();
    assert_eq!(views.len(), 4);
    // The probability view holds with equality; the others within their bounds.
    assert!((views[0]["posterior"].as_f64().unwrap() - 0.40).abs() < 1e-9);
    assert!(views[2]["posterior"].as_f64().unwrap() >= -1e-9);
    assert!(views[3]["posterior"].as_f64().unwrap() >= 0.05 - 1e-9);
    assert_eq!(json["seed"].as_u64(), Some(11));
    assert_eq!(json["views_sha256"].as_str().unwrap().len(), 64);
    assert!(json["effective_scenarios"].as_f64().unwrap() > 300.0);
    for file in [
        "posterior.parquet",
        "views.csv",
        "views_figures.csv",
        "views.html",
    ] {
        assert!(out_parquet.join(file).is_file(), "{file}");
    }
    // A user's folder is not replaced without --force.
    let mine = dir.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "keep me").unwrap();
    let again = stormglass(&[
        "views",
        &run,
        "--views",
        "views/dollar_falls.toml",
        "--out",
        mine.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(mine.join("notes.txt").is_file());
}

#[test]
fn conflicting_views_and_a_run_without_a_table_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_folder(dir.path(), "csv", "always");
    let views = dir.path().join("conflict.toml");
    std::fs::write(
        &views,
        "[[view]]\nname = \"falls\"\nkind = \"probability\"\ncolumn = \"dxy.terminal_return\"\nbelow = -0.1\nequals = 0.4\n\n\
         [[view]]\nname = \"falls more\"\nkind = \"probability\"\ncolumn = \"dxy.terminal_return\"\nbelow = -0.1\nequals = 0.6\n",
    )
    .unwrap();
    let output = stormglass(&["views", &run, "--views", views.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("view `falls` (") && message.contains("view `falls more` ("),
        "{message}"
    );
    assert!(message.contains("conflict"), "{message}");

    let bare = run_folder(dir.path(), "csv", "never");
    let output = stormglass(&["views", &bare, "--views", "views/dollar_falls.toml"]);
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("--paths-csv always"), "{message}");
}

/// `stormglass views` on a plan whose tasks have run (not merged) gives the
/// single run's outcome: the parts' rows are read for the views' columns
/// only, and the views solved with per-part sums.
#[test]
fn views_on_a_plans_parts_equal_the_single_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 12,288 paths with a pilot of 1,024 (four whole batches) cut into 3
    // shards of 4,096 rows each: every part is a whole number of the
    // solver's chunks of 4,096 paths, so its sums over chunks are added in
    // the single run's order and the outcome agrees bit for bit.
    let shape = [
        "scenarios/default.toml",
        "--paths",
        "12288",
        "--sample-paths",
        "1024",
        "--seed",
        "5",
    ];
    let single = d.join("single");
    let mut run = vec!["run"];
    run.extend(shape);
    run.extend([
        "--paths-csv",
        "always",
        "--format",
        "csv",
        "--out",
        single.to_str().unwrap(),
    ]);
    stormglass_ok(&run);
    let plan = d.join("plan");
    let mut planned = vec!["plan"];
    planned.extend(shape);
    planned.extend(["--shards", "3", "--out", plan.to_str().unwrap()]);
    stormglass_ok(&planned);
    let manifest = plan.join("manifest.json");
    for index in ["0", "1", "2"] {
        stormglass_ok(&["task", manifest.to_str().unwrap(), "--index", index]);
    }
    let rows: Vec<serde_json::Value> = (0..3)
        .map(|i| {
            let bytes =
                std::fs::read(plan.join("parts").join(format!("task-{i:05}.part"))).unwrap();
            crate::shards::split_part(&bytes).0["rows"].clone()
        })
        .collect();
    assert_eq!(
        rows,
        [
            serde_json::json!({"start": 0, "end": 4096}),
            serde_json::json!({"start": 4096, "end": 8192}),
            serde_json::json!({"start": 8192, "end": 12288}),
        ]
    );

    let from_run = d.join("views-run");
    let from_plan = d.join("views-plan");
    stormglass_ok(&[
        "views",
        single.to_str().unwrap(),
        "--views",
        "views/dollar_falls.toml",
        "--out",
        from_run.to_str().unwrap(),
    ]);
    // The plan's folder stands for its manifest.
    let printed = stormglass_ok(&[
        "views",
        plan.to_str().unwrap(),
        "--views",
        "views/dollar_falls.toml",
        "--out",
        from_plan.to_str().unwrap(),
    ]);
    assert!(printed.contains("effective scenarios"), "{printed}");
    assert!(!plan.join("run").exists(), "views merged the plan");

    let a = posterior(&from_run.join("posterior.csv"));
    let b = posterior(&from_plan.join("posterior.csv"));
    assert_eq!(a.len(), 12288);
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&a), bits(&b), "posterior probabilities differ");
    let json = |dir: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join("views.json")).unwrap()).unwrap()
    };
    let (ja, jb) = (json(&from_run), json(&from_plan));
    for key in ["relative_entropy", "effective_scenarios", "effective_share"] {
        assert_eq!(
            ja[key].as_f64().unwrap().to_bits(),
            jb[key].as_f64().unwrap().to_bits(),
            "{key}"
        );
    }
    // Every view's prior, posterior and multiplier, and every figure (the
    // key numbers and the weighted quantiles built from the parts' kept
    // columns), as the single run's.
    assert_eq!(ja["views"], jb["views"]);
    assert_eq!(ja["figures"], jb["figures"]);
    assert!(ja["figures"].as_array().unwrap().len() > 20);
    assert!((ja["views"][0]["posterior"].as_f64().unwrap() - 0.40).abs() < 1e-9);
    assert_eq!(jb["point"], "run");
    assert_eq!(jb["run"].as_str().unwrap(), manifest.to_str().unwrap());
    for file in ["views.csv", "views_figures.csv"] {
        assert_eq!(
            std::fs::read(from_run.join(file)).unwrap(),
            std::fs::read(from_plan.join(file)).unwrap(),
            "{file}"
        );
    }
    assert!(from_plan.join("posterior.parquet").is_file());
    assert!(from_plan.join("views.html").is_file());

    // A task not run, and a damaged part, are refused as the merge refuses
    // them, naming the task to run.
    let part = plan.join("parts").join("task-00001.part");
    let kept = std::fs::read(&part).unwrap();
    std::fs::remove_file(&part).unwrap();
    let views_of_plan = |out: &str| {
        stormglass(&[
            "views",
            manifest.to_str().unwrap(),
            "--views",
            "views/dollar_falls.toml",
            "--out",
            d.join(out).to_str().unwrap(),
        ])
    };
    let missing = views_of_plan("missing");
    assert_eq!(missing.status.code(), Some(2));
    let message = String::from_utf8_lossy(&missing.stderr);
    assert!(message.contains("task 1 of 3 has not run"), "{message}");
    assert!(message.contains("--index I"), "{message}");
    let mut damaged = kept.clone();
    let at = damaged.len() - 1000;
    damaged[at] ^= 1;
    std::fs::write(&part, &damaged).unwrap();
    let output = views_of_plan("damaged");
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("task-00001.part: damaged") && message.contains("run task 1 again"),
        "{message}"
    );
    assert!(!d.join("missing").exists() && !d.join("damaged").exists());
}

/// A plan that sweeps has one run per point: views name the point, and a
/// name that is none of them is refused with the points there are.
#[test]
fn views_on_a_sweeping_plan_name_the_point() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan");
    stormglass_ok(&[
        "plan",
        "scenarios/default.toml",
        "--paths",
        "300",
        "--shards",
        "2",
        "--out",
        plan.to_str().unwrap(),
        "--vary",
        "events.tariff_wave.rate_per_year=2,4",
    ]);
    let manifest = plan.join("manifest.json");
    // Only the second point's tasks run: the first's are not needed.
    for index in ["2", "3"] {
        stormglass_ok(&["task", manifest.to_str().unwrap(), "--index", index]);
    }
    let views = |extra: &[&str]| {
        let mut args = vec![
            "views",
            manifest.to_str().unwrap(),
            "--views",
            "views/dollar_falls.toml",
        ];
        args.extend(extra);
        stormglass(&args)
    };
    let output = views(&[]);
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("--point NAME")
            && message.contains("p000_events.tariff_wave.rate_per_year=2")
            && message.contains("p001_events.tariff_wave.rate_per_year=4"),
        "{message}"
    );
    let output = views(&["--point", "p001_events.tariff_wave.rate_per_yeer=4"]);
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("unknown point of the plan"), "{message}");
    let out = dir.path().join("views");
    let output = views(&[
        "--point",
        "p001_events.tariff_wave.rate_per_year=4",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("views.json")).unwrap()).unwrap();
    assert_eq!(json["point"], "p001_events.tariff_wave.rate_per_year=4");
    assert_eq!(json["paths"], 300);
    let output = views(&["--point", "p000_events.tariff_wave.rate_per_year=2"]);
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("tasks 0, 1 of 4 have not run"),
        "{message}"
    );
}
