//! The example shop on `SQLite` in a file: `cargo run -p examples --bin shop`.
//!
//! `SHOP_DB` names the database file (default `shop.sqlite` in the working
//! directory), `PORT` the port on 127.0.0.1 (default 3000).

use std::time::Duration;

use session_core::cas::SqliteCasStore;
use tower_sessions_sqlx_store::sqlx::sqlite::SqlitePoolOptions;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let database = std::env::var("SHOP_DB").unwrap_or_else(|_| "shop.sqlite".to_owned());
    let port = examples::config::port(3000)?;

    let pool = SqlitePoolOptions::new()
        .connect(&format!("sqlite://{database}?mode=rwc"))
        .await
        .map_err(|error| format!("cannot open the session database {database}: {error}"))?;
    let store = SqliteCasStore::new(pool);
    store.migrate().await?;
    // Remove expired records and ended markers once a minute.
    let purging = store.clone();
    tokio::spawn(async move {
        let mut every_minute = tokio::time::interval(Duration::from_secs(60));
        loop {
            every_minute.tick().await;
            if let Err(error) = purging.purge_expired().await {
                tracing::warn!(%error, "purging expired sessions failed; retrying in a minute");
            }
        }
    });

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|error| format!("cannot listen on 127.0.0.1:{port}: {error}"))?;
    println!("shop listening on http://127.0.0.1:{port} (sessions in {database})");
    axum::serve(listener, examples::shop::app(store)?).await?;
    Ok(())
}
