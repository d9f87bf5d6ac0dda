//! Plain feed readers see ordinary entries: the committed valid feeds, read by Python's
//! feedparser (the most widely used feed-reading library), parse without errors and show the
//! titles and links of the signed records.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

const READER: &str = r#"
import json, sys, feedparser
d = feedparser.parse(sys.stdin.buffer.read(), response_headers={"content-type": sys.argv[1]})
print(json.dumps({
    "bozo": bool(d.bozo), "error": str(d.get("bozo_exception", "")), "version": d.version,
    "feed_title": d.feed.get("title"),
    "entries": [{"id": e.get("id"), "title": e.get("title"), "link": e.get("link"),
                 "updated": e.get("updated"), "content": (e.get("content") or [{}])[0].get("value", e.get("summary"))}
                for e in d.entries],
}))
"#;

/// Runs feedparser on `doc`; `None` when Python or feedparser is not installed (outside CI).
pub(crate) fn read_with_feedparser(doc: &str, content_type: &str) -> Option<Value> {
    let child = Command::new("python3")
        .args(["-c", READER, content_type])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return missing(&format!("python3: {e}")),
    };
    child.stdin.take().expect("piped").write_all(doc.as_bytes()).expect("write feed");
    let out = child.wait_with_output().expect("python3 runs");
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("No module named 'feedparser'") {
            return missing("feedparser is not installed (pip install -r .ci/requirements.txt)");
        }
        panic!("feedparser failed: {err}");
    }
    Some(serde_json::from_slice(&out.stdout).expect("reader prints JSON"))
}

fn missing(why: &str) -> Option<Value> {
    assert!(std::env::var_os("CI").is_none(), "CI must have the feed reader: {why}");
    eprintln!("SKIPPED feed-reader check: {why}");
    None
}

#[test]
fn feedparser_reads_our_feeds_as_ordinary_feeds() {
    let files = crate::committed::vector_files();
    let mut checked = 0;
    for (path, text) in &files {
        if !path.starts_with("feeds/valid/") {
            continue;
        }
        let v: Value = serde_json::from_str(text).expect("vector");
        let doc = v["input"].as_str().expect("feed text");
        if v["kind"] != "atom" {
            check_json_feed_1_1(path, doc);
            checked += 1;
            continue;
        }
        let Some(parsed) = read_with_feedparser(doc, "application/atom+xml") else { return };
        assert_eq!(
            parsed["bozo"], false,
            "{path}: feedparser flags the feed as ill-formed: {}",
            parsed["error"]
        );
        assert_eq!(parsed["version"], "atom10", "{path}");
        let entries = parsed["entries"].as_array().expect("entries");
        assert!(!entries.is_empty(), "{path}: no entries visible to a reader");
        for e in entries {
            for field in ["id", "title", "link"] {
                assert!(
                    e[field].as_str().is_some_and(|s| !s.is_empty()),
                    "{path}: an entry has no {field}: {e}"
                );
            }
            assert!(
                e["id"].as_str().is_some_and(|id| id.starts_with("urn:ipsp:bo-y-te:")),
                "{path}: {e}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 3, "expected at least 3 valid feed vectors, checked {checked}");
}

/// The members JSON Feed 1.1 requires (https://jsonfeed.org/version/1.1), checked directly:
/// feedparser 6.0 does not read JSON Feed.
fn check_json_feed_1_1(path: &str, doc: &str) {
    let f: Value = serde_json::from_str(doc).expect("JSON Feed is JSON");
    assert_eq!(f["version"], "https://jsonfeed.org/version/1.1", "{path}");
    assert!(f["title"].as_str().is_some_and(|t| !t.is_empty()), "{path}: title");
    for key in ["home_page_url", "feed_url"] {
        assert!(f[key].as_str().is_some_and(|u| u.starts_with("https://")), "{path}: {key}");
    }
    let items = f["items"].as_array().expect("items is an array");
    assert!(!items.is_empty(), "{path}: no items");
    for item in items {
        assert!(item["id"].as_str().is_some_and(|s| !s.is_empty()), "{path}: item id");
        assert!(
            item["content_html"].is_string() || item["content_text"].is_string(),
            "{path}: item content"
        );
        for key in item.as_object().expect("item object").keys() {
            let known = [
                "id",
                "url",
                "external_url",
                "title",
                "content_html",
                "content_text",
                "summary",
                "image",
                "banner_image",
                "date_published",
                "date_modified",
                "authors",
                "tags",
                "language",
                "attachments",
            ];
            assert!(
                known.contains(&key.as_str()) || key.starts_with('_'),
                "{path}: unknown item member {key}"
            );
        }
    }
}

#[test]
fn feedparser_sees_no_script_in_hostile_content() {
    use portal_proto::envelope;
    use portal_proto::feed;
    let mut item = portal_tests::fixtures::news("bo-y-te", 0, 1);
    item.content_html = "<p onclick=\"steal()\">Tin</p><script>alert(1)</script><a href=\"javascript:alert(2)\">x</a><img src=x onerror=alert(3)>".into();
    let signed = envelope::sign(&item, &portal_tests::fixtures::MOH.signer()).expect("signs");
    let meta = portal_tests::fixtures::feed_meta(false);
    let json: Value = serde_json::from_str(
        &feed::encode_json(&meta, std::slice::from_ref(&signed)).expect("json"),
    )
    .expect("JSON Feed is JSON");
    let atom = feed::encode_atom(&meta, std::slice::from_ref(&signed)).expect("atom");
    let Some(parsed) = read_with_feedparser(&atom, "application/atom+xml") else { return };
    for content in [
        parsed["entries"][0]["content"].as_str().unwrap_or_default().to_ascii_lowercase(),
        json["items"][0]["content_html"].as_str().unwrap_or_default().to_ascii_lowercase(),
    ] {
        assert!(content.contains("tin"), "the harmless text survives: {content}");
        for bad in ["<script", "onclick", "onerror", "javascript:"] {
            assert!(!content.contains(bad), "a feed reader would see {bad}: {content}");
        }
    }
}
