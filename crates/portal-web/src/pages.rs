//! The page handlers and their templates' data.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use portal_proto::ids::{ItemId, NodeId};
use portal_proto::record::{UpdateType, WithdrawalState};
use portal_proto::time::Timestamp;
use portal_search::Facets;

use crate::chrome::internal;
use crate::chrome::{Chrome, LangChoice, href, query_pairs, send};
use crate::data::{self, Card, Filter, History, Listing, Names};
use crate::diff::{self, FieldDiff};
use crate::i18n::{Strings, Ui};
use portal_aggregator::National;
use portal_publisher::node::now;

/// Items per listing page.
const PER_PAGE: usize = 20;

fn param(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A page number from `?page=` (1-based in URLs, 0-based inside).
fn page_number(pairs: &[(String, String)]) -> usize {
    param(pairs, "page")
        .and_then(|p| p.parse::<usize>().ok())
        .map_or(0, |p| p.saturating_sub(1))
        .min(10_000)
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

/// Links to pages of a listing.
#[derive(Debug, Default)]
pub(crate) struct Pager {
    pub(crate) prev: Option<String>,
    pub(crate) next: Option<String>,
    pub(crate) pages: Vec<(usize, String, bool)>,
}

fn pager(path: &str, keep: &[(&str, &str)], page: usize, total: usize, per_page: usize) -> Pager {
    let count = total.div_ceil(per_page.max(1));
    if count <= 1 {
        return Pager::default();
    }
    let link = |p: usize| {
        let n = (p + 1).to_string();
        let mut pairs = keep.to_vec();
        if p > 0 {
            pairs.push(("page", &n));
        }
        href(path, &pairs)
    };
    let lo = page.saturating_sub(4);
    let hi = (lo + 9).min(count);
    Pager {
        prev: (page > 0).then(|| link(page - 1)),
        next: (page + 1 < count).then(|| link(page + 1)),
        pages: (lo..hi).map(|p| (p + 1, link(p), p == page)).collect(),
    }
}

/// A facet value as a link that adds (or, when active, removes) the filter.
#[derive(Debug)]
pub(crate) struct FacetLink {
    pub(crate) label: String,
    pub(crate) count: u64,
    pub(crate) href: String,
    pub(crate) active: bool,
}

#[derive(Debug)]
pub(crate) struct FacetGroup {
    pub(crate) label: &'static str,
    pub(crate) links: Vec<FacetLink>,
}

/// A block of cards with a heading.
#[derive(Debug)]
pub(crate) struct Section {
    pub(crate) heading: String,
    pub(crate) more: Option<String>,
    pub(crate) cards: Vec<Card>,
    pub(crate) alert: bool,
}

async fn run_listing(
    state: &web::Data<National>,
    filter: Filter,
    ui: Ui,
) -> Result<(Listing, Names), HttpResponse> {
    let state = state.clone();
    let result = web::block(move || {
        let names = Names::of(&state, ui);
        data::listing(&state, &filter, &names, ui).map(|l| (l, names))
    })
    .await;
    match result {
        Ok(Ok(x)) => Ok(x),
        Ok(Err(e)) => Err(internal(e)),
        Err(e) => Err(internal(e)),
    }
}

// ---------------------------------------------------------------------------------------------
// Home

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    page: Chrome,
    sections: Vec<Section>,
    members: Vec<(String, String, u64)>,
    categories: Vec<(String, String, u64)>,
    total: usize,
}

pub(crate) async fn home(req: HttpRequest, state: web::Data<National>) -> HttpResponse {
    let lang = LangChoice::of(&req);
    let ui = lang.ui;
    let t = ui.strings();
    let alerts = Filter { kind: Some("alert".into()), per_page: 5, ..Filter::default() };
    let (alerts, _) = match run_listing(&state, alerts, ui).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let latest = Filter { per_page: PER_PAGE, ..Filter::default() };
    let (latest, names) = match run_listing(&state, latest, ui).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let mut sections = Vec::new();
    if !alerts.cards.is_empty() {
        sections.push(Section {
            heading: t.urgent_alerts.into(),
            more: Some("/kinds/alert".into()),
            cards: alerts.cards,
            alert: true,
        });
    }
    sections.push(Section {
        heading: t.latest.into(),
        more: None,
        cards: latest.cards.into_iter().filter(|c| c.kind != "alert").collect(),
        alert: false,
    });
    let members = if state.agg().is_some() {
        let mut m: Vec<(String, String, u64)> = names
            .all()
            .map(|(id, name)| {
                let n = latest.facets.member.iter().find(|(x, _)| x == id).map_or(0, |(_, n)| *n);
                (format!("/ministries/{id}"), name.clone(), n)
            })
            .collect();
        m.sort_by(|a, b| a.1.cmp(&b.1));
        m
    } else {
        Vec::new()
    };
    let categories = latest
        .facets
        .category
        .iter()
        .take(20)
        .map(|(c, n)| {
            (format!("/categories/{}", crate::chrome::encode(c)), data::category_label(c), *n)
        })
        .collect();
    let page = HomePage {
        page: Chrome::new(&req, &state, lang, "home"),
        sections,
        members,
        categories,
        total: latest.total,
    };
    send(&req, &state, lang, StatusCode::OK, page.render())
}

// ---------------------------------------------------------------------------------------------
// Listings: a ministry, a category, a kind

#[derive(Template)]
#[template(path = "listing.html")]
struct ListingPage {
    page: Chrome,
    heading: String,
    intro: String,
    cards: Vec<Card>,
    total: usize,
    pager: Pager,
    kinds: Vec<FacetLink>,
}

async fn listing_page(
    req: HttpRequest,
    state: web::Data<National>,
    filter: Filter,
    section: String,
    heading: impl FnOnce(&Names) -> (String, String),
) -> HttpResponse {
    let lang = LangChoice::of(&req);
    let pairs = query_pairs(&req);
    let filter = Filter { page: page_number(&pairs), per_page: PER_PAGE, ..filter };
    let page_no = filter.page;
    let (listing, names) = match run_listing(&state, filter.clone(), lang.ui).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let (heading, intro) = heading(&names);
    let t = lang.ui.strings();
    // On a member's or category's page, the kinds it has, as filters.
    let kinds = if filter.kind.is_none() || filter.member.is_some() {
        listing
            .facets
            .kind
            .iter()
            .map(|(k, n)| FacetLink {
                label: data::kind_label(t, k).to_owned(),
                count: *n,
                href: href(
                    req.path(),
                    &[("kind", if filter.kind.as_deref() == Some(k) { "" } else { k })],
                ),
                active: filter.kind.as_deref() == Some(k.as_str()),
            })
            .collect()
    } else {
        Vec::new()
    };
    let kind_param = filter.kind.clone().unwrap_or_default();
    let keep: Vec<(&str, &str)> =
        if filter.member.is_some() { vec![("kind", kind_param.as_str())] } else { Vec::new() };
    let page = ListingPage {
        page: Chrome::new(&req, &state, lang, &section),
        heading,
        intro,
        pager: pager(req.path(), &keep, page_no, listing.total, listing.per_page),
        total: listing.total,
        cards: listing.cards,
        kinds,
    };
    send(&req, &state, lang, StatusCode::OK, page.render())
}

pub(crate) async fn ministry(
    req: HttpRequest,
    state: web::Data<National>,
    id: web::Path<String>,
) -> HttpResponse {
    let lang = LangChoice::of(&req);
    let known = NodeId::new(id.as_str()).is_ok()
        && state.agg().is_some()
        && state.member_ids().is_ok_and(|ids| ids.iter().any(|m| m.as_str() == id.as_str()));
    if !known {
        return not_found(&req, &state, lang);
    }
    let kind = param(&query_pairs(&req), "kind");
    let filter = Filter { member: Some(id.to_string()), kind, ..Filter::default() };
    let id = id.into_inner();
    listing_page(req, state, filter, format!("member:{id}"), move |names| {
        (names.name(&id), names.url(&id).unwrap_or_default().to_owned())
    })
    .await
}

pub(crate) async fn category(
    req: HttpRequest,
    state: web::Data<National>,
    slug: web::Path<String>,
) -> HttpResponse {
    let slug = slug.into_inner();
    let filter = Filter { category: Some(slug.clone()), ..Filter::default() };
    let t = LangChoice::of(&req).ui.strings();
    listing_page(req, state, filter, format!("category:{slug}"), move |_| {
        (data::category_label(&slug), format!("{}: {slug}", t.category))
    })
    .await
}

pub(crate) async fn kind(
    req: HttpRequest,
    state: web::Data<National>,
    kind: web::Path<String>,
) -> HttpResponse {
    let lang = LangChoice::of(&req);
    let t = lang.ui.strings();
    let label = data::kind_label(t, &kind);
    if label.is_empty() {
        return not_found(&req, &state, lang);
    }
    let filter = Filter { kind: Some(kind.to_string()), ..Filter::default() };
    listing_page(req, state, filter, format!("kind:{kind}"), move |_| {
        (label.to_owned(), String::new())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Search

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    page: Chrome,
    q: String,
    cards: Vec<Card>,
    total: usize,
    searched: bool,
    facets: Vec<FacetGroup>,
    pager: Pager,
}

pub(crate) async fn search(req: HttpRequest, state: web::Data<National>) -> HttpResponse {
    let lang = LangChoice::of(&req);
    let ui = lang.ui;
    let t = ui.strings();
    let pairs = query_pairs(&req);
    let q = param(&pairs, "q").unwrap_or_default().chars().take(500).collect::<String>();
    let since = param(&pairs, "from");
    let days = match since.as_deref() {
        Some("7d") => Some(7),
        Some("30d") => Some(30),
        Some("365d") => Some(365),
        _ => None,
    };
    let filter = Filter {
        text: q.clone(),
        member: param(&pairs, "member"),
        kind: param(&pairs, "kind"),
        category: param(&pairs, "category"),
        language: param(&pairs, "language"),
        from: days.map(|d: u64| now().unix().saturating_sub(d * 86_400) as i64),
        page: page_number(&pairs),
        per_page: PER_PAGE,
    };
    let page_no = filter.page;
    let (listing, names) = match run_listing(&state, filter.clone(), ui).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    // The current filters; a facet link toggles its own one and keeps the others.
    let current: Vec<(&str, String)> = vec![
        ("q", q.clone()),
        ("member", filter.member.clone().unwrap_or_default()),
        ("kind", filter.kind.clone().unwrap_or_default()),
        ("category", filter.category.clone().unwrap_or_default()),
        ("language", filter.language.clone().unwrap_or_default()),
        ("from", days.map(|_| since.clone().unwrap_or_default()).unwrap_or_default()),
    ];
    let toggle = |name: &str, value: &str| -> (String, bool) {
        let active = current.iter().any(|(k, v)| *k == name && v == value);
        let pairs: Vec<(&str, &str)> =
            current
                .iter()
                .map(|(k, v)| {
                    if *k == name {
                        (*k, if active { "" } else { value })
                    } else {
                        (*k, v.as_str())
                    }
                })
                .collect();
        (href("/search", &pairs), active)
    };
    let group = |label: &'static str,
                 name: &str,
                 values: &[(String, u64)],
                 show: &dyn Fn(&str) -> String| {
        FacetGroup {
            label,
            links: values
                .iter()
                .take(15)
                .map(|(v, n)| {
                    let (href, active) = toggle(name, v);
                    FacetLink { label: show(v), count: *n, href, active }
                })
                .collect(),
        }
    };
    let Facets { member, kind, category, language } = &listing.facets;
    let mut facets = Vec::new();
    if state.agg().is_some() {
        facets.push(group(t.facet_member, "member", member, &|v| names.name(v)));
    }
    facets.push(group(t.facet_kind, "kind", kind, &|v| data::kind_label(t, v).to_owned()));
    facets.push(group(t.facet_category, "category", category, &data::category_label));
    facets.push(group(t.facet_language, "language", language, &|v| data::language_name(v, ui)));
    let dates = [("7d", t.last_7_days), ("30d", t.last_30_days), ("365d", t.last_year)];
    facets.push(FacetGroup {
        label: t.facet_date,
        links: dates
            .iter()
            .map(|(v, label)| {
                let (href, active) = toggle("from", v);
                FacetLink { label: (*label).to_owned(), count: 0, href, active }
            })
            .collect(),
    });
    let keep: Vec<(&str, &str)> = current.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let searched = !q.is_empty() || current.iter().skip(1).any(|(_, v)| !v.is_empty());
    let page = SearchPage {
        page: Chrome::new(&req, &state, lang, "search"),
        q,
        pager: pager("/search", &keep, page_no, listing.total, listing.per_page),
        total: listing.total,
        cards: listing.cards,
        searched,
        facets,
    };
    send(&req, &state, lang, StatusCode::OK, page.render())
}

// ---------------------------------------------------------------------------------------------
// Item

#[derive(Debug)]
pub(crate) struct WithdrawalView {
    heading: &'static str,
    explanation: String,
    time: String,
    datetime: String,
    redirect: Option<String>,
}

#[derive(Debug)]
pub(crate) struct LegalView {
    number: String,
    issuer: String,
    signer: String,
    issued: String,
    effective: String,
    expires: Option<String>,
}

#[derive(Debug)]
pub(crate) struct AttachmentView {
    name: String,
    href: String,
    media_type: String,
    size: String,
}

#[derive(Debug)]
pub(crate) struct Provenance {
    signer: String,
    origin: String,
    kid: String,
    signed_at: String,
    signed_dt: String,
    log_index: u64,
    /// Central only: (verifier name, time, receipt index in the national log).
    verified: Option<(String, String, u64)>,
    receipt_pending: bool,
    /// The member's (or this node's) checkpoint covering the record: size, signed, cosigned.
    checkpoint: Option<(u64, Option<String>, Option<String>)>,
    bundle: String,
}

#[derive(Debug)]
pub(crate) struct HistoryRow {
    version: u64,
    time: String,
    datetime: String,
    note: String,
    change: &'static str,
    view: String,
    diff: Option<String>,
    current: bool,
}

#[derive(Debug)]
pub(crate) struct DiffView {
    from: u64,
    to: u64,
    fields: Vec<FieldDiff>,
}

#[derive(Template)]
#[template(path = "item.html")]
struct ItemPage {
    page: Chrome,
    title: String,
    summary: String,
    content_html: String,
    content_lang: String,
    fallback: bool,
    kind: String,
    kind_label: &'static str,
    member_name: String,
    member_href: Option<String>,
    categories: Vec<(String, String)>,
    published: String,
    published_dt: String,
    updated: String,
    updated_dt: String,
    shown: u64,
    latest: u64,
    latest_href: String,
    withdrawal: Option<WithdrawalView>,
    legal: Option<LegalView>,
    attachments: Vec<AttachmentView>,
    provenance: Provenance,
    history: Vec<HistoryRow>,
    diff: Option<DiffView>,
    member_param: String,
    versions: Vec<u64>,
    diff_from: u64,
    diff_to: u64,
}

/// `a..b` (or `?from=a&to=b`): two version numbers.
fn diff_range(pairs: &[(String, String)]) -> Option<(u64, u64)> {
    if let Some(d) = param(pairs, "diff") {
        let (a, b) = d.split_once("..")?;
        return Some((a.trim().parse().ok()?, b.trim().parse().ok()?));
    }
    Some((param(pairs, "from")?.parse().ok()?, param(pairs, "to")?.parse().ok()?))
}

fn human_size(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.0} kB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

pub(crate) async fn item(
    req: HttpRequest,
    state: web::Data<National>,
    id: web::Path<String>,
) -> HttpResponse {
    let lang = LangChoice::of(&req);
    let Ok(id) = ItemId::new(id.as_str()) else { return not_found(&req, &state, lang) };
    let pairs = query_pairs(&req);
    let member = param(&pairs, "member");
    let st = state.clone();
    let found = web::block(move || -> Result<_, String> {
        let Some(h) = data::find_history(&st, member.as_deref(), &id)? else { return Ok(None) };
        let receipt = match &h.member {
            Some(_) => data::find_receipt(&st, &h.latest().signed)?,
            None => None,
        };
        let checkpoint = st.checkpoint_for(h.member.as_ref())?;
        Ok(Some((h, receipt, checkpoint)))
    })
    .await;
    let (h, receipt, checkpoint) = match found {
        Ok(Ok(Some(x))) => x,
        Ok(Ok(None)) => return not_found(&req, &state, lang),
        Ok(Err(e)) => return internal(e),
        Err(e) => return internal(e),
    };
    let names = Names::of(&state, lang.ui);
    render_item(&req, &state, lang, &pairs, h, receipt, checkpoint.as_deref(), &names)
}

#[allow(clippy::too_many_arguments)]
fn render_item(
    req: &HttpRequest,
    state: &National,
    lang: LangChoice,
    pairs: &[(String, String)],
    h: History,
    receipt: Option<(u64, portal_proto::record::Receipt)>,
    checkpoint: Option<&str>,
    names: &Names,
) -> HttpResponse {
    let ui = lang.ui;
    let t = ui.strings();
    let latest = h.latest();
    let latest_no = latest.item.version;
    let shown_no = param(pairs, "version").and_then(|v| v.parse::<u64>().ok()).unwrap_or(latest_no);
    let Some(shown) = h.versions.iter().find(|v| v.item.version == shown_no) else {
        return not_found(req, state, lang);
    };
    let id = latest.item.id.to_string();
    let member_param = h.member.as_ref().map(|m| m.to_string()).unwrap_or_default();
    let item_href = |extra: &[(&str, &str)]| {
        let mut p = vec![("member", member_param.as_str())];
        p.extend_from_slice(extra);
        href(&format!("/items/{id}"), &p)
    };
    let text = data::localize(&shown.item, ui);
    let origin = shown.item.origin.to_string();
    let (signer, member_href) = match &h.member {
        Some(m) => (names.name(m.as_str()), Some(format!("/ministries/{m}"))),
        None => (data::own_name(state, ui), None),
    };
    let withdrawal = h.withdrawal.as_ref().map(|(_, w)| withdrawal_view(w, t, ui));
    let status = match h.withdrawal.as_ref().map(|(_, w)| w.state) {
        Some(WithdrawalState::Gone) => StatusCode::GONE,
        _ => StatusCode::OK,
    };
    let legal = shown.item.legal.as_ref().map(|l| legal_view(l, ui));
    let attachment_base = match &h.member {
        Some(m) => names.url(m.as_str()).unwrap_or_default().to_owned(),
        None => String::new(),
    };
    let attachments = attachment_views(&shown.item, &attachment_base);
    let log_index = shown.item.log_index;
    let facts = checkpoint.and_then(data::note_facts).filter(|f| f.size > log_index);
    let provenance = Provenance {
        signer: signer.clone(),
        origin: origin.clone(),
        kid: shown.signed.kid().to_string(),
        signed_at: data::when(shown.item.updated, ui),
        signed_dt: shown.item.updated.to_string(),
        log_index,
        verified: receipt
            .as_ref()
            .filter(|_| shown_no == latest_no)
            .map(|(i, r)| (data::own_name(state, ui), data::when(r.time, ui), *i)),
        receipt_pending: h.member.is_some() && receipt.is_none() && shown_no == latest_no,
        checkpoint: facts.map(|f| {
            (f.size, f.time.map(|x| data::when(x, ui)), f.cosigned.map(|x| data::when(x, ui)))
        }),
        bundle: match &h.member {
            Some(m) => format!("/api/v1/national/items/{id}/bundle?member={m}"),
            None => format!("/api/v1/items/{id}/bundle"),
        },
    };
    let history = history_rows(&h, t, ui, shown_no, &item_href);
    let diff = diff_range(pairs).and_then(|(a, b)| {
        let old = h.versions.iter().find(|v| v.item.version == a)?;
        let new = h.versions.iter().find(|v| v.item.version == b)?;
        Some(DiffView {
            from: a,
            to: b,
            fields: diff::versions(&old.item, &new.item, [t.title, t.summary, t.body]),
        })
    });
    let (diff_from, diff_to) =
        diff.as_ref().map_or((latest_no.saturating_sub(1).max(1), latest_no), |d| (d.from, d.to));
    let page = ItemPage {
        page: Chrome::new(req, state, lang, "item"),
        title: text.title,
        summary: text.summary,
        // Sanitised when signed (SPEC §9.3); sanitised again here, defence in depth.
        content_html: portal_proto::html::sanitize_html(&text.content_html),
        content_lang: text.lang,
        fallback: text.fallback,
        kind: shown.item.kind.as_str().to_owned(),
        kind_label: data::kind_label(t, shown.item.kind.as_str()),
        member_name: signer,
        member_href,
        categories: shown
            .item
            .categories
            .iter()
            .map(|c| (data::category_label(c), format!("/categories/{}", crate::chrome::encode(c))))
            .collect(),
        published: data::when(shown.item.published, ui),
        published_dt: shown.item.published.to_string(),
        updated: data::when(shown.item.updated, ui),
        updated_dt: shown.item.updated.to_string(),
        shown: shown_no,
        latest: latest_no,
        latest_href: item_href(&[]),
        withdrawal,
        legal,
        attachments,
        provenance,
        history,
        diff,
        member_param,
        versions: h.versions.iter().map(|v| v.item.version).collect(),
        diff_from,
        diff_to,
    };
    send(req, state, lang, status, page.render())
}

/// The withdrawal notice of an item page.
fn withdrawal_view(w: &portal_proto::record::Withdrawal, t: &Strings, ui: Ui) -> WithdrawalView {
    WithdrawalView {
        heading: match w.state {
            WithdrawalState::Withdrawn => t.state_withdrawn,
            WithdrawalState::Redirected => t.state_redirected,
            WithdrawalState::Gone => t.state_gone,
        },
        explanation: w.explanation.clone(),
        time: data::when(w.time, ui),
        datetime: w.time.to_string(),
        redirect: w
            .redirect
            .clone()
            .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
    }
}

/// A legal document's number, issuer, signer and dates.
fn legal_view(l: &portal_proto::record::LegalMeta, ui: Ui) -> LegalView {
    LegalView {
        number: l.number.clone(),
        issuer: l.issuer.clone(),
        signer: l.signer.clone(),
        issued: data::date(&l.issued.to_string(), ui),
        effective: data::date(&l.effective.to_string(), ui),
        expires: l.expires.map(|d| data::date(&d.to_string(), ui)),
    }
}

/// The attachments of a version, linked at `base` (the member's URL on the central).
fn attachment_views(item: &portal_proto::record::ItemVersion, base: &str) -> Vec<AttachmentView> {
    item.attachments
        .iter()
        .map(|a| AttachmentView {
            name: a.name.clone(),
            href: format!("{base}/attachments/{}", a.sha256),
            media_type: a.media_type.clone(),
            size: human_size(a.size),
        })
        .collect()
}

/// A link to the item page with extra query pairs (`version`, `diff`).
type ItemHref<'a> = dyn Fn(&[(&str, &str)]) -> String + 'a;

/// The version history table: one row per version, with its view and diff links.
fn history_rows(
    h: &History,
    t: &Strings,
    ui: Ui,
    shown_no: u64,
    item_href: &ItemHref<'_>,
) -> Vec<HistoryRow> {
    h.versions
        .iter()
        .map(|v| {
            let n = v.item.version;
            let (note, change) = match &v.item.update {
                Some(u) => (
                    u.note.clone(),
                    match u.update_type {
                        UpdateType::Major => t.major,
                        UpdateType::Minor => t.minor,
                    },
                ),
                None => (t.first_publication.to_owned(), ""),
            };
            let v_s = n.to_string();
            let d = format!("{}..{n}", n.saturating_sub(1));
            HistoryRow {
                version: n,
                time: data::when(v.item.updated, ui),
                datetime: v.item.updated.to_string(),
                note,
                change,
                view: item_href(&[("version", &v_s)]),
                diff: (n > 1).then(|| item_href(&[("diff", &d)])),
                current: n == shown_no,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Federation health and incidents (central)

#[derive(Debug)]
pub(crate) struct MemberRow {
    id: String,
    name: String,
    href: String,
    active: bool,
    healthy: bool,
    followed: bool,
    last_sync: Option<String>,
    last_sync_ago: Option<String>,
    stored: u64,
    member_size: u64,
    lag_records: u64,
    checkpoint: Option<(u64, Option<String>)>,
    cosigned: Option<String>,
    push_until: Option<String>,
    failures: u32,
    last_error: Option<String>,
    open_incidents: usize,
    incidents_href: String,
}

#[derive(Template)]
#[template(path = "federation.html")]
struct FederationPage {
    page: Chrome,
    rows: Vec<MemberRow>,
    generated: String,
}

/// "5 s", "3 min", "2 h", "4 d".
fn ago(seconds: u64, ui: Ui) -> String {
    let (n, unit) = match seconds {
        s if s < 120 => (s, "s"),
        s if s < 7200 => (s / 60, "min"),
        s if s < 172_800 => (s / 3600, "h"),
        s => (s / 86_400, if ui == Ui::Vi { "ngày" } else { "d" }),
    };
    match ui {
        Ui::Vi => format!("{n} {unit} trước"),
        Ui::En => format!("{n} {unit} ago"),
    }
}

pub(crate) async fn federation(req: HttpRequest, state: web::Data<National>) -> HttpResponse {
    let lang = LangChoice::of(&req);
    if state.agg().is_none() {
        return not_found(&req, &state, lang);
    }
    let ui = lang.ui;
    let names = Names::of(&state, ui);
    let incidents = match state.incidents(None, 1000, None) {
        Ok(i) => i,
        Err(e) => return internal(e),
    };
    let now_s = now().unix();
    let rows = state
        .agg()
        .map(|a| a.health())
        .unwrap_or_default()
        .into_iter()
        .map(|(view, health, cosigned)| {
            let id = view.id.to_string();
            let health = health.unwrap_or_default();
            let followed = health.last_attempt.is_some();
            let facts = cosigned.as_deref().and_then(data::note_facts);
            let since = health.last_ok.unwrap_or(0);
            MemberRow {
                name: names.name(&id),
                href: format!("/ministries/{id}"),
                active: view.status == "active",
                healthy: health.failures == 0 && health.last_ok.is_some(),
                followed,
                last_sync: health.last_ok.map(|t| data::when(data::ts(t), ui)),
                last_sync_ago: health.last_ok.map(|t| ago(now_s.saturating_sub(t), ui)),
                stored: view.size,
                member_size: health.member_size.max(view.size),
                lag_records: health.member_size.saturating_sub(view.size),
                checkpoint: facts.as_ref().map(|f| (f.size, f.time.map(|x| data::when(x, ui)))),
                cosigned: facts.as_ref().and_then(|f| f.cosigned).map(|x| data::when(x, ui)),
                push_until: health
                    .push_lease_until
                    .filter(|u| *u > now_s)
                    .map(|t| data::when(data::ts(t), ui)),
                failures: health.failures,
                last_error: health.last_error.clone(),
                open_incidents: incidents
                    .iter()
                    .filter(|i| i.member == id && i.time >= since)
                    .count(),
                incidents_href: href("/incidents", &[("member", &id)]),
                id,
            }
        })
        .collect();
    let page = FederationPage {
        page: Chrome::new(&req, &state, lang, "federation"),
        rows,
        generated: data::when(Timestamp::from_unix(now_s).unwrap_or(Timestamp::EPOCH), ui),
    };
    send(&req, &state, lang, StatusCode::OK, page.render())
}

#[derive(Debug)]
pub(crate) struct IncidentRow {
    seq: u64,
    member: String,
    member_name: String,
    code: String,
    message: String,
    time: String,
    datetime: String,
    evidence: String,
    json: String,
}

#[derive(Template)]
#[template(path = "incidents.html")]
struct IncidentsPage {
    page: Chrome,
    rows: Vec<IncidentRow>,
    member: String,
    members: Vec<(String, String, bool)>,
    older: Option<String>,
}

const INCIDENTS_PER_PAGE: usize = 50;

pub(crate) async fn incidents(req: HttpRequest, state: web::Data<National>) -> HttpResponse {
    let lang = LangChoice::of(&req);
    if state.agg().is_none() {
        return not_found(&req, &state, lang);
    }
    let ui = lang.ui;
    let pairs = query_pairs(&req);
    let member = param(&pairs, "member").unwrap_or_default();
    let before = param(&pairs, "before").and_then(|b| b.parse::<u64>().ok());
    let list = state.incidents(
        before,
        INCIDENTS_PER_PAGE,
        Some(member.as_str()).filter(|m| !m.is_empty()),
    );
    let list = match list {
        Ok(l) => l,
        Err(e) => return internal(e),
    };
    let names = Names::of(&state, ui);
    let older = (list.len() == INCIDENTS_PER_PAGE)
        .then(|| list.last().map(|i| i.seq))
        .flatten()
        .map(|seq| href("/incidents", &[("member", &member), ("before", &seq.to_string())]));
    let rows = list
        .into_iter()
        .map(|i| IncidentRow {
            json: href(
                "/api/v1/incidents",
                &[("member", &i.member), ("before", &(i.seq + 1).to_string()), ("limit", "1")],
            ),
            member_name: names.name(&i.member),
            time: data::when(data::ts(i.time), ui),
            datetime: data::ts(i.time).to_string(),
            evidence: serde_json::to_string_pretty(&i.evidence).unwrap_or_default(),
            seq: i.seq,
            member: i.member,
            code: i.code,
            message: i.message,
        })
        .collect();
    let members = names
        .all()
        .map(|(id, name)| (href("/incidents", &[("member", id)]), name.clone(), *id == member))
        .collect();
    let page = IncidentsPage {
        page: Chrome::new(&req, &state, lang, "incidents"),
        rows,
        member,
        members,
        older,
    };
    send(&req, &state, lang, StatusCode::OK, page.render())
}

// ---------------------------------------------------------------------------------------------
// Not found

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundPage {
    page: Chrome,
}

pub(crate) fn not_found(req: &HttpRequest, state: &National, lang: LangChoice) -> HttpResponse {
    let page = NotFoundPage { page: Chrome::new(req, state, lang, "") };
    send(req, state, lang, StatusCode::NOT_FOUND, page.render())
}
