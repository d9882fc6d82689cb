//! Log drains: where the platform forwards an app's logs. An [`AppRecord`] whose URL is its
//! secret (a drain URL often carries a credential): sealed at rest, shown to members with its
//! credentials replaced by `***` (see [`redacted`]), and given in full only to the platform.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::extract::{Json, Path};
use super::openapi::AppPath;
use super::records::{AppRecord, Draft, open_secret};

use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::kinds::{EventKind, OrderKind};
use crate::state::AppState;
use crate::store::{AppRef, StoredRecord};

/// The schemes a drain may use.
const SCHEMES: [&str; 3] = ["https", "syslog+tls", "syslog"];

/// Body of `POST /v1/apps/{app}/log-drains`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogDrainBody {
    /// `https://…`, `syslog+tls://host:port` or `syslog://host:port`; it may carry a user and
    /// password, which are kept sealed.
    #[schema(max_length = 2048, example = "syslog+tls://logs.example.com:6514")]
    pub url: String,
}

/// A log drain, as members see it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LogDrain {
    /// Id.
    pub id: Uuid,
    /// The URL, with its credentials replaced by `***`: the password, a user name that comes
    /// without one (a token, as many log services use), and the value of every query parameter.
    pub url: String,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

/// `url` with its credentials replaced by `***`; or why it is not a drain URL. A credential
/// rides in the password, in a user name alone (`https://TOKEN@host`), or in a query parameter
/// (`?api_key=…`): each is hidden, the parameters' names kept. (A token written into the path
/// cannot be told from the path itself, and is shown: docs/api.md says so.)
fn redacted(raw: &str) -> Result<String, &'static str> {
    const RULE: &str = "must be an https://, syslog+tls:// or syslog:// URL with a host";
    if raw.len() > 2048 {
        return Err("must be at most 2048 characters");
    }
    let mut url = reqwest::Url::parse(raw).map_err(|_| RULE)?;
    if !SCHEMES.contains(&url.scheme()) || url.host_str().is_none_or(str::is_empty) {
        return Err(RULE);
    }
    if url.scheme().starts_with("syslog") && url.port().is_none() {
        return Err("a syslog URL must name its port, such as syslog+tls://logs.example.com:6514");
    }
    if url.password().is_some() {
        url.set_password(Some("***")).map_err(|()| RULE)?;
    } else if !url.username().is_empty() {
        url.set_username("***").map_err(|()| RULE)?;
    }
    if url.query().is_some() {
        let names: Vec<String> = url.query_pairs().map(|(name, _)| name.into_owned()).collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(names.iter().map(|name| (name.as_str(), "***")));
    }
    Ok(url.to_string())
}

/// Why a drain URL names an internal destination, if it does: the platform would forward an
/// app's logs to itself, its metadata service or its private network (server-side request
/// forgery). A host that is an address is judged by its range; a numeric host written in any
/// form but dotted decimal (`0x7f000001`, `2130706433`, `127.1`, `0177.0.0.1`) is refused,
/// since resolvers read those forms differently; `localhost` and its subdomains are loopback.
/// A name that resolves to such an address at delivery is the platform's to check.
pub fn internal_destination(raw: &str) -> Option<&'static str> {
    const RULE: &str = "must not name an internal destination (loopback, link-local, private, unspecified or \
                        multicast addresses, or localhost); set ROLEGATE_LOG_DRAIN_ALLOW_PRIVATE=1 where drains are \
                        internal";
    const NUMERIC: &str = "must write a numeric host as four decimal numbers (such as 192.0.2.10): other forms of an \
                           address are refused";
    let url = reqwest::Url::parse(raw).ok()?;
    let written = written_host(raw)?.to_ascii_lowercase();
    let ip = match url.host()? {
        url::Host::Ipv4(ip) => {
            // The parser reads `0x7f000001` and friends as an address: only the canonical
            // spelling may stand.
            if written != ip.to_string() {
                return Some(NUMERIC);
            }
            std::net::IpAddr::V4(ip)
        }
        url::Host::Ipv6(ip) => std::net::IpAddr::V6(ip),
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "localhost" || name.ends_with(".localhost") {
                return Some(RULE);
            }
            // A syslog URL's host is not parsed as an address: read numeric forms here.
            match numeric_ipv4(&name) {
                Some(ip) if name == ip.to_string() => std::net::IpAddr::V4(ip),
                Some(_) => return Some(NUMERIC),
                None => return None,
            }
        }
    };
    internal_ip(ip).then_some(RULE)
}

