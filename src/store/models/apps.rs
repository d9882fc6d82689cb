//! Apps: what the store returns, and the rows it decodes them from.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use uuid::Uuid;

use super::{Caller, CallerRow, Membership, UserRef, user_ref};
use crate::authz::Role;

/// `{app}` in a path: an id or a name.
#[derive(Clone, Debug)]
pub enum AppRef {
    /// A UUID.
    Id(Uuid),
    /// A name (names are never UUIDs).
    Name(String),
}

impl AppRef {
    /// Reads a path segment.
    pub fn parse(raw: &str) -> AppRef {
        match Uuid::try_parse(raw) {
            Ok(id) => AppRef::Id(id),
            Err(_) => AppRef::Name(raw.to_owned()),
        }
    }
}

/// An app.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct App {
    /// Id.
    pub id: Uuid,
    /// Unique name.
    pub name: String,
    /// Branch that `redeploy` deploys.
    pub default_branch: String,
    /// The one owner.
    pub owner: UserRef,
    /// The containers the app runs (`POST /scale` changes it).
    pub formation: Vec<Container>,
    /// `running`, or `stopped` after `POST /stop` (until `POST /start`).
    #[schema(schema_with = app_status_schema)]
    pub status: String,
    /// The stack (base image) it is built on, such as `scalingo-22`.
    pub stack: String,
    /// The name of the app it was created from (`POST …/children`), or `null`.
    #[schema(required = true)]
    pub parent: Option<String>,
    /// Whether every member must have two-factor authentication on
    /// (`PUT /v1/apps/{app}/security`).
    pub require_tfa: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change of the app's own fields.
    pub updated_at: DateTime<Utc>,
}

/// `App::status`.
fn app_status_schema() -> utoipa::openapi::Object {
    crate::api::openapi::string_enum(["running", "stopped"], "`running`, or `stopped` after `POST /stop`.")
}

/// One line of the formation: how many containers of a type, and their size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Container {
    /// Process type, such as `web` or `worker`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Number of containers.
    pub amount: u32,
    /// Container size, such as `M` or `2XL`.
    pub size: String,
}

/// An app and the caller's membership of it, if any.
#[derive(Clone, Debug)]
pub struct AppAccess {
    /// The app.
    pub app: App,
    /// `None` when the caller is not a member.
    pub membership: Option<Membership>,
    /// When the caller last exercised the permission asked about.
    pub permission_last_used_at: Option<DateTime<Utc>>,
}

/// An app with the listing user's role.
#[derive(Clone, Debug)]
pub struct AppWithRole {
    /// The app.
    pub app: App,
    /// The user's role.
    pub role: Role,
}

#[derive(FromRow)]
pub(in crate::store) struct AppRow {
    pub id: Uuid,
    pub name: String,
    pub default_branch: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub owner_id: Uuid,
    pub owner_email: String,
    pub formation: sqlx::types::Json<Vec<Container>>,
    pub status: String,
    pub stack: String,
    pub parent_name: Option<String>,
    pub require_tfa: bool,
}

impl From<AppRow> for App {
    fn from(r: AppRow) -> App {
        App {
            id: r.id,
            name: r.name,
            default_branch: r.default_branch,
            owner: UserRef {
                id: r.owner_id,
                email: r.owner_email,
            },
            formation: r.formation.0,
            status: r.status,
            stack: r.stack,
            parent: r.parent_name,
            require_tfa: r.require_tfa,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(FromRow)]
pub(in crate::store) struct AppWithRoleRow {
    #[sqlx(flatten)]
    pub app: AppRow,
    #[sqlx(try_from = "String")]
    pub role: Role,
}

#[derive(FromRow)]
pub(in crate::store) struct AccessRow {
    #[sqlx(flatten)]
    pub caller: CallerRow,
    pub app_id: Option<Uuid>,
    pub app_name: Option<String>,
    pub default_branch: Option<String>,
    pub app_created_at: Option<DateTime<Utc>>,
    pub app_updated_at: Option<DateTime<Utc>>,
    pub owner_id: Option<Uuid>,
    pub owner_email: Option<String>,
    pub formation: Option<sqlx::types::Json<Vec<Container>>>,
    pub app_status: Option<String>,
    pub stack: Option<String>,
    pub parent_name: Option<String>,
    pub require_tfa: Option<bool>,
    pub membership_id: Option<Uuid>,
    pub role: Option<String>,
    pub access_expires_at: Option<DateTime<Utc>>,
    pub membership_last_used_at: Option<DateTime<Utc>>,
    pub permission_last_used_at: Option<DateTime<Utc>>,
}

impl AccessRow {
    pub fn split(self) -> (Caller, Option<AppAccess>) {
        let caller = Caller::from(self.caller);
        let tfa_enabled = caller.user.tfa_enabled;
        let app = (|| {
            Some(App {
                id: self.app_id?,
                name: self.app_name?,
                default_branch: self.default_branch?,
                owner: user_ref(self.owner_id, self.owner_email)?,
                formation: self.formation?.0,
                status: self.app_status?,
                stack: self.stack?,
                parent: self.parent_name,
                require_tfa: self.require_tfa?,
                created_at: self.app_created_at?,
                updated_at: self.app_updated_at?,
            })
        })();
        let membership = (|| {
            Some(Membership {
                id: self.membership_id?,
                role: Role::parse(self.role.as_deref()?)?,
                access_expires_at: self.access_expires_at,
                last_used_at: self.membership_last_used_at,
                tfa_enabled,
            })
        })();
        let permission_last_used_at = self.permission_last_used_at;
        (
            caller,
            app.map(|app| AppAccess {
                app,
                membership,
                permission_last_used_at,
            }),
        )
    }
}
