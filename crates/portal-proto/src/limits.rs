//! Size limits of IPSP/1 (SPEC.md §12). Anything larger is refused before it is parsed.

/// Largest signed record, in bytes of canonical JSON.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// Largest feed document accepted by the decoders (Atom or JSON Feed), in bytes.
pub const MAX_FEED_BYTES: usize = 16 * 1024 * 1024;
/// Most entries in one feed page or log batch.
pub const MAX_PAGE_ENTRIES: usize = 1000;
/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 1000;
/// Longest summary, in characters.
pub const MAX_SUMMARY_CHARS: usize = 5000;
/// Longest HTML body, in characters.
pub const MAX_CONTENT_CHARS: usize = 500_000;
/// Longest change note, explanation or reason, in characters.
pub const MAX_NOTE_CHARS: usize = 5000;
/// Longest name (display name, file name, legal number, issuer, signer), in characters.
pub const MAX_NAME_CHARS: usize = 500;
/// Longest category, in characters.
pub const MAX_CATEGORY_CHARS: usize = 100;
/// Most categories on one item.
pub const MAX_CATEGORIES: usize = 32;
/// Most attachments on one item.
pub const MAX_ATTACHMENTS: usize = 64;
/// Longest URL, in bytes.
pub const MAX_URL_BYTES: usize = 2048;
