//! A ministry's portal node: `init` creates one, `serve` runs it, [`Node`] publishes.
//!
//! The node signs every record with its Ed25519 key (portal-proto), keeps the exact bytes in
//! its append-only log (portal-store on sled) and serves the log, checkpoints, proofs, feeds and
//! item pages over HTTP (actix-web, [`http::app`]), and runs a WebSub hub ([`hub`]) that pushes
//! new log entries to subscribers.
#![deny(missing_docs)]

pub mod aggregate;
mod bundle;
pub mod config;
pub mod draft;
mod files;
pub mod http;
pub mod hub;
pub mod keys;
pub mod metrics;
mod mirror;
mod national;
pub mod net;
pub mod node;
mod search;
mod web;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use portal_proto::crypto::Signer;
use portal_proto::ids::{Digest, Lang, NodeId};

pub use config::{DataDir, NodeConfig};
pub use node::{Node, PublishError, Published};

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

pub(crate) fn random_hex(bytes: usize) -> String {
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

/// `workers`: HTTP worker threads (default: one per CPU).
/// Serve `node` on `listen` until Ctrl-C or SIGTERM; heartbeat checkpoints and run the WebSub
/// hub meanwhile.
pub async fn serve(node: Arc<Node>, listen: &str, workers: Option<usize>) -> std::io::Result<()> {
    serve_until(node, listen, workers, std::future::pending()).await
}

/// [`serve`], also stopping gracefully when `stop` completes: for several nodes in one process
/// (`portal demo`), where one failing must stop the others.
pub async fn serve_until(
    node: Arc<Node>,
    listen: &str,
    workers: Option<usize>,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let extra: Vec<String> = local_token(&node.dir).into_iter().collect();
    let agg = aggregate::Aggregator::new(Arc::clone(&node)).map_err(std::io::Error::other)?;
    let state =
        actix_web::web::Data::new(http::AppState::new(Arc::clone(&node), Arc::clone(&agg), &extra));
    let hub = Arc::clone(state.hub());
    let server = actix_web::HttpServer::new(move || {
        let state = state.clone();
        // No Compress middleware: `http` serves gzip itself, from bytes compressed once per
        // rendered resource and with their own ETag, instead of per response.
        actix_web::App::new().configure(move |cfg| http::app(cfg, state))
    })
    .workers(
        workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1),
    )
    .bind(listen)?
    .shutdown_timeout(10);
    let hub_tasks = hub.start().map_err(std::io::Error::other)?;
    // Members are followed once the server listens (their pushes arrive on it).
    agg.start();
    for addr in server.addrs() {
        tracing::info!("node {} listening on http://{addr}", node.config.id);
        // Tests and scripts read this line to find the port when listening on port 0.
        println!("listening on http://{addr}");
    }
    if let Some(addr) = server.addrs().first() {
        let _ = files::replace_private(&node.dir.serve_addr(), addr.to_string().as_bytes());
    }
    let heartbeat_node = Arc::clone(&node);
    let period = Duration::from_secs((node.config.heartbeat_seconds / 2).max(1));
    let heartbeat = tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.tick().await;
        loop {
            tick.tick().await;
            heartbeat_node.heartbeat();
        }
    });
    // actix-web stops gracefully on SIGINT and SIGTERM (in-flight requests finish).
    let server = server.run();
    let handle = server.handle();
    let mut server = std::pin::pin!(server);
    let result = tokio::select! {
        result = &mut server => result,
        () = stop => {
            // The server future must be polled while the stop is awaited: it is what answers
            // the handle's command (awaiting the stop alone never returns).
            let (_, result) = tokio::join!(handle.stop(true), &mut server);
            result
        }
    };
    agg.stop();
    heartbeat.abort();
    drop(hub_tasks);
    let _ = std::fs::remove_file(node.dir.serve_addr());
    tracing::info!("node {} stopped", node.config.id);
    result
}
