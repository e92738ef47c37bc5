//! The trait `#[derive(SessionSchema)]` implements.

use serde_json::Value;

use crate::error::SessionError;

/// A struct whose fields are stored in the session, one storage key per field.
///
/// Implemented by `#[derive(SessionSchema)]`, which also generates the typed
/// handle (`{Struct}Session`) that reads and writes the fields. The constants
/// let code and compile-time checks such as [`assert_disjoint!`](crate::assert_disjoint)
/// see which keys a schema owns.
pub trait SessionSchema: Sized {
    /// The namespace prefixed to the field names (`namespace.field`), if any.
    const NAMESPACE: Option<&'static str>;

    /// Every storage key the schema reads and writes, in field order.
    const KEYS: &'static [&'static str];

    /// Every field as the plain JSON value stored under its key, in field
    /// order; `None` for an absent `Option` field. Per-field expiry is not
    /// part of it: envelopes are added when a handle writes the field.
    ///
    /// # Errors
    ///
    /// [`SessionError::Encode`] when a field has no JSON form.
    fn to_stored(&self) -> Result<Vec<(&'static str, Option<Value>)>, SessionError>;
}
