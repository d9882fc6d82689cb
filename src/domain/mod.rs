//! Parse-don't-validate newtypes for what users type. Each `parse` returns the message a
//! 422 shows for the field.

pub mod findings;
pub mod timestamp;

use std::fmt;

use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

macro_rules! string_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The value.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The owned value.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_newtype!(
    /// An email address, trimmed, lower-cased and in Unicode NFC.
    Email
);
string_newtype!(
    /// An app name: a lower-case DNS label of 3 to 48 characters that is not a UUID.
    AppName
);
string_newtype!(
    /// A git branch name.
    BranchName
);
string_newtype!(
    /// A short human label (a person's name, a token's name).
    Label
);

impl Email {
    /// Normalises and checks an email address a user gives for the first time (sign-up,
    /// invitation, `rolegate users create`): trimmed, lower-cased and in Unicode NFC, without
    /// bidirectional or zero-width controls (an address that reads like another) and without
    /// `:` (HTTP Basic authentication could not carry it as the user name).
    pub fn parse(raw: &str) -> Result<Email, &'static str> {
        let email = Email::normalise(raw);
        if let Some(message) = invisible_controls(&email) {
            return Err(message);
        }
        if email.contains(':') {
            return Err("must not contain ':' (HTTP Basic authentication cannot carry it)");
        }
        Email::check_shape(email)
    }

    /// Normalises an address typed to sign in or to find an account, checking only its
    /// shape: accounts made before the stricter rules of [`Email::parse`] are still found.
    pub fn lookup(raw: &str) -> Result<Email, &'static str> {
        Email::check_shape(Email::normalise(raw))
    }

    /// The address as typed, trimmed and lower-cased but not in NFC: how accounts made before
    /// NFC were stored, to find them too. `None` when it is not an address.
    pub fn as_typed(raw: &str) -> Option<Email> {
        Email::check_shape(raw.trim().to_lowercase()).ok()
    }

    /// An address read back from the database, as stored: it was checked when it was written,
    /// and rows written under older rules are used as they are.
    pub fn stored(email: &str) -> Email {
        Email(email.to_owned())
    }

    /// Trimmed, lower-cased (so the domain, which is case-insensitive, and the local part,
    /// which every real provider treats so) and in NFC, so one address has one spelling.
    fn normalise(raw: &str) -> String {
        raw.trim().to_lowercase().nfc().collect()
    }

    fn check_shape(email: String) -> Result<Email, &'static str> {
        if email.len() > 254 {
            return Err("must be at most 254 characters");
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return Err("must be an email address such as ada@example.com");
        };
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && local.chars().all(|c| !c.is_whitespace() && !c.is_control());
        if !domain_ok || !local_ok {
            return Err("must be an email address such as ada@example.com");
        }
        Ok(Email(email))
    }
}

/// Bidirectional controls: they make text display in another order than it is stored.
const BIDI_CONTROLS: [char; 9] = [
    '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
];
/// Zero-width characters: they make two different strings display the same.
const ZERO_WIDTH: [char; 5] = ['\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}'];

/// The 422 message for text that holds a character which changes how it displays without
/// being seen, if it does.
pub fn invisible_controls(text: &str) -> Option<&'static str> {
    if text.contains(BIDI_CONTROLS) {
        Some("must not contain bidirectional control characters (U+202A to U+202E, U+2066 to U+2069)")
    } else if text.contains(ZERO_WIDTH) {
        Some("must not contain zero-width characters (U+200B to U+200D, U+2060, U+FEFF)")
    } else {
        None
    }
}

impl AppName {
    /// Checks an app name.
    pub fn parse(raw: &str) -> Result<AppName, &'static str> {
        const RULE: &str =
            "must be 3 to 48 characters of a-z, 0-9 and '-', starting with a letter and not ending with '-'";
        let len_ok = (3..=48).contains(&raw.len());
        let mut chars = raw.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        let rest_ok = raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !len_ok || !first_ok || !rest_ok || raw.ends_with('-') {
            return Err(RULE);
        }
        if uuid::Uuid::try_parse(raw).is_ok() {
            return Err("must not be a UUID (apps are also addressed by id)");
        }
        Ok(AppName(raw.to_owned()))
    }
}

