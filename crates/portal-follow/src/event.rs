//! What the shell reports to a [`Follower`](crate::Follower) ([`Event`]) and what the follower
//! asks the shell to do ([`Action`]), with their payloads.
//!
//! Every I/O result comes back as the answer to the one action the follower waits for: a
//! fetch answers with its bytes already shaped (a log page with contiguous entries, a proof of
//! 32-byte hashes) or with a [`FetchFailure`] naming its typed reason; a store read or write
//! answers with its data or the error's text.

use std::collections::BTreeSet;
use std::time::Duration;

use portal_proto::Rejection;
use portal_proto::checkpoint::Checkpoint;
use portal_proto::envelope::{SignedRecord, Verified};
use portal_proto::ids::NodeId;
pub use portal_proto::ingest::{Batch, Relayed};
use portal_proto::merkle::Hash;
use portal_proto::record::{Descriptor, KeyEvent, KeyGrant, Member};
use serde::{Deserialize, Serialize};

/// Something the shell tells the follower: a clock event, a roster change, or the result of
/// the action the follower asked for.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// The member's current roster entry (`None`: it left the roster) and the ids of every
    /// member this aggregator follows directly (their records are never relayed through
    /// another member). Feed it before every [`Event::Tick`] and [`Event::Wake`]; any time
    /// is allowed.
    Membership {
        /// This member's roster entry: its URL and the keys the roster pins for it.
        member: Option<Member>,
        /// Every member of this aggregator's roster.
        direct: BTreeSet<NodeId>,
    },
    /// The sleep asked for by the last [`Action::SleepUntil`] is over.
    Tick,
    /// A push (WebSub delivery) arrived for this member, or an operator asked for a sync. While
    /// idle it starts a round at once; during a round it makes the next sleep end at once.
    Wake,
    /// Answer to [`Action::LoadStored`].
    Stored(Result<Stored, String>),
    /// Answer to [`Action::FetchDescriptor`].
    Descriptor(Result<Box<DescriptorFetched>, FetchFailure>),
    /// Answer to [`Action::Subscribe`]: whether the hub accepted (a 2xx answer).
    Subscribed {
        /// The hub answered 2xx.
        accepted: bool,
    },
    /// Answer to [`Action::FetchLogPage`].
    LogPage(Result<Page, FetchFailure>),
    /// Answer to [`Action::FetchConsistencyProof`]: the proof's hashes, unverified.
    ConsistencyProof(Result<Vec<Hash>, FetchFailure>),
    /// Answer to [`Action::FetchRoster`]: the roster envelope (the follower verifies it again
    /// and checks its serial against the roster it accepted before).
    Roster(Result<SignedRecord, FetchFailure>),
    /// Answer to [`Action::LoadCursor`]: the stored size of that node's records.
    Cursor {
        /// The node asked about.
        member: NodeId,
        /// Its stored size, or the store error's text.
        size: Result<u64, String>,
    },
    /// Answer to [`Action::Cosign`]: the note with this aggregator's cosignature line, or the
    /// error's text.
    Cosigned(Result<String, String>),
    /// Answer to [`Action::StoreCheckpoint`].
    CheckpointStored(Result<(), String>),
    /// Answer to [`Action::Ingest`].
    Ingested(Result<(), String>),
    /// Answer to [`Action::Reexamine`]: the stored indices signed by the revoked key in the
    /// revoked range, or the error's text (logged by the shell; the round goes on).
    Reexamined(Result<Vec<u64>, String>),
}

impl Event {
    /// A short name, for [`HandleError`](crate::HandleError) messages.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Membership { .. } => "membership",
            Event::Tick => "tick",
            Event::Wake => "wake",
            Event::Stored(_) => "stored",
            Event::Descriptor(_) => "descriptor",
            Event::Subscribed { .. } => "subscribed",
            Event::LogPage(_) => "log-page",
            Event::ConsistencyProof(_) => "consistency-proof",
            Event::Roster(_) => "roster",
            Event::Cursor { .. } => "cursor",
            Event::Cosigned(_) => "cosigned",
            Event::CheckpointStored(_) => "checkpoint-stored",
            Event::Ingested(_) => "ingested",
            Event::Reexamined(_) => "reexamined",
        }
    }
}

