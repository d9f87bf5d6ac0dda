//! The web portal in a real browser: headless Chromium against a demo-sized federation on
//! 127.0.0.1 (three ministries with Vietnamese content and a central node, each a `portal
//! serve` process). Every page kind is loaded, checked and photographed (into
//! `target/screenshots/`), the language is switched, search works without diacritics, and
//! hostile HTML (the feedparser sanitisation corpus and payloads of our own that would mark
//! the page if any script ran) goes through a ministry to the national pages without a single
//! script running.
//!
//! Chromium is driven through its command line (`--dump-dom`, `--screenshot`): pages work
//! without JavaScript, so URLs are all the navigation needed. Without Chromium the test is
//! skipped locally and fails in CI (`CI=true`): `.ci/run` installs Debian's `chromium`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use portal_proto::html;
use serde_json::{Value, json};

use portal_tests::api::client;
use portal_tests::harness::{Federation, NodeDir, bin_and_tmp};
use portal_tests::wait::eventually;

/// The Chromium binary, if installed (`CHROMIUM` overrides the path).
fn chromium() -> Option<PathBuf> {
    let path =
        std::env::var_os("CHROMIUM").map_or_else(|| "/usr/bin/chromium".into(), PathBuf::from);
    if path.exists() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("chromium is not installed at {}: .ci/run installs it with apt-get", path.display());
    }
    eprintln!(
        "browser tests skipped: no chromium at {} (apt-get install chromium)",
        path.display()
    );
    None
}

/// Headless Chromium, one page per process, each with a fresh profile.
struct Browser {
    bin: PathBuf,
    tmp: tempfile::TempDir,
}

impl Browser {
    fn run(&self, args: &[&str], url: &str) -> String {
        let profile = tempfile::tempdir_in(self.tmp.path()).expect("profile dir");
        let mut child = Command::new(&self.bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--run-all-compositor-stages-before-draw",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(args)
            .arg(url)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium starts");
        let mut stdout = child.stdout.take().expect("piped");
        let reader = std::thread::spawn(move || {
            let mut out = String::new();
            std::io::Read::read_to_string(&mut stdout, &mut out).map(|_| out)
        });
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            match child.try_wait().expect("wait") {
                Some(_) => break,
                None if Instant::now() > deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("chromium did not finish loading {url} within 90 s");
                }
                None => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        reader.join().expect("reader").expect("chromium output is UTF-8")
    }

    /// The DOM after the page loaded (and any script had its chance to run).
    fn dom(&self, url: &str) -> String {
        let dom = self.run(&["--dump-dom", "--virtual-time-budget=2000"], url);
        assert!(dom.contains("</html>"), "chromium loaded {url}: {dom}");
        dom
    }

    /// A PNG of the page at `width`×`height`.
    fn screenshot(&self, url: &str, file: &Path, width: u32, height: u32) {
        let _ = std::fs::remove_file(file);
        self.run(
            &[
                &format!("--screenshot={}", file.display()),
                &format!("--window-size={width},{height}"),
            ],
            url,
        );
        let png = std::fs::read(file).unwrap_or_else(|e| panic!("screenshot of {url}: {e}"));
        assert!(png.starts_with(b"\x89PNG"), "{} is a PNG", file.display());
    }
}

/// `target/screenshots/` (under `CARGO_TARGET_DIR` when set).
fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"), PathBuf::from);
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

/// Give a node an English name too (before it starts).
fn name_en(node: &NodeDir, vi: &str, en: &str) {
    let path = node.config_path();
    let config = std::fs::read_to_string(&path).expect("config");
    let line = format!("vi = \"{vi}\"");
    assert!(config.contains(&line), "config names the node: {config}");
    std::fs::write(&path, config.replacen(&line, &format!("{line}\nen = \"{en}\""), 1))
        .expect("config");
}

async fn post(http: &reqwest::Client, m: &NodeDir, path: &str, body: &Value) -> Value {
    let resp = http
        .post(format!("{}{path}", m.url))
        .bearer_auth(&m.token)
        .json(body)
        .send()
        .await
        .expect("post");
    let status = resp.status();
    let v: Value = resp.json().await.expect("json");
    assert!(status.is_success(), "POST {path} on {}: {status} {v}", m.id);
    v
}

fn news(kind: &str, title: &str, summary: &str, html: &str, cats: &[&str]) -> Value {
    json!({"kind": kind, "language": "vi", "title": title, "summary": summary,
           "content_html": html, "categories": cats})
}

fn with_en(mut draft: Value, title: &str, summary: &str, html: &str) -> Value {
    draft["translations"] =
        json!({"en": {"title": title, "summary": summary, "content_html": html}});
    draft
}

/// The HTML payloads of the feedparser sanitisation corpus: the escaped HTML of each file's
/// `<content>`, `<summary>`, `<description>` and `<title>` elements (entities decoded).
fn corpus_payloads() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/feedparser-sanitize");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("testdata/feedparser-sanitize")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 745, "the vendored corpus is complete");
    let mut out = Vec::new();
    for f in files {
        let doc = String::from_utf8_lossy(&std::fs::read(&f).expect("read")).into_owned();
        let name = f.file_name().expect("name").to_string_lossy().into_owned();
        let mut html = String::new();
        for tag in ["content", "summary", "description", "title", "subtitle", "tagline", "info"] {
            let open = format!("<{tag}");
            let close = format!("</{tag}>");
            let mut rest = doc.as_str();
            while let Some(start) = rest.find(&open) {
                let after = &rest[start + open.len()..];
                let Some(gt) = after.find('>') else { break };
                let inner = &after[gt + 1..];
                let Some(end) = inner.find(&close) else { break };
                let raw = &inner[..end];
                let raw = raw
                    .strip_prefix("<![CDATA[")
                    .and_then(|r| r.strip_suffix("]]>"))
                    .unwrap_or(raw);
                html.push_str(&decode_entities(raw));
                html.push('\n');
                rest = &inner[end..];
            }
        }
        out.push((name, html));
    }
    out
}

