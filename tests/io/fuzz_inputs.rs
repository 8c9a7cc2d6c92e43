//! Bounded mutation testing of the input files: every bundled scenario, portfolio
//! and stress file is mutated many times (lines deleted or duplicated, bytes
//! flipped, invalid UTF-8 inserted, numbers replaced by extremes, names swapped,
//! text truncated) and loaded in-process. No mutation may panic, and every error
//! must be non-empty, bounded in size and name a file.
//!
//! The mutations are deterministic (a fixed-seed xorshift generator), so a
//! failure reproduces. The default of 1,500 cases runs in seconds in release;
//! a longer search is run by hand:
//!
//! ```text
//! STORMGLASS_FUZZ_CASES=200000 cargo test --release --test io fuzz_inputs -- --nocapture
//! ```
//!
//! (`STORMGLASS_FUZZ_SEED` picks another sequence of mutations.)

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use stormglass::model::Model;
use stormglass::portfolio::{self, BookFiles};
use stormglass::scenario;

use crate::common;
use common::Rng;

const DEFAULT_CASES: usize = 1_500;
/// Far above any honest message (50 located problems and a count), far below
/// what an unbounded list would print.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;

const EXTREMES: &[&str] = &[
    "1e308",
    "-1e308",
    "-0",
    "-0.0",
    "nan",
    "inf",
    "-inf",
    "\"NaN\"",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "0",
    "1e-320",
    "\"\"",
    "[]",
    "{}",
];

fn mutate(text: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut bytes = text.to_vec();
    for _ in 0..1 + rng.below(3) {
        bytes = mutate_once(&bytes, rng);
    }
    bytes
}

fn mutate_once(bytes: &[u8], rng: &mut Rng) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    let pick = rng.below(lines.len());
    match rng.below(8) {
        0 => {
            lines.remove(pick);
        }
        1 => {
            let line = lines[pick].clone();
            let at = rng.below(lines.len() + 1);
            lines.insert(at, line);
        }
        2 => {
            let mut out = bytes.to_vec();
            if !out.is_empty() {
                let at = rng.below(out.len());
                out[at] ^= 1 << rng.below(8);
            }
            return out;
        }
        3 => {
            let mut out = bytes.to_vec();
            let at = rng.below(out.len() + 1);
            let bad: &[u8] =
                [&[0xff][..], &[0xc3], &[0xe2, 0x82], &[0xed, 0xa0, 0x80]][rng.below(4)];
            out.splice(at..at, bad.iter().copied());
            return out;
        }
        4 => {
            // A number (or a quoted value) replaced by an extreme.
            let line = &lines[pick];
            if let Some(eq) = line.find('=') {
                let extreme = EXTREMES[rng.below(EXTREMES.len())];
                lines[pick] = format!("{}= {extreme}", &line[..eq]);
            }
        }
        5 => {
            // Two quoted names swapped between lines.
            let other = rng.below(lines.len());
            let quoted = |l: &str| {
                let start = l.find('"')?;
                let end = l[start + 1..].find('"')? + start + 1;
                Some(l[start..=end].to_string())
            };
            if let (Some(a), Some(b)) = (quoted(&lines[pick]), quoted(&lines[other])) {
                lines[pick] = lines[pick].replacen(&a, &b, 1);
                lines[other] = lines[other].replacen(&b, &a, 1);
            }
        }
        6 => {
            let cut = rng.below(bytes.len() + 1);
            return bytes[..cut].to_vec();
        }
        _ => {
            // A line repeated many times: duplicate keys, tables and list entries.
            let line = lines[pick].clone();
            for _ in 0..rng.below(200) {
                lines.insert(pick, line.clone());
            }
        }
    }
    let mut out = lines.join("\n").into_bytes();
    out.push(b'\n');
    out
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

fn check_message(message: &str, case: usize, origin: &Path) {
    assert!(
        !message.trim().is_empty(),
        "case {case} (from {}): empty error",
        origin.display()
    );
    assert!(
        message.len() <= MAX_MESSAGE_BYTES,
        "case {case} (from {}): error of {} bytes",
        origin.display(),
        message.len()
    );
    assert!(
        message.contains(".toml"),
        "case {case} (from {}): error names no file: {message}",
        origin.display()
    );
}

