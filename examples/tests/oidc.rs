//! The OIDC example against a fake identity provider on a loopback port: the
//! browser drives the app in-process, and the app exchanges codes with the
//! provider over real HTTP.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use examples::oidc::{OidcConfig, SDK_NAMESPACE, app, code_challenge, sdk};
use serde_json::json;
use session_core::time::Duration;
use session_core::{Clock, ManualClock, StringStorage};
use sha2::{Digest as _, Sha256};
use support::Browser;
use support::process::free_port;
use tower_sessions::{MemoryStore, Session};

const CLIENT_ID: &str = "example-client";
const APP_ORIGIN: &str = "http://app.test";
const REDIRECT_URI: &str = "http://app.test/callback";

/// A code the provider handed out, and what it was handed out for.
struct Grant {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    nonce: String,
}

/// What the fake provider remembers, and the test's switches.
#[derive(Default)]
struct ProviderState {
    grants: HashMap<String, Grant>,
    issued: u64,
    redeemed: u64,
    pkce_failures: u64,
    /// Issue ID tokens with a nonce of another sign-in.
    wrong_nonce: bool,
}

type Shared = Arc<Mutex<ProviderState>>;

/// A fake identity provider: `/authorize` signs in "alice" at once and sends
/// the browser back with a code; `/token` redeems a code once, only with the
/// PKCE verifier whose challenge came with it.
struct Provider {
    base: String,
    router: Router,
    state: Shared,
}

impl Provider {
    async fn start() -> Self {
        let state = Shared::default();
        let router = Router::new()
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        let serving = router.clone();
        tokio::spawn(async move { axum::serve(listener, serving).await });
        Self {
            base,
            router,
            state,
        }
    }

    fn state(&self) -> MutexGuard<'_, ProviderState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn authorize(
    State(state): State<Shared>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let param = |name: &str| params.get(name).cloned().unwrap_or_default();
    let redirect_uri = param("redirect_uri");
    if redirect_uri != REDIRECT_URI || param("client_id") != CLIENT_ID {
        return (StatusCode::BAD_REQUEST, "unknown client or redirect URI").into_response();
    }
    let valid = param("response_type") == "code"
        && param("scope").split(' ').any(|scope| scope == "openid")
        && param("code_challenge_method") == "S256"
        && param("code_challenge").len() == 43
        && !param("state").is_empty()
        && !param("nonce").is_empty();
    if !valid {
        return Redirect::to(&format!(
            "{redirect_uri}?error=invalid_request&state={}",
            param("state")
        ))
        .into_response();
    }
    let mut state_guard = state.lock().unwrap_or_else(PoisonError::into_inner);
    state_guard.issued += 1;
    let code = format!("code-{}", state_guard.issued);
    state_guard.grants.insert(
        code.clone(),
        Grant {
            client_id: param("client_id"),
            redirect_uri: redirect_uri.clone(),
            code_challenge: param("code_challenge"),
            nonce: param("nonce"),
        },
    );
    Redirect::to(&format!(
        "{redirect_uri}?code={code}&state={}",
        param("state")
    ))
    .into_response()
}

