//! Atom and JSON Feed encodings of a node's items and withdrawals, carrying the signed records.
//!
//! A feed is an ordinary Atom 1.0 (RFC 4287) or JSON Feed 1.1 document that any feed reader
//! understands. Every entry also carries the exact signed record it was made from (the
//! envelope of [`crate::envelope`]); the visible fields are *derived* from that record, never
//! written independently, so a verifier can check each entry in two steps:
//!
//! 1. [`envelope::open`] the signed record (canonical bytes, schema, trusted key, signature);
//! 2. check that the visible fields agree with the record ([`check_visible`]), else
//!    [`Rejection::FeedMismatch`].
//!
//! [`verify_entries`] does both for every entry of a [`DecodedFeed`], whichever format it was
//! decoded from ([`decode_atom`], [`decode_json`]).
//!
//! Only items and withdrawals are feed entries. An item version is a normal entry whose id,
//! `urn:ipsp:<origin>:<item-id>`, is the same for every version of the item, so readers update
//! it in place. A withdrawal is an RFC 6721 tombstone in Atom and an item marked
//! `"_ipsp": {"withdrawal": true}` in JSON Feed. The exact wire format is specified in
//! SPEC.md §9 and documented in [`encode_atom`] and [`encode_json`].
//!
//! Encoders are deterministic (same input, same bytes) and do no I/O. Decoders refuse documents
//! over [`limits::MAX_FEED_BYTES`] and pages over [`limits::MAX_PAGE_ENTRIES`] entries before
//! building anything, and refuse XML with a DOCTYPE.
//!
//! # Example
//! ```
//! use portal_proto::crypto::Signer;
//! use portal_proto::envelope::{self, TrustStore};
//! use portal_proto::feed::{self, ArchiveLinks, FeedMeta};
//! use portal_proto::record::{ItemKind, ItemVersion, KeyGrant, RecordType};
//! use portal_proto::{ids::*, time::Timestamp};
//!
//! let signer = Signer::from_seed([7; 32]);
//! let now = Timestamp::parse("2026-11-28T09:00:00Z").unwrap();
//! let item = ItemVersion {
//!     ipsp: 1, record_type: RecordType::Item, origin: NodeId::new("bo-y-te").unwrap(),
//!     log_index: 0, id: ItemId::from_random([1; 16]), version: 1, prev: None, update: None,
//!     kind: ItemKind::News, language: Lang::new("vi").unwrap(),
//!     title: "Bộ Y tế khuyến cáo".into(), summary: String::new(),
//!     content_html: "<p onclick=\"x()\">Diệt bọ gậy.</p>".into(),
//!     translations: Default::default(), categories: vec![], attachments: vec![], legal: None,
//!     published: now, updated: now,
//! };
//! let signed = envelope::sign(&item, &signer).unwrap();
//! let meta = FeedMeta {
//!     feed_id: "urn:ipsp:bo-y-te:feed".into(),
//!     title: "Bộ Y tế".into(),
//!     author: "Bộ Y tế".into(),
//!     self_url: "https://moh.example/feeds/atom".into(),
//!     alternate_url: "https://moh.example/".into(),
//!     updated: now,
//!     archive: ArchiveLinks::default(),
//!     item_url: "https://moh.example/items/{id}".into(),
//! };
//! let atom = feed::encode_atom(&meta, &[signed]).unwrap();
//! assert!(!atom.contains("onclick"));
//!
//! let mut trust = TrustStore::new();
//! trust.add(item.origin.clone(), KeyGrant::pinned(signer.public_key()));
//! let decoded = feed::decode_atom(atom.as_bytes()).unwrap();
//! let results = feed::verify_entries(&decoded, &trust);
//! assert!(results.iter().all(Result::is_ok));
//!
//! // A reader-visible field that disagrees with the signed record is caught.
//! let forged = atom.replace("Bộ Y tế khuyến cáo", "Không có dịch");
//! let decoded = feed::decode_atom(forged.as_bytes()).unwrap();
//! let code = feed::verify_entries(&decoded, &trust)[0].as_ref().unwrap_err().code();
//! assert_eq!(code, "feed-mismatch");
//! ```

mod atom;
mod json;

pub use atom::{decode_atom, encode_atom};
pub use json::{decode_json, encode_json};

use crate::envelope::{self, KeyResolver, SignedRecord, Verified};
use crate::error::Rejection;
use crate::html::sanitize_html;
use crate::ids::{ItemId, NodeId};
use crate::limits;
use crate::record::{ItemVersion, Record, RecordType, Withdrawal, WithdrawalState};
use crate::time::Timestamp;

