//! Cookie sessions over real HTTP on loopback: the whole session in an
//! encrypted cookie, driven by a client that keeps cookies like a browser.
//!
//! Round trip of a realistic schema, tampering (every bit of the sealed
//! value, every sendable bit of its text), 10,000 random mutations, key
//! rotation, the size limit, deadlines under a controlled clock (replayed
//! cookies included), per-field expiry and migrations inside a cookie,
//! revocation, failed handlers, concurrent writes, and the counter binary
//! in cookie mode.

mod support;

use std::collections::HashMap;
use std::io::{self, BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration as StdDuration;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use session_core::layer::cookie::{COOKIE_SIZE_LIMIT, CookieKeys, CookieSessionLayer, Revocation};
use session_core::layer::{ErrorPage, LayerSession};
use session_core::time::{Duration, OffsetDateTime};
use session_core::{ManualClock, RawSession, SessionError, SessionSchema, StoreError};
use tower_sessions::Session;

// ---------------------------------------------------------------- schemas

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct CartItem {
    sku: String,
    quantity: u32,
}

/// The shape of the example shop's session.
#[derive(SessionSchema, Debug)]
#[session(namespace = "shop")]
struct Shop {
    #[session(default)]
    cart: Vec<CartItem>,
    #[session(default = String::from("en"))]
    locale: String,
    #[session(rotate_id)]
    user_id: Option<u64>,
    #[session(expires_in = "15m", sensitive, clear_on_rotate)]
    csrf_token: Option<String>,
    #[session(flash)]
    notice: Option<String>,
}

/// What an earlier release stored.
#[derive(SessionSchema, Debug)]
#[session(namespace = "prefs", version = 1)]
struct PrefsV1 {
    #[session(default)]
    dark: bool,
}

#[derive(SessionSchema, Debug)]
#[session(namespace = "prefs", version = 2, migrate_from = PrefsV1)]
struct Prefs {
    #[session(default = String::from("light"))]
    theme: String,
}

impl From<PrefsV1> for Prefs {
    fn from(v1: PrefsV1) -> Self {
        Prefs {
            theme: if v1.dark { "dark" } else { "light" }.to_owned(),
        }
    }
}

// ---------------------------------------------------------------- the app

/// The whole shop session as the client sees it.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct View {
    id: Option<String>,
    cart: Vec<CartItem>,
    locale: String,
    user_id: Option<u64>,
    csrf: Option<String>,
}

impl View {
    fn empty() -> Self {
        View {
            id: None,
            cart: Vec::new(),
            locale: "en".to_owned(),
            user_id: None,
            csrf: None,
        }
    }
}

const TOKEN: &str = "9f86d081884c7d659a2feaa0c55ad015";

async fn state(shop: ShopSession) -> Result<Json<View>, SessionError> {
    let cart = shop.cart().await?;
    Ok(Json(View {
        // After the first access, as with any store: until the session is
        // loaded, `id` is the id the request claims.
        id: shop.id(),
        cart,
        locale: shop.locale().await?,
        user_id: shop.user_id().await?,
        csrf: shop.csrf_token().await?,
    }))
}

async fn add(
    shop: ShopSession,
    Path((sku, quantity)): Path<(String, u32)>,
) -> Result<String, SessionError> {
    let count = shop
        .update_cart(|cart| {
            cart.push(CartItem {
                sku: sku.clone(),
                quantity,
            });
            cart.len()
        })
        .await?;
    shop.set_notice(format!("Added {sku}")).await?;
    Ok(count.to_string())
}

async fn set_locale(shop: ShopSession, Path(locale): Path<String>) -> Result<(), SessionError> {
    shop.set_locale(locale).await
}

async fn issue_token(shop: ShopSession) -> Result<(), SessionError> {
    shop.set_csrf_token(TOKEN.to_owned()).await
}

// ANCHOR: login
/// A log in: the user just authenticated, so the session's lifetime
/// restarts, and the id cycles (`rotate_id`).
async fn login(shop: ShopSession, Path(user): Path<u64>) -> Result<(), SessionError> {
    shop.set_user_id(user).await?;
    // `use session_core::RawSession;` brings the method into scope.
    shop.raw().mark_authenticated();
    Ok(())
}
// ANCHOR_END: login

/// A switch to another account the user may act as: the id cycles, but
/// nobody authenticated anew.
async fn switch_user(shop: ShopSession, Path(user): Path<u64>) -> Result<(), SessionError> {
    shop.set_user_id(user).await
}

async fn logout(shop: ShopSession) -> Result<(), SessionError> {
    shop.flush().await
}

async fn take_notice(shop: ShopSession) -> Result<String, SessionError> {
    Ok(shop.take_notice().await?.unwrap_or_default())
}

/// Puts an item with a `bytes`-long name into the cart.
async fn big(shop: ShopSession, Path(bytes): Path<usize>) -> Result<(), SessionError> {
    shop.update_cart(|cart| {
        cart.push(CartItem {
            sku: "x".repeat(bytes),
            quantity: 1,
        });
    })
    .await
}

