//! The typed operations every generated handle method delegates to.
//!
//! Generated code stays a thin layer of names and types; the rules (expiry,
//! id rotation, decode policy, redaction) live here once.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::clock::Clock;
use crate::envelope;
use crate::error::SessionError;
use crate::field::{DecodePolicy, FieldSpec};
use crate::raw::RawSession;

/// What a decode error says about a sensitive field instead of serde's
/// message, which may quote the stored value.
const REDACTED_REASON: &str =
    "the stored value does not match the type (details withheld: the field is sensitive)";

/// An unexpired stored value with its deadline, if the field has one.
struct Stored {
    value: Value,
    deadline: Option<OffsetDateTime>,
}

/// The untyped session and the clock behind one typed handle.
#[derive(Clone, Debug)]
pub struct HandleCore<S> {
    raw: S,
    clock: Clock,
}

impl<S: RawSession> HandleCore<S> {
    /// Wraps an untyped session.
    pub fn new(raw: S, clock: Clock) -> Self {
        Self { raw, clock }
    }

    /// The untyped session.
    pub fn raw(&self) -> &S {
        &self.raw
    }

    /// The clock that stamps and checks per-field expiry.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Reads a field; `None` when absent, expired, or reset by policy.
    ///
    /// # Errors
    ///
    /// [`SessionError::Decode`] when the stored value does not decode and the
    /// field's policy is [`DecodePolicy::Error`]; [`SessionError::Store`].
    pub async fn get<T: DeserializeOwned>(
        &self,
        field: &FieldSpec,
    ) -> Result<Option<T>, SessionError> {
        Ok(self.get_with_deadline(field).await?.map(|(value, _)| value))
    }

    /// Reads a field, or `default()` when it is absent.
    ///
    /// # Errors
    ///
    /// As [`HandleCore::get`].
    pub async fn get_or<T: DeserializeOwned>(
        &self,
        field: &FieldSpec,
        default: impl FnOnce() -> T,
    ) -> Result<T, SessionError> {
        Ok(self.get(field).await?.unwrap_or_else(default))
    }

    /// The deadline of a field with `expires_in`, if it holds a live value.
    ///
    /// # Errors
    ///
    /// As [`HandleCore::get`], for a stored value that is not an envelope.
    pub async fn deadline(
        &self,
        field: &FieldSpec,
    ) -> Result<Option<OffsetDateTime>, SessionError> {
        Ok(self
            .read_stored(field)
            .await?
            .and_then(|stored| stored.deadline))
    }

    /// Stores a field; an expiring field gets a fresh deadline.
    ///
    /// # Errors
    ///
    /// [`SessionError::Encode`] when the value has no JSON form;
    /// [`SessionError::Store`].
    pub async fn set<T: Serialize + ?Sized>(
        &self,
        field: &FieldSpec,
        value: &T,
    ) -> Result<(), SessionError> {
        let value = encode(field, value)?;
        self.store(field, value, self.fresh_deadline(field)).await
    }

    /// Changes a field in place, starting from `default()` when it is absent.
    /// An expiring field keeps its deadline, or gets a fresh one if it had none.
    ///
    /// # Errors
    ///
    /// As [`HandleCore::get`] and [`HandleCore::set`]; on error nothing is
    /// stored.
    pub async fn update_or<T, R>(
        &self,
        field: &FieldSpec,
        default: impl FnOnce() -> T,
        change: impl FnOnce(&mut T) -> R,
    ) -> Result<R, SessionError>
    where
        T: Serialize + DeserializeOwned,
    {
        let (mut value, deadline) = match self.get_with_deadline(field).await? {
            Some((value, deadline)) => (value, deadline),
            None => (default(), None),
        };
        let output = change(&mut value);
        let value = encode(field, &value)?;
        let deadline = deadline.or_else(|| self.fresh_deadline(field));
        self.store(field, value, deadline).await?;
        Ok(output)
    }

