//! The SQL of [`RequestStore`](crate::store::RequestStore), compiled once for each backend:
//! see `store/postgres.rs` and `store/sqlite.rs`.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::types::Json;
use uuid::Uuid;

use super::Backend;
use crate::kinds::{EventKind, OrderKind};
use crate::store::columns::request_columns;
use crate::store::{
    App, Container, NewEvent, NewRequest, PlatformRequest, Queued, Recorded, RequestStatus, StoreError, StoreResult,
    UserRef,
};

#[async_trait::async_trait]
impl crate::store::RequestStore for Backend {
    async fn record_request(
        &self,
        app: &App,
        request: NewRequest,
        actor: &UserRef,
        now: DateTime<Utc>,
    ) -> StoreResult<Recorded> {
        let mut tx = self.write_tx().await?;
        if let Some((from, to)) = request.app_status {
            // The state test is in the statement: of two concurrent stops, one finds the app
            // running and the other finds it stopped.
            let changed = sqlx::query("update apps set status = $3, updated_at = $4 where id = $1 and status = $2")
                .bind(app.id)
                .bind(from)
                .bind(to)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            if changed.rows_affected() == 0 {
                return Err(StoreError::Conflict("the app is not in the state this asks to leave"));
            }
        }
        let recorded = self.insert_request(&mut tx, app, request, Some(actor), now).await?;
        tx.commit().await?;
        Ok(recorded)
    }

    async fn scale_app(
        &self,
        app: &App,
        changes: &[Container],
        actor: &UserRef,
        now: DateTime<Utc>,
    ) -> StoreResult<Queued> {
        let mut tx = self.write_tx().await?;
        let current: Json<Vec<Container>> =
            sqlx::query_scalar(concat!("select formation from apps where id = $1", lock!()))
                .bind(app.id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
        let formation = crate::store::merge_formation(current.0, changes);
        sqlx::query("update apps set formation = $2, updated_at = $3 where id = $1")
            .bind(app.id)
            .bind(Json(&formation))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let request = NewRequest {
            order: OrderKind::AppScale,
            event: EventKind::AppScaleRequested,
            target: None,
            data: json!({ "containers": changes, "formation": formation }),
            app_status: None,
        };
        let recorded = self.insert_request(&mut tx, app, request, Some(actor), now).await?;
        tx.commit().await?;
        Ok(Queued {
            order_id: recorded.order_id,
            formation,
        })
    }

    async fn set_request_status(
        &self,
        order_id: Uuid,
        status: RequestStatus,
        message: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<PlatformRequest> {
        let mut tx = self.write_tx().await?;
        let select = concat!(
            "select ",
            request_columns!(),
            " from requests where order_id = $1",
            lock!()
        );
        let current: PlatformRequest = sqlx::query_as(select)
            .bind(order_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        if current.status == status.as_str() {
            return Ok(current);
        }
        if RequestStatus::parse(&current.status).is_some_and(RequestStatus::is_final) {
            return Err(StoreError::Conflict("the request has already ended"));
        }
        let update = concat!(
            "update requests set status = $2, message = $3, updated_at = $4 where id = $1 returning ",
            request_columns!()
        );
        let updated: PlatformRequest = sqlx::query_as(update)
            .bind(current.id)
            .bind(status.as_str())
            .bind(message)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
        let app_name: String = sqlx::query_scalar("select name from apps where id = $1")
            .bind(current.app_id)
            .fetch_one(&mut *tx)
            .await?;
        let event = NewEvent {
            app_id: current.app_id,
            app_name: &app_name,
            actor: None,
            kind: EventKind::RequestStatusChanged,
            data: json!({
                "order_id": order_id, "type": current.kind, "from": current.status, "to": status.as_str(),
                "message": message,
            }),
            secret: None,
            now,
        };
        Self::insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(updated)
    }
}
