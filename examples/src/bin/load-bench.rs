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
//!
//! Three more commands split the server from the load generator, so that a
//! profiler can watch the server alone (`scripts/instructions.sh` runs it
//! under callgrind):
//!
//! - `load-bench rows` lists the rows' names (the Redis rows only when
//!   `REDIS_URL` is set), one a line: name, store and handler, tab-separated.
//! - `load-bench serve <row> [port]` serves one row on 127.0.0.1, on `port`,
//!   else `BENCH_PORT`, else a free port, with one tokio worker thread. It
//!   prints the port alone on standard output, and stops cleanly when its
//!   standard input ends (Ctrl-D in a terminal; so give it a pipe or a
//!   terminal as input, not `/dev/null`).
//! - `load-bench drive <port> <requests>` sends exactly `requests` requests
//!   to a server on that port over `BENCH_CONNECTIONS` (default 4)
//!   connections, and reports how many were served and how many were not
//!   2xx; it fails when any was not.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use examples::bench::Variant;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use self::rows::{Failure, ROWS, Row, local_rows, redis_pool};

#[path = "common/rows.rs"]
mod rows;

const USAGE: &str = "usage: load-bench [rows | serve <row> [port] | drive <port> <requests>]";

/// What the benchmark was asked to do.
struct Settings {
    run: Duration,
    runs: usize,
    connections: usize,
}

/// One row of the table.
struct Measured {
    row: &'static Row,
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

fn argument<T: std::str::FromStr>(value: &str, what: &str) -> Result<T, Failure> {
    value
        .parse()
        .map_err(|_| format!("{what} must be a whole number, not {value:?}").into())
}

/// A runtime with one worker thread, as the server and the load generator
/// get in every mode.
fn one_thread() -> Result<tokio::runtime::Runtime, Failure> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?)
}

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => benchmark(),
        ["rows"] => {
            list_rows();
            Ok(())
        }
        ["serve", row] => serve(row, None),
        ["serve", row, port] => serve(row, Some(port)),
        ["drive", port, requests] => drive(port, requests),
        _ => Err(USAGE.into()),
    }
}

fn list_rows() {
    let redis = std::env::var_os("REDIS_URL").is_some();
    for row in ROWS.iter().filter(|row| redis || !row.needs_redis()) {
        println!("{}\t{}\t{}", row.slug, row.store, row.variant.label());
    }
}

/// `load-bench serve <row> [port]`.
fn serve(row: &str, port: Option<&str>) -> Result<(), Failure> {
    let row = Row::find(row)?;
    let port: u16 = match port {
        Some(port) => argument(port, "the port")?,
        None => u16::try_from(setting("BENCH_PORT", 0)?)?,
    };
    one_thread()?.block_on(async {
        let redis = if row.needs_redis() {
            redis_pool().await?
        } else {
            None
        };
        let router = row.app(redis.as_ref())?;
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let port = listener.local_addr()?.port();
        println!("{port}");
        eprintln!(
            "serving `{}` on http://127.0.0.1:{port}/visit until standard input ends",
            row.slug
        );
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                input_ended().await;
                eprintln!("standard input ended: stopping");
            })
            .await?;
        Ok(())
    })
}

/// Resolves when standard input ends.
///
/// Standard input rather than a signal: a caller ends it by closing a pipe,
/// which needs no process id (valgrind, `cargo run` or a shell may stand
/// between the caller and this process), cannot arrive before a handler is
/// installed, and happens by itself when the caller dies, so no server is
/// left running. SIGINT and SIGTERM keep their default action.
fn input_ended() -> impl Future<Output = ()> {
    let (ended, input_ended) = tokio::sync::oneshot::channel::<()>();
    // A plain thread: a blocking read of standard input, dropping `ended`
    // when it returns, whatever the outcome.
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        drop(ended);
    });
    async move {
        let _ = input_ended.await;
    }
}

/// `load-bench drive <port> <requests>`.
fn drive(port: &str, requests: &str) -> Result<(), Failure> {
    let port: u16 = argument(port, "the port")?;
    let requests: u64 = argument(requests, "the number of requests")?;
    let connections = usize::try_from(setting("BENCH_CONNECTIONS", 4)?)?;
    if connections == 0 {
        return Err("BENCH_CONNECTIONS must be at least 1".into());
    }
    let started = Instant::now();
    let visits = one_thread()?.block_on(load_requests(port, connections, requests))?;
    let elapsed = started.elapsed().as_secs_f64();
    let served = f64::from(u32::try_from(visits.latencies.len()).unwrap_or(u32::MAX));
    println!(
        "{} requests served, {} non-2xx, in {elapsed:.2} s ({:.0} requests/s)",
        visits.latencies.len(),
        visits.non_2xx,
        served / elapsed
    );
    if let Some(failure) = visits.first_failure {
        return Err(format!(
            "{} of {} responses were not 2xx; the first: {failure}",
            visits.non_2xx,
            visits.latencies.len()
        )
        .into());
    }
    Ok(())
}

