//! The store a request's `tower_sessions::Session` talks to: it loads
//! through the [`CasStore`], remembers what it loaded, and keeps writes back
//! until the response is known.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tower_sessions_core::SessionStore;
use tower_sessions_core::session::{Id, Record};
use tower_sessions_core::session_store;

use super::commit::{self, Outcome};
use super::locks::{SessionGuard, SessionLocks};
use super::merge::Base;
use crate::cas::{CasStore, Loaded, Revision};

/// What one request did to its session, read by the commit after the
/// handler returned.
#[derive(Debug, Default)]
pub(crate) struct RequestState {
    /// What the store held when the session was first loaded.
    pub(crate) loaded: Option<Snapshot>,
    /// The write the session asked for last.
    pub(crate) pending: Option<Pending>,
    /// The stored id the session deleted (log out, id rotation).
    pub(crate) deleted: Option<Id>,
    /// Why the session could not be loaded, if it could not.
    pub(crate) failure: Option<Failure>,
    /// Held from the first load until the commit is done.
    pub(crate) guard: Option<SessionGuard>,
    /// Set by the layer once the handler answered: the next save is the
    /// commit, done at once while `Session` lends its record.
    pub(crate) committing: bool,
    /// What that commit did.
    pub(crate) outcome: Option<Outcome>,
}

/// What a request found in the store, as much as the commit needs.
#[derive(Debug)]
pub(crate) enum Snapshot {
    /// A live record at `revision`, its data fingerprinted.
    Live {
        id: Id,
        revision: Revision,
        base: Base,
    },
    /// The session was ended a short while ago.
    Ended,
    /// Nothing (or nothing live) is stored under the id.
    Missing,
}

/// A write the session asked for.
#[derive(Debug)]
pub(crate) enum Pending {
    /// Replace the stored record.
    Save(Record),
    /// Store a new record under a new id.
    Create(Record),
}

/// Why a request could not use its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Other requests of the same session held it longer than the layer
    /// waits.
    Busy,
    /// The store could not be reached.
    Unavailable,
    /// The stored record does not decode. It is left as it is, never
    /// overwritten, so it can be inspected.
    Corrupt,
}

/// The `SessionStore` behind one request's `Session`.
pub(crate) struct RequestStore<S> {
    store: Arc<S>,
    locks: Arc<SessionLocks>,
    lock_wait: Duration,
    state: Arc<Mutex<RequestState>>,
}

impl<S> fmt::Debug for RequestStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestStore").finish_non_exhaustive()
    }
}

impl<S> RequestStore<S> {
    pub(crate) fn new(
        store: Arc<S>,
        locks: Arc<SessionLocks>,
        lock_wait: Duration,
        state: Arc<Mutex<RequestState>>,
    ) -> Self {
        RequestStore {
            store,
            locks,
            lock_wait,
            state,
        }
    }

    fn state(&self) -> MutexGuard<'_, RequestState> {
        lock_state(&self.state)
    }

    fn fail(&self, failure: Failure, message: &str) -> session_store::Error {
        self.state().failure = Some(failure);
        session_store::Error::Backend(message.to_owned())
    }
}

/// Locks a request's state; it is only ever held for plain field updates, so
/// a poisoned mutex still holds consistent data.
pub(crate) fn lock_state(state: &Mutex<RequestState>) -> MutexGuard<'_, RequestState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<S: CasStore> RequestStore<S> {
    /// Takes this session's lock in this instance, unless the request holds
    /// it already. Every first access to a known id goes through here, so a
    /// log out that never reads the session still waits its turn.
    async fn hold_lock(&self, id: &Id) -> session_store::Result<()> {
        if self.state().guard.is_some() {
            return Ok(());
        }
        let Some(guard) = self.locks.acquire(*id, self.lock_wait).await else {
            tracing::warn!(
                waited_ms = self.lock_wait.as_millis(),
                "other requests of this session held it too long; answering 503"
            );
            return Err(self.fail(
                Failure::Busy,
                "other requests of this session are still running",
            ));
        };
        self.state().guard = Some(guard);
        Ok(())
    }

    /// Loads `id` from the store and remembers what was there.
    async fn load_base(&self, id: &Id) -> session_store::Result<Loaded> {
        self.hold_lock(id).await?;
        let loaded = match self.store.load(id).await {
            Ok(loaded) => loaded,
            Err(error) => {
                tracing::error!(%error, "the session store failed to load a session");
                self.state().failure = Some(match error {
                    session_store::Error::Decode(_) => Failure::Corrupt,
                    _ => Failure::Unavailable,
                });
                return Err(error);
            }
        };
        let snapshot = match &loaded {
            Loaded::Live { record, revision } => Snapshot::Live {
                id: record.id,
                revision: *revision,
                base: Base::of(&record.data),
            },
            Loaded::Ended => {
                tracing::debug!("the request carries the id of a session that has just ended");
                Snapshot::Ended
            }
            Loaded::Missing => Snapshot::Missing,
        };
        self.state().loaded = Some(snapshot);
        Ok(loaded)
    }
}

#[async_trait]
impl<S: CasStore> SessionStore for RequestStore<S> {
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        Ok(match self.load_base(id).await? {
            Loaded::Live { record, .. } => Some(record),
            Loaded::Ended | Loaded::Missing => None,
        })
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        // `Session::clear` builds a record without loading one; the commit
        // needs to know what it replaces.
        let never_loaded = self.state().loaded.is_none();
        if never_loaded {
            self.load_base(&record.id).await?;
        }
        let lent = {
            let mut state = self.state();
            match state.loaded.take() {
                Some(Snapshot::Live { revision, base, .. })
                    if state.committing && state.deleted.is_none() =>
                {
                    Some((base, revision))
                }
                other => {
                    state.loaded = other;
                    None
                }
            }
        };
        match lent {
            Some((base, revision)) => {
                let outcome = commit::save_lent(self.store.as_ref(), base, record, revision).await;
                self.state().outcome = Some(outcome);
            }
            None => self.state().pending = Some(Pending::Save(record.clone())),
        }
        Ok(())
    }

    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let lent = {
            let state = self.state();
            state.committing
                && state.deleted.is_none()
                && !matches!(state.loaded, Some(Snapshot::Ended))
        };
        if lent {
            let outcome = commit::create_lent(self.store.as_ref(), record).await;
            self.state().outcome = Some(outcome);
        } else {
            // The id is final only once the store accepts it at commit.
            self.state().pending = Some(Pending::Create(record.clone()));
        }
        Ok(())
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let created_here =
            matches!(&self.state().pending, Some(Pending::Create(record)) if record.id == *id);
        if !created_here {
            self.hold_lock(id).await?;
        }
        let mut state = self.state();
        match &state.pending {
            // A record this request created but never stored: forget it.
            Some(Pending::Create(record)) if record.id == *id => state.pending = None,
            _ => {
                state.pending = None;
                state.deleted.get_or_insert(*id);
            }
        }
        Ok(())
    }
}
