//! Reading scenario files: TOML syntax, `extends` chains, and mapping key paths
//! back to the file and line that set them.
//!
//! A child file is merged over its parent table by table: a table merges key by
//! key, anything else (numbers, strings, arrays, arrays of tables) replaces the
//! parent's value whole. One exception: where the parent has an array of named
//! tables (`[[events]]`, `[[portfolio]]`), a table in the child (`[events.NAME]`)
//! changes, adds or (`remove = true`) drops one element by name. The merged
//! table is then deserialized once.

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
    /// Arrays of named tables that a file of the chain changed by name, with the
    /// names of their merged elements: an error's index into the merged array
    /// is an element's name in the files.
    pub named_arrays: Vec<NamedArray>,
    /// Arrays of named tables that a file replaced whole, the child-most
    /// replacement of each.
    pub replacements: Vec<Replacement>,
}

/// An array of named tables after a by-name merge.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedArray {
    /// Its key path in the merged table (`events`).
    pub path: String,
    /// The `name` of each merged element, in order.
    pub names: Vec<String>,
}

/// A file that gave an array of named tables whole (`[[events]]`), dropping its
/// parent's.
#[derive(Debug, Clone, PartialEq)]
pub struct Replacement {
    /// The array's key path in the merged table (`events`).
    pub path: String,
    /// The file that replaced it.
    pub file: PathBuf,
    /// The file it extends, whose elements were dropped.
    pub parent: PathBuf,
    /// The names of the parent's elements.
    pub names: Vec<String>,
    /// Those of them the merged scenario no longer has.
    pub dropped: Vec<String>,
}

impl Replacement {
    /// Whether a diagnostic for `key` with `message` may come from this
    /// replacement: a key under the array, or a message naming a dropped element.
    fn concerns(&self, key: &str, message: &str) -> bool {
        is_at_or_under(key, &self.path)
            || backticked(message)
                .iter()
                .any(|quoted| self.dropped.contains(quoted))
    }

    /// What the replacement did and how to change one element instead.
    fn note(&self) -> String {
        let (singular, plural) = nouns(&self.path);
        let file = file_name(&self.file);
        let parent = file_name(&self.parent);
        const LISTED: usize = 6;
        let mut listed: Vec<String> = self
            .names
            .iter()
            .take(LISTED)
            .map(|n| shown_name(n))
            .collect();
        if self.names.len() > LISTED {
            listed.push("…".into());
        }
        let what = if self.names.len() == 1 {
            format!("the one {singular}")
        } else {
            format!("the {} {plural}", self.names.len())
        };
        format!(
            "`[[{path}]]` in {file} replaces {what} of {parent} ({}); to change one {singular}, write `[{path}.NAME]` with only the keys that change",
            listed.join(", "),
            path = self.path,
        )
    }
}

/// Whether the key path `key` is `path` or a key or element below it.
fn is_at_or_under(key: &str, path: &str) -> bool {
    key.strip_prefix(path)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('[') || rest.starts_with('.'))
}

