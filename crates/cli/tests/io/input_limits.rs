//! Inputs that are not files, too big, not UTF-8, or lists far longer than any
//! real one get a short located error, never a hang, a memory blow-up or
//! megabytes of messages.

use crate::common;
use common::header;

use std::path::{Path, PathBuf};

use stormglass_core::input::InputError;
use stormglass_core::model::Model;
use stormglass_core::portfolio::{self, BookFiles};
use stormglass_core::scenario::{self, Scenario, ScenarioError};
use stormglass_core::UserFixable;
use stormglass_report::compare::Compared;

fn one_asset(extra: &str) -> String {
    format!(
        "{}\n[assets.spx]\nprocess = \"gbm\"\ninitial = 100.0\nvol = 0.2\n{extra}",
        header("limits", 20)
    )
}

fn default_scenario() -> Scenario {
    scenario::load(&Path::new(*crate::common::ROOT).join("scenarios/default.toml")).unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn book_error(scenario: &Scenario, portfolios: Vec<PathBuf>, stresses: Vec<PathBuf>) -> String {
    let files = BookFiles {
        portfolios,
        stresses,
        skip_scenario: true,
        ..BookFiles::default()
    };
    let Err(error) = portfolio::load(scenario, &Model::new(scenario), &files) else {
        panic!("the book loaded");
    };
    let text = error.to_string();
    println!("{text}");
    text
}

#[test]
fn extends_of_a_device_is_refused_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "child.toml",
        b"extends = \"/dev/zero\"\n[scenario]\nname = \"x\"\n",
    );
    let error = scenario::load(&path).unwrap_err();
    assert!(
        matches!(
            error,
            ScenarioError::Input(InputError::NotRegularFile { .. })
        ),
        "{error}"
    );
    assert!(error.to_string().contains("/dev/zero"), "{error}");
}

#[test]
fn a_fifo_is_refused_instead_of_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.toml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("no mkfifo here; skipping");
        return;
    }
    let error = scenario::load(&fifo).unwrap_err();
    assert!(
        matches!(
            error,
            ScenarioError::Input(InputError::NotRegularFile { .. })
        ),
        "{error}"
    );
    assert!(error.to_string().contains("not a regular file"), "{error}");
}

#[test]
fn a_file_over_the_size_limit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = one_asset("").into_bytes();
    text.resize(scenario::load::MAX_FILE_BYTES as usize + 1, b'\n');
    let path = write(dir.path(), "huge.toml", &text);
    let error = scenario::load(&path).unwrap_err();
    assert!(
        matches!(error, ScenarioError::Input(InputError::TooLarge { .. })),
        "{error}"
    );
}

#[test]
fn invalid_utf8_names_the_file_kind_line_and_byte() {
    let dir = tempfile::tempdir().unwrap();
    let s = default_scenario();
    let mut bytes = b"name = \"p\"\nbase_currency = \"USD\"\n# caf".to_vec();
    let offset = bytes.len();
    bytes.extend_from_slice(b"\xe9\n");
    let portfolio = write(dir.path(), "latin1.toml", &bytes);
    let text = book_error(&s, vec![portfolio], Vec::new());
    for part in [
        "latin1.toml:3:6:",
        "portfolio file",
        "not valid UTF-8",
        &format!("byte offset {offset}"),
        "0xe9",
    ] {
        assert!(text.contains(part), "expected `{part}` in: {text}");
    }
    let stress = write(dir.path(), "stress.toml", b"\xff");
    assert!(book_error(&s, Vec::new(), vec![stress]).contains("stress file"));
    let scenario_file = write(dir.path(), "scenario.toml", b"[scenario]\n\xff");
    let text = scenario::load(&scenario_file).unwrap_err().to_string();
    assert!(
        text.contains("scenario.toml:2:1: the scenario file"),
        "{text}"
    );
}

#[test]
fn a_run_folder_with_a_bad_summary_says_run_summary() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "summary.json", b"{\"engine\": \"\xc3\"}");
    let Err(error) = Compared::from_run_folder(dir.path()) else {
        panic!("the folder compared");
    };
    let text = error.to_string();
    assert!(
        text.contains("summary.json:1:13: the run summary"),
        "{text}"
    );
    assert!(!text.contains("scenario file"), "{text}");
}

