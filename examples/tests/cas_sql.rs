//! `SqliteCasStore` and `PostgresCasStore`: the compare-and-swap contract,
//! ended markers that expire, `purge_expired`, and rows that do not decode.
//!
//! The PostgreSQL test needs PostgreSQL at `DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); without it, it is reported as
//! ignored (see `support/harness.rs`).

#[path = "support/cas_contract.rs"]
mod cas_contract;
#[path = "support/env.rs"]
mod env;
#[path = "support/harness.rs"]
mod harness;

use env::unique_name;
use harness::{Need, tokio_test};
use std::sync::Arc;

use session_core::cas::{CasError, Data, Record, SessionId, StoredValue};
use session_core::cas::{CasStore, Loaded, PostgresCasStore, Revision, SqliteCasStore, Written};
use session_core::time::{Duration, OffsetDateTime};
use tower_sessions_sqlx_store::sqlx;
use tower_sessions_sqlx_store::sqlx::postgres::PgPoolOptions;
use tower_sessions_sqlx_store::sqlx::sqlite::SqlitePoolOptions;
use tower_sessions_sqlx_store::sqlx::{PgPool, SqlitePool};

fn record(value: i64, expiry_date: OffsetDateTime) -> Record {
    Record {
        id: SessionId::random().expect("random bytes"),
        data: Data::from_iter([("count", StoredValue::from(serde_json::Value::from(value)))]),
        expiry_date,
    }
}

fn in_an_hour() -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::hours(1)
}

/// Every connection to `sqlite::memory:` opens a database of its own, so the
/// pool keeps exactly one.
async fn sqlite_memory() -> (SqliteCasStore, SqlitePool) {
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .expect("in-memory SQLite");
    let store = SqliteCasStore::new(pool.clone());
    store.migrate().await.expect("create the table");
    (store, pool)
}

async fn postgres_pool(url: &str) -> PgPool {
    PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect(url)
        .await
        .unwrap_or_else(|error| {
            panic!("DATABASE_URL is set but PostgreSQL is unreachable at {url}: {error}")
        })
}

async fn postgres_store(pool: &PgPool) -> (PostgresCasStore, String) {
    let table = unique_name("cas_sessions");
    let store = PostgresCasStore::new(pool.clone())
        .with_table_name(&table)
        .expect("a valid table name");
    store.migrate().await.expect("create the table");
    (store, table)
}