fn decode_entities(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Payloads of our own: each would set a marker on the page if any script ran.
const MARK: &str = "document.title='PWNED';document.documentElement.setAttribute('data-pwned','1')";

fn marker_payloads() -> Vec<String> {
    vec![
        format!("<p>a</p><script>{MARK}</script>"),
        format!("<img src=\"x\" onerror=\"{MARK}\">"),
        format!("<img src=\"https://127.0.0.1:1/x.png\" onerror=\"{MARK}\" alt=\"broken\">"),
        format!("<svg onload=\"{MARK}\"><circle r=\"1\"/></svg>"),
        format!("<a href=\"javascript:{MARK}\">link</a>"),
        format!("<iframe srcdoc=\"<script>parent.{MARK}</script>\"></iframe>"),
        format!("<details open ontoggle=\"{MARK}\"><summary>s</summary></details>"),
        format!("<body onload=\"{MARK}\"><p>b</p></body>"),
        format!("<input autofocus onfocus=\"{MARK}\">"),
        format!("<object data=\"javascript:{MARK}\"></object>"),
        format!(
            "<math><mtext><table><mglyph><style><img src=x onerror=\"{MARK}\"></style></mglyph></table></mtext></math>"
        ),
        format!("<noscript><p title=\"</noscript><img src=x onerror={MARK}>\"></noscript>"),
        format!("<p style=\"background:url(javascript:{MARK})\">styled</p>"),
        format!("<form action=\"javascript:{MARK}\"><button>go</button></form>"),
        format!("<meta http-equiv=\"refresh\" content=\"0;url=javascript:{MARK}\">"),
    ]
}

/// `(tag, [(attribute, value)])` of every start tag of serialised HTML (quote-aware; text
/// `<` is always escaped in serialised HTML, so every `<` starts a tag).
fn tags(html: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        let (inside, after) = split_tag(&rest[lt + 1..]);
        rest = after;
        if !inside.starts_with('/') {
            out.push(start_tag(inside));
        }
    }
    out
}

/// The inside of a tag, up to the `>` that ends it (not one in a quoted value), and what
/// follows that `>`.
fn split_tag(s: &str) -> (&str, &str) {
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '>' => return (&s[..i], &s[i + 1..]),
            None if c == '"' || c == '\'' => quote = Some(c),
            None => {}
        }
    }
    (s, "")
}

/// A start tag's name and attributes (names lowercased, values with entities decoded).
fn start_tag(inside: &str) -> (String, Vec<(String, String)>) {
    let space = |c: char| c.is_ascii_whitespace();
    let name_end = inside.find(|c: char| space(c) || c == '/').unwrap_or(inside.len());
    let mut attrs = Vec::new();
    let mut rest = &inside[name_end..];
    loop {
        rest = rest.trim_start_matches(|c: char| space(c) || c == '/');
        if rest.is_empty() {
            break;
        }
        let key_end = rest.find(|c: char| c == '=' || space(c)).unwrap_or(rest.len());
        let key = rest[..key_end].to_ascii_lowercase();
        rest = &rest[key_end..];
        let mut value = String::new();
        if let Some(v) = rest.strip_prefix('=') {
            let (raw, after) = match v.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let quoted = &v[1..];
                    let end = quoted.find(q).unwrap_or(quoted.len());
                    (&quoted[..end], quoted.get(end + 1..).unwrap_or_default())
                }
                _ => v.split_at(v.find(space).unwrap_or(v.len())),
            };
            value = decode_entities(raw);
            rest = after;
        }
        attrs.push((key, value));
    }
    (inside[..name_end].to_ascii_lowercase(), attrs)
}

