//! Feed decoding: visible fields checked against the signed record, tampering, hostile HTML,
//! decoder limits, fuzzing, and the third-party corpora.

use super::*;

// ---------------------------------------------------------------------------------------------
// Tampering

#[test]
fn changed_visible_title_is_a_mismatch() {
    let title = &FIXTURE.news.title;
    let atom = ATOM.replacen(title.as_str(), "Bộ Y tế: không có dịch", 1);
    let feed = decode_atom(atom.as_bytes()).unwrap();
    assert_eq!(codes(&feed), ["feed-mismatch", "ok", "ok", "ok", "ok"]);
    let json = JSON.replacen(title.as_str(), "Bộ Y tế: không có dịch", 1);
    let feed = decode_json(json.as_bytes()).unwrap();
    assert_eq!(codes(&feed), ["feed-mismatch", "ok", "ok", "ok", "ok"]);
    let err = verify_entries(&feed, &trust()).remove(0).unwrap_err();
    assert!(err.to_string().contains("title"), "{err}");
}

/// A change to an entry's visible fields.
type Tamper = Box<dyn Fn(&mut Visible)>;

#[test]
fn every_visible_field_is_checked() {
    let base = decode_atom(ATOM.as_bytes()).unwrap();
    let record = |i: usize| envelope::parse_record(base.entries[i].signed.bytes()).unwrap();
    let cases: Vec<(&str, Tamper)> = vec![
        (
            "id",
            Box::new(|v| {
                if let Visible::Entry { id, .. } = v {
                    id.push('x')
                }
            }),
        ),
        (
            "updated",
            Box::new(|v| {
                if let Visible::Entry { updated, .. } = v {
                    *updated = None
                }
            }),
        ),
        (
            "published",
            Box::new(|v| {
                if let Visible::Entry { published, .. } = v {
                    *published = Some(Timestamp::EPOCH)
                }
            }),
        ),
        (
            "summary",
            Box::new(|v| {
                if let Visible::Entry { summary, .. } = v {
                    *summary = None
                }
            }),
        ),
        (
            "content",
            Box::new(|v| {
                if let Visible::Entry { content_html, .. } = v {
                    content_html.as_mut().unwrap().push_str("<p>thêm</p>")
                }
            }),
        ),
        (
            "categories",
            Box::new(|v| {
                if let Visible::Entry { categories, .. } = v {
                    categories.pop();
                }
            }),
        ),
        (
            "language",
            Box::new(|v| {
                if let Visible::Entry { language, .. } = v {
                    *language = Some("en".into())
                }
            }),
        ),
    ];
    for (field, tamper) in cases {
        let mut visible = base.entries[0].visible.clone();
        tamper(&mut visible);
        let err = check_visible(&record(0), &visible).unwrap_err();
        assert_eq!(err.code(), "feed-mismatch");
        assert!(err.to_string().contains(&format!("{field}:")), "{field}: {err}");
    }
    // Categories are compared as a sorted list; order in the document does not matter.
    let mut visible = base.entries[0].visible.clone();
    if let Visible::Entry { categories, .. } = &mut visible {
        categories.reverse();
    }
    check_visible(&record(0), &visible).unwrap();

    let tombstone_cases: Vec<(&str, Tamper)> = vec![
        (
            "ref",
            Box::new(|v| {
                if let Visible::Tombstone { id, .. } = v {
                    *id = "urn:ipsp:bo-y-te:x".into()
                }
            }),
        ),
        (
            "when",
            Box::new(|v| {
                if let Visible::Tombstone { when, .. } = v {
                    *when = Some(Timestamp::EPOCH)
                }
            }),
        ),
        (
            "comment",
            Box::new(|v| {
                if let Visible::Tombstone { comment, .. } = v {
                    *comment = Some("Không có gì".into())
                }
            }),
        ),
        (
            "comment",
            Box::new(|v| {
                if let Visible::Tombstone { comment, .. } = v {
                    *comment = None
                }
            }),
        ),
        (
            "title",
            Box::new(|v| {
                if let Visible::Tombstone { title, .. } = v {
                    *title = Some("Gone".into())
                }
            }),
        ),
    ];
    for (field, tamper) in tombstone_cases {
        let mut visible = base.entries[4].visible.clone();
        tamper(&mut visible);
        let err = check_visible(&record(4), &visible).unwrap_err();
        assert_eq!(err.code(), "feed-mismatch");
        assert!(err.to_string().contains(&format!("{field}:")), "{field}: {err}");
    }
}

