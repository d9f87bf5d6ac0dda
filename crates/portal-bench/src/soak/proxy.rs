//! A fault-injecting TCP proxy (tokio): one listener, one upstream, and a mode that the
//! soak's schedule changes: pass, delay every chunk, drop new connections (FIN), reset them
//! (RST), or partition (accept and hold, forwarding nothing). Entering a fault mode also cuts
//! every connection opened before (both sides closed mid-stream), as a failing network would.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does to connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Pass,
    /// Every chunk forwarded after this many milliseconds, both ways.
    Delay(u64),
    /// New connections closed at once (FIN).
    Drop,
    /// New connections reset (RST).
    Reset,
    /// New connections accepted and held, nothing forwarded.
    Partition,
}

impl Mode {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Pass => "pass",
            Mode::Delay(_) => "delay",
            Mode::Drop => "drop",
            Mode::Reset => "reset",
            Mode::Partition => "partition",
        }
    }

    fn cuts(self) -> bool {
        matches!(self, Mode::Drop | Mode::Reset | Mode::Partition)
    }
}

pub(crate) struct Proxy {
    pub(crate) port: u16,
    mode: Mutex<Mode>,
    /// Bumped when a fault mode begins: connections of older generations are cut.
    generation: watch::Sender<u64>,
    pub(crate) connections: AtomicU64,
    pub(crate) cut: AtomicU64,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Proxy {
    /// A proxy on `listener` to `upstream`, passing.
    pub(crate) fn start(listener: TcpListener, upstream: SocketAddr) -> Result<Arc<Proxy>, String> {
        let port = listener.local_addr().map_err(|e| format!("local_addr: {e}"))?.port();
        let proxy = Arc::new(Proxy {
            port,
            mode: Mutex::new(Mode::Pass),
            generation: watch::Sender::new(0),
            connections: AtomicU64::new(0),
            cut: AtomicU64::new(0),
            task: Mutex::new(None),
        });
        let p = Arc::clone(&proxy);
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                p.connections.fetch_add(1, Ordering::Relaxed);
                let mode = p.mode();
                let cut = p.generation.subscribe();
                match mode {
                    Mode::Drop => drop(inbound),
                    Mode::Reset => {
                        let _ = inbound.set_zero_linger();
                        drop(inbound);
                    }
                    Mode::Partition => {
                        tokio::spawn(hold(inbound, cut));
                    }
                    Mode::Pass | Mode::Delay(_) => {
                        tokio::spawn(pipe(Arc::clone(&p), inbound, upstream, cut));
                    }
                }
            }
        });
        if let Ok(mut t) = proxy.task.lock() {
            *t = Some(task);
        }
        Ok(proxy)
    }

    pub(crate) fn mode(&self) -> Mode {
        self.mode.lock().map_or(Mode::Pass, |m| *m)
    }

    /// Set the mode; the previous one.
    pub(crate) fn set(&self, mode: Mode) -> Mode {
        let previous =
            self.mode.lock().map_or(Mode::Pass, |mut m| std::mem::replace(&mut *m, mode));
        if mode.cuts() {
            self.generation.send_modify(|g| *g += 1);
        }
        previous
    }

    fn delay(&self) -> Option<Duration> {
        match self.mode() {
            Mode::Delay(ms) => Some(Duration::from_millis(ms)),
            _ => None,
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Ok(mut t) = self.task.lock()
            && let Some(t) = t.take()
        {
            t.abort();
        }
    }
}

/// Copy `from` to `to` chunk by chunk, each after the proxy's delay (if it delays), until
/// either side ends; then close `to`.
async fn forward(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, proxy: Arc<Proxy>) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(d) = proxy.delay() {
            tokio::time::sleep(d).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// Hold a partitioned connection until the partition's generation ends, then reset it.
async fn hold(inbound: TcpStream, mut cut: watch::Receiver<u64>) {
    let _ = cut.changed().await;
    let _ = inbound.set_zero_linger();
}

async fn pipe(
    proxy: Arc<Proxy>,
    inbound: TcpStream,
    upstream: SocketAddr,
    cut: watch::Receiver<u64>,
) {
    let Ok(outbound) = TcpStream::connect(upstream).await else {
        // The upstream is down (killed): the client sees a reset, as it would directly.
        let _ = inbound.set_zero_linger();
        return;
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (ri, wi) = inbound.into_split();
    let (ro, wo) = outbound.into_split();
    let up = forward(ri, wo, Arc::clone(&proxy));
    let down = forward(ro, wi, Arc::clone(&proxy));
    let mut cut = cut;
    tokio::select! {
        _ = async { tokio::join!(up, down) } => {}
        _ = cut.changed() => {
            // Dropping the halves closes both sockets; the count says a fault cut it.
            proxy.cut.fetch_add(1, Ordering::Relaxed);
        }
    }
}
