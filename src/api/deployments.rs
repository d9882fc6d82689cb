//! Deployments: list, read, output, deploy any ref, redeploy the default branch (with an
//! `Idempotency-Key` for retried CI calls), reset the build cache.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::TimeDelta;
use serde::Deserialize;

use super::cursor::{self, Listing};
use super::extract::{Json, NoBody, Path, Query};
use super::openapi::{AppIdPath, AppPath};
use super::requests::{Answer, PlatformRequest};
use super::{IdParam, Items, PageQuery};
use crate::authz::middleware::AppContext;
use crate::authz::{Permission, Role};
use crate::domain::BranchName;
use crate::error::{ApiError, ApiResult, Problem};
use crate::kinds::{EventKind, OrderKind};
use crate::state::AppState;
use crate::store::{Deployment, NewDeployment};

/// How long a limited collaborator may read a deployment's build output.
const LIMITED_OUTPUT_WINDOW: TimeDelta = TimeDelta::days(7);
const NOT_FOUND: &str = "deployment not found";

/// `GET /v1/apps/{app}/deployments`: newest first.
#[utoipa::path(get, path = "/v1/apps/{app}/deployments", params(AppPath, PageQuery), responses(
    (status = 200, description = "One page of deployments, newest first.", body = Items<Deployment>),
    (status = 422, description = "`limit` is not between 1 and 200, or `cursor` is not a cursor from this list.",
        body = Problem, content_type = "application/problem+json"),
))]
pub async fn list(
    State(state): State<AppState>,
    ctx: AppContext,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Items<Deployment>>> {
    let limit = page.limit()?;
    let mut rows = state
        .store
        .list_deployments(ctx.app.id, page.after_id(&state, Listing::Deployments)?, limit + 1)
        .await?;
    if !ctx.can(Permission::CollaboratorsRead) {
        super::apps::hide_people(
            &state,
            rows.iter_mut().filter_map(|d| d.requested_by.as_mut()),
            ctx.caller.user.id,
        )
        .await?;
    }
    Ok(Json(Items::page(rows, limit, |d| {
        cursor::of_id(&state.secrets, Listing::Deployments, d.id)
    })))
}

/// `GET /v1/apps/{app}/deployments/{id}`.
#[utoipa::path(get, path = "/v1/apps/{app}/deployments/{id}", params(AppIdPath), responses(
    (status = 200, description = "The deployment.", body = Deployment),
))]
pub async fn show(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(IdParam { id }): Path<IdParam>,
) -> ApiResult<Json<Deployment>> {
    let mut deployment = state
        .store
        .deployment(ctx.app.id, id)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    if !ctx.can(Permission::CollaboratorsRead) {
        super::apps::hide_people(&state, deployment.requested_by.as_mut(), ctx.caller.user.id).await?;
    }
    Ok(Json(deployment))
}

/// `GET /v1/apps/{app}/deployments/{id}/output`: the build output as text. Limited
/// collaborators read it only for deployments less than 7 days old.
#[utoipa::path(get, path = "/v1/apps/{app}/deployments/{id}/output", params(AppIdPath), responses(
    (status = 200, description = "The build output so far, as plain text (empty until the platform reports some).",
        body = String, content_type = "text/plain; charset=utf-8"),
    (status = 403, description = "The caller's role lacks the permission (`missing-permission`), the API token's \
        scope does (`token-scope`), or the caller is a limited collaborator and the deployment is 7 days old or \
        more (`forbidden`).", body = Problem, content_type = "application/problem+json"),
))]
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
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Deploy {
    /// The branch, tag or commit to deploy: 1 to 255 bytes following git's ref-name rules (no spaces, control
    /// characters, `..`, `~`, `^`, `:`, `?`, `*`, `[`, `\`, `@{` or `//`; not starting with `-`, `/` or `.`, not
    /// ending with `/`, `.` or `.lock`, not `@`).
    #[schema(min_length = 1, max_length = 255, example = "main")]
    git_ref: String,
}

