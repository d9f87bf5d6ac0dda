//! The node's core: one writer thread that turns drafts into signed log entries.
//!
//! Every publish and withdrawal goes through a single sequencer thread, so log indices are
//! assigned in one place. It takes whatever jobs are waiting (group commit), assigns indices,
//! signs, writes the batch to the signing journal (fsync), appends it to the store (one atomic
//! batch + flush) with a fresh checkpoint, and only then acknowledges. So:
//!
//! - an acknowledged publish is durable;
//! - a signature never leaves the process before its record is durable;
//! - after a crash between journal and store, the exact signed batch is replayed from the
//!   journal, never re-signed differently;
//! - if the store is behind what the key has signed (restored from an older backup), the node
//!   refuses to sign and says why, until an operator restores the missing entries.

use std::collections::BTreeMap;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};

use portal_proto::checkpoint::{Checkpoint, sign_checkpoint};
use portal_proto::crypto::Signer;
use portal_proto::crypto::encode_base64;
use portal_proto::envelope::{self, SignedRecord};
use portal_proto::ids::{Digest, ItemId};
use portal_proto::record::{
    CheckpointRef, FieldError, ItemVersion, KeyGrant, Receipt, Record, RecordType, Validate,
    Withdrawal,
};
use portal_proto::time::Timestamp;
use portal_proto::verifier::checkpoint_origin;
use portal_store::federation::MemberBatch;
use portal_store::{Append, Store};
use serde::{Deserialize, Serialize};
use tokio::sync::{oneshot, watch};

use crate::config::{DataDir, NodeConfig};
use crate::draft::{Draft, WithdrawRequest};
use crate::files;
use crate::metrics::Metrics;

/// Most jobs committed in one batch.
const MAX_BATCH: usize = 256;

/// What a successful publish or withdrawal returns.
pub use portal_proto::api::items::Published;

/// Why a publish or withdrawal was refused. Nothing was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The draft breaks field rules (every bad field is listed).
    #[error("invalid draft: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// The item does not exist.
    #[error("no item {0}")]
    NotFound(ItemId),
    /// The item was withdrawn; its chain has ended.
    #[error("item {0} was withdrawn; it cannot change any more")]
    Withdrawn(ItemId),
    /// The node refuses to sign (see the message: usually a store behind its key's history).
    #[error("signing refused: {0}")]
    Refused(String),
    /// Storage failed; nothing was acknowledged.
    #[error("storage failure: {0}")]
    Storage(String),
}

type Reply = oneshot::Sender<Result<Published, PublishError>>;
type IngestReply = oneshot::Sender<Result<u64, PublishError>>;

/// A member's newly verified log entries, for an aggregator to acknowledge with receipts in
/// its own log and store (see [`Node::ingest`]); the follower builds it.
pub use portal_proto::ingest::{Batch, Relayed};

enum Job {
    Publish(Box<Draft>, Reply),
    Withdraw(ItemId, WithdrawRequest, Reply),
    Ingest(Box<Batch>, IngestReply),
    Heartbeat,
}

/// A job that became a signed record, waiting for its batch to be durable.
struct Accepted {
    record: Record,
    signed: SignedRecord,
    /// Who waits for it (none for an aggregator's receipts: their ingest is answered whole).
    ack: Option<(Reply, Published)>,
}

/// The signing journal: the last batch signed, written before it is stored.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Journal {
    start: u64,
    entries: Vec<SignedRecord>,
    /// Member records acknowledged by receipts among `entries` (an aggregator's ingest).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ingested: Vec<Batch>,
}

/// A running node's shared state.
#[derive(Debug)]
pub struct Node {
    /// Configuration.
    pub config: NodeConfig,
    /// Data directory.
    pub dir: DataDir,
    /// The log and everything derived from it.
    pub store: Arc<Store>,
    /// Public counters.
    pub metrics: Arc<Metrics>,
    signer: Signer,
    /// Every key grant the node has used (`keys/history.json`; see [`crate::keys`]).
    history: Vec<KeyGrant>,
    jobs: SyncSender<Job>,
    refusal: Arc<Mutex<Option<String>>>,
    /// The log size after the latest durable commit (the WebSub hub listens).
    commits: watch::Sender<u64>,
}

use crate::loading::file_error;
pub use crate::loading::{OpenError, load_config, load_signer, now};

