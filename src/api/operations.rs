//! Operations on the running app: restart and scale. Each is an order for the platform,
//! queued in the outbox in the same transaction as its event.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::extract::Json;
use crate::authz::middleware::AppContext;
use crate::domain::Slug;
use crate::error::{ApiResult, Fields};
use crate::state::AppState;
use crate::store::{Container, NewOrder, Operation};

/// Container sizes the platform offers.
pub const SIZES: [&str; 6] = ["XS", "S", "M", "L", "XL", "2XL"];
/// Most containers of one type.
const MAX_AMOUNT: u32 = 100;

/// What an operation request returns.
#[derive(Serialize)]
pub struct QueuedView {
    order_id: Uuid,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    formation: Option<Vec<Container>>,
}

async fn queue(state: &AppState, ctx: &AppContext, operation: Operation) -> ApiResult<(StatusCode, Json<QueuedView>)> {
    let queued = state
        .store
        .request_operation(&ctx.app, operation, &ctx.caller.user.to_ref(), state.clock.now())
        .await?;
    let view = QueuedView {
        order_id: queued.order_id,
        status: "queued",
        formation: queued.formation,
    };
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// `POST /v1/apps/{app}/restart`: restarts every container.
pub async fn restart(State(state): State<AppState>, ctx: AppContext) -> ApiResult<(StatusCode, Json<QueuedView>)> {
    let order = NewOrder {
        kind: "app.restart",
        data: json!({}),
    };
    queue(
        &state,
        &ctx,
        Operation {
            order,
            event: "app.restart_requested",
            scale: None,
        },
    )
    .await
}

/// Body of `POST /v1/apps/{app}/scale`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scale {
    containers: Vec<Container>,
}

/// `POST /v1/apps/{app}/scale`: sets the amount and size of the named container types;
/// types not named keep their formation.
pub async fn scale(
    State(state): State<AppState>,
    ctx: AppContext,
    Json(body): Json<Scale>,
) -> ApiResult<(StatusCode, Json<QueuedView>)> {
    let mut fields = Fields::default();
    if body.containers.is_empty() || body.containers.len() > 20 {
        fields.push("containers", "must hold 1 to 20 container types");
    }
    let mut seen = std::collections::HashSet::new();
    for (i, c) in body.containers.iter().enumerate() {
        fields.check(&format!("containers[{i}].type"), Slug::parse(&c.kind));
        if c.amount > MAX_AMOUNT {
            fields.push(&format!("containers[{i}].amount"), "must be between 0 and 100");
        }
        if !SIZES.contains(&c.size.as_str()) {
            fields.push(&format!("containers[{i}].size"), "must be one of XS, S, M, L, XL, 2XL");
        }
        if !seen.insert(c.kind.as_str()) {
            fields.push(&format!("containers[{i}].type"), "appears twice in this request");
        }
    }
    fields.finish()?;
    let order = NewOrder {
        kind: "app.scale",
        data: json!({ "containers": body.containers }),
    };
    queue(
        &state,
        &ctx,
        Operation {
            order,
            event: "app.scale_requested",
            scale: Some(body.containers),
        },
    )
    .await
}
