//! RFC 6962 / RFC 9162 Merkle tree (SHA-256): hashing, proof generation, compact tree, proof verification.
//!
//! * Leaf hash `SHA-256(0x00 ‖ data)`, node hash `SHA-256(0x01 ‖ left ‖ right)`, the
//!   empty tree's root is `SHA-256("")`.
//! * Proofs are generated from a [`SubtreeSource`], which only has to supply hashes of
//!   *perfect* subtrees; imperfect subtrees on the right edge of a tree are rebuilt from
//!   perfect ones, so a store never needs to keep ephemeral nodes.
//! * [`CompactTree`] is the O(log n) append-only state (the "frontier") from which the
//!   current root can be computed.
//! * The verifiers follow RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency), and
//!   the subtree proofs of transparency-dev/merkle (the `Subtree` proofs of
//!   draft-ietf-plants-merkle-tree-certs), including their edge-case conventions: a
//!   consistency proof from size 0 is always an error, and an empty subtree is consistent
//!   with any tree when its hash is the empty-tree hash and its proof is empty.
//!
//! Verifiers take hashes as byte slices, so a hash of the wrong length is an error, never
//! a panic. Proofs are ordered from the leaf (lowest level) towards the root.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// Length in bytes of a [`Hash`](type@Hash).
pub const HASH_LEN: usize = 32;

/// Errors from Merkle proof generation and verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MerkleError {
    /// A hash given as bytes was not exactly 32 bytes long.
    #[error("{what} is {len} bytes long, want 32")]
    WrongHashLength {
        /// Which input had the wrong length ("leaf hash", "proof element", ...).
        what: &'static str,
        /// The length that was found.
        len: usize,
    },
    /// A leaf index is not inside the tree or subtree it should belong to.
    #[error("leaf index {index} is outside [{start}, {end})")]
    IndexOutOfRange {
        /// The offending leaf index.
        index: u64,
        /// First leaf index of the tree or subtree (0 for a whole tree).
        start: u64,
        /// One past the last leaf index of the tree or subtree (the tree size).
        end: u64,
    },
    /// The older tree (or subtree end) is larger than the newer tree.
    #[error("size {older} is larger than tree size {newer}")]
    SizeOrder {
        /// Size of the older tree, or end of the subtree.
        older: u64,
        /// Size of the newer tree.
        newer: u64,
    },
    /// A consistency proof from the empty tree was asked for or given; it is meaningless.
    #[error("consistency proof from an empty tree is meaningless")]
    EmptyTree,
    /// `[start, end)` is not a subtree: `start > end`, or `start` is not a multiple of the
    /// smallest power of two that is at least `end - start`.
    #[error("[{start}, {end}) is not a valid subtree")]
    InvalidSubtree {
        /// First leaf index of the range.
        start: u64,
        /// One past the last leaf index of the range.
        end: u64,
    },
    /// A proof has the wrong number of hashes for the given sizes and indices.
    #[error("proof has {got} hashes, want {want}")]
    WrongProofLength {
        /// Number of hashes in the proof.
        got: usize,
        /// Number of hashes the sizes and indices call for.
        want: usize,
    },
    /// A proof is empty where the sizes call for a non-empty one.
    #[error("proof is empty")]
    EmptyProof,
    /// The hash recomputed from the proof does not equal the expected hash.
    #[error("{which} recomputed from the proof does not match")]
    RootMismatch {
        /// Which hash did not match ("root", "root1", "root2").
        which: &'static str,
    },
    /// A [`SubtreeSource`] cannot supply the perfect subtree `(level, index)`.
    #[error("no perfect subtree at level {level}, index {index}")]
    MissingNode {
        /// Height of the subtree (0 = a leaf).
        level: u32,
        /// Index of the subtree among the subtrees of that height.
        index: u64,
    },
    /// A [`SubtreeSource`] failed for a reason of its own (for example a storage error).
    #[error("subtree source failed: {0}")]
    Source(String),
    /// A tree cannot grow past 2^64 - 1 leaves.
    #[error("tree is full")]
    TreeFull,
    /// A serialized [`CompactTree`] does not hold one hash per set bit of its size.
    #[error("compact tree of size {size} needs {want} hashes, has {got}")]
    CompactTreeShape {
        /// The size that was given.
        size: u64,
        /// Number of hashes that size needs (its number of set bits).
        want: usize,
        /// Number of hashes that were given.
        got: usize,
    },
    /// A hash in a serialized form was not valid standard base64 (with padding).
    #[error("invalid base64 hash")]
    InvalidBase64,
}

