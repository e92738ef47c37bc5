//! The example shop, driven like a browser: every page and form over real
//! cookies, and the binary restarted on the same `SQLite` file.

mod support;

use std::process::Command;

use axum::http::StatusCode;
use axum::{Extension, Router};
use examples::shop::{Shop, app};
use session_core::cas::{CasMemoryStore, LastWriterWins};
use session_core::{Clock, ManualClock};
use support::process::{Running, free_port, http, start_listening};
use support::{Browser, Reply, token_in};
use tower_sessions::{MemoryStore, Session};

fn shop() -> Router {
    app(CasMemoryStore::new()).expect("valid settings")
}

async fn page(browser: &mut Browser) -> (String, String) {
    let reply = browser.send("GET", "/").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let token = token_in(&reply.body);
    (reply.body, token)
}

async fn add(browser: &mut Browser, token: &str, sku: &str, quantity: &str) -> Reply {
    browser
        .form(
            "/cart",
            &[("sku", sku), ("quantity", quantity), ("csrf_token", token)],
        )
        .await
}

#[tokio::test]
async fn the_first_page_shows_the_defaults() {
    let mut browser = Browser::new(&shop());
    let (body, token) = page(&mut browser).await;
    assert!(body.contains(r#"<span id="count">0</span>"#), "{body}");
    assert!(body.contains("Language: en"), "{body}");
    assert!(body.contains(r#"action="/login""#), "{body}");
    assert_eq!(token.len(), 32, "16 random bytes in hex");
    assert!(
        browser.cookie.is_some(),
        "issuing a token starts the session"
    );
}

#[tokio::test]
async fn adding_to_the_cart_shows_the_item_and_a_flash_exactly_once() {
    let mut browser = Browser::new(&shop());
    let (_, token) = page(&mut browser).await;
    let reply = add(&mut browser, &token, "tea", "2").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.location.as_deref(), Some("/"));
    add(&mut browser, &token, "tea", "1").await;

    let (body, _) = page(&mut browser).await;
    assert!(
        body.contains(r#"<p id="notice">Added tea to your cart</p>"#),
        "{body}"
    );
    assert!(body.contains("<li>3 &times; tea</li>"), "{body}");
    let (body, _) = page(&mut browser).await;
    assert!(
        !body.contains("notice"),
        "the flash is gone on the next page: {body}"
    );
    assert!(body.contains(r#"<span id="count">3</span>"#), "{body}");
}

#[tokio::test]
async fn a_form_without_the_right_token_is_refused_and_changes_nothing() {
    let mut browser = Browser::new(&shop());
    let (_, token) = page(&mut browser).await;
    let cookie = browser.cookie.clone();
    for forged in ["", "0000", &token[..31], &format!("{token}0")] {
        let reply = add(&mut browser, forged, "tea", "1").await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "token {forged:?}");
    }
    let reply = browser
        .form("/cart", &[("sku", "tea"), ("quantity", "1")])
        .await;
    assert_eq!(
        reply.status,
        StatusCode::FORBIDDEN,
        "a form without the field is a forgery, not a malformed form"
    );
    assert!(reply.body.contains("reload the page"), "{}", reply.body);
    assert_eq!(browser.cookie, cookie, "the session id did not change");
    let (body, _) = page(&mut browser).await;
    assert!(body.contains(r#"<span id="count">0</span>"#), "{body}");
    assert!(!body.contains("notice"), "{body}");
}

#[tokio::test]
async fn every_form_checks_the_token() {
    let mut browser = Browser::new(&shop());
    let (_, token) = page(&mut browser).await;
    add(&mut browser, &token, "tea", "1").await;
    page(&mut browser).await;
    let cookie = browser.cookie.clone();
    let forged = "f".repeat(32);
    for (path, fields) in [
        ("/locale", vec![("locale", "fr")]),
        ("/login", vec![("user_id", "42")]),
        ("/logout", vec![]),
    ] {
        let mut fields = fields;
        fields.push(("csrf_token", &forged));
        let reply = browser.form(path, &fields).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}");
        fields.pop();
        let reply = browser.form(path, &fields).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{path} without a token"
        );
    }
    assert_eq!(browser.cookie, cookie, "no login, no logout, no new id");
    let (body, same) = page(&mut browser).await;
    assert_eq!(same, token);
    assert!(body.contains("Language: en"), "{body}");
    assert!(body.contains(r#"action="/login""#), "{body}");
    assert!(body.contains("<li>1 &times; tea</li>"), "{body}");
}

#[tokio::test]
async fn a_post_without_a_session_is_refused_and_starts_none() {
    let mut browser = Browser::new(&shop());
    let reply = add(&mut browser, &"0".repeat(32), "tea", "1").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.set_cookie, None, "a forged request stores nothing");
}

#[tokio::test]
async fn markup_in_a_product_name_is_escaped() {
    let mut browser = Browser::new(&shop());
    let (_, token) = page(&mut browser).await;
    add(&mut browser, &token, r#"<script>alert("x")</script>"#, "1").await;
    let (body, _) = page(&mut browser).await;
    assert!(!body.contains("<script>"), "{body}");
    assert!(
        body.contains("1 &times; &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</li>"),
        "{body}"
    );
    assert!(
        body.contains("Added &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; to your cart"),
        "{body}"
    );
}

#[tokio::test]
async fn bad_input_is_a_400() {
    let mut browser = Browser::new(&shop());
    let (_, token) = page(&mut browser).await;
    assert_eq!(
        add(&mut browser, &token, " ", "1").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        add(&mut browser, &token, "tea", "0").await.status,
        StatusCode::BAD_REQUEST
    );
    let reply = browser
        .form("/locale", &[("locale", "xx"), ("csrf_token", &token)])
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    browser
        .form("/locale", &[("locale", "fr"), ("csrf_token", &token)])
        .await;
    assert!(page(&mut browser).await.0.contains("Language: fr"));
}

#[tokio::test]
async fn login_changes_the_session_cookie_and_the_old_one_is_dead() {
    let app = shop();
    let mut browser = Browser::new(&app);
    let (_, token) = page(&mut browser).await;
    add(&mut browser, &token, "jam", "1").await;
    let before = browser.cookie.clone().expect("a cookie");

    let reply = browser
        .form("/login", &[("user_id", "42"), ("csrf_token", &token)])
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let after = browser.cookie.clone().expect("a cookie");
    assert_ne!(before, after, "logging in cycles the session id");
    let (body, _) = page(&mut browser).await;
    assert!(
        body.contains("Logged in as user 42") && body.contains("1 &times; jam"),
        "{body}"
    );

    the_old_id_is_dead(&app, Some(before)).await;
}

/// A client that still holds an id that a log in or log out ended: while the
/// store remembers the id as ended (a minute by default), a page that writes
/// the session is refused and sets no cookie, so a request that was in
/// flight cannot put a dead id back into the browser.
async fn the_old_id_is_dead(app: &Router, old: Option<String>) {
    let mut stale = Browser::new(app);
    stale.cookie = old;
    let reply = stale.send("GET", "/").await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    assert!(
        reply.body.contains("ended by another request"),
        "{}",
        reply.body
    );
    assert!(reply.set_cookie.is_none(), "no cookie for a dead id");
}

#[tokio::test]
async fn once_the_ended_marker_is_gone_an_old_id_starts_a_fresh_session() {
    let store = CasMemoryStore::new().with_ended_marker_lifetime(std::time::Duration::ZERO);
    let app = app(store).expect("valid settings");
    let mut browser = Browser::new(&app);
    let (_, token) = page(&mut browser).await;
    browser
        .form("/login", &[("user_id", "42"), ("csrf_token", &token)])
        .await;
    let (_, token) = page(&mut browser).await;
    add(&mut browser, &token, "jam", "1").await;
    let logged_in = browser.cookie.clone();
    browser.form("/logout", &[("csrf_token", &token)]).await;

    let mut stale = Browser::new(&app);
    stale.cookie = logged_in.clone();
    let (body, _) = page(&mut stale).await;
    assert!(
        !body.contains("Logged in") && body.contains(r#"<span id="count">0</span>"#),
        "{body}"
    );
    assert_ne!(stale.cookie, logged_in, "a fresh session under a fresh id");
}

#[tokio::test]
async fn login_replaces_the_csrf_token() {
    let mut browser = Browser::new(&shop());
    let (_, before) = page(&mut browser).await;
    browser
        .form("/login", &[("user_id", "42"), ("csrf_token", &before)])
        .await;
    assert_eq!(
        add(&mut browser, &before, "tea", "1").await.status,
        StatusCode::FORBIDDEN,
        "a token known before login is dead after it"
    );
    let (body, after) = page(&mut browser).await;
    assert_ne!(after, before);
    assert!(body.contains("Welcome, user 42"), "{body}");
    assert_eq!(
        add(&mut browser, &after, "tea", "1").await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = shop();
    let mut browser = Browser::new(&app);
    let (_, token) = page(&mut browser).await;
    browser
        .form("/login", &[("user_id", "7"), ("csrf_token", &token)])
        .await;
    let (_, token) = page(&mut browser).await;
    add(&mut browser, &token, "tea", "2").await;
    let logged_in = browser.cookie.clone();

    let reply = browser.form("/logout", &[("csrf_token", &token)]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(browser.cookie, None, "the response removes the cookie");
    let (body, fresh) = page(&mut browser).await;
    assert!(
        body.contains(r#"action="/login""#) && body.contains(r#"<span id="count">0</span>"#),
        "{body}"
    );
    assert_ne!(fresh, token, "a fresh session has a fresh token");
    assert_ne!(browser.cookie, logged_in, "and a fresh id");

    the_old_id_is_dead(&app, logged_in).await;
}

#[tokio::test]
async fn the_csrf_token_expires_after_fifteen_minutes() {
    let clock = ManualClock::starting_at_unix(1_700_000_000);
    let app = shop().layer(Extension(Clock::from(clock.clone())));
    let mut early = Browser::new(&app);
    let (_, early_token) = page(&mut early).await;
    let mut late = Browser::new(&app);
    let (_, late_token) = page(&mut late).await;

    clock.advance(session_core::time::Duration::seconds(15 * 60 - 1));
    assert_eq!(
        add(&mut early, &early_token, "tea", "1").await.status,
        StatusCode::SEE_OTHER,
        "one second before the deadline"
    );
    clock.advance(session_core::time::Duration::seconds(2));
    assert_eq!(
        add(&mut late, &late_token, "tea", "1").await.status,
        StatusCode::FORBIDDEN,
        "one second after the deadline"
    );
    let (body, fresh) = page(&mut late).await;
    assert_ne!(fresh, late_token, "the page issues a new token");
    assert!(body.contains(r#"<span id="count">0</span>"#), "{body}");
    assert_eq!(
        add(&mut late, &fresh, "tea", "1").await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_cart_of_the_wrong_type_is_a_500_without_details() {
    async fn corrupt(session: Session) -> StatusCode {
        match session.insert("shop.cart", "not a cart").await {
            Ok(()) => StatusCode::OK,
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
    let store = MemoryStore::default();
    let corrupting = Router::new()
        .route("/corrupt", axum::routing::post(corrupt))
        .layer(tower_sessions::SessionManagerLayer::new(store.clone()).with_secure(false));
    let mut browser = Browser::new(&app(LastWriterWins::new(store)).expect("valid settings"));
    page(&mut browser).await;
    let mut raw = Browser::new(&corrupting);
    raw.cookie = browser.cookie.clone();
    assert_eq!(raw.send("POST", "/corrupt").await.status, StatusCode::OK);

    let reply = browser.send("GET", "/").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.body, "The session could not be read or written.");
    assert!(
        !reply.body.contains("shop.cart") && !reply.body.contains("Vec"),
        "{}",
        reply.body
    );
}

#[test]
fn the_stored_layout_matches_its_snapshot() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/snapshots/shop.schema.json"
    );
    session_core::testing::assert_schema_snapshot::<Shop>(path);
}

// ---------------------------------------------------------------- the binary

fn start_shop(database: &std::path::Path, port: u16) -> Running {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shop"));
    command.env("SHOP_DB", database);
    start_listening(command, port)
}

#[test]
fn a_session_survives_a_restart_of_the_binary() {
    let database = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("shop-{}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&database);
    let port = free_port();

    let first = start_shop(&database, port);
    let front = http(port, "GET", "/", None, "");
    assert_eq!(front.status, 200);
    let cookie = front.set_cookie.expect("a session cookie");
    let form = format!("sku=tea&quantity=4&csrf_token={}", token_in(&front.body));
    assert_eq!(
        http(port, "POST", "/cart", Some(&cookie), &form).status,
        303
    );
    drop(first);

    let _second = start_shop(&database, port);
    let front = http(port, "GET", "/", Some(&cookie), "");
    assert_eq!(front.status, 200);
    assert!(
        front.body.contains("<li>4 &times; tea</li>"),
        "the cart survived the restart: {}",
        front.body
    );
    let _ = std::fs::remove_file(&database);
}
