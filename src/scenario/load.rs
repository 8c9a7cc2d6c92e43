//! Reading scenario files: TOML syntax, `extends` chains, and mapping key paths
//! back to the file and line that set them.
//!
//! A child file is merged over its parent table by table: a table merges key by
//! key, anything else (numbers, strings, arrays, arrays of tables) replaces the
//! parent's value whole. The merged table is then deserialized once.

use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use super::error::{Diagnostic, ScenarioError};
use super::raw::RawScenario;

/// One file of an `extends` chain, kept for locating keys.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

/// The files a scenario was built from, child first.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub files: Vec<SourceFile>,
    /// What the first file changes from the file it extends (none without `extends`).
    pub overrides: Option<Overrides>,
}

/// The keys a scenario file sets differently from the resolved file it extends.
#[derive(Debug, Clone, PartialEq)]
pub struct Overrides {
    /// The file named by `extends`.
    pub parent: PathBuf,
    pub changes: Vec<ParameterChange>,
}

/// One leaf key: its path, the parent's value (`None` when the parent does not set
/// it) and the child's, both as inline TOML.
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterChange {
    pub key: String,
    pub parent: Option<String>,
    pub child: String,
}

impl Sources {
    /// The child-most file that sets `key` (a path like `events[1].date`), with its line.
    pub fn locate(&self, key: &str) -> (Option<PathBuf>, Option<usize>) {
        let segments = split_key_path(key);
        for file in &self.files {
            if let Some(offset) = find_offset(&file.text, &segments) {
                return (Some(file.path.clone()), Some(line_of(&file.text, offset)));
            }
        }
        // Fall back to the closest ancestor key that exists somewhere.
        for cut in (1..segments.len()).rev() {
            for file in &self.files {
                if let Some(offset) = find_offset(&file.text, &segments[..cut]) {
                    return (Some(file.path.clone()), Some(line_of(&file.text, offset)));
                }
            }
        }
        (self.files.first().map(|f| f.path.clone()), None)
    }

    /// A diagnostic for `key`, located in the sources.
    pub fn diagnostic(&self, key: impl Into<String>, message: impl Into<String>) -> Diagnostic {
        let key = key.into();
        let (file, line) = self.locate(&key);
        Diagnostic {
            file,
            line,
            key,
            message: message.into(),
        }
    }
}

/// A scenario's merged table and where each part came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub raw: RawScenario,
    pub merged: toml::Table,
    pub sources: Sources,
}

/// Reads `path` and every file it extends, merges them and deserializes the result.
pub fn load_file(path: &Path) -> Result<Loaded, ScenarioError> {
    let mut chain: Vec<PathBuf> = Vec::new();
    let mut sources = Sources::default();
    let merged = read_chain(path, &mut chain, &mut sources)?;
    finish(merged, sources)
}

/// Parses scenario text held in memory; `origin` names it in messages and anchors
/// relative `extends` paths.
pub fn load_str(text: &str, origin: &Path) -> Result<Loaded, ScenarioError> {
    let mut chain = vec![absolute(origin)];
    let mut sources = Sources::default();
    let table = parse_table(text, origin)?;
    sources.files.push(SourceFile {
        path: origin.to_path_buf(),
        text: text.to_string(),
    });
    let merged = resolve_extends(table, origin, &mut chain, &mut sources)?;
    finish(merged, sources)
}

