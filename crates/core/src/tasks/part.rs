//! A shard's partial result on disk, and the merge of a run's parts back into
//! the [`Simulation`] a single run would have made.
//!
//! Layout (little-endian): the magic line, the header's length (u64) and the
//! header as JSON, then the body: the fan grid's lower edges and widths (f64),
//! the fan counts (u32), the occupancy counts (u64), the sample paths' levels
//! (f64) and regimes (u8), the rows of the shard's paths (f64); last the
//! SHA-256 of everything before it, so a truncated or damaged part is refused.
//! Every mergeable figure is an integer count or a per-path row, so the merge
//! is exact in any order: merged runs are bit-identical to single ones.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::{SamplePaths, Shard, ShardRun, Simulation};
use crate::output as files;
use crate::run::{Prepared, Recipe};
use crate::stats::{FanGrid, FanHistogram, MetricLayout, FAN_BINS};

/// The part format's version; parts of another are refused.
pub const PART_FORMAT: u32 = 1;
const MAGIC: &[u8; 16] = b"stormglass part\n";
/// Headers longer than this are not a part's.
const MAX_HEADER: u64 = 16 << 20;

/// Which task of a plan wrote a part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskTag {
    /// SHA-256 of the manifest file the task ran from.
    pub manifest: String,
    pub index: usize,
}

/// What a part holds and which run it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartHeader {
    pub format: u32,
    pub version: String,
    /// The run's fingerprint ([`super::Prepared::fingerprint`]): parts of one run share it.
    pub run: String,
    pub scenario_name: String,
    /// The folder the shard ran in, where the recipe's files are as typed.
    pub directory: PathBuf,
    pub recipe: Recipe,
    pub paths: u64,
    pub seed: u64,
    pub shard: Shard,
    /// The paths whose rows the part holds.
    pub rows: Range<u64>,
    pub columns: Vec<String>,
    pub steps: usize,
    pub series: usize,
    /// The regime occupancy counts, then the observers' tallies.
    pub occupancy: usize,
    /// How many of `occupancy` are the observers' tallies (the last ones).
    #[serde(default)]
    pub tallies: usize,
    pub sample_paths: usize,
    pub sample_points: usize,
    pub wall_time_seconds: f64,
    pub task: Option<TaskTag>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PartError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Input(crate::input::InputError),
    #[error("{}: not a Stormglass part (written by `stormglass run --shard` or `stormglass task`)", path.display())]
    NotAPart { path: PathBuf },
    #[error("{}: written by Stormglass {version} (part format {format}); this is {} (format {PART_FORMAT}): run the shard again with this version", path.display(), crate::VERSION)]
    OtherVersion {
        path: PathBuf,
        version: String,
        format: u32,
    },
    #[error("{}: damaged or incomplete ({reason}); run its shard again", path.display())]
    Damaged { path: PathBuf, reason: String },
    #[error("{}: damaged or incomplete ({reason}): run task {index} again (`stormglass task {} --index {index} --force`)", path.display(), manifest.display())]
    DamagedTask {
        path: PathBuf,
        reason: String,
        index: usize,
        manifest: PathBuf,
    },
    #[error("{} and {} are parts of different runs ({what}); merge the parts of one run only", first.display(), second.display())]
    OtherRun {
        first: PathBuf,
        second: PathBuf,
        what: String,
    },
    #[error("shard {shard} appears twice: {} and {} (a shard that ran twice); keep one", first.display(), second.display())]
    Duplicate {
        shard: Shard,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("missing shard{} {} of {count}: run {}", if missing.len() > 1 { "s" } else { "" }, list(missing), hint)]
    Missing {
        missing: Vec<usize>,
        count: usize,
        hint: String,
    },
    #[error("{}: exists; pass --force to replace it", path.display())]
    Exists { path: PathBuf },
    #[error("no parts given")]
    Empty,
}

