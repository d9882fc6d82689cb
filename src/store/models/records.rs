//! Records of an app declared as data: what the store takes and returns.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use sqlx::types::Json;
use uuid::Uuid;

use super::NewOrder;
use crate::kinds::EventKind;

/// One record of an app (an autoscaler, a log drain, a one-off container...).
#[derive(Clone, Debug, FromRow)]
pub struct StoredRecord {
    /// Id (time-ordered).
    pub id: Uuid,
    /// The app.
    pub app_id: Uuid,
    /// What kind of record, such as `autoscaler`.
    pub kind: String,
    /// What must be unique among the app's records of this kind, if anything.
    pub unique_key: Option<String>,
    /// The record's fields.
    pub data: Json<serde_json::Value>,
    /// Its sealed secret, if it has one.
    pub secret: Option<Vec<u8>>,
    /// Who made it (`None` for the platform, or once that user is gone).
    pub created_by: Option<Uuid>,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A record to write: a new one (`id` not stored yet) or a new version of one.
pub struct RecordWrite {
    /// Its id: a new one for a record to create.
    pub id: Uuid,
    /// Whether it is new (insert) or must exist (update).
    pub create: bool,
    /// Its kind.
    pub kind: &'static str,
    /// What must be unique among the app's records of this kind (a clash is a conflict).
    pub unique_key: Option<String>,
    /// Its fields.
    pub data: serde_json::Value,
    /// Its sealed secret: `None` keeps the stored one.
    pub secret: Option<Vec<u8>>,
    /// The event written on the app's timeline (its data gets `order_id` with an order).
    pub event: EventKind,
    /// The event's data.
    pub event_data: serde_json::Value,
    /// The order queued for the platform, if it must act.
    pub order: Option<NewOrder>,
}

/// A record to remove, with what records its removal.
pub struct RecordRemoval {
    /// Its kind.
    pub kind: &'static str,
    /// Its id.
    pub id: Uuid,
    /// The event written on the app's timeline (its data gets `order_id` with an order).
    pub event: EventKind,
    /// The event's data.
    pub event_data: serde_json::Value,
    /// The order queued for the platform, if it must act.
    pub order: Option<NewOrder>,
}
