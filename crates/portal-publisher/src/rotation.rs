//! Changing the node's key over time (SPEC.md §13): `rotate` signs a `rotate` key event with
//! the old key and makes the new one current; `revoke` signs a revocation from a log index.
//! Both run on a stopped node, through its own sequencer path.

use std::path::PathBuf;

use portal_proto::crypto::{PublicKey, Signer};
use portal_proto::envelope;
use portal_proto::ids::Digest;
use portal_proto::record::{KeyEvent, KeyEventKind, KeyGrant, Record, RecordType, Validate};

use crate::config::DataDir;
use crate::files;
use crate::keys::{history, history_path, pending_path, read_history, retired_path};
use crate::loading::{OpenError, load_signer, now};
use crate::node::Node;

/// What a rotation did.
#[derive(Clone, Debug)]
pub struct Rotated {
    /// Log index of the key event.
    pub log_index: u64,
    /// The retired key.
    pub old: PublicKey,
    /// The new current key, valid from `log_index + 1`.
    pub new: PublicKey,
    /// Where the retired seed is kept.
    pub retired_seed: PathBuf,
}

/// Why a rotation did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotateError {
    /// The node could not be opened (running, or a damaged data directory).
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The node refuses to sign (its store is behind its signing journal).
    #[error("the node refuses to sign, so it cannot rotate: {0}")]
    Refused(String),
    /// Writing the event or the keys failed.
    #[error("{0}")]
    Failed(String),
}

/// Rotate the node's key (see the module documentation). The node must be stopped: the store
/// is opened here, and a running server's lock makes this fail with `Store(Locked)`.
///
/// Order, so that a crash at any point leaves a node that starts and signs correctly: the new
/// seed is written first (`keys/next.key`), then the key event is signed, journaled and stored
/// by the node's own sequencer path, then the old seed is copied to `retired/`, the history is
/// written, and last `next.key` replaces `node.key`. A rerun after a crash before the last
/// step resumes from the stored key event instead of signing another.
pub fn rotate(dir: &DataDir, reason: &str) -> Result<Rotated, RotateError> {
    let failed =
        |what: &str, e: &dyn std::fmt::Display| RotateError::Failed(format!("{what}: {e}"));
    let next_path = pending_path(dir);
    let current = load_signer(dir)?;
    // The history as it was before this rotation: an interrupted run may have written the new
    // one already (its last grant is then the pending key, the one before it the current key).
    let mut history =
        read_history(dir)?.unwrap_or_else(|| vec![KeyGrant::pinned(current.public_key())]);
    if history.len() >= 2
        && history[history.len() - 2].public_key == current.public_key()
        && next_path.exists()
    {
        history.pop();
        if let Some(g) = history.last_mut() {
            g.until_index = None;
        }
    }
    if history.last().is_none_or(|g| g.public_key != current.public_key()) {
        return Err(RotateError::Failed(format!(
            "{} does not end with the current key {}: the key files disagree",
            history_path(dir).display(),
            current.public_key().key_id()
        )));
    }
    let node = Node::open_with(dir.clone(), history.clone())?;
    if let Some(reason) = node.refusal() {
        return Err(RotateError::Refused(reason));
    }
    let old = node.signer().clone();
    // Resume: a stored key event of ours naming the seed in next.key.
    let pending = match std::fs::read_to_string(&next_path) {
        Ok(t) => Some(
            Digest::new(t.trim())
                .map(|d| Signer::from_seed(d.to_bytes()))
                .map_err(|_| failed(&next_path.display().to_string(), &"not a seed"))?,
        ),
        Err(_) => None,
    };
    let mut event_index = None;
    if let Some(next) = &pending
        && let Some(last) = node.store.size().checked_sub(1)
        && let Some(signed) = node.store.entry(last).map_err(|e| failed("store", &e))?
        && let Ok(Record::KeyEvent(e)) = envelope::parse_record(signed.bytes())
        && e.public_key.as_ref() == Some(&next.public_key())
    {
        event_index = Some(last);
    }
    let new = match pending {
        Some(s) => s,
        None => {
            let seed: [u8; 32] = rand::random();
            files::replace_private(
                &next_path,
                format!("{}\n", Digest::from_bytes(&seed)).as_bytes(),
            )
            .map_err(|e| failed(&next_path.display().to_string(), &e))?;
            Signer::from_seed(seed)
        }
    };
    let log_index = match event_index {
        Some(i) => i,
        None => {
            let index = node.store.size();
            let pk = new.public_key();
            let event = KeyEvent {
                ipsp: 1,
                record_type: RecordType::KeyEvent,
                origin: node.config.id.clone(),
                log_index: index,
                event: KeyEventKind::Rotate,
                kid: pk.key_id(),
                public_key: Some(pk),
                from_index: index + 1,
                reason: reason.trim().to_owned(),
                time: now(),
            };
            append_key_event(&node, event)?
        }
    };
    let retired = retired_path(dir, &old.public_key().key_id().to_string());
    let seed_text = std::fs::read(dir.key()).map_err(|e| failed("keys/node.key", &e))?;
    if let Some(parent) = retired.parent() {
        std::fs::create_dir_all(parent).map_err(|e| failed("keys/retired", &e))?;
    }
    files::replace_private(&retired, &seed_text)
        .map_err(|e| failed(&retired.display().to_string(), &e))?;
    let mut grants = history;
    if let Some(g) = grants.last_mut() {
        g.until_index = Some(log_index + 1);
    }
    grants.push(KeyGrant { from_index: log_index + 1, ..KeyGrant::pinned(new.public_key()) });
    let json = serde_json::to_vec_pretty(&grants).map_err(|e| failed("history", &e))?;
    files::replace_private(&history_path(dir), &json)
        .map_err(|e| failed("keys/history.json", &e))?;
    std::fs::rename(&next_path, dir.key()).map_err(|e| failed("keys/node.key", &e))?;
    Ok(Rotated { log_index, old: old.public_key(), new: new.public_key(), retired_seed: retired })
}

