//! An aggregator's storage of its members (SPEC.md §4.5, §4.6, §13): their records, exactly as
//! signed, each member's cursor and latest accepted checkpoint, the national item index, the
//! signed roster and the incident log.
//!
//! Keys, under the prefix `G`:
//! - `Gr` member `0x00` index (u64 big-endian): a member's log entry (same encoding as `L`);
//! - `Gc` member: the member's [`MemberCursor`] (JSON);
//! - `Gv` member `0x00` item id: the member item's [`ItemIndex`] (indices in the member's log);
//! - `Gx` sequence (u64 big-endian): an [`Incident`] (JSON);
//! - `GR`: the signed roster envelope (JSON).
//!
//! Member records, their cursor and the aggregator's receipts for them are written in one
//! atomic batch by [`Store::ingest`]: after a crash the cursor never points past, or short of,
//! what is stored, and every stored member record has its receipt.

use portal_proto::envelope::SignedRecord;
use portal_proto::ids::{ItemId, NodeId};
use portal_proto::record::Record;
use serde::{Deserialize, Serialize};

use crate::{Append, ItemIndex, Result, Store, StoreError, decode_entry, decode_u64, encode_entry};

/// How far a member's log has been verified and stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberCursor {
    /// Number of the member's entries stored (the next index to fetch).
    pub size: u64,
    /// The member's latest accepted checkpoint note, exactly as received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    /// The same note with this aggregator's cosignature line (SPEC.md §7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cosigned: Option<String>,
}

/// One member's newly verified entries, continuing its stored log, and the checkpoint they
/// were verified against.
#[derive(Clone, Copy, Debug)]
pub struct MemberBatch<'a> {
    /// The member.
    pub member: &'a NodeId,
    /// Its log index of the first record (must equal the stored cursor).
    pub start: u64,
    /// The records, in log order, with their parsed form.
    pub records: &'a [(Record, SignedRecord)],
    /// The member checkpoint accepted with them (`None` for records relayed by another
    /// aggregator: the stored checkpoint stays).
    pub checkpoint: Option<&'a str>,
    /// That checkpoint, cosigned by the aggregator.
    pub cosigned: Option<&'a str>,
}

/// A rejection or failure observed while following a member (SPEC.md §11.3 codes, plus
/// `unreachable` and `silent`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Position in the incident log (assigned when recorded).
    #[serde(default)]
    pub seq: u64,
    /// The member concerned.
    pub member: String,
    /// A stable code.
    pub code: String,
    /// What happened, for people.
    pub message: String,
    /// Unix seconds.
    pub time: u64,
    /// What proves it: the offending bytes, both notes of an equivocation, the URL, …
    pub evidence: serde_json::Value,
}

fn member_key(tag: u8, member: &NodeId) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + member.as_str().len() + 9);
    k.extend_from_slice(&[b'G', tag]);
    k.extend_from_slice(member.as_str().as_bytes());
    k
}

fn record_key(member: &NodeId, index: u64) -> Vec<u8> {
    let mut k = member_key(b'r', member);
    k.push(0);
    k.extend_from_slice(&index.to_be_bytes());
    k
}

fn national_item_key(member: &NodeId, id: &ItemId) -> Vec<u8> {
    let mut k = member_key(b'v', member);
    k.push(0);
    k.extend_from_slice(id.as_str().as_bytes());
    k
}

fn incident_key(seq: u64) -> [u8; 10] {
    let mut k = [b'G'; 10];
    k[1] = b'x';
    k[2..].copy_from_slice(&seq.to_be_bytes());
    k
}

const ROSTER: &[u8] = b"GR";

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn from_json<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| corrupt(format!("{what}: {e}")))
}

fn to_json(value: &impl Serialize) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(corrupt)
}

