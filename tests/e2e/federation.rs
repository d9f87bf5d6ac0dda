//! A federation on 127.0.0.1: three ministry nodes and a central node, each a real
//! `portal serve` process. The central pins its members with `portal member add`, follows
//! their logs (push and polling), and serves the national view, whose every entry a third
//! party verifies against the ministry's own key. Then the failures: a member that was down,
//! an impostor at a member's URL, a member that equivocates, a redirect to a private address.

use std::net::TcpListener as StdListener;
use std::path::Path;
use std::time::{Duration, Instant};

use portal_proto::checkpoint::{self, NoteVerifier};
use portal_proto::crypto::PublicKey;
use portal_proto::envelope::{self, SignedRecord, TrustStore};
use portal_proto::feed::{self, Visible};
use portal_proto::ids::NodeId;
use portal_proto::record::{KeyGrant, Record};
use portal_proto::verifier::{RosterTrust, checkpoint_origin};
use serde_json::{Value, json};

use crate::node::{Server, init_field, portal, portal_bin};

/// A free loopback port (bound, read, released: nodes listen on the address of their URL).
pub(crate) fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

pub(crate) struct Ministry {
    pub(crate) id: &'static str,
    pub(crate) url: String,
    pub(crate) token: String,
    pub(crate) key: PublicKey,
}

/// `portal init` a node listening on a free port, with test-speed settings.
pub(crate) fn init(bin: &Path, data: &Path, id: &'static str, name: &str) -> Ministry {
    let url = format!("http://127.0.0.1:{}", free_port());
    let data_s = data.to_str().expect("utf-8");
    let (ok, out, err) =
        portal(bin, &["init", "--data", data_s, "--id", id, "--name", name, "--url", &url]);
    assert!(ok, "init {id}: {err}");
    let path = data.join("config.toml");
    let config = std::fs::read_to_string(&path).expect("config");
    let fast = config
        .replace("allow_private_callbacks = false", "allow_private_callbacks = true")
        .replace("poll_seconds = 60", "poll_seconds = 1")
        .replace("allow_private_members = false", "allow_private_members = true")
        .replace("unreachable_after_seconds = 300", "unreachable_after_seconds = 2");
    assert!(fast.contains("allow_private_members = true"), "init writes [aggregator]: {config}");
    std::fs::write(&path, fast).expect("config");
    Ministry {
        id,
        url,
        token: init_field(&out, "admin token:"),
        key: PublicKey::from_base64(&init_field(&out, "public key:")).expect("key"),
    }
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(20)).build().expect("client")
}

pub(crate) async fn publish(http: &reqwest::Client, m: &Ministry, title: &str) -> Value {
    let resp = http
        .post(format!("{}/api/v1/items", m.url))
        .bearer_auth(&m.token)
        .json(&json!({"kind": "news", "language": "vi", "title": title,
                      "summary": "Tóm tắt", "content_html": "<p>Nội dung</p>",
                      "categories": ["y-te"]}))
        .send()
        .await
        .expect("publish");
    assert_eq!(resp.status(), 201, "publish on {}", m.id);
    resp.json().await.expect("json")
}

