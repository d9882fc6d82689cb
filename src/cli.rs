//! The command line: `rolegate` serves; `rolegate users create` makes an account on
//! installations with closed sign-up; `rolegate permissions-doc` prints the matrix and
//! `rolegate openapi` the OpenAPI document.

use std::io::Read;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use serde_json::json;
use uuid::Uuid;

use crate::api::tokens::mint;
use crate::api::users::EMAIL_TAKEN;
use crate::auth::password;
use crate::authz::routes::permissions_markdown;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::domain::{Email, Label, Password};
use crate::error::ResultExt;
use crate::store::{self, NewUser};

/// rolegate: roles and permissions for a PaaS's apps.
#[derive(Parser)]
#[command(version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Copy the SQLite database, consistent even while the server runs (`VACUUM INTO`).
    /// On Postgres, use pg_dump instead.
    Backup {
        /// Where to write the copy; the file must not exist yet.
        path: std::path::PathBuf,
    },
    /// Manage accounts.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Print docs/permissions.md, generated from the matrix and the route table.
    PermissionsDoc,
    /// Print docs/openapi.json, the OpenAPI 3.1 document served at /v1/openapi.json.
    Openapi,
    /// Rewrite the generated sections of docs/ (order kinds, event types) from src/kinds.rs.
    Docs {
        /// The repository's docs/ folder.
        #[arg(long, default_value = "docs")]
        dir: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Create an account and print it with a new API token, as JSON.
    Create {
        /// Email address.
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Read a password from standard input (otherwise the account has only the API token).
        #[arg(long)]
        password_stdin: bool,
    },
}

type Error = Box<dyn std::error::Error + Send + Sync>;

impl Cli {
    /// Runs the command.
    pub async fn run(self) -> Result<(), Error> {
        match self.command.unwrap_or(Command::Serve) {
            Command::Serve => crate::run(Config::from_env()?).await,
            Command::Backup { path } => backup(&Config::from_env()?.database_url, &path).await,
            Command::PermissionsDoc => {
                print!("{}", permissions_markdown());
                Ok(())
            }
            Command::Openapi => {
                print!("{}", crate::api::openapi::DOCUMENT.as_str());
                Ok(())
            }
            Command::Docs { dir } => {
                for (file, _, _) in crate::kinds::doc_sections() {
                    let path = dir.join(file.trim_start_matches("docs/"));
                    let text = std::fs::read_to_string(&path)?;
                    std::fs::write(&path, crate::kinds::render_sections(file, &text))?;
                    println!("{}", path.display());
                }
                Ok(())
            }
            Command::Users {
                command:
                    UsersCommand::Create {
                        email,
                        name,
                        password_stdin,
                    },
            } => create_user(Config::from_env()?, &email, name.as_deref(), password_stdin).await,
        }
    }
}

async fn create_user(config: Config, email: &str, name: Option<&str>, password_stdin: bool) -> Result<(), Error> {
    let email = Email::parse(email).map_err(|m| format!("--email {m}"))?;
    let name = name.map(Label::parse).transpose().map_err(|m| format!("--name {m}"))?;
    let password_hash = if password_stdin {
        let mut raw = String::new();
        std::io::stdin().read_to_string(&mut raw)?;
        let password =
            Password::parse(raw.trim_end_matches(['\r', '\n']).to_owned()).map_err(|m| format!("password {m}"))?;
        Some(password::hash(&tokio::sync::Semaphore::new(1), password).await?)
    } else {
        None
    };
    let store = store::connect(&config.database_url, config.pool, config.limits).await?;
    let now = Arc::new(SystemClock).now();
    let new = NewUser {
        id: Uuid::now_v7(),
        email: &email,
        name: name.as_ref().map(Label::as_str),
        password_hash: password_hash.as_deref(),
        // An administrator typed the address.
        email_verified: true,
        link: None,
        now,
    };
    let user = store.create_user(new).await.on_conflict(EMAIL_TAKEN)?;
    let (_, token) = mint(
        store.as_ref(),
        user.id,
        "created by rolegate users create",
        Some(now + chrono::TimeDelta::days(config.accounts.token_max_days)),
        &Default::default(),
        now,
    )
    .await?;
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({ "user": user, "api_token": token }))?
    );
    Ok(())
}

/// Writes a consistent copy of the SQLite database to `path` with `VACUUM INTO`, which reads one
/// snapshot and so may run while the server writes.
async fn backup(database_url: &str, path: &std::path::Path) -> Result<(), Error> {
    use sqlx::Connection;
    if !database_url.starts_with("sqlite:") {
        return Err(
            "rolegate backup copies a SQLite database (DATABASE_URL is not sqlite://…); on Postgres use pg_dump".into(),
        );
    }
    if path.exists() {
        return Err(format!("backup: {} already exists", path.display()).into());
    }
    let target = path.to_str().ok_or("backup: the path is not UTF-8")?;
    let mut conn = sqlx::SqliteConnection::connect(database_url)
        .await
        .map_err(|e| format!("DATABASE_URL: cannot open the SQLite database: {e}"))?;
    sqlx::query("VACUUM INTO ?")
        .bind(target)
        .execute(&mut conn)
        .await
        .map_err(|e| format!("backup: cannot write {}: {e}", path.display()))?;
    conn.close().await?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    eprintln!("rolegate: backup written to {}", path.display());
    Ok(())
}
