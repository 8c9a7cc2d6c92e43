//! Changing scenario keys without editing files: each [`Setting`] becomes a
//! key of an in-memory child scenario that `extends` the file, so the file's
//! own validation judges the new value exactly as it would a written child.
//!
//! A key is written as in a scenario file: `assets.spx.vol`,
//! `regimes.stress.expected_duration_years`, `events.shock.rate_per_year`
//! (an event by name, as a child's `[events.NAME]` table changes it; the form
//! `events[name=shock].rate_per_year` means the same).

use std::path::{Path, PathBuf};

use super::error::{Diagnostic, ScenarioError};
use super::load::unknown_name;
use super::Scenario;

/// One key set to one value.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Setting {
    /// The key path, `events[name=X]` already written `events.X`.
    pub key: String,
    pub value: toml::Value,
}

/// A setting as applied to a scenario, with what the file had there.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub setting: Setting,
    /// The file's value as inline TOML; `None` where it leaves the key unset.
    pub in_file: Option<String>,
}

impl Setting {
    /// Parses `KEY=VALUE`; the value is TOML (`0.2`, `true`, `"text"`), and
    /// a bare word that is not TOML is taken as a string.
    pub fn parse(text: &str) -> Result<Setting, String> {
        // The first `=` outside `[name=X]`.
        let mut depth = 0usize;
        let split = text.char_indices().find(|(_, c)| {
            match c {
                '[' => depth += 1,
                ']' => depth = depth.saturating_sub(1),
                _ => {}
            }
            *c == '=' && depth == 0
        });
        let Some((at, _)) = split else {
            return Err(format!("`{text}`: expected KEY=VALUE"));
        };
        let (key, value) = (&text[..at], &text[at + 1..]);
        let key = normalize_key(key.trim())?;
        let value = value.trim();
        let one_value = || {
            format!(
                "`{key}`: VALUE must be one value, in TOML (`0.2`, `true`, `\"text\"`, `[1, 2]`), \
                 got `{}`; give each key its own --set",
                value.escape_debug()
            )
        };
        // Parsed as the right-hand side of a document's only key, the text
        // could also hold further keys or tables after a newline, which would
        // be dropped silently; the document must hold `v` and nothing else.
        let parsed = match format!("v = {value}").parse::<toml::Table>() {
            Ok(mut table) if table.len() == 1 => table.remove("v"),
            Ok(_) => return Err(one_value()),
            Err(_) => None,
        };
        let parsed = match parsed {
            Some(parsed) => parsed,
            // Bare words are a string (`scenario.description=a new name`);
            // more lines are a mistake, as in a TOML string.
            None if value.chars().any(char::is_control) => return Err(one_value()),
            None => toml::Value::String(value.to_string()),
        };
        Ok(Setting { key, value: parsed })
    }

    pub fn number(key: &str, value: f64) -> Result<Setting, String> {
        Ok(Setting {
            key: normalize_key(key)?,
            value: toml::Value::Float(value),
        })
    }
}

/// `--set KEY=VALUE` texts as settings; the message names the flag.
pub fn parse_all(texts: &[String]) -> Result<Vec<Setting>, String> {
    texts
        .iter()
        .map(|text| Setting::parse(text).map_err(|e| format!("--set {e}")))
        .collect()
}

