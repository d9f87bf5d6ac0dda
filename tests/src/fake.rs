//! The one fake HTTP server of the tests and the bench: raw HTTP/1.1 on tokio, on 127.0.0.1
//! port 0, answering what it is told per path (or by a handler), including what no
//! well-behaved framework would let a test send: stalls, drips, endless and truncated bodies,
//! redirects anywhere. It records every request with the status it answered, and counts the
//! connections it accepted (a canary: "refused before connecting" means zero).
//!
//! ```no_run
//! # async fn demo() {
//! use portal_tests::fake::{FakeServer, Reply};
//! let server = FakeServer::start().await;
//! server.route("/.well-known/portal-node", Reply::json(b"{}".to_vec()));
//! server.route("/slow", Reply::drip(vec![b' '; 100], std::time::Duration::from_secs(1)));
//! assert_eq!(server.accepted(), 0);
//! # }
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the server answers one request with.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A complete response. `Content-Length` is sent unless `until_eof` (then the body runs
    /// until the connection closes); with `cut_after`, only that many body bytes are sent
    /// before the connection closes (a body cut mid-way).
    Full {
        /// The status code.
        status: u16,
        /// Header lines besides `Content-Length` and `Connection`.
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
        /// No `Content-Length`: the body ends when the connection closes.
        until_eof: bool,
        /// Close the connection after this many body bytes.
        cut_after: Option<usize>,
    },
    /// `200` announcing the body's length, then one byte of it every `every`.
    Drip {
        /// The `Content-Type`.
        content_type: String,
        /// The body, sent a byte at a time.
        body: Vec<u8>,
        /// The pause before each byte.
        every: Duration,
    },
    /// `200` without a length, `chunk` written again and again until the peer goes away.
    Endless {
        /// The `Content-Type`.
        content_type: String,
        /// What is written, over and over.
        chunk: Vec<u8>,
    },
    /// Read the request and never answer (the connection is held for `for_at_most`).
    Stall {
        /// How long the connection is held before it is dropped.
        for_at_most: Duration,
    },
}

impl Reply {
    /// `status` with the given `Content-Type` and body.
    pub fn with(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply::Full {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
            until_eof: false,
            cut_after: None,
        }
    }

    /// `200` with the given `Content-Type` and body.
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply::with(200, content_type, body)
    }

    /// `200`, `application/json`.
    pub fn json(body: impl Into<Vec<u8>>) -> Reply {
        Reply::ok("application/json", body)
    }

    /// `status` with the body `{}` and no `Content-Type`.
    pub fn status(status: u16) -> Reply {
        Reply::Full {
            status,
            headers: vec![],
            body: b"{}".to_vec(),
            until_eof: false,
            cut_after: None,
        }
    }

    /// `302 Found` to `location`.
    pub fn redirect(location: &str) -> Reply {
        Reply::Full {
            status: 302,
            headers: vec![("Location".into(), location.into())],
            body: vec![],
            until_eof: false,
            cut_after: None,
        }
    }

    /// `200` (`application/json`) announcing `body`'s length, then a byte every `every`.
    pub fn drip(body: impl Into<Vec<u8>>, every: Duration) -> Reply {
        Reply::Drip { content_type: "application/json".into(), body: body.into(), every }
    }

    /// An endless `200` body of `chunk` again and again.
    pub fn endless(content_type: &str, chunk: impl Into<Vec<u8>>) -> Reply {
        Reply::Endless { content_type: content_type.into(), chunk: chunk.into() }
    }

    /// No answer at all (for two minutes, longer than any test waits).
    pub fn stall() -> Reply {
        Reply::Stall { for_at_most: Duration::from_secs(120) }
    }

    /// This reply with one more header line (a `Full` reply only).
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        if let Reply::Full { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }

    /// This reply with its body running until the connection closes (no `Content-Length`).
    pub fn until_eof(mut self) -> Reply {
        if let Reply::Full { until_eof, .. } = &mut self {
            *until_eof = true;
        }
        self
    }

    /// This reply with the connection closed after `n` bytes of its body.
    pub fn cut_after(mut self, n: usize) -> Reply {
        if let Reply::Full { cut_after, .. } = &mut self {
            *cut_after = Some(n);
        }
        self
    }

    /// The status this reply starts with (0 for a stall: nothing is answered).
    pub fn status_code(&self) -> u16 {
        match self {
            Reply::Full { status, .. } => *status,
            Reply::Drip { .. } | Reply::Endless { .. } => 200,
            Reply::Stall { .. } => 0,
        }
    }
}

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct Request {
    /// `GET`, `POST`…
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query, if any, as sent.
    pub query: Option<String>,
    /// Header fields by lowercase name; repeated fields joined with ", " (RFC 9110 §5.3).
    pub headers: BTreeMap<String, String>,
    /// The body, as far as `Content-Length` says.
    pub body: Vec<u8>,
    /// The status it was answered with (0: not answered).
    pub answered: u16,
}

