//! Writing output folders and files atomically: everything goes into a hidden
//! sibling first, which is switched into place only once every file is complete,
//! so a crash or a full disk never leaves a half-written report. Every layer
//! that writes (calibrations, plans, parts, the report) writes through here.
//!
//! The switch is one step where the kernel offers it (Linux `renameat2` with
//! `RENAME_EXCHANGE`): a reader always finds the folder, holding either the
//! previous run or the new one. Elsewhere it is two renames, between which the
//! folder is briefly missing.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    /// Drawing a chart or encoding a table failed (the report's own errors).
    #[error(transparent)]
    Render(Box<dyn std::error::Error + Send + Sync>),
    #[error("{}: exists and is not a Stormglass run folder: {}; choose another --out, or pass --force to replace the folder with everything in it", path.display(), in_the_way.join(", "))]
    NotARunFolder {
        path: PathBuf,
        /// What stops the folder from being a previous run's, at most [`LISTED_IN_THE_WAY`].
        in_the_way: Vec<String>,
    },
    #[error("{}: cannot be an output folder ({reason}, and a run replaces its folder whole); choose a named subfolder with --out", path.display())]
    UnusableTarget { path: PathBuf, reason: &'static str },
    #[error("{}: exists; name another file, or pass --force to replace it", path.display())]
    FileExists { path: PathBuf },
    #[error("{}: another command wrote this folder while this one was writing it (two runs or merges into one output folder at once); that one's folder is in place and this one's was discarded: give each command its own --out, or run this one again", path.display())]
    WrittenMeanwhile { path: PathBuf },
}

