//! What every aggregate writes through: the event, the outbox order and the platform
//! request recorded in the transaction of the change that causes them. Compiled once for
//! each backend.

use super::{Backend, Db};

impl Backend {
    pub(super) async fn insert_event(
        conn: &mut <Db as sqlx::Database>::Connection,
        event: crate::store::NewEvent<'_>,
    ) -> crate::store::StoreResult<()> {
        sqlx::query(
            "insert into events (id, app_id, app_name, actor_id, actor_email, type, data, secret, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(uuid::Uuid::now_v7())
        .bind(event.app_id)
        .bind(event.app_name)
        .bind(event.actor.map(|a| a.id))
        .bind(event.actor.map(|a| a.email.as_str()))
        .bind(event.kind.as_str())
        .bind(sqlx::types::Json(&event.data))
        .bind(event.secret)
        .bind(event.now)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Queues an order in the outbox of its kind's channel. `app` is what the order is about,
    /// if anything (a mail is about a person, not an app).
    pub(super) async fn insert_order(
        conn: &mut <Db as sqlx::Database>::Connection,
        app: Option<&crate::store::App>,
        order: crate::store::NewOrder,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<uuid::Uuid> {
        let id = uuid::Uuid::now_v7();
        let mut payload = serde_json::json!({
            "id": id,
            "type": order.kind.as_str(),
            "created_at": now,
            "data": order.data,
        });
        if let Some(app) = app {
            payload["app"] = serde_json::json!({ "id": app.id, "name": app.name });
        }
        sqlx::query(
            "insert into outbox (id, channel, app_id, type, payload, created_at, next_attempt_at) \
             values ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(id)
        .bind(order.kind.channel().as_str())
        .bind(app.map(|a| a.id))
        .bind(order.kind.as_str())
        .bind(sqlx::types::Json(payload))
        .bind(now)
        .execute(&mut *conn)
        .await?;
        Ok(id)
    }

    /// The one way a change asks the platform to act: the request's record, its order and
    /// its event (whose data is the order's, with `order_id`), in the caller's transaction.
    pub(super) async fn insert_request(
        conn: &mut <Db as sqlx::Database>::Connection,
        app: &crate::store::App,
        request: crate::store::NewRequest,
        actor: Option<&crate::store::UserRef>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<crate::store::Recorded> {
        let order = crate::store::NewOrder {
            kind: request.order,
            data: request.data.clone(),
        };
        let order_id = Self::insert_order(&mut *conn, Some(app), order, now).await?;
        let id = uuid::Uuid::now_v7();
        sqlx::query(
            "insert into requests (id, app_id, type, target_id, data, status, order_id, requested_by, created_at, \
             updated_at) values ($1, $2, $3, $4, $5, 'queued', $6, $7, $8, $8)",
        )
        .bind(id)
        .bind(app.id)
        .bind(request.order.as_str())
        .bind(request.target)
        .bind(sqlx::types::Json(&request.data))
        .bind(order_id)
        .bind(actor.map(|a| a.id))
        .bind(now)
        .execute(&mut *conn)
        .await?;
        let mut data = request.data;
        data["order_id"] = serde_json::json!(order_id);
        let event = crate::store::NewEvent {
            app_id: app.id,
            app_name: &app.name,
            actor,
            kind: request.event,
            data,
            secret: None,
            now,
        };
        Self::insert_event(&mut *conn, event).await?;
        Ok(crate::store::Recorded { id, order_id })
    }
}

#[async_trait::async_trait]
impl crate::store::Store for Backend {
    fn backend(&self) -> &'static str {
        super::NAME
    }

    async fn ping(&self) -> crate::store::StoreResult<()> {
        sqlx::query("select 1").execute(self.reader()).await?;
        Ok(())
    }

    async fn close(&self) {
        self.reader().close().await;
        if super::NAME == "sqlite"
            && let Err(err) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(self.writer())
                .await
        {
            tracing::error!(error = %err, "cannot checkpoint the SQLite write-ahead log");
        }
        self.writer().close().await;
    }
}
