//! Every attribute at once, and every method it generates, called with the
//! types the guide promises.

use axum_core::extract::FromRequestParts;
use serde::{Deserialize, Serialize};
use session_core::time::OffsetDateTime;
use session_core::{Clock, MemorySession, SessionError, SessionSchema};

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
async fn every_method(raw: MemorySession) -> Result<(), SessionError> {
    let shop: Store<MemorySession> = Store::new(raw.clone());
    let shop = Store::with_clock(shop.raw().clone(), shop.clock().clone());

    let _: Vec<Item> = shop.cart().await?;
    shop.set_cart(Vec::new()).await?;
    let _: usize = shop.update_cart(|cart| cart.len()).await?;
    shop.remove_cart().await?;

    let _: String = shop.locale().await?;
    shop.set_locale("fr".into()).await?;
    shop.update_locale(|locale| locale.push_str("-CA")).await?;
    shop.remove_locale().await?;

    let _: Option<String> = shop.theme().await?;
    shop.set_theme("dark".into()).await?;
    let _: bool = shop.update_theme(|theme| theme.take().is_some()).await?;
    shop.remove_theme().await?;

    let _: Option<u64> = shop.user_id().await?;
    shop.set_user_id(7).await?;
    shop.update_user_id(|user_id| *user_id = Some(8)).await?;
    shop.remove_user_id().await?;

    let _: Option<String> = shop.csrf_token().await?;
    shop.set_csrf_token("t".into()).await?;
    shop.update_csrf_token(|token| *token = None).await?;
    shop.remove_csrf_token().await?;
    let _: Option<OffsetDateTime> = shop.csrf_token_expires_at().await?;

    let _: Option<String> = shop.notice().await?;
    shop.set_notice("hi".into()).await?;
    shop.update_notice(|notice| *notice = None).await?;
    shop.remove_notice().await?;
    let _: Option<String> = shop.take_notice().await?;

    let _: Vec<String> = shop.alerts().await?;
    shop.set_alerts(vec!["a".into()]).await?;
    shop.update_alerts(Vec::clear).await?;
    shop.remove_alerts().await?;
    shop.push_alerts("b".into()).await?;
    let _: Vec<String> = shop.take_alerts().await?;
    let _: Option<OffsetDateTime> = shop.alerts_expires_at().await?;

    let whole: Shop = shop.load().await?;
    shop.save(&whole).await?;
    shop.clear().await?;
    shop.cycle_id().await?;
    let _: Option<String> = shop.id();
    let _: &MemorySession = shop.raw();
    let _: &Clock = shop.clock();
    shop.clone().flush().await?;
    let _ = format!("{whole:?} {shop:?}");

    let _: &'static [&'static str] = Shop::KEYS;
    let _: Option<&'static str> = Shop::NAMESPACE;
    let _ = Shop::VERSION;
    let _ = whole.to_stored()?;
    Ok(())
}

/// Without a type argument the handle wraps tower-sessions' `Session`, and
/// is an axum extractor.
#[allow(dead_code)]
fn extracts_from_requests(shop: Store) -> impl FromRequestParts<()> {
    shop
}

fn main() {}
