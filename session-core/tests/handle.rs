//! Every generated handle method over the in-memory untyped session.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;
use session_core::{MemorySession, RawSession, SessionError, SessionSchema};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Item {
    sku: String,
    quantity: u32,
}

fn tea() -> Item {
    Item {
        sku: "tea".into(),
        quantity: 2,
    }
}

// ANCHOR: schema
#[derive(SessionSchema, Clone, Debug, PartialEq)]
#[session(namespace = "shop")]
struct Shop {
    #[session(default)]
    cart: Vec<Item>,
    #[session(default = String::from("en"))]
    locale: String,
    #[session(rotate_id)]
    user_id: Option<u64>,
    #[session(key = "legacy_theme")]
    theme: Option<String>,
    #[session(default)]
    visits: u32,
}
// ANCHOR_END: schema

/// A second schema sharing the session, without a namespace.
#[derive(SessionSchema)]
struct Prefs {
    #[session(default)]
    dark_mode: bool,
}

// ANCHOR: policy
#[derive(SessionSchema)]
#[session(namespace = "lenient", on_decode_error = "reset")]
struct Lenient {
    #[session(default)]
    visits: u32,
    #[session(on_decode_error = "error")]
    strict: Option<u32>,
}
// ANCHOR_END: policy

// ANCHOR: generic
#[derive(SessionSchema)]
struct Wrapper<T> {
    item: Option<T>,
    #[session(default)]
    history: Vec<T>,
}
// ANCHOR_END: generic

#[derive(SessionSchema)]
#[session(handle = CartHandle)]
struct Unencodable {
    by_pair: Option<BTreeMap<Vec<u8>, u32>>,
}

fn run<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(future)
}

#[test]
fn schema_exposes_its_namespace_and_keys() {
    assert_eq!(Shop::NAMESPACE, Some("shop"));
    assert_eq!(
        Shop::KEYS,
        [
            "shop.cart",
            "shop.locale",
            "shop.user_id",
            "legacy_theme",
            "shop.visits"
        ]
    );
    assert_eq!(Prefs::NAMESPACE, None);
    assert_eq!(Prefs::KEYS, ["dark_mode"]);
}

#[test]
fn absent_fields_read_as_their_defaults_or_none() {
    run(async {
        let shop = ShopSession::new(MemorySession::new());
        assert_eq!(shop.cart().await.unwrap(), Vec::<Item>::new());
        assert_eq!(shop.locale().await.unwrap(), "en");
        assert_eq!(shop.user_id().await.unwrap(), None);
        assert_eq!(shop.visits().await.unwrap(), 0);
        assert!(shop.raw().is_empty(), "reading must not write defaults");
    });
}

#[test]
fn set_stores_the_plain_serde_value_under_the_namespaced_key() {
    run(async {
        let raw = MemorySession::new();
        let shop = ShopSession::new(raw.clone());
        shop.set_cart(vec![tea()]).await.unwrap();
        shop.set_locale("fr".into()).await.unwrap();
        shop.set_theme("dark".into()).await.unwrap();

        assert_eq!(shop.cart().await.unwrap(), vec![tea()]);
        assert_eq!(shop.locale().await.unwrap(), "fr");
        assert_eq!(shop.theme().await.unwrap().as_deref(), Some("dark"));
        let stored = raw.snapshot();
        assert_eq!(stored["shop.cart"], json!([{"sku": "tea", "quantity": 2}]));
        assert_eq!(stored["shop.locale"], json!("fr"));
        assert_eq!(stored["legacy_theme"], json!("dark"));
    });
}

#[test]
fn a_schema_reads_data_written_with_the_raw_api() {
    run(async {
        let raw = MemorySession::new();
        raw.insert_value("legacy_theme", json!("solarized"))
            .await
            .unwrap();
        raw.insert_value("shop.visits", json!(41)).await.unwrap();
        let shop = ShopSession::new(raw);
        assert_eq!(shop.theme().await.unwrap().as_deref(), Some("solarized"));
        assert_eq!(shop.visits().await.unwrap(), 41);
    });
}

#[test]
fn update_changes_in_place_and_returns_the_closure_result() {
    run(async {
        let shop = ShopSession::new(MemorySession::new());
        let len = shop
            .update_cart(|cart| {
                cart.push(tea());
                cart.push(tea());
                cart.len()
            })
            .await
            .unwrap();
        assert_eq!(len, 2);
        assert_eq!(shop.cart().await.unwrap().len(), 2);
        assert_eq!(
            shop.update_visits(|n| {
                *n += 1;
                *n
            })
            .await
            .unwrap(),
            1
        );
        assert_eq!(
            shop.update_visits(|n| {
                *n += 1;
                *n
            })
            .await
            .unwrap(),
            2
        );
    });
}

