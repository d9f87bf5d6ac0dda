//! The signed envelope: exact record bytes, the key id and the signature, and the one path
//! that turns them into a [`Verified`] record.
//!
//! On the wire (log sync, JSON Feed `_ipsp`, evidence bundles) an envelope is the JSON object
//! `{"kid": "<16 hex>", "record": "<base64 of the canonical record bytes>", "sig": "<base64>"}`.
//! The record bytes are carried as base64 so that no JSON or XML layer can ever re-serialise
//! them: every node, aggregator and mirror re-serves them verbatim.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::crypto::{self, KeyId, Signer};
use crate::error::Rejection;
use crate::ids::{Digest, NodeId};
use crate::jcs;
use crate::limits::MAX_RECORD_BYTES;
use crate::record::{FieldError, KeyGrant, Record, RecordBody, RecordType};

/// Canonical record bytes with their signature. Cheap to clone (the bytes are shared).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedRecord {
    bytes: Arc<[u8]>,
    kid: KeyId,
    sig: [u8; 64],
}

/// The JSON form of [`SignedRecord`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    kid: String,
    record: String,
    sig: String,
}

impl SignedRecord {
    /// Assemble from parts received separately (e.g. from an Atom extension element).
    /// Nothing is verified here; call [`open`].
    pub fn from_parts(bytes: Vec<u8>, kid: KeyId, sig: [u8; 64]) -> SignedRecord {
        SignedRecord { bytes: bytes.into(), kid, sig }
    }

    /// Decode the base64 fields of an envelope received as text.
    pub fn from_base64(record: &str, kid: &str, sig: &str) -> Result<SignedRecord, Rejection> {
        // Base64 inflates by 4/3: refuse before decoding anything absurd.
        if record.len() > MAX_RECORD_BYTES / 3 * 4 + 4 {
            return Err(Rejection::TooLarge {
                limit: MAX_RECORD_BYTES,
                actual: record.len() / 4 * 3,
                unit: "bytes",
            });
        }
        let bytes = crypto::decode_base64(record)
            .map_err(|e| Rejection::Malformed(format!("record is not base64: {e}")))?;
        let kid = KeyId::new(kid).map_err(|e| Rejection::Malformed(format!("kid: {e}")))?;
        let sig = crypto::decode_base64(sig)
            .map_err(|e| Rejection::Malformed(format!("sig is not base64: {e}")))?;
        // A signature of the wrong length is a signature that does not verify.
        let sig: [u8; 64] =
            sig.try_into().map_err(|_| Rejection::BadSignature { kid: kid.to_string() })?;
        Ok(SignedRecord { bytes: bytes.into(), kid, sig })
    }

    /// Decode the JSON envelope.
    pub fn from_json(json: &[u8]) -> Result<SignedRecord, Rejection> {
        if json.len() > MAX_RECORD_BYTES / 3 * 4 + 1024 {
            return Err(Rejection::TooLarge {
                limit: MAX_RECORD_BYTES,
                actual: json.len(),
                unit: "bytes",
            });
        }
        let wire: Wire = serde_json::from_slice(json)
            .map_err(|e| Rejection::Malformed(format!("envelope: {e}")))?;
        SignedRecord::from_base64(&wire.record, &wire.kid, &wire.sig)
    }

    /// The JSON envelope (canonical: keys sorted, no whitespace).
    pub fn to_json(&self) -> String {
        format!(
            "{{\"kid\":\"{}\",\"record\":\"{}\",\"sig\":\"{}\"}}",
            self.kid,
            self.record_base64(),
            self.sig_base64()
        )
    }

    /// The exact signed bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The shared signed bytes.
    pub fn shared_bytes(&self) -> Arc<[u8]> {
        Arc::clone(&self.bytes)
    }

    /// The key id named by the envelope.
    pub fn kid(&self) -> &KeyId {
        &self.kid
    }

    /// The raw signature.
    pub fn sig(&self) -> &[u8; 64] {
        &self.sig
    }

    /// The record bytes, standard base64.
    pub fn record_base64(&self) -> String {
        crypto::encode_base64(&self.bytes)
    }

