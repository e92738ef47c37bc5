//! The published store crates implement tower-sessions 0.14's `SessionStore`,
//! so the typed extractor works over every one of them. (tower-sessions 0.15
//! is not supported by these crates yet, which is why this workspace stays on
//! 0.14.)

mod support;

use axum::Router;
use axum::http::StatusCode;
use examples::counter::app;
use session_core::cas::LastWriterWins;
use support::Browser;
use tower_sessions_redis_store::RedisStore;
use tower_sessions_redis_store::fred::prelude::{Config, Pool};
use tower_sessions_sqlx_store::PostgresStore;

#[tokio::test]
async fn the_redis_and_postgres_stores_plug_into_the_typed_extractor() {
    // Building the routers type-checks the store crates against our extractor;
    // neither client connects until it is used.
    let pool = Pool::new(Config::default(), None, None, None, 1)
        .expect("a pool needs no server to be built");
    let _redis: Router = app(LastWriterWins::new(RedisStore::new(pool))).expect("valid settings");
    let lazy = tower_sessions_sqlx_store::sqlx::PgPool::connect_lazy("postgres://127.0.0.1/test")
        .expect("a lazy pool");
    let _postgres: Router =
        app(LastWriterWins::new(PostgresStore::new(lazy))).expect("valid settings");
}

#[tokio::test]
async fn the_typed_counter_runs_on_sqlite() {
    let mut browser = Browser::new(
        &app(LastWriterWins::new(support::sqlite_in_memory().await)).expect("valid settings"),
    );
    for expected in 1..=3 {
        let reply = browser.send("GET", "/incr").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.body, format!(r#"{{"count":{expected}}}"#));
    }
}
