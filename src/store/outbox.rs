//! The outbox: orders written in the transaction of the change that causes them, each on a
//! channel that one dispatcher leases and delivers. Only the dispatchers (and the platform's
//! order routes, for the platform's channel) use this trait.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Order, StoreResult};
use crate::kinds::Channel;

/// What waits to be delivered on one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backlog {
    /// The channel.
    pub channel: Channel,
    /// Orders not yet delivered.
    pub pending: i64,
    /// When the oldest of them was written.
    pub oldest: Option<DateTime<Utc>>,
}

/// The outbox.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Leases up to `limit` due orders of `channel` until `lease_until`; several dispatchers
    /// never lease the same order at once.
    async fn claim_orders(
        &self,
        channel: Channel,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Order>>;

    /// Marks an order of `channel` delivered (again is fine); `false` if there is no such order.
    async fn order_delivered(&self, channel: Channel, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool>;

    /// What waits to be delivered on each channel that has anything waiting.
    async fn outbox_backlog(&self) -> StoreResult<Vec<Backlog>>;

    /// Records a failed delivery and when to try again.
    async fn order_failed(&self, id: Uuid, error: &str, retry_at: DateTime<Utc>) -> StoreResult<()>;

    /// Gives back a leased order not yet attempted: unleased, its attempt uncounted.
    async fn release_order(&self, id: Uuid) -> StoreResult<()>;

    /// Replaces a delivered order's payload with what may be kept of it.
    async fn redact_order(&self, id: Uuid, payload: &serde_json::Value) -> StoreResult<()>;

    /// Orders of `channel` not yet delivered, oldest first.
    async fn pending_orders(&self, channel: Channel, limit: u32) -> StoreResult<Vec<Order>>;
}
