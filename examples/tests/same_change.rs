//! Two instances that change a session at the same time, over every store:
//! a change the stored data itself calls for (an expired value removed,
//! older data migrated) that both requests make, or that the other writer
//! made the same way, is merged, so two read-only requests never answer
//! `409`; a different value on the same key, and two handlers' own changes
//! to one key, still conflict.
//!
//! An instance is one `SessionLayer` over its own handle of the store (its
//! own connection pool). Each case holds the requests between their read
//! and their save until both have read, so the overlap is certain. The
//! clock is a `ManualClock`, so expiry needs no sleeping. PostgreSQL and
//! Redis are at `DATABASE_URL` and `REDIS_URL` (the standard loopback ports
//! by default); without one, its test is reported as ignored.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use session_core::cas::{
    CasMemoryStore, CasStore, Data, Loaded, PostgresCasStore, Record, RedisCasStore, Revision,
    SessionId, SqliteCasStore, StoredValue, Written,
};
use session_core::layer::SessionLayer;
use session_core::{Clock, ManualClock, SessionError, SessionSchema};
use support::Browser;
use support::env::unique_name;
use support::harness::{Need, tokio_test_threads};
use time::Duration;
use tokio::sync::Notify;
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, KeysInterface, Pool};
use tower_sessions_sqlx_store::sqlx;
use tower_sessions_sqlx_store::sqlx::postgres::PgPoolOptions;
use tower_sessions_sqlx_store::sqlx::sqlite::SqlitePoolOptions;

// ---------------------------------------------------------------- schemas

/// A page's session: an offer that expires, a flash notice, a counter.
#[derive(SessionSchema, Serialize, Deserialize, Debug)]
#[session(namespace = "page")]
struct Page {
    #[session(expires_in = "1m")]
    offer: Option<String>,
    #[session(flash)]
    notice: Option<String>,
    #[session(default)]
    visits: u64,
}

/// What an earlier release stored: one theme.
#[derive(SessionSchema)]
#[session(namespace = "prefs", version = 1)]
struct PrefsV1 {
    theme: Option<String>,
}

/// The current release: a theme per part of the site.
#[derive(SessionSchema, Serialize, Deserialize, Debug)]
#[session(namespace = "prefs", version = 2, migrate_from = PrefsV1)]
struct Prefs {
    #[session(default)]
    themes: BTreeMap<String, String>,
}

impl From<PrefsV1> for Prefs {
    fn from(v1: PrefsV1) -> Self {
        let theme = v1.theme.unwrap_or_else(|| "light".to_owned());
        Prefs {
            themes: [("home", &theme), ("shop", &theme)]
                .into_iter()
                .map(|(part, theme)| (part.to_owned(), theme.clone()))
                .collect(),
        }
    }
}

/// A JSON object written with its keys in the given order, as a map type
/// without a fixed order (a `HashMap`) is in another process.
struct InOrder(Vec<(&'static str, &'static str)>);

impl Serialize for InOrder {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

// ---------------------------------------------------------------- handlers

/// Holds a request between its read and the end of its handler.
#[derive(Default)]
struct Gate {
    read: Notify,
    go: Notify,
}

/// The gates of the held requests, by trial number, shared by every
/// instance.
#[derive(Clone, Default)]
struct Gates(Arc<Mutex<HashMap<u32, Arc<Gate>>>>);

impl Gates {
    fn open(&self, trial: u32) -> Arc<Gate> {
        let gate = Arc::new(Gate::default());
        self.0
            .lock()
            .expect("gates")
            .insert(trial, Arc::clone(&gate));
        gate
    }

