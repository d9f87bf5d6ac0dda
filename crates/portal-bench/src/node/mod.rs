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
//!
//! `tools` finds (or installs) nginx and wrk, `nginx` serves the saved bytes, `wrk` drives and
//! checks the load, `feeds` measures the feed rows and `publish` the publish rows.

mod feeds;
mod nginx;
mod publish;
mod tools;
mod wrk;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use portal_proto::crypto::PublicKey;
use portal_tests::harness::{InitArgs, Node, init};

use crate::drafts::draft_body;

use crate::harness::Harness;
use crate::measure::{Progress, Row};

static P: Progress = Progress::new("node");

/// A progress line on standard error, with the seconds since the suite started.
macro_rules! say {
    ($($arg:tt)*) => { crate::node::P.say(format!($($arg)*)) };
}
use say;

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

/// `, N KB` (with `what` after it), or nothing when the size is not known.
fn size(kb: Option<usize>, what: &str) -> String {
    kb.map_or(String::new(), |kb| format!(", {kb} KB{what}"))
}

fn feed_200_row(kb: Option<usize>) -> Row {
    let name = format!("latest Atom page /feeds/atom (100 entries{}), 200 full body", size(kb, ""));
    row(name, "req/s", &nginx_same_bytes(), Some(0.8))
}

fn feed_304_row() -> Row {
    row("latest Atom page, 304 (If-None-Match: its ETag)", "req/s", &nginx_304(), Some(0.8))
}

fn gzip_row(kb: Option<usize>) -> Row {
    let name =
        format!("latest Atom page, 200 gzip (Accept-Encoding: gzip{})", size(kb, " compressed"));
    let reference =
        format!("nginx gzip_static, {}, the node's own gzip bytes", nginx_worker_text());
    row(name, "req/s", &reference, None)
}

fn archive_row(kb: Option<usize>) -> Row {
    let name = format!(
        "Atom archive page /feeds/atom/archive/0 (100 entries{}), 200 full body",
        size(kb, "")
    );
    row(name, "req/s", &nginx_same_bytes(), None)
}

const PUBLISH_NAME: &str = "durable publishes, 32 concurrent editors (HTTP 201s)";

fn publish_abs_row() -> Row {
    row(PUBLISH_NAME, "publishes/s", "target 1,000/s (absolute, issue 3)", Some(1.0))
}

fn publish_rel_row() -> Row {
    row(PUBLISH_NAME, "publishes/s", "1 sequential editor, same node, same run", None)
}

fn all_skipped(reason: &str) -> Vec<Row> {
    let mut rows = feeds::skip_feeds(reason);
    rows.extend([skip(publish_abs_row(), reason), skip(publish_rel_row(), reason)]);
    rows
}

/// The node suite. Never panics on a missing tool: the rows it cannot measure are SKIPPED.
pub(crate) fn node(seconds: f64) -> Vec<Row> {
    P.start();
    let (side, rounds) = plan(seconds);
    say!(
        "each figure: {rounds} alternating rounds of {side} s per side \
         ({CONNECTIONS} connections, {WRK_THREADS} load-generator threads)"
    );
    let tools = tools::Tools::find_or_install();
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
    let seeded = rt.block_on(publish::editors(
        &client,
        &node,
        &drafts,
        16,
        publish::Stop::Count(SEED_ITEMS),
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
    let mut rows = feeds::feed_rows(&rt, &client, &node, &tools, side, rounds);
    rows.extend(publish::publish_rows(&rt, &client, &node, &drafts, side, rounds, seeded.acked));
    drop(node);
    say!("node stopped");
    rows
}

/// `portal init` + `portal serve --listen 127.0.0.1:0`, in a temporary directory.
struct NodeUnderTest {
    // Declared before the directory: the process stops before its data is removed.
    _node: Node,
    base: String,
    token: String,
    public_key: PublicKey,
    workers_note: String,
    _dir: tempfile::TempDir,
}

impl NodeUnderTest {
    fn start(bin: &Path) -> Result<NodeUnderTest, String> {
        let dir = tempfile::Builder::new()
            .prefix("portal-bench-node-")
            .tempdir()
            .map_err(|e| format!("temporary directory: {e}"))?;
        let args =
            InitArgs::new(NODE_ID, "Bộ Y tế", "http://127.0.0.1:9").name_en("Ministry of Health");
        let moh = init(bin, &dir.path().join("node"), &args)?;

        // One worker, like nginx, if `portal serve` lets us choose; otherwise say so.
        let help = Command::new(bin)
            .args(["serve", "--help"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let n = nginx_workers().to_string();
        let mut serve = vec!["--listen", "127.0.0.1:0"];
        let workers_note = if help.contains("--workers") {
            serve.extend(["--workers", n.as_str()]);
            format!("portal serve --workers {n}, like nginx's worker_processes {n}")
        } else {
            let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
            format!(
                "`portal serve` has no worker setting: actix-web starts one worker per available \
                 CPU ({cpus} here), while nginx runs worker_processes {}",
                nginx_workers()
            )
        };
        let node = Node::spawn(bin, &moh.data, &serve)?;
        let base = node.base.clone();
        Ok(NodeUnderTest {
            _node: node,
            base,
            token: moh.token,
            public_key: moh.key,
            workers_note,
            _dir: dir,
        })
    }
}
