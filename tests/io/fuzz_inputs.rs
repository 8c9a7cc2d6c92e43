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
