//! The example shop, driven like a browser: every page and form over real
//! cookies, and the binary restarted on the same `SQLite` file.

mod support;

use std::process::Command;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::routing::post;
use axum::{Extension, Router};
use examples::shop::{
    MAX_FORM_BYTES, MAX_LINES, MAX_NAME_CHARS, MAX_QUANTITY, Shop, ShopSession, app, app_with,
};
use http_body_util::BodyExt;
use session_core::cas::{CasMemoryStore, LastWriterWins};
use session_core::{Clock, ManualClock};
use support::process::{Running, free_port, http, start_listening};
use support::{Browser, Reply, token_in};
use tower::ServiceExt;
use tower_sessions::{MemoryStore, Session};

const FORM: &str = "application/x-www-form-urlencoded";

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
async fn the_first_page_shows_the_defaults_and_starts_no_session() {
    let mut browser = Browser::new(&shop());
    let reply = browser.send("GET", "/").await;
    let body = &reply.body;
    assert!(body.contains(r#"<span id="count">0</span>"#), "{body}");
    assert!(body.contains(r#"<html lang="en">"#), "{body}");
    assert!(body.contains(r#"action="/login""#), "{body}");
    let token = token_in(body);
    let cookie = reply.set_cookie.expect("the signed CSRF cookie");
    assert!(
        cookie.starts_with(&format!("shop_csrf={token};")) && cookie.contains("HttpOnly"),
        "the cookie carries the form's token: {cookie}"
    );
    assert!(!cookie.contains("id="), "no session cookie: {cookie}");
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
        body.contains(r#"<p id="notice" role="status">Added 1 × tea to your cart</p>"#),
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
    assert_eq!(browser.cookie, cookie, "no session started");
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
    assert!(body.contains(r#"<html lang="en">"#), "{body}");
    assert!(body.contains(r#"action="/login""#), "{body}");
    assert!(body.contains("<li>1 &times; tea</li>"), "{body}");
}

#[tokio::test]
async fn a_post_without_a_session_or_a_csrf_cookie_is_refused_and_starts_none() {
    let mut browser = Browser::new(&shop());
    let reply = add(&mut browser, &"0".repeat(32), "tea", "1").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.set_cookie, None, "a forged request stores nothing");

    // A token from the page, sent by another site without the cookie.
    let (_, token) = page(&mut Browser::new(&browser.app)).await;
    let reply = add(&mut browser, &token, "tea", "1").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // A cookie of the right name that this shop did not sign.
    browser.cookie = Some("shop_csrf=1.2.3".to_owned());
    let reply = add(&mut browser, "1.2.3", "tea", "1").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
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
        body.contains("Added 1 × &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; to your cart"),
        "{body}"
    );
}

#[tokio::test]
async fn an_unknown_language_is_refused_on_the_page() {
    let mut browser = Browser::new(&shop());
    let (_, token) = page(&mut browser).await;
    let reply = browser
        .form("/locale", &[("locale", "xx"), ("csrf_token", &token)])
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        reply.body.contains(r#"<p id="locale-error" class="error" role="alert">Choose English, Français or Deutsch.</p>"#),
        "{}",
        reply.body
    );
    browser
        .form("/locale", &[("locale", "fr"), ("csrf_token", &token)])
        .await;
    assert!(page(&mut browser).await.0.contains(r#"<html lang="fr">"#));
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
/// store remembers the id as ended (a minute by default), a form that writes
/// the session is refused with the layer's `409`, rendered as the shop's
/// page in the browser's language, and sets no cookie, so a request that
/// was in flight cannot put a dead id back into the browser.
async fn the_old_id_is_dead(app: &Router, old: Option<String>) {
    let old = old.expect("an old id");
    let mut stale = Browser::new(app);
    stale.cookie = Some(old.clone());
    // The dead id reads as no session: the page hands out an anonymous token.
    let front = stale.send("GET", "/").await;
    assert_eq!(front.status, StatusCode::OK);
    let csrf = front.set_cookie.expect("a CSRF cookie");
    let csrf = csrf.split(';').next().expect("a pair");
    let cookie = format!("{old}; {csrf}");
    let form = format!("sku=tea&quantity=1&csrf_token={}", token_in(&front.body));
    let reply = ask_with(
        app,
        Request::post("/cart")
            .header(header::COOKIE, cookie)
            .header(header::ACCEPT_LANGUAGE, "de")
            .header(header::CONTENT_TYPE, FORM)
            .body(Body::from(form)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    assert_error_page(&reply, "de", "von einer anderen Anfrage beendet");
    assert!(
        reply.headers.get(header::SET_COOKIE).is_none(),
        "no cookie for a dead id"
    );
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
    assert_ne!(stale.cookie, logged_in, "the dead id is dropped");
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
    let (_, token) = page(&mut browser).await;
    add(&mut browser, &token, "tea", "1").await;
    let mut raw = Browser::new(&corrupting);
    raw.cookie = browser.cookie.clone();
    assert_eq!(raw.send("POST", "/corrupt").await.status, StatusCode::OK);

    let reply = browser.send("GET", "/").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        reply.body.contains("Something went wrong on our side"),
        "{}",
        reply.body
    );
    assert!(
        !reply.body.contains("shop.cart") && !reply.body.contains("Vec"),
        "{}",
        reply.body
    );
}

/// A response with its headers, for requests the cookie-keeping browser
/// cannot make (other methods, headers and bodies).
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

async fn ask(app: &Router, request: axum::http::request::Builder) -> Answer {
    ask_with(app, request.body(Body::empty())).await
}

async fn ask_with(app: &Router, request: Result<Request<Body>, axum::http::Error>) -> Answer {
    let response = app
        .clone()
        .oneshot(request.expect("a valid request"))
        .await
        .expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// An error page: HTML in `lang`, saying `says`, with the way back, and no
/// wording of a parser.
fn assert_error_page(answer: &Answer, lang: &str, says: &str) {
    let body = &answer.body;
    assert_eq!(
        answer.headers[header::CONTENT_TYPE],
        "text/html; charset=utf-8",
        "{body}"
    );
    assert!(body.starts_with("<!doctype html>"), "{body}");
    assert!(body.contains(&format!(r#"<html lang="{lang}">"#)), "{body}");
    assert!(
        body.contains(&format!("<h1>{}", answer.status.as_str()))
            || body.contains(&format!(" {}</h1>", answer.status.as_str())),
        "{body}"
    );
    assert!(body.contains(says), "{says:?} in {body}");
    assert!(body.contains(r#"<a id="back" href="/">"#), "{body}");
    for internal in [
        "deserialize",
        "parse",
        "Failed to",
        "Content-Type",
        "missing field",
        "duplicate field",
    ] {
        assert!(!body.contains(internal), "{internal:?} in {body}");
    }
}

/// A browser whose session has started (its first form was accepted), and
/// the token of its forms.
async fn with_a_session(app: &Router) -> (Browser, String) {
    let mut browser = Browser::new(app);
    let (_, token) = page(&mut browser).await;
    browser
        .form("/locale", &[("locale", "en"), ("csrf_token", &token)])
        .await;
    assert!(
        browser
            .cookie
            .as_deref()
            .is_some_and(|cookie| cookie.starts_with("id=")),
        "{:?}",
        browser.cookie
    );
    (browser, token)
}

#[tokio::test]
async fn a_thousand_anonymous_page_views_store_no_session() {
    let store = CasMemoryStore::new();
    let app = app(store.clone()).expect("valid settings");
    for view in 0..1000 {
        let mut visitor = Browser::new(&app);
        // Every tenth visitor comes back with the cookie it was given.
        let rounds = if view % 10 == 0 { 2 } else { 1 };
        for _ in 0..rounds {
            let (body, token) = page(&mut visitor).await;
            assert!(body.contains(&token));
        }
    }
    assert_eq!(store.len(), 0, "page views store nothing");
}

#[tokio::test]
async fn the_first_accepted_form_creates_the_session_and_refused_ones_do_not() {
    let store = CasMemoryStore::new();
    let app = app(store.clone()).expect("valid settings");
    let mut browser = Browser::new(&app);
    let (_, token) = page(&mut browser).await;
    assert_eq!(
        add(&mut browser, "forged", "tea", "1").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        add(&mut browser, &token, "tea", "0").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        browser
            .form("/login", &[("user_id", "x"), ("csrf_token", &token)])
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(store.len(), 0, "refused forms store nothing");

    let reply = add(&mut browser, &token, "tea", "2").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert!(
        reply
            .set_cookie
            .as_deref()
            .is_some_and(|cookie| cookie.starts_with("id=")),
        "{:?}",
        reply.set_cookie
    );
    assert_eq!(store.len(), 1);
    // The forms on the page keep working: the session took over their token.
    assert_eq!(
        add(&mut browser, &token, "jam", "1").await.status,
        StatusCode::SEE_OTHER
    );
    let (body, same) = page(&mut browser).await;
    assert_eq!(same, token);
    assert!(body.contains(r#"<span id="count">3</span>"#), "{body}");
}

#[tokio::test]
async fn a_huge_quantity_then_another_item_is_refused_and_the_page_still_renders() {
    let mut browser = Browser::new(&shop());
    let (_, token) = page(&mut browser).await;
    let reply = add(&mut browser, &token, "tea", "4294967295").await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        reply
            .body
            .contains(&format!("Enter a quantity from 1 to {MAX_QUANTITY}.")),
        "{}",
        reply.body
    );
    assert_eq!(
        add(&mut browser, &token, "tea", &MAX_QUANTITY.to_string())
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        add(&mut browser, &token, "jam", "1").await.status,
        StatusCode::SEE_OTHER
    );
    let (body, _) = page(&mut browser).await;
    assert!(
        body.contains(&format!(r#"<span id="count">{}</span>"#, MAX_QUANTITY + 1)),
        "{body}"
    );
}

#[tokio::test]
async fn adding_more_of_an_item_at_the_maximum_says_so_and_changes_nothing() {
    let mut browser = Browser::new(&shop());
    let (_, token) = page(&mut browser).await;
    add(&mut browser, &token, "tea", "98").await;
    for more in ["2", "99"] {
        let reply = add(&mut browser, &token, "tea", more).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            reply.body.contains(&format!(
                "You already have 98 × tea: one line of the cart holds at most {MAX_QUANTITY}."
            )),
            "{}",
            reply.body
        );
        assert!(!reply.body.contains("Added"), "{}", reply.body);
    }
    assert_eq!(
        add(&mut browser, &token, "tea", "1").await.status,
        StatusCode::SEE_OTHER
    );
    let reply = add(&mut browser, &token, "tea", "1").await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        reply.body.contains("You already have 99 × tea"),
        "{}",
        reply.body
    );
    let (body, _) = page(&mut browser).await;
    assert!(body.contains("<li>99 &times; tea</li>"), "{body}");
    assert!(
        !body.contains("notice") || body.contains("Added 1 × tea"),
        "{body}"
    );
}

#[tokio::test]
async fn a_bad_quantity_gets_a_message_on_the_page_never_parser_wording() {
    let mut browser = Browser::new(&shop());
    let (_, token) = page(&mut browser).await;
    for quantity in [
        "",
        " ",
        "abc",
        "0",
        "-1",
        "100",
        "1.5",
        "99999999999999999999",
    ] {
        let reply = add(&mut browser, &token, "tea", quantity).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{quantity:?}"
        );
        let body = &reply.body;
        assert!(
            body.contains(r#"<p id="cart-error" class="error" role="alert">Enter a quantity from 1 to 99.</p>"#),
            "{quantity:?}: {body}"
        );
        assert!(body.contains(r#"aria-invalid="true""#), "{body}");
        assert!(
            body.contains(r#"value="tea""#),
            "what was typed stays: {body}"
        );
        for internal in ["deserialize", "parse", "number too large", "integer"] {
            assert!(!body.contains(internal), "{internal:?} in {body}");
        }
    }
    let (body, _) = page(&mut browser).await;
    assert!(body.contains(r#"<span id="count">0</span>"#), "{body}");
}

#[tokio::test]
async fn product_names_are_checked_for_length_and_characters() {
    let mut browser = Browser::new(&shop());
    let (_, token) = page(&mut browser).await;
    let longest = "é".repeat(MAX_NAME_CHARS);
    let too_long = "a".repeat(MAX_NAME_CHARS + 1);
    for (name, says) in [
        ("", "Enter a product name."),
        ("   ", "Enter a product name."),
        (
            too_long.as_str(),
            "A product name has at most 40 characters.",
        ),
        (
            "tea\u{202e}gnp.exe",
            "cannot contain control or invisible characters",
        ),
        ("tea\u{0}", "cannot contain control or invisible characters"),
        (
            "t\u{200b}ea",
            "cannot contain control or invisible characters",
        ),
    ] {
        let reply = add(&mut browser, &token, name, "1").await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{name:?}");
        assert!(reply.body.contains(says), "{name:?}: {}", reply.body);
    }
    assert_eq!(
        add(&mut browser, &token, &longest, "1").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        add(&mut browser, &token, "  jam  ", "1").await.status,
        StatusCode::SEE_OTHER
    );
    let (body, _) = page(&mut browser).await;
    assert!(
        body.contains(&format!("<li>1 &times; {longest}</li>")),
        "{body}"
    );
    assert!(
        body.contains("<li>1 &times; jam</li>"),
        "names are trimmed: {body}"
    );
}

#[tokio::test]
async fn a_name_of_ten_thousand_characters_is_a_413_page() {
    let app = shop();
    let mut browser = Browser::new(&app);
    let (_, token) = page(&mut browser).await;
    let reply = add(&mut browser, &token, &"x".repeat(10_000), "1").await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        reply.body.contains(r#"<a id="back" href="/">"#),
        "{}",
        reply.body
    );
    assert!(
        reply.body.len() < 2_000,
        "the page does not echo the name: {} bytes",
        reply.body.len()
    );
    let big = format!("sku={}&quantity=1", "x".repeat(1_900_000));
    let answer = ask_with(
        &app,
        Request::post("/cart")
            .header(header::CONTENT_TYPE, FORM)
            .body(Body::from(big)),
    )
    .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_error_page(&answer, "en", "more data than a form of this shop can hold");
    const { assert!(MAX_FORM_BYTES < 10_000) };
}

#[tokio::test]
async fn a_cart_holds_a_bounded_number_of_lines_and_bytes() {
    let mut browser = Browser::new(&shop());
    let (_, token) = page(&mut browser).await;
    for line in 0..MAX_LINES {
        let name = format!("product {line:02} {}", "x".repeat(MAX_NAME_CHARS - 11));
        assert_eq!(
            add(&mut browser, &token, &name, "1").await.status,
            StatusCode::SEE_OTHER,
            "{line}"
        );
    }
    let reply = add(&mut browser, &token, "one more", "1").await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        reply.body.contains(&format!(
            "Your cart holds at most {MAX_LINES} different products."
        )),
        "{}",
        reply.body
    );

    // Names of four-byte characters fill the bytes before the lines.
    let mut browser = Browser::new(&shop());
    let (_, token) = page(&mut browser).await;
    let mut accepted = 0;
    let refusal = loop {
        let name = format!("{accepted:02}{}", "🍵".repeat(MAX_NAME_CHARS - 2));
        let reply = add(&mut browser, &token, &name, "1").await;
        if reply.status != StatusCode::SEE_OTHER {
            break reply;
        }
        accepted += 1;
        assert!(accepted < MAX_LINES, "the size limit never applied");
    };
    assert_eq!(refusal.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refusal.body.contains("Your cart is full"),
        "{}",
        refusal.body
    );
    assert!(accepted > 5, "{accepted} lines");
}

#[tokio::test]
async fn the_form_fields_carry_the_limits() {
    let (body, _) = page(&mut Browser::new(&shop())).await;
    assert!(
        body.contains(&format!(
            r#"<input name="sku" required maxlength="{MAX_NAME_CHARS}""#
        )),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            r#"<input name="quantity" type="number" inputmode="numeric" min="1" max="{MAX_QUANTITY}" required"#
        )),
        "{body}"
    );
    assert!(
        body.contains(r#"<input name="user_id" type="number" inputmode="numeric" min="1" max="999999" required"#),
        "{body}"
    );
}

#[tokio::test]
async fn every_error_status_is_a_page_in_the_visitors_language_with_a_way_back() {
    let app = shop();
    let answer = ask(
        &app,
        Request::get("/nowhere").header(header::ACCEPT_LANGUAGE, "fr-CH, de;q=0.5"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_error_page(&answer, "fr", "Il n’y a pas de page à cette adresse.");

    let answer = ask(
        &app,
        Request::get("/cart").header(header::ACCEPT_LANGUAGE, "de"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_error_page(&answer, "de", "nimmt diese Art von Anfrage nicht an");
    let answer = ask(&app, Request::delete("/")).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_error_page(&answer, "en", "does not accept that kind of request");

    let answer = ask_with(
        &app,
        Request::post("/cart")
            .header(header::ACCEPT_LANGUAGE, "de")
            .header(header::CONTENT_TYPE, FORM)
            .body(Body::from("sku=tea&quantity=1&csrf_token=x")),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_error_page(&answer, "de", "Das Formular ist abgelaufen");

    let answer = ask_with(
        &app,
        Request::post("/cart").body(Body::from("sku=tea&quantity=1")),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_error_page(&answer, "en", "was not sent as a form");

    let answer = ask_with(
        &app,
        Request::post("/login")
            .header(header::CONTENT_TYPE, FORM)
            .header(header::ACCEPT_LANGUAGE, "fr")
            .body(Body::from("user_id=%ZZ&user_id=1&csrf_token=[")),
    )
    .await;
    assert!(answer.status.is_client_error(), "{}", answer.status);
    assert_error_page(&answer, "fr", "");
}

#[tokio::test]
async fn a_store_outage_is_a_503_page_in_the_language_the_browser_asks_for() {
    let app = app(LastWriterWins::new(Down)).expect("valid settings");
    // A visitor with a session cookie: reading it needs the store.
    let answer = ask(
        &app,
        Request::get("/")
            .header(header::COOKIE, "id=AAAAAAAAAAAAAAAAAAAAAA")
            .header(header::ACCEPT_LANGUAGE, "de"),
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.body
    );
    assert_error_page(&answer, "de", "erreicht seinen Speicher gerade nicht");
    assert_eq!(answer.headers[header::CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn a_panic_in_a_handler_is_a_500_page_and_saves_nothing() {
    async fn boom(shop: ShopSession) -> &'static str {
        shop.set_locale("de".to_owned()).await.expect("a session");
        panic!("a bug in a handler");
    }
    let store = CasMemoryStore::new();
    let app =
        app_with(store.clone(), Router::new().route("/boom", post(boom))).expect("valid settings");
    let (mut browser, _) = with_a_session(&app).await;
    let cookie = browser.cookie.clone().expect("a session");
    let answer = ask(
        &app,
        Request::post("/boom")
            .header(header::COOKIE, &cookie)
            .header(header::ACCEPT_LANGUAGE, "fr"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_error_page(&answer, "fr", "Une erreur est survenue de notre côté");
    assert!(answer.headers.get(header::SET_COOKIE).is_none());
    assert_eq!(answer.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let (body, _) = page(&mut browser).await;
    assert!(
        body.contains(r#"<html lang="en">"#),
        "the write before the panic was not saved: {body}"
    );
    assert_eq!(store.len(), 1);
}

#[tokio::test]
async fn the_page_speaks_the_language_asked_for_then_the_one_chosen() {
    let app = shop();
    let answer = ask(
        &app,
        Request::get("/").header(header::ACCEPT_LANGUAGE, "de-DE,de;q=0.9,en;q=0.8"),
    )
    .await;
    let body = &answer.body;
    assert!(body.contains(r#"<html lang="de">"#), "{body}");
    assert!(
        body.contains("<h1>Typisierter Laden</h1>") && body.contains("In den Warenkorb"),
        "{body}"
    );
    assert!(
        body.contains(r#"<option value="de" lang="de" selected>Deutsch</option>"#),
        "{body}"
    );
    let answer = ask(
        &app,
        Request::get("/?lang=fr").header(header::ACCEPT_LANGUAGE, "de"),
    )
    .await;
    assert!(
        answer.body.contains(r#"<html lang="fr">"#),
        "{}",
        answer.body
    );

    let mut browser = Browser::new(&app);
    let (_, token) = page(&mut browser).await;
    browser
        .form("/locale", &[("locale", "fr"), ("csrf_token", &token)])
        .await;
    let (body, _) = page(&mut browser).await;
    assert!(body.contains(r#"<html lang="fr">"#), "{body}");
    assert!(
        body.contains("La boutique parle maintenant français."),
        "{body}"
    );
    assert!(
        body.contains("Ajouter au panier") && body.contains("Se connecter"),
        "{body}"
    );
    add(&mut browser, &token, "thé", "2").await;
    let (body, _) = page(&mut browser).await;
    assert!(body.contains("2 × thé ajouté à votre panier"), "{body}");
    assert!(
        body.contains("Panier (<span id=\"count\">2</span>)"),
        "{body}"
    );
}

#[tokio::test]
async fn the_page_has_a_viewport_landmarks_and_a_status_notice() {
    let mut browser = Browser::new(&shop());
    let (body, token) = page(&mut browser).await;
    assert!(
        body.contains(r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#),
        "{body}"
    );
    assert!(
        body.contains("<header>") && body.contains("<main>") && body.contains("<footer>"),
        "{body}"
    );
    assert!(body.contains(r#"<nav aria-label="Account">"#), "{body}");
    let add_form = body.find(r#"action="/cart""#).expect("the add form");
    let cart = body.find(r#"id="cart-heading""#).expect("the cart");
    assert!(
        add_form < cart,
        "the add form comes before the cart, however long: {body}"
    );
    add(&mut browser, &token, "tea", "1").await;
    let (body, _) = page(&mut browser).await;
    assert!(body.contains(r#"<p id="notice" role="status">"#), "{body}");
}

#[tokio::test]
async fn logging_out_says_so_in_the_sessions_language() {
    let mut browser = Browser::new(&shop());
    let (_, token) = page(&mut browser).await;
    browser
        .form("/locale", &[("locale", "de"), ("csrf_token", &token)])
        .await;
    browser
        .form("/login", &[("user_id", "7"), ("csrf_token", &token)])
        .await;
    let (_, token) = page(&mut browser).await;
    let reply = browser.form("/logout", &[("csrf_token", &token)]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let location = reply.location.expect("a redirect");
    let next = browser.send("GET", &location).await;
    assert!(next.body.contains(r#"<html lang="de">"#), "{}", next.body);
    assert!(
        next.body.contains(
            r#"<p id="notice" role="status">Sie sind abgemeldet; Ihr Warenkorb wurde geleert.</p>"#
        ),
        "{}",
        next.body
    );
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = shop();
    let mut answers = vec![
        ask(&app, Request::get("/")).await,
        ask(&app, Request::get("/style.css")).await,
        ask(&app, Request::get("/nowhere")).await,
    ];
    answers.push(
        ask_with(
            &app,
            Request::post("/cart")
                .header(header::CONTENT_TYPE, FORM)
                .body(Body::from("sku=tea")),
        )
        .await,
    );
    for answer in &answers {
        let policy = answer.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("ASCII");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(policy.contains("default-src 'none'"), "{policy}");
        assert_eq!(answer.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(answer.headers[header::REFERRER_POLICY], "same-origin");
        assert_eq!(answer.headers[header::X_FRAME_OPTIONS], "DENY");
    }
    assert_eq!(
        answers[1].headers[header::CONTENT_TYPE],
        "text/css; charset=utf-8"
    );
    assert_eq!(answers[0].headers[header::CACHE_CONTROL], "no-store");
}

/// A session store that cannot be reached.
#[derive(Clone, Debug)]
struct Down;

#[async_trait::async_trait]
impl tower_sessions::SessionStore for Down {
    async fn create(
        &self,
        _: &mut tower_sessions::session::Record,
    ) -> tower_sessions::session_store::Result<()> {
        Err(down())
    }
    async fn save(
        &self,
        _: &tower_sessions::session::Record,
    ) -> tower_sessions::session_store::Result<()> {
        Err(down())
    }
    async fn load(
        &self,
        _: &tower_sessions::session::Id,
    ) -> tower_sessions::session_store::Result<Option<tower_sessions::session::Record>> {
        Err(down())
    }
    async fn delete(
        &self,
        _: &tower_sessions::session::Id,
    ) -> tower_sessions::session_store::Result<()> {
        Err(down())
    }
}

fn down() -> tower_sessions::session_store::Error {
    tower_sessions::session_store::Error::Backend("connection refused".to_owned())
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
    let csrf = front.set_cookie.expect("a CSRF cookie");
    let form = format!("sku=tea&quantity=4&csrf_token={}", token_in(&front.body));
    let added = http(port, "POST", "/cart", Some(&csrf), &form);
    assert_eq!(added.status, 303);
    let cookie = added
        .set_cookie
        .expect("the first accepted form starts the session");
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
