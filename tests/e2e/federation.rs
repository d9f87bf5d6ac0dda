//! A federation on 127.0.0.1: ministry nodes and a central node, each a real `portal serve`
//! process. The central pins its members with `portal member add`, follows their logs (push
//! and polling), and serves the national view, whose every entry a third party verifies
//! against the ministry's own key. Then the failures, one test each: a member that was down,
//! an impostor at a member's URL, a member that equivocates, a redirect to a private address,
//! and kill -9 of the central during ingest.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use portal_proto::api::paths;
use portal_proto::checkpoint::{self, NoteVerifier};
use portal_proto::envelope::{self, SignedRecord};
use portal_proto::feed::{self, Visible};
use portal_proto::record::Record;
use portal_proto::verifier::{LogVerifier, RosterTrust, checkpoint_origin};
use portal_tests::api::{
    client, get_bytes, get_json, incidents, member_sizes, metrics_text, national_feed, news_draft,
    open_national_entry, post_json, title_of, whole_log,
};
use portal_tests::fake::{FakeServer, Reply};
use portal_tests::fixtures::node;
use portal_tests::harness::{
    Federation, InitArgs, Node, NodeDir, add_members, bin_and_tmp, copy_dir, init, member_add,
    portal,
};
use portal_tests::wait::eventually;
use serde_json::{Value, json};

const MOH: (&str, &str) = ("bo-y-te", "Bộ Y tế");
const MOET: (&str, &str) = ("bo-giao-duc", "Bộ Giáo dục và Đào tạo");
const MOF: (&str, &str) = ("bo-tai-chinh", "Bộ Tài chính");

/// A running federation of `members` and the central, with its temporary directory.
struct Fed {
    f: Federation,
    tmp: tempfile::TempDir,
    http: reqwest::Client,
}

impl Fed {
    async fn start(members: &[(&str, &str)]) -> Fed {
        let (bin, tmp) = bin_and_tmp().await;
        let f = Federation::start(&bin, tmp.path(), members).expect("the federation starts");
        Fed { f, tmp, http: client() }
    }

    /// A federation of `member` alone, which is then stopped (SIGTERM); its directory.
    async fn with_stopped(member: (&str, &str)) -> (Fed, NodeDir) {
        let mut fed = Fed::start(&[member]).await;
        assert!(fed.f.stop(member.0), "{} stops", member.0);
        let dir = fed.f.dir(member.0).clone();
        (fed, dir)
    }

    fn central(&self) -> &str {
        self.f.central_base()
    }

    async fn publish(&self, id: &str, title: &str) -> Value {
        let m = self.f.dir(id);
        portal_tests::api::publish(&self.http, &m.url, &m.token, &news_draft(title))
            .await
            .expect("publish")
    }

    async fn national(&self) -> feed::DecodedFeed {
        national_feed(&self.http, self.central()).await.expect("national feed")
    }

    async fn national_has(&self, title: &str) -> bool {
        self.national().await.entries.iter().any(|e| title_of(e) == Some(title))
    }

    async fn incidents(&self, member: &str) -> Vec<Value> {
        incidents(&self.http, self.central(), member).await.expect("incidents")
    }

    /// `portal publish` of a draft straight into a stopped node's store.
    fn publish_offline(&self, data: &NodeDir, title: &str) {
        let draft = self.tmp.path().join("draft.json");
        let body = json!({"kind": "announcement", "language": "vi", "title": title,
                          "summary": "", "content_html": "<p>x</p>"});
        std::fs::write(&draft, body.to_string()).expect("draft");
        let out = portal(
            &self.f.bin,
            &["publish", "--data", data.data_arg(), draft.to_str().expect("utf-8")],
        );
        assert!(out.ok(), "offline publish: {}", out.stderr);
    }

