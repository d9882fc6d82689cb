//! Credentials: passwords, API tokens, JWTs, and reading them from request headers.

pub mod client;
pub mod jwt;
pub mod links;
pub mod password;
pub mod tfa;
pub mod throttle;
pub mod token;

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};

use crate::error::ApiError;
use crate::store::{Credential, TokenScope};

const MISSING: &str = "authentication required: send `Authorization: Bearer <token>`";
const INVALID: &str = "the credentials are invalid, expired or revoked";

/// A bearer credential, and the scope a JWT claims (it narrows the token row's scope).
pub struct Presented {
    /// What the store checks.
    pub credential: Credential,
    /// The scope carried by a JWT.
    pub claimed_scope: Option<TokenScope>,
}

/// The credential in `Authorization: Bearer …`: an API token (`rg_…`) or a JWT, checked
/// as far as can be done without the store.
pub fn bearer_credential(headers: &HeaderMap, jwt: &jwt::JwtKeys, now: DateTime<Utc>) -> Result<Presented, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized(MISSING))?;
    let value = value.to_str().map_err(|_| ApiError::Unauthorized(INVALID))?;
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::Unauthorized(MISSING))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::Unauthorized(MISSING));
    }
    let token = token.trim();
    if token.starts_with(token::API_TOKEN_PREFIX) {
        let hash = token::parse_hash(token).ok_or(ApiError::Unauthorized(INVALID))?;
        return Ok(Presented {
            credential: Credential::ApiToken { hash },
            claimed_scope: None,
        });
    }
    let claims = jwt.verify(token, now).map_err(|_| ApiError::Unauthorized(INVALID))?;
    Ok(Presented {
        credential: Credential::Jwt {
            token_id: claims.tid,
            issued_at: claims.iat,
        },
        claimed_scope: claims.scope,
    })
}

/// `Authorization: Basic …` as `(user, password)`.
pub fn basic_credentials(headers: &HeaderMap) -> Result<(String, String), ApiError> {
    const MISSING_BASIC: &str = "authentication required: send HTTP Basic credentials";
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::BadBasicCredentials(MISSING_BASIC))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::BadBasicCredentials(MISSING_BASIC))?;
    let (scheme, encoded) = value
        .split_once(' ')
        .ok_or(ApiError::BadBasicCredentials(MISSING_BASIC))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(ApiError::BadBasicCredentials(MISSING_BASIC));
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| ApiError::BadBasicCredentials(MISSING_BASIC))?;
    let decoded = String::from_utf8(decoded).map_err(|_| ApiError::BadBasicCredentials(MISSING_BASIC))?;
    let (user, password) = decoded
        .split_once(':')
        .ok_or(ApiError::BadBasicCredentials(MISSING_BASIC))?;
    Ok((user.to_owned(), password.to_owned()))
}

/// The 401 for credentials that do not check out.
pub fn invalid() -> ApiError {
    ApiError::Unauthorized(INVALID)
}

/// The 401 for Basic credentials that do not check out.
pub fn invalid_basic() -> ApiError {
    ApiError::BadBasicCredentials(INVALID)
}
