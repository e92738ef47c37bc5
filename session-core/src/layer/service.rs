//! The service [`SessionLayer`](super::SessionLayer) wraps around a router.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;
use tower_sessions_core::{Expiry, Session};

use super::Shared;
use super::commit::{Outcome, commit};
use super::error_page::{self, LayerError, default_response};
use super::request_store::{Failure, RequestState, RequestStore, lock_state};
use super::transport::{self, Presented};
use crate::cas::CasStore;

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
        let state = Arc::new(Mutex::new(RequestState::default()));
        let store = RequestStore::new(
            Arc::clone(&shared.store),
            Arc::clone(&shared.locks),
            shared.settings.lock_wait,
            Arc::clone(&state),
        );
        let session = Session::new(presented.id, Arc::new(store), shared.settings.expiry);
        request.extensions_mut().insert(session.clone());
        let asked = error_page::keep_headers(shared.settings.error_page.as_ref(), request.headers());

        // The clone that was driven to readiness serves this request.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            let response = inner.call(request).await?;
            let response = finish(&shared, presented, &session, &state, response).await;
            Ok(error_page::customise(
                shared.settings.error_page.as_ref(),
                asked.as_ref(),
                response,
            ))
        })
    }
}

/// Saves the session the handler left behind and tells the client its id.
async fn finish<S: CasStore, B: From<&'static str>>(
    shared: &Shared<S>,
    presented: Presented,
    session: &Session,
    state: &Mutex<RequestState>,
    response: Response<B>,
) -> Response<B> {
    let response = save_and_answer(shared, presented, session, state, response).await;
    // Whatever happened, the next request of this session may go now, even
    // if a handler kept a clone of the `Session` beyond its response.
    drop(lock_state(state).guard.take());
    response
}

async fn save_and_answer<S: CasStore, B: From<&'static str>>(
    shared: &Shared<S>,
    presented: Presented,
    session: &Session,
    state: &Mutex<RequestState>,
    mut response: Response<B>,
) -> Response<B> {
    if let Some(failure) = lock_state(state).failure {
        return failure_response(failure);
    }
    if response.status().is_server_error() {
        tracing::debug!(status = %response.status(), "the handler failed; the session is not saved");
        return response;
    }
    lock_state(state).committing = true;
    if needs_save(session).await && session.save().await.is_err() {
        // Only loading can fail before the commit; the store recorded why.
        let failure = lock_state(state).failure.unwrap_or(Failure::Unavailable);
        return failure_response(failure);
    }
    let mut taken = std::mem::take(&mut *lock_state(state));
    // Hold this session's lock until the commit is done.
    let guard = taken.guard.take();
    let outcome = match taken.outcome.take() {
        Some(done_while_saving) => done_while_saving,
        None => commit(shared.store.as_ref(), taken).await,
    };
    drop(guard);

    let settings = &shared.settings;
    match outcome {
        Outcome::Unchanged => {}
        Outcome::Stored { id, new_id } => {
            if new_id || refreshes_cookie(session.expiry()) {
                transport::write_id(
                    settings,
                    presented.carrier,
                    response.headers_mut(),
                    Some(id),
                    session.expiry(),
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
    }
    response
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

/// Whether the session has something to write: a change, or an expiry to
/// refresh, and in both cases data or an id.
async fn needs_save(session: &Session) -> bool {
    let refreshes = matches!(session.expiry(), Some(Expiry::OnInactivity(_)));
    (session.is_modified() || refreshes) && !session.is_empty().await
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
