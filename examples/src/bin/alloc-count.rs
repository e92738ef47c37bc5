//! Allocations per request of the load benchmark's rows:
//! `cargo run --release -p examples --bin alloc-count [row ...]`.
//!
//! Sends each row's app (`load-bench rows` lists them; by default every
//! memory and cookie row) `ALLOC_N2` requests (default 6000) in process,
//! with `tower::ServiceExt::oneshot` on one thread, from four browsers taking
//! turns, each keeping its own session cookie, and counts the allocations of
//! the process with a counting global allocator (`stats_alloc`). A row's
//! figure is (count after `ALLOC_N2` requests - count after `ALLOC_N1`
//! requests, default 1000) / (`ALLOC_N2` - `ALLOC_N1`), which leaves out
//! building the app and the first requests of each session. The count
//! includes what sending a request and reading its answer costs in process
//! (the `bare` row is that, plus axum's routing and the handler), but not
//! hyper's connection handling. The counter lives in this binary only, so
//! `load-bench` runs on the plain system allocator.

use std::alloc::System;

use axum::body::Body;
use axum::http::{HeaderValue, Request, header};
use stats_alloc::{INSTRUMENTED_SYSTEM, Stats, StatsAlloc};
use tower::ServiceExt;

use self::rows::{Failure, Row, local_rows, redis_pool};

#[path = "common/rows.rs"]
mod rows;

#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Browsers taking turns, each with its own session.
const BROWSERS: usize = 4;

fn setting(name: &str, default: u32) -> Result<u32, Failure> {
    match std::env::var(name) {
        Ok(value) => Ok(value
            .parse()
            .map_err(|_| format!("{name} must be a whole number, not {value:?}"))?),
        Err(_) => Ok(default),
    }
}

/// What one row allocates per request, between the two counts.
struct PerRequest {
    row: &'static Row,
    allocations: f64,
    reallocations: f64,
    bytes: f64,
}

fn main() -> Result<(), Failure> {
    let first = setting("ALLOC_N1", 1000)?;
    let second = setting("ALLOC_N2", 6000)?;
    if second <= first {
        return Err("ALLOC_N2 must be larger than ALLOC_N1".into());
    }
    let rows = match std::env::args().skip(1).collect::<Vec<_>>() {
        names if names.is_empty() => local_rows().collect(),
        names => names
            .iter()
            .map(|name| Row::find(name))
            .collect::<Result<Vec<_>, _>>()?,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let redis = if rows.iter().any(|row| row.needs_redis()) {
        runtime.block_on(redis_pool())?
    } else {
        None
    };
    let mut measured = Vec::new();
    for row in rows {
        let app = row.app(redis.as_ref())?;
        let (at_first, at_second) = runtime.block_on(count(app, first, second))?;
        let change = at_second - at_first;
        let requests = f64::from(second - first);
        let per_request =
            |count: usize| f64::from(u32::try_from(count).unwrap_or(u32::MAX)) / requests;
        measured.push(PerRequest {
            row,
            allocations: per_request(change.allocations),
            reallocations: per_request(change.reallocations),
            bytes: per_request(change.bytes_allocated),
        });
        eprintln!("{} done", row.slug);
    }
    print_table(&measured, first, second);
    Ok(())
}

/// Sends `second` requests to `app`; returns the allocator's counts after
/// `first` of them and after all.
async fn count(app: axum::Router, first: u32, second: u32) -> Result<(Stats, Stats), Failure> {
    // Kept as header values: a clone of one shares its bytes, so sending the
    // same cookie again allocates nothing.
    let mut cookies: [Option<HeaderValue>; BROWSERS] = Default::default();
    let mut at_first = ALLOCATOR.stats();
    for sent in 0..second {
        if sent == first {
            at_first = ALLOCATOR.stats();
        }
        let cookie = &mut cookies[usize::try_from(sent)? % BROWSERS];
        let mut request = Request::get("/visit");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie.clone());
        }
        let response = app.clone().oneshot(request.body(Body::empty())?).await?;
        let status = response.status();
        if let Some(set) = response.headers().get(header::SET_COOKIE) {
            let pair = set.to_str()?.split(';').next().unwrap_or_default();
            if cookie.as_ref().map(HeaderValue::as_bytes) != Some(pair.as_bytes()) {
                *cookie = Some(HeaderValue::from_str(pair)?);
            }
        }
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
        if !status.is_success() {
            return Err(format!(
                "request {sent} was answered {status}: {}",
                String::from_utf8_lossy(&body)
            )
            .into());
        }
    }
    Ok((at_first, ALLOCATOR.stats()))
}

fn print_table(rows: &[PerRequest], first: u32, second: u32) {
    let bare = rows
        .iter()
        .find(|row| row.row.slug == "bare")
        .map(|row| row.allocations);
    println!(
        "\nper request, counted between request {first} and request {second} ({BROWSERS} sessions)\n"
    );
    println!("| row | allocations | reallocations | bytes allocated | allocations over bare |");
    println!("|---|---:|---:|---:|---:|");
    for row in rows {
        let over_bare = bare.map_or_else(
            || "-".to_owned(),
            |bare| format!("{:.1}", row.allocations - bare),
        );
        println!(
            "| {} | {:.1} | {:.1} | {:.0} | {over_bare} |",
            row.row.slug, row.allocations, row.reallocations, row.bytes
        );
    }
}
