//! The node's configuration file (`DATA/config.toml`) and data directory layout.
//!
//! ```text
//! DATA/config.toml            this file (deny_unknown_fields: a typo is an error, not a default)
//! DATA/keys/node.key          the Ed25519 seed, hex, mode 0600
//! DATA/keys/signing-journal   the last batch signed, written before it is stored (crash replay)
//! DATA/local-token            a token for `portal publish` to reach the running server, 0600
//! DATA/serve.addr             where the running server listens (written by `portal serve`)
//! DATA/store/                 the sled database (portal-store), WebSub state included
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use portal_proto::ids::{Digest, Lang, NodeId};
use serde::{Deserialize, Serialize};

/// `DATA/config.toml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// The node's id (never changes).
    pub id: NodeId,
    /// Display names by language.
    pub name: BTreeMap<Lang, String>,
    /// Public base URL, e.g. `https://moh.gov.vn/portal` (no trailing slash).
    pub url: String,
    /// Address to listen on; by default the host and port of `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Seconds between heartbeat checkpoints (declared in the descriptor).
    #[serde(default = "default_heartbeat")]
    pub heartbeat_seconds: u64,
    /// SHA-256 of the editors' admin token (the token itself is shown once, at init).
    pub admin_token_sha256: Digest,
    /// Largest draft accepted by the editor API, in bytes.
    #[serde(default = "default_max_draft")]
    pub max_draft_bytes: usize,
    /// Largest attachment accepted, in bytes.
    #[serde(default = "default_max_attachment")]
    pub max_attachment_bytes: usize,
    /// The WebSub hub (`[websub]`; every setting has a default, so the section may be absent).
    #[serde(default)]
    pub websub: WebSubConfig,
    /// Following members, for a node that has some (`[aggregator]`; all settings default).
    #[serde(default)]
    pub aggregator: AggregatorConfig,
    /// The database (`[store]`; all settings default).
    #[serde(default)]
    pub store: StoreConfig,
}

/// `[store]`: the node's database (portal-store, on sled).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Most memory sled's page cache may hold, in MiB (at least 1); default 64, where sled's
    /// own default is 1024. It bounds one part of the node's memory only: docs/benchmarks.md
    /// gives a central's RSS with a million records.
    pub cache_mib: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { cache_mib: portal_store::DEFAULT_CACHE_BYTES / (1024 * 1024) }
    }
}

impl StoreConfig {
    /// The options `portal-store` opens the database with.
    pub fn options(&self) -> portal_store::StoreOptions {
        portal_store::StoreOptions { cache_bytes: self.cache_mib.max(1) * 1024 * 1024 }
    }
}

/// `[aggregator]`: how a node with members follows them (SPEC.md §13). A node becomes an
/// aggregator when `portal member add` gives it its first member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AggregatorConfig {
    /// Seconds between polls of a member's log when no push arrives (±20 % jitter). Push is a
    /// hint; polling is what guarantees progress. At least 1.
    pub poll_seconds: u64,
    /// Longest wait between attempts after repeated errors (exponential backoff from
    /// `poll_seconds / 8`). At least `poll_seconds`.
    pub max_backoff_seconds: u64,
    /// Log entries asked for per request (1–1000).
    pub page_size: u32,
    /// Members synced at the same time; the others wait their turn, so a slow member holds
    /// one slot, never the others.
    pub max_concurrent_syncs: usize,
    /// A member failing for this long raises an `unreachable` incident.
    pub unreachable_after_seconds: u64,
    /// Subscribe to members' WebSub hubs (push triggers an immediate pull).
    pub push: bool,
    /// Let member URLs (and their redirects) reach loopback, private and other non-public
    /// addresses. Off by default; only for loopback federations (tests, `portal demo`), and
    /// logged as a warning when on.
    pub allow_private_members: bool,
    /// Connect / read / whole-request timeouts for member requests, in seconds.
    pub connect_timeout_seconds: u64,
    /// See `connect_timeout_seconds`.
    pub read_timeout_seconds: u64,
    /// See `connect_timeout_seconds`.
    pub request_timeout_seconds: u64,
}

impl Default for AggregatorConfig {
    fn default() -> Self {
        AggregatorConfig {
            poll_seconds: 60,
            max_backoff_seconds: 900,
            page_size: 500,
            max_concurrent_syncs: 8,
            unreachable_after_seconds: 300,
            push: true,
            allow_private_members: false,
            connect_timeout_seconds: 5,
            read_timeout_seconds: 10,
            request_timeout_seconds: 30,
        }
    }
}

