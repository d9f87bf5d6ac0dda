//! IPSP/1 protocol core: the exact bytes a ministry signs and everyone else verifies.
//!
//! # Architecture invariant
//! No I/O: this crate never opens a socket or a file, never reads the clock (time is an
//! argument) and never spawns. Output is deterministic.
#![deny(missing_docs)]

pub mod checkpoint;
pub mod crypto;
pub mod envelope;
pub mod error;
pub mod ids;
pub mod jcs;
pub mod limits;
pub mod merkle;
pub mod record;
pub mod time;
pub mod verifier;

pub use envelope::{SignedRecord, Verified};
pub use error::Rejection;