// ---------------------------------------------------------------------------
// Hashing
// ---------------------------------------------------------------------------

/// RFC 6962 leaf hash: `SHA-256(0x00 ‖ data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// RFC 6962 interior node hash: `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest(b"").into()
}

/// Converts a byte slice into a [`Hash`](type@Hash), failing if it is not exactly 32 bytes long.
pub fn parse_hash(bytes: &[u8], what: &'static str) -> Result<Hash, MerkleError> {
    Hash::try_from(bytes).map_err(|_| MerkleError::WrongHashLength { what, len: bytes.len() })
}

/// Merkle Tree Hash (RFC 9162 §2.1.1) of a list of leaf hashes.
pub fn root_from_leaf_hashes(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [one] => *one,
        _ => {
            // The largest power of two smaller than the length (the length is >= 2).
            let k = split_point(leaves.len() as u64) as usize;
            node_hash(&root_from_leaf_hashes(&leaves[..k]), &root_from_leaf_hashes(&leaves[k..]))
        }
    }
}

// ---------------------------------------------------------------------------
// Bit helpers (Go's math/bits equivalents, without shift overflow)
// ---------------------------------------------------------------------------

/// Number of bits needed to represent `x` (Go `bits.Len64`).
fn bit_len(x: u64) -> u32 {
    64 - x.leading_zeros()
}

/// `x >> n`, which is 0 when `n >= 64` (Go semantics, no overflow panic).
fn shr(x: u64, n: u32) -> u64 {
    x.checked_shr(n).unwrap_or(0)
}

/// Largest power of two strictly smaller than `n`; `n` must be at least 2.
fn split_point(n: u64) -> u64 {
    1u64 << (bit_len(n.saturating_sub(1)).saturating_sub(1))
}

