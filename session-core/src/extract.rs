//! The typed handles as axum extractors, and errors as responses.

use axum_core::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use crate::clock::Clock;
use crate::error::SessionError;
use crate::request_session::RequestSession;

/// Why a typed handle could not be extracted from a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionRejection {
    /// The request carries no `tower_sessions::Session`: the router lacks a
    /// session layer.
    #[error(
        "`{handle}` needs a session layer: add `.layer(session_core::layer::SessionLayer::builder(store).build()?)` \
         (or `CookieSessionLayer`, or tower-sessions' `SessionManagerLayer::new(store)`) to the router, \
         outside every route that extracts `{handle}`"
    )]
    MissingSessionLayer {
        /// The name of the handle that was requested.
        handle: &'static str,
    },
}

impl IntoResponse for SessionRejection {
    /// A `500 Internal Server Error` whose body says which layer to add; the
    /// same text is logged as an error.
    fn into_response(self) -> Response {
        tracing::error!(error = %self, "session extractor rejected the request");
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}

impl IntoResponse for SessionError {
    /// A generic body for the client (`503` when the store cannot be
    /// reached, else `500`); the details, which may name keys and types, go
    /// to a `tracing` error event only.
    fn into_response(self) -> Response {
        tracing::error!(error = %self, "session operation failed");
        match self {
            SessionError::Store(store) if !store.is_corrupt_record() => (
                StatusCode::SERVICE_UNAVAILABLE,
                "The session store is unavailable; try again shortly.",
            )
                .into_response(),
            _ => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The session could not be read or written.",
            )
                .into_response(),
        }
    }
}

/// The untyped session and clock a generated extractor builds its handle
/// from: the session of this crate's layer when it ran, else tower-sessions'.
///
/// # Errors
///
/// [`SessionRejection::MissingSessionLayer`] when no session layer ran.
pub fn session_from_parts(
    parts: &Parts,
    handle: &'static str,
) -> Result<(RequestSession, Clock), SessionRejection> {
    let clock = parts.extensions.get::<Clock>().cloned().unwrap_or_default();
    #[cfg(feature = "layer")]
    if let Some(session) = parts.extensions.get::<crate::layer::LayerSession>() {
        return Ok((RequestSession::Layer(session.clone()), clock));
    }
    let session = parts
        .extensions
        .get::<tower_sessions_core::Session>()
        .cloned()
        .ok_or(SessionRejection::MissingSessionLayer { handle })?;
    Ok((RequestSession::Tower(session), clock))
}

/// Implements `FromRequestParts` for a generated handle (called by the derive).
#[doc(hidden)]
#[macro_export]
macro_rules! __impl_extractor {
    ({$($generics:tt)*} {$handle:ty} {$name:expr} {$($bounds:tt)*}) => {
        #[automatically_derived]
        impl<$($generics)* __SessionState>
            $crate::__private::axum_core::extract::FromRequestParts<__SessionState> for $handle
        where
            __SessionState: ::core::marker::Send + ::core::marker::Sync,
            $($bounds)*
        {
            type Rejection = $crate::SessionRejection;

            async fn from_request_parts(
                parts: &mut $crate::__private::http::request::Parts,
                _state: &__SessionState,
            ) -> ::core::result::Result<Self, Self::Rejection> {
                let (raw, clock) = $crate::__private::session_from_parts(parts, $name)?;
                ::core::result::Result::Ok(Self::with_clock(raw, clock))
            }
        }
    };
}
