//! A node's durable storage: the append-only log of exact signed bytes, the item index, the
//! Merkle tree's perfect-subtree hashes, the latest checkpoint and content-addressed blobs.
//!
//! # Architecture invariants
//! - This is the only crate that names sled.
//! - The log is append-only: [`Store::append`] refuses any index but the next one, and nothing
//!   ever rewrites or deletes an entry.
//! - An append is one atomic sled batch (entries, item index, Merkle hashes, size, checkpoint)
//!   followed by a flush: when `append` returns `Ok`, the batch is on disk, and a crash at any
//!   moment leaves either all of it or none of it.
//! - Stored bytes are the exact signed bytes; nothing here parses or re-serialises a record
//!   except to maintain the item index.
//!
//! One key space, prefixed by a byte: `L` log entries (index, big-endian), `H` perfect subtree
//! hashes (level, index), `I` item index (item id), `M` metadata, `B` blobs (SHA-256).
#![deny(missing_docs)]

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use portal_proto::crypto::KeyId;
use portal_proto::envelope::SignedRecord;
use portal_proto::ids::{Digest, ItemId};
use portal_proto::merkle::{self, CompactTree, Hash, MerkleError, SubtreeSource};
use portal_proto::record::Record;
use serde::{Deserialize, Serialize};

/// What can go wrong in storage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process (usually a running `portal serve`) has the store open.
    #[error("the store at {0} is in use by another process (is `portal serve` running?)")]
    Locked(String),
    /// The storage engine failed (disk full, I/O error, corruption).
    #[error("storage error: {0}")]
    Engine(#[from] sled::Error),
    /// An append that would not continue the log exactly.
    #[error("log continuity: expected index {expected}, got {got}")]
    NotNext {
        /// The next index of the log.
        expected: u64,
        /// The index offered.
        got: u64,
    },
    /// Stored data that cannot be read back: the store is damaged.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// A Merkle computation over stored hashes failed.
    #[error("merkle: {0}")]
    Merkle(#[from] MerkleError),
}

type Result<T> = std::result::Result<T, StoreError>;

/// Where one item stands, maintained on every append.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemIndex {
    /// Log indices of its versions, oldest first.
    pub versions: Vec<u64>,
    /// Log index of its withdrawal, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawal: Option<u64>,
    /// Latest version number.
    pub version: u64,
    /// SHA-256 of the latest version's record bytes.
    pub digest: Digest,
}

/// One entry to append: the exact signed bytes and the record they parse to.
#[derive(Clone, Copy, Debug)]
pub struct Append<'a> {
    /// The record (already validated by its producer).
    pub record: &'a Record,
    /// Its signed envelope.
    pub signed: &'a SignedRecord,
}

/// The node's store. Cheap to share behind an `Arc`; reads are concurrent, appends are
/// serialised internally.
#[derive(Debug)]
pub struct Store {
    db: sled::Db,
    size: AtomicU64,
    /// The Merkle frontier, kept in memory and in step with the stored hashes.
    tree: Mutex<CompactTree>,
    /// Serialises appends (the log has one writer).
    writer: Mutex<()>,
}

const META_SIZE: &[u8] = b"Msize";
const META_CHECKPOINT: &[u8] = b"Mcheckpoint";

fn log_key(index: u64) -> [u8; 9] {
    let mut k = [b'L'; 9];
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

fn hash_key(level: u32, index: u64) -> [u8; 10] {
    let mut k = [b'H'; 10];
    k[1] = level as u8;
    k[2..].copy_from_slice(&index.to_be_bytes());
    k
}

fn item_key(id: &ItemId) -> Vec<u8> {
    let mut k = Vec::with_capacity(27);
    k.push(b'I');
    k.extend_from_slice(id.as_str().as_bytes());
    k
}

fn blob_key(sha256: &Digest) -> Vec<u8> {
    let mut k = Vec::with_capacity(65);
    k.push(b'B');
    k.extend_from_slice(sha256.as_str().as_bytes());
    k
}

/// Stored form of an entry: key id (8 bytes), signature (64), then the record bytes.
fn encode_entry(signed: &SignedRecord) -> Vec<u8> {
    let mut v = Vec::with_capacity(72 + signed.bytes().len());
    v.extend_from_slice(signed.kid().as_bytes());
    v.extend_from_slice(signed.sig());
    v.extend_from_slice(signed.bytes());
    v
}

fn decode_entry(index: u64, v: &[u8]) -> Result<SignedRecord> {
    let corrupt = || StoreError::Corrupt(format!("log entry {index} is truncated"));
    let kid: [u8; 8] = v.get(..8).and_then(|s| s.try_into().ok()).ok_or_else(corrupt)?;
    let sig: [u8; 64] = v.get(8..72).and_then(|s| s.try_into().ok()).ok_or_else(corrupt)?;
    Ok(SignedRecord::from_parts(v[72..].to_vec(), KeyId::from_bytes(kid), sig))
}

fn decode_u64(v: &[u8], what: &str) -> Result<u64> {
    v.try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::Corrupt(format!("{what} is not an 8-byte integer")))
}

