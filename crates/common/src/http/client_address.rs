//! The address of the client behind a request, for throttling and logs. A client can write any
//! `X-Forwarded-For` it likes, so the header is read only when the TCP peer is one of the
//! trusted proxies (`server.trusted_proxies`), and then only the entries those proxies
//! appended count: the client is the right-most entry that is not a trusted proxy itself.

use actix_web::HttpRequest;
use ipnet::IpNet;
use std::net::IpAddr;

/// The client's address as a string (an IP address; "unknown" without a peer, which only
/// happens for requests built in tests).
pub fn client_address(request: &HttpRequest, trusted_proxies: Option<&[IpNet]>) -> String {
    let Some(peer) = request.peer_addr().map(|a| a.ip()) else { return "unknown".to_owned() };
    let Some(trusted) = trusted_proxies else { return peer.to_string() };
    let forwarded = request.headers().get_all("x-forwarded-for").filter_map(|value| value.to_str().ok());
    forwarded_client(peer, forwarded, trusted)
}

/// The walk from the peer leftwards through `X-Forwarded-For` (several header lines are one
/// list, in order), stopping at the first hop no trusted proxy could have been.
fn forwarded_client<'a>(peer: IpAddr, header_lines: impl Iterator<Item = &'a str>, trusted: &[IpNet]) -> String {
    let is_trusted = |address: &IpAddr| trusted.iter().any(|net| net.contains(address));
    if !is_trusted(&peer) {
        return peer.to_string();
    }
    let hops: Vec<&str> = header_lines.flat_map(|line| line.split(',')).map(str::trim).filter(|hop| !hop.is_empty()).collect();
    let mut client = peer.to_string();
    for hop in hops.iter().rev() {
        // A trusted proxy wrote this entry, so it is what that proxy saw, even if it does
        // not parse; a trusted address means one more proxy hop to look past.
        match hop.parse::<IpAddr>() {
            Ok(address) if is_trusted(&address) => client = address.to_string(),
            Ok(address) => return address.to_string(),
            Err(_) => return (*hop).to_owned(),
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().expect("net")).collect()
    }

    fn client(peer: &str, lines: &[&str], trusted: &[&str]) -> String {
        forwarded_client(peer.parse().expect("peer"), lines.iter().copied(), &nets(trusted))
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        assert_eq!(client("203.0.113.9", &["198.51.100.1"], &["127.0.0.1/32"]), "203.0.113.9");
    }

    #[test]
    fn the_right_most_untrusted_entry_is_the_client() {
        // The client wrote "1.2.3.4"; the proxy appended the address it saw.
        assert_eq!(client("127.0.0.1", &["1.2.3.4, 203.0.113.7"], &["127.0.0.1/32"]), "203.0.113.7");
        // Two proxies: the outer one (10.0.0.5) is trusted too.
        assert_eq!(client("127.0.0.1", &["1.2.3.4, 203.0.113.7, 10.0.0.5"], &["127.0.0.1/32", "10.0.0.0/8"]), "203.0.113.7");
        // Several header lines are one list.
        assert_eq!(client("127.0.0.1", &["1.2.3.4", "203.0.113.7"], &["127.0.0.1/32"]), "203.0.113.7");
    }

    #[test]
    fn without_a_header_or_with_only_proxies_the_last_proxy_is_the_client() {
        assert_eq!(client("127.0.0.1", &[], &["127.0.0.1/32"]), "127.0.0.1");
        assert_eq!(client("127.0.0.1", &["10.0.0.5"], &["127.0.0.1/32", "10.0.0.0/8"]), "10.0.0.5");
    }
}
