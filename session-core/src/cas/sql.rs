//! What the SQL stores share: names, units and the reading of rows, so
//! that SQLite and PostgreSQL convert alike.

use std::time::Duration;

use sqlx::Row;
use time::OffsetDateTime;
use tower_sessions_core::session_store;

use super::Revision;

/// When an ended marker written at `now` (Unix milliseconds) stops counting.
pub(super) fn marker_until(now: i64, lifetime: Duration) -> i64 {
    now.saturating_add(i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX))
}

/// The name is written into the SQL between double quotes, so only a plain
/// identifier may pass.
pub(super) fn valid_table_name(name: String) -> Result<String, sqlx::Error> {
    if !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
    {
        Ok(name)
    } else {
        Err(sqlx::Error::Configuration(
            format!("{name:?} cannot name a session table: use ASCII letters, digits and `_` only")
                .into(),
        ))
    }
}

/// A failure of the database itself: the pool, the connection, a statement.
#[expect(
    clippy::needless_pass_by_value,
    reason = "taken by value to fit `map_err`"
)]
pub(super) fn backend(error: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

/// Reads a column of a row; a value of another type is a corrupt record,
/// not a failure of the database.
pub(super) fn column<'r, R, T>(row: &'r R, name: &str) -> session_store::Result<T>
where
    R: Row,
    for<'n> &'n str: sqlx::ColumnIndex<R>,
    T: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    row.try_get(name).map_err(|error| {
        session_store::Error::Decode(format!("a stored session row is corrupt: {error}"))
    })
}

/// The `expiry` column's unit. Every date `time` can represent fits, so the
/// clamp never applies.
pub(super) fn unix_millis(at: OffsetDateTime) -> i64 {
    let millis = at.unix_timestamp_nanos().div_euclid(1_000_000);
    i64::try_from(millis).unwrap_or(if millis < 0 { i64::MIN } else { i64::MAX })
}

pub(super) fn from_unix_millis(millis: i64) -> session_store::Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).map_err(|error| {
        session_store::Error::Decode(format!("a stored session expiry is out of range: {error}"))
    })
}

pub(super) fn stored_revision(number: i64) -> session_store::Result<Revision> {
    u64::try_from(number).map(Revision::new).map_err(|_| {
        session_store::Error::Decode(format!("a stored session revision is negative: {number}"))
    })
}

/// Revisions come from the table, so one beyond `i64` was never stored.
pub(super) fn revision_parameter(revision: Revision) -> session_store::Result<i64> {
    i64::try_from(revision.get()).map_err(|_| {
        session_store::Error::Encode(format!(
            "revision {} is beyond what the table can hold",
            revision.get()
        ))
    })
}