pub(crate) async fn get_json(http: &reqwest::Client, url: &str) -> Value {
    let resp = http.get(url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert!(resp.status().is_success(), "GET {url}: {}", resp.status());
    resp.json().await.expect("json")
}

/// Poll `check` every 200 ms for up to 30 s.
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// The national Atom feed, decoded.
pub(crate) async fn national_feed(http: &reqwest::Client, central: &str) -> feed::DecodedFeed {
    let body = http
        .get(format!("{central}/feeds/national/atom"))
        .send()
        .await
        .expect("feed")
        .bytes()
        .await
        .expect("bytes");
    feed::decode_atom(&body).expect("the national feed decodes")
}

fn title_of(e: &feed::DecodedEntry) -> Option<String> {
    match &e.visible {
        Visible::Entry { title, .. } => Some(title.clone()),
        _ => None,
    }
}

pub(crate) async fn incidents(http: &reqwest::Client, central: &str, member: &str) -> Vec<Value> {
    let v = get_json(http, &format!("{central}/api/v1/incidents?member={member}")).await;
    v["incidents"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_central_node_follows_three_ministries_and_catches_what_goes_wrong() {
    let bin = tokio::task::spawn_blocking(portal_bin).await.expect("build");
    let tmp = tempfile::tempdir().expect("tempdir");
    let http = client();
    let dir = |name: &str| tmp.path().join(name);
    let moh = init(&bin, &dir("moh"), "bo-y-te", "Bộ Y tế");
    let moet = init(&bin, &dir("moet"), "bo-giao-duc", "Bộ Giáo dục và Đào tạo");
    let mof = init(&bin, &dir("mof"), "bo-tai-chinh", "Bộ Tài chính");
    let gov = init(&bin, &dir("gov"), "chinh-phu", "Chính phủ");
    let start = |data: &Path| Server::start_at_url(&bin, data);
    let mut moh_srv = start(&dir("moh"));
    let mut moet_srv = start(&dir("moet"));
    let mof_srv = start(&dir("mof"));
    let central_srv = start(&dir("gov"));
    let central = central_srv.base.clone();

    // ---- the roster: pinned by `portal member add` against the running central
    let gov_data = dir("gov");
    let gov_data_s = gov_data.to_str().expect("utf-8");
    for m in [&moh, &moet, &mof] {
        let pin = m.key.to_base64();
        let (ok, out, err) =
            portal(&bin, &["member", "add", "--data", gov_data_s, &m.url, "--pin", &pin]);
        assert!(ok, "member add {}: {err}", m.id);
        assert!(out.contains(m.id) && out.contains(&m.key.key_id().to_string()), "{out}");
    }
    let wrong_pin = gov.key.to_base64();
    let (ok, _, err) =
        portal(&bin, &["member", "add", "--data", gov_data_s, &moh.url, "--pin", &wrong_pin]);
    assert!(!ok && err.contains("pin mismatch"), "a wrong pin is refused: {err}");
    let (ok, out, _) = portal(&bin, &["member", "list", "--data", gov_data_s]);
    assert!(ok && out.lines().filter(|l| l.contains("[active]")).count() == 3, "{out}");

    // The roster is signed by the central key and lists the three members with their keys.
    let roster_env = http
        .get(format!("{central}/api/v1/roster"))
        .send()
        .await
        .expect("roster")
        .bytes()
        .await
        .expect("bytes");
    let mut central_trust = TrustStore::new();
    central_trust.add(NodeId::new(gov.id).expect("id"), KeyGrant::pinned(gov.key.clone()));
    let roster = RosterTrust::open(
        &SignedRecord::from_json(&roster_env).expect("envelope"),
        &central_trust,
        None,
    )
    .expect("the roster verifies against the central key");
    assert_eq!(roster.roster().record().members.len(), 3);
    // A third party trusts the ministries' keys, never the central's, for their items.
    let mut ministries = TrustStore::new();
    for m in [&moh, &moet, &mof] {
        ministries.add(NodeId::new(m.id).expect("id"), KeyGrant::pinned(m.key.clone()));
    }

    // ---- a publish appears in the national feed, verifiable against the ministry's key
    let a = publish(&http, &moh, "Bộ Y tế công bố kế hoạch tiêm chủng").await;
    publish(&http, &moet, "Lịch thi tốt nghiệp 2027").await;
    eventually("two items in the national feed", || async {
        national_feed(&http, &central).await.entries.len() >= 2
    })
    .await;
    let national = national_feed(&http, &central).await;
    let self_link = national.links.iter().find(|(rel, _)| rel == "self").map(|(_, h)| h.as_str());
    assert_eq!(self_link, Some(format!("{central}/feeds/national/atom").as_str()));
    for r in feed::verify_entries(&national, &ministries) {
        r.expect("every national entry verifies against its ministry's key");
    }
    assert!(
        national
            .entries
            .iter()
            .any(|e| title_of(e).as_deref() == Some("Bộ Y tế công bố kế hoạch tiêm chủng"))
    );

    // ---- national search finds Vietnamese typed with or without diacritics
    let search = |q: &'static str| {
        let http = http.clone();
        let central = central.clone();
        async move {
            let url = reqwest::Url::parse_with_params(
                &format!("{central}/api/v1/national/search"),
                &[("q", q)],
            )
            .expect("url");
            get_json(&http, url.as_str()).await
        }
    };
    eventually("search finds the item", || async {
        search("Bộ Y tế").await["total"].as_u64() == Some(1)
    })
    .await;
    let accented = search("Bộ Y tế tiêm chủng").await;
    let plain = search("bo y te tiem chung").await;
    assert_eq!(accented["hits"][0]["id"], a["id"], "{accented}");
    assert_eq!(plain["hits"][0]["id"], a["id"], "{plain}");
    assert!(
        plain["hits"][0]["title_html"].as_str().is_some_and(|t| t.contains("<mark>")),
        "{plain}"
    );
    assert_eq!(plain["facets"]["member"][0][0], "bo-y-te", "{plain}");
    // Each member syncs on its own schedule: wait for the second member's item too.
    eventually("search finds the other ministry's item", || async {
        search("lich thi").await["hits"][0]["member"] == "bo-giao-duc"
    })
    .await;

    // ---- a withdrawal becomes a tombstone with its explanation, never dropped
    let id = a["id"].as_str().expect("id");
    let resp = http
        .post(format!("{}/api/v1/items/{id}/withdraw", moh.url))
        .bearer_auth(&moh.token)
        .json(&json!({"state": "withdrawn", "explanation": "Thông tin đã được thay thế"}))
        .send()
        .await
        .expect("withdraw");
    assert!(resp.status().is_success(), "withdraw: {}", resp.status());
    eventually("the tombstone in the national feed", || async {
        national_feed(&http, &central).await.entries.iter().any(|e| {
            matches!(&e.visible, Visible::Tombstone { comment, .. } if comment.as_deref() == Some("Thông tin đã được thay thế"))
        })
    })
    .await;

    // ---- the national log pairs each member record with the central's receipt
    let log = get_json(&http, &format!("{central}/api/v1/national/log")).await;
    let entries = log["entries"].as_array().expect("entries");
    assert!(entries.len() >= 3);
    for e in entries {
        let member = SignedRecord::from_json(e["member"].to_string().as_bytes()).expect("member");
        let receipt =
            SignedRecord::from_json(e["receipt"].to_string().as_bytes()).expect("receipt");
        envelope::open(&member, &ministries).expect("member record verifies with its ministry");
        let r = envelope::open(&receipt, &central_trust).expect("receipt verifies with central");
        let Record::Receipt(r) = r.record() else { panic!("a receipt") };
        assert_eq!(r.record, member.digest());
        assert_eq!(r.log_index, e["index"].as_u64().expect("index"));
    }

    // ---- the witness: the member's checkpoint with the central's cosignature
    let note = http
        .get(format!("{central}/api/v1/members/bo-y-te/checkpoint"))
        .send()
        .await
        .expect("witness")
        .text()
        .await
        .expect("text");
    let parsed = checkpoint::SignedNote::parse(&note).expect("note");
    let name = checkpoint_origin(&NodeId::new(gov.id).expect("id"));
    let cosigner = NoteVerifier::cosignature(&name, gov.key.as_bytes()).expect("verifier");
    assert!(
        parsed.signatures.iter().any(|s| cosigner.verify_signature(&parsed.text, s).is_ok()),
        "the central cosigned the member's checkpoint: {note}"
    );

    // ---- a member that was down catches up
    assert!(moet_srv.terminate(), "moet stops");
    let moet_data = dir("moet");
    let draft = tmp.path().join("draft.json");
    std::fs::write(
        &draft,
        json!({"kind": "announcement", "language": "vi", "title": "Thông báo khi máy chủ tạm dừng",
               "summary": "", "content_html": "<p>x</p>"})
        .to_string(),
    )
    .expect("draft");
    let (ok, _, err) = portal(
        &bin,
        &["publish", "--data", moet_data.to_str().expect("utf-8"), draft.to_str().expect("utf-8")],
    );
    assert!(ok, "offline publish: {err}");
    eventually("an unreachable incident for the stopped member", || async {
        incidents(&http, &central, "bo-giao-duc").await.iter().any(|i| i["code"] == "unreachable")
    })
    .await;
    moet_srv = start(&moet_data);
    eventually("the member that was down caught up", || async {
        national_feed(&http, &central)
            .await
            .entries
            .iter()
            .any(|e| title_of(e).as_deref() == Some("Thông báo khi máy chủ tạm dừng"))
    })
    .await;

    // ---- an impostor at a member's URL: records signed by another key are rejected
    drop(mof_srv);
    let impostor = dir("impostor");
    let data_s = impostor.to_str().expect("utf-8");
    let (ok, _, err) = portal(
        &bin,
        &["init", "--data", data_s, "--id", "bo-tai-chinh", "--name", "Giả mạo", "--url", &mof.url],
    );
    assert!(ok, "impostor init: {err}");
    let (ok, _, err) = portal(&bin, &["publish", "--data", data_s, draft.to_str().expect("utf-8")]);
    assert!(ok, "impostor publish: {err}");
    let impostor_srv = start(&impostor);
    eventually("an incident for the impostor's records", || async {
        incidents(&http, &central, "bo-tai-chinh").await.iter().any(|i| {
            ["unknown-key", "bad-signature"].contains(&i["code"].as_str().unwrap_or_default())
        })
    })
    .await;
    let national = national_feed(&http, &central).await;
    for r in feed::verify_entries(&national, &ministries) {
        r.expect("nothing of the impostor's entered the national view");
    }
    drop(impostor_srv);

    // ---- equivocation: two different histories for the same size, both notes kept
    let moh_data = dir("moh");
    assert!(moh_srv.terminate(), "moh stops");
    let fork = dir("moh-fork");
    copy_dir(&moh_data, &fork);
    moh_srv = start(&moh_data);
    let x = publish(&http, &moh, "Phiên bản A").await;
    let size_a = x["log_index"].as_u64().expect("index") + 1;
    eventually("the central holds history A", || async {
        let m = get_json(&http, &format!("{central}/api/v1/members")).await;
        m["members"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["member"]["id"] == "bo-y-te" && r["member"]["size"].as_u64() == Some(size_a))
    })
    .await;
    assert!(moh_srv.terminate(), "moh stops again");
    let fork_srv = start(&fork);
    publish(&http, &moh, "Phiên bản B").await;
    eventually("an equivocation incident with both notes", || async {
        incidents(&http, &central, "bo-y-te").await.iter().any(|i| {
            i["code"] == "inconsistent-checkpoint"
                && i["evidence"]["note"].is_string()
                && i["evidence"]["previous"].is_string()
                && i["evidence"]["note"] != i["evidence"]["previous"]
        })
    })
    .await;
    drop(fork_srv);

    // ---- a member behind a redirect to a private address is refused
    let redirector = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let redirect_url = format!("http://{}", redirector.local_addr().expect("addr"));
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = redirector.accept().await {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 302 Found\r\nLocation: http://10.255.255.1:80/.well-known/portal-node\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await;
        }
    });
    let (ok, _, err) = portal(&bin, &["member", "add", "--data", gov_data_s, &redirect_url]);
    assert!(!ok && err.contains("refused"), "a redirect off the member's origin is refused: {err}");
    for url in ["ftp://127.0.0.1:1/", "file:///etc/passwd", "gopher://127.0.0.1:1/"] {
        let (ok, _, err) = portal(&bin, &["member", "add", "--data", gov_data_s, url]);
        assert!(!ok && err.contains("refused: scheme"), "{url} is refused by scheme: {err}");
    }

    // ---- incidents are counted in /metrics
    let metrics = http
        .get(format!("{central}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("portal_incidents_total{code=\"inconsistent-checkpoint\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("portal_member_records{member=\"bo-y-te\"}"), "{metrics}");

    drop(moet_srv);
    assert!(central_srv.terminate(), "SIGTERM stops the central cleanly");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Every entry of a node's log (`GET path?after=…` pages), in order, as raw JSON entries.
async fn whole_log(http: &reqwest::Client, base: &str, path: &str) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    loop {
        let page = get_json(http, &format!("{base}{path}?after={}&limit=1000", out.len())).await;
        let entries = page["entries"].as_array().cloned().unwrap_or_default();
        assert_eq!(page["start"].as_u64(), Some(out.len() as u64), "pages are contiguous");
        if entries.is_empty() {
            return out;
        }
        out.extend(entries);
    }
}

/// kill -9 of the central during ingest, over and over, while the ministries keep publishing;
/// then the national log must equal the ministries' logs exactly: every record once, in each
/// member's order, no gap, every receipt signed once per index. 3 rounds by default, 20 with
/// `PORTAL_CRASH_LOOP=1` (`PORTAL_CRASH_LOOP=1 cargo test -p portal-tests --test e2e
/// kill_9_of_the_central -- --nocapture`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_central_during_ingest_loses_and_duplicates_nothing() {
    let rounds: usize = if std::env::var_os("PORTAL_CRASH_LOOP").is_some() { 20 } else { 3 };
    let bin = tokio::task::spawn_blocking(portal_bin).await.expect("build");
    let tmp = tempfile::tempdir().expect("tempdir");
    let http = client();
    let dir = |name: &str| tmp.path().join(name);
    let members = [
        init(&bin, &dir("moh"), "bo-y-te", "Bộ Y tế"),
        init(&bin, &dir("mof"), "bo-tai-chinh", "Bộ Tài chính"),
    ];
    let gov = init(&bin, &dir("gov"), "chinh-phu", "Chính phủ");
    // Small pages: ingest spans many commits, so the kills land in the middle of it.
    let config = dir("gov").join("config.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, text.replace("page_size = 500", "page_size = 7")).expect("config");
    let _servers: Vec<Server> =
        [dir("moh"), dir("mof")].iter().map(|d| Server::start_at_url(&bin, d)).collect();
    for m in &members {
        for i in 0..100 {
            publish(&http, m, &format!("Tin trước {i}")).await;
        }
    }
    // The roster, edited while the central is stopped (in-process path of `portal member`).
    let gov_data = dir("gov");
    let gov_s = gov_data.to_str().expect("utf-8");
    for m in &members {
        let (ok, _, err) =
            portal(&bin, &["member", "add", "--data", gov_s, &m.url, "--pin", &m.key.to_base64()]);
        assert!(ok, "member add: {err}");
    }

    // Ministries publish throughout.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let publishers: Vec<_> = members
        .iter()
        .map(|m| {
            let (http, stop) = (http.clone(), std::sync::Arc::clone(&stop));
            let m = Ministry {
                id: m.id,
                url: m.url.clone(),
                token: m.token.clone(),
                key: m.key.clone(),
            };
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    publish(&http, &m, &format!("Tin trong lúc thử {i}")).await;
                    i += 1;
                    tokio::time::sleep(Duration::from_millis(15)).await;
                }
            })
        })
        .collect();
    let started = Instant::now();
    // What the central held just before each kill: proof the kills land during ingest.
    let mut held_before_kill = Vec::new();
    for round in 0..rounds {
        let mut central = Server::start_at_url(&bin, &gov_data);
        let pause = 200 + (round as u64 * 137) % 500;
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let sizes = http
            .get(format!("{}/api/v1/members", central.base))
            .timeout(Duration::from_millis(500))
            .send()
            .await;
        if let Ok(resp) = sizes
            && let Ok(v) = resp.json::<Value>().await
        {
            let held: u64 = v["members"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["member"]["size"].as_u64())
                .sum();
            held_before_kill.push(held);
        }
        central.child.kill().expect("SIGKILL the central");
        let _ = central.child.wait();
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for p in publishers {
        p.await.expect("publisher");
    }

    // After the last restart the central catches up with both members, exactly.
    let central_srv = Server::start_at_url(&bin, &gov_data);
    let central = central_srv.base.clone();
    let mut truth = Vec::new();
    for m in &members {
        truth.push(whole_log(&http, &m.url, "/api/v1/log").await);
    }
    eventually("the central holds both members' whole logs", || async {
        let v = get_json(&http, &format!("{central}/api/v1/members")).await;
        members.iter().zip(&truth).all(|(m, t)| {
            v["members"].as_array().into_iter().flatten().any(|r| {
                r["member"]["id"] == m.id && r["member"]["size"].as_u64() == Some(t.len() as u64)
            })
        })
    })
    .await;
    let national = whole_log(&http, &central, "/api/v1/national/log").await;
    let mut central_keys = TrustStore::new();
    central_keys.add(NodeId::new(gov.id).expect("id"), KeyGrant::pinned(gov.key.clone()));
    let mut own = portal_proto::verifier::LogVerifier::new(
        NodeId::new(gov.id).expect("id"),
        vec![KeyGrant::pinned(gov.key.clone())],
    );
    let mut seen: std::collections::BTreeMap<String, u64> = Default::default();
    for (i, e) in national.iter().enumerate() {
        assert_eq!(e["index"].as_u64(), Some(i as u64), "the national log has no gap");
        let receipt = SignedRecord::from_json(e["receipt"].to_string().as_bytes())
            .expect("every entry is a receipt");
        own.push(&receipt).expect("the central's log verifies: no index signed twice");
        let Record::Receipt(r) =
            envelope::open(&receipt, &central_keys).expect("receipt").into_parts().0
        else {
            panic!("a receipt")
        };
        let next = seen.entry(r.member.to_string()).or_default();
        assert_eq!(r.member_index, *next, "{}: each record once, in order", r.member);
        *next += 1;
        let m = members.iter().position(|m| m.id == r.member.as_str()).expect("a known member");
        let truth_entry = &truth[m][r.member_index as usize];
        assert_eq!(e["member"]["record"], truth_entry["record"], "the member's exact bytes");
        assert_eq!(e["member"]["sig"], truth_entry["sig"]);
    }
    for (m, t) in members.iter().zip(&truth) {
        assert_eq!(seen.get(m.id).copied(), Some(t.len() as u64), "{}: nothing missing", m.id);
    }
    // The search index survived the kills too: each restart indexed what the index's commit
    // marks said it lacked, so every item is searchable, none twice.
    let items = truth
        .iter()
        .flatten()
        .filter(|t| {
            // A log page's entry is the envelope plus its `index`.
            let envelope = json!({"kid": t["kid"], "record": t["record"], "sig": t["sig"]});
            let signed = SignedRecord::from_json(envelope.to_string().as_bytes()).expect("record");
            matches!(envelope::parse_record(signed.bytes()), Ok(Record::Item(_)))
        })
        .count() as u64;
    eventually("every item in the national search", || async {
        let v = get_json(&http, &format!("{central}/api/v1/national/search?q=")).await;
        v["total"].as_u64() == Some(items)
    })
    .await;
    println!(
        "{rounds} kill -9 rounds of the central in {:?}: {} member records, each exactly once; \
         records held just before each kill: {held_before_kill:?}",
        started.elapsed(),
        national.len()
    );
    assert!(
        held_before_kill.iter().any(|&h| h > 0 && h < national.len() as u64),
        "at least one kill landed during ingest: {held_before_kill:?}"
    );
    assert!(central_srv.terminate(), "SIGTERM stops the central cleanly");
}

