//! Counters for `GET /metrics` (Prometheus text format 0.0.4), written by hand: a few atomics
//! do not need a metrics framework.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// The node's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    published: AtomicU64,
    publish_refused: AtomicU64,
    unauthorized: AtomicU64,
    requests: AtomicU64,
    not_modified: AtomicU64,
    websub_delivered: AtomicU64,
    websub_failed: AtomicU64,
}

/// The WebSub hub's state for `/metrics` (gauges read from the store).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HubGauges {
    /// Subscriptions whose lease runs.
    pub subscriptions_active: u64,
    /// Deliveries waiting for an attempt.
    pub deliveries_pending: u64,
    /// Dead letters.
    pub deliveries_dead: u64,
}

impl Metrics {
    /// Count one `published` event.
    pub fn published(&self) {
        self.published.fetch_add(1, Ordering::Relaxed);
    }
    /// Count one `publish_refused` event.
    pub fn publish_refused(&self) {
        self.publish_refused.fetch_add(1, Ordering::Relaxed);
    }
    /// Count one `unauthorized` event.
    pub fn unauthorized(&self) {
        self.unauthorized.fetch_add(1, Ordering::Relaxed);
    }
    /// Count one `request` event.
    pub fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }
    /// Count one `not_modified` event.
    pub fn not_modified(&self) {
        self.not_modified.fetch_add(1, Ordering::Relaxed);
    }
    /// Count one `websub_delivered` event.
    pub fn websub_delivered(&self) {
        self.websub_delivered.fetch_add(1, Ordering::Relaxed);
    }
    /// Count one `websub_failed` event.
    pub fn websub_failed(&self) {
        self.websub_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// The WebSub hub's exposition text: the gauges given and the delivery counters.
    pub fn render_websub(&self, gauges: &HubGauges) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        };
        metric(
            "portal_websub_subscriptions_active",
            "gauge",
            "WebSub subscriptions verified and within their lease.",
            gauges.subscriptions_active,
        );
        metric(
            "portal_websub_deliveries_pending",
            "gauge",
            "WebSub deliveries waiting for an attempt.",
            gauges.deliveries_pending,
        );
        metric(
            "portal_websub_deliveries_dead",
            "gauge",
            "WebSub deliveries given up after the last attempt (dead letters).",
            gauges.deliveries_dead,
        );
        metric(
            "portal_websub_delivered_total",
            "counter",
            "WebSub deliveries acknowledged with 2xx.",
            self.websub_delivered.load(Ordering::Relaxed),
        );
        metric(
            "portal_websub_delivery_failures_total",
            "counter",
            "WebSub delivery attempts that failed (non-2xx, timeout, connection error).",
            self.websub_failed.load(Ordering::Relaxed),
        );
        out
    }

    /// The exposition text, with the current log size.
    pub fn render(&self, log_size: u64, refusing: bool) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        };
        metric("portal_log_size", "gauge", "Entries in the node's log.", log_size);
        metric(
            "portal_publishes_total",
            "counter",
            "Entries signed and stored.",
            self.published.load(Ordering::Relaxed),
        );
        metric(
            "portal_publish_refused_total",
            "counter",
            "Drafts and withdrawals refused.",
            self.publish_refused.load(Ordering::Relaxed),
        );
        metric(
            "portal_unauthorized_total",
            "counter",
            "Editor API requests with a missing or wrong token.",
            self.unauthorized.load(Ordering::Relaxed),
        );
        metric(
            "portal_http_requests_total",
            "counter",
            "HTTP requests served.",
            self.requests.load(Ordering::Relaxed),
        );
        metric(
            "portal_http_not_modified_total",
            "counter",
            "Conditional GETs answered 304.",
            self.not_modified.load(Ordering::Relaxed),
        );
        metric(
            "portal_signing_refused",
            "gauge",
            "1 while the node refuses to sign (store behind its key's history).",
            u64::from(refusing),
        );
        out
    }
}
