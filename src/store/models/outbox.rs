//! The outbox: what the store returns, and the rows it decodes them from.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::FromRow;
use uuid::Uuid;

/// An order for the platform, written in the transaction of the change that asks for it.
pub struct NewOrder {
    /// Order type, such as `deployment.create`.
    pub kind: crate::kinds::OrderKind,
    /// Type-specific details.
    pub data: serde_json::Value,
}

/// An order in the outbox.
#[derive(Clone, Debug, Serialize, FromRow, utoipa::ToSchema)]
pub struct Order {
    /// Stable id the receiver deduplicates on.
    pub id: Uuid,
    /// Order type.
    #[sqlx(rename = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    /// The JSON body delivered.
    #[sqlx(json)]
    pub payload: serde_json::Value,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// Delivery attempts so far.
    pub attempts: i32,
    /// When it was delivered.
    #[schema(required = true)]
    pub delivered_at: Option<DateTime<Utc>>,
    /// The last delivery error.
    #[schema(required = true)]
    pub last_error: Option<String>,
}