impl Request {
    /// A header's value (fields with that name joined).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// The query's parameters, decoded.
    pub fn query_pairs(&self) -> BTreeMap<String, String> {
        let q = self.query.as_deref().unwrap_or_default();
        reqwest::Url::parse(&format!("http://fake/?{q}"))
            .map(|u| u.query_pairs().into_owned().collect())
            .unwrap_or_default()
    }

    /// A query parameter read as a number.
    pub fn query_u64(&self, name: &str) -> Option<u64> {
        self.query_pairs().get(name).and_then(|v| v.parse().ok())
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the request body is JSON")
    }
}

type Handler = dyn Fn(&Request) -> Option<Reply> + Send + Sync;

#[derive(Default)]
struct State {
    routes: BTreeMap<String, Reply>,
    handler: Option<Arc<Handler>>,
    requests: Vec<Request>,
    record: bool,
}

/// How connections are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connections {
    /// One request per connection, `Connection: close` (deterministic connection counts).
    Close,
    /// Keep-alive: requests follow each other on a connection until the peer closes or sends
    /// `Connection: close` (for the bench, where connection set-up would be measured).
    KeepAlive,
}

/// A running fake server. Its accept loop stops when it is dropped; connections already open
/// finish with the runtime.
pub struct FakeServer {
    /// Where it listens.
    pub addr: SocketAddr,
    accepted: Arc<AtomicU64>,
    served: Arc<AtomicU64>,
    body_bytes: Arc<AtomicU64>,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeServer").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl FakeServer {
    /// A server that closes each connection after one answer, records requests, and answers
    /// 404 until told otherwise.
    pub async fn start() -> FakeServer {
        FakeServer::try_start(Connections::Close).await.expect("bind 127.0.0.1:0")
    }

    /// A server answering every request with `handler`'s reply (404 when it returns `None`).
    pub async fn serving(
        handler: impl Fn(&Request) -> Option<Reply> + Send + Sync + 'static,
    ) -> FakeServer {
        let server = FakeServer::start().await;
        server.fallback(handler);
        server
    }

