//! The load benchmark compares like with like: every variant of its handler
//! gives the same answers for the same visits.

mod support;

use axum::http::StatusCode;
use examples::bench::{Variant, app};
use support::Browser;
use tower_sessions::MemoryStore;

#[tokio::test]
async fn every_variant_counts_and_caps_the_cart_alike() {
    for variant in Variant::ALL {
        let router = app(variant, MemoryStore::default()).expect("valid settings");
        let mut browser = Browser::new(&router);
        let mut answers = Vec::new();
        for _ in 0..12 {
            let reply = browser.send("GET", "/visit").await;
            assert_eq!(reply.status, StatusCode::OK, "{}", variant.label());
            answers.push(reply.body);
        }
        if variant == Variant::Bare {
            // No session: every visit is the first.
            assert!(
                answers
                    .iter()
                    .all(|body| body == r#"{"counter":1,"cart":1}"#),
                "{answers:?}"
            );
            continue;
        }
        let expected: Vec<String> = (1..=12)
            .map(|visit| format!(r#"{{"counter":{visit},"cart":{}}}"#, visit.min(10)))
            .collect();
        assert_eq!(answers, expected, "{}", variant.label());
    }
}

#[tokio::test]
async fn the_cookie_session_variant_counts_and_caps_the_cart_alike() {
    let keys = session_core::layer::cookie::CookieKeys::new([[7_u8; 32]]).expect("a 32-byte key");
    let router = examples::bench::app_with_cookie_sessions(keys).expect("valid settings");
    let mut browser = Browser::new(&router);
    let mut answers = Vec::new();
    for _ in 0..12 {
        let reply = browser.send("GET", "/visit").await;
        assert_eq!(reply.status, StatusCode::OK);
        answers.push(reply.body);
    }
    let expected: Vec<String> = (1..=12)
        .map(|visit| format!(r#"{{"counter":{visit},"cart":{}}}"#, visit.min(10)))
        .collect();
    assert_eq!(answers, expected);
}
