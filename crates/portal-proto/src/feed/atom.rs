//! Atom 1.0 (RFC 4287) encoding with RFC 5005 archives, RFC 6721 tombstones and `ipsp:record`.
//!
//! Written and read with `atom_syndication` 0.12. It can express everything the format needs:
//! the `ipsp`, `at` and `fh` namespaces are declared on the root through `Feed::namespaces`,
//! `ipsp:record`, `at:deleted-entry` and `fh:archive` are extension elements, and `xml:lang`
//! goes on `title`, `summary` and `content` (atom_syndication has no entry-level `xml:lang`).
//! One consequence of writing feed-level extensions with it: tombstones are written after all
//! entries (RFC 6721 allows `at:deleted-entry` anywhere among the feed's children), so a feed
//! lists the page's item versions first and its withdrawals last, each in input order.
//!
//! atom_syndication reads leniently (prefix-based extension names, missing elements become
//! defaults, unbounded recursion in extension elements), so [`decode_atom`] first runs a small
//! structural scan of its own over the bytes: it refuses any DOCTYPE or other markup
//! declaration, counts entries and elements, bounds nesting depth, and records which children
//! each entry has, so that missing required elements are `malformed` rather than silently
//! defaulted.

use std::collections::BTreeMap;

use atom_syndication::extension::{Extension, ExtensionMap};
use atom_syndication::{
    Category, Content, Entry, Feed, Generator, Link, Person, Text, TextType, WriteConfig,
};

use super::{
    ATOM_NS, DecodedEntry, DecodedFeed, FeedError, FeedMeta, GENERATOR, HISTORY_NS, IPSP_NS,
    Prepared, TOMBSTONES_NS, Visible, entry_id, item_url, prepare, timestamp_of,
};
use crate::envelope::SignedRecord;
use crate::error::Rejection;
use crate::html::sanitize_html;
use crate::limits::{MAX_FEED_BYTES, MAX_PAGE_ENTRIES};
use crate::record::{ItemVersion, Withdrawal};
use crate::time::Timestamp;

/// Deepest element nesting accepted (our own documents nest 3 deep).
const MAX_DEPTH: usize = 32;
/// Most elements in one document: 64 per entry, plus the feed's own.
const MAX_ELEMENTS: usize = 64 * (MAX_PAGE_ENTRIES + 1);

