//! C2SP signed notes, tlog-checkpoint bodies and tlog-cosignature/v1 witness cosignatures.
//!
//! * Signed note (c2sp.org/signed-note, golang.org/x/mod/sumdb/note): a UTF-8 text with no
//!   ASCII control characters other than newline, ending in a newline, then a blank line,
//!   then one or more lines `— <key name> <base64(key hash ‖ signature)>\n` (U+2014, space).
//!   The key hash is the first 4 bytes of `SHA-256(name ‖ 0x0A ‖ alg ‖ public key)`, read
//!   big-endian.
//! * Checkpoint body (c2sp.org/tlog-checkpoint): origin line, decimal tree size (no leading
//!   zeros), base64 root hash, then optional non-empty extension lines. In IPSP/1 the
//!   first extension line is `time <unix-seconds>`.
//! * The log signs the note text with Ed25519 (alg 0x01). A witness cosignature
//!   (c2sp.org/tlog-cosignature, alg 0x04) signs `"cosignature/v1\ntime <T>\n" ‖ body` and
//!   its signature payload is `key hash (4) ‖ T (8, big-endian) ‖ Ed25519 signature (64)`.
//!
//! Verification uses ed25519-dalek `verify_strict` and rejects non-canonical and
//! small-order public keys. Nothing here reads a clock: times are arguments.

use crate::crypto::{PublicKey, Signer};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};

use crate::merkle::Hash;

/// Largest signed note accepted or produced, in bytes (1 MiB).
pub const MAX_NOTE_BYTES: usize = 1 << 20;

/// Largest number of signature lines in a signed note (as golang.org/x/mod/sumdb/note).
pub const MAX_SIGNATURES: usize = 100;

/// Largest number of extension lines in a checkpoint body.
pub const MAX_EXTENSION_LINES: usize = 16;

/// Signature type byte of plain Ed25519 note signatures (c2sp.org/signed-note).
pub const ALG_ED25519: u8 = 0x01;

/// Signature type byte of timestamped Ed25519 cosignatures (c2sp.org/tlog-cosignature).
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// First line of the message signed by a `cosignature/v1` cosignature.
pub const COSIGNATURE_V1_HEADER: &str = "cosignature/v1\n";

/// Largest cosignature timestamp allowed by c2sp.org/tlog-cosignature (2^63 - 1).
pub const MAX_COSIGNATURE_TIME: u64 = i64::MAX as u64;

