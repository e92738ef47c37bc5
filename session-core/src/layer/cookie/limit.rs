//! The size browsers keep, and which values take the room when a session
//! outgrows it.

use crate::cas::Data;
use crate::error::SessionError;
use crate::layer::record_limit::largest;

/// The longest `Set-Cookie` header value, in bytes, the layer sends: the
/// 4096 bytes per cookie that RFC 6265 (section 6.1) asks browsers to keep
/// at least, and which Chrome, Firefox and Safari drop silently beyond.
/// Measured over the whole header value (name, sealed value and
/// attributes), which is stricter than every browser.
pub const COOKIE_SIZE_LIMIT: usize = 4096;

/// A request bringing a cookie longer than this is not even decrypted: the
/// layer never sends one past [`COOKIE_SIZE_LIMIT`].
pub(super) const LONGEST_OPENED: usize = 2 * COOKIE_SIZE_LIMIT;

/// How many of the largest values the error names.
const NAMED: usize = 3;

/// The error for a cookie of `size` bytes made from `data`.
pub(super) fn too_large(size: usize, data: &Data) -> SessionError {
    SessionError::CookieTooLarge {
        size,
        limit: COOKIE_SIZE_LIMIT,
        largest: largest(data, NAMED),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn data(values: &[(&str, Value)]) -> Data {
        values
            .iter()
            .map(|(key, value)| (*key, value.clone().into()))
            .collect()
    }

    #[test]
    fn the_largest_entries_first() {
        let data = data(&[
            ("shop.cart", json!(["x".repeat(3000)])),
            ("shop.locale", json!("en")),
            ("shop.notice", json!("y".repeat(100))),
            ("shop.__version", json!(1)),
            ("b", json!("é")),
        ]);
        let top = largest(&data, 3);
        assert_eq!(
            top,
            vec![
                // `"shop.cart":["xxx…"]`
                ("shop.cart".to_owned(), 12 + 3004),
                ("shop.notice".to_owned(), 14 + 102),
                // 18 bytes like `"shop.locale":"en"`, first by key.
                ("shop.__version".to_owned(), 17 + 1),
            ]
        );
        assert_eq!(largest(&data, 10).len(), 5);
        assert_eq!(largest(&Data::default(), 3), vec![]);
    }

    #[test]
    fn ties_are_ordered_by_key() {
        let data = data(&[("b", json!(1)), ("a", json!(2)), ("c", json!(3))]);
        let keys: Vec<String> = largest(&data, 2).into_iter().map(|(key, _)| key).collect();
        assert_eq!(keys, ["a", "b"]);
    }

    #[test]
    fn the_error_names_size_limit_and_largest_keys() {
        let data = data(&[
            ("shop.cart", json!(["x".repeat(4000)])),
            ("shop.locale", json!("en")),
        ]);
        let message = too_large(5123, &data).to_string();
        assert_eq!(
            message,
            "the session cookie would be 5123 bytes, over the 4096 browsers keep; \
             the largest values: `shop.cart` 4016 bytes, `shop.locale` 18 bytes"
        );
    }
}
