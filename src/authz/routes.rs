//! The one table that says what every route needs. The router is checked against it on
//! every request: a route that is not listed here is refused (deny by default).

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::LazyLock;

use axum::http::Method;

use super::{Permission, Role};
use crate::api::Declared;
use crate::api::autoscalers::Autoscaler;
use crate::api::cron_jobs::CronJob;
use crate::api::databases::{BackupSchedule, InternetAccess, MaintenanceWindow};
use crate::api::deployments::ResetCache;
use crate::api::lifecycle::{Start, Stop};
use crate::api::log_archives::LogArchive;
use crate::api::log_drains::LogDrain;
use crate::api::one_offs::OneOff;
use crate::api::operations::Restart;
use crate::api::records::{self, AppRecord};
use crate::api::requests::{self, PlatformRequest};
use crate::api::review_apps::{ReviewApp, ReviewAppSettings};
use crate::api::settings::{self, AppSetting};

/// An HTTP method, as a `Copy` value a `static` table can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
}

impl Verb {
    /// The method's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Put => "PUT",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
        }
    }

    /// The matching HTTP method.
    pub fn method(self) -> Method {
        match self {
            Verb::Get => Method::GET,
            Verb::Post => Method::POST,
            Verb::Put => Method::PUT,
            Verb::Patch => Method::PATCH,
            Verb::Delete => Method::DELETE,
        }
    }

    fn from_method(method: &Method) -> Option<Verb> {
        Some(match *method {
            // HEAD is GET without the body (load balancers probe /healthz with it).
            Method::GET | Method::HEAD => Verb::Get,
            Method::POST => Verb::Post,
            Method::PUT => Verb::Put,
            Method::PATCH => Verb::Patch,
            Method::DELETE => Verb::Delete,
            _ => return None,
        })
    }
}

/// What a caller needs to reach a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health checks, sign-up).
    Public,
    /// HTTP Basic credentials, checked by the handler (`email:password` or `:api-token`).
    Basic,
    /// Any authenticated user (bearer JWT or API token) whose token is not scoped.
    User,
    /// Any authenticated user, scoped tokens included (read-only views of oneself).
    AnyToken,
    /// A member of `{app}` whose role holds the permission.
    App(Permission),
    /// The platform, with `Authorization: Bearer <ROLEGATE_PLATFORM_TOKEN>`.
    Platform,
    /// A member of `{app}` whose role holds the permission, or any member acting on their
    /// own membership (leaving). The handler decides which once it knows the target.
    AppOrSelf(Permission),
}

impl Access {
    /// The permission the route declares, if it is an app route.
    pub const fn permission(self) -> Option<Permission> {
        match self {
            Access::App(p) | Access::AppOrSelf(p) => Some(p),
            Access::Public | Access::Basic | Access::User | Access::AnyToken | Access::Platform => None,
        }
    }
}

/// One route of the public API.
#[derive(Clone, Copy, Debug)]
pub struct RouteSpec {
    /// Method.
    pub verb: Verb,
    /// The axum path pattern, exactly as registered in the router.
    pub path: &'static str,
    /// What the caller needs.
    pub access: Access,
    /// One line for the docs.
    pub summary: &'static str,
    /// For a route declared by a type (a platform request, a setting): its generic handler
    /// and OpenAPI operation.
    pub declared: Option<Declared>,
}

const fn route(verb: Verb, path: &'static str, access: Access, summary: &'static str) -> RouteSpec {
    RouteSpec {
        verb,
        path,
        access,
        summary,
        declared: None,
    }
}

/// A platform request `R` (see [`crate::api::requests`]): the route, its handler and its
/// OpenAPI operation in one line.
const fn request<R: PlatformRequest>(
    verb: Verb,
    path: &'static str,
    permission: Permission,
    summary: &'static str,
) -> RouteSpec {
    RouteSpec {
        verb,
        path,
        access: Access::App(permission),
        summary,
        declared: Some(requests::declare::<R>()),
    }
}

