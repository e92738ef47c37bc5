//! A Redis store that goes away and comes back: clients get a 503 without a
//! cookie, nothing panics, and the app recovers by itself.
//!
//! The outage test starts a private `redis-server` on a free loopback port
//! (it keeps nothing on disk), stops it mid-run and starts it again; the
//! corrupt-record test needs Redis at `REDIS_URL`. Without them, they are
//! reported as ignored (see `support/harness.rs`).

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod support;

use axum::http::StatusCode;
use examples::counter::app;
use session_core::cas::{LastWriterWins, RedisCasStore};
use support::Browser;
use support::harness::{Need, tokio_test};
use tower_sessions_redis_store::RedisStore;
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
use tower_sessions_redis_store::fred::types::config::{
    ConnectionConfig, PerformanceConfig, ReconnectPolicy,
};

/// A `redis-server` child process, stopped on drop.
struct PrivateRedis {
    child: Child,
}

impl PrivateRedis {
    fn start(port: u16) -> Option<Self> {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Self { child })
    }

    fn stop(mut self) {
        self.child.kill().expect("stop redis-server");
        self.child.wait().expect("reap redis-server");
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("an address")
        .port()
}

async fn an_outage_gives_503s_without_cookies_and_the_app_recovers() {
    let port = free_port();
    let server = PrivateRedis::start(port).expect("start redis-server");

    // ANCHOR: resilient
    let config = Config::from_url(&format!("redis://127.0.0.1:{port}")).expect("a URL");
    let performance = PerformanceConfig {
        default_command_timeout: Duration::from_millis(200),
        ..Default::default()
    };
    let connection = ConnectionConfig {
        connection_timeout: Duration::from_millis(200),
        ..Default::default()
    };
    let reconnect = ReconnectPolicy::new_constant(0, 100);
    let pool = Pool::new(
        config,
        Some(performance),
        Some(connection),
        Some(reconnect),
        1,
    )
    .expect("a pool");
    pool.init().await.expect("connect");
    // ANCHOR_END: resilient
    let mut browser = Browser::new(&app(RedisCasStore::new(pool)).expect("valid settings"));

    let first = browser.send("GET", "/incr").await;
    assert_eq!(
        (first.status, first.body.as_str()),
        (StatusCode::OK, r#"{"count":1}"#)
    );
    let cookie = browser.cookie.clone().expect("a session cookie");
    for expected in 2..=10 {
        assert_eq!(
            browser.send("GET", "/incr").await.body,
            format!(r#"{{"count":{expected}}}"#)
        );
    }

    server.stop();
    let outage_requests = 20;
    let mut unavailable = 0;
    for _ in 0..outage_requests {
        browser.cookie = Some(cookie.clone());
        let reply = browser.send("GET", "/incr").await;
        assert!(
            reply.set_cookie.is_none(),
            "no cookie while the store is down"
        );
        assert!(
            !reply.body.contains("redis") && !reply.body.contains("127.0.0.1"),
            "no internals: {}",
            reply.body
        );
        if reply.status == StatusCode::SERVICE_UNAVAILABLE {
            unavailable += 1;
        }
    }
    assert_eq!(
        unavailable, outage_requests,
        "every request of a known session is a 503 during the outage"
    );

    let _restarted = PrivateRedis::start(port).expect("restart redis-server");
    let started = Instant::now();
    let recovered = loop {
        browser.cookie = Some(cookie.clone());
        let reply = browser.send("GET", "/incr").await;
        if reply.status == StatusCode::OK {
            break reply;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the app did not recover: {}",
            reply.status
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The private server kept nothing, so the session starts again under a new id.
    assert_eq!(recovered.body, r#"{"count":1}"#);
    println!(
        "outage: {} requests before, {outage_requests} during ({unavailable} answered 503, 0 panics), recovered {} ms after the restart",
        10,
        started.elapsed().as_millis()
    );
}

async fn a_record_that_does_not_decode_is_an_error_and_is_never_overwritten() {
    use tower_sessions_redis_store::fred::prelude::KeysInterface;

    let url = Need::Redis.url();
    let pool = Pool::new(
        Config::from_url(&url).expect("a valid REDIS_URL"),
        None,
        None,
        None,
        1,
    )
    .expect("a pool");
    pool.init().await.unwrap_or_else(|error| {
        panic!("REDIS_URL is set but Redis is unreachable at {url}: {error}")
    });
    let mut browser = Browser::new(
        &app(LastWriterWins::new(RedisStore::new(pool.clone()))).expect("valid settings"),
    );

    browser.send("GET", "/incr").await;
    let cookie = browser.cookie.clone().expect("a session cookie");
    let id = cookie.split_once('=').expect("name=value").1.to_owned();
    let garbage: &[u8] = b"\xc1\xff not a session record";
    let () = pool
        .set(id.as_str(), garbage, None, None, false)
        .await
        .expect("overwrite the record");

    for _ in 0..3 {
        browser.cookie = Some(cookie.clone());
        let reply = browser.send("GET", "/incr").await;
        assert_eq!(
            reply.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "a corrupt record is an error, not an outage"
        );
        assert!(
            reply.set_cookie.is_none(),
            "the broken session is not replaced under the old id"
        );
        assert!(
            !reply.body.contains("Decod"),
            "no internals: {}",
            reply.body
        );
    }
    let stored: Vec<u8> = pool.get(id.as_str()).await.expect("read the record");
    assert_eq!(stored, garbage, "the record was never overwritten");
    let _: i64 = pool.del(id.as_str()).await.expect("clean up");
}

fn main() {
    support::harness::run(vec![
        tokio_test(
            "an_outage_gives_503s_without_cookies_and_the_app_recovers",
            an_outage_gives_503s_without_cookies_and_the_app_recovers,
        )
        .needs(Need::Program("redis-server")),
        tokio_test(
            "a_record_that_does_not_decode_is_an_error_and_is_never_overwritten",
            a_record_that_does_not_decode_is_an_error_and_is_never_overwritten,
        )
        .needs(Need::Redis),
    ]);
}