#[test]
fn records_in_the_wrong_kind_of_entry_are_mismatches() {
    for mut feed in [decode_atom(ATOM.as_bytes()).unwrap(), decode_json(JSON.as_bytes()).unwrap()] {
        let item = feed.entries[1].signed.clone();
        feed.entries[1].signed = feed.entries[4].signed.clone();
        feed.entries[4].signed = item;
        assert_eq!(codes(&feed), ["ok", "feed-mismatch", "ok", "ok", "feed-mismatch"]);
    }
}

/// Replace the first entry's signed record bytes in an encoded document.
fn with_record_bytes(doc: &str, edit: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let original = &FIXTURE.records[0];
    let edited =
        SignedRecord::from_parts(edit(original.bytes()), original.kid().clone(), *original.sig());
    doc.replacen(&original.record_base64(), &edited.record_base64(), 1)
}

#[test]
fn changed_record_bytes_fail_the_signature() {
    // Same length, still canonical and valid: only the signature catches it.
    let flip = |b: &[u8]| {
        let s = String::from_utf8(b.to_vec()).unwrap();
        s.replacen("khuyến cáo", "khuyến cáO", 1).into_bytes()
    };
    // Not canonical any more.
    let space = |b: &[u8]| {
        let mut v = b.to_vec();
        v.insert(1, b' ');
        v
    };
    for doc in [&*ATOM, &*JSON] {
        let decode = |s: &str| {
            if s.starts_with('<') { decode_atom(s.as_bytes()) } else { decode_json(s.as_bytes()) }
        };
        let feed = decode(&with_record_bytes(doc, flip)).unwrap();
        assert_eq!(codes(&feed), ["bad-signature", "ok", "ok", "ok", "ok"]);
        let feed = decode(&with_record_bytes(doc, space)).unwrap();
        let c = codes(&feed)[0];
        assert!(c == "non-canonical" || c == "bad-signature", "{c}");
    }
}

#[test]
fn doctype_is_refused_before_parsing() {
    let decl = "<?xml version=\"1.0\"?>";
    assert!(ATOM.starts_with(decl));
    for dtd in [
        "<!DOCTYPE feed [<!ENTITY x \"y\">]>",
        "<!doctype feed>",
        "<!DOCTYPE feed SYSTEM \"file:///etc/passwd\">",
        "<!-- c --><!DoCtYpE feed>",
    ] {
        let doc = ATOM.replacen(decl, &format!("{decl}\n{dtd}"), 1);
        assert_eq!(code(decode_atom(doc.as_bytes())), "doctype", "{dtd}");
    }
    // A billion laughs never gets near the parser.
    let laughs = format!(
        "{decl}<!DOCTYPE lolz [<!ENTITY lol \"lol\">{}]><feed xmlns=\"http://www.w3.org/2005/Atom\">&lol9;</feed>",
        (1..10)
            .map(|i| format!("<!ENTITY lol{i} \"{}\">", format!("&lol{};", i - 1).repeat(10)))
            .collect::<String>()
    );
    assert_eq!(code(decode_atom(laughs.as_bytes())), "doctype");
    // An ENTITY declaration anywhere, even without a DOCTYPE, is refused the same way.
    let doc = ATOM.replacen("<title>", "<title><!ENTITY x \"y\">", 1);
    assert_eq!(code(decode_atom(doc.as_bytes())), "doctype");
}

