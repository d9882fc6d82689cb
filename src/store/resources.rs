//! The app's own resources and the platform's outbox: the second half of the store.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    Addon, App, AppRef, Container, Deployment, LogLine, MetricPoint, MetricSample, NewDeployment, NewOrder,
    NewVariable, Order, StoreResult, StoredVariable, UserRef,
};

/// What a change asks of the platform: the order to deliver and the event to record.
pub struct Operation {
    /// The order.
    pub order: NewOrder,
    /// The event type, such as `app.restart_requested`.
    pub event: &'static str,
    /// For `scale`: the container types to change; the store merges them into the
    /// formation under a row lock and adds the result to the order as `formation`.
    pub scale: Option<Vec<Container>>,
}

/// A queued operation.
#[derive(Clone, Debug)]
pub struct Queued {
    /// The order's id.
    pub order_id: Uuid,
    /// The formation after a scale.
    pub formation: Option<Vec<Container>>,
}

/// `current` with the types in `changes` replaced (or added), sorted by type.
pub fn merge_formation(current: Vec<Container>, changes: &[Container]) -> Vec<Container> {
    let mut merged: Vec<Container> = current
        .into_iter()
        .filter(|c| !changes.iter().any(|n| n.kind == c.kind))
        .collect();
    merged.extend(changes.iter().cloned());
    merged.sort_by(|a, b| a.kind.cmp(&b.kind));
    merged
}

/// Variables, deployments, operations, logs, metrics, add-ons and the outbox.
#[async_trait]
pub trait ResourceStore: Send + Sync {
    /// An app by id or name, for the platform's routes.
    async fn app_by_ref(&self, app: &AppRef) -> StoreResult<Option<App>>;

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

    /// Queues an operation's order and records its event (and the formation, for scale).
    async fn request_operation(
        &self,
        app: &App,
        operation: Operation,
        actor: &UserRef,
        now: DateTime<Utc>,
    ) -> StoreResult<Queued>;

    /// Appends log lines, then trims the app's window to `max_lines` and lines after `cutoff`.
    async fn append_logs(
        &self,
        app_id: Uuid,
        lines: &[LogLine],
        max_lines: u32,
        cutoff: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The most recent `limit` lines since `since`, oldest first.
    async fn recent_logs(&self, app_id: Uuid, since: DateTime<Utc>, limit: u32) -> StoreResult<Vec<LogLine>>;
    /// Appends metric samples and drops samples before `cutoff`.
    async fn append_metrics(&self, app_id: Uuid, samples: &[MetricSample], cutoff: DateTime<Utc>) -> StoreResult<()>;
    /// A time series since `since`, oldest first.
    async fn metrics(
        &self,
        app_id: Uuid,
        kind: &str,
        since: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<MetricPoint>>;

    /// The app's add-ons.
    async fn list_addons(&self, app_id: Uuid) -> StoreResult<Vec<Addon>>;
    /// One add-on of the app.
    async fn addon(&self, app_id: Uuid, id: Uuid) -> StoreResult<Option<Addon>>;
    /// Provisions an add-on (status `provisioning`) and queues the order.
    async fn create_addon(
        &self,
        app: &App,
        provider: &str,
        plan: &str,
        actor: &UserRef,
        now: DateTime<Utc>,
    ) -> StoreResult<Addon>;
    /// Changes an add-on's plan and queues the order.
    async fn change_addon_plan(
        &self,
        app: &App,
        id: Uuid,
        plan: &str,
        actor: &UserRef,
        now: DateTime<Utc>,
    ) -> StoreResult<Addon>;
    /// Removes an add-on and queues the order.
    async fn delete_addon(&self, app: &App, id: Uuid, actor: &UserRef, now: DateTime<Utc>) -> StoreResult<()>;
    /// The sealed credentials of an add-on, recording that `actor` read them.
    async fn read_addon_credentials(
        &self,
        app: &App,
        id: Uuid,
        actor: &UserRef,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Vec<u8>>>;
    /// The platform reports an add-on ready, with its sealed credentials.
    async fn addon_provisioned(&self, id: Uuid, sealed: &[u8], now: DateTime<Utc>) -> StoreResult<Addon>;
    /// The app an add-on belongs to (for sealing its credentials).
    async fn addon_app(&self, id: Uuid) -> StoreResult<Option<Uuid>>;

    /// Leases up to `limit` due orders until `lease_until`; several dispatchers never lease
    /// the same order at once.
    async fn claim_orders(&self, now: DateTime<Utc>, lease_until: DateTime<Utc>, limit: u32)
    -> StoreResult<Vec<Order>>;
    /// Marks an order delivered (again is fine); `false` if there is no such order.
    async fn order_delivered(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Records a failed delivery and when to try again.
    async fn order_failed(&self, id: Uuid, error: &str, retry_at: DateTime<Utc>) -> StoreResult<()>;
    /// Gives back a leased order not yet attempted: unleased, its attempt uncounted.
    async fn release_order(&self, id: Uuid) -> StoreResult<()>;
    /// Orders not yet delivered, oldest first.
    async fn pending_orders(&self, limit: u32) -> StoreResult<Vec<Order>>;
}