/// The signing journal: the first index and the exact entries of the last batch this node's
/// key signed (`None` if it never signed one). `portal restore` reads it.
pub fn signing_journal(dir: &DataDir) -> Result<Option<(u64, Vec<SignedRecord>)>, OpenError> {
    let path = dir.journal();
    match std::fs::read(&path) {
        Ok(bytes) => {
            let j: Journal = serde_json::from_slice(&bytes).map_err(|e| file_error(&path, e))?;
            Ok(Some((j.start, j.entries)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(file_error(&path, e)),
    }
}

impl Node {
    /// Open the node in `dir`: config, key, store; replay or refuse per the signing journal;
    /// start the writer thread.
    pub fn open(dir: DataDir) -> Result<Arc<Node>, OpenError> {
        let pending = crate::keys::pending_path(&dir);
        if pending.exists() {
            // Signing now could use a key the log has already retired.
            return Err(file_error(
                &pending,
                "a key rotation was interrupted: finish it with `portal key rotate` before \
                 starting the node",
            ));
        }
        load_config(&dir)?; // a wrong data directory first: the likelier mistake
        let history = crate::keys::history(&dir)?;
        Node::open_with(dir, history)
    }

    /// [`Node::open`] with the key history given (`portal key rotate`, which finishes an
    /// interrupted rotation).
    pub(crate) fn open_with(dir: DataDir, history: Vec<KeyGrant>) -> Result<Arc<Node>, OpenError> {
        let config = load_config(&dir)?;
        let signer = load_signer(&dir)?;
        let store = Arc::new(Store::open_with(&dir.store(), config.store.options())?);
        let refusal = Arc::new(Mutex::new(None));
        let (tx, rx) = mpsc::sync_channel(1024);
        let metrics = Arc::new(Metrics::default());
        let commits = watch::Sender::new(store.size());
        let node = Arc::new(Node {
            config,
            dir,
            store,
            metrics,
            signer,
            history,
            jobs: tx,
            refusal,
            commits,
        });
        node.recover()?;
        if node.store.checkpoint()?.is_none() {
            // A fresh node signs the checkpoint of its empty log.
            let note = node.sign_checkpoint(0, node.store.root()?)?;
            node.store.set_checkpoint(&note)?;
        }
        let worker = Arc::clone(&node);
        std::thread::Builder::new()
            .name("portal-sequencer".into())
            .spawn(move || worker.sequencer(rx))
            .map_err(|e| {
                file_error(node.dir.root(), format!("cannot start the writer thread: {e}"))
            })?;
        Ok(node)
    }

    /// Compare the signing journal with the store (see the module documentation).
    fn recover(&self) -> Result<(), OpenError> {
        let path = self.dir.journal();
        let journal: Journal = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| file_error(&path, e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(file_error(&path, e)),
        };
        let size = self.store.size();
        let signed_upto = journal.start + journal.entries.len() as u64;
        if signed_upto <= size {
            return Ok(());
        }
        if journal.start == size {
            // Crashed after signing and journaling, before the store committed: store exactly
            // what was signed.
            let records: Vec<Record> = journal
                .entries
                .iter()
                .map(|s| envelope::parse_record(s.bytes()))
                .collect::<Result<_, _>>()
                .map_err(|e| file_error(&path, format!("journal entry: {e}")))?;
            let appends: Vec<Append<'_>> = records
                .iter()
                .zip(&journal.entries)
                .map(|(record, signed)| Append { record, signed })
                .collect();
            let mut tree = self.store.frontier()?;
            for s in &journal.entries {
                tree.append(s.leaf_hash());
            }
            let note = self.sign_checkpoint(tree.size(), tree.root())?;
            let parsed = parse_ingested(&journal.ingested)
                .map_err(|e| file_error(&path, format!("journal member entry: {e}")))?;
            self.store.ingest(&appends, &member_batches(&journal.ingested, &parsed), &note)?;
            tracing::warn!(
                entries = journal.entries.len(),
                from = size,
                "replayed the signing journal after a crash"
            );
            return Ok(());
        }
        let reason = format!(
            "this node's key has signed log entries up to index {}, but its store holds only {size} \
             entries: the store was restored from an older backup or lost data. Signing now would \
             create two different records for one index. Restore the missing entries (deploy/RUNBOOK.md, \
             \"The node refuses to sign\") and restart; until then the node serves what it has and \
             refuses to publish.",
            signed_upto - 1
        );
        tracing::error!("{reason}");
        *self.refusal.lock().map_err(|_| file_error(&path, "poisoned lock"))? = Some(reason);
        Ok(())
    }

    /// Why the node refuses to sign, if it does.
    pub fn refusal(&self) -> Option<String> {
        self.refusal.lock().ok().and_then(|r| r.clone())
    }

    /// The log size after each durable commit, as it happens: a receiver that never blocks the
    /// writer (the WebSub hub waits on it to announce new entries).
    pub fn commits(&self) -> watch::Receiver<u64> {
        self.commits.subscribe()
    }

    /// The node's signer (for the descriptor and push signatures).
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// Every key grant this node has used, oldest first (the descriptor lists them).
    pub fn key_history(&self) -> &[KeyGrant] {
        &self.history
    }

    /// A checkpoint note of this log, signed by the key valid at index `size − 1` (the current
    /// key, or the one retired by a rotation until the next entry is appended).
    fn sign_checkpoint(&self, size: u64, root: [u8; 32]) -> Result<String, OpenError> {
        let origin = checkpoint_origin(&self.config.id);
        let cp = Checkpoint::with_time(origin.clone(), size, root, now().unix());
        let signer = crate::keys::checkpoint_signer(&self.dir, &self.signer, &self.history, size)?;
        sign_checkpoint(&cp, &origin, &signer).map_err(|e| file_error(self.dir.root(), e))
    }

    /// Sign `record` (one of this node's own log entries, its `log_index` the next index) with
    /// the current key, journal it and store it with a fresh checkpoint, as the sequencer does
    /// for a batch of one. Returns its index. For `portal key rotate`, which runs on a stopped
    /// node: nothing else may be appending meanwhile.
    pub(crate) fn append_own(&self, record: Record) -> Result<u64, String> {
        let start = self.store.size();
        if record.log_index() != Some(start) {
            return Err(format!("the record is not for the next index {start}"));
        }
        let signed = match &record {
            Record::KeyEvent(e) => envelope::sign(e, &self.signer),
            other => return Err(format!("not a record this path signs: {}", other.record_type())),
        }
        .map_err(|e| e.to_string())?;
        self.persist(start, &[Accepted { record, signed, ack: None }], Vec::new())?;
        self.commits.send_replace(self.store.size());
        Ok(start)
    }

    /// Submit a draft; resolves when it is durable (or refused).
    pub async fn publish(&self, draft: Draft) -> Result<Published, PublishError> {
        let (tx, rx) = oneshot::channel();
        self.submit(Job::Publish(Box::new(draft), tx))?;
        rx.await.map_err(|_| PublishError::Storage("the writer stopped".into()))?
    }

    /// Withdraw an item; resolves when it is durable (or refused).
    pub async fn withdraw(
        &self,
        id: ItemId,
        req: WithdrawRequest,
    ) -> Result<Published, PublishError> {
        let (tx, rx) = oneshot::channel();
        self.submit(Job::Withdraw(id, req, tx))?;
        rx.await.map_err(|_| PublishError::Storage("the writer stopped".into()))?
    }

    /// Acknowledge a member's verified entries: sign a receipt for each in this node's log
    /// and store them with the member's new cursor, atomically. Resolves with the log index of
    /// the first receipt once durable.
    pub async fn ingest(&self, batch: Batch) -> Result<u64, PublishError> {
        let (tx, rx) = oneshot::channel();
        self.submit(Job::Ingest(Box::new(batch), tx))?;
        rx.await.map_err(|_| PublishError::Storage("the writer stopped".into()))?
    }

    /// Sign a fresh checkpoint of the current log (the heartbeat).
    pub fn heartbeat(&self) {
        let _ = self.jobs.try_send(Job::Heartbeat);
    }

    fn submit(&self, job: Job) -> Result<(), PublishError> {
        if let Some(reason) = self.refusal() {
            return Err(PublishError::Refused(reason));
        }
        self.jobs.send(job).map_err(|_| PublishError::Storage("the writer stopped".into()))
    }

    fn sequencer(&self, rx: Receiver<Job>) {
        while let Ok(first) = rx.recv() {
            let mut jobs = vec![first];
            while jobs.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
            self.commit(jobs);
        }
    }

    /// Build, sign, journal, store and acknowledge one batch.
    fn commit(&self, jobs: Vec<Job>) {
        let start = self.store.size();
        let time = now();
        let mut heartbeat = false;
        let mut accepted: Vec<Accepted> = Vec::new();
        let mut ingested: Vec<(Batch, IngestReply, u64)> = Vec::new();
        // Item heads as they stand within this batch.
        let mut heads: BTreeMap<ItemId, (u64, Digest, bool, Timestamp)> = BTreeMap::new();
        for job in jobs {
            let index = start + accepted.len() as u64;
            let (built, reply) = match job {
                Job::Heartbeat => {
                    heartbeat = true;
                    continue;
                }
                Job::Ingest(batch, reply) => {
                    let members = |b: &Batch| {
                        std::iter::once(b.member.clone())
                            .chain(b.relayed.iter().map(|r| r.member.clone()))
                            .collect::<Vec<_>>()
                    };
                    let mine = members(&batch);
                    if ingested.iter().any(|(b, _, _)| members(b).iter().any(|m| mine.contains(m)))
                    {
                        // One batch per member per commit: the store checks continuity
                        // against the stored cursor. The sync engine never sends two at once.
                        let _ = reply.send(Err(PublishError::Storage(format!(
                            "two ingests of {} in one commit",
                            batch.member
                        ))));
                        continue;
                    }
                    match self.build_receipts(&batch, index, time) {
                        Ok(receipts) => {
                            accepted.extend(receipts);
                            ingested.push((*batch, reply, index));
                        }
                        Err(e) => {
                            let _ = reply.send(Err(e));
                        }
                    }
                    continue;
                }
                Job::Publish(draft, reply) => {
                    (self.build_item(*draft, index, time, &mut heads), reply)
                }
                Job::Withdraw(id, req, reply) => {
                    (self.build_withdrawal(id, req, index, time, &mut heads), reply)
                }
            };
            match built {
                Ok((record, signed, published)) => {
                    accepted.push(Accepted { record, signed, ack: Some((reply, published)) })
                }
                Err(e) => {
                    self.metrics.publish_refused();
                    let _ = reply.send(Err(e));
                }
            }
        }
        if accepted.is_empty() && !heartbeat {
            return;
        }
        let batches: Vec<Batch>;
        let replies: Vec<(IngestReply, u64)>;
        (batches, replies) = ingested.into_iter().map(|(b, r, i)| (b, (r, i))).unzip();
        let result = self.persist(start, &accepted, batches);
        if result.is_ok() && !accepted.is_empty() {
            // Durable: tell the hub (a watch never blocks the writer).
            self.commits.send_replace(self.store.size());
        }
        for (reply, published) in accepted.into_iter().filter_map(|a| a.ack) {
            let _ = reply.send(match &result {
                Ok(()) => {
                    self.metrics.published();
                    Ok(published)
                }
                Err(e) => Err(PublishError::Storage(e.clone())),
            });
        }
        for (reply, first) in replies {
            let _ = reply.send(result.clone().map(|()| first).map_err(PublishError::Storage));
        }
        if let Err(e) = result {
            tracing::error!("commit failed, nothing acknowledged: {e}");
        }
    }

    /// Receipts (SPEC.md §4.6) for a member batch, from log index `index` on.
    fn build_receipts(
        &self,
        batch: &Batch,
        index: u64,
        time: Timestamp,
    ) -> Result<Vec<Accepted>, PublishError> {
        let mut out = Vec::with_capacity(batch.entries.len());
        let direct = batch
            .entries
            .iter()
            .enumerate()
            .map(|(i, s)| (&batch.member, batch.start + i as u64, s, batch.size, batch.root));
        let relayed =
            batch.relayed.iter().flat_map(|r| {
                r.entries.iter().zip(&r.checkpoints).enumerate().map(
                    move |(i, (s, (size, root)))| (&r.member, r.start + i as u64, s, *size, *root),
                )
            });
        for (member, member_index, signed, size, root) in direct.chain(relayed) {
            if *member == self.config.id || member_index >= size {
                return Err(PublishError::Storage(format!(
                    "ingest of {member}: entry {member_index} is not covered by a checkpoint of \
                     size {size}, or is this node's own"
                )));
            }
            let receipt = Receipt {
                ipsp: 1,
                record_type: RecordType::Receipt,
                origin: self.config.id.clone(),
                log_index: index + out.len() as u64,
                member: member.clone(),
                member_index,
                record: signed.digest(),
                checkpoint: CheckpointRef { size, root: encode_base64(&root) },
                time,
            };
            let signed = envelope::sign(&receipt, &self.signer)
                .map_err(|e| PublishError::Storage(format!("receipt: {e}")))?;
            out.push(Accepted { record: Record::Receipt(receipt), signed, ack: None });
        }
        Ok(out)
    }

    fn persist(
        &self,
        start: u64,
        accepted: &[Accepted],
        ingested: Vec<Batch>,
    ) -> Result<(), String> {
        let mut tree = self.store.frontier().map_err(|e| e.to_string())?;
        for a in accepted {
            tree.append(a.signed.leaf_hash());
        }
        let note = self.sign_checkpoint(tree.size(), tree.root()).map_err(|e| e.to_string())?;
        if accepted.is_empty() {
            return self.store.set_checkpoint(&note).map_err(|e| e.to_string());
        }
        // Member records are parsed (and so checked) before anything is signed to disk.
        let parsed = parse_ingested(&ingested).map_err(|e| format!("member record: {e}"))?;
        let journal = Journal {
            start,
            entries: accepted.iter().map(|a| a.signed.clone()).collect(),
            ingested,
        };
        let bytes = serde_json::to_vec(&journal).map_err(|e| e.to_string())?;
        files::replace_private(&self.dir.journal(), &bytes)
            .map_err(|e| format!("signing journal: {e}"))?;
        let appends: Vec<Append<'_>> =
            accepted.iter().map(|a| Append { record: &a.record, signed: &a.signed }).collect();
        let members = member_batches(&journal.ingested, &parsed);
        self.store.ingest(&appends, &members, &note).map_err(|e| e.to_string())?;
        Ok(())
    }

    fn head(
        &self,
        id: &ItemId,
        heads: &BTreeMap<ItemId, (u64, Digest, bool, Timestamp)>,
    ) -> Result<Option<(u64, Digest, bool, Timestamp)>, PublishError> {
        if let Some(h) = heads.get(id) {
            return Ok(Some(h.clone()));
        }
        let Some(idx) = self.store.item(id).map_err(|e| PublishError::Storage(e.to_string()))?
        else {
            return Ok(None);
        };
        let first = idx.versions.first().copied().unwrap_or(0);
        let published =
            match self.store.entry(first).map_err(|e| PublishError::Storage(e.to_string()))? {
                Some(s) => match envelope::parse_record(s.bytes()) {
                    Ok(Record::Item(i)) => i.published,
                    _ => {
                        return Err(PublishError::Storage(format!(
                            "log entry {first} is not an item"
                        )));
                    }
                },
                None => return Err(PublishError::Storage(format!("log entry {first} is missing"))),
            };
        Ok(Some((idx.version, idx.digest, idx.withdrawal.is_some(), published)))
    }

    fn build_item(
        &self,
        draft: Draft,
        index: u64,
        time: Timestamp,
        heads: &mut BTreeMap<ItemId, (u64, Digest, bool, Timestamp)>,
    ) -> Result<(Record, SignedRecord, Published), PublishError> {
        let existing = draft.id.clone();
        let cleaned = draft.clean();
        let (id, version, prev, published) = match existing {
            None => (ItemId::from_random(rand::random()), 1, None, time),
            Some(id) => match self.head(&id, heads)? {
                None => return Err(PublishError::NotFound(id)),
                Some((_, _, true, _)) => return Err(PublishError::Withdrawn(id)),
                Some((v, digest, false, published)) => (id, v + 1, Some(digest), published),
            },
        };
        let mut errors = Vec::new();
        if version > 1 && cleaned.update.is_none() {
            errors.push(FieldError::new(
                "update",
                "a new version needs {\"note\": \"what changed\"}",
            ));
        }
        for (i, a) in cleaned.attachments.iter().enumerate() {
            match self.store.blob(&a.sha256) {
                Ok(Some(b)) if b.len() as u64 == a.size => {}
                Ok(Some(b)) => errors.push(FieldError::new(
                    format!("attachments[{i}].size"),
                    format!("the uploaded file has {} bytes", b.len()),
                )),
                Ok(None) => errors.push(FieldError::new(
                    format!("attachments[{i}].sha256"),
                    "no such file: upload it first with POST /api/v1/attachments",
                )),
                Err(e) => return Err(PublishError::Storage(e.to_string())),
            }
        }
        let item = ItemVersion {
            ipsp: 1,
            record_type: RecordType::Item,
            origin: self.config.id.clone(),
            log_index: index,
            id: id.clone(),
            version,
            prev,
            update: if version == 1 { None } else { cleaned.update },
            kind: cleaned.kind,
            language: cleaned.language,
            title: cleaned.title,
            summary: cleaned.summary,
            content_html: cleaned.content_html,
            translations: cleaned.translations,
            categories: cleaned.categories,
            attachments: cleaned.attachments,
            legal: cleaned.legal,
            published,
            updated: time,
        };
        if let Err(mut e) = item.validate() {
            errors.append(&mut e);
        }
        if !errors.is_empty() {
            return Err(PublishError::Invalid(errors));
        }
        let signed = envelope::sign(&item, &self.signer)
            .map_err(|e| PublishError::Invalid(vec![FieldError::new("$", e.to_string())]))?;
        heads.insert(id.clone(), (version, signed.digest(), false, published));
        Ok((Record::Item(item), signed, Published { id, version, log_index: index }))
    }

    fn build_withdrawal(
        &self,
        id: ItemId,
        req: WithdrawRequest,
        index: u64,
        time: Timestamp,
        heads: &mut BTreeMap<ItemId, (u64, Digest, bool, Timestamp)>,
    ) -> Result<(Record, SignedRecord, Published), PublishError> {
        let (version, digest, published) = match self.head(&id, heads)? {
            None => return Err(PublishError::NotFound(id)),
            Some((_, _, true, _)) => return Err(PublishError::Withdrawn(id)),
            Some((v, d, false, p)) => (v, d, p),
        };
        let w = Withdrawal {
            ipsp: 1,
            record_type: RecordType::Withdrawal,
            origin: self.config.id.clone(),
            log_index: index,
            id: id.clone(),
            version,
            prev: digest.clone(),
            state: req.state,
            explanation: req.explanation.trim().to_owned(),
            redirect: req.redirect,
            time,
        };
        w.validate().map_err(PublishError::Invalid)?;
        let signed = envelope::sign(&w, &self.signer)
            .map_err(|e| PublishError::Invalid(vec![FieldError::new("$", e.to_string())]))?;
        heads.insert(id.clone(), (version, digest, true, published));
        Ok((Record::Withdrawal(w), signed, Published { id, version, log_index: index }))
    }
}

/// The parsed records of each ingest batch and of its relayed batches, in the order
/// [`member_batches`] lists them (the store keeps the member item index from them).
fn parse_ingested(
    ingested: &[Batch],
) -> Result<Vec<Vec<(Record, SignedRecord)>>, portal_proto::error::Rejection> {
    let parse = |entries: &[SignedRecord]| {
        entries
            .iter()
            .map(|s| Ok((envelope::parse_record(s.bytes())?, s.clone())))
            .collect::<Result<Vec<_>, _>>()
    };
    let mut out = Vec::new();
    for b in ingested {
        out.push(parse(&b.entries)?);
        for r in &b.relayed {
            out.push(parse(&r.entries)?);
        }
    }
    Ok(out)
}

fn member_batches<'a>(
    ingested: &'a [Batch],
    parsed: &'a [Vec<(Record, SignedRecord)>],
) -> Vec<MemberBatch<'a>> {
    let mut parsed = parsed.iter();
    let mut out = Vec::new();
    for b in ingested {
        let Some(records) = parsed.next() else { break };
        out.push(MemberBatch {
            member: &b.member,
            start: b.start,
            records,
            checkpoint: Some(&b.checkpoint),
            cosigned: Some(&b.cosigned),
        });
        for r in &b.relayed {
            let Some(records) = parsed.next() else { break };
            out.push(MemberBatch {
                member: &r.member,
                start: r.start,
                records,
                checkpoint: None,
                cosigned: None,
            });
        }
    }
    out
}
