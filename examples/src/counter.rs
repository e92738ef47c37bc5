//! The classic session counter (gin-contrib/sessions' Redis example), typed.

use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use serde::Serialize;
use session_core::cas::CasStore;
use session_core::layer::cookie::{CookieKeys, CookieSessionLayer, KeyError};
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

// ANCHOR: cookie
/// `GET /incr` with the whole session in an encrypted cookie: no store.
///
/// # Errors
///
/// None with these settings; the layer checks its cookie settings when it is
/// built.
pub fn cookie_app(keys: CookieKeys) -> Result<Router, LayerConfigError> {
    // Plain HTTP on loopback in the example; keep `Secure` in production.
    let sessions = CookieSessionLayer::builder(keys)
        .with_secure(false)
        .build()?;
    Ok(Router::new().route("/incr", get(incr)).layer(sessions))
}

/// Why `SESSION_KEY` cannot be used. The messages never quote the key.
#[derive(Debug, thiserror::Error)]
pub enum SessionKeyError {
    /// A key is not base64.
    #[error(
        "SESSION_KEY: key {position} is not standard base64 \
         (make one with `openssl rand -base64 48`)"
    )]
    NotBase64 {
        /// The key's position in the list, counting from 1.
        position: usize,
    },
    /// A key is too short, or there is none.
    #[error("SESSION_KEY: {0}")]
    Key(#[from] KeyError),
}

/// The keys in `SESSION_KEY`: base64 (standard alphabet, padding optional)
/// of at least 32 random bytes each, separated by commas, the sealing key
/// first. To rotate, put the new key first and keep the old one after it
/// until the old cookies have expired.
///
/// # Errors
///
/// [`SessionKeyError`] naming the position of the first key that is not
/// base64 or is too short.
pub fn cookie_keys(setting: &str) -> Result<CookieKeys, SessionKeyError> {
    let keys = setting
        .split(',')
        .enumerate()
        .map(|(index, key)| {
            STANDARD_NO_PAD
                .decode(key.trim().trim_end_matches('='))
                .map_err(|_| SessionKeyError::NotBase64 {
                    position: index + 1,
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CookieKeys::new(keys)?)
}
// ANCHOR_END: cookie
