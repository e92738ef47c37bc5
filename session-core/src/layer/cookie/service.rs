//! The service [`CookieSessionLayer`](super::CookieSessionLayer) wraps
//! around a router: it opens the cookie before the handler and seals the
//! session after it.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Request, Response};
use time::OffsetDateTime;
use tower_service::Service;
use tower_sessions_core::{Expiry, Session};

use super::Shared;
use super::limit::{COOKIE_SIZE_LIMIT, LONGEST_OPENED, too_large};
use super::outcome::{Outcome, decide};
use super::payload::{Payload, Rejection};
use super::request_store::{Brought, Check, CookieStore, Opened, RequestState, lock_state};
use super::revocation::Revocation;
use crate::clock::Clock;
use crate::error::SessionError;
use crate::layer::error_page::{self, LayerError, default_response};
use crate::layer::transport::{base_cookie, forbid_caching, removal_cookie};

/// Gives each request a `tower_sessions::Session` over the session its
/// cookie holds, and sends the session back sealed. Made by
/// [`CookieSessionLayer`](super::CookieSessionLayer).
pub struct CookieSessionService<Inner, R> {
    inner: Inner,
    shared: Arc<Shared<R>>,
}

impl<Inner, R> CookieSessionService<Inner, R> {
    pub(super) fn new(inner: Inner, shared: Arc<Shared<R>>) -> Self {
        CookieSessionService { inner, shared }
    }
}

impl<Inner: Clone, R> Clone for CookieSessionService<Inner, R> {
    fn clone(&self) -> Self {
        CookieSessionService {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<Inner: fmt::Debug, R> fmt::Debug for CookieSessionService<Inner, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieSessionService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<Inner, R, ReqBody, ResBody> Service<Request<ReqBody>> for CookieSessionService<Inner, R>
where
    Inner: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    Inner::Future: Send,
    ReqBody: Send + 'static,
    ResBody: From<&'static str> + From<String> + Send + 'static,
    R: Revocation,
{
    type Response = Response<ResBody>;
    type Error = Inner::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let shared = Arc::clone(&self.shared);
        // The layer's clock, else the one the app gave its typed handles,
        // else the system's; the handles then read the same one.
        let clock = match (&shared.clock, request.extensions().get::<Clock>()) {
            (Some(clock), _) | (None, Some(clock)) => clock.clone(),
            (None, None) => Clock::system(),
        };
        if request.extensions().get::<Clock>().is_none() {
            request.extensions_mut().insert(clock.clone());
        }
        let now = clock.now();
        let state = open(&shared, request.headers(), now);
        let opened = state.brought.opened();
        let id = opened.map(|opened| opened.payload.id);
        // So that `Session::expiry_date` tells the handler when the session
        // ends, if nothing uses it before.
        let ends_at = opened.map_or_else(
            || shared.timeouts.new_session_ends_at(now),
            |opened| opened.payload.ends_at(),
        );
        let expiry = OffsetDateTime::from_unix_timestamp(ends_at)
            .ok()
            .map(Expiry::AtDateTime);
        let state = Arc::new(Mutex::new(state));
        let store = CookieStore::new(Arc::clone(&state), shared.revocation.clone());
        let session = Session::new(id, Arc::new(store), expiry);
        request.extensions_mut().insert(session.clone());
        let asked =
            error_page::keep_headers(shared.settings.error_page.as_ref(), request.headers());

        // The clone that was driven to readiness serves this request.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            let response = inner.call(request).await?;
            let response = finish(&shared, &clock, &session, &state, response).await;
            Ok(error_page::customise(
                shared.settings.error_page.as_ref(),
                asked.as_ref(),
                response,
            ))
        })
    }
}

/// The values of every cookie named `name` the request brings, read
/// leniently: a header that is not valid UTF-8 or a pair that is not a
/// well-formed cookie still counts as presented (and is then refused and
/// removed), so a mangled cookie never lingers in the browser.
fn presented<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = String> + 'a {
    headers
        .get_all(COOKIE)
        .iter()
        .map(|value| String::from_utf8_lossy(value.as_bytes()))
        .flat_map(move |text: Cow<'_, str>| {
            text.split(';')
                .filter_map(|pair| {
                    let (key, value) = pair.split_once('=')?;
                    (key.trim() == name).then(|| value.trim().to_owned())
                })
                .collect::<Vec<_>>()
        })
}

