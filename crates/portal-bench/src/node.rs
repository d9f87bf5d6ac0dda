//! The node suite (`cargo xtask bench node`).
//!
//! A real `portal serve` process (release build) is measured against nginx serving the very
//! same bytes as static files, with the same load generator (wrk), the same connections and the
//! same duration, in alternating rounds; the figure is the median of the per-round ratios. Then
//! durable publishes per second through the editor API, 32 concurrent editors against one
//! sequential editor, and a check that every acknowledged publish is in the log.
//!
//! Traffic goes to 127.0.0.1 only. Every process started here is stopped by its own PID
//! (SIGTERM, then SIGKILL if it lingers), also when the harness panics.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use portal_proto::crypto::PublicKey;
use portal_proto::envelope::SignedRecord;
use portal_proto::ids::NodeId;
use portal_proto::record::{KeyGrant, Record};
use portal_proto::verifier::LogVerifier;
use serde_json::{Value, json};

use crate::{Row, median};

/// When the suite started: progress lines carry the time since.
static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// A progress line on standard error, with the seconds since the suite started.
macro_rules! say {
    ($($arg:tt)*) => {
        eprintln!(
            "node [{:5.0} s]: {}",
            START.get_or_init(Instant::now).elapsed().as_secs_f64(),
            format!($($arg)*)
        )
    };
}

/// Open connections of the load generator, for both servers.
const CONNECTIONS: u32 = 32;
/// Threads of the load generator.
const WRK_THREADS: u32 = 2;
/// Concurrent editors in the publish figure.
const EDITORS: usize = 32;
/// Items published before the feed figures: two complete archive pages of 100 entries.
const SEED_ITEMS: usize = 200;
/// The node's id in the benchmark.
const NODE_ID: &str = "bo-y-te";

/// Seconds per side in one round, and the number of rounds. The budget of each row is
/// 5 × `--seconds`: with the default 10, five alternating rounds of 5 s per side.
fn plan(seconds: f64) -> (u64, usize) {
    let side = (seconds / 2.0).round().clamp(1.0, 5.0) as u64;
    let rounds = (5.0 * seconds / (2 * side) as f64).floor().max(3.0) as usize;
    (side, rounds)
}

/// A row before it is measured: what it compares, with what target.
fn row(name: impl Into<String>, unit: &'static str, reference: &str, target: Option<f64>) -> Row {
    Row { name: name.into(), unit, reference_name: reference.into(), target, ..Row::default() }
}

fn skip(mut r: Row, reason: impl Into<String>) -> Row {
    let reason = reason.into();
    say!("{}: SKIPPED ({reason})", r.name);
    r.skipped = Some(reason);
    r
}

/// nginx's `worker_processes`: 1, or `PORTAL_BENCH_NGINX_WORKERS` for experiments.
fn nginx_workers() -> usize {
    std::env::var("PORTAL_BENCH_NGINX_WORKERS").ok().and_then(|w| w.parse().ok()).unwrap_or(1)
}

fn nginx_worker_text() -> String {
    match nginx_workers() {
        1 => "1 worker".to_owned(),
        n => format!("{n} workers"),
    }
}

fn nginx_same_bytes() -> String {
    format!("nginx, {}, the same bytes as a static file", nginx_worker_text())
}

fn nginx_304() -> String {
    format!("nginx, {}, 304 for its own ETag", nginx_worker_text())
}

fn feed_200_row(kb: Option<usize>) -> Row {
    let size = kb.map_or(String::new(), |kb| format!(", {kb} KB"));
    row(
        format!("latest Atom page /feeds/atom (100 entries{size}), 200 full body"),
        "req/s",
        &nginx_same_bytes(),
        Some(0.8),
    )
}

fn feed_304_row() -> Row {
    row("latest Atom page, 304 (If-None-Match: its ETag)", "req/s", &nginx_304(), Some(0.8))
}

fn gzip_row(kb: Option<usize>) -> Row {
    let size = kb.map_or(String::new(), |kb| format!(", {kb} KB compressed"));
    row(
        format!("latest Atom page, 200 gzip (Accept-Encoding: gzip{size})"),
        "req/s",
        &format!("nginx gzip_static, {}, the node's own gzip bytes", nginx_worker_text()),
        None,
    )
}

fn archive_row(kb: Option<usize>) -> Row {
    let size = kb.map_or(String::new(), |kb| format!(", {kb} KB"));
    row(
        format!("Atom archive page /feeds/atom/archive/0 (100 entries{size}), 200 full body"),
        "req/s",
        &nginx_same_bytes(),
        None,
    )
}

const PUBLISH_NAME: &str = "durable publishes, 32 concurrent editors (HTTP 201s)";

fn publish_abs_row() -> Row {
    row(PUBLISH_NAME, "publishes/s", "target 1,000/s (absolute, issue 3)", Some(1.0))
}

fn publish_rel_row() -> Row {
    row(PUBLISH_NAME, "publishes/s", "1 sequential editor, same node, same run", None)
}

fn all_skipped(reason: &str) -> Vec<Row> {
    vec![
        skip(feed_200_row(None), reason),
        skip(feed_304_row(), reason),
        skip(gzip_row(None), reason),
        skip(archive_row(None), reason),
        skip(publish_abs_row(), reason),
        skip(publish_rel_row(), reason),
    ]
}

/// The node suite. Never panics on a missing tool: the rows it cannot measure are SKIPPED.
pub(crate) fn node(seconds: f64) -> Vec<Row> {
    START.get_or_init(Instant::now);
    let (side, rounds) = plan(seconds);
    say!(
        "each figure: {rounds} alternating rounds of {side} s per side \
         ({CONNECTIONS} connections, {WRK_THREADS} load-generator threads)"
    );
    let tools = Tools::find_or_install();
    let Harness { bin, rt, client } = match Harness::new(Duration::from_secs(60), Some(2 * EDITORS))
    {
        Ok(h) => h,
        Err(e) => return all_skipped(&e),
    };
    let node = match NodeUnderTest::start(&bin) {
        Ok(n) => n,
        Err(e) => return all_skipped(&format!("portal init/serve failed: {e}")),
    };
    say!("portal serve listening on {} ({})", node.base, node.workers_note);
    let drafts = Arc::new((0..512).map(draft_body).collect::<Vec<_>>());
    let avg = drafts.iter().map(Vec::len).sum::<usize>() / drafts.len();
    say!("drafts are {avg} bytes of JSON on average; publishing {SEED_ITEMS}");
    let seeded = rt.block_on(editors(
        &client,
        &node,
        &drafts,
        16,
        Stop::Count(SEED_ITEMS),
        Arc::new(AtomicUsize::new(0)),
    ));
    if seeded.acked.len() != SEED_ITEMS {
        let reason = format!(
            "seeding the node: {} of {SEED_ITEMS} publishes acknowledged; errors: {:?}",
            seeded.acked.len(),
            seeded.errors.iter().take(3).collect::<Vec<_>>()
        );
        return all_skipped(&reason);
    }
    let mut rows = feed_rows(&rt, &client, &node, &tools, side, rounds);
    rows.extend(publish_rows(&rt, &client, &node, &drafts, side, rounds, seeded.acked));
    drop(node);
    say!("node stopped");
    rows
}

