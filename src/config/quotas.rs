//! The quotas (OWASP API4, unrestricted resource consumption): how much one user or one app
//! may hold, and how often one member may ask the platform to act. `0` turns one off.

use super::{ConfigError, number};
use crate::store::Limits;

/// Reads `ROLEGATE_MAX_*` through `var`; each falls back to [`Limits::default`].
pub fn from_lookup(var: impl Fn(&'static str) -> Option<String>) -> Result<Limits, ConfigError> {
    let d = Limits::default();
    let quota = |name: &'static str, default: u64| number(name, var(name), 0..=1_000_000_000, "", default);
    Ok(Limits {
        apps_per_owner: quota("ROLEGATE_MAX_APPS_PER_OWNER", d.apps_per_owner)?,
        variables_per_app: quota("ROLEGATE_MAX_VARIABLES_PER_APP", d.variables_per_app)?,
        variable_bytes_per_app: quota("ROLEGATE_MAX_VARIABLE_BYTES_PER_APP", d.variable_bytes_per_app)?,
        members_per_app: quota("ROLEGATE_MAX_MEMBERS_PER_APP", d.members_per_app)?,
        orders_per_minute: quota("ROLEGATE_MAX_ORDERS_PER_MINUTE", d.orders_per_minute)?,
    })
}
