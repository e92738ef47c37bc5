//! Where typed handles get the current time from, so expiry can be tested
//! without sleeping.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use time::{Duration, OffsetDateTime};

/// A source of the current time.
///
/// Implement it to drive per-field expiry from your own clock; most code uses
/// [`Clock::system`] and tests use [`ManualClock`].
pub trait TimeSource: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> OffsetDateTime;
}

/// The clock a typed handle reads when it stamps or checks a per-field expiry.
///
/// The default is the system clock. In an axum app, a test swaps it by adding
/// the clock as a request extension, which the typed extractors pick up:
///
/// ```
/// use axum::{Extension, Router};
/// use session_core::{Clock, ManualClock};
///
/// let clock = ManualClock::starting_at_unix(1_700_000_000);
/// let app: Router = Router::new().layer(Extension(Clock::from(clock.clone())));
/// // ... send a request, then `clock.advance(time::Duration::minutes(16))`.
/// ```
#[derive(Clone, Default)]
pub struct Clock {
    source: Option<Arc<dyn TimeSource>>,
}

impl Clock {
    /// The system clock.
    #[must_use]
    pub fn system() -> Self {
        Self { source: None }
    }

    /// A clock that reads `source`.
    pub fn from_source(source: impl TimeSource) -> Self {
        Self {
            source: Some(Arc::new(source)),
        }
    }

    /// The current time according to this clock.
    #[must_use]
    pub fn now(&self) -> OffsetDateTime {
        match &self.source {
            Some(source) => source.now(),
            None => OffsetDateTime::now_utc(),
        }
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.source {
            Some(_) => f.write_str("Clock(custom)"),
            None => f.write_str("Clock(system)"),
        }
    }
}

/// A clock that moves only when told to: for tests of per-field expiry.
///
/// Clones share the same time, so a test keeps one clone and hands the other
/// to the app as a [`Clock`].
#[derive(Clone, Debug)]
pub struct ManualClock {
    now: Arc<Mutex<OffsetDateTime>>,
}

impl ManualClock {
    /// A clock that reads `start` until it is moved.
    #[must_use]
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// A clock that reads the given Unix time (seconds) until it is moved.
    ///
    /// A timestamp outside the range `time` supports is clamped to the Unix
    /// epoch.
    #[must_use]
    pub fn starting_at_unix(seconds: i64) -> Self {
        Self::new(
            OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH),
        )
    }

    /// Moves the clock forward (or back, for a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now = now.saturating_add(by);
    }

    /// Sets the clock to `to`.
    pub fn set(&self, to: OffsetDateTime) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = to;
    }
}

impl TimeSource for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl From<ManualClock> for Clock {
    fn from(clock: ManualClock) -> Self {
        Self::from_source(clock)
    }
}
