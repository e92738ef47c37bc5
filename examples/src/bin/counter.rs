//! The session counter: `cargo run -p examples --bin counter`, then
//! `curl -c jar -b jar http://127.0.0.1:3001/incr` a few times.
//!
//! Sessions live in Redis when `REDIS_URL` is set, else in PostgreSQL when
//! `DATABASE_URL` is set, else in `SQLite` in the file `COUNTER_DB` (default
//! `counter.sqlite`). `PORT` defaults to 3001. Start it twice on two ports with
//! the same `REDIS_URL` or `DATABASE_URL` and both instances share sessions.
//!
//! With `SESSION_STORE=cookie` the whole session lives in an encrypted cookie
//! and nothing else is needed. The key comes from `SESSION_KEY`: base64 of at
//! least 32 random bytes (`openssl rand -base64 48`), several separated by
//! commas when rotating, the new one first. Without it a random development
//! key is used, with a warning: sessions end when the process stops, and two
//! processes only share sessions when they share `SESSION_KEY`.

use axum::Router;
use examples::config::configured;
use session_core::cas::{PostgresCasStore, RedisCasStore, SqliteCasStore};
use session_core::layer::cookie::CookieKeys;
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
use tower_sessions_sqlx_store::sqlx::postgres::PgPoolOptions;
use tower_sessions_sqlx_store::sqlx::sqlite::SqlitePoolOptions;

type Failure = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), Failure> {
    tracing_subscriber::fmt().init();
    let port = examples::config::port(3001)?;
    let (app, store) = if let Some(mode) = configured("SESSION_STORE") {
        if mode != "cookie" {
            return Err(format!("SESSION_STORE must be `cookie` or unset, not {mode:?}").into());
        }
        in_cookies()?
    } else if let Some(url) = configured("REDIS_URL") {
        on_redis(&url).await?
    } else if let Some(url) = configured("DATABASE_URL") {
        on_postgres(&url).await?
    } else {
        on_sqlite().await?
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("counter listening on http://127.0.0.1:{port}/incr (sessions in {store})");
    axum::serve(listener, app).await?;
    Ok(())
}

// ANCHOR: cookie
fn in_cookies() -> Result<(Router, String), Failure> {
    let keys = match configured("SESSION_KEY") {
        Some(setting) => examples::counter::cookie_keys(&setting),
        None => CookieKeys::generate_for_development().map_err(Into::into),
    }
    .map_err(|error| error.to_string())?;
    Ok((
        examples::counter::cookie_app(keys)?,
        "an encrypted cookie".to_owned(),
    ))
}
// ANCHOR_END: cookie

// ANCHOR: redis
async fn on_redis(url: &str) -> Result<(Router, String), Failure> {
    let pool = Pool::new(Config::from_url(url)?, None, None, None, 2)?;
    pool.init()
        .await
        .map_err(|error| format!("cannot reach Redis at {url}: {error}"))?;
    Ok((
        examples::counter::app(RedisCasStore::new(pool))?,
        format!("Redis at {url}"),
    ))
}

// ANCHOR_END: redis

// ANCHOR: postgres
async fn on_postgres(url: &str) -> Result<(Router, String), Failure> {
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(url)
        .await
        .map_err(|error| format!("cannot reach PostgreSQL at {url}: {error}"))?;
    let store = PostgresCasStore::new(pool);
    store.migrate().await?;
    Ok((
        examples::counter::app(store)?,
        format!("PostgreSQL at {url}"),
    ))
}

// ANCHOR_END: postgres

// ANCHOR: sqlite
async fn on_sqlite() -> Result<(Router, String), Failure> {
    let database = configured("COUNTER_DB").unwrap_or_else(|| "counter.sqlite".to_owned());
    let pool = SqlitePoolOptions::new()
        .connect(&format!("sqlite://{database}?mode=rwc"))
        .await?;
    let store = SqliteCasStore::new(pool);
    store.migrate().await?;
    Ok((
        examples::counter::app(store)?,
        format!("SQLite in {database}"),
    ))
}
// ANCHOR_END: sqlite