impl Store {
    /// Append the aggregator's `receipts` to its own log and store the member records they
    /// acknowledge with each member's new cursor and checkpoint, in one atomic, durable batch.
    ///
    /// Each batch must continue its member's stored log exactly (else [`StoreError::NotNext`]),
    /// and a member may appear once per call.
    pub fn ingest(
        &self,
        receipts: &[Append<'_>],
        members: &[MemberBatch<'_>],
        checkpoint: &str,
    ) -> Result<u64> {
        self.append_with(receipts, Some(checkpoint), |batch| {
            for m in members {
                let cursor = self.member_cursor(m.member)?;
                if m.start != cursor.size {
                    return Err(StoreError::NotNext { expected: cursor.size, got: m.start });
                }
                let mut items: Vec<(ItemId, ItemIndex)> = Vec::new();
                for (i, (record, signed)) in m.records.iter().enumerate() {
                    let index = m.start + i as u64;
                    let got = record.log_index().unwrap_or(u64::MAX);
                    if got != index {
                        return Err(StoreError::NotNext { expected: index, got });
                    }
                    batch.insert(record_key(m.member, index), encode_entry(signed));
                    self.index_national_item(m.member, record, signed, index, &mut items)?;
                }
                for (id, idx) in &items {
                    batch.insert(national_item_key(m.member, id), to_json(idx)?);
                }
                let next = MemberCursor {
                    size: m.start + m.records.len() as u64,
                    checkpoint: m.checkpoint.map(str::to_owned).or(cursor.checkpoint),
                    cosigned: m.cosigned.map(str::to_owned).or(cursor.cosigned),
                };
                batch.insert(member_key(b'c', m.member), to_json(&next)?);
            }
            Ok(())
        })
    }

    fn index_national_item(
        &self,
        member: &NodeId,
        record: &Record,
        signed: &SignedRecord,
        index: u64,
        items: &mut Vec<(ItemId, ItemIndex)>,
    ) -> Result<()> {
        let id = match record {
            Record::Item(item) => &item.id,
            Record::Withdrawal(w) => &w.id,
            _ => return Ok(()),
        };
        let prev = match items.iter().position(|(i, _)| i == id) {
            Some(pos) => Some(items.remove(pos).1),
            None => self.national_item(member, id)?,
        };
        let mut idx = prev.unwrap_or_else(|| ItemIndex {
            versions: Vec::new(),
            withdrawal: None,
            version: 0,
            digest: signed.digest(),
        });
        match record {
            Record::Item(item) => {
                idx.versions.push(index);
                idx.version = item.version;
                idx.digest = signed.digest();
            }
            _ => idx.withdrawal = Some(index),
        }
        items.push((id.clone(), idx));
        Ok(())
    }

    /// A member's cursor (size 0 and no checkpoint if nothing was stored yet).
    pub fn member_cursor(&self, member: &NodeId) -> Result<MemberCursor> {
        match self.db.get(member_key(b'c', member))? {
            Some(v) => from_json(&v, &format!("cursor of {member}")),
            None => Ok(MemberCursor::default()),
        }
    }

    /// Every node whose records are stored here: members, and the nodes whose records they
    /// relay.
    pub fn member_ids(&self) -> Result<Vec<NodeId>> {
        self.db
            .scan_prefix(b"Gc")
            .map(|kv| {
                let (k, _) = kv?;
                std::str::from_utf8(&k[2..])
                    .ok()
                    .and_then(|m| NodeId::new(m).ok())
                    .ok_or_else(|| corrupt("member cursor key"))
            })
            .collect()
    }

    /// Record a newer member checkpoint that brought no new records (a heartbeat), durably.
    /// Refused if records arrived meanwhile (`size` is the cursor size it was verified at).
    pub fn set_member_checkpoint(
        &self,
        member: &NodeId,
        size: u64,
        checkpoint: &str,
        cosigned: &str,
    ) -> Result<()> {
        let _writer = self.writer.lock().map_err(|_| corrupt("poisoned"))?;
        let cursor = self.member_cursor(member)?;
        if cursor.size != size {
            return Err(StoreError::NotNext { expected: cursor.size, got: size });
        }
        let next = MemberCursor {
            size,
            checkpoint: Some(checkpoint.to_owned()),
            cosigned: Some(cosigned.to_owned()),
        };
        self.db.insert(member_key(b'c', member), to_json(&next)?)?;
        self.db.flush()?;
        Ok(())
    }

    /// A member's stored entry.
    pub fn member_entry(&self, member: &NodeId, index: u64) -> Result<Option<SignedRecord>> {
        self.db.get(record_key(member, index))?.map(|v| decode_entry(index, &v)).transpose()
    }

    /// Up to `limit` of a member's stored entries from `from` on, in order.
    pub fn member_entries(
        &self,
        member: &NodeId,
        from: u64,
        limit: usize,
    ) -> Result<Vec<SignedRecord>> {
        let end = record_key(member, u64::MAX);
        self.db
            .range(record_key(member, from)..end)
            .take(limit)
            .map(|kv| {
                let (k, v) = kv?;
                let index = decode_u64(&k[k.len() - 8..], "member record key")?;
                decode_entry(index, &v)
            })
            .collect()
    }

    /// The national index of one member's item (indices are in the member's log).
    pub fn national_item(&self, member: &NodeId, id: &ItemId) -> Result<Option<ItemIndex>> {
        self.db
            .get(national_item_key(member, id))?
            .map(|v| from_json(&v, &format!("national item {member}/{id}")))
            .transpose()
    }

    /// The members that hold an item with this id (normally one).
    pub fn national_item_holders(&self, id: &ItemId) -> Result<Vec<(NodeId, ItemIndex)>> {
        let mut out = Vec::new();
        for kv in self.db.scan_prefix(b"Gv") {
            let (k, v) = kv?;
            let Some(sep) = k.iter().position(|b| *b == 0) else { continue };
            if &k[sep + 1..] != id.as_str().as_bytes() {
                continue;
            }
            let member = std::str::from_utf8(&k[2..sep])
                .ok()
                .and_then(|m| NodeId::new(m).ok())
                .ok_or_else(|| corrupt("national item key"))?;
            out.push((member, from_json(&v, "national item")?));
        }
        Ok(out)
    }

    /// Record an incident durably; returns its sequence number.
    pub fn add_incident(&self, mut incident: Incident) -> Result<u64> {
        let seq = self.db.generate_id()? + 1;
        incident.seq = seq;
        self.db.insert(incident_key(seq), to_json(&incident)?)?;
        self.db.flush()?;
        Ok(seq)
    }

    /// Incidents, newest first, with `seq` below `before` (all if `None`) and passing `keep`,
    /// at most `limit`.
    pub fn incidents(
        &self,
        before: Option<u64>,
        limit: usize,
        mut keep: impl FnMut(&Incident) -> bool,
    ) -> Result<Vec<Incident>> {
        let end = incident_key(before.unwrap_or(u64::MAX));
        let mut out = Vec::new();
        for kv in self.db.range(incident_key(0)..end).rev() {
            let incident: Incident = from_json(&kv?.1, "incident")?;
            if keep(&incident) {
                out.push(incident);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// The signed roster, if this node has one.
    pub fn roster(&self) -> Result<Option<SignedRecord>> {
        self.db
            .get(ROSTER)?
            .map(|v| SignedRecord::from_json(&v).map_err(|e| corrupt(format!("roster: {e}"))))
            .transpose()
    }

    /// Replace the signed roster, durably.
    pub fn put_roster(&self, signed: &SignedRecord) -> Result<()> {
        self.db.insert(ROSTER, signed.to_json().into_bytes())?;
        self.db.flush()?;
        Ok(())
    }
}
