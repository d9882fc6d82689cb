//! Autoscalers: one per container type, keeping a metric near a target between a floor and a
//! ceiling of containers. An [`AppRecord`]; the platform does the scaling.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::records::{AppRecord, Draft};

use crate::config::Config;
use crate::error::{ApiError, Fields};
use crate::kinds::{EventKind, OrderKind};
use crate::store::StoredRecord;

/// The metrics an autoscaler can follow.
const METRICS: [&str; 4] = ["cpu", "memory", "rpm_per_container", "p95_response_time"];

/// Most containers of one type an autoscaler may run.
const MAX_CONTAINERS: u32 = 100;

/// Body of `POST /v1/apps/{app}/autoscalers` and `PATCH …/{id}`.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoscalerBody {
    /// The container type it scales, such as `web` (one autoscaler per type).
    #[schema(min_length = 1, max_length = 32)]
    pub container_type: String,
    /// What it follows: `cpu`, `memory`, `rpm_per_container` or `p95_response_time`.
    #[schema(schema_with = metric_schema)]
    pub metric: String,
    /// The value of `metric` to keep (a share of 1 for `cpu` and `memory`, requests per
    /// minute, or milliseconds): more than 0.
    pub target: f64,
    /// Fewest containers, at least 1.
    #[schema(minimum = 1, maximum = 100)]
    pub min_containers: u32,
    /// Most containers, at least `min_containers`, at most 100.
    #[schema(minimum = 1, maximum = 100)]
    pub max_containers: u32,
    /// Whether it acts (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

fn metric_schema() -> utoipa::openapi::Object {
    super::openapi::string_enum(METRICS, "`cpu`, `memory`, `rpm_per_container` or `p95_response_time`.")
}

/// An autoscaler, as members see it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Autoscaler {
    /// Id.
    pub id: Uuid,
    /// Its fields.
    #[serde(flatten)]
    pub fields: AutoscalerBody,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl AppRecord for Autoscaler {
    const KIND: &'static str = "autoscaler";
    const PLURAL: &'static str = "autoscalers";
    type View = Autoscaler;
    type Body = AutoscalerBody;
    const EVENTS: [EventKind; 3] = [
        EventKind::AutoscalerCreated,
        EventKind::AutoscalerChanged,
        EventKind::AutoscalerRemoved,
    ];
    const ORDERS: [Option<OrderKind>; 2] = [Some(OrderKind::AutoscalerSet), Some(OrderKind::AutoscalerRemove)];
    const CONFLICT: &'static str = "this container type already has an autoscaler; change that one";

    fn create(body: AutoscalerBody, _config: &Config) -> Result<Draft, ApiError> {
        let mut fields = Fields::default();
        let type_ok = (1..=32).contains(&body.container_type.len())
            && body
                .container_type
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !type_ok {
            fields.push("container_type", "must be 1 to 32 characters of a-z, 0-9, '-' and '_'");
        }
        if !METRICS.contains(&body.metric.as_str()) {
            fields.push(
                "metric",
                "must be one of: cpu, memory, rpm_per_container, p95_response_time",
            );
        }
        if !(body.target.is_finite() && body.target > 0.0) {
            fields.push("target", "must be a number greater than 0");
        }
        if !(1..=MAX_CONTAINERS).contains(&body.min_containers) {
            fields.push("min_containers", "must be between 1 and 100");
        }
        if !(1..=MAX_CONTAINERS).contains(&body.max_containers) {
            fields.push("max_containers", "must be between 1 and 100");
        } else if body.max_containers < body.min_containers {
            fields.push("max_containers", "must be at least min_containers");
        }
        fields.finish()?;
        Ok(Draft {
            unique_key: Some(body.container_type.clone()),
            data: serde_json::to_value(&body).map_err(ApiError::internal)?,
            secret: None,
        })
    }

    fn view(record: &StoredRecord) -> Result<Autoscaler, ApiError> {
        Ok(Autoscaler {
            id: record.id,
            fields: serde_json::from_value(record.data.0.clone()).map_err(ApiError::internal)?,
            created_at: record.created_at,
            updated_at: record.updated_at,
        })
    }
}
