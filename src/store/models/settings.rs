//! App settings: what the store takes.

use crate::kinds::{EventKind, OrderKind};

/// A new value for one of an app's settings.
#[derive(Clone, Debug)]
pub struct NewSetting {
    /// The setting's key.
    pub key: &'static str,
    /// Its new value; `previous` is what it replaces (its default when it was never set).
    pub value: serde_json::Value,
    /// The value the event reports as `from` when none is stored.
    pub default: serde_json::Value,
    /// The event written on the app's timeline.
    pub event: EventKind,
    /// The order queued for the platform, with `{key, value}`, if the platform must act.
    pub order: Option<OrderKind>,
}
