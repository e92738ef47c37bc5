//! One behaviour suite over every store: everything the typed layer promises
//! must hold the same on memory, SQLite, PostgreSQL, MySQL/MariaDB and Redis,
//! over real connections.
//!
//! The same suite runs over cookie sessions (`CookieSessionLayer`), where
//! the whole session travels in an encrypted cookie; the cases that need a
//! record on the server say so when they run.
//!
//! The stores of real services are configured by `DATABASE_URL`, `MYSQL_URL`
//! and `REDIS_URL` (the standard loopback ports by default). A test whose
//! service is unreachable is reported as ignored, with the address it tried;
//! under CI it fails instead (see `support/harness.rs`).

use std::collections::BTreeMap;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use session_core::layer::cookie::{CookieKeys, CookieSessionLayer};
use session_core::time::{Duration, OffsetDateTime};
use session_core::{Clock, ManualClock, SessionError, SessionSchema};
use tower_sessions::session::{Id, Record};
use tower_sessions::{
    ExpiredDeletion, Expiry, MemoryStore, Session, SessionManagerLayer, SessionStore,
};
use tower_sessions_redis_store::RedisStore;
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, KeysInterface, Pool};
use tower_sessions_sqlx_store::sqlx::MySqlPool;
use tower_sessions_sqlx_store::sqlx::mysql::MySqlPoolOptions;
use tower_sessions_sqlx_store::sqlx::postgres::PgPoolOptions;
use tower_sessions_sqlx_store::sqlx::sqlite::SqlitePoolOptions;
use tower_sessions_sqlx_store::{MySqlStore, PostgresStore, SqliteStore};
use uuid::Uuid;

// ---------------------------------------------------------------- schemas

/// What an earlier release stored.
#[derive(SessionSchema)]
#[session(namespace = "suite", version = 1)]
struct SuiteV1 {
    #[session(default)]
    count: u32,
    user: Option<String>,
}

#[derive(SessionSchema, Serialize, Deserialize, Debug, PartialEq, Clone)]
#[session(namespace = "suite", version = 2, migrate_from = SuiteV1)]
struct Suite {
    #[session(default)]
    counter: u64,
    #[session(rotate_id)]
    user_id: Option<u64>,
    #[session(expires_in = "10m", sensitive)]
    token: Option<String>,
    #[session(flash)]
    notice: Option<String>,
    #[session(default = String::from("en"))]
    locale: String,
}

impl TryFrom<SuiteV1> for Suite {
    type Error = String;

