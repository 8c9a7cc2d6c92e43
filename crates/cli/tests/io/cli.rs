//! The command line end to end: a run writes every output, atomically, and never
//! replaces a folder that is not a previous run's.

use crate::common;
use common::{stormglass, stormglass_ok};

use std::path::Path;

fn run_into(out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "run",
        "scenarios/default.toml",
        "--paths",
        "1500",
        "--sample-paths",
        "20",
        "--out",
    ];
    let out = out.to_string_lossy().into_owned();
    args.push(&out);
    args.extend_from_slice(extra);
    stormglass(&args)
}

#[test]
fn a_run_writes_summary_csvs_and_the_resolved_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("default");
    let output = run_into(&out, &["--seed", "5"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("maxDD mean") && stdout.contains("spx"),
        "{stdout}"
    );
    // Levels' moves in the report's units: the VIX in points, yields in bp.
    let row = |asset: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{asset} ")))
            .unwrap_or_else(|| panic!("no {asset} row: {stdout}"))
            .to_string()
    };
    assert_eq!(row("vix").matches(" pt").count(), 6, "{}", row("vix"));
    assert_eq!(row("us10y").matches(" bp").count(), 6, "{}", row("us10y"));
    assert!(row("spx").contains('%'));

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["schema_version"], 1);
    assert_eq!(summary["engine"], "stormglass");
    assert_eq!(summary["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(summary["seed"], 5);
    assert_eq!(summary["paths"], 1500);
    assert_eq!(summary["scenario"]["hash"].as_str().unwrap().len(), 64);
    let spx = &summary["assets"][0];
    assert_eq!(spx["name"], "spx");
    for key in ["mean", "sd", "sem"] {
        assert!(spx["max_drawdown"][key].is_number(), "{key}");
    }
    for p in [
        "p01", "p05", "p10", "p25", "p50", "p75", "p90", "p95", "p99",
    ] {
        assert!(spx["terminal_return"]["percentiles"][p].is_number(), "{p}");
    }
    let occupancy = &summary["regime_occupancy"]["shares"];
    let steps = summary["steps"].as_u64().unwrap() as usize;
    let total: f64 = [
        "goldilocks",
        "dovish_debasement",
        "sell_america",
        "classic_risk_off",
        "stagflation",
    ]
    .iter()
    .map(|r| occupancy[r][steps - 1].as_f64().unwrap())
    .sum();
    assert!((total - 1.0).abs() < 1e-9);

    let metrics = std::fs::read_to_string(out.join("paths_metrics.csv")).unwrap();
    let mut lines = metrics.lines();
    let header = lines.next().unwrap();
    assert!(header
        .starts_with("path,spx.max_drawdown,spx.realized_vol,spx.terminal_return,spx.min,spx.max"));
    assert_eq!(lines.count(), 1500);

    let samples = std::fs::read_to_string(out.join("sample_paths.csv")).unwrap();
    assert!(samples.starts_with("path,date,regime,spx,dxy,"));
    let assets = summary["assets"].as_array().unwrap().len();
    let mut lines = samples.lines();
    assert_eq!(lines.next().unwrap().split(',').count(), 3 + assets);
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(&first[..2], ["0", "2025-11-28"]);
    assert_eq!(first[3], "6800", "spx starts at its level");
    // 20 paths x (steps + 1) dates, plus the header.
    assert_eq!(samples.lines().count(), 1 + 20 * (steps + 1));

    let bands = std::fs::read_to_string(out.join("fan_bands.csv")).unwrap();
    assert!(bands.starts_with("date,asset,p01,p05,p10,p25,p50,p75,p90,p95,p99\n"));
    assert_eq!(bands.lines().count(), 1 + (steps + 1) * assets);
    assert!(out.join("scenario.resolved.toml").exists());
    // Nothing is left behind in the parent but the run folder.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
}

#[test]
fn the_same_seed_gives_the_same_files_whatever_the_threads() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    assert!(run_into(&a, &["--threads", "1"]).status.success());
    assert!(run_into(&b, &["--threads", "3"]).status.success());
    for file in ["paths_metrics.csv", "sample_paths.csv", "fan_bands.csv"] {
        let left = std::fs::read(a.join(file)).unwrap();
        let right = std::fs::read(b.join(file)).unwrap();
        assert!(left == right, "{file} differs between 1 and 3 threads");
    }
}

