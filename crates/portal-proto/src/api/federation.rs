//! Federation bodies (SPEC.md §8.1): members and their sync health (`GET /api/v1/members`,
//! the operators' member API), incidents (`GET /api/v1/incidents`), and a node's `/healthz`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::crypto::{KeyId, PublicKey};
use crate::ids::{Lang, NodeId};
use crate::record::MemberStatus;

/// A member as the aggregator shows it (SPEC.md §8.1 `member`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberView {
    /// The member's id.
    pub id: NodeId,
    /// The keys pinned for it: `[kid, public key]`.
    pub keys: Vec<(KeyId, PublicKey)>,
    /// Its display names by language.
    pub name: BTreeMap<Lang, String>,
    /// The entries of its log stored here.
    pub size: u64,
    /// `active` or `suspended`.
    pub status: MemberStatus,
    /// Its base URL.
    pub url: String,
}

/// The request body of `POST /api/v1/admin/members`: add (or replace) the member served at
/// `url`, its descriptor signed by `pin` (a base64 public key; without it, the key it is signed
/// with is pinned).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    /// The candidate's base URL.
    pub url: String,
    /// The key its descriptor must be signed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
}

/// How following a member goes (SPEC.md §8.1 `sync-health`). Times are Unix seconds; a
/// member never reached has `null`s.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncHealth {
    /// Consecutive failed rounds.
    pub failures: u32,
    /// The member's heartbeat (from its descriptor), seconds.
    pub heartbeat: Option<u64>,
    /// The last attempt.
    pub last_attempt: Option<u64>,
    /// The last error, if the last round failed.
    pub last_error: Option<String>,
    /// The last round that reached the member's log end.
    pub last_ok: Option<u64>,
    /// The member's log size when it last answered.
    pub member_size: u64,
    /// When the WebSub subscription's lease ends.
    pub push_lease_until: Option<u64>,
}

/// A member with its sync health (SPEC.md §8.1 `member-health`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberHealth {
    /// The member's latest checkpoint this node accepted, with its cosignature.
    pub cosigned_checkpoint: Option<String>,
    /// Its sync health; `null` for a member not being followed.
    pub health: Option<SyncHealth>,
    /// The member.
    pub member: MemberView,
}

/// `GET /api/v1/members` (SPEC.md §8.1 `members`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberHealthList {
    /// Each roster member.
    pub members: Vec<MemberHealth>,
}

/// `GET /api/v1/admin/members` (SPEC.md §8.1 `member-list`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberList {
    /// Each roster member.
    pub members: Vec<MemberView>,
}

/// Something observed while following a member (SPEC.md §8.1 `incident`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    /// A SPEC.md §11.3 code, or `unreachable`, `silent`, `refused`.
    pub code: String,
    /// What proves it: the offending envelope, both records of a fork, the URL, …
    pub evidence: serde_json::Value,
    /// The member concerned.
    pub member: NodeId,
    /// What happened, for people.
    pub message: String,
    /// Its position in the incident log.
    pub seq: u64,
    /// When, Unix seconds.
    pub time: u64,
}

/// `GET /api/v1/incidents` (SPEC.md §8.1 `incidents`), newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentList {
    /// The incidents.
    pub incidents: Vec<Incident>,
}

/// Whether a node is healthy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum NodeStatus {
    /// Serving and signing.
    Ok,
    /// Serving, but refusing to sign (`signing_refused` says why).
    Degraded,
}

/// `GET /healthz` (SPEC.md §8.1 `healthz`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeHealth {
    /// The node's log size.
    pub log_size: u64,
    /// Why the node refuses to sign; `null` when it signs.
    pub signing_refused: Option<String>,
    /// `ok`, or `degraded` when it refuses to sign.
    pub status: NodeStatus,
}

impl NodeHealth {
    /// The health of a node with `log_size` entries that refuses to sign for `refusal`.
    pub fn new(log_size: u64, refusal: Option<String>) -> NodeHealth {
        let status = if refusal.is_some() { NodeStatus::Degraded } else { NodeStatus::Ok };
        NodeHealth { log_size, signing_refused: refusal, status }
    }
}
