//! Invitations: what the store returns, and the rows it decodes them from.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::FromRow;
use uuid::Uuid;

use super::{App, Collaborator, UserRef, user_ref};
use crate::authz::Role;
use crate::domain::Email;

/// A new invitation: only the token's hash is stored.
pub struct NewInvitation<'a> {
    /// Id.
    pub id: Uuid,
    /// App.
    pub app: &'a App,
    /// Invited email.
    pub email: &'a Email,
    /// Role given on acceptance.
    pub role: Role,
    /// SHA-256 of the token.
    pub token_hash: &'a [u8],
    /// Inviter.
    pub invited_by: &'a UserRef,
    /// Creation time.
    pub now: DateTime<Utc>,
    /// End of validity.
    pub expires_at: DateTime<Utc>,
    /// End of the membership it grants, if time-bound.
    pub access_expires_at: Option<DateTime<Utc>>,
    /// The invitation mail, when mail is configured.
    pub mail: Option<super::NewOrder>,
}

/// An invitation (never its token).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Invitation {
    /// Id.
    pub id: Uuid,
    /// App.
    pub app_id: Uuid,
    /// App name at the time of reading.
    pub app_name: String,
    /// Invited email.
    pub email: String,
    /// Role given on acceptance.
    pub role: Role,
    /// `pending`, `accepted`, `declined`, `revoked` or `expired`.
    pub status: String,
    /// Inviter.
    #[schema(required = true)]
    pub invited_by: Option<UserRef>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// End of validity.
    pub expires_at: DateTime<Utc>,
    /// End of the membership it grants, if time-bound.
    #[schema(required = true)]
    pub access_expires_at: Option<DateTime<Utc>>,
}

impl Invitation {
    /// Whether it can still be accepted at `now`.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.status == "pending" && self.expires_at > now
    }

    /// Marks a pending invitation past its end as `expired`, as readers expect.
    pub fn at(mut self, now: DateTime<Utc>) -> Invitation {
        if self.status == "pending" && self.expires_at <= now {
            self.status = "expired".to_owned();
        }
        self
    }
}

/// What accepting an invitation did.
#[derive(Debug)]
pub enum Accepted {
    /// The caller is now a member.
    Member(Collaborator),
    /// The invitation was no longer pending (used, declined, revoked or expired).
    NotPending,
    /// The caller was already a member of the app.
    AlreadyMember,
    /// The app requires two-factor authentication and the caller has it off; the invitation
    /// stays pending.
    TfaRequired,
}

#[derive(FromRow)]
pub(in crate::store) struct InvitationRow {
    pub id: Uuid,
    pub app_id: Uuid,
    pub app_name: String,
    pub email: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub status: String,
    pub invited_by_id: Option<Uuid>,
    pub invited_by_email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub access_expires_at: Option<DateTime<Utc>>,
}

impl From<InvitationRow> for Invitation {
    fn from(r: InvitationRow) -> Invitation {
        Invitation {
            id: r.id,
            app_id: r.app_id,
            app_name: r.app_name,
            email: r.email,
            role: r.role,
            status: r.status,
            invited_by: user_ref(r.invited_by_id, r.invited_by_email),
            created_at: r.created_at,
            expires_at: r.expires_at,
            access_expires_at: r.access_expires_at,
        }
    }
}
