//! What generated code tells the runtime about one field.

/// What to do when a stored value no longer decodes as the field's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodePolicy {
    /// Return [`SessionError::Decode`](crate::SessionError::Decode) and leave
    /// the stored value alone (the default).
    Error,
    /// Remove the stored value, log a warning naming the key and the type, and
    /// read the field as absent.
    Reset,
}

/// The storage facts of one schema field, known at compile time.
///
/// Generated code builds one `const` of this per field; the runtime needs
/// nothing else to read or write it.
#[derive(Clone, Copy, Debug)]
pub struct FieldSpec {
    /// The storage key (`namespace.field`, `field`, or the `key = ".."` value).
    pub key: &'static str,
    /// The Rust type as written in the schema, for error messages.
    pub rust_type: &'static str,
    /// Per-field lifetime in seconds (`expires_in`); `None` lives as long as
    /// the session.
    pub expires_in_secs: Option<i64>,
    /// Changing the stored value cycles the session id.
    pub rotate_id: bool,
    /// The value is removed whenever the schema's handle cycles the id.
    pub clear_on_rotate: bool,
    /// The value never appears in messages or logs.
    pub sensitive: bool,
    /// What a value that does not decode turns into.
    pub on_decode_error: DecodePolicy,
}
