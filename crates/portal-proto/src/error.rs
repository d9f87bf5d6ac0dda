//! Typed rejections with stable codes: the reasons a verifier gives, named as in SPEC.md §11.
//!
//! Every invalid vector in `proto-spec/vectors` names one of these codes; the conformance test
//! checks that the code this crate returns is the one the vector expects.

use crate::ids::NodeId;
use crate::record::{FieldError, RecordType};

/// Why something received was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// Not parseable at all: bad base64, bad JSON, bad XML, wrong shape.
    #[error("malformed: {0}")]
    Malformed(String),
    /// Larger than the limit for its kind (bytes for documents, a count for entries).
    #[error("too large: {actual} {unit}, the limit is {limit}")]
    TooLarge {
        /// The limit.
        limit: usize,
        /// What was received (or read before giving up).
        actual: usize,
        /// What `limit` and `actual` count: `bytes`, `entries` or `elements`.
        unit: &'static str,
    },
    /// Valid JSON, but not byte-for-byte RFC 8785 canonical (including duplicate keys).
    #[error("non-canonical JSON at byte {offset}: {detail}")]
    NonCanonical {
        /// Byte offset of the first deviation.
        offset: usize,
        /// What is wrong there.
        detail: String,
    },
    /// Canonical JSON that breaks the record schema or a field rule.
    #[error("invalid record: {}", join_fields(.0))]
    Schema(Vec<FieldError>),
    /// The record's `ipsp` version is not 1.
    #[error("unsupported protocol version")]
    UnsupportedVersion,
    /// A record of another type where this type was required.
    #[error("wrong record type: expected {expected}, got {got}")]
    WrongType {
        /// Required type.
        expected: RecordType,
        /// Received type.
        got: RecordType,
    },
    /// The signature does not verify under the named key with the record's domain prefix.
    #[error("bad signature (key {kid})")]
    BadSignature {
        /// Key id named by the envelope.
        kid: String,
    },
    /// The key id is not among the origin's trusted keys.
    #[error("unknown key {kid} for {origin}")]
    UnknownKey {
        /// The origin whose keys were searched.
        origin: String,
        /// The key id named by the envelope.
        kid: String,
    },
    /// The key is revoked (or retired by rotation) at this log index.
    #[error("key {kid} is {status} at log index {index}")]
    RevokedKey {
        /// The key.
        kid: String,
        /// The index it tried to sign.
        index: u64,
        /// `revoked`, `retired` or `not yet valid`.
        status: &'static str,
    },
    /// Signed by a different node than the one this came from or claims to be.
    #[error("wrong origin: expected {expected}, got {got}")]
    WrongOrigin {
        /// The origin expected here.
        expected: String,
        /// The origin in the record or note.
        got: String,
    },
    /// The node is not in the roster (or not trusted at all).
    #[error("unknown origin {0}")]
    UnknownOrigin(String),
    /// A log entry arrived past the next expected index.
    #[error("index gap: expected {expected}, got {got}")]
    IndexGap {
        /// Next index expected.
        expected: u64,
        /// Index received.
        got: u64,
    },
    /// The same signed record again at an index already verified (harmless, but not new).
    #[error("replay of log index {index}")]
    Replay {
        /// The index.
        index: u64,
    },
    /// A different validly signed record at an index already verified: equivocation.
    #[error("fork at log index {index}: two different records signed for one index")]
    Fork {
        /// The index.
        index: u64,
    },
    /// A version that does not follow the item's previous version.
    #[error("broken version chain for item {id}: {detail}")]
    VersionChain {
        /// The item.
        id: String,
        /// What is wrong.
        detail: String,
    },
    /// A checkpoint or roster older than one already verified.
    #[error("rollback: had {had}, got {got}")]
    Rollback {
        /// Size (or serial) already verified.
        had: u64,
        /// Size (or serial) received.
        got: u64,
    },
    /// A checkpoint older than the freshness limit, or dated in the future.
    #[error("stale checkpoint: {0}")]
    StaleCheckpoint(String),
    /// A checkpoint whose root disagrees with the verified log, or whose consistency proof fails.
    #[error("inconsistent checkpoint: {0}")]
    InconsistentCheckpoint(String),
    /// An XML document with a DOCTYPE (entity expansion is never allowed).
    #[error("XML DOCTYPE is not allowed")]
    Doctype,
    /// A feed entry's visible fields disagree with the signed record it carries.
    #[error("feed entry does not match its signed record: {0}")]
    FeedMismatch(String),
}

fn join_fields(errors: &[FieldError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

impl Rejection {
    /// `too-large` when `actual` exceeds `limit`, both counted in `unit` (`bytes`, `entries`
    /// or `elements`): the first check of every document decoder.
    pub fn check_size(actual: usize, limit: usize, unit: &'static str) -> Result<(), Rejection> {
        if actual > limit {
            return Err(Rejection::TooLarge { limit, actual, unit });
        }
        Ok(())
    }

    /// The stable machine-readable code (SPEC.md §11).
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Malformed(_) => "malformed",
            Rejection::TooLarge { .. } => "too-large",
            Rejection::NonCanonical { .. } => "non-canonical",
            Rejection::Schema(_) => "schema",
            Rejection::UnsupportedVersion => "unsupported-version",
            Rejection::WrongType { .. } => "wrong-type",
            Rejection::BadSignature { .. } => "bad-signature",
            Rejection::UnknownKey { .. } => "unknown-key",
            Rejection::RevokedKey { .. } => "revoked-key",
            Rejection::WrongOrigin { .. } => "wrong-origin",
            Rejection::UnknownOrigin(_) => "unknown-origin",
            Rejection::IndexGap { .. } => "index-gap",
            Rejection::Replay { .. } => "replay",
            Rejection::Fork { .. } => "fork",
            Rejection::VersionChain { .. } => "version-chain",
            Rejection::Rollback { .. } => "rollback",
            Rejection::StaleCheckpoint(_) => "stale-checkpoint",
            Rejection::InconsistentCheckpoint(_) => "inconsistent-checkpoint",
            Rejection::Doctype => "doctype",
            Rejection::FeedMismatch(_) => "feed-mismatch",
        }
    }

    /// Every code, in SPEC.md order (used to check that the spec lists them all).
    pub const CODES: [&'static str; 20] = [
        "malformed",
        "too-large",
        "non-canonical",
        "schema",
        "unsupported-version",
        "wrong-type",
        "bad-signature",
        "unknown-key",
        "revoked-key",
        "wrong-origin",
        "unknown-origin",
        "index-gap",
        "replay",
        "fork",
        "version-chain",
        "rollback",
        "stale-checkpoint",
        "inconsistent-checkpoint",
        "doctype",
        "feed-mismatch",
    ];

    pub(crate) fn wrong_origin(expected: &NodeId, got: &NodeId) -> Rejection {
        Rejection::WrongOrigin { expected: expected.to_string(), got: got.to_string() }
    }
}
