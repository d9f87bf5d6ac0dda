//! What the pages show, read from the node: listings (from the national search index on the
//! central node, from the node's own log on a ministry node), an item with its history and
//! provenance, and the federation's health. Everything here is read-only.

use std::collections::BTreeMap;

use portal_proto::checkpoint::{Checkpoint, SignedNote};
use portal_proto::envelope::{self, SignedRecord};
use portal_proto::html::html_to_text;
use portal_proto::ids::{ItemId, NodeId};
use portal_proto::record::{ItemVersion, Receipt, Record, Withdrawal};
use portal_proto::time::Timestamp;
use portal_search::{Facets, SearchQuery};

use crate::i18n::{Strings, Ui};
use portal_aggregator::National;
use portal_aggregator::view::ItemRecords;

/// How many entries of its own log a ministry node reads (newest first) to list and search
/// its items; older items stay reachable by their page and the feeds' archives.
pub(crate) const LOCAL_SCAN: u64 = 20_000;
/// How far back the central node looks in its own log for an item's receipt.
const RECEIPT_SCAN: u64 = 200_000;

/// One item version, parsed, with the exact bytes it was signed as.
#[derive(Debug, Clone)]
pub(crate) struct Version {
    pub(crate) signed: SignedRecord,
    pub(crate) item: ItemVersion,
}

/// An item's whole history.
#[derive(Debug, Clone)]
pub(crate) struct History {
    /// The member that published it (`None`: this node's own item).
    pub(crate) member: Option<NodeId>,
    /// Versions, oldest first (never empty).
    pub(crate) versions: Vec<Version>,
    /// The withdrawal, if any.
    pub(crate) withdrawal: Option<(SignedRecord, Withdrawal)>,
}

impl History {
    pub(crate) fn latest(&self) -> &Version {
        self.versions.last().expect("a history has at least one version")
    }
}

fn parse_version(signed: SignedRecord) -> Result<Version, String> {
    match envelope::parse_record(signed.bytes()) {
        Ok(Record::Item(item)) => Ok(Version { signed, item }),
        Ok(_) => Err("an item index points at a record that is not an item version".into()),
        Err(e) => Err(format!("stored record does not parse: {e}")),
    }
}

fn parse_withdrawal(signed: SignedRecord) -> Result<(SignedRecord, Withdrawal), String> {
    match envelope::parse_record(signed.bytes()) {
        Ok(Record::Withdrawal(w)) => Ok((signed, w)),
        Ok(_) => Err("an item index points at a record that is not a withdrawal".into()),
        Err(e) => Err(format!("stored record does not parse: {e}")),
    }
}

/// Parse an item's signed records into its history (`None` if it has no version).
fn history(records: Option<ItemRecords>) -> Result<Option<History>, String> {
    let Some(r) = records else { return Ok(None) };
    let versions = r.versions.into_iter().map(parse_version).collect::<Result<Vec<_>, _>>()?;
    let withdrawal = r.withdrawal.map(parse_withdrawal).transpose()?;
    Ok((!versions.is_empty()).then_some(History { member: r.member, versions, withdrawal }))
}

/// A member's item, as the central node stored it.
pub(crate) fn member_history(
    state: &National,
    member: &NodeId,
    id: &ItemId,
) -> Result<Option<History>, String> {
    history(state.member_item(member, id)?)
}

/// An item on the central node: `member`'s if given, else whichever member holds that id,
/// else the central's own.
pub(crate) fn find_history(
    state: &National,
    member: Option<&str>,
    id: &ItemId,
) -> Result<Option<History>, String> {
    if state.agg().is_some() {
        if let Some(m) = member.filter(|m| !m.is_empty()) {
            let Ok(m) = NodeId::new(m) else { return Ok(None) };
            return member_history(state, &m, id);
        }
        if let Some(m) = state.item_holders(id)?.into_iter().next() {
            return member_history(state, &m, id);
        }
    }
    history(state.own_item(id)?)
}

// ---------------------------------------------------------------------------------------------
// Text in the reader's language

/// The text of a version to show in `ui`: its own language, a translation, or the original.
#[derive(Debug, Clone)]
pub(crate) struct Localized {
    pub(crate) title: String,
    pub(crate) summary: String,
    pub(crate) content_html: String,
    /// The language of this text.
    pub(crate) lang: String,
    /// Whether the reader asked for another language that this item does not have.
    pub(crate) fallback: bool,
}

pub(crate) fn localize(item: &ItemVersion, ui: Ui) -> Localized {
    if item.language.as_str() != ui.code()
        && let Some((lang, t)) =
            item.translations.iter().find(|(l, _)| Ui::parse(l.as_str()) == Some(ui))
    {
        return Localized {
            title: t.title.clone(),
            summary: t.summary.clone(),
            content_html: t.content_html.clone(),
            lang: lang.to_string(),
            fallback: false,
        };
    }
    Localized {
        title: item.title.clone(),
        summary: item.summary.clone(),
        content_html: item.content_html.clone(),
        lang: item.language.to_string(),
        fallback: Ui::parse(item.language.as_str()) != Some(ui),
    }
}