    /// Changes an optional field in place; leaving `None` removes it.
    ///
    /// # Errors
    ///
    /// As [`HandleCore::update_or`].
    pub async fn update_option<T, R>(
        &self,
        field: &FieldSpec,
        change: impl FnOnce(&mut Option<T>) -> R,
    ) -> Result<R, SessionError>
    where
        T: Serialize + DeserializeOwned,
    {
        let (mut value, deadline) = match self.get_with_deadline(field).await? {
            Some((value, deadline)) => (Some(value), deadline),
            None => (None, None),
        };
        let output = change(&mut value);
        match value {
            Some(value) => {
                let value = encode(field, &value)?;
                let deadline = deadline.or_else(|| self.fresh_deadline(field));
                self.store(field, value, deadline).await?;
            }
            None => self.remove(field).await?,
        }
        Ok(output)
    }

    /// Removes a field; removing a `rotate_id` field that held a value cycles
    /// the session id.
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`].
    pub async fn remove(&self, field: &FieldSpec) -> Result<(), SessionError> {
        let removed = self.raw.remove_value(field.key).await?;
        if field.rotate_id && removed.is_some() {
            self.raw.cycle_id().await?;
        }
        Ok(())
    }

    /// Reads a field and removes it (flash fields).
    ///
    /// # Errors
    ///
    /// As [`HandleCore::get`]; a value that does not decode is left in place.
    pub async fn take<T: DeserializeOwned>(
        &self,
        field: &FieldSpec,
    ) -> Result<Option<T>, SessionError> {
        let value = self.get(field).await?;
        if value.is_some() {
            self.remove(field).await?;
        }
        Ok(value)
    }

    /// Writes one field of a whole-struct save, without cycling the id.
    ///
    /// An unchanged value is left as it is, deadline included; a changed
    /// expiring value gets a fresh deadline; `None` removes the key. Returns
    /// whether the id must cycle (a `rotate_id` field changed).
    ///
    /// # Errors
    ///
    /// As [`HandleCore::set`].
    pub async fn save_field<T: Serialize + ?Sized>(
        &self,
        field: &FieldSpec,
        value: Option<&T>,
    ) -> Result<bool, SessionError> {
        let new = value.map(|value| encode(field, value)).transpose()?;
        let stored = self.raw.get_value(field.key).await?;
        let anything_stored = stored.is_some();
        let old = stored.and_then(|stored| self.live_inner(field, stored));
        if old == new && (new.is_some() || !anything_stored) {
            return Ok(false);
        }
        let rotate = field.rotate_id && old != new;
        match new {
            Some(new) => self.insert(field, new, self.fresh_deadline(field)).await?,
            None => {
                self.raw.remove_value(field.key).await?;
            }
        }
        Ok(rotate)
    }

    /// Removes every field of a schema; cycles the id once if a `rotate_id`
    /// field held a value.
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`].
    pub async fn clear(&self, fields: &[FieldSpec]) -> Result<(), SessionError> {
        let mut rotate = false;
        for field in fields {
            let removed = self.raw.remove_value(field.key).await?;
            rotate |= field.rotate_id && removed.is_some();
        }
        self.cycle_id_if(rotate).await
    }

    /// Cycles the session id when `needed`.
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`].
    pub async fn cycle_id_if(&self, needed: bool) -> Result<(), SessionError> {
        if needed {
            self.raw.cycle_id().await?;
        }
        Ok(())
    }

    async fn get_with_deadline<T: DeserializeOwned>(
        &self,
        field: &FieldSpec,
    ) -> Result<Option<(T, Option<OffsetDateTime>)>, SessionError> {
        let Some(stored) = self.read_stored(field).await? else {
            return Ok(None);
        };
        match serde_json::from_value(stored.value) {
            Ok(value) => Ok(Some((value, stored.deadline))),
            Err(error) => {
                let reason = if field.sensitive {
                    REDACTED_REASON.to_owned()
                } else {
                    error.to_string()
                };
                self.decode_failed(field, reason).await.map(|()| None)
            }
        }
    }

    /// Reads the stored JSON of a field, opening the expiry envelope and
    /// removing an expired value.
    async fn read_stored(&self, field: &FieldSpec) -> Result<Option<Stored>, SessionError> {
        let Some(stored) = self.raw.get_value(field.key).await? else {
            return Ok(None);
        };
        if field.expires_in_secs.is_none() {
            return Ok(Some(Stored {
                value: stored,
                deadline: None,
            }));
        }
        let Some((value, deadline)) = envelope::open(stored) else {
            let reason = format!("expected {}", envelope::SHAPE);
            return self.decode_failed(field, reason).await.map(|()| None);
        };
        if self.clock.now() >= deadline {
            self.raw.remove_value(field.key).await?;
            tracing::debug!(key = field.key, %deadline, "removed an expired session value");
            return Ok(None);
        }
        Ok(Some(Stored {
            value,
            deadline: Some(deadline),
        }))
    }

    /// Applies the field's decode policy: an error, or a logged reset.
    async fn decode_failed(&self, field: &FieldSpec, reason: String) -> Result<(), SessionError> {
        match field.on_decode_error {
            DecodePolicy::Error => Err(SessionError::Decode {
                key: field.key,
                rust_type: field.rust_type,
                reason,
            }),
            DecodePolicy::Reset => {
                self.raw.remove_value(field.key).await?;
                tracing::warn!(
                    key = field.key,
                    rust_type = field.rust_type,
                    %reason,
                    "removed a session value that does not decode (on_decode_error = \"reset\")"
                );
                Ok(())
            }
        }
    }

    /// Stores an encoded value, cycling the id when a `rotate_id` field changes.
    async fn store(
        &self,
        field: &FieldSpec,
        value: Value,
        deadline: Option<OffsetDateTime>,
    ) -> Result<(), SessionError> {
        let changed = if field.rotate_id {
            let old = self.raw.get_value(field.key).await?;
            old.and_then(|stored| self.live_inner(field, stored))
                .as_ref()
                != Some(&value)
        } else {
            false
        };
        self.insert(field, value, deadline).await?;
        self.cycle_id_if(changed).await
    }

    async fn insert(
        &self,
        field: &FieldSpec,
        value: Value,
        deadline: Option<OffsetDateTime>,
    ) -> Result<(), SessionError> {
        let stored = match deadline {
            Some(deadline) => envelope::seal(value, deadline),
            None => value,
        };
        self.raw.insert_value(field.key, stored).await?;
        Ok(())
    }

    /// The live plain value inside a stored value: the envelope's content for
    /// an expiring field, `None` if it is expired or not an envelope.
    fn live_inner(&self, field: &FieldSpec, stored: Value) -> Option<Value> {
        if field.expires_in_secs.is_none() {
            return Some(stored);
        }
        envelope::open(stored)
            .filter(|(_, deadline)| self.clock.now() < *deadline)
            .map(|(value, _)| value)
    }

    fn fresh_deadline(&self, field: &FieldSpec) -> Option<OffsetDateTime> {
        field
            .expires_in_secs
            .map(|seconds| self.clock.now().saturating_add(Duration::seconds(seconds)))
    }
}

/// Encodes a field's value as JSON, with the field's key and type in the error.
///
/// # Errors
///
/// [`SessionError::Encode`] when the value has no JSON form.
pub fn encode<T: Serialize + ?Sized>(field: &FieldSpec, value: &T) -> Result<Value, SessionError> {
    serde_json::to_value(value).map_err(|error| SessionError::Encode {
        key: field.key,
        rust_type: field.rust_type,
        reason: if field.sensitive {
            "the value has no JSON form (details withheld: the field is sensitive)".to_owned()
        } else {
            error.to_string()
        },
    })
}
