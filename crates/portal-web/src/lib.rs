//! The web portal: server-rendered HTML pages for citizens, working without JavaScript.
//!
//! Every node serves its own pages at `/`; the central node (a node with members) serves the
//! national view there. Pages are askama templates (`crates/portal-web/templates/`), checked
//! at compile time and HTML-escaped by default; the only raw HTML they insert is content
//! sanitised again here with the protocol's allowlist ([`portal_proto::html::sanitize_html`])
//! and search snippets reduced to `<mark>` by ammonia.
//!
//! | path | page |
//! |---|---|
//! | `/` | home: urgent alerts first, then the latest items (all members on the central) |
//! | `/ministries/{id}` | one member's items (central) |
//! | `/categories/{slug}`, `/kinds/{kind}` | items of a category, of a kind |
//! | `/items/{id}` (`?member=ID` on the central) | an item: content, provenance, history; `?version=N`, `?diff=A..B` |
//! | `/search?q=…` | search with facets (`member`, `kind`, `category`, `language`, `from`) and pages |
//! | `/federation`, `/incidents` | the federation health board and incidents (central) |
//! | `/static/portal.<hash>.css` | the stylesheet, immutable |
//!
//! Language: Vietnamese by default; `?lang=en` (or `?lang=vi`) on any page switches and sets
//! a `lang` cookie that later pages follow. Every page is sent with a strict
//! `Content-Security-Policy` (no script at all, styles only from this origin), a strong ETag
//! (`If-None-Match` → 304) and `Vary: Cookie`.

#![deny(missing_docs)]

mod chrome;
mod data;
mod diff;
mod i18n;
mod pages;

use actix_web::web;

pub use chrome::CSP;

/// Register the pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(pages::home))
        .route("/ministries/{id}", web::get().to(pages::ministry))
        .route("/categories/{slug}", web::get().to(pages::category))
        .route("/kinds/{kind}", web::get().to(pages::kind))
        .route("/items/{id}", web::get().to(pages::item))
        .route("/search", web::get().to(pages::search))
        .route("/federation", web::get().to(pages::federation))
        .route("/incidents", web::get().to(pages::incidents))
        .route("/static/{name}", web::get().to(chrome::stylesheet));
}