/// Prefix of a signature line: em dash (U+2014) and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// Errors from parsing, signing and verifying signed notes and checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The note is larger than [`MAX_NOTE_BYTES`].
    #[error("note is {size} bytes, more than the limit")]
    TooLarge {
        /// Size of the note in bytes.
        size: usize,
    },
    /// The note is not UTF-8, or has an ASCII control character other than newline.
    #[error("note is not UTF-8 or has a control character")]
    InvalidCharacters,
    /// The note is not `text`, blank line, signature lines; `.0` says what is wrong.
    #[error("malformed note: {0}")]
    MalformedNote(&'static str),
    /// A signature line is malformed; `.0` says what is wrong.
    #[error("malformed signature line: {0}")]
    MalformedSignatureLine(&'static str),
    /// The note has more than [`MAX_SIGNATURES`] signature lines.
    #[error("note has more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    /// A key name is empty, or has a Unicode space or a `+`.
    #[error("invalid key name")]
    InvalidKeyName,
    /// The note text is not a valid checkpoint body; `.0` says what is wrong.
    #[error("invalid checkpoint: {0}")]
    InvalidCheckpoint(&'static str),
    /// A public key is not 32 bytes, not a canonical point encoding, or of small order.
    #[error("invalid or weak Ed25519 public key")]
    InvalidPublicKey,
    /// A verifier key string (`<name>+<hash>+<base64 key>`) is malformed or its hash is wrong.
    #[error("invalid verifier key: {0}")]
    InvalidVerifierKey(&'static str),
    /// No verifiers were given; the first one must be the log's key.
    #[error("no verifiers given")]
    NoVerifiers,
    /// Two of the given verifiers share a key name and key hash.
    #[error("ambiguous key {name}+{key_hash:08x}")]
    AmbiguousVerifier {
        /// The shared key name.
        name: String,
        /// The shared key hash.
        key_hash: u32,
    },
    /// A signature line from a known key (name and key hash match) does not verify.
    #[error("invalid signature for key {name}+{key_hash:08x}")]
    InvalidSignature {
        /// Key name of the signature line.
        name: String,
        /// Key hash of the signature line.
        key_hash: u32,
    },
    /// No signature line of the note is by a known key.
    #[error("note has no verifiable signatures")]
    NoVerifiedSignature,
    /// The note has no valid signature by the log's key (the first verifier).
    #[error("no signature by the log key {name}")]
    MissingLogSignature {
        /// Key name of the log's key.
        name: String,
    },
    /// The checkpoint's origin line is not the log key's name.
    #[error("checkpoint origin does not match the log key name")]
    OriginMismatch {
        /// The origin line of the checkpoint.
        origin: String,
        /// The name of the log's key.
        key_name: String,
    },
    /// A cosignature timestamp is larger than [`MAX_COSIGNATURE_TIME`].
    #[error("cosignature timestamp {0} is larger than 2^63 - 1")]
    TimestampOutOfRange(u64),
}

// ---------------------------------------------------------------------------
// Key names, key hashes, keys
// ---------------------------------------------------------------------------

/// Whether `name` is a valid key name: non-empty, no Unicode space, no `+`.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// Key hash (key ID) of a note key: the first 4 bytes, big-endian, of
/// `SHA-256(name ‖ 0x0A ‖ alg ‖ public_key)`.
pub fn key_hash(name: &str, alg: u8, public_key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([alg]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Parses an Ed25519 public key under the IPSP strict policy ([`crate::crypto::PublicKey`]).
fn strict_public_key(bytes: &[u8]) -> Result<PublicKey, CheckpointError> {
    PublicKey::from_bytes(bytes).map_err(|_| CheckpointError::InvalidPublicKey)
}

/// Strict Ed25519 verification ([`crate::crypto::PublicKey::verify`]).
fn verify_ed25519(key: &PublicKey, msg: &[u8], sig: &[u8]) -> bool {
    key.verify(msg, sig).is_ok()
}

// ---------------------------------------------------------------------------
// Checkpoint body
// ---------------------------------------------------------------------------

/// A tlog-checkpoint note body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Origin line: the log's identity (in IPSP/1 `ipsp/1/<node-id>`).
    pub origin: String,
    /// Tree size: number of leaves.
    pub size: u64,
    /// Root hash of the tree of `size` leaves.
    pub root: Hash,
    /// Extension lines, without their newlines; each must be non-empty.
    pub extensions: Vec<String>,
}

/// Whether `s` is a non-empty ASCII decimal with no leading zero (except `0` itself).
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

fn has_control(s: &str) -> bool {
    s.chars().any(|c| c < '\u{20}')
}

impl Checkpoint {
    /// A checkpoint with no extension lines.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Self {
        Checkpoint { origin: origin.into(), size, root, extensions: Vec::new() }
    }

    /// An IPSP/1 checkpoint: its only extension line is `time <unix-seconds>`.
    pub fn with_time(origin: impl Into<String>, size: u64, root: Hash, time: u64) -> Self {
        Checkpoint { origin: origin.into(), size, root, extensions: vec![format!("time {time}")] }
    }

    /// The IPSP/1 time: the first extension line when it is `time <decimal>` (no leading
    /// zeros), else `None`.
    pub fn time(&self) -> Option<u64> {
        self.extensions.first().and_then(|l| l.strip_prefix("time ")).and_then(parse_decimal)
    }

    /// The note text: origin, size, base64 root and extension lines, each ending in `\n`.
    ///
    /// The result is only a valid body if [`Checkpoint::validate`] succeeds.
    pub fn body(&self) -> String {
        let mut s = format!("{}\n{}\n{}\n", self.origin, self.size, BASE64.encode(self.root));
        for ext in &self.extensions {
            s.push_str(ext);
            s.push('\n');
        }
        s
    }

    /// Checks that [`Checkpoint::body`] parses back to this checkpoint: non-empty origin
    /// and extension lines, no control characters, at most [`MAX_EXTENSION_LINES`]
    /// extensions.
    pub fn validate(&self) -> Result<(), CheckpointError> {
        if Checkpoint::parse_body(&self.body())? != *self {
            return Err(CheckpointError::InvalidCheckpoint("does not round-trip"));
        }
        Ok(())
    }

    /// Parses a checkpoint body (a note text, ending in a newline). Strict: the size has
    /// no leading zeros, the root is canonical base64 of exactly 32 bytes, extension lines
    /// are non-empty, and there are no control characters.
    pub fn parse_body(text: &str) -> Result<Checkpoint, CheckpointError> {
        let bad = CheckpointError::InvalidCheckpoint;
        if has_control_except_newline(text) {
            return Err(CheckpointError::InvalidCharacters);
        }
        let Some(text) = text.strip_suffix('\n') else {
            return Err(bad("text does not end in a newline"));
        };
        let mut lines = text.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(bad("empty origin line"));
        }
        let size = lines
            .next()
            .and_then(parse_decimal)
            .ok_or(bad("tree size is not a canonical decimal"))?;
        let root_line = lines.next().ok_or(bad("missing root hash line"))?;
        let root_bytes = BASE64.decode(root_line).map_err(|_| bad("root hash is not base64"))?;
        let root: Hash =
            root_bytes.as_slice().try_into().map_err(|_| bad("root hash is not 32 bytes"))?;
        let mut extensions = Vec::new();
        for line in lines {
            if line.is_empty() {
                return Err(bad("empty extension line"));
            }
            if extensions.len() == MAX_EXTENSION_LINES {
                return Err(bad("too many extension lines"));
            }
            extensions.push(line.to_owned());
        }
        Ok(Checkpoint { origin: origin.to_owned(), size, root, extensions })
    }
}

fn has_control_except_newline(s: &str) -> bool {
    s.chars().any(|c| c < '\u{20}' && c != '\n')
}

// ---------------------------------------------------------------------------
// Signed notes
// ---------------------------------------------------------------------------

/// One signature line of a signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// Key name.
    pub name: String,
    /// Key hash (the first 4 decoded bytes, big-endian).
    pub key_hash: u32,
    /// The rest of the decoded bytes (at least 1): the signature, which for a
    /// cosignature is `timestamp (8) ‖ Ed25519 signature (64)`.
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// Parses one signature line, `— <name> <base64>`, with or without its final newline.
    pub fn parse_line(line: &str) -> Result<NoteSignature, CheckpointError> {
        let bad = CheckpointError::MalformedSignatureLine;
        let line = line.strip_suffix('\n').unwrap_or(line);
        if has_control(line) {
            return Err(CheckpointError::InvalidCharacters);
        }
        let rest = line
            .strip_prefix(SIG_PREFIX)
            .ok_or(bad("does not start with an em dash and a space"))?;
        let (name, b64) = rest.split_once(' ').ok_or(bad("no space after the key name"))?;
        if !is_valid_key_name(name) {
            return Err(CheckpointError::InvalidKeyName);
        }
        if b64.is_empty() {
            return Err(bad("empty signature"));
        }
        let raw = BASE64.decode(b64).map_err(|_| bad("signature is not base64"))?;
        if raw.len() < 5 {
            return Err(bad("signature shorter than 5 bytes"));
        }
        let (hash, sig) = raw.split_at(4);
        Ok(NoteSignature {
            name: name.to_owned(),
            key_hash: u32::from_be_bytes([hash[0], hash[1], hash[2], hash[3]]),
            signature: sig.to_vec(),
        })
    }

    /// The signature line, `— <name> <base64(key hash ‖ signature)>\n`.
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_hash.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}\n", self.name, BASE64.encode(raw))
    }
}

