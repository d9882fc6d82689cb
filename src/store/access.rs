//! Least privilege over time: use of memberships and permissions, time-bound access,
//! the access review and the cross-app audit trail. The third part of the store.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::FromRow;
use uuid::Uuid;

use super::{AppRef, Collaborator, Event, Invitation, Membership, NewEvent, StoreResult, UserRef};
use crate::authz::Role;

/// A member of an app the reviewing owner owns.
#[derive(Clone, Debug)]
pub struct ReviewMember {
    /// The app's name.
    pub app_name: String,
    /// The membership.
    pub member: Collaborator,
}

/// When a member last exercised a permission.
#[derive(Clone, Debug, FromRow)]
pub struct PermissionUse {
    /// The membership.
    pub membership_id: Uuid,
    /// The permission's wire name.
    pub permission: String,
    /// When.
    pub last_used_at: DateTime<Utc>,
}

/// One remediation of an access review.
#[derive(Clone, Debug)]
pub struct ReviewAction {
    /// The app, by id or name.
    pub app: AppRef,
    /// The membership.
    pub collaborator_id: Uuid,
    /// `None`: remove; `Some(role)`: change the role.
    pub set_role: Option<Role>,
}

/// A remediation that was applied.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Applied {
    /// Position in the request.
    pub index: usize,
    /// The app.
    pub app_id: Uuid,
    /// The app's name.
    pub app: String,
    /// The membership.
    pub collaborator_id: Uuid,
    /// The member's email.
    pub email: String,
    /// `remove` or `set_role`.
    pub action: &'static str,
    /// The role before.
    pub previous_role: Role,
    /// The role after (`null` once removed).
    #[schema(required = true)]
    pub role: Option<Role>,
}

/// Why a batch of remediations was refused as a whole (nothing was applied).
#[derive(Clone, Debug)]
pub struct Rejected {
    /// The action that could not be applied.
    pub index: usize,
    /// Why.
    pub message: &'static str,
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
}

/// Who did it, in an event filter.
#[derive(Clone, Debug)]
pub enum Actor {
    /// By user id.
    Id(Uuid),
    /// By email.
    Email(String),
}

/// Filters of the cross-app audit trail.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    /// One app.
    pub app_id: Option<Uuid>,
    /// One actor.
    pub actor: Option<Actor>,
    /// One event type.
    pub kind: Option<String>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
}

/// Memberships over time, the access review and the audit trail.
#[async_trait]
pub trait AccessStore: Send + Sync {
    /// Records use of a membership and, if given, of one of its permissions.
    async fn touch_membership(
        &self,
        membership_id: Uuid,
        permission: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Removes a membership whose time-bound access has ended, with its
    /// `collaborator.expired` event; `false` if it was not (or no longer) there.
    async fn expire_membership(&self, membership_id: Uuid, now: DateTime<Utc>) -> StoreResult<bool>;
    /// The sweep: expires every membership past its end; returns how many.
    async fn expire_due(&self, now: DateTime<Utc>) -> StoreResult<usize>;
    /// Writes one event on its own (denied attempts).
    async fn record_event(&self, event: NewEvent<'_>) -> StoreResult<()>;
    /// A user's membership of an app.
    async fn membership_of(&self, app_id: Uuid, user_id: Uuid) -> StoreResult<Option<Membership>>;
    /// Every app a user is a member of, by name.
    async fn memberships_of(&self, user_id: Uuid) -> StoreResult<Vec<UserMembership>>;
    /// Every member of every app `owner_id` owns.
    async fn review_members(&self, owner_id: Uuid) -> StoreResult<Vec<ReviewMember>>;
    /// Permission use since `since` on apps `owner_id` owns.
    async fn review_usage(&self, owner_id: Uuid, since: DateTime<Utc>) -> StoreResult<Vec<PermissionUse>>;
    /// Pending invitations of apps `owner_id` owns.
    async fn review_invitations(&self, owner_id: Uuid, now: DateTime<Utc>) -> StoreResult<Vec<Invitation>>;
    /// Applies every remediation in one transaction, or none of them.
    async fn apply_review(
        &self,
        owner: &UserRef,
        actions: &[ReviewAction],
        now: DateTime<Utc>,
    ) -> StoreResult<Result<Vec<Applied>, Rejected>>;
    /// Events of the apps `owner_id` owns, newest first.
    async fn owned_events(
        &self,
        owner_id: Uuid,
        filter: &EventFilter,
        before: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<Event>>;
}

#[derive(FromRow)]
pub(super) struct ReviewRow {
    #[sqlx(flatten)]
    pub member: super::models::CollaboratorRow,
    pub app_name: String,
}

#[derive(FromRow)]
pub(super) struct MembershipRow {
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub access_expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}
