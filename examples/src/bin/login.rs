//! The login example: `cargo run -p examples --bin login`, then
//!
//! ```sh
//! curl -c jar -b jar http://127.0.0.1:3003/secret                  # 403
//! curl -c jar -b jar -d 'user=ada&password=lovelace' http://127.0.0.1:3003/login
//! curl -c jar -b jar http://127.0.0.1:3003/secret                  # the secret
//! curl -c jar -b jar -X POST http://127.0.0.1:3003/logout
//! ```
//!
//! Sessions live in memory. `PORT` defaults to 3003; the account is `ada` /
//! `lovelace` unless `LOGIN_USER` and `LOGIN_PASSWORD` say otherwise.

use examples::login::{Account, app};
use tower_sessions::MemoryStore;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init();
    let port = examples::config::port(3003)?;
    let account = Account {
        user: std::env::var("LOGIN_USER").unwrap_or_else(|_| "ada".to_owned()),
        password: std::env::var("LOGIN_PASSWORD").unwrap_or_else(|_| "lovelace".to_owned()),
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("login example on http://127.0.0.1:{port}/secret");
    axum::serve(listener, app(MemoryStore::default(), account)).await?;
    Ok(())
}
