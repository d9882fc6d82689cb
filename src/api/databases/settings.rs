//! Settings of a database: scheduled backups, internet access, maintenance window.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{NOT_A_DATABASE, is_database};
use crate::api::settings::AppSetting;
use crate::error::{ApiError, Fields};
use crate::kinds::{EventKind, OrderKind};

/// The scheduled backups of a database.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BackupSchedule {
    /// Whether the platform takes a backup every day (default `true`).
    pub enabled: bool,
    /// The hour it starts, 0 to 23 (UTC; default 2).
    #[schema(minimum = 0, maximum = 23)]
    pub hour_utc: i64,
    /// How many days backups are kept, 1 to 365 (default 30).
    #[schema(minimum = 1, maximum = 365)]
    pub retention_days: i64,
}

impl Default for BackupSchedule {
    fn default() -> Self {
        BackupSchedule {
            enabled: true,
            hour_utc: 2,
            retention_days: 30,
        }
    }
}

impl AppSetting for BackupSchedule {
    const KEY: &'static str = "database_backup_schedule";
    const EVENT: EventKind = EventKind::DatabaseBackupScheduleChanged;
    const ORDER: Option<OrderKind> = Some(OrderKind::DatabaseBackupScheduleSet);
    const NAME: &'static str = "database_backup_schedule";
    const ADDON_NOT_FOUND: &'static str = NOT_A_DATABASE;

    fn addon_fits(provider: &str) -> bool {
        is_database(provider)
    }

    fn check(&self) -> Result<(), ApiError> {
        let mut fields = Fields::default();
        if !(0..=23).contains(&self.hour_utc) {
            fields.push("hour_utc", "must be between 0 and 23");
        }
        if !(1..=365).contains(&self.retention_days) {
            fields.push("retention_days", "must be between 1 and 365");
        }
        fields.finish()
    }
}

/// Whether a database is reachable from the internet, and from where.
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct InternetAccess {
    /// Whether it is reachable from the internet (default `false`: from the app only).
    pub enabled: bool,
    /// The networks it is reachable from when `enabled`, as CIDRs (`203.0.113.0/24`,
    /// `2001:db8::/32`); empty: from anywhere. At most 50.
    #[schema(max_items = 50)]
    pub allowed_cidrs: Vec<String>,
}

/// Whether `cidr` is an address or a network: `ADDR` or `ADDR/LEN` with LEN within the family.
fn is_cidr(cidr: &str) -> bool {
    let (addr, len) = match cidr.split_once('/') {
        Some((addr, len)) => (addr, Some(len)),
        None => (cidr, None),
    };
    let Ok(addr) = addr.parse::<IpAddr>() else {
        return false;
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    len.is_none_or(|len| {
        !len.is_empty()
            && len.len() <= 3
            && len.bytes().all(|b| b.is_ascii_digit())
            && len.parse::<u8>().is_ok_and(|l| l <= max)
    })
}

impl AppSetting for InternetAccess {
    const KEY: &'static str = "database_internet_access";
    const EVENT: EventKind = EventKind::DatabaseInternetAccessChanged;
    const ORDER: Option<OrderKind> = Some(OrderKind::DatabaseInternetAccessSet);
    const NAME: &'static str = "database_internet_access";
    const ADDON_NOT_FOUND: &'static str = NOT_A_DATABASE;

    fn addon_fits(provider: &str) -> bool {
        is_database(provider)
    }

    fn check(&self) -> Result<(), ApiError> {
        let mut fields = Fields::default();
        if self.allowed_cidrs.len() > 50 {
            fields.push("allowed_cidrs", "must hold at most 50 networks");
        }
        for (i, cidr) in self.allowed_cidrs.iter().enumerate() {
            if !is_cidr(cidr) {
                fields.push(
                    &format!("allowed_cidrs[{i}]"),
                    "must be an IP address or a CIDR network",
                );
            }
        }
        fields.finish()
    }
}

/// When the platform may run a database's maintenance.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MaintenanceWindow {
    /// The day, 0 (Sunday) to 6 (Saturday); default 0.
    #[schema(minimum = 0, maximum = 6)]
    pub weekday: i64,
    /// The hour it starts, 0 to 23 (UTC; default 3).
    #[schema(minimum = 0, maximum = 23)]
    pub hour_utc: i64,
    /// How long it lasts, 1 to 8 hours (default 2).
    #[schema(minimum = 1, maximum = 8)]
    pub duration_hours: i64,
}

impl Default for MaintenanceWindow {
    fn default() -> Self {
        MaintenanceWindow {
            weekday: 0,
            hour_utc: 3,
            duration_hours: 2,
        }
    }
}

impl AppSetting for MaintenanceWindow {
    const KEY: &'static str = "database_maintenance_window";
    const EVENT: EventKind = EventKind::DatabaseMaintenanceWindowChanged;
    const ORDER: Option<OrderKind> = Some(OrderKind::DatabaseMaintenanceWindowSet);
    const NAME: &'static str = "database_maintenance_window";
    const ADDON_NOT_FOUND: &'static str = NOT_A_DATABASE;

    fn addon_fits(provider: &str) -> bool {
        is_database(provider)
    }

    fn check(&self) -> Result<(), ApiError> {
        let mut fields = Fields::default();
        if !(0..=6).contains(&self.weekday) {
            fields.push("weekday", "must be between 0 and 6");
        }
        if !(0..=23).contains(&self.hour_utc) {
            fields.push("hour_utc", "must be between 0 and 23");
        }
        if !(1..=8).contains(&self.duration_hours) {
            fields.push("duration_hours", "must be between 1 and 8");
        }
        fields.finish()
    }
}
