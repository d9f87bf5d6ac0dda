//! A tiny raw HTTP/1.1 server on 127.0.0.1:0 whose answers are scripted per path, and which
//! counts the connections it accepted (a canary: "refused before connecting" means zero).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portal_client::Url;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the server does with a request.
#[derive(Clone, Debug)]
pub(crate) enum Reply {
    /// A complete response; `Content-Length` is added unless `until_eof` (then the body
    /// runs until the connection closes).
    Full { status: u16, headers: Vec<(String, String)>, body: Vec<u8>, until_eof: bool },
    /// `200`, `Content-Length: len`, then one byte every `every`.
    Drip { len: usize, every: Duration },
    /// Read the request and never answer.
    Silent,
}

impl Reply {
    pub(crate) fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply::Full {
            status: 200,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
            until_eof: false,
        }
    }

    pub(crate) fn json(body: impl Into<Vec<u8>>) -> Reply {
        Reply::ok("application/json", body)
    }

    pub(crate) fn status(status: u16) -> Reply {
        Reply::Full { status, headers: vec![], body: b"{}".to_vec(), until_eof: false }
    }

    pub(crate) fn redirect(to: &str) -> Reply {
        Reply::Full {
            status: 302,
            headers: vec![("Location".into(), to.into())],
            body: vec![],
            until_eof: false,
        }
    }

    pub(crate) fn header(mut self, name: &str, value: &str) -> Reply {
        if let Reply::Full { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }

    pub(crate) fn until_eof(mut self) -> Reply {
        if let Reply::Full { until_eof, .. } = &mut self {
            *until_eof = true;
        }
        self
    }
}

type Handler = dyn Fn(&Request) -> Option<Reply> + Send + Sync;

/// What the server received.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    /// `GET`, `POST`…
    pub(crate) method: String,
    /// Path without the query.
    pub(crate) path: String,
    /// The query, if any.
    pub(crate) query: Option<String>,
    /// Header lines, lowercase names.
    pub(crate) headers: Vec<(String, String)>,
    /// The body (as far as `Content-Length` says).
    pub(crate) body: Vec<u8>,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    routes: BTreeMap<String, Reply>,
    handler: Option<Arc<Handler>>,
    requests: Vec<Request>,
}

/// A running test server. It stops with the test's runtime.
pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    state: Arc<Mutex<State>>,
}

impl TestServer {
    pub(crate) async fn start() -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let state = Arc::new(Mutex::new(State::default()));
        let (count, shared) = (Arc::clone(&accepted), Arc::clone(&state));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(handle(stream, Arc::clone(&shared)));
            }
        });
        TestServer { addr, accepted, state }
    }

    /// Answer `path` (query ignored) with `reply`.
    pub(crate) fn route(&self, path: &str, reply: Reply) -> &Self {
        self.state.lock().unwrap().routes.insert(path.into(), reply);
        self
    }

    /// Answer requests that no route matches with `handler` (404 when it returns `None`).
    pub(crate) fn fallback(
        &self,
        handler: impl Fn(&Request) -> Option<Reply> + Send + Sync + 'static,
    ) {
        self.state.lock().unwrap().handler = Some(Arc::new(handler));
    }

    pub(crate) fn url(&self, path: &str) -> Url {
        Url::parse(&format!("http://{}{path}", self.addr)).unwrap()
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub(crate) fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    pub(crate) fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }
}

async fn handle(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 64 * 1024 {
            return;
        }
    }
    let split = head.windows(4).position(|w| w == b"\r\n\r\n").map_or(head.len(), |p| p + 4);
    let mut body = head.split_off(split);
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or_default().to_owned();
    let method = first.split(' ').next().unwrap_or_default().to_owned();
    let target = first.split(' ').nth(1).unwrap_or("/").to_owned();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (target.clone(), None),
    };
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut request = Request { method, path, query, headers, body: Vec::new() };
    let length: usize = request.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    while body.len() < length.min(1 << 20) {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&buf[..n]),
        }
    }
    request.body = body;
    let reply = {
        let mut s = state.lock().unwrap();
        s.requests.push(request.clone());
        let routed = s.routes.get(&request.path).cloned();
        let handler = s.handler.clone();
        drop(s);
        routed.or_else(|| handler.and_then(|h| h(&request))).unwrap_or(Reply::status(404))
    };
    match reply {
        Reply::Full { status, headers, body, until_eof } => {
            let mut out = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
            for (n, v) in headers {
                out.push_str(&format!("{n}: {v}\r\n"));
            }
            if !until_eof {
                out.push_str(&format!("Content-Length: {}\r\n", body.len()));
            }
            out.push_str("\r\n");
            let _ = stream.write_all(out.as_bytes()).await;
            let _ = stream.write_all(&body).await;
            let _ = stream.shutdown().await;
        }
        Reply::Drip { len, every } => {
            let out = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n");
            let _ = stream.write_all(out.as_bytes()).await;
            for _ in 0..len {
                if stream.write_all(b"x").await.is_err() {
                    return;
                }
                tokio::time::sleep(every).await;
            }
        }
        Reply::Silent => {
            tokio::time::sleep(Duration::from_secs(120)).await;
            drop(stream);
        }
    }
}