    /// Tells the test the request has read, and waits for its go.
    async fn hold(&self, trial: u32) {
        let gate = self.0.lock().expect("gates").get(&trial).cloned();
        if let Some(gate) = gate {
            gate.read.notify_one();
            gate.go.notified().await;
        }
    }
}

async fn seed(page: PageSession, prefs: PrefsV1Session) -> Result<(), SessionError> {
    page.set_offer("ten percent off".to_owned()).await?;
    page.set_notice("welcome".to_owned()).await?;
    prefs.set_theme("dark".to_owned()).await
}

/// Only reads: the offer (which may have expired) and the preferences
/// (which may be stored by the earlier release).
async fn look(
    page: PageSession,
    prefs: PrefsSession,
    State(gates): State<Gates>,
    Path(trial): Path<u32>,
) -> Result<String, SessionError> {
    let offer = page.offer().await?.unwrap_or_default();
    let themes = prefs.themes().await?;
    gates.hold(trial).await;
    Ok(format!("{offer}|{}", themes.len()))
}

async fn take_notice(
    page: PageSession,
    State(gates): State<Gates>,
    Path(trial): Path<u32>,
) -> Result<String, SessionError> {
    let notice = page.take_notice().await?.unwrap_or_default();
    gates.hold(trial).await;
    Ok(notice)
}

async fn count_visit(
    page: PageSession,
    State(gates): State<Gates>,
    Path(trial): Path<u32>,
) -> Result<String, SessionError> {
    let visits = page.visits().await?;
    gates.hold(trial).await;
    page.set_visits(visits + 1).await?;
    Ok((visits + 1).to_string())
}

fn routes(gates: Gates) -> Router {
    Router::new()
        .route("/seed", post(seed))
        .route("/look/{trial}", get(look))
        .route("/notice/{trial}", get(take_notice))
        .route("/visit/{trial}", post(count_visit))
        .with_state(gates)
}

// ---------------------------------------------------------------- cases

/// Two instances over two handles of one store.
struct Instances<S> {
    label: String,
    apps: [Router; 2],
    stores: [S; 2],
    gates: Gates,
    clock: ManualClock,
}

impl<S: CasStore + Clone> Instances<S> {
    fn new(label: &str, stores: [S; 2]) -> Self {
        let gates = Gates::default();
        let clock = ManualClock::starting_at_unix(1_700_000_000);
        let apps = stores.clone().map(|store| {
            let layer = SessionLayer::builder(store)
                .with_secure(false)
                .build()
                .expect("valid settings");
            routes(gates.clone())
                .layer(layer)
                .layer(Extension(Clock::from(clock.clone())))
        });
        Instances {
            label: label.to_owned(),
            apps,
            stores,
            gates,
            clock,
        }
    }

    /// A browser with a seeded session, on the first instance.
    async fn seeded(&self) -> Browser {
        let mut browser = Browser::new(&self.apps[0]);
        let reply = browser.send("POST", "/seed").await;
        assert_eq!(reply.status, StatusCode::OK, "{}: seed", self.label);
        browser
    }

    /// Sends `method uri` from `browser`'s cookie to `instance`, and
    /// returns once the handler has read the session; `release` lets it
    /// finish.
    async fn hold(
        &self,
        browser: &Browser,
        instance: usize,
        method: &'static str,
        uri: String,
        trial: u32,
    ) -> Held {
        let gate = self.gates.open(trial);
        let mut client = Browser {
            app: self.apps[instance].clone(),
            cookie: browser.cookie.clone(),
        };
        let reply = tokio::spawn(async move {
            let reply = client.send(method, &uri).await;
            (reply.status, reply.body)
        });
        gate.read.notified().await;
        Held { gate, reply }
    }

    /// The stored record of `browser`'s session, and its revision.
    async fn stored(&self, browser: &Browser) -> (Record, Revision) {
        let id = session_id(browser);
        match self.stores[0].load(&id).await.expect("load") {
            Loaded::Live { record, revision } => (record, revision),
            other => panic!("{}: the session is not live: {other:?}", self.label),
        }
    }

