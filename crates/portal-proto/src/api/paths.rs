//! Every path a node serves (SPEC.md §8), written once: the router registers these, the
//! descriptor declares them ([`descriptor_endpoints`]), and test fixtures and the bench build
//! their fakes from the same table.
//!
//! Paths with a parameter use the router's template syntax (`{id}`, `{n}`); the descriptor
//! declares `witness` and `member-log` as such templates, and [`expand`] fills one in.

use std::collections::BTreeMap;

/// The signed descriptor (SPEC.md §4.4); not itself in the descriptor.
pub const DESCRIPTOR: &str = "/.well-known/portal-node";
/// Liveness (`200` with [`NodeHealth`](super::federation::NodeHealth)).
pub const HEALTHZ: &str = "/healthz";
/// Prometheus text format.
pub const METRICS: &str = "/metrics";
/// Log pages ([`LogPage`](super::log::LogPage)).
pub const LOG: &str = "/api/v1/log";
/// The latest signed checkpoint note.
pub const CHECKPOINT: &str = "/api/v1/checkpoint";
/// Inclusion proofs ([`InclusionProof`](super::log::InclusionProof)).
pub const INCLUSION_PROOF: &str = "/api/v1/proof/inclusion";
/// Consistency proofs ([`ConsistencyProof`](super::log::ConsistencyProof)).
pub const CONSISTENCY_PROOF: &str = "/api/v1/proof/consistency";
/// `POST` a draft; also the `items` endpoint, below which [`ITEM`] lives.
pub const ITEMS: &str = "/api/v1/items";
/// An item's history ([`ItemHistory`](super::items::ItemHistory)).
pub const ITEM: &str = "/api/v1/items/{id}";
/// An item's page (HTML), the `url` of its feed entries; the web portal serves it.
pub const ITEM_PAGE: &str = "/items/{id}";
/// An item's evidence bundle (SPEC.md §11.4).
pub const ITEM_BUNDLE: &str = "/api/v1/items/{id}/bundle";
/// `POST` a withdrawal request.
pub const ITEM_WITHDRAW: &str = "/api/v1/items/{id}/withdraw";
/// `POST` attachment bytes ([`Uploaded`](super::items::Uploaded)).
pub const UPLOAD: &str = "/api/v1/attachments";
/// Attachment bytes, by SHA-256.
pub const ATTACHMENT: &str = "/attachments/{sha256}";
/// The latest Atom page.
pub const ATOM: &str = "/feeds/atom";
/// The latest JSON Feed page.
pub const JSON_FEED: &str = "/feeds/json";
/// An Atom archive.
pub const ATOM_ARCHIVE: &str = "/feeds/atom/archive/{n}";
/// A JSON Feed archive.
pub const JSON_FEED_ARCHIVE: &str = "/feeds/json/archive/{n}";
/// The WebSub hub (SPEC.md §10).
pub const WEBSUB: &str = "/websub";
/// Operators: subscriptions, pending deliveries and dead letters.
pub const ADMIN_DELIVERIES: &str = "/api/v1/admin/deliveries";
/// Aggregators: the signed roster.
pub const ROSTER: &str = "/api/v1/roster";
/// Aggregators: members with their sync health
/// ([`MemberHealthList`](super::federation::MemberHealthList)).
pub const MEMBERS: &str = "/api/v1/members";
/// Aggregators: a member's latest checkpoint, cosigned.
pub const WITNESS: &str = "/api/v1/members/{id}/checkpoint";
/// Aggregators: the stored copy of a member's log ([`LogPage`](super::log::LogPage)).
pub const MEMBER_LOG: &str = "/api/v1/members/{id}/log";
/// Aggregators: incidents ([`IncidentList`](super::federation::IncidentList)).
pub const INCIDENTS: &str = "/api/v1/incidents";
/// Aggregators: the national log ([`NationalLogPage`](super::log::NationalLogPage)).
pub const NATIONAL_LOG: &str = "/api/v1/national/log";
/// Aggregators: every member's history of an item ([`NationalItem`](super::items::NationalItem)).
pub const NATIONAL_ITEM: &str = "/api/v1/national/items/{id}";
/// Aggregators: a member's evidence bundle for an item.
pub const NATIONAL_ITEM_BUNDLE: &str = "/api/v1/national/items/{id}/bundle";
/// Aggregators: full-text search.
pub const NATIONAL_SEARCH: &str = "/api/v1/national/search";
/// Aggregators: the national Atom feed.
pub const NATIONAL_ATOM: &str = "/feeds/national/atom";
/// Aggregators: the national JSON Feed.
pub const NATIONAL_JSON_FEED: &str = "/feeds/national/json";
/// Aggregators: a national Atom archive.
pub const NATIONAL_ATOM_ARCHIVE: &str = "/feeds/national/atom/archive/{n}";
/// Aggregators: a national JSON Feed archive.
pub const NATIONAL_JSON_FEED_ARCHIVE: &str = "/feeds/national/json/archive/{n}";
/// Operators of an aggregator: add a member (`POST`), list them (`GET`,
/// [`MemberList`](super::federation::MemberList)).
pub const ADMIN_MEMBERS: &str = "/api/v1/admin/members";
/// Operators: remove a member (`DELETE`).
pub const ADMIN_MEMBER: &str = "/api/v1/admin/members/{id}";
/// Operators: suspend a member (`POST`).
pub const ADMIN_MEMBER_SUSPEND: &str = "/api/v1/admin/members/{id}/suspend";
/// Operators: activate a member (`POST`).
pub const ADMIN_MEMBER_ACTIVATE: &str = "/api/v1/admin/members/{id}/activate";
/// Aggregators: the WebSub subscriber callback for a member's hub.
pub const WEBSUB_CALLBACK: &str = "/websub/callback/{member}";