/// Encode item versions and withdrawals as an Atom 1.0 feed document (UTF-8, indented).
///
/// Feed: `id`, `title`, `updated`, `author/name`, `generator` ("Portal Federation"),
/// `link rel="self"` (`application/atom+xml`), `link rel="alternate"` (`text/html`), RFC 5005
/// links `current`, `prev-archive`, `next-archive`, `next` when set, and `<fh:archive/>` on
/// archive pages. Namespaces `at`, `fh` and `ipsp` are always declared on the root.
///
/// Each item version is an `entry`: `id` = `urn:ipsp:<origin>:<item-id>`, `title` (text,
/// `xml:lang` = record language), `updated`, `published`, `summary` (text; omitted when
/// empty), `content type="html"` = [`sanitize_html`] of `content_html`, `link
/// rel="alternate"` to the item page, one `category term` per record category, and
/// `<ipsp:record kid="…" sig="…">base64 of the record bytes</ipsp:record>`.
///
/// Each withdrawal is a feed-level `<at:deleted-entry ref="urn:ipsp:…" when="…">` holding
/// `<at:comment>` = explanation and the same `ipsp:record` element.
///
/// Every record is parsed from its signed bytes ([`crate::envelope::parse_record`]); a record
/// that does not parse, or is of another type, is an error and nothing is written.
pub fn encode_atom(meta: &FeedMeta, entries: &[SignedRecord]) -> Result<String, FeedError> {
    let prepared = prepare(meta, entries)?;

    let archive = &meta.archive;
    let mut links = vec![
        link("self", &meta.self_url, Some("application/atom+xml")),
        link("alternate", &meta.alternate_url, Some("text/html")),
    ];
    let paging = [
        ("current", &archive.current),
        ("prev-archive", &archive.prev_archive),
        ("next-archive", &archive.next_archive),
        ("next", &archive.next_page),
    ];
    for (rel, href) in paging {
        if let Some(href) = href {
            links.push(link(rel, href, Some("application/atom+xml")));
        }
    }
    let mut feed = Feed {
        title: Text::plain(meta.title.clone()),
        id: meta.feed_id.clone(),
        updated: fixed(meta.updated)?,
        authors: vec![Person { name: meta.author.clone(), ..Person::default() }],
        generator: Some(Generator { value: GENERATOR.to_owned(), ..Generator::default() }),
        links,
        namespaces: BTreeMap::from([
            ("at".to_owned(), TOMBSTONES_NS.to_owned()),
            ("fh".to_owned(), HISTORY_NS.to_owned()),
            ("ipsp".to_owned(), IPSP_NS.to_owned()),
        ]),
        ..Feed::default()
    };

    let mut tombstones = Vec::new();
    for p in &prepared {
        match p {
            Prepared::Item(signed, item) => feed.entries.push(item_entry(meta, signed, item)?),
            Prepared::Withdrawal(signed, w) => tombstones.push(tombstone(signed, w)?),
        }
    }
    let mut extensions = ExtensionMap::new();
    if !tombstones.is_empty() {
        extensions
            .entry("at".to_owned())
            .or_default()
            .insert("deleted-entry".to_owned(), tombstones);
    }
    if archive.is_archive {
        extensions
            .entry("fh".to_owned())
            .or_default()
            .insert("archive".to_owned(), vec![extension("fh:archive", None, [])]);
    }
    feed.extensions = extensions;

    let config = WriteConfig { write_document_declaration: true, indent_size: Some(2) };
    let bytes =
        feed.write_with_config(Vec::new(), config).map_err(|e| FeedError::Write(e.to_string()))?;
    let mut xml = String::from_utf8(bytes).map_err(|e| FeedError::Write(e.to_string()))?;
    // atom_syndication writes every extension element with a start and an end tag, and the
    // indenting writer puts a line break between them; RFC 5005 describes fh:archive as an
    // empty element, so write it as one. (The string cannot occur anywhere else: text and
    // attribute values never contain a raw '<'.)
    if archive.is_archive {
        xml = xml.replacen("<fh:archive>\n  </fh:archive>", "<fh:archive/>", 1);
    }
    xml.push('\n');
    Ok(xml)
}

fn link(rel: &str, href: &str, mime_type: Option<&str>) -> Link {
    Link {
        rel: rel.to_owned(),
        href: href.to_owned(),
        mime_type: mime_type.map(str::to_owned),
        ..Link::default()
    }
}

fn extension<const N: usize>(
    name: &str,
    value: Option<String>,
    attrs: [(&str, String); N],
) -> Extension {
    Extension {
        name: name.to_owned(),
        value,
        attrs: attrs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        children: BTreeMap::new(),
    }
}

fn record_element(signed: &SignedRecord) -> Extension {
    extension(
        "ipsp:record",
        Some(signed.record_base64()),
        [("kid", signed.kid().to_string()), ("sig", signed.sig_base64())],
    )
}

fn fixed(t: Timestamp) -> Result<atom_syndication::FixedDateTime, FeedError> {
    atom_syndication::FixedDateTime::parse_from_rfc3339(&t.to_string())
        .map_err(|e| FeedError::Write(format!("time {t}: {e}")))
}

fn text(value: &str, lang: &str) -> Text {
    Text { lang: Some(lang.to_owned()), ..Text::plain(value) }
}

fn item_entry(
    meta: &FeedMeta,
    signed: &SignedRecord,
    item: &ItemVersion,
) -> Result<Entry, FeedError> {
    let lang = item.language.as_str();
    let categories = item
        .categories
        .iter()
        .map(|c| Category { term: c.clone(), ..Category::default() })
        .collect();
    let content = Content {
        content_type: Some("html".to_owned()),
        lang: Some(lang.to_owned()),
        value: Some(sanitize_html(&item.content_html)),
        ..Content::default()
    };
    Ok(Entry {
        id: entry_id(&item.origin, &item.id),
        title: text(&item.title, lang),
        updated: fixed(item.updated)?,
        published: Some(fixed(item.published)?),
        links: vec![link("alternate", &item_url(meta, &item.id), Some("text/html"))],
        categories,
        summary: (!item.summary.is_empty()).then(|| text(&item.summary, lang)),
        content: Some(content),
        extensions: ExtensionMap::from([(
            "ipsp".to_owned(),
            BTreeMap::from([("record".to_owned(), vec![record_element(signed)])]),
        )]),
        ..Entry::default()
    })
}