// ---------------------------------------------------------------------------------------------
// Tools: nginx and wrk, installed with apt when missing (as root), else SKIPPED with the command

struct Tools {
    nginx: Result<PathBuf, String>,
    wrk: Result<PathBuf, String>,
}

fn find_bin(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// While it lives, Debian's maintainer scripts do not start services: installing nginx must not
/// leave a daemon on port 80 that this harness did not start as its own child. Only created
/// (and removed again) when the machine has no policy yet.
struct NoServiceStart(Option<PathBuf>);

impl NoServiceStart {
    fn new() -> NoServiceStart {
        let path = PathBuf::from("/usr/sbin/policy-rc.d");
        if path.exists() {
            return NoServiceStart(None);
        }
        if std::fs::write(
            &path,
            "#!/bin/sh\n# portal-bench: no service starts during install\nexit 101\n",
        )
        .is_err()
        {
            return NoServiceStart(None);
        }
        let _ = Command::new("chmod").arg("755").arg(&path).status();
        say!("wrote {} (exit 101) so apt starts no nginx service", path.display());
        NoServiceStart(Some(path))
    }
}

impl Drop for NoServiceStart {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
            say!("removed {}", p.display());
        }
    }
}

fn apt_candidate(package: &str) -> bool {
    Command::new("apt-cache").args(["policy", package]).output().is_ok_and(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .any(|l| l.trim().strip_prefix("Candidate:").is_some_and(|c| c.trim() != "(none)"))
    })
}

fn apt_install(packages: &[&'static str]) -> Result<(), String> {
    let command = format!("apt-get update && apt-get install -y {}", packages.join(" "));
    if !is_root() {
        return Err(format!("not root, so not installing; run `sudo sh -c '{command}'`"));
    }
    if find_bin("apt-get").is_none() {
        return Err(format!("no apt-get on this machine; install {}", packages.join(" ")));
    }
    say!("{} missing: running `{command}`", packages.join(" and "));
    let quiet = |args: &[&str]| {
        let out = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("apt-get: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            Err(format!("`apt-get {}` failed: {}", args.join(" "), err.trim()))
        }
    };
    quiet(&["update", "-q"])?;
    let (available, missing): (Vec<&str>, Vec<&str>) =
        packages.iter().partition(|p| apt_candidate(p));
    if !available.is_empty() {
        let _guard = NoServiceStart::new();
        let mut args = vec!["install", "-y", "-q"];
        args.extend(&available);
        quiet(&args)?;
        say!("installed {}", available.join(" "));
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} has no installation candidate (`apt-cache policy {}`); no other load generator \
             is wired in (oha from crates.io would need `cargo install oha`)",
            missing.join(" "),
            missing.join(" ")
        ))
    }
}

