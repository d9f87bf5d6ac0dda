//! The federation suite (`cargo xtask bench federation`): the aggregator, a central
//! `portal serve` (release build), on two jobs.
//!
//! - **Backfill.** A fresh central follows 100 members with 1,000 signed items each and
//!   fetches, verifies, receipts and stores all 100,000 records. Beside it, in the same run and
//!   in alternating rounds: raw ed25519-dalek `verify_strict` of the same 100,000 signing inputs
//!   on one core. The central's peak RSS is measured beside its own RSS idle with no members.
//!   The members are fakes served by this harness: 100 origins on 127.0.0.1 in one tokio
//!   runtime, 100 real nodes would swamp 2 cores. Their records, Merkle trees, checkpoints and
//!   descriptors are genuinely valid: the central verifies them like any others.
//! - **Publish → national log.** One real member node and two centrals following it: one with
//!   WebSub push (the default), one with push off polling every second. Each draft published
//!   through the member's editor API is timed until the central's national log shows it.
//!
//! Everything runs on 127.0.0.1. Every process is stopped by its own PID on every path out,
//! panics included (`node::Proc`). An incident on a central fails the rows, with its JSON.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ed25519_dalek::{Signature, VerifyingKey};
use portal_proto::checkpoint::{Checkpoint, sign_checkpoint};
use portal_proto::crypto::{PublicKey, Signer, encode_base64};
use portal_proto::envelope::{self, SignedRecord, TrustStore, signing_input};
use portal_proto::ids::{ItemId, Lang, NodeId};
use portal_proto::merkle::{self, LeafHashes};
use portal_proto::record::{Descriptor, KeyGrant, Record, RecordType};
use portal_proto::time::Timestamp;
use portal_proto::verifier::checkpoint_origin;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::node::{Harness, Proc, draft_body, spawn_serve};
use crate::{Row, item_for, median};

/// When the suite started: progress lines carry the time since.
static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// A progress line on standard error, with the seconds since the suite started.
macro_rules! say {
    ($($arg:tt)*) => {
        eprintln!(
            "federation [{:5.0} s]: {}",
            START.get_or_init(Instant::now).elapsed().as_secs_f64(),
            format!($($arg)*)
        )
    };
}

/// Members in the backfill.
const MEMBERS: usize = 100;
/// Records in each member's log.
const RECORDS: usize = 1000;
/// The central's id.
const CENTRAL_ID: &str = "chinh-phu";
/// The real member's id in the latency figure.
const MEMBER_ID: &str = "bo-y-te";
/// A backfill that takes longer than this fails.
const BACKFILL_TIMEOUT: Duration = Duration::from_secs(600);
/// A publish not in the national log after this long fails the latency figure.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the national log is polled while waiting for a publish.
const POLL_EVERY: Duration = Duration::from_millis(2);
/// How often the central's peak RSS is sampled during the backfill.
const RSS_EVERY: Duration = Duration::from_millis(100);

/// Backfill rounds: one per 3 s of `--seconds` (3 with the default 10), 1 to 5. Each round
/// is a fresh central and takes tens of seconds.
fn backfill_rounds(seconds: f64) -> usize {
    (seconds / 3.0).round().clamp(1.0, 5.0) as usize
}

/// Latency rounds and publishes per side per round: 10 × `--seconds` publishes per side
/// (at least 20) in 5 alternating rounds.
fn latency_plan(seconds: f64) -> (usize, usize) {
    let rounds = 5;
    let total = (10.0 * seconds).max(20.0) as usize;
    (rounds, total.div_ceil(rounds))
}

fn row(name: impl Into<String>, unit: &'static str, reference: &str, decimals: usize) -> Row {
    Row { name: name.into(), unit, reference_name: reference.into(), decimals, ..Row::default() }
}

fn skip(mut r: Row, reason: &str) -> Row {
    say!("{}: SKIPPED ({reason})", r.name);
    r.skipped = Some(reason.to_owned());
    r
}

fn backfill_row() -> Row {
    row(
        format!(
            "aggregator backfill, {MEMBERS} members × {RECORDS} records \
             (fetch + verify + receipt + store)"
        ),
        "records/s",
        "raw ed25519-dalek verify_strict, the same 100,000 records, 1 core",
        0,
    )
}

fn rss_row() -> Row {
    row(
        "central peak RSS during the backfill (VmHWM)",
        "MiB",
        "the same central idle with 0 members (VmRSS)",
        1,
    )
}

fn latency_row(p: &str) -> Row {
    row(
        format!("publish → central's national log, WebSub push on, {p}"),
        "ms",
        &format!("push off, poll_seconds = 1, {p}"),
        1,
    )
}

/// The polling central on its own: its latency beside what `poll_seconds = 1` predicts.
fn poll_row(p: &str, expected: &str) -> Row {
    row(
        format!("publish → central's national log, push off (poll_seconds = 1), {p}"),
        "ms",
        expected,
        1,
    )
}

/// Every latency row, in order, SKIPPED with `reason`.
fn latency_skipped(reason: &str) -> Vec<Row> {
    vec![
        skip(latency_row("p50"), reason),
        skip(latency_row("p90"), reason),
        skip(latency_row("p99"), reason),
        skip(poll_row("p50", POLL_P50_EXPECTED), reason),
        skip(poll_row("p99", POLL_P99_EXPECTED), reason),
    ]
}

/// What polling every second (±20 % jitter) predicts for publishes at random times.
const POLL_P50_EXPECTED: &str = "half the poll interval (expected median wait): 500 ms";
const POLL_P99_EXPECTED: &str = "the longest poll interval, 1 s + 20 % jitter: 1200 ms";

