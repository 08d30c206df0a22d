//! What the client decides from a host name or address alone (may it use plain HTTP, may a
//! registry send us there) and how a secret may be spelled when a server echoes it back.

use base64::Engine as _;

/// The host of `host:port` or `[v6]:port`.
pub(super) fn host_only(hostport: &str) -> &str {
    if let Some(r) = hostport.strip_prefix('[') {
        return r.split(']').next().unwrap_or(r);
    }
    match hostport.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => hostport,
    }
}

pub(super) fn is_loopback(hostport: &str) -> bool {
    let h = host_only(hostport);
    h == "localhost"
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Where a host is, as far as its name tells: a redirect or token realm may point only where
/// the registry itself is or somewhere more public.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reach {
    Public,
    /// RFC 1918, unique-local IPv6, carrier-grade NAT.
    Private,
    /// Link-local addresses (169.254/16, fe80::/10), where cloud metadata services answer, and
    /// their well-known names.
    LinkLocal,
    Loopback,
}

pub(super) fn reach(hostport: &str) -> Reach {
    use std::net::IpAddr;
    if is_loopback(hostport) {
        return Reach::Loopback;
    }
    let h = host_only(hostport)
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if matches!(h.as_str(), "metadata" | "metadata.google.internal") {
        return Reach::LinkLocal;
    }
    match h.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            let o = ip.octets();
            if ip.is_link_local() {
                Reach::LinkLocal
            } else if ip.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64) || ip.is_unspecified()
            {
                Reach::Private
            } else {
                Reach::Public
            }
        }
        Ok(IpAddr::V6(ip)) => {
            if let Some(v4) = ip.to_ipv4_mapped() {
                return reach(&v4.to_string());
            }
            if ip.is_loopback() {
                return Reach::Loopback;
            }
            let first = ip.segments()[0];
            if first & 0xffc0 == 0xfe80
                || ip == std::net::Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)
            {
                Reach::LinkLocal
            } else if first & 0xfe00 == 0xfc00 || ip.is_unspecified() {
                Reach::Private
            } else {
                Reach::Public
            }
        }
        Err(_) => Reach::Public,
    }
}

/// Whether a registry at `from` may send us to `to`: loopback only from loopback, link-local
/// (metadata services) only from link-local, private networks from anywhere but the public
/// internet.
pub(super) fn may_point(from: Reach, to: Reach) -> bool {
    match to {
        Reach::Public => true,
        Reach::Private => from != Reach::Public,
        Reach::LinkLocal | Reach::Loopback => from == to,
    }
}

/// The ways a secret may come back in a server's text: as it is, base64-encoded (standard and
/// URL-safe alphabets, so also inside a `Basic` header) and percent-encoded (as in a form or a
/// query, with upper- or lower-case hex digits).
pub(super) fn spellings(secret: &str) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let mut form = String::new();
    for b in secret.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' | b'~' => {
                form.push(char::from(b))
            }
            b' ' => form.push('+'),
            _ => form.push_str(&format!("%{b:02X}")),
        }
    }
    let lower = percent_lower(&form);
    let b64 = STANDARD.encode(secret);
    let b64_bare = b64.trim_end_matches('=').to_string();
    vec![
        secret.to_string(),
        form,
        lower,
        b64,
        b64_bare,
        URL_SAFE_NO_PAD.encode(secret),
    ]
}

/// `%2F` → `%2f` in a percent-encoded string.
fn percent_lower(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut hex_left = 0;
    for c in s.chars() {
        if hex_left > 0 {
            out.push(c.to_ascii_lowercase());
            hex_left -= 1;
        } else {
            if c == '%' {
                hex_left = 2;
            }
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_targets_are_no_closer_than_the_registry() {
        for (host, want) in [
            ("registry-1.docker.io", Reach::Public),
            ("8.8.8.8:443", Reach::Public),
            ("[2001:db8::1]:5000", Reach::Public),
            ("10.1.2.3", Reach::Private),
            ("172.20.0.1:5000", Reach::Private),
            ("192.168.1.1", Reach::Private),
            ("100.100.100.200", Reach::Private),
            ("[fd12::1]", Reach::Private),
            ("169.254.169.254", Reach::LinkLocal),
            ("169.254.169.254:80", Reach::LinkLocal),
            ("[fe80::1]", Reach::LinkLocal),
            ("[fd00:ec2::254]", Reach::LinkLocal),
            ("[::ffff:169.254.169.254]", Reach::LinkLocal),
            ("metadata.google.internal", Reach::LinkLocal),
            ("localhost:5000", Reach::Loopback),
            ("127.0.0.2", Reach::Loopback),
            ("[::1]:80", Reach::Loopback),
        ] {
            assert_eq!(reach(host), want, "{host}");
        }
        use Reach::*;
        assert!(may_point(Public, Public));
        assert!(!may_point(Public, Private));
        assert!(!may_point(Public, LinkLocal));
        assert!(!may_point(Public, Loopback));
        assert!(may_point(Private, Private));
        assert!(may_point(Loopback, Private));
        assert!(!may_point(Loopback, LinkLocal));
        assert!(!may_point(Private, Loopback));
        assert!(may_point(Loopback, Loopback));
        assert!(may_point(LinkLocal, LinkLocal));
    }
}
