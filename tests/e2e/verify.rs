//! `portal verify` as a third party runs it, against real processes on 127.0.0.1: a ministry
//! node's log, feeds and item; a central node's national feed and log; and tampered copies of
//! every invalid vector kind (records, log entries, checkpoints, Atom and JSON feeds) served
//! over HTTP by a small test server, each rejected with its SPEC §11.3 code and exit 1. Also
//! the exit codes 2 (bad arguments, unrecognised input) and 3 (unreachable, 404), and `--json`
//! agreeing with the lines for people.

use std::collections::BTreeMap;
use std::path::Path;

use portal_proto::envelope;
use portal_tests::api::{client, get_bytes, national_feed, news_draft};
use portal_tests::fake::{FakeServer, Reply, Request};
use portal_tests::fixtures::{self, MOH};
use portal_tests::harness::{Federation, bin_and_tmp, free_port, portal_bin, portal_logging};
use portal_tests::wait::eventually;
use serde_json::{Value, json};

/// `portal verify ARGS` → (exit code, stdout, stderr).
fn verify(bin: &Path, args: &[&str]) -> (i32, String, String) {
    let mut argv = vec!["verify"];
    argv.extend(args);
    let out = portal_logging(bin, &argv, "error");
    (out.code, out.stdout, out.stderr)
}

/// `portal verify --json ARGS`, parsed; also checks the document agrees with the human output
/// of the same command (same exit code, same entries and verdicts, same counts).
fn verify_both(bin: &Path, args: &[&str]) -> (i32, Value) {
    let (code, human, err) = verify(bin, args);
    let mut with_json = args.to_vec();
    with_json.push("--json");
    let (jcode, out, jerr) = verify(bin, &with_json);
    let doc: Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("--json prints one JSON document ({e}): {out}\n{jerr}"));
    assert_eq!(code, jcode, "same exit code with and without --json: {human}\n{err}");
    assert_eq!(doc["exit_code"], json!(code), "{doc}");
    let entries = doc["entries"].as_array().expect("entries");
    let verified = entries.iter().filter(|e| e["verdict"] == "ok").count();
    let rejected = entries.iter().filter(|e| e["verdict"] == "rejected").count();
    assert_eq!(doc["summary"]["verified"], json!(verified), "{doc}");
    assert_eq!(doc["summary"]["rejected"], json!(rejected), "{doc}");
    let summary = format!("{} entries: {verified} verified, {rejected} rejected", entries.len());
    assert!(human.contains(&summary), "human summary {summary:?} in:\n{human}");
    assert_eq!(human.matches("  ok\n").count(), verified, "{human}");
    for e in entries.iter().filter(|e| e["verdict"] == "rejected") {
        let code = e["code"].as_str().expect("a rejection has a code");
        assert!(human.contains(&format!("REJECTED {code}: ")), "{code} in:\n{human}");
    }
    (code, doc)
}

