//! Outgoing-connection safety: which addresses count as public, and a DNS resolver for reqwest
//! that refuses the others (so a hostname cannot smuggle a request to loopback or a private
//! network, including by DNS rebinding: the check is on the addresses actually connected to).
//!
//! Both live in `portal_client::net`, shared with the aggregator's and verifiers' fetcher, and
//! are re-exported here so that the node's callers keep their paths.

pub use portal_client::net::{PublicOnly, is_public};
