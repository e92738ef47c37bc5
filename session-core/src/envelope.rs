//! The stored shape of a field with a per-field expiry.
//!
//! A field with `expires_in` is stored as `{"exp": <unix seconds>, "v": <value>}`:
//! `exp` is the absolute deadline as whole seconds since the Unix epoch (UTC)
//! and `v` the field's plain serde value. Every other field is stored as its
//! plain serde value.

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

const DEADLINE: &str = "exp";
const VALUE: &str = "v";

/// A description of the envelope for error messages.
pub(crate) const SHAPE: &str = r#"an expiry envelope {"exp": <unix seconds>, "v": <value>}"#;

/// A stored envelope decoded straight from its JSON, with the field's value
/// as a `V`.
pub(crate) struct Envelope<V> {
    pub(crate) deadline: OffsetDateTime,
    pub(crate) value: V,
}

/// The envelope as it is written, borrowing the value.
#[derive(Serialize)]
pub(crate) struct Sealing<'a, V: ?Sized> {
    exp: i64,
    v: &'a V,
}

impl<V> Envelope<V> {
    /// What to store for `value` with `deadline`.
    pub(crate) fn sealing(value: &V, deadline: OffsetDateTime) -> Sealing<'_, V> {
        Sealing {
            exp: deadline.unix_timestamp(),
            v: value,
        }
    }
}

impl<'de, V: DeserializeOwned> Deserialize<'de> for Envelope<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Stored<V> {
            exp: i64,
            v: V,
        }
        let Stored { exp, v } = Stored::<V>::deserialize(deserializer)?;
        let deadline = OffsetDateTime::from_unix_timestamp(exp)
            .map_err(|_| D::Error::custom("the expiry envelope's deadline is out of range"))?;
        Ok(Envelope { deadline, value: v })
    }
}

/// Wraps `value` with its deadline.
pub(crate) fn seal(value: Value, deadline: OffsetDateTime) -> Value {
    let mut map = Map::with_capacity(2);
    map.insert(DEADLINE.to_owned(), Value::from(deadline.unix_timestamp()));
    map.insert(VALUE.to_owned(), value);
    Value::Object(map)
}

/// Splits a stored envelope into its value and deadline, or `None` when the
/// stored value is not an envelope.
pub(crate) fn open(stored: Value) -> Option<(Value, OffsetDateTime)> {
    let Value::Object(mut map) = stored else {
        return None;
    };
    if map.len() != 2 {
        return None;
    }
    let deadline = map
        .get(DEADLINE)
        .and_then(Value::as_i64)
        .and_then(|seconds| OffsetDateTime::from_unix_timestamp(seconds).ok())?;
    let value = map.remove(VALUE)?;
    Some((value, deadline))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sealed_value_is_the_documented_shape() {
        let deadline = OffsetDateTime::from_unix_timestamp(1_700_000_900).unwrap();
        let sealed = seal(json!(["a", 1]), deadline);
        assert_eq!(
            serde_json::to_string(&sealed).unwrap(),
            r#"{"exp":1700000900,"v":["a",1]}"#
        );
        assert_eq!(open(sealed), Some((json!(["a", 1]), deadline)));
    }

    #[test]
    fn the_typed_envelope_reads_and_writes_the_same_shape() {
        let deadline = OffsetDateTime::from_unix_timestamp(1_700_000_900).unwrap();
        let written = serde_json::to_string(&Envelope::sealing(&vec!["a"], deadline)).unwrap();
        assert_eq!(written, r#"{"exp":1700000900,"v":["a"]}"#);
        let read: Envelope<Vec<String>> = serde_json::from_str(&written).unwrap();
        assert_eq!(
            (read.value, read.deadline),
            (vec!["a".to_owned()], deadline)
        );
        for stored in [
            r#""plain""#,
            r#"{"v": 1}"#,
            r#"{"exp": "soon", "v": 1}"#,
            r#"{"exp": 1, "v": 1, "extra": true}"#,
            r#"{"exp": 1, "value": 1}"#,
            r#"{"exp": 9223372036854775807, "v": 1}"#,
        ] {
            assert!(
                serde_json::from_str::<Envelope<u8>>(stored).is_err(),
                "{stored}"
            );
        }
    }

    #[test]
    fn anything_else_is_not_an_envelope() {
        for stored in [
            json!("plain"),
            json!({"v": 1}),
            json!({"exp": "soon", "v": 1}),
            json!({"exp": 1, "v": 1, "extra": true}),
            json!({"exp": 1, "value": 1}),
            json!({"exp": i64::MAX, "v": 1}),
        ] {
            assert_eq!(open(stored.clone()), None, "{stored}");
        }
    }
}
