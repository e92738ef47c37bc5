//! The keys that seal and open session cookies: the first seals, every one
//! opens, so a deployment can rotate keys without logging anyone out.

use std::fmt;

use cookie::{Cookie, CookieJar, Key};

/// The least key material a cookie key may have, in bytes: what
/// `cookie::Key::derive_from` requires for AES-256-GCM.
pub const MIN_KEY_LEN: usize = 32;

/// A key given to [`CookieKeys::new`] that cannot be used, found at start-up.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The list of keys was empty.
    #[error(
        "no cookie key was given: pass at least one key of {MIN_KEY_LEN} or more random bytes \
         (`openssl rand -base64 48` makes one), or use `CookieKeys::generate_for_development()` \
         in development"
    )]
    NoKeys,
    /// A key is shorter than [`MIN_KEY_LEN`] bytes. The message gives its
    /// position and length, never its bytes.
    #[error(
        "cookie key {position} has {length} bytes of key material; at least {MIN_KEY_LEN} random \
         bytes are needed (`openssl rand -base64 48` makes a good one)"
    )]
    TooShort {
        /// The key's position in the list given, counting from 1.
        position: usize,
        /// How many bytes it has.
        length: usize,
    },
    /// The operating system gave no randomness for a development key.
    #[error("the operating system gave no randomness to generate a development cookie key")]
    NoRandomness,
}

/// The keys of a [`CookieSessionLayer`](super::CookieSessionLayer).
///
/// The first key seals every cookie the layer sends; each key, in order,
/// is tried to open a cookie a request brings. A cookie opened with any key
/// but the first is sealed again with the first in the same response, so
/// rotating keys logs nobody out: put the new key first, keep the old one
/// second for at least the absolute timeout, then drop it.
///
/// Each key is expanded with HKDF-SHA256 (`cookie::Key::derive_from`) into
/// the AES-256-GCM key of the `cookie` crate's private jar. `Debug` shows
/// how many keys there are, never their bytes.
#[derive(Clone)]
pub struct CookieKeys {
    /// Never empty: `new` refuses an empty list.
    keys: Vec<Key>,
}

impl fmt::Debug for CookieKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieKeys")
            .field("count", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl CookieKeys {
    /// Keys from raw key material, the sealing key first: each at least
    /// [`MIN_KEY_LEN`] random bytes (decode your configured base64 or hex
    /// first; a password is not key material).
    ///
    /// # Errors
    ///
    /// [`KeyError::NoKeys`] for an empty list, [`KeyError::TooShort`] naming
    /// the first key that is too short by position and length.
    pub fn new(keys: impl IntoIterator<Item = impl AsRef<[u8]>>) -> Result<CookieKeys, KeyError> {
        let mut derived = Vec::new();
        for (index, material) in keys.into_iter().enumerate() {
            let material = material.as_ref();
            // `derive_from` panics on short input: check first.
            if material.len() < MIN_KEY_LEN {
                return Err(KeyError::TooShort {
                    position: index + 1,
                    length: material.len(),
                });
            }
            derived.push(Key::derive_from(material));
        }
        if derived.is_empty() {
            return Err(KeyError::NoKeys);
        }
        Ok(CookieKeys { keys: derived })
    }

    /// One random key, for development: every session is lost when the
    /// process stops, and instances started separately cannot read each
    /// other's cookies. Logs a warning saying so.
    ///
    /// # Errors
    ///
    /// [`KeyError::NoRandomness`] when the operating system gives no
    /// randomness.
    pub fn generate_for_development() -> Result<CookieKeys, KeyError> {
        let key = Key::try_generate().ok_or(KeyError::NoRandomness)?;
        tracing::warn!(
            "cookie sessions use a random development key: sessions will not survive a restart \
             and other instances cannot read them; configure a key of at least {MIN_KEY_LEN} \
             random bytes in production"
        );
        Ok(CookieKeys { keys: vec![key] })
    }

    /// How many keys open cookies.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always `false`: there is at least one key.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The plaintext of the cookie `name=value`, and whether it was sealed
    /// with a key other than the first (and so must be sealed again).
    pub(super) fn open(&self, name: &str, value: &str) -> Option<(String, bool)> {
        let sealed = Cookie::new(name.to_owned(), value.to_owned());
        let jar = CookieJar::new();
        self.keys.iter().enumerate().find_map(|(index, key)| {
            jar.private(key)
                .decrypt(sealed.clone())
                .map(|opened| (opened.value().to_owned(), index > 0))
        })
    }

    /// `plaintext` sealed with the first key for the cookie `name` (the name
    /// is authenticated too, so a value cannot be moved to another cookie).
    pub(super) fn seal(&self, name: &str, plaintext: &str) -> Option<String> {
        let key = self.keys.first()?;
        let mut jar = CookieJar::new();
        jar.private_mut(key)
            .add(Cookie::new(name.to_owned(), plaintext.to_owned()));
        jar.get(name).map(|sealed| sealed.value().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_are_named_by_position_and_length() {
        let error = CookieKeys::new([[7u8; 32].as_slice(), b"short secret".as_slice()])
            .expect_err("the second key is short");
        assert_eq!(
            error,
            KeyError::TooShort {
                position: 2,
                length: 12
            }
        );
        let message = error.to_string();
        assert!(
            message.contains("cookie key 2 has 12 bytes") && message.contains("at least 32"),
            "{message}"
        );
        assert!(!message.contains("short secret"), "{message}");
        assert_eq!(
            CookieKeys::new(Vec::<Vec<u8>>::new()).expect_err("no keys"),
            KeyError::NoKeys
        );
        assert!(CookieKeys::new([[0u8; 31]]).is_err());
        assert_eq!(CookieKeys::new([[0u8; 32]]).map(|keys| keys.len()), Ok(1));
    }

    #[test]
    fn debug_prints_no_key_material() {
        let keys = CookieKeys::new([[0xABu8; 40], [0xCD; 40]]).expect("keys");
        let debug = format!("{keys:?}");
        assert_eq!(debug, "CookieKeys { count: 2, .. }");
    }

    #[test]
    fn the_first_key_seals_and_every_key_opens() {
        let old = CookieKeys::new([[1u8; 32]]).expect("old");
        let rotated = CookieKeys::new([[2u8; 32], [1u8; 32]]).expect("rotated");
        let new_only = CookieKeys::new([[2u8; 32]]).expect("new");

        let by_old = old.seal("id", "payload").expect("sealed");
        assert_ne!(by_old, "payload");
        assert_eq!(
            rotated.open("id", &by_old),
            Some(("payload".to_owned(), true)),
            "an old cookie opens, flagged for resealing"
        );
        assert_eq!(
            new_only.open("id", &by_old),
            None,
            "a retired key opens nothing"
        );

        let by_rotated = rotated.seal("id", "payload").expect("sealed");
        assert_eq!(
            new_only.open("id", &by_rotated),
            Some(("payload".to_owned(), false))
        );
        assert_eq!(old.open("id", &by_rotated), None);
        assert_eq!(
            rotated.open("other", &by_rotated),
            None,
            "the cookie name is authenticated"
        );
    }

    #[test]
    fn a_development_key_works() {
        let keys = CookieKeys::generate_for_development().expect("randomness");
        let sealed = keys.seal("id", "x").expect("sealed");
        assert_eq!(keys.open("id", &sealed), Some(("x".to_owned(), false)));
        assert!(!keys.is_empty());
    }
}
