//! Cookie sessions: the whole session in an encrypted cookie, for apps with
//! no server store.
//!
//! [`CookieSessionLayer`] gives handlers the same session as
//! [`SessionLayer`](super::SessionLayer) does (a
//! [`LayerSession`](super::LayerSession) for the typed handles and a
//! `tower_sessions::Session` over the same data for raw code), so the typed
//! handles work unchanged: defaults, flashes, `rotate_id`, per-field
//! expiry, schema versions and migrations. Instead of an id, the cookie
//! carries the session itself, encrypted and authenticated.
//!
//! The cookie is opened once per request; its values stay JSON text until
//! a field reads one, and the cookie is sealed again only when the data
//! changed or a deadline must move.
//!
//! ```
//! use axum::{Router, routing::get};
//! use session_core::layer::cookie::{CookieKeys, CookieSessionLayer};
//!
//! # fn app() -> Result<Router, Box<dyn std::error::Error>> {
//! // 32 or more random bytes from configuration, e.g. base64 in an
//! // environment variable; the new key first when rotating.
//! let key = [0x42_u8; 48]; // never a constant in real code
//! let sessions = CookieSessionLayer::builder(CookieKeys::new([key])?).build()?;
//! let app: Router = Router::new().route("/", get(|| async { "hi" })).layer(sessions);
//! # Ok(app) }
//! # app().unwrap();
//! ```
//!
//! # The payload (format version 1)
//!
//! The cookie value is the JSON text below, sealed with AES-256-GCM by the
//! `cookie` crate's private jar (a random 96-bit nonce per cookie, the
//! cookie's name as associated data) and base64-encoded:
//! `base64(nonce ‖ ciphertext ‖ tag)`.
//!
//! ```json
//! {"v":1,"id":"mRl2S5MgMYa6XwOVhPv3vw","issued":1700000000,
//!  "idle_until":1700007200,"absolute_until":1700604800,
//!  "data":{"shop.cart":[{"sku":"tea","quantity":2}],"shop.locale":"fr",
//!          "shop.csrf_token":{"exp":1700000900,"v":"9f86d081884c7d659a2feaa0c55ad015"}}}
//! ```
//!
//! - `v`: the format version, `1`. Any other version is refused like a
//!   tampered cookie.
//! - `id`: the session id (a tower-sessions `Id`: 16 random bytes, 22
//!   characters of URL-safe base64). `Session::id()` returns it; it changes
//!   when the id cycles (`cycle_id`, `rotate_id` fields).
//! - `issued`: when the session was created or its user last authenticated
//!   ([`mark_authenticated`](crate::RawSession::mark_authenticated)), in
//!   Unix seconds. The [revocation check](Revocation) compares it.
//! - `idle_until`: the idle deadline in Unix seconds, or `null` without an
//!   idle timeout.
//! - `absolute_until`: the absolute deadline in Unix seconds.
//! - `data`: every storage key of the session with its stored JSON value,
//!   exactly as a server store holds them: plain fields, the envelopes of
//!   `expires_in` fields and each schema's version key.
//!
//! The deadlines live inside the encrypted payload and are checked on every
//! request against the layer's clock, so a client cannot extend a session
//! by keeping the cookie past its `Max-Age`. The cookie's name is
//! authenticated: renaming the cookie ends every session.
//!
//! # Size
//!
//! A payload of `n` JSON bytes makes a `Set-Cookie` of
//! `4 × ⌈(n + 28) / 3⌉` bytes (28: nonce and tag; base64 adds a third) plus
//! the name and attributes: 60 bytes with the defaults
//! (`id=…; HttpOnly; SameSite=Strict; Secure; Path=/; Max-Age=7200`). The
//! payload's fixed part is 119 bytes, so the smallest session cookie is 256
//! bytes, and [`COOKIE_SIZE_LIMIT`] leaves about 2,880 bytes of JSON for the
//! data. Each stored value costs its JSON entry `"key":value,`, a third
//! more once sealed:
//!
//! | stored shape | JSON entry | example |
//! |---|---|---|
//! | plain field | key + its serde JSON + 4 | `"counter.count":42,` 19 bytes |
//! | `expires_in` field | the same + 23 for the envelope | `"shop.csrf_token":{"exp":1700000900,"v":"…32 hex…"},` 76 bytes |
//! | `flash` field, while set | as a plain field | `"shop.notice":"Added tea",` 26 bytes |
//! | schema version | one per versioned namespace | `"shop.__version":2,` 19 bytes |
//!
//! Measured (and checked by a test): a session holding one `u64` counter
//! is a 280-byte `Set-Cookie`; the example shop with three cart items, a
//! locale, a CSRF token and a notice, 620 bytes.
//!
//! # Deadlines
//!
//! - **Absolute** ([`DEFAULT_ABSOLUTE_TIMEOUT`], 7 days): counted from when
//!   the session was issued, never extended. Cycling the id (a `rotate_id`
//!   field, `cycle_id`) keeps it; only a new authentication, which the app
//!   marks with [`mark_authenticated`](crate::RawSession::mark_authenticated)
//!   at log in, starts it again, so switching roles or accounts cannot keep
//!   a copied cookie alive. A log out (`flush`) ends the session, and what
//!   the request writes after it (a "logged out" notice) is a new session.
//!   Since a copy of a cookie stays
//!   valid until this deadline (see below), it bounds how long a stolen
//!   cookie works; a week keeps a weekly visitor logged in and is well
//!   inside OWASP ASVS 3.3's 30 days for level 1. A shorter setting applies
//!   at once to cookies sealed under a longer one.
//! - **Idle** ([`DEFAULT_IDLE_TIMEOUT`], 2 hours): moved forward by every
//!   request that uses the session; a browser left alone for two hours
//!   loses the session, a lunch break does not. Apps at ASVS level 2 or 3
//!   set 30 or 15 minutes. To save bandwidth, a request that only reads
//!   the session sends the cookie again (with the new idle deadline) when
//!   the deadline last moved more than a minute ago (half the idle timeout,
//!   if shorter): the idle deadline is exact to that minute.
//!
//! The cookie's `Max-Age` is the time left until the earlier deadline, so
//! browsers drop it when the server would refuse it anyway.
//!
//! `Session::expiry_date` gives the earlier deadline as the request found
//! it; `Session::set_expiry` has no effect in cookie mode: these two
//! deadlines govern.
//!
//! # What a request sees
//!
//! - No cookie, or one that is tampered with, truncated, sealed with no
//!   configured key, not a version 1 payload, past a deadline or revoked:
//!   an empty session. The response removes the cookie unless the handler
//!   started a new session. Never an error, never a panic.
//! - A valid cookie: its session. The response sends the cookie again only
//!   when the handler changed the data, when it was sealed with an old key
//!   (it is sealed again with the first), or to move the idle deadline; a
//!   session left empty (`flush`, `clear`) removes the cookie.
//! - A `5xx` from the handler: no cookie is sent; the browser keeps the one
//!   it has.
//! - A session that would make a `Set-Cookie` over [`COOKIE_SIZE_LIMIT`]
//!   bytes: no cookie is sent (the browser keeps the previous one, which
//!   stays valid), and the response is replaced by a `500` with a generic
//!   body; a `tracing` error gives [`SessionError::CookieTooLarge`]: the
//!   size, the limit and the three largest values by storage key. Nothing is
//!   ever truncated.
//! - Every response that sets or removes the cookie gets
//!   `Cache-Control: no-store`.
//!
//! # Trade-offs against a server store
//!
//! - **Revocation.** Logging out replaces the cookie in this browser, but a
//!   copy of the old cookie stays valid until its deadline. Keep deadlines
//!   short, or opt into a [`Revocation`] check.
//! - **Concurrent writes.** Two concurrent requests that change the session
//!   each send their own cookie, and the browser keeps the one it receives
//!   last: the other request's change is lost, and neither request can
//!   know. A request that only reads sends no cookie, so it cannot undo a
//!   concurrent write, except when its idle deadline is due to move (at
//!   most once a minute per session) or its cookie was sealed with an old
//!   key: then it sends the data it read. With a server store,
//!   [`SessionLayer`](super::SessionLayer) merges such writes.
//! - **Size.** Everything travels with every request; 4 KB at most.
//!
//! [`SessionError::CookieTooLarge`]: crate::SessionError::CookieTooLarge

