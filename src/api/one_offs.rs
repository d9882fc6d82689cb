//! One-off containers: a command run once in the app's environment (a migration, a console).
//! An [`AppRecord`] the platform starts and reports on; attaching to one takes a single-use
//! credential that lives five minutes and that the platform verifies with rolegate.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::IdParam;
use super::extract::{Json, Path};
use super::links::SingleUse;
use super::openapi::{AppIdPath, IdPath};
use super::records::{AppRecord, Draft};
use crate::auth::token::ATTACH_TOKEN_PREFIX;
use crate::authz::Permission;
use crate::authz::middleware::AppContext;
use crate::config::Config;
use crate::error::{ApiError, ApiResult, Fields, Problem, ResultExt};
use crate::kinds::{EventKind, OrderKind};
use crate::state::AppState;
use crate::store::{AppRef, RecordWrite, StoredRecord};

/// Container sizes a one-off may use.
const SIZES: [&str; 4] = ["S", "M", "L", "XL"];

/// Attach credentials: single-use, five minutes (see [`super::links`]).
const ATTACH: SingleUse = SingleUse {
    kind: "one_off_attach",
    prefix: ATTACH_TOKEN_PREFIX,
    not_found: "no such attach credential, or it was used already",
    expired: "the attach credential expired",
    permission: |_| Some(Permission::OneOffsAttach),
};

/// Body of `POST /v1/apps/{app}/one-offs`.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunBody {
    /// The command line: 1 to 1000 characters, no control characters.
    #[schema(min_length = 1, max_length = 1000, example = "bundle exec rake db:migrate")]
    pub command: String,
    /// `S`, `M`, `L` or `XL` (default `M`).
    #[serde(default = "medium")]
    #[schema(schema_with = size_schema)]
    pub size: String,
    /// Run without a terminal attached (its output goes to the logs).
    #[serde(default)]
    pub detached: bool,
}

fn medium() -> String {
    "M".to_owned()
}

fn size_schema() -> utoipa::openapi::Object {
    super::openapi::string_enum(SIZES, "`S`, `M`, `L` or `XL`.")
}

fn status_schema() -> utoipa::openapi::Object {
    super::openapi::string_enum(
        ["starting", "running", "exited"],
        "`starting` until the platform reports otherwise, `running`, then `exited` (final).",
    )
}

/// A one-off container.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OneOff {
    /// Id.
    pub id: Uuid,
    /// The command line.
    pub command: String,
    /// Its size.
    #[schema(schema_with = size_schema)]
    pub size: String,
    /// Whether it runs without a terminal.
    pub detached: bool,
    /// Where it stands.
    #[schema(schema_with = status_schema)]
    pub status: String,
    /// Its exit code once `exited`, else `null`.
    #[schema(required = true)]
    pub exit_code: Option<i32>,
    /// Who ran it (`null` once that account is gone).
    #[schema(required = true)]
    pub run_by: Option<Uuid>,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// When its status last changed.
    pub updated_at: DateTime<Utc>,
}

impl AppRecord for OneOff {
    const KIND: &'static str = "one_off";
    const PLURAL: &'static str = "one_offs";
    type View = OneOff;
    type Body = RunBody;
    const EVENTS: [EventKind; 3] = [
        EventKind::OneOffRequested,
        EventKind::OneOffStatusChanged,
        EventKind::OneOffStatusChanged,
    ];
    const ORDERS: [Option<OrderKind>; 2] = [Some(OrderKind::OneOffRun), None];
    const CREATED: StatusCode = StatusCode::ACCEPTED;

    fn create(body: RunBody, _config: &Config) -> Result<Draft, ApiError> {
        let mut fields = Fields::default();
        let command = body.command.trim();
        if command.is_empty() || command.chars().count() > 1000 || command.chars().any(char::is_control) {
            fields.push("command", "must be 1 to 1000 characters, without control characters");
        }
        if !SIZES.contains(&body.size.as_str()) {
            fields.push("size", "must be one of: S, M, L, XL");
        }
        fields.finish()?;
        Ok(Draft {
            unique_key: None,
            data: json!({
                "command": command, "size": body.size, "detached": body.detached,
                "status": "starting", "exit_code": null,
            }),
            secret: None,
        })
    }

    fn view(record: &StoredRecord) -> Result<OneOff, ApiError> {
        let d = &record.data.0;
        Ok(OneOff {
            id: record.id,
            command: d["command"].as_str().unwrap_or_default().to_owned(),
            size: d["size"].as_str().unwrap_or("M").to_owned(),
            detached: d["detached"].as_bool().unwrap_or(false),
            status: d["status"].as_str().unwrap_or("starting").to_owned(),
            exit_code: d["exit_code"].as_i64().and_then(|c| i32::try_from(c).ok()),
            run_by: record.created_by,
            created_at: record.created_at,
            updated_at: record.updated_at,
        })
    }
}

/// A credential to attach to a one-off.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Attach {
    /// Where a terminal attaches: it carries a single-use credential (`token=rga_…`) that the
    /// platform verifies with `POST /internal/v1/one-offs/attach/verify`. Shown once.
    pub attach_url: String,
    /// When the credential stops working if unused: five minutes from now.
    pub expires_at: DateTime<Utc>,
}

