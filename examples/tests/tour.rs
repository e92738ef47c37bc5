//! The whole-session tour over a cookie-keeping client, and over an API
//! client that carries its session in the `x-session-id` header.

mod support;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use examples::tour::{SESSION_ID_HEADER, app};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use support::Browser;
use tower::ServiceExt;
use tower_sessions::MemoryStore;

fn tour() -> Router {
    app(MemoryStore::default())
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|error| panic!("JSON, not {body:?}: {error}"))
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
    let mut browser = Browser::new(&tour());
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

    browser.cookie = Some(old_cookie);
    let with_old_id = json_of(&browser.send("GET", "/").await.body);
    assert_eq!(
        (&with_old_id["visits"], &with_old_id["name"]),
        (&json!(1), &Value::Null),
        "the old id starts a new, empty session"
    );
}

#[tokio::test]
async fn destroy_deletes_the_session() {
    let mut browser = Browser::new(&tour());
    browser.send("GET", "/").await;
    browser.send("GET", "/").await;
    let old_cookie = browser.cookie.clone().expect("a session");
    let destroyed = browser.send("POST", "/destroy").await;
    assert_eq!(destroyed.status, StatusCode::NO_CONTENT);
    assert!(browser.cookie.is_none(), "the cookie is removed");

    browser.cookie = Some(old_cookie);
    assert_eq!(
        json_of(&browser.send("GET", "/").await.body)["visits"],
        json!(1),
        "the old cookie opens nothing"
    );
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

/// One request of an API client that keeps no cookies.
async fn api_request(
    app: &Router,
    uri: &str,
    session_id: Option<&str>,
) -> (StatusCode, Option<String>, String) {
    let mut request = Request::builder().uri(uri);
    if let Some(id) = session_id {
        request = request.header(&SESSION_ID_HEADER, id);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).expect("a request"))
        .await
        .expect("infallible");
    let status = response.status();
    let id = response
        .headers()
        .get(&SESSION_ID_HEADER)
        .map(|id| id.to_str().expect("ASCII").to_owned());
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    (status, id, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn an_api_client_carries_its_session_in_a_header() {
    let app = tour();
    let (status, id, body) = api_request(&app, "/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_of(&body)["visits"], json!(1));
    let id = id.expect("the new session's id comes back in x-session-id");

    let (_, _, body) = api_request(&app, "/", Some(&id)).await;
    let summary = json_of(&body);
    assert_eq!(
        (&summary["id"], &summary["visits"]),
        (&json!(id), &json!(2)),
        "the header opens the session"
    );

    let (status, _, _) = api_request(&app, "/", Some("id=evil; other=1")).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "only an id reaches the cookie parser"
    );

    let with_query = format!("/?{}={id}", SESSION_ID_HEADER.as_str());
    let (_, _, body) = api_request(&app, &with_query, None).await;
    assert_eq!(
        json_of(&body)["visits"],
        json!(1),
        "an id in the query string is ignored"
    );
}

#[tokio::test]
async fn destroy_sends_no_session_id_back() {
    let app = tour();
    let (_, id, _) = api_request(&app, "/", None).await;
    let id = id.expect("an id");
    let request = Request::builder()
        .method("POST")
        .uri("/destroy")
        .header(&SESSION_ID_HEADER, &id)
        .body(Body::empty())
        .expect("a request");
    let response = app.clone().oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.headers().get(&SESSION_ID_HEADER).is_none());
    assert!(
        response
            .headers()
            .get(header::SET_COOKIE)
            .and_then(|cookie| cookie.to_str().ok())
            .is_some_and(|cookie| cookie.contains("Max-Age=0")),
        "the layer removes the cookie"
    );
}
