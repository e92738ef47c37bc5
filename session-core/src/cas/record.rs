//! What a store keeps for one session: its values as JSON text, one per
//! key, shared by reference count between the store, the requests that
//! loaded it and the record that replaces it.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde_json::value::RawValue;
use time::OffsetDateTime;

use super::{CasError, SessionId};

/// The largest scratch buffer [`StoredValue::encode`] keeps between calls.
const SCRATCH_KEPT: usize = 64 * 1024;

/// The serialized JSON of one session value.
///
/// Always well-formed JSON: it is made only by encoding a value or by
/// reading a well-formed record. Clones share the text.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredValue(Arc<str>);

impl StoredValue {
    /// Encodes `value` as JSON.
    ///
    /// # Errors
    ///
    /// serde's error when the value has no JSON form.
    /// serde's error too when the JSON nests deeper than
    /// [`MAX_DEPTH`](Self::MAX_DEPTH): `serde_json` writes any depth but
    /// reads no deeper, so such a value could never be read back.
    pub fn encode<V: Serialize + ?Sized>(value: &V) -> Result<Self, serde_json::Error> {
        thread_local! {
            /// Where values are written before they get their own
            /// allocation of exactly their size: one buffer per thread, so
            /// an encode allocates once instead of growing a new buffer.
            static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut buffer) => {
                buffer.clear();
                let encoded = Self::encode_into(&mut buffer, value);
                if buffer.capacity() > SCRATCH_KEPT {
                    // A rare huge value does not pin its buffer.
                    *buffer = Vec::new();
                }
                encoded
            }
            // A `Serialize` impl that encodes a session value itself.
            Err(_) => Self::encode_into(&mut Vec::new(), value),
        })
    }

    fn encode_into<V: Serialize + ?Sized>(
        buffer: &mut Vec<u8>,
        value: &V,
    ) -> Result<Self, serde_json::Error> {
        serde_json::to_writer(&mut *buffer, value)?;
        // serde_json writes UTF-8 only.
        let text = std::str::from_utf8(buffer).map_err(serde::ser::Error::custom)?;
        crate::depth::check_text(text)?;
        Ok(StoredValue(text.into()))
    }

    /// The deepest nesting of arrays and objects `serde_json` reads back.
    pub const MAX_DEPTH: usize = crate::depth::MAX_DEPTH;

    /// The JSON text of an already parsed value.
    #[must_use]
    pub fn from_value(value: &serde_json::Value) -> Self {
        // A `Value` always has a JSON form (its map keys are strings), and
        // the serializer writes it faster than `Display` does.
        let text = serde_json::to_string(value).unwrap_or_else(|_| value.to_string());
        StoredValue(text.into())
    }

    /// The value as a JSON tree, for code that works on trees.
    ///
    /// # Errors
    ///
    /// serde's error when the JSON nests deeper than the parser allows.
    pub fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_str(&self.0)
    }

    /// The JSON text.
    #[must_use]
    pub fn json(&self) -> &str {
        &self.0
    }

    /// Whether the two hold the same JSON value. Texts that differ may
    /// still be equal values: the same map written in another key order.
    #[must_use]
    pub fn same_value(&self, other: &StoredValue) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || self.0 == other.0
            || matches!((self.to_value(), other.to_value()), (Ok(a), Ok(b)) if a == b)
    }

    fn from_raw(raw: &RawValue) -> Self {
        StoredValue(raw.get().into())
    }
}

impl fmt::Debug for StoredValue {
    /// The size only: values may be secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoredValue({} bytes)", self.0.len())
    }
}

/// The values of one session by key, shared by reference count: cloning
/// it copies nothing.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Data(Arc<BTreeMap<Arc<str>, StoredValue>>);

impl Data {
    /// A session with these values.
    #[must_use]
    pub fn from_map(values: BTreeMap<Arc<str>, StoredValue>) -> Self {
        Data(Arc::new(values))
    }

