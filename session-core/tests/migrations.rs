//! Versioned schemas: data written by older versions loads into the current
//! one, lazily and once; failures leave the stored data untouched.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use session_core::{Clock, ManualClock, MemorySession, RawSession, SessionError, SessionSchema};

// ANCHOR: v1
/// Version 1, as the first release stored it: a cart of SKUs and a user name.
#[derive(SessionSchema, Clone, Debug, PartialEq)]
#[session(namespace = "shop", version = 1)]
pub struct ShopV1 {
    #[session(default)]
    pub cart: Vec<String>,
    pub user: Option<String>,
    #[session(expires_in = "15m")]
    pub csrf_token: Option<String>,
}
// ANCHOR_END: v1

// ANCHOR: v2
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CartLine {
    pub sku: String,
    pub quantity: u32,
}

/// Version 2 counts quantities instead of repeating SKUs.
#[derive(SessionSchema, Clone, Debug, PartialEq)]
#[session(namespace = "shop", version = 2, migrate_from = ShopV1)]
pub struct ShopV2 {
    #[session(default)]
    pub cart: Vec<CartLine>,
    pub user: Option<String>,
    #[session(expires_in = "15m")]
    pub csrf_token: Option<String>,
}

impl From<ShopV1> for ShopV2 {
    fn from(v1: ShopV1) -> Self {
        let mut cart: Vec<CartLine> = Vec::new();
        for sku in v1.cart {
            match cart.iter_mut().find(|line| line.sku == sku) {
                Some(line) => line.quantity += 1,
                None => cart.push(CartLine { sku, quantity: 1 }),
            }
        }
        ShopV2 {
            cart,
            user: v1.user,
            csrf_token: v1.csrf_token,
        }
    }
}
// ANCHOR_END: v2

// ANCHOR: v3
/// Version 3 keys the login by numeric id and adds a locale.
#[derive(SessionSchema, Clone, Debug, PartialEq)]
#[session(namespace = "shop", version = 3, migrate_from = ShopV2)]
pub struct Shop {
    #[session(default)]
    pub cart: Vec<CartLine>,
    #[session(rotate_id)]
    pub user_id: Option<u64>,
    #[session(default = String::from("en"))]
    pub locale: String,
    #[session(expires_in = "15m")]
    pub csrf_token: Option<String>,
}

/// User names were `u<digits>`; anything else cannot become an id.
impl TryFrom<ShopV2> for Shop {
    type Error = String;

    fn try_from(v2: ShopV2) -> Result<Self, Self::Error> {
        let user_id = match v2.user {
            Some(name) => Some(
                name.strip_prefix('u')
                    .and_then(|digits| digits.parse().ok())
                    .ok_or_else(|| format!("user name `{name}` is not of the form u<digits>"))?,
            ),
            None => None,
        };
        Ok(Shop {
            cart: v2.cart,
            user_id,
            locale: "en".into(),
            csrf_token: v2.csrf_token,
        })
    }
}
// ANCHOR_END: v3

const NOW: i64 = 1_700_000_000;

fn run<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(future)
}

async fn session_with(records: &Value) -> MemorySession {
    let raw = MemorySession::new();
    for (key, value) in records.as_object().expect("a fixture is an object") {
        raw.insert_value(key, value.clone()).await.unwrap();
    }
    raw
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("fixture JSON")
}

fn handle(raw: &MemorySession) -> ShopSession<MemorySession> {
    ShopSession::with_clock(raw.clone(), Clock::from(ManualClock::starting_at_unix(NOW)))
}

fn as_value(map: BTreeMap<String, Value>) -> Value {
    Value::Object(map.into_iter().collect())
}

fn tea_and_cake() -> Vec<CartLine> {
    vec![
        CartLine {
            sku: "tea".into(),
            quantity: 2,
        },
        CartLine {
            sku: "cake".into(),
            quantity: 1,
        },
    ]
}

#[test]
fn versioned_schemas_own_a_reserved_version_key() {
    assert_eq!(
        Shop::KEYS,
        [
            "shop.cart",
            "shop.user_id",
            "shop.locale",
            "shop.csrf_token",
            "shop.__version"
        ]
    );
    let version = Shop::VERSION.expect("versioned");
    assert_eq!((version.number, version.key), (3, "shop.__version"));
}

#[test]
fn a_fresh_session_needs_no_migration_and_its_first_write_stamps_the_version() {
    run(async {
        let raw = MemorySession::new();
        let shop = handle(&raw);
        assert_eq!(shop.locale().await.unwrap(), "en");
        assert!(raw.is_empty(), "reading a fresh session writes nothing");
        shop.set_locale("fr".into()).await.unwrap();
        assert_eq!(
            as_value(raw.snapshot()),
            json!({"shop.__version": 3, "shop.locale": "fr"})
        );
    });
}

