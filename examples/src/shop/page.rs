//! The shop's HTML: its one page and its error pages.

use std::fmt::Write as _;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::text::{Lang, Words};
use super::{CartItem, MAX_NAME_CHARS, MAX_QUANTITY, MAX_USER_ID};
use crate::html::escape;

/// The stylesheet every page links to (`/style.css`): the policy allows no
/// inline styles.
pub(super) const STYLE: &str = "\
body{font:1rem/1.5 system-ui,sans-serif;margin:0 auto;max-width:40rem;padding:0 1rem;color:#1a1a1a;background:#fff}
header{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:center;gap:.5rem;border-bottom:1px solid #ccc}
h1{font-size:1.5rem;margin:.75rem 0}
h2{font-size:1.15rem;margin:1.25rem 0 .5rem}
form{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin:.5rem 0}
label{display:flex;flex-direction:column;font-size:.9rem}
input,select,button{font:inherit;padding:.3rem .5rem}
input[name=quantity],input[name=user_id]{width:7rem}
button{background:#1d4f91;color:#fff;border:0;border-radius:.25rem;cursor:pointer}
#notice{background:#e6f2e6;border-left:4px solid #2d6a2d;padding:.5rem .75rem}
.error{color:#a00000;margin:.25rem 0;flex-basis:100%}
#cart{padding-left:1.25rem}#cart li{overflow-wrap:anywhere}
footer{border-top:1px solid #ccc;margin-top:2rem}
a{color:#1d4f91}
";

/// What a form that was refused should show: its message and what the
/// visitor typed, so nothing has to be typed again.
#[derive(Debug, Default)]
pub(super) struct Refused {
    /// Which form: `cart`, `login` or `locale`.
    pub(super) form: &'static str,
    /// The message, in the page's language.
    pub(super) message: String,
    /// The product name as typed.
    pub(super) sku: String,
    /// The quantity as typed.
    pub(super) quantity: String,
    /// The user id as typed.
    pub(super) user_id: String,
}

/// What the page shows.
#[derive(Debug)]
pub(super) struct View<'a> {
    pub(super) lang: Lang,
    pub(super) user_id: Option<u64>,
    pub(super) cart: &'a [CartItem],
    pub(super) notice: Option<&'a str>,
    pub(super) token: &'a str,
    pub(super) refused: Option<&'a Refused>,
}

fn head(html: &mut String, lang: Lang, title: &str) {
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><link rel=\"stylesheet\" href=\"/style.css\"></head><body>\n",
        lang.code(),
        escape(title)
    );
}

/// The field attributes that mark a field as refused and point at the
/// message.
fn invalid(refused: Option<&Refused>, form: &str) -> String {
    match refused {
        Some(refused) if refused.form == form => {
            format!(r#" aria-invalid="true" aria-describedby="{form}-error""#)
        }
        _ => String::new(),
    }
}

fn error_line(html: &mut String, refused: Option<&Refused>, form: &str) {
    if let Some(refused) = refused.filter(|refused| refused.form == form) {
        let _ = write!(
            html,
            r#"<p id="{form}-error" class="error" role="alert">{}</p>"#,
            escape(&refused.message)
        );
    }
}

/// Keeps at most `limit` characters of what the visitor typed, for a
/// field's `value`.
fn typed(text: &str, limit: usize) -> String {
    escape(&text.chars().take(limit).collect::<String>())
}

/// The header: the shop's name, and the log in or log out form.
fn account(html: &mut String, view: &View<'_>, hidden: &str) {
    let words = view.lang.words();
    let refused = view.refused;
    let _ = write!(html, "<header><h1>{}</h1>", escape(words.title));
    let _ = write!(html, r#"<nav aria-label="{}">"#, escape(words.account));
    match view.user_id {
        Some(user) => {
            let _ = write!(
                html,
                r#"<p id="user">{}</p><form method="post" action="/logout">{hidden}<button>{}</button></form>"#,
                escape(&Words::fill(words.logged_in_as, &[&user.to_string()])),
                escape(words.log_out)
            );
        }
        None => {
            let value = refused.map_or(String::new(), |refused| typed(&refused.user_id, 12));
            let _ = write!(
                html,
                r#"<form method="post" action="/login">{hidden}<label>{} <input name="user_id" type="number" inputmode="numeric" min="1" max="{MAX_USER_ID}" required value="{value}"{}></label> <button>{}</button>"#,
                escape(words.user_id),
                invalid(refused, "login"),
                escape(words.log_in)
            );
            error_line(html, refused, "login");
            html.push_str("</form>");
        }
    }
}

/// The shop's page.
#[must_use]
pub(super) fn render(view: &View<'_>) -> String {
    let words = view.lang.words();
    let refused = view.refused;
    let hidden = format!(
        r#"<input type="hidden" name="csrf_token" value="{}">"#,
        escape(view.token)
    );
    let mut html = String::with_capacity(4096);
    head(&mut html, view.lang, words.title);
    account(&mut html, view, &hidden);
    html.push_str("</nav></header>\n<main>\n");
    if let Some(notice) = view.notice {
        let _ = writeln!(
            html,
            r#"<p id="notice" role="status">{}</p>"#,
            escape(notice)
        );
    }

    let (sku, quantity) = refused.filter(|refused| refused.form == "cart").map_or(
        (String::new(), "1".to_owned()),
        |refused| {
            (
                typed(&refused.sku, MAX_NAME_CHARS),
                typed(&refused.quantity, 10),
            )
        },
    );
    let invalid_cart = invalid(refused, "cart");
    let _ = write!(
        html,
        r#"<section aria-labelledby="add-heading"><h2 id="add-heading">{}</h2><form method="post" action="/cart">{hidden}<label>{} <input name="sku" required maxlength="{MAX_NAME_CHARS}" autocomplete="off" value="{sku}"{invalid_cart}></label> <label>{} <input name="quantity" type="number" inputmode="numeric" min="1" max="{MAX_QUANTITY}" required value="{quantity}"{invalid_cart}></label> <button>{}</button>"#,
        escape(words.add_heading),
        escape(words.product),
        escape(words.quantity),
        escape(words.add)
    );
    error_line(&mut html, refused, "cart");
    html.push_str("</form></section>\n");

    // Widened, so no stored cart can overflow the sum.
    let count: u64 = view.cart.iter().map(|item| u64::from(item.quantity)).sum();
    let _ = write!(
        html,
        r#"<section aria-labelledby="cart-heading"><h2 id="cart-heading">{} (<span id="count">{count}</span>)</h2>"#,
        escape(words.cart)
    );
    if view.cart.is_empty() {
        let _ = write!(html, r#"<p id="empty">{}</p>"#, escape(words.empty_cart));
    } else {
        html.push_str(r#"<ul id="cart">"#);
        for item in view.cart {
            let _ = write!(
                html,
                "<li>{} &times; {}</li>",
                item.quantity,
                escape(&item.sku)
            );
        }
        html.push_str("</ul>");
    }
    html.push_str("</section>\n</main>\n<footer>");

    let mut options = String::new();
    for lang in Lang::ALL {
        let selected = if lang == view.lang { " selected" } else { "" };
        let _ = write!(
            options,
            r#"<option value="{}" lang="{}"{selected}>{}</option>"#,
            lang.code(),
            lang.code(),
            lang.name()
        );
    }
    let _ = write!(
        html,
        r#"<form method="post" action="/locale">{hidden}<label>{} <select name="locale"{}>{options}</select></label> <button>{}</button>"#,
        escape(words.language),
        invalid(refused, "locale"),
        escape(words.change)
    );
    error_line(&mut html, refused, "locale");
    html.push_str("</form></footer>\n</body></html>\n");
    html
}

/// An error page: the status, what happened in the visitor's language, and
/// the way back. Never cached.
#[must_use]
pub(super) fn error(lang: Lang, status: StatusCode) -> Response {
    let words = lang.words();
    let message = match status {
        StatusCode::FORBIDDEN => words.forged,
        StatusCode::NOT_FOUND => words.not_found,
        StatusCode::METHOD_NOT_ALLOWED => words.wrong_method,
        StatusCode::CONFLICT => words.conflict,
        StatusCode::PAYLOAD_TOO_LARGE => words.too_large,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => words.not_a_form,
        StatusCode::SERVICE_UNAVAILABLE => words.unavailable,
        status if status.is_server_error() => words.failed,
        _ => words.bad_request,
    };
    error_with(lang, status, message)
}

/// An error page with `message`.
#[must_use]
pub(super) fn error_with(lang: Lang, status: StatusCode, message: &str) -> Response {
    (status, no_store(), Html(error_html(lang, status, message))).into_response()
}

/// The HTML of an error page.
#[must_use]
pub(super) fn error_html(lang: Lang, status: StatusCode, message: &str) -> String {
    let words = lang.words();
    let title = Words::fill(words.error_title, &[status.as_str()]);
    let mut html = String::new();
    head(&mut html, lang, &format!("{title} · {}", words.title));
    let _ = write!(
        html,
        r#"<main><h1>{}</h1><p id="error">{}</p><p><a id="back" href="/">{}</a></p></main>"#,
        escape(&title),
        escape(message),
        escape(words.back)
    );
    html.push_str("\n</body></html>\n");
    html
}

/// `Cache-Control: no-store`: pages carry a CSRF token and a cart.
#[must_use]
pub(super) fn no_store() -> [(axum::http::HeaderName, HeaderValue); 1] {
    [(CACHE_CONTROL, HeaderValue::from_static("no-store"))]
}

/// The stylesheet as a response.
pub(super) async fn style() -> Response {
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/css; charset=utf-8"),
        )],
        STYLE,
    )
        .into_response()
}
