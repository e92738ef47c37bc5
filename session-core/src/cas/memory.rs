//! A compare-and-swap store in process memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::{
    CasError, CasStore, DEFAULT_ENDED_MARKER_LIFETIME, Loaded, Record, Revision, SessionId,
    Touched, Written,
};
use async_trait::async_trait;
use time::OffsetDateTime;

/// Sessions in a `HashMap` behind a mutex: for development, tests and
/// single-instance apps that may lose their sessions on restart.
///
/// A record is kept as the shared snapshot a request loads: loading it
/// copies no value, and a save swaps in the new snapshot.
///
/// Clones share the same map, so two layers built on clones behave like two
/// app instances on one store. Expired records and ended markers are purged
/// lazily, when their id is touched, and by [`CasMemoryStore::purge_expired`].
#[derive(Clone, Debug)]
pub struct CasMemoryStore {
    entries: Arc<Mutex<HashMap<SessionId, Entry>>>,
    ended_marker_lifetime: Duration,
}

#[derive(Debug)]
enum Entry {
    Live { record: Record, revision: Revision },
    Ended { until: OffsetDateTime },
}

impl Entry {
    fn is_current(&self, now: OffsetDateTime) -> bool {
        match self {
            Entry::Live { record, .. } => record.expiry_date > now,
            Entry::Ended { until } => *until > now,
        }
    }
}

impl Default for CasMemoryStore {
    fn default() -> Self {
        CasMemoryStore::new()
    }
}

impl CasMemoryStore {
    /// An empty store whose ended markers live
    /// [`DEFAULT_ENDED_MARKER_LIFETIME`].
    #[must_use]
    pub fn new() -> Self {
        CasMemoryStore {
            entries: Arc::default(),
            ended_marker_lifetime: DEFAULT_ENDED_MARKER_LIFETIME,
        }
    }

    /// Keeps the ended marker of a deleted session for `lifetime` instead.
    #[must_use]
    pub fn with_ended_marker_lifetime(mut self, lifetime: Duration) -> Self {
        self.ended_marker_lifetime = lifetime;
        self
    }

    /// Removes expired records and ended markers whose time has passed.
    pub fn purge_expired(&self) {
        let now = OffsetDateTime::now_utc();
        self.lock().retain(|_, entry| entry.is_current(now));
    }

    /// How many records and ended markers the store holds, expired ones
    /// included until they are purged.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the store holds nothing at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// A poisoned mutex only means another thread panicked while holding it;
    /// every update below leaves the map consistent, so keep using it.
    fn lock(&self) -> MutexGuard<'_, HashMap<SessionId, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn ended_until(&self, now: OffsetDateTime) -> OffsetDateTime {
        now.saturating_add(
            time::Duration::try_from(self.ended_marker_lifetime).unwrap_or(time::Duration::MAX),
        )
    }
}

#[async_trait]
impl CasStore for CasMemoryStore {
    async fn load(&self, id: &SessionId) -> Result<Loaded, CasError> {
        let now = OffsetDateTime::now_utc();
        let mut entries = self.lock();
        Ok(match entries.get(id) {
            Some(entry) if !entry.is_current(now) => {
                entries.remove(id);
                Loaded::Missing
            }
            Some(Entry::Live { record, revision }) => Loaded::Live {
                record: record.clone(),
                revision: *revision,
            },
            Some(Entry::Ended { until }) => Loaded::Ended {
                ended_at: until.saturating_sub(
                    time::Duration::try_from(self.ended_marker_lifetime)
                        .unwrap_or(time::Duration::MAX),
                ),
            },
            None => Loaded::Missing,
        })
    }

    async fn create(&self, record: &mut Record) -> Result<Revision, CasError> {
        let mut entries = self.lock();
        while entries.contains_key(&record.id) {
            record.id = SessionId::random()?;
        }
        entries.insert(
            record.id,
            Entry::Live {
                record: record.clone(),
                revision: Revision::FIRST,
            },
        );
        Ok(Revision::FIRST)
    }

    async fn save(&self, record: &Record, expected: Revision) -> Result<Written, CasError> {
        let now = OffsetDateTime::now_utc();
        let mut entries = self.lock();
        let Some(entry) = entries.get_mut(&record.id) else {
            return Ok(Written::Gone);
        };
        Ok(match entry {
            Entry::Live {
                record: stored,
                revision,
            } if stored.expiry_date > now => {
                if *revision == expected {
                    *stored = record.clone();
                    *revision = revision.next();
                    Written::Done(*revision)
                } else {
                    Written::Conflict
                }
            }
            _ => Written::Gone,
        })
    }

    async fn touch(
        &self,
        id: &SessionId,
        expiry_date: OffsetDateTime,
        if_before: OffsetDateTime,
    ) -> Result<Touched, CasError> {
        let now = OffsetDateTime::now_utc();
        let mut entries = self.lock();
        Ok(match entries.get_mut(id) {
            Some(Entry::Live { record, .. }) if record.expiry_date > now => {
                if record.expiry_date < if_before {
                    record.expiry_date = expiry_date;
                    Touched::Moved
                } else {
                    Touched::Recent
                }
            }
            _ => Touched::Missing,
        })
    }

    async fn delete(
        &self,
        id: &SessionId,
        expected: Option<Revision>,
    ) -> Result<Written, CasError> {
        let now = OffsetDateTime::now_utc();
        let mut entries = self.lock();
        let revision = match entries.get(id) {
            Some(Entry::Live { record, revision }) if record.expiry_date > now => *revision,
            _ => return Ok(Written::Gone),
        };
        if expected.is_some_and(|expected| expected != revision) {
            return Ok(Written::Conflict);
        }
        entries.insert(
            *id,
            Entry::Ended {
                until: self.ended_until(now),
            },
        );
        Ok(Written::Done(revision.next()))
    }
}