    /// The value under `key`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&StoredValue> {
        self.0.get(key)
    }

    /// Stores `value` under `key`. The map is copied first if another
    /// holder shares it (its values are not).
    pub fn insert(&mut self, key: impl Into<Arc<str>>, value: StoredValue) -> Option<StoredValue> {
        Arc::make_mut(&mut self.0).insert(key.into(), value)
    }

    /// Removes the value under `key`, copying the map first if another
    /// holder shares it.
    pub fn remove(&mut self, key: &str) -> Option<StoredValue> {
        Arc::make_mut(&mut self.0).remove(key)
    }

    /// The key as stored, to reuse its allocation.
    pub(crate) fn key(&self, key: &str) -> Option<&Arc<str>> {
        self.0.get_key_value(key).map(|(key, _)| key)
    }

    /// Every key and value, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &StoredValue)> {
        self.0.iter().map(|(key, value)| (&**key, value))
    }

    /// How many values the session holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the session holds no value.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether both are the same shared map (no comparison of values).
    #[must_use]
    pub fn ptr_eq(&self, other: &Data) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// A copy of the map to change: the keys and values themselves are
    /// shared, not copied.
    pub(crate) fn to_map(&self) -> BTreeMap<Arc<str>, StoredValue> {
        (*self.0).clone()
    }

    /// The record's bytes in format 1: one JSON object of key to value,
    /// the values' own JSON text written as it is (no re-encoding).
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = String::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out.into_bytes()
    }

    /// How many bytes [`Data::encode`] writes, counted without encoding:
    /// `{`, the entries `"key":value` with a comma between two, `}`.
    pub(crate) fn encoded_len(&self) -> usize {
        let entries: usize = self
            .0
            .iter()
            .map(|(key, value)| Self::entry_len(key, value))
            .sum();
        2 + entries + self.0.len().saturating_sub(1)
    }

    /// The bytes the entry `"key":value` takes in the encoded record: `"`
    /// and `\` in the key take two bytes, other control characters six.
    pub(crate) fn entry_len(key: &str, value: &StoredValue) -> usize {
        let quoted: usize = key
            .bytes()
            .map(|byte| match byte {
                b'"' | b'\\' => 2,
                0x00..=0x1f => 6,
                _ => 1,
            })
            .sum::<usize>()
            + 2;
        quoted + 1 + value.0.len()
    }

    /// Appends what [`Data::encode`] writes to `out`.
    pub(crate) fn encode_into(&self, out: &mut String) {
        out.push('{');
        for (index, (key, value)) in self.0.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            write_json_string(out, key);
            out.push(':');
            out.push_str(&value.0);
        }
        out.push('}');
    }

    /// Reads what [`Data::encode`] (or the previous release, which wrote
    /// the same JSON object) stored. Only the structure is parsed: each
    /// value's text is kept as it is, to be decoded when a field is read.
    ///
    /// # Errors
    ///
    /// [`CasError::Decode`] when the bytes are not a JSON object, or use a
    /// format this release does not know.
    pub fn decode(bytes: &[u8]) -> Result<Self, CasError> {
        match bytes.first() {
            Some(b'{') => {}
            Some(tag) => {
                return Err(CasError::Decode(format!(
                    "a stored session record has format tag {tag:#04x}, which this release cannot \
                     read (it reads format 1, a JSON object)"
                )));
            }
            None => {
                return Err(CasError::Decode(
                    "a stored session record is empty".to_owned(),
                ));
            }
        }
        let raw: RawData<'_> = serde_json::from_slice(bytes).map_err(|error| {
            CasError::Decode(format!("a stored session record is corrupt: {error}"))
        })?;
        Ok(Data::from_raw(raw))
    }

    /// The data of a record parsed as far as [`RawData`].
    pub(crate) fn from_raw(raw: RawData<'_>) -> Self {
        Data::from_map(
            raw.into_iter()
                .map(|(key, value)| (Arc::from(key), StoredValue::from_raw(value)))
                .collect(),
        )
    }
}

/// A record's JSON object parsed as far as its keys: each value is still
/// the text it was stored as, borrowed from the bytes read.
pub(crate) type RawData<'a> = BTreeMap<std::borrow::Cow<'a, str>, &'a RawValue>;

/// Writes `text` as a JSON string: quoted, with `"`, backslash and control
/// characters escaped; everything else is copied in runs.
fn write_json_string(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut run = 0;
    for (at, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x00..=0x1f => "",
            _ => continue,
        };
        // `at` is an ASCII byte, so a character boundary.
        out.push_str(&text[run..at]);
        run = at + 1;
        if escape.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        } else {
            out.push_str(escape);
        }
    }
    out.push_str(&text[run..]);
    out.push('"');
}

