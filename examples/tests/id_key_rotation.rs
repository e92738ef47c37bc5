//! Rotating the key of a signed or encrypted id cookie under
//! `session_core::layer::SessionLayer` (`with_signed_keys`,
//! `with_private_keys`): the first key seals, every key opens, a cookie an
//! older key sealed is sent again sealed with the first, and a cookie no key
//! of the ring sealed is no cookie.

mod support;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use session_core::cas::CasMemoryStore;
use session_core::layer::{Key, LayerConfigError, SessionLayer, SessionLayerBuilder};
use session_core::{SessionError, SessionSchema};
use support::Browser;
use tower_sessions::cookie::{Cookie, CookieJar};

/// What the handlers keep in the session.
#[derive(SessionSchema, Serialize, Deserialize, Debug)]
#[session(namespace = "visit")]
struct Visit {
    #[session(default)]
    count: u64,
}

async fn read(visit: VisitSession) -> Result<String, SessionError> {
    Ok(visit.count().await?.to_string())
}

async fn increment(visit: VisitSession) -> Result<String, SessionError> {
    Ok(visit
        .update_count(|count| {
            *count += 1;
            *count
        })
        .await?
        .to_string())
}

async fn untouched() -> &'static str {
    "no session"
}

/// How the id cookie is protected: the builder method that takes a ring,
/// and how a test opens a cookie value with one key.
#[derive(Clone, Copy, Debug)]
enum Protection {
    Signed,
    Private,
}

impl Protection {
    fn protect(
        self,
        builder: SessionLayerBuilder<CasMemoryStore>,
        keys: Vec<Key>,
    ) -> SessionLayerBuilder<CasMemoryStore> {
        match self {
            Protection::Signed => builder.with_signed_keys(keys),
            Protection::Private => builder.with_private_keys(keys),
        }
    }

    /// The id in the cookie pair `id=value`, if `key` sealed it.
    fn open(self, key: &Key, pair: &str) -> Option<String> {
        let (name, value) = pair.split_once('=').expect("a name=value pair");
        let cookie = Cookie::new(name.to_owned(), value.to_owned());
        let jar = CookieJar::new();
        let opened = match self {
            Protection::Signed => jar.signed(key).verify(cookie),
            Protection::Private => jar.private(key).decrypt(cookie),
        };
        opened.map(|cookie| cookie.value().to_owned())
    }
}

fn key(byte: u8) -> Key {
    Key::from(&[byte; 64])
}

fn app(store: &CasMemoryStore, protection: Protection, keys: Vec<Key>) -> Router {
    let builder = SessionLayer::builder(store.clone()).with_secure(false);
    let layer = protection
        .protect(builder, keys)
        .build()
        .expect("valid settings");
    Router::new()
        .route("/count", get(read).post(increment))
        .route("/untouched", get(untouched))
        .layer(layer)
}

/// The `name=value` pair a response set.
fn pair(set_cookie: Option<&String>) -> Option<String> {
    set_cookie.map(|text| text.split(';').next().unwrap_or_default().to_owned())
}

async fn an_older_key_still_reads_and_the_cookie_comes_back_under_the_first(
    protection: Protection,
) {
    let store = CasMemoryStore::new();
    let (old, new) = (key(1), key(2));
    let before = app(&store, protection, vec![old.clone()]);
    let mut browser = Browser::new(&before);
    assert_eq!(browser.send("POST", "/count").await.body, "1");
    let old_cookie = browser.cookie.clone().expect("a session cookie");
    let id = protection
        .open(&old, &old_cookie)
        .expect("sealed with the old key");

    browser.app = app(&store, protection, vec![new.clone(), old.clone()]);
    let read = browser.send("GET", "/count").await;
    assert_eq!(
        (read.status, read.body.as_str()),
        (StatusCode::OK, "1"),
        "{protection:?}: the old cookie reads its session"
    );
    let resealed = pair(read.set_cookie.as_ref()).expect("the cookie is sent again");
    assert_ne!(resealed, old_cookie, "{protection:?}");
    assert_eq!(
        protection.open(&new, &resealed).as_deref(),
        Some(id.as_str()),
        "{protection:?}: the same id, sealed with the first key"
    );
    assert_eq!(
        protection.open(&old, &resealed),
        None,
        "{protection:?}: not with the old one"
    );

    let again = browser.send("GET", "/count").await;
    assert_eq!(again.body, "1");
    assert_eq!(
        again.set_cookie, None,
        "{protection:?}: a cookie under the first key is not sent again"
    );

    // A write with the old cookie is resealed too.
    browser.cookie = Some(old_cookie);
    let write = browser.send("POST", "/count").await;
    assert_eq!(write.body, "2", "{protection:?}");
    let resealed = pair(write.set_cookie.as_ref()).expect("the cookie is sent again");
    assert_eq!(protection.open(&new, &resealed), Some(id), "{protection:?}");
}