/// The `ipsp` XML namespace of the Atom extension element `ipsp:record`.
pub const IPSP_NS: &str = "urn:ipsp:1";
/// The RFC 6721 tombstones namespace (`at:deleted-entry`).
pub const TOMBSTONES_NS: &str = "http://purl.org/atompub/tombstones/1.0";
/// The RFC 5005 feed history namespace (`fh:archive`).
pub const HISTORY_NS: &str = "http://purl.org/syndication/history/1.0";
/// The Atom 1.0 namespace.
pub const ATOM_NS: &str = "http://www.w3.org/2005/Atom";
/// The JSON Feed version this crate writes.
pub const JSON_FEED_VERSION: &str = "https://jsonfeed.org/version/1.1";
/// The generator named in Atom feeds.
pub const GENERATOR: &str = "Portal Federation";

/// Feed-level metadata, supplied by the node (it is not signed: it only helps readers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedMeta {
    /// The feed's id, e.g. `urn:ipsp:<origin>:feed` (the same for the latest page and archives).
    pub feed_id: String,
    /// Feed title.
    pub title: String,
    /// The node's display name (feed author).
    pub author: String,
    /// Absolute URL of this document (`rel="self"`, JSON Feed `feed_url`).
    pub self_url: String,
    /// Absolute URL of the node's HTML home page (`rel="alternate"`, `home_page_url`).
    pub alternate_url: String,
    /// When the feed last changed.
    pub updated: Timestamp,
    /// RFC 5005 archive and paging links.
    pub archive: ArchiveLinks,
    /// Item page URL template; `{id}` is replaced by the item id, e.g.
    /// `https://moh.example/items/{id}`.
    pub item_url: String,
}

/// RFC 5005 links: archived feeds (§4) and paging of the latest feed (§3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArchiveLinks {
    /// This document is an archive page (`<fh:archive/>`; JSON `"_ipsp": {"archive": true}`).
    pub is_archive: bool,
    /// The latest (subscription) feed, `rel="current"`.
    pub current: Option<String>,
    /// The previous (older) archive page, `rel="prev-archive"`.
    pub prev_archive: Option<String>,
    /// The next (newer) archive page, `rel="next-archive"`.
    pub next_archive: Option<String>,
    /// The next page of the latest feed, `rel="next"` (JSON Feed `next_url`).
    pub next_page: Option<String>,
}

/// Why a feed could not be encoded. Nothing is written when an error is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FeedError {
    /// An entry's bytes are not a valid record ([`envelope::parse_record`] refused them). The
    /// encoder never shows fields it could not derive from the signed bytes.
    #[error("entry {index}: {rejection}")]
    InvalidRecord {
        /// Position of the entry in the input slice.
        index: usize,
        /// Why the record was refused.
        rejection: Rejection,
    },
    /// A record that is neither an item nor a withdrawal.
    #[error("entry {index}: a {got} record is not a feed entry (only item and withdrawal are)")]
    NotAFeedRecord {
        /// Position of the entry in the input slice.
        index: usize,
        /// Its type.
        got: RecordType,
    },
    /// More entries than a feed page may hold.
    #[error("{count} entries; a feed page holds at most {}", limits::MAX_PAGE_ENTRIES)]
    TooManyEntries {
        /// Number of entries given.
        count: usize,
    },
    /// A [`FeedMeta`] field is unusable (empty, not an absolute http(s) URL, control
    /// characters, or an item URL template without `{id}`).
    #[error("feed metadata {field}: {reason}")]
    Meta {
        /// The field, e.g. `self_url`.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The underlying writer failed (should not happen with valid input).
    #[error("cannot write the feed: {0}")]
    Write(String),
}

/// A decoded feed document: its metadata and entries, nothing verified yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedFeed {
    /// Atom `feed/id`; JSON Feed `_ipsp.id`.
    pub id: String,
    /// Feed title.
    pub title: String,
    /// `(rel, href)` pairs in document order: Atom `link` elements; for JSON Feed the
    /// equivalent `alternate` (`home_page_url`), `self` (`feed_url`), `next` (`next_url`),
    /// `current`, `prev-archive` and `next-archive` (`_ipsp`).
    pub links: Vec<(String, String)>,
    /// Whether the document marks itself as an RFC 5005 archive page.
    pub is_archive: bool,
    /// The entries, in document order (in Atom, entries first and then tombstones).
    pub entries: Vec<DecodedEntry>,
}

