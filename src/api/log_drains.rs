//! Log drains: where the platform forwards an app's logs. An [`AppRecord`] whose URL is its
//! secret (a drain URL often carries a credential): sealed at rest, shown to members with its
//! credentials replaced by `***` (see [`redacted`]), and given in full only to the platform.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::extract::{Json, Path};
use super::openapi::AppPath;
use super::records::{AppRecord, Draft, open_secret};

use crate::error::{ApiError, ApiResult};
use crate::kinds::{EventKind, OrderKind};
use crate::state::AppState;
use crate::store::{App, AppRef, StoredRecord};

/// The schemes a drain may use.
const SCHEMES: [&str; 3] = ["https", "syslog+tls", "syslog"];

/// Body of `POST /v1/apps/{app}/log-drains`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogDrainBody {
    /// `https://…`, `syslog+tls://host:port` or `syslog://host:port`; it may carry a user and
    /// password, which are kept sealed.
    #[schema(max_length = 2048, example = "syslog+tls://logs.example.com:6514")]
    pub url: String,
}

/// A log drain, as members see it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LogDrain {
    /// Id.
    pub id: Uuid,
    /// The URL, with its credentials replaced by `***`: the password, a user name that comes
    /// without one (a token, as many log services use), and the value of every query parameter.
    pub url: String,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

/// `url` with its credentials replaced by `***`; or why it is not a drain URL. A credential
/// rides in the password, in a user name alone (`https://TOKEN@host`), or in a query parameter
/// (`?api_key=…`): each is hidden, the parameters' names kept. (A token written into the path
/// cannot be told from the path itself, and is shown: docs/api.md says so.)
fn redacted(raw: &str) -> Result<String, &'static str> {
    const RULE: &str = "must be an https://, syslog+tls:// or syslog:// URL with a host";
    if raw.len() > 2048 {
        return Err("must be at most 2048 characters");
    }
    let mut url = reqwest::Url::parse(raw).map_err(|_| RULE)?;
    if !SCHEMES.contains(&url.scheme()) || url.host_str().is_none_or(str::is_empty) {
        return Err(RULE);
    }
    if url.scheme().starts_with("syslog") && url.port().is_none() {
        return Err("a syslog URL must name its port, such as syslog+tls://logs.example.com:6514");
    }
    if url.password().is_some() {
        url.set_password(Some("***")).map_err(|()| RULE)?;
    } else if !url.username().is_empty() {
        url.set_username("***").map_err(|()| RULE)?;
    }
    if url.query().is_some() {
        let names: Vec<String> = url.query_pairs().map(|(name, _)| name.into_owned()).collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(names.iter().map(|name| (name.as_str(), "***")));
    }
    Ok(url.to_string())
}

impl AppRecord for LogDrain {
    const KIND: &'static str = "log_drain";
    const PLURAL: &'static str = "log_drains";
    type View = LogDrain;
    type Body = LogDrainBody;
    const EVENTS: [EventKind; 3] = [
        EventKind::LogDrainAdded,
        EventKind::LogDrainAdded,
        EventKind::LogDrainRemoved,
    ];
    const ORDERS: [Option<OrderKind>; 2] = [Some(OrderKind::LogDrainAdd), Some(OrderKind::LogDrainRemove)];
    const CONFLICT: &'static str = "the app already drains its logs to this URL";

    fn create(body: LogDrainBody, _app: &App) -> Result<Draft, ApiError> {
        let shown = redacted(body.url.trim()).map_err(|m| ApiError::invalid("url", m))?;
        Ok(Draft {
            // One drain per destination: the same URL twice would send every line twice.
            unique_key: Some(shown.clone()),
            data: serde_json::json!({ "url": shown }),
            secret: Some(body.url.trim().to_owned()),
        })
    }

    fn view(record: &StoredRecord) -> Result<LogDrain, ApiError> {
        Ok(LogDrain {
            id: record.id,
            url: record.data.0["url"].as_str().unwrap_or_default().to_owned(),
            created_at: record.created_at,
        })
    }
}

/// A log drain, as the platform needs it: with its full URL.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PlatformLogDrain {
    /// Id.
    pub id: Uuid,
    /// The full URL, credentials included.
    pub url: String,
}

/// Every drain of an app, for the platform.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PlatformLogDrains {
    /// Oldest first.
    pub items: Vec<PlatformLogDrain>,
}

/// `GET /internal/v1/apps/{app}/log-drains`: the app's drains with their full URLs (the
/// orders carry only the redacted one).
#[utoipa::path(get, path = "/internal/v1/apps/{app}/log-drains", params(AppPath), responses(
    (status = 200, description = "Every drain of the app, with its full URL.", body = PlatformLogDrains),
))]
pub async fn platform_log_drains(
    State(state): State<AppState>,
    Path(AppPath { app }): Path<AppPath>,
) -> ApiResult<Json<PlatformLogDrains>> {
    let app = state
        .store
        .app_by_ref(&AppRef::parse(&app))
        .await?
        .ok_or(ApiError::NotFound("app not found"))?;
    let records = state.store.list_records(app.id, LogDrain::KIND).await?;
    let mut items = Vec::with_capacity(records.len());
    for record in &records {
        items.push(PlatformLogDrain {
            id: record.id,
            url: open_secret(&state, record)?.unwrap_or_default(),
        });
    }
    Ok(Json(PlatformLogDrains { items }))
}

/// This module's operations with their own handler, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(platform_log_drains))]
pub struct Doc;

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn passwords_are_redacted_and_schemes_checked() {
        assert_eq!(
            redacted("https://user:hunter2@logs.example.com/drain?x=1").unwrap(),
            "https://user:***@logs.example.com/drain?x=***"
        );
        // A user name alone is a token; query values are keys.
        assert_eq!(
            redacted("https://tok3n@logs.example.com/drain").unwrap(),
            "https://***@logs.example.com/drain"
        );
        assert_eq!(
            redacted("https://logs.example.com/ingest?api_key=SECRET&tag=web&tag=worker").unwrap(),
            "https://logs.example.com/ingest?api_key=***&tag=***&tag=***"
        );
        assert_eq!(
            redacted("syslog+tls://logs.example.com:6514").unwrap(),
            "syslog+tls://logs.example.com:6514"
        );
        for bad in [
            "http://logs.example.com",
            "syslog://logs.example.com",
            "not a url",
            "https://",
        ] {
            assert!(redacted(bad).is_err(), "{bad}");
        }
    }
}
