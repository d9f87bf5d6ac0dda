//! The node's WebSub hub (SPEC.md §10) against a subscriber run by the test (the kit's fake
//! HTTP server), all on 127.0.0.1: verification of intent, signed deliveries that a subscriber
//! verifies with portal-proto alone, retries (also across a restart), dead letters, the admin
//! report and the metrics. Each test runs its own node.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portal_proto::crypto::{KeyId, PublicKey};
use portal_proto::envelope::{self, SignedRecord, TrustStore};
use portal_proto::push::{self, SignedRequest};
use portal_proto::record::{Descriptor, Record};
use portal_tests::api::{client, entry_record, metrics};
use portal_tests::fake::{FakeServer, Reply, Request};
use portal_tests::fixtures::{node, now};
use portal_tests::harness::{InitArgs, Node, NodeDir, bin_and_tmp, init};
use portal_tests::wait::{DEADLINE, until};
use serde_json::{Value, json};

/// The node's public URL (its config `url`); topics and the hub URL are derived from it, while
/// the process itself listens on 127.0.0.1:0.
const NODE_URL: &str = "http://127.0.0.1:9";
const HUB: &str = "http://127.0.0.1:9/websub";
const TOPIC: &str = "http://127.0.0.1:9/api/v1/log";

/// A subscriber: the fake server, answering each callback path as told.
struct Subscriber {
    server: FakeServer,
    /// Path → (echo the challenge, status for deliveries).
    behaviour: Arc<Mutex<BTreeMap<String, (bool, u16)>>>,
}

impl Subscriber {
    async fn start() -> Subscriber {
        let behaviour: Arc<Mutex<BTreeMap<String, (bool, u16)>>> = Arc::default();
        let b = Arc::clone(&behaviour);
        let server = FakeServer::serving(move |r: &Request| {
            let (echo, post_status) = *b.lock().expect("lock").get(&r.path)?;
            Some(match r.method.as_str() {
                "GET" if echo => {
                    let challenge =
                        r.query_pairs().get("hub.challenge").cloned().unwrap_or_default();
                    Reply::ok("text/plain", challenge)
                }
                "GET" => Reply::ok("text/plain", "not the challenge"),
                _ => Reply::with(post_status, "text/plain", "thanks"),
            })
        })
        .await;
        Subscriber { server, behaviour }
    }

    /// How `path` answers: echo the challenge or not, and the status of deliveries.
    fn set(&self, path: &str, echo: bool, post_status: u16) {
        self.behaviour.lock().expect("lock").insert(path.into(), (echo, post_status));
    }

    fn callback(&self, path: &str) -> String {
        format!("{}{path}", self.server.base())
    }

    async fn wait_for(&self, what: &str, pred: impl Fn(&Request) -> bool) -> Request {
        self.server.wait_for(what, DEADLINE, pred).await.expect("the subscriber's request")
    }

    fn received(&self, pred: impl Fn(&Request) -> bool) -> Vec<Request> {
        self.server.received(pred)
    }
}

/// A delivery to `/a` of the page starting at `start`, answered with `status`.
fn at(start: u64, status: u16) -> impl Fn(&Request) -> bool {
    move |r: &Request| {
        r.method == "POST"
            && r.path == "/a"
            && r.answered == status
            && serde_json::from_slice::<Value>(&r.body).is_ok_and(|p| p["start"] == start)
    }
}

/// A node with a hub set up for the test (1 s retry base, a dead letter after the 4th
/// failure, loopback callbacks allowed), its pinned descriptor read, and a subscriber.
struct Hub {
    _tmp: tempfile::TempDir,
    moh: NodeDir,
    server: Node,
    http: reqwest::Client,
    key: PublicKey,
    trust: TrustStore,
    sub: Subscriber,
}

impl Hub {
    async fn start() -> Hub {
        // The subscriber listens on 127.0.0.1: allow it, as a loopback deployment would.
        Hub::with_settings(&[
            ("retry_base_seconds", "1"),
            ("max_attempts", "4"),
            ("allow_private_callbacks", "true"),
        ])
        .await
    }

    async fn with_settings(settings: &[(&str, &str)]) -> Hub {
        let (bin, tmp) = bin_and_tmp().await;
        let args = InitArgs::new("bo-y-te", "Bộ Y tế", NODE_URL);
        let moh = init(&bin, &tmp.path().join("moh"), &args).expect("init");
        moh.configure(settings).expect("init writes the [websub] section");
        let server = moh.serve_loopback(&bin);
        let http = client();
        let (key, trust) = Hub::read_descriptor(&http, &server.base, &moh).await;
        Hub { _tmp: tmp, moh, server, http, key, trust, sub: Subscriber::start().await }
    }