#[test]
fn oversized_documents_are_refused_before_parsing() {
    let big = vec![b' '; MAX_FEED_BYTES + 1];
    assert_eq!(
        decode_atom(&big).unwrap_err(),
        Rejection::TooLarge { limit: MAX_FEED_BYTES, actual: MAX_FEED_BYTES + 1, unit: "bytes" }
    );
    assert_eq!(code(decode_json(&big)), "too-large");
}

#[test]
fn too_many_entries_are_refused() {
    let start = ATOM.find("<entry>").unwrap();
    let end = ATOM.find("</entry>").unwrap() + "</entry>".len();
    let entry = &ATOM[start..end];
    let doc = format!("{}{}{}", &ATOM[..start], entry.repeat(MAX_PAGE_ENTRIES + 1), &ATOM[end..]);
    assert_eq!(code(decode_atom(doc.as_bytes())), "too-large");
    let doc = format!("{}{}{}", &ATOM[..start], entry.repeat(MAX_PAGE_ENTRIES - 4), &ATOM[end..]);
    assert_eq!(decode_atom(doc.as_bytes()).unwrap().entries.len(), MAX_PAGE_ENTRIES);

    let mut v: serde_json::Value = serde_json::from_str(&JSON).unwrap();
    let one = v["items"][0].clone();
    v["items"] = serde_json::Value::Array(vec![one; MAX_PAGE_ENTRIES + 1]);
    assert_eq!(
        decode_json(v.to_string().as_bytes()).unwrap_err(),
        Rejection::TooLarge {
            limit: MAX_PAGE_ENTRIES,
            actual: MAX_PAGE_ENTRIES + 1,
            unit: "entries"
        }
    );
}

#[test]
fn unsigned_entries_are_malformed() {
    // Atom: the first entry loses its ipsp:record.
    let start = ATOM.find("<ipsp:record").unwrap();
    let end = ATOM.find("</ipsp:record>").unwrap() + "</ipsp:record>".len();
    let doc = format!("{}{}", &ATOM[..start], &ATOM[end..]);
    assert_eq!(code(decode_atom(doc.as_bytes())), "malformed");
    // The tombstone loses its ipsp:record.
    let start = ATOM.rfind("<ipsp:record").unwrap();
    let end = ATOM.rfind("</ipsp:record>").unwrap() + "</ipsp:record>".len();
    let doc = format!("{}{}", &ATOM[..start], &ATOM[end..]);
    assert_eq!(code(decode_atom(doc.as_bytes())), "malformed");
    // The ipsp prefix bound to another namespace is not an IPSP record.
    let doc = ATOM.replacen("xmlns:ipsp=\"urn:ipsp:1\"", "xmlns:ipsp=\"urn:other\"", 1);
    assert_eq!(code(decode_atom(doc.as_bytes())), "malformed");
    // JSON: an item without _ipsp, and an _ipsp with an unknown key.
    let mut v: serde_json::Value = serde_json::from_str(&JSON).unwrap();
    v["items"][0].as_object_mut().unwrap().remove("_ipsp");
    assert_eq!(code(decode_json(v.to_string().as_bytes())), "malformed");
    let mut v: serde_json::Value = serde_json::from_str(&JSON).unwrap();
    v["items"][0]["_ipsp"]["extra"] = serde_json::json!(1);
    assert_eq!(code(decode_json(v.to_string().as_bytes())), "malformed");
    let mut v: serde_json::Value = serde_json::from_str(&JSON).unwrap();
    v["_ipsp"]["archive"] = serde_json::json!("no");
    assert_eq!(code(decode_json(v.to_string().as_bytes())), "malformed");
    // Unknown fields elsewhere are fine.
    let mut v: serde_json::Value = serde_json::from_str(&JSON).unwrap();
    v["icon"] = serde_json::json!("https://moh.example/icon.png");
    v["items"][0]["image"] = serde_json::json!("https://moh.example/a.png");
    assert_eq!(codes(&decode_json(v.to_string().as_bytes()).unwrap()), ["ok"; 5]);
}