#[test]
fn update_of_an_option_field_sees_none_and_leaving_none_removes_it() {
    run(async {
        let raw = MemorySession::new();
        let shop = ShopSession::new(raw.clone());
        let was = shop
            .update_theme(|theme| theme.replace("dark".into()))
            .await
            .unwrap();
        assert_eq!(was, None);
        assert_eq!(shop.theme().await.unwrap().as_deref(), Some("dark"));
        shop.update_theme(|theme| *theme = None).await.unwrap();
        assert_eq!(shop.theme().await.unwrap(), None);
        assert!(!raw.keys().contains(&"legacy_theme".to_owned()));
    });
}

#[test]
fn remove_deletes_the_key_and_the_default_reads_again() {
    run(async {
        let raw = MemorySession::new();
        let shop = ShopSession::new(raw.clone());
        shop.set_locale("de".into()).await.unwrap();
        shop.remove_locale().await.unwrap();
        assert_eq!(shop.locale().await.unwrap(), "en");
        assert!(raw.is_empty());
        shop.remove_theme().await.unwrap();
    });
}

#[test]
fn clear_removes_this_schemas_keys_only() {
    run(async {
        let raw = MemorySession::new();
        let shop = ShopSession::new(raw.clone());
        let prefs = PrefsSession::new(raw.clone());
        raw.insert_value("unrelated", json!(1)).await.unwrap();
        shop.set_cart(vec![tea()]).await.unwrap();
        shop.set_theme("dark".into()).await.unwrap();
        prefs.set_dark_mode(true).await.unwrap();

        shop.clear().await.unwrap();

        assert_eq!(raw.keys(), ["dark_mode", "unrelated"]);
        assert!(prefs.dark_mode().await.unwrap());
        assert_eq!(shop.cart().await.unwrap(), Vec::<Item>::new());
    });
}

#[test]
fn load_and_save_round_trip_the_whole_struct() {
    run(async {
        let raw = MemorySession::new();
        let shop = ShopSession::new(raw.clone());
        let loaded = shop.load().await.unwrap();
        assert_eq!(
            loaded,
            Shop {
                cart: vec![],
                locale: "en".into(),
                user_id: None,
                theme: None,
                visits: 0
            }
        );

        let changed = Shop {
            cart: vec![tea()],
            locale: "fr".into(),
            user_id: Some(7),
            theme: Some("dark".into()),
            visits: 3,
        };
        shop.save(&changed).await.unwrap();
        assert_eq!(shop.load().await.unwrap(), changed);
        assert_eq!(ShopSession::new(raw.clone()).load().await.unwrap(), changed);

        let without_theme = Shop {
            theme: None,
            ..changed
        };
        shop.save(&without_theme).await.unwrap();
        assert!(
            !raw.keys().contains(&"legacy_theme".to_owned()),
            "a None is removed"
        );
        assert_eq!(shop.load().await.unwrap(), without_theme);
    });
}

#[test]
fn rotate_id_fields_cycle_the_id_whenever_their_stored_value_changes() {
    run(async {
        let raw = MemorySession::new();
        let shop = ShopSession::new(raw.clone());
        shop.set_cart(vec![tea()]).await.unwrap();
        assert_eq!(raw.id_generation(), 0, "other fields never cycle");

        shop.set_user_id(7).await.unwrap();
        assert_eq!(raw.id_generation(), 1, "login cycles");
        shop.set_user_id(7).await.unwrap();
        assert_eq!(
            raw.id_generation(),
            1,
            "the same value is no privilege change"
        );
        shop.update_user_id(|id| *id = Some(8)).await.unwrap();
        assert_eq!(raw.id_generation(), 2, "update that changes it cycles");
        shop.remove_user_id().await.unwrap();
        assert_eq!(raw.id_generation(), 3, "logout cycles");
        shop.remove_user_id().await.unwrap();
        assert_eq!(raw.id_generation(), 3, "removing nothing changes nothing");

        let mut whole = shop.load().await.unwrap();
        shop.save(&whole).await.unwrap();
        assert_eq!(
            raw.id_generation(),
            3,
            "saving unchanged data does not cycle"
        );
        whole.user_id = Some(9);
        whole.visits = 1;
        shop.save(&whole).await.unwrap();
        assert_eq!(
            raw.id_generation(),
            4,
            "save cycles once when the user changes"
        );
        shop.clear().await.unwrap();
        assert_eq!(
            raw.id_generation(),
            5,
            "clear removes the user and cycles once"
        );
        assert_eq!(raw.snapshot().get("shop.cart"), None);
    });
}

