//! When a whole session expires.

use time::{Duration, OffsetDateTime};

/// How long a stored session stays valid after the last request that
/// saved it. The variants are tower-sessions' own, and convert to and from
/// its `Expiry`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// The cookie lasts until the browser session ends; the record is kept
    /// [`Expiry::BROWSER_SESSION_RECORD_LIFETIME`] after the last save.
    OnSessionEnd,
    /// The session ends this long after the last request that saved it.
    OnInactivity(Duration),
    /// The session ends at this moment.
    AtDateTime(OffsetDateTime),
}

impl Expiry {
    /// How long a record of a browser-session cookie is kept after its last
    /// save (tower-sessions keeps it as long).
    pub const BROWSER_SESSION_RECORD_LIFETIME: Duration = Duration::weeks(2);

    /// When a record saved at `now` under `expiry` (none set: a browser
    /// session) expires.
    #[must_use]
    pub fn deadline(expiry: Option<Expiry>, now: OffsetDateTime) -> OffsetDateTime {
        match expiry {
            Some(Expiry::OnInactivity(duration)) => now.saturating_add(duration),
            Some(Expiry::AtDateTime(at)) => at,
            Some(Expiry::OnSessionEnd) | None => {
                now.saturating_add(Self::BROWSER_SESSION_RECORD_LIFETIME)
            }
        }
    }
}

impl From<tower_sessions_core::Expiry> for Expiry {
    fn from(expiry: tower_sessions_core::Expiry) -> Self {
        match expiry {
            tower_sessions_core::Expiry::OnSessionEnd => Expiry::OnSessionEnd,
            tower_sessions_core::Expiry::OnInactivity(duration) => Expiry::OnInactivity(duration),
            tower_sessions_core::Expiry::AtDateTime(at) => Expiry::AtDateTime(at),
        }
    }
}

impl From<Expiry> for tower_sessions_core::Expiry {
    fn from(expiry: Expiry) -> Self {
        match expiry {
            Expiry::OnSessionEnd => tower_sessions_core::Expiry::OnSessionEnd,
            Expiry::OnInactivity(duration) => tower_sessions_core::Expiry::OnInactivity(duration),
            Expiry::AtDateTime(at) => tower_sessions_core::Expiry::AtDateTime(at),
        }
    }
}
