//! Sharded runs: `run --shard I/N` parts merged by `merge` give the very run
//! folder a single run writes, for any N, and bad parts are refused by name.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{stormglass, stormglass_ok};

const SCENARIO: &str = "scenarios/default.toml";
/// 3,000 paths: four pilot batches and eight more, so shards split the pilot,
/// end inside it, and (at N = 16) some are empty.
const PATHS: &str = "3000";

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

/// Every file under `dir`, relative to it, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                found.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    found.sort();
    found
}

/// A file's bytes without the lines that time the run (the only figures a
/// merge cannot share with a single run), and so without the checksums of the
/// two files that show them in the folder's manifest.
fn untimed(file: &Path) -> Vec<u8> {
    let bytes = fs::read(file).unwrap();
    let name = file.file_name().unwrap().to_string_lossy();
    if name == ".stormglass-manifest" {
        return String::from_utf8(bytes)
            .unwrap()
            .lines()
            .filter(|l| !l.ends_with(" summary.json") && !l.ends_with(" report.html"))
            .collect::<Vec<_>>()
            .join("\n")
            .into_bytes();
    }
    match file.extension().and_then(|e| e.to_str()) {
        Some("json") | Some("html") => String::from_utf8(bytes)
            .unwrap()
            .lines()
            .filter(|l| {
                !l.contains("\"wall_time_seconds\"")
                    && !l.contains("\"path_steps_per_second\"")
                    && !l.contains("<dt>run time</dt>")
            })
            .collect::<Vec<_>>()
            .join("\n")
            .into_bytes(),
        _ => bytes,
    }
}

fn assert_same_folders(single: &Path, merged: &Path) {
    let names = files(single);
    assert_eq!(names, files(merged), "the merged folder has other files");
    assert!(names.len() > 10, "a run folder of {} files", names.len());
    for name in names {
        assert!(
            untimed(&single.join(&name)) == untimed(&merged.join(&name)),
            "{} differs between the single run and the merge",
            name.display()
        );
    }
}

fn shard_run(dir: &Path, parts: &str, shard: &str, extra: &[&str]) {
    let out = path(dir, parts);
    let mut args = vec![
        "run",
        SCENARIO,
        "--paths",
        PATHS,
        "--shard",
        shard,
        "--out",
        &out,
        "--threads",
        "1",
    ];
    args.extend_from_slice(extra);
    stormglass_ok(&args);
}

#[test]
fn merged_shards_equal_a_single_run_for_any_shard_count() {
    let dir = tempfile::tempdir().unwrap();
    let single = path(dir.path(), "single");
    let extra = [
        "--set",
        "assets.spx.jump_intensity=0.3",
        "--paths-csv",
        "always",
    ];
    let mut args = vec![
        "run",
        SCENARIO,
        "--paths",
        PATHS,
        "--out",
        &single,
        "--threads",
        "2",
    ];
    args.extend_from_slice(&extra);
    stormglass_ok(&args);
    for count in [1usize, 2, 5, 16] {
        let parts = format!("parts-{count}");
        for index in 0..count {
            shard_run(dir.path(), &parts, &format!("{index}/{count}"), &extra[..2]);
        }
        let merged = path(dir.path(), &format!("merged-{count}"));
        stormglass_ok(&[
            "merge",
            &path(dir.path(), &parts),
            "--out",
            &merged,
            "--paths-csv",
            "always",
            "--threads",
            "3",
        ]);
        assert_same_folders(Path::new(&single), Path::new(&merged));
    }
}

fn part(dir: &Path, parts: &str, index: usize, count: usize) -> String {
    path(&dir.join(parts), &format!("shard-{index}-of-{count}.part"))
}

