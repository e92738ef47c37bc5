//! The size limit of a stored session record: a commit whose record would
//! be larger stores nothing and fails, naming the keys that take the room.

use crate::cas::Data;
use crate::error::SessionError;

/// How many of the largest keys the error names.
const NAMED: usize = 3;

/// Checks that `data`, encoded as a store keeps it ([`Data::encode`]),
/// takes at most `limit` bytes.
///
/// # Errors
///
/// [`SessionError::RecordTooLarge`] with the record's size and its
/// largest keys.
pub(super) fn check(data: &Data, limit: usize) -> Result<(), SessionError> {
    let size = data.encoded_len();
    if size <= limit {
        return Ok(());
    }
    Err(SessionError::RecordTooLarge {
        size,
        limit,
        largest: largest(data, NAMED),
    })
}

/// Whether `data` is too large to store under `limit`; if so, logs why.
pub(super) fn refuses(data: &Data, limit: usize) -> bool {
    match check(data, limit) {
        Ok(()) => false,
        Err(error) => {
            tracing::error!(%error, "a session record is over the record limit; nothing saved");
            true
        }
    }
}

/// The `count` keys whose entries are longest, longest first, ties by key:
/// what to shrink when a record or a session cookie is too large.
pub(super) fn largest(data: &Data, count: usize) -> Vec<(String, usize)> {
    let mut sizes: Vec<(String, usize)> = data
        .iter()
        .map(|(key, value)| (key.to_owned(), Data::entry_len(key, value)))
        .collect();
    sizes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    sizes.truncate(count);
    sizes
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::cas::StoredValue;

    fn data(values: &[(&str, Value)]) -> Data {
        values
            .iter()
            .map(|(key, value)| (*key, StoredValue::from_value(value)))
            .collect()
    }

    #[test]
    fn the_size_is_that_of_the_encoded_record() {
        for data in [
            Data::default(),
            data(&[("a", json!(1))]),
            data(&[
                ("shop.cart", json!([{"sku": "tea", "note": "ü \" \\"}])),
                ("quote\"back\\slash", json!("x")),
                ("control\n\t\u{1}", json!(null)),
                ("é", json!({"k": [1, 2, 3]})),
            ]),
        ] {
            assert_eq!(data.encoded_len(), data.encode().len(), "{data:?}");
        }
    }

    #[test]
    fn a_record_at_the_limit_fits_and_one_byte_more_does_not() {
        let data = data(&[("a", json!("x".repeat(100))), ("b", json!(1))]);
        let size = data.encode().len();
        assert!(check(&data, size).is_ok());
        let error = check(&data, size - 1).expect_err("over the limit");
        assert!(
            matches!(error, SessionError::RecordTooLarge { size: found, limit, .. }
                if found == size && limit == size - 1),
            "{error:?}"
        );
    }

    #[test]
    fn the_error_names_the_largest_keys_never_the_values() {
        let data = data(&[
            ("page.notes", json!("secret ".repeat(400))),
            ("shop.cart", json!(vec!["tea"; 50])),
            ("visit.count", json!(7)),
            ("user.id", json!(42)),
        ]);
        let message = check(&data, 100).expect_err("too large").to_string();
        let notes = message.find("`page.notes`").expect("the largest key");
        let cart = message.find("`shop.cart`").expect("the second");
        assert!(notes < cart, "largest first: {message}");
        assert!(
            message.contains("`visit.count`") && !message.contains("`user.id`"),
            "three keys named: {message}"
        );
        assert!(
            message.contains("over the layer's record limit of 100 bytes"),
            "{message}"
        );
        assert!(!message.contains("secret"), "{message}");
    }
}
