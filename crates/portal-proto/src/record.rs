//! The IPSP/1 record types: what a ministry signs.
//!
//! Every record is a JSON object serialised as RFC 8785 canonical JSON, with `"ipsp": 1`, a
//! `"type"` and an `"origin"` (the node that signed it). Optional fields are *omitted* when
//! absent: an explicit `null`, `[]` or `{}` is refused, so each record has exactly one
//! encoding. Integers are in `[0, 2^53 - 1]`. Field-level rules are in [`Validate`] impls and
//! in `proto-spec/SPEC.md` §4.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::crypto::{KeyId, PublicKey};
use crate::ids::{Digest, ItemId, Lang, NodeId};
use crate::limits;
use crate::time::{Date, Timestamp};

/// The only protocol version this crate speaks.
pub const PROTOCOL_VERSION: u64 = 1;

/// Largest integer a record may carry (2^53 − 1): JSON numbers above it lose precision.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The kinds of signed record. The name is part of the signing input (domain separation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordType {
    /// A version of an item: news, announcement, legal document or alert.
    Item,
    /// The withdrawal of an item, with a public explanation.
    Withdrawal,
    /// A key rotation or revocation in a node's log.
    KeyEvent,
    /// A node's self-description at `/.well-known/portal-node`.
    Descriptor,
    /// A federation roster, signed by the central node.
    Roster,
    /// An aggregator's receipt for a member's record, in the aggregator's log.
    Receipt,
}

impl RecordType {
    /// Every record type, in spec order.
    pub const ALL: [RecordType; 6] = [
        RecordType::Item,
        RecordType::Withdrawal,
        RecordType::KeyEvent,
        RecordType::Descriptor,
        RecordType::Roster,
        RecordType::Receipt,
    ];

    /// The type named `name`, as written in `"type"`.
    pub fn from_name(name: &str) -> Result<RecordType, FieldError> {
        RecordType::ALL
            .into_iter()
            .find(|t| t.as_str() == name)
            .ok_or_else(|| FieldError::new("type", format!("unknown record type {name:?}")))
    }

    /// The name used in `"type"` and in the signing prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::Item => "item",
            RecordType::Withdrawal => "withdrawal",
            RecordType::KeyEvent => "key-event",
            RecordType::Descriptor => "descriptor",
            RecordType::Roster => "roster",
            RecordType::Receipt => "receipt",
        }
    }

    /// The domain-separation prefix: `"IPSP/1 " + type + "\n"`. A signature over one type's
    /// prefix can never verify as another type.
    pub fn signing_prefix(self) -> &'static [u8] {
        match self {
            RecordType::Item => b"IPSP/1 item\n",
            RecordType::Withdrawal => b"IPSP/1 withdrawal\n",
            RecordType::KeyEvent => b"IPSP/1 key-event\n",
            RecordType::Descriptor => b"IPSP/1 descriptor\n",
            RecordType::Roster => b"IPSP/1 roster\n",
            RecordType::Receipt => b"IPSP/1 receipt\n",
        }
    }

    /// Whether records of this type are entries of a node's log (and so carry `log_index`).
    pub fn is_log_entry(self) -> bool {
        matches!(
            self,
            RecordType::Item | RecordType::Withdrawal | RecordType::KeyEvent | RecordType::Receipt
        )
    }
}