/// Cells a mutated history file may hold instead of a number.
const HISTORY_CELLS: &[&str] = &[
    "",
    "abc",
    "0",
    "-3",
    "1e308",
    "-1.7e308",
    "1e-320",
    "NaN",
    "inf",
    "1,5",
    "\"7\"",
    "2020-01-01",
];

/// One mutation of a history CSV's lines: a cell replaced, a date bent, a
/// header made to collide, rows dropped, repeated or swapped, line endings
/// turned to CR, or any of the generic mutations of the bytes.
fn mutate_history(text: &str, rng: &mut Rng) -> Vec<u8> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let pick = 1 + rng.below(lines.len() - 1);
    match rng.below(9) {
        0 => {
            // A spike or a slump in one cell: a file that still fits.
            let mut cells: Vec<String> = lines[pick].split(',').map(String::from).collect();
            let column = 1 + rng.below(cells.len().max(2) - 1);
            if let Some(v) = cells.get(column).and_then(|c| c.parse::<f64>().ok()) {
                cells[column] = format!("{}", v * [0.5, 0.9, 1.1, 3.0][rng.below(4)]);
            }
            lines[pick] = cells.join(",");
        }
        1 => {
            let mut cells: Vec<String> = lines[pick].split(',').map(String::from).collect();
            let column = rng.below(cells.len());
            cells[column] = HISTORY_CELLS[rng.below(HISTORY_CELLS.len())].into();
            lines[pick] = cells.join(",");
        }
        2 => {
            let headers = [
                "date,EUR/USD,EUR-USD",
                "date,Gold,gold",
                "date,spx,spx",
                "date,日本,中国",
                "date,,x",
                "date",
                "date,a,b,c",
            ];
            lines[0] = headers[rng.below(headers.len())].into();
        }
        3 => {
            let date_forms = [
                "2020-13-01",
                "2020-02",
                "2020Q5",
                "1899-12-29",
                "9999-12-31",
                "x",
            ];
            let (_, rest) = lines[pick].split_once(',').unwrap_or(("", ""));
            lines[pick] = format!("{},{rest}", date_forms[rng.below(date_forms.len())]);
        }
        4 => {
            let other = 1 + rng.below(lines.len() - 1);
            lines.swap(pick, other);
        }
        5 => {
            let keep = 1 + rng.below(lines.len());
            lines.truncate(keep);
        }
        6 => return (lines.join("\r") + "\r").into_bytes(),
        7 => {
            let column = rng.below(3);
            for line in lines.iter_mut().skip(1) {
                // A column in other units: basis points, or a market value.
                let mut cells: Vec<String> = line.split(',').map(String::from).collect();
                if let Some(v) = cells.get(column).and_then(|c| c.parse::<f64>().ok()) {
                    cells[column] = format!("{}", v * 1e4);
                }
                *line = cells.join(",");
            }
        }
        _ => return mutate_once(text.as_bytes(), rng),
    }
    (lines.join("\n") + "\n").into_bytes()
}

