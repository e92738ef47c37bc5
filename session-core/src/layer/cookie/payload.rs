//! What a session cookie holds once opened: format version 1.
//!
//! ```json
//! {"v":1,"id":"mRl2S5MgMYa6XwOVhPv3vw","issued":1700000000,
//!  "idle_until":1700007200,"absolute_until":1700604800,
//!  "data":{"shop.cart":[{"sku":"tea","quantity":2}],"shop.__version":1}}
//! ```
//!
//! The JSON text is the plaintext of the private jar; the format is
//! documented on the [module](super) itself. `data` is the same JSON object
//! of storage key to value that the compare-and-swap stores keep
//! ([`Data::encode`]): opening a cookie parses its structure only, and each
//! value is decoded when a field reads it.

use std::fmt::Write as _;

use serde::Deserialize;
use time::OffsetDateTime;

use crate::cas::{Data, RawData, SessionId};

/// The format this build writes, and the only one it reads.
pub(super) const FORMAT_VERSION: u32 = 1;

/// An opened (or about to be sealed) session cookie.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Payload {
    /// The session's public id: what `Session::id` returns.
    pub(super) id: SessionId,
    /// When the session was created or its user last authenticated
    /// ([`RawSession::mark_authenticated`](crate::RawSession::mark_authenticated)), in
    /// Unix seconds: what the revocation check compares.
    pub(super) issued: i64,
    /// The idle deadline in Unix seconds, `None` without an idle timeout.
    pub(super) idle_until: Option<i64>,
    /// The absolute deadline in Unix seconds.
    pub(super) absolute_until: i64,
    /// Every storage key of the session, each value as its JSON text.
    pub(super) data: Data,
}

/// The wire shape, borrowed from the plaintext for opening.
#[derive(Deserialize)]
struct Incoming<'a> {
    v: u32,
    id: &'a str,
    issued: i64,
    idle_until: Option<i64>,
    absolute_until: i64,
    #[serde(borrow)]
    data: RawData<'a>,
}

/// Why an opened cookie does not give a session. Logged at debug level
/// only: tampered and stale cookies are routine on the open web.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Rejection {
    /// No key opens it: tampered, truncated, sealed with a retired key, or
    /// not ours.
    Unopened,
    /// Far longer than any cookie this layer sends; not even tried.
    Oversized,
    /// It opened but is not a payload this build reads.
    Malformed,
    /// Past its absolute deadline.
    AbsoluteExpired,
    /// Past its idle deadline.
    IdleExpired,
}

impl Rejection {
    pub(super) fn reason(self) -> &'static str {
        match self {
            Rejection::Unopened => "no key opens it",
            Rejection::Oversized => "it is longer than any session cookie",
            Rejection::Malformed => "its payload is not a version 1 session",
            Rejection::AbsoluteExpired => "its absolute deadline has passed",
            Rejection::IdleExpired => "its idle deadline has passed",
        }
    }
}

