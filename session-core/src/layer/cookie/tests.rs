//! The layer around a small router, in process: what each kind of request
//! gets back. `examples/tests/cookie_sessions.rs` covers the same over real
//! HTTP with typed schemas, tampering, rotation and revocation.

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{Request, StatusCode, header};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use tower::ServiceExt;
use tower_sessions::Session;

use super::*;
use crate::ManualClock;

async fn count(session: Session) -> String {
    let count: u64 = session.get("count").await.ok().flatten().unwrap_or(0) + 1;
    let _ = session.insert("count", count).await;
    count.to_string()
}

async fn ends(session: Session) -> String {
    session.expiry_date().unix_timestamp().to_string()
}

async fn read(session: Session) -> String {
    let count: Option<u64> = session.get("count").await.ok().flatten();
    format!("{count:?}")
}

async fn grow(session: Session, Path(bytes): Path<usize>) -> &'static str {
    let _ = session.insert("big", "x".repeat(bytes)).await;
    "grown"
}

async fn fail(session: Session) -> StatusCode {
    let _ = session.insert("count", 1000).await;
    StatusCode::INTERNAL_SERVER_ERROR
}

async fn logout(session: Session) -> &'static str {
    let _ = session.flush().await;
    "bye"
}

fn app(layer: CookieSessionLayer) -> Router {
    Router::new()
        .route("/count", post(count))
        .route("/read", get(read))
        .route("/ends", get(ends))
        .route("/grow/{bytes}", post(grow))
        .route("/fail", post(fail))
        .route("/logout", post(logout))
        .layer(layer)
}

fn keys() -> CookieKeys {
    CookieKeys::new([[7u8; 32]]).expect("a key")
}

struct Reply {
    status: StatusCode,
    body: String,
    set_cookie: Option<String>,
    cache_control: Option<String>,
}

async fn send(app: &Router, method: &str, uri: &str, cookie: Option<&str>) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).expect("a request"))
        .await
        .expect("infallible");
    let text = |name| {
        response
            .headers()
            .get(name)
            .map(|value: &header::HeaderValue| value.to_str().expect("ASCII").to_owned())
    };
    let set_cookie = text(header::SET_COOKIE);
    let cache_control = text(header::CACHE_CONTROL);
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Reply {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
        set_cookie,
        cache_control,
    }
}

/// The `name=value` pair of a `Set-Cookie`.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().expect("a pair").to_owned()
}

#[tokio::test]
async fn a_session_travels_in_the_cookie() {
    let app = app(CookieSessionLayer::builder(keys()).build().expect("layer"));
    let first = send(&app, "POST", "/count", None).await;
    assert_eq!(first.body, "1");
    let set_cookie = first.set_cookie.expect("a cookie");
    assert!(
        set_cookie.contains("HttpOnly")
            && set_cookie.contains("Secure")
            && set_cookie.contains("SameSite=Strict")
            && set_cookie.contains("Max-Age=7200"),
        "{set_cookie}"
    );
    assert_eq!(first.cache_control.as_deref(), Some("no-store"));
    let cookie = pair(&set_cookie);
    let second = send(&app, "POST", "/count", Some(&cookie)).await;
    assert_eq!(second.body, "2");
    let read = send(
        &app,
        "GET",
        "/read",
        Some(&pair(&second.set_cookie.expect("a cookie"))),
    )
    .await;
    assert_eq!(read.body, "Some(2)");
    assert_eq!(read.set_cookie, None, "a read sends nothing");

    let fresh = send(&app, "GET", "/read", None).await;
    assert_eq!((fresh.body.as_str(), fresh.set_cookie), ("None", None));
}

#[tokio::test]
async fn a_tampered_cookie_is_an_empty_session_and_removed() {
    let app = app(CookieSessionLayer::builder(keys()).build().expect("layer"));
    let cookie = pair(
        &send(&app, "POST", "/count", None)
            .await
            .set_cookie
            .expect("a cookie"),
    );
    let (name, value) = cookie.split_once('=').expect("a pair");
    let mut bytes = value.as_bytes().to_vec();
    bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{name}={}", String::from_utf8(bytes).expect("ASCII"));
    let reply = send(&app, "GET", "/read", Some(&tampered)).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::OK, "None")
    );
    let removal = reply.set_cookie.expect("the cookie is removed");
    assert!(
        removal.starts_with("id=;") && removal.contains("Max-Age=0"),
        "{removal}"
    );
    assert_eq!(reply.cache_control.as_deref(), Some("no-store"));
}

#[tokio::test]
async fn deadlines_follow_the_layer_clock() {
    let clock = ManualClock::starting_at_unix(1_700_000_000);
    let layer = CookieSessionLayer::builder(keys())
        .with_idle_timeout(Duration::from_secs(600))
        .with_absolute_timeout(Duration::from_secs(3600))
        .with_clock(clock.clone().into())
        .build()
        .expect("layer");
    let app = app(layer);
    assert_eq!(
        send(&app, "GET", "/ends", None).await.body,
        "1700000600",
        "a new session would end after the idle timeout"
    );
    let mut cookie = pair(
        &send(&app, "POST", "/count", None)
            .await
            .set_cookie
            .expect("a cookie"),
    );
    assert_eq!(
        send(&app, "GET", "/ends", Some(&cookie)).await.body,
        "1700000600",
        "`expiry_date` is the earlier deadline"
    );
    for _ in 0..6 {
        clock.advance(time::Duration::seconds(599));
        let reply = send(&app, "GET", "/read", Some(&cookie)).await;
        assert_eq!(reply.body, "Some(1)", "used within the idle timeout");
        cookie = pair(&reply.set_cookie.expect("the idle deadline moves"));
    }
    clock.advance(time::Duration::seconds(6));
    let reply = send(&app, "GET", "/read", Some(&cookie)).await;
    assert_eq!(reply.body, "None", "the absolute deadline passed");
    assert!(reply.set_cookie.expect("removed").contains("Max-Age=0"));
}

