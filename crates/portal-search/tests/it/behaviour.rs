//! What a search finds, in what order, and what the index keeps.

use portal_search::{SearchDoc, SearchError, SearchIndex, SearchQuery};

use crate::{doc, ids, index_of, search, sorted_ids, text};

fn ministries() -> Vec<SearchDoc> {
    let mut legal = doc(
        "c",
        "Thông tư số 12/2026/TT-BTC của Bộ Tài chính",
        "Quy định về quản lý ngân sách nhà nước.",
    );
    legal.member = "bo-tai-chinh".into();
    legal.key = "bo-tai-chinh/c".into();
    legal.kind = "legal".into();
    legal.categories = vec!["finance".into()];
    let mut english =
        doc("d", "Ministry of Health announces vaccination plan", "The plan covers all provinces.");
    english.languages = vec!["en".into()];
    vec![
        doc(
            "a",
            "Bộ Y tế công bố kế hoạch tiêm chủng",
            "Kế hoạch tiêm chủng mở rộng năm 2026 được Bộ Y tế công bố hôm nay.",
        ),
        doc(
            "b",
            "Bộ Giáo dục và Đào tạo ban hành quy chế thi",
            "Quy chế thi tốt nghiệp trung học phổ thông.",
        ),
        legal,
        english,
    ]
}

#[test]
fn vietnamese_matches_with_or_without_diacritics() {
    let index = index_of(&ministries());
    for q in ["Bộ Y tế", "bo y te", "Y TẾ", "BO Y TE", "bộ y tế", "tiem chung", "KẾ HOẠCH"]
    {
        assert_eq!(ids(&search(&index, &text(q))), ["a"], "query {q:?}");
    }
    // Decomposed (NFD) input is the same words.
    let nfd = "Bo\u{0323}\u{0302} Y te\u{0302}\u{0301}";
    assert_eq!(ids(&search(&index, &text(nfd))), ["a"]);
    // Across items: every item with "bộ".
    assert_eq!(sorted_ids(&search(&index, &text("bo"))), ["a", "b", "c"]);
    assert_eq!(sorted_ids(&search(&index, &text("Bộ"))), ["a", "b", "c"]);
}

#[test]
fn d_with_stroke_folds_to_d() {
    let index = index_of(&ministries());
    for q in ["dao tao", "Đào tạo", "ĐÀO TẠO", "đao tao", "giao duc"] {
        assert_eq!(ids(&search(&index, &text(q))), ["b"], "query {q:?}");
    }
}

#[test]
fn document_numbers_and_words_inside_them() {
    let index = index_of(&ministries());
    for q in ["12/2026/TT-BTC", "tt btc", "TT-BTC 12", "tai chinh", "Tài Chính"] {
        assert_eq!(ids(&search(&index, &text(q))), ["c"], "query {q:?}");
    }
}

#[test]
fn english_text() {
    let index = index_of(&ministries());
    for q in ["vaccination plan", "Vaccination", "health ministry", "PROVINCES"] {
        assert_eq!(ids(&search(&index, &text(q))), ["d"], "query {q:?}");
    }
}

#[test]
fn every_word_must_match() {
    let index = index_of(&ministries());
    assert!(search(&index, &text("y te dao tao")).hits.is_empty());
    assert_eq!(search(&index, &text("y te dao tao")).total, 0);
    assert!(search(&index, &text("vaccination tiem")).hits.is_empty());
}

#[test]
fn exact_diacritics_rank_first_but_folded_still_finds_all() {
    // Same shape, same length; only the accent on "bo" differs. The exact one is added
    // in the middle so insertion order cannot explain the ranking.
    let index = index_of(&[
        doc("bo-huyen", "Tin bồ mới", "Nội dung tin."),
        doc("bo-nang", "Tin bộ mới", "Nội dung tin."),
        doc("bo-sac", "Tin bó mới", "Nội dung tin."),
    ]);
    let page = search(&index, &text("bộ"));
    assert_eq!(page.total, 3);
    assert_eq!(ids(&page)[0], "bo-nang");
    assert!(page.hits[0].score > page.hits[1].score);

    let page = search(&index, &text("bồ"));
    assert_eq!(page.total, 3);
    assert_eq!(ids(&page)[0], "bo-huyen");

    // Without accents, all three match and none is preferred.
    let page = search(&index, &text("bo"));
    assert_eq!(sorted_ids(&page), ["bo-huyen", "bo-nang", "bo-sac"]);
    assert_eq!(page.hits[0].score, page.hits[2].score);
}