/// `[websub]`: the hub's delivery retries (SPEC.md §10).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebSubConfig {
    /// Delay before the first retry of a failed delivery, in seconds; each further retry waits
    /// twice as long (capped at one hour), ±20 % jitter. At least 1.
    pub retry_base_seconds: u64,
    /// Failed attempts after which a delivery becomes a dead letter. At least 1.
    pub max_attempts: u32,
    /// Most subscriptions the hub keeps; further new subscriptions are refused.
    pub max_subscriptions: usize,
    /// Let callbacks point at loopback, private, link-local and other non-public addresses.
    /// Off by default: otherwise anyone could make the hub send requests into the node's own
    /// network. Turn it on only for loopback deployments and tests.
    pub allow_private_callbacks: bool,
}

impl Default for WebSubConfig {
    fn default() -> Self {
        WebSubConfig {
            retry_base_seconds: 5,
            max_attempts: 10,
            max_subscriptions: 10_000,
            allow_private_callbacks: false,
        }
    }
}

fn default_heartbeat() -> u64 {
    3600
}
fn default_max_draft() -> usize {
    2 * 1024 * 1024
}
fn default_max_attachment() -> usize {
    20 * 1024 * 1024
}

impl NodeConfig {
    /// A config with defaults for the optional settings.
    pub fn new(
        id: NodeId,
        name: BTreeMap<Lang, String>,
        url: String,
        admin_token_sha256: Digest,
    ) -> Self {
        NodeConfig {
            id,
            name,
            url: url.trim_end_matches('/').to_owned(),
            listen: None,
            heartbeat_seconds: default_heartbeat(),
            admin_token_sha256,
            max_draft_bytes: default_max_draft(),
            max_attachment_bytes: default_max_attachment(),
            websub: WebSubConfig::default(),
            aggregator: AggregatorConfig::default(),
            store: StoreConfig::default(),
        }
    }

    /// The display name to show by default (Vietnamese if present).
    pub fn display_name(&self) -> &str {
        let vi = Lang::new("vi").ok();
        vi.and_then(|l| self.name.get(&l))
            .or_else(|| self.name.values().next())
            .map_or(self.id.as_str(), String::as_str)
    }

    /// `host:port` to listen on.
    pub fn listen_addr(&self) -> Result<String, String> {
        if let Some(l) = &self.listen {
            return Ok(l.clone());
        }
        let rest = self
            .url
            .strip_prefix("http://")
            .map(|r| (r, 80))
            .or_else(|| self.url.strip_prefix("https://").map(|r| (r, 443)))
            .ok_or_else(|| format!("url {:?} is not http(s)", self.url))?;
        let host = rest.0.split('/').next().unwrap_or_default();
        Ok(if host.contains(':') { host.to_owned() } else { format!("{host}:{}", rest.1) })
    }
}

/// Paths inside a data directory.
#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The data directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataDir { root: root.into() }
    }
    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// `config.toml`.
    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    /// `keys/`.
    pub fn keys(&self) -> PathBuf {
        self.root.join("keys")
    }
    /// `keys/node.key`.
    pub fn key(&self) -> PathBuf {
        self.keys().join("node.key")
    }
    /// `keys/signing-journal`.
    pub fn journal(&self) -> PathBuf {
        self.keys().join("signing-journal")
    }
    /// `local-token`.
    pub fn local_token(&self) -> PathBuf {
        self.root.join("local-token")
    }
    /// `serve.addr`: the address a running `portal serve` listens on (for `portal publish`).
    pub fn serve_addr(&self) -> PathBuf {
        self.root.join("serve.addr")
    }
    /// `store/`.
    pub fn store(&self) -> PathBuf {
        self.root.join("store")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_cache_defaults_to_64_mib_and_is_a_setting() {
        let token = Digest::new("0".repeat(64)).expect("valid digest");
        let id = NodeId::new("bo-y-te").expect("valid id");
        let config = NodeConfig::new(id, BTreeMap::new(), "http://127.0.0.1:1".into(), token);
        let text = toml::to_string_pretty(&config).expect("serialises");
        assert!(text.contains("[store]\ncache_mib = 64\n"), "{text}");
        assert_eq!(config.store.options().cache_bytes, 64 * 1024 * 1024);
        // A config written before the setting existed still loads, with the default.
        let old = text.replace("[store]\ncache_mib = 64\n", "");
        let parsed: NodeConfig = toml::from_str(&old).expect("parses");
        assert_eq!(parsed.store, StoreConfig::default());
        let small: NodeConfig =
            toml::from_str(&text.replace("cache_mib = 64", "cache_mib = 8")).expect("parses");
        assert_eq!(small.store.options().cache_bytes, 8 * 1024 * 1024);
        assert!(toml::from_str::<NodeConfig>(&text.replace("cache_mib", "cache_mb")).is_err());
    }
}