/// Whether `[start, end)` is a subtree: `start <= end`, and `start` is a multiple of the
/// smallest power of two that is at least `end - start` (transparency-dev/merkle
/// `isSubtreeValid`; an empty range is valid).
fn check_subtree(start: u64, end: u64) -> Result<(), MerkleError> {
    let invalid = MerkleError::InvalidSubtree { start, end };
    if start > end {
        return Err(invalid);
    }
    if start == 0 || start == end {
        return Ok(());
    }
    let len = end - start;
    if len > 1u64 << 63 {
        return Err(invalid);
    }
    let ceil = if len <= 1 { 1 } else { 1u64 << bit_len(len - 1) };
    if start & (ceil - 1) != 0 {
        return Err(invalid);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Sources of perfect subtrees, and proof generation
// ---------------------------------------------------------------------------

/// Supplies hashes of perfect subtrees of a log, so that proofs can be built without
/// holding every leaf in memory.
pub trait SubtreeSource {
    /// Hash of the perfect subtree covering the leaves
    /// `[index · 2^level, (index + 1) · 2^level)`. Level 0 is a leaf hash.
    ///
    /// Returns [`MerkleError::MissingNode`] (or [`MerkleError::Source`]) when the subtree
    /// is not (yet) complete or cannot be read.
    fn perfect(&self, level: u32, index: u64) -> Result<Hash, MerkleError>;
}

impl SubtreeSource for [Hash] {
    /// Computes the subtree from the leaf hashes in the slice: O(2^level) hashing.
    fn perfect(&self, level: u32, index: u64) -> Result<Hash, MerkleError> {
        let missing = MerkleError::MissingNode { level, index };
        if level >= 64 {
            return Err(missing);
        }
        let width = 1u64 << level;
        let start = index.checked_mul(width).ok_or(missing.clone())?;
        let end = start.checked_add(width).ok_or(missing.clone())?;
        let (Ok(start), Ok(end)) = (usize::try_from(start), usize::try_from(end)) else {
            return Err(missing);
        };
        match self.get(start..end) {
            Some(leaves) => Ok(root_from_leaf_hashes(leaves)),
            None => Err(missing),
        }
    }
}

impl<T: SubtreeSource + ?Sized> SubtreeSource for &T {
    fn perfect(&self, level: u32, index: u64) -> Result<Hash, MerkleError> {
        (**self).perfect(level, index)
    }
}

/// In-memory leaf hashes with every perfect subtree precomputed, so that
/// [`SubtreeSource::perfect`] is O(1). Uses about twice the memory of the leaf hashes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeafHashes {
    /// `levels[l][i]` is the perfect subtree `(l, i)`; `levels[0]` are the leaf hashes.
    levels: Vec<Vec<Hash>>,
}

impl LeafHashes {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds the list from leaf hashes.
    pub fn from_leaf_hashes(leaves: impl IntoIterator<Item = Hash>) -> Self {
        let mut out = Self::new();
        for leaf in leaves {
            out.push(leaf);
        }
        out
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        let mut level = 0usize;
        loop {
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            let row = &mut self.levels[level];
            row.push(hash);
            let n = row.len();
            if n % 2 == 1 {
                break;
            }
            hash = node_hash(&row[n - 2], &row[n - 1]);
            level += 1;
        }
    }

    /// Number of leaves.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Whether there are no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The leaf hashes, in order.
    pub fn leaves(&self) -> &[Hash] {
        self.levels.first().map_or(&[], |l| l.as_slice())
    }
}

impl SubtreeSource for LeafHashes {
    fn perfect(&self, level: u32, index: u64) -> Result<Hash, MerkleError> {
        usize::try_from(level)
            .ok()
            .and_then(|l| self.levels.get(l))
            .zip(usize::try_from(index).ok())
            .and_then(|(row, i)| row.get(i))
            .copied()
            .ok_or(MerkleError::MissingNode { level, index })
    }
}

/// Hash of the perfect subtree `[begin, begin + 2^level)`; `begin` must be aligned.
fn perfect_at<S: SubtreeSource + ?Sized>(
    src: &S,
    level: u32,
    begin: u64,
) -> Result<Hash, MerkleError> {
    src.perfect(level, shr(begin, level))
}

/// MTH of the leaves `[begin, end)`, built from perfect subtrees. `[begin, end)` must be a
/// valid, non-empty subtree (see [`check_subtree`]), which all callers guarantee.
fn range_hash<S: SubtreeSource + ?Sized>(
    src: &S,
    begin: u64,
    end: u64,
) -> Result<Hash, MerkleError> {
    let len = end - begin;
    // Perfect subtrees from left to right: one per set bit of len, largest first.
    let mut parts: Vec<Hash> = Vec::with_capacity(len.count_ones() as usize);
    let mut pos = begin;
    for level in (0..64u32).rev() {
        if len & (1u64 << level) != 0 {
            parts.push(perfect_at(src, level, pos)?);
            pos += 1u64 << level;
        }
    }
    let mut iter = parts.into_iter().rev();
    let mut acc = iter.next().ok_or(MerkleError::InvalidSubtree { start: begin, end })?;
    for left in iter {
        acc = node_hash(&left, &acc);
    }
    Ok(acc)
}

/// Root (MTH) of the first `size` leaves of `src`.
pub fn root<S: SubtreeSource + ?Sized>(src: &S, size: u64) -> Result<Hash, MerkleError> {
    if size == 0 {
        return Ok(empty_root());
    }
    range_hash(src, 0, size)
}

/// Hash of the subtree `[start, end)` of the log (`start < end`, and `start` a multiple
/// of the smallest power of two that is at least `end - start`).
pub fn subtree_root<S: SubtreeSource + ?Sized>(
    src: &S,
    start: u64,
    end: u64,
) -> Result<Hash, MerkleError> {
    check_subtree(start, end)?;
    if start == end {
        return Err(MerkleError::InvalidSubtree { start, end });
    }
    range_hash(src, start, end)
}

/// RFC 9162 PATH for leaf `index` of the subtree `[begin, begin + n)`.
fn path<S: SubtreeSource + ?Sized>(
    src: &S,
    index: u64,
    begin: u64,
    n: u64,
) -> Result<Vec<Hash>, MerkleError> {
    let (mut b, mut n, mut m) = (begin, n, index);
    let mut out = Vec::new();
    // Walk from the root down; the proof lists the siblings from the leaf up.
    while n > 1 {
        let k = split_point(n);
        if m < k {
            out.push(range_hash(src, b + k, b + n)?);
            n = k;
        } else {
            out.push(perfect_at(src, k.trailing_zeros(), b)?);
            b += k;
            m -= k;
            n -= k;
        }
    }
    out.reverse();
    Ok(out)
}

/// Inclusion proof (RFC 9162 §2.1.3.1) for leaf `index` in the tree of `size` leaves.
pub fn inclusion_proof<S: SubtreeSource + ?Sized>(
    src: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, start: 0, end: size });
    }
    path(src, index, 0, size)
}