#[test]
fn missing_required_atom_elements_are_malformed() {
    let first_entry = ATOM.find("<entry>").unwrap();
    for element in ["id", "title", "updated"] {
        // In the first entry.
        let start = first_entry + ATOM[first_entry..].find(&format!("<{element}")).unwrap();
        let close = format!("</{element}>");
        let end = start + ATOM[start..].find(&close).unwrap() + close.len();
        let doc = format!("{}{}", &ATOM[..start], &ATOM[end..]);
        assert_eq!(code(decode_atom(doc.as_bytes())), "malformed", "entry {element}");
        // At feed level.
        let start = ATOM.find(&format!("<{element}")).unwrap();
        assert!(start < first_entry);
        let end = start + ATOM[start..].find(&close).unwrap() + close.len();
        let doc = format!("{}{}", &ATOM[..start], &ATOM[end..]);
        assert_eq!(code(decode_atom(doc.as_bytes())), "malformed", "feed {element}");
    }
    // Not Atom 1.0.
    let doc = ATOM.replacen(
        "xmlns=\"http://www.w3.org/2005/Atom\"",
        "xmlns=\"http://purl.org/atom/ns#\"",
        1,
    );
    assert_eq!(code(decode_atom(doc.as_bytes())), "malformed");
    // Not UTF-8.
    let doc = ATOM.replacen(
        "<?xml version=\"1.0\"?>",
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>",
        1,
    );
    assert_eq!(code(decode_atom(doc.as_bytes())), "malformed");
    let mut bytes = ATOM.as_bytes().to_vec();
    let at = ATOM.find("Bộ").unwrap();
    bytes[at + 1] = 0xff;
    assert_eq!(code(decode_atom(&bytes)), "malformed");
}

// ---------------------------------------------------------------------------------------------
// Hostile HTML

#[test]
fn hostile_html_never_reaches_the_feed() {
    let hostile = item(
        0,
        9,
        ItemKind::Alert,
        "vi",
        "Cảnh báo",
        "Tóm tắt",
        "<p onclick=\"steal()\">Xin chào<script>alert('xss')</script></p>\
         <img src=\"https://moh.example/a.png\" onerror=\"alert(1)\">\
         <a href=\"javascript:alert(1)\">bấm vào đây</a><a href=\"JaVaScRiPt&#58;alert(1)\">2</a>\
         <iframe src=\"https://evil.example/\"></iframe><style>body{display:none}</style>\
         <img src=\"data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=\"><form action=\"https://evil.example/\"><input></form>\
         <p style=\"background:url(javascript:alert(1))\">kiểu</p><svg onload=\"alert(1)\"></svg>",
        &[],
        "2026-11-28T09:00:00Z",
    );
    let signed = sign(&hostile);
    let atom = encode_atom(&meta(), std::slice::from_ref(&signed)).unwrap();
    let json = encode_json(&meta(), std::slice::from_ref(&signed)).unwrap();
    // The base64 record carries the original bytes; everything else must be clean.
    let record_b64 = signed.record_base64();
    for doc in [&atom, &json] {
        let lower = doc.replace(&record_b64, "").to_lowercase();
        for bad in [
            "<script",
            "&lt;script",
            "\\u003cscript",
            "onerror",
            "onclick",
            "onload",
            "javascript",
            "<iframe",
            "&lt;iframe",
            "&lt;style",
            "&lt;form",
            "data:",
            "style=",
        ] {
            assert!(!lower.contains(bad), "{bad} in {doc}");
        }
    }
    for feed in [decode_atom(atom.as_bytes()).unwrap(), decode_json(json.as_bytes()).unwrap()] {
        let Visible::Entry { content_html: Some(c), .. } = &feed.entries[0].visible else {
            panic!()
        };
        assert_eq!(
            *c,
            "<p>Xin chào</p><img src=\"https://moh.example/a.png\"><a rel=\"noopener noreferrer\">bấm vào đây</a>\
             <a rel=\"noopener noreferrer\">2</a><img><p>kiểu</p>"
        );
        assert_eq!(codes(&feed), ["ok"]);
    }
}

