//! Merkle tree tests: transparency-dev/merkle vectors, generated proofs, compact tree.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use portal_proto::merkle::{
    CompactTree, Hash, LeafHashes, MerkleError, SubtreeSource, consistency_proof, empty_root,
    inclusion_proof, leaf_hash, node_hash, root, root_from_leaf_hashes, subtree_consistency_proof,
    subtree_inclusion_proof, subtree_root, verify_consistency, verify_inclusion,
    verify_subtree_consistency, verify_subtree_inclusion,
};
use serde_json::Value;

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/merkle");

/// The RFC 6962 test leaves (transparency-dev/merkle proof/verify_test.go `leaves`).
const RFC6962_LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test hex"))
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn rfc_leaf_hashes() -> Vec<Hash> {
    RFC6962_LEAVES.iter().map(|l| leaf_hash(&unhex(l))).collect()
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

struct Vector {
    path: PathBuf,
    v: Value,
}

impl Vector {
    fn u64(&self, k: &str) -> u64 {
        self.v[k].as_u64().unwrap_or_else(|| panic!("{}: {k}", self.path.display()))
    }
    fn bytes(&self, k: &str) -> Vec<u8> {
        let s = self.v[k].as_str().unwrap_or_else(|| panic!("{}: {k}", self.path.display()));
        BASE64.decode(s).expect("vector base64")
    }
    fn proof(&self) -> Vec<Vec<u8>> {
        match &self.v["proof"] {
            Value::Null => Vec::new(),
            Value::Array(a) => a
                .iter()
                .map(|x| BASE64.decode(x.as_str().expect("proof string")).expect("proof base64"))
                .collect(),
            other => panic!("{}: proof {other}", self.path.display()),
        }
    }
    fn want_err(&self) -> bool {
        self.v["wantErr"].as_bool().expect("wantErr")
    }
    fn happy(&self) -> bool {
        self.path.file_name().is_some_and(|n| n == "happy-path.json")
    }
}

fn load(kind: &str) -> Vec<Vector> {
    let mut files = Vec::new();
    json_files(&Path::new(TESTDATA).join(kind), &mut files);
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read vector");
            let v = serde_json::from_str(&text).expect("vector json");
            Vector { path, v }
        })
        .collect()
}

/// Runs every vector of a kind; returns how many ran. Panics listing every disagreement.
fn run(kind: &str, check: impl Fn(&Vector) -> Result<(), MerkleError>) -> usize {
    let vectors = load(kind);
    let mut wrong = Vec::new();
    for t in &vectors {
        let got = check(t);
        if got.is_err() != t.want_err() {
            wrong.push(format!("{}: wantErr={} got {:?}", t.path.display(), t.want_err(), got));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} {kind} vectors disagree:\n{}",
        wrong.len(),
        vectors.len(),
        wrong.join("\n")
    );
    vectors.len()
}

#[test]
fn vectors_inclusion() {
    let n = run("inclusion", |t| {
        verify_inclusion(
            &t.bytes("leafHash"),
            t.u64("leafIdx"),
            t.u64("treeSize"),
            &t.proof(),
            &t.bytes("root"),
        )
    });
    assert_eq!(n, 98);
}

#[test]
fn vectors_consistency() {
    let n = run("consistency", |t| {
        verify_consistency(
            t.u64("size1"),
            t.u64("size2"),
            &t.bytes("root1"),
            &t.bytes("root2"),
            &t.proof(),
        )
    });
    assert_eq!(n, 98);
}

#[test]
fn vectors_subtree_inclusion() {
    let n = run("subtreeinclusion", |t| {
        verify_subtree_inclusion(
            &t.bytes("leafHash"),
            t.u64("leafIdx"),
            t.u64("start"),
            t.u64("end"),
            &t.proof(),
            &t.bytes("root"),
        )
    });
    assert_eq!(n, 204);
}

#[test]
fn vectors_subtree_consistency() {
    let n = run("subtreeconsistency", |t| {
        verify_subtree_consistency(
            t.u64("start"),
            t.u64("end"),
            t.u64("size"),
            &t.bytes("root1"),
            &t.bytes("root2"),
            &t.proof(),
        )
    });
    assert_eq!(n, 118);
}

