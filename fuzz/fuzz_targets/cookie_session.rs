//! `CookieSessionLayer` around a small router, in process: a request whose
//! `Cookie` headers are the fuzzer's bytes, or whose session cookie is well
//! sealed (with the current or the old key) around the fuzzer's plaintext,
//! so that the payload parser sees any text. Every response is a
//! well-formed non-`5xx` response; a cookie it sets is sealed with the
//! current key and is accepted by the next request.
//!
//! Input: a selector byte (bits 0-1: the route; bit 2: the fuzzer's bytes
//! are the plaintext of a sealed `id` cookie, else the `Cookie` headers,
//! one per line; bit 3: seal with the old key), then the bytes.

#![no_main]

use std::sync::OnceLock;

use axum::Router;
use http::{HeaderMap, HeaderValue, header::COOKIE};
use libfuzzer_sys::fuzz_target;
use session_core::layer::cookie::{CookieKeys, CookieSessionLayer};
use session_core::{Clock, ManualClock};
use session_core_fuzz::{KEY, NOW, OLD_KEY, app, check, open_private, route, seal_private, send};

fn router() -> &'static Router {
    static ROUTER: OnceLock<Router> = OnceLock::new();
    ROUTER.get_or_init(|| {
        let keys = CookieKeys::new([KEY, OLD_KEY]).expect("two keys");
        let layer = CookieSessionLayer::builder(keys)
            .with_clock(Clock::from(ManualClock::starting_at_unix(NOW)))
            .build()
            .expect("a layer");
        app().layer(layer)
    })
}

fuzz_target!(|bytes: &[u8]| {
    let Some((&selector, rest)) = bytes.split_first() else {
        return;
    };
    let mut headers = HeaderMap::new();
    if selector & 0b100 != 0 {
        let key = if selector & 0b1000 == 0 { KEY } else { OLD_KEY };
        let sealed = seal_private(&key, "id", &String::from_utf8_lossy(rest));
        let value = HeaderValue::try_from(format!("id={sealed}")).expect("base64 is a header");
        headers.append(COOKIE, value);
    } else {
        for line in rest.split(|byte| *byte == b'\n') {
            // What an HTTP parser would not pass on is not a request.
            let Ok(value) = HeaderValue::from_bytes(line) else {
                return;
            };
            headers.append(COOKIE, value);
        }
    }
    let (method, path) = route(selector);
    let response = send(router(), method, path, headers);
    let Some(set) = check(&response, "id") else {
        return;
    };
    // What the layer sends back opens with the current key, and the next
    // request accepts it.
    let plaintext =
        open_private(&KEY, "id", &set).expect("a cookie set is sealed with the current key");
    let payload: serde_json::Value =
        serde_json::from_str(&plaintext).expect("a sealed payload is JSON");
    assert_eq!(payload["v"], 1, "a sealed payload is format 1");
    let mut next = HeaderMap::new();
    next.append(
        COOKIE,
        HeaderValue::try_from(format!("id={set}")).expect("a cookie the layer set is a header"),
    );
    let response = send(router(), "GET", "/read", next);
    let _ = check(&response, "id");
});
