//! Add-ons and their sealed credentials: what the store returns, and the rows it decodes them from.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::FromRow;
use uuid::Uuid;

/// An add-on (a database, a cache...).
#[derive(Clone, Debug, Serialize, FromRow, utoipa::ToSchema)]
pub struct Addon {
    /// Id.
    pub id: Uuid,
    /// App.
    pub app_id: Uuid,
    /// Provider, such as `postgresql`.
    pub provider: String,
    /// Plan.
    pub plan: String,
    /// `provisioning`, `running` or `updating`.
    pub status: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}