/// Changes the session, then fails.
async fn fail(shop: ShopSession) -> Result<StatusCode, SessionError> {
    shop.set_locale("lost".to_owned()).await?;
    Ok(StatusCode::INTERNAL_SERVER_ERROR)
}

async fn write_v1(old: PrefsV1Session) -> Result<(), SessionError> {
    old.set_dark(true).await
}

async fn prefs(prefs: PrefsSession) -> Result<String, SessionError> {
    prefs.theme().await
}

async fn raw(session: Session, Path(key): Path<String>) -> Result<String, SessionError> {
    let value = session.get_value(&key).await.map_err(StoreError::from)?;
    Ok(value.map(|value| value.to_string()).unwrap_or_default())
}

fn routes() -> Router {
    Router::new()
        .route("/state", get(state))
        .route("/cart/{sku}/{quantity}", post(add))
        .route("/locale/{locale}", post(set_locale))
        .route("/token", post(issue_token))
        .route("/login/{user}", post(login))
        .route("/switch/{user}", post(switch_user))
        .route("/logout", post(logout))
        .route("/notice", get(take_notice))
        .route("/big/{bytes}", post(big))
        .route("/fail", post(fail))
        .route("/v1", post(write_v1))
        .route("/prefs", get(prefs))
        .route("/raw/{key}", get(raw))
}

const OLD_KEY: [u8; 32] = [0x11; 32];
const NEW_KEY: [u8; 48] = [0x22; 48];

fn keys(material: &[&[u8]]) -> CookieKeys {
    CookieKeys::new(material).expect("valid keys")
}

/// The routes under a cookie layer with `keys`, as plain HTTP needs it.
fn app(keys: CookieKeys) -> Router {
    let layer = CookieSessionLayer::builder(keys)
        .with_secure(false)
        .build()
        .expect("valid settings");
    routes().layer(layer)
}

/// Serves `app` on a free loopback port.
async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let address = listener.local_addr().expect("bound address");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    address
}

// ---------------------------------------------------------------- the client

/// A response, reduced to what the tests look at.
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    body: String,
    /// Every `Set-Cookie` header value.
    set_cookies: Vec<String>,
    cache_control: Option<String>,
}

/// What a `Set-Cookie` does to the browser's `id` cookie.
#[derive(Debug, PartialEq)]
enum Sent {
    Nothing,
    Removal,
    Value(String),
}

impl Reply {
    fn sent(&self) -> Sent {
        let Some(header) = self
            .set_cookies
            .iter()
            .find(|value| value.starts_with("id="))
        else {
            return Sent::Nothing;
        };
        if header.contains("Max-Age=0") {
            return Sent::Removal;
        }
        let pair = header.split(';').next().unwrap_or_default();
        Sent::Value(pair.trim_start_matches("id=").to_owned())
    }

    fn view(&self) -> View {
        assert_eq!(self.status, StatusCode::OK, "{self:?}");
        serde_json::from_str(&self.body).expect("the state as JSON")
    }

    fn no_store(&self) -> bool {
        self.cache_control.as_deref() == Some("no-store")
    }
}

#[derive(Clone)]
struct Http {
    client: Client<HttpConnector, String>,
}

impl Http {
    fn new() -> Self {
        Http {
            client: Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(64)
                .build_http(),
        }
    }

    /// One request; `cookie` is the raw `Cookie` header value.
    async fn send(
        &self,
        to: SocketAddr,
        method: &str,
        path: &str,
        cookie: Option<HeaderValue>,
    ) -> Result<Reply, String> {
        let mut request = axum::http::Request::builder()
            .method(method)
            .uri(format!("http://{to}{path}"));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let request = request.body(String::new()).map_err(|e| e.to_string())?;
        let response =
            tokio::time::timeout(StdDuration::from_secs(30), self.client.request(request))
                .await
                .map_err(|_| "no reply within 30 s".to_owned())?
                .map_err(|error| format!("no HTTP response (a panic?): {error}"))?;
        let status = response.status();
        let set_cookies = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|value| value.to_str().expect("ASCII").to_owned())
            .collect();
        let cache_control = response
            .headers()
            .get("cache-control")
            .map(|value| value.to_str().expect("ASCII").to_owned());
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .map_err(|error| error.to_string())?
            .to_bytes();
        Ok(Reply {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            set_cookies,
            cache_control,
        })
    }

    /// One request carrying `id=value`.
    async fn with_cookie(&self, to: SocketAddr, method: &str, path: &str, value: &str) -> Reply {
        let header = HeaderValue::from_str(&format!("id={value}")).expect("a header value");
        self.send(to, method, path, Some(header))
            .await
            .expect("a reply")
    }
}

/// Keeps the `id` cookie between requests like a browser, and checks that
/// every response that sets it forbids caching and stays under the limit.
struct Browser {
    http: Http,
    to: SocketAddr,
    cookie: Option<String>,
    longest_set_cookie: usize,
}

impl Browser {
    fn new(http: &Http, to: SocketAddr) -> Self {
        Browser {
            http: http.clone(),
            to,
            cookie: None,
            longest_set_cookie: 0,
        }
    }

