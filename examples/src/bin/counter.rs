//! The session counter: `cargo run -p examples --bin counter`, then
//! `curl -c jar -b jar http://127.0.0.1:3001/incr` a few times.
//!
//! Sessions live in Redis when `REDIS_URL` is set, else in `SQLite` in the
//! file `COUNTER_DB` (default `counter.sqlite`). `PORT` defaults to 3001.

use tower_sessions_redis_store::RedisStore;
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
use tower_sessions_sqlx_store::SqliteStore;
use tower_sessions_sqlx_store::sqlx::sqlite::SqlitePoolOptions;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init();
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .map_err(|_| format!("PORT must be a port number, not {port:?}"))?,
        Err(_) => 3001,
    };
    let (app, store) = match std::env::var("REDIS_URL") {
        Ok(url) => {
            let pool = Pool::new(Config::from_url(&url)?, None, None, None, 2)?;
            pool.init()
                .await
                .map_err(|error| format!("cannot reach Redis at {url}: {error}"))?;
            (
                examples::counter::app(RedisStore::new(pool)),
                format!("Redis at {url}"),
            )
        }
        Err(_) => {
            let database =
                std::env::var("COUNTER_DB").unwrap_or_else(|_| "counter.sqlite".to_owned());
            let pool = SqlitePoolOptions::new()
                .connect(&format!("sqlite://{database}?mode=rwc"))
                .await?;
            let store = SqliteStore::new(pool);
            store.migrate().await?;
            (
                examples::counter::app(store),
                format!("SQLite in {database}"),
            )
        }
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("counter listening on http://127.0.0.1:{port}/incr (sessions in {store})");
    axum::serve(listener, app).await?;
    Ok(())
}
