//! `RedisCasStore` keeps the compare-and-swap contract, and leaves Redis to
//! purge what expires.
//!
//! Every test needs Redis at `REDIS_URL` (default `redis://127.0.0.1:6379`);
//! without it they are reported as ignored (see `support/harness.rs`). Each
//! test writes under its own key prefix (test name and process id) and
//! deletes its keys at the end.

#[path = "support/cas_contract.rs"]
mod cas_contract;
#[path = "support/harness.rs"]
mod harness;

use harness::{Need, tokio_test};
use std::sync::Arc;

use session_core::cas::{CasError, Data, Record, SessionId, StoredValue};
use session_core::cas::{CasStore, Loaded, RedisCasStore, Revision, Written};
use session_core::time::{Duration, OffsetDateTime};
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, KeysInterface, Pool};
use tower_sessions_redis_store::fred::prelude::{HashesInterface, LuaInterface};

/// A pool connected to [`Need::Redis`].
async fn redis_pool() -> Pool {
    let url = Need::Redis.url();
    let config = Config::from_url(&url).expect("a valid REDIS_URL");
    let pool = Pool::new(config, None, None, None, 2).expect("a Redis pool");
    pool.init().await.unwrap_or_else(|error| {
        panic!("REDIS_URL is set but Redis is unreachable at {url}: {error}")
    });
    pool
}

/// A prefix no other test or run shares.
fn key_prefix(test: &str) -> String {
    format!("typed_session_test:{}:{test}:", std::process::id())
}

/// Deletes every key under `prefix`.
async fn delete_keys(pool: &Pool, prefix: &str) {
    let mut cursor = "0".to_owned();
    loop {
        let (next, keys): (String, Vec<String>) = pool
            .scan_page(cursor, format!("{prefix}*"), Some(100), None)
            .await
            .expect("SCAN");
        if !keys.is_empty() {
            let _: i64 = pool.del(keys).await.expect("DEL");
        }
        if next == "0" {
            break;
        }
        cursor = next;
    }
}

fn record(expiry_date: OffsetDateTime) -> Record {
    Record {
        id: SessionId::random().expect("random bytes"),
        data: Data::from_iter([("count", StoredValue::from(serde_json::Value::from(1)))]),
        expiry_date,
    }
}

/// The key's remaining lifetime in milliseconds, as Redis reports it.
async fn pttl(pool: &Pool, key: &str) -> i64 {
    pool.pttl(key).await.expect("PTTL")
}

async fn contract() {
    let pool = redis_pool().await;
    let prefix = key_prefix("contract");
    let store = RedisCasStore::new(pool.clone()).with_key_prefix(prefix.clone());
    cas_contract::contract(Arc::new(store), "RedisCasStore").await;
    delete_keys(&pool, &prefix).await;
}

async fn keys_carry_a_native_expiry() {
    let pool = redis_pool().await;
    let prefix = key_prefix("native_expiry");
    let lifetime = std::time::Duration::from_secs(60);
    let store = RedisCasStore::new(pool.clone())
        .with_key_prefix(prefix.clone())
        .with_ended_marker_lifetime(lifetime);

    let mut live = record(OffsetDateTime::now_utc() + Duration::hours(1));
    let revision = store.create(&mut live).await.expect("create");
    let key = format!("{prefix}{}", live.id);
    let ttl = pttl(&pool, &key).await;
    assert!(
        (3_595_000..=3_600_000).contains(&ttl),
        "a record's key expires with the record: PTTL {ttl}"
    );

    // A save moves the key's expiry with the record's.
    live.expiry_date = OffsetDateTime::now_utc() + Duration::hours(2);
    let Written::Done(revision) = store.save(&live, revision).await.expect("save") else {
        panic!("a save at the current revision must succeed");
    };
    let ttl = pttl(&pool, &key).await;
    assert!(
        (7_195_000..=7_200_000).contains(&ttl),
        "a save moves the key's expiry: PTTL {ttl}"
    );

    assert!(matches!(
        store
            .delete(&live.id, Some(revision))
            .await
            .expect("delete"),
        Written::Done(_)
    ));
    let ttl = pttl(&pool, &key).await;
    assert!(
        (55_000..=60_000).contains(&ttl),
        "an ended marker's key expires with the marker: PTTL {ttl}"
    );
    let data: bool = pool.hexists(&key, "data").await.expect("HEXISTS");
    assert!(!data, "an ended marker keeps no session data");
    assert!(matches!(
        store.load(&live.id).await.expect("load"),
        Loaded::Ended { .. }
    ));
    println!("RedisCasStore: native expiry of records and markers ok");

    delete_keys(&pool, &prefix).await;
}

async fn a_marker_without_lifetime_leaves_nothing() {
    let pool = redis_pool().await;
    let prefix = key_prefix("zero_marker");
    let store = RedisCasStore::new(pool.clone())
        .with_key_prefix(prefix.clone())
        .with_ended_marker_lifetime(std::time::Duration::ZERO);

    let mut live = record(OffsetDateTime::now_utc() + Duration::hours(1));
    store.create(&mut live).await.expect("create");
    assert!(matches!(
        store.delete(&live.id, None).await.expect("delete"),
        Written::Done(_)
    ));
    assert_eq!(
        store.load(&live.id).await.expect("load"),
        Loaded::Missing,
        "with no marker lifetime a deleted id is missing at once"
    );
    println!("RedisCasStore: zero marker lifetime ok");

    delete_keys(&pool, &prefix).await;
}

