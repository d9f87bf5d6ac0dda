//! A ministry node as its IT team runs it: `portal init`, `portal serve` as a real process on
//! 127.0.0.1 (port 0), publishing by CLI and HTTP, withdrawing, and a third party verifying
//! everything it serves with portal-proto alone. Each test starts its own node; most start
//! from [`Ministry::with_history`], the four entries an editor's first day leaves.

use std::path::Path;
use std::time::Duration;

use portal_proto::envelope::{self, SignedRecord, TrustStore};
use portal_proto::feed;
use portal_proto::ids::NodeId;
use portal_proto::record::{Descriptor, Record};
use portal_proto::verifier::LogVerifier;
use portal_tests::api::{self, entry_record, get_json, get_text, log_size};
use portal_tests::fixtures::{node, now};
use portal_tests::harness::{InitArgs, Node, NodeDir, bin_and_tmp, init, portal, portal_bin};
use serde_json::{Value, json};

const URL: &str = "http://127.0.0.1:9";

/// The client of these tests: never decompressing, they read `Content-Encoding` themselves.
fn client() -> reqwest::Client {
    api::raw_client(Duration::from_secs(20))
}

fn draft(title: &str) -> Value {
    json!({"kind": "news", "language": "vi", "title": title,
           "summary": "Tóm tắt", "content_html": "<p>Nội dung <script>alert(1)</script>chính</p>",
           "translations": {"en": {"title": "Ministry of Health news", "summary": "Summary", "content_html": "<p>Body</p>"}},
           "categories": ["y-te", "suc-khoe"]})
}

fn moh_args() -> InitArgs {
    InitArgs::new("bo-y-te", "Bộ Y tế", URL).name_en("Ministry of Health")
}

/// `portal publish --data DATA FILE` of `body`, written to a file next to the data.
fn publish_cli(bin: &Path, data: &str, file: &Path, body: &[u8]) -> (bool, String, String) {
    std::fs::write(file, body).expect("write the draft");
    let out = portal(bin, &["publish", "--data", data, file.to_str().expect("utf-8 path")]);
    (out.ok(), out.stdout, out.stderr)
}

/// A node after an editor's first day: item 1 published by CLI with no server running
/// (index 0), then over HTTP item 2 (1) and its correction (2), then item 1 withdrawn by CLI
/// through the running server (3).
struct Ministry {
    _tmp: tempfile::TempDir,
    dir: NodeDir,
    server: Node,
    base: String,
    http: reqwest::Client,
    first_id: String,
    second_id: String,
}

impl Ministry {
    async fn with_history() -> Ministry {
        let (bin, tmp) = bin_and_tmp().await;
        let dir = init(&bin, &tmp.path().join("moh"), &moh_args()).expect("init");
        let file = tmp.path().join("draft.json");
        let body = serde_json::to_vec(&draft("Bộ Y tế khuyến cáo phòng dịch")).expect("json");
        let (ok, out, err) = publish_cli(&bin, dir.data_arg(), &file, &body);
        assert!(
            ok && out.starts_with("published ") && out.contains("at log index 0"),
            "{out}{err}"
        );
        let first_id = out.split_whitespace().nth(1).expect("id").to_owned();

        let server = dir.serve_loopback(&bin);
        let base = server.base.clone();
        let http = client();
        let published = api::publish(&http, &base, &dir.token, &draft("Thông báo lịch tiêm chủng"))
            .await
            .expect("publish over HTTP");
        assert_eq!(published["log_index"], 1);
        let second_id = published["id"].as_str().expect("id").to_owned();
        // A correction (version 2) by HTTP, then a withdrawal by CLI through the running server.
        let mut correction = draft("Thông báo lịch tiêm chủng (đã sửa)");
        correction["id"] = json!(second_id);
        correction["update"] = json!({"note": "Sửa ngày tiêm"});
        let corrected = api::publish(&http, &base, &dir.token, &correction).await.expect("correct");
        assert_eq!(corrected["version"], 2);
        let explanation = "Đã có thông báo mới thay thế";
        let args = ["withdraw", "--data", dir.data_arg(), &first_id, "--explanation", explanation];
        let out = portal(&bin, &args);
        assert!(
            out.ok() && out.stdout.contains("at log index 3"),
            "CLI withdraw through the running server: {}{}",
            out.stdout,
            out.stderr
        );
        Ministry { _tmp: tmp, dir, server, base, http, first_id, second_id }
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(format!("{}{path}", self.base)).bearer_auth(&self.dir.token)
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(format!("{}{path}", self.base))
    }

