//! What the store returns, and the flat rows it decodes them from, one file per aggregate.

mod accounts;
mod addons;
mod apps;
mod deployments;
mod events;
mod invitations;
mod members;
mod outbox;
mod records;
mod requests;
mod review;
mod security;
mod settings;
mod telemetry;
mod tfa;
mod variables;

pub use accounts::*;
pub use addons::*;
pub use apps::*;
pub use deployments::*;
pub use events::*;
pub use invitations::*;
pub use members::*;
pub use outbox::*;
pub use records::*;
pub use requests::*;
pub use review::*;
pub use security::*;
pub use settings::*;
pub use telemetry::*;
pub use tfa::*;
pub use variables::*;
