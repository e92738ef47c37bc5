//! The classic session counter (gin-contrib/sessions' Redis example), typed.

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use session_core::cas::CasStore;
use session_core::layer::{LayerConfigError, SessionLayer};
use session_core::{SessionError, SessionSchema};

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

/// `GET /incr`, sessions in `store`: a compare-and-swap store, or any
/// tower-sessions store wrapped in `LastWriterWins`.
///
/// # Errors
///
/// None with these settings; the layer checks its cookie settings when it is
/// built.
pub fn app<S: CasStore>(store: S) -> Result<Router, LayerConfigError> {
    // Plain HTTP on loopback in the example; keep `Secure` in production.
    let sessions = SessionLayer::builder(store).with_secure(false).build()?;
    Ok(Router::new().route("/incr", get(incr)).layer(sessions))
}