#[test]
fn title_outweighs_body() {
    let index = index_of(&[
        doc("body", "Thông báo", "Lịch tiêm chủng cho trẻ em tại các phường trong tháng."),
        doc("title", "Lịch tiêm chủng", "Thông báo cho trẻ em tại các phường trong tháng."),
    ]);
    assert_eq!(ids(&search(&index, &text("tiem chung"))), ["title", "body"]);
}

#[test]
fn highlights_the_original_accented_words() {
    let index = index_of(&ministries());
    let page = search(&index, &text("bo y te"));
    let hit = &page.hits[0];
    // Matching is folded, so "bố" is a "bo" too.
    assert_eq!(
        hit.title_html,
        "<mark>Bộ</mark> <mark>Y</mark> <mark>tế</mark> công <mark>bố</mark> kế hoạch tiêm chủng"
    );
    assert_eq!(
        hit.snippet_html,
        "Kế hoạch tiêm chủng mở rộng năm 2026 được <mark>Bộ</mark> <mark>Y</mark> <mark>tế</mark> \
         công <mark>bố</mark> hôm nay."
    );
    assert!(!hit.snippet_html.contains("<b>"));
    assert_eq!(hit.key, "bo-y-te/a");
    assert_eq!(hit.member, "bo-y-te");
    assert_eq!(hit.kind, "news");
    assert_eq!(hit.published, 1_767_225_600);
}

#[test]
fn snippet_falls_back_to_summary_then_to_its_start() {
    let mut d = doc("s", "Tiêu đề", "Nội dung không liên quan.");
    d.summary = "Tóm tắt về tiêm chủng.".into();
    let index = index_of(&[d]);
    let hit = &search(&index, &text("tiem chung")).hits[0];
    assert_eq!(hit.snippet_html, "Tóm tắt về <mark>tiêm</mark> <mark>chủng</mark>.");

    // Matched only in the title: the snippet is the start of the summary, unmarked.
    let hit = &search(&index, &text("tieu de")).hits[0];
    assert_eq!(hit.title_html, "<mark>Tiêu</mark> <mark>đề</mark>");
    assert_eq!(hit.snippet_html, "Tóm tắt về tiêm chủng.");
}

#[test]
fn long_body_snippet_is_cut_around_the_match() {
    let filler = "Văn bản hướng dẫn chung cho các địa phương. ".repeat(20);
    let body = format!("{filler}Đợt tiêm chủng bắt đầu vào thứ hai. {filler}");
    let index = index_of(&[doc("long", "Thông báo", &body)]);
    let hit = &search(&index, &text("tiem chung")).hits[0];
    assert!(hit.snippet_html.contains("<mark>tiêm</mark> <mark>chủng</mark>"));
    assert!(hit.snippet_html.starts_with('…') && hit.snippet_html.ends_with('…'));
    assert!(hit.snippet_html.len() < 400, "{}", hit.snippet_html);
}