/// The federation suite. Never panics on a failure of the node: the rows are SKIPPED with it.
pub(crate) fn federation(seconds: f64) -> Vec<Row> {
    START.get_or_init(Instant::now);
    let all_skipped = |reason: &str| {
        let mut rows = vec![skip(backfill_row(), reason), skip(rss_row(), reason)];
        rows.extend(latency_skipped(reason));
        rows
    };
    let Harness { bin, rt, client } = match Harness::new(Duration::from_secs(60), None) {
        Ok(h) => h,
        Err(e) => return all_skipped(&e),
    };
    let mut rows = backfill_rows(&rt, &client, &bin, seconds);
    rows.extend(latency_rows(&rt, &client, &bin, seconds));
    drop(rt);
    say!("done");
    rows
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

// ---------------------------------------------------------------------------------------------
// The fake members: genuinely signed logs served over minimal HTTP/1.1

/// One member's log, ready to serve byte-compatibly with `portal-node`'s `http.rs`.
pub(crate) struct FakeMember {
    id: NodeId,
    pub(crate) base: String,
    pub(crate) public_key: PublicKey,
    /// The signed descriptor envelope (JSON).
    descriptor: Vec<u8>,
    /// Each entry as the log endpoint serves it: `{"index","kid","record","sig"}`.
    pub(crate) entries: Vec<String>,
    /// The signed checkpoint note for the whole log.
    checkpoint: String,
    tree: LeafHashes,
    /// Requests answered and body bytes sent.
    pub(crate) requests: AtomicU64,
    pub(crate) bytes: AtomicU64,
}

/// One member's signing inputs and signatures, for the raw reference.
pub(crate) struct RawSet {
    key: VerifyingKey,
    inputs: Vec<(Vec<u8>, Signature)>,
}

/// A fake member and its raw reference set.
type Generated = (FakeMember, RawSet);

/// Member `k` on `port`: `records` signed items; the raw reference set is kept only when
/// `keep_raw` (a million signing inputs would double the harness's memory for nothing).
pub(crate) fn fake_member(
    k: usize,
    port: u16,
    now: u64,
    records: usize,
    keep_raw: bool,
) -> Result<Generated, String> {
    let id = NodeId::new(format!("bo-{k:03}")).map_err(|e| format!("member id: {e}"))?;
    let mut seed = [7u8; 32];
    seed[..8].copy_from_slice(&(k as u64).to_be_bytes());
    let signer = Signer::from_seed(seed);
    let public_key = signer.public_key();
    let base = format!("http://127.0.0.1:{port}");
    let mut tree = LeafHashes::new();
    let mut entries = Vec::with_capacity(records);
    let mut inputs = Vec::with_capacity(if keep_raw { records } else { 0 });
    for i in 0..records {
        let mut idb = [0u8; 16];
        idb[..8].copy_from_slice(&(k as u64 + 1).to_be_bytes());
        idb[8..].copy_from_slice(&(i as u64).to_be_bytes());
        let t = Timestamp::from_unix(now - records as u64 + i as u64).ok_or("time")?;
        let record = item_for(id.clone(), i, ItemId::from_random(idb), t);
        let signed = envelope::sign(&record, &signer).map_err(|e| format!("sign: {e}"))?;
        tree.push(signed.leaf_hash());
        entries.push(
            json!({"index": i, "kid": signed.kid().to_string(),
                   "record": signed.record_base64(), "sig": signed.sig_base64()})
            .to_string(),
        );
        if keep_raw {
            inputs.push((
                signing_input(RecordType::Item, signed.bytes()),
                Signature::from_bytes(signed.sig()),
            ));
        }
    }
    let origin = checkpoint_origin(&id);
    let root = merkle::root(&tree, records as u64).map_err(|e| format!("root: {e}"))?;
    let cp = Checkpoint::with_time(origin.clone(), records as u64, root, now);
    let checkpoint = sign_checkpoint(&cp, &origin, &signer).map_err(|e| format!("note: {e}"))?;
    // No "websub-hub": the central must not try to subscribe to a fake.
    let endpoints = [
        ("atom", "/feeds/atom"),
        ("checkpoint", "/api/v1/checkpoint"),
        ("consistency-proof", "/api/v1/proof/consistency"),
        ("inclusion-proof", "/api/v1/proof/inclusion"),
        ("items", "/api/v1/items"),
        ("json-feed", "/feeds/json"),
        ("log", "/api/v1/log"),
    ]
    .into_iter()
    .map(|(name, path)| (name.to_owned(), format!("{base}{path}")))
    .collect();
    let descriptor = Descriptor {
        ipsp: 1,
        record_type: RecordType::Descriptor,
        origin: id.clone(),
        name: BTreeMap::from([(
            Lang::new("vi").map_err(|e| format!("lang: {e}"))?,
            format!("Bộ thử nghiệm số {k}"),
        )]),
        url: base.clone(),
        keys: vec![KeyGrant::pinned(public_key.clone())],
        endpoints,
        heartbeat: 3600,
        log_size: records as u64,
        time: Timestamp::from_unix(now).ok_or("time")?,
    };
    let descriptor = envelope::sign(&descriptor, &signer)
        .map_err(|e| format!("descriptor: {e}"))?
        .to_json()
        .into_bytes();
    let key = VerifyingKey::from_bytes(public_key.as_bytes()).map_err(|e| format!("key: {e}"))?;
    let member = FakeMember {
        id,
        base,
        public_key,
        descriptor,
        entries,
        checkpoint,
        tree,
        requests: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
    };
    Ok((member, RawSet { key, inputs }))
}

/// An error body like the node's (SPEC.md §8).
fn error_body(code: &str, message: &str) -> Vec<u8> {
    json!({"error": {"code": code, "message": message}}).to_string().into_bytes()
}

impl FakeMember {
    /// (status, content type, body) for a request.
    /// The member's id.
    pub(crate) fn id_str(&self) -> &str {
        self.id.as_str()
    }

    pub(crate) fn respond(&self, method: &str, target: &str) -> (u16, &'static str, Vec<u8>) {
        const JSON: &str = "application/json";
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let q = |name: &str| {
            query
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == name)
                .and_then(|(_, v)| v.parse::<u64>().ok())
        };
        if method != "GET" {
            return (405, JSON, error_body("method-not-allowed", "GET only"));
        }
        let size = self.entries.len() as u64;
        match path {
            "/.well-known/portal-node" => (200, JSON, self.descriptor.clone()),
            "/api/v1/checkpoint" => {
                (200, "text/plain; charset=utf-8", self.checkpoint.clone().into_bytes())
            }
            "/api/v1/log" => (200, JSON, self.log_page(q("after").unwrap_or(0), q("limit"))),
            "/api/v1/proof/consistency" => {
                let (from, to) = (q("from").unwrap_or(0), q("to").unwrap_or(size));
                if from == 0 || from > to || to > size {
                    let msg = format!("need 0 < from <= to <= {size}");
                    return (400, JSON, error_body("out-of-range", &msg));
                }
                match merkle::consistency_proof(&self.tree, from, to) {
                    Ok(p) => (200, JSON, proof_body(json!({"from": from, "to": to}), &p)),
                    Err(e) => (500, JSON, error_body("internal", &e.to_string())),
                }
            }
            "/api/v1/proof/inclusion" => {
                let (index, to) = (q("index").unwrap_or(u64::MAX), q("size").unwrap_or(size));
                if to > size || index >= to {
                    let msg = format!("need index < size <= {size}");
                    return (400, JSON, error_body("out-of-range", &msg));
                }
                match merkle::inclusion_proof(&self.tree, index, to) {
                    Ok(p) => (200, JSON, proof_body(json!({"index": index, "size": to}), &p)),
                    Err(e) => (500, JSON, error_body("internal", &e.to_string())),
                }
            }
            _ => (404, JSON, error_body("not-found", path)),
        }
    }

    /// `GET /api/v1/log`, the shape of `portal-node`'s `log_page`: entries from `after`
    /// (clamped to the size), at most `limit` (default 100, clamped to 1–1000).
    fn log_page(&self, after: u64, limit: Option<u64>) -> Vec<u8> {
        let size = self.entries.len() as u64;
        let start = after.min(size);
        let limit = limit.unwrap_or(100).clamp(1, 1000);
        let end = (start + limit).min(size);
        let entries = &self.entries[start as usize..end as usize];
        let mut out =
            String::with_capacity(entries.iter().map(|e| e.len() + 1).sum::<usize>() + 512);
        out.push_str(&format!(
            "{{\"origin\":\"{}\",\"start\":{start},\"size\":{size},\"entries\":[",
            self.id
        ));
        for (n, e) in entries.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            out.push_str(e);
        }
        out.push_str("],\"checkpoint\":");
        out.push_str(&Value::String(self.checkpoint.clone()).to_string());
        if end < size {
            out.push_str(&format!(
                ",\"next\":\"{}/api/v1/log?after={end}&limit={limit}\"",
                self.base
            ));
        }
        out.push('}');
        out.into_bytes()
    }
}

