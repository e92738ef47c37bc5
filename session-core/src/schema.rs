//! The trait `#[derive(SessionSchema)]` implements.

use std::future::Future;

use serde_json::Value;

use crate::access::HandleCore;
use crate::clock::Clock;
use crate::error::SessionError;
use crate::field::FieldSpec;
use crate::memory::MemorySession;
use crate::raw::RawSession;

/// A struct whose fields are stored in the session, one storage key per field.
///
/// Implemented by `#[derive(SessionSchema)]`, which also generates the typed
/// handle (`{Struct}Session`) that reads and writes the fields; the hidden
/// items are that derive's and are not meant to be implemented by hand. The
/// constants let code and compile-time checks such as
/// [`assert_disjoint!`](crate::assert_disjoint) see which keys a schema owns.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a session schema",
    label = "not a session schema",
    note = "add `#[derive(SessionSchema)]` to `{Self}` (for `migrate_from`, with `version` set to the previous version)"
)]
pub trait SessionSchema: Sized + Send {
    /// The namespace prefixed to the field names (`namespace.field`), if any.
    const NAMESPACE: Option<&'static str>;

    /// Every storage key the schema owns, in field order, followed by the
    /// version key of a versioned schema.
    const KEYS: &'static [&'static str];

    /// The schema version and where it is stored, for a schema with
    /// `#[session(version = N)]`.
    const VERSION: Option<SchemaVersion>;

    /// Every field as the plain JSON value stored under its key, in field
    /// order; `None` for an absent `Option` field. Per-field expiry is not
    /// part of it: envelopes are added when a handle writes the field.
    ///
    /// # Errors
    ///
    /// [`SessionError::Encode`] when a field has no JSON form.
    fn to_stored(&self) -> Result<Vec<(&'static str, Option<Value>)>, SessionError>;

    #[doc(hidden)]
    const __FIELDS: &'static [FieldSpec];

    /// The keys of the oldest version in the migration chain: data under them
    /// without a version key is version 1.
    #[doc(hidden)]
    const __ORIGIN_KEYS: &'static [&'static str];

    /// The oldest version in the migration chain (this one's without `migrate_from`).
    #[doc(hidden)]
    const __OLDEST_VERSION: u32;

    /// Reads every field, applying defaults and expiry.
    #[doc(hidden)]
    fn __read<S: RawSession>(
        core: &HandleCore<Self, S>,
    ) -> impl Future<Output = Result<Self, SessionError>> + Send;

    /// Reads data stored by `version` of this schema or of an older one in
    /// its `migrate_from` chain, converting it up to this version.
    #[doc(hidden)]
    fn __read_version(
        copy: MemorySession,
        clock: Clock,
        version: u32,
    ) -> impl Future<Output = Result<Self, SessionError>> + Send;

    /// Adds the keys of this schema and of every older version to `keys`.
    #[doc(hidden)]
    fn __chain_keys(keys: &mut Vec<&'static str>);
}

/// The version of a schema's stored layout, and the reserved key that holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchemaVersion {
    /// The version number, from `#[session(version = N)]`.
    pub number: u32,
    /// The reserved storage key: `"{namespace}.__version"`.
    pub key: &'static str,
}