fn pwned(dom: &str) -> bool {
    let html_tag = dom.find("<html").map(|s| &dom[s..s + dom[s..].find('>').unwrap_or(0)]);
    html_tag.is_some_and(|t| t.contains("data-pwned")) || dom.contains("<title>PWNED")
}

async fn get_json(http: &reqwest::Client, url: &str) -> Value {
    portal_tests::api::get_json(http, url).await.expect("GET")
}

/// What the content fixture published that the tests look for.
struct Ids {
    alert: String,
    flu: String,
    circular: String,
    old: String,
}

/// The Ministry of Health's items: an alert, news with a correction, a circular, and an
/// announcement withdrawn with its explanation.
async fn publish_health_items(http: &reqwest::Client, moh: &NodeDir) -> Ids {
    // (kind, title, summary, HTML, categories) in Vietnamese; title, summary, HTML in English.
    #[rustfmt::skip]
    let bilingual = [
        (["alert", "Cảnh báo sốt xuất huyết gia tăng tại Hà Nội", "Bộ Y tế đề nghị người dân diệt muỗi, loăng quăng và đến cơ sở y tế khi sốt cao.", "<p>Số ca mắc sốt xuất huyết tại Hà Nội tăng <strong>35%</strong> so với cùng kỳ.</p><ul><li>Diệt muỗi, loăng quăng.</li><li>Ngủ màn kể cả ban ngày.</li></ul>"], ["suc-khoe", "canh-bao"], ["Dengue fever on the rise in Ha Noi", "The Ministry of Health asks people to remove mosquito breeding sites and see a doctor when feverish.", "<p>Dengue cases in Ha Noi are up <strong>35%</strong> year on year.</p>"]),
        (["news", "Bộ Y tế khuyến cáo phòng chống dịch cúm mùa", "Tiêm vắc xin cúm hằng năm là biện pháp phòng bệnh hiệu quả nhất.", "<p>Bộ Y tế khuyến cáo người dân tiêm vắc xin cúm trước ngày 5 tháng 12.</p><p>Người cao tuổi và trẻ nhỏ cần được ưu tiên.</p>"], ["suc-khoe", "tiem-chung"], ["Ministry of Health advice on seasonal flu", "A yearly flu vaccine is the best protection.", "<p>Get your flu vaccine before 5 December.</p>"]),
    ];
    let mut ids = Vec::new();
    for ([kind, title, summary, html], cats, [en_title, en_summary, en_html]) in bilingual {
        let draft = with_en(news(kind, title, summary, html, &cats), en_title, en_summary, en_html);
        ids.push(
            post(http, moh, "/api/v1/items", &draft).await["id"].as_str().expect("id").to_owned(),
        );
    }
    let [alert, flu_id]: [String; 2] = ids.try_into().expect("two items");
    let mut fix = news(
        "news",
        "Bộ Y tế khuyến cáo phòng chống dịch cúm mùa",
        "Tiêm vắc xin cúm hằng năm là biện pháp phòng bệnh hiệu quả nhất.",
        "<p>Bộ Y tế khuyến cáo người dân tiêm vắc xin cúm trước ngày 15 tháng 12.</p><p>Người cao tuổi và trẻ nhỏ cần được ưu tiên.</p>",
        &["suc-khoe", "tiem-chung"],
    );
    fix["id"] = json!(flu_id);
    fix["update"] = json!({"note": "Sửa hạn tiêm vắc xin: ngày 15 tháng 12"});
    post(http, moh, "/api/v1/items", &fix).await;
    let circular = post(http, moh, "/api/v1/items", &json!({
        "kind": "legal", "language": "vi",
        "title": "Thông tư 15/2026/TT-BYT quy định về khám sức khỏe định kỳ",
        "summary": "Thông tư quy định nội dung, tần suất khám sức khỏe định kỳ cho người lao động.",
        "content_html": "<p><strong>Điều 1.</strong> Phạm vi điều chỉnh.</p><p><strong>Điều 2.</strong> Đối tượng áp dụng.</p>",
        "categories": ["suc-khoe", "van-ban"],
        "legal": {"number": "15/2026/TT-BYT", "issuer": "Bộ Y tế", "signer": "Thứ trưởng Trần Văn Thuấn",
                  "issued": "2026-10-01", "effective": "2026-12-01"}})).await;
    let circular_id = circular["id"].as_str().expect("id").to_owned();
    let old = post(
        http,
        moh,
        "/api/v1/items",
        &news(
            "announcement",
            "Thông báo lịch tiêm chủng mở rộng tháng 11",
            "Lịch tiêm tại các trạm y tế phường.",
            "<p>Lịch tiêm cũ.</p>",
            &["tiem-chung"],
        ),
    )
    .await;
    let old_id = old["id"].as_str().expect("id").to_owned();
    post(
        http,
        moh,
        &format!("/api/v1/items/{old_id}/withdraw"),
        &json!({"explanation": "Lịch tiêm đã thay đổi; xem thông báo mới của Bộ Y tế."}),
    )
    .await;
    Ids { alert, flu: flu_id, circular: circular_id, old: old_id }
}

