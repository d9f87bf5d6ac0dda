//! The follower's tests: every rule in virtual time, against a simulated shell and member
//! with real keys, records, checkpoints and proofs. No sockets, no sleeps.

mod boundary;
mod keys;
mod relay;
mod sim;
mod sync;
mod timing;
