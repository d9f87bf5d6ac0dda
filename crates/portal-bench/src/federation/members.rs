//! The fake members: genuinely signed logs, served over HTTP/1.1 by the test kit's fake
//! server (keep-alive), byte-compatibly with what a node serves.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ed25519_dalek::{Signature, VerifyingKey};
use portal_proto::checkpoint::{Checkpoint, sign_checkpoint};
use portal_proto::crypto::PublicKey;
use portal_proto::envelope::{self, signing_input};
use portal_proto::ids::{ItemId, Lang, NodeId};
use portal_proto::merkle::{self, LeafHashes};
use portal_proto::record::{Descriptor, KeyGrant, RecordType};
use portal_proto::time::Timestamp;
use portal_proto::verifier::checkpoint_origin;
use portal_tests::fake::{Connections, FakeServer, Reply, Request};
use portal_tests::fixtures::{bulletin, endpoints, log_entry, numbered_key, proof_body};
use serde_json::{Value, json};
use tokio::net::TcpListener;

pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// One member's log, ready to serve byte-compatibly with a node's log API.
pub(crate) struct FakeMember {
    pub(crate) id: NodeId,
    pub(crate) base: String,
    pub(crate) public_key: PublicKey,
    /// The signed descriptor envelope (JSON).
    descriptor: Vec<u8>,
    /// Each entry as the log endpoint serves it: `{"index","kid","record","sig"}`.
    pub(crate) entries: Vec<String>,
    /// The signed checkpoint note for the whole log.
    checkpoint: String,
    tree: LeafHashes,
}

/// One member's signing inputs and signatures, for the raw reference.
pub(crate) struct RawSet {
    key: VerifyingKey,
    inputs: Vec<(Vec<u8>, Signature)>,
}

/// A fake member and its raw reference set.
type Generated = (FakeMember, RawSet);

/// Member `k` on `port`: `records` signed items; the raw reference set is kept only when
/// `keep_raw` (a million signing inputs would double the harness's memory for nothing).
pub(crate) fn fake_member(
    k: usize,
    port: u16,
    now: u64,
    records: usize,
    keep_raw: bool,
) -> Result<Generated, String> {
    let id = NodeId::new(format!("bo-{k:03}")).map_err(|e| format!("member id: {e}"))?;
    let signer = numbered_key(k as u64).signer();
    let public_key = signer.public_key();
    let base = format!("http://127.0.0.1:{port}");
    let mut tree = LeafHashes::new();
    let mut entries = Vec::with_capacity(records);
    let mut inputs = Vec::with_capacity(if keep_raw { records } else { 0 });
    for i in 0..records {
        let mut idb = [0u8; 16];
        idb[..8].copy_from_slice(&(k as u64 + 1).to_be_bytes());
        idb[8..].copy_from_slice(&(i as u64).to_be_bytes());
        let t = Timestamp::from_unix(now - records as u64 + i as u64).ok_or("time")?;
        let record = bulletin(id.clone(), i, ItemId::from_random(idb), t);
        let signed = envelope::sign(&record, &signer).map_err(|e| format!("sign: {e}"))?;
        tree.push(signed.leaf_hash());
        entries.push(log_entry(i as u64, &signed).to_string());
        if keep_raw {
            inputs.push((
                signing_input(RecordType::Item, signed.bytes()),
                Signature::from_bytes(signed.sig()),
            ));
        }
    }
    let origin = checkpoint_origin(&id);
    let root = merkle::root(&tree, records as u64).map_err(|e| format!("root: {e}"))?;
    let cp = Checkpoint::with_time(origin.clone(), records as u64, root, now);
    let checkpoint = sign_checkpoint(&cp, &origin, &signer).map_err(|e| format!("note: {e}"))?;
    // No "websub-hub": the central must not try to subscribe to a fake.
    let names = ["atom", "checkpoint", "consistency-proof", "inclusion-proof", "items"];
    let endpoints = endpoints(&base, &[&names[..], &["json-feed", "log"]].concat());
    let descriptor = Descriptor {
        ipsp: 1,
        record_type: RecordType::Descriptor,
        origin: id.clone(),
        name: BTreeMap::from([(
            Lang::new("vi").map_err(|e| format!("lang: {e}"))?,
            format!("Bộ thử nghiệm số {k}"),
        )]),
        url: base.clone(),
        keys: vec![KeyGrant::pinned(public_key.clone())],
        endpoints,
        heartbeat: 3600,
        log_size: records as u64,
        time: Timestamp::from_unix(now).ok_or("time")?,
    };
    let descriptor = envelope::sign(&descriptor, &signer)
        .map_err(|e| format!("descriptor: {e}"))?
        .to_json()
        .into_bytes();
    let key = VerifyingKey::from_bytes(public_key.as_bytes()).map_err(|e| format!("key: {e}"))?;
    let member = FakeMember { id, base, public_key, descriptor, entries, checkpoint, tree };
    Ok((member, RawSet { key, inputs }))
}

/// An error body like the node's (SPEC.md §8).
fn error_body(code: &str, message: &str) -> Vec<u8> {
    json!({"error": {"code": code, "message": message}}).to_string().into_bytes()
}

impl FakeMember {
    /// The member's id.
    pub(crate) fn id_str(&self) -> &str {
        self.id.as_str()
    }

    /// The answer to `r`, as a node would give it.
    pub(crate) fn respond(&self, r: &Request) -> Reply {
        let (status, content_type, body) = self.answer(r);
        Reply::with(status, content_type, body)
    }

