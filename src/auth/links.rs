//! Single-use links sent by mail: address verification (`rgv_`, 24 hours), password reset
//! (`rgr_`, one hour) and account claim (`rgc_`, one hour: how the owner of an address takes
//! back an unverified account someone else signed up with it). These links are the only proof
//! that an address is its owner's (see `store::UsedLink`). Each is
//! `ROLEGATE_PUBLIC_URL` + a path + `#token=<secret>` (a fragment, so the secret never
//! reaches a server log when the link is opened); only its SHA-256 is stored.

use chrono::TimeDelta;

use super::token;
use crate::error::ApiError;
use crate::mail::Mail;
use crate::state::AppState;
use crate::store::{LinkKind, NewLink};

/// How long a link works.
pub const fn lifetime(kind: LinkKind) -> TimeDelta {
    match kind {
        LinkKind::VerifyEmail => TimeDelta::hours(24),
        LinkKind::PasswordReset | LinkKind::AccountClaim => TimeDelta::hours(1),
    }
}

const fn prefix(kind: LinkKind) -> &'static str {
    match kind {
        LinkKind::VerifyEmail => token::VERIFY_TOKEN_PREFIX,
        LinkKind::PasswordReset => token::RESET_TOKEN_PREFIX,
        LinkKind::AccountClaim => token::CLAIM_TOKEN_PREFIX,
    }
}

const fn path(kind: LinkKind) -> &'static str {
    match kind {
        LinkKind::VerifyEmail => "/verify-email",
        // The console's page sets the password of both.
        LinkKind::PasswordReset | LinkKind::AccountClaim => "/password-reset",
    }
}

/// A new link of `kind` for `email`, with the mail `write` makes of it (when mail is
/// configured; without mail there is nobody to give the link to, so none is stored).
pub fn issue(
    state: &AppState,
    kind: LinkKind,
    email: &str,
    write: impl FnOnce(&str, &str) -> Mail,
) -> Result<Option<NewLink>, ApiError> {
    if state.config.accounts.mail.is_none() {
        return Ok(None);
    }
    let (secret, hash) = token::generate(prefix(kind)).map_err(ApiError::internal)?;
    let link = format!("{}{}#token={secret}", state.config.public_url, path(kind));
    let mail = write(email, &link).seal(&state.secrets).map_err(ApiError::internal)?;
    Ok(Some(NewLink {
        kind,
        hash,
        email: email.to_owned(),
        expires_at: state.clock.now() + lifetime(kind),
        mail: Some(mail),
    }))
}

/// The stored form of a presented link secret, if it has the shape of a `kind` link.
pub fn parse(kind: LinkKind, secret: &str) -> Option<[u8; 32]> {
    let body = secret.trim().strip_prefix(prefix(kind))?;
    let well_formed = body.len() == 43
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then(|| token::hash(secret.trim()))
}

/// The mail of a security notice, sealed, when mail is configured.
pub fn notice(state: &AppState, email: &str, what: &str) -> Result<Option<crate::store::NewOrder>, ApiError> {
    sealed(state, crate::mail::notice(email, what))
}

/// `mail`, sealed, when mail is configured.
pub fn sealed(state: &AppState, mail: Mail) -> Result<Option<crate::store::NewOrder>, ApiError> {
    if state.config.accounts.mail.is_none() {
        return Ok(None);
    }
    mail.seal(&state.secrets).map(Some).map_err(ApiError::internal)
}
