//! The layer's settings, and the rules they must satisfy before a layer is
//! built.

use std::time::Duration;

use crate::expiry::Expiry;
use cookie::SameSite;
use http::HeaderName;

/// How long a request waits for the other requests of its session (in the
/// same instance) before it is answered `503`.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(10);

/// How long after a session ended (a log out, an id rotation) a request
/// that still carries its id is taken for one that was already on its way:
/// it reads an empty session and a write is answered `409` without a
/// cookie, so its response cannot overwrite the id that replaced the old one
/// in the browser. A request that arrives later with the ended id comes from
/// a browser that never received the new id (its response was lost or
/// cancelled): it starts a new, empty session under a new id. The ended id
/// itself never comes back.
pub const DEFAULT_ENDED_ID_WINDOW: time::Duration = time::Duration::seconds(5);

/// The largest session record, in bytes, [`SessionLayer`](super::SessionLayer)
/// stores by default: 64 KiB, the encoded record as the store keeps it.
///
/// Every request that uses a session loads its whole record, and every
/// request that changes it writes the whole record back, so each byte is
/// paid on every request of the session. What a session should hold (ids,
/// a cart, tokens, flash messages) takes a few KiB at most: the cookie
/// layer fits it in 4096 bytes. A record past 64 KiB is nearly always a
/// bug, such as a list that grows on every request or a cache that belongs
/// in a table of its own; the limit makes it fail at once and name its
/// keys, instead of slowing every request of the session and filling the
/// store. No store needs it lower (Redis keeps values up to 512 MB,
/// PostgreSQL `bytea` up to 1 GB); raise it with
/// [`with_record_limit`](super::SessionLayerBuilder::with_record_limit) for
/// an app that knowingly keeps more.
pub const DEFAULT_RECORD_LIMIT: usize = 64 * 1024;

/// A setting that cannot work, found when the layer is built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum LayerConfigError {
    /// Browsers refuse a `__Host-` cookie that is not `Secure`, has a
    /// `Domain`, or a `Path` other than `/`: every response would set a
    /// cookie that is silently dropped.
    #[error(
        "the cookie `{name}` has the `__Host-` prefix, so it must be secure, have no domain \
         and the path `/`; {problem}"
    )]
    HostPrefix {
        /// The cookie name.
        name: String,
        /// Which of the three rules the settings break.
        problem: &'static str,
    },
    /// Browsers refuse a `__Secure-` cookie that is not `Secure`.
    #[error(
        "the cookie `{name}` has the `__Secure-` prefix, so it must be secure; remove `with_secure(false)`"
    )]
    SecurePrefix {
        /// The cookie name.
        name: String,
    },
    /// The cookie name is empty or holds a character a cookie name cannot.
    #[error("`{name}` is not a valid cookie name: use letters, digits and `!#$%&'*+-.^_`|~`")]
    CookieName {
        /// The name as given.
        name: String,
    },
    /// A cookie session timeout of zero would end every session at once.
    #[error(
        "the {which} timeout of cookie sessions is zero, so every session would end at once; give it a duration"
    )]
    ZeroTimeout {
        /// `idle` or `absolute`.
        which: &'static str,
    },
    /// `with_signed_keys` or `with_private_keys` was given no key.
    #[error(
        "no key was given to sign or encrypt the id cookie: pass at least one, the sealing key first"
    )]
    NoCookieKeys,
    /// A record limit of zero would refuse every session that holds a value.
    #[error("the record limit is zero, so no session could be stored; give it a size in bytes")]
    ZeroRecordLimit,
    /// The header name given to `with_header` is not a valid header name.
    #[error("`{name}` is not a valid HTTP header name")]
    HeaderName {
        /// The name as given.
        name: String,
    },
}

/// The cookie setters both layer builders share: each builder keeps its
/// cookie in a field `settings: Settings`.
macro_rules! cookie_setters {
    ($name_doc:literal) => {
        #[doc = $name_doc]
        pub fn with_name(mut self, name: impl Into<String>) -> Self {
            self.settings.name = name.into();
            self
        }

        /// The cookie's `Path` (default `/`).
        pub fn with_path(mut self, path: impl Into<String>) -> Self {
            self.settings.path = path.into();
            self
        }

        /// The cookie's `Domain` (default none: only the host that set it).
        pub fn with_domain(mut self, domain: impl Into<String>) -> Self {
            self.settings.domain = Some(domain.into());
            self
        }

        /// Whether the cookie is `Secure` (default `true`). Browsers treat
        /// `http://localhost` as secure, so development needs no change.
        pub fn with_secure(mut self, secure: bool) -> Self {
            self.settings.secure = secure;
            self
        }

        /// Whether the cookie is `HttpOnly` (default `true`): scripts in the
        /// page cannot read it.
        pub fn with_http_only(mut self, http_only: bool) -> Self {
            self.settings.http_only = http_only;
            self
        }

        /// The cookie's `SameSite` (default `Strict`).
        pub fn with_same_site(mut self, same_site: ::cookie::SameSite) -> Self {
            self.settings.same_site = same_site;
            self
        }
    };
}
pub(crate) use cookie_setters;