/// `key` with `[name=X]` selectors written as `.X`; refuses an index, which
/// a child can only give by replacing the whole array.
pub fn normalize_key(key: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = key;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else {
            return Err(format!("`{key}`: unclosed `[`"));
        };
        let inside = &after[..close];
        match inside.strip_prefix("name=") {
            Some(name) => {
                out.push('.');
                out.push_str(name.trim_matches('"'));
            }
            None => {
                return Err(format!(
                "`{key}`: an element of an array is chosen by name (`[name=NAME]`), not by index"
            ))
            }
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    if out.is_empty() || out.split('.').any(str::is_empty) {
        return Err(format!("`{key}`: not a key path"));
    }
    Ok(out)
}

/// Every key `scenario` could be given: each leaf of its resolved table
/// (events by name) and each numeric key validation checked, set or not.
pub fn known_keys(scenario: &Scenario) -> Vec<String> {
    let mut keys: Vec<String> = scenario.ranges.iter().map(|r| r.key.clone()).collect();
    leaves(&scenario.resolved, "", &mut keys);
    // Every mechanism can be switched, whether the file names it or not.
    keys.extend(
        super::Mechanism::ALL
            .iter()
            .map(|m| format!("mechanisms.{}", m.name())),
    );
    let mut seen = std::collections::HashSet::new();
    keys.retain(|k| seen.insert(k.clone()));
    keys
}

fn leaves(table: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    for (name, value) in table {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match value {
            toml::Value::Table(inner) => leaves(inner, &key, out),
            toml::Value::Array(items)
                if !items.is_empty()
                    && items
                        .iter()
                        .all(|i| i.get("name").is_some_and(toml::Value::is_str)) =>
            {
                for item in items {
                    if let (Some(toml::Value::String(n)), Some(t)) =
                        (item.get("name"), item.as_table())
                    {
                        leaves(t, &format!("{key}.{n}"), out);
                    }
                }
            }
            _ => out.push(key),
        }
    }
}

/// The text of a child of the file `parent` (named relative to `dir`, the
/// folder the child is read from) with `settings` applied.
pub fn child_text(parent: &Path, dir: &Path, settings: &[Setting], header: &str) -> String {
    let mut table = toml::Table::new();
    for setting in settings {
        let mut slot = &mut table;
        let parts: Vec<&str> = setting.key.split('.').collect();
        let (last, path) = parts.split_last().expect("a normalized key has a part");
        for part in path {
            slot = slot
                .entry(part.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .expect("settings' keys nest");
        }
        slot.insert(last.to_string(), setting.value.clone());
    }
    let extends = relative_path(parent, dir);
    let body = toml::to_string(&table).unwrap_or_default();
    format!(
        "{header}extends = {}\n\n{body}",
        toml::Value::String(extends.to_string_lossy().replace('\\', "/"))
    )
}

/// `target` as a path from the folder `from`: relative where they share more
/// than the root, else absolute.
pub fn relative_path(target: &Path, from: &Path) -> PathBuf {
    let target = absolute(target);
    let from = absolute(from);
    let t: Vec<_> = target.components().collect();
    let f: Vec<_> = from.components().collect();
    let common = t.iter().zip(&f).take_while(|(a, b)| a == b).count();
    // Sharing only the root, the absolute path is the one a reader can follow.
    if common <= 1 {
        return target;
    }
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for part in &t[common..] {
        out.push(part);
    }
    out
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    })
}

/// Checks that every setting names a key of `base` (the scenario loaded from
/// `parent`); an unknown key is reported with the nearest known one.
pub fn check_keys(
    base: &Scenario,
    parent: &Path,
    settings: &[Setting],
) -> Result<(), ScenarioError> {
    let known = known_keys(base);
    let problems: Vec<Diagnostic> = settings
        .iter()
        .filter(|s| !known.contains(&s.key))
        .map(|s| Diagnostic {
            file: Some(parent.to_path_buf()),
            line: None,
            key: s.key.clone(),
            message: unknown_name("key", &s.key, &known),
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ScenarioError::Invalid(problems))
    }
}

/// The scenario of the file `parent` with `settings` applied and validated.
/// `base` is that file already loaded (the keys are checked against it).
pub fn apply(
    base: &Scenario,
    parent: &Path,
    settings: &[Setting],
) -> Result<Scenario, ScenarioError> {
    check_keys(base, parent, settings)?;
    // A scenario started from a levels file keeps them under every setting.
    let carried = base
        .levels
        .as_ref()
        .map(|levels| levels.settings())
        .unwrap_or_default();
    let all: Vec<Setting> = carried.iter().chain(settings).cloned().collect();
    let dir = parent.parent().unwrap_or(Path::new("."));
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    // The child is read as if it sat beside its parent under another name: the
    // same name would be an `extends` cycle.
    let stem = parent
        .file_stem()
        .map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned());
    let origin = dir.join(format!("{stem}+settings.toml"));
    let text = child_text(parent, dir, &all, "");
    // The child file exists only in memory: its problems are the settings'
    // own, named by key alone. What the child changes is what was set; what
    // the scenario changes from its own parent stays the file's.
    let child = super::load_str(&text, &origin).map(|child| {
        let changes = child.overrides.map(|o| o.changes).unwrap_or_default();
        let in_file = |key: &str| {
            changes
                .iter()
                .find(|c| c.key == key)
                .and_then(|c| c.parent.clone())
        };
        let mut notes = child.notes;
        if let Some(levels) = &base.levels {
            notes.extend(levels.notes.iter().cloned());
        }
        Scenario {
            settings: settings
                .iter()
                .map(|s| Applied {
                    setting: s.clone(),
                    in_file: in_file(&s.key),
                })
                .collect(),
            overrides: base.overrides.clone(),
            levels: base.levels.clone(),
            notes,
            ..child
        }
    });
    child.map_err(|error| match error {
        ScenarioError::Invalid(diagnostics) => ScenarioError::Invalid(
            diagnostics
                .into_iter()
                .map(|d| {
                    if d.file.as_ref() == Some(&origin) {
                        Diagnostic {
                            file: None,
                            line: None,
                            ..d
                        }
                    } else {
                        d
                    }
                })
                .collect(),
        ),
        other => other,
    })
}
