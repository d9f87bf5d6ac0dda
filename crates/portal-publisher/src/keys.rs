//! The node's keys over time (SPEC.md §4.3, §5.4, §13): which key signs now, which keys signed
//! before, and key rotation.
//!
//! ```text
//! DATA/keys/node.key              the current signing seed (hex, 0600)
//! DATA/keys/history.json          every key grant the node has used, oldest first (after a
//!                                 rotation; absent: the one key of node.key, from index 0)
//! DATA/keys/retired/<kid>.key     the seeds of retired keys (0600), kept, never deleted
//! ```
//!
//! A rotation (`portal key rotate`, on a stopped node) appends a `key-event` record signed by
//! the current key K at index n, granting the new key from index n + 1 (K's grant gets
//! `until_index = n + 1`), stores it with a checkpoint of size n + 1 signed by K (the key valid
//! at index n), and only then makes the new key current. Until the next entry is appended the
//! node's heartbeat checkpoints still cover index n, so they are signed by K, read from
//! `retired/`; that is why a retired seed is kept. The log itself tells every verifier about
//! the new key: nobody re-pins anything.

use std::path::PathBuf;

use portal_proto::crypto::Signer;
use portal_proto::ids::Digest;
use portal_proto::record::KeyGrant;

use crate::config::DataDir;
use crate::loading::{OpenError, file_error, load_signer};

/// `DATA/keys/history.json`.
pub fn history_path(dir: &DataDir) -> PathBuf {
    dir.keys().join("history.json")
}

/// `DATA/keys/next.key`: the new seed while a rotation is under way. The node refuses to start
/// while it exists (it could sign with a key the log has already retired).
pub fn pending_path(dir: &DataDir) -> PathBuf {
    dir.keys().join("next.key")
}

/// `DATA/keys/retired/<kid>.key`.
pub fn retired_path(dir: &DataDir, kid: &str) -> PathBuf {
    dir.keys().join("retired").join(format!("{kid}.key"))
}

/// Every key grant the node has used, oldest first; the last is the current key's.
///
/// Without `keys/history.json` (a node that never rotated) it is the one grant of
/// `keys/node.key` from index 0. Checked: the current key must be the last grant, open-ended.
pub fn history(dir: &DataDir) -> Result<Vec<KeyGrant>, OpenError> {
    let current = load_signer(dir)?.public_key();
    let path = history_path(dir);
    let grants = read_history(dir)?.unwrap_or_else(|| vec![KeyGrant::pinned(current.clone())]);
    match grants.last() {
        Some(g) if g.public_key == current && g.until_index.is_none() => Ok(grants),
        _ => Err(file_error(
            &path,
            format!(
                "its last grant is not the current key {} of {}, valid with no end",
                current.key_id(),
                dir.key().display()
            ),
        )),
    }
}

pub(crate) fn read_history(dir: &DataDir) -> Result<Option<Vec<KeyGrant>>, OpenError> {
    let path = history_path(dir);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| file_error(&path, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(file_error(&path, e)),
    }
}

/// The grants a verifier of this node's log starts from: the keys valid from index 0, without
/// the ends that later key events in the log give them (a verifier learns those from the log).
pub fn initial_grants(history: &[KeyGrant]) -> Vec<KeyGrant> {
    history
        .iter()
        .filter(|g| g.from_index == 0)
        .map(|g| KeyGrant { until_index: None, revoked_from: None, ..g.clone() })
        .collect()
}

/// The signer for a checkpoint of `size` entries: the key valid at index `size − 1` (SPEC.md
/// §7): the current key, or a retired one for the checkpoint right after a rotation.
pub fn checkpoint_signer(
    dir: &DataDir,
    current: &Signer,
    history: &[KeyGrant],
    size: u64,
) -> Result<Signer, OpenError> {
    let index = size.saturating_sub(1);
    let pk = current.public_key();
    let Some(grant) = history.iter().rev().find(|g| g.status_at(index).refusal().is_none()) else {
        return Ok(current.clone());
    };
    if grant.public_key == pk {
        return Ok(current.clone());
    }
    let path = retired_path(dir, &grant.kid.to_string());
    let text = std::fs::read_to_string(&path).map_err(|e| {
        file_error(&path, format!("the key valid at index {index} is needed to sign: {e}"))
    })?;
    let seed = Digest::new(text.trim())
        .map_err(|_| file_error(&path, "not a 64-hex-digit Ed25519 seed"))?;
    let signer = Signer::from_seed(seed.to_bytes());
    if signer.public_key() != grant.public_key {
        return Err(file_error(&path, format!("this seed is not key {}", grant.kid)));
    }
    Ok(signer)
}