/// A file's name as notes show it.
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// What one element and several of the array at `path` are called: `event` and
/// `events` for `events`, `portfolio` and `portfolios` for `portfolio`.
fn nouns(path: &str) -> (String, String) {
    let last = path.rsplit('.').next().unwrap_or(path);
    let last = last.split('[').next().unwrap_or(last);
    match last.strip_suffix('s') {
        Some(singular) if !singular.is_empty() => (singular.to_string(), last.to_string()),
        _ => (last.to_string(), format!("{last}s")),
    }
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
    ///
    /// An index into an array changed by name is the element's name in each
    /// file (`[events.tariff_wave]`, or the element of that `name`), and a file
    /// that gives an array whole hides the files it extends for keys under it:
    /// their elements were dropped.
    pub fn locate(&self, key: &str) -> (Option<PathBuf>, Option<usize>) {
        let segments = split_key_path(key);
        let walks: Vec<Walk> = self
            .files
            .iter()
            .map(|file| self.walk(&file.text, &segments))
            .collect();
        // For each depth where the key indexes an array, the child-most file
        // that writes that array whole.
        let mut cutoffs: Vec<(usize, usize)> = Vec::new();
        for (index, walk) in walks.iter().enumerate() {
            for &depth in &walk.arrays {
                if !cutoffs.iter().any(|&(d, _)| d == depth) {
                    cutoffs.push((depth, index));
                }
            }
        }
        // A file's key `depth` segments deep counts only if no child-most array
        // above that depth was written in a file closer to the child.
        let admissible =
            |index: usize, depth: usize| cutoffs.iter().all(|&(d, cut)| d >= depth || index <= cut);
        // The full key, else the closest ancestor key that exists somewhere.
        for depth in (1..=segments.len()).rev() {
            for (index, walk) in walks.iter().enumerate() {
                if walk.offsets.len() >= depth && admissible(index, depth) {
                    let file = &self.files[index];
                    let line = line_of(&file.text, walk.offsets[depth - 1]);
                    return (Some(file.path.clone()), Some(line));
                }
            }
        }
        (self.files.first().map(|f| f.path.clone()), None)
    }

    /// How far `segments` lead in one file's `text`.
    fn walk(&self, text: &str, segments: &[Segment<'_>]) -> Walk {
        let mut walk = Walk::default();
        let Ok(document) = DeTable::parse(text) else {
            return walk;
        };
        let root: &DeTable<'_> = document.get_ref();
        let mut value: Option<&toml::Spanned<DeValue<'_>>> = None;
        let mut path = String::new();
        for (depth, segment) in segments.iter().enumerate() {
            let found = match segment {
                Segment::Key(name) => {
                    let current = match value.map(|v| v.get_ref()) {
                        None => Some(root),
                        Some(DeValue::Table(inner)) => Some(inner),
                        Some(_) => None,
                    };
                    path = join_key(&path, name);
                    current.and_then(|table| de_entry(table, name))
                }
                Segment::Index(index) => {
                    let named = self
                        .named_arrays
                        .iter()
                        .find(|n| n.path == path)
                        .map(|n| n.names.as_slice());
                    let name = named.and_then(|names| names.get(*index));
                    let found = match value.map(|v| v.get_ref()) {
                        Some(DeValue::Array(array)) => {
                            walk.arrays.push(depth);
                            let element = match (named, name) {
                                (Some(names), Some(name)) => {
                                    // The k-th element of that name, should names repeat.
                                    let k = names[..*index].iter().filter(|n| *n == name).count();
                                    array
                                        .iter()
                                        .filter(|e| de_name(e.get_ref()) == Some(name.as_str()))
                                        .nth(k)
                                }
                                (Some(_), None) => None,
                                (None, _) => array.get(*index),
                            };
                            element.map(|e| (e.span().start, e))
                        }
                        Some(DeValue::Table(table)) => name.and_then(|name| de_entry(table, name)),
                        _ => None,
                    };
                    path = format!("{path}[{index}]");
                    found
                }
            };
            let Some((offset, next)) = found else {
                break;
            };
            walk.offsets.push(offset);
            value = Some(next);
        }
        walk
    }

    /// A diagnostic for `key`, located in the sources, with a note when the key
    /// is under an array a file replaced whole.
    pub fn diagnostic(&self, key: impl Into<String>, message: impl Into<String>) -> Diagnostic {
        let key = key.into();
        let mut message = message.into();
        let (file, line) = self.locate(&key);
        if let Some(replacement) = self
            .replacements
            .iter()
            .find(|r| r.concerns(&key, &message))
        {
            message = format!("{message}; note: {}", replacement.note());
        }
        Diagnostic {
            file,
            line,
            key,
            message,
        }
    }

    /// Sources of the one file `file`, for problems of that file alone.
    pub(crate) fn only(file: &SourceFile) -> Sources {
        Sources {
            files: vec![file.clone()],
            ..Sources::default()
        }
    }
}

/// How far a key path leads in one file: the offset of each segment found, and
/// the depths at which the file writes an array the path indexes.
#[derive(Default)]
struct Walk {
    offsets: Vec<usize>,
    arrays: Vec<usize>,
}

/// The key `name` of `table`: the key's offset and its value.
fn de_entry<'t, 'i>(
    table: &'t DeTable<'i>,
    name: &str,
) -> Option<(usize, &'t toml::Spanned<DeValue<'i>>)> {
    table
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == name)
        .map(|(k, v)| (k.span().start, v))
}

