//! Nothing acknowledged is lost and no log index is ever signed twice: after kill -9 during
//! concurrent publishing, after a crash between the signing journal and the store, and after a
//! restore from an older backup.
//!
//! The kill -9 loop runs 3 rounds by default and 20 with `PORTAL_CRASH_LOOP=1`
//! (`PORTAL_CRASH_LOOP=1 cargo test -p portal-tests --test e2e crash -- --nocapture`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portal_proto::envelope::SignedRecord;
use portal_proto::verifier::LogVerifier;
use portal_tests::api::{client, get_json, log_records, post_json};
use portal_tests::fixtures::node;
use portal_tests::harness::{InitArgs, Node, NodeDir, Output, bin_and_tmp, copy_dir, init, portal};
use serde_json::{Value, json};

fn init_moh(bin: &Path, data: &Path) -> NodeDir {
    init(bin, data, &InitArgs::new("bo-y-te", "Bộ Y tế", "http://127.0.0.1:9")).expect("init")
}

fn publish_cli(bin: &Path, data: &Path, title: &str) -> Output {
    let file = data.with_extension(format!("draft-{}.json", title.len()));
    std::fs::write(&file, json!({"kind": "news", "language": "vi", "title": title}).to_string())
        .expect("draft");
    portal(
        bin,
        &["publish", "--data", data.to_str().expect("utf-8"), file.to_str().expect("utf-8")],
    )
}

fn restore(store: &Path, backup: &Path) {
    std::fs::remove_dir_all(store).expect("remove store");
    copy_dir(backup, store).expect("copy the backup");
}

async fn fetch_log(base: &str) -> Vec<SignedRecord> {
    log_records(&client(), base).await.expect("the log is gap-free and readable")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_replays_a_crash_and_an_older_backup_stops_signing() {
    let (bin, tmp) = bin_and_tmp().await;
    let data = tmp.path().join("node");
    let moh = init_moh(&bin, &data);
    let store = data.join("store");

    assert!(publish_cli(&bin, &data, "Một").ok());
    copy_dir(&store, &tmp.path().join("backup-1")).expect("backup");
    let out = publish_cli(&bin, &data, "Hai hai");
    assert!(out.ok() && out.stdout.contains("log index 1"), "{}", out.stdout);
    let server = Node::start(&bin, &data);
    let before = fetch_log(&server.base).await;
    assert!(server.terminate());

    // A crash after the journal was written but before the store committed looks exactly like
    // this: the store one batch behind the journal. The node must store what it signed.
    restore(&store, &tmp.path().join("backup-1"));
    let server = Node::start(&bin, &data);
    let after = fetch_log(&server.base).await;
    assert_eq!(after, before, "the journal's batch was replayed byte for byte, not re-signed");
    assert!(server.terminate());

    // An older backup (more than the last batch missing) must stop the node from signing.
    let out = publish_cli(&bin, &data, "Ba ba ba");
    assert!(out.ok() && out.stdout.contains("log index 2"), "{}", out.stdout);
    restore(&store, &tmp.path().join("backup-1"));
    let out = publish_cli(&bin, &data, "Bốn bốn bốn bốn");
    assert!(
        !out.ok() && out.stderr.contains("older backup"),
        "the CLI says why it refuses: {}",
        out.stderr
    );
    let server = Node::start(&bin, &data);
    let http = client();
    let health = get_json(&http, &format!("{}/healthz", server.base)).await.expect("healthz");
    assert_eq!(health["status"], "degraded");
    let draft = json!({"kind": "news", "language": "vi", "title": "Năm"});
    let (status, body) =
        post_json(&http, &format!("{}/api/v1/items", server.base), &moh.token, &draft)
            .await
            .expect("post");
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "signing-refused");
    assert_eq!(fetch_log(&server.base).await.len(), 1, "it still serves what it has, read-only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_concurrent_publishing_loses_nothing_acknowledged() {
    let rounds: usize = if std::env::var_os("PORTAL_CRASH_LOOP").is_some() { 20 } else { 3 };
    let (bin, tmp) = bin_and_tmp().await;
    let data = tmp.path().join("node");
    let moh = init_moh(&bin, &data);
    let client = portal_tests::api::raw_client(Duration::from_secs(10));
    // Every acknowledged publish: log index → item id.
    let acked: Arc<Mutex<BTreeMap<u64, String>>> = Arc::default();
    // The log as first seen: an index, once observed, must never show other bytes.
    let mut seen: Vec<SignedRecord> = Vec::new();
    let started = Instant::now();

    for round in 0..rounds {
        let server = Node::start(&bin, &data);
        let base = server.base.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let editors: Vec<_> = (0..8)
            .map(|editor| {
                let (client, base, token, acked, stop) = (
                    client.clone(),
                    base.clone(),
                    moh.token.clone(),
                    Arc::clone(&acked),
                    Arc::clone(&stop),
                );
                tokio::spawn(async move {
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let draft = json!({"kind": "news", "language": "vi",
                            "title": format!("Vòng {round}, biên tập viên {editor}, tin {n}")});
                        let Ok(resp) = client
                            .post(format!("{base}/api/v1/items"))
                            .bearer_auth(&token)
                            .json(&draft)
                            .send()
                            .await
                        else {
                            break; // the server died mid-request: not acknowledged
                        };
                        if resp.status() != 201 {
                            break;
                        }
                        let Ok(p) = resp.json::<Value>().await else { break };
                        let (Some(i), Some(id)) = (p["log_index"].as_u64(), p["id"].as_str())
                        else {
                            break;
                        };
                        acked.lock().expect("lock").insert(i, id.to_owned());
                    }
                })
            })
            .collect();
        // Let publishing run for a while, then kill -9 (SIGKILL, by PID) mid-flight.
        tokio::time::sleep(Duration::from_millis(300 + (round as u64 * 137) % 500)).await;
        let mut server = server;
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        for e in editors {
            let _ = e.await;
        }

        // Restart and check the invariants.
        let server = Node::start(&bin, &data);
        let log = fetch_log(&server.base).await;
        assert!(
            log.len() >= seen.len(),
            "round {round}: the log shrank from {} to {}",
            seen.len(),
            log.len()
        );
        for (i, s) in seen.iter().enumerate() {
            assert_eq!(
                &log[i], s,
                "round {round}: index {i} now holds different bytes: signed twice"
            );
        }
        let mut verifier = LogVerifier::new(node("bo-y-te"), vec![moh.grant()]);
        for s in &log {
            verifier.push(s).expect("every entry verifies in order: no gap, no fork");
        }
        for (i, id) in acked.lock().expect("lock").iter() {
            let s = log
                .get(*i as usize)
                .unwrap_or_else(|| panic!("round {round}: acknowledged index {i} is missing"));
            let record: Value = serde_json::from_slice(s.bytes()).expect("json");
            assert_eq!(
                record["id"].as_str(),
                Some(id.as_str()),
                "round {round}: index {i} holds another item"
            );
        }
        seen = log;
        drop(server);
    }
    let acked = acked.lock().expect("lock").len();
    eprintln!(
        "{rounds} kill -9 rounds in {:?}: {acked} acknowledged publishes, all present; log size {}",
        started.elapsed(),
        seen.len()
    );
    assert!(acked > rounds, "publishing made progress between kills");
}
