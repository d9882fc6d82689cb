//! Environment variables, sealed at rest.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{App, NewVariable, StoreResult, StoredVariable, UserRef};

/// Environment variables, sealed at rest.
#[async_trait]
pub trait VariableStore: Send + Sync {
    /// The app's variables, by name, values sealed.
    async fn list_variables(&self, app_id: Uuid) -> StoreResult<Vec<StoredVariable>>;

    /// One variable by its exact name.
    async fn variable(&self, app_id: Uuid, name: &str) -> StoreResult<Option<StoredVariable>>;

    /// Creates or replaces each variable, in one transaction, with one event each.
    async fn set_variables(
        &self,
        app: &App,
        variables: &[NewVariable],
        actor: &UserRef,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<StoredVariable>>;

    /// Deletes a variable; `NotFound` if there is none with that name.
    async fn delete_variable(&self, app: &App, name: &str, actor: &UserRef, now: DateTime<Utc>) -> StoreResult<()>;
}