/// A parsed (not verified) signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNote {
    /// The note text, including its final newline but not the blank separator line.
    pub text: String,
    /// The signature lines, in order (duplicates kept as found).
    pub signatures: Vec<NoteSignature>,
}

impl SignedNote {
    /// Parses a signed note, as golang.org/x/mod/sumdb/note `Open` does before verifying:
    /// at most [`MAX_NOTE_BYTES`] bytes, UTF-8 without control characters other than
    /// newline, split at the last blank line, and one or more well-formed signature lines
    /// (at most [`MAX_SIGNATURES`]) each ending in a newline.
    pub fn parse(msg: impl AsRef<[u8]>) -> Result<SignedNote, CheckpointError> {
        let msg = msg.as_ref();
        if msg.len() > MAX_NOTE_BYTES {
            return Err(CheckpointError::TooLarge { size: msg.len() });
        }
        let msg = std::str::from_utf8(msg).map_err(|_| CheckpointError::InvalidCharacters)?;
        if has_control_except_newline(msg) {
            return Err(CheckpointError::InvalidCharacters);
        }
        let split = msg
            .rfind("\n\n")
            .ok_or(CheckpointError::MalformedNote("no blank line before the signatures"))?;
        let (text, sigs) = (&msg[..split + 1], &msg[split + 2..]);
        if sigs.is_empty() {
            return Err(CheckpointError::MalformedNote("no signature lines"));
        }
        let Some(sigs) = sigs.strip_suffix('\n') else {
            return Err(CheckpointError::MalformedNote("does not end in a newline"));
        };
        let mut signatures = Vec::new();
        for line in sigs.split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(CheckpointError::TooManySignatures);
            }
            signatures.push(NoteSignature::parse_line(line)?);
        }
        Ok(SignedNote { text: text.to_owned(), signatures })
    }

    /// The encoded note: text, blank line, signature lines.
    pub fn format(&self) -> String {
        let mut s = String::with_capacity(self.text.len() + 1 + 128 * self.signatures.len());
        s.push_str(&self.text);
        s.push('\n');
        for sig in &self.signatures {
            s.push_str(&sig.to_line());
        }
        s
    }
}

