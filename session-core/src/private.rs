//! Everything generated code needs, under one hidden path, so the derive never
//! depends on the user's imports or on which features are on.

pub use crate::access::{HandleCore, encode};
pub use crate::disjoint::check_disjoint;
pub use crate::field::{DecodePolicy, FieldSpec};
pub use crate::migrate::{MigrateFrom, is_version, migrate_step, no_migration_path};
pub use crate::request_session::RequestSession as DefaultRaw;
pub use serde;
pub use serde_json::Value;
pub use time::OffsetDateTime;

#[cfg(feature = "axum")]
pub use crate::extract::session_from_parts;
#[cfg(feature = "axum")]
pub use {axum_core, http};

#[cfg(feature = "axum")]
pub use crate::__impl_extractor as impl_extractor;

/// Without the `axum` feature, handles are not extractors.
#[cfg(not(feature = "axum"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __no_extractor {
    ($($input:tt)*) => {};
}

#[cfg(not(feature = "axum"))]
pub use crate::__no_extractor as impl_extractor;

/// Stands in for the session id in generated `Debug` output: a short,
/// non-reversible fingerprint, since the id is the session's bearer token.
pub struct IdFingerprint(Option<String>);

impl IdFingerprint {
    /// The fingerprint of `raw`'s id, if it has one.
    pub fn of<S: crate::RawSession>(raw: &S) -> Self {
        IdFingerprint(raw.id().map(|id| crate::fingerprint::of(&id)))
    }
}

impl core::fmt::Debug for IdFingerprint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match &self.0 {
            Some(fingerprint) => write!(f, "#{fingerprint}"),
            None => f.write_str("none"),
        }
    }
}

/// Stands in for a sensitive field's value in generated `Debug` output.
pub struct Redacted;

impl core::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(feature = "schema")]
pub use crate::layout::LayoutBuilder;
#[cfg(feature = "schema")]
pub use schemars;

/// Implements `StoredLayout` for a schema with `#[session(json_schema)]`.
#[cfg(feature = "schema")]
#[doc(hidden)]
#[macro_export]
macro_rules! __impl_stored_layout {
    ({$($generics:tt)*} {$schema:ty} {$title:expr} {$($bounds:tt)*} {$(($spec:expr, $name:expr, $stored:ty)),*}) => {
        #[automatically_derived]
        impl<$($generics)*> $crate::StoredLayout for $schema
        where
            $($bounds)*
        {
            fn stored_schema() -> $crate::__private::schemars::Schema {
                let mut builder = $crate::__private::LayoutBuilder::new();
                $(builder.field::<$stored>(&$spec, $name);)*
                builder.finish::<Self>($title)
            }
        }
    };
}

/// Without the `schema` feature, `#[session(json_schema)]` says how to enable it.
#[cfg(not(feature = "schema"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __impl_stored_layout {
    ($($input:tt)*) => {
        ::core::compile_error!(
            "`#[session(json_schema)]` needs the `schema` feature of session-core: \
             session-core = { version = \"0.1\", features = [\"schema\"] }"
        );
    };
}

pub use crate::__impl_stored_layout as impl_stored_layout;