/// A login form's schema: the token known before the login must not outlive
/// the pre-login id.
#[derive(SessionSchema, Clone, Debug, PartialEq)]
#[session(namespace = "login")]
struct Login {
    #[session(rotate_id)]
    user_id: Option<u64>,
    #[session(clear_on_rotate, sensitive)]
    csrf_token: Option<String>,
    #[session(default)]
    visits: u32,
}

#[test]
fn clear_on_rotate_fields_are_removed_whenever_the_id_cycles() {
    run(async {
        let raw = MemorySession::new();
        let login = LoginSession::new(raw.clone());
        let token = || Some("pre-login token".to_owned());
        login
            .set_csrf_token("pre-login token".to_owned())
            .await
            .unwrap();
        login.set_visits(3).await.unwrap();

        login.set_user_id(7).await.unwrap();
        assert_eq!(raw.id_generation(), 1);
        assert_eq!(login.csrf_token().await.unwrap(), None, "a login clears it");
        assert_eq!(login.visits().await.unwrap(), 3, "other fields stay");

        login.set_csrf_token("fresh".to_owned()).await.unwrap();
        login.set_user_id(7).await.unwrap();
        assert_eq!(
            login.csrf_token().await.unwrap().as_deref(),
            Some("fresh"),
            "no new id, nothing cleared"
        );
        login.remove_user_id().await.unwrap();
        assert_eq!(
            login.csrf_token().await.unwrap(),
            None,
            "a logout clears it"
        );

        login.set_csrf_token("again".to_owned()).await.unwrap();
        login.cycle_id().await.unwrap();
        assert_eq!(
            login.csrf_token().await.unwrap(),
            None,
            "so does cycle_id()"
        );

        let whole = Login {
            user_id: Some(8),
            csrf_token: token(),
            visits: 4,
        };
        login.save(&whole).await.unwrap();
        assert_eq!(
            login.load().await.unwrap(),
            Login {
                csrf_token: None,
                ..whole.clone()
            },
            "a save that rotates clears it after writing"
        );
        login.set_csrf_token("kept".to_owned()).await.unwrap();
        login
            .save(&Login {
                csrf_token: Some("kept".to_owned()),
                ..whole
            })
            .await
            .unwrap();
        assert_eq!(
            login.csrf_token().await.unwrap().as_deref(),
            Some("kept"),
            "a save without a rotation keeps it"
        );
    });
}

#[test]
fn a_value_that_no_longer_decodes_names_the_key_and_the_type() {
    run(async {
        let raw = MemorySession::new();
        raw.insert_value("shop.visits", json!("many"))
            .await
            .unwrap();
        let shop = ShopSession::new(raw.clone());
        let error = shop.visits().await.unwrap_err();
        match &error {
            SessionError::Decode { key, rust_type, .. } => {
                assert_eq!(*key, "shop.visits");
                assert_eq!(*rust_type, "u32");
            }
            other => panic!("expected a decode error, got {other:?}"),
        }
        let message = error.to_string();
        assert!(
            message.contains("`shop.visits`") && message.contains("`u32`"),
            "{message}"
        );
        assert_eq!(
            raw.snapshot()["shop.visits"],
            json!("many"),
            "an error leaves the data alone"
        );
        assert!(shop.load().await.is_err(), "load reports it too");
        assert!(
            shop.update_visits(|n| *n += 1).await.is_err(),
            "update does not overwrite it"
        );
        assert_eq!(raw.snapshot()["shop.visits"], json!("many"));

        raw.insert_value("shop.cart", json!([{"sku": 5}]))
            .await
            .unwrap();
        let message = shop.cart().await.unwrap_err().to_string();
        assert!(
            message.contains("`shop.cart`") && message.contains("`Vec<Item>`"),
            "{message}"
        );
    });
}

#[test]
fn save_overwrites_a_value_that_no_longer_decodes() {
    run(async {
        let raw = MemorySession::new();
        raw.insert_value("shop.visits", json!("many"))
            .await
            .unwrap();
        let shop = ShopSession::new(raw.clone());
        shop.set_visits(1).await.unwrap();
        assert_eq!(shop.visits().await.unwrap(), 1);
    });
}

