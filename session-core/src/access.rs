//! The typed operations every generated handle method delegates to.
//!
//! Generated code stays a thin layer of names and types; the rules (expiry,
//! id rotation, decode policy, redaction) live here once.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::clock::Clock;
use crate::envelope;
use crate::error::SessionError;
use crate::field::{DecodePolicy, FieldSpec};
use crate::migrate;
use crate::raw::{RawSession, ValueError};
use crate::schema::SessionSchema;

/// What a decode error says about a sensitive field instead of serde's
/// message, which may quote the stored value.
const REDACTED_REASON: &str =
    "the stored value does not match the type (details withheld: the field is sensitive)";

/// What is known of an unexpired stored value: its deadline, if the field
/// has one.
struct Stored {
    deadline: Option<OffsetDateTime>,
}

/// The untyped session and the clock behind one typed handle of schema `T`.
pub struct HandleCore<T, S> {
    schema: PhantomData<fn() -> T>,
    raw: S,
    clock: Clock,
    /// Set once the schema's stored version was found current (or brought up
    /// to date), so later accesses through this handle skip the check. Only
    /// a versioned schema has one: the others have nothing to check.
    version_checked: Option<Arc<AtomicBool>>,
}

impl<T, S: Clone> Clone for HandleCore<T, S> {
    fn clone(&self) -> Self {
        Self {
            schema: PhantomData,
            raw: self.raw.clone(),
            clock: self.clock.clone(),
            version_checked: self.version_checked.clone(),
        }
    }
}

impl<T, S: fmt::Debug> fmt::Debug for HandleCore<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandleCore")
            .field("raw", &self.raw)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl<T, S> HandleCore<T, S> {
    /// The untyped session.
    pub fn raw(&self) -> &S {
        &self.raw
    }

    /// The clock that stamps and checks per-field expiry.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }
}

impl<T: SessionSchema, S: RawSession> HandleCore<T, S> {
    /// Wraps an untyped session.
    pub fn new(raw: S, clock: Clock) -> Self {
        Self {
            schema: PhantomData,
            raw,
            clock,
            version_checked: T::VERSION.map(|_| Arc::new(AtomicBool::new(false))),
        }
    }

    /// Wraps a copy of older data during a migration, where the version is
    /// already known.
    pub fn for_migration(raw: S, clock: Clock) -> Self {
        let core = Self::new(raw, clock);
        core.mark_ready();
        core
    }

    /// Brings the stored data of a versioned schema up to date, once per
    /// handle; see [`crate::migrate`] for the algorithm. The migration is
    /// boxed: its large state would otherwise sit inside the future of every
    /// typed access, and be copied with it.
    ///
    /// # Errors
    ///
    /// [`SessionError::Migration`] and [`SessionError::UnknownVersion`], with
    /// the stored data untouched; [`SessionError::Store`].
    pub async fn ready(&self) -> Result<(), SessionError> {
        if let (false, Some(version)) = (self.is_ready(), T::VERSION) {
            Box::pin(migrate::bring_up_to_date(self, version)).await?;
            self.mark_ready();
        }
        Ok(())
    }

    /// Whether no migration check is due: the schema has no version, or
    /// this handle already checked it. The typed operations test it inline
    /// and only then await [`HandleCore::ready`], so the common case creates
    /// no future at all (measured in `benches/typed_vs_raw.rs`).
    fn is_ready(&self) -> bool {
        self.version_checked
            .as_ref()
            .is_none_or(|checked| checked.load(Ordering::Acquire))
    }

    fn mark_ready(&self) {
        if let Some(checked) = &self.version_checked {
            checked.store(true, Ordering::Release);
        }
    }

    /// Records the schema version next to data just written, so the next
    /// request knows which layout it is.
    async fn stamp(&self) -> Result<(), SessionError> {
        if let Some(version) = T::VERSION {
            self.raw
                .insert_value(version.key, Value::from(version.number))
                .await?;
        }
        Ok(())
    }

    /// Reads the whole schema after bringing it up to date.
    ///
    /// # Errors
    ///
    /// As [`HandleCore::ready`] and [`HandleCore::get`].
    pub async fn load(&self) -> Result<T, SessionError> {
        if !self.is_ready() {
            self.ready().await?;
        }
        T::__read(self).await
    }

    /// Writes every field of `value`: a `None` removes its key, an unchanged
    /// value is left as it is (deadline included), a changed expiring value
    /// gets a fresh deadline, and the id cycles once if a `rotate_id` field
    /// changed.
    ///
    /// # Errors
    ///
    /// As [`HandleCore::ready`] and [`HandleCore::set`].
    pub async fn save(&self, value: &T) -> Result<(), SessionError> {
        if !self.is_ready() {
            self.ready().await?;
        }
        let mut rotate = false;
        for (field, (_, new)) in T::__FIELDS.iter().zip(value.to_stored()?) {
            rotate |= self.save_field(field, new).await?;
        }
        self.cycle_id_if(rotate).await
    }