    /// The descriptor (pinned to the key init printed) names the hub and gives the key.
    async fn read_descriptor(
        http: &reqwest::Client,
        base: &str,
        moh: &NodeDir,
    ) -> (PublicKey, TrustStore) {
        let url = format!("{base}/.well-known/portal-node");
        let desc = http.get(&url).send().await.expect("descriptor").bytes().await.expect("body");
        let mut pin = TrustStore::new();
        pin.add(node("bo-y-te"), moh.grant());
        let descriptor = envelope::open_as::<Descriptor>(
            &SignedRecord::from_json(&desc).expect("envelope"),
            &pin,
        )
        .expect("descriptor verifies");
        let descriptor = descriptor.record();
        assert_eq!(descriptor.endpoints.get("websub-hub").map(String::as_str), Some(HUB));
        assert_eq!(descriptor.endpoints.get("log").map(String::as_str), Some(TOPIC));
        let mut trust = TrustStore::new();
        for g in &descriptor.keys {
            trust.add(node("bo-y-te"), g.clone());
        }
        (descriptor.keys[0].public_key.clone(), trust)
    }

    fn base(&self) -> &str {
        &self.server.base
    }

    async fn form(&self, fields: &[(&str, &str)]) -> (u16, Value) {
        let resp = self
            .http
            .post(format!("{}/websub", self.base()))
            .form(fields)
            .send()
            .await
            .expect("post");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn subscribe(&self, callback: &str, secret: &str) -> u16 {
        let fields = [
            ("hub.mode", "subscribe"),
            ("hub.topic", TOPIC),
            ("hub.callback", callback),
            ("hub.secret", secret),
            ("hub.lease_seconds", "60"),
        ];
        self.form(&fields).await.0
    }

    /// Subscribe `path` (answering as told) and wait until the hub lists it as active.
    async fn subscribed(&self, path: &str, secret: &str, post_status: u16) -> String {
        self.sub.set(path, true, post_status);
        let cb = self.sub.callback(path);
        assert_eq!(self.subscribe(&cb, secret).await, 202);
        self.wait_admin(&format!("{path} to be active"), |r| {
            listed(r, "subscriptions", &cb).first().is_some_and(|s| s["active"] == true)
        })
        .await;
        cb
    }

    /// `/a` subscribed; the first publish delivered to it, then `/a` answers 503 and the
    /// second publish's delivery fails once. `/a`'s callback URL.
    async fn second_delivery_fails(&self) -> String {
        let cb_a = self.subscribed("/a", "secret of a", 200).await;
        self.publish("Thông báo số 1").await;
        self.sub.wait_for("the first delivery", at(0, 200)).await;
        self.sub.set("/a", true, 503);
        self.publish("Thông báo số 2").await;
        self.sub.wait_for("the failing attempt", at(1, 503)).await;
        cb_a
    }

    async fn admin(&self) -> Value {
        let resp = self
            .http
            .get(format!("{}/api/v1/admin/deliveries", self.base()))
            .bearer_auth(&self.moh.token)
            .send()
            .await
            .expect("admin");
        assert_eq!(resp.status(), 200);
        resp.json().await.expect("json")
    }

    /// Poll the admin report until `pred` holds; the report.
    async fn wait_admin(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let report = Mutex::new(Value::Null);
        let waited = until(what, DEADLINE, Duration::from_millis(50), || async {
            let r = self.admin().await;
            let ok = pred(&r);
            *report.lock().expect("lock") = r;
            ok
        })
        .await;
        let report = report.into_inner().expect("lock");
        waited.unwrap_or_else(|e| panic!("{e}: {report:#}"));
        report
    }

    async fn publish(&self, title: &str) -> Value {
        let draft = json!({"kind": "news", "language": "vi", "title": title,
                           "summary": "Tóm tắt", "content_html": "<p>Nội dung</p>"});
        portal_tests::api::publish(&self.http, self.base(), &self.moh.token, &draft)
            .await
            .expect("publish")
    }

    async fn metrics(&self) -> BTreeMap<String, f64> {
        metrics(&self.http, self.base()).await.expect("metrics")
    }

    /// Everything a subscriber checks on a delivery (SPEC.md §10), then the entries themselves.
    fn check_delivery(&self, r: &Request, callback: &str, secret: &str) {
        let header = |name: &str| r.header(name).unwrap_or_default();
        assert_eq!(r.method, "POST");
        assert_eq!(header("content-type"), "application/json");
        assert_eq!(header("link"), format!("<{HUB}>; rel=\"hub\", <{TOPIC}>; rel=\"self\""));
        push::verify_hub_signature(secret.as_bytes(), &r.body, header("x-hub-signature"))
            .expect("the HMAC verifies with the subscription's secret");
        assert!(
            push::verify_hub_signature(b"another secret", &r.body, header("x-hub-signature"))
                .is_err()
        );
        push::verify_content_digest(header("content-digest"), &r.body).expect("Content-Digest");
        let request = SignedRequest {
            method: &r.method,
            target_uri: callback,
            content_type: header("content-type"),
            content_digest: header("content-digest"),
        };
        let keys = |kid: &KeyId| (*kid == self.key.key_id()).then(|| self.key.clone());
        let kid = push::verify_request(
            &request,
            header("signature-input"),
            header("signature"),
            &keys,
            now().unix(),
            push::MAX_SKEW_SECONDS,
        )
        .expect("the RFC 9421 signature verifies against the descriptor's key");
        assert_eq!(kid, self.key.key_id());

        let page = r.json();
        assert_eq!(page["origin"], "bo-y-te");
        assert!(page["checkpoint"].as_str().is_some_and(|c| !c.is_empty()), "{page}");
        let start = page["start"].as_u64().expect("start");
        let entries = page["entries"].as_array().expect("entries");
        assert!(!entries.is_empty());
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(e["index"].as_u64(), Some(start + i as u64));
            let verified = envelope::open(&entry_record(e).expect("envelope"), &self.trust)
                .expect("every delivered entry verifies");
            assert!(matches!(verified.record(), Record::Item(_)));
        }
    }