impl DecodedFeed {
    /// The href of the first link with relation `rel`.
    pub fn link(&self, rel: &str) -> Option<&str> {
        self.links.iter().find(|(r, _)| r == rel).map(|(_, href)| href.as_str())
    }
}

/// One entry of a decoded feed: the signed record it carries and what a reader sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedEntry {
    /// The signed record carried by the entry (not yet verified).
    pub signed: SignedRecord,
    /// The fields a plain feed reader shows.
    pub visible: Visible,
}

/// The fields of an entry that a plain feed reader shows, as found in the document.
/// Optional fields are `None` when the document omits them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Visible {
    /// An item version (Atom `entry`; JSON Feed item).
    Entry {
        /// Atom `id`; JSON `id`.
        id: String,
        /// Atom `title` (text); JSON `title`.
        title: String,
        /// Atom `updated`; JSON `date_modified`.
        updated: Option<Timestamp>,
        /// Atom `published`; JSON `date_published`.
        published: Option<Timestamp>,
        /// Atom `summary` (text); JSON `summary`. Absent means empty.
        summary: Option<String>,
        /// Atom `content type="html"`; JSON `content_html`.
        content_html: Option<String>,
        /// Atom `category/@term`s; JSON `tags`, in document order.
        categories: Vec<String>,
        /// Atom `link rel="alternate"`; JSON `url`. Not signed: not checked.
        link: Option<String>,
        /// Atom `title/@xml:lang`; JSON `language`.
        language: Option<String>,
    },
    /// A withdrawal (Atom `at:deleted-entry`; JSON Feed item with `_ipsp.withdrawal`).
    Tombstone {
        /// Atom `ref`; JSON `id`.
        id: String,
        /// Atom `when`; JSON `date_modified`.
        when: Option<Timestamp>,
        /// Atom `at:comment`; JSON `content_text`.
        comment: Option<String>,
        /// JSON `title` (the state in English); Atom tombstones have none.
        title: Option<String>,
    },
}

/// The entry id of every version (and the withdrawal) of an item: `urn:ipsp:<origin>:<item-id>`.
pub fn entry_id(origin: &NodeId, id: &ItemId) -> String {
    format!("urn:ipsp:{origin}:{id}")
}

/// The English label of a withdrawal state, used as the JSON Feed title of a withdrawal:
/// `Withdrawn`, `Redirected` or `Gone`.
pub fn withdrawal_label(state: WithdrawalState) -> &'static str {
    match state {
        WithdrawalState::Withdrawn => "Withdrawn",
        WithdrawalState::Redirected => "Redirected",
        WithdrawalState::Gone => "Gone",
    }
}

/// Verify every entry of a decoded feed: one result per entry, in order. Each entry's signed
/// record goes through [`envelope::open`] (any of its rejections is returned as is), then
/// [`check_visible`].
///
/// This checks entries one by one. Version chains, log positions and checkpoints are the job
/// of [`crate::verifier::LogVerifier`].
pub fn verify_entries(
    feed: &DecodedFeed,
    keys: &dyn KeyResolver,
) -> Vec<Result<Verified<Record>, Rejection>> {
    feed.entries.iter().map(|entry| verify_entry(entry, keys)).collect()
}

/// Verify one decoded entry: see [`verify_entries`].
pub fn verify_entry(
    entry: &DecodedEntry,
    keys: &dyn KeyResolver,
) -> Result<Verified<Record>, Rejection> {
    let verified = envelope::open(&entry.signed, keys)?;
    check_visible(verified.record(), &entry.visible)?;
    Ok(verified)
}

/// Check that an entry's visible fields agree with its (already verified) record.
///
/// Items (`Visible::Entry`): `id` = `urn:ipsp:<origin>:<id>`; `title`; `updated`;
/// `published`; `summary` (absent = empty); content = `content_html` exactly or its
/// [`sanitize_html`] output;
/// categories as a sorted list; `language`, when shown. Withdrawals (`Visible::Tombstone`):
/// `ref` = the item's entry id; `when` = `time`; comment = `explanation` (both trimmed of
/// surrounding whitespace, which XML extension parsers commonly drop); the JSON title, when
/// shown, = [`withdrawal_label`]. Category terms are compared after replacing TAB, LF and CR
/// by spaces (XML attribute-value normalisation).
///
/// Any disagreement, an item record in a tombstone or a withdrawal record in an entry is
/// [`Rejection::FeedMismatch`] naming the field; a record of another type is
/// [`Rejection::Malformed`].
pub fn check_visible(record: &Record, visible: &Visible) -> Result<(), Rejection> {
    match (record, visible) {
        (Record::Item(item), Visible::Entry { .. }) => check_item(item, visible),
        (Record::Withdrawal(w), Visible::Tombstone { .. }) => check_withdrawal(w, visible),
        (Record::Item(_), Visible::Tombstone { .. }) => {
            Err(mismatch("type", "a tombstone carries an item record"))
        }
        (Record::Withdrawal(_), Visible::Entry { .. }) => Err(mismatch(
            "type",
            "an entry carries a withdrawal record (withdrawals are tombstones)",
        )),
        (other, _) => Err(Rejection::Malformed(format!(
            "a {} record is not a feed entry",
            other.record_type()
        ))),
    }
}

