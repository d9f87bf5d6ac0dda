//! The thin server: composes the rooms into one actix app ([`app`]) and runs it ([`serve`]).
//!
//! Each room registers its own routes with its own state: the publisher (descriptor, log,
//! feeds, items, editor API), the hub (`/websub`), the aggregator (national view and member
//! API; it builds an aggregator only once the node has members) and the web portal (pages).
//! This crate only wires them together, serves `/metrics` (every room's counters), starts the
//! background work (hub worker, heartbeat checkpoints, following members) once the server
//! listens, and stops it on Ctrl-C or SIGTERM. Rooms to come (the newsroom, the citizens'
//! inbox, the outbox of alerts) join here the same way.
#![deny(missing_docs)]

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use actix_web::{HttpResponse, web};
use portal_aggregator::National;
use portal_hub::Hub;
use portal_publisher::{Node, Publisher};

/// Every room's state, built once per server and shared by its workers.
#[derive(Debug, Clone)]
pub struct Rooms {
    /// The publisher: the node's own log, feeds and editor API.
    pub publisher: Arc<Publisher>,
    /// The WebSub hub.
    pub hub: Arc<Hub>,
    /// The aggregator's room (national view), with an aggregator once the node has members.
    pub national: Arc<National>,
}

impl Rooms {
    /// The rooms of `node`, accepting the editors' admin token and `extra_tokens` (the local
    /// CLI token).
    pub fn new(node: Arc<Node>, extra_tokens: &[String]) -> std::io::Result<Rooms> {
        // The descriptor declares the aggregator's endpoints once the node has members; the
        // publisher asks the aggregator's room, built after it, through this slot. The slot is
        // weak: the room holds the publisher, so a strong one would keep both (and the node's
        // store) alive for ever.
        let slot: Arc<OnceLock<Weak<National>>> = Arc::new(OnceLock::new());
        let national_slot = Arc::clone(&slot);
        let is_aggregator =
            move || national_slot.get().and_then(Weak::upgrade).is_some_and(|n| n.agg().is_some());
        let publisher =
            Arc::new(Publisher::new(Arc::clone(&node), extra_tokens, Box::new(is_aggregator)));
        let national =
            Arc::new(National::new(Arc::clone(&publisher)).map_err(std::io::Error::other)?);
        let _ = slot.set(Arc::downgrade(&national));
        let hub = Hub::new(node);
        Ok(Rooms { publisher, hub, national })
    }
}

/// Register every room's routes on an actix `App`.
pub fn app(cfg: &mut web::ServiceConfig, rooms: &Rooms) {
    let config = &rooms.publisher.node.config;
    cfg.app_data(web::Data::from(Arc::clone(&rooms.publisher)))
        .app_data(web::Data::from(Arc::clone(&rooms.national)))
        .app_data(web::Data::from(Arc::clone(&rooms.hub)))
        .route(portal_proto::api::paths::METRICS, web::get().to(metrics));
    portal_publisher::http::routes(cfg, config.max_draft_bytes, config.max_attachment_bytes);
    portal_aggregator::routes(cfg);
    portal_web::routes(cfg);
    portal_hub::routes(cfg);
}

/// `GET /metrics`: the node's, the hub's and the aggregator's counters (Prometheus text).
async fn metrics(
    publisher: web::Data<Publisher>,
    hub: web::Data<Hub>,
    national: web::Data<National>,
) -> Result<HttpResponse, portal_http::ApiError> {
    let node = &publisher.node;
    let mut body = node.metrics.render(node.store.size(), node.refusal().is_some());
    let gauges = hub.gauges().map_err(portal_http::ApiError::internal)?;
    body.push_str(&node.metrics.render_websub(&gauges));
    body.push_str(&national.render_metrics());
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(body))
}

/// Serve `node` on `listen` until Ctrl-C or SIGTERM; heartbeat checkpoints and run the WebSub
/// hub meanwhile. `workers`: HTTP worker threads (default: one per CPU).
pub async fn serve(node: Arc<Node>, listen: &str, workers: Option<usize>) -> std::io::Result<()> {
    serve_until(node, listen, workers, std::future::pending()).await
}

/// [`serve`], also stopping gracefully when `stop` completes: for several nodes in one process
/// (`portal demo`), where one failing must stop the others.
pub async fn serve_until(
    node: Arc<Node>,
    listen: &str,
    workers: Option<usize>,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let extra: Vec<String> = portal_publisher::local_token(&node.dir).into_iter().collect();
    let rooms = Rooms::new(Arc::clone(&node), &extra)?;
    let app_rooms = rooms.clone();
    let server = actix_web::HttpServer::new(move || {
        let rooms = app_rooms.clone();
        // No Compress middleware: the rooms serve gzip themselves, from bytes compressed once
        // per rendered resource and with their own ETag, instead of per response.
        actix_web::App::new().configure(move |cfg| app(cfg, &rooms))
    })
    .workers(
        workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1),
    )
    .bind(listen)?
    .shutdown_timeout(10);
    let hub_tasks = rooms.hub.start().map_err(std::io::Error::other)?;
    // Members are followed once the server listens (their pushes arrive on it).
    rooms.national.start();
    for addr in server.addrs() {
        tracing::info!("node {} listening on http://{addr}", node.config.id);
        // Tests and scripts read this line to find the port when listening on port 0.
        println!("listening on http://{addr}");
    }
    if let Some(addr) = server.addrs().first() {
        let _ = portal_publisher::write_serve_addr(&node.dir, &addr.to_string());
    }
    let heartbeat_node = Arc::clone(&node);
    let period = Duration::from_secs((node.config.heartbeat_seconds / 2).max(1));
    let heartbeat = tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.tick().await;
        loop {
            tick.tick().await;
            heartbeat_node.heartbeat();
        }
    });
    // actix-web stops gracefully on SIGINT and SIGTERM (in-flight requests finish).
    let server = server.run();
    let handle = server.handle();
    let mut server = std::pin::pin!(server);
    let result = tokio::select! {
        result = &mut server => result,
        () = stop => {
            // The server future must be polled while the stop is awaited: it is what answers
            // the handle's command (awaiting the stop alone never returns).
            let (_, result) = tokio::join!(handle.stop(true), &mut server);
            result
        }
    };
    rooms.national.stop();
    heartbeat.abort();
    drop(hub_tasks);
    let _ = std::fs::remove_file(node.dir.serve_addr());
    tracing::info!("node {} stopped", node.config.id);
    result
}