    fn stop_central(self) {
        let mut f = self.f;
        assert!(f.stop("chinh-phu"), "SIGTERM stops the central cleanly");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_central_pins_its_members_and_signs_a_roster_of_their_keys() {
    let (bin, tmp) = bin_and_tmp().await;
    let mut f = Federation::init(&bin, tmp.path(), &[MOH, MOET, MOF]).expect("init");
    f.serve_all().expect("serve");
    for m in &f.members {
        let out = member_add(&bin, &f.central, &m.url, Some(&m.key));
        assert!(out.ok(), "member add {}: {}", m.id, out.stderr);
        assert!(
            out.stdout.contains(&m.id) && out.stdout.contains(&m.key.key_id().to_string()),
            "{}",
            out.stdout
        );
    }
    let wrong = member_add(&bin, &f.central, &f.members[0].url, Some(&f.central.key));
    assert!(
        !wrong.ok() && wrong.stderr.contains("pin mismatch"),
        "a wrong pin is refused: {}",
        wrong.stderr
    );
    let list = portal(&bin, &["member", "list", "--data", f.central.data_arg()]);
    assert!(
        list.ok() && list.stdout.lines().filter(|l| l.contains("[active]")).count() == 3,
        "{}",
        list.stdout
    );

    // The roster is signed by the central key and lists the three members with their keys.
    let url = format!("{}/api/v1/roster", f.central_base());
    let roster_env = get_bytes(&client(), &url).await.expect("roster");
    let roster = RosterTrust::open(
        &SignedRecord::from_json(&roster_env).expect("envelope"),
        &f.central_trust(),
        None,
    )
    .expect("the roster verifies against the central key");
    assert_eq!(roster.roster().record().members.len(), 3);
    assert!(f.stop("chinh-phu"), "SIGTERM stops the central cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_reaches_the_national_feed_verifiable_with_the_ministrys_key_alone() {
    let fed = Fed::start(&[MOH, MOET]).await;
    fed.publish("bo-y-te", "Bộ Y tế công bố kế hoạch tiêm chủng").await;
    fed.publish("bo-giao-duc", "Lịch thi tốt nghiệp 2027").await;
    eventually("two items in the national feed", || async {
        fed.national().await.entries.len() >= 2
    })
    .await;
    let national = fed.national().await;
    let self_link = national.links.iter().find(|(rel, _)| rel == "self").map(|(_, h)| h.as_str());
    assert_eq!(self_link, Some(format!("{}/feeds/national/atom", fed.central()).as_str()));
    // A third party trusts the ministries' keys, never the central's, for their items.
    for r in feed::verify_entries(&national, &fed.f.member_trust()) {
        r.expect("every national entry verifies against its ministry's key");
    }
    assert!(fed.national_has("Bộ Y tế công bố kế hoạch tiêm chủng").await);
    fed.stop_central();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn national_search_finds_vietnamese_typed_with_or_without_diacritics() {
    let fed = Fed::start(&[MOH, MOET]).await;
    let a = fed.publish("bo-y-te", "Bộ Y tế công bố kế hoạch tiêm chủng").await;
    fed.publish("bo-giao-duc", "Lịch thi tốt nghiệp 2027").await;
    let search = |q: &'static str| {
        let (http, central) = (fed.http.clone(), fed.central().to_owned());
        async move {
            let url = format!("{central}/api/v1/national/search");
            let url = reqwest::Url::parse_with_params(&url, &[("q", q)]).expect("url");
            get_json(&http, url.as_str()).await.expect("search")
        }
    };
    eventually("search finds both items", || async {
        search("Bộ Y tế").await["total"].as_u64() == Some(1)
            && search("lich thi").await["total"].as_u64() == Some(1)
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
    fed.stop_central();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawal_becomes_a_tombstone_and_every_national_entry_carries_its_receipt() {
    let fed = Fed::start(&[MOH]).await;
    let a = fed.publish("bo-y-te", "Bộ Y tế công bố kế hoạch tiêm chủng").await;
    fed.publish("bo-y-te", "Thông báo thứ hai").await;
    let moh = fed.f.dir("bo-y-te");
    let id = a["id"].as_str().expect("id");
    let resp = fed
        .http
        .post(format!("{}/api/v1/items/{id}/withdraw", moh.url))
        .bearer_auth(&moh.token)
        .json(&json!({"state": "withdrawn", "explanation": "Thông tin đã được thay thế"}))
        .send()
        .await
        .expect("withdraw");
    assert!(resp.status().is_success(), "withdraw: {}", resp.status());
    eventually("the tombstone in the national feed", || async {
        fed.national().await.entries.iter().any(|e| {
            matches!(&e.visible, Visible::Tombstone { comment, .. } if comment.as_deref() == Some("Thông tin đã được thay thế"))
        })
    })
    .await;

    // The national log pairs each member record with the central's receipt.
    let log =
        get_json(&fed.http, &format!("{}/api/v1/national/log", fed.central())).await.expect("log");
    let entries = log["entries"].as_array().expect("entries");
    assert!(entries.len() >= 3);
    let (members, central) = (fed.f.member_trust(), fed.f.central_trust());
    for e in entries {
        let index = e["index"].as_u64().expect("index");
        open_national_entry(e, index, &members, &central)
            .expect("the member record verifies with its ministry, the receipt with the central");
    }
    fed.stop_central();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_central_cosigns_its_members_checkpoints_as_a_witness() {
    let fed = Fed::start(&[MOH]).await;
    fed.publish("bo-y-te", "Bộ Y tế công bố kế hoạch tiêm chủng").await;
    let name = checkpoint_origin(&node("chinh-phu"));
    let cosigner =
        NoteVerifier::cosignature(&name, fed.f.central.key.as_bytes()).expect("verifier");
    let url = format!("{}/api/v1/members/bo-y-te/checkpoint", fed.central());
    let cosigned = |note: &str| {
        checkpoint::SignedNote::parse(note).is_ok_and(|parsed| {
            parsed.signatures.iter().any(|s| cosigner.verify_signature(&parsed.text, s).is_ok())
        })
    };
    eventually("a cosigned checkpoint of the member", || async {
        portal_tests::api::get_text(&fed.http, &url).await.is_ok_and(|n| cosigned(&n))
    })
    .await;
    let note = portal_tests::api::get_text(&fed.http, &url).await.expect("witness");
    assert!(cosigned(&note), "the central cosigned the member's checkpoint: {note}");
    fed.stop_central();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_was_down_is_reported_unreachable_and_then_caught_up() {
    let (mut fed, moet) = Fed::with_stopped(MOET).await;
    fed.publish_offline(&moet, "Thông báo khi máy chủ tạm dừng");
    eventually("an unreachable incident for the stopped member", || async {
        fed.incidents("bo-giao-duc").await.iter().any(|i| i["code"] == "unreachable")
    })
    .await;
    fed.f.serve("bo-giao-duc").expect("moet starts again");
    eventually("the member that was down caught up", || async {
        fed.national_has("Thông báo khi máy chủ tạm dừng").await
    })
    .await;
    fed.stop_central();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_signed_by_an_impostor_at_a_members_url_never_enter_the_national_view() {
    let (fed, mof) = Fed::with_stopped(MOF).await;
    let impostor_data = fed.tmp.path().join("impostor");
    let args = InitArgs::new("bo-tai-chinh", "Giả mạo", &mof.url);
    let impostor = init(&fed.f.bin, &impostor_data, &args).expect("impostor init");
    fed.publish_offline(&impostor, "Thông báo giả mạo");
    let _impostor_srv = impostor.serve(&fed.f.bin);
    eventually("an incident for the impostor's records", || async {
        fed.incidents("bo-tai-chinh").await.iter().any(|i| {
            ["unknown-key", "bad-signature"].contains(&i["code"].as_str().unwrap_or_default())
        })
    })
    .await;
    let national = fed.national().await;
    for r in feed::verify_entries(&national, &fed.f.member_trust()) {
        r.expect("nothing of the impostor's entered the national view");
    }
    fed.stop_central();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_equivocating_member_is_caught_with_both_checkpoint_notes_and_counted() {
    let mut fed = Fed::start(&[MOH]).await;
    fed.publish("bo-y-te", "Trước khi tách nhánh").await;
    let moh = fed.f.dir("bo-y-te").clone();
    assert!(fed.f.stop("bo-y-te"), "moh stops");
    let fork = fed.tmp.path().join("moh-fork");
    copy_dir(&moh.data, &fork).expect("copy the data");
    fed.f.serve("bo-y-te").expect("moh starts");
    let x = fed.publish("bo-y-te", "Phiên bản A").await;
    let size_a = x["log_index"].as_u64().expect("index") + 1;
    eventually("the central holds history A", || async {
        member_sizes(&fed.http, fed.central())
            .await
            .is_ok_and(|s| s.get("bo-y-te") == Some(&size_a))
    })
    .await;
    assert!(fed.f.stop("bo-y-te"), "moh stops again");
    let _fork_srv = Node::start_at_url(&fed.f.bin, &fork);
    fed.publish("bo-y-te", "Phiên bản B").await;
    eventually("an equivocation incident with both notes", || async {
        fed.incidents("bo-y-te").await.iter().any(|i| {
            i["code"] == "inconsistent-checkpoint"
                && i["evidence"]["note"].is_string()
                && i["evidence"]["previous"].is_string()
                && i["evidence"]["note"] != i["evidence"]["previous"]
        })
    })
    .await;
    // Incidents are counted in /metrics.
    let metrics = metrics_text(&fed.http, fed.central()).await.expect("metrics");
    assert!(
        metrics.contains("portal_incidents_total{code=\"inconsistent-checkpoint\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("portal_member_records{member=\"bo-y-te\"}"), "{metrics}");
    fed.stop_central();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_add_refuses_a_redirect_to_a_private_address_and_other_schemes() {
    let fed = Fed::start(&[]).await;
    let redirector = FakeServer::serving(|_| {
        Some(Reply::redirect("http://10.255.255.1:80/.well-known/portal-node"))
    })
    .await;
    let out = member_add(&fed.f.bin, &fed.f.central, &redirector.base(), None);
    assert!(
        !out.ok() && out.stderr.contains("refused"),
        "a redirect off the member's origin is refused: {}",
        out.stderr
    );
    for url in ["ftp://127.0.0.1:1/", "file:///etc/passwd", "gopher://127.0.0.1:1/"] {
        let out = member_add(&fed.f.bin, &fed.f.central, url, None);
        assert!(
            !out.ok() && out.stderr.contains("refused: scheme"),
            "{url} is refused by scheme: {}",
            out.stderr
        );
    }
    fed.stop_central();
}

/// The reason a refusal of `target` names: its scheme, its user information, or its address.
fn refusal_reason(target: &portal_client::ssrf::Target) -> &'static str {
    match target.category {
        "scheme" => "scheme",
        "credentials" => "user information",
        _ => "public address",
    }
}

/// A central with its default settings (no `allow_private_members`) refuses every target of
/// the SSRF matrix (`portal_client::ssrf::matrix`), naming why, before connecting anywhere:
/// through `portal member add` on its stopped store and through `POST /api/v1/admin/members`
/// while it runs. The loopback canary the targets point at sees no connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_member_add_and_the_admin_api_refuse_the_ssrf_matrix() {
    let (bin, tmp) = bin_and_tmp().await;
    let mut f = Federation::init(&bin, tmp.path(), &[]).expect("init");
    f.central.configure(&[("allow_private_members", "false")]).expect("configure");
    let canary = FakeServer::start().await;
    let targets = portal_client::ssrf::matrix(canary.port());
    for t in &targets {
        let out = member_add(&bin, &f.central, &t.url, None);
        assert!(
            !out.ok() && out.stderr.contains("refused") && out.stderr.contains(refusal_reason(t)),
            "`portal member add {}` ({}): {}",
            t.url,
            t.category,
            out.stderr
        );
    }
    f.serve("chinh-phu").expect("the central serves");
    let http = client();
    let admin = format!("{}{}", f.central.url, paths::ADMIN_MEMBERS);
    for t in &targets {
        let (status, body) = post_json(&http, &admin, &f.central.token, &json!({"url": t.url}))
            .await
            .expect("the admin API answers");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            (400..=502).contains(&status)
                && message.contains("refused")
                && message.contains(refusal_reason(t)),
            "POST {admin} {} ({}): {status} {body}",
            t.url,
            t.category
        );
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(canary.accepted(), 0, "a refused member URL reached the canary");
    // Nothing joined: the central still has no roster.
    let members = get_json(&http, &format!("{}/api/v1/members", f.central.url)).await;
    assert!(members.as_ref().is_err_and(|e| e.contains("not-an-aggregator")), "{members:?}");
    assert!(f.stop("chinh-phu"), "SIGTERM stops the central cleanly");
}

/// The ministries publish until `stop`, each publish acknowledged.
fn publish_throughout(fed: &Fed, stop: &Arc<AtomicBool>) -> Vec<tokio::task::JoinHandle<()>> {
    fed.f
        .members
        .iter()
        .map(|m| {
            let (http, stop, m) = (fed.http.clone(), Arc::clone(stop), m.clone());
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let draft = news_draft(&format!("Tin trong lúc thử {i}"));
                    portal_tests::api::publish(&http, &m.url, &m.token, &draft)
                        .await
                        .expect("publish");
                    i += 1;
                    tokio::time::sleep(Duration::from_millis(15)).await;
                }
            })
        })
        .collect()
}

/// Start the central, let it ingest for a while, record what it held, kill -9 it; `rounds`
/// times. What it held just before each kill: proof that the kills land during ingest.
async fn kill_the_central_repeatedly(fed: &Fed, rounds: usize) -> Vec<u64> {
    let mut held_before_kill = Vec::new();
    for round in 0..rounds {
        let mut central = Node::start_at_url(&fed.f.bin, &fed.f.central.data);
        let pause = 200 + (round as u64 * 137) % 500;
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let sizes = fed
            .http
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
        central.kill9();
    }
    held_before_kill
}

/// The national log equals the members' logs (`truth`): every record once, in each member's
/// order, the member's exact bytes, no gap, no index signed twice.
fn assert_national_equals_members(fed: &Fed, national: &[Value], truth: &[Vec<Value>]) {
    let central = fed.f.central_trust();
    let mut own = LogVerifier::new(node(&fed.f.central.id), vec![fed.f.central.grant()]);
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    for (i, e) in national.iter().enumerate() {
        assert_eq!(e["index"].as_u64(), Some(i as u64), "the national log has no gap");
        let receipt = SignedRecord::from_json(e["receipt"].to_string().as_bytes())
            .expect("every entry is a receipt");
        own.push(&receipt).expect("the central's log verifies: no index signed twice");
        let Record::Receipt(r) =
            envelope::open(&receipt, &central).expect("receipt").into_parts().0
        else {
            panic!("a receipt")
        };
        let next = seen.entry(r.member.to_string()).or_default();
        assert_eq!(r.member_index, *next, "{}: each record once, in order", r.member);
        *next += 1;
        let m =
            fed.f.members.iter().position(|m| m.id == r.member.as_str()).expect("a known member");
        let truth_entry = &truth[m][r.member_index as usize];
        assert_eq!(e["member"]["record"], truth_entry["record"], "the member's exact bytes");
        assert_eq!(e["member"]["sig"], truth_entry["sig"]);
    }
    for (m, t) in fed.f.members.iter().zip(truth) {
        assert_eq!(seen.get(&m.id).copied(), Some(t.len() as u64), "{}: nothing missing", m.id);
    }
}

/// The items among log entries (a log page's entry is the envelope plus its `index`).
fn count_items(entries: &[Vec<Value>]) -> u64 {
    entries
        .iter()
        .flatten()
        .filter(|t| {
            let envelope = json!({"kid": t["kid"], "record": t["record"], "sig": t["sig"]});
            let signed = SignedRecord::from_json(envelope.to_string().as_bytes()).expect("record");
            matches!(envelope::parse_record(signed.bytes()), Ok(Record::Item(_)))
        })
        .count() as u64
}

/// kill -9 of the central during ingest, over and over, while the ministries keep publishing;
/// then the national log must equal the ministries' logs exactly: every record once, in each
/// member's order, no gap, every receipt signed once per index. 3 rounds by default, 20 with
/// `PORTAL_CRASH_LOOP=1` (`PORTAL_CRASH_LOOP=1 cargo test -p portal-tests --test e2e
/// kill_9_of_the_central -- --nocapture`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_central_during_ingest_loses_and_duplicates_nothing() {
    let rounds: usize = if std::env::var_os("PORTAL_CRASH_LOOP").is_some() { 20 } else { 3 };
    let (bin, tmp) = bin_and_tmp().await;
    let mut f = Federation::init(&bin, tmp.path(), &[MOH, MOF]).expect("init");
    // Small pages: ingest spans many commits, so the kills land in the middle of it.
    f.central.configure(&[("page_size", "7")]).expect("config");
    for id in ["bo-y-te", "bo-tai-chinh"] {
        f.serve(id).expect("serve");
    }
    let fed = Fed { f, tmp, http: client() };
    for m in &fed.f.members {
        for i in 0..100 {
            fed.publish(&m.id, &format!("Tin trước {i}")).await;
        }
    }
    // The roster, edited while the central is stopped (in-process path of `portal member`).
    fed.f.add_members().expect("member add");

    let stop = Arc::new(AtomicBool::new(false));
    let publishers = publish_throughout(&fed, &stop);
    let started = Instant::now();
    let held_before_kill = kill_the_central_repeatedly(&fed, rounds).await;
    stop.store(true, Ordering::SeqCst);
    for p in publishers {
        p.await.expect("publisher");
    }

    // After the last restart the central catches up with both members, exactly.
    let central_srv = Node::start_at_url(&fed.f.bin, &fed.f.central.data);
    let central = central_srv.base.clone();
    let mut truth = Vec::new();
    for m in &fed.f.members {
        truth.push(whole_log(&fed.http, &m.url, "/api/v1/log").await.expect("log"));
    }
    eventually("the central holds both members' whole logs", || async {
        let sizes = member_sizes(&fed.http, &central).await.unwrap_or_default();
        fed.f.members.iter().zip(&truth).all(|(m, t)| sizes.get(&m.id) == Some(&(t.len() as u64)))
    })
    .await;
    let national = whole_log(&fed.http, &central, "/api/v1/national/log").await.expect("log");
    assert_national_equals_members(&fed, &national, &truth);
    // The search index survived the kills too: each restart indexed what the index's commit
    // marks said it lacked, so every item is searchable, none twice.
    let items = count_items(&truth);
    eventually("every item in the national search", || async {
        let v = get_json(&fed.http, &format!("{central}/api/v1/national/search?q=")).await;
        v.is_ok_and(|v| v["total"].as_u64() == Some(items))
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
    let (bin, tmp) = bin_and_tmp().await;
    let members = [("so-y-te-ha-noi", "Sở Y tế Hà Nội"), ("ubnd-ha-noi", "UBND thành phố Hà Nội")];
    let mut f = Federation::init(&bin, tmp.path(), &members).expect("init");
    f.serve_all().expect("serve");
    let (dept, province) = (f.members[0].clone(), f.members[1].clone());
    // The province follows the department; the central follows the province only.
    add_members(&bin, &province, &[&dept]).expect("member add");
    add_members(&bin, &f.central, &[&province]).expect("member add");
    let fed = Fed { f, tmp, http: client() };
    // The province publishes too: its own items reach the central as the province's.
    fed.publish(&province.id, "Thông báo của UBND thành phố").await;
    let item = fed.publish(&dept.id, "Sở Y tế Hà Nội khuyến cáo phòng dịch").await;

    eventually("the department's item in the central's national feed", || async {
        fed.national_has("Sở Y tế Hà Nội khuyến cáo phòng dịch").await
    })
    .await;
    // Only the originating keys: the department's and the province's, never the central's.
    let national = fed.national().await;
    assert!(national.entries.len() >= 2, "both the department's and the province's items");
    for r in feed::verify_entries(&national, &fed.f.member_trust()) {
        r.expect("every national entry verifies against its originating node's key");
    }
    // The central's national log names the department as the member of its receipt.
    let log =
        get_json(&fed.http, &format!("{}/api/v1/national/log", fed.central())).await.expect("log");
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
}
