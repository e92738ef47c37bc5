//! The example shop: a cart, a locale, a login and a CSRF token, all kept in
//! one typed session, and a page that survives what visitors type.
//!
//! No session is made until a visitor does something that needs one: the
//! page is served without one, anonymous forms are protected by a signed
//! double-submit token (`csrf`), and the first accepted form creates the
//! session.

mod csrf;
mod page;
mod text;

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{DefaultBodyLimit, Form, State};
use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, SET_COOKIE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use session_core::cas::CasStore;
use session_core::layer::{
    ErrorPage, ErrorPageRequest, LayerConfigError, LayerError, SameSite, SessionLayer,
    SessionLayerBuilder,
};
use session_core::{RawSession, SessionError, SessionSchema};

use self::page::{Refused, View};
pub use self::text::Lang;
use self::text::Words;

/// One line of the cart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CartItem {
    /// The product's stock-keeping unit.
    pub sku: String,
    /// How many of it.
    pub quantity: u32,
}

// ANCHOR: schema
/// Everything the shop keeps in a visitor's session.
#[derive(SessionSchema, Debug)]
#[session(namespace = "shop", json_schema)]
pub struct Shop {
    /// The cart; absent reads as empty.
    #[session(default)]
    pub cart: Vec<CartItem>,
    /// The page language; absent reads as English.
    #[session(default = String::from("en"))]
    pub locale: String,
    /// The logged-in user; logging in or out cycles the session id.
    #[session(rotate_id)]
    pub user_id: Option<u64>,
    /// The token every form must send back; it dies 15 minutes after it was
    /// issued, never appears in logs or errors, and goes when the id cycles:
    /// whoever planted the pre-login id knew its token.
    #[session(expires_in = "15m", sensitive, clear_on_rotate)]
    pub csrf_token: Option<String>,
    /// A message shown on the next page only.
    #[session(flash)]
    pub notice: Option<String>,
}
// ANCHOR_END: schema

/// The most of one product a cart line holds.
pub const MAX_QUANTITY: u32 = 99;
/// The longest product name, in characters (the field's `maxlength`).
pub const MAX_NAME_CHARS: usize = 40;
/// The most lines a cart holds.
pub const MAX_LINES: usize = 20;
/// The most bytes the stored cart may take: with the other fields the whole
/// session stays under 2.5 KiB.
pub const MAX_CART_BYTES: usize = 2048;
/// The highest user id the login form takes.
pub const MAX_USER_ID: u64 = 999_999;
/// The largest form body the shop reads; a bigger one is a `413`.
pub const MAX_FORM_BYTES: usize = 4096;

