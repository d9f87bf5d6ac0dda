//! Log pages and proofs (SPEC.md §8.1): `log`, `member-log` and the WebSub delivery body
//! ([`LogPage`]), `national-log` ([`NationalLogPage`]), `inclusion-proof` and
//! `consistency-proof`.
//!
//! Envelopes are carried as their three strings ([`Envelope`], [`LogEntry`]) and decoded by
//! the reader, entry by entry, so that a bad entry is reported as that entry's rejection
//! (`log entry 7: record is not base64`), not as a page that is not JSON.

use serde::{Deserialize, Serialize};

use crate::crypto::encode_base64;
use crate::envelope::SignedRecord;
use crate::error::Rejection;
use crate::ids::NodeId;
use crate::merkle::Hash;

/// A signed envelope in a body (SPEC.md §5.5), not yet decoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// The key id.
    pub kid: String,
    /// The record bytes, standard base64.
    pub record: String,
    /// The signature, standard base64.
    pub sig: String,
}

impl Envelope {
    /// Decode it (strict base64, sizes); nothing is verified.
    pub fn decode(&self) -> Result<SignedRecord, Rejection> {
        SignedRecord::from_base64(&self.record, &self.kid, &self.sig)
    }
}

impl From<&SignedRecord> for Envelope {
    fn from(s: &SignedRecord) -> Envelope {
        Envelope { kid: s.kid().to_string(), record: s.record_base64(), sig: s.sig_base64() }
    }
}

/// One entry of a [`LogPage`]: its index and its envelope's three members.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogEntry {
    /// Its index in the log.
    pub index: u64,
    /// The key id.
    pub kid: String,
    /// The record bytes, standard base64.
    pub record: String,
    /// The signature, standard base64.
    pub sig: String,
}

impl LogEntry {
    /// The entry at `index` holding `signed`.
    pub fn new(index: u64, signed: &SignedRecord) -> LogEntry {
        LogEntry::from_envelope(index, Envelope::from(signed))
    }

    /// The entry at `index` holding `envelope`.
    pub fn from_envelope(index: u64, envelope: Envelope) -> LogEntry {
        LogEntry { index, kid: envelope.kid, record: envelope.record, sig: envelope.sig }
    }

    /// Decode its envelope (strict base64, sizes); nothing is verified.
    pub fn decode(&self) -> Result<SignedRecord, Rejection> {
        SignedRecord::from_base64(&self.record, &self.kid, &self.sig)
    }
}

/// A page of a log (SPEC.md §8.1 `log-page`): `GET /api/v1/log`, an aggregator's copy of a
/// member's log (`member-log`), and the body of WebSub deliveries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogPage {
    /// The latest signed checkpoint note (`""` when there is none).
    pub checkpoint: String,
    /// The entries, contiguous from `start`.
    pub entries: Vec<LogEntry>,
    /// The next page's URL, when the log goes on past this page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The node whose log it is.
    pub origin: NodeId,
    /// The log's size when the page was served.
    pub size: u64,
    /// The index of the first entry (`after`, clamped to `size`).
    pub start: u64,
}

impl LogPage {
    /// One past the last entry's index.
    pub fn end(&self) -> u64 {
        self.start + self.entries.len() as u64
    }
}

/// The URL of the page after one ending at `end`: `{endpoint}?after={end}&limit={limit}`, the
/// `next` of every paged log.
pub fn next_url(endpoint: &str, end: u64, limit: u64) -> String {
    format!("{endpoint}?after={end}&limit={limit}")
}

/// One entry of a [`NationalLogPage`]: a receipt with the member record it acknowledges
/// (`member`, `receipt`), or one of the aggregator's other entries (`record`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NationalLogEntry {
    /// Its index in the aggregator's log.
    pub index: u64,
    /// The acknowledged member record, exactly as its origin signed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<Envelope>,
    /// The aggregator's receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Envelope>,
    /// An entry of the aggregator's that is not a receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<Envelope>,
}

impl NationalLogEntry {
    /// A receipt at `index` with the member record it acknowledges.
    pub fn receipt(index: u64, receipt: &SignedRecord, member: &SignedRecord) -> NationalLogEntry {
        NationalLogEntry {
            index,
            member: Some(member.into()),
            receipt: Some(receipt.into()),
            record: None,
        }
    }

    /// Another entry of the aggregator's own at `index`.
    pub fn own(index: u64, record: &SignedRecord) -> NationalLogEntry {
        NationalLogEntry { index, member: None, receipt: None, record: Some(record.into()) }
    }

    /// The aggregator's own entry and, for a receipt, the member record paired with it; `None`
    /// when the entry is neither `{index, member, receipt}` nor `{index, record}`.
    pub fn split(self) -> Option<(LogEntry, Option<Envelope>)> {
        match (self.member, self.receipt, self.record) {
            (Some(m), Some(r), None) => Some((LogEntry::from_envelope(self.index, r), Some(m))),
            (None, None, Some(r)) => Some((LogEntry::from_envelope(self.index, r), None)),
            _ => None,
        }
    }
}

/// A page of an aggregator's national log (SPEC.md §8.1 `national-log-page`): paged as a
/// [`LogPage`] of its own log, each receipt with its member record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NationalLogPage {
    /// The aggregator's latest signed checkpoint note (`""` when there is none).
    pub checkpoint: String,
    /// The entries, contiguous from `start`.
    pub entries: Vec<NationalLogEntry>,
    /// The next page's URL, when the log goes on past this page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The aggregator.
    pub origin: NodeId,
    /// Its log's size when the page was served.
    pub size: u64,
    /// The index of the first entry.
    pub start: u64,
}

/// Hashes as a proof carries them: standard base64.
fn base64_hashes(proof: &[Hash]) -> Vec<String> {
    proof.iter().map(|h| encode_base64(h)).collect()
}

/// An inclusion proof (SPEC.md §8.1 `inclusion-proof`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// The leaf's index.
    pub index: u64,
    /// The audit path, base64 hashes.
    pub proof: Vec<String>,
    /// The tree size the proof is for.
    pub size: u64,
}

impl InclusionProof {
    /// The proof of `index` in the tree of `size`.
    pub fn new(index: u64, size: u64, proof: &[Hash]) -> InclusionProof {
        InclusionProof { index, proof: base64_hashes(proof), size }
    }
}

/// A consistency proof (SPEC.md §8.1 `consistency-proof`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    /// The older tree size.
    pub from: u64,
    /// The proof, base64 hashes.
    pub proof: Vec<String>,
    /// The newer tree size.
    pub to: u64,
}

impl ConsistencyProof {
    /// The proof from size `from` to size `to`.
    pub fn new(from: u64, to: u64, proof: &[Hash]) -> ConsistencyProof {
        ConsistencyProof { from, proof: base64_hashes(proof), to }
    }
}