async fn a_request_that_never_uses_the_session_sends_no_cookie(protection: Protection) {
    let store = CasMemoryStore::new();
    let (old, new) = (key(1), key(2));
    let mut browser = Browser::new(&app(&store, protection, vec![old.clone()]));
    browser.send("POST", "/count").await;
    browser.app = app(&store, protection, vec![new, old]);
    let reply = browser.send("GET", "/untouched").await;
    assert_eq!(reply.body, "no session");
    assert_eq!(reply.set_cookie, None, "{protection:?}");
}

async fn a_cookie_under_a_key_not_in_the_ring_is_no_session(protection: Protection) {
    let store = CasMemoryStore::new();
    let stranger = key(9);
    let mut browser = Browser::new(&app(&store, protection, vec![stranger.clone()]));
    assert_eq!(browser.send("POST", "/count").await.body, "1");
    let foreign = browser.cookie.clone().expect("a session cookie");
    let foreign_id = protection.open(&stranger, &foreign).expect("its own key");

    let new = key(2);
    browser.app = app(&store, protection, vec![new.clone(), key(1)]);
    let read = browser.send("GET", "/count").await;
    assert_eq!(read.body, "0", "{protection:?}: read as no session");
    assert_eq!(read.set_cookie, None, "{protection:?}: nothing to send");
    let write = browser.send("POST", "/count").await;
    assert_eq!(write.body, "1", "{protection:?}: a new session");
    let fresh = pair(write.set_cookie.as_ref()).expect("a new cookie");
    let fresh_id = protection.open(&new, &fresh).expect("the first key");
    assert_ne!(
        fresh_id, foreign_id,
        "{protection:?}: the id is never adopted"
    );
}

#[tokio::test]
async fn signed_an_older_key_still_reads_and_the_cookie_comes_back_under_the_first() {
    an_older_key_still_reads_and_the_cookie_comes_back_under_the_first(Protection::Signed).await;
}

#[tokio::test]
async fn private_an_older_key_still_reads_and_the_cookie_comes_back_under_the_first() {
    an_older_key_still_reads_and_the_cookie_comes_back_under_the_first(Protection::Private).await;
}

#[tokio::test]
async fn signed_a_request_that_never_uses_the_session_sends_no_cookie() {
    a_request_that_never_uses_the_session_sends_no_cookie(Protection::Signed).await;
}

#[tokio::test]
async fn private_a_request_that_never_uses_the_session_sends_no_cookie() {
    a_request_that_never_uses_the_session_sends_no_cookie(Protection::Private).await;
}

#[tokio::test]
async fn signed_a_cookie_under_a_key_not_in_the_ring_is_no_session() {
    a_cookie_under_a_key_not_in_the_ring_is_no_session(Protection::Signed).await;
}

#[tokio::test]
async fn private_a_cookie_under_a_key_not_in_the_ring_is_no_session() {
    a_cookie_under_a_key_not_in_the_ring_is_no_session(Protection::Private).await;
}

#[test]
fn an_empty_ring_is_refused_at_build() {
    for protection in [Protection::Signed, Protection::Private] {
        let builder = SessionLayer::builder(CasMemoryStore::new());
        let error = protection
            .protect(builder, Vec::new())
            .build()
            .expect_err("no key");
        assert_eq!(error, LayerConfigError::NoCookieKeys, "{protection:?}");
    }
}