/// Inclusion proof for leaf `index` in the subtree `[start, end)`: the inclusion proof
/// of leaf `index - start` in the tree made of that subtree's leaves.
pub fn subtree_inclusion_proof<S: SubtreeSource + ?Sized>(
    src: &S,
    index: u64,
    start: u64,
    end: u64,
) -> Result<Vec<Hash>, MerkleError> {
    check_subtree(start, end)?;
    if index < start || index >= end {
        return Err(MerkleError::IndexOutOfRange { index, start, end });
    }
    path(src, index - start, start, end - start)
}

/// Consistency proof (RFC 9162 §2.1.4.1) from the tree of `size1` leaves to the tree of
/// `size2` leaves. `size1 == 0` is an error; `size1 == size2` gives an empty proof.
pub fn consistency_proof<S: SubtreeSource + ?Sized>(
    src: &S,
    size1: u64,
    size2: u64,
) -> Result<Vec<Hash>, MerkleError> {
    if size1 > size2 {
        return Err(MerkleError::SizeOrder { older: size1, newer: size2 });
    }
    if size1 == 0 {
        return Err(MerkleError::EmptyTree);
    }
    subtree_consistency_proof(src, 0, size1, size2)
}

/// Subtree consistency proof from the subtree `[start, end)` to the tree of `size`
/// leaves (the `SUBTREE_PROOF` of draft-ietf-plants-merkle-tree-certs, as generated by
/// transparency-dev/merkle). With `start == 0` it is the RFC 9162 consistency proof from
/// size `end`. An empty subtree (`start == end`) gives an empty proof.
pub fn subtree_consistency_proof<S: SubtreeSource + ?Sized>(
    src: &S,
    start: u64,
    end: u64,
    size: u64,
) -> Result<Vec<Hash>, MerkleError> {
    check_subtree(start, end)?;
    if end > size {
        return Err(MerkleError::SizeOrder { older: end, newer: size });
    }
    if start == end {
        return Ok(Vec::new());
    }
    // RFC 9162 SUBPROOF generalised to a subtree; (b, n) is the current node's range,
    // (s, e) the subtree relative to b, `known` whether the verifier knows MTH(D[b..b+n]).
    let (mut b, mut n, mut s, mut e, mut known) = (0u64, size, start, end, true);
    let mut out = Vec::new();
    loop {
        if s == 0 && e == n {
            if !known {
                out.push(range_hash(src, b, b + n)?);
            }
            break;
        }
        let k = split_point(n);
        if e <= k {
            out.push(range_hash(src, b + k, b + n)?);
            n = k;
        } else {
            // Either the subtree is right of the split, or it starts at 0 and straddles it
            // (a valid subtree cannot start strictly inside the left half and cross k).
            out.push(perfect_at(src, k.trailing_zeros(), b)?);
            if s < k {
                known = false;
            } else {
                s -= k;
            }
            b += k;
            e -= k;
            n -= k;
        }
    }
    out.reverse();
    Ok(out)
}

// ---------------------------------------------------------------------------
// Compact tree
// ---------------------------------------------------------------------------

/// Append-only Merkle tree state in O(log n) space: the roots of the perfect subtrees
/// that make up the tree, one per set bit of its size, largest (leftmost) first.
///
/// Serializes (serde) as `{"size": <u64>, "hashes": [<base64>, ...]}` with standard
/// base64 (with padding); deserializing checks that there is one 32-byte hash per set
/// bit of `size`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CompactTreeRepr", into = "CompactTreeRepr")]
pub struct CompactTree {
    size: u64,
    hashes: Vec<Hash>,
}

/// Serialized form of [`CompactTree`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompactTreeRepr {
    size: u64,
    hashes: Vec<String>,
}

impl From<CompactTree> for CompactTreeRepr {
    fn from(t: CompactTree) -> Self {
        CompactTreeRepr {
            size: t.size,
            hashes: t.hashes.iter().map(|h| BASE64.encode(h)).collect(),
        }
    }
}

impl TryFrom<CompactTreeRepr> for CompactTree {
    type Error = MerkleError;

