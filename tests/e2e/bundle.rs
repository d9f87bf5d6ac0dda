//! Evidence bundles end to end (SPEC.md §11.4): a ministry node and a central node as real
//! `portal serve` processes; `portal bundle` from each; then, with both stopped (no network),
//! `portal verify` on the saved files, trusted and self-certified, and on tampered copies, each
//! rejected with its §11.3 code and exit 1.

use std::path::{Path, PathBuf};

use portal_proto::crypto::{decode_base64, encode_base64};
use portal_proto::jcs;
use portal_proto::record::RecordType;
use portal_tests::api::{client, get_json, news_draft, post_json};
use portal_tests::fixtures::{TestKey, flip_note_signature, sign_raw};
use portal_tests::harness::{Federation, NodeDir, bin_and_tmp, portal, portal_bin};
use portal_tests::wait::eventually;
use serde_json::{Value, json};

/// Run `portal`; (exit code, stdout, stderr).
fn run(bin: &Path, args: &[&str]) -> (i32, String, String) {
    let out = portal(bin, args);
    (out.code, out.stdout, out.stderr)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("bundle file")).expect("bundle JSON")
}

fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(v).expect("JSON")).expect("write");
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

/// A ministry and the central, online, with a corrected item A (2 versions) and a withdrawn
/// item B, all 4 entries verified and cosigned by the central.
struct Evidence {
    f: Federation,
    tmp: tempfile::TempDir,
    http: reqwest::Client,
    a_id: String,
    b_id: String,
}

/// The bundles `portal bundle` saved while the nodes ran.
struct Saved {
    a: PathBuf,
    b_node: PathBuf,
    b_central: PathBuf,
    a_central: PathBuf,
}

