//! The app's link to a source repository (GitHub, GitLab, Bitbucket), and automatic
//! deployments of one of its branches. The link is a setting of the app; changing it is an
//! event on the timeline.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::extract::Json;
use super::openapi::AppPath;
use crate::authz::middleware::AppContext;
use crate::domain::BranchName;
use crate::error::{ApiError, ApiResult, Fields, Problem};
use crate::kinds::EventKind;
use crate::state::AppState;
use crate::store::NewSetting;

/// The stored key of the link.
const KEY: &str = "scm_link";

/// The providers a link may name.
const PROVIDERS: [&str; 3] = ["github", "gitlab", "bitbucket"];

/// Automatic deployments of the linked repository.
#[derive(Clone, Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoDeploy {
    /// Whether a push to `branch` deploys it.
    pub enabled: bool,
    /// The branch deployed on push; `null`: the app's default branch.
    #[schema(required = true)]
    pub branch: Option<String>,
}

/// Body of `PUT /v1/apps/{app}/scm-link`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    /// `github`, `gitlab` or `bitbucket`.
    #[schema(schema_with = provider_schema)]
    provider: String,
    /// `owner/name` (GitLab groups may nest: `group/subgroup/name`).
    #[schema(example = "acme/web-shop")]
    repository: String,
}

fn provider_schema() -> utoipa::openapi::Object {
    super::openapi::string_enum(PROVIDERS, "`github`, `gitlab` or `bitbucket`.")
}

/// The app's link to its repository.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct ScmLink {
    /// `github`, `gitlab` or `bitbucket`.
    #[schema(schema_with = provider_schema)]
    pub provider: String,
    /// `owner/name`.
    pub repository: String,
    /// Automatic deployments (off until `PUT …/scm-link/auto-deploy`).
    pub auto_deploy: AutoDeploy,
}

async fn current(state: &AppState, app_id: uuid::Uuid) -> ApiResult<Option<ScmLink>> {
    let stored = state.store.setting(app_id, KEY).await?;
    stored
        .filter(|v| !v.is_null())
        .map(serde_json::from_value)
        .transpose()
        .map_err(ApiError::internal)
}

/// Whether `repository` is `owner/name` (or deeper), each part a plain path segment.
fn repository_ok(repository: &str) -> bool {
    let parts: Vec<&str> = repository.split('/').collect();
    repository.len() <= 200
        && (2..=5).contains(&parts.len())
        && parts.iter().all(|p| {
            !p.is_empty()
                && *p != "."
                && *p != ".."
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
}

/// `GET /v1/apps/{app}/scm-link`: the link, or 404 when the app has none.
#[utoipa::path(get, path = "/v1/apps/{app}/scm-link", params(AppPath), responses(
    (status = 200, description = "The link.", body = ScmLink),
))]
pub async fn show_scm_link(State(state): State<AppState>, ctx: AppContext) -> ApiResult<Json<ScmLink>> {
    current(&state, ctx.app.id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("the app is not linked to a repository"))
}

/// `PUT /v1/apps/{app}/scm-link`: links the app to a repository, or changes the link (its
/// automatic deployments stay as they were).
#[utoipa::path(put, path = "/v1/apps/{app}/scm-link", params(AppPath), request_body = LinkBody, responses(
    (status = 200, description = "The link as it is now.", body = ScmLink),
))]
pub async fn link_scm(
    State(state): State<AppState>,
    ctx: AppContext,
    Json(body): Json<LinkBody>,
) -> ApiResult<Json<ScmLink>> {
    let mut fields = Fields::default();
    if !PROVIDERS.contains(&body.provider.as_str()) {
        fields.push("provider", "must be one of: github, gitlab, bitbucket");
    }
    if !repository_ok(&body.repository) {
        fields.push("repository", "must be owner/name: letters, digits, '-', '_' and '.'");
    }
    fields.finish()?;
    let previous = current(&state, ctx.app.id).await?;
    let link = ScmLink {
        provider: body.provider,
        repository: body.repository,
        auto_deploy: previous.map(|p| p.auto_deploy).unwrap_or_default(),
    };
    put(&state, &ctx, Some(&link), EventKind::ScmLinked).await?;
    Ok(Json(link))
}

/// `DELETE /v1/apps/{app}/scm-link`: removes the link, and with it automatic deployments.
#[utoipa::path(delete, path = "/v1/apps/{app}/scm-link", params(AppPath), responses(
    (status = 204, description = "Unlinked."),
))]
pub async fn unlink_scm(State(state): State<AppState>, ctx: AppContext) -> ApiResult<StatusCode> {
    if current(&state, ctx.app.id).await?.is_none() {
        return Err(ApiError::NotFound("the app is not linked to a repository"));
    }
    put(&state, &ctx, None, EventKind::ScmUnlinked).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /v1/apps/{app}/scm-link/auto-deploy`: turns automatic deployments on or off and
/// chooses their branch. 409 when the app is not linked.
#[utoipa::path(put, path = "/v1/apps/{app}/scm-link/auto-deploy", params(AppPath), request_body = AutoDeploy,
    responses(
        (status = 200, description = "The link as it is now.", body = ScmLink),
        (status = 409, description = "The app is not linked to a repository.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn auto_deploy(
    State(state): State<AppState>,
    ctx: AppContext,
    Json(body): Json<AutoDeploy>,
) -> ApiResult<Json<ScmLink>> {
    if let Some(branch) = &body.branch {
        BranchName::parse(branch).map_err(|m| ApiError::invalid("branch", m))?;
    }
    let Some(mut link) = current(&state, ctx.app.id).await? else {
        return Err(ApiError::Conflict(
            "link the app to a repository first (PUT /v1/apps/{app}/scm-link)".into(),
        ));
    };
    link.auto_deploy = body;
    put(&state, &ctx, Some(&link), EventKind::AutoDeployChanged).await?;
    Ok(Json(link))
}

async fn put(state: &AppState, ctx: &AppContext, link: Option<&ScmLink>, event: EventKind) -> ApiResult<()> {
    let setting = NewSetting {
        key: KEY,
        value: serde_json::to_value(link).map_err(ApiError::internal)?,
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

/// This module's operations with their own handler, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(show_scm_link, link_scm, unlink_scm, auto_deploy))]
pub struct Doc;

#[cfg(test)]
mod tests {
    use super::repository_ok;

    #[test]
    fn repositories_are_paths_of_plain_segments() {
        for ok in ["acme/web", "group/sub/name", "a.b/c_d-e"] {
            assert!(repository_ok(ok), "{ok}");
        }
        for bad in [
            "acme",
            "/acme/web",
            "acme/../x",
            "acme/web/",
            "acme web/x",
            "a/b/c/d/e/f",
        ] {
            assert!(!repository_ok(bad), "{bad}");
        }
    }
}
