//! Several instances behind a load balancer: two processes of the `counter`
//! binary on two loopback ports share one Redis, then one PostgreSQL. A
//! session created on the first is read and changed on the second, and the
//! first sees the change.
//!
//! The tests need Redis at `REDIS_URL` and PostgreSQL at `DATABASE_URL`
//! (the standard loopback ports by default); without one, its test is
//! reported as ignored (see `support/harness.rs`).

mod support;

use std::process::Command;

use support::harness::{Need, test};
use support::process::{Running, free_port, http, start_listening};

/// The counter on a free port, its sessions in the store named by `variable`.
fn start_counter(variable: &str, url: &str) -> (Running, u16) {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_counter"));
    for store in ["REDIS_URL", "DATABASE_URL"] {
        command.env_remove(store);
    }
    command.env(variable, url);
    (start_listening(command, port), port)
}

fn incr(port: u16, cookie: Option<&str>) -> (String, Option<String>) {
    let response = http(port, "GET", "/incr", cookie, "");
    assert_eq!(
        response.status, 200,
        "GET /incr on {port}: {}",
        response.body
    );
    (response.body, response.set_cookie)
}

fn two_processes_share_sessions(variable: &str, need: Need) {
    let url = need.url();
    // One after the other: the first creates the session table, if any.
    let (_first, first) = start_counter(variable, &url);
    let (_second, second) = start_counter(variable, &url);

    let (body, cookie) = incr(first, None);
    assert_eq!(body, r#"{"count":1}"#);
    let cookie = cookie.expect("the first instance sets a session cookie");
    let (body, _) = incr(second, Some(&cookie));
    assert_eq!(
        body, r#"{"count":2}"#,
        "the second instance reads and changes the first's session"
    );
    let (body, _) = incr(first, Some(&cookie));
    assert_eq!(
        body, r#"{"count":3}"#,
        "the first instance sees the second's change"
    );
    println!("{variable}: two counter processes on ports {first} and {second} share one session");
}

fn two_processes_share_sessions_on_redis() {
    two_processes_share_sessions("REDIS_URL", Need::Redis);
}

fn two_processes_share_sessions_on_postgres() {
    two_processes_share_sessions("DATABASE_URL", Need::Postgres);
}

fn main() {
    support::harness::run(vec![
        test(
            "two_processes_share_sessions_on_redis",
            two_processes_share_sessions_on_redis,
        )
        .needs(Need::Redis),
        test(
            "two_processes_share_sessions_on_postgres",
            two_processes_share_sessions_on_postgres,
        )
        .needs(Need::Postgres),
    ]);
}
