//! Review apps: apps deployed from a pull request, as records of their parent app (an
//! [`AppRecord`]). Their settings are an [`AppSetting`]. Members with `review_apps.create` ask
//! for one; the platform reports pull requests, and rolegate decides whether the author may
//! have one made through the SCM.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::extract::{Json, NoBody, Path};
use super::links::acting_for;
use super::openapi::{AppIdPath, AppPath};
use super::records::{AppRecord, Draft};
use super::requests::QueuedView;
use super::settings::AppSetting;
use crate::authz::decision::{Reason, Rule};
use crate::authz::middleware::AppContext;
use crate::authz::{Permission, Role};
use crate::config::Config;
use crate::domain::{BranchName, Email};
use crate::error::{ApiError, ApiResult, Fields};
use crate::kinds::{EventKind, OrderKind};
use crate::state::AppState;
use crate::store::{AppRef, NewOrder, NewRequest, RecordWrite, StoreError, StoredRecord};

/// Longest a stale review app may be kept: a year.
const MAX_STALE_HOURS: i64 = 8760;

/// How review apps are made and destroyed for the app.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ReviewAppSettings {
    /// Create a review app when a pull request is opened.
    pub auto_create: bool,
    /// Destroy the review app when its pull request is closed.
    pub destroy_on_close: bool,
    /// Destroy a review app not deployed for this many hours (1 to 8760), or `null`: never.
    #[schema(minimum = 1, maximum = 8760)]
    pub destroy_stale_after_hours: Option<i64>,
    /// Create review apps for pull requests from forks too.
    pub allow_forks: bool,
    /// Let limited collaborators open review apps through the SCM (their pull requests).
    pub limited_collaborators_via_scm: bool,
}

impl Default for ReviewAppSettings {
    fn default() -> Self {
        ReviewAppSettings {
            auto_create: false,
            destroy_on_close: true,
            destroy_stale_after_hours: None,
            allow_forks: false,
            limited_collaborators_via_scm: false,
        }
    }
}

impl AppSetting for ReviewAppSettings {
    const KEY: &'static str = "review_apps";
    const EVENT: EventKind = EventKind::ReviewAppSettingsChanged;
    const NAME: &'static str = "review_app_settings";

    fn check(&self) -> Result<(), ApiError> {
        let mut fields = Fields::default();
        if self
            .destroy_stale_after_hours
            .is_some_and(|h| !(1..=MAX_STALE_HOURS).contains(&h))
        {
            fields.push("destroy_stale_after_hours", "must be null or between 1 and 8760");
        }
        fields.finish()
    }
}

/// Body of `POST /v1/apps/{app}/review-apps`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewAppBody {
    /// The pull request's number (one open review app per pull request).
    #[schema(minimum = 1)]
    pub pull_request: u32,
    /// The pull request's branch.
    pub branch: String,
}

/// A review app: a pull request deployed on its own, a record of its parent app.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ReviewApp {
    /// Id.
    pub id: Uuid,
    /// The pull request's number.
    pub pull_request: u32,
    /// The pull request's branch.
    pub branch: String,
    /// `api` (a member asked for it) or `scm` (the platform reported the pull request).
    #[schema(schema_with = via_schema)]
    pub via: String,
    /// Who asked for it, or whose pull request it is (`null` once that account is gone).
    #[schema(required = true)]
    pub created_by: Option<Uuid>,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
}

fn via_schema() -> utoipa::openapi::Object {
    super::openapi::string_enum(["api", "scm"], "`api` or `scm`.")
}

impl AppRecord for ReviewApp {
    const KIND: &'static str = "review_app";
    const PLURAL: &'static str = "review_apps";
    type View = ReviewApp;
    type Body = ReviewAppBody;
    const EVENTS: [EventKind; 3] = [
        EventKind::ReviewAppRequested,
        EventKind::ReviewAppRequested,
        EventKind::ReviewAppClosed,
    ];
    const ORDERS: [Option<OrderKind>; 2] = [Some(OrderKind::ReviewAppCreate), Some(OrderKind::ReviewAppClose)];
    const CREATED: StatusCode = StatusCode::ACCEPTED;
    const CONFLICT: &'static str = "this pull request already has an open review app";

