//! The service [`SessionLayer`](super::SessionLayer) wraps around a router.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use http::{Request, Response};
use time::OffsetDateTime;
use tower_service::Service;
use tower_sessions_core::Session;

use super::Shared;
use super::commit::{Outcome, commit};
use super::error_page::{self, LayerError, default_response};
use super::locks::SessionGuard;
use super::session::{Base, Failure, LayerSession, Source};
use super::transport::{self, Presented};
use crate::cas::{CasStore, Loaded, SessionId, Touched};
use crate::expiry::Expiry;
use crate::raw::RawSession;

/// Gives each request a `tower_sessions::Session` and saves it after the
/// inner service answered. Made by [`SessionLayer`](super::SessionLayer).
pub struct SessionService<Inner, S> {
    inner: Inner,
    shared: Arc<Shared<S>>,
}

impl<Inner, S> SessionService<Inner, S> {
    pub(crate) fn new(inner: Inner, shared: Arc<Shared<S>>) -> Self {
        SessionService { inner, shared }
    }
}

impl<Inner: Clone, S> Clone for SessionService<Inner, S> {
    fn clone(&self) -> Self {
        SessionService {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<Inner: fmt::Debug, S> fmt::Debug for SessionService<Inner, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<Inner, S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<Inner, S>
where
    Inner: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    Inner::Future: Send,
    ReqBody: Send + 'static,
    ResBody: From<&'static str> + From<String> + Send + 'static,
    S: CasStore,
{
    type Response = Response<ResBody>;
    type Error = Inner::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let shared = Arc::clone(&self.shared);
        let presented = transport::read_id(&shared.settings, request.headers());
        let source: Arc<dyn Source> = Arc::clone(&shared) as Arc<dyn Source>;
        let (session, tower) =
            LayerSession::with_tower_view(source, presented.id, shared.settings.expiry);
        request.extensions_mut().insert(session.clone());
        request.extensions_mut().insert(tower.clone());
        let asked =
            error_page::keep_headers(shared.settings.error_page.as_ref(), request.headers());

        // The clone that was driven to readiness serves this request.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            let response = inner.call(request).await?;
            let response = finish(&shared, presented, &session, &tower, response).await;
            Ok(error_page::customise(
                shared.settings.error_page.as_ref(),
                asked.as_ref(),
                response,
            ))
        })
    }
}

#[async_trait]
impl<S: CasStore> Source for Shared<S> {
    async fn load(&self, id: SessionId, arrived: OffsetDateTime) -> (Base, Option<SessionGuard>) {
        let Some(guard) = self.locks.acquire(id, self.settings.lock_wait).await else {
            tracing::warn!(
                waited_ms = self.settings.lock_wait.as_millis(),
                "other requests of this session held it too long; answering 503"
            );
            return (Base::Failed(Failure::Busy), None);
        };
        let base = match self.store.load(&id).await {
            Ok(Loaded::Live { record, revision }) => Base::Live {
                id: record.id,
                revision,
                data: record.data,
                expiry_date: record.expiry_date,
            },
            Ok(Loaded::Ended { ended_at })
                if arrived < ended_at.saturating_add(self.settings.ended_id_window) =>
            {
                tracing::debug!("the request carries the id of a session that has just ended");
                Base::Ended
            }
            Ok(Loaded::Ended { ended_at }) => {
                // The browser never got the id that replaced this one (a lost
                // response): it starts afresh instead of meeting errors until
                // the store forgets the id.
                tracing::info!(
                    ended_seconds_ago = (arrived - ended_at).whole_seconds(),
                    "a request carries the id of a session ended before it was sent; it starts a new session"
                );
                Base::Missing
            }
            Ok(Loaded::Missing) => Base::Missing,
            Err(error) => {
                tracing::error!(%error, "the session store failed to load a session");
                Base::Failed(if error.is_corrupt_record() {
                    Failure::Corrupt
                } else {
                    Failure::Unavailable
                })
            }
        };
        (base, Some(guard))
    }
}

