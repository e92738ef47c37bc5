//! The login example over a cookie-keeping client: the secret is refused
//! until login, the login cycles the session id, and after logout neither the
//! pre-login nor the logged-in cookie opens anything.

mod support;

use axum::Router;
use axum::http::StatusCode;
use examples::login::{Account, app};
use support::Browser;
use tower_sessions::MemoryStore;

fn login_app() -> Router {
    app(
        MemoryStore::default(),
        Account {
            user: "ada".to_owned(),
            password: "lovelace".to_owned(),
        },
    )
}

#[tokio::test]
async fn the_secret_needs_a_login_and_the_login_cycles_the_id() {
    let mut browser = Browser::new(&login_app());
    let refused = browser.send("GET", "/secret").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.body, "Log in first.");

    assert_eq!(
        browser.send("GET", "/").await.body,
        "Hello, stranger. Visit 1."
    );
    let anonymous = browser.cookie.clone().expect("a session before the login");

    let login = browser
        .form("/login", &[("user", "ada"), ("password", "lovelace")])
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let logged_in = browser.cookie.clone().expect("a session after the login");
    assert_ne!(anonymous, logged_in, "the login cycles the session id");

    let secret = browser.send("GET", "/secret").await;
    assert_eq!(
        (secret.status, secret.body.as_str()),
        (StatusCode::OK, "The cake is a lie, ada.")
    );
    assert_eq!(
        browser.send("GET", "/").await.body,
        "Hello, ada. Visit 2.",
        "the data of the anonymous session came along"
    );

    browser.cookie = Some(anonymous);
    assert_eq!(
        browser.send("GET", "/secret").await.status,
        StatusCode::FORBIDDEN,
        "the pre-login id is dead"
    );
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_logs_nobody_in() {
    let mut browser = Browser::new(&login_app());
    let login = browser
        .form("/login", &[("user", "ada"), ("password", "babbage")])
        .await;
    assert_eq!(login.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        browser.send("GET", "/secret").await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn after_logout_a_replayed_cookie_is_refused() {
    let mut browser = Browser::new(&login_app());
    browser
        .form("/login", &[("user", "ada"), ("password", "lovelace")])
        .await;
    let logged_in = browser.cookie.clone().expect("a session after the login");
    assert_eq!(browser.send("GET", "/secret").await.status, StatusCode::OK);

    let logout = browser.send("POST", "/logout").await;
    assert_eq!(logout.status, StatusCode::OK);
    assert!(
        logout
            .set_cookie
            .as_deref()
            .is_some_and(|cookie| cookie.contains("Max-Age=0")),
        "the logout removes the cookie: {:?}",
        logout.set_cookie
    );

    browser.cookie = Some(logged_in);
    let replayed = browser.send("GET", "/secret").await;
    assert_eq!(
        replayed.status,
        StatusCode::FORBIDDEN,
        "the deleted session stays deleted"
    );
}
