//! Every order kind and event type, declared once with what its `data` holds.
//!
//! Orders are what rolegate asks of the outside world (the platform's webhook today), events
//! are the app's timeline. Both are stored as their wire names; the store takes only these
//! enums, so a kind cannot be misspelt at one call site, and `docs/platform.md`'s order table
//! and `docs/api.md`'s event table are generated from here (a test fails when stale).

use std::fmt::Write;

/// Which dispatcher delivers an outbox row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    /// Signed JSON POSTs to the platform's webhook, also listed by `GET /internal/v1/orders`.
    Platform,
    /// Mail over SMTP; never shown to the platform.
    Mail,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 2] = [Channel::Platform, Channel::Mail];

    /// The name stored in the outbox's `channel` column.
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Platform => "platform",
            Channel::Mail => "mail",
        }
    }

    /// The channel stored as `name`.
    pub fn parse(name: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

macro_rules! order_kinds {
    ($($variant:ident => $name:literal, asked_by: $asked:literal, data: $data:literal, does: $does:literal;)*) => {
        /// An order for the platform. The set is closed.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum OrderKind {
            $(#[doc = $does] $variant,)*
        }

        impl OrderKind {
            /// Every order kind, in the order of the docs.
            pub const ALL: &'static [OrderKind] = &[$(OrderKind::$variant,)*];

            /// The wire name (`type` of the order).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(OrderKind::$variant => $name,)*
                }
            }

            /// The routes that queue it.
            pub const fn asked_by(self) -> &'static str {
                match self {
                    $(OrderKind::$variant => $asked,)*
                }
            }

            /// What its `data` holds.
            pub const fn data(self) -> &'static str {
                match self {
                    $(OrderKind::$variant => $data,)*
                }
            }

            /// What the platform does with it.
            pub const fn does(self) -> &'static str {
                match self {
                    $(OrderKind::$variant => $does,)*
                }
            }
        }
    };
}

macro_rules! event_kinds {
    ($(#[$doc:meta])* $kind:ident { $($variant:ident => $name:literal: $data:literal;)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $kind {
            $(#[doc = $data] $variant,)*
        }

        impl $kind {
            /// Every type, in the order of the docs.
            pub const ALL: &'static [$kind] = &[$($kind::$variant,)*];

            /// The wire name (`type` of the event).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($kind::$variant => $name,)*
                }
            }

            /// What its `data` holds.
            pub const fn data(self) -> &'static str {
                match self {
                    $($kind::$variant => $data,)*
                }
            }
        }
    };
}

