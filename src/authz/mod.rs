//! Roles, permissions and the static matrix that says which role holds which permission.
//!
//! Everything here is `const`: the matrix is compiled into two bitsets per role, so the
//! check on every request is one `AND`. Both enums are matched exhaustively, so adding a
//! role or a permission does not compile until [`row`] says who holds it.

pub mod decision;
pub mod middleware;
pub mod routes;
pub mod throttle;

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

/// A member's role on one app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including delete, rename and transfer. Exactly one per app.
    Owner,
    /// Near-owner: deploy, configure, secrets, add-ons, manage collaborators.
    Collaborator,
    /// Read-only configuration, watch and redeploy, logs and metrics, no secrets.
    LimitedCollaborator,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 3] = [Role::Owner, Role::Collaborator, Role::LimitedCollaborator];

    /// The wire name (`owner`, `collaborator`, `limited_collaborator`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Collaborator => "collaborator",
            Role::LimitedCollaborator => "limited_collaborator",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    const fn rank(self) -> u8 {
        match self {
            Role::Owner => 2,
            Role::Collaborator => 1,
            Role::LimitedCollaborator => 0,
        }
    }

    /// Whether a member with this role may give `other` to someone: never `owner`
    /// (ownership moves only by transfer), never above one's own role.
    pub const fn can_grant(self, other: Role) -> bool {
        !matches!(other, Role::Owner) && other.rank() <= self.rank()
    }

    /// The permissions this role holds.
    pub const fn permissions(self) -> PermissionSet {
        match self {
            Role::Owner => OWNER,
            Role::Collaborator => COLLABORATOR,
            Role::LimitedCollaborator => LIMITED_COLLABORATOR,
        }
    }

    /// Whether this role holds `permission`.
    #[inline]
    pub const fn can(self, permission: Permission) -> bool {
        self.permissions().contains(permission)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Role {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Role::parse(&s).ok_or_else(|| format!("unknown role {s:?}"))
    }
}

macro_rules! permissions {
    ($($variant:ident => $name:literal: $doc:literal,)*) => {
        /// One thing a member may do on an app. The set is closed.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Permission {
            $(#[doc = $doc] $variant,)*
        }

        impl Permission {
            /// Every permission, in matrix order.
            pub const ALL: &'static [Permission] = &[$(Permission::$variant,)*];

            /// The wire name, such as `variables.read_values`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Permission::$variant => $name,)*
                }
            }

            /// What the permission allows, in one sentence.
            pub const fn description(self) -> &'static str {
                match self {
                    $(Permission::$variant => $doc,)*
                }
            }
        }
    };
}

permissions! {
    AppRead => "app.read": "See the app, its settings and its formation.",
    AppUpdate => "app.update": "Change the app's settings (default branch).",
    AppRestart => "app.restart": "Restart the app's containers.",
    AppScale => "app.scale": "Change the number and size of containers.",
    AppRename => "app.rename": "Rename the app.",
    AppDelete => "app.delete": "Delete the app.",
    AppTransfer => "app.transfer": "Transfer ownership to another member.",
    CollaboratorsRead => "collaborators.read": "List members and invitations.",
    CollaboratorsInvite => "collaborators.invite": "Invite people and revoke invitations.",
    CollaboratorsUpdateRole => "collaborators.update_role": "Change a member's role.",
    CollaboratorsRemove => "collaborators.remove": "Remove another member.",
    DeploymentsRead => "deployments.read": "List deployments and read their output.",
    DeploymentsCreate => "deployments.create": "Deploy any branch, tag or commit.",
    DeploymentsRedeployDefault => "deployments.redeploy_default": "Redeploy the default branch.",
    DeploymentsResetCache => "deployments.reset_cache": "Reset the deployment cache.",
    LogsRead => "logs.read": "Read recent logs.",
    MetricsRead => "metrics.read": "Read metrics.",
    EventsRead => "events.read": "Read the app's activity timeline.",
    VariablesListNames => "variables.list_names": "See environment variable names.",
    VariablesReadValues => "variables.read_values": "See environment variable values (also in the variable list and the timeline).",
    VariablesWrite => "variables.write": "Create, change and delete environment variables.",
    AddonsRead => "addons.read": "List add-ons.",
    AddonsManage => "addons.manage": "Provision, change and remove add-ons.",
    DatabasesAccess => "databases.access": "Read database credentials.",
    ReviewAppsConfigure => "review_apps.configure": "Change the review-app settings.",
    ReviewAppsList => "review_apps.list": "List review apps (and read their settings).",
    AppStop => "app.stop": "Stop the app's containers and start them again.",
    AppChangeStack => "app.change_stack": "Change the app's stack (base image).",
    AppCreateChild => "app.create_child": "Create a child app from this app.",
    AutoscalersManage => "autoscalers.manage": "Create, change and remove autoscalers.",
    SupportGrantDataAccess => "support.grant_data_access": "Let the platform's support operators reach the app's data for a limited time.",
    LogDrainsManage => "log_drains.manage": "List, add and remove log drains.",
    LogsDownloadArchives => "logs.download_archives": "List and download log archives.",
    ScmConfigure => "scm.configure": "Link the app to a repository, change or remove the link.",
    DeploymentsManageAuto => "deployments.manage_auto": "Turn automatic deployments on or off and choose their branch.",
    OneOffsList => "one_offs.list": "List one-off containers.",
    OneOffsCreate => "one_offs.create": "Run a one-off container.",
    OneOffsAttach => "one_offs.attach": "Attach to a running one-off container.",
    CronJobsList => "cron_jobs.list": "List the app's scheduled jobs.",
    ReviewAppsCreate => "review_apps.create": "Create a review app from a pull request.",
    ReviewAppsClose => "review_apps.close": "Close (destroy) a review app.",
    ReviewAppsRedeploy => "review_apps.redeploy": "Redeploy a review app.",
    AppRequireTfa => "app.require_tfa": "Require two-factor authentication of every member of the app (or stop requiring it).",
    AddonsOpenDashboard => "addons.open_dashboard": "Open an add-on's dashboard (single sign-on link).",
    DatabasesOpenDashboard => "databases.open_dashboard": "Open a database's dashboard.",
    DatabasesCreateBackup => "databases.create_backup": "Take a manual backup.",
    DatabasesScheduleBackups => "databases.schedule_backups": "Read and change the scheduled backups.",
    DatabasesDownloadBackups => "databases.download_backups": "List backups and download one.",
    DatabasesRestoreBackup => "databases.restore_backup": "Restore a backup over the database.",
    DatabasesRestorePitr => "databases.restore_pitr": "Restore the database to a point in time.",
    DatabasesReadLogs => "databases.read_logs": "Read the database's logs.",
    DatabasesReadMetrics => "databases.read_metrics": "Read the database's metrics.",
    DatabasesManageInternetAccess => "databases.manage_internet_access": "Read and change whether the database is reachable from the internet, and from where.",
    DatabasesConfigure => "databases.configure": "Read and change the database's configuration.",
    DatabasesManageUsers => "databases.manage_users": "List, create and delete database users.",
    DatabasesManageMaintenance => "databases.manage_maintenance": "Read and change the maintenance window.",
    DatabasesUpgradeMinor => "databases.upgrade_minor": "Start a minor version upgrade.",
    DatabasesUpgradeMajor => "databases.upgrade_major": "Start a major version upgrade.",
}

