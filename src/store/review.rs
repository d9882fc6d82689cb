//! The access review: members, permission use and pending invitations of the apps an owner owns,
//! and remediations applied in one transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Applied, Invitation, PermissionUse, Rejected, ReviewAction, ReviewMember, StoreResult, UserRef};

/// The access review.
#[async_trait]
pub trait ReviewStore: Send + Sync {
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
}
