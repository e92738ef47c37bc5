//! Which keys a request changed, and how two requests' changes combine.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher, Hash, Hasher};

use serde_json::Value;

/// The data of a session record.
pub(crate) type Data = HashMap<String, Value>;

/// What a request loaded, kept as one fingerprint per key instead of a copy
/// of the data: enough to tell which keys a save changed, at the cost of a
/// walk over the values instead of a deep copy on every request.
///
/// The fingerprints are keyed with fresh random keys for each request, so
/// nobody can craft two values that collide on purpose; an accidental
/// collision (one in 2^64 per compared key) would hide one change from a
/// merge.
#[derive(Debug)]
pub(crate) struct Base {
    keys: RandomState,
    fingerprints: HashMap<String, u64>,
}

impl Base {
    /// Fingerprints every key of `data`.
    pub(crate) fn of(data: &Data) -> Self {
        let keys = RandomState::new();
        let fingerprints = data
            .iter()
            .map(|(key, value)| (key.clone(), fingerprint(&keys, value)))
            .collect();
        Base { keys, fingerprints }
    }

    /// The keys whose value in `data` differs from the base: set, changed
    /// or removed.
    pub(crate) fn changed_keys(&self, data: &Data) -> BTreeSet<String> {
        let changed_or_new = data.iter().filter_map(|(key, value)| {
            let unchanged = self.fingerprints.get(key) == Some(&fingerprint(&self.keys, value));
            (!unchanged).then(|| key.clone())
        });
        let removed = self
            .fingerprints
            .keys()
            .filter(|key| !data.contains_key(*key))
            .cloned();
        changed_or_new.chain(removed).collect()
    }

    /// Replays our changes (from the base to `ours`) on top of `theirs`,
    /// another request's save of the same base.
    ///
    /// A key both requests changed is a conflict even when they wrote the
    /// same value: two requests that each took the same flash message must
    /// not both count as its single read. The error lists those keys.
    pub(crate) fn rebase(&self, ours: &Data, theirs: &Data) -> Result<Data, BTreeSet<String>> {
        let our_changes = self.changed_keys(ours);
        let their_changes = self.changed_keys(theirs);
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
}

fn fingerprint(keys: &RandomState, value: &Value) -> u64 {
    let mut hasher = keys.build_hasher();
    hash_value(keys, value, &mut hasher);
    hasher.finish()
}

/// Hashes a JSON value so that equal values hash alike: object entries are
/// combined in any order, since two equal maps may iterate differently.
fn hash_value(keys: &RandomState, value: &Value, hasher: &mut impl Hasher) {
    match value {
        Value::Null => 0_u8.hash(hasher),
        Value::Bool(flag) => (1_u8, flag).hash(hasher),
        Value::Number(number) => {
            2_u8.hash(hasher);
            if let Some(unsigned) = number.as_u64() {
                (0_u8, unsigned).hash(hasher);
            } else if let Some(signed) = number.as_i64() {
                (1_u8, signed).hash(hasher);
            } else if let Some(float) = number.as_f64() {
                // 0.0 and -0.0 are equal numbers.
                let bits = if float == 0.0 { 0 } else { float.to_bits() };
                (2_u8, bits).hash(hasher);
            }
        }
        Value::String(text) => (3_u8, text).hash(hasher),
        Value::Array(items) => {
            (4_u8, items.len()).hash(hasher);
            for item in items {
                hash_value(keys, item, hasher);
            }
        }
        Value::Object(entries) => {
            let combined = entries.iter().fold(0_u64, |sum, (key, item)| {
                let mut entry = keys.build_hasher();
                key.hash(&mut entry);
                hash_value(keys, item, &mut entry);
                sum.wrapping_add(entry.finish())
            });
            (5_u8, entries.len(), combined).hash(hasher);
        }
    }
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
        let base = Base::of(&data(&[
            ("a", json!(1)),
            ("b", json!(1)),
            ("gone", json!(true)),
        ]));
        let ours = data(&[("a", json!(2)), ("b", json!(1))]);
        let theirs = data(&[
            ("a", json!(1)),
            ("b", json!(5)),
            ("gone", json!(true)),
            ("new", json!("x")),
        ]);
        let merged = base.rebase(&ours, &theirs).expect("disjoint changes");
        assert_eq!(
            merged,
            data(&[("a", json!(2)), ("b", json!(5)), ("new", json!("x"))])
        );
    }

    #[test]
    fn a_key_changed_by_both_conflicts_even_with_equal_values() {
        let base = Base::of(&data(&[("flash", json!("hi")), ("a", json!(1))]));
        let ours = data(&[("a", json!(1))]);
        let theirs = data(&[("a", json!(2))]);
        let conflict = base
            .rebase(&ours, &theirs)
            .expect_err("both removed the flash");
        assert_eq!(conflict.into_iter().collect::<Vec<_>>(), ["flash"]);
    }

    #[test]
    fn no_change_of_ours_takes_theirs() {
        let loaded = data(&[("a", json!(1))]);
        let base = Base::of(&loaded);
        let theirs = data(&[("a", json!(3))]);
        assert_eq!(base.rebase(&loaded, &theirs), Ok(theirs.clone()));
        assert!(base.changed_keys(&loaded).is_empty());
    }

    #[test]
    fn fingerprints_see_every_kind_of_change() {
        let loaded = data(&[(
            "v",
            json!({"cart": [{"sku": "tea", "n": 1}], "flag": true, "x": 1.5, "s": "a", "none": null}),
        )]);
        let base = Base::of(&loaded);
        assert!(base.changed_keys(&loaded).is_empty());
        for changed in [
            json!({"cart": [{"sku": "tea", "n": 2}], "flag": true, "x": 1.5, "s": "a", "none": null}),
            json!({"cart": [{"sku": "tea", "n": 1}], "flag": false, "x": 1.5, "s": "a", "none": null}),
            json!({"cart": [{"sku": "tea", "n": 1}], "flag": true, "x": 2.5, "s": "a", "none": null}),
            json!({"cart": [{"sku": "tea", "n": 1}], "flag": true, "x": 1.5, "s": "b", "none": null}),
            json!({"cart": [{"sku": "tea", "n": 1}], "flag": true, "x": 1.5, "s": "a", "none": 0}),
            json!({"cart": [], "flag": true, "x": 1.5, "s": "a", "none": null}),
            json!({"cart": [{"sku": "tea", "n": 1}], "flag": true, "x": 1.5, "s": "a"}),
            json!({"cart": [{"n": 1, "sku": "tea"}, {"sku": "tea", "n": 1}], "flag": true, "x": 1.5, "s": "a", "none": null}),
            json!([1, 2]),
            json!(-1),
            json!(u64::MAX),
        ] {
            let after = data(&[("v", changed.clone())]);
            assert_eq!(
                base.changed_keys(&after).len(),
                1,
                "missed a change to {changed}"
            );
        }
        // Equal values are unchanged, whatever the order of an object's keys.
        let reordered = data(&[(
            "v",
            json!({"none": null, "s": "a", "x": 1.5, "flag": true, "cart": [{"n": 1, "sku": "tea"}]}),
        )]);
        assert!(base.changed_keys(&reordered).is_empty());
        assert!(
            Base::of(&data(&[("z", json!(0.0))]))
                .changed_keys(&data(&[("z", json!(-0.0))]))
                .is_empty()
        );
    }
}
