//! App settings: small configuration objects stored as data, one row per app and key.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{App, NewSetting, StoreResult, UserRef};

/// App settings.
#[async_trait]
pub trait SettingStore: Send + Sync {
    /// The stored value of one setting, if it was ever set.
    async fn setting(&self, app_id: Uuid, key: &str) -> StoreResult<Option<serde_json::Value>>;

    /// Replaces a setting and writes its event (`from`, `to`, and `order_id` when it orders
    /// the platform) and its order, in one transaction. Returns the order's id, if any.
    async fn put_setting(
        &self,
        app: &App,
        setting: NewSetting,
        actor: &UserRef,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Uuid>>;

    /// The stored value of one setting of an add-on (a database's), if it was ever set.
    async fn addon_setting(&self, addon_id: Uuid, key: &str) -> StoreResult<Option<serde_json::Value>>;

    /// Replaces (or, with `merge`, patches: `null` removes a name) one setting of the app's
    /// add-on `addon_id`, with its event and order as [`SettingStore::put_setting`] (both
    /// with `addon_id`), in one transaction; `NotFound` when the add-on is not the app's.
    /// Returns the value as stored.
    #[allow(clippy::too_many_arguments)]
    async fn put_addon_setting(
        &self,
        app: &App,
        addon_id: Uuid,
        setting: NewSetting,
        merge: bool,
        actor: &UserRef,
        now: DateTime<Utc>,
    ) -> StoreResult<serde_json::Value>;
}