/// The default command: every row, interleaved runs, one table.
fn benchmark() -> Result<(), Failure> {
    let settings = Settings {
        run: Duration::from_secs(setting("BENCH_SECONDS", 3)?),
        runs: usize::try_from(setting("BENCH_RUNS", 5)?)?,
        connections: usize::try_from(setting("BENCH_CONNECTIONS", 32)?)?,
    };
    if settings.runs == 0 || settings.connections == 0 || settings.run.is_zero() {
        return Err("BENCH_SECONDS, BENCH_RUNS and BENCH_CONNECTIONS must be at least 1".into());
    }
    let server = one_thread()?;
    let client = one_thread()?;

    let mut targets = Vec::new();
    for row in local_rows() {
        targets.push(Target::serve(&server, row.app(None)?, row)?);
    }
    match server.block_on(redis_pool())? {
        Some(pool) => {
            for row in ROWS.iter().filter(|row| row.needs_redis()) {
                targets.push(Target::serve(&server, row.app(Some(&pool))?, row)?);
            }
        }
        None => println!("Redis rows skipped: set REDIS_URL=redis://127.0.0.1:6379"),
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
        .map(|(target, runs)| target.measured(runs, settings.run))
        .collect::<Result<Vec<_>, _>>()?;
    print_table(&rows, &settings);
    Ok(())
}

/// One row served on a loopback port.
struct Target {
    row: &'static Row,
    port: u16,
}

impl Target {
    fn serve(
        server: &tokio::runtime::Runtime,
        router: Router,
        row: &'static Row,
    ) -> Result<Self, Failure> {
        let listener = server.block_on(TcpListener::bind("127.0.0.1:0"))?;
        let port = listener.local_addr()?.port();
        server.spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                eprintln!("the server on {port} stopped: {error}");
            }
        });
        Ok(Self { row, port })
    }

    /// The row of this target from the latencies of its runs.
    fn measured(&self, runs: Vec<Vec<Duration>>, length: Duration) -> Result<Measured, Failure> {
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
        Ok(Measured {
            row: self.row,
            requests_per_second: *rates.get(rates.len() / 2).ok_or("no run was made")?,
            p99,
        })
    }
}

/// How long the browsers go on.
#[derive(Clone)]
enum Budget {
    /// Until the flag is set.
    Until(Arc<AtomicBool>),
    /// Until the requests left, shared by every browser, are none.
    Requests(Arc<AtomicU64>),
}

impl Budget {
    /// Whether the browser may send one more request.
    fn take(&self) -> bool {
        match self {
            Self::Until(stop) => !stop.load(Ordering::Relaxed),
            Self::Requests(left) => left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                    left.checked_sub(1)
                })
                .is_ok(),
        }
    }
}

/// What browsers saw: the latency of every answered request, and the
/// answers that were not 2xx.
#[derive(Default)]
struct Visits {
    latencies: Vec<Duration>,
    non_2xx: u64,
    /// The status line and body of the first answer that was not 2xx.
    first_failure: Option<String>,
}

impl Visits {
    fn add(&mut self, other: Self) {
        self.latencies.extend(other.latencies);
        self.non_2xx += other.non_2xx;
        self.first_failure = self.first_failure.take().or(other.first_failure);
    }
}

/// `connections` browsers, each on its own task, until `budget` is spent.
async fn visit(port: u16, connections: usize, budget: &Budget) -> Result<Vec<Visits>, Failure> {
    let mut browsers = Vec::new();
    for _ in 0..connections {
        browsers.push(tokio::spawn(browse(port, budget.clone())));
    }
    let mut visits = Vec::new();
    for browser in browsers {
        visits.push(browser.await??);
    }
    Ok(visits)
}

/// `connections` browsers request `/visit` back to back for `length`; returns
/// the latency of every completed request.
async fn load(port: u16, connections: usize, length: Duration) -> Result<Vec<Duration>, Failure> {
    let stop = Arc::new(AtomicBool::new(false));
    let budget = Budget::Until(Arc::clone(&stop));
    let browsers = tokio::spawn(async move { visit(port, connections, &budget).await });
    tokio::time::sleep(length).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Visits::default();
    for visits in browsers.await?? {
        all.add(visits);
    }
    if let Some(failure) = all.first_failure {
        return Err(format!("the server answered: {failure}").into());
    }
    Ok(all.latencies)
}

/// `connections` browsers request `/visit` back to back until `requests`
/// requests have been sent between them.
async fn load_requests(port: u16, connections: usize, requests: u64) -> Result<Visits, Failure> {
    let budget = Budget::Requests(Arc::new(AtomicU64::new(requests)));
    let mut all = Visits::default();
    for visits in visit(port, connections, &budget).await? {
        all.add(visits);
    }
    Ok(all)
}

/// One keep-alive connection that keeps the session cookie it is given.
async fn browse(port: u16, budget: Budget) -> Result<Visits, Failure> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    let mut stream = BufReader::new(stream);
    let mut cookie: Option<String> = None;
    let mut visits = Visits::default();
    let mut line = String::new();
    let mut status = String::new();
    let mut body = Vec::new();
    while budget.take() {
        let started = Instant::now();
        let request = match &cookie {
            Some(cookie) => {
                format!("GET /visit HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n\r\n")
            }
            None => "GET /visit HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_owned(),
        };
        stream.get_mut().write_all(request.as_bytes()).await?;
        let mut length = 0;
        let mut success = false;
        loop {
            line.clear();
            if stream.read_line(&mut line).await? == 0 {
                return Err("the server closed the connection".into());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some(code) = header.strip_prefix("HTTP/1.1 ") {
                success = code.starts_with('2');
                header.clone_into(&mut status);
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
        if !success {
            visits.non_2xx += 1;
            visits
                .first_failure
                .get_or_insert_with(|| format!("{status}: {}", String::from_utf8_lossy(&body)));
        }
        visits.latencies.push(started.elapsed());
    }
    Ok(visits)
}

fn print_table(rows: &[Measured], settings: &Settings) {
    let bare = rows
        .iter()
        .find(|row| row.row.variant == Variant::Bare)
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
                .find(|other| other.row.store == row.row.baseline && other.row.variant == variant)
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
            row.row.store,
            row.row.variant.label(),
            row.requests_per_second,
            row.p99.as_secs_f64() * 1000.0,
            ratio(of_baseline(Variant::Typed)),
            ratio(of_baseline(Variant::RawSingleKey)),
            ratio(bare),
        );
    }
}