/// Opens the request's cookie: the first one of the layer's name that a
/// key opens, that decodes, and whose deadlines have not passed.
fn open<R>(shared: &Shared<R>, headers: &HeaderMap, now: OffsetDateTime) -> RequestState {
    let mut refusal = None;
    for value in presented(headers, &shared.settings.name) {
        match open_one(shared, &value, now) {
            Ok(opened) => {
                return RequestState {
                    brought: Brought::Session(opened),
                    ..RequestState::default()
                };
            }
            Err(rejection) => refusal = Some(rejection),
        }
    }
    let Some(rejection) = refusal else {
        return RequestState::default();
    };
    tracing::debug!(
        reason = rejection.reason(),
        "a session cookie was refused; the session starts empty and the cookie is removed"
    );
    RequestState {
        brought: Brought::Refused,
        ..RequestState::default()
    }
}

fn open_one<R>(shared: &Shared<R>, value: &str, now: OffsetDateTime) -> Result<Opened, Rejection> {
    if value.len() > LONGEST_OPENED {
        return Err(Rejection::Oversized);
    }
    let (plaintext, stale_key) = shared
        .keys
        .open(&shared.settings.name, value)
        .ok_or(Rejection::Unopened)?;
    let mut payload = Payload::decode(&plaintext)?;
    payload.absolute_until = shared
        .timeouts
        .absolute_until(payload.issued, payload.absolute_until);
    payload.check_deadlines(now)?;
    Ok(Opened { payload, stale_key })
}

/// Seals the session the handler left behind into the response, or
/// removes the cookie.
async fn finish<R: Revocation, B: From<&'static str>>(
    shared: &Shared<R>,
    clock: &Clock,
    session: &Session,
    state: &Mutex<RequestState>,
    mut response: Response<B>,
) -> Response<B> {
    if lock_state(state).revocation == Check::Failed {
        return unavailable();
    }
    if response.status().is_server_error() {
        tracing::debug!(status = %response.status(), "the handler failed; the session cookie is not sent");
        return response;
    }
    // Only the revocation check can make a save fail, and it logged why.
    if session.is_modified() && session.save().await.is_err() {
        return unavailable();
    }
    let now = clock.now();
    let taken = std::mem::take(&mut *lock_state(state));
    let header = match decide(taken, &shared.timeouts, now) {
        Outcome::Keep => return response,
        Outcome::Remove => HeaderValue::from_str(&removal_cookie(&shared.settings).to_string()),
        Outcome::Send(payload) => match sealed(shared, &payload, now) {
            Ok(header) => Ok(header),
            Err(Unsent::TooLarge(error)) => {
                tracing::error!(error = %error, "session operation failed");
                return server_error();
            }
            Err(Unsent::Failed(why)) => {
                tracing::error!("the session cookie could not be sealed: {why}");
                return server_error();
            }
        },
    };
    match header {
        Ok(header) => {
            let headers = response.headers_mut();
            headers.append(SET_COOKIE, header);
            forbid_caching(headers);
            response
        }
        Err(_) => {
            tracing::error!("the session cookie is not a valid header value");
            server_error()
        }
    }
}

/// Why a session was not sent.
pub(super) enum Unsent {
    /// Over [`COOKIE_SIZE_LIMIT`].
    TooLarge(SessionError),
    /// Serialization or sealing failed (neither can for a JSON map).
    Failed(&'static str),
}

/// The `Set-Cookie` header value carrying `payload`, measured whole.
pub(super) fn sealed<R>(
    shared: &Shared<R>,
    payload: &Payload,
    now: OffsetDateTime,
) -> Result<HeaderValue, Unsent> {
    let plaintext = payload
        .encode()
        .map_err(|_| Unsent::Failed("the payload does not serialize"))?;
    let value = shared
        .keys
        .seal(&shared.settings.name, &plaintext)
        .ok_or(Unsent::Failed("the private jar returned no cookie"))?;
    let mut cookie = base_cookie(&shared.settings, value);
    let left = payload
        .ends_at()
        .saturating_sub(now.unix_timestamp())
        .max(1);
    cookie.set_max_age(time::Duration::seconds(left));
    let text = cookie.to_string();
    if text.len() > COOKIE_SIZE_LIMIT {
        return Err(Unsent::TooLarge(too_large(text.len(), &payload.data)));
    }
    HeaderValue::from_str(&text).map_err(|_| Unsent::Failed("the cookie is not a header value"))
}

fn server_error<B: From<&'static str>>() -> Response<B> {
    default_response(LayerError::Failed)
}

fn unavailable<B: From<&'static str>>() -> Response<B> {
    default_response(LayerError::Unavailable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                COOKIE,
                HeaderValue::from_bytes(value).expect("a header value"),
            );
        }
        headers
    }

    #[test]
    fn cookies_are_found_leniently() {
        let found: Vec<String> = presented(
            &headers(&[b"a=1; id=first", b"id = second ;x=y", b"id=\xff\xfe; id"]),
            "id",
        )
        .collect();
        assert_eq!(found, ["first", "second", "\u{fffd}\u{fffd}"]);
        assert_eq!(presented(&headers(&[b"idx=1; xid=2"]), "id").count(), 0);
    }
}
