//! JSON Feed 1.1 encoding, with the signed envelope of each entry under `_ipsp`.
//!
//! Written with serde structs whose field order is the output order (no maps), so the output
//! is deterministic. Decoding ignores unknown top-level and item fields (JSON Feed allows
//! extensions) but types the `_ipsp` objects strictly (unknown keys refused).

use std::fmt;

use serde::de::{IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::{
    DecodedEntry, DecodedFeed, FeedError, FeedMeta, JSON_FEED_VERSION, Prepared, Visible, entry_id,
    item_url, parse_rfc3339, prepare, withdrawal_label,
};
use crate::envelope::SignedRecord;
use crate::error::Rejection;
use crate::html::sanitize_html;
use crate::limits::{MAX_FEED_BYTES, MAX_PAGE_ENTRIES};

/// Deepest JSON nesting accepted in a feed document (SPEC.md §12).
const MAX_JSON_DEPTH: usize = 64;

#[derive(Serialize)]
struct FeedOut<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: &'a str,
    feed_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_url: Option<&'a str>,
    authors: [AuthorOut<'a>; 1],
    #[serde(rename = "_ipsp")]
    ipsp: FeedExt<'a>,
    items: Vec<ItemOut>,
}

#[derive(Serialize)]
struct AuthorOut<'a> {
    name: &'a str,
}

/// `_ipsp` at the top level (written and read).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedExt<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
    archive: bool,
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    current: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    prev_archive: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    next_archive: Option<std::borrow::Cow<'a, str>>,
}

#[derive(Serialize)]
struct ItemOut {
    id: String,
    url: String,
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_html: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    date_published: Option<String>,
    date_modified: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    #[serde(rename = "_ipsp")]
    ipsp: ItemExt,
}

/// `_ipsp` of an item: the envelope (`kid`, `record`, `sig`), plus `withdrawal: true` on
/// withdrawals (written and read).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemExt {
    kid: String,
    record: String,
    sig: String,
    #[serde(default, skip_serializing_if = "is_false")]
    withdrawal: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Encode item versions and withdrawals as a JSON Feed 1.1 document (UTF-8, pretty-printed
/// with two-space indentation, keys in a fixed order, final newline).
///
/// Top level: `version` (`https://jsonfeed.org/version/1.1`), `title`, `home_page_url`
/// (`alternate_url`), `feed_url` (`self_url`), `next_url` (paging, when set),
/// `authors: [{"name"}]`, `_ipsp: {"id": feed_id, "archive": bool, "current"?,
/// "prev_archive"?, "next_archive"?}` and `items`, in input order.
///
/// An item version: `id` = `urn:ipsp:<origin>:<item-id>`, `url` (item page), `title`,
/// `content_html` = [`sanitize_html`] of the record's `content_html`, `summary` (omitted when
/// empty), `date_published`, `date_modified` (= `updated`), `language`, `tags` (= categories,
/// omitted when empty) and `_ipsp: {"kid", "record", "sig"}`, the envelope of
/// [`crate::envelope`].
///
/// A withdrawal: `id`, `url`, `title` = the state in English (`Withdrawn`, `Redirected`,
/// `Gone`), `content_text` = explanation, `date_modified` = `time`, and
/// `_ipsp: {"kid", "record", "sig", "withdrawal": true}`.
pub fn encode_json(meta: &FeedMeta, entries: &[SignedRecord]) -> Result<String, FeedError> {
    let prepared = prepare(meta, entries)?;
    let items = prepared
        .iter()
        .map(|p| match p {
            Prepared::Item(signed, item) => ItemOut {
                id: entry_id(&item.origin, &item.id),
                url: item_url(meta, &item.id),
                title: item.title.clone(),
                content_html: Some(sanitize_html(&item.content_html)),
                content_text: None,
                summary: (!item.summary.is_empty()).then(|| item.summary.clone()),
                date_published: Some(item.published.to_string()),
                date_modified: item.updated.to_string(),
                language: Some(item.language.to_string()),
                tags: item.categories.clone(),
                ipsp: envelope_of(signed, false),
            },
            Prepared::Withdrawal(signed, w) => ItemOut {
                id: entry_id(&w.origin, &w.id),
                url: item_url(meta, &w.id),
                title: withdrawal_label(w.state).to_owned(),
                content_html: None,
                content_text: Some(w.explanation.clone()),
                summary: None,
                date_published: None,
                date_modified: w.time.to_string(),
                language: None,
                tags: Vec::new(),
                ipsp: envelope_of(signed, true),
            },
        })
        .collect();
    let archive = &meta.archive;
    let feed = FeedOut {
        version: JSON_FEED_VERSION,
        title: &meta.title,
        home_page_url: &meta.alternate_url,
        feed_url: &meta.self_url,
        next_url: archive.next_page.as_deref(),
        authors: [AuthorOut { name: &meta.author }],
        ipsp: FeedExt {
            id: meta.feed_id.as_str().into(),
            archive: archive.is_archive,
            current: archive.current.as_deref().map(Into::into),
            prev_archive: archive.prev_archive.as_deref().map(Into::into),
            next_archive: archive.next_archive.as_deref().map(Into::into),
        },
        items,
    };
    let mut json =
        serde_json::to_string_pretty(&feed).map_err(|e| FeedError::Write(e.to_string()))?;
    json.push('\n');
    Ok(json)
}

fn envelope_of(signed: &SignedRecord, withdrawal: bool) -> ItemExt {
    ItemExt {
        kid: signed.kid().to_string(),
        record: signed.record_base64(),
        sig: signed.sig_base64(),
        withdrawal,
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding

#[derive(Deserialize)]
struct FeedIn<'a> {
    version: String,
    title: String,
    #[serde(default)]
    home_page_url: Option<String>,
    #[serde(default)]
    feed_url: Option<String>,
    #[serde(default)]
    next_url: Option<String>,
    items: Items,
    #[serde(rename = "_ipsp", borrow)]
    ipsp: FeedExt<'a>,
}

#[derive(Deserialize)]
struct ItemIn {
    id: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    content_html: Option<String>,
    #[serde(default)]
    content_text: Option<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    date_published: Option<String>,
    #[serde(default)]
    date_modified: Option<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(rename = "_ipsp", default)]
    ipsp: Option<ItemExt>,
}

/// The `items` array, collected up to [`MAX_PAGE_ENTRIES`]; beyond that the rest is only
/// counted (without being built).
struct Items {
    items: Vec<ItemIn>,
    total: usize,
}

impl<'de> Deserialize<'de> for Items {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ItemsVisitor;
        impl<'de> Visitor<'de> for ItemsVisitor {
            type Value = Items;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of items")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Items, A::Error> {
                let mut items = Vec::new();
                let mut total = 0;
                while total < MAX_PAGE_ENTRIES {
                    match seq.next_element::<ItemIn>()? {
                        Some(item) => items.push(item),
                        None => return Ok(Items { items, total }),
                    }
                    total += 1;
                }
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    total += 1;
                }
                Ok(Items { items, total })
            }
        }
        d.deserialize_seq(ItemsVisitor)
    }
}

