use serde::{Deserialize, Serialize};
use session_core::{MemorySession, SessionError, SessionSchema};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Item {
    sku: String,
}

#[derive(SessionSchema)]
#[session(namespace = "shop", version = 2, migrate_from = ShopV1, handle = Store, debug, on_decode_error = "reset")]
pub struct Shop {
    #[session(default)]
    cart: Vec<Item>,
    #[session(default = String::from("en"))]
    locale: String,
    #[session(key = "legacy_theme", on_decode_error = "error")]
    theme: Option<String>,
    #[session(rotate_id)]
    user_id: Option<u64>,
    #[session(expires_in = "1h30m", sensitive)]
    csrf_token: Option<String>,
    #[session(flash)]
    notice: Option<String>,
    #[session(flash, expires_in = "10s")]
    alerts: Vec<String>,
}

#[derive(SessionSchema)]
#[session(namespace = "shop", version = 1)]
pub struct ShopV1 {
    #[session(default)]
    cart: Vec<Item>,
}

impl From<ShopV1> for Shop {
    fn from(v1: ShopV1) -> Self {
        Shop {
            cart: v1.cart,
            locale: "en".into(),
            theme: None,
            user_id: None,
            csrf_token: None,
            notice: None,
            alerts: Vec::new(),
        }
    }
}

#[allow(dead_code)]
async fn every_method(shop: Store<MemorySession>) -> Result<(), SessionError> {
    let _: Vec<Item> = shop.cart().await?;
    shop.set_cart(Vec::new()).await?;
    let _: usize = shop.update_cart(|cart| cart.len()).await?;
    shop.remove_cart().await?;
    let _: String = shop.locale().await?;
    let _: Option<String> = shop.theme().await?;
    shop.set_theme("dark".into()).await?;
    shop.update_theme(|theme| *theme = None).await?;
    shop.set_user_id(7).await?;
    shop.remove_user_id().await?;
    let _ = shop.csrf_token_expires_at().await?;
    shop.set_notice("hi".into()).await?;
    let _: Option<String> = shop.take_notice().await?;
    shop.push_alerts("a".into()).await?;
    let _: Vec<String> = shop.take_alerts().await?;
    let _ = shop.alerts_expires_at().await?;
    let whole: Shop = shop.load().await?;
    shop.save(&whole).await?;
    shop.clear().await?;
    shop.cycle_id().await?;
    let _: Option<String> = shop.id();
    let _: &MemorySession = shop.raw();
    let _ = shop.clock();
    shop.flush().await?;
    let _ = format!("{whole:?} {shop:?}");
    Ok(())
}

/// The default untyped session is tower-sessions' `Session`.
#[allow(dead_code)]
fn defaults_to_tower_sessions(shop: Store) -> Store<session_core::__private::DefaultRaw> {
    shop
}


fn main() {}
