//! Per-field expiry on a controlled clock, and read-once flash fields.

use serde_json::json;
use session_core::time::{Duration, OffsetDateTime};
use session_core::{Clock, ManualClock, MemorySession, RawSession, SessionSchema};

const START: i64 = 1_700_000_000;

// ANCHOR: schema
#[derive(SessionSchema)]
#[session(namespace = "auth")]
struct Auth {
    #[session(expires_in = "15m")]
    csrf_token: Option<String>,
    #[session(expires_in = "1h30m", default)]
    attempts: u32,
    #[session(flash)]
    notice: Option<String>,
    #[session(flash)]
    alerts: Vec<String>,
    #[session(flash, expires_in = "10s")]
    toast: Option<String>,
}
// ANCHOR_END: schema

fn run<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(future)
}

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap()
}

// ANCHOR: clock
fn handle() -> (AuthSession<MemorySession>, MemorySession, ManualClock) {
    let raw = MemorySession::new();
    let clock = ManualClock::starting_at_unix(START);
    (
        AuthSession::with_clock(raw.clone(), Clock::from(clock.clone())),
        raw,
        clock,
    )
}
// ANCHOR_END: clock

#[test]
fn an_expiring_field_is_stored_in_the_documented_envelope() {
    run(async {
        let (auth, raw, _clock) = handle();
        auth.set_csrf_token("abc".into()).await.unwrap();
        assert_eq!(
            raw.snapshot()["auth.csrf_token"],
            json!({"exp": START + 900, "v": "abc"})
        );
        assert_eq!(
            serde_json::to_string(&raw.snapshot()["auth.csrf_token"]).unwrap(),
            format!(r#"{{"exp":{},"v":"abc"}}"#, START + 900)
        );
        assert_eq!(
            auth.csrf_token_expires_at().await.unwrap(),
            Some(at(START + 900))
        );
    });
}

// ANCHOR: boundary
#[test]
fn a_value_lives_until_one_second_before_its_deadline_and_is_gone_after() {
    run(async {
        let (auth, raw, clock) = handle();
        auth.set_csrf_token("abc".into()).await.unwrap();

        clock.set(at(START + 900 - 1));
        assert_eq!(auth.csrf_token().await.unwrap().as_deref(), Some("abc"));

        clock.set(at(START + 900));
        assert_eq!(
            auth.csrf_token().await.unwrap(),
            None,
            "the deadline itself is expired"
        );
        assert!(raw.is_empty(), "an expired value is removed when read");
        assert_eq!(auth.csrf_token_expires_at().await.unwrap(), None);
    });
}
// ANCHOR_END: boundary

#[test]
fn an_expired_defaulted_field_reads_its_default() {
    run(async {
        let (auth, _raw, clock) = handle();
        auth.set_attempts(3).await.unwrap();
        clock.advance(Duration::seconds(5_400 - 1));
        assert_eq!(auth.attempts().await.unwrap(), 3);
        clock.advance(Duration::seconds(2));
        assert_eq!(auth.attempts().await.unwrap(), 0);
    });
}

#[test]
fn update_keeps_the_deadline_and_set_renews_it() {
    run(async {
        let (auth, _raw, clock) = handle();
        auth.update_attempts(|n| *n += 1).await.unwrap();
        assert_eq!(
            auth.attempts_expires_at().await.unwrap(),
            Some(at(START + 5_400)),
            "a first update stamps a deadline"
        );

        clock.advance(Duration::minutes(60));
        auth.update_attempts(|n| *n += 1).await.unwrap();
        assert_eq!(auth.attempts().await.unwrap(), 2);
        assert_eq!(
            auth.attempts_expires_at().await.unwrap(),
            Some(at(START + 5_400)),
            "update keeps it"
        );

        auth.set_attempts(5).await.unwrap();
        assert_eq!(
            auth.attempts_expires_at().await.unwrap(),
            Some(at(START + 3_600 + 5_400)),
            "set renews it"
        );
    });
}

#[test]
fn update_after_expiry_starts_from_the_default_with_a_fresh_deadline() {
    run(async {
        let (auth, _raw, clock) = handle();
        auth.set_attempts(9).await.unwrap();
        clock.advance(Duration::hours(2));
        let now = auth
            .update_attempts(|n| {
                *n += 1;
                *n
            })
            .await
            .unwrap();
        assert_eq!(now, 1);
        assert_eq!(
            auth.attempts_expires_at().await.unwrap(),
            Some(at(START + 7_200 + 5_400))
        );
    });
}

#[test]
fn save_keeps_the_deadline_of_an_unchanged_value_and_renews_a_changed_one() {
    run(async {
        let (auth, _raw, clock) = handle();
        auth.set_csrf_token("abc".into()).await.unwrap();
        clock.advance(Duration::minutes(10));
        let mut whole = auth.load().await.unwrap();
        auth.save(&whole).await.unwrap();
        assert_eq!(
            auth.csrf_token_expires_at().await.unwrap(),
            Some(at(START + 900)),
            "a load/save round trip never extends a secret's life"
        );

        whole.csrf_token = Some("def".into());
        auth.save(&whole).await.unwrap();
        assert_eq!(
            auth.csrf_token_expires_at().await.unwrap(),
            Some(at(START + 600 + 900))
        );
    });
}

#[test]
fn a_stored_value_that_is_not_an_envelope_is_a_decode_error() {
    run(async {
        let (auth, raw, _clock) = handle();
        raw.insert_value("auth.csrf_token", json!("plain"))
            .await
            .unwrap();
        let message = auth.csrf_token().await.unwrap_err().to_string();
        assert!(
            message.contains("`auth.csrf_token`") && message.contains("expiry envelope"),
            "{message}"
        );
    });
}

#[test]
fn an_option_flash_is_read_once() {
    run(async {
        let (auth, raw, _clock) = handle();
        auth.set_notice("Saved".into()).await.unwrap();
        assert_eq!(
            auth.notice().await.unwrap().as_deref(),
            Some("Saved"),
            "the getter peeks"
        );
        assert_eq!(auth.take_notice().await.unwrap().as_deref(), Some("Saved"));
        assert_eq!(auth.take_notice().await.unwrap(), None);
        assert!(raw.is_empty());
    });
}

#[test]
fn a_vec_flash_collects_messages_until_taken() {
    run(async {
        let (auth, raw, _clock) = handle();
        assert_eq!(
            auth.alerts().await.unwrap(),
            Vec::<String>::new(),
            "an absent Vec flash reads as empty"
        );
        auth.push_alerts("one".into()).await.unwrap();
        auth.push_alerts("two".into()).await.unwrap();
        assert_eq!(raw.snapshot()["auth.alerts"], json!(["one", "two"]));
        assert_eq!(auth.take_alerts().await.unwrap(), ["one", "two"]);
        assert_eq!(auth.take_alerts().await.unwrap(), Vec::<String>::new());
    });
}

#[test]
fn an_expiring_flash_that_was_never_read_disappears() {
    run(async {
        let (auth, _raw, clock) = handle();
        auth.set_toast("Hi".into()).await.unwrap();
        clock.advance(Duration::seconds(9));
        assert_eq!(auth.toast().await.unwrap().as_deref(), Some("Hi"));
        clock.advance(Duration::seconds(1));
        assert_eq!(auth.take_toast().await.unwrap(), None);
    });
}
