//! `portal demo` as a user runs it: one real process, its printed addresses, the seeded
//! national view verified against the ministries' keys, push, the editor example, Ctrl-C
//! (SIGINT by PID), and a restart on the same data without duplicates.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use portal_proto::crypto::PublicKey;
use portal_proto::envelope::TrustStore;
use portal_proto::feed;
use portal_proto::ids::NodeId;
use portal_proto::record::{ItemKind, KeyGrant, Record};
use portal_tests::api::{client, log_size, member_sizes};
use portal_tests::harness::{Proc, bin_and_tmp, portal, portal_bin};
use portal_tests::wait::until;
use serde_json::Value;

const MINISTRIES: [&str; 3] = ["bo-y-te", "bo-giao-duc-dao-tao", "bo-tai-chinh"];

struct Node {
    id: String,
    url: String,
    token: Option<String>,
}

/// A running `portal demo`, with what its banner printed. Stopped (by PID) if dropped running.
struct Demo {
    proc: Proc,
    output: Vec<String>,
    nodes: Vec<Node>,
    trust: TrustStore,
}

impl Demo {
    fn start(bin: &Path, data: &Path, extra: &[&str]) -> Demo {
        let mut command = Command::new(bin);
        command.arg("demo").arg("--data").arg(data).args(extra).env("RUST_LOG", "warn");
        command.stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut proc = Proc::spawn(command, "portal demo").expect("portal demo starts");
        let stdout = proc.take_stdout().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Drain to the end even when nobody listens any more: the demo keeps printing.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(180);
        let mut output = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    let ready = line.starts_with("Ready.");
                    output.push(line);
                    if ready {
                        break;
                    }
                }
                Err(e) => {
                    proc.kill9();
                    panic!("the demo never became ready ({e}): {}", output.join("\n"));
                }
            }
        }
        let mut nodes = Vec::new();
        for (i, line) in output.iter().enumerate() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if let [id, url, ..] = words[..]
                && url.starts_with("http://127.0.0.1:")
                && (MINISTRIES.contains(&id) || id == "chinh-phu")
            {
                let token = output[i..]
                    .iter()
                    .take(5)
                    .find_map(|l| l.trim().strip_prefix("editor token"))
                    .map(|t| t.trim().to_owned());
                nodes.push(Node { id: id.to_owned(), url: url.to_owned(), token });
            }
        }
        assert_eq!(nodes.len(), 4, "four nodes in the banner: {}", output.join("\n"));
        let verify = output
            .iter()
            .find(|l| l.trim_start().starts_with("portal verify "))
            .expect("a ready-to-paste verify line");
        let mut trust = TrustStore::new();
        let words: Vec<&str> = verify.split_whitespace().collect();
        for pair in words.windows(2).filter(|w| w[0] == "--trust") {
            let (origin, key) = pair[1].split_once('=').expect("ORIGIN=KEY");
            let key = PublicKey::from_base64(key).expect("a public key");
            trust.add(NodeId::new(origin).expect("id"), KeyGrant::pinned(key));
        }
        assert_eq!(trust.origins().count(), 3, "{verify}");
        // The line works as pasted: `portal verify` accepts the national feed against the
        // ministries' own keys.
        let run = portal(bin, &words[1..]);
        assert!(run.ok(), "{verify}: {}{}", run.stdout, run.stderr);
        Demo { proc, output, nodes, trust }
    }

    fn node(&self, id: &str) -> &Node {
        self.nodes.iter().find(|n| n.id == id).expect("node in the banner")
    }

    fn central(&self) -> &str {
        &self.node("chinh-phu").url
    }

    /// SIGINT by PID (as Ctrl-C does); returns whether it exited 0 within 30 s.
    fn interrupt(mut self) -> bool {
        self.proc.stop_with("INT", Duration::from_secs(30)).is_some_and(|s| s.success())
    }
}

async fn get_json(http: &reqwest::Client, url: &str) -> Value {
    portal_tests::api::get_json(http, url).await.expect("GET")
}