#[test]
fn a_previous_run_is_replaced_but_a_foreign_folder_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    assert!(run_into(&out, &["--seed", "1"]).status.success());
    assert!(run_into(&out, &["--seed", "2"]).status.success());
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
    assert!(summary.contains("\"seed\": 2"));

    let foreign = dir.path().join("mine");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "keep me").unwrap();
    let output = run_into(&foreign, &[]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "a folder in the way is the user's to fix"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("not a Stormglass run folder") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(foreign.join("notes.txt")).unwrap(),
        "keep me"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "no staging folder is left behind"
    );
}

#[test]
fn list_shows_the_bundled_scenarios_with_a_description() {
    let output = stormglass(&["list"]);
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("default") && l.contains("dollar")),
        "{stdout}"
    );
}

#[test]
fn paths_csv_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    assert!(run_into(&out, &["--paths-csv", "never"]).status.success());
    assert!(!out.join("paths_metrics.csv").exists());
    assert!(out.join("summary.json").exists());
}

#[test]
fn skipping_paths_csv_above_the_auto_limit_is_said_on_the_console() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("many.toml");
    std::fs::write(
        &file,
        format!(
            "{}[assets.x]\nprocess = \"gbm\"\ninitial = 100.0\nvol = 0.2\n",
            common::header("many", 2)
        ),
    )
    .unwrap();
    let out = dir.path().join("run");
    let stdout = stormglass_ok(&[
        "run",
        &file.to_string_lossy(),
        "--paths",
        "100001",
        "--out",
        &out.to_string_lossy(),
    ]);
    assert!(!out.join("paths_metrics.csv").exists());
    assert!(
        stdout.contains("paths_metrics.csv not written") && stdout.contains("--paths-csv always"),
        "{stdout}"
    );
}

#[test]
fn every_bundled_scenario_validates_and_runs() {
    let dir = Path::new(*crate::common::ROOT).join("scenarios");
    let out = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let file = path.to_string_lossy().into_owned();
        let target = out.path().join(path.file_stem().unwrap());
        stormglass_ok(&[
            "run",
            &file,
            "--paths",
            "300",
            "--out",
            &target.to_string_lossy(),
        ]);
        assert!(target.join("summary.json").exists(), "{file}");
    }
}