    /// The signature, standard base64.
    pub fn sig_base64(&self) -> String {
        crypto::encode_base64(&self.sig)
    }

    /// SHA-256 of the record bytes: what `prev` and receipts refer to.
    pub fn digest(&self) -> Digest {
        Digest::of(&self.bytes)
    }

    /// The RFC 6962 leaf hash of the record bytes (its place in the log's Merkle tree).
    pub fn leaf_hash(&self) -> crate::merkle::Hash {
        crate::merkle::leaf_hash(&self.bytes)
    }
}

impl Serialize for SignedRecord {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Wire { kid: self.kid.to_string(), record: self.record_base64(), sig: self.sig_base64() }
            .serialize(s)
    }
}

impl<'de> Deserialize<'de> for SignedRecord {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = Wire::deserialize(d)?;
        SignedRecord::from_base64(&w.record, &w.kid, &w.sig).map_err(serde::de::Error::custom)
    }
}

/// A record that passed every check of [`open`]: canonical bytes, schema, trusted key valid at
/// its index, signature. Only this module can construct one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified<T> {
    record: T,
    signed: SignedRecord,
}

impl<T> Verified<T> {
    /// The parsed record.
    pub fn record(&self) -> &T {
        &self.record
    }

    /// The exact bytes and signature it was verified from.
    pub fn signed(&self) -> &SignedRecord {
        &self.signed
    }

    /// Both parts.
    pub fn into_parts(self) -> (T, SignedRecord) {
        (self.record, self.signed)
    }
}

/// Wrap a record that the caller in this crate has fully verified.
pub(crate) fn verified<T>(record: T, signed: SignedRecord) -> Verified<T> {
    Verified { record, signed }
}

/// Where a verifier finds a node's keys.
pub trait KeyResolver {
    /// The grants (keys with validity ranges) trusted for `origin`, or `None` if the origin is
    /// unknown.
    fn grants(&self, origin: &NodeId) -> Option<&[KeyGrant]>;
}

/// The simplest trust: keys pinned per origin (from `--trust KEY`, a verified roster or a
/// verified descriptor).
#[derive(Clone, Debug, Default)]
pub struct TrustStore {
    keys: BTreeMap<NodeId, Vec<KeyGrant>>,
}

impl TrustStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trust `grant` for `origin` (replacing any grant with the same key id).
    pub fn add(&mut self, origin: NodeId, grant: KeyGrant) {
        let grants = self.keys.entry(origin).or_default();
        grants.retain(|g| g.kid != grant.kid);
        grants.push(grant);
    }

    /// Replace all grants for `origin`.
    pub fn set(&mut self, origin: NodeId, grants: Vec<KeyGrant>) {
        self.keys.insert(origin, grants);
    }

    /// Origins known to this store.
    pub fn origins(&self) -> impl Iterator<Item = &NodeId> {
        self.keys.keys()
    }
}

impl KeyResolver for TrustStore {
    fn grants(&self, origin: &NodeId) -> Option<&[KeyGrant]> {
        self.keys.get(origin).map(Vec::as_slice)
    }
}

/// The signing input: the type's domain prefix followed by the record bytes.
pub fn signing_input(record_type: RecordType, bytes: &[u8]) -> Vec<u8> {
    let prefix = record_type.signing_prefix();
    let mut msg = Vec::with_capacity(prefix.len() + bytes.len());
    msg.extend_from_slice(prefix);
    msg.extend_from_slice(bytes);
    msg
}

/// Why a record could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The record breaks a field rule; nothing was signed.
    #[error("invalid record: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// The record cannot be encoded as canonical JSON (e.g. an integer above 2^53-1).
    #[error("cannot encode: {0}")]
    Encode(String),
    /// The encoded record is over [`MAX_RECORD_BYTES`].
    #[error("record is {0} bytes, the limit is {MAX_RECORD_BYTES}")]
    TooLarge(usize),
}

