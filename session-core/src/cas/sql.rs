//! Sessions in a SQL table (SQLite, PostgreSQL), written only by conditional
//! statements, so that concurrent writers never overwrite each other.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};
use time::OffsetDateTime;

use super::{
    CasError, CasStore, DEFAULT_ENDED_MARKER_LIFETIME, Data, Loaded, Record, Revision, SessionId,
    Touched, Written,
};

/// The table a store uses unless told otherwise.
/// The result of a store operation.
type CasResult<T> = Result<T, CasError>;

const DEFAULT_TABLE_NAME: &str = "typed_sessions";

/// Ids are 128 random bits, so a second draw is already a rarity; a run of
/// taken ids means the table misbehaves, and looping on it would never end.
const CREATE_ATTEMPTS: usize = 16;

mod sealed {
    pub trait Sealed {}
}

/// What differs between the SQL databases a [`SqlCasStore`] runs on. The
/// statements themselves are the same: both take `$1`-style parameters.
pub trait SqlDialect: Database + sealed::Sealed {
    /// The column type of raw bytes.
    #[doc(hidden)]
    const BYTES: &'static str;
    /// A statement that serializes concurrent migrations, given the lock's
    /// name as `$1`, where `create table if not exists` alone can fail.
    #[doc(hidden)]
    const MIGRATION_LOCK: Option<&'static str>;
    /// How many rows a statement changed.
    #[doc(hidden)]
    fn rows_affected(result: &Self::QueryResult) -> u64;
}

#[cfg(feature = "sqlite")]
impl sealed::Sealed for sqlx::Sqlite {}

#[cfg(feature = "sqlite")]
impl SqlDialect for sqlx::Sqlite {
    const BYTES: &'static str = "blob";
    const MIGRATION_LOCK: Option<&'static str> = None;
    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
}

#[cfg(feature = "postgres")]
impl sealed::Sealed for sqlx::Postgres {}

#[cfg(feature = "postgres")]
impl SqlDialect for sqlx::Postgres {
    const BYTES: &'static str = "bytea";
    // Two concurrent `create table if not exists` can both decide to
    // create, and one then fails on a unique index of the catalog.
    const MIGRATION_LOCK: Option<&'static str> = Some("select pg_advisory_xact_lock(hashtext($1))");
    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
}

/// Sessions in a SQLite table.
///
/// Clones share the pool. For `sqlite::memory:`, give the pool a single
/// connection: every connection to it opens a database of its own. See
/// [`SqlCasStore`] for the table and its upkeep.
///
/// ```no_run
/// # async fn demo() -> Result<(), sqlx::Error> {
/// use session_core::cas::SqliteCasStore;
///
/// let pool = sqlx::SqlitePool::connect("sqlite://sessions.db?mode=rwc").await?;
/// let store = SqliteCasStore::new(pool);
/// store.migrate().await?;
/// # Ok(()) }
/// ```
#[cfg(feature = "sqlite")]
pub type SqliteCasStore = SqlCasStore<sqlx::Sqlite>;

/// Sessions in a PostgreSQL table.
///
/// The table lives in the first schema of the connection's `search_path`
/// (`public` by default). Clones share the pool. See [`SqlCasStore`] for
/// the table and its upkeep.
///
/// ```no_run
/// # async fn demo() -> Result<(), sqlx::Error> {
/// use session_core::cas::PostgresCasStore;
///
/// let pool = sqlx::PgPool::connect("postgres://localhost/app").await?;
/// let store = PostgresCasStore::new(pool);
/// store.migrate().await?;
/// # Ok(()) }
/// ```
#[cfg(feature = "postgres")]
pub type PostgresCasStore = SqlCasStore<sqlx::Postgres>;

