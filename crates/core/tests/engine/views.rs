//! Views files: every problem named with the file, the line and the key; a
//! good file applied to a table of known columns.

use std::path::PathBuf;

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use stormglass_core::views::{apply, PathTable, ViewsError, ViewsFile};

fn table(paths: usize) -> PathTable {
    let names: Vec<String> = [
        "spx.terminal_return",
        "dxy.terminal_return",
        "gold.terminal_return",
        "portfolio.core.pnl",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut table = PathTable::new(names.clone(), paths);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(32);
    for name in &names {
        let values: Vec<f64> = (0..paths)
            .map(|_| {
                let z: f64 = StandardNormal.sample(&mut rng);
                0.1 * z
            })
            .collect();
        table.insert(name, values);
    }
    table
}

fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("views.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn load_error(text: &str) -> String {
    let (_dir, path) = write(text);
    let error = ViewsFile::load(&path, &table(10).available).unwrap_err();
    error.to_string()
}

#[test]
fn a_column_the_run_lacks_is_named_with_the_nearest() {
    let message = load_error(
        "[[view]]\nname = \"dollar\"\nkind = \"probability\"\ncolumn = \"dxy.terminal_retrun\"\nbelow = -0.1\nequals = 0.4\n",
    );
    assert!(
        message.contains("views.toml:4: view[0].column"),
        "{message}"
    );
    assert!(
        message.contains("did you mean `dxy.terminal_return`?"),
        "{message}"
    );
}

#[test]
fn a_probability_outside_zero_one_is_refused_with_the_range() {
    let message = load_error(
        "[[view]]\nkind = \"probability\"\ncolumn = \"dxy.terminal_return\"\nbelow = -0.1\n\nequals = 1.4\n",
    );
    assert!(
        message.contains("views.toml:6: view[0].equals"),
        "{message}"
    );
    assert!(message.contains("valid: [0, 1]"), "{message}");
}

#[test]
fn unknown_kinds_keys_and_missing_targets_are_named() {
    let message = load_error(
        "[[view]]\nkind = \"expectaton\"\ncolumn = \"spx.terminal_return\"\nequals = 0.1\n",
    );
    assert!(message.contains(":2: view[0].kind"), "{message}");
    assert!(message.contains("did you mean `expectation`?"), "{message}");
    let message = load_error(
        "[[view]]\nkind = \"expectation\"\ncolumn = \"spx.terminal_return\"\nequal = 0.1\n",
    );
    assert!(
        message.contains(":4:") && message.contains("did you mean `equals`?"),
        "{message}"
    );
    let message =
        load_error("[[view]]\nkind = \"expectation\"\ncolumn = \"spx.terminal_return\"\n");
    assert!(message.contains("missing its target"), "{message}");
    let message = load_error("[[view]]\nkind = \"expectation\"\ncolumn = \"spx.terminal_return\"\nequals = 0.1\nat_most = 0.2\n");
    assert!(message.contains(":5: view[0].at_most"), "{message}");
    let message = load_error("[[view]]\nkind = \"quantile\"\ncolumn = \"spx.terminal_return\"\nlevel = 1.5\nequals = -0.2\n");
    assert!(
        message.contains(":4: view[0].level") && message.contains("valid: (0, 1)"),
        "{message}"
    );
    let message = load_error("[[view]]\nkind = \"ranking\"\ncolumns = [\"spx.terminal_return\"]\n");
    assert!(message.contains("at least two"), "{message}");
    let message = load_error("[[view]]\nkind = \"expectation\"\ncolumn = \"spx.terminal_return\"\nequals = 0.1\nconfidence = 2\n");
    assert!(
        message.contains(":5: view[0].confidence") && message.contains("valid: [0, 1]"),
        "{message}"
    );
    let message = load_error("description = \"none\"\n");
    assert!(message.contains("at least one [[view]]"), "{message}");
}

#[test]
fn conflicting_views_are_refused_naming_both_with_their_lines() {
    let (_dir, path) = write(
        "[[view]]\nname = \"low\"\nkind = \"probability\"\ncolumn = \"dxy.terminal_return\"\nbelow = 0.0\nequals = 0.4\n\n\
         [[view]]\nname = \"spx\"\nkind = \"expectation\"\ncolumn = \"spx.terminal_return\"\nequals = 0.02\n\n\
         [[view]]\nname = \"high\"\nkind = \"probability\"\ncolumn = \"dxy.terminal_return\"\nbelow = 0.0\nequals = 0.6\n",
    );
    let table = table(5_000);
    let file = ViewsFile::load(&path, &table.available).unwrap();
    let error = apply(&file, &table, None).unwrap_err();
    assert!(matches!(error, ViewsError::Pool { .. }));
    let message = error.to_string();
    assert!(
        message.contains("view `low` (") && message.contains("views.toml:1)"),
        "{message}"
    );
    assert!(
        message.contains("view `high` (") && message.contains("views.toml:14)"),
        "{message}"
    );
    assert!(!message.contains("`spx`"), "{message}");
}

#[test]
fn a_good_file_meets_its_views_and_reports_the_books() {
    let (_dir, path) = write(
        "[[view]]\nname = \"dollar falls\"\nkind = \"probability\"\ncolumn = \"dxy.terminal_return\"\nbelow = -0.10\nequals = 0.40\n\n\
         [[view]]\nname = \"gold over spx\"\nkind = \"ranking\"\ncolumns = [\"gold.terminal_return\", \"spx.terminal_return\"]\n\n\
         [[view]]\nname = \"spx tail\"\nkind = \"quantile\"\ncolumn = \"spx.terminal_return\"\nlevel = 0.05\nequals = -0.25\n",
    );
    let table = table(20_000);
    let file = ViewsFile::load(&path, &table.available).unwrap();
    let outcome = apply(&file, &table, None).unwrap();
    assert_eq!(outcome.views.len(), 3);
    assert!((outcome.views[0].posterior - 0.40).abs() < 1e-9);
    assert!(outcome.views[1].posterior >= -1e-9);
    assert!((outcome.views[2].posterior - 0.05).abs() < 1e-9);
    assert!((outcome.posterior.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    // A 10% fall of a column with sd 0.1 has prior probability about 0.16:
    // making it 0.40 costs entropy and paths, but not 90% of them.
    assert!(outcome.relative_entropy > 0.0);
    assert!(outcome.effective_share > 0.1 && outcome.effective_share < 1.0);
    let row = |group: &str, figure: &str| {
        outcome
            .figures
            .iter()
            .find(|r| r.group == group && r.figure == figure)
            .unwrap_or_else(|| panic!("{group} {figure}: {:?}", outcome.figures))
            .clone()
    };
    assert!(row("portfolio.core", "VaR 95%").prior > 0.0);
    let p5 = row("spx.terminal_return", "p5");
    // The 5% quantile is -0.25 under the posterior to one path's spacing.
    assert!((p5.posterior + 0.25).abs() < 0.01, "{p5:?}");
}