impl Evidence {
    async fn online() -> Evidence {
        let (bin, tmp) = bin_and_tmp().await;
        let f = Federation::start(&bin, tmp.path(), &[("bo-y-te", "Bộ Y tế")]).expect("start");
        let http = client();
        let moh = &f.members[0];
        let items = format!("{}/api/v1/items", moh.url);
        let publish = |title: &'static str| {
            let http = http.clone();
            let (url, token) = (moh.url.clone(), moh.token.clone());
            async move {
                portal_tests::api::publish(&http, &url, &token, &news_draft(title))
                    .await
                    .expect("publish")
            }
        };
        let a = publish("Bộ Y tế công bố lịch tiêm chủng").await;
        let a_id = a["id"].as_str().expect("id").to_owned();
        let correction = json!({"id": a_id, "kind": "news", "language": "vi",
                      "title": "Bộ Y tế công bố lịch tiêm chủng (sửa đổi)", "summary": "Tóm tắt",
                      "content_html": "<p>Nội dung đã sửa</p>", "categories": ["y-te"],
                      "update": {"note": "Sửa ngày tiêm"}});
        let (status, _) = post_json(&http, &items, &moh.token, &correction).await.expect("correct");
        assert_eq!(status, 201);
        let b = publish("Thông báo tạm ngừng tiếp nhận hồ sơ").await;
        let b_id = b["id"].as_str().expect("id").to_owned();
        let withdraw = format!("{items}/{b_id}/withdraw");
        let explanation = json!({"explanation": "Thông báo đã hết hiệu lực"});
        let (status, _) =
            post_json(&http, &withdraw, &moh.token, &explanation).await.expect("withdraw");
        assert!((200..300).contains(&status), "withdraw: {status}");
        let e = Evidence { f, tmp, http, a_id, b_id };
        let witness = e.witness();
        eventually("the central has verified and cosigned all 4 entries", || async {
            let Ok(resp) = e.http.get(&witness).send().await else { return false };
            let note = resp.text().await.unwrap_or_default();
            note.lines().nth(1) == Some("4") && note.contains("— ipsp/1/chinh-phu ")
        })
        .await;
        e
    }

    fn moh(&self) -> &NodeDir {
        &self.f.members[0]
    }

    fn witness(&self) -> String {
        format!("{}/api/v1/members/bo-y-te/checkpoint", self.f.central.url)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// `portal bundle` from the node's page (trusted), its API (to stdout, no trust), and the
    /// central (for both items); and the loopback refusal without `--allow-private`.
    fn save(&self) -> Saved {
        let (bin, moh, gov) = (&self.f.bin, self.moh(), &self.f.central);
        let saved = Saved {
            a: self.file("a.bundle"),
            b_node: self.file("b-node.bundle"),
            b_central: self.file("b-central.bundle"),
            a_central: self.file("a-central.bundle"),
        };
        let (a_id, b_id) = (&self.a_id, &self.b_id);
        let a_path = saved.a.to_str().expect("utf-8");
        let moh_key = moh.key.to_base64();
        let page = format!("{}/items/{a_id}", moh.url);
        let (exit, _, err) =
            run(bin, &["bundle", &page, "-o", a_path, "--allow-private", "--trust", &moh_key]);
        assert_eq!(exit, 0, "portal bundle from the item page: {err}");
        assert!(err.contains("VERIFIED") && err.contains("version 2"), "{err}");
        let api = format!("{}/api/v1/items/{b_id}", moh.url);
        let (exit, stdout, err) = run(bin, &["bundle", &api, "--allow-private"]);
        assert_eq!(exit, 0, "portal bundle to stdout: {err}");
        assert!(err.contains("NO TRUSTED KEY"), "without --trust it says so: {err}");
        std::fs::write(&saved.b_node, &stdout).expect("save");
        for (id, out) in [(b_id, &saved.b_central), (a_id, &saved.a_central)] {
            let url = format!("{}/api/v1/national/items/{id}?member=bo-y-te", gov.url);
            let out = out.to_str().expect("utf-8");
            let trust = gov.trust_arg();
            let (exit, _, err) =
                run(bin, &["bundle", &url, "-o", out, "--allow-private", "--trust", &trust]);
            assert_eq!(exit, 0, "portal bundle from the central: {err}");
            assert!(err.contains("cosigned by witness chinh-phu"), "{err}");
        }
        let (exit, _, err) = run(bin, &["bundle", &page, "-o", a_path]);
        assert_eq!(exit, 3, "loopback is refused without --allow-private: {err}");
        saved
    }

    /// The network goes away: both nodes stop cleanly.
    async fn go_offline(&mut self) {
        assert!(self.f.stop("bo-y-te") && self.f.stop("chinh-phu"), "both nodes stop cleanly");
        assert!(self.http.get(self.witness()).send().await.is_err(), "the central is gone");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_and_the_central_serve_evidence_bundles() {
    let e = Evidence::online().await;
    let (moh, gov, a_id, b_id) = (e.moh(), &e.f.central, &e.a_id, &e.b_id);
    let resp =
        e.http.get(format!("{}/api/v1/items/{a_id}/bundle", moh.url)).send().await.expect("bundle");
    assert_eq!(resp.status(), 200);
    let header = |name: &str| {
        resp.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    };
    assert!(header("content-type").starts_with("application/json"));
    assert_eq!(header("content-disposition"), format!("attachment; filename=\"{a_id}.bundle\""));
    let get = |url: String| {
        let http = e.http.clone();
        async move { http.get(url).send().await.expect("GET") }
    };
    let unknown = get(format!("{}/api/v1/items/aaaaaaaaaaaaaaaaaaaaaaaaaa/bundle", moh.url)).await;
    assert_eq!(unknown.status(), 404);
    let body: Value = unknown.json().await.expect("JSON error");
    assert_eq!(body["error"]["code"], "not-found");
    let national = get_json(&e.http, &format!("{}/api/v1/national/items/{b_id}/bundle", gov.url))
        .await
        .expect("national bundle");
    assert_eq!(national["witness"]["origin"], "chinh-phu", "one holder: ?member may be omitted");
    let not_agg =
        get(format!("{}/api/v1/national/items/{b_id}/bundle?member=bo-y-te", moh.url)).await;
    assert_eq!(not_agg.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_saved_by_portal_bundle_verify_offline_trusted_or_self_certified() {
    let mut e = Evidence::online().await;
    let saved = e.save();
    e.go_offline().await;
    let (bin, moh) = (&e.f.bin, e.moh());
    let (moh_key, moh_trust, gov_trust) =
        (moh.key.to_base64(), moh.trust_arg(), e.f.central.trust_arg());
    let (exit, out, err) =
        run(bin, &["verify", saved.a.to_str().expect("utf-8"), "--trust", &moh_key]);
    assert_eq!(exit, 0, "{out}{err}");
    assert!(out.contains("VERIFIED") && out.contains("version 1") && out.contains("version 2"));
    assert!(out.contains("no witness cosignature"), "{out}");
    let b_node = saved.b_node.to_str().expect("utf-8");
    let (exit, out, err) = run(bin, &["verify", b_node, "--trust", &moh_trust, "--json"]);
    assert_eq!(exit, 0, "{out}{err}");
    let report: Value = serde_json::from_str(&out).expect("JSON report");
    assert_eq!(report["result"], "valid");
    assert_eq!(report["withdrawn"], true);
    assert_eq!(report["entries"].as_array().map(Vec::len), Some(2));
    assert_eq!(report["trust"], "trusted");
    let b_central = saved.b_central.to_str().expect("utf-8");
    let (exit, out, err) = run(bin, &["verify", b_central, "--trust", &gov_trust]);
    assert_eq!(exit, 0, "{out}{err}");
    assert!(out.contains("cosigned by witness chinh-phu") && out.contains("trusted witness"));
    let (exit, out, err) = run(bin, &["verify", saved.a_central.to_str().expect("utf-8")]);
    assert_eq!(exit, 0, "no trust still verifies, self-certified: {out}{err}");
    assert!(out.contains("NO TRUSTED KEY"), "{out}");
    assert!(out.contains(&moh.key.key_id().to_string()), "names the key id: {out}");
}

/// The central's roster in `bundle`, serial + 1, with the ministry's key revoked from index 1
/// (a compromise), signed with the central's own key (read from its data directory).
fn revoking_roster(gov: &NodeDir, bundle: &Path) -> String {
    let roster_env = read_json(bundle)["key_history"]["roster"].clone();
    let mut roster: Value = serde_json::from_slice(
        &decode_base64(roster_env["record"].as_str().expect("record")).expect("b64"),
    )
    .expect("roster JSON");
    roster["serial"] = json!(roster["serial"].as_u64().expect("serial") + 1);
    roster["members"][0]["keys"][0]["revoked_from"] = json!(1);
    let bytes = jcs::to_canonical_vec(&roster).expect("canonical");
    let key = TestKey { name: "the central's key", seed: gov.seed().expect("the central's seed") };
    sign_raw(RecordType::Roster, bytes, &key).to_json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_bundles_are_rejected_each_with_its_code() {
    let mut e = Evidence::online().await;
    let saved = e.save();
    e.go_offline().await;
    let (bin, moh_key, gov_trust) = (&e.f.bin, e.moh().key.to_base64(), e.f.central.trust_arg());
    let a_json = read_json(&saved.a);
    let bad = e.file("bad.bundle");
    let mut v = a_json.clone();
    let record = decode_base64(v["entries"][1]["record"].as_str().expect("record")).expect("b64");
    let edited = String::from_utf8(record).expect("utf-8").replacen("sửa đổi", "sửa chữa", 1);
    v["entries"][1]["record"] = json!(encode_base64(edited.as_bytes()));
    write_json(&bad, &v);
    rejects(bin, &bad, &[&moh_key], "bad-signature", "an altered record byte");

    let mut v = a_json.clone();
    let mut hash =
        decode_base64(v["entries"][0]["proof"][0].as_str().expect("proof")).expect("b64");
    hash[0] ^= 0x01;
    v["entries"][0]["proof"][0] = json!(encode_base64(&hash));
    write_json(&bad, &v);
    rejects(bin, &bad, &[&moh_key], "inconsistent-checkpoint", "a wrong proof hash");

    let mut v = a_json.clone();
    let note = v["checkpoint"].as_str().expect("note").to_owned();
    v["checkpoint"] = json!(flip_note_signature(&note, "ipsp/1/bo-y-te", 0));
    write_json(&bad, &v);
    rejects(bin, &bad, &[&moh_key], "bad-signature", "an altered checkpoint signature");

    let mut v = read_json(&saved.b_central);
    let note = v["checkpoint"].as_str().expect("note").to_owned();
    v["checkpoint"] = json!(flip_note_signature(&note, "ipsp/1/chinh-phu", 0));
    write_json(&bad, &v);
    rejects(bin, &bad, &[&gov_trust], "bad-signature", "an altered cosignature");
    rejects(bin, &bad, &[], "bad-signature", "an altered cosignature, self-certified witness");

    rejects(bin, &saved.a, &[&gov_trust.replace("chinh-phu", "bo-y-te")], "unknown-key", "trust");

    // Version 2 (index 1) was signed by a key no longer valid there.
    let roster_file = e.file("revoking-roster.json");
    std::fs::write(&roster_file, revoking_roster(&e.f.central, &saved.b_central)).expect("roster");
    let roster_path = roster_file.to_str().expect("utf-8");
    rejects(bin, &saved.a, &[roster_path, &gov_trust], "revoked-key", "key not valid at index");
}

#[test]
fn input_that_is_not_a_bundle_or_names_no_file_is_a_usage_error() {
    let bin = portal_bin();
    let tmp = tempfile::tempdir().expect("tempdir");
    let not_bundle = tmp.path().join("not-a-bundle.json");
    std::fs::write(&not_bundle, "{\"hello\": 1}").expect("write");
    let (exit, _, _) = run(&bin, &["verify", not_bundle.to_str().expect("utf-8")]);
    assert_eq!(exit, 2);
    // A path that names no file is a usage error for `portal verify` (2); 3 is for input that
    // exists but cannot be fetched or read.
    let missing = tmp.path().join("missing.bundle");
    let (exit, _, _) = run(&bin, &["verify", missing.to_str().expect("utf-8")]);
    assert_eq!(exit, 2);
}