#[test]
fn a_huge_list_is_refused_in_one_line() {
    let names = vec!["\"spx\""; 20_000].join(", ");
    let error = scenario::load_str(
        &one_asset(&format!("[report]\ncore_assets = [{names}]\n")),
        Path::new("big.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("20000 core assets; at most 256 are allowed"),
        "{error}"
    );
    assert!(error.len() < 1_000, "{} bytes", error.len());
}

#[test]
fn duplicate_names_are_refused_with_the_first_occurrence() {
    let error = scenario::load_str(
        &one_asset("[report]\ncore_assets = [\"spx\", \"spx\"]\n"),
        Path::new("dup.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("report.core_assets[1]: duplicate core asset `spx`: already given at `report.core_assets[0]`"),
        "{error}"
    );
    let dir = tempfile::tempdir().unwrap();
    let stress = write(
        dir.path(),
        "twice.toml",
        b"[[stress]]\nname = \"a\"\nshocks = { spx = -0.1 }\n[[stress]]\nname = \"a\"\nshocks = { spx = -0.2 }\n",
    );
    let text = book_error(&default_scenario(), Vec::new(), vec![stress]);
    assert!(
        text.contains("twice.toml:5: stress[1].name: duplicate stress vector `a`"),
        "{text}"
    );
}

#[test]
fn many_bad_entries_list_the_first_fifty_then_a_count() {
    // 900 stress vectors, each naming an unknown regime: 900 problems.
    let mut text = String::new();
    for i in 0..900 {
        text.push_str(&format!(
            "[[stress]]\nname = \"v{i}\"\nregime = \"nope\"\nshocks = {{ spx = -0.1 }}\n"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let stress = write(dir.path(), "many.toml", text.as_bytes());
    let message = book_error(&default_scenario(), Vec::new(), vec![stress]);
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(lines.len(), 51, "{message}");
    assert!(lines[50].contains("and 850 more problems"), "{}", lines[50]);
    assert!(message.len() < 20_000, "{} bytes", message.len());
}

#[test]
fn a_huge_name_is_not_echoed_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let name = "x".repeat(10_000_000);
    let text = format!(
        "name = \"p\"\nbase_currency = \"USD\"\n[positions.a]\nasset = \"{name}\"\nweight = 1.0\n"
    );
    let portfolio = write(dir.path(), "long.toml", text.as_bytes());
    let message = book_error(&default_scenario(), vec![portfolio], Vec::new());
    assert!(message.contains("longer than 128 characters"), "{message}");
    assert!(message.len() < 1_000, "{} bytes", message.len());
}

/// Runs the binary in `dir`, killed after `seconds`: a reader that blocks on
/// a FIFO or reads a device without end fails the test instead of hanging it.
fn within(dir: &Path, args: &[&str], seconds: u64) -> std::process::Output {
    use std::io::Read;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stormglass"))
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed().as_secs() >= seconds {
            let _ = child.kill();
            let _ = child.wait();
            panic!("stormglass {args:?} still ran after {seconds} s: a reader blocked");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    std::process::Output {
        status,
        stdout,
        stderr,
    }
}

fn mkfifo(path: &Path) -> bool {
    std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn every_reader_refuses_a_fifo_and_a_device_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    if !mkfifo(&d.join("pipe")) || !Path::new("/dev/zero").exists() {
        eprintln!("no mkfifo or /dev/zero here; skipping");
        return;
    }
    let root = *crate::common::ROOT;
    let scenario = format!("{root}/scenarios/default.toml");
    for special in [d.join("pipe"), PathBuf::from("/dev/zero")] {
        // Named as each reader expects its file, so only the reader can refuse it.
        for (name, args) in [
            ("data.csv", vec!["calibrate", "history", "@"]),
            (
                "targets.toml",
                vec![
                    "calibrate",
                    "targets",
                    &scenario,
                    "--targets",
                    "@",
                    "--free",
                    "assets.spx.vol",
                ],
            ),
            (
                "sweep.toml",
                vec!["sweep", &scenario, "--sweep-file", "@", "--paths", "200"],
            ),
            (
                "anchors.toml",
                vec!["run", &scenario, "--anchors", "@", "--paths", "200"],
            ),
            ("manifest.json", vec!["task", "@", "--index", "0"]),
            ("manifest.json", vec!["task", "@", "--count"]),
            ("x.part", vec!["merge", "@"]),
        ] {
            let link = d.join(name);
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&special, &link).unwrap();
            let link_text = link.display().to_string();
            let args: Vec<&str> = args
                .iter()
                .map(|a| if *a == "@" { link_text.as_str() } else { a })
                .collect();
            let output = within(d, &args, 20);
            let stderr = String::from_utf8_lossy(&output.stderr);
            println!("{args:?}: {stderr}");
            assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(
                stderr.contains("not a regular file") && stderr.contains(name),
                "{args:?}: {stderr}"
            );
        }
    }
}

#[test]
fn an_output_folder_listing_a_fifo_or_a_device_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    if !mkfifo(&d.join("pipe")) {
        eprintln!("no mkfifo here; skipping");
        return;
    }
    // A folder whose manifest lists, with the size and hash of an empty file,
    // a FIFO and a link to /dev/zero: hashing either would never end.
    let out = d.join("out");
    std::fs::create_dir(&out).unwrap();
    let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    std::fs::write(
        out.join(".stormglass-manifest"),
        format!("stormglass 0.1.0 run folder\n0 {empty} fifo\n0 {empty} zero\n"),
    )
    .unwrap();
    assert!(mkfifo(&out.join("fifo")));
    std::os::unix::fs::symlink("/dev/zero", out.join("zero")).unwrap();
    let root = *crate::common::ROOT;
    let output = within(
        d,
        &[
            "run",
            &format!("{root}/scenarios/default.toml"),
            "--paths",
            "200",
            "--out",
            "out",
        ],
        60,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("fifo (changed since the run wrote it)")
            && stderr.contains("zero (changed since the run wrote it)"),
        "{stderr}"
    );
}

/// Whether `text` holds a run of more than `n` digits: a number printed in full.
fn long_digits(text: &str, n: usize) -> bool {
    text.split(|c: char| !c.is_ascii_digit())
        .any(|run| run.len() > n)
}

#[test]
fn one_bad_value_in_a_child_is_one_problem_located_in_the_child() {
    let dir = tempfile::tempdir().unwrap();
    let parent = Path::new(*crate::common::ROOT).join("scenarios/default.toml");
    let child = write(
        dir.path(),
        "kid.toml",
        format!(
            "extends = \"{}\"\n[scenario]\nname = \"kid\"\n[assets.spx]\njump_intensity = 1e9\n",
            parent.display()
        )
        .as_bytes(),
    );
    let error = scenario::load(&child).unwrap_err();
    let text = error.to_string();
    println!("{text}");
    assert_eq!(error.diagnostics().len(), 1, "{text}");
    assert!(
        text.contains("kid.toml:5: assets.spx.jump_intensity"),
        "{text}"
    );
    assert!(!text.contains("default.toml"), "{text}");
}

#[test]
fn huge_and_tiny_numbers_print_short() {
    let dir = tempfile::tempdir().unwrap();
    let parent = Path::new(*crate::common::ROOT).join("scenarios/default.toml");
    for (extra, expected) in [
        (
            "[regimes.goldilocks]\nintensities = { dovish_debasement = 1e300 }\n",
            "can reach 1.190e298",
        ),
        (
            "[regimes.sell_america]\nexpected_duration_years = 1e-300\n",
            "can reach 5.159e297",
        ),
    ] {
        let child = write(
            dir.path(),
            "kid.toml",
            format!(
                "extends = \"{}\"\n[scenario]\nname = \"kid\"\n{extra}",
                parent.display()
            )
            .as_bytes(),
        );
        let text = scenario::load(&child).unwrap_err().to_string();
        println!("{text}");
        assert!(text.contains(expected), "{text}");
        assert!(!long_digits(&text, 20), "{text}");
    }
    // A reach of e^(1e300) on a scenario's own lines.
    let text = scenario::load_str(
        &format!(
            "{}[assets.x]\nprocess = \"gbm\"\ninitial = 100.0\nvol = 0.2\njump_intensity = 252\njump_mean = 5\n",
            header("reach", 20).replace("horizon_steps = 20", "horizon_years = 50")
        ),
        Path::new("reach.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(text.contains("could move by 72078 over"), "{text}");
    // A subnormal weight sums to itself, not to NaN, and prints in short.
    let portfolio = write(
        dir.path(),
        "tiny.toml",
        b"name = \"p\"\nbase_currency = \"USD\"\nweights_sum = 1.0\n[positions.a]\nasset = \"spx\"\nweight = 5e-324\n",
    );
    let text = book_error(&default_scenario(), vec![portfolio], Vec::new());
    assert!(text.contains("weights add up to 5e-324"), "{text}");
    assert!(!text.contains("NaN") && !long_digits(&text, 20), "{text}");
}

#[test]
fn a_history_csv_with_a_bad_byte_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "latin1.csv",
        b"date,spx\n2020-01-01,100\n2020-01-02,10\xe91\n",
    );
    let selection = stormglass_core::calibrate::data::Selection::default();
    let Err(error) = stormglass_core::calibrate::data::read(&csv, &selection) else {
        panic!("the CSV read");
    };
    let text = error.to_string();
    assert!(
        text.contains("latin1.csv:3:14: the history CSV is not valid UTF-8"),
        "{text}"
    );
}

#[test]
fn a_folder_written_meanwhile_by_another_command_is_said_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // The other command puts its folder in place while this one writes.
    let error = stormglass_core::output::write_atomically(&out, false, |staging| {
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("summary.json"), "{}").unwrap();
        std::fs::write(staging.join("summary.json"), "{}").unwrap();
        Ok(())
    })
    .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("another command wrote this folder while this one was writing it"),
        "{text}"
    );
    assert!(error.is_user_fixable());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "the discarded staging is gone"
    );
}
