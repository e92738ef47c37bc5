//! The HTTP behaviour of `session_core::layer::SessionLayer`, driven in
//! process through an axum `Router`: the cookie it sets, the caching it
//! forbids, what it refuses, and what it never saves. Each test is named
//! after the behaviour it checks.

use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use session_core::cas::{
    CasError, CasMemoryStore, CasStore, LastWriterWins, Loaded, Record, Revision, SessionId,
    Written,
};
use session_core::layer::{
    Expiry, Key, LayerConfigError, SameSite, SessionLayer, SessionLayerBuilder,
};
use session_core::{SessionError, SessionSchema};
use time::Duration;
use tokio::sync::Notify;
use tower::ServiceExt;
use tower_sessions::cookie::Cookie;
use tower_sessions::session::Id;
use tower_sessions::{MemoryStore, Session, SessionStore};

/// What the handlers keep in the session.
#[derive(SessionSchema, Serialize, Deserialize, Debug)]
#[session(namespace = "visit")]
struct Visit {
    #[session(default)]
    count: u64,
    #[session(rotate_id)]
    user: Option<String>,
}

async fn increment(visit: VisitSession) -> Result<String, SessionError> {
    let count = visit
        .update_count(|count| {
            *count += 1;
            *count
        })
        .await?;
    Ok(count.to_string())
}

async fn read(visit: VisitSession) -> Result<String, SessionError> {
    Ok(visit.count().await?.to_string())
}

/// The id the session was loaded under, empty when there is none.
async fn whoami(visit: VisitSession, session: Session) -> Result<String, SessionError> {
    visit.count().await?;
    Ok(session.id().map(|id| id.to_string()).unwrap_or_default())
}

/// Writes the session, then fails.
async fn increment_then_fail(visit: VisitSession) -> Result<StatusCode, SessionError> {
    visit.update_count(|count| *count += 1).await?;
    Ok(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Reads the session, keeps a clone of it beyond the response (as a
/// spawned task might), and fails.
async fn keep_and_fail(session: Session, State(hold): State<Arc<Hold>>) -> StatusCode {
    let _ = session.get_value("visit.count").await;
    hold.kept.lock().expect("kept sessions").push(session);
    StatusCode::INTERNAL_SERVER_ERROR
}

/// Reads the session, swallows any error and answers 200 regardless.
async fn read_ignoring_errors(visit: VisitSession) -> &'static str {
    match visit.count().await {
        Ok(_) => "read",
        Err(_) => "ignored the error",
    }
}

async fn log_out(visit: VisitSession) -> Result<(), SessionError> {
    visit.flush().await
}

/// Moves the session to a new id through the raw tower-sessions API.
async fn cycle(session: Session) -> StatusCode {
    match session.cycle_id().await {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Sets the `rotate_id` field, which moves the session to a new id.
async fn log_in(visit: VisitSession) -> Result<(), SessionError> {
    visit.set_user("ada".to_owned()).await
}

/// `Cache-Control: {scope}, max-age=60`, as a handler written without the
/// session cookie in mind would send.
fn cacheable(scope: &str) -> impl IntoResponse + use<> {
    [(header::CACHE_CONTROL, format!("{scope}, max-age=60"))]
}

async fn cacheable_write(
    visit: VisitSession,
    Path(scope): Path<String>,
) -> Result<impl IntoResponse, SessionError> {
    visit.update_count(|count| *count += 1).await?;
    Ok(cacheable(&scope))
}

async fn cacheable_read(
    visit: VisitSession,
    Path(scope): Path<String>,
) -> Result<impl IntoResponse, SessionError> {
    visit.count().await?;
    Ok(cacheable(&scope))
}

/// Lets a test keep a request between its session load and its end.
#[derive(Default)]
struct Hold {
    loaded: Notify,
    release: Notify,
    /// Sessions a handler kept beyond its response.
    kept: std::sync::Mutex<Vec<Session>>,
    /// Typed handles a handler kept beyond its response.
    kept_typed: std::sync::Mutex<Vec<VisitSession>>,
}

/// Loads the session, tells the test, and waits until the test releases it.
async fn held(visit: VisitSession, State(hold): State<Arc<Hold>>) -> Result<String, SessionError> {
    let count = visit.count().await?;
    hold.loaded.notify_one();
    hold.release.notified().await;
    Ok(count.to_string())
}

/// Like `held`, then writes what it read plus one.
async fn held_write(
    visit: VisitSession,
    State(hold): State<Arc<Hold>>,
) -> Result<String, SessionError> {
    let count = visit.count().await?;
    hold.loaded.notify_one();
    hold.release.notified().await;
    visit.set_count(count + 1).await?;
    Ok((count + 1).to_string())
}

/// Empties the session through the raw tower-sessions API, without reading
/// it first.
async fn clear(session: Session) {
    session.clear().await;
}

/// Writes through the raw API, then changes the same value through the
/// typed handle, in one request.
async fn raw_then_typed(session: Session, visit: VisitSession) -> Result<String, SessionError> {
    session.insert("visit.count", 41_u64).await?;
    let count = visit
        .update_count(|count| {
            *count += 1;
            *count
        })
        .await?;
    Ok(count.to_string())
}

/// Reads through the raw API, writes through the typed handle, and reads
/// the raw view again, in one request.
async fn raw_typed_raw(session: Session, visit: VisitSession) -> Result<String, SessionError> {
    let before: Option<u64> = session.get("visit.count").await?;
    visit.set_count(before.unwrap_or(0) + 10).await?;
    let after: Option<u64> = session.get("visit.count").await?;
    Ok(format!("{before:?} {after:?}"))
}

/// Writes through the typed handle, then reads the raw view, which has not
/// read before, in one request.
async fn typed_then_raw(session: Session, visit: VisitSession) -> Result<String, SessionError> {
    let count = visit.count().await?;
    visit.set_count(count + 5).await?;
    let raw: Option<u64> = session.get("visit.count").await?;
    Ok(format!("{raw:?}"))
}

/// Logs out through the raw tower-sessions API, then leaves a notice, as a
/// "you are logged out" flash would.
async fn raw_log_out_with_notice(session: Session) -> Result<(), SessionError> {
    session.delete().await?;
    session.insert("visit.notice", "logged out").await?;
    Ok(())
}

/// Logs out through the raw tower-sessions API.
async fn raw_log_out(session: Session) -> Result<(), SessionError> {
    session.delete().await?;
    Ok(())
}

/// The raw view's notice.
async fn raw_notice(session: Session) -> Result<String, SessionError> {
    let notice: Option<String> = session.get("visit.notice").await?;
    Ok(notice.unwrap_or_default())
}

/// A page that uses no session data, like a static file.
async fn no_session() -> &'static str {
    "static"
}

/// The raw view of the count, as tower-sessions code reads it.
async fn raw_count(session: Session) -> Result<String, SessionError> {
    let count: Option<u64> = session.get("visit.count").await?;
    Ok(count.unwrap_or(0).to_string())
}

/// Keeps the typed handle beyond the response, as a spawned task might.
async fn keep_typed(
    visit: VisitSession,
    State(hold): State<Arc<Hold>>,
) -> Result<(), SessionError> {
    visit.count().await?;
    hold.kept_typed.lock().expect("kept handles").push(visit);
    Ok(())
}

fn routes(hold: Arc<Hold>) -> Router {
    Router::new()
        .route("/raw-then-typed", post(raw_then_typed))
        .route("/raw-typed-raw", post(raw_typed_raw))
        .route("/typed-then-raw", post(typed_then_raw))
        .route("/raw-logout", post(raw_log_out))
        .route("/raw-logout-notice", post(raw_log_out_with_notice))
        .route("/raw-notice", get(raw_notice))
        .route("/static", get(no_session))
        .route("/raw-count", get(raw_count))
        .route("/keep-typed", get(keep_typed))
        .route("/count", get(read).post(increment))
        .route("/whoami", get(whoami))
        .route("/fail", post(increment_then_fail))
        .route("/ignore", get(read_ignoring_errors))
        .route("/logout", post(log_out))
        .route("/cycle", post(cycle))
        .route("/login", post(log_in))
        .route(
            "/cacheable/{scope}",
            get(cacheable_read).post(cacheable_write),
        )
        .route("/hold", get(held).post(held_write))
        .route("/clear", post(clear))
        .route("/keep-and-fail", get(keep_and_fail))
        .with_state(hold)
}

fn app<S: CasStore>(builder: SessionLayerBuilder<S>) -> Router {
    app_holding(builder, Arc::default())
}

fn app_holding<S: CasStore>(builder: SessionLayerBuilder<S>, hold: Arc<Hold>) -> Router {
    routes(hold).layer(builder.build().expect("valid layer settings"))
}

/// The default layer over a memory store, and a handle on that store.
fn default_app() -> (Router, CasMemoryStore) {
    let store = CasMemoryStore::new();
    (app(SessionLayer::builder(store.clone())), store)
}

/// A response, read whole.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    /// The raw `Set-Cookie` header; a response never sets two.
    fn set_cookie_text(&self) -> Option<&str> {
        let mut all = self.headers.get_all(header::SET_COOKIE).iter();
        let first = all.next()?;
        assert!(all.next().is_none(), "more than one Set-Cookie");
        Some(first.to_str().expect("an ASCII Set-Cookie"))
    }

    fn set_cookie(&self) -> Option<Cookie<'static>> {
        self.set_cookie_text()
            .map(|text| Cookie::parse(text.to_owned()).expect("a well-formed Set-Cookie"))
    }

    /// The `name=value` pair to send back, from a response that must set it.
    fn cookie(&self) -> String {
        let cookie = self.set_cookie().expect("the response sets the cookie");
        format!("{}={}", cookie.name(), cookie.value())
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|value| value.to_str().expect("an ASCII header"))
    }

    fn cache_control(&self) -> Vec<&str> {
        self.headers
            .get_all(header::CACHE_CONTROL)
            .iter()
            .map(|value| value.to_str().expect("an ASCII header"))
            .collect()
    }
}

