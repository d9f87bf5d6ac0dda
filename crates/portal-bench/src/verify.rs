//! The verify suite (`cargo xtask bench verify`): what a third party pays to check a node.
//!
//! A real `portal serve` node (release build) is filled with 10,000 signed records through the
//! editor API. Then, in alternating rounds:
//! - `portal verify --trust KEY <node URL>` (the real binary: the whole log over HTTP, every
//!   signature, continuity, version chains, each page's checkpoint and consistency proof)
//!   beside raw ed25519-dalek `verify_strict` of the same 10,000 signatures on one core;
//! - `portal verify --all <node>/feeds/atom` (the latest page and every archive, each entry
//!   opened and checked against what readers see) beside Python feedparser parsing the same
//!   feed bytes (parse only, no verification), in records per second.
//!
//! Traffic goes to 127.0.0.1 only; every process started here is stopped by its own PID.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ed25519_dalek::VerifyingKey;
use portal_proto::envelope::SignedRecord;
use serde_json::{Value, json};

use portal_tests::harness::{InitArgs, Node, free_port, init};

use crate::harness::build_portal;
use crate::measure::{Row, raw_inputs, raw_verify_all, side_by_side};

/// Records in the node's log.
const RECORDS: usize = 10_000;
/// Concurrent editors while filling the log.
const EDITORS: usize = 32;

fn say(msg: impl std::fmt::Display) {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    eprintln!("verify [{:5.0} s]: {msg}", START.get_or_init(Instant::now).elapsed().as_secs_f64());
}

fn skipped(reason: &str) -> Vec<Row> {
    vec![
        Row {
            name: format!("portal verify <node URL>, whole {RECORDS}-record log over HTTP"),
            unit: "records/s",
            reference_name: "raw ed25519-dalek verify_strict, same signatures, 1 core".into(),
            target: Some(0.8),
            skipped: Some(reason.to_owned()),
            ..Row::default()
        },
        Row {
            name: "portal verify --all <node>/feeds/atom (latest + archives)".into(),
            unit: "records/s",
            reference_name: "Python feedparser, parse only, same feed bytes".into(),
            skipped: Some(reason.to_owned()),
            ..Row::default()
        },
    ]
}

/// The suite's rows.
pub(crate) fn verify(seconds: f64) -> Vec<Row> {
    match run(seconds) {
        Ok(rows) => rows,
        Err(e) => skipped(&e),
    }
}

fn run(seconds: f64) -> Result<Vec<Row>, String> {
    let bin = build_portal()?;
    let dir = tempfile::Builder::new()
        .prefix("portal-bench-verify-")
        .tempdir()
        .map_err(|e| format!("temporary directory: {e}"))?;
    let data = dir.path().join("node");
    // The node's URL must be the one it serves from: a verifier checks the descriptor's origin.
    let port = free_port()?;
    let url = format!("http://127.0.0.1:{port}");
    let moh = init(&bin, &data, &InitArgs::new("bo-y-te", "Bộ Y tế", &url))?;
    let (token, key) = (moh.token.clone(), moh.key.clone());
    let node = Node::spawn(&bin, &data, &["--listen", &format!("127.0.0.1:{port}")])?;
    let base = node.base.clone();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    say(format!("publishing {RECORDS} records on {base}"));
    let started = Instant::now();
    rt.block_on(fill(&base, &token))?;
    say(format!("published in {:.1} s", started.elapsed().as_secs_f64()));
    let log = rt.block_on(whole_log(&base))?;
    if log.len() != RECORDS {
        return Err(format!("the log holds {} records, not {RECORDS}", log.len()));
    }

    // Reference: raw verify_strict of exactly the signatures portal verify checks.
    let vk = VerifyingKey::from_bytes(key.as_bytes()).map_err(|e| format!("key: {e}"))?;
    let raw = raw_inputs(&log);
    let raw_verify = || raw_verify_all(&vk, &raw);
    let trust = format!("bo-y-te={}", key.to_base64());
    let portal_verify = |target: &str, extra: &[&str], expect: usize| {
        let out = Command::new(&bin)
            .args(["verify", "--allow-private", "--trust", &trust, "--json"])
            .args(extra)
            .arg(target)
            .env("RUST_LOG", "error")
            .stderr(Stdio::null())
            .output()
            .expect("portal verify runs");
        let doc: Value = serde_json::from_slice(&out.stdout).expect("portal verify --json");
        assert_eq!(out.status.code(), Some(0), "portal verify {target}: {}", doc["error"]);
        let verified = doc["summary"]["verified"].as_u64().unwrap_or(0) as usize;
        assert!(verified >= expect, "portal verify {target}: {verified} verified, {expect} due");
    };
    let budget = Duration::from_secs_f64(seconds);
    say("portal verify <node> beside raw verify_strict");
    let (ours, reference, ratio) =
        side_by_side(budget, RECORDS, || portal_verify(&base, &[], RECORDS), raw_verify);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut rows = vec![Row {
        name: format!("portal verify <node URL>, whole {RECORDS}-record log over HTTP"),
        unit: "records/s",
        value: ours,
        reference_name: "raw ed25519-dalek verify_strict, same signatures, 1 core".into(),
        reference,
        ratio,
        target: Some(0.8),
        notes: vec![
            format!(
                "portal verify is the real release binary, a new process per round: start-up, \
                 descriptor fetch, {} log pages of 1000 over HTTP from a live `portal serve`, \
                 JSON decoding, canonical check + schema + verify_strict per record, chain \
                 checks, each page's checkpoint and consistency proof; the node serves from the \
                 same {cores} cores",
                RECORDS.div_ceil(1000)
            ),
            format!(
                "portal verify parses and checks signatures on all {cores} cores \
                 (LogVerifier::push_many), the reference on one: the ratio compares the tool \
                 a third party runs with one core's raw verification, as the issue asks"
            ),
            "each round checks exit 0 and that all records were reported verified".into(),
        ],
        ..Row::default()
    }];

    say("portal verify --all <node>/feeds/atom beside feedparser");
    rows.push(feed_row(&rt, &base, budget, |target| portal_verify(target, &["--all"], RECORDS)));
    drop(node);
    Ok(rows)
}

