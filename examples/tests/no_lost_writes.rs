//! The figures of "No lost writes", measured over real HTTP on loopback:
//!
//! - T1: 1000 increments of one field with 64 requests in flight, then two
//!   fields hammered together: the final values equal the 2xx responses.
//! - T2: 500 slow writes overlapping a logout: no session comes back.
//! - T3: 200 logins (`rotate_id`) with 9 requests of the same page in
//!   flight: no unintended logout, and the old id is dead.
//! - T11: 10,000 requests with junk ids: no record created, no id adopted.
//!
//! Each runs against one instance and against two instances sharing the
//! store, for every store we ship; the tower-sessions layer runs the same
//! races for comparison. PostgreSQL and Redis are at `DATABASE_URL` and
//! `REDIS_URL` (the standard loopback ports by default); without one, its
//! test is reported as ignored (see `support/harness.rs`).

#[path = "support/env.rs"]
mod env;
#[path = "support/harness.rs"]
mod harness;
#[path = "support/races.rs"]
mod races;

use env::unique_name;
use harness::{Need, tokio_test_threads};
use std::sync::Arc;

use races::{Deployment, Gates, routes, serve};
use session_core::cas::{
    CasMemoryStore, CasStore, LastWriterWins, PostgresCasStore, RedisCasStore, SqliteCasStore,
};
use session_core::layer::SessionLayer;
use tower_sessions::{MemoryStore, SessionManagerLayer};
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, KeysInterface, Pool};
use tower_sessions_sqlx_store::sqlx;
use tower_sessions_sqlx_store::sqlx::postgres::PgPoolOptions;
use tower_sessions_sqlx_store::sqlx::sqlite::SqlitePoolOptions;

// ANCHOR: deploy
/// One deployment of our layer per store handle: one handle is one
/// instance, several handles of one store are several instances.
async fn ours<S: CasStore + Clone>(label: &str, stores: Vec<S>) -> Deployment {
    let gates = Gates::default();
    let mut instances = Vec::new();
    for store in &stores {
        let layer = SessionLayer::builder(store.clone())
            .build()
            .expect("default settings are valid");
        instances.push(serve(routes(gates.clone()).layer(layer)).await);
    }
    Deployment {
        label: label.to_owned(),
        instances,
        gates,
        probe: Arc::new(stores[0].clone()),
        cookie_name: "id",
        ours: true,
    }
}
// ANCHOR_END: deploy

/// T1, T2, T3 and T11 on one instance, then on two.
async fn every_race<S: CasStore + Clone>(
    label: &str,
    one: S,
    two: [S; 2],
    count: impl AsyncFn() -> u64,
) {
    for stores in [vec![one], two.to_vec()] {
        let deployment = ours(label, stores).await;
        races::t1_no_lost_increments(&deployment).await;
        races::t2_logout_stays_logged_out(&deployment, 500).await;
        races::t3_login_with_requests_in_flight(&deployment, 200).await;
        races::t11_junk_ids(&deployment, 10_000, &count).await;
    }
}

async fn memory() {
    let store = CasMemoryStore::new();
    let count = async || u64::try_from(store.len()).expect("count");
    every_race(
        "CasMemoryStore",
        store.clone(),
        [store.clone(), store.clone()],
        count,
    )
    .await;
}

/// Two instances are two pools on one database file.
async fn sqlite() {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{}.sqlite", unique_name("races")));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut stores = Vec::new();
    for _ in 0..3 {
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect(&url)
            .await
            .expect("SQLite file");
        stores.push(SqliteCasStore::new(pool));
    }
    stores[0].migrate().await.expect("create the table");
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .expect("SQLite file");
    let count = async || -> u64 {
        let rows: i64 = sqlx::query_scalar("select count(*) from typed_sessions")
            .fetch_one(&pool)
            .await
            .expect("count rows");
        u64::try_from(rows).expect("a count")
    };
    let [one, first, second] = <[SqliteCasStore; 3]>::try_from(stores).expect("three stores");
    every_race("SqliteCasStore (file)", one, [first, second], count).await;
    std::fs::remove_file(&path).expect("remove the database file");
}

