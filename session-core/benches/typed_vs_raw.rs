//! Typed handle against the raw tower-sessions code a careful user writes by
//! hand, on one in-memory `tower_sessions::Session`:
//!
//! - `raw per-key`: `session.get::<T>(key)` / `session.insert(key, value)`
//!   under the same keys the typed handle uses;
//! - `raw single-key`: the whole struct under one key, as in tower-sessions'
//!   strongly-typed example.
//!
//! `cargo bench -p session-core --bench typed_vs_raw`

#![allow(missing_docs, clippy::missing_panics_doc)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};
use session_core::SessionSchema;
use session_core::cas::{Data, StoredValue};
use session_core::layer::LayerSession;
use session_core::time::{Duration, OffsetDateTime};
use tokio::runtime::Runtime;
use tower_sessions::{MemoryStore, Session};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Item {
    sku: String,
    quantity: u32,
}

/// The realistic schema: a user id, a name, a counter, a cart of ten items,
/// a CSRF token that expires, and a flash.
#[derive(SessionSchema, Clone, Debug, Serialize, Deserialize)]
#[session(namespace = "bench")]
struct Visit {
    user_id: Option<u64>,
    name: Option<String>,
    #[session(default)]
    counter: u64,
    #[session(default)]
    cart: Vec<Item>,
    #[session(expires_in = "15m")]
    csrf_token: Option<String>,
    #[session(flash)]
    notice: Option<String>,
}

/// The same schema one version earlier, for the pending-migration case.
#[derive(SessionSchema)]
#[session(namespace = "old", version = 1)]
struct VisitV1 {
    #[session(default)]
    counter: u32,
    user: Option<u64>,
}

#[derive(SessionSchema)]
#[session(namespace = "old", version = 2, migrate_from = VisitV1)]
struct VisitV2 {
    #[session(default)]
    counter: u64,
    user_id: Option<u64>,
}

impl From<VisitV1> for VisitV2 {
    fn from(old: VisitV1) -> Self {
        Self {
            counter: u64::from(old.counter),
            user_id: old.user,
        }
    }
}

/// The hand-written raw equivalent of an expiring value.
#[derive(Serialize, Deserialize)]
struct Expiring<T> {
    exp: i64,
    v: T,
}

fn visit() -> Visit {
    Visit {
        user_id: Some(42),
        name: Some("Ada Lovelace".to_owned()),
        counter: 7,
        cart: (0..10)
            .map(|n| Item {
                sku: format!("sku-{n:04}"),
                quantity: n + 1,
            })
            .collect(),
        csrf_token: Some("0123456789abcdef0123456789abcdef".to_owned()),
        notice: Some("Added to your cart.".to_owned()),
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
}

fn empty_session() -> Session {
    Session::new(None, Arc::new(MemoryStore::default()), None)
}

/// A session holding `visit()` twice: per key through the typed handle
/// (which uses the same keys the raw per-key code does) and under one key.
fn filled_session(runtime: &Runtime) -> Session {
    let session = empty_session();
    runtime.block_on(async {
        VisitSession::new(session.clone())
            .save(&visit())
            .await
            .expect("save");
        session.insert("visit", visit()).await.expect("insert");
    });
    session
}

/// Our layer's session holding `visit()`, as a request sees it once the
/// layer loaded it: the per-key JSON text of a stored record.
fn lean_session(runtime: &Runtime) -> VisitSession<LayerSession> {
    let session = empty_session();
    let data = runtime.block_on(async {
        VisitSession::new(session.clone())
            .save(&visit())
            .await
            .expect("save");
        let mut data = Data::default();
        for key in Visit::KEYS {
            if let Some(value) = session.get_value(key).await.expect("get") {
                data.insert(*key, StoredValue::from(value));
            }
        }
        data
    });
    VisitSession::new(LayerSession::detached(data))
}

fn deadline() -> i64 {
    (OffsetDateTime::now_utc() + Duration::minutes(15)).unix_timestamp()
}

fn get_one_field(c: &mut Criterion) {
    let runtime = runtime();
    let session = filled_session(&runtime);
    let typed = VisitSession::new(session.clone());
    let lean = lean_session(&runtime);
    let mut group = c.benchmark_group("get one field");
    group.bench_function("typed, lean session", |b| {
        b.iter(|| runtime.block_on(async { black_box(lean.counter().await.expect("get")) }));
    });
    group.bench_function("typed", |b| {
        b.iter(|| runtime.block_on(async { black_box(typed.counter().await.expect("get")) }));
    });
    group.bench_function("raw per-key", |b| {
        b.iter(|| {
            runtime.block_on(async {
                black_box(
                    session
                        .get::<u64>("bench.counter")
                        .await
                        .expect("get")
                        .unwrap_or_default(),
                )
            })
        });
    });
    group.bench_function("raw single-key", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let visit: Option<Visit> = session.get("visit").await.expect("get");
                black_box(visit.map(|visit| visit.counter).unwrap_or_default())
            })
        });
    });
    group.finish();
}

