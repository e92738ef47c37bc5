//! What the fuzz targets share: the schema they read through, the app they
//! send requests to, the fixed test keys, and the checks every response
//! must pass.
//!
//! The contract the targets assert: nothing panics, a decode failure is an
//! error value, and a request with any cookie or id header is answered with
//! a well-formed response that is never a `5xx` (a garbage cookie is an
//! empty session).

#![forbid(unsafe_code)]

use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, Response, StatusCode};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use session_core::SessionSchema;
use tower::ServiceExt;

/// The fixed time the targets' clocks start at, in Unix seconds.
pub const NOW: i64 = 1_700_000_000;

/// The test key that seals cookies (never a key of a real deployment).
pub const KEY: [u8; 32] = [7; 32];

/// A second test key: cookies sealed with it open and are sealed again
/// with [`KEY`].
pub const OLD_KEY: [u8; 32] = [9; 32];

/// One line of the cart, as version 2 stores it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// The product.
    pub sku: String,
    /// How many.
    pub quantity: u32,
}

/// Version 1 of the schema: SKUs repeated, a user name.
#[derive(SessionSchema, Clone, Debug, PartialEq)]
#[session(namespace = "fz", version = 1)]
pub struct FuzzV1 {
    /// SKUs, one per item.
    #[session(default)]
    pub items: Vec<String>,
    /// `u<digits>` when logged in.
    pub user: Option<String>,
    /// A token that expires.
    #[session(expires_in = "15m")]
    pub token: Option<String>,
}

/// Version 2: quantities, a numeric user id that rotates the session id,
/// a flash and a counter.
#[derive(SessionSchema, Clone, Debug, PartialEq)]
#[session(namespace = "fz", version = 2, migrate_from = FuzzV1)]
pub struct Fuzz {
    /// The cart.
    #[session(default)]
    pub items: Vec<Line>,
    /// The logged in user.
    #[session(rotate_id)]
    pub user_id: Option<u64>,
    /// A token that expires.
    #[session(expires_in = "15m")]
    pub token: Option<String>,
    /// A message shown once.
    #[session(flash)]
    pub notice: Option<String>,
    /// How many writes the session saw.
    #[session(default)]
    pub count: u64,
}

/// User names were `u<digits>`; anything else fails the migration.
impl TryFrom<FuzzV1> for Fuzz {
    type Error = String;

    fn try_from(v1: FuzzV1) -> Result<Self, Self::Error> {
        let user_id = match v1.user {
            Some(name) => Some(
                name.strip_prefix('u')
                    .and_then(|digits| digits.parse().ok())
                    .ok_or_else(|| format!("user name `{name}` is not u<digits>"))?,
            ),
            None => None,
        };
        let mut items: Vec<Line> = Vec::new();
        for sku in v1.items {
            match items.iter_mut().find(|line| line.sku == sku) {
                Some(line) => line.quantity = line.quantity.saturating_add(1),
                None => items.push(Line { sku, quantity: 1 }),
            }
        }
        Ok(Fuzz {
            items,
            user_id,
            token: v1.token,
            notice: None,
            count: 0,
        })
    }
}

/// Every storage key of the schema, the version key last.
pub const KEYS: [&str; 7] = [
    "fz.items",
    "fz.user",
    "fz.token",
    "fz.user_id",
    "fz.notice",
    "fz.count",
    "fz.__version",
];

/// Reads every field; a decode error is the handler's to report, so it
/// answers `200` whatever the session holds.
async fn read(session: FuzzSession) -> &'static str {
    let _ = session.items().await;
    let _ = session.user_id().await;
    let _ = session.token().await;
    let _ = session.token_expires_at().await;
    let _ = session.take_notice().await;
    let _ = session.load().await;
    "read"
}

