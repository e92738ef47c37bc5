//! The whole-session tour over a cookie-keeping client, and over an API
//! client that carries its session in the `x-session-id` header.

mod support;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Request, StatusCode, header};
use examples::tour::{SESSION_ID_HEADER, app};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use session_core::cas::CasMemoryStore;
use support::Browser;
use tower::ServiceExt;
use tower_sessions::session::Id;

fn tour() -> Router {
    app(CasMemoryStore::new()).expect("valid settings")
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|error| panic!("JSON, not {body:?}: {error}"))
}

/// A client that still presents an id that a new id or a log out ended,
/// in `credential` (the cookie or the header): its reads see an empty
/// session, and while the store remembers the id as ended (a minute by
/// default) a write is refused and hands out no id.
async fn assert_ended(app: &Router, credential: (&HeaderName, &str)) {
    let keys = send(app, "GET", "/keys", credential).await;
    assert_eq!(keys.status, StatusCode::OK);
    assert_eq!(json_of(&keys.body)["held"], json!([]), "nothing to read");

    let write = send(app, "GET", "/", credential).await;
    assert_eq!(write.status, StatusCode::CONFLICT, "{}", write.body);
    assert!(
        write.body.contains("ended by another request"),
        "{}",
        write.body
    );
    assert_eq!(
        (write.set_cookie, write.session_id),
        (None, None),
        "no id for a dead id"
    );
}

#[tokio::test]
async fn keys_lists_the_schema_and_what_the_session_holds() {
    let mut browser = Browser::new(&tour());
    let keys = json_of(&browser.send("GET", "/keys").await.body);
    assert_eq!(
        keys,
        json!({"schema": ["tour.visits", "tour.name"], "held": []})
    );
    browser.send("GET", "/").await;
    browser.send("POST", "/name/ada").await;
    let keys = json_of(&browser.send("GET", "/keys").await.body);
    assert_eq!(keys["held"], json!(["tour.visits", "tour.name"]));
}

#[tokio::test]
async fn regenerate_gives_a_new_id_and_keeps_the_data() {
    let app = tour();
    let mut browser = Browser::new(&app);
    browser.send("GET", "/").await;
    browser.send("POST", "/name/ada").await;
    let old_cookie = browser.cookie.clone().expect("a session");

    // The new id is chosen when the layer saves the session, after the
    // handler: it arrives in the cookie.
    let regenerated = json_of(&browser.send("POST", "/regenerate").await.body);
    assert_eq!(
        (&regenerated["visits"], &regenerated["name"]),
        (&json!(1), &json!("ada")),
        "the same data"
    );
    assert_ne!(browser.cookie.as_ref(), Some(&old_cookie), "a new id");
    let next = json_of(&browser.send("GET", "/").await.body);
    assert_eq!(
        (&next["visits"], &next["name"]),
        (&json!(2), &json!("ada")),
        "the new cookie opens the session"
    );

    assert_ended(&app, (&header::COOKIE, &old_cookie)).await;
}

#[tokio::test]
async fn destroy_deletes_the_session() {
    let app = tour();
    let mut browser = Browser::new(&app);
    browser.send("GET", "/").await;
    browser.send("GET", "/").await;
    let old_cookie = browser.cookie.clone().expect("a session");
    let destroyed = browser.send("POST", "/destroy").await;
    assert_eq!(destroyed.status, StatusCode::NO_CONTENT);
    assert!(browser.cookie.is_none(), "the cookie is removed");
    assert_eq!(
        json_of(&browser.send("GET", "/").await.body)["visits"],
        json!(1),
        "without a cookie, a fresh session"
    );

    assert_ended(&app, (&header::COOKIE, &old_cookie)).await;
}

