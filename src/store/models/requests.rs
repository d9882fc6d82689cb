//! Platform requests: what the store takes and returns.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use super::Container;
use crate::kinds::{EventKind, OrderKind};

/// What a change asks of the platform: a record in `requests`, the order to deliver and the
/// event to record, written together.
#[derive(Clone, Debug)]
pub struct NewRequest {
    /// The order (its kind is also the request's `type`).
    pub order: OrderKind,
    /// The event on the app's timeline; its data is `data` with the order's id added.
    pub event: EventKind,
    /// The record the request acts on (an add-on, say), if any.
    pub target: Option<Uuid>,
    /// The order's data.
    pub data: serde_json::Value,
    /// A change of the app's `status` the request makes (`from`, `to`): made in its
    /// transaction, and refused (409) when the app is not `from`.
    pub app_status: Option<(&'static str, &'static str)>,
}

/// A request written with its order.
#[derive(Clone, Copy, Debug)]
pub struct Recorded {
    /// The request's id.
    pub id: Uuid,
    /// Its order's id: the platform names the request by it.
    pub order_id: Uuid,
}

/// A queued scale.
#[derive(Clone, Debug)]
pub struct Queued {
    /// The order's id.
    pub order_id: Uuid,
    /// The formation after the change.
    pub formation: Vec<Container>,
}

/// Where a platform request stands. `done` and `failed` are final.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestStatus {
    /// Waiting for the platform.
    Queued,
    /// The platform is at it.
    Running,
    /// Carried out.
    Done,
    /// The platform could not carry it out.
    Failed,
}

impl RequestStatus {
    /// Every status, in the order a request goes through them.
    pub const ALL: [RequestStatus; 4] = [
        RequestStatus::Queued,
        RequestStatus::Running,
        RequestStatus::Done,
        RequestStatus::Failed,
    ];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Queued => "queued",
            RequestStatus::Running => "running",
            RequestStatus::Done => "done",
            RequestStatus::Failed => "failed",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<RequestStatus> {
        RequestStatus::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether nothing follows it.
    pub const fn is_final(self) -> bool {
        matches!(self, RequestStatus::Done | RequestStatus::Failed)
    }
}

/// A platform request as stored.
#[derive(Clone, Debug, FromRow)]
pub struct PlatformRequest {
    /// Id.
    pub id: Uuid,
    /// The app.
    pub app_id: Uuid,
    /// The order's type.
    #[sqlx(rename = "type")]
    pub kind: String,
    /// The record it acts on.
    pub target_id: Option<Uuid>,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    /// The platform's last word on it.
    pub message: Option<String>,
    /// Its order.
    pub order_id: Uuid,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// When its status last changed.
    pub updated_at: DateTime<Utc>,
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
