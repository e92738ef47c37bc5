//! The load benchmark: `cargo run --release -p examples --bin load-bench`.
//!
//! Serves the same handler (load the session, increment the counter, push to
//! the cart, respond) written four ways, under tower-sessions' layer and
//! ours, on `MemoryStore` and, when `REDIS_URL` is set, on Redis; and our
//! layer on its compare-and-swap stores (`CasMemoryStore`, `RedisCasStore`).
//! Drives each over loopback with keep-alive connections, each connection one
//! browser with its own session cookie. Prints one table: requests/s (median
//! of the runs), p99 latency, and each row's ratio to the typed handle under
//! tower-sessions' layer on the same back end, to the raw single-key row and
//! to bare axum. The last memory row keeps the whole session in an encrypted
//! cookie (`CookieSessionLayer`), compared with the `MemoryStore` rows.
//!
//! `BENCH_SECONDS` (default 3) is the length of one run, `BENCH_RUNS`
//! (default 5) the number of runs per row, `BENCH_CONNECTIONS` (default 32)
//! the connections. Server and load generator get one thread each.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use examples::bench::{Variant, app, app_on_cas_store, app_with_cookie_sessions};
use session_core::cas::{CasMemoryStore, RedisCasStore};
use session_core::layer::cookie::CookieKeys;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tower_sessions::MemoryStore;
use tower_sessions_redis_store::RedisStore;
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// What the benchmark was asked to do.
struct Settings {
    run: Duration,
    runs: usize,
    connections: usize,
}

/// One row of the table.
struct Row {
    store: &'static str,
    /// The tower-sessions store whose rows this one is compared with.
    baseline: &'static str,
    variant: Variant,
    requests_per_second: f64,
    p99: Duration,
}

fn setting(name: &str, default: u64) -> Result<u64, Failure> {
    match std::env::var(name) {
        Ok(value) => Ok(value
            .parse()
            .map_err(|_| format!("{name} must be a whole number, not {value:?}"))?),
        Err(_) => Ok(default),
    }
}

fn main() -> Result<(), Failure> {
    let settings = Settings {
        run: Duration::from_secs(setting("BENCH_SECONDS", 3)?),
        runs: usize::try_from(setting("BENCH_RUNS", 5)?)?,
        connections: usize::try_from(setting("BENCH_CONNECTIONS", 32)?)?,
    };
    if settings.runs == 0 || settings.connections == 0 || settings.run.is_zero() {
        return Err("BENCH_SECONDS, BENCH_RUNS and BENCH_CONNECTIONS must be at least 1".into());
    }
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;

    let mut targets = Vec::new();
    for variant in Variant::ALL {
        let router = app(variant, MemoryStore::default())?;
        targets.push(Target::serve(&server, router, "MemoryStore", variant)?);
    }
    let router = app_on_cas_store(CasMemoryStore::new())?;
    targets.push(
        Target::serve(&server, router, "CasMemoryStore", Variant::TypedOurLayer)?
            .compared_with("MemoryStore"),
    );
    // A fixed key: the benchmark keeps nothing, and a generated key would
    // log a development warning.
    let keys = CookieKeys::new([[7_u8; 32]])?;
    let router = app_with_cookie_sessions(keys)?;
    targets.push(
        Target::serve(&server, router, "cookie (no store)", Variant::TypedOurLayer)?
            .compared_with("MemoryStore"),
    );
    match std::env::var("REDIS_URL") {
        Ok(url) => {
            let pool = server.block_on(async {
                let pool = Pool::new(Config::from_url(&url)?, None, None, None, 4)?;
                pool.init().await?;
                Ok::<_, Failure>(pool)
            })?;
            for variant in Variant::ALL.into_iter().skip(1) {
                let router = app(variant, RedisStore::new(pool.clone()))?;
                targets.push(Target::serve(&server, router, "Redis", variant)?);
            }
            let router = app_on_cas_store(RedisCasStore::new(pool.clone()))?;
            targets.push(
                Target::serve(&server, router, "RedisCasStore", Variant::TypedOurLayer)?
                    .compared_with("Redis"),
            );
        }
        Err(_) => println!("Redis rows skipped: set REDIS_URL=redis://127.0.0.1:6379"),
    }

    // Runs interleave the rows, so a noisy neighbour slows every row alike
    // instead of the one that happens to run at that moment.
    for target in &targets {
        client.block_on(load(
            target.port,
            settings.connections,
            Duration::from_millis(500),
        ))?;
    }
    let mut runs: Vec<Vec<Vec<Duration>>> = targets.iter().map(|_| Vec::new()).collect();
    for round in 1..=settings.runs {
        for (target, runs) in targets.iter().zip(&mut runs) {
            runs.push(client.block_on(load(target.port, settings.connections, settings.run))?);
        }
        eprintln!("round {round} of {} done", settings.runs);
    }
    let rows = targets
        .iter()
        .zip(runs)
        .map(|(target, runs)| target.row(runs, settings.run))
        .collect::<Result<Vec<_>, _>>()?;
    print_table(&rows, &settings);
    Ok(())
}

