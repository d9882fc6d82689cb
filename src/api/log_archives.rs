//! Log archives: the app's older logs, in files the platform keeps. The platform reports each
//! one with its download URL (sealed at rest: such a URL is a credential); members who may
//! download archives list them and fetch one's URL.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::extract::{Json, Path};
use super::openapi::{AppIdPath, AppPath};
use super::records::{AppRecord, Draft, open_secret};
use crate::authz::middleware::AppContext;
use crate::config::Config;
use crate::error::{ApiError, ApiResult, Fields};
use crate::kinds::EventKind;
use crate::state::AppState;
use crate::store::{AppRef, RecordWrite, StoredRecord};

/// Body of `POST /internal/v1/apps/{app}/logs/archives`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArchiveReport {
    /// The first line's time.
    pub from: DateTime<Utc>,
    /// The last line's time (not before `from`).
    pub to: DateTime<Utc>,
    /// The file's size.
    pub size_bytes: u64,
    /// Where members download it (`https://`); kept sealed, shown only to who may download.
    #[schema(max_length = 2048)]
    pub url: String,
}

/// A log archive, as listed.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LogArchive {
    /// Id.
    pub id: Uuid,
    /// The first line's time.
    pub from: DateTime<Utc>,
    /// The last line's time.
    pub to: DateTime<Utc>,
    /// The file's size.
    pub size_bytes: u64,
    /// When the platform reported it.
    pub created_at: DateTime<Utc>,
}

impl AppRecord for LogArchive {
    const KIND: &'static str = "log_archive";
    const PLURAL: &'static str = "log_archives";
    type View = LogArchive;
    type Body = ArchiveReport;
    const EVENTS: [EventKind; 3] = [EventKind::LogArchiveAdded; 3];

    fn create(report: ArchiveReport, _config: &Config) -> Result<Draft, ApiError> {
        let mut fields = Fields::default();
        if report.to < report.from {
            fields.push("to", "must not be before from");
        }
        let url_ok = report.url.len() <= 2048
            && reqwest::Url::parse(&report.url).is_ok_and(|u| u.scheme() == "https" && u.host_str().is_some());
        if !url_ok {
            fields.push("url", "must be an https:// URL of at most 2048 characters");
        }
        fields.finish()?;
        Ok(Draft {
            unique_key: None,
            data: json!({ "from": report.from, "to": report.to, "size_bytes": report.size_bytes }),
            secret: Some(report.url),
        })
    }

    fn view(record: &StoredRecord) -> Result<LogArchive, ApiError> {
        let d = &record.data.0;
        let time = |key: &str| serde_json::from_value(d[key].clone()).map_err(ApiError::internal);
        Ok(LogArchive {
            id: record.id,
            from: time("from")?,
            to: time("to")?,
            size_bytes: d["size_bytes"].as_u64().unwrap_or(0),
            created_at: record.created_at,
        })
    }
}

/// `POST /internal/v1/apps/{app}/logs/archives`: the platform reports a new archive.
#[utoipa::path(post, path = "/internal/v1/apps/{app}/logs/archives", params(AppPath), request_body = ArchiveReport,
    responses((status = 201, description = "Recorded.", body = LogArchive))
)]
pub async fn report(
    State(state): State<AppState>,
    Path(AppPath { app }): Path<AppPath>,
    Json(report): Json<ArchiveReport>,
) -> ApiResult<(StatusCode, Json<LogArchive>)> {
    let app = state
        .store
        .app_by_ref(&AppRef::parse(&app))
        .await?
        .ok_or(ApiError::NotFound("app not found"))?;
    let draft = LogArchive::create(report, &state.config)?;
    let id = Uuid::now_v7();
    let sealed = draft
        .secret
        .map(|url| {
            let context = super::records::secret_context(app.id, LogArchive::KIND, id);
            state.secrets.seal(url.as_bytes(), &context)
        })
        .transpose()
        .map_err(ApiError::internal)?;
    let mut event_data = draft.data.clone();
    event_data["log_archive_id"] = json!(id);
    let write = RecordWrite {
        id,
        create: true,
        kind: LogArchive::KIND,
        unique_key: None,
        data: draft.data,
        secret: sealed,
        event: EventKind::LogArchiveAdded,
        event_data,
        order: None,
    };
    let stored = state.store.save_record(&app, write, None, state.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(LogArchive::view(&stored)?)))
}

/// One archive with its download URL.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LogArchiveDownload {
    /// The archive.
    #[serde(flatten)]
    archive: LogArchive,
    /// Where to download it.
    url: String,
}

/// `GET /v1/apps/{app}/logs/archives/{id}`: one archive with its download URL.
#[utoipa::path(get, path = "/v1/apps/{app}/logs/archives/{id}", params(AppIdPath), responses(
    (status = 200, description = "The archive and where to download it.", body = LogArchiveDownload),
))]
pub async fn download(
    State(state): State<AppState>,
    ctx: AppContext,
    Path(AppIdPath { id, .. }): Path<AppIdPath>,
) -> ApiResult<Json<LogArchiveDownload>> {
    let record = state
        .store
        .record(ctx.app.id, LogArchive::KIND, id)
        .await?
        .ok_or(ApiError::NotFound("log archive not found"))?;
    let url = open_secret(&state, &record)?.unwrap_or_default();
    Ok(Json(LogArchiveDownload {
        archive: LogArchive::view(&record)?,
        url,
    }))
}

/// This module's operations with their own handler, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(report, download))]
pub struct Doc;
