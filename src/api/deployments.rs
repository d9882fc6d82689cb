//! Deployments: list, read, output, deploy any ref, redeploy the default branch (with an
//! `Idempotency-Key` for retried CI calls), reset the build cache.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::TimeDelta;
use serde::Deserialize;
use serde_json::json;

use super::extract::{Json, Path, Query};
use super::{IdParam, Items, PageQuery};
use crate::authz::Role;
use crate::authz::middleware::AppContext;
use crate::domain::BranchName;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::{Deployment, NewDeployment, NewOrder, Operation};

/// How long a limited collaborator may read a deployment's build output.
const LIMITED_OUTPUT_WINDOW: TimeDelta = TimeDelta::days(7);
const NOT_FOUND: &str = "deployment not found";

/// `GET /v1/apps/{app}/deployments`: newest first.
pub async fn list(
    State(state): State<AppState>,
    ctx: AppContext,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Items<Deployment>>> {
    let limit = page.limit()?;
    let rows = state
        .store
        .list_deployments(ctx.app.id, page.cursor_id()?, limit + 1)
        .await?;
    Ok(Json(Items::page(rows, limit, |d| d.id.to_string())))
}

/// `GET /v1/apps/{app}/deployments/{id}`.
pub async fn show(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(IdParam { id }): Path<IdParam>,
) -> ApiResult<Json<Deployment>> {
    state
        .store
        .deployment(ctx.app.id, id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound(NOT_FOUND))
}

/// `GET /v1/apps/{app}/deployments/{id}/output`: the build output as text. Limited
/// collaborators read it only for deployments less than 7 days old.
pub async fn output(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(IdParam { id }): Path<IdParam>,
) -> ApiResult<Response> {
    let deployment = state
        .store
        .deployment(ctx.app.id, id)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    if ctx.role() == Role::LimitedCollaborator && state.clock.now() - deployment.created_at >= LIMITED_OUTPUT_WINDOW {
        return Err(ApiError::Forbidden(
            "limited collaborators can read the build output of deployments less than 7 days old".into(),
        ));
    }
    let output = state
        .store
        .deployment_output(ctx.app.id, id)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    let mut response = output.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(response)
}

/// Body of `POST /v1/apps/{app}/deployments`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deploy {
    git_ref: String,
}

fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()));
    key.map(|k| Some(k.to_owned()))
        .ok_or_else(|| ApiError::BadRequest("Idempotency-Key must be 1 to 255 visible ASCII characters".into()))
}

async fn request(
    state: &AppState,
    ctx: &AppContext,
    git_ref: &str,
    kind: &'static str,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let key = idempotency_key(headers)?;
    let new = NewDeployment {
        git_ref,
        kind,
        idempotency_key: key.as_deref(),
    };
    let (deployment, created) = state
        .store
        .create_deployment(&ctx.app, new, &ctx.caller.user.to_ref(), state.clock.now())
        .await?;
    if created {
        tracing::info!(app_id = %ctx.app.id, deployment_id = %deployment.id, kind, "deployment requested");
    }
    let mut response = (StatusCode::ACCEPTED, Json(deployment)).into_response();
    if !created {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// `POST /v1/apps/{app}/deployments`: deploys any branch, tag or commit.
pub async fn create(
    State(state): State<AppState>,
    ctx: AppContext,
    headers: HeaderMap,
    Json(body): Json<Deploy>,
) -> ApiResult<Response> {
    let git_ref = BranchName::parse(&body.git_ref).map_err(|m| ApiError::invalid("git_ref", m))?;
    request(&state, &ctx, git_ref.as_str(), "deploy", &headers).await
}

/// `POST /v1/apps/{app}/deployments/redeploy`: deploys the default branch; no body. The
/// route CI scripts call with an API token.
pub async fn redeploy(State(state): State<AppState>, ctx: AppContext, headers: HeaderMap) -> ApiResult<Response> {
    let branch = ctx.app.default_branch.clone();
    request(&state, &ctx, &branch, "redeploy", &headers).await
}

/// `DELETE /v1/apps/{app}/caches/deployment`: the next build starts from scratch.
pub async fn reset_cache(State(state): State<AppState>, ctx: AppContext) -> ApiResult<StatusCode> {
    let operation = Operation {
        order: NewOrder {
            kind: "deployment.reset_cache",
            data: json!({}),
        },
        event: "deployment.cache_reset_requested",
        scale: None,
    };
    state
        .store
        .request_operation(&ctx.app, operation, &ctx.caller.user.to_ref(), state.clock.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
