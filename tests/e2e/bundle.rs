//! Evidence bundles end to end (SPEC.md §11.4): a ministry node and a central node as real
//! `portal serve` processes; `portal bundle` from each; then, with both stopped (no network),
//! `portal verify` on the saved files, trusted and self-certified, and on tampered copies, each
//! rejected with its §11.3 code and exit 1.

use std::path::Path;
use std::process::Command;

use portal_proto::checkpoint::SignedNote;
use portal_proto::crypto::{Signer, decode_base64, encode_base64};
use portal_proto::envelope::{SignedRecord, signing_input};
use portal_proto::jcs;
use portal_proto::record::RecordType;
use serde_json::{Value, json};

use crate::federation::{client, eventually, get_json, init, publish};
use crate::node::{Server, portal, portal_bin};

/// Run `portal`; (exit code, stdout, stderr).
fn run(bin: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin).args(args).env("RUST_LOG", "warn").output().expect("portal runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("bundle file")).expect("bundle JSON")
}

fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(v).expect("JSON")).expect("write");
}

/// Flip the last bit of the first signature line named `key_name` of a signed note.
fn flip_note_signature(note: &str, key_name: &str) -> String {
    let mut parsed = SignedNote::parse(note).expect("note");
    let sig = parsed.signatures.iter_mut().find(|s| s.name == key_name).expect("line");
    let last = sig.signature.len() - 1;
    sig.signature[last] ^= 0x01;
    parsed.format()
}