/// The other ministries' items: announcements, news, a decree.
async fn publish_other_items(http: &reqwest::Client, moet: &NodeDir, mof: &NodeDir) {
    post(
        http,
        moet,
        "/api/v1/items",
        &with_en(
            news(
                "announcement",
                "Lịch thi tốt nghiệp trung học phổ thông năm 2027",
                "Kỳ thi diễn ra trong hai ngày 11 và 12 tháng 6 năm 2027.",
                "<p>Thí sinh đăng ký dự thi trực tuyến từ ngày 20 tháng 4.</p>",
                &["giao-duc", "thi-cu"],
            ),
            "2027 upper-secondary graduation exam schedule",
            "The exam takes place on 11 and 12 June 2027.",
            "<p>Candidates register online from 20 April.</p>",
        ),
    )
    .await;
    post(
        http,
        moet,
        "/api/v1/items",
        &news(
            "news",
            "Đào tạo giáo viên tiếng Anh cho vùng sâu, vùng xa",
            "Chương trình bồi dưỡng 5.000 giáo viên trong năm học 2026–2027.",
            "<p>Bộ Giáo dục và Đào tạo phối hợp với các tỉnh triển khai chương trình.</p>",
            &["giao-duc"],
        ),
    )
    .await;
    post(http, mof, "/api/v1/items", &json!({
        "kind": "legal", "language": "vi",
        "title": "Nghị định 12/2026/NĐ-CP về thuế thu nhập cá nhân",
        "summary": "Điều chỉnh mức giảm trừ gia cảnh từ ngày 1 tháng 1 năm 2027.",
        "content_html": "<p>Mức giảm trừ cho người nộp thuế là 15,5 triệu đồng/tháng.</p>",
        "categories": ["tai-chinh", "thue", "van-ban"],
        "translations": {"en": {"title": "Decree 12/2026/ND-CP on personal income tax",
                                "summary": "New family deductions from 1 January 2027.",
                                "content_html": "<p>The deduction is VND 15.5 million a month.</p>"}},
        "legal": {"number": "12/2026/NĐ-CP", "issuer": "Chính phủ", "signer": "Thủ tướng Chính phủ",
                  "issued": "2026-09-15", "effective": "2027-01-01", "expires": "2031-12-31"}})).await;
    post(
        http,
        mof,
        "/api/v1/items",
        &news(
            "news",
            "Bộ Tài chính công bố số liệu thu ngân sách 10 tháng",
            "Thu ngân sách nhà nước đạt 92% dự toán.",
            "<p>Tổng thu ước đạt 1.620 nghìn tỷ đồng.</p>",
            &["tai-chinh"],
        ),
    )
    .await;
}

/// Items the national search lists (the withdrawn one is left out).
const EXPECTED: u64 = 7;

/// A demo-sized federation in headless Chromium: three ministries with Vietnamese content
/// (English names and translations for some), a fourth that stopped (an incident), and the
/// central, with every checkpoint of the running members cosigned.
struct Portal {
    f: Federation,
    _tmp: tempfile::TempDir,
    browser: Browser,
    shots: PathBuf,
    http: reqwest::Client,
    ids: Ids,
}

