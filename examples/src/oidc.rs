//! Sign-in with an OIDC identity provider: the authorization code flow with
//! PKCE (RFC 7636), its short-lived secrets kept in a typed session.
//!
//! - `GET /login` draws a `state`, a `nonce` and a PKCE `code_verifier`,
//!   keeps them for ten minutes, and sends the browser (303) to the
//!   provider's `/authorize` with the verifier's S256 `code_challenge`.
//! - `GET /callback?code=..&state=..` takes the pending sign-in out of the
//!   session (so a callback URL works at most once), checks the state,
//!   exchanges the code and the verifier at the provider's `/token`, checks
//!   the nonce in the ID token, and stores who signed in; storing the
//!   subject cycles the session id.
//! - `GET /me` says who is signed in, or 401; `POST /logout` deletes the
//!   session.
//!
//! The example also shows [`StringStorage`]: a stand-in for an auth SDK that
//! expects Logto-like `getItem`/`setItem`/`removeItem` storage ([`sdk`])
//! keeps the redirect URI of the sign-in in the same session.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use session_core::{RawSession, SessionError, SessionSchema, StringStorage};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tower_sessions::cookie::SameSite;
use tower_sessions::{SessionManagerLayer, SessionStore};

/// Where the identity provider is and who this app is to it.
#[derive(Clone, Debug)]
pub struct OidcConfig {
    /// The provider's base URL; its endpoints are `{provider}/authorize` and
    /// `{provider}/token`. The example's HTTP client speaks plain `http://`
    /// only, which is enough for a provider on loopback.
    pub provider: String,
    /// The client id this app is registered under at the provider.
    pub client_id: String,
    /// Where the provider sends the browser back: this app's `/callback`.
    pub redirect_uri: String,
}

// ANCHOR: schema
/// A sign-in in progress: the secrets that tie the provider's answer to the
/// browser that asked. Each lives ten minutes and never appears in logs.
#[derive(SessionSchema, Debug)]
#[session(namespace = "oidc")]
pub struct LoginFlow {
    /// Sent to the provider and expected back on the callback (CSRF defence).
    #[session(expires_in = "10m", sensitive)]
    pub state: Option<String>,
    /// Sent to the provider and expected inside the ID token (replay defence).
    #[session(expires_in = "10m", sensitive)]
    pub nonce: Option<String>,
    /// The PKCE secret whose hash went to the provider; only whoever holds it
    /// can exchange the code.
    #[session(expires_in = "10m", sensitive)]
    pub code_verifier: Option<String>,
}

/// Who signed in, and the provider's tokens.
#[derive(SessionSchema, Debug)]
#[session(namespace = "user")]
pub struct SignedIn {
    /// The provider's id of the user (`sub`); setting it cycles the session
    /// id, so an id planted before the sign-in is worthless after it.
    #[session(rotate_id)]
    pub subject: Option<String>,
    /// The ID token as the provider sent it.
    #[session(sensitive)]
    pub id_token: Option<String>,
    /// The access token for the provider's APIs.
    #[session(sensitive)]
    pub access_token: Option<String>,
}
// ANCHOR_END: schema

session_core::assert_disjoint!(LoginFlow, SignedIn);

/// The namespace of the SDK's string items; no schema of the app uses it.
pub const SDK_NAMESPACE: &str = "sdk";

/// How long the code exchange may take before the sign-in fails.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest token response the example's client reads.
const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

// ANCHOR: app
/// The sign-in routes over any tower-sessions store.
pub fn app<S: SessionStore + Clone>(store: S, config: OidcConfig) -> Router {
    let sessions = SessionManagerLayer::new(store)
        // Plain HTTP on loopback in the example; keep `Secure` in production.
        .with_secure(false)
        // `Lax`, not `Strict`: the provider's redirect to `/callback` is a
        // cross-site navigation that must carry the cookie.
        .with_same_site(SameSite::Lax);
    Router::new()
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/me", get(me))
        .route("/logout", post(logout))
        .layer(sessions)
        .with_state(Arc::new(config))
}
// ANCHOR_END: app

/// The SDK's storage over this request's session.
fn sdk_storage<S: RawSession>(raw: &S) -> Result<StringStorage<S>, SessionError> {
    StringStorage::new(raw.clone(), SDK_NAMESPACE)
}