fn refused(args: &[&str]) -> String {
    let output = stormglass(args);
    assert_eq!(
        output.status.code(),
        Some(2),
        "stormglass {args:?} should exit 2: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn bad_parts_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for index in 0..3 {
        shard_run(d, "parts", &format!("{index}/3"), &[]);
    }
    let out = path(d, "merged");
    let p = |i| part(d, "parts", i, 3);

    let missing = refused(&["merge", &p(0), &p(2), "--out", &out]);
    assert!(missing.contains("missing shard 1 of 3"), "{missing}");
    assert!(missing.contains("--shard 1/3"), "{missing}");

    let copy = path(d, "copy.part");
    fs::copy(p(1), &copy).unwrap();
    let twice = refused(&["merge", &p(0), &p(1), &copy, &p(2), "--out", &out]);
    assert!(twice.contains("shard 1/3 appears twice"), "{twice}");

    // A part of another run: another seed.
    shard_run(d, "other", "1/3", &["--seed", "99"]);
    let other = refused(&[
        "merge",
        &p(0),
        &part(d, "other", 1, 3),
        &p(2),
        "--out",
        &out,
    ]);
    assert!(other.contains("parts of different runs"), "{other}");

    // Cut into another number of shards.
    shard_run(d, "four", "1/4", &[]);
    let cut = refused(&["merge", &p(0), &part(d, "four", 1, 4), &p(2), "--out", &out]);
    assert!(cut.contains("different runs"), "{cut}");

    // A damaged part: one byte flipped in its rows, then one cut short.
    let mut bytes = fs::read(p(1)).unwrap();
    let n = bytes.len();
    bytes[n - 100] ^= 1;
    let flipped = path(d, "flipped.part");
    fs::write(&flipped, &bytes).unwrap();
    let damaged = refused(&["merge", &p(0), &flipped, &p(2), "--out", &out]);
    assert!(
        damaged.contains("flipped.part") && damaged.contains("checksum"),
        "{damaged}"
    );
    let short = path(d, "short.part");
    fs::write(&short, &bytes[..n / 2]).unwrap();
    let cut_short = refused(&["merge", &p(0), &short, &p(2), "--out", &out]);
    assert!(cut_short.contains("ends early"), "{cut_short}");

    let not_a_part = path(d, "notes.part");
    fs::write(&not_a_part, "shopping list").unwrap();
    let text = refused(&["merge", &not_a_part, "--out", &out]);
    assert!(text.contains("not a Stormglass part"), "{text}");

    // A shard that already ran is not run over without --force.
    let again = refused(&[
        "run",
        SCENARIO,
        "--paths",
        PATHS,
        "--shard",
        "1/3",
        "--out",
        &path(d, "parts"),
    ]);
    assert!(again.contains("already ran"), "{again}");

    for bad in ["3/3", "1", "a/b", "0/0"] {
        let message = refused(&["run", SCENARIO, "--paths", PATHS, "--shard", bad]);
        assert!(message.contains("--shard"), "{message}");
    }
    assert!(
        !Path::new(&out).exists(),
        "a refused merge wrote its folder"
    );
    stormglass_ok(&["merge", &path(d, "parts"), "--out", &out]);
}

#[test]
fn a_scenario_changed_after_its_shards_ran_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scenario = d.join("mine.toml");
    let text = format!(
        "extends = \"{}\"\n[scenario]\nname = \"mine\"\n",
        Path::new(*crate::common::ROOT).join(SCENARIO).display()
    );
    fs::write(&scenario, &text).unwrap();
    let parts = path(d, "parts");
    for shard in ["0/2", "1/2"] {
        stormglass_ok(&[
            "run",
            &scenario.display().to_string(),
            "--paths",
            "1500",
            "--shard",
            shard,
            "--out",
            &parts,
        ]);
    }
    fs::write(&scenario, format!("{text}seed = 7\n")).unwrap();
    let message = refused(&["merge", &parts, "--out", &path(d, "merged")]);
    assert!(
        message.contains("changed since the shards ran"),
        "{message}"
    );
}

/// Runs the binary with one environment variable set, as a scheduler would.
fn with_env(args: &[&str], name: &str, value: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_stormglass"))
        .args(args)
        .env(name, value)
        .current_dir(*crate::common::ROOT)
        .output()
        .expect("the binary runs")
}

