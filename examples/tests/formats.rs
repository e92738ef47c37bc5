//! What release 0.1.0 stored still loads: the golden fixtures of
//! `tests/fixtures/formats/` (see its README) go into each store byte for
//! byte, a request carries the fixture's cookie, and a handler reads every
//! field through the typed handle and the raw `tower_sessions::Session`;
//! then it writes, and the session still loads.
//!
//! Only the public surface a release keeps is used: the layers' builders,
//! the stores' constructors, `migrate` and `with_table_name`, the derive's
//! handles and `Session` as an extractor; never the store trait or its
//! record types. The stores' own tables and hashes are written with plain
//! SQL and Redis commands, as the fixtures describe them.
//!
//! The PostgreSQL and Redis tests need the services at `DATABASE_URL` and
//! `REDIS_URL` (the standard loopback ports by default); without one, its
//! tests are reported as ignored (see `support/harness.rs`).

mod support;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use session_core::cas::{PostgresCasStore, RedisCasStore, SqliteCasStore};
use session_core::layer::SessionLayer;
use session_core::layer::cookie::{CookieKeys, CookieSessionLayer};
use session_core::time::OffsetDateTime;
use session_core::{SessionError, SessionSchema};
use support::Browser;
use support::env::unique_name;
use support::harness::{Need, tokio_test};
use tower_sessions::Session;
use tower_sessions_redis_store::fred::prelude::{
    ClientLike, Config, HashesInterface, KeysInterface, Pool,
};
use tower_sessions_sqlx_store::sqlx;
use tower_sessions_sqlx_store::sqlx::PgPool;
use tower_sessions_sqlx_store::sqlx::postgres::PgPoolOptions;
use tower_sessions_sqlx_store::sqlx::sqlite::SqlitePoolOptions;

// ---------------------------------------------------------------- schemas

/// The schemas the fixtures were written with (`fixtures/formats/generate.rs`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct CartItem {
    sku: String,
    quantity: u32,
}

#[derive(SessionSchema)]
#[session(namespace = "fixture", version = 1)]
struct FixtureV1 {
    #[session(default)]
    count: u32,
    nickname: Option<String>,
}

#[derive(SessionSchema)]
#[session(namespace = "fixture", version = 2, migrate_from = FixtureV1)]
struct Fixture {
    #[session(default = String::from("en"))]
    locale: String,
    #[session(default)]
    cart: Vec<CartItem>,
    nickname: Option<String>,
    #[session(expires_in = "15m")]
    token: Option<String>,
    #[session(flash)]
    notice: Option<String>,
    #[session(default)]
    visits: u64,
}

impl From<FixtureV1> for Fixture {
    fn from(v1: FixtureV1) -> Self {
        Fixture {
            locale: "en".to_owned(),
            cart: Vec::new(),
            nickname: v1.nickname,
            token: None,
            notice: None,
            visits: v1.count.into(),
        }
    }
}

// ---------------------------------------------------------------- fixtures

/// 2100-01-01T00:00:00Z: the deadline of the fixtures' token.
const TOKEN_DEADLINE: i64 = 4_102_444_800;
const TOKEN: &str = "9f86d081884c7d659a2feaa0c55ad015";
const RAW_VALUE: &str = "written by tower-sessions";
/// The key material the cookie fixtures were sealed with.
const COOKIE_KEY: [u8; 64] = [7; 64];

/// A record as a server store held it, and the cookie that named it.
struct StoredSession {
    id: &'static str,
    revision: &'static str,
    data: &'static str,
    expiry: &'static str,
    set_cookie: &'static str,
}

/// The text of the fixture file `$file` in `$dir` of `fixtures/formats/`.
macro_rules! fixture {
    ($dir:literal, $file:literal) => {
        include_str!(concat!("fixtures/formats/", $dir, "/", $file))
    };
}

/// The record in `$dir`, whose revision and expiry files are named as the
/// store names the columns or fields.
macro_rules! stored_session {
    ($dir:literal, $revision:literal, $expiry:literal) => {
        StoredSession {
            id: fixture!($dir, "id.txt"),
            revision: fixture!($dir, $revision),
            data: fixture!($dir, "data.json"),
            expiry: fixture!($dir, $expiry),
            set_cookie: fixture!($dir, "set-cookie.txt"),
        }
    };
}