#[test]
fn html_to_text_gives_snippets() {
    assert_eq!(
        html_to_text(&FIXTURE.news.content_html),
        "Theo Cục Phòng bệnh , số ca mắc tăng 20%. Đậy kín dụng cụ chứa nước Ngủ màn Xem hướng dẫn ."
            .replace(" ,", ",")
            .replace(" .", ".")
    );
}

// ---------------------------------------------------------------------------------------------
// Fuzzing: decoders never panic

fn apply_edits(base: &str, edits: &[(prop::sample::Index, u8, u8)]) -> Vec<u8> {
    const TOKENS: [&str; 12] = [
        "<",
        ">",
        "</entry>",
        "<entry>",
        "&",
        "&amp;",
        "<!--",
        "]]>",
        "\"",
        "<ipsp:record>",
        "xmlns:x=\"y\"",
        "\u{0}",
    ];
    let mut b = base.as_bytes().to_vec();
    for (at, byte, op) in edits {
        let i = at.index(b.len() + 1);
        match op % 4 {
            0 if i < b.len() => b[i] = *byte,
            1 if i < b.len() => {
                b.remove(i);
            }
            2 => {
                let t = TOKENS[usize::from(*byte) % TOKENS.len()].as_bytes();
                b.splice(i..i, t.iter().copied());
            }
            _ => b.truncate(i),
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn decode_atom_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode_atom(&bytes);
    }

    #[test]
    fn decode_json_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode_json(&bytes);
    }

    #[test]
    fn decoders_never_panic_on_xmlish_text(body in "[<>/a-z:=\"' &;#!?\\[\\]x0-9-]{0,300}") {
        let doc = format!("<feed xmlns=\"http://www.w3.org/2005/Atom\" xmlns:ipsp=\"urn:ipsp:1\">{body}</feed>");
        let _ = decode_atom(doc.as_bytes());
        let _ = decode_json(body.as_bytes());
    }

    #[test]
    fn decoders_never_panic_on_mutated_feeds(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), any::<u8>()), 1..6)) {
        let atom = apply_edits(&ATOM, &edits);
        if let Ok(feed) = decode_atom(&atom) {
            let _ = verify_entries(&feed, &trust());
        }
        let json = apply_edits(&JSON, &edits);
        if let Ok(feed) = decode_json(&json) {
            let _ = verify_entries(&feed, &trust());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// feedvalidator corpus: plain Atom feeds carry no ipsp:record, so every one is refused

fn xml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            xml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "xml") {
            out.push(p);
        }
    }
}

#[test]
fn feedvalidator_corpus_is_refused_without_panics() {
    let mut files = Vec::new();
    xml_files(&crate::shared("feedvalidator"), &mut files);
    assert_eq!(files.len(), 794);
    let mut by_code = std::collections::BTreeMap::<&str, usize>::new();
    let mut parsed_with_ipsp_ns = 0;
    let mut empty_with_ipsp_ns = 0;
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        match decode_atom(&bytes) {
            Ok(feed) => panic!("{} decoded: {feed:?}", f.display()),
            Err(e) => *by_code.entry(e.code()).or_default() += 1,
        }
        // Declare the IPSP namespace so that the document reaches the Atom parser: it still
        // must not panic, and every feed with entries is refused (no ipsp:record).
        let text = String::from_utf8_lossy(&bytes);
        if let Some(at) = text.find("<feed") {
            let doc = format!("{} xmlns:ipsp=\"urn:ipsp:1\"{}", &text[..at + 5], &text[at + 5..]);
            match decode_atom(doc.as_bytes()) {
                Ok(feed) => {
                    assert!(feed.entries.is_empty(), "{}", f.display());
                    empty_with_ipsp_ns += 1;
                }
                Err(_) => parsed_with_ipsp_ns += 1,
            }
        }
    }
    eprintln!(
        "feedvalidator: {} files refused, by code: {by_code:?}; with xmlns:ipsp added: {parsed_with_ipsp_ns} \
         refused, {empty_with_ipsp_ns} accepted as feeds without entries",
        files.len()
    );
    assert_eq!(by_code.values().sum::<usize>(), 794);
}

