//! Mail: what rolegate sends (address verification, invitations, password resets, security
//! notices), queued in the outbox's `mail` channel in the transaction of the action that
//! causes it, and delivered over SMTP by that channel's dispatcher.
//!
//! A mail's text holds a single-use link, so it is sealed in the outbox row (with the key of
//! the variables) and replaced by a redacted copy once delivered; it never reaches a log.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::{Value, json};

use crate::dispatch::Sender;
use crate::kinds::{Channel, OrderKind};
use crate::secrets::SecretBox;
use crate::store::{NewOrder, Order};

/// Longest wait for the SMTP server, per mail.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// `ROLEGATE_SMTP_URL` and `ROLEGATE_MAIL_FROM`.
#[derive(Clone)]
pub struct MailConfig {
    /// `smtp://host:port` (plain), `smtp://host:port?tls=starttls`, `smtps://user:pass@host:465`.
    url: String,
    /// The sender, such as `rolegate <noreply@example.com>`.
    pub from: Mailbox,
}

impl std::fmt::Debug for MailConfig {
    // The URL may carry the SMTP password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailConfig")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl MailConfig {
    /// Checks both settings; each error names what is wrong without repeating a password.
    pub fn parse(url: &str, from: Option<&str>) -> Result<MailConfig, (&'static str, String)> {
        let config = MailConfig {
            url: lettre_url(url),
            from: from.unwrap_or("rolegate <rolegate@localhost>").parse().map_err(|_| {
                (
                    "ROLEGATE_MAIL_FROM",
                    "expected an address such as `rolegate <noreply@example.com>`".to_owned(),
                )
            })?,
        };
        config.transport().map_err(|e| {
            (
                "ROLEGATE_SMTP_URL",
                format!("expected smtp://host:port[?tls=starttls] or smtps://user:password@host:port ({e})"),
            )
        })?;
        Ok(config)
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, lettre::transport::smtp::Error> {
        Ok(AsyncSmtpTransport::<Tokio1Executor>::from_url(&self.url)?
            .timeout(Some(SMTP_TIMEOUT))
            .build())
    }
}

/// `tls=starttls` is lettre's `tls=required`.
fn lettre_url(url: &str) -> String {
    url.trim().replace("tls=starttls", "tls=required")
}

/// A mail to queue: its kind, its recipient, its subject and its text.
pub struct Mail {
    /// Which mail this is.
    pub kind: OrderKind,
    /// The recipient.
    pub to: String,
    /// The subject.
    pub subject: String,
    /// The plain-text body, which may hold a single-use link.
    pub text: String,
}

impl Mail {
    /// The order that carries it, its text sealed to its kind and recipient.
    pub fn seal(self, secrets: &SecretBox) -> Result<NewOrder, getrandom::Error> {
        let sealed = secrets.seal(self.text.as_bytes(), &context(self.kind.as_str(), &self.to))?;
        Ok(NewOrder {
            kind: self.kind,
            data: json!({ "to": self.to, "subject": self.subject, "sealed_text": STANDARD.encode(sealed) }),
        })
    }
}

fn context(kind: &str, to: &str) -> Vec<u8> {
    format!("mail:{kind}:{to}").into_bytes()
}

/// The address-verification mail.
pub fn verification(to: &str, link: &str) -> Mail {
    Mail {
        kind: OrderKind::MailVerifyEmail,
        to: to.to_owned(),
        subject: "Verify your email address".into(),
        text: format!(
            "Hello,\n\nConfirm that {to} is your address by opening this link within 24 hours:\n\n{link}\n\n\
             If you did not sign up, ignore this mail.\n"
        ),
    }
}

/// The invitation mail.
pub fn invitation(to: &str, app: &str, inviter: &str, role: &str, link: &str) -> Mail {
    Mail {
        kind: OrderKind::MailInvitation,
        to: to.to_owned(),
        subject: format!("{inviter} invited you to {app}"),
        text: format!(
            "Hello,\n\n{inviter} invited you to the app {app} as {role}.\n\nAccept or decline here:\n\n{link}\n\n\
             The link works once. If you did not expect this, ignore this mail.\n"
        ),
    }
}

/// The password-reset mail.
pub fn password_reset(to: &str, link: &str) -> Mail {
    Mail {
        kind: OrderKind::MailPasswordReset,
        to: to.to_owned(),
        subject: "Reset your password".into(),
        text: format!(
            "Hello,\n\nSomeone asked to reset the password of the account {to}. Set a new one within the hour:\n\n\
             {link}\n\nSetting it signs out every session of the account. If it was not you, ignore this mail: \
             your password stays as it is.\n"
        ),
    }
}

/// The mail to the owner of an address an unverified account holds: it lets them take the
/// account over by setting a password.
pub fn account_claim(to: &str, link: &str) -> Mail {
    Mail {
        kind: OrderKind::MailAccountClaim,
        to: to.to_owned(),
        subject: "Claim your account".into(),
        text: format!(
            "Hello,\n\nSomeone signed up with {to}, and an account with this address already exists but was never \
             verified. If the address is yours, set a password within the hour to take the account over; every \
             session of it is then signed out:\n\n{link}\n\nIf you did not sign up, ignore this mail.\n"
        ),
    }
}

/// The notice that an account's password and code sign-ins were locked.
pub fn account_locked(to: &str) -> Mail {
    Mail {
        kind: OrderKind::MailSecurityNotice,
        to: to.to_owned(),
        subject: "Security notice: sign-in to your account is locked".into(),
        text: format!(
            "Hello,\n\nThe account {to} had 100 failed sign-in attempts in a row (wrong passwords or two-factor \
             codes), so signing in with a password is locked.\n\nTo unlock it, ask for a link to set a new password \
             (\"Forgot your password?\" on the sign-in page, or POST /v1/users/password-reset with this address) \
             and set one with the link mailed to you. Setting it signs out every session of the account.\n\n\
             If the attempts were yours, do the same. Your apps and tokens are not otherwise affected.\n"
        ),
    }
}

/// A security notice to the account's own address.
pub fn notice(to: &str, what: &str) -> Mail {
    Mail {
        kind: OrderKind::MailSecurityNotice,
        to: to.to_owned(),
        subject: format!("Security notice: {what}"),
        text: format!(
            "Hello,\n\nOn your account {to}: {what}.\n\nIf this was not you, reset your password at once and revoke \
             your API tokens.\n"
        ),
    }
}

/// The mail channel's sender: SMTP.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    secrets: std::sync::Arc<SecretBox>,
    backoff: Duration,
}