/// What the follower asks the shell to do, in the order [`Follower::poll_action`] hands them
/// out. Each action named "answer: …" must be answered with that event before the follower
/// asks for anything else; the others need no answer.
///
/// [`Follower::poll_action`]: crate::Follower::poll_action
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Action {
    /// Read the member's stored cursor and up to `limit` stored entries from index `from`
    /// (none when `from` is at or past the cursor's size). Answer: [`Event::Stored`].
    LoadStored {
        /// First index to read.
        from: u64,
        /// Most entries to read.
        limit: usize,
    },
    /// Fetch the member's descriptor below `base` and verify it under `grants` (the keys the
    /// member's log has granted so far), then read its endpoints. Answer: [`Event::Descriptor`].
    FetchDescriptor {
        /// The member's base URL from the roster.
        base: String,
        /// The keys to verify the descriptor with.
        grants: Vec<KeyGrant>,
    },
    /// Subscribe to the member's WebSub hub for `topic` with a fresh secret and a lease of
    /// `lease_seconds`. Answer: [`Event::Subscribed`].
    Subscribe {
        /// The hub URL.
        hub: String,
        /// The topic: the member's log URL.
        topic: String,
        /// The lease asked for.
        lease_seconds: u64,
    },
    /// Fetch one page of the member's log (its national log when `national`) from `after`,
    /// at most `limit` entries. Answer: [`Event::LogPage`].
    FetchLogPage {
        /// The endpoint URL.
        url: String,
        /// Index of the first entry asked for.
        after: u64,
        /// Most entries asked for (1–1000).
        limit: u32,
        /// Whether `url` is a national log (entries paired with member records).
        national: bool,
    },
    /// Fetch the consistency proof from tree size `from` to `to`. Answer:
    /// [`Event::ConsistencyProof`].
    FetchConsistencyProof {
        /// The member's `consistency-proof` endpoint.
        url: String,
        /// The smaller tree size.
        from: u64,
        /// The larger tree size.
        to: u64,
    },
    /// Fetch an aggregating member's roster and verify it under `grants` (the member's keys
    /// from this aggregator's roster). Answer: [`Event::Roster`].
    FetchRoster {
        /// The member's `roster` endpoint.
        url: String,
        /// The member's keys.
        grants: Vec<KeyGrant>,
    },
    /// Read the stored size of `member`'s records (a node relayed by an aggregating member).
    /// Answer: [`Event::Cursor`].
    LoadCursor {
        /// The relayed node.
        member: NodeId,
    },
    /// Cosign this verified checkpoint as this aggregator's witness (the current time, this
    /// node's key; see [`cosign`](crate::cosign)). Answer: [`Event::Cosigned`].
    Cosign {
        /// The member's checkpoint note, as verified.
        note: String,
        /// Its parsed body.
        checkpoint: Checkpoint,
    },
    /// Record the member's checkpoint (no new entries): store `note` and `cosigned` with the
    /// cursor at `start`, unless the stored note is already `note`. Answer:
    /// [`Event::CheckpointStored`].
    StoreCheckpoint {
        /// The stored size (unchanged).
        start: u64,
        /// The member's note.
        note: String,
        /// The note with this aggregator's cosignature.
        cosigned: String,
    },
    /// Ingest these verified entries (sign receipts, store them atomically with the new
    /// cursor). Answer: [`Event::Ingested`].
    Ingest(Box<Batch>),
    /// A retroactive revocation was ingested: find the stored records of `member` signed by
    /// `event.kid` at indices from `event.from_index` up to (not including)
    /// `event.log_index`. Answer: [`Event::Reexamined`].
    Reexamine {
        /// Whose records.
        member: NodeId,
        /// The revocation.
        event: KeyEvent,
    },
    /// Record this incident (store, count, log).
    Incident(Incident),
    /// The member's health changed: publish this snapshot.
    Health(Health),
    /// Sleep until this time (on the clock `now` is read from; at or before now: do not
    /// sleep), waking early on a push, then feed [`Event::Tick`] or [`Event::Wake`]. A sync
    /// round is over: release the sync slot, and take one again before the next event.
    SleepUntil(Duration),
}

/// The answer to [`Action::LoadStored`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// The stored cursor's size: how many of the member's entries are stored.
    pub size: u64,
    /// The stored cursor's member checkpoint note.
    pub checkpoint: Option<String>,
    /// The stored entries from the index asked for, in order.
    pub entries: Vec<SignedRecord>,
}