/// The host as the URL writes it (after any user info, before any port).
fn written_host(raw: &str) -> Option<&str> {
    let rest = raw.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.starts_with('[') {
        return host_port.split_once(']').map(|(h, _)| &h[1..]);
    }
    Some(host_port.rsplit_once(':').map_or(host_port, |(h, _)| h))
}

/// A host of one to four dot-separated numbers, each decimal, `0x` hexadecimal or `0`-led
/// octal, the last filling the remaining bytes: how resolvers read numeric hosts.
fn numeric_ipv4(name: &str) -> Option<std::net::Ipv4Addr> {
    let parts: Vec<&str> = name.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut numbers = Vec::with_capacity(parts.len());
    for part in &parts {
        let (digits, radix) = if let Some(hex) = part.strip_prefix("0x") {
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (*part, 10)
        };
        if digits.is_empty() && radix != 16 {
            return None;
        }
        let value = if digits.is_empty() {
            0
        } else {
            u64::from_str_radix(digits, radix).ok()?
        };
        numbers.push(value);
    }
    let (last, leading) = numbers.split_last()?;
    if leading.iter().any(|&n| n > 255) || *last >= 1u64 << (8 * (5 - numbers.len())) {
        return None;
    }
    let mut value = *last;
    for (i, n) in leading.iter().enumerate() {
        value |= n << (8 * (3 - i));
    }
    u32::try_from(value).ok().map(std::net::Ipv4Addr::from)
}

/// Loopback, link-local, private (RFC 1918, RFC 4193), unspecified, "this network",
/// broadcast or multicast; IPv4 addresses inside IPv6 are judged as IPv4.
fn internal_ip(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.octets()[0] == 0
        }
        std::net::IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return internal_ip(std::net::IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

impl AppRecord for LogDrain {
    const KIND: &'static str = "log_drain";
    const PLURAL: &'static str = "log_drains";
    type View = LogDrain;
    type Body = LogDrainBody;
    const EVENTS: [EventKind; 3] = [
        EventKind::LogDrainAdded,
        EventKind::LogDrainAdded,
        EventKind::LogDrainRemoved,
    ];
    const ORDERS: [Option<OrderKind>; 2] = [Some(OrderKind::LogDrainAdd), Some(OrderKind::LogDrainRemove)];
    const CONFLICT: &'static str = "the app already drains its logs to this URL";

    fn create(body: LogDrainBody, config: &Config) -> Result<Draft, ApiError> {
        let shown = redacted(body.url.trim()).map_err(|m| ApiError::invalid("url", m))?;
        if !config.platform.log_drain_allow_private {
            internal_destination(body.url.trim()).map_or(Ok(()), |m| Err(ApiError::invalid("url", m)))?;
        }
        Ok(Draft {
            // One drain per destination: the same URL twice would send every line twice.
            unique_key: Some(shown.clone()),
            data: serde_json::json!({ "url": shown }),
            secret: Some(body.url.trim().to_owned()),
        })
    }

    fn view(record: &StoredRecord) -> Result<LogDrain, ApiError> {
        Ok(LogDrain {
            id: record.id,
            url: record.data.0["url"].as_str().unwrap_or_default().to_owned(),
            created_at: record.created_at,
        })
    }
}

/// A log drain, as the platform needs it: with its full URL.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PlatformLogDrain {
    /// Id.
    pub id: Uuid,
    /// The full URL, credentials included.
    pub url: String,
}