order_kinds! {
    DeploymentCreate => "deployment.create",
        asked_by: "`POST /v1/apps/{app}/deployments`, `POST …/deployments/redeploy`",
        data: "`deployment_id`, `git_ref`, `kind` (`deploy` or `redeploy`), `requested_by` (`{id, email}`)",
        does: "Build and run `git_ref`; report progress to [`/internal/v1/deployments/{deployment_id}/status`](#post-internalv1deploymentsidstatus).";
    AppRestart => "app.restart",
        asked_by: "`POST /v1/apps/{app}/restart`",
        data: "`{}`",
        does: "Restart every container of the app; report progress to [`/internal/v1/requests/{order_id}/status`](#post-internalv1requestsidstatus).";
    AppScale => "app.scale",
        asked_by: "`POST /v1/apps/{app}/scale`",
        data: "`containers` (the lines the member set), `formation` (the app's whole new formation: `containers` merged into the formation stored at that moment; concurrent scales are serialised, so two of different types both land)",
        does: "Run `formation`: for each `{type, amount, size}`, `amount` containers of `size`.";
    DeploymentResetCache => "deployment.reset_cache",
        asked_by: "`DELETE /v1/apps/{app}/caches/deployment`",
        data: "`{}`",
        does: "Drop the app's build cache; report progress to [`/internal/v1/requests/{order_id}/status`](#post-internalv1requestsidstatus).";
    AddonProvision => "addon.provision",
        asked_by: "`POST /v1/apps/{app}/addons`",
        data: "`addon_id`, `provider`, `plan`",
        does: "Create the add-on; report it with [`/internal/v1/addons/{addon_id}/provisioned`](#post-internalv1addonsidprovisioned).";
    AddonChangePlan => "addon.change_plan",
        asked_by: "`PATCH /v1/apps/{app}/addons/{id}`",
        data: "`addon_id`, `provider`, `from`, `to` (plans)",
        does: "Move the add-on to plan `to`; report it ready again with `/provisioned`.";
    AddonDeprovision => "addon.deprovision",
        asked_by: "`DELETE /v1/apps/{app}/addons/{id}`",
        data: "`addon_id`, `provider`",
        does: "Destroy the add-on (rolegate has already removed it).";
    AppRename => "app.rename",
        asked_by: "`POST /v1/apps/{app}/rename`",
        data: "`from`, `to` (names)",
        does: "Route the app under its new name. `app.name` of the order is `from`; `app.id` does not change.";
    AppDelete => "app.delete",
        asked_by: "`DELETE /v1/apps/{app}`",
        data: "`name`",
        does: "Tear the app down, its add-ons included: rolegate has already deleted the app with its add-ons, and sends no `addon.deprovision` for them.";
    AppStop => "app.stop",
        asked_by: "`POST /v1/apps/{app}/stop`",
        data: "`{}`",
        does: "Stop every container of the app (it stays, with its formation); report progress to [`/internal/v1/requests/{order_id}/status`](#post-internalv1requestsidstatus).";
    AppStart => "app.start",
        asked_by: "`POST /v1/apps/{app}/start`",
        data: "`{}`",
        does: "Start the stopped app's formation again; report progress to `/internal/v1/requests/{order_id}/status`.";
    AppChangeStack => "app.change_stack",
        asked_by: "`PUT /v1/apps/{app}/stack`",
        data: "`from`, `to` (stacks)",
        does: "Build the app on the new stack at its next deployment.";
    AutoscalerSet => "autoscaler.set",
        asked_by: "`POST /v1/apps/{app}/autoscalers`, `PATCH …/autoscalers/{id}`",
        data: "`autoscaler_id`, `container_type`, `metric`, `target`, `min_containers`, `max_containers`, `enabled`",
        does: "Scale `container_type` between `min_containers` and `max_containers` to keep `metric` near `target` (or stop doing so when `enabled` is false).";
    AutoscalerRemove => "autoscaler.remove",
        asked_by: "`DELETE /v1/apps/{app}/autoscalers/{id}`",
        data: "the autoscaler as it was",
        does: "Stop autoscaling `container_type`; its formation stays as it is.";
    LogDrainAdd => "log_drain.add",
        asked_by: "`POST /v1/apps/{app}/log-drains`",
        data: "`log_drain_id`, `url` (its credentials replaced by `***`: the password, a user name alone, every query value)",
        does: "Forward the app's logs to the drain; fetch its full URL from [`GET /internal/v1/apps/{app}/log-drains`](#get-internalv1appsapplog-drains).";
    LogDrainRemove => "log_drain.remove",
        asked_by: "`DELETE /v1/apps/{app}/log-drains/{id}`",
        data: "`log_drain_id`, `url` (redacted)",
        does: "Stop forwarding logs to the drain.";
    OneOffRun => "one_off.run",
        asked_by: "`POST /v1/apps/{app}/one-offs`",
        data: "`one_off_id`, `command`, `size`, `detached`",
        does: "Start a one-off container running `command`; report its status to [`/internal/v1/one-offs/{id}/status`](#post-internalv1one-offsidstatus).";
    ReviewAppCreate => "review_app.create",
        asked_by: "`POST /v1/apps/{app}/review-apps`, or a pull request the platform reported",
        data: "`review_app_id`, `pull_request`, `branch`, `via` (`api` or `scm`)",
        does: "Create and deploy a review app of the pull request's branch.";
    ReviewAppClose => "review_app.close",
        asked_by: "`DELETE /v1/apps/{app}/review-apps/{id}`",
        data: "the review app as it was",
        does: "Destroy the review app.";
    ReviewAppRedeploy => "review_app.redeploy",
        asked_by: "`POST /v1/apps/{app}/review-apps/{id}/redeploy`",
        data: "`review_app_id`, `pull_request`, `branch`",
        does: "Deploy the pull request's branch again on its review app.";
    DatabaseBackup => "database.backup",
        asked_by: "`POST /v1/apps/{app}/addons/{id}/database/backups`",
        data: "`addon_id`, `provider`, `backup_id`",
        does: "Take a backup of the database; report it with `POST /internal/v1/addons/{addon_id}/database/backups`, naming `backup_id`.";
    DatabaseRestore => "database.restore",
        asked_by: "`POST /v1/apps/{app}/addons/{id}/database/backups/{backup_id}/restore`",
        data: "`addon_id`, `provider`, `backup_id`",
        does: "Restore the backup over the database; report progress to [`/internal/v1/requests/{order_id}/status`](#post-internalv1requestsidstatus) (no other restore or upgrade of the database is taken until it is final).";
    DatabaseRestorePitr => "database.restore_pitr",
        asked_by: "`POST /v1/apps/{app}/addons/{id}/database/pitr-restore`",
        data: "`addon_id`, `provider`, `to` (RFC 3339)",
        does: "Restore the database as it was at `to`; report progress to `/internal/v1/requests/{order_id}/status`.";
    DatabaseUpgradeMinor => "database.upgrade_minor",
        asked_by: "`POST /v1/apps/{app}/addons/{id}/database/upgrades/minor`",
        data: "`addon_id`, `provider`",
        does: "Upgrade the database to the latest minor version; report progress to `/internal/v1/requests/{order_id}/status`.";
    DatabaseUpgradeMajor => "database.upgrade_major",
        asked_by: "`POST /v1/apps/{app}/addons/{id}/database/upgrades/major`",
        data: "`addon_id`, `provider`",
        does: "Upgrade the database to the next major version; report progress to `/internal/v1/requests/{order_id}/status`.";
    DatabaseBackupScheduleSet => "database.backup_schedule_set",
        asked_by: "`PUT /v1/apps/{app}/addons/{id}/database/backup-schedule`",
        data: "`addon_id`, `key` (`database_backup_schedule`), `value` (`{enabled, hour_utc, retention_days}`)",
        does: "Take a backup every day at `hour_utc` while `enabled`; drop backups older than `retention_days`.";
    DatabaseInternetAccessSet => "database.internet_access_set",
        asked_by: "`PUT /v1/apps/{app}/addons/{id}/database/internet-access`",
        data: "`addon_id`, `key` (`database_internet_access`), `value` (`{enabled, allowed_cidrs}`)",
        does: "Open the database to the internet from `allowed_cidrs` (any address when empty) while `enabled`; close it otherwise.";
    DatabaseConfigSet => "database.config_set",
        asked_by: "`PATCH /v1/apps/{app}/addons/{id}/database/config`",
        data: "`addon_id`, `key` (`database_config`), `value` (the whole configuration, name → string)",
        does: "Apply the configuration to the database.";
    DatabaseMaintenanceWindowSet => "database.maintenance_window_set",
        asked_by: "`PUT /v1/apps/{app}/addons/{id}/database/maintenance-window`",
        data: "`addon_id`, `key` (`database_maintenance_window`), `value` (`{weekday, hour_utc, duration_hours}`)",
        does: "Run the database's maintenance only in this window (`weekday` 0 is Sunday, hours in UTC).";
    DatabaseUserCreate => "database.user_create",
        asked_by: "`POST /v1/apps/{app}/addons/{id}/database/users`",
        data: "`addon_id`, `provider`, `database_user_id`, `name`, `read_only` (never the password)",
        does: "Create the user; fetch its password from `GET /internal/v1/addons/{addon_id}/database/users`.";
    DatabaseUserDelete => "database.user_delete",
        asked_by: "`DELETE /v1/apps/{app}/addons/{id}/database/users/{name}`",
        data: "`addon_id`, `provider`, `database_user_id`, `name`, `read_only`",
        does: "Drop the user.";
    MailVerifyEmail => "mail.verify_email",
        asked_by: "`POST /v1/users`, `POST /v1/users/self/verify-email/resend`",
        data: "`to`, `subject`, `sealed_text`",
        does: "(mail) A link that verifies the address: `ROLEGATE_PUBLIC_URL/verify-email#token=rgv_…`.";
    MailInvitation => "mail.invitation",
        asked_by: "`POST /v1/apps/{app}/invitations`",
        data: "`to`, `subject`, `sealed_text`",
        does: "(mail) The invitation link: `ROLEGATE_PUBLIC_URL/invitations/accept#token=rgi_…`.";
    MailPasswordReset => "mail.password_reset",
        asked_by: "`POST /v1/users/password-reset`",
        data: "`to`, `subject`, `sealed_text`",
        does: "(mail) A one-hour link to set a new password: `ROLEGATE_PUBLIC_URL/password-reset#token=rgr_…`.";
    MailAccountClaim => "mail.account_claim",
        asked_by: "`POST /v1/users` with the address of an unverified account",
        data: "`to`, `subject`, `sealed_text`",
        does: "(mail) A one-hour link that lets the owner of the address take the unverified account over by setting a password.";
    MailSecurityNotice => "mail.security_notice",
        asked_by: "password changes and resets, `DELETE /v1/tokens`, two-factor changes (`POST /v1/users/self/tfa/confirm`, `DELETE /v1/users/self/tfa`, `POST /v1/users/self/tfa/recovery-codes`) and sign-ins with a recovery code",
        data: "`to`, `subject`, `sealed_text`",
        does: "(mail) Tells the account's own address what changed.";
}

