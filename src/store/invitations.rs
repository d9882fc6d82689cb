//! Invitations: inviting by email, revoking, accepting and declining.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Accepted, App, Invitation, NewInvitation, StoreResult, UserRef};

/// Invitations.
#[async_trait]
pub trait InvitationStore: Send + Sync {
    /// Creates a pending invitation; `Conflict` when the email is a member or already invited.
    async fn create_invitation(&self, new: NewInvitation<'_>) -> StoreResult<Invitation>;

    /// Every invitation of the app, newest first.
    async fn list_invitations(&self, app_id: Uuid) -> StoreResult<Vec<Invitation>>;

    /// Revokes a pending invitation; `NotFound` when there is no pending one with that id.
    async fn revoke_invitation(&self, app: &App, id: Uuid, actor: &UserRef, now: DateTime<Utc>) -> StoreResult<()>;

    /// An invitation by the hash of its token.
    async fn invitation_by_token(&self, token_hash: &[u8]) -> StoreResult<Option<Invitation>>;

    /// An invitation by id.
    async fn invitation_by_id(&self, id: Uuid) -> StoreResult<Option<Invitation>>;

    /// Pending, unexpired invitations addressed to an email.
    async fn invitations_for(&self, email: &str, now: DateTime<Utc>) -> StoreResult<Vec<Invitation>>;

    /// Accepts a pending invitation for `user`: at most one caller ever succeeds.
    async fn accept_invitation(&self, id: Uuid, user: &UserRef, now: DateTime<Utc>) -> StoreResult<Accepted>;

    /// Declines a pending invitation.
    async fn decline_invitation(&self, id: Uuid, user: &UserRef, now: DateTime<Utc>) -> StoreResult<bool>;
}
