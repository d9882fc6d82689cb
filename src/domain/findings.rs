//! The access review's rules: what is flagged about a member or a pending invitation, from
//! their use of the app. Pure functions of the stored facts and the time, so they are tested
//! without a database; `api/review.rs` gathers the facts and renders the review.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::authz::{Permission, Role};
use crate::store::{Invitation, PermissionUse, ReviewMember};

/// How long before its end time-bound access is flagged.
const EXPIRING_SOON: TimeDelta = TimeDelta::days(7);
/// How long an invitation may stay pending before it is flagged.
const PENDING_LONG: TimeDelta = TimeDelta::days(7);

/// One finding: a machine-readable code and a sentence for people.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Finding {
    /// `stale_member`, `role_broader_than_use`, `invitation_pending_long`, `expiring_soon`,
    /// `token_without_expiry` or `tfa_disabled`.
    #[schema(schema_with = finding_code_schema)]
    pub code: &'static str,
    /// What it means here.
    pub message: String,
    /// The role the evidence supports, for `role_broader_than_use`; absent (never `null`) on
    /// other findings.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Role)]
    pub suggested_role: Option<Role>,
}

fn finding_code_schema() -> utoipa::openapi::Object {
    crate::api::openapi::string_enum(
        FINDINGS,
        "`stale_member`, `role_broader_than_use`, `invitation_pending_long`, `expiring_soon`, \
         `token_without_expiry` or `tfa_disabled`.",
    )
}

/// Every finding code.
pub const FINDINGS: [&str; 6] = [
    "stale_member",
    "role_broader_than_use",
    "invitation_pending_long",
    "expiring_soon",
    "token_without_expiry",
    "tfa_disabled",
];

