//! Resolution of the client address behind trusted proxies (contract 3.4, \[D-26\]).
//!
//! Each proxy appends the address of its own peer to `X-Forwarded-For`, so only the entries
//! written by proxies we trust can be believed. Walking the list from the right and skipping
//! trusted hops yields the first address that no trusted proxy vouches for beyond: the client.
//! Entries further left were supplied by the client and are ignored, which makes a forged
//! header useless for getting a fresh rate-limit bucket.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use actix_web::http::header::HeaderMap;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// The resolved client address, stored in request extensions by the rate limiter so that
/// handlers (audit log, section 11.5) use the same address the limiter keyed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The contract's default `TRUSTED_PROXIES`: loopback and private ranges.
pub fn default_trusted_proxies() -> Vec<IpNet> {
    vec![
        IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(127, 0, 0, 0), 8)),
        IpNet::V6(Ipv6Net::new_assert(Ipv6Addr::LOCALHOST, 128)),
        IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(10, 0, 0, 0), 8)),
        IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(172, 16, 0, 0), 12)),
        IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(192, 168, 0, 0), 16)),
        IpNet::V6(Ipv6Net::new_assert(
            Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
            7,
        )),
    ]
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

/// Parses one forwarded entry: a bare address, or `ip:port` / `[v6]:port` as some proxies
/// write. IPv4-mapped IPv6 addresses are folded to IPv4 so that one client has one key.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

/// Returns the client address of a request.
///
/// - `peer` untrusted (or unknown): the peer itself; forwarding headers are ignored.
/// - `peer` trusted: the right-most untrusted address of `X-Forwarded-For` (all occurrences of
///   the header, in order); when every entry is trusted, the left-most one. An unparsable
///   entry ends the walk (nothing to its left can be believed) and the last trusted address
///   seen is used. Without `X-Forwarded-For`, a valid `X-Real-IP`; otherwise the peer.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = peer?.to_canonical();
    if !is_trusted(peer, trusted) {
        return Some(peer);
    }

    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();

    if forwarded.is_empty() {
        let real_ip = headers
            .get("x-real-ip")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_entry);
        return Some(real_ip.unwrap_or(peer));
    }

    let mut last_trusted = peer;
    for entry in forwarded.iter().rev() {
        match parse_entry(entry) {
            Some(ip) if is_trusted(ip, trusted) => last_trusted = ip,
            Some(ip) => return Some(ip),
            None => break,
        }
    }
    Some(last_trusted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("test header name"),
                HeaderValue::from_str(value).expect("test header value"),
            );
        }
        map
    }

    fn resolve(peer: &str, pairs: &[(&str, &str)]) -> Option<IpAddr> {
        client_ip(Some(ip(peer)), &headers(pairs), &default_trusted_proxies())
    }

    #[test]
    fn untrusted_peer_is_the_client_and_a_forged_forwarded_for_is_ignored() {
        assert_eq!(resolve("203.0.113.7", &[]), Some(ip("203.0.113.7")));
        assert_eq!(
            resolve(
                "203.0.113.7",
                &[("x-forwarded-for", "1.2.3.4"), ("x-real-ip", "5.6.7.8")]
            ),
            Some(ip("203.0.113.7"))
        );
    }

    #[test]
    fn unknown_peer_gives_no_address() {
        let h = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(client_ip(None, &h, &default_trusted_proxies()), None);
    }

    #[test]
    fn trusted_peer_uses_the_right_most_untrusted_forwarded_entry() {
        // The client forged "6.6.6.6"; nginx appended the real address 198.51.100.9.
        assert_eq!(
            resolve("127.0.0.1", &[("x-forwarded-for", "6.6.6.6, 198.51.100.9")]),
            Some(ip("198.51.100.9"))
        );
        // Two trusted hops to the right of the client are skipped.
        assert_eq!(
            resolve(
                "10.0.0.2",
                &[(
                    "x-forwarded-for",
                    "6.6.6.6, 198.51.100.9, 10.0.0.3, 192.168.1.1"
                )]
            ),
            Some(ip("198.51.100.9"))
        );
    }

    #[test]
    fn repeated_forwarded_for_headers_are_read_in_order() {
        assert_eq!(
            resolve(
                "127.0.0.1",
                &[
                    ("x-forwarded-for", "6.6.6.6"),
                    ("x-forwarded-for", "198.51.100.9, 10.0.0.1")
                ]
            ),
            Some(ip("198.51.100.9"))
        );
    }

    #[test]
    fn all_trusted_entries_give_the_left_most() {
        assert_eq!(
            resolve(
                "127.0.0.1",
                &[("x-forwarded-for", "192.168.0.10, 10.1.1.1, 172.16.0.1")]
            ),
            Some(ip("192.168.0.10"))
        );
    }

    #[test]
    fn an_unparsable_entry_stops_the_walk_at_the_last_trusted_address() {
        assert_eq!(
            resolve(
                "127.0.0.1",
                &[("x-forwarded-for", "1.2.3.4, garbage, 10.0.0.5")]
            ),
            Some(ip("10.0.0.5"))
        );
        assert_eq!(
            resolve("127.0.0.1", &[("x-forwarded-for", "garbage")]),
            Some(ip("127.0.0.1"))
        );
    }

    #[test]
    fn entries_with_ports_and_ipv6_are_understood() {
        assert_eq!(
            resolve(
                "::1",
                &[("x-forwarded-for", "[2001:db8::1]:4711, 10.0.0.1:80")]
            ),
            Some(ip("2001:db8::1"))
        );
        assert_eq!(
            resolve("fd00::1", &[("x-forwarded-for", "203.0.113.1:1234")]),
            Some(ip("203.0.113.1"))
        );
    }

    #[test]
    fn ipv4_mapped_peers_are_folded_to_ipv4() {
        // ::ffff:127.0.0.1 is loopback once folded, so it is trusted.
        assert_eq!(
            resolve("::ffff:127.0.0.1", &[("x-forwarded-for", "198.51.100.9")]),
            Some(ip("198.51.100.9"))
        );
        assert_eq!(resolve("::ffff:203.0.113.7", &[]), Some(ip("203.0.113.7")));
    }

    #[test]
    fn x_real_ip_is_used_only_without_forwarded_for() {
        assert_eq!(
            resolve("127.0.0.1", &[("x-real-ip", "198.51.100.9")]),
            Some(ip("198.51.100.9"))
        );
        assert_eq!(
            resolve(
                "127.0.0.1",
                &[
                    ("x-real-ip", "5.6.7.8"),
                    ("x-forwarded-for", "198.51.100.9")
                ]
            ),
            Some(ip("198.51.100.9"))
        );
        assert_eq!(
            resolve("127.0.0.1", &[("x-real-ip", "not-an-ip")]),
            Some(ip("127.0.0.1"))
        );
    }

    #[test]
    fn trusted_peer_without_headers_is_the_client() {
        assert_eq!(resolve("192.168.5.5", &[]), Some(ip("192.168.5.5")));
    }

    #[test]
    fn an_empty_trusted_list_trusts_nobody() {
        let h = headers(&[("x-forwarded-for", "198.51.100.9")]);
        assert_eq!(
            client_ip(Some(ip("127.0.0.1")), &h, &[]),
            Some(ip("127.0.0.1"))
        );
    }

    #[test]
    fn default_trusted_list_matches_the_contract() {
        let nets: Vec<String> = default_trusted_proxies()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            nets,
            [
                "127.0.0.0/8",
                "::1/128",
                "10.0.0.0/8",
                "172.16.0.0/12",
                "192.168.0.0/16",
                "fc00::/7"
            ]
        );
    }
}
