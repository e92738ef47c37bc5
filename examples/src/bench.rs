//! The load benchmark's app: one handler (load the session, increment the
//! counter, push to the cart, respond), written four ways and served under
//! two session layers, so they can be measured side by side.

use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use session_core::cas::{CasStore, LastWriterWins};
use session_core::layer::cookie::{CookieKeys, CookieSessionLayer};
use session_core::layer::{LayerConfigError, SessionLayer};
use session_core::time::Duration;
use session_core::{SessionError, SessionSchema};
use tower_sessions::{Expiry, Session, SessionManagerLayer, SessionStore};

/// The most items the cart keeps; older ones drop out.
const CART_LIMIT: usize = 10;

/// One line of the cart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The product.
    pub sku: String,
    /// How many.
    pub quantity: u32,
}

/// What the benchmark keeps in the session.
#[derive(SessionSchema, Clone, Debug, Default, Serialize, Deserialize)]
#[session(namespace = "bench")]
pub struct Visit {
    /// Requests so far.
    #[session(default)]
    pub counter: u64,
    /// The last few items added.
    #[session(default)]
    pub cart: Vec<Item>,
}

/// The answer of every variant.
#[derive(Debug, Serialize)]
pub struct Reply {
    /// The counter after this request.
    pub counter: u64,
    /// Items in the cart after this request.
    pub cart: usize,
}

/// The ways the handler is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// No session at all: the limit.
    Bare,
    /// tower-sessions' raw API, one key per value.
    RawPerKey,
    /// tower-sessions' raw API, the whole struct under one key.
    RawSingleKey,
    /// Our typed handle.
    Typed,
    /// Our typed handle under our layer, on the same tower-sessions store.
    TypedOurLayer,
}

impl Variant {
    /// Every variant, in the order the benchmark reports them.
    pub const ALL: [Self; 5] = [
        Self::Bare,
        Self::RawPerKey,
        Self::RawSingleKey,
        Self::Typed,
        Self::TypedOurLayer,
    ];

    /// The row label.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Bare => "bare axum, no session",
            Self::RawPerKey => "tower-sessions raw, per-key",
            Self::RawSingleKey => "tower-sessions raw, single-key",
            Self::Typed => "typed handle, tower-sessions layer",
            Self::TypedOurLayer => "typed handle, session-core layer",
        }
    }
}

/// The next item pushed to the cart.
fn item(counter: u64) -> Item {
    Item {
        sku: format!("sku-{:04}", counter % 1000),
        quantity: 1,
    }
}

fn push_capped(cart: &mut Vec<Item>, item: Item) {
    cart.push(item);
    if cart.len() > CART_LIMIT {
        cart.remove(0);
    }
}

async fn bare() -> Json<Reply> {
    let mut visit = Visit::default();
    visit.counter += 1;
    push_capped(&mut visit.cart, item(visit.counter));
    Json(Reply {
        counter: visit.counter,
        cart: visit.cart.len(),
    })
}

async fn raw_per_key(session: Session) -> Result<Json<Reply>, SessionError> {
    let counter = session
        .get::<u64>("bench.counter")
        .await?
        .unwrap_or_default()
        + 1;
    session.insert("bench.counter", counter).await?;
    let mut cart: Vec<Item> = session.get("bench.cart").await?.unwrap_or_default();
    push_capped(&mut cart, item(counter));
    let len = cart.len();
    session.insert("bench.cart", cart).await?;
    Ok(Json(Reply { counter, cart: len }))
}

async fn raw_single_key(session: Session) -> Result<Json<Reply>, SessionError> {
    let mut visit: Visit = session.get("visit").await?.unwrap_or_default();
    visit.counter += 1;
    push_capped(&mut visit.cart, item(visit.counter));
    let reply = Reply {
        counter: visit.counter,
        cart: visit.cart.len(),
    };
    session.insert("visit", visit).await?;
    Ok(Json(reply))
}

async fn typed(visit: VisitSession) -> Result<Json<Reply>, SessionError> {
    let counter = visit
        .update_counter(|counter| {
            *counter += 1;
            *counter
        })
        .await?;
    let cart = visit
        .update_cart(|cart| {
            push_capped(cart, item(counter));
            cart.len()
        })
        .await?;
    Ok(Json(Reply { counter, cart }))
}

/// Records end five minutes after the last visit.
const IDLE: Duration = Duration::minutes(5);

/// `GET /visit` written as `variant`, sessions in `store`.
///
/// # Errors
///
/// None with these settings; our layer checks its cookie settings when it
/// is built.
pub fn app<S: SessionStore + Clone>(
    variant: Variant,
    store: S,
) -> Result<Router, LayerConfigError> {
    let router = match variant {
        Variant::Bare => return Ok(Router::new().route("/visit", get(bare))),
        Variant::TypedOurLayer => return app_on_cas_store(LastWriterWins::new(store)),
        Variant::RawPerKey => Router::new().route("/visit", get(raw_per_key)),
        Variant::RawSingleKey => Router::new().route("/visit", get(raw_single_key)),
        Variant::Typed => Router::new().route("/visit", get(typed)),
    };
    // Plain HTTP on loopback.
    Ok(router.layer(
        SessionManagerLayer::new(store)
            .with_secure(false)
            .with_expiry(Expiry::OnInactivity(IDLE)),
    ))
}

/// `GET /visit` with the typed handle under our layer, sessions in `store`.
///
/// # Errors
///
/// None with these settings; the layer checks its cookie settings when it
/// is built.
pub fn app_on_cas_store<S: CasStore>(store: S) -> Result<Router, LayerConfigError> {
    let layer = SessionLayer::builder(store)
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(IDLE))
        .build()?;
    Ok(Router::new().route("/visit", get(typed)).layer(layer))
}

/// `GET /visit` with the typed handle, the whole session in a cookie sealed
/// with `keys`.
///
/// # Errors
///
/// None with these settings; the layer checks its cookie settings when it
/// is built.
pub fn app_with_cookie_sessions(keys: CookieKeys) -> Result<Router, LayerConfigError> {
    let layer = CookieSessionLayer::builder(keys)
        .with_secure(false)
        .with_idle_timeout(std::time::Duration::from_secs(5 * 60))
        .build()?;
    Ok(Router::new().route("/visit", get(typed)).layer(layer))
}