async fn send(app: &Router, method: &str, uri: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).expect("a valid request"))
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
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// The id an unsigned cookie pair `id=...` carries.
fn id_of(cookie: &str) -> SessionId {
    let (_, value) = cookie.split_once('=').expect("a name=value pair");
    SessionId::from_str(value).expect("a session id")
}

// Cookie attributes.

#[tokio::test]
async fn new_session_cookie_has_secure_defaults_and_lasts_the_browser_session() {
    let (app, _store) = default_app();
    let reply = send(&app, "POST", "/count", &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    let cookie = reply.set_cookie().expect("a new session sets the cookie");
    assert_eq!(cookie.name(), "id");
    assert!(Id::from_str(cookie.value()).is_ok(), "{cookie}");
    assert_eq!(cookie.path(), Some("/"));
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.secure(), Some(true));
    assert_eq!(cookie.same_site(), Some(SameSite::Strict));
    assert_eq!(cookie.domain(), None);
    assert_eq!(cookie.max_age(), None, "a browser-session cookie");
    assert!(cookie.expires().is_none(), "a browser-session cookie");
}

#[tokio::test]
async fn cookie_name_and_inactivity_expiry_follow_the_settings() {
    let app = app(SessionLayer::builder(CasMemoryStore::new())
        .with_name("__Host-sid")
        .with_expiry(Expiry::OnInactivity(Duration::hours(1))));
    let reply = send(&app, "POST", "/count", &[]).await;
    let cookie = reply.set_cookie().expect("a new session sets the cookie");
    assert_eq!(cookie.name(), "__Host-sid");
    assert_eq!(cookie.max_age(), Some(Duration::hours(1)));
    assert!(
        reply
            .set_cookie_text()
            .is_some_and(|text| text.contains("Max-Age=3600")),
        "{cookie}"
    );
}