/// The national Atom feed, every entry verified against the ministries' keys from the banner.
async fn national(http: &reqwest::Client, demo: &Demo) -> Vec<Record> {
    let url = format!("{}/feeds/national/atom", demo.central());
    let body = http.get(&url).send().await.expect("feed").bytes().await.expect("body");
    let decoded = feed::decode_atom(&body).expect("the national feed decodes");
    feed::verify_entries(&decoded, &demo.trust)
        .into_iter()
        .map(|r| r.expect("every national entry verifies against its ministry's key"))
        .map(|v| v.record().clone())
        .collect()
}

/// Entries the central stores for each ministry.
async fn stored(http: &reqwest::Client, demo: &Demo) -> Vec<(String, u64)> {
    member_sizes(http, demo.central()).await.expect("members").into_iter().collect()
}

/// Children of `pid` (Linux: /proc/PID/task/*/children).
fn children(pid: u32) -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| c.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

fn run_publish_example(url: &str, token: &str) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["run", "--quiet", "-p", "portal-examples", "--example", "publish", "--"])
        .args([url, token])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs the example");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the publish example failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The first item record of `records` that `pick` returns something for.
fn find<T>(records: &[Record], pick: impl Fn(&Record) -> Option<T>) -> Option<T> {
    records.iter().find_map(pick)
}