impl Permission {
    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Permission> {
        Permission::ALL.iter().copied().find(|p| p.as_str() == s)
    }

    const fn bit(self) -> u128 {
        1 << self as u8
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Permission {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Permission {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Permission::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown permission {s:?}")))
    }
}

impl utoipa::PartialSchema for Permission {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(Permission::ALL.iter().map(|p| p.as_str())))
            .description(Some("A permission of the static matrix (see GET /v1/roles)."))
            .into()
    }
}

impl utoipa::ToSchema for Permission {}

/// Which roles hold one permission. A new role is a new field, so every row below stops
/// compiling until it says whether that role holds the permission.
struct Row {
    owner: bool,
    collaborator: bool,
    limited_collaborator: bool,
}

const fn grants(owner: bool, collaborator: bool, limited_collaborator: bool) -> Row {
    Row {
        owner,
        collaborator,
        limited_collaborator,
    }
}

/// The matrix, one row per permission (Scalingo's published roles).
const fn row(permission: Permission) -> Row {
    use Permission::*;
    const YES: bool = true;
    const NO: bool = false;
    match permission {
        //                                    owner collaborator limited
        AppRead => grants(YES, YES, YES),
        AppUpdate => grants(YES, YES, NO),
        AppRestart => grants(YES, YES, YES),
        AppScale => grants(YES, YES, NO),
        AppRename => grants(YES, NO, NO),
        AppDelete => grants(YES, NO, NO),
        AppTransfer => grants(YES, NO, NO),
        CollaboratorsRead => grants(YES, YES, NO),
        CollaboratorsInvite => grants(YES, YES, NO),
        CollaboratorsUpdateRole => grants(YES, YES, NO),
        CollaboratorsRemove => grants(YES, YES, NO),
        DeploymentsRead => grants(YES, YES, YES),
        DeploymentsCreate => grants(YES, YES, NO),
        DeploymentsRedeployDefault => grants(YES, YES, YES),
        DeploymentsResetCache => grants(YES, YES, YES),
        LogsRead => grants(YES, YES, YES),
        MetricsRead => grants(YES, YES, YES),
        EventsRead => grants(YES, YES, YES),
        VariablesListNames => grants(YES, YES, YES),
        VariablesReadValues => grants(YES, YES, NO),
        VariablesWrite => grants(YES, YES, NO),
        AddonsRead => grants(YES, YES, NO),
        AddonsManage => grants(YES, YES, NO),
        DatabasesAccess => grants(YES, YES, NO),
        ReviewAppsConfigure => grants(YES, YES, NO),
        ReviewAppsList => grants(YES, YES, YES),
        AppStop => grants(YES, YES, NO),
        AppChangeStack => grants(YES, YES, NO),
        AppCreateChild => grants(YES, YES, NO),
        AutoscalersManage => grants(YES, YES, NO),
        SupportGrantDataAccess => grants(YES, YES, YES),
        LogDrainsManage => grants(YES, YES, NO),
        LogsDownloadArchives => grants(YES, YES, NO),
        ScmConfigure => grants(YES, YES, NO),
        DeploymentsManageAuto => grants(YES, YES, NO),
        OneOffsList => grants(YES, YES, YES),
        OneOffsCreate => grants(YES, YES, NO),
        OneOffsAttach => grants(YES, YES, NO),
        CronJobsList => grants(YES, YES, YES),
        ReviewAppsCreate => grants(YES, YES, NO),
        ReviewAppsClose => grants(YES, YES, YES),
        ReviewAppsRedeploy => grants(YES, YES, YES),
        AppRequireTfa => grants(YES, NO, NO),
        // Add-on dashboards and database operations (issue 13).
        AddonsOpenDashboard => grants(YES, YES, NO),
        DatabasesOpenDashboard => grants(YES, YES, NO),
        DatabasesCreateBackup => grants(YES, YES, NO),
        DatabasesScheduleBackups => grants(YES, YES, NO),
        DatabasesDownloadBackups => grants(YES, YES, NO),
        DatabasesRestoreBackup => grants(YES, YES, NO),
        DatabasesRestorePitr => grants(YES, YES, NO),
        DatabasesReadLogs => grants(YES, YES, NO),
        DatabasesReadMetrics => grants(YES, YES, NO),
        DatabasesManageInternetAccess => grants(YES, YES, NO),
        DatabasesConfigure => grants(YES, YES, NO),
        DatabasesManageUsers => grants(YES, YES, NO),
        DatabasesManageMaintenance => grants(YES, YES, NO),
        DatabasesUpgradeMinor => grants(YES, YES, NO),
        DatabasesUpgradeMajor => grants(YES, YES, NO),
    }
}