// ---------------------------------------------------------------------------------------------
// Formatting

/// Offset of Vietnam time (UTC+7, no daylight saving).
const VIETNAM: u64 = 7 * 3600;

/// `dd/mm/yyyy hh:mm` (Vietnamese) or `d Mon yyyy, hh:mm` (English), in Vietnam time.
pub(crate) fn when(t: Timestamp, ui: Ui) -> String {
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let local = Timestamp::from_unix(t.unix().saturating_add(VIETNAM)).unwrap_or(t).to_string();
    let (y, m, d, hm) = (&local[0..4], &local[5..7], &local[8..10], &local[11..16]);
    match ui {
        Ui::Vi => format!("{d}/{m}/{y} {hm}"),
        Ui::En => {
            let month = m.parse::<usize>().ok().and_then(|m| MONTHS.get(m.wrapping_sub(1)));
            format!("{} {} {y}, {hm}", d.trim_start_matches('0'), month.unwrap_or(&"?"))
        }
    }
}

/// A date `YYYY-MM-DD` as `dd/mm/yyyy` (Vietnamese) or as is (English, ISO 8601).
pub(crate) fn date(d: &str, ui: Ui) -> String {
    match (ui, d.get(0..4), d.get(5..7), d.get(8..10)) {
        (Ui::Vi, Some(y), Some(m), Some(day)) => format!("{day}/{m}/{y}"),
        _ => d.to_owned(),
    }
}

/// Unix seconds as a [`Timestamp`] (the epoch for out-of-range values).
pub(crate) fn ts(unix: u64) -> Timestamp {
    Timestamp::from_unix(unix).unwrap_or(Timestamp::EPOCH)
}

pub(crate) fn kind_label(t: &Strings, kind: &str) -> &'static str {
    match kind {
        "news" => t.kind_news,
        "announcement" => t.kind_announcement,
        "legal" => t.kind_legal,
        "alert" => t.kind_alert,
        _ => "",
    }
}

/// A language's name in the interface language.
pub(crate) fn language_name(code: &str, ui: Ui) -> String {
    match (Ui::parse(code), ui) {
        (Some(Ui::Vi), Ui::Vi) => "Tiếng Việt".into(),
        (Some(Ui::Vi), Ui::En) => "Vietnamese".into(),
        (Some(Ui::En), Ui::Vi) => "Tiếng Anh".into(),
        (Some(Ui::En), Ui::En) => "English".into(),
        _ => code.to_owned(),
    }
}

/// A category slug as a label: `suc-khoe` → `suc khoe` (slugs carry no diacritics).
pub(crate) fn category_label(slug: &str) -> String {
    let s = slug.replace(['-', '_'], " ");
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Members' names

/// Member id → display name in the interface language (roster names; relayed nodes that are
/// not members show their id).
#[derive(Debug, Default)]
pub(crate) struct Names(BTreeMap<String, (String, String)>);

impl Names {
    pub(crate) fn of(state: &National, ui: Ui) -> Names {
        let mut map = BTreeMap::new();
        for m in state.agg().map(|a| a.list()).unwrap_or_default() {
            let name = m
                .name
                .iter()
                .find(|(l, _)| Ui::parse(l) == Some(ui))
                .or_else(|| m.name.iter().find(|(l, _)| Ui::parse(l) == Some(Ui::Vi)))
                .or_else(|| m.name.iter().next())
                .map(|(_, n)| n.clone())
                .unwrap_or_else(|| m.id.to_string());
            map.insert(m.id.to_string(), (name, m.url.clone()));
        }
        Names(map)
    }

    pub(crate) fn name(&self, id: &str) -> String {
        self.0.get(id).map(|(n, _)| n.clone()).unwrap_or_else(|| id.to_owned())
    }

    pub(crate) fn url(&self, id: &str) -> Option<&str> {
        self.0.get(id).map(|(_, u)| u.as_str())
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter().map(|(id, (name, _))| (id, name))
    }
}

/// This node's own name in `ui`.
pub(crate) fn own_name(state: &National, ui: Ui) -> String {
    let names = &state.node.config.name;
    names
        .iter()
        .find(|(l, _)| Ui::parse(l.as_str()) == Some(ui))
        .map(|(_, n)| n.clone())
        .unwrap_or_else(|| state.node.config.display_name().to_owned())
}

// ---------------------------------------------------------------------------------------------
// Listings

/// A listing request: filters, free text (empty: newest first), page.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    pub(crate) text: String,
    pub(crate) member: Option<String>,
    pub(crate) kind: Option<String>,
    pub(crate) category: Option<String>,
    pub(crate) language: Option<String>,
    /// Published at or after (unix seconds).
    pub(crate) from: Option<i64>,
    pub(crate) page: usize,
    pub(crate) per_page: usize,
}