// ---------------------------------------------------------------------------------------------
// feedparser-sanitize corpus: the escaped HTML each test feed carries, through sanitize_html

/// Decode the XML predefined entities and character references.
fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos..];
        let Some(end) = rest.find(';').filter(|&e| e <= 12) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let name = &rest[1..end];
        let c = match name {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some('\u{a0}'),
            n if n.starts_with("#x") || n.starts_with("#X") => {
                u32::from_str_radix(&n[2..], 16).ok().and_then(char::from_u32)
            }
            n if n.starts_with('#') => n[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Elements named `name` (exact qualified name) in `doc`: (start-tag text, raw inner content).
fn elements<'a>(doc: &'a str, name: &str) -> Vec<(&'a str, &'a str)> {
    let mut out = Vec::new();
    let open = format!("<{name}");
    let close = format!("</{name}>");
    let mut from = 0;
    while let Some(p) = doc[from..].find(&open) {
        let start = from + p;
        let after = start + open.len();
        let next = doc[after..].chars().next();
        if !matches!(next, Some(c) if c.is_whitespace() || c == '>' || c == '/') {
            from = after;
            continue;
        }
        let Some(gt) = doc[after..].find('>') else {
            break;
        };
        let tag_end = after + gt + 1;
        let tag = &doc[start..tag_end];
        if tag.ends_with("/>") {
            out.push((tag, ""));
            from = tag_end;
            continue;
        }
        // Find the matching end tag, counting nested elements of the same name.
        let mut depth = 1;
        let mut i = tag_end;
        let mut inner_end = doc.len();
        while i < doc.len() {
            let next_open = doc[i..].find(&open).map(|p| i + p);
            let Some(next_close) = doc[i..].find(&close).map(|p| i + p) else {
                break;
            };
            match next_open {
                Some(o) if o < next_close => {
                    depth += 1;
                    i = o + open.len();
                }
                _ => {
                    depth -= 1;
                    if depth == 0 {
                        inner_end = next_close;
                        break;
                    }
                    i = next_close + close.len();
                }
            }
        }
        out.push((tag, &doc[tag_end..inner_end]));
        from = inner_end.max(tag_end);
    }
    out
}

/// The HTML carried by an element: base64-decoded (`mode="base64"`), inline markup as is, or
/// text with CDATA sections and entities decoded.
fn payload(tag: &str, inner: &str) -> String {
    if tag.contains("mode=\"base64\"") {
        let compact: String = inner.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = portal_proto::crypto::decode_base64(&compact).unwrap();
        return String::from_utf8(bytes).unwrap();
    }
    let mut out = String::new();
    let mut rest = inner;
    let mut inline_markup = false;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("<![CDATA[") {
            let end = r.find("]]>").unwrap_or(r.len());
            out.push_str(&r[..end]);
            rest = r.get(end + 3..).unwrap_or("");
        } else {
            let end = rest.find("<![CDATA[").unwrap_or(rest.len());
            let text = &rest[..end];
            if text.contains('<') {
                inline_markup = true;
            }
            out.push_str(&decode_entities(text));
            rest = &rest[end..];
        }
    }
    if inline_markup { inner.to_owned() } else { out }
}

/// Remove every `entry`/`item` element, leaving the feed-level elements.
fn feed_level(doc: &str) -> String {
    let mut d = doc.to_owned();
    for name in ["entry", "item"] {
        for (tag, inner) in elements(doc, name) {
            let whole = format!("{tag}{inner}</{name}>");
            d = d.replacen(&whole, "", 1);
        }
    }
    d
}

