//! String storage for auth SDKs: items by key in one namespace, next to typed
//! schemas, over the in-memory session and over a real tower-sessions one.

use std::sync::Arc;

use serde_json::json;
use session_core::{MemorySession, RawSession, SessionError, SessionSchema, StringStorage};
use tower_sessions::{MemoryStore, Session, SessionStore};

#[derive(SessionSchema)]
#[session(namespace = "auth")]
struct Auth {
    #[session(rotate_id)]
    user_id: Option<u64>,
    #[session(sensitive)]
    id_token: Option<String>,
}

fn storage(session: &MemorySession) -> StringStorage<MemorySession> {
    StringStorage::new(session.clone(), "sdk").expect("a valid namespace")
}

#[tokio::test]
async fn items_round_trip_under_namespaced_keys() {
    let session = MemorySession::new();
    let storage = storage(&session);
    assert_eq!(storage.get_item("idToken").await.unwrap(), None);

    storage.set_item("idToken", "token-1").await.unwrap();
    storage
        .set_item("signInSession", String::from("{\"state\":\"abc\"}"))
        .await
        .unwrap();
    assert_eq!(
        storage.get_item("idToken").await.unwrap().as_deref(),
        Some("token-1")
    );
    assert_eq!(session.keys(), ["sdk.idToken", "sdk.signInSession"]);
    assert_eq!(
        session.get_value("sdk.signInSession").await.unwrap(),
        Some(json!("{\"state\":\"abc\"}")),
        "stored as a plain JSON string"
    );

    storage.set_item("idToken", "token-2").await.unwrap();
    assert_eq!(
        storage.get_item("idToken").await.unwrap().as_deref(),
        Some("token-2"),
        "a set replaces the item"
    );
    storage.remove_item("idToken").await.unwrap();
    storage.remove_item("idToken").await.unwrap();
    assert_eq!(storage.get_item("idToken").await.unwrap(), None);
    assert_eq!(session.keys(), ["sdk.signInSession"]);
}

#[tokio::test]
async fn keys_may_contain_dots_and_empty_values_are_values() {
    let session = MemorySession::new();
    let storage = storage(&session);
    storage.set_item("a.b", "").await.unwrap();
    assert_eq!(storage.get_item("a.b").await.unwrap().as_deref(), Some(""));
    assert_eq!(session.keys(), ["sdk.a.b"]);
    assert_eq!(storage.storage_key("a.b").unwrap(), "sdk.a.b");
}

#[test]
fn a_bad_namespace_is_refused_with_its_name() {
    for (namespace, expected) in [
        (
            "",
            r#""" cannot be used in string storage: a namespace must not be empty"#,
        ),
        (
            "logto.sdk",
            r#""logto.sdk" cannot be used in string storage: a namespace must not contain `.`"#,
        ),
    ] {
        let error = StringStorage::new(MemorySession::new(), namespace).unwrap_err();
        assert!(
            matches!(&error, SessionError::InvalidStringKey { key, .. } if key == namespace),
            "{error:?}"
        );
        assert!(error.to_string().starts_with(expected), "{error}");
    }
}

#[tokio::test]
async fn an_empty_key_is_refused_by_every_method() {
    let session = MemorySession::new();
    let storage = storage(&session);
    let message = r#""" cannot be used in string storage: a key must not be empty"#;
    let errors = [
        storage.get_item("").await.unwrap_err(),
        storage.set_item("", "x").await.unwrap_err(),
        storage.remove_item("").await.unwrap_err(),
        storage.clear(["", "other"]).await.unwrap_err(),
    ];
    for error in errors {
        assert!(
            matches!(error, SessionError::InvalidStringKey { .. }),
            "{error:?}"
        );
        assert_eq!(error.to_string(), message);
    }
    assert!(session.is_empty(), "nothing was written");
}

#[tokio::test]
async fn a_value_that_is_not_a_string_is_an_error_naming_the_key_not_the_value() {
    let session = MemorySession::new();
    session
        .insert_value("sdk.idToken", json!({"secret": "s3cr3t"}))
        .await
        .unwrap();
    let error = storage(&session).get_item("idToken").await.unwrap_err();
    assert!(
        matches!(&error, SessionError::NotAString { key, found: "an object" } if key == "sdk.idToken"),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.starts_with("the session value under key `sdk.idToken` is an object, not a string"),
        "{message}"
    );
    assert!(!message.contains("s3cr3t"), "{message}");
    assert_eq!(
        session.keys(),
        ["sdk.idToken"],
        "the value is left in place"
    );
}

#[tokio::test]
async fn clear_removes_the_named_items_only() {
    let session = MemorySession::new();
    let storage = storage(&session);
    for key in ["idToken", "accessToken", "signInSession"] {
        storage.set_item(key, "x").await.unwrap();
    }
    storage
        .clear(["idToken", "signInSession", "neverSet"])
        .await
        .unwrap();
    assert_eq!(session.keys(), ["sdk.accessToken"]);
    storage.clear(Vec::<String>::new()).await.unwrap();
    assert_eq!(session.keys(), ["sdk.accessToken"]);
}

#[tokio::test]
async fn items_and_a_typed_schema_share_a_session_without_touching_each_other() {
    let session = MemorySession::new();
    let storage = StringStorage::new(session.clone(), "logto").unwrap();
    let auth = AuthSession::new(session.clone());

    auth.set_user_id(7).await.unwrap();
    auth.set_id_token("typed".into()).await.unwrap();
    storage.set_item("user_id", "sdk-user").await.unwrap();
    storage.set_item("id_token", "sdk-token").await.unwrap();

    assert_eq!(auth.user_id().await.unwrap(), Some(7));
    assert_eq!(auth.id_token().await.unwrap().as_deref(), Some("typed"));
    assert_eq!(
        storage.get_item("id_token").await.unwrap().as_deref(),
        Some("sdk-token")
    );
    auth.clear().await.unwrap();
    assert_eq!(session.keys(), ["logto.id_token", "logto.user_id"]);
    storage.clear(["user_id", "id_token"]).await.unwrap();
    assert!(session.is_empty());
}

#[tokio::test]
async fn items_persist_in_a_tower_sessions_store() {
    let store = Arc::new(MemoryStore::default());
    let session = Session::new(None, store.clone(), None);
    let storage = StringStorage::new(session.clone(), "sdk").unwrap();
    storage
        .set_item("redirectUri", "http://localhost/callback")
        .await
        .unwrap();
    session.save().await.unwrap();
    let id = session.id().expect("saving assigns an id");

    let record = store.load(&id).await.unwrap().expect("a stored record");
    assert_eq!(
        record.data.get("sdk.redirectUri"),
        Some(&json!("http://localhost/callback"))
    );
    let reloaded = Session::new(Some(id), store, None);
    let storage = StringStorage::new(reloaded, "sdk").unwrap();
    assert_eq!(
        storage.get_item("redirectUri").await.unwrap().as_deref(),
        Some("http://localhost/callback")
    );
}

#[test]
fn debug_shows_the_namespace_and_no_items() {
    let session = MemorySession::new();
    let storage = storage(&session);
    assert_eq!(
        format!("{storage:?}"),
        r#"StringStorage { namespace: "sdk", .. }"#
    );
    assert_eq!(storage.namespace(), "sdk");
}