    async fn send(&mut self, method: &str, path: &str) -> Reply {
        let header = self
            .cookie
            .as_ref()
            .map(|value| HeaderValue::from_str(&format!("id={value}")).expect("a header value"));
        let reply = self
            .http
            .send(self.to, method, path, header)
            .await
            .expect("a reply");
        for header in &reply.set_cookies {
            assert!(header.len() <= COOKIE_SIZE_LIMIT, "{header}");
            self.longest_set_cookie = self.longest_set_cookie.max(header.len());
        }
        match reply.sent() {
            Sent::Nothing => {}
            Sent::Removal => self.cookie = None,
            Sent::Value(value) => self.cookie = Some(value),
        }
        if reply.sent() != Sent::Nothing {
            assert!(
                reply.no_store(),
                "a response setting the cookie is not cached: {reply:?}"
            );
        }
        reply
    }

    async fn view(&mut self) -> View {
        self.send("GET", "/state").await.view()
    }

    fn cookie(&self) -> String {
        self.cookie
            .clone()
            .expect("the browser holds a session cookie")
    }
}

/// A shop session with three items, a locale, a CSRF token and a notice.
async fn filled(browser: &mut Browser) {
    for path in [
        "/cart/tea-earl-grey-250g/2",
        "/cart/mug-stoneware-blue/1",
        "/cart/kettle-steel-1.7l/1",
        "/locale/fr",
        "/token",
    ] {
        let reply = browser.send("POST", path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {reply:?}");
    }
}

// ---------------------------------------------------------------- round trip

#[tokio::test]
async fn the_shop_round_trips_through_the_cookie() {
    let to = serve(app(keys(&[&NEW_KEY]))).await;
    let http = Http::new();
    let mut browser = Browser::new(&http, to);

    assert_eq!(browser.view().await, View::empty());
    assert_eq!(browser.cookie, None, "reading starts no session");

    filled(&mut browser).await;
    let view = browser.view().await;
    assert_eq!(view.cart.len(), 3);
    assert_eq!(
        view.cart[0],
        CartItem {
            sku: "tea-earl-grey-250g".into(),
            quantity: 2
        }
    );
    assert_eq!(
        (view.locale.as_str(), view.csrf.as_deref()),
        ("fr", Some(TOKEN))
    );
    let id = view.id.clone().expect("a session id");
    assert_eq!(
        browser.view().await.id,
        Some(id.clone()),
        "the id is stable"
    );

    let size = browser.longest_set_cookie;
    println!(
        "the shop with 3 cart items, a locale, a CSRF token and a notice: a Set-Cookie of {size} bytes"
    );
    assert!(size < 1024, "{size}");

    assert_eq!(
        browser.send("GET", "/notice").await.body,
        "Added kettle-steel-1.7l"
    );
    assert_eq!(
        browser.send("GET", "/notice").await.body,
        "",
        "a flash is read once"
    );

    let before_login = browser.cookie();
    assert_eq!(
        browser.send("POST", "/login/7").await.status,
        StatusCode::OK
    );
    let logged_in = browser.view().await;
    assert_ne!(logged_in.id, Some(id), "logging in cycles the id");
    assert_eq!(logged_in.user_id, Some(7));
    assert_eq!(logged_in.cart.len(), 3, "the cart survives the login");
    assert_eq!(logged_in.csrf, None, "the pre-login token is cleared");
    let pre_login = http
        .with_cookie(to, "GET", "/state", &before_login)
        .await
        .view();
    assert_eq!(
        pre_login.user_id, None,
        "the pre-login cookie never carries the login"
    );

    let logged_in_cookie = browser.cookie();
    let reply = browser.send("POST", "/logout").await;
    assert_eq!(
        reply.sent(),
        Sent::Removal,
        "logging out removes the cookie"
    );
    assert_eq!(browser.view().await, View::empty());
    // What the guide says about revocation: a copy of the cookie stays
    // valid until its deadline unless the app opts into a revocation check.
    let copy = http
        .with_cookie(to, "GET", "/state", &logged_in_cookie)
        .await
        .view();
    assert_eq!(copy.user_id, Some(7), "a copy outlives the logout");
}

#[tokio::test]
async fn a_failed_handler_sends_no_cookie() {
    let to = serve(app(keys(&[&NEW_KEY]))).await;
    let http = Http::new();
    let mut browser = Browser::new(&http, to);
    filled(&mut browser).await;
    let before = browser.cookie();
    let reply = browser.send("POST", "/fail").await;
    assert_eq!(
        (reply.status, reply.sent()),
        (StatusCode::INTERNAL_SERVER_ERROR, Sent::Nothing)
    );
    assert_eq!(browser.cookie(), before);
    assert_eq!(
        browser.view().await.locale,
        "fr",
        "the failed write was not kept"
    );
}

// ---------------------------------------------------------------- tampering

/// Sends `value` as the cookie and checks the request sees an empty
/// session and the cookie is removed; `None` when the value cannot be sent
/// in a header at all.
async fn refused(http: &Http, to: SocketAddr, value: &[u8]) -> Option<Result<(), String>> {
    let mut header = b"id=".to_vec();
    header.extend_from_slice(value);
    let header = HeaderValue::from_bytes(&header).ok()?;
    let reply = match http.send(to, "GET", "/state", Some(header)).await {
        Ok(reply) => reply,
        Err(error) => return Some(Err(error)),
    };
    if reply.status != StatusCode::OK {
        return Some(Err(format!("status {}: {}", reply.status, reply.body)));
    }
    let view: View = match serde_json::from_str(&reply.body) {
        Ok(view) => view,
        Err(error) => return Some(Err(format!("{error}: {}", reply.body))),
    };
    if view != View::empty() {
        return Some(Err(format!("a session was read: {view:?}")));
    }
    if reply.sent() != Sent::Removal {
        return Some(Err(format!("the cookie was not removed: {reply:?}")));
    }
    Some(Ok(()))
}

#[tokio::test]
async fn one_flipped_bit_anywhere_is_an_empty_session() {
    let to = serve(app(keys(&[&NEW_KEY]))).await;
    let http = Http::new();
    let mut browser = Browser::new(&http, to);
    filled(&mut browser).await;
    let cookie = browser.cookie();
    let sealed = STANDARD.decode(&cookie).expect("the cookie is base64");

    // Every bit of nonce, ciphertext and tag.
    let mut failures = Vec::new();
    for position in 0..sealed.len() * 8 {
        let mut flipped = sealed.clone();
        flipped[position / 8] ^= 1 << (position % 8);
        let text = STANDARD.encode(&flipped);
        match refused(&http, to, text.as_bytes()).await {
            Some(Ok(())) => {}
            Some(Err(error)) => failures.push(format!("sealed bit {position}: {error}")),
            None => failures.push(format!("sealed bit {position}: unsendable")),
        }
    }
    // Every bit of the base64 text that still makes a header value.
    let mut unsendable = 0;
    for position in 0..cookie.len() * 8 {
        let mut flipped = cookie.as_bytes().to_vec();
        flipped[position / 8] ^= 1 << (position % 8);
        match refused(&http, to, &flipped).await {
            Some(Ok(())) => {}
            Some(Err(error)) => failures.push(format!("text bit {position}: {error}")),
            None => unsendable += 1,
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures: {:#?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
    println!(
        "{} flipped bits of the sealed bytes and {} of the text ({unsendable} more make no header value): \
         every one an empty session with the cookie removed",
        sealed.len() * 8,
        cookie.len() * 8 - unsendable
    );
    assert_eq!(
        browser.view().await.cart.len(),
        3,
        "the intact cookie still works"
    );
}

/// A small seeded PRNG (xorshift64*), so a failure replays.
struct Prng(u64);

impl Prng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(bound.max(1)).expect("fits")).expect("fits")
    }

    fn byte(&mut self) -> u8 {
        self.next().to_le_bytes()[0]
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.byte()).collect()
    }

    /// Any byte a header value may hold: no control bytes but tab.
    fn header_byte(&mut self) -> u8 {
        match self.byte() {
            b'\t' => b'\t',
            byte @ 0..0x20 => byte + 0x20,
            0x7F => b'~',
            byte => byte,
        }
    }
}