impl std::fmt::Display for RecordType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A field that failed validation: which one and why. Field paths use dots and `[i]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    /// Path of the offending field, e.g. `legal.effective` or `attachments[2].size`.
    pub field: String,
    /// Human-readable reason.
    pub reason: String,
}

impl FieldError {
    /// A new field error.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        FieldError { field: field.into(), reason: reason.into() }
    }
}

/// Semantic checks beyond the JSON shape. Collects every problem, not just the first.
pub trait Validate {
    /// Push every problem found onto `errors`.
    fn validate_into(&self, errors: &mut Vec<FieldError>);

    /// All problems, or `Ok` if there are none.
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        self.validate_into(&mut errors);
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

/// Implemented by each record struct: its type tag and common header.
pub trait RecordBody: Serialize + Validate {
    /// The record's type.
    const TYPE: RecordType;
    /// The node that signs it.
    fn origin(&self) -> &NodeId;
    /// Its position in the origin's log, for log entries.
    fn log_index(&self) -> Option<u64>;
    /// The record, if it is of this type.
    fn from_record(record: Record) -> Option<Self>
    where
        Self: Sized;
}

// ---------------------------------------------------------------------------------------------
// Item versions

/// The kind of an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemKind {
    /// News article.
    News,
    /// Announcement (thông báo).
    Announcement,
    /// Legal document: decree, decision, circular… Requires [`LegalMeta`].
    Legal,
    /// Urgent alert, shown first.
    Alert,
}

impl ItemKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::News => "news",
            ItemKind::Announcement => "announcement",
            ItemKind::Legal => "legal",
            ItemKind::Alert => "alert",
        }
    }
}

/// Whether a new version changes meaning (major) or only wording (minor), GOV.UK style.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateType {
    /// The change matters to readers; subscribers are told.
    Major,
    /// Typo or formatting fix.
    Minor,
}

/// What changed in this version (required from version 2 on, absent on version 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Update {
    /// Major or minor.
    #[serde(rename = "type")]
    pub update_type: UpdateType,
    /// Public change note, non-empty.
    pub note: String,
}

/// The same text in another language.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Translation {
    /// Title in this language.
    pub title: String,
    /// Summary in this language.
    pub summary: String,
    /// Sanitised HTML body in this language.
    pub content_html: String,
}

/// A file bound to an item by its SHA-256 and size; served by hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    /// File name shown to readers.
    pub name: String,
    /// IANA media type, e.g. `application/pdf`.
    pub media_type: String,
    /// SHA-256 of the exact bytes.
    pub sha256: Digest,
    /// Size in bytes.
    pub size: u64,
}

/// Metadata of a legal document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegalMeta {
    /// Document number, e.g. `15/2026/NĐ-CP`.
    pub number: String,
    /// Issuing body, e.g. `Chính phủ`.
    pub issuer: String,
    /// The person who signed it, with title.
    pub signer: String,
    /// Date of issue.
    pub issued: Date,
    /// Date it takes effect.
    pub effective: Date,
    /// Date it ceases to have effect, if set.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub expires: Option<Date>,
}

/// One version of an item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemVersion {
    /// Always 1.
    pub ipsp: u64,
    /// Always `item`.
    #[serde(rename = "type")]
    pub record_type: RecordType,
    /// The publishing node.
    pub origin: NodeId,
    /// Position in the origin's log.
    pub log_index: u64,
    /// Stable item id.
    pub id: ItemId,
    /// 1 for the first version, then +1 each time.
    pub version: u64,
    /// SHA-256 of the previous version's record bytes; absent on version 1.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub prev: Option<Digest>,
    /// What changed; absent on version 1, required after.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub update: Option<Update>,
    /// News, announcement, legal, alert.
    pub kind: ItemKind,
    /// Language of `title`, `summary`, `content_html`.
    pub language: Lang,
    /// Title.
    pub title: String,
    /// Summary (plain text).
    pub summary: String,
    /// Body, sanitised HTML.
    pub content_html: String,
    /// Other languages.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "non_empty_map"
    )]
    pub translations: BTreeMap<Lang, Translation>,
    /// Categories, sorted and unique.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "non_empty_vec")]
    pub categories: Vec<String>,
    /// Attached files.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "non_empty_vec")]
    pub attachments: Vec<Attachment>,
    /// Legal metadata; required iff `kind` is `legal`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub legal: Option<LegalMeta>,
    /// When version 1 was published.
    pub published: Timestamp,
    /// When this version was published (≥ `published`).
    pub updated: Timestamp,
}

// ---------------------------------------------------------------------------------------------
// Withdrawals

/// How an item leaves: GOV.UK's vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WithdrawalState {
    /// Still shown, marked withdrawn, with the explanation.
    Withdrawn,
    /// Replaced by the item at `redirect`.
    Redirected,
    /// Content removed (e.g. published in error); the explanation stays.
    Gone,
}

impl WithdrawalState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            WithdrawalState::Withdrawn => "withdrawn",
            WithdrawalState::Redirected => "redirected",
            WithdrawalState::Gone => "gone",
        }
    }
}

/// The signed withdrawal of an item. It ends the item's version chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Withdrawal {
    /// Always 1.
    pub ipsp: u64,
    /// Always `withdrawal`.
    #[serde(rename = "type")]
    pub record_type: RecordType,
    /// The publishing node.
    pub origin: NodeId,
    /// Position in the origin's log.
    pub log_index: u64,
    /// The item withdrawn.
    pub id: ItemId,
    /// The item's latest version, which this withdraws.
    pub version: u64,
    /// SHA-256 of that version's record bytes.
    pub prev: Digest,
    /// Withdrawn, redirected or gone.
    pub state: WithdrawalState,
    /// Mandatory public explanation.
    pub explanation: String,
    /// Where readers go instead; required iff `state` is `redirected`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub redirect: Option<String>,
    /// When it was withdrawn.
    pub time: Timestamp,
}

// ---------------------------------------------------------------------------------------------
// Keys

/// A key and the range of log indices it may sign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyGrant {
    /// Key id (derived from the key).
    pub kid: KeyId,
    /// Ed25519 public key, base64.
    pub public_key: PublicKey,
    /// First log index the key may sign.
    pub from_index: u64,
    /// Retired by rotation: the key may sign indices below this one only.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub until_index: Option<u64>,
    /// Revoked: nothing it signed at this index or later is valid.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub revoked_from: Option<u64>,
}

impl KeyGrant {
    /// A grant valid from index 0 with no end: what pinning a key means.
    pub fn pinned(public_key: PublicKey) -> KeyGrant {
        KeyGrant {
            kid: public_key.key_id(),
            public_key,
            from_index: 0,
            until_index: None,
            revoked_from: None,
        }
    }

    /// Whether the key may sign the log entry at `index`.
    pub fn status_at(&self, index: u64) -> KeyStatus {
        if self.revoked_from.is_some_and(|r| index >= r) {
            KeyStatus::Revoked
        } else if index < self.from_index {
            KeyStatus::NotYetValid
        } else if self.until_index.is_some_and(|u| index >= u) {
            KeyStatus::Retired
        } else {
            KeyStatus::Valid
        }
    }
}

/// A key's standing at one log index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum KeyStatus {
    /// May sign this index.
    Valid,
    /// Valid only from a later index.
    NotYetValid,
    /// Retired by a rotation before this index.
    Retired,
    /// Revoked at or before this index.
    Revoked,
}

impl KeyStatus {
    /// Why the key may not sign, as a rejection message says it; `None` when it may.
    pub fn refusal(self) -> Option<&'static str> {
        match self {
            KeyStatus::Valid => None,
            KeyStatus::NotYetValid => Some("not yet valid"),
            KeyStatus::Retired => Some("retired"),
            KeyStatus::Revoked => Some("revoked"),
        }
    }
}

/// Rotation or revocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyEventKind {
    /// Introduce `public_key` from `from_index`; the signing key retires at `from_index`.
    Rotate,
    /// Revoke key `kid` from `from_index` (which may be in the past).
    Revoke,
}

/// A key event in a node's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEvent {
    /// Always 1.
    pub ipsp: u64,
    /// Always `key-event`.
    #[serde(rename = "type")]
    pub record_type: RecordType,
    /// The node whose keys change.
    pub origin: NodeId,
    /// Position in the origin's log.
    pub log_index: u64,
    /// Rotate or revoke.
    pub event: KeyEventKind,
    /// The key concerned: the new key (rotate) or the revoked key (revoke).
    pub kid: KeyId,
    /// The new public key; required iff `event` is `rotate`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub public_key: Option<PublicKey>,
    /// Rotate: first index of the new key (> `log_index`). Revoke: first index revoked.
    pub from_index: u64,
    /// Public reason.
    pub reason: String,
    /// When.
    pub time: Timestamp,
}

// ---------------------------------------------------------------------------------------------
// Descriptor and roster

/// A node's signed self-description, served at `/.well-known/portal-node`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Descriptor {
    /// Always 1.
    pub ipsp: u64,
    /// Always `descriptor`.
    #[serde(rename = "type")]
    pub record_type: RecordType,
    /// The node's id.
    pub origin: NodeId,
    /// Display names by language (at least `vi`).
    pub name: BTreeMap<Lang, String>,
    /// Base URL, `https://…` (or `http://` for loopback deployments).
    pub url: String,
    /// Keys with their validity ranges.
    pub keys: Vec<KeyGrant>,
    /// Endpoint name → absolute URL. Names are listed in SPEC.md §8.
    pub endpoints: BTreeMap<String, String>,
    /// The node promises a new checkpoint at least this often (seconds).
    pub heartbeat: u64,
    /// Size of the node's log when this descriptor was signed.
    pub log_size: u64,
    /// When it was signed.
    pub time: Timestamp,
}