    /// A server on a fresh port with the given connection handling.
    pub async fn try_start(connections: Connections) -> Result<FakeServer, String> {
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("bind: {e}"))?;
        Ok(FakeServer::on(listener, connections))
    }

    /// A server on `listener` (bound by the caller, who needed the port first).
    pub fn on(listener: TcpListener, connections: Connections) -> FakeServer {
        let addr = listener.local_addr().expect("a bound listener has an address");
        let accepted = Arc::new(AtomicU64::new(0));
        let served = Arc::new(AtomicU64::new(0));
        let body_bytes = Arc::new(AtomicU64::new(0));
        let state = Arc::new(Mutex::new(State { record: true, ..State::default() }));
        let conn = Conn {
            state: Arc::clone(&state),
            served: Arc::clone(&served),
            body_bytes: Arc::clone(&body_bytes),
            keep_alive: connections == Connections::KeepAlive,
        };
        let count = Arc::clone(&accepted);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(conn.clone().serve(stream));
            }
        });
        FakeServer { addr, accepted, served, body_bytes, state, task }
    }

    /// Answer `path` (query ignored) with `reply`.
    pub fn route(&self, path: &str, reply: Reply) -> &Self {
        self.lock().routes.insert(path.into(), reply);
        self
    }

    /// Answer requests that no route matches with `handler` (404 when it returns `None`).
    pub fn fallback(&self, handler: impl Fn(&Request) -> Option<Reply> + Send + Sync + 'static) {
        self.lock().handler = Some(Arc::new(handler));
    }

    /// Stop recording requests (the bench's members answer hundreds of thousands).
    pub fn forget_requests(&self) -> &Self {
        self.lock().record = false;
        self
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The URL of `path` here.
    pub fn url(&self, path: &str) -> reqwest::Url {
        reqwest::Url::parse(&format!("{}{path}", self.base())).expect("a valid path")
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Requests answered so far.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// Body bytes of complete answers sent so far.
    pub fn body_bytes(&self) -> u64 {
        self.body_bytes.load(Ordering::Relaxed)
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }

    /// The requests matching `pred`.
    pub fn received(&self, pred: impl Fn(&Request) -> bool) -> Vec<Request> {
        self.lock().requests.iter().filter(|r| pred(r)).cloned().collect()
    }

    /// Wait until a request matching `pred` has arrived (polling every 25 ms, for at most
    /// `deadline`); the first such request.
    pub async fn wait_for(
        &self,
        what: &str,
        deadline: Duration,
        pred: impl Fn(&Request) -> bool,
    ) -> Result<Request, String> {
        crate::wait::until_some(what, deadline, Duration::from_millis(25), || {
            let found = self.received(&pred).into_iter().next();
            async move { found }
        })
        .await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What every connection of one server shares.
#[derive(Clone)]
struct Conn {
    state: Arc<Mutex<State>>,
    served: Arc<AtomicU64>,
    body_bytes: Arc<AtomicU64>,
    keep_alive: bool,
}

/// A request head's end (after the blank line) in `buf`, if it is complete.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Method, target and header fields (lowercase names, repeated ones joined) of a head.
fn parse_head(head: &str) -> (String, String, BTreeMap<String, String>) {
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_owned();
    let target = first.next().unwrap_or("/").to_owned();
    let mut headers = BTreeMap::new();
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_owned());
            headers
                .entry(k)
                .and_modify(|old: &mut String| *old = format!("{old}, {v}"))
                .or_insert(v);
        }
    }
    (method, target, headers)
}

impl Conn {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn serve(self, mut stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let mut buf: Vec<u8> = Vec::with_capacity(4096);
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            let end = loop {
                if let Some(end) = head_end(&buf) {
                    break end;
                }
                if buf.len() > 64 * 1024 {
                    return;
                }
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            };
            let (method, target, headers) = parse_head(&String::from_utf8_lossy(&buf[..end]));
            let length: usize =
                headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
            let wanted = end + length;
            while buf.len() < wanted {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let body = buf[end..wanted].to_vec();
            buf.drain(..wanted);
            let close = !self.keep_alive
                || headers
                    .get("connection")
                    .is_some_and(|v| v.to_ascii_lowercase().contains("close"));
            let (path, query) = match target.split_once('?') {
                Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
                None => (target, None),
            };
            let mut request = Request { method, path, query, headers, body, answered: 0 };
            let reply = self.reply(&mut request);
            if !self.answer(&mut stream, reply, close).await || close {
                let _ = stream.shutdown().await;
                return;
            }
        }
    }

    /// The reply to `request`, which is recorded with its status.
    fn reply(&self, request: &mut Request) -> Reply {
        let (routed, handler) = {
            let s = self.lock();
            (s.routes.get(&request.path).cloned(), s.handler.clone())
        };
        let reply =
            routed.or_else(|| handler.and_then(|h| h(request))).unwrap_or(Reply::status(404));
        request.answered = reply.status_code();
        let mut s = self.lock();
        if s.record {
            s.requests.push(request.clone());
        }
        reply
    }

