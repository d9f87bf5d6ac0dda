//! The index schema and the conversion of a [`SearchDoc`] into an engine document.
//!
//! | field | kind | use |
//! |---|---|---|
//! | `key` | raw string, stored | identity: upsert and remove delete by this term |
//! | `member`, `item_id`, `kind` | stored only | shown in hits |
//! | `member_facet`, `kind_facet`, `category_facet`, `language_facet` | facet | filters and counts |
//! | `published` | i64, indexed + fast + stored | date range, "newest first" |
//! | `updated` | i64, fast + stored | kept for callers that will sort by it |
//! | `withdrawn` | bool, indexed | excluded unless asked for |
//! | `title`, `summary`, `body` | text, folding analyzer, frequencies, stored | BM25, snippets |
//! | `exact` | text, exact analyzer, frequencies (title + summary + body) | diacritics boost |

use tantivy::TantivyDocument;
use tantivy::schema::{
    FAST, FacetOptions, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema,
    TextFieldIndexing, TextOptions,
};

use crate::SearchDoc;
use crate::analysis::{EXACT, FOLDED};

/// Handles to every field of the schema.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fields {
    pub(crate) key: Field,
    pub(crate) member: Field,
    pub(crate) item_id: Field,
    pub(crate) kind: Field,
    pub(crate) member_facet: Field,
    pub(crate) kind_facet: Field,
    pub(crate) category_facet: Field,
    pub(crate) language_facet: Field,
    pub(crate) published: Field,
    pub(crate) updated: Field,
    pub(crate) withdrawn: Field,
    pub(crate) title: Field,
    pub(crate) summary: Field,
    pub(crate) body: Field,
    pub(crate) exact: Field,
}

/// Engine field names of the facet fields, for the facet collectors.
pub(crate) const MEMBER_FACET: &str = "member_facet";
pub(crate) const KIND_FACET: &str = "kind_facet";
pub(crate) const CATEGORY_FACET: &str = "category_facet";
pub(crate) const LANGUAGE_FACET: &str = "language_facet";
/// Engine field name of `published`, for sorting.
pub(crate) const PUBLISHED: &str = "published";

/// Builds the schema. Any change here makes existing indexes fail to open with
/// [`SearchError::SchemaMismatch`](crate::SearchError::SchemaMismatch).
pub(crate) fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |analyzer: &str, stored: bool| {
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(analyzer)
            .set_index_option(IndexRecordOption::WithFreqs);
        let options = TextOptions::default().set_indexing_options(indexing);
        if stored { options.set_stored() } else { options }
    };
    let fields = Fields {
        key: b.add_text_field("key", STRING | STORED),
        member: b.add_text_field("member", STORED),
        item_id: b.add_text_field("item_id", STORED),
        kind: b.add_text_field("kind", STORED),
        member_facet: b.add_facet_field(MEMBER_FACET, FacetOptions::default()),
        kind_facet: b.add_facet_field(KIND_FACET, FacetOptions::default()),
        category_facet: b.add_facet_field(CATEGORY_FACET, FacetOptions::default()),
        language_facet: b.add_facet_field(LANGUAGE_FACET, FacetOptions::default()),
        published: b.add_i64_field(PUBLISHED, INDEXED | FAST | STORED),
        updated: b.add_i64_field("updated", FAST | STORED),
        withdrawn: b.add_bool_field("withdrawn", INDEXED),
        title: b.add_text_field("title", text(FOLDED, true)),
        summary: b.add_text_field("summary", text(FOLDED, true)),
        body: b.add_text_field("body", text(FOLDED, true)),
        exact: b.add_text_field("exact", text(EXACT, false)),
    };
    (b.build(), fields)
}

/// The facet for one filter/facet value: a single path step. A NUL (the engine's path
/// separator) is replaced so it cannot create a hierarchy; an empty value has no facet.
pub(crate) fn facet(value: &str) -> Option<tantivy::schema::Facet> {
    if value.is_empty() {
        return None;
    }
    if value.contains('\0') {
        Some(tantivy::schema::Facet::from_path([value.replace('\0', "\u{FFFD}")]))
    } else {
        Some(tantivy::schema::Facet::from_path([value]))
    }
}

/// The facet value a facet stands for (inverse of [`facet`]).
pub(crate) fn facet_value(facet: &tantivy::schema::Facet) -> &str {
    facet.encoded_str()
}

impl Fields {
    /// The engine document for `doc`.
    pub(crate) fn document(&self, doc: &SearchDoc) -> TantivyDocument {
        let mut d = TantivyDocument::default();
        d.add_text(self.key, &doc.key);
        d.add_text(self.member, &doc.member);
        d.add_text(self.item_id, &doc.item_id);
        d.add_text(self.kind, &doc.kind);
        let facets = [
            (self.member_facet, std::slice::from_ref(&doc.member)),
            (self.kind_facet, std::slice::from_ref(&doc.kind)),
            (self.category_facet, doc.categories.as_slice()),
            (self.language_facet, doc.languages.as_slice()),
        ];
        for (field, values) in facets {
            let mut seen: Vec<&str> = Vec::new();
            for value in values {
                // A repeated value would count the item twice in the facet counts.
                if seen.contains(&value.as_str()) {
                    continue;
                }
                seen.push(value);
                if let Some(f) = facet(value) {
                    d.add_facet(field, f);
                }
            }
        }
        d.add_i64(self.published, doc.published);
        d.add_i64(self.updated, doc.updated);
        d.add_bool(self.withdrawn, doc.withdrawn);
        d.add_text(self.title, &doc.title);
        d.add_text(self.summary, &doc.summary);
        d.add_text(self.body, &doc.body);
        d.add_text(self.exact, &doc.title);
        d.add_text(self.exact, &doc.summary);
        d.add_text(self.exact, &doc.body);
        d
    }
}
