//! Full-text search over the national view's items, on [tantivy](https://docs.rs/tantivy).
//!
//! [`SearchIndex`] indexes one [`SearchDoc`] per item (keyed by `member/item_id`), and answers
//! a [`SearchQuery`] with a [`SearchPage`]: ranked hits with escaped, highlighted titles and
//! snippets, and facet counts over every match. The index is a cache of the national view:
//! it can always be deleted and rebuilt from the verified records.
//!
//! # Vietnamese with or without diacritics
//!
//! People type "Bộ Y tế", "bo y te" and "BỘ Y TẾ" for the same thing. Every text field is
//! analyzed as:
//!
//! 1. **words**: maximal runs of letters and digits of any script (a combining mark after a
//!    letter stays in the word, so decomposed input is one word); everything else separates
//!    words. Words over 80 bytes are dropped.
//! 2. **folding**: NFKD decomposition, combining marks removed, `đ`/`Đ` → `d`/`D` (the one
//!    Vietnamese letter with no decomposition), then lowercase. "Đào tạo" → `dao tao`.
//!
//! Queries go through the same analyzer, so accents never matter for *matching*. The tokens
//! keep byte offsets into the original text, so highlights land on the original, accented
//! words.
//!
//! A second analyzer (words → lowercase → NFC, accents kept) feeds a hidden `exact` field
//! holding title, summary and body. It is only used to *rank*: see below.
//!
//! # Ranking
//!
//! Every query word must match (AND), in any of the title, summary or body. The score is the
//! BM25 sum over `title ×3`, `summary ×2`, `body ×1`, plus, for each query word typed *with*
//! diacritics, an optional match on the `exact` field weighted ×0.5. So "bộ" ranks items
//! saying "bộ" above items saying only "bồ" or "bó", while "bo" still finds all three and
//! ranks them on BM25 alone.
//!
//! Query text is never parsed as query syntax: quotes, colons, brackets, `*`, `-` and the
//! like are separators, `AND`/`OR`/`NOT` are ordinary words, and no input can make a search
//! fail or panic. Only the first 32
//! distinct words are used. Text with no words at all (empty, punctuation, emoji) lists the
//! items matching the filters, newest first; text whose only words are over-long matches
//! nothing.
//!
//! # Writing
//!
//! [`SearchIndex::upsert`] and [`SearchIndex::remove`] are buffered; nothing is visible (or
//! durable) until [`SearchIndex::commit`], which flushes a segment, fsyncs, and reloads the
//! searcher. Commit in batches (after a poll round), not per item. Dropping the index drops
//! what was not committed.
//!
//! Every method blocks (disk I/O, and `commit` waits for indexing): call them from a blocking
//! context (`spawn_blocking`, `web::block`), not on an async executor thread. Each index runs
//! three background threads (one indexing worker, one segment updater, one merger); searches
//! run on the calling thread. [`SearchIndex::open`] owns its directory: the engine's files
//! (`meta.json`, `.managed.json`, segment files, and the `.tantivy-writer.lock` that makes a
//! second writer fail with [`SearchError::Locked`]) live directly in it.

#![deny(missing_docs)]

mod analysis;
mod error;
mod highlight;
mod query;
mod schema;
mod types;

use std::fmt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tantivy::collector::{Count, FacetCollector, FacetCounts, TopDocs};
use tantivy::directory::MmapDirectory;
use tantivy::directory::error::LockError;
use tantivy::indexer::IndexWriterOptions;
use tantivy::query::Query;
use tantivy::schema::{Facet, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{
    DocAddress, Index, IndexReader, IndexSettings, IndexWriter, Order, ReloadPolicy, Searcher,
    TantivyDocument, TantivyError, Term,
};

pub use crate::error::SearchError;
use crate::error::engine;
use crate::query::TextMode;
use crate::schema::{CATEGORY_FACET, Fields, KIND_FACET, LANGUAGE_FACET, MEMBER_FACET, PUBLISHED};
pub use crate::types::{
    DEFAULT_PER_PAGE, Facets, MAX_PER_PAGE, SearchDoc, SearchHit, SearchPage, SearchQuery,
};

/// Longest accepted [`SearchDoc::key`], in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// Memory budget of the indexing thread before it flushes a segment.
const WRITER_HEAP_BYTES: usize = 50_000_000;

/// The search index. `Send + Sync`: share it behind an `Arc`; searches run concurrently,
/// writes are serialised on an internal lock.
pub struct SearchIndex {
    fields: Fields,
    writer: Mutex<IndexWriter>,
    reader: IndexReader,
    /// The registered analyzers, cloned per search.
    folded: TextAnalyzer,
    exact: TextAnalyzer,
}

impl fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SearchIndex").field("docs", &self.len()).finish_non_exhaustive()
    }
}

