//! IPSP/1 fetching for aggregators and verifiers: one path from a URL to checked bytes.
//!
//! - [`net`]: which addresses are public, and the DNS resolver that refuses the others.
//! - [`fetch`]: [`Fetcher`], the safe HTTP `GET` (public addresses only unless
//!   `allow_private`, optional origin allowlist, every redirect hop re-checked, no https→http,
//!   connect/read/total timeouts, body caps after decompression).
//! - [`client`]: [`Client`], typed fetches of descriptors, log pages, checkpoints, proofs and
//!   rosters, decoded strictly and verified through `portal_proto::envelope` where a record can
//!   be checked alone. Log entries and checkpoints are left to
//!   `portal_proto::verifier::LogVerifier`, which holds the log's state.
//!
//! # Architecture invariant
//! Outgoing requests of aggregators and verifiers go through [`Fetcher`]; it never reaches a
//! non-public address unless its policy's `allow_private` says so (checked on IP literals
//! before sending and on every resolved address), and never follows a redirect it would not
//! have fetched directly. Nothing here builds a `Verified<T>`: only `portal-proto` can.
#![deny(missing_docs)]

pub mod client;
pub mod fetch;
pub mod net;
pub mod ssrf;
pub mod verify;

pub use client::{Client, ClientError, LogPage, NationalPage};
pub use fetch::{AllowedOrigins, FetchError, FetchPolicy, Fetched, Fetcher};
pub use reqwest::Url;
