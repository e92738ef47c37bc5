//! The service [`CookieSessionLayer`](super::CookieSessionLayer) wraps
//! around a router: it opens the cookie before the handler and seals the
//! session after it.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Request, Response};
use time::OffsetDateTime;
use tower_service::Service;
use tower_sessions_core::Session;

use super::Shared;
use super::limit::{COOKIE_SIZE_LIMIT, LONGEST_OPENED, too_large};
use super::outcome::{self, Outcome, decide};
use super::payload::{Payload, Rejection};
use super::revocation::Revocation;
use super::source::{Brought, CookieSource, Opened};
use crate::cas::SessionId;
use crate::clock::Clock;
use crate::error::SessionError;
use crate::expiry::Expiry;
use crate::layer::error_page::{self, LayerError, default_response};
use crate::layer::session::{Base, LayerSession, Source};
use crate::layer::transport::{forbid_caching, removal_cookie, set_cookie};

/// Gives each request the session its cookie holds, as a
/// [`LayerSession`] for the typed handles and a `tower_sessions::Session`
/// for raw code (one session, two views), and sends it back sealed. Made by
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
        let brought = open(&shared, request.headers(), now);
        let opened = match &brought {
            Brought::Session(opened) => Some(&opened.payload),
            Brought::Nothing | Brought::Refused => None,
        };
        let id = opened.map(|payload| payload.id);
        // So that `expiry` (and tower-sessions' `expiry_date`) tell the
        // handler when the session ends.
        let ends_at = opened.map_or_else(
            || shared.timeouts.new_session_ends_at(now),
            Payload::ends_at,
        );
        let expiry = OffsetDateTime::from_unix_timestamp(ends_at)
            .ok()
            .map(Expiry::AtDateTime);
        let source = Arc::new(CookieSource::new(brought, shared.revocation.clone()));
        let (session, tower) =
            LayerSession::with_tower_view(Arc::clone(&source) as Arc<dyn Source>, id, expiry);
        request.extensions_mut().insert(session.clone());
        request.extensions_mut().insert(tower.clone());
        let asked =
            error_page::keep_headers(shared.settings.error_page.as_ref(), request.headers());

        // The clone that was driven to readiness serves this request.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            let response = inner.call(request).await?;
            let response = finish(&shared, &clock, &source, &session, &tower, response).await;
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
fn open<R>(shared: &Shared<R>, headers: &HeaderMap, now: OffsetDateTime) -> Brought {
    let mut refusal = None;
    for value in presented(headers, &shared.settings.name) {
        match open_one(shared, &value, now) {
            Ok(opened) => return Brought::Session(opened),
            Err(rejection) => refusal = Some(rejection),
        }
    }
    let Some(rejection) = refusal else {
        return Brought::Nothing;
    };
    tracing::debug!(
        reason = rejection.reason(),
        "a session cookie was refused; the session starts empty and the cookie is removed"
    );
    Brought::Refused
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
    source: &CookieSource<R>,
    session: &LayerSession,
    tower: &Session,
    response: Response<B>,
) -> Response<B> {
    let inner = &session.inner;
    // What raw tower-sessions code wrote; only the revocation check can
    // make this fail, and it logged why.
    if tower.is_modified() && tower.save().await.is_err() {
        drop(inner.finish());
        return unavailable();
    }
    if let Some(Base::Failed(_)) = inner.loaded_base() {
        drop(inner.finish());
        return unavailable();
    }
    if response.status().is_server_error() {
        tracing::debug!(status = %response.status(), "the handler failed; the session cookie is not sent");
        drop(inner.finish());
        return response;
    }
    let state = inner.finish();
    let now = clock.now();
    let request = outcome::Request {
        brought_cookie: source.brought_any(),
        opened: source.opened(),
        used: inner.loaded_base().is_some(),
        changes: &state.changes,
        cleared: state.cleared,
        new_id: state.end_id,
        authenticated: state.authenticated,
    };
    let payload = match decide(&request, &shared.timeouts, now) {
        Outcome::Keep => return response,
        Outcome::Remove => {
            return match HeaderValue::from_str(&removal_cookie(&shared.settings).to_string()) {
                Ok(header) => with_cookie(response, header),
                Err(_) => not_a_header(),
            };
        }
        Outcome::Send(payload) => payload,
        Outcome::Issue(data, lifetime) => match SessionId::random() {
            Ok(id) => shared.timeouts.issue(id, data, lifetime, now),
            Err(error) => {
                tracing::error!(%error, "no id could be drawn for a new cookie session");
                return server_error();
            }
        },
    };
    match sealed(shared, &payload, now) {
        Ok(header) => with_cookie(response, header),
        Err(Unsent::TooLarge(error)) => {
            tracing::error!(error = %error, "session operation failed");
            server_error()
        }
        Err(Unsent::Failed(why)) => {
            tracing::error!("the session cookie could not be sealed: {why}");
            server_error()
        }
    }
}

/// `response` with `header` as its `Set-Cookie`, not to be cached.
fn with_cookie<B>(mut response: Response<B>, header: HeaderValue) -> Response<B> {
    let headers = response.headers_mut();
    headers.append(SET_COOKIE, header);
    forbid_caching(headers);
    response
}

fn not_a_header<B: From<&'static str>>() -> Response<B> {
    tracing::error!("the session cookie is not a valid header value");
    server_error()
}

/// Why a session was not sent.
pub(super) enum Unsent {
    /// Over [`COOKIE_SIZE_LIMIT`].
    TooLarge(SessionError),
    /// Sealing failed (it cannot for a JSON text).
    Failed(&'static str),
}

/// The `Set-Cookie` header value carrying `payload`, measured whole.
pub(super) fn sealed<R>(
    shared: &Shared<R>,
    payload: &Payload,
    now: OffsetDateTime,
) -> Result<HeaderValue, Unsent> {
    let plaintext = payload.encode();
    let value = shared
        .keys
        .seal(&shared.settings.name, &plaintext)
        .ok_or(Unsent::Failed("the private jar returned no cookie"))?;
    let left = payload
        .ends_at()
        .saturating_sub(now.unix_timestamp())
        .max(1);
    let text = set_cookie(
        &shared.settings,
        &value,
        Some(time::Duration::seconds(left)),
    );
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