#[tokio::test]
async fn cookie_domain_path_same_site_and_flags_follow_the_settings() {
    let app = app(SessionLayer::builder(CasMemoryStore::new())
        .with_domain("example.com")
        .with_path("/app")
        .with_same_site(SameSite::Lax)
        .with_http_only(false)
        .with_secure(false));
    let reply = send(&app, "POST", "/count", &[]).await;
    let cookie = reply.set_cookie().expect("a new session sets the cookie");
    assert_eq!(cookie.domain(), Some("example.com"));
    assert_eq!(cookie.path(), Some("/app"));
    assert_eq!(cookie.same_site(), Some(SameSite::Lax));
    let text = reply.set_cookie_text().unwrap_or_default();
    assert!(!text.contains("HttpOnly"), "{text}");
    assert!(!text.contains("Secure"), "{text}");
}

// Cache-Control on responses that set the cookie.

#[tokio::test]
async fn setting_the_cookie_adds_no_store() {
    let (app, _store) = default_app();
    let reply = send(&app, "POST", "/count", &[]).await;
    assert!(reply.set_cookie().is_some());
    assert_eq!(reply.cache_control(), ["no-store"]);
}

#[tokio::test]
async fn cacheable_cache_control_is_replaced_when_the_cookie_is_set() {
    let (app, _store) = default_app();
    let reply = send(&app, "POST", "/cacheable/public", &[]).await;
    assert!(reply.set_cookie().is_some());
    assert_eq!(reply.cache_control(), ["no-store"]);
}

#[tokio::test]
async fn private_cache_control_is_kept_when_the_cookie_is_set() {
    let (app, _store) = default_app();
    let reply = send(&app, "POST", "/cacheable/private", &[]).await;
    assert!(reply.set_cookie().is_some());
    assert_eq!(reply.cache_control(), ["private, max-age=60"]);
}

#[tokio::test]
async fn cache_control_is_untouched_when_no_cookie_is_set() {
    let (app, _store) = default_app();
    let cookie = send(&app, "POST", "/count", &[]).await.cookie();
    let reply = send(&app, "GET", "/cacheable/public", &[("cookie", &cookie)]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.set_cookie().is_none());
    assert_eq!(reply.cache_control(), ["public, max-age=60"]);
}

// Saving under an id the client already has.

#[tokio::test]
async fn saving_under_a_known_id_sends_no_cookie_without_expiry() {
    let (app, _store) = default_app();
    let cookie = send(&app, "POST", "/count", &[]).await.cookie();
    let reply = send(&app, "POST", "/count", &[("cookie", &cookie)]).await;
    assert_eq!((reply.status, reply.body.as_str()), (StatusCode::OK, "2"));
    assert_eq!(reply.set_cookie_text(), None);
}

#[tokio::test]
async fn saving_under_a_known_id_resends_the_cookie_with_inactivity_expiry() {
    let app = app(SessionLayer::builder(CasMemoryStore::new())
        .with_expiry(Expiry::OnInactivity(Duration::hours(1))));
    let cookie = send(&app, "POST", "/count", &[]).await.cookie();
    for method in ["POST", "GET"] {
        let reply = send(&app, method, "/count", &[("cookie", &cookie)]).await;
        assert_eq!(reply.status, StatusCode::OK);
        let refreshed = reply
            .set_cookie()
            .expect("an inactivity expiry moves with every use");
        assert_eq!(
            format!("{}={}", refreshed.name(), refreshed.value()),
            cookie,
            "the same id"
        );
        assert_eq!(refreshed.max_age(), Some(Duration::hours(1)));
    }
}

// Nothing saved on a 5xx.

#[tokio::test]
async fn server_error_saves_no_new_session() {
    let (app, store) = default_app();
    let reply = send(&app, "POST", "/fail", &[]).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.set_cookie_text(), None);
    assert_eq!(store.len(), 0);
}

#[tokio::test]
async fn server_error_leaves_an_existing_session_unchanged() {
    let (app, store) = default_app();
    let cookie = send(&app, "POST", "/count", &[]).await.cookie();
    let reply = send(&app, "POST", "/fail", &[("cookie", &cookie)]).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.set_cookie_text(), None);
    assert_eq!(store.len(), 1);
    let reply = send(&app, "GET", "/count", &[("cookie", &cookie)]).await;
    assert_eq!(reply.body, "1");
}

// Store outage.

/// What the unreachable store says; no client may ever see it.
const BACKEND_DETAIL: &str = "connection refused by db-primary.internal:5432";

/// A store that fails every call, as an unreachable database does.
#[derive(Debug)]
struct Unreachable;

fn outage() -> CasError {
    CasError::Backend(BACKEND_DETAIL.to_owned())
}

#[async_trait]
impl CasStore for Unreachable {
    async fn load(&self, _id: &SessionId) -> Result<Loaded, CasError> {
        Err(outage())
    }

    async fn create(&self, _record: &mut Record) -> Result<Revision, CasError> {
        Err(outage())
    }

    async fn save(&self, _record: &Record, _expected: Revision) -> Result<Written, CasError> {
        Err(outage())
    }

    async fn delete(
        &self,
        _id: &SessionId,
        _expected: Option<Revision>,
    ) -> Result<Written, CasError> {
        Err(outage())
    }
}

fn assert_outage_reply(reply: &Reply) {
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert_eq!(reply.set_cookie_text(), None);
    assert!(!reply.body.contains("db-primary"), "{}", reply.body);
    assert!(!reply.body.contains("refused"), "{}", reply.body);
    assert_eq!(
        reply.body,
        "The session store is unavailable; try again shortly."
    );
}

#[tokio::test]
async fn store_outage_on_a_new_session_is_503_without_cookie() {
    let app = app(SessionLayer::builder(Unreachable));
    let reply = send(&app, "POST", "/count", &[]).await;
    assert_outage_reply(&reply);
}

