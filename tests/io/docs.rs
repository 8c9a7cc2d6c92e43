//! The documentation's own links lead somewhere: every relative link of the
//! README and of docs/*.md names a file of the repository, and every mention of
//! the thesis points at the project's own statement of it.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The targets of `[text](target)` links in `text`.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        if let Some(end) = rest.find(')') {
            targets.push(rest[..end].to_string());
        }
    }
    targets
}

fn documents() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md")];
    let docs = std::fs::read_dir(root().join("docs")).expect("docs/ exists");
    files.extend(
        docs.filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "md")),
    );
    files
}

#[test]
fn relative_links_of_the_documentation_name_files_that_exist() {
    let mut broken = Vec::new();
    for file in documents() {
        let text = std::fs::read_to_string(&file).unwrap();
        let dir = file.parent().unwrap_or(Path::new("."));
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with('#') || target.starts_with("mailto:") {
                continue;
            }
            let path = target.split('#').next().unwrap_or("");
            if !dir.join(path).exists() {
                broken.push(format!("{}: {target}", file.display()));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "links to missing files:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_thesis_is_stated_inside_the_repository() {
    let thesis = root().join("docs/THESIS.md");
    let text = std::fs::read_to_string(&thesis).expect("docs/THESIS.md exists");
    for block in [
        "sell_america",
        "classic_risk_off",
        "fed_put",
        "new_fed_chair",
        "[flows]",
    ] {
        assert!(
            text.contains(block),
            "docs/THESIS.md does not name `{block}`"
        );
    }
    // Every other mention names the file by a path that resolves from where it stands.
    for file in documents() {
        let text = std::fs::read_to_string(&file).unwrap();
        for (line, content) in text.lines().enumerate() {
            let bare = content
                .replace("docs/THESIS.md", "")
                .replace("(THESIS.md)", "");
            let in_docs = file.parent().is_some_and(|d| d.ends_with("docs"));
            let bare = if in_docs {
                bare.replace("[THESIS.md]", "")
            } else {
                bare
            };
            assert!(
                !bare.contains("THESIS.md"),
                "{}:{}: names THESIS.md without a path into the repository",
                file.display(),
                line + 1
            );
        }
    }
}
