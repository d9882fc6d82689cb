//! Events: what the store returns, and the rows it decodes them from.

use super::{Person, UserRef, person};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::FromRow;
use uuid::Uuid;

/// An entry of an app's activity timeline.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Event {
    /// Id (time-ordered).
    pub id: Uuid,
    /// App.
    #[schema(required = true)]
    pub app_id: Option<Uuid>,
    /// App name when it happened.
    pub app_name: String,
    /// What happened, such as `collaborator.role_changed`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Who did it; `null` for the platform.
    #[schema(required = true)]
    pub actor: Option<Person>,
    /// Details.
    pub data: serde_json::Value,
    /// When.
    pub created_at: DateTime<Utc>,
    /// A sealed secret detail (a variable's value), shown only to members allowed to see it.
    #[serde(skip)]
    pub secret: Option<Vec<u8>>,
}

/// An event to write in the transaction of the change it records.
pub struct NewEvent<'a> {
    /// App.
    pub app_id: Uuid,
    /// App name.
    pub app_name: &'a str,
    /// Who did it.
    pub actor: Option<&'a UserRef>,
    /// What happened.
    pub kind: crate::kinds::EventKind,
    /// Details.
    pub data: serde_json::Value,
    /// A sealed secret detail.
    pub secret: Option<&'a [u8]>,
    /// When.
    pub now: DateTime<Utc>,
}

#[derive(FromRow)]
pub(in crate::store) struct EventRow {
    pub id: Uuid,
    pub app_id: Option<Uuid>,
    pub app_name: String,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub actor_id: Option<Uuid>,
    pub actor_email: Option<String>,
    pub data: sqlx::types::Json<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub secret: Option<Vec<u8>>,
}

impl From<EventRow> for Event {
    fn from(r: EventRow) -> Event {
        Event {
            id: r.id,
            app_id: r.app_id,
            app_name: r.app_name,
            kind: r.kind,
            actor: person(r.actor_id, r.actor_email),
            data: r.data.0,
            created_at: r.created_at,
            secret: r.secret,
        }
    }
}

/// Who did it, in an event filter.
#[derive(Clone, Debug)]
pub enum Actor {
    /// By user id.
    Id(Uuid),
    /// By email.
    Email(String),
}

/// Filters of the cross-app audit trail.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    /// One app.
    pub app_id: Option<Uuid>,
    /// One actor.
    pub actor: Option<Actor>,
    /// One event type.
    pub kind: Option<String>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
}
