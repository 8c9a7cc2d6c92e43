//! Bounded mutation testing of the input files: every bundled scenario, portfolio
//! and stress file is mutated many times (lines deleted or duplicated, bytes
//! flipped, invalid UTF-8 inserted, numbers replaced by extremes, names swapped,
//! text truncated) and loaded in-process. No mutation may panic, and every error
//! must be non-empty, bounded in size and name a file.
//!
//! The plans' files get the same treatment: a real run's part, damaged (bytes
//! flipped, cut short, lengthened, its header's length or a header field
//! edited, with and without a recomputed checksum), must be refused with a
//! message by `merge`'s reader, never panic or abort; an edited manifest
//! (mutated text, fields set to extremes, labels that are paths) must be
//! refused or, when read, index only what it holds and name plain folders.
//! Each of these runs a fifth of the cases.
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

use stormglass_core::model::Model;
use stormglass_core::portfolio::{self, BookFiles};
use stormglass_core::scenario;

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
    use stormglass_core::calibrate::data::{self, Selection};
    use stormglass_core::calibrate::history::{self, FitError};
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
    let root = Path::new(*crate::common::ROOT);
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
    let root = Path::new(*crate::common::ROOT);
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

/// The number of cases of each of the plan searches below: a fifth of the
/// input search's, so the bounded default stays within seconds.
fn plan_cases() -> usize {
    std::env::var("STORMGLASS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
        / 5
}

fn plan_seed() -> u64 {
    std::env::var("STORMGLASS_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x9a27_5eed)
        | 1
}

/// JSON values an edit puts where a header's or a manifest's field was.
fn extreme_json(rng: &mut Rng) -> serde_json::Value {
    use serde_json::json;
    let values = [
        json!(0),
        json!(1),
        json!(-1),
        json!(2),
        json!(255),
        json!(1u64 << 32),
        json!(1u64 << 50),
        json!(u64::MAX),
        json!(1e20),
        json!(-1e20),
        json!(1e308),
        json!(5e-324),
        json!(null),
        json!("x"),
        json!("../../x"),
        json!([]),
        json!({}),
    ];
    values[rng.below(values.len())].clone()
}

/// A random leaf of `value` (a number, string or null), as a JSON pointer.
fn random_leaf(value: &serde_json::Value, rng: &mut Rng) -> String {
    let mut pointer = String::new();
    let mut at = value;
    loop {
        match at {
            serde_json::Value::Object(map) if !map.is_empty() => {
                let (key, next) = map.iter().nth(rng.below(map.len())).unwrap();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                at = next;
            }
            serde_json::Value::Array(items) if !items.is_empty() => {
                let i = rng.below(items.len());
                pointer.push_str(&format!("/{i}"));
                at = &items[i];
            }
            _ => return pointer,
        }
    }
}

/// A real run's two parts (one asset, a few batches), the layout and the shape a
/// merge holds them to.
fn two_parts(
    dir: &Path,
) -> (
    Vec<PathBuf>,
    stormglass_core::stats::MetricLayout,
    stormglass_core::tasks::part::RunShape,
) {
    use stormglass_core::engine::{self, PathObserver, Shard, Silent};
    use stormglass_core::portfolio::PortfolioTracker;
    use stormglass_core::run::Recipe;
    use stormglass_core::tasks::part;
    // Twenty steps of one asset: parts of a few kilobytes, so a case costs
    // little more than its reads.
    let scenario = dir.join("small.toml");
    std::fs::write(
        &scenario,
        format!(
            "{}[assets.spx]\nprocess = \"gbm\"\ninitial = 100.0\nvol = 0.2\n",
            common::header("small", 20)
        ),
    )
    .unwrap();
    let recipe = Recipe {
        scenario,
        paths: Some(600),
        sample_paths: Some(3),
        ..Recipe::default()
    };
    let prepared = recipe.prepare(1).unwrap_or_else(|e| panic!("{e}"));
    let tracker = PortfolioTracker::new(
        &prepared.scenario,
        &prepared.model,
        &prepared.book.portfolios,
    );
    let fingerprint = prepared.fingerprint().unwrap();
    let files = (0..2)
        .map(|index| {
            let shard = Shard { index, count: 2 };
            let run = engine::simulate_shard(
                &prepared.model,
                &prepared.options,
                &Silent,
                &tracker,
                shard,
            )
            .unwrap();
            let header = part::header_of(
                &run,
                fingerprint.clone(),
                &prepared.scenario.name,
                dir.to_path_buf(),
                &prepared.recipe,
                prepared.model.steps,
                None,
            );
            let file = dir.join(format!("whole-{index}.part"));
            part::write_part(&file, &header, &run, true).unwrap();
            file
        })
        .collect();
    let mut layout = stormglass_core::stats::MetricLayout::new(&prepared.model);
    layout.append(tracker.columns());
    (
        files,
        layout,
        stormglass_core::tasks::part::RunShape::of(&prepared),
    )
}

/// A damaged or edited copy of a part; `true` when it may still be whole (an
/// edit that recomputed the checksum).
fn damage_part(bytes: &[u8], rng: &mut Rng) -> (Vec<u8>, bool) {
    use sha2::{Digest, Sha256};
    let mut out = bytes.to_vec();
    match rng.below(5) {
        0 => {
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(out.len());
                out[at] ^= 1 << rng.below(8);
            }
            (out, false)
        }
        1 => {
            out.truncate(rng.below(out.len()));
            (out, false)
        }
        2 => {
            for _ in 0..1 + rng.below(64) {
                out.push(rng.next() as u8);
            }
            (out, false)
        }
        3 => {
            // The header's length field.
            let length = match rng.below(3) {
                0 => rng.next(),
                1 => rng.next() % 4096,
                _ => u64::MAX - rng.next() % 16,
            };
            out[16..24].copy_from_slice(&length.to_le_bytes());
            (out, false)
        }
        _ => {
            let length = u64::from_le_bytes(bytes[16..24].try_into().unwrap()) as usize;
            let mut header: serde_json::Value =
                serde_json::from_slice(&bytes[24..24 + length]).unwrap();
            let leaf = random_leaf(&header, rng);
            *header.pointer_mut(&leaf).unwrap() = extreme_json(rng);
            let json = serde_json::to_vec(&header).unwrap();
            let mut edited = bytes[..16].to_vec();
            edited.extend_from_slice(&(json.len() as u64).to_le_bytes());
            edited.extend_from_slice(&json);
            edited.extend_from_slice(&bytes[24 + length..bytes.len() - 32]);
            let rehash = rng.chance(0.5);
            if rehash {
                let digest = Sha256::digest(&edited);
                edited.extend_from_slice(&digest);
            } else {
                edited.extend_from_slice(&bytes[bytes.len() - 32..]);
            }
            (edited, rehash)
        }
    }
}

#[test]
fn damaged_parts_are_refused_with_a_message_and_never_panic() {
    use stormglass_core::tasks::PartSet;
    let dir = tempfile::tempdir().unwrap();
    let (files, layout, shape) = two_parts(dir.path());
    let wholes: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let cases = plan_cases();
    let started = std::time::Instant::now();
    let mut rng = Rng(plan_seed());
    let (mut refused, mut merged) = (0, 0);
    for case in 0..cases {
        let damaged_shard = rng.below(2);
        let (bytes, may_be_whole) = damage_part(&wholes[damaged_shard], &mut rng);
        let changed = bytes != wholes[damaged_shard];
        let case_file = dir.path().join("case.part");
        std::fs::write(&case_file, &bytes).unwrap();
        let mut set = files.clone();
        set[damaged_shard] = case_file.clone();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let parts = PartSet::gather(&set, |_, _| "run it again".into())?;
            parts.merge(layout.clone(), &shape).map(|_| ())
        }));
        let Ok(result) = outcome else {
            std::fs::write(dir.path().join("panic.part"), &bytes).unwrap();
            panic!("case {case}: merging a damaged part panicked");
        };
        match result {
            Ok(()) => {
                assert!(
                    may_be_whole || !changed,
                    "case {case}: a part damaged without a new checksum merged"
                );
                merged += 1;
            }
            Err(error) => {
                let message = error.to_string();
                assert!(
                    !message.trim().is_empty() && message.len() <= MAX_MESSAGE_BYTES,
                    "case {case}: {message}"
                );
                refused += 1;
            }
        }
    }
    println!(
        "{cases} damaged parts in {:.2} s: {refused} refused, {merged} merged (an edit that kept the part valid)",
        started.elapsed().as_secs_f64()
    );
    assert!(refused > cases * 3 / 4, "only {refused} of {cases} refused");
}

