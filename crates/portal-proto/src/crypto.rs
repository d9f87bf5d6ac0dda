//! Ed25519 keys and signatures under the IPSP/1 strict acceptance policy, key ids and strict base64.
//!
//! Policy (see the design notes):
//! * A public key is exactly 32 bytes, decodes to a curve point, is the
//!   *canonical* encoding of that point (re-compressing gives the same bytes,
//!   so y < p and no "negative zero" x) and is not of small order
//!   (not in the 8-torsion subgroup). Checked once, in [`PublicKey::from_bytes`].
//! * A signature is exactly 64 bytes `R ‖ S` with `S < ℓ`, `R` canonical and
//!   not of small order, and satisfies the cofactorless equation
//!   `[S]B = R + [k]A`: ed25519-dalek 2.x `verify_strict`.
//! * Key id: lowercase hex of the first 8 bytes of SHA-256 of the raw 32-byte key.
//! * Base64: RFC 4648 §4 standard alphabet with `=` padding; decoding rejects
//!   missing or extra padding, non-zero trailing bits, whitespace and other bytes.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::Signer as _;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

/// Length in bytes of a raw Ed25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length in bytes of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
/// Length in bytes of an Ed25519 secret seed.
pub const SEED_LEN: usize = 32;
/// Length in bytes of a [`KeyId`].
pub const KEY_ID_LEN: usize = 8;

/// A string is not canonical padded standard base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Base64Error {
    /// Invalid character, wrong length, missing/extra padding or non-zero trailing bits.
    #[error("not canonical padded standard base64")]
    Invalid,
    /// Valid base64, but not of the required decoded length.
    #[error("base64 decodes to {len} bytes, expected {expected}")]
    InvalidLength {
        /// Required length in bytes.
        expected: usize,
        /// Decoded length in bytes.
        len: usize,
    },
}

/// Why bytes are not an acceptable public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key is not exactly 32 bytes long.
    #[error("public key must be 32 bytes, got {len}")]
    InvalidLength {
        /// Length received.
        len: usize,
    },
    /// The base64 text of the key is not canonical padded standard base64.
    #[error("public key: {0}")]
    Base64(#[from] Base64Error),
    /// The bytes are not the encoding of a point on edwards25519.
    #[error("public key is not a curve point")]
    NotOnCurve,
    /// The point is valid but the bytes are not its canonical encoding (y ≥ p, or x = −0).
    #[error("public key is not canonically encoded")]
    NonCanonical,
    /// The point has small order (it lies in the 8-torsion subgroup).
    #[error("public key is a small-order point")]
    SmallOrder,
}

/// Why a signature was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The signature is not exactly 64 bytes long.
    #[error("signature must be 64 bytes, got {len}")]
    InvalidLength {
        /// Length received.
        len: usize,
    },
    /// The base64 text of the signature is not canonical padded standard base64.
    #[error("signature: {0}")]
    Base64(#[from] Base64Error),
    /// Verification failed: S ≥ ℓ, R not a canonical point encoding, R of small
    /// order, or the equation `[S]B = R + [k]A` does not hold.
    #[error("signature verification failed")]
    Invalid,
}

/// Why a string is not a [`KeyId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyIdError {
    /// The string is not exactly 16 characters long.
    #[error("key id must be 16 hex characters, got {len} bytes")]
    InvalidLength {
        /// Length received, in bytes.
        len: usize,
    },
    /// A character other than `0-9` / `a-f` (uppercase hex is rejected).
    #[error("key id has a character other than lowercase hex at byte {offset}")]
    InvalidCharacter {
        /// Byte offset of the first bad character.
        offset: usize,
    },
}

// ---------------------------------------------------------------------------
// Base64
// ---------------------------------------------------------------------------

