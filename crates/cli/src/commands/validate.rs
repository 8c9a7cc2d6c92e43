//! `stormglass validate`: scenario, portfolio and stress files checked
//! without simulating.

use std::path::{Path, PathBuf};

use stormglass_core::history::{self, Warning};
use stormglass_core::model::Model;
use stormglass_core::portfolio::{self, BookFiles};
use stormglass_core::scenario::{self, Scenario};

use crate::args::{load, scenarios_dir};
use crate::failure::{say, Failure, Result};

/// `stormglass validate`'s arguments (its description is on `Command::Validate`).
#[derive(clap::Args)]
pub struct Args {
    /// Files to check; portfolio and stress files are recognised by their keys.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The scenario whose assets portfolio and stress files are checked
    /// against [default: the bundled scenarios/default.toml].
    #[arg(long)]
    scenario: Option<PathBuf>,
}

/// What a file given to `validate` holds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum FileRole {
    Scenario,
    Portfolio,
    Stress,
}

/// A portfolio file has `positions` (or a base currency) and a stress file
/// `[[stress]]` tables, neither a `[scenario]` table; anything else, unreadable
/// files included, is checked as a scenario, whose loader explains what is wrong.
fn file_role(path: &Path) -> FileRole {
    let Ok(text) = scenario::load::read_text_of(path, scenario::load::FileKind::Scenario) else {
        return FileRole::Scenario;
    };
    let Ok(table) = text.parse::<toml::Table>() else {
        return FileRole::Scenario;
    };
    if table.contains_key("scenario") || table.contains_key("extends") {
        FileRole::Scenario
    } else if table.contains_key("positions") || table.contains_key("base_currency") {
        FileRole::Portfolio
    } else if table.get("stress").is_some_and(|s| s.is_array()) {
        FileRole::Stress
    } else {
        FileRole::Scenario
    }
}

/// Checks a portfolio or stress file against `against`'s assets and regimes.
fn validate_book_file(file: &Path, role: FileRole, against: &Path) -> Result<String> {
    let s = load(against)?;
    let only = |wanted: FileRole| {
        if role == wanted {
            vec![file.to_path_buf()]
        } else {
            Vec::new()
        }
    };
    let files = BookFiles {
        portfolios: only(FileRole::Portfolio),
        stresses: only(FileRole::Stress),
        skip_scenario: true,
        ..BookFiles::default()
    };
    let book = portfolio::load(&s, &Model::new(&s), &files)?;
    print_warnings(&book.warnings().cloned().collect::<Vec<_>>());
    Ok(match role {
        FileRole::Portfolio => format!(
            "{}: ok (portfolio file: {} positions; checked against {})",
            file.display(),
            book.portfolios
                .iter()
                .map(|p| p.positions.len())
                .sum::<usize>(),
            against.display()
        ),
        _ => format!(
            "{}: ok (stress file: {} stress vectors; checked against {})",
            file.display(),
            book.stresses.len(),
            against.display()
        ),
    })
}

pub fn run(args: Args) -> Result {
    let against = args
        .scenario
        .clone()
        .unwrap_or_else(|| scenarios_dir().join("default.toml"));
    let mut failures = Vec::new();
    for file in &args.files {
        let role = file_role(file);
        if role != FileRole::Scenario {
            match validate_book_file(file, role, &against) {
                Ok(line) => say(format_args!("{line}"))?,
                Err(failure) => failures.push(failure.message()),
            }
            continue;
        }
        let checked = scenario::load(file).and_then(|s| {
            let book = portfolio::load(&s, &Model::new(&s), &BookFiles::default())?;
            Ok((s, book))
        });
        match checked {
            Ok((s, book)) => {
                let mut warnings = history::warnings(&s, history::builtin());
                warnings.extend(book.warnings().cloned());
                print_notes(&s);
                print_warnings(&warnings);
                say(format_args!(
                    "{}: ok (regimes: {}, assets: {}, events: {}, steps: {}, portfolios: {}, stress vectors: {})",
                    file.display(),
                    s.regimes.len(),
                    s.assets.len(),
                    s.events.len(),
                    s.steps(),
                    book.portfolios.len(),
                    book.stresses.len()
                ))?
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Failure::input(failures.join("\nerror: ")))
    }
}

/// Prints what the scenario says about its start (the user's levels, events
/// before it) to standard error.
pub fn print_notes(scenario: &Scenario) {
    if let Some(levels) = &scenario.levels {
        eprintln!(
            "note: starting levels from {} (as of {}, sha256 {})",
            levels.file,
            levels.as_of,
            &levels.sha256[..12]
        );
    }
    for note in &scenario.notes {
        eprintln!("note: {note}");
    }
}

/// Prints warnings to standard error: they do not stop a run.
pub fn print_warnings(warnings: &[Warning]) {
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
}
