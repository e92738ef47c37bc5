//! CSRF protection for visitors who have no session yet: a signed
//! double-submit token. The page puts the same token in a cookie and in its
//! forms; a form counts only when both agree and the signature, made with a
//! key only this process knows, holds. Another site can neither read the
//! cookie nor forge a signature, and nothing is stored on the server.

use std::fmt::Write as _;

use axum::http::header::COOKIE;
use axum::http::{HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

/// The cookie that carries the token.
pub(super) const COOKIE_NAME: &str = "shop_csrf";

/// How long a token is accepted after it was issued, in seconds: as long as
/// the session's token lives.
pub(super) const LIFETIME: i64 = 15 * 60;

/// Signs and checks tokens with a random key made at start-up, so a
/// restart invalidates the forms of anonymous visitors (they reload).
pub(super) struct Signer {
    key: [u8; 32],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl Signer {
    /// A signer with a fresh random key.
    ///
    /// # Errors
    ///
    /// When the operating system gives no randomness.
    pub(super) fn new() -> Result<Self, getrandom::Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)?;
        Ok(Signer { key })
    }

    /// A new token issued at `now` (Unix seconds):
    /// `{issued}.{16 random bytes in hex}.{HMAC-SHA256 of the two}`.
    ///
    /// # Errors
    ///
    /// When the operating system gives no randomness.
    pub(super) fn issue(&self, now: i64) -> Result<String, getrandom::Error> {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce)?;
        let signed = format!("{now}.{}", hex(&nonce));
        let mac = hex(&hmac_sha256(&self.key, signed.as_bytes()));
        Ok(format!("{signed}.{mac}"))
    }

    /// Whether `token` was issued by this signer and is still fresh at
    /// `now`.
    #[must_use]
    pub(super) fn verify(&self, token: &str, now: i64) -> bool {
        let Some((signed, mac)) = token.rsplit_once('.') else {
            return false;
        };
        let Some(issued) = signed
            .split_once('.')
            .and_then(|(issued, _)| issued.parse::<i64>().ok())
        else {
            return false;
        };
        let expected = hex(&hmac_sha256(&self.key, signed.as_bytes()));
        let age = now.checked_sub(issued);
        constant_time_eq(expected.as_bytes(), mac.as_bytes())
            && age.is_some_and(|age| (0..=LIFETIME).contains(&age))
    }
}

/// The token of the request's `shop_csrf` cookie, if it brings one.
#[must_use]
pub(super) fn from_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|text| text.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            (name.trim() == COOKIE_NAME).then(|| value.trim())
        })
}

/// The `Set-Cookie` value that hands `token` to the browser: scripts
/// cannot read it, other sites' forms do not carry it.
#[must_use]
pub(super) fn cookie(token: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={LIFETIME}"
    ))
    .ok()
}

/// Compares without stopping at the first difference, so the time taken does
/// not tell an attacker how much of a guess was right.
#[must_use]
pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// Lower-case hex.
#[must_use]
pub(super) fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

/// HMAC-SHA256 (RFC 2104) of `message` under a key of at most one block.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut inner_pad = [0x36u8; BLOCK];
    let mut outer_pad = [0x5cu8; BLOCK];
    for ((inner, outer), byte) in inner_pad.iter_mut().zip(&mut outer_pad).zip(key) {
        *inner ^= byte;
        *outer ^= byte;
    }
    let inner = Sha256::new()
        .chain_update(inner_pad)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(outer_pad)
        .chain_update(inner)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::{Signer, hex, hmac_sha256};

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2: key "Jefe".
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_token_holds_for_its_lifetime_and_only_from_its_signer() {
        let signer = Signer::new().expect("randomness");
        let token = signer.issue(1_000).expect("randomness");
        assert!(signer.verify(&token, 1_000));
        assert!(signer.verify(&token, 1_000 + super::LIFETIME));
        assert!(!signer.verify(&token, 1_001 + super::LIFETIME), "expired");
        assert!(!signer.verify(&token, 999), "issued in the future");
        let other = Signer::new().expect("randomness");
        assert!(!other.verify(&token, 1_000), "another key");
        let (payload, _) = token.rsplit_once('.').expect("three parts");
        let later = payload.replacen("1000", "5000", 1);
        assert!(
            !signer.verify(&format!("{later}.{}", &token[payload.len() + 1..]), 5_000),
            "the issue time is signed"
        );
        assert!(!signer.verify("", 1_000));
        assert!(!signer.verify("1000..", 1_000));
    }
}