// ANCHOR: golden
#[test]
fn version_1_data_without_a_version_key_migrates_to_version_3_once() {
    run(async {
        let raw = session_with(&fixture("shop-v1.json")).await;
        let shop = handle(&raw);
        let loaded = shop.load().await.unwrap();
        assert_eq!(
            loaded,
            Shop {
                cart: tea_and_cake(),
                user_id: Some(42),
                locale: "en".into(),
                csrf_token: Some("token-v1".into()),
            }
        );
        assert_eq!(
            as_value(raw.snapshot()),
            json!({
                "shop.__version": 3,
                "shop.cart": [{"sku": "tea", "quantity": 2}, {"sku": "cake", "quantity": 1}],
                "shop.user_id": 42,
                "shop.locale": "en",
                "shop.csrf_token": {"exp": 1_700_000_900, "v": "token-v1"},
            }),
            "written back under the new keys, the old `shop.user` removed, the deadline kept"
        );
        assert_eq!(raw.id_generation(), 0, "a migration is no privilege change");
    });
}
// ANCHOR_END: golden

#[test]
fn version_2_data_migrates_to_version_3() {
    run(async {
        let raw = session_with(&fixture("shop-v2.json")).await;
        let shop = handle(&raw);
        assert_eq!(shop.user_id().await.unwrap(), Some(42));
        assert_eq!(shop.cart().await.unwrap(), tea_and_cake());
        assert_eq!(
            shop.csrf_token().await.unwrap().as_deref(),
            Some("token-v2")
        );
        assert_eq!(raw.snapshot()["shop.__version"], json!(3));
        assert!(!raw.keys().contains(&"shop.user".to_owned()));
    });
}

#[test]
fn migrating_the_same_data_twice_gives_the_same_result() {
    run(async {
        let first = session_with(&fixture("shop-v1.json")).await;
        let second = session_with(&fixture("shop-v1.json")).await;
        handle(&first).load().await.unwrap();
        handle(&second).cart().await.unwrap();
        handle(&second).load().await.unwrap();
        assert_eq!(first.snapshot(), second.snapshot());
        let again = handle(&first);
        again.load().await.unwrap();
        assert_eq!(
            first.snapshot(),
            second.snapshot(),
            "current data is not migrated again"
        );
    });
}

#[test]
fn a_failed_conversion_is_a_migration_error_and_leaves_the_data_untouched() {
    run(async {
        let records = json!({"shop.cart": ["tea"], "shop.user": "bob"});
        let raw = session_with(&records).await;
        let shop = handle(&raw);
        let error = shop.cart().await.unwrap_err();
        match &error {
            SessionError::Migration {
                namespace,
                from,
                to,
                cause,
            } => {
                assert_eq!((*namespace, *from, *to), ("shop", 1, 3));
                assert!(
                    matches!(&**cause, SessionError::Conversion { from: 2, to: 3, reason } if reason.contains("`bob`")),
                    "{cause:?}"
                );
            }
            other => panic!("expected a migration error, got {other:?}"),
        }
        assert!(error.to_string().contains("left untouched"), "{error}");
        assert_eq!(as_value(raw.snapshot()), records);
        assert!(
            shop.set_locale("fr".into()).await.is_err(),
            "writes are refused too"
        );
        assert_eq!(as_value(raw.snapshot()), records);
    });
}

#[test]
fn an_old_value_that_does_not_decode_is_a_migration_error_naming_the_key() {
    run(async {
        let records = json!({"shop.__version": 2, "shop.cart": "not a list"});
        let raw = session_with(&records).await;
        let error = handle(&raw).load().await.unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("from version 2 to 3") && message.contains("`shop.cart`"),
            "{message}"
        );
        assert_eq!(as_value(raw.snapshot()), records);
    });
}

#[test]
fn a_version_newer_than_the_code_is_refused_and_never_overwritten() {
    run(async {
        let records = json!({"shop.__version": 4, "shop.cart": [], "shop.wishlist": ["x"]});
        let raw = session_with(&records).await;
        let shop = handle(&raw);
        let error = shop.load().await.unwrap_err();
        assert!(
            matches!(
                error,
                SessionError::UnknownVersion {
                    namespace: "shop",
                    stored: 4,
                    oldest: 1,
                    current: 3
                }
            ),
            "{error:?}"
        );
        assert!(shop.set_cart(vec![]).await.is_err());
        assert!(shop.clear().await.is_err());
        assert_eq!(as_value(raw.snapshot()), records);
    });
}

