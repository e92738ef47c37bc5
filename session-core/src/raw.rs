//! The untyped session underneath every typed handle.

use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::StoreError;
use crate::expiry::Expiry;

/// An untyped session: JSON values by string key, plus the session-level
/// operations the typed layer needs.
///
/// Generated handles reach session data only through this trait. It is
/// implemented for the session of this crate's layers
/// ([`LayerSession`](crate::layer::LayerSession)), for
/// [`tower_sessions::Session`](tower_sessions_core::Session) (any of its
/// stores, under its own layer), for [`MemorySession`](crate::MemorySession),
/// and for [`RequestSession`](crate::RequestSession), which is whichever of
/// the first two a request carries. Any other untyped back end (a string
/// store of an auth SDK, another framework's session) plugs in by
/// implementing the required methods.
///
/// The typed handles read and write through [`decode`](Self::decode) and
/// [`encode`](Self::encode), which a back end that keeps serialized JSON
/// implements straight on its bytes; their default implementations go
/// through [`get_value`](Self::get_value) and
/// [`insert_value`](Self::insert_value), for back ends that keep JSON trees.
///
/// # Errors
///
/// Every operation returns a [`StoreError`] when the back end cannot be
/// reached; an implementation never panics on stored data.
pub trait RawSession: Clone + Send + Sync + 'static {
    /// Returns the value stored under `key`, if any, as a JSON tree.
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

    /// Removes the value under `key`; whether there was one.
    fn remove(&self, key: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Decodes the value stored under `key` as a `V`, if there is one.
    ///
    /// # Errors
    ///
    /// [`ValueError::Json`] when the stored value does not decode as `V`;
    /// [`ValueError::Store`].
    fn decode<V: DeserializeOwned>(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<V>, ValueError>> + Send {
        async move {
            match self.get_value(key).await? {
                Some(value) => V::deserialize(&value).map(Some).map_err(ValueError::Json),
                None => Ok(None),
            }
        }
    }

    /// Encodes `value` as JSON and stores it under `key`.
    ///
    /// # Errors
    ///
    /// [`ValueError::Json`] when the value has no JSON form, or nests
    /// deeper than `serde_json` reads back (nothing is stored then);
    /// [`ValueError::Store`].
    fn encode<V: Serialize + ?Sized + Sync>(
        &self,
        key: &str,
        value: &V,
    ) -> impl Future<Output = Result<(), ValueError>> + Send {
        async move {
            let value = serde_json::to_value(value).map_err(ValueError::Json)?;
            crate::depth::check_value(&value).map_err(ValueError::Json)?;
            Ok(self.insert_value(key, value).await?)
        }
    }

    /// Says that this request's latest change to `key` is one the stored
    /// data itself called for, not the handler: an expired value removed, a
    /// value that no longer decodes reset, data of an older schema version
    /// migrated. Any request that reads the same stored data makes the same
    /// change, so a back end that merges concurrent saves (this crate's
    /// `SessionLayer`) may take two such changes that agree as one, where
    /// two handlers' changes to one key conflict even when equal (two
    /// requests that each added one to a counter both wrote the same
    /// number). The typed handles call it right after such a change; the
    /// default does nothing.
    fn mark_derived(&self, key: &str) {
        let _ = key;
    }

    /// Tells the session that its user has just authenticated (a log in, a
    /// password entered again): the session's absolute lifetime starts
    /// again from now. Cycling the id alone ([`cycle_id`](Self::cycle_id),
    /// a `rotate_id` field) does not restart it, so a copied cookie cannot
    /// be kept alive by switching roles. Under the cookie-session layer the
    /// cookie's absolute deadline and its `issued` instant (what a
    /// revocation check compares) restart; the default does nothing, for
    /// back ends with no absolute deadline.
    fn mark_authenticated(&self) {}

    /// Gives the session a new id and keeps its data, so an id known before a
    /// privilege change is useless after it (session fixation defence).
    fn cycle_id(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes the session and all its data (log out).
    fn flush(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The session's current id, if it has one yet.
    fn id(&self) -> Option<String>;

    /// When the whole session expires; `None` for the layer's default.
    fn expiry(&self) -> Option<Expiry>;

    /// Sets when the whole session expires ("remember me"); `None` goes
    /// back to the layer's default. It takes effect when the session is
    /// saved.
    fn set_expiry(&self, expiry: Option<Expiry>);
}

/// Why [`RawSession::decode`] or [`RawSession::encode`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    /// The back end failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The value does not decode as the type asked for, or has no JSON form.
    #[error(transparent)]
    Json(serde_json::Error),
}

impl RawSession for tower_sessions_core::Session {
    async fn get_value(&self, key: &str) -> Result<Option<Value>, StoreError> {
        Ok(tower_sessions_core::Session::get_value(self, key).await?)
    }

    async fn insert_value(&self, key: &str, value: Value) -> Result<(), StoreError> {
        tower_sessions_core::Session::insert_value(self, key, value).await?;
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<bool, StoreError> {
        Ok(tower_sessions_core::Session::remove_value(self, key)
            .await?
            .is_some())
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

    fn expiry(&self) -> Option<Expiry> {
        tower_sessions_core::Session::expiry(self).map(Expiry::from)
    }

    fn set_expiry(&self, expiry: Option<Expiry>) {
        tower_sessions_core::Session::set_expiry(self, expiry.map(Into::into));
    }
}