#[test]
fn mutated_history_files_fit_to_a_valid_scenario_or_are_refused() {
    use stormglass::calibrate::data::{self, Selection};
    use stormglass::calibrate::history::{self, FitError};
    // A fit costs far more than a load: one history case for every 40 cases
    // of the scenario files.
    let cases: usize = std::env::var("STORMGLASS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
        .div_ceil(40);
    let seed: u64 = std::env::var("STORMGLASS_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_0f57_0a6d);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sp500 = std::fs::read_to_string(root.join("data/history/sp500.csv")).unwrap();
    let base: String = std::iter::once("date,spx,rate".to_string())
        .chain(
            sp500
                .lines()
                .skip(1)
                .take(150)
                .enumerate()
                .map(|(i, line)| {
                    let (date, close) = line.split_once(',').unwrap();
                    // A level that wanders a little, with noise of its own.
                    let t = i as f64;
                    format!(
                        "{date},{close},{:.4}",
                        3.0 + 0.05 * (t * 0.11).sin() + 0.02 * (t * t * 0.7).sin()
                    )
                }),
        )
        .map(|l| l + "\n")
        .collect();
    let work = tempfile::tempdir().unwrap();
    let path = work.path().join("history.csv");
    let mut rng = Rng(seed.rotate_left(17) | 1);
    let (mut fitted, mut refused) = (0, 0);
    for case in 0..cases {
        let mut mutated = mutate_history(&base, &mut rng);
        if rng.chance(0.3) {
            mutated = mutate_history(&String::from_utf8_lossy(&mutated), &mut rng);
        }
        std::fs::write(&path, &mutated).unwrap();
        let selection = Selection {
            levels: if rng.chance(0.5) {
                vec!["rate".into()]
            } else {
                Vec::new()
            },
            ..Selection::default()
        };
        let regimes = 1 + rng.below(3);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let fit = data::read(&path, &selection)
                .and_then(|table| table.changes(&selection))
                .map_err(FitError::from)
                .and_then(|changes| history::fit(changes, regimes))?;
            let fragment = fit.scenario_toml("fuzz", "a mutated history file");
            fit.check_fragment(&fragment)?;
            Ok::<_, FitError>(fragment)
        }));
        let Ok(result) = outcome else {
            panic!(
                "history case {case} ({regimes} regimes, {:?}) panicked; input:\n{}",
                selection.levels,
                String::from_utf8_lossy(&mutated)
            );
        };
        match result {
            // What the command would write, `validate` accepts.
            Ok(fragment) => {
                fitted += 1;
                if let Err(e) = scenario::load_str(&fragment, Path::new("fitted.toml")) {
                    panic!("history case {case}: a fragment validate refuses: {e}\n{fragment}");
                }
            }
            Err(error) => {
                refused += 1;
                let message = error.to_string();
                assert!(
                    !message.trim().is_empty() && message.len() <= MAX_MESSAGE_BYTES,
                    "history case {case}: {message}"
                );
            }
        }
    }
    println!("{cases} mutated history files: {fitted} fitted, {refused} refused");
    assert!(refused > 0, "no mutated history file was refused");
}

#[test]
fn mutated_inputs_never_panic_and_errors_stay_bounded_and_located() {
    let cases: usize = std::env::var("STORMGLASS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let seed: u64 = std::env::var("STORMGLASS_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_0f57_0a6d);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().unwrap();
    copy_tree(&root.join("scenarios"), &work.path().join("scenarios"));
    let default = scenario::load(&root.join("scenarios/default.toml")).unwrap();
    let model = Model::new(&default);

    let mut originals: Vec<(PathBuf, Vec<u8>, &str)> = Vec::new();
    for (dir, kind) in [
        ("scenarios", "scenario"),
        ("scenarios/base", "scenario"),
        ("portfolios", "portfolio"),
        ("stress", "stress"),
    ] {
        for path in toml_files(&root.join(dir)) {
            let bytes = std::fs::read(&path).unwrap();
            originals.push((path, bytes, kind));
        }
    }
    let mut rng = Rng(seed | 1);
    let mut rejected = 0;
    for case in 0..cases {
        let (origin, bytes, kind) = &originals[rng.below(originals.len())];
        let mutated = mutate(bytes, &mut rng);
        // Beside the bundled scenarios, so `extends = "base/levels.toml"` still resolves.
        let path = work
            .path()
            .join("scenarios")
            .join(format!("case_{kind}.toml"));
        std::fs::write(&path, &mutated).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| match *kind {
            "scenario" => scenario::load(&path).err().map(|e| e.to_string()),
            _ => {
                let files = if *kind == "stress" {
                    BookFiles {
                        stresses: vec![path.clone()],
                        skip_scenario: true,
                        ..BookFiles::default()
                    }
                } else {
                    BookFiles {
                        portfolios: vec![path.clone()],
                        skip_scenario: true,
                        ..BookFiles::default()
                    }
                };
                portfolio::load(&default, &model, &files)
                    .err()
                    .map(|e| e.to_string())
            }
        }));
        let Ok(error) = outcome else {
            std::fs::write(work.path().join("panic.toml"), &mutated).unwrap();
            panic!(
                "case {case} (a mutation of {}) panicked; input:\n{}",
                origin.display(),
                String::from_utf8_lossy(&mutated)
            );
        };
        if let Some(message) = error {
            rejected += 1;
            check_message(&message, case, origin);
        }
    }
    println!("{cases} mutated inputs, {rejected} rejected");
    // Most mutations break something; a run where none is rejected mutated nothing.
    assert!(rejected > cases / 4, "only {rejected} of {cases} rejected");
}