/// Standing of a member in the roster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MemberStatus {
    /// Synced and shown.
    Active,
    /// Kept, not synced; its items stay with a notice.
    Suspended,
}

/// One member of a federation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Member node id.
    pub id: NodeId,
    /// Member base URL.
    pub url: String,
    /// Display names by language.
    pub name: BTreeMap<Lang, String>,
    /// Active or suspended.
    pub status: MemberStatus,
    /// The member's keys with validity ranges and revocations.
    pub keys: Vec<KeyGrant>,
}

/// The federation roster, signed by the central node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roster {
    /// Always 1.
    pub ipsp: u64,
    /// Always `roster`.
    #[serde(rename = "type")]
    pub record_type: RecordType,
    /// The central node.
    pub origin: NodeId,
    /// Increases with every change; a verifier refuses a lower serial than one it has seen.
    pub serial: u64,
    /// Members, sorted by id, unique.
    pub members: Vec<Member>,
    /// When it was signed.
    pub time: Timestamp,
}

// ---------------------------------------------------------------------------------------------
// Receipts

/// An aggregator's receipt for one member record, in the aggregator's own log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// Always 1.
    pub ipsp: u64,
    /// Always `receipt`.
    #[serde(rename = "type")]
    pub record_type: RecordType,
    /// The aggregator.
    pub origin: NodeId,
    /// Position in the aggregator's log.
    pub log_index: u64,
    /// The member whose record this is.
    pub member: NodeId,
    /// Index of the record in the member's log.
    pub member_index: u64,
    /// SHA-256 of the member record's bytes.
    pub record: Digest,
    /// The member checkpoint the aggregator verified the record against.
    pub checkpoint: CheckpointRef,
    /// When the aggregator ingested it.
    pub time: Timestamp,
}