#[test]
fn reset_policy_removes_a_bad_value_and_reads_the_default() {
    run(async {
        let raw = MemorySession::new();
        raw.insert_value("lenient.visits", json!("many"))
            .await
            .unwrap();
        raw.insert_value("lenient.strict", json!("many"))
            .await
            .unwrap();
        let lenient = LenientSession::new(raw.clone());
        assert_eq!(lenient.visits().await.unwrap(), 0);
        assert_eq!(raw.keys(), ["lenient.strict"], "the bad value is gone");
        assert!(
            matches!(
                lenient.strict().await,
                Err(SessionError::Decode {
                    key: "lenient.strict",
                    ..
                })
            ),
            "a field-level policy overrides the struct's"
        );
    });
}

#[test]
fn a_value_without_a_json_form_is_an_encode_error_at_set() {
    run(async {
        let raw = MemorySession::new();
        let handle = CartHandle::new(raw.clone());
        let value = BTreeMap::from([(vec![1u8, 2], 3u32)]);
        let error = handle.set_by_pair(value).await.unwrap_err();
        assert!(
            matches!(error, SessionError::Encode { key: "by_pair", .. }),
            "{error:?}"
        );
        assert!(raw.is_empty());
    });
}

#[test]
fn generic_schemas_work_with_concrete_types() {
    run(async {
        let wrapper: WrapperSession<Item, _> = WrapperSession::new(MemorySession::new());
        wrapper.set_item(tea()).await.unwrap();
        wrapper
            .update_history(|history| history.push(tea()))
            .await
            .unwrap();
        let loaded: Wrapper<Item> = wrapper.load().await.unwrap();
        assert_eq!(loaded.item, Some(tea()));
        assert_eq!(loaded.history, vec![tea()]);
    });
}

#[test]
fn handles_are_clones_of_one_session_and_debug_shows_no_values() {
    run(async {
        let shop = ShopSession::new(MemorySession::new());
        let other = shop.clone();
        shop.set_theme("secret-ish".into()).await.unwrap();
        assert_eq!(other.theme().await.unwrap().as_deref(), Some("secret-ish"));
        let debug = format!("{shop:?} {:?}", shop.raw());
        assert!(debug.contains("ShopSession"), "{debug}");
        assert!(!debug.contains("secret-ish"), "{debug}");
    });
}

#[test]
fn flush_deletes_every_schemas_data() {
    run(async {
        let raw = MemorySession::new();
        let shop = ShopSession::new(raw.clone());
        PrefsSession::new(raw.clone())
            .set_dark_mode(true)
            .await
            .unwrap();
        shop.set_visits(3).await.unwrap();
        let before = shop.id();
        shop.flush().await.unwrap();
        assert!(raw.is_empty());
        assert_ne!(shop.id(), before);
    });
}

/// Anything the app stores as free-form JSON.
#[derive(SessionSchema)]
#[session(namespace = "free")]
struct FreeForm {
    doc: Option<serde_json::Value>,
}

fn nested(depth: usize) -> serde_json::Value {
    (0..depth).fold(json!("leaf"), |inner, _| json!([inner]))
}

#[tokio::test]
async fn a_value_too_deep_to_read_back_is_refused_at_set() {
    let deep = nested(200);
    #[cfg(feature = "layer")]
    {
        let free = FreeFormSession::new(session_core::layer::LayerSession::detached(
            session_core::cas::Data::default(),
        ));
        let error = free.set_doc(deep.clone()).await.expect_err("refused");
        assert!(
            matches!(
                &error,
                SessionError::Encode {
                    key: "free.doc",
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("deeper than 127"), "{error}");
        assert_eq!(
            free.doc().await.expect("still readable"),
            None,
            "nothing stored"
        );
        free.set_doc(nested(100))
            .await
            .expect("a readable depth is stored");
        assert_eq!(free.doc().await.expect("reads back"), Some(nested(100)));
    }
    let memory = FreeFormSession::new(MemorySession::new());
    let error = memory
        .set_doc(deep)
        .await
        .expect_err("refused on a tree store too");
    assert!(
        matches!(
            error,
            SessionError::Encode {
                key: "free.doc",
                ..
            }
        ),
        "{error:?}"
    );
}

#[cfg(feature = "layer")]
#[tokio::test]
async fn debug_shows_a_fingerprint_never_the_session_id() {
    let raw = session_core::layer::LayerSession::detached(session_core::cas::Data::default());
    let id = raw.id().expect("a loaded session has an id");
    let handle = ShopSession::new(raw);
    let debug = format!("{handle:?}");
    assert!(!debug.contains(&id), "{debug} shows the id {id}");
    assert!(debug.contains("session: #"), "{debug}");
    let memory = ShopSession::new(MemorySession::new());
    assert!(!format!("{memory:?}").contains("\"0\""));
}
