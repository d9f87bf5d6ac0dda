//! The index's requests and answers: documents, queries, pages of hits, facets.

/// Page size used when [`SearchQuery::per_page`] is 0.
pub const DEFAULT_PER_PAGE: usize = 20;
/// Largest page size; larger requests are capped to it.
pub const MAX_PER_PAGE: usize = 100;

/// One item as the index sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchDoc {
    /// Unique key, e.g. `"bo-y-te/01JD3..."` (member / item id). Upserting the same key
    /// replaces the document.
    pub key: String,
    /// Publishing node id, e.g. `"bo-y-te"`.
    pub member: String,
    /// The item's id within its member.
    pub item_id: String,
    /// `"news"`, `"announcement"`, `"legal"`, `"alert"`, …
    pub kind: String,
    /// Category labels; a filter matches any of them.
    pub categories: Vec<String>,
    /// Language tags, e.g. `["vi", "en"]`; a filter matches any of them.
    pub languages: Vec<String>,
    /// Publication time, unix seconds.
    pub published: i64,
    /// Last update time, unix seconds.
    pub updated: i64,
    /// Plain-text title (several languages may be joined).
    pub title: String,
    /// Plain-text summary.
    pub summary: String,
    /// Plain-text body (the caller strips HTML).
    pub body: String,
    /// Withdrawn items are only found with [`SearchQuery::include_withdrawn`].
    pub withdrawn: bool,
}

/// A search request. Every field is optional in effect: the default lists everything,
/// newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// The user's words, as typed. All words must match; accents and case don't matter.
    pub text: String,
    /// Only this member's items (exact node id). `Some("")` is no filter.
    pub member: Option<String>,
    /// Only this kind. `Some("")` is no filter.
    pub kind: Option<String>,
    /// Only items having this category. `Some("")` is no filter.
    pub category: Option<String>,
    /// Only items having this language. `Some("")` is no filter.
    pub language: Option<String>,
    /// Only items published at or after this time (unix seconds).
    pub from: Option<i64>,
    /// Only items published at or before this time (unix seconds).
    pub to: Option<i64>,
    /// Include withdrawn items.
    pub include_withdrawn: bool,
    /// Page number, from 0.
    pub page: usize,
    /// Hits per page; 0 means [`DEFAULT_PER_PAGE`], capped at [`MAX_PER_PAGE`].
    pub per_page: usize,
}

impl Default for SearchQuery {
    fn default() -> Self {
        SearchQuery {
            text: String::new(),
            member: None,
            kind: None,
            category: None,
            language: None,
            from: None,
            to: None,
            include_withdrawn: false,
            page: 0,
            per_page: DEFAULT_PER_PAGE,
        }
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    /// Number of matching items (all pages).
    pub total: usize,
    /// The page returned, as asked.
    pub page: usize,
    /// The page size used (after defaulting and capping).
    pub per_page: usize,
    /// The hits of this page; empty past the last page.
    pub hits: Vec<SearchHit>,
    /// Counts over all matches.
    pub facets: Facets,
}

/// Facet counts over all matches (not just the page): `(value, items)`, by count descending,
/// then value ascending. An item with several categories or languages counts once in each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facets {
    /// Per member.
    pub member: Vec<(String, u64)>,
    /// Per kind.
    pub kind: Vec<(String, u64)>,
    /// Per category.
    pub category: Vec<(String, u64)>,
    /// Per language.
    pub language: Vec<(String, u64)>,
}

/// One matching item.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// The document key.
    pub key: String,
    /// Publishing node id.
    pub member: String,
    /// The item's id within its member.
    pub item_id: String,
    /// The item's kind.
    pub kind: String,
    /// Relevance score (0 when listing without words).
    pub score: f32,
    /// Publication time, unix seconds.
    pub published: i64,
    /// The whole title, HTML-escaped, matched words wrapped in `<mark>…</mark>`.
    pub title_html: String,
    /// About 200 bytes of body (or summary) around the best matches, HTML-escaped, matched
    /// words in `<mark>…</mark>`, `…` where text was cut; the start of the summary when
    /// nothing matched there.
    pub snippet_html: String,
}