event_kinds! {
/// A type of event on an app's timeline. The set is closed.
EventKind {
    AppCreated => "app.created": "`name`, `default_branch`";
    AppUpdated => "app.updated": "`default_branch`: `{from, to}`";
    AppRenamed => "app.renamed": "`from`, `to`, `order_id` (the `app.rename` order)";
    AppTransferred => "app.transferred": "`from`, `to`: each `{id, email}`";
    AppDeleted => "app.deleted": "`name`, `order_id` (the `app.delete` order)";
    CollaboratorInvited => "collaborator.invited": "`invitation_id`, `email`, `role`, `access_expires_at` (`null` for permanent access)";
    CollaboratorInvitationRevoked => "collaborator.invitation_revoked": "`invitation_id`, `email`, `role`";
    CollaboratorAccepted => "collaborator.accepted": "`invitation_id`, `collaborator_id`, `user_id`, `email`, `role`";
    CollaboratorDeclined => "collaborator.declined": "`invitation_id`, `email`, `role`";
    CollaboratorRoleChanged => "collaborator.role_changed": "`collaborator_id`, `user_id`, `email`, `previous_role`, `role`; and `\"via\": \"access_review\"` when made by [`POST /v1/access-review/apply`](#post-v1access-reviewapply)";
    CollaboratorAccessExpiryChanged => "collaborator.access_expiry_changed": "`collaborator_id`, `user_id`, `email`, `previous_access_expires_at`, `access_expires_at` (either `null` for permanent access)";
    CollaboratorRemoved => "collaborator.removed": "`collaborator_id`, `user_id`, `email`, `role`; when made by [`POST /v1/access-review/apply`](#post-v1access-reviewapply): `previous_role` instead of `role`, and `\"via\": \"access_review\"`";
    CollaboratorLeft => "collaborator.left": "`collaborator_id`, `user_id`, `email`, `role`";
    CollaboratorExpired => "collaborator.expired": "`collaborator_id`, `user_id`, `email`, `role`, `access_expires_at`; `actor` is `null`: time-bound access ended and the membership was removed";
    VariableSet => "variable.set": "`name`; `value` only for callers holding `variables.read_values`, and only until the variable is removed (see [Values in the timeline](#values-in-the-timeline))";
    VariableRemoved => "variable.removed": "`name`";
    DeploymentRequested => "deployment.requested": "`deployment_id`, `git_ref`, `kind` (`deploy` or `redeploy`), `requested_by` (`{id, email}`), `order_id` (the `deployment.create` order)";
    DeploymentStatusChanged => "deployment.status_changed": "`deployment_id`, `from`, `to`; `actor` is `null` (the platform reported it)";
    DeploymentCacheResetRequested => "deployment.cache_reset_requested": "`order_id`";
    AppRestartRequested => "app.restart_requested": "`order_id`";
    AppScaleRequested => "app.scale_requested": "`containers` (as requested), `formation` (the result), `order_id`";
    RequestStatusChanged => "request.status_changed": "`order_id`, `type` (the order's type), `from`, `to` (`queued`, `running`, `done` or `failed`), `message` (the platform's, or `null`); `actor` is `null` (the platform reported it)";
    AddonProvisioned => "addon.provisioned": "`addon_id`, `provider`, `plan`, `order_id`: a member **asked** for the add-on (it is not running yet)";
    AddonReady => "addon.ready": "`addon_id`, `provider`, `plan`; `actor` is `null` (the platform reported it running)";
    AddonChanged => "addon.changed": "`addon_id`, `provider`, `from`, `to` (plans), `order_id`";
    AddonRemoved => "addon.removed": "`addon_id`, `provider`, `order_id`";
    AddonCredentialsRead => "addon.credentials_read": "`addon_id`, `provider`: who read the credentials, and when";
    AppStopRequested => "app.stop_requested": "`order_id`";
    AppStartRequested => "app.start_requested": "`order_id`";
    AppStackChanged => "app.stack_changed": "`from`, `to` (stacks), `order_id`";
    AppChildCreated => "app.child_created": "`child_id`, `child_name`, `members` (how many were copied), `variables` (how many were copied): on the parent's timeline";
    AppCreatedFromParent => "app.created_from_parent": "`parent_id`, `parent_name`, `members`, `variables`: on the child's timeline";
    AutoscalerCreated => "autoscaler.created": "`autoscaler_id`, `container_type`, `metric`, `target`, `min_containers`, `max_containers`, `enabled`, `order_id`";
    AutoscalerChanged => "autoscaler.changed": "the autoscaler's fields as they are now, `order_id`";
    AutoscalerRemoved => "autoscaler.removed": "the autoscaler's fields as they were, `order_id`";
    SupportAccessGranted => "support_access.granted": "`key` (`support_access`), `from`, `to`: the grant before and after (`{until, reason, granted_by, granted_at}`, or `null`)";
    SupportAccessRevoked => "support_access.revoked": "`key` (`support_access`), `from` (the grant revoked), `to` (`null`)";
    LogDrainAdded => "log_drain.added": "`log_drain_id`, `url` (its credentials replaced by `***`: the password, a user name alone, every query value), `order_id`";
    LogDrainRemoved => "log_drain.removed": "`log_drain_id`, `url` (redacted), `order_id`";
    LogArchiveAdded => "log_archive.added": "`log_archive_id`, `from`, `to`, `size_bytes`; `actor` is `null` (the platform reported it)";
    ScmLinked => "scm.linked": "`key` (`scm_link`), `from` (the previous link, or `null`), `to` (`{provider, repository, auto_deploy}`)";
    ScmUnlinked => "scm.unlinked": "`key` (`scm_link`), `from` (the link removed), `to` (`null`)";
    AutoDeployChanged => "scm.auto_deploy_changed": "`key` (`scm_link`), `from`, `to`: the link before and after, `auto_deploy` (`{enabled, branch}`) changed";
    OneOffRequested => "one_off.requested": "`one_off_id`, `command`, `size`, `detached`, `order_id`";
    OneOffStatusChanged => "one_off.status_changed": "`one_off_id`, `from`, `to` (`starting`, `running`, `exited`), `exit_code`; `actor` is `null`";
    OneOffAttached => "one_off.attach_granted": "`one_off_id`, `expires_at`: who was given an attach credential (never the credential)";
    CronJobsReplaced => "cron_jobs.replaced": "`count`: the platform reported the app's cron table; `actor` is `null`";
    ReviewAppRequested => "review_app.requested": "`review_app_id`, `pull_request`, `branch`, `via` (`api` or `scm`), `order_id`; via `scm`, `actor` is the pull request's author";
    ReviewAppClosed => "review_app.closed": "the review app as it was, `order_id`";
    ReviewAppRedeployRequested => "review_app.redeploy_requested": "`review_app_id`, `pull_request`, `branch`, `order_id`";
    ReviewAppSettingsChanged => "review_apps.settings_changed": "`key` (`review_apps`), `from`, `to` (the whole settings before and after)";
    AppSecurityChanged => "app.security_changed": "`require_tfa`: `{from, to}`; `locked_out`: the members (`{id, email}`) without two-factor authentication, whom the rule now refuses (empty when it is turned off)";
    AddonDashboardOpened => "addon.dashboard_opened": "`addon_id`, `provider`, `expires_at`: who was given a dashboard link (never the link)";
    DatabaseDashboardOpened => "database.dashboard_opened": "`addon_id`, `provider`, `expires_at`: who was given a database dashboard link (never the link)";
    DatabaseBackupRequested => "database.backup_requested": "`addon_id`, `provider`, `backup_id`, `order_id`";
    DatabaseBackupReported => "database.backup_reported": "`addon_id`, `backup_id`, `from` (`null` for a backup the platform took on its own), `to` (`pending`, `running`, `done`, `error`), `size_bytes`; `actor` is `null`";
    DatabaseBackupDownloadGranted => "database.backup_download_granted": "`addon_id`, `backup_id`, `expires_at`: who was given a download link (never the link)";
    DatabaseRestoreRequested => "database.restore_requested": "`addon_id`, `provider`, `backup_id`, `order_id`";
    DatabasePitrRestoreRequested => "database.pitr_restore_requested": "`addon_id`, `provider`, `to`, `order_id`";
    DatabaseUpgradeRequested => "database.upgrade_requested": "`addon_id`, `provider`, `order_id`, and the order's `type` is `database.upgrade_minor` or `database.upgrade_major`";
    DatabaseBackupScheduleChanged => "database.backup_schedule_changed": "`addon_id`, `key` (`database_backup_schedule`), `from`, `to`, `order_id`";
    DatabaseInternetAccessChanged => "database.internet_access_changed": "`addon_id`, `key` (`database_internet_access`), `from`, `to`, `order_id`";
    DatabaseConfigChanged => "database.config_changed": "`addon_id`, `key` (`database_config`), `from`, `to` (the whole configuration before and after), `order_id`";
    DatabaseMaintenanceWindowChanged => "database.maintenance_window_changed": "`addon_id`, `key` (`database_maintenance_window`), `from`, `to`, `order_id`";
    DatabaseUserCreated => "database.user_created": "`addon_id`, `provider`, `database_user_id`, `name`, `read_only`, `order_id` (never the password)";
    DatabaseUserDeleted => "database.user_deleted": "`addon_id`, `provider`, `database_user_id`, `name`, `read_only`, `order_id`";
    AccessDenied => "access.denied": "`method`, `route` (the path pattern, such as `/v1/apps/{app}/collaborators`), `permission`, `role`, `reason` (`role_lacks_permission`, `token_scope_lacks_permission`, `token_scope_excludes_app` or `tfa_required`): a member was refused (`403`) by their role, their token's scope, or the app's rule that every member have two-factor authentication on. At most one a minute per membership and replica: further refusals within the minute are not recorded. Non-members (`404`) and expired members are not recorded here.";
}
}

