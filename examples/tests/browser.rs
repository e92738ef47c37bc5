//! The example shop in a real headless Chromium, driven by chromedriver: its
//! forms, the flash notice, the new session id on login, the session
//! cookie's attributes as the browser keeps them, hostile input (a huge
//! quantity, a 10,000-character name, more of an item at its limit), its
//! error pages and their link back, the chosen language, and an axe-core
//! accessibility check of each kind of page (0 serious or critical
//! violations); and a double click on "Log in", whose first response the
//! browser may cancel after the server rotated the id, never leaves the
//! visitor stuck.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver`. Without them the
//! test is reported as ignored, or fails under CI (see `support/harness.rs`).
//! axe-core is the version pinned in `tests/axe/package.json`, installed by
//! `.ci/run` (or by the test, with npm, when it is missing).
//! `UPDATE_SCREENSHOT=1` rewrites the guide's pictures of the shop.

mod support;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::Duration;

use axum::Router;
use fantoccini::cookies::Cookie;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use session_core::cas::{CasMemoryStore, CasStore, Loaded, SessionId};
use support::harness::{CHROMEDRIVER, CHROMIUM, Need, tokio_test};
use support::process::{Running, free_port, start_listening};
use tokio::time::Instant;

/// tower-sessions' default cookie name.
const SESSION_COOKIE: &str = "id";
/// How long a page may take to show what the test waits for.
const WAIT: Duration = Duration::from_secs(10);
/// The shop's ended-id window in the double-click test: short, so that a
/// visitor who lost the log in's response can log in again after a pause a
/// person would make anyway (the default is 5 s).
const ENDED_ID_WINDOW: Duration = Duration::from_secs(1);
/// The gaps between the two clicks of a double click, in milliseconds.
const DOUBLE_CLICK_GAPS_MS: [u64; 3] = [5, 10, 20];

fn main() {
    support::harness::run(vec![
        tokio_test(
            "the_shop_works_in_a_real_browser",
            the_shop_works_in_a_real_browser,
        )
        .needs(Need::Browser),
        tokio_test(
            "a_double_click_on_log_in_never_leaves_the_visitor_stuck",
            a_double_click_on_log_in_never_leaves_the_visitor_stuck,
        )
        .needs(Need::Browser),
    ]);
}

async fn the_shop_works_in_a_real_browser() {
    // Declared first, so it is removed last: after the browser and the shop
    // are gone.
    let scratch = Scratch::new("shop");

    let shop_port = free_port();
    let mut shop = Command::new(env!("CARGO_BIN_EXE_shop"));
    shop.env("SHOP_DB", scratch.0.join("shop.sqlite"));
    let _shop = start_listening(shop, shop_port);

    in_browser(
        &scratch,
        use_the_shop,
        format!("http://127.0.0.1:{shop_port}/"),
    )
    .await;
}

/// The shop in this process, on a memory store the test can look into, with
/// a short ended-id window.
async fn a_double_click_on_log_in_never_leaves_the_visitor_stuck() {
    let scratch = Scratch::new("double-click");
    let store = CasMemoryStore::new();
    let window = time::Duration::try_from(ENDED_ID_WINDOW).expect("a short window");
    let app = examples::shop::app_with_layer(store.clone(), Router::new(), |layer| {
        layer.with_ended_id_window(window)
    })
    .expect("valid settings");
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("a port for the shop");
    let shop_port = listener.local_addr().expect("the shop's address").port();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    in_browser(
        &scratch,
        move |browser, shop| double_click_on_log_in(browser, shop, store),
        format!("http://127.0.0.1:{shop_port}/"),
    )
    .await;
    server.abort();
}

/// Runs `steps` in a headless Chromium whose profile lives in `scratch`,
/// then ends the browser session, also when a step failed.
async fn in_browser<F, Steps>(scratch: &Scratch, steps: Steps, shop: String)
where
    Steps: FnOnce(Client, String) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let (browser, _driver) = open_browser(scratch).await;
    // The steps run in a task of their own so that a failed assertion still
    // ends the browser session below, and leaves no Chromium behind.
    let outcome = tokio::spawn(steps(browser.clone(), shop)).await;
    browser.close().await.expect("end the browser session");
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}

