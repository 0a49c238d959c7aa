//! Client IP handling: which address a hit came from (the socket peer, or,
//! behind trusted proxies, the right-most untrusted hop of the forwarding
//! chain that `http::request::forwarded_chain` reads from `Forwarded`,
//! `X-Forwarded-For` or a configured client-IP header), and its truncation
//! to a network prefix (IPv4 /24, IPv6 /48).

use std::net::IpAddr;

use crate::model::net::mask;
pub use crate::model::net::{canonical, Cidr};

/// The network a visitor is in (IPv4 /24, IPv6 /48), as an address.
pub fn network(ip: IpAddr) -> IpAddr {
    let ip = canonical(ip);
    mask(ip, if ip.is_ipv4() { 24 } else { 48 })
}

/// The network a visitor is in, coarse enough not to single anyone out:
/// IPv4 /24 (`203.0.113.0/24`), IPv6 /48 (`2001:db8:1::/48`).
pub fn truncate(ip: IpAddr) -> String {
    let net = network(ip);
    format!("{net}/{}", if net.is_ipv4() { 24 } else { 48 })
}

/// One hop of a forwarding chain: an address, possibly quoted, in brackets
/// (`[2001:db8::1]`), or with a port (`192.0.2.1:8080`, `[2001:db8::1]:443`).
/// `unknown` and obfuscated identifiers (`_hidden`) are not addresses.
pub fn parse_hop(hop: &str) -> Option<IpAddr> {
    let h = hop.trim().trim_matches('"');
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    if let Ok(ip) = h.parse() {
        return Some(ip);
    }
    // An IPv4 address with a port (an IPv6 address with a port is bracketed).
    let (addr, port) = h.rsplit_once(':')?;
    if port.bytes().all(|b| b.is_ascii_digit()) && !addr.contains(':') {
        return addr.parse().ok();
    }
    None
}

/// The client address: the peer, unless the peer is a trusted proxy; then
/// walk the forwarding chain (comma-separated hops, client first) from the
/// right and take the first untrusted hop. A hop that is not an address
/// stops the walk at the last trusted one.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[Cidr]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let Some(xff) = forwarded_for else {
        return peer;
    };
    let mut current = peer;
    for hop in xff.rsplit(',') {
        let Some(ip) = parse_hop(hop) else {
            return current;
        };
        let ip = canonical(ip);
        current = ip;
        if !is_trusted(ip) {
            return ip;
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_rightmost_untrusted_hop_of_the_whole_chain() {
        let proxy: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer = ip("10.0.0.2");
        // HAProxy appended its own line: the client's forged first line loses.
        assert_eq!(
            client_ip(peer, Some("6.6.6.6,198.51.100.7"), &proxy),
            ip("198.51.100.7")
        );
        // A hop with a port no longer stops the walk at the proxy.
        assert_eq!(
            client_ip(peer, Some("198.51.100.7:5678, 10.0.0.9"), &proxy),
            ip("198.51.100.7")
        );
        // Forwarded with an obfuscated hop: the walk stops at the last trusted one.
        assert_eq!(client_ip(peer, Some("198.51.100.7,_hidden"), &proxy), peer);
        // An untrusted peer's chain is never believed.
        assert_eq!(
            client_ip(ip("203.0.113.1"), Some("1.2.3.4"), &proxy),
            ip("203.0.113.1")
        );
    }

    #[test]
    fn hops_with_ports_brackets_and_quotes() {
        assert_eq!(parse_hop(" 203.0.113.9 "), Some(ip("203.0.113.9")));
        assert_eq!(parse_hop("203.0.113.9:51234"), Some(ip("203.0.113.9")));
        assert_eq!(parse_hop("\"[2001:db8::1]:4711\""), Some(ip("2001:db8::1")));
        assert_eq!(parse_hop("[2001:db8::2]"), Some(ip("2001:db8::2")));
        assert_eq!(parse_hop("2001:db8::3"), Some(ip("2001:db8::3")));
        assert_eq!(parse_hop("unknown"), None);
        assert_eq!(parse_hop("_hidden"), None);
    }

    #[test]
    fn truncation_keeps_only_the_network() {
        assert_eq!(truncate(ip("203.0.113.77")), "203.0.113.0/24");
        assert_eq!(truncate(ip("2001:db8:abcd:12::1")), "2001:db8:abcd::/48");
        assert_eq!(truncate(ip("::ffff:198.51.100.9")), "198.51.100.0/24");
    }

    #[test]
    fn cidr_parsing_and_matching() {
        let c: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(c.contains(ip("10.1.200.3")));
        assert!(!c.contains(ip("10.2.0.1")));
        assert!(!c.contains(ip("::1")));
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert!(one.contains(ip("::ffff:127.0.0.1")));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("nope/8".parse::<Cidr>().is_err());
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")));
    }

    #[test]
    fn forwarded_for_is_used_only_behind_trusted_proxies() {
        let trusted: Vec<Cidr> = vec![
            "127.0.0.1/32".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ];
        // Untrusted peer: header ignored (it could be forged).
        assert_eq!(
            client_ip(ip("198.51.100.1"), Some("1.2.3.4"), &trusted),
            ip("198.51.100.1")
        );
        // Trusted peer: right-most untrusted hop wins; spoofed left entries ignored.
        assert_eq!(
            client_ip(
                ip("127.0.0.1"),
                Some("6.6.6.6, 203.0.113.5, 10.0.0.2"),
                &trusted
            ),
            ip("203.0.113.5")
        );
        // Garbage hop: stop at the last good address.
        assert_eq!(
            client_ip(ip("127.0.0.1"), Some("junk, 10.0.0.3"), &trusted),
            ip("10.0.0.3")
        );
        assert_eq!(client_ip(ip("127.0.0.1"), None, &trusted), ip("127.0.0.1"));
    }
}