// ---------------------------------------------------------------------------
// Signing
// ---------------------------------------------------------------------------

/// The message a `cosignature/v1` cosignature signs:
/// `"cosignature/v1\ntime <time>\n" ‖ body`.
pub fn cosignature_message(body: &str, time: u64) -> String {
    format!("{COSIGNATURE_V1_HEADER}time {time}\n{body}")
}

/// Signs a note text with Ed25519 (signature type 0x01) as key `name`: returns the
/// signature line, ending in a newline. The text must end in a newline and have no
/// control characters other than newlines.
pub fn sign_note(text: &str, name: &str, key: &Signer) -> Result<String, CheckpointError> {
    if !text.ends_with('\n') {
        return Err(CheckpointError::MalformedNote("text does not end in a newline"));
    }
    if has_control_except_newline(text) {
        return Err(CheckpointError::InvalidCharacters);
    }
    if !is_valid_key_name(name) {
        return Err(CheckpointError::InvalidKeyName);
    }
    let sig = key.sign(text.as_bytes());
    Ok(NoteSignature {
        name: name.to_owned(),
        key_hash: key_hash(name, ALG_ED25519, key.public_key().as_bytes()),
        signature: sig.to_vec(),
    }
    .to_line())
}

/// Signs a checkpoint as its log: returns the whole signed note (body, blank line, one
/// Ed25519 (type 0x01) signature line by key `name`).
pub fn sign_checkpoint(
    cp: &Checkpoint,
    name: &str,
    key: &Signer,
) -> Result<String, CheckpointError> {
    cp.validate()?;
    let body = cp.body();
    let line = sign_note(&body, name, key)?;
    let note = format!("{body}\n{line}");
    if note.len() > MAX_NOTE_BYTES {
        return Err(CheckpointError::TooLarge { size: note.len() });
    }
    Ok(note)
}