fn tombstone(signed: &SignedRecord, w: &Withdrawal) -> Result<Extension, FeedError> {
    Ok(Extension {
        children: BTreeMap::from([
            ("comment".to_owned(), vec![extension("at:comment", Some(w.explanation.clone()), [])]),
            ("record".to_owned(), vec![record_element(signed)]),
        ]),
        ..extension(
            "at:deleted-entry",
            None,
            [("ref", entry_id(&w.origin, &w.id)), ("when", fixed(w.time)?.to_rfc3339())],
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// Decode an Atom feed carrying IPSP records. Nothing is verified: see
/// [`super::verify_entries`].
///
/// Refused before parsing: more than [`MAX_FEED_BYTES`] (`too-large`); any `<!DOCTYPE` or
/// `<!ENTITY` anywhere, or any other markup declaration (`doctype`); bytes that are not UTF-8
/// or an XML declaration naming another encoding (`malformed`); more than
/// [`MAX_PAGE_ENTRIES`] entries and tombstones, or more than 64 × (1000 + 1) elements in all
/// (`too-large`); nesting deeper than 32, text or elements outside the root, a root that is not
/// an Atom 1.0 `feed` in the default namespace or does not declare `xmlns:ipsp="urn:ipsp:1"`
/// (`malformed`: a plain Atom feed is not an IPSP feed, even with no entries).
///
/// Then `malformed`: a missing feed `id`, `title` or `updated`; an entry missing `id`, `title`
/// or `updated`, or without exactly one `ipsp:record` (a verifier cannot accept unsigned
/// entries); a `title` or `summary` that is not `type="text"`; a `content` that is not
/// `type="html"` or has `src`; a tombstone without `ref`, `when` or exactly one
/// `ipsp:record`; dates that are not whole seconds from 1970 to 9999. Extension elements are
/// recognised by their prefixes `ipsp`, `at` and `fh`, which must be bound to their namespaces
/// on the feed element (as [`encode_atom`] writes them).
pub fn decode_atom(bytes: &[u8]) -> Result<DecodedFeed, Rejection> {
    Rejection::check_size(bytes.len(), MAX_FEED_BYTES, "bytes")?;
    if contains_ignore_case(bytes, b"<!doctype") || contains_ignore_case(bytes, b"<!entity") {
        return Err(Rejection::Doctype);
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| Rejection::Malformed(format!("feed is not UTF-8: {e}")))?;
    let scan = scan(text)?;
    if scan.root_name != "feed" || scan.root_attr("xmlns") != Some(ATOM_NS) {
        return Err(Rejection::Malformed(format!(
            "the root element is not an Atom 1.0 feed (xmlns=\"{ATOM_NS}\")"
        )));
    }
    if scan.root_attr("xmlns:ipsp") != Some(IPSP_NS) {
        return Err(Rejection::Malformed(format!(
            "not an IPSP feed: the feed element must declare xmlns:ipsp=\"{IPSP_NS}\""
        )));
    }
    for required in ["id", "title", "updated"] {
        if !scan.feed_children.iter().any(|c| c == required) {
            return Err(Rejection::Malformed(format!("feed: missing <{required}>")));
        }
    }
    let atom_entries: Vec<&ScannedEntry> = scan.entries.iter().filter(|e| !e.tombstone).collect();
    for (i, e) in atom_entries.iter().enumerate() {
        for required in ["id", "title", "updated"] {
            if !e.children.iter().any(|c| c == required) {
                return Err(Rejection::Malformed(format!("entry {i}: missing <{required}>")));
            }
        }
    }

    let feed = Feed::read_from(bytes).map_err(|e| Rejection::Malformed(format!("atom: {e}")))?;
    if feed.entries.len() != atom_entries.len() {
        return Err(Rejection::Malformed("atom: entries could not be read".into()));
    }
    let ns_is = |prefix: &str, uri: &str| feed.namespaces.get(prefix).is_some_and(|u| u == uri);

    if feed.id.trim().is_empty() {
        return Err(Rejection::Malformed("feed: empty <id>".into()));
    }
    let links = feed.links.iter().map(|l| (l.rel.clone(), l.href.clone())).collect();
    let is_archive = ns_is("fh", HISTORY_NS)
        && feed.extensions.get("fh").and_then(|m| m.get("archive")).is_some_and(|v| !v.is_empty());

    let mut entries = Vec::with_capacity(feed.entries.len());
    for (i, e) in feed.entries.iter().enumerate() {
        entries.push(decode_entry(i, e, &feed)?);
    }
    let scanned_tombstones = scan.entries.iter().filter(|e| e.tombstone).count();
    let tombstones: &[Extension] = if ns_is("at", TOMBSTONES_NS) {
        feed.extensions.get("at").and_then(|m| m.get("deleted-entry")).map_or(&[], Vec::as_slice)
    } else {
        &[]
    };
    if !tombstones.is_empty() && tombstones.len() != scanned_tombstones {
        return Err(Rejection::Malformed("atom: tombstones could not be read".into()));
    }
    let ipsp_ok = ns_is("ipsp", IPSP_NS);
    for (i, t) in tombstones.iter().enumerate() {
        entries.push(decode_tombstone(i, t, ipsp_ok)?);
    }

    Ok(DecodedFeed {
        id: feed.id.clone(),
        title: feed.title.value.clone(),
        links,
        is_archive,
        entries,
    })
}

fn decode_entry(i: usize, e: &Entry, feed: &Feed) -> Result<DecodedEntry, Rejection> {
    let malformed = |what: &str| Rejection::Malformed(format!("entry {i}: {what}"));
    let ipsp_uri = e.namespaces.get("ipsp").or_else(|| feed.namespaces.get("ipsp"));
    let records =
        e.extensions.get("ipsp").and_then(|m| m.get("record")).map_or(&[][..], Vec::as_slice);
    if ipsp_uri.is_none_or(|u| u != IPSP_NS) || records.is_empty() {
        return Err(malformed(
            "no ipsp:record (xmlns:ipsp=\"urn:ipsp:1\"): unsigned entries are not accepted",
        ));
    }
    let [record] = records else {
        return Err(malformed("more than one ipsp:record"));
    };
    let signed = signed_record(record).map_err(|r| prefix_rejection(&format!("entry {i}"), r))?;

    if e.id.trim().is_empty() {
        return Err(malformed("empty <id>"));
    }
    if e.title.r#type != TextType::Text {
        return Err(malformed("<title> must be type=\"text\""));
    }
    let summary = match &e.summary {
        Some(s) if s.r#type != TextType::Text => {
            return Err(malformed("<summary> must be type=\"text\""));
        }
        Some(s) => Some(s.value.clone()),
        None => None,
    };
    let content_html = match &e.content {
        Some(c) if c.content_type.as_deref() != Some("html") || c.src.is_some() => {
            return Err(malformed("<content> must be type=\"html\" without src"));
        }
        Some(c) => Some(c.value.clone().unwrap_or_default()),
        None => None,
    };
    let updated = timestamp_of(&format!("entry {i}: updated"), &e.updated)?;
    let published = e
        .published
        .as_ref()
        .map(|p| timestamp_of(&format!("entry {i}: published"), p))
        .transpose()?;
    let link = e.links.iter().find(|l| l.rel == "alternate").map(|l| l.href.clone());
    let visible = Visible::Entry {
        id: e.id.clone(),
        title: e.title.value.clone(),
        updated: Some(updated),
        published,
        summary,
        content_html,
        categories: e.categories.iter().map(|c| c.term.clone()).collect(),
        link,
        language: e.title.lang.clone(),
    };
    Ok(DecodedEntry { signed, visible })
}

fn decode_tombstone(i: usize, t: &Extension, ipsp_ok: bool) -> Result<DecodedEntry, Rejection> {
    let malformed = |what: &str| Rejection::Malformed(format!("tombstone {i}: {what}"));
    let records: Vec<&Extension> = t
        .children
        .get("record")
        .map(|v| v.iter().filter(|r| r.name == "ipsp:record").collect())
        .unwrap_or_default();
    if !ipsp_ok || records.is_empty() {
        return Err(malformed(
            "no ipsp:record (xmlns:ipsp=\"urn:ipsp:1\"): unsigned entries are not accepted",
        ));
    }
    let [record] = records[..] else {
        return Err(malformed("more than one ipsp:record"));
    };
    let signed =
        signed_record(record).map_err(|r| prefix_rejection(&format!("tombstone {i}"), r))?;
    let id = t
        .attrs
        .get("ref")
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| malformed("missing ref"))?;
    let when = t.attrs.get("when").ok_or_else(|| malformed("missing when"))?;
    let when = super::parse_rfc3339(&format!("tombstone {i}: when"), when)?;
    let comments: Vec<&Extension> = t
        .children
        .get("comment")
        .map(|v| v.iter().filter(|c| c.name == "at:comment").collect())
        .unwrap_or_default();
    let comment = match comments[..] {
        [] => None,
        [c] => Some(c.value.clone().unwrap_or_default()),
        _ => return Err(malformed("more than one at:comment")),
    };
    let visible = Visible::Tombstone { id: id.clone(), when: Some(when), comment, title: None };
    Ok(DecodedEntry { signed, visible })
}

fn signed_record(e: &Extension) -> Result<SignedRecord, Rejection> {
    let kid =
        e.attrs.get("kid").ok_or_else(|| Rejection::Malformed("ipsp:record without kid".into()))?;
    let sig =
        e.attrs.get("sig").ok_or_else(|| Rejection::Malformed("ipsp:record without sig".into()))?;
    let record = e.value.as_deref().unwrap_or("");
    if record.is_empty() {
        return Err(Rejection::Malformed("empty ipsp:record".into()));
    }
    SignedRecord::from_base64(record, kid, sig)
}

fn prefix_rejection(context: &str, r: Rejection) -> Rejection {
    match r {
        Rejection::Malformed(m) => Rejection::Malformed(format!("{context}: {m}")),
        other => other,
    }
}

fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

// ---------------------------------------------------------------------------------------------
// Structural pre-scan

/// What the pre-scan learned about a document.
#[derive(Debug, Default)]
struct Scan {
    root_name: String,
    root_attrs: Vec<(String, String)>,
    /// Names of the root's element children, in order.
    feed_children: Vec<String>,
    /// `entry` and `at:deleted-entry` children of the root, in order.
    entries: Vec<ScannedEntry>,
}

impl Scan {
    fn root_attr(&self, name: &str) -> Option<&str> {
        self.root_attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Debug)]
struct ScannedEntry {
    tombstone: bool,
    /// Names of its element children.
    children: Vec<String>,
}

fn malformed(offset: usize, what: &str) -> Rejection {
    Rejection::Malformed(format!("xml at byte {offset}: {what}"))
}

/// A single pass over the document that checks its coarse structure without building it:
/// markup declarations (`<!DOCTYPE`, `<!ENTITY`, …) are refused, comments, CDATA sections and
/// processing instructions are skipped, start and end tags must balance, attributes must be
/// quoted, nesting and element counts are bounded, and nothing but whitespace, comments and
/// processing instructions may surround the single root element.
fn scan(doc: &str) -> Result<Scan, Rejection> {
    let b = doc.as_bytes();
    let mut out = Scan::default();
    let mut stack: Vec<&str> = Vec::new();
    let mut root_done = false;
    let mut elements = 0usize;
    let mut i = if doc.starts_with('\u{feff}') { 3 } else { 0 };
    let start = i;
    while i < b.len() {
        if b[i] != b'<' {
            if stack.is_empty() && !b[i].is_ascii_whitespace() {
                return Err(malformed(i, "text outside the root element"));
            }
            // In content, skip to the next markup.
            i = doc[i..].find('<').map_or(b.len(), |p| i + p);
            continue;
        }
        let rest = &doc[i..];
        if let Some(body) = rest.strip_prefix("<!--") {
            let end = body.find("-->").ok_or_else(|| malformed(i, "unterminated comment"))?;
            i += 4 + end + 3;
        } else if let Some(body) = rest.strip_prefix("<![CDATA[") {
            if stack.is_empty() {
                return Err(malformed(i, "CDATA outside the root element"));
            }
            let end = body.find("]]>").ok_or_else(|| malformed(i, "unterminated CDATA section"))?;
            i += 9 + end + 3;
        } else if rest.starts_with("<!") {
            return Err(Rejection::Doctype);
        } else if let Some(body) = rest.strip_prefix("<?") {
            let end = body
                .find("?>")
                .ok_or_else(|| malformed(i, "unterminated processing instruction"))?;
            let pi = &body[..end];
            let is_xml_decl = pi.len() > 3
                && pi[..3].eq_ignore_ascii_case("xml")
                && pi[3..].starts_with(|c: char| c.is_ascii_whitespace());
            if is_xml_decl && i == start && pi.starts_with("xml") {
                check_declaration(pi)?;
            } else if is_xml_decl {
                return Err(malformed(i, "misplaced XML declaration"));
            }
            i += 2 + end + 2;
        } else if let Some(tail) = rest.strip_prefix("</") {
            let end = tail.find('>').ok_or_else(|| malformed(i, "unterminated end tag"))?;
            let name = tail[..end].trim_end_matches(|c: char| c.is_ascii_whitespace());
            match stack.pop() {
                Some(open) if open == name => {}
                _ => return Err(malformed(i, "end tag does not match its start tag")),
            }
            if stack.is_empty() {
                root_done = true;
            }
            i += 2 + end + 1;
        } else {
            let StartTag { name, attrs, self_closing, len } = start_tag(doc, i)?;
            if root_done {
                return Err(malformed(i, "element after the root element"));
            }
            elements += 1;
            Rejection::check_size(elements, MAX_ELEMENTS, "elements")?;
            match stack.len() {
                0 => {
                    out.root_name = name.to_owned();
                    out.root_attrs = attrs;
                }
                1 => {
                    out.feed_children.push(name.to_owned());
                    if name == "entry" || name == "at:deleted-entry" {
                        if out.entries.len() == MAX_PAGE_ENTRIES {
                            return Err(Rejection::TooLarge {
                                limit: MAX_PAGE_ENTRIES,
                                actual: MAX_PAGE_ENTRIES + 1,
                                unit: "entries",
                            });
                        }
                        out.entries.push(ScannedEntry {
                            tombstone: name != "entry",
                            children: Vec::new(),
                        });
                    }
                }
                2 if matches!(stack.get(1), Some(&"entry" | &"at:deleted-entry")) => {
                    if let Some(e) = out.entries.last_mut() {
                        e.children.push(name.to_owned());
                    }
                }
                _ => {}
            }
            if self_closing {
                if stack.is_empty() {
                    root_done = true;
                }
            } else {
                stack.push(name);
                if stack.len() > MAX_DEPTH {
                    return Err(malformed(i, &format!("elements nested deeper than {MAX_DEPTH}")));
                }
            }
            i += len;
        }
    }
    if !root_done {
        return Err(malformed(
            b.len(),
            if stack.is_empty() { "no root element" } else { "unclosed element" },
        ));
    }
    Ok(out)
}

/// A start tag found by the pre-scan.
struct StartTag<'a> {
    name: &'a str,
    /// Attributes with their raw (unescaped) values.
    attrs: Vec<(String, String)>,
    /// `<name …/>`.
    self_closing: bool,
    /// Length of the tag in bytes.
    len: usize,
}