/// One random mutation of `cookie`, and its kind.
fn mutate(rng: &mut Prng, cookie: &[u8]) -> (&'static str, Vec<u8>) {
    let mut value = cookie.to_vec();
    let kind = match rng.below(9) {
        0 => {
            for _ in 0..=rng.below(4) {
                let at = rng.below(value.len());
                value[at] ^= 1 << rng.below(8);
            }
            "flip bits"
        }
        1 => {
            for _ in 0..=rng.below(4) {
                let at = rng.below(value.len() + 1);
                let byte = rng.header_byte();
                value.insert(at, byte);
            }
            "insert bytes"
        }
        2 => {
            let at = rng.below(value.len());
            let len = 1 + rng.below(16).min(value.len() - at - 1);
            value.drain(at..at + len);
            "delete bytes"
        }
        3 => {
            value.truncate(rng.below(value.len()));
            "truncate"
        }
        4 => {
            let len = rng.below(600);
            value = (0..len).map(|_| rng.header_byte()).collect();
            "random garbage"
        }
        5 => {
            let len = 4096 + rng.below(60_000);
            value = (0..len).map(|_| b'A' + (rng.byte() % 26)).collect();
            "huge value"
        }
        6 => {
            let len = rng.below(400);
            value = STANDARD.encode(rng.bytes(len)).into_bytes();
            "random base64"
        }
        7 => {
            let at = rng.below(value.len());
            value[at] = b"A+/=;, \t\"\\"[rng.below(10)];
            "replace with a delimiter"
        }
        _ => {
            let mut sealed = STANDARD.decode(cookie).expect("base64");
            let at = rng.below(sealed.len());
            sealed[at] = rng.byte();
            value = STANDARD.encode(sealed).into_bytes();
            "replace a sealed byte"
        }
    };
    (kind, value)
}

/// Whether `value` can follow `id=` in a `Cookie` header.
fn sendable(value: &[u8]) -> bool {
    let mut header = b"id=".to_vec();
    header.extend_from_slice(value);
    HeaderValue::from_bytes(&header).is_ok()
}

