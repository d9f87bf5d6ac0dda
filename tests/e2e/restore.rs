//! `portal restore`: a ministry whose store was lost gets its log back from the central node's
//! mirror (`GET /api/v1/members/{id}/log`) and its own signing journal, byte for byte, without
//! signing any index again; then it continues at the next index and the central accepts the
//! continuation without an incident. A mirror serving an altered entry is refused with a named
//! reason, and nothing is written.

use std::path::Path;

use base64::Engine as _;
use portal_tests::api::{client, incidents, news_draft};
use portal_tests::fake::{FakeServer, Reply};
use portal_tests::harness::{NodeDir, add_members, bin_and_tmp, init_fast, portal};
use portal_tests::wait::eventually;
use serde_json::Value;

async fn get_json(http: &reqwest::Client, url: &str) -> Value {
    portal_tests::api::get_json(http, url).await.expect("GET")
}

async fn publish(http: &reqwest::Client, m: &NodeDir, title: &str) -> Value {
    portal_tests::api::publish(http, &m.url, &m.token, &news_draft(title)).await.expect("publish")
}

/// Every entry of a node's log and its checkpoint note (`/api/v1/log`, paged).
async fn whole_log(http: &reqwest::Client, log_url: &str) -> (Vec<Value>, String) {
    let mut entries = Vec::new();
    let mut after = 0;
    loop {
        let page = get_json(http, &format!("{log_url}?after={after}&limit=7")).await;
        let got = page["entries"].as_array().cloned().unwrap_or_default();
        after += got.len() as u64;
        entries.extend(got);
        if page["next"].is_null() {
            return (entries, page["checkpoint"].as_str().unwrap_or_default().to_owned());
        }
    }
}

/// The size and root lines of a checkpoint note.
fn size_and_root(note: &str) -> (String, String) {
    let mut lines = note.lines().skip(1);
    let size = lines.next().unwrap_or_default().to_owned();
    let root = lines.next().unwrap_or_default().to_owned();
    (size, root)
}