/// Encodes bytes as standard base64 with padding (RFC 4648 §4).
pub fn encode_base64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// Decodes canonical standard base64 with padding (RFC 4648 §4).
///
/// # Errors
/// [`Base64Error::Invalid`] unless `s` is exactly what [`encode_base64`] would
/// produce for the decoded bytes (padding required, zero trailing bits, no whitespace).
pub fn decode_base64(s: &str) -> Result<Vec<u8>, Base64Error> {
    B64.decode(s).map_err(|_| Base64Error::Invalid)
}

/// Decodes canonical standard padded base64 that must decode to exactly `N` bytes
/// (e.g. a 32-byte hash).
///
/// # Errors
/// [`Base64Error::Invalid`] as for [`decode_base64`], or
/// [`Base64Error::InvalidLength`] if the decoded length is not `N`.
pub fn decode_base64_array<const N: usize>(s: &str) -> Result<[u8; N], Base64Error> {
    let bytes = decode_base64(s)?;
    <[u8; N]>::try_from(bytes.as_slice())
        .map_err(|_| Base64Error::InvalidLength { expected: N, len: bytes.len() })
}

/// Encodes a signature as standard padded base64 (88 characters).
pub fn signature_to_base64(sig: &[u8; SIGNATURE_LEN]) -> String {
    B64.encode(sig)
}

/// Decodes a signature from canonical standard padded base64 (88 characters).
///
/// # Errors
/// [`SignatureError::Base64`] if not canonical base64,
/// [`SignatureError::InvalidLength`] if it does not decode to 64 bytes.
pub fn signature_from_base64(s: &str) -> Result<[u8; SIGNATURE_LEN], SignatureError> {
    let bytes = decode_base64(s)?;
    <[u8; SIGNATURE_LEN]>::try_from(bytes.as_slice())
        .map_err(|_| SignatureError::InvalidLength { len: bytes.len() })
}

// ---------------------------------------------------------------------------
// Public keys
// ---------------------------------------------------------------------------

/// An Ed25519 public key that passed the strict policy checks (canonical
/// encoding, not of small order). Equality, ordering and hashing are by the
/// 32-byte encoding. Serialises as a base64 string.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses a raw 32-byte public key under the strict policy.
    ///
    /// # Errors
    /// [`KeyError::InvalidLength`], [`KeyError::NotOnCurve`],
    /// [`KeyError::NonCanonical`] or [`KeyError::SmallOrder`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let arr: &[u8; PUBLIC_KEY_LEN] =
            bytes.try_into().map_err(|_| KeyError::InvalidLength { len: bytes.len() })?;
        let vk = VerifyingKey::from_bytes(arr).map_err(|_| KeyError::NotOnCurve)?;
        // curve25519-dalek decompression accepts y >= p and x = -0; the
        // canonical encoding is what compression produces.
        if vk.to_edwards().compress().as_bytes() != arr {
            return Err(KeyError::NonCanonical);
        }
        if vk.is_weak() {
            return Err(KeyError::SmallOrder);
        }
        Ok(Self(vk))
    }

    /// Parses a public key from canonical standard padded base64 (44 characters).
    ///
    /// # Errors
    /// [`KeyError::Base64`], or any error of [`PublicKey::from_bytes`].
    pub fn from_base64(s: &str) -> Result<Self, KeyError> {
        Self::from_bytes(&decode_base64(s)?)
    }

    /// The key as standard padded base64 (44 characters).
    pub fn to_base64(&self) -> String {
        B64.encode(self.0.as_bytes())
    }

    /// The raw 32-byte encoding.
    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        self.0.as_bytes()
    }

    /// This key's [`KeyId`].
    pub fn key_id(&self) -> KeyId {
        let digest = Sha256::digest(self.0.as_bytes());
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        KeyId(id)
    }

    /// Verifies `sig` over `msg` under the strict policy: `sig` must be exactly
    /// 64 bytes, then ed25519-dalek `verify_strict` (S < ℓ, R canonical and not
    /// of small order, cofactorless equation).
    ///
    /// # Errors
    /// [`SignatureError::InvalidLength`] or [`SignatureError::Invalid`].
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), SignatureError> {
        let arr: &[u8; SIGNATURE_LEN] =
            sig.try_into().map_err(|_| SignatureError::InvalidLength { len: sig.len() })?;
        let sig = Signature::from_bytes(arr);
        self.0.verify_strict(msg, &sig).map_err(|_| SignatureError::Invalid)
    }
}