/// Sessions in a SQL table, written only by conditional statements, so that
/// concurrent writers never overwrite each other. Use it as
/// [`SqliteCasStore`] or [`PostgresCasStore`].
///
/// The table (`typed_sessions` unless [`with_table_name`] says otherwise) has
/// one row per id: `id` (text), `revision`, `data` (the record's data as JSON
/// bytes, `NULL` for the marker of an ended session) and `expiry` (unix
/// milliseconds). [`migrate`] creates it. Expired rows read as missing but
/// keep their id taken until [`purge_expired`] deletes them; call it now and
/// then, for example from a periodic task.
///
/// [`with_table_name`]: SqlCasStore::with_table_name
/// [`migrate`]: SqlCasStore::migrate
/// [`purge_expired`]: SqlCasStore::purge_expired
pub struct SqlCasStore<DB: Database> {
    pool: Pool<DB>,
    table_name: String,
    ended_marker_lifetime: Duration,
}

impl<DB: Database> Clone for SqlCasStore<DB> {
    fn clone(&self) -> Self {
        SqlCasStore {
            pool: self.pool.clone(),
            table_name: self.table_name.clone(),
            ended_marker_lifetime: self.ended_marker_lifetime,
        }
    }
}

impl<DB: Database> fmt::Debug for SqlCasStore<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlCasStore")
            .field("pool", &self.pool)
            .field("table_name", &self.table_name)
            .field("ended_marker_lifetime", &self.ended_marker_lifetime)
            .finish()
    }
}

impl<DB: Database> SqlCasStore<DB> {
    /// A store in the table `typed_sessions` of `pool`, whose ended markers
    /// live [`DEFAULT_ENDED_MARKER_LIFETIME`].
    #[must_use]
    pub fn new(pool: Pool<DB>) -> Self {
        SqlCasStore {
            pool,
            table_name: DEFAULT_TABLE_NAME.to_owned(),
            ended_marker_lifetime: DEFAULT_ENDED_MARKER_LIFETIME,
        }
    }

    /// Keeps the sessions in the table `name` instead.
    ///
    /// # Errors
    ///
    /// [`sqlx::Error::Configuration`] if `name` is empty or holds anything
    /// but ASCII letters, digits and `_`: the name is written into the SQL.
    pub fn with_table_name(mut self, name: impl Into<String>) -> Result<Self, sqlx::Error> {
        self.table_name = valid_table_name(name.into())?;
        Ok(self)
    }

    /// Keeps the ended marker of a deleted session for `lifetime` instead.
    #[must_use]
    pub fn with_ended_marker_lifetime(mut self, lifetime: Duration) -> Self {
        self.ended_marker_lifetime = lifetime;
        self
    }
}