/// The `name` of a table element, if it has a string one.
fn de_name<'v>(value: &'v DeValue<'_>) -> Option<&'v str> {
    match value {
        DeValue::Table(table) => de_entry(table, "name").and_then(|(_, v)| v.get_ref().as_str()),
        _ => None,
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

fn finish(merged: toml::Table, mut sources: Sources) -> Result<Loaded, ScenarioError> {
    // What each replacement dropped for good: names no later file added back.
    for replacement in &mut sources.replacements {
        let segments = split_key_path(&replacement.path);
        let kept: Vec<&str> = match value_at(&merged, &segments) {
            Some(toml::Value::Array(items)) => items.iter().filter_map(element_name).collect(),
            _ => Vec::new(),
        };
        replacement.dropped = replacement
            .names
            .iter()
            .filter(|n| !kept.contains(&n.as_str()))
            .cloned()
            .collect();
    }
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
    // A problem of `extends` is this file's alone: the last one read.
    let extends_error = |message: String| {
        let here = sources
            .files
            .last()
            .map_or_else(Sources::default, Sources::only);
        ScenarioError::Invalid(vec![here.diagnostic("extends", message)])
    };
    let Some(parent_name) = extends.as_str() else {
        return Err(extends_error(format!(
            "must be a file name in quotes, found {extends}"
        )));
    };
    let parent_path = path
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(parent_name);
    if !parent_path.exists() {
        return Err(extends_error(format!(
            "the file it names does not exist: {}",
            parent_path.display()
        )));
    }
    // This file's index: the parents are pushed after it.
    let here = sources.files.len() - 1;
    let mut parent = read_chain(&parent_path, chain, sources)?;
    // The outermost file resolves last, so its changes are the ones kept.
    let mut changes = Vec::new();
    changed_keys(&parent, &table, "", &mut changes);
    let Sources {
        files,
        overrides,
        named_arrays,
        replacements,
    } = sources;
    *overrides = Some(Overrides {
        parent: parent_path.clone(),
        changes,
    });
    let mut merge = Merge {
        child: &files[here],
        parent: &parent_path,
        named_arrays,
        replacements,
    };
    forget_other_horizons(&mut parent, &table);
    merge.tables(&mut parent, table, "", "")?;
    Ok(parent)
}

/// The three ways to give the horizon, of which a scenario sets exactly one.
const HORIZON_KEYS: [&str; 3] = ["end_date", "horizon_years", "horizon_steps"];

/// A child that gives its horizon one way replaces the parent's, whichever
/// way the parent gave it (`end_date` over a parent's `horizon_years`).
fn forget_other_horizons(parent: &mut toml::Table, child: &toml::Table) {
    let given = |table: &toml::Table, key: &str| {
        table
            .get("scenario")
            .and_then(toml::Value::as_table)
            .is_some_and(|meta| meta.contains_key(key))
    };
    let Some(chosen) = HORIZON_KEYS.iter().find(|key| given(child, key)) else {
        return;
    };
    if let Some(meta) = parent
        .get_mut("scenario")
        .and_then(toml::Value::as_table_mut)
    {
        for key in HORIZON_KEYS.iter().filter(|key| *key != chosen) {
            meta.remove(*key);
        }
    }
}

/// Keys under which a child's table is an array of named tables even where the
/// parent has none yet (`[events.NAME]` over a parent without events).
const NAMED_ARRAYS: [&str; 2] = ["events", "portfolio"];

/// Whether `items` is an array of named tables: every element a table with a
/// string `name` (an empty array is one).
fn named_tables(items: &[toml::Value]) -> bool {
    items
        .iter()
        .all(|item| item.get("name").is_some_and(toml::Value::is_str))
}

fn element_name(item: &toml::Value) -> Option<&str> {
    item.get("name").and_then(toml::Value::as_str)
}

/// The names of the named tables `items`, in order.
fn element_names(items: &[toml::Value]) -> Vec<String> {
    items
        .iter()
        .filter_map(element_name)
        .map(String::from)
        .collect()
}

/// One child file merged over its resolved parent; see [`Merge::tables`].
struct Merge<'a> {
    /// The child, for locating its problems.
    child: &'a SourceFile,
    parent: &'a Path,
    named_arrays: &'a mut Vec<NamedArray>,
    replacements: &'a mut Vec<Replacement>,
}

impl Merge<'_> {
    /// Merges `child` over `base`: tables key by key, a table over an array of
    /// named tables by name ([`Merge::by_name`]), anything else replaced.
    /// `path` is the key path in the merged table (indices into arrays), `written`
    /// the same place as the child file spells it, for its errors.
    fn tables(
        &mut self,
        base: &mut toml::Table,
        child: toml::Table,
        path: &str,
        written: &str,
    ) -> Result<(), ScenarioError> {
        for (key, value) in child {
            let key_path = join_key(path, &key);
            let key_written = join_key(written, &key);
            match (base.get_mut(&key), value) {
                (Some(toml::Value::Table(base_table)), toml::Value::Table(child_table)) => {
                    self.tables(base_table, child_table, &key_path, &key_written)?
                }
                (Some(toml::Value::Array(items)), toml::Value::Table(changes))
                    if named_tables(items) =>
                {
                    self.by_name(items, changes, &key_path, &key_written)?
                }
                (Some(toml::Value::Array(items)), toml::Value::Table(_))
                    if items.iter().all(toml::Value::is_table) =>
                {
                    return Err(self.error(
                        &key_written,
                        format!(
                            "a table here changes an element of `{key_path}` by name, but not every element of `{key_path}` in {} has a `name`; write `[[{key_path}]]` to give the whole list",
                            file_name(self.parent)
                        ),
                    ));
                }
                (None, toml::Value::Table(changes))
                    if path.is_empty() && NAMED_ARRAYS.contains(&key.as_str()) =>
                {
                    let mut items = Vec::new();
                    self.by_name(&mut items, changes, &key_path, &key_written)?;
                    base.insert(key, toml::Value::Array(items));
                }
                (old, value) => {
                    self.forget(&key_path);
                    if let (Some(toml::Value::Array(items)), toml::Value::Array(_)) = (&old, &value)
                    {
                        if !items.is_empty() && named_tables(items) {
                            self.replacements.push(Replacement {
                                path: key_path.clone(),
                                file: self.child.path.clone(),
                                parent: self.parent.to_path_buf(),
                                names: element_names(items),
                                dropped: Vec::new(),
                            });
                        }
                    }
                    base.insert(key, value);
                }
            }
        }
        Ok(())
    }

    /// Forgets what earlier files recorded of `path` and below: the child
    /// replaces it whole.
    fn forget(&mut self, path: &str) {
        self.named_arrays.retain(|n| !is_at_or_under(&n.path, path));
        self.replacements.retain(|r| !is_at_or_under(&r.path, path));
    }

    /// Merges `changes`, tables keyed by name, into the named tables `items`:
    /// each merges over the element of its name, or is appended as a new one,
    /// or with `remove = true` drops it. Removals go first, so the indices of
    /// the elements merged are their final ones.
    fn by_name(
        &mut self,
        items: &mut Vec<toml::Value>,
        changes: toml::Table,
        path: &str,
        written: &str,
    ) -> Result<(), ScenarioError> {
        let (singular, plural) = nouns(path);
        let mut kept = Vec::new();
        let mut removed = false;
        for (name, value) in changes {
            let at = join_key(written, &name);
            let toml::Value::Table(mut element) = value else {
                return Err(self.error(
                    &at,
                    format!(
                        "must be a table of the keys of the {singular} `{}` that change, as `[{written}.{}]`",
                        shown_name(&name),
                        shown_name(&name)
                    ),
                ));
            };
            let remove = match element.remove("remove") {
                None => false,
                Some(toml::Value::Boolean(remove)) => remove,
                Some(other) => {
                    return Err(self.error(
                        &join_key(&at, "remove"),
                        format!("must be true (drop the {singular}) or false, found {other}"),
                    ))
                }
            };
            if let Some(given) = element.get("name") {
                if given.as_str() != Some(name.as_str()) {
                    return Err(self.error(
                        &join_key(&at, "name"),
                        format!(
                            "{} differs from `{}`, the name of the {singular} this table changes; leave `name` out or make them equal",
                            shown_value(given),
                            shown_name(&name)
                        ),
                    ));
                }
            }
            if remove {
                if let Some(other) = element.keys().find(|k| *k != "name") {
                    return Err(self.error(
                        &join_key(&at, other),
                        format!("`remove = true` drops the {singular} `{}`; give no other keys beside it", shown_name(&name)),
                    ));
                }
                let Some(index) = items.iter().position(|i| element_name(i) == Some(&name)) else {
                    let names = element_names(items);
                    let parent = file_name(self.parent);
                    let hint = match nearest(&name, &names) {
                        Some(best) => format!("did you mean `{best}`?"),
                        None if names.is_empty() => format!("it has no {plural}"),
                        None => format!("its {plural}: {}", listed_names(&names)),
                    };
                    return Err(self.error(
                        &join_key(&at, "remove"),
                        format!(
                            "no {singular} `{}` in {parent} to remove; {hint}",
                            shown_name(&name)
                        ),
                    ));
                };
                items.remove(index);
                removed = true;
            } else {
                kept.push((name, at, element));
            }
        }
        if removed {
            // Indices below this array moved.
            let below = |p: &str| p != path && is_at_or_under(p, path);
            self.named_arrays.retain(|n| !below(&n.path));
            self.replacements.retain(|r| !below(&r.path));
        }
        for (name, at, element) in kept {
            match items.iter().position(|i| element_name(i) == Some(&name)) {
                Some(index) => {
                    let merged = format!("{path}[{index}]");
                    if let Some(toml::Value::Table(target)) = items.get_mut(index) {
                        self.tables(target, element, &merged, &at)?;
                    }
                }
                None => {
                    let mut target = toml::Table::new();
                    target.insert("name".into(), toml::Value::String(name));
                    target.extend(element);
                    items.push(toml::Value::Table(target));
                }
            }
        }
        let names = element_names(items);
        self.named_arrays.retain(|n| n.path != path);
        self.named_arrays.push(NamedArray {
            path: path.to_string(),
            names,
        });
        Ok(())
    }

    /// A problem of the child file at `key`, as the child spells it.
    fn error(&self, key: &str, message: String) -> ScenarioError {
        ScenarioError::Invalid(vec![Sources::only(self.child).diagnostic(key, message)])
    }
}