fn set_one_field(c: &mut Criterion) {
    let runtime = runtime();
    let session = filled_session(&runtime);
    let typed = VisitSession::new(session.clone());
    let lean = lean_session(&runtime);
    let mut group = c.benchmark_group("set one field");
    group.bench_function("typed, lean session", |b| {
        b.iter(|| runtime.block_on(async { lean.set_counter(black_box(8)).await.expect("set") }));
    });
    group.bench_function("typed", |b| {
        b.iter(|| runtime.block_on(async { typed.set_counter(black_box(8)).await.expect("set") }));
    });
    group.bench_function("raw per-key", |b| {
        b.iter(|| {
            runtime.block_on(async {
                session
                    .insert("bench.counter", black_box(8_u64))
                    .await
                    .expect("insert");
            });
        });
    });
    group.bench_function("raw single-key", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut visit: Visit = session.get("visit").await.expect("get").expect("a visit");
                visit.counter = black_box(8);
                session.insert("visit", visit).await.expect("insert");
            });
        });
    });
    group.finish();
}

fn update_one_field(c: &mut Criterion) {
    let runtime = runtime();
    let session = filled_session(&runtime);
    let typed = VisitSession::new(session.clone());
    let lean = lean_session(&runtime);
    let mut group = c.benchmark_group("update one field");
    group.bench_function("typed, lean session", |b| {
        b.iter(|| {
            runtime.block_on(async {
                lean.update_counter(|counter| *counter += 1)
                    .await
                    .expect("update");
            });
        });
    });
    group.bench_function("typed", |b| {
        b.iter(|| {
            runtime.block_on(async {
                typed
                    .update_counter(|counter| *counter += 1)
                    .await
                    .expect("update");
            });
        });
    });
    group.bench_function("raw per-key", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let counter: u64 = session
                    .get("bench.counter")
                    .await
                    .expect("get")
                    .unwrap_or_default();
                session
                    .insert("bench.counter", counter + 1)
                    .await
                    .expect("insert");
            });
        });
    });
    group.bench_function("raw single-key", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut visit: Visit = session.get("visit").await.expect("get").expect("a visit");
                visit.counter += 1;
                session.insert("visit", visit).await.expect("insert");
            });
        });
    });
    group.finish();
}

/// The expiring CSRF token: the typed handle opens its envelope and checks
/// the deadline; the raw code does the same by hand.
fn get_expiring_field(c: &mut Criterion) {
    let runtime = runtime();
    let session = filled_session(&runtime);
    let typed = VisitSession::new(session.clone());
    let lean = lean_session(&runtime);
    let mut group = c.benchmark_group("get expiring field");
    group.bench_function("typed, lean session", |b| {
        b.iter(|| runtime.block_on(async { black_box(lean.csrf_token().await.expect("get")) }));
    });
    group.bench_function("typed", |b| {
        b.iter(|| runtime.block_on(async { black_box(typed.csrf_token().await.expect("get")) }));
    });
    group.bench_function("raw per-key", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let stored: Option<Expiring<String>> =
                    session.get("bench.csrf_token").await.expect("get");
                let now = OffsetDateTime::now_utc().unix_timestamp();
                black_box(
                    stored
                        .filter(|stored| now < stored.exp)
                        .map(|stored| stored.v),
                )
            })
        });
    });
    group.finish();
}

fn load_whole_struct(c: &mut Criterion) {
    let runtime = runtime();
    let session = filled_session(&runtime);
    let typed = VisitSession::new(session.clone());
    let lean = lean_session(&runtime);
    let mut group = c.benchmark_group("load whole struct");
    group.bench_function("typed, lean session", |b| {
        b.iter(|| runtime.block_on(async { black_box(lean.load().await.expect("load")) }));
    });
    group.bench_function("typed", |b| {
        b.iter(|| runtime.block_on(async { black_box(typed.load().await.expect("load")) }));
    });
    group.bench_function("raw per-key", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let now = OffsetDateTime::now_utc().unix_timestamp();
                let csrf: Option<Expiring<String>> =
                    session.get("bench.csrf_token").await.expect("get");
                black_box(Visit {
                    user_id: session.get("bench.user_id").await.expect("get"),
                    name: session.get("bench.name").await.expect("get"),
                    counter: session
                        .get("bench.counter")
                        .await
                        .expect("get")
                        .unwrap_or_default(),
                    cart: session
                        .get("bench.cart")
                        .await
                        .expect("get")
                        .unwrap_or_default(),
                    csrf_token: csrf.filter(|csrf| now < csrf.exp).map(|csrf| csrf.v),
                    notice: session.get("bench.notice").await.expect("get"),
                })
            })
        });
    });
    group.bench_function("raw single-key", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let visit: Option<Visit> = session.get("visit").await.expect("get");
                black_box(visit)
            })
        });
    });
    group.finish();
}

