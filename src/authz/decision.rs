//! The decision about a member's access, as a pure function of the facts one request gathered:
//! the middleware of every app route and the platform routes that act in a member's name
//! (a pull request's review app, an attach credential, a dashboard link) ask it the same
//! question, so the app's rules hold on every path.

use super::{Permission, Role};

/// What one decision needs to know about a person and an app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facts {
    /// Their role on the app; `None`: not a member (or no such app).
    pub role: Option<Role>,
    /// Whether their time-bound access has ended.
    pub expired: bool,
    /// Whether the credential's scope reaches the app (always for the platform's routes).
    pub scope_allows_app: bool,
    /// Whether the credential's scope holds the permission (always for the platform's routes).
    pub scope_allows_permission: bool,
    /// Whether the app requires two-factor authentication of every member and they have it off.
    pub blocked_by_tfa: bool,
}

/// What the route asks of those facts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The permission it exercises.
    pub permission: Permission,
    /// Whether the role must hold it (not for leaving an app: the handler decides who).
    pub role_must_hold: bool,
    /// Whether the app's two-factor rule lets the route through (reading the app, one's own
    /// permissions, leaving).
    pub open_without_tfa: bool,
}

/// The answer, and why. Checked in this order: scope first, so a token learns nothing of
/// the account's apps outside it (not even that its access to one has ended).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Let through.
    Allowed,
    /// Not a member, or no such app: 404.
    NotAMember,
    /// The token's scope does not reach the app: 404, as for a stranger.
    ScopeExcludesApp,
    /// The membership's time-bound access has ended: 403.
    Expired,
    /// The app requires two-factor authentication and the person has it off: 403.
    TfaRequired,
    /// The token's scope lacks the permission: 403.
    ScopeLacksPermission,
    /// The role lacks the permission: 403.
    RoleLacksPermission,
}

impl Reason {
    /// The `reason` of an `access.denied` event and of the platform's refusals.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Allowed => "allowed",
            Reason::NotAMember => "not_a_member",
            Reason::ScopeExcludesApp => "token_scope_excludes_app",
            Reason::Expired => "access_expired",
            Reason::TfaRequired => "tfa_required",
            Reason::ScopeLacksPermission => "token_scope_lacks_permission",
            Reason::RoleLacksPermission => "role_lacks_permission",
        }
    }
}

/// Decides whether `facts` allow what `rule` asks.
pub fn decide(facts: &Facts, rule: Rule) -> Reason {
    let Some(role) = facts.role else {
        return Reason::NotAMember;
    };
    if !facts.scope_allows_app {
        Reason::ScopeExcludesApp
    } else if facts.expired {
        Reason::Expired
    } else if facts.blocked_by_tfa && !rule.open_without_tfa {
        Reason::TfaRequired
    } else if !facts.scope_allows_permission {
        Reason::ScopeLacksPermission
    } else if rule.role_must_hold && !role.can(rule.permission) {
        Reason::RoleLacksPermission
    } else {
        Reason::Allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every combination of facts, for every role and permission, against the order the
    /// rule is written in.
    #[test]
    fn every_combination_of_facts_is_decided_in_order() {
        let roles = [
            None,
            Some(Role::Owner),
            Some(Role::Collaborator),
            Some(Role::LimitedCollaborator),
        ];
        let mut seen = std::collections::HashSet::new();
        for role in roles {
            for bits in 0u8..16 {
                let bit = |n: u8| bits & (1 << n) != 0;
                let facts = Facts {
                    role,
                    expired: bit(0),
                    scope_allows_app: bit(1),
                    scope_allows_permission: bit(2),
                    blocked_by_tfa: bit(3),
                };
                for &permission in Permission::ALL {
                    for rule_bits in 0u8..4 {
                        let rule = Rule {
                            permission,
                            role_must_hold: rule_bits & 1 != 0,
                            open_without_tfa: rule_bits & 2 != 0,
                        };
                        let expected = match role {
                            None => Reason::NotAMember,
                            Some(_) if !facts.scope_allows_app => Reason::ScopeExcludesApp,
                            Some(_) if facts.expired => Reason::Expired,
                            Some(_) if facts.blocked_by_tfa && !rule.open_without_tfa => Reason::TfaRequired,
                            Some(_) if !facts.scope_allows_permission => Reason::ScopeLacksPermission,
                            Some(r) if rule.role_must_hold && !r.can(permission) => Reason::RoleLacksPermission,
                            Some(_) => Reason::Allowed,
                        };
                        let decided = decide(&facts, rule);
                        assert_eq!(decided, expected, "{facts:?} {rule:?}");
                        seen.insert(decided);
                    }
                }
            }
        }
        assert_eq!(seen.len(), 7, "every reason is reachable");
    }

    #[test]
    fn scope_comes_before_everything_a_stranger_must_not_learn() {
        let facts = Facts {
            role: Some(Role::Collaborator),
            expired: true,
            scope_allows_app: false,
            scope_allows_permission: false,
            blocked_by_tfa: true,
        };
        let rule = Rule {
            permission: Permission::AppRead,
            role_must_hold: true,
            open_without_tfa: false,
        };
        assert_eq!(decide(&facts, rule), Reason::ScopeExcludesApp);
    }
}