#[test]
fn a_folder_in_the_way_is_refused_before_simulating() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = dir.path().join("mine");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "keep me").unwrap();
    // A billion paths would simulate for hours (and fail the memory check
    // first): the refusal must come before either.
    let out = foreign.to_string_lossy().into_owned();
    let output = stormglass(&[
        "run",
        "scenarios/default.toml",
        "--paths",
        "1000000000",
        "--out",
        &out,
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a Stormglass run folder"), "{stderr}");
    let output = stormglass(&[
        "compare",
        "scenarios/default.toml",
        "scenarios/baseline.toml",
        "--paths",
        "1000000000",
        "--out",
        &out,
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a Stormglass run folder"));
}

#[test]
fn threads_are_bounded_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_into(&dir.path().join("run"), &["--threads", "10000"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--threads 10000") && stderr.contains("up to"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("--paths"),
        "the message blames the threads: {stderr}"
    );
}

/// Runs the binary with its standard output on a pipe that is closed after the
/// first line, as `stormglass ARGS | head -1` does.
fn with_output_closed_after_one_line(args: &[&str]) -> std::process::Output {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_stormglass"))
        .args(args)
        .current_dir(*crate::common::ROOT)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let stdout = child.stdout.take().unwrap();
    BufReader::new(stdout).read_line(&mut first).unwrap();
    // The reader is dropped here: the pipe's read end closes.
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let files: Vec<String> = [
        "default",
        "baseline",
        "gbm",
        "heston",
        "stagflation",
        "classic_risk_off",
    ]
    .iter()
    .map(|s| format!("scenarios/{s}.toml"))
    .collect();
    let mut validate = vec!["validate"];
    for _ in 0..20 {
        validate.extend(files.iter().map(String::as_str));
    }
    for args in [vec!["list"], validate] {
        let output = with_output_closed_after_one_line(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn validate_recognises_portfolio_and_stress_files() {
    let output = stormglass(&[
        "validate",
        "portfolios/us_60_40.toml",
        "stress/episodes.toml",
        "scenarios/baseline.toml",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("unknown key"), "{stderr}");
    assert!(
        stdout.contains("us_60_40.toml: ok (portfolio file"),
        "{stdout}"
    );
    assert!(
        stdout.contains("episodes.toml: ok (stress file"),
        "{stdout}"
    );
    assert!(stdout.contains("baseline.toml: ok (regimes"), "{stdout}");

    // A portfolio naming an asset the scenario lacks is checked against it.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("mine.toml");
    let text = std::fs::read_to_string(
        std::path::Path::new(*crate::common::ROOT).join("portfolios/us_60_40.toml"),
    )
    .unwrap()
    .replace("asset = \"spx\"", "asset = \"spxx\"");
    std::fs::write(&bad, text).unwrap();
    let bad = bad.to_string_lossy().into_owned();
    let output = stormglass(&["validate", &bad]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("spxx") && stderr.contains("mine.toml"),
        "{stderr}"
    );
}

#[test]
fn the_current_folder_and_the_root_are_never_output_folders() {
    for out in [".", "/", ".."] {
        let output = stormglass(&["run", "--paths", "100", "--out", out, "--force"]);
        assert_eq!(output.status.code(), Some(2), "--out {out}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("cannot be an output folder"),
            "--out {out}: {stderr}"
        );
    }
}

#[test]
fn only_a_folder_exactly_as_a_run_wrote_it_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    // A summary.json that merely says "stormglass" is not a run's record.
    let lookalike = dir.path().join("lookalike");
    std::fs::create_dir(&lookalike).unwrap();
    std::fs::write(
        lookalike.join("summary.json"),
        "{\"engine\": \"stormglass\"}",
    )
    .unwrap();
    std::fs::write(lookalike.join("notes.txt"), "keep me").unwrap();
    let output = run_into(&lookalike, &[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("notes.txt"),
        "the message names what is in the way: {stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(lookalike.join("notes.txt")).unwrap(),
        "keep me"
    );

    // A file the user adds inside a real run folder is never deleted by the next run.
    let out = dir.path().join("run");
    assert!(run_into(&out, &["--seed", "1"]).status.success());
    assert!(out.join(".stormglass-manifest").is_file());
    std::fs::write(out.join("charts").join("my_annotations.txt"), "mine").unwrap();
    let output = run_into(&out, &["--seed", "2"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("charts/my_annotations.txt (not written by the engine)"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("charts").join("my_annotations.txt")).unwrap(),
        "mine"
    );

    // A file the engine wrote and the user edited is in the way too.
    std::fs::remove_file(out.join("charts").join("my_annotations.txt")).unwrap();
    std::fs::write(out.join("summary.json"), "edited").unwrap();
    let output = run_into(&out, &["--seed", "2"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr)
        .contains("summary.json (changed since the run wrote it)"));
}

#[test]
fn staging_folders_of_killed_runs_are_swept_and_others_kept() {
    let dir = tempfile::tempdir().unwrap();
    // A process number above the kernel's largest (2^22) has never lived.
    let dead = 4_194_400;
    assert!(!Path::new(&format!("/proc/{dead}")).exists());
    for stale in [format!(".run.partial-{dead}"), format!(".run.old-{dead}")] {
        std::fs::create_dir(dir.path().join(&stale)).unwrap();
        std::fs::write(dir.path().join(&stale).join("summary.json"), "half").unwrap();
    }
    // Another name, and a live process's staging, are not the sweep's to take.
    let other = format!(".mine.partial-{dead}");
    let live = format!(".run.partial-{}", std::process::id());
    for keep in [&other, &live] {
        std::fs::create_dir(dir.path().join(keep)).unwrap();
    }
    assert!(run_into(&dir.path().join("run"), &[]).status.success());
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    let mut expected = vec![other, live, "run".to_string()];
    expected.sort();
    assert_eq!(left, expected);
}

#[test]
fn an_interrupted_run_exits_with_the_signals_status_and_leaves_nothing() {
    use std::process::{Command, Stdio};
    for (signal, status) in [("TERM", 143), ("INT", 130)] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let child = Command::new(env!("CARGO_BIN_EXE_stormglass"))
            .args([
                "run",
                "scenarios/default.toml",
                "--paths",
                "2000000",
                "--out",
            ])
            .arg(&out)
            .current_dir(*crate::common::ROOT)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(700));
        let killed = Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let output = child.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(status), "SIG{signal}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "SIG{signal}: nothing left"
        );
    }
}

#[test]
fn an_address_space_limit_is_an_input_error_not_an_abort() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // Two million default paths need about 3 GiB; under a 1 GB `ulimit -v` the
    // run must say so and exit 2, where it used to abort on the allocation.
    let script = format!(
        "ulimit -v 1000000 && exec '{}' run scenarios/default.toml --paths 2000000 --out '{}'",
        env!("CARGO_BIN_EXE_stormglass"),
        out.display()
    );
    let output = std::process::Command::new("sh")
        .args(["-c", &script])
        .current_dir(*crate::common::ROOT)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("ulimit -v") && stderr.contains("--paths"),
        "{stderr}"
    );
    assert!(!out.exists());
}

#[test]
fn a_mount_point_is_never_an_output_folder() {
    // /proc is a mount point on every Linux system; renaming it away would fail
    // only after the whole run was staged.
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let output = stormglass(&["run", "--paths", "100", "--out", "/proc", "--force"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("mount point"), "{stderr}");
}

/// Writes a run-like folder holding `summary.json` = `text`, replacing the last.
fn replace_run(dir: &std::path::Path, text: &str) {
    stormglass_core::output::write_atomically(dir, false, |staging| {
        let path = staging.join("summary.json");
        std::fs::write(&path, text)
            .map_err(|source| stormglass_core::output::OutputError::Io { path, source })
    })
    .unwrap();
}

#[cfg(target_os = "linux")]
#[test]
fn a_reader_always_finds_the_run_folder_while_it_is_replaced() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("run");
    replace_run(&dir, "0");
    let stop = AtomicBool::new(false);
    let (reads, misses) = (AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                match std::fs::read_to_string(dir.join("summary.json")) {
                    Ok(text) if text.parse::<u32>().is_ok() => {
                        reads.fetch_add(1, Ordering::Relaxed)
                    }
                    _ => misses.fetch_add(1, Ordering::Relaxed),
                };
            }
        });
        for i in 1..=200 {
            replace_run(&dir, &i.to_string());
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert_eq!(
        std::fs::read_to_string(dir.join("summary.json")).unwrap(),
        "200"
    );
    assert!(reads.load(Ordering::Relaxed) > 0);
    assert_eq!(
        misses.load(Ordering::Relaxed),
        0,
        "the folder or its file went missing"
    );
    // Nothing is left beside it: the previous runs went with the swap.
    let names: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("run")]);
}