impl BranchName {
    /// Checks a branch name against git's ref-name rules.
    pub fn parse(raw: &str) -> Result<BranchName, &'static str> {
        const RULE: &str = "must be a valid git branch name (1 to 255 characters, no spaces, '..', '~', '^', ':', '?', '*', '[', '\\' or control characters)";
        let bad_char =
            |c: char| c.is_control() || c.is_whitespace() || matches!(c, '~' | '^' | ':' | '?' | '*' | '[' | '\\');
        let ok = !raw.is_empty()
            && raw.len() <= 255
            && !raw.chars().any(bad_char)
            && !raw.contains("..")
            && !raw.contains("@{")
            && !raw.contains("//")
            && !raw.starts_with(['-', '/', '.'])
            && !raw.ends_with(['/', '.'])
            && !raw.ends_with(".lock")
            && raw != "@";
        if ok { Ok(BranchName(raw.to_owned())) } else { Err(RULE) }
    }
}

impl Label {
    /// Checks a short label: 1 to 100 characters once trimmed, no control, bidirectional or
    /// zero-width characters; kept in NFC.
    pub fn parse(raw: &str) -> Result<Label, &'static str> {
        let trimmed: String = raw.trim().nfc().collect();
        if trimmed.is_empty() || trimmed.chars().count() > 100 || trimmed.chars().any(char::is_control) {
            return Err("must be 1 to 100 characters without control characters");
        }
        if let Some(message) = invisible_controls(&trimmed) {
            return Err(message);
        }
        Ok(Label(trimmed))
    }
}

/// A password as typed. Never printed: `Debug` hides it.
pub struct Password(String);