impl SearchIndex {
    /// Opens the index in `dir` (which it owns entirely), creating the directory and an empty
    /// index if needed. Fails with [`SearchError::SchemaMismatch`] if the directory holds an
    /// index of another schema, and [`SearchError::Locked`] if another writer has it open.
    pub fn open(dir: &Path) -> Result<SearchIndex, SearchError> {
        let path = || dir.to_path_buf();
        std::fs::create_dir_all(dir).map_err(|source| SearchError::Io { path: path(), source })?;
        let directory = MmapDirectory::open(dir).map_err(engine)?;
        let (schema, fields) = schema::build();
        let index = if Index::exists(&directory).map_err(engine)? {
            let index = Index::open(directory).map_err(engine)?;
            if index.schema() != schema {
                return Err(SearchError::SchemaMismatch { path: path() });
            }
            index
        } else {
            Index::create(directory, schema, IndexSettings::default()).map_err(engine)?
        };
        Self::with_index(index, fields).map_err(|e| match e {
            TantivyError::LockFailure(LockError::LockBusy, _) => {
                SearchError::Locked { path: path() }
            }
            e => engine(e),
        })
    }

    /// An index in memory, for tests and tools.
    pub fn in_memory() -> Result<SearchIndex, SearchError> {
        let (schema, fields) = schema::build();
        Self::with_index(Index::create_in_ram(schema), fields).map_err(engine)
    }

    fn with_index(index: Index, fields: Fields) -> Result<SearchIndex, TantivyError> {
        let (folded, exact) = (analysis::folded_analyzer(), analysis::exact_analyzer());
        index.tokenizers().register(analysis::FOLDED, folded.clone());
        index.tokenizers().register(analysis::EXACT, exact.clone());
        let options = IndexWriterOptions::builder()
            .num_worker_threads(1)
            .num_merge_threads(1)
            .memory_budget_per_thread(WRITER_HEAP_BYTES)
            .build();
        let writer = index.writer_with_options(options)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(SearchIndex { fields, writer: Mutex::new(writer), reader, folded, exact })
    }

    fn writer(&self) -> MutexGuard<'_, IndexWriter> {
        // The writer holds no invariant of ours that a panic could break mid-way; tantivy
        // reports its own broken state as errors.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `doc`, replacing any document with the same key. Visible after [`commit`].
    ///
    /// [`commit`]: SearchIndex::commit
    pub fn upsert(&self, doc: &SearchDoc) -> Result<(), SearchError> {
        if doc.key.is_empty() {
            return Err(SearchError::InvalidDoc("key is empty"));
        }
        if doc.key.len() > MAX_KEY_BYTES {
            return Err(SearchError::InvalidDoc("key is longer than MAX_KEY_BYTES"));
        }
        let document = self.fields.document(doc);
        let writer = self.writer();
        // Delete and add under one lock, so no commit can fall between them.
        writer.delete_term(Term::from_field_text(self.fields.key, &doc.key));
        writer.add_document(document).map_err(engine)?;
        Ok(())
    }

    /// Removes the document with this key, if any. Visible after [`commit`].
    ///
    /// [`commit`]: SearchIndex::commit
    pub fn remove(&self, key: &str) -> Result<(), SearchError> {
        self.writer().delete_term(Term::from_field_text(self.fields.key, key));
        Ok(())
    }

