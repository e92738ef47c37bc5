//! Which keys a request changed, and how two requests' changes combine.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

/// The data of a session record.
pub(crate) type Data = HashMap<String, Value>;

/// The keys whose value differs between `before` and `after`: set, changed
/// or removed.
pub(crate) fn changed_keys(before: &Data, after: &Data) -> BTreeSet<String> {
    before
        .keys()
        .chain(after.keys())
        .filter(|key| before.get(*key) != after.get(*key))
        .cloned()
        .collect()
}

/// Replays our changes (from `base` to `ours`) on top of `theirs`, another
/// request's save of the same base.
///
/// A key both requests changed is a conflict even when they wrote the same
/// value: two requests that each took the same flash message must not both
/// count as its single read. The error lists those keys.
pub(crate) fn rebase(base: &Data, ours: &Data, theirs: &Data) -> Result<Data, BTreeSet<String>> {
    let our_changes = changed_keys(base, ours);
    let their_changes = changed_keys(base, theirs);
    let both: BTreeSet<String> = our_changes.intersection(&their_changes).cloned().collect();
    if !both.is_empty() {
        return Err(both);
    }
    let mut merged = theirs.clone();
    for key in our_changes {
        match ours.get(&key) {
            Some(value) => merged.insert(key, value.clone()),
            None => merged.remove(&key),
        };
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn data(pairs: &[(&str, Value)]) -> Data {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), value.clone()))
            .collect()
    }

    #[test]
    fn changes_to_different_keys_merge() {
        let base = data(&[("a", json!(1)), ("b", json!(1)), ("gone", json!(true))]);
        let ours = data(&[("a", json!(2)), ("b", json!(1))]);
        let theirs = data(&[
            ("a", json!(1)),
            ("b", json!(5)),
            ("gone", json!(true)),
            ("new", json!("x")),
        ]);
        let merged = rebase(&base, &ours, &theirs).expect("disjoint changes");
        assert_eq!(
            merged,
            data(&[("a", json!(2)), ("b", json!(5)), ("new", json!("x"))])
        );
    }

    #[test]
    fn a_key_changed_by_both_conflicts_even_with_equal_values() {
        let base = data(&[("flash", json!("hi")), ("a", json!(1))]);
        let ours = data(&[("a", json!(1))]);
        let theirs = data(&[("a", json!(2))]);
        let conflict = rebase(&base, &ours, &theirs).expect_err("both removed the flash");
        assert_eq!(conflict.into_iter().collect::<Vec<_>>(), ["flash"]);
    }

    #[test]
    fn no_change_of_ours_takes_theirs() {
        let base = data(&[("a", json!(1))]);
        let theirs = data(&[("a", json!(3))]);
        assert_eq!(rebase(&base, &base, &theirs), Ok(theirs.clone()));
        assert!(changed_keys(&base, &base).is_empty());
    }
}