/// A Chromium session from a chromedriver of its own.
async fn open_browser(scratch: &Scratch) -> (Client, Running) {
    let driver_port = free_port();
    let mut driver = Command::new(CHROMEDRIVER);
    driver.arg(format!("--port={driver_port}"));
    let driver = start_listening(driver, driver_port);

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
    (browser, driver)
}

async fn use_the_shop(browser: Client, shop: String) {
    browser.goto(&shop).await.expect("open the shop");
    assert_eq!(text_of(&browser, "h1").await, "Typed shop");
    assert_eq!(
        browser.get_named_cookie(SESSION_COOKIE).await.ok(),
        None,
        "looking at the shop starts no session"
    );
    accessible(&browser, "the empty shop").await;

    let cart_form = wait_for(&browser, "form[action='/cart']").await;
    type_into(&cart_form, "sku", "tea").await;
    type_into(&cart_form, "quantity", "2").await;
    submit(&cart_form).await;
    let first_id = session_cookie(&browser).await.value().to_owned();

    // After the redirect: the notice, once.
    assert_eq!(
        text_of(&browser, "#notice").await,
        "Added 2 × tea to your cart"
    );
    assert_eq!(count(&browser, "#notice").await, 1);
    assert_eq!(text_of(&browser, "#count").await, "2");
    assert_eq!(text_of(&browser, "#cart li").await, "2 × tea");
    assert_eq!(
        session_cookie(&browser).await.value(),
        first_id,
        "adding to the cart keeps the session id"
    );
    screenshot(&browser, "shop.png").await;
    accessible(&browser, "the shop with a cart and a notice").await;

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

    survives_hostile_input(&browser, &shop).await;

    submit(&wait_for(&browser, "form[action='/logout']").await).await;
    wait_for(&browser, "form[action='/login']").await;
    assert_eq!(count(&browser, "#user").await, 0);
    assert_eq!(
        text_of(&browser, "#notice").await,
        "You are logged out; your cart was emptied."
    );
    assert_eq!(
        text_of(&browser, "#count").await,
        "0",
        "logging out empties the session"
    );
    assert_eq!(
        browser.get_named_cookie(SESSION_COOKIE).await.ok(),
        None,
        "the page after logout starts no new session"
    );

    speaks_the_chosen_language(&browser).await;
}

