//! Key rotation (SPEC.md §4.3, §13): `portal key rotate` on a stopped node logs a `rotate` key
//! event signed by the old key; the node then signs with the new key. A third party holding
//! only the old key verifies the whole log, and a central node following the ministry learns
//! the new key from the log itself, with no re-pinning and no incident. A central that joins
//! after the rotation pins the descriptor's grants and verifies the same log.

use std::path::Path;

use portal_proto::crypto::PublicKey;
use portal_proto::envelope::SignedRecord;
use portal_proto::record::{Descriptor, KeyGrant};
use portal_proto::verifier::LogVerifier;
use portal_tests::api::{client, get_json, incidents, news_draft};
use portal_tests::fixtures::{node, now};
use portal_tests::harness::{
    InitArgs, Node, NodeDir, add_members, bin_and_tmp, init, init_fast, member_add, portal,
    portal_bin,
};
use portal_tests::wait::eventually;
use serde_json::Value;

async fn entries(http: &reqwest::Client, base: &str) -> Vec<SignedRecord> {
    portal_tests::api::log_records(http, base).await.expect("the log")
}

async fn publish(http: &reqwest::Client, m: &NodeDir, title: &str) -> Value {
    portal_tests::api::publish(http, &m.url, &m.token, &news_draft(title)).await.expect("publish")
}

async fn json(http: &reqwest::Client, url: &str) -> Value {
    get_json(http, url).await.expect("GET")
}

async fn no_incident(http: &reqwest::Client, central: &str) {
    assert_eq!(incidents(http, central, "bo-y-te").await.expect("incidents"), Vec::<Value>::new());
}