/// Revoke one of the node's keys from log index `from_index` (SPEC.md §4.3): a `revoke` key
/// event signed by the current key, and `revoked_from` in the history (so the descriptor says
/// it). For a retired key that may have been compromised: every record it signed at
/// `from_index` or later becomes invalid, including records already accepted, so verifiers
/// re-examine them. The current key cannot be revoked here (rotate first). On a stopped node.
pub fn revoke(dir: &DataDir, kid: &str, from_index: u64, reason: &str) -> Result<u64, RotateError> {
    let failed =
        |what: &str, e: &dyn std::fmt::Display| RotateError::Failed(format!("{what}: {e}"));
    let node = Node::open(dir.clone())?;
    if let Some(reason) = node.refusal() {
        return Err(RotateError::Refused(reason));
    }
    let mut grants = history(dir)?;
    let position = grants.iter().position(|g| g.kid.to_string() == kid).ok_or_else(|| {
        RotateError::Failed(format!("{kid} is not one of this node's keys (keys/history.json)"))
    })?;
    if position + 1 == grants.len() {
        return Err(RotateError::Failed(format!(
            "{kid} is the current key: rotate first (`portal key rotate`), then revoke it"
        )));
    }
    let index = node.store.size();
    let event = KeyEvent {
        ipsp: 1,
        record_type: RecordType::KeyEvent,
        origin: node.config.id.clone(),
        log_index: index,
        event: KeyEventKind::Revoke,
        kid: grants[position].kid.clone(),
        public_key: None,
        from_index,
        reason: reason.trim().to_owned(),
        time: now(),
    };
    let at = append_key_event(&node, event)?;
    let g = &mut grants[position];
    g.revoked_from = Some(g.revoked_from.map_or(from_index, |r| r.min(from_index)));
    let json = serde_json::to_vec_pretty(&grants).map_err(|e| failed("history", &e))?;
    files::replace_private(&history_path(dir), &json)
        .map_err(|e| failed("keys/history.json", &e))?;
    Ok(at)
}

