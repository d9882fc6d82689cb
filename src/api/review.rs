//! The access review: for every app the caller owns, who has which role, whether they
//! use it, and what looks wrong (findings); and remediations applied all or nothing.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::extract::{Json, Query};
use crate::authz::Role;
use crate::domain::findings::{FINDINGS, Finding, invitation_findings, member_findings};
use crate::error::{ApiError, ApiResult, FieldError, Fields, Problem};
use crate::state::AppState;
use crate::store::{AppRef, Applied, Caller, PermissionUse, ReviewAction, UserRef};

/// Most remediations in one call.
const MAX_ACTIONS: usize = 100;

/// One row of the review: a member, or a pending invitation.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ReviewRow {
    /// The app's name.
    app: String,
    /// The app's id.
    app_id: Uuid,
    /// The membership (the `{id}` of collaborator routes); `null` on an invitation.
    #[schema(required = true)]
    collaborator_id: Option<Uuid>,
    /// The invitation; `null` on a member.
    #[schema(required = true)]
    invitation_id: Option<Uuid>,
    /// The member; `null` on an invitation.
    #[schema(required = true)]
    user_id: Option<Uuid>,
    /// The member's email, or the invited one.
    email: String,
    /// The member's role, or the one the invitation gives.
    role: Role,
    /// `accepted`, `expired` or `pending` (an invitation).
    #[schema(schema_with = row_status_schema)]
    status: &'static str,
    /// Who invited them (`null` for the app's creator, or when unknown).
    #[schema(required = true)]
    invited_by: Option<UserRef>,
    /// When they joined, or when the invitation was sent.
    granted_at: DateTime<Utc>,
    /// When the member last used the app, to the minute (`null`: never; always `null` on an
    /// invitation).
    #[schema(required = true)]
    last_used_at: Option<DateTime<Utc>>,
    /// When time-bound access ends, or would end for an invitation (`null`: it does not): the
    /// `access_expires_at` of the member or invitation.
    #[schema(required = true)]
    access_expires_at: Option<DateTime<Utc>>,
    /// Deprecated: the same as `access_expires_at` (kept for clients written before it; an
    /// invitation's own `expires_at` is another thing).
    #[schema(required = true, deprecated)]
    expires_at: Option<DateTime<Utc>>,
    /// Whether the member has two-factor authentication on (`null` on an invitation).
    #[schema(required = true)]
    tfa_enabled: Option<bool>,
    /// What looks wrong, possibly nothing.
    findings: Vec<Finding>,
}

fn row_status_schema() -> utoipa::openapi::Object {
    super::openapi::string_enum(
        ["accepted", "expired", "pending"],
        "`accepted`, `expired` or `pending` (an invitation).",
    )
}

/// `?app=&role=&finding=&format=` of the review.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReviewQuery {
    /// Only rows of this app, by name or id.
    app: Option<String>,
    /// Only rows with this role.
    #[param(value_type = Option<Role>)]
    role: Option<String>,
    /// Only rows with a finding of this code.
    #[param(schema_with = finding_param_schema)]
    finding: Option<String>,
    /// `csv` or `json`; without it, CSV when `Accept` asks for `text/csv`, else JSON.
    #[param(schema_with = format_param_schema)]
    format: Option<String>,
}

fn finding_param_schema() -> utoipa::openapi::Object {
    super::openapi::string_enum(FINDINGS, "Only rows with a finding of this code.")
}

fn format_param_schema() -> utoipa::openapi::Object {
    super::openapi::string_enum(
        ["csv", "json"],
        "`csv` or `json`; without it, CSV when `Accept` asks for `text/csv`, else JSON.",
    )
}