fn codes(doc: &Value) -> Vec<String> {
    let mut out: Vec<String> = doc["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["code"].as_str().map(str::to_owned))
        .collect();
    if let Some(c) = doc["error"]["code"].as_str() {
        out.push(c.to_owned());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_verify_accepts_what_a_node_and_a_central_serve() {
    let (bin, tmp) = bin_and_tmp().await;
    let http = client();
    let dir = |name: &str| tmp.path().join(name);
    let f = Federation::start(&bin, tmp.path(), &[("bo-y-te", "Bộ Y tế")]).expect("start");
    let (moh, gov) = (&f.members[0], &f.central);
    let pin = moh.key.to_base64();
    let (node, central) = (moh.url.clone(), gov.url.clone());
    let publish = |title: &'static str| {
        let http = http.clone();
        async move {
            portal_tests::api::publish(&http, &moh.url, &moh.token, &news_draft(title))
                .await
                .expect("publish")
        }
    };

    let first = publish("Bộ Y tế khuyến cáo phòng chống sốt xuất huyết").await;
    publish("Lịch tiêm chủng mở rộng").await;
    let id = first["id"].as_str().expect("id").to_owned();

    // The node: its whole log (TOFU, then with the key given), its feeds, an item.
    let (code, doc) = verify_both(&bin, &["--allow-private", &node]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["kind"], "log");
    assert_eq!(doc["trust"]["mode"], "trust-on-first-use", "{doc}");
    assert_eq!(doc["summary"]["verified"], 2);
    assert_eq!(doc["checkpoint"]["size"], 2);
    let (code, human, _) = verify(&bin, &["--allow-private", &node]);
    assert_eq!(code, 0);
    assert!(human.contains("trust on first use"), "the TOFU is said: {human}");
    let given = format!("bo-y-te={pin}");
    let (code, doc) = verify_both(&bin, &["--allow-private", "--trust", &given, &node]);
    assert_eq!((code, &doc["trust"]["mode"]), (0, &json!("given")), "{doc}");
    for path in ["/feeds/atom", "/feeds/json", &format!("/api/v1/items/{id}"), "/api/v1/log"] {
        let (code, doc) = verify_both(&bin, &["--allow-private", &format!("{node}{path}")]);
        assert_eq!(code, 0, "{path}: {doc}");
        assert!(doc["summary"]["verified"].as_u64() >= Some(1), "{path}: {doc}");
    }
    let (code, doc) =
        verify_both(&bin, &["--allow-private", "--all", &format!("{node}/feeds/json")]);
    assert_eq!((code, &doc["kind"]), (0, &json!("json-feed")), "{doc}");
    // The wrong key: every entry is rejected, by name.
    let other = format!("bo-y-te={}", gov.key.to_base64());
    let (code, doc) =
        verify_both(&bin, &["--allow-private", "--trust", &other, &format!("{node}/feeds/atom")]);
    assert_eq!(code, 1, "{doc}");
    assert_eq!(codes(&doc), vec!["unknown-key", "unknown-key"], "{doc}");

    // The central: its national feed and log, member entries against the ministry's key.
    eventually("both items in the national feed", || async {
        national_feed(&http, &central).await.is_ok_and(|f| f.entries.len() >= 2)
    })
    .await;
    let feed = format!("{central}/feeds/national/atom");
    let (code, doc) = verify_both(&bin, &["--allow-private", &feed]);
    assert_eq!(code, 0, "{doc}");
    assert!(doc["trust"]["roster"].as_str().is_some_and(|r| r.ends_with("/api/v1/roster")));
    assert_eq!(doc["summary"]["verified"], 2, "{doc}");
    // With the ministry's key alone: the central is not trusted for its members' entries.
    let (code, doc) = verify_both(&bin, &["--allow-private", "--trust", &given, &feed]);
    assert_eq!(code, 0, "{doc}");
    let (code, doc) = verify_both(&bin, &["--allow-private", &central]);
    assert_eq!((code, &doc["kind"]), (0, &json!("national-log")), "{doc}");
    let origins: Vec<&str> = doc["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["origin"].as_str())
        .collect();
    assert_eq!(origins.iter().filter(|o| **o == "bo-y-te").count(), 2, "{doc}");
    // A roster file as --trust (the central's key given too).
    let roster = get_bytes(&http, &format!("{central}/api/v1/roster")).await.expect("roster");
    let roster_path = dir("roster.json");
    std::fs::write(&roster_path, &roster).expect("write");
    let central_key = format!("chinh-phu={}", gov.key.to_base64());
    let rp = roster_path.to_str().expect("utf-8");
    let args = ["--allow-private", "--trust", rp, "--trust", &central_key, &feed];
    let (code, doc) = verify_both(&bin, &args);
    assert_eq!(code, 0, "{doc}");
}

/// The fake server answering `route(path, query)` with `(content type, body)`, or 404. It
/// serves as long as it is kept.
async fn serve<F>(route: F) -> FakeServer
where
    F: Fn(&str, &str) -> Option<(&'static str, Vec<u8>)> + Send + Sync + 'static,
{
    FakeServer::serving(move |r: &Request| {
        let (ct, body) = route(&r.path, r.query.as_deref().unwrap_or_default())?;
        Some(Reply::ok(ct, body))
    })
    .await
}

/// `--trust ORIGIN=KEY` for each grant of a vector's trust, or `None` when a grant has a
/// validity range (which a bare key cannot express).
fn trust_args(trust: &Value) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for (origin, grants) in trust.as_object()? {
        for g in grants.as_array()? {
            let plain = g["from_index"] == 0
                && g.get("until_index").is_none_or(Value::is_null)
                && g.get("revoked_from").is_none_or(Value::is_null);
            if !plain {
                return None;
            }
            out.push(format!("{origin}={}", g["public_key"].as_str()?));
        }
    }
    Some(out)
}

/// The descriptor of `bo-y-te` at `base`, signed with the vectors' key.
fn descriptor_at(base: &str) -> Vec<u8> {
    let mut d = fixtures::descriptor();
    d.url = base.to_owned();
    for url in d.endpoints.values_mut() {
        *url = url.replace("https://moh.example.gov.vn", base);
    }
    envelope::sign(&d, &MOH.signer()).expect("sign").to_json().into_bytes()
}

/// Serve a log vector as a node: its record steps as one log page (with the checkpoint step
/// that fails, or a placeholder when an entry fails first), its proof at the consistency
/// endpoint. `None` when the vector cannot be served as one page (a failure after other
/// checkpoints, or a failing step that is not the last of its kind).
async fn serve_log(v: &Value) -> Option<(FakeServer, String)> {
    let steps = v["steps"].as_array()?;
    let expect = v["expect"].as_array()?;
    let failing = expect.iter().position(|e| e != "valid")?;
    let checkpoint_fails = steps[failing].get("checkpoint").is_some();
    let mut entries = Vec::new();
    for (i, step) in steps[..=failing].iter().enumerate() {
        if let Some(rec) = step.get("record") {
            entries
                .push(json!({"index": entries.len(), "kid": rec["kid"], "record": rec["record"],
                                "sig": rec["sig"]}));
        } else if i < failing && checkpoint_fails {
            return None; // an earlier checkpoint would have to be accepted first
        }
    }
    let last = &steps[failing];
    let note = last["checkpoint"].as_str().unwrap_or("ipsp/1/bo-y-te\n0\n\n").to_owned();
    let proof = last.get("proof").cloned().unwrap_or(json!([]));
    let n = entries.len();
    let page = json!({"origin": v["origin"], "start": 0, "size": n, "entries": entries,
                      "checkpoint": note});
    let page = serde_json::to_vec(&page).expect("json");
    let server = FakeServer::start().await;
    server.route("/.well-known/portal-node", Reply::json(descriptor_at(&server.base())));
    server.fallback(move |r| {
        let q = |name: &str| r.query_u64(name).unwrap_or(0);
        match r.path.as_str() {
            "/api/v1/log" if q("after") == 0 => Some(Reply::json(page.clone())),
            "/api/v1/proof/consistency" => {
                let body = json!({"from": q("from"), "to": q("to"), "proof": proof});
                Some(Reply::json(body.to_string()))
            }
            _ => None,
        }
    });
    let code = expect[failing].as_str()?.to_owned();
    Some((server, code))
}

/// An invalid vector served over HTTP: the server, the kind `portal verify` reports, the URL,
/// the codes it must name, and arguments of its own.
struct Served {
    _server: FakeServer,
    kind: &'static str,
    url: String,
    expected: Vec<String>,
    args: Vec<String>,
}

/// The codes a feed vector expects (one for the feed, or one per entry).
fn expected_codes(name: &str, expect: &Value) -> Vec<String> {
    match expect {
        Value::String(code) => vec![code.clone()],
        Value::Array(each) => each
            .iter()
            .filter_map(|e| e.as_str().filter(|c| *c != "valid").map(str::to_owned))
            .collect(),
        other => panic!("{name}: expect {other}"),
    }
}

/// Serve invalid vector `v` at the path a node serves its kind; `None` for a log vector that
/// cannot be served as one page.
async fn serve_vector(name: &str, v: &Value) -> Option<Served> {
    let at = |path: &'static str, ct: &'static str, body: Vec<u8>| async move {
        serve(move |p, _| (p == path).then(|| (ct, body.clone()))).await
    };
    Some(match v["kind"].as_str().expect("kind") {
        "atom" | "json-feed" => {
            let kind = if v["kind"] == "atom" { "atom" } else { "json-feed" };
            let (ct, path) = if kind == "atom" {
                ("application/atom+xml", "/feeds/atom")
            } else {
                ("application/feed+json", "/feeds/json")
            };
            let server =
                at(path, ct, v["input"].as_str().expect("feed text").as_bytes().to_vec()).await;
            let url = format!("{}{path}", server.base());
            let expected = expected_codes(name, &v["expect"]);
            Served { _server: server, kind, url, expected, args: vec![] }
        }
        "record" => {
            // The envelope (the vector's `input` also carries `record_json`, for people).
            let i = &v["input"];
            let envelope = json!({"kid": i["kid"], "record": i["record"], "sig": i["sig"]});
            let path = if v.get("expect_type").is_some() {
                "/.well-known/portal-node" // a record of another type where a descriptor is due
            } else {
                "/record.json"
            };
            let server =
                at(path, "application/json", serde_json::to_vec(&envelope).expect("json")).await;
            let url = format!("{}{path}", server.base());
            let expected = vec![v["expect"].as_str().expect("code").to_owned()];
            Served { _server: server, kind: "record", url, expected, args: vec![] }
        }
        "log" => {
            let (server, code) = serve_log(v).await?;
            let failing = v["expect"].as_array().and_then(|e| e.iter().position(|x| x != "valid"));
            let kind = if v["steps"][failing.unwrap_or(0)].get("checkpoint").is_some() {
                "checkpoint"
            } else {
                "log"
            };
            let args = vec!["--now".into(), v["now"].as_str().expect("now").to_owned()];
            Served { url: server.base(), _server: server, kind, expected: vec![code], args }
        }
        other => panic!("{name}: unknown kind {other}"),
    })
}

/// An evidence bundle served over HTTP: `portal verify` hands it to the bundle verifier
/// (SPEC §11.4), which prints its own report naming the code.
async fn check_bundle_vector(bin: &Path, name: &str, v: &Value, mut args: Vec<String>) {
    let body = serde_json::to_vec(&v["input"]).expect("json");
    let path = "/item.bundle";
    let server = serve(move |p, _| (p == path).then(|| ("application/json", body.clone()))).await;
    args.push(format!("{}{path}", server.base()));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = verify(bin, &argv);
    let expected = v["expect"].as_str().expect("code");
    assert_eq!(code, 1, "{name}: exit 1 for a rejection: {out}{err}");
    assert!(out.contains(expected) || err.contains(expected), "{name}: {out}{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_verify_rejects_every_kind_of_tampered_vector_served_over_http() {
    let bin = tokio::task::spawn_blocking(portal_bin).await.expect("build");
    let vectors = crate::committed::vector_files();
    let mut checked: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, text) in vectors.iter().filter(|(n, _)| n.contains("/invalid/")) {
        let v: Value = serde_json::from_str(text).expect("vector");
        let Some(trust) = trust_args(&v["trust"]) else {
            // Grants with validity ranges (retired, revoked, not yet valid): a bare --trust key
            // cannot express them; the log vectors reach revoked-key through key events.
            continue;
        };
        let mut args: Vec<String> = vec!["--allow-private".into()];
        for t in &trust {
            args.extend(["--trust".into(), t.clone()]);
        }
        if v["kind"] == "bundle" {
            check_bundle_vector(&bin, name, &v, args).await;
            *checked.entry("bundle").or_default() += 1;
            continue;
        }
        let Some(served) = serve_vector(name, &v).await else { continue };
        args.extend(served.args.iter().cloned());
        args.push(served.url.clone());
        // The human output is compared with --json once per kind; after that, --json alone.
        let first_of_kind = !checked.contains_key(served.kind);
        if !first_of_kind {
            args.push("--json".into());
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, doc) = if first_of_kind {
            verify_both(&bin, &argv)
        } else {
            let (code, out, err) = verify(&bin, &argv);
            (code, serde_json::from_str(&out).unwrap_or_else(|e| panic!("{name}: {e}: {out}{err}")))
        };
        assert_eq!(code, 1, "{name}: exit 1 for a rejection: {doc}");
        assert_eq!(codes(&doc), served.expected, "{name}: the rejection names its code: {doc}");
        *checked.entry(served.kind).or_default() += 1;
    }
    for kind in ["atom", "json-feed", "record", "log", "checkpoint", "bundle"] {
        assert!(
            checked.get(kind).copied().unwrap_or(0) >= 1,
            "no {kind} vector served: {checked:?}"
        );
    }
    assert!(checked.values().sum::<usize>() >= 40, "{checked:?}");

    // An item whose signed title was edited, served as /api/v1/items/{id}.
    let v: Value =
        serde_json::from_str(&vectors["records/invalid/bad-signature-edited-title.json"])
            .expect("v");
    let id = v["input"]["record_json"]["id"].as_str().expect("item id").to_owned();
    let i = &v["input"];
    let envelope = json!({"kid": i["kid"], "record": i["record"], "sig": i["sig"]});
    let item = json!({"id": id, "versions": [envelope]}).to_string().into_bytes();
    let server = serve(move |_, _| Some(("application/json", item.clone()))).await;
    let key = MOH.trust_arg("bo-y-te");
    let url = format!("{}/api/v1/items/{id}", server.base());
    let (code, doc) = verify_both(&bin, &["--allow-private", "--trust", &key, &url]);
    assert_eq!((code, codes(&doc)), (1, vec!["bad-signature".to_owned()]), "{doc}");
    assert_eq!(doc["kind"], "item");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_verify_exit_codes_for_bad_input_and_unreachable_urls() {
    let (bin, tmp) = bin_and_tmp().await;
    let key = MOH.public_key().to_base64();

    // 2: bad arguments, unrecognised input, a file without keys.
    assert_eq!(verify(&bin, &["--no-such-flag", "x"]).0, 2);
    assert_eq!(verify(&bin, &[]).0, 2);
    assert_eq!(verify(&bin, &["not a url and no such file"]).0, 2);
    let garbage = tmp.path().join("garbage.bin");
    std::fs::write(&garbage, [0u8, 159, 146, 150, 0xff, b'{', 3, 7]).expect("write");
    let g = garbage.to_str().expect("utf-8");
    let (code, doc) = verify_both(&bin, &["--trust", &key, g]);
    assert_eq!((code, &doc["error"]["code"]), (2, &json!("usage")), "{doc}");
    assert_eq!(verify(&bin, &["--trust", "neither-a-key-nor-a-file", g]).0, 2);
    let html = tmp.path().join("page.html");
    std::fs::write(&html, "<!doctype html><html><body>hi</body></html>").expect("write");
    assert_eq!(verify(&bin, &["--trust", &key, html.to_str().expect("utf-8")]).0, 2);
    let vectors = crate::committed::vector_files();
    let v: Value = serde_json::from_str(&vectors["feeds/valid/atom-latest.json"]).expect("v");
    let feed = tmp.path().join("feed.xml");
    std::fs::write(&feed, v["input"].as_str().expect("feed")).expect("write");
    let f = feed.to_str().expect("utf-8");
    let (code, out, _) = verify(&bin, &[f]);
    assert_eq!(code, 2, "a file carries no key: {out}");
    assert!(out.contains("--trust"), "{out}");
    let (code, doc) = verify_both(&bin, &["--trust", &format!("bo-y-te={key}"), f]);
    assert_eq!(code, 0, "the same file with its key: {doc}");
    // An evidence bundle is recognised and handed to the bundle verifier: this one is only
    // the type field (no version), so a rejection (1) naming its code, not a usage error.
    let bundle = tmp.path().join("bundle.json");
    std::fs::write(&bundle, r#"{"type": "portal-evidence-bundle"}"#).expect("write");
    let (code, out, err) = verify(&bin, &["--trust", &key, bundle.to_str().expect("utf-8")]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(format!("{out}{err}").contains("REJECTED [unsupported-version]"), "{out}{err}");

    // 3: nothing listens, a 404, a missing file is 2 but an unreadable one is 3.
    let port = free_port().expect("a free port");
    let (code, doc) = verify_both(&bin, &["--allow-private", &format!("http://127.0.0.1:{port}/")]);
    assert_eq!((code, &doc["error"]["code"]), (3, &json!("unreachable")), "{doc}");
    let server = serve(|_, _| None).await;
    let base = server.base();
    let (code, doc) = verify_both(&bin, &["--allow-private", &format!("{base}/feeds/atom")]);
    assert_eq!((code, &doc["error"]["code"]), (3, &json!("http-status")), "{doc}");
    // Without --allow-private, loopback is refused before anything is sent.
    let (code, out, _) = verify(&bin, &[&format!("{base}/feeds/atom")]);
    assert_eq!(code, 3);
    assert!(out.contains("--allow-private"), "{out}");
    let unreadable = tmp.path().join("dir.json");
    std::fs::create_dir(&unreadable).expect("mkdir");
    assert_eq!(verify(&bin, &["--trust", &key, unreadable.to_str().expect("utf-8")]).0, 3);
}
