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
//! - WebSub state (subscriptions and the delivery queue) lives beside the log in the same
//!   database, written durably (one batch, then a flush), so a restart resumes the queue.
//!
//! One key space, prefixed by a byte: `L` log entries (index, big-endian), `H` perfect subtree
//! hashes (level, index), `I` item index (item id), `M` metadata, `B` blobs (SHA-256),
//! `S` WebSub subscriptions (topic length as u16 big-endian, topic, callback) and `Q` the
//! delivery queue (due time in Unix milliseconds, big-endian, then a sequence number,
//! big-endian; dead letters are kept at due time `u64::MAX`). See [`Subscription`] and
//! [`Delivery`].
//!
//! An aggregator also keeps, under `G`, its members' records and state (see [`federation`]).
#![deny(missing_docs)]

pub mod federation;
mod import;

use std::fmt;
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
    /// Serialises changes to the delivery queue (a change reads a key, then moves it).
    queue: Mutex<()>,
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

/// How much memory sled may use for its page cache, when nothing else is said: 64 MiB.
///
/// sled's own default is 1 GiB; a central that ingested 100,000 records with it peaked at about
/// 760 MiB of RSS (docs/benchmarks.md measures both settings). The log is read mostly at its
/// tail and the OS page cache still holds the files, so a smaller cache costs little.
pub const DEFAULT_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Settings for [`Store::open_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// Upper bound of sled's page cache, in bytes (sled's `cache_capacity`). sled counts it
    /// approximately, so the process's RSS can exceed it somewhat.
    pub cache_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { cache_bytes: DEFAULT_CACHE_BYTES }
    }
}

impl Store {
    /// Open (or create) the store in `dir`, with the default [`StoreOptions`].
    pub fn open(dir: &Path) -> Result<Store> {
        Store::open_with(dir, StoreOptions::default())
    }

    /// Open (or create) the store in `dir` with `options`.
    pub fn open_with(dir: &Path, options: StoreOptions) -> Result<Store> {
        let config = sled::Config::new().path(dir).cache_capacity(options.cache_bytes);
        let db = config.open().map_err(|e| match e {
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
            queue: Mutex::new(()),
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
        self.append_with(entries, Some(checkpoint), |_| Ok(()))
    }

    /// [`Store::append`], with further writes from `extra` in the same atomic batch.
    fn append_with(
        &self,
        entries: &[Append<'_>],
        checkpoint: Option<&str>,
        extra: impl FnOnce(&mut sled::Batch) -> Result<()>,
    ) -> Result<u64> {
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
        extra(&mut batch)?;
        let end = start + entries.len() as u64;
        batch.insert(META_SIZE, &end.to_be_bytes());
        if let Some(checkpoint) = checkpoint {
            batch.insert(META_CHECKPOINT, checkpoint.as_bytes());
        }
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

// ---------------------------------------------------------------------------------------------
// WebSub (SPEC.md §10): subscriptions and the delivery queue

/// How far the log has been handed to the delivery queue (see [`Store::notified_size`]).
const META_NOTIFIED: &[u8] = b"Mwebsub-notified";
/// The due time under which dead letters are kept: after every pending delivery, never due.
const DEAD_DUE: u64 = u64::MAX;

/// A verified WebSub subscription, stored under `S` (topic length, topic, callback) as JSON.
///
/// Its `Debug` output never shows the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// The topic URL (one of the node's `atom`, `json-feed` or `log` URLs).
    pub topic: String,
    /// The subscriber's callback URL, exactly as the hub posts to it.
    pub callback: String,
    /// The `hub.secret` that keys the `X-Hub-Signature` HMAC.
    pub secret: String,
    /// When the lease ends, Unix seconds.
    pub lease_expires: u64,
    /// When the subscription was first verified, Unix seconds (kept across renewals).
    pub created: u64,
}

impl Subscription {
    /// Whether the lease still runs at `now` (Unix seconds).
    pub fn is_active(&self, now: u64) -> bool {
        self.lease_expires > now
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("topic", &self.topic)
            .field("callback", &self.callback)
            .field("secret", &"<redacted>")
            .field("lease_expires", &self.lease_expires)
            .field("created", &self.created)
            .finish()
    }
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Waiting for its (next) attempt.
    Pending,
    /// Gave up after the last allowed attempt: a dead letter, kept for the operators.
    Dead,
}

/// One push of a log range to one subscriber, stored under `Q` as JSON.
///
/// It refers to its subscription by `(topic, callback)` instead of copying the secret: a
/// renewal's new secret applies to deliveries already queued, and a delivery whose subscription
/// is gone or expired is dropped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The subscription's topic.
    pub topic: String,
    /// The subscription's callback.
    pub callback: String,
    /// First log index to deliver.
    pub from_index: u64,
    /// End of the range (exclusive): the log size after the commit being announced.
    pub to_index: u64,
    /// Failed attempts so far.
    pub attempts: u32,
    /// When the next attempt is due, Unix milliseconds.
    pub next_attempt_ms: u64,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Pending or dead.
    pub state: DeliveryState,
}

impl Delivery {
    /// A new pending delivery of log entries `[from_index, to_index)`, due at `now_ms`.
    pub fn new(
        topic: impl Into<String>,
        callback: impl Into<String>,
        from_index: u64,
        to_index: u64,
        now_ms: u64,
    ) -> Delivery {
        Delivery {
            topic: topic.into(),
            callback: callback.into(),
            from_index,
            to_index,
            attempts: 0,
            next_attempt_ms: now_ms,
            last_error: None,
            state: DeliveryState::Pending,
        }
    }
}

/// A delivery as it sits in the queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedDelivery {
    /// Its id: unique in the store, kept for its whole life.
    pub id: u64,
    /// The due time it is queued under, Unix milliseconds: its `next_attempt_ms`, the end of a
    /// claim ([`Store::take_due`]), or `u64::MAX` for a dead letter.
    pub due_ms: u64,
    /// The delivery.
    pub delivery: Delivery,
}

/// How many deliveries are in each state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    /// Waiting for an attempt (including those being attempted now).
    pub pending: u64,
    /// Dead letters.
    pub dead: u64,
}

fn subscription_key(topic: &str, callback: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(3 + topic.len() + callback.len());
    k.push(b'S');
    // The topic's length first, so no (topic, callback) pair can collide with another.
    let len = u16::try_from(topic.len()).unwrap_or(u16::MAX);
    k.extend_from_slice(&len.to_be_bytes());
    k.extend_from_slice(topic.as_bytes());
    k.extend_from_slice(callback.as_bytes());
    k
}

fn queue_key(due_ms: u64, id: u64) -> [u8; 17] {
    let mut k = [b'Q'; 17];
    k[1..9].copy_from_slice(&due_ms.to_be_bytes());
    k[9..].copy_from_slice(&id.to_be_bytes());
    k
}

fn decode_queued(k: &[u8], v: &[u8]) -> Result<QueuedDelivery> {
    let (Some(due), Some(id)) = (k.get(1..9), k.get(9..17)) else {
        return Err(StoreError::Corrupt("a delivery key is not 17 bytes".into()));
    };
    let due_ms = decode_u64(due, "delivery due time")?;
    let id = decode_u64(id, "delivery id")?;
    let delivery = serde_json::from_slice(v)
        .map_err(|e| StoreError::Corrupt(format!("delivery {id}: {e}")))?;
    Ok(QueuedDelivery { id, due_ms, delivery })
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Store {
    fn lock_queue(&self) -> Result<std::sync::MutexGuard<'_, ()>> {
        self.queue.lock().map_err(|_| StoreError::Corrupt("poisoned".into()))
    }

    /// Insert or replace the subscription for its `(topic, callback)`, durably.
    pub fn put_subscription(&self, sub: &Subscription) -> Result<()> {
        self.db.insert(subscription_key(&sub.topic, &sub.callback), to_json(sub)?)?;
        self.db.flush()?;
        Ok(())
    }

    /// The subscription of `callback` to `topic`, expired or not.
    pub fn subscription(&self, topic: &str, callback: &str) -> Result<Option<Subscription>> {
        self.db
            .get(subscription_key(topic, callback))?
            .map(|v| {
                serde_json::from_slice(&v)
                    .map_err(|e| StoreError::Corrupt(format!("subscription: {e}")))
            })
            .transpose()
    }

    /// Remove a subscription, durably. Returns whether there was one. Its queued deliveries
    /// are dropped when they come due.
    pub fn remove_subscription(&self, topic: &str, callback: &str) -> Result<bool> {
        let old = self.db.remove(subscription_key(topic, callback))?;
        self.db.flush()?;
        Ok(old.is_some())
    }

    /// Every subscription, expired or not, ordered by topic then callback.
    pub fn subscriptions(&self) -> Result<Vec<Subscription>> {
        self.db
            .scan_prefix(b"S")
            .map(|kv| {
                let (_, v) = kv?;
                serde_json::from_slice(&v)
                    .map_err(|e| StoreError::Corrupt(format!("subscription: {e}")))
            })
            .collect()
    }

    /// How many subscriptions are stored, expired or not (reads keys only).
    pub fn subscription_count(&self) -> Result<usize> {
        let mut n = 0;
        for k in self.db.scan_prefix(b"S").keys() {
            k?;
            n += 1;
        }
        Ok(n)
    }

    /// The log size up to which deliveries have been enqueued, if the hub ever recorded one.
    /// Everything from here to [`Store::size`] still has to be announced.
    pub fn notified_size(&self) -> Result<Option<u64>> {
        self.db.get(META_NOTIFIED)?.map(|v| decode_u64(&v, "websub notified size")).transpose()
    }

    /// Enqueue `deliveries` and record `notified_size` in one atomic batch, durably. Returns
    /// their ids, in order. Each is queued under its `next_attempt_ms` (a dead one as a dead
    /// letter).
    pub fn enqueue_deliveries(
        &self,
        deliveries: &[Delivery],
        notified_size: u64,
    ) -> Result<Vec<u64>> {
        let _queue = self.lock_queue()?;
        let mut batch = sled::Batch::default();
        let mut ids = Vec::with_capacity(deliveries.len());
        for d in deliveries {
            let id = self.db.generate_id()?;
            let due = match d.state {
                DeliveryState::Pending => d.next_attempt_ms.min(DEAD_DUE - 1),
                DeliveryState::Dead => DEAD_DUE,
            };
            batch.insert(&queue_key(due, id), to_json(d)?);
            ids.push(id);
        }
        batch.insert(META_NOTIFIED, &notified_size.to_be_bytes());
        self.db.apply_batch(batch)?;
        self.db.flush()?;
        Ok(ids)
    }

    /// Claim up to `limit` pending deliveries due at `now_ms` (earliest first): each is moved
    /// to due time `claim_until_ms` (which should be later than `now_ms`) so that it is not
    /// taken again while it is being attempted, and returned as it is now queued. The caller
    /// then completes, reschedules or buries each.
    ///
    /// The claim is the one queue write that is not flushed: losing it in a crash only makes
    /// the delivery due earlier. [`Store::release_claims`] undoes claims left by a previous run.
    pub fn take_due(
        &self,
        now_ms: u64,
        limit: usize,
        claim_until_ms: u64,
    ) -> Result<Vec<QueuedDelivery>> {
        let _queue = self.lock_queue()?;
        let claim = claim_until_ms.min(DEAD_DUE - 1);
        let end = queue_key(now_ms.min(DEAD_DUE - 1).saturating_add(1), 0);
        let mut taken = Vec::new();
        let mut batch = sled::Batch::default();
        for kv in self.db.range(queue_key(0, 0)..end).take(limit) {
            let (k, v) = kv?;
            let q = decode_queued(&k, &v)?;
            batch.remove(k);
            batch.insert(&queue_key(claim, q.id), v);
            taken.push(QueuedDelivery { due_ms: claim, ..q });
        }
        if !taken.is_empty() {
            self.db.apply_batch(batch)?;
        }
        Ok(taken)
    }

    /// Put every pending delivery back under its own `next_attempt_ms`, undoing claims left by
    /// a process that stopped mid-attempt (call it at start, before taking). Returns how many
    /// moved.
    pub fn release_claims(&self) -> Result<usize> {
        let _queue = self.lock_queue()?;
        let mut batch = sled::Batch::default();
        let mut moved = 0;
        for kv in self.db.range(queue_key(0, 0)..queue_key(DEAD_DUE, 0)) {
            let (k, v) = kv?;
            let q = decode_queued(&k, &v)?;
            let due = q.delivery.next_attempt_ms.min(DEAD_DUE - 1);
            if q.due_ms != due {
                batch.remove(k);
                batch.insert(&queue_key(due, q.id), v);
                moved += 1;
            }
        }
        if moved > 0 {
            self.db.apply_batch(batch)?;
            self.db.flush()?;
        }
        Ok(moved)
    }

    /// The earliest due time of a pending delivery (claims included), Unix milliseconds.
    pub fn next_due(&self) -> Result<Option<u64>> {
        match self.db.range(queue_key(0, 0)..queue_key(DEAD_DUE, 0)).next() {
            Some(kv) => {
                let (k, v) = kv?;
                Ok(Some(decode_queued(&k, &v)?.due_ms))
            }
            None => Ok(None),
        }
    }

    /// Remove a delivery (acknowledged, or no longer wanted), durably. Returns whether it was
    /// still queued where `q` says.
    pub fn complete_delivery(&self, q: &QueuedDelivery) -> Result<bool> {
        let _queue = self.lock_queue()?;
        let old = self.db.remove(queue_key(q.due_ms, q.id))?;
        self.db.flush()?;
        Ok(old.is_some())
    }

    /// Record a failed attempt (`attempts + 1`, `last_error`) and queue the delivery again for
    /// `next_attempt_ms`, in one batch, durably. Returns it as now queued, or `None` if it was
    /// no longer queued where `q` says (nothing is written then).
    pub fn reschedule_delivery(
        &self,
        q: &QueuedDelivery,
        next_attempt_ms: u64,
        error: &str,
    ) -> Result<Option<QueuedDelivery>> {
        let mut delivery = q.delivery.clone();
        delivery.next_attempt_ms = next_attempt_ms;
        delivery.state = DeliveryState::Pending;
        self.requeue(q, delivery, error, next_attempt_ms.min(DEAD_DUE - 1))
    }

    /// Record a last failed attempt and make the delivery a dead letter, durably. Returns it as
    /// now queued, or `None` if it was no longer queued where `q` says (nothing is written then).
    pub fn mark_dead(&self, q: &QueuedDelivery, error: &str) -> Result<Option<QueuedDelivery>> {
        let mut delivery = q.delivery.clone();
        delivery.state = DeliveryState::Dead;
        self.requeue(q, delivery, error, DEAD_DUE)
    }

    fn requeue(
        &self,
        q: &QueuedDelivery,
        mut delivery: Delivery,
        error: &str,
        due_ms: u64,
    ) -> Result<Option<QueuedDelivery>> {
        let _queue = self.lock_queue()?;
        let old = queue_key(q.due_ms, q.id);
        if !self.db.contains_key(old)? {
            return Ok(None);
        }
        delivery.attempts = delivery.attempts.saturating_add(1);
        delivery.last_error = Some(error.to_owned());
        let mut batch = sled::Batch::default();
        batch.remove(&old);
        batch.insert(&queue_key(due_ms, q.id), to_json(&delivery)?);
        self.db.apply_batch(batch)?;
        self.db.flush()?;
        Ok(Some(QueuedDelivery { id: q.id, due_ms, delivery }))
    }

    /// Up to `limit` pending deliveries, earliest due first.
    pub fn pending_deliveries(&self, limit: usize) -> Result<Vec<QueuedDelivery>> {
        self.db
            .range(queue_key(0, 0)..queue_key(DEAD_DUE, 0))
            .take(limit)
            .map(|kv| kv.map_err(StoreError::from).and_then(|(k, v)| decode_queued(&k, &v)))
            .collect()
    }

    /// Up to `limit` dead letters, oldest first.
    pub fn dead_letters(&self, limit: usize) -> Result<Vec<QueuedDelivery>> {
        self.db
            .range(queue_key(DEAD_DUE, 0)..=queue_key(DEAD_DUE, u64::MAX))
            .take(limit)
            .map(|kv| kv.map_err(StoreError::from).and_then(|(k, v)| decode_queued(&k, &v)))
            .collect()
    }

    /// How many deliveries are pending and dead (reads keys only).
    pub fn delivery_counts(&self) -> Result<DeliveryCounts> {
        let mut counts = DeliveryCounts::default();
        for k in self.db.scan_prefix(b"Q").keys() {
            let k = k?;
            match k.get(1..9).map(|d| decode_u64(d, "delivery due time")).transpose()? {
                Some(DEAD_DUE) => counts.dead += 1,
                Some(_) => counts.pending += 1,
                None => return Err(StoreError::Corrupt("a delivery key is too short".into())),
            }
        }
        Ok(counts)
    }
}