    /// Makes every upsert and remove so far durable and visible to searches, before
    /// returning. Costs a segment flush and fsyncs (milliseconds to a few hundred).
    pub fn commit(&self) -> Result<(), SearchError> {
        let mut writer = self.writer();
        writer.commit().map_err(engine)?;
        self.reader.reload().map_err(engine)?;
        Ok(())
    }

    /// [`commit`](SearchIndex::commit), recording `payload` with it: a caller's note of what
    /// the committed documents cover (for example how far into each log it has indexed), read
    /// back with [`committed_payload`](SearchIndex::committed_payload), after a restart too.
    /// The payload is durable exactly when the documents are.
    pub fn commit_with_payload(&self, payload: &str) -> Result<(), SearchError> {
        let mut writer = self.writer();
        let mut prepared = writer.prepare_commit().map_err(engine)?;
        prepared.set_payload(payload);
        prepared.commit().map_err(engine)?;
        self.reader.reload().map_err(engine)?;
        Ok(())
    }

    /// The payload of the last commit, if it carried one (see
    /// [`commit_with_payload`](SearchIndex::commit_with_payload)).
    pub fn committed_payload(&self) -> Result<Option<String>, SearchError> {
        Ok(self.reader.searcher().index().load_metas().map_err(engine)?.payload)
    }

    /// Removes every document. Visible (and durable) after the next commit.
    pub fn clear(&self) -> Result<(), SearchError> {
        self.writer().delete_all_documents().map_err(engine)?;
        Ok(())
    }

    /// Number of committed documents.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Whether no document is committed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs a search. User text never causes an error; only engine failures do.
    pub fn search(&self, q: &SearchQuery) -> Result<SearchPage, SearchError> {
        let per_page = match q.per_page {
            0 => DEFAULT_PER_PAGE,
            n => n.min(MAX_PER_PAGE),
        };
        let (mut folded, mut exact) = (self.folded.clone(), self.exact.clone());
        let mode = query::analyze(&mut folded, &mut exact, &q.text);
        let engine_query = query::build(&self.fields, q, &mode);

        let searcher = self.reader.searcher();
        let offset = q.page.saturating_mul(per_page);
        let Collected { page: top_docs, total, facets } =
            collect(&searcher, &*engine_query, &mode, offset, per_page).map_err(engine)?;

        let terms: Vec<&str> = match &mode {
            TextMode::Ranked(words) => words.iter().map(|w| w.folded.as_str()).collect(),
            TextMode::List | TextMode::Nothing => Vec::new(),
        };
        let snippets = if terms.is_empty() {
            None
        } else {
            let generator = |field| -> Result<SnippetGenerator, SearchError> {
                let mut g =
                    SnippetGenerator::create(&searcher, &*engine_query, field).map_err(engine)?;
                g.set_max_num_chars(highlight::SNIPPET_MAX_BYTES);
                Ok(g)
            };
            Some((generator(self.fields.body)?, generator(self.fields.summary)?))
        };

        let mut hits = Vec::with_capacity(top_docs.len());
        for (score, address) in top_docs {
            let doc: TantivyDocument = searcher.doc(address).map_err(engine)?;
            let text = |field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or_default();
            let (title, summary, body) =
                (text(self.fields.title), text(self.fields.summary), text(self.fields.body));
            let title_html = highlight::mark_terms(&mut folded, title, &terms);
            // Body around the matches, else summary around the matches, else its start.
            let snippet_html = snippets
                .as_ref()
                .and_then(|(body_gen, summary_gen)| {
                    highlight::render_snippet(body, &body_gen.snippet(body)).or_else(|| {
                        highlight::render_snippet(summary, &summary_gen.snippet(summary))
                    })
                })
                .unwrap_or_else(|| {
                    highlight::lead(if summary.trim().is_empty() { body } else { summary })
                });
            hits.push(SearchHit {
                key: text(self.fields.key).to_owned(),
                member: text(self.fields.member).to_owned(),
                item_id: text(self.fields.item_id).to_owned(),
                kind: text(self.fields.kind).to_owned(),
                score,
                published: doc
                    .get_first(self.fields.published)
                    .and_then(|v| v.as_i64())
                    .unwrap_or_default(),
                title_html,
                snippet_html,
            });
        }
        Ok(SearchPage { total, page: q.page, per_page, hits, facets })
    }
}

