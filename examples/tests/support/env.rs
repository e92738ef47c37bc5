//! Names no other run uses, for the tests of real stores. (The services'
//! URLs come from `harness::Need::url`.)

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