    fn create(body: ReviewAppBody, _config: &Config) -> Result<Draft, ApiError> {
        let mut fields = Fields::default();
        if body.pull_request == 0 {
            fields.push("pull_request", "must be a pull request number (1 or more)");
        }
        let branch = fields.check("branch", BranchName::parse(&body.branch));
        fields.finish()?;
        Ok(Draft {
            unique_key: Some(body.pull_request.to_string()),
            data: json!({ "pull_request": body.pull_request, "branch": branch.map(|b| b.as_str().to_owned()), "via": "api" }),
            secret: None,
        })
    }

    fn view(record: &StoredRecord) -> Result<ReviewApp, ApiError> {
        let d = &record.data.0;
        Ok(ReviewApp {
            id: record.id,
            pull_request: d["pull_request"]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0),
            branch: d["branch"].as_str().unwrap_or_default().to_owned(),
            via: d["via"].as_str().unwrap_or("api").to_owned(),
            created_by: record.created_by,
            created_at: record.created_at,
        })
    }
}

/// `POST /v1/apps/{app}/review-apps/{id}/redeploy`: deploys the pull request's branch again;
/// no body (or `{}`: any field is a 422).
#[utoipa::path(post, path = "/v1/apps/{app}/review-apps/{id}/redeploy", params(AppIdPath), responses(
    (status = 202, description = "Queued for the platform.", body = QueuedView),
))]
pub async fn redeploy(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(AppIdPath { id, .. }): Path<AppIdPath>,
    _: NoBody,
) -> ApiResult<(StatusCode, Json<QueuedView>)> {
    let record = state
        .store
        .record(ctx.app.id, ReviewApp::KIND, id)
        .await?
        .ok_or(ApiError::NotFound("review app not found"))?;
    let review_app = ReviewApp::view(&record)?;
    let request = NewRequest {
        order: OrderKind::ReviewAppRedeploy,
        event: EventKind::ReviewAppRedeployRequested,
        target: Some(id),
        data: json!({ "review_app_id": id, "pull_request": review_app.pull_request, "branch": review_app.branch }),
        app_status: None,
    };
    let recorded = state
        .store
        .record_request(&ctx.app, request, &ctx.caller.user.to_ref(), state.clock.now())
        .await?;
    let view = QueuedView {
        order_id: recorded.order_id,
        status: "queued",
        formation: None,
    };
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// Body of `POST /internal/v1/apps/{app}/review-apps`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PullRequestReport {
    /// The pull request's number.
    #[schema(minimum = 1)]
    pull_request: u32,
    /// Its branch.
    branch: String,
    /// Its author's email, as the SCM knows it.
    author_email: String,
    /// Whether it comes from a fork of the repository.
    #[serde(default)]
    from_fork: bool,
}

/// What rolegate did with a reported pull request.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PullRequestOutcome {
    /// Whether a review app was created (and its order queued).
    created: bool,
    /// Why not: `auto_create_off`, `forks_not_allowed`, `author_not_a_member` (also once their
    /// time-bound access has ended), `author_tfa_required` (the app requires two-factor
    /// authentication and the author has it off), `author_may_not_create` or `already_open`;
    /// `null` when created.
    #[schema(required = true)]
    reason: Option<&'static str>,
    /// The review app, when created.
    #[schema(required = true)]
    review_app: Option<ReviewApp>,
}

impl PullRequestOutcome {
    fn refused(reason: &'static str) -> (StatusCode, Json<PullRequestOutcome>) {
        let outcome = PullRequestOutcome {
            created: false,
            reason: Some(reason),
            review_app: None,
        };
        (StatusCode::OK, Json(outcome))
    }
}

