//! Evidence bundles (SPEC.md §11.4): one file holding an item's signed records, their inclusion
//! proofs, a checkpoint signed by the origin (and cosigned by a witness when available) and the
//! key history needed to check that each signing key was valid at its index. A bundle verifies
//! offline, with no network, against trusted keys or, lacking them, against the key history
//! it carries (which is then only self-certified: [`TrustBasis::SelfCertified`]).
//!
//! Every check here is one of the crate's own: [`envelope::parse_record`] and the signature
//! check of [`envelope::open`] for records, [`merkle::verify_inclusion`] for proofs,
//! [`verifier::open_checkpoint_note`] for the origin's checkpoint signature,
//! [`NoteVerifier`] for the witness cosignature, and the log verifier's key-event
//! rules ([`verifier`]) for the key history.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::checkpoint::{Checkpoint, NoteVerifier, SignedNote};
use crate::crypto::encode_base64;
use crate::envelope::{self, KeyResolver, SignedRecord, TrustStore, Verified};
use crate::error::Rejection;
use crate::ids::{ItemId, NodeId};
use crate::merkle::{self, Hash, MerkleError, SubtreeSource};
use crate::record::{Descriptor, KeyGrant, Record, RecordType, Roster};
use crate::time::Timestamp;
use crate::verifier::{self, checkpoint_origin};

/// The `type` member of every evidence bundle.
pub const BUNDLE_TYPE: &str = "portal-evidence-bundle";

/// The bundle format version this crate reads and writes.
pub const BUNDLE_VERSION: u64 = 1;

/// Largest bundle accepted, in bytes (64 MiB): an item's versions are at most 1 MiB each.
pub const MAX_BUNDLE_BYTES: usize = 64 << 20;

/// A log entry with its inclusion proof to the bundle's checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvenEntry {
    /// Its index in the origin's log.
    pub index: u64,
    /// The entry exactly as signed.
    pub signed: SignedRecord,
    /// RFC 9162 inclusion proof of `index` in the checkpoint's tree, leaf level first.
    pub proof: Vec<Hash>,
}

impl ProvenEntry {
    /// The entry at `index` with its inclusion proof in the tree of `size` leaves of `src`.
    pub fn prove<S: SubtreeSource + ?Sized>(
        src: &S,
        size: u64,
        index: u64,
        signed: SignedRecord,
    ) -> Result<ProvenEntry, MerkleError> {
        let proof = merkle::inclusion_proof(src, index, size)?;
        Ok(ProvenEntry { index, signed, proof })
    }
}

/// What tells a verifier which keys the origin had, and when.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyHistory {
    /// The origin's descriptor (§4.4): every key it has used, signed by a current key.
    pub descriptor: Option<SignedRecord>,
    /// A roster signed by the witness (§4.5) listing the origin's grants.
    pub roster: Option<SignedRecord>,
    /// Every key event of the origin's log below the checkpoint's size, in log order.
    pub events: Vec<ProvenEntry>,
}

/// The aggregator that cosigned the checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    /// Its node id (its cosignature's key name is `ipsp/1/<origin>`).
    pub origin: NodeId,
    /// Its own descriptor, listing its keys.
    pub descriptor: SignedRecord,
}

/// An evidence bundle (SPEC.md §11.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    /// The node that signed the records.
    pub origin: NodeId,
    /// The item.
    pub item: ItemId,
    /// A checkpoint note of `origin`, signed by it, possibly cosigned by the witness.
    pub checkpoint: String,
    /// The item's entries, in log order: versions, then the withdrawal if any.
    pub entries: Vec<ProvenEntry>,
    /// The key history.
    pub keys: KeyHistory,
    /// The witness whose cosignature the checkpoint carries.
    pub witness: Option<Witness>,
}

/// How far the keys a bundle verified against are to be believed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrustBasis {
    /// The origin's keys came from the verifier's trust (pinned keys or a roster).
    Trusted,
    /// The origin's keys came from a roster in the bundle, signed by a witness the verifier
    /// trusts.
    TrustedWitness,
    /// Nothing the verifier trusts vouches for the keys: they are the bundle's own claim, to
    /// compare with the key ids the origin publishes.
    SelfCertified,
}

