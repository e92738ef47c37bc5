//! The compare-and-swap contract, on every `CasStore` we ship.
//!
//! The SQL and Redis stores read `DATABASE_URL` and `REDIS_URL`; without one
//! their test prints a `skipped:` line and passes. `.ci/run` sets both.

#[path = "support/cas_contract.rs"]
mod cas_contract;

use std::sync::Arc;

use session_core::cas::CasMemoryStore;

#[tokio::test]
async fn memory() {
    cas_contract::contract(Arc::new(CasMemoryStore::new()), "CasMemoryStore").await;
}