/// How the session id travels, and what the cookie looks like.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) domain: Option<String>,
    pub(crate) secure: bool,
    pub(crate) http_only: bool,
    pub(crate) same_site: SameSite,
    pub(crate) expiry: Option<Expiry>,
    pub(crate) header: Option<HeaderName>,
    pub(crate) lock_wait: Duration,
    pub(crate) ended_id_window: time::Duration,
    pub(crate) record_limit: usize,
    pub(crate) error_page: Option<super::error_page::ErrorPages>,
    #[cfg(any(feature = "signed", feature = "private"))]
    pub(crate) keys: Option<super::sealing::CookieKeyRing>,
}

impl Default for Settings {
    /// The same secure defaults as tower-sessions' layer.
    fn default() -> Self {
        Settings {
            name: "id".to_owned(),
            path: "/".to_owned(),
            domain: None,
            secure: true,
            http_only: true,
            same_site: SameSite::Strict,
            expiry: None,
            header: None,
            lock_wait: DEFAULT_LOCK_WAIT,
            ended_id_window: DEFAULT_ENDED_ID_WINDOW,
            record_limit: DEFAULT_RECORD_LIMIT,
            error_page: None,
            #[cfg(any(feature = "signed", feature = "private"))]
            keys: None,
        }
    }
}

/// The characters RFC 6265 allows in a cookie name (an RFC 7230 token).
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
}

impl Settings {
    /// Checks the rules browsers enforce silently, so a bad setting fails at
    /// start-up instead of in every browser.
    pub(crate) fn validate(&self) -> Result<(), LayerConfigError> {
        let name = &self.name;
        if !is_token(name) {
            return Err(LayerConfigError::CookieName { name: name.clone() });
        }
        if name.starts_with("__Host-") {
            let problem = if !self.secure {
                Some("remove `with_secure(false)`")
            } else if self.domain.is_some() {
                Some("remove `with_domain(..)`")
            } else if self.path != "/" {
                Some("use `with_path(\"/\")`")
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(LayerConfigError::HostPrefix {
                    name: name.clone(),
                    problem,
                });
            }
        }
        if name.starts_with("__Secure-") && !self.secure {
            return Err(LayerConfigError::SecurePrefix { name: name.clone() });
        }
        if self.record_limit == 0 {
            return Err(LayerConfigError::ZeroRecordLimit);
        }
        #[cfg(any(feature = "signed", feature = "private"))]
        if self
            .keys
            .as_ref()
            .is_some_and(super::sealing::CookieKeyRing::is_empty)
        {
            return Err(LayerConfigError::NoCookieKeys);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str) -> Settings {
        Settings {
            name: name.to_owned(),
            ..Settings::default()
        }
    }

    #[test]
    fn host_prefix_rules() {
        assert_eq!(named("__Host-id").validate(), Ok(()));
        let with_domain = Settings {
            domain: Some("example.com".into()),
            ..named("__Host-id")
        };
        assert!(matches!(
            with_domain.validate(),
            Err(LayerConfigError::HostPrefix { problem, .. }) if problem.contains("with_domain")
        ));
        let with_path = Settings {
            path: "/app".into(),
            ..named("__Host-id")
        };
        assert!(matches!(
            with_path.validate(),
            Err(LayerConfigError::HostPrefix { problem, .. }) if problem.contains("with_path")
        ));
        let insecure = Settings {
            secure: false,
            ..named("__Host-id")
        };
        let message = insecure.validate().expect_err("insecure").to_string();
        assert!(
            message.contains("`__Host-id`") && message.contains("with_secure(false)"),
            "{message}"
        );
    }

    #[test]
    fn secure_prefix_and_names() {
        let insecure = Settings {
            secure: false,
            ..named("__Secure-id")
        };
        assert!(matches!(
            insecure.validate(),
            Err(LayerConfigError::SecurePrefix { .. })
        ));
        assert!(matches!(
            named("").validate(),
            Err(LayerConfigError::CookieName { .. })
        ));
        assert!(matches!(
            named("a b").validate(),
            Err(LayerConfigError::CookieName { .. })
        ));
        assert!(matches!(
            named("id;x").validate(),
            Err(LayerConfigError::CookieName { .. })
        ));
    }

    #[test]
    fn a_record_limit_of_zero_is_refused() {
        let zero = Settings {
            record_limit: 0,
            ..Settings::default()
        };
        assert_eq!(zero.validate(), Err(LayerConfigError::ZeroRecordLimit));
        let one = Settings {
            record_limit: 1,
            ..Settings::default()
        };
        assert_eq!(one.validate(), Ok(()));
    }
}
