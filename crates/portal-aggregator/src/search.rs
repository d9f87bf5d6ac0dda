//! National full-text search: the aggregator's items in a portal-search index at
//! `DATA/search/`, fed after every durable ingest.
//!
//! The store is the truth; the index is derived. Each commit records, as its payload, how far
//! into each member's log the index is complete (its *marks*), so a restart re-indexes only
//! what came after them (what a crash left unindexed, or what arrived while the index could
//! not keep up) instead of every record the central holds. An index whose marks run past the
//! store (a store restored from an older backup under a newer index) is emptied and rebuilt.
//! Marks only ever trail the truth: a batch indexed out of order leaves its member's mark
//! where it was, which costs a re-index of the gap at the next start, never a missed record.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use portal_proto::envelope::{self, SignedRecord};
use portal_proto::ids::NodeId;
use portal_proto::record::{ItemVersion, Record};
use portal_search::{SearchDoc, SearchError, SearchIndex};
use portal_store::Store;

/// Text of an HTML fragment for indexing: tags dropped, the common entities decoded.
fn text_of(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The search document of a member's item version.
fn doc(member: &NodeId, item: &ItemVersion, withdrawn: bool) -> SearchDoc {
    let mut title = item.title.clone();
    let mut summary = item.summary.clone();
    let mut body = text_of(&item.content_html);
    let mut languages = vec![item.language.to_string()];
    for (lang, t) in &item.translations {
        languages.push(lang.to_string());
        title.push_str(" · ");
        title.push_str(&t.title);
        summary.push(' ');
        summary.push_str(&t.summary);
        body.push(' ');
        body.push_str(&text_of(&t.content_html));
    }
    SearchDoc {
        key: format!("{member}/{}", item.id),
        member: member.to_string(),
        item_id: item.id.to_string(),
        kind: item.kind.as_str().to_owned(),
        categories: item.categories.clone(),
        languages,
        published: item.published.unix() as i64,
        updated: item.updated.unix() as i64,
        title,
        summary,
        body,
        withdrawn,
    }
}

/// Index one member record (an item version, or a withdrawal: the item's latest version is
/// indexed again, marked withdrawn). Other records are ignored.
pub(crate) fn index_record(
    index: &SearchIndex,
    store: &Store,
    member: &NodeId,
    signed: &SignedRecord,
) -> Result<(), String> {
    match envelope::parse_record(signed.bytes()).map_err(|e| e.to_string())? {
        Record::Item(item) => {
            let withdrawn = store
                .national_item(member, &item.id)
                .map_err(|e| e.to_string())?
                .is_some_and(|i| i.withdrawal.is_some());
            index.upsert(&doc(member, &item, withdrawn)).map_err(|e| e.to_string())
        }
        Record::Withdrawal(w) => {
            let Some(idx) = store.national_item(member, &w.id).map_err(|e| e.to_string())? else {
                return Ok(());
            };
            let latest = idx.versions.last().copied().unwrap_or_default();
            let Some(v) = store.member_entry(member, latest).map_err(|e| e.to_string())? else {
                return Ok(());
            };
            if let Ok(Record::Item(item)) = envelope::parse_record(v.bytes()) {
                index.upsert(&doc(member, &item, true)).map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// How many records [`NationalSearch::catch_up`] indexes between commits (and progress logs).
const CATCH_UP_COMMIT_EVERY: u64 = 50_000;

/// The national search index and its marks (see the module documentation).
pub struct NationalSearch {
    index: SearchIndex,
    /// Member id → log size up to which every record is indexed (and at least staged for
    /// the next commit).
    marks: Mutex<BTreeMap<String, u64>>,
}

impl std::fmt::Debug for NationalSearch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NationalSearch").finish_non_exhaustive()
    }
}

impl NationalSearch {
    /// Open (or create) the index in `dir` and read the marks of its last commit. An index
    /// without readable marks (new, or written before marks existed) starts from none: the
    /// first [`catch_up`](NationalSearch::catch_up) indexes everything, idempotently.
    pub(crate) fn open(dir: &Path) -> Result<NationalSearch, SearchError> {
        let index = SearchIndex::open(dir)?;
        let marks = match index.committed_payload()? {
            Some(payload) => serde_json::from_str(&payload).unwrap_or_else(|e| {
                tracing::warn!("search: unreadable marks in {} ({e}); re-indexing", dir.display());
                BTreeMap::new()
            }),
            None => BTreeMap::new(),
        };
        Ok(NationalSearch { index, marks: Mutex::new(marks) })
    }

    /// The index, for searching.
    /// The tantivy-backed index, for queries.
    pub fn index(&self) -> &SearchIndex {
        &self.index
    }

    fn marks(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, u64>> {
        self.marks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `member`'s records `[start, end)` are staged: advance its mark if they continue it.
    fn advance(&self, member: &NodeId, start: u64, end: u64) {
        let mut marks = self.marks();
        let mark = marks.entry(member.to_string()).or_insert(0);
        if start <= *mark && end > *mark {
            *mark = end;
        }
    }

    /// Commit, with the marks as they stand. Marks only advance after their records are
    /// staged, so whatever they claim is in this commit.
    fn commit(&self) -> Result<(), String> {
        let payload = serde_json::to_string(&*self.marks()).map_err(|e| e.to_string())?;
        self.index.commit_with_payload(&payload).map_err(|e| e.to_string())
    }

    /// Index each member's `entries` (starting at log index `start`) and commit once
    /// (blocking: call off the async workers).
    pub(crate) fn index_batches(
        &self,
        store: &Store,
        batches: &[(NodeId, u64, Vec<SignedRecord>)],
    ) -> Result<(), String> {
        for (member, start, entries) in batches {
            for s in entries {
                index_record(&self.index, store, member, s)?;
            }
            self.advance(member, *start, start + entries.len() as u64);
        }
        self.commit()
    }

    /// Index every stored record of `members` past its mark (blocking), until the index has
    /// caught up with the store as it grows meanwhile. Returns how many records it indexed.
    pub(crate) fn catch_up(&self, store: &Store, members: &[NodeId]) -> Result<u64, String> {
        let size = |m: &NodeId| store.member_cursor(m).map(|c| c.size).map_err(|e| e.to_string());
        // Marks past the store: the index describes records the store does not hold.
        let mut ahead = Vec::new();
        for m in members {
            let mark = self.marks().get(m.as_str()).copied().unwrap_or(0);
            let stored = size(m)?;
            if mark > stored {
                ahead.push(format!("{m} ({mark} > {stored})"));
            }
        }
        if !ahead.is_empty() {
            tracing::warn!(
                "search: the index is ahead of the store for {}; rebuilding it",
                ahead.join(", ")
            );
            self.index.clear().map_err(|e| e.to_string())?;
            self.marks().clear();
            self.commit()?;
        }
        let mut indexed = 0u64;
        let mut since_commit = 0u64;
        for m in members {
            loop {
                let mark = self.marks().get(m.as_str()).copied().unwrap_or(0);
                if mark >= size(m)? {
                    break;
                }
                let chunk = store.member_entries(m, mark, 1000).map_err(|e| e.to_string())?;
                if chunk.is_empty() {
                    break;
                }
                for s in &chunk {
                    index_record(&self.index, store, m, s)?;
                }
                let n = chunk.len() as u64;
                self.advance(m, mark, mark + n);
                indexed += n;
                since_commit += n;
                if since_commit >= CATCH_UP_COMMIT_EVERY {
                    self.commit()?;
                    since_commit = 0;
                    tracing::info!(records = indexed, member = %m, "search: catching up");
                }
            }
        }
        self.commit()?;
        Ok(indexed)
    }
}

#[cfg(test)]
mod tests {
    use super::text_of;

    #[test]
    fn html_becomes_text() {
        assert_eq!(
            text_of("<p>Bộ&nbsp;Y tế &amp; <b>Đào tạo</b></p>")
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["Bộ", "Y", "tế", "&", "Đào", "tạo"]
        );
    }
}
