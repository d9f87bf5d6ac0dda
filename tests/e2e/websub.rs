//! The node's WebSub hub (SPEC.md §10) against a subscriber run by the test, all on 127.0.0.1:
//! verification of intent, signed deliveries that a subscriber verifies with portal-proto
//! alone, retries (also across a restart), dead letters, the admin report and the metrics.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portal_proto::crypto::{KeyId, PublicKey};
use portal_proto::envelope::{self, SignedRecord, TrustStore};
use portal_proto::ids::NodeId;
use portal_proto::push::{self, SignedRequest};
use portal_proto::record::{Descriptor, KeyGrant, Record};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::node::{Server, portal, portal_bin};

/// The node's public URL (its config `url`); topics and the hub URL are derived from it, while
/// the process itself listens on 127.0.0.1:0.
const NODE_URL: &str = "http://127.0.0.1:9";
const HUB: &str = "http://127.0.0.1:9/websub";
const TOPIC: &str = "http://127.0.0.1:9/api/v1/log";
/// Longest wait for anything to happen.
const DEADLINE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// A subscriber: a tiny HTTP/1.1 server that records every request and answers per path.

/// One request the subscriber received, and the status it answered.
#[derive(Clone, Debug)]
struct Received {
    method: String,
    path: String,
    query: BTreeMap<String, String>,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
    answered: u16,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a delivery body is JSON")
    }
}

/// How a callback path answers.
#[derive(Clone, Copy, Debug)]
struct Behaviour {
    /// Echo the challenge (`false`: answer 200 with something else).
    echo: bool,
    /// Status for deliveries (POST).
    post_status: u16,
}

#[derive(Clone, Default)]
struct Subscriber {
    received: Arc<Mutex<Vec<Received>>>,
    behaviour: Arc<Mutex<BTreeMap<String, Behaviour>>>,
}

impl Subscriber {
    async fn start() -> (Subscriber, SocketAddr, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the subscriber");
        let addr = listener.local_addr().expect("address");
        let sub = Subscriber::default();
        let server = sub.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let s = server.clone();
                tokio::spawn(async move { s.serve(stream).await });
            }
        });
        (sub, addr, task)
    }

    fn set(&self, path: &str, echo: bool, post_status: u16) {
        self.behaviour.lock().expect("lock").insert(path.into(), Behaviour { echo, post_status });
    }

    fn received(&self, pred: impl Fn(&Received) -> bool) -> Vec<Received> {
        self.received.lock().expect("lock").iter().filter(|r| pred(r)).cloned().collect()
    }

    /// Wait until a request matching `pred` has arrived; return the first.
    async fn wait_for(&self, what: &str, pred: impl Fn(&Received) -> bool) -> Received {
        let start = Instant::now();
        loop {
            if let Some(r) = self.received(&pred).into_iter().next() {
                return r;
            }
            assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn serve(&self, mut stream: TcpStream) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or_default().split(' ');
        let method = first.next().unwrap_or_default().to_owned();
        let target = first.next().unwrap_or_default().to_owned();
        let mut headers = BTreeMap::new();
        for line in lines {
            if let Some((k, v)) = line.split_once(':') {
                let k = k.trim().to_ascii_lowercase();
                let v = v.trim().to_owned();
                // Repeated fields joined as RFC 9110 §5.3 says.
                headers
                    .entry(k)
                    .and_modify(|old: &mut String| *old = format!("{old}, {v}"))
                    .or_insert(v);
            }
        }
        let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut body = buf[head_end + 4..].to_vec();
        while body.len() < length {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => body.extend_from_slice(&chunk[..n]),
            }
        }
        let url = reqwest::Url::parse(&format!("http://subscriber{target}")).expect("target");
        let query: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
        let path = url.path().to_owned();
        let behaviour = self.behaviour.lock().expect("lock").get(&path).copied();
        let (status, reply) = match (method.as_str(), behaviour) {
            (_, None) => (404, Vec::new()),
            ("GET", Some(b)) if b.echo => {
                (200, query.get("hub.challenge").cloned().unwrap_or_default().into_bytes())
            }
            ("GET", Some(_)) => (200, b"not the challenge".to_vec()),
            (_, Some(b)) => (b.post_status, b"thanks".to_vec()),
        };
        self.received.lock().expect("lock").push(Received {
            method,
            path,
            query,
            headers,
            body,
            answered: status,
        });
        let head = format!(
            "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            reply.len()
        );
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.write_all(&reply).await;
        let _ = stream.shutdown().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(20)).build().expect("client")
}