fn finish(merged: toml::Table, sources: Sources) -> Result<Loaded, ScenarioError> {
    let raw = deserialize(&merged, &sources)?;
    Ok(Loaded {
        raw,
        merged,
        sources,
    })
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

fn read_chain(
    path: &Path,
    chain: &mut Vec<PathBuf>,
    sources: &mut Sources,
) -> Result<toml::Table, ScenarioError> {
    let canonical = absolute(path);
    if chain.contains(&canonical) {
        let mut cycle = chain.clone();
        cycle.push(canonical);
        return Err(ScenarioError::ExtendsCycle { chain: cycle });
    }
    let text = read_text(path)?;
    let table = parse_table(&text, path)?;
    sources.files.push(SourceFile {
        path: path.to_path_buf(),
        text,
    });
    chain.push(canonical);
    let merged = resolve_extends(table, path, chain, sources)?;
    chain.pop();
    Ok(merged)
}

fn resolve_extends(
    mut table: toml::Table,
    path: &Path,
    chain: &mut Vec<PathBuf>,
    sources: &mut Sources,
) -> Result<toml::Table, ScenarioError> {
    let Some(extends) = table.remove("extends") else {
        return Ok(table);
    };
    let Some(parent_name) = extends.as_str() else {
        let here = Sources {
            files: sources.files.last().cloned().into_iter().collect(),
            overrides: None,
        };
        return Err(ScenarioError::Invalid(vec![here.diagnostic(
            "extends",
            format!("must be a file name in quotes, found {extends}"),
        )]));
    };
    let parent_path = path
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(parent_name);
    if !parent_path.exists() {
        let here = Sources {
            files: sources.files.last().cloned().into_iter().collect(),
            overrides: None,
        };
        return Err(ScenarioError::Invalid(vec![here.diagnostic(
            "extends",
            format!(
                "the file it names does not exist: {}",
                parent_path.display()
            ),
        )]));
    }
    let mut parent = read_chain(&parent_path, chain, sources)?;
    // The outermost file resolves last, so its changes are the ones kept.
    let mut changes = Vec::new();
    changed_keys(&parent, &table, "", &mut changes);
    sources.overrides = Some(Overrides {
        parent: parent_path,
        changes,
    });
    merge_into(&mut parent, table);
    Ok(parent)
}

/// The leaves of `child` whose value differs from `base`'s, with the same merge
/// rule as [`merge_into`]: tables are compared key by key, anything else whole.
fn changed_keys(
    base: &toml::Table,
    child: &toml::Table,
    prefix: &str,
    changes: &mut Vec<ParameterChange>,
) {
    for (key, value) in child {
        let path = join_key(prefix, key);
        match (base.get(key), value) {
            (Some(toml::Value::Table(base_table)), toml::Value::Table(child_table)) => {
                changed_keys(base_table, child_table, &path, changes)
            }
            (None, toml::Value::Table(child_table)) => {
                changed_keys(&toml::Table::new(), child_table, &path, changes)
            }
            // An array of tables the same length as the parent's (`events`):
            // element by element, so one changed rate is not a page of TOML.
            (Some(toml::Value::Array(base_items)), toml::Value::Array(child_items))
                if base_items.len() == child_items.len()
                    && child_items.iter().all(toml::Value::is_table) =>
            {
                for (i, (base_item, child_item)) in base_items.iter().zip(child_items).enumerate() {
                    let item_path = format!("{path}[{i}]");
                    match (base_item, child_item) {
                        (toml::Value::Table(b), toml::Value::Table(c)) => {
                            changed_keys(b, c, &item_path, changes);
                            // Keys the child's element drops are changes too.
                            for (key, value) in b.iter().filter(|(k, _)| !c.contains_key(*k)) {
                                changes.push(ParameterChange {
                                    key: join_key(&item_path, key),
                                    parent: Some(inline_toml(value)),
                                    child: "(not set)".into(),
                                });
                            }
                        }
                        (b, c) if b != c => changes.push(ParameterChange {
                            key: item_path,
                            parent: Some(inline_toml(b)),
                            child: inline_toml(c),
                        }),
                        _ => {}
                    }
                }
            }
            (old, new) if old != Some(new) => changes.push(ParameterChange {
                key: path,
                parent: old.map(inline_toml),
                child: inline_toml(new),
            }),
            _ => {}
        }
    }
}

fn inline_toml(value: &toml::Value) -> String {
    match value {
        toml::Value::Table(table) => toml::Value::Table(table.clone()).to_string(),
        other => other.to_string(),
    }
}

/// Merges `child` over `base`: tables recursively, everything else replaced.
pub fn merge_into(base: &mut toml::Table, child: toml::Table) {
    for (key, value) in child {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(base_table)), toml::Value::Table(child_table)) => {
                merge_into(base_table, child_table)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

pub fn parse_table(text: &str, path: &Path) -> Result<toml::Table, ScenarioError> {
    text.parse::<toml::Table>().map_err(|error| {
        let (line, column) = error
            .span()
            .map(|span| line_and_column(text, span.start))
            .unwrap_or((1, 1));
        ScenarioError::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            message: error.message().trim().to_string(),
        }
    })
}

fn deserialize(merged: &toml::Table, sources: &Sources) -> Result<RawScenario, ScenarioError> {
    deserialize_table(merged, sources, "")
}

/// Deserializes `table` into `T`, naming the offending key (under `prefix`, the
/// table's own key path in its file) and the nearest valid choice on failure.
pub fn deserialize_table<T: serde::de::DeserializeOwned>(
    table: &toml::Table,
    sources: &Sources,
    prefix: &str,
) -> Result<T, ScenarioError> {
    serde_path_to_error::deserialize(table.clone()).map_err(|error| {
        let mut key = error.path().to_string();
        if key == "." {
            key.clear();
        }
        let key = if prefix.is_empty() {
            key
        } else {
            join_key(prefix, &key)
        };
        let message = error.inner().message().to_string();
        let diagnostic = explain_serde_error(&key, &message, sources);
        ScenarioError::Invalid(vec![diagnostic])
    })
}

/// Turns serde's messages into ones that name the key and the nearest valid choice.
fn explain_serde_error(key: &str, message: &str, sources: &Sources) -> Diagnostic {
    let quoted = backticked(message);
    if let Some(kind) = ["unknown field", "unknown variant"]
        .into_iter()
        .find(|kind| message.starts_with(kind))
    {
        if let Some((unknown, valid)) = quoted.split_first() {
            let full_key = if kind == "unknown field" && !key.ends_with(unknown.as_str()) {
                join_key(key, &shown_name(unknown))
            } else {
                key.to_string()
            };
            let what = if kind == "unknown field" {
                "unknown key"
            } else {
                "unknown value"
            };
            let hint = match nearest(unknown, valid) {
                Some(best) => format!("did you mean `{best}`?"),
                None if valid.is_empty() => "no keys are allowed here".to_string(),
                None => format!("valid: {}", valid.join(", ")),
            };
            let unknown = shown_name(unknown);
            return sources.diagnostic(full_key, format!("{what} `{unknown}`; {hint}"));
        }
    }
    if message.starts_with("missing field") {
        if let Some(field) = quoted.first() {
            return sources.diagnostic(key.to_string(), format!("missing required key `{field}`"));
        }
    }
    sources.diagnostic(key.to_string(), message.to_string())
}

/// The longest name of an asset, regime, event, portfolio, position or stress vector.
pub const MAX_NAME_CHARS: usize = 128;

/// `name` as a message shows it: cut after 40 characters so a huge name is not
/// echoed back whole.
pub fn shown_name(name: &str) -> String {
    const SHOWN: usize = 40;
    let count = name.chars().count();
    if count <= SHOWN {
        name.to_string()
    } else {
        let head: String = name.chars().take(SHOWN).collect();
        format!("{head}… ({count} characters)")
    }
}

/// The valid name closest to `unknown`, if it is close enough to be a likely typo.
pub fn nearest<'a>(unknown: &str, valid: &'a [String]) -> Option<&'a str> {
    // The edit distance costs length × length: no typo is that long.
    if unknown.chars().count() > MAX_NAME_CHARS {
        return None;
    }
    valid
        .iter()
        .map(|candidate| (strsim::damerau_levenshtein(unknown, candidate), candidate))
        .filter(|(distance, candidate)| {
            *distance <= (candidate.len().max(unknown.len()) / 3).max(2)
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate.as_str())
}

