//! Ways in for the fuzz targets of the repository's `fuzz/` crate: the
//! decode paths that have no public entry point short of a running server.
//! Only with the `fuzzing` feature, hidden from the docs, and not part of
//! the API: it may change in any release.
//!
//! Everything else the targets drive (records, envelopes, migrations,
//! cookies, id headers) they reach through the public API.

#[cfg(feature = "redis")]
use crate::cas::{CasError, Loaded, SessionId};

/// Reads a Redis store's `HMGET <key> rev data exp` reply made of
/// `fields` as [`RedisCasStore`](crate::cas::RedisCasStore)'s `load` reads
/// it at `now` (unix milliseconds). `None` is a missing field; bytes that
/// are UTF-8 arrive as a Redis string, others as bytes.
///
/// # Errors
///
/// [`CasError::Decode`] for a reply that is not a session hash.
#[cfg(feature = "redis")]
pub fn redis_hmget_reply(fields: &[Option<&[u8]>], now: i64) -> Result<Loaded, CasError> {
    use fred::types::Value;

    let reply = fields
        .iter()
        .map(|field| match field {
            None => Value::Null,
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => Value::from(text),
                Err(_) => Value::from(*bytes),
            },
        })
        .collect();
    crate::cas::read_hmget_reply(
        Value::Array(reply),
        &SessionId::from_i128(1),
        now,
        crate::cas::DEFAULT_ENDED_MARKER_LIFETIME,
    )
}