/// Why the shop cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ShopError {
    /// The session layer's settings are refused.
    #[error(transparent)]
    Layer(#[from] LayerConfigError),
    /// No key for the CSRF tokens of anonymous visitors.
    #[error("no randomness for the CSRF signing key: {0}")]
    Randomness(#[from] getrandom::Error),
}

/// What the handlers share.
#[derive(Clone, Debug)]
struct Shared {
    signer: Arc<csrf::Signer>,
}

// ANCHOR: app
/// The shop's routes, sessions in `store`: a compare-and-swap store, or any
/// tower-sessions store wrapped in `LastWriterWins`.
///
/// # Errors
///
/// [`ShopError`] when the layer refuses its settings (not with these) or
/// the system has no randomness for the CSRF key.
pub fn app<S: CasStore>(store: S) -> Result<Router, ShopError> {
    app_with(store, Router::new())
}

/// The shop with `extra` routes served under the same layers.
///
/// # Errors
///
/// As [`app`].
pub fn app_with<S: CasStore>(store: S, extra: Router) -> Result<Router, ShopError> {
    app_with_layer(store, extra, |layer| layer)
}

/// The shop with `extra` routes, its session layer's settings adjusted by
/// `layer` (a test shortens the ended-id window, for instance).
///
/// # Errors
///
/// As [`app`], and when the adjusted settings are refused.
pub fn app_with_layer<S: CasStore>(
    store: S,
    extra: Router,
    layer: impl FnOnce(SessionLayerBuilder<S>) -> SessionLayerBuilder<S>,
) -> Result<Router, ShopError> {
    let sessions = layer(
        SessionLayer::builder(store)
            // The example serves plain HTTP on loopback; in production keep
            // the default `Secure` cookie and serve HTTPS.
            .with_secure(false)
            .with_same_site(SameSite::Lax)
            // The layer's own 409, 503 and 500 as the shop's pages.
            .with_error_page(layer_error_page),
    )
    .build()?;
    let shared = Shared {
        signer: Arc::new(csrf::Signer::new()?),
    };
    Ok(Router::new()
        .route("/", get(show))
        .route("/cart", post(add_to_cart))
        .route("/locale", post(set_locale))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/style.css", get(page::style))
        .with_state(shared)
        .merge(extra)
        .fallback(not_found)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(sessions)
        // Outside the session layer: a panic unwinds through it, and a
        // request that panicked saves nothing.
        .layer(axum::middleware::from_fn(|request, next| {
            crate::catch_panic::catch_panic(request, next, panic_page)
        }))
        .layer(axum::middleware::map_response(security_headers)))
}
// ANCHOR_END: app

/// The response a handler gives instead of the page: an error page in the
/// visitor's language.
#[derive(Debug)]
struct Failed {
    status: StatusCode,
    lang: Lang,
}

impl IntoResponse for Failed {
    fn into_response(self) -> Response {
        page::error(self.lang, self.status)
    }
}

/// A session error as a page: its status (`503` for a store outage, else
/// `500`); the details go to the log, never to the visitor.
fn failed(lang: Lang) -> impl FnOnce(SessionError) -> Failed {
    move |error| Failed {
        // Logs the error, with the key and type that failed.
        status: error.into_response().status(),
        lang,
    }
}

/// Who is asking: the page's language, and whether a session exists.
#[derive(Clone, Copy, Debug)]
struct Visitor {
    lang: Lang,
    has_session: bool,
}

/// Reads the session (creating none) to learn the visitor's language: the
/// session's when there is one, else `?lang=`, else `Accept-Language`.
async fn visitor(
    shop: &ShopSession,
    headers: &HeaderMap,
    asked: Option<Lang>,
) -> Result<Visitor, Failed> {
    let fallback = asked.unwrap_or_else(|| Lang::negotiate(headers));
    let locale = shop.locale().await.map_err(failed(fallback))?;
    // After the first read, the id is there only if the store has the
    // session.
    Ok(match shop.id() {
        Some(_) => Visitor {
            lang: Lang::from_code(&locale).unwrap_or(fallback),
            has_session: true,
        },
        None => Visitor {
            lang: fallback,
            has_session: false,
        },
    })
}

/// What the page's query may ask: `lang=fr`, and `logged_out` after a log
/// out (whose session, and its language, are gone).
fn query(uri: &Uri) -> (Option<Lang>, bool) {
    let mut lang = None;
    let mut logged_out = false;
    for pair in uri.query().unwrap_or_default().split('&') {
        match pair.split_once('=').unwrap_or((pair, "")) {
            ("lang", code) => lang = Lang::from_code(code),
            ("logged_out", _) => logged_out = true,
            _ => {}
        }
    }
    (lang, logged_out)
}

async fn show(
    State(shared): State<Shared>,
    shop: ShopSession,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, Failed> {
    let (asked, logged_out) = query(&uri);
    let visitor = visitor(&shop, &headers, asked).await?;
    let notice = if visitor.has_session {
        shop.take_notice().await.map_err(failed(visitor.lang))?
    } else {
        logged_out.then(|| visitor.lang.words().logged_out.to_owned())
    };
    respond(
        &shared,
        &shop,
        &headers,
        visitor,
        StatusCode::OK,
        notice,
        None,
    )
    .await
}

/// The page, with its token: the session's when there is a session (made
/// now if it has none yet), else the signed cookie's (made now if the
/// visitor brings none that is valid).
async fn respond(
    shared: &Shared,
    shop: &ShopSession,
    headers: &HeaderMap,
    visitor: Visitor,
    status: StatusCode,
    notice: Option<String>,
    refused: Option<&Refused>,
) -> Result<Response, Failed> {
    let lang = visitor.lang;
    let now = shop.clock().now().unix_timestamp();
    let mut set_cookie = None;
    let token = if visitor.has_session {
        match shop.csrf_token().await.map_err(failed(lang))? {
            Some(token) => token,
            None => {
                let token = session_token().map_err(no_randomness(lang))?;
                shop.set_csrf_token(token.clone())
                    .await
                    .map_err(failed(lang))?;
                token
            }
        }
    } else {
        match csrf::from_cookie(headers).filter(|token| shared.signer.verify(token, now)) {
            Some(token) => token.to_owned(),
            None => {
                let token = shared.signer.issue(now).map_err(no_randomness(lang))?;
                set_cookie = csrf::cookie(&token);
                token
            }
        }
    };
    let (user_id, cart) = if visitor.has_session {
        let state = shop.load().await.map_err(failed(lang))?;
        (state.user_id, state.cart)
    } else {
        (None, Vec::new())
    };
    let html = page::render(&View {
        lang,
        user_id,
        cart: &cart,
        notice: notice.as_deref(),
        token: &token,
        refused,
    });
    let mut response = (status, page::no_store(), Html(html)).into_response();
    if let Some(cookie) = set_cookie {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Not a `SessionError`: the store is fine, so a 503 "store unavailable"
/// would mislead.
fn no_randomness(lang: Lang) -> impl FnOnce(getrandom::Error) -> Failed {
    move |error| {
        tracing::error!(%error, "no randomness for a CSRF token");
        Failed {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            lang,
        }
    }
}

/// A fresh session token: 16 random bytes from the operating system,
/// hex-encoded.
fn session_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(csrf::hex(&bytes))
}

/// A form the visitor may send: its token was right.
#[derive(Debug)]
struct Accepted {
    visitor: Visitor,
    /// The anonymous token the form came with, which becomes the new
    /// session's, so the visitor's other open forms keep working.
    anonymous_token: Option<String>,
}

/// Reads the form and checks its CSRF token: the session's when there is a
/// session, else the signed double-submit cookie's. A body that is no form
/// (or too big) and a wrong token are error pages; the parser's wording
/// goes to the log only.
async fn accept<T: FormToken>(
    shared: &Shared,
    shop: &ShopSession,
    headers: &HeaderMap,
    form: Result<Form<T>, FormRejection>,
) -> Result<(T, Accepted), Failed> {
    let visitor = visitor(shop, headers, None).await?;
    let refuse = |status| Failed {
        status,
        lang: visitor.lang,
    };
    let Form(form) = form.map_err(|rejection| {
        tracing::info!(reason = %rejection.body_text(), "a form was refused");
        refuse(rejection.status())
    })?;
    let sent = form.token();
    let valid = if visitor.has_session {
        shop.csrf_token()
            .await
            .map_err(failed(visitor.lang))?
            .is_some_and(|token| csrf::constant_time_eq(token.as_bytes(), sent.as_bytes()))
    } else {
        let now = shop.clock().now().unix_timestamp();
        csrf::from_cookie(headers).is_some_and(|cookie| {
            csrf::constant_time_eq(cookie.as_bytes(), sent.as_bytes())
                && shared.signer.verify(cookie, now)
        })
    };
    if !valid {
        return Err(refuse(StatusCode::FORBIDDEN));
    }
    let anonymous_token = (!visitor.has_session).then(|| sent.to_owned());
    Ok((
        form,
        Accepted {
            visitor,
            anonymous_token,
        },
    ))
}

/// The first accepted form of a visitor creates the session: it keeps the
/// language the page was shown in and, unless the id is about to cycle,
/// the token the visitor's open forms carry.
async fn start_session(
    shop: &ShopSession,
    accepted: &Accepted,
    keep_token: bool,
) -> Result<(), Failed> {
    let Some(token) = &accepted.anonymous_token else {
        return Ok(());
    };
    let lang = accepted.visitor.lang;
    shop.set_locale(lang.code().to_owned())
        .await
        .map_err(failed(lang))?;
    if keep_token {
        shop.set_csrf_token(token.clone())
            .await
            .map_err(failed(lang))?;
    }
    Ok(())
}

/// A form with a CSRF token.
trait FormToken {
    fn token(&self) -> &str;
}

// ANCHOR: handlers
/// The form that adds to the cart. Every field is text, so nothing the
/// visitor types is refused by the parser: the handler checks it and says
/// what is wrong on the page.
#[derive(Deserialize)]
struct AddToCart {
    #[serde(default)]
    sku: String,
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    csrf_token: String,
}

async fn add_to_cart(
    State(shared): State<Shared>,
    shop: ShopSession,
    headers: HeaderMap,
    form: Result<Form<AddToCart>, FormRejection>,
) -> Result<Response, Failed> {
    let (form, accepted) = accept(&shared, &shop, &headers, form).await?;
    let lang = accepted.visitor.lang;
    let words = lang.words();
    let sku = form.sku.trim();
    let cart = shop.cart().await.map_err(failed(lang))?;
    let added = product_name(sku, words)
        .and_then(|()| quantity(&form.quantity, words))
        .and_then(|quantity| with_added(cart, sku, quantity, words).map(|cart| (cart, quantity)));
    let (cart, quantity) = match added {
        Ok(added) => added,
        Err(message) => {
            let refused = Refused {
                form: "cart",
                message,
                sku: form.sku,
                quantity: form.quantity,
                ..Refused::default()
            };
            return respond(
                &shared,
                &shop,
                &headers,
                accepted.visitor,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(&refused),
            )
            .await;
        }
    };
    start_session(&shop, &accepted, true).await?;
    shop.set_cart(cart).await.map_err(failed(lang))?;
    shop.set_notice(Words::fill(words.added, &[&quantity.to_string(), sku]))
        .await
        .map_err(failed(lang))?;
    Ok(Redirect::to("/").into_response())
}

/// A product name: not empty, at most [`MAX_NAME_CHARS`] characters, none
/// of them control or invisible formatting characters (which would let a
/// name hide or reorder text).
fn product_name(sku: &str, words: &Words) -> Result<(), String> {
    if sku.is_empty() {
        return Err(words.name_missing.to_owned());
    }
    if sku.chars().count() > MAX_NAME_CHARS {
        return Err(Words::fill(
            words.name_too_long,
            &[&MAX_NAME_CHARS.to_string()],
        ));
    }
    let invisible = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}')
    };
    if sku.chars().any(invisible) {
        return Err(words.name_characters.to_owned());
    }
    Ok(())
}

/// A quantity from 1 to [`MAX_QUANTITY`].
fn quantity(text: &str, words: &Words) -> Result<u32, String> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|quantity| (1..=MAX_QUANTITY).contains(quantity))
        .ok_or_else(|| Words::fill(words.quantity_range, &[&MAX_QUANTITY.to_string()]))
}

