//! Short fingerprints of secrets for logs and `Debug` output.

/// A short, non-reversible fingerprint of `secret`: enough to tell two
/// sessions apart in one log, useless to take over either (32 bits of a
/// 64-bit FNV-1a hash, far too few to find the secret from).
pub(crate) fn of(secret: &str) -> String {
    of_bytes(secret.as_bytes())
}

pub(crate) fn of_bytes(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    });
    // Fold the high half into the low one; the truncation is the point.
    #[allow(
        clippy::cast_possible_truncation,
        reason = "a fingerprint keeps 32 bits on purpose"
    )]
    let folded = (hash >> 32) as u32 ^ hash as u32;
    format!("{folded:08x}")
}
