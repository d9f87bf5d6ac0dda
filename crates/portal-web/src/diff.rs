//! A readable word diff between two versions of an item, on their plain text (the sanitised
//! HTML reduced to text), with [`similar`].

use portal_proto::html::html_to_text;
use portal_proto::record::ItemVersion;
use similar::{ChangeTag, TextDiff};

/// One run of text: unchanged, inserted or deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chunk {
    /// `eq`, `ins` or `del`.
    pub(crate) op: &'static str,
    pub(crate) text: String,
}

/// The diff of one field.
#[derive(Debug, Clone)]
pub(crate) struct FieldDiff {
    pub(crate) label: &'static str,
    pub(crate) chunks: Vec<Chunk>,
    pub(crate) changed: bool,
}

/// Word diff of `old` → `new`, adjacent runs of the same kind merged.
pub(crate) fn words(old: &str, new: &str) -> Vec<Chunk> {
    let diff = TextDiff::from_words(old, new);
    let mut out: Vec<Chunk> = Vec::new();
    for change in diff.iter_all_changes() {
        let op = match change.tag() {
            ChangeTag::Equal => "eq",
            ChangeTag::Insert => "ins",
            ChangeTag::Delete => "del",
        };
        match out.last_mut() {
            Some(last) if last.op == op => last.text.push_str(change.value()),
            _ => out.push(Chunk { op, text: change.value().to_owned() }),
        }
    }
    out
}

/// Title, summary and body of two versions, each diffed in the item's own language.
pub(crate) fn versions(
    old: &ItemVersion,
    new: &ItemVersion,
    labels: [&'static str; 3],
) -> Vec<FieldDiff> {
    let fields = [
        (labels[0], old.title.clone(), new.title.clone()),
        (labels[1], old.summary.clone(), new.summary.clone()),
        (labels[2], html_to_text(&old.content_html), html_to_text(&new.content_html)),
    ];
    fields
        .into_iter()
        .map(|(label, a, b)| {
            let chunks = words(&a, &b);
            let changed = chunks.iter().any(|c| c.op != "eq");
            FieldDiff { label, chunks, changed }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_diff_marks_only_what_changed() {
        let d = words("Tiêm chủng ngày 5 tháng 6", "Tiêm chủng ngày 12 tháng 6");
        let ops: Vec<(&str, &str)> = d.iter().map(|c| (c.op, c.text.as_str())).collect();
        assert_eq!(
            ops,
            [("eq", "Tiêm chủng ngày "), ("del", "5"), ("ins", "12"), ("eq", " tháng 6")]
        );
        assert!(words("same", "same").iter().all(|c| c.op == "eq"));
    }
}