/// One item in a list.
#[derive(Debug, Clone)]
pub(crate) struct Card {
    pub(crate) href: String,
    /// Escaped title, with `<mark>` around matched words on the search page.
    pub(crate) title_html: String,
    /// The language of the title and summary shown.
    pub(crate) lang: String,
    pub(crate) member: String,
    pub(crate) member_name: String,
    pub(crate) kind: String,
    pub(crate) published: String,
    pub(crate) datetime: String,
    /// Escaped text with `<mark>`s (search), or the escaped summary.
    pub(crate) snippet_html: String,
    pub(crate) legal_number: Option<String>,
}

/// A page of cards, the number of matches and facet counts over all of them.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub(crate) total: usize,
    pub(crate) cards: Vec<Card>,
    pub(crate) facets: Facets,
    pub(crate) per_page: usize,
}

fn escape(text: &str) -> String {
    portal_search::highlight(text, "")
}

fn card(item: &ItemVersion, member: Option<&str>, names: &Names, ui: Ui, query: &str) -> Card {
    let text = localize(item, ui);
    let href = match member {
        Some(m) => format!("/items/{}?member={m}", item.id),
        None => format!("/items/{}", item.id),
    };
    let snippet_html = if query.trim().is_empty() {
        escape(&text.summary)
    } else {
        portal_search::highlight(&text.summary, query)
    };
    Card {
        href,
        title_html: portal_search::highlight(&text.title, query),
        lang: text.lang,
        member: member.unwrap_or(item.origin.as_str()).to_owned(),
        member_name: names.name(member.unwrap_or(item.origin.as_str())),
        kind: item.kind.as_str().to_owned(),
        published: when(item.published, ui),
        datetime: item.published.to_string(),
        snippet_html,
        legal_number: item.legal.as_ref().map(|l| l.number.clone()),
    }
}

/// A listing of the national view from the search index (blocking).
pub(crate) fn national_listing(
    state: &National,
    f: &Filter,
    names: &Names,
    ui: Ui,
) -> Result<Listing, String> {
    let index =
        state.agg().and_then(|a| a.search()).ok_or("the national search index is unavailable")?;
    let q = SearchQuery {
        text: f.text.chars().take(1000).collect(),
        member: f.member.clone(),
        kind: f.kind.clone(),
        category: f.category.clone(),
        language: f.language.clone(),
        from: f.from,
        to: None,
        include_withdrawn: false,
        page: f.page,
        per_page: f.per_page,
    };
    let page = index.index().search(&q).map_err(|e| e.to_string())?;
    let mut cards = Vec::with_capacity(page.hits.len());
    for hit in &page.hits {
        let (Ok(member), Ok(id)) = (NodeId::new(&hit.member), ItemId::new(&hit.item_id)) else {
            continue;
        };
        // The index may lag the store by one batch; an item it names is always stored.
        let Some(h) = member_history(state, &member, &id)? else { continue };
        let mut c = card(&h.latest().item, Some(&hit.member), names, ui, &f.text);
        if !f.text.trim().is_empty() && !hit.snippet_html.is_empty() {
            // Already escaped with <mark>s by portal-search; cleaned again to keep only those.
            c.snippet_html = clean_marks(&hit.snippet_html);
        }
        cards.push(c);
    }
    Ok(Listing { total: page.total, cards, facets: page.facets, per_page: page.per_page })
}

/// Escaped text whose only markup is `<mark>`: run through ammonia allowing just that tag
/// (defence in depth over portal-search's own escaping).
pub(crate) fn clean_marks(html: &str) -> String {
    ammonia::Builder::empty().add_tags(["mark"]).clean(html).to_string()
}

/// The latest version of each of this node's items (withdrawn ones left out), newest first,
/// from the last [`LOCAL_SCAN`] log entries.
fn local_items(state: &National) -> Result<Vec<ItemVersion>, String> {
    let mut seen: BTreeMap<String, ()> = BTreeMap::new();
    let mut out = Vec::new();
    state.scan_own_log_rev(LOCAL_SCAN, |_, signed| {
        match envelope::parse_record(signed.bytes()) {
            Ok(Record::Item(item)) if seen.insert(item.id.to_string(), ()).is_none() => {
                out.push(item);
            }
            Ok(Record::Withdrawal(w)) => {
                seen.insert(w.id.to_string(), ());
            }
            _ => {}
        }
        true
    })?;
    out.sort_by(|a, b| b.published.cmp(&a.published).then_with(|| b.id.cmp(&a.id)));
    Ok(out)
}