#[tokio::test]
async fn an_oversized_session_is_a_500_and_no_cookie() {
    let app = app(CookieSessionLayer::builder(keys()).build().expect("layer"));
    let cookie = pair(
        &send(&app, "POST", "/count", None)
            .await
            .set_cookie
            .expect("a cookie"),
    );
    let reply = send(&app, "POST", "/grow/2800", Some(&cookie)).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "2800 bytes fit: {}",
        reply.body
    );
    let reply = send(&app, "POST", "/grow/3200", Some(&cookie)).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.set_cookie, None);
    assert_eq!(reply.body, "The session could not be read or written.");
    assert_eq!(reply.cache_control.as_deref(), Some("no-store"));
    let reply = send(&app, "GET", "/read", Some(&cookie)).await;
    assert_eq!(reply.body, "Some(1)", "the previous cookie still works");
}

#[tokio::test]
async fn a_failed_handler_and_a_logout() {
    let app = app(CookieSessionLayer::builder(keys()).build().expect("layer"));
    let cookie = pair(
        &send(&app, "POST", "/count", None)
            .await
            .set_cookie
            .expect("a cookie"),
    );
    let reply = send(&app, "POST", "/fail", Some(&cookie)).await;
    assert_eq!(
        (reply.status, reply.set_cookie),
        (StatusCode::INTERNAL_SERVER_ERROR, None)
    );
    let reply = send(&app, "POST", "/logout", Some(&cookie)).await;
    assert!(reply.set_cookie.expect("removed").contains("Max-Age=0"));
    let reply = send(&app, "POST", "/logout", None).await;
    assert_eq!(reply.set_cookie, None, "nothing to remove");
}

#[cfg(feature = "axum")]
#[tokio::test]
async fn the_size_error_is_a_generic_500() {
    use axum_core::response::IntoResponse;

    let error = crate::SessionError::CookieTooLarge {
        size: 5000,
        limit: COOKIE_SIZE_LIMIT,
        largest: vec![("shop.cart".to_owned(), 3900)],
    };
    let response = error.into_response();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(body, "The session could not be read or written.");
}

/// The `Set-Cookie` length of a session holding `data`, with the default
/// settings; and the same from the documented formula.
fn sizes(data: crate::cas::Data) -> (usize, usize) {
    let layer = CookieSessionLayer::builder(keys()).build().expect("layer");
    let now = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("time");
    let payload = super::payload::Payload {
        id: crate::cas::SessionId::from_i128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
        issued: 1_700_000_000,
        idle_until: Some(1_700_007_200),
        absolute_until: 1_700_604_800,
        data,
    };
    let json = payload.encode().len();
    let header = match super::service::sealed(&layer.shared, &payload, now) {
        Ok(header) => header.len(),
        Err(_) => usize::MAX,
    };
    (header, ATTRIBUTES + 4 * (json + 28).div_ceil(3))
}

/// `id=` and `; HttpOnly; SameSite=Strict; Secure; Path=/; Max-Age=7200`,
/// as the module documentation says.
const ATTRIBUTES: usize = 3 + 57;

#[test]
fn the_size_of_each_stored_shape() {
    use serde_json::json;
    let shapes = [
        ("a u64 counter", json!({"counter.count": 42})),
        (
            "the shop: 3 cart items, locale, CSRF token (expires_in), notice",
            json!({
                "shop.cart": [
                    {"sku": "tea-earl-grey-250g", "quantity": 2},
                    {"sku": "mug-stoneware-blue", "quantity": 1},
                    {"sku": "kettle-steel-1.7l", "quantity": 1},
                ],
                "shop.locale": "fr",
                "shop.csrf_token": {"exp": 1_700_000_900, "v": "9f86d081884c7d659a2feaa0c55ad015"},
                "shop.notice": "Added kettle-steel-1.7l",
            }),
        ),
    ];
    let mut measured_sizes = Vec::new();
    for (shape, data) in shapes {
        let data = crate::cas::Data::decode(data.to_string().as_bytes()).expect("a map");
        let (measured, formula) = sizes(data);
        println!("{shape}: {measured} bytes");
        assert_eq!(measured, formula, "{shape}");
        measured_sizes.push(measured);
    }
    assert_eq!(
        measured_sizes,
        [280, 620],
        "the figures of the module documentation"
    );
    let (empty, _) = sizes(crate::cas::Data::default());
    println!("the fixed cost (no data): {empty} bytes");
    assert_eq!(empty, 256);
    assert_eq!(empty, ATTRIBUTES + 4 * (119_usize + 28).div_ceil(3));
}

#[test]
fn zero_timeouts_are_refused_at_build() {
    let keys = || CookieKeys::new([[9_u8; 32]]).expect("a 32-byte key");
    let idle = CookieSessionLayer::builder(keys())
        .with_idle_timeout(Duration::ZERO)
        .build()
        .expect_err("a zero idle timeout");
    assert_eq!(idle, LayerConfigError::ZeroTimeout { which: "idle" });
    assert!(idle.to_string().contains("idle timeout"), "{idle}");
    let absolute = CookieSessionLayer::builder(keys())
        .with_absolute_timeout(Duration::ZERO)
        .build()
        .expect_err("a zero absolute timeout");
    assert_eq!(
        absolute,
        LayerConfigError::ZeroTimeout { which: "absolute" }
    );
    assert!(
        CookieSessionLayer::builder(keys())
            .without_idle_timeout()
            .build()
            .is_ok(),
        "no idle timeout at all is fine"
    );
}