impl Mailer {
    /// A sender for `config`.
    pub fn new(
        config: &MailConfig,
        secrets: std::sync::Arc<SecretBox>,
        backoff: Duration,
    ) -> Result<Mailer, lettre::transport::smtp::Error> {
        Ok(Mailer {
            transport: config.transport()?,
            from: config.from.clone(),
            secrets,
            backoff,
        })
    }

    fn message(&self, order: &Order) -> Result<Message, String> {
        let data = &order.payload["data"];
        let field = |name: &str| data[name].as_str().ok_or_else(|| format!("the mail has no {name}"));
        let to = field("to")?;
        let sealed = STANDARD
            .decode(field("sealed_text")?)
            .map_err(|_| "the mail's text is not base64".to_owned())?;
        let text = self
            .secrets
            .open_string(&sealed, &context(&order.kind, to))
            .map_err(|_| "the mail's text does not open with this key".to_owned())?;
        Message::builder()
            .from(self.from.clone())
            .to(to.parse().map_err(|_| "the recipient is not an address".to_owned())?)
            .subject(field("subject")?)
            .header(ContentType::TEXT_PLAIN)
            .body(text)
            .map_err(|e| format!("cannot build the mail: {e}"))
    }
}

impl Sender for Mailer {
    const CHANNEL: Channel = Channel::Mail;

    async fn send(&self, order: &Order, _now: DateTime<Utc>) -> Result<(), String> {
        let message = self.message(order)?;
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(|e| format!("SMTP: {e}"))
    }

    fn backoff_base(&self) -> Duration {
        self.backoff
    }

    fn redacted(&self, order: &Order) -> Option<Value> {
        let mut payload = order.payload.clone();
        if let Some(data) = payload.get_mut("data").and_then(Value::as_object_mut) {
            data.remove("sealed_text");
        }
        Some(payload)
    }
}