impl PartialOrd for PublicKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PublicKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_base64())
    }
}

impl serde::Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64())
    }
}

impl<'de> serde::Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor(
            "an Ed25519 public key as standard padded base64",
            PublicKey::from_base64,
        ))
    }
}

/// Visitor parsing a string with a fallible function.
struct StrVisitor<F>(&'static str, F);

impl<T, E: fmt::Display, F: FnOnce(&str) -> Result<T, E>> serde::de::Visitor<'_> for StrVisitor<F> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }

    fn visit_str<Err: serde::de::Error>(self, v: &str) -> Result<T, Err> {
        (self.1)(v).map_err(Err::custom)
    }
}

// ---------------------------------------------------------------------------
// Key ids
// ---------------------------------------------------------------------------

/// Key id (`kid`): the first 8 bytes of SHA-256 over the raw 32-byte public
/// key, written as 16 lowercase hex characters. Ordering is by bytes (equal to
/// the order of the hex strings). Serialises as the hex string.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId([u8; KEY_ID_LEN]);

impl KeyId {
    /// Wraps 8 raw key id bytes.
    pub const fn from_bytes(bytes: [u8; KEY_ID_LEN]) -> Self {
        Self(bytes)
    }

    /// The 8 raw bytes.
    pub const fn as_bytes(&self) -> &[u8; KEY_ID_LEN] {
        &self.0
    }

    /// Parses exactly 16 lowercase hex characters (also available as [`FromStr`]).
    ///
    /// # Errors
    /// [`KeyIdError::InvalidLength`] or [`KeyIdError::InvalidCharacter`].
    pub fn new(s: &str) -> Result<Self, KeyIdError> {
        let b = s.as_bytes();
        if b.len() != 2 * KEY_ID_LEN {
            return Err(KeyIdError::InvalidLength { len: b.len() });
        }
        let nibble = |i: usize| match b[i] {
            c @ b'0'..=b'9' => Ok(c - b'0'),
            c @ b'a'..=b'f' => Ok(c - b'a' + 10),
            _ => Err(KeyIdError::InvalidCharacter { offset: i }),
        };
        let mut out = [0u8; KEY_ID_LEN];
        for (i, o) in out.iter_mut().enumerate() {
            *o = (nibble(2 * i)? << 4) | nibble(2 * i + 1)?;
        }
        Ok(Self(out))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl FromStr for KeyId {
    type Err = KeyIdError;

    fn from_str(s: &str) -> Result<Self, KeyIdError> {
        Self::new(s)
    }
}

impl serde::Serialize for KeyId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for KeyId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor("a key id of 16 lowercase hex characters", KeyId::new))
    }
}

// ---------------------------------------------------------------------------
// Signing
// ---------------------------------------------------------------------------

/// An Ed25519 signing key (RFC 8032 seed). The secret is zeroised on drop;
/// `Debug` shows only the public key.
#[derive(Clone)]
pub struct Signer(SigningKey);

impl Signer {
    /// Creates the signing key for a 32-byte RFC 8032 seed.
    pub fn from_seed(seed: [u8; SEED_LEN]) -> Self {
        Self(SigningKey::from_bytes(&seed))
    }

    /// Exports the 32-byte seed, e.g. for a key file. This is the secret key:
    /// callers should wipe their copy when done.
    pub fn to_seed(&self) -> [u8; SEED_LEN] {
        self.0.to_bytes()
    }

    /// The public key. (A key derived from a seed is always canonical and,
    /// being a multiple of the prime-order base point, never of small order.)
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs `msg` (pure Ed25519, RFC 8032 §5.1.6; deterministic).
    pub fn sign(&self, msg: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.0.sign(msg).to_bytes()
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer").field("public_key", &self.public_key()).finish_non_exhaustive()
    }
}
