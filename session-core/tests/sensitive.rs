//! Values of `sensitive` fields never reach messages, logs or `Debug` output.

use std::io;
use std::sync::{Arc, Mutex};

use serde_json::json;
use session_core::{MemorySession, RawSession, SessionSchema};

const SECRET: &str = "hunter2-top-secret";

// ANCHOR: schema
#[derive(SessionSchema)]
#[session(namespace = "oauth", debug)]
struct OAuth {
    #[session(sensitive, expires_in = "10m")]
    pkce_verifier: Option<String>,
    #[session(sensitive, on_decode_error = "reset")]
    nonce: Option<u64>,
    #[session(default)]
    return_to: String,
    #[session(sensitive)]
    attempts: Option<u32>,
}
// ANCHOR_END: schema

/// A `tracing` writer that keeps everything written, for assertions.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn run_logged<F: std::future::Future>(future: F) -> (F::Output, String) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let output = tracing::subscriber::with_default(subscriber, || {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(future)
    });
    (output, captured.text())
}

#[test]
fn a_decode_error_of_a_sensitive_field_does_not_quote_the_value() {
    let (message, logs) = run_logged(async {
        let raw = MemorySession::new();
        raw.insert_value("oauth.attempts", json!(SECRET))
            .await
            .unwrap();
        let error = OAuthSession::new(raw).attempts().await.unwrap_err();
        format!("{error} {error:?}")
    });
    assert!(
        message.contains("`oauth.attempts`") && message.contains("`u32`"),
        "{message}"
    );
    assert!(message.contains("sensitive"), "{message}");
    assert!(!message.contains(SECRET), "{message}");
    assert!(!logs.contains(SECRET), "{logs}");
}

#[test]
fn a_non_sensitive_field_keeps_serdes_full_reason() {
    let (message, _) = run_logged(async {
        let raw = MemorySession::new();
        raw.insert_value("oauth.return_to", json!(12))
            .await
            .unwrap();
        OAuthSession::new(raw)
            .return_to()
            .await
            .unwrap_err()
            .to_string()
    });
    assert!(message.contains("invalid type: integer `12`"), "{message}");
}

#[test]
fn a_reset_of_a_sensitive_field_logs_key_and_type_but_not_the_value() {
    let (value, logs) = run_logged(async {
        let raw = MemorySession::new();
        raw.insert_value("oauth.nonce", json!(SECRET))
            .await
            .unwrap();
        OAuthSession::new(raw).nonce().await.unwrap()
    });
    assert_eq!(value, None);
    assert!(logs.contains("WARN"), "{logs}");
    assert!(
        logs.contains("oauth.nonce") && logs.contains("u64"),
        "{logs}"
    );
    assert!(!logs.contains(SECRET), "{logs}");
}

#[test]
fn expiry_of_a_sensitive_field_logs_no_value() {
    let ((), logs) = run_logged(async {
        let raw = MemorySession::new();
        raw.insert_value("oauth.pkce_verifier", json!({"exp": 1, "v": SECRET}))
            .await
            .unwrap();
        assert_eq!(OAuthSession::new(raw).pkce_verifier().await.unwrap(), None);
    });
    assert!(logs.contains("oauth.pkce_verifier"), "{logs}");
    assert!(!logs.contains(SECRET), "{logs}");
}

#[test]
fn generated_debug_redacts_sensitive_fields() {
    let value = OAuth {
        pkce_verifier: Some(SECRET.into()),
        nonce: Some(42),
        return_to: "/cart".into(),
        attempts: Some(3),
    };
    let debug = format!("{value:?} {value:#?}");
    assert!(debug.contains(r#"return_to: "/cart""#), "{debug}");
    assert!(debug.contains("pkce_verifier: <redacted>"), "{debug}");
    assert!(!debug.contains(SECRET) && !debug.contains("42"), "{debug}");
}

#[test]
fn the_untyped_session_and_handle_debug_show_keys_only() {
    let (debug, _) = run_logged(async {
        let raw = MemorySession::new();
        let oauth = OAuthSession::new(raw.clone());
        oauth.set_pkce_verifier(SECRET.into()).await.unwrap();
        format!("{raw:?} {oauth:?}")
    });
    assert!(debug.contains("oauth.pkce_verifier"), "{debug}");
    assert!(!debug.contains(SECRET), "{debug}");
}