/// The happy-path vectors were made from the RFC 6962 test leaves: our generator must
/// produce exactly the same proofs and roots.
#[test]
fn generated_proofs_equal_vector_proofs() {
    let leaves = rfc_leaf_hashes();
    let src = LeafHashes::from_leaf_hashes(leaves.clone());
    let mut checked = 0;
    for t in load("inclusion").iter().filter(|t| t.happy()) {
        let (i, n) = (t.u64("leafIdx"), t.u64("treeSize"));
        let proof: Vec<Vec<u8>> =
            inclusion_proof(&src, i, n).unwrap().iter().map(|h| h.to_vec()).collect();
        assert_eq!(proof, t.proof(), "{}", t.path.display());
        assert_eq!(root(&src, n).unwrap().to_vec(), t.bytes("root"));
        assert_eq!(leaves[i as usize].to_vec(), t.bytes("leafHash"));
        checked += 1;
    }
    for t in load("consistency").iter().filter(|t| t.happy()) {
        let (m, n) = (t.u64("size1"), t.u64("size2"));
        let proof: Vec<Vec<u8>> =
            consistency_proof(&src, m, n).unwrap().iter().map(|h| h.to_vec()).collect();
        assert_eq!(proof, t.proof(), "{}", t.path.display());
        assert_eq!(root(&src, m).unwrap().to_vec(), t.bytes("root1"));
        assert_eq!(root(&src, n).unwrap().to_vec(), t.bytes("root2"));
        checked += 1;
    }
    for t in load("subtreeconsistency").iter().filter(|t| t.happy()) {
        let (s, e, n) = (t.u64("start"), t.u64("end"), t.u64("size"));
        let proof: Vec<Vec<u8>> =
            subtree_consistency_proof(&src, s, e, n).unwrap().iter().map(|h| h.to_vec()).collect();
        assert_eq!(proof, t.proof(), "{}", t.path.display());
        checked += 1;
    }
    assert_eq!(checked, 5 + 5 + 5);
}

#[test]
fn rfc6962_eight_leaf_root() {
    let leaves = rfc_leaf_hashes();
    assert_eq!(
        hex(&root_from_leaf_hashes(&leaves)),
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    );
    assert_eq!(
        hex(&empty_root()),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    // Leaf 0 is the empty string: its leaf hash is SHA-256(0x00).
    assert_eq!(hex(&leaves[0]), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
}

fn test_leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(format!("leaf {i}").as_bytes())).collect()
}

#[test]
fn inclusion_proofs_verify_for_all_sizes_up_to_70() {
    let leaves = test_leaves(70);
    let src = LeafHashes::from_leaf_hashes(leaves.clone());
    let mut count = 0;
    for n in 1..=70u64 {
        let mth = root_from_leaf_hashes(&leaves[..n as usize]);
        assert_eq!(root(&src, n).unwrap(), mth);
        assert_eq!(root(&leaves[..], n).unwrap(), mth);
        for i in 0..n {
            let proof = inclusion_proof(&src, i, n).unwrap();
            assert_eq!(proof, inclusion_proof(&leaves[..], i, n).unwrap());
            verify_inclusion(&leaves[i as usize], i, n, &proof, &mth).unwrap();
            // Wrong index, wrong size, wrong leaf all fail.
            if n > 1 {
                let other = (i + 1) % n;
                assert!(verify_inclusion(&leaves[i as usize], other, n, &proof, &mth).is_err());
                assert!(verify_inclusion(&leaves[other as usize], i, n, &proof, &mth).is_err());
            }
            count += 1;
        }
    }
    assert_eq!(count, 70 * 71 / 2);
    assert_eq!(
        inclusion_proof(&src, 5, 5),
        Err(MerkleError::IndexOutOfRange { index: 5, start: 0, end: 5 })
    );
}

