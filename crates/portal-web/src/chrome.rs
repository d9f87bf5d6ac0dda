//! What every page shares: the language choice, links, the page chrome (header, navigation,
//! footer), the stylesheet, the CSP and sending a rendered page.

use std::sync::LazyLock;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use portal_proto::ids::Digest;

use crate::data;
use crate::i18n::{Strings, Ui};
use portal_aggregator::National;

/// A failure inside a page handler: logged, and answered with the one API error.
pub(crate) fn internal(e: impl std::fmt::Display) -> HttpResponse {
    portal_http::ApiError::internal(e).into()
}

/// The policy every page is served with: nothing runs, styles come only from this origin,
/// images from this origin or the web (content may show images by URL), forms submit here.
pub const CSP: &str = "default-src 'none'; script-src 'none'; style-src 'self'; \
     img-src 'self' https: http:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The stylesheet, compiled in.
const CSS: &str = include_str!("../static/portal.css");

/// The stylesheet's path, named by its content hash so it can be cached forever.
static CSS_PATH: LazyLock<String> =
    LazyLock::new(|| format!("/static/portal.{}.css", &Digest::of(CSS.as_bytes()).as_str()[..16]));

pub(crate) async fn stylesheet(
    req: HttpRequest,
    state: web::Data<National>,
    name: web::Path<String>,
) -> HttpResponse {
    if format!("/static/{name}") != *CSS_PATH {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("no such file; the stylesheet's name changes with its content");
    }
    let r = portal_http::render(CSS.as_bytes().to_vec(), None);
    state.conditional(&req, "text/css; charset=utf-8", &r, portal_http::IMMUTABLE)
}

/// The interface language of a request, and whether the request chose it (`?lang=`), in
/// which case the response remembers it in a cookie.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LangChoice {
    pub(crate) ui: Ui,
    pub(crate) chosen: bool,
}

impl LangChoice {
    pub(crate) fn of(req: &HttpRequest) -> LangChoice {
        let asked = query_pairs(req)
            .into_iter()
            .find(|(k, _)| k == "lang")
            .and_then(|(_, v)| Ui::parse(&v));
        if let Some(ui) = asked {
            return LangChoice { ui, chosen: true };
        }
        // `Cookie: a=b; lang=en` (actix's cookie feature is off: one cookie is read by hand).
        let cookie = req
            .headers()
            .get_all(header::COOKIE)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().strip_prefix("lang="))
            .find_map(Ui::parse);
        LangChoice { ui: cookie.unwrap_or(Ui::Vi), chosen: false }
    }
}

/// The decoded query pairs of a request, in order (unparseable queries give none).
pub(crate) fn query_pairs(req: &HttpRequest) -> Vec<(String, String)> {
    web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default()
}

/// Percent-encode a query component (RFC 3986 unreserved characters kept).
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `path` with the query `pairs` (empty values left out).
pub(crate) fn href(path: &str, pairs: &[(&str, &str)]) -> String {
    let q: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    if q.is_empty() { path.to_owned() } else { format!("{path}?{}", q.join("&")) }
}

/// A link in the main navigation.
#[derive(Debug, Clone)]
pub(crate) struct NavLink {
    pub(crate) href: String,
    pub(crate) label: &'static str,
    pub(crate) current: bool,
}

/// What every page's frame needs: language, site name, navigation, the search box.
#[derive(Debug)]
pub(crate) struct Chrome {
    pub(crate) t: &'static Strings,
    pub(crate) lang: &'static str,
    pub(crate) other_lang: &'static str,
    pub(crate) switch_href: String,
    pub(crate) site_name: String,
    pub(crate) kicker: &'static str,
    pub(crate) css: &'static str,
    pub(crate) central: bool,
    pub(crate) query: String,
    pub(crate) nav: Vec<NavLink>,
    pub(crate) feed: &'static str,
}

impl Chrome {
    pub(crate) fn new(
        req: &HttpRequest,
        state: &National,
        lang: LangChoice,
        section: &str,
    ) -> Chrome {
        let ui = lang.ui;
        let t = ui.strings();
        let central = state.agg().is_some();
        let pairs = query_pairs(req);
        let mut switch: Vec<(&str, &str)> = pairs
            .iter()
            .filter(|(k, _)| k != "lang")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        switch.push(("lang", ui.other().code()));
        let query = if section == "search" {
            pairs.iter().find(|(k, _)| k == "q").map(|(_, v)| v.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        let mut nav = vec![NavLink { href: "/".into(), label: t.home, current: section == "home" }];
        for (kind, label) in [
            ("news", t.kind_news),
            ("announcement", t.kind_announcement),
            ("legal", t.kind_legal),
            ("alert", t.kind_alert),
        ] {
            nav.push(NavLink {
                href: format!("/kinds/{kind}"),
                label,
                current: section == format!("kind:{kind}"),
            });
        }
        if central {
            nav.push(NavLink {
                href: "/federation".into(),
                label: t.federation,
                current: section == "federation",
            });
            nav.push(NavLink {
                href: "/incidents".into(),
                label: t.incidents,
                current: section == "incidents",
            });
        }
        Chrome {
            t,
            lang: ui.code(),
            other_lang: ui.other().code(),
            switch_href: href(req.path(), &switch),
            site_name: data::own_name(state, ui),
            kicker: if central { t.national_kicker } else { t.portal_kicker },
            css: CSS_PATH.as_str(),
            central,
            query,
            nav,
            feed: if central { "/feeds/national/atom" } else { "/feeds/atom" },
        }
    }
}

/// Send a rendered page: ETag and 304, the CSP and the other safety headers, the language
/// cookie when the request chose one.
pub(crate) fn send(
    req: &HttpRequest,
    state: &National,
    lang: LangChoice,
    status: StatusCode,
    body: Result<String, askama::Error>,
) -> HttpResponse {
    state.node.metrics.request();
    let body = match body {
        Ok(b) => b,
        Err(e) => return internal(format!("rendering a page: {e}")),
    };
    let mut resp = if status == StatusCode::OK {
        let r = portal_http::render(body.into_bytes(), None);
        state.conditional(req, "text/html; charset=utf-8", &r, "no-cache")
    } else {
        let mut resp = HttpResponse::build(status);
        resp.insert_header((header::CACHE_CONTROL, "no-cache"));
        resp.content_type("text/html; charset=utf-8").body(body)
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(lang.ui.code()));
    h.append(header::VARY, HeaderValue::from_static("cookie"));
    if lang.chosen
        && let Ok(v) = HeaderValue::from_str(&format!(
            "lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
            lang.ui.code()
        ))
    {
        h.insert(header::SET_COOKIE, v);
    }
    resp
}