fn mismatch(field: &str, detail: impl std::fmt::Display) -> Rejection {
    Rejection::FeedMismatch(format!("{field}: {detail}"))
}

/// Shorten a shown value for an error message.
fn shown(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        format!("{s:?}")
    } else {
        format!("{:?}…", s.chars().take(MAX).collect::<String>())
    }
}

fn check_time(
    field: &str,
    shown_time: Option<Timestamp>,
    signed: Timestamp,
) -> Result<(), Rejection> {
    match shown_time {
        Some(t) if t == signed => Ok(()),
        Some(t) => Err(mismatch(field, format!("feed shows {t}, record has {signed}"))),
        None => Err(mismatch(field, format!("missing, record has {signed}"))),
    }
}

/// XML attribute-value normalisation of whitespace (XML 1.0 §3.3.3).
fn normalize_attr(s: &str) -> String {
    s.replace(['\t', '\n', '\r'], " ")
}

fn check_item(item: &ItemVersion, visible: &Visible) -> Result<(), Rejection> {
    let Visible::Entry {
        id,
        title,
        updated,
        published,
        summary,
        content_html,
        categories,
        link: _,
        language,
    } = visible
    else {
        return Err(mismatch("type", "expected an entry"));
    };
    let expected_id = entry_id(&item.origin, &item.id);
    if *id != expected_id {
        return Err(mismatch("id", format!("feed shows {}, record is {expected_id}", shown(id))));
    }
    if *title != item.title {
        return Err(mismatch(
            "title",
            format!("feed shows {}, record has {}", shown(title), shown(&item.title)),
        ));
    }
    check_time("updated", *updated, item.updated)?;
    check_time("published", *published, item.published)?;
    let summary = summary.as_deref().unwrap_or("");
    if summary != item.summary {
        return Err(mismatch(
            "summary",
            format!("feed shows {}, record has {}", shown(summary), shown(&item.summary)),
        ));
    }
    // The signed HTML itself, or the §9.3 sanitiser's output for it. Publishers sanitise before
    // signing, so for them the two are the same bytes, and a verifier without the reference
    // sanitiser can check the first alone (SPEC.md §9.4).
    let expected_content = sanitize_html(&item.content_html);
    match content_html {
        Some(c) if *c == item.content_html || *c == expected_content => {}
        Some(c) => {
            return Err(mismatch(
                "content",
                format!(
                    "feed shows {}, the sanitised record content is {}",
                    shown(c),
                    shown(&expected_content)
                ),
            ));
        }
        None => return Err(mismatch("content", "missing")),
    }
    let mut shown_categories: Vec<String> = categories.iter().map(|c| normalize_attr(c)).collect();
    shown_categories.sort();
    let signed_categories: Vec<String> =
        item.categories.iter().map(|c| normalize_attr(c)).collect();
    if shown_categories != signed_categories {
        return Err(mismatch(
            "categories",
            format!("feed shows {shown_categories:?}, record has {signed_categories:?}"),
        ));
    }
    if let Some(lang) = language
        && lang != item.language.as_str()
    {
        return Err(mismatch(
            "language",
            format!("feed shows {}, record has {}", shown(lang), item.language),
        ));
    }
    Ok(())
}