async fn drop_postgres_table(pool: &PgPool, table: &str) {
    sqlx::query(&format!(r#"drop table if exists "{table}""#))
        .execute(pool)
        .await
        .expect("drop the test table");
}

/// A marker that lives zero seconds has expired as soon as it is written:
/// the id loads as missing, cannot be saved, and stays taken until purged.
async fn zero_lifetime_marker(store: &dyn CasStore, label: &str) {
    let mut ended = record(1, in_an_hour());
    let revision = store.create(&mut ended).await.expect("create");
    assert!(
        matches!(
            store
                .delete(&ended.id, Some(revision))
                .await
                .expect("delete"),
            Written::Done(_)
        ),
        "{label}: delete a live record"
    );
    assert_eq!(
        store.load(&ended.id).await.expect("load"),
        Loaded::Missing,
        "{label}: a marker of lifetime zero loads as missing"
    );
    assert_eq!(
        store.save(&ended, revision).await.expect("save"),
        Written::Gone,
        "{label}: a save after a delete is refused"
    );
    let mut reuse = record(2, in_an_hour());
    reuse.id = ended.id;
    store.create(&mut reuse).await.expect("create");
    assert_ne!(
        reuse.id, ended.id,
        "{label}: an expired marker keeps its id taken until purged"
    );
    println!("{label}: an ended marker of lifetime zero is missing at once ok");
}

/// `purge` removes expired records and markers whose time has passed and
/// keeps live records and current markers. `store` must be on an empty
/// table, `zero_markers` on the same table with a marker lifetime of zero.
async fn purge_rule(
    store: &dyn CasStore,
    zero_markers: &dyn CasStore,
    purge: impl AsyncFn() -> u64,
    rows: impl AsyncFn() -> i64,
    label: &str,
) {
    assert_eq!(rows().await, 0, "{label}: the table starts empty");

    let mut live = record(1, in_an_hour());
    store.create(&mut live).await.expect("create live");
    let mut expired = record(2, OffsetDateTime::now_utc() - Duration::minutes(1));
    store.create(&mut expired).await.expect("create expired");
    let mut ended_now = record(3, in_an_hour());
    store.create(&mut ended_now).await.expect("create");
    zero_markers
        .delete(&ended_now.id, None)
        .await
        .expect("delete with a marker of lifetime zero");
    let mut ended_later = record(4, in_an_hour());
    store.create(&mut ended_later).await.expect("create");
    store
        .delete(&ended_later.id, None)
        .await
        .expect("delete with the default marker lifetime");
    assert_eq!(rows().await, 4, "{label}: four rows before the purge");

    assert_eq!(
        purge().await,
        2,
        "{label}: purge deletes the expired record and the expired marker"
    );
    assert_eq!(rows().await, 2, "{label}: two rows after the purge");
    assert!(
        matches!(
            store.load(&live.id).await.expect("load"),
            Loaded::Live { .. }
        ),
        "{label}: the live record survives the purge"
    );
    assert!(
        matches!(
            store.load(&ended_later.id).await.expect("load"),
            Loaded::Ended { .. }
        ),
        "{label}: a current marker survives the purge"
    );
    assert_eq!(purge().await, 0, "{label}: a second purge finds nothing");

    // The purged ids are free again.
    let mut again = record(5, in_an_hour());
    again.id = expired.id;
    store.create(&mut again).await.expect("create");
    assert_eq!(again.id, expired.id, "{label}: a purged id can be created");
    println!("{label}: purge_expired ok");
}

async fn sqlite_rows(pool: &SqlitePool, table: &str) -> i64 {
    sqlx::query_scalar(&format!(r#"select count(*) from "{table}""#))
        .fetch_one(pool)
        .await
        .expect("count rows")
}

async fn postgres_rows(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!(r#"select count(*) from "{table}""#))
        .fetch_one(pool)
        .await
        .expect("count rows")
}

async fn sqlite_in_memory() {
    let (store, _pool) = sqlite_memory().await;
    cas_contract::contract(Arc::new(store.clone()), "SqliteCasStore (memory)").await;
    zero_lifetime_marker(
        &store.with_ended_marker_lifetime(std::time::Duration::ZERO),
        "SqliteCasStore (memory)",
    )
    .await;
}

async fn sqlite_in_a_file() {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{}.sqlite", unique_name("cas_sessions")));
    let pool = SqlitePoolOptions::new()
        .connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .expect("SQLite file");
    let store = SqliteCasStore::new(pool.clone())
        .with_table_name("sessions_in_a_file")
        .expect("a valid table name");
    store.migrate().await.expect("create the table");
    store.migrate().await.expect("migrate twice");
    cas_contract::contract(Arc::new(store), "SqliteCasStore (file)").await;
    pool.close().await;
    std::fs::remove_file(&path).expect("remove the database file");
}

async fn sqlite_purge_expired() {
    let (store, pool) = sqlite_memory().await;
    let zero_markers = store
        .clone()
        .with_ended_marker_lifetime(std::time::Duration::ZERO);
    purge_rule(
        &store,
        &zero_markers,
        async || store.purge_expired().await.expect("purge"),
        async || sqlite_rows(&pool, "typed_sessions").await,
        "SqliteCasStore",
    )
    .await;
}

async fn sqlite_rows_that_do_not_decode() {
    let (store, pool) = sqlite_memory().await;
    let expiry = (in_an_hour().unix_timestamp_nanos() / 1_000_000).to_string();
    let cases = [
        (
            "data that is not JSON",
            "1",
            "x'6e6f74206a736f6e'",
            expiry.as_str(),
        ),
        ("a negative revision", "-1", "x'7b7d'", expiry.as_str()),
        ("an expiry that is text", "1", "x'7b7d'", "'soon'"),
        (
            "a revision that is text",
            "'one'",
            "x'7b7d'",
            expiry.as_str(),
        ),
    ];
    for (what, revision, data, expiry) in cases {
        let id = SessionId::random().expect("random bytes");
        sqlx::query(&format!(
            "insert into typed_sessions (id, revision, data, expiry) \
             values ('{id}', {revision}, {data}, {expiry})"
        ))
        .execute(&pool)
        .await
        .expect("insert a bad row");
        let loaded = store.load(&id).await;
        assert!(
            matches!(loaded, Err(CasError::Decode(_))),
            "{what}: {loaded:?}"
        );
    }
    println!("SqliteCasStore: rows that do not decode are decode errors ok");
}

async fn table_names_are_checked() {
    let (store, _pool) = sqlite_memory().await;
    for bad in [
        "",
        "sessions; drop table users",
        "sessions\"",
        "séances",
        "a b",
    ] {
        assert!(
            store.clone().with_table_name(bad).is_err(),
            "{bad:?} must be refused"
        );
    }
    assert!(store.with_table_name("Sessions_2").is_ok());
}

async fn postgres() {
    let url = Need::Postgres.url();
    let pool = postgres_pool(&url).await;

    let (store, table) = postgres_store(&pool).await;
    store.migrate().await.expect("migrate twice");
    cas_contract::contract(Arc::new(store.clone()), "PostgresCasStore").await;
    zero_lifetime_marker(
        &store.with_ended_marker_lifetime(std::time::Duration::ZERO),
        "PostgresCasStore",
    )
    .await;
    drop_postgres_table(&pool, &table).await;

    let (store, table) = postgres_store(&pool).await;
    let zero_markers = store
        .clone()
        .with_ended_marker_lifetime(std::time::Duration::ZERO);
    purge_rule(
        &store,
        &zero_markers,
        async || store.purge_expired().await.expect("purge"),
        async || postgres_rows(&pool, &table).await,
        "PostgresCasStore",
    )
    .await;
    drop_postgres_table(&pool, &table).await;

    // Instances that start together all migrate the same table.
    let (store, table) = postgres_store(&pool).await;
    drop_postgres_table(&pool, &table).await;
    let racers: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.migrate().await })
        })
        .collect();
    for racer in racers {
        racer
            .await
            .expect("the task ran")
            .expect("concurrent migrations");
    }
    assert_eq!(postgres_rows(&pool, &table).await, 0);
    drop_postgres_table(&pool, &table).await;
    println!("PostgresCasStore: concurrent migrations ok");
}

/// A revision that does not fit the table's column cannot be presented.
async fn revisions_beyond_the_column() {
    let (store, _pool) = sqlite_memory().await;
    let mut live = record(1, in_an_hour());
    store.create(&mut live).await.expect("create");
    assert!(matches!(
        store.save(&live, Revision::new(u64::MAX)).await,
        Err(CasError::Encode(_))
    ));
}

fn main() {
    harness::run(vec![
        tokio_test("sqlite_in_memory", sqlite_in_memory),
        tokio_test("sqlite_in_a_file", sqlite_in_a_file),
        tokio_test("sqlite_purge_expired", sqlite_purge_expired),
        tokio_test(
            "sqlite_rows_that_do_not_decode",
            sqlite_rows_that_do_not_decode,
        ),
        tokio_test("table_names_are_checked", table_names_are_checked),
        tokio_test("postgres", postgres).needs(Need::Postgres),
        tokio_test("revisions_beyond_the_column", revisions_beyond_the_column),
    ]);
}
