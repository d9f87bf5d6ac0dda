//! The workspace's one test kit, used by `tests/e2e`, portal-client's tests and
//! portal-bench alike (STYLE.md, "Tests share one kit"):
//!
//! - [`fixtures`]: keys from fixed seeds and the records, logs, checkpoints and feed metadata
//!   built from them (pure functions: the vectors are generated from them);
//! - [`harness`]: real `portal` processes, `portal init` and `portal serve` on 127.0.0.1 port
//!   0 or on their URL's address, `portal member add`, each stopped by its own PID;
//! - [`fake`]: the fake HTTP member, a raw HTTP/1.1 server that serves given bytes per path
//!   and can stall, drip, redirect, cut a body short and count its connections;
//! - [`api`]: a node's HTTP API as a client sees it (publish, logs, national view, metrics);
//! - [`wait`]: waiting until a condition holds, with a deadline.
//!
//! The kit depends on library crates only (portal-proto and the HTTP and runtime crates), so
//! that every package can use it: never on portal-bench, portal-client or portal-node.

#![deny(missing_docs)]

pub mod api;
pub mod fake;
pub mod fixtures;
pub mod harness;
pub mod wait;