/// `POST /v1/apps/{app}/one-offs/{id}/attach`: a single-use, five-minute credential to attach
/// a terminal to the one-off. 409 once it has exited. The timeline records who was given one,
/// never the credential.
#[utoipa::path(post, path = "/v1/apps/{app}/one-offs/{id}/attach", params(AppIdPath), responses(
    (status = 201, description = "A credential, shown once.", body = Attach),
    (status = 409, description = "The one-off has exited.", body = Problem, content_type = "application/problem+json"),
))]
pub async fn attach(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(AppIdPath { id, .. }): Path<AppIdPath>,
) -> ApiResult<(StatusCode, Json<Attach>)> {
    let one_off = state
        .store
        .record(ctx.app.id, OneOff::KIND, id)
        .await?
        .ok_or(ApiError::NotFound("one-off not found"))?;
    if one_off.data.0["status"] == "exited" {
        return Err(ApiError::Conflict("the one-off has exited".into()));
    }
    let data = json!({ "one_off_id": id });
    let issued = ATTACH
        .issue(&state, &ctx, data.clone(), EventKind::OneOffAttached, data)
        .await?;
    let (secret, expires_at) = (issued.secret, issued.expires_at);
    let attach_url = format!("{}/one-offs/{id}/attach#token={secret}", state.config.public_url);
    Ok((StatusCode::CREATED, Json(Attach { attach_url, expires_at })))
}

/// Body of `POST /internal/v1/one-offs/attach/verify`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyAttach {
    /// The credential of the attach URL (`rga_…`).
    token: String,
}

/// What the platform learns from a credential that holds.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AttachGrant {
    /// The one-off to attach to.
    one_off_id: Uuid,
    /// Its app.
    app_id: Uuid,
    /// Who was given the credential.
    #[schema(required = true)]
    user_id: Option<Uuid>,
}

/// `POST /internal/v1/one-offs/attach/verify`: whether an attach credential holds. It holds
/// once: verifying uses it up, and one past its five minutes is refused (410); one never
/// issued or already used is 404.
#[utoipa::path(post, path = "/internal/v1/one-offs/attach/verify", request_body = VerifyAttach, responses(
    (status = 200, description = "The credential held, and is now used up.", body = AttachGrant),
    (status = 404, description = "No such credential, or it was used already.", body = Problem,
        content_type = "application/problem+json"),
    (status = 410, description = "The credential expired.", body = Problem, content_type = "application/problem+json"),
))]
pub async fn verify_attach(
    State(state): State<AppState>,
    Json(body): Json<VerifyAttach>,
) -> ApiResult<Json<AttachGrant>> {
    let taken = ATTACH.redeem(&state, &body.token).await?;
    let one_off_id = serde_json::from_value(taken.data.0["one_off_id"].clone()).map_err(ApiError::internal)?;
    Ok(Json(AttachGrant {
        one_off_id,
        app_id: taken.app_id,
        user_id: taken.created_by,
    }))
}

/// Body of `POST /internal/v1/one-offs/{id}/status`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusReport {
    /// `starting`, `running` or `exited` (final).
    #[schema(schema_with = status_schema)]
    status: String,
    /// With `exited`: the command's exit code.
    exit_code: Option<i32>,
}

/// `POST /internal/v1/one-offs/{id}/status`: the platform says where a one-off stands.
/// Reporting the same status again changes nothing (a retried `exited` with the same exit
/// code included); an exited one-off takes no other report (409).
#[utoipa::path(post, path = "/internal/v1/one-offs/{id}/status", params(IdPath), request_body = StatusReport,
    responses(
        (status = 200, description = "The one-off as it is now.", body = OneOff),
        (status = 409, description = "It has exited already (with another exit code, or this is not `exited`).",
            body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn report_one_off_status(
    State(state): State<AppState>,
    Path(IdParam { id }): Path<IdParam>,
    Json(body): Json<StatusReport>,
) -> ApiResult<Json<OneOff>> {
    if !["starting", "running", "exited"].contains(&body.status.as_str()) {
        return Err(ApiError::invalid("status", "must be one of: starting, running, exited"));
    }
    if body.exit_code.is_some() && body.status != "exited" {
        return Err(ApiError::invalid("exit_code", "is only for exited"));
    }
    if body.exit_code.is_none() && body.status == "exited" {
        return Err(ApiError::invalid("exit_code", "is required with exited"));
    }
    let current = state
        .store
        .record_by_id(OneOff::KIND, id)
        .await?
        .ok_or(ApiError::NotFound("one-off not found"))?;
    let from = current.data.0["status"].as_str().unwrap_or("starting").to_owned();
    // A repeat answers as the first report did (a retried `exited` only with the same exit
    // code); anything else after `exited` is too late.
    let repeat = from == body.status
        && (from != "exited" || body.exit_code.map(i64::from) == current.data.0["exit_code"].as_i64());
    if repeat {
        return Ok(Json(OneOff::view(&current)?));
    }
    if from == "exited" {
        return Err(ApiError::Conflict("the one-off has exited already".into()));
    }
    let app = state
        .store
        .app_by_ref(&AppRef::Id(current.app_id))
        .await?
        .ok_or(ApiError::NotFound("one-off not found"))?;
    let mut data = current.data.0.clone();
    data["status"] = json!(body.status);
    data["exit_code"] = json!(body.exit_code);
    let write = RecordWrite {
        id,
        create: false,
        kind: OneOff::KIND,
        unique_key: None,
        data,
        secret: None,
        event: EventKind::OneOffStatusChanged,
        event_data: json!({ "one_off_id": id, "from": from, "to": body.status, "exit_code": body.exit_code }),
        order: None,
    };
    let stored = state
        .store
        .save_record(&app, write, None, state.clock.now())
        .await
        .on_not_found("one-off not found")?;
    Ok(Json(OneOff::view(&stored)?))
}

/// This module's operations with their own handler, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(attach, verify_attach, report_one_off_status))]
pub struct Doc;
