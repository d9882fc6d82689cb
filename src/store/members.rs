//! Members: an app's collaborators, their roles, the end of their access and their use of it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{App, Collaborator, MemberChange, Membership, StoreResult, UserMembership, UserRef};

/// Members.
#[async_trait]
pub trait MemberStore: Send + Sync {
    /// Every member, owner first.
    async fn list_collaborators(&self, app_id: Uuid) -> StoreResult<Vec<Collaborator>>;

    /// One member by membership id.
    async fn collaborator(&self, app_id: Uuid, id: Uuid) -> StoreResult<Option<Collaborator>>;

    /// Changes a member's role and/or the end of their access (never the owner's: `Conflict`).
    async fn update_collaborator(
        &self,
        app: &App,
        id: Uuid,
        change: MemberChange,
        actor: &UserRef,
        now: DateTime<Utc>,
    ) -> StoreResult<Collaborator>;

    /// Removes a member (never the owner: `Conflict`). `left` records it as leaving.
    async fn remove_collaborator(
        &self,
        app: &App,
        id: Uuid,
        actor: &UserRef,
        left: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

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

    /// A user's membership of an app.
    async fn membership_of(&self, app_id: Uuid, user_id: Uuid) -> StoreResult<Option<Membership>>;

    /// Every app a user is a member of, by name.
    async fn memberships_of(&self, user_id: Uuid) -> StoreResult<Vec<UserMembership>>;
}
