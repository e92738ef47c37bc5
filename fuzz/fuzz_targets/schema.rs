//! The expiry envelope and the migration chain: a session whose every key
//! of the versioned schema (and its version key) holds what the fuzzer
//! wrote, read and written through the typed handles over
//! `LayerSession::detached`. Reads are values or `SessionError`s; writes
//! that succeed are read back.
//!
//! Input: one byte of clock offset, then the stored JSON text of each key
//! of `KEYS` in turn, separated by `0xff`; an empty part leaves its key
//! absent, and a part that is not JSON is stored as a JSON string.

#![no_main]

use libfuzzer_sys::fuzz_target;
use session_core::cas::{Data, StoredValue};
use session_core::layer::LayerSession;
use session_core::{Clock, ManualClock};
use session_core_fuzz::{FuzzSession, FuzzV1Session, KEYS, NOW, runtime};

/// The stored value for `text`: its JSON exactly as written when it is
/// JSON, a JSON string of it otherwise.
fn stored(key: &str, text: &[u8]) -> StoredValue {
    let mut record = Vec::with_capacity(text.len() + key.len() + 6);
    record.extend_from_slice(b"{\"");
    record.extend_from_slice(key.as_bytes());
    record.extend_from_slice(b"\":");
    record.extend_from_slice(text);
    record.push(b'}');
    match Data::decode(&record) {
        Ok(data) => match data.get(key) {
            Some(value) => value.clone(),
            None => StoredValue::from(serde_json::Value::Null),
        },
        Err(_) => StoredValue::from(serde_json::Value::String(
            String::from_utf8_lossy(text).into_owned(),
        )),
    }
}

fuzz_target!(|bytes: &[u8]| {
    let Some((&offset, rest)) = bytes.split_first() else {
        return;
    };
    let mut data = Data::default();
    for (key, text) in KEYS.iter().zip(rest.split(|byte| *byte == 0xff)) {
        if !text.is_empty() {
            data.insert(*key, stored(key, text));
        }
    }
    // From before the epoch of the envelopes to well after their deadline.
    let now = NOW - 1000 + i64::from(offset) * 60;
    let clock = || Clock::from(ManualClock::starting_at_unix(now));
    runtime().block_on(async {
        let raw = LayerSession::detached(data);
        let old = FuzzV1Session::with_clock(raw.clone(), clock());
        let _ = old.items().await;
        let _ = old.token().await;
        let _ = old.load().await;

        let session = FuzzSession::with_clock(raw, clock());
        let _ = session.items().await;
        let _ = session.user_id().await;
        let _ = session.token().await;
        let _ = session.token_expires_at().await;
        let _ = session.count().await;
        if let Ok(whole) = session.load().await {
            if session.save(&whole).await.is_ok() {
                let again = session.load().await.expect("a saved session loads");
                assert_eq!(again.items, whole.items, "saved items read back");
                assert_eq!(again.user_id, whole.user_id, "a saved user id reads back");
                assert_eq!(again.count, whole.count, "a saved count reads back");
            }
        }
        if session.take_notice().await.is_ok() {
            assert_eq!(
                session.take_notice().await.ok().flatten(),
                None,
                "a flash is taken once"
            );
        }
        if session.set_count(7).await.is_ok() {
            assert_eq!(
                session.count().await.ok(),
                Some(7),
                "a written count reads back"
            );
        }
        if session.set_token("t".to_owned()).await.is_ok() {
            assert_eq!(
                session.token().await.ok().flatten().as_deref(),
                Some("t"),
                "a written token reads back"
            );
            assert!(
                session.token_expires_at().await.ok().flatten().is_some(),
                "a written token has a deadline"
            );
        }
        if session.clear().await.is_ok() {
            assert_eq!(
                session.count().await.ok(),
                Some(0),
                "a cleared session is empty"
            );
        }
    });
});