impl Portal {
    async fn start() -> Option<Portal> {
        let chromium = chromium()?;
        let (bin, tmp) = bin_and_tmp().await;
        let browser = Browser { bin: chromium, tmp: tempfile::tempdir().expect("tempdir") };
        let members = [
            ("bo-y-te", "Bộ Y tế"),
            ("bo-giao-duc", "Bộ Giáo dục và Đào tạo"),
            ("bo-tai-chinh", "Bộ Tài chính"),
            ("bo-cong-thuong", "Bộ Công Thương"),
        ];
        let mut f = Federation::init(&bin, tmp.path(), &members).expect("init");
        name_en(&f.members[0], "Bộ Y tế", "Ministry of Health");
        name_en(&f.members[1], "Bộ Giáo dục và Đào tạo", "Ministry of Education and Training");
        name_en(&f.members[2], "Bộ Tài chính", "Ministry of Finance");
        name_en(&f.central, "Chính phủ", "Government of Viet Nam");
        f.serve_all().expect("serve");
        f.add_members().expect("member add");
        let http = client();
        let ids = publish_health_items(&http, &f.members[0]).await;
        publish_other_items(&http, &f.members[1], &f.members[2]).await;
        let mut portal = Portal { f, _tmp: tmp, browser, shots: screenshot_dir(), http, ids };
        portal.settle().await;
        Some(portal)
    }

    /// Everything in the national search, an incident for the member that stopped, and the
    /// checkpoints of the running members cosigned.
    async fn settle(&mut self) {
        let (http, central) = (self.http.clone(), self.central().to_owned());
        let (http, central) = (&http, central.as_str());
        let expected = EXPECTED;
        eventually("every item in the national search", || async {
            let v = get_json(http, &format!("{central}/api/v1/national/search?q=")).await;
            eprintln!("national search: {}", v["total"]);
            v["total"].as_u64() == Some(expected)
        })
        .await;
        // An unreachable member: an incident for the incidents page.
        assert!(self.f.stop("bo-cong-thuong"), "moit stops");
        eventually("an incident for the stopped member", || async {
            let v =
                get_json(http, &format!("{central}/api/v1/incidents?member=bo-cong-thuong")).await;
            v["incidents"].as_array().is_some_and(|a| !a.is_empty())
        })
        .await;
        // Checkpoints cosigned for every running member.
        eventually("cosigned checkpoints", || async {
            let v = get_json(http, &format!("{central}/api/v1/members")).await;
            v["members"].as_array().is_some_and(|ms| {
                ms.iter().filter(|m| m["member"]["id"] != "bo-cong-thuong").all(|m| {
                    m["cosigned_checkpoint"].is_string() && m["member"]["size"].as_u64() >= Some(1)
                })
            })
        })
        .await;
    }

    fn central(&self) -> &str {
        self.f.central_base()
    }

    fn moh(&self) -> &NodeDir {
        &self.f.members[0]
    }

