//! The classic login flow (gorilla/sessions' "authenticated" example), typed:
//! `/secret` is 403 until `/login`, which cycles the session id; `/logout`
//! deletes the session, so a cookie replayed afterwards opens nothing.

use axum::extract::Form;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Router, extract::State};
use serde::Deserialize;
use session_core::{RawSession, SessionError, SessionSchema};
use tower_sessions::{SessionManagerLayer, SessionStore};

// ANCHOR: schema
/// Who this session belongs to.
#[derive(SessionSchema, Debug)]
#[session(namespace = "auth")]
pub struct Auth {
    /// The logged-in user. Setting it cycles the session id, so an id known
    /// before the login (planted by an attacker, say) is dead after it.
    #[session(rotate_id)]
    pub user: Option<String>,
    /// Pages seen, logged in or not.
    #[session(default)]
    pub visits: u32,
}
// ANCHOR_END: schema

/// The one account of the example; a real app checks a password hash here.
#[derive(Clone, Debug)]
pub struct Account {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: String,
}

/// `/`, `/secret`, `/login` and `/logout` over any tower-sessions store.
pub fn app<S: SessionStore + Clone>(store: S, account: Account) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/secret", get(secret))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .with_state(account)
        // Plain HTTP on loopback in the example; keep `Secure` in production.
        // The default `SameSite=Strict` keeps other sites from posting the
        // forms with the visitor's cookie.
        .layer(SessionManagerLayer::new(store).with_secure(false))
}

// ANCHOR: handlers
async fn home(auth: AuthSession) -> Result<String, SessionError> {
    let visits = auth
        .update_visits(|visits| {
            *visits += 1;
            *visits
        })
        .await?;
    Ok(match auth.user().await? {
        Some(user) => format!("Hello, {user}. Visit {visits}."),
        None => format!("Hello, stranger. Visit {visits}."),
    })
}

async fn secret(auth: AuthSession) -> Result<Response, SessionError> {
    Ok(match auth.user().await? {
        Some(user) => format!("The cake is a lie, {user}.").into_response(),
        None => (StatusCode::FORBIDDEN, "Log in first.").into_response(),
    })
}

/// The login form.
#[derive(Deserialize)]
struct Credentials {
    user: String,
    password: String,
}

async fn login(
    auth: AuthSession,
    State(account): State<Account>,
    Form(credentials): Form<Credentials>,
) -> Result<Response, SessionError> {
    if credentials.user != account.user || credentials.password != account.password {
        return Ok((StatusCode::UNAUTHORIZED, "Wrong user name or password.").into_response());
    }
    // The id cycles (`rotate_id`), and the session's absolute lifetime
    // starts again: the user has just authenticated.
    auth.set_user(credentials.user).await?;
    auth.raw().mark_authenticated();
    Ok("Logged in.".into_response())
}

async fn logout(auth: AuthSession) -> Result<&'static str, SessionError> {
    // `flush` deletes the record: the old cookie points at nothing now.
    auth.flush().await?;
    Ok("Logged out.")
}
// ANCHOR_END: handlers
