//! Outgoing-connection safety: which addresses count as public, and a DNS resolver for reqwest
//! that refuses the others (so a hostname cannot smuggle a request to loopback or a private
//! network, including by DNS rebinding: the check is on the addresses actually connected to).
//!
//! IP literals in URLs never reach a resolver: callers check them with [`is_public`] before
//! sending (the [`crate::fetch::Fetcher`] does, on the first URL and on every redirect hop).
//!
//! # The rule
//! An address is public when all of these hold:
//! 1. no IPv4 address embedded in it is non-public: an IPv6 address is decoded in every form
//!    that carries an IPv4 address (IPv4-mapped, IPv4-compatible, IPv4-translated (SIIT), NAT64
//!    with the well-known and the local-use prefix, 6to4, and Teredo's server and client), and
//!    each IPv4 address found is judged by this same rule;
//! 2. the most specific row of `SPECIAL` (the IANA special-purpose address registries) or of
//!    `BEYOND` (multicast and the deprecated IPv6 forms) that holds it says "Globally
//!    Reachable: True" (a row saying False or N/A refuses it);
//! 3. in no row at all, an IPv6 address must be in 2000::/3, the global unicast space (RFC
//!    4291, §2.4); an IPv4 address in no row is public.
//!
//! So `64:ff9b::808:808` (NAT64 of 8.8.8.8: the registry's row is globally reachable, and a
//! DNS64 resolver answers such addresses for IPv4-only names) is public, and
//! `64:ff9b::7f00:1` (NAT64 of 127.0.0.1) is not.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::LazyLock;

/// The "Globally Reachable" column of a special-purpose registry row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reachable {
    True,
    False,
    /// "N/A" (Teredo, 6to4), or left empty (the deprecated 6to4 relay anycast and ORCHID rows).
    NotApplicable,
}

use Reachable::{False, NotApplicable, True};

