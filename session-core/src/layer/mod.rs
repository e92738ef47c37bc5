//! [`SessionLayer`]: a drop-in for tower-sessions' `SessionManagerLayer`
//! that never loses a write.
//!
//! The typed handles get the layer's own [`LayerSession`]: the record as
//! the store loaded it, one JSON text per key, shared and never copied;
//! a field is decoded from its text when it is read, and a write makes new
//! text for its key only. Handlers that extract tower-sessions'
//! `tower_sessions::Session` still get one, over the same request state,
//! so raw code and the typed handles see each other's writes. What differs
//! from tower-sessions' layer is what happens around the handler:
//!
//! - **One at a time.** Within one app instance, requests of the same
//!   session run one after the other from their first session access to
//!   the end of their save. A request that waits longer than
//!   [`DEFAULT_LOCK_WAIT`] (see [`SessionLayerBuilder::with_lock_wait`]) is
//!   answered `503` with `Retry-After`.
//! - **Compare-and-swap.** Across instances, a save succeeds only over the
//!   revision that was loaded. When another request saved in between, the
//!   changes to different keys are merged; a key changed by both is a
//!   conflict: the request is answered `409 Conflict` and nothing it wrote
//!   is saved. A change the stored data called for (an expired value
//!   removed, a migration written; see
//!   [`RawSession::mark_derived`](crate::RawSession::mark_derived)) merges
//!   with the other's when both left the key the same JSON value.
//! - **Deleted stays deleted.** A log out, `flush` or id rotation deletes the
//!   record for good; a concurrent save to it is refused (`409`), and a
//!   request that still carries the ended id cannot start a session with
//!   its writes (`409`) while the store remembers the id as ended
//!   ([`DEFAULT_ENDED_MARKER_LIFETIME`](crate::cas::DEFAULT_ENDED_MARKER_LIFETIME));
//!   its reads see an empty session. Afterwards such a request starts a
//!   fresh session under a new id.
//! - **Nothing saved on failure.** A `5xx` from the handler saves nothing;
//!   a store outage is a `503`, a stored record that does not decode a
//!   `500` (and the record is left as it is), a record that would grow past
//!   the record limit ([`DEFAULT_RECORD_LIMIT`], see
//!   [`SessionLayerBuilder::with_record_limit`]) a `500` that stores
//!   nothing; conflicts and failures never set a cookie.
//! - **Only what changes is sent.** A save under an id the client already
//!   has sends the cookie again only to move its expiry
//!   (`Expiry::OnInactivity`, `Expiry::AtDateTime`), or once to seal it with
//!   the first key of a rotated ring
//!   ([`SessionLayerBuilder::with_signed_keys`],
//!   [`SessionLayerBuilder::with_private_keys`]), so a response overtaken
//!   by a log in's response cannot put the old id back into the browser.
//! - **No caching of session cookies.** A response that sets the cookie
//!   gets `Cache-Control: no-store`.
//! - **Ids only from the server.** An id the store does not know is never
//!   adopted: a new session always gets a new random id.
//!
//! With a plain tower-sessions store (wrapped in
//! [`LastWriterWins`](crate::cas::LastWriterWins)) the first, fourth, fifth
//! and sixth rules hold; compare-and-swap needs a [`CasStore`].

mod commit;
mod config;
#[cfg(feature = "cookie-sessions")]
#[cfg_attr(docsrs, doc(cfg(feature = "cookie-sessions")))]
pub mod cookie;
mod error_page;
mod locks;
mod record_limit;
#[cfg(any(feature = "signed", feature = "private"))]
mod sealing;
mod service;
mod session;
mod transport;

use std::sync::Arc;
use std::time::Duration;

#[cfg(any(feature = "signed", feature = "private"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "signed", feature = "private"))))]
pub use ::cookie::Key;
pub use ::cookie::SameSite;
pub use config::{
    DEFAULT_ENDED_ID_WINDOW, DEFAULT_LOCK_WAIT, DEFAULT_RECORD_LIMIT, LayerConfigError,
};
pub use error_page::{ErrorPage, ErrorPageRequest, LayerError};
pub use service::SessionService;
pub use session::LayerSession;

pub use crate::expiry::Expiry;

use self::config::Settings;
use self::locks::SessionLocks;
use crate::cas::CasStore;

/// A tower layer that gives every request a [`LayerSession`] (and a
/// `tower_sessions::Session` over it) and saves it without losing
/// concurrent writes. Build it with [`SessionLayer::builder`].
#[derive(Debug)]
pub struct SessionLayer<S> {
    shared: Arc<Shared<S>>,
}

impl<S> Clone for SessionLayer<S> {
    fn clone(&self) -> Self {
        SessionLayer {
            shared: Arc::clone(&self.shared),
        }
    }
}

