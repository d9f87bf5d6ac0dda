//! A member's newly verified entries on their way from a follower to the sequencer.
//!
//! The follower (`portal-follow`) produces a [`Batch`] once every entry has verified against
//! the member's checkpoint; the sequencer (`portal-publisher`) writes a receipt for each entry
//! and journals the batch until it is stored. One type for both sides, so that what was
//! verified is exactly what is ingested. No I/O here, like the rest of the crate.

use serde::{Deserialize, Serialize};

use crate::envelope::SignedRecord;
use crate::ids::NodeId;
use crate::merkle::Hash;

/// A member's newly verified entries, continuing what is stored of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// The member.
    pub member: NodeId,
    /// Member log index of the first entry (the stored size).
    pub start: u64,
    /// The entries, verified, in member log order.
    pub entries: Vec<SignedRecord>,
    /// The member checkpoint they were verified against (size > every index).
    pub checkpoint: String,
    /// That checkpoint with the receiving node's cosignature.
    pub cosigned: String,
    /// The checkpoint's tree size.
    pub size: u64,
    /// The checkpoint's root hash.
    pub root: Hash,
    /// Records of the member's own members, relayed through its national log (the member is
    /// itself an aggregator): each already verified against its origin's key and bound to the
    /// member's receipt for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relayed: Vec<Relayed>,
}

/// One relayed node's records, continuing what is stored of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Relayed {
    /// The originating node.
    pub member: NodeId,
    /// Its log index of the first record (its stored size).
    pub start: u64,
    /// The records, in the originating log's order, each verified under its origin's key.
    pub entries: Vec<SignedRecord>,
    /// For each record, the checkpoint (size, root) the relaying member's receipt names.
    pub checkpoints: Vec<(u64, Hash)>,
}