/// Whether a mutated value still carries the original cookie as the value
/// of its first pair (an inserted `;` or surrounding blanks leave it whole).
fn still_intact(original: &str, mutated: &[u8]) -> bool {
    String::from_utf8_lossy(mutated)
        .split(';')
        .next()
        .is_some_and(|first| first.trim() == original)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_random_mutations_never_panic() {
    const MUTATIONS: usize = 10_000;
    let to = serve(app(keys(&[&NEW_KEY]))).await;
    let http = Http::new();
    let mut browser = Browser::new(&http, to);
    filled(&mut browser).await;
    let cookie = browser.cookie();

    // Mutations no client can send (control bytes in a header) or that
    // leave the cookie whole are drawn again.
    let mut rng = Prng(0x5EED_C00C_1E5E_5510);
    let mut redrawn = 0;
    let mut cases: Vec<(&'static str, Vec<u8>)> = Vec::with_capacity(MUTATIONS);
    while cases.len() < MUTATIONS {
        let (kind, value) = mutate(&mut rng, cookie.as_bytes());
        if sendable(&value) && !still_intact(&cookie, &value) {
            cases.push((kind, value));
        } else {
            redrawn += 1;
        }
    }
    let cases = Arc::new(Mutex::new(cases));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let cases = Arc::clone(&cases);
        let http = http.clone();
        workers.spawn(async move {
            let mut tally: HashMap<&'static str, usize> = HashMap::new();
            let mut failures = Vec::new();
            loop {
                let Some((kind, value)) =
                    cases.lock().unwrap_or_else(PoisonError::into_inner).pop()
                else {
                    break;
                };
                *tally.entry(kind).or_default() += 1;
                match refused(&http, to, &value).await {
                    Some(Ok(())) => {}
                    Some(Err(error)) => failures.push(format!("{kind}: {error}")),
                    None => failures.push(format!("{kind}: could not be sent")),
                }
            }
            (tally, failures)
        });
    }
    let mut tally: HashMap<&'static str, usize> = HashMap::new();
    let mut failures = Vec::new();
    while let Some(done) = workers.join_next().await {
        let (their_tally, their_failures) = done.expect("a worker");
        for (kind, count) in their_tally {
            *tally.entry(kind).or_default() += count;
        }
        failures.extend(their_failures);
    }
    assert!(
        failures.is_empty(),
        "{} of {MUTATIONS} mutations misbehaved: {:#?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
    let mut kinds: Vec<_> = tally.into_iter().collect();
    kinds.sort_unstable();
    println!(
        "{MUTATIONS} mutations sent ({redrawn} more drawn that no client can send or that left \
         the cookie whole): 0 panics, every one a 200 with an empty session and the cookie removed"
    );
    for (kind, count) in kinds {
        println!("  {kind}: {count}");
    }
    assert_eq!(
        browser.view().await.cart.len(),
        3,
        "the intact cookie still works"
    );
}

// ---------------------------------------------------------------- keys

#[tokio::test]
async fn rotated_keys_reseal_old_cookies() {
    let old = serve(app(keys(&[&OLD_KEY]))).await;
    let rotated = serve(app(keys(&[&NEW_KEY, &OLD_KEY]))).await;
    let new_only = serve(app(keys(&[&NEW_KEY]))).await;
    let http = Http::new();

    let mut browser = Browser::new(&http, old);
    filled(&mut browser).await;
    let sealed_with_old = browser.cookie();

    browser.to = rotated;
    let reply = browser.send("GET", "/state").await;
    assert_eq!(reply.view().cart.len(), 3, "the old key still opens");
    let Sent::Value(resealed) = reply.sent() else {
        panic!("a cookie opened with the old key is sealed again: {reply:?}");
    };
    assert_ne!(resealed, sealed_with_old);
    let reply = browser.send("GET", "/state").await;
    assert_eq!(
        reply.sent(),
        Sent::Nothing,
        "sealed with the new key, it is not resent"
    );

    let reply = http.with_cookie(new_only, "GET", "/state", &resealed).await;
    assert_eq!(
        reply.view().cart.len(),
        3,
        "the resealed cookie opens under the new key alone"
    );
    let reply = http
        .with_cookie(new_only, "GET", "/state", &sealed_with_old)
        .await;
    assert_eq!(reply.view(), View::empty(), "the retired key opens nothing");
    assert_eq!(reply.sent(), Sent::Removal);
    let reply = http.with_cookie(old, "GET", "/state", &resealed).await;
    assert_eq!(
        reply.view(),
        View::empty(),
        "the old key cannot read the new cookies"
    );
}

// ---------------------------------------------------------------- size

/// Captures `tracing` output on this thread: the server and the client run
/// on the test's current-thread runtime, so their events land here.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

#[tokio::test]
async fn the_error_page_hook_renders_the_layers_own_500() {
    let layer = CookieSessionLayer::builder(keys(&[&NEW_KEY]))
        .with_secure(false)
        .with_error_page(|request| {
            ErrorPage::html(format!(
                "<p>{} {:?}</p>",
                request.status().as_u16(),
                request.error()
            ))
        })
        .build()
        .expect("valid settings");
    let to = serve(routes().layer(layer)).await;
    let http = Http::new();
    let mut browser = Browser::new(&http, to);
    let reply = browser.send("POST", "/big/5000").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.body, "<p>500 Failed</p>");
    assert_eq!(reply.set_cookies, Vec::<String>::new());
    assert!(reply.no_store());
    // The app's own responses are not the layer's: they pass unchanged.
    let reply = browser.send("POST", "/fail").await;
    assert_ne!(reply.body, "<p>500 Failed</p>");
}

#[tokio::test]
async fn an_oversized_session_is_refused_and_the_previous_cookie_kept() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::ERROR)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let to = serve(app(keys(&[&NEW_KEY]))).await;
    let http = Http::new();
    let mut browser = Browser::new(&http, to);
    filled(&mut browser).await;
    let before = browser.cookie();

    let reply = browser.send("POST", "/big/2000").await;
    assert_eq!(reply.status, StatusCode::OK, "2000 more bytes fit");
    let fitting = browser.cookie();
    assert_ne!(fitting, before);

    let reply = browser.send("POST", "/big/1500").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        reply.set_cookies,
        Vec::<String>::new(),
        "no cookie the browser would drop"
    );
    assert_eq!(reply.body, "The session could not be read or written.");
    assert!(
        !reply.body.contains("shop.cart"),
        "no details for the client"
    );
    assert!(reply.no_store());

    let logs = captured.text();
    let line = logs
        .lines()
        .find(|line| line.contains("the session cookie would be"))
        .unwrap_or_else(|| panic!("the error is logged: {logs}"));
    assert!(
        line.contains("over the 4096 browsers keep; the largest values: `shop.cart` "),
        "{line}"
    );
    println!("logged: {line}");

    assert_eq!(browser.cookie(), fitting, "the browser keeps its cookie");
    let view = browser.view().await;
    assert_eq!(
        view.cart.len(),
        4,
        "the previous cookie still works, without the refused item"
    );
}

