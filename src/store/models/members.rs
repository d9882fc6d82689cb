//! Members: what the store returns, and the rows it decodes them from.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::FromRow;
use uuid::Uuid;

use super::{UserRef, user_ref};
use crate::authz::Role;

/// A user's membership of an app.
#[derive(Clone, Copy, Debug)]
pub struct Membership {
    /// The collaborator row's id.
    pub id: Uuid,
    /// The role.
    pub role: Role,
    /// When the membership ends, if it is time-bound.
    pub access_expires_at: Option<DateTime<Utc>>,
    /// When it was last used (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// Whether the member has two-factor authentication on.
    pub tfa_enabled: bool,
}

impl Membership {
    /// Whether time-bound access has ended at `now`.
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.access_expires_at.is_some_and(|at| at <= now)
    }
}

/// A member of an app.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Collaborator {
    /// Membership id (the `{id}` of collaborator routes).
    pub id: Uuid,
    /// App.
    pub app_id: Uuid,
    /// Member.
    pub user_id: Uuid,
    /// Member's email.
    pub email: String,
    /// Role.
    pub role: Role,
    /// `accepted`, or `expired` once time-bound access has ended (until the sweep removes it).
    pub status: &'static str,
    /// Who invited them (`null` for the app's creator).
    #[schema(required = true)]
    pub invited_by: Option<UserRef>,
    /// When they joined.
    pub created_at: DateTime<Utc>,
    /// When they last used the app (to the minute).
    #[schema(required = true)]
    pub last_used_at: Option<DateTime<Utc>>,
    /// When time-bound access ends.
    #[schema(required = true)]
    pub access_expires_at: Option<DateTime<Utc>>,
    /// Whether the member has two-factor authentication on.
    pub tfa_enabled: bool,
}

impl Collaborator {
    /// Marks a membership past its end as `expired`.
    pub fn at(mut self, now: DateTime<Utc>) -> Collaborator {
        if self.access_expires_at.is_some_and(|at| at <= now) {
            self.status = "expired";
        }
        self
    }
}

#[derive(FromRow)]
pub(in crate::store) struct CollaboratorRow {
    pub id: Uuid,
    pub app_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub invited_by_id: Option<Uuid>,
    pub invited_by_email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub access_expires_at: Option<DateTime<Utc>>,
    pub tfa_enabled: bool,
}

impl From<CollaboratorRow> for Collaborator {
    fn from(r: CollaboratorRow) -> Collaborator {
        Collaborator {
            id: r.id,
            app_id: r.app_id,
            user_id: r.user_id,
            email: r.email,
            role: r.role,
            status: "accepted",
            invited_by: user_ref(r.invited_by_id, r.invited_by_email),
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            access_expires_at: r.access_expires_at,
            tfa_enabled: r.tfa_enabled,
        }
    }
}

/// An app the user can reach, with their role.
#[derive(Clone, Debug, FromRow)]
pub struct UserMembership {
    /// App id.
    pub app_id: Uuid,
    /// App name.
    pub app_name: String,
    /// Role.
    #[sqlx(try_from = "String")]
    pub role: Role,
    /// End of time-bound access.
    pub access_expires_at: Option<DateTime<Utc>>,
    /// Whether the app requires two-factor authentication of every member.
    pub require_tfa: bool,
}

#[derive(FromRow)]
pub(in crate::store) struct MembershipRow {
    pub tfa_enabled: bool,
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub access_expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}
