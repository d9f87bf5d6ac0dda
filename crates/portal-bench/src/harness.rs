//! What every suite that drives `portal serve` starts with: the release binary, a runtime and
//! a client ([`Harness`]), and nodes in temporary directories ([`Portal`]), all on the test
//! kit's process harness (`portal_tests::harness`): `portal init`, settings in
//! `config.toml`, `portal serve`, every process stopped by its own PID.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use portal_proto::crypto::PublicKey;
use portal_tests::harness::{InitArgs, Node, NodeDir, free_url, init, setting};
use serde_json::Value;

use crate::measure::Progress;

static P: Progress = Progress::new("harness");

pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `cargo build --release -p portal -p portal-bench`; the path of the binary cargo reports.
/// (With this harness in the same invocation, as `cargo xtask bench` builds it, features
/// resolve the same way and the build is a no-op.)
pub(crate) fn build_portal() -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    P.say("building the node: cargo build --release -p portal -p portal-bench");
    let out = Command::new(cargo)
        .args(["build", "--release", "-p", "portal", "-p", "portal-bench"])
        .arg("--message-format=json-render-diagnostics")
        .current_dir(workspace_root())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo build --release -p portal: {}", out.status));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "portal")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| "cargo reported no portal executable".into())
}

/// The release binary, a tokio runtime with 2 workers (the machine's cores), and an HTTP
/// client that uses no proxy and does not decompress (the harness asks for gzip itself when
/// it wants it, and must see the bytes and ETag of the representation it asked for; reqwest's
/// gzip is on through portal-client).
pub(crate) struct Harness {
    pub(crate) bin: PathBuf,
    pub(crate) rt: tokio::runtime::Runtime,
    pub(crate) client: reqwest::Client,
}

impl Harness {
    /// Build (a no-op under `cargo xtask`) and set up; the error says which step failed.
    /// `idle_per_host` caps the client's idle pool per host (`None`: reqwest's default).
    pub(crate) fn new(timeout: Duration, idle_per_host: Option<usize>) -> Result<Harness, String> {
        let bin = build_portal().map_err(|e| format!("the portal binary did not build: {e}"))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("no tokio runtime: {e}"))?;
        let mut builder = reqwest::Client::builder().no_proxy().no_gzip().timeout(timeout);
        if let Some(n) = idle_per_host {
            builder = builder.pool_max_idle_per_host(n);
        }
        let client = builder.build().map_err(|e| format!("no HTTP client: {e}"))?;
        Ok(Harness { bin, rt, client })
    }
}

/// A node in a temporary directory: `portal init` on a free port, settings edited, then
/// `portal serve` on its URL's address (or behind a proxy that has its URL).
pub(crate) struct Portal {
    // Declared before the directory: the process stops before its data is removed.
    node: Node,
    /// Where it listens.
    pub(crate) base: String,
    pub(crate) token: String,
    pub(crate) public_key: PublicKey,
    config: String,
    dir: NodeDir,
    _tmp: tempfile::TempDir,
}

impl Portal {
    /// Node `id` on a free port with `settings` in its `config.toml`.
    pub(crate) fn start(
        bin: &Path,
        id: &str,
        name: &str,
        settings: &[(&str, &str)],
    ) -> Result<Portal, String> {
        Portal::start_at(bin, id, name, settings, &free_url()?, None)
    }

    /// Like [`Portal::start`], but with the public URL `url` (where a proxy listens), and
    /// listening on a free port of its own (`listen` in `config.toml`): `base` is that.
    pub(crate) fn start_behind(
        bin: &Path,
        id: &str,
        name: &str,
        settings: &[(&str, &str)],
        url: &str,
    ) -> Result<Portal, String> {
        let listen = free_url()?.trim_start_matches("http://").to_owned();
        Portal::start_at(bin, id, name, settings, url, Some(&listen))
    }

    fn start_at(
        bin: &Path,
        id: &str,
        name: &str,
        settings: &[(&str, &str)],
        url: &str,
        listen: Option<&str>,
    ) -> Result<Portal, String> {
        let tmp = tempfile::Builder::new()
            .prefix(&format!("portal-bench-{id}-"))
            .tempdir()
            .map_err(|e| format!("temporary directory: {e}"))?;
        let dir = init(bin, &tmp.path().join("node"), &InitArgs::new(id, name, url))?;
        dir.configure(settings)?;
        if let Some(listen) = listen {
            dir.set_listen(listen)?;
        }
        let config = dir.config()?;
        let base = listen.map_or_else(|| url.to_owned(), |l| format!("http://{l}"));
        let node = Node::spawn(bin, &dir.data, &[])?;
        if node.base != base {
            return Err(format!("portal serve ({id}) listens on {}, not {base}", node.base));
        }
        let (token, public_key) = (dir.token.clone(), dir.key.clone());
        Ok(Portal { node, base, token, public_key, config, dir, _tmp: tmp })
    }

    /// SIGKILL, and reap it.
    pub(crate) fn kill9(&mut self) {
        self.node.kill9();
    }

    /// Whether the process has exited.
    pub(crate) fn exited(&mut self) -> bool {
        self.node.exited()
    }

    /// The data directory.
    pub(crate) fn data(&self) -> PathBuf {
        self.dir.data.clone()
    }

    /// Stop the process (SIGTERM) and start `portal serve` again on the same data.
    pub(crate) fn restart(&mut self) -> Result<(), String> {
        self.node.restart().map(|_| ())
    }

    pub(crate) fn pid(&self) -> u32 {
        self.node.pid()
    }

    /// A setting's value as written in `config.toml`.
    pub(crate) fn setting(&self, key: &str) -> String {
        setting(&self.config, key)
    }

    /// `(base, token)`, as the kit's operator calls take a central.
    pub(crate) fn operator(&self) -> (&str, &str) {
        (&self.base, &self.token)
    }
}

/// Publish the bench's draft `k` (`drafts::draft_body`) on `member`: (item id, when the 201
/// arrived, log index).
pub(crate) async fn publish(
    client: &reqwest::Client,
    member: &Portal,
    k: usize,
) -> Result<(String, Instant, u64), String> {
    let body = crate::drafts::draft_body(k);
    let v = portal_tests::api::publish_body(client, &member.base, &member.token, body).await?;
    let acked = Instant::now();
    let id = v["id"].as_str().ok_or_else(|| format!("201 without id: {v}"))?;
    let index = v["log_index"].as_u64().ok_or_else(|| format!("201 without log_index: {v}"))?;
    Ok((id.to_owned(), acked, index))
}

/// Nearest-rank percentile of milliseconds.
pub(crate) fn percentile(v: &[f64], p: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((p * s.len() as f64).ceil() as usize).clamp(1, s.len().max(1));
    s.get(rank - 1).copied().unwrap_or(f64::NAN)
}