const SQL_V2: StoredSession = stored_session!("sql/schema-v2", "revision.txt", "expiry.txt");
const SQL_V1: StoredSession =
    stored_session!("sql/schema-v1-unversioned", "revision.txt", "expiry.txt");
const REDIS_V2: StoredSession = stored_session!("redis/schema-v2", "rev.txt", "exp.txt");
const REDIS_V1: StoredSession =
    stored_session!("redis/schema-v1-unversioned", "rev.txt", "exp.txt");
const REDIS_V2_EXPIRE_AT: &str = fixture!("redis/schema-v2", "pexpiretime.txt");
const REDIS_V1_EXPIRE_AT: &str = fixture!("redis/schema-v1-unversioned", "pexpiretime.txt");

/// A cookie-session cookie value, and the plaintext it opens to.
struct SealedSession {
    cookie: &'static str,
    plaintext: &'static str,
}

const COOKIE_V2: SealedSession = SealedSession {
    cookie: fixture!("cookie/schema-v2", "cookie.txt"),
    plaintext: fixture!("cookie/schema-v2", "plaintext.json"),
};
const COOKIE_V1: SealedSession = SealedSession {
    cookie: fixture!("cookie/schema-v1-unversioned", "cookie.txt"),
    plaintext: fixture!("cookie/schema-v1-unversioned", "plaintext.json"),
};

impl StoredSession {
    /// The `Cookie` header the browser that got `set_cookie` sends back;
    /// for a cookie without a key, its value is the id itself.
    fn cookie(&self) -> String {
        let pair = self.set_cookie.split(';').next().unwrap_or_default();
        assert_eq!(
            pair,
            format!("id={}", self.id),
            "the cookie of SessionLayer without a key is the bare id"
        );
        pair.to_owned()
    }

    fn number(text: &str) -> i64 {
        text.parse()
            .unwrap_or_else(|_| panic!("`{text}` is a decimal number"))
    }
}

impl SealedSession {
    /// The id inside the sealed payload.
    fn id(&self) -> String {
        let payload: serde_json::Value =
            serde_json::from_str(self.plaintext).expect("the plaintext is JSON");
        assert_eq!(payload["v"], 1, "payload format version 1");
        payload["id"].as_str().expect("an id").to_owned()
    }
}

// ---------------------------------------------------------------- the app

/// Everything a request sees of the session.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Seen {
    id: Option<String>,
    locale: String,
    cart: Vec<CartItem>,
    nickname: Option<String>,
    token: Option<String>,
    /// Unix seconds.
    token_expires_at: Option<i64>,
    notice: Option<String>,
    visits: u64,
    /// The raw value of `fixture.__version`, after the typed reads.
    version: Option<serde_json::Value>,
    /// The raw value of version 1's `fixture.count`, after the typed reads.
    count: Option<serde_json::Value>,
    raw_key: Option<String>,
}

fn failed(error: impl std::fmt::Display) -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response()
}

/// Reads every field; taking the flash is the one write.
async fn read(fixture: FixtureSession, session: Session) -> Result<Json<Seen>, Response> {
    let typed = async {
        Ok::<_, SessionError>((
            fixture.locale().await?,
            fixture.cart().await?,
            fixture.nickname().await?,
            fixture.token().await?,
            fixture.token_expires_at().await?,
            fixture.take_notice().await?,
            fixture.visits().await?,
        ))
    };
    let (locale, cart, nickname, token, token_expires_at, notice, visits) =
        typed.await.map_err(IntoResponse::into_response)?;
    let version = session
        .get::<serde_json::Value>("fixture.__version")
        .await
        .map_err(failed)?;
    let count = session
        .get::<serde_json::Value>("fixture.count")
        .await
        .map_err(failed)?;
    let raw_key = session.get::<String>("raw_key").await.map_err(failed)?;
    Ok(Json(Seen {
        id: session.id().map(|id| id.to_string()),
        locale,
        cart,
        nickname,
        token,
        token_expires_at: token_expires_at.map(OffsetDateTime::unix_timestamp),
        notice,
        visits,
        version,
        count,
        raw_key,
    }))
}