// ANCHOR: login
async fn login(
    State(config): State<Arc<OidcConfig>>,
    flow: LoginFlowSession,
) -> Result<Response, LoginError> {
    let state = random_text()?;
    let nonce = random_text()?;
    let code_verifier = random_verifier()?;
    let url = format!(
        "{}/authorize?{}",
        config.provider.trim_end_matches('/'),
        query(&[
            ("response_type", "code"),
            ("client_id", &config.client_id),
            ("redirect_uri", &config.redirect_uri),
            ("scope", "openid"),
            ("state", &state),
            ("nonce", &nonce),
            ("code_challenge", &code_challenge(&code_verifier)),
            ("code_challenge_method", "S256"),
        ])
    );
    flow.save(&LoginFlow {
        state: Some(state),
        nonce: Some(nonce),
        code_verifier: Some(code_verifier),
    })
    .await?;
    sdk::remember_sign_in(&sdk_storage(flow.raw())?, &config.redirect_uri).await?;
    Ok(Redirect::to(&url).into_response())
}
// ANCHOR_END: login

/// What the provider appends to the redirect URI. Every field is optional so
/// that a missing one gets our message, not the extractor's.
#[derive(Debug, Deserialize)]
struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

// ANCHOR: callback
async fn callback(
    State(config): State<Arc<OidcConfig>>,
    flow: LoginFlowSession,
    user: SignedInSession,
    Query(params): Query<CallbackParams>,
) -> Result<Response, LoginError> {
    // Taken out before anything is checked: whatever happens next, this
    // sign-in cannot be completed twice.
    let pending = flow.load().await?;
    flow.clear().await?;
    let redirect_uri = sdk::take_sign_in_redirect_uri(&sdk_storage(flow.raw())?).await?;

    let (Some(state), Some(nonce), Some(code_verifier), Some(redirect_uri)) = (
        pending.state,
        pending.nonce,
        pending.code_verifier,
        redirect_uri,
    ) else {
        return Err(LoginError::NoSignInPending);
    };
    let sent_state = params.state.unwrap_or_default();
    if !constant_time_eq(state.as_bytes(), sent_state.as_bytes()) {
        return Err(LoginError::StateMismatch);
    }
    if let Some(error) = params.error {
        return Err(LoginError::Denied(error));
    }
    let code = params.code.ok_or(LoginError::NoCode)?;

    let tokens = exchange_code(&config, &code, &code_verifier, &redirect_uri).await?;
    let claims = IdTokenClaims::from_token(&tokens.id_token)?;
    claims.check(&nonce, &config.client_id)?;

    user.set_id_token(tokens.id_token).await?;
    user.set_access_token(tokens.access_token).await?;
    user.set_subject(claims.sub).await?;
    user.raw().mark_authenticated();
    Ok(Redirect::to("/me").into_response())
}
// ANCHOR_END: callback

/// Who is signed in.
#[derive(Debug, Serialize)]
pub struct Me {
    /// The provider's id of the user.
    pub subject: String,
}

async fn me(user: SignedInSession) -> Result<Response, SessionError> {
    Ok(match user.subject().await? {
        Some(subject) => Json(Me { subject }).into_response(),
        None => (StatusCode::UNAUTHORIZED, "not signed in: sign in at /login").into_response(),
    })
}

async fn logout(user: SignedInSession) -> Result<Response, SessionError> {
    user.flush().await?;
    Ok((StatusCode::OK, "signed out").into_response())
}