impl crate::UserFixable for OutputError {
    /// Whether the user fixes this by choosing another folder or passing `--force`.
    fn is_user_fixable(&self) -> bool {
        matches!(
            self,
            OutputError::NotARunFolder { .. }
                | OutputError::UnusableTarget { .. }
                | OutputError::FileExists { .. }
                | OutputError::WrittenMeanwhile { .. }
        )
    }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The record of every file a run wrote, written last into its folder. A folder
/// is a previous run's only when this record lists exactly the files in it, with
/// their sizes and hashes: then replacing it deletes nothing the engine did not
/// write.
pub const MANIFEST: &str = ".stormglass-manifest";

/// Files named in a refusal; the rest are counted.
pub const LISTED_IN_THE_WAY: usize = 10;

/// Every file below `dir`, as paths relative to it with `/` separators, sorted.
fn files_below(dir: &Path) -> io::Result<Vec<String>> {
    let mut found = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        for entry in fs::read_dir(dir.join(&relative))? {
            let entry = entry?;
            let path = relative.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                pending.push(path);
            } else {
                found.push(path.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The SHA-256 of a file's bytes, in hex: streamed through the input reader,
/// so a path that became a FIFO or a device since it was read is refused
/// rather than blocking or hashed without end.
pub fn sha256_of(path: &Path) -> io::Result<String> {
    use crate::input::{self, InputError, Kind};
    input::sha256(path, Kind::ListedOutput, u64::MAX).map_err(|error| match error {
        InputError::Io { source, .. } => source,
        other => io::Error::other(other.to_string()),
    })
}

/// Staging folders and files this process is writing, for [`remove_staging`].
static STAGING: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Set once the process is interrupted: every write into staging stops.
static CANCELLED: AtomicBool = AtomicBool::new(false);
/// Writes into staging under way; [`remove_staging`] waits for them to stop
/// before it deletes, so no writer re-creates what it deleted.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
/// How long [`remove_staging`] waits for writers to notice the cancellation:
/// they check it every buffer (1 MiB), so well below this.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// One write into staging under way (see [`IN_FLIGHT`]).
struct Busy;

impl Busy {
    /// Counted first and checked second, so [`remove_staging`] (which sets
    /// the flag first and counts second) either sees this write or this
    /// write sees the flag.
    fn start(path: &Path) -> Result<Busy, OutputError> {
        IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        let busy = Busy;
        if CANCELLED.load(Ordering::SeqCst) {
            return Err(interrupted(path));
        }
        Ok(busy)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    }
}

fn interrupted(path: &Path) -> OutputError {
    io_error(path)(io::Error::new(io::ErrorKind::Interrupted, "interrupted"))
}

/// Whether the process was interrupted (its staging is being removed).
pub fn interrupted_by_signal() -> bool {
    CANCELLED.load(Ordering::SeqCst)
}

/// A write into staging by a writer outside this module (a part), counted as
/// [`remove_staging`] needs; `None` once the process is interrupted.
pub struct Writing(#[allow(dead_code)] Busy);

pub fn start_writing(path: &Path) -> Option<Writing> {
    Busy::start(path).ok().map(Writing)
}

/// A file writer that stops at its next write once the process is interrupted.
pub struct Cancellable<W>(pub W);

impl<W: Write> Write for Cancellable<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if CANCELLED.load(Ordering::Relaxed) {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
        }
        self.0.write(bytes)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Removes the staging folders and files this process is writing: called when
/// it is interrupted (SIGINT, SIGTERM), so an interrupted run leaves nothing
/// behind. Every writer is stopped first: deleting while a writer still
/// creates files would leave the folder behind.
pub fn remove_staging() {
    CANCELLED.store(true, Ordering::SeqCst);
    let started = std::time::Instant::now();
    while IN_FLIGHT.load(Ordering::SeqCst) > 0 && started.elapsed() < STOP_WAIT {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let staged = STAGING.lock().map(|f| f.clone()).unwrap_or_default();
    for path in staged {
        let _ = if path.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
    }
}

/// Records `path` (a staging folder or file) as being written, or no longer.
pub fn register_staging(path: &Path, writing: bool) {
    if let Ok(mut staged) = STAGING.lock() {
        staged.retain(|f| f != path);
        if writing {
            staged.push(path.to_path_buf());
        }
    }
}

/// Whether process `pid` is alive, by /proc; `None` where there is no /proc.
fn alive(pid: u32) -> Option<bool> {
    Path::new("/proc/self")
        .exists()
        .then(|| Path::new(&format!("/proc/{pid}")).exists())
}

/// Removes the entries of `parent` that `stale_pid(name)` recognises as
/// staging of the engine's own naming, left by a process that is gone (kill
/// -9, a power cut, a node lost). Nothing is swept without /proc to tell.
pub fn sweep_stale_with(parent: &Path, stale_pid: impl Fn(&str) -> Option<u32>) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    let me = std::process::id();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = stale_pid(&name) else {
            continue;
        };
        if pid == me || alive(pid) != Some(false) {
            continue;
        }
        let _ = match entry.file_type() {
            Ok(t) if t.is_dir() => fs::remove_dir_all(entry.path()),
            Ok(t) if t.is_file() => fs::remove_file(entry.path()),
            _ => Ok(()),
        };
    }
}

/// Removes the staging and swap folders or files (`.NAME.partial-PID`,
/// `.NAME.old-PID`) that killed runs left beside `leaf` in `parent`.
fn sweep_stale(parent: &Path, leaf: &str) {
    sweep_stale_with(parent, |name| {
        [".partial-", ".old-"].iter().find_map(|tag| {
            name.strip_prefix(&format!(".{leaf}{tag}"))
                .and_then(|pid| pid.parse::<u32>().ok())
        })
    });
}

/// Writes the manifest of every file now in `dir`: `size sha256 path` a line.
fn write_manifest(dir: &Path) -> Result<(), OutputError> {
    let files = files_below(dir).map_err(io_error(dir))?;
    let mut text = format!("stormglass {} run folder\n", crate::VERSION);
    for file in files {
        let path = dir.join(&file);
        let size = fs::metadata(&path).map_err(io_error(&path))?.len();
        let hash = sha256_of(&path).map_err(io_error(&path))?;
        text.push_str(&format!("{size} {hash} {file}\n"));
    }
    write_with(&dir.join(MANIFEST), |out| out.write_all(text.as_bytes()))
}

/// What stops `dir` from being a previous run's folder that may be replaced: a
/// missing or foreign manifest, files it does not list, files changed since.
/// Empty when the folder is exactly what a run wrote.
fn in_the_way(dir: &Path) -> Vec<String> {
    let Ok(files) = files_below(dir) else {
        return vec!["the folder cannot be read".into()];
    };
    use crate::input::{self, Kind};
    let manifest = input::read_text(&dir.join(MANIFEST), Kind::OutputManifest).unwrap_or_default();
    let mut lines = manifest.lines();
    if !lines.next().is_some_and(|l| l.starts_with("stormglass ")) {
        let mut listed: Vec<String> = files.into_iter().take(LISTED_IN_THE_WAY).collect();
        listed.insert(0, format!("no {MANIFEST} from a run"));
        return listed;
    }
    let mut recorded = std::collections::HashMap::new();
    for line in lines {
        let mut parts = line.splitn(3, ' ');
        if let (Some(size), Some(hash), Some(file)) = (parts.next(), parts.next(), parts.next()) {
            recorded.insert(file.to_string(), (size.to_string(), hash.to_string()));
        }
    }
    let mut problems = Vec::new();
    for file in files.iter().filter(|f| f.as_str() != MANIFEST) {
        let path = dir.join(file);
        match recorded.get(file) {
            None => problems.push(format!("{file} (not written by the engine)")),
            Some((size, hash)) => {
                // Hashed through the input reader, never past the recorded size:
                // a FIFO or device put in the folder under a listed name is
                // found out instead of blocking or being read without end.
                let same = size.parse::<u64>().is_ok_and(|size| {
                    input::sha256(&path, Kind::ListedOutput, size).is_ok_and(|h| h == *hash)
                        && fs::metadata(&path).is_ok_and(|m| m.len() == size)
                });
                if !same {
                    problems.push(format!("{file} (changed since the run wrote it)"));
                }
            }
        }
        if problems.len() > LISTED_IN_THE_WAY {
            problems.truncate(LISTED_IN_THE_WAY);
            problems.push("and more".into());
            break;
        }
    }
    problems
}

/// Whether a run may write into `dir`: it is free, empty, a previous run's, or
/// `force` was given. Checked before simulating, so a refusal costs nothing,
/// and again before writing.
pub fn check_target(dir: &Path, force: bool) -> Result<(), OutputError> {
    // `.`, `..` and `/` have no name to stage beside: replacing them would
    // delete the folder the user stands in, so not even `force` allows it.
    let unusable = |reason| {
        Err(OutputError::UnusableTarget {
            path: dir.to_path_buf(),
            reason,
        })
    };
    if dir.file_name().is_none() {
        return unusable("it is the current folder, its parent or the root");
    }
    // A mount point cannot be renamed: the run would be staged in full and then
    // fail at the very end.
    if is_mount_point(dir) {
        return unusable("it is a mount point");
    }
    if dir.exists() && !force {
        let empty = fs::read_dir(dir)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !empty {
            let in_the_way = in_the_way(dir);
            if !in_the_way.is_empty() {
                return Err(OutputError::NotARunFolder {
                    path: dir.to_path_buf(),
                    in_the_way,
                });
            }
        }
    }
    Ok(())
}

/// Creates the folder `path` inside staging, unless the process is interrupted.
pub fn create_folder(path: &Path) -> Result<(), OutputError> {
    let _busy = Busy::start(path)?;
    fs::create_dir_all(path).map_err(io_error(path))
}

/// Whether `dir` is a folder on another filesystem than its parent.
#[cfg(unix)]
fn is_mount_point(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match (fs::symlink_metadata(dir), fs::metadata(parent)) {
        (Ok(here), Ok(above)) => here.is_dir() && here.dev() != above.dev(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn is_mount_point(_dir: &Path) -> bool {
    false
}

/// Runs `write` on a hidden staging folder next to `dir`, then renames it into
/// place. Refuses to replace a non-empty folder that is not a previous run's
/// unless `force`.
pub fn write_atomically<T>(
    dir: &Path,
    force: bool,
    write: impl FnOnce(&Path) -> Result<T, OutputError>,
) -> Result<T, OutputError> {
    check_target(dir, force)?;
    let existed = dir.exists();
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io_error(parent))?;
    let leaf = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    sweep_stale(parent, &leaf);
    let staging = parent.join(format!(".{leaf}.partial-{}", std::process::id()));
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(io_error(&staging))?;
    }
    register_staging(&staging, true);
    {
        let _busy = Busy::start(&staging)?;
        fs::create_dir_all(&staging).map_err(io_error(&staging))?;
    }
    let result = finish_staging(dir, parent, &leaf, &staging, existed || force, write);
    register_staging(&staging, false);
    result
}

/// `may_replace`: whether a folder found at `dir` now may be replaced without
/// `--force` (it was there, and checked, when writing began).
fn finish_staging<T>(
    dir: &Path,
    parent: &Path,
    leaf: &str,
    staging: &Path,
    may_replace: bool,
    write: impl FnOnce(&Path) -> Result<T, OutputError>,
) -> Result<T, OutputError> {
    let staging = staging.to_path_buf();
    let written = match write(&staging).and_then(|w| write_manifest(&staging).map(|()| w)) {
        Ok(written) => written,
        Err(error) => {
            let _ = fs::remove_dir_all(&staging);
            return Err(error);
        }
    };
    // A failed swap (a mount point, a read-only parent) leaves no complete
    // staging folder behind, and puts a moved previous run back.
    let discard = |error: io::Error| {
        let _ = fs::remove_dir_all(&staging);
        io_error(dir)(error)
    };
    let _busy = Busy::start(dir)?;
    let meanwhile = || {
        let _ = fs::remove_dir_all(&staging);
        OutputError::WrittenMeanwhile {
            path: dir.to_path_buf(),
        }
    };
    if dir.exists() && !may_replace {
        return Err(meanwhile());
    }
    if dir.exists() {
        match exchange(&staging, dir) {
            // The staging name now holds the previous run.
            Ok(true) => {
                fs::remove_dir_all(&staging).map_err(io_error(&staging))?;
                return Ok(written);
            }
            Ok(false) => {}
            Err(error) => return Err(discard(error)),
        }
        let old = parent.join(format!(".{leaf}.old-{}", std::process::id()));
        fs::rename(dir, &old).map_err(discard)?;
        if let Err(error) = fs::rename(&staging, dir) {
            let _ = fs::rename(&old, dir);
            return Err(discard(error));
        }
        fs::remove_dir_all(&old).map_err(io_error(&old))?;
    } else if let Err(error) = fs::rename(&staging, dir) {
        // Free a moment ago: another command put its folder there since.
        if matches!(
            error.kind(),
            io::ErrorKind::DirectoryNotEmpty | io::ErrorKind::AlreadyExists
        ) {
            return Err(meanwhile());
        }
        return Err(discard(error));
    }
    Ok(written)
}

/// Swaps the folders `a` and `b` in one atomic step. `Ok(false)` when this
/// system or filesystem cannot, and nothing was changed.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<bool> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    use rustix::io::Errno;
    match renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(true),
        // An old kernel, or a filesystem without the flag (some network and FUSE ones).
        Err(Errno::NOSYS | Errno::INVAL | Errno::NOTSUP) => Ok(false),
        Err(errno) => Err(errno.into()),
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> io::Result<bool> {
    Ok(false)
}

/// Writes `bytes` to `path` and syncs it: for a caller's own files inside a
/// folder [`write_atomically`] stages.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    write_with(path, |out| out.write_all(bytes))
}

/// Writes one file whole or not at all: into a temporary file beside it, then
/// renamed over it. An existing file is replaced only with `force`.
pub fn write_file_atomically(path: &Path, bytes: &[u8], force: bool) -> Result<(), OutputError> {
    if path.exists() && !force {
        return Err(OutputError::FileExists {
            path: path.to_path_buf(),
        });
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io_error(parent))?;
    let leaf = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    sweep_stale(parent, &leaf);
    let staging = parent.join(format!(".{leaf}.partial-{}", std::process::id()));
    register_staging(&staging, true);
    let written = write_bytes(&staging, bytes).and_then(|()| {
        let _busy = Busy::start(path)?;
        fs::rename(&staging, path).map_err(io_error(path))
    });
    if written.is_err() {
        let _ = fs::remove_file(&staging);
    }
    register_staging(&staging, false);
    written
}

/// The buffered, cancellable file every output is written through.
pub type Output = BufWriter<Cancellable<File>>;

/// Writes one file inside staging through `write`, then syncs it; stopped
/// when the process is interrupted.
pub fn write_with(
    path: &Path,
    write: impl FnOnce(&mut Output) -> io::Result<()>,
) -> Result<(), OutputError> {
    let _busy = Busy::start(path)?;
    let file = File::create(path).map_err(io_error(path))?;
    let mut out = BufWriter::with_capacity(1 << 20, Cancellable(file));
    write(&mut out).map_err(io_error(path))?;
    out.flush().map_err(io_error(path))?;
    out.into_inner()
        .map_err(|e| io_error(path)(e.into_error()))?
        .0
        .sync_all()
        .map_err(io_error(path))
}

/// Writes a file of the caller's own inside staging: stopped, like every
/// other output, when the process is interrupted.
pub fn write_staged(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), OutputError> {
    write_with(path, |out| write(out))
}
