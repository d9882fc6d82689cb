//! Short-lived JWTs (HS256, pinned) exchanged for an API token.
//!
//! A JWT carries who the caller is and which API token it came from, never a role: roles
//! are read from the store on every request. Time claims are checked against the
//! service's clock (injectable in tests) with a small leeway.

use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::store::TokenScope;

/// Issuer of every token.
pub const ISSUER: &str = "rolegate";
/// Audience of every token.
pub const AUDIENCE: &str = "rolegate-api";
/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECONDS: i64 = 30;

/// The claims of a rolegate JWT.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user.
    pub sub: Uuid,
    /// The API token it was exchanged from.
    pub tid: Uuid,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Not before (unix seconds).
    pub nbf: i64,
    /// Expiry (unix seconds).
    pub exp: i64,
    /// The scope of the API token it was exchanged from, if that token is scoped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<TokenScope>,
}

/// Why a JWT was refused (never shown to the client beyond a 401).
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// Signature, algorithm, format, issuer or audience.
    #[error("invalid token: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    /// `exp` has passed.
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("token not yet valid")]
    NotYetValid,
}

/// Signing and verification keys.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: TimeDelta,
}

impl JwtKeys {
    /// Keys from a shared secret, with the lifetime of issued tokens.
    pub fn new(secret: &[u8], ttl: TimeDelta) -> JwtKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "sub", "iss", "aud"]);
        // Checked below against the service's clock instead of the system's.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
        }
    }

    /// A token for `user_id`, exchanged from API token `token_id`, and its expiry.
    pub fn issue(
        &self,
        user_id: Uuid,
        token_id: Uuid,
        scope: Option<TokenScope>,
        now: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>), JwtError> {
        let expires_at = now + self.ttl;
        let claims = Claims {
            sub: user_id,
            tid: token_id,
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: expires_at.timestamp(),
            scope,
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, expires_at))
    }

    /// Checks signature, algorithm, issuer, audience and time claims.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, JwtError> {
        let claims = decode::<Claims>(token, &self.decoding, &self.validation)?.claims;
        let now = now.timestamp();
        if claims.exp <= now - LEEWAY_SECONDS {
            return Err(JwtError::Expired);
        }
        if claims.nbf > now + LEEWAY_SECONDS {
            return Err(JwtError::NotYetValid);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef", TimeDelta::seconds(3600));
        let now = Utc::now();
        let (token, _) = keys.issue(Uuid::now_v7(), Uuid::now_v7(), None, now).unwrap();
        assert!(keys.verify(&token, now).is_ok());
        assert!(matches!(
            keys.verify(&token, now + TimeDelta::seconds(3700)),
            Err(JwtError::Expired)
        ));
        assert!(matches!(
            keys.verify(&token, now - TimeDelta::seconds(100)),
            Err(JwtError::NotYetValid)
        ));
        let other = JwtKeys::new(b"another secret of thirty-two bytes!", TimeDelta::seconds(3600));
        assert!(other.verify(&token, now).is_err());
    }
}
