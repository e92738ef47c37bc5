//! How the responses a session layer gives instead of the app's look: plain
//! text by default, or whatever the app's hook renders.
//!
//! Both layers answer a few requests themselves: `409 Conflict` when a
//! concurrent request changed the same data or ended the session, `503` when
//! the store is unavailable or the session is busy, `500` when the session
//! could not be read or written. Each is a [`LayerError`]; a hook given to
//! `with_error_page` on either builder turns it into the app's own page.

use std::fmt;
use std::sync::Arc;

use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, Response, StatusCode};

/// Why a session layer answered a request itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LayerError {
    /// `409`: a concurrent request changed the same session data; nothing
    /// was saved.
    Conflict,
    /// `409`: the session was ended by another request (a log out or a log
    /// in); nothing was saved.
    Ended,
    /// `503` with `Retry-After: 1`: other requests of this session are still
    /// running in this instance.
    Busy,
    /// `503`: the session store (or the revocation check of cookie
    /// sessions) is unavailable.
    Unavailable,
    /// `500`: the session could not be read or written (a stored record
    /// that does not decode, a record over `SessionLayer`'s record limit, a
    /// cookie that cannot be sealed).
    Failed,
}

impl LayerError {
    /// The status the layer answers with; a hook cannot change it.
    #[must_use]
    pub fn status(self) -> StatusCode {
        match self {
            LayerError::Conflict | LayerError::Ended => StatusCode::CONFLICT,
            LayerError::Busy | LayerError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            LayerError::Failed => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The plain English text the layer answers with when no hook is set.
    #[must_use]
    pub fn message(self) -> &'static str {
        match self {
            LayerError::Conflict => {
                "A concurrent request changed the same session data; nothing was saved. Retry the request."
            }
            LayerError::Ended => {
                "This session was ended by another request (a log out or a log in); nothing was saved. \
                 Reload the page to continue."
            }
            LayerError::Busy => "Other requests of this session are still running; retry shortly.",
            LayerError::Unavailable => "The session store is unavailable; try again shortly.",
            LayerError::Failed => "The session could not be read or written.",
        }
    }
}

/// What an error page hook is asked to render: the error and the headers of
/// the request it answers (for `Accept-Language`, `Accept`, ...). The
/// session itself cannot be read here: it is the thing that failed.
#[derive(Debug)]
pub struct ErrorPageRequest<'a> {
    error: LayerError,
    headers: &'a HeaderMap,
}

impl ErrorPageRequest<'_> {
    /// Why the layer answers.
    #[must_use]
    pub fn error(&self) -> LayerError {
        self.error
    }

    /// The status of the response, [`LayerError::status`].
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.error.status()
    }

    /// The headers of the request.
    #[must_use]
    pub fn headers(&self) -> &HeaderMap {
        self.headers
    }
}

/// The body of an error page and its media type. The layer adds the status,
/// `Cache-Control: no-store` and, for [`LayerError::Busy`], `Retry-After`;
/// it never sets a cookie on these responses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorPage {
    content_type: HeaderValue,
    body: String,
}

impl ErrorPage {
    /// An HTML page (`text/html; charset=utf-8`).
    #[must_use]
    pub fn html(body: impl Into<String>) -> Self {
        ErrorPage {
            content_type: HeaderValue::from_static("text/html; charset=utf-8"),
            body: body.into(),
        }
    }

    /// Plain text (`text/plain; charset=utf-8`).
    #[must_use]
    pub fn text(body: impl Into<String>) -> Self {
        ErrorPage {
            content_type: HeaderValue::from_static("text/plain; charset=utf-8"),
            body: body.into(),
        }
    }

    /// A body of another media type, such as `application/problem+json`.
    #[must_use]
    pub fn with_content_type(content_type: HeaderValue, body: impl Into<String>) -> Self {
        ErrorPage {
            content_type,
            body: body.into(),
        }
    }

    /// The media type of the body.
    #[must_use]
    pub fn content_type(&self) -> &HeaderValue {
        &self.content_type
    }

    /// The body.
    #[must_use]
    pub fn body(&self) -> &str {
        &self.body
    }
}

