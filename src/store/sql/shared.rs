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

    /// Queues an order about `app` that `actor` caused, in the outbox of its kind's channel,
    /// once [`Self::check_order_rate`] allows it.
    pub(super) async fn insert_order(
        &self,
        conn: &mut <Db as sqlx::Database>::Connection,
        app: &crate::store::App,
        actor: Option<&crate::store::UserRef>,
        order: crate::store::NewOrder,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<uuid::Uuid> {
        if let Some(actor) = actor {
            self.check_order_rate(&mut *conn, app.id, actor.id, now).await?;
        }
        Self::write_order(conn, Some(app), actor, order, now).await
    }

    /// Queues a mail: an order about a person, not an app, and not rate-limited here (its
    /// cause is: sign-up, invitations, password resets).
    pub(super) async fn insert_mail(
        conn: &mut <Db as sqlx::Database>::Connection,
        order: crate::store::NewOrder,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<uuid::Uuid> {
        Self::write_order(conn, None, None, order, now).await
    }

    async fn write_order(
        conn: &mut <Db as sqlx::Database>::Connection,
        app: Option<&crate::store::App>,
        actor: Option<&crate::store::UserRef>,
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
            "insert into outbox (id, channel, app_id, type, payload, created_at, next_attempt_at, requested_by) \
             values ($1, $2, $3, $4, $5, $6, $6, $7)",
        )
        .bind(id)
        .bind(order.kind.channel().as_str())
        .bind(app.map(|a| a.id))
        .bind(order.kind.as_str())
        .bind(sqlx::types::Json(payload))
        .bind(now)
        .bind(actor.map(|a| a.id))
        .execute(&mut *conn)
        .await?;
        Ok(id)
    }

    /// Refuses a member's order on an app past `orders_per_minute` in the last 60 seconds.
    /// The member's row is locked first, so two concurrent orders are counted one after the
    /// other, on every replica.
    async fn check_order_rate(
        &self,
        conn: &mut <Db as sqlx::Database>::Connection,
        app_id: uuid::Uuid,
        user_id: uuid::Uuid,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::store::StoreResult<()> {
        let max = self.limits.orders_per_minute;
        if max == 0 {
            return Ok(());
        }
        sqlx::query(concat!(
            "select id from collaborators where app_id = $1 and user_id = $2",
            lock!()
        ))
        .bind(app_id)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
        let window = chrono::TimeDelta::seconds(60);
        // The max-th most recent order in the window: while there is one, the next is refused
        // until it leaves the window.
        let oldest: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
            "select created_at from outbox where app_id = $1 and requested_by = $2 and created_at > $3 \
             order by created_at desc limit 1 offset $4",
        )
        .bind(app_id)
        .bind(user_id)
        .bind(now - window)
        .bind(i64::try_from(max - 1).unwrap_or(i64::MAX))
        .fetch_optional(&mut *conn)
        .await?;
        match oldest {
            None => Ok(()),
            Some(at) => {
                let wait = (at + window - now).num_milliseconds().max(0);
                Err(crate::store::StoreError::RateLimited {
                    limit: "orders_per_minute",
                    max,
                    retry_after: u64::try_from((wait + 999) / 1000).unwrap_or(1).max(1),
                })
            }
        }
    }

    /// Refuses a change that would take `count` past `max` for `limit` (`max` 0: no limit).
    pub(super) fn within(limit: &'static str, max: u64, count: i64) -> crate::store::StoreResult<()> {
        if max > 0 && u64::try_from(count).unwrap_or(0) > max {
            Err(crate::store::StoreError::Quota { limit, max })
        } else {
            Ok(())
        }
    }

    /// The one way a change asks the platform to act: the request's record, its order and
    /// its event (whose data is the order's, with `order_id`), in the caller's transaction.
    pub(super) async fn insert_request(
        &self,
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
        let order_id = self.insert_order(&mut *conn, app, actor, order, now).await?;
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

    fn pool_status(&self) -> crate::store::PoolStatus {
        let pools: &[&sqlx::Pool<super::Db>] = if super::NAME == "sqlite" {
            &[self.reader(), self.writer()]
        } else {
            // One pool serves both.
            &[self.reader()]
        };
        let access = self.access_pool_status();
        pools.iter().fold(access, |status, pool| {
            let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
            crate::store::PoolStatus {
                idle: status.idle + idle,
                in_use: status.in_use + pool.size().saturating_sub(idle),
                ..status
            }
        })
    }

    async fn ping(&self) -> crate::store::StoreResult<()> {
        if super::NAME == "postgres" {
            // A standby, or a primary turned read-only, takes no writes: not ready, so a load
            // balancer sends the traffic elsewhere.
            let writable: bool = sqlx::query_scalar(crate::store::failover::TAKES_WRITES)
                .fetch_one(self.reader())
                .await?;
            if !writable {
                return Err(crate::store::StoreError::ReadOnly);
            }
        } else {
            sqlx::query("select 1").execute(self.reader()).await?;
        }
        Ok(())
    }

    async fn lane(
        &self,
        settings: crate::store::PoolSettings,
    ) -> crate::store::StoreResult<std::sync::Arc<dyn crate::store::Store>> {
        Ok(std::sync::Arc::new(self.open_lane(settings).await?))
    }

    async fn warm(&self) {
        self.warm_access_pool().await;
    }

    async fn close(&self) {
        self.close_access_pool().await;
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