// ---------------------------------------------------------------- deadlines

/// The routes under a layer whose deadlines follow `clock`: idle 30
/// minutes, absolute 2 hours.
fn clocked_app(clock: &ManualClock) -> Router {
    let layer = CookieSessionLayer::builder(keys(&[&NEW_KEY]))
        .with_secure(false)
        .with_idle_timeout(StdDuration::from_secs(30 * 60))
        .with_absolute_timeout(StdDuration::from_secs(2 * 3600))
        .with_clock(clock.clone().into())
        .build()
        .expect("valid settings");
    routes().layer(layer)
}

const START: i64 = 1_700_000_000;

#[tokio::test]
async fn the_idle_deadline_holds_even_for_replayed_cookies() {
    let clock = ManualClock::starting_at_unix(START);
    let to = serve(clocked_app(&clock)).await;
    let http = Http::new();
    let mut browser = Browser::new(&http, to);
    browser.send("POST", "/cart/tea/1").await;
    let first = browser.cookie();

    clock.advance(Duration::minutes(30) - Duration::seconds(1));
    let reply = browser.send("GET", "/state").await;
    assert_eq!(
        reply.view().cart.len(),
        1,
        "one second before the idle deadline"
    );
    assert!(
        matches!(reply.sent(), Sent::Value(_)),
        "the idle deadline moves"
    );

    clock.advance(Duration::seconds(1));
    let replayed = http.with_cookie(to, "GET", "/state", &first).await;
    assert_eq!(
        replayed.view(),
        View::empty(),
        "a replayed cookie keeps its own idle deadline"
    );
    assert_eq!(replayed.sent(), Sent::Removal);
    assert_eq!(
        browser.view().await.cart.len(),
        1,
        "the refreshed cookie lives on"
    );

    clock.advance(Duration::minutes(30));
    let reply = browser.send("GET", "/state").await;
    assert_eq!(
        reply.view(),
        View::empty(),
        "30 idle minutes end the session"
    );
    assert_eq!(reply.sent(), Sent::Removal);
}

#[tokio::test]
async fn the_absolute_deadline_is_never_extended() {
    let clock = ManualClock::starting_at_unix(START);
    let to = serve(clocked_app(&clock)).await;
    let http = Http::new();
    let mut browser = Browser::new(&http, to);
    browser.send("POST", "/cart/tea/1").await;
    let mut copies = vec![browser.cookie()];
    for step in 1..=5 {
        clock.advance(Duration::minutes(20));
        let reply = browser.send("POST", &format!("/locale/l{step}")).await;
        assert_eq!(reply.status, StatusCode::OK);
        copies.push(browser.cookie());
    }
    clock.advance(Duration::minutes(20) - Duration::seconds(1));
    assert_eq!(
        browser.view().await.cart.len(),
        1,
        "alive one second before 2 hours"
    );
    clock.advance(Duration::seconds(1));
    let reply = browser.send("GET", "/state").await;
    assert_eq!(
        reply.view(),
        View::empty(),
        "2 hours after it began, the session ends"
    );
    assert_eq!(reply.sent(), Sent::Removal);
    for copy in &copies {
        let replayed = http.with_cookie(to, "POST", "/cart/more/1", copy).await;
        assert_eq!(replayed.status, StatusCode::OK);
        let Sent::Value(fresh) = replayed.sent() else {
            panic!("the write starts a new session: {replayed:?}");
        };
        let view = http.with_cookie(to, "GET", "/state", &fresh).await.view();
        assert_eq!(
            view.cart.len(),
            1,
            "a replayed cookie brings nothing back: {view:?}"
        );
    }
}

