//! Platform requests: operations the platform carries out (restart, scale, add-on changes...),
//! each a record, an event and an order written in one transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{App, Container, NewRequest, PlatformRequest, Queued, Recorded, RequestStatus, StoreResult, UserRef};

/// Platform requests.
#[async_trait]
pub trait RequestStore: Send + Sync {
    /// Records a request, queues its order and writes its event, in one transaction.
    async fn record_request(
        &self,
        app: &App,
        request: NewRequest,
        actor: &UserRef,
        now: DateTime<Utc>,
    ) -> StoreResult<Recorded>;

    /// Merges `changes` into the app's formation under a row lock (two concurrent scales
    /// both land) and records the `app.scale` request with the resulting formation.
    async fn scale_app(
        &self,
        app: &App,
        changes: &[Container],
        actor: &UserRef,
        now: DateTime<Utc>,
    ) -> StoreResult<Queued>;

    /// The platform reports where the request of an order stands. The same status again
    /// changes nothing; `Conflict` out of a final status; `NotFound` for an unknown order.
    async fn set_request_status(
        &self,
        order_id: Uuid,
        status: RequestStatus,
        message: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<PlatformRequest>;
}
