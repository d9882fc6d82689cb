//! The SQL of [`EventStore`](crate::store::EventStore), compiled once for each backend:
//! see `store/postgres.rs` and `store/sqlite.rs`.

use super::{Backend, Db};

#[async_trait::async_trait]
impl crate::store::EventStore for Backend {
    async fn list_events(
        &self,
        app_id: uuid::Uuid,
        kind: Option<&str>,
        before: Option<uuid::Uuid>,
        limit: u32,
    ) -> crate::store::StoreResult<Vec<crate::store::Event>> {
        let rows: Vec<crate::store::models::EventRow> = sqlx::query_as(
            "select id, app_id, app_name, type, actor_id, actor_email, data, secret, created_at from events \
             where app_id = $1 and id < $2 and (type = $4 or $4 is null) order by id desc limit $3",
        )
        .bind(app_id)
        .bind(before.unwrap_or(uuid::Uuid::max()))
        .bind(i64::from(limit))
        .bind(kind)
        .fetch_all(self.reader())
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn record_event(&self, event: crate::store::NewEvent<'_>) -> crate::store::StoreResult<()> {
        let mut conn = self.writer().acquire().await?;
        Self::insert_event(&mut conn, event).await
    }

    async fn owned_events(
        &self,
        owner_id: uuid::Uuid,
        filter: &crate::store::EventFilter,
        before: Option<uuid::Uuid>,
        limit: u32,
    ) -> crate::store::StoreResult<Vec<crate::store::Event>> {
        let mut query = sqlx::QueryBuilder::<Db>::new(
            "select e.id, e.app_id, e.app_name, e.type, e.actor_id, e.actor_email, e.data, e.secret, e.created_at \
             from events e join collaborators o on o.app_id = e.app_id and o.role = 'owner' where o.user_id = ",
        );
        query.push_bind(owner_id);
        if let Some(app_id) = filter.app_id {
            query.push(" and e.app_id = ").push_bind(app_id);
        }
        match &filter.actor {
            Some(crate::store::Actor::Id(id)) => {
                query.push(" and e.actor_id = ").push_bind(*id);
            }
            Some(crate::store::Actor::Email(email)) => {
                query.push(" and e.actor_email = ").push_bind(email.clone());
            }
            None => {}
        }
        if let Some(kind) = &filter.kind {
            query.push(" and e.type = ").push_bind(kind.clone());
        }
        if let Some(since) = filter.since {
            query.push(" and e.created_at >= ").push_bind(since);
        }
        if let Some(until) = filter.until {
            query.push(" and e.created_at < ").push_bind(until);
        }
        query
            .push(" and e.id < ")
            .push_bind(before.unwrap_or(uuid::Uuid::max()));
        query.push(" order by e.id desc limit ").push_bind(i64::from(limit));
        let rows: Vec<crate::store::models::EventRow> = query.build_query_as().fetch_all(self.reader()).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