fn refusal(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

async fn token(State(state): State<Shared>, Form(form): Form<HashMap<String, String>>) -> Response {
    let field = |name: &str| form.get(name).map_or("", String::as_str);
    if field("grant_type") != "authorization_code" {
        return refusal("unsupported_grant_type", "only authorization_code");
    }
    let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
    // A code is single-use, whatever the outcome.
    let Some(grant) = state.grants.remove(field("code")) else {
        return refusal("invalid_grant", "unknown or used code");
    };
    if field("client_id") != grant.client_id || field("redirect_uri") != grant.redirect_uri {
        return refusal("invalid_grant", "client or redirect URI differ");
    }
    // RFC 7636 4.6: BASE64URL(SHA256(verifier)) must equal the challenge.
    let verifier = field("code_verifier");
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if !(43..=128).contains(&verifier.len()) || challenge != grant.code_challenge {
        state.pkce_failures += 1;
        return refusal("invalid_grant", "PKCE verification failed");
    }
    state.redeemed += 1;
    let nonce = if state.wrong_nonce {
        "another-sign-in".to_owned()
    } else {
        grant.nonce
    };
    // Unsigned (`alg: none`): the app trusts the token endpoint, not a signature.
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let claims = json!({
        "iss": "http://provider.test",
        "sub": "alice",
        "aud": grant.client_id,
        "nonce": nonce,
        "iat": 1_700_000_000,
        "exp": 1_700_003_600,
    });
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    Json(json!({
        "access_token": format!("access-{}", state.redeemed),
        "token_type": "Bearer",
        "expires_in": 3600,
        "id_token": format!("{header}.{payload}."),
    }))
    .into_response()
}

/// The example app, configured for `provider`, with a clock the test moves.
fn example(provider: &str, clock: &ManualClock) -> Router {
    let config = OidcConfig {
        provider: provider.to_owned(),
        client_id: CLIENT_ID.to_owned(),
        redirect_uri: REDIRECT_URI.to_owned(),
    };
    app(MemoryStore::default(), config).layer(Extension(Clock::from(clock.clone())))
}

fn clock() -> ManualClock {
    ManualClock::starting_at_unix(1_700_000_000)
}

/// The value of `name` in a URL's query.
fn param(url: &str, name: &str) -> String {
    let (_, query) = url.split_once('?').expect("a query");
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {url}"))
        .to_owned()
}

/// Starts a sign-in and lets the provider sign the user in: returns the
/// `/callback?..` path the provider sends the browser back to.
async fn to_provider_and_back(browser: &mut Browser, provider: &Provider) -> String {
    let reply = browser.send("GET", "/login").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let location = reply.location.expect("a redirect");
    let at_provider = location
        .strip_prefix(&provider.base)
        .unwrap_or_else(|| panic!("a redirect to the provider, not {location}"));
    let reply = Browser::new(&provider.router)
        .send("GET", at_provider)
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let back = reply.location.expect("a redirect back");
    back.strip_prefix(APP_ORIGIN)
        .unwrap_or_else(|| panic!("a redirect to the app, not {back}"))
        .to_owned()
}

async fn assert_signed_out(browser: &mut Browser) {
    let reply = browser.send("GET", "/me").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    assert_eq!(reply.body, "not signed in: sign in at /login");
}

#[tokio::test]
async fn a_sign_in_stores_the_user_and_cycles_the_session_id() {
    let provider = Provider::start().await;
    let mut browser = Browser::new(&example(&provider.base, &clock()));
    assert_signed_out(&mut browser).await;

    let callback = to_provider_and_back(&mut browser, &provider).await;
    let before = browser.cookie.clone();
    assert!(before.is_some(), "starting a sign-in starts the session");
    let reply = browser.send("GET", &callback).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert_eq!(reply.location.as_deref(), Some("/me"));
    assert!(browser.cookie.is_some());
    assert_ne!(browser.cookie, before, "the session id changed at sign-in");

    let reply = browser.send("GET", "/me").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body, r#"{"subject":"alice"}"#);
    assert_eq!(provider.state().redeemed, 1);

    let again = browser.send("GET", &callback).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(
        again.body.starts_with("no sign-in is in progress"),
        "{}",
        again.body
    );
    assert_eq!(
        provider.state().redeemed,
        1,
        "a replay never reaches /token"
    );
    let reply = browser.send("GET", "/me").await;
    assert_eq!(reply.body, r#"{"subject":"alice"}"#, "still signed in");
}

#[tokio::test]
async fn a_callback_with_another_state_is_refused_and_ends_the_sign_in() {
    let provider = Provider::start().await;
    let mut browser = Browser::new(&example(&provider.base, &clock()));
    let callback = to_provider_and_back(&mut browser, &provider).await;
    let state = param(&callback, "state");

    let forged = callback.replace(&format!("state={state}"), "state=forged");
    let reply = browser.send("GET", &forged).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.body,
        "the callback does not belong to the sign-in this browser started: start again at /login"
    );
    assert_signed_out(&mut browser).await;

    let reply = browser.send("GET", &callback).await;
    assert_eq!(
        reply.status,
        StatusCode::BAD_REQUEST,
        "the genuine callback is refused too: the flow state is gone"
    );
    assert!(
        reply.body.starts_with("no sign-in is in progress"),
        "{}",
        reply.body
    );
    assert_signed_out(&mut browser).await;
    assert_eq!(provider.state().redeemed, 0, "no code was exchanged");
    assert_eq!(provider.state().grants.len(), 1);

    let mut other = Browser::new(&example(&provider.base, &clock()));
    to_provider_and_back(&mut other, &provider).await;
    let reply = other.send("GET", "/callback?code=code-2").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "no state at all");
    assert!(
        reply.body.starts_with("the callback does not belong"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn a_sign_in_lives_ten_minutes() {
    let provider = Provider::start().await;
    let clock = clock();
    let app = example(&provider.base, &clock);
    let mut quick = Browser::new(&app);
    let mut slow = Browser::new(&app);
    let quick_callback = to_provider_and_back(&mut quick, &provider).await;
    let slow_callback = to_provider_and_back(&mut slow, &provider).await;

    clock.advance(Duration::seconds(10 * 60 - 1));
    let reply = quick.send("GET", &quick_callback).await;
    assert_eq!(
        reply.status,
        StatusCode::SEE_OTHER,
        "one second before the deadline: {}",
        reply.body
    );

    clock.advance(Duration::seconds(2));
    let reply = slow.send("GET", &slow_callback).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "one second after");
    assert_eq!(
        reply.body,
        "no sign-in is in progress in this browser, or it took longer than 10 minutes: \
         start again at /login"
    );
    assert_signed_out(&mut slow).await;
    assert_eq!(provider.state().redeemed, 1);
}

#[tokio::test]
async fn a_stolen_code_is_useless_without_its_verifier() {
    let provider = Provider::start().await;
    let app = example(&provider.base, &clock());
    let mut victim = Browser::new(&app);
    let victim_callback = to_provider_and_back(&mut victim, &provider).await;

    // The attacker starts a sign-in of their own, so that their state
    // matches, and brings the victim's code to the callback.
    let mut attacker = Browser::new(&app);
    let location = attacker
        .send("GET", "/login")
        .await
        .location
        .expect("a redirect");
    let stolen = format!(
        "/callback?code={}&state={}",
        param(&victim_callback, "code"),
        param(&location, "state")
    );
    let reply = attacker.send("GET", &stolen).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        reply.body,
        "the sign-in could not be completed: the identity provider refused the code \
         (invalid_grant): start again at /login"
    );
    assert_eq!(
        provider.state().pkce_failures,
        1,
        "the provider checked PKCE"
    );
    assert_signed_out(&mut attacker).await;
    assert_eq!(provider.state().redeemed, 0);
}

#[tokio::test]
async fn an_id_token_of_another_sign_in_is_refused() {
    let provider = Provider::start().await;
    provider.state().wrong_nonce = true;
    let mut browser = Browser::new(&example(&provider.base, &clock()));
    let callback = to_provider_and_back(&mut browser, &provider).await;
    let reply = browser.send("GET", &callback).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        reply.body,
        "the sign-in could not be completed: the ID token was not issued for this sign-in \
         (its nonce does not match)"
    );
    assert_signed_out(&mut browser).await;
}