/// One row: address block, name, RFC, Globally Reachable.
type RowText = (&'static str, &'static str, &'static str, Reachable);

/// The IANA IPv4 and IPv6 Special-Purpose Address Registries, one table (RFC 6890, updated by
/// RFC 8190), transcribed from
/// <https://www.iana.org/assignments/iana-ipv4-special-registry/> and
/// <https://www.iana.org/assignments/iana-ipv6-special-registry/>: every row's address block,
/// name, RFC and "Globally Reachable" column. A registry row naming two blocks (NAT64/DNS64
/// Discovery) is written as two rows.
///
/// Registry versions: the registries as they stood in 2025 — the newest rows are, for IPv4,
/// 192.0.0.10/32 (allocated 2017-02) and, for IPv6, 3fff::/20 (RFC 9637, 2024-07) and
/// 5f00::/16 (RFC 9602, 2024). The table was written without network access, so its rows and
/// the registries' "Last Updated" dates were not compared with the live pages then: compare
/// them whenever this table is touched, and add new rows here (the unit tests demand an
/// address for each).
const SPECIAL: &[RowText] = &[
    // IPv4
    ("0.0.0.0/8", "\"This network\"", "RFC 791, Section 3.2", False),
    ("0.0.0.0/32", "\"This host on this network\"", "RFC 1122, Section 3.2.1.3", False),
    ("10.0.0.0/8", "Private-Use", "RFC 1918", False),
    ("100.64.0.0/10", "Shared Address Space", "RFC 6598", False),
    ("127.0.0.0/8", "Loopback", "RFC 1122, Section 3.2.1.3", False),
    ("169.254.0.0/16", "Link Local", "RFC 3927", False),
    ("172.16.0.0/12", "Private-Use", "RFC 1918", False),
    ("192.0.0.0/24", "IETF Protocol Assignments", "RFC 6890, Section 2.1", False),
    ("192.0.0.0/29", "IPv4 Service Continuity Prefix", "RFC 7335", False),
    ("192.0.0.8/32", "IPv4 dummy address", "RFC 7600", False),
    ("192.0.0.9/32", "Port Control Protocol Anycast", "RFC 7723", True),
    ("192.0.0.10/32", "Traversal Using Relays around NAT Anycast", "RFC 8155", True),
    ("192.0.0.170/32", "NAT64/DNS64 Discovery", "RFC 8880, RFC 7050 Section 2.2", False),
    ("192.0.0.171/32", "NAT64/DNS64 Discovery", "RFC 8880, RFC 7050 Section 2.2", False),
    ("192.0.2.0/24", "Documentation (TEST-NET-1)", "RFC 5737", False),
    ("192.31.196.0/24", "AS112-v4", "RFC 7535", True),
    ("192.52.193.0/24", "AMT", "RFC 7450", True),
    ("192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", "RFC 7526", NotApplicable),
    ("192.168.0.0/16", "Private-Use", "RFC 1918", False),
    ("192.175.48.0/24", "Direct Delegation AS112 Service", "RFC 7534", True),
    ("198.18.0.0/15", "Benchmarking", "RFC 2544", False),
    ("198.51.100.0/24", "Documentation (TEST-NET-2)", "RFC 5737", False),
    ("203.0.113.0/24", "Documentation (TEST-NET-3)", "RFC 5737", False),
    ("240.0.0.0/4", "Reserved", "RFC 1112, Section 4", False),
    ("255.255.255.255/32", "Limited Broadcast", "RFC 8190, RFC 919 Section 7", False),
    // IPv6
    ("::1/128", "Loopback Address", "RFC 4291", False),
    ("::/128", "Unspecified Address", "RFC 4291", False),
    ("::ffff:0:0/96", "IPv4-mapped Address", "RFC 4291", False),
    ("64:ff9b::/96", "IPv4-IPv6 Translat.", "RFC 6052", True),
    ("64:ff9b:1::/48", "IPv4-IPv6 Translat.", "RFC 8215", False),
    ("100::/64", "Discard-Only Address Block", "RFC 6666", False),
    ("2001::/23", "IETF Protocol Assignments", "RFC 2928", False),
    ("2001::/32", "TEREDO", "RFC 4380, RFC 8190", NotApplicable),
    ("2001:1::1/128", "Port Control Protocol Anycast", "RFC 7723", True),
    ("2001:1::2/128", "Traversal Using Relays around NAT Anycast", "RFC 8155", True),
    ("2001:2::/48", "Benchmarking", "RFC 5180", False),
    ("2001:3::/32", "AMT", "RFC 7450", True),
    ("2001:4:112::/48", "AS112-v6", "RFC 7535", True),
    ("2001:10::/28", "Deprecated (previously ORCHID)", "RFC 4843", NotApplicable),
    ("2001:20::/28", "ORCHIDv2", "RFC 7343", True),
    ("2001:30::/28", "Drone Remote ID Protocol Entity Tags (DETs) Prefix", "RFC 9374", True),
    ("2001:db8::/32", "Documentation", "RFC 3849", False),
    ("2002::/16", "6to4", "RFC 3056", NotApplicable),
    ("2620:4f:8000::/48", "Direct Delegation AS112 Service", "RFC 7534", True),
    ("3fff::/20", "Documentation", "RFC 9637", False),
    ("5f00::/16", "Segment Routing (SRv6) SIDs", "RFC 9602", False),
    ("fc00::/7", "Unique-Local", "RFC 4193, RFC 8190", False),
    ("fe80::/10", "Link-Local Unicast", "RFC 4291", False),
];

/// Blocks that are not in the special-purpose registries and are refused too: multicast (its
/// own registries), and the IPv6 forms outside 2000::/3 that rule 3 refuses anyway, named here
/// so that a refusal says what the address is.
const BEYOND: &[RowText] = &[
    ("224.0.0.0/4", "Multicast", "RFC 5771", False),
    ("ff00::/8", "Multicast", "RFC 4291, Section 2.7", False),
    ("::/96", "IPv4-compatible Address (deprecated)", "RFC 4291, Section 2.5.5.1", False),
    ("::ffff:0:0:0/96", "IPv4-translated Address (SIIT)", "RFC 2765, Section 2.1", False),
    ("fec0::/10", "Site-Local Unicast (deprecated)", "RFC 3879", False),
];

/// An address block: the network's bits and the prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    V4(u32, u8),
    V6(u128, u8),
}