event_kinds! {
/// A type of entry of an account's own security history. The set is closed.
SecurityEventKind {
    SigninPassword => "signin.password": "`token_id`, `name`, `expires_at`: an API token was created with the password";
    SigninFailed => "signin.failed": "a password or second-factor check failed: `reason` (`wrong_password`, `throttled`, `otp_invalid`); the account's own consecutive failures are counted too (see `account.locked`)";
    PasswordChanged => "password.changed": "`revoked_tokens`: how many API tokens it revoked";
    PasswordReset => "password.reset": "`revoked_tokens`; a reset link set the password (and verified the address)";
    AccountClaimed => "account.claimed": "`revoked_tokens`: the owner of the address took an unverified account back with the claim link: a new password, two-factor authentication off, every token, JWT and other link void";
    AccountLocked => "account.locked": "`failures` (100): password and code sign-ins are refused until a mailed reset link sets a new password";
    TokenCreated => "token.created": "`token_id`, `name`, `expires_at`: a token made without the password (`rolegate users create`)";
    TokenRevoked => "token.revoked": "`token_id`";
    TokensRevoked => "tokens.revoked": "`revoked_tokens`: every API token (and JWT) of the account was revoked";
    EmailVerified => "email.verified": "`email`, `via` (`link`): the verification link mailed to the address was opened (a reset or claim link verifies it too, recorded as `password.reset` or `account.claimed`)";
    VerificationSent => "email.verification_sent": "`email`";
    TfaEnrolmentStarted => "tfa.enrolment_started": "`{}`: a new TOTP secret was made; two-factor authentication is not on until a code confirms it";
    TfaEnabled => "tfa.enabled": "`recovery_codes`: how many were made";
    TfaDisabled => "tfa.disabled": "`via` (`totp` or `recovery_code`)";
    TfaRecoveryCodesReplaced => "tfa.recovery_codes_replaced": "`recovery_codes`: how many were made; the earlier ones no longer work";
    TfaRecoveryCodeUsed => "tfa.recovery_code_used": "`remaining`, `for` (`signin` or `password_reset`): a recovery code was spent";
}
}

