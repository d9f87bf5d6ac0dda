//! Key rotation (SPEC.md §4.3, §13): `portal key rotate` on a stopped node logs a `rotate` key
//! event signed by the old key; the node then signs with the new key. A third party holding
//! only the old key verifies the whole log, and a central node following the ministry learns
//! the new key from the log itself, with no re-pinning and no incident. A central that joins
//! after the rotation pins the descriptor's grants and verifies the same log.

use std::time::{SystemTime, UNIX_EPOCH};

use portal_proto::crypto::PublicKey;
use portal_proto::envelope::SignedRecord;
use portal_proto::ids::NodeId;
use portal_proto::record::{Descriptor, KeyGrant};
use portal_proto::time::Timestamp;
use portal_proto::verifier::LogVerifier;
use serde_json::Value;

use crate::federation::{client, eventually, get_json, incidents, init, publish};
use crate::node::{Server, portal, portal_bin};

fn now() -> Timestamp {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs();
    Timestamp::from_unix(secs).expect("now")
}

async fn entries(http: &reqwest::Client, base: &str) -> Vec<SignedRecord> {
    let page = get_json(http, &format!("{base}/api/v1/log?after=0&limit=1000")).await;
    page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e.as_object_mut().expect("entry").remove("index");
            SignedRecord::from_json(e.to_string().as_bytes()).expect("envelope")
        })
        .collect()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ministry_rotates_its_key_and_verifiers_learn_it_from_the_log() {
    let bin = tokio::task::spawn_blocking(portal_bin).await.expect("build");
    let tmp = tempfile::tempdir().expect("tempdir");
    let http = client();
    let moh_data = tmp.path().join("moh");
    let gov_data = tmp.path().join("gov");
    let moh = init(&bin, &moh_data, "bo-y-te", "Bộ Y tế");
    init(&bin, &gov_data, "chinh-phu", "Chính phủ");
    let moh_s = moh_data.to_str().expect("utf-8").to_owned();
    let gov_s = gov_data.to_str().expect("utf-8");
    let moh_srv = Server::start_at_url(&bin, &moh_data);
    let central_srv = Server::start_at_url(&bin, &gov_data);
    let central = central_srv.base.clone();
    let (ok, _, err) =
        portal(&bin, &["member", "add", "--data", gov_s, &moh.url, "--pin", &moh.key.to_base64()]);
    assert!(ok, "member add: {err}");
    for i in 0..3 {
        publish(&http, &moh, &format!("Trước khi đổi khóa {i}")).await;
    }
    eventually("the central holds 3 entries", || async { mirrored(&http, &central).await == 3 })
        .await;

    // ---- never while the node runs
    let (ok, _, err) = portal(&bin, &["key", "rotate", "--data", &moh_s]);
    assert!(!ok && err.contains("the node is running"), "{err}");

    // ---- rotate on the stopped node
    assert!(moh_srv.terminate(), "moh stops");
    let (ok, out, err) =
        portal(&bin, &["key", "rotate", "--data", &moh_s, "--reason", "Luân chuyển khóa định kỳ"]);
    assert!(ok, "rotate: {err}");
    assert!(out.contains("rotated at log index 3"), "{out}");
    let new_key = out
        .lines()
        .find_map(|l| l.strip_prefix("new key:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .map(|k| PublicKey::from_base64(k).expect("new key"))
        .unwrap_or_else(|| panic!("no new key in {out}"));
    assert_ne!(new_key, moh.key);
    let retired = moh_data.join("keys/retired").join(format!("{}.key", moh.key.key_id()));
    assert!(retired.exists(), "the old seed is kept at {}", retired.display());

    let moh_srv = Server::start_at_url(&bin, &moh_data);
    // The descriptor is signed by the new key and lists both grants.
    let body = http
        .get(format!("{}/.well-known/portal-node", moh.url))
        .send()
        .await
        .expect("descriptor")
        .bytes()
        .await
        .expect("bytes");
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
    // The checkpoint right after the rotation covers index 3: signed by the old key.
    let third_party = || {
        LogVerifier::new(
            NodeId::new("bo-y-te").expect("id"),
            vec![KeyGrant::pinned(moh.key.clone())],
        )
    };
    let mut v = third_party();
    for s in entries(&http, &moh.url).await {
        v.push(&s).expect("every entry verifies with the old key alone");
    }
    let note = get_json(&http, &format!("{}/api/v1/log?after=4", moh.url)).await;
    v.push_checkpoint(note["checkpoint"].as_str().expect("note"), now(), None)
        .expect("the checkpoint after the rotation verifies");

    // ---- the node signs with the new key from index 4
    for i in 0..2 {
        let p = publish(&http, &moh, &format!("Sau khi đổi khóa {i}")).await;
        assert_eq!(p["log_index"], 4 + i);
    }
    let all = entries(&http, &moh.url).await;
    assert_eq!(all.len(), 6);
    assert_eq!(all[5].kid(), &new_key.key_id());
    let mut v = third_party();
    for s in &all {
        v.push(s).expect("a fresh third party verifies the whole log from the old key");
    }
    let page = get_json(&http, &format!("{}/api/v1/log?after=6", moh.url)).await;
    v.push_checkpoint(page["checkpoint"].as_str().expect("note"), now(), None)
        .expect("the newest checkpoint, signed by the new key");
    assert!(v.grants().iter().any(|g| g.public_key == new_key && g.from_index == 4));

    // ---- the central learned the new key from the log: everything ingested, no incident
    eventually("the central ingests past the rotation", || async {
        mirrored(&http, &central).await == 6
    })
    .await;
    assert_eq!(incidents(&http, &central, "bo-y-te").await, Vec::<Value>::new());

    // ---- a central joining after the rotation pins the descriptor's grants
    let gov2_data = tmp.path().join("gov2");
    init(&bin, &gov2_data, "chinh-phu-moi", "Chính phủ (mới)");
    let gov2_srv = Server::start_at_url(&bin, &gov2_data);
    let gov2 = gov2_srv.base.clone();
    let (ok, _, err) = portal(
        &bin,
        &[
            "member",
            "add",
            "--data",
            gov2_data.to_str().expect("utf-8"),
            &moh.url,
            "--pin",
            &new_key.to_base64(),
        ],
    );
    assert!(ok, "member add after the rotation: {err}");
    eventually("the new central follows the whole log", || async {
        mirrored(&http, &gov2).await == 6
    })
    .await;
    assert_eq!(incidents(&http, &gov2, "bo-y-te").await, Vec::<Value>::new());

    // ---- a retroactive revocation: the old key is revoked from index 1, so the records it
    // signed at 1, 2 and 3, accepted long ago, are invalid; the central re-examines them
    assert!(moh_srv.terminate(), "moh stops for the revocation");
    let old_kid = moh.key.key_id().to_string();
    let (ok, _, err) = portal(
        &bin,
        &["key", "revoke", "--data", &moh_s, &old_kid, "--from-index", "1", "--reason", "Lộ khóa"],
    );
    assert!(ok, "revoke: {err}");
    let moh_srv = Server::start_at_url(&bin, &moh_data);
    eventually("the central ingests the revocation", || async {
        mirrored(&http, &central).await == 7
    })
    .await;
    eventually("a revoked-key incident naming the records to review", || async {
        incidents(&http, &central, "bo-y-te").await.iter().any(|i| {
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
    let (ok, out, err) = portal(
        &bin,
        &[
            "init",
            "--data",
            d,
            "--id",
            "bo-y-te",
            "--name",
            "Bộ Y tế",
            "--url",
            "http://127.0.0.1:9",
        ],
    );
    assert!(ok, "init: {err}");
    let old = PublicKey::from_base64(&crate::node::init_field(&out, "public key:")).expect("key");
    let draft = tmp.path().join("draft.json");
    std::fs::write(&draft, r#"{"kind": "news", "language": "vi", "title": "Tin"}"#).expect("w");
    let draft = draft.to_str().expect("utf-8");
    for _ in 0..2 {
        let (ok, _, err) = portal(&bin, &["publish", "--data", d, draft]);
        assert!(ok, "publish: {err}");
    }
    let (ok, _, err) = portal(&bin, &["key", "rotate", "--data", d]);
    assert!(ok, "rotate: {err}");
    let kid = old.key_id().to_string();
    let (ok, _, err) = portal(
        &bin,
        &["key", "revoke", "--data", d, &kid, "--from-index", "1", "--reason", "Khóa cũ bị lộ"],
    );
    assert!(ok, "revoke: {err}");
    let history: Vec<KeyGrant> =
        serde_json::from_slice(&std::fs::read(data.join("keys/history.json")).expect("history"))
            .expect("json");
    assert_eq!(history[0].revoked_from, Some(1));
    // The current key cannot be revoked.
    let current = history[1].kid.to_string();
    let (ok, _, err) = portal(
        &bin,
        &["key", "revoke", "--data", d, &current, "--from-index", "0", "--reason", "x"],
    );
    assert!(!ok && err.contains("is the current key"), "{err}");

    let store = portal_store::Store::open(&data.join("store")).expect("store");
    let log = store.entries(0, 100).expect("entries");
    assert_eq!(log.len(), 4, "two items, the rotation, the revocation");
    let id = NodeId::new("bo-y-te").expect("id");
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
