//! The example shop: a cart, a locale, a login and a CSRF token, all kept in
//! one typed session.

use std::fmt::Write as _;

use axum::Router;
use axum::extract::Form;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use session_core::cas::CasStore;
use session_core::layer::{LayerConfigError, SameSite, SessionLayer};
use session_core::{SessionError, SessionSchema};

use crate::html::escape;

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

/// The languages the shop speaks.
pub const LOCALES: [&str; 3] = ["en", "fr", "de"];

// ANCHOR: app
/// The shop's routes, sessions in `store`: a compare-and-swap store, or any
/// tower-sessions store wrapped in `LastWriterWins`.
///
/// # Errors
///
/// None with these settings; the layer checks its cookie settings when it is
/// built.
pub fn app<S: CasStore>(store: S) -> Result<Router, LayerConfigError> {
    let sessions = SessionLayer::builder(store)
        // The example serves plain HTTP on loopback; in production keep the
        // default `Secure` cookie and serve HTTPS.
        .with_secure(false)
        .with_same_site(SameSite::Lax)
        .build()?;
    Ok(Router::new()
        .route("/", get(page))
        .route("/cart", post(add_to_cart))
        .route("/locale", post(set_locale))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .layer(sessions))
}
// ANCHOR_END: app

// ANCHOR: handlers
/// The form that adds to the cart.
///
/// In every form `csrf_token` defaults to empty, so a request without it is
/// refused as a forgery (403) rather than as a malformed form (422).
#[derive(Deserialize)]
struct AddToCart {
    sku: String,
    quantity: u32,
    #[serde(default)]
    csrf_token: String,
}

async fn add_to_cart(
    shop: ShopSession,
    Form(form): Form<AddToCart>,
) -> Result<Response, SessionError> {
    if let Some(refusal) = refuse_forgery(&shop, &form.csrf_token).await? {
        return Ok(refusal);
    }
    let sku = form.sku.trim().to_owned();
    if sku.is_empty() || form.quantity == 0 {
        return Ok((
            StatusCode::BAD_REQUEST,
            "a product and a quantity above zero are required",
        )
            .into_response());
    }
    shop.update_cart(|cart| match cart.iter_mut().find(|item| item.sku == sku) {
        Some(item) => item.quantity = item.quantity.saturating_add(form.quantity),
        None => cart.push(CartItem {
            sku: sku.clone(),
            quantity: form.quantity,
        }),
    })
    .await?;
    shop.set_notice(format!("Added {sku} to your cart")).await?;
    Ok(Redirect::to("/").into_response())
}
// ANCHOR_END: handlers

/// The form that changes the language.
#[derive(Deserialize)]
struct ChangeLocale {
    locale: String,
    #[serde(default)]
    csrf_token: String,
}

async fn set_locale(
    shop: ShopSession,
    Form(form): Form<ChangeLocale>,
) -> Result<Response, SessionError> {
    if let Some(refusal) = refuse_forgery(&shop, &form.csrf_token).await? {
        return Ok(refusal);
    }
    if !LOCALES.contains(&form.locale.as_str()) {
        return Ok((
            StatusCode::BAD_REQUEST,
            "unknown locale: choose en, fr or de",
        )
            .into_response());
    }
    shop.set_locale(form.locale).await?;
    Ok(Redirect::to("/").into_response())
}

/// The login form: a user id stands in for real authentication.
#[derive(Deserialize)]
struct Login {
    user_id: u64,
    #[serde(default)]
    csrf_token: String,
}

// ANCHOR: login
async fn login(shop: ShopSession, Form(form): Form<Login>) -> Result<Response, SessionError> {
    if let Some(refusal) = refuse_forgery(&shop, &form.csrf_token).await? {
        return Ok(refusal);
    }
    // The id cycles, and the CSRF token (`clear_on_rotate`) goes with the
    // old id; the next page issues a fresh one.
    shop.set_user_id(form.user_id).await?;
    shop.set_notice(format!("Welcome, user {}", form.user_id))
        .await?;
    Ok(Redirect::to("/").into_response())
}
// ANCHOR_END: login

