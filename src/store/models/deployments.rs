//! Deployments: what the store returns, and the rows it decodes them from.

use super::{Person, person};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::FromRow;
use uuid::Uuid;

/// A deployment.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Deployment {
    /// Id.
    pub id: Uuid,
    /// App.
    pub app_id: Uuid,
    /// Branch, tag or commit deployed.
    pub git_ref: String,
    /// `deploy` (any ref) or `redeploy` (the default branch).
    pub kind: String,
    /// `queued`, `building`, ... as the platform reports.
    pub status: String,
    /// Who asked for it.
    #[schema(required = true)]
    pub requested_by: Option<Person>,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// When it reached a final status.
    #[schema(required = true)]
    pub finished_at: Option<DateTime<Utc>>,
}

/// A deployment to request.
pub struct NewDeployment<'a> {
    /// Ref to deploy.
    pub git_ref: &'a str,
    /// `deploy` or `redeploy`.
    pub kind: &'static str,
    /// `Idempotency-Key` of the request, if any.
    pub idempotency_key: Option<&'a str>,
}

#[derive(FromRow)]
pub(in crate::store) struct DeploymentRow {
    pub id: Uuid,
    pub app_id: Uuid,
    pub git_ref: String,
    pub kind: String,
    pub status: String,
    pub requested_by: Option<Uuid>,
    pub requested_by_email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<DeploymentRow> for Deployment {
    fn from(r: DeploymentRow) -> Deployment {
        Deployment {
            id: r.id,
            app_id: r.app_id,
            git_ref: r.git_ref,
            kind: r.kind,
            status: r.status,
            requested_by: person(r.requested_by, r.requested_by_email),
            created_at: r.created_at,
            finished_at: r.finished_at,
        }
    }
}