mod keys;
mod limit;
mod outcome;
mod payload;
mod revocation;
mod service;
mod source;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use self::keys::{CookieKeys, KeyError, MIN_KEY_LEN};
pub use self::limit::COOKIE_SIZE_LIMIT;
pub use self::revocation::{NoRevocation, Revocation};
pub use self::service::CookieSessionService;

use self::outcome::Timeouts;
use super::LayerConfigError;
use super::config::Settings;
use crate::clock::Clock;

/// How long a session stays valid after it was issued, used or not: 7
/// days.
pub const DEFAULT_ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// How long a session stays valid without a request that uses it: 2 hours.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(2 * 60 * 60);

/// A tower layer that keeps the whole session in an encrypted cookie and
/// gives every request a `tower_sessions::Session` over it. Build it with
/// [`CookieSessionLayer::builder`]; see the [module](self) for the format
/// and the rules.
pub struct CookieSessionLayer<R = NoRevocation> {
    shared: Arc<Shared<R>>,
}

impl<R> Clone for CookieSessionLayer<R> {
    fn clone(&self) -> Self {
        CookieSessionLayer {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<R> fmt::Debug for CookieSessionLayer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieSessionLayer")
            .field("shared", &self.shared)
            .finish()
    }
}

/// What every request of one layer shares.
pub(crate) struct Shared<R> {
    settings: Settings,
    keys: CookieKeys,
    timeouts: Timeouts,
    clock: Option<Clock>,
    revocation: Option<Arc<R>>,
}

impl<R> fmt::Debug for Shared<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("settings", &self.settings)
            .field("keys", &self.keys)
            .field("timeouts", &self.timeouts)
            .field("clock", &self.clock)
            .field("revocation", &self.revocation.is_some())
            .finish()
    }
}