fn proof_body(mut body: Value, proof: &[merkle::Hash]) -> Vec<u8> {
    body["proof"] = json!(proof.iter().map(|h| encode_base64(h)).collect::<Vec<_>>());
    body.to_string().into_bytes()
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Internal Server Error",
    }
}

/// One keep-alive HTTP/1.1 connection: requests without bodies (a `Content-Length` body is
/// read and ignored), one response each, until the peer closes or asks to.
async fn serve_connection(mut stream: TcpStream, member: Arc<FakeMember>) {
    let _ = stream.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            if buf.len() > 64 * 1024 {
                return;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let header = |name: &str| {
            head.lines().skip(1).find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_ascii_lowercase())
            })
        };
        let body_len: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let close = header("connection").is_some_and(|v| v.contains("close"));
        while buf.len() < end + body_len {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..end + body_len);
        let mut first = head.lines().next().unwrap_or_default().split(' ');
        let (method, target) = (first.next().unwrap_or_default(), first.next().unwrap_or("/"));
        let (status, content_type, body) = member.respond(method, target);
        member.requests.fetch_add(1, Ordering::Relaxed);
        member.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
        let response_head = format!(
            "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n{}\r\n",
            reason_phrase(status),
            body.len(),
            if close { "connection: close\r\n" } else { "" }
        );
        if stream.write_all(response_head.as_bytes()).await.is_err()
            || stream.write_all(&body).await.is_err()
        {
            return;
        }
        if close {
            return;
        }
    }
}

async fn accept_loop(listener: TcpListener, member: Arc<FakeMember>) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(serve_connection(stream, Arc::clone(&member)));
    }
}

/// Bind `count` origins, generate and sign `records` items for each (on every core), and
/// serve them. The raw reference sets are empty unless `keep_raw`.
pub(crate) fn start_fake_members(
    rt: &tokio::runtime::Runtime,
    count: usize,
    records: usize,
    keep_raw: bool,
) -> Result<(Vec<Arc<FakeMember>>, Vec<RawSet>), String> {
    let listeners: Vec<TcpListener> = rt.block_on(async {
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            out.push(TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("bind: {e}"))?);
        }
        Ok::<_, String>(out)
    })?;
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()).map_err(|e| format!("local_addr: {e}")))
        .collect::<Result<_, _>>()?;
    let now = unix_now();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).max(1);
    let generated: Vec<Result<Generated, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let ports = &ports;
                s.spawn(move || {
                    (t..count)
                        .step_by(threads)
                        .map(|k| (k, fake_member(k, ports[k], now, records, keep_raw)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<(usize, Result<Generated, String>)> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|_| vec![(0, Err("generator panicked".into()))]))
            .collect();
        all.sort_by_key(|(k, _)| *k);
        all.into_iter().map(|(_, r)| r).collect()
    });
    let mut members = Vec::with_capacity(count);
    let mut raw = Vec::with_capacity(count);
    for g in generated {
        let (m, r) = g?;
        members.push(Arc::new(m));
        raw.push(r);
    }
    if members.len() != count {
        return Err(format!("generated {} of {count} members", members.len()));
    }
    for (listener, member) in listeners.into_iter().zip(&members) {
        rt.spawn(accept_loop(listener, Arc::clone(member)));
    }
    Ok((members, raw))
}

/// The reference: raw `verify_strict` of every record's signing input, on this thread.
fn raw_verify(raw: &[RawSet]) -> f64 {
    let start = Instant::now();
    let mut n = 0usize;
    for set in raw {
        for (msg, sig) in &set.inputs {
            assert!(set.key.verify_strict(black_box(msg), sig).is_ok(), "a raw signature failed");
            n += 1;
        }
    }
    n as f64 / start.elapsed().as_secs_f64()
}

// ---------------------------------------------------------------------------------------------
// `portal` processes

