//! The whole-session calls a Fiber or gin user looks for, in typed form:
//! the keys a schema holds, destroying the session, a new id that keeps the
//! data, the session's expiry, and the session id in a header for API
//! clients.
//!
//! | Fiber / gin | here |
//! |---|---|
//! | `sess.Keys()` | `Tour::KEYS`, and which of them the session holds |
//! | `sess.Destroy()` / `session.Clear()` + `Save()` | `tour.flush()` |
//! | `sess.Regenerate()` | `tour.cycle_id()` |
//! | `sess.SetExpiry(d)` / `Options{MaxAge}` | `Session::set_expiry` |
//! | `sess.ID()` | `tour.id()` |
//! | Fiber's `KeyLookup: "header:X-Session-Id"` | [`session_id_header`] |

use axum::extract::{Path, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use session_core::time::Duration;
use session_core::{SessionError, SessionSchema};
use tower_sessions::{Expiry, SessionManagerLayer, SessionStore};

/// The header an API client sends the session id in, and reads it back from.
pub const SESSION_ID_HEADER: HeaderName = HeaderName::from_static("x-session-id");

/// The session cookie's name (tower-sessions' default).
const COOKIE_NAME: &str = "id";

/// The longest expiry `/expiry/{seconds}` accepts: 30 days.
const MAX_EXPIRY_SECONDS: i64 = 30 * 24 * 60 * 60;

// ANCHOR: schema
/// What the tour keeps.
#[derive(SessionSchema, Debug)]
#[session(namespace = "tour")]
pub struct Tour {
    /// Requests to `/`.
    #[session(default)]
    pub visits: u32,
    /// A name the visitor gave.
    pub name: Option<String>,
}
// ANCHOR_END: schema

/// The tour's routes over any tower-sessions store.
pub fn app<S: SessionStore + Clone>(store: S) -> Router {
    Router::new()
        .route("/", get(visit))
        .route("/keys", get(keys))
        .route("/name/{name}", post(set_name))
        .route("/regenerate", post(regenerate))
        .route("/destroy", post(destroy))
        .route("/expiry/{seconds}", post(set_expiry))
        // Plain HTTP on loopback in the example; keep `Secure` in production.
        .layer(SessionManagerLayer::new(store).with_secure(false))
        // Outside the session layer, so it sees the request first and the
        // response last.
        .layer(from_fn(session_id_header))
}

/// The session as the tour shows it.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// The session id as the request found it: `None` for a session created
    /// or given a new id in this request, whose id the layer chooses when it
    /// saves, after the handler.
    pub id: Option<String>,
    /// Requests to `/`.
    pub visits: u32,
    /// The name, if given.
    pub name: Option<String>,
}

async fn summary(tour: &TourSession) -> Result<Summary, SessionError> {
    Ok(Summary {
        id: tour.id(),
        visits: tour.visits().await?,
        name: tour.name().await?,
    })
}

// ANCHOR: handlers
async fn visit(tour: TourSession) -> Result<Json<Summary>, SessionError> {
    tour.update_visits(|visits| *visits += 1).await?;
    Ok(Json(summary(&tour).await?))
}

/// The keys the schema can hold, and those this session holds now.
#[derive(Debug, Serialize)]
pub struct Keys {
    /// Every storage key of the schema.
    pub schema: &'static [&'static str],
    /// The ones with a value in this session.
    pub held: Vec<&'static str>,
}

async fn keys(tour: TourSession) -> Result<Json<Keys>, SessionError> {
    let mut held = Vec::new();
    for key in Tour::KEYS {
        if tour.raw().get_value(key).await?.is_some() {
            held.push(*key);
        }
    }
    Ok(Json(Keys {
        schema: Tour::KEYS,
        held,
    }))
}

async fn set_name(
    tour: TourSession,
    Path(name): Path<String>,
) -> Result<Json<Summary>, SessionError> {
    tour.set_name(name).await?;
    Ok(Json(summary(&tour).await?))
}

/// A new id for the same data: what a login does, on demand.
async fn regenerate(tour: TourSession) -> Result<Json<Summary>, SessionError> {
    tour.cycle_id().await?;
    Ok(Json(summary(&tour).await?))
}

/// Deletes the session and its record; the cookie is removed.
async fn destroy(tour: TourSession) -> Result<StatusCode, SessionError> {
    tour.flush().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The whole session ends `seconds` after the last request.
async fn set_expiry(tour: TourSession, Path(seconds): Path<i64>) -> Response {
    if !(1..=MAX_EXPIRY_SECONDS).contains(&seconds) {
        return (
            StatusCode::BAD_REQUEST,
            format!("the expiry must be 1 to {MAX_EXPIRY_SECONDS} seconds"),
        )
            .into_response();
    }
    tour.raw()
        .set_expiry(Some(Expiry::OnInactivity(Duration::seconds(seconds))));
    // Saving a value makes the layer write the record and the cookie.
    match tour.update_visits(|_| ()).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => error.into_response(),
    }
}
// ANCHOR_END: handlers

// ANCHOR: header
/// Lets an API client that keeps no cookies carry its session in the
/// `x-session-id` header: the header's id becomes the session cookie of the
/// request, and the id the session layer sets comes back in the same header.
///
/// Only a header, never the query string: ids in URLs end up in logs,
/// browser history and `Referer` headers (OWASP ASVS 3.1.1). A request whose
/// header is not a well-formed id is refused with 400, so nothing but an id
/// reaches the cookie parser.
pub async fn session_id_header(mut request: Request, next: Next) -> Response {
    if let Some(id) = request.headers().get(&SESSION_ID_HEADER) {
        let Some(cookie) = id
            .to_str()
            .ok()
            .filter(|id| is_well_formed_id(id))
            .and_then(|id| HeaderValue::from_str(&format!("{COOKIE_NAME}={id}")).ok())
        else {
            return (
                StatusCode::BAD_REQUEST,
                "x-session-id must be a session id (1 to 64 letters, digits, '-' or '_')",
            )
                .into_response();
        };
        // The header replaces any cookie: one request, one session.
        request.headers_mut().insert(header::COOKIE, cookie);
    }
    let mut response = next.run(request).await;
    let issued = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter(|cookie| !cookie.contains("Max-Age=0"))
        .find_map(|cookie| {
            cookie
                .split(';')
                .next()?
                .strip_prefix(COOKIE_NAME)?
                .strip_prefix('=')
                .and_then(|id| HeaderValue::from_str(id).ok())
        });
    if let Some(id) = issued {
        response.headers_mut().insert(SESSION_ID_HEADER, id);
    }
    response
}
// ANCHOR_END: header

fn is_well_formed_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}