/// Counts, sets a flash and a token, adds an item.
async fn write(session: FuzzSession) -> &'static str {
    let _ = session
        .update_count(|count| *count = count.saturating_add(1))
        .await;
    let _ = session.set_notice("saved".to_owned()).await;
    let _ = session.set_token("t0k3n".to_owned()).await;
    let _ = session
        .update_items(|items| {
            items.push(Line {
                sku: "tea".to_owned(),
                quantity: 1,
            });
        })
        .await;
    "written"
}

/// Logs in: a `rotate_id` field, so the id changes.
async fn login(session: FuzzSession) -> &'static str {
    let _ = session.set_user_id(42).await;
    "in"
}

/// Ends the session.
async fn logout(session: FuzzSession) -> &'static str {
    let _ = session.clear().await;
    "out"
}

/// The routes every layer is tested around, indexed by [`route`].
pub const ROUTES: [(&str, &str); 4] = [
    ("GET", "/read"),
    ("POST", "/write"),
    ("POST", "/login"),
    ("POST", "/logout"),
];

/// The method and path of route `index` (modulo the number of routes).
#[must_use]
pub fn route(index: u8) -> (&'static str, &'static str) {
    ROUTES[usize::from(index) % ROUTES.len()]
}

/// The app, without a session layer.
pub fn app() -> Router {
    Router::new()
        .route("/read", get(read))
        .route("/write", post(write))
        .route("/login", post(login))
        .route("/logout", post(logout))
}

/// One current-thread runtime for the whole process.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

/// Sends `method path` with `headers` to `app` in process.
pub fn send(app: &Router, method: &str, path: &str, headers: HeaderMap) -> Response<Body> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .expect("a valid request line");
    *request.headers_mut() = headers;
    runtime()
        .block_on(app.clone().oneshot(request))
        .expect("a router's error is infallible")
}

/// Checks what every response must be: not a `5xx`, and every
/// `Set-Cookie` a cookie a browser parses. Returns the value of the
/// cookie named `name` the response sets, if any.
///
/// # Panics
///
/// When the response breaks the contract: that is the finding.
#[must_use]
pub fn check(response: &Response<Body>, name: &str) -> Option<String> {
    let status = response.status();
    assert!(
        !status.is_server_error() && status != StatusCode::CONFLICT,
        "a request answered {status}"
    );
    let mut set = None;
    for value in response.headers().get_all(http::header::SET_COOKIE) {
        let text = value.to_str().expect("a Set-Cookie header is ASCII");
        let cookie = cookie::Cookie::parse(text).expect("a Set-Cookie header parses");
        if cookie.name() == name && !cookie.value().is_empty() {
            set = Some(cookie.value().to_owned());
        }
    }
    set
}

/// `plaintext` sealed for the cookie `name` with `key`, as the private jar
/// seals (what the cookie layer and `with_private` send).
#[must_use]
pub fn seal_private(key: &[u8], name: &str, plaintext: &str) -> String {
    let key = cookie::Key::derive_from(key);
    let mut jar = cookie::CookieJar::new();
    jar.private_mut(&key)
        .add(cookie::Cookie::new(name.to_owned(), plaintext.to_owned()));
    jar.get(name)
        .map(|cookie| cookie.value().to_owned())
        .expect("the jar holds what was added")
}

/// `value` signed for the cookie `name` with `key`, as `with_signed` signs.
#[must_use]
pub fn sign(key: &cookie::Key, name: &str, value: &str) -> String {
    let mut jar = cookie::CookieJar::new();
    jar.signed_mut(key)
        .add(cookie::Cookie::new(name.to_owned(), value.to_owned()));
    jar.get(name)
        .map(|cookie| cookie.value().to_owned())
        .expect("the jar holds what was added")
}

/// The plaintext of the private cookie `name=value` sealed with `key`, or
/// `None` when `key` does not open it.
#[must_use]
pub fn open_private(key: &[u8], name: &str, value: &str) -> Option<String> {
    let key = cookie::Key::derive_from(key);
    cookie::CookieJar::new()
        .private(&key)
        .decrypt(cookie::Cookie::new(name.to_owned(), value.to_owned()))
        .map(|cookie| cookie.value().to_owned())
}