use Access::*;
use Permission::*;
use Verb::*;

/// A setting `S` (see [`crate::api::settings`]): read at `path` with `permission`.
const fn read_setting<S: AppSetting>(path: &'static str, permission: Permission, summary: &'static str) -> RouteSpec {
    RouteSpec {
        verb: Verb::Get,
        path,
        access: Access::App(permission),
        summary,
        declared: Some(settings::declare_read::<S>()),
    }
}

/// A setting `S` (see [`crate::api::settings`]): replaced at `path` with `permission`.
const fn write_setting<S: AppSetting>(path: &'static str, permission: Permission, summary: &'static str) -> RouteSpec {
    RouteSpec {
        verb: Verb::Put,
        path,
        access: Access::App(permission),
        summary,
        declared: Some(settings::declare_write::<S>()),
    }
}

/// A setting `S` of one add-on (see [`crate::api::settings`]): read at `path` (with `{id}`).
const fn read_addon_setting<S: AppSetting>(
    path: &'static str,
    permission: Permission,
    summary: &'static str,
) -> RouteSpec {
    RouteSpec {
        verb: Verb::Get,
        path,
        access: Access::App(permission),
        summary,
        declared: Some(settings::declare_addon_read::<S>()),
    }
}

/// A setting `S` of one add-on: replaced at `path` (with `{id}`).
const fn write_addon_setting<S: AppSetting>(
    path: &'static str,
    permission: Permission,
    summary: &'static str,
) -> RouteSpec {
    RouteSpec {
        verb: Verb::Put,
        path,
        access: Access::App(permission),
        summary,
        declared: Some(settings::declare_addon_write::<S>()),
    }
}

/// A record `R` (see [`crate::api::records`]): one of its operations at `path` with
/// `permission`, chosen by `declared`.
const fn record(
    verb: Verb,
    path: &'static str,
    permission: Permission,
    summary: &'static str,
    declared: Declared,
) -> RouteSpec {
    RouteSpec {
        verb,
        path,
        access: Access::App(permission),
        summary,
        declared: Some(declared),
    }
}

/// The records `R` of an app, listed at `path` (`GET`).
const fn list_records<R: AppRecord>(path: &'static str, permission: Permission, summary: &'static str) -> RouteSpec {
    record(Verb::Get, path, permission, summary, records::declare_list::<R>())
}

/// A record `R` created at `path` (`POST`).
const fn create_record<R: AppRecord>(path: &'static str, permission: Permission, summary: &'static str) -> RouteSpec {
    record(Verb::Post, path, permission, summary, records::declare_create::<R>())
}

/// A record `R` changed at `path` (`PATCH …/{id}`).
const fn change_record<R: AppRecord>(path: &'static str, permission: Permission, summary: &'static str) -> RouteSpec {
    record(Verb::Patch, path, permission, summary, records::declare_change::<R>())
}

/// A record `R` removed at `path` (`DELETE …/{id}`).
const fn remove_record<R: AppRecord>(path: &'static str, permission: Permission, summary: &'static str) -> RouteSpec {
    record(Verb::Delete, path, permission, summary, records::declare_remove::<R>())
}