impl Tools {
    fn find_or_install() -> Tools {
        let wanted: [(&str, &'static str); 2] = [("nginx", "nginx"), ("wrk", "wrk")];
        let missing: Vec<&'static str> =
            wanted.iter().filter(|(b, _)| find_bin(b).is_none()).map(|(_, p)| *p).collect();
        let install_error = if missing.is_empty() { None } else { apt_install(&missing).err() };
        let get = |bin: &str| {
            find_bin(bin).ok_or_else(|| match &install_error {
                Some(e) => format!("{bin} not found and not installed: {e}"),
                None => format!("{bin} not found; install it with `apt-get install -y {bin}`"),
            })
        };
        let tools = Tools { nginx: get("nginx"), wrk: get("wrk") };
        for (name, t) in [("nginx", &tools.nginx), ("wrk", &tools.wrk)] {
            match t {
                Ok(p) => say!("{name}: {}", p.display()),
                Err(e) => say!("{name}: {e}"),
            }
        }
        tools
    }
}

// ---------------------------------------------------------------------------------------------
// Processes

/// A child process, stopped by its own PID when dropped: SIGTERM first (nginx's master then
/// stops its worker; the node finishes in-flight requests), SIGKILL if it lingers.
/// Start `portal serve` (configured in `command`, quiet, standard output piped) and read the
/// address it prints first; `label` names it in errors.
pub(crate) fn spawn_serve(mut command: Command, label: &str) -> Result<(Proc, String), String> {
    let mut child = command
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("portal serve: {e}"))?;
    let mut reader = child.stdout.take().map(BufReader::new);
    let mut proc = Proc { name: "portal serve", child, _stdout: None };
    let mut line = String::new();
    if let Some(r) = reader.as_mut() {
        let _ = r.read_line(&mut line);
    }
    proc._stdout = reader;
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .ok_or_else(|| format!("{label} printed {line:?}, not its address"))?
        .to_owned();
    Ok((proc, base))
}

pub(crate) struct Proc {
    pub(crate) name: &'static str,
    pub(crate) child: Child,
    /// Kept open so that a late write to standard output never meets a closed pipe.
    pub(crate) _stdout: Option<BufReader<ChildStdout>>,
}

impl Proc {
    pub(crate) fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    pub(crate) fn stop(&mut self) {
        if self.exited() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.exited() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        say!("{} (pid {}) ignored SIGTERM; killing it", self.name, self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `cargo build --release -p portal -p portal-bench`; the path of the binary cargo reports.
/// (With this harness in the same invocation, as `cargo xtask bench` builds it, features
/// resolve the same way and the build is a no-op.)
pub(crate) fn build_portal() -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    say!("building the node: cargo build --release -p portal -p portal-bench");
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

/// What every suite that drives `portal serve` starts with: the release binary, a tokio
/// runtime with 2 workers (the machine's cores), and an HTTP client that uses no proxy and does
/// not decompress (the harness asks for gzip itself when it wants it, and must see the bytes
/// and ETag of the representation it asked for; reqwest's gzip is on through portal-client).
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

/// `portal init` + `portal serve --listen 127.0.0.1:0`, in a temporary directory.
struct NodeUnderTest {
    // Declared before the directory: the process stops before its data is removed.
    proc: Proc,
    base: String,
    token: String,
    public_key: PublicKey,
    workers_note: String,
    _dir: tempfile::TempDir,
}

/// `portal init --data DATA ARGS --url URL`: the admin token and public key it printed.
pub(crate) fn portal_init(
    bin: &Path,
    data: &Path,
    args: &[&str],
    url: &str,
) -> Result<(String, PublicKey), String> {
    let out = Command::new(bin)
        .arg("init")
        .arg("--data")
        .arg(data)
        .args(args)
        .args(["--url", url])
        .env("RUST_LOG", "warn")
        .output()
        .map_err(|e| format!("portal init: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("portal init: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .map(str::to_owned)
            .ok_or_else(|| format!("portal init printed no {name:?}: {stdout}"))
    };
    let token = field("admin token:")?;
    let public_key = PublicKey::from_base64(&field("public key:")?)
        .map_err(|e| format!("portal init printed a bad public key: {e}"))?;
    Ok((token, public_key))
}

impl NodeUnderTest {
    fn start(bin: &Path) -> Result<NodeUnderTest, String> {
        let dir = tempfile::Builder::new()
            .prefix("portal-bench-node-")
            .tempdir()
            .map_err(|e| format!("temporary directory: {e}"))?;
        let data = dir.path().join("node");
        let (token, public_key) = portal_init(
            bin,
            &data,
            &["--id", NODE_ID, "--name", "Bộ Y tế", "--name-en", "Ministry of Health"],
            "http://127.0.0.1:9",
        )?;

        // One worker, like nginx, if `portal serve` lets us choose; otherwise say so.
        let help = Command::new(bin)
            .args(["serve", "--help"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let mut serve = Command::new(bin);
        serve.arg("serve").arg("--data").arg(&data).args(["--listen", "127.0.0.1:0"]);
        let workers_note = if help.contains("--workers") {
            let n = nginx_workers().to_string();
            serve.args(["--workers", &n]);
            format!("portal serve --workers {n}, like nginx's worker_processes {n}")
        } else {
            let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
            format!(
                "`portal serve` has no worker setting: actix-web starts one worker per available \
                 CPU ({cpus} here), while nginx runs worker_processes {}",
                nginx_workers()
            )
        };
        let (proc, base) = spawn_serve(serve, "portal serve")?;
        Ok(NodeUnderTest { proc, base, token, public_key, workers_note, _dir: dir })
    }
}

impl Drop for NodeUnderTest {
    fn drop(&mut self) {
        self.proc.stop();
    }
}

/// nginx as a child process (`-g 'daemon off;'`), configured in its own temporary directory.
struct Nginx {
    proc: Proc,
    base: String,
    conf: String,
    _dir: tempfile::TempDir,
}

/// One static file for nginx: its URL path, bytes and response headers.
struct Static<'a> {
    path: &'a str,
    body: &'a [u8],
    /// The same document gzip-compressed, served with `gzip_static` to clients that accept it.
    gzip: Option<&'a [u8]>,
    content_type: &'a str,
    cache_control: &'a str,
}

fn nginx_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Nginx {
    fn start(bin: &Path, files: &[Static<'_>]) -> Result<Nginx, String> {
        let dir = tempfile::Builder::new()
            .prefix("portal-bench-nginx-")
            .tempdir()
            .map_err(|e| format!("temporary directory: {e}"))?;
        let root = dir.path();
        let www = root.join("www");
        std::fs::create_dir_all(&www).map_err(|e| format!("{}: {e}", www.display()))?;
        // nginx's worker runs as an unprivileged user when the master is root: let it read.
        let _ = Command::new("chmod").arg("755").arg(root).arg(&www).status();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let mut locations = String::new();
        for (i, f) in files.iter().enumerate() {
            let file = www.join(format!("{i}.body"));
            std::fs::write(&file, f.body).map_err(|e| format!("{}: {e}", file.display()))?;
            let _ = Command::new("chmod").arg("644").arg(&file).status();
            let mut gzip = "";
            if let Some(gz) = f.gzip {
                let gz_file = www.join(format!("{i}.body.gz"));
                std::fs::write(&gz_file, gz).map_err(|e| format!("{}: {e}", gz_file.display()))?;
                let _ = Command::new("chmod").arg("644").arg(&gz_file).status();
                gzip = "            gzip_static on;\n            gzip_vary on;\n";
            }
            locations.push_str(&format!(
                "        location = {} {{\n            alias {};\n            default_type {};\n            add_header Cache-Control {};\n{gzip}        }}\n",
                f.path,
                file.display(),
                nginx_quote(f.content_type),
                nginx_quote(f.cache_control),
            ));
        }
        let r = root.display();
        let workers = nginx_workers();
        let conf = format!(
            "# Generated by portal-bench: worker_processes {workers}, no access log, static files with the node's
# Content-Type and Cache-Control; nginx computes its own ETag (mtime-size) and Last-Modified.
worker_processes {workers};
pid {r}/nginx.pid;
error_log {r}/error.log warn;
events {{
    worker_connections 1024;
}}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    types {{ }}
    client_body_temp_path {r}/client_body;
    proxy_temp_path {r}/proxy;
    fastcgi_temp_path {r}/fastcgi;
    uwsgi_temp_path {r}/uwsgi;
    scgi_temp_path {r}/scgi;
    server {{
        listen 127.0.0.1:{port};
{locations}    }}
}}
"
        );
        let conf_path = root.join("nginx.conf");
        std::fs::write(&conf_path, &conf).map_err(|e| format!("{}: {e}", conf_path.display()))?;
        let child = Command::new(bin)
            .arg("-p")
            .arg(root)
            .arg("-e")
            .arg(root.join("error.log"))
            .arg("-c")
            .arg(&conf_path)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("nginx: {e}"))?;
        let mut proc = Proc { name: "nginx", child, _stdout: None };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if proc.exited() || Instant::now() > deadline {
                let log = std::fs::read_to_string(root.join("error.log")).unwrap_or_default();
                return Err(format!("nginx did not start: {}", log.trim()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Nginx { proc, base: format!("http://127.0.0.1:{port}"), conf, _dir: dir })
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.proc.stop();
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers

struct Fetched {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Fetched {
    fn head(&self) -> String {
        let mut h = format!("HTTP/1.1 {}\n", self.status);
        for (n, v) in &self.headers {
            h.push_str(&format!("{n}: {v}\n"));
        }
        h
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn fetch(
    rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    url: &str,
    header: Option<(&str, &str)>,
) -> Result<Fetched, String> {
    rt.block_on(async {
        let mut req = client.get(url);
        if let Some((name, value)) = header {
            req = req.header(name, value);
        }
        let resp = req.send().await.map_err(|e| format!("GET {url}: {e}"))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into()))
            .collect();
        let body = resp.bytes().await.map_err(|e| format!("GET {url}: {e}"))?.to_vec();
        Ok(Fetched { status, headers, body })
    })
}

// ---------------------------------------------------------------------------------------------
// wrk

/// Exact totals from wrk's `done` hook. Defining only `done` keeps wrk on its fast path (no
/// per-response Lua), so the measured runs cost the load generator the same for both servers.
const SUMMARY_LUA: &str = r#"-- portal-bench: exact totals of a run
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "PORTAL-BENCH requests=%d bytes=%d connect=%d read=%d write=%d timeout=%d status=%d\n",
    summary.requests, summary.bytes, e.connect, e.read, e.write, e.timeout, e.status))
end
"#;

/// The check pass: every response's status and body length (args: status, length). Costs wrk
/// a Lua call per response, so it runs apart from the measured rounds.
const CHECK_LUA: &str = r#"-- portal-bench: count responses that are not exactly what we expect
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  want_status = tonumber(args[1]); want_len = tonumber(args[2])
  good = 0; wrong_status = 0; wrong_len = 0
end
function response(status, headers, body)
  if status ~= want_status then wrong_status = wrong_status + 1
  elseif #body ~= want_len then wrong_len = wrong_len + 1
  else good = good + 1 end
end
function done(summary, latency, requests)
  local g, s, l = 0, 0, 0
  for _, t in ipairs(threads) do
    g = g + t:get("good"); s = s + t:get("wrong_status"); l = l + t:get("wrong_len")
  end
  io.write(string.format("PORTAL-CHECK good=%d wrong_status=%d wrong_len=%d\n", g, s, l))
end
"#;

struct Wrk {
    bin: PathBuf,
    summary_lua: PathBuf,
    check_lua: PathBuf,
    _dir: tempfile::TempDir,
}

/// One measured run.
#[derive(Clone, Copy, Default)]
struct Run {
    rps: f64,
    requests: u64,
    bytes: u64,
    socket_errors: u64,
    bad_status: u64,
}

fn keyed(line: &str) -> BTreeMap<&str, u64> {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| v.parse().ok().map(|v| (k, v)))
        .collect()
}

impl Wrk {
    fn new(bin: PathBuf) -> Result<Wrk, String> {
        let dir = tempfile::Builder::new()
            .prefix("portal-bench-wrk-")
            .tempdir()
            .map_err(|e| format!("temporary directory: {e}"))?;
        let summary_lua = dir.path().join("summary.lua");
        let check_lua = dir.path().join("check.lua");
        std::fs::write(&summary_lua, SUMMARY_LUA).map_err(|e| e.to_string())?;
        std::fs::write(&check_lua, CHECK_LUA).map_err(|e| e.to_string())?;
        Ok(Wrk { bin, summary_lua, check_lua, _dir: dir })
    }

    fn run(
        &self,
        script: &Path,
        url: &str,
        header: Option<&str>,
        secs: u64,
        script_args: &[String],
    ) -> Result<String, String> {
        let mut c = Command::new(&self.bin);
        c.args(["-t", &WRK_THREADS.to_string(), "-c", &CONNECTIONS.to_string()])
            .args(["-d", &format!("{secs}s"), "--timeout", "10s", "-s"])
            .arg(script);
        if let Some(h) = header {
            c.args(["-H", h]);
        }
        c.arg(url);
        if !script_args.is_empty() {
            c.arg("--").args(script_args);
        }
        let out = c.stdin(Stdio::null()).output().map_err(|e| format!("wrk: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Err(format!(
                "wrk {url}: {}: {}{}",
                out.status,
                text.trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(text)
    }

    /// A measured run: Requests/sec as wrk prints it, and the exact totals.
    fn measure(&self, url: &str, header: Option<&str>, secs: u64) -> Result<Run, String> {
        let text = self.run(&self.summary_lua, url, header, secs, &[])?;
        let rps = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .ok_or_else(|| format!("no Requests/sec in wrk's output: {text}"))?;
        let totals = text
            .lines()
            .find_map(|l| l.strip_prefix("PORTAL-BENCH "))
            .map(keyed)
            .ok_or_else(|| format!("no totals in wrk's output: {text}"))?;
        let get = |k: &str| totals.get(k).copied().unwrap_or(0);
        Ok(Run {
            rps,
            requests: get("requests"),
            bytes: get("bytes"),
            socket_errors: get("connect") + get("read") + get("write") + get("timeout"),
            bad_status: get("status"),
        })
    }

    /// The check pass: (good, wrong status, wrong body length) over a 1 s run.
    fn check(
        &self,
        url: &str,
        header: Option<&str>,
        status: u16,
        len: usize,
    ) -> Result<(u64, u64, u64), String> {
        let args = [status.to_string(), len.to_string()];
        let text = self.run(&self.check_lua, url, header, 1, &args)?;
        let counts = text
            .lines()
            .find_map(|l| l.strip_prefix("PORTAL-CHECK "))
            .map(keyed)
            .ok_or_else(|| format!("no counts in wrk's output: {text}"))?;
        let get = |k: &str| counts.get(k).copied().unwrap_or(0);
        Ok((get("good"), get("wrong_status"), get("wrong_len")))
    }
}

// ---------------------------------------------------------------------------------------------
// The feed figures

/// One side of an HTTP comparison: where, and the header to send.
struct Side<'a> {
    who: &'static str,
    url: String,
    header: Option<&'a str>,
}

/// Check pass on both sides, then alternating measured rounds; ratio = first side / second.
fn compare(
    mut r: Row,
    wrk: &Wrk,
    sides: [Side<'_>; 2],
    status: u16,
    body_len: usize,
    secs: u64,
    rounds: usize,
) -> Row {
    for s in &sides {
        match wrk.check(&s.url, s.header, status, body_len) {
            Ok((good, 0, 0)) if good > 0 => r.notes.push(format!(
                "{}: check pass (1 s, every response inspected): {good} responses, all \
                 {status} with {body_len}-byte bodies",
                s.who
            )),
            Ok((good, wrong_status, wrong_len)) => {
                return skip(
                    r,
                    format!(
                        "{} does not answer {status} with {body_len} bytes: {good} right, \
                         {wrong_status} with another status, {wrong_len} with another length",
                        s.who
                    ),
                );
            }
            Err(e) => return skip(r, e),
        }
    }
    let mut runs: [Vec<Run>; 2] = [Vec::new(), Vec::new()];
    let mut ratios = Vec::new();
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        let mut this = [Run::default(); 2];
        for i in order {
            match wrk.measure(&sides[i].url, sides[i].header, secs) {
                Ok(run) => this[i] = run,
                Err(e) => return skip(r, e),
            }
        }
        say!(
            "  round {}: {} {:.0} req/s, {} {:.0} req/s",
            round + 1,
            sides[0].who,
            this[0].rps,
            sides[1].who,
            this[1].rps
        );
        ratios.push(this[0].rps / this[1].rps);
        runs[0].push(this[0]);
        runs[1].push(this[1]);
    }
    for (s, runs) in sides.iter().zip(&runs) {
        let requests: u64 = runs.iter().map(|x| x.requests).sum();
        let bytes: u64 = runs.iter().map(|x| x.bytes).sum();
        let bad: u64 = runs.iter().map(|x| x.bad_status).sum();
        let socket: u64 = runs.iter().map(|x| x.socket_errors).sum();
        let per = bytes.checked_div(requests).unwrap_or(0);
        // Bytes read include headers: a 200 run reads at least the body per response; a 304 run
        // reads no body at all (well under one body per hundred responses).
        let bodies_ok = if status == 200 {
            requests > 0 && bytes >= requests * body_len as u64
        } else {
            requests > 0 && per < 1024
        };
        let verdict = if bad == 0 && socket == 0 && bodies_ok { "ok" } else { "CHECK FAILED" };
        let line = format!(
            "{}: measured runs: {requests} responses, {bad} non-2xx/3xx, {socket} socket errors, \
             {per} bytes read per response ({verdict})",
            s.who
        );
        if verdict != "ok" {
            say!("{}: {line}", r.name);
        }
        r.notes.push(line);
    }
    r.value = median(runs[0].iter().map(|x| x.rps).collect());
    r.reference = median(runs[1].iter().map(|x| x.rps).collect());
    r.ratio = median(ratios);
    r
}

fn feed_rows(
    rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    node: &NodeUnderTest,
    tools: &Tools,
    secs: u64,
    rounds: usize,
) -> Vec<Row> {
    let base = &node.base;
    // The exact bytes and headers, saved once from the node.
    let latest = match fetch(rt, client, &format!("{base}/feeds/atom"), None) {
        Ok(f) if f.status == 200 => f,
        Ok(f) => return skip_feeds(&format!("the node answered {} to /feeds/atom", f.status)),
        Err(e) => return skip_feeds(&e),
    };
    let gzip_header = ("accept-encoding", "gzip");
    let gzipped = match fetch(rt, client, &format!("{base}/feeds/atom"), Some(gzip_header)) {
        Ok(f) if f.status == 200 && f.header("content-encoding") == Some("gzip") => Ok(f),
        Ok(f) => Err(format!(
            "the node answered {} with Content-Encoding {:?} to Accept-Encoding: gzip",
            f.status,
            f.header("content-encoding")
        )),
        Err(e) => Err(e),
    };
    let archive = match fetch(rt, client, &format!("{base}/feeds/atom/archive/0"), None) {
        Ok(a) if a.status == 200 => Ok(a),
        Ok(a) => Err(format!("the node answered {} to /feeds/atom/archive/0", a.status)),
        Err(e) => Err(e),
    };
    let entries = portal_proto::feed::decode_atom(&latest.body).map(|f| f.entries.len());
    say!(
        "/feeds/atom: {} bytes, {:?} entries; headers: {}",
        latest.body.len(),
        entries,
        latest.headers.iter().map(|(n, v)| format!("{n}: {v}")).collect::<Vec<_>>().join("; ")
    );
    // Keep what was measured, for inspection: target/bench/node/.
    let saved = workspace_root().join("target/bench/node");
    let save = |name: &str, bytes: &[u8]| {
        let _ = std::fs::create_dir_all(&saved);
        if let Err(e) = std::fs::write(saved.join(name), bytes) {
            say!("could not save {name}: {e}");
        }
    };
    save("latest.atom", &latest.body);
    save("latest.headers", latest.head().as_bytes());
    if let Ok(g) = &gzipped {
        save("latest.atom.gz", &g.body);
        save("latest.gz.headers", g.head().as_bytes());
    }
    if let Ok(a) = &archive {
        save("archive-0.atom", &a.body);
        save("archive-0.headers", a.head().as_bytes());
    }
    say!("saved the bytes and headers measured in {}", saved.display());
    let kb = |n: usize| (n + 512) / 1024;
    let mut r200 = feed_200_row(Some(kb(latest.body.len())));
    let mut r304 = feed_304_row();
    let mut rgzip = gzip_row(gzipped.as_ref().ok().map(|g| kb(g.body.len())));
    let mut rarch = archive_row(archive.as_ref().ok().map(|a| kb(a.body.len())));
    let fail_all = |e: &str, rows: [Row; 4]| rows.into_iter().map(|r| skip(r, e)).collect();
    let (nginx_bin, wrk_bin) = match (&tools.nginx, &tools.wrk) {
        (Ok(n), Ok(w)) => (n, w),
        (Err(e), _) | (_, Err(e)) => return fail_all(e, [r200, r304, rgzip, rarch]),
    };
    let wrk = match Wrk::new(wrk_bin.clone()) {
        Ok(w) => w,
        Err(e) => return fail_all(&e, [r200, r304, rgzip, rarch]),
    };
    let node_etag = latest.header("etag").unwrap_or_default().to_owned();
    let content_type = latest.header("content-type").unwrap_or("application/atom+xml").to_owned();
    let mut files = vec![Static {
        path: "/feeds/atom",
        body: &latest.body,
        gzip: gzipped.as_ref().ok().map(|g| g.body.as_slice()),
        content_type: &content_type,
        cache_control: latest.header("cache-control").unwrap_or("public, max-age=5"),
    }];
    if let Ok(a) = &archive {
        files.push(Static {
            path: "/feeds/atom/archive/0",
            body: &a.body,
            gzip: None,
            content_type: a.header("content-type").unwrap_or(&content_type),
            cache_control: a.header("cache-control").unwrap_or("public, max-age=31536000"),
        });
    }
    let nginx = match Nginx::start(nginx_bin, &files) {
        Ok(n) => n,
        Err(e) => return fail_all(&e, [r200, r304, rgzip, rarch]),
    };
    let version = Command::new(nginx_bin)
        .arg("-v")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_owned())
        .unwrap_or_default();
    say!("{version} serving the saved bytes on {}", nginx.base);
    save("nginx.conf", nginx.conf.as_bytes());
    let from_nginx = match fetch(rt, client, &format!("{}/feeds/atom", nginx.base), None) {
        Ok(f) if f.status == 200 && f.body == latest.body => f,
        Ok(f) => {
            let e = format!(
                "nginx does not serve the saved bytes (status {}, {} bytes)",
                f.status,
                f.body.len()
            );
            return fail_all(&e, [r200, r304, rgzip, rarch]);
        }
        Err(e) => return fail_all(&e, [r200, r304, rgzip, rarch]),
    };
    let nginx_etag = from_nginx.header("etag").unwrap_or_default().to_owned();
    let same_type = from_nginx.header("content-type") == Some(content_type.as_str());
    let header_note = format!(
        "same bytes ({} B) and Content-Type ({}: {content_type}); node ETag {node_etag}, nginx \
         ETag {nginx_etag}; {}; nginx: {version}, sendfile on, access_log off, default \
         keepalive_requests",
        latest.body.len(),
        if same_type { "identical" } else { "DIFFERENT" },
        node.workers_note,
    );
    say!("{header_note}");
    let sides = |path: &str, header: Option<&'static str>| {
        [
            Side { who: "node", url: format!("{base}{path}"), header },
            Side { who: "nginx", url: format!("{}{path}", nginx.base), header },
        ]
    };

    say!("measuring {}", r200.name);
    r200.notes.push(header_note.clone());
    let r200 =
        compare(r200, &wrk, sides("/feeds/atom", None), 200, latest.body.len(), secs, rounds);

    say!("measuring {}", r304.name);
    let node_inm = format!("If-None-Match: {node_etag}");
    let nginx_inm = format!("If-None-Match: {nginx_etag}");
    let r304 = if node_etag.is_empty() || nginx_etag.is_empty() {
        skip(r304, format!("no ETag to send (node {node_etag:?}, nginx {nginx_etag:?})"))
    } else {
        r304.notes.push(header_note);
        let s = [
            Side { who: "node", url: format!("{base}/feeds/atom"), header: Some(&node_inm) },
            Side {
                who: "nginx",
                url: format!("{}/feeds/atom", nginx.base),
                header: Some(&nginx_inm),
            },
        ];
        compare(r304, &wrk, s, 304, 0, secs, rounds)
    };

    let nginx_gzip = fetch(rt, client, &format!("{}/feeds/atom", nginx.base), Some(gzip_header));
    let rgzip = match (&gzipped, &nginx_gzip) {
        (Ok(g), Ok(n)) if n.status == 200 && n.body == g.body => {
            say!("measuring {}", rgzip.name);
            rgzip.notes.push(format!(
                "what feed readers and browsers ask for. Both send the same {} gzip bytes (the \
                 node's own, saved once); the node compresses the {} B page again on every \
                 request (actix-web's Compress middleware), nginx sends the stored file",
                g.body.len(),
                latest.body.len()
            ));
            let s = sides("/feeds/atom", Some("Accept-Encoding: gzip"));
            compare(rgzip, &wrk, s, 200, g.body.len(), secs, rounds)
        }
        (Ok(_), Ok(n)) => skip(
            rgzip,
            format!(
                "nginx gzip_static did not serve the saved gzip bytes (status {}, {} bytes, \
                 Content-Encoding {:?})",
                n.status,
                n.body.len(),
                n.header("content-encoding")
            ),
        ),
        (Err(e), _) | (_, Err(e)) => skip(rgzip, e.clone()),
    };

    let rarch = match &archive {
        Ok(a) => {
            say!("measuring {}", rarch.name);
            rarch.notes.push(format!(
                "same bytes ({} B); the node renders archive pages on every request (not cached), \
                 nginx reads the file",
                a.body.len()
            ));
            let s = sides("/feeds/atom/archive/0", None);
            compare(rarch, &wrk, s, 200, a.body.len(), secs, rounds)
        }
        Err(e) => skip(rarch, format!("no archive page: {e}")),
    };
    drop(nginx);
    vec![r200, r304, rgzip, rarch]
}

fn skip_feeds(reason: &str) -> Vec<Row> {
    vec![
        skip(feed_200_row(None), reason),
        skip(feed_304_row(), reason),
        skip(gzip_row(None), reason),
        skip(archive_row(None), reason),
    ]
}

// ---------------------------------------------------------------------------------------------
// Publishing

const PROVINCES: [&str; 8] = [
    "Hà Nội",
    "TP. Hồ Chí Minh",
    "Đà Nẵng",
    "Cần Thơ",
    "Hải Phòng",
    "Thừa Thiên Huế",
    "Nghệ An",
    "Khánh Hòa",
];

/// (categories, title, summary, three paragraphs).
type Topic = ([&'static str; 2], &'static str, &'static str, [&'static str; 3]);

const TOPICS: [Topic; 6] = [
    (
        ["suc-khoe", "y-te-du-phong"],
        "Bộ Y tế khuyến cáo phòng chống sốt xuất huyết mùa mưa",
        "Người dân cần loại bỏ nơi nước đọng, diệt bọ gậy hằng tuần và đến cơ sở y tế ngay khi có dấu hiệu sốt cao liên tục.",
        [
            "Theo Cục Phòng bệnh, số ca mắc sốt xuất huyết trong tháng qua tăng so với cùng kỳ năm trước, tập trung ở các khu dân cư đông đúc và khu nhà trọ.",
            "Bộ Y tế đề nghị chính quyền địa phương tổ chức chiến dịch diệt bọ gậy, phun hóa chất tại các ổ dịch và tăng cường truyền thông để người dân chủ động phòng bệnh.",
            "Người bệnh không tự ý dùng thuốc hạ sốt nhóm aspirin, cần uống đủ nước, theo dõi các dấu hiệu cảnh báo như đau bụng, nôn nhiều, chảy máu chân răng và đến bệnh viện kịp thời.",
        ],
    ),
    (
        ["giao-duc", "thi-cu"],
        "Hướng dẫn tổ chức kỳ thi tốt nghiệp trung học phổ thông",
        "Bộ Giáo dục và Đào tạo công bố lịch thi, quy định về đăng ký dự thi trực tuyến và các mốc thời gian xét công nhận tốt nghiệp.",
        [
            "Thí sinh đăng ký dự thi trực tuyến trên Cổng thông tin của Bộ từ ngày 24 tháng 4; thí sinh tự do có thể đăng ký trực tiếp tại điểm tiếp nhận do sở giáo dục quy định.",
            "Kỳ thi gồm ba bài thi bắt buộc và một bài thi tự chọn; đề thi được xây dựng theo hướng đánh giá năng lực, bám sát chương trình giáo dục phổ thông.",
            "Các sở giáo dục và đào tạo bố trí điểm thi thuận lợi cho thí sinh, bảo đảm an toàn, nghiêm túc, đúng quy chế và hỗ trợ thí sinh có hoàn cảnh khó khăn.",
        ],
    ),
    (
        ["giao-thong", "ha-tang"],
        "Thông xe kỹ thuật đoạn cao tốc Bắc – Nam phía Đông",
        "Bộ Xây dựng thông báo đưa vào khai thác tạm thời đoạn cao tốc mới, giúp rút ngắn thời gian di chuyển giữa các tỉnh miền Trung.",
        [
            "Đoạn tuyến dài hơn 60 km được thiết kế với vận tốc 90 km/h, có bốn làn xe, các trạm dừng nghỉ và hệ thống giao thông thông minh giám sát toàn tuyến.",
            "Trong thời gian khai thác tạm thời, phương tiện lưu thông theo biển báo, không dừng đỗ trên làn dừng khẩn cấp; lực lượng cảnh sát giao thông tăng cường tuần tra.",
            "Chủ đầu tư tiếp tục hoàn thiện các hạng mục phụ trợ và tiếp nhận phản ánh của người dân qua đường dây nóng để kịp thời xử lý các tồn tại.",
        ],
    ),
    (
        ["nong-nghiep", "thoi-tiet"],
        "Chủ động ứng phó hạn hán và xâm nhập mặn vùng Đồng bằng sông Cửu Long",
        "Bộ Nông nghiệp và Môi trường đề nghị các địa phương điều chỉnh lịch thời vụ, tích trữ nước ngọt và vận hành hợp lý hệ thống cống.",
        [
            "Dự báo độ mặn 4‰ có thể xâm nhập sâu 50 đến 65 km vào các cửa sông chính trong đợt triều cường tới, ảnh hưởng đến sản xuất lúa và nước sinh hoạt.",
            "Các địa phương cần rà soát diện tích lúa đông xuân có nguy cơ thiếu nước, hướng dẫn nông dân xuống giống theo khung lịch khuyến cáo và sử dụng giống chịu mặn.",
            "Người dân theo dõi thông tin độ mặn được cập nhật hằng ngày trên cổng thông tin của Bộ và của Đài Khí tượng Thủy văn khu vực.",
        ],
    ),
    (
        ["tai-chinh", "thue"],
        "Triển khai hoàn thuế giá trị gia tăng điện tử cho doanh nghiệp",
        "Bộ Tài chính hướng dẫn doanh nghiệp nộp hồ sơ hoàn thuế qua cổng dịch vụ công, rút ngắn thời gian giải quyết và công khai tiến độ xử lý.",
        [
            "Từ ngày 1 tháng 7, toàn bộ hồ sơ đề nghị hoàn thuế giá trị gia tăng được tiếp nhận và giải quyết bằng phương thức điện tử, kết quả trả về tài khoản của doanh nghiệp.",
            "Cơ quan thuế thực hiện phân loại hồ sơ theo mức độ rủi ro; hồ sơ thuộc diện hoàn trước kiểm tra sau được giải quyết trong thời hạn sáu ngày làm việc.",
            "Doanh nghiệp có vướng mắc liên hệ bộ phận hỗ trợ người nộp thuế của cục thuế địa phương hoặc gửi câu hỏi qua chuyên mục hỏi đáp trực tuyến.",
        ],
    ),
    (
        ["bao-hiem-xa-hoi", "lao-dong"],
        "Điều chỉnh mức lương hưu và trợ cấp bảo hiểm xã hội",
        "Người hưởng lương hưu, trợ cấp bảo hiểm xã hội và trợ cấp hằng tháng được điều chỉnh tăng từ kỳ chi trả tháng tới.",
        [
            "Mức điều chỉnh áp dụng cho cán bộ, công chức, viên chức, người lao động đã nghỉ hưu và người đang hưởng trợ cấp mất sức lao động hằng tháng.",
            "Cơ quan bảo hiểm xã hội các tỉnh, thành phố thực hiện chi trả đúng kỳ, thuận tiện, khuyến khích người hưởng nhận qua tài khoản ngân hàng.",
            "Người hưởng có thể tra cứu mức hưởng mới trên ứng dụng VssID hoặc liên hệ tổng đài hỗ trợ khách hàng để được giải đáp.",
        ],
    ),
];

/// A realistic Vietnamese news draft (about 1.5 KB of JSON), varied by `k`.
pub(crate) fn draft_body(k: usize) -> Vec<u8> {
    let (categories, title, summary, paragraphs) = TOPICS[k % TOPICS.len()];
    let province = PROVINCES[(k / TOPICS.len()) % PROVINCES.len()];
    let body = format!(
        "<p>{}</p><p>{}</p><p>{}</p><p>Thông tin chi tiết được đăng tải trên cổng thông tin điện tử \
         của Ủy ban nhân dân {province}. Mọi ý kiến góp ý, phản ánh của người dân và doanh nghiệp \
         xin gửi về bộ phận một cửa hoặc qua <a href=\"https://dichvucong.gov.vn\">Cổng Dịch vụ \
         công quốc gia</a> để được tiếp nhận và trả lời trong thời hạn quy định.</p>",
        paragraphs[0], paragraphs[1], paragraphs[2]
    );
    let d = json!({
        "kind": "news",
        "language": "vi",
        "title": format!("{title} ({province}, bản tin số {k})"),
        "summary": summary,
        "content_html": body,
        "categories": categories,
    });
    serde_json::to_vec(&d).unwrap_or_default()
}

enum Stop {
    /// Until the shared counter reaches this many publishes.
    Count(usize),
    /// Until this instant (publishes in flight then still complete and count).
    At(Instant),
}

#[derive(Default)]
struct Published {
    /// (item id, log index) of every 201.
    acked: Vec<(String, u64)>,
    errors: Vec<String>,
    elapsed: Duration,
}

/// `tasks` editors posting drafts to the editor API until `stop`.
async fn editors(
    client: &reqwest::Client,
    node: &NodeUnderTest,
    drafts: &Arc<Vec<Vec<u8>>>,
    tasks: usize,
    stop: Stop,
    next: Arc<AtomicUsize>,
) -> Published {
    let url = format!("{}/api/v1/items", node.base);
    let stop = Arc::new(stop);
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (client, url, token) = (client.clone(), url.clone(), node.token.clone());
        let (drafts, next, stop) = (Arc::clone(drafts), Arc::clone(&next), Arc::clone(&stop));
        handles.push(tokio::spawn(async move {
            let mut out = Published::default();
            loop {
                if let Stop::At(t) = *stop
                    && Instant::now() >= t
                {
                    break;
                }
                let k = next.fetch_add(1, Ordering::Relaxed);
                if let Stop::Count(n) = *stop
                    && k >= n
                {
                    break;
                }
                let resp = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(drafts[k % drafts.len()].clone())
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status().as_u16() == 201 => match r.json::<Value>().await {
                        Ok(v) => match (v["id"].as_str(), v["log_index"].as_u64()) {
                            (Some(id), Some(i)) => out.acked.push((id.to_owned(), i)),
                            _ => out.errors.push(format!("201 without id/log_index: {v}")),
                        },
                        Err(e) => out.errors.push(format!("201 body: {e}")),
                    },
                    Ok(r) => {
                        let status = r.status();
                        let text = r.text().await.unwrap_or_default();
                        out.errors.push(format!("{status}: {text}"));
                    }
                    Err(e) => out.errors.push(e.to_string()),
                }
            }
            out
        }));
    }
    let mut all = Published::default();
    for h in handles {
        match h.await {
            Ok(p) => {
                all.acked.extend(p.acked);
                all.errors.extend(p.errors);
            }
            Err(e) => all.errors.push(format!("editor task: {e}")),
        }
    }
    all.elapsed = start.elapsed();
    all
}

fn publish_rows(
    rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    node: &NodeUnderTest,
    drafts: &Arc<Vec<Vec<u8>>>,
    secs: u64,
    rounds: usize,
    mut acked: Vec<(String, u64)>,
) -> Vec<Row> {
    let mut abs = publish_abs_row();
    let mut rel = publish_rel_row();
    say!("measuring {PUBLISH_NAME} against 1 sequential editor");
    let next = Arc::new(AtomicUsize::new(SEED_ITEMS));
    let (mut group, mut single, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut errors: Vec<String> = Vec::new();
    let (mut group_n, mut single_n) = (0usize, 0usize);
    for round in 0..rounds {
        let order: [usize; 2] = if round % 2 == 0 { [EDITORS, 1] } else { [1, EDITORS] };
        let mut rate = [0.0; 2];
        for tasks in order {
            let until = Stop::At(Instant::now() + Duration::from_secs(secs));
            let p = rt.block_on(editors(client, node, drafts, tasks, until, Arc::clone(&next)));
            let r = p.acked.len() as f64 / p.elapsed.as_secs_f64();
            if tasks == 1 {
                rate[1] = r;
                single_n += p.acked.len();
            } else {
                rate[0] = r;
                group_n += p.acked.len();
            }
            acked.extend(p.acked);
            errors.extend(p.errors);
        }
        say!(
            "  round {}: {EDITORS} editors {:.0}/s, 1 editor {:.0}/s",
            round + 1,
            rate[0],
            rate[1]
        );
        group.push(rate[0]);
        single.push(rate[1]);
        ratios.push(rate[0] / rate[1]);
    }
    let value = median(group.clone());
    let reference = median(single);
    let draft_bytes = drafts.iter().map(Vec::len).sum::<usize>() / drafts.len().max(1);
    let mut notes = vec![format!(
        "{group_n} publishes by {EDITORS} editors and {single_n} by one, in {rounds} alternating \
         rounds of {secs} s; drafts are Vietnamese news, {draft_bytes} bytes of JSON on average; \
         the editors run in the harness (tokio, reqwest, keep-alive) on the same cores as the node"
    )];
    if !errors.is_empty() {
        notes.push(format!(
            "CHECK FAILED: {} publishes not acknowledged with 201, e.g. {:?}",
            errors.len(),
            errors.iter().take(3).collect::<Vec<_>>()
        ));
    }
    say!("checking the log: {} acknowledged publishes", acked.len());
    let checked = check_log(rt, client, node, &acked);
    say!("log checked");
    match checked {
        Ok(note) => notes.push(note),
        Err(e) => {
            say!("{PUBLISH_NAME}: CHECK FAILED: {e}");
            notes.push(format!("CHECK FAILED: {e}"));
        }
    }
    abs.value = value;
    abs.reference = 1000.0;
    abs.ratio = value / 1000.0;
    abs.notes = notes.clone();
    rel.value = value;
    rel.reference = reference;
    rel.ratio = median(ratios);
    rel.notes = vec![
        "the ratio is the group-commit gain: one commit (journal fsync + store flush) \
                      acknowledges every publish waiting for it"
            .into(),
    ];
    vec![abs, rel]
}

/// Every acknowledged publish is in the log at its index, and the whole log verifies against
/// the key `portal init` printed.
fn check_log(
    rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    node: &NodeUnderTest,
    acked: &[(String, u64)],
) -> Result<String, String> {
    let origin = NodeId::new(NODE_ID).map_err(|e| e.to_string())?;
    let mut verifier = LogVerifier::new(origin, vec![KeyGrant::pinned(node.public_key.clone())]);
    let mut items: BTreeMap<u64, String> = BTreeMap::new();
    let mut next = 0u64;
    loop {
        let url = format!("{}/api/v1/log?after={next}&limit=1000", node.base);
        let page = fetch(rt, client, &url, None)?;
        if page.status != 200 {
            return Err(format!("GET {url}: {}", page.status));
        }
        let page: Value = serde_json::from_slice(&page.body).map_err(|e| format!("{url}: {e}"))?;
        let size = page["size"].as_u64().ok_or("log page without size")?;
        let entries = page["entries"].as_array().ok_or("log page without entries")?;
        for e in entries {
            let field = |k: &str| e[k].as_str().unwrap_or_default();
            let signed = SignedRecord::from_base64(field("record"), field("kid"), field("sig"))
                .map_err(|e| format!("entry {next}: {e}"))?;
            let verified =
                verifier.push(&signed).map_err(|e| format!("entry {next} does not verify: {e}"))?;
            if let Record::Item(i) = verified.record() {
                items.insert(i.log_index, i.id.to_string());
            }
            next += 1;
        }
        if entries.is_empty() || next >= size {
            break;
        }
    }
    let mut missing = 0usize;
    for (id, index) in acked {
        if items.get(index) != Some(id) {
            missing += 1;
        }
    }
    let mut indices: Vec<u64> = acked.iter().map(|(_, i)| *i).collect();
    indices.sort_unstable();
    indices.dedup();
    if missing > 0 || indices.len() != acked.len() {
        return Err(format!(
            "{missing} of {} acknowledged publishes are not in the log at their index \
             ({} distinct indices acknowledged)",
            acked.len(),
            indices.len()
        ));
    }
    Ok(format!(
        "GET /api/v1/log: all {} acknowledged publishes are in the log at their acknowledged \
         index with their id; the whole log ({next} entries) verifies against the key printed \
         by `portal init`",
        acked.len()
    ))
}