#[tokio::test]
async fn store_outage_replaces_a_handler_success_with_503() {
    let app = app(SessionLayer::builder(Unreachable));
    let cookie = format!("id={}", Id::default());
    let reply = send(&app, "GET", "/ignore", &[("cookie", &cookie)]).await;
    assert_outage_reply(&reply);
}

// A busy session.

/// A request of a fresh session, kept between its load and its end, on a
/// layer that waits 50 ms for a busy session.
struct HeldRequest {
    app: Router,
    cookie: String,
    gate: Arc<Hold>,
    running: tokio::task::JoinHandle<Reply>,
}

impl HeldRequest {
    /// Starts `method /hold` and returns once its handler loaded the session.
    async fn start<S: CasStore>(store: S, method: &'static str) -> Self {
        let gate = Arc::new(Hold::default());
        let app = app_holding(
            SessionLayer::builder(store).with_lock_wait(std::time::Duration::from_millis(50)),
            Arc::clone(&gate),
        );
        let cookie = send(&app, "POST", "/count", &[]).await.cookie();
        let running = tokio::spawn({
            let app = app.clone();
            let cookie = cookie.clone();
            async move { send(&app, method, "/hold", &[("cookie", &cookie)]).await }
        });
        tokio::time::timeout(std::time::Duration::from_secs(10), gate.loaded.notified())
            .await
            .expect("the held request loaded its session");
        HeldRequest {
            app,
            cookie,
            gate,
            running,
        }
    }

    /// Sends another request with the same cookie.
    async fn send(&self, method: &str, uri: &str) -> Reply {
        send(&self.app, method, uri, &[("cookie", &self.cookie)]).await
    }

    /// Lets the held request finish and returns its reply.
    async fn release(self) -> Reply {
        self.gate.release.notify_one();
        self.running.await.expect("the held request ran to its end")
    }
}

#[tokio::test]
async fn busy_session_is_503_with_retry_after_and_the_holder_completes() {
    let held = HeldRequest::start(CasMemoryStore::new(), "GET").await;
    let second = held.send("GET", "/count").await;
    assert_eq!(second.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(second.header("retry-after"), Some("1"));
    assert_eq!(second.set_cookie_text(), None);

    let (app, cookie) = (held.app.clone(), held.cookie.clone());
    let first = held.release().await;
    assert_eq!((first.status, first.body.as_str()), (StatusCode::OK, "1"));
    let after = send(&app, "GET", "/count", &[("cookie", &cookie)]).await;
    assert_eq!((after.status, after.body.as_str()), (StatusCode::OK, "1"));
}

// Ids in a header.

fn header_app() -> Router {
    app(SessionLayer::builder(CasMemoryStore::new()).with_header("x-session-id"))
}

/// Starts a session through the header and returns its id.
async fn header_session(app: &Router) -> String {
    let reply = send(app, "POST", "/count", &[("x-session-id", "")]).await;
    assert_eq!(reply.status, StatusCode::OK);
    reply
        .header("x-session-id")
        .expect("the new id comes back in the header")
        .to_owned()
}

#[tokio::test]
async fn header_id_is_sent_back_in_the_header_and_never_as_cookie() {
    let app = header_app();
    let reply = send(&app, "POST", "/count", &[("x-session-id", "")]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.set_cookie_text(), None);
    assert_eq!(reply.cache_control(), ["no-store"]);
    let id = reply.header("x-session-id").expect("the new id");
    assert!(Id::from_str(id).is_ok(), "{id:?}");

    let next = send(&app, "GET", "/count", &[("x-session-id", id)]).await;
    assert_eq!((next.status, next.body.as_str()), (StatusCode::OK, "1"));
}

#[tokio::test]
async fn header_wins_over_cookie() {
    let app = header_app();
    let by_header = header_session(&app).await;
    let cookie = send(&app, "POST", "/count", &[]).await.cookie();
    send(&app, "POST", "/count", &[("cookie", &cookie)]).await;

    let both = [("x-session-id", by_header.as_str()), ("cookie", &cookie)];
    let reply = send(&app, "GET", "/count", &both).await;
    assert_eq!(
        reply.body, "1",
        "the header's session, not the cookie's (2)"
    );
    let reply = send(&app, "GET", "/whoami", &both).await;
    assert_eq!(reply.body, by_header);
}

#[tokio::test]
async fn query_string_id_is_never_read() {
    let app = header_app();
    let id = header_session(&app).await;
    let reply = send(
        &app,
        "POST",
        &format!("/count?id={id}&x-session-id={id}"),
        &[],
    )
    .await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::OK, "1"),
        "a fresh session"
    );
    let fresh = reply.cookie();
    assert_ne!(id_of(&fresh).to_string(), id);
}

// Junk and forged ids.

/// Presents `value` as the cookie; the handler must see an empty session
/// and its write must land under a new id.
async fn assert_cookie_value_is_not_adopted(value: &str) {
    let (app, store) = default_app();
    let presented = format!("id={value}");
    let reply = send(&app, "POST", "/count", &[("cookie", &presented)]).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::OK, "1"),
        "an empty session"
    );
    let cookie = reply.cookie();
    assert_ne!(cookie, presented, "the presented id was adopted");
    assert_eq!(store.len(), 1);
    let stored = store.load(&id_of(&cookie)).await.expect("memory store");
    assert!(matches!(stored, Loaded::Live { .. }), "{stored:?}");
}

#[tokio::test]
async fn unknown_well_formed_cookie_id_is_never_adopted() {
    let forged = Id::default();
    assert_cookie_value_is_not_adopted(&forged.to_string()).await;
}

#[tokio::test]
async fn unknown_id_leaves_no_trace_under_that_id() {
    let (app, store) = default_app();
    let forged = Id::default();
    let presented = format!("id={forged}");
    send(&app, "POST", "/count", &[("cookie", &presented)]).await;
    let under_forged = store.load(&forged.into()).await.expect("memory store");
    assert_eq!(under_forged, Loaded::Missing);
}

