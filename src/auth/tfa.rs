//! The second factor: TOTP after RFC 6238 (HMAC-SHA-1, 6 digits, 30-second steps, one step of
//! skew either way) and single-use recovery codes.
//!
//! The TOTP secret is sealed at rest with the key of the variables, bound to the user's id.
//! A code is accepted once: the store records the last time step used and refuses any step
//! not after it, in the statement itself. Recovery codes carry 80 random bits each, so, like
//! API tokens, a plain SHA-256 is their stored form.

use chrono::{DateTime, Utc};
use totp_rs::{Algorithm, Builder, Secret, Totp};
use uuid::Uuid;

use super::token;
use crate::secrets::{OpenError, SecretBox};

/// The issuer shown by authenticator apps.
pub const ISSUER: &str = "rolegate";
/// Seconds per time step.
pub const STEP_SECONDS: u64 = 30;
/// Digits of a code.
pub const DIGITS: u8 = 6;
/// How many recovery codes a set holds.
pub const RECOVERY_CODES: usize = 10;
/// Bytes of a TOTP secret (160 bits, RFC 4226's recommendation).
const SECRET_BYTES: usize = 20;
/// Bytes of a recovery code (80 bits: 16 base32 characters).
const RECOVERY_BYTES: usize = 10;

/// What a user typed as their second factor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecondFactor {
    /// A 6-digit TOTP code.
    Totp(String),
    /// A recovery code: the SHA-256 of its normalised form.
    Recovery([u8; 32]),
}

/// The two shapes a second factor may have, for error messages.
pub const CODE_SHAPE: &str =
    "must be a 6-digit code from the authenticator app, or a recovery code (xxxx-xxxx-xxxx-xxxx)";

/// Reads a code: six digits (spaces allowed), or a recovery code of 16 base32 characters
/// (dashes and spaces allowed, any case).
pub fn parse(raw: &str) -> Result<SecondFactor, &'static str> {
    let compact: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if compact.len() == usize::from(DIGITS) && compact.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(SecondFactor::Totp(compact));
    }
    let lower = compact.to_ascii_lowercase();
    let base32 = |b: u8| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b);
    if lower.len() == 16 && lower.bytes().all(base32) {
        return Ok(SecondFactor::Recovery(token::hash(&lower)));
    }
    Err(CODE_SHAPE)
}

/// The TOTP generator for a secret. `account` (the user's address) is only for the
/// `otpauth://` URI.
pub fn totp(secret: &[u8], account: &str) -> Totp {
    totp_with_digits(secret, account, DIGITS)
}

fn totp_with_digits(secret: &[u8], account: &str, digits: u8) -> Totp {
    // `build_noncompliant`: the account name is an address, which never holds `:` (Email
    // refuses it), and the secret is ours; nothing here can make `build` fail but those.
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(digits)
        .with_skew(1)
        .with_step_duration(STEP_SECONDS)
        .with_secret(Secret::from(secret.to_vec()))
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
        .build_noncompliant()
}

fn unix(at: DateTime<Utc>) -> u64 {
    u64::try_from(at.timestamp()).unwrap_or(0)
}

/// The time step of a code accepted at `now` (within one step of it), if `code` is one.
pub fn check(secret: &[u8], code: &str, now: DateTime<Utc>) -> Option<i64> {
    totp(secret, "")
        .check(code, unix(now))
        .and_then(|step| i64::try_from(step).ok())
}

/// The code of `secret` (base32, as enrolment shows it) at `at`: what an authenticator app
/// shows. Used by the tests and the README's walk-through tooling.
pub fn code_at(secret_base32: &str, at: DateTime<Utc>) -> Option<String> {
    let secret = Secret::try_from_base32(secret_base32).ok()?;
    Some(totp(secret.as_bytes(), "").generate(unix(at)).to_string())
}

/// A new random secret.
pub fn new_secret() -> Result<Vec<u8>, getrandom::Error> {
    let mut bytes = vec![0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes)?;
    Ok(bytes)
}

