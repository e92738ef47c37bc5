//! The record limit of `session_core::layer::SessionLayer`
//! (`with_record_limit`, `DEFAULT_RECORD_LIMIT`), over HTTP on loopback: a
//! request whose changes would store a larger record is a `500`, stores
//! nothing, and is logged with the keys that take the room.

mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use session_core::cas::{CasMemoryStore, CasStore, Loaded, SessionId};
use session_core::layer::{
    DEFAULT_RECORD_LIMIT, ErrorPage, LayerConfigError, LayerError, SessionLayer,
    SessionLayerBuilder,
};
use session_core::{SessionError, SessionSchema};
use support::process::{Response, http};
use tokio::runtime::Runtime;

/// What the handlers keep in the session.
#[derive(SessionSchema, Serialize, Deserialize, Debug)]
#[session(namespace = "page")]
struct Page {
    note: Option<String>,
    #[session(rotate_id)]
    user: Option<String>,
}

/// Keeps a note of `bytes` bytes.
async fn write_note(page: PageSession, Path(bytes): Path<usize>) -> Result<(), SessionError> {
    page.set_note("x".repeat(bytes)).await
}

/// The length of the note, or `none`.
async fn read_note(page: PageSession) -> Result<String, SessionError> {
    Ok(page
        .note()
        .await?
        .map_or_else(|| "none".to_owned(), |note| note.len().to_string()))
}

/// Logs in (a new id) and keeps a note of `bytes` bytes.
async fn log_in_with_note(page: PageSession, Path(bytes): Path<usize>) -> Result<(), SessionError> {
    page.set_user("ada".to_owned()).await?;
    page.set_note("x".repeat(bytes)).await
}

fn routes() -> Router {
    Router::new()
        .route("/note", get(read_note))
        .route("/note/{bytes}", post(write_note))
        .route("/login/{bytes}", post(log_in_with_note))
}

/// An app served on a loopback port by its own runtime, and its store.
struct Served {
    runtime: Runtime,
    address: SocketAddr,
    store: CasMemoryStore,
}

impl Served {
    fn new(
        store: &CasMemoryStore,
        layer: impl FnOnce(SessionLayerBuilder<CasMemoryStore>) -> SessionLayerBuilder<CasMemoryStore>,
    ) -> Self {
        let runtime = Runtime::new().expect("a tokio runtime");
        let layer = layer(SessionLayer::builder(store.clone()).with_secure(false))
            .build()
            .expect("valid settings");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a loopback port");
        let address = listener.local_addr().expect("bound address");
        runtime.spawn(async move {
            axum::serve(listener, routes().layer(layer))
                .await
                .expect("serve");
        });
        Served {
            runtime,
            address,
            store: store.clone(),
        }
    }

    fn send(&self, method: &str, path: &str, cookie: Option<&str>) -> Response {
        http(self.address.port(), method, path, cookie, "")
    }

    fn is_live(&self, cookie: &str) -> bool {
        let id: SessionId = cookie
            .strip_prefix("id=")
            .expect("the `id` cookie")
            .parse()
            .expect("a session id");
        matches!(
            self.runtime.block_on(self.store.load(&id)).expect("load"),
            Loaded::Live { .. }
        )
    }
}

fn limited(
    bytes: usize,
) -> impl FnOnce(SessionLayerBuilder<CasMemoryStore>) -> SessionLayerBuilder<CasMemoryStore> {
    move |builder| builder.with_record_limit(bytes)
}

fn assert_refused(reply: &Response) {
    assert_eq!(reply.status, 500, "{}", reply.body);
    assert_eq!(reply.body, LayerError::Failed.message());
    assert_eq!(reply.set_cookie, None, "a refused save sets no cookie");
}

#[test]
fn a_change_over_the_limit_is_a_500_and_the_previous_record_stays() {
    let app = Served::new(&CasMemoryStore::new(), limited(1024));
    let first = app.send("POST", "/note/100", None);
    assert_eq!(first.status, 200, "{}", first.body);
    let cookie = first.set_cookie.expect("a new session");

    assert_refused(&app.send("POST", "/note/2000", Some(&cookie)));
    assert_eq!(
        app.send("GET", "/note", Some(&cookie)).body,
        "100",
        "nothing of the refused request was stored"
    );

    let fits = app.send("POST", "/note/900", Some(&cookie));
    assert_eq!(fits.status, 200, "a record under the limit is stored");
    assert_eq!(app.send("GET", "/note", Some(&cookie)).body, "900");
}