impl Block {
    /// `a.b.c.d/n` or `x:…/n`, with no host bits set.
    fn parse(text: &str) -> Result<Block, String> {
        let (addr, len) = text.split_once('/').ok_or_else(|| format!("{text}: no /length"))?;
        let len: u8 = len.parse().map_err(|e| format!("{text}: length: {e}"))?;
        let addr: IpAddr = addr.parse().map_err(|e| format!("{text}: address: {e}"))?;
        let block = match addr {
            IpAddr::V4(a) if len <= 32 => Block::V4(a.to_bits(), len),
            IpAddr::V6(a) if len <= 128 => Block::V6(a.to_bits(), len),
            _ => return Err(format!("{text}: length too long")),
        };
        if !block.contains(addr) || block.first() != addr {
            return Err(format!("{text}: host bits set"));
        }
        Ok(block)
    }

    fn contains(self, ip: IpAddr) -> bool {
        match (self, ip) {
            (Block::V4(net, len), IpAddr::V4(a)) => {
                (a.to_bits() ^ net).checked_shr(32 - len as u32).unwrap_or(0) == 0
            }
            (Block::V6(net, len), IpAddr::V6(a)) => {
                (a.to_bits() ^ net).checked_shr(128 - len as u32).unwrap_or(0) == 0
            }
            _ => false,
        }
    }

    fn len(self) -> u8 {
        match self {
            Block::V4(_, len) | Block::V6(_, len) => len,
        }
    }

    /// The block's first address.
    fn first(self) -> IpAddr {
        match self {
            Block::V4(net, _) => IpAddr::V4(Ipv4Addr::from_bits(net)),
            Block::V6(net, _) => IpAddr::V6(Ipv6Addr::from_bits(net)),
        }
    }
}

/// A row of [`SPECIAL`] or [`BEYOND`], its block parsed.
#[derive(Debug)]
struct Row {
    block: Block,
    text: &'static str,
    name: &'static str,
    rfc: &'static str,
    reachable: Reachable,
}

/// Both tables, parsed once.
static ROWS: LazyLock<Vec<Row>> = LazyLock::new(|| {
    SPECIAL
        .iter()
        .chain(BEYOND)
        .map(|&(text, name, rfc, reachable)| Row {
            block: Block::parse(text)
                .expect("the tables hold valid blocks (a unit test parses each)"),
            text,
            name,
            rfc,
            reachable,
        })
        .collect()
});

/// The most specific row holding `ip`.
fn row_of(ip: IpAddr) -> Option<&'static Row> {
    ROWS.iter().filter(|r| r.block.contains(ip)).max_by_key(|r| r.block.len())
}

/// An IPv6 form that carries an IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `::ffff:a.b.c.d` (RFC 4291, §2.5.5.2).
    Mapped,
    /// `::a.b.c.d`, except `::` and `::1` (RFC 4291, §2.5.5.1).
    Compatible,
    /// `::ffff:0:a.b.c.d` (RFC 2765, §2.1).
    Translated,
    /// `64:ff9b::a.b.c.d` (RFC 6052, §2.1).
    Nat64,
    /// `64:ff9b:1::a.b.c.d` (RFC 8215), read in the /96 layout of RFC 6052 §2.2 (other
    /// prefix lengths inside the /48 place it elsewhere; the whole /48 is refused anyway).
    Nat64Local,
    /// `2002:AABB:CCDD::/48` for a.b.c.d = AA.BB.CC.DD (RFC 3056, §2).
    SixToFour,
    /// Teredo `2001:0:SSSS:SSSS:…`: the server's address, bits 32–63 (RFC 4380, §4).
    TeredoServer,
    /// Teredo `2001:0:…:CCCC:CCCC`: the client's address, the last 32 bits inverted (RFC 4380,
    /// §4).
    TeredoClient,
}