impl PartError {
    /// The error about task `index`'s part of the plan at `manifest`: a
    /// damaged part, or one no longer recognisable as a part, is fixed by
    /// running that task again.
    pub fn of_task(self, index: usize, manifest: &Path) -> PartError {
        match self {
            PartError::Damaged { path, reason } => PartError::DamagedTask {
                path,
                reason,
                index,
                manifest: manifest.to_path_buf(),
            },
            PartError::NotAPart { path } => PartError::DamagedTask {
                path,
                reason: "it does not start as a part does".into(),
                index,
                manifest: manifest.to_path_buf(),
            },
            other => other,
        }
    }
}

impl crate::UserFixable for PartError {
    /// Every part error is fixed by the user (other parts, or running a shard again).
    fn is_user_fixable(&self) -> bool {
        match self {
            PartError::Io { .. } => false,
            PartError::Input(error) => !error.is_io(),
            _ => true,
        }
    }
}

fn list(indices: &[usize]) -> String {
    let shown: Vec<String> = indices.iter().take(20).map(|i| i.to_string()).collect();
    let more = indices.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

fn io_error(path: &Path) -> impl Fn(io::Error) -> PartError + '_ {
    move |source| PartError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes bytes through a running SHA-256.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(bytes)?;
        self.hasher.update(&bytes[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, bytes: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(bytes)?;
        self.hasher.update(&bytes[..n]);
        Ok(n)
    }
}

/// The header a shard's part carries.
pub fn header_of(
    run: &ShardRun,
    fingerprint: String,
    scenario_name: &str,
    directory: PathBuf,
    recipe: &Recipe,
    steps: usize,
    task: Option<TaskTag>,
) -> PartHeader {
    let simulation = &run.simulation;
    let carries_samples = run.shard.index == 0;
    PartHeader {
        format: PART_FORMAT,
        version: crate::VERSION.to_string(),
        run: fingerprint,
        scenario_name: scenario_name.to_string(),
        directory,
        recipe: recipe.clone(),
        paths: simulation.paths,
        seed: simulation.seed,
        shard: run.shard,
        rows: run.rows.clone(),
        columns: simulation.layout.names.clone(),
        steps,
        series: simulation.fan_grid.series,
        occupancy: simulation.occupancy.len() + simulation.tallies.len(),
        tallies: simulation.tallies.len(),
        sample_paths: if carries_samples {
            simulation.samples.paths
        } else {
            0
        },
        sample_points: simulation.samples.points,
        wall_time_seconds: simulation.wall_time.as_secs_f64(),
        task,
    }
}

/// Writes `run` to `path` under `header`: into a temporary file beside it,
/// renamed into place once complete. An existing part is kept unless `force`.
pub fn write_part(
    path: &Path,
    header: &PartHeader,
    run: &ShardRun,
    force: bool,
) -> Result<(), PartError> {
    if path.exists() && !force {
        return Err(PartError::Exists {
            path: path.to_path_buf(),
        });
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "part".into());
    sweep_stale_parts(dir);
    let staging = dir.join(format!(".{name}.{}.partial", std::process::id()));
    // Registered, so SIGINT or SIGTERM (a scheduler's pre-emption) removes it.
    files::register_staging(&staging, true);
    let written = match files::start_writing(&staging) {
        None => Err(interrupted(&staging)),
        Some(_writing) => write_body(&staging, header, &run.simulation)
            .and_then(|()| fs::rename(&staging, path).map_err(io_error(path))),
    };
    if written.is_err() {
        let _ = fs::remove_file(&staging);
    }
    files::register_staging(&staging, false);
    written
}

fn interrupted(path: &Path) -> PartError {
    io_error(path)(io::Error::new(io::ErrorKind::Interrupted, "interrupted"))
}

/// Removes part staging files (`.NAME.part.PID.partial`) that a task killed
/// outright (kill -9, a lost node) left in `dir`: only the engine's own
/// naming, and only where that process is gone.
pub fn sweep_stale_parts(dir: &Path) {
    files::sweep_stale_with(dir, |name| {
        let rest = name.strip_prefix('.')?.strip_suffix(".partial")?;
        let (part, pid) = rest.rsplit_once('.')?;
        if !part.ends_with(".part") || part.len() == ".part".len() {
            return None;
        }
        pid.parse().ok()
    });
}

fn write_body(path: &Path, header: &PartHeader, simulation: &Simulation) -> Result<(), PartError> {
    let file = File::create(path).map_err(io_error(path))?;
    let mut out = Hashing {
        inner: BufWriter::with_capacity(1 << 20, files::Cancellable(file)),
        hasher: Sha256::new(),
    };
    let json = serde_json::to_vec(header).expect("a part header serialises");
    let body = (|| -> io::Result<()> {
        out.write_all(MAGIC)?;
        out.write_all(&(json.len() as u64).to_le_bytes())?;
        out.write_all(&json)?;
        let (lower, width) = simulation.fan_grid.edges();
        write_f64s(&mut out, lower)?;
        write_f64s(&mut out, width)?;
        write_le(&mut out, simulation.fan.counts(), |c| c.to_le_bytes())?;
        write_le(&mut out, &simulation.occupancy, |c| c.to_le_bytes())?;
        write_le(&mut out, &simulation.tallies, |c| c.to_le_bytes())?;
        let samples = &simulation.samples;
        let levels = header.sample_paths * samples.points * samples.assets;
        write_f64s(&mut out, &samples.levels[..levels])?;
        out.write_all(&samples.regimes[..header.sample_paths * samples.points])?;
        write_f64s(&mut out, &simulation.metrics)?;
        let digest = out.hasher.clone().finalize();
        out.inner.write_all(&digest)?;
        out.inner.flush()?;
        out.inner.get_ref().0.sync_all()
    })();
    body.map_err(io_error(path))
}

/// Values per block of the bodies' reads and writes: one call (and one
/// checksum update) per block rather than per value, which made a million-path
/// part's reading and writing take ten times its simulation's share of time.
const BLOCK_VALUES: usize = 1 << 15;

fn write_f64s(out: &mut impl Write, values: &[f64]) -> io::Result<()> {
    write_le(out, values, |v| v.to_le_bytes())
}

/// Writes `values` little-endian, a block at a time.
fn write_le<T: Copy, const N: usize>(
    out: &mut impl Write,
    values: &[T],
    bytes_of: impl Fn(T) -> [u8; N],
) -> io::Result<()> {
    let mut block = Vec::with_capacity(BLOCK_VALUES.min(values.len()) * N);
    for chunk in values.chunks(BLOCK_VALUES) {
        block.clear();
        for value in chunk {
            block.extend_from_slice(&bytes_of(*value));
        }
        out.write_all(&block)?;
    }
    Ok(())
}

/// Reads `values.len()` little-endian values into `values`, a block at a
/// time, combining each with what is there (`merge(old, read)`).
fn read_le<T: Copy, const N: usize>(
    input: &mut impl Read,
    values: &mut [T],
    from_bytes: impl Fn([u8; N]) -> T,
    merge: impl Fn(T, T) -> T,
) -> io::Result<()> {
    let mut block = vec![0u8; BLOCK_VALUES.min(values.len()) * N];
    for chunk in values.chunks_mut(BLOCK_VALUES) {
        let bytes = &mut block[..chunk.len() * N];
        input.read_exact(bytes)?;
        for (value, raw) in chunk.iter_mut().zip(bytes.chunks_exact(N)) {
            let raw: [u8; N] = raw.try_into().expect("chunks of N bytes");
            *value = merge(*value, from_bytes(raw));
        }
    }
    Ok(())
}

/// Bytes before the header: the magic line and the header's length.
const PREAMBLE: u64 = MAGIC.len() as u64 + 8;
/// The SHA-256 trailer.
const TRAILER: u64 = 32;
/// The longest time a shard's header may record: a century. More is a damaged
/// or edited header, and would overflow the run's total time.
pub const MAX_WALL_SECONDS: f64 = 100.0 * 365.25 * 86_400.0;

/// Opens the part at `path` through the input reader (a FIFO or a device is
/// refused), checks its magic line, and hands back the file and its length.
fn open_file(path: &Path) -> Result<(File, u64), PartError> {
    let (mut file, length) =
        crate::input::open(path, crate::input::Kind::Part, u64::MAX).map_err(PartError::Input)?;
    let not_a_part = || PartError::NotAPart {
        path: path.to_path_buf(),
    };
    let mut magic = [0u8; 16];
    file.read_exact(&mut magic).map_err(|_| not_a_part())?;
    if &magic != MAGIC {
        return Err(not_a_part());
    }
    Ok((file, length))
}

/// Streams the whole part at `path` through SHA-256 and compares the trailer,
/// before anything of it is trusted: a part cut short or changed by a node
/// that died is refused here, and nothing has been allocated from its header.
fn verify_checksum(path: &Path) -> Result<(), PartError> {
    let (file, length) = open_file(path)?;
    if length < PREAMBLE + TRAILER {
        return Err(damaged(path, "it ends early"));
    }
    let mut input = Hashing {
        inner: BufReader::with_capacity(1 << 20, file),
        hasher: Sha256::new(),
    };
    input.hasher.update(MAGIC);
    let hashed = length - TRAILER - MAGIC.len() as u64;
    let copied =
        io::copy(&mut (&mut input).take(hashed), &mut io::sink()).map_err(io_error(path))?;
    if copied != hashed {
        return Err(damaged(path, "it ends early"));
    }
    let digest = input.hasher.clone().finalize();
    let mut trailer = [0u8; TRAILER as usize];
    input
        .inner
        .read_exact(&mut trailer)
        .map_err(|_| damaged(path, "it ends early"))?;
    if trailer[..] != digest[..] {
        return Err(damaged(path, "its checksum does not match"));
    }
    Ok(())
}

/// Reads the header of the part at `path`, leaving the reader at its body.
/// The header's sizes are checked to add up to the file's length exactly, so
/// no size read from it can ask for more memory than the part itself holds.
fn open(path: &Path) -> Result<(PartHeader, Hashing<BufReader<File>>), PartError> {
    let (file, file_length) = open_file(path)?;
    let mut input = Hashing {
        inner: BufReader::with_capacity(1 << 20, file),
        hasher: Sha256::new(),
    };
    input.hasher.update(MAGIC);
    let not_a_part = || PartError::NotAPart {
        path: path.to_path_buf(),
    };
    let mut length = [0u8; 8];
    input.read_exact(&mut length).map_err(|_| not_a_part())?;
    let length = u64::from_le_bytes(length);
    if length > MAX_HEADER {
        return Err(not_a_part());
    }
    if PREAMBLE + length + TRAILER > file_length {
        return Err(damaged(path, "it ends early"));
    }
    let mut json = vec![0u8; length as usize];
    input
        .read_exact(&mut json)
        .map_err(|_| damaged(path, "its header is cut short"))?;
    // The version first, so a part of another format says so rather than failing to parse.
    #[derive(Deserialize)]
    struct Version {
        format: u32,
        version: String,
    }
    let version: Version = serde_json::from_slice(&json).map_err(|_| not_a_part())?;
    if version.format != PART_FORMAT || version.version != crate::VERSION {
        return Err(PartError::OtherVersion {
            path: path.to_path_buf(),
            version: version.version,
            format: version.format,
        });
    }
    let header: PartHeader = serde_json::from_slice(&json)
        .map_err(|e| damaged(path, &format!("its header does not read: {e}")))?;
    check_header(path, &header)?;
    let body = body_length(&header).ok_or_else(|| damaged(path, "its header's sizes overflow"))?;
    let expected = (PREAMBLE + length + TRAILER).checked_add(body);
    if expected != Some(file_length) {
        let reason = match expected {
            Some(expected) if expected > file_length => "it ends early".to_string(),
            Some(expected) => {
                format!("it is {file_length} bytes where its header makes {expected}")
            }
            None => "its header's sizes overflow".to_string(),
        };
        return Err(damaged(path, &reason));
    }
    Ok((header, input))
}

/// The body's length in bytes as the header gives it, or `None` on overflow.
fn body_length(header: &PartHeader) -> Option<u64> {
    let (before_rows, rows) = body_sections(header)?;
    before_rows.checked_add(rows)
}

/// The body's bytes before the paths' rows, and the rows', as the header
/// gives them, or `None` on overflow.
fn body_sections(header: &PartHeader) -> Option<(u64, u64)> {
    let points = (header.steps as u64)
        .checked_add(1)?
        .checked_mul(header.series as u64)?;
    let samples = (header.sample_paths as u64).checked_mul(header.sample_points as u64)?;
    let rows = header.rows.end.checked_sub(header.rows.start)?;
    let before_rows = [
        points.checked_mul(16)?,
        points.checked_mul(FAN_BINS as u64 * 4)?,
        (header.occupancy as u64).checked_mul(8)?,
        samples.checked_mul(header.series as u64)?.checked_mul(8)?,
        samples,
    ];
    let before_rows = before_rows
        .iter()
        .try_fold(0u64, |sum, size| sum.checked_add(*size))?;
    let rows = rows
        .checked_mul(header.columns.len() as u64)?
        .checked_mul(8)?;
    Some((before_rows, rows))
}

/// The header's fields that do not depend on the run: each in its range.
fn check_header(path: &Path, header: &PartHeader) -> Result<(), PartError> {
    let fail = |reason: String| Err(damaged(path, &reason));
    let shard = header.shard;
    if shard.count == 0 || shard.index >= shard.count {
        return fail(format!(
            "its header's shard is {}/{}: the index must be from 0 to N-1 and N at least 1",
            shard.index, shard.count
        ));
    }
    if header.rows.start > header.rows.end || header.rows.end > header.paths {
        return fail(format!(
            "its header's rows {}..{} are not within its {} paths",
            header.rows.start, header.rows.end, header.paths
        ));
    }
    if header.sample_paths as u64 > header.paths {
        return fail(format!(
            "its header's sample_paths {} is more than its {} paths",
            header.sample_paths, header.paths
        ));
    }
    let seconds = header.wall_time_seconds;
    if !(0.0..=MAX_WALL_SECONDS).contains(&seconds) {
        return fail(format!(
            "its header's wall_time_seconds is {seconds:e}; a shard's time is 0 to {MAX_WALL_SECONDS:e} seconds"
        ));
    }
    Ok(())
}

fn damaged(path: &Path, reason: &str) -> PartError {
    PartError::Damaged {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Whether `path` is a regular file that starts as a part does (whole or
/// damaged): what a new plan may delete from its `parts` folder.
pub fn starts_as_part(path: &Path) -> bool {
    open_file(path).is_ok()
}

/// Reads the header of the part at `path`, once its checksum is verified.
pub fn read_header(path: &Path) -> Result<PartHeader, PartError> {
    if let Err(error) = verify_checksum(path) {
        // A part cut short fails its checksum too; say so when its header
        // (bounded by the file's length) shows it.
        return match open(path) {
            Err(PartError::Damaged { reason, .. }) if reason == "it ends early" => Err(damaged(
                path,
                "it ends early, and its checksum does not match",
            )),
            _ => Err(error),
        };
    }
    open(path).map(|(header, _)| header)
}

/// The sizes of the run a set of parts is merged into, rebuilt from their
/// recipe: every part's header must agree before its body is read.
#[derive(Debug, Clone, Copy)]
pub struct RunShape {
    pub paths: u64,
    pub steps: usize,
    pub series: usize,
    pub occupancy: usize,
    /// The most sample paths the run keeps.
    pub sample_paths: usize,
}

impl RunShape {
    /// The sizes a part of `run` holds, which a merge holds its parts to.
    pub fn of(run: &Prepared) -> RunShape {
        let model = &run.model;
        RunShape {
            paths: run.options.paths,
            steps: model.steps,
            series: model.assets.len(),
            occupancy: model.steps * model.regimes()
                + crate::engine::PathObserver::tallies(&run.tracker()),
            sample_paths: run.options.sample_paths,
        }
    }

    fn check(&self, path: &Path, header: &PartHeader) -> Result<(), PartError> {
        let differs = |field: &str, found: String, run: String| {
            Err(damaged(
                path,
                &format!("its header's {field} is {found}; the run its recipe builds has {run}"),
            ))
        };
        if header.paths != self.paths {
            return differs("paths", header.paths.to_string(), self.paths.to_string());
        }
        if header.steps != self.steps {
            return differs("steps", header.steps.to_string(), self.steps.to_string());
        }
        if header.series != self.series {
            return differs("series", header.series.to_string(), self.series.to_string());
        }
        if header.occupancy != self.occupancy {
            return differs(
                "occupancy",
                header.occupancy.to_string(),
                self.occupancy.to_string(),
            );
        }
        if header.sample_points != self.steps + 1 {
            return differs(
                "sample_points",
                header.sample_points.to_string(),
                (self.steps + 1).to_string(),
            );
        }
        if header.sample_paths > self.sample_paths {
            return differs(
                "sample_paths",
                header.sample_paths.to_string(),
                format!("at most {}", self.sample_paths),
            );
        }
        Ok(())
    }
}

/// Some columns of a run's paths, read from its parts ([`PartSet::read_columns`]).
#[derive(Debug, Clone)]
pub struct PartColumns {
    /// Each column asked for, one value per path of the run.
    pub columns: Vec<Vec<f64>>,
    /// The rows each part held, in shard order.
    pub rows: Vec<Range<usize>>,
}

/// The parts of one run, checked against each other, in shard order.
#[derive(Debug)]
pub struct PartSet {
    pub parts: Vec<(PathBuf, PartHeader)>,
}

impl PartSet {
    /// Reads the headers of `paths` and checks they are every shard of one run,
    /// each once. `hint(missing)` says how to make missing shards.
    pub fn gather(
        paths: &[PathBuf],
        hint: impl Fn(&PartHeader, &[usize]) -> String,
    ) -> Result<PartSet, PartError> {
        let mut parts = paths
            .iter()
            .map(|path| read_header(path).map(|header| (path.clone(), header)))
            .collect::<Result<Vec<_>, _>>()?;
        let Some((first_path, first)) = parts.first().cloned() else {
            return Err(PartError::Empty);
        };
        for (path, header) in &parts[1..] {
            let differs = |what: &str| PartError::OtherRun {
                first: first_path.clone(),
                second: path.clone(),
                what: what.to_string(),
            };
            if header.run != first.run {
                return Err(differs(&format!(
                    "scenario `{}` against `{}`, or its settings, paths, seed or files",
                    first.scenario_name, header.scenario_name
                )));
            }
            if header.shard.count != first.shard.count {
                return Err(differs(&format!(
                    "cut into {} and {} shards",
                    first.shard.count, header.shard.count
                )));
            }
            if header.task.as_ref().map(|t| &t.manifest) != first.task.as_ref().map(|t| &t.manifest)
            {
                return Err(differs("written from different plans"));
            }
        }
        parts.sort_by_key(|(_, header)| header.shard.index);
        for pair in parts.windows(2) {
            if pair[0].1.shard == pair[1].1.shard {
                return Err(PartError::Duplicate {
                    shard: pair[0].1.shard,
                    first: pair[0].0.clone(),
                    second: pair[1].0.clone(),
                });
            }
        }
        let count = first.shard.count;
        let missing: Vec<usize> = (0..count)
            .filter(|i| {
                parts
                    .binary_search_by_key(i, |(_, h)| h.shard.index)
                    .is_err()
            })
            .collect();
        if !missing.is_empty() {
            return Err(PartError::Missing {
                hint: hint(&first, &missing),
                missing,
                count,
            });
        }
        Ok(PartSet { parts })
    }

    /// The first shard's header (every part's agrees on the run).
    pub fn header(&self) -> &PartHeader {
        &self.parts[0].1
    }

    /// Holds every part's header to the run its recipe builds (`layout`,
    /// `shape`): the sizes a reader allocates come from the run, not a part.
    pub fn check_shape(&self, layout: &MetricLayout, shape: &RunShape) -> Result<(), PartError> {
        for (path, header) in &self.parts {
            shape.check(path, header)?;
            if layout.names != header.columns {
                return Err(damaged(
                    path,
                    "its columns are not those of the run its recipe builds",
                ));
            }
        }
        Ok(())
    }

    /// The columns `wanted` (indices into the run's `layout`) of every path,
    /// read from the parts' rows one part at a time in shard order, every
    /// other figure of a part skipped (but checksummed, as a merge does): a
    /// computation over a few figures of a large sharded run never holds
    /// its whole table. The headers are checked first, as [`PartSet::merge`]
    /// does.
    pub fn read_columns(
        &self,
        layout: &MetricLayout,
        shape: &RunShape,
        wanted: &[usize],
    ) -> Result<PartColumns, PartError> {
        self.check_shape(layout, shape)?;
        let first = self.header();
        let (first_path, _) = &self.parts[0];
        let columns = layout.columns();
        if let Some(c) = wanted.iter().find(|c| **c >= columns) {
            return Err(damaged(
                first_path,
                &format!("column {c} asked for of its {columns}"),
            ));
        }
        let paths = first.paths as usize;
        let mut out: Vec<Vec<f64>> = Vec::with_capacity(wanted.len());
        for _ in wanted {
            let mut column = Vec::new();
            column
                .try_reserve_exact(paths)
                .map_err(|_| damaged(first_path, "its run's columns do not fit in memory"))?;
            out.push(column);
        }
        let mut ranges = Vec::with_capacity(self.parts.len());
        let mut next_row = 0u64;
        for (path, header) in &self.parts {
            if header.rows.start != next_row || header.rows.end > first.paths {
                return Err(damaged(path, "its rows do not follow the previous shard's"));
            }
            next_row = header.rows.end;
            ranges.push(header.rows.start as usize..header.rows.end as usize);
            let (_, mut input) = open(path)?;
            let (before_rows, _) = body_sections(header)
                .ok_or_else(|| damaged(path, "its header's sizes overflow"))?;
            let body = (|| -> io::Result<()> {
                let skipped = io::copy(&mut (&mut input).take(before_rows), &mut io::sink())?;
                if skipped != before_rows {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                let rows = (header.rows.end - header.rows.start) as usize;
                let rows_per_block = (BLOCK_VALUES / columns.max(1)).max(1);
                let mut block = vec![0.0; rows_per_block.min(rows) * columns];
                let mut left = rows;
                while left > 0 {
                    let n = rows_per_block.min(left);
                    let values = &mut block[..n * columns];
                    read_le(&mut input, values, f64::from_le_bytes, |_, read| read)?;
                    for (column, c) in out.iter_mut().zip(wanted) {
                        column.extend(values.iter().skip(*c).step_by(columns));
                    }
                    left -= n;
                }
                check_trailer(&mut input)
            })();
            body.map_err(|e| body_damage(path, e))?;
        }
        if next_row != first.paths {
            let (path, _) = self.parts.last().expect("at least one part");
            return Err(damaged(path, "the shards' rows do not cover every path"));
        }
        Ok(PartColumns {
            columns: out,
            rows: ranges,
        })
    }

    /// Reads every part's body into one simulation, in shard order: the rows
    /// go straight into the run's table, the counts are added up, the samples
    /// come from shard 0. `layout` is the run's, rebuilt from its recipe.
    pub fn merge(&self, layout: MetricLayout, shape: &RunShape) -> Result<Simulation, PartError> {
        let first = self.header();
        let columns = layout.columns();
        let (first_path, _) = &self.parts[0];
        // Every size allocated below comes from the rebuilt run, and every
        // part's header is held to it first.
        self.check_shape(&layout, shape)?;
        let points = (first.steps + 1) * first.series;
        let paths = first.paths as usize;
        let mut metrics: Vec<f64> = Vec::new();
        metrics
            .try_reserve_exact(paths * columns)
            .map_err(|_| damaged(first_path, "its run's table does not fit in memory"))?;
        metrics.resize(paths * columns, 0.0);
        let mut grid: Option<FanGrid> = None;
        let mut fan: Option<FanHistogram> = None;
        let mut occupancy = vec![0u64; first.occupancy];
        let mut samples = SamplePaths {
            paths: 0,
            points: first.sample_points,
            assets: first.series,
            levels: Vec::new(),
            regimes: Vec::new(),
        };
        let mut next_row = 0u64;
        let mut wall_time = Duration::ZERO;
        for (path, header) in &self.parts {
            if header.rows.start != next_row || header.rows.end > first.paths {
                return Err(damaged(path, "its rows do not follow the previous shard's"));
            }
            next_row = header.rows.end;
            let (_, mut input) = open(path)?;
            let body = (|| -> io::Result<()> {
                let lower = read_f64s(&mut input, points)?;
                let width = read_f64s(&mut input, points)?;
                let part_grid = FanGrid::from_edges(first.steps, first.series, lower, width)
                    .ok_or_else(|| io::Error::other("a fan grid of the wrong size"))?;
                match &grid {
                    None => {
                        fan = Some(FanHistogram::new(&part_grid));
                        grid = Some(part_grid);
                    }
                    Some(grid) => {
                        if !same_bits(grid.edges().0, part_grid.edges().0)
                            || !same_bits(grid.edges().1, part_grid.edges().1)
                        {
                            return Err(io::Error::other("its fan grid is not the first shard's"));
                        }
                    }
                }
                let counts = fan.as_mut().expect("set with the grid").counts_mut();
                debug_assert_eq!(counts.len(), points * FAN_BINS);
                read_le(&mut input, counts, u32::from_le_bytes, |a, b| a + b)?;
                read_le(&mut input, &mut occupancy, u64::from_le_bytes, |a, b| a + b)?;
                if header.sample_paths > 0 {
                    samples.paths = header.sample_paths;
                    samples.levels = read_f64s(
                        &mut input,
                        header.sample_paths * header.sample_points * header.series,
                    )?;
                    samples.regimes = vec![0u8; header.sample_paths * header.sample_points];
                    input.read_exact(&mut samples.regimes)?;
                }
                let rows = &mut metrics
                    [header.rows.start as usize * columns..header.rows.end as usize * columns];
                read_le(&mut input, rows, f64::from_le_bytes, |_, read| read)?;
                check_trailer(&mut input)
            })();
            body.map_err(|e| body_damage(path, e))?;
            // Checked to be 0 to a century when the header was read.
            wall_time += Duration::try_from_secs_f64(header.wall_time_seconds)
                .map_err(|_| damaged(path, "its wall_time_seconds is out of range"))?;
        }
        if next_row != first.paths {
            let (path, _) = self.parts.last().expect("at least one part");
            return Err(damaged(path, "the shards' rows do not cover every path"));
        }
        let tallies = occupancy.split_off(first.occupancy - first.tallies.min(first.occupancy));
        Ok(Simulation {
            paths: first.paths,
            seed: first.seed,
            layout,
            metrics,
            fan_grid: grid.expect("at least one part"),
            fan: fan.expect("at least one part"),
            occupancy,
            tallies,
            samples,
            wall_time,
        })
    }
}

/// After a part's body: the checksum of everything read so far, and nothing after it.
fn check_trailer<R: Read>(input: &mut Hashing<R>) -> io::Result<()> {
    let digest = input.hasher.clone().finalize();
    let mut trailer = [0u8; TRAILER as usize];
    input.inner.read_exact(&mut trailer)?;
    if trailer[..] != digest[..] {
        return Err(io::Error::other("its checksum does not match"));
    }
    let mut rest = [0u8; 1];
    if input.inner.read(&mut rest)? != 0 {
        return Err(io::Error::other("bytes follow its checksum"));
    }
    Ok(())
}

/// A part whose body failed to read, as damaged.
fn body_damage(path: &Path, error: io::Error) -> PartError {
    let reason = if error.kind() == io::ErrorKind::UnexpectedEof {
        "it ends early".to_string()
    } else {
        error.to_string()
    };
    damaged(path, &reason)
}

fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

fn read_f64s(input: &mut impl Read, n: usize) -> io::Result<Vec<f64>> {
    let mut values = vec![0.0; n];
    read_le(input, &mut values, f64::from_le_bytes, |_, read| read)?;
    Ok(values)
}
