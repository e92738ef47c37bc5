//! The typed handle as an axum extractor over tower-sessions, with real cookies.

use axum::body::Body;
use axum::extract::Path;
use axum::http::{Request, StatusCode, header};
use axum::routing::{get, post};
use axum::{Extension, Router};
use http_body_util::BodyExt;
use session_core::time::Duration;
use session_core::{Clock, ManualClock, SessionError, SessionSchema};
use tower::ServiceExt;
use tower_sessions::{MemoryStore, Session, SessionManagerLayer};

#[derive(SessionSchema)]
#[session(namespace = "app")]
struct App {
    #[session(default)]
    visits: u32,
    #[session(rotate_id)]
    user_id: Option<u64>,
    #[session(expires_in = "15m")]
    csrf_token: Option<String>,
    #[session(flash)]
    notice: Option<String>,
}

// ANCHOR: handlers
async fn visit(app: AppSession) -> Result<String, SessionError> {
    let visits = app
        .update_visits(|n| {
            *n += 1;
            *n
        })
        .await?;
    let user = app
        .user_id()
        .await?
        .map_or_else(|| "anonymous".to_owned(), |id| id.to_string());
    let notice = app.take_notice().await?.unwrap_or_default();
    let token = app.csrf_token().await?.unwrap_or_default();
    Ok(format!(
        "visits={visits} user={user} notice={notice} token={token}"
    ))
}

async fn login(app: AppSession, Path(id): Path<u64>) -> Result<(), SessionError> {
    app.set_user_id(id).await?;
    app.set_notice(format!("welcome {id}")).await
}

async fn logout(app: AppSession) -> Result<(), SessionError> {
    app.flush().await
}

async fn issue_token(app: AppSession) -> Result<(), SessionError> {
    app.set_csrf_token("token-1".into()).await
}

/// Stores a value of the wrong type under a schema key, as an old deploy might.
async fn corrupt(session: Session) -> StatusCode {
    match session.insert("app.visits", "not a number").await {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn routes() -> Router {
    Router::new()
        .route("/", get(visit))
        .route("/login/{id}", post(login))
        .route("/logout", post(logout))
        .route("/token", post(issue_token))
        .route("/corrupt", post(corrupt))
}
// ANCHOR_END: handlers

// ANCHOR: clock
fn app(clock: &ManualClock) -> Router {
    routes()
        .layer(SessionManagerLayer::new(MemoryStore::default()).with_secure(false))
        .layer(Extension(Clock::from(clock.clone())))
}
// ANCHOR_END: clock

/// A client that keeps the session cookie like a browser.
struct Browser {
    app: Router,
    cookie: Option<String>,
}

struct Reply {
    status: StatusCode,
    body: String,
    set_cookie: Option<String>,
}

impl Browser {
    fn new(app: Router) -> Self {
        Self { app, cookie: None }
    }

    async fn send(&mut self, method: &str, uri: &str) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let response = self
            .app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let set_cookie = response
            .headers()
            .get(header::SET_COOKIE)
            .map(|value| value.to_str().unwrap().to_owned());
        if let Some(set_cookie) = &set_cookie {
            let pair = set_cookie.split(';').next().unwrap().to_owned();
            let expired = set_cookie.contains("Max-Age=0");
            self.cookie = if expired { None } else { Some(pair) };
        }
        let body = String::from_utf8(
            response
                .into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .to_vec(),
        )
        .unwrap();
        Reply {
            status,
            body,
            set_cookie,
        }
    }
}

#[tokio::test]
async fn values_set_in_one_request_are_read_in_the_next() {
    let mut browser = Browser::new(app(&ManualClock::starting_at_unix(1_700_000_000)));
    assert_eq!(
        browser.send("GET", "/").await.body,
        "visits=1 user=anonymous notice= token="
    );
    assert_eq!(
        browser.send("GET", "/").await.body,
        "visits=2 user=anonymous notice= token="
    );
    let mut stranger = Browser::new(browser.app.clone());
    assert_eq!(
        stranger.send("GET", "/").await.body,
        "visits=1 user=anonymous notice= token="
    );
}

#[tokio::test]
async fn a_flash_is_shown_on_exactly_one_request() {
    let mut browser = Browser::new(app(&ManualClock::starting_at_unix(1_700_000_000)));
    browser.send("GET", "/").await;
    assert_eq!(
        browser.send("POST", "/login/7").await.status,
        StatusCode::OK
    );
    assert_eq!(
        browser.send("GET", "/").await.body,
        "visits=2 user=7 notice=welcome 7 token="
    );
    assert_eq!(
        browser.send("GET", "/").await.body,
        "visits=3 user=7 notice= token="
    );
}

#[tokio::test]
async fn setting_a_rotate_id_field_changes_the_cookie_and_the_old_id_is_dead() {
    let mut browser = Browser::new(app(&ManualClock::starting_at_unix(1_700_000_000)));
    browser.send("GET", "/").await;
    let before_login = browser.cookie.clone().unwrap();

    let reply = browser.send("POST", "/login/7").await;
    let after_login = browser.cookie.clone().unwrap();
    assert!(reply.set_cookie.is_some());
    assert_ne!(
        before_login, after_login,
        "the session id must change at login"
    );

    let mut attacker = Browser::new(browser.app.clone());
    attacker.cookie = Some(before_login);
    assert_eq!(
        attacker.send("GET", "/").await.body,
        "visits=1 user=anonymous notice= token="
    );
    assert_eq!(
        browser.send("GET", "/").await.body,
        "visits=2 user=7 notice=welcome 7 token="
    );
}

#[tokio::test]
async fn logout_deletes_the_session() {
    let mut browser = Browser::new(app(&ManualClock::starting_at_unix(1_700_000_000)));
    browser.send("POST", "/login/7").await;
    let logged_in = browser.cookie.clone().unwrap();
    browser.send("POST", "/logout").await;
    let mut replay = Browser::new(browser.app.clone());
    replay.cookie = Some(logged_in);
    assert_eq!(
        replay.send("GET", "/").await.body,
        "visits=1 user=anonymous notice= token="
    );
}

#[tokio::test]
async fn a_clock_extension_drives_per_field_expiry() {
    let clock = ManualClock::starting_at_unix(1_700_000_000);
    let mut browser = Browser::new(app(&clock));
    browser.send("POST", "/token").await;
    clock.advance(Duration::seconds(899));
    assert!(
        browser
            .send("GET", "/")
            .await
            .body
            .ends_with("token=token-1")
    );
    clock.advance(Duration::seconds(1));
    assert!(browser.send("GET", "/").await.body.ends_with("token="));
}

#[tokio::test]
async fn a_stored_value_of_the_wrong_type_is_a_500_without_details_for_the_client() {
    let mut browser = Browser::new(app(&ManualClock::starting_at_unix(1_700_000_000)));
    browser.send("GET", "/").await;
    assert_eq!(
        browser.send("POST", "/corrupt").await.status,
        StatusCode::OK
    );
    let reply = browser.send("GET", "/").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        !reply.body.contains("app.visits") && !reply.body.contains("u32"),
        "{}",
        reply.body
    );
    assert!(reply.body.contains("session"), "{}", reply.body);
}

#[tokio::test]
async fn a_router_without_a_session_layer_says_which_layer_to_add() {
    let mut browser = Browser::new(routes());
    let reply = browser.send("GET", "/").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(reply.body.contains("`AppSession`"), "{}", reply.body);
    assert!(reply.body.contains("SessionManagerLayer"), "{}", reply.body);
}