async fn form(http: &reqwest::Client, base: &str, fields: &[(&str, &str)]) -> (u16, Value) {
    let resp = http.post(format!("{base}/websub")).form(fields).send().await.expect("post");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn subscribe(http: &reqwest::Client, base: &str, callback: &str, secret: &str) -> u16 {
    let fields = [
        ("hub.mode", "subscribe"),
        ("hub.topic", TOPIC),
        ("hub.callback", callback),
        ("hub.secret", secret),
        ("hub.lease_seconds", "60"),
    ];
    form(http, base, &fields).await.0
}

async fn admin(http: &reqwest::Client, base: &str, token: &str) -> Value {
    let resp = http
        .get(format!("{base}/api/v1/admin/deliveries"))
        .bearer_auth(token)
        .send()
        .await
        .expect("admin");
    assert_eq!(resp.status(), 200);
    resp.json().await.expect("json")
}

/// Poll the admin report until `pred` holds.
async fn wait_admin(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        let report = admin(http, base, token).await;
        if pred(&report) {
            return report;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}: {report:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn listed<'a>(report: &'a Value, list: &str, callback: &str) -> Vec<&'a Value> {
    report[list].as_array().expect("list").iter().filter(|d| d["callback"] == callback).collect()
}

async fn metrics(http: &reqwest::Client, base: &str) -> BTreeMap<String, u64> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(' '))
        .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
        .collect()
}

async fn publish(http: &reqwest::Client, base: &str, token: &str, title: &str) -> Value {
    let draft = json!({"kind": "news", "language": "vi", "title": title,
                       "summary": "Tóm tắt", "content_html": "<p>Nội dung</p>"});
    let resp = http
        .post(format!("{base}/api/v1/items"))
        .bearer_auth(token)
        .json(&draft)
        .send()
        .await
        .expect("publish");
    assert_eq!(resp.status(), 201);
    resp.json().await.expect("json")
}

/// Everything a subscriber checks on a delivery (SPEC.md §10), then the entries themselves.
fn check_delivery(r: &Received, callback: &str, secret: &str, key: &PublicKey, trust: &TrustStore) {
    assert_eq!(r.method, "POST");
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.header("link"), format!("<{HUB}>; rel=\"hub\", <{TOPIC}>; rel=\"self\""));
    push::verify_hub_signature(secret.as_bytes(), &r.body, r.header("x-hub-signature"))
        .expect("the HMAC verifies with the subscription's secret");
    assert!(
        push::verify_hub_signature(b"another secret", &r.body, r.header("x-hub-signature"))
            .is_err()
    );
    push::verify_content_digest(r.header("content-digest"), &r.body).expect("Content-Digest");
    let request = SignedRequest {
        method: &r.method,
        target_uri: callback,
        content_type: r.header("content-type"),
        content_digest: r.header("content-digest"),
    };
    let now = portal_publisher::node::now().unix();
    let keys = |kid: &KeyId| (*kid == key.key_id()).then(|| key.clone());
    let kid = push::verify_request(
        &request,
        r.header("signature-input"),
        r.header("signature"),
        &keys,
        now,
        push::MAX_SKEW_SECONDS,
    )
    .expect("the RFC 9421 signature verifies against the descriptor's key");
    assert_eq!(kid, key.key_id());

    let page = r.json();
    assert_eq!(page["origin"], "bo-y-te");
    assert!(page["checkpoint"].as_str().is_some_and(|c| !c.is_empty()), "{page}");
    let start = page["start"].as_u64().expect("start");
    let entries = page["entries"].as_array().expect("entries");
    assert!(!entries.is_empty());
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e["index"].as_u64(), Some(start + i as u64));
        let signed = SignedRecord::from_base64(
            e["record"].as_str().expect("record"),
            e["kid"].as_str().expect("kid"),
            e["sig"].as_str().expect("sig"),
        )
        .expect("envelope");
        let verified = envelope::open(&signed, trust).expect("every delivered entry verifies");
        assert!(matches!(verified.record(), Record::Item(_)));
    }
}