/// The HTML payloads a test file is about, chosen from its `Expect:` path.
fn payloads(doc: &str) -> (Vec<String>, Option<String>) {
    let expect =
        doc.split("Expect:").nth(1).and_then(|e| e.split("-->").next()).unwrap_or("").trim();
    let (path, literal) = match expect.split_once("==") {
        Some((p, l)) => (p.trim().trim_start_matches("not bozo and").trim(), Some(l.trim())),
        None => ("", None),
    };
    let key = path.split('\'').nth(1).unwrap_or("");
    let (scope, names): (String, &[&str]) = if path.starts_with("entries") {
        let first = ["entry", "item"]
            .iter()
            .filter_map(|n| {
                elements(doc, n)
                    .first()
                    .map(|(t, i)| (doc.find(t).unwrap_or(usize::MAX), i.to_string()))
            })
            .min()
            .map(|(_, inner)| inner)
            .unwrap_or_default();
        let names: &[&str] = match key {
            "title" => &["title"],
            "summary" => &["summary", "description"],
            "content" => &["content", "content:encoded", "body", "xhtml:body", "fullitem"],
            _ => &[
                "summary",
                "description",
                "content",
                "content:encoded",
                "fullitem",
                "body",
                "xhtml:body",
            ],
        };
        (first, names)
    } else if path.starts_with("feed") {
        let names: &[&str] = match key {
            "title" => &["title"],
            "tagline" => &["subtitle", "tagline", "description"],
            "info" => &["info"],
            "copyright" => &["copyright", "rights"],
            _ => &["description", "subtitle", "tagline"],
        };
        (feed_level(doc), names)
    } else {
        // `not bozo` only: every content and summary in the document.
        let all: Vec<String> = ["content", "summary"]
            .iter()
            .flat_map(|n| elements(doc, n))
            .map(|(t, i)| payload(t, i))
            .filter(|p| !p.trim().is_empty())
            .collect();
        return (all, None);
    };
    // The first candidate element in document order.
    let found = names
        .iter()
        .filter_map(|n| elements(&scope, n).into_iter().next())
        .min_by_key(|(t, _)| scope.find(t).unwrap_or(usize::MAX));
    let payloads =
        found.map(|(t, i)| payload(t, i)).into_iter().filter(|p| !p.is_empty()).collect();
    (payloads, literal.map(python_literal))
}

/// Evaluate the Python string expression of an `Expect:` (literals joined with `+`).
fn python_literal(expr: &str) -> String {
    let mut out = String::new();
    let mut rest = expr.trim();
    while !rest.is_empty() {
        let quote = if rest.starts_with("'''") {
            "'''"
        } else if rest.starts_with("\"\"\"") {
            "\"\"\""
        } else {
            &rest[..1]
        };
        let body = &rest[quote.len()..];
        let mut chars = body.char_indices();
        let mut end = body.len();
        while let Some((i, c)) = chars.next() {
            if c == '\\' {
                match chars.next().map(|(_, c)| c) {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some(o) => out.push(o),
                    None => {}
                }
            } else if body[i..].starts_with(quote) {
                end = i;
                break;
            } else {
                out.push(c);
            }
        }
        rest = body.get(end + quote.len()..).unwrap_or("").trim_start();
        rest = rest.strip_prefix('+').unwrap_or(rest).trim_start();
    }
    out
}

