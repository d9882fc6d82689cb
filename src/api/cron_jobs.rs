//! Cron jobs: the app's scheduled commands, as its code declares them (`cron.json`). The
//! platform reports the table after each deployment, replacing the list; members read it.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::extract::{Json, Path};
use super::openapi::AppPath;
use super::records::{AppRecord, Draft};
use crate::config::Config;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::kinds::EventKind;
use crate::state::AppState;
use crate::store::{AppRef, StoredRecord};

/// Most jobs one app may schedule.
const MAX_JOBS: usize = 100;

/// One line of the cron table.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CronLine {
    /// Five cron fields (minute, hour, day of month, month, day of week), such as `0 3 * * *`.
    #[schema(example = "0 3 * * *")]
    pub schedule: String,
    /// The command line: 1 to 1000 characters.
    #[schema(min_length = 1, max_length = 1000)]
    pub command: String,
    /// The container size it runs on, such as `M`; `null`: the platform's default.
    #[serde(default)]
    #[schema(required = false)]
    pub size: Option<String>,
}

/// A scheduled job.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CronJob {
    /// Id (a new one each time the platform reports the table).
    pub id: Uuid,
    /// The schedule.
    pub schedule: String,
    /// The command line.
    pub command: String,
    /// The container size, or `null`.
    #[schema(required = true)]
    pub size: Option<String>,
    /// When the platform reported it.
    pub reported_at: DateTime<Utc>,
}

/// Whether `field` of a cron schedule is a number, `*`, a range, a list or a step in `range`.
fn cron_field_ok(field: &str, range: std::ops::RangeInclusive<u32>) -> bool {
    field.split(',').all(|part| {
        let (base, step) = part.split_once('/').unwrap_or((part, "1"));
        let step_ok = step.parse::<u32>().is_ok_and(|s| s >= 1);
        let base_ok = base == "*"
            || match base.split_once('-') {
                Some((a, b)) => match (a.parse::<u32>(), b.parse::<u32>()) {
                    (Ok(a), Ok(b)) => range.contains(&a) && range.contains(&b) && a <= b,
                    _ => false,
                },
                None => base.parse::<u32>().is_ok_and(|n| range.contains(&n)),
            };
        step_ok && base_ok
    })
}

/// Whether `schedule` is five valid cron fields.
fn schedule_ok(schedule: &str) -> bool {
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    let ranges = [0..=59, 0..=23, 1..=31, 1..=12, 0..=7];
    fields.len() == 5 && fields.iter().zip(ranges).all(|(f, r)| cron_field_ok(f, r))
}

impl AppRecord for CronJob {
    const KIND: &'static str = "cron_job";
    const PLURAL: &'static str = "cron_jobs";
    type View = CronJob;
    type Body = CronLine;
    const EVENTS: [EventKind; 3] = [EventKind::CronJobsReplaced; 3];

    fn create(line: CronLine, _config: &Config) -> Result<Draft, ApiError> {
        if !schedule_ok(&line.schedule) {
            return Err(ApiError::invalid(
                "schedule",
                "must be five cron fields, such as 0 3 * * * (minute hour day month weekday)",
            ));
        }
        let command = line.command.trim();
        if command.is_empty() || command.chars().count() > 1000 || command.chars().any(char::is_control) {
            return Err(ApiError::invalid(
                "command",
                "must be 1 to 1000 characters, without control characters",
            ));
        }
        if line
            .size
            .as_ref()
            .is_some_and(|s| s.is_empty() || s.len() > 8 || !s.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            return Err(ApiError::invalid("size", "must be a container size such as M"));
        }
        Ok(Draft {
            unique_key: None,
            data: json!({ "schedule": line.schedule.split_whitespace().collect::<Vec<_>>().join(" "),
                          "command": command, "size": line.size }),
            secret: None,
        })
    }

    fn view(record: &StoredRecord) -> Result<CronJob, ApiError> {
        let d = &record.data.0;
        Ok(CronJob {
            id: record.id,
            schedule: d["schedule"].as_str().unwrap_or_default().to_owned(),
            command: d["command"].as_str().unwrap_or_default().to_owned(),
            size: d["size"].as_str().map(str::to_owned),
            reported_at: record.created_at,
        })
    }
}

/// Body of `PUT /internal/v1/apps/{app}/cron-jobs`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CronTable {
    /// The whole table: 0 to 100 jobs.
    #[schema(max_items = 100)]
    jobs: Vec<CronLine>,
}

/// The app's jobs as stored now.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CronJobs {
    /// In the order reported.
    items: Vec<CronJob>,
}

/// `PUT /internal/v1/apps/{app}/cron-jobs`: the platform reports the app's cron table after a
/// deployment; it replaces the one before, in one transaction, with one `cron_jobs.replaced`
/// event.
#[utoipa::path(put, path = "/internal/v1/apps/{app}/cron-jobs", params(AppPath), request_body = CronTable,
    responses((status = 200, description = "The table as stored now.", body = CronJobs))
)]
pub async fn replace(
    State(state): State<AppState>,
    Path(AppPath { app }): Path<AppPath>,
    Json(table): Json<CronTable>,
) -> ApiResult<Json<CronJobs>> {
    let app = state
        .store
        .app_by_ref(&AppRef::parse(&app))
        .await?
        .ok_or(ApiError::NotFound("app not found"))?;
    if table.jobs.len() > MAX_JOBS {
        return Err(ApiError::invalid("jobs", "must hold at most 100 jobs"));
    }
    let mut drafts = Vec::with_capacity(table.jobs.len());
    let mut errors = Vec::new();
    for (i, line) in table.jobs.into_iter().enumerate() {
        match CronJob::create(line, &state.config) {
            Ok(draft) => drafts.push(draft.data),
            Err(ApiError::Validation(e)) => errors.extend(
                e.into_iter()
                    .map(|f| FieldError::new(format!("jobs[{i}].{}", f.field), f.message)),
            ),
            Err(other) => return Err(other),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let stored = state
        .store
        .replace_records(
            &app,
            CronJob::KIND,
            drafts,
            EventKind::CronJobsReplaced,
            state.clock.now(),
        )
        .await?;
    let items = stored.iter().map(CronJob::view).collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(CronJobs { items }))
}

/// This module's operations with their own handler, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(replace))]
pub struct Doc;

#[cfg(test)]
mod tests {
    use super::schedule_ok;

    #[test]
    fn schedules_are_five_cron_fields() {
        for ok in ["0 3 * * *", "*/15 * * * 1-5", "0,30 8-18 1 1-12/2 0"] {
            assert!(schedule_ok(ok), "{ok}");
        }
        for bad in [
            "",
            "* * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "*/0 * * * *",
            "a b c d e",
            "5-1 * * * *",
        ] {
            assert!(!schedule_ok(bad), "{bad}");
        }
    }
}