#[tokio::test]
async fn garbage_cookie_value_starts_a_fresh_session() {
    assert_cookie_value_is_not_adopted("garbage-value").await;
}

#[tokio::test]
async fn oversized_cookie_value_starts_a_fresh_session() {
    assert_cookie_value_is_not_adopted(&"A".repeat(4096)).await;
}

// Signed and private cookies.

/// `cookie` with the first character of its value changed.
fn tampered(cookie: &str) -> String {
    let (name, value) = cookie.split_once('=').expect("a name=value pair");
    let first = if value.starts_with('A') { 'B' } else { 'A' };
    format!("{name}={first}{}", &value[1..])
}

async fn whoami_of(app: &Router, cookie: &str) -> String {
    send(app, "GET", "/whoami", &[("cookie", cookie)])
        .await
        .body
}

/// A sealed cookie must round trip; altered, it reads as no session and a
/// write through it gets a new id.
async fn assert_sealed_round_trip_and_tamper_rejection(app: &Router) {
    let cookie = send(app, "POST", "/count", &[]).await.cookie();
    let reply = send(app, "GET", "/count", &[("cookie", &cookie)]).await;
    assert_eq!(reply.body, "1", "round trip");
    let id = whoami_of(app, &cookie).await;
    assert!(Id::from_str(&id).is_ok(), "{id:?}");

    let forged = tampered(&cookie);
    let reply = send(app, "GET", "/count", &[("cookie", &forged)]).await;
    assert_eq!(reply.body, "0", "an altered cookie reads as no session");
    let reply = send(app, "POST", "/count", &[("cookie", &forged)]).await;
    assert_eq!(reply.body, "1");
    let new_cookie = reply.cookie();
    let new_id = whoami_of(app, &new_cookie).await;
    assert!(Id::from_str(&new_id).is_ok(), "{new_id:?}");
    assert_ne!(new_id, id, "the write got a new id");
    let reply = send(app, "GET", "/count", &[("cookie", &cookie)]).await;
    assert_eq!(reply.body, "1", "the real session is untouched");
}

#[tokio::test]
async fn signed_cookie_round_trips_and_tampering_reads_as_no_session() {
    let app = app(SessionLayer::builder(CasMemoryStore::new()).with_signed(Key::generate()));
    assert_sealed_round_trip_and_tamper_rejection(&app).await;
}

#[tokio::test]
async fn signed_cookie_shows_the_id_but_plain_id_is_rejected() {
    let app = app(SessionLayer::builder(CasMemoryStore::new()).with_signed(Key::generate()));
    let cookie = send(&app, "POST", "/count", &[]).await.cookie();
    let id = whoami_of(&app, &cookie).await;
    assert!(
        cookie.contains(&id),
        "a signed cookie carries the id readably"
    );
    let unsigned = format!("id={id}");
    let reply = send(&app, "GET", "/count", &[("cookie", &unsigned)]).await;
    assert_eq!(reply.body, "0", "the bare id lacks a signature");
}

#[tokio::test]
async fn cookie_signed_with_another_key_is_rejected() {
    let store = CasMemoryStore::new();
    let ours = app(SessionLayer::builder(store.clone()).with_signed(Key::generate()));
    let theirs = app(SessionLayer::builder(store).with_signed(Key::generate()));
    let foreign = send(&theirs, "POST", "/count", &[]).await.cookie();
    let reply = send(&ours, "GET", "/count", &[("cookie", &foreign)]).await;
    assert_eq!(reply.body, "0");
    let reply = send(&theirs, "GET", "/count", &[("cookie", &foreign)]).await;
    assert_eq!(reply.body, "1", "the session itself is live");
}

#[tokio::test]
async fn private_cookie_round_trips_and_tampering_reads_as_no_session() {
    let app = app(SessionLayer::builder(CasMemoryStore::new()).with_private(Key::generate()));
    assert_sealed_round_trip_and_tamper_rejection(&app).await;
}

#[tokio::test]
async fn private_cookie_does_not_show_the_id() {
    let app = app(SessionLayer::builder(CasMemoryStore::new()).with_private(Key::generate()));
    let cookie = send(&app, "POST", "/count", &[]).await.cookie();
    let id = whoami_of(&app, &cookie).await;
    assert!(Id::from_str(&id).is_ok(), "{id:?}");
    assert!(!cookie.contains(&id), "{cookie} shows {id}");
}

// Logout.

#[tokio::test]
async fn logout_sends_a_removal_cookie_with_the_same_attributes() {
    let app = app(SessionLayer::builder(CasMemoryStore::new())
        .with_domain("example.com")
        .with_same_site(SameSite::Lax));
    let reply = send(&app, "POST", "/count", &[]).await;
    let issued = reply.set_cookie().expect("a new session");
    let reply = send(&app, "POST", "/logout", &[("cookie", &reply.cookie())]).await;
    assert_eq!(reply.status, StatusCode::OK);
    let removal = reply.set_cookie().expect("a removal cookie");
    assert_eq!(removal.name(), issued.name());
    assert_eq!(removal.value(), "");
    assert_eq!(removal.max_age(), Some(Duration::ZERO));
    assert_eq!(removal.path(), issued.path());
    assert_eq!(removal.domain(), Some("example.com"));
    assert_eq!(removal.secure(), issued.secure());
    assert_eq!(removal.http_only(), issued.http_only());
    assert_eq!(removal.same_site(), Some(SameSite::Lax));
    assert_eq!(reply.cache_control(), ["no-store"]);
}

#[tokio::test]
async fn ended_id_reads_empty_and_its_writes_are_refused_with_409() {
    let (app, store) = default_app();
    let cookie = send(&app, "POST", "/count", &[]).await.cookie();
    send(&app, "POST", "/logout", &[("cookie", &cookie)]).await;

    let reply = send(&app, "GET", "/count", &[("cookie", &cookie)]).await;
    assert_eq!((reply.status, reply.body.as_str()), (StatusCode::OK, "0"));
    let reply = send(&app, "POST", "/count", &[("cookie", &cookie)]).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.set_cookie_text(), None);
    let stored = store.load(&id_of(&cookie)).await.expect("memory store");
    assert!(matches!(stored, Loaded::Ended { .. }));
    assert_eq!(store.len(), 1, "only the ended marker, no new record");
}

