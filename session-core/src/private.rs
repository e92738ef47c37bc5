//! Everything generated code needs, under one hidden path, so the derive never
//! depends on the user's imports or on which features are on.

pub use crate::access::{HandleCore, encode};
pub use crate::disjoint::check_disjoint;
pub use crate::field::{DecodePolicy, FieldSpec};
pub use crate::migrate::{
    MigrateFrom, assert_migrates, is_version, migrate_step, no_migration_path,
};
pub use serde;
pub use serde_json::Value;
pub use time::OffsetDateTime;
pub use tower_sessions_core::Session as DefaultRaw;

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

/// Stands in for a sensitive field's value in generated `Debug` output.
pub struct Redacted;

impl core::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("<redacted>")
    }
}
