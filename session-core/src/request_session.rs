//! The untyped session an extractor finds on a request: this crate's own,
//! or tower-sessions'.

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::StoreError;
use crate::expiry::Expiry;
#[cfg(feature = "layer")]
use crate::layer::LayerSession;
use crate::raw::{RawSession, ValueError};

/// The session a request carries, whichever layer made it: what the typed
/// extractors hold, so one handle type works under every layer.
///
/// Under [`SessionLayer`](crate::layer::SessionLayer) it is the crate's own
/// [`LayerSession`]; under tower-sessions' `SessionManagerLayer` (and the
/// cookie-session layer) it is the `tower_sessions::Session`. A handler that
/// needs the layer-specific API reaches it through
/// [`as_tower`](Self::as_tower) or [`as_layer`](Self::as_layer); the
/// session-level operations (id, cycle, flush, expiry) are on
/// [`RawSession`] for both.
#[derive(Clone)]
#[non_exhaustive]
pub enum RequestSession {
    /// The session of this crate's `SessionLayer`.
    #[cfg(feature = "layer")]
    #[cfg_attr(docsrs, doc(cfg(feature = "layer")))]
    Layer(LayerSession),
    /// A tower-sessions session.
    Tower(tower_sessions_core::Session),
}

impl RequestSession {
    /// The tower-sessions session, under tower-sessions' own layer.
    #[must_use]
    pub fn as_tower(&self) -> Option<&tower_sessions_core::Session> {
        match self {
            RequestSession::Tower(session) => Some(session),
            #[cfg(feature = "layer")]
            RequestSession::Layer(_) => None,
        }
    }

    /// The session of this crate's `SessionLayer`.
    #[cfg(feature = "layer")]
    #[cfg_attr(docsrs, doc(cfg(feature = "layer")))]
    #[must_use]
    pub fn as_layer(&self) -> Option<&LayerSession> {
        match self {
            RequestSession::Layer(session) => Some(session),
            RequestSession::Tower(_) => None,
        }
    }
}

impl From<tower_sessions_core::Session> for RequestSession {
    fn from(session: tower_sessions_core::Session) -> Self {
        RequestSession::Tower(session)
    }
}

#[cfg(feature = "layer")]
impl From<LayerSession> for RequestSession {
    fn from(session: LayerSession) -> Self {
        RequestSession::Layer(session)
    }
}

impl fmt::Debug for RequestSession {
    /// Never the session id: it is the bearer token of the session.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            #[cfg(feature = "layer")]
            RequestSession::Layer(session) => f.debug_tuple("Layer").field(session).finish(),
            RequestSession::Tower(_) => f.write_str("Tower(..)"),
        }
    }
}

/// Runs the same expression on whichever session the request carries.
macro_rules! dispatch {
    ($self:ident, $session:ident => $body:expr) => {
        match $self {
            #[cfg(feature = "layer")]
            RequestSession::Layer($session) => $body,
            RequestSession::Tower($session) => $body,
        }
    };
}

impl RawSession for RequestSession {
    async fn get_value(&self, key: &str) -> Result<Option<Value>, StoreError> {
        dispatch!(self, session => RawSession::get_value(session, key).await)
    }

    async fn insert_value(&self, key: &str, value: Value) -> Result<(), StoreError> {
        dispatch!(self, session => RawSession::insert_value(session, key, value).await)
    }

    async fn remove(&self, key: &str) -> Result<bool, StoreError> {
        dispatch!(self, session => RawSession::remove(session, key).await)
    }

    async fn decode<V: DeserializeOwned>(&self, key: &str) -> Result<Option<V>, ValueError> {
        dispatch!(self, session => RawSession::decode(session, key).await)
    }

    async fn encode<V: Serialize + ?Sized + Sync>(
        &self,
        key: &str,
        value: &V,
    ) -> Result<(), ValueError> {
        dispatch!(self, session => RawSession::encode(session, key, value).await)
    }

    fn mark_derived(&self, key: &str) {
        dispatch!(self, session => RawSession::mark_derived(session, key));
    }

    fn mark_authenticated(&self) {
        dispatch!(self, session => RawSession::mark_authenticated(session));
    }

    async fn cycle_id(&self) -> Result<(), StoreError> {
        dispatch!(self, session => RawSession::cycle_id(session).await)
    }

    async fn flush(&self) -> Result<(), StoreError> {
        dispatch!(self, session => RawSession::flush(session).await)
    }

    fn id(&self) -> Option<String> {
        dispatch!(self, session => RawSession::id(session))
    }

    fn expiry(&self) -> Option<Expiry> {
        dispatch!(self, session => RawSession::expiry(session))
    }

    fn set_expiry(&self, expiry: Option<Expiry>) {
        dispatch!(self, session => RawSession::set_expiry(session, expiry));
    }
}