/// What every request of one layer shares.
#[derive(Debug)]
pub(crate) struct Shared<S> {
    pub(crate) store: Arc<S>,
    pub(crate) settings: Settings,
    pub(crate) locks: Arc<SessionLocks>,
}

impl<S: CasStore> SessionLayer<S> {
    /// Starts the settings of a layer over `store`, with the secure defaults
    /// of tower-sessions: cookie `id`, path `/`, `Secure`, `HttpOnly`,
    /// `SameSite=Strict`, no domain, a browser-session cookie.
    pub fn builder(store: S) -> SessionLayerBuilder<S> {
        SessionLayerBuilder {
            store,
            settings: Settings::default(),
            header: None,
        }
    }
}

impl<S, Inner> tower_layer::Layer<Inner> for SessionLayer<S> {
    type Service = SessionService<Inner, S>;

    fn layer(&self, inner: Inner) -> Self::Service {
        SessionService::new(inner, Arc::clone(&self.shared))
    }
}

/// The settings of a [`SessionLayer`]; [`build`](Self::build) checks them.
#[derive(Debug)]
#[must_use = "call `.build()` to get the layer"]
pub struct SessionLayerBuilder<S> {
    store: S,
    settings: Settings,
    header: Option<String>,
}

impl<S: CasStore> SessionLayerBuilder<S> {
    config::cookie_setters!(
        "The cookie's name (default `id`). A `__Host-` name requires the \
         defaults for path, domain and `Secure`; `build` checks it."
    );

    /// When sessions expire (default: when the browser session ends, with
    /// records kept two weeks). `Expiry::OnInactivity` refreshes the expiry
    /// on every request that uses the session, as tower-sessions does.
    /// It takes this crate's [`Expiry`] or tower-sessions' own.
    pub fn with_expiry(mut self, expiry: impl Into<Expiry>) -> Self {
        self.settings.expiry = Some(expiry.into());
        self
    }

    /// Also accepts the session id in the request header `name`, for API
    /// clients that do not keep cookies. A request that carries the header
    /// (empty to start a session) gets its new id in the same response
    /// header and never a cookie.
    ///
    /// The id is never read from the query string: URLs end up in logs,
    /// `Referer` headers and browser history (OWASP ASVS 3.1.1).
    pub fn with_header(mut self, name: impl Into<String>) -> Self {
        self.header = Some(name.into());
        self
    }

    /// How long after a session ended a request that still carries its id
    /// is taken for one that was already on its way (default
    /// [`DEFAULT_ENDED_ID_WINDOW`], which says what happens on either side).
    /// A longer window protects slower clients whose requests were in
    /// flight during a log in; a shorter one lets a browser that lost the
    /// log in's response start afresh sooner.
    pub fn with_ended_id_window(mut self, window: time::Duration) -> Self {
        self.settings.ended_id_window = window;
        self
    }

    /// How long a request waits for the other requests of its session in
    /// this instance before it is answered `503` (default
    /// [`DEFAULT_LOCK_WAIT`]).
    pub fn with_lock_wait(mut self, wait: Duration) -> Self {
        self.settings.lock_wait = wait;
        self
    }

    /// The largest session record the layer stores, in bytes: the record
    /// as the store keeps it, keys and JSON values (default
    /// [`DEFAULT_RECORD_LIMIT`], 64 KiB, which says why).
    ///
    /// A request whose changes would leave a larger record stores nothing
    /// (a log in that rotates the id keeps the old session) and is answered
    /// `500` ([`LayerError::Failed`], through the error page hook if one is
    /// set), with a `tracing` error that names the largest keys and their
    /// sizes ([`SessionError::RecordTooLarge`](crate::SessionError::RecordTooLarge)).
    /// A record already larger (stored before the limit was lowered) is
    /// still read and its expiry still moved; a change that leaves it within
    /// the limit is stored.
    ///
    /// # Examples
    ///
    /// ```
    /// use session_core::cas::CasMemoryStore;
    /// use session_core::layer::SessionLayer;
    ///
    /// let layer = SessionLayer::builder(CasMemoryStore::new())
    ///     .with_record_limit(16 * 1024)
    ///     .build()?;
    /// # Ok::<(), session_core::layer::LayerConfigError>(())
    /// ```
    pub fn with_record_limit(mut self, bytes: usize) -> Self {
        self.settings.record_limit = bytes;
        self
    }

