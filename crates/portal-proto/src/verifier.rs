//! The log verifier: a state machine fed one node's log entries and checkpoints in order.
//!
//! It yields [`Verified`] records or typed [`Rejection`]s: bad signature, unknown or revoked
//! key, wrong origin, index gap, fork, replay, broken version chain, non-canonical bytes,
//! rollback, stale or inconsistent checkpoint. It does no I/O and reads no clock: `now` is an
//! argument. A rejected input never changes the state, so a caller can log the rejection and
//! carry on with the next input.

use std::collections::BTreeMap;

use crate::checkpoint::{self, Checkpoint, SignedNote};
use crate::crypto::KeyId;
use crate::envelope::{self, SignedRecord, Verified};
use crate::error::Rejection;
use crate::ids::{Digest, ItemId, NodeId};
use crate::merkle::{self, CompactTree, Hash};
use crate::record::{KeyEvent, KeyEventKind, KeyGrant, Record};
use crate::time::Timestamp;

/// Default freshness limit for checkpoints: one day.
pub const DEFAULT_MAX_CHECKPOINT_AGE: u64 = 86_400;

/// How far in the future a checkpoint's time may be (clock skew), in seconds.
pub const MAX_CLOCK_SKEW: u64 = 300;

/// The head of one item's version chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemHead {
    /// Latest version number.
    pub version: u64,
    /// SHA-256 of the latest version's record bytes.
    pub digest: Digest,
    /// Log index of the latest version.
    pub log_index: u64,
    /// Whether a withdrawal ended the chain.
    pub withdrawn: bool,
}

/// A checkpoint this verifier accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    /// The parsed checkpoint body.
    pub checkpoint: Checkpoint,
    /// The full signed note, exactly as received.
    pub note: String,
    /// Its `time` extension.
    pub time: Timestamp,
    /// Whether its root was checked against verified records (`false`: it is ahead of the
    /// records seen so far and was accepted on a consistency proof; its root is checked when
    /// the records arrive).
    pub covered: bool,
}

/// Why a log page does not continue what a [`LogVerifier`] holds ([`LogVerifier::check_page`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PageMismatch {
    /// The page is of another origin's log (`wrong-origin`).
    WrongOrigin {
        /// The origin the page names.
        got: NodeId,
    },
    /// The log is shorter than what was verified (`rollback`).
    Shrunk {
        /// Entries verified.
        verified: u64,
        /// The size the page claims.
        served: u64,
    },
}

/// The next step for a page's checkpoint ([`LogVerifier::plan_checkpoint`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckpointPlan {
    /// The note is the latest accepted one: nothing more to check.
    Accepted(VerifiedCheckpoint),
    /// Push it with [`LogVerifier::push_checkpoint`] and no proof.
    Push,
    /// Fetch the consistency proof from size `from` to size `to`, then push it with the proof.
    Proof {
        /// The proof's first size ([`LogVerifier::proof_base`]).
        from: u64,
        /// The checkpoint's size.
        to: u64,
    },
}

/// Verifies one origin's log. See the module documentation.
#[derive(Clone, Debug)]
pub struct LogVerifier {
    origin: NodeId,
    grants: Vec<KeyGrant>,
    leaves: Vec<Hash>,
    tree: CompactTree,
    items: BTreeMap<ItemId, ItemHead>,
    latest: Option<VerifiedCheckpoint>,
    max_checkpoint_age: u64,
}

impl LogVerifier {
    /// A verifier for `origin`'s log from index 0, trusting `grants`.
    pub fn new(origin: NodeId, grants: Vec<KeyGrant>) -> LogVerifier {
        LogVerifier {
            origin,
            grants,
            leaves: Vec::new(),
            tree: CompactTree::new(),
            items: BTreeMap::new(),
            latest: None,
            max_checkpoint_age: DEFAULT_MAX_CHECKPOINT_AGE,
        }
    }

    /// Refuse checkpoints older than `seconds`.
    pub fn with_max_checkpoint_age(mut self, seconds: u64) -> Self {
        self.max_checkpoint_age = seconds;
        self
    }

    /// The origin being verified.
    pub fn origin(&self) -> &NodeId {
        &self.origin
    }