async fn write(fixture: FixtureSession) -> Result<&'static str, SessionError> {
    fixture.update_visits(|visits| *visits += 1).await?;
    fixture
        .update_cart(|cart| {
            cart.push(CartItem {
                sku: "pot".to_owned(),
                quantity: 1,
            });
        })
        .await?;
    fixture.set_notice("Saved".to_owned()).await?;
    Ok("written")
}

fn routes() -> Router {
    Router::new()
        .route("/read", get(read))
        .route("/write", post(write))
}

/// The routes under a `SessionLayer` over `$store`, as plain HTTP needs it.
/// A macro, so that the store types need no bound named here.
macro_rules! server_app {
    ($store:expr) => {
        routes().layer(
            SessionLayer::builder($store)
                .with_secure(false)
                .build()
                .expect("valid settings"),
        )
    };
}

fn cookie_app() -> Router {
    let keys = CookieKeys::new([COOKIE_KEY]).expect("a valid key");
    let layer = CookieSessionLayer::builder(keys)
        .with_secure(false)
        .build()
        .expect("valid settings");
    routes().layer(layer)
}

// ---------------------------------------------------------------- the checks

async fn seen(browser: &mut Browser) -> Seen {
    let reply = browser.send("GET", "/read").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    serde_json::from_str(&reply.body).unwrap_or_else(|error| panic!("{error}: {}", reply.body))
}

