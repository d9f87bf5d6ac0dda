//! Hostile input, escaping, volume and concurrency.

use std::sync::Arc;

use portal_search::{SearchDoc, SearchIndex, SearchQuery};

use crate::{doc, ids, index_of, search, sorted_ids, text};

fn sample() -> SearchIndex {
    let mut d = doc("a", "Bộ Y tế công bố kế hoạch tiêm chủng", "Kế hoạch năm 2026 AND OR NOT.");
    d.summary = "title:bo (tiêm) [chủng]".into();
    index_of(&[d, doc("b", "Bộ Giáo dục và Đào tạo", "Quy chế thi.")])
}

#[test]
fn hostile_queries_never_fail() {
    let index = sample();
    let long_text = "Bộ Y tế công bố; ".repeat(700); // > 10 KB
    let long_word = "bộ".repeat(5_000);
    let noise: String = (0u32..0x800).filter_map(char::from_u32).collect();
    let hostile: Vec<String> = [
        "\"",
        "\"unterminated phrase",
        "title:bo",
        "body:",
        ":",
        "(bo",
        "bo)",
        "[1 TO 2]",
        "{* TO *}",
        "AND",
        "OR NOT",
        "bo AND y",
        "bo OR giao",
        "-bo",
        "+bo",
        "*",
        "bo*",
        "?",
        "bo~2",
        "bo^3",
        "\\",
        "\\\"",
        "/regex.*/",
        "'",
        "\u{0}\u{1}\u{7}\u{1b}[31m",
        "bo\u{0}y\u{0}te",
        "🎉🔥",
        "bộ 🎉 y 👩‍👩‍👧 tế",
        "\u{0301}\u{0323}",
        "\u{202e}ết Y ộB",
        "中华人民共和国",
        "<script>alert(1)</script>",
        "\u{feff}bo",
        "\r\n\t",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([long_text, long_word, noise])
    .collect();
    for q in &hostile {
        for include_withdrawn in [false, true] {
            let query = SearchQuery {
                text: q.clone(),
                member: Some(q.clone()),
                include_withdrawn,
                ..SearchQuery::default()
            };
            index.search(&query).unwrap_or_else(|e| panic!("query {q:?} failed: {e}"));
            index.search(&text(q)).unwrap_or_else(|e| panic!("query {q:?} failed: {e}"));
        }
    }
}

#[test]
fn query_syntax_is_just_words() {
    let index = sample();
    // Colons, brackets and parentheses separate words.
    assert_eq!(ids(&search(&index, &text("title:bo"))), ["a"]);
    assert_eq!(ids(&search(&index, &text("(tiêm) [chủng]"))), ["a"]);
    // "AND"/"OR" are words like any other: here, only item a contains them.
    assert_eq!(ids(&search(&index, &text("bo AND y"))), ["a"]);
    assert_eq!(ids(&search(&index, &text("bo OR giao"))), Vec::<&str>::new());
    // "-" is not negation.
    assert_eq!(sorted_ids(&search(&index, &text("-bo"))), ["a", "b"]);
    // Control characters and emoji separate words.
    assert_eq!(ids(&search(&index, &text("bo\u{0}y\u{7}te"))), ["a"]);
    assert_eq!(ids(&search(&index, &text("bộ 🎉 y 👩‍👩‍👧 tế"))), ["a"]);
    // 10 KB of repeated words is three words.
    assert_eq!(ids(&search(&index, &text(&"Bộ Y tế; ".repeat(1_200)))), ["a"]);
    // Nothing but punctuation, emoji or control characters: list everything.
    assert_eq!(search(&index, &text("🎉 \"\" :: \u{0}")).total, 2);
    // Letters, but only in a word too long to index: nothing can match.
    assert_eq!(search(&index, &text(&"bộ".repeat(5_000))).total, 0);
}

#[test]
fn only_the_first_32_distinct_words_count() {
    let words: Vec<String> = (0..32).map(|i| format!("w{i}")).collect();
    let index = index_of(&[doc("w", "Words", &words.join(" "))]);
    let all = words.join(" ");
    assert_eq!(search(&index, &text(&all)).total, 1);
    // Repeats don't use up the budget; a 33rd distinct word is ignored…
    assert_eq!(search(&index, &text(&format!("w0 w0 {all} absent"))).total, 1);
    // …but an absent word among the first 32 is required like any other.
    assert_eq!(search(&index, &text(&format!("absent {all}"))).total, 0);
}

#[test]
fn html_in_documents_comes_out_escaped() {
    let mut d = doc(
        "x",
        "<b>Bộ</b> & \"Y tế\" 'news'",
        "Trước <script>alert(\"tiêm chủng\")</script> sau <img src=x onerror=alert(1)>",
    );
    d.summary = "<i>summary</i> & <script>x</script>".into();
    let index = index_of(&[d]);

    let hit = &search(&index, &text("script tiem")).hits[0];
    assert!(!hit.snippet_html.contains("<script"), "{}", hit.snippet_html);
    assert!(!hit.snippet_html.contains("<img"), "{}", hit.snippet_html);
    assert!(hit.snippet_html.contains("&lt;<mark>script</mark>&gt;"), "{}", hit.snippet_html);
    assert!(hit.snippet_html.contains("&quot;<mark>tiêm</mark>"), "{}", hit.snippet_html);

    let hit = &search(&index, &text("bo")).hits[0];
    assert_eq!(
        hit.title_html,
        "&lt;b&gt;<mark>Bộ</mark>&lt;/b&gt; &amp; &quot;Y tế&quot; &#39;news&#39;"
    );
    // Matched only in the title: the summary's start, escaped.
    assert_eq!(hit.snippet_html, "&lt;i&gt;summary&lt;/i&gt; &amp; &lt;script&gt;x&lt;/script&gt;");

    // Listing without words escapes too.
    let hit = &search(&index, &SearchQuery::default()).hits[0];
    assert!(hit.title_html.starts_with("&lt;b&gt;Bộ&lt;/b&gt;"));
    assert!(!hit.snippet_html.contains('<'));
}

#[test]
fn ten_thousand_small_documents() {
    // Volume check, not a timing assertion: this must stay a few seconds in debug builds.
    let index = SearchIndex::in_memory().unwrap();
    let members = ["bo-y-te", "bo-tai-chinh", "bo-giao-duc-va-dao-tao", "bo-cong-an"];
    for i in 0..10_000u32 {
        let member = members[(i % 4) as usize];
        let d = SearchDoc {
            key: format!("{member}/{i:05}"),
            member: member.into(),
            item_id: format!("{i:05}"),
            kind: if i % 10 == 0 { "legal" } else { "news" }.into(),
            categories: vec![format!("c{}", i % 7)],
            languages: vec!["vi".into()],
            published: 1_700_000_000 + i64::from(i),
            updated: 1_700_000_000 + i64::from(i),
            title: format!("Thông báo số {i} của Bộ"),
            summary: "Tóm tắt ngắn.".into(),
            body: format!("Nội dung thông báo {i}: kế hoạch tiêm chủng đợt {}.", i % 50),
            withdrawn: i % 100 == 0,
        };
        index.upsert(&d).unwrap();
    }
    index.commit().unwrap();
    assert_eq!(index.len(), 10_000);
    let page = search(&index, &text("thong bao"));
    assert_eq!(page.total, 9_900);
    assert_eq!(page.facets.member.iter().map(|(_, c)| c).sum::<u64>(), 9_900);
    // "đợt 40" is in items i ≡ 40 (mod 50), all of them legal (i ≡ 0 mod 10), none withdrawn.
    let q = SearchQuery {
        text: "tiem chung dot 40".into(),
        kind: Some("legal".into()),
        ..SearchQuery::default()
    };
    assert_eq!(search(&index, &q).total, 200);
    let newest = search(&index, &SearchQuery { per_page: 1, ..SearchQuery::default() });
    assert_eq!(ids(&newest), ["09999"]);
}

#[test]
fn searches_run_while_writing() {
    let index = Arc::new(index_of(&[doc("seed", "Bản tin đầu tiên", "")]));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let index = Arc::clone(&index);
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let total = index.search(&text("ban tin")).unwrap().total;
                    assert!((1..=21).contains(&total));
                }
            })
        })
        .collect();
    for i in 0..20 {
        index.upsert(&doc(&format!("w{i}"), "Bản tin", "")).unwrap();
        if i % 5 == 4 {
            index.commit().unwrap();
        }
    }
    for r in readers {
        r.join().unwrap();
    }
    assert_eq!(search(&index, &text("ban tin")).total, 21);
}
