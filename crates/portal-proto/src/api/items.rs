//! Item bodies (SPEC.md §8.1): an item's history (`GET /api/v1/items/{id}`), every member's
//! history of an item on an aggregator (`GET /api/v1/national/items/{id}`), and what the
//! editor API answers to a publish, a withdrawal and an upload.

use serde::{Deserialize, Serialize};

use super::log::Envelope;
use crate::envelope::SignedRecord;
use crate::ids::{Digest, ItemId, NodeId};

/// An item's history (SPEC.md §8.1 `item-history`): every version, oldest first, and its
/// withdrawal, each exactly as signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemHistory {
    /// The item.
    pub id: ItemId,
    /// Its versions, oldest first.
    pub versions: Vec<Envelope>,
    /// Its withdrawal, if it was withdrawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawal: Option<Envelope>,
}

impl ItemHistory {
    /// The history of `id` from its signed versions and withdrawal.
    pub fn new(id: ItemId, versions: &[SignedRecord], withdrawal: Option<&SignedRecord>) -> Self {
        ItemHistory {
            id,
            versions: versions.iter().map(Envelope::from).collect(),
            withdrawal: withdrawal.map(Envelope::from),
        }
    }
}

/// One member's history of an item, on an aggregator (SPEC.md §8.1 `member-item-history`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberItemHistory {
    /// The item.
    pub id: ItemId,
    /// The member that published it.
    pub member: NodeId,
    /// Its versions, oldest first, as the member signed them.
    pub versions: Vec<Envelope>,
    /// Its withdrawal, if it was withdrawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawal: Option<Envelope>,
}

/// Every member's history of an item id (SPEC.md §8.1 `national-item`), normally one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NationalItem {
    /// The item id.
    pub id: ItemId,
    /// The members holding it.
    pub members: Vec<MemberItemHistory>,
}

/// What a publish or a withdrawal answers (SPEC.md §8.1 `published`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Published {
    /// The item.
    pub id: ItemId,
    /// Its version (for a withdrawal: the version withdrawn).
    pub version: u64,
    /// The log index of the new entry.
    pub log_index: u64,
}

/// What an attachment upload answers (SPEC.md §8.1 `uploaded`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Uploaded {
    /// The SHA-256 of the bytes: the attachment's address.
    pub sha256: Digest,
    /// Their size.
    pub size: u64,
}