/// Expect `portal verify` to reject `file` with `code` and exit 1.
fn rejects(bin: &Path, file: &Path, trust: &[&str], code: &str, what: &str) {
    let mut args = vec!["verify", file.to_str().expect("utf-8")];
    for t in trust {
        args.extend(["--trust", t]);
    }
    let (exit, out, err) = run(bin, &args);
    assert_eq!(exit, 1, "{what}: exit 1 expected\n{out}{err}");
    assert!(out.contains(&format!("REJECTED [{code}]")), "{what}: expected [{code}]\n{out}{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_bundles_are_saved_from_a_node_and_the_central_and_verify_offline() {
    let bin = tokio::task::spawn_blocking(portal_bin).await.expect("build");
    let tmp = tempfile::tempdir().expect("tempdir");
    let http = client();
    let dir = |name: &str| tmp.path().join(name);
    let file = |name: &str| tmp.path().join(name);
    let moh = init(&bin, &dir("moh"), "bo-y-te", "Bộ Y tế");
    let gov = init(&bin, &dir("gov"), "chinh-phu", "Chính phủ");
    let moh_srv = Server::start_at_url(&bin, &dir("moh"));
    let gov_srv = Server::start_at_url(&bin, &dir("gov"));
    let gov_data = dir("gov");
    let (ok, _, err) = portal(
        &bin,
        &[
            "member",
            "add",
            "--data",
            gov_data.to_str().expect("utf-8"),
            &moh.url,
            "--pin",
            &moh.key.to_base64(),
        ],
    );
    assert!(ok, "member add: {err}");

    // ---- a corrected item (2 versions) and a withdrawn one
    let a = publish(&http, &moh, "Bộ Y tế công bố lịch tiêm chủng").await;
    let a_id = a["id"].as_str().expect("id").to_owned();
    let corrected = http
        .post(format!("{}/api/v1/items", moh.url))
        .bearer_auth(&moh.token)
        .json(&json!({"id": a_id, "kind": "news", "language": "vi",
                      "title": "Bộ Y tế công bố lịch tiêm chủng (sửa đổi)", "summary": "Tóm tắt",
                      "content_html": "<p>Nội dung đã sửa</p>", "categories": ["y-te"],
                      "update": {"note": "Sửa ngày tiêm"}}))
        .send()
        .await
        .expect("correct");
    assert_eq!(corrected.status(), 201);
    let b = publish(&http, &moh, "Thông báo tạm ngừng tiếp nhận hồ sơ").await;
    let b_id = b["id"].as_str().expect("id").to_owned();
    let withdrawn = http
        .post(format!("{}/api/v1/items/{b_id}/withdraw", moh.url))
        .bearer_auth(&moh.token)
        .json(&json!({"explanation": "Thông báo đã hết hiệu lực"}))
        .send()
        .await
        .expect("withdraw");
    assert!(withdrawn.status().is_success(), "withdraw: {}", withdrawn.status());
    let witness = format!("{}/api/v1/members/bo-y-te/checkpoint", gov.url);
    eventually("the central has verified and cosigned all 4 entries", || async {
        let Ok(resp) = http.get(&witness).send().await else { return false };
        let note = resp.text().await.unwrap_or_default();
        note.lines().nth(1) == Some("4") && note.contains("— ipsp/1/chinh-phu ")
    })
    .await;

    // ---- the endpoints
    let resp =
        http.get(format!("{}/api/v1/items/{a_id}/bundle", moh.url)).send().await.expect("bundle");
    assert_eq!(resp.status(), 200);
    let header = |name: &str| {
        resp.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    };
    assert!(header("content-type").starts_with("application/json"));
    assert_eq!(header("content-disposition"), format!("attachment; filename=\"{a_id}.bundle\""));
    let unknown = http
        .get(format!("{}/api/v1/items/aaaaaaaaaaaaaaaaaaaaaaaaaa/bundle", moh.url))
        .send()
        .await
        .expect("404");
    assert_eq!(unknown.status(), 404);
    let body: Value = unknown.json().await.expect("JSON error");
    assert_eq!(body["error"]["code"], "not-found");
    let national =
        get_json(&http, &format!("{}/api/v1/national/items/{b_id}/bundle", gov.url)).await;
    assert_eq!(national["witness"]["origin"], "chinh-phu", "one holder: ?member may be omitted");
    let not_agg = http
        .get(format!("{}/api/v1/national/items/{b_id}/bundle?member=bo-y-te", moh.url))
        .send()
        .await
        .expect("not an aggregator");
    assert_eq!(not_agg.status(), 404);

    // ---- portal bundle, from the node's page, its API, and the central
    let moh_key = moh.key.to_base64();
    let moh_trust = format!("bo-y-te={moh_key}");
    let gov_trust = format!("chinh-phu={}", gov.key.to_base64());
    let a_file = file("a.bundle");
    let a_path = a_file.to_str().expect("utf-8");
    let (exit, _, err) = run(
        &bin,
        &[
            "bundle",
            &format!("{}/items/{a_id}", moh.url),
            "-o",
            a_path,
            "--allow-private",
            "--trust",
            &moh_key,
        ],
    );
    assert_eq!(exit, 0, "portal bundle from the item page: {err}");
    assert!(err.contains("VERIFIED") && err.contains("version 2"), "{err}");
    let (exit, stdout, err) =
        run(&bin, &["bundle", &format!("{}/api/v1/items/{b_id}", moh.url), "--allow-private"]);
    assert_eq!(exit, 0, "portal bundle to stdout: {err}");
    assert!(err.contains("NO TRUSTED KEY"), "without --trust it says so: {err}");
    let b_node = file("b-node.bundle");
    std::fs::write(&b_node, &stdout).expect("save");
    let b_central = file("b-central.bundle");
    let a_central = file("a-central.bundle");
    for (id, out) in [(&b_id, &b_central), (&a_id, &a_central)] {
        let (exit, _, err) = run(
            &bin,
            &[
                "bundle",
                &format!("{}/api/v1/national/items/{id}?member=bo-y-te", gov.url),
                "-o",
                out.to_str().expect("utf-8"),
                "--allow-private",
                "--trust",
                &gov_trust,
            ],
        );
        assert_eq!(exit, 0, "portal bundle from the central: {err}");
        assert!(err.contains("cosigned by witness chinh-phu"), "{err}");
    }
    let (exit, _, err) = run(&bin, &["bundle", &format!("{}/items/{a_id}", moh.url), "-o", a_path]);
    assert_eq!(exit, 3, "loopback is refused without --allow-private: {err}");

    // ---- the network goes away
    assert!(moh_srv.terminate() && gov_srv.terminate(), "both nodes stop cleanly");
    assert!(http.get(&witness).send().await.is_err(), "the central is gone");

    // ---- offline verification
    let (exit, out, err) = run(&bin, &["verify", a_path, "--trust", &moh_key]);
    assert_eq!(exit, 0, "{out}{err}");
    assert!(out.contains("VERIFIED") && out.contains("version 1") && out.contains("version 2"));
    assert!(out.contains("no witness cosignature"), "{out}");
    let (exit, out, err) =
        run(&bin, &["verify", b_node.to_str().expect("utf-8"), "--trust", &moh_trust, "--json"]);
    assert_eq!(exit, 0, "{out}{err}");
    let report: Value = serde_json::from_str(&out).expect("JSON report");
    assert_eq!(report["result"], "valid");
    assert_eq!(report["withdrawn"], true);
    assert_eq!(report["entries"].as_array().map(Vec::len), Some(2));
    assert_eq!(report["trust"], "trusted");
    let (exit, out, err) =
        run(&bin, &["verify", b_central.to_str().expect("utf-8"), "--trust", &gov_trust]);
    assert_eq!(exit, 0, "{out}{err}");
    assert!(out.contains("cosigned by witness chinh-phu") && out.contains("trusted witness"));
    let (exit, out, err) = run(&bin, &["verify", a_central.to_str().expect("utf-8")]);
    assert_eq!(exit, 0, "no trust still verifies, self-certified: {out}{err}");
    assert!(out.contains("NO TRUSTED KEY"), "{out}");
    assert!(out.contains(&moh.key.key_id().to_string()), "names the key id: {out}");

    // ---- tampering, each rejected with its code
    let a_json = read_json(&a_file);
    let bad = file("bad.bundle");
    let mut v = a_json.clone();
    let record = decode_base64(v["entries"][1]["record"].as_str().expect("record")).expect("b64");
    let edited = String::from_utf8(record).expect("utf-8").replacen("sửa đổi", "sửa chữa", 1);
    v["entries"][1]["record"] = json!(encode_base64(edited.as_bytes()));
    write_json(&bad, &v);
    rejects(&bin, &bad, &[&moh_key], "bad-signature", "an altered record byte");

    let mut v = a_json.clone();
    let mut hash =
        decode_base64(v["entries"][0]["proof"][0].as_str().expect("proof")).expect("b64");
    hash[0] ^= 0x01;
    v["entries"][0]["proof"][0] = json!(encode_base64(&hash));
    write_json(&bad, &v);
    rejects(&bin, &bad, &[&moh_key], "inconsistent-checkpoint", "a wrong proof hash");

    let mut v = a_json.clone();
    let note = v["checkpoint"].as_str().expect("note").to_owned();
    v["checkpoint"] = json!(flip_note_signature(&note, "ipsp/1/bo-y-te"));
    write_json(&bad, &v);
    rejects(&bin, &bad, &[&moh_key], "bad-signature", "an altered checkpoint signature");

    let mut v = read_json(&b_central);
    let note = v["checkpoint"].as_str().expect("note").to_owned();
    v["checkpoint"] = json!(flip_note_signature(&note, "ipsp/1/chinh-phu"));
    write_json(&bad, &v);
    rejects(&bin, &bad, &[&gov_trust], "bad-signature", "an altered cosignature");
    rejects(&bin, &bad, &[], "bad-signature", "an altered cosignature, self-certified witness");

    rejects(&bin, &a_file, &[&gov_trust.replace("chinh-phu", "bo-y-te")], "unknown-key", "trust");

    // The central revokes the ministry's key from index 1 in a new roster (a compromise):
    // version 2 (index 1) was signed by a key no longer valid there.
    let roster_env = read_json(&b_central)["key_history"]["roster"].clone();
    let mut roster: Value = serde_json::from_slice(
        &decode_base64(roster_env["record"].as_str().expect("record")).expect("b64"),
    )
    .expect("roster JSON");
    roster["serial"] = json!(roster["serial"].as_u64().expect("serial") + 1);
    roster["members"][0]["keys"][0]["revoked_from"] = json!(1);
    let bytes = jcs::to_canonical_vec(&roster).expect("canonical");
    let seed_hex = std::fs::read_to_string(gov_data.join("keys/node.key")).expect("seed");
    let seed: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&seed_hex.trim()[2 * i..2 * i + 2], 16).expect("hex"))
        .collect();
    let gov_signer = Signer::from_seed(seed.try_into().expect("32 bytes"));
    let sig = gov_signer.sign(&signing_input(RecordType::Roster, &bytes));
    let revoking = SignedRecord::from_parts(bytes, gov_signer.public_key().key_id(), sig);
    let roster_file = file("revoking-roster.json");
    std::fs::write(&roster_file, revoking.to_json()).expect("roster file");
    let roster_path = roster_file.to_str().expect("utf-8");
    rejects(&bin, &a_file, &[roster_path, &gov_trust], "revoked-key", "key not valid at index");

    // ---- not a bundle (2), unreadable (3)
    let not_bundle = file("not-a-bundle.json");
    std::fs::write(&not_bundle, "{\"hello\": 1}").expect("write");
    let (exit, _, _) = run(&bin, &["verify", not_bundle.to_str().expect("utf-8")]);
    assert_eq!(exit, 2);
    // A path that names no file is a usage error for `portal verify` (2); 3 is for input that
    // exists but cannot be fetched or read.
    let (exit, _, _) = run(&bin, &["verify", file("missing.bundle").to_str().expect("utf-8")]);
    assert_eq!(exit, 2);
}