    async fn log_size(&self) -> u64 {
        log_size(&self.http, &self.base).await.expect("log size")
    }

    /// The descriptor's origin, pinned to the key `portal init` printed.
    fn trust(&self) -> TrustStore {
        let mut trust = TrustStore::new();
        trust.add(node("bo-y-te"), self.dir.grant());
        trust
    }

    /// `n` drafts published concurrently, each acknowledged with 201.
    async fn publish_many(&self, n: usize, title: &str) {
        let posts: Vec<_> = (0..n)
            .map(|i| self.post("/api/v1/items").json(&draft(&format!("{title} {i}"))).send())
            .collect();
        for p in posts {
            assert_eq!(p.await.expect("publish").status(), 201);
        }
    }

    fn stop(self) {
        assert!(self.server.terminate(), "SIGTERM stops the node cleanly");
    }
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

#[test]
fn init_refuses_a_bad_id_keeps_the_key_private_and_never_overwrites() {
    let bin = portal_bin();
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("moh");
    let bad = init(&bin, &data, &InitArgs::new("Bộ Y Tế", "x", URL)).expect_err("a bad id");
    assert!(bad.contains("--id"), "a bad id is refused with a clear message: {bad}");
    let moh = init(&bin, &data, &moh_args()).expect("init");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode =
            std::fs::metadata(data.join("keys/node.key")).expect("key file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key is private");
    }
    let again = init(&bin, &data, &InitArgs::new("bo-y-te", "x", URL)).expect_err("overwrite");
    assert!(again.contains("refusing to overwrite"), "{again}");
    let config = moh.config().expect("config");
    assert!(!config.contains(&moh.token), "the admin token is stored only as a hash");
}