fn count(list: &mut Vec<(String, u64)>, value: &str) {
    match list.iter_mut().find(|(v, _)| v == value) {
        Some((_, n)) => *n += 1,
        None => list.push((value.to_owned(), 1)),
    }
}

/// A listing of this node's own items, filtered and searched in memory with the same word
/// folding as the national index ("bo y te" finds "Bộ Y tế").
pub(crate) fn local_listing(
    state: &National,
    f: &Filter,
    names: &Names,
    ui: Ui,
) -> Result<Listing, String> {
    let words = portal_search::folded_words(&f.text);
    let items = local_items(state)?;
    let mut facets = Facets::default();
    let mut matched = Vec::new();
    for item in items {
        let languages: Vec<&str> = std::iter::once(item.language.as_str())
            .chain(item.translations.keys().map(|l| l.as_str()))
            .collect();
        let pass = f.kind.as_deref().is_none_or(|k| k == item.kind.as_str())
            && f.category.as_deref().is_none_or(|c| item.categories.iter().any(|x| x == c))
            && f.language.as_deref().is_none_or(|l| languages.contains(&l))
            && f.from.is_none_or(|from| item.published.unix() as i64 >= from);
        if !pass {
            continue;
        }
        if !words.is_empty() {
            let mut text =
                format!("{} {} {}", item.title, item.summary, html_to_text(&item.content_html));
            for t in item.translations.values() {
                text.push_str(&format!(
                    " {} {} {}",
                    t.title,
                    t.summary,
                    html_to_text(&t.content_html)
                ));
            }
            let have = portal_search::folded_words(&text);
            if !words.iter().all(|w| have.contains(w)) {
                continue;
            }
        }
        count(&mut facets.member, item.origin.as_str());
        count(&mut facets.kind, item.kind.as_str());
        for c in &item.categories {
            count(&mut facets.category, c);
        }
        for l in &languages {
            count(&mut facets.language, l);
        }
        matched.push(item);
    }
    for list in [&mut facets.member, &mut facets.kind, &mut facets.category, &mut facets.language] {
        list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    }
    let per_page = f.per_page.clamp(1, portal_search::MAX_PER_PAGE);
    let total = matched.len();
    let cards = matched
        .iter()
        .skip(f.page.saturating_mul(per_page))
        .take(per_page)
        .map(|item| card(item, None, names, ui, &f.text))
        .collect();
    Ok(Listing { total, cards, facets, per_page })
}

/// A listing from the right source for this node (blocking).
pub(crate) fn listing(
    state: &National,
    f: &Filter,
    names: &Names,
    ui: Ui,
) -> Result<Listing, String> {
    if state.agg().is_some() {
        national_listing(state, f, names, ui)
    } else {
        local_listing(state, f, names, ui)
    }
}

// ---------------------------------------------------------------------------------------------
// Provenance

/// A checkpoint note's facts.
#[derive(Debug, Clone)]
pub(crate) struct NoteFacts {
    pub(crate) size: u64,
    pub(crate) time: Option<Timestamp>,
    /// The time of the witness's cosignature (a cosigned note only).
    pub(crate) cosigned: Option<Timestamp>,
}

/// Parse a checkpoint note (possibly cosigned: cosignature/v1 lines carry an 8-byte
/// timestamp before the 64-byte signature).
pub(crate) fn note_facts(note: &str) -> Option<NoteFacts> {
    let parsed = SignedNote::parse(note).ok()?;
    let body = Checkpoint::parse_body(&parsed.text).ok()?;
    let cosigned = parsed
        .signatures
        .iter()
        .filter(|s| s.signature.len() == 72)
        .filter_map(|s| s.signature[..8].try_into().ok().map(u64::from_be_bytes))
        .max()
        .and_then(Timestamp::from_unix);
    Some(NoteFacts { size: body.size, time: body.time().and_then(Timestamp::from_unix), cosigned })
}

/// The central's receipt for a member record (by the record's digest), and its log index:
/// searched newest first in the last [`RECEIPT_SCAN`] entries, by the digest's bytes before
/// any parse.
pub(crate) fn find_receipt(
    state: &National,
    record: &SignedRecord,
) -> Result<Option<(u64, Receipt)>, String> {
    let needle = format!("\"record\":\"{}\"", record.digest());
    let needle = needle.as_bytes();
    let mut found = None;
    state.scan_own_log_rev(RECEIPT_SCAN, |index, signed| {
        if !signed.bytes().windows(needle.len()).any(|w| w == needle) {
            return true;
        }
        if let Ok(Record::Receipt(r)) = envelope::parse_record(signed.bytes())
            && r.record == record.digest()
        {
            found = Some((index, r));
            return false;
        }
        true
    })?;
    Ok(found)
}