/// `(tag, [(attribute, value)])` for every tag of serialised HTML (quotes respected).
fn tags(html: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    let b = html.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        i += 1;
        let closing = b.get(i) == Some(&b'/');
        if closing {
            i += 1;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' && b[i] != b'/' {
            i += 1;
        }
        let name = html[start..i].to_ascii_lowercase();
        let mut attrs = Vec::new();
        loop {
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
                i += 1;
            }
            if i >= b.len() || b[i] == b'>' {
                i += 1;
                break;
            }
            let k = i;
            while i < b.len() && !matches!(b[i], b'=' | b'>') && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            let key = html[k..i].to_ascii_lowercase();
            let mut value = String::new();
            if b.get(i) == Some(&b'=') {
                i += 1;
                let q = b[i];
                let v = i + 1;
                i = v + html[v..].find(char::from(q)).unwrap();
                value = decode_entities(&html[v..i]);
                i += 1;
            }
            attrs.push((key, value));
        }
        if !closing {
            out.push((name, attrs));
        }
    }
    out
}

/// The sanitiser's promises, checked on one output.
fn assert_clean(file: &str, out: &str) {
    let lower = out.to_ascii_lowercase();
    for bad in ["<script", "<style", "<iframe", "<object", "<embed", "<form"] {
        assert!(!lower.contains(bad), "{file}: {bad} in {out}");
    }
    let decoded = decode_entities(&lower);
    assert!(!decoded.contains("javascript:"), "{file}: javascript: in {out}");
    let allowed: &[(&str, &[&str])] = &[
        ("a", &["href", "rel"]),
        ("img", &["src", "alt"]),
        ("abbr", &["title"]),
        ("th", &["colspan", "rowspan"]),
        ("td", &["colspan", "rowspan"]),
    ];
    for (tag, attrs) in tags(out) {
        assert!(
            portal_proto::html::ALLOWED_TAGS.contains(&tag.as_str()),
            "{file}: <{tag}> in {out}"
        );
        for (k, v) in attrs {
            assert!(!k.starts_with("on") && k != "style", "{file}: {k}= in {out}");
            let ok = allowed.iter().any(|(t, a)| *t == tag && a.contains(&k.as_str()));
            assert!(ok, "{file}: {tag}[{k}] in {out}");
            if k == "href" || k == "src" {
                let v = v.to_ascii_lowercase();
                let schemes: &[&str] = if k == "href" {
                    &["http://", "https://", "mailto:"]
                } else {
                    &["http://", "https://"]
                };
                assert!(schemes.iter().any(|s| v.starts_with(s)), "{file}: {k}={v:?}");
            }
            if k == "rel" {
                assert_eq!(v, "noopener noreferrer");
            }
        }
    }
}

#[test]
fn feedparser_sanitize_corpus() {
    let dir = crate::shared("feedparser-sanitize");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 745);
    let mut with_html = 0;
    let mut without_html = Vec::new();
    let mut exact = 0;
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let doc = String::from_utf8(std::fs::read(f).unwrap()).unwrap().replace("\r\n", "\n");
        let (payloads, expected) = payloads(&doc);
        if payloads.is_empty() {
            without_html.push(name);
            continue;
        }
        with_html += 1;
        for p in &payloads {
            let out = sanitize_html(p);
            assert_clean(&name, &out);
            assert_eq!(sanitize_html(p), out, "{name}: deterministic");
            assert_eq!(sanitize_html(&out), out, "{name}: idempotent");
        }
        if let (Some(expected), [p]) = (expected, &payloads[..])
            && sanitize_html(p) == expected
        {
            exact += 1;
        }
    }
    eprintln!(
        "feedparser-sanitize: {with_html} files with HTML, without: {without_html:?}; {exact} exact matches"
    );
    // Every file carries HTML.
    assert_eq!(with_html, 745, "{without_html:?}");
    // For information only: how many of feedparser's expected strings our (different,
    // smaller) allowlist reproduces byte for byte. Pinned so that a change in the sanitiser's
    // output (e.g. an ammonia upgrade), which feed verifiers would see as feed-mismatch, is
    // noticed.
    assert_eq!(exact, EXACT_FEEDPARSER_MATCHES);
}

/// See [`feedparser_sanitize_corpus`].
const EXACT_FEEDPARSER_MATCHES: usize = 140;