/// `POST /internal/v1/apps/{app}/review-apps`: the platform reports a pull request. rolegate
/// creates its review app when the settings' `auto_create` is on, forks are allowed if it
/// comes from one, and the author may do it as the public route would let them: a member whose
/// access has not ended, with two-factor authentication on if the app requires it, whose role
/// holds `review_apps.create` (a limited collaborator: when the settings'
/// `limited_collaborators_via_scm` is on); otherwise it answers 200 with `created: false` and a
/// `reason`, and records nothing.
#[utoipa::path(post, path = "/internal/v1/apps/{app}/review-apps", params(AppPath), request_body = PullRequestReport,
    responses(
        (status = 201, description = "The review app was created and its order queued.", body = PullRequestOutcome),
        (status = 200, description = "No review app was created; `reason` says why.", body = PullRequestOutcome),
    )
)]
pub async fn from_scm(
    State(state): State<AppState>,
    Path(AppPath { app }): Path<AppPath>,
    Json(report): Json<PullRequestReport>,
) -> ApiResult<(StatusCode, Json<PullRequestOutcome>)> {
    let app = state
        .store
        .app_by_ref(&AppRef::parse(&app))
        .await?
        .ok_or(ApiError::NotFound("app not found"))?;
    let email = Email::parse(&report.author_email).map_err(|m| ApiError::invalid("author_email", m))?;
    let body = ReviewAppBody {
        pull_request: report.pull_request,
        branch: report.branch,
    };
    let mut draft = ReviewApp::create(body, &state.config)?;
    let settings: ReviewAppSettings = match state.store.setting(app.id, ReviewAppSettings::KEY).await? {
        Some(value) => serde_json::from_value(value).map_err(ApiError::internal)?,
        None => ReviewAppSettings::default(),
    };
    if !settings.auto_create {
        return Ok(PullRequestOutcome::refused("auto_create_off"));
    }
    if report.from_fork && !settings.allow_forks {
        return Ok(PullRequestOutcome::refused("forks_not_allowed"));
    }
    let now = state.clock.now();
    let Some(author) = state.store.user_login(&email).await?.map(|l| l.user) else {
        return Ok(PullRequestOutcome::refused("author_not_a_member"));
    };
    // The same decision as the public route's for a request of the author's: membership, end
    // of access, the app's 2FA rule, the role (a limited collaborator only if the owner lets
    // them through the SCM).
    let via_scm = settings.limited_collaborators_via_scm
        && state
            .store
            .membership_of(app.id, author.id)
            .await?
            .is_some_and(|m| m.role == Role::LimitedCollaborator);
    let rule = Rule {
        permission: Permission::ReviewAppsCreate,
        role_must_hold: !via_scm,
        open_without_tfa: false,
    };
    match acting_for(&state, app.id, author.id, rule).await? {
        Reason::Allowed => {}
        Reason::TfaRequired => return Ok(PullRequestOutcome::refused("author_tfa_required")),
        Reason::RoleLacksPermission | Reason::ScopeLacksPermission => {
            return Ok(PullRequestOutcome::refused("author_may_not_create"));
        }
        Reason::NotAMember | Reason::ScopeExcludesApp | Reason::Expired => {
            return Ok(PullRequestOutcome::refused("author_not_a_member"));
        }
    }
    draft.data["via"] = json!("scm");
    let id = Uuid::now_v7();
    let mut described = draft.data.clone();
    described["review_app_id"] = json!(id);
    let write = RecordWrite {
        id,
        create: true,
        kind: ReviewApp::KIND,
        unique_key: draft.unique_key,
        data: draft.data,
        secret: None,
        event: EventKind::ReviewAppRequested,
        event_data: described.clone(),
        order: Some(NewOrder {
            kind: OrderKind::ReviewAppCreate,
            data: described,
        }),
    };
    match state.store.save_record(&app, write, Some(&author.to_ref()), now).await {
        Ok(stored) => {
            let outcome = PullRequestOutcome {
                created: true,
                reason: None,
                review_app: Some(ReviewApp::view(&stored)?),
            };
            Ok((StatusCode::CREATED, Json(outcome)))
        }
        Err(StoreError::Conflict(_)) => Ok(PullRequestOutcome::refused("already_open")),
        Err(other) => Err(other.into()),
    }
}

/// This module's operations with their own handler, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(redeploy, from_scm))]
pub struct Doc;