#[tokio::test]
async fn cycling_the_id_keeps_the_absolute_deadline_and_a_log_in_restarts_it() {
    let clock = ManualClock::starting_at_unix(START);
    let to = serve(clocked_app(&clock)).await;
    let http = Http::new();
    let mut browser = Browser::new(&http, to);
    browser.send("POST", "/login/7").await;
    for step in 1..=5 {
        clock.advance(Duration::minutes(20));
        let before = browser.cookie();
        let reply = browser
            .send("POST", &format!("/switch/{}", 7 + step % 2))
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_ne!(browser.cookie(), before, "the id cycles");
    }
    clock.advance(Duration::minutes(20) - Duration::seconds(1));
    assert!(
        browser.view().await.user_id.is_some(),
        "alive one second before 2 hours after the log in"
    );
    clock.advance(Duration::seconds(1));
    let reply = browser.send("GET", "/state").await;
    assert_eq!(
        reply.view(),
        View::empty(),
        "2 hours after the log in the session ends, however often its id cycled"
    );

    // Idle 30 minutes: a request every 20 keeps the session in use.
    let mut again = Browser::new(&http, to);
    again.send("POST", "/login/7").await;
    for _ in 0..5 {
        clock.advance(Duration::minutes(20));
        assert_eq!(again.view().await.user_id, Some(7));
    }
    again.send("POST", "/login/8").await;
    for _ in 0..5 {
        clock.advance(Duration::minutes(20));
        assert_eq!(
            again.view().await.user_id,
            Some(8),
            "a new log in restarts the two hours"
        );
    }
}

#[tokio::test]
async fn per_field_expiry_inside_a_cookie_session() {
    let clock = ManualClock::starting_at_unix(START);
    let to = serve(clocked_app(&clock)).await;
    let http = Http::new();
    let mut browser = Browser::new(&http, to);
    browser.send("POST", "/token").await;
    clock.advance(Duration::minutes(15) - Duration::seconds(1));
    assert_eq!(
        browser.view().await.csrf.as_deref(),
        Some(TOKEN),
        "one second before"
    );
    clock.advance(Duration::seconds(1));
    assert_eq!(
        browser.view().await.csrf,
        None,
        "15 minutes after it was set"
    );
}

#[tokio::test]
async fn a_schema_migrates_inside_a_cookie_session() {
    let to = serve(app(keys(&[&NEW_KEY]))).await;
    let http = Http::new();
    let mut browser = Browser::new(&http, to);
    browser.send("POST", "/v1").await;
    assert_eq!(browser.send("GET", "/raw/prefs.__version").await.body, "1");
    let reply = browser.send("GET", "/prefs").await;
    assert_eq!(reply.body, "dark", "v1 data read as v2");
    assert!(
        matches!(reply.sent(), Sent::Value(_)),
        "the migration is written back"
    );
    assert_eq!(browser.send("GET", "/raw/prefs.__version").await.body, "2");
    let reply = browser.send("GET", "/prefs").await;
    assert_eq!(
        (reply.body.as_str(), reply.sent()),
        ("dark", Sent::Nothing),
        "once"
    );
}

// ---------------------------------------------------------------- revocation

// ANCHOR: revocation
/// "Sessions valid after", per user, as an app would keep it in its users
/// table.
#[derive(Clone, Default)]
struct ValidAfter {
    users: Arc<Mutex<HashMap<u64, OffsetDateTime>>>,
    unreachable: Arc<AtomicBool>,
}

impl Revocation for ValidAfter {
    async fn sessions_valid_after(
        &self,
        session: &LayerSession,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        if self.unreachable.load(Ordering::Relaxed) {
            return Err(StoreError::msg("the users table is unreachable"));
        }
        let user = ShopSession::new(session.clone())
            .user_id()
            .await
            .map_err(|error| StoreError::msg(error.to_string()))?;
        let users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(user.and_then(|user| users.get(&user).copied()))
    }
}
// ANCHOR_END: revocation