/// What broke the shop before it checked its input: a quantity at the top
/// of `u32` followed by another item (a panic in the cart total, for every
/// later page), a name of 10,000 characters, more of an item at the limit.
/// The browser's own checks (`max`, `maxlength`) stop most of it; a hostile
/// client skips them, so the forms are sent with `novalidate` too.
async fn survives_hostile_input(browser: &Client, shop: &str) {
    let before = text_of(browser, "#count").await;

    let cart_form = wait_for(browser, "form[action='/cart']").await;
    type_into(&cart_form, "sku", "jam").await;
    type_into(&cart_form, "quantity", "4294967295").await;
    assert_eq!(
        browser
            .execute(
                "return document.querySelector(\"form[action='/cart']\").checkValidity();",
                Vec::new()
            )
            .await
            .expect("run a script"),
        json!(false),
        "the browser itself refuses a quantity above the field's max"
    );
    without_browser_checks(browser).await;
    submit(&wait_for(browser, "form[action='/cart']").await).await;
    assert_eq!(
        text_of(browser, "#cart-error").await,
        "Enter a quantity from 1 to 99."
    );
    accessible(browser, "a refused form").await;
    screenshot(browser, "shop-refused.png").await;
    let cart_form = wait_for(browser, "form[action='/cart']").await;
    type_into(&cart_form, "sku", "honey").await;
    type_into(&cart_form, "quantity", "1").await;
    submit(&cart_form).await;
    assert_eq!(
        text_of(browser, "#notice").await,
        "Added 1 × honey to your cart"
    );
    let expected: u32 = before.parse::<u32>().expect("a count") + 1;
    assert_eq!(text_of(browser, "#count").await, expected.to_string());

    // More of an item already at the maximum.
    let cart_form = wait_for(browser, "form[action='/cart']").await;
    type_into(&cart_form, "sku", "honey").await;
    type_into(&cart_form, "quantity", "99").await;
    submit(&cart_form).await;
    assert_eq!(
        text_of(browser, "#cart-error").await,
        "You already have 1 × honey: one line of the cart holds at most 99."
    );
    assert_eq!(count(browser, "#notice").await, 0, "no \"Added\"");

    // Typing is cut at the field's maxlength; the longest name still fits
    // the page's width.
    let long = "n".repeat(10_000);
    let cart_form = wait_for(browser, "form[action='/cart']").await;
    type_into(&cart_form, "sku", &long[..200]).await;
    let typed = browser
        .execute(
            "return document.querySelector(\"input[name='sku']\").value.length;",
            Vec::new(),
        )
        .await
        .expect("run a script");
    assert_eq!(
        typed,
        json!(40),
        "maxlength holds the name at 40 characters"
    );
    type_into(&cart_form, "quantity", "1").await;
    submit(&cart_form).await;
    wait_for(browser, "#notice").await;
    let overflow = browser
        .execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            Vec::new(),
        )
        .await
        .expect("run a script");
    assert_eq!(overflow, json!(0), "no horizontal scrolling");

    // A hostile client sends the 10,000 characters anyway: an error page,
    // and its link leads back to the shop.
    without_browser_checks(browser).await;
    browser
        .execute(
            "document.querySelector(\"input[name='sku']\").value = arguments[0];",
            vec![json!(long)],
        )
        .await
        .expect("run a script");
    submit(&wait_for(browser, "form[action='/cart']").await).await;
    assert_eq!(text_of(browser, "h1").await, "Error 413");
    accessible(browser, "an error page").await;
    wait_for(browser, "a#back")
        .await
        .click()
        .await
        .expect("follow the link back");
    assert_eq!(text_of(browser, "h1").await, "Typed shop");
    assert_eq!(browser.current_url().await.expect("a URL").as_str(), shop);

    browser
        .goto(&format!("{shop}nowhere"))
        .await
        .expect("open a missing page");
    assert_eq!(text_of(browser, "h1").await, "Error 404");
    wait_for(browser, "a#back")
        .await
        .click()
        .await
        .expect("follow the link back");
    assert_eq!(text_of(browser, "h1").await, "Typed shop");
}

