//! Signed or encrypted cookie values, through the `cookie` crate's jars.

use cookie::{Cookie, CookieJar, Key};

/// How the cookie value is protected beyond being an unguessable id.
#[derive(Clone)]
pub(crate) enum CookieKey {
    /// HMAC-SHA256: the client can read the id but not forge one.
    #[cfg(feature = "signed")]
    Signed(Key),
    /// AES-256-GCM: the client can neither read nor forge the value.
    #[cfg(feature = "private")]
    Private(Key),
}

impl std::fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str(match self {
            #[cfg(feature = "signed")]
            CookieKey::Signed(_) => "Signed(..)",
            #[cfg(feature = "private")]
            CookieKey::Private(_) => "Private(..)",
        })
    }
}

impl CookieKey {
    /// The value of `cookie` if its signature or encryption checks out.
    pub(crate) fn open(&self, cookie: Cookie<'static>) -> Option<String> {
        let name = cookie.name().to_owned();
        let mut jar = CookieJar::new();
        jar.add_original(cookie);
        let opened = match self {
            #[cfg(feature = "signed")]
            CookieKey::Signed(key) => jar.signed(key).get(&name),
            #[cfg(feature = "private")]
            CookieKey::Private(key) => jar.private(key).get(&name),
        };
        opened.map(|cookie| cookie.value().to_owned())
    }

    /// `cookie` with its value signed or encrypted.
    pub(crate) fn seal(&self, cookie: Cookie<'static>) -> Cookie<'static> {
        let name = cookie.name().to_owned();
        let mut jar = CookieJar::new();
        match self {
            #[cfg(feature = "signed")]
            CookieKey::Signed(key) => jar.signed_mut(key).add(cookie),
            #[cfg(feature = "private")]
            CookieKey::Private(key) => jar.private_mut(key).add(cookie),
        }
        // The jar holds exactly the cookie just added.
        jar.get(&name)
            .cloned()
            .unwrap_or_else(|| Cookie::new(name, String::new()))
    }
}