impl Payload {
    /// The JSON plaintext. The header fields are numbers and an id of
    /// URL-safe base64, so they need no escaping; the data is written as
    /// the stores write it.
    pub(super) fn encode(&self) -> String {
        let mut text = String::with_capacity(128 + self.data.encoded_len());
        // Writing to a `String` cannot fail.
        let _ = write!(
            text,
            r#"{{"v":{FORMAT_VERSION},"id":"{}","issued":{},"idle_until":"#,
            self.id, self.issued
        );
        let _ = match self.idle_until {
            Some(until) => write!(text, "{until}"),
            None => write!(text, "null"),
        };
        let _ = write!(text, r#","absolute_until":{},"data":"#, self.absolute_until);
        self.data.encode_into(&mut text);
        text.push('}');
        text
    }

    /// Reads a plaintext, refusing any other format version.
    pub(super) fn decode(plaintext: &str) -> Result<Payload, Rejection> {
        let incoming: Incoming<'_> =
            serde_json::from_str(plaintext).map_err(|_| Rejection::Malformed)?;
        if incoming.v != FORMAT_VERSION {
            return Err(Rejection::Malformed);
        }
        let id = incoming.id.parse().map_err(|_| Rejection::Malformed)?;
        Ok(Payload {
            id,
            issued: incoming.issued,
            idle_until: incoming.idle_until,
            absolute_until: incoming.absolute_until,
            data: Data::from_raw(incoming.data),
        })
    }

    /// Whether the session is still alive at `now`: a deadline is the first
    /// second at which it is not.
    pub(super) fn check_deadlines(&self, now: OffsetDateTime) -> Result<(), Rejection> {
        let now = now.unix_timestamp();
        if now >= self.absolute_until {
            return Err(Rejection::AbsoluteExpired);
        }
        if self.idle_until.is_some_and(|until| now >= until) {
            return Err(Rejection::IdleExpired);
        }
        Ok(())
    }

    /// Whether the session was issued before `instant` (a revocation):
    /// `issued` holds whole seconds, so a session issued within the second
    /// of `instant` counts as before it.
    pub(super) fn issued_before(&self, instant: OffsetDateTime) -> bool {
        i128::from(self.issued) * 1_000_000_000 < instant.unix_timestamp_nanos()
    }

    /// The earlier of the two deadlines.
    pub(super) fn ends_at(&self) -> i64 {
        self.idle_until
            .map_or(self.absolute_until, |idle| idle.min(self.absolute_until))
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

    fn sample() -> Payload {
        Payload {
            id: SessionId::from_i128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
            issued: 1_700_000_000,
            idle_until: Some(1_700_007_200),
            absolute_until: 1_700_604_800,
            data: data(&[
                ("shop.cart", json!([{"sku": "tea", "quantity": 2}])),
                (
                    "shop.csrf_token",
                    json!({"exp": 1_700_000_900, "v": "t0k3n"}),
                ),
                ("shop.__version", json!(1)),
            ]),
        }
    }

    #[test]
    fn round_trip_keeps_every_field() {
        let payload = sample();
        let text = payload.encode();
        assert_eq!(Payload::decode(&text), Ok(payload));
    }

    #[test]
    fn the_documented_shape() {
        let text = Payload {
            data: data(&[("a", json!(1))]),
            ..sample()
        }
        .encode();
        assert_eq!(
            text,
            r#"{"v":1,"id":"782riWdFIwHvzauJZ0UjAQ","issued":1700000000,"idle_until":1700007200,"absolute_until":1700604800,"data":{"a":1}}"#
        );
        let without_idle = Payload {
            idle_until: None,
            ..sample()
        };
        let text = without_idle.encode();
        assert!(text.contains(r#""idle_until":null"#), "{text}");
        assert_eq!(Payload::decode(&text), Ok(without_idle));
    }

    #[test]
    fn other_versions_and_shapes_are_refused() {
        let text = sample().encode();
        let v2 = text.replacen(r#""v":1"#, r#""v":2"#, 1);
        assert_eq!(Payload::decode(&v2), Err(Rejection::Malformed));
        let bad_id = text.replacen("782riWdFIwHvzauJZ0UjAQ", "not-an-id", 1);
        assert_eq!(Payload::decode(&bad_id), Err(Rejection::Malformed));
        for garbage in ["", "null", "{}", "[1]", r#"{"v":1}"#, "\u{0}"] {
            assert_eq!(Payload::decode(garbage), Err(Rejection::Malformed));
        }
    }

    #[test]
    fn deadlines_are_the_first_dead_second() {
        let payload = sample();
        let at = |seconds| OffsetDateTime::from_unix_timestamp(seconds).expect("time");
        assert_eq!(payload.check_deadlines(at(1_700_007_199)), Ok(()));
        assert_eq!(
            payload.check_deadlines(at(1_700_007_200)),
            Err(Rejection::IdleExpired)
        );
        let no_idle = Payload {
            idle_until: None,
            ..sample()
        };
        assert_eq!(no_idle.check_deadlines(at(1_700_604_799)), Ok(()));
        assert_eq!(
            no_idle.check_deadlines(at(1_700_604_800)),
            Err(Rejection::AbsoluteExpired)
        );
        assert_eq!(payload.ends_at(), 1_700_007_200);
        assert_eq!(no_idle.ends_at(), 1_700_604_800);
    }

    #[test]
    fn issued_before_counts_the_whole_second() {
        let payload = sample();
        let at = |nanos| OffsetDateTime::from_unix_timestamp_nanos(nanos).expect("time");
        assert!(!payload.issued_before(at(1_700_000_000_000_000_000)));
        assert!(payload.issued_before(at(1_700_000_000_000_000_001)));
        assert!(!payload.issued_before(at(1_699_999_999_999_999_999)));
    }
}