/// Starts `args`, waits until `staged(pid)` exists (the staging the command
/// is writing), sends `signal` and returns the exit status: the signal lands
/// while files are being written, not before.
fn signal_while_writing(
    args: &[&str],
    staged: impl Fn(u32) -> std::path::PathBuf,
    signal: &str,
) -> Option<i32> {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_stormglass"))
        .args(args)
        .current_dir(*crate::common::ROOT)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let target = staged(child.id());
    while !target.exists() && child.try_wait().unwrap().is_none() {
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    assert!(target.exists(), "{} never appeared", target.display());
    let killed = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    child.wait().unwrap().code()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_signal_while_the_charts_are_written_leaves_nothing() {
    // The handler stops the writers before it deletes: deleting while they
    // still created files left the staging folder behind.
    for (attempt, (signal, status)) in [("TERM", 143), ("INT", 130), ("TERM", 143)]
        .into_iter()
        .enumerate()
    {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let code = signal_while_writing(
            &[
                "run",
                "scenarios/default.toml",
                "--paths",
                "1000",
                "--out",
                out.to_str().unwrap(),
            ],
            |pid| {
                dir.path()
                    .join(format!(".run.partial-{pid}"))
                    .join("charts")
            },
            signal,
        );
        assert_eq!(code, Some(status), "attempt {attempt}: SIG{signal}");
        assert_eq!(
            entries(dir.path()),
            Vec::<String>::new(),
            "attempt {attempt}"
        );
    }
}

#[test]
fn a_signal_while_a_part_is_written_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let code = signal_while_writing(
        &[
            "run",
            "scenarios/default.toml",
            "--paths",
            "1000",
            "--shard",
            "0/1",
            "--out",
            dir.path().to_str().unwrap(),
        ],
        |pid| dir.path().join(format!(".shard-0-of-1.part.{pid}.partial")),
        "TERM",
    );
    assert_eq!(code, Some(143));
    assert_eq!(entries(dir.path()), Vec::<String>::new());
}

#[test]
fn staging_files_of_killed_commands_are_swept_and_others_kept() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A process number above the kernel's largest (2^22) has never lived.
    let dead = 4_194_400;
    let me = std::process::id();
    let plan = d.join("plan");
    let plan_text = plan.display().to_string();
    stormglass_ok(&[
        "plan",
        "scenarios/default.toml",
        "--paths",
        "300",
        "--out",
        &plan_text,
    ]);
    let parts = plan.join("parts");
    let stale = [
        parts.join(format!(".task-00000.part.{dead}.partial")),
        parts.join(format!(".task-00007.part.{dead}.partial")),
        plan.join(format!(".manifest.json.partial-{dead}")),
        d.join(format!(".fragment.toml.partial-{dead}")),
    ];
    let kept = [
        parts.join(format!(".task-00000.part.{me}.partial")),
        parts.join(format!(".notes.{dead}.partial")),
        parts.join(format!("task-00000.part.{dead}.partial")),
        plan.join(format!(".other.json.partial-{dead}")),
        d.join(format!(".fragment.toml.partial-{me}")),
    ];
    for file in stale.iter().chain(&kept) {
        std::fs::write(file, "half").unwrap();
    }
    stormglass_ok(&[
        "task",
        &format!("{plan_text}/manifest.json"),
        "--index",
        "0",
    ]);
    stormglass_ok(&[
        "plan",
        "scenarios/default.toml",
        "--paths",
        "300",
        "--out",
        &plan_text,
        "--force",
    ]);
    stormglass_ok(&[
        "calibrate",
        "history",
        "data/history/sp500.csv",
        "--out",
        d.join("fit").to_str().unwrap(),
        "--fragment",
        d.join("fragment.toml").to_str().unwrap(),
    ]);
    for file in &stale {
        assert!(!file.exists(), "{} was not swept", file.display());
    }
    for file in &kept {
        assert!(file.exists(), "{} was swept", file.display());
    }
}

