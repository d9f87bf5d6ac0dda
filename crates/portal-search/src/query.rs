//! Turns a [`SearchQuery`] into an engine query, programmatically: user text is only ever
//! analyzed into terms, never parsed as query syntax, so no input can fail or panic.

use std::ops::Bound;

use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, Occur, Query, RangeQuery,
    TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;

use crate::analysis::tokens;
use crate::schema::{Fields, facet};
use crate::types::SearchQuery;

/// BM25 weight of a match in the title, summary and body.
pub(crate) const TITLE_BOOST: f32 = 3.0;
pub(crate) const SUMMARY_BOOST: f32 = 2.0;
pub(crate) const BODY_BOOST: f32 = 1.0;
/// Weight of the optional clause matching a query word with its exact diacritics.
pub(crate) const EXACT_BOOST: f32 = 0.5;
/// At most this many distinct words of the query are used; the rest are ignored.
pub(crate) const MAX_QUERY_TERMS: usize = 32;

/// One query word: its folded term (required) and its exact term (boost only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    pub(crate) folded: String,
    pub(crate) exact: String,
}

/// What the text part of a query turned out to be.
#[derive(Debug)]
pub(crate) enum TextMode {
    /// No words at all (empty, punctuation, emoji): filters only, newest first.
    List,
    /// Words, all of which must match: ranked by score.
    Ranked(Vec<Word>),
    /// The text had letters or digits but no indexable word (all over-long): nothing matches.
    Nothing,
}

/// Analyzes the query text with the same two analyzers the index uses.
pub(crate) fn analyze(folded: &mut TextAnalyzer, exact: &mut TextAnalyzer, text: &str) -> TextMode {
    let folded_tokens = tokens(folded, text);
    if folded_tokens.is_empty() {
        return if text.chars().any(char::is_alphanumeric) {
            TextMode::Nothing
        } else {
            TextMode::List
        };
    }
    let exact_tokens = tokens(exact, text);
    let mut words: Vec<Word> = Vec::new();
    for (position, folded, _) in folded_tokens {
        // Both analyzers split and drop words identically; pair by position all the same.
        let exact = exact_tokens
            .iter()
            .find(|(p, _, _)| *p == position)
            .map_or_else(|| folded.clone(), |(_, t, _)| t.clone());
        let word = Word { folded, exact };
        if !words.contains(&word) {
            words.push(word);
            if words.len() == MAX_QUERY_TERMS {
                break;
            }
        }
    }
    TextMode::Ranked(words)
}

fn term_query(field: Field, text: &str, boost: f32) -> Box<dyn Query> {
    let q = TermQuery::new(Term::from_field_text(field, text), IndexRecordOption::WithFreqs);
    Box::new(BoostQuery::new(Box::new(q), boost))
}

/// A clause that restricts matches without touching the score.
fn filter(q: Box<dyn Query>) -> (Occur, Box<dyn Query>) {
    (Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0)))
}

/// The engine query for `mode` and the filters of `q`.
pub(crate) fn build(fields: &Fields, q: &SearchQuery, mode: &TextMode) -> Box<dyn Query> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    match mode {
        TextMode::Nothing => return Box::new(EmptyQuery),
        TextMode::List => clauses.push((Occur::Must, Box::new(AllQuery))),
        TextMode::Ranked(words) => {
            for w in words {
                let any_field = BooleanQuery::new(vec![
                    (Occur::Should, term_query(fields.title, &w.folded, TITLE_BOOST)),
                    (Occur::Should, term_query(fields.summary, &w.folded, SUMMARY_BOOST)),
                    (Occur::Should, term_query(fields.body, &w.folded, BODY_BOOST)),
                ]);
                clauses.push((Occur::Must, Box::new(any_field)));
                if w.exact != w.folded {
                    clauses.push((Occur::Should, term_query(fields.exact, &w.exact, EXACT_BOOST)));
                }
            }
        }
    }
    let facet_filters = [
        (fields.member_facet, &q.member),
        (fields.kind_facet, &q.kind),
        (fields.category_facet, &q.category),
        (fields.language_facet, &q.language),
    ];
    for (field, value) in facet_filters {
        // An empty filter value (`Some("")`) is treated as no filter.
        if let Some(f) = value.as_deref().and_then(facet) {
            let term = Term::from_facet(field, &f);
            clauses.push(filter(Box::new(TermQuery::new(term, IndexRecordOption::Basic))));
        }
    }
    if q.from.is_some() || q.to.is_some() {
        let bound = |v: Option<i64>| match v {
            Some(v) => Bound::Included(Term::from_field_i64(fields.published, v)),
            None => Bound::Unbounded,
        };
        clauses.push(filter(Box::new(RangeQuery::new(bound(q.from), bound(q.to)))));
    }
    if !q.include_withdrawn {
        clauses.push((
            Occur::MustNot,
            Box::new(TermQuery::new(
                Term::from_field_bool(fields.withdrawn, true),
                IndexRecordOption::Basic,
            )),
        ));
    }
    Box::new(BooleanQuery::new(clauses))
}
