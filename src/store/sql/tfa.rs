//! The SQL of [`TfaStore`](crate::store::TfaStore), compiled once for each backend:
//! see `store/postgres.rs` and `store/sqlite.rs`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Backend, Db};
use crate::store::{App, NewSecurityEvent, SecurityChanged, Spend, StoreResult, TfaNotice, TfaSecret, UserRef};

impl Backend {
    /// Spends a second factor; the test is in each statement, so of two requests with the
    /// same code exactly one succeeds, on any replica.
    async fn spend_in(
        conn: &mut <Db as sqlx::Database>::Connection,
        user_id: Uuid,
        spend: Spend,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = match spend {
            Spend::Step(step) => {
                sqlx::query(
                    "update users set tfa_last_step = $2 \
                     where id = $1 and tfa_enabled_at is not null \
                     and (tfa_last_step is null or tfa_last_step < $2)",
                )
                .bind(user_id)
                .bind(step)
                .execute(&mut *conn)
                .await?
            }
            Spend::Recovery(hash) => {
                sqlx::query(
                    "update tfa_recovery_codes set used_at = $3 \
                     where user_id = $1 and code_hash = $2 and used_at is null",
                )
                .bind(user_id)
                .bind(hash.to_vec())
                .bind(now)
                .execute(&mut *conn)
                .await?
            }
        };
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn insert_codes(
        conn: &mut <Db as sqlx::Database>::Connection,
        user_id: Uuid,
        codes: &[[u8; 32]],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query("delete from tfa_recovery_codes where user_id = $1")
            .bind(user_id)
            .execute(&mut *conn)
            .await?;
        for hash in codes {
            sqlx::query("insert into tfa_recovery_codes (id, user_id, code_hash, created_at) values ($1, $2, $3, $4)")
                .bind(Uuid::now_v7())
                .bind(user_id)
                .bind(hash.to_vec())
                .bind(now)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    async fn write_notice(conn: &mut <Db as sqlx::Database>::Connection, notice: TfaNotice) -> StoreResult<()> {
        let now = notice.event.now;
        Self::insert_security_event(&mut *conn, notice.event).await?;
        if let Some(mail) = notice.mail {
            Self::insert_mail(&mut *conn, mail, now).await?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl crate::store::TfaStore for Backend {
    async fn tfa_secret(&self, user_id: Uuid) -> StoreResult<Option<TfaSecret>> {
        let row: Option<(Option<Vec<u8>>, bool)> =
            sqlx::query_as("select tfa_secret, (tfa_enabled_at is not null) from users where id = $1")
                .bind(user_id)
                .fetch_optional(self.reader())
                .await?;
        Ok(row.and_then(|(sealed, enabled)| sealed.map(|sealed| TfaSecret { sealed, enabled })))
    }

    async fn start_tfa(&self, user_id: Uuid, sealed: &[u8], event: NewSecurityEvent) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "update users set tfa_secret = $2, tfa_last_step = null, updated_at = $3 \
             where id = $1 and tfa_enabled_at is null",
        )
        .bind(user_id)
        .bind(sealed)
        .bind(event.now)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        Self::insert_security_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn confirm_tfa(&self, sealed: &[u8], step: i64, codes: &[[u8; 32]], notice: TfaNotice) -> StoreResult<bool> {
        let (user_id, now) = (notice.user_id, notice.event.now);
        let mut tx = self.write_tx().await?;
        // The secret the code was checked against must still be the pending one: an enrolment
        // started again in between makes this code worthless.
        let done = sqlx::query(
            "update users set tfa_enabled_at = $3, tfa_last_step = $4, updated_at = $3 \
             where id = $1 and tfa_secret = $2 and tfa_enabled_at is null",
        )
        .bind(user_id)
        .bind(sealed)
        .bind(now)
        .bind(step)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        Self::insert_codes(&mut tx, user_id, codes, now).await?;
        Self::write_notice(&mut tx, notice).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn spend_second_factor(&self, spend: Spend, on_recovery: TfaNotice) -> StoreResult<bool> {
        let (user_id, now) = (on_recovery.user_id, on_recovery.event.now);
        let mut tx = self.write_tx().await?;
        if !Self::spend_in(&mut tx, user_id, spend, now).await? {
            return Ok(false);
        }
        if let Spend::Recovery(_) = spend {
            let remaining: i64 =
                sqlx::query_scalar("select count(*) from tfa_recovery_codes where user_id = $1 and used_at is null")
                    .bind(user_id)
                    .fetch_one(&mut *tx)
                    .await?;
            let mut notice = on_recovery;
            notice.event.data["remaining"] = serde_json::json!(remaining);
            Self::write_notice(&mut tx, notice).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn disable_tfa(&self, spend: Spend, notice: TfaNotice) -> StoreResult<bool> {
        let (user_id, now) = (notice.user_id, notice.event.now);
        let mut tx = self.write_tx().await?;
        if !Self::spend_in(&mut tx, user_id, spend, now).await? {
            return Ok(false);
        }
        sqlx::query(
            "update users set tfa_secret = null, tfa_enabled_at = null, tfa_last_step = null, updated_at = $2 \
             where id = $1",
        )
        .bind(user_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        Self::insert_codes(&mut tx, user_id, &[], now).await?;
        Self::write_notice(&mut tx, notice).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn replace_recovery_codes(&self, spend: Spend, codes: &[[u8; 32]], notice: TfaNotice) -> StoreResult<bool> {
        let (user_id, now) = (notice.user_id, notice.event.now);
        let mut tx = self.write_tx().await?;
        if !Self::spend_in(&mut tx, user_id, spend, now).await? {
            return Ok(false);
        }
        Self::insert_codes(&mut tx, user_id, codes, now).await?;
        Self::write_notice(&mut tx, notice).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn set_require_tfa(
        &self,
        app: &App,
        require: bool,
        actor: &UserRef,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SecurityChanged>> {
        let mut tx = self.write_tx().await?;
        // The row is locked first, so concurrent changes of the rule are recorded one after
        // the other, each with the value it really replaced.
        let previous: bool = sqlx::query_scalar(concat!("select require_tfa from apps where id = $1", lock!()))
            .bind(app.id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(crate::store::StoreError::NotFound)?;
        // Turning it on needs the actor's 2FA on at this moment: tested in the statement, so
        // an owner who turns theirs off meanwhile cannot lock themselves out.
        let done = sqlx::query(
            "update apps set require_tfa = $2, updated_at = $4 where id = $1 \
             and (not $2 or exists (select 1 from users where id = $3 and tfa_enabled_at is not null))",
        )
        .bind(app.id)
        .bind(require)
        .bind(actor.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(None);
        }
        let locked_out: Vec<(Uuid, String)> = if require {
            sqlx::query_as(
                "select u.id, u.email from collaborators c join users u on u.id = c.user_id \
                 where c.app_id = $1 and u.tfa_enabled_at is null order by u.email",
            )
            .bind(app.id)
            .fetch_all(&mut *tx)
            .await?
        } else {
            Vec::new()
        };
        let locked_out: Vec<UserRef> = locked_out
            .into_iter()
            .map(|(id, email)| UserRef { id, email })
            .collect();
        if previous != require {
            let event = crate::store::NewEvent {
                app_id: app.id,
                app_name: &app.name,
                actor: Some(actor),
                kind: crate::kinds::EventKind::AppSecurityChanged,
                data: serde_json::json!({
                    "require_tfa": { "from": previous, "to": require },
                    "locked_out": locked_out,
                }),
                secret: None,
                now,
            };
            Self::insert_event(&mut tx, event).await?;
        }
        let app = Self::fetch_app(&mut tx, app.id).await?;
        tx.commit().await?;
        Ok(Some(SecurityChanged { app, locked_out }))
    }
}
