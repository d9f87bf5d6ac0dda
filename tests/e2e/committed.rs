//! The committed vectors of `proto-spec/vectors/`, read from disk: what the conformance test
//! runs, and what the generators are compared with.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where the vectors are committed.
pub(crate) fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto-spec/vectors")
}

/// Every committed vector file, relative path → text.
pub(crate) fn vector_files() -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if p.extension().is_some_and(|x| x == "json") {
                let rel =
                    p.strip_prefix(root).expect("under root").to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read_to_string(&p).expect("read vector"));
            }
        }
    }
    let root = vectors_dir();
    let mut out = BTreeMap::new();
    walk(&root, &root, &mut out);
    out
}