#[tokio::test]
async fn a_refusal_at_the_provider_is_a_400_that_says_so() {
    let provider = Provider::start().await;
    let mut browser = Browser::new(&example(&provider.base, &clock()));
    let location = browser
        .send("GET", "/login")
        .await
        .location
        .expect("a redirect");
    let denied = format!(
        "/callback?error=access_denied&state={}",
        param(&location, "state")
    );
    let reply = browser.send("GET", &denied).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.body,
        "the identity provider did not sign you in (access_denied): start again at /login"
    );
    assert_signed_out(&mut browser).await;
}

#[tokio::test]
async fn a_provider_that_cannot_be_reached_is_a_502() {
    let provider = Provider::start().await;
    // The browser meets the provider, but the app is configured with a port
    // nobody listens on, so the code exchange fails.
    let down = format!("http://127.0.0.1:{}", free_port());
    let mut browser = Browser::new(&example(&down, &clock()));
    let reply = browser.send("GET", "/login").await;
    let location = reply.location.expect("a redirect");
    let at_provider = location
        .strip_prefix(&down)
        .expect("to the configured provider");
    let back = Browser::new(&provider.router)
        .send("GET", at_provider)
        .await
        .location
        .expect("a redirect back");
    let reply = browser
        .send("GET", back.strip_prefix(APP_ORIGIN).expect("to the app"))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        reply.body,
        "the sign-in could not be completed: the identity provider cannot be reached; \
         try again shortly"
    );
}

#[tokio::test]
async fn logging_out_forgets_the_user() {
    let provider = Provider::start().await;
    let mut browser = Browser::new(&example(&provider.base, &clock()));
    let callback = to_provider_and_back(&mut browser, &provider).await;
    browser.send("GET", &callback).await;
    assert_eq!(browser.send("GET", "/me").await.status, StatusCode::OK);

    let signed_in = browser.cookie.clone();
    let reply = browser.form("/logout", &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "signed out");
    assert_eq!(browser.cookie, None, "the cookie is removed");
    assert_signed_out(&mut browser).await;

    browser.cookie = signed_in;
    assert_signed_out(&mut browser).await;
}

#[tokio::test]
async fn the_sdk_keeps_its_items_in_a_real_session() {
    let store = Arc::new(MemoryStore::default());
    let session = Session::new(None, store.clone(), None);
    let storage = StringStorage::new(session.clone(), SDK_NAMESPACE).expect("a valid namespace");
    sdk::remember_sign_in(&storage, REDIRECT_URI)
        .await
        .expect("stored");
    session.save().await.expect("saved");
    assert_eq!(
        session
            .get::<String>("sdk.signInRedirectUri")
            .await
            .expect("readable")
            .as_deref(),
        Some(REDIRECT_URI),
        "a plain string under the namespaced key"
    );

    // The next request loads the same record from the store.
    let next = Session::new(session.id(), store, None);
    let storage = StringStorage::new(next.clone(), SDK_NAMESPACE).expect("a valid namespace");
    assert_eq!(
        sdk::take_sign_in_redirect_uri(&storage)
            .await
            .expect("read")
            .as_deref(),
        Some(REDIRECT_URI)
    );
    assert_eq!(
        sdk::take_sign_in_redirect_uri(&storage)
            .await
            .expect("read"),
        None,
        "taken once"
    );
    assert_eq!(
        next.get_value("sdk.signInRedirectUri")
            .await
            .expect("readable"),
        None
    );
}

#[test]
fn the_code_challenge_is_rfc_7636s_s256() {
    // RFC 7636, appendix B.
    assert_eq!(
        code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
}
