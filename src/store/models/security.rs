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
    /// `rgr_`: sets a new password (also claims an unverified account).
    PasswordReset,
}

impl LinkKind {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            LinkKind::VerifyEmail => "verify_email",
            LinkKind::PasswordReset => "password_reset",
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

/// A single-use link that was just used.
#[derive(Clone, Debug, FromRow)]
pub struct UsedLink {
    /// Its account.
    pub user_id: Uuid,
    /// The address it was sent to.
    pub email: String,
}

/// Failed password checks within the throttling window.
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
    /// The address this proves (a reset link sent to it): it becomes verified if it is still
    /// the account's.
    pub verified_email: Option<String>,
    /// The security event.
    pub event: NewSecurityEvent,
    /// The notice mail.
    pub mail: Option<NewOrder>,
}