#[tokio::test]
async fn logout_waits_for_a_running_request_of_its_session() {
    let held = HeldRequest::start(CasMemoryStore::new(), "GET").await;
    let logout = held.send("POST", "/logout").await;
    assert_eq!(logout.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(logout.header("retry-after"), Some("1"));
    assert_eq!(logout.set_cookie_text(), None);
    let first = held.release().await;
    assert_eq!(first.status, StatusCode::OK);
}

#[tokio::test]
async fn plain_store_logout_during_a_write_is_not_undone() {
    let store = MemoryStore::default();
    let held = HeldRequest::start(LastWriterWins::new(store.clone()), "POST").await;
    let logout = held.send("POST", "/logout").await;
    let (app, cookie) = (held.app.clone(), held.cookie.clone());
    held.release().await;
    match logout.status {
        // One request at a time: the logout waited 50 ms and gave up.
        StatusCode::SERVICE_UNAVAILABLE => {}
        StatusCode::OK => {
            let after = send(&app, "GET", "/count", &[("cookie", &cookie)]).await;
            assert_eq!(after.body, "0", "the logged-out session came back");
            let stored = store
                .load(&id_of(&cookie).into())
                .await
                .expect("memory store");
            assert!(stored.is_none(), "the logged-out record was written back");
        }
        status => panic!("unexpected logout status {status}"),
    }
}

// Id rotation.

/// `route` must move the session to a new id, keep its data, and kill the
/// old id.
async fn assert_rotates(route: &str) {
    let (app, _store) = default_app();
    let old = send(&app, "POST", "/count", &[]).await.cookie();
    let reply = send(&app, "POST", route, &[("cookie", &old)]).await;
    assert_eq!(reply.status, StatusCode::OK);
    let new = reply.cookie();
    assert_ne!(new, old);
    let reply = send(&app, "GET", "/count", &[("cookie", &new)]).await;
    assert_eq!(reply.body, "1", "the data moved to the new id");
    let reply = send(&app, "GET", "/count", &[("cookie", &old)]).await;
    assert_eq!(reply.body, "0", "the old id is dead");
    let reply = send(&app, "POST", "/count", &[("cookie", &old)]).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn cycle_id_sends_a_new_id_and_kills_the_old_one() {
    assert_rotates("/cycle").await;
}

#[tokio::test]
async fn rotate_id_field_sends_a_new_id_and_kills_the_old_one() {
    assert_rotates("/login").await;
}

// Settings refused at build.

#[test]
fn host_prefix_with_domain_is_refused_at_build() {
    let error = SessionLayer::builder(CasMemoryStore::new())
        .with_name("__Host-id")
        .with_domain("example.com")
        .build()
        .expect_err("a __Host- cookie cannot have a domain");
    assert!(
        matches!(&error, LayerConfigError::HostPrefix { name, .. } if name == "__Host-id"),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("`__Host-id`"), "{message}");
    assert!(message.contains("with_domain"), "{message}");
}

#[test]
fn invalid_header_name_is_refused_at_build() {
    let error = SessionLayer::builder(CasMemoryStore::new())
        .with_header("bad header")
        .build()
        .expect_err("a header name has no spaces");
    assert_eq!(
        error,
        LayerConfigError::HeaderName {
            name: "bad header".to_owned()
        }
    );
}

// A plain tower-sessions store.

#[tokio::test]
async fn plain_store_round_trips() {
    let app = app(SessionLayer::builder(LastWriterWins::new(
        MemoryStore::default(),
    )));
    let cookie = send(&app, "POST", "/count", &[]).await.cookie();
    let reply = send(&app, "POST", "/count", &[("cookie", &cookie)]).await;
    assert_eq!((reply.status, reply.body.as_str()), (StatusCode::OK, "2"));
    let reply = send(&app, "GET", "/count", &[("cookie", &cookie)]).await;
    assert_eq!(reply.body, "2");
}

#[tokio::test]
async fn plain_store_logout_ends_the_session() {
    let store = MemoryStore::default();
    let app = app(SessionLayer::builder(LastWriterWins::new(store.clone())));
    let cookie = send(&app, "POST", "/count", &[]).await.cookie();
    let reply = send(&app, "POST", "/logout", &[("cookie", &cookie)]).await;
    let removal = reply.set_cookie().expect("a removal cookie");
    assert_eq!(removal.max_age(), Some(Duration::ZERO));
    let stored = store
        .load(&id_of(&cookie).into())
        .await
        .expect("memory store");
    assert!(stored.is_none());

    let reply = send(&app, "GET", "/count", &[("cookie", &cookie)]).await;
    assert_eq!(reply.body, "0");
    // A plain store does not remember ended ids, but the id is still never
    // adopted: the write starts a session under a new one.
    let reply = send(&app, "POST", "/count", &[("cookie", &cookie)]).await;
    assert_eq!((reply.status, reply.body.as_str()), (StatusCode::OK, "1"));
    assert_ne!(reply.cookie(), cookie);
}

// The raw tower-sessions API.

#[tokio::test]
async fn raw_clear_without_a_read_empties_the_session() {
    let (app, _store) = default_app();
    let cookie = send(&app, "POST", "/count", &[]).await.cookie();
    let reply = send(&app, "POST", "/clear", &[("cookie", &cookie)]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let reply = send(&app, "GET", "/count", &[("cookie", &cookie)]).await;
    assert_eq!(reply.body, "0");
}

#[tokio::test]
async fn a_session_kept_beyond_a_failed_response_does_not_block_the_next_request() {
    let hold = Arc::new(Hold::default());
    let app = app_holding(
        SessionLayer::builder(CasMemoryStore::new())
            .with_lock_wait(std::time::Duration::from_millis(50)),
        Arc::clone(&hold),
    );
    let cookie = send(&app, "POST", "/count", &[]).await.cookie();
    let failed = send(&app, "GET", "/keep-and-fail", &[("cookie", &cookie)]).await;
    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        hold.kept.lock().expect("kept sessions").len(),
        1,
        "the handler kept its session"
    );
    let next = send(&app, "GET", "/count", &[("cookie", &cookie)]).await;
    assert_eq!(
        next.status,
        StatusCode::OK,
        "the lock was released with the response"
    );
    assert_eq!(next.body, "1");
}

// Raw and typed views of one session.

#[tokio::test]
async fn a_raw_write_is_seen_by_the_typed_handle_in_the_same_request() {
    let (app, _store) = default_app();
    let reply = send(&app, "POST", "/raw-then-typed", &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body, "42");
    let cookie = reply.cookie();
    let typed = send(&app, "GET", "/count", &[("cookie", &cookie)]).await;
    assert_eq!(
        typed.body, "42",
        "the next request reads both writes, typed"
    );
    let raw = send(&app, "GET", "/raw-count", &[("cookie", &cookie)]).await;
    assert_eq!(raw.body, "42", "and raw");
}

#[tokio::test]
async fn a_typed_write_is_seen_by_a_raw_view_that_already_read() {
    let (app, _store) = default_app();
    let cookie = send(&app, "POST", "/count", &[]).await.cookie();
    let reply = send(&app, "POST", "/raw-typed-raw", &[("cookie", &cookie)]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body, "Some(1) Some(11)");
    let raw = send(&app, "GET", "/raw-count", &[("cookie", &cookie)]).await;
    assert_eq!(
        raw.body, "11",
        "the typed write was saved once, and raw code reads it"
    );
    let typed = send(&app, "GET", "/count", &[("cookie", &cookie)]).await;
    assert_eq!(typed.body, "11");
}

#[tokio::test]
async fn a_typed_write_is_seen_by_a_raw_view_that_reads_after_it() {
    let (app, _store) = default_app();
    let fresh = send(&app, "POST", "/typed-then-raw", &[]).await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.body);
    assert_eq!(fresh.body, "Some(5)", "in a session the request starts");
    let cookie = fresh.cookie();
    let typed = send(&app, "GET", "/count", &[("cookie", &cookie)]).await;
    assert_eq!(typed.body, "5", "and saved once");
    let known = send(&app, "POST", "/typed-then-raw", &[("cookie", &cookie)]).await;
    assert_eq!(
        known.body, "Some(10)",
        "in a stored session whose raw view had not loaded"
    );
    let typed = send(&app, "GET", "/count", &[("cookie", &cookie)]).await;
    assert_eq!(typed.body, "10");
}

/// An app on a fresh memory store with `expiry` (none: the default), and
/// the cookie of a session whose count went up twice.
async fn counted_twice(expiry: Option<Expiry>) -> (Router, String) {
    let mut builder = SessionLayer::builder(CasMemoryStore::new());
    if let Some(expiry) = expiry {
        builder = builder.with_expiry(expiry);
    }
    let app = app(builder);
    let cookie = send(&app, "POST", "/count", &[]).await.cookie();
    send(&app, "POST", "/count", &[("cookie", &cookie)]).await;
    (app, cookie)
}

#[tokio::test]
async fn a_raw_log_out_ends_the_session_in_every_expiry_mode() {
    let expiries = [
        None,
        Some(Expiry::OnSessionEnd),
        Some(Expiry::OnInactivity(Duration::minutes(30))),
        Some(Expiry::AtDateTime(
            time::OffsetDateTime::now_utc() + Duration::days(1),
        )),
    ];
    for expiry in expiries {
        let (app, cookie) = counted_twice(expiry).await;

        let out = send(&app, "POST", "/raw-logout", &[("cookie", &cookie)]).await;
        assert_eq!(out.status, StatusCode::OK, "{expiry:?}: {}", out.body);
        let removal = out.set_cookie().expect("a removal cookie");
        assert_eq!(removal.value(), "", "{expiry:?}");
        let after = send(&app, "GET", "/count", &[("cookie", &cookie)]).await;
        assert_eq!(after.body, "0", "{expiry:?}: the old id reads nothing");
    }
}

#[tokio::test]
async fn a_raw_log_out_followed_by_a_write_starts_a_new_session_without_the_old_data() {
    let expiries = [None, Some(Expiry::OnInactivity(Duration::minutes(30)))];
    for expiry in expiries {
        let (app, old) = counted_twice(expiry).await;

        let out = send(&app, "POST", "/raw-logout-notice", &[("cookie", &old)]).await;
        assert_eq!(out.status, StatusCode::OK, "{expiry:?}: {}", out.body);
        let new = out.cookie();
        assert_ne!(new, old, "{expiry:?}: a new id");
        let notice = send(&app, "GET", "/raw-notice", &[("cookie", &new)]).await;
        assert_eq!(notice.body, "logged out", "{expiry:?}");
        let count = send(&app, "GET", "/count", &[("cookie", &new)]).await;
        assert_eq!(
            count.body, "0",
            "{expiry:?}: the ended data is not carried over"
        );
        let gone = send(&app, "GET", "/count", &[("cookie", &old)]).await;
        assert_eq!(gone.body, "0", "{expiry:?}: the old id reads nothing");
    }
}

/// The layer of the idle-refresh tests: `Expiry::OnInactivity` of 30
/// minutes, and a 50 ms wait for a busy session.
fn idle_layer<S: CasStore>(store: S) -> SessionLayerBuilder<S> {
    SessionLayer::builder(store)
        .with_expiry(Expiry::OnInactivity(Duration::minutes(30)))
        .with_lock_wait(std::time::Duration::from_millis(50))
}

#[tokio::test]
async fn a_request_that_uses_no_session_data_never_waits_for_its_lock() {
    let gate = Arc::new(Hold::default());
    let app = app_holding(idle_layer(CasMemoryStore::new()), Arc::clone(&gate));
    let cookie = send(&app, "POST", "/count", &[]).await.cookie();
    let held = tokio::spawn({
        let app = app.clone();
        let cookie = cookie.clone();
        async move { send(&app, "POST", "/hold", &[("cookie", &cookie)]).await }
    });
    tokio::time::timeout(std::time::Duration::from_secs(10), gate.loaded.notified())
        .await
        .expect("the held request loaded its session");

    for _ in 0..3 {
        let page = send(&app, "GET", "/static", &[("cookie", &cookie)]).await;
        assert_eq!(
            (page.status, page.body.as_str()),
            (StatusCode::OK, "static"),
            "a request that uses no session data answers while another holds the session"
        );
    }
    let busy = send(&app, "GET", "/count", &[("cookie", &cookie)]).await;
    assert_eq!(
        busy.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "one that reads the session still waits for it"
    );
    gate.release.notify_one();
    let held = held.await.expect("the held request ran to its end");
    assert_eq!(held.status, StatusCode::OK);
    let after = send(&app, "GET", "/count", &[("cookie", &cookie)]).await;
    assert_eq!(after.body, "2", "the held write was not disturbed");
}

#[tokio::test]
async fn the_idle_deadline_of_an_unused_session_moves_at_most_once_a_minute() {
    let store = CasMemoryStore::new();
    let app = app(idle_layer(store.clone()));
    let soon = time::OffsetDateTime::now_utc() + Duration::minutes(5);
    let mut record = Record {
        id: SessionId::random().expect("random bytes"),
        data: [("visit.count", serde_json::json!(3).into())]
            .into_iter()
            .collect(),
        expiry_date: soon,
    };
    let revision = store.create(&mut record).await.expect("create");
    let cookie = format!("id={}", record.id);

    let page = send(&app, "GET", "/static", &[("cookie", &cookie)]).await;
    assert_eq!(page.status, StatusCode::OK);
    let sent = page.set_cookie().expect("the moved deadline is sent");
    assert_eq!(sent.max_age(), Some(Duration::minutes(30)));
    let Loaded::Live {
        record: moved,
        revision: after,
    } = store.load(&record.id).await.expect("load")
    else {
        panic!("the session lives");
    };
    assert!(moved.expiry_date > soon + Duration::minutes(20), "moved");
    assert_eq!(after, revision, "without a new revision");
    assert_eq!(moved.data, record.data);

    let again = send(&app, "GET", "/static", &[("cookie", &cookie)]).await;
    assert_eq!(again.set_cookie_text(), None, "not again within the minute");
    let Loaded::Live { record: same, .. } = store.load(&record.id).await.expect("load") else {
        panic!("the session lives");
    };
    assert_eq!(same.expiry_date, moved.expiry_date);

    let unknown = format!("id={}", SessionId::random().expect("random bytes"));
    let page = send(&app, "GET", "/static", &[("cookie", &unknown)]).await;
    assert_eq!(page.set_cookie_text(), None, "an unknown id gets nothing");
    assert_eq!(store.len(), 1, "and leaves no trace");
}

#[tokio::test]
async fn a_handle_used_after_its_response_fails_and_writes_nothing() {
    let hold = Arc::new(Hold::default());
    let app = app_holding(
        SessionLayer::builder(CasMemoryStore::new()),
        Arc::clone(&hold),
    );
    let cookie = send(&app, "POST", "/count", &[]).await.cookie();
    let kept = send(&app, "GET", "/keep-typed", &[("cookie", &cookie)]).await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.body);
    let handle = hold
        .kept_typed
        .lock()
        .expect("kept handles")
        .pop()
        .expect("the handler kept its handle");
    let late = handle.set_count(99).await;
    let error = late.expect_err("a write after the response must fail");
    assert!(
        error.to_string().contains("after its response"),
        "the error says why: {error}"
    );
    let count = send(&app, "GET", "/count", &[("cookie", &cookie)]).await;
    assert_eq!(count.body, "1", "the late write was not stored");
}

