//! The classic session counter (gin-contrib/sessions' Redis example), typed.

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use session_core::{SessionError, SessionSchema};
use tower_sessions::{SessionManagerLayer, SessionStore};

// ANCHOR: counter
/// How many times this visitor asked for `/incr`.
#[derive(SessionSchema, Debug)]
#[session(namespace = "counter")]
pub struct Counter {
    /// The count; absent reads as zero.
    #[session(default)]
    pub count: u64,
}

/// The JSON answer, as gin's example gives it.
#[derive(Debug, Serialize)]
pub struct Count {
    /// The count after this request.
    pub count: u64,
}

async fn incr(counter: CounterSession) -> Result<Json<Count>, SessionError> {
    let count = counter
        .update_count(|count| {
            *count += 1;
            *count
        })
        .await?;
    Ok(Json(Count { count }))
}
// ANCHOR_END: counter

/// `GET /incr` over any tower-sessions store.
pub fn app<S: SessionStore + Clone>(store: S) -> Router {
    // Plain HTTP on loopback in the example; keep `Secure` in production.
    Router::new()
        .route("/incr", get(incr))
        .layer(SessionManagerLayer::new(store).with_secure(false))
}