    /// Reads a field; `None` when absent, expired, or reset by policy.
    ///
    /// # Errors
    ///
    /// [`SessionError::Decode`] when the stored value does not decode and the
    /// field's policy is [`DecodePolicy::Error`]; [`SessionError::Store`].
    pub async fn get<V: DeserializeOwned>(
        &self,
        field: &FieldSpec,
    ) -> Result<Option<V>, SessionError> {
        if !self.is_ready() {
            self.ready().await?;
        }
        Ok(self.get_with_deadline(field).await?.map(|(value, _)| value))
    }

    /// Reads a field without bringing the schema up to date first: for the
    /// derive's whole-struct reads, which run after that (or on a copy of
    /// older data during a migration).
    ///
    /// # Errors
    ///
    /// As [`HandleCore::get`].
    pub async fn read_field<V: DeserializeOwned>(
        &self,
        field: &FieldSpec,
    ) -> Result<Option<V>, SessionError> {
        Ok(self.get_with_deadline(field).await?.map(|(value, _)| value))
    }

    /// Reads a field, or `default()` when it is absent.
    ///
    /// # Errors
    ///
    /// As [`HandleCore::get`].
    pub async fn get_or<V: DeserializeOwned>(
        &self,
        field: &FieldSpec,
        default: impl FnOnce() -> V,
    ) -> Result<V, SessionError> {
        if !self.is_ready() {
            self.ready().await?;
        }
        Ok(self
            .get_with_deadline(field)
            .await?
            .map_or_else(default, |(value, _)| value))
    }

    /// Reads a field, or `default()` when it is absent, without bringing the
    /// schema up to date first (see [`HandleCore::read_field`]).
    ///
    /// # Errors
    ///
    /// As [`HandleCore::get`].
    pub async fn read_field_or<V: DeserializeOwned>(
        &self,
        field: &FieldSpec,
        default: impl FnOnce() -> V,
    ) -> Result<V, SessionError> {
        Ok(self
            .get_with_deadline(field)
            .await?
            .map_or_else(default, |(value, _)| value))
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
        if !self.is_ready() {
            self.ready().await?;
        }
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
    pub async fn set<V: Serialize + Sync>(
        &self,
        field: &FieldSpec,
        value: V,
    ) -> Result<(), SessionError> {
        if !self.is_ready() {
            self.ready().await?;
        }
        self.store(field, &value, self.fresh_deadline(field)).await
    }

    /// Changes a field in place, starting from `default()` when it is absent.
    /// An expiring field keeps its deadline, or gets a fresh one if it had none.
    ///
    /// # Errors
    ///
    /// As [`HandleCore::get`] and [`HandleCore::set`]; on error nothing is
    /// stored.
    pub async fn update_or<V, R>(
        &self,
        field: &FieldSpec,
        default: impl FnOnce() -> V,
        change: impl FnOnce(&mut V) -> R,
    ) -> Result<R, SessionError>
    where
        V: Serialize + DeserializeOwned + Sync,
    {
        if !self.is_ready() {
            self.ready().await?;
        }
        let (mut value, deadline) = match self.get_with_deadline(field).await? {
            Some((value, deadline)) => (value, deadline),
            None => (default(), None),
        };
        let output = change(&mut value);
        let deadline = deadline.or_else(|| self.fresh_deadline(field));
        self.store(field, &value, deadline).await?;
        Ok(output)
    }

    /// Changes an optional field in place; leaving `None` removes it.
    ///
    /// # Errors
    ///
    /// As [`HandleCore::update_or`].
    pub async fn update_option<V, R>(
        &self,
        field: &FieldSpec,
        change: impl FnOnce(&mut Option<V>) -> R,
    ) -> Result<R, SessionError>
    where
        V: Serialize + DeserializeOwned + Sync,
    {
        if !self.is_ready() {
            self.ready().await?;
        }
        let (mut value, deadline) = match self.get_with_deadline(field).await? {
            Some((value, deadline)) => (Some(value), deadline),
            None => (None, None),
        };
        let output = change(&mut value);
        match value {
            Some(value) => {
                let deadline = deadline.or_else(|| self.fresh_deadline(field));
                self.store(field, &value, deadline).await?;
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
        if !self.is_ready() {
            self.ready().await?;
        }
        let removed = self.raw.remove(field.key).await?;
        self.cycle_id_if(field.rotate_id && removed).await
    }

    /// Reads a field and removes it (flash fields).
    ///
    /// # Errors
    ///
    /// As [`HandleCore::get`]; a value that does not decode is left in place.
    pub async fn take<V: DeserializeOwned>(
        &self,
        field: &FieldSpec,
    ) -> Result<Option<V>, SessionError> {
        let value = self.get(field).await?;
        if value.is_some() {
            self.remove(field).await?;
        }
        Ok(value)
    }

    /// Reads a field and removes it, or `V::default()` when it is absent
    /// (flash fields that hold a list).
    ///
    /// # Errors
    ///
    /// As [`HandleCore::take`].
    pub async fn take_or_default<V: DeserializeOwned + Default>(
        &self,
        field: &FieldSpec,
    ) -> Result<V, SessionError> {
        Ok(self.take(field).await?.unwrap_or_default())
    }

    /// Writes one encoded field of a whole-struct save, without cycling the
    /// id; returns whether the id must cycle (a `rotate_id` field changed).
    async fn save_field(
        &self,
        field: &FieldSpec,
        new: Option<Value>,
    ) -> Result<bool, SessionError> {
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
                self.raw.remove(field.key).await?;
            }
        }
        Ok(rotate)
    }

    /// Removes every key of the schema, its version key included; cycles the
    /// id once if a `rotate_id` field held a value. Data of an older version
    /// is migrated first, so its old keys go too; data this build cannot
    /// read is refused (`flush` deletes the whole session regardless).
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`].
    pub async fn clear(&self) -> Result<(), SessionError> {
        if !self.is_ready() {
            self.ready().await?;
        }
        let mut rotate = false;
        for field in T::__FIELDS {
            let removed = self.raw.remove(field.key).await?;
            rotate |= field.rotate_id && removed;
        }
        if let Some(version) = T::VERSION {
            self.raw.remove(version.key).await?;
        }
        self.cycle_id_if(rotate).await
    }

    /// Cycles the session id when `needed`, and removes the schema's
    /// `clear_on_rotate` fields: what was known about the session under its
    /// old id (a CSRF token, say) must not carry over to the new one.
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`].
    pub async fn cycle_id_if(&self, needed: bool) -> Result<(), SessionError> {
        if !needed {
            return Ok(());
        }
        self.raw.cycle_id().await?;
        for field in T::__FIELDS.iter().filter(|field| field.clear_on_rotate) {
            if self.raw.remove(field.key).await? {
                tracing::debug!(
                    key = field.key,
                    "removed at the new session id (clear_on_rotate)"
                );
            }
        }
        Ok(())
    }