async fn a_flushed_script_cache_is_refilled() {
    let pool = redis_pool().await;
    let prefix = key_prefix("script_flush");
    let store = RedisCasStore::new(pool.clone()).with_key_prefix(prefix.clone());

    let mut live = record(OffsetDateTime::now_utc() + Duration::hours(1));
    let revision = store.create(&mut live).await.expect("create");
    let Written::Done(revision) = store.save(&live, revision).await.expect("save") else {
        panic!("a save at the current revision must succeed");
    };
    // As after a Redis restart: the store knows the scripts' digests, but
    // EVALSHA now fails with NOSCRIPT.
    pool.script_flush(false).await.expect("SCRIPT FLUSH");
    let Written::Done(revision) = store.save(&live, revision).await.expect("save") else {
        panic!("a save after SCRIPT FLUSH must succeed");
    };
    let Loaded::Live {
        revision: loaded, ..
    } = store.load(&live.id).await.expect("load")
    else {
        panic!("the saved record must load");
    };
    assert_eq!(loaded, revision);
    assert!(matches!(
        store
            .delete(&live.id, Some(revision))
            .await
            .expect("delete"),
        Written::Done(_)
    ));
    println!("RedisCasStore: scripts survive SCRIPT FLUSH ok");

    delete_keys(&pool, &prefix).await;
}

async fn a_corrupt_record_is_an_error() {
    let pool = redis_pool().await;
    let prefix = key_prefix("corrupt");
    let store = RedisCasStore::new(pool.clone()).with_key_prefix(prefix.clone());

    let id = SessionId::random().expect("random bytes");
    let in_an_hour = (OffsetDateTime::now_utc() + Duration::hours(1)).unix_timestamp() * 1000;
    let _: i64 = pool
        .hset(
            format!("{prefix}{id}"),
            [
                ("rev", "1".to_owned()),
                ("data", "not json".to_owned()),
                ("exp", in_an_hour.to_string()),
            ],
        )
        .await
        .expect("HSET");
    let error = store
        .load(&id)
        .await
        .expect_err("a corrupt record must not load");
    assert!(
        matches!(error, CasError::Decode(_)),
        "a corrupt record is a decode error: {error:?}"
    );
    println!("RedisCasStore: corrupt record is a decode error ok");

    delete_keys(&pool, &prefix).await;
}

/// A session key that holds a string instead of a hash is a record that
/// cannot be read (a `500`, not a `503` that invites retries forever), and
/// nothing overwrites it.
async fn a_key_of_another_type_is_a_decode_error_and_kept() {
    let pool = redis_pool().await;
    let prefix = key_prefix("wrongtype");
    let store = RedisCasStore::new(pool.clone()).with_key_prefix(prefix.clone());

    let id = SessionId::random().expect("random bytes");
    let key = format!("{prefix}{id}");
    let () = pool
        .set(&key, "a plain string", None, None, false)
        .await
        .expect("SET");
    let error = store.load(&id).await.expect_err("a string is no session");
    assert!(
        matches!(error, CasError::Decode(_)),
        "another type is a decode error, not an outage: {error:?}"
    );
    assert!(
        !error.to_string().contains(&id.to_string()),
        "the error never names the id: {error}"
    );
    let mut record = Record {
        id,
        data: Data::from_iter([("count", StoredValue::from(serde_json::Value::from(1)))]),
        expiry_date: OffsetDateTime::now_utc() + Duration::hours(1),
    };
    store
        .create(&mut record)
        .await
        .expect("create under a new id");
    assert_ne!(record.id, id, "create never takes the key");
    assert!(
        store
            .save(
                &Record {
                    id,
                    ..record.clone()
                },
                Revision::FIRST
            )
            .await
            .is_err(),
        "save refuses the key"
    );
    let kept: String = pool.get(&key).await.expect("GET");
    assert_eq!(kept, "a plain string", "the key is left as it was");
    println!("RedisCasStore: a key of another type is a decode error ok");

    delete_keys(&pool, &prefix).await;
}

fn main() {
    harness::run(
        [
            tokio_test("contract", contract),
            tokio_test("keys_carry_a_native_expiry", keys_carry_a_native_expiry),
            tokio_test(
                "a_marker_without_lifetime_leaves_nothing",
                a_marker_without_lifetime_leaves_nothing,
            ),
            tokio_test(
                "a_flushed_script_cache_is_refilled",
                a_flushed_script_cache_is_refilled,
            ),
            tokio_test("a_corrupt_record_is_an_error", a_corrupt_record_is_an_error),
            tokio_test(
                "a_key_of_another_type_is_a_decode_error_and_kept",
                a_key_of_another_type_is_a_decode_error_and_kept,
            ),
        ]
        .into_iter()
        .map(|test| test.needs(Need::Redis))
        .collect(),
    );
}
