//! What happens today when two requests of one session overlap under
//! tower-sessions' `SessionManagerLayer`: each request loads the record, and
//! each saves the whole record at its end, so the last save wins and the
//! other request's change is lost, even when the two change different fields.
//! The guide's "Concurrency" chapter quotes this test.

mod support;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Serialize;
use session_core::{SessionError, SessionSchema};
use support::Browser;
use tokio::sync::Barrier;
use tower_sessions::{MemoryStore, SessionManagerLayer};

// ANCHOR: race
#[derive(SessionSchema, Serialize)]
#[session(namespace = "race")]
struct Race {
    #[session(default)]
    cart_items: u32,
    #[session(default)]
    page_views: u32,
}

/// Both handlers read the session, then wait until the other has read it
/// too: the overlap a page and its XHR produce every day, made certain.
async fn add_to_cart(
    race: RaceSession,
    Extension(both): Extension<Arc<Barrier>>,
) -> Result<(), SessionError> {
    race.cart_items().await?;
    both.wait().await;
    race.update_cart_items(|items| *items += 1).await
}

async fn count_view(
    race: RaceSession,
    Extension(both): Extension<Arc<Barrier>>,
) -> Result<(), SessionError> {
    race.page_views().await?;
    both.wait().await;
    race.update_page_views(|views| *views += 1).await
}
// ANCHOR_END: race

async fn start(race: RaceSession) -> Result<(), SessionError> {
    race.set_page_views(0).await
}

async fn state(race: RaceSession) -> Result<Json<Race>, SessionError> {
    Ok(Json(race.load().await?))
}

#[tokio::test]
async fn under_tower_sessions_layer_the_last_save_wins() {
    let app = Router::new()
        .route("/cart", post(add_to_cart))
        .route("/view", post(count_view))
        .route("/start", post(start))
        .route("/state", get(state))
        .layer(Extension(Arc::new(Barrier::new(2))))
        .layer(SessionManagerLayer::new(MemoryStore::default()).with_secure(false));
    let mut browser = Browser::new(&app);
    assert_eq!(
        browser.send("GET", "/state").await.body,
        r#"{"cart_items":0,"page_views":0}"#
    );
    // A first write gives the browser its session.
    browser.send("POST", "/start").await;
    let mut page = Browser::new(&app);
    page.cookie = browser.cookie.clone();
    let mut xhr = Browser::new(&app);
    xhr.cookie = browser.cookie.clone();
    // Bounded: a handler that never meets the other must fail, not hang.
    let (cart, view) = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        tokio::join!(page.send("POST", "/cart"), xhr.send("POST", "/view"))
    })
    .await
    .expect("both requests finish");
    assert!(cart.status.is_success() && view.status.is_success());

    let after = browser.send("GET", "/state").await.body;
    println!("after two acknowledged writes: {after}");
    assert!(
        after == r#"{"cart_items":1,"page_views":0}"#
            || after == r#"{"cart_items":0,"page_views":1}"#,
        "exactly one of the two writes survives: {after}"
    );
}