    /// (status, content type, body) for a request.
    fn answer(&self, r: &Request) -> (u16, &'static str, Vec<u8>) {
        const JSON: &str = "application/json";
        let (path, q) = (r.path.as_str(), |name: &str| r.query_u64(name));
        if r.method != "GET" {
            return (405, JSON, error_body("method-not-allowed", "GET only"));
        }
        let size = self.entries.len() as u64;
        match path {
            "/.well-known/portal-node" => (200, JSON, self.descriptor.clone()),
            "/api/v1/checkpoint" => {
                (200, "text/plain; charset=utf-8", self.checkpoint.clone().into_bytes())
            }
            "/api/v1/log" => (200, JSON, self.log_page(q("after").unwrap_or(0), q("limit"))),
            "/api/v1/proof/consistency" => {
                let (from, to) = (q("from").unwrap_or(0), q("to").unwrap_or(size));
                if from == 0 || from > to || to > size {
                    let msg = format!("need 0 < from <= to <= {size}");
                    return (400, JSON, error_body("out-of-range", &msg));
                }
                match merkle::consistency_proof(&self.tree, from, to) {
                    Ok(p) => (200, JSON, body(proof_body(("from", "to"), (from, to), &p))),
                    Err(e) => (500, JSON, error_body("internal", &e.to_string())),
                }
            }
            "/api/v1/proof/inclusion" => {
                let (index, to) = (q("index").unwrap_or(u64::MAX), q("size").unwrap_or(size));
                if to > size || index >= to {
                    let msg = format!("need index < size <= {size}");
                    return (400, JSON, error_body("out-of-range", &msg));
                }
                match merkle::inclusion_proof(&self.tree, index, to) {
                    Ok(p) => (200, JSON, body(proof_body(("index", "size"), (index, to), &p))),
                    Err(e) => (500, JSON, error_body("internal", &e.to_string())),
                }
            }
            _ => (404, JSON, error_body("not-found", path)),
        }
    }

    /// `GET /api/v1/log`, the shape of `portal-node`'s `log_page`: entries from `after`
    /// (clamped to the size), at most `limit` (default 100, clamped to 1–1000).
    fn log_page(&self, after: u64, limit: Option<u64>) -> Vec<u8> {
        let size = self.entries.len() as u64;
        let start = after.min(size);
        let limit = limit.unwrap_or(100).clamp(1, 1000);
        let end = (start + limit).min(size);
        let entries = &self.entries[start as usize..end as usize];
        let mut out =
            String::with_capacity(entries.iter().map(|e| e.len() + 1).sum::<usize>() + 512);
        out.push_str(&format!(
            "{{\"origin\":\"{}\",\"start\":{start},\"size\":{size},\"entries\":[",
            self.id
        ));
        for (n, e) in entries.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            out.push_str(e);
        }
        out.push_str("],\"checkpoint\":");
        out.push_str(&Value::String(self.checkpoint.clone()).to_string());
        if end < size {
            out.push_str(&format!(
                ",\"next\":\"{}/api/v1/log?after={end}&limit={limit}\"",
                self.base
            ));
        }
        out.push('}');
        out.into_bytes()
    }
}

fn body(v: Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

/// A fake member and the fake server answering for it on 127.0.0.1 (as long as it is kept).
pub(crate) struct Served {
    pub(crate) member: Arc<FakeMember>,
    pub(crate) server: FakeServer,
}

impl std::ops::Deref for Served {
    type Target = FakeMember;
    fn deref(&self) -> &FakeMember {
        &self.member
    }
}

/// Serve `member` on `listener` (keep-alive, requests not recorded). Within a runtime.
fn serve(listener: TcpListener, member: Arc<FakeMember>) -> Served {
    let server = FakeServer::on(listener, Connections::KeepAlive);
    server.forget_requests();
    let m = Arc::clone(&member);
    server.fallback(move |r| Some(m.respond(r)));
    Served { member, server }
}

/// Bind `count` origins, generate and sign `records` items for each (on every core), and
/// serve them. The raw reference sets are empty unless `keep_raw`.
pub(crate) fn start_fake_members(
    rt: &tokio::runtime::Runtime,
    count: usize,
    records: usize,
    keep_raw: bool,
) -> Result<(Vec<Served>, Vec<RawSet>), String> {
    let listeners: Vec<TcpListener> = rt.block_on(async {
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            out.push(TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("bind: {e}"))?);
        }
        Ok::<_, String>(out)
    })?;
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()).map_err(|e| format!("local_addr: {e}")))
        .collect::<Result<_, _>>()?;
    let now = unix_now();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).max(1);
    let generated: Vec<Result<Generated, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let ports = &ports;
                s.spawn(move || {
                    (t..count)
                        .step_by(threads)
                        .map(|k| (k, fake_member(k, ports[k], now, records, keep_raw)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<(usize, Result<Generated, String>)> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|_| vec![(0, Err("generator panicked".into()))]))
            .collect();
        all.sort_by_key(|(k, _)| *k);
        all.into_iter().map(|(_, r)| r).collect()
    });
    let mut members = Vec::with_capacity(count);
    let mut raw = Vec::with_capacity(count);
    for g in generated {
        let (m, r) = g?;
        members.push(Arc::new(m));
        raw.push(r);
    }
    if members.len() != count {
        return Err(format!("generated {} of {count} members", members.len()));
    }
    let _runtime = rt.enter();
    let served = listeners.into_iter().zip(members).map(|(l, m)| serve(l, m)).collect();
    Ok((served, raw))
}

/// The reference: raw `verify_strict` of every record's signing input, on this thread.
pub(crate) fn raw_verify(raw: &[RawSet]) -> f64 {
    let start = Instant::now();
    let mut n = 0usize;
    for set in raw {
        for (msg, sig) in &set.inputs {
            assert!(set.key.verify_strict(black_box(msg), sig).is_ok(), "a raw signature failed");
            n += 1;
        }
    }
    n as f64 / start.elapsed().as_secs_f64()
}
