//! Two-factor authentication: what the store takes and returns.

use uuid::Uuid;

use super::{NewOrder, NewSecurityEvent, UserRef};

/// A user's TOTP secret as stored: sealed, and whether a code confirmed it.
pub struct TfaSecret {
    /// The secret, sealed (see [`crate::auth::tfa::seal`]).
    pub sealed: Vec<u8>,
    /// `false` while enrolment is pending.
    pub enabled: bool,
}

/// A second factor to spend.
#[derive(Clone, Copy, Debug)]
pub enum Spend {
    /// A TOTP time step whose code checked out: spent only if later than every step used before.
    Step(i64),
    /// The SHA-256 of a recovery code: spent only if it is the user's and unused.
    Recovery([u8; 32]),
}

impl Spend {
    /// How the factor is named in security events: `totp` or `recovery_code`.
    pub const fn via(self) -> &'static str {
        match self {
            Spend::Step(_) => "totp",
            Spend::Recovery(_) => "recovery_code",
        }
    }
}

/// What a two-factor change writes beside itself, in its transaction.
pub struct TfaNotice {
    /// The account.
    pub user_id: Uuid,
    /// Its entry in the account's security history.
    pub event: NewSecurityEvent,
    /// The notice mail, when mail is configured.
    pub mail: Option<NewOrder>,
}

/// An app's rule after `PUT /v1/apps/{app}/security`.
pub struct SecurityChanged {
    /// The app as it is now.
    pub app: super::App,
    /// Members without 2FA, whom the rule refuses (empty when it is off).
    pub locked_out: Vec<UserRef>,
}
