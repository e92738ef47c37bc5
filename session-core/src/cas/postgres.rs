//! A compare-and-swap store in a PostgreSQL table.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::PgPool;
use time::OffsetDateTime;
use tower_sessions_core::session::{Id, Record};
use tower_sessions_core::session_store;

use super::sql::{
    backend, column, from_unix_millis, marker_until, revision_parameter, stored_revision,
    unix_millis, valid_table_name,
};
use super::{
    CasStore, DEFAULT_ENDED_MARKER_LIFETIME, Loaded, Revision, Written, decode_data, encode_data,
};

/// The table a store uses unless told otherwise.
const DEFAULT_TABLE_NAME: &str = "typed_sessions";

/// Ids are 128 random bits, so a second draw is already a rarity; a run of
/// taken ids means the table misbehaves, and looping on it would never end.
const CREATE_ATTEMPTS: usize = 16;

/// Sessions in a PostgreSQL table, written only by conditional statements, so
/// that concurrent writers never overwrite each other.
///
/// The table (`typed_sessions` unless [`with_table_name`] says otherwise) has
/// one row per id: `id` (text), `revision`, `data` (the record's data as JSON
/// bytes, `NULL` for the marker of an ended session) and `expiry` (unix
/// milliseconds). [`migrate`] creates it. Expired rows read as missing but
/// keep their id taken until [`purge_expired`] deletes them; call it now and
/// then, for example from a periodic task.
///
/// The table lives in the first schema of the connection's `search_path`
/// (`public` by default). Clones share the pool.
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
///
/// [`with_table_name`]: PostgresCasStore::with_table_name
/// [`migrate`]: PostgresCasStore::migrate
/// [`purge_expired`]: PostgresCasStore::purge_expired
#[derive(Clone, Debug)]
pub struct PostgresCasStore {
    pool: PgPool,
    table_name: String,
    ended_marker_lifetime: Duration,
}

impl PostgresCasStore {
    /// A store in the table `typed_sessions` of `pool`, whose ended markers
    /// live [`DEFAULT_ENDED_MARKER_LIFETIME`].
    #[must_use]
    pub fn new(pool: PgPool) -> Self {
        PostgresCasStore {
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

    /// Creates the table and an index on its `expiry` column, unless they
    /// exist. Instances that start together may all call it: they take turns.
    ///
    /// # Errors
    ///
    /// The [`sqlx::Error`] of a statement that fails.
    pub async fn migrate(&self) -> Result<(), sqlx::Error> {
        let table = &self.table_name;
        let mut transaction = self.pool.begin().await?;
        // Two concurrent `create table if not exists` can both decide to
        // create, and one then fails on a unique index of the catalog.
        sqlx::query("select pg_advisory_xact_lock(hashtext($1))")
            .bind(format!("session_core.cas.{table}"))
            .execute(&mut *transaction)
            .await?;
        sqlx::query(&format!(
            r#"create table if not exists "{table}" (
                id text primary key not null,
                revision bigint not null,
                data bytea,
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
        Ok(deleted.rows_affected())
    }

    /// Whether a live record is stored under `id` at `now`: tells a refused
    /// conditional write's conflict from a session that is gone.
    async fn is_live(&self, id: &Id, now: i64) -> session_store::Result<bool> {
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
impl CasStore for PostgresCasStore {
    async fn load(&self, id: &Id) -> session_store::Result<Loaded> {
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
            return Ok(Loaded::Ended);
        };
        Ok(Loaded::Live {
            record: Record {
                id: *id,
                data: decode_data(&data)?,
                expiry_date: from_unix_millis(column(&row, "expiry")?)?,
            },
            revision: stored_revision(column(&row, "revision")?)?,
        })
    }

    async fn create(&self, record: &mut Record) -> session_store::Result<Revision> {
        let table = &self.table_name;
        let query = format!(
            r#"insert into "{table}" (id, revision, data, expiry) values ($1, $2, $3, $4)
            on conflict (id) do nothing"#
        );
        let data = encode_data(&record.data)?;
        let expiry = unix_millis(record.expiry_date);
        let first = revision_parameter(Revision::FIRST)?;
        for _ in 0..CREATE_ATTEMPTS {
            let inserted = sqlx::query(&query)
                .bind(record.id.to_string())
                .bind(first)
                .bind(data.as_slice())
                .bind(expiry)
                .execute(&self.pool)
                .await
                .map_err(backend)?;
            if inserted.rows_affected() == 1 {
                return Ok(Revision::FIRST);
            }
            record.id = Id::default();
        }
        Err(session_store::Error::Backend(format!(
            "table `{table}` refused {CREATE_ATTEMPTS} fresh random session ids in a row"
        )))
    }

    async fn save(&self, record: &Record, expected: Revision) -> session_store::Result<Written> {
        let table = &self.table_name;
        let now = unix_millis(OffsetDateTime::now_utc());
        let row = sqlx::query(&format!(
            r#"update "{table}" set data = $1, expiry = $2, revision = revision + 1
            where id = $3 and revision = $4 and data is not null and expiry > $5
            returning revision"#
        ))
        .bind(encode_data(&record.data)?)
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

    async fn delete(&self, id: &Id, expected: Option<Revision>) -> session_store::Result<Written> {
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