/// Validate, canonicalise and sign a record.
pub fn sign<R: RecordBody>(record: &R, signer: &Signer) -> Result<SignedRecord, SignError> {
    record.validate().map_err(SignError::Invalid)?;
    let bytes = jcs::to_canonical_vec(record).map_err(|e| SignError::Encode(e.to_string()))?;
    if bytes.len() > MAX_RECORD_BYTES {
        return Err(SignError::TooLarge(bytes.len()));
    }
    let sig = signer.sign(&signing_input(R::TYPE, &bytes));
    Ok(SignedRecord { bytes: bytes.into(), kid: signer.public_key().key_id(), sig })
}

/// Parse and check a record without its signature: size, canonical form, schema and field
/// rules. Used by [`open`], and by editors' tools to explain a refusal before signing.
pub fn parse_record(bytes: &[u8]) -> Result<Record, Rejection> {
    Rejection::check_size(bytes.len(), MAX_RECORD_BYTES, "bytes")?;
    // One pass both checks the canonical form and finds the type, so the typed parse is the
    // only other pass over the bytes (this is the hot path of every verification).
    let canonical = jcs::check_canonical_member(bytes, MAX_RECORD_BYTES, "type").map_err(|e| {
        match e.offset() {
            Some(offset) if e.is_not_canonical() => {
                Rejection::NonCanonical { offset, detail: e.to_string() }
            }
            _ => Rejection::Malformed(format!("record is not valid JSON: {e}")),
        }
    })?;
    let parsed = match canonical.member {
        Some(tag) => RecordType::from_name(tag).and_then(|t| Record::parse_as(t, canonical.text)),
        None => Record::from_json(bytes),
    };
    let record = parsed.map_err(|e| {
        if e.field == "ipsp" { Rejection::UnsupportedVersion } else { Rejection::Schema(vec![e]) }
    })?;
    record.validate().map_err(|errors| {
        if errors.iter().any(|e| e.field == "ipsp") {
            Rejection::UnsupportedVersion
        } else {
            Rejection::Schema(errors)
        }
    })?;
    Ok(record)
}

/// The full verification path for one signed record: [`parse_record`], then the origin's key
/// named by `kid` must be trusted and valid at the record's log index, then the Ed25519 strict
/// signature over [`signing_input`] must verify.
///
/// This checks one record in isolation. Log continuity, version chains and checkpoints are the
/// job of [`crate::verifier::LogVerifier`].
pub fn open(signed: &SignedRecord, keys: &dyn KeyResolver) -> Result<Verified<Record>, Rejection> {
    let record = parse_record(signed.bytes())?;
    let origin = record.origin();
    let grants = keys.grants(origin).ok_or_else(|| Rejection::UnknownOrigin(origin.to_string()))?;
    check_signature(&record, signed, grants)?;
    Ok(Verified { record, signed: signed.clone() })
}

/// Check `signed`'s signature and key validity for an already parsed `record`.
pub(crate) fn check_signature(
    record: &Record,
    signed: &SignedRecord,
    grants: &[KeyGrant],
) -> Result<(), Rejection> {
    let kid = signed.kid();
    let grant = grants.iter().find(|g| &g.kid == kid).ok_or_else(|| Rejection::UnknownKey {
        origin: record.origin().to_string(),
        kid: kid.to_string(),
    })?;
    // Documents outside the log (descriptor, roster) are signed "now": the key must be
    // neither retired nor revoked at all.
    let index = record.log_index().unwrap_or(u64::MAX);
    if let Some(status) = grant.status_at(index).refusal() {
        return Err(Rejection::RevokedKey { kid: kid.to_string(), index, status });
    }
    grant
        .public_key
        .verify(&signing_input(record.record_type(), signed.bytes()), signed.sig())
        .map_err(|_| Rejection::BadSignature { kid: kid.to_string() })
}

/// Open a record that must be of type `T`, e.g. `open_as::<Descriptor>` for what is served at
/// `/.well-known/portal-node`: a valid record of another type is [`Rejection::WrongType`].
pub fn open_as<T: RecordBody>(
    signed: &SignedRecord,
    keys: &dyn KeyResolver,
) -> Result<Verified<T>, Rejection> {
    let Verified { record, signed } = open(signed, keys)?;
    let got = record.record_type();
    match T::from_record(record) {
        Some(t) => Ok(Verified { record: t, signed }),
        None => Err(Rejection::WrongType { expected: T::TYPE, got }),
    }
}
