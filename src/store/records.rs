//! Records of an app declared as data: one table for every kind, each change written with its
//! event and its order in one transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{App, RecordRemoval, RecordWrite, StoreResult, StoredRecord, UserRef};

/// Records of an app.
#[async_trait]
pub trait RecordStore: Send + Sync {
    /// The app's records of one kind, oldest first.
    async fn list_records(&self, app_id: Uuid, kind: &str) -> StoreResult<Vec<StoredRecord>>;

    /// One record of the app, if it exists.
    async fn record(&self, app_id: Uuid, kind: &str, id: Uuid) -> StoreResult<Option<StoredRecord>>;

    /// One record of any app, by id (for the platform, which names records by id).
    async fn record_by_id(&self, kind: &str, id: Uuid) -> StoreResult<Option<StoredRecord>>;

    /// Removes and returns the record of `kind` whose `unique_key` is `key`, in one statement:
    /// of concurrent takers, one gets it (single-use credentials).
    async fn take_record(&self, kind: &str, key: &str) -> StoreResult<Option<StoredRecord>>;

    /// Creates or changes a record, with its event and order, in one transaction. A clash of
    /// `unique_key` is a `Conflict`; changing a record that is not there, `NotFound`.
    async fn save_record(
        &self,
        app: &App,
        write: RecordWrite,
        actor: Option<&UserRef>,
        now: DateTime<Utc>,
    ) -> StoreResult<StoredRecord>;

    /// Removes a record, with its event and order, in one transaction; returns what it was.
    async fn remove_record(
        &self,
        app: &App,
        removal: RecordRemoval,
        actor: Option<&UserRef>,
        now: DateTime<Utc>,
    ) -> StoreResult<StoredRecord>;

    /// Replaces every record of one kind of the app (the platform's cron table), with one
    /// event, in one transaction.
    async fn replace_records(
        &self,
        app: &App,
        kind: &'static str,
        records: Vec<serde_json::Value>,
        event: crate::kinds::EventKind,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<StoredRecord>>;
}
