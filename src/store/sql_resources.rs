//! The SQL of [`ResourceStore`](crate::store::ResourceStore), shared by both backends
//! like `sql.rs`. `skip_locked` is the clause that lets several dispatchers lease orders
//! without waiting on each other (`for update skip locked` on Postgres; SQLite's single
//! writer serialises them anyway).

macro_rules! deployment_columns {
    () => {
        "select id, app_id, git_ref, kind, status, requested_by, requested_by_email, created_at, finished_at from deployments "
    };
}

macro_rules! addon_columns {
    () => {
        "id, app_id, provider, plan, status, created_at, updated_at"
    };
}

macro_rules! order_columns {
    () => {
        "id, type, payload, created_at, attempts, delivered_at, last_error"
    };
}

macro_rules! impl_resource_store {
    ($store:ty, $db:ty, lock = $lock:literal, skip_locked = $skip_locked:literal) => {
        impl $store {
            async fn insert_order(
                conn: &mut <$db as sqlx::Database>::Connection,
                app: &$crate::store::App,
                order: $crate::store::NewOrder,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<uuid::Uuid> {
                let id = uuid::Uuid::now_v7();
                let payload = serde_json::json!({
                    "id": id,
                    "type": order.kind,
                    "app": { "id": app.id, "name": app.name },
                    "created_at": now,
                    "data": order.data,
                });
                sqlx::query(
                    "insert into outbox (id, app_id, type, payload, created_at, next_attempt_at) values ($1, $2, $3, $4, $5, $5)",
                )
                .bind(id)
                .bind(app.id)
                .bind(order.kind)
                .bind(sqlx::types::Json(payload))
                .bind(now)
                .execute(&mut *conn)
                .await?;
                Ok(id)
            }

            async fn fetch_deployment(
                conn: &mut <$db as sqlx::Database>::Connection,
                app_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<$crate::store::Deployment>> {
                let row: Option<$crate::store::models::DeploymentRow> =
                    sqlx::query_as(concat!(deployment_columns!(), "where app_id = $1 and id = $2"))
                        .bind(app_id)
                        .bind(id)
                        .fetch_optional(&mut *conn)
                        .await?;
                Ok(row.map(Into::into))
            }

            async fn fetch_idempotent(
                conn: &mut <$db as sqlx::Database>::Connection,
                app_id: uuid::Uuid,
                user_id: uuid::Uuid,
                key: &str,
            ) -> $crate::store::StoreResult<Option<$crate::store::Deployment>> {
                let row: Option<$crate::store::models::DeploymentRow> = sqlx::query_as(concat!(
                    deployment_columns!(),
                    "where app_id = $1 and requested_by = $2 and idempotency_key = $3"
                ))
                .bind(app_id)
                .bind(user_id)
                .bind(key)
                .fetch_optional(&mut *conn)
                .await?;
                Ok(row.map(Into::into))
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::ResourceStore for $store {
            async fn app_by_ref(&self, app: &$crate::store::AppRef) -> $crate::store::StoreResult<Option<$crate::store::App>> {
                let query = match app {
                    $crate::store::AppRef::Id(id) => sqlx::query_as(concat!("select ", app_columns!(), app_from!(), "where a.id = $1")).bind(*id),
                    $crate::store::AppRef::Name(name) => {
                        sqlx::query_as(concat!("select ", app_columns!(), app_from!(), "where a.name = $1")).bind(name.clone())
                    }
                };
                let row: Option<$crate::store::models::AppRow> = query.fetch_optional(self.reader()).await?;
                Ok(row.map(Into::into))
            }

            async fn list_variables(&self, app_id: uuid::Uuid) -> $crate::store::StoreResult<Vec<$crate::store::StoredVariable>> {
                Ok(sqlx::query_as("select id, name, value_sealed, updated_at from variables where app_id = $1 order by name")
                    .bind(app_id)
                    .fetch_all(self.reader())
                    .await?)
            }

            async fn variable(&self, app_id: uuid::Uuid, name: &str) -> $crate::store::StoreResult<Option<$crate::store::StoredVariable>> {
                Ok(sqlx::query_as("select id, name, value_sealed, updated_at from variables where app_id = $1 and name = $2")
                    .bind(app_id)
                    .bind(name)
                    .fetch_optional(self.reader())
                    .await?)
            }

            async fn set_variables(
                &self,
                app: &$crate::store::App,
                variables: &[$crate::store::NewVariable],
                actor: &$crate::store::UserRef,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Vec<$crate::store::StoredVariable>> {
                let mut tx = self.write_tx().await?;
                let mut stored = Vec::with_capacity(variables.len());
                for variable in variables {
                    let row: $crate::store::StoredVariable = sqlx::query_as(
                        "insert into variables (id, app_id, name, value_sealed, created_at, updated_at) \
                         values ($1, $2, $3, $4, $5, $5) \
                         on conflict (app_id, name) do update set value_sealed = excluded.value_sealed, updated_at = excluded.updated_at \
                         returning id, name, value_sealed, updated_at",
                    )
                    .bind(uuid::Uuid::now_v7())
                    .bind(app.id)
                    .bind(&variable.name)
                    .bind(&variable.sealed)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                    let event = $crate::store::NewEvent {
                        app_id: app.id, app_name: &app.name, actor: Some(actor), kind: "variable.set",
                        data: serde_json::json!({ "name": variable.name }), secret: Some(&variable.sealed), now,
                    };
                    Self::insert_event(&mut tx, event).await?;
                    stored.push(row);
                }
                tx.commit().await?;
                Ok(stored)
            }

            async fn delete_variable(
                &self,
                app: &$crate::store::App,
                name: &str,
                actor: &$crate::store::UserRef,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.write_tx().await?;
                let done = sqlx::query("delete from variables where app_id = $1 and name = $2").bind(app.id).bind(name).execute(&mut *tx).await?;
                if done.rows_affected() == 0 {
                    return Err($crate::store::StoreError::NotFound);
                }
                // A removed secret (a leaked one, say) leaves no readable copy in the timeline.
                sqlx::query("update events set secret = null where app_id = $1 and type = 'variable.set' and data ->> 'name' = $2")
                    .bind(app.id)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                let event = $crate::store::NewEvent {
                    app_id: app.id, app_name: &app.name, actor: Some(actor), kind: "variable.removed",
                    data: serde_json::json!({ "name": name }), secret: None, now,
                };
                Self::insert_event(&mut tx, event).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn create_deployment(
                &self,
                app: &$crate::store::App,
                new: $crate::store::NewDeployment<'_>,
                actor: &$crate::store::UserRef,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<($crate::store::Deployment, bool)> {
                let mut tx = self.write_tx().await?;
                if let Some(key) = new.idempotency_key {
                    // A key lives for a day; after that it names a new request.
                    sqlx::query(
                        "update deployments set idempotency_key = null \
                         where app_id = $1 and requested_by = $2 and idempotency_key = $3 and created_at <= $4",
                    )
                    .bind(app.id)
                    .bind(actor.id)
                    .bind(key)
                    .bind(now - $crate::store::IDEMPOTENCY_KEY_LIFETIME)
                    .execute(&mut *tx)
                    .await?;
                    if let Some(first) = Self::fetch_idempotent(&mut tx, app.id, actor.id, key).await? {
                        return Ok((first, false));
                    }
                }
                let id = uuid::Uuid::now_v7();
                let inserted = sqlx::query(
                    "insert into deployments (id, app_id, git_ref, kind, status, requested_by, requested_by_email, idempotency_key, created_at) \
                     values ($1, $2, $3, $4, 'queued', $5, $6, $7, $8)",
                )
                .bind(id)
                .bind(app.id)
                .bind(new.git_ref)
                .bind(new.kind)
                .bind(actor.id)
                .bind(&actor.email)
                .bind(new.idempotency_key)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err($crate::store::StoreError::from);
                match (inserted, new.idempotency_key) {
                    (Ok(_), _) => {}
                    // A concurrent retry with the same key won the race: answer with its deployment.
                    (Err($crate::store::StoreError::Conflict(_)), Some(key)) => {
                        drop(tx);
                        let mut conn = self.writer().acquire().await?;
                        let first = Self::fetch_idempotent(&mut conn, app.id, actor.id, key).await?.ok_or($crate::store::StoreError::NotFound)?;
                        return Ok((first, false));
                    }
                    (Err(e), _) => return Err(e),
                }
                let data = serde_json::json!({
                    "deployment_id": id, "git_ref": new.git_ref, "kind": new.kind,
                    "requested_by": { "id": actor.id, "email": actor.email },
                });
                let order = $crate::store::NewOrder { kind: "deployment.create", data: data.clone() };
                let order_id = Self::insert_order(&mut tx, app, order, now).await?;
                let mut data = data;
                data["order_id"] = serde_json::json!(order_id);
                let event = $crate::store::NewEvent {
                    app_id: app.id, app_name: &app.name, actor: Some(actor), kind: "deployment.requested", data, secret: None, now,
                };
                Self::insert_event(&mut tx, event).await?;
                let deployment = Self::fetch_deployment(&mut tx, app.id, id).await?.ok_or($crate::store::StoreError::NotFound)?;
                tx.commit().await?;
                Ok((deployment, true))
            }

            async fn list_deployments(
                &self,
                app_id: uuid::Uuid,
                before: Option<uuid::Uuid>,
                limit: u32,
            ) -> $crate::store::StoreResult<Vec<$crate::store::Deployment>> {
                let rows: Vec<$crate::store::models::DeploymentRow> =
                    sqlx::query_as(concat!(deployment_columns!(), "where app_id = $1 and id < $2 order by id desc limit $3"))
                        .bind(app_id)
                        .bind(before.unwrap_or(uuid::Uuid::max()))
                        .bind(i64::from(limit))
                        .fetch_all(self.reader())
                        .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn deployment(&self, app_id: uuid::Uuid, id: uuid::Uuid) -> $crate::store::StoreResult<Option<$crate::store::Deployment>> {
                let mut conn = self.reader().acquire().await?;
                Self::fetch_deployment(&mut conn, app_id, id).await
            }

            async fn deployment_output(&self, app_id: uuid::Uuid, id: uuid::Uuid) -> $crate::store::StoreResult<Option<String>> {
                Ok(sqlx::query_scalar("select output from deployments where app_id = $1 and id = $2")
                    .bind(app_id)
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?)
            }

            async fn set_deployment_status(
                &self,
                id: uuid::Uuid,
                status: &str,
                output: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<$crate::store::Deployment> {
                use $crate::domain::DeploymentStatus;
                let mut tx = self.write_tx().await?;
                let current: Option<(uuid::Uuid, String)> =
                    sqlx::query_as(concat!("select app_id, status from deployments where id = $1", $lock))
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                let (app_id, from) = current.ok_or($crate::store::StoreError::NotFound)?;
                if DeploymentStatus::parse(&from).is_some_and(DeploymentStatus::is_final) {
                    return Err($crate::store::StoreError::Conflict("the deployment has already finished"));
                }
                let finished = DeploymentStatus::parse(status).is_some_and(DeploymentStatus::is_final).then_some(now);
                // Output is appended, and only its last MAX_BUILD_OUTPUT characters are kept.
                sqlx::query(
                    "update deployments set status = $2, finished_at = $4, output = case \
                       when length(output || $3) > $5 then substr(output || $3, length(output || $3) - $5 + 1) \
                       else output || $3 end \
                     where id = $1",
                )
                    .bind(id)
                    .bind(status)
                    .bind(output.unwrap_or(""))
                    .bind(finished)
                    .bind($crate::store::MAX_BUILD_OUTPUT)
                    .execute(&mut *tx)
                    .await?;
                let app_name: String = sqlx::query_scalar("select name from apps where id = $1").bind(app_id).fetch_one(&mut *tx).await?;
                if from != status {
                    let event = $crate::store::NewEvent {
                        app_id, app_name: &app_name, actor: None, kind: "deployment.status_changed",
                        data: serde_json::json!({ "deployment_id": id, "from": from, "to": status }), secret: None, now,
                    };
                    Self::insert_event(&mut tx, event).await?;
                }
                let deployment = Self::fetch_deployment(&mut tx, app_id, id).await?.ok_or($crate::store::StoreError::NotFound)?;
                tx.commit().await?;
                Ok(deployment)
            }

            async fn request_operation(
                &self,
                app: &$crate::store::App,
                operation: $crate::store::resources::Operation,
                actor: &$crate::store::UserRef,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<$crate::store::Queued> {
                let mut tx = self.write_tx().await?;
                let mut order = operation.order;
                let mut formation = None;
                if let Some(changes) = &operation.scale {
                    // Merged under the row lock: two concurrent scales both land.
                    let current: sqlx::types::Json<Vec<$crate::store::Container>> =
                        sqlx::query_scalar(concat!("select formation from apps where id = $1", $lock))
                            .bind(app.id)
                            .fetch_optional(&mut *tx)
                            .await?
                            .ok_or($crate::store::StoreError::NotFound)?;
                    let merged = $crate::store::merge_formation(current.0, changes);
                    sqlx::query("update apps set formation = $2, updated_at = $3 where id = $1")
                        .bind(app.id)
                        .bind(sqlx::types::Json(&merged))
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    order.data["formation"] = serde_json::json!(merged);
                    formation = Some(merged);
                }
                let mut data = order.data.clone();
                let order_id = Self::insert_order(&mut tx, app, order, now).await?;
                data["order_id"] = serde_json::json!(order_id);
                let event = $crate::store::NewEvent {
                    app_id: app.id, app_name: &app.name, actor: Some(actor), kind: operation.event, data, secret: None, now,
                };
                Self::insert_event(&mut tx, event).await?;
                tx.commit().await?;
                Ok($crate::store::Queued { order_id, formation })
            }

            async fn append_logs(
                &self,
                app_id: uuid::Uuid,
                lines: &[$crate::store::LogLine],
                max_lines: u32,
                cutoff: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
                if lines.is_empty() {
                    return Ok(());
                }
                let mut tx = self.write_tx().await?;
                let mut insert = sqlx::QueryBuilder::<$db>::new("insert into log_lines (app_id, timestamp, source, message) ");
                insert.push_values(lines, |mut row, line| {
                    row.push_bind(app_id).push_bind(line.timestamp).push_bind(line.source.clone()).push_bind(line.message.clone());
                });
                insert.build().execute(&mut *tx).await?;
                sqlx::query(
                    "delete from log_lines where app_id = $1 and (timestamp < $2 or id <= \
                     (select id from log_lines where app_id = $1 order by id desc limit 1 offset $3))",
                )
                .bind(app_id)
                .bind(cutoff)
                .bind(i64::from(max_lines))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn recent_logs(
                &self,
                app_id: uuid::Uuid,
                since: chrono::DateTime<chrono::Utc>,
                limit: u32,
            ) -> $crate::store::StoreResult<Vec<$crate::store::LogLine>> {
                let mut lines: Vec<$crate::store::LogLine> = sqlx::query_as(
                    "select timestamp, source, message from log_lines where app_id = $1 and timestamp >= $2 order by id desc limit $3",
                )
                .bind(app_id)
                .bind(since)
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await?;
                lines.reverse();
                Ok(lines)
            }

            async fn append_metrics(
                &self,
                app_id: uuid::Uuid,
                samples: &[$crate::store::MetricSample],
                cutoff: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
                if samples.is_empty() {
                    return Ok(());
                }
                let mut tx = self.write_tx().await?;
                let mut insert = sqlx::QueryBuilder::<$db>::new("insert into metric_samples (app_id, kind, time, value) ");
                insert.push_values(samples, |mut row, s| {
                    row.push_bind(app_id).push_bind(s.kind).push_bind(s.time).push_bind(s.value);
                });
                insert.build().execute(&mut *tx).await?;
                sqlx::query("delete from metric_samples where app_id = $1 and time < $2").bind(app_id).bind(cutoff).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn metrics(
                &self,
                app_id: uuid::Uuid,
                kind: &str,
                since: chrono::DateTime<chrono::Utc>,
                limit: u32,
            ) -> $crate::store::StoreResult<Vec<$crate::store::MetricPoint>> {
                Ok(sqlx::query_as(
                    // The newest `limit` points of the window, oldest first.
                    "select time, value from (select time, value from metric_samples \
                     where app_id = $1 and kind = $2 and time >= $3 order by time desc limit $4) newest order by time",
                )
                .bind(app_id)
                .bind(kind)
                .bind(since)
                .bind(i64::from(limit))
                .fetch_all(self.reader())
                .await?)
            }

            async fn list_addons(&self, app_id: uuid::Uuid) -> $crate::store::StoreResult<Vec<$crate::store::Addon>> {
                Ok(sqlx::query_as(concat!("select ", addon_columns!(), " from addons where app_id = $1 order by id"))
                    .bind(app_id)
                    .fetch_all(self.reader())
                    .await?)
            }

            async fn addon(&self, app_id: uuid::Uuid, id: uuid::Uuid) -> $crate::store::StoreResult<Option<$crate::store::Addon>> {
                Ok(sqlx::query_as(concat!("select ", addon_columns!(), " from addons where app_id = $1 and id = $2"))
                    .bind(app_id)
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await?)
            }

            async fn create_addon(
                &self,
                app: &$crate::store::App,
                provider: &str,
                plan: &str,
                actor: &$crate::store::UserRef,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<$crate::store::Addon> {
                let mut tx = self.write_tx().await?;
                let addon: $crate::store::Addon = sqlx::query_as(concat!(
                    "insert into addons (id, app_id, provider, plan, status, created_at, updated_at) \
                     values ($1, $2, $3, $4, 'provisioning', $5, $5) returning ",
                    addon_columns!()
                ))
                .bind(uuid::Uuid::now_v7())
                .bind(app.id)
                .bind(provider)
                .bind(plan)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                let data = serde_json::json!({ "addon_id": addon.id, "provider": provider, "plan": plan });
                Self::insert_order(&mut tx, app, $crate::store::NewOrder { kind: "addon.provision", data: data.clone() }, now).await?;
                let event = $crate::store::NewEvent { app_id: app.id, app_name: &app.name, actor: Some(actor), kind: "addon.provisioned", data, secret: None, now };
                Self::insert_event(&mut tx, event).await?;
                tx.commit().await?;
                Ok(addon)
            }

            async fn change_addon_plan(
                &self,
                app: &$crate::store::App,
                id: uuid::Uuid,
                plan: &str,
                actor: &$crate::store::UserRef,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<$crate::store::Addon> {
                let mut tx = self.write_tx().await?;
                let from: String = sqlx::query_scalar(concat!("select plan from addons where app_id = $1 and id = $2", $lock))
                    .bind(app.id)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or($crate::store::StoreError::NotFound)?;
                let addon: $crate::store::Addon = sqlx::query_as(concat!(
                    "update addons set plan = $3, status = 'updating', updated_at = $4 where app_id = $1 and id = $2 returning ",
                    addon_columns!()
                ))
                .bind(app.id)
                .bind(id)
                .bind(plan)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                let data = serde_json::json!({ "addon_id": id, "provider": addon.provider, "from": from, "to": plan });
                Self::insert_order(&mut tx, app, $crate::store::NewOrder { kind: "addon.change_plan", data: data.clone() }, now).await?;
                let event = $crate::store::NewEvent { app_id: app.id, app_name: &app.name, actor: Some(actor), kind: "addon.changed", data, secret: None, now };
                Self::insert_event(&mut tx, event).await?;
                tx.commit().await?;
                Ok(addon)
            }

            async fn delete_addon(
                &self,
                app: &$crate::store::App,
                id: uuid::Uuid,
                actor: &$crate::store::UserRef,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.write_tx().await?;
                let provider: String = sqlx::query_scalar("delete from addons where app_id = $1 and id = $2 returning provider")
                    .bind(app.id)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or($crate::store::StoreError::NotFound)?;
                let data = serde_json::json!({ "addon_id": id, "provider": provider });
                Self::insert_order(&mut tx, app, $crate::store::NewOrder { kind: "addon.deprovision", data: data.clone() }, now).await?;
                let event = $crate::store::NewEvent { app_id: app.id, app_name: &app.name, actor: Some(actor), kind: "addon.removed", data, secret: None, now };
                Self::insert_event(&mut tx, event).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn read_addon_credentials(
                &self,
                app: &$crate::store::App,
                id: uuid::Uuid,
                actor: &$crate::store::UserRef,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Option<Vec<u8>>> {
                let mut tx = self.write_tx().await?;
                let row: Option<(String, Option<Vec<u8>>)> =
                    sqlx::query_as("select provider, credentials_sealed from addons where app_id = $1 and id = $2")
                        .bind(app.id)
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                let (provider, sealed) = row.ok_or($crate::store::StoreError::NotFound)?;
                if sealed.is_some() {
                    let event = $crate::store::NewEvent {
                        app_id: app.id, app_name: &app.name, actor: Some(actor), kind: "addon.credentials_read",
                        data: serde_json::json!({ "addon_id": id, "provider": provider }), secret: None, now,
                    };
                    Self::insert_event(&mut tx, event).await?;
                }
                tx.commit().await?;
                Ok(sealed)
            }

            async fn addon_provisioned(&self, id: uuid::Uuid, sealed: &[u8], now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<$crate::store::Addon> {
                let mut tx = self.write_tx().await?;
                let addon: $crate::store::Addon = sqlx::query_as(concat!(
                    "update addons set status = 'running', credentials_sealed = $2, updated_at = $3 where id = $1 returning ",
                    addon_columns!()
                ))
                .bind(id)
                .bind(sealed)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or($crate::store::StoreError::NotFound)?;
                let app_name: String = sqlx::query_scalar("select name from apps where id = $1").bind(addon.app_id).fetch_one(&mut *tx).await?;
                let event = $crate::store::NewEvent {
                    app_id: addon.app_id, app_name: &app_name, actor: None, kind: "addon.ready",
                    data: serde_json::json!({ "addon_id": id, "provider": addon.provider, "plan": addon.plan }), secret: None, now,
                };
                Self::insert_event(&mut tx, event).await?;
                tx.commit().await?;
                Ok(addon)
            }

            async fn addon_app(&self, id: uuid::Uuid) -> $crate::store::StoreResult<Option<uuid::Uuid>> {
                Ok(sqlx::query_scalar("select app_id from addons where id = $1").bind(id).fetch_optional(self.reader()).await?)
            }

            async fn claim_orders(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                lease_until: chrono::DateTime<chrono::Utc>,
                limit: u32,
            ) -> $crate::store::StoreResult<Vec<$crate::store::Order>> {
                Ok(sqlx::query_as(concat!(
                    "update outbox set locked_until = $2, attempts = attempts + 1 where id in (\
                       select id from outbox \
                       where delivered_at is null and next_attempt_at <= $1 and (locked_until is null or locked_until <= $1) \
                       order by next_attempt_at, id limit $3", $skip_locked, ") \
                     returning ", order_columns!()
                ))
                .bind(now)
                .bind(lease_until)
                .bind(i64::from(limit))
                .fetch_all(self.writer())
                .await?)
            }

            async fn order_delivered(&self, id: uuid::Uuid, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<bool> {
                let done = sqlx::query(
                    "update outbox set delivered_at = coalesce(delivered_at, $2), locked_until = null, last_error = null where id = $1",
                )
                .bind(id)
                .bind(now)
                .execute(self.writer())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn order_failed(&self, id: uuid::Uuid, error: &str, retry_at: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<()> {
                sqlx::query("update outbox set next_attempt_at = $3, locked_until = null, last_error = $2 where id = $1")
                    .bind(id)
                    .bind(error)
                    .bind(retry_at)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            async fn release_order(&self, id: uuid::Uuid) -> $crate::store::StoreResult<()> {
                sqlx::query("update outbox set locked_until = null, attempts = attempts - 1 where id = $1 and delivered_at is null")
                    .bind(id)
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            async fn pending_orders(&self, limit: u32) -> $crate::store::StoreResult<Vec<$crate::store::Order>> {
                Ok(sqlx::query_as(concat!("select ", order_columns!(), " from outbox where delivered_at is null order by id limit $1"))
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?)
            }
        }
    };
}

pub(crate) use {addon_columns, deployment_columns, impl_resource_store, order_columns};