    /// Saves `browser`'s session with `change` applied, as another process
    /// would.
    async fn write_as_another_process(&self, browser: &Browser, change: impl FnOnce(&mut Data)) {
        let (mut record, revision) = self.stored(browser).await;
        change(&mut record.data);
        let written = self.stores[1].save(&record, revision).await.expect("save");
        assert!(matches!(written, Written::Done(_)), "{}", self.label);
    }
}

/// A request held after its read.
struct Held {
    gate: Arc<Gate>,
    reply: tokio::task::JoinHandle<(StatusCode, String)>,
}

impl Held {
    async fn release(self) -> (StatusCode, String) {
        self.gate.go.notify_one();
        self.reply.await.expect("the request task")
    }
}

fn session_id(browser: &Browser) -> SessionId {
    let cookie = browser.cookie.as_deref().expect("a session cookie");
    let value = cookie.strip_prefix("id=").expect("the `id` cookie");
    value.parse().expect("a session id")
}

/// Two read-only requests on two instances that both remove the same
/// expired value and both migrate the same older data: both answer `200`,
/// and the store holds the result once.
async fn reads_that_tidy_alike_both_succeed<S: CasStore + Clone>(instances: &Instances<S>) {
    let label = &instances.label;
    let browser = instances.seeded().await;
    instances.clock.advance(Duration::minutes(2));

    let first = instances
        .hold(&browser, 0, "GET", "/look/1".to_owned(), 1)
        .await;
    let second = instances
        .hold(&browser, 1, "GET", "/look/2".to_owned(), 2)
        .await;
    assert_eq!(
        first.release().await,
        (StatusCode::OK, "|2".to_owned()),
        "{label}: the first read"
    );
    assert_eq!(
        second.release().await,
        (StatusCode::OK, "|2".to_owned()),
        "{label}: the second read removed and migrated the same way, which is no conflict"
    );

    let (record, _) = instances.stored(&browser).await;
    assert!(
        record.data.get("page.offer").is_none(),
        "{label}: the offer is gone"
    );
    assert!(
        record.data.get("prefs.theme").is_none(),
        "{label}: the old key is gone"
    );
    assert_eq!(
        record.data.get("prefs.__version").map(StoredValue::json),
        Some("2"),
        "{label}"
    );
    assert_eq!(
        record.data.get("prefs.themes").map(StoredValue::json),
        Some(r#"{"home":"dark","shop":"dark"}"#),
        "{label}"
    );
    assert!(
        record.data.get("page.notice").is_some(),
        "{label}: the flash is untouched"
    );
}

/// The same migration saved first by another process whose JSON lists the
/// keys in another order: the same value, so the request merges.
async fn a_migration_saved_in_another_key_order_merges<S: CasStore + Clone>(
    instances: &Instances<S>,
) {
    let label = &instances.label;
    let browser = instances.seeded().await;
    let held = instances
        .hold(&browser, 1, "GET", "/look/3".to_owned(), 3)
        .await;
    let reordered =
        StoredValue::encode(&InOrder(vec![("shop", "dark"), ("home", "dark")])).expect("JSON");
    assert_ne!(
        reordered.json(),
        r#"{"home":"dark","shop":"dark"}"#,
        "the other process writes other text"
    );
    instances
        .write_as_another_process(&browser, |data| {
            data.remove("prefs.theme");
            data.insert("prefs.themes", reordered);
            data.insert("prefs.__version", StoredValue::from_value(&2.into()));
        })
        .await;
    assert_eq!(
        held.release().await,
        (StatusCode::OK, "ten percent off|2".to_owned()),
        "{label}: an equal JSON value in another key order is no conflict"
    );
    let (record, _) = instances.stored(&browser).await;
    let themes = record.data.get("prefs.themes").expect("themes");
    assert_eq!(
        themes.to_value().expect("JSON"),
        serde_json::json!({"home": "dark", "shop": "dark"}),
        "{label}"
    );
}

/// Another process saved a different value under a key the migration
/// writes: a conflict, and the other value stands.
async fn a_different_value_on_the_same_key_conflicts<S: CasStore + Clone>(
    instances: &Instances<S>,
) {
    let label = &instances.label;
    let browser = instances.seeded().await;
    let held = instances
        .hold(&browser, 1, "GET", "/look/4".to_owned(), 4)
        .await;
    instances
        .write_as_another_process(&browser, |data| {
            data.remove("prefs.theme");
            data.insert(
                "prefs.themes",
                StoredValue::from_value(&serde_json::json!({"home": "light"})),
            );
            data.insert("prefs.__version", StoredValue::from_value(&2.into()));
        })
        .await;
    let (status, _) = held.release().await;
    assert_eq!(status, StatusCode::CONFLICT, "{label}");
    let (record, _) = instances.stored(&browser).await;
    assert_eq!(
        record.data.get("prefs.themes").map(StoredValue::json),
        Some(r#"{"home":"light"}"#),
        "{label}: the other process's value stands"
    );
}

/// Two handlers' own changes to one key conflict even when they agree:
/// two visits counted from the same number, two takes of one flash.
async fn handlers_that_agree_still_conflict<S: CasStore + Clone>(instances: &Instances<S>) {
    let label = &instances.label;
    let browser = instances.seeded().await;

    let first = instances
        .hold(&browser, 0, "POST", "/visit/5".to_owned(), 5)
        .await;
    let second = instances
        .hold(&browser, 1, "POST", "/visit/6".to_owned(), 6)
        .await;
    assert_eq!(
        first.release().await,
        (StatusCode::OK, "1".to_owned()),
        "{label}"
    );
    let (status, _) = second.release().await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "{label}: the second visit would be lost"
    );

    let first = instances
        .hold(&browser, 0, "GET", "/notice/7".to_owned(), 7)
        .await;
    let second = instances
        .hold(&browser, 1, "GET", "/notice/8".to_owned(), 8)
        .await;
    assert_eq!(
        first.release().await,
        (StatusCode::OK, "welcome".to_owned()),
        "{label}"
    );
    let (status, _) = second.release().await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "{label}: a flash is read once"
    );
}

async fn every_case<S: CasStore + Clone>(label: &str, stores: [S; 2]) {
    let instances = Instances::new(label, stores);
    reads_that_tidy_alike_both_succeed(&instances).await;
    a_migration_saved_in_another_key_order_merges(&instances).await;
    a_different_value_on_the_same_key_conflicts(&instances).await;
    handlers_that_agree_still_conflict(&instances).await;
}

// ---------------------------------------------------------------- stores

async fn memory() {
    let store = CasMemoryStore::new();
    every_case("CasMemoryStore", [store.clone(), store]).await;
}

/// Two instances are two pools on one database file.
async fn sqlite() {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{}.sqlite", unique_name("same_change")));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut stores = Vec::new();
    for _ in 0..2 {
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect(&url)
            .await
            .expect("SQLite file");
        stores.push(SqliteCasStore::new(pool));
    }
    stores[0].migrate().await.expect("create the table");
    let stores = <[SqliteCasStore; 2]>::try_from(stores).expect("two stores");
    every_case("SqliteCasStore", stores).await;
    std::fs::remove_file(&path).expect("remove the database file");
}

async fn postgres() {
    let url = Need::Postgres.url();
    let table = unique_name("same_change");
    let mut stores = Vec::new();
    for _ in 0..2 {
        let pool = PgPoolOptions::new()
            .max_connections(2)
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
    let stores = <[PostgresCasStore; 2]>::try_from(stores).expect("two stores");
    every_case("PostgresCasStore", stores).await;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .expect("PostgreSQL");
    sqlx::query(&format!(r#"drop table "{table}""#))
        .execute(&pool)
        .await
        .expect("drop the test table");
}

/// Two instances are two connection pools.
async fn redis() {
    let url = Need::Redis.url();
    let prefix = format!("{}:", unique_name("same_change"));
    let mut pools = Vec::new();
    for _ in 0..2 {
        let config = Config::from_url(&url).expect("a valid REDIS_URL");
        let pool = Pool::new(config, None, None, None, 2).expect("a Redis pool");
        pool.init().await.unwrap_or_else(|error| {
            panic!("REDIS_URL is set but Redis is unreachable at {url}: {error}")
        });
        pools.push(pool);
    }
    let stores = pools
        .iter()
        .map(|pool| RedisCasStore::new(pool.clone()).with_key_prefix(&prefix))
        .collect::<Vec<_>>();
    let stores = <[RedisCasStore; 2]>::try_from(stores).expect("two stores");
    every_case("RedisCasStore", stores).await;
    let mut cursor = "0".to_owned();
    loop {
        let (next, keys): (String, Vec<String>) = pools[0]
            .scan_page(cursor, format!("{prefix}*"), Some(1000), None)
            .await
            .expect("SCAN");
        if !keys.is_empty() {
            let _: i64 = pools[0].del(keys).await.expect("DEL");
        }
        if next == "0" {
            break;
        }
        cursor = next;
    }
}

fn main() {
    support::harness::run(vec![
        tokio_test_threads("memory", 2, memory),
        tokio_test_threads("sqlite", 2, sqlite),
        tokio_test_threads("postgres", 2, postgres).needs(Need::Postgres),
        tokio_test_threads("redis", 2, redis).needs(Need::Redis),
    ]);
}
