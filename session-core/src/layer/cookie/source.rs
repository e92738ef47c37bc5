//! Where a cookie session's data comes from: the cookie the request
//! brought, asked about once, on first use, whether the app revoked it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use time::OffsetDateTime;

use super::payload::Payload;
use super::revocation::Revocation;
use crate::cas::{Revision, SessionId};
use crate::layer::locks::SessionGuard;
use crate::layer::session::{Base, Failure, LayerSession, Source};

/// The cookie a request brought.
#[derive(Debug, Default)]
pub(super) enum Brought {
    /// None of the layer's name.
    #[default]
    Nothing,
    /// One that gives no session: tampered, expired or malformed. The
    /// response removes it unless it sends a new session.
    Refused,
    /// A session within its deadlines (and not revoked, until the
    /// revocation check says otherwise).
    Session(Opened),
}

/// A session the request's cookie held.
#[derive(Debug)]
pub(super) struct Opened {
    pub(super) payload: Payload,
    /// Sealed with a key other than the first: to be sealed again.
    pub(super) stale_key: bool,
}

/// The base of one request's [`LayerSession`] in cookie mode: the opened
/// cookie, checked against the app's [`Revocation`] when the handler first
/// uses the session.
pub(super) struct CookieSource<R> {
    brought: Brought,
    revocation: Option<Arc<R>>,
    /// The revocation check refused the session.
    revoked: AtomicBool,
}

impl<R> CookieSource<R> {
    pub(super) fn new(brought: Brought, revocation: Option<Arc<R>>) -> Self {
        CookieSource {
            brought,
            revocation,
            revoked: AtomicBool::new(false),
        }
    }

    /// The session the cookie held, unless the revocation check refused
    /// it.
    pub(super) fn opened(&self) -> Option<&Opened> {
        match &self.brought {
            Brought::Session(opened) if !self.revoked.load(Ordering::Acquire) => Some(opened),
            _ => None,
        }
    }

    /// Whether the request brought a cookie of the layer's name.
    pub(super) fn brought_any(&self) -> bool {
        !matches!(self.brought, Brought::Nothing)
    }
}

#[async_trait]
impl<R: Revocation> Source for CookieSource<R> {
    async fn load(&self, _id: SessionId, _arrived: OffsetDateTime) -> (Base, Option<SessionGuard>) {
        let Brought::Session(opened) = &self.brought else {
            return (Base::Missing, None);
        };
        let payload = &opened.payload;
        if let Some(revocation) = &self.revocation {
            let view = LayerSession::read_only(payload.id, payload.data.clone());
            match revocation.sessions_valid_after(&view).await {
                Ok(Some(after)) if payload.issued_before(after) => {
                    tracing::info!(
                        issued = payload.issued,
                        "a revoked session cookie was presented; the session reads as empty"
                    );
                    self.revoked.store(true, Ordering::Release);
                    return (Base::Missing, None);
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::error!(%error, "the session revocation check failed; answering 503");
                    return (Base::Failed(Failure::Unavailable), None);
                }
            }
        }
        let base = Base::Live {
            id: payload.id,
            revision: Revision::FIRST,
            data: payload.data.clone(),
            expiry_date: OffsetDateTime::from_unix_timestamp(payload.ends_at())
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        };
        (base, None)
    }
}