/// An HTTP method of a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `DELETE`.
    Delete,
}

/// Which nodes serve a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Scope {
    /// Every node.
    Node,
    /// Nodes with members (aggregators); the others answer `404 not-an-aggregator` and
    /// declare none of these endpoints.
    Aggregator,
}

/// One route of the HTTP interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// Its method.
    pub method: Method,
    /// Its path (a template when it has a parameter).
    pub path: &'static str,
    /// Its name in the descriptor's `endpoints`, if it is declared there.
    pub name: Option<&'static str>,
    /// Which nodes serve it.
    pub scope: Scope,
}

const fn route(method: Method, path: &'static str, name: Option<&'static str>) -> Route {
    Route { method, path, name, scope: Scope::Node }
}

const fn aggregator(method: Method, path: &'static str, name: Option<&'static str>) -> Route {
    Route { method, path, name, scope: Scope::Aggregator }
}

use Method::{Delete, Get, Post};

/// Every route of the protocol's interface, in the order of SPEC.md §8: the JSON, feed and
/// admin routes and the item page (the web portal's other HTML pages are not part of the
/// protocol and are not listed).
pub const ROUTES: &[Route] = &[
    route(Get, DESCRIPTOR, None),
    route(Get, LOG, Some("log")),
    route(Get, CHECKPOINT, Some("checkpoint")),
    route(Get, INCLUSION_PROOF, Some("inclusion-proof")),
    route(Get, CONSISTENCY_PROOF, Some("consistency-proof")),
    route(Get, ITEM, None),
    route(Get, ITEM_PAGE, None),
    route(Get, ITEM_BUNDLE, None),
    route(Get, ATOM, Some("atom")),
    route(Get, ATOM_ARCHIVE, None),
    route(Get, JSON_FEED, Some("json-feed")),
    route(Get, JSON_FEED_ARCHIVE, None),
    route(Post, WEBSUB, Some("websub-hub")),
    route(Post, ITEMS, Some("items")),
    route(Post, ITEM_WITHDRAW, None),
    route(Post, UPLOAD, None),
    route(Get, ATTACHMENT, None),
    route(Get, ADMIN_DELIVERIES, None),
    aggregator(Get, ROSTER, Some("roster")),
    aggregator(Get, WITNESS, Some("witness")),
    aggregator(Get, MEMBER_LOG, Some("member-log")),
    aggregator(Get, NATIONAL_LOG, Some("national-log")),
    aggregator(Get, NATIONAL_ATOM, Some("national-atom")),
    aggregator(Get, NATIONAL_ATOM_ARCHIVE, None),
    aggregator(Get, NATIONAL_JSON_FEED, Some("national-json-feed")),
    aggregator(Get, NATIONAL_JSON_FEED_ARCHIVE, None),
    aggregator(Get, NATIONAL_ITEM, None),
    aggregator(Get, NATIONAL_ITEM_BUNDLE, None),
    aggregator(Get, NATIONAL_SEARCH, None),
    aggregator(Get, MEMBERS, None),
    aggregator(Get, INCIDENTS, None),
    aggregator(Post, ADMIN_MEMBERS, None),
    aggregator(Get, ADMIN_MEMBERS, None),
    aggregator(Post, ADMIN_MEMBER_SUSPEND, None),
    aggregator(Post, ADMIN_MEMBER_ACTIVATE, None),
    aggregator(Delete, ADMIN_MEMBER, None),
    aggregator(Get, WEBSUB_CALLBACK, None),
    aggregator(Post, WEBSUB_CALLBACK, None),
    route(Get, HEALTHZ, None),
    route(Get, METRICS, None),
];