impl OrderKind {
    /// The dispatcher that delivers it.
    pub const fn channel(self) -> Channel {
        match self {
            OrderKind::MailVerifyEmail
            | OrderKind::MailInvitation
            | OrderKind::MailPasswordReset
            | OrderKind::MailAccountClaim
            | OrderKind::MailSecurityNotice => Channel::Mail,
            OrderKind::DeploymentCreate
            | OrderKind::AppRestart
            | OrderKind::AppScale
            | OrderKind::DeploymentResetCache
            | OrderKind::AddonProvision
            | OrderKind::AddonChangePlan
            | OrderKind::AddonDeprovision
            | OrderKind::AppRename
            | OrderKind::AppDelete
            | OrderKind::AppStop
            | OrderKind::AppStart
            | OrderKind::AppChangeStack
            | OrderKind::AutoscalerSet
            | OrderKind::AutoscalerRemove
            | OrderKind::LogDrainAdd
            | OrderKind::LogDrainRemove
            | OrderKind::OneOffRun
            | OrderKind::ReviewAppCreate
            | OrderKind::ReviewAppClose
            | OrderKind::ReviewAppRedeploy
            | OrderKind::DatabaseBackup
            | OrderKind::DatabaseRestore
            | OrderKind::DatabaseRestorePitr
            | OrderKind::DatabaseUpgradeMinor
            | OrderKind::DatabaseUpgradeMajor
            | OrderKind::DatabaseBackupScheduleSet
            | OrderKind::DatabaseInternetAccessSet
            | OrderKind::DatabaseConfigSet
            | OrderKind::DatabaseMaintenanceWindowSet
            | OrderKind::DatabaseUserCreate
            | OrderKind::DatabaseUserDelete => Channel::Platform,
        }
    }
}