/// The `Idempotency-Key` header of the deployment routes, for the OpenAPI document.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyKey {
    /// Any unique string (1 to 255 visible ASCII characters), such as a CI job id. A retry with a key the caller
    /// already used on this app creates nothing and answers the first deployment.
    #[param(
        rename = "Idempotency-Key",
        nullable = false,
        min_length = 1,
        max_length = 255,
        pattern = "^[!-~]{1,255}$"
    )]
    pub idempotency_key: Option<String>,
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
    } else if deployment.kind != kind || (kind == "deploy" && deployment.git_ref != git_ref) {
        // The key names another request: answering its deployment would hide that this one
        // was never made.
        return Err(ApiError::invalid(
            "Idempotency-Key",
            format!(
                "was used in the last 24 hours for another request ({} of {}); use a new key",
                deployment.kind, deployment.git_ref
            ),
        ));
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
#[utoipa::path(post, path = "/v1/apps/{app}/deployments", params(AppPath, IdempotencyKey), request_body = Deploy,
    responses(
        (status = 202, description = "Requested; the platform builds and starts it. A retry with an \
            `Idempotency-Key` the caller used on this app in the last 24 hours answers the first deployment \
            again, with `Idempotent-Replayed: true`.", body = Deployment, headers(
            ("Idempotent-Replayed" = String, description = "`true` when this is the deployment a previous request \
                with the same `Idempotency-Key` created; absent otherwise."),
        )),
        (status = 400, description = "The body is not valid JSON, or `Idempotency-Key` is not 1 to 255 visible \
            ASCII characters.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`git_ref` is not a valid ref, or `Idempotency-Key` was used in the last 24 \
            hours for another request (a redeploy, or a deploy of another ref).", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    ctx: AppContext,
    headers: HeaderMap,
    Json(body): Json<Deploy>,
) -> ApiResult<Response> {
    let git_ref = BranchName::parse(&body.git_ref).map_err(|m| ApiError::invalid("git_ref", m))?;
    request(&state, &ctx, git_ref.as_str(), "deploy", &headers).await
}

/// `POST /v1/apps/{app}/deployments/redeploy`: deploys the default branch; no body (or `{}`:
/// any field, such as a `git_ref`, is a 422). The route CI scripts call with an API token.
#[utoipa::path(post, path = "/v1/apps/{app}/deployments/redeploy", params(AppPath, IdempotencyKey), responses(
    (status = 202, description = "Requested; the platform builds and starts the default branch. A retry with an \
        `Idempotency-Key` the caller used on this app in the last 24 hours answers the first deployment \
        again, with `Idempotent-Replayed: true`.", body = Deployment, headers(
        ("Idempotent-Replayed" = String, description = "`true` when this is the deployment a previous request \
            with the same `Idempotency-Key` created; absent otherwise."),
    )),
    (status = 400, description = "`Idempotency-Key` is not 1 to 255 visible ASCII characters.",
        body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "`Idempotency-Key` was used in the last 24 hours for another request (a deploy \
        of a chosen ref).", body = Problem, content_type = "application/problem+json"),
))]
pub async fn redeploy(
    State(state): State<AppState>,
    ctx: AppContext,
    headers: HeaderMap,
    _: NoBody,
) -> ApiResult<Response> {
    let branch = ctx.app.default_branch.clone();
    request(&state, &ctx, &branch, "redeploy", &headers).await
}

/// `DELETE /v1/apps/{app}/caches/deployment`: the next build starts from scratch.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetCache {}

impl PlatformRequest for ResetCache {
    const ORDER: OrderKind = OrderKind::DeploymentResetCache;
    const EVENT: EventKind = EventKind::DeploymentCacheResetRequested;
    const OPERATION: &'static str = "reset_cache";
    const DESCRIPTION: &'static str = "`DELETE /v1/apps/{app}/caches/deployment`: the next build starts from scratch.";
    const ANSWER: Answer = Answer::NoContent("Queued for the platform; the next build starts without a cache.");
}

/// This module's operations, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, show, output, create, redeploy))]
pub struct Doc;
