//! The JSON Schema of the stored layout, and the snapshot test that catches a
//! layout change shipped without a version bump.
#![cfg(feature = "schema")]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use session_core::testing::assert_schema_snapshot;
use session_core::{SessionSchema, StoredLayout};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Line {
    sku: String,
    quantity: u32,
}

// ANCHOR: schema
#[derive(SessionSchema)]
#[session(namespace = "store", version = 2, json_schema)]
struct Store {
    #[session(default)]
    cart: Vec<Line>,
    #[session(rotate_id)]
    user_id: Option<u64>,
    #[session(expires_in = "15m", sensitive)]
    csrf_token: Option<String>,
}
// ANCHOR_END: schema

/// `Store` with the cart's type changed but the version left alone.
#[derive(SessionSchema)]
#[session(namespace = "store", version = 2, json_schema)]
struct StoreRetyped {
    #[session(default)]
    cart: Vec<String>,
    #[session(rotate_id)]
    user_id: Option<u64>,
    #[session(expires_in = "15m", sensitive)]
    csrf_token: Option<String>,
}

/// The same change with the version bumped.
#[derive(SessionSchema)]
#[session(namespace = "store", version = 3, json_schema)]
struct StoreV3 {
    #[session(default)]
    cart: Vec<String>,
    #[session(rotate_id)]
    user_id: Option<u64>,
    #[session(expires_in = "15m", sensitive)]
    csrf_token: Option<String>,
    #[session(default)]
    coupon: String,
}

fn snapshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name)
}

fn scratch_path(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("stored-layout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn panic_message(run: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(run)).expect_err("the assertion should fail");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| {
            payload
                .downcast_ref::<&str>()
                .map(|text| (*text).to_owned())
        })
        .unwrap_or_default()
}

#[test]
fn the_layout_lists_every_key_with_its_stored_shape() {
    let schema = Store::stored_schema().to_value();
    let properties = &schema["properties"];
    assert_eq!(schema["title"], "Store");
    assert_eq!(schema["type"], "object");
    assert_eq!(schema.get("required"), None, "every key may be absent");
    assert_eq!(
        properties.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "store.__version",
            "store.cart",
            "store.csrf_token",
            "store.user_id"
        ]
    );
    assert_eq!(properties["store.__version"]["const"], 2);
    assert_eq!(properties["store.cart"]["type"], "array");
    assert_eq!(properties["store.cart"]["items"]["$ref"], "#/$defs/Line");
    assert_eq!(
        schema["$defs"]["Line"]["required"],
        json!(["sku", "quantity"])
    );
    let token = &properties["store.csrf_token"];
    assert_eq!(token["required"], json!(["exp", "v"]));
    assert_eq!(token["properties"]["exp"]["type"], "integer");
    assert_eq!(token["properties"]["v"]["type"], "string");
    assert_eq!(token["additionalProperties"], false);
    assert!(
        properties["store.user_id"]["x-session-field"]
            .as_str()
            .unwrap()
            .contains("cycles the session id")
    );
}

// ANCHOR: snapshot
#[test]
fn the_stored_layout_matches_the_committed_snapshot() {
    assert_schema_snapshot::<Store>(snapshot_path("store.schema.json"));
}
// ANCHOR_END: snapshot

#[test]
fn a_layout_change_without_a_version_bump_fails_naming_the_keys() {
    let path = scratch_path("retyped.schema.json");
    let _ = std::fs::remove_file(&path);
    let _ = catch_unwind(|| assert_schema_snapshot::<Store>(&path));
    let message = panic_message(|| assert_schema_snapshot::<StoreRetyped>(&path));
    assert!(
        message.contains("changed without a version bump (version 2)"),
        "{message}"
    );
    assert!(message.contains("`store.cart` (changed)"), "{message}");
    assert!(!message.contains("`store.user_id`"), "{message}");
    assert!(
        message.contains("bump `version` and add `migrate_from`"),
        "{message}"
    );
}

#[test]
fn a_layout_change_with_a_version_bump_asks_to_accept_the_snapshot() {
    let path = scratch_path("bumped.schema.json");
    let _ = std::fs::remove_file(&path);
    let _ = catch_unwind(|| assert_schema_snapshot::<Store>(&path));
    let message = panic_message(|| assert_schema_snapshot::<StoreV3>(&path));
    assert!(message.contains("changed from version 2 to 3"), "{message}");
    assert!(message.contains("`store.coupon` (added)"), "{message}");
    assert!(
        message.contains("SESSION_SCHEMA_SNAPSHOT=overwrite"),
        "{message}"
    );
}

/// `Store` with its fields documented and one marked `sensitive` differently.
#[derive(SessionSchema)]
#[session(namespace = "store", version = 2, json_schema)]
struct StoreReworded {
    /// The cart, now documented.
    #[session(default)]
    cart: Vec<Line>,
    #[session(rotate_id)]
    user_id: Option<u64>,
    #[session(expires_in = "15m")]
    csrf_token: Option<String>,
}

#[test]
fn documentation_changes_are_not_layout_changes() {
    assert_schema_snapshot::<StoreReworded>(snapshot_path("store.schema.json"));
}

#[test]
fn a_missing_snapshot_is_written_and_fails_once() {
    let path = scratch_path("new.schema.json");
    let _ = std::fs::remove_file(&path);
    let message = panic_message(|| assert_schema_snapshot::<Store>(&path));
    assert!(message.contains("review it and commit it"), "{message}");
    assert_schema_snapshot::<Store>(&path);
}
