//! How the session id travels: in a cookie, or for API clients in a header.

use std::fmt::Write as _;
use std::str::FromStr;

use crate::cas::SessionId;
use crate::expiry::Expiry;
use cookie::{Cookie, SameSite};
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
    /// The cookie was sealed with a key other than the first of the ring:
    /// a response that knows the session is live sends it again, sealed
    /// with the first.
    pub(crate) stale_key: bool,
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
            stale_key: false,
        };
    }
    let (id, stale_key) = cookie_id(settings, headers);
    Presented {
        id,
        carrier: Carrier::Cookie,
        stale_key,
    }
}

/// The id in the layer's cookie, and whether its cookie was sealed with an
/// older key.
fn cookie_id(settings: &Settings, headers: &HeaderMap) -> (Option<SessionId>, bool) {
    if !protected(settings) {
        return (plain_cookie_id(settings, headers), false);
    }
    let cookies = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(|cookie| cookie.name() == settings.name);
    for cookie in cookies {
        if let Some((value, stale)) = opened(settings, &cookie.into_owned())
            && let Ok(id) = SessionId::from_str(&value)
        {
            return (Some(id), stale);
        }
    }
    (None, false)
}

/// The id in a plain (unsigned, unencrypted) cookie of the layer's name:
/// the `name=value` pairs are read in place, the first value that is a
/// well-formed id wins, as [`Cookie::split_parse`] would find it.
fn plain_cookie_id(settings: &Settings, headers: &HeaderMap) -> Option<SessionId> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|text| text.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            (name.trim() == settings.name).then(|| value.trim())
        })
        .find_map(|value| SessionId::from_str(value).ok())
}

/// Whether the id cookie is signed or encrypted.
#[cfg(any(feature = "signed", feature = "private"))]
fn protected(settings: &Settings) -> bool {
    settings.keys.is_some()
}

#[cfg(not(any(feature = "signed", feature = "private")))]
fn protected(_settings: &Settings) -> bool {
    false
}

/// The cookie's value once its signature or encryption is checked, and
/// whether it was sealed with an older key.
#[cfg(any(feature = "signed", feature = "private"))]
fn opened(settings: &Settings, cookie: &Cookie<'static>) -> Option<(String, bool)> {
    match &settings.keys {
        Some(keys) => keys.open(cookie).map(|opened| (opened.value, opened.stale)),
        None => Some((cookie.value().to_owned(), false)),
    }
}

#[cfg(not(any(feature = "signed", feature = "private")))]
#[allow(
    clippy::unnecessary_wraps,
    reason = "the same signature as with a key, so the caller has no cfg"
)]
fn opened(_settings: &Settings, cookie: &Cookie<'static>) -> Option<(String, bool)> {
    Some((cookie.value().to_owned(), false))
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
            let text = match (id, expiry) {
                // The common case, written directly: no date to format.
                (Some(id), None | Some(Expiry::OnSessionEnd | Expiry::OnInactivity(_))) => {
                    let max_age = match expiry {
                        Some(Expiry::OnInactivity(duration)) => Some(duration),
                        _ => None,
                    };
                    match sealed_value(settings, id) {
                        Some(value) => set_cookie(settings, &value, max_age),
                        None => set_cookie(settings, &id.to_string(), max_age),
                    }
                }
                (Some(id), _) => {
                    sealed(settings, session_cookie(settings, id.to_string(), expiry)).to_string()
                }
                (None, _) => removal_cookie(settings).to_string(),
            };
            if let Ok(value) = HeaderValue::from_str(&text) {
                headers.append(SET_COOKIE, value);
            }
        }
    }
    forbid_caching(headers);
}