/// Parse the start tag at `at`.
fn start_tag(doc: &str, at: usize) -> Result<StartTag<'_>, Rejection> {
    let b = doc.as_bytes();
    let is_name_end = |c: u8| c.is_ascii_whitespace() || c == b'/' || c == b'>';
    let mut i = at + 1;
    while i < b.len() && !is_name_end(b[i]) {
        if matches!(b[i], b'<' | b'"' | b'\'' | b'=') {
            return Err(malformed(i, "bad element name"));
        }
        i += 1;
    }
    let name = &doc[at + 1..i];
    if name.is_empty() {
        return Err(malformed(at, "empty element name"));
    }
    let mut attrs = Vec::new();
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        match b.get(i) {
            None => return Err(malformed(at, "unterminated start tag")),
            Some(b'>') => {
                return Ok(StartTag { name, attrs, self_closing: false, len: i + 1 - at });
            }
            Some(b'/') if b.get(i + 1) == Some(&b'>') => {
                return Ok(StartTag { name, attrs, self_closing: true, len: i + 2 - at });
            }
            Some(_) => {}
        }
        let key_start = i;
        while i < b.len()
            && !b[i].is_ascii_whitespace()
            && !matches!(b[i], b'=' | b'>' | b'/' | b'<' | b'"' | b'\'')
        {
            i += 1;
        }
        let key = &doc[key_start..i];
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if key.is_empty() || b.get(i) != Some(&b'=') {
            return Err(malformed(i, "attribute without a value"));
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let quote = match b.get(i) {
            Some(&q @ (b'"' | b'\'')) => q,
            _ => return Err(malformed(i, "unquoted attribute value")),
        };
        let value_start = i + 1;
        let len = b[value_start..]
            .iter()
            .position(|&c| c == quote)
            .ok_or_else(|| malformed(i, "unterminated attribute value"))?;
        let value = &doc[value_start..value_start + len];
        if value.contains('<') {
            return Err(malformed(value_start, "'<' in an attribute value"));
        }
        attrs.push((key.to_owned(), value.to_owned()));
        i = value_start + len + 1;
        if i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'>' | b'/') {
            return Err(malformed(i, "attributes must be separated by whitespace"));
        }
    }
}

