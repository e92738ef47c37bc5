//! Typed sessions for axum and tower-sessions.
//!
//! Declare what a session holds as a plain struct, derive [`SessionSchema`],
//! and use the generated handle instead of `session.get::<T>("some_key")`:
//! every key, type and default is checked by the compiler.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use session_core::{MemorySession, SessionSchema};
//!
//! #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
//! pub struct CartItem {
//!     sku: String,
//!     quantity: u32,
//! }
//!
//! #[derive(SessionSchema)]
//! #[session(namespace = "shop")]
//! pub struct Shop {
//!     #[session(default)]
//!     cart: Vec<CartItem>,
//!     #[session(default = String::from("en"))]
//!     locale: String,
//!     #[session(rotate_id)]
//!     user_id: Option<u64>,
//!     #[session(expires_in = "15m", sensitive)]
//!     csrf_token: Option<String>,
//!     #[session(flash)]
//!     notice: Option<String>,
//! }
//!
//! # async fn demo() -> Result<(), session_core::SessionError> {
//! // In an axum handler `shop: ShopSession` is an extractor; here the
//! // in-memory session stands in for `tower_sessions::Session`.
//! let shop = ShopSession::new(MemorySession::new());
//!
//! assert_eq!(shop.locale().await?, "en");
//! let items = shop
//!     .update_cart(|cart| {
//!         cart.push(CartItem { sku: "tea".into(), quantity: 2 });
//!         cart.len()
//!     })
//!     .await?;
//! assert_eq!(items, 1);
//!
//! shop.set_notice("Added to your cart".into()).await?;
//! assert_eq!(shop.take_notice().await?.as_deref(), Some("Added to your cart"));
//! assert_eq!(shop.take_notice().await?, None);
//!
//! let whole: Shop = shop.load().await?;
//! assert_eq!(whole.cart.len(), 1);
//! # Ok(()) }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo()).unwrap();
//! ```
//!
//! # What the derive generates
//!
//! For a struct `Shop`, a handle `ShopSession` (rename it with
//! `#[session(handle = Name)]`) with, for each field `name`:
//! `name()`, `set_name(v)`, `update_name(|v| ..)` and `remove_name()`;
//! `name_expires_at()` for fields with `expires_in`; `take_name()` (and
//! `push_name(v)` on `Vec`) for `flash` fields. For the whole struct:
//! `load()`, `save(&Shop)` and `clear()`. The handle reaches the untyped
//! session only through [`RawSession`], implemented for this crate's
//! `layer::LayerSession`, for `tower_sessions::Session`, for
//! [`RequestSession`] (whichever of the two a request carries: what the
//! extractor holds) and for [`MemorySession`].
//!
//! With the default `axum` feature the handle is an axum extractor; a router
//! without a session layer rejects it with a [`SessionRejection`] that says
//! which layer to add, and [`SessionError`] is a response.
//!
//! # Session layers
//!
//! The handles work under tower-sessions' `SessionManagerLayer` and under
//! the two layers of this crate (feature `layer`, on by default):
//!
//! - `layer::SessionLayer`, a drop-in for `SessionManagerLayer` that never
//!   loses a write: requests of one session run one at a time in an
//!   instance, saves compare and swap on the stores of `cas`
//!   (`CasMemoryStore`; SQLite, PostgreSQL and Redis with the features of
//!   those names), changes to different fields merge, a same-field conflict
//!   is a `409`, and a deleted session stays deleted;
//! - `layer::cookie::CookieSessionLayer` (feature `cookie-sessions`), the
//!   whole session in an encrypted cookie, for apps with no store.
//!
//! The guide (the `book/` folder of the repository) covers every attribute,
//! expiry, flashes, testing, stores and security.
//!
//! # Features
//!
//! What each feature of `Cargo.toml` adds:
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `axum` | on | The typed handles become axum 0.8 extractors, and `SessionError` a response. |
//! | `layer` | on | `SessionLayer`, a drop-in for tower-sessions' `SessionManagerLayer` that never loses a write, and the `cas` stores it works best with. |
//! | `schema` | | `#[session(json_schema)]` generates a JSON Schema of the stored layout, and `testing::assert_schema_snapshot` compares it with a committed snapshot. |
//! | `signed` | | Signed session cookies (HMAC-SHA256). Turns on `layer`. |
//! | `private` | | Encrypted and authenticated session cookies (AES-256-GCM). Turns on `layer`. |
//! | `cookie-sessions` | | `layer::cookie::CookieSessionLayer`: the whole session in an encrypted cookie (AES-256-GCM), no server store. Turns on `private`. |
//! | `sqlite` | | `cas::SqliteCasStore` (sqlx). Turns on `layer`. |
//! | `postgres` | | `cas::PostgresCasStore` (sqlx). Turns on `layer`. |
//! | `redis` | | `cas::RedisCasStore` (fred), one Lua script per operation. Turns on `layer`. |

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod access;
#[cfg(feature = "layer")]
#[cfg_attr(docsrs, doc(cfg(feature = "layer")))]
pub mod cas;
mod clock;
mod depth;
mod disjoint;
mod envelope;
mod error;
mod expiry;
#[cfg(feature = "axum")]
mod extract;
mod field;
mod fingerprint;
#[cfg(feature = "layer")]
#[cfg_attr(docsrs, doc(cfg(feature = "layer")))]
pub mod layer;
#[cfg(feature = "schema")]
mod layout;
mod memory;
mod migrate;
mod raw;
mod request_session;
mod schema;
mod string_storage;
#[cfg(feature = "schema")]
#[cfg_attr(docsrs, doc(cfg(feature = "schema")))]
pub mod testing;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
#[path = "fuzzing.rs"]
pub mod __fuzz;

pub use clock::{Clock, ManualClock, TimeSource};
pub use error::{SessionError, StoreError};
pub use expiry::Expiry;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use extract::SessionRejection;
#[cfg(feature = "schema")]
#[cfg_attr(docsrs, doc(cfg(feature = "schema")))]
pub use layout::StoredLayout;
pub use memory::MemorySession;
pub use raw::{RawSession, ValueError};
pub use request_session::RequestSession;
pub use schema::{SchemaVersion, SessionSchema};
pub use string_storage::StringStorage;
pub use time;

/// The README's example, compiled as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExample;

/// Derives [`SessionSchema`] and a typed handle for a struct with named fields.
///
/// See the [crate documentation](crate) for what is generated and the guide
/// for every attribute.
pub use session_derive::SessionSchema;
