//! What the tests of real stores share: the service URLs they read, and
//! names no other run uses.

#![allow(dead_code, reason = "each test file uses what it needs")]

use std::sync::atomic::{AtomicU32, Ordering};

static RUN: AtomicU32 = AtomicU32::new(0);

/// A name of this process and call (a table, a file, a key prefix), so
/// parallel and repeated runs never share data.
pub(crate) fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    )
}

/// The URL in `variable`, or `None` after a `skipped:` line saying what to
/// set.
pub(crate) fn env_url(variable: &str, example: &str) -> Option<String> {
    let url = std::env::var(variable).ok().filter(|url| !url.is_empty());
    if url.is_none() {
        println!("skipped: set {variable}={example}");
    }
    url
}
