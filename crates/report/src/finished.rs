//! A finished run's per-path table read back from its folder
//! (`paths_metrics.csv`) into a [`PathTable`], streamed row by row so that
//! only the columns asked for are held.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use stormglass_core::input::{self, InputError, Kind};
use stormglass_core::views::{PathTable, UnknownColumn};

/// Why a run folder's per-path table cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FinishedError {
    #[error("{}: no paths_metrics.csv here: the run did not write its per-path table (it writes it up to 100,000 paths); run it again with --paths-csv always", dir.display())]
    NoTable { dir: PathBuf },
    #[error("{0}")]
    Input(#[from] InputError),
    #[error("{0}")]
    UnknownColumn(#[from] UnknownColumn),
    #[error("{}:{line}: {message}", path.display())]
    Corrupt {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

impl stormglass_core::UserFixable for FinishedError {
    fn is_user_fixable(&self) -> bool {
        match self {
            FinishedError::Input(e) => !e.is_io(),
            _ => true,
        }
    }
}

/// The columns `wanted` (every column when `None`) of the run folder `dir`'s
/// per-path table; an unknown column gets the nearest the run has.
pub fn load_table(dir: &Path, wanted: Option<&[&str]>) -> Result<PathTable, FinishedError> {
    let path = dir.join("paths_metrics.csv");
    if !path.is_file() {
        return Err(FinishedError::NoTable {
            dir: dir.to_path_buf(),
        });
    }
    // The table is listed in the folder's manifest; it is streamed, so no
    // limit is needed beyond a regular file's.
    let (file, _) = input::open(&path, Kind::ListedOutput, u64::MAX)?;
    let corrupt = |line: usize, message: String| FinishedError::Corrupt {
        path: path.clone(),
        line,
        message,
    };
    let io = |source| {
        FinishedError::Input(InputError::Io {
            path: path.clone(),
            kind: Kind::ListedOutput,
            source,
        })
    };
    let mut lines = BufReader::new(file).lines();
    let header = lines
        .next()
        .ok_or_else(|| corrupt(1, "empty: no header line".into()))?
        .map_err(io)?;
    let names: Vec<String> = header.split(',').map(str::to_string).collect();
    if names.first().map(String::as_str) != Some("path") {
        return Err(corrupt(1, "the header does not start with `path`".into()));
    }
    let available: Vec<String> = names[1..].to_vec();
    let probe = PathTable::new(available.clone(), 0);
    let wanted: Vec<String> = match wanted {
        Some(w) => w.iter().map(|n| n.to_string()).collect(),
        None => available.clone(),
    };
    let mut at = Vec::with_capacity(wanted.len());
    for name in &wanted {
        let c = available
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| probe.unknown(name))?;
        at.push(c + 1);
    }
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); wanted.len()];
    let mut paths = 0;
    for (i, line) in lines.enumerate() {
        // Lines count from 1, the header first.
        let line = line.map_err(io)?;
        let number = i + 2;
        if line.is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() != names.len() {
            return Err(corrupt(
                number,
                format!("{} cells, the header has {}", cells.len(), names.len()),
            ));
        }
        if cells[0].parse::<usize>().ok() != Some(paths) {
            return Err(corrupt(
                number,
                format!("path `{}` where path {paths} was expected", cells[0]),
            ));
        }
        for (column, &c) in values.iter_mut().zip(&at) {
            let cell = cells[c];
            let value = if cell.is_empty() {
                f64::NAN
            } else {
                cell.parse::<f64>().map_err(|_| {
                    corrupt(
                        number,
                        format!("`{cell}` in `{}` is not a number", names[c]),
                    )
                })?
            };
            column.push(value);
        }
        paths += 1;
    }
    let mut table = PathTable::new(available, paths);
    for (name, column) in wanted.iter().zip(values) {
        table.insert(name, column);
    }
    Ok(table)
}