/// One entry that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryReport {
    /// Log index.
    pub index: u64,
    /// The verified record (an item version or a withdrawal).
    pub record: Verified<Record>,
}

/// The cosignature that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessReport {
    /// The witness.
    pub origin: NodeId,
    /// Its cosignature's timestamp (Unix seconds).
    pub time: u64,
    /// Whether its key came from the verifier's trust, or only from its own descriptor.
    pub basis: TrustBasis,
}

/// What a bundle proved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleReport {
    /// The origin.
    pub origin: NodeId,
    /// The item.
    pub item: ItemId,
    /// Every entry, in log order.
    pub entries: Vec<EntryReport>,
    /// The checkpoint they are included in.
    pub checkpoint: Checkpoint,
    /// The checkpoint's `time`.
    pub checkpoint_time: Timestamp,
    /// Where the origin's keys came from.
    pub basis: TrustBasis,
    /// The origin's keys after the key history, as the records were checked against.
    pub grants: Vec<KeyGrant>,
    /// Key events checked.
    pub key_events: usize,
    /// The witness cosignature, when the bundle has one.
    pub witness: Option<WitnessReport>,
}

impl BundleReport {
    /// Whether the item's last entry is a withdrawal.
    pub fn withdrawn(&self) -> bool {
        self.entries.last().is_some_and(|e| matches!(e.record.record(), Record::Withdrawal(_)))
    }
}