/// The message for a name that is not among `valid`: the nearest valid name, or
/// the whole list when none is near.
pub fn unknown_name(what: &str, name: &str, valid: &[String]) -> String {
    if name.chars().count() > MAX_NAME_CHARS {
        return format!(
            "unknown {what} `{}`: longer than {MAX_NAME_CHARS} characters",
            shown_name(name)
        );
    }
    let hint = match nearest(name, valid) {
        Some(best) => format!("did you mean `{best}`?"),
        None if valid.len() > 20 => format!(
            "valid: {}, … ({} names)",
            valid[..20].join(", "),
            valid.len()
        ),
        None => format!("valid: {}", valid.join(", ")),
    };
    format!("unknown {what} `{name}`; {hint}")
}

/// What is wrong with `name` as an identifier (scenario, asset, regime,
/// portfolio and position names), if anything.
pub fn identifier_problem(what: &str, name: &str) -> Option<String> {
    if name.chars().count() > MAX_NAME_CHARS {
        return Some(format!(
            "{what} `{}` is longer than the limit of {MAX_NAME_CHARS} characters",
            shown_name(name)
        ));
    }
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    (!valid).then(|| {
        format!("{what} `{name}` must be non-empty and use only letters, digits, `_` and `-`")
    })
}

fn backticked(message: &str) -> Vec<String> {
    message
        .split('`')
        .enumerate()
        .filter(|(index, _)| index % 2 == 1)
        .map(|(_, part)| part.to_string())
        .collect()
}

fn join_key(parent: &str, child: &str) -> String {
    if child.is_empty() {
        parent.to_string()
    } else if parent.is_empty() {
        child.to_string()
    } else {
        format!("{parent}.{child}")
    }
}

enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

fn split_key_path(key: &str) -> Vec<Segment<'_>> {
    let mut segments = Vec::new();
    for part in key.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(open) = rest.find('[') {
            let name = &rest[..open];
            if !name.is_empty() {
                segments.push(Segment::Key(name));
            }
            rest = &rest[open..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let close = stripped.find(']').unwrap_or(stripped.len());
                if let Ok(index) = stripped[..close].parse() {
                    segments.push(Segment::Index(index));
                }
                rest = stripped.get(close + 1..).unwrap_or("");
            }
        } else {
            segments.push(Segment::Key(rest));
        }
    }
    segments
}