/// Publish `RECORDS` items with `EDITORS` concurrent editors.
async fn fill(base: &str, token: &str) -> Result<(), String> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| e.to_string())?;
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..EDITORS {
        let (http, next) = (http.clone(), Arc::clone(&next));
        let (url, token) = (format!("{base}/api/v1/items"), token.to_owned());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= RECORDS {
                    return Ok::<(), String>(());
                }
                let draft = json!({"kind": "news", "language": "vi",
                    "title": format!("Bộ Y tế hướng dẫn phòng chống dịch bệnh mùa mưa, bản tin số {i}"),
                    "summary": "Các hộ gia đình cần loại bỏ nước đọng hằng tuần.",
                    "content_html": "<p>Theo Cục Y tế dự phòng, số ca mắc sốt xuất huyết tăng trong tháng qua.</p>".repeat(3),
                    "categories": ["suc-khoe", "y-te-du-phong"]});
                let resp = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&draft)
                    .send()
                    .await
                    .map_err(|e| format!("publish: {e}"))?;
                if resp.status().as_u16() != 201 {
                    return Err(format!("publish: HTTP {}", resp.status()));
                }
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

/// Every entry of the node's log, as served.
async fn whole_log(base: &str) -> Result<Vec<SignedRecord>, String> {
    let http = reqwest::Client::builder().no_proxy().build().map_err(|e| e.to_string())?;
    portal_tests::api::log_records(&http, base).await
}

/// Python 3 with feedparser, installed with pip if missing.
fn feedparser() -> Result<PathBuf, String> {
    let python = PathBuf::from("python3");
    let has = |p: &Path| {
        Command::new(p)
            .args(["-c", "import feedparser"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if has(&python) {
        return Ok(python);
    }
    say("feedparser missing: python3 -m pip install feedparser");
    let _ = Command::new(&python).args(["-m", "pip", "install", "--quiet", "feedparser"]).status();
    if has(&python) { Ok(python) } else { Err("python3 with feedparser is not available".into()) }
}

const PARSE: &str = r#"
import sys, feedparser
n = 0
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        n += len(feedparser.parse(f.read()).entries)
print(n)
"#;

/// `portal verify --all` of the Atom feed beside feedparser parsing the same documents.
fn feed_row(
    rt: &tokio::runtime::Runtime,
    base: &str,
    budget: Duration,
    portal_verify: impl Fn(&str),
) -> Row {
    let mut row = Row {
        name: "portal verify --all <node>/feeds/atom (latest + archives)".into(),
        unit: "records/s",
        reference_name: "Python feedparser, parse only, same feed bytes".into(),
        ..Row::default()
    };
    let python = match feedparser() {
        Ok(p) => p,
        Err(e) => {
            row.skipped = Some(e);
            return row;
        }
    };
    // The same documents portal verify reads: the latest page and every archive.
    let Ok(dir) = tempfile::tempdir() else {
        row.skipped = Some("no temporary directory".into());
        return row;
    };
    let docs = rt.block_on(async {
        let http = reqwest::Client::builder().no_proxy().build().ok()?;
        let mut docs = Vec::new();
        let mut urls = vec![format!("{base}/feeds/atom")];
        urls.extend((0..RECORDS / 100).map(|n| format!("{base}/feeds/atom/archive/{n}")));
        for url in urls {
            docs.push(http.get(&url).send().await.ok()?.bytes().await.ok()?.to_vec());
        }
        Some(docs)
    });
    let Some(docs) = docs else {
        row.skipped = Some("could not read the feed documents".into());
        return row;
    };
    let mut paths = Vec::new();
    for (i, d) in docs.iter().enumerate() {
        let p = dir.path().join(format!("{i}.xml"));
        if std::fs::write(&p, d).is_err() {
            row.skipped = Some("could not write the feed documents".into());
            return row;
        }
        paths.push(p);
    }
    let entries = RECORDS + 100;
    let parse = || {
        let out =
            Command::new(&python).args(["-c", PARSE]).args(&paths).output().expect("python3 runs");
        let n: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0);
        assert_eq!(n, entries, "feedparser read every entry");
    };
    let target = format!("{base}/feeds/atom");
    let (ours, reference, ratio) = side_by_side(budget, entries, || portal_verify(&target), parse);
    row.value = ours;
    row.reference = reference;
    row.ratio = ratio;
    row.notes = vec![
        format!(
            "{} documents ({} entries: the latest page's 100 are also in the last archive), \
             {} bytes; both sides are whole processes (portal verify also fetches them over \
             HTTP and fetches the descriptor; python3 reads them from files)",
            docs.len(),
            entries,
            docs.iter().map(Vec::len).sum::<usize>()
        ),
        "feedparser only parses; portal verify also checks every signature and every visible \
         field against the signed record"
            .into(),
    ];
    row
}