/// Why a sign-in failed. The message is the response body: it tells the user
/// what to do and never holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The callback came without a sign-in in progress: none was started in
    /// this browser, it expired, or its callback was already used.
    #[error(
        "no sign-in is in progress in this browser, or it took longer than 10 minutes: \
         start again at /login"
    )]
    NoSignInPending,
    /// The callback's `state` is not the one this browser sent: the callback
    /// belongs to another sign-in, or was forged.
    #[error(
        "the callback does not belong to the sign-in this browser started: start again at /login"
    )]
    StateMismatch,
    /// The provider sent the browser back with an error instead of a code.
    #[error("the identity provider did not sign you in ({0}): start again at /login")]
    Denied(String),
    /// The provider sent the browser back with neither a code nor an error.
    #[error("the identity provider sent no code: start again at /login")]
    NoCode,
    /// The code exchange or the check of the ID token failed.
    #[error("the sign-in could not be completed: {0}")]
    Exchange(#[from] ExchangeError),
    /// The operating system gave no randomness for the sign-in's secrets.
    #[error("the sign-in could not be prepared; try again shortly")]
    NoRandomness(#[source] getrandom::Error),
    /// The session could not be read or written.
    #[error(transparent)]
    Session(#[from] SessionError),
}

impl IntoResponse for LoginError {
    /// `400` for a callback that does not fit the sign-in in progress, `502`
    /// when the provider fails us, `500` for our own failures; a session
    /// error answers as usual. The body is the message.
    fn into_response(self) -> Response {
        if let Self::Session(error) = self {
            return error.into_response();
        }
        let status = match &self {
            Self::NoSignInPending | Self::StateMismatch | Self::Denied(_) | Self::NoCode => {
                tracing::warn!(error = %self, "sign-in refused");
                StatusCode::BAD_REQUEST
            }
            Self::Exchange(ExchangeError::ProviderUrl(_))
            | Self::NoRandomness(_)
            | Self::Session(_) => {
                tracing::error!(error = ?self, "sign-in failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
            Self::Exchange(_) => {
                tracing::warn!(error = ?self, "sign-in failed at the identity provider");
                StatusCode::BAD_GATEWAY
            }
        };
        (status, self.to_string()).into_response()
    }
}

impl From<getrandom::Error> for LoginError {
    fn from(error: getrandom::Error) -> Self {
        Self::NoRandomness(error)
    }
}

/// What went wrong between this app and the identity provider.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// The configured provider URL is not a plain `http://` URL with a host.
    #[error("the identity provider is misconfigured")]
    ProviderUrl(String),
    /// The provider could not be reached.
    #[error("the identity provider cannot be reached; try again shortly")]
    Connect(#[source] std::io::Error),
    /// The provider did not answer in time.
    #[error("the identity provider did not answer in time; try again shortly")]
    Timeout,
    /// The provider's answer is not an HTTP response this client reads.
    #[error("the identity provider's answer is unreadable ({0})")]
    Malformed(&'static str),
    /// The provider refused the code, for example because the PKCE verifier
    /// does not match the challenge (`invalid_grant`).
    #[error("the identity provider refused the code ({error}): start again at /login")]
    Refused {
        /// The HTTP status of the refusal.
        status: u16,
        /// The OAuth error code (`invalid_grant`, ...), or `unknown`.
        error: String,
    },
    /// The token response or the ID token's payload is not the expected JSON.
    #[error("the identity provider's tokens do not decode ({0})")]
    Decode(#[source] serde_json::Error),
    /// The ID token is not a JWT: three base64url parts separated by dots.
    #[error("the ID token is not a JWT ({0})")]
    NotAJwt(&'static str),
    /// The ID token was issued for another sign-in (`nonce`) or another
    /// client (`aud`).
    #[error("the ID token was not issued for this sign-in (its {0} does not match)")]
    Mismatch(&'static str),
}

/// The token endpoint's answer (RFC 6749 section 5.1, OIDC Core 3.1.3.3).
#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    id_token: String,
}

/// The token endpoint's refusal (RFC 6749 section 5.2).
#[derive(Debug, Deserialize)]
struct TokenRefusal {
    error: String,
}

/// The claims of an ID token that this example checks or keeps.
///
/// The token's signature is **not** verified. OIDC Core 3.1.3.7 allows that
/// for an ID token received straight from the token endpoint over TLS, whose
/// server certificate then vouches for the issuer. The example talks plain
/// HTTP to a provider on loopback (the test's fake provider sends an
/// unsigned token, `"alg": "none"`); a real app uses HTTPS to the token
/// endpoint, or verifies the signature against the provider's JWKS, and also
/// checks `iss` and `exp`.
#[derive(Debug, Deserialize)]
pub struct IdTokenClaims {
    /// The user's id at the provider.
    pub sub: String,
    /// The client(s) the token is for.
    pub aud: Audience,
    /// The nonce the sign-in sent; absent if the provider ignored it.
    pub nonce: Option<String>,
}

/// The `aud` claim: one client id or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single client id.
    One(String),
    /// Several client ids.
    Many(Vec<String>),
}

impl IdTokenClaims {
    /// Reads the payload of a JWT, without checking its signature (see the
    /// type's documentation).
    ///
    /// # Errors
    ///
    /// [`ExchangeError::NotAJwt`] or [`ExchangeError::Decode`] when the token
    /// does not have the shape of a JWT with these claims.
    pub fn from_token(id_token: &str) -> Result<Self, ExchangeError> {
        let mut parts = id_token.split('.');
        let (Some(_header), Some(payload), Some(_signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ExchangeError::NotAJwt("it does not have three parts"));
        };
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| ExchangeError::NotAJwt("its payload is not base64url"))?;
        serde_json::from_slice(&payload).map_err(ExchangeError::Decode)
    }

    /// Checks that the token belongs to this sign-in and this client.
    ///
    /// # Errors
    ///
    /// [`ExchangeError::Mismatch`] naming the claim that does not match.
    pub fn check(&self, nonce: &str, client_id: &str) -> Result<(), ExchangeError> {
        let nonce_matches = self
            .nonce
            .as_deref()
            .is_some_and(|sent| constant_time_eq(sent.as_bytes(), nonce.as_bytes()));
        if !nonce_matches {
            return Err(ExchangeError::Mismatch("nonce"));
        }
        let for_us = match &self.aud {
            Audience::One(aud) => aud == client_id,
            Audience::Many(auds) => auds.iter().any(|aud| aud == client_id),
        };
        if !for_us {
            return Err(ExchangeError::Mismatch("aud"));
        }
        Ok(())
    }
}

/// Exchanges the code for tokens at the provider's token endpoint.
async fn exchange_code(
    config: &OidcConfig,
    code: &str,
    code_verifier: &str,
    redirect_uri: &str,
) -> Result<TokenResponse, ExchangeError> {
    let url = format!("{}/token", config.provider.trim_end_matches('/'));
    let form = query(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("client_id", &config.client_id),
        ("code_verifier", code_verifier),
    ]);
    let (status, body) = tokio::time::timeout(EXCHANGE_TIMEOUT, post_form(&url, &form))
        .await
        .map_err(|_| ExchangeError::Timeout)??;
    if status != 200 {
        let error = serde_json::from_slice::<TokenRefusal>(&body)
            .map_or_else(|_| "unknown".to_owned(), |refusal| refusal.error);
        return Err(ExchangeError::Refused { status, error });
    }
    serde_json::from_slice(&body).map_err(ExchangeError::Decode)
}

/// POSTs a form over plain HTTP and returns the status and the body.
///
/// A deliberately tiny client for a provider on loopback, so the example
/// needs no HTTP client crate: it speaks HTTP/1.0, where the server sends no
/// chunked body and closes the connection after the answer, and has no TLS.
/// A real app uses a real client (with HTTPS) for the token endpoint.
async fn post_form(url: &str, form: &str) -> Result<(u16, Vec<u8>), ExchangeError> {
    let misconfigured = || ExchangeError::ProviderUrl(url.to_owned());
    let uri: Uri = url.parse().map_err(|_| misconfigured())?;
    if uri.scheme_str() != Some("http") {
        return Err(misconfigured());
    }
    let (Some(host), Some(authority)) = (uri.host(), uri.authority()) else {
        return Err(misconfigured());
    };
    let port = uri.port_u16().unwrap_or(80);
    let path = uri.path_and_query().map_or("/", |path| path.as_str());

    let mut stream = TcpStream::connect((host, port))
        .await
        .map_err(ExchangeError::Connect)?;
    let request = format!(
        "POST {path} HTTP/1.0\r\nHost: {authority}\r\nAccept: application/json\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(ExchangeError::Connect)?;
    let mut response = Vec::new();
    stream
        .take(MAX_RESPONSE_BYTES + 1)
        .read_to_end(&mut response)
        .await
        .map_err(ExchangeError::Connect)?;
    if response.len() as u64 > MAX_RESPONSE_BYTES {
        return Err(ExchangeError::Malformed("the answer is larger than 64 KiB"));
    }
    parse_response(&response)
}

/// Splits an HTTP/1.x response into its status and its body.
fn parse_response(response: &[u8]) -> Result<(u16, Vec<u8>), ExchangeError> {
    let end_of_head = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or(ExchangeError::Malformed("no end of the header"))?;
    let head = std::str::from_utf8(&response[..end_of_head])
        .map_err(|_| ExchangeError::Malformed("the header is not text"))?;
    let mut body = response[end_of_head + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .filter(|line| line.starts_with("HTTP/1."))
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or(ExchangeError::Malformed("no HTTP status line"))?;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(ExchangeError::Malformed(
                "a transfer-encoded body in answer to HTTP/1.0",
            ));
        }
        if name.eq_ignore_ascii_case("content-length") {
            let length: usize = value
                .trim()
                .parse()
                .map_err(|_| ExchangeError::Malformed("a content length that is not a number"))?;
            if length > body.len() {
                return Err(ExchangeError::Malformed("a body shorter than announced"));
            }
            body.truncate(length);
        }
    }
    Ok((status, body))
}

/// The PKCE S256 challenge of a verifier: base64url, without padding, of its
/// SHA-256 (RFC 7636 section 4.2).
#[must_use]
pub fn code_challenge(code_verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(code_verifier.as_bytes()))
}

/// 16 random bytes as base64url text: a `state` or a `nonce`.
fn random_text() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// 32 random bytes as base64url text: a 43-character PKCE verifier, the
/// shortest RFC 7636 allows and 256 bits of entropy.
fn random_verifier() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Compares without stopping at the first difference, so the time taken does
/// not tell an attacker how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// `name=value&...`, percent-encoded for a query string or a form body.
fn query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", percent_encode(name), percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(text: &str) -> String {
    use std::fmt::Write as _;
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

// ANCHOR: sdk
/// A stand-in for an auth SDK written against Logto-like string storage, to
/// show [`StringStorage`] plugging into it.
pub mod sdk {
    use std::future::Future;

    /// The storage an SDK asks its host app for: string items by key.
    pub trait SdkStorage: Send + Sync {
        /// What a storage operation fails with.
        type Error;

        /// The item under `key`, if any.
        fn get_item(
            &self,
            key: &str,
        ) -> impl Future<Output = Result<Option<String>, Self::Error>> + Send;

        /// Stores `value` under `key`.
        fn set_item(
            &self,
            key: &str,
            value: String,
        ) -> impl Future<Output = Result<(), Self::Error>> + Send;

        /// Removes the item under `key`.
        fn remove_item(&self, key: &str) -> impl Future<Output = Result<(), Self::Error>> + Send;
    }

    /// The key under which the SDK remembers a sign-in's redirect URI.
    pub const SIGN_IN_REDIRECT_URI: &str = "signInRedirectUri";

    /// Remembers the redirect URI a sign-in started with: the token request
    /// must repeat it exactly.
    ///
    /// # Errors
    ///
    /// The storage's error.
    pub async fn remember_sign_in<St: SdkStorage>(
        storage: &St,
        redirect_uri: &str,
    ) -> Result<(), St::Error> {
        storage
            .set_item(SIGN_IN_REDIRECT_URI, redirect_uri.to_owned())
            .await
    }

    /// The redirect URI of the sign-in in progress, taken out of the storage.
    ///
    /// # Errors
    ///
    /// The storage's error.
    pub async fn take_sign_in_redirect_uri<St: SdkStorage>(
        storage: &St,
    ) -> Result<Option<String>, St::Error> {
        let redirect_uri = storage.get_item(SIGN_IN_REDIRECT_URI).await?;
        if redirect_uri.is_some() {
            storage.remove_item(SIGN_IN_REDIRECT_URI).await?;
        }
        Ok(redirect_uri)
    }
}

impl<S: RawSession> sdk::SdkStorage for StringStorage<S> {
    type Error = SessionError;

    fn get_item(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<String>, SessionError>> + Send {
        StringStorage::get_item(self, key)
    }

    fn set_item(
        &self,
        key: &str,
        value: String,
    ) -> impl Future<Output = Result<(), SessionError>> + Send {
        StringStorage::set_item(self, key, value)
    }

    fn remove_item(&self, key: &str) -> impl Future<Output = Result<(), SessionError>> + Send {
        StringStorage::remove_item(self, key)
    }
}
// ANCHOR_END: sdk