#[test]
fn filters() {
    let mut docs = ministries();
    docs[0].published = 100;
    docs[1].published = 200;
    docs[2].published = 300;
    docs[3].published = 400;
    docs[1].categories = vec!["education".into(), "exams".into()];
    docs[1].kind = "announcement".into();
    docs[3].languages = vec!["en".into(), "vi".into()];
    let index = index_of(&docs);
    let q = |f: &dyn Fn(&mut SearchQuery)| {
        let mut q = SearchQuery::default();
        f(&mut q);
        sorted_ids(&search(&index, &q)).into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(q(&|q| q.member = Some("bo-tai-chinh".into())), ["c"]);
    assert_eq!(q(&|q| q.member = Some("bo-y-te".into())), ["a", "b", "d"]);
    assert_eq!(q(&|q| q.member = Some("bo".into())), Vec::<String>::new());
    assert_eq!(q(&|q| q.member = Some(String::new())), ["a", "b", "c", "d"]);
    assert_eq!(q(&|q| q.kind = Some("legal".into())), ["c"]);
    assert_eq!(q(&|q| q.kind = Some("announcement".into())), ["b"]);
    assert_eq!(q(&|q| q.category = Some("exams".into())), ["b"]);
    assert_eq!(q(&|q| q.category = Some("education".into())), ["b"]);
    assert_eq!(q(&|q| q.category = Some("health".into())), ["a", "d"]);
    assert_eq!(q(&|q| q.language = Some("en".into())), ["d"]);
    assert_eq!(q(&|q| q.language = Some("vi".into())), ["a", "b", "c", "d"]);
    assert_eq!(q(&|q| q.from = Some(200)), ["b", "c", "d"]);
    assert_eq!(q(&|q| q.to = Some(200)), ["a", "b"]);
    assert_eq!(q(&|q| (q.from, q.to) = (Some(200), Some(300))), ["b", "c"]);
    assert_eq!(q(&|q| (q.from, q.to) = (Some(300), Some(200))), Vec::<String>::new());
    assert_eq!(q(&|q| (q.from, q.to) = (Some(i64::MIN), Some(i64::MAX))), ["a", "b", "c", "d"]);
    // Filters combine with each other and with words.
    assert_eq!(
        q(&|q| {
            q.text = "bo".into();
            q.language = Some("vi".into());
            q.to = Some(200);
        }),
        ["a", "b"]
    );
    assert_eq!(
        q(&|q| {
            q.text = "ke hoach".into();
            q.kind = Some("legal".into());
        }),
        Vec::<String>::new()
    );
}

#[test]
fn withdrawn_items_only_on_request() {
    let mut docs = ministries();
    docs[0].withdrawn = true;
    let index = index_of(&docs);
    assert!(search(&index, &text("bo y te")).hits.is_empty());
    assert_eq!(sorted_ids(&search(&index, &SearchQuery::default())), ["b", "c", "d"]);
    let q =
        SearchQuery { text: "bo y te".into(), include_withdrawn: true, ..SearchQuery::default() };
    assert_eq!(ids(&search(&index, &q)), ["a"]);
    assert_eq!(
        search(&index, &SearchQuery { include_withdrawn: true, ..SearchQuery::default() }).total,
        4
    );
}

#[test]
fn facets_count_all_matches_sorted_by_count_then_name() {
    let mut docs = Vec::new();
    for i in 0..7 {
        let mut d = doc(&format!("h{i}"), "Bản tin y tế", "Nội dung.");
        d.categories =
            if i % 2 == 0 { vec!["health".into(), "covid".into()] } else { vec!["health".into()] };
        d.languages = vec!["vi".into(), "en".into()];
        docs.push(d);
    }
    for i in 0..3 {
        let mut d = doc(&format!("f{i}"), "Bản tin tài chính", "Nội dung.");
        d.member = "bo-tai-chinh".into();
        d.key = format!("bo-tai-chinh/f{i}");
        d.kind = "legal".into();
        d.categories = vec!["finance".into(), "finance".into()];
        docs.push(d);
    }
    let mut other = doc("x", "Không liên quan", "Khác.");
    other.member = "bo-ngoai-giao".into();
    docs.push(other);
    let index = index_of(&docs);

    let q = SearchQuery { text: "ban tin".into(), per_page: 2, ..SearchQuery::default() };
    let page = search(&index, &q);
    assert_eq!(page.total, 10);
    assert_eq!(page.hits.len(), 2);
    let f = &page.facets;
    let s = |v: &[(&str, u64)]| v.iter().map(|(k, c)| ((*k).to_owned(), *c)).collect::<Vec<_>>();
    assert_eq!(f.member, s(&[("bo-y-te", 7), ("bo-tai-chinh", 3)]));
    assert_eq!(f.kind, s(&[("news", 7), ("legal", 3)]));
    assert_eq!(f.category, s(&[("health", 7), ("covid", 4), ("finance", 3)]));
    assert_eq!(f.language, s(&[("vi", 10), ("en", 7)]));

    // Ties sort by name; facets follow the filters.
    let q = SearchQuery { member: Some("bo-tai-chinh".into()), ..SearchQuery::default() };
    let f = search(&index, &q).facets;
    assert_eq!(f.member, s(&[("bo-tai-chinh", 3)]));
    let f = search(&index, &SearchQuery { category: Some("finance".into()), ..q }).facets;
    assert_eq!(f.category, s(&[("finance", 3)]));
    let f = search(&index, &text("khong lien quan")).facets;
    assert_eq!(f.member, s(&[("bo-ngoai-giao", 1)]));
    let f = search(&index, &text("khong co gi")).facets;
    assert!(f.member.is_empty() && f.kind.is_empty() && f.category.is_empty());
}

#[test]
fn upsert_replaces_and_remove_removes() {
    let index = SearchIndex::in_memory().unwrap();
    let mut d = doc("u", "Bản tin cũ", "Nội dung cũ.");
    index.upsert(&d).unwrap();
    index.upsert(&d).unwrap(); // twice in one batch
    index.commit().unwrap();
    assert_eq!(index.len(), 1);
    assert_eq!(search(&index, &text("ban tin")).total, 1);

    d.title = "Bản tin mới".into();
    d.body = "Nội dung mới.".into();
    index.upsert(&d).unwrap();
    // Not visible before commit.
    assert_eq!(search(&index, &text("moi")).total, 0);
    index.commit().unwrap();
    assert_eq!(index.len(), 1);
    assert_eq!(ids(&search(&index, &text("ban tin"))), ["u"]);
    assert_eq!(search(&index, &text("moi")).total, 1);
    assert_eq!(search(&index, &text("cu")).total, 0);

    index.upsert(&doc("v", "Bản tin khác", "")).unwrap();
    index.remove("bo-y-te/u").unwrap();
    index.remove("bo-y-te/does-not-exist").unwrap();
    index.commit().unwrap();
    assert_eq!(index.len(), 1);
    assert_eq!(ids(&search(&index, &text("ban tin"))), ["v"]);

    // A removal followed by a re-add in the same batch keeps the new one.
    index.remove("bo-y-te/v").unwrap();
    index.upsert(&doc("v", "Bản tin lại", "")).unwrap();
    index.commit().unwrap();
    assert_eq!(ids(&search(&index, &text("lai"))), ["v"]);
    assert_eq!(index.len(), 1);
}

#[test]
fn invalid_keys_are_refused() {
    let index = SearchIndex::in_memory().unwrap();
    let mut d = doc("k", "T", "B");
    d.key = String::new();
    assert!(matches!(index.upsert(&d), Err(SearchError::InvalidDoc(_))));
    d.key = "k".repeat(portal_search::MAX_KEY_BYTES + 1);
    assert!(matches!(index.upsert(&d), Err(SearchError::InvalidDoc(_))));
    assert!(index.is_empty());
}

#[test]
fn paging() {
    let docs: Vec<SearchDoc> = (0..25)
        .map(|i| {
            let mut d = doc(&format!("p{i:02}"), "Thông báo tiêm chủng", "Nội dung.");
            d.published = 1000 + i;
            d
        })
        .collect();
    let index = index_of(&docs);
    let mut seen = Vec::new();
    for (page, expected) in [(0, 10), (1, 10), (2, 5), (3, 0), (usize::MAX, 0)] {
        let q =
            SearchQuery { text: "thong bao".into(), page, per_page: 10, ..SearchQuery::default() };
        let p = search(&index, &q);
        assert_eq!((p.total, p.page, p.per_page, p.hits.len()), (25, page, 10, expected));
        seen.extend(p.hits.into_iter().map(|h| h.item_id));
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 25);

    // Listing (no words) is newest first, across pages.
    let q = SearchQuery { page: 1, per_page: 10, ..SearchQuery::default() };
    let p = search(&index, &q);
    assert_eq!(ids(&p)[..3], ["p14", "p13", "p12"]);
    assert!(p.hits.iter().all(|h| h.score == 0.0));

    // per_page: 0 means the default, and large values are capped.
    let p = search(&index, &SearchQuery { per_page: 0, ..SearchQuery::default() });
    assert_eq!((p.per_page, p.hits.len()), (portal_search::DEFAULT_PER_PAGE, 20));
    let p = search(&index, &SearchQuery { per_page: 1_000_000, ..SearchQuery::default() });
    assert_eq!((p.per_page, p.hits.len()), (portal_search::MAX_PER_PAGE, 25));
    let p = search(
        &index,
        &SearchQuery { per_page: usize::MAX, page: usize::MAX, ..SearchQuery::default() },
    );
    assert_eq!((p.total, p.hits.len()), (25, 0));
}

#[test]
fn empty_text_lists_by_filters_newest_first() {
    let mut docs = ministries();
    for (i, d) in docs.iter_mut().enumerate() {
        d.published = 1_000 - i64::try_from(i).unwrap() * 10 + if i == 2 { 100 } else { 0 };
    }
    let index = index_of(&docs);
    assert_eq!(ids(&search(&index, &SearchQuery::default())), ["c", "a", "b", "d"]);
    let q = SearchQuery { member: Some("bo-y-te".into()), ..SearchQuery::default() };
    assert_eq!(ids(&search(&index, &q)), ["a", "b", "d"]);
    let page = search(&index, &text("   "));
    assert_eq!(page.total, 4);
    // Listed titles are escaped but unmarked; the snippet is the start of the body.
    assert_eq!(page.hits[0].title_html, "Thông tư số 12/2026/TT-BTC của Bộ Tài chính");
    assert_eq!(page.hits[0].snippet_html, "Quy định về quản lý ngân sách nhà nước.");
}

#[test]
fn reopen_keeps_committed_documents_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("search");
    {
        let index = SearchIndex::open(&path).unwrap();
        assert!(index.is_empty());
        for d in ministries() {
            index.upsert(&d).unwrap();
        }
        index.commit().unwrap();
        index.upsert(&doc("uncommitted", "Chưa lưu", "")).unwrap();
        // A second writer on the same directory is refused while this one lives.
        assert!(matches!(SearchIndex::open(&path), Err(SearchError::Locked { .. })));
    }
    let index = SearchIndex::open(&path).unwrap();
    assert_eq!(index.len(), 4);
    assert_eq!(ids(&search(&index, &text("dao tao"))), ["b"]);
    assert_eq!(search(&index, &text("chua luu")).total, 0);
    let page = search(&index, &text("Y TẾ"));
    assert_eq!(
        page.hits[0].title_html,
        "Bộ <mark>Y</mark> <mark>tế</mark> công bố kế hoạch tiêm chủng"
    );
    // And it keeps working after reopening.
    index.remove("bo-y-te/a").unwrap();
    index.commit().unwrap();
    assert_eq!(index.len(), 3);
}

