//! Dashboards and single-use links: a five-minute link to an add-on's or a database's
//! dashboard, and the platform's check that one holds.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::database;
use crate::api::extract::{Json, Path};
use crate::api::links::SingleUse;
use crate::api::openapi::AppIdPath;
use crate::auth::token::LINK_TOKEN_PREFIX;
use crate::authz::Permission;
use crate::authz::middleware::AppContext;
use crate::error::{ApiError, ApiResult, Problem};
use crate::kinds::EventKind;
use crate::state::AppState;

/// Dashboard links and backup downloads.
const LINK: SingleUse = SingleUse {
    kind: "platform_link",
    prefix: LINK_TOKEN_PREFIX,
    not_found: "no such link, or it was used already",
    expired: "the link expired",
    permission: |grant| match grant["purpose"].as_str()? {
        "addon_dashboard" => Some(Permission::AddonsOpenDashboard),
        "database_dashboard" => Some(Permission::DatabasesOpenDashboard),
        "backup_download" => Some(Permission::DatabasesDownloadBackups),
        _ => None,
    },
};

/// A single-use link, shown once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SingleUseLink {
    /// The link: it carries a single-use credential (`token=rgl_…`) that the platform verifies
    /// with `POST /internal/v1/dashboard-links/verify`. Shown once.
    pub url: String,
    /// When it stops working if unused: five minutes from now.
    pub expires_at: DateTime<Utc>,
}

pub(super) async fn issue_link(
    state: &AppState,
    ctx: &AppContext,
    path: String,
    grant: Value,
    event: EventKind,
    event_data: Value,
) -> ApiResult<(StatusCode, Json<SingleUseLink>)> {
    let issued = LINK.issue(state, ctx, grant, event, event_data).await?;
    let url = format!("{}{path}#token={}", state.config.public_url, issued.secret);
    Ok((
        StatusCode::CREATED,
        Json(SingleUseLink {
            url,
            expires_at: issued.expires_at,
        }),
    ))
}

/// `POST /v1/apps/{app}/addons/{id}/dashboard`: a single-use, five-minute link to the
/// add-on's dashboard. The timeline records who was given one, never the link.
#[utoipa::path(post, path = "/v1/apps/{app}/addons/{id}/dashboard", params(AppIdPath), responses(
    (status = 201, description = "A link, shown once.", body = SingleUseLink),
))]
pub async fn addon_dashboard(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(AppIdPath { id, .. }): Path<AppIdPath>,
) -> ApiResult<(StatusCode, Json<SingleUseLink>)> {
    let addon = state
        .store
        .addon(ctx.app.id, id)
        .await?
        .ok_or(ApiError::NotFound("add-on not found"))?;
    let data = json!({ "addon_id": id, "provider": addon.provider });
    let mut grant = data.clone();
    grant["purpose"] = json!("addon_dashboard");
    issue_link(
        &state,
        &ctx,
        format!("/addons/{id}/dashboard"),
        grant,
        EventKind::AddonDashboardOpened,
        data,
    )
    .await
}

/// `POST /v1/apps/{app}/addons/{id}/database/dashboard`: a single-use, five-minute link to
/// the database's dashboard.
#[utoipa::path(post, path = "/v1/apps/{app}/addons/{id}/database/dashboard", params(AppIdPath), responses(
    (status = 201, description = "A link, shown once.", body = SingleUseLink),
))]
pub async fn database_dashboard(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(AppIdPath { id, .. }): Path<AppIdPath>,
) -> ApiResult<(StatusCode, Json<SingleUseLink>)> {
    let addon = database(&state, &ctx, id).await?;
    let data = json!({ "addon_id": id, "provider": addon.provider });
    let mut grant = data.clone();
    grant["purpose"] = json!("database_dashboard");
    issue_link(
        &state,
        &ctx,
        format!("/addons/{id}/database/dashboard"),
        grant,
        EventKind::DatabaseDashboardOpened,
        data,
    )
    .await
}

/// Body of `POST /internal/v1/dashboard-links/verify`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyLink {
    /// The credential of the link (`rgl_…`).
    token: String,
}

fn purpose_schema() -> utoipa::openapi::Object {
    crate::api::openapi::string_enum(
        ["addon_dashboard", "database_dashboard", "backup_download"],
        "What the link opens.",
    )
}

/// What the platform learns from a link that holds.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LinkGrant {
    /// What the link opens: `addon_dashboard`, `database_dashboard` or `backup_download`.
    #[schema(schema_with = purpose_schema)]
    purpose: String,
    /// The app.
    app_id: Uuid,
    /// The add-on.
    addon_id: Uuid,
    /// The add-on's provider.
    provider: String,
    /// With `backup_download`: the backup to hand out.
    #[schema(required = true)]
    backup_id: Option<Uuid>,
    /// Who was given the link.
    #[schema(required = true)]
    user_id: Option<Uuid>,
}

/// `POST /internal/v1/dashboard-links/verify`: whether a dashboard or backup-download link
/// holds. It holds once: verifying uses it up; one past its five minutes is refused (410), one
/// never issued or already used is 404, and so is one whose add-on has been removed.
#[utoipa::path(post, path = "/internal/v1/dashboard-links/verify", request_body = VerifyLink, responses(
    (status = 200, description = "The link held, and is now used up.", body = LinkGrant),
    (status = 404, description = "No such link, or it was used already.", body = Problem,
        content_type = "application/problem+json"),
    (status = 410, description = "The link expired.", body = Problem, content_type = "application/problem+json"),
))]
pub async fn verify_link(State(state): State<AppState>, Json(body): Json<VerifyLink>) -> ApiResult<Json<LinkGrant>> {
    let taken = LINK.redeem(&state, &body.token).await?;
    let d = &taken.data.0;
    let addon_id: Uuid = serde_json::from_value(d["addon_id"].clone()).map_err(ApiError::internal)?;
    if state.store.addon(taken.app_id, addon_id).await?.is_none() {
        return Err(ApiError::NotFound("the add-on of this link is gone"));
    }
    Ok(Json(LinkGrant {
        purpose: d["purpose"].as_str().unwrap_or_default().to_owned(),
        app_id: taken.app_id,
        addon_id,
        provider: d["provider"].as_str().unwrap_or_default().to_owned(),
        backup_id: d["backup_id"].as_str().and_then(|s| s.parse().ok()),
        user_id: taken.created_by,
    }))
}
