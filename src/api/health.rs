//! Liveness and readiness for the orchestrator.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use super::extract::Json;
use crate::state::AppState;

/// What the health checks answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when the store does not answer.
    #[schema(example = "ok")]
    status: &'static str,
    /// The store's backend (`postgres` or `sqlite`); only on `/readyz`.
    #[serde(skip_serializing_if = "Option::is_none")]
    store: Option<&'static str>,
}

/// `GET /healthz`: the process is up, whatever the database does.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "The process is up.", body = Health)))]
pub async fn live() -> Json<Health> {
    Json(Health {
        status: "ok",
        store: None,
    })
}

/// `GET /readyz`: 200 when the store answers and takes writes, 503 otherwise (unreachable,
/// or on Postgres a standby or a read-only session, as in the middle of a failover).
#[utoipa::path(
    get,
    path = "/readyz",
    responses(
        (status = 200, description = "The store answers.", body = Health),
        (status = 503, description = "The store does not answer, or takes no writes (a standby).", body = Health),
    )
)]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let store = Some(state.store.backend());
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(Health { status: "ok", store })),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "unavailable",
                    store,
                }),
            )
        }
    }
}
