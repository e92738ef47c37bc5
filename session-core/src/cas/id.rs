//! Session ids: 128 random bits, written as 22 characters of URL-safe
//! base64, the same text tower-sessions uses, so cookies and stored records
//! of either crate name the same session.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::CasError;

/// The number of characters of an id's text form.
const TEXT_LEN: usize = 22;

/// A session id: 128 bits from the operating system's random number
/// generator.
///
/// Its `Debug` output is a short fingerprint, never the id: the id is the
/// bearer token of a session.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(i128);

impl SessionId {
    /// Draws a new random id.
    ///
    /// # Errors
    ///
    /// [`CasError::Backend`] when the operating system cannot provide
    /// random bytes.
    pub fn random() -> Result<Self, CasError> {
        let mut bytes = [0; 16];
        getrandom::fill(&mut bytes).map_err(|error| {
            CasError::Backend(format!(
                "the system random number generator failed: {error}"
            ))
        })?;
        Ok(SessionId(i128::from_le_bytes(bytes)))
    }

    /// The id as a number, for conversions to other libraries' id types.
    #[must_use]
    pub const fn as_i128(self) -> i128 {
        self.0
    }

    /// The id with this number.
    #[must_use]
    pub const fn from_i128(number: i128) -> Self {
        SessionId(number)
    }

    /// A short, non-reversible fingerprint for logs: enough to tell two
    /// sessions apart in one log, useless to take over either.
    #[must_use]
    pub fn fingerprint(self) -> String {
        crate::fingerprint::of(&self.to_string())
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = [0; TEXT_LEN];
        match URL_SAFE_NO_PAD.encode_slice(self.0.to_le_bytes(), &mut text) {
            Ok(TEXT_LEN) => {}
            _ => return Err(fmt::Error),
        }
        // Base64 output is ASCII.
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId(#{})", self.fingerprint())
    }
}

/// The text is not an id: not 22 characters of URL-safe base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a session id: expected 22 characters of URL-safe base64")]
pub struct InvalidSessionId;

impl FromStr for SessionId {
    type Err = InvalidSessionId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() != TEXT_LEN {
            return Err(InvalidSessionId);
        }
        let mut bytes = [0; 16];
        match URL_SAFE_NO_PAD.decode_slice(text.as_bytes(), &mut bytes) {
            Ok(16) => Ok(SessionId(i128::from_le_bytes(bytes))),
            _ => Err(InvalidSessionId),
        }
    }
}

impl From<tower_sessions_core::session::Id> for SessionId {
    fn from(id: tower_sessions_core::session::Id) -> Self {
        SessionId(id.0)
    }
}

impl From<SessionId> for tower_sessions_core::session::Id {
    fn from(id: SessionId) -> Self {
        tower_sessions_core::session::Id(id.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_is_the_one_tower_sessions_writes() {
        for number in [0, 1, -1, i128::MAX, i128::MIN, 0x0123_4567_89ab_cdef] {
            let ours = SessionId::from_i128(number);
            let theirs = tower_sessions_core::session::Id(number);
            assert_eq!(ours.to_string(), theirs.to_string());
            assert_eq!(ours.to_string().parse::<SessionId>(), Ok(ours));
        }
    }

    #[test]
    fn anything_else_is_refused() {
        for text in [
            "",
            "short",
            "!!!!!!!!!!!!!!!!!!!!!!",
            "AAAAAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAAA/",
        ] {
            assert_eq!(text.parse::<SessionId>(), Err(InvalidSessionId), "{text:?}");
        }
    }

    #[test]
    fn debug_never_shows_the_id() {
        let id = SessionId::random().expect("random bytes");
        let debug = format!("{id:?}");
        assert!(!debug.contains(&id.to_string()), "{debug}");
        assert_ne!(
            id.fingerprint(),
            SessionId::from_i128(id.as_i128() ^ 1).fingerprint()
        );
    }
}