/// The order table of `docs/platform.md`: the platform's channel only.
pub fn orders_markdown() -> String {
    let mut out = String::from("| `type` | asked by | `data` | what the platform does |\n|---|---|---|---|\n");
    for kind in OrderKind::ALL.iter().filter(|k| k.channel() == Channel::Platform) {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            kind.as_str(),
            kind.asked_by(),
            kind.data(),
            kind.does()
        );
    }
    out
}

/// The event table of `docs/api.md`.
pub fn events_markdown() -> String {
    let mut out = String::from("| `type` | `data` |\n|---|---|\n");
    for kind in EventKind::ALL {
        let _ = writeln!(out, "| `{}` | {} |", kind.as_str(), kind.data());
    }
    out
}

/// The table of security event types of `docs/api.md`.
pub fn security_events_markdown() -> String {
    let mut out = String::from("| `type` | `data` |\n|---|---|\n");
    for kind in SecurityEventKind::ALL {
        let _ = writeln!(out, "| `{}` | {} |", kind.as_str(), kind.data());
    }
    out
}

/// The generated sections of the docs: (file, section name, content). Each stands in its
/// file between `<!-- generated: NAME -->` and `<!-- end: NAME -->`.
pub fn doc_sections() -> [(&'static str, &'static str, String); 3] {
    [
        ("docs/platform.md", "order-kinds", orders_markdown()),
        ("docs/api.md", "event-types", events_markdown()),
        ("docs/api.md", "security-event-types", security_events_markdown()),
    ]
}

/// `text` with each generated section of `file` replaced by its current content.
pub fn render_sections(file: &str, text: &str) -> String {
    let mut text = text.to_owned();
    for (f, name, content) in doc_sections() {
        if f != file {
            continue;
        }
        let begin = format!("<!-- generated: {name} (src/kinds.rs; `cargo run -- docs` rewrites it) -->\n");
        let end = format!("<!-- end: {name} -->");
        if let (Some(b), Some(e)) = (text.find(&begin), text.find(&end)) {
            text.replace_range(b + begin.len()..e, &content);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let orders: std::collections::HashSet<_> = OrderKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(orders.len(), OrderKind::ALL.len());
        let events: std::collections::HashSet<_> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(events.len(), EventKind::ALL.len());
    }
}