/// Cosigns a checkpoint as witness `name` at `time` (POSIX seconds, from the caller):
/// returns the `cosignature/v1` (alg 0x04) signature line, ending in a newline.
pub fn cosign(
    cp: &Checkpoint,
    name: &str,
    key: &Signer,
    time: u64,
) -> Result<String, CheckpointError> {
    cp.validate()?;
    if !is_valid_key_name(name) {
        return Err(CheckpointError::InvalidKeyName);
    }
    if time > MAX_COSIGNATURE_TIME {
        return Err(CheckpointError::TimestampOutOfRange(time));
    }
    let msg = cosignature_message(&cp.body(), time);
    let sig = key.sign(msg.as_bytes());
    let mut payload = Vec::with_capacity(72);
    payload.extend_from_slice(&time.to_be_bytes());
    payload.extend_from_slice(&sig);
    Ok(NoteSignature {
        name: name.to_owned(),
        key_hash: key_hash(name, ALG_COSIGNATURE_V1, key.public_key().as_bytes()),
        signature: payload,
    }
    .to_line())
}

/// Adds a signature line (for example from [`cosign`]) to a signed note. A signature
/// already present with the same key name and key hash is replaced (as
/// golang.org/x/mod/sumdb/note `Sign` does); the new line goes last. The signature is not
/// verified here.
pub fn add_signature_line(note: impl AsRef<[u8]>, line: &str) -> Result<String, CheckpointError> {
    let mut parsed = SignedNote::parse(note)?;
    let sig = NoteSignature::parse_line(line)?;
    parsed.signatures.retain(|s| !(s.name == sig.name && s.key_hash == sig.key_hash));
    if parsed.signatures.len() >= MAX_SIGNATURES {
        return Err(CheckpointError::TooManySignatures);
    }
    parsed.signatures.push(sig);
    let out = parsed.format();
    if out.len() > MAX_NOTE_BYTES {
        return Err(CheckpointError::TooLarge { size: out.len() });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------

/// What a [`NoteVerifier`] checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifierKind {
    /// Ed25519 signature over the note text (signature type 0x01): a log's own key.
    Ed25519,
    /// Timestamped `cosignature/v1` over a checkpoint (signature type 0x04): a witness.
    Cosignature,
}

impl VerifierKind {
    /// The signature type byte used in the key hash.
    pub fn alg(self) -> u8 {
        match self {
            VerifierKind::Ed25519 => ALG_ED25519,
            VerifierKind::Cosignature => ALG_COSIGNATURE_V1,
        }
    }
}

/// A known key: name, key hash, Ed25519 public key and signature type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key_hash: u32,
    key: PublicKey,
    kind: VerifierKind,
}

impl NoteVerifier {
    /// A verifier for key `name` with the given 32-byte Ed25519 public key. Fails if the
    /// name is invalid or the key is not canonical or of small order.
    pub fn new(name: &str, public_key: &[u8], kind: VerifierKind) -> Result<Self, CheckpointError> {
        if !is_valid_key_name(name) {
            return Err(CheckpointError::InvalidKeyName);
        }
        let key = strict_public_key(public_key)?;
        Ok(NoteVerifier {
            name: name.to_owned(),
            key_hash: key_hash(name, kind.alg(), key.as_bytes()),
            key,
            kind,
        })
    }

    /// A log key: Ed25519 note signatures (type 0x01).
    pub fn ed25519(name: &str, public_key: &[u8]) -> Result<Self, CheckpointError> {
        Self::new(name, public_key, VerifierKind::Ed25519)
    }

    /// A witness key: `cosignature/v1` cosignatures (type 0x04).
    pub fn cosignature(name: &str, public_key: &[u8]) -> Result<Self, CheckpointError> {
        Self::new(name, public_key, VerifierKind::Cosignature)
    }