#[tokio::test]
async fn set_expiry_sets_the_cookie_lifetime() {
    let mut browser = Browser::new(&tour());
    browser.send("GET", "/").await;
    let reply = browser.send("POST", "/expiry/3600").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let cookie = reply.set_cookie.expect("the cookie is sent again");
    assert!(cookie.contains("Max-Age=3600"), "{cookie}");

    for bad in ["0", "-5", "99999999999", "soon"] {
        let reply = browser.send("POST", &format!("/expiry/{bad}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "/expiry/{bad}");
    }
}

/// What came back, with the headers that hand out a session id.
struct Reply {
    status: StatusCode,
    body: String,
    /// The `x-session-id` response header.
    session_id: Option<String>,
    set_cookie: Option<String>,
}

/// One request that presents `credential`: a cookie, or the id header.
async fn send(app: &Router, method: &str, uri: &str, (name, value): (&HeaderName, &str)) -> Reply {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(name, value)
        .body(Body::empty())
        .expect("a request");
    let response = app.clone().oneshot(request).await.expect("infallible");
    let text = |name| {
        response
            .headers()
            .get(name)
            .map(|value: &HeaderValue| value.to_str().expect("ASCII").to_owned())
    };
    let session_id = text(SESSION_ID_HEADER);
    let set_cookie = text(header::SET_COOKIE);
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    Reply {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
        session_id,
        set_cookie,
    }
}

/// An API client that keeps no cookies: it sends `x-session-id` on every
/// request (empty until it has an id) and keeps the id the header brings
/// back.
struct ApiClient {
    app: Router,
    session_id: Option<String>,
}

impl ApiClient {
    fn new(app: &Router) -> Self {
        Self {
            app: app.clone(),
            session_id: None,
        }
    }

    async fn send(&mut self, method: &str, uri: &str) -> Reply {
        let id = self.session_id.as_deref().unwrap_or_default();
        let reply = send(&self.app, method, uri, (&SESSION_ID_HEADER, id)).await;
        if let Some(id) = &reply.session_id {
            self.session_id = Some(id.clone()).filter(|id| !id.is_empty());
        }
        reply
    }
}

/// Starts a session with an empty header and returns its id.
async fn started(client: &mut ApiClient) -> String {
    let reply = client.send("GET", "/").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(json_of(&reply.body)["visits"], json!(1));
    let id = reply
        .session_id
        .expect("the new session's id comes back in x-session-id");
    assert!(id.parse::<Id>().is_ok(), "a session id, not {id:?}");
    id
}

#[tokio::test]
async fn an_api_client_carries_its_session_in_a_header_and_gets_no_cookie() {
    let app = tour();
    let mut client = ApiClient::new(&app);
    let first = client.send("GET", "/").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(
        first.set_cookie, None,
        "a header request never gets a cookie"
    );
    let id = first.session_id.expect("the new id in x-session-id");
    assert_eq!(json_of(&first.body)["visits"], json!(1));

    let second = client.send("GET", "/").await;
    let summary = json_of(&second.body);
    assert_eq!(
        (&summary["id"], &summary["visits"]),
        (&json!(id), &json!(2)),
        "the header opens the session"
    );
    assert_eq!(second.set_cookie, None);
    assert_eq!(second.session_id, None, "an unchanged id is not sent again");

    let named = client.send("POST", "/name/ada").await;
    assert_eq!(json_of(&named.body)["name"], json!("ada"));
    let expiry = client.send("POST", "/expiry/3600").await;
    assert_eq!(expiry.status, StatusCode::NO_CONTENT);
    assert_eq!(
        (expiry.session_id.as_deref(), expiry.set_cookie),
        (Some(id.as_str()), None),
        "a new lifetime sends the same id again, in the header"
    );
    let keys = json_of(&client.send("GET", "/keys").await.body);
    assert_eq!(keys["held"], json!(["tour.visits", "tour.name"]));
}

#[tokio::test]
async fn a_malformed_or_unknown_header_id_starts_a_fresh_session() {
    let app = tour();
    let mut owner = ApiClient::new(&app);
    let existing = started(&mut owner).await;
    let too_long = "A".repeat(100);
    let unknown = Id::default().to_string();
    for junk in [
        "id=evil; other=1",
        "not-an-id",
        too_long.as_str(),
        unknown.as_str(),
    ] {
        let mut client = ApiClient::new(&app);
        client.session_id = Some(junk.to_owned());
        let reply = client.send("GET", "/").await;
        assert_eq!(reply.status, StatusCode::OK, "{junk:?}: {}", reply.body);
        assert_eq!(json_of(&reply.body)["visits"], json!(1), "{junk:?}");
        assert_eq!(reply.set_cookie, None, "{junk:?}");
        let fresh = reply.session_id.expect("a new id in the header");
        assert!(
            fresh != junk && fresh != existing,
            "{junk:?} is never adopted"
        );
        assert_eq!(
            json_of(&client.send("GET", "/").await.body)["visits"],
            json!(2),
            "the new id opens the fresh session"
        );
    }
    assert_eq!(
        json_of(&owner.send("GET", "/").await.body)["visits"],
        json!(2),
        "the existing session is untouched"
    );
}

#[tokio::test]
async fn an_id_in_the_query_string_is_never_read() {
    let app = tour();
    let mut owner = ApiClient::new(&app);
    let id = started(&mut owner).await;

    let mut client = ApiClient::new(&app);
    let reply = client
        .send(
            "GET",
            &format!("/?{}={id}&id={id}", SESSION_ID_HEADER.as_str()),
        )
        .await;
    assert_eq!(json_of(&reply.body)["visits"], json!(1), "a fresh session");
    let fresh = reply.session_id.expect("a new id in the header");
    assert_ne!(fresh, id, "under a new id");
}

#[tokio::test]
async fn regenerate_sends_the_new_id_in_the_header() {
    let app = tour();
    let mut client = ApiClient::new(&app);
    let old = started(&mut client).await;
    client.send("POST", "/name/ada").await;

    let reply = client.send("POST", "/regenerate").await;
    let regenerated = json_of(&reply.body);
    assert_eq!(
        (&regenerated["visits"], &regenerated["name"]),
        (&json!(1), &json!("ada")),
        "the same data"
    );
    assert_eq!(reply.set_cookie, None);
    let new = reply.session_id.expect("the new id in the header");
    assert_ne!(new, old);
    let summary = json_of(&client.send("GET", "/").await.body);
    assert_eq!(
        (&summary["id"], &summary["visits"]),
        (&json!(new), &json!(2))
    );

    assert_ended(&app, (&SESSION_ID_HEADER, &old)).await;
}

#[tokio::test]
async fn destroy_answers_the_header_empty() {
    let app = tour();
    let mut client = ApiClient::new(&app);
    let old = started(&mut client).await;
    let reply = client.send("POST", "/destroy").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        (reply.session_id.as_deref(), reply.set_cookie),
        (Some(""), None),
        "the header comes back empty, and no cookie is removed"
    );

    assert_ended(&app, (&SESSION_ID_HEADER, &old)).await;
}
