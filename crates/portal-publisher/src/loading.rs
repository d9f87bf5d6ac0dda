//! Reading a node's data directory: its config and its signing key, the errors that stop a
//! node from opening, and the wall clock (read here, passed down as an argument elsewhere).

use std::time::{SystemTime, UNIX_EPOCH};

use portal_proto::crypto::Signer;
use portal_proto::ids::Digest;
use portal_proto::time::Timestamp;

use crate::config::{DataDir, NodeConfig};

/// The wall clock, in whole seconds.
pub fn now() -> Timestamp {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Timestamp::from_unix(secs).unwrap_or(Timestamp::EPOCH)
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// A file could not be read or parsed.
    #[error("{path}: {reason}")]
    File {
        /// Which file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] portal_store::StoreError),
}

pub(crate) fn file_error(path: &std::path::Path, reason: impl ToString) -> OpenError {
    OpenError::File { path: path.display().to_string(), reason: reason.to_string() }
}

/// Read `DATA/config.toml`.
pub fn load_config(dir: &DataDir) -> Result<NodeConfig, OpenError> {
    let path = dir.config();
    let text = std::fs::read_to_string(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            file_error(
                &path,
                "not found: is this a node's data directory? Create one with `portal init`",
            )
        } else {
            file_error(&path, e)
        }
    })?;
    toml::from_str(&text).map_err(|e| file_error(&path, e))
}

/// Read the signing key.
pub fn load_signer(dir: &DataDir) -> Result<Signer, OpenError> {
    let path = dir.key();
    let text = std::fs::read_to_string(&path).map_err(|e| file_error(&path, e))?;
    let digest = Digest::new(text.trim())
        .map_err(|_| file_error(&path, "not a 64-hex-digit Ed25519 seed"))?;
    Ok(Signer::from_seed(digest.to_bytes()))
}
