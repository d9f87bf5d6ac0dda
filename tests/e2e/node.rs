//! A ministry node as its IT team runs it: `portal init`, `portal serve` as a real process on
//! 127.0.0.1 (port 0), publishing by CLI and HTTP, withdrawing, and a third party verifying
//! everything it serves with portal-proto alone.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use portal_proto::crypto::PublicKey;
use portal_proto::envelope::{self, SignedRecord, TrustStore};
use portal_proto::feed;
use portal_proto::ids::NodeId;
use portal_proto::record::{Descriptor, KeyGrant, Record};
use portal_proto::verifier::LogVerifier;
use serde_json::{Value, json};

/// The `portal` binary, built on demand (it belongs to another package of the workspace).
pub(crate) fn portal_bin() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "-p", "portal"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo builds the portal binary");
    assert!(status.success(), "building the portal binary failed");
    let exe = std::env::current_exe().expect("test binary path");
    // target/debug/deps/e2e-… → target/debug/portal
    exe.parent().and_then(Path::parent).expect("target dir").join("portal")
}

pub(crate) fn portal(bin: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin).args(args).env("RUST_LOG", "warn").output().expect("portal runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A `portal serve` process; killed (by its PID) when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Server {
    pub(crate) fn start(bin: &Path, data: &Path) -> Server {
        Server::spawn(bin, data, &["--listen", "127.0.0.1:0"])
    }

    /// Listen on the address of the node's configured URL (federation tests, where the URL
    /// others reach must be the real one).
    pub(crate) fn start_at_url(bin: &Path, data: &Path) -> Server {
        Server::spawn(bin, data, &[])
    }

    fn spawn(bin: &Path, data: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(bin)
            .args(["serve", "--data"])
            .arg(data)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("portal serve starts");
        let stdout = child.stdout.take().expect("piped");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("serve prints its address");
        let base = line.trim().strip_prefix("listening on ").expect("address line").to_owned();
        Server { child, base }
    }

    /// Stop gracefully with SIGTERM (by PID) and wait; returns whether it exited cleanly.
    pub(crate) fn terminate(mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..100 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value after `name` on a line of `portal init`'s output (token, key id, public key).
pub(crate) fn init_field(out: &str, name: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or_else(|| panic!("init output lacks {name}: {out}"))
        .to_owned()
}

fn client() -> reqwest::Client {
    // no_gzip: the tests read Content-Encoding themselves (and reqwest's gzip feature may be on
    // through another crate of the workspace).
    reqwest::Client::builder()
        .no_proxy()
        .no_gzip()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

fn draft(title: &str) -> Value {
    json!({"kind": "news", "language": "vi", "title": title,
           "summary": "Tóm tắt", "content_html": "<p>Nội dung <script>alert(1)</script>chính</p>",
           "translations": {"en": {"title": "Ministry of Health news", "summary": "Summary", "content_html": "<p>Body</p>"}},
           "categories": ["y-te", "suc-khoe"]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ministry_node_publishes_serves_and_verifies_end_to_end() {
    let bin = tokio::task::spawn_blocking(portal_bin).await.expect("build");
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("moh");
    let data_s = data.to_str().expect("utf-8 path");

    // ---- init: clear errors for mistakes, then a node
    let (ok, _, err) = portal(
        &bin,
        &[
            "init",
            "--data",
            data_s,
            "--id",
            "Bộ Y Tế",
            "--name",
            "x",
            "--url",
            "http://127.0.0.1:9",
        ],
    );
    assert!(!ok && err.contains("--id"), "a bad id is refused with a clear message: {err}");
    let (ok, out, err) = portal(
        &bin,
        &[
            "init",
            "--data",
            data_s,
            "--id",
            "bo-y-te",
            "--name",
            "Bộ Y tế",
            "--name-en",
            "Ministry of Health",
            "--url",
            "http://127.0.0.1:9",
        ],
    );
    assert!(ok, "init failed: {err}");
    let token = init_field(&out, "admin token:");
    let public_key = PublicKey::from_base64(&init_field(&out, "public key:"))
        .expect("init prints the public key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode =
            std::fs::metadata(data.join("keys/node.key")).expect("key file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key is private");
    }
    let (ok, _, err) = portal(
        &bin,
        &[
            "init",
            "--data",
            data_s,
            "--id",
            "bo-y-te",
            "--name",
            "x",
            "--url",
            "http://127.0.0.1:9",
        ],
    );
    assert!(!ok && err.contains("refusing to overwrite"), "{err}");
    let config = std::fs::read_to_string(data.join("config.toml")).expect("config");
    assert!(!config.contains(&token), "the admin token is stored only as a hash");

    // ---- publish by CLI with no server running (directly into the store)
    let draft_file = tmp.path().join("draft.json");
    std::fs::write(
        &draft_file,
        serde_json::to_vec(&draft("Bộ Y tế khuyến cáo phòng dịch")).expect("json"),
    )
    .expect("write");
    let (ok, out, err) =
        portal(&bin, &["publish", "--data", data_s, draft_file.to_str().expect("path")]);
    assert!(ok && out.starts_with("published ") && out.contains("at log index 0"), "{out}{err}");
    let first_id = out.split_whitespace().nth(1).expect("id").to_owned();
    std::fs::write(&draft_file, b"{\"kind\": \"news\", \"language\": \"vi\"").expect("write");
    let (ok, _, err) =
        portal(&bin, &["publish", "--data", data_s, draft_file.to_str().expect("path")]);
    assert!(!ok && err.contains("not valid"), "an unreadable draft is explained: {err}");
    let (ok, _, err) = portal(
        &bin,
        &["publish", "--data", "/nonexistent/portal", draft_file.to_str().expect("path")],
    );
    assert!(!ok && err.contains("portal init"), "a missing data dir is explained: {err}");

    // ---- serve, and publish over HTTP with the admin token
    let server = Server::start(&bin, &data);
    let base = server.base.clone();
    let http = client();
    let resp = http
        .post(format!("{base}/api/v1/items"))
        .bearer_auth(&token)
        .json(&draft("Thông báo lịch tiêm chủng"))
        .send()
        .await
        .expect("publish");
    assert_eq!(resp.status(), 201);
    let published: Value = resp.json().await.expect("json");
    assert_eq!(published["log_index"], 1);
    let second_id = published["id"].as_str().expect("id").to_owned();

    // A correction (version 2) by HTTP, then a withdrawal by CLI through the running server.
    let mut correction = draft("Thông báo lịch tiêm chủng (đã sửa)");
    correction["id"] = json!(second_id);
    correction["update"] = json!({"note": "Sửa ngày tiêm"});
    let resp = http
        .post(format!("{base}/api/v1/items"))
        .bearer_auth(&token)
        .json(&correction)
        .send()
        .await
        .expect("publish");
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.json::<Value>().await.expect("json")["version"], 2);
    let (ok, out, err) = portal(
        &bin,
        &["withdraw", "--data", data_s, &first_id, "--explanation", "Đã có thông báo mới thay thế"],
    );
    assert!(
        ok && out.contains("at log index 3"),
        "CLI withdraw through the running server: {out}{err}"
    );

    // ---- the editor API refuses without writing anything
    let size = |v: &Value| v["size"].as_u64().expect("size");
    let log_size = || async {
        size(
            &http
                .get(format!("{base}/api/v1/log?limit=1"))
                .send()
                .await
                .expect("log")
                .json::<Value>()
                .await
                .expect("json"),
        )
    };
    assert_eq!(log_size().await, 4);
    for auth in [None, Some("wrong-token")] {
        let mut req = http.post(format!("{base}/api/v1/items")).json(&draft("x"));
        if let Some(t) = auth {
            req = req.bearer_auth(t);
        }
        assert_eq!(req.send().await.expect("post").status(), 401);
    }
    let resp = http
        .post(format!("{base}/api/v1/items"))
        .bearer_auth(&token)
        .json(&json!({"kind": "news", "language": "vi", "title": "", "colour": "red"}))
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("json");
    assert!(body["error"]["fields"][0]["field"].as_str().is_some(), "400 names the field: {body}");
    let resp = http
        .post(format!("{base}/api/v1/items"))
        .bearer_auth(&token)
        .json(&json!({"kind": "legal", "language": "vi", "title": ""}))
        .send()
        .await
        .expect("post");
    let body: Value = resp.json().await.expect("json");
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
    let resp = http
        .post(format!("{base}/api/v1/items"))
        .bearer_auth(&token)
        .body(huge)
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 413);
    assert_eq!(log_size().await, 4, "refused requests wrote nothing");

    // ---- a third party: descriptor pinned to the key init printed, then the whole log
    let desc = http
        .get(format!("{base}/.well-known/portal-node"))
        .send()
        .await
        .expect("descriptor")
        .bytes()
        .await
        .expect("body");
    let mut trust = TrustStore::new();
    let origin = NodeId::new("bo-y-te").expect("id");
    trust.add(origin.clone(), KeyGrant::pinned(public_key.clone()));
    let descriptor =
        envelope::open_as::<Descriptor>(&SignedRecord::from_json(&desc).expect("envelope"), &trust)
            .expect("descriptor verifies");
    assert!(descriptor.record().endpoints.contains_key("log"));

    let log: Value = http
        .get(format!("{base}/api/v1/log?after=0&limit=1000"))
        .send()
        .await
        .expect("log")
        .json()
        .await
        .expect("json");
    let mut verifier = LogVerifier::new(origin.clone(), vec![KeyGrant::pinned(public_key.clone())]);
    for e in log["entries"].as_array().expect("entries") {
        let signed = SignedRecord::from_base64(
            e["record"].as_str().expect("record"),
            e["kid"].as_str().expect("kid"),
            e["sig"].as_str().expect("sig"),
        )
        .expect("envelope");
        let v = verifier.push(&signed).expect("every log entry verifies");
        if let Record::Item(i) = v.record() {
            assert!(!i.content_html.contains("<script"), "HTML is sanitised before signing");
        }
    }
    assert_eq!(verifier.next_index(), 4);
    let now = portal_publisher::node::now();
    verifier
        .push_checkpoint(log["checkpoint"].as_str().expect("checkpoint"), now, None)
        .expect("the checkpoint covers the log");

    // ---- feeds decode and verify; conditional GET
    for (path, atom) in [("/feeds/atom", true), ("/feeds/json", false)] {
        let resp = http.get(format!("{base}{path}")).send().await.expect("feed");
        assert_eq!(resp.status(), 200);
        let etag = resp.headers().get("etag").expect("etag").to_str().expect("ascii").to_owned();
        let body = resp.bytes().await.expect("body");
        let decoded = if atom { feed::decode_atom(&body) } else { feed::decode_json(&body) }
            .expect("feed decodes");
        assert_eq!(decoded.entries.len(), 4, "{path}: three item versions and a tombstone");
        for r in feed::verify_entries(&decoded, &trust) {
            r.expect("every feed entry verifies");
        }
        let again = http
            .get(format!("{base}{path}"))
            .header("if-none-match", &etag)
            .send()
            .await
            .expect("feed");
        assert_eq!(again.status(), 304, "{path}: conditional GET");
    }

    // ---- item JSON with full history, HTML page, health, metrics
    let item: Value = http
        .get(format!("{base}/api/v1/items/{second_id}"))
        .send()
        .await
        .expect("item")
        .json()
        .await
        .expect("json");
    assert_eq!(item["versions"].as_array().expect("versions").len(), 2);
    let page = http
        .get(format!("{base}/items/{first_id}"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        page.contains("withdrawn") && page.contains("Đã có thông báo mới thay thế"),
        "a withdrawn item shows its explanation"
    );
    let health: Value = http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("healthz")
        .json()
        .await
        .expect("json");
    assert_eq!(health["status"], "ok");
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("portal_log_size 4") && metrics.contains("portal_unauthorized_total 2"),
        "{metrics}"
    );

    // ---- a standard feed reader reads the served Atom feed cleanly
    let atom = http
        .get(format!("{base}/feeds/atom"))
        .send()
        .await
        .expect("feed")
        .text()
        .await
        .expect("text");
    if let Some(parsed) = crate::feed_readers::read_with_feedparser(&atom, "application/atom+xml") {
        assert_eq!(parsed["bozo"], false, "feedparser: {}", parsed["error"]);
        assert_eq!(parsed["entries"].as_array().map(Vec::len), Some(3), "three item versions");
    }

    // ---- gzip when asked
    let resp = http
        .get(format!("{base}/feeds/atom"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("feed");
    let header = |r: &reqwest::Response, name: &str| {
        r.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    };
    assert_eq!(header(&resp, "content-encoding").as_deref(), Some("gzip"));
    assert_eq!(header(&resp, "vary").as_deref(), Some("accept-encoding"));
    let gz_etag = header(&resp, "etag").expect("gzip etag");
    let gz = resp.bytes().await.expect("gzip body");
    let plain = http.get(format!("{base}/feeds/atom")).send().await.expect("feed");
    assert_eq!(header(&plain, "content-encoding"), None, "identity unless asked");
    assert_eq!(header(&plain, "vary").as_deref(), Some("accept-encoding"));
    let plain_etag = header(&plain, "etag").expect("etag");
    assert_ne!(gz_etag, plain_etag, "RFC 9110: each representation has its own strong ETag");
    let mut unzipped = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut unzipped)
        .expect("valid gzip");
    assert_eq!(unzipped, plain.text().await.expect("text"), "same document either way");
    let revalidate = |etag: &str, accept: &str| {
        http.get(format!("{base}/feeds/atom"))
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

    // ---- attachments: upload, bind by SHA-256 and size, serve immutable by hash
    let pdf = b"%PDF-1.7 Nghi dinh 15/2026/ND-CP".to_vec();
    let resp = http
        .post(format!("{base}/api/v1/attachments"))
        .bearer_auth(&token)
        .body(pdf.clone())
        .send()
        .await
        .expect("upload");
    assert_eq!(resp.status(), 201);
    let up: Value = resp.json().await.expect("json");
    let sha = up["sha256"].as_str().expect("sha256").to_owned();
    assert_eq!(sha, portal_proto::ids::Digest::of(&pdf).as_str());
    let mut decree = draft("Nghị định 15/2026/NĐ-CP");
    decree["kind"] = json!("legal");
    decree["legal"] = json!({"number": "15/2026/NĐ-CP", "issuer": "Chính phủ", "signer": "Thủ tướng Chính phủ",
                             "issued": "2026-11-20", "effective": "2027-01-01"});
    decree["attachments"] = json!([{"name": "15-2026-ND-CP.pdf", "media_type": "application/pdf", "sha256": sha, "size": pdf.len()}]);
    let resp = http
        .post(format!("{base}/api/v1/items"))
        .bearer_auth(&token)
        .json(&decree)
        .send()
        .await
        .expect("publish");
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap_or_default());
    decree["attachments"][0]["size"] = json!(pdf.len() + 1);
    let resp = http
        .post(format!("{base}/api/v1/items"))
        .bearer_auth(&token)
        .json(&decree)
        .send()
        .await
        .expect("publish");
    assert_eq!(resp.status(), 400, "an attachment's size must match the uploaded file");
    let resp = http.get(format!("{base}/attachments/{sha}")).send().await.expect("attachment");
    assert!(
        resp.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("immutable"))
    );
    assert_eq!(resp.bytes().await.expect("bytes").as_ref(), pdf.as_slice());

    // ---- RFC 5005: once 100 entries exist, archive 0 is complete, immutable and verifies
    let posts: Vec<_> = (0..96)
        .map(|i| {
            http.post(format!("{base}/api/v1/items"))
                .bearer_auth(&token)
                .json(&draft(&format!("Tin số {i}")))
                .send()
        })
        .collect();
    for p in posts {
        assert_eq!(p.await.expect("publish").status(), 201);
    }
    let resp = http.get(format!("{base}/feeds/atom/archive/0")).send().await.expect("archive");
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("immutable"))
    );
    let decoded = feed::decode_atom(&resp.bytes().await.expect("body")).expect("archive decodes");
    assert!(decoded.is_archive && !decoded.entries.is_empty());
    for r in feed::verify_entries(&decoded, &trust) {
        r.expect("archive entries verify");
    }
    assert_eq!(
        http.get(format!("{base}/feeds/atom/archive/1")).send().await.expect("archive").status(),
        404,
        "incomplete"
    );
    // Served as immutable, so its bytes must not change when the log grows past it (no
    // next-archive link appears later), in either representation.
    let (http_ref, base_ref) = (&http, &base);
    let fetch_archive = move |accept: &'static str| async move {
        let (http, base) = (http_ref, base_ref);
        let resp = http
            .get(format!("{base}/feeds/atom/archive/0"))
            .header("accept-encoding", accept)
            .send()
            .await
            .expect("archive");
        assert_eq!(resp.status(), 200);
        let etag = header(&resp, "etag").expect("etag");
        (etag, resp.bytes().await.expect("bytes"))
    };
    let before = (fetch_archive("identity").await, fetch_archive("gzip").await);
    let posts: Vec<_> = (0..100)
        .map(|i| {
            http.post(format!("{base}/api/v1/items"))
                .bearer_auth(&token)
                .json(&draft(&format!("Tin bổ sung {i}")))
                .send()
        })
        .collect();
    for p in posts {
        assert_eq!(p.await.expect("publish").status(), 201);
    }
    assert_eq!(
        http.get(format!("{base}/feeds/atom/archive/1")).send().await.expect("archive").status(),
        200,
        "archive 1 completes"
    );
    let after = (fetch_archive("identity").await, fetch_archive("gzip").await);
    assert_eq!(before, after, "an immutable archive never changes");
    assert!(!String::from_utf8_lossy(&after.0.1).contains("next-archive"));

    assert!(server.terminate(), "SIGTERM stops the node cleanly");
}
