//! Add-ons and their sealed credentials.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Addon, App, StoreResult, UserRef};

/// Add-ons and their sealed credentials.
#[async_trait]
pub trait AddonStore: Send + Sync {
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
}