/// Check `event` against SPEC.md §4's rules, then sign, journal and store it through the
/// node's own sequencer path; its log index.
fn append_key_event(node: &Node, event: KeyEvent) -> Result<u64, RotateError> {
    event.validate().map_err(|e| {
        let reasons: Vec<String> = e.iter().map(ToString::to_string).collect();
        RotateError::Failed(format!("key event: {}", reasons.join("; ")))
    })?;
    node.append_own(Record::KeyEvent(event))
        .map_err(|e| RotateError::Failed(format!("key event: {e}")))
}

#[cfg(test)]
mod tests {
    // The CLI runs one rotation per process (a `Node` keeps its store open until the process
    // ends), so these tests check the files; tests/e2e/keys.rs verifies the log end to end.
    use std::collections::BTreeMap;

    use portal_proto::ids::Lang;

    use super::*;
    use crate::keys::{checkpoint_signer, initial_grants};

    fn node_dir(tmp: &tempfile::TempDir) -> DataDir {
        let dir = DataDir::new(tmp.path().join("moh"));
        let names = BTreeMap::from([(Lang::new("vi").expect("lang"), "Bộ Y tế".to_owned())]);
        crate::init(&dir, "bo-y-te", names, "http://127.0.0.1:9").expect("init");
        dir
    }

    #[test]
    fn a_rotation_retires_the_old_key_from_the_next_index_and_keeps_its_seed() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = node_dir(&tmp);
        let first = load_signer(&dir).expect("key").public_key();
        assert_eq!(history(&dir).expect("history"), vec![KeyGrant::pinned(first.clone())]);
        let r = rotate(&dir, "định kỳ").expect("rotate");
        assert_eq!((r.log_index, r.old.clone()), (0, first.clone()));
        let h = history(&dir).expect("history");
        assert_eq!(h.len(), 2);
        assert_eq!(h[0], KeyGrant { until_index: Some(1), ..KeyGrant::pinned(first.clone()) });
        assert_eq!(h[1], KeyGrant { from_index: 1, ..KeyGrant::pinned(r.new.clone()) });
        assert!(!pending_path(&dir).exists());
        assert!(r.retired_seed.exists());
        // The checkpoint of size 1 covers the event: the retired key signs it.
        let current = load_signer(&dir).expect("key");
        assert_eq!(current.public_key(), r.new);
        assert_eq!(checkpoint_signer(&dir, &current, &h, 1).expect("s").public_key(), first);
        assert_eq!(checkpoint_signer(&dir, &current, &h, 2).expect("s").public_key(), r.new);
        // A third party starts from the first key alone and learns the rest from the log.
        assert_eq!(initial_grants(&h), vec![KeyGrant::pinned(first)]);
    }

    #[test]
    fn an_interrupted_rotation_blocks_the_node_until_it_is_finished() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = node_dir(&tmp);
        // Interrupted after writing the new seed: the node must not start (it could sign with
        // a key the log retires), and rotating again finishes with that seed.
        let seed = [7u8; 32];
        std::fs::write(pending_path(&dir), format!("{}\n", Digest::from_bytes(&seed)))
            .expect("write");
        let err = Node::open(dir.clone()).expect_err("refused");
        assert!(err.to_string().contains("key rotation was interrupted"), "{err}");
        let r = rotate(&dir, "tiếp tục").expect("finish");
        assert_eq!(r.new, Signer::from_seed(seed).public_key());
        assert_eq!(history(&dir).expect("history").len(), 2);
        assert!(!pending_path(&dir).exists());
    }

    #[test]
    fn a_history_that_does_not_end_with_the_current_key_is_refused() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = node_dir(&tmp);
        let other = Signer::from_seed([9u8; 32]).public_key();
        let json = serde_json::to_vec(&vec![KeyGrant::pinned(other)]).expect("json");
        std::fs::write(history_path(&dir), json).expect("write");
        let err = history(&dir).expect_err("refused");
        assert!(err.to_string().contains("is not the current key"), "{err}");
    }
}