#[test]
fn consistency_proofs_verify_for_all_sizes_up_to_70() {
    let leaves = test_leaves(70);
    let src = LeafHashes::from_leaf_hashes(leaves.clone());
    let roots: Vec<Hash> = (0..=70).map(|n| root_from_leaf_hashes(&leaves[..n])).collect();
    let mut count = 0;
    for n in 1..=70u64 {
        for m in 1..=n {
            let proof = consistency_proof(&src, m, n).unwrap();
            verify_consistency(m, n, &roots[m as usize], &roots[n as usize], &proof).unwrap();
            if m < n {
                assert!(!proof.is_empty());
                // Another older root, or another newer root, fails.
                assert!(
                    verify_consistency(m, n, &roots[m as usize - 1], &roots[n as usize], &proof)
                        .is_err()
                );
                assert!(
                    verify_consistency(m, n, &roots[m as usize], &roots[n as usize - 1], &proof)
                        .is_err()
                );
            } else {
                assert!(proof.is_empty());
            }
            count += 1;
        }
    }
    assert_eq!(count, 70 * 71 / 2);
    assert_eq!(consistency_proof(&src, 0, 5), Err(MerkleError::EmptyTree));
    assert!(consistency_proof(&src, 6, 5).is_err());
    assert_eq!(
        verify_consistency::<Hash>(0, 0, &empty_root(), &empty_root(), &[]),
        Err(MerkleError::EmptyTree)
    );
}

/// Every valid subtree of trees of size up to 40: subtree proofs generate and verify.
#[test]
fn subtree_proofs_verify() {
    let leaves = test_leaves(40);
    let src = LeafHashes::from_leaf_hashes(leaves.clone());
    let mut count = 0;
    for size in 1..=40u64 {
        let tree_root = root(&src, size).unwrap();
        for start in 0..size {
            for end in start + 1..=size {
                let Ok(sub) = subtree_root(&src, start, end) else {
                    continue; // not a valid subtree
                };
                assert_eq!(sub, root_from_leaf_hashes(&leaves[start as usize..end as usize]));
                let proof = subtree_consistency_proof(&src, start, end, size).unwrap();
                verify_subtree_consistency(start, end, size, &sub, &tree_root, &proof)
                    .unwrap_or_else(|e| panic!("[{start},{end}) in {size}: {e}"));
                let wrong = leaf_hash(b"wrong");
                assert!(
                    verify_subtree_consistency(start, end, size, &wrong, &tree_root, &proof)
                        .is_err()
                );
                assert!(
                    verify_subtree_consistency(start, end, size, &sub, &wrong, &proof).is_err()
                );
                if size == end {
                    continue;
                }
                for index in start..end {
                    let p = subtree_inclusion_proof(&src, index, start, end).unwrap();
                    verify_subtree_inclusion(&leaves[index as usize], index, start, end, &p, &sub)
                        .unwrap();
                }
                count += 1;
            }
        }
    }
    assert!(count > 300, "{count}");
    assert!(subtree_root(&src, 1, 3).is_err());
    assert!(subtree_consistency_proof(&src, 2, 5, 8).is_err());
    assert_eq!(subtree_consistency_proof(&src, 3, 3, 8), Ok(Vec::new()));
}

/// Proof shapes from the subtree figures of draft-ietf-plants-merkle-tree-certs.
#[test]
fn subtree_consistency_proof_shapes() {
    let leaves = test_leaves(14);
    let mth = |a: usize, b: usize| root_from_leaf_hashes(&leaves[a..b]);
    let src = &leaves[..];
    assert_eq!(subtree_consistency_proof(src, 4, 8, 14).unwrap(), vec![mth(0, 4), mth(8, 14)]);
    assert_eq!(
        subtree_consistency_proof(src, 8, 13, 14).unwrap(),
        vec![mth(12, 13), mth(13, 14), mth(8, 12), mth(0, 8)]
    );
    assert_eq!(subtree_consistency_proof(src, 8, 14, 14).unwrap(), vec![mth(0, 8)]);
    assert_eq!(subtree_consistency_proof(src, 0, 14, 14).unwrap(), Vec::<Hash>::new());
}

#[test]
fn compact_tree_matches_mth_for_every_prefix() {
    let leaves = test_leaves(70);
    let src = LeafHashes::from_leaf_hashes(leaves.clone());
    let mut tree = CompactTree::new();
    assert_eq!(tree.root(), empty_root());
    for n in 1..=70u64 {
        tree.append(leaves[n as usize - 1]);
        assert_eq!(tree.size(), n);
        assert_eq!(tree.hashes().len(), n.count_ones() as usize);
        assert_eq!(tree.root(), root_from_leaf_hashes(&leaves[..n as usize]), "size {n}");
        assert_eq!(CompactTree::from_source(&src, n).unwrap(), tree);
        // Persist and restore.
        let json = serde_json::to_string(&tree).unwrap();
        let back: CompactTree = serde_json::from_str(&json).unwrap();
        assert_eq!(back, tree);
    }
    let mut by_data = CompactTree::new();
    by_data.append_data(b"leaf 0");
    assert_eq!(by_data.root(), leaves[0]);
}

