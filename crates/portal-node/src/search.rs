//! National full-text search: the aggregator's items in a portal-search index at
//! `DATA/search/`, fed after every durable ingest and rebuilt from the store at start (the
//! store is the truth; the index is derived and may lag a crash by one batch until then).

use std::sync::Arc;

use portal_proto::envelope::{self, SignedRecord};
use portal_proto::ids::NodeId;
use portal_proto::record::{ItemVersion, Record};
use portal_search::{SearchDoc, SearchIndex};
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

/// Index each member's `entries` and commit once (blocking: call off the async workers).
pub(crate) fn index_batches(
    index: &SearchIndex,
    store: &Store,
    batches: &[(NodeId, Vec<SignedRecord>)],
) -> Result<(), String> {
    for (member, entries) in batches {
        for s in entries {
            index_record(index, store, member, s)?;
        }
    }
    index.commit().map_err(|e| e.to_string())
}

/// Re-index every stored member record (blocking). Upserts are keyed, so this is idempotent.
pub(crate) fn rebuild(
    index: &Arc<SearchIndex>,
    store: &Store,
    members: &[NodeId],
) -> Result<u64, String> {
    let mut n = 0;
    for m in members {
        let size = store.member_cursor(m).map_err(|e| e.to_string())?.size;
        let mut next = 0;
        while next < size {
            let chunk = store.member_entries(m, next, 1000).map_err(|e| e.to_string())?;
            if chunk.is_empty() {
                break;
            }
            next += chunk.len() as u64;
            for s in &chunk {
                index_record(index, store, m, s)?;
            }
            n += chunk.len() as u64;
        }
    }
    index.commit().map_err(|e| e.to_string())?;
    Ok(n)
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
