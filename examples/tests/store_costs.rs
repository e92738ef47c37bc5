//! What the typed layer costs the store: round trips per request, and bytes
//! per value, counted by a store wrapper around `MemoryStore`.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use axum::Router;
use axum::http::StatusCode;
use examples::bench::Item;
use serde::Serialize;
use serde_json::Value;
use session_core::SessionSchema;
use session_core::cas::LastWriterWins;
use support::{Browser, token_in};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::Result as StoreResult;
use tower_sessions::{MemoryStore, Session, SessionStore};

// ---------------------------------------------------------------- the wrapper

/// Store calls since the last `reset`.
#[derive(Debug, Default)]
struct Calls {
    loads: AtomicUsize,
    writes: AtomicUsize,
    deletes: AtomicUsize,
}

/// `MemoryStore`, counting its calls and keeping the last record written.
#[derive(Clone, Debug, Default)]
struct CountingStore {
    inner: MemoryStore,
    calls: Arc<Calls>,
    last_written: Arc<Mutex<Option<Record>>>,
}

impl CountingStore {
    /// (loads, creates + saves, deletes) since the last call.
    fn take_counts(&self) -> (usize, usize, usize) {
        (
            self.calls.loads.swap(0, Ordering::SeqCst),
            self.calls.writes.swap(0, Ordering::SeqCst),
            self.calls.deletes.swap(0, Ordering::SeqCst),
        )
    }

    fn last_written(&self) -> Record {
        self.last_written
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .expect("a record was written")
    }

    fn written(&self, record: &Record) {
        self.calls.writes.fetch_add(1, Ordering::SeqCst);
        *self
            .last_written
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(record.clone());
    }
}

#[async_trait]
impl SessionStore for CountingStore {
    async fn create(&self, record: &mut Record) -> StoreResult<()> {
        self.inner.create(record).await?;
        self.written(record);
        Ok(())
    }

    async fn save(&self, record: &Record) -> StoreResult<()> {
        self.inner.save(record).await?;
        self.written(record);
        Ok(())
    }

    async fn load(&self, id: &Id) -> StoreResult<Option<Record>> {
        self.calls.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(id).await
    }

    async fn delete(&self, id: &Id) -> StoreResult<()> {
        self.calls.deletes.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(id).await
    }
}

// ---------------------------------------------------------------- round trips

#[tokio::test]
async fn a_request_loads_and_saves_at_most_once() {
    let store = CountingStore::default();
    let shop: Router =
        examples::shop::app(LastWriterWins::new(store.clone())).expect("valid settings");
    let mut browser = Browser::new(&shop);
    let mut worst = (0, 0);
    let mut check = |what: &str, status: StatusCode, expected: StatusCode| {
        assert_eq!(status, expected, "{what}");
        let (loads, writes, deletes) = store.take_counts();
        println!("{what}: {loads} load, {writes} create or save, {deletes} delete");
        assert!(loads <= 1, "{what}: {loads} loads");
        assert!(writes <= 1, "{what}: {writes} creates or saves");
        worst = (worst.0.max(loads), worst.1.max(writes));
    };

    // The front page reads the cart, the locale, the user, the token and the
    // flash, and may write the token: a dozen typed accesses.
    let front = browser.send("GET", "/").await;
    check("first page", front.status, StatusCode::OK);
    let token = token_in(&front.body);
    for round in 0..3 {
        let quantity = (round + 1).to_string();
        let added = browser
            .form(
                "/cart",
                &[
                    ("sku", "tea"),
                    ("quantity", &quantity),
                    ("csrf_token", &token),
                ],
            )
            .await;
        check("add to cart", added.status, StatusCode::SEE_OTHER);
        let page = browser.send("GET", "/").await;
        check("page with a flash", page.status, StatusCode::OK);
    }
    let login = browser
        .form("/login", &[("user_id", "7"), ("csrf_token", &token)])
        .await;
    check(
        "login (rotates the id)",
        login.status,
        StatusCode::SEE_OTHER,
    );

    let bench: Router = examples::bench::app(examples::bench::Variant::Typed, store.clone())
        .expect("valid settings");
    let mut visitor = Browser::new(&bench);
    for _ in 0..3 {
        let visit = visitor.send("GET", "/visit").await;
        check("benchmark handler", visit.status, StatusCode::OK);
    }
    assert_eq!(worst, (1, 1), "the requests did load and save");
}

// ---------------------------------------------------------------- stored size

/// The realistic schema of the benchmarks.
#[derive(SessionSchema, Clone, Debug)]
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

/// The record the store receives for one session written by `write`.
async fn stored<F: AsyncFnOnce(Session)>(write: F) -> Record {
    let store = CountingStore::default();
    let session = Session::new(None, Arc::new(store.clone()), None);
    write(session.clone()).await;
    session.save().await.expect("save");
    store.last_written()
}

fn json_bytes(value: &Value) -> usize {
    serde_json::to_vec(value).expect("JSON").len()
}

fn msgpack_bytes<T: Serialize>(value: &T) -> usize {
    rmp_serde::to_vec(value).expect("MessagePack").len()
}

#[tokio::test]
async fn plain_fields_store_the_raw_bytes_and_an_envelope_costs_at_most_24() {
    let typed = stored(async |session| {
        VisitSession::new(session)
            .save(&visit())
            .await
            .expect("typed save");
    })
    .await;
    let raw = stored(async |session| {
        let visit = visit();
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
        session
            .insert("bench.csrf_token", visit.csrf_token)
            .await
            .expect("insert");
        session
            .insert("bench.notice", visit.notice)
            .await
            .expect("insert");
    })
    .await;

    println!("| key | raw JSON | typed JSON | raw MessagePack | typed MessagePack |");
    println!("|---|---:|---:|---:|---:|");
    let mut keys: Vec<&String> = raw.data.keys().collect();
    keys.sort();
    assert_eq!(
        typed.data.len(),
        raw.data.len(),
        "the same keys: {:?}",
        typed.data.keys()
    );
    for key in keys {
        let (raw_value, typed_value) = (&raw.data[key], &typed.data[key]);
        println!(
            "| `{key}` | {} | {} | {} | {} |",
            json_bytes(raw_value),
            json_bytes(typed_value),
            msgpack_bytes(raw_value),
            msgpack_bytes(typed_value),
        );
        if key == "bench.csrf_token" {
            let extra = json_bytes(typed_value) - json_bytes(raw_value);
            assert!(extra <= 24, "the envelope costs {extra} bytes of JSON");
            let extra = msgpack_bytes(typed_value) - msgpack_bytes(raw_value);
            assert!(
                extra <= 24,
                "the envelope costs {extra} bytes of MessagePack"
            );
        } else {
            assert_eq!(
                typed_value, raw_value,
                "{key}: a plain field stores the raw value"
            );
        }
    }
    println!(
        "| whole record | | | {} | {} |",
        msgpack_bytes(&raw),
        msgpack_bytes(&typed)
    );
}