/// Decode a JSON Feed carrying IPSP envelopes. Nothing is verified: see
/// [`super::verify_entries`].
///
/// Refused: more than [`MAX_FEED_BYTES`] (`too-large`, before parsing); nesting deeper than
/// 64 (`malformed`, before parsing); more than [`MAX_PAGE_ENTRIES`] items (`too-large`); not
/// JSON, a `version` other than JSON Feed 1 or 1.1, a missing `title`, `items` or `_ipsp`, an
/// `_ipsp` with unknown keys or wrong types, an item without `id` or `_ipsp`, or a date that
/// is not RFC 3339 in whole seconds between 1970 and 9999 (`malformed`). Unknown fields
/// elsewhere are ignored.
pub fn decode_json(bytes: &[u8]) -> Result<DecodedFeed, Rejection> {
    Rejection::check_size(bytes.len(), MAX_FEED_BYTES, "bytes")?;
    check_depth(bytes)?;
    let feed: FeedIn<'_> = serde_json::from_slice(bytes)
        .map_err(|e| Rejection::Malformed(format!("json feed: {e}")))?;
    Rejection::check_size(feed.items.total, MAX_PAGE_ENTRIES, "entries")?;
    if !matches!(
        feed.version.as_str(),
        "https://jsonfeed.org/version/1.1" | "https://jsonfeed.org/version/1"
    ) {
        return Err(Rejection::Malformed(format!("json feed: unknown version {:?}", feed.version)));
    }
    let mut links = Vec::new();
    let mut add = |rel: &str, href: Option<&str>| {
        if let Some(href) = href {
            links.push((rel.to_owned(), href.to_owned()));
        }
    };
    add("alternate", feed.home_page_url.as_deref());
    add("self", feed.feed_url.as_deref());
    add("next", feed.next_url.as_deref());
    add("current", feed.ipsp.current.as_deref());
    add("prev-archive", feed.ipsp.prev_archive.as_deref());
    add("next-archive", feed.ipsp.next_archive.as_deref());

    let entries = feed
        .items
        .items
        .into_iter()
        .enumerate()
        .map(|(i, item)| decode_item(i, item))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DecodedFeed {
        id: feed.ipsp.id.into_owned(),
        title: feed.title,
        links,
        is_archive: feed.ipsp.archive,
        entries,
    })
}

fn decode_item(i: usize, item: ItemIn) -> Result<DecodedEntry, Rejection> {
    let Some(ext) = item.ipsp else {
        return Err(Rejection::Malformed(format!(
            "item {i}: no _ipsp envelope: unsigned entries are not accepted"
        )));
    };
    let signed =
        SignedRecord::from_base64(&ext.record, &ext.kid, &ext.sig).map_err(|r| match r {
            Rejection::Malformed(m) => Rejection::Malformed(format!("item {i}: {m}")),
            other => other,
        })?;
    let time = |field: &str, v: Option<String>| {
        v.map(|s| parse_rfc3339(&format!("item {i}: {field}"), &s)).transpose()
    };
    let visible = if ext.withdrawal {
        Visible::Tombstone {
            id: item.id,
            when: time("date_modified", item.date_modified)?,
            comment: item.content_text,
            title: item.title,
        }
    } else {
        Visible::Entry {
            id: item.id,
            title: item.title.unwrap_or_default(),
            updated: time("date_modified", item.date_modified)?,
            published: time("date_published", item.date_published)?,
            summary: item.summary,
            content_html: item.content_html,
            categories: item.tags.unwrap_or_default(),
            link: item.url,
            language: item.language,
        }
    };
    Ok(DecodedEntry { signed, visible })
}

/// Refuse JSON nested deeper than [`MAX_JSON_DEPTH`], scanning the bytes once (strings are
/// skipped, so brackets inside them do not count).
fn check_depth(bytes: &[u8]) -> Result<(), Rejection> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Err(Rejection::Malformed(format!(
                        "json feed nested deeper than {MAX_JSON_DEPTH}"
                    )));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_limit() {
        let ok = format!("{}{}", "[".repeat(64), "]".repeat(64));
        assert!(check_depth(ok.as_bytes()).is_ok());
        let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
        assert!(matches!(check_depth(deep.as_bytes()), Err(Rejection::Malformed(_))));
        let in_string = format!("[\"{}\\\"\"]", "[".repeat(100));
        assert!(check_depth(in_string.as_bytes()).is_ok());
    }
}
