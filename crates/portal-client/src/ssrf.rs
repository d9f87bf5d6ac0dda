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
    /// What the URL tries: `loopback`, `private`, `link-local`, `cgnat`, `ula`,
    /// `ipv4-mapped`, `unspecified`, `encoded` (decimal, hex, octal forms of loopback),
    /// `scheme` (not http or https) or `credentials` (user information in the URL).
    pub category: &'static str,
    /// The URL.
    pub url: String,
}

/// Every target, loopback ones on `canary_port`.
pub fn matrix(canary_port: u16) -> Vec<Target> {
    let p = canary_port;
    let t = |category: &'static str, url: String| Target { category, url };
    vec![
        t("loopback", format!("http://127.0.0.1:{p}/")),
        t("loopback", format!("http://127.1.2.3:{p}/")),
        t("loopback", format!("http://[::1]:{p}/")),
        t("loopback", format!("http://localhost:{p}/")),
        t("loopback", format!("https://127.0.0.1:{p}/")),
        t("private", format!("http://10.1.2.3:{p}/")),
        t("private", format!("http://172.16.0.1:{p}/")),
        t("private", format!("http://192.168.1.1:{p}/")),
        t("link-local", "http://169.254.169.254/latest/meta-data/".to_owned()),
        t("link-local", format!("http://[fe80::1]:{p}/")),
        t("cgnat", format!("http://100.64.0.1:{p}/")),
        t("cgnat", format!("http://100.127.255.254:{p}/")),
        t("ula", format!("http://[fc00::1]:{p}/")),
        t("ula", format!("http://[fd00::1]:{p}/")),
        t("ipv4-mapped", format!("http://[::ffff:127.0.0.1]:{p}/")),
        t("ipv4-mapped", format!("http://[::ffff:10.0.0.1]:{p}/")),
        t("ipv4-mapped", format!("http://[::ffff:7f00:1]:{p}/")),
        t("unspecified", format!("http://0.0.0.0:{p}/")),
        t("unspecified", format!("http://[::]:{p}/")),
        t("encoded", format!("http://2130706433:{p}/")),
        t("encoded", format!("http://0x7f000001:{p}/")),
        t("encoded", format!("http://0x7f.1:{p}/")),
        t("encoded", format!("http://0177.0.0.1:{p}/")),
        t("encoded", format!("http://017700000001:{p}/")),
        t("encoded", format!("http://127.1:{p}/")),
        t("scheme", format!("ftp://127.0.0.1:{p}/")),
        t("scheme", "file:///etc/passwd".to_owned()),
        t("scheme", format!("gopher://127.0.0.1:{p}/")),
        t("scheme", "data:text/plain,hello".to_owned()),
        t("credentials", "https://u:p@example.gov.vn/".to_owned()),
    ]
}
