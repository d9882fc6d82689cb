//! Events: the app's activity timeline and the owner's audit trail.

use async_trait::async_trait;
use uuid::Uuid;

use super::{Event, EventFilter, NewEvent, StoreResult};

/// Events.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// The app's events (of one type, if given), newest first, before the cursor.
    async fn list_events(
        &self,
        app_id: Uuid,
        kind: Option<&str>,
        before: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<Event>>;

    /// Writes one event on its own (denied attempts).
    async fn record_event(&self, event: NewEvent<'_>) -> StoreResult<()>;

    /// Events of the apps `owner_id` owns, newest first.
    async fn owned_events(
        &self,
        owner_id: Uuid,
        filter: &EventFilter,
        before: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<Event>>;
}
