//! Random secrets shown once (API tokens, invitation tokens) and their stored hashes.
//!
//! The secrets carry 256 random bits, so a plain SHA-256 is the right stored form: it
//! cannot be brute-forced, and it lets the store find the row by an indexed lookup, so no
//! secret is ever compared byte by byte in Rust.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Prefix of API tokens, so they can be told from JWTs and spotted by secret scanners.
pub const API_TOKEN_PREFIX: &str = "rg_";
/// Prefix of invitation tokens.
pub const INVITATION_TOKEN_PREFIX: &str = "rgi_";
/// Prefix of address-verification links.
pub const VERIFY_TOKEN_PREFIX: &str = "rgv_";
/// Prefix of one-off attach credentials.
pub const ATTACH_TOKEN_PREFIX: &str = "rga_";
/// Prefix of single-use links (add-on and database dashboards, backup downloads).
pub const LINK_TOKEN_PREFIX: &str = "rgl_";
/// Prefix of password-reset links.
pub const RESET_TOKEN_PREFIX: &str = "rgr_";
/// Prefix of account-claim links (the owner of an address takes back an unverified account
/// someone else signed up with it).
pub const CLAIM_TOKEN_PREFIX: &str = "rgc_";

/// A new secret with `prefix`, and the hash to store.
pub fn generate(prefix: &str) -> Result<(String, [u8; 32]), getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    let secret = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash(&secret);
    Ok((secret, hash))
}

/// The stored form of a secret.
pub fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// The hash of a presented API token, if it has the right shape.
pub fn parse_hash(secret: &str) -> Option<[u8; 32]> {
    let body = secret.strip_prefix(API_TOKEN_PREFIX)?;
    let well_formed = body.len() == 43
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then(|| hash(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_unique_and_parse() {
        let (a, hash_a) = generate(API_TOKEN_PREFIX).unwrap();
        let (b, _) = generate(API_TOKEN_PREFIX).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 3 + 43);
        assert_eq!(parse_hash(&a), Some(hash_a));
        assert_eq!(parse_hash("rg_short"), None);
    }
}