fn store_size(data: &Path) -> Option<u64> {
    let store = data.join("store");
    store.exists().then(|| portal_store::Store::open(&store).expect("the store opens").size())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ministry_restores_its_lost_log_from_the_central_node_without_signing_again() {
    let (bin, tmp) = bin_and_tmp().await;
    let http = client();
    let moh_data = tmp.path().join("moh");
    let gov_data = tmp.path().join("gov");
    let moh = init_fast(&bin, &moh_data, "bo-y-te", "Bộ Y tế").expect("init");
    let gov = init_fast(&bin, &gov_data, "chinh-phu", "Chính phủ").expect("init");
    let moh_srv = moh.serve(&bin);
    let central_srv = gov.serve(&bin);
    let central = central_srv.base.clone();
    let gov_s = gov.data_arg();
    let moh_s = moh.data_arg();
    add_members(&bin, &gov, &[&moh]).expect("member add");

    // ---- the ministry publishes; the central mirrors all of it
    const N: u64 = 23;
    for i in 0..N {
        publish(&http, &moh, &format!("Thông báo số {i}")).await;
    }
    let mirror = format!("{central}/api/v1/members/bo-y-te/log");
    eventually("the central mirrors all the entries", || async {
        let page = get_json(&http, &format!("{mirror}?after=0&limit=1")).await;
        page["size"] == N
            && size_and_root(page["checkpoint"].as_str().unwrap_or_default()).0 == N.to_string()
    })
    .await;
    // The mirror is the member's log exactly, with the central's cosignature on its checkpoint.
    let (mirrored, mirror_note) = whole_log(&http, &mirror).await;
    let (own, _) = whole_log(&http, &format!("{}/api/v1/log", moh.url)).await;
    assert_eq!(mirrored, own, "the mirror serves the member's entries as signed");
    assert!(mirror_note.contains("\u{2014} ipsp/1/chinh-phu "), "cosigned: {mirror_note}");
    let descriptor = get_json(&http, &format!("{central}/.well-known/portal-node")).await;
    let record = base64::engine::general_purpose::STANDARD
        .decode(descriptor["record"].as_str().expect("record"))
        .expect("base64");
    let record: Value = serde_json::from_slice(&record).expect("json");
    assert_eq!(
        record["endpoints"]["member-log"],
        format!("{central}/api/v1/members/{{id}}/log"),
        "the central declares its mirror"
    );

    // ---- one more entry that only the ministry (and its journal) holds: the central is paused
    let out = portal(&bin, &["member", "suspend", "--data", gov_s, "bo-y-te"]);
    assert!(out.ok(), "suspend: {}", out.stderr);
    publish(&http, &moh, "Thông báo cuối trước sự cố").await;
    let (before, before_note) = whole_log(&http, &format!("{}/api/v1/log", moh.url)).await;
    assert_eq!(before.len() as u64, N + 1);

    // ---- disaster: the store is lost; keys and config survive
    assert!(moh_srv.terminate(), "moh stops");
    std::fs::remove_dir_all(moh_data.join("store")).expect("delete the store");

    // A tampered mirror (one title changed inside a signed record) is refused; nothing written.
    let mut page = get_json(&http, &format!("{mirror}?after=0&limit=1000")).await;
    let b64 = base64::engine::general_purpose::STANDARD;
    let bytes = b64.decode(page["entries"][3]["record"].as_str().expect("record")).expect("b64");
    let altered = String::from_utf8(bytes).expect("utf-8").replace("số 3", "số 8");
    page["entries"][3]["record"] = Value::from(b64.encode(altered));
    // A one-page "mirror" serving the tampered page for every request.
    let body = page.to_string();
    let fake = FakeServer::serving(move |_| Some(Reply::json(body.clone()))).await;
    let restore = |from: String| {
        let bin = bin.clone();
        let moh_s = moh_s.to_owned();
        async move {
            let out = tokio::task::spawn_blocking(move || {
                portal(&bin, &["restore", "--data", &moh_s, "--from", &from, "--allow-private"])
            })
            .await
            .expect("restore runs");
            (out.ok(), out.stdout, out.stderr)
        }
    };
    let (ok, _, err) = restore(fake.base()).await;
    assert!(!ok, "a tampered mirror is refused");
    assert!(err.contains("refused (bad-signature)") && err.contains("entry 3"), "{err}");
    assert!(err.contains("nothing written"), "{err}");
    assert_eq!(store_size(&moh_data).unwrap_or(0), 0, "nothing was written");

    // Without restoring, the node would refuse to sign (its journal is ahead of its store).
    // With the central's copy and the journal, the log comes back whole.
    let (ok, out, err) = restore(central.clone()).await;
    assert!(ok, "restore: {err}");
    assert!(
        out.contains("none signed again") && out.contains(&format!("log size {}", N + 1)),
        "{out}"
    );
    assert!(err.contains("verified the central node's copy"), "progress is shown: {err}");

    // ---- the node starts, serves the identical log, and continues at the next index
    let moh_srv = moh.serve(&bin);
    let (after_restore, after_note) = whole_log(&http, &format!("{}/api/v1/log", moh.url)).await;
    assert_eq!(after_restore, before, "the restored log is byte-identical");
    assert_eq!(size_and_root(&after_note), size_and_root(&before_note), "same size and root");
    let health = get_json(&http, &format!("{}/healthz", moh.url)).await;
    assert_eq!(health["status"], "ok", "the node signs again: {health}");
    let next = publish(&http, &moh, "Hoạt động trở lại").await;
    assert_eq!(next["log_index"], N + 1, "the log continues at the next index");

    // ---- the central resumes and accepts the continuation without an incident
    let out = portal(&bin, &["member", "activate", "--data", gov_s, "bo-y-te"]);
    assert!(out.ok(), "activate: {}", out.stderr);
    eventually("the central ingests the continuation", || async {
        let page = get_json(&http, &format!("{mirror}?after=0&limit=1")).await;
        page["size"] == N + 2
    })
    .await;
    let (mirrored, _) = whole_log(&http, &mirror).await;
    let (own, _) = whole_log(&http, &format!("{}/api/v1/log", moh.url)).await;
    assert_eq!(mirrored, own);
    let incidents = incidents(&http, &central, "bo-y-te").await.expect("incidents");
    assert_eq!(incidents, Vec::<Value>::new(), "no incident");

    // Nothing left to restore: a second run says so and writes nothing.
    drop(moh_srv);
    let (ok, out, err) = restore(central.clone()).await;
    assert!(ok && out.contains("nothing to restore"), "{out}{err}");
    assert!(central_srv.terminate(), "the central stops cleanly");
}