/// The seeded national view: every ministry, the decree, an alert, English translations, the
/// correction with its note and history, the withdrawal with its explanation.
async fn assert_seeded_national_view(http: &reqwest::Client, demo: &Demo) {
    let records = national(http, demo).await;
    let origins: BTreeSet<String> = records
        .iter()
        .filter_map(|r| match r {
            Record::Item(i) => Some(i.origin.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(origins, MINISTRIES.iter().map(|m| m.to_string()).collect());
    let decree = find(&records, |r| match r {
        Record::Item(i) if i.kind == ItemKind::Legal && i.origin.as_str() == "bo-tai-chinh" => {
            i.legal.clone()
        }
        _ => None,
    })
    .expect("the decree in the national feed");
    assert_eq!(decree.number, "15/2026/NĐ-CP");
    assert!(records.iter().any(|r| matches!(r, Record::Item(i) if i.kind == ItemKind::Alert)));
    assert!(records.iter().all(|r| match r {
        Record::Item(i) => i.translations.keys().any(|l| l.as_str() == "en"),
        _ => true,
    }));
    let corrected = find(&records, |r| match r {
        Record::Item(i) if i.version == 2 => Some(i.clone()),
        _ => None,
    })
    .expect("a corrected item");
    assert_eq!(corrected.origin.as_str(), "bo-giao-duc-dao-tao");
    assert!(corrected.update.as_ref().is_some_and(|u| !u.note.is_empty()), "with its note");
    let national_item = |id: String| format!("{}/api/v1/national/items/{id}", demo.central());
    let item = get_json(http, &national_item(corrected.id.to_string())).await;
    assert_eq!(item["members"][0]["versions"].as_array().map(Vec::len), Some(2), "{item}");
    let withdrawal = find(&records, |r| match r {
        Record::Withdrawal(w) => Some(w.clone()),
        _ => None,
    })
    .expect("a tombstone in the national feed");
    assert_eq!(withdrawal.origin.as_str(), "bo-tai-chinh");
    assert!(!withdrawal.explanation.is_empty());
    let item = get_json(http, &national_item(withdrawal.id.to_string())).await;
    assert!(item["members"][0]["withdrawal"].is_object(), "{item}");
}

/// Push is wired: the central holds a lease on every hub, and an editor's new item (the
/// `publish` example) reaches the national view by push (polling is every 60 s).
async fn assert_push_reaches_the_central(http: &reqwest::Client, demo: &Demo) {
    let members = get_json(http, &format!("{}/api/v1/members", demo.central())).await;
    for m in members["members"].as_array().expect("members") {
        assert!(m["health"]["push_lease_until"].is_u64(), "subscribed to the hub: {m}");
    }
    let moh = demo.node("bo-y-te");
    let out = run_publish_example(&moh.url, moh.token.as_deref().expect("token"));
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("published "))
        .and_then(|l| l.split_whitespace().next())
        .expect("the example prints the id")
        .to_owned();
    assert!(out.contains(&format!("corrected {id} version 2")), "{out}");
    let url = format!("{}/api/v1/national/items/{id}", demo.central());
    until(
        "the example's item at the central",
        Duration::from_secs(15),
        Duration::from_millis(200),
        || async {
            let v = portal_tests::api::get_json(http, &url).await;
            v.is_ok_and(|v| v["members"][0]["versions"].as_array().map(Vec::len) == Some(2))
        },
    )
    .await
    .expect("the example's item never reached the central");
    let metrics = portal_tests::api::metrics_text(http, &moh.url).await.expect("metrics");
    let delivered =
        portal_tests::api::metric(&metrics, "portal_websub_delivered_total").unwrap_or(0.0);
    assert!(delivered >= 1.0, "the ministry's hub pushed to the central: {metrics}");
}

/// What the running demo holds: each ministry's log size, what the central stored, the
/// national feed's length.
async fn holdings(http: &reqwest::Client, demo: &Demo) -> (Vec<u64>, Vec<(String, u64)>, usize) {
    let mut sizes = Vec::new();
    for m in MINISTRIES {
        sizes.push(log_size(http, &demo.node(m).url).await.expect("log size"));
    }
    (sizes, stored(http, demo).await, national(http, demo).await.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_a_seeded_federation_stops_on_ctrl_c_and_restarts_without_duplicates() {
    let (bin, tmp) = bin_and_tmp().await;
    let data = tmp.path().join("demo");
    let http = client();

    let demo = Demo::start(&bin, &data, &["--port", "0"]);
    for n in &demo.nodes {
        let health = get_json(&http, &format!("{}/healthz", n.url)).await;
        assert_eq!(health["status"], "ok", "{} answers", n.id);
    }
    for m in MINISTRIES {
        assert!(demo.node(m).token.is_some(), "{m}: the banner prints its editor token");
    }
    assert!(
        demo.output.iter().any(|l| l.contains(&format!("{}/feeds/national/atom", demo.central()))),
        "the banner prints the national feed"
    );
    #[cfg(target_os = "linux")]
    assert_eq!(children(demo.proc.pid()), Vec::<String>::new(), "the nodes run in-process");
    assert_seeded_national_view(&http, &demo).await;
    assert_push_reaches_the_central(&http, &demo).await;

    // ---- Ctrl-C stops everything: exit 0, every port closed
    let before = holdings(&http, &demo).await;
    let urls: Vec<String> = demo.nodes.iter().map(|n| n.url.clone()).collect();
    let pid = demo.proc.pid();
    assert!(demo.interrupt(), "SIGINT stops the demo with exit status 0");
    for url in &urls {
        let addr = url.strip_prefix("http://").expect("http");
        assert!(TcpStream::connect(addr).is_err(), "{addr} is closed after Ctrl-C");
    }
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "the process is gone");

    // ---- restart on the same data: same addresses, nothing published twice
    let again = Demo::start(&bin, &data, &[]);
    let again_urls: Vec<String> = again.nodes.iter().map(|n| n.url.clone()).collect();
    assert_eq!(again_urls, urls, "the demo keeps its addresses");
    assert_eq!(
        again.output.iter().filter(|l| l.ends_with("content already published")).count(),
        3,
        "{}",
        again.output.join("\n")
    );
    let (sizes, ingested, feed_len) = before;
    for (m, size) in MINISTRIES.iter().zip(&sizes) {
        let now = log_size(&http, &again.node(m).url).await.expect("log size");
        assert_eq!(now, *size, "{m}: no duplicates");
    }
    assert_eq!(stored(&http, &again).await, ingested, "the central stores the same records");
    assert_eq!(national(&http, &again).await.len(), feed_len);
    assert!(again.interrupt(), "the restarted demo stops cleanly too");
}

#[test]
fn a_taken_port_is_refused_with_advice() {
    let bin = portal_bin();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("demo");
    let out = portal(&bin, &["demo", "--port", &port, "--data", data.to_str().expect("utf-8")]);
    let (ok, err) = (out.ok(), out.stderr);
    assert!(!ok, "the demo refuses a taken port");
    assert!(err.contains(&format!("127.0.0.1:{port}")) && err.contains("--port"), "{err}");
    assert!(!data.exists(), "nothing is created when the demo cannot start");
}
