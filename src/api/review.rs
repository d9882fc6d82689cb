//! The access review: for every app the caller owns, who has which role, whether they
//! use it, and what looks wrong (findings); and remediations applied all or nothing.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::extract::{Json, Query};
use crate::authz::{Permission, Role};
use crate::error::{ApiError, ApiResult, FieldError, Fields, Problem};
use crate::state::AppState;
use crate::store::{AppRef, Applied, Caller, Invitation, PermissionUse, ReviewAction, ReviewMember, UserRef};

/// How long before its end time-bound access is flagged.
const EXPIRING_SOON: TimeDelta = TimeDelta::days(7);
/// How long an invitation may stay pending before it is flagged.
const PENDING_LONG: TimeDelta = TimeDelta::days(7);
/// Most remediations in one call.
const MAX_ACTIONS: usize = 100;

/// One finding: a machine-readable code and a sentence for people.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Finding {
    /// `stale_member`, `role_broader_than_use`, `invitation_pending_long` or `expiring_soon`.
    #[schema(schema_with = finding_code_schema)]
    pub code: &'static str,
    /// What it means here.
    pub message: String,
    /// The role the evidence supports, for `role_broader_than_use`; absent (never `null`) on
    /// other findings.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Role)]
    pub suggested_role: Option<Role>,
}

fn finding_code_schema() -> utoipa::openapi::Object {
    super::openapi::string_enum(
        FINDINGS,
        "`stale_member`, `role_broader_than_use`, `invitation_pending_long` or `expiring_soon`.",
    )
}

/// Every finding code.
pub const FINDINGS: [&str; 4] = [
    "stale_member",
    "role_broader_than_use",
    "invitation_pending_long",
    "expiring_soon",
];

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
    /// When time-bound access ends, or would end for an invitation (`null`: it does not).
    #[schema(required = true)]
    expires_at: Option<DateTime<Utc>>,
    /// What looks wrong, possibly nothing.
    findings: Vec<Finding>,
}

fn row_status_schema() -> utoipa::openapi::Object {
    super::openapi::string_enum(
        ["accepted", "expired", "pending"],
        "`accepted`, `expired` or `pending` (an invitation).",
    )
}

fn date(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// The findings for one member, from their use of the app within the window.
pub fn member_findings(
    m: &ReviewMember,
    uses: &[&PermissionUse],
    now: DateTime<Utc>,
    window: TimeDelta,
) -> Vec<Finding> {
    let member = &m.member;
    let mut findings = Vec::new();
    if member.role == Role::Owner {
        return findings;
    }
    let days = window.num_days();
    let last = member.last_used_at.unwrap_or(member.created_at);
    if now - last >= window {
        let message = match member.last_used_at {
            Some(at) => format!(
                "{} has not used {} for {days} days or more (last use {})",
                member.email,
                m.app_name,
                date(at)
            ),
            None => format!(
                "{} has never used {} since joining on {}",
                member.email,
                m.app_name,
                date(member.created_at)
            ),
        };
        findings.push(Finding {
            code: "stale_member",
            message,
            suggested_role: None,
        });
    }
    let privileged = |p: &PermissionUse| {
        Permission::parse(&p.permission).is_some_and(|p| !Role::LimitedCollaborator.can(p) && Role::Collaborator.can(p))
    };
    if member.role == Role::Collaborator && now - member.created_at >= window && !uses.iter().any(|p| privileged(p)) {
        findings.push(Finding {
            code: "role_broader_than_use",
            message: format!(
                "{} is a collaborator on {} but used nothing beyond a limited collaborator's permissions in {days} days",
                member.email, m.app_name
            ),
            suggested_role: Some(Role::LimitedCollaborator),
        });
    }
    if let Some(end) = member
        .access_expires_at
        .filter(|end| *end > now && *end - now <= EXPIRING_SOON)
    {
        findings.push(Finding {
            code: "expiring_soon",
            message: format!(
                "{}'s access to {} ends on {}",
                member.email,
                m.app_name,
                end.to_rfc3339()
            ),
            suggested_role: None,
        });
    }
    findings
}

fn invitation_findings(i: &Invitation, now: DateTime<Utc>) -> Vec<Finding> {
    if now - i.created_at > PENDING_LONG {
        let message = format!(
            "the invitation of {} to {} has been pending since {}",
            i.email,
            i.app_name,
            date(i.created_at)
        );
        vec![Finding {
            code: "invitation_pending_long",
            message,
            suggested_role: None,
        }]
    } else {
        Vec::new()
    }
}

/// `?app=&role=&finding=&format=` of the review.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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
                expires_at: member.access_expires_at,
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
            expires_at: i.access_expires_at,
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
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    Ok(accept.split(',').any(|a| a.trim().starts_with("text/csv")))
}

/// CSV, one row per member or invitation, findings as `code;code`.
pub fn to_csv(rows: &[ReviewRow]) -> ApiResult<String> {
    let mut out = csv::Writer::from_writer(Vec::new());
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
    ];
    out.write_record(header).map_err(ApiError::internal)?;
    let opt = |v: Option<String>| v.unwrap_or_default();
    for r in rows {
        let findings: Vec<&str> = r.findings.iter().map(|f| f.code).collect();
        out.write_record([
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
        ])
        .map_err(ApiError::internal)?;
    }
    let bytes = out.into_inner().map_err(|e| ApiError::internal(e.to_string()))?;
    String::from_utf8(bytes).map_err(ApiError::internal)
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
        let mut response = to_csv(&rows)?.into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        return Ok(response);
    }
    let review = Review {
        generated_at: state.clock.now(),
        stale_after_days: state.config.stale_after.num_days(),
        items: rows,
    };
    Ok(Json(review).into_response())
}