    /// Parses a verifier key string `<name>+<8 hex digits key hash>+<base64(type ‖ key)>`
    /// (golang.org/x/mod/sumdb/note `NewVerifier`), for types 0x01 and 0x04.
    pub fn from_vkey(vkey: &str) -> Result<Self, CheckpointError> {
        let bad = CheckpointError::InvalidVerifierKey;
        let (name, rest) = vkey.split_once('+').ok_or(bad("missing '+'"))?;
        let (hash16, key64) = rest.split_once('+').ok_or(bad("missing '+'"))?;
        if hash16.len() != 8 || !hash16.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("key hash is not 8 hex digits"));
        }
        let hash = u32::from_str_radix(hash16, 16).map_err(|_| bad("key hash is not hex"))?;
        let key = BASE64.decode(key64).map_err(|_| bad("key is not base64"))?;
        let (&alg, key_bytes) = key.split_first().ok_or(bad("empty key"))?;
        let kind = match alg {
            ALG_ED25519 => VerifierKind::Ed25519,
            ALG_COSIGNATURE_V1 => VerifierKind::Cosignature,
            _ => return Err(bad("unknown signature type")),
        };
        if !is_valid_key_name(name) {
            return Err(CheckpointError::InvalidKeyName);
        }
        if key_hash(name, alg, key_bytes) != hash {
            return Err(bad("key hash does not match"));
        }
        Self::new(name, key_bytes, kind)
    }

    /// The verifier key string `<name>+<key hash as 8 hex digits>+<base64(type ‖ key)>`.
    pub fn to_vkey(&self) -> String {
        let mut key = Vec::with_capacity(33);
        key.push(self.kind.alg());
        key.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.key_hash, BASE64.encode(key))
    }

    /// Key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Key hash.
    pub fn key_hash(&self) -> u32 {
        self.key_hash
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        *self.key.as_bytes()
    }

    /// Signature type.
    pub fn kind(&self) -> VerifierKind {
        self.kind
    }

    /// Checks one signature line on note `text` (which ends in a newline). The line's key
    /// name and key hash must be this verifier's. Returns the cosignature timestamp for a
    /// cosignature, `None` for a plain Ed25519 signature.
    pub fn verify_signature(
        &self,
        text: &str,
        sig: &NoteSignature,
    ) -> Result<Option<u64>, CheckpointError> {
        if sig.name != self.name || sig.key_hash != self.key_hash {
            return Err(CheckpointError::InvalidSignature {
                name: sig.name.clone(),
                key_hash: sig.key_hash,
            });
        }
        self.verify(text, &sig.signature)
    }

    /// Checks one signature payload (the bytes after the key hash) on note `text`.
    /// Returns the cosignature timestamp for a cosignature.
    fn verify(&self, text: &str, payload: &[u8]) -> Result<Option<u64>, CheckpointError> {
        let invalid = || CheckpointError::InvalidSignature {
            name: self.name.clone(),
            key_hash: self.key_hash,
        };
        match self.kind {
            VerifierKind::Ed25519 => {
                if verify_ed25519(&self.key, text.as_bytes(), payload) {
                    Ok(None)
                } else {
                    Err(invalid())
                }
            }
            VerifierKind::Cosignature => {
                if payload.len() != 72 {
                    return Err(invalid());
                }
                let (ts, sig) = payload.split_at(8);
                let mut t = [0u8; 8];
                t.copy_from_slice(ts);
                let time = u64::from_be_bytes(t);
                if time > MAX_COSIGNATURE_TIME {
                    return Err(invalid());
                }
                let msg = cosignature_message(text, time);
                if verify_ed25519(&self.key, msg.as_bytes(), sig) {
                    Ok(Some(time))
                } else {
                    Err(invalid())
                }
            }
        }
    }
}

/// A signature that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// Key name.
    pub name: String,
    /// Key hash.
    pub key_hash: u32,
    /// Signature type of the key.
    pub kind: VerifierKind,
    /// The cosignature timestamp (POSIX seconds) for a cosignature, `None` otherwise.
    pub timestamp: Option<u64>,
}

/// A signed note with at least one verified signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedNote {
    /// The parsed note, with all its signature lines.
    pub note: SignedNote,
    /// Verified signatures, in note order.
    pub verified: Vec<VerifiedSignature>,
    /// Signature lines from unknown keys, in note order, identical lines once.
    pub unknown_signatures: Vec<NoteSignature>,
}

/// A checkpoint whose log signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedCheckpoint {
    /// The checkpoint body.
    pub checkpoint: Checkpoint,
    /// The parsed note, with all its signature lines.
    pub note: SignedNote,
    /// Verified signatures by the other verifiers (cosigners), in note order.
    pub cosignatures: Vec<VerifiedSignature>,
    /// Signature lines from unknown keys, in note order, identical lines once.
    pub unknown_signatures: Vec<NoteSignature>,
}