/// Every route of the service and what it needs.
#[rustfmt::skip]
pub static ROUTES: &[RouteSpec] = &[
    route(Get, "/healthz", Public, "Liveness: the process is up."),
    route(Get, "/readyz", Public, "Readiness: the store is reachable."),
    route(Get, "/v1/openapi.json", Public, "This API's OpenAPI 3.1 document."),
    route(Post, "/v1/users", Public, "Sign up."),
    route(Post, "/v1/users/verify-email", Public, "Verify an address with the link of the verification mail."),
    route(Post, "/v1/users/password-reset", Public, "Mail a link to set a new password."),
    route(Post, "/v1/users/password-reset/confirm", Public, "Set a new password with a reset link."),
    route(Get, "/v1/users/self", AnyToken, "The caller."),
    route(Get, "/v1/users/self/access", AnyToken, "Every app the caller can reach, with effective permissions."),
    route(Post, "/v1/users/self/verify-email/resend", User, "Send a new verification link."),
    route(Put, "/v1/users/self/password", User, "Change the password."),
    route(Get, "/v1/users/self/security-events", User, "The caller's own security history."),
    route(Post, "/v1/users/self/tfa", User, "Start enrolling in two-factor authentication (TOTP)."),
    route(Post, "/v1/users/self/tfa/confirm", User, "Turn two-factor authentication on with a code; answers recovery codes."),
    route(Delete, "/v1/users/self/tfa", User, "Turn two-factor authentication off (with a code or a recovery code)."),
    route(Post, "/v1/users/self/tfa/recovery-codes", User, "Replace the recovery codes (with a code or a recovery code)."),
    route(Get, "/v1/users/self/invitations", User, "Pending invitations addressed to the caller."),
    route(Post, "/v1/users/self/invitations/{id}/accept", User, "Accept an invitation by id."),
    route(Post, "/v1/users/self/invitations/{id}/decline", User, "Decline an invitation by id."),
    route(Post, "/v1/tokens", Basic, "Create an API token (Basic email:password)."),
    route(Get, "/v1/tokens", User, "List the caller's API tokens."),
    route(Delete, "/v1/tokens", User, "Revoke every API token of the caller (sign out everywhere)."),
    route(Delete, "/v1/tokens/{id}", User, "Revoke an API token."),
    route(Post, "/v1/tokens/exchange", Basic, "Exchange an API token (Basic :token) for a JWT."),
    route(Get, "/v1/roles", AnyToken, "Every role with its permissions."),
    route(Get, "/v1/roles/{role}", AnyToken, "One role with its permissions."),
    route(Post, "/v1/access/check", AnyToken, "Ask whether users may exercise permissions on apps."),
    route(Get, "/v1/access-review", User, "Members of the caller's apps with review findings (JSON or CSV)."),
    route(Post, "/v1/access-review/apply", User, "Apply several remediations in one transaction."),
    route(Get, "/v1/events", User, "Events of every app the caller owns (JSON or NDJSON)."),
    route(Post, "/v1/invitations/accept", User, "Accept an invitation by token."),
    route(Post, "/v1/invitations/decline", User, "Decline an invitation by token."),
    route(Post, "/v1/apps", User, "Create an app; the caller becomes its owner."),
    route(Get, "/v1/apps", AnyToken, "Apps where the caller has a role."),
    route(Get, "/v1/apps/{app}", App(AppRead), "The app."),
    route(Patch, "/v1/apps/{app}", App(AppUpdate), "Change the app's settings."),
    route(Delete, "/v1/apps/{app}", App(AppDelete), "Delete the app."),
    route(Post, "/v1/apps/{app}/rename", App(AppRename), "Rename the app."),
    route(Post, "/v1/apps/{app}/transfer", App(AppTransfer), "Make another member the owner."),
    route(Put, "/v1/apps/{app}/security", App(AppRequireTfa), "Require two-factor authentication of every member, or stop."),
    request::<Stop>(Post, "/v1/apps/{app}/stop", AppStop, "Stop the app's containers."),
    request::<Start>(Post, "/v1/apps/{app}/start", AppStop, "Start a stopped app again."),
    route(Put, "/v1/apps/{app}/stack", App(AppChangeStack), "Change the app's stack."),
    route(Post, "/v1/apps/{app}/children", App(AppCreateChild), "Create a child app from this one."),
    route(Get, "/v1/apps/{app}/children", App(AppRead), "The apps created from this one."),
    route(Get, "/v1/apps/{app}/support-access", App(AppRead), "Whether support may reach the app's data, by whose grant, until when."),
    route(Post, "/v1/apps/{app}/support-access", App(SupportGrantDataAccess), "Let support reach the app's data for some hours."),
    route(Delete, "/v1/apps/{app}/support-access", App(SupportGrantDataAccess), "End support's access now."),
    route(Get, "/v1/apps/{app}/scm-link", App(AppRead), "The app's link to its repository."),
    route(Put, "/v1/apps/{app}/scm-link", App(ScmConfigure), "Link the app to a repository, or change the link."),
    route(Delete, "/v1/apps/{app}/scm-link", App(ScmConfigure), "Remove the link."),
    route(Put, "/v1/apps/{app}/scm-link/auto-deploy", App(DeploymentsManageAuto), "Turn automatic deployments on or off."),
    route(Get, "/v1/apps/{app}/permissions", App(AppRead), "The caller's role and permissions on the app."),
    route(Get, "/v1/apps/{app}/events", App(EventsRead), "The app's activity timeline."),
    route(Get, "/v1/apps/{app}/collaborators", App(CollaboratorsRead), "Members of the app."),
    route(Patch, "/v1/apps/{app}/collaborators/{id}", App(CollaboratorsUpdateRole), "Change a member's role."),
    route(Delete, "/v1/apps/{app}/collaborators/{id}", AppOrSelf(CollaboratorsRemove), "Remove a member, or leave."),
    route(Post, "/v1/apps/{app}/invitations", App(CollaboratorsInvite), "Invite someone by email."),
    route(Get, "/v1/apps/{app}/invitations", App(CollaboratorsRead), "Pending and past invitations."),
    route(Delete, "/v1/apps/{app}/invitations/{id}", App(CollaboratorsInvite), "Revoke an invitation."),
    route(Get, "/v1/apps/{app}/variables", App(VariablesListNames), "Variables; values only with variables.read_values."),
    route(Put, "/v1/apps/{app}/variables", App(VariablesWrite), "Set several variables in one transaction."),
    route(Get, "/v1/apps/{app}/variables/{name}", App(VariablesReadValues), "One variable with its value."),
    route(Put, "/v1/apps/{app}/variables/{name}", App(VariablesWrite), "Create or replace one variable."),
    route(Delete, "/v1/apps/{app}/variables/{name}", App(VariablesWrite), "Delete one variable."),
    route(Get, "/v1/apps/{app}/deployments", App(DeploymentsRead), "Deployments, newest first."),
    route(Post, "/v1/apps/{app}/deployments", App(DeploymentsCreate), "Deploy any branch, tag or commit."),
    route(Post, "/v1/apps/{app}/deployments/redeploy", App(DeploymentsRedeployDefault), "Redeploy the default branch."),
    route(Get, "/v1/apps/{app}/deployments/{id}", App(DeploymentsRead), "One deployment."),
    route(Get, "/v1/apps/{app}/deployments/{id}/output", App(DeploymentsRead), "A deployment's build output."),
    request::<ResetCache>(Delete, "/v1/apps/{app}/caches/deployment", DeploymentsResetCache, "Reset the build cache."),
    request::<Restart>(Post, "/v1/apps/{app}/restart", AppRestart, "Restart the app."),
    route(Post, "/v1/apps/{app}/scale", App(AppScale), "Change the formation."),
    route(Get, "/v1/apps/{app}/logs", App(LogsRead), "Recent log lines."),
    route(Get, "/v1/apps/{app}/metrics", App(MetricsRead), "A metric's time series."),
    route(Get, "/v1/apps/{app}/addons", App(AddonsRead), "Add-ons."),
    route(Post, "/v1/apps/{app}/addons", App(AddonsManage), "Provision an add-on."),
    route(Patch, "/v1/apps/{app}/addons/{id}", App(AddonsManage), "Change an add-on's plan."),
    route(Delete, "/v1/apps/{app}/addons/{id}", App(AddonsManage), "Remove an add-on."),
    route(Get, "/v1/apps/{app}/addons/{id}/credentials", App(DatabasesAccess), "An add-on's connection URL and user."),
    read_setting::<ReviewAppSettings>("/v1/apps/{app}/review-apps/settings", ReviewAppsList, "The review-app settings."),
    write_setting::<ReviewAppSettings>("/v1/apps/{app}/review-apps/settings", ReviewAppsConfigure, "Change the review-app settings."),
    list_records::<Autoscaler>("/v1/apps/{app}/autoscalers", AppRead, "Autoscalers."),
    create_record::<Autoscaler>("/v1/apps/{app}/autoscalers", AutoscalersManage, "Create an autoscaler."),
    change_record::<Autoscaler>("/v1/apps/{app}/autoscalers/{id}", AutoscalersManage, "Change an autoscaler."),
    remove_record::<Autoscaler>("/v1/apps/{app}/autoscalers/{id}", AutoscalersManage, "Remove an autoscaler."),
    list_records::<LogDrain>("/v1/apps/{app}/log-drains", LogDrainsManage, "Log drains (URLs with passwords hidden)."),
    create_record::<LogDrain>("/v1/apps/{app}/log-drains", LogDrainsManage, "Add a log drain."),
    remove_record::<LogDrain>("/v1/apps/{app}/log-drains/{id}", LogDrainsManage, "Remove a log drain."),
    list_records::<OneOff>("/v1/apps/{app}/one-offs", OneOffsList, "One-off containers."),
    create_record::<OneOff>("/v1/apps/{app}/one-offs", OneOffsCreate, "Run a one-off container."),
    route(Post, "/v1/apps/{app}/one-offs/{id}/attach", App(OneOffsAttach), "A single-use credential to attach to a one-off."),
    route(Post, "/internal/v1/one-offs/attach/verify", Platform, "Use up an attach credential, if it holds."),
    route(Post, "/internal/v1/one-offs/{id}/status", Platform, "Report where a one-off stands."),
    list_records::<CronJob>("/v1/apps/{app}/cron-jobs", CronJobsList, "The app's scheduled jobs."),
    route(Put, "/internal/v1/apps/{app}/cron-jobs", Platform, "Replace an app's cron table."),
    list_records::<LogArchive>("/v1/apps/{app}/logs/archives", LogsDownloadArchives, "Log archives."),
    route(Get, "/v1/apps/{app}/logs/archives/{id}", App(LogsDownloadArchives), "One log archive with its download URL."),
    route(Post, "/internal/v1/apps/{app}/logs/archives", Platform, "Report a new log archive."),
    route(Get, "/internal/v1/apps/{app}/log-drains", Platform, "An app's log drains with their full URLs."),
    route(Get, "/internal/v1/apps/{app}/support-access", Platform, "Whether support may reach an app's data now."),
    list_records::<ReviewApp>("/v1/apps/{app}/review-apps", ReviewAppsList, "Open review apps."),
    create_record::<ReviewApp>("/v1/apps/{app}/review-apps", ReviewAppsCreate, "Create a review app from a pull request."),
    remove_record::<ReviewApp>("/v1/apps/{app}/review-apps/{id}", ReviewAppsClose, "Close (destroy) a review app."),
    route(Post, "/v1/apps/{app}/review-apps/{id}/redeploy", App(ReviewAppsRedeploy), "Redeploy a review app."),
    route(Post, "/internal/v1/apps/{app}/review-apps", Platform, "Report a pull request; rolegate decides whether it gets a review app."),
    route(Get, "/internal/v1/orders", Platform, "Orders not yet delivered."),
    route(Post, "/internal/v1/orders/{id}/ack", Platform, "Mark an order done (for a platform that polls)."),
    route(Post, "/internal/v1/deployments/{id}/status", Platform, "Report a deployment's status and output."),
    route(Post, "/internal/v1/apps/{app}/logs", Platform, "Append log lines."),
    route(Post, "/internal/v1/apps/{app}/metrics", Platform, "Append metric samples."),
    route(Post, "/internal/v1/addons/{id}/provisioned", Platform, "Report an add-on ready, with its credentials."),
    route(Post, "/internal/v1/requests/{id}/status", Platform, "Report where a request stands, by its order id."),
    // Add-on dashboards and database operations (issue 13).
    route(Post, "/v1/apps/{app}/addons/{id}/dashboard", App(AddonsOpenDashboard), "A single-use link to the add-on's dashboard."),
    route(Post, "/v1/apps/{app}/addons/{id}/database/dashboard", App(DatabasesOpenDashboard), "A single-use link to the database's dashboard."),
    route(Get, "/v1/apps/{app}/addons/{id}/database/backups", App(DatabasesDownloadBackups), "The database's backups."),
    route(Post, "/v1/apps/{app}/addons/{id}/database/backups", App(DatabasesCreateBackup), "Take a backup now."),
    route(Post, "/v1/apps/{app}/addons/{id}/database/backups/{backup_id}/download", App(DatabasesDownloadBackups), "A single-use link to download a backup."),
    route(Post, "/v1/apps/{app}/addons/{id}/database/backups/{backup_id}/restore", App(DatabasesRestoreBackup), "Restore a backup over the database."),
    read_addon_setting::<BackupSchedule>("/v1/apps/{app}/addons/{id}/database/backup-schedule", DatabasesScheduleBackups, "The scheduled backups."),
    write_addon_setting::<BackupSchedule>("/v1/apps/{app}/addons/{id}/database/backup-schedule", DatabasesScheduleBackups, "Change the scheduled backups."),
    route(Post, "/v1/apps/{app}/addons/{id}/database/pitr-restore", App(DatabasesRestorePitr), "Restore the database to a point in time."),
    route(Get, "/v1/apps/{app}/addons/{id}/database/logs", App(DatabasesReadLogs), "The database's recent log lines."),
    route(Get, "/v1/apps/{app}/addons/{id}/database/metrics", App(DatabasesReadMetrics), "A time series of the database."),
    read_addon_setting::<InternetAccess>("/v1/apps/{app}/addons/{id}/database/internet-access", DatabasesManageInternetAccess, "Whether the database is reachable from the internet, and from where."),
    write_addon_setting::<InternetAccess>("/v1/apps/{app}/addons/{id}/database/internet-access", DatabasesManageInternetAccess, "Open or close the database to the internet."),
    route(Get, "/v1/apps/{app}/addons/{id}/database/config", App(DatabasesConfigure), "The database's configuration."),
    route(Patch, "/v1/apps/{app}/addons/{id}/database/config", App(DatabasesConfigure), "Change some of the database's configuration."),
    route(Get, "/v1/apps/{app}/addons/{id}/database/users", App(DatabasesManageUsers), "The database's users (never their passwords)."),
    route(Post, "/v1/apps/{app}/addons/{id}/database/users", App(DatabasesManageUsers), "Create a database user; its password is shown once."),
    route(Delete, "/v1/apps/{app}/addons/{id}/database/users/{name}", App(DatabasesManageUsers), "Delete a database user."),
    read_addon_setting::<MaintenanceWindow>("/v1/apps/{app}/addons/{id}/database/maintenance-window", DatabasesManageMaintenance, "The maintenance window."),
    write_addon_setting::<MaintenanceWindow>("/v1/apps/{app}/addons/{id}/database/maintenance-window", DatabasesManageMaintenance, "Change the maintenance window."),
    route(Post, "/v1/apps/{app}/addons/{id}/database/upgrades/minor", App(DatabasesUpgradeMinor), "Start a minor version upgrade."),
    route(Post, "/v1/apps/{app}/addons/{id}/database/upgrades/major", App(DatabasesUpgradeMajor), "Start a major version upgrade."),
    route(Post, "/internal/v1/dashboard-links/verify", Platform, "Use up a dashboard or backup-download link, if it holds."),
    route(Post, "/internal/v1/addons/{id}/database/backups", Platform, "Report a backup of a database."),
    route(Post, "/internal/v1/addons/{id}/database/logs", Platform, "Append a database's log lines."),
    route(Post, "/internal/v1/addons/{id}/database/metrics", Platform, "Append a database's metric samples."),
    route(Get, "/internal/v1/addons/{id}/database/users", Platform, "A database's users with their passwords."),
];

