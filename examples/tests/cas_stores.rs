//! The compare-and-swap contract on `CasMemoryStore`; `cas_sql.rs` and
//! `cas_redis.rs` run it on the SQL and Redis stores.

#[path = "support/cas_contract.rs"]
mod cas_contract;

use std::sync::Arc;

use session_core::cas::CasMemoryStore;

#[tokio::test]
async fn memory() {
    cas_contract::contract(Arc::new(CasMemoryStore::new()), "CasMemoryStore").await;
}
