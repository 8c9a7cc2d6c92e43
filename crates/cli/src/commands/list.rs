//! `stormglass list`: the bundled scenarios, one line each.

use std::path::PathBuf;

use stormglass_core::scenario;

use crate::args::scenarios_dir;
use crate::failure::{say, Failure, Result};

pub fn run() -> Result {
    let dir = scenarios_dir();
    let entries =
        std::fs::read_dir(&dir).map_err(|e| Failure::other(format!("{}: {e}", dir.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    for file in files {
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        match scenario::load(&file) {
            Ok(s) => {
                let line = s.description.lines().next().unwrap_or("").trim();
                say(format_args!("{stem:<22} {line}"))?;
            }
            Err(_) => say(format_args!(
                "{stem:<22} (does not validate: run `stormglass validate {}`)",
                file.display()
            ))?,
        }
    }
    Ok(())
}