/// Byte offset of the key (or array element) at `segments` in `text`.
fn find_offset(text: &str, segments: &[Segment<'_>]) -> Option<usize> {
    let document = DeTable::parse(text).ok()?;
    let root: &DeTable<'_> = document.get_ref();
    let mut value: Option<&toml::Spanned<DeValue<'_>>> = None;
    let mut offset = None;
    for segment in segments {
        match segment {
            Segment::Key(name) => {
                let current = match value {
                    None => root,
                    Some(spanned) => match spanned.get_ref() {
                        DeValue::Table(inner) => inner,
                        _ => return None,
                    },
                };
                let (found_key, found_value) = current
                    .iter()
                    .find(|(k, _)| k.get_ref().as_ref() == *name)?;
                offset = Some(found_key.span().start);
                value = Some(found_value);
            }
            Segment::Index(index) => {
                let spanned = value?;
                let DeValue::Array(array) = spanned.get_ref() else {
                    return None;
                };
                let element = array.get(*index)?;
                offset = Some(element.span().start);
                value = Some(element);
            }
        }
    }
    offset
}

fn line_of(text: &str, offset: usize) -> usize {
    line_and_column(text, offset).0
}

fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The largest input file read: far above any real scenario, portfolio or stress
/// file, and small enough that a wrong path (`/dev/zero`) cannot exhaust memory.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// What a file is, as messages name it, and what an empty one lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Scenario,
    Portfolio,
    Stress,
    RunSummary,
}

impl FileKind {
    pub fn name(self) -> &'static str {
        match self {
            FileKind::Scenario => "scenario file",
            FileKind::Portfolio => "portfolio file",
            FileKind::Stress => "stress file",
            FileKind::RunSummary => "run summary",
        }
    }

    fn needs(self) -> &'static str {
        match self {
            FileKind::Scenario => "a scenario needs at least a [scenario] table and one asset",
            FileKind::Portfolio => "a portfolio file needs at least one [[portfolio]] table",
            FileKind::Stress => "a stress file needs at least one [[stress]] table",
            FileKind::RunSummary => "a run summary is the JSON object `stormglass run` writes",
        }
    }
}

/// Reads a scenario file's text; see [`read_text_of`].
pub(crate) fn read_text(path: &Path) -> Result<String, ScenarioError> {
    read_text_of(path, FileKind::Scenario)
}

/// Reads an input file's text: only a regular file, at most [`MAX_FILE_BYTES`],
/// valid UTF-8 (else the line, column and byte offset of the first bad byte),
/// and not blank.
pub fn read_text_of(path: &Path, kind: FileKind) -> Result<String, ScenarioError> {
    use std::io::Read;
    let name = kind.name();
    let io = |source| ScenarioError::Io {
        path: path.to_path_buf(),
        kind: name,
        source,
    };
    // Metadata before opening: opening a FIFO for reading blocks until a writer comes.
    let metadata = std::fs::metadata(path).map_err(io)?;
    if metadata.is_dir() {
        return Err(ScenarioError::IsDirectory {
            path: path.to_path_buf(),
            kind: name,
        });
    }
    if !metadata.is_file() {
        return Err(ScenarioError::NotRegularFile {
            path: path.to_path_buf(),
            kind: name,
        });
    }
    let too_large = || ScenarioError::TooLarge {
        path: path.to_path_buf(),
        kind: name,
        limit: MAX_FILE_BYTES,
    };
    if metadata.len() > MAX_FILE_BYTES {
        return Err(too_large());
    }
    let file = std::fs::File::open(path).map_err(io)?;
    // The size in the metadata is a claim; the read itself is bounded too.
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large());
    }
    let text = decode_utf8(bytes, path, kind)?;
    if text.trim().is_empty() {
        return Err(ScenarioError::Empty {
            path: path.to_path_buf(),
            kind: name,
            need: kind.needs(),
        });
    }
    Ok(text)
}

/// `bytes` as text, or an error at the first invalid byte.
pub fn decode_utf8(bytes: Vec<u8>, path: &Path, kind: FileKind) -> Result<String, ScenarioError> {
    String::from_utf8(bytes).map_err(|error| {
        let byte = error.utf8_error().valid_up_to();
        let bytes = error.as_bytes();
        let valid = std::str::from_utf8(&bytes[..byte]).unwrap_or_default();
        let (line, column) = line_and_column(valid, byte);
        ScenarioError::NotUtf8 {
            path: path.to_path_buf(),
            kind: kind.name(),
            line,
            column,
            byte,
            value: bytes[byte],
        }
    })
}