/// A free loopback port (bound, read, released: a node listens on its URL's address, which
/// members' descriptors and the central's callbacks use).
pub(crate) fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// `config.toml` with the first `key = …` line set to `key = value`.
pub(crate) fn set_setting(config: &str, key: &str, value: &str) -> Result<String, String> {
    let prefix = format!("{key} =");
    let mut found = false;
    let mut out = String::with_capacity(config.len() + 16);
    for line in config.lines() {
        if !found && line.trim_start().starts_with(&prefix) {
            found = true;
            out.push_str(&format!("{key} = {value}"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    if found { Ok(out) } else { Err(format!("config.toml has no `{key} =` line:\n{config}")) }
}

/// `portal init` on a free port, settings edited, then `portal serve` on its URL's address.
pub(crate) struct Portal {
    // Declared before the directory: the process stops before its data is removed.
    proc: Proc,
    pub(crate) base: String,
    pub(crate) token: String,
    pub(crate) public_key: PublicKey,
    config: String,
    bin: std::path::PathBuf,
    id: String,
    _dir: tempfile::TempDir,
}

impl Portal {
    pub(crate) fn start(
        bin: &Path,
        id: &str,
        name: &str,
        settings: &[(&str, &str)],
    ) -> Result<Portal, String> {
        let url = format!("http://127.0.0.1:{}", free_port()?);
        Portal::start_at(bin, id, name, settings, &url, None)
    }

    fn start_at(
        bin: &Path,
        id: &str,
        name: &str,
        settings: &[(&str, &str)],
        url: &str,
        listen: Option<&str>,
    ) -> Result<Portal, String> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("portal-bench-{id}-"))
            .tempdir()
            .map_err(|e| format!("temporary directory: {e}"))?;
        let data = dir.path().join("node");
        let (token, public_key) =
            crate::node::portal_init(bin, &data, &["--id", id, "--name", name], url)?;
        let path = data.join("config.toml");
        let mut config =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        for (key, value) in settings {
            config = set_setting(&config, key, value)?;
        }
        if let Some(listen) = listen {
            // A top-level key: before the first [section].
            let url_line = format!("url = \"{url}\"");
            if !config.contains(&url_line) {
                return Err(format!("config.toml has no `{url_line}` line:\n{config}"));
            }
            config = config.replacen(&url_line, &format!("{url_line}\nlisten = \"{listen}\""), 1);
        }
        std::fs::write(&path, &config).map_err(|e| format!("{}: {e}", path.display()))?;
        let base = listen.map_or_else(|| url.to_owned(), |l| format!("http://{l}"));
        let proc = serve(bin, &data, id, &base)?;
        Ok(Portal {
            proc,
            base,
            token,
            public_key,
            config,
            bin: bin.to_owned(),
            id: id.to_owned(),
            _dir: dir,
        })
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
        let listen = format!("127.0.0.1:{}", free_port()?);
        Portal::start_at(bin, id, name, settings, url, Some(&listen))
    }

    /// SIGKILL, and reap it.
    pub(crate) fn kill9(&mut self) {
        let _ = self.proc.child.kill();
        let _ = self.proc.child.wait();
    }

    /// Whether the process has exited.
    pub(crate) fn exited(&mut self) -> bool {
        self.proc.exited()
    }

    /// The data directory.
    pub(crate) fn data(&self) -> std::path::PathBuf {
        self._dir.path().join("node")
    }

    /// Stop the process (SIGTERM) and start `portal serve` again on the same data.
    pub(crate) fn restart(&mut self) -> Result<(), String> {
        self.proc.stop();
        self.proc = serve(&self.bin, &self.data(), &self.id, &self.base)?;
        Ok(())
    }

    pub(crate) fn pid(&self) -> u32 {
        self.proc.child.id()
    }

    /// A setting's value as written in `config.toml`.
    pub(crate) fn setting(&self, key: &str) -> String {
        let prefix = format!("{key} =");
        self.config
            .lines()
            .find_map(|l| l.trim_start().strip_prefix(&prefix).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| "?".into())
    }
}

/// `portal serve --data DATA`, once it printed that it listens on `url`.
fn serve(bin: &Path, data: &Path, id: &str, url: &str) -> Result<Proc, String> {
    {
        let mut command = Command::new(bin);
        command.arg("serve").arg("--data").arg(data);
        let (proc, base) = spawn_serve(command, &format!("portal serve ({id})"))?;
        if base != url {
            return Err(format!("portal serve ({id}) listens on {base}, its URL is {url}"));
        }
        Ok(proc)
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        self.proc.stop();
    }
}

pub(crate) async fn get_json(client: &reqwest::Client, url: &str) -> Result<Value, String> {
    let resp = client.get(url).send().await.map_err(|e| format!("GET {url}: {e}"))?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| format!("GET {url}: {e}"))?;
    if !status.is_success() {
        return Err(format!("GET {url}: {status}: {}", String::from_utf8_lossy(&body)));
    }
    serde_json::from_slice(&body).map_err(|e| format!("GET {url}: {e}"))
}

/// `POST /api/v1/admin/members`, pinned: 201 or an error.
pub(crate) async fn add_member(
    client: &reqwest::Client,
    central: &Portal,
    url: &str,
    pin: &PublicKey,
) -> Result<(), String> {
    let resp = client
        .post(format!("{}/api/v1/admin/members", central.base))
        .bearer_auth(&central.token)
        .json(&json!({"url": url, "pin": pin.to_base64()}))
        .send()
        .await
        .map_err(|e| format!("adding {url}: {e}"))?;
    let status = resp.status().as_u16();
    if status != 201 {
        let text = resp.text().await.unwrap_or_default();
        return Err(format!("adding member {url}: {status}: {text}"));
    }
    Ok(())
}

/// The central's incidents; an error when there is any.
pub(crate) async fn no_incidents(client: &reqwest::Client, central: &Portal) -> Result<(), String> {
    let v = get_json(client, &format!("{}/api/v1/incidents", central.base)).await?;
    match v["incidents"].as_array() {
        Some(list) if list.is_empty() => Ok(()),
        Some(list) => {
            let shown: Vec<String> = list.iter().take(5).map(Value::to_string).collect();
            Err(format!(
                "CHECK FAILED: the central recorded {} incident(s): {}",
                list.len(),
                shown.join(" ")
            ))
        }
        None => Err(format!("GET /api/v1/incidents: unexpected answer {v}")),
    }
}

// ---------------------------------------------------------------------------------------------
// /proc: memory and CPU time

pub(crate) fn proc_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

pub(crate) fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Samples a process every 100 ms on a thread: its VmRSS (keeping the largest) and the CPU
/// time of each of its threads, so that threads which exit before the end (tantivy's indexing
/// workers, the blocking pool) are still counted by name.
pub(crate) struct ProcSampler {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<Sampled>,
}

#[derive(Default)]
pub(crate) struct Sampled {
    pub(crate) max_rss_kib: u64,
    pub(crate) samples: usize,
    /// Thread id → (name, CPU ticks at the last sample).
    threads: BTreeMap<String, (String, u64)>,
}

impl ProcSampler {
    pub(crate) fn start(pid: u32) -> ProcSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let pid_s = pid.to_string();
        let handle = std::thread::spawn(move || {
            let mut out = Sampled::default();
            while !flag.load(Ordering::Relaxed) {
                if let Some(kib) = proc_kib(pid, "VmRSS") {
                    out.max_rss_kib = out.max_rss_kib.max(kib);
                    out.samples += 1;
                }
                out.threads.extend(cpu_snapshot(&pid_s).threads);
                std::thread::sleep(RSS_EVERY);
            }
            out
        });
        ProcSampler { stop, handle }
    }

    pub(crate) fn finish(self) -> Sampled {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_default()
    }
}

pub(crate) fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// (command name, utime + stime in clock ticks) from a `/proc/…/stat` file.
fn stat_ticks(path: &str) -> Option<(String, u64)> {
    let text = std::fs::read_to_string(path).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the command.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((comm, utime + stime))
}

/// CPU time so far of a process (all its threads, exited ones included) and of each of its
/// live threads, by thread id.
pub(crate) struct CpuSnapshot {
    pub(crate) total: u64,
    threads: BTreeMap<String, (String, u64)>,
}

pub(crate) fn cpu_snapshot(pid: &str) -> CpuSnapshot {
    let total = stat_ticks(&format!("/proc/{pid}/stat")).map_or(0, |(_, t)| t);
    let mut threads = BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for entry in dir.flatten() {
            let tid = entry.file_name().to_string_lossy().into_owned();
            if let Some(t) = stat_ticks(&format!("/proc/{pid}/task/{tid}/stat")) {
                threads.insert(tid, t);
            }
        }
    }
    CpuSnapshot { total, threads }
}

/// CPU seconds between two snapshots: the total, and by thread name, largest first. Threads
/// of `after` may include exited ones, as last sampled.
pub(crate) fn cpu_between(before: &CpuSnapshot, after: &CpuSnapshot) -> (f64, Vec<(String, f64)>) {
    let hz = clock_ticks();
    let mut by_name: BTreeMap<String, u64> = BTreeMap::new();
    for (tid, (name, ticks)) in &after.threads {
        let earlier = before.threads.get(tid).map_or(0, |(_, t)| *t);
        *by_name.entry(name.clone()).or_default() += ticks.saturating_sub(earlier);
    }
    let total = after.total.saturating_sub(before.total);
    let live: u64 = by_name.values().sum();
    let mut named: Vec<(String, f64)> =
        by_name.into_iter().filter(|(_, t)| *t > 0).map(|(n, t)| (n, t as f64 / hz)).collect();
    if total > live {
        named.push(("(threads that exited between samples)".into(), (total - live) as f64 / hz));
    }
    named.sort_by(|a, b| b.1.total_cmp(&a.1));
    (total as f64 / hz, named)
}