// A browser that lost the response of its log in.

#[tokio::test]
async fn a_request_in_flight_during_a_log_in_gets_a_409_without_a_cookie() {
    let (app, _store) = default_app();
    let before = send(&app, "POST", "/count", &[]).await.cookie();
    let logged_in = send(&app, "POST", "/login", &[("cookie", &before)]).await;
    assert_eq!(logged_in.status, StatusCode::OK);
    let late = send(&app, "POST", "/count", &[("cookie", &before)]).await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.body);
    assert!(
        late.set_cookie_text().is_none(),
        "a request sent before the log in's response arrived must not replace the new id"
    );
}

#[tokio::test]
async fn a_browser_that_lost_the_log_in_response_starts_afresh_and_the_old_id_stays_ended() {
    let store = CasMemoryStore::new();
    // No window: every later request with the ended id comes from a browser
    // that never got the new one.
    let app = app(SessionLayer::builder(store.clone()).with_ended_id_window(Duration::ZERO));
    let before = send(&app, "POST", "/count", &[]).await.cookie();
    let logged_in = send(&app, "POST", "/login", &[("cookie", &before)]).await;
    assert_eq!(logged_in.status, StatusCode::OK);
    let after = logged_in.cookie();
    assert_ne!(after, before);

    // The browser never saw `after`: it goes on with `before`.
    let reply = send(&app, "POST", "/count", &[("cookie", &before)]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body, "1", "a new, empty session, not the ended one");
    let fresh = reply.cookie();
    assert_ne!(fresh, before, "the ended id is never revived");
    assert_ne!(fresh, after);
    assert!(matches!(
        store.load(&id_of(&before)).await.expect("memory store"),
        Loaded::Ended { .. }
    ));
    let logged_in_count = send(&app, "GET", "/count", &[("cookie", &after)]).await;
    assert_eq!(
        logged_in_count.body, "1",
        "the logged-in session is untouched"
    );
}