    // The read path decodes straight from what the untyped session holds
    // (the stored bytes, for this crate's layers) and keeps the rare paths
    // (a malformed envelope, an expired value, a decode failure) in boxed
    // futures: every layer that holds the untyped future copies it, which
    // is most of what a typed read costs over a raw one.
    async fn get_with_deadline<V: DeserializeOwned>(
        &self,
        field: &FieldSpec,
    ) -> Result<Option<(V, Option<OffsetDateTime>)>, SessionError> {
        if field.expires_in_secs.is_none() {
            return match self.raw.decode::<V>(field.key).await {
                Ok(value) => Ok(value.map(|value| (value, None))),
                Err(ValueError::Store(error)) => Err(error.into()),
                Err(ValueError::Json(error)) => {
                    Box::pin(self.decode_failed(field, reason(field, &error)))
                        .await
                        .map(|()| None)
                }
            };
        }
        match self.raw.decode::<envelope::Envelope<V>>(field.key).await {
            Ok(None) => Ok(None),
            Ok(Some(envelope)) if self.clock.now() < envelope.deadline => {
                Ok(Some((envelope.value, Some(envelope.deadline))))
            }
            Ok(Some(envelope)) => {
                Box::pin(self.remove_expired(field, envelope.deadline)).await?;
                Ok(None)
            }
            Err(ValueError::Store(error)) => Err(error.into()),
            Err(ValueError::Json(error)) => Box::pin(self.envelope_failed(field, &error)).await,
        }
    }

    /// An expiring field whose stored value did not decode: expired (its
    /// content no longer matters), not an envelope, or an envelope whose
    /// value does not decode.
    async fn envelope_failed<V>(
        &self,
        field: &FieldSpec,
        error: &serde_json::Error,
    ) -> Result<Option<V>, SessionError> {
        match self.read_stored(field).await? {
            // `read_stored` removed it if it expired, and sent a malformed
            // envelope to the decode policy.
            None => Ok(None),
            Some(_) => self
                .decode_failed(field, reason(field, error))
                .await
                .map(|()| None),
        }
    }

    async fn remove_expired(
        &self,
        field: &FieldSpec,
        deadline: OffsetDateTime,
    ) -> Result<(), SessionError> {
        self.raw.remove(field.key).await?;
        self.raw.mark_derived(field.key);
        tracing::debug!(key = field.key, %deadline, "removed an expired session value");
        Ok(())
    }