/// The whole review, filtered.
pub async fn rows(state: &AppState, caller: &Caller, q: &ReviewQuery) -> ApiResult<Vec<ReviewRow>> {
    let role = q
        .role
        .as_deref()
        .map(|r| Role::parse(r).ok_or_else(|| ApiError::invalid("role", "is not a role")))
        .transpose()?;
    if let Some(f) = q.finding.as_deref().filter(|f| !FINDINGS.contains(f)) {
        return Err(ApiError::invalid(
            "finding",
            format!("{f:?} is not one of {}", FINDINGS.join(", ")),
        ));
    }
    let now = state.clock.now();
    let window = state.config.stale_after;
    let members = state.store.review_members(caller.user.id).await?;
    let usage = state.store.review_usage(caller.user.id, now - window).await?;
    let mut by_member: HashMap<Uuid, Vec<&PermissionUse>> = HashMap::new();
    for u in &usage {
        by_member.entry(u.membership_id).or_default().push(u);
    }
    let mut rows: Vec<ReviewRow> = members
        .iter()
        .map(|m| {
            let findings = member_findings(
                m,
                by_member.get(&m.member.id).map_or(&[][..], Vec::as_slice),
                now,
                window,
            );
            let member = m.member.clone().at(now);
            ReviewRow {
                app: m.app_name.clone(),
                app_id: member.app_id,
                collaborator_id: Some(member.id),
                invitation_id: None,
                user_id: Some(member.user_id),
                email: member.email,
                role: member.role,
                status: member.status,
                invited_by: member.invited_by,
                granted_at: member.created_at,
                last_used_at: member.last_used_at,
                access_expires_at: member.access_expires_at,
                expires_at: member.access_expires_at,
                tfa_enabled: Some(member.tfa_enabled),
                findings,
            }
        })
        .collect();
    for i in state.store.review_invitations(caller.user.id, now).await? {
        rows.push(ReviewRow {
            findings: invitation_findings(&i, now),
            app: i.app_name,
            app_id: i.app_id,
            collaborator_id: None,
            invitation_id: Some(i.id),
            user_id: None,
            email: i.email,
            role: i.role,
            status: "pending",
            invited_by: i.invited_by,
            granted_at: i.created_at,
            last_used_at: None,
            access_expires_at: i.access_expires_at,
            expires_at: i.access_expires_at,
            tfa_enabled: None,
        });
    }
    let app = q.app.as_deref().map(AppRef::parse);
    rows.retain(|r| {
        let app_ok = match &app {
            None => true,
            Some(AppRef::Id(id)) => r.app_id == *id,
            Some(AppRef::Name(name)) => r.app == *name,
        };
        let finding_ok = q
            .finding
            .as_deref()
            .is_none_or(|f| r.findings.iter().any(|x| x.code == f));
        app_ok && role.is_none_or(|role| r.role == role) && finding_ok
    });
    Ok(rows)
}

fn wants_csv(headers: &HeaderMap, format: Option<&str>) -> ApiResult<bool> {
    match format {
        Some("csv") => return Ok(true),
        Some("json") => return Ok(false),
        Some(other) => return Err(ApiError::invalid("format", format!("{other:?} is not csv or json"))),
        None => {}
    }
    Ok(super::accept::choose(headers, &["application/json", "text/csv"])? == "text/csv")
}

/// CSV, one row per member or invitation, findings as `code;code`.
pub fn to_csv(rows: &[ReviewRow]) -> ApiResult<String> {
    let header = [
        "app",
        "app_id",
        "collaborator_id",
        "invitation_id",
        "user_id",
        "email",
        "role",
        "status",
        "invited_by",
        "granted_at",
        "last_used_at",
        "expires_at",
        "findings",
        "access_expires_at",
        "tfa_enabled",
    ];
    let opt = |v: Option<String>| v.unwrap_or_default();
    let records = rows.iter().map(|r| {
        let findings: Vec<&str> = r.findings.iter().map(|f| f.code).collect();
        [
            r.app.clone(),
            r.app_id.to_string(),
            opt(r.collaborator_id.map(|i| i.to_string())),
            opt(r.invitation_id.map(|i| i.to_string())),
            opt(r.user_id.map(|i| i.to_string())),
            r.email.clone(),
            r.role.to_string(),
            r.status.to_owned(),
            opt(r.invited_by.as_ref().map(|u| u.email.clone())),
            r.granted_at.to_rfc3339(),
            opt(r.last_used_at.map(|t| t.to_rfc3339())),
            opt(r.expires_at.map(|t| t.to_rfc3339())),
            findings.join(";"),
            // Last, so that readers by position still find every earlier column in place.
            opt(r.access_expires_at.map(|t| t.to_rfc3339())),
            opt(r.tfa_enabled.map(|on| on.to_string())),
        ]
    });
    super::csv::render(header, records)
}