/// Multi-level: a department publishes to its province's aggregator, the central follows the
/// province, and the department's records reach the national view still signed by the
/// department, verifiable with the department's key alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_province_relays_its_departments_records_to_the_central() {
    let bin = tokio::task::spawn_blocking(portal_bin).await.expect("build");
    let tmp = tempfile::tempdir().expect("tempdir");
    let http = client();
    let dir = |name: &str| tmp.path().join(name);
    let dept = init(&bin, &dir("dept"), "so-y-te-ha-noi", "Sở Y tế Hà Nội");
    let province = init(&bin, &dir("prov"), "ubnd-ha-noi", "UBND thành phố Hà Nội");
    let _gov = init(&bin, &dir("gov"), "chinh-phu", "Chính phủ");
    let _dept_srv = Server::start_at_url(&bin, &dir("dept"));
    let prov_srv = Server::start_at_url(&bin, &dir("prov"));
    let central_srv = Server::start_at_url(&bin, &dir("gov"));
    let add = |data: &Path, m: &Ministry| {
        let (ok, _, err) = portal(
            &bin,
            &[
                "member",
                "add",
                "--data",
                data.to_str().expect("utf-8"),
                &m.url,
                "--pin",
                &m.key.to_base64(),
            ],
        );
        assert!(ok, "member add {}: {err}", m.id);
    };
    add(&dir("prov"), &dept);
    add(&dir("gov"), &province);
    // The province publishes too: its own items reach the central as the province's.
    publish(&http, &province, "Thông báo của UBND thành phố").await;
    let item = publish(&http, &dept, "Sở Y tế Hà Nội khuyến cáo phòng dịch").await;

    let central = central_srv.base.clone();
    eventually("the department's item in the central's national feed", || async {
        national_feed(&http, &central)
            .await
            .entries
            .iter()
            .any(|e| title_of(e).as_deref() == Some("Sở Y tế Hà Nội khuyến cáo phòng dịch"))
    })
    .await;
    // Only the originating keys: the department's and the province's, never the central's.
    let mut origins = TrustStore::new();
    origins.add(NodeId::new(dept.id).expect("id"), KeyGrant::pinned(dept.key.clone()));
    origins.add(NodeId::new(province.id).expect("id"), KeyGrant::pinned(province.key.clone()));
    let national = national_feed(&http, &central).await;
    assert!(national.entries.len() >= 2, "both the department's and the province's items");
    for r in feed::verify_entries(&national, &origins) {
        r.expect("every national entry verifies against its originating node's key");
    }
    // The central's national log names the department as the member of its receipt.
    let log = get_json(&http, &format!("{central}/api/v1/national/log")).await;
    let relayed = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| SignedRecord::from_json(e["receipt"].to_string().as_bytes()).ok())
        .filter_map(|r| match envelope::parse_record(r.bytes()) {
            Ok(Record::Receipt(r)) => Some(r),
            _ => None,
        })
        .find(|r| r.member.as_str() == dept.id)
        .expect("a receipt for the department's record");
    assert_eq!(relayed.member_index, item["log_index"].as_u64().expect("index"));
    drop(prov_srv);
}
