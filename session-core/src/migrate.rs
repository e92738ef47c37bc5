//! Bringing data stored by an older version of a schema up to date.
//!
//! The algorithm, run lazily on the first access through a handle:
//! 1. Read the schema's version key. Absent: if any key of the oldest version
//!    in the `migrate_from` chain holds data, the data is version 1; if none
//!    does, the session holds nothing of this schema and there is nothing to
//!    migrate.
//! 2. The current version: done. A version outside the chain (newer than the
//!    code after a rollback, or older than the oldest known): an error, and the
//!    data is never touched.
//! 3. Older: copy every key of the chain into an in-memory session, read the
//!    stored version's struct from that copy and convert it step by step
//!    (`TryFrom`) up to the current struct. Any failure is an error and
//!    nothing stored changes.
//! 4. Write the current struct back (an expiring field keeps the deadline the
//!    stored value had under the same key), remove the keys that only older
//!    versions use, and stamp the current version. Migrating twice (two
//!    concurrent requests) writes the same result, so every key written is
//!    marked derived ([`RawSession::mark_derived`]): two instances that
//!    migrate one session at once do not conflict.

use serde_json::Value;

use crate::access::HandleCore;
use crate::envelope;
use crate::error::SessionError;
use crate::memory::MemorySession;
use crate::raw::RawSession;
use crate::schema::{SchemaVersion, SessionSchema};

/// Where a schema's stored data stands relative to the running code.
enum Stored {
    /// Nothing of the schema is stored, or it is at the current version.
    Current,
    /// Stored by an older version.
    Older(u32),
}

/// Makes sure the data of `T` in `core`'s session is at `T`'s version.
pub(crate) async fn bring_up_to_date<T: SessionSchema, S: RawSession>(
    core: &HandleCore<T, S>,
    version: SchemaVersion,
) -> Result<(), SessionError> {
    let namespace = T::NAMESPACE.unwrap_or_default();
    match stored_version(core, version).await? {
        Stored::Current => Ok(()),
        Stored::Older(from) => {
            let result = migrate(core, version, from).await;
            result.map_err(|cause| SessionError::Migration {
                namespace,
                from,
                to: version.number,
                cause: Box::new(cause),
            })
        }
    }
}

async fn stored_version<T: SessionSchema, S: RawSession>(
    core: &HandleCore<T, S>,
    version: SchemaVersion,
) -> Result<Stored, SessionError> {
    let stored = match core.raw().get_value(version.key).await? {
        Some(value) => parse_version(version.key, &value)?,
        None => {
            let mut holds_data = false;
            for key in T::__ORIGIN_KEYS {
                holds_data |= core.raw().get_value(key).await?.is_some();
            }
            if !holds_data {
                return Ok(Stored::Current);
            }
            1
        }
    };
    if stored == version.number {
        Ok(Stored::Current)
    } else if stored > version.number || stored < T::__OLDEST_VERSION {
        Err(SessionError::UnknownVersion {
            namespace: T::NAMESPACE.unwrap_or_default(),
            stored,
            oldest: T::__OLDEST_VERSION,
            current: version.number,
        })
    } else {
        Ok(Stored::Older(stored))
    }
}

fn parse_version(key: &'static str, value: &Value) -> Result<u32, SessionError> {
    value
        .as_u64()
        .and_then(|number| u32::try_from(number).ok())
        .ok_or_else(|| SessionError::Decode {
            key,
            rust_type: "u32",
            reason: format!("a schema version must be a positive integer, found {value}"),
        })
}

async fn migrate<T: SessionSchema, S: RawSession>(
    core: &HandleCore<T, S>,
    version: SchemaVersion,
    from: u32,
) -> Result<(), SessionError> {
    let mut chain_keys = Vec::new();
    T::__chain_keys(&mut chain_keys);
    chain_keys.sort_unstable();
    chain_keys.dedup();

    let copy = MemorySession::new();
    for key in &chain_keys {
        if let Some(value) = core.raw().get_value(key).await? {
            copy.insert_value(key, value).await?;
        }
    }
    let original = copy.snapshot();
    let migrated = T::__read_version(copy, core.clock().clone(), from).await?;
    let stored = migrated.to_stored()?;

    // Every fallible step is done; from here on the session is written.
    for (field, (key, value)) in T::__FIELDS.iter().zip(stored) {
        match value {
            Some(value) => {
                let kept_deadline = field
                    .expires_in_secs
                    .and_then(|_| original.get(key).cloned())
                    .and_then(envelope::open)
                    .map(|(_, deadline)| deadline);
                core.insert_with_deadline(field, value, kept_deadline)
                    .await?;
            }
            None => {
                core.raw().remove(key).await?;
            }
        }
    }
    for &key in &chain_keys {
        if !T::KEYS.contains(&key) {
            core.raw().remove(key).await?;
        }
    }
    core.raw()
        .insert_value(version.key, Value::from(version.number))
        .await?;
    for key in T::__FIELDS
        .iter()
        .map(|field| field.key)
        .chain(chain_keys.iter().copied())
        .chain([version.key])
    {
        core.raw().mark_derived(key);
    }
    tracing::info!(
        namespace = T::NAMESPACE.unwrap_or_default(),
        from,
        to = version.number,
        "migrated stored session data"
    );
    Ok(())
}

/// Converts one schema version into the next one.
///
/// Implemented for every pair with `TryFrom` (and so `From`) between them;
/// `migrate_from = Old` on `New` requires it.
#[diagnostic::on_unimplemented(
    message = "cannot migrate `{Old}` to `{Self}`",
    label = "`migrate_from` needs a conversion from the previous version",
    note = "implement `From<{Old}> for {Self}`, or `TryFrom<{Old}>` when the conversion can fail"
)]
pub trait MigrateFrom<Old>: Sized {
    /// Converts, or says why the stored data cannot be converted.
    ///
    /// # Errors
    ///
    /// The conversion's own error, as text.
    fn migrate_from(old: Old) -> Result<Self, String>;
}

impl<Old, New> MigrateFrom<Old> for New
where
    New: TryFrom<Old>,
    <New as TryFrom<Old>>::Error: std::fmt::Display,
{
    fn migrate_from(old: Old) -> Result<Self, String> {
        New::try_from(old).map_err(|error| error.to_string())
    }
}

/// One step up the migration chain, as generated code calls it.
///
/// # Errors
///
/// [`SessionError::Conversion`] with the conversion's reason.
pub fn migrate_step<Old, New: MigrateFrom<Old>>(
    old: Old,
    from: u32,
    to: u32,
) -> Result<New, SessionError> {
    New::migrate_from(old).map_err(|reason| SessionError::Conversion { from, to, reason })
}

/// The error for a stored version below the oldest schema in the chain.
#[must_use]
pub fn no_migration_path<T: SessionSchema>(stored: u32) -> SessionError {
    SessionError::UnknownVersion {
        namespace: T::NAMESPACE.unwrap_or_default(),
        stored,
        oldest: T::__OLDEST_VERSION,
        current: T::VERSION.map_or(1, |version| version.number),
    }
}

/// Whether `version` is the given number stored under the given key
/// (const-evaluated by the derive's `migrate_from` check).
#[must_use]
pub const fn is_version(version: Option<SchemaVersion>, number: u32, key: &str) -> bool {
    match version {
        Some(version) => version.number == number && crate::disjoint::str_eq(version.key, key),
        None => false,
    }
}