#[test]
fn a_commit_payload_survives_reopening_and_clear_empties_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("search");
    {
        let index = SearchIndex::open(&path).unwrap();
        assert_eq!(index.committed_payload().unwrap(), None);
        for d in ministries() {
            index.upsert(&d).unwrap();
        }
        index.commit_with_payload(r#"{"bo-y-te":2}"#).unwrap();
        assert_eq!(index.committed_payload().unwrap().as_deref(), Some(r#"{"bo-y-te":2}"#));
        // An uncommitted payload is no payload: the next writer sees the last committed one.
        index.upsert(&doc("later", "Sau", "")).unwrap();
    }
    let index = SearchIndex::open(&path).unwrap();
    assert_eq!(index.committed_payload().unwrap().as_deref(), Some(r#"{"bo-y-te":2}"#));
    assert_eq!(index.len(), 4);
    index.clear().unwrap();
    index.commit().unwrap();
    assert!(index.is_empty());
    // A plain commit carries no payload.
    assert_eq!(index.committed_payload().unwrap(), None);
}

#[test]
fn a_directory_with_another_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut builder = tantivy::schema::Schema::builder();
    builder.add_text_field("title", tantivy::schema::TEXT);
    tantivy::Index::create_in_dir(dir.path(), builder.build()).unwrap();
    assert!(matches!(SearchIndex::open(dir.path()), Err(SearchError::SchemaMismatch { .. })));
}
