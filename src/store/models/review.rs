//! The access review: what the store returns, and the rows it decodes them from.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::FromRow;
use uuid::Uuid;

use super::{AppRef, Collaborator, CollaboratorRow};
use crate::authz::Role;

/// A member of an app the reviewing owner owns.
#[derive(Clone, Debug)]
pub struct ReviewMember {
    /// The app's name.
    pub app_name: String,
    /// The membership.
    pub member: Collaborator,
    /// How many live API tokens of the member's account never expire (made before
    /// `ROLEGATE_TOKEN_MAX_DAYS` existed).
    pub unexpiring_tokens: i64,
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

#[derive(FromRow)]
pub(in crate::store) struct ReviewRow {
    #[sqlx(flatten)]
    pub member: CollaboratorRow,
    pub app_name: String,
    pub unexpiring_tokens: i64,
}
