//! How the session id travels: in a cookie, or for API clients in a header.

use std::str::FromStr;

use crate::cas::SessionId;
use crate::expiry::Expiry;
use cookie::Cookie;
use http::header::{CACHE_CONTROL, COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue};
use time::OffsetDateTime;

use super::config::Settings;

/// Where a request's session id came from, and so where the response's goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Carrier {
    Cookie,
    Header,
}

/// The id a request presented. An id that does not parse (or whose
/// signature does not verify) is no id: the request starts without a
/// session, and a new one would get a new id.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Presented {
    pub(crate) id: Option<SessionId>,
    pub(crate) carrier: Carrier,
}

pub(crate) fn read_id(settings: &Settings, headers: &HeaderMap) -> Presented {
    if let Some(header) = &settings.header
        && let Some(value) = headers.get(header)
    {
        let id = value
            .to_str()
            .ok()
            .and_then(|text| SessionId::from_str(text.trim()).ok());
        return Presented {
            id,
            carrier: Carrier::Header,
        };
    }
    Presented {
        id: cookie_id(settings, headers),
        carrier: Carrier::Cookie,
    }
}

fn cookie_id(settings: &Settings, headers: &HeaderMap) -> Option<SessionId> {
    let cookies = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(|cookie| cookie.name() == settings.name);
    for cookie in cookies {
        if let Some(id) =
            opened(settings, cookie.into_owned()).and_then(|value| SessionId::from_str(&value).ok())
        {
            return Some(id);
        }
    }
    None
}

/// The cookie's value once its signature or encryption is checked.
#[cfg(any(feature = "signed", feature = "private"))]
fn opened(settings: &Settings, cookie: Cookie<'static>) -> Option<String> {
    match &settings.key {
        Some(key) => key.open(cookie),
        None => Some(cookie.value().to_owned()),
    }
}

#[cfg(not(any(feature = "signed", feature = "private")))]
#[allow(
    clippy::unnecessary_wraps,
    clippy::needless_pass_by_value,
    reason = "the same signature as with a key, so the caller has no cfg"
)]
fn opened(_settings: &Settings, cookie: Cookie<'static>) -> Option<String> {
    Some(cookie.value().to_owned())
}

/// Sends `id` to the client (or tells it to forget its id, with `None`),
/// the way the request's id came.
pub(crate) fn write_id(
    settings: &Settings,
    carrier: Carrier,
    headers: &mut HeaderMap,
    id: Option<SessionId>,
    expiry: Option<Expiry>,
) {
    match (carrier, &settings.header) {
        (Carrier::Header, Some(header)) => {
            let text = id.map(|id| id.to_string()).unwrap_or_default();
            if let Ok(value) = HeaderValue::from_str(&text) {
                headers.insert(header.clone(), value);
            }
        }
        _ => {
            let cookie = match id {
                Some(id) => sealed(settings, session_cookie(settings, id.to_string(), expiry)),
                None => removal_cookie(settings),
            };
            if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
                headers.append(SET_COOKIE, value);
            }
        }
    }
    forbid_caching(headers);
}

pub(super) fn base_cookie(settings: &Settings, value: String) -> Cookie<'static> {
    let mut cookie = Cookie::build((settings.name.clone(), value))
        .path(settings.path.clone())
        .secure(settings.secure)
        .http_only(settings.http_only)
        .same_site(settings.same_site)
        .build();
    if let Some(domain) = &settings.domain {
        cookie.set_domain(domain.clone());
    }
    cookie
}

fn session_cookie(settings: &Settings, value: String, expiry: Option<Expiry>) -> Cookie<'static> {
    let mut cookie = base_cookie(settings, value);
    match expiry {
        Some(Expiry::OnInactivity(duration)) => cookie.set_max_age(duration),
        Some(Expiry::AtDateTime(at)) => cookie.set_expires(at),
        Some(Expiry::OnSessionEnd) | None => {}
    }
    cookie
}

pub(super) fn removal_cookie(settings: &Settings) -> Cookie<'static> {
    let mut cookie = base_cookie(settings, String::new());
    cookie.set_max_age(time::Duration::ZERO);
    cookie.set_expires(OffsetDateTime::UNIX_EPOCH);
    cookie
}

#[cfg(any(feature = "signed", feature = "private"))]
fn sealed(settings: &Settings, cookie: Cookie<'static>) -> Cookie<'static> {
    match &settings.key {
        Some(key) => key.seal(cookie),
        None => cookie,
    }
}

#[cfg(not(any(feature = "signed", feature = "private")))]
fn sealed(_settings: &Settings, cookie: Cookie<'static>) -> Cookie<'static> {
    cookie
}

/// A response that hands out a session id must not be stored by a shared
/// cache, which would give the id to the next visitor. A `Cache-Control`
/// that already forbids that (`no-store`, `private`) is kept; any other is
/// replaced, with a warning, since it was written without the cookie in
/// mind.
pub(crate) fn forbid_caching(headers: &mut HeaderMap) {
    let safe = headers.get_all(CACHE_CONTROL).iter().any(|value| {
        value.to_str().is_ok_and(|text| {
            text.split(',').map(str::trim).any(|directive| {
                directive.eq_ignore_ascii_case("no-store")
                    || directive.eq_ignore_ascii_case("private")
            })
        })
    });
    if safe {
        return;
    }
    if headers.contains_key(CACHE_CONTROL) {
        tracing::warn!(
            "a response that sets the session cookie had a cacheable Cache-Control; replaced by no-store"
        );
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
}