/// The JSON review.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Review {
    /// When the review was computed.
    generated_at: DateTime<Utc>,
    /// The window of the `stale_member` and `role_broader_than_use` findings, in days.
    stale_after_days: i64,
    /// Every member and pending invitation of the caller's apps that passes the filters.
    items: Vec<ReviewRow>,
}

/// `GET /v1/access-review`: JSON, or CSV with `Accept: text/csv` or `?format=csv`.
#[utoipa::path(get, path = "/v1/access-review", params(ReviewQuery), responses(
    (status = 200, description = "The review of every app the caller owns, in one page: JSON, or CSV (one row per \
                                  member or invitation, the columns of the JSON rows, `findings` as `code;code`).",
        content((Review = "application/json"), (String = "text/csv"))),
    (status = 422, description = "`role`, `finding` or `format` is not one of the allowed values.", body = Problem,
        content_type = "application/problem+json"),
))]
pub async fn review(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<ReviewQuery>,
) -> ApiResult<Response> {
    let csv = wants_csv(&headers, q.format.as_deref())?;
    let rows = rows(&state, &caller, &q).await?;
    if csv {
        return Ok(super::csv::response(to_csv(&rows)?));
    }
    let review = Review {
        generated_at: state.clock.now(),
        stale_after_days: state.config.stale_after.num_days(),
        items: rows,
    };
    Ok(Json(review).into_response())
}

/// A role a remediation may set: never `owner` (ownership moves only by transfer).
#[derive(Clone, Copy, Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantedRole {
    /// `collaborator`.
    Collaborator,
    /// `limited_collaborator`.
    LimitedCollaborator,
}

impl From<GrantedRole> for Role {
    fn from(role: GrantedRole) -> Role {
        match role {
            GrantedRole::Collaborator => Role::Collaborator,
            GrantedRole::LimitedCollaborator => Role::LimitedCollaborator,
        }
    }
}

/// `ActionBody::Remove::role`: absent or `null`.
fn no_role() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Null)
        .description(Some("Not with `remove`: omit it, or `null`."))
        .build()
}

/// Nothing: a field that may only be absent or `null`.
#[derive(Debug, Deserialize)]
pub enum Nothing {}

/// One remediation: `remove` the member, or `set_role` to `collaborator` or `limited_collaborator`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionBody {
    /// Remove the member.
    #[schema(title = "remove")]
    Remove {
        /// An app the caller owns, by name or id.
        app: String,
        /// The membership to change (`collaborator_id` of a review row); not the owner's.
        collaborator_id: Uuid,
        /// Not with `remove`: omit it, or `null`.
        #[serde(default)]
        #[schema(schema_with = no_role)]
        role: Option<Nothing>,
    },
    /// Change the member's role.
    #[schema(title = "set_role")]
    SetRole {
        /// An app the caller owns, by name or id.
        app: String,
        /// The membership to change (`collaborator_id` of a review row); not the owner's.
        collaborator_id: Uuid,
        /// The new role; never `owner` (ownership moves only by transfer).
        role: GrantedRole,
    },
}

impl From<ActionBody> for ReviewAction {
    fn from(action: ActionBody) -> ReviewAction {
        match action {
            ActionBody::Remove {
                app, collaborator_id, ..
            } => ReviewAction {
                app: AppRef::parse(&app),
                collaborator_id,
                set_role: None,
            },
            ActionBody::SetRole {
                app,
                collaborator_id,
                role,
            } => ReviewAction {
                app: AppRef::parse(&app),
                collaborator_id,
                set_role: Some(role.into()),
            },
        }
    }
}