#[test]
fn a_version_key_that_is_not_a_number_names_the_key() {
    run(async {
        let raw = session_with(&json!({"shop.__version": "three"})).await;
        let error = handle(&raw).locale().await.unwrap_err();
        assert!(
            matches!(
                error,
                SessionError::Decode {
                    key: "shop.__version",
                    ..
                }
            ),
            "{error:?}"
        );
        let raw = session_with(&json!({"shop.__version": 0})).await;
        let error = handle(&raw).locale().await.unwrap_err();
        assert!(
            matches!(error, SessionError::UnknownVersion { stored: 0, .. }),
            "{error:?}"
        );
    });
}

#[test]
fn an_older_handle_reads_its_own_version_and_stamps_it() {
    run(async {
        let raw = MemorySession::new();
        let v2 = ShopV2Session::new(raw.clone());
        v2.set_user("u7".into()).await.unwrap();
        assert_eq!(raw.snapshot()["shop.__version"], json!(2));
        assert_eq!(handle(&raw).user_id().await.unwrap(), Some(7));
    });
}

#[test]
fn clear_removes_the_version_key_too() {
    run(async {
        let raw = session_with(&fixture("shop-v2.json")).await;
        let shop = handle(&raw);
        shop.clear().await.unwrap();
        assert!(raw.is_empty(), "{:?}", raw.keys());
    });
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn line() -> impl Strategy<Value = CartLine> {
        ("[a-z]{1,6}", 1u32..5).prop_map(|(sku, quantity)| CartLine { sku, quantity })
    }

    fn shop() -> impl Strategy<Value = Shop> {
        (
            proptest::collection::vec(line(), 0..4),
            proptest::option::of(any::<u64>()),
            "[a-z]{2}",
            proptest::option::of("[ -~]{0,12}"),
        )
            .prop_map(|(cart, user_id, locale, csrf_token)| Shop {
                cart,
                user_id,
                locale,
                csrf_token,
            })
    }

    fn shop_v1() -> impl Strategy<Value = ShopV1> {
        (
            proptest::collection::vec("tea|cake|jam", 0..6),
            proptest::option::of(any::<u32>().prop_map(|id| format!("u{id}"))),
            proptest::option::of("[a-z0-9]{8}"),
        )
            .prop_map(|(cart, user, csrf_token)| ShopV1 {
                cart,
                user,
                csrf_token,
            })
    }

    /// Any JSON value, nested a few levels.
    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "[ -~]{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map("[a-z]{0,4}|exp|v|sku|quantity", inner, 0..4)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn save_then_load_is_the_identity(value in shop()) {
            let loaded = run(async {
                let shop = handle(&MemorySession::new());
                shop.save(&value).await.unwrap();
                shop.load().await.unwrap()
            });
            prop_assert_eq!(loaded, value);
        }

        #[test]
        fn migrating_v1_equals_converting_it_directly(v1 in shop_v1(), stamped in any::<bool>()) {
            let expected = Shop::try_from(ShopV2::from(v1.clone())).unwrap();
            let loaded = run(async {
                let raw = MemorySession::new();
                let old = ShopV1Session::with_clock(raw.clone(), Clock::from(ManualClock::starting_at_unix(NOW)));
                old.save(&v1).await.unwrap();
                if !stamped {
                    // Data written before the schema had a version.
                    raw.remove("shop.__version").await.unwrap();
                }
                handle(&raw).load().await.unwrap()
            });
            prop_assert_eq!(loaded, expected);
        }

        #[test]
        fn arbitrary_stored_json_is_an_error_or_a_value_never_a_panic(
            values in proptest::collection::vec(json(), 6),
            version in proptest::option::of(prop_oneof![Just(json!(1)), Just(json!(2)), Just(json!(3)), json()]),
        ) {
            run(async {
                let raw = MemorySession::new();
                let keys = ["shop.cart", "shop.user", "shop.user_id", "shop.locale", "shop.csrf_token", "shop.wishlist"];
                for (key, value) in keys.iter().zip(&values) {
                    raw.insert_value(key, value.clone()).await.unwrap();
                }
                if let Some(version) = &version {
                    raw.insert_value("shop.__version", version.clone()).await.unwrap();
                }
                let before = raw.snapshot();
                let shop = handle(&raw);
                if shop.load().await.is_err() {
                    assert_eq!(raw.snapshot(), before, "a failed load leaves the data untouched");
                }
                let _ = shop.cart().await;
                let _ = shop.user_id().await;
                let _ = shop.csrf_token_expires_at().await;
                let _ = shop.set_locale("fr".into()).await;
                let _ = shop.update_cart(Vec::clear).await;
            });
        }
    }
}
