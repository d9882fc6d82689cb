//! The settings of accounts: mail, password hashing, client addresses, token lifetimes.

use ipnet::IpNet;

use super::{ConfigError, err, number};
use crate::mail::MailConfig;

/// How accounts are protected.
#[derive(Clone, Debug)]
pub struct AccountsConfig {
    /// `ROLEGATE_SMTP_URL` and `ROLEGATE_MAIL_FROM`; `None`: no mail is sent.
    pub mail: Option<MailConfig>,
    /// `ROLEGATE_HASH_CONCURRENCY` (default: the number of cores): password hashes computed
    /// at once; the rest wait, at most a second, then answer 503.
    pub hash_concurrency: usize,
    /// `ROLEGATE_TRUSTED_PROXIES`: comma-separated CIDRs whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// `ROLEGATE_TOKEN_MAX_DAYS` (default 365): the longest an API token lives.
    pub token_max_days: i64,
}

impl AccountsConfig {
    /// Reads the settings through `var`.
    pub fn from_lookup(var: impl Fn(&'static str) -> Option<String>) -> Result<AccountsConfig, ConfigError> {
        let mail = match var("ROLEGATE_SMTP_URL") {
            Some(url) => {
                Some(MailConfig::parse(&url, var("ROLEGATE_MAIL_FROM").as_deref()).map_err(|(var, m)| err(var, m))?)
            }
            None => None,
        };
        let cores = crate::store::cores() as usize;
        let hash_concurrency = number(
            "ROLEGATE_HASH_CONCURRENCY",
            var("ROLEGATE_HASH_CONCURRENCY"),
            1..=256,
            "",
            cores,
        )?;
        let trusted_proxies = var("ROLEGATE_TRUSTED_PROXIES")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(|c| {
                        c.parse::<IpNet>()
                            .or_else(|_| c.parse::<std::net::IpAddr>().map(IpNet::from))
                            .map_err(|_| {
                                err(
                                    "ROLEGATE_TRUSTED_PROXIES",
                                    format!("{c:?} is not a CIDR such as 10.0.0.0/8"),
                                )
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        let token_max_days = number(
            "ROLEGATE_TOKEN_MAX_DAYS",
            var("ROLEGATE_TOKEN_MAX_DAYS"),
            1..=3650,
            " days",
            365,
        )?;
        Ok(AccountsConfig {
            mail,
            hash_concurrency,
            trusted_proxies,
            token_max_days,
        })
    }
}