impl Form {
    fn name(self) -> &'static str {
        match self {
            Form::Mapped => "an IPv4-mapped address",
            Form::Compatible => "an IPv4-compatible address",
            Form::Translated => "an IPv4-translated (SIIT) address",
            Form::Nat64 => "a NAT64 address (64:ff9b::/96)",
            Form::Nat64Local => "a NAT64 address (local-use 64:ff9b:1::/48)",
            Form::SixToFour => "a 6to4 address",
            Form::TeredoServer => "a Teredo address (server)",
            Form::TeredoClient => "a Teredo address (client)",
        }
    }
}

/// Every IPv4 address `ip` carries, with its form.
fn embedded(ip: Ipv6Addr) -> Vec<(Form, Ipv4Addr)> {
    let bits = ip.to_bits();
    let v4 = |b: u128| Ipv4Addr::from_bits(b as u32);
    let mut found = Vec::new();
    match bits >> 32 {
        0xffff => found.push((Form::Mapped, v4(bits))),
        0 if bits > 1 => found.push((Form::Compatible, v4(bits))),
        0xffff_0000 => found.push((Form::Translated, v4(bits))),
        0x0064_ff9b_0000_0000_0000_0000 => found.push((Form::Nat64, v4(bits))),
        _ => {}
    }
    if bits >> 80 == 0x0064_ff9b_0001 {
        found.push((Form::Nat64Local, v4(bits)));
    }
    if bits >> 112 == 0x2002 {
        found.push((Form::SixToFour, v4(bits >> 80)));
    }
    if bits >> 96 == 0x2001_0000 {
        found.push((Form::TeredoServer, v4(bits >> 64)));
        found.push((Form::TeredoClient, v4(!bits)));
    }
    found
}

/// Why an address is not public: what [`refusal`] finds. Its `Display` names the registry row
/// (block, name, RFC), or the embedded IPv4 address and its row, or the rule.
#[derive(Debug, Clone)]
pub struct Refusal(Why);

#[derive(Debug, Clone)]
enum Why {
    /// In a row that is not globally reachable.
    Row(&'static Row),
    /// An IPv6 form carrying an IPv4 address that is refused, with that address's row.
    Embeds(Form, Ipv4Addr, &'static Row),
    /// IPv6 in no row and outside 2000::/3.
    NotGlobalUnicast,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let row =
            |f: &mut fmt::Formatter<'_>, r: &Row| write!(f, "{} is {} ({})", r.text, r.name, r.rfc);
        match &self.0 {
            Why::Row(r) => row(f, r),
            Why::Embeds(form, v4, r) => {
                write!(f, "{} embedding {v4}; ", form.name())?;
                row(f, r)
            }
            Why::NotGlobalUnicast => write!(f, "outside 2000::/3, the IPv6 global unicast space"),
        }
    }
}

/// The refusing row of an IPv4 address, if any.
fn refused_v4(ip: Ipv4Addr) -> Option<&'static Row> {
    row_of(IpAddr::V4(ip)).filter(|r| r.reachable != True)
}

/// Why `ip` is not public (see the module's rule), or `None` if it is.
pub fn refusal(ip: IpAddr) -> Option<Refusal> {
    let v6 = match ip {
        IpAddr::V4(v4) => return refused_v4(v4).map(|r| Refusal(Why::Row(r))),
        IpAddr::V6(v6) => v6,
    };
    for (form, v4) in embedded(v6) {
        if let Some(r) = refused_v4(v4) {
            return Some(Refusal(Why::Embeds(form, v4, r)));
        }
    }
    match row_of(ip) {
        Some(r) if r.reachable == True => None,
        Some(r) => Some(Refusal(Why::Row(r))),
        None if v6.segments()[0] & 0xe000 == 0x2000 => None,
        None => Some(Refusal(Why::NotGlobalUnicast)),
    }
}

