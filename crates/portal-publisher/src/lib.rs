//! The publisher: a node's own log. [`init`] creates a node, [`Node`] signs and sequences its
//! records, and [`Publisher`] serves the log, checkpoints, proofs, feeds and items.
//!
//! The node signs every record with its Ed25519 key (portal-proto) and keeps the exact bytes in
//! its append-only log (portal-store on sled). Its sequencer is also where an aggregator's
//! receipts for members' records are signed (`Node::ingest`). The other rooms (hub,
//! aggregator, web portal) build on this crate; it depends on none of them.
#![deny(missing_docs)]

pub mod bundle;
pub mod config;
pub mod draft;
mod files;
pub mod http;
pub mod keys;
mod loading;
pub mod metrics;
pub mod node;
mod room;
pub mod rotation;

use std::collections::BTreeMap;

use portal_proto::crypto::Signer;
use portal_proto::ids::{Digest, Lang, NodeId};

pub use config::{DataDir, NodeConfig};
pub use node::{Node, PublishError, Published};
pub use room::{ExtraEndpoints, Publisher, descriptor_record};

/// What `init` created: the admin token (shown once, stored only as a hash) and the key id.
#[derive(Debug)]
pub struct Initialised {
    /// The editors' bearer token. Not stored anywhere in clear.
    pub admin_token: String,
    /// The node's key id.
    pub key_id: String,
    /// The public key, base64 (to give to the central node).
    pub public_key: String,
}

/// Why `init` refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// The directory exists and is not empty.
    #[error("{0} already exists and is not empty: refusing to overwrite a node")]
    NotEmpty(String),
    /// Bad argument.
    #[error("{0}")]
    Invalid(String),
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// Which file.
        path: String,
        /// What happened.
        source: std::io::Error,
    },
}

fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> InitError + '_ {
    move |source| InitError::Io { path: path.display().to_string(), source }
}

/// `bytes` random bytes, hex-encoded (tokens, secrets, challenges).
pub fn random_hex(bytes: usize) -> String {
    let raw: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

/// Create a node in `dir`: config, a new key (0600), an admin token (returned, stored hashed),
/// a local token for the CLI (0600), and an empty store.
pub fn init(
    dir: &DataDir,
    id: &str,
    names: BTreeMap<Lang, String>,
    url: &str,
) -> Result<Initialised, InitError> {
    let id = NodeId::new(id).map_err(|e| InitError::Invalid(format!("--id: {e}")))?;
    let url = url.trim_end_matches('/').to_owned();
    portal_proto::record::check_url(&url)
        .map_err(|e| InitError::Invalid(format!("--url {url:?}: {e}")))?;
    if names.values().any(|n| n.trim().is_empty()) || names.is_empty() {
        return Err(InitError::Invalid("--name must not be empty".into()));
    }
    let root = dir.root();
    if root.exists() && std::fs::read_dir(root).map_err(io(root))?.next().is_some() {
        return Err(InitError::NotEmpty(root.display().to_string()));
    }
    std::fs::create_dir_all(dir.keys()).map_err(io(root))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let keys = dir.keys();
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o700))
            .map_err(io(&keys))?;
    }
    let seed: [u8; 32] = rand::random();
    let signer = Signer::from_seed(seed);
    let key_path = dir.key();
    files::create_private(&key_path, format!("{}\n", Digest::from_bytes(&seed)).as_bytes())
        .map_err(io(&key_path))?;
    let admin_token = random_hex(32);
    let local_token = random_hex(32);
    let config = NodeConfig::new(id, names, url, Digest::of(admin_token.as_bytes()));
    let text = toml::to_string_pretty(&config).map_err(|e| InitError::Invalid(e.to_string()))?;
    let config_path = dir.config();
    files::create_private(&config_path, text.as_bytes()).map_err(io(&config_path))?;
    let token_path = dir.local_token();
    files::create_private(&token_path, format!("{local_token}\n").as_bytes())
        .map_err(io(&token_path))?;
    let pk = signer.public_key();
    Ok(Initialised { admin_token, key_id: pk.key_id().to_string(), public_key: pk.to_base64() })
}

/// The local CLI token, if the data directory has one.
pub fn local_token(dir: &DataDir) -> Option<String> {
    std::fs::read_to_string(dir.local_token()).ok().map(|t| t.trim().to_owned())
}

/// Record where the running server listens (`serve.addr`, 0600), so the CLI can reach it.
pub fn write_serve_addr(dir: &DataDir, addr: &str) -> std::io::Result<()> {
    files::replace_private(&dir.serve_addr(), addr.as_bytes())
}