/// Saving a changed struct (the counter and the cart differ every time) into
/// a session that holds the previous one.
fn save_whole_struct(c: &mut Criterion) {
    let runtime = runtime();
    let session = filled_session(&runtime);
    let typed = VisitSession::new(session.clone());
    let mut changed = visit();
    let mut next = move || {
        changed.counter += 1;
        changed.cart[0].quantity = u32::try_from(changed.counter % 100).unwrap_or_default();
        changed.clone()
    };
    let lean = lean_session(&runtime);
    let mut group = c.benchmark_group("save whole struct");
    group.bench_function("typed, lean session", |b| {
        b.iter_batched(
            &mut next,
            |visit| runtime.block_on(async { lean.save(&visit).await.expect("save") }),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("typed", |b| {
        b.iter_batched(
            &mut next,
            |visit| runtime.block_on(async { typed.save(&visit).await.expect("save") }),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("raw per-key", |b| {
        b.iter_batched(
            &mut next,
            |visit| {
                runtime.block_on(async {
                    session
                        .insert("bench.user_id", visit.user_id)
                        .await
                        .expect("insert");
                    session
                        .insert("bench.name", visit.name)
                        .await
                        .expect("insert");
                    session
                        .insert("bench.counter", visit.counter)
                        .await
                        .expect("insert");
                    session
                        .insert("bench.cart", visit.cart)
                        .await
                        .expect("insert");
                    if let Some(v) = visit.csrf_token {
                        let token = Expiring { exp: deadline(), v };
                        session
                            .insert("bench.csrf_token", token)
                            .await
                            .expect("insert");
                    }
                    session
                        .insert("bench.notice", visit.notice)
                        .await
                        .expect("insert");
                });
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("raw single-key", |b| {
        b.iter_batched(
            &mut next,
            |visit| {
                runtime.block_on(async { session.insert("visit", visit).await.expect("insert") });
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

/// The first read after a deploy: version 1 data is migrated to version 2
/// (read the old keys, convert, write the new ones, stamp the version),
/// against the raw code that does the same by hand.
fn pending_migration(c: &mut Criterion) {
    let runtime = runtime();
    let old_session = || {
        let session = empty_session();
        runtime.block_on(async {
            let old = VisitV1Session::new(session.clone());
            old.set_counter(7).await.expect("set");
            old.set_user(42).await.expect("set");
        });
        session
    };
    let mut group = c.benchmark_group("load with a pending migration");
    group.bench_function(BenchmarkId::new("typed", "v1 to v2"), |b| {
        b.iter_batched(
            old_session,
            |session| {
                runtime.block_on(async {
                    black_box(VisitV2Session::new(session).load().await.expect("load"))
                })
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function(BenchmarkId::new("raw per-key", "v1 to v2"), |b| {
        b.iter_batched(
            old_session,
            |session| {
                runtime.block_on(async {
                    let version: Option<u32> = session.get("old.__version").await.expect("get");
                    if version == Some(1) {
                        let counter: u32 = session
                            .remove("old.counter")
                            .await
                            .expect("remove")
                            .unwrap_or_default();
                        let user: Option<u64> = session.remove("old.user").await.expect("remove");
                        session
                            .insert("old.counter", u64::from(counter))
                            .await
                            .expect("insert");
                        if let Some(user) = user {
                            session.insert("old.user_id", user).await.expect("insert");
                        }
                        session
                            .insert("old.__version", 2_u32)
                            .await
                            .expect("insert");
                    }
                    let counter: u64 = session
                        .get("old.counter")
                        .await
                        .expect("get")
                        .unwrap_or_default();
                    let user_id: Option<u64> = session.get("old.user_id").await.expect("get");
                    black_box((counter, user_id))
                })
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(
    benches,
    get_one_field,
    set_one_field,
    update_one_field,
    get_expiring_field,
    load_whole_struct,
    save_whole_struct,
    pending_migration
);
criterion_main!(benches);