    error_page::error_page_setter!(
        "```
use session_core::cas::CasMemoryStore;
use session_core::layer::{ErrorPage, LayerError, SessionLayer};

let layer = SessionLayer::builder(CasMemoryStore::new())
    .with_error_page(|request| {
        let text = match request.error() {
            LayerError::Unavailable | LayerError::Busy => \"Back in a moment.\",
            _ => \"Please reload the page.\",
        };
        ErrorPage::html(format!(\"<!doctype html><title>{text}</title><p>{text}</p>\"))
    })
    .build()?;
# Ok::<(), session_core::layer::LayerConfigError>(())
```"
    );

    /// Signs the cookie (HMAC-SHA256) with `key`: a forged or altered cookie
    /// reads as no cookie. The same as [`with_signed_keys`](Self::with_signed_keys)
    /// with one key.
    #[cfg(feature = "signed")]
    #[cfg_attr(docsrs, doc(cfg(feature = "signed")))]
    pub fn with_signed(self, key: Key) -> Self {
        self.with_signed_keys([key])
    }

    /// Signs the cookie (HMAC-SHA256) with the first of `keys` and accepts
    /// a cookie signed with any of them, so the signing key can rotate
    /// without logging anyone out: put the new key first and keep the old
    /// one after it. A cookie signed with an older key is sent again,
    /// signed with the first, by the first response that uses its live
    /// session (a request that never touches the session sends nothing).
    /// Once the old key has signed nothing for as long as your sessions
    /// live, drop it. A cookie signed with a key not in the list reads as
    /// no cookie.
    ///
    /// # Examples
    ///
    /// ```
    /// use session_core::cas::CasMemoryStore;
    /// use session_core::layer::{Key, SessionLayer};
    ///
    /// # let (new_key, old_key) = (Key::generate(), Key::generate());
    /// let layer = SessionLayer::builder(CasMemoryStore::new())
    ///     .with_signed_keys([new_key, old_key])
    ///     .build()?;
    /// # Ok::<(), session_core::layer::LayerConfigError>(())
    /// ```
    ///
    /// `build` fails with [`LayerConfigError::NoCookieKeys`] when `keys`
    /// is empty.
    #[cfg(feature = "signed")]
    #[cfg_attr(docsrs, doc(cfg(feature = "signed")))]
    pub fn with_signed_keys(mut self, keys: impl IntoIterator<Item = Key>) -> Self {
        self.settings.keys = Some(sealing::CookieKeyRing::new(
            sealing::Protection::Signed,
            keys,
        ));
        self
    }

    /// Encrypts and authenticates the cookie (AES-256-GCM) with `key`. The
    /// same as [`with_private_keys`](Self::with_private_keys) with one key.
    #[cfg(feature = "private")]
    #[cfg_attr(docsrs, doc(cfg(feature = "private")))]
    pub fn with_private(self, key: Key) -> Self {
        self.with_private_keys([key])
    }

    /// Encrypts and authenticates the cookie (AES-256-GCM) with the first
    /// of `keys` and accepts a cookie encrypted with any of them, so the key
    /// can rotate without logging anyone out: put the new key first and
    /// keep the old one after it. A cookie encrypted with an older key is
    /// sent again, encrypted with the first, by the first response that
    /// uses its live session (a request that never touches the session
    /// sends nothing). Once the old key has encrypted nothing for as long
    /// as your sessions live, drop it. A cookie encrypted with a key not in
    /// the list reads as no cookie.
    ///
    /// # Examples
    ///
    /// ```
    /// use session_core::cas::CasMemoryStore;
    /// use session_core::layer::{Key, SessionLayer};
    ///
    /// # let (new_key, old_key) = (Key::generate(), Key::generate());
    /// let layer = SessionLayer::builder(CasMemoryStore::new())
    ///     .with_private_keys([new_key, old_key])
    ///     .build()?;
    /// # Ok::<(), session_core::layer::LayerConfigError>(())
    /// ```
    ///
    /// `build` fails with [`LayerConfigError::NoCookieKeys`] when `keys`
    /// is empty.
    #[cfg(feature = "private")]
    #[cfg_attr(docsrs, doc(cfg(feature = "private")))]
    pub fn with_private_keys(mut self, keys: impl IntoIterator<Item = Key>) -> Self {
        self.settings.keys = Some(sealing::CookieKeyRing::new(
            sealing::Protection::Private,
            keys,
        ));
        self
    }

    /// Checks the settings and builds the layer.
    ///
    /// # Errors
    ///
    /// [`LayerConfigError`] when browsers would refuse the cookie (a
    /// `__Host-` name with a domain, a path other than `/` or without
    /// `Secure`; a `__Secure-` name without `Secure`), a name is invalid,
    /// the record limit is zero, or the cookie was to be signed or
    /// encrypted with no key.
    pub fn build(self) -> Result<SessionLayer<S>, LayerConfigError> {
        let SessionLayerBuilder {
            store,
            mut settings,
            header,
        } = self;
        if let Some(name) = header {
            let parsed = http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| LayerConfigError::HeaderName { name })?;
            settings.header = Some(parsed);
        }
        settings.validate()?;
        Ok(SessionLayer {
            shared: Arc::new(Shared {
                store: Arc::new(store),
                settings,
                locks: Arc::default(),
            }),
        })
    }
}