#[test]
fn publish_by_cli_explains_an_unreadable_draft_and_a_missing_data_dir() {
    let bin = portal_bin();
    let tmp = tempfile::tempdir().expect("tempdir");
    let moh = init(&bin, &tmp.path().join("moh"), &moh_args()).expect("init");
    let file = tmp.path().join("draft.json");
    let truncated = b"{\"kind\": \"news\", \"language\": \"vi\"";
    let (ok, _, err) = publish_cli(&bin, moh.data_arg(), &file, truncated);
    assert!(!ok && err.contains("not valid"), "an unreadable draft is explained: {err}");
    let (ok, _, err) = publish_cli(&bin, "/nonexistent/portal", &file, truncated);
    assert!(!ok && err.contains("portal init"), "a missing data dir is explained: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_editor_api_refuses_bad_requests_without_writing_and_counts_them() {
    let moh = Ministry::with_history().await;
    assert_eq!(moh.log_size().await, 4);
    for auth in [None, Some("wrong-token")] {
        let mut req = moh.http.post(format!("{}/api/v1/items", moh.base)).json(&draft("x"));
        if let Some(t) = auth {
            req = req.bearer_auth(t);
        }
        assert_eq!(req.send().await.expect("post").status(), 401);
    }
    let bad = json!({"kind": "news", "language": "vi", "title": "", "colour": "red"});
    let resp = moh.post("/api/v1/items").json(&bad).send().await.expect("post");
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("json");
    assert!(body["error"]["fields"][0]["field"].as_str().is_some(), "400 names the field: {body}");
    let legal = json!({"kind": "legal", "language": "vi", "title": ""});
    let body: Value = moh
        .post("/api/v1/items")
        .json(&legal)
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert!(
        fields.contains(&"title") && fields.contains(&"legal"),
        "every bad field is named: {fields:?}"
    );
    let huge = "x".repeat(3 * 1024 * 1024);
    let resp = moh.post("/api/v1/items").body(huge).send().await.expect("post");
    assert_eq!(resp.status(), 413);
    assert_eq!(moh.log_size().await, 4, "refused requests wrote nothing");
    let metrics = get_text(&moh.http, &format!("{}/metrics", moh.base)).await.expect("metrics");
    assert!(metrics.contains("portal_unauthorized_total 2"), "{metrics}");
    moh.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_party_verifies_the_descriptor_and_every_log_entry_with_the_printed_key() {
    let moh = Ministry::with_history().await;
    let desc = moh.get("/.well-known/portal-node").send().await.expect("descriptor");
    let desc = desc.bytes().await.expect("body");
    let descriptor = envelope::open_as::<Descriptor>(
        &SignedRecord::from_json(&desc).expect("envelope"),
        &moh.trust(),
    )
    .expect("descriptor verifies");
    assert!(descriptor.record().endpoints.contains_key("log"));

    let log = get_json(&moh.http, &format!("{}/api/v1/log?after=0&limit=1000", moh.base))
        .await
        .expect("log");
    let mut verifier = LogVerifier::new(NodeId::new("bo-y-te").expect("id"), vec![moh.dir.grant()]);
    for e in log["entries"].as_array().expect("entries") {
        let v =
            verifier.push(&entry_record(e).expect("envelope")).expect("every log entry verifies");
        if let Record::Item(i) = v.record() {
            assert!(!i.content_html.contains("<script"), "HTML is sanitised before signing");
        }
    }
    assert_eq!(verifier.next_index(), 4);
    verifier
        .push_checkpoint(log["checkpoint"].as_str().expect("checkpoint"), now(), None)
        .expect("the checkpoint covers the log");
    moh.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_verify_answer_conditional_gets_and_read_cleanly_in_a_feed_reader() {
    let moh = Ministry::with_history().await;
    for (path, atom) in [("/feeds/atom", true), ("/feeds/json", false)] {
        let resp = moh.get(path).send().await.expect("feed");
        assert_eq!(resp.status(), 200);
        let etag = header(&resp, "etag").expect("etag");
        let body = resp.bytes().await.expect("body");
        let decoded = if atom { feed::decode_atom(&body) } else { feed::decode_json(&body) }
            .expect("feed decodes");
        assert_eq!(decoded.entries.len(), 4, "{path}: three item versions and a tombstone");
        for r in feed::verify_entries(&decoded, &moh.trust()) {
            r.expect("every feed entry verifies");
        }
        let again = moh.get(path).header("if-none-match", &etag).send().await.expect("feed");
        assert_eq!(again.status(), 304, "{path}: conditional GET");
    }
    // A standard feed reader reads the served Atom feed cleanly.
    let atom = get_text(&moh.http, &format!("{}/feeds/atom", moh.base)).await.expect("feed");
    if let Some(parsed) = crate::feed_readers::read_with_feedparser(&atom, "application/atom+xml") {
        assert_eq!(parsed["bozo"], false, "feedparser: {}", parsed["error"]);
        assert_eq!(parsed["entries"].as_array().map(Vec::len), Some(3), "three item versions");
    }
    moh.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_keep_their_history_and_withdrawn_pages_their_explanation() {
    let moh = Ministry::with_history().await;
    let url = |path: String| format!("{}{path}", moh.base);
    let item =
        get_json(&moh.http, &url(format!("/api/v1/items/{}", moh.second_id))).await.expect("item");
    assert_eq!(item["versions"].as_array().expect("versions").len(), 2);
    let page = get_text(&moh.http, &url(format!("/items/{}", moh.first_id))).await.expect("page");
    assert!(
        page.contains("withdrawn") && page.contains("Đã có thông báo mới thay thế"),
        "a withdrawn item shows its explanation"
    );
    let health = get_json(&moh.http, &url("/healthz".into())).await.expect("healthz");
    assert_eq!(health["status"], "ok");
    let metrics = get_text(&moh.http, &url("/metrics".into())).await.expect("metrics");
    assert!(metrics.contains("portal_log_size 4"), "{metrics}");
    moh.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_is_sent_when_asked_with_a_strong_etag_of_its_own() {
    let moh = Ministry::with_history().await;
    let resp = moh.get("/feeds/atom").header("accept-encoding", "gzip").send().await.expect("feed");
    assert_eq!(header(&resp, "content-encoding").as_deref(), Some("gzip"));
    assert_eq!(header(&resp, "vary").as_deref(), Some("accept-encoding"));
    let gz_etag = header(&resp, "etag").expect("gzip etag");
    let gz = resp.bytes().await.expect("gzip body");
    let plain = moh.get("/feeds/atom").send().await.expect("feed");
    assert_eq!(header(&plain, "content-encoding"), None, "identity unless asked");
    assert_eq!(header(&plain, "vary").as_deref(), Some("accept-encoding"));
    let plain_etag = header(&plain, "etag").expect("etag");
    assert_ne!(gz_etag, plain_etag, "RFC 9110: each representation has its own strong ETag");
    let mut unzipped = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut unzipped)
        .expect("valid gzip");
    assert_eq!(unzipped, plain.text().await.expect("text"), "same document either way");
    let revalidate = |etag: &str, accept: &str| {
        moh.get("/feeds/atom")
            .header("accept-encoding", accept)
            .header("if-none-match", etag)
            .send()
    };
    assert_eq!(revalidate(&gz_etag, "gzip, deflate").await.expect("304").status(), 304);
    assert_eq!(revalidate(&plain_etag, "identity").await.expect("304").status(), 304);
    let other = revalidate(&plain_etag, "gzip").await.expect("200");
    assert_eq!(other.status(), 200, "the identity ETag does not validate the gzip bytes");
    assert_eq!(header(&other, "content-encoding").as_deref(), Some("gzip"));
    let refused = revalidate("\"none\"", "gzip;q=0, identity").await.expect("200");
    assert_eq!(header(&refused, "content-encoding"), None, "q=0 refuses gzip");
    moh.stop();
}

fn immutable(resp: &reqwest::Response) -> bool {
    header(resp, "cache-control").is_some_and(|v| v.contains("immutable"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_are_bound_by_hash_and_size_and_served_immutable() {
    let moh = Ministry::with_history().await;
    let pdf = b"%PDF-1.7 Nghi dinh 15/2026/ND-CP".to_vec();
    let resp = moh.post("/api/v1/attachments").body(pdf.clone()).send().await.expect("upload");
    assert_eq!(resp.status(), 201);
    let up: Value = resp.json().await.expect("json");
    let sha = up["sha256"].as_str().expect("sha256").to_owned();
    assert_eq!(sha, portal_proto::ids::Digest::of(&pdf).as_str());
    let mut decree = draft("Nghị định 15/2026/NĐ-CP");
    decree["kind"] = json!("legal");
    decree["legal"] = json!({"number": "15/2026/NĐ-CP", "issuer": "Chính phủ", "signer": "Thủ tướng Chính phủ",
                             "issued": "2026-11-20", "effective": "2027-01-01"});
    decree["attachments"] = json!([{"name": "15-2026-ND-CP.pdf", "media_type": "application/pdf", "sha256": sha, "size": pdf.len()}]);
    let resp = moh.post("/api/v1/items").json(&decree).send().await.expect("publish");
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap_or_default());
    decree["attachments"][0]["size"] = json!(pdf.len() + 1);
    let resp = moh.post("/api/v1/items").json(&decree).send().await.expect("publish");
    assert_eq!(resp.status(), 400, "an attachment's size must match the uploaded file");
    let resp = moh.get(&format!("/attachments/{sha}")).send().await.expect("attachment");
    assert!(immutable(&resp));
    assert_eq!(resp.bytes().await.expect("bytes").as_ref(), pdf.as_slice());
    moh.stop();
}

/// RFC 5005: once 100 entries exist, archive 0 is complete, immutable and verifies; its bytes
/// never change as the log grows past it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complete_archive_verifies_and_never_changes() {
    let moh = Ministry::with_history().await;
    moh.publish_many(97, "Tin số").await;
    let resp = moh.get("/feeds/atom/archive/0").send().await.expect("archive");
    assert_eq!(resp.status(), 200);
    assert!(immutable(&resp));
    let decoded = feed::decode_atom(&resp.bytes().await.expect("body")).expect("archive decodes");
    assert!(decoded.is_archive && !decoded.entries.is_empty());
    for r in feed::verify_entries(&decoded, &moh.trust()) {
        r.expect("archive entries verify");
    }
    let m = &moh;
    let status = |n: u32| async move {
        m.get(&format!("/feeds/atom/archive/{n}")).send().await.expect("archive").status()
    };
    assert_eq!(status(1).await, 404, "incomplete");
    // Served as immutable, so its bytes must not change when the log grows past it (no
    // next-archive link appears later), in either representation.
    let fetch_archive = |accept: &'static str| async move {
        let resp = m
            .get("/feeds/atom/archive/0")
            .header("accept-encoding", accept)
            .send()
            .await
            .expect("archive");
        assert_eq!(resp.status(), 200);
        let etag = header(&resp, "etag").expect("etag");
        (etag, resp.bytes().await.expect("bytes"))
    };
    let before = (fetch_archive("identity").await, fetch_archive("gzip").await);
    moh.publish_many(100, "Tin bổ sung").await;
    assert_eq!(status(1).await, 200, "archive 1 completes");
    let after = (fetch_archive("identity").await, fetch_archive("gzip").await);
    assert_eq!(before, after, "an immutable archive never changes");
    assert!(!String::from_utf8_lossy(&after.0.1).contains("next-archive"));
    moh.stop();
}