    /// A screenshot of `url` at 1280×1600, into `target/screenshots/NAME.png`.
    fn shot(&self, name: &str, url: &str) {
        self.browser.screenshot(url, &self.shots.join(format!("{name}.png")), 1280, 1600);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_national_pages_list_alerts_first_and_switch_to_english() {
    let Some(p) = Portal::start().await else { return };
    let (b, http, central) = (&p.browser, &p.http, p.central());
    let shot = |name: &str, url: &str| p.shot(name, url);
    // ---- national home: alerts first, then the latest, all ministries
    let home = b.dom(&format!("{central}/"));
    assert!(home.contains("<html lang=\"vi\""), "Vietnamese by default");
    let (alerts_at, latest_at) = (home.find("Cảnh báo khẩn</h2>"), home.find("Tin mới nhất</h2>"));
    assert!(alerts_at.is_some() && alerts_at < latest_at, "alerts come first: {home}");
    for text in [
        "Cảnh báo sốt xuất huyết gia tăng tại Hà Nội",
        "Lịch thi tốt nghiệp trung học phổ thông năm 2027",
        "Nghị định 12/2026/NĐ-CP về thuế thu nhập cá nhân",
        "Bộ Giáo dục và Đào tạo",
        "Bộ Tài chính",
    ] {
        assert!(home.contains(text), "home shows {text}");
    }
    assert!(
        !home.contains("Thông báo lịch tiêm chủng mở rộng tháng 11"),
        "withdrawn items are not listed"
    );
    shot("home", &format!("{central}/"));
    b.screenshot(&format!("{central}/"), &p.shots.join("home-phone.png"), 390, 1400);

    // ---- English: interface and content switch; untranslated content keeps its language
    let en = b.dom(&format!("{central}/?lang=en"));
    assert!(en.contains("<html lang=\"en\""));
    assert!(
        en.contains("Urgent alerts</h2>") && en.contains("Dengue fever on the rise in Ha Noi"),
        "{en}"
    );
    assert!(en.contains("Ministry of Finance"), "members' English names");
    let untranslated = en.find("Đào tạo giáo viên tiếng Anh").expect("untranslated item listed");
    let h3 = en[..untranslated].rfind("<h3").expect("card title");
    assert!(
        en[h3..untranslated].contains("lang=\"vi\""),
        "content in Vietnamese is marked lang=vi"
    );
    shot("home-en", &format!("{central}/?lang=en"));
    // The switch sets a cookie that later pages follow.
    let resp = http.get(format!("{central}/kinds/news?lang=en")).send().await.expect("get");
    let cookie = resp.headers()["set-cookie"].to_str().expect("cookie").to_owned();
    assert!(cookie.starts_with("lang=en"), "{cookie}");
    let body = http
        .get(format!("{central}/kinds/news"))
        .header("cookie", "lang=en")
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    assert!(body.contains("<html lang=\"en\""), "the cookie keeps English");
    // ---- a ministry, a category, a kind
    let ministry = b.dom(&format!("{central}/ministries/bo-y-te"));
    assert!(ministry.contains("<h1>Bộ Y tế</h1>") && ministry.contains("Thông tư 15/2026/TT-BYT"));
    assert!(!ministry.contains("Lịch thi tốt nghiệp"), "only that ministry's items");
    shot("ministry", &format!("{central}/ministries/bo-y-te"));
    let category = b.dom(&format!("{central}/categories/van-ban"));
    assert!(
        category.contains("Thông tư 15/2026/TT-BYT")
            && category.contains("Nghị định 12/2026/NĐ-CP")
    );
    assert!(!category.contains("Lịch thi tốt nghiệp"));
    shot("category", &format!("{central}/categories/van-ban"));
    let kind = b.dom(&format!("{central}/kinds/legal"));
    assert!(kind.contains("Văn bản pháp luật</h1>") && kind.contains("15/2026/TT-BYT"));
    shot("kind", &format!("{central}/kinds/legal"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_shows_provenance_history_and_a_diff_and_search_needs_no_diacritics() {
    let Some(p) = Portal::start().await else { return };
    let (b, http, central, moh) = (&p.browser, &p.http, p.central(), p.moh());
    let shot = |name: &str, url: &str| p.shot(name, url);
    let Ids { alert, flu: flu_id, circular: circular_id, old: old_id } = &p.ids;
    // ---- an item: content, provenance, history, diff
    let item_url = format!("{central}/items/{flu_id}?member=bo-y-te");
    let item = b.dom(&item_url);
    assert!(item.contains("trước ngày 15 tháng 12"), "the latest version");
    let kid = moh.key.key_id().to_string();
    for text in [
        "Nguồn gốc và xác thực",
        "Ký số bởi",
        "Bộ Y tế",
        kid.as_str(),
        "Đã xác thực bởi",
        "Chính phủ",
        "đồng ký (chứng kiến) lúc",
        "Sửa hạn tiêm vắc xin: ngày 15 tháng 12",
        &format!("/api/v1/national/items/{flu_id}/bundle?member=bo-y-te"),
    ] {
        assert!(item.contains(text), "the item page shows {text}: {item}");
    }
    shot("item", &item_url);
    let diff = b.dom(&format!("{item_url}&diff=1..2"));
    assert!(diff.contains("<del>5</del>") && diff.contains("<ins>15</ins>"), "word diff: {diff}");
    shot("item-diff", &format!("{item_url}&diff=1..2#changes"));
    let v1 = b.dom(&format!("{item_url}&version=1"));
    assert!(v1.contains("trước ngày 5 tháng 12") && v1.contains("Bạn đang xem phiên bản 1"));
    let item_en = b.dom(&format!("{item_url}&lang=en"));
    assert!(
        item_en.contains("Provenance") && item_en.contains("not available in English"),
        "version 2 has no translation: the original is shown, said so"
    );
    let alert_id = alert;
    let alert_en = b.dom(&format!("{central}/items/{alert_id}?member=bo-y-te&lang=en"));
    assert!(
        alert_en.contains("<article class=\"primary item\" lang=\"en\">"),
        "translated content is lang=en"
    );
    assert!(alert_en.contains("Dengue cases in Ha Noi are up"));
    let legal = b.dom(&format!("{central}/items/{circular_id}?member=bo-y-te"));
    for text in
        ["15/2026/TT-BYT", "Thứ trưởng Trần Văn Thuấn", "01/10/2026", "01/12/2026", "Ngày hiệu lực"]
    {
        assert!(legal.contains(text), "legal metadata {text}");
    }
    shot("item-legal", &format!("{central}/items/{circular_id}?member=bo-y-te"));
    let withdrawn_url = format!("{central}/items/{old_id}?member=bo-y-te");
    let resp = http.get(&withdrawn_url).send().await.expect("get");
    assert_eq!(resp.status(), 200, "a withdrawn item keeps its page");
    let withdrawn = b.dom(&withdrawn_url);
    assert!(
        withdrawn.contains("Nội dung này đã được gỡ bỏ")
            && withdrawn.contains("Lịch tiêm đã thay đổi")
    );
    assert!(!withdrawn.contains("Lịch tiêm cũ."), "the explanation replaces the content");
    shot("item-withdrawn", &withdrawn_url);
    let missing = http.get(format!("{central}/items/nope")).send().await.expect("get");
    assert_eq!(missing.status(), 404);
    assert!(
        missing.text().await.expect("body").contains("Không tìm thấy trang"),
        "an HTML 404 page"
    );

    // ---- search without diacritics, facets, highlights
    let search = b.dom(&format!("{central}/search?q=bo+y+te"));
    assert!(
        search.contains("<mark>Bộ</mark> <mark>Y</mark> <mark>tế</mark>"),
        "highlighted: {search}"
    );
    assert!(search.contains("</mark> khuyến cáo phòng chống dịch cúm mùa"));
    assert!(search.contains("/search?q=bo+y+te&amp;member=bo-y-te"), "facet links keep the query");
    shot("search", &format!("{central}/search?q=bo+y+te"));
    let faceted = b.dom(&format!("{central}/search?q=thue&kind=legal"));
    assert!(faceted.contains("12/2026/NĐ-CP") && !faceted.contains("thu ngân sách 10 tháng"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_federation_board_a_ministrys_own_portal_and_the_http_headers() {
    let Some(p) = Portal::start().await else { return };
    let (b, http, central, moh) = (&p.browser, &p.http, p.central(), p.moh());
    let shot = |name: &str, url: &str| p.shot(name, url);
    let flu_id = &p.ids.flu;
    // ---- federation health and incidents
    let fed = b.dom(&format!("{central}/federation"));
    for text in [
        "Bộ Y tế",
        "Bộ Giáo dục và Đào tạo",
        "Bộ Tài chính",
        "Bộ Công Thương",
        "đã đồng ký",
        "đang lỗi",
    ] {
        assert!(fed.contains(text), "the board shows {text}: {fed}");
    }
    shot("federation", &format!("{central}/federation"));
    let inc = b.dom(&format!("{central}/incidents"));
    assert!(
        inc.contains("unreachable")
            && inc.contains("Bộ Công Thương")
            && inc.contains("/api/v1/incidents?member=bo-cong-thuong")
    );
    shot("incidents", &format!("{central}/incidents"));

    // ---- a ministry's own portal
    let own = b.dom(&format!("{}/", moh.url));
    assert!(
        own.contains("Bộ Y tế")
            && own.contains("Cảnh báo sốt xuất huyết")
            && !own.contains("Lịch thi")
    );
    shot("ministry-home", &format!("{}/", moh.url));
    let own_item = b.dom(&format!("{}/items/{flu_id}", moh.url));
    assert!(
        own_item.contains(&format!("/api/v1/items/{flu_id}/bundle")) && own_item.contains("ký lúc")
    );
    shot("ministry-item", &format!("{}/items/{flu_id}", moh.url));
    let own_search = b.dom(&format!("{}/search?q=cum+mua", moh.url));
    assert!(own_search.contains("<mark>cúm</mark> <mark>mùa</mark>"), "{own_search}");

    // ---- HTTP: CSP, ETag and 304, the stylesheet
    let resp = http.get(format!("{central}/")).send().await.expect("get");
    let csp = resp.headers()["content-security-policy"].to_str().expect("csp").to_owned();
    assert!(
        csp.contains("script-src 'none'")
            && csp.contains("style-src 'self'")
            && !csp.contains("unsafe-inline")
    );
    let etag = resp.headers()["etag"].to_str().expect("etag").to_owned();
    let again =
        http.get(format!("{central}/")).header("if-none-match", &etag).send().await.expect("get");
    assert_eq!(again.status(), 304, "conditional GET");
    let page = resp.text().await.expect("body");
    let css = page
        .split("rel=\"stylesheet\" href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("css link");
    let resp = http.get(format!("{central}{css}")).send().await.expect("css");
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["cache-control"].to_str().expect("cc").contains("immutable"));
}

/// The page's Content-Security-Policy, as the central sends it.
async fn csp_of(http: &reqwest::Client, central: &str) -> String {
    let resp = http.get(format!("{central}/")).send().await.expect("get");
    resp.headers()["content-security-policy"].to_str().expect("csp").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_html_never_runs_a_script_on_the_national_pages() {
    let Some(p) = Portal::start().await else { return };
    let (b, browser, http, central, moh) = (&p.browser, &p.browser, &p.http, p.central(), p.moh());
    let shot = |name: &str, url: &str| p.shot(name, url);
    let expected = EXPECTED;
    let csp = csp_of(http, central).await;
    // ---- hostile HTML: the feedparser corpus and our own payloads, published by a ministry
    // in digests of 50 files, then loaded on the national pages.
    let corpus = corpus_payloads();
    let mut hostile = Vec::new();
    for (n, chunk) in corpus.chunks(50).enumerate() {
        let mut html = String::new();
        for (name, payload) in chunk {
            html.push_str(&format!("<h3>{name}</h3>\n{payload}\n<hr>\n"));
        }
        let title = format!("Kiểm thử HTML độc hại {}", n + 1);
        let v = post(
            http,
            moh,
            "/api/v1/items",
            &news("news", &title, "Tệp kiểm thử", &html, &["kiem-thu"]),
        )
        .await;
        hostile.push(v["id"].as_str().expect("id").to_owned());
    }
    for (n, payload) in marker_payloads().iter().enumerate() {
        let title = format!("Kiểm thử mã độc {}", n + 1);
        let v = post(
            http,
            moh,
            "/api/v1/items",
            &news("news", &title, "Tệp kiểm thử", payload, &["kiem-thu"]),
        )
        .await;
        hostile.push(v["id"].as_str().expect("id").to_owned());
    }
    let total = expected + hostile.len() as u64;
    eventually("the hostile items in the national view", || async {
        let v = get_json(http, &format!("{central}/api/v1/national/search?q=")).await;
        v["total"].as_u64() == Some(total)
    })
    .await;
    for id in &hostile {
        let url = format!("{central}/items/{id}?member=bo-y-te");
        let html = http.get(&url).send().await.expect("get").text().await.expect("body");
        let content = html
            .split("<div class=\"content\">")
            .nth(1)
            .and_then(|c| c.split("</div>").next())
            .unwrap_or_else(|| panic!("{url} has content"));
        for (tag, attrs) in tags(content) {
            assert!(
                html::ALLOWED_TAGS.contains(&tag.as_str()),
                "{url}: <{tag}> survived: {content}"
            );
            for (name, value) in attrs {
                assert!(
                    !name.starts_with("on") && name != "style",
                    "{url}: {tag}[{name}] survived"
                );
                if name == "href" || name == "src" {
                    let v = value.to_ascii_lowercase();
                    assert!(
                        ["http://", "https://", "mailto:"].iter().any(|s| v.starts_with(s)),
                        "{url}: {tag}[{name}={value:?}]"
                    );
                }
            }
        }
        let dom = b.dom(&url);
        assert!(!pwned(&dom), "a script ran on {url}: {dom}");
        assert!(dom.contains("Kiểm thử"), "{url} rendered");
    }
    let listing = b.dom(&format!("{central}/categories/kiem-thu"));
    assert!(!pwned(&listing) && listing.contains("Kiểm thử mã độc"));
    let results = b.dom(&format!("{central}/search?q=kiem+thu&per_page=100"));
    assert!(!pwned(&results));
    shot("hostile-item", &format!("{central}/items/{}?member=bo-y-te", hostile[hostile.len() - 4]));

    // The detector can fail: the same payloads run in a page without our CSP, and are blocked
    // by the CSP the portal sends.
    let probe = |csp: Option<&str>| {
        let meta = csp
            .map(|c| format!("<meta http-equiv=\"Content-Security-Policy\" content=\"{c}\">"))
            .unwrap_or_default();
        let page = format!(
            "<!doctype html><html><head>{meta}<title>probe</title></head><body>\
            <img src=\"data:,x\" onerror=\"{MARK}\"><script>{MARK}</script></body></html>"
        );
        let file = browser.tmp.path().join(if csp.is_some() {
            "with-csp.html"
        } else {
            "without-csp.html"
        });
        std::fs::write(&file, page).expect("probe page");
        pwned(&b.dom(&format!("file://{}", file.display())))
    };
    let meta_csp = csp.replace("; frame-ancestors 'none'", "");
    assert!(probe(None), "without a CSP the probe's script runs (the detector works)");
    assert!(!probe(Some(&meta_csp)), "the portal's CSP blocks inline scripts and handlers");
}