/// Whether a member the app's two-factor rule refuses may still call the route: reading the
/// app and their own permissions there (which say why they are refused), and leaving it
/// (`AppOrSelf`; its handler refuses acting on anyone else). Every other app route answers
/// `403 tfa-required-by-app`.
pub fn open_without_tfa(spec: &RouteSpec) -> bool {
    matches!(
        (spec.verb, spec.path, spec.access),
        (Get, "/v1/apps/{app}", _) | (Get, "/v1/apps/{app}/permissions", _) | (_, _, AppOrSelf(_))
    )
}

static BY_ROUTE: LazyLock<HashMap<(Verb, &'static str), &'static RouteSpec>> =
    LazyLock::new(|| ROUTES.iter().map(|r| ((r.verb, r.path), r)).collect());

/// The declared access of the route a request matched, or `None` when the route is not
/// in the table (and must therefore be refused).
pub fn lookup(method: &Method, matched_path: &str) -> Option<&'static RouteSpec> {
    let verb = Verb::from_method(method)?;
    BY_ROUTE.get(&(verb, matched_path)).copied()
}

/// Renders `docs/permissions.md` from the matrix and the route table.
pub fn permissions_markdown() -> String {
    let mut out = String::new();
    out.push_str("# Permissions\n\n");
    out.push_str(
        "<!-- Generated from src/authz/mod.rs and src/authz/routes.rs by \
         `cargo run -- permissions-doc > docs/permissions.md`. Do not edit by hand: \
         a test fails when this file is stale. -->\n\n",
    );
    out.push_str("## The matrix\n\n| permission |");
    for role in Role::ALL {
        let _ = write!(out, " {role} |");
    }
    out.push_str(" what it allows |\n|---|");
    for _ in Role::ALL {
        out.push_str("---|");
    }
    out.push_str("---|\n");
    for permission in Permission::ALL {
        let _ = write!(out, "| `{permission}` |");
        for role in Role::ALL {
            out.push_str(if role.can(*permission) { " yes |" } else { " no |" });
        }
        let _ = writeln!(out, " {} |", permission.description());
    }

    out.push_str("\n## Routes under each permission\n\n");
    out.push_str(
        "A caller who is not a member of the app gets `404` (the same body whether or not \
         the app exists); a member whose role lacks the permission gets `403`.\n\n",
    );
    for permission in Permission::ALL {
        let _ = writeln!(out, "### `{permission}`\n");
        let routes: Vec<_> = ROUTES
            .iter()
            .filter(|r| r.access.permission() == Some(*permission))
            .collect();

        for r in routes {
            let note = if matches!(r.access, AppOrSelf(_)) {
                " (any member may do this to their own membership)"
            } else {
                ""
            };
            let _ = writeln!(out, "- `{} {}`: {}{note}", r.verb.as_str(), r.path, r.summary);
        }
        out.push('\n');
    }

    out.push_str("## Routes outside an app\n\n| route | access | what it does |\n|---|---|---|\n");
    for r in ROUTES {
        let access = match r.access {
            Public => "public",
            Basic => "HTTP Basic",
            User => "any signed-in user (unscoped token)",
            AnyToken => "any signed-in user",
            Platform => "the platform token",
            App(_) | AppOrSelf(_) => continue,
        };
        let _ = writeln!(out, "| `{} {}` | {access} | {} |", r.verb.as_str(), r.path, r.summary);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_no_duplicates() {
        assert_eq!(BY_ROUTE.len(), ROUTES.len());
    }

    #[test]
    fn every_permission_guards_a_route() {
        for p in Permission::ALL {
            assert!(
                ROUTES.iter().any(|r| r.access.permission() == Some(*p)),
                "{p} guards no route"
            );
        }
    }

    #[test]
    fn every_app_route_declares_a_permission() {
        for r in ROUTES {
            assert_eq!(
                r.path.starts_with("/v1/apps/{app}"),
                r.access.permission().is_some(),
                "{r:?}"
            );
        }
    }
}
