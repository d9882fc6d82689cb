//! Account security: single-use links, login throttling, the account's security history.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::FromRow;
use uuid::Uuid;

use super::NewOrder;
use crate::kinds::SecurityEventKind;

/// What a single-use link sent by mail is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    /// `rgv_`: proves the address.
    VerifyEmail,
    /// `rgr_`: sets a new password.
    PasswordReset,
    /// `rgc_`: takes back an account someone else signed up with the address: sets a new
    /// password, turns 2FA off, signs out everywhere.
    AccountClaim,
}

impl LinkKind {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            LinkKind::VerifyEmail => "verify_email",
            LinkKind::PasswordReset => "password_reset",
            LinkKind::AccountClaim => "account_claim",
        }
    }
}

/// A single-use link to store (its hash) and the mail that carries it.
pub struct NewLink {
    /// What it is for.
    pub kind: LinkKind,
    /// SHA-256 of the secret.
    pub hash: [u8; 32],
    /// The address it was sent to.
    pub email: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// The mail, if mail is configured.
    pub mail: Option<NewOrder>,
}

/// Whose an unused, unexpired link is, read without using it: it proves nothing.
#[derive(Clone, Debug, FromRow)]
pub struct PeekedLink {
    /// Its account.
    pub user_id: Uuid,
    /// The address it was mailed to.
    pub email: String,
}

/// A link rolegate mailed, just used by the store: the one
/// proof that the owner of `email` acted. Only the store makes one (its fields are private and
/// it is decoded from `user_tokens`), so no other party's knowledge can verify an address.
#[derive(Clone, Debug, FromRow)]
pub struct UsedLink {
    user_id: Uuid,
    email: String,
}

impl UsedLink {
    /// Its account.
    pub fn user_id(&self) -> Uuid {
        self.user_id
    }

    /// The address it was mailed to.
    pub fn email(&self) -> &str {
        &self.email
    }
}

/// Failed password checks within the throttling window, and the account's own count.
#[derive(Clone, Copy, Debug, Default, FromRow)]
pub struct LoginFailures {
    /// For this client address and email.
    pub pair: i64,
    /// The oldest of those.
    pub pair_oldest: Option<DateTime<Utc>>,
    /// For this client address, over all emails.
    pub client: i64,
    /// The oldest of those.
    pub client_oldest: Option<DateTime<Utc>>,
    /// The account's consecutive failures, whatever the client (`None`: no such account).
    pub account: Option<i32>,
    /// When the last of those was.
    pub account_last: Option<DateTime<Utc>>,
    /// When the account's password and code sign-ins were locked, if they are.
    pub account_locked_at: Option<DateTime<Utc>>,
}

/// A failure counted against an account, with what its lock records and mails.
pub struct AccountFailure {
    /// The account.
    pub user_id: Uuid,
    /// The count at which password and code sign-ins are locked.
    pub lock_at: i32,
    /// The lock's security event.
    pub lock_event: NewSecurityEvent,
    /// The lock's notice mail.
    pub lock_mail: Option<NewOrder>,
}

/// A new entry of an account's security history.
pub struct NewSecurityEvent {
    /// The account.
    pub user_id: Uuid,
    /// What happened.
    pub kind: SecurityEventKind,
    /// The client address it came from, if a request caused it.
    pub client: Option<String>,
    /// Details.
    pub data: serde_json::Value,
    /// When.
    pub now: DateTime<Utc>,
}

/// An entry of an account's security history.
#[derive(Clone, Debug, Serialize, FromRow, utoipa::ToSchema)]
pub struct SecurityEvent {
    /// Id (the cursor of the list).
    pub id: Uuid,
    /// What happened, such as `signin.failed`.
    #[sqlx(rename = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    /// The client address, when a request caused it.
    #[schema(required = true)]
    pub client: Option<String>,
    /// Details.
    #[sqlx(json)]
    pub data: serde_json::Value,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Which tokens a password change revokes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revoke {
    /// None.
    Nothing,
    /// Every API token (and so every JWT) of the account.
    Everything,
    /// Every API token but `keep`, and every JWT, `keep`'s included.
    AllBut {
        /// The token the change was made with.
        keep: Uuid,
    },
}

/// A new password, and what goes with it.
pub struct PasswordChange {
    /// The account.
    pub user_id: Uuid,
    /// Argon2 PHC string.
    pub hash: String,
    /// Tokens revoked with it.
    pub revoke: Revoke,
    /// The security event.
    pub event: NewSecurityEvent,
    /// The notice mail.
    pub mail: Option<NewOrder>,
}

/// A reset or claim link used to set a password: spent only with the password it sets.
pub struct LinkRedemption {
    /// `PasswordReset` or `AccountClaim`.
    pub kind: LinkKind,
    /// SHA-256 of the presented secret.
    pub hash: [u8; 32],
    /// The new password's Argon2 PHC string.
    pub password_hash: String,
    /// The security event (`data.revoked_tokens` is filled in).
    pub event: NewSecurityEvent,
    /// The notice mail.
    pub mail: Option<NewOrder>,
}
