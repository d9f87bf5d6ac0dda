//! Integration tests of portal-proto's public API, data-driven over the vendored third-party data in `testdata/` (copied from the workplace's shared test data; see testdata/README.md).

mod api;
mod bundle;
mod checkpoint;
mod crypto;
mod feed;
mod jcs;
mod merkle;
mod push;
mod records;

/// Path of a file in the shared third-party test data.
pub fn shared(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(path)
}