#[test]
fn a_new_session_over_the_limit_is_never_created() {
    let store = CasMemoryStore::new();
    let app = Served::new(&store, limited(1024));
    assert_refused(&app.send("POST", "/note/2000", None));
    assert_eq!(store.len(), 0, "no record was created");
}

#[test]
fn a_log_in_over_the_limit_keeps_the_session_it_would_replace() {
    let app = Served::new(&CasMemoryStore::new(), limited(1024));
    let cookie = app
        .send("POST", "/note/100", None)
        .set_cookie
        .expect("a new session");
    assert_refused(&app.send("POST", "/login/2000", Some(&cookie)));
    assert!(app.is_live(&cookie), "the old id was not ended");
    assert_eq!(app.send("GET", "/note", Some(&cookie)).body, "100");
    assert_eq!(app.store.len(), 1, "and no new record was created");
}

#[test]
fn the_error_page_hook_renders_the_refusal() {
    let app = Served::new(&CasMemoryStore::new(), |builder| {
        builder.with_record_limit(1024).with_error_page(|request| {
            ErrorPage::text(format!(
                "{:?} {}",
                request.error(),
                request.status().as_u16()
            ))
        })
    });
    let reply = app.send("POST", "/note/2000", None);
    assert_eq!(reply.status, 500);
    assert_eq!(reply.body, "Failed 500");
    assert_eq!(reply.set_cookie, None);
}

#[test]
fn the_default_limit_is_64_kib_of_encoded_record() {
    assert_eq!(DEFAULT_RECORD_LIMIT, 64 * 1024);
    let app = Served::new(&CasMemoryStore::new(), |builder| builder);
    // `{"page.note":"…"}` is the note and 16 bytes.
    let at_the_limit = app.send(
        "POST",
        &format!("/note/{}", DEFAULT_RECORD_LIMIT - 16),
        None,
    );
    assert_eq!(
        at_the_limit.status, 200,
        "a record of exactly the limit is stored"
    );
    assert_refused(&app.send(
        "POST",
        &format!("/note/{}", DEFAULT_RECORD_LIMIT - 15),
        None,
    ));
}

#[test]
fn a_record_already_over_a_lowered_limit_is_read_and_may_shrink() {
    let store = CasMemoryStore::new();
    let before = Served::new(&store, limited(4096));
    let cookie = before
        .send("POST", "/note/2000", None)
        .set_cookie
        .expect("a new session");

    let after = Served::new(&store, limited(1024));
    let read = after.send("GET", "/note", Some(&cookie));
    assert_eq!((read.status, read.body.as_str()), (200, "2000"));
    assert_refused(&after.send("POST", "/note/1500", Some(&cookie)));
    let shrunk = after.send("POST", "/note/10", Some(&cookie));
    assert_eq!(
        shrunk.status, 200,
        "a change back under the limit is stored"
    );
    assert_eq!(after.send("GET", "/note", Some(&cookie)).body, "10");
}

#[test]
fn the_refusal_is_logged_with_the_largest_keys_and_no_value() {
    let logs = captured();
    let app = Served::new(&CasMemoryStore::new(), limited(1024));
    assert_refused(&app.send("POST", "/login/2000", None));
    let logs = String::from_utf8(logs.lock().expect("logs").clone()).expect("UTF-8");
    // Other tests of this binary log their refusals too; this one's names
    // the user.
    let line = logs
        .lines()
        .find(|line| line.contains("over the record limit") && line.contains("`page.user`"))
        .unwrap_or_else(|| panic!("no refusal in the logs: {logs}"));
    assert!(line.contains("ERROR"), "{line}");
    assert!(
        line.contains("would take 2034 bytes, over the layer's record limit of 1024 bytes"),
        "{line}"
    );
    let note = line
        .find("`page.note` 2014 bytes")
        .expect("the note, first");
    let user = line.find("`page.user` 17 bytes").expect("then the user");
    assert!(note < user, "{line}");
    assert!(
        !line.contains("xxxx") && !line.contains("ada"),
        "no value: {line}"
    );
}

/// Everything the layer logs in this test binary, from every thread.
fn captured() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let writer = Arc::clone(&logs);
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || Capture(Arc::clone(&writer)))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        logs
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("logs").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_record_limit_of_zero_is_refused_at_build() {
    let error = SessionLayer::builder(CasMemoryStore::new())
        .with_record_limit(0)
        .build()
        .expect_err("zero");
    assert_eq!(error, LayerConfigError::ZeroRecordLimit);
}
