//! Signed or encrypted id cookies, through the `cookie` crate's jars, with
//! a ring of keys: the first seals, every one opens, so keys rotate without
//! logging anyone out.

use cookie::{Cookie, CookieJar, Key};

/// How the cookie value is protected beyond being an unguessable id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protection {
    /// HMAC-SHA256: the client can read the id but not forge one.
    #[cfg(feature = "signed")]
    Signed,
    /// AES-256-GCM: the client can neither read nor forge the value.
    #[cfg(feature = "private")]
    Private,
}

/// The keys of the id cookie: the first seals every cookie the layer sends,
/// each one in order is tried on a cookie a request brings.
#[derive(Clone)]
pub(crate) struct CookieKeyRing {
    protection: Protection,
    /// Empty only when the app passed no key; `build` refuses that.
    keys: Vec<Key>,
}

/// The value of a cookie whose signature or encryption checked out.
#[derive(PartialEq, Eq)]
pub(crate) struct Opened {
    pub(crate) value: String,
    /// Opened with a key other than the first: the cookie is to be sealed
    /// again with the first.
    pub(crate) stale: bool,
}

impl std::fmt::Debug for Opened {
    /// Whether the key was stale, never the value: it is the session id.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("stale", &self.stale)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for CookieKeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("CookieKeyRing")
            .field("protection", &self.protection)
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl CookieKeyRing {
    /// The keys, the sealing key first.
    pub(crate) fn new(protection: Protection, keys: impl IntoIterator<Item = Key>) -> Self {
        CookieKeyRing {
            protection,
            keys: keys.into_iter().collect(),
        }
    }

    /// Whether there is no key, which `build` refuses.
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The value of `cookie` if its signature or encryption checks out
    /// under one of the keys.
    pub(crate) fn open(&self, cookie: &Cookie<'static>) -> Option<Opened> {
        let jar = CookieJar::new();
        self.keys.iter().enumerate().find_map(|(index, key)| {
            let opened = match self.protection {
                #[cfg(feature = "signed")]
                Protection::Signed => jar.signed(key).verify(cookie.clone()),
                #[cfg(feature = "private")]
                Protection::Private => jar.private(key).decrypt(cookie.clone()),
            };
            opened.map(|opened| Opened {
                value: opened.value().to_owned(),
                stale: index > 0,
            })
        })
    }

    /// `cookie` with its value signed or encrypted with the first key.
    pub(crate) fn seal(&self, cookie: Cookie<'static>) -> Cookie<'static> {
        let name = cookie.name().to_owned();
        let Some(key) = self.keys.first() else {
            // `build` refuses a ring without keys.
            return Cookie::new(name, String::new());
        };
        let mut jar = CookieJar::new();
        match self.protection {
            #[cfg(feature = "signed")]
            Protection::Signed => jar.signed_mut(key).add(cookie),
            #[cfg(feature = "private")]
            Protection::Private => jar.private_mut(key).add(cookie),
        }
        // The jar holds exactly the cookie just added.
        jar.get(&name)
            .cloned()
            .unwrap_or_else(|| Cookie::new(name, String::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> Key {
        Key::from(&[byte; 64])
    }

    fn protections() -> Vec<Protection> {
        vec![
            #[cfg(feature = "signed")]
            Protection::Signed,
            #[cfg(feature = "private")]
            Protection::Private,
        ]
    }

    #[test]
    fn the_first_key_seals_and_every_key_opens() {
        for protection in protections() {
            let old = CookieKeyRing::new(protection, [key(1)]);
            let ring = CookieKeyRing::new(protection, [key(2), key(1)]);
            let by_old = old.seal(Cookie::new("id", "the id"));
            assert_eq!(
                ring.open(&by_old),
                Some(Opened {
                    value: "the id".to_owned(),
                    stale: true
                }),
                "{protection:?}"
            );
            let by_ring = ring.seal(Cookie::new("id", "the id"));
            assert_eq!(
                ring.open(&by_ring),
                Some(Opened {
                    value: "the id".to_owned(),
                    stale: false
                }),
                "{protection:?}"
            );
            assert_eq!(old.open(&by_ring), None, "sealed with the new key");
            let other = CookieKeyRing::new(protection, [key(3)]).seal(Cookie::new("id", "x"));
            assert_eq!(ring.open(&other), None, "a key not in the ring");
        }
    }

    #[test]
    fn debug_shows_no_key() {
        let ring = CookieKeyRing::new(protections()[0], [key(7), key(8)]);
        let text = format!("{ring:?}");
        assert!(text.contains("keys: 2"), "{text}");
        assert!(!text.contains('7'), "{text}");
        let opened = Opened {
            value: "the id".to_owned(),
            stale: true,
        };
        assert_eq!(format!("{opened:?}"), "Opened { stale: true, .. }");
    }
}