/// Whether `ip` is a public unicast address by the module's rule: not in a special-purpose
/// block that is not globally reachable (loopback, private, link-local, shared, documentation,
/// benchmarking, reserved, …), not multicast, IPv6 in 2000::/3 unless a globally reachable row
/// says otherwise, and embedding no non-public IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    refusal(ip).is_none()
}

/// A host name that resolved to no public address: the error [`PublicOnly`] fails with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{host} resolves to no public address: refused")]
pub struct NotPublic {
    /// The host name.
    pub host: String,
}

/// A reqwest resolver that drops every non-public address (and fails with [`NotPublic`] if
/// none is left).
#[derive(Debug, Clone, Copy)]
pub struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(
                    Box::new(NotPublic { host }) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Public`: allowed; `Refused(block)`: refused, by the row of that block (or, for an IPv6
    /// address embedding IPv4, by the row of the embedded address's block); `Outside`:
    /// refused as outside 2000::/3.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Expect {
        Public,
        Refused(&'static str),
        Outside,
    }
    use Expect::{Outside, Public, Refused};

    /// For every row, an address inside it, and the addresses just outside its edges where
    /// they fall in another verdict's territory. `(address, expected)`.
    const CASES: &[(&str, Expect)] = &[
        // 0.0.0.0/8 and 0.0.0.0/32
        ("0.0.0.0", Refused("0.0.0.0/32")),
        ("0.0.0.1", Refused("0.0.0.0/8")),
        ("0.255.255.255", Refused("0.0.0.0/8")),
        ("1.0.0.0", Public),
        // 10.0.0.0/8
        ("9.255.255.255", Public),
        ("10.0.0.0", Refused("10.0.0.0/8")),
        ("10.255.255.255", Refused("10.0.0.0/8")),
        ("11.0.0.0", Public),
        // 100.64.0.0/10
        ("100.63.255.255", Public),
        ("100.64.0.0", Refused("100.64.0.0/10")),
        ("100.127.255.255", Refused("100.64.0.0/10")),
        ("100.128.0.0", Public),
        // 127.0.0.0/8
        ("126.255.255.255", Public),
        ("127.0.0.1", Refused("127.0.0.0/8")),
        ("127.255.255.255", Refused("127.0.0.0/8")),
        ("128.0.0.0", Public),
        // 169.254.0.0/16
        ("169.253.255.255", Public),
        ("169.254.169.254", Refused("169.254.0.0/16")),
        ("169.255.0.0", Public),
        // 172.16.0.0/12
        ("172.15.255.255", Public),
        ("172.16.0.0", Refused("172.16.0.0/12")),
        ("172.31.255.255", Refused("172.16.0.0/12")),
        ("172.32.0.0", Public),
        // 192.0.0.0/24 and the rows inside it
        ("191.255.255.255", Public),
        ("192.0.0.0", Refused("192.0.0.0/29")),
        ("192.0.0.7", Refused("192.0.0.0/29")),
        ("192.0.0.8", Refused("192.0.0.8/32")),
        ("192.0.0.9", Public),
        ("192.0.0.10", Public),
        ("192.0.0.11", Refused("192.0.0.0/24")),
        ("192.0.0.169", Refused("192.0.0.0/24")),
        ("192.0.0.170", Refused("192.0.0.170/32")),
        ("192.0.0.171", Refused("192.0.0.171/32")),
        ("192.0.0.255", Refused("192.0.0.0/24")),
        ("192.0.1.0", Public),
        // 192.0.2.0/24
        ("192.0.1.255", Public),
        ("192.0.2.1", Refused("192.0.2.0/24")),
        ("192.0.3.0", Public),
        // Globally reachable: AS112-v4, AMT, Direct Delegation AS112 Service
        ("192.31.196.1", Public),
        ("192.52.193.1", Public),
        ("192.175.48.1", Public),
        // 192.88.99.0/24 (N/A)
        ("192.88.98.255", Public),
        ("192.88.99.1", Refused("192.88.99.0/24")),
        ("192.88.99.255", Refused("192.88.99.0/24")),
        ("192.88.100.0", Public),
        // 192.168.0.0/16
        ("192.167.255.255", Public),
        ("192.168.1.1", Refused("192.168.0.0/16")),
        ("192.169.0.0", Public),
        // 198.18.0.0/15
        ("198.17.255.255", Public),
        ("198.18.0.1", Refused("198.18.0.0/15")),
        ("198.19.255.255", Refused("198.18.0.0/15")),
        ("198.20.0.0", Public),
        // 198.51.100.0/24, 203.0.113.0/24
        ("198.51.99.255", Public),
        ("198.51.100.1", Refused("198.51.100.0/24")),
        ("198.51.101.0", Public),
        ("203.0.112.255", Public),
        ("203.0.113.1", Refused("203.0.113.0/24")),
        ("203.0.114.0", Public),
        // Multicast, 240.0.0.0/4, broadcast
        ("223.255.255.255", Public),
        ("224.0.0.1", Refused("224.0.0.0/4")),
        ("239.255.255.255", Refused("224.0.0.0/4")),
        ("240.0.0.1", Refused("240.0.0.0/4")),
        ("255.255.255.254", Refused("240.0.0.0/4")),
        ("255.255.255.255", Refused("255.255.255.255/32")),
        // Public unicast
        ("8.8.8.8", Public),
        ("203.113.131.1", Public),
        // ::1/128, ::/128, IPv4-compatible ::/96
        ("::", Refused("::/128")),
        ("::1", Refused("::1/128")),
        ("::2", Refused("0.0.0.0/8")),
        ("::127.0.0.1", Refused("127.0.0.0/8")),
        ("::169.254.169.254", Refused("169.254.0.0/16")),
        ("::10.0.0.1", Refused("10.0.0.0/8")),
        ("::8.8.8.8", Refused("::/96")),
        ("::1:0:0", Outside),
        // IPv4-mapped ::ffff:0:0/96: refused whole, its embedded address named if refused
        ("::fffe:ffff:ffff", Outside),
        ("::ffff:127.0.0.1", Refused("127.0.0.0/8")),
        ("::ffff:169.254.169.254", Refused("169.254.0.0/16")),
        ("::ffff:10.0.0.1", Refused("10.0.0.0/8")),
        ("::ffff:8.8.8.8", Refused("::ffff:0:0/96")),
        ("::1:0:0:0", Outside),
        // IPv4-translated (SIIT) ::ffff:0:0:0/96
        ("::ffff:0:127.0.0.1", Refused("127.0.0.0/8")),
        ("::ffff:0:169.254.169.254", Refused("169.254.0.0/16")),
        ("::ffff:0:10.0.0.1", Refused("10.0.0.0/8")),
        ("::ffff:0:8.8.8.8", Refused("::ffff:0:0:0/96")),
        // NAT64 64:ff9b::/96: globally reachable, so the embedded address decides
        ("64:ff9b::127.0.0.1", Refused("127.0.0.0/8")),
        ("64:ff9b::169.254.169.254", Refused("169.254.0.0/16")),
        ("64:ff9b::10.0.0.1", Refused("10.0.0.0/8")),
        ("64:ff9b::192.0.0.170", Refused("192.0.0.170/32")),
        ("64:ff9b::8.8.8.8", Public),
        ("64:ff9b::203.113.131.1", Public),
        ("64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", Outside),
        ("64:ff9b::1:0:0", Outside),
        // NAT64 local-use 64:ff9b:1::/48: not globally reachable
        ("64:ff9b:1::127.0.0.1", Refused("127.0.0.0/8")),
        ("64:ff9b:1::169.254.169.254", Refused("169.254.0.0/16")),
        ("64:ff9b:1::10.0.0.1", Refused("10.0.0.0/8")),
        ("64:ff9b:1::8.8.8.8", Refused("64:ff9b:1::/48")),
        ("64:ff9b:1:ffff:ffff:ffff:808:808", Refused("64:ff9b:1::/48")),
        ("64:ff9b:2::", Outside),
        // 100::/64
        ("100::1", Refused("100::/64")),
        ("100::ffff:ffff:ffff:ffff", Refused("100::/64")),
        ("100:0:0:1::", Outside),
        // 2001::/23 and the rows inside it
        ("2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Public),
        ("2001:1::1", Public),
        ("2001:1::2", Public),
        ("2001:1::ffff", Refused("2001::/23")),
        ("2001:1::", Refused("2001::/23")),
        ("2001:2::1", Refused("2001:2::/48")),
        ("2001:2:0:ffff:ffff:ffff:ffff:ffff", Refused("2001:2::/48")),
        ("2001:2:1::", Refused("2001::/23")),
        ("2001:3::1", Public),
        ("2001:3:ffff:ffff:ffff:ffff:ffff:ffff", Public),
        ("2001:4:112::1", Public),
        ("2001:4:111:ffff:ffff:ffff:ffff:ffff", Refused("2001::/23")),
        ("2001:4:113::", Refused("2001::/23")),
        ("2001:10::1", Refused("2001:10::/28")),
        ("2001:20::1", Public),
        ("2001:2f:ffff:ffff:ffff:ffff:ffff:ffff", Public),
        ("2001:30::1", Public),
        ("2001:40::1", Refused("2001::/23")),
        ("2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", Refused("2001::/23")),
        ("2001:200::", Public),
        // Teredo 2001::/32: server 65.54.227.120, flags 8000, port 40000, client inverted
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", Refused("127.0.0.0/8")),
        ("2001:0:4136:e378:8000:63bf:5601:5601", Refused("169.254.0.0/16")),
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", Refused("10.0.0.0/8")),
        ("2001:0:a00:1:8000:63bf:f7f7:f7f7", Refused("10.0.0.0/8")),
        ("2001:0:7f00:1:8000:63bf:f7f7:f7f7", Refused("127.0.0.0/8")),
        ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", Refused("2001::/32")),
        // 2001:db8::/32
        ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", Public),
        ("2001:db8::1", Refused("2001:db8::/32")),
        ("2001:db9::", Public),
        // 6to4 2002::/16 (N/A)
        ("2002:7f00:1::1", Refused("127.0.0.0/8")),
        ("2002:a9fe:a9fe::1", Refused("169.254.0.0/16")),
        ("2002:a00:1::1", Refused("10.0.0.0/8")),
        ("2002:c0a8:101::1", Refused("192.168.0.0/16")),
        ("2002:808:808::1", Refused("2002::/16")),
        ("2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Public),
        ("2003::", Public),
        // 2620:4f:8000::/48 (globally reachable)
        ("2620:4f:8000::1", Public),
        // 3fff::/20
        ("3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Public),
        ("3fff::1", Refused("3fff::/20")),
        ("3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", Refused("3fff::/20")),
        ("3fff:1000::", Public),
        // 5f00::/16 (outside 2000::/3, like its neighbours)
        ("5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Outside),
        ("5f00::1", Refused("5f00::/16")),
        ("5f01::", Outside),
        // The end of 2000::/3
        ("3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Public),
        ("4000::", Outside),
        ("1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Outside),
        ("e000::", Outside),
        // fc00::/7, fe80::/10, fec0::/10, ff00::/8
        ("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Outside),
        ("fc00::1", Refused("fc00::/7")),
        ("fd12::1", Refused("fc00::/7")),
        ("fe00::", Outside),
        ("fe80::1", Refused("fe80::/10")),
        ("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Refused("fe80::/10")),
        ("fec0::1", Refused("fec0::/10")),
        ("ff02::1", Refused("ff00::/8")),
        ("ff0e::1", Refused("ff00::/8")),
        // Public unicast
        ("2001:4860:4860::8888", Public),
        ("2405:4800::1", Public),
    ];

    fn verdict(ip: IpAddr) -> Expect {
        match refusal(ip).map(|r| r.0) {
            None => Public,
            Some(Why::Row(r) | Why::Embeds(_, _, r)) => Refused(r.text),
            Some(Why::NotGlobalUnicast) => Outside,
        }
    }

    #[test]
    fn every_case_gets_its_verdict() {
        let mut wrong = Vec::new();
        for &(addr, expected) in CASES {
            let ip: IpAddr = addr.parse().expect("a test address");
            let got = verdict(ip);
            if got != expected || is_public(ip) != (expected == Public) {
                wrong.push(format!("{addr}: expected {expected:?}, got {got:?}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn every_row_has_a_case_inside_it_and_is_well_formed() {
        for &(text, ..) in SPECIAL.iter().chain(BEYOND) {
            let block = Block::parse(text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                SPECIAL.iter().chain(BEYOND).filter(|r| r.0 == text).count(),
                1,
                "{text} is written once"
            );
            let inside = CASES.iter().any(|(addr, _)| {
                let ip: IpAddr = addr.parse().expect("a test address");
                row_of(ip).is_some_and(|r| r.block == block)
            });
            assert!(inside, "no case falls in {text} as its most specific row");
        }
    }

    #[test]
    fn each_form_is_decoded() {
        let cases: &[(&str, &[(Form, &str)])] = &[
            ("::ffff:1.2.3.4", &[(Form::Mapped, "1.2.3.4")]),
            ("::1.2.3.4", &[(Form::Compatible, "1.2.3.4")]),
            ("::ffff:0:1.2.3.4", &[(Form::Translated, "1.2.3.4")]),
            ("64:ff9b::1.2.3.4", &[(Form::Nat64, "1.2.3.4")]),
            ("64:ff9b:1::1.2.3.4", &[(Form::Nat64Local, "1.2.3.4")]),
            ("2002:102:304:5::6", &[(Form::SixToFour, "1.2.3.4")]),
            (
                "2001:0:4136:e378:8000:63bf:3fff:fdd2",
                &[(Form::TeredoServer, "65.54.227.120"), (Form::TeredoClient, "192.0.2.45")],
            ),
            ("::", &[]),
            ("::1", &[]),
            ("2001:db8::1.2.3.4", &[]),
            ("64:ff9b:0:1::1.2.3.4", &[]),
        ];
        for (addr, expected) in cases {
            let ip: Ipv6Addr = addr.parse().expect("a test address");
            let expected: Vec<(Form, Ipv4Addr)> =
                expected.iter().map(|(f, v4)| (*f, v4.parse().expect("IPv4"))).collect();
            assert_eq!(embedded(ip), expected, "{addr}");
        }
    }

    #[test]
    fn a_refusal_names_the_row_and_the_embedded_address() {
        let says = |addr: &str| refusal(addr.parse().expect("an address")).map(|r| r.to_string());
        assert_eq!(says("10.1.2.3").as_deref(), Some("10.0.0.0/8 is Private-Use (RFC 1918)"));
        assert_eq!(
            says("2002:7f00:1::1").as_deref(),
            Some(
                "a 6to4 address embedding 127.0.0.1; 127.0.0.0/8 is Loopback \
                 (RFC 1122, Section 3.2.1.3)"
            )
        );
        assert_eq!(
            says("2001:0:4136:e378:8000:63bf:5601:5601").as_deref(),
            Some(
                "a Teredo address (client) embedding 169.254.169.254; 169.254.0.0/16 is Link \
                 Local (RFC 3927)"
            )
        );
        assert_eq!(
            says("fbff::1").as_deref(),
            Some("outside 2000::/3, the IPv6 global unicast space")
        );
        assert_eq!(says("2001:3::1"), None);
    }

    #[tokio::test]
    async fn resolver_refuses_names_of_loopback() {
        use reqwest::dns::Resolve as _;
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let err = match PublicOnly.resolve(name).await {
            Ok(addrs) => panic!("localhost resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e,
        };
        // Either no address at all (a resolver without localhost) or only refused ones.
        if let Some(np) = err.downcast_ref::<NotPublic>() {
            assert_eq!(np.host, "localhost");
        }
    }
}
