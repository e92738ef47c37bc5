//! The untyped session underneath every typed handle.

use std::future::Future;

use serde_json::Value;

use crate::error::StoreError;

/// An untyped session: JSON values by string key, plus the session-level
/// operations the typed layer needs.
///
/// Generated handles reach session data only through this trait. It is
/// implemented for [`tower_sessions::Session`](tower_sessions_core::Session)
/// (any of its stores) and for [`MemorySession`](crate::MemorySession); any
/// other untyped back end (a string store of an auth SDK, another framework's
/// session) plugs in by implementing it.
///
/// # Errors
///
/// Every operation returns a [`StoreError`] when the back end cannot be
/// reached; an implementation never panics on stored data.
pub trait RawSession: Clone + Send + Sync + 'static {
    /// Returns the value stored under `key`, if any.
    fn get_value(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<Value>, StoreError>> + Send;

    /// Stores `value` under `key`, replacing any previous value.
    fn insert_value(
        &self,
        key: &str,
        value: Value,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes the value under `key` and returns it, if there was one.
    fn remove_value(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<Value>, StoreError>> + Send;

    /// Gives the session a new id and keeps its data, so an id known before a
    /// privilege change is useless after it (session fixation defence).
    fn cycle_id(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes the session and all its data (log out).
    fn flush(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The session's current id, if it has one yet.
    fn id(&self) -> Option<String>;
}

impl RawSession for tower_sessions_core::Session {
    async fn get_value(&self, key: &str) -> Result<Option<Value>, StoreError> {
        Ok(tower_sessions_core::Session::get_value(self, key).await?)
    }

    async fn insert_value(&self, key: &str, value: Value) -> Result<(), StoreError> {
        tower_sessions_core::Session::insert_value(self, key, value).await?;
        Ok(())
    }

    async fn remove_value(&self, key: &str) -> Result<Option<Value>, StoreError> {
        Ok(tower_sessions_core::Session::remove_value(self, key).await?)
    }

    async fn cycle_id(&self) -> Result<(), StoreError> {
        Ok(tower_sessions_core::Session::cycle_id(self).await?)
    }

    async fn flush(&self) -> Result<(), StoreError> {
        Ok(tower_sessions_core::Session::flush(self).await?)
    }

    fn id(&self) -> Option<String> {
        tower_sessions_core::Session::id(self).map(|id| id.to_string())
    }
}
