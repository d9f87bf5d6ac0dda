//! The crate's error type. No tantivy type appears in it.

use std::path::PathBuf;

/// Why an index operation failed. User query text never causes one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SearchError {
    /// The index directory could not be created or opened.
    #[error("search index directory {path}: {source}")]
    Io {
        /// The directory given to [`SearchIndex::open`](crate::SearchIndex::open).
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The directory holds an index built with another schema (an older version of this
    /// crate). The index is a cache of the national view: delete the directory and re-index.
    #[error("search index at {path} has an incompatible schema; delete it and re-index")]
    SchemaMismatch {
        /// The index directory.
        path: PathBuf,
    },
    /// Another writer (in this process or another) holds the index directory's lock.
    #[error("search index at {path} is locked by another writer")]
    Locked {
        /// The index directory.
        path: PathBuf,
    },
    /// The document cannot be indexed (the message says which field and why).
    #[error("invalid search document: {0}")]
    InvalidDoc(&'static str),
    /// The search engine failed (I/O, corrupt files, a dead indexing thread). The message is
    /// the engine's.
    #[error("search engine: {0}")]
    Engine(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// Wraps an engine error (used with `map_err`; deliberately not a public `From` impl).
pub(crate) fn engine<E: std::error::Error + Send + Sync + 'static>(e: E) -> SearchError {
    SearchError::Engine(Box::new(e))
}
