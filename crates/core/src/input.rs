//! The one way the engine reads a file a user names or a previous command
//! wrote: scenarios, books, run summaries, history CSVs, targets, sweep files,
//! anchors, plans' manifests, parts and the files an output folder lists.
//!
//! Every read opens without blocking and checks what it opened: a FIFO would
//! wait for a writer forever and a device (`/dev/zero`) never ends, so only a
//! regular file is read, and never more than its kind's limit, whatever its
//! size claimed when it was opened.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// The largest text input read: far above any real scenario, portfolio,
/// stress, targets or sweep file, and small enough that a wrong path cannot
/// exhaust memory.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// A plan's manifest lists every task: a sweep of thousands of points cut into
/// dozens of shards stays far below this.
pub const MAX_MANIFEST_BYTES: u64 = 64 * 1024 * 1024;
/// A history CSV: a century of daily rows of a hundred series is about 40 MB.
pub const MAX_HISTORY_BYTES: u64 = 256 * 1024 * 1024;

/// What a file is, as messages name it, what an empty one lacks, and how much
/// of it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    Scenario,
    Portfolio,
    Stress,
    RunSummary,
    HistoryCsv,
    Targets,
    SweepFile,
    Anchors,
    /// A views file (`stormglass views --views`).
    Views,
    PlanManifest,
    /// A shard's part: binary, streamed, its length checked against its header.
    Part,
    /// The `.stormglass-manifest` of an output folder.
    OutputManifest,
    /// A file an output folder's manifest lists, hashed to see it is unchanged.
    ListedOutput,
    /// The `attribution.json` beside a run's folder.
    Attribution,
    /// Starting levels (`run --levels`): TOML, or a CSV of `asset,level,date`.
    Levels,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Scenario => "scenario file",
            Kind::Portfolio => "portfolio file",
            Kind::Stress => "stress file",
            Kind::RunSummary => "run summary",
            Kind::HistoryCsv => "history CSV",
            Kind::Targets => "targets file",
            Kind::SweepFile => "sweep file",
            Kind::Anchors => "anchors file",
            Kind::Views => "views file",
            Kind::PlanManifest => "plan's manifest",
            Kind::Part => "part",
            Kind::OutputManifest => "output folder's manifest",
            Kind::ListedOutput => "output file",
            Kind::Attribution => "attribution summary",
            Kind::Levels => "levels file",
        }
    }

    /// What the path should have named, for a directory or a device given instead.
    fn expected(self) -> &'static str {
        match self {
            Kind::Scenario => "a .toml scenario file",
            Kind::Portfolio => "a .toml portfolio file",
            Kind::Stress => "a .toml stress file",
            Kind::RunSummary => "a run's summary.json",
            Kind::HistoryCsv => "a .csv file of dates and series",
            Kind::Targets => "a .toml targets file",
            Kind::SweepFile => "a .toml sweep file",
            Kind::Anchors => "a .toml anchors file",
            Kind::Views => "a .toml views file",
            Kind::PlanManifest => "a plan's manifest.json (or its folder)",
            Kind::Part => "a .part file written by `stormglass run --shard` or `stormglass task`",
            Kind::OutputManifest | Kind::ListedOutput => "a file a run wrote",
            Kind::Attribution => "the attribution.json `stormglass attribute` writes",
            Kind::Levels => "a .toml or .csv file of starting levels",
        }
    }

    /// What an empty file of this kind lacks.
    fn needs(self) -> &'static str {
        match self {
            Kind::Scenario => "a scenario needs at least a [scenario] table and one asset",
            Kind::Portfolio => "a portfolio file needs at least one [[portfolio]] table",
            Kind::Stress => "a stress file needs at least one [[stress]] table",
            Kind::RunSummary => "a run summary is the JSON object `stormglass run` writes",
            Kind::HistoryCsv => "expected a header line `date,SERIES,...` and one row a date",
            Kind::Targets => "a targets file needs at least one [[target]] table",
            Kind::SweepFile => "a sweep file needs a [sweep] table with `vary`",
            Kind::Anchors => "an anchors file needs at least one [[anchor]] table",
            Kind::Views => "a views file needs at least one [[view]] table",
            Kind::PlanManifest => "a manifest is the JSON object `stormglass plan` writes",
            Kind::Levels => {
                "a levels file needs the date the levels were taken and at least one level"
            }
            Kind::Part | Kind::OutputManifest | Kind::ListedOutput | Kind::Attribution => {
                "it was cut short when written; write it again"
            }
        }
    }

    /// The most bytes read of a file of this kind. A part is streamed, never
    /// held whole, and must be exactly as long as its header says; the limit
    /// only keeps a device out. A listed output file is also streamed, and
    /// bounded by the size its manifest records (see [`sha256`]).
    pub fn limit(self) -> u64 {
        match self {
            Kind::PlanManifest => MAX_MANIFEST_BYTES,
            Kind::HistoryCsv => MAX_HISTORY_BYTES,
            Kind::Part | Kind::ListedOutput => u64::MAX,
            _ => MAX_FILE_BYTES,
        }
    }
}