    fn try_from(r: CompactTreeRepr) -> Result<Self, MerkleError> {
        let mut hashes = Vec::with_capacity(r.hashes.len());
        for s in &r.hashes {
            let bytes = BASE64.decode(s).map_err(|_| MerkleError::InvalidBase64)?;
            hashes.push(parse_hash(&bytes, "compact tree hash")?);
        }
        CompactTree::from_parts(r.size, hashes)
    }
}

impl CompactTree {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a compact tree from its size and perfect-subtree roots (largest first).
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Result<Self, MerkleError> {
        let want = size.count_ones() as usize;
        if hashes.len() != want {
            return Err(MerkleError::CompactTreeShape { size, want, got: hashes.len() });
        }
        Ok(CompactTree { size, hashes })
    }

    /// Reads the compact tree of the first `size` leaves from a subtree source.
    pub fn from_source<S: SubtreeSource + ?Sized>(src: &S, size: u64) -> Result<Self, MerkleError> {
        let mut hashes = Vec::with_capacity(size.count_ones() as usize);
        let mut pos = 0u64;
        for level in (0..64u32).rev() {
            if size & (1u64 << level) != 0 {
                hashes.push(perfect_at(src, level, pos)?);
                pos += 1u64 << level;
            }
        }
        Ok(CompactTree { size, hashes })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Roots of the perfect subtrees, largest (leftmost) first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends a leaf hash.
    ///
    /// A tree of 2^64 - 1 leaves (unreachable in practice) cannot grow: appending to it
    /// leaves it unchanged. Use [`CompactTree::try_append`] to detect that case.
    pub fn append(&mut self, leaf_hash: Hash) {
        // The only error is TreeFull, for which leaving the tree unchanged is documented.
        let _ = self.try_append(leaf_hash);
    }

    /// Appends a leaf hash, or fails with [`MerkleError::TreeFull`] (tree unchanged).
    pub fn try_append(&mut self, leaf_hash: Hash) -> Result<(), MerkleError> {
        let new_size = self.size.checked_add(1).ok_or(MerkleError::TreeFull)?;
        if self.hashes.len() != self.size.count_ones() as usize {
            // Unreachable: from_parts and append keep one hash per set bit of the size.
            return Err(MerkleError::CompactTreeShape {
                size: self.size,
                want: self.size.count_ones() as usize,
                got: self.hashes.len(),
            });
        }
        let mut hash = leaf_hash;
        // Each trailing one bit of the old size is a perfect subtree of the same height as
        // the one being carried: merge them.
        let mut bits = self.size;
        while bits & 1 == 1 {
            if let Some(left) = self.hashes.pop() {
                hash = node_hash(&left, &hash);
            }
            bits >>= 1;
        }
        self.hashes.push(hash);
        self.size = new_size;
        Ok(())
    }

    /// Appends a leaf given by its data (hashed with [`leaf_hash`]); see
    /// [`CompactTree::append`].
    pub fn append_data(&mut self, data: &[u8]) {
        self.append(leaf_hash(data));
    }

    /// Root (MTH) of the tree.
    pub fn root(&self) -> Hash {
        let mut iter = self.hashes.iter().rev();
        let Some(last) = iter.next() else {
            return empty_root();
        };
        let mut acc = *last;
        for left in iter {
            acc = node_hash(left, &acc);
        }
        acc
    }
}

// ---------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------

fn parse_proof<P: AsRef<[u8]>>(proof: &[P]) -> Result<Vec<Hash>, MerkleError> {
    proof.iter().map(|p| parse_hash(p.as_ref(), "proof element")).collect()
}

fn check_match(calculated: &[u8], expected: &[u8], which: &'static str) -> Result<(), MerkleError> {
    if calculated == expected { Ok(()) } else { Err(MerkleError::RootMismatch { which }) }
}

/// Splits an inclusion proof for leaf `index` in a tree of `size` leaves into its inner
/// part (below the level where the paths to `index` and `size - 1` meet) and its border
/// part; returns their lengths.
fn decomp_incl_proof(index: u64, size: u64) -> (u32, u32) {
    let inner = bit_len(index ^ (size - 1));
    let border = shr(index, inner).count_ones();
    (inner, border)
}

fn chain_inner(mut seed: Hash, proof: &[Hash], index: u64) -> Hash {
    for (i, h) in proof.iter().enumerate() {
        if shr(index, i as u32) & 1 == 0 {
            seed = node_hash(&seed, h);
        } else {
            seed = node_hash(h, &seed);
        }
    }
    seed
}

fn chain_inner_right(mut seed: Hash, proof: &[Hash], index: u64) -> Hash {
    for (i, h) in proof.iter().enumerate() {
        if shr(index, i as u32) & 1 == 1 {
            seed = node_hash(h, &seed);
        }
    }
    seed
}

fn chain_border_right(mut seed: Hash, proof: &[Hash]) -> Hash {
    for h in proof {
        seed = node_hash(h, &seed);
    }
    seed
}

/// Root recomputed from an inclusion proof (RFC 9162 §2.1.3.2) for leaf `index` with hash
/// `leaf_hash` in a tree of `size` leaves.
pub fn root_from_inclusion_proof<P: AsRef<[u8]>>(
    leaf_hash: &[u8],
    index: u64,
    size: u64,
    proof: &[P],
) -> Result<Hash, MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, start: 0, end: size });
    }
    let leaf = parse_hash(leaf_hash, "leaf hash")?;
    let (inner, border) = decomp_incl_proof(index, size);
    let want = (inner + border) as usize;
    if proof.len() != want {
        return Err(MerkleError::WrongProofLength { got: proof.len(), want });
    }
    let proof = parse_proof(proof)?;
    let (lower, upper) = proof.split_at(inner as usize);
    let res = chain_inner(leaf, lower, index);
    Ok(chain_border_right(res, upper))
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2): leaf `index` with hash `leaf_hash`
/// is in the tree of `size` leaves whose root is `root`.
pub fn verify_inclusion<P: AsRef<[u8]>>(
    leaf_hash: &[u8],
    index: u64,
    size: u64,
    proof: &[P],
    root: &[u8],
) -> Result<(), MerkleError> {
    let calculated = root_from_inclusion_proof(leaf_hash, index, size, proof)?;
    check_match(&calculated, root, "root")
}