/// A visitor with a cart double-clicks "Log in", for each gap of
/// [`DOUBLE_CLICK_GAPS_MS`]. The second click leaves with the old id. When
/// the browser cancelled the first request after the server rotated the id,
/// the new cookie never arrived: the next page is a normal page of an
/// anonymous visitor, and after the ended-id window the visitor logs in and
/// fills the cart again. When the first response arrived, the visitor is
/// logged in with the cart. Either way the old id stays ended.
async fn double_click_on_log_in(browser: Client, shop: String, store: CasMemoryStore) {
    for gap in DOUBLE_CLICK_GAPS_MS {
        browser.delete_all_cookies().await.expect("a new visitor");
        browser.goto(&shop).await.expect("open the shop");
        let cart_form = wait_for(&browser, "form[action='/cart']").await;
        type_into(&cart_form, "sku", "tea").await;
        type_into(&cart_form, "quantity", "2").await;
        submit_and_wait(&browser, &cart_form).await;
        assert_eq!(text_of(&browser, "#count").await, "2");
        let before = session_cookie(&browser).await.value().to_owned();
        let sessions = store.len();

        type_into(
            &wait_for(&browser, "form[action='/login']").await,
            "user_id",
            "7",
        )
        .await;
        let clicked = Instant::now();
        browser
            .execute(
                "window.doubleClicked = true;
                 const button = document.querySelector(\"form[action='/login'] button\");
                 button.click();
                 setTimeout(() => button.click(), arguments[0]);",
                vec![json!(gap)],
            )
            .await
            .expect("double-click Log in");
        let shown = settled_page(&browser).await;
        let after = session_cookie(&browser).await.value().to_owned();

        assert_eq!(
            store.len(),
            sessions + 1,
            "one log in ran: the old id's ended marker and the logged-in record"
        );
        assert!(
            matches!(
                store
                    .load(&session_id(&before))
                    .await
                    .expect("memory store"),
                Loaded::Ended { .. }
            ),
            "the log in ended the old id"
        );
        if after == before {
            println!(
                "double click {gap} ms apart: the first response was cancelled, its new id never \
                 reached the browser; the second click showed {shown:?}"
            );
            starts_afresh(&browser, &shop, clicked).await;
        } else {
            println!(
                "double click {gap} ms apart: the first response arrived with the new id; the \
                 second click showed {shown:?}"
            );
            browser.goto(&shop).await.expect("open the shop");
            assert_eq!(status(&browser).await, 200);
            assert_eq!(text_of(&browser, "#user").await, "Logged in as user 7");
            assert_eq!(text_of(&browser, "#cart li").await, "2 × tea");
        }
        let now = session_cookie(&browser).await.value().to_owned();
        assert_ne!(now, before, "the ended id never comes back");
        assert!(
            matches!(
                store
                    .load(&session_id(&before))
                    .await
                    .expect("memory store"),
                Loaded::Ended { .. }
            ),
            "the old id is still ended"
        );
    }
}

/// The visitor whose browser never got the new id: the next page is a
/// normal page (no 409) of an anonymous visitor; once the ended-id window
/// has passed since the double click, log in and the cart work again.
async fn starts_afresh(browser: &Client, shop: &str, clicked: Instant) {
    browser.goto(shop).await.expect("open the shop");
    assert_eq!(
        status(browser).await,
        200,
        "the next page load is a normal page"
    );
    assert_eq!(text_of(browser, "h1").await, "Typed shop");
    assert_eq!(count(browser, "#user").await, 0);
    assert_eq!(
        text_of(browser, "#count").await,
        "0",
        "the cart went with the session the browser never got"
    );
    // As long as a person takes to read the page.
    tokio::time::sleep_until(clicked + ENDED_ID_WINDOW).await;

    let login_form = wait_for(browser, "form[action='/login']").await;
    type_into(&login_form, "user_id", "7").await;
    submit_and_wait(browser, &login_form).await;
    assert_eq!(status(browser).await, 200);
    assert_eq!(text_of(browser, "#user").await, "Logged in as user 7");
    let cart_form = wait_for(browser, "form[action='/cart']").await;
    type_into(&cart_form, "sku", "jam").await;
    type_into(&cart_form, "quantity", "1").await;
    submit_and_wait(browser, &cart_form).await;
    assert_eq!(
        text_of(browser, "#notice").await,
        "Added 1 × jam to your cart"
    );
    assert_eq!(text_of(browser, "#cart li").await, "1 × jam");
}

/// Submits `form` and waits until the page it leads to has loaded, so that
/// what the test reads next is the new page, never the one being left.
async fn submit_and_wait(browser: &Client, form: &Element) {
    browser
        .execute("window.leavingPage = true;", Vec::new())
        .await
        .expect("mark the page being left");
    submit(form).await;
    wait_for_new_page(browser, "leavingPage", "the form led to no page").await;
}

/// Waits until the document the double click started from is replaced and
/// the new one is loaded; its heading and status.
async fn settled_page(browser: &Client) -> (String, u64) {
    wait_for_new_page(browser, "doubleClicked", "the double click led to no page").await;
    (text_of(browser, "h1").await, status(browser).await)
}

/// Waits until the page that set `window.<flag>` has been left and the
/// next one has loaded (a new page has no such flag); panics with `what`
/// when none loads within [`WAIT`].
async fn wait_for_new_page(browser: &Client, flag: &str, what: &str) {
    let check = format!("return !window.{flag} && document.readyState === 'complete';");
    let deadline = Instant::now() + WAIT;
    loop {
        let loaded = browser
            .execute(&check, Vec::new())
            .await
            .is_ok_and(|loaded| loaded == json!(true));
        if loaded {
            return;
        }
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The HTTP status of the page shown.
async fn status(browser: &Client) -> u64 {
    browser
        .execute(
            "return performance.getEntriesByType('navigation')[0].responseStatus;",
            Vec::new(),
        )
        .await
        .expect("run a script")
        .as_u64()
        .expect("a status")
}

fn session_id(cookie_value: &str) -> SessionId {
    SessionId::from_str(cookie_value).expect("a session id")
}

/// Chooses German, and the whole page follows.
async fn speaks_the_chosen_language(browser: &Client) {
    let form = wait_for(browser, "form[action='/locale']").await;
    form.find(Locator::Css("select"))
        .await
        .expect("the language menu")
        .select_by_value("de")
        .await
        .expect("choose German");
    submit(&form).await;
    assert_eq!(text_of(browser, "h1").await, "Typisierter Laden");
    assert_eq!(
        browser
            .execute("return document.documentElement.lang;", Vec::new())
            .await
            .expect("run a script"),
        json!("de")
    );
    assert_eq!(
        text_of(browser, "#notice").await,
        "Der Laden spricht jetzt Deutsch."
    );
    accessible(browser, "the shop in German").await;
}

/// Turns off the browser's own form checks, as a hostile client would.
async fn without_browser_checks(browser: &Client) {
    browser
        .execute(
            "document.querySelectorAll('form').forEach(form => form.noValidate = true);",
            Vec::new(),
        )
        .await
        .expect("run a script");
}

/// Runs axe-core on the current page and fails on any violation of the
/// serious or critical kinds.
async fn accessible(browser: &Client, page: &str) {
    let source = axe_source();
    browser
        .execute(&format!("{source}\nwindow.axe = axe;"), Vec::new())
        .await
        .expect("inject axe-core");
    let outcome = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document)
                .then(results => done({
                    passed: results.passes.length,
                    found: results.violations
                        .filter(v => v.impact === 'serious' || v.impact === 'critical')
                        .map(v => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map(n => n.target.join(' ')).join(', ')}`),
                }))
                .catch(error => done({ passed: 0, found: [`axe failed: ${error}`] }));",
            Vec::new(),
        )
        .await
        .expect("run axe-core");
    let passed = outcome["passed"].as_u64().unwrap_or_default();
    let found: Vec<String> =
        serde_json::from_value(outcome["found"].clone()).expect("a list of violations");
    println!(
        "axe-core on {page}: {passed} rules passed, {} serious or critical violations",
        found.len()
    );
    assert!(passed > 0, "axe-core checked nothing on {page}");
    assert!(found.is_empty(), "axe-core on {page}: {found:#?}");
}

/// The source of axe-core, from the folder `.ci/run` fills with `npm ci`
/// (`examples/tests/axe/package.json`); prepared here the same way when it
/// is missing and npm is installed.
fn axe_source() -> String {
    let folder = Path::new(env!("CARGO_TARGET_TMPDIR")).join("axe");
    let script = folder.join("node_modules/axe-core/axe.min.js");
    if !script.is_file() {
        let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/axe");
        std::fs::create_dir_all(&folder).expect("a folder for axe-core");
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(project.join(file), folder.join(file))
                .unwrap_or_else(|error| panic!("copy {file}: {error}"));
        }
        let installed = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&folder)
            .status()
            .unwrap_or_else(|error| {
                panic!(
                    "the accessibility check needs axe-core: install npm, or run .ci/run ({error})"
                )
            });
        assert!(
            installed.success(),
            "npm ci of axe-core failed: {installed}"
        );
    }
    std::fs::read_to_string(&script)
        .unwrap_or_else(|error| panic!("read {}: {error}", script.display()))
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

/// Takes one of the guide's pictures of the shop, `book/src/images/{name}`;
/// writes it only when asked to, so a test run leaves the tree clean.
async fn screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG image");
    if std::env::var("UPDATE_SCREENSHOT").as_deref() == Ok("1") {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../book/src/images")
            .join(name);
        std::fs::write(&path, png)
            .unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
        println!("wrote {}", path.display());
    }
}

/// A fresh directory for the database and the browser profile, removed on
/// drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("browser-{test}-{}", std::process::id()));
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