/// Why an input file was not read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    #[error("{}: cannot read the {}: {source}", path.display(), kind.name())]
    Io {
        path: PathBuf,
        kind: Kind,
        source: io::Error,
    },
    #[error("{}: is a directory; give the path of {}", path.display(), kind.expected())]
    IsDirectory { path: PathBuf, kind: Kind },
    #[error("{}: not a regular file (a FIFO, device or socket); give the path of {}", path.display(), kind.expected())]
    NotRegularFile { path: PathBuf, kind: Kind },
    #[error("{}: the {} is larger than the limit of {limit} bytes", path.display(), kind.name())]
    TooLarge {
        path: PathBuf,
        kind: Kind,
        limit: u64,
    },
    #[error("{}:{line}:{column}: the {} is not valid UTF-8: invalid byte 0x{value:02x} at byte offset {byte}", path.display(), kind.name())]
    NotUtf8 {
        path: PathBuf,
        kind: Kind,
        line: usize,
        column: usize,
        byte: usize,
        value: u8,
    },
    #[error("{}: the {} is empty; {}", path.display(), kind.name(), kind.needs())]
    Empty { path: PathBuf, kind: Kind },
}

impl InputError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            InputError::Io { path, .. }
            | InputError::IsDirectory { path, .. }
            | InputError::NotRegularFile { path, .. }
            | InputError::TooLarge { path, .. }
            | InputError::NotUtf8 { path, .. }
            | InputError::Empty { path, .. } => path,
        }
    }

    /// A missing or unreadable file (permissions, a disk error) rather than
    /// one of the wrong kind.
    pub fn is_io(&self) -> bool {
        matches!(self, InputError::Io { .. })
    }
}

/// An open regular file of `kind` and its length, at most `limit` bytes.
///
/// Opened without blocking (a FIFO opens at once and is then refused), and
/// checked on the opened file, so a path swapped after a check cannot slip a
/// device in.
pub fn open(path: &Path, kind: Kind, limit: u64) -> Result<(File, u64), InputError> {
    let io = |source| InputError::Io {
        path: path.to_path_buf(),
        kind,
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    let file = options.open(path).map_err(io)?;
    let metadata = file.metadata().map_err(io)?;
    if metadata.is_dir() {
        return Err(InputError::IsDirectory {
            path: path.to_path_buf(),
            kind,
        });
    }
    if !metadata.is_file() {
        return Err(InputError::NotRegularFile {
            path: path.to_path_buf(),
            kind,
        });
    }
    if metadata.len() > limit {
        return Err(InputError::TooLarge {
            path: path.to_path_buf(),
            kind,
            limit,
        });
    }
    Ok((file, metadata.len()))
}

/// The bytes of a file of `kind`, at most its [`Kind::limit`].
pub fn read_bytes(path: &Path, kind: Kind) -> Result<Vec<u8>, InputError> {
    read_bounded(path, kind, kind.limit())
}

fn read_bounded(path: &Path, kind: Kind, limit: u64) -> Result<Vec<u8>, InputError> {
    let (file, length) = open(path, kind, limit)?;
    // The length is what the file held when opened; a file still growing is
    // read no further than the limit either.
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(length as usize)
        .map_err(|_| InputError::TooLarge {
            path: path.to_path_buf(),
            kind,
            limit,
        })?;
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| InputError::Io {
            path: path.to_path_buf(),
            kind,
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge {
            path: path.to_path_buf(),
            kind,
            limit,
        });
    }
    Ok(bytes)
}

/// The text of a file of `kind`: a regular file, at most its [`Kind::limit`],
/// valid UTF-8 (else the line, column and byte offset of the first bad byte),
/// and not blank.
pub fn read_text(path: &Path, kind: Kind) -> Result<String, InputError> {
    let bytes = read_bytes(path, kind)?;
    let text = decode_utf8(bytes, path, kind)?;
    if text.trim().is_empty() {
        return Err(InputError::Empty {
            path: path.to_path_buf(),
            kind,
        });
    }
    Ok(text)
}

/// `bytes` as text, or an error at the first invalid byte.
pub fn decode_utf8(bytes: Vec<u8>, path: &Path, kind: Kind) -> Result<String, InputError> {
    String::from_utf8(bytes).map_err(|error| {
        let byte = error.utf8_error().valid_up_to();
        let bytes = error.as_bytes();
        let valid = std::str::from_utf8(&bytes[..byte]).unwrap_or_default();
        let line = valid.matches('\n').count() + 1;
        let column = valid.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        InputError::NotUtf8 {
            path: path.to_path_buf(),
            kind,
            line,
            column,
            byte,
            value: bytes[byte],
        }
    })
}

/// The SHA-256 of a file of `kind` at most `limit` bytes long, in hex,
/// streamed (never held whole).
pub fn sha256(path: &Path, kind: Kind, limit: u64) -> Result<String, InputError> {
    use sha2::{Digest, Sha256};
    let (file, _) = open(path, kind, limit)?;
    let mut hasher = Sha256::new();
    let copied =
        io::copy(&mut file.take(limit.saturating_add(1)), &mut hasher).map_err(|source| {
            InputError::Io {
                path: path.to_path_buf(),
                kind,
                source,
            }
        })?;
    if copied > limit {
        return Err(InputError::TooLarge {
            path: path.to_path_buf(),
            kind,
            limit,
        });
    }
    Ok(format!("{:x}", hasher.finalize()))
}