/// Result of checking every signature line of a note.
struct Checked {
    /// Index into the verifiers and the verified signature, in note order.
    verified: Vec<(usize, VerifiedSignature)>,
    unknown: Vec<NoteSignature>,
}

/// Checks the signature lines of `note` against `verifiers`, as golang.org/x/mod/sumdb/note
/// `Open`: a line whose key name and key hash match a known key must verify, or the note
/// is rejected; later lines by a key already seen are ignored; identical unknown lines are
/// kept once; a line matching two verifiers is an error.
fn check_signatures(
    note: &SignedNote,
    verifiers: &[NoteVerifier],
) -> Result<Checked, CheckpointError> {
    let mut seen: Vec<(&str, u32)> = Vec::new();
    let mut verified = Vec::new();
    let mut unknown: Vec<NoteSignature> = Vec::new();
    for sig in &note.signatures {
        let mut matching = verifiers
            .iter()
            .enumerate()
            .filter(|(_, v)| v.name == sig.name && v.key_hash == sig.key_hash);
        let Some((index, verifier)) = matching.next() else {
            if !unknown.contains(sig) {
                unknown.push(sig.clone());
            }
            continue;
        };
        if matching.next().is_some() {
            return Err(CheckpointError::AmbiguousVerifier {
                name: sig.name.clone(),
                key_hash: sig.key_hash,
            });
        }
        if seen.contains(&(sig.name.as_str(), sig.key_hash)) {
            continue;
        }
        seen.push((sig.name.as_str(), sig.key_hash));
        let timestamp = verifier.verify(&note.text, &sig.signature)?;
        verified.push((
            index,
            VerifiedSignature {
                name: verifier.name.clone(),
                key_hash: verifier.key_hash,
                kind: verifier.kind,
                timestamp,
            },
        ));
    }
    Ok(Checked { verified, unknown })
}

/// Parses and verifies a signed note against known keys (golang.org/x/mod/sumdb/note
/// `Open`). Fails if a known key's signature does not verify, or if no signature by a
/// known key is present.
pub fn open_note(
    msg: impl AsRef<[u8]>,
    verifiers: &[NoteVerifier],
) -> Result<OpenedNote, CheckpointError> {
    let note = SignedNote::parse(msg)?;
    let checked = check_signatures(&note, verifiers)?;
    if checked.verified.is_empty() {
        return Err(CheckpointError::NoVerifiedSignature);
    }
    Ok(OpenedNote {
        note,
        verified: checked.verified.into_iter().map(|(_, v)| v).collect(),
        unknown_signatures: checked.unknown,
    })
}

/// Parses and verifies a signed checkpoint note.
///
/// `verifiers[0]` is the log's key: the note must carry a valid signature by it, and the
/// checkpoint's origin line must equal its name. The other verifiers are cosigners,
/// reported in [`OpenedCheckpoint::cosignatures`] when their signature verifies. Every
/// signature line whose key name and key hash match a verifier must verify (see
/// [`open_note`]); lines from unknown keys are ignored (kept in
/// [`OpenedCheckpoint::unknown_signatures`]).
pub fn open_checkpoint(
    note: impl AsRef<[u8]>,
    verifiers: &[NoteVerifier],
) -> Result<OpenedCheckpoint, CheckpointError> {
    let note = SignedNote::parse(note)?;
    let log = verifiers.first().ok_or(CheckpointError::NoVerifiers)?;
    let checked = check_signatures(&note, verifiers)?;
    if !checked.verified.iter().any(|(i, _)| *i == 0) {
        return Err(CheckpointError::MissingLogSignature { name: log.name.clone() });
    }
    let checkpoint = Checkpoint::parse_body(&note.text)?;
    if checkpoint.origin != log.name {
        return Err(CheckpointError::OriginMismatch {
            origin: checkpoint.origin,
            key_name: log.name.clone(),
        });
    }
    Ok(OpenedCheckpoint {
        checkpoint,
        note,
        cosignatures: checked
            .verified
            .into_iter()
            .filter(|(i, _)| *i != 0)
            .map(|(_, v)| v)
            .collect(),
        unknown_signatures: checked.unknown,
    })
}