impl Store {
    /// Open (or create) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Store> {
        let db = sled::Config::new().path(dir).open().map_err(|e| match e {
            sled::Error::Io(ref io) if io.kind() == std::io::ErrorKind::WouldBlock => {
                StoreError::Locked(dir.display().to_string())
            }
            sled::Error::Io(ref io) if io.to_string().contains("lock") => {
                StoreError::Locked(dir.display().to_string())
            }
            other => StoreError::Engine(other),
        })?;
        let size = match db.get(META_SIZE)? {
            Some(v) => decode_u64(&v, "log size")?,
            None => 0,
        };
        let store = Store {
            db,
            size: AtomicU64::new(size),
            tree: Mutex::new(CompactTree::new()),
            writer: Mutex::new(()),
        };
        let tree = CompactTree::from_source(&store, size)?;
        *store.tree.lock().map_err(|_| StoreError::Corrupt("poisoned".into()))? = tree;
        store.check_tail(size)?;
        Ok(store)
    }

    /// A crash can never leave entries past the recorded size (the batch is atomic), but a
    /// damaged store could: refuse to run on one rather than serve a log with holes.
    fn check_tail(&self, size: u64) -> Result<()> {
        if size > 0 && self.db.get(log_key(size - 1))?.is_none() {
            return Err(StoreError::Corrupt(format!(
                "log size is {size} but entry {} is missing",
                size - 1
            )));
        }
        if self.db.get(log_key(size))?.is_some() {
            return Err(StoreError::Corrupt(format!("an entry exists past the log size {size}")));
        }
        Ok(())
    }

    /// Number of entries in the log (the next index).
    pub fn size(&self) -> u64 {
        self.size.load(Ordering::Acquire)
    }

    /// The Merkle root of the whole log.
    pub fn root(&self) -> Result<Hash> {
        Ok(self.tree.lock().map_err(|_| StoreError::Corrupt("poisoned".into()))?.root())
    }

    /// The Merkle frontier of the whole log (to compute the root after a pending batch).
    pub fn frontier(&self) -> Result<CompactTree> {
        Ok(self.tree.lock().map_err(|_| StoreError::Corrupt("poisoned".into()))?.clone())
    }

    /// The Merkle root of the first `size` entries.
    pub fn root_at(&self, size: u64) -> Result<Hash> {
        Ok(merkle::root(self, size)?)
    }

    /// The entry at `index`.
    pub fn entry(&self, index: u64) -> Result<Option<SignedRecord>> {
        self.db.get(log_key(index))?.map(|v| decode_entry(index, &v)).transpose()
    }

    /// Up to `limit` entries from `from` on, in order.
    pub fn entries(&self, from: u64, limit: usize) -> Result<Vec<SignedRecord>> {
        let end = from.saturating_add(limit as u64).min(self.size());
        if from >= end {
            return Ok(Vec::new());
        }
        self.db
            .range(log_key(from)..log_key(end))
            .zip(from..)
            .map(|(kv, i)| kv.map_err(StoreError::from).and_then(|(_, v)| decode_entry(i, &v)))
            .collect()
    }

    /// Entries before `before`, newest first, while `keep` says so, at most `limit` kept.
    pub fn entries_rev(
        &self,
        before: u64,
        limit: usize,
        mut keep: impl FnMut(&SignedRecord) -> bool,
    ) -> Result<Vec<(u64, SignedRecord)>> {
        let before = before.min(self.size());
        let mut out = Vec::new();
        for kv in self.db.range(log_key(0)..log_key(before)).rev() {
            let (k, v) = kv?;
            let index = decode_u64(&k[1..], "log key")?;
            let signed = decode_entry(index, &v)?;
            if keep(&signed) {
                out.push((index, signed));
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// The index of one item.
    pub fn item(&self, id: &ItemId) -> Result<Option<ItemIndex>> {
        self.db
            .get(item_key(id))?
            .map(|v| {
                serde_json::from_slice(&v)
                    .map_err(|e| StoreError::Corrupt(format!("item index of {id}: {e}")))
            })
            .transpose()
    }

    /// The latest signed checkpoint note.
    pub fn checkpoint(&self) -> Result<Option<String>> {
        self.db
            .get(META_CHECKPOINT)?
            .map(|v| {
                String::from_utf8(v.to_vec()).map_err(|_| StoreError::Corrupt("checkpoint".into()))
            })
            .transpose()
    }

    /// Append `entries` (which must continue the log exactly) and replace the latest checkpoint
    /// with `checkpoint`, atomically and durably: on `Ok`, everything is on disk.
    ///
    /// The item index is maintained here from the records; their validity (signature, version
    /// chain) is the caller's responsibility.
    pub fn append(&self, entries: &[Append<'_>], checkpoint: &str) -> Result<u64> {
        let _writer = self.writer.lock().map_err(|_| StoreError::Corrupt("poisoned".into()))?;
        let start = self.size();
        let mut tree =
            self.tree.lock().map_err(|_| StoreError::Corrupt("poisoned".into()))?.clone();
        let mut batch = sled::Batch::default();
        // Items touched more than once in one batch must see their own updates.
        let mut items: Vec<(ItemId, ItemIndex)> = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let index = start + i as u64;
            let got = e.record.log_index().unwrap_or(u64::MAX);
            if got != index {
                return Err(StoreError::NotNext { expected: index, got });
            }
            batch.insert(&log_key(index), encode_entry(e.signed));
            // Leaf and every perfect subtree this leaf completes.
            let leaf = e.signed.leaf_hash();
            batch.insert(&hash_key(0, index), &leaf[..]);
            let mut level_hash = leaf;
            let mut level = 0u32;
            let mut pos = index;
            while pos % 2 == 1 {
                let left =
                    self.perfect_in_batch(level, pos - 1, &batch_hashes(&tree, level, pos - 1))?;
                level_hash = merkle::node_hash(&left, &level_hash);
                level += 1;
                pos /= 2;
                batch.insert(&hash_key(level, pos), &level_hash[..]);
            }
            tree.append(leaf);
            self.index_item(e, index, &mut items)?;
        }
        for (id, idx) in &items {
            let json = serde_json::to_vec(idx).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            batch.insert(item_key(id), json);
        }
        let end = start + entries.len() as u64;
        batch.insert(META_SIZE, &end.to_be_bytes());
        batch.insert(META_CHECKPOINT, checkpoint.as_bytes());
        self.db.apply_batch(batch)?;
        self.db.flush()?;
        *self.tree.lock().map_err(|_| StoreError::Corrupt("poisoned".into()))? = tree;
        self.size.store(end, Ordering::Release);
        Ok(end)
    }

    /// Replace the latest checkpoint (a heartbeat with no new entries), durably.
    pub fn set_checkpoint(&self, checkpoint: &str) -> Result<()> {
        let _writer = self.writer.lock().map_err(|_| StoreError::Corrupt("poisoned".into()))?;
        self.db.insert(META_CHECKPOINT, checkpoint.as_bytes())?;
        self.db.flush()?;
        Ok(())
    }

    fn perfect_in_batch(
        &self,
        level: u32,
        index: u64,
        from_frontier: &Option<Hash>,
    ) -> Result<Hash> {
        match from_frontier {
            Some(h) => Ok(*h),
            None => self.perfect(level, index).map_err(StoreError::from),
        }
    }

    fn index_item(
        &self,
        e: &Append<'_>,
        index: u64,
        items: &mut Vec<(ItemId, ItemIndex)>,
    ) -> Result<()> {
        let id = match e.record {
            Record::Item(item) => &item.id,
            Record::Withdrawal(w) => &w.id,
            _ => return Ok(()),
        };
        let prev = match items.iter().position(|(i, _)| i == id) {
            Some(pos) => Some(items.remove(pos).1),
            None => self.item(id)?,
        };
        let empty = || ItemIndex {
            versions: Vec::new(),
            withdrawal: None,
            version: 0,
            digest: e.signed.digest(),
        };
        let mut idx = prev.unwrap_or_else(empty);
        match e.record {
            Record::Item(item) => {
                idx.versions.push(index);
                idx.version = item.version;
                idx.digest = e.signed.digest();
            }
            _ => idx.withdrawal = Some(index),
        }
        items.push((id.clone(), idx));
        Ok(())
    }

    /// Store a blob under its SHA-256 (idempotent), durably. Returns the digest.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<Digest> {
        let digest = Digest::of(bytes);
        self.db.insert(blob_key(&digest), bytes)?;
        self.db.flush()?;
        Ok(digest)
    }

    /// A blob by its SHA-256.
    pub fn blob(&self, sha256: &Digest) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(blob_key(sha256))?.map(|v| v.to_vec()))
    }
}

/// The left sibling of a node being completed can come from the in-memory frontier (it may be
/// part of the batch not yet written): the frontier holds exactly the roots of the perfect
/// subtrees that are still waiting for a right sibling.
fn batch_hashes(tree: &CompactTree, level: u32, index: u64) -> Option<Hash> {
    // The frontier's hashes are the perfect subtrees of the binary decomposition of its size,
    // largest (leftmost) first.
    let size = tree.size();
    let mut start = 0u64;
    let mut hashes = tree.hashes().iter();
    for bit in (0..64).rev() {
        let span = 1u64 << bit;
        if size & span != 0 {
            let h = hashes.next()?;
            if bit == level && start == index << level {
                return Some(*h);
            }
            start += span;
        }
    }
    None
}

impl SubtreeSource for Store {
    fn perfect(&self, level: u32, index: u64) -> std::result::Result<Hash, MerkleError> {
        let v = self
            .db
            .get(hash_key(level, index))
            .map_err(|e| MerkleError::Source(e.to_string()))?
            .ok_or(MerkleError::MissingNode { level, index })?;
        v.as_ref().try_into().map_err(|_| {
            MerkleError::Source(format!("stored hash ({level}, {index}) is not 32 bytes"))
        })
    }
}
