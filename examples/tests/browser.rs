//! The example shop in a real headless Chromium, driven by chromedriver: its
//! forms, the flash notice, the new session id on login, and the session
//! cookie's attributes as the browser keeps them.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver`. Without them the
//! test is reported as ignored, or fails under CI (see `support/harness.rs`).
//! `UPDATE_SCREENSHOT=1` rewrites the guide's picture of the shop.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use fantoccini::cookies::Cookie;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use support::harness::{CHROMEDRIVER, CHROMIUM, Need, tokio_test};
use support::process::{free_port, start_listening};

/// tower-sessions' default cookie name.
const SESSION_COOKIE: &str = "id";
/// How long a page may take to show what the test waits for.
const WAIT: Duration = Duration::from_secs(10);

fn main() {
    support::harness::run(vec![
        tokio_test(
            "the_shop_works_in_a_real_browser",
            the_shop_works_in_a_real_browser,
        )
        .needs(Need::Browser),
    ]);
}

async fn the_shop_works_in_a_real_browser() {
    // Declared first, so it is removed last: after the browser and the shop
    // are gone.
    let scratch = Scratch::new();

    let shop_port = free_port();
    let mut shop = Command::new(env!("CARGO_BIN_EXE_shop"));
    shop.env("SHOP_DB", scratch.0.join("shop.sqlite"));
    let _shop = start_listening(shop, shop_port);

    let driver_port = free_port();
    let mut driver = Command::new(CHROMEDRIVER);
    driver.arg(format!("--port={driver_port}"));
    let _driver = start_listening(driver, driver_port);

    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                format!("--user-data-dir={}", scratch.0.join("profile").display()),
            ],
        }),
    );
    let browser = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("a Chromium session from chromedriver");

    // The steps run in a task of their own so that a failed assertion still
    // ends the browser session below, and leaves no Chromium behind.
    let steps = tokio::spawn(use_the_shop(
        browser.clone(),
        format!("http://127.0.0.1:{shop_port}/"),
    ))
    .await;
    browser.close().await.expect("end the browser session");
    if let Err(failure) = steps {
        std::panic::resume_unwind(failure.into_panic());
    }
}

async fn use_the_shop(browser: Client, shop: String) {
    browser.goto(&shop).await.expect("open the shop");
    assert_eq!(text_of(&browser, "h1").await, "Typed shop");
    let first_id = session_cookie(&browser).await.value().to_owned();

    let cart_form = wait_for(&browser, "form[action='/cart']").await;
    type_into(&cart_form, "sku", "tea").await;
    type_into(&cart_form, "quantity", "2").await;
    submit(&cart_form).await;

    // After the redirect: the notice, once.
    assert_eq!(text_of(&browser, "#notice").await, "Added tea to your cart");
    assert_eq!(count(&browser, "#notice").await, 1);
    assert_eq!(text_of(&browser, "#count").await, "2");
    assert_eq!(text_of(&browser, "#cart li").await, "2 × tea");
    assert_eq!(
        session_cookie(&browser).await.value(),
        first_id,
        "adding to the cart keeps the session id"
    );
    screenshot(&browser).await;

    browser.refresh().await.expect("reload the shop");
    assert_eq!(text_of(&browser, "#cart li").await, "2 × tea");
    assert_eq!(
        count(&browser, "#notice").await,
        0,
        "the flash notice is gone after a reload"
    );

    let login_form = wait_for(&browser, "form[action='/login']").await;
    type_into(&login_form, "user_id", "7").await;
    submit(&login_form).await;
    assert_eq!(text_of(&browser, "#user").await, "Logged in as user 7");
    assert_eq!(text_of(&browser, "#notice").await, "Welcome, user 7");
    let cookie = session_cookie(&browser).await;
    assert_ne!(cookie.value(), first_id, "logging in cycles the session id");

    assert_eq!(cookie.http_only(), Some(true), "{cookie:?}");
    let visible = browser
        .execute("return document.cookie;", Vec::new())
        .await
        .expect("run a script");
    let visible = visible.as_str().expect("document.cookie is a string");
    assert!(
        !visible
            .split("; ")
            .any(|pair| pair.starts_with(&format!("{SESSION_COOKIE}="))),
        "scripts must not see the session cookie: {visible:?}"
    );
    assert_eq!(
        cookie.same_site().map(|same_site| same_site.to_string()),
        Some("Lax".to_owned()),
        "{cookie:?}"
    );

    submit(&wait_for(&browser, "form[action='/logout']").await).await;
    wait_for(&browser, "form[action='/login']").await;
    assert_eq!(count(&browser, "#user").await, 0);
    assert_eq!(
        text_of(&browser, "#count").await,
        "0",
        "logging out empties the session"
    );
    assert_ne!(
        session_cookie(&browser).await.value(),
        cookie.value(),
        "the page after logout starts a new session"
    );
}

/// Waits until the page shows an element matching `css`.
async fn wait_for(browser: &Client, css: &str) -> Element {
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|error| panic!("the page shows {css}: {error}"))
}

async fn text_of(browser: &Client, css: &str) -> String {
    wait_for(browser, css)
        .await
        .text()
        .await
        .unwrap_or_else(|error| panic!("the text of {css}: {error}"))
}

async fn count(browser: &Client, css: &str) -> usize {
    browser
        .find_all(Locator::Css(css))
        .await
        .unwrap_or_else(|error| panic!("look for {css}: {error}"))
        .len()
}

/// Replaces the value of the form's field `name` by typing `text`.
async fn type_into(form: &Element, name: &str, text: &str) {
    let field = form
        .find(Locator::Css(&format!("input[name='{name}']")))
        .await
        .unwrap_or_else(|error| panic!("a field {name}: {error}"));
    field.clear().await.expect("clear the field");
    field.send_keys(text).await.expect("type into the field");
}

/// Clicks the form's button, as a visitor would.
async fn submit(form: &Element) {
    form.find(Locator::Css("button"))
        .await
        .expect("a button in the form")
        .click()
        .await
        .expect("click the button");
}

async fn session_cookie(browser: &Client) -> Cookie<'static> {
    browser
        .get_named_cookie(SESSION_COOKIE)
        .await
        .expect("the browser holds the session cookie")
}

/// Takes the guide's picture of the shop; writes it only when asked to, so a
/// test run leaves the tree clean.
async fn screenshot(browser: &Client) {
    let png = browser.screenshot().await.expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG image");
    if std::env::var("UPDATE_SCREENSHOT").as_deref() == Ok("1") {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/src/images/shop.png");
        std::fs::write(&path, png)
            .unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
        println!("wrote {}", path.display());
    }
}

/// A fresh directory for the database and the browser profile, removed on
/// drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let path =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("browser-{}", std::process::id()));
        // Left over from an earlier process that had the same id.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("a scratch directory");
        Self(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