#[test]
fn a_plans_tasks_run_one_by_one_merge_into_the_single_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let single = path(d, "single");
    stormglass_ok(&[
        "run",
        SCENARIO,
        "--paths",
        PATHS,
        "--out",
        &single,
        "--set",
        "events.tariff_wave.rate_per_year=4",
    ]);
    let plan = path(d, "plan");
    stormglass_ok(&[
        "plan",
        SCENARIO,
        "--paths",
        PATHS,
        "--shards",
        "3",
        "--out",
        &plan,
        "--set",
        "events.tariff_wave.rate_per_year=4",
    ]);
    let manifest = path(Path::new(&plan), "manifest.json");
    // Task 0 and 1 as a Slurm array and a Kubernetes Indexed Job hand them over.
    for (variable, index) in [("SLURM_ARRAY_TASK_ID", "0"), ("JOB_COMPLETION_INDEX", "1")] {
        let output = with_env(&["task", &manifest, "--threads", "1"], variable, index);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let missing = refused(&["merge", &manifest]);
    assert!(missing.contains("task 2 of 3 has not run"), "{missing}");
    stormglass_ok(&["task", &manifest, "--index", "2"]);

    let twice = refused(&["task", &manifest, "--index", "2"]);
    assert!(twice.contains("task 2 already ran"), "{twice}");
    let beyond = refused(&["task", &manifest, "--index", "3"]);
    assert!(beyond.contains("it has 3 tasks, 0 to 2"), "{beyond}");

    stormglass_ok(&["merge", &manifest]);
    assert_same_folders(Path::new(&single), &Path::new(&plan).join("run"));

    // A part copied over another task's is found out, and so is one of another plan.
    let parts = Path::new(&plan).join("parts");
    let part_of = |i: usize| parts.join(format!("task-{i:05}.part"));
    let kept = fs::read(part_of(1)).unwrap();
    fs::copy(part_of(0), part_of(1)).unwrap();
    let copied = refused(&["merge", &manifest, "--force"]);
    assert!(copied.contains("it is task 0's"), "{copied}");
    fs::write(part_of(1), &kept).unwrap();

    let other = path(d, "other");
    stormglass_ok(&[
        "plan", SCENARIO, "--paths", PATHS, "--shards", "3", "--out", &other,
    ]);
    let other_manifest = path(Path::new(&other), "manifest.json");
    stormglass_ok(&["task", &other_manifest, "--index", "1"]);
    fs::copy(
        Path::new(&other).join("parts").join("task-00001.part"),
        part_of(1),
    )
    .unwrap();
    let foreign = refused(&["merge", &manifest, "--force"]);
    assert!(foreign.contains("another plan"), "{foreign}");

    let no_index = refused(&["task", &manifest]);
    assert!(no_index.contains("SLURM_ARRAY_TASK_ID"), "{no_index}");
    let too_many = refused(&[
        "plan",
        SCENARIO,
        "--paths",
        "300",
        "--shards",
        "3",
        "--out",
        &path(d, "p3"),
    ]);
    assert!(too_many.contains("2 batches"), "{too_many}");
    let taken = refused(&["plan", SCENARIO, "--paths", PATHS, "--out", &plan]);
    assert!(taken.contains("--force"), "{taken}");
}

/// A part's pieces: its header as JSON, its body, and whether its checksum
/// was valid. The inverse of [`assemble`].
pub fn split_part(bytes: &[u8]) -> (serde_json::Value, Vec<u8>) {
    let length = u64::from_le_bytes(bytes[16..24].try_into().unwrap()) as usize;
    let header = serde_json::from_slice(&bytes[24..24 + length]).unwrap();
    let body = bytes[24 + length..bytes.len() - 32].to_vec();
    (header, body)
}

/// A part of `header` and `body`, with a valid checksum when `rehash` (as a
/// deliberate edit would make it), else with `trailer`.
pub fn assemble(header: &serde_json::Value, body: &[u8], rehash: bool, trailer: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let json = serde_json::to_vec(header).unwrap();
    let mut bytes = b"stormglass part\n".to_vec();
    bytes.extend_from_slice(&(json.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&json);
    bytes.extend_from_slice(body);
    if rehash {
        let digest = Sha256::digest(&bytes);
        bytes.extend_from_slice(&digest);
    } else {
        bytes.extend_from_slice(trailer);
    }
    bytes
}

/// A small plan of two points (one swept key) of two shards each, in `dir`.
fn small_plan(dir: &Path) -> String {
    let plan = path(dir, "plan");
    stormglass_ok(&[
        "plan",
        SCENARIO,
        "--paths",
        "300",
        "--shards",
        "2",
        "--out",
        &plan,
        "--vary",
        "events.tariff_wave.rate_per_year=2,4",
    ]);
    path(Path::new(&plan), "manifest.json")
}

#[test]
fn a_damaged_or_edited_part_header_is_refused_before_anything_is_allocated() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let manifest = small_plan(d);
    for index in 0..4 {
        stormglass_ok(&[
            "task",
            &manifest,
            "--index",
            &index.to_string(),
            "--threads",
            "1",
        ]);
    }
    let part = d.join("plan").join("parts").join("task-00001.part");
    let whole = fs::read(&part).unwrap();
    let (header, body) = split_part(&whole);
    let trailer = &whole[whole.len() - 32..];
    // Sizes a node that died, or an edit, could leave: each would have sized
    // a buffer of petabytes or overflowed.
    let huge = serde_json::json!(1u64 << 50);
    for (field, value) in [
        ("occupancy", huge.clone()),
        ("sample_paths", huge.clone()),
        ("steps", huge.clone()),
        ("series", huge.clone()),
        ("sample_points", serde_json::json!(u64::MAX)),
        ("paths", serde_json::json!(u64::MAX)),
        ("wall_time_seconds", serde_json::json!(1e20)),
        ("wall_time_seconds", serde_json::json!(-1.0)),
    ] {
        for rehash in [false, true] {
            let mut edited = header.clone();
            edited[field] = value.clone();
            fs::write(&part, assemble(&edited, &body, rehash, trailer)).unwrap();
            let output = stormglass(&["merge", &manifest, "--force"]);
            let stderr = String::from_utf8_lossy(&output.stderr);
            println!("{field} = {value} (valid checksum: {rehash}): {stderr}");
            assert_eq!(output.status.code(), Some(2), "{field}: {stderr}");
            assert!(
                stderr.contains("task-00001.part: damaged") && stderr.contains("run task 1 again"),
                "{field}: {stderr}"
            );
            if !rehash {
                assert!(stderr.contains("checksum"), "{field}: {stderr}");
            }
        }
    }
    let mut edited = header.clone();
    edited["wall_time_seconds"] = serde_json::json!(1e20);
    fs::write(&part, assemble(&edited, &body, true, trailer)).unwrap();
    let text = refused(&["merge", &manifest, "--force"]);
    assert!(
        text.contains("wall_time_seconds is 1e20; a shard's time is 0 to"),
        "{text}"
    );
    fs::write(&part, &whole).unwrap();
    stormglass_ok(&["merge", &manifest]);
}

