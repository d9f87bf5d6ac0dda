//! `portal demo`: a whole federation on 127.0.0.1 in one command.
//!
//! The central node (`chinh-phu`) and three ministries run in this process, each a real node
//! with its own data directory, key, store, WebSub hub and HTTP server
//! ([`portal_server::serve_until`]). Running them in-process rather than as child processes
//! means there is nothing to orphan: Ctrl-C or SIGTERM stops the four servers (actix-web
//! handles both signals), and a crash takes all four down together.
//!
//! Once they listen, the demo does over HTTP what operators and editors do: the central pins
//! each ministry (`POST /api/v1/admin/members` with its local token), then each ministry's
//! editor publishes the content of `demo/content.json` (`POST /api/v1/items` with the
//! ministry's editor token), corrects one item and withdraws another. The demo waits until
//! the central has verified and ingested every record, then prints the addresses.
//!
//! Seeding reads each ministry's log and publishes only what is missing, so
//! `portal demo --data DIR` restarts a demo (same keys, tokens and addresses) without
//! duplicating anything, and completes one that was interrupted.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use portal_proto::envelope::{SignedRecord, parse_record};
use portal_proto::ids::Lang;
use portal_proto::record::Record;
use portal_publisher::draft::{Draft, WithdrawRequest};
use portal_publisher::{DataDir, Node};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// `println!` that does not panic when standard output is closed (a reader that went away
/// must not bring the federation down).
macro_rules! say {
    () => {{
        let _ = writeln!(std::io::stdout());
    }};
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// The seeded content: the central node, the ministries and what their editors publish.
const CONTENT: &str = include_str!("../demo/content.json");
/// The demo's own state in its data directory (node addresses, editor tokens, public keys).
const STATE_FILE: &str = "demo.json";
/// The central node's port by default; the ministries take the next three.
const DEFAULT_PORT: u16 = 8080;
/// How long the central may take to ingest the seeded records before the demo gives up.
const INGEST_TIMEOUT: Duration = Duration::from_secs(120);
/// How long to wait for the central's WebSub subscriptions to be confirmed.
const PUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// `demo/content.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Content {
    central: NodeSpec,
    ministries: Vec<MinistrySpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeSpec {
    id: String,
    /// Display names by language (`vi`, `en`).
    name: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MinistrySpec {
    id: String,
    name: BTreeMap<String, String>,
    items: Vec<SeedItem>,
}

/// One item a ministry's editor publishes, and what happens to it afterwards.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedItem {
    /// The draft of version 1, as sent to `POST /api/v1/items`. Its title identifies the item
    /// when the demo restarts.
    draft: Map<String, Value>,
    /// Publish a version 2: these fields of the draft replaced, with this update note.
    #[serde(default)]
    correction: Option<Correction>,
    /// Then withdraw it (body of `POST /api/v1/items/{id}/withdraw`).
    #[serde(default)]
    withdrawal: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Correction {
    /// `{"type": "major" | "minor", "note": "…"}`.
    update: Value,
    /// Top-level draft fields replaced in the new version.
    changes: Map<String, Value>,
}

impl SeedItem {
    fn title(&self) -> &str {
        self.draft.get("title").and_then(Value::as_str).unwrap_or_default()
    }

    /// The draft of version 2 of item `id`.
    fn corrected(&self, id: &str) -> Option<Value> {
        let c = self.correction.as_ref()?;
        let mut draft = self.draft.clone();
        draft.extend(c.changes.clone());
        draft.insert("id".into(), json!(id));
        draft.insert("update".into(), c.update.clone());
        Some(Value::Object(draft))
    }
}

/// A well-formed item id, to check the corrected drafts before the real ids exist.
const CHECK_ID: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaa";

impl Content {
    /// The embedded content, every draft checked as the node would parse it, so a mistake in
    /// the file is reported before any node starts.
    fn load() -> Result<Content> {
        let content: Content =
            serde_json::from_str(CONTENT).context("demo/content.json is not valid")?;
        for m in &content.ministries {
            let mut titles = BTreeSet::new();
            for (i, item) in m.items.iter().enumerate() {
                let what = format!("demo/content.json: {} item {i}", m.id);
                let drafts = std::iter::once(Value::Object(item.draft.clone()))
                    .chain(item.corrected(CHECK_ID));
                for d in drafts {
                    let bytes = serde_json::to_vec(&d)?;
                    Draft::from_json(&bytes).map_err(|fields| {
                        let fields: Vec<String> = fields.iter().map(ToString::to_string).collect();
                        anyhow!("{what}: {}", fields.join("; "))
                    })?;
                }
                if let Some(w) = &item.withdrawal {
                    serde_json::from_value::<WithdrawRequest>(w.clone())
                        .with_context(|| format!("{what}: withdrawal"))?;
                }
                if !titles.insert(item.title()) {
                    bail!(
                        "{what}: two items titled {:?} (titles identify seeded items)",
                        item.title()
                    );
                }
            }
        }
        Ok(content)
    }

    /// The central first, then the ministries, as (id, display names).
    fn nodes(&self) -> Vec<(&str, &BTreeMap<String, String>)> {
        std::iter::once((self.central.id.as_str(), &self.central.name))
            .chain(self.ministries.iter().map(|m| (m.id.as_str(), &m.name)))
            .collect()
    }
}

/// `DATA/demo.json`: what the demo must remember to restart (mode 0600: it holds the editor
/// tokens, which the nodes themselves store only as hashes).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    /// The central first, then the ministries in the order of `content.json`.
    nodes: Vec<NodeState>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeState {
    id: String,
    url: String,
    editor_token: String,
    public_key: String,
}

impl NodeState {
    /// `127.0.0.1:PORT`.
    fn addr(&self) -> &str {
        self.url.strip_prefix("http://").unwrap_or(&self.url)
    }
}

impl State {
    fn load(root: &Path) -> Result<Option<State>> {
        let path = root.join(STATE_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(
                serde_json::from_slice(&bytes)
                    .with_context(|| format!("{} is not a demo state file", path.display()))?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    fn save(&self, root: &Path) -> Result<()> {
        let path = root.join(STATE_FILE);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file =
            options.open(&path).with_context(|| format!("creating {}", path.display()))?;
        file.write_all(&serde_json::to_vec_pretty(self)?)?;
        file.sync_all()?;
        Ok(())
    }

    fn central(&self) -> &NodeState {
        &self.nodes[0]
    }

    fn ministries(&self) -> &[NodeState] {
        &self.nodes[1..]
    }
}

/// Run `portal demo [--data DIR] [--port PORT]` until Ctrl-C or SIGTERM.
pub(crate) fn run(data: Option<PathBuf>, port: Option<u16>) -> Result<()> {
    let content = Content::load()?;
    let mut temp = None;
    let root = match data {
        Some(d) => d,
        None => {
            let t = tempfile::Builder::new()
                .prefix("portal-demo-")
                .tempdir()
                .context("creating a temporary directory")?;
            let path = t.path().to_owned();
            temp = Some(t);
            path
        }
    };
    let state = match State::load(&root)? {
        Some(state) => {
            if state.nodes.len() != content.nodes().len() {
                bail!(
                    "{} holds a demo of another shape: use a new --data directory",
                    root.display()
                );
            }
            let central_port = state.central().addr().rsplit(':').next().unwrap_or_default();
            if let Some(p) = port.filter(|p| *p != 0 && p.to_string() != central_port) {
                eprintln!(
                    "note: the demo in {} keeps the addresses it was created with (they are \
                     signed into its records and roster); --port {p} is ignored",
                    root.display()
                );
            }
            for n in &state.nodes {
                check_free(n.addr(), &n.id).map_err(|e| {
                    anyhow!(
                        "{e}\n(the demo in {} keeps the addresses it was created with: stop \
                         what holds the port, or start a new demo with another --data)",
                        root.display()
                    )
                })?;
            }
            say!("restarting the demo in {}", root.display());
            state
        }
        None => {
            if std::fs::read_dir(&root).is_ok_and(|mut d| d.next().is_some()) {
                bail!(
                    "{} is not empty and holds no demo: give --data a new or empty directory",
                    root.display()
                );
            }
            let ports = ports(port.unwrap_or(DEFAULT_PORT))?;
            for ((id, _), p) in content.nodes().iter().zip(&ports) {
                check_free(&format!("127.0.0.1:{p}"), id).map_err(|e| {
                    anyhow!(
                        "{e}\nchoose other ports with --port PORT (the central on PORT, the \
                         ministries on the next three), or --port 0 for any free ports"
                    )
                })?;
            }
            create(&root, &content, &ports)?
        }
    };
    let mut nodes = Vec::new();
    for n in &state.nodes {
        let dir = DataDir::new(root.join(&n.id));
        let node = Node::open(dir).with_context(|| format!("opening the node {}", n.id))?;
        nodes.push(node);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    // The servers' futures are not Send (actix-web): they run on this thread, their workers
    // and the nodes' tasks on the runtime's.
    let local = tokio::task::LocalSet::new();
    let result = runtime.block_on(local.run_until(federation(
        &root,
        &state,
        &content,
        nodes,
        temp.is_some(),
    )));
    drop(local);
    drop(runtime);
    if let Some(t) = temp {
        let path = t.path().display().to_string();
        match t.close() {
            Ok(()) => say!("removed {path}"),
            Err(e) => eprintln!("could not remove {path}: {e}"),
        }
    }
    result
}

/// The four ports: PORT and the next three, or four free ones for 0.
fn ports(first: u16) -> Result<Vec<u16>> {
    if first == 0 {
        // Bound together so they differ, released just before the nodes bind them.
        let listeners = (0..4)
            .map(|_| TcpListener::bind("127.0.0.1:0"))
            .collect::<std::io::Result<Vec<_>>>()
            .context("finding free ports")?;
        return listeners
            .iter()
            .map(|l| Ok(l.local_addr()?.port()))
            .collect::<std::io::Result<_>>()
            .context("finding free ports");
    }
    (0..4)
        .map(|i| first.checked_add(i))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| anyhow!("--port {first}: the demo needs four ports from it, up to 65535"))
}

fn check_free(addr: &str, id: &str) -> Result<()> {
    match TcpListener::bind(addr) {
        Ok(_) => Ok(()),
        Err(e) => Err(anyhow!("{addr} (for {id}) is not available: {e}")),
    }
}

/// `portal init` the four nodes under `root` on `ports` and record the demo's state.
fn create(root: &Path, content: &Content, ports: &[u16]) -> Result<State> {
    std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    say!("creating a demo federation in {}", root.display());
    let mut nodes = Vec::new();
    for (i, ((id, names), port)) in content.nodes().into_iter().zip(ports).enumerate() {
        let central = i == 0;
        let dir = DataDir::new(root.join(id));
        let names = names
            .iter()
            .map(|(l, n)| Ok((Lang::new(l.as_str())?, n.clone())))
            .collect::<Result<BTreeMap<_, _>>>()?;
        let url = format!("http://127.0.0.1:{port}");
        let done = portal_publisher::init(&dir, id, names, &url)?;
        let mut config = portal_publisher::node::load_config(&dir)?;
        // Loopback only: the central must reach its members on 127.0.0.1, and the ministries'
        // hubs must deliver pushes to the central's callback there.
        config.aggregator.allow_private_members = central;
        config.websub.allow_private_callbacks = !central;
        let text = toml::to_string_pretty(&config).context("writing the demo's config")?;
        std::fs::write(dir.config(), text)
            .with_context(|| format!("writing {}", dir.config().display()))?;
        nodes.push(NodeState {
            id: id.to_owned(),
            url,
            editor_token: done.admin_token,
            public_key: done.public_key,
        });
    }
    let state = State { nodes };
    state.save(root)?;
    Ok(state)
}

type ServerDone = (String, String, std::io::Result<()>);

/// Serve the nodes, prepare the federation, print the banner, and wait for a signal.
async fn federation(
    root: &Path,
    state: &State,
    content: &Content,
    nodes: Vec<Arc<Node>>,
    temporary: bool,
) -> Result<()> {
    let (stop, _) = tokio::sync::watch::channel(false);
    let mut servers = tokio::task::JoinSet::new();
    for (n, node) in state.nodes.iter().zip(nodes) {
        let mut stopped = stop.subscribe();
        let (id, listen) = (n.id.clone(), n.addr().to_owned());
        servers.spawn_local(async move {
            let until = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            let result = portal_server::serve_until(node, &listen, Some(2), until).await;
            (id, listen, result)
        });
    }
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client")?;
    let mut failure = None;
    // The servers run on a plain tokio runtime, outside an actix System, so actix does not
    // watch the signals here: the demo does, from the start (a Ctrl-C while seeding stops too).
    let mut signal = std::pin::pin!(shutdown_signal());
    let ready = tokio::select! {
        r = prepare(&http, root, state, content, temporary) => r.map(|()| true),
        Some(done) = servers.join_next() => server_result(done).map(|()| false),
        () = &mut signal => Ok(false),
    };
    match ready {
        Ok(true) => {
            // Serving: Ctrl-C or SIGTERM stops every server at once; a failing one stops all.
            tokio::select! {
                Some(done) = servers.join_next() => failure = server_result(done).err(),
                () = &mut signal => {}
            }
        }
        Ok(false) => say!("stopped before the demo was ready"),
        Err(e) => failure = Some(e),
    }
    let _ = stop.send(true);
    while let Some(done) = servers.join_next().await {
        if let Err(e) = server_result(done) {
            failure.get_or_insert(e);
        }
    }
    match failure {
        Some(e) => Err(e),
        None => {
            say!("demo stopped");
            Ok(())
        }
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let term = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
    say!("stopping the demo…");
}

fn server_result(done: Result<ServerDone, tokio::task::JoinError>) -> Result<()> {
    match done {
        Ok((_, _, Ok(()))) => Ok(()),
        Ok((id, listen, Err(e))) => Err(anyhow!("node {id} on {listen}: {e}")),
        Err(e) => Err(anyhow!("a node's server failed: {e}")),
    }
}

/// Members, push, content, ingestion; then the banner.
async fn prepare(
    http: &reqwest::Client,
    root: &Path,
    state: &State,
    content: &Content,
    temporary: bool,
) -> Result<()> {
    for n in &state.nodes {
        wait_healthy(http, n).await?;
    }
    let central = state.central();
    let local = portal_publisher::local_token(&DataDir::new(root.join(&central.id)))
        .ok_or_else(|| anyhow!("the central node's local token is missing"))?;
    add_members(http, central, &local, state.ministries()).await?;
    wait_push(http, state.ministries()).await;
    for (m, spec) in state.ministries().iter().zip(&content.ministries) {
        seed(http, m, spec).await?;
    }
    wait_ingested(http, central, state.ministries()).await?;
    banner(root, state, content, temporary);
    Ok(())
}

async fn wait_healthy(http: &reqwest::Client, n: &NodeState) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match http.get(format!("{}/healthz", n.url)).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            _ if Instant::now() > deadline => {
                bail!("{} did not answer on {} within 20 s", n.id, n.url)
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Fail with the server's explanation unless the response is a success.
async fn checked(resp: reqwest::Response, what: &str) -> Result<Value> {
    let status = resp.status();
    let text = resp.text().await.with_context(|| format!("{what}: reading the answer"))?;
    if !status.is_success() {
        bail!("{what}: refused ({status}): {text}");
    }
    serde_json::from_str(&text).with_context(|| format!("{what}: not JSON: {text}"))
}

async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value> {
    let resp = http.get(url).send().await.with_context(|| format!("GET {url}"))?;
    checked(resp, &format!("GET {url}")).await
}

/// Pin every ministry in the central's roster (those already there are left alone).
async fn add_members(
    http: &reqwest::Client,
    central: &NodeState,
    token: &str,
    ministries: &[NodeState],
) -> Result<()> {
    let admin = format!("{}/api/v1/admin/members", central.url);
    let resp = http.get(&admin).bearer_auth(token).send().await?;
    let list = checked(resp, "listing the central's members").await?;
    let known: BTreeSet<&str> =
        list["members"].as_array().into_iter().flatten().filter_map(|m| m["id"].as_str()).collect();
    for m in ministries.iter().filter(|m| !known.contains(m.id.as_str())) {
        let body = json!({"url": m.url, "pin": m.public_key});
        let resp = http.post(&admin).bearer_auth(token).json(&body).send().await?;
        checked(resp, &format!("adding {} to the central's roster", m.id)).await?;
        say!("central {}: pinned {} ({}), following it", central.id, m.id, m.url);
    }
    Ok(())
}

/// Wait until every ministry's hub has a verified subscription (the central's), so seeded
/// records reach the central by push.
async fn wait_push(http: &reqwest::Client, ministries: &[NodeState]) {
    let deadline = Instant::now() + PUSH_TIMEOUT;
    for m in ministries {
        loop {
            if subscriptions(http, m).await >= 1 {
                break;
            }
            if Instant::now() > deadline {
                say!(
                    "push: no confirmed subscription at {} yet; the central polls it instead",
                    m.id
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// `portal_websub_subscriptions_active` on the node's metrics.
async fn subscriptions(http: &reqwest::Client, m: &NodeState) -> u64 {
    let Ok(resp) = http.get(format!("{}/metrics", m.url)).send().await else { return 0 };
    let Ok(text) = resp.text().await else { return 0 };
    text.lines()
        .find_map(|l| l.strip_prefix("portal_websub_subscriptions_active "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

/// Every record in a node's log, parsed (the node's own log: no verification needed here).
async fn read_log(http: &reqwest::Client, url: &str) -> Result<Vec<Record>> {
    let mut records = Vec::new();
    loop {
        let page =
            get_json(http, &format!("{url}/api/v1/log?after={}&limit=1000", records.len())).await?;
        let entries = page["entries"].as_array().cloned().unwrap_or_default();
        for e in &entries {
            let field = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            let signed = SignedRecord::from_base64(&field("record"), &field("kid"), &field("sig"))
                .map_err(|r| anyhow!("{url}: a log entry is not an envelope: {r}"))?;
            let record = parse_record(signed.bytes())
                .map_err(|r| anyhow!("{url}: a log entry is not a record: {r}"))?;
            records.push(record);
        }
        let size = page["size"].as_u64().unwrap_or_default();
        if entries.is_empty() || records.len() as u64 >= size {
            return Ok(records);
        }
    }
}

#[derive(Deserialize)]
struct Published {
    id: String,
    version: u64,
}

async fn post(http: &reqwest::Client, url: &str, token: &str, body: &Value) -> Result<Published> {
    let resp = http.post(url).bearer_auth(token).json(body).send().await?;
    Ok(serde_json::from_value(checked(resp, &format!("POST {url}")).await?)?)
}

/// Publish, correct and withdraw what `content.json` says and the ministry's log lacks.
async fn seed(http: &reqwest::Client, m: &NodeState, spec: &MinistrySpec) -> Result<()> {
    let mut by_title = BTreeMap::new();
    let mut versions = BTreeMap::new();
    let mut withdrawn = BTreeSet::new();
    for record in read_log(http, &m.url).await? {
        match record {
            Record::Item(i) => {
                let id = i.id.to_string();
                if i.version == 1 {
                    by_title.insert(i.title.clone(), id.clone());
                }
                let v = versions.entry(id).or_insert(0);
                *v = i.version.max(*v);
            }
            Record::Withdrawal(w) => {
                withdrawn.insert(w.id.to_string());
            }
            _ => {}
        }
    }
    let items_url = format!("{}/api/v1/items", m.url);
    let (mut published, mut corrected, mut withdrew) = (0, 0, 0);
    for item in &spec.items {
        let id = match by_title.get(item.title()) {
            Some(id) => id.clone(),
            None => {
                let draft = Value::Object(item.draft.clone());
                published += 1;
                post(http, &items_url, &m.editor_token, &draft).await?.id
            }
        };
        if versions.get(&id).copied().unwrap_or(1) < 2
            && let Some(draft) = item.corrected(&id)
        {
            let p = post(http, &items_url, &m.editor_token, &draft).await?;
            debug_assert_eq!(p.version, 2);
            corrected += 1;
        }
        if let Some(w) = &item.withdrawal
            && !withdrawn.contains(&id)
        {
            post(http, &format!("{items_url}/{id}/withdraw"), &m.editor_token, w).await?;
            withdrew += 1;
        }
    }
    if published + corrected + withdrew == 0 {
        say!("{}: content already published", m.id);
    } else {
        say!(
            "{}: editor published {published} items, {corrected} correction(s), {withdrew} \
             withdrawal(s)",
            m.id
        );
    }
    Ok(())
}

/// Wait (with a progress line) until the central has stored every record of every ministry.
async fn wait_ingested(
    http: &reqwest::Client,
    central: &NodeState,
    ministries: &[NodeState],
) -> Result<()> {
    let mut targets = BTreeMap::new();
    for m in ministries {
        let log = get_json(http, &format!("{}/api/v1/log?limit=1", m.url)).await?;
        targets.insert(m.id.as_str(), log["size"].as_u64().unwrap_or_default());
    }
    let total: u64 = targets.values().sum();
    let terminal = std::io::stdout().is_terminal();
    let deadline = Instant::now() + INGEST_TIMEOUT;
    let mut shown = None;
    loop {
        let members = get_json(http, &format!("{}/api/v1/members", central.url)).await?;
        let rows = members["members"].as_array().cloned().unwrap_or_default();
        let stored = |id: &str| {
            rows.iter()
                .find(|r| r["member"]["id"] == id)
                .and_then(|r| r["member"]["size"].as_u64())
                .unwrap_or_default()
        };
        let done: u64 = targets.iter().map(|(id, t)| stored(id).min(*t)).sum();
        if shown != Some(done) {
            let line =
                format!("central {}: {done}/{total} records verified and ingested", central.id);
            if terminal {
                let _ = write!(std::io::stdout(), "\r{line}");
                let _ = std::io::stdout().flush();
            } else {
                say!("{line}");
            }
            shown = Some(done);
        }
        if done == total {
            if terminal {
                say!();
            }
            return Ok(());
        }
        if Instant::now() > deadline {
            let errors: Vec<String> = rows
                .iter()
                .filter_map(|r| {
                    let e = r["health"]["last_error"].as_str()?;
                    Some(format!("{}: {e}", r["member"]["id"].as_str().unwrap_or("?")))
                })
                .collect();
            bail!(
                "the central ingested {done} of {total} records in {} s; members' last errors: \
                 {errors:?}; incidents: {}/api/v1/incidents",
                INGEST_TIMEOUT.as_secs(),
                central.url
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn display_name(names: &BTreeMap<String, String>, id: &str) -> String {
    match (names.get("vi"), names.get("en")) {
        (Some(vi), Some(en)) => format!("{vi} ({en})"),
        (Some(n), None) | (None, Some(n)) => n.clone(),
        (None, None) => id.to_owned(),
    }
}

fn banner(root: &Path, state: &State, content: &Content, temporary: bool) {
    let central = state.central();
    let c = &central.url;
    say!();
    say!("Portal Federation demo: the central node and three ministries on 127.0.0.1");
    say!();
    say!("Ministries (each signs its own items; editors publish with the token):");
    for (m, spec) in state.ministries().iter().zip(&content.ministries) {
        say!("  {:<20} {}  {}", m.id, m.url, display_name(&spec.name, &m.id));
        say!("      portal        {}/", m.url);
        say!("      feeds         {}/feeds/atom  {}/feeds/json", m.url, m.url);
        say!("      editor token  {}", m.editor_token);
    }
    say!();
    say!("Central node (verifies every ministry and aggregates the national view):");
    say!("  {:<20} {}  {}", central.id, c, display_name(&content.central.name, &central.id));
    say!("      national portal  {c}/");
    say!("      national feeds   {c}/feeds/national/atom  {c}/feeds/national/json");
    say!("      national log     {c}/api/v1/national/log");
    say!("      search           {c}/api/v1/national/search?q=thong+tu");
    say!("      members' health  {c}/api/v1/members");
    say!();
    say!("Verify the national feed against the ministries' own keys:");
    let trust: Vec<String> =
        state.ministries().iter().map(|m| format!("--trust {}={}", m.id, m.public_key)).collect();
    say!("  portal verify {c}/feeds/national/atom --allow-private {}", trust.join(" "));
    if let Some(m) = state.ministries().first() {
        say!("Publish and correct an item as an editor of {}:", m.id);
        say!("  cargo run -p portal-examples --example publish -- {} {}", m.url, m.editor_token);
    }
    say!();
    if temporary {
        say!("Data: {} (removed on exit; keep a demo with --data DIR)", root.display());
    } else {
        say!("Data: {} (kept; run the same command to restart it)", root.display());
    }
    say!("Ready. Ctrl-C stops everything.");
    let _ = std::io::stdout().flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_content_file_is_valid_and_covers_what_the_demo_promises() {
        let content = Content::load().expect("content.json loads");
        let ids: Vec<&str> = content.ministries.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["bo-y-te", "bo-giao-duc-dao-tao", "bo-tai-chinh"]);
        let items: Vec<&SeedItem> = content.ministries.iter().flat_map(|m| &m.items).collect();
        let kind = |i: &SeedItem| i.draft["kind"].as_str().unwrap_or_default().to_owned();
        for m in &content.ministries {
            let kinds: BTreeSet<String> = m.items.iter().map(kind).collect();
            assert!(kinds.len() >= 3, "{}: several kinds of items: {kinds:?}", m.id);
        }
        assert!(items.iter().any(|i| kind(i) == "alert"), "an urgent alert");
        let legal: Vec<_> = items.iter().filter(|i| kind(i) == "legal").collect();
        assert!(!legal.is_empty());
        for l in legal {
            for f in ["number", "issuer", "signer", "issued", "effective"] {
                assert!(l.draft["legal"][f].is_string(), "legal metadata {f}: {}", l.title());
            }
        }
        assert!(items.iter().any(|i| i.correction.is_some()), "a correction");
        assert!(items.iter().any(|i| i.withdrawal.is_some()), "a withdrawal");
        for i in &items {
            assert!(
                i.draft["translations"]["en"]["title"].is_string(),
                "every item has an English translation: {}",
                i.title()
            );
        }
        let v2 = items.iter().find_map(|i| i.corrected("x")).expect("the corrected draft");
        assert_eq!(v2["id"], "x");
        assert!(v2["update"]["note"].as_str().is_some_and(|n| !n.is_empty()));
    }

    #[test]
    fn ports_are_consecutive_from_the_central_or_free_ones() {
        assert_eq!(ports(8080).expect("ports"), [8080, 8081, 8082, 8083]);
        assert!(ports(65534).is_err(), "four ports must fit below 65536");
        let free = ports(0).expect("free ports");
        assert_eq!(free.iter().collect::<BTreeSet<_>>().len(), 4, "four different ports");
        assert!(free.iter().all(|p| *p != 0));
    }
}
