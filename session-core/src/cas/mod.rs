//! Session stores that can compare-and-swap, so that [`SessionLayer`]
//! never loses a write.
//!
//! A tower-sessions store saves the whole record and the last writer wins. A
//! [`CasStore`] hands out a [`Revision`] with every record it loads and saves
//! only if the record still has that revision; when it does not, the layer
//! reloads, merges changes to different keys and tries again. Three more rules
//! make a deleted session stay deleted:
//!
//! - `create` never overwrites: a record whose id is taken is refused;
//! - `save` never creates: a record that is gone is refused;
//! - `delete` leaves a short-lived marker ([`Loaded::Ended`]), so a request
//!   that still carries the old id cannot write it back under a new one.
//!
//! Implementations: [`CasMemoryStore`] (always available), and with features
//! `sqlite`, `postgres` and `redis` the stores of the same names. Any plain
//! tower-sessions store can be used through [`LastWriterWins`], which keeps
//! its last-writer-wins behaviour.
//!
//! [`SessionLayer`]: crate::layer::SessionLayer

mod error;
mod id;
mod last_writer_wins;
mod memory;
mod record;
#[cfg(feature = "redis")]
mod redis;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

pub use error::CasError;
pub use id::{InvalidSessionId, SessionId};
pub use last_writer_wins::LastWriterWins;
pub use memory::CasMemoryStore;
#[cfg(feature = "cookie-sessions")]
pub(crate) use record::RawData;
pub use record::{Data, Record, StoredValue};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::RedisCasStore;
#[cfg(all(feature = "fuzzing", feature = "redis"))]
pub(crate) use redis::read_hmget_reply;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use sql::PostgresCasStore;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sql::SqliteCasStore;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "sqlite", feature = "postgres"))))]
pub use sql::{SqlCasStore, SqlDialect};

/// How long a deleted session's id stays marked as ended unless a store is
/// told otherwise: longer than any request that may still carry the old id.
///
/// While the marker lives, a request that carries the old id and writes is
/// answered `409` (its write would otherwise start a session whose cookie
/// could overwrite the new one in the browser); afterwards such a request
/// starts a fresh session. A minute covers requests in flight at the moment
/// of a log out or log in with a wide margin.
pub const DEFAULT_ENDED_MARKER_LIFETIME: Duration = Duration::from_secs(60);

/// The version of a stored record: it changes on every successful save.
///
/// Opaque to the layer; stores number from 1 and add 1 on every write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Revision(u64);

impl Revision {
    /// The revision of a record that has just been created.
    pub const FIRST: Revision = Revision(1);

    /// Wraps a number read back from a store.
    #[must_use]
    pub const fn new(number: u64) -> Self {
        Revision(number)
    }

    /// The number to write to a store.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The revision after this one.
    #[must_use]
    pub const fn next(self) -> Self {
        Revision(self.0.wrapping_add(1))
    }
}

/// What a store found under an id.
#[derive(Clone, Debug, PartialEq)]
pub enum Loaded {
    /// A live record and its current revision.
    Live {
        /// The record, with an expiry date in the future.
        record: Record,
        /// The revision a save must present.
        revision: Revision,
    },
    /// The session was deleted (log out, id rotation) a short while ago.
    Ended {
        /// When it was deleted, as far as the store knows: the end of its
        /// marker less the store's marker lifetime.
        ended_at: OffsetDateTime,
    },
    /// Nothing is stored under the id, or what was stored has expired.
    Missing,
}

/// The outcome of a conditional write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// The write happened; the record now has this revision.
    Done(Revision),
    /// The record exists but its revision is not the one presented: someone
    /// else wrote it since it was loaded.
    Conflict,
    /// The record is gone: deleted, ended or expired.
    Gone,
}

/// The outcome of [`CasStore::touch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Touched {
    /// The record's expiry moved to the date asked for.
    Moved,
    /// The record's expiry was recent enough (or another write moved it):
    /// nothing was written.
    Recent,
    /// No live record is stored under the id.
    Missing,
}

/// A session store whose writes are conditional on the revision that was
/// loaded.
///
/// # Contract
///
/// - `load` returns [`Loaded::Missing`] for an expired record, never the
///   record.
/// - `create` never overwrites: while anything (live, ended, or expired but
///   not yet purged) is stored under `record.id`, it draws a new random id.
/// - `save` writes only if a live record with exactly `expected` is stored,
///   and never creates one.
/// - `delete` replaces a live record by an ended marker that lives for the
///   store's marker lifetime; with `Some(expected)` it deletes only a live
///   record with that revision. Without a live record it stores nothing and
///   returns [`Written::Gone`], so a client-chosen id never leaves a trace.
/// - `touch` only ever moves a live record's expiry later, and never
///   creates a record.
///
/// Every method returns a [`CasError`] when the store cannot be reached
/// ([`CasError::Backend`]) or holds something it cannot read
/// ([`CasError::Decode`]).
///
/// # Record format
///
/// Stores that keep bytes write [`Data::encode`] and read
/// [`Data::decode`]: format 1, a JSON object of storage key to value, which
/// is also what the previous release wrote, so instances of both releases
/// can share one store during a rolling deploy, in both directions. A later
/// format will begin with a tag byte other than `{`; this release refuses
/// such a record as corrupt rather than misreading it, so a new format can
/// only be switched on once every instance reads it.
#[async_trait]
pub trait CasStore: Debug + Send + Sync + 'static {
    /// Loads the record stored under `id`.
    async fn load(&self, id: &SessionId) -> Result<Loaded, CasError>;

    /// Stores a new record, first changing `record.id` until it names
    /// nothing stored, and returns its first revision.
    async fn create(&self, record: &mut Record) -> Result<Revision, CasError>;

    /// Replaces the record under `record.id` if its revision is `expected`.
    async fn save(&self, record: &Record, expected: Revision) -> Result<Written, CasError>;

    /// Deletes the record under `id` (if its revision is `expected`, when
    /// given) and marks the id as ended.
    async fn delete(&self, id: &SessionId, expected: Option<Revision>)
    -> Result<Written, CasError>;

    /// Moves the expiry of the live record under `id` to `expiry_date` when
    /// it stands before `if_before`, leaving its data alone: the idle
    /// refresh of a request that used no session data, which takes no lock.
    ///
    /// The default loads and saves at the loaded revision, so a concurrent
    /// save of data meets a conflict and merges (its keys are not this
    /// write's); a store that can move the expiry without a new revision
    /// overrides it and never makes a save retry.
    async fn touch(
        &self,
        id: &SessionId,
        expiry_date: OffsetDateTime,
        if_before: OffsetDateTime,
    ) -> Result<Touched, CasError> {
        let Loaded::Live { record, revision } = self.load(id).await? else {
            return Ok(Touched::Missing);
        };
        if record.expiry_date >= if_before {
            return Ok(Touched::Recent);
        }
        let moved = Record {
            expiry_date,
            ..record
        };
        Ok(match self.save(&moved, revision).await? {
            Written::Done(_) => Touched::Moved,
            Written::Conflict => Touched::Recent,
            Written::Gone => Touched::Missing,
        })
    }
}