/// A reference to a checkpoint: its tree size and root hash (base64).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointRef {
    /// Tree size.
    pub size: u64,
    /// Root hash, standard base64.
    pub root: String,
}

// ---------------------------------------------------------------------------------------------
// Any record

/// Any IPSP/1 record, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Record {
    /// An item version.
    Item(ItemVersion),
    /// A withdrawal.
    Withdrawal(Withdrawal),
    /// A key event.
    KeyEvent(KeyEvent),
    /// A node descriptor.
    Descriptor(Descriptor),
    /// A roster.
    Roster(Roster),
    /// A receipt.
    Receipt(Receipt),
}

impl Record {
    /// The record's type.
    pub fn record_type(&self) -> RecordType {
        match self {
            Record::Item(_) => RecordType::Item,
            Record::Withdrawal(_) => RecordType::Withdrawal,
            Record::KeyEvent(_) => RecordType::KeyEvent,
            Record::Descriptor(_) => RecordType::Descriptor,
            Record::Roster(_) => RecordType::Roster,
            Record::Receipt(_) => RecordType::Receipt,
        }
    }

    /// The signing node.
    pub fn origin(&self) -> &NodeId {
        match self {
            Record::Item(r) => &r.origin,
            Record::Withdrawal(r) => &r.origin,
            Record::KeyEvent(r) => &r.origin,
            Record::Descriptor(r) => &r.origin,
            Record::Roster(r) => &r.origin,
            Record::Receipt(r) => &r.origin,
        }
    }

