//! The store behind one request's `tower_sessions::Session` in cookie mode:
//! it serves the record the cookie held and keeps the record the session
//! saves, for the response to seal.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use time::OffsetDateTime;
use tower_sessions_core::session::{Id, Record};
use tower_sessions_core::{Session, SessionStore, session_store};

use super::payload::Payload;
use super::revocation::Revocation;

/// What one request's cookie held and what its handler did with it.
#[derive(Debug, Default)]
pub(super) struct RequestState {
    /// The cookie of the layer's name the request brought.
    pub(super) brought: Brought,
    /// Where the revocation check stands.
    pub(super) revocation: Check,
    /// The handler accessed the session.
    pub(super) used: bool,
    /// The record the session saved last.
    pub(super) pending: Option<Pending>,
    /// The session deleted its record (`Session::delete`, `flush`,
    /// `cycle_id`).
    pub(super) deleted: bool,
}

/// The cookie a request brought.
#[derive(Debug, Default)]
pub(super) enum Brought {
    /// None of the layer's name.
    #[default]
    Nothing,
    /// One that gives no session: tampered, expired or revoked. The
    /// response removes it unless it sends a new session.
    Refused,
    /// A session, within its deadlines (and not revoked, once checked).
    Session(Opened),
}

impl Brought {
    pub(super) fn opened(&self) -> Option<&Opened> {
        match self {
            Brought::Session(opened) => Some(opened),
            Brought::Nothing | Brought::Refused => None,
        }
    }
}

/// The revocation check of one request: it runs on the first access.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) enum Check {
    /// Not run yet.
    #[default]
    Due,
    /// Run (or nothing to run); its verdict is in [`Brought`].
    Done,
    /// The app's lookup failed: the request is answered `503`.
    Failed,
}

/// A session the request's cookie held.
#[derive(Debug)]
pub(super) struct Opened {
    pub(super) payload: Payload,
    /// Sealed with a key other than the first: to be sealed again.
    pub(super) stale_key: bool,
}

/// A record the session asked to store.
#[derive(Debug)]
pub(super) enum Pending {
    /// The data of the session the cookie held.
    Save(Record),
    /// A new session: none was held, or it ended or cycled its id.
    Create(Record),
}

/// Locks a request's state: only ever held for plain field updates, so a
/// poisoned mutex still holds consistent data.
pub(super) fn lock_state(state: &Mutex<RequestState>) -> MutexGuard<'_, RequestState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The `SessionStore` behind one request's `Session`.
pub(super) struct CookieStore<R> {
    state: Arc<Mutex<RequestState>>,
    revocation: Option<Arc<R>>,
}

impl<R> fmt::Debug for CookieStore<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieStore").finish_non_exhaustive()
    }
}

impl<R> CookieStore<R> {
    pub(super) fn new(state: Arc<Mutex<RequestState>>, revocation: Option<Arc<R>>) -> Self {
        CookieStore { state, revocation }
    }

    fn state(&self) -> MutexGuard<'_, RequestState> {
        lock_state(&self.state)
    }
}

/// The record a session reads from an opened payload.
fn record_of(payload: &Payload) -> Record {
    Record {
        id: payload.id,
        data: payload.data.clone(),
        expiry_date: OffsetDateTime::from_unix_timestamp(payload.ends_at())
            .unwrap_or(OffsetDateTime::UNIX_EPOCH),
    }
}

impl<R: Revocation> CookieStore<R> {
    /// Marks the session used and, the first time, asks the app whether it
    /// was revoked.
    async fn check(&self) -> session_store::Result<()> {
        let (revocation, payload) = {
            let mut state = self.state();
            state.used = true;
            match state.revocation {
                Check::Failed => return Err(unavailable()),
                Check::Done => return Ok(()),
                Check::Due => {}
            }
            match (&self.revocation, state.brought.opened()) {
                (Some(revocation), Some(opened)) => {
                    (Arc::clone(revocation), opened.payload.clone())
                }
                _ => {
                    state.revocation = Check::Done;
                    return Ok(());
                }
            }
        };
        let view = Session::new(
            Some(payload.id),
            Arc::new(Snapshot(record_of(&payload))),
            None,
        );
        let verdict = revocation.sessions_valid_after(&view).await;
        let mut state = self.state();
        match verdict {
            Ok(Some(after)) if payload.issued_before(after) => {
                tracing::info!(
                    issued = payload.issued,
                    "a revoked session cookie was presented; the session reads as empty"
                );
                state.brought = Brought::Refused;
            }
            Ok(_) => {}
            Err(error) => {
                tracing::error!(%error, "the session revocation check failed; answering 503");
                state.revocation = Check::Failed;
                return Err(unavailable());
            }
        }
        state.revocation = Check::Done;
        Ok(())
    }
}

fn unavailable() -> session_store::Error {
    session_store::Error::Backend("the session revocation check failed".to_owned())
}

#[async_trait]
impl<R: Revocation> SessionStore for CookieStore<R> {
    async fn load(&self, _id: &Id) -> session_store::Result<Option<Record>> {
        self.check().await?;
        Ok(self
            .state()
            .brought
            .opened()
            .map(|opened| record_of(&opened.payload)))
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        // `Session::clear` builds a record without loading: the revocation
        // check must still run before anything is sealed under this id.
        self.check().await?;
        self.state().pending = Some(Pending::Save(record.clone()));
        Ok(())
    }

    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A new session never reuses an id, not even the one it cycled from.
        record.id = Id::default();
        self.state().pending = Some(Pending::Create(record.clone()));
        Ok(())
    }

    async fn delete(&self, _id: &Id) -> session_store::Result<()> {
        let mut state = self.state();
        state.pending = None;
        state.deleted = true;
        Ok(())
    }
}

/// The read-only copy of a session handed to the revocation check.
#[derive(Debug)]
struct Snapshot(Record);

#[async_trait]
impl SessionStore for Snapshot {
    async fn load(&self, _id: &Id) -> session_store::Result<Option<Record>> {
        Ok(Some(self.0.clone()))
    }

    async fn save(&self, _record: &Record) -> session_store::Result<()> {
        Ok(())
    }

    async fn create(&self, _record: &mut Record) -> session_store::Result<()> {
        Ok(())
    }

    async fn delete(&self, _id: &Id) -> session_store::Result<()> {
        Ok(())
    }
}