/// An edit of a manifest's JSON.
type Edit = Box<dyn Fn(&mut serde_json::Value)>;

#[test]
fn a_hand_edited_manifest_is_refused_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let manifest = small_plan(d);
    let original: serde_json::Value =
        serde_json::from_slice(&fs::read(&manifest).unwrap()).unwrap();
    let edit = |change: &dyn Fn(&mut serde_json::Value)| {
        let mut edited = original.clone();
        change(&mut edited);
        fs::write(&manifest, serde_json::to_vec_pretty(&edited).unwrap()).unwrap();
    };
    let cases: Vec<(&str, Edit)> = vec![
        ("shards: is 0", Box::new(|m| m["shards"] = 0.into())),
        (
            "tasks[1]: is task 1 of point 99",
            Box::new(|m| m["tasks"][1]["point"] = 99.into()),
        ),
        (
            "tasks[2]: is task 2 of point 1, shard 0/0",
            Box::new(|m| m["tasks"][2]["shard"]["count"] = 0.into()),
        ),
        (
            "points: holds 2 points where the axes make 1",
            Box::new(|m| m["axes"][0]["values"] = serde_json::json!([2.0])),
        ),
        (
            "points[0].label: `../../x` starts with `.`",
            Box::new(|m| m["points"][0]["label"] = "../../x".into()),
        ),
        (
            "points[1].label: `a/b` holds '/'",
            Box::new(|m| m["points"][1]["label"] = "a/b".into()),
        ),
        (
            "points[1].label: `run` is points[0]'s too",
            Box::new(|m| {
                m["points"][0]["label"] = "run".into();
                m["points"][1]["label"] = "run".into();
            }),
        ),
        (
            "points[1].index: is 5",
            Box::new(|m| m["points"][1]["index"] = 5.into()),
        ),
    ];
    for (expected, change) in &cases {
        edit(change.as_ref());
        for args in [
            vec!["task", manifest.as_str(), "--index", "1"],
            vec!["merge", manifest.as_str()],
        ] {
            let text = refused(&args);
            assert!(
                text.contains(expected) && text.contains("manifest.json"),
                "{args:?}: expected `{expected}` in {text}"
            );
        }
    }
    assert!(!d.join("x").exists() && !d.join("plan").join("runs").exists());
}

#[test]
fn a_merge_without_out_writes_a_folder_of_its_own_never_a_single_runs() {
    let dir = tempfile::tempdir().unwrap();
    let parts = dir.path().join("parts");
    for shard in ["0/2", "1/2"] {
        stormglass_ok(&[
            "run",
            "--paths",
            "600",
            "--sample-paths",
            "2",
            "--shard",
            shard,
            "--out",
            parts.to_str().unwrap(),
        ]);
    }
    // A single run of the same scenario, where `merge` used to write.
    let single = dir.path().join("output").join("default");
    std::fs::create_dir_all(&single).unwrap();
    std::fs::write(single.join("notes.txt"), "mine").unwrap();
    let merged = std::process::Command::new(env!("CARGO_BIN_EXE_stormglass"))
        .args(["merge", parts.to_str().unwrap()])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        merged.status.success(),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    let said = String::from_utf8_lossy(&merged.stdout);
    assert!(said.contains("output/default-merged"), "{said}");
    assert!(dir
        .path()
        .join("output/default-merged/summary.json")
        .is_file());
    assert_eq!(std::fs::read_dir(&single).unwrap().count(), 1);
    assert_eq!(
        std::fs::read_to_string(single.join("notes.txt")).unwrap(),
        "mine"
    );
}
