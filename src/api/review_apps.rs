//! Review apps: apps deployed from a pull request, as records of their parent app. Their
//! settings are an [`AppSetting`].

use serde::{Deserialize, Serialize};

use super::settings::AppSetting;
use crate::error::{ApiError, Fields};
use crate::kinds::EventKind;

/// Longest a stale review app may be kept: a year.
const MAX_STALE_HOURS: i64 = 8760;

/// How review apps are made and destroyed for the app.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ReviewAppSettings {
    /// Create a review app when a pull request is opened.
    pub auto_create: bool,
    /// Destroy the review app when its pull request is closed.
    pub destroy_on_close: bool,
    /// Destroy a review app not deployed for this many hours (1 to 8760), or `null`: never.
    #[schema(minimum = 1, maximum = 8760)]
    pub destroy_stale_after_hours: Option<i64>,
    /// Create review apps for pull requests from forks too.
    pub allow_forks: bool,
    /// Let limited collaborators open review apps through the SCM (their pull requests).
    pub limited_collaborators_via_scm: bool,
}

impl Default for ReviewAppSettings {
    fn default() -> Self {
        ReviewAppSettings {
            auto_create: false,
            destroy_on_close: true,
            destroy_stale_after_hours: None,
            allow_forks: false,
            limited_collaborators_via_scm: false,
        }
    }
}

impl AppSetting for ReviewAppSettings {
    const KEY: &'static str = "review_apps";
    const EVENT: EventKind = EventKind::ReviewAppSettingsChanged;
    const NAME: &'static str = "review_app_settings";

    fn check(&self) -> Result<(), ApiError> {
        let mut fields = Fields::default();
        if self
            .destroy_stale_after_hours
            .is_some_and(|h| !(1..=MAX_STALE_HOURS).contains(&h))
        {
            fields.push("destroy_stale_after_hours", "must be null or between 1 and 8760");
        }
        fields.finish()
    }
}