/// `cart` with `quantity` more of `sku`, unless a limit says no: a line
/// holds at most [`MAX_QUANTITY`], a cart [`MAX_LINES`] lines and
/// [`MAX_CART_BYTES`] bytes.
fn with_added(
    mut cart: Vec<CartItem>,
    sku: &str,
    quantity: u32,
    words: &Words,
) -> Result<Vec<CartItem>, String> {
    let lines = cart.len();
    match cart.iter_mut().find(|item| item.sku == sku) {
        Some(item) => {
            let have = item.quantity;
            item.quantity = have
                .checked_add(quantity)
                .filter(|total| *total <= MAX_QUANTITY)
                .ok_or_else(|| {
                    Words::fill(
                        words.line_full,
                        &[&have.to_string(), sku, &MAX_QUANTITY.to_string()],
                    )
                })?;
        }
        None if lines >= MAX_LINES => {
            return Err(Words::fill(words.too_many_lines, &[&MAX_LINES.to_string()]));
        }
        None => cart.push(CartItem {
            sku: sku.to_owned(),
            quantity,
        }),
    }
    let bytes = serde_json::to_vec(&cart).map_or(usize::MAX, |encoded| encoded.len());
    if bytes > MAX_CART_BYTES {
        return Err(words.cart_full.to_owned());
    }
    Ok(cart)
}
// ANCHOR_END: handlers

