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
//! | Fiber's `KeyLookup: "header:X-Session-Id"` | [`SessionLayer`]'s [`with_header`](session_core::layer::SessionLayerBuilder::with_header)`(SESSION_ID_HEADER)` |

use axum::extract::Path;
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use session_core::cas::CasStore;
use session_core::layer::{Expiry, LayerConfigError, SessionLayer};
use session_core::time::Duration;
use session_core::{RawSession, SessionError, SessionSchema};

/// The header an API client sends the session id in, and reads a new id
/// from.
pub const SESSION_ID_HEADER: HeaderName = HeaderName::from_static("x-session-id");

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

// ANCHOR: header
/// The tour's routes, sessions in `store`: a compare-and-swap store, or any
/// tower-sessions store wrapped in `LastWriterWins`.
///
/// Browsers carry the session in the cookie. An API client that keeps no
/// cookies sends the `x-session-id` header instead (empty to start a
/// session) and reads a new id from the same response header; it never gets
/// a cookie. An id that does not parse or that the store does not know is
/// never adopted, and the query string is never read (OWASP ASVS 3.1.1).
///
/// # Errors
///
/// None with these settings; the layer checks its settings when it is
/// built.
pub fn app<S: CasStore>(store: S) -> Result<Router, LayerConfigError> {
    let sessions = SessionLayer::builder(store)
        // Plain HTTP on loopback in the example; keep `Secure` in production.
        .with_secure(false)
        .with_header(SESSION_ID_HEADER.as_str())
        .build()?;
    Ok(Router::new()
        .route("/", get(visit))
        .route("/keys", get(keys))
        .route("/name/{name}", post(set_name))
        .route("/regenerate", post(regenerate))
        .route("/destroy", post(destroy))
        .route("/expiry/{seconds}", post(set_expiry))
        .layer(sessions))
}
// ANCHOR_END: header

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

/// Deletes the session and its record; the cookie is removed, or for an API
/// client the header comes back empty.
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
    // Saving a value makes the layer write the record and send the id again
    // (cookie or header) with the new lifetime.
    match tour.update_visits(|_| ()).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => error.into_response(),
    }
}
// ANCHOR_END: handlers