async fn written(browser: &mut Browser) {
    let reply = browser.send("POST", "/write").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

fn cart(items: &[(&str, u32)]) -> Vec<CartItem> {
    items
        .iter()
        .map(|&(sku, quantity)| CartItem {
            sku: sku.to_owned(),
            quantity,
        })
        .collect()
}

/// The schema-v2 fixture, sent as `cookie`, is the session `id` with every
/// value it was written with; after a write through the handle it still
/// loads, with the written values and the others unchanged.
async fn schema_v2_loads(app: &Router, cookie: String, id: &str) {
    let mut browser = Browser::new(app);
    browser.cookie = Some(cookie);
    let first = Seen {
        id: Some(id.to_owned()),
        locale: "fr".to_owned(),
        cart: cart(&[("tea", 2), ("cup", 1)]),
        nickname: Some("ada".to_owned()),
        token: Some(TOKEN.to_owned()),
        token_expires_at: Some(TOKEN_DEADLINE),
        notice: Some("Added tea".to_owned()),
        visits: 7,
        version: Some(2.into()),
        count: None,
        raw_key: Some(RAW_VALUE.to_owned()),
    };
    assert_eq!(seen(&mut browser).await, first);
    assert_eq!(
        seen(&mut browser).await,
        Seen {
            notice: None,
            ..first
        },
        "the flash was read once"
    );
    written(&mut browser).await;
    assert_eq!(
        seen(&mut browser).await,
        Seen {
            id: Some(id.to_owned()),
            locale: "fr".to_owned(),
            cart: cart(&[("tea", 2), ("cup", 1), ("pot", 1)]),
            nickname: Some("ada".to_owned()),
            token: Some(TOKEN.to_owned()),
            token_expires_at: Some(TOKEN_DEADLINE),
            notice: Some("Saved".to_owned()),
            visits: 8,
            version: Some(2.into()),
            count: None,
            raw_key: Some(RAW_VALUE.to_owned()),
        },
        "after a write"
    );
}

/// The fixture written before the schema had a version, sent as `cookie`,
/// reads as version 2 (`visits` from `count`), is stored as version 2 from
/// then on, and loads after a write.
async fn schema_v1_migrates(app: &Router, cookie: String, id: &str) {
    let mut browser = Browser::new(app);
    browser.cookie = Some(cookie);
    let migrated = Seen {
        id: Some(id.to_owned()),
        locale: "en".to_owned(),
        cart: Vec::new(),
        nickname: Some("grace".to_owned()),
        token: None,
        token_expires_at: None,
        notice: None,
        visits: 3,
        version: Some(2.into()),
        count: None,
        raw_key: None,
    };
    assert_eq!(seen(&mut browser).await, migrated);
    assert_eq!(
        seen(&mut browser).await,
        migrated,
        "the migration was saved"
    );
    written(&mut browser).await;
    assert_eq!(
        seen(&mut browser).await,
        Seen {
            cart: cart(&[("pot", 1)]),
            notice: Some("Saved".to_owned()),
            visits: 4,
            ..migrated
        },
        "after a write"
    );
}

// ---------------------------------------------------------------- SQL

/// The statement that puts a fixture row into `table`, whose columns
/// `migrate` created.
fn insert_statement(table: &str) -> String {
    format!(r#"insert into "{table}" (id, revision, data, expiry) values ($1, $2, $3, $4)"#)
}

/// A store in an in-memory SQLite database whose table holds the fixture `row`.
async fn sqlite_store(row: &StoredSession) -> SqliteCasStore {
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .expect("in-memory SQLite");
    let store = SqliteCasStore::new(pool.clone());
    store.migrate().await.expect("create the table");
    // The table's name when `with_table_name` is not called.
    sqlx::query(&insert_statement("typed_sessions"))
        .bind(row.id)
        .bind(StoredSession::number(row.revision))
        .bind(row.data.as_bytes().to_vec())
        .bind(StoredSession::number(row.expiry))
        .execute(&pool)
        .await
        .expect("insert the fixture row");
    store
}

async fn sqlite_row_of_schema_v2_loads() {
    let app = server_app!(sqlite_store(&SQL_V2).await);
    schema_v2_loads(&app, SQL_V2.cookie(), SQL_V2.id).await;
}

async fn sqlite_row_of_schema_v1_migrates() {
    let app = server_app!(sqlite_store(&SQL_V1).await);
    schema_v1_migrates(&app, SQL_V1.cookie(), SQL_V1.id).await;
}

/// A `SessionLayer` app over a PostgreSQL table of its own that holds the
/// fixture `row`, the pool and the table.
async fn postgres_app(row: &StoredSession) -> (Router, PgPool, String) {
    let url = Need::Postgres.url();
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect(&url)
        .await
        .unwrap_or_else(|error| panic!("PostgreSQL is unreachable at DATABASE_URL={url}: {error}"));
    let table = unique_name("formats");
    let store = PostgresCasStore::new(pool.clone())
        .with_table_name(&table)
        .expect("a valid table name");
    store.migrate().await.expect("create the table");
    sqlx::query(&insert_statement(&table))
        .bind(row.id)
        .bind(StoredSession::number(row.revision))
        .bind(row.data.as_bytes().to_vec())
        .bind(StoredSession::number(row.expiry))
        .execute(&pool)
        .await
        .expect("insert the fixture row");
    (server_app!(store), pool, table)
}

async fn drop_table(pool: &PgPool, table: &str) {
    sqlx::query(&format!(r#"drop table "{table}""#))
        .execute(pool)
        .await
        .expect("drop the test table");
}

async fn postgres_row_of_schema_v2_loads() {
    let (app, pool, table) = postgres_app(&SQL_V2).await;
    schema_v2_loads(&app, SQL_V2.cookie(), SQL_V2.id).await;
    drop_table(&pool, &table).await;
}

async fn postgres_row_of_schema_v1_migrates() {
    let (app, pool, table) = postgres_app(&SQL_V1).await;
    schema_v1_migrates(&app, SQL_V1.cookie(), SQL_V1.id).await;
    drop_table(&pool, &table).await;
}

// ---------------------------------------------------------------- Redis

/// A `SessionLayer` app over a Redis key prefix of its own under which the
/// fixture `hash` is stored, with its Redis expiry `expire_at`; the pool and
/// the key.
async fn redis_app(hash: &StoredSession, expire_at: &str) -> (Router, Pool, String) {
    let url = Need::Redis.url();
    let config = Config::from_url(&url).expect("a valid REDIS_URL");
    let pool = Pool::new(config, None, None, None, 1).expect("a Redis pool");
    pool.init()
        .await
        .unwrap_or_else(|error| panic!("Redis is unreachable at REDIS_URL={url}: {error}"));
    let prefix = format!("{}:", unique_name("formats"));
    let key = format!("{prefix}{}", hash.id);
    let _: i64 = pool
        .hset(
            &key,
            [
                ("rev", hash.revision),
                ("data", hash.data),
                ("exp", hash.expiry),
            ],
        )
        .await
        .expect("HSET the fixture");
    let _: i64 = pool
        .pexpire_at(&key, StoredSession::number(expire_at), None)
        .await
        .expect("PEXPIREAT the fixture");
    let store = RedisCasStore::new(pool.clone()).with_key_prefix(prefix);
    (server_app!(store), pool, key)
}

async fn redis_hash_of_schema_v2_loads() {
    let (app, pool, key) = redis_app(&REDIS_V2, REDIS_V2_EXPIRE_AT).await;
    schema_v2_loads(&app, REDIS_V2.cookie(), REDIS_V2.id).await;
    let _: i64 = pool.del(&key).await.expect("DEL the fixture");
}

async fn redis_hash_of_schema_v1_migrates() {
    let (app, pool, key) = redis_app(&REDIS_V1, REDIS_V1_EXPIRE_AT).await;
    schema_v1_migrates(&app, REDIS_V1.cookie(), REDIS_V1.id).await;
    let _: i64 = pool.del(&key).await.expect("DEL the fixture");
}

// ---------------------------------------------------------------- cookies

async fn cookie_payload_of_schema_v2_loads() {
    let id = COOKIE_V2.id();
    schema_v2_loads(&cookie_app(), format!("id={}", COOKIE_V2.cookie), &id).await;
}

async fn cookie_payload_of_schema_v1_migrates() {
    let id = COOKIE_V1.id();
    schema_v1_migrates(&cookie_app(), format!("id={}", COOKIE_V1.cookie), &id).await;
}

/// The fixture's key is the one that opens it: with another key the same
/// cookie is no session, so the cookie tests above read what the fixture
/// holds and nothing else.
async fn cookie_payload_needs_its_key() {
    let keys = CookieKeys::new([[8u8; 64]]).expect("a valid key");
    let layer = CookieSessionLayer::builder(keys)
        .with_secure(false)
        .build()
        .expect("valid settings");
    let mut browser = Browser::new(&routes().layer(layer));
    browser.cookie = Some(format!("id={}", COOKIE_V2.cookie));
    let seen = seen(&mut browser).await;
    assert_eq!((seen.visits, seen.raw_key), (0, None));
}

fn main() {
    support::harness::run(vec![
        tokio_test(
            "sqlite_row_of_schema_v2_loads",
            sqlite_row_of_schema_v2_loads,
        ),
        tokio_test(
            "sqlite_row_of_schema_v1_migrates",
            sqlite_row_of_schema_v1_migrates,
        ),
        tokio_test(
            "postgres_row_of_schema_v2_loads",
            postgres_row_of_schema_v2_loads,
        )
        .needs(Need::Postgres),
        tokio_test(
            "postgres_row_of_schema_v1_migrates",
            postgres_row_of_schema_v1_migrates,
        )
        .needs(Need::Postgres),
        tokio_test(
            "redis_hash_of_schema_v2_loads",
            redis_hash_of_schema_v2_loads,
        )
        .needs(Need::Redis),
        tokio_test(
            "redis_hash_of_schema_v1_migrates",
            redis_hash_of_schema_v1_migrates,
        )
        .needs(Need::Redis),
        tokio_test(
            "cookie_payload_of_schema_v2_loads",
            cookie_payload_of_schema_v2_loads,
        ),
        tokio_test(
            "cookie_payload_of_schema_v1_migrates",
            cookie_payload_of_schema_v1_migrates,
        ),
        tokio_test("cookie_payload_needs_its_key", cookie_payload_needs_its_key),
    ]);
}