/// Verifies a subtree inclusion proof: leaf `index` with hash `leaf_hash` is in the
/// subtree `[start, end)` whose hash is `root` (transparency-dev/merkle
/// `VerifySubtreeInclusion`).
pub fn verify_subtree_inclusion<P: AsRef<[u8]>>(
    leaf_hash: &[u8],
    index: u64,
    start: u64,
    end: u64,
    proof: &[P],
    root: &[u8],
) -> Result<(), MerkleError> {
    check_subtree(start, end)?;
    if index < start || index >= end {
        return Err(MerkleError::IndexOutOfRange { index, start, end });
    }
    let calculated = root_from_inclusion_proof(leaf_hash, index - start, end - start, proof)?;
    check_match(&calculated, root, "root")
}

/// Verifies a consistency proof (RFC 9162 §2.1.4.2) between the tree of `size1` leaves
/// with root `root1` and the tree of `size2` leaves with root `root2`.
///
/// `size1 == 0` is always an error. When `size1 == size2` the proof must be empty and
/// the roots equal (compared as bytes).
pub fn verify_consistency<P: AsRef<[u8]>>(
    size1: u64,
    size2: u64,
    root1: &[u8],
    root2: &[u8],
    proof: &[P],
) -> Result<(), MerkleError> {
    if size2 < size1 {
        return Err(MerkleError::SizeOrder { older: size1, newer: size2 });
    }
    if size1 == 0 {
        return Err(MerkleError::EmptyTree);
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(MerkleError::WrongProofLength { got: proof.len(), want: 0 });
        }
        return check_match(root1, root2, "root2");
    }
    if proof.is_empty() {
        return Err(MerkleError::EmptyProof);
    }
    let calculated = root_from_subtree_consistency(0, size1, size2, proof, root1)?;
    check_match(&calculated, root2, "root2")
}

/// Verifies a subtree consistency proof: the subtree `[start, end)` with hash `root1` is
/// part of the tree of `size` leaves with root `root2` (transparency-dev/merkle
/// `VerifySubtreeConsistency`).
///
/// An empty subtree (`start == end`) is consistent with every tree: the proof must be
/// empty and `root1` must be the empty-tree hash, and `root2` is not examined (this
/// follows the upstream test vectors).
pub fn verify_subtree_consistency<P: AsRef<[u8]>>(
    start: u64,
    end: u64,
    size: u64,
    root1: &[u8],
    root2: &[u8],
    proof: &[P],
) -> Result<(), MerkleError> {
    check_subtree(start, end)?;
    if size < end {
        return Err(MerkleError::SizeOrder { older: end, newer: size });
    }
    if start == end {
        if !proof.is_empty() {
            return Err(MerkleError::WrongProofLength { got: proof.len(), want: 0 });
        }
        return check_match(root1, &empty_root(), "root1");
    }
    if start == 0 && size == end {
        if !proof.is_empty() {
            return Err(MerkleError::WrongProofLength { got: proof.len(), want: 0 });
        }
        return check_match(root1, root2, "root2");
    }
    if proof.is_empty() {
        return Err(MerkleError::EmptyProof);
    }
    let calculated = root_from_subtree_consistency(start, end, size, proof, root1)?;
    check_match(&calculated, root2, "root2")
}