impl Password {
    /// Checks the length rules (10 to 1024 characters).
    pub fn parse(raw: String) -> Result<Password, &'static str> {
        match raw.chars().count() {
            0..10 => Err("must be at least 10 characters"),
            10..=1024 => Ok(Password(raw)),
            _ => Err("must be at most 1024 characters"),
        }
    }

    /// The secret, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(Email::parse("  Ada@Example.COM ").unwrap().as_str(), "ada@example.com");
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@exa..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        // NFD "é" (e + U+0301) is stored as NFC "é".
        assert_eq!(
            Email::parse("Rene\u{301}@EXAMPLE.com").unwrap().as_str(),
            "ren\u{e9}@example.com"
        );
        for bad in [
            "ad\u{202E}a@example.com",
            "a\u{200B}da@example.com",
            "ada:x@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
            assert!(Email::lookup(bad).is_ok(), "older accounts are still found: {bad}");
        }
    }

    #[test]
    fn labels() {
        assert_eq!(Label::parse("  Ada ").unwrap().as_str(), "Ada");
        for bad in ["", "   ", "a\u{0}b", "Ada\u{2067}", "A\u{FEFF}da", &"x".repeat(101)] {
            assert!(Label::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn app_names() {
        for good in ["web", "my-app-2", "a23"] {
            assert!(AppName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            "2app",
            "app-",
            "App",
            "my_app",
            &"a".repeat(49),
            "deadbeef-dead-beef-dead-beefdeadbeef",
        ] {
            assert!(AppName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn branches() {
        for good in ["main", "release/1.2", "feature-x"] {
            assert!(BranchName::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "a..b", "-x", "x/", "x.lock", "a~1"] {
            assert!(BranchName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords() {
        assert!(Password::parse("short".into()).is_err());
        assert!(Password::parse("long enough!".into()).is_ok());
        assert_eq!(
            format!("{:?}", Password::parse("long enough!".into()).unwrap()),
            "Password(..)"
        );
    }
}

string_newtype!(
    /// An environment variable name: `[A-Za-z_][A-Za-z0-9_]*`, at most 256 characters.
    VariableName
);
string_newtype!(
    /// A lower-case identifier such as an add-on provider, a plan or a container type.
    Slug
);

impl VariableName {
    /// Checks a variable name.
    pub fn parse(raw: &str) -> Result<VariableName, &'static str> {
        let mut chars = raw.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if first_ok && rest_ok && raw.len() <= 256 {
            Ok(VariableName(raw.to_owned()))
        } else {
            Err("must match [A-Za-z_][A-Za-z0-9_]* and be at most 256 characters")
        }
    }
}

/// The largest variable value, in bytes.
pub const MAX_VARIABLE_VALUE: usize = 64 * 1024;

/// Checks a variable value's size.
pub fn check_variable_value(value: &str) -> Result<(), &'static str> {
    if value.len() <= MAX_VARIABLE_VALUE {
        Ok(())
    } else {
        Err("must be at most 65536 bytes")
    }
}

impl Slug {
    /// Checks an identifier: 1 to 64 characters of `a-z`, `0-9` and `-`, starting with a
    /// letter or digit.
    pub fn parse(raw: &str) -> Result<Slug, &'static str> {
        let ok = (1..=64).contains(&raw.len())
            && raw.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && raw
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(Slug(raw.to_owned()))
        } else {
            Err("must be 1 to 64 characters of a-z, 0-9 and '-'")
        }
    }
}

/// Where a deployment stands, as the platform reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeploymentStatus {
    /// Waiting for a builder.
    Queued,
    /// Building the image.
    Building,
    /// Pushing the image.
    Pushing,
    /// Starting containers.
    Starting,
    /// Running the new version.
    Success,
    /// Containers crashed on start.
    CrashedError,
    /// Containers took too long to start.
    TimeoutError,
    /// The build failed.
    BuildError,
    /// Cancelled.
    Aborted,
}

impl DeploymentStatus {
    /// Every status.
    pub const ALL: [DeploymentStatus; 9] = [
        DeploymentStatus::Queued,
        DeploymentStatus::Building,
        DeploymentStatus::Pushing,
        DeploymentStatus::Starting,
        DeploymentStatus::Success,
        DeploymentStatus::CrashedError,
        DeploymentStatus::TimeoutError,
        DeploymentStatus::BuildError,
        DeploymentStatus::Aborted,
    ];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            DeploymentStatus::Queued => "queued",
            DeploymentStatus::Building => "building",
            DeploymentStatus::Pushing => "pushing",
            DeploymentStatus::Starting => "starting",
            DeploymentStatus::Success => "success",
            DeploymentStatus::CrashedError => "crashed-error",
            DeploymentStatus::TimeoutError => "timeout-error",
            DeploymentStatus::BuildError => "build-error",
            DeploymentStatus::Aborted => "aborted",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Option<DeploymentStatus> {
        DeploymentStatus::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Whether the deployment is over: no status follows a final one.
    pub const fn is_final(self) -> bool {
        match self {
            DeploymentStatus::Queued
            | DeploymentStatus::Building
            | DeploymentStatus::Pushing
            | DeploymentStatus::Starting => false,
            DeploymentStatus::Success
            | DeploymentStatus::CrashedError
            | DeploymentStatus::TimeoutError
            | DeploymentStatus::BuildError
            | DeploymentStatus::Aborted => true,
        }
    }
}

#[cfg(test)]
mod resource_tests {
    use super::*;

    #[test]
    fn variable_names() {
        for good in ["DATABASE_URL", "_x", "a1"] {
            assert!(VariableName::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "1A", "A-B", "A B", &"A".repeat(257)] {
            assert!(VariableName::parse(bad).is_err(), "{bad}");
        }
        assert!(check_variable_value(&"x".repeat(MAX_VARIABLE_VALUE)).is_ok());
        assert!(check_variable_value(&"x".repeat(MAX_VARIABLE_VALUE + 1)).is_err());
    }

    #[test]
    fn statuses() {
        for s in DeploymentStatus::ALL {
            assert_eq!(DeploymentStatus::parse(s.as_str()), Some(s));
        }
        assert!(DeploymentStatus::Success.is_final() && !DeploymentStatus::Building.is_final());
    }
}