impl FormToken for AddToCart {
    fn token(&self) -> &str {
        &self.csrf_token
    }
}

/// The form that changes the language.
#[derive(Deserialize)]
struct ChangeLocale {
    #[serde(default)]
    locale: String,
    #[serde(default)]
    csrf_token: String,
}

impl FormToken for ChangeLocale {
    fn token(&self) -> &str {
        &self.csrf_token
    }
}

async fn set_locale(
    State(shared): State<Shared>,
    shop: ShopSession,
    headers: HeaderMap,
    form: Result<Form<ChangeLocale>, FormRejection>,
) -> Result<Response, Failed> {
    let (form, accepted) = accept(&shared, &shop, &headers, form).await?;
    let Some(chosen) = Lang::from_code(&form.locale) else {
        let refused = Refused {
            form: "locale",
            message: accepted.visitor.lang.words().unknown_language.to_owned(),
            ..Refused::default()
        };
        return respond(
            &shared,
            &shop,
            &headers,
            accepted.visitor,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(&refused),
        )
        .await;
    };
    start_session(&shop, &accepted, true).await?;
    shop.set_locale(chosen.code().to_owned())
        .await
        .map_err(failed(chosen))?;
    shop.set_notice(chosen.words().language_changed.to_owned())
        .await
        .map_err(failed(chosen))?;
    Ok(Redirect::to("/").into_response())
}

