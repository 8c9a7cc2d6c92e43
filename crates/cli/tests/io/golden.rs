//! Every output a user keeps, pinned byte for byte: a default run, a sweep, a
//! run merged from shards, a sensitivity, an attribution and both
//! calibrations write exactly the files whose SHA-256 digests
//! tests/fixtures/golden.sha256 records. A change that moves any number,
//! label, chart pixel or column by accident fails here, and says which file.
//!
//! What legitimately differs between two runs of one command is taken out
//! before hashing: wall-clock times (and the rates derived from them), the
//! temporary folder, the repository's own folder (a fitted scenario
//! `extends` its base by absolute path) and the binary's path in recorded
//! command lines, and the
//! folder manifest (its own digests repeat the files'), and the shards' part
//! files (they record their wall time; the run merged from them is pinned).
//!
//! When a change is meant to alter outputs, bless the new digests with
//! `STORMGLASS_BLESS=1 cargo test --release golden` and say why in the commit.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::common::stormglass_ok;

const FIXTURE: &str = "tests/fixtures/golden.sha256";

/// The commands pinned, each writing into its own folder under `out`.
fn commands(out: &str) -> Vec<Vec<String>> {
    let lines = [
        "run --paths 2000 --sample-paths 20 --format both --out {out}/run",
        "run --paths 2000 --sample-paths 20 --shard 0/2 --out {out}/shards",
        "run --paths 2000 --sample-paths 20 --shard 1/2 --out {out}/shards",
        "merge {out}/shards --out {out}/merged",
        "sweep scenarios/default.toml --vary assets.spx.drift=0.04:0.12:3 --paths 1000 --format both --out {out}/sweep",
        "sensitivity scenarios/default.toml --keys assets.spx.long_run_variance,assets.spx.jump_intensity --paths 1000 --out {out}/sensitivity",
        "attribute scenarios/default.toml --paths 1000 --out {out}/attribution",
        "calibrate history data/history/us_rates_monthly_1946_1991.csv --regimes 2 --series r120 --levels r120 --out {out}/history",
        "calibrate targets scenarios/baseline.toml --targets data/calibration/baseline_targets.toml --free assets.spx.jump_intensity --pilot-paths 300 --paths 1000 --max-iterations 8 --out {out}/targets",
    ];
    lines
        .iter()
        .map(|line| {
            line.replace("{out}", out)
                .split_whitespace()
                .map(str::to_string)
                .collect()
        })
        .collect()
}

/// A JSON line that records how long something took, not what it computed.
fn is_timing(line: &str) -> bool {
    let key = line.trim_start().split("\": ").next().unwrap_or("");
    key.starts_with('"') && (key.ends_with("seconds") || key.ends_with("per_second"))
        || line.contains("<dt>run time</dt>")
}

/// Prose durations ("12 runs in 1.5s", "the full run alone 0.2s") as `Ts`.
fn mask_durations(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = ["in ", "alone "]
        .iter()
        .filter_map(|word| rest.find(word).map(|i| i + word.len()))
        .min()
    {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let number = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number > 0 && rest[number..].starts_with('s') {
            out.push('T');
            rest = &rest[number..];
        }
    }
    out.push_str(rest);
    out
}

/// The digest of a file with what varies between two runs taken out.
/// Recorded command lines are replaced whole (`COMMAND`): they echo the
/// input, and a renamed flag is not a changed output.
fn digest(path: &Path, commands: &[String], out: &str, binary: &str) -> String {
    let bytes = std::fs::read(path).unwrap();
    let kept = match String::from_utf8(bytes.clone()) {
        Ok(text) => {
            let mut text = text;
            for command in commands {
                text = text.replace(command, "COMMAND");
            }
            text.replace(binary, "stormglass")
                .replace(out, "OUT")
                .replace(*crate::common::ROOT, "ROOT")
                .lines()
                .filter(|line| !is_timing(line))
                .map(mask_durations)
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes()
        }
        Err(_) => bytes,
    };
    format!("{:x}", Sha256::digest(&kept))
}

fn files_under(dir: &Path, into: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_under(&path, into);
        } else if path.extension().is_none_or(|x| x != "part")
            && path
                .file_name()
                .is_some_and(|n| n != ".stormglass-manifest")
        {
            into.push(path);
        }
    }
}

#[test]
fn every_kept_output_is_byte_identical_to_the_pinned_digests() {
    // Inside the repository, at a fixed place from it: a fitted scenario names
    // its base by a relative path when it can, so where the outputs sit
    // relative to scenarios/ must not vary between machines.
    let parent = Path::new(*crate::common::ROOT).join("target");
    std::fs::create_dir_all(&parent).unwrap();
    let dir = tempfile::tempdir_in(&parent).unwrap();
    let out = dir.path().to_str().unwrap().to_string();
    let binary = env!("CARGO_BIN_EXE_stormglass");
    let mut recorded = Vec::new();
    for args in commands(&out) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        stormglass_ok(&args);
        recorded.push(format!("{binary} {}", args.join(" ")));
        recorded.push(format!("stormglass {}", args.join(" ")));
    }
    let mut files = Vec::new();
    files_under(dir.path(), &mut files);
    let actual: String = files
        .iter()
        .map(|path| {
            let relative = path.strip_prefix(dir.path()).unwrap().display();
            format!("{}  {relative}\n", digest(path, &recorded, &out, binary))
        })
        .collect();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    if std::env::var_os("STORMGLASS_BLESS").is_some() {
        std::fs::write(&fixture, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&fixture).unwrap_or_default();
    let changed: Vec<String> = {
        let pinned: std::collections::BTreeMap<&str, &str> = expected
            .lines()
            .filter_map(|l| l.split_once("  ").map(|(h, p)| (p, h)))
            .collect();
        let now: std::collections::BTreeMap<&str, &str> = actual
            .lines()
            .filter_map(|l| l.split_once("  ").map(|(h, p)| (p, h)))
            .collect();
        let mut names: Vec<&str> = pinned.keys().chain(now.keys()).copied().collect();
        names.sort();
        names.dedup();
        names
            .into_iter()
            .filter(|name| pinned.get(name) != now.get(name))
            .map(|name| match (pinned.get(name), now.get(name)) {
                (Some(_), Some(_)) => format!("{name}: changed"),
                (Some(_), None) => format!("{name}: no longer written"),
                _ => format!("{name}: new"),
            })
            .collect()
    };
    assert!(
        changed.is_empty(),
        "outputs differ from {FIXTURE} ({} of {} files); if meant, bless them \
         (STORMGLASS_BLESS=1) and say why in the commit:\n{}",
        changed.len(),
        files.len(),
        changed.join("\n")
    );
}