/// The secret in base32, as authenticator apps take it.
pub fn base32(secret: &[u8]) -> String {
    Secret::from(secret.to_vec()).to_base32()
}

/// The `otpauth://totp/rolegate:<email>?secret=…&issuer=rolegate…` URI of enrolment.
pub fn uri(secret: &[u8], account: &str) -> String {
    totp(secret, account)
        .to_url()
        .unwrap_or_else(|_| format!("otpauth://totp/{ISSUER}?secret={}&issuer={ISSUER}", base32(secret)))
}

fn context(user_id: Uuid) -> Vec<u8> {
    format!("tfa:{user_id}").into_bytes()
}

/// The secret sealed for storage, bound to its user.
pub fn seal(secrets: &SecretBox, user_id: Uuid, secret: &[u8]) -> Result<Vec<u8>, getrandom::Error> {
    secrets.seal(secret, &context(user_id))
}

/// Opens a stored secret.
pub fn open(secrets: &SecretBox, user_id: Uuid, sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
    secrets.open(sealed, &context(user_id))
}

/// A new set of recovery codes: what to show once (`xxxx-xxxx-xxxx-xxxx`), and what to store.
pub fn recovery_codes() -> Result<(Vec<String>, Vec<[u8; 32]>), getrandom::Error> {
    let mut shown = Vec::with_capacity(RECOVERY_CODES);
    let mut hashes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let mut bytes = [0u8; RECOVERY_BYTES];
        getrandom::fill(&mut bytes)?;
        let code = base32(&bytes).to_ascii_lowercase();
        hashes.push(token::hash(&code));
        let groups: Vec<&str> = (0..4).map(|i| &code[i * 4..i * 4 + 4]).collect();
        shown.push(groups.join("-"));
    }
    Ok((shown, hashes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B: the SHA-1 seed and the published 8-digit codes.
    #[test]
    fn rfc_6238_sha1_vectors() {
        let seed = b"12345678901234567890";
        let totp = totp_with_digits(seed, "", 8);
        for (time, code) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(totp.generate(time).to_string(), code, "T = {time}");
        }
    }

    #[test]
    fn checks_one_step_either_way_and_names_the_step() {
        let secret = new_secret().unwrap();
        let now = DateTime::from_timestamp(1_700_000_015, 0).unwrap();
        let b32 = base32(&secret);
        let code = code_at(&b32, now).unwrap();
        assert_eq!(check(&secret, &code, now), Some(1_700_000_015 / 30));
        let earlier = code_at(&b32, now - chrono::TimeDelta::seconds(30)).unwrap();
        assert_eq!(check(&secret, &earlier, now), Some(1_700_000_015 / 30 - 1));
        let stale = code_at(&b32, now - chrono::TimeDelta::seconds(90)).unwrap();
        if stale != code && stale != earlier {
            assert_eq!(check(&secret, &stale, now), None);
        }
    }

    #[test]
    fn parses_both_shapes() {
        assert_eq!(parse("123 456"), Ok(SecondFactor::Totp("123456".into())));
        let (shown, hashes) = recovery_codes().unwrap();
        assert_eq!(shown.len(), RECOVERY_CODES);
        assert_eq!(parse(&shown[0]), Ok(SecondFactor::Recovery(hashes[0])));
        assert_eq!(
            parse(&shown[0].to_ascii_uppercase()),
            Ok(SecondFactor::Recovery(hashes[0]))
        );
        assert!(parse("12345").is_err());
        assert!(parse("abc").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn uri_names_issuer_and_account() {
        let uri = uri(b"12345678901234567890", "ada@example.com");
        assert!(uri.starts_with("otpauth://totp/rolegate:ada%40example.com?"), "{uri}");
        assert!(uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"), "{uri}");
        assert!(uri.contains("issuer=rolegate"), "{uri}");
    }
}