/// The path of the endpoint the descriptor declares as `name`, if there is one.
pub fn named(name: &str) -> Option<&'static str> {
    ROUTES.iter().find(|r| r.name == Some(name)).map(|r| r.path)
}

/// The descriptor's `endpoints` (SPEC.md §4.4, §8) of a node served at `base` (no trailing
/// slash): each declared route's name → `{base}{path}`, the aggregators' ones only when
/// `aggregator` (a node with members).
pub fn descriptor_endpoints(base: &str, aggregator: bool) -> BTreeMap<String, String> {
    ROUTES
        .iter()
        .filter(|r| aggregator || r.scope == Scope::Node)
        .filter_map(|r| r.name.map(|name| (name.to_owned(), format!("{base}{}", r.path))))
        .collect()
}

/// `template` with its one `{…}` parameter replaced by `value` (`expand(ITEM, "abc")` is
/// `/api/v1/items/abc`); a path without a parameter comes back unchanged. `value` is inserted
/// as given: percent-encode it first if it may hold reserved characters (node ids, item ids,
/// digests and numbers never do).
pub fn expand(template: &str, value: &str) -> String {
    match (template.find('{'), template.find('}')) {
        (Some(open), Some(close)) if open < close => {
            format!("{}{value}{}", &template[..open], &template[close + 1..])
        }
        _ => template.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_descriptor_of_a_node_and_of_an_aggregator() {
        let node = descriptor_endpoints("https://byt.gov.vn", false);
        let names: Vec<&str> = node.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "atom",
                "checkpoint",
                "consistency-proof",
                "inclusion-proof",
                "items",
                "json-feed",
                "log",
                "websub-hub"
            ]
        );
        assert_eq!(node["log"], "https://byt.gov.vn/api/v1/log");
        let central = descriptor_endpoints("https://gov.vn", true);
        assert_eq!(central.len(), 14);
        assert_eq!(central["witness"], "https://gov.vn/api/v1/members/{id}/checkpoint");
        assert_eq!(central["national-json-feed"], "https://gov.vn/feeds/national/json");
    }

    #[test]
    fn routes_are_unique_and_named_once() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!((a.method, a.path) != (b.method, b.path), "{a:?} twice");
                assert!(a.name.is_none() || a.name != b.name, "{:?} names two routes", a.name);
            }
            assert!(a.path.starts_with('/'), "{a:?}");
        }
        assert_eq!(named("member-log"), Some(MEMBER_LOG));
        assert_eq!(named("nope"), None);
    }

    #[test]
    fn templates_expand() {
        assert_eq!(expand(ITEM, "abc"), "/api/v1/items/abc");
        assert_eq!(expand(WITNESS, "bo-y-te"), "/api/v1/members/bo-y-te/checkpoint");
        assert_eq!(expand(LOG, "x"), LOG);
    }
}