/// Parses action `i`, with the mistakes people make named in the API's words, field by field.
fn parse_action(i: usize, value: &serde_json::Value) -> Result<ReviewAction, Vec<FieldError>> {
    let at = |field: &str| format!("actions[{i}].{field}");
    let role = value.get("role").filter(|r| !r.is_null());
    let problem = match (value.get("action").and_then(serde_json::Value::as_str), role) {
        (Some("remove"), Some(_)) => Some(("role", "is only for set_role")),
        (Some("set_role"), None) => Some(("role", "is required for set_role")),
        (Some("set_role"), Some(r)) if !matches!(r.as_str(), Some("collaborator" | "limited_collaborator")) => {
            Some(("role", "must be collaborator or limited_collaborator"))
        }
        (Some("remove" | "set_role"), _) => None,
        _ if !value.is_object() => return Err(vec![FieldError::new(format!("actions[{i}]"), "must be an object")]),
        _ => Some(("action", "must be remove or set_role")),
    };
    if let Some((field, message)) = problem {
        return Err(vec![FieldError::new(at(field), message)]);
    }
    // A tagged enum loses serde's path to a bad field, so the fields are named here.
    let mut errors = Vec::new();
    if !value.get("app").is_some_and(serde_json::Value::is_string) {
        errors.push(FieldError::new(at("app"), "must be an app's name or id"));
    }
    let id = value.get("collaborator_id").and_then(serde_json::Value::as_str);
    if id.is_none_or(|id| Uuid::try_parse(id).is_err()) {
        errors.push(FieldError::new(at("collaborator_id"), "must be a collaborator id"));
    }
    let known = ["app", "collaborator_id", "action", "role"];
    let object = value.as_object().into_iter().flatten();
    for (key, _) in object.filter(|(k, _)| !known.contains(&k.as_str())) {
        errors.push(FieldError::new(at(key), "is not a field of an action"));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    match super::extract::parse::<ActionBody>(&bytes) {
        Ok(action) => Ok(action.into()),
        Err(ApiError::Validation(errors)) => Err(errors
            .into_iter()
            .map(|e| {
                FieldError::new(
                    if e.field.is_empty() {
                        format!("actions[{i}]")
                    } else {
                        at(&e.field)
                    },
                    e.message,
                )
            })
            .collect()),
        Err(other) => Err(vec![FieldError::new(format!("actions[{i}]"), other.to_string())]),
    }
}

/// Body of `POST /v1/access-review/apply`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Apply {
    /// 1 to 100 remediations, applied in order, all or none.
    #[schema(value_type = Vec<ActionBody>, min_items = 1, max_items = 100)]
    actions: Vec<serde_json::Value>,
}

/// What was applied.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AppliedAll {
    /// One entry per action, in the order sent.
    results: Vec<Applied>,
}

/// `POST /v1/access-review/apply`: every action in one transaction; if one cannot be
/// applied, none is, and the 422 names it.
#[utoipa::path(post, path = "/v1/access-review/apply", request_body = Apply, responses(
    (status = 200, description = "Every action was applied.", body = AppliedAll),
))]
pub async fn apply(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<Apply>,
) -> ApiResult<Json<AppliedAll>> {
    let mut fields = Fields::default();
    if body.actions.is_empty() || body.actions.len() > MAX_ACTIONS {
        fields.push("actions", "must hold 1 to 100 actions");
    }
    let mut actions = Vec::with_capacity(body.actions.len());
    let mut errors = Vec::new();
    // Every malformed action is reported at once.
    for (i, value) in body.actions.iter().enumerate() {
        match parse_action(i, value) {
            Ok(action) => actions.push(action),
            Err(mut e) => errors.append(&mut e),
        }
    }
    for e in errors {
        fields.push(&e.field, &e.message);
    }
    fields.finish()?;
    match state
        .store
        .apply_review(&caller.user.to_ref(), &actions, state.clock.now())
        .await?
    {
        Ok(results) => {
            tracing::info!(user_id = %caller.user.id, applied = results.len(), "access review applied");
            Ok(Json(AppliedAll { results }))
        }
        Err(rejected) => Err(ApiError::Validation(vec![FieldError::new(
            format!("actions[{}]", rejected.index),
            format!("{}; nothing was applied", rejected.message),
        )])),
    }
}

/// This module's operations, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(review, apply))]
pub struct Doc;
