//! Test helpers for users of typed sessions.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::layout::StoredLayout;

/// The environment variable that accepts a changed snapshot, like
/// `TRYBUILD=overwrite` for trybuild.
pub const OVERWRITE_VARIABLE: &str = "SESSION_SCHEMA_SNAPSHOT";

/// Compares the stored layout of `T` with the snapshot at `path` and panics
/// (this is a test assertion) when they differ.
///
/// The snapshot holds the layout only: descriptions and other annotations are
/// left out, so rewording a doc comment or marking a field `sensitive` does
/// not count as a change.
///
/// - No snapshot yet: it is written, and the test fails once, asking to
///   review and commit it.
/// - The layout changed but the version did not: fails, listing the storage
///   keys that were added, removed or changed, with the advice to bump
///   `version` and add `migrate_from`; sessions written by the previous
///   release would otherwise be misread.
/// - The layout changed together with the version: fails, asking to accept
///   the new snapshot.
///
/// Run the test with `SESSION_SCHEMA_SNAPSHOT=overwrite` to accept the
/// current layout, then review the diff and commit it.
///
/// # Panics
///
/// On any difference, and when the snapshot cannot be read or written.
#[track_caller]
pub fn assert_schema_snapshot<T: StoredLayout>(path: impl AsRef<Path>) {
    let path = path.as_ref();
    let mut current = T::stored_schema().to_value();
    strip_annotations(&mut current);
    let rendered = render(&current);
    let overwrite = std::env::var(OVERWRITE_VARIABLE).is_ok_and(|value| value == "overwrite");
    let write = || {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|error| panic!("cannot create {}: {error}", parent.display()));
        }
        std::fs::write(path, &rendered).unwrap_or_else(|error| {
            panic!("cannot write the snapshot {}: {error}", path.display())
        });
    };
    let committed = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            write();
            assert!(
                overwrite,
                "wrote a new stored-layout snapshot to {}: review it and commit it",
                path.display()
            );
            return;
        }
        Err(error) => panic!("cannot read the snapshot {}: {error}", path.display()),
    };
    if committed == rendered {
        return;
    }
    if overwrite {
        write();
        return;
    }
    let committed: Value = serde_json::from_str(&committed)
        .unwrap_or_else(|error| panic!("the snapshot {} is not JSON: {error}", path.display()));
    let changes = changed_keys(&committed, &current);
    let was = stored_version(&committed);
    let now = stored_version(&current);
    assert!(
        was != now,
        "the stored layout of `{title}` changed without a version bump (version {version}).\n\
             changed storage keys: {changes}\n\
             Sessions written by the previous release would be misread: bump `version` and add \
             `migrate_from` (see the guide's \"Changing a schema safely\"), then accept the new \
             layout with {OVERWRITE_VARIABLE}=overwrite and commit {path}.",
        title = title(&current),
        version = was.map_or_else(|| "none".to_owned(), |version| version.to_string()),
        changes = describe(&changes),
        path = path.display(),
    );
    panic!(
        "the stored layout of `{title}` changed from version {was} to {now}.\n\
         changed storage keys: {changes}\n\
         Accept it with {OVERWRITE_VARIABLE}=overwrite and commit {path}.",
        title = std::any::type_name::<T>(),
        was = was.map_or_else(|| "none".to_owned(), |version| version.to_string()),
        now = now.map_or_else(|| "none".to_owned(), |version| version.to_string()),
        changes = describe(&changes),
        path = path.display(),
    );
}

/// Keywords that document a schema without changing what it accepts: a
/// reworded doc comment or a field made `sensitive` is no layout change.
const ANNOTATIONS: [&str; 3] = ["description", "title", "x-session-field"];

/// Keywords whose values are data, not schemas, and are left as they are.
const DATA_KEYWORDS: [&str; 4] = ["const", "enum", "default", "examples"];

/// Keywords whose values map names to schemas.
const SCHEMA_MAPS: [&str; 3] = ["properties", "$defs", "patternProperties"];

/// Removes the annotations of a schema and of every schema inside it.
fn strip_annotations(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            for keyword in ANNOTATIONS {
                object.remove(keyword);
            }
            for (keyword, value) in object.iter_mut() {
                if DATA_KEYWORDS.contains(&keyword.as_str()) {
                    continue;
                }
                match value {
                    Value::Object(map) if SCHEMA_MAPS.contains(&keyword.as_str()) => {
                        map.values_mut().for_each(strip_annotations);
                    }
                    _ => strip_annotations(value),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_annotations),
        _ => {}
    }
}

fn render(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_else(|_| schema.to_string());
    text.push('\n');
    text
}

fn title(schema: &Value) -> &str {
    schema
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or("schema")
}

/// The `const` of the `*.__version` property, if any.
fn stored_version(schema: &Value) -> Option<u64> {
    schema
        .get("properties")?
        .as_object()?
        .iter()
        .find(|(key, _)| key.ends_with(".__version"))
        .and_then(|(_, property)| property.get("const"))
        .and_then(Value::as_u64)
}

/// The keys added, removed or changed between two layouts; a change in a
/// shared definition (`$defs`) counts for every key.
fn changed_keys(before: &Value, after: &Value) -> Vec<String> {
    let properties = |schema: &Value| {
        schema
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let (before_properties, after_properties) = (properties(before), properties(after));
    let keys: BTreeSet<&String> = before_properties
        .keys()
        .chain(after_properties.keys())
        .collect();
    let definitions_changed = before.get("$defs") != after.get("$defs");
    let mut changes = Vec::new();
    for key in keys {
        match (before_properties.get(key), after_properties.get(key)) {
            (None, Some(_)) => changes.push(format!("`{key}` (added)")),
            (Some(_), None) => changes.push(format!("`{key}` (removed)")),
            (Some(was), Some(now)) if was != now => changes.push(format!("`{key}` (changed)")),
            _ => {}
        }
    }
    if definitions_changed {
        changes.push("a type used by the fields (`$defs` changed)".to_owned());
    }
    changes
}

fn describe(changes: &[String]) -> String {
    if changes.is_empty() {
        "none (only the description changed)".to_owned()
    } else {
        changes.join(", ")
    }
}
