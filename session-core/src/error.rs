//! The errors a typed session operation can return.

use std::error::Error as StdError;

/// Everything that can go wrong when a typed handle reads or writes the session.
///
/// The messages name the storage key and the Rust type involved, so a log line
/// points straight at the field at fault. Values of `#[session(sensitive)]`
/// fields never appear in a message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A stored value no longer decodes as the field's type, for example after
    /// a deploy changed the type without a schema version bump.
    #[error("the session value under key `{key}` does not decode as `{rust_type}`: {reason}")]
    Decode {
        /// The storage key of the field.
        key: &'static str,
        /// The field's Rust type, as written in the schema.
        rust_type: &'static str,
        /// What the decoder objected to (without the value for sensitive fields).
        reason: String,
    },

    /// A value could not be represented as JSON, for example a map whose keys
    /// are not strings.
    #[error("the value for session key `{key}` (`{rust_type}`) cannot be stored as JSON: {reason}")]
    Encode {
        /// The storage key of the field.
        key: &'static str,
        /// The field's Rust type, as written in the schema.
        rust_type: &'static str,
        /// What the encoder objected to.
        reason: String,
    },

    /// Data stored by an older version of a schema could not be brought up to
    /// date. Nothing stored was changed.
    #[error(
        "migrating session namespace `{namespace}` from version {from} to {to} failed, \
         and the stored data was left untouched: {cause}"
    )]
    Migration {
        /// The schema's namespace.
        namespace: &'static str,
        /// The stored version.
        from: u32,
        /// The version of the running code.
        to: u32,
        /// What failed: a decode error of an old field, or a conversion.
        #[source]
        cause: Box<SessionError>,
    },

    /// A `TryFrom` conversion between two schema versions refused the data.
    #[error("converting version {from} to version {to} failed: {reason}")]
    Conversion {
        /// The older version.
        from: u32,
        /// The newer version.
        to: u32,
        /// The conversion's error message.
        reason: String,
    },

    /// The session holds a version of a schema that the running code does not
    /// know: newer than it (after a rollback), or older than the oldest
    /// version it can migrate from. The data is left untouched.
    #[error(
        "session namespace `{namespace}` holds version {stored}, which this build cannot read \
         (it reads versions {oldest} to {current}); the stored data was left untouched"
    )]
    UnknownVersion {
        /// The schema's namespace.
        namespace: &'static str,
        /// The version found in the session.
        stored: u32,
        /// The oldest version in the `migrate_from` chain.
        oldest: u32,
        /// The version of the running code.
        current: u32,
    },

    /// A namespace or key given to [`StringStorage`](crate::StringStorage)
    /// cannot be used: it is empty, or a namespace contains `.`.
    #[error("{key:?} cannot be used in string storage: {reason}")]
    InvalidStringKey {
        /// The namespace or key as given.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The value under a [`StringStorage`](crate::StringStorage) key is not a
    /// string, so something else wrote it.
    #[error(
        "the session value under key `{key}` is {found}, not a string: it was not written through \
         string storage (does a typed schema use the same namespace?)"
    )]
    NotAString {
        /// The full storage key, `{namespace}.{key}`.
        key: String,
        /// The kind of JSON value found (`a number`, `an object`, ...), never
        /// the value itself.
        found: &'static str,
    },

    /// The untyped session underneath failed, usually because its store could
    /// not be reached.
    #[error("the session store failed: {0}")]
    Store(#[from] StoreError),

    /// A cookie session (`layer::cookie::CookieSessionLayer`) grew past what
    /// browsers keep. The cookie was not sent, so the browser keeps the
    /// previous one, and the request's changes are lost: the response is a
    /// `500`, never a silently dropped cookie.
    #[error(
        "the session cookie would be {size} bytes, over the {limit} browsers keep; \
         the largest values: {}",
        list_sizes(.largest)
    )]
    CookieTooLarge {
        /// The length of the whole `Set-Cookie` header value, in bytes.
        size: usize,
        /// The most the layer sends, in bytes.
        limit: usize,
        /// The storage keys taking the most room, largest first, with the
        /// bytes each takes in the payload before encryption (about a third
        /// more once sealed). Never the values.
        largest: Vec<(String, usize)>,
    },

    /// A session record of `SessionLayer` grew past the layer's record
    /// limit (`SessionLayerBuilder::with_record_limit`). Nothing of the
    /// request was stored: the previous record stays as it was, and the
    /// response is a `500`. The layer logs this error; a handler never
    /// gets it, since the record is stored after the handler returned.
    #[error(
        "the session record would take {size} bytes, over the layer's record limit of {limit} \
         bytes; the largest values: {}",
        list_sizes(.largest)
    )]
    RecordTooLarge {
        /// The length of the encoded record, in bytes.
        size: usize,
        /// The layer's record limit, in bytes.
        limit: usize,
        /// The storage keys taking the most room, largest first, with the
        /// bytes each takes in the record. Never the values.
        largest: Vec<(String, usize)>,
    },
}

/// `` `key` 12 bytes, `other` 3 bytes `` for [`SessionError::CookieTooLarge`]
/// and [`SessionError::RecordTooLarge`].
fn list_sizes(sizes: &[(String, usize)]) -> String {
    let listed: Vec<String> = sizes
        .iter()
        .map(|(key, bytes)| format!("`{key}` {bytes} bytes"))
        .collect();
    if listed.is_empty() {
        "none (the session is empty)".to_owned()
    } else {
        listed.join(", ")
    }
}

/// A failure of the untyped session or of the store behind it.
///
/// It keeps the original error as its [`source`](StdError::source), so the
/// whole chain can be logged.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StoreError(Box<dyn StdError + Send + Sync + 'static>);

impl StoreError {
    /// Wraps the error of an untyped back end.
    pub fn new(error: impl StdError + Send + Sync + 'static) -> Self {
        Self(Box::new(error))
    }

    /// Creates an error from a plain message, for back ends whose own errors
    /// are strings.
    pub fn msg(message: impl Into<String>) -> Self {
        Self(message.into().into())
    }

    /// Whether the store was reached but the session record it holds does not
    /// decode (corrupt or foreign data), as opposed to a store that cannot be
    /// reached.
    #[must_use]
    pub fn is_corrupt_record(&self) -> bool {
        use tower_sessions_core::session::Error as SessionFailure;
        use tower_sessions_core::session_store::Error as StoreFailure;
        #[cfg(feature = "layer")]
        if let Some(error) = self.0.downcast_ref::<crate::cas::CasError>() {
            return error.is_corrupt_record();
        }
        matches!(
            self.0.downcast_ref::<SessionFailure>(),
            Some(SessionFailure::Store(StoreFailure::Decode(_)) | SessionFailure::SerdeJson(_))
        ) || self.0.is::<serde_json::Error>()
    }
}

impl From<tower_sessions_core::session::Error> for StoreError {
    fn from(error: tower_sessions_core::session::Error) -> Self {
        Self::new(error)
    }
}

/// Lets a handler mix raw `tower_sessions::Session` calls with typed ones
/// and use `?` on both: a raw failure is a [`SessionError::Store`].
impl From<tower_sessions_core::session::Error> for SessionError {
    fn from(error: tower_sessions_core::session::Error) -> Self {
        Self::Store(error.into())
    }
}
