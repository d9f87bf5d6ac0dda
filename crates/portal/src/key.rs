//! `portal key rotate`: replace the node's signing key, announced in its own log (SPEC.md §4.3,
//! §13; `portal_publisher::keys`).

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Subcommand;
use portal_publisher::DataDir;
use portal_publisher::node::OpenError;
use portal_publisher::rotation::RotateError;

#[derive(Subcommand, Debug)]
pub(crate) enum KeyCommand {
    /// Generate a new key and log a `rotate` key event signed by the current key; the node
    /// signs with the new key from the next index. The node must be stopped. The old seed is
    /// kept in keys/retired/ (never deleted).
    Rotate {
        /// The node's data directory.
        #[arg(long)]
        data: PathBuf,
        /// Public reason, recorded in the log.
        #[arg(long, default_value = "scheduled key rotation")]
        reason: String,
    },
    /// Revoke a retired key from a log index (a compromise): a `revoke` key event signed by
    /// the current key. Every record the key signed from that index on becomes invalid.
    Revoke {
        /// The node's data directory.
        #[arg(long)]
        data: PathBuf,
        /// The key id to revoke (16 hex digits, as `portal key rotate` printed it).
        kid: String,
        /// First log index whose records signed by this key are invalid.
        #[arg(long)]
        from_index: u64,
        /// Public reason, recorded in the log.
        #[arg(long)]
        reason: String,
    },
}

pub(crate) fn run(action: KeyCommand) -> Result<()> {
    match action {
        KeyCommand::Revoke { data, kid, from_index, reason } => {
            let dir = DataDir::new(&data);
            portal_publisher::node::load_config(&dir)?;
            match portal_publisher::rotation::revoke(&dir, &kid, from_index, &reason) {
                Ok(at) => {
                    println!(
                        "revoked key {kid} from index {from_index}: key event at log index {at}"
                    );
                    println!(
                        "tell the federation's operators: they set revoked_from in the roster too"
                    );
                    Ok(())
                }
                Err(RotateError::Open(OpenError::Store(portal_store::StoreError::Locked(_)))) => {
                    bail!("the node is running: stop it first, then revoke")
                }
                Err(e) => Err(e.into()),
            }
        }
        KeyCommand::Rotate { data, reason } => {
            let dir = DataDir::new(&data);
            portal_publisher::node::load_config(&dir)?;
            match portal_publisher::rotation::rotate(&dir, &reason) {
                Ok(r) => {
                    println!("rotated at log index {}", r.log_index);
                    println!(
                        "old key:     {} {} (retired from index {})",
                        r.old.key_id(),
                        r.old.to_base64(),
                        r.log_index + 1
                    );
                    println!("new key:     {} {}", r.new.key_id(), r.new.to_base64());
                    println!(
                        "old seed kept in {} (0600): move it offline, never lose it silently",
                        r.retired_seed.display()
                    );
                    println!(
                        "the central node learns the new key from the key event in the log: no re-pinning"
                    );
                    Ok(())
                }
                Err(RotateError::Open(OpenError::Store(portal_store::StoreError::Locked(_)))) => {
                    bail!(
                        "the node is running: stop it first (it must not sign while its key changes), then rotate"
                    )
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}