/// The words of `text` as the index matches them: split into words, diacritics removed,
/// lowercased ("Bộ Y tế" → `["bo", "y", "te"]`). For callers that match text outside an
/// index (a ministry node searching its own items) exactly as the index would.
pub fn folded_words(text: &str) -> Vec<String> {
    let mut analyzer = analysis::folded_analyzer();
    analysis::tokens(&mut analyzer, text).into_iter().map(|(_, term, _)| term).collect()
}

/// `text` HTML-escaped, with every word matching a word of `query` (with or without
/// diacritics, any case) wrapped in `<mark>…</mark>`: the same highlighting as
/// [`SearchHit::title_html`], for text the caller shows in place of the indexed one (a title
/// in the reader's language).
pub fn highlight(text: &str, query: &str) -> String {
    let terms = folded_words(query);
    let terms: Vec<&str> = terms.iter().map(String::as_str).collect();
    let mut analyzer = analysis::folded_analyzer();
    highlight::mark_terms(&mut analyzer, text, &terms)
}

/// What one run of a query yields.
struct Collected {
    /// The page's `(score, address)`: by score, or newest first with score 0 when listing.
    page: Vec<(f32, DocAddress)>,
    /// Number of matches.
    total: usize,
    /// Counts over all matches.
    facets: Facets,
}

/// Runs `query` once, collecting the page, the total and the facets together.
fn collect(
    searcher: &Searcher,
    query: &dyn Query,
    mode: &TextMode,
    offset: usize,
    per_page: usize,
) -> tantivy::Result<Collected> {
    // Past the last document there is nothing to rank: count only (limit 1 is the cheapest
    // valid top-docs collector), so a huge page number costs nothing.
    let past_end = offset >= usize::try_from(searcher.num_docs()).unwrap_or(usize::MAX);
    let top = if past_end {
        TopDocs::with_limit(1)
    } else {
        TopDocs::with_limit(per_page).and_offset(offset)
    };
    let facet_collectors = (
        facet_collector(MEMBER_FACET),
        facet_collector(KIND_FACET),
        facet_collector(CATEGORY_FACET),
        facet_collector(LANGUAGE_FACET),
    );
    let (top_docs, total, (members, kinds, categories, languages)) = match mode {
        TextMode::List => {
            let newest = top.order_by_fast_field::<i64>(PUBLISHED, Order::Desc);
            let (top, total, facets) =
                searcher.search(query, &(newest, Count, facet_collectors))?;
            (top.into_iter().map(|(_, address)| (0.0, address)).collect(), total, facets)
        }
        TextMode::Ranked(_) | TextMode::Nothing => {
            searcher.search(query, &(top.order_by_score(), Count, facet_collectors))?
        }
    };
    let facets = Facets {
        member: facet_list(&members),
        kind: facet_list(&kinds),
        category: facet_list(&categories),
        language: facet_list(&languages),
    };
    Ok(Collected { page: if past_end { Vec::new() } else { top_docs }, total, facets })
}

fn facet_collector(field: &str) -> FacetCollector {
    let mut collector = FacetCollector::for_field(field);
    collector.add_facet(Facet::root());
    collector
}

/// The counts of the root's children, by count descending then value ascending.
fn facet_list(counts: &FacetCounts) -> Vec<(String, u64)> {
    let mut list: Vec<(String, u64)> = counts
        .get(Facet::root())
        .map(|(facet, count)| (schema::facet_value(facet).to_owned(), count))
        .collect();
    list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn index_is_send_and_sync() {
        assert_send_sync::<SearchIndex>();
    }

    #[test]
    fn words_fold_and_highlight_lands_on_the_original() {
        assert_eq!(folded_words("Bộ Y tế, ĐÀO tạo"), ["bo", "y", "te", "dao", "tao"]);
        assert_eq!(
            highlight("Bộ Y tế <b>& Bồ", "bo y"),
            "<mark>Bộ</mark> <mark>Y</mark> tế &lt;b&gt;&amp; <mark>Bồ</mark>"
        );
        assert_eq!(highlight("Bộ Y tế", ""), "Bộ Y tế");
    }
}
