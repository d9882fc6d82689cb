//! Deployments: requests, their idempotency keys, statuses and build output.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{App, Deployment, NewDeployment, StoreResult, UserRef};

/// Deployments.
#[async_trait]
pub trait DeploymentStore: Send + Sync {
    /// Requests a deployment and queues its order. With an idempotency key already used by
    /// `actor` on this app, returns the first deployment and `false`.
    async fn create_deployment(
        &self,
        app: &App,
        new: NewDeployment<'_>,
        actor: &UserRef,
        now: DateTime<Utc>,
    ) -> StoreResult<(Deployment, bool)>;

    /// Deployments, newest first, before the cursor.
    async fn list_deployments(&self, app_id: Uuid, before: Option<Uuid>, limit: u32) -> StoreResult<Vec<Deployment>>;

    /// One deployment.
    async fn deployment(&self, app_id: Uuid, id: Uuid) -> StoreResult<Option<Deployment>>;

    /// A deployment's build output.
    async fn deployment_output(&self, app_id: Uuid, id: Uuid) -> StoreResult<Option<String>>;

    /// The platform reports a status (and more output). `Conflict` out of a final status.
    async fn set_deployment_status(
        &self,
        id: Uuid,
        status: &str,
        output: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Deployment>;
}