    /// Send `reply`; whether the connection may carry another request.
    async fn answer(&self, stream: &mut TcpStream, reply: Reply, close: bool) -> bool {
        let connection = if close { "Connection: close\r\n" } else { "" };
        match reply {
            Reply::Full { status, headers, body, until_eof, cut_after } => {
                let mut head = format!("HTTP/1.1 {status} {}\r\n{connection}", reason(status));
                for (n, v) in &headers {
                    head.push_str(&format!("{n}: {v}\r\n"));
                }
                if !until_eof {
                    head.push_str(&format!("Content-Length: {}\r\n", body.len()));
                }
                head.push_str("\r\n");
                let sent = cut_after.map_or(body.len(), |n| n.min(body.len()));
                if stream.write_all(head.as_bytes()).await.is_err()
                    || stream.write_all(&body[..sent]).await.is_err()
                {
                    return false;
                }
                self.served.fetch_add(1, Ordering::Relaxed);
                self.body_bytes.fetch_add(sent as u64, Ordering::Relaxed);
                !until_eof && cut_after.is_none()
            }
            Reply::Drip { content_type, body, every } => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\n{connection}Content-Type: {content_type}\r\n\
                     Content-Length: {}\r\n\r\n",
                    body.len()
                );
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return false;
                }
                for b in body {
                    tokio::time::sleep(every).await;
                    if stream.write_all(&[b]).await.is_err() {
                        return false;
                    }
                }
                self.served.fetch_add(1, Ordering::Relaxed);
                true
            }
            Reply::Endless { content_type, chunk } => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nConnection: close\r\n\r\n"
                );
                if stream.write_all(head.as_bytes()).await.is_ok() {
                    while stream.write_all(&chunk).await.is_ok() {}
                }
                false
            }
            Reply::Stall { for_at_most } => {
                tokio::time::sleep(for_at_most).await;
                false
            }
        }
    }
}

/// A reason phrase for the status line (clients ignore it).
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn raw(server: &FakeServer, request: &str) -> String {
        let mut s = TcpStream::connect(server.addr).await.expect("connect");
        s.write_all(request.as_bytes()).await.expect("write");
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test]
    async fn routes_record_and_count() {
        let server = FakeServer::start().await;
        server.route("/a", Reply::ok("text/plain", "hello").header("ETag", "\"1\""));
        let out =
            raw(&server, "GET /a?x=1 HTTP/1.1\r\nHost: h\r\nAccept: a\r\nAccept: b\r\n\r\n").await;
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n") && out.ends_with("\r\n\r\nhello"), "{out}");
        assert!(out.contains("ETag: \"1\"") && out.contains("Content-Length: 5"), "{out}");
        let missing = raw(&server, "GET /b HTTP/1.1\r\n\r\n").await;
        assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
        let r = &server.requests()[0];
        assert_eq!((r.path.as_str(), r.query.as_deref(), r.answered), ("/a", Some("x=1"), 200));
        assert_eq!(r.header("accept"), Some("a, b"));
        assert_eq!(r.query_u64("x"), Some(1));
        assert_eq!((server.accepted(), server.served(), server.body_bytes()), (2, 2, 7));
    }

    #[tokio::test]
    async fn a_cut_body_closes_early_and_a_drip_is_slow() {
        let server = FakeServer::start().await;
        server.route("/cut", Reply::json(vec![b'x'; 100]).cut_after(10));
        server.route("/drip", Reply::drip(b"abc".to_vec(), Duration::from_millis(100)));
        let out = raw(&server, "GET /cut HTTP/1.1\r\n\r\n").await;
        assert!(
            out.contains("Content-Length: 100") && out.ends_with("\r\n\r\nxxxxxxxxxx"),
            "{out}"
        );
        let t = std::time::Instant::now();
        let out = raw(&server, "GET /drip HTTP/1.1\r\n\r\n").await;
        assert!(out.ends_with("abc") && t.elapsed() >= Duration::from_millis(300), "{out}");
    }

    #[tokio::test]
    async fn keep_alive_serves_several_requests_on_one_connection() {
        let server = FakeServer::try_start(Connections::KeepAlive).await.expect("start");
        server.fallback(|r| Some(Reply::ok("text/plain", r.path.clone())));
        let out =
            raw(&server, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\nConnection: close\r\n\r\n")
                .await;
        assert!(out.contains("\r\n\r\n/1HTTP/1.1 200 OK") && out.ends_with("/2"), "{out}");
        assert_eq!(server.accepted(), 1);
    }
}