#[test]
fn a_run_from_the_users_levels_starts_on_their_date_and_records_them() {
    let dir = tempfile::tempdir().unwrap();
    let levels = dir.path().join("closes.csv");
    std::fs::write(
        &levels,
        "asset,level,date\nspx,6850,2026-12-04\ndxy,97.2,2026-12-04\nfed_funds,0.03625,2026-12-03\n",
    )
    .unwrap();
    let out = dir.path().join("today");
    let levels_arg = levels.to_string_lossy().into_owned();
    let output = run_into(&out, &["--levels", &levels_arg]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    // What the run took as already happened, and the stale row, are said.
    assert!(stderr.contains("starting levels from"), "{stderr}");
    assert!(
        stderr.contains("the dovish bias is in force from the first day"),
        "{stderr}"
    );
    assert!(
        stderr.contains("closes.csv:4: fed_funds: the level is from 2026-12-03, 1 day before"),
        "{stderr}"
    );

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let info = &summary["scenario"];
    assert_eq!(info["start_date"], "2026-12-04");
    assert_eq!(info["levels"]["as_of"], "2026-12-04");
    let text = std::fs::read(&levels).unwrap();
    use sha2::Digest;
    let sha: String = sha2::Sha256::digest(&text)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(info["levels"]["sha256"], sha.as_str());
    assert!(info["notes"].as_array().unwrap().len() >= 3, "{info}");
    assert_eq!(summary["assets"][0]["initial"], 6850.0);
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains(&format!("as of 2026-12-04 (sha256 {sha})")));
    let samples = std::fs::read_to_string(out.join("sample_paths.csv")).unwrap();
    assert!(samples.lines().nth(1).unwrap().starts_with("0,2026-12-04,"));

    // A level out of its range names the file and the line, and nothing is written.
    std::fs::write(
        &levels,
        "asset,level,date\nspx,6850,2026-12-04\nfed_funds,3.625,2026-12-04\n",
    )
    .unwrap();
    let bad = dir.path().join("bad");
    let output = run_into(&bad, &["--levels", &levels_arg]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("closes.csv:3: assets.fed_funds.initial: 3.625 would be 362.5%"),
        "{stderr}"
    );
    assert!(!bad.exists());
}

