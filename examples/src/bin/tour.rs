//! The whole-session tour: `cargo run -p examples --bin tour`, then
//!
//! ```sh
//! curl -c jar -b jar http://127.0.0.1:3004/
//! curl -c jar -b jar http://127.0.0.1:3004/keys
//! curl -c jar -b jar -X POST http://127.0.0.1:3004/regenerate
//! curl -i -H 'x-session-id;' http://127.0.0.1:3004/    # an API client: read x-session-id
//! curl -i -H 'x-session-id: <that id>' http://127.0.0.1:3004/
//! ```
//!
//! (`-H 'x-session-id;'` is curl's way to send the header empty, which
//! starts a session; `-H 'x-session-id:'` would remove it.)
//!
//! Sessions live in memory. `PORT` defaults to 3004.

use session_core::cas::CasMemoryStore;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init();
    let port = examples::config::port(3004)?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("tour on http://127.0.0.1:{port}/");
    axum::serve(listener, examples::tour::app(CasMemoryStore::new())?).await?;
    Ok(())
}
