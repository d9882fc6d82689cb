//! Single-use credentials: a random secret shown once, stored only as its hash in an app
//! record of its own kind, good for five minutes, and used up by the one statement that
//! takes it (`RecordStore::take_record`): of two concurrent verifications, one succeeds.
//! One-off attach credentials, add-on and database dashboard links and backup downloads all
//! go through here; the timeline records who was given one, never the secret.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::auth::token;
use crate::authz::middleware::AppContext;
use crate::error::{ApiError, ApiResult};
use crate::kinds::EventKind;
use crate::state::AppState;
use crate::store::{RecordWrite, StoredRecord};

/// How long a single-use credential lives.
pub const TTL: TimeDelta = TimeDelta::minutes(5);

/// A kind of single-use credential.
#[derive(Clone, Copy, Debug)]
pub struct SingleUse {
    /// The record kind its hash is stored under.
    pub kind: &'static str,
    /// The secret's prefix (`rga_`, `rgl_`).
    pub prefix: &'static str,
    /// The 404 of a verification: never issued, or used already.
    pub not_found: &'static str,
    /// The 410 of a verification: expired.
    pub expired: &'static str,
}

/// A credential just issued: the secret (shown once) and when it stops working.
pub struct Issued {
    /// The secret, to put in the link.
    pub secret: String,
    /// Five minutes from now.
    pub expires_at: DateTime<Utc>,
}

impl SingleUse {
    /// Issues a credential on the context's app for its caller: `grant` (an object) is what
    /// the platform learns when it verifies it; the event gets `event_data` with `expires_at`.
    pub async fn issue(
        self,
        state: &AppState,
        ctx: &AppContext,
        mut grant: Value,
        event: EventKind,
        mut event_data: Value,
    ) -> ApiResult<Issued> {
        let (secret, hash) = token::generate(self.prefix).map_err(ApiError::internal)?;
        let now = state.clock.now();
        let expires_at = now + TTL;
        grant["expires_at"] = json!(expires_at);
        event_data["expires_at"] = json!(expires_at);
        let write = RecordWrite {
            id: Uuid::now_v7(),
            create: true,
            kind: self.kind,
            unique_key: Some(hex(&hash)),
            data: grant,
            secret: None,
            event,
            event_data,
            order: None,
        };
        state
            .store
            .save_record(&ctx.app, write, Some(&ctx.caller.user.to_ref()), now)
            .await?;
        Ok(Issued { secret, expires_at })
    }

    /// Uses a credential up: the stored grant if it held, 404 when it was never issued or was
    /// used already, 410 when it expired (it is used up all the same).
    pub async fn redeem(self, state: &AppState, secret: &str) -> ApiResult<StoredRecord> {
        let taken = state
            .store
            .take_record(self.kind, &hex(&token::hash(secret.trim())))
            .await?
            .ok_or(ApiError::NotFound(self.not_found))?;
        let expires_at: DateTime<Utc> =
            serde_json::from_value(taken.data.0["expires_at"].clone()).map_err(ApiError::internal)?;
        if expires_at <= state.clock.now() {
            return Err(ApiError::Gone(self.expired.into()));
        }
        Ok(taken)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
