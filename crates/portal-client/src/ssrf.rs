//! The SSRF matrix: URLs that a [`crate::Fetcher`] with the default policy (no
//! `allow_private`) must refuse **before connecting anywhere**.
//!
//! One list, shared by this crate's tests and by the soak (`cargo xtask soak`), which runs it
//! against the fetcher as the aggregator configures it and against `portal member add`. Every
//! loopback target points at `canary_port`, so a request that slipped through would reach a
//! listener the caller watches: it must see zero connections.

/// One URL of the matrix and the class of address or trick it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// What the URL tries: an address block (`loopback`, `private`, `link-local`, `cgnat`,
    /// `this-network`, `ietf-protocol`, `documentation`, `benchmarking`, `6to4-relay`,
    /// `reserved`, `broadcast`, `multicast`, `ula`, `site-local`, `discard`, `srv6`,
    /// `unspecified`), an IPv6 form carrying an IPv4 address (`ipv4-mapped`,
    /// `ipv4-compatible`, `siit`, `nat64`, `nat64-local`, `6to4`, `teredo`), `encoded`
    /// (decimal, hex, octal forms of loopback), `scheme` (not http or https) or `credentials`
    /// (user information in the URL). Every category but the last two is refused as a
    /// non-public address.
    pub category: &'static str,
    /// The URL.
    pub url: String,
}

/// Every target, on `canary_port` (the port matters for the loopback ones and those that
/// embed loopback: a request that slipped through would reach the caller's listener).
///
/// Teredo targets use the server 65.54.227.120 with flags `8000` and port `63bf`; the client
/// address is the last 32 bits inverted (`80ff:fffe` is 127.0.0.1, `5601:5601` is
/// 169.254.169.254, `f5ff:fffe` is 10.0.0.1, `f7f7:f7f7` is 8.8.8.8).
pub fn matrix(canary_port: u16) -> Vec<Target> {
    let p = canary_port;
    let t = |category: &'static str, host: &str| Target {
        category,
        url: format!("http://{host}:{p}/"),
    };
    let raw = |category: &'static str, url: &str| Target { category, url: url.to_owned() };
    vec![
        t("loopback", "127.0.0.1"),
        t("loopback", "127.1.2.3"),
        t("loopback", "127.255.255.254"),
        t("loopback", "[::1]"),
        t("loopback", "localhost"),
        raw("loopback", &format!("https://127.0.0.1:{p}/")),
        t("private", "10.1.2.3"),
        t("private", "172.16.0.1"),
        t("private", "172.31.255.254"),
        t("private", "192.168.1.1"),
        raw("link-local", "http://169.254.169.254/latest/meta-data/"),
        t("link-local", "169.254.169.254"),
        t("link-local", "[fe80::1]"),
        t("cgnat", "100.64.0.1"),
        t("cgnat", "100.127.255.254"),
        t("this-network", "0.1.2.3"),
        t("ietf-protocol", "192.0.0.1"),
        t("ietf-protocol", "192.0.0.8"),
        t("ietf-protocol", "192.0.0.170"),
        t("ietf-protocol", "192.0.0.200"),
        t("ietf-protocol", "[2001:2::1]"),
        t("ietf-protocol", "[2001:10::1]"),
        t("ietf-protocol", "[2001:1::5]"),
        t("documentation", "192.0.2.1"),
        t("documentation", "198.51.100.1"),
        t("documentation", "203.0.113.1"),
        t("documentation", "[2001:db8::1]"),
        t("documentation", "[3fff::1]"),
        t("benchmarking", "198.18.0.1"),
        t("benchmarking", "198.19.255.254"),
        t("6to4-relay", "192.88.99.1"),
        t("reserved", "240.0.0.1"),
        t("broadcast", "255.255.255.255"),
        t("multicast", "224.0.0.1"),
        t("multicast", "239.255.255.250"),
        t("multicast", "[ff02::1]"),
        t("multicast", "[ff0e::1]"),
        t("ula", "[fc00::1]"),
        t("ula", "[fd00::1]"),
        t("site-local", "[fec0::1]"),
        t("discard", "[100::1]"),
        t("srv6", "[5f00::1]"),
        t("unspecified", "0.0.0.0"),
        t("unspecified", "[::]"),
        t("ipv4-mapped", "[::ffff:127.0.0.1]"),
        t("ipv4-mapped", "[::ffff:7f00:1]"),
        t("ipv4-mapped", "[::ffff:169.254.169.254]"),
        t("ipv4-mapped", "[::ffff:10.0.0.1]"),
        t("ipv4-compatible", "[::127.0.0.1]"),
        t("ipv4-compatible", "[::a9fe:a9fe]"),
        t("ipv4-compatible", "[::10.0.0.1]"),
        t("siit", "[::ffff:0:127.0.0.1]"),
        t("siit", "[::ffff:0:a9fe:a9fe]"),
        t("siit", "[::ffff:0:10.0.0.1]"),
        t("nat64", "[64:ff9b::7f00:1]"),
        t("nat64", "[64:ff9b::a9fe:a9fe]"),
        t("nat64", "[64:ff9b::10.0.0.1]"),
        t("nat64", "[64:ff9b::192.168.1.1]"),
        t("nat64-local", "[64:ff9b:1::7f00:1]"),
        t("nat64-local", "[64:ff9b:1::a9fe:a9fe]"),
        t("nat64-local", "[64:ff9b:1::10.0.0.1]"),
        t("nat64-local", "[64:ff9b:1::8.8.8.8]"),
        t("6to4", "[2002:7f00:1::1]"),
        t("6to4", "[2002:a9fe:a9fe::1]"),
        t("6to4", "[2002:a00:1::1]"),
        t("6to4", "[2002:808:808::1]"),
        t("teredo", "[2001:0:4136:e378:8000:63bf:80ff:fffe]"),
        t("teredo", "[2001:0:4136:e378:8000:63bf:5601:5601]"),
        t("teredo", "[2001:0:4136:e378:8000:63bf:f5ff:fffe]"),
        t("teredo", "[2001:0:7f00:1:8000:63bf:f7f7:f7f7]"),
        t("teredo", "[2001:0:4136:e378:8000:63bf:f7f7:f7f7]"),
        t("encoded", "2130706433"),
        t("encoded", "0x7f000001"),
        t("encoded", "0x7f.1"),
        t("encoded", "0177.0.0.1"),
        t("encoded", "017700000001"),
        t("encoded", "127.1"),
        raw("scheme", &format!("ftp://127.0.0.1:{p}/")),
        raw("scheme", "file:///etc/passwd"),
        raw("scheme", &format!("gopher://127.0.0.1:{p}/")),
        raw("scheme", "data:text/plain,hello"),
        raw("credentials", "https://u:p@example.gov.vn/"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every target that names an IP literal names a non-public one (so the matrix cannot
    /// hold a target that the fetcher would rightly fetch), and every category is one the
    /// documentation lists.
    #[test]
    fn every_address_target_is_non_public() {
        for target in matrix(9) {
            let Ok(url) = crate::Url::parse(&target.url) else { continue };
            let host = url.host_str().unwrap_or_default();
            let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse() else {
                continue;
            };
            assert!(!crate::net::is_public(ip), "{} {}", target.category, target.url);
        }
    }
}