pub(crate) fn cpu_text(named: &[(String, f64)]) -> String {
    named.iter().take(8).map(|(n, s)| format!("{n} {s:.1} s")).collect::<Vec<_>>().join(", ")
}

// ---------------------------------------------------------------------------------------------
// Backfill

struct Backfill {
    rate: f64,
    secs: f64,
    add_secs: f64,
    idle_kib: u64,
    hwm_kib: u64,
    sampled_kib: u64,
    /// RssAnon and RssFile at the end of the backfill.
    anon_kib: u64,
    file_kib: u64,
    samples: usize,
    central_cpu: f64,
    central_threads: Vec<(String, f64)>,
    harness_cpu: f64,
    max_concurrent_syncs: String,
    check: String,
}

/// Poll `GET /api/v1/members` until each of `members` members has stored `records`;
/// incidents abort at once. Returns when it saw completion; an error after `timeout`.
pub(crate) async fn wait_backfill(
    client: &reqwest::Client,
    central: &Portal,
    t0: Instant,
    (members, records): (usize, usize),
    timeout: Duration,
) -> Result<Instant, String> {
    let url = format!("{}/api/v1/members", central.base);
    let mut polls = 0u64;
    let mut last_report = Instant::now();
    loop {
        let v = get_json(client, &url).await?;
        let seen = Instant::now();
        let rows = v["members"].as_array().cloned().unwrap_or_default();
        let sizes: Vec<u64> =
            rows.iter().map(|r| r["member"]["size"].as_u64().unwrap_or(0)).collect();
        let done = sizes.iter().filter(|s| **s == records as u64).count();
        if rows.len() == members && done == members {
            return Ok(seen);
        }
        polls += 1;
        if polls.is_multiple_of(10) {
            no_incidents(client, central).await?;
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            last_report = Instant::now();
            say!(
                "  {} of {} records stored, {done} members complete",
                sizes.iter().sum::<u64>(),
                members * records
            );
        }
        if t0.elapsed() > timeout {
            let errors: Vec<String> = rows
                .iter()
                .filter_map(|r| r["health"]["last_error"].as_str().map(str::to_owned))
                .take(3)
                .collect();
            return Err(format!(
                "backfill not complete after {} s: {} of {} records stored; errors: {errors:?}",
                timeout.as_secs(),
                sizes.iter().sum::<u64>(),
                members * records
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The national log holds exactly one receipt per member record; its last 1,000 entries
/// verify: each member record against its member's key, each receipt against the central's,
/// paired.
pub(crate) async fn check_national(
    client: &reqwest::Client,
    central: &Portal,
    members: &[Arc<FakeMember>],
) -> Result<String, String> {
    const RECORDS: usize = 1000;
    let per_member = members.first().map_or(0, |m| m.entries.len());
    let total = members.iter().map(|m| m.entries.len() as u64).sum::<u64>();
    let after = total.saturating_sub(RECORDS as u64);
    let url = format!("{}/api/v1/national/log?after={after}&limit=1000", central.base);
    let v = get_json(client, &url).await?;
    if v["size"].as_u64() != Some(total) {
        return Err(format!("CHECK FAILED: the national log has size {}, not {total}", v["size"]));
    }
    let mut trust = TrustStore::new();
    for m in members {
        trust.add(m.id.clone(), KeyGrant::pinned(m.public_key.clone()));
    }
    let mut central_trust = TrustStore::new();
    let central_id = NodeId::new(CENTRAL_ID).map_err(|e| e.to_string())?;
    central_trust.add(central_id, KeyGrant::pinned(central.public_key.clone()));
    let entries = v["entries"].as_array().ok_or("national log page without entries")?;
    for (e, index) in entries.iter().zip(after..) {
        let fail = |what: String| format!("CHECK FAILED: national log entry {index}: {what}");
        let member = SignedRecord::from_json(e["member"].to_string().as_bytes())
            .map_err(|r| fail(format!("member envelope: {r}")))?;
        let receipt = SignedRecord::from_json(e["receipt"].to_string().as_bytes())
            .map_err(|r| fail(format!("receipt envelope: {r}")))?;
        envelope::open(&member, &trust).map_err(|r| fail(format!("member record: {r}")))?;
        let r =
            envelope::open(&receipt, &central_trust).map_err(|r| fail(format!("receipt: {r}")))?;
        match r.record() {
            Record::Receipt(r) if r.record == member.digest() && r.log_index == index => {}
            _ => return Err(fail("the receipt does not acknowledge the record beside it".into())),
        }
    }
    if entries.len() != RECORDS {
        return Err(format!("CHECK FAILED: {} entries after {after}", entries.len()));
    }
    Ok(format!(
        "every member stored {per_member} records (GET /api/v1/members), 0 incidents, the \
         national log has exactly {total} entries, and its last {RECORDS} verify: each member record \
         against its member's pinned key, each receipt against the central's key and paired \
         with the record's digest"
    ))
}

fn backfill_once(
    rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    bin: &Path,
    members: &[Arc<FakeMember>],
) -> Result<Backfill, String> {
    // PORTAL_BENCH_CACHE_MIB: sled's cache for the experiment (docs/benchmarks.md).
    let cache = std::env::var("PORTAL_BENCH_CACHE_MIB").ok().filter(|c| c.parse::<u64>().is_ok());
    let mut settings = vec![("allow_private_members", "true"), ("page_size", "1000")];
    if let Some(c) = &cache {
        settings.push(("cache_mib", c.as_str()));
    }
    let central = Portal::start(bin, CENTRAL_ID, "Chính phủ", &settings)?;
    let cache_mib = central.setting("cache_mib");
    let pid = central.pid();
    // Idle: the largest of 10 samples over the first second, no members.
    let mut idle_kib = 0;
    for _ in 0..10 {
        std::thread::sleep(RSS_EVERY);
        idle_kib = idle_kib.max(proc_kib(pid, "VmRSS").unwrap_or(0));
    }
    let pid_s = pid.to_string();
    let (cpu0, self0) = (cpu_snapshot(&pid_s), cpu_snapshot("self"));
    let sampler = ProcSampler::start(pid);
    let t0 = Instant::now();
    let outcome = rt.block_on(async {
        for m in members {
            add_member(client, &central, &m.base, &m.public_key).await?;
        }
        let added = t0.elapsed();
        let done =
            wait_backfill(client, &central, t0, (MEMBERS, RECORDS), BACKFILL_TIMEOUT).await?;
        Ok::<_, String>((added, done))
    });
    let sampled = sampler.finish();
    let hwm_kib = proc_kib(pid, "VmHWM").unwrap_or(0);
    let (anon_kib, file_kib) =
        (proc_kib(pid, "RssAnon").unwrap_or(0), proc_kib(pid, "RssFile").unwrap_or(0));
    let (mut cpu1, self1) = (cpu_snapshot(&pid_s), cpu_snapshot("self"));
    for (tid, t) in sampled.threads {
        cpu1.threads.entry(tid).or_insert(t);
    }
    let (added, done) = outcome?;
    rt.block_on(no_incidents(client, &central))?;
    let check = rt.block_on(check_national(client, &central, members))?;
    let secs = done.duration_since(t0).as_secs_f64();
    let (central_cpu, central_threads) = cpu_between(&cpu0, &cpu1);
    let (harness_cpu, _) = cpu_between(&self0, &self1);
    let max_concurrent_syncs = central.setting("max_concurrent_syncs");
    drop(central);
    let check = format!("{check}; [store] cache_mib = {cache_mib}");
    Ok(Backfill {
        rate: (MEMBERS * RECORDS) as f64 / secs,
        secs,
        add_secs: added.as_secs_f64(),
        idle_kib,
        hwm_kib,
        sampled_kib: sampled.max_rss_kib,
        anon_kib,
        file_kib,
        samples: sampled.samples,
        central_cpu,
        central_threads,
        harness_cpu,
        max_concurrent_syncs,
        check,
    })
}

fn backfill_rows(
    rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    bin: &Path,
    seconds: f64,
) -> Vec<Row> {
    let rounds = backfill_rounds(seconds);
    say!("generating {MEMBERS} members × {RECORDS} signed records (fake members, in the harness)");
    let t = Instant::now();
    let (members, raw) = match start_fake_members(rt, MEMBERS, RECORDS, true) {
        Ok(x) => x,
        Err(e) => {
            let reason = format!("generating the fake members: {e}");
            return vec![skip(backfill_row(), &reason), skip(rss_row(), &reason)];
        }
    };
    let avg = members.iter().flat_map(|m| m.entries.iter()).map(|e| e.len()).sum::<usize>()
        / (MEMBERS * RECORDS);
    say!(
        "{} members serving on 127.0.0.1 ({:.1} s to generate; log entries {avg} bytes of JSON on \
         average); {rounds} round(s), a fresh central each",
        members.len(),
        t.elapsed().as_secs_f64()
    );
    let mut results: Vec<Backfill> = Vec::new();
    let (mut raws, mut ratios) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let raw_first = round % 2 == 1;
        let mut raw_rate = 0.0;
        if raw_first {
            raw_rate = raw_verify(&raw);
        }
        let b = match backfill_once(rt, client, bin, &members) {
            Ok(b) => b,
            Err(e) => {
                let reason = format!("round {}: {e}", round + 1);
                say!("backfill FAILED: {reason}");
                return vec![skip(backfill_row(), &reason), skip(rss_row(), &reason)];
            }
        };
        if !raw_first {
            raw_rate = raw_verify(&raw);
        }
        say!(
            "  round {}: backfill {:.0} records/s ({:.1} s; members added in {:.1} s), raw \
             verify_strict {raw_rate:.0}/s; central RSS idle {:.1} MiB, peak {:.1} MiB",
            round + 1,
            b.rate,
            b.secs,
            b.add_secs,
            mib(b.idle_kib),
            mib(b.hwm_kib)
        );
        say!(
            "    central CPU {:.1} s in {:.1} s ({}); harness (fake members, HTTP client) {:.1} s",
            b.central_cpu,
            b.secs,
            cpu_text(&b.central_threads),
            b.harness_cpu
        );
        raws.push(raw_rate);
        ratios.push(b.rate / raw_rate);
        results.push(b);
    }
    let served: u64 = members.iter().map(|m| m.bytes.load(Ordering::Relaxed)).sum();
    let requests: u64 = members.iter().map(|m| m.requests.load(Ordering::Relaxed)).sum();
    let Some(last) = results.last() else {
        return vec![skip(backfill_row(), "no round ran"), skip(rss_row(), "no round ran")];
    };
    let mut backfill = backfill_row();
    backfill.value = median(results.iter().map(|b| b.rate).collect());
    backfill.reference = median(raws);
    backfill.ratio = median(ratios);
    backfill.notes = vec![
        format!(
            "{rounds} alternating round(s), each a fresh central (`portal serve`, release) with \
             [aggregator] page_size = 1000, max_concurrent_syncs = {} (the default), \
             poll_seconds and everything else default; timed from the first \
             `POST /api/v1/admin/members` until `GET /api/v1/members` (polled every 100 ms) shows \
             {RECORDS} stored for all {MEMBERS}; adding the members took {:.1} s of the {:.1} s \
             (last round)",
            last.max_concurrent_syncs, last.add_secs, last.secs
        ),
        format!(
            "the members are fakes in the harness: {MEMBERS} origins on 127.0.0.1 served by one \
             tokio runtime (hand-written HTTP/1.1), with genuinely signed items (about {avg} \
             bytes of JSON per log entry), Merkle trees, checkpoints and descriptors; they \
             served {requests} requests and {:.0} MB over all rounds; the harness used {:.1} s \
             of CPU during the last round, on the same 2 cores as the central",
            served as f64 / 1e6,
            last.harness_cpu
        ),
        format!(
            "where the central's CPU went (last round, {:.1} s of CPU in {:.1} s, by thread \
             name): {}",
            last.central_cpu,
            last.secs,
            cpu_text(&last.central_threads)
        ),
        "the reference verifies the same 100,000 signing inputs with ed25519-dalek \
         verify_strict on one thread of the harness, while no central runs (before the \
         round's central starts or after it stops, alternately)"
            .into(),
        last.check.clone(),
    ];
    let mut rss = rss_row();
    rss.value = median(results.iter().map(|b| mib(b.hwm_kib)).collect());
    rss.reference = median(results.iter().map(|b| mib(b.idle_kib)).collect());
    rss.ratio =
        median(results.iter().map(|b| b.hwm_kib as f64 / b.idle_kib.max(1) as f64).collect());
    rss.notes = vec![
        "lower is better: the ratio is peak ÷ idle".into(),
        format!(
            "VmHWM of the central read from /proc at the end of the backfill; VmRSS sampled \
             every 100 ms during it peaked at {:.1} MiB ({} samples, last round); idle is the \
             largest of 10 VmRSS samples in the central's first second, with no members",
            mib(last.sampled_kib),
            last.samples
        ),
        format!(
            "at the end of the backfill (last round) the central's RSS was {:.1} MiB anonymous \
             (heap) and {:.1} MiB file-backed \
             (the binary, mapped files)",
            mib(last.anon_kib),
            mib(last.file_kib)
        ),
    ];
    vec![backfill, rss]
}

// ---------------------------------------------------------------------------------------------
// Publish → national log

/// One central as the latency figure follows it.
struct Side<'a> {
    name: &'static str,
    central: &'a Portal,
    /// Where its national log was last read up to.
    after: u64,
    /// The last member item it showed.
    seen: String,
}

/// Poll the central's national log every 2 ms from where it was last read, recording when
/// each member item first appears (the arrival of the answer that showed it), until `done`
/// holds or `deadline` passes. Every entry is checked: the member record against the member's
/// key, the receipt against the central's, and the receipt acknowledges that record.
async fn watch_national(
    client: &reqwest::Client,
    side: &mut Side<'_>,
    member_trust: &TrustStore,
    deadline: Instant,
    done: impl Fn(&BTreeMap<String, Instant>) -> bool,
) -> Result<BTreeMap<String, Instant>, String> {
    let mut central_trust = TrustStore::new();
    let central_id = NodeId::new(CENTRAL_ID).map_err(|e| e.to_string())?;
    central_trust.add(central_id, KeyGrant::pinned(side.central.public_key.clone()));
    let mut seen = BTreeMap::new();
    while !done(&seen) {
        if Instant::now() > deadline {
            let members = get_json(client, &format!("{}/api/v1/members", side.central.base))
                .await
                .map_or_else(|e| e, |v| v.to_string());
            return Err(format!(
                "the {} central's national log did not show the publishes in time (read up to \
                 {}; {} new items seen); its GET /api/v1/members: {members}",
                side.name,
                side.after,
                seen.len()
            ));
        }
        let url =
            format!("{}/api/v1/national/log?after={}&limit=1000", side.central.base, side.after);
        let v = get_json(client, &url).await?;
        let arrived = Instant::now();
        for e in v["entries"].as_array().into_iter().flatten() {
            let index = e["index"].as_u64().ok_or("a national log entry without index")?;
            let fail = |what: String| {
                format!("CHECK FAILED: {} central, national log entry {index}: {what}", side.name)
            };
            let member = SignedRecord::from_json(e["member"].to_string().as_bytes())
                .map_err(|r| fail(format!("member envelope: {r}")))?;
            let receipt = SignedRecord::from_json(e["receipt"].to_string().as_bytes())
                .map_err(|r| fail(format!("receipt envelope: {r}")))?;
            let record = envelope::open(&member, member_trust)
                .map_err(|r| fail(format!("member record: {r}")))?;
            let opened = envelope::open(&receipt, &central_trust)
                .map_err(|r| fail(format!("receipt: {r}")))?;
            match opened.record() {
                Record::Receipt(r) if r.record == member.digest() && r.log_index == index => {}
                _ => {
                    return Err(fail(
                        "the receipt does not acknowledge the record beside it".into(),
                    ));
                }
            }
            side.after = index + 1;
            if let Record::Item(item) = record.record() {
                side.seen = item.id.to_string();
                seen.entry(item.id.to_string()).or_insert(arrived);
            }
        }
        if !done(&seen) {
            tokio::time::sleep(POLL_EVERY).await;
        }
    }
    Ok(seen)
}

/// Pauses between publishes: uniform in [100, 500) ms, the same sequence for both sides
/// (xorshift, fixed seed). Publishes then fall at times unrelated to the polling central's
/// schedule, as editors' do; publishing right after the previous item appeared would lock
/// onto it and measure a whole poll interval every time.
struct Pauses(u64);

impl Pauses {
    fn next(&mut self) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_millis(100 + self.0 % 400)
    }
}

/// Publish draft `k`; (item id, when the 201 arrived, log index).
pub(crate) async fn publish(
    client: &reqwest::Client,
    member: &Portal,
    k: usize,
) -> Result<(String, Instant, u64), String> {
    let resp = client
        .post(format!("{}/api/v1/items", member.base))
        .bearer_auth(&member.token)
        .header("content-type", "application/json")
        .body(draft_body(k))
        .send()
        .await
        .map_err(|e| format!("publish: {e}"))?;
    let acked = Instant::now();
    let status = resp.status().as_u16();
    let body = resp.text().await.map_err(|e| format!("publish: {e}"))?;
    if status != 201 {
        return Err(format!("publish: {status}: {body}"));
    }
    let v: Value = serde_json::from_str(&body).map_err(|e| format!("publish: {e}"))?;
    let id = v["id"].as_str().ok_or_else(|| format!("201 without id: {body}"))?;
    let index = v["log_index"].as_u64().ok_or_else(|| format!("201 without log_index: {body}"))?;
    Ok((id.to_owned(), acked, index))
}

/// Wait until the member's hub has an active subscription (the push central's).
async fn wait_subscription(client: &reqwest::Client, member: &Portal) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = client
            .get(format!("{}/metrics", member.base))
            .send()
            .await
            .map_err(|e| format!("metrics: {e}"))?
            .text()
            .await
            .map_err(|e| format!("metrics: {e}"))?;
        if metric(&text, "portal_websub_subscriptions_active").is_some_and(|n| n >= 1.0) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("the push central's WebSub subscription was not active after 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// Nearest-rank percentile of milliseconds.
pub(crate) fn percentile(v: &[f64], p: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((p * s.len() as f64).ceil() as usize).clamp(1, s.len().max(1));
    s.get(rank - 1).copied().unwrap_or(f64::NAN)
}

fn latency_rows(
    rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    bin: &Path,
    seconds: f64,
) -> Vec<Row> {
    match latency(rt, client, bin, seconds) {
        Ok(rows) => rows,
        Err(e) => {
            say!("latency FAILED: {e}");
            latency_skipped(&e)
        }
    }
}

fn latency(
    rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    bin: &Path,
    seconds: f64,
) -> Result<Vec<Row>, String> {
    let (rounds, per_turn) = latency_plan(seconds);
    say!(
        "publish → national log: 1 member node, 2 centrals (push on; push off polling every \
         1 s); {rounds} alternating rounds of {per_turn} publishes per side"
    );
    let member = Portal::start(bin, MEMBER_ID, "Bộ Y tế", &[("allow_private_callbacks", "true")])?;
    let push = Portal::start(bin, CENTRAL_ID, "Chính phủ", &[("allow_private_members", "true")])?;
    let poll = Portal::start(
        bin,
        CENTRAL_ID,
        "Chính phủ",
        &[("allow_private_members", "true"), ("push", "false"), ("poll_seconds", "1")],
    )?;
    let mut member_trust = TrustStore::new();
    let member_id = NodeId::new(MEMBER_ID).map_err(|e| e.to_string())?;
    member_trust.add(member_id, KeyGrant::pinned(member.public_key.clone()));
    let push_poll_seconds = push.setting("poll_seconds");
    let mut sides = [
        Side { name: "push", central: &push, after: 0, seen: String::new() },
        Side { name: "poll", central: &poll, after: 0, seen: String::new() },
    ];
    // Per round: push samples, poll samples (ms); and the publishes' own 201 times.
    let mut per_round: Vec<[Vec<f64>; 2]> = Vec::new();
    let mut acks: Vec<f64> = Vec::new();
    let mut pauses = [Pauses(0x9E37_79B9_7F4A_7C15), Pauses(0x9E37_79B9_7F4A_7C15)];
    rt.block_on(async {
        for side in &sides {
            add_member(client, side.central, &member.base, &member.public_key).await?;
        }
        wait_subscription(client, &member).await?;
        say!("the push central's subscription is active; warming up with 3 publishes");
        let mut k = 0usize;
        let mut last = String::new();
        for _ in 0..3 {
            last = publish(client, &member, k).await?.0;
            k += 1;
        }
        for round in 0..rounds {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            let mut samples: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
            for s in order {
                let side = &mut sides[s];
                // Not timed: the central catches up with what was published for the other.
                if side.seen != last {
                    let caught_up = |seen: &BTreeMap<String, Instant>| seen.contains_key(&last);
                    let deadline = Instant::now() + PUBLISH_TIMEOUT;
                    watch_national(client, side, &member_trust, deadline, caught_up).await?;
                }
                let turn = &mut pauses[s];
                let publisher = async {
                    let mut out = Vec::with_capacity(per_turn);
                    for j in 0..per_turn {
                        tokio::time::sleep(turn.next()).await;
                        let t0 = Instant::now();
                        let (id, acked, _) = publish(client, &member, k + j).await?;
                        out.push((id, t0, acked));
                    }
                    Ok::<_, String>(out)
                };
                let deadline =
                    Instant::now() + PUBLISH_TIMEOUT + Duration::from_millis(500 * per_turn as u64);
                let watcher = watch_national(client, side, &member_trust, deadline, |seen| {
                    seen.len() >= per_turn
                });
                let (published, seen) = tokio::try_join!(publisher, watcher)?;
                k += per_turn;
                for (id, t0, acked) in &published {
                    let at = seen.get(id).ok_or_else(|| {
                        format!(
                            "published item {id} never appeared in the {} central's log",
                            sides[s].name
                        )
                    })?;
                    samples[s].push(at.duration_since(*t0).as_secs_f64() * 1000.0);
                    acks.push(acked.duration_since(*t0).as_secs_f64() * 1000.0);
                }
                if let Some((id, _, _)) = published.last() {
                    last = id.clone();
                }
            }
            say!(
                "  round {}: push p50 {:.1} ms, poll p50 {:.1} ms",
                round + 1,
                percentile(&samples[0], 0.5),
                percentile(&samples[1], 0.5)
            );
            per_round.push(samples);
        }
        for side in &sides {
            no_incidents(client, side.central).await?;
        }
        Ok::<_, String>(())
    })?;
    let metrics = rt.block_on(async {
        client.get(format!("{}/metrics", member.base)).send().await.ok()?.text().await.ok()
    });
    let delivered = metrics.as_deref().and_then(|m| metric(m, "portal_websub_delivered_total"));
    let failed =
        metrics.as_deref().and_then(|m| metric(m, "portal_websub_delivery_failures_total"));
    drop(sides);
    drop(poll);
    drop(push);
    drop(member);

    let pooled = |s: usize| per_round.iter().flat_map(|r| r[s].iter().copied()).collect::<Vec<_>>();
    let (push_all, poll_all) = (pooled(0), pooled(1));
    let p50_ratios: Vec<f64> =
        per_round.iter().map(|r| percentile(&r[0], 0.5) / percentile(&r[1], 0.5)).collect();
    let common = vec![
        "lower is better: a ratio below 1 means push is faster".into(),
        format!(
            "{} publishes per side in {rounds} alternating rounds: one draft at a time through \
             POST /api/v1/items on a real member node (`portal serve`), 100–500 ms apart \
             (pseudo-random, the same pauses for both sides, so that publishes do not lock onto \
             the polling central's schedule), each timed from sending the POST until a \
             GET /api/v1/national/log?after=K of the central (polled every 2 ms throughout) \
             shows the item; the 201 itself took {:.1} ms (p50)",
            push_all.len(),
            percentile(&acks, 0.5)
        ),
        format!(
            "push central: [aggregator] push = true, poll_seconds = {push_poll_seconds} (the \
             default); poll central: push = false, poll_seconds = 1 (±20 % jitter); both keep \
             following the member while the other is measured; every entry seen verified \
             (member record against the member's key, receipt against the central's), and \
             neither central recorded an incident"
        ),
        format!(
            "the member's hub delivered {} pushes ({} failures) for {} publishes",
            delivered.map_or("?".into(), |d| format!("{d:.0}")),
            failed.map_or("?".into(), |f| format!("{f:.0}")),
            acks.len() + 3
        ),
    ];
    let mut p50 = latency_row("p50");
    p50.value = percentile(&push_all, 0.5);
    p50.reference = percentile(&poll_all, 0.5);
    p50.ratio = median(p50_ratios);
    p50.notes = common;
    let pooled_row = |p: &str, q: f64| {
        let mut r = latency_row(p);
        r.value = percentile(&push_all, q);
        r.reference = percentile(&poll_all, q);
        r.ratio = r.value / r.reference;
        r.notes = vec![format!(
            "the ratio of the pooled {p}s ({} samples per side; too few per round for a \
             per-round {p}); lower is better",
            push_all.len()
        )];
        r
    };
    let p90 = pooled_row("p90", 0.9);
    let p99 = pooled_row("p99", 0.99);
    let mut poll50 = poll_row("p50", POLL_P50_EXPECTED);
    poll50.value = percentile(&poll_all, 0.5);
    poll50.reference = 500.0;
    poll50.ratio = poll50.value / poll50.reference;
    poll50.notes = vec![
        "the same samples as the reference column above, against what polling predicts: a \
         ratio near 1 means the poll loop adds nothing of its own"
            .into(),
    ];
    let mut poll99 = poll_row("p99", POLL_P99_EXPECTED);
    poll99.value = percentile(&poll_all, 0.99);
    poll99.reference = 1200.0;
    poll99.ratio = poll99.value / poll99.reference;
    poll99.notes =
        vec!["above 1: some publishes waited longer than one whole poll interval".into()];
    let quantiles = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)];
    let groups: Vec<crate::chart::Group> = quantiles
        .iter()
        .map(|(label, q)| crate::chart::Group {
            label,
            values: vec![percentile(&push_all, *q), percentile(&poll_all, *q)],
        })
        .collect();
    let svg = crate::chart::bar_chart_log(
        &format!("publish → central's national log ({} publishes per side)", push_all.len()),
        "ms",
        &["WebSub push on", "push off, poll_seconds = 1"],
        &groups,
    );
    let samples = json!({"unit": "ms", "push": push_all, "poll": poll_all,
        "percentiles": quantiles.iter().map(|(label, q)| json!({"percentile": label,
            "push": percentile(&push_all, *q), "poll": percentile(&poll_all, *q)}))
            .collect::<Vec<_>>()});
    for (path, bytes) in [
        ("target/bench/latency.svg", svg.into_bytes()),
        ("target/bench/latency.json", samples.to_string().into_bytes()),
    ] {
        let _ = std::fs::create_dir_all("target/bench");
        match std::fs::write(path, bytes) {
            Ok(()) => say!("wrote {path}"),
            Err(e) => say!("could not write {path}: {e}"),
        }
    }
    Ok(vec![p50, p90, p99, poll50, poll99])
}