    /// The next log index expected (= number of records verified).
    pub fn next_index(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// The Merkle root over the records verified so far.
    pub fn root(&self) -> Hash {
        self.tree.root()
    }

    /// The keys as they stand after the key events seen so far.
    pub fn grants(&self) -> &[KeyGrant] {
        &self.grants
    }

    /// The head of an item's chain.
    pub fn item(&self, id: &ItemId) -> Option<&ItemHead> {
        self.items.get(id)
    }

    /// The latest accepted checkpoint.
    pub fn latest_checkpoint(&self) -> Option<&VerifiedCheckpoint> {
        self.latest.as_ref()
    }

    /// Verify the next log entry.
    pub fn push(&mut self, signed: &SignedRecord) -> Result<Verified<Record>, Rejection> {
        let record = precheck(&self.origin, &self.grants, signed)?;
        self.accept(record, signed)
    }

    /// [`LogVerifier::push`] for consecutive entries, with exactly its results: the accepted
    /// prefix, and the position and reason of the first rejection (nothing after it is
    /// pushed). Parsing and signature checks, which dominate, run on up to `threads` threads
    /// against the key grants held before the run; an entry after a key event of the run is
    /// checked again in order, against the grants that event changed.
    pub fn push_many(
        &mut self,
        entries: &[&SignedRecord],
        threads: usize,
    ) -> (Vec<Verified<Record>>, Option<(usize, Rejection)>) {
        let threads = threads.clamp(1, 64);
        let chunk = entries.len().div_ceil(threads).max(1);
        let (origin, grants) = (&self.origin, &self.grants);
        let prechecked: Vec<Result<Record, Rejection>> = if threads == 1 || entries.len() < 64 {
            entries.iter().map(|s| precheck(origin, grants, s)).collect()
        } else {
            std::thread::scope(|scope| {
                let workers: Vec<_> = entries
                    .chunks(chunk)
                    .map(|part| {
                        scope.spawn(move || {
                            part.iter().map(|s| precheck(origin, grants, s)).collect::<Vec<_>>()
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                    .collect()
            })
        };
        let mut accepted = Vec::with_capacity(entries.len());
        let mut grants_changed = false;
        for (position, (signed, pre)) in entries.iter().zip(prechecked).enumerate() {
            let result = match pre {
                Ok(record) if !grants_changed => self.accept(record, signed),
                // A failed precheck is redone in order, so the rejection is push's own.
                _ => self.push(signed),
            };
            match result {
                Ok(verified) => {
                    grants_changed |= matches!(verified.record(), Record::KeyEvent(_));
                    accepted.push(verified);
                }
                Err(rejection) => return (accepted, Some((position, rejection))),
            }
        }
        (accepted, None)
    }

    /// The checks of [`LogVerifier::push`] after the signature's, and the state change.
    fn accept(
        &mut self,
        record: Record,
        signed: &SignedRecord,
    ) -> Result<Verified<Record>, Rejection> {
        let Some(index) = record.log_index() else {
            return Err(Rejection::Malformed(format!(
                "a {} is not a log entry",
                record.record_type()
            )));
        };
        let expected = self.next_index();
        if index > expected {
            return Err(Rejection::IndexGap { expected, got: index });
        }
        let leaf = signed.leaf_hash();
        if index < expected {
            // The index is already taken: the same bytes again, or a second record the key
            // holder signed for one index (equivocation).
            return Err(if self.leaves[index as usize] == leaf {
                Rejection::Replay { index }
            } else {
                Rejection::Fork { index }
            });
        }
        self.check_chain(&record, signed)?;
        // The latest checkpoint may be ahead of the records; when they reach its size, its
        // root must be theirs.
        let mut tree = self.tree.clone();
        tree.append(leaf);
        if let Some(cp) = self.latest.as_ref().filter(|cp| !cp.covered)
            && cp.checkpoint.size == tree.size()
            && cp.checkpoint.root != tree.root()
        {
            return Err(Rejection::InconsistentCheckpoint(format!(
                "records up to index {index} do not hash to the root of the checkpoint of size {}",
                cp.checkpoint.size
            )));
        }

        // Accepted: commit the state change.
        self.tree = tree;
        self.leaves.push(leaf);
        if let Some(cp) = self.latest.as_mut()
            && cp.checkpoint.size == self.tree.size()
        {
            cp.covered = true;
        }
        self.apply(&record, signed, index);
        Ok(envelope::verified(record, signed.clone()))
    }

    /// Reload an entry this verifier's owner accepted earlier (e.g. from its own store after a
    /// restart): every check of [`LogVerifier::push`] but the signature, which was verified
    /// when the entry was first accepted. Never use it for bytes from the network.
    pub fn restore(&mut self, signed: &SignedRecord) -> Result<(), Rejection> {
        let record = envelope::parse_record(signed.bytes())?;
        let index = record.log_index().ok_or_else(|| {
            Rejection::Malformed(format!("a {} is not a log entry", record.record_type()))
        })?;
        if record.origin() != &self.origin {
            return Err(Rejection::wrong_origin(&self.origin, record.origin()));
        }
        if index != self.next_index() {
            return Err(Rejection::IndexGap { expected: self.next_index(), got: index });
        }
        self.check_chain(&record, signed)?;
        let leaf = signed.leaf_hash();
        self.tree.append(leaf);
        self.leaves.push(leaf);
        self.apply(&record, signed, index);
        Ok(())
    }

    /// Reload a checkpoint accepted earlier (see [`LogVerifier::restore`]): its signature and,
    /// when the restored entries reach its size, its root are checked again; its age is not.
    pub fn restore_checkpoint(&mut self, note: &str) -> Result<(), Rejection> {
        let cp = self.open_note(note)?;
        let time = cp.time().and_then(Timestamp::from_unix).ok_or_else(|| {
            Rejection::Malformed("checkpoint has no `time` extension line".into())
        })?;
        let covered = cp.size <= self.next_index();
        if covered && merkle::root_from_leaf_hashes(&self.leaves[..cp.size as usize]) != cp.root {
            return Err(Rejection::InconsistentCheckpoint(format!(
                "root for size {} differs from the restored records",
                cp.size
            )));
        }
        self.latest =
            Some(VerifiedCheckpoint { checkpoint: cp, note: note.to_owned(), time, covered });
        Ok(())
    }

    /// The tree size a consistency proof for a checkpoint ahead of the verified records must
    /// start from: the latest accepted checkpoint's size if its root was checked against the
    /// records, else the number of records verified.
    pub fn proof_base(&self) -> u64 {
        self.latest.as_ref().filter(|p| p.covered).map_or(self.next_index(), |p| p.checkpoint.size)
    }

    /// The page rules that come before its entries (SPEC.md §11.2): a page of the log at
    /// `origin` claiming `size` entries must be of this verifier's origin and must not be
    /// shorter than what is verified. The follower and `portal verify` both start here.
    pub fn check_page(&self, origin: &NodeId, size: u64) -> Result<(), PageMismatch> {
        if origin != &self.origin {
            return Err(PageMismatch::WrongOrigin { got: origin.clone() });
        }
        if size < self.next_index() {
            return Err(PageMismatch::Shrunk { verified: self.next_index(), served: size });
        }
        Ok(())
    }

    /// What verifying the checkpoint `note` of a page takes, once its entries are pushed: it
    /// is already the latest accepted one, it can be pushed as it is, or it is ahead of the
    /// verified entries and needs a consistency proof from [`LogVerifier::proof_base`] first.
    /// An empty note (only an empty log has none) or one that is not a signed checkpoint is
    /// `malformed`.
    pub fn plan_checkpoint(&self, note: &str) -> Result<CheckpointPlan, Rejection> {
        if note.is_empty() {
            return Err(Rejection::Malformed("the node has no checkpoint yet".into()));
        }
        if let Some(latest) = self.latest.as_ref().filter(|l| l.note == note) {
            return Ok(CheckpointPlan::Accepted(latest.clone()));
        }
        let claimed = SignedNote::parse(note)
            .ok()
            .and_then(|n| Checkpoint::parse_body(&n.text).ok())
            .ok_or_else(|| Rejection::Malformed("the checkpoint is not a signed note".into()))?;
        let base = self.proof_base();
        if claimed.size > self.next_index() && base > 0 && base < claimed.size {
            return Ok(CheckpointPlan::Proof { from: base, to: claimed.size });
        }
        Ok(CheckpointPlan::Push)
    }

    fn check_chain(&self, record: &Record, signed: &SignedRecord) -> Result<(), Rejection> {
        let broken =
            |id: &ItemId, detail: String| Rejection::VersionChain { id: id.to_string(), detail };
        match record {
            Record::Item(item) => match (self.items.get(&item.id), item.version) {
                (None, 1) => Ok(()),
                (None, v) => {
                    Err(broken(&item.id, format!("version {v} of an item never published")))
                }
                (Some(head), _) if head.withdrawn => {
                    Err(broken(&item.id, "the item was withdrawn; its chain has ended".into()))
                }
                (Some(head), v) if v != head.version + 1 => Err(broken(
                    &item.id,
                    format!("version {v} does not follow version {}", head.version),
                )),
                (Some(head), _) if item.prev.as_ref() != Some(&head.digest) => {
                    Err(broken(&item.id, "prev is not the hash of the previous version".into()))
                }
                (Some(_), _) => Ok(()),
            },
            Record::Withdrawal(w) => match self.items.get(&w.id) {
                None => Err(broken(&w.id, "withdrawal of an item never published".into())),
                Some(head) if head.withdrawn => Err(broken(&w.id, "already withdrawn".into())),
                Some(head) if head.version != w.version || head.digest != w.prev => Err(broken(
                    &w.id,
                    format!("withdraws version {} but the latest is {}", w.version, head.version),
                )),
                Some(_) => Ok(()),
            },
            Record::KeyEvent(e) => {
                let _ = signed;
                check_key_event(&self.origin, &self.grants, e, false)
            }
            _ => Ok(()),
        }
    }

    fn apply(&mut self, record: &Record, signed: &SignedRecord, index: u64) {
        match record {
            Record::Item(item) => {
                self.items.insert(
                    item.id.clone(),
                    ItemHead {
                        version: item.version,
                        digest: signed.digest(),
                        log_index: index,
                        withdrawn: false,
                    },
                );
            }
            Record::Withdrawal(w) => {
                if let Some(head) = self.items.get_mut(&w.id) {
                    head.withdrawn = true;
                    head.log_index = index;
                }
            }
            Record::KeyEvent(e) => apply_key_event(&mut self.grants, e, signed.kid()),
            _ => {}
        }
    }

    /// Verify a signed checkpoint note from this origin.
    ///
    /// `proof` is a consistency proof from the latest accepted checkpoint to this one; it is
    /// only needed when this checkpoint is ahead of the records verified so far.
    pub fn push_checkpoint(
        &mut self,
        note: &str,
        now: Timestamp,
        proof: Option<&[Hash]>,
    ) -> Result<VerifiedCheckpoint, Rejection> {
        let cp = self.open_note(note)?;
        let time = cp.time().and_then(Timestamp::from_unix).ok_or_else(|| {
            Rejection::Malformed("checkpoint has no `time` extension line".into())
        })?;
        if time.unix() > now.unix().saturating_add(MAX_CLOCK_SKEW) {
            return Err(Rejection::StaleCheckpoint(format!(
                "dated {time}, in the future (now {now})"
            )));
        }
        if now.saturating_since(time) > self.max_checkpoint_age {
            return Err(Rejection::StaleCheckpoint(format!(
                "dated {time}, older than {} s (now {now})",
                self.max_checkpoint_age
            )));
        }
        if let Some(prev) = &self.latest {
            if cp.size < prev.checkpoint.size {
                return Err(Rejection::Rollback { had: prev.checkpoint.size, got: cp.size });
            }
            if time < prev.time {
                return Err(Rejection::StaleCheckpoint(format!(
                    "dated {time}, before the previous checkpoint ({})",
                    prev.time
                )));
            }
            if cp.size == prev.checkpoint.size && cp.root != prev.checkpoint.root {
                return Err(Rejection::InconsistentCheckpoint(format!(
                    "two different roots signed for size {}",
                    cp.size
                )));
            }
        }
        let seen = self.next_index();
        let covered = cp.size <= seen;
        if covered {
            let ours = merkle::root_from_leaf_hashes(&self.leaves[..cp.size as usize]);
            if ours != cp.root {
                return Err(Rejection::InconsistentCheckpoint(format!(
                    "root for size {} differs from the verified records",
                    cp.size
                )));
            }
        } else {
            // Ahead of the records: it must extend what we have verified.
            let (size1, root1) = match self.latest.as_ref().filter(|p| p.covered) {
                Some(p) => (p.checkpoint.size, p.checkpoint.root),
                None => (seen, self.tree.root()),
            };
            if size1 > 0 {
                let proof = proof.ok_or_else(|| {
                    Rejection::InconsistentCheckpoint(format!(
                        "size {} is ahead of the {seen} verified records and no consistency proof was given",
                        cp.size
                    ))
                })?;
                merkle::verify_consistency(size1, cp.size, &root1, &cp.root, proof).map_err(
                    |e| {
                        Rejection::InconsistentCheckpoint(format!(
                            "consistency proof {size1} -> {}: {e}",
                            cp.size
                        ))
                    },
                )?;
            }
        }
        let verified = VerifiedCheckpoint { checkpoint: cp, note: note.to_owned(), time, covered };
        self.latest = Some(verified.clone());
        Ok(verified)
    }

    /// Parse the note and check its signature by a key valid for the checkpoint's last index.
    fn open_note(&self, note: &str) -> Result<Checkpoint, Rejection> {
        open_checkpoint_note(note, &self.origin, &self.grants)
    }
}

/// The checks of one entry that need none of the log's state but the key grants: it parses,
/// is of `origin`, is a log entry, and its signature verifies under a key valid at its index.
fn precheck(
    origin: &NodeId,
    grants: &[KeyGrant],
    signed: &SignedRecord,
) -> Result<Record, Rejection> {
    let record = envelope::parse_record(signed.bytes())?;
    if record.origin() != origin {
        return Err(Rejection::wrong_origin(origin, record.origin()));
    }
    if record.log_index().is_none() {
        return Err(Rejection::Malformed(format!("a {} is not a log entry", record.record_type())));
    }
    envelope::check_signature(&record, signed, grants)?;
    Ok(record)
}

/// Check a key event against the grants it will change (SPEC.md §11.2 step 3): a revocation
/// must name a known key (`unknown-key`); a rotation must introduce a new key (`schema`),
/// unless `allow_known` (an evidence bundle whose grants may already list the new key, from
/// a descriptor or roster).
pub(crate) fn check_key_event(
    origin: &NodeId,
    grants: &[KeyGrant],
    e: &KeyEvent,
    allow_known: bool,
) -> Result<(), Rejection> {
    let known = grants.iter().find(|g| g.kid == e.kid);
    // A rotation the trust already holds (a descriptor or roster listing the node's keys after
    // it: same key, same first index) confirms that grant (SPEC §11.2).
    let confirms = known.is_some_and(|g| {
        Some(&g.public_key) == e.public_key.as_ref() && g.from_index == e.from_index
    });
    let known = known.is_some();
    match e.event {
        KeyEventKind::Rotate if known && !allow_known && !confirms => {
            Err(Rejection::Schema(vec![crate::record::FieldError::new(
                "kid",
                "rotation to a key already in use",
            )]))
        }
        KeyEventKind::Revoke if !known => {
            Err(Rejection::UnknownKey { origin: origin.to_string(), kid: e.kid.to_string() })
        }
        _ => Ok(()),
    }
}

/// Apply an accepted key event, signed by `signer`, to `grants` (SPEC.md §4.3): a rotation
/// retires the signing key from `from_index` and grants the new key from there (narrowing its
/// grant if it is already listed); a revocation sets `revoked_from`. Validity only narrows.
pub(crate) fn apply_key_event(grants: &mut Vec<KeyGrant>, e: &KeyEvent, signer: &KeyId) {
    match (e.event, &e.public_key) {
        (KeyEventKind::Rotate, Some(pk)) => {
            if let Some(old) = grants.iter_mut().find(|g| &g.kid == signer) {
                old.until_index =
                    Some(old.until_index.map_or(e.from_index, |u| u.min(e.from_index)));
            }
            if let Some(known) = grants.iter_mut().find(|g| g.kid == e.kid) {
                known.from_index = known.from_index.max(e.from_index);
            } else {
                grants.push(KeyGrant {
                    kid: e.kid.clone(),
                    public_key: pk.clone(),
                    from_index: e.from_index,
                    until_index: None,
                    revoked_from: None,
                });
            }
        }
        _ => {
            if let Some(g) = grants.iter_mut().find(|g| g.kid == e.kid) {
                g.revoked_from = Some(g.revoked_from.map_or(e.from_index, |r| r.min(e.from_index)));
            }
        }
    }
}

/// Open a checkpoint note of `origin`: the origin line must be `ipsp/1/<origin>`, and a
/// signature line by one of `grants` (key name = the origin line, C2SP Ed25519 type 0x01) must
/// verify, by a key that may sign the checkpoint's last index (SPEC.md §11.2).
pub fn open_checkpoint_note(
    note: &str,
    origin: &NodeId,
    grants: &[KeyGrant],
) -> Result<Checkpoint, Rejection> {
    Rejection::check_size(note.len(), checkpoint::MAX_NOTE_BYTES, "bytes")?;
    let malformed =
        |e: checkpoint::CheckpointError| Rejection::Malformed(format!("checkpoint: {e}"));
    let parsed = SignedNote::parse(note).map_err(malformed)?;
    let cp = Checkpoint::parse_body(&parsed.text).map_err(malformed)?;
    let name = checkpoint_origin(origin);
    if cp.origin != name {
        return Err(Rejection::WrongOrigin { expected: name, got: cp.origin });
    }
    let index = cp.size.saturating_sub(1);
    let mut outcome = None;
    for grant in grants {
        let hash =
            checkpoint::key_hash(&name, checkpoint::ALG_ED25519, grant.public_key.as_bytes());
        let Some(line) = parsed.signatures.iter().find(|s| s.name == name && s.key_hash == hash)
        else {
            continue;
        };
        if let Some(status) = grant.status_at(index).refusal() {
            outcome.get_or_insert(Err(Rejection::RevokedKey {
                kid: grant.kid.to_string(),
                index,
                status,
            }));
            continue;
        }
        let verifier = checkpoint::NoteVerifier::ed25519(&name, grant.public_key.as_bytes())
            .map_err(malformed)?;
        // A line that names a trusted key but does not verify is forgery, never "unknown".
        if verifier.verify_signature(&parsed.text, line).is_err() {
            return Err(Rejection::BadSignature { kid: grant.kid.to_string() });
        }
        outcome = Some(Ok(()));
    }
    match outcome {
        Some(Ok(())) => Ok(cp),
        Some(Err(e)) => Err(e),
        None => Err(Rejection::UnknownKey {
            origin: origin.to_string(),
            kid: parsed
                .signatures
                .first()
                .map_or_else(|| "none".to_owned(), |s| format!("note key hash {:08x}", s.key_hash)),
        }),
    }
}

/// The checkpoint origin line of a node: `ipsp/1/<node-id>`.
pub fn checkpoint_origin(node: &NodeId) -> String {
    format!("ipsp/1/{node}")
}

/// Trust derived from a federation roster (SPEC.md §4.5): the members' key grants, as signed
/// by the central node, plus the central node's own keys.
#[derive(Clone, Debug)]
pub struct RosterTrust {
    roster: Verified<crate::record::Roster>,
    store: envelope::TrustStore,
}

impl RosterTrust {
    /// Verify `signed` as a roster under `central` (the central node's pinned keys). If
    /// `previous` is given, a lower serial is a [`Rejection::Rollback`] and another central
    /// origin is a [`Rejection::WrongOrigin`].
    pub fn open(
        signed: &SignedRecord,
        central: &envelope::TrustStore,
        previous: Option<&RosterTrust>,
    ) -> Result<RosterTrust, Rejection> {
        let roster = envelope::open_as::<crate::record::Roster>(signed, central)?;
        if let Some(prev) = previous {
            let (had, got) = (prev.roster.record(), roster.record());
            if got.origin != had.origin {
                return Err(Rejection::wrong_origin(&had.origin, &got.origin));
            }
            if got.serial < had.serial {
                return Err(Rejection::Rollback { had: had.serial, got: got.serial });
            }
        }
        let mut store = central.clone();
        for m in &roster.record().members {
            store.set(m.id.clone(), m.keys.clone());
        }
        Ok(RosterTrust { roster, store })
    }

    /// The verified roster.
    pub fn roster(&self) -> &Verified<crate::record::Roster> {
        &self.roster
    }

    /// A [`LogVerifier`] for member `id`, starting from the roster's grants for it.
    pub fn log_verifier(&self, id: &NodeId) -> Option<LogVerifier> {
        use envelope::KeyResolver as _;
        self.store.grants(id).map(|g| LogVerifier::new(id.clone(), g.to_vec()))
    }
}

impl envelope::KeyResolver for RosterTrust {
    fn grants(&self, origin: &NodeId) -> Option<&[KeyGrant]> {
        self.store.grants(origin)
    }
}