fn date(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// The findings for one member, from their use of the app within the window.
pub fn member_findings(
    m: &ReviewMember,
    uses: &[&PermissionUse],
    now: DateTime<Utc>,
    window: TimeDelta,
) -> Vec<Finding> {
    let member = &m.member;
    let mut findings = Vec::new();
    // Tokens made before `ROLEGATE_TOKEN_MAX_DAYS` existed keep working forever: flagged on
    // every member, owners included, so they are rotated.
    if m.unexpiring_tokens > 0 {
        findings.push(Finding {
            code: "token_without_expiry",
            message: format!(
                "{} holds {} API token{} that never expire{}; revoke and replace {}",
                member.email,
                m.unexpiring_tokens,
                if m.unexpiring_tokens == 1 { "" } else { "s" },
                if m.unexpiring_tokens == 1 { "s" } else { "" },
                if m.unexpiring_tokens == 1 { "it" } else { "them" },
            ),
            suggested_role: None,
        });
    }
    if member.role == Role::Owner {
        findings.extend(tfa_finding(m));
        return findings;
    }
    let days = window.num_days();
    let last = member.last_used_at.unwrap_or(member.created_at);
    if now - last >= window {
        let message = match member.last_used_at {
            Some(at) => format!(
                "{} has not used {} for {days} days or more (last use {})",
                member.email,
                m.app_name,
                date(at)
            ),
            None => format!(
                "{} has never used {} since joining on {}",
                member.email,
                m.app_name,
                date(member.created_at)
            ),
        };
        findings.push(Finding {
            code: "stale_member",
            message,
            suggested_role: None,
        });
    }
    let privileged = |p: &PermissionUse| {
        Permission::parse(&p.permission).is_some_and(|p| !Role::LimitedCollaborator.can(p) && Role::Collaborator.can(p))
    };
    if member.role == Role::Collaborator && now - member.created_at >= window && !uses.iter().any(|p| privileged(p)) {
        findings.push(Finding {
            code: "role_broader_than_use",
            message: format!(
                "{} is a collaborator on {} but used nothing beyond a limited collaborator's permissions in {days} days",
                member.email, m.app_name
            ),
            suggested_role: Some(Role::LimitedCollaborator),
        });
    }
    if let Some(end) = member
        .access_expires_at
        .filter(|end| *end > now && *end - now <= EXPIRING_SOON)
    {
        findings.push(Finding {
            code: "expiring_soon",
            message: format!(
                "{}'s access to {} ends on {}",
                member.email,
                m.app_name,
                end.to_rfc3339()
            ),
            suggested_role: None,
        });
    }
    findings.extend(tfa_finding(m));
    findings
}

/// A password alone opens such a member's account: flagged on every member, owners included,
/// whether or not the app requires 2FA (where it does, they are refused too). Last, so the
/// findings about use keep their places.
fn tfa_finding(m: &ReviewMember) -> Option<Finding> {
    (!m.member.tfa_enabled).then(|| Finding {
        code: "tfa_disabled",
        message: format!(
            "{} has two-factor authentication off: a stolen password is enough to act as them on {}",
            m.member.email, m.app_name
        ),
        suggested_role: None,
    })
}

/// The findings for a pending invitation.
pub fn invitation_findings(i: &Invitation, now: DateTime<Utc>) -> Vec<Finding> {
    if now - i.created_at > PENDING_LONG {
        let message = format!(
            "the invitation of {} to {} has been pending since {}",
            i.email,
            i.app_name,
            date(i.created_at)
        );
        vec![Finding {
            code: "invitation_pending_long",
            message,
            suggested_role: None,
        }]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::store::Collaborator;

    fn member(
        role: Role,
        created: DateTime<Utc>,
        last: Option<DateTime<Utc>>,
        ends: Option<DateTime<Utc>>,
    ) -> ReviewMember {
        ReviewMember {
            app_name: "web".into(),
            unexpiring_tokens: 0,
            member: Collaborator {
                id: Uuid::now_v7(),
                app_id: Uuid::now_v7(),
                user_id: Uuid::now_v7(),
                email: "x@example.com".into(),
                role,
                status: "accepted",
                invited_by: None,
                created_at: created,
                last_used_at: last,
                access_expires_at: ends,
                tfa_enabled: true,
            },
        }
    }

    fn codes(f: &[Finding]) -> Vec<&'static str> {
        f.iter().map(|f| f.code).collect()
    }

    #[test]
    fn findings_follow_the_window() {
        let now = Utc::now();
        let window = TimeDelta::days(90);
        let old = now - TimeDelta::days(100);
        let fresh = member(Role::LimitedCollaborator, now - TimeDelta::days(1), None, None);
        assert!(member_findings(&fresh, &[], now, window).is_empty());
        let stale = member(Role::LimitedCollaborator, old, Some(old), None);
        assert_eq!(codes(&member_findings(&stale, &[], now, window)), ["stale_member"]);
        let broad = member(Role::Collaborator, old, Some(now), None);
        assert_eq!(
            codes(&member_findings(&broad, &[], now, window)),
            ["role_broader_than_use"]
        );
        let used = PermissionUse {
            membership_id: broad.member.id,
            permission: "variables.write".into(),
            last_used_at: now,
        };
        assert!(member_findings(&broad, &[&used], now, window).is_empty());
        let ending = member(
            Role::LimitedCollaborator,
            now,
            Some(now),
            Some(now + TimeDelta::days(3)),
        );
        assert_eq!(codes(&member_findings(&ending, &[], now, window)), ["expiring_soon"]);
        let mut owner = member(Role::Owner, old, None, None);
        assert!(member_findings(&owner, &[], now, window).is_empty());
        owner.unexpiring_tokens = 2;
        assert_eq!(
            codes(&member_findings(&owner, &[], now, window)),
            ["token_without_expiry"]
        );
        owner.member.tfa_enabled = false;
        assert_eq!(
            codes(&member_findings(&owner, &[], now, window)),
            ["token_without_expiry", "tfa_disabled"]
        );
    }
}