/// Recomputes the root of the tree of `size` leaves from the hash of the subtree
/// `[start, end)` and a non-trivial subtree consistency proof, checking on the way that
/// the proof agrees with `sub_root`. Requires a valid non-empty subtree, `end <= size`,
/// a non-empty proof, and not (`start == 0` and `end == size`).
fn root_from_subtree_consistency<P: AsRef<[u8]>>(
    start: u64,
    end: u64,
    size: u64,
    proof: &[P],
    sub_root: &[u8],
) -> Result<Hash, MerkleError> {
    let sub_root = parse_hash(sub_root, "root1")?;
    if end == size {
        // The subtree's root is on the right border of the tree: the proof is its left
        // siblings, one per level where its ancestor is a right child.
        let level = bit_len((end - 1) ^ start);
        let want = shr(start, level).count_ones() as usize;
        if proof.len() != want {
            return Err(MerkleError::WrongProofLength { got: proof.len(), want });
        }
        let proof = parse_proof(proof)?;
        return Ok(chain_border_right(sub_root, &proof));
    }

    // Split where the paths to leaves end-1 and size-1 diverge.
    let (fork_level, border) = decomp_incl_proof(end - 1, size);
    // Height of the rightmost perfect subtree inside [start, end): the proof starts there.
    let shift = (end - start).trailing_zeros();
    let inner = fork_level.checked_sub(shift).ok_or(MerkleError::InvalidSubtree { start, end })?;
    // The first proof node is that rightmost perfect subtree, unless the subtree itself
    // is perfect, in which case the verifier already has its hash.
    let perfect = (end - start) == 1u64 << shift;
    let p_start = usize::from(!perfect);
    let want = p_start + inner as usize + border as usize;
    if proof.len() != want {
        return Err(MerkleError::WrongProofLength { got: proof.len(), want });
    }
    let proof = parse_proof(proof)?;
    let (seed, proof) = if perfect { (sub_root, &proof[..]) } else { (proof[0], &proof[1..]) };
    // Now proof is a suffix of the inclusion proof for leaf end-1 in the tree of size.
    let mask = shr(end - 1, shift);

    if !perfect {
        // Some proof nodes lie inside the subtree: they must rebuild sub_root.
        let h = bit_len((end - 1) ^ start);
        let sub_inner = h.min(fork_level).saturating_sub(shift) as usize;
        let sub_border = border.saturating_sub(shr(end - 1, h).count_ones()) as usize;
        let inner_nodes = proof
            .get(..sub_inner)
            .ok_or(MerkleError::WrongProofLength { got: proof.len(), want })?;
        let border_nodes = proof
            .get(inner as usize..inner as usize + sub_border)
            .ok_or(MerkleError::WrongProofLength { got: proof.len(), want })?;
        let hash1 = chain_inner_right(seed, inner_nodes, mask);
        let hash1 = chain_border_right(hash1, border_nodes);
        check_match(&hash1, &sub_root, "root1")?;
    }

    let (lower, upper) = proof.split_at(inner as usize);
    let hash2 = chain_inner(seed, lower, mask);
    Ok(chain_border_right(hash2, upper))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_point_values() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(8), 4);
        assert_eq!(split_point(9), 8);
        assert_eq!(split_point(u64::MAX), 1 << 63);
    }

    #[test]
    fn subtree_validity() {
        assert!(check_subtree(0, 5).is_ok());
        assert!(check_subtree(4, 7).is_ok());
        assert!(check_subtree(8, 13).is_ok());
        assert!(check_subtree(3, 3).is_ok());
        assert!(check_subtree(1, 3).is_err());
        assert!(check_subtree(2, 5).is_err());
        assert!(check_subtree(2, 1).is_err());
        assert!(check_subtree(1, (1 << 63) + 2).is_err());
    }
}
