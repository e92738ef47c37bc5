//! `SessionLayer` over `CasMemoryStore` around a small router, in process:
//! the id cookie (plain, `with_signed`, `with_private`) and the id header
//! of `with_header`, with any bytes. Each input first makes a live session
//! in a fresh store, so that the fuzzer's bytes can carry its real id
//! (`@@` stands for it) next to garbage. Every response is a well-formed
//! non-`5xx` response whose id cookie or header is a valid id.
//!
//! Input: a selector byte (bits 0-1: plain, header, signed or private;
//! bits 2-3: the route; bit 4: the lines go in the id header rather than
//! `Cookie`; bit 5: the first line is also sent as an `id` cookie signed or
//! sealed with the layer's key), then header values, one per line.

#![no_main]

use std::str::FromStr;

use axum::Router;
use http::{HeaderMap, HeaderName, HeaderValue, header::COOKIE};
use libfuzzer_sys::fuzz_target;
use session_core::cas::{CasMemoryStore, SessionId};
use session_core::layer::{Key, SessionLayer};
use session_core_fuzz::{KEY, app, check, route, seal_private, send, sign};

const HEADER: HeaderName = HeaderName::from_static("x-session");

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    Header,
    Signed,
    Private,
}

fn router(kind: Kind) -> Router {
    let builder = SessionLayer::builder(CasMemoryStore::new());
    let builder = match kind {
        Kind::Plain => builder,
        Kind::Header => builder.with_header(HEADER.as_str()),
        Kind::Signed => builder.with_signed(Key::derive_from(&KEY)),
        Kind::Private => builder.with_private(Key::derive_from(&KEY)),
    };
    app().layer(builder.build().expect("a layer"))
}

/// The id a response gives, by header or cookie, checked to be one.
fn given(kind: Kind, response: &axum::http::Response<axum::body::Body>) -> Option<String> {
    let cookie = check(response, "id");
    if kind == Kind::Plain {
        if let Some(id) = &cookie {
            assert!(
                SessionId::from_str(id).is_ok(),
                "a plain id cookie is an id"
            );
        }
    }
    if let Some(value) = response.headers().get(&HEADER) {
        let text = value.to_str().expect("an id header is ASCII");
        assert!(SessionId::from_str(text).is_ok(), "an id header is an id");
        return Some(text.to_owned());
    }
    cookie
}

fuzz_target!(|bytes: &[u8]| {
    let Some((&selector, rest)) = bytes.split_first() else {
        return;
    };
    let kind = [Kind::Plain, Kind::Header, Kind::Signed, Kind::Private][usize::from(selector & 3)];
    let app = router(kind);

    let mut start = HeaderMap::new();
    if kind == Kind::Header {
        start.insert(HEADER, HeaderValue::from_static(""));
    }
    let response = send(&app, "POST", "/write", start);
    assert!(response.status().is_success(), "a first write succeeds");
    let live = given(kind, &response).expect("a new session gets an id");

    let in_header = kind == Kind::Header && selector & 0b1_0000 != 0;
    let name = if in_header { HEADER } else { COOKIE };
    let mut headers = HeaderMap::new();
    let mut lines = rest.split(|byte| *byte == b'\n').peekable();
    if selector & 0b10_0000 != 0
        && let Some(first) = lines.peek()
    {
        let value = String::from_utf8_lossy(first);
        let sealed = match kind {
            Kind::Signed => sign(&Key::derive_from(&KEY), "id", &value),
            Kind::Private => seal_private(&KEY, "id", &value),
            Kind::Plain | Kind::Header => value.into_owned(),
        };
        if let Ok(cookie) = HeaderValue::try_from(format!("id={sealed}")) {
            headers.append(COOKIE, cookie);
        }
    }
    for line in lines {
        let line = String::from_utf8_lossy(line).replace("@@", &live);
        // What an HTTP parser would not pass on is not a request.
        let Ok(value) = HeaderValue::from_str(&line) else {
            return;
        };
        headers.append(name.clone(), value);
    }
    let (method, path) = route(selector >> 2);
    let response = send(&app, method, path, headers);
    let _ = given(kind, &response);
});