    /// The log index, for log entries.
    pub fn log_index(&self) -> Option<u64> {
        match self {
            Record::Item(r) => Some(r.log_index),
            Record::Withdrawal(r) => Some(r.log_index),
            Record::KeyEvent(r) => Some(r.log_index),
            Record::Receipt(r) => Some(r.log_index),
            Record::Descriptor(_) | Record::Roster(_) => None,
        }
    }

    /// Parse canonical record bytes into a typed record (no signature check, no canonical
    /// check: see [`crate::envelope`] for the full path). Unknown fields are refused.
    pub fn from_json(bytes: &[u8]) -> Result<Record, FieldError> {
        // A first, cheap pass for the type alone: serde skips every other member without
        // building anything.
        #[derive(Deserialize)]
        struct Head<'a> {
            #[serde(rename = "type", borrow)]
            record_type: Option<std::borrow::Cow<'a, str>>,
        }
        let head: Head<'_> = serde_json::from_slice(bytes).map_err(json_error)?;
        let tag = head.record_type.ok_or_else(|| FieldError::new("type", "missing"))?;
        let record_type = RecordType::from_name(&tag)?;
        let text = std::str::from_utf8(bytes).map_err(|e| FieldError::new("$", e.to_string()))?;
        Record::parse_as(record_type, text)
    }

    /// Parse a record already known to be of `record_type`. Taking `&str` lets serde_json
    /// skip re-validating UTF-8 inside every string (the canonical check has done it).
    pub(crate) fn parse_as(record_type: RecordType, text: &str) -> Result<Record, FieldError> {
        let record = match record_type {
            RecordType::Item => Record::Item(serde_json::from_str(text).map_err(json_error)?),
            RecordType::Withdrawal => {
                Record::Withdrawal(serde_json::from_str(text).map_err(json_error)?)
            }
            RecordType::KeyEvent => {
                Record::KeyEvent(serde_json::from_str(text).map_err(json_error)?)
            }
            RecordType::Descriptor => {
                Record::Descriptor(serde_json::from_str(text).map_err(json_error)?)
            }
            RecordType::Roster => Record::Roster(serde_json::from_str(text).map_err(json_error)?),
            RecordType::Receipt => Record::Receipt(serde_json::from_str(text).map_err(json_error)?),
        };
        Ok(record)
    }

    /// Run the semantic checks of the inner record.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        match self {
            Record::Item(r) => r.validate(),
            Record::Withdrawal(r) => r.validate(),
            Record::KeyEvent(r) => r.validate(),
            Record::Descriptor(r) => r.validate(),
            Record::Roster(r) => r.validate(),
            Record::Receipt(r) => r.validate(),
        }
    }
}

/// Turn a serde_json error into a field error. serde_json names the field in its message for
/// unknown or missing fields; the path is best-effort.
fn json_error(e: serde_json::Error) -> FieldError {
    let msg = e.to_string();
    let field = msg.split('`').nth(1).filter(|_| msg.contains("field")).unwrap_or("$").to_owned();
    FieldError::new(field, msg)
}

// serde helpers: optional fields are absent, never null or empty.

fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

fn non_empty_vec<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    let v = Vec::<T>::deserialize(d)?;
    if v.is_empty() {
        return Err(serde::de::Error::custom("an empty array must be omitted"));
    }
    Ok(v)
}

fn non_empty_map<'de, D, K, V>(d: D) -> Result<BTreeMap<K, V>, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Ord,
    V: Deserialize<'de>,
{
    let m = BTreeMap::<K, V>::deserialize(d)?;
    if m.is_empty() {
        return Err(serde::de::Error::custom("an empty object must be omitted"));
    }
    Ok(m)
}

mod validate;
pub use validate::check_url;