    /// Reads the stored JSON of a field, opening the expiry envelope and
    /// removing an expired value.
    async fn read_stored(&self, field: &FieldSpec) -> Result<Option<Stored>, SessionError> {
        let Some(stored) = self.raw.get_value(field.key).await? else {
            return Ok(None);
        };
        self.live(field, stored).await
    }

    /// Whether what is stored under a field's key is live, and its
    /// deadline: a plain field's value always is, an expiring one's until
    /// its envelope's deadline. An expired value is removed; a malformed
    /// envelope goes to the decode policy.
    async fn live(&self, field: &FieldSpec, stored: Value) -> Result<Option<Stored>, SessionError> {
        if field.expires_in_secs.is_none() {
            return Ok(Some(Stored { deadline: None }));
        }
        let Some((_, deadline)) = envelope::open(stored) else {
            let reason = format!("expected {}", envelope::SHAPE);
            return Box::pin(self.decode_failed(field, reason))
                .await
                .map(|()| None);
        };
        if self.clock.now() >= deadline {
            Box::pin(self.raw.remove(field.key)).await?;
            self.raw.mark_derived(field.key);
            tracing::debug!(key = field.key, %deadline, "removed an expired session value");
            return Ok(None);
        }
        Ok(Some(Stored {
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
                self.raw.remove(field.key).await?;
                self.raw.mark_derived(field.key);
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

    /// Stores a value, cycling the id when a `rotate_id` field changes. It
    /// encodes straight from `value` into what the untyped session keeps,
    /// and boxes the rare rotation.
    async fn store<V: Serialize + Sync>(
        &self,
        field: &FieldSpec,
        value: &V,
        deadline: Option<OffsetDateTime>,
    ) -> Result<(), SessionError> {
        let changed = field.rotate_id
            && Box::pin(self.differs_from_stored(field, &encode(field, value)?)).await?;
        let written = match deadline {
            Some(deadline) => {
                self.raw
                    .encode(field.key, &envelope::Envelope::sealing(value, deadline))
                    .await
            }
            None => self.raw.encode(field.key, value).await,
        };
        match written {
            Ok(()) => {}
            Err(ValueError::Store(error)) => return Err(error.into()),
            Err(ValueError::Json(error)) => return Err(encode_error(field, &error)),
        }
        if T::VERSION.is_some() {
            self.stamp().await?;
        }
        if changed {
            Box::pin(self.cycle_id_if(true)).await?;
        }
        Ok(())
    }

    /// Whether `value` differs from the live value stored for `field`.
    async fn differs_from_stored(
        &self,
        field: &FieldSpec,
        value: &Value,
    ) -> Result<bool, SessionError> {
        let old = self.raw.get_value(field.key).await?;
        Ok(old
            .and_then(|stored| self.live_inner(field, stored))
            .as_ref()
            != Some(value))
    }

    /// Stores an encoded value with the given deadline, or a fresh one when
    /// the field expires and none is given. Never cycles the id.
    pub(crate) async fn insert_with_deadline(
        &self,
        field: &FieldSpec,
        value: Value,
        deadline: Option<OffsetDateTime>,
    ) -> Result<(), SessionError> {
        let deadline = deadline.or_else(|| self.fresh_deadline(field));
        self.insert(field, value, deadline).await
    }

    async fn insert(
        &self,
        field: &FieldSpec,
        value: Value,
        deadline: Option<OffsetDateTime>,
    ) -> Result<(), SessionError> {
        self.raw
            .insert_value(field.key, sealed(value, deadline))
            .await?;
        self.stamp().await
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

/// What is stored for a value: the value itself, or its expiry envelope.
fn sealed(value: Value, deadline: Option<OffsetDateTime>) -> Value {
    match deadline {
        Some(deadline) => envelope::seal(value, deadline),
        None => value,
    }
}

/// Encodes a field's value as JSON, with the field's key and type in the error.
///
/// # Errors
///
/// [`SessionError::Encode`] when the value has no JSON form.
pub fn encode<T: Serialize + ?Sized>(field: &FieldSpec, value: &T) -> Result<Value, SessionError> {
    serde_json::to_value(value).map_err(|error| encode_error(field, &error))
}

fn encode_error(field: &FieldSpec, error: &serde_json::Error) -> SessionError {
    SessionError::Encode {
        key: field.key,
        rust_type: field.rust_type,
        reason: if field.sensitive {
            "the value has no JSON form (details withheld: the field is sensitive)".to_owned()
        } else {
            error.to_string()
        },
    }
}

/// What a decode error says: serde's message, or for a sensitive field a
/// message that cannot quote the stored value.
fn reason(field: &FieldSpec, error: &serde_json::Error) -> String {
    if field.sensitive {
        REDACTED_REASON.to_owned()
    } else {
        error.to_string()
    }
}