impl<K: Into<Arc<str>>> FromIterator<(K, StoredValue)> for Data {
    fn from_iter<I: IntoIterator<Item = (K, StoredValue)>>(values: I) -> Self {
        Data::from_map(
            values
                .into_iter()
                .map(|(key, value)| (key.into(), value))
                .collect(),
        )
    }
}

impl From<serde_json::Value> for StoredValue {
    fn from(value: serde_json::Value) -> Self {
        StoredValue::from_value(&value)
    }
}

impl fmt::Debug for Data {
    /// The keys only: values may be secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// One stored session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Its id.
    pub id: SessionId,
    /// Its values.
    pub data: Data,
    /// When the store may forget it.
    pub expiry_date: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> Data {
        Data::from_map(
            pairs
                .iter()
                .map(|(key, json)| {
                    let value: serde_json::Value = serde_json::from_str(json).expect("json");
                    (Arc::from(*key), StoredValue::from_value(&value))
                })
                .collect(),
        )
    }

    #[test]
    fn format_1_is_the_json_object_of_the_previous_release() {
        let data = data(&[("shop.cart", r#"[{"sku":"tea"}]"#), ("a\"b\\\n", "1")]);
        let bytes = data.encode();
        assert_eq!(
            std::str::from_utf8(&bytes).expect("utf-8"),
            r#"{"a\"b\\\u000a":1,"shop.cart":[{"sku":"tea"}]}"#
        );
        let previous: std::collections::HashMap<String, serde_json::Value> =
            serde_json::from_slice(&bytes).expect("the previous release reads it");
        assert_eq!(previous["shop.cart"][0]["sku"], "tea");
        assert_eq!(Data::decode(&bytes).expect("decodes"), data);
    }

    #[test]
    fn bad_bytes_are_decode_errors() {
        for bytes in [&b""[..], b"[1]", b"{\"a\":", b"\x02binary", b"{\"a\":1}x"] {
            assert!(
                matches!(Data::decode(bytes), Err(CasError::Decode(_))),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn keys_are_escaped_so_that_any_json_reader_reads_them_back() {
        let keys = [
            "plain",
            "quote\"d",
            "back\\slash",
            "line\nbreak",
            "\u{1}\u{1f}",
            "é€😀",
            "",
        ];
        let data: Data = keys
            .iter()
            .map(|key| (*key, StoredValue::from(serde_json::json!(1))))
            .collect();
        let bytes = data.encode();
        let read: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&bytes).expect("well-formed JSON");
        let mut expected: Vec<&str> = keys.to_vec();
        expected.sort_unstable();
        assert_eq!(
            read.keys().map(String::as_str).collect::<Vec<_>>(),
            expected
        );
        assert_eq!(Data::decode(&bytes).expect("decodes"), data);
    }

    #[test]
    fn same_value_ignores_key_order() {
        let a = StoredValue::encode(&serde_json::json!({"x": 1, "y": 2})).expect("json");
        let b = StoredValue(r#"{"y":2,"x":1}"#.into());
        assert!(a.same_value(&b));
        assert!(!a.same_value(&StoredValue("1".into())));
    }

    #[test]
    fn a_value_too_deep_to_read_back_is_refused() {
        fn nested(depth: usize) -> serde_json::Value {
            (0..depth).fold(serde_json::json!("x]}\\\"["), |inner, _| {
                serde_json::json!([inner])
            })
        }
        for depth in [1, 100, StoredValue::MAX_DEPTH] {
            let stored = StoredValue::encode(&nested(depth)).expect("readable depth");
            assert!(stored.to_value().is_ok(), "{depth} reads back");
        }
        for depth in [StoredValue::MAX_DEPTH + 1, 200] {
            let text = serde_json::to_string(&nested(depth)).expect("`serde_json` writes it");
            assert!(
                serde_json::from_str::<serde_json::Value>(&text).is_err(),
                "{depth}"
            );
            let error = StoredValue::encode(&nested(depth)).expect_err("refused");
            assert!(error.to_string().contains("deeper than 127"), "{error}");
        }
    }

    #[test]
    fn debug_shows_no_value() {
        let data = data(&[("token", r#""secret""#)]);
        assert!(!format!("{data:?}").contains("secret"));
        assert!(!format!("{:?}", data.get("token")).contains("secret"));
    }
}