// ---------------------------------------------------------------------------------------------
// Wire form

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEntry {
    index: u64,
    kid: String,
    record: String,
    sig: String,
    proof: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireKeys {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    descriptor: Option<SignedRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    roster: Option<SignedRecord>,
    events: Vec<WireEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireWitness {
    origin: NodeId,
    descriptor: SignedRecord,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    #[serde(rename = "type")]
    bundle_type: String,
    version: u64,
    origin: NodeId,
    item: ItemId,
    checkpoint: String,
    entries: Vec<WireEntry>,
    key_history: WireKeys,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    witness: Option<WireWitness>,
}

fn to_wire(e: &ProvenEntry) -> WireEntry {
    WireEntry {
        index: e.index,
        kid: e.signed.kid().to_string(),
        record: e.signed.record_base64(),
        sig: e.signed.sig_base64(),
        proof: e.proof.iter().map(|h| encode_base64(h)).collect(),
    }
}

fn from_wire(e: WireEntry) -> Result<ProvenEntry, Rejection> {
    let signed = SignedRecord::from_base64(&e.record, &e.kid, &e.sig)?;
    let proof = e
        .proof
        .iter()
        .map(|h| {
            crate::crypto::decode_base64_array::<32>(h).map_err(|_| {
                Rejection::Malformed(format!(
                    "bundle: proof of entry {} has a hash that is not 32 bytes of base64",
                    e.index
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(ProvenEntry { index: e.index, signed, proof })
}

impl Bundle {
    /// Parse a bundle: at most [`MAX_BUNDLE_BYTES`] (`too-large`), a JSON object whose `type`
    /// is [`BUNDLE_TYPE`] and whose shape is that of SPEC.md §11.4 (`malformed`), `version` 1
    /// (`unsupported-version`). Nothing is verified yet: see [`Bundle::verify`].
    pub fn from_slice(bytes: &[u8]) -> Result<Bundle, Rejection> {
        Rejection::check_size(bytes.len(), MAX_BUNDLE_BYTES, "bytes")?;
        let malformed = |m: String| Rejection::Malformed(format!("bundle: {m}"));
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| malformed(format!("not JSON: {e}")))?;
        if value.get("type").and_then(Value::as_str) != Some(BUNDLE_TYPE) {
            return Err(malformed(format!(
                "not an evidence bundle (\"type\" is not {BUNDLE_TYPE:?})"
            )));
        }
        if value.get("version").and_then(Value::as_u64) != Some(BUNDLE_VERSION) {
            return Err(Rejection::UnsupportedVersion);
        }
        let wire: Wire = serde_json::from_value(value).map_err(|e| malformed(e.to_string()))?;
        if wire.entries.is_empty() {
            return Err(malformed("no entries".into()));
        }
        Ok(Bundle {
            origin: wire.origin,
            item: wire.item,
            checkpoint: wire.checkpoint,
            entries: wire.entries.into_iter().map(from_wire).collect::<Result<_, _>>()?,
            keys: KeyHistory {
                descriptor: wire.key_history.descriptor,
                roster: wire.key_history.roster,
                events: wire
                    .key_history
                    .events
                    .into_iter()
                    .map(from_wire)
                    .collect::<Result<_, _>>()?,
            },
            witness: wire.witness.map(|w| Witness { origin: w.origin, descriptor: w.descriptor }),
        })
    }

    /// The bundle as JSON (pretty-printed, deterministic).
    pub fn to_json(&self) -> String {
        let wire = Wire {
            bundle_type: BUNDLE_TYPE.to_owned(),
            version: BUNDLE_VERSION,
            origin: self.origin.clone(),
            item: self.item.clone(),
            checkpoint: self.checkpoint.clone(),
            entries: self.entries.iter().map(to_wire).collect(),
            key_history: WireKeys {
                descriptor: self.keys.descriptor.clone(),
                roster: self.keys.roster.clone(),
                events: self.keys.events.iter().map(to_wire).collect(),
            },
            witness: self.witness.as_ref().map(|w| WireWitness {
                origin: w.origin.clone(),
                descriptor: w.descriptor.clone(),
            }),
        };
        let mut text = serde_json::to_string_pretty(&wire).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Verify everything offline, as SPEC.md §11.4 says, against `trust` (pinned keys, a
    /// roster, or nothing: then the bundle's own key history is used and the report says
    /// [`TrustBasis::SelfCertified`]). The first failure is returned with its §11.3 code.
    pub fn verify(&self, trust: &dyn KeyResolver) -> Result<BundleReport, Rejection> {
        // 1. The checkpoint body (its signature needs the keys).
        let note = SignedNote::parse(&self.checkpoint)
            .map_err(|e| Rejection::Malformed(format!("checkpoint: {e}")))?;
        let cp = Checkpoint::parse_body(&note.text)
            .map_err(|e| Rejection::Malformed(format!("checkpoint: {e}")))?;

        // 2. The witness's keys.
        let witness = match &self.witness {
            Some(w) => Some(open_witness(w, trust)?),
            None => None,
        };

        // 3. The origin's anchor: the verifier's trust, else a roster signed by the witness,
        // else the origin's self-signed descriptor.
        let roster = match (&self.keys.roster, &witness) {
            (Some(signed), Some((w, grants, _))) => Some(open_roster(signed, w, grants)?),
            (Some(_), None) => {
                return Err(Rejection::Malformed(
                    "bundle: a roster in the key history needs the witness that signed it".into(),
                ));
            }
            (None, _) => None,
        };
        let roster_grants = roster
            .as_ref()
            .map(|r| {
                r.record().members.iter().find(|m| m.id == self.origin).map(|m| m.keys.clone())
            })
            .transpose_none(&self.origin)?;
        let (mut grants, basis) = match trust.grants(&self.origin) {
            Some(g) => (g.to_vec(), TrustBasis::Trusted),
            None => match (&roster_grants, &witness) {
                (Some(g), Some((_, _, TrustBasis::Trusted))) => {
                    (g.clone(), TrustBasis::TrustedWitness)
                }
                (Some(g), _) => (g.clone(), TrustBasis::SelfCertified),
                (None, _) => match &self.keys.descriptor {
                    Some(d) => (self_declared_keys(d, &self.origin)?, TrustBasis::SelfCertified),
                    None => return Err(Rejection::UnknownOrigin(self.origin.to_string())),
                },
            },
        };
        if let Some(g) = &roster_grants {
            merge_grants(&mut grants, g);
        }

        // 4. The descriptor, before the key events if the keys so far can open it, else after.
        let mut descriptor_open = false;
        if let Some(d) = &self.keys.descriptor
            && let Ok(opened) = open_descriptor(d, &self.origin, &grants)
        {
            merge_grants(&mut grants, &opened.record().keys);
            descriptor_open = true;
        }

        // 5. Key events, in log order, each in the checkpoint and signed by a key valid then.
        let mut last = None;
        for e in &self.keys.events {
            check_order(&mut last, e.index, &cp)?;
            let record = entry_record(e, &self.origin)?;
            let Record::KeyEvent(event) = &record else {
                return Err(Rejection::WrongType {
                    expected: RecordType::KeyEvent,
                    got: record.record_type(),
                });
            };
            envelope::check_signature(&record, &e.signed, &grants)?;
            check_inclusion(e, &cp)?;
            verifier::check_key_event(&self.origin, &grants, event, true)?;
            verifier::apply_key_event(&mut grants, event, e.signed.kid());
        }
        if let (Some(d), false) = (&self.keys.descriptor, descriptor_open) {
            let opened = open_descriptor(d, &self.origin, &grants)?;
            merge_grants(&mut grants, &opened.record().keys);
        }

        // 6. The origin's signature on the checkpoint, by a key valid at its last index.
        let cp = verifier::open_checkpoint_note(&self.checkpoint, &self.origin, &grants)?;
        let checkpoint_time = cp.time().and_then(Timestamp::from_unix).ok_or_else(|| {
            Rejection::Malformed("checkpoint has no `time` extension line".into())
        })?;

        // 7. The witness's cosignature.
        let witness = match witness {
            Some((origin, w_grants, w_basis)) => {
                let time = check_cosignature(&note, &origin, &w_grants)?;
                Some(WitnessReport { origin, time, basis: w_basis })
            }
            None => None,
        };

        // 8. The item's entries: in the checkpoint, signed by a key valid at their index, one
        // item's unbroken version chain.
        let mut last = None;
        let mut entries: Vec<EntryReport> = Vec::with_capacity(self.entries.len());
        for e in &self.entries {
            check_order(&mut last, e.index, &cp)?;
            let record = entry_record(e, &self.origin)?;
            envelope::check_signature(&record, &e.signed, &grants)?;
            check_inclusion(e, &cp)?;
            self.check_chain(entries.last(), &record)?;
            entries.push(EntryReport {
                index: e.index,
                record: envelope::verified(record, e.signed.clone()),
            });
        }

        Ok(BundleReport {
            origin: self.origin.clone(),
            item: self.item.clone(),
            entries,
            checkpoint: cp,
            checkpoint_time,
            basis,
            grants,
            key_events: self.keys.events.len(),
            witness,
        })
    }

    /// The version chain of SPEC.md §11.2 step 3, within the bundle: every entry is of this
    /// item; each version follows the one before it (`prev` its digest); a withdrawal names
    /// the last version and ends the chain.
    fn check_chain(&self, prev: Option<&EntryReport>, record: &Record) -> Result<(), Rejection> {
        let broken = |detail: String| Rejection::VersionChain { id: self.item.to_string(), detail };
        let (id, version) = match record {
            Record::Item(i) => (&i.id, i.version),
            Record::Withdrawal(w) => (&w.id, w.version),
            other => {
                return Err(Rejection::WrongType {
                    expected: RecordType::Item,
                    got: other.record_type(),
                });
            }
        };
        if id != &self.item {
            return Err(broken(format!("an entry of another item ({id})")));
        }
        let Some(prev) = prev else {
            return match record {
                Record::Withdrawal(_) => {
                    Err(broken("a withdrawal without the version it withdraws".into()))
                }
                _ => Ok(()),
            };
        };
        let (prev_version, prev_digest) = match prev.record.record() {
            Record::Item(i) => (i.version, prev.record.signed().digest()),
            _ => return Err(broken("an entry after the withdrawal".into())),
        };
        match record {
            Record::Item(i) if i.version != prev_version + 1 => {
                Err(broken(format!("version {} does not follow version {prev_version}", i.version)))
            }
            Record::Item(i) if i.prev.as_ref() != Some(&prev_digest) => Err(broken(format!(
                "version {}: prev is not the hash of version {prev_version}",
                i.version
            ))),
            Record::Withdrawal(w) if w.version != prev_version || w.prev != prev_digest => {
                Err(broken(format!(
                    "withdraws version {version} but the last version is {prev_version}"
                )))
            }
            _ => Ok(()),
        }
    }
}

/// `Option<Option<T>>` from a roster lookup: a roster that does not list the origin is
/// `unknown-origin`.
trait TransposeNone<T> {
    fn transpose_none(self, origin: &NodeId) -> Result<Option<T>, Rejection>;
}

impl<T> TransposeNone<T> for Option<Option<T>> {
    fn transpose_none(self, origin: &NodeId) -> Result<Option<T>, Rejection> {
        match self {
            None => Ok(None),
            Some(Some(t)) => Ok(Some(t)),
            Some(None) => Err(Rejection::UnknownOrigin(format!(
                "{origin} (the bundle's roster does not list it)"
            ))),
        }
    }
}

/// Indices strictly increase and stay below the checkpoint's size.
fn check_order(last: &mut Option<u64>, index: u64, cp: &Checkpoint) -> Result<(), Rejection> {
    if last.is_some_and(|l| index <= l) {
        return Err(Rejection::Malformed(format!("bundle: entry {index} is out of log order")));
    }
    if index >= cp.size {
        return Err(Rejection::InconsistentCheckpoint(format!(
            "entry {index} is not below the checkpoint's size {}",
            cp.size
        )));
    }
    *last = Some(index);
    Ok(())
}

/// The entry's leaf is in the checkpoint's tree at its index.
fn check_inclusion(e: &ProvenEntry, cp: &Checkpoint) -> Result<(), Rejection> {
    merkle::verify_inclusion(&e.signed.leaf_hash(), e.index, cp.size, &e.proof, &cp.root).map_err(
        |err| {
            Rejection::InconsistentCheckpoint(format!(
                "inclusion proof of entry {} in the checkpoint of size {}: {err}",
                e.index, cp.size
            ))
        },
    )
}

/// The entry's record, parsed and checked (§11.1 steps 1–3), of `origin`, at its index.
fn entry_record(e: &ProvenEntry, origin: &NodeId) -> Result<Record, Rejection> {
    let record = envelope::parse_record(e.signed.bytes())?;
    if record.origin() != origin {
        return Err(Rejection::WrongOrigin {
            expected: origin.to_string(),
            got: record.origin().to_string(),
        });
    }
    match record.log_index() {
        Some(i) if i == e.index => Ok(record),
        Some(i) => Err(Rejection::Malformed(format!(
            "bundle: entry {} holds the record of log index {i}",
            e.index
        ))),
        None => Err(Rejection::Malformed(format!(
            "bundle: entry {} is a {}, not a log entry",
            e.index,
            record.record_type()
        ))),
    }
}

/// A descriptor of `origin`, opened under `grants`.
fn open_descriptor(
    signed: &SignedRecord,
    origin: &NodeId,
    grants: &[KeyGrant],
) -> Result<Verified<Descriptor>, Rejection> {
    let mut store = TrustStore::new();
    store.set(origin.clone(), grants.to_vec());
    let d = envelope::open_as::<Descriptor>(signed, &store)?;
    if &d.record().origin != origin {
        return Err(Rejection::WrongOrigin {
            expected: origin.to_string(),
            got: d.record().origin.to_string(),
        });
    }
    Ok(d)
}

/// The keys a descriptor declares for itself, once it is checked to be signed by one of them.
fn self_declared_keys(signed: &SignedRecord, origin: &NodeId) -> Result<Vec<KeyGrant>, Rejection> {
    let record = envelope::parse_record(signed.bytes())?;
    let Record::Descriptor(d) = record else {
        return Err(Rejection::WrongType {
            expected: RecordType::Descriptor,
            got: record.record_type(),
        });
    };
    open_descriptor(signed, origin, &d.keys)?;
    Ok(d.keys)
}

/// The witness's keys (trusted, or declared by its own descriptor) and its opened descriptor.
fn open_witness(
    w: &Witness,
    trust: &dyn KeyResolver,
) -> Result<(NodeId, Vec<KeyGrant>, TrustBasis), Rejection> {
    let (grants, basis) = match trust.grants(&w.origin) {
        Some(g) => (g.to_vec(), TrustBasis::Trusted),
        None => (self_declared_keys(&w.descriptor, &w.origin)?, TrustBasis::SelfCertified),
    };
    let opened = open_descriptor(&w.descriptor, &w.origin, &grants)?;
    let mut grants = grants;
    if basis == TrustBasis::Trusted {
        merge_grants(&mut grants, &opened.record().keys);
    }
    Ok((w.origin.clone(), grants, basis))
}

/// A roster signed by the witness.
fn open_roster(
    signed: &SignedRecord,
    witness: &NodeId,
    grants: &[KeyGrant],
) -> Result<Verified<Roster>, Rejection> {
    let mut store = TrustStore::new();
    store.set(witness.clone(), grants.to_vec());
    let r = envelope::open_as::<Roster>(signed, &store)?;
    if &r.record().origin != witness {
        return Err(Rejection::WrongOrigin {
            expected: witness.to_string(),
            got: r.record().origin.to_string(),
        });
    }
    Ok(r)
}

/// Add what a verified statement (descriptor, roster) says about the origin's keys: keys not
/// yet known are added; a known key's validity only narrows (later `from_index`, earlier
/// `until_index` and `revoked_from`).
fn merge_grants(grants: &mut Vec<KeyGrant>, stated: &[KeyGrant]) {
    fn min(a: Option<u64>, b: Option<u64>) -> Option<u64> {
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
    for s in stated {
        match grants.iter_mut().find(|g| g.kid == s.kid) {
            Some(g) => {
                g.from_index = g.from_index.max(s.from_index);
                g.until_index = min(g.until_index, s.until_index);
                g.revoked_from = min(g.revoked_from, s.revoked_from);
            }
            None => grants.push(s.clone()),
        }
    }
}

/// The witness's `cosignature/v1` line on the checkpoint, by one of its keys that is not
/// revoked, must be present and verify; returns its timestamp.
fn check_cosignature(
    note: &SignedNote,
    witness: &NodeId,
    grants: &[KeyGrant],
) -> Result<u64, Rejection> {
    let name = checkpoint_origin(witness);
    for g in grants.iter().filter(|g| g.revoked_from.is_none()) {
        let v = NoteVerifier::cosignature(&name, g.public_key.as_bytes())
            .map_err(|e| Rejection::Malformed(format!("witness key {}: {e}", g.kid)))?;
        let Some(line) =
            note.signatures.iter().find(|s| s.name == name && s.key_hash == v.key_hash())
        else {
            continue;
        };
        return match v.verify_signature(&note.text, line) {
            Ok(Some(time)) => Ok(time),
            _ => Err(Rejection::BadSignature {
                kid: format!("{} (cosignature of {witness})", g.kid),
            }),
        };
    }
    Err(Rejection::BadSignature {
        kid: format!("none: the checkpoint has no cosignature by witness {witness}"),
    })
}

/// Checkpoint helper for servers: the note's body, to size proofs (`malformed` if it is not a
/// checkpoint).
pub fn checkpoint_of(note: &str) -> Result<Checkpoint, Rejection> {
    let parsed =
        SignedNote::parse(note).map_err(|e| Rejection::Malformed(format!("checkpoint: {e}")))?;
    Checkpoint::parse_body(&parsed.text)
        .map_err(|e| Rejection::Malformed(format!("checkpoint: {e}")))
}