#[tokio::test]
async fn revoked_sessions_read_as_empty() {
    let clock = ManualClock::starting_at_unix(START);
    let revocation = ValidAfter::default();
    let layer = CookieSessionLayer::builder(keys(&[&NEW_KEY]))
        .with_secure(false)
        .with_clock(clock.clone().into())
        .with_revocation(revocation.clone())
        .build()
        .expect("valid settings");
    let to = serve(routes().layer(layer)).await;
    let http = Http::new();

    let mut laptop = Browser::new(&http, to);
    laptop.send("POST", "/login/7").await;
    let mut phone = Browser::new(&http, to);
    phone.send("POST", "/login/7").await;
    let mut other = Browser::new(&http, to);
    other.send("POST", "/login/8").await;

    clock.advance(Duration::seconds(30));
    // "Log out everywhere" from the laptop: user 7's sessions end now.
    revocation
        .users
        .lock()
        .expect("users")
        .insert(7, clock_now(&clock));
    clock.advance(Duration::seconds(1));
    for browser in [&mut laptop, &mut phone] {
        let reply = browser.send("GET", "/state").await;
        assert_eq!(
            reply.view(),
            View::empty(),
            "a revoked session reads as empty"
        );
        assert_eq!(reply.sent(), Sent::Removal);
    }
    assert_eq!(
        other.view().await.user_id,
        Some(8),
        "other users are untouched"
    );

    laptop.send("POST", "/login/7").await;
    assert_eq!(
        laptop.view().await.user_id,
        Some(7),
        "a later login is valid"
    );

    revocation.unreachable.store(true, Ordering::Relaxed);
    let reply = laptop.send("GET", "/state").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{reply:?}");
    assert_eq!(reply.sent(), Sent::Nothing);
    revocation.unreachable.store(false, Ordering::Relaxed);
    assert_eq!(
        laptop.view().await.user_id,
        Some(7),
        "the cookie survived the outage"
    );
}

fn clock_now(clock: &ManualClock) -> OffsetDateTime {
    session_core::TimeSource::now(clock)
}

// ---------------------------------------------------------------- concurrency

#[tokio::test]
async fn concurrent_writes_the_later_cookie_wins() {
    let to = serve(app(keys(&[&NEW_KEY]))).await;
    let http = Http::new();
    let mut browser = Browser::new(&http, to);
    browser.send("POST", "/cart/tea/1").await;
    let shared = browser.cookie();

    // Two tabs send a request each with the same cookie.
    let cart = http.with_cookie(to, "POST", "/cart/mug/1", &shared).await;
    let locale = http.with_cookie(to, "POST", "/locale/de", &shared).await;
    let read = http.with_cookie(to, "GET", "/state", &shared).await;
    assert_eq!(
        read.sent(),
        Sent::Nothing,
        "a read sends no cookie, so it undoes nothing"
    );
    let (Sent::Value(after_cart), Sent::Value(after_locale)) = (cart.sent(), locale.sent()) else {
        panic!("both writes send a cookie");
    };
    // The browser keeps the cookie it received last: the locale's.
    let kept = http
        .with_cookie(to, "GET", "/state", &after_locale)
        .await
        .view();
    assert_eq!(
        (kept.cart.len(), kept.locale.as_str()),
        (1, "de"),
        "the cart change is lost"
    );
    let other = http
        .with_cookie(to, "GET", "/state", &after_cart)
        .await
        .view();
    assert_eq!((other.cart.len(), other.locale.as_str()), (2, "en"));
}

// ---------------------------------------------------------------- the counter

/// The counter binary in cookie mode, with `SESSION_KEY` set to `key`.
fn counter(key: Option<&str>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_counter"));
    for variable in ["REDIS_URL", "DATABASE_URL", "SESSION_KEY"] {
        command.env_remove(variable);
    }
    command.env("SESSION_STORE", "cookie");
    if let Some(key) = key {
        command.env("SESSION_KEY", key);
    }
    command
}

#[test]
fn the_counter_runs_in_cookie_mode() {
    use support::process::{free_port, http, start_listening};

    let key = STANDARD.encode([0x5A_u8; 48]);
    let (first_port, second_port) = (free_port(), free_port());
    let _first = start_listening(counter(Some(&key)), first_port);
    let _second = start_listening(counter(Some(&key)), second_port);
    let one = http(first_port, "GET", "/incr", None, "");
    assert_eq!((one.status, one.body.as_str()), (200, r#"{"count":1}"#));
    let cookie = one.set_cookie.expect("a session cookie");
    let two = http(second_port, "GET", "/incr", Some(&cookie), "");
    assert_eq!(
        two.body, r#"{"count":2}"#,
        "two processes with one SESSION_KEY share sessions, with no store"
    );

    let rotated_key = format!("{},{key}", STANDARD.encode([0x6B_u8; 32]));
    let third_port = free_port();
    let _third = start_listening(counter(Some(&rotated_key)), third_port);
    let three = http(third_port, "GET", "/incr", Some(&cookie), "");
    assert_eq!(
        three.body, r#"{"count":2}"#,
        "the old key still opens after a rotation"
    );

    let short = counter(Some("c2hvcnQ=")).output().expect("run the counter");
    let stderr = String::from_utf8_lossy(&short.stderr);
    assert!(!short.status.success());
    assert!(
        stderr.contains("SESSION_KEY: cookie key 1 has 5 bytes") && !stderr.contains("short"),
        "{stderr}"
    );
}

#[test]
fn the_counter_warns_about_a_development_key() {
    let port = support::process::free_port();
    let mut child = counter(None)
        .env("PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the counter");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut warned = false;
    for line in lines.by_ref() {
        let line = line.expect("a line");
        warned |= line.contains("development key") && line.contains("will not survive a restart");
        if line.contains("listening") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        warned,
        "the counter warns that sessions will not survive a restart"
    );
}
