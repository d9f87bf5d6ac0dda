//! End-to-end tests: the protocol contract in `proto-spec/` against the code, and (as the
//! node and aggregator land) whole federations over 127.0.0.1.

mod architecture;
mod boundaries;
mod browser;
mod bundle;
mod bundle_vectors;
mod committed;
mod conformance;
mod crash;
mod demo;
mod deploy;
mod examples;
mod federation;
mod feed_readers;
mod keys;
mod node;
mod restore;
mod spec;
mod tidy;
mod vectors;
mod verify;
mod websub;