impl<DB> SqlCasStore<DB>
where
    DB: SqlDialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'n> &'n str: ColumnIndex<DB::Row>,
{
    /// Creates the table and an index on its `expiry` column, unless they
    /// exist. Instances that start together may all call it: they take turns
    /// where the database needs it.
    ///
    /// # Errors
    ///
    /// The [`sqlx::Error`] of a statement that fails.
    pub async fn migrate(&self) -> Result<(), sqlx::Error> {
        let table = &self.table_name;
        let bytes = DB::BYTES;
        let mut transaction = self.pool.begin().await?;
        if let Some(lock) = DB::MIGRATION_LOCK {
            sqlx::query(lock)
                .bind(format!("session_core.cas.{table}"))
                .execute(&mut *transaction)
                .await?;
        }
        sqlx::query(&format!(
            r#"create table if not exists "{table}" (
                id text primary key not null,
                revision bigint not null,
                data {bytes},
                expiry bigint not null
            )"#
        ))
        .execute(&mut *transaction)
        .await?;
        sqlx::query(&format!(
            r#"create index if not exists "{table}_expiry" on "{table}" (expiry)"#
        ))
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await
    }

    /// Deletes the expired records and the ended markers whose time has
    /// passed, and returns how many rows it deleted.
    ///
    /// # Errors
    ///
    /// The [`sqlx::Error`] of the statement, when it fails.
    pub async fn purge_expired(&self) -> Result<u64, sqlx::Error> {
        let table = &self.table_name;
        let deleted = sqlx::query(&format!(r#"delete from "{table}" where expiry <= $1"#))
            .bind(unix_millis(OffsetDateTime::now_utc()))
            .execute(&self.pool)
            .await?;
        Ok(DB::rows_affected(&deleted))
    }

    /// Whether a live record is stored under `id` at `now`: tells a refused
    /// conditional write's conflict from a session that is gone.
    async fn is_live(&self, id: &SessionId, now: i64) -> CasResult<bool> {
        let table = &self.table_name;
        let row = sqlx::query(&format!(
            r#"select 1 from "{table}" where id = $1 and data is not null and expiry > $2"#
        ))
        .bind(id.to_string())
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(row.is_some())
    }
}

#[async_trait]
impl<DB> CasStore for SqlCasStore<DB>
where
    DB: SqlDialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'n> &'n str: ColumnIndex<DB::Row>,
{
    async fn load(&self, id: &SessionId) -> CasResult<Loaded> {
        let table = &self.table_name;
        let row = sqlx::query(&format!(
            r#"select revision, data, expiry from "{table}" where id = $1 and expiry > $2"#
        ))
        .bind(id.to_string())
        .bind(unix_millis(OffsetDateTime::now_utc()))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        let Some(row) = row else {
            return Ok(Loaded::Missing);
        };
        let Some(data) = column::<_, Option<Vec<u8>>>(&row, "data")? else {
            let until = from_unix_millis(column(&row, "expiry")?)?;
            return Ok(Loaded::Ended {
                ended_at: ended_at(until, self.ended_marker_lifetime),
            });
        };
        Ok(Loaded::Live {
            record: Record {
                id: *id,
                data: Data::decode(&data)?,
                expiry_date: from_unix_millis(column(&row, "expiry")?)?,
            },
            revision: stored_revision(column(&row, "revision")?)?,
        })
    }

    async fn create(&self, record: &mut Record) -> CasResult<Revision> {
        let table = &self.table_name;
        let query = format!(
            r#"insert into "{table}" (id, revision, data, expiry) values ($1, $2, $3, $4)
            on conflict (id) do nothing"#
        );
        let data = record.data.encode();
        let expiry = unix_millis(record.expiry_date);
        let first = revision_parameter(Revision::FIRST)?;
        for _ in 0..CREATE_ATTEMPTS {
            let inserted = sqlx::query(&query)
                .bind(record.id.to_string())
                .bind(first)
                .bind(data.clone())
                .bind(expiry)
                .execute(&self.pool)
                .await
                .map_err(backend)?;
            if DB::rows_affected(&inserted) == 1 {
                return Ok(Revision::FIRST);
            }
            record.id = SessionId::random()?;
        }
        Err(CasError::Backend(format!(
            "table `{table}` refused {CREATE_ATTEMPTS} fresh random session ids in a row"
        )))
    }

    async fn save(&self, record: &Record, expected: Revision) -> CasResult<Written> {
        let table = &self.table_name;
        let now = unix_millis(OffsetDateTime::now_utc());
        let row = sqlx::query(&format!(
            r#"update "{table}" set data = $1, expiry = $2, revision = revision + 1
            where id = $3 and revision = $4 and data is not null and expiry > $5
            returning revision"#
        ))
        .bind(record.data.encode())
        .bind(unix_millis(record.expiry_date))
        .bind(record.id.to_string())
        .bind(revision_parameter(expected)?)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        if let Some(row) = row {
            return Ok(Written::Done(stored_revision(column(&row, "revision")?)?));
        }
        Ok(if self.is_live(&record.id, now).await? {
            Written::Conflict
        } else {
            Written::Gone
        })
    }

    async fn touch(
        &self,
        id: &SessionId,
        expiry_date: OffsetDateTime,
        if_before: OffsetDateTime,
    ) -> CasResult<Touched> {
        let table = &self.table_name;
        let now = unix_millis(OffsetDateTime::now_utc());
        // The revision stays: a concurrent save of data is not disturbed.
        let row = sqlx::query(&format!(
            r#"update "{table}" set expiry = $1
            where id = $2 and data is not null and expiry > $3 and expiry < $4
            returning revision"#
        ))
        .bind(unix_millis(expiry_date))
        .bind(id.to_string())
        .bind(now)
        .bind(unix_millis(if_before))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        if row.is_some() {
            return Ok(Touched::Moved);
        }
        Ok(if self.is_live(id, now).await? {
            Touched::Recent
        } else {
            Touched::Missing
        })
    }

    async fn delete(&self, id: &SessionId, expected: Option<Revision>) -> CasResult<Written> {
        let table = &self.table_name;
        let now = unix_millis(OffsetDateTime::now_utc());
        let until = marker_until(now, self.ended_marker_lifetime);
        let on_revision = if expected.is_some() {
            " and revision = $4"
        } else {
            ""
        };
        let query = format!(
            r#"update "{table}" set data = null, expiry = $1, revision = revision + 1
            where id = $2 and data is not null and expiry > $3{on_revision}
            returning revision"#
        );
        let mut update = sqlx::query(&query)
            .bind(until)
            .bind(id.to_string())
            .bind(now);
        if let Some(expected) = expected {
            update = update.bind(revision_parameter(expected)?);
        }
        let row = update.fetch_optional(&self.pool).await.map_err(backend)?;
        if let Some(row) = row {
            return Ok(Written::Done(stored_revision(column(&row, "revision")?)?));
        }
        Ok(if expected.is_some() && self.is_live(id, now).await? {
            Written::Conflict
        } else {
            Written::Gone
        })
    }
}

/// When an ended marker written at `now` (Unix milliseconds) stops counting.
fn marker_until(now: i64, lifetime: Duration) -> i64 {
    now.saturating_add(i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX))
}