    fn try_from(v1: SuiteV1) -> Result<Self, String> {
        let user_id = v1
            .user
            .map(|name| {
                name.parse::<u64>()
                    .map_err(|_| format!("`{name}` is not a user id"))
            })
            .transpose()?;
        Ok(Suite {
            counter: v1.count.into(),
            user_id,
            token: None,
            notice: None,
            locale: "en".into(),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum External {
    Unit,
    Newtype(i32),
    Tuple(u8, String),
    Struct { a: bool },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
enum Internal {
    Plain { x: u16 },
    Other { y: Vec<u8> },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", content = "c")]
enum Adjacent {
    One(u8),
    Two { z: char },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum Untagged {
    Number(i64),
    Text(String),
}

/// Values at the edges of what JSON and MessagePack represent.
#[derive(SessionSchema, Debug, PartialEq)]
#[session(namespace = "values")]
struct Values {
    big: Option<u64>,
    small: Option<i64>,
    floats: Option<Vec<f64>>,
    external: Option<Vec<External>>,
    internal: Option<Vec<Internal>>,
    adjacent: Option<Vec<Adjacent>>,
    untagged: Option<Vec<Untagged>>,
    bytes: Option<Vec<u8>>,
    when: Option<OffsetDateTime>,
    uuid: Option<Uuid>,
    map: Option<BTreeMap<String, Vec<u32>>>,
    pair_keys: Option<BTreeMap<(u8, u8), u32>>,
}

fn edge_values() -> Values {
    Values {
        big: Some(u64::MAX),
        small: Some(i64::MIN),
        floats: Some(vec![
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            f64::EPSILON,
            -0.0,
            0.1 + 0.2,
            1e-300,
        ]),
        external: Some(vec![
            External::Unit,
            External::Newtype(-7),
            External::Tuple(255, "é".into()),
            External::Struct { a: true },
        ]),
        internal: Some(vec![
            Internal::Plain { x: 65_535 },
            Internal::Other { y: vec![0, 255] },
        ]),
        adjacent: Some(vec![Adjacent::One(1), Adjacent::Two { z: '🦀' }]),
        untagged: Some(vec![
            Untagged::Number(i64::MAX),
            Untagged::Text("12".into()),
        ]),
        bytes: Some((0..=255).collect()),
        when: Some(
            OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789)
                .expect("a valid time"),
        ),
        uuid: Some(Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef)),
        map: Some(BTreeMap::from([
            (String::new(), vec![]),
            ("key with spaces".into(), vec![u32::MAX]),
        ])),
        pair_keys: None,
    }
}

// ---------------------------------------------------------------- the app

async fn state(suite: SuiteSession) -> Result<Json<Suite>, SessionError> {
    Ok(Json(suite.load().await?))
}

async fn count(suite: SuiteSession) -> Result<String, SessionError> {
    Ok(suite
        .update_counter(|n| {
            *n += 1;
            *n
        })
        .await?
        .to_string())
}

async fn login(suite: SuiteSession, Path(id): Path<u64>) -> Result<(), SessionError> {
    suite.set_user_id(id).await
}

async fn logout(suite: SuiteSession) -> Result<(), SessionError> {
    suite.flush().await
}

async fn issue_token(suite: SuiteSession) -> Result<(), SessionError> {
    suite.set_token("token".into()).await
}

async fn flash(suite: SuiteSession, Path(text): Path<String>) -> Result<(), SessionError> {
    suite.set_notice(text).await
}

async fn take_flash(suite: SuiteSession) -> Result<String, SessionError> {
    Ok(suite.take_notice().await?.unwrap_or_default())
}

async fn set_locale(suite: SuiteSession, Path(locale): Path<String>) -> Result<(), SessionError> {
    suite.set_locale(locale).await
}

async fn reset_locale(suite: SuiteSession) -> Result<(), SessionError> {
    suite.remove_locale().await
}

async fn save(suite: SuiteSession, Json(whole): Json<Suite>) -> Result<(), SessionError> {
    suite.save(&whole).await
}

async fn clear(suite: SuiteSession) -> Result<(), SessionError> {
    suite.clear().await
}

/// Writes data as the previous release did, without a version key.
async fn write_v1(old: SuiteV1Session, session: Session) -> Result<(), SessionError> {
    old.set_count(41).await?;
    old.set_user("7".into()).await?;
    session
        .remove_value("suite.__version")
        .await
        .map_err(session_core::StoreError::from)?;
    Ok(())
}

async fn corrupt(session: Session) -> Result<(), SessionError> {
    session
        .insert_value("suite.counter", "many".into())
        .await
        .map_err(session_core::StoreError::from)?;
    Ok(())
}

async fn expire_session(session: Session) -> Result<(), SessionError> {
    session
        .insert_value("keep", true.into())
        .await
        .map_err(session_core::StoreError::from)?;
    session.set_expiry(Some(Expiry::AtDateTime(
        OffsetDateTime::now_utc() - Duration::seconds(1),
    )));
    Ok(())
}

async fn write_values(values: ValuesSession) -> Result<(), SessionError> {
    values.save(&edge_values()).await
}

async fn check_values(values: ValuesSession) -> Result<String, SessionError> {
    let loaded = values.load().await?;
    Ok(if loaded == edge_values() {
        "same".into()
    } else {
        format!("{loaded:?}")
    })
}

async fn unencodable(values: ValuesSession) -> String {
    match values.set_pair_keys(BTreeMap::from([((1, 2), 3)])).await {
        Err(SessionError::Encode { key, .. }) => format!("encode error at {key}"),
        other => format!("{other:?}"),
    }
}

/// The suite's routes, without a session layer.
fn routes() -> Router {
    Router::new()
        .route("/state", get(state))
        .route("/count", post(count))
        .route("/login/{id}", post(login))
        .route("/logout", post(logout))
        .route("/token", post(issue_token))
        .route("/flash/{text}", post(flash))
        .route("/flash", get(take_flash))
        .route("/locale/{locale}", post(set_locale))
        .route("/locale", axum::routing::delete(reset_locale))
        .route("/save", post(save))
        .route("/clear", post(clear))
        .route("/v1", post(write_v1))
        .route("/corrupt", post(corrupt))
        .route("/expire-session", post(expire_session))
        .route("/values", post(write_values).get(check_values))
        .route("/unencodable", post(unencodable))
}

fn app<S: SessionStore + Clone>(store: S, clock: &ManualClock) -> Router {
    routes()
        .layer(SessionManagerLayer::new(store).with_secure(false))
        .layer(Extension(Clock::from(clock.clone())))
}

/// The suite's routes with the whole session in an encrypted cookie. The
/// layer reads the suite's clock from the request, as the typed handles do.
fn cookie_app(clock: &ManualClock) -> Router {
    let keys = CookieKeys::new([[0x42_u8; 32]]).expect("a valid key");
    let sessions = CookieSessionLayer::builder(keys)
        .with_secure(false)
        .build()
        .expect("valid settings");
    routes()
        .layer(sessions)
        .layer(Extension(Clock::from(clock.clone())))
}

/// Where the suite's sessions live, for the cases that depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backing {
    /// A store on the server; the cookie holds an id.
    Server,
    /// The cookie holds the session itself (`CookieSessionLayer`).
    Cookie,
}

mod support;

use support::Browser;
use support::env::unique_name;
use support::harness::{Need, tokio_test};

/// Reads the whole session through the `/state` route.
async fn state_of(browser: &mut Browser) -> Suite {
    let reply = browser.send("GET", "/state").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    serde_json::from_str(&reply.body).expect("the state is JSON")
}

fn fresh() -> Suite {
    Suite {
        counter: 0,
        user_id: None,
        token: None,
        notice: None,
        locale: "en".into(),
    }
}

const START: i64 = 1_700_000_000;

// ---------------------------------------------------------------- the suite

/// Runs every case over one store; `label` names the store in failures.
async fn behaviour_suite<S: SessionStore + Clone>(store: S, label: &str) {
    let clock = ManualClock::starting_at_unix(START);
    run_suite(&app(store, &clock), &clock, Backing::Server, label).await;
}

/// Runs every case over `app`, whose typed handles read `clock`.
async fn run_suite(app: &Router, clock: &ManualClock, backing: Backing, label: &str) {
    typed_values_survive_requests(app, label).await;
    load_save_and_clear(app, label).await;
    per_field_expiry(app, clock, label).await;
    flashes_are_read_once(app, label).await;
    rotate_id_kills_the_old_id(app, backing, label).await;
    old_data_migrates(app, label).await;
    bad_data_is_an_error_not_a_panic(app, label).await;
    match backing {
        Backing::Server => whole_session_expiry(app, label).await,
        Backing::Cookie => println!(
            "{label}: skipped whole_session_expiry: `Session::set_expiry` does not end a cookie \
             session, the layer's idle and absolute deadlines do (cookie_sessions.rs tests them \
             with a controlled clock, replayed cookies included)"
        ),
    }
    logout_deletes_the_record(app, backing, label).await;
    edge_values_round_trip(app, label).await;
    println!("{label}: the behaviour suite passed");
}

async fn typed_values_survive_requests(app: &Router, label: &str) {
    let mut browser = Browser::new(app);
    assert_eq!(state_of(&mut browser).await, fresh(), "{label}: defaults");
    assert!(
        browser.cookie.is_none(),
        "{label}: reading creates no session"
    );
    assert_eq!(browser.send("POST", "/count").await.body, "1", "{label}");
    assert_eq!(
        browser.send("POST", "/count").await.body,
        "2",
        "{label}: update sees the stored value"
    );
    browser.send("POST", "/locale/fr").await;
    assert_eq!(state_of(&mut browser).await.locale, "fr", "{label}: set");
    browser.send("DELETE", "/locale").await;
    assert_eq!(
        state_of(&mut browser).await.locale,
        "en",
        "{label}: remove brings the default back"
    );
    assert_eq!(state_of(&mut browser).await.counter, 2, "{label}");
}

async fn load_save_and_clear(app: &Router, label: &str) {
    let mut browser = Browser::new(app);
    let whole = Suite {
        counter: 9,
        user_id: Some(3),
        token: None,
        notice: Some("hi".into()),
        locale: "de".into(),
    };
    let reply = browser
        .json(
            "POST",
            "/save",
            serde_json::to_string(&whole).expect("JSON"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{label}: {}", reply.body);
    assert_eq!(
        state_of(&mut browser).await,
        whole,
        "{label}: save then load"
    );
    browser.send("POST", "/clear").await;
    assert_eq!(state_of(&mut browser).await, fresh(), "{label}: clear");
}

async fn per_field_expiry(app: &Router, clock: &ManualClock, label: &str) {
    let mut browser = Browser::new(app);
    clock.set(OffsetDateTime::from_unix_timestamp(START).expect("valid"));
    browser.send("POST", "/token").await;
    clock.advance(Duration::seconds(599));
    assert_eq!(
        state_of(&mut browser).await.token.as_deref(),
        Some("token"),
        "{label}: one second before the deadline"
    );
    clock.advance(Duration::seconds(1));
    assert_eq!(
        state_of(&mut browser).await.token,
        None,
        "{label}: at the deadline"
    );
}

async fn flashes_are_read_once(app: &Router, label: &str) {
    let mut browser = Browser::new(app);
    browser.send("POST", "/flash/saved").await;
    assert_eq!(browser.send("GET", "/flash").await.body, "saved", "{label}");
    assert_eq!(
        browser.send("GET", "/flash").await.body,
        "",
        "{label}: read once"
    );
}

async fn rotate_id_kills_the_old_id(app: &Router, backing: Backing, label: &str) {
    let mut browser = Browser::new(app);
    browser.send("POST", "/count").await;
    let before = browser.cookie.clone().expect("a session cookie");
    browser.send("POST", "/login/42").await;
    let after = browser.cookie.clone().expect("a session cookie");
    assert_ne!(before, after, "{label}: login cycles the id");
    let mut attacker = Browser::new(app);
    attacker.cookie = Some(before);
    match backing {
        Backing::Server => assert_eq!(
            state_of(&mut attacker).await,
            fresh(),
            "{label}: the pre-login id is dead"
        ),
        Backing::Cookie => {
            let planted = state_of(&mut attacker).await;
            assert_eq!(
                (planted.user_id, planted.counter),
                (None, 1),
                "{label}: the pre-login cookie never carries the login"
            );
            println!(
                "{label}: instead of `the pre-login id is dead`: a pre-login cookie still holds \
                 the pre-login session (a cookie cannot be deleted by the server), never the login"
            );
        }
    }
    let state = state_of(&mut browser).await;
    assert_eq!(
        (state.user_id, state.counter),
        (Some(42), 1),
        "{label}: data kept across the rotation"
    );
}

async fn old_data_migrates(app: &Router, label: &str) {
    let mut browser = Browser::new(app);
    assert_eq!(
        browser.send("POST", "/v1").await.status,
        StatusCode::OK,
        "{label}"
    );
    let state = state_of(&mut browser).await;
    assert_eq!(
        (state.counter, state.user_id),
        (41, Some(7)),
        "{label}: v1 data read as v2"
    );
}

async fn bad_data_is_an_error_not_a_panic(app: &Router, label: &str) {
    let mut browser = Browser::new(app);
    browser.send("POST", "/count").await;
    browser.send("POST", "/corrupt").await;
    let reply = browser.send("GET", "/state").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{label}");
    assert!(
        !reply.body.contains("suite.counter"),
        "{label}: no details for the client"
    );
}

async fn whole_session_expiry(app: &Router, label: &str) {
    let mut browser = Browser::new(app);
    let expired_cookie = {
        browser.send("POST", "/count").await;
        let cookie = browser.cookie.clone();
        browser.send("POST", "/expire-session").await;
        cookie
    };
    let mut stale = Browser::new(app);
    stale.cookie = expired_cookie;
    assert_eq!(
        state_of(&mut stale).await,
        fresh(),
        "{label}: an expired record is not loaded"
    );
}

async fn logout_deletes_the_record(app: &Router, backing: Backing, label: &str) {
    let mut browser = Browser::new(app);
    browser.send("POST", "/login/5").await;
    let logged_in = browser.cookie.clone();
    let reply = browser.send("POST", "/logout").await;
    assert!(
        reply.set_cookie.is_some(),
        "{label}: logout removes the cookie"
    );
    let mut stale = Browser::new(app);
    stale.cookie = logged_in;
    match backing {
        Backing::Server => assert_eq!(
            state_of(&mut stale).await,
            fresh(),
            "{label}: the logged-out id is dead"
        ),
        Backing::Cookie => {
            assert_eq!(
                state_of(&mut stale).await.user_id,
                Some(5),
                "{label}: as documented, a copy of a logged-out cookie lives to its deadline"
            );
            println!(
                "{label}: skipped `the logged-out id is dead`: there is no record to delete, so a \
                 copy of the cookie stays valid until its deadline unless the app opts into a \
                 revocation check (cookie_sessions.rs tests it)"
            );
        }
    }
}

async fn edge_values_round_trip(app: &Router, label: &str) {
    let mut browser = Browser::new(app);
    let reply = browser.send("POST", "/values").await;
    assert_eq!(reply.status, StatusCode::OK, "{label}: {}", reply.body);
    let reply = browser.send("GET", "/values").await;
    assert_eq!(
        reply.body, "same",
        "{label}: every edge value survives the store"
    );
    let reply = browser.send("POST", "/unencodable").await;
    assert_eq!(reply.body, "encode error at values.pair_keys", "{label}");
}

// ---------------------------------------------------------------- the stores

async fn memory_store() {
    behaviour_suite(MemoryStore::default(), "MemoryStore").await;
}

async fn cookie_sessions() {
    let clock = ManualClock::starting_at_unix(START);
    run_suite(
        &cookie_app(&clock),
        &clock,
        Backing::Cookie,
        "cookie sessions",
    )
    .await;
}

async fn sqlite_in_memory() {
    behaviour_suite(support::sqlite_in_memory().await, "SQLite in memory").await;
}

// ANCHOR: sqlite
async fn sqlite_in_a_file() {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{}.sqlite", unique_name("sessions")));
    let pool = SqlitePoolOptions::new()
        .connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .expect("SQLite file");
    let store = SqliteStore::new(pool.clone());
    store.migrate().await.expect("create the table");
    behaviour_suite(store, "SQLite file").await;
    pool.close().await;
    std::fs::remove_file(&path).expect("remove the database file");
}
// ANCHOR_END: sqlite

// ANCHOR: postgres
async fn postgres_store(url: &str) -> (PostgresStore, String) {
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(url)
        .await
        .unwrap_or_else(|error| {
            panic!("DATABASE_URL is set but PostgreSQL is unreachable at {url}: {error}")
        });
    let table = unique_name("session");
    let store = PostgresStore::new(pool)
        .with_table_name(&table)
        .expect("a valid table name");
    store.migrate().await.expect("create the table");
    (store, table)
}
// ANCHOR_END: postgres

async fn postgres() {
    let url = Need::Postgres.url();
    let (store, table) = postgres_store(&url).await;
    behaviour_suite(store, "PostgreSQL").await;
    drop_table_pg(&url, &table).await;
}

async fn drop_table_pg(url: &str, table: &str) {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .expect("PostgreSQL");
    tower_sessions_sqlx_store::sqlx::query(&format!(
        r#"drop table if exists "tower_sessions"."{table}""#
    ))
    .execute(&pool)
    .await
    .expect("drop the test table");
}

async fn mysql_store(url: &str) -> (MySqlStore, MySqlPool, String) {
    let pool = MySqlPoolOptions::new()
        .max_connections(4)
        .connect(url)
        .await
        .unwrap_or_else(|error| {
            panic!("MYSQL_URL is set but MySQL/MariaDB is unreachable at {url}: {error}")
        });
    let table = unique_name("session");
    let store = MySqlStore::new(pool.clone())
        .with_table_name(&table)
        .expect("a valid table name");
    store.migrate().await.expect("create the table");
    (store, pool, table)
}

async fn drop_table_mysql(pool: &MySqlPool, table: &str) {
    tower_sessions_sqlx_store::sqlx::query(&format!(
        "drop table if exists `tower_sessions`.`{table}`"
    ))
    .execute(pool)
    .await
    .expect("drop the test table");
}

async fn mysql() {
    let url = Need::MariaDb.url();
    let (store, pool, table) = mysql_store(&url).await;
    behaviour_suite(store, "MySQL").await;
    drop_table_mysql(&pool, &table).await;
}

// ANCHOR: redis
async fn redis_store(url: &str) -> RedisStore<Pool> {
    let config = Config::from_url(url).expect("a valid REDIS_URL");
    let pool = Pool::new(config, None, None, None, 2).expect("a Redis pool");
    pool.init().await.unwrap_or_else(|error| {
        panic!("REDIS_URL is set but Redis is unreachable at {url}: {error}")
    });
    RedisStore::new(pool)
}
// ANCHOR_END: redis

async fn redis() {
    let url = Need::Redis.url();
    behaviour_suite(redis_store(&url).await, "Redis").await;
}

// ANCHOR: instances
/// Two instances of the app, each with its own connections, sharing one store.
async fn two_instances_share_sessions(first: Router, second: Router, label: &str) {
    let mut browser = Browser::new(&first);
    browser.send("POST", "/count").await;
    browser.app = second;
    assert_eq!(
        browser.send("POST", "/count").await.body,
        "2",
        "{label}: the second instance sees the first's session"
    );
    browser.send("POST", "/locale/fr").await;
    browser.app = first;
    let state = state_of(&mut browser).await;
    assert_eq!(
        (state.counter, state.locale.as_str()),
        (2, "fr"),
        "{label}: and the first sees the second's change"
    );
    println!("{label}: two instances share sessions");
}
// ANCHOR_END: instances

async fn two_instances_on_redis() {
    let url = Need::Redis.url();
    let clock = ManualClock::starting_at_unix(START);
    let first = app(redis_store(&url).await, &clock);
    let second = app(redis_store(&url).await, &clock);
    two_instances_share_sessions(first, second, "Redis").await;
}

/// Two instances configured with one key read each other's cookies: there
/// is nothing else to share.
async fn two_instances_with_one_cookie_key() {
    let clock = ManualClock::starting_at_unix(START);
    two_instances_share_sessions(cookie_app(&clock), cookie_app(&clock), "cookie sessions").await;
}

async fn two_instances_on_postgres() {
    let url = Need::Postgres.url();
    let clock = ManualClock::starting_at_unix(START);
    let (first_store, table) = postgres_store(&url).await;
    let second_pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .expect("PostgreSQL");
    let second_store = PostgresStore::new(second_pool)
        .with_table_name(&table)
        .expect("a valid table name");
    two_instances_share_sessions(
        app(first_store, &clock),
        app(second_store, &clock),
        "PostgreSQL",
    )
    .await;
    drop_table_pg(&url, &table).await;
}

// ---------------------------------------------------------------- expired records

/// A record with one value whose whole-session expiry is `from_now` away.
async fn stored_record(store: &impl SessionStore, from_now: Duration) -> Id {
    let mut record = Record {
        id: Id::default(),
        data: [("suite.count".to_owned(), serde_json::json!(1))].into(),
        expiry_date: OffsetDateTime::now_utc() + from_now,
    };
    store.create(&mut record).await.expect("create a record");
    record.id
}

// ANCHOR: expired
/// `ExpiredDeletion` removes the rows of expired sessions and keeps the rest.
async fn expired_rows_are_deleted<S: SessionStore + ExpiredDeletion>(
    store: &S,
    count_rows: impl AsyncFn() -> i64,
    label: &str,
) {
    let live = stored_record(store, Duration::hours(1)).await;
    stored_record(store, -Duration::hours(1)).await;
    assert_eq!(count_rows().await, 2, "{label}: both rows are stored");
    store.delete_expired().await.expect("delete expired rows");
    assert_eq!(count_rows().await, 1, "{label}: the expired row is gone");
    assert!(
        store.load(&live).await.expect("load").is_some(),
        "{label}: the live session is kept"
    );
    println!("{label}: delete_expired removed 1 expired row and kept 1 live row");
}
// ANCHOR_END: expired

async fn sqlite_deletes_expired_rows() {
    let pool = support::sqlite_memory_pool().await;
    let store = SqliteStore::new(pool.clone());
    store.migrate().await.expect("create the table");
    let count_rows = async || -> i64 {
        tower_sessions_sqlx_store::sqlx::query_scalar("select count(*) from tower_sessions")
            .fetch_one(&pool)
            .await
            .expect("count rows")
    };
    expired_rows_are_deleted(&store, count_rows, "SQLite").await;
}

async fn postgres_deletes_expired_rows() {
    let url = Need::Postgres.url();
    let (store, table) = postgres_store(&url).await;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .expect("PostgreSQL");
    let count_rows = async || -> i64 {
        tower_sessions_sqlx_store::sqlx::query_scalar(&format!(
            r#"select count(*) from "tower_sessions"."{table}""#
        ))
        .fetch_one(&pool)
        .await
        .expect("count rows")
    };
    expired_rows_are_deleted(&store, count_rows, "PostgreSQL").await;
    drop_table_pg(&url, &table).await;
}

async fn mysql_deletes_expired_rows() {
    let url = Need::MariaDb.url();
    let (store, pool, table) = mysql_store(&url).await;
    let count_rows = async || -> i64 {
        tower_sessions_sqlx_store::sqlx::query_scalar(&format!(
            "select count(*) from `tower_sessions`.`{table}`"
        ))
        .fetch_one(&pool)
        .await
        .expect("count rows")
    };
    expired_rows_are_deleted(&store, count_rows, "MySQL").await;
    drop_table_mysql(&pool, &table).await;
}

/// Redis needs no cleanup task: each record carries a native TTL that ends
/// with the session.
async fn redis_records_carry_a_native_ttl() {
    let url = Need::Redis.url();
    let store = redis_store(&url).await;
    let id = stored_record(&store, Duration::seconds(120)).await;
    let client = Pool::new(
        Config::from_url(&url).expect("REDIS_URL"),
        None,
        None,
        None,
        1,
    )
    .expect("a Redis pool");
    client.init().await.expect("Redis");
    let ttl: i64 = client.ttl(id.to_string()).await.expect("TTL");
    assert!(
        (1..=120).contains(&ttl),
        "Redis expires the record with the session, TTL {ttl} s"
    );
    store.delete(&id).await.expect("delete the record");
    println!("Redis: a session expiring in 120 s is stored with TTL {ttl} s");
}

// ---------------------------------------------------------------- the tests

/// The behaviour suite is one line per store; the other tests follow.
fn main() {
    support::harness::run(vec![
        tokio_test("memory_store", memory_store),
        tokio_test("cookie_sessions", cookie_sessions),
        tokio_test("sqlite_in_memory", sqlite_in_memory),
        tokio_test("sqlite_in_a_file", sqlite_in_a_file),
        tokio_test("postgres", postgres).needs(Need::Postgres),
        tokio_test("mysql", mysql).needs(Need::MariaDb),
        tokio_test("redis", redis).needs(Need::Redis),
        // two instances
        tokio_test("two_instances_on_redis", two_instances_on_redis).needs(Need::Redis),
        tokio_test(
            "two_instances_with_one_cookie_key",
            two_instances_with_one_cookie_key,
        ),
        tokio_test("two_instances_on_postgres", two_instances_on_postgres).needs(Need::Postgres),
        // expired records
        tokio_test("sqlite_deletes_expired_rows", sqlite_deletes_expired_rows),
        tokio_test(
            "postgres_deletes_expired_rows",
            postgres_deletes_expired_rows,
        )
        .needs(Need::Postgres),
        tokio_test("mysql_deletes_expired_rows", mysql_deletes_expired_rows).needs(Need::MariaDb),
        tokio_test(
            "redis_records_carry_a_native_ttl",
            redis_records_carry_a_native_ttl,
        )
        .needs(Need::Redis),
    ]);
}