type Render = dyn Fn(&ErrorPageRequest<'_>) -> ErrorPage + Send + Sync;

/// An app's error page hook, shared by every request of a layer.
#[derive(Clone)]
pub(crate) struct ErrorPages(Arc<Render>);

impl ErrorPages {
    pub(crate) fn new(
        render: impl Fn(&ErrorPageRequest<'_>) -> ErrorPage + Send + Sync + 'static,
    ) -> Self {
        ErrorPages(Arc::new(render))
    }
}

impl fmt::Debug for ErrorPages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ErrorPages(..)")
    }
}

/// Marks a response as the layer's own, so that only those are re-rendered:
/// private, so a handler cannot have its response replaced.
#[derive(Clone, Copy)]
struct Answered(LayerError);

/// The layer's default response for `error`: plain text, never cached, and
/// marked for [`customise`].
pub(crate) fn default_response<B: From<&'static str>>(error: LayerError) -> Response<B> {
    let mut response = Response::new(B::from(error.message()));
    *response.status_mut() = error.status();
    response.extensions_mut().insert(Answered(error));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if error == LayerError::Busy {
        headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// The request headers a hook will need, kept only when there is a hook.
pub(crate) fn keep_headers(pages: Option<&ErrorPages>, headers: &HeaderMap) -> Option<HeaderMap> {
    pages.map(|_| headers.clone())
}

/// Replaces the body of the layer's own response by the hook's page; any
/// other response passes unchanged.
pub(crate) fn customise<B: From<String>>(
    pages: Option<&ErrorPages>,
    headers: Option<&HeaderMap>,
    mut response: Response<B>,
) -> Response<B> {
    let (Some(pages), Some(headers)) = (pages, headers) else {
        return response;
    };
    let Some(Answered(error)) = response.extensions_mut().remove::<Answered>() else {
        return response;
    };
    let page = (pages.0)(&ErrorPageRequest { error, headers });
    let (mut parts, _) = response.into_parts();
    parts.headers.insert(CONTENT_TYPE, page.content_type);
    Response::from_parts(parts, B::from(page.body))
}

/// The builder method both layers share: each builder keeps a field
/// `settings: Settings`. `$example` is a doctest showing it on that builder.
macro_rules! error_page_setter {
    ($example:literal) => {
        /// Renders the responses the layer gives instead of the app's (the
        /// `409`s, `503`s and `500` of [`LayerError`]) with `render`, for
        /// example as HTML pages in the visitor's language. The status,
        /// `Cache-Control: no-store` and `Retry-After` stay the layer's.
        /// Without a hook they are short plain English text
        /// ([`LayerError::message`]).
        ///
        /// The hook gets the request's headers, not its session: that is
        /// what failed. With a hook set, each request's headers are kept
        /// until its response is ready.
        ///
        /// [`LayerError`]: crate::layer::LayerError
        /// [`LayerError::message`]: crate::layer::LayerError::message
        ///
        /// # Examples
        ///
        #[doc = $example]
        pub fn with_error_page(
            mut self,
            render: impl Fn(&$crate::layer::ErrorPageRequest<'_>) -> $crate::layer::ErrorPage
            + Send
            + Sync
            + 'static,
        ) -> Self {
            self.settings.error_page = Some($crate::layer::error_page::ErrorPages::new(render));
            self
        }
    };
}
pub(crate) use error_page_setter;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_layers_own_responses_are_rendered_by_the_hook() {
        let pages = ErrorPages::new(|request| {
            ErrorPage::html(format!(
                "<p>{} {:?}</p>",
                request.status().as_u16(),
                request.headers().get("accept-language")
            ))
        });
        let mut headers = HeaderMap::new();
        headers.insert("accept-language", HeaderValue::from_static("fr"));

        let busy: Response<String> = default_response(LayerError::Busy);
        assert_eq!(busy.body(), LayerError::Busy.message());
        let busy = customise(Some(&pages), Some(&headers), busy);
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.body(), "<p>503 Some(\"fr\")</p>");
        assert_eq!(busy.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(busy.headers()[RETRY_AFTER], "1");
        assert_eq!(busy.headers()[CACHE_CONTROL], "no-store");

        let mut app = Response::new(String::from("the app's own 409"));
        *app.status_mut() = StatusCode::CONFLICT;
        let app = customise(Some(&pages), Some(&headers), app);
        assert_eq!(app.body(), "the app's own 409");

        let plain: Response<String> = default_response(LayerError::Failed);
        let plain = customise(None, None, plain);
        assert_eq!(plain.body(), "The session could not be read or written.");
    }
}