fn init(bin: &Path, data: &Path) -> (String, PublicKey) {
    let data_s = data.to_str().expect("utf-8 path");
    let (ok, out, err) = portal(
        bin,
        &["init", "--data", data_s, "--id", "bo-y-te", "--name", "Bộ Y tế", "--url", NODE_URL],
    );
    assert!(ok, "init failed: {err}");
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .unwrap_or_else(|| panic!("init output lacks {name}: {out}"))
            .to_owned()
    };
    let key = PublicKey::from_base64(&field("public key:")).expect("public key");
    // Fast retries for the test: 1 s base, a dead letter after the 4th failure.
    let path = data.join("config.toml");
    let config = std::fs::read_to_string(&path).expect("config");
    let fast = config
        .replace("retry_base_seconds = 5", "retry_base_seconds = 1")
        .replace("max_attempts = 10", "max_attempts = 4")
        // The subscriber listens on 127.0.0.1: allow it, as a loopback deployment would.
        .replace("allow_private_callbacks = false", "allow_private_callbacks = true");
    assert_ne!(fast, config, "init writes the [websub] section: {config}");
    std::fs::write(&path, fast).expect("config");
    (field("admin token:"), key)
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_verifies_subscribers_and_delivers_signed_log_pages_with_retries() {
    let bin = tokio::task::spawn_blocking(portal_bin).await.expect("build");
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("moh");
    let (token, pinned) = init(&bin, &data);
    let mut server = Server::start(&bin, &data);
    let mut base = server.base.clone();
    let http = client();

    // ---- the descriptor (pinned to the key init printed) names the hub and gives the key
    let desc = http
        .get(format!("{base}/.well-known/portal-node"))
        .send()
        .await
        .expect("descriptor")
        .bytes()
        .await
        .expect("body");
    let mut pin = TrustStore::new();
    let origin = NodeId::new("bo-y-te").expect("id");
    pin.add(origin.clone(), KeyGrant::pinned(pinned));
    let descriptor =
        envelope::open_as::<Descriptor>(&SignedRecord::from_json(&desc).expect("envelope"), &pin)
            .expect("descriptor verifies");
    let descriptor = descriptor.record();
    assert_eq!(descriptor.endpoints.get("websub-hub").map(String::as_str), Some(HUB));
    assert_eq!(descriptor.endpoints.get("log").map(String::as_str), Some(TOPIC));
    let key = descriptor.keys[0].public_key.clone();
    let mut trust = TrustStore::new();
    for g in &descriptor.keys {
        trust.add(origin.clone(), g.clone());
    }

    // ---- the subscriber
    let (sub, addr, sub_task) = Subscriber::start().await;
    let cb_a = format!("http://{addr}/a");
    let cb_wrong = format!("http://{addr}/wrong");
    let cb_dead = format!("http://{addr}/dead");
    sub.set("/a", true, 200);
    sub.set("/wrong", false, 200);
    sub.set("/dead", true, 503);
    let (secret_a, secret_wrong, secret_dead) =
        ("secret of a", "secret of the wrong echo", "secret of the dead end");

    // ---- bad requests: 400 naming the parameter, and no verification is attempted
    let good = |name: &str| -> (&'static str, String) {
        match name {
            "hub.mode" => ("hub.mode", "subscribe".into()),
            "hub.topic" => ("hub.topic", TOPIC.into()),
            "hub.callback" => ("hub.callback", format!("http://{addr}/bad")),
            _ => ("hub.secret", "s".into()),
        }
    };
    let long_secret = "x".repeat(200);
    let cases: Vec<(&str, Option<&str>)> = vec![
        ("hub.mode", None),
        ("hub.mode", Some("publish")),
        ("hub.topic", None),
        ("hub.topic", Some("http://127.0.0.1:9/feeds/rss")),
        ("hub.callback", None),
        ("hub.callback", Some("/relative")),
        ("hub.callback", Some("ftp://127.0.0.1/cb")),
        ("hub.callback", Some("http://127.0.0.1/cb#fragment")),
        ("hub.secret", None),
        ("hub.secret", Some("")),
        ("hub.secret", Some(&long_secret)),
        ("hub.lease_seconds", Some("soon")),
    ];
    sub.set("/bad", true, 200);
    for (param, value) in &cases {
        let mut fields: Vec<(&str, String)> =
            ["hub.mode", "hub.topic", "hub.callback", "hub.secret"].map(good).into();
        fields.retain(|(k, _)| k != param);
        if let Some(v) = value {
            fields.push((param, (*v).to_owned()));
        }
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body) = form(&http, &base, &fields).await;
        assert_eq!(status, 400, "{param} = {value:?}: {body}");
        assert_eq!(body["error"]["parameter"], *param, "{body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains(param)), "{body}");
    }
    let resp = http
        .post(format!("{base}/websub"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 400, "a body that is not a form");
    let resp = http
        .get(format!("{base}/api/v1/admin/deliveries"))
        .bearer_auth("wrong")
        .send()
        .await
        .expect("admin");
    assert_eq!(resp.status(), 401, "the admin report needs the editors' token");

    // ---- subscribe: verification of intent with a fresh challenge; the lease is clamped
    assert_eq!(subscribe(&http, &base, &cb_a, secret_a).await, 202);
    let check = sub.wait_for("verification of a", |r| r.method == "GET" && r.path == "/a").await;
    assert_eq!(check.query.get("hub.mode").map(String::as_str), Some("subscribe"));
    assert_eq!(check.query.get("hub.topic").map(String::as_str), Some(TOPIC));
    assert_eq!(check.query.get("hub.lease_seconds").map(String::as_str), Some("300"));
    let challenge = check.query.get("hub.challenge").expect("challenge");
    assert!(
        challenge.len() >= 32 && challenge.bytes().all(|b| b.is_ascii_hexdigit()),
        "at least 128 random bits: {challenge}"
    );
    wait_admin(&http, &base, &token, "a to be active", |r| {
        listed(r, "subscriptions", &cb_a).first().is_some_and(|s| s["active"] == true)
    })
    .await;
    // A wrong echo: the subscription never becomes active.
    assert_eq!(subscribe(&http, &base, &cb_wrong, secret_wrong).await, 202);
    sub.wait_for("verification of wrong", |r| r.method == "GET" && r.path == "/wrong").await;

    // ---- publish: a signed delivery arrives and verifies
    let first = publish(&http, &base, &token, "Thông báo số 1").await;
    assert_eq!(first["log_index"], 0);
    let d = sub.wait_for("the first delivery", |r| r.method == "POST" && r.path == "/a").await;
    check_delivery(&d, &cb_a, secret_a, &key, &trust);
    let page = d.json();
    assert_eq!(
        (page["start"].as_u64(), page["entries"].as_array().map(Vec::len)),
        (Some(0), Some(1))
    );
    let bytes = SignedRecord::from_base64(
        page["entries"][0]["record"].as_str().expect("record"),
        page["entries"][0]["kid"].as_str().expect("kid"),
        page["entries"][0]["sig"].as_str().expect("sig"),
    )
    .expect("envelope");
    match envelope::open(&bytes, &trust).expect("verifies").record() {
        Record::Item(item) => assert_eq!(item.id.as_str(), first["id"].as_str().expect("id")),
        other => panic!("not an item: {other:?}"),
    }

    // ---- retry: the subscriber fails, the delivery stays pending, then arrives on a retry
    sub.set("/a", true, 503);
    publish(&http, &base, &token, "Thông báo số 2").await;
    let at = |start: u64, status: u16| {
        move |r: &Received| {
            r.method == "POST"
                && r.path == "/a"
                && r.answered == status
                && serde_json::from_slice::<Value>(&r.body).is_ok_and(|p| p["start"] == start)
        }
    };
    sub.wait_for("the failing attempt", at(1, 503)).await;
    let report = wait_admin(&http, &base, &token, "the failure to be recorded", |r| {
        listed(r, "pending", &cb_a).first().is_some_and(|d| d["attempts"].as_u64() >= Some(1))
    })
    .await;
    sub.set("/a", true, 200);
    let pending = listed(&report, "pending", &cb_a)[0];
    assert_eq!((pending["from_index"].as_u64(), pending["to_index"].as_u64()), (Some(1), Some(2)));
    assert_eq!(pending["state"], "pending");
    assert_eq!(pending["last_error"], "HTTP 503");
    assert!(metrics(&http, &base).await["portal_websub_delivery_failures_total"] >= 1);
    let retried = sub.wait_for("the retried delivery", at(1, 200)).await;
    check_delivery(&retried, &cb_a, secret_a, &key, &trust);
    wait_admin(&http, &base, &token, "the queue to empty", |r| {
        listed(r, "pending", &cb_a).is_empty()
    })
    .await;

    // ---- the queue is durable: a delivery failing before a restart arrives after it
    sub.set("/a", true, 503);
    publish(&http, &base, &token, "Thông báo số 3").await;
    sub.wait_for("the attempt before the restart", at(2, 503)).await;
    assert!(server.terminate(), "SIGTERM stops the node cleanly");
    sub.set("/a", true, 200);
    server = Server::start(&bin, &data);
    base = server.base.clone();
    let resumed = sub.wait_for("the delivery after the restart", at(2, 200)).await;
    check_delivery(&resumed, &cb_a, secret_a, &key, &trust);

    // ---- a permanently failing callback ends as a dead letter
    assert_eq!(subscribe(&http, &base, &cb_dead, secret_dead).await, 202);
    wait_admin(&http, &base, &token, "dead to be active", |r| {
        !listed(r, "subscriptions", &cb_dead).is_empty()
    })
    .await;
    publish(&http, &base, &token, "Thông báo số 4").await;
    let report = wait_admin(&http, &base, &token, "a dead letter", |r| {
        !listed(r, "dead", &cb_dead).is_empty()
    })
    .await;
    let dead = listed(&report, "dead", &cb_dead)[0];
    assert_eq!((dead["from_index"].as_u64(), dead["attempts"].as_u64()), (Some(3), Some(4)));
    assert_eq!(
        (dead["state"].as_str(), dead["last_error"].as_str()),
        (Some("dead"), Some("HTTP 503"))
    );
    let attempts = sub.received(|r| r.method == "POST" && r.path == "/dead");
    assert_eq!(attempts.len(), 4, "max_attempts attempts, then no more");
    for a in &attempts {
        check_delivery(a, &cb_dead, secret_dead, &key, &trust);
    }
    sub.wait_for("the fourth delivery to a", at(3, 200)).await;
    wait_admin(&http, &base, &token, "no pending delivery", |r| r["counts"]["pending"] == 0).await;
    let m = metrics(&http, &base).await;
    assert_eq!(m["portal_websub_deliveries_dead"], 1, "{m:?}");
    assert_eq!(m["portal_websub_deliveries_pending"], 0, "{m:?}");
    assert_eq!(m["portal_websub_subscriptions_active"], 2, "{m:?}");
    assert!(m["portal_websub_delivered_total"] >= 2, "{m:?}");
    assert!(m["portal_websub_delivery_failures_total"] >= 4, "{m:?}");

    // ---- the wrong echo never became a subscription; nothing was ever sent to it or to /bad
    let report = admin(&http, &base, &token).await;
    assert!(listed(&report, "subscriptions", &cb_wrong).is_empty(), "{report:#}");
    assert!(sub.received(|r| r.path == "/wrong" && r.method == "POST").is_empty());
    assert!(sub.received(|r| r.path == "/bad").is_empty(), "a refused request is never verified");
    let text = report.to_string();
    for secret in [secret_a, secret_wrong, secret_dead] {
        assert!(!text.contains(secret), "the admin report never shows a secret");
    }

    // ---- unsubscribe: verified like a subscription, then gone
    let fields =
        [("hub.mode", "unsubscribe"), ("hub.topic", TOPIC), ("hub.callback", cb_a.as_str())];
    assert_eq!(form(&http, &base, &fields).await.0, 202);
    let check = sub
        .wait_for("verification of the unsubscription", |r| {
            r.method == "GET" && r.query.get("hub.mode").is_some_and(|m| m == "unsubscribe")
        })
        .await;
    assert_eq!(check.path, "/a");
    assert!(!check.query.contains_key("hub.lease_seconds"));
    wait_admin(&http, &base, &token, "a to be gone", |r| {
        listed(r, "subscriptions", &cb_a).is_empty()
    })
    .await;

    assert!(server.terminate(), "SIGTERM stops the node cleanly");
    sub_task.abort();
}

/// With the default configuration the hub never connects to loopback or private addresses: an IP
/// literal is refused at once, and a hostname that resolves to loopback is refused when it is
/// resolved. A canary listener on 127.0.0.1 must see no connection at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_the_hub_refuses_private_callbacks_and_never_connects() {
    let bin = tokio::task::spawn_blocking(portal_bin).await.expect("build");
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("node");
    let (ok, out, err) = portal(
        &bin,
        &[
            "init",
            "--data",
            data.to_str().expect("utf-8"),
            "--id",
            "bo-y-te",
            "--name",
            "Bộ Y tế",
            "--url",
            "http://127.0.0.1:9",
        ],
    );
    assert!(ok, "{err}");
    let token = crate::node::init_field(&out, "admin token:");
    let server = Server::start(&bin, &data);
    let base = server.base.clone();
    let http = client();

    let canary = TcpListener::bind("127.0.0.1:0").await.expect("canary");
    let port = canary.local_addr().expect("addr").port();
    let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = Arc::clone(&connections);
    let watcher = tokio::spawn(async move {
        while let Ok((_stream, _)) = canary.accept().await {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });

    for literal in [
        format!("http://127.0.0.1:{port}/cb"),
        format!("http://[::1]:{port}/cb"),
        "http://10.0.0.1/cb".to_owned(),
        "http://169.254.169.254/latest/meta-data".to_owned(),
    ] {
        let (status, body) = form(
            &http,
            &base,
            &[
                ("hub.mode", "subscribe"),
                ("hub.topic", TOPIC),
                ("hub.callback", &literal),
                ("hub.secret", "s3cret"),
            ],
        )
        .await;
        assert_eq!(status, 400, "{literal}: {body}");
        assert!(
            body["error"]["message"].as_str().is_some_and(|m| m.contains("non-public")),
            "{body}"
        );
    }
    // A hostname passes the form check; the resolver refuses it when the hub tries to verify.
    let by_name = format!("http://localhost:{port}/cb");
    assert_eq!(subscribe(&http, &base, &by_name, "s3cret").await, 202);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let report = admin(&http, &base, &token).await;
    assert!(listed(&report, "subscriptions", &by_name).is_empty(), "never subscribed: {report}");
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the canary saw a connection"
    );
    watcher.abort();
}
