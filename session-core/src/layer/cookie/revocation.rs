//! The opt-in check that lets an app end cookie sessions before their
//! deadline.

use std::future::Future;

use time::OffsetDateTime;

use crate::error::StoreError;
use crate::layer::LayerSession;

/// Tells a [`CookieSessionLayer`](super::CookieSessionLayer) from when on a
/// session is valid, so the app can end sessions the server no longer
/// holds: "log out everywhere", a password change, a banned user.
///
/// A cookie session lives in the browser, so logging out replaces the
/// cookie but cannot destroy a copy of it: the copy is valid until its
/// deadline. With a revocation check the app keeps one instant per user
/// (say, a `sessions_valid_after` column), and a session issued before that
/// instant reads as empty and its cookie is removed. A session is issued
/// when it is created and again when the app marks a new authentication
/// ([`RawSession::mark_authenticated`](crate::RawSession::mark_authenticated),
/// at log in): after a password change, mark the request that changed it,
/// and its own session stays valid.
///
/// The check runs once per request, on the first access to the session,
/// and costs whatever the app's lookup costs. A request that never uses its
/// session is not checked: it reads nothing and sends no cookie.
///
/// ```
/// use session_core::layer::LayerSession;
/// use session_core::layer::cookie::Revocation;
/// use session_core::time::OffsetDateTime;
/// use session_core::{RawSession, StoreError};
///
/// /// In a real app: a query on the users table.
/// struct ValidAfter(Option<OffsetDateTime>);
///
/// impl Revocation for ValidAfter {
///     async fn sessions_valid_after(
///         &self,
///         session: &LayerSession,
///     ) -> Result<Option<OffsetDateTime>, StoreError> {
///         // Read the user with the app's typed handle, e.g.
///         // `AuthSession::new(session.clone()).user_id().await?`.
///         let user: Option<u64> = session
///             .decode("auth.user_id")
///             .await
///             .map_err(StoreError::new)?;
///         Ok(user.and(self.0))
///     }
/// }
/// ```
pub trait Revocation: Send + Sync + 'static {
    /// The instant before which sessions of this session's user are no
    /// longer valid, or `None` when nothing is revoked.
    ///
    /// `session` is a read-only copy of the session the cookie holds:
    /// read the user with a typed handle; writes to it are discarded. It
    /// shares the cookie's opened data, so handing it over copies nothing.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] when the lookup fails. The layer then answers
    /// `503 Service Unavailable`, as for a session store outage: it can
    /// neither trust the session nor tell the user it ended.
    fn sessions_valid_after(
        &self,
        session: &LayerSession,
    ) -> impl Future<Output = Result<Option<OffsetDateTime>, StoreError>> + Send;
}

/// No revocation check: the default of a
/// [`CookieSessionLayer`](super::CookieSessionLayer). It is never called.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoRevocation;

impl Revocation for NoRevocation {
    async fn sessions_valid_after(
        &self,
        _session: &LayerSession,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        Ok(None)
    }
}