#[test]
fn compact_tree_serialization() {
    let leaves = rfc_leaf_hashes();
    let mut tree = CompactTree::new();
    for l in &leaves[..6] {
        tree.append(*l);
    }
    let json = serde_json::to_value(&tree).unwrap();
    assert_eq!(json["size"], 6);
    assert_eq!(json["hashes"].as_array().unwrap().len(), 2);
    assert_eq!(
        json["hashes"][0].as_str().unwrap(),
        BASE64.encode(root_from_leaf_hashes(&leaves[..4]))
    );
    // Shape, length and encoding errors are rejected.
    let bad = [
        r#"{"size": 6, "hashes": []}"#.to_owned(),
        format!(r#"{{"size": 1, "hashes": ["{}"]}}"#, BASE64.encode([0u8; 31])),
        r#"{"size": 1, "hashes": ["not base64!"]}"#.to_owned(),
        format!(r#"{{"size": 1, "hashes": ["{}"], "extra": 1}}"#, BASE64.encode([0u8; 32])),
    ];
    for b in &bad {
        assert!(serde_json::from_str::<CompactTree>(b).is_err(), "{b}");
    }
    assert!(CompactTree::from_parts(3, vec![[0; 32]]).is_err());
    let full = CompactTree::from_parts(u64::MAX, vec![[0; 32]; 64]).unwrap();
    let mut full2 = full.clone();
    assert_eq!(full2.try_append([1; 32]), Err(MerkleError::TreeFull));
    assert_eq!(full2, full);
    full2.append([1; 32]);
    assert_eq!(full2, full);
}

#[test]
fn hashing_primitives() {
    let l = leaf_hash(b"");
    let n = node_hash(&l, &l);
    assert_eq!(root_from_leaf_hashes(&[l, l]), n);
    assert_eq!(root_from_leaf_hashes(&[l]), l);
    assert_eq!(root_from_leaf_hashes(&[]), empty_root());
    let src: &[Hash] = &[l, l];
    assert_eq!(src.perfect(1, 0).unwrap(), n);
    assert!(src.perfect(1, 1).is_err());
    assert!(src.perfect(64, 0).is_err());
    let lh = LeafHashes::from_leaf_hashes([l, l, l]);
    assert_eq!(lh.len(), 3);
    assert!(lh.perfect(1, 1).is_err());
    assert!(lh.perfect(2, 0).is_err());
}

/// Hash inputs of the wrong length are errors, never panics.
#[test]
fn wrong_length_inputs_are_errors() {
    let leaves = test_leaves(5);
    let r = root_from_leaf_hashes(&leaves);
    let proof = inclusion_proof(&leaves[..], 2, 5).unwrap();
    let mut short: Vec<Vec<u8>> = proof.iter().map(|h| h.to_vec()).collect();
    short[1].pop();
    assert!(matches!(
        verify_inclusion(&leaves[2], 2, 5, &short, &r),
        Err(MerkleError::WrongHashLength { .. })
    ));
    assert!(matches!(
        verify_inclusion(&leaves[2][..31], 2, 5, &proof, &r),
        Err(MerkleError::WrongHashLength { .. })
    ));
    assert!(verify_inclusion(&leaves[2], 2, 5, &proof, &r[..31]).is_err());
    let cproof = consistency_proof(&leaves[..], 3, 5).unwrap();
    let r3 = root_from_leaf_hashes(&leaves[..3]);
    assert!(verify_consistency(3, 5, &r3[..5], &r, &cproof).is_err());
    assert!(verify_consistency(3, 5, &r3, &[], &cproof).is_err());
    assert!(verify_consistency(u64::MAX, u64::MAX, &r3, &r3, &cproof).is_err());
    assert!(verify_inclusion(&leaves[2], u64::MAX - 1, u64::MAX, &proof, &r).is_err());
    assert!(verify_subtree_consistency(1 << 62, u64::MAX, u64::MAX, &r3, &r, &cproof).is_err());
}