    fn stop(self) {
        assert!(self.server.terminate(), "SIGTERM stops the node cleanly");
    }
}

fn listed<'a>(report: &'a Value, list: &str, callback: &str) -> Vec<&'a Value> {
    report[list].as_array().expect("list").iter().filter(|d| d["callback"] == callback).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_subscription_requests_get_a_400_naming_the_parameter_and_are_never_verified() {
    let hub = Hub::start().await;
    hub.sub.set("/bad", true, 200);
    let bad_callback = hub.sub.callback("/bad");
    let good = |name: &str| -> (&'static str, String) {
        match name {
            "hub.mode" => ("hub.mode", "subscribe".into()),
            "hub.topic" => ("hub.topic", TOPIC.into()),
            "hub.callback" => ("hub.callback", bad_callback.clone()),
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
    for (param, value) in &cases {
        let mut fields: Vec<(&str, String)> =
            ["hub.mode", "hub.topic", "hub.callback", "hub.secret"].map(good).into();
        fields.retain(|(k, _)| k != param);
        if let Some(v) = value {
            fields.push((param, (*v).to_owned()));
        }
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body) = hub.form(&fields).await;
        assert_eq!(status, 400, "{param} = {value:?}: {body}");
        assert_eq!(body["error"]["parameter"], *param, "{body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains(param)), "{body}");
    }
    let resp = hub
        .http
        .post(format!("{}/websub", hub.base()))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 400, "a body that is not a form");
    let resp = hub
        .http
        .get(format!("{}/api/v1/admin/deliveries", hub.base()))
        .bearer_auth("wrong")
        .send()
        .await
        .expect("admin");
    assert_eq!(resp.status(), 401, "the admin report needs the editors' token");
    // A good subscription after them is verified; the refused ones never were.
    hub.subscribed("/a", "secret of a", 200).await;
    assert!(
        hub.sub.received(|r| r.path == "/bad").is_empty(),
        "a refused request is never verified"
    );
    hub.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribing_verifies_intent_and_a_publish_delivers_a_signed_page() {
    let hub = Hub::start().await;
    hub.sub.set("/a", true, 200);
    let cb_a = hub.sub.callback("/a");
    assert_eq!(hub.subscribe(&cb_a, "secret of a").await, 202);
    // Verification of intent with a fresh challenge; the lease is clamped.
    let check =
        hub.sub.wait_for("verification of a", |r| r.method == "GET" && r.path == "/a").await;
    let query = check.query_pairs();
    assert_eq!(query.get("hub.mode").map(String::as_str), Some("subscribe"));
    assert_eq!(query.get("hub.topic").map(String::as_str), Some(TOPIC));
    assert_eq!(query.get("hub.lease_seconds").map(String::as_str), Some("300"));
    let challenge = query.get("hub.challenge").expect("challenge");
    assert!(
        challenge.len() >= 32 && challenge.bytes().all(|b| b.is_ascii_hexdigit()),
        "at least 128 random bits: {challenge}"
    );
    hub.wait_admin("a to be active", |r| {
        listed(r, "subscriptions", &cb_a).first().is_some_and(|s| s["active"] == true)
    })
    .await;

    let first = hub.publish("Thông báo số 1").await;
    assert_eq!(first["log_index"], 0);
    let d = hub.sub.wait_for("the first delivery", |r| r.method == "POST" && r.path == "/a").await;
    hub.check_delivery(&d, &cb_a, "secret of a");
    let page = d.json();
    assert_eq!(
        (page["start"].as_u64(), page["entries"].as_array().map(Vec::len)),
        (Some(0), Some(1))
    );
    let signed = entry_record(&page["entries"][0]).expect("envelope");
    match envelope::open(&signed, &hub.trust).expect("verifies").record() {
        Record::Item(item) => assert_eq!(item.id.as_str(), first["id"].as_str().expect("id")),
        other => panic!("not an item: {other:?}"),
    }
    hub.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_echo_never_becomes_a_subscription_and_no_secret_is_ever_shown() {
    let hub = Hub::start().await;
    let (secret_a, secret_wrong) = ("secret of a", "secret of the wrong echo");
    let cb_a = hub.subscribed("/a", secret_a, 200).await;
    hub.sub.set("/wrong", false, 200);
    let cb_wrong = hub.sub.callback("/wrong");
    assert_eq!(hub.subscribe(&cb_wrong, secret_wrong).await, 202);
    hub.sub.wait_for("verification of wrong", |r| r.method == "GET" && r.path == "/wrong").await;
    hub.publish("Thông báo số 1").await;
    hub.sub.wait_for("the delivery to a", at(0, 200)).await;
    let report = hub.admin().await;
    assert!(listed(&report, "subscriptions", &cb_wrong).is_empty(), "{report:#}");
    assert!(!listed(&report, "subscriptions", &cb_a).is_empty(), "{report:#}");
    assert!(hub.sub.received(|r| r.path == "/wrong" && r.method == "POST").is_empty());
    let text = report.to_string();
    for secret in [secret_a, secret_wrong] {
        assert!(!text.contains(secret), "the admin report never shows a secret");
    }
    hub.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delivery_stays_pending_and_arrives_on_a_retry() {
    let hub = Hub::start().await;
    let cb_a = hub.second_delivery_fails().await;
    let report = hub
        .wait_admin("the failure to be recorded", |r| {
            listed(r, "pending", &cb_a).first().is_some_and(|d| d["attempts"].as_u64() >= Some(1))
        })
        .await;
    hub.sub.set("/a", true, 200);
    let pending = listed(&report, "pending", &cb_a)[0];
    assert_eq!((pending["from_index"].as_u64(), pending["to_index"].as_u64()), (Some(1), Some(2)));
    assert_eq!(pending["state"], "pending");
    assert_eq!(pending["last_error"], "HTTP 503");
    assert!(hub.metrics().await["portal_websub_delivery_failures_total"] >= 1.0);
    let retried = hub.sub.wait_for("the retried delivery", at(1, 200)).await;
    hub.check_delivery(&retried, &cb_a, "secret of a");
    hub.wait_admin("the queue to empty", |r| listed(r, "pending", &cb_a).is_empty()).await;
    hub.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_failing_before_a_restart_arrives_after_it() {
    let mut hub = Hub::start().await;
    let cb_a = hub.second_delivery_fails().await;
    assert!(hub.server.stop(), "SIGTERM stops the node cleanly");
    hub.sub.set("/a", true, 200);
    hub.server.start_again().expect("the node starts again on the same data");
    let resumed = hub.sub.wait_for("the delivery after the restart", at(1, 200)).await;
    hub.check_delivery(&resumed, &cb_a, "secret of a");
    hub.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanently_failing_callback_ends_as_a_dead_letter_after_max_attempts() {
    let hub = Hub::start().await;
    let secret_dead = "secret of the dead end";
    hub.subscribed("/a", "secret of a", 200).await;
    for i in 0..3 {
        hub.publish(&format!("Thông báo số {}", i + 1)).await;
    }
    hub.sub.wait_for("the third delivery to a", at(2, 200)).await;
    let cb_dead = hub.subscribed("/dead", secret_dead, 503).await;
    hub.publish("Thông báo số 4").await;
    let report = hub.wait_admin("a dead letter", |r| !listed(r, "dead", &cb_dead).is_empty()).await;
    let dead = listed(&report, "dead", &cb_dead)[0];
    assert_eq!((dead["from_index"].as_u64(), dead["attempts"].as_u64()), (Some(3), Some(4)));
    assert_eq!(
        (dead["state"].as_str(), dead["last_error"].as_str()),
        (Some("dead"), Some("HTTP 503"))
    );
    let attempts = hub.sub.received(|r| r.method == "POST" && r.path == "/dead");
    assert_eq!(attempts.len(), 4, "max_attempts attempts, then no more");
    for a in &attempts {
        hub.check_delivery(a, &cb_dead, secret_dead);
    }
    hub.sub.wait_for("the fourth delivery to a", at(3, 200)).await;
    hub.wait_admin("no pending delivery", |r| r["counts"]["pending"] == 0).await;
    let m = hub.metrics().await;
    assert_eq!(m["portal_websub_deliveries_dead"], 1.0, "{m:?}");
    assert_eq!(m["portal_websub_deliveries_pending"], 0.0, "{m:?}");
    assert_eq!(m["portal_websub_subscriptions_active"], 2.0, "{m:?}");
    assert!(m["portal_websub_delivered_total"] >= 2.0, "{m:?}");
    assert!(m["portal_websub_delivery_failures_total"] >= 4.0, "{m:?}");
    assert!(
        !hub.admin().await.to_string().contains(secret_dead),
        "the admin report never shows a secret"
    );
    hub.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribing_is_verified_like_a_subscription_then_the_callback_is_gone() {
    let hub = Hub::start().await;
    let cb_a = hub.subscribed("/a", "secret of a", 200).await;
    let fields =
        [("hub.mode", "unsubscribe"), ("hub.topic", TOPIC), ("hub.callback", cb_a.as_str())];
    assert_eq!(hub.form(&fields).await.0, 202);
    let check = hub
        .sub
        .wait_for("verification of the unsubscription", |r| {
            r.method == "GET" && r.query_pairs().get("hub.mode").is_some_and(|m| m == "unsubscribe")
        })
        .await;
    assert_eq!(check.path, "/a");
    assert!(!check.query_pairs().contains_key("hub.lease_seconds"));
    hub.wait_admin("a to be gone", |r| listed(r, "subscriptions", &cb_a).is_empty()).await;
    hub.stop();
}

/// With the default configuration the hub never connects to loopback or private addresses:
/// every IP-literal target of the SSRF matrix (`portal_client::ssrf::matrix`: private blocks,
/// and the NAT64, 6to4, Teredo, SIIT, mapped and compatible forms embedding them) and every
/// other scheme is refused at once, and a hostname that resolves to loopback is refused when
/// it is resolved. A canary listener on 127.0.0.1 must see no connection at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_the_hub_refuses_private_callbacks_and_never_connects() {
    let hub = Hub::with_settings(&[]).await;
    let canary = FakeServer::start().await;
    let port = canary.port();
    let matrix = portal_client::ssrf::matrix(port);
    let mut tried = BTreeSet::new();
    for target in &matrix {
        let literal = portal_client::Url::parse(&target.url).is_ok_and(|u| {
            u.host_str().is_some_and(|h| h.starts_with('[') || h.parse::<IpAddr>().is_ok())
        });
        // Names pass the form check (`localhost` is resolved below; user information in a
        // callback is not the hub's rule).
        if !literal && target.category != "scheme" {
            continue;
        }
        let fields = [
            ("hub.mode", "subscribe"),
            ("hub.topic", TOPIC),
            ("hub.callback", target.url.as_str()),
            ("hub.secret", "s3cret"),
        ];
        let (status, body) = hub.form(&fields).await;
        assert_eq!(status, 400, "{} {}: {body}", target.category, target.url);
        let expected = if target.category == "scheme" { "http or https" } else { "non-public" };
        assert!(
            body["error"]["message"].as_str().is_some_and(|m| m.contains(expected)),
            "{} {}: {body}",
            target.category,
            target.url
        );
        tried.insert(target.category);
    }
    let untried: Vec<&str> =
        matrix.iter().map(|t| t.category).filter(|c| !tried.contains(c)).collect();
    assert_eq!(untried, ["credentials"], "every other category was tried");
    // A hostname passes the form check; the resolver refuses it when the hub tries to verify.
    let by_name = format!("http://localhost:{port}/cb");
    assert_eq!(hub.subscribe(&by_name, "s3cret").await, 202);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let report = hub.admin().await;
    assert!(listed(&report, "subscriptions", &by_name).is_empty(), "never subscribed: {report}");
    assert_eq!(canary.accepted(), 0, "the canary saw a connection");
}
