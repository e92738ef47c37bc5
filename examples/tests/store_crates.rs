//! The published store crates implement tower-sessions 0.14's `SessionStore`,
//! so the typed extractor works over every one of them. (tower-sessions 0.15
//! is not supported by these crates yet, which is why this workspace stays on
//! 0.14.)

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use http_body_util::BodyExt;
use session_core::{SessionError, SessionSchema};
use tower::ServiceExt;
use tower_sessions::{SessionManagerLayer, SessionStore};
use tower_sessions_redis_store::RedisStore;
use tower_sessions_redis_store::fred::prelude::{Config, Pool};
use tower_sessions_sqlx_store::sqlx::sqlite::SqlitePoolOptions;
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

#[derive(SessionSchema)]
#[session(namespace = "counter")]
struct Counter {
    #[session(default)]
    hits: u64,
}

async fn hit(counter: CounterSession) -> Result<String, SessionError> {
    Ok(counter
        .update_hits(|hits| {
            *hits += 1;
            *hits
        })
        .await?
        .to_string())
}

fn app<S: SessionStore + Clone>(store: S) -> Router {
    Router::new()
        .route("/", get(hit))
        .layer(SessionManagerLayer::new(store).with_secure(false))
}

#[tokio::test]
async fn the_redis_and_postgres_stores_plug_into_the_typed_extractor() {
    // Building the routers type-checks the store crates against our extractor;
    // neither client connects until it is used.
    let pool = Pool::new(Config::default(), None, None, None, 1)
        .expect("a pool needs no server to be built");
    let _redis: Router = app(RedisStore::new(pool));
    let lazy = tower_sessions_sqlx_store::sqlx::PgPool::connect_lazy("postgres://127.0.0.1/test")
        .expect("a lazy pool");
    let _postgres: Router = app(PostgresStore::new(lazy));
}

#[tokio::test]
async fn the_typed_counter_runs_on_sqlite() {
    // Every connection to `sqlite::memory:` opens its own database: keep one.
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .expect("in-memory SQLite");
    let store = SqliteStore::new(pool);
    store.migrate().await.expect("create the session table");
    let app = app(store);

    let mut cookie: Option<String> = None;
    for expected in ["1", "2", "3"] {
        let mut request = Request::builder().uri("/");
        if let Some(cookie) = &cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        if let Some(set_cookie) = response.headers().get(header::SET_COOKIE) {
            cookie = Some(
                set_cookie
                    .to_str()
                    .unwrap()
                    .split(';')
                    .next()
                    .unwrap()
                    .to_owned(),
            );
        }
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, expected);
    }
}