impl CookieSessionLayer {
    /// Starts the settings of a layer sealing with `keys`, with the secure
    /// defaults of [`SessionLayer`](super::SessionLayer): cookie `id`, path
    /// `/`, `Secure`, `HttpOnly`, `SameSite=Strict`, no domain; idle timeout
    /// [`DEFAULT_IDLE_TIMEOUT`], absolute timeout
    /// [`DEFAULT_ABSOLUTE_TIMEOUT`], the system clock, no revocation check.
    pub fn builder(keys: CookieKeys) -> CookieSessionLayerBuilder {
        CookieSessionLayerBuilder {
            settings: Settings::default(),
            keys,
            idle: Some(DEFAULT_IDLE_TIMEOUT),
            absolute: DEFAULT_ABSOLUTE_TIMEOUT,
            clock: None,
            revocation: None,
        }
    }
}

impl<R, Inner> tower_layer::Layer<Inner> for CookieSessionLayer<R> {
    type Service = CookieSessionService<Inner, R>;

    fn layer(&self, inner: Inner) -> Self::Service {
        CookieSessionService::new(inner, Arc::clone(&self.shared))
    }
}

/// The settings of a [`CookieSessionLayer`]; [`build`](Self::build)
/// checks them.
#[must_use = "call `.build()` to get the layer"]
pub struct CookieSessionLayerBuilder<R = NoRevocation> {
    settings: Settings,
    keys: CookieKeys,
    idle: Option<Duration>,
    absolute: Duration,
    clock: Option<Clock>,
    revocation: Option<R>,
}

