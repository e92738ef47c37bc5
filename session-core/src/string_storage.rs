//! String values by key for auth SDKs, laid over the untyped session.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::error::SessionError;
use crate::raw::RawSession;

/// Separates the namespace from the key in storage keys, as in typed schemas.
const SEPARATOR: char = '.';

/// String values by key in one namespace of a session: the storage that auth
/// SDKs modelled on Logto's (`GetItem(key)`, `SetItem(key, value)`,
/// `RemoveItem(key)`) expect.
///
/// An item `key` is stored under `{namespace}.{key}` as a JSON string, so the
/// SDK's items sit next to typed schemas in the same session without touching
/// their keys: choose a namespace that no schema of the app uses. It works
/// over any [`RawSession`], `tower_sessions::Session` included, and keeps
/// nothing in memory itself; clones share the session.
///
/// ```
/// use session_core::{MemorySession, StringStorage};
///
/// # async fn demo() -> Result<(), session_core::SessionError> {
/// let session = MemorySession::new();
/// let storage = StringStorage::new(session.clone(), "logto")?;
///
/// storage.set_item("idToken", "eyJhbGciOi...").await?;
/// assert_eq!(storage.get_item("idToken").await?.as_deref(), Some("eyJhbGciOi..."));
/// assert_eq!(session.keys(), ["logto.idToken"]);
///
/// storage.remove_item("idToken").await?;
/// assert_eq!(storage.get_item("idToken").await?, None);
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo()).unwrap();
/// ```
///
/// Its `Debug` output shows the namespace only: the items are often tokens.
///
/// # Errors
///
/// Every method returns [`SessionError::InvalidStringKey`] for an empty key
/// and [`SessionError::Store`] when the session's store fails; reads return
/// [`SessionError::NotAString`] when something other than a string is stored
/// under the key.
#[derive(Clone)]
pub struct StringStorage<S> {
    raw: S,
    namespace: Arc<str>,
}

impl<S: RawSession> StringStorage<S> {
    /// Keeps items of `raw` under `{namespace}.{key}`.
    ///
    /// # Errors
    ///
    /// [`SessionError::InvalidStringKey`] when `namespace` is empty or
    /// contains `.`, which separates the namespace from the key.
    pub fn new(raw: S, namespace: &str) -> Result<Self, SessionError> {
        let refuse = |reason| SessionError::InvalidStringKey {
            key: namespace.to_owned(),
            reason,
        };
        if namespace.is_empty() {
            return Err(refuse("a namespace must not be empty"));
        }
        if namespace.contains(SEPARATOR) {
            return Err(refuse(
                "a namespace must not contain `.`, which separates it from the key; use `_` or `-`",
            ));
        }
        Ok(Self {
            raw,
            namespace: Arc::from(namespace),
        })
    }

    /// The namespace every item is stored under.
    #[must_use]
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The untyped session underneath.
    pub fn raw(&self) -> &S {
        &self.raw
    }

    /// The storage key of item `key`: `{namespace}.{key}`.
    ///
    /// # Errors
    ///
    /// [`SessionError::InvalidStringKey`] when `key` is empty.
    pub fn storage_key(&self, key: &str) -> Result<String, SessionError> {
        if key.is_empty() {
            return Err(SessionError::InvalidStringKey {
                key: key.to_owned(),
                reason: "a key must not be empty",
            });
        }
        Ok(format!("{}{SEPARATOR}{key}", self.namespace))
    }

    /// The item stored under `key`, or `None` when there is none.
    ///
    /// # Errors
    ///
    /// [`SessionError::NotAString`] when the stored value is not a string
    /// (it is left in place); see also the [type's errors](Self#errors).
    pub async fn get_item(&self, key: &str) -> Result<Option<String>, SessionError> {
        let key = self.storage_key(key)?;
        match self.raw.get_value(&key).await? {
            None => Ok(None),
            Some(Value::String(value)) => Ok(Some(value)),
            Some(other) => Err(SessionError::NotAString {
                key,
                found: kind(&other),
            }),
        }
    }

    /// Stores `value` under `key`, replacing any previous item.
    ///
    /// # Errors
    ///
    /// See the [type's errors](Self#errors).
    pub async fn set_item(&self, key: &str, value: impl Into<String>) -> Result<(), SessionError> {
        let key = self.storage_key(key)?;
        self.raw
            .insert_value(&key, Value::String(value.into()))
            .await?;
        Ok(())
    }

    /// Removes the item under `key`; removing an absent item is not an error.
    ///
    /// # Errors
    ///
    /// See the [type's errors](Self#errors).
    pub async fn remove_item(&self, key: &str) -> Result<(), SessionError> {
        let key = self.storage_key(key)?;
        self.raw.remove(&key).await?;
        Ok(())
    }

    /// Removes the items under each of `keys`, for an SDK's sign-out. The
    /// session does not list its keys, so the caller names them; other keys
    /// of the namespace are left alone.
    ///
    /// # Errors
    ///
    /// See the [type's errors](Self#errors). Every key is checked before any
    /// item is removed; a store failure may leave the later items in place.
    pub async fn clear<K: AsRef<str>>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<(), SessionError> {
        let keys = keys
            .into_iter()
            .map(|key| self.storage_key(key.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        for key in keys {
            self.raw.remove(&key).await?;
        }
        Ok(())
    }
}

impl<S> fmt::Debug for StringStorage<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StringStorage")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// What kind of JSON value a stored value is, for an error message that must
/// not quote the value.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