/// A descriptor the shell fetched and verified under the grants the action named.
#[derive(Clone, Debug)]
pub struct DescriptorFetched {
    /// The base URL it was fetched below, as the shell writes URLs (for messages).
    pub base: String,
    /// The verified descriptor.
    pub descriptor: Verified<Descriptor>,
    /// Its endpoints, or why they cannot be used: an endpoint missing or not an absolute
    /// http(s) URL ([`FailureReason::Rejected`] with `malformed`), or off the members'
    /// allowed origins ([`FailureReason::Refused`]).
    pub endpoints: Result<Endpoints, FetchFailure>,
}

/// The URLs of a member the follower uses, from its descriptor (validated by the shell).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    /// `log`.
    pub log: String,
    /// `consistency-proof`.
    pub consistency: String,
    /// `websub-hub`, if it has one.
    pub hub: Option<String>,
    /// `national-log` and `roster`, when the member is itself an aggregator (both present).
    pub national: Option<NationalEndpoints>,
}

/// An aggregating member's national log and roster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NationalEndpoints {
    /// `national-log`: read instead of `log`, to relay its members' records.
    pub log: String,
    /// `roster`: its members' keys.
    pub roster: String,
}

/// One fetched page of a member's log, shaped but not verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// The origin the page names.
    pub origin: NodeId,
    /// Index of `entries[0]` (the `after` asked for, or the size when the log shrank).
    pub start: u64,
    /// The member's log size when it answered.
    pub size: u64,
    /// The entries, `entries[i]` at index `start + i`.
    pub entries: Vec<SignedRecord>,
    /// The page's checkpoint note, as served (empty when the member has none).
    pub checkpoint: String,
    /// For a national log page: the member record paired with each entry, if it is a receipt.
    pub members: Option<Vec<Option<SignedRecord>>>,
}

/// Why a fetch failed, typed as the follower's rules need it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FetchFailure {
    /// The kind of failure.
    pub reason: FailureReason,
    /// The URL concerned.
    pub url: String,
    /// The whole message, as it should appear in health and incidents.
    pub message: String,
}

/// The kind of a [`FetchFailure`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureReason {
    /// The connection failed or broke (fetch code `unreachable`).
    Transport,
    /// No answer in time (`timeout`).
    Timeout,
    /// An answer with a status other than 2xx (`http-status`).
    HttpStatus(u16),
    /// The HTTP client could not be built (`setup`).
    Setup,
    /// The fetch policy refused the request or a redirect (`refused`).
    Refused,
    /// The body passed its size cap (`too-large`).
    TooLarge,
    /// The body was read and refused, with its SPEC.md §11.3 code (`malformed` for a document
    /// of the wrong shape).
    Rejected(Rejection),
    /// The shell could not make the request at all (a roster URL that does not parse): a
    /// local failure, no incident.
    Local,
}

impl FetchFailure {
    /// A failure of `reason` at `url`.
    pub fn new(reason: FailureReason, url: impl Into<String>, message: impl Into<String>) -> Self {
        FetchFailure { reason, url: url.into(), message: message.into() }
    }

    /// The stable code: the fetch code, the rejection's code, or `local`.
    pub fn code(&self) -> &'static str {
        match &self.reason {
            FailureReason::Transport => "unreachable",
            FailureReason::Timeout => "timeout",
            FailureReason::HttpStatus(_) => "http-status",
            FailureReason::Setup => "setup",
            FailureReason::Refused => "refused",
            FailureReason::TooLarge => "too-large",
            FailureReason::Rejected(r) => r.code(),
            FailureReason::Local => "local",
        }
    }
}

/// An incident to record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// The node it is about (this member, or a node it relays).
    pub member: NodeId,
    /// The stable code (SPEC.md §11.3, a fetch code, `unreachable`, `silent`).
    pub code: String,
    /// What happened, in words.
    pub message: String,
    /// The evidence (JSON).
    pub evidence: serde_json::Value,
    /// For a fork or a replay: the index whose stored entry the shell adds to the evidence as
    /// `stored`, when it has one.
    pub attach_stored: Option<u64>,
}

/// A member's sync health, for operators and the health board (all times Unix seconds).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// The last round that reached the member's log end.
    pub last_ok: Option<u64>,
    /// The last attempt.
    pub last_attempt: Option<u64>,
    /// Consecutive failed rounds.
    pub failures: u32,
    /// The last error, if the last round failed.
    pub last_error: Option<String>,
    /// The member's log size when it last answered.
    pub member_size: u64,
    /// Its heartbeat (from its descriptor), seconds.
    pub heartbeat: Option<u64>,
    /// WebSub subscription: when the lease ends.
    pub push_lease_until: Option<u64>,
}