#[test]
fn compare_and_attribute_start_from_the_users_levels_and_fits_refuse_them() {
    let dir = tempfile::tempdir().unwrap();
    let levels = dir.path().join("closes.csv");
    std::fs::write(&levels, "asset,level,date\nspx,6850,2027-06-30\n").unwrap();
    let levels = levels.to_string_lossy().into_owned();
    let out = dir.path().join("attribution");
    stormglass_ok(&[
        "attribute",
        "scenarios/default.toml",
        "--mechanisms",
        "fed_put",
        "--paths",
        "300",
        "--levels",
        &levels,
        "--out",
        out.to_str().unwrap(),
    ]);
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("attribution.json")).unwrap())
            .unwrap();
    assert_eq!(record["scenario"]["as_of"], "2027-06-30");

    let compared = dir.path().join("compare");
    stormglass_ok(&[
        "compare",
        "scenarios/default.toml",
        "scenarios/baseline.toml",
        "--paths",
        "300",
        "--levels",
        &levels,
        "--out",
        compared.to_str().unwrap(),
    ]);
    let comparison = std::fs::read_to_string(compared.join("comparison.json")).unwrap();
    assert!(comparison.contains("2027-06-30"), "{comparison}");

    let fit = stormglass(&[
        "calibrate",
        "targets",
        "scenarios/default.toml",
        "--targets",
        "data/calibration/baseline_targets.toml",
        "--free",
        "assets.spx.vol",
        "--levels",
        &levels,
    ]);
    assert_eq!(fit.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&fit.stderr).contains("--levels"));
}
