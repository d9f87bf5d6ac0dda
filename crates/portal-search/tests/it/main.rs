//! Integration tests of `portal-search`, through its public API only.

mod behaviour;
mod robustness;

use portal_search::{SearchDoc, SearchIndex, SearchPage, SearchQuery};

/// A document with sensible defaults: member `bo-y-te`, kind `news`, language `vi`.
pub(crate) fn doc(id: &str, title: &str, body: &str) -> SearchDoc {
    SearchDoc {
        key: format!("bo-y-te/{id}"),
        member: "bo-y-te".into(),
        item_id: id.into(),
        kind: "news".into(),
        categories: vec!["health".into()],
        languages: vec!["vi".into()],
        published: 1_767_225_600,
        updated: 1_767_225_600,
        title: title.into(),
        summary: String::new(),
        body: body.into(),
        withdrawn: false,
    }
}

pub(crate) fn index_of(docs: &[SearchDoc]) -> SearchIndex {
    let index = SearchIndex::in_memory().expect("in-memory index");
    for d in docs {
        index.upsert(d).expect("upsert");
    }
    index.commit().expect("commit");
    index
}

pub(crate) fn text(q: &str) -> SearchQuery {
    SearchQuery { text: q.into(), ..SearchQuery::default() }
}

pub(crate) fn search(index: &SearchIndex, q: &SearchQuery) -> SearchPage {
    index.search(q).expect("search")
}

/// Item ids of the hits, in order.
pub(crate) fn ids(page: &SearchPage) -> Vec<&str> {
    page.hits.iter().map(|h| h.item_id.as_str()).collect()
}

/// Item ids of the hits, sorted (for order-independent checks).
pub(crate) fn sorted_ids(page: &SearchPage) -> Vec<&str> {
    let mut v = ids(page);
    v.sort_unstable();
    v
}
