//! Importing entries this node signed earlier (`portal restore`): the exact signed bytes, at
//! their own indices, with no new signature.

use crate::{Append, Result, Store};

impl Store {
    /// Append `entries`, which must continue the log exactly (else [`crate::StoreError::NotNext`]),
    /// **without** replacing the stored checkpoint: one atomic, durable batch, like
    /// [`Store::append`]. For restoring a log in chunks from a copy (the central node's mirror,
    /// the signing journal): the caller verifies every entry against the node's own keys first,
    /// and sets the checkpoint with [`Store::set_checkpoint`] once the log is whole. Returns the
    /// new size.
    pub fn import(&self, entries: &[Append<'_>]) -> Result<u64> {
        self.append_with(entries, None, |_| Ok(()))
    }
}