/// The name is written into the SQL between double quotes, so only a plain
/// identifier may pass.
/// When a session whose marker lives until `until` was ended.
fn ended_at(until: OffsetDateTime, lifetime: Duration) -> OffsetDateTime {
    until.saturating_sub(time::Duration::try_from(lifetime).unwrap_or(time::Duration::MAX))
}

fn valid_table_name(name: String) -> Result<String, sqlx::Error> {
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
fn backend(error: sqlx::Error) -> CasError {
    CasError::Backend(error.to_string())
}

/// Reads a column of a row; a value of another type is a corrupt record,
/// not a failure of the database.
fn column<'r, R, T>(row: &'r R, name: &str) -> CasResult<T>
where
    R: Row,
    for<'n> &'n str: sqlx::ColumnIndex<R>,
    T: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    row.try_get(name)
        .map_err(|error| CasError::Decode(format!("a stored session row is corrupt: {error}")))
}

/// The `expiry` column's unit. Every date `time` can represent fits, so the
/// clamp never applies.
fn unix_millis(at: OffsetDateTime) -> i64 {
    let millis = at.unix_timestamp_nanos().div_euclid(1_000_000);
    i64::try_from(millis).unwrap_or(if millis < 0 { i64::MIN } else { i64::MAX })
}

fn from_unix_millis(millis: i64) -> CasResult<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).map_err(|error| {
        CasError::Decode(format!("a stored session expiry is out of range: {error}"))
    })
}

fn stored_revision(number: i64) -> CasResult<Revision> {
    u64::try_from(number)
        .map(Revision::new)
        .map_err(|_| CasError::Decode(format!("a stored session revision is negative: {number}")))
}

/// Revisions come from the table, so one beyond `i64` was never stored.
fn revision_parameter(revision: Revision) -> CasResult<i64> {
    i64::try_from(revision.get()).map_err(|_| {
        CasError::Encode(format!(
            "revision {} is beyond what the table can hold",
            revision.get()
        ))
    })
}
