//! Sign-in with an OIDC identity provider (authorization code with PKCE):
//! `OIDC_PROVIDER=http://127.0.0.1:8080 cargo run -p examples --bin oidc`,
//! then open <http://127.0.0.1:3002/login>.
//!
//! `OIDC_PROVIDER` is the provider's base URL (its endpoints are
//! `/authorize` and `/token`; the example's client speaks plain HTTP only, so
//! a provider on loopback), `OIDC_CLIENT_ID` the client id registered there
//! (default `example`), with `http://127.0.0.1:{PORT}/callback` as its
//! redirect URI. `PORT` defaults to 3002. Sessions live in memory.

use examples::config::configured;
use examples::oidc::{OidcConfig, app};
use tower_sessions::MemoryStore;

type Failure = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), Failure> {
    tracing_subscriber::fmt().init();
    let port = examples::config::port(3002)?;
    let provider = configured("OIDC_PROVIDER").ok_or(
        "set OIDC_PROVIDER to the identity provider's base URL, e.g. http://127.0.0.1:8080",
    )?;
    let client_id = configured("OIDC_CLIENT_ID").unwrap_or_else(|| "example".to_owned());
    let config = OidcConfig {
        provider,
        client_id,
        redirect_uri: format!("http://127.0.0.1:{port}/callback"),
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "oidc listening on http://127.0.0.1:{port}/login (provider {}, sessions in memory)",
        config.provider
    );
    axum::serve(listener, app(MemoryStore::default(), config)).await?;
    Ok(())
}
