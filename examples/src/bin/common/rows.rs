//! The rows of the load benchmark, each the benchmark's app on one session
//! layer and store, named by a short stable slug so that a row can be served,
//! profiled or counted on its own (`load-bench serve <row>`, `alloc-count
//! <row>`, `scripts/instructions.sh <row>`).

use axum::Router;
use examples::bench::{Variant, app, app_on_cas_store, app_with_cookie_sessions};
use session_core::cas::{CasMemoryStore, RedisCasStore};
use session_core::layer::cookie::CookieKeys;
use tower_sessions::MemoryStore;
use tower_sessions_redis_store::RedisStore;
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};

pub(crate) type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Where a row keeps its sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    /// tower-sessions' `MemoryStore`.
    Memory,
    /// Our compare-and-swap `CasMemoryStore`.
    CasMemory,
    /// No store: the whole session in an encrypted cookie.
    Cookie,
    /// tower-sessions' `RedisStore`.
    Redis,
    /// Our compare-and-swap `RedisCasStore`.
    RedisCas,
}

/// One row: a handler variant under a session layer on a store.
#[derive(Debug)]
pub(crate) struct Row {
    /// The name the commands take; stable across commits, so that figures
    /// measured at two commits can be compared row by row.
    pub(crate) slug: &'static str,
    /// The store column of the table.
    #[allow(dead_code, reason = "only load-bench's table shows it")]
    pub(crate) store: &'static str,
    /// The tower-sessions store whose rows this one is compared with.
    #[allow(dead_code, reason = "only load-bench's table shows it")]
    pub(crate) baseline: &'static str,
    pub(crate) variant: Variant,
    backend: Backend,
}

const fn row(
    slug: &'static str,
    store: &'static str,
    baseline: &'static str,
    variant: Variant,
    backend: Backend,
) -> Row {
    Row {
        slug,
        store,
        baseline,
        variant,
        backend,
    }
}

/// Every row, in the order the load benchmark reports them.
pub(crate) const ROWS: [Row; 12] = [
    row(
        "bare",
        "MemoryStore",
        "MemoryStore",
        Variant::Bare,
        Backend::Memory,
    ),
    row(
        "tower-raw-per-key",
        "MemoryStore",
        "MemoryStore",
        Variant::RawPerKey,
        Backend::Memory,
    ),
    row(
        "tower-raw-single-key",
        "MemoryStore",
        "MemoryStore",
        Variant::RawSingleKey,
        Backend::Memory,
    ),
    row(
        "tower-typed",
        "MemoryStore",
        "MemoryStore",
        Variant::Typed,
        Backend::Memory,
    ),
    row(
        "ours-lww-memory",
        "MemoryStore",
        "MemoryStore",
        Variant::TypedOurLayer,
        Backend::Memory,
    ),
    row(
        "ours-cas-memory",
        "CasMemoryStore",
        "MemoryStore",
        Variant::TypedOurLayer,
        Backend::CasMemory,
    ),
    row(
        "ours-cookie",
        "cookie (no store)",
        "MemoryStore",
        Variant::TypedOurLayer,
        Backend::Cookie,
    ),
    row(
        "tower-raw-per-key-redis",
        "Redis",
        "Redis",
        Variant::RawPerKey,
        Backend::Redis,
    ),
    row(
        "tower-raw-single-key-redis",
        "Redis",
        "Redis",
        Variant::RawSingleKey,
        Backend::Redis,
    ),
    row(
        "tower-typed-redis",
        "Redis",
        "Redis",
        Variant::Typed,
        Backend::Redis,
    ),
    row(
        "ours-lww-redis",
        "Redis",
        "Redis",
        Variant::TypedOurLayer,
        Backend::Redis,
    ),
    row(
        "ours-cas-redis",
        "RedisCasStore",
        "Redis",
        Variant::TypedOurLayer,
        Backend::RedisCas,
    ),
];

impl Row {
    /// The row named `slug`.
    pub(crate) fn find(slug: &str) -> Result<&'static Self, Failure> {
        ROWS.iter().find(|row| row.slug == slug).ok_or_else(|| {
            let known: Vec<_> = ROWS.iter().map(|row| row.slug).collect();
            format!("no row `{slug}`; the rows are {}", known.join(", ")).into()
        })
    }

    /// Whether the row needs a Redis server (`REDIS_URL`).
    pub(crate) fn needs_redis(&self) -> bool {
        matches!(self.backend, Backend::Redis | Backend::RedisCas)
    }

    /// The row's app, with fresh (empty) sessions; `redis` is the pool the
    /// Redis rows use.
    pub(crate) fn app(&self, redis: Option<&Pool>) -> Result<Router, Failure> {
        let redis = || {
            redis
                .cloned()
                .ok_or_else(|| format!("the row `{}` needs REDIS_URL", self.slug))
        };
        Ok(match self.backend {
            Backend::Memory => app(self.variant, MemoryStore::default())?,
            Backend::CasMemory => app_on_cas_store(CasMemoryStore::new())?,
            // A fixed key: the benchmark keeps nothing, and a generated key
            // would log a development warning.
            Backend::Cookie => app_with_cookie_sessions(CookieKeys::new([[7_u8; 32]])?)?,
            Backend::Redis => app(self.variant, RedisStore::new(redis()?))?,
            Backend::RedisCas => app_on_cas_store(RedisCasStore::new(redis()?))?,
        })
    }
}

/// The rows that need no server: the memory and cookie rows.
pub(crate) fn local_rows() -> impl Iterator<Item = &'static Row> {
    ROWS.iter().filter(|row| !row.needs_redis())
}

/// A connected pool for the Redis rows, when `REDIS_URL` is set.
pub(crate) async fn redis_pool() -> Result<Option<Pool>, Failure> {
    let Ok(url) = std::env::var("REDIS_URL") else {
        return Ok(None);
    };
    let pool = Pool::new(Config::from_url(&url)?, None, None, None, 4)?;
    pool.init().await?;
    Ok(Some(pool))
}
