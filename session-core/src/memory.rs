//! An in-memory untyped session, for tests and as a model for other back ends.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::Value;

use crate::error::StoreError;
use crate::expiry::Expiry;
use crate::raw::RawSession;

/// A session held in memory: a map of JSON values and an id.
///
/// Clones share the same data, like clones of a `tower_sessions::Session`.
/// Use it to unit-test code that takes a typed handle without a web server or
/// a store:
///
/// ```
/// # use session_core::MemorySession;
/// # async fn demo() -> Result<(), session_core::StoreError> {
/// use session_core::RawSession;
///
/// let session = MemorySession::new();
/// session.insert_value("locale", serde_json::json!("fr")).await?;
/// assert_eq!(session.get_value("locale").await?, Some(serde_json::json!("fr")));
/// # Ok(()) }
/// ```
///
/// Its `Debug` output lists the id and the keys, never the values.
#[derive(Clone, Default)]
pub struct MemorySession {
    state: Arc<Mutex<MemoryState>>,
}

#[derive(Default)]
struct MemoryState {
    /// Incremented by `cycle_id` and `flush`, so tests can observe rotations.
    id: u64,
    values: BTreeMap<String, Value>,
    expiry: Option<Expiry>,
}

impl MemorySession {
    /// Creates an empty session with id `0`.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of every stored value, by key.
    #[must_use]
    pub fn snapshot(&self) -> BTreeMap<String, Value> {
        self.lock().values.clone()
    }

    /// The stored keys, in order.
    #[must_use]
    pub fn keys(&self) -> Vec<String> {
        self.lock().values.keys().cloned().collect()
    }

    /// Whether nothing is stored.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lock().values.is_empty()
    }

    /// How many times the id has changed through `cycle_id` or `flush`.
    #[must_use]
    pub fn id_generation(&self) -> u64 {
        self.lock().id
    }

    fn lock(&self) -> MutexGuard<'_, MemoryState> {
        // The state is a plain map that no operation leaves half-written, so a
        // panic in another thread while holding the lock cannot corrupt it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for MemorySession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("MemorySession")
            .field("id", &state.id)
            .field("keys", &state.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl RawSession for MemorySession {
    async fn get_value(&self, key: &str) -> Result<Option<Value>, StoreError> {
        Ok(self.lock().values.get(key).cloned())
    }

    async fn insert_value(&self, key: &str, value: Value) -> Result<(), StoreError> {
        self.lock().values.insert(key.to_owned(), value);
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.lock().values.remove(key).is_some())
    }

    async fn cycle_id(&self) -> Result<(), StoreError> {
        self.lock().id += 1;
        Ok(())
    }

    async fn flush(&self) -> Result<(), StoreError> {
        let mut state = self.lock();
        state.values.clear();
        state.id += 1;
        Ok(())
    }

    fn id(&self) -> Option<String> {
        Some(self.lock().id.to_string())
    }

    fn expiry(&self) -> Option<Expiry> {
        self.lock().expiry
    }

    fn set_expiry(&self, expiry: Option<Expiry>) {
        self.lock().expiry = expiry;
    }
}