/// A value as a message quotes it, cut like a name when long.
fn shown_value(value: &toml::Value) -> String {
    match value {
        toml::Value::String(text) => format!("`{}`", shown_name(text)),
        other => shown_name(&other.to_string()),
    }
}

/// The leaves of `child` whose value differs from `base`'s, with the same merge
/// rule as [`Merge::tables`]: tables are compared key by key, named tables by
/// name, anything else whole.
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
            // Named tables changed by name: `events.tariff_wave.rate_per_year`.
            (Some(toml::Value::Array(items)), toml::Value::Table(child_table))
                if named_tables(items) =>
            {
                changed_by_name(items, child_table, &path, changes)
            }
            (None, toml::Value::Table(child_table))
                if prefix.is_empty() && NAMED_ARRAYS.contains(&key.as_str()) =>
            {
                changed_by_name(&[], child_table, &path, changes)
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

/// The changes of tables keyed by name over the named tables `items`, as
/// [`Merge::by_name`] applies them: a removed element is `path.NAME`
/// "(removed)", a changed or new one its keys under `path.NAME`.
fn changed_by_name(
    items: &[toml::Value],
    child: &toml::Table,
    path: &str,
    changes: &mut Vec<ParameterChange>,
) {
    for (name, value) in child {
        let Some(element) = value.as_table() else {
            continue;
        };
        let existing = items.iter().find(|i| element_name(i) == Some(name));
        let element_path = join_key(path, name);
        if element.get("remove").and_then(toml::Value::as_bool) == Some(true) {
            if let Some(existing) = existing {
                changes.push(ParameterChange {
                    key: element_path,
                    parent: Some(inline_toml(existing)),
                    child: "(removed)".into(),
                });
            }
            continue;
        }
        let mut element = element.clone();
        element.remove("remove");
        let empty = toml::Table::new();
        let base = existing.and_then(toml::Value::as_table).unwrap_or(&empty);
        changed_keys(base, &element, &element_path, changes);
    }
}

fn inline_toml(value: &toml::Value) -> String {
    match value {
        toml::Value::Table(table) => toml::Value::Table(table.clone()).to_string(),
        other => other.to_string(),
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
    // `[events.NAME]` where nothing is inherited: only a child changes by name.
    if message.starts_with("invalid type: map, expected a sequence") && NAMED_ARRAYS.contains(&key)
    {
        let (singular, _) = nouns(key);
        return sources.diagnostic(
            key.to_string(),
            format!(
                "{message}: write `[[{key}]]` for each {singular}; `[{key}.NAME]` changes the {singular} NAME of the file this one `extends`"
            ),
        );
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
        None => format!("valid: {}", listed_names(valid)),
    };
    format!("unknown {what} `{name}`; {hint}")
}

/// Names a hint lists before it only counts the rest.
const LISTED_NAMES: usize = 20;

/// `names` joined for a hint: all of them, or the first [`LISTED_NAMES`] and a count.
fn listed_names(names: &[String]) -> String {
    if names.len() > LISTED_NAMES {
        format!(
            "{}, … ({} names)",
            names[..LISTED_NAMES].join(", "),
            names.len()
        )
    } else {
        names.join(", ")
    }
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

/// The value at `segments` in a merged table.
fn value_at<'t>(table: &'t toml::Table, segments: &[Segment<'_>]) -> Option<&'t toml::Value> {
    let (first, rest) = segments.split_first()?;
    let Segment::Key(name) = first else {
        return None;
    };
    let mut value = table.get(*name)?;
    for segment in rest {
        value = match segment {
            Segment::Key(name) => value.get(*name)?,
            Segment::Index(index) => value.get(*index)?,
        };
    }
    Some(value)
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

pub use crate::input::Kind as FileKind;
pub use crate::input::MAX_FILE_BYTES;

/// Reads a scenario file's text; see [`read_text_of`].
pub(crate) fn read_text(path: &Path) -> Result<String, ScenarioError> {
    read_text_of(path, FileKind::Scenario)
}

/// Reads an input file's text through [`crate::input::read_text`].
pub fn read_text_of(path: &Path, kind: FileKind) -> Result<String, ScenarioError> {
    Ok(crate::input::read_text(path, kind)?)
}