/// Any form that only needs the token.
#[derive(Deserialize)]
struct TokenOnly {
    #[serde(default)]
    csrf_token: String,
}

async fn logout(shop: ShopSession, Form(form): Form<TokenOnly>) -> Result<Response, SessionError> {
    if let Some(refusal) = refuse_forgery(&shop, &form.csrf_token).await? {
        return Ok(refusal);
    }
    shop.flush().await?;
    Ok(Redirect::to("/").into_response())
}

/// A 403 unless `sent` is the live token of this session.
async fn refuse_forgery(shop: &ShopSession, sent: &str) -> Result<Option<Response>, SessionError> {
    let valid = shop
        .csrf_token()
        .await?
        .is_some_and(|token| constant_time_eq(token.as_bytes(), sent.as_bytes()));
    Ok((!valid).then(|| {
        (
            StatusCode::FORBIDDEN,
            "the form expired or did not come from this site: reload the page and try again",
        )
            .into_response()
    }))
}

/// Compares without stopping at the first difference, so the time taken does
/// not tell an attacker how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// A fresh token: 16 random bytes from the operating system, hex-encoded.
fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(bytes
        .iter()
        .fold(String::with_capacity(32), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        }))
}

async fn page(shop: ShopSession) -> Result<Response, SessionError> {
    let token = match shop.csrf_token().await? {
        Some(token) => token,
        None => match new_token() {
            Ok(token) => {
                shop.set_csrf_token(token.clone()).await?;
                token
            }
            // Not a `SessionError`: the store is fine, so a 503 "store
            // unavailable" would mislead.
            Err(error) => {
                tracing::error!(%error, "no randomness for a CSRF token");
                return Ok((
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the page could not be prepared; try again shortly",
                )
                    .into_response());
            }
        },
    };
    let notice = shop.take_notice().await?;
    let state = shop.load().await?;
    Ok(Html(render(&state, notice.as_deref(), &token)).into_response())
}

fn render(shop: &Shop, notice: Option<&str>, token: &str) -> String {
    let token = escape(token);
    let hidden = format!(r#"<input type="hidden" name="csrf_token" value="{token}">"#);
    let mut html = String::from(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Typed shop</title></head><body>\n<h1>Typed shop</h1>\n",
    );
    if let Some(notice) = notice {
        let _ = writeln!(html, r#"<p id="notice">{}</p>"#, escape(notice));
    }
    match shop.user_id {
        Some(user) => {
            let _ = writeln!(
                html,
                r#"<p id="user">Logged in as user {user}</p><form method="post" action="/logout">{hidden}<button>Log out</button></form>"#
            );
        }
        None => {
            let _ = writeln!(
                html,
                r#"<form method="post" action="/login">{hidden}<label>User id <input name="user_id" type="number" min="0" required></label> <button>Log in</button></form>"#
            );
        }
    }
    let count: u32 = shop.cart.iter().map(|item| item.quantity).sum();
    let _ = writeln!(
        html,
        r#"<h2>Cart (<span id="count">{count}</span>)</h2><ul id="cart">"#
    );
    for item in &shop.cart {
        let _ = writeln!(
            html,
            "<li>{} &times; {}</li>",
            item.quantity,
            escape(&item.sku)
        );
    }
    let _ = writeln!(
        html,
        r#"</ul><form method="post" action="/cart">{hidden}<label>Product <input name="sku" required></label> <label>Quantity <input name="quantity" type="number" min="1" value="1"></label> <button>Add to cart</button></form>"#
    );
    let mut options = String::new();
    for locale in LOCALES {
        let selected = if locale == shop.locale {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            options,
            r#"<option value="{locale}"{selected}>{locale}</option>"#
        );
    }
    let _ = writeln!(
        html,
        r#"<form method="post" action="/locale">{hidden}<label>Language <select name="locale">{options}</select></label> <button>Change</button></form>"#
    );
    let _ = writeln!(
        html,
        r#"<p id="locale">Language: {}</p>"#,
        escape(&shop.locale)
    );
    html.push_str("</body></html>\n");
    html
}
