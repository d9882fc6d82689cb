//! Support data access: a member lets the platform's support operators reach the app's data
//! for a limited time. The grant is a setting of the app; the platform asks whether it holds,
//! and an expired grant does not, with no sweep needed.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::extract::{Json, Path};
use super::openapi::AppPath;
use crate::authz::middleware::AppContext;
use crate::error::{ApiError, ApiResult, Fields, Problem};
use crate::kinds::EventKind;
use crate::state::AppState;
use crate::store::{AppRef, NewSetting, UserRef};

/// The stored key of the grant.
const KEY: &str = "support_access";

/// Body of `POST /v1/apps/{app}/support-access`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// How long, in hours: 1 to 168 (a week).
    #[schema(minimum = 1, maximum = 168)]
    hours: i64,
    /// Why (shown to the operators and on the timeline): 1 to 500 characters.
    #[schema(min_length = 1, max_length = 500)]
    reason: String,
}

/// The grant as stored.
#[derive(Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct StoredGrant {
    /// Until when the operators may reach the data.
    until: DateTime<Utc>,
    /// Why.
    reason: String,
    /// Who granted it.
    granted_by: UserRef,
    /// When.
    granted_at: DateTime<Utc>,
}

/// Whether support may reach the app's data now, as members see it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SupportAccess {
    /// Whether a grant holds now.
    granted: bool,
    /// The last grant (it may have ended: see `until`), or `null` when there was none or it
    /// was revoked.
    #[schema(required = true)]
    grant: Option<StoredGrant>,
}

async fn current(state: &AppState, app_id: uuid::Uuid) -> ApiResult<Option<StoredGrant>> {
    let stored = state.store.setting(app_id, KEY).await?;
    stored
        .filter(|v| !v.is_null())
        .map(serde_json::from_value)
        .transpose()
        .map_err(ApiError::internal)
}

fn view(grant: Option<StoredGrant>, now: DateTime<Utc>) -> SupportAccess {
    SupportAccess {
        granted: grant.as_ref().is_some_and(|g| g.until > now),
        grant,
    }
}

/// `GET /v1/apps/{app}/support-access`: whether support may reach the data, by whose grant,
/// until when.
#[utoipa::path(get, path = "/v1/apps/{app}/support-access", params(AppPath), responses(
    (status = 200, description = "The grant, if any.", body = SupportAccess),
))]
pub async fn show_support_access(State(state): State<AppState>, ctx: AppContext) -> ApiResult<Json<SupportAccess>> {
    let grant = current(&state, ctx.app.id).await?;
    Ok(Json(view(grant, state.clock.now())))
}

/// `POST /v1/apps/{app}/support-access`: lets support reach the data for `hours`, replacing
/// any grant before it.
#[utoipa::path(post, path = "/v1/apps/{app}/support-access", params(AppPath), request_body = Grant, responses(
    (status = 201, description = "Granted.", body = SupportAccess),
))]
pub async fn grant_support_access(
    State(state): State<AppState>,
    ctx: AppContext,
    Json(body): Json<Grant>,
) -> ApiResult<(StatusCode, Json<SupportAccess>)> {
    let mut fields = Fields::default();
    if !(1..=168).contains(&body.hours) {
        fields.push("hours", "must be between 1 and 168");
    }
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 || reason.chars().any(char::is_control) {
        fields.push("reason", "must be 1 to 500 characters, without control characters");
    }
    fields.finish()?;
    let now = state.clock.now();
    let grant = StoredGrant {
        until: now + TimeDelta::hours(body.hours),
        reason: reason.to_owned(),
        granted_by: ctx.caller.user.to_ref(),
        granted_at: now,
    };
    put(&state, &ctx, Some(&grant), EventKind::SupportAccessGranted).await?;
    Ok((StatusCode::CREATED, Json(view(Some(grant), now))))
}

/// `DELETE /v1/apps/{app}/support-access`: ends the grant now.
#[utoipa::path(delete, path = "/v1/apps/{app}/support-access", params(AppPath), responses(
    (status = 204, description = "Revoked."),
    (status = 404, description = "No grant holds.", body = Problem, content_type = "application/problem+json"),
))]
pub async fn revoke_support_access(State(state): State<AppState>, ctx: AppContext) -> ApiResult<StatusCode> {
    let now = state.clock.now();
    if current(&state, ctx.app.id).await?.is_none_or(|g| g.until <= now) {
        return Err(ApiError::NotFound("no support access is granted"));
    }
    put(&state, &ctx, None, EventKind::SupportAccessRevoked).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn put(state: &AppState, ctx: &AppContext, grant: Option<&StoredGrant>, event: EventKind) -> ApiResult<()> {
    let setting = NewSetting {
        key: KEY,
        value: serde_json::to_value(grant).map_err(ApiError::internal)?,
        default: serde_json::Value::Null,
        event,
        order: None,
    };
    state
        .store
        .put_setting(&ctx.app, setting, &ctx.caller.user.to_ref(), state.clock.now())
        .await?;
    Ok(())
}

/// What the platform is told.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PlatformSupportAccess {
    /// Whether support may reach the app's data now.
    granted: bool,
    /// Until when, or `null` when not granted.
    #[schema(required = true)]
    until: Option<DateTime<Utc>>,
}

/// `GET /internal/v1/apps/{app}/support-access`: whether the platform's operators may reach the
/// app's data now. An expired grant is not granted.
#[utoipa::path(get, path = "/internal/v1/apps/{app}/support-access", params(AppPath), responses(
    (status = 200, description = "Whether a grant holds now.", body = PlatformSupportAccess),
))]
pub async fn platform_support_access(
    State(state): State<AppState>,
    Path(AppPath { app }): Path<AppPath>,
) -> ApiResult<Json<PlatformSupportAccess>> {
    let app = state
        .store
        .app_by_ref(&AppRef::parse(&app))
        .await?
        .ok_or(ApiError::NotFound("app not found"))?;
    let now = state.clock.now();
    let until = current(&state, app.id).await?.map(|g| g.until).filter(|u| *u > now);
    Ok(Json(PlatformSupportAccess {
        granted: until.is_some(),
        until,
    }))
}

/// This module's operations with their own handler, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    show_support_access,
    grant_support_access,
    revoke_support_access,
    platform_support_access
))]
pub struct Doc;
