//! IPSP/1 protocol core: the exact bytes a ministry signs and everyone else verifies.
//!
//! This crate is the executable form of `proto-spec/SPEC.md`. It holds the record types
//! ([`record`]), RFC 8785 canonical JSON ([`jcs`]), Ed25519 with the IPSP strict policy
//! ([`crypto`]), the signed envelope and its one verification path ([`envelope`]), the
//! RFC 6962 Merkle tree ([`merkle`]), C2SP checkpoints ([`checkpoint`]), the Atom and JSON
//! Feed encodings ([`feed`]), the log verifier state machine ([`verifier`]), the verified batch
//! a follower hands to the sequencer ([`ingest`]) and the HTTP
//! interface's JSON bodies, paths and error codes ([`api`]).
//!
//! # Architecture invariant
//! No I/O: this crate never opens a socket or a file, never reads the clock (time is an
//! argument) and never spawns. Its dependency tree contains no tokio, actix, reqwest or sled.
//! Output is deterministic: no hash maps where order reaches bytes.
//!
//! # Example
//! ```
//! use portal_proto::crypto::Signer;
//! use portal_proto::envelope::{self, TrustStore};
//! use portal_proto::record::{ItemKind, ItemVersion, KeyGrant, RecordType, Record};
//! use portal_proto::{ids::*, time::Timestamp};
//!
//! let signer = Signer::from_seed([7; 32]);
//! let now = Timestamp::parse("2026-11-28T09:00:00Z").unwrap();
//! let item = ItemVersion {
//!     ipsp: 1,
//!     record_type: RecordType::Item,
//!     origin: NodeId::new("bo-y-te").unwrap(),
//!     log_index: 0,
//!     id: ItemId::from_random([1; 16]),
//!     version: 1,
//!     prev: None,
//!     update: None,
//!     kind: ItemKind::News,
//!     language: Lang::new("vi").unwrap(),
//!     title: "Bộ Y tế khuyến cáo phòng chống sốt xuất huyết".into(),
//!     summary: "Khuyến cáo mùa mưa.".into(),
//!     content_html: "<p>Người dân cần diệt bọ gậy.</p>".into(),
//!     translations: Default::default(),
//!     categories: vec![],
//!     attachments: vec![],
//!     legal: None,
//!     published: now,
//!     updated: now,
//! };
//! let signed = envelope::sign(&item, &signer).unwrap();
//!
//! let mut trust = TrustStore::new();
//! trust.add(item.origin.clone(), KeyGrant::pinned(signer.public_key()));
//! let verified = envelope::open(&signed, &trust).unwrap();
//! assert!(matches!(verified.record(), Record::Item(i) if i.title.starts_with("Bộ Y tế")));
//! ```
#![deny(missing_docs)]

pub mod api;
pub mod bundle;
pub mod checkpoint;
pub mod crypto;
pub mod envelope;
pub mod error;
pub mod feed;
pub mod html;
pub mod ids;
pub mod ingest;
pub mod jcs;
pub mod limits;
pub mod merkle;
pub mod push;
pub mod record;
pub mod time;
pub mod verifier;

pub use envelope::{SignedRecord, Verified};
pub use error::Rejection;