async fn postgres() {
    let url = Need::Postgres.url();
    let table = unique_name("races");
    let mut stores = Vec::new();
    for _ in 0..3 {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect(&url)
            .await
            .unwrap_or_else(|error| {
                panic!("DATABASE_URL is set but PostgreSQL is unreachable at {url}: {error}")
            });
        stores.push(
            PostgresCasStore::new(pool)
                .with_table_name(&table)
                .expect("a valid table name"),
        );
    }
    stores[0].migrate().await.expect("create the table");
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .expect("PostgreSQL");
    let count = async || -> u64 {
        let rows: i64 = sqlx::query_scalar(&format!(r#"select count(*) from "{table}""#))
            .fetch_one(&pool)
            .await
            .expect("count rows");
        u64::try_from(rows).expect("a count")
    };
    let [one, first, second] = <[PostgresCasStore; 3]>::try_from(stores).expect("three stores");
    every_race("PostgresCasStore", one, [first, second], count).await;
    sqlx::query(&format!(r#"drop table "{table}""#))
        .execute(&pool)
        .await
        .expect("drop the test table");
}

/// Two instances are two connection pools.
async fn redis() {
    let url = Need::Redis.url();
    let prefix = format!("{}:", unique_name("races"));
    let mut pools = Vec::new();
    for _ in 0..3 {
        let config = Config::from_url(&url).expect("a valid REDIS_URL");
        let pool = Pool::new(config, None, None, None, 4).expect("a Redis pool");
        pool.init().await.unwrap_or_else(|error| {
            panic!("REDIS_URL is set but Redis is unreachable at {url}: {error}")
        });
        pools.push(pool);
    }
    let stores: Vec<RedisCasStore> = pools
        .iter()
        .map(|pool| RedisCasStore::new(pool.clone()).with_key_prefix(&prefix))
        .collect();
    let keys = async || -> Vec<String> {
        let mut found = Vec::new();
        let mut cursor = "0".to_owned();
        loop {
            let (next, keys): (String, Vec<String>) = pools[0]
                .scan_page(cursor, format!("{prefix}*"), Some(1000), None)
                .await
                .expect("SCAN");
            found.extend(keys);
            if next == "0" {
                return found;
            }
            cursor = next;
        }
    };
    let count = async || u64::try_from(keys().await.len()).expect("a count");
    let [one, first, second] = <[RedisCasStore; 3]>::try_from(stores).expect("three stores");
    every_race("RedisCasStore", one, [first, second], count).await;
    let left = keys().await;
    if !left.is_empty() {
        let _: i64 = pools[0].del(left).await.expect("DEL");
    }
}

/// The same races under tower-sessions' own layer and store, for the
/// guide's side-by-side. Its figures are printed, and the one outcome that
/// is certain by construction is pinned: every logged-out session of T2 is
/// written back by the slow request.
async fn tower_sessions_side_by_side() {
    let store = MemoryStore::default();
    for instances in [1, 2] {
        let gates = Gates::default();
        let mut addresses = Vec::new();
        for _ in 0..instances {
            let layer = SessionManagerLayer::new(store.clone());
            addresses.push(serve(routes(gates.clone()).layer(layer)).await);
        }
        let deployment = Deployment {
            label: "tower-sessions SessionManagerLayer + MemoryStore".to_owned(),
            instances: addresses,
            gates,
            probe: Arc::new(LastWriterWins::new(store.clone())),
            cookie_name: "id",
            ours: false,
        };
        races::t1_no_lost_increments(&deployment).await;
        let resurrected = races::t2_logout_stays_logged_out(&deployment, 100).await;
        assert_eq!(
            resurrected, 100,
            "the slow write upserts the deleted record"
        );
        races::t3_login_with_requests_in_flight(&deployment, 100).await;
    }
}

/// Each test on a runtime of two worker threads, so requests really overlap.
fn main() {
    harness::run(vec![
        tokio_test_threads("memory", 2, memory),
        tokio_test_threads("sqlite", 2, sqlite),
        tokio_test_threads("postgres", 2, postgres).needs(Need::Postgres),
        tokio_test_threads("redis", 2, redis).needs(Need::Redis),
        tokio_test_threads(
            "tower_sessions_side_by_side",
            2,
            tower_sessions_side_by_side,
        ),
    ]);
}
