//! The documentation's own links lead somewhere: every relative link of the
//! README and of docs/*.md names a file of the repository, and every mention of
//! the thesis points at the project's own statement of it.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(*crate::common::ROOT)
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

/// The README's console excerpt is what `cargo run --release` prints: every
/// line of it appears in the output of a run of the default scenario (a line
/// cut with "..." as the start of one). `docs/readme-assets.sh` prints the
/// excerpt afresh.
#[test]
fn the_readme_console_excerpt_is_what_the_default_run_prints() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let block = readme
        .split("```text\n")
        .find(|b| b.starts_with("portfolio "))
        .expect("the README quotes the portfolio tables");
    let excerpt: Vec<&str> = block[..block.find("```").unwrap()].lines().collect();
    assert!(excerpt.len() > 5);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("default");
    let printed = crate::common::stormglass_ok(&["run", "--out", out.to_str().unwrap()]);
    let lines: Vec<&str> = printed.lines().map(str::trim_end).collect();
    for line in excerpt {
        let found = match line.strip_suffix(", ...") {
            Some(start) => lines.iter().any(|l| l.starts_with(start)),
            None => lines.contains(&line.trim_end()),
        };
        assert!(
            found,
            "the README shows a line the default run does not print (run docs/readme-assets.sh):\n{line}\n\nthe run printed:\n{printed}"
        );
    }
}

/// The README's own example portfolio does not take a bundled book's name,
/// and its commands run in the order they are written: nothing compares a
/// folder no earlier command made.
#[test]
fn the_readme_example_names_and_order_hold() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let example = readme
        .split("```toml\n")
        .find(|b| b.starts_with("name = "))
        .expect("the README's portfolio example");
    let name = example.lines().next().unwrap()["name = ".len()..]
        .split('"')
        .nth(1)
        .unwrap();
    let bundled = std::fs::read_dir(root().join("portfolios")).unwrap();
    for file in bundled.filter_map(|e| e.ok().map(|e| e.path())) {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            !text.contains(&format!("name = \"{name}\"")),
            "the README's example is named {name}, as {} is",
            file.display()
        );
    }
    let compare = readme
        .find("compare output/default output/baseline")
        .expect("the README compares two run folders");
    let made = readme
        .find("run scenarios/baseline.toml")
        .expect("a command makes output/baseline");
    assert!(
        made < compare,
        "output/baseline is compared before it is made"
    );
}