/// Saves the session the handler left behind and tells the client its id.
/// Whatever happens, the session's lock is released when it returns, even
/// if a handler kept a clone of the session beyond its response.
async fn finish<S: CasStore, B: From<&'static str>>(
    shared: &Shared<S>,
    presented: Presented,
    session: &LayerSession,
    tower: &Session,
    mut response: Response<B>,
) -> Response<B> {
    let inner = &session.inner;
    if let Err(failure) = adopt_tower_view(session, tower).await {
        drop(inner.finish());
        return failure_response(failure);
    }
    if let Some(Base::Failed(failure)) = inner.loaded_base() {
        let failure = *failure;
        drop(inner.finish());
        return failure_response(failure);
    }
    if response.status().is_server_error() {
        tracing::debug!(status = %response.status(), "the handler failed; the session is not saved");
        drop(inner.finish());
        return response;
    }
    let expiry = session.expiry();
    let refresh = presented.id.is_some() && matches!(expiry, Some(Expiry::OnInactivity(_)));
    if inner.loaded_base().is_none() && !inner.has_changes() {
        // The handler used no session data: no lock, no load. Under
        // `Expiry::OnInactivity` the idle deadline still moves, at most once
        // per `IDLE_REFRESH_INTERVAL`.
        drop(inner.finish());
        if refresh {
            touch(shared, presented, expiry, response.headers_mut()).await;
        }
        return response;
    }
    if inner.loaded_base().is_none() {
        // A write that never read (a log out, a blind set) still builds on
        // the stored record, under the session's lock.
        if inner.base().await.is_err() {
            let failure = match inner.loaded_base() {
                Some(Base::Failed(failure)) => *failure,
                _ => Failure::Unavailable,
            };
            drop(inner.finish());
            return failure_response(failure);
        }
    }
    let state = inner.finish();
    let Some(base) = inner.loaded_base() else {
        // Nothing was read or written.
        return response;
    };
    let outcome = commit(
        shared.store.as_ref(),
        base,
        state,
        refresh,
        shared.settings.record_limit,
    )
    .await;

    let settings = &shared.settings;
    match outcome {
        Outcome::Unchanged => {
            // A live session whose cookie an older key sealed: the cookie
            // goes back sealed with the first key.
            if let (true, Base::Live { id, .. }) = (presented.stale_key, base) {
                transport::write_id(
                    settings,
                    presented.carrier,
                    response.headers_mut(),
                    Some(*id),
                    expiry,
                );
            }
        }
        Outcome::Stored { id, new_id } => {
            if new_id || presented.stale_key || refreshes_cookie(expiry) {
                transport::write_id(
                    settings,
                    presented.carrier,
                    response.headers_mut(),
                    Some(id),
                    expiry,
                );
            }
        }
        Outcome::Ended => {
            transport::write_id(
                settings,
                presented.carrier,
                response.headers_mut(),
                None,
                None,
            );
        }
        Outcome::Conflict => return conflict_response(),
        Outcome::EndedElsewhere => return ended_response(),
        Outcome::Unavailable => return failure_response(Failure::Unavailable),
        Outcome::Corrupt | Outcome::TooLarge => return failure_response(Failure::Corrupt),
    }
    response
}

/// The longest a request that uses no session data leaves the idle
/// deadline unmoved: a minute, or half the idle timeout if that is shorter.
pub(crate) const IDLE_REFRESH_INTERVAL: time::Duration = time::Duration::minutes(1);

/// Moves the idle deadline of the session the request presented, without
/// its lock, when it last moved more than [`IDLE_REFRESH_INTERVAL`] ago,
/// and then sends the cookie again with its new lifetime. A failure is
/// logged and costs the request nothing: it used no session data.
async fn touch<S: CasStore>(
    shared: &Shared<S>,
    presented: Presented,
    expiry: Option<Expiry>,
    headers: &mut http::HeaderMap,
) {
    let (Some(id), Some(Expiry::OnInactivity(idle))) = (presented.id, expiry) else {
        return;
    };
    let now = OffsetDateTime::now_utc();
    let expiry_date = now.saturating_add(idle);
    let interval = IDLE_REFRESH_INTERVAL.min(idle / 2);
    match shared
        .store
        .touch(&id, expiry_date, expiry_date.saturating_sub(interval))
        .await
    {
        Ok(Touched::Moved) => {
            transport::write_id(
                &shared.settings,
                presented.carrier,
                headers,
                Some(id),
                expiry,
            );
        }
        Ok(Touched::Recent | Touched::Missing) => {}
        Err(error) => {
            tracing::warn!(%error, "the idle deadline of a session could not be moved");
        }
    }
}

/// Takes in what raw tower-sessions code did to the request's `Session`:
/// its unsaved writes, and an expiry it set.
async fn adopt_tower_view(session: &LayerSession, tower: &Session) -> Result<(), Failure> {
    if !tower.is_modified() {
        return Ok(());
    }
    if tower.save().await.is_err() {
        return Err(match session.inner.loaded_base() {
            Some(Base::Failed(failure)) => *failure,
            _ => Failure::Unavailable,
        });
    }
    let set_by_tower = tower.expiry().map(Expiry::from);
    if set_by_tower != session.expiry() && !session.inner.expiry_changed() {
        session.set_expiry(set_by_tower);
    }
    Ok(())
}

/// Whether a save under an id the client already has must still send the
/// cookie: only to move its `Max-Age` or `Expires`. Sending it otherwise
/// would let a response that was overtaken by a login's response put the
/// old, dead id back into the browser.
fn refreshes_cookie(expiry: Option<Expiry>) -> bool {
    matches!(
        expiry,
        Some(Expiry::OnInactivity(_) | Expiry::AtDateTime(_))
    )
}

fn conflict_response<B: From<&'static str>>() -> Response<B> {
    default_response(LayerError::Conflict)
}

fn ended_response<B: From<&'static str>>() -> Response<B> {
    default_response(LayerError::Ended)
}

fn failure_response<B: From<&'static str>>(failure: Failure) -> Response<B> {
    default_response(match failure {
        Failure::Busy => LayerError::Busy,
        Failure::Unavailable => LayerError::Unavailable,
        Failure::Corrupt => LayerError::Failed,
    })
}