/// One variant served on a loopback port.
struct Target {
    store: &'static str,
    baseline: &'static str,
    variant: Variant,
    port: u16,
}

impl Target {
    fn serve(
        server: &tokio::runtime::Runtime,
        router: Router,
        store: &'static str,
        variant: Variant,
    ) -> Result<Self, Failure> {
        let listener = server.block_on(TcpListener::bind("127.0.0.1:0"))?;
        let port = listener.local_addr()?.port();
        server.spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                eprintln!("the server on {port} stopped: {error}");
            }
        });
        Ok(Self {
            store,
            baseline: store,
            variant,
            port,
        })
    }

    /// Compares this row with the rows of `store`.
    fn compared_with(self, store: &'static str) -> Self {
        Self {
            baseline: store,
            ..self
        }
    }

    /// The row of this target from the latencies of its runs.
    fn row(&self, runs: Vec<Vec<Duration>>, length: Duration) -> Result<Row, Failure> {
        let mut rates = Vec::new();
        let mut latencies = Vec::new();
        for run in runs {
            let completed = u32::try_from(run.len()).map_err(|_| "too many requests to count")?;
            rates.push(f64::from(completed) / length.as_secs_f64());
            latencies.extend(run);
        }
        rates.sort_by(f64::total_cmp);
        latencies.sort_unstable();
        let p99 = latencies
            .get(latencies.len().saturating_mul(99) / 100)
            .copied()
            .ok_or("no request completed")?;
        Ok(Row {
            store: self.store,
            baseline: self.baseline,
            variant: self.variant,
            requests_per_second: *rates.get(rates.len() / 2).ok_or("no run was made")?,
            p99,
        })
    }
}

/// `connections` browsers request `/visit` back to back for `length`; returns
/// the latency of every completed request.
async fn load(port: u16, connections: usize, length: Duration) -> Result<Vec<Duration>, Failure> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut browsers = Vec::new();
    for _ in 0..connections {
        browsers.push(tokio::spawn(browse(port, Arc::clone(&stop))));
    }
    tokio::time::sleep(length).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for browser in browsers {
        latencies.extend(browser.await??);
    }
    Ok(latencies)
}

/// One keep-alive connection that keeps the session cookie it is given.
async fn browse(port: u16, stop: Arc<AtomicBool>) -> Result<Vec<Duration>, Failure> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    let mut stream = BufReader::new(stream);
    let mut cookie: Option<String> = None;
    let mut latencies = Vec::new();
    let mut line = String::new();
    let mut body = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let request = match &cookie {
            Some(cookie) => {
                format!("GET /visit HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n\r\n")
            }
            None => "GET /visit HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_owned(),
        };
        stream.get_mut().write_all(request.as_bytes()).await?;
        let mut length = 0;
        let mut status_ok = false;
        loop {
            line.clear();
            if stream.read_line(&mut line).await? == 0 {
                return Err("the server closed the connection".into());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if header.starts_with("HTTP/1.1 ") {
                status_ok = header.starts_with("HTTP/1.1 200");
            } else if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse()?;
                } else if name.eq_ignore_ascii_case("set-cookie") {
                    cookie = value.trim().split(';').next().map(str::to_owned);
                }
            }
        }
        body.resize(length, 0);
        stream.read_exact(&mut body).await?;
        if !status_ok {
            return Err(format!("the server answered: {}", String::from_utf8_lossy(&body)).into());
        }
        latencies.push(started.elapsed());
    }
    Ok(latencies)
}

fn print_table(rows: &[Row], settings: &Settings) {
    let bare = rows
        .iter()
        .find(|row| row.variant == Variant::Bare)
        .map(|row| row.requests_per_second);
    println!(
        "\n{} connections, {} runs of {} s per row; requests/s is the median run\n",
        settings.connections,
        settings.runs,
        settings.run.as_secs()
    );
    println!(
        "| store | handler | requests/s | p99 latency | vs typed, tower-sessions layer | vs raw single-key | vs bare axum |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    for row in rows {
        let of_baseline = |variant: Variant| {
            rows.iter()
                .find(|other| other.store == row.baseline && other.variant == variant)
                .map(|other| other.requests_per_second)
        };
        let ratio = |base: Option<f64>| {
            base.map_or_else(
                || "-".to_owned(),
                |base| format!("{:.2}x", row.requests_per_second / base),
            )
        };
        println!(
            "| {} | {} | {:.0} | {:.2} ms | {} | {} | {} |",
            row.store,
            row.variant.label(),
            row.requests_per_second,
            row.p99.as_secs_f64() * 1000.0,
            ratio(of_baseline(Variant::Typed)),
            ratio(of_baseline(Variant::RawSingleKey)),
            ratio(bare),
        );
    }
}