const fn held_by(role: Role, row: &Row) -> bool {
    match role {
        Role::Owner => row.owner,
        Role::Collaborator => row.collaborator,
        Role::LimitedCollaborator => row.limited_collaborator,
    }
}

const fn compile(role: Role) -> PermissionSet {
    let mut bits = 0;
    let mut i = 0;
    while i < Permission::ALL.len() {
        let permission = Permission::ALL[i];
        if held_by(role, &row(permission)) {
            bits |= permission.bit();
        }
        i += 1;
    }
    PermissionSet(bits)
}

const OWNER: PermissionSet = compile(Role::Owner);
const COLLABORATOR: PermissionSet = compile(Role::Collaborator);
const LIMITED_COLLABORATOR: PermissionSet = compile(Role::LimitedCollaborator);

// The bitset has room for every permission (the whole matrix is about 60), with room to spare.
const _: () = assert!(Permission::ALL.len() <= u128::BITS as usize);

/// A set of permissions, as a bitset: a check is one `AND`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PermissionSet(u128);

impl PermissionSet {
    /// Every permission in the matrix.
    pub const ALL: PermissionSet = PermissionSet(u128::MAX >> (128 - Permission::ALL.len()));

    /// Whether `permission` is in the set.
    #[inline]
    pub const fn contains(self, permission: Permission) -> bool {
        self.0 & permission.bit() != 0
    }

    /// The permissions in both sets.
    pub const fn intersect(self, other: PermissionSet) -> PermissionSet {
        PermissionSet(self.0 & other.0)
    }

    /// The permissions in matrix order.
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL.iter().copied().filter(move |p| self.contains(*p))
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        PermissionSet(iter.into_iter().fold(0, |bits, p| bits | p.bit()))
    }
}

impl Serialize for PermissionSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl utoipa::PartialSchema for PermissionSet {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ArrayBuilder::new()
            .items(utoipa::openapi::Ref::from_schema_name("Permission"))
            .unique_items(true)
            .description(Some("Permissions, in matrix order."))
            .into()
    }
}

impl utoipa::ToSchema for PermissionSet {
    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        schemas.push(("Permission".into(), <Permission as utoipa::PartialSchema>::schema()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(*p));
        }
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Permission::parse("app.nope"), None);
    }

    #[test]
    fn owner_holds_everything_and_roles_nest() {
        assert_eq!(Role::Owner.permissions(), PermissionSet::ALL);
        for p in Permission::ALL {
            if Role::LimitedCollaborator.can(*p) {
                assert!(Role::Collaborator.can(*p), "{p}");
            }
        }
    }

    #[test]
    fn granting_never_goes_up_or_to_owner() {
        assert!(Role::Owner.can_grant(Role::Collaborator));
        assert!(Role::Collaborator.can_grant(Role::Collaborator));
        assert!(Role::Collaborator.can_grant(Role::LimitedCollaborator));
        assert!(!Role::LimitedCollaborator.can_grant(Role::Collaborator));
        assert!(!Role::Owner.can_grant(Role::Owner));
    }
}
