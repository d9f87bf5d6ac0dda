//! HTML rendering of titles and snippets: every byte of document text is escaped, and only
//! the `<mark>` tags this module writes are markup.

use std::ops::Range;

use tantivy::snippet::Snippet;
use tantivy::tokenizer::TextAnalyzer;

use crate::analysis::tokens;

/// Target length of a snippet, in UTF-8 bytes of the original text (about 150–200 characters
/// of Vietnamese).
pub(crate) const SNIPPET_MAX_BYTES: usize = 200;
const ELLIPSIS: &str = "…";

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// `text` escaped, with the byte `ranges` wrapped in `<mark>…</mark>`. Ranges that overlap an
/// earlier one or do not fall on character boundaries are skipped.
pub(crate) fn mark(text: &str, ranges: &[Range<usize>]) -> String {
    let mut sorted: Vec<Range<usize>> = ranges.to_vec();
    sorted.sort_by_key(|r| (r.start, r.end));
    let mut out = String::with_capacity(text.len() + 16 * sorted.len());
    let mut cursor = 0;
    for r in sorted {
        let valid = r.start >= cursor
            && r.start < r.end
            && text.is_char_boundary(r.start)
            && text.is_char_boundary(r.end)
            && r.end <= text.len();
        if !valid {
            continue;
        }
        escape_into(&text[cursor..r.start], &mut out);
        out.push_str("<mark>");
        escape_into(&text[r.clone()], &mut out);
        out.push_str("</mark>");
        cursor = r.end;
    }
    escape_into(&text[cursor..], &mut out);
    out
}

/// The whole `text`, with each word whose folded form is one of `terms` marked.
pub(crate) fn mark_terms(analyzer: &mut TextAnalyzer, text: &str, terms: &[&str]) -> String {
    let ranges: Vec<Range<usize>> = tokens(analyzer, text)
        .into_iter()
        .filter(|(_, term, _)| terms.contains(&term.as_str()))
        .map(|(_, _, range)| range)
        .collect();
    mark(text, &ranges)
}

/// Renders a snippet generated over `text`, with an ellipsis where the fragment does not
/// reach the start or end of `text`. `None` when the snippet highlights nothing.
pub(crate) fn render_snippet(text: &str, snippet: &Snippet) -> Option<String> {
    if snippet.highlighted().is_empty() {
        return None;
    }
    let range = snippet.fragment_range();
    let (before, after) = match (text.get(..range.start), text.get(range.end..)) {
        (Some(before), Some(after)) => (before, after),
        _ => ("", ""),
    };
    // The fragment runs from a word's start to a word's end: keep the punctuation around it
    // when there is nothing more, an ellipsis when words were cut.
    let mut out = String::new();
    if before.chars().any(char::is_alphanumeric) {
        out.push_str(ELLIPSIS);
    } else {
        escape_into(before.trim_start(), &mut out);
    }
    out.push_str(&mark(snippet.fragment(), snippet.highlighted()));
    if after.chars().any(char::is_alphanumeric) {
        out.push_str(ELLIPSIS);
    } else {
        escape_into(after.trim_end(), &mut out);
    }
    Some(out)
}

/// The beginning of `text`, escaped, cut at a word boundary near [`SNIPPET_MAX_BYTES`].
pub(crate) fn lead(text: &str) -> String {
    let text = text.trim();
    let mut out = String::new();
    if text.len() <= SNIPPET_MAX_BYTES {
        escape_into(text, &mut out);
        return out;
    }
    let mut cut = SNIPPET_MAX_BYTES;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    // Back up to the last space, unless that loses more than half.
    if let Some(space) = text[..cut].rfind(char::is_whitespace)
        && space > SNIPPET_MAX_BYTES / 2
    {
        cut = space;
    }
    escape_into(text[..cut].trim_end(), &mut out);
    out.push_str(ELLIPSIS);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mark_escapes_and_skips_bad_ranges() {
        let text = "a<b> & \"c\" 'đ'";
        assert_eq!(mark(text, &[]), "a&lt;b&gt; &amp; &quot;c&quot; &#39;đ&#39;");
        // 0..2 is fine, 1..3 overlaps it, 6..7 splits 'đ' (bytes 5..7).
        assert_eq!(mark("a<b> đ", &[1..3, 0..2, 6..7]), "<mark>a&lt;</mark>b&gt; đ");
        let past_the_end = 0..9;
        assert_eq!(mark("xy", std::slice::from_ref(&past_the_end)), "xy");
    }

    #[test]
    fn lead_cuts_on_a_char_and_word_boundary() {
        let text = "Bộ Y tế ".repeat(60);
        let out = lead(&text);
        assert!(out.ends_with(ELLIPSIS));
        assert!(out.len() <= SNIPPET_MAX_BYTES + ELLIPSIS.len());
        assert!(!out.trim_end_matches(ELLIPSIS).ends_with(' '));
        assert_eq!(lead("  short  "), "short");
    }
}
