//! The client address a request comes from: the socket peer, or, when the peer is a trusted
//! proxy (`ROLEGATE_TRUSTED_PROXIES`), the nearest `X-Forwarded-For` hop that is not one.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

use crate::state::AppState;

/// The client's address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The client behind `peer`: each trusted hop of `X-Forwarded-For` is walked back from the
/// right, and the first address no trusted proxy stands for is the client. A forged header
/// sent straight to the server changes nothing: the peer is not trusted.
pub fn client_of(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        // A garbled hop ends the walk: what is left of it cannot be trusted.
        let Ok(hop) = hop.parse::<IpAddr>() else { break };
        client = hop;
        if !is_trusted(&hop) {
            break;
        }
    }
    client
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // Without a socket (a router driven in-process) the address is unknown: 0.0.0.0.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        Ok(ClientAddr(client_of(
            peer,
            &parts.headers,
            &state.config.accounts.trusted_proxies,
        )))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn only_trusted_proxies_are_believed() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.7, 10.1.1.1"),
        );
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let outsider: IpAddr = "198.51.100.1".parse().unwrap();
        // Through two trusted proxies: the first untrusted hop from the right; the forged
        // left-most entry is ignored.
        assert_eq!(
            client_of(proxy, &headers, &trusted),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        // Straight from the internet, the header is not believed.
        assert_eq!(client_of(outsider, &headers, &trusted), outsider);
        // A trusted peer without the header is the client.
        assert_eq!(client_of(proxy, &HeaderMap::new(), &trusted), proxy);
        // A garbled hop ends the walk at the last good one.
        headers.insert("x-forwarded-for", HeaderValue::from_static("nonsense, 203.0.113.9"));
        assert_eq!(
            client_of(proxy, &headers, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
    }
}