/// Every drain of an app, for the platform.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PlatformLogDrains {
    /// Oldest first.
    pub items: Vec<PlatformLogDrain>,
}

/// `GET /internal/v1/apps/{app}/log-drains`: the app's drains with their full URLs (the
/// orders carry only the redacted one).
#[utoipa::path(get, path = "/internal/v1/apps/{app}/log-drains", params(AppPath), responses(
    (status = 200, description = "Every drain of the app, with its full URL.", body = PlatformLogDrains),
))]
pub async fn platform_log_drains(
    State(state): State<AppState>,
    Path(AppPath { app }): Path<AppPath>,
) -> ApiResult<Json<PlatformLogDrains>> {
    let app = state
        .store
        .app_by_ref(&AppRef::parse(&app))
        .await?
        .ok_or(ApiError::NotFound("app not found"))?;
    let records = state.store.list_records(app.id, LogDrain::KIND).await?;
    let mut items = Vec::with_capacity(records.len());
    for record in &records {
        items.push(PlatformLogDrain {
            id: record.id,
            url: open_secret(&state, record)?.unwrap_or_default(),
        });
    }
    Ok(Json(PlatformLogDrains { items }))
}

/// This module's operations with their own handler, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(platform_log_drains))]
pub struct Doc;

#[cfg(test)]
mod tests {
    use super::{internal_destination, redacted};

    #[test]
    fn passwords_are_redacted_and_schemes_checked() {
        assert_eq!(
            redacted("https://user:hunter2@logs.example.com/drain?x=1").unwrap(),
            "https://user:***@logs.example.com/drain?x=***"
        );
        // A user name alone is a token; query values are keys.
        assert_eq!(
            redacted("https://tok3n@logs.example.com/drain").unwrap(),
            "https://***@logs.example.com/drain"
        );
        assert_eq!(
            redacted("https://logs.example.com/ingest?api_key=SECRET&tag=web&tag=worker").unwrap(),
            "https://logs.example.com/ingest?api_key=***&tag=***&tag=***"
        );
        assert_eq!(
            redacted("syslog+tls://logs.example.com:6514").unwrap(),
            "syslog+tls://logs.example.com:6514"
        );
        for bad in [
            "http://logs.example.com",
            "syslog://logs.example.com",
            "not a url",
            "https://",
        ] {
            assert!(redacted(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn internal_destinations_are_refused_in_every_spelling() {
        for url in [
            "https://169.254.169.254/latest/meta-data",
            "https://localhost/x",
            "https://LOCALHOST./x",
            "https://logs.localhost/x",
            "https://[::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://[fe80::1]/x",
            "https://[fd00::1]/x",
            "https://10.0.0.1/x",
            "https://172.16.5.4/x",
            "https://192.168.1.1/x",
            "https://0.0.0.0/x",
            "https://224.0.0.1/x",
            "https://0x7f000001/x",
            "https://2130706433/x",
            "https://127.1/x",
            "https://0177.0.0.1/x",
            "https://user:pw@127.0.0.1:8443/x",
            "syslog://127.0.0.1:514",
            "syslog://0x7f000001:514",
            "syslog+tls://2130706433:6514",
            "syslog://[::1]:514",
            "syslog+tls://localhost:6514",
        ] {
            assert!(internal_destination(url).is_some(), "{url}");
        }
        for url in [
            "https://logs.example.com/x",
            "https://93.184.216.34/x",
            "https://[2001:db8::1]/x",
            "syslog+tls://logs.example.com:6514",
            "syslog://198.51.100.7:514",
            "https://logs.example.com:8443/?api_key=1",
        ] {
            assert_eq!(internal_destination(url), None, "{url}");
        }
        // Public addresses written in another form are refused too, naming the rule.
        let numeric = internal_destination("https://0x5db8d822/x").unwrap();
        assert!(numeric.contains("four decimal numbers"), "{numeric}");
    }
}