fn check_withdrawal(w: &Withdrawal, visible: &Visible) -> Result<(), Rejection> {
    let Visible::Tombstone { id, when, comment, title } = visible else {
        return Err(mismatch("type", "expected a tombstone"));
    };
    let expected_id = entry_id(&w.origin, &w.id);
    if *id != expected_id {
        return Err(mismatch("ref", format!("feed shows {}, record is {expected_id}", shown(id))));
    }
    check_time("when", *when, w.time)?;
    match comment {
        Some(c) if c.trim() == w.explanation.trim() => {}
        Some(c) => {
            return Err(mismatch(
                "comment",
                format!("feed shows {}, record explanation is {}", shown(c), shown(&w.explanation)),
            ));
        }
        None => return Err(mismatch("comment", "missing")),
    }
    if let Some(t) = title {
        let label = withdrawal_label(w.state);
        if t != label {
            return Err(mismatch(
                "title",
                format!("feed shows {}, record state is {label}", shown(t)),
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Shared by both encoders

/// A feed entry parsed from its signed bytes: what the encoders render.
enum Prepared<'a> {
    Item(&'a SignedRecord, Box<ItemVersion>),
    Withdrawal(&'a SignedRecord, Withdrawal),
}

/// Check the metadata and parse every entry from its signed bytes.
fn prepare<'a>(
    meta: &FeedMeta,
    entries: &'a [SignedRecord],
) -> Result<Vec<Prepared<'a>>, FeedError> {
    check_meta(meta)?;
    if entries.len() > limits::MAX_PAGE_ENTRIES {
        return Err(FeedError::TooManyEntries { count: entries.len() });
    }
    entries
        .iter()
        .enumerate()
        .map(|(index, signed)| match envelope::parse_record(signed.bytes()) {
            Ok(Record::Item(item)) => Ok(Prepared::Item(signed, Box::new(item))),
            Ok(Record::Withdrawal(w)) => Ok(Prepared::Withdrawal(signed, w)),
            Ok(other) => Err(FeedError::NotAFeedRecord { index, got: other.record_type() }),
            Err(rejection) => Err(FeedError::InvalidRecord { index, rejection }),
        })
        .collect()
}

fn check_meta(meta: &FeedMeta) -> Result<(), FeedError> {
    let text = |field: &'static str, v: &str| -> Result<(), FeedError> {
        if v.trim().is_empty() {
            return Err(FeedError::Meta { field, reason: "must not be empty".into() });
        }
        if v.chars().any(char::is_control) {
            return Err(FeedError::Meta {
                field,
                reason: "control characters are not allowed".into(),
            });
        }
        Ok(())
    };
    let url = |field: &'static str, v: &str| -> Result<(), FeedError> {
        crate::record::check_url(v)
            .map_err(|reason| FeedError::Meta { field, reason: reason.into() })
    };
    text("feed_id", &meta.feed_id)?;
    text("title", &meta.title)?;
    text("author", &meta.author)?;
    url("self_url", &meta.self_url)?;
    url("alternate_url", &meta.alternate_url)?;
    if !meta.item_url.contains("{id}") {
        return Err(FeedError::Meta {
            field: "item_url",
            reason: "the template must contain {id}".into(),
        });
    }
    url("item_url", &meta.item_url.replace("{id}", "x"))?;
    let links = [
        ("archive.current", &meta.archive.current),
        ("archive.prev_archive", &meta.archive.prev_archive),
        ("archive.next_archive", &meta.archive.next_archive),
        ("archive.next_page", &meta.archive.next_page),
    ];
    for (field, link) in links {
        if let Some(link) = link {
            url(field, link)?;
        }
    }
    Ok(())
}

/// The item page URL of `id`.
fn item_url(meta: &FeedMeta, id: &ItemId) -> String {
    meta.item_url.replace("{id}", id.as_str())
}

/// Convert an RFC 3339 date-time as parsed by chrono (through atom_syndication) into a
/// [`Timestamp`]: whole seconds from 1970 to 9999 only.
fn timestamp_of(field: &str, dt: &atom_syndication::FixedDateTime) -> Result<Timestamp, Rejection> {
    let secs = dt.timestamp();
    let bad = || {
        Rejection::Malformed(format!(
            "{field}: {dt} is not a whole-second time between 1970 and 9999"
        ))
    };
    if dt.timestamp_subsec_nanos() != 0 {
        return Err(bad());
    }
    u64::try_from(secs).ok().and_then(Timestamp::from_unix).ok_or_else(bad)
}

/// Parse an RFC 3339 date-time (any offset) into a [`Timestamp`].
fn parse_rfc3339(field: &str, s: &str) -> Result<Timestamp, Rejection> {
    let dt = atom_syndication::FixedDateTime::parse_from_rfc3339(s).map_err(|e| {
        Rejection::Malformed(format!("{field}: {} is not an RFC 3339 date-time: {e}", shown(s)))
    })?;
    timestamp_of(field, &dt)
}
