//! Apps: creation, settings, rename, transfer, deletion, and the one-query access check behind
//! every app route.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{App, AppAccess, AppRef, AppWithRole, Caller, Credential, StoreResult, UserRef};
use crate::authz::Permission;
use crate::domain::{AppName, BranchName};

/// Apps.
#[async_trait]
pub trait AppStore: Send + Sync {
    /// The user behind a live credential, and the app with their membership if the app
    /// exists. `None` when the credential is not live.
    async fn app_access(
        &self,
        credential: &Credential,
        app: &AppRef,
        permission: Permission,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(Caller, Option<AppAccess>)>>;

    /// Creates an app owned by `owner`; `Conflict` when the name is taken.
    async fn create_app(
        &self,
        owner: &UserRef,
        name: &AppName,
        branch: &BranchName,
        now: DateTime<Utc>,
    ) -> StoreResult<App>;

    /// Apps where the user has a role, by name, after the cursor.
    async fn list_apps(&self, user_id: Uuid, after: Option<&str>, limit: u32) -> StoreResult<Vec<AppWithRole>>;

    /// Changes the default branch.
    async fn update_app(&self, app: &App, branch: &BranchName, actor: &UserRef, now: DateTime<Utc>)
    -> StoreResult<App>;

    /// Renames; `Conflict` when the name is taken.
    async fn rename_app(&self, app: &App, name: &AppName, actor: &UserRef, now: DateTime<Utc>) -> StoreResult<App>;

    /// Deletes the app with its memberships and invitations.
    async fn delete_app(&self, app: &App, actor: &UserRef, now: DateTime<Utc>) -> StoreResult<()>;

    /// Makes `to` (a member) the owner and the current owner `actor` a collaborator, atomically.
    async fn transfer_app(&self, app: &App, actor: &UserRef, to: Uuid, now: DateTime<Utc>) -> StoreResult<App>;

    /// Changes the app's stack, with its event and order; `None` when it already has it.
    async fn change_stack(
        &self,
        app: &App,
        stack: &str,
        actor: &UserRef,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<App>>;

    /// Creates `name` (with `id`) from `parent`: owned by the parent's owner, with its default branch, stack,
    /// members (with their roles) and `variables` (sealed for the child), and an event on each
    /// app's timeline, in one transaction. `Conflict` when the name is taken.
    async fn create_child(
        &self,
        id: Uuid,
        parent: &App,
        name: &AppName,
        variables: &[crate::store::NewVariable],
        actor: &UserRef,
        now: DateTime<Utc>,
    ) -> StoreResult<App>;

    /// The apps created from `parent`, by name.
    async fn children(&self, parent: Uuid) -> StoreResult<Vec<App>>;

    /// An app by id or name, for the platform's routes.
    async fn app_by_ref(&self, app: &AppRef) -> StoreResult<Option<App>>;
}
