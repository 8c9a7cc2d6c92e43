//! The core's modules are layers: each may use only those below it, so data
//! flows one way (docs/ARCHITECTURE.md). Between crates the compiler enforces
//! it; inside this one, this test does.

use std::collections::BTreeSet;
use std::path::Path;

/// The core's top-level modules, lowest first.
const LAYERS: [&str; 17] = [
    "input",
    "output",
    "scenario",
    "model",
    "stats",
    "engine",
    "history",
    "portfolio",
    "figures",
    "summary",
    "run",
    "sweep",
    "calibrate",
    "attribute",
    "compare",
    "tasks",
    "views",
];

/// Every `crate::NAME` a source file names outside comments.
fn named_modules(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

fn sources(dir: &Path, into: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, into);
        } else if path.extension().is_some_and(|x| x == "rs") {
            into.push(path);
        }
    }
}

#[test]
fn no_module_of_the_core_imports_one_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let rank = |name: &str| LAYERS.iter().position(|l| *l == name);
    let mut upward = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if top == "lib" {
            continue;
        }
        let own = rank(&top).unwrap_or_else(|| {
            panic!(
                "{}: module `{top}` is not in LAYERS: place it",
                relative.display()
            )
        });
        for name in named_modules(&std::fs::read_to_string(file).unwrap()) {
            if let Some(other) = rank(&name) {
                if other > own {
                    upward.push(format!("{} uses crate::{name}", relative.display()));
                }
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports against the layers:\n{}",
        upward.join("\n")
    );
}