impl<R> fmt::Debug for CookieSessionLayerBuilder<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieSessionLayerBuilder")
            .field("settings", &self.settings)
            .field("keys", &self.keys)
            .field("idle", &self.idle)
            .field("absolute", &self.absolute)
            .field("clock", &self.clock)
            .field("revocation", &self.revocation.is_some())
            .finish()
    }
}

impl<R: Revocation> CookieSessionLayerBuilder<R> {
    crate::layer::config::cookie_setters!(
        "The cookie's name (default `id`). It is authenticated with the \
         value, so renaming the cookie ends every session. A `__Host-` name \
         requires the defaults for path, domain and `Secure`; `build` checks \
         it."
    );

    /// How long a session stays valid without a request that uses it
    /// (default [`DEFAULT_IDLE_TIMEOUT`]); `build` refuses zero.
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle = Some(timeout);
        self
    }

    /// No idle timeout: only the absolute deadline ends a session.
    pub fn without_idle_timeout(mut self) -> Self {
        self.idle = None;
        self
    }

    /// How long a session stays valid after it was created or its user last
    /// authenticated (default [`DEFAULT_ABSOLUTE_TIMEOUT`]); `build` refuses
    /// zero.
    pub fn with_absolute_timeout(mut self, timeout: Duration) -> Self {
        self.absolute = timeout;
        self
    }

    /// The clock the deadlines are checked against (default: a [`Clock`]
    /// the request already carries as an extension, else the system
    /// clock). A request without a `Clock` extension gets this one, so
    /// per-field expiry reads the same time: tests drive both with one
    /// [`ManualClock`](crate::ManualClock).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    crate::layer::error_page::error_page_setter!(
        "```
use session_core::layer::ErrorPage;
use session_core::layer::cookie::{CookieKeys, CookieSessionLayer};

# fn layer() -> Result<(), Box<dyn std::error::Error>> {
let key = [0x42_u8; 48]; // never a constant in real code
let layer = CookieSessionLayer::builder(CookieKeys::new([key])?)
    .with_error_page(|request| {
        ErrorPage::html(format!(
            \"<!doctype html><title>Error {}</title><p>Please reload the page.</p>\",
            request.status().as_u16()
        ))
    })
    .build()?;
# Ok(()) }
# layer().unwrap();
```"
    );

    /// Checks every session against `revocation` on its first access in a
    /// request; see [`Revocation`].
    pub fn with_revocation<R2: Revocation>(self, revocation: R2) -> CookieSessionLayerBuilder<R2> {
        let CookieSessionLayerBuilder {
            settings,
            keys,
            idle,
            absolute,
            clock,
            revocation: _,
        } = self;
        CookieSessionLayerBuilder {
            settings,
            keys,
            idle,
            absolute,
            clock,
            revocation: Some(revocation),
        }
    }

    /// Checks the settings and builds the layer.
    ///
    /// # Errors
    ///
    /// [`LayerConfigError`] when browsers would refuse the cookie (a
    /// `__Host-` name with a domain, a path other than `/` or without
    /// `Secure`; a `__Secure-` name without `Secure`), when the name is
    /// invalid, or when a timeout is zero.
    pub fn build(self) -> Result<CookieSessionLayer<R>, LayerConfigError> {
        self.settings.validate()?;
        if self.idle.is_some_and(|idle| idle.is_zero()) {
            return Err(LayerConfigError::ZeroTimeout { which: "idle" });
        }
        if self.absolute.is_zero() {
            return Err(LayerConfigError::ZeroTimeout { which: "absolute" });
        }
        Ok(CookieSessionLayer {
            shared: Arc::new(Shared {
                settings: self.settings,
                keys: self.keys,
                timeouts: Timeouts::new(self.idle, self.absolute),
                clock: self.clock,
                revocation: self.revocation.map(Arc::new),
            }),
        })
    }
}