/// The XML declaration may only name UTF-8.
fn check_declaration(pi: &str) -> Result<(), Rejection> {
    let Some(pos) = pi.find("encoding") else {
        return Ok(());
    };
    let rest = pi[pos + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')
        .map(str::trim_start)
        .unwrap_or("");
    let value = rest
        .strip_prefix('"')
        .and_then(|r| r.split('"').next())
        .or_else(|| rest.strip_prefix('\'').and_then(|r| r.split('\'').next()))
        .unwrap_or("");
    if value.eq_ignore_ascii_case("utf-8") {
        Ok(())
    } else {
        Err(Rejection::Malformed(format!(
            "feeds must be UTF-8, the XML declaration says {value:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_structure() {
        let doc = r#"<?xml version="1.0" encoding="utf-8"?>
<!-- c -->
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:at='x'><id>i</id><title/>
<entry><id>a</id><content type="html"><![CDATA[<p>]]></content></entry>
<at:deleted-entry ref="r" when="w"><at:comment>c</at:comment></at:deleted-entry></feed>
"#;
        let s = scan(doc).unwrap();
        assert_eq!(s.root_name, "feed");
        assert_eq!(s.root_attr("xmlns"), Some(ATOM_NS));
        assert_eq!(s.feed_children, ["id", "title", "entry", "at:deleted-entry"]);
        assert_eq!(s.entries.len(), 2);
        assert_eq!(s.entries[0].children, ["id", "content"]);
        assert!(s.entries[1].tombstone);
    }

    #[test]
    fn scan_refusals() {
        assert_eq!(scan("<!DOCTYPE feed><feed/>").unwrap_err(), Rejection::Doctype);
        assert_eq!(scan("<feed><!ELEMENT x ANY></feed>").unwrap_err(), Rejection::Doctype);
        for bad in [
            "",
            "<feed>",
            "<feed></feeds>",
            "<feed/><feed/>",
            "x<feed/>",
            "<feed a=b/>",
            "<feed a=\"<\"/>",
            "<feed a/>",
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><feed/>",
            "<feed><!-- x </feed>",
        ] {
            assert!(matches!(scan(bad), Err(Rejection::Malformed(_))), "{bad:?}");
        }
        let deep = format!("<feed>{}{}</feed>", "<a:b>".repeat(40), "</a:b>".repeat(40));
        assert!(matches!(scan(&deep), Err(Rejection::Malformed(_))));
    }
}
