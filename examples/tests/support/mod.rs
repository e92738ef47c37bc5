//! A cookie-keeping client for driving a router in tests, like a browser.

#![allow(dead_code, unreachable_pub)]

pub mod env;
pub mod harness;
pub mod process;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// Keeps the session cookie between requests, and may switch between
/// instances of an app that share one store.
pub struct Browser {
    pub app: Router,
    pub cookie: Option<String>,
}

/// What came back.
pub struct Reply {
    pub status: StatusCode,
    pub body: String,
    pub set_cookie: Option<String>,
    pub location: Option<String>,
}

impl Browser {
    pub fn new(app: &Router) -> Self {
        Self {
            app: app.clone(),
            cookie: None,
        }
    }

    pub async fn send(&mut self, method: &str, uri: &str) -> Reply {
        self.request(method, uri, None).await
    }

    pub async fn json(&mut self, method: &str, uri: &str, json: String) -> Reply {
        self.request(method, uri, Some(("application/json", json)))
            .await
    }

    pub async fn form(&mut self, uri: &str, fields: &[(&str, &str)]) -> Reply {
        let body = fields
            .iter()
            .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
            .collect::<Vec<_>>()
            .join("&");
        self.request(
            "POST",
            uri,
            Some(("application/x-www-form-urlencoded", body)),
        )
        .await
    }

    async fn request(&mut self, method: &str, uri: &str, body: Option<(&str, String)>) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let body = match body {
            Some((content_type, body)) => {
                request = request.header(header::CONTENT_TYPE, content_type);
                Body::from(body)
            }
            None => Body::empty(),
        };
        let response = self
            .app
            .clone()
            .oneshot(request.body(body).expect("a valid request"))
            .await
            .expect("infallible");
        let status = response.status();
        let set_cookie = header_text(response.headers(), header::SET_COOKIE);
        let location = header_text(response.headers(), header::LOCATION);
        if let Some(set_cookie) = &set_cookie {
            let pair = set_cookie.split(';').next().unwrap_or_default().to_owned();
            self.cookie = if set_cookie.contains("Max-Age=0") {
                None
            } else {
                Some(pair)
            };
        }
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        Reply {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            set_cookie,
            location,
        }
    }
}

/// The text of a response header. A function, not a closure over the
/// response, so the future of a request stays `Send` and a test can spawn
/// it.
fn header_text(headers: &header::HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .map(|value| value.to_str().expect("ASCII").to_owned())
}

/// Percent-encodes a form field.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// An in-memory SQLite database. Every connection to `sqlite::memory:` opens
/// its own database, so the pool keeps exactly one.
pub async fn sqlite_memory_pool() -> tower_sessions_sqlx_store::sqlx::SqlitePool {
    tower_sessions_sqlx_store::sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .expect("in-memory SQLite")
}

/// An SQLite store in memory, its table created.
pub async fn sqlite_in_memory() -> tower_sessions_sqlx_store::SqliteStore {
    let store = tower_sessions_sqlx_store::SqliteStore::new(sqlite_memory_pool().await);
    store.migrate().await.expect("create the session table");
    store
}

/// The CSRF token the shop put into its forms.
pub fn token_in(page: &str) -> String {
    let marker = r#"name="csrf_token" value=""#;
    let start = page.find(marker).expect("a form with a token") + marker.len();
    page[start..]
        .split('"')
        .next()
        .expect("a closing quote")
        .to_owned()
}