/// `portal key rotate` on the stopped node: refused while it runs, then the rotation at log
/// index 3, the old seed kept; the new key.
fn rotate(bin: &Path, moh: &NodeDir, server: Node) -> PublicKey {
    let out = portal(bin, &["key", "rotate", "--data", moh.data_arg()]);
    assert!(!out.ok() && out.stderr.contains("the node is running"), "{}", out.stderr);
    assert!(server.terminate(), "moh stops");
    let reason = "Luân chuyển khóa định kỳ";
    let out = portal(bin, &["key", "rotate", "--data", moh.data_arg(), "--reason", reason]);
    assert!(out.ok(), "rotate: {}", out.stderr);
    assert!(out.stdout.contains("rotated at log index 3"), "{}", out.stdout);
    let new_key = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("new key:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .map(|k| PublicKey::from_base64(k).expect("new key"))
        .unwrap_or_else(|| panic!("no new key in {}", out.stdout));
    assert_ne!(new_key, moh.key);
    let retired = moh.data.join("keys/retired").join(format!("{}.key", moh.key.key_id()));
    assert!(retired.exists(), "the old seed is kept at {}", retired.display());
    new_key
}

/// The descriptor after the rotation: signed by the new key, listing both grants.
async fn assert_descriptor_lists_both_grants(
    http: &reqwest::Client,
    moh: &NodeDir,
    new_key: &PublicKey,
) {
    let url = format!("{}/.well-known/portal-node", moh.url);
    let body = http.get(&url).send().await.expect("descriptor").bytes().await.expect("bytes");
    let signed = SignedRecord::from_json(&body).expect("envelope");
    assert_eq!(signed.kid(), &new_key.key_id(), "signed by the new key");
    let descriptor: Descriptor = serde_json::from_slice(signed.bytes()).expect("descriptor");
    assert_eq!(
        descriptor.keys,
        vec![
            KeyGrant { until_index: Some(4), ..KeyGrant::pinned(moh.key.clone()) },
            KeyGrant { from_index: 4, ..KeyGrant::pinned(new_key.clone()) },
        ]
    );
}

/// Entries of bo-y-te the central holds (0 before the first ingest: the mirror answers 404).
async fn mirrored(http: &reqwest::Client, central: &str) -> u64 {
    let url = format!("{central}/api/v1/members/bo-y-te/log?limit=1");
    match http.get(&url).send().await {
        Ok(r) if r.status().is_success() => {
            r.json::<Value>().await.map_or(0, |p| p["size"].as_u64().unwrap_or(0))
        }
        _ => 0,
    }
}

/// A third party holding only the old key verifies `entries` and the checkpoint of the page
/// after `after`; its verifier.
async fn third_party_verifies(http: &reqwest::Client, moh: &NodeDir, after: u64) -> LogVerifier {
    let mut v = LogVerifier::new(node("bo-y-te"), vec![moh.grant()]);
    for s in entries(http, &moh.url).await {
        v.push(&s).expect("every entry verifies with the old key alone");
    }
    let page = json(http, &format!("{}/api/v1/log?after={after}", moh.url)).await;
    v.push_checkpoint(page["checkpoint"].as_str().expect("note"), now(), None)
        .expect("the checkpoint verifies");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ministry_rotates_its_key_and_verifiers_learn_it_from_the_log() {
    let (bin, tmp) = bin_and_tmp().await;
    let http = client();
    let moh = init_fast(&bin, &tmp.path().join("moh"), "bo-y-te", "Bộ Y tế").expect("init");
    let gov = init_fast(&bin, &tmp.path().join("gov"), "chinh-phu", "Chính phủ").expect("init");
    let moh_srv = moh.serve(&bin);
    let central_srv = gov.serve(&bin);
    let central = central_srv.base.clone();
    add_members(&bin, &gov, &[&moh]).expect("member add");
    for i in 0..3 {
        publish(&http, &moh, &format!("Trước khi đổi khóa {i}")).await;
    }
    eventually("the central holds 3 entries", || async { mirrored(&http, &central).await == 3 })
        .await;

    let new_key = rotate(&bin, &moh, moh_srv);
    let moh_srv = moh.serve(&bin);
    assert_descriptor_lists_both_grants(&http, &moh, &new_key).await;
    // The checkpoint right after the rotation covers index 3: signed by the old key.
    third_party_verifies(&http, &moh, 4).await;

    // ---- the node signs with the new key from index 4
    for i in 0..2 {
        let p = publish(&http, &moh, &format!("Sau khi đổi khóa {i}")).await;
        assert_eq!(p["log_index"], 4 + i);
    }
    let all = entries(&http, &moh.url).await;
    assert_eq!(all.len(), 6);
    assert_eq!(all[5].kid(), &new_key.key_id());
    // A fresh third party verifies the whole log from the old key, and the newest
    // checkpoint, signed by the new key.
    let v = third_party_verifies(&http, &moh, 6).await;
    assert!(v.grants().iter().any(|g| g.public_key == new_key && g.from_index == 4));

    // ---- the central learned the new key from the log: everything ingested, no incident
    eventually("the central ingests past the rotation", || async {
        mirrored(&http, &central).await == 6
    })
    .await;
    no_incident(&http, &central).await;

    // ---- a central joining after the rotation pins the descriptor's grants
    let gov2 = init_fast(&bin, &tmp.path().join("gov2"), "chinh-phu-moi", "Chính phủ (mới)")
        .expect("init");
    let gov2_srv = gov2.serve(&bin);
    let out = member_add(&bin, &gov2, &moh.url, Some(&new_key));
    assert!(out.ok(), "member add after the rotation: {}", out.stderr);
    eventually("the new central follows the whole log", || async {
        mirrored(&http, &gov2_srv.base).await == 6
    })
    .await;
    no_incident(&http, &gov2_srv.base).await;

    // ---- a retroactive revocation: the old key is revoked from index 1, so the records it
    // signed at 1, 2 and 3, accepted long ago, are invalid; the central re-examines them
    assert!(moh_srv.terminate(), "moh stops for the revocation");
    let old_kid = moh.key.key_id().to_string();
    let args = [
        "key",
        "revoke",
        "--data",
        moh.data_arg(),
        &old_kid,
        "--from-index",
        "1",
        "--reason",
        "Lộ khóa",
    ];
    let out = portal(&bin, &args);
    assert!(out.ok(), "revoke: {}", out.stderr);
    let moh_srv = moh.serve(&bin);
    eventually("the central ingests the revocation", || async {
        mirrored(&http, &central).await == 7
    })
    .await;
    eventually("a revoked-key incident naming the records to review", || async {
        incidents(&http, &central, "bo-y-te").await.unwrap_or_default().iter().any(|i| {
            i["code"] == "revoked-key"
                && i["evidence"]["records"] == serde_json::json!([1, 2, 3])
                && i["evidence"]["count"] == 3
                && i["evidence"]["kid"] == old_kid.as_str()
        })
    })
    .await;

    assert!(moh_srv.terminate(), "moh stops cleanly");
    assert!(gov2_srv.terminate(), "the new central stops cleanly");
    assert!(central_srv.terminate(), "the central stops cleanly");
}

/// `portal key revoke`: a retired key revoked from an index. A verifier that follows the log
/// learns it from the key event; one that starts from the node's descriptor grants (which now
/// carry `revoked_from`) refuses what the key signed from that index on.
#[test]
fn a_revoked_key_invalidates_what_it_signed_from_the_index_on() {
    let bin = portal_bin();
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("moh");
    let d = data.to_str().expect("utf-8");
    let args = InitArgs::new("bo-y-te", "Bộ Y tế", "http://127.0.0.1:9");
    let old = init(&bin, &data, &args).expect("init").key;
    let draft = tmp.path().join("draft.json");
    std::fs::write(&draft, r#"{"kind": "news", "language": "vi", "title": "Tin"}"#).expect("w");
    let draft = draft.to_str().expect("utf-8");
    for _ in 0..2 {
        let out = portal(&bin, &["publish", "--data", d, draft]);
        assert!(out.ok(), "publish: {}", out.stderr);
    }
    let out = portal(&bin, &["key", "rotate", "--data", d]);
    assert!(out.ok(), "rotate: {}", out.stderr);
    let kid = old.key_id().to_string();
    let out = portal(
        &bin,
        &["key", "revoke", "--data", d, &kid, "--from-index", "1", "--reason", "Khóa cũ bị lộ"],
    );
    assert!(out.ok(), "revoke: {}", out.stderr);
    let history: Vec<KeyGrant> =
        serde_json::from_slice(&std::fs::read(data.join("keys/history.json")).expect("history"))
            .expect("json");
    assert_eq!(history[0].revoked_from, Some(1));
    // The current key cannot be revoked.
    let current = history[1].kid.to_string();
    let out = portal(
        &bin,
        &["key", "revoke", "--data", d, &current, "--from-index", "0", "--reason", "x"],
    );
    assert!(!out.ok() && out.stderr.contains("is the current key"), "{}", out.stderr);

    let store = portal_store::Store::open(&data.join("store")).expect("store");
    let log = store.entries(0, 100).expect("entries");
    assert_eq!(log.len(), 4, "two items, the rotation, the revocation");
    let id = node("bo-y-te");
    let mut follower = LogVerifier::new(id.clone(), vec![KeyGrant::pinned(old.clone())]);
    for s in &log {
        follower.push(s).expect("the log verifies in order");
    }
    assert_eq!(follower.grants()[0].revoked_from, Some(1), "learned from the key event");
    let mut fresh = LogVerifier::new(id, history);
    fresh.push(&log[0]).expect("index 0 is before the revocation");
    let e = fresh.push(&log[1]).expect_err("index 1 was signed by the revoked key");
    assert_eq!(e.code(), "revoked-key");
}