/// The login form: a user id stands in for real authentication.
#[derive(Deserialize)]
struct Login {
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    csrf_token: String,
}

impl FormToken for Login {
    fn token(&self) -> &str {
        &self.csrf_token
    }
}

// ANCHOR: login
async fn login(
    State(shared): State<Shared>,
    shop: ShopSession,
    headers: HeaderMap,
    form: Result<Form<Login>, FormRejection>,
) -> Result<Response, Failed> {
    let (form, accepted) = accept(&shared, &shop, &headers, form).await?;
    let lang = accepted.visitor.lang;
    let words = lang.words();
    let Some(user_id) = form
        .user_id
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|id| (1..=MAX_USER_ID).contains(id))
    else {
        let refused = Refused {
            form: "login",
            message: Words::fill(words.user_id_range, &[&MAX_USER_ID.to_string()]),
            user_id: form.user_id,
            ..Refused::default()
        };
        return respond(
            &shared,
            &shop,
            &headers,
            accepted.visitor,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(&refused),
        )
        .await;
    };
    start_session(&shop, &accepted, false).await?;
    // The id cycles, and the CSRF token (`clear_on_rotate`) goes with the
    // old id; the next page issues a fresh one.
    shop.set_user_id(user_id).await.map_err(failed(lang))?;
    // A real log in: the session's absolute lifetime starts again (an id
    // that only cycles keeps it).
    shop.raw().mark_authenticated();
    shop.set_notice(Words::fill(words.welcome, &[&user_id.to_string()]))
        .await
        .map_err(failed(lang))?;
    Ok(Redirect::to("/").into_response())
}
// ANCHOR_END: login

/// Any form that only needs the token.
#[derive(Deserialize)]
struct TokenOnly {
    #[serde(default)]
    csrf_token: String,
}

impl FormToken for TokenOnly {
    fn token(&self) -> &str {
        &self.csrf_token
    }
}

/// Ends the session, cart included, and says so on the next page, in the
/// language of the session that is gone.
async fn logout(
    State(shared): State<Shared>,
    shop: ShopSession,
    headers: HeaderMap,
    form: Result<Form<TokenOnly>, FormRejection>,
) -> Result<Response, Failed> {
    let (_, accepted) = accept(&shared, &shop, &headers, form).await?;
    let lang = accepted.visitor.lang;
    shop.flush().await.map_err(failed(lang))?;
    Ok(Redirect::to(&format!("/?logged_out&lang={}", lang.code())).into_response())
}

async fn not_found(headers: HeaderMap) -> Response {
    page::error(Lang::negotiate(&headers), StatusCode::NOT_FOUND)
}

async fn wrong_method(headers: HeaderMap) -> Response {
    page::error(Lang::negotiate(&headers), StatusCode::METHOD_NOT_ALLOWED)
}

// ANCHOR: error_pages
/// The session layer's own responses: the session could not be read, so
/// the language comes from `Accept-Language`.
fn layer_error_page(request: &ErrorPageRequest<'_>) -> ErrorPage {
    let lang = Lang::negotiate(request.headers());
    let words = lang.words();
    let message = match request.error() {
        LayerError::Conflict => words.conflict,
        LayerError::Ended => words.ended,
        LayerError::Busy | LayerError::Unavailable => words.unavailable,
        _ => words.failed,
    };
    ErrorPage::html(page::error_html(lang, request.status(), message))
}

/// A handler panicked: the `500` page, in the language the browser asks
/// for.
fn panic_page(headers: &HeaderMap) -> Response {
    page::error(Lang::negotiate(headers), StatusCode::INTERNAL_SERVER_ERROR)
}
// ANCHOR_END: error_pages

/// On every response: no framing by other sites, no scripts or foreign
/// resources at all, no content sniffing, no URL leaking to other sites.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}
