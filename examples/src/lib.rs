//! Runnable examples live beside this file (`verify_feed.rs`, …); this library is empty.