/// One remediation as sent. Its schema (below) is written by hand: `role` depends on `action`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    /// An app the caller owns, by name or id.
    app: String,
    /// The membership to change (`collaborator_id` of a review row); not the owner's.
    collaborator_id: Uuid,
    /// `remove` or `set_role`.
    action: String,
    /// With `set_role` only: `collaborator` or `limited_collaborator`.
    role: Option<String>,
}

/// `remove` without a `role`, or `set_role` with one.
impl utoipa::PartialSchema for ActionBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            AdditionalProperties, KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type,
        };
        let string = |description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(description))
        };
        let variant = |action: &str, role: ObjectBuilder, role_required: bool| {
            let object = ObjectBuilder::new()
                .schema_type(Type::Object)
                .title(Some(action))
                .property("app", string("An app the caller owns, by name or id."))
                .required("app")
                .property(
                    "collaborator_id",
                    string("The membership to change (`collaborator_id` of a review row); not the owner's.")
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
                )
                .required("collaborator_id")
                .property("action", string("What to do.").enum_values(Some([action])))
                .required("action")
                .property("role", role)
                .additional_properties(Some(AdditionalProperties::FreeForm(false)));
            if role_required { object.required("role") } else { object }
        };
        OneOfBuilder::new()
            .description(Some(
                "One remediation: `remove` the member, or `set_role` to `collaborator` or `limited_collaborator`.",
            ))
            .item(variant(
                "remove",
                ObjectBuilder::new()
                    .schema_type(Type::Null)
                    .description(Some("Not with `remove`: omit it, or `null`.")),
                false,
            ))
            .item(variant(
                "set_role",
                string("The new role; never `owner` (ownership moves only by transfer).")
                    .enum_values(Some(["collaborator", "limited_collaborator"])),
                true,
            ))
            .into()
    }
}

impl utoipa::ToSchema for ActionBody {}

/// Body of `POST /v1/access-review/apply`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Apply {
    /// 1 to 100 remediations, applied in order, all or none.
    #[schema(min_items = 1, max_items = 100)]
    actions: Vec<ActionBody>,
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
    for (i, a) in body.actions.iter().enumerate() {
        let set_role = match (a.action.as_str(), a.role.as_deref()) {
            ("remove", None) => None,
            ("remove", Some(_)) => {
                fields.push(&format!("actions[{i}].role"), "is only for set_role");
                continue;
            }
            ("set_role", Some(r)) => match Role::parse(r).filter(|r| *r != Role::Owner) {
                Some(role) => Some(role),
                None => {
                    fields.push(
                        &format!("actions[{i}].role"),
                        "must be collaborator or limited_collaborator",
                    );
                    continue;
                }
            },
            ("set_role", None) => {
                fields.push(&format!("actions[{i}].role"), "is required for set_role");
                continue;
            }
            _ => {
                fields.push(&format!("actions[{i}].action"), "must be remove or set_role");
                continue;
            }
        };
        actions.push(ReviewAction {
            app: AppRef::parse(&a.app),
            collaborator_id: a.collaborator_id,
            set_role,
        });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Collaborator;

    fn member(
        role: Role,
        created: DateTime<Utc>,
        last: Option<DateTime<Utc>>,
        ends: Option<DateTime<Utc>>,
    ) -> ReviewMember {
        ReviewMember {
            app_name: "web".into(),
            member: Collaborator {
                id: Uuid::now_v7(),
                app_id: Uuid::now_v7(),
                user_id: Uuid::now_v7(),
                email: "x@example.com".into(),
                role,
                status: "accepted",
                invited_by: None,
                created_at: created,
                last_used_at: last,
                access_expires_at: ends,
            },
        }
    }

    fn codes(f: &[Finding]) -> Vec<&'static str> {
        f.iter().map(|f| f.code).collect()
    }

    #[test]
    fn findings_follow_the_window() {
        let now = Utc::now();
        let window = TimeDelta::days(90);
        let old = now - TimeDelta::days(100);
        let fresh = member(Role::LimitedCollaborator, now - TimeDelta::days(1), None, None);
        assert!(member_findings(&fresh, &[], now, window).is_empty());
        let stale = member(Role::LimitedCollaborator, old, Some(old), None);
        assert_eq!(codes(&member_findings(&stale, &[], now, window)), ["stale_member"]);
        let broad = member(Role::Collaborator, old, Some(now), None);
        assert_eq!(
            codes(&member_findings(&broad, &[], now, window)),
            ["role_broader_than_use"]
        );
        let used = PermissionUse {
            membership_id: broad.member.id,
            permission: "variables.write".into(),
            last_used_at: now,
        };
        assert!(member_findings(&broad, &[&used], now, window).is_empty());
        let ending = member(
            Role::LimitedCollaborator,
            now,
            Some(now),
            Some(now + TimeDelta::days(3)),
        );
        assert_eq!(codes(&member_findings(&ending, &[], now, window)), ["expiring_soon"]);
        let owner = member(Role::Owner, old, None, None);
        assert!(member_findings(&owner, &[], now, window).is_empty());
    }
}

/// This module's operations, for the OpenAPI document (`super::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(review, apply))]
pub struct Doc;
