//! Environment variables, sealed at rest: what the store returns, and the rows it decodes them
//! from.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

// --- the app's resources ---

/// A variable as stored: its value sealed.
#[derive(Clone, Debug, FromRow)]
pub struct StoredVariable {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Sealed value.
    pub value_sealed: Vec<u8>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A variable to set.
pub struct NewVariable {
    /// Name.
    pub name: String,
    /// Sealed value.
    pub sealed: Vec<u8>,
}