#[test]
fn edited_manifests_never_panic_and_labels_never_escape() {
    use stormglass_core::run::Recipe;
    use stormglass_core::sweep::{self as sweeps, Axis};
    use stormglass_core::tasks::Manifest;
    let dir = tempfile::tempdir().unwrap();
    let recipe = Recipe {
        scenario: Path::new(*crate::common::ROOT).join("scenarios/gbm.toml"),
        paths: Some(600),
        ..Recipe::default()
    };
    let axes = vec![Axis::parse("assets.spx.vol=0.1,0.2,0.3").unwrap()];
    let points = sweeps::grid(&axes)
        .iter()
        .enumerate()
        .map(|(i, values)| {
            (
                sweeps::label_at(i, &axes, values),
                sweeps::settings_at(&axes, values),
                "fingerprint".to_string(),
            )
        })
        .collect();
    let manifest = Manifest::new("gbm", dir.path().to_path_buf(), recipe, axes, points, 2);
    let text = manifest.to_json();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let path = dir.path().join("manifest.json");
    std::fs::write(&path, &text).unwrap();
    Manifest::read(&path).expect("the manifest as written reads");
    let evil_labels = [
        "../../x", "..", ".", "", "/etc", "a/b", "a\\b", "a\0b", ".hidden", "run/..", "~",
    ];
    let cases = plan_cases();
    let started = std::time::Instant::now();
    let mut rng = Rng(plan_seed() ^ 0x3a11);
    let (mut refused, mut read) = (0, 0);
    for case in 0..cases {
        let bytes = match rng.below(3) {
            0 => mutate(text.as_bytes(), &mut rng),
            1 => {
                let mut edited = value.clone();
                let leaf = random_leaf(&edited, &mut rng);
                *edited.pointer_mut(&leaf).unwrap() = extreme_json(&mut rng);
                serde_json::to_vec_pretty(&edited).unwrap()
            }
            _ => {
                let mut edited = value.clone();
                let point = rng.below(3);
                edited["points"][point]["label"] =
                    evil_labels[rng.below(evil_labels.len())].to_string().into();
                serde_json::to_vec_pretty(&edited).unwrap()
            }
        };
        std::fs::write(&path, &bytes).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| match Manifest::read(&path) {
            Err(error) => Err(error.to_string()),
            Ok((manifest, _)) => {
                // What `task` and `merge` index, divide by and write to.
                for (i, task) in manifest.tasks.iter().enumerate() {
                    let task = manifest.task(&path, i).map(|_| *task).unwrap();
                    let _ = manifest.recipe_of(task.point);
                    assert!(task.shard.count > 0 && task.shard.index < task.shard.count);
                }
                assert_eq!(sweeps::grid(&manifest.axes).len(), manifest.points.len());
                for point in &manifest.points {
                    let label = Path::new(&point.label);
                    assert!(
                        label.components().count() == 1
                            && matches!(
                                label.components().next(),
                                Some(std::path::Component::Normal(_))
                            )
                            && !point.label.starts_with('.'),
                        "label `{}` is not a plain folder name",
                        point.label
                    );
                }
                Ok(())
            }
        }));
        let Ok(result) = outcome else {
            std::fs::write(dir.path().join("panic.json"), &bytes).unwrap();
            panic!(
                "case {case}: an edited manifest panicked or let a bad value through:\n{}",
                String::from_utf8_lossy(&bytes)
            );
        };
        match result {
            Ok(()) => read += 1,
            Err(message) => {
                assert!(
                    message.contains("manifest.json") && message.len() <= MAX_MESSAGE_BYTES,
                    "case {case}: {message}"
                );
                refused += 1;
            }
        }
    }
    println!(
        "{cases} edited manifests in {:.2} s: {refused} refused, {read} read",
        started.elapsed().as_secs_f64()
    );
    assert!(refused > cases / 2, "only {refused} of {cases} refused");
}