/// The `Set-Cookie` value of the layer's cookie holding `value`, with a
/// `Max-Age` when given: the text the `cookie` crate writes for
/// [`base_cookie`], without building one.
pub(super) fn set_cookie(
    settings: &Settings,
    value: &str,
    max_age: Option<time::Duration>,
) -> String {
    let mut text = String::with_capacity(
        settings.name.len()
            + value.len()
            + settings.path.len()
            + settings.domain.as_ref().map_or(0, String::len)
            + 64,
    );
    text.push_str(&settings.name);
    text.push('=');
    text.push_str(value);
    if settings.http_only {
        text.push_str("; HttpOnly");
    }
    text.push_str(match settings.same_site {
        SameSite::Strict => "; SameSite=Strict",
        SameSite::Lax => "; SameSite=Lax",
        SameSite::None => "; SameSite=None",
    });
    if settings.secure {
        text.push_str("; Secure");
    }
    text.push_str("; Path=");
    text.push_str(&settings.path);
    if let Some(domain) = &settings.domain {
        text.push_str("; Domain=");
        text.push_str(domain);
    }
    if let Some(max_age) = max_age {
        // Writing to a `String` cannot fail.
        let _ = write!(text, "; Max-Age={}", max_age.whole_seconds());
    }
    text
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

/// The id's cookie value signed or encrypted, when the layer has a key.
#[cfg(any(feature = "signed", feature = "private"))]
fn sealed_value(settings: &Settings, id: SessionId) -> Option<String> {
    let keys = settings.keys.as_ref()?;
    let cookie = keys.seal(Cookie::new(settings.name.clone(), id.to_string()));
    Some(cookie.value().to_owned())
}

#[cfg(not(any(feature = "signed", feature = "private")))]
#[allow(
    clippy::unnecessary_wraps,
    reason = "the same signature as with a key, so the caller has no cfg"
)]
fn sealed_value(_settings: &Settings, _id: SessionId) -> Option<String> {
    None
}

#[cfg(any(feature = "signed", feature = "private"))]
fn sealed(settings: &Settings, cookie: Cookie<'static>) -> Cookie<'static> {
    match &settings.keys {
        Some(keys) => keys.seal(cookie),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every combination of the settings that shape the cookie's text.
    fn every_setting() -> Vec<Settings> {
        let mut all = Vec::new();
        for http_only in [true, false] {
            for secure in [true, false] {
                for same_site in [SameSite::Strict, SameSite::Lax, SameSite::None] {
                    for (path, domain) in [("/", None), ("/app", Some("example.com"))] {
                        all.push(Settings {
                            name: "__Secure-sid".to_owned(),
                            path: path.to_owned(),
                            domain: domain.map(str::to_owned),
                            secure,
                            http_only,
                            same_site,
                            ..Settings::default()
                        });
                    }
                }
            }
        }
        all
    }

    #[test]
    fn the_cookie_text_is_what_the_cookie_crate_writes() {
        let value = "mRl2S5MgMYa6XwOVhPv3vw";
        for settings in every_setting() {
            for max_age in [None, Some(time::Duration::seconds(300))] {
                let mut cookie = base_cookie(&settings, value.to_owned());
                if let Some(max_age) = max_age {
                    cookie.set_max_age(max_age);
                }
                assert_eq!(
                    set_cookie(&settings, value, max_age),
                    cookie.to_string(),
                    "{settings:?} {max_age:?}"
                );
            }
        }
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                COOKIE,
                HeaderValue::from_str(value).expect("a header value"),
            );
        }
        headers
    }

    #[test]
    fn the_plain_id_is_found_as_the_cookie_crate_finds_it() {
        let settings = Settings::default();
        let id = SessionId::from_i128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let text = id.to_string();
        let cases = [
            vec![format!("id={text}")],
            vec![format!("a=1; id = {text} ;b=2")],
            vec!["id=junk".to_owned(), format!("x=y; id={text}")],
            vec![format!("idx={text}; xid={text}")],
            vec![format!("id=\"{text}\"")],
            vec!["id".to_owned(), "=".to_owned(), ";;".to_owned()],
        ];
        for case in cases {
            let refs: Vec<&str> = case.iter().map(String::as_str).collect();
            let headers = headers(&refs);
            let by_cookie_crate = headers
                .get_all(COOKIE)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .flat_map(Cookie::split_parse)
                .filter_map(Result::ok)
                .filter(|cookie| cookie.name() == "id")
                .find_map(|cookie| SessionId::from_str(cookie.value()).ok());
            assert_eq!(
                plain_cookie_id(&settings, &headers),
                by_cookie_crate,
                "{case:?}"
            );
        }
        assert_eq!(
            plain_cookie_id(&settings, &headers(&[&format!("id={text}")])),
            Some(id)
        );
    }
}
