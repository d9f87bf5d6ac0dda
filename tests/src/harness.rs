//! The process harness: real `portal` processes on 127.0.0.1. `portal init` into a data
//! directory ([`init`], [`init_fast`]), settings edited in its `config.toml`
//! ([`NodeDir::configure`]), `portal serve` on port 0 or on its URL's address ([`Node`]),
//! whose printed `listening on http://ADDR` line gives its base URL; `portal member add` with
//! a pin ([`add_members`]); and every process stopped by its own PID ([`Proc`]): SIGTERM,
//! then SIGKILL when it lingers, also when a test panics (on drop), or kill -9 on purpose.
//! Nothing here kills by name.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::Duration;

use portal_proto::crypto::PublicKey;
use portal_proto::record::KeyGrant;

use crate::wait::blocking_until;

/// The workspace root (the kit lives in `tests/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is in the workspace").to_owned()
}

/// The debug `portal` binary, built on demand (it belongs to another package of the
/// workspace), next to the running test binary: `target/debug/deps/e2e-…` → `target/debug`.
pub fn portal_bin() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "-p", "portal"])
        .current_dir(workspace_root())
        .status()
        .expect("cargo builds the portal binary");
    assert!(status.success(), "building the portal binary failed");
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent().and_then(Path::parent).expect("target dir").join("portal")
}

/// What an async test starts with: the `portal` binary ([`portal_bin`], built off the async
/// workers) and a temporary directory for its nodes' data.
pub async fn bin_and_tmp() -> (PathBuf, tempfile::TempDir) {
    let bin = tokio::task::spawn_blocking(portal_bin).await.expect("the build task runs");
    (bin, tempfile::tempdir().expect("a temporary directory"))
}

/// What a `portal` command printed, and how it exited.
#[derive(Clone, Debug)]
pub struct Output {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Output {
    /// Whether it exited 0.
    pub fn ok(&self) -> bool {
        self.code == 0
    }
}

/// Run `portal ARGS` to completion with `RUST_LOG=warn`.
pub fn portal(bin: &Path, args: &[&str]) -> Output {
    portal_logging(bin, args, "warn")
}

/// Run `portal ARGS` to completion with `RUST_LOG=level`.
pub fn portal_logging(bin: &Path, args: &[&str], level: &str) -> Output {
    let out = Command::new(bin).args(args).env("RUST_LOG", level).output().expect("portal runs");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A child process, stopped by its own PID when dropped: SIGTERM first (nginx's master then
/// stops its workers; a node finishes in-flight requests), SIGKILL if it lingers past its
/// grace period.
#[derive(Debug)]
pub struct Proc {
    name: String,
    child: Child,
    /// Kept open so that a late write to standard output never meets a closed pipe.
    stdout: Option<BufReader<ChildStdout>>,
    grace: Duration,
}

impl Proc {
    /// Spawn `command` (standard input closed, output as configured by the caller).
    pub fn spawn(mut command: Command, name: &str) -> Result<Proc, String> {
        let child = command.stdin(Stdio::null()).spawn().map_err(|e| format!("{name}: {e}"))?;
        Ok(Proc { name: name.to_owned(), child, stdout: None, grace: Duration::from_secs(15) })
    }

    /// How long a stop waits after SIGTERM before SIGKILL (15 s unless set).
    pub fn with_grace(mut self, grace: Duration) -> Proc {
        self.grace = grace;
        self
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Its piped standard output (once; `None` if not piped or already taken).
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    /// Send `signal` (`TERM`, `INT`, …) to its PID, wait for it to exit for at most `within`;
    /// its exit status, or `None` when it had to be killed with SIGKILL.
    pub fn stop_with(&mut self, signal: &str, within: Duration) -> Option<ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        let _ = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .stderr(Stdio::null())
            .status();
        let mut status = None;
        blocking_until(within, Duration::from_millis(50), || {
            status = self.child.try_wait().ok().flatten();
            status.is_some()
        });
        if status.is_none() {
            eprintln!("{} (pid {}) ignored SIG{signal}; killing it", self.name, self.pid());
            self.kill9();
        }
        status
    }

    /// SIGTERM, then SIGKILL after the grace period; whether it exited by itself with 0.
    pub fn stop(&mut self) -> bool {
        let grace = self.grace;
        self.stop_with("TERM", grace).is_some_and(|s| s.success())
    }

    /// kill -9 (SIGKILL by PID), and reap it.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The arguments of `portal init`.
#[derive(Clone, Debug)]
pub struct InitArgs {
    /// The node id (`--id`).
    pub id: String,
    /// Its Vietnamese name (`--name`).
    pub name: String,
    /// Its English name (`--name-en`), if any.
    pub name_en: Option<String>,
    /// Its public URL (`--url`).
    pub url: String,
}

impl InitArgs {
    /// `--id ID --name NAME --url URL`.
    pub fn new(id: &str, name: &str, url: &str) -> InitArgs {
        InitArgs { id: id.into(), name: name.into(), name_en: None, url: url.into() }
    }

    /// With an English name too.
    pub fn name_en(mut self, en: &str) -> InitArgs {
        self.name_en = Some(en.into());
        self
    }

    /// The whole command line after the binary, for data directory `data`.
    pub fn args(&self, data: &Path) -> Vec<String> {
        let mut args = vec!["init".to_owned(), "--data".to_owned()];
        args.push(data.to_str().expect("data directories are UTF-8").to_owned());
        args.extend(["--id".into(), self.id.clone(), "--name".into(), self.name.clone()]);
        if let Some(en) = &self.name_en {
            args.extend(["--name-en".into(), en.clone()]);
        }
        args.extend(["--url".into(), self.url.clone()]);
        args
    }
}

/// A node's data directory after `portal init`, with what init printed.
#[derive(Clone, Debug)]
pub struct NodeDir {
    /// The node id.
    pub id: String,
    /// The data directory.
    pub data: PathBuf,
    /// Its public URL (where `portal serve` listens unless told otherwise).
    pub url: String,
    /// The editors' admin token.
    pub token: String,
    /// Its public key.
    pub key: PublicKey,
}

/// The value after `name` on a line of `portal init`'s output (token, key id, public key).
pub fn init_field(out: &str, name: &str) -> Option<String> {
    out.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next())
        .map(str::to_owned)
}

/// `portal init` into `data`.
pub fn init(bin: &Path, data: &Path, args: &InitArgs) -> Result<NodeDir, String> {
    let argv = args.args(data);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = portal(bin, &argv);
    if !out.ok() {
        return Err(format!("portal init {}: {}", args.id, out.stderr));
    }
    let field = |name: &str| {
        init_field(&out.stdout, name)
            .ok_or_else(|| format!("portal init printed no {name:?}: {}", out.stdout))
    };
    let token = field("admin token:")?;
    let key = PublicKey::from_base64(&field("public key:")?)
        .map_err(|e| format!("portal init printed a bad public key: {e}"))?;
    Ok(NodeDir { id: args.id.clone(), data: data.to_owned(), url: args.url.clone(), token, key })
}

/// A free loopback port (bound, read, released: a node listens on its URL's address, which
/// members' descriptors and the central's callbacks use).
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// `http://127.0.0.1:PORT` on a free port.
pub fn free_url() -> Result<String, String> {
    Ok(format!("http://127.0.0.1:{}", free_port()?))
}

/// The settings that make a federation fast enough for a test: loopback members and
/// callbacks allowed, polling every second, a member unreachable after 2 s.
pub const FAST: [(&str, &str); 4] = [
    ("allow_private_callbacks", "true"),
    ("poll_seconds", "1"),
    ("allow_private_members", "true"),
    ("unreachable_after_seconds", "2"),
];

/// `portal init` of node `id` on a free port with the [`FAST`] settings.
pub fn init_fast(bin: &Path, data: &Path, id: &str, name: &str) -> Result<NodeDir, String> {
    let node = init(bin, data, &InitArgs::new(id, name, &free_url()?))?;
    node.configure(&FAST)?;
    Ok(node)
}

/// `config` with the first `key = …` line set to `key = value`.
pub fn set_setting(config: &str, key: &str, value: &str) -> Result<String, String> {
    let prefix = format!("{key} =");
    let mut found = false;
    let mut out = String::with_capacity(config.len() + 16);
    for line in config.lines() {
        if !found && line.trim_start().starts_with(&prefix) {
            found = true;
            out.push_str(&format!("{key} = {value}"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    if found { Ok(out) } else { Err(format!("config.toml has no `{key} =` line:\n{config}")) }
}

/// A setting's value as written in `config` (`?` when it has none).
pub fn setting(config: &str, key: &str) -> String {
    let prefix = format!("{key} =");
    config
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(&prefix).map(|v| v.trim().to_owned()))
        .unwrap_or_else(|| "?".into())
}

impl NodeDir {
    /// Its `config.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.data.join("config.toml")
    }

    /// The text of its `config.toml`.
    pub fn config(&self) -> Result<String, String> {
        let path = self.config_path();
        std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Set each `(key, value)` in `config.toml` (the first line of that key); an error names
    /// a key that init did not write.
    pub fn configure(&self, settings: &[(&str, &str)]) -> Result<(), String> {
        let mut config = self.config()?;
        for (key, value) in settings {
            config = set_setting(&config, key, value)?;
        }
        let path = self.config_path();
        std::fs::write(&path, config).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Listen on `addr` instead of the URL's address (a top-level `listen` key, written
    /// before the first section): the node stands behind a proxy that has its URL.
    pub fn set_listen(&self, addr: &str) -> Result<(), String> {
        let config = self.config()?;
        let url_line = format!("url = \"{}\"", self.url);
        if !config.contains(&url_line) {
            return Err(format!("config.toml has no `{url_line}` line:\n{config}"));
        }
        let config = config.replacen(&url_line, &format!("{url_line}\nlisten = \"{addr}\""), 1);
        std::fs::write(self.config_path(), config).map_err(|e| e.to_string())
    }

    /// Its current signing seed, from `keys/node.key` (hex): to sign as this node in a test
    /// (a roster the central never published, say).
    pub fn seed(&self) -> Result<[u8; 32], String> {
        let path = self.data.join("keys/node.key");
        let hex = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let hex = hex.trim();
        let bytes: Vec<u8> = (0..hex.len() / 2)
            .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2).unwrap_or("zz"), 16))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{}: not hex: {e}", path.display()))?;
        bytes.try_into().map_err(|_| format!("{}: not 32 bytes", path.display()))
    }

    /// Its key pinned from index 0.
    pub fn grant(&self) -> KeyGrant {
        KeyGrant::pinned(self.key.clone())
    }

    /// `ID=KEY`, as `portal verify --trust` takes it.
    pub fn trust_arg(&self) -> String {
        format!("{}={}", self.id, self.key.to_base64())
    }

    /// The data directory as a string argument.
    pub fn data_arg(&self) -> &str {
        self.data.to_str().expect("data directories are UTF-8")
    }

    /// `portal serve` listening where its configuration says (its URL's address).
    pub fn serve(&self, bin: &Path) -> Node {
        Node::start_at_url(bin, &self.data)
    }

    /// `portal serve --listen 127.0.0.1:0`.
    pub fn serve_loopback(&self, bin: &Path) -> Node {
        Node::start(bin, &self.data)
    }
}

/// `portal member add --data CENTRAL URL --pin KEY` for each member, against the central's
/// data directory (through its running server when it runs).
pub fn add_members(bin: &Path, central: &NodeDir, members: &[&NodeDir]) -> Result<(), String> {
    for m in members {
        let out = member_add(bin, central, &m.url, Some(&m.key));
        if !out.ok() {
            return Err(format!("member add {}: {}", m.id, out.stderr));
        }
    }
    Ok(())
}

/// One `portal member add`, pinned or not.
pub fn member_add(bin: &Path, central: &NodeDir, url: &str, pin: Option<&PublicKey>) -> Output {
    let pin = pin.map(PublicKey::to_base64);
    let mut args = vec!["member", "add", "--data", central.data_arg(), url];
    if let Some(pin) = &pin {
        args.extend(["--pin", pin.as_str()]);
    }
    portal(bin, &args)
}

/// A `portal serve` process and the base URL it printed. Stopped by its PID when dropped.
#[derive(Debug)]
pub struct Node {
    proc: Proc,
    /// `http://ADDR` from its `listening on` line.
    pub base: String,
    bin: PathBuf,
    data: PathBuf,
    extra: Vec<String>,
}

impl Node {
    /// `portal serve --data DATA EXTRA…` (quiet: `RUST_LOG=warn`), once it printed where it
    /// listens.
    pub fn spawn(bin: &Path, data: &Path, extra: &[&str]) -> Result<Node, String> {
        let mut command = Command::new(bin);
        command
            .arg("serve")
            .arg("--data")
            .arg(data)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let label = format!("portal serve ({})", data.display());
        let mut proc = Proc::spawn(command, &label)?;
        let mut reader = proc.take_stdout().map(BufReader::new);
        let mut line = String::new();
        if let Some(r) = reader.as_mut() {
            let _ = r.read_line(&mut line);
        }
        proc.stdout = reader;
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| format!("{label} printed {line:?}, not its address"))?
            .to_owned();
        let extra = extra.iter().map(|s| (*s).to_owned()).collect();
        Ok(Node { proc, base, bin: bin.to_owned(), data: data.to_owned(), extra })
    }

    /// `portal serve --listen 127.0.0.1:0` (panics if it does not start).
    pub fn start(bin: &Path, data: &Path) -> Node {
        Node::spawn(bin, data, &["--listen", "127.0.0.1:0"]).expect("portal serve starts")
    }

    /// `portal serve` on the address of the node's configured URL (federations, where the
    /// URL others reach must be the real one). Panics if it does not start.
    pub fn start_at_url(bin: &Path, data: &Path) -> Node {
        Node::spawn(bin, data, &[]).expect("portal serve starts")
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// Whether it has exited.
    pub fn exited(&mut self) -> bool {
        self.proc.exited()
    }

    /// Stop gracefully with SIGTERM (by PID) and wait; whether it exited cleanly within 10 s
    /// (SIGKILL otherwise). It can be started again with [`Node::start_again`].
    pub fn stop(&mut self) -> bool {
        self.proc.stop_with("TERM", Duration::from_secs(10)).is_some_and(|s| s.success())
    }

    /// [`Node::stop`], consuming it.
    pub fn terminate(mut self) -> bool {
        self.stop()
    }

    /// kill -9 (SIGKILL by PID), and reap it.
    pub fn kill9(&mut self) {
        self.proc.kill9();
    }

    /// `portal serve` again on the same data with the same arguments, once this process has
    /// stopped (stopping it first if it still runs). On port 0 it gets a new port: `base` says
    /// which.
    pub fn start_again(&mut self) -> Result<(), String> {
        self.proc.stop();
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        *self = Node::spawn(&self.bin, &self.data, &extra)?;
        Ok(())
    }

    /// [`Node::stop`] then [`Node::start_again`]; whether the old process exited cleanly.
    pub fn restart(&mut self) -> Result<bool, String> {
        let clean = self.stop();
        self.start_again()?;
        Ok(clean)
    }
}

/// Copy a directory tree (a backup, a fork of a node's data).
pub fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    for entry in std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
        let entry = entry.map_err(|e| e.to_string())?;
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .map_err(|e| format!("{}: {e}", target.display()))?;
        }
    }
    Ok(())
}

/// A federation on 127.0.0.1: ministry nodes and the central node `chinh-phu`, each
/// `portal init`ed with the [`FAST`] settings on a free port of its own under one root
/// directory, served (on its URL's address) as its own `portal serve` process, and pinned by
/// the central with `portal member add --pin`.
#[derive(Debug)]
pub struct Federation {
    /// The `portal` binary.
    pub bin: PathBuf,
    /// The ministries, in the order given.
    pub members: Vec<NodeDir>,
    /// The central node.
    pub central: NodeDir,
    running: Vec<(String, Node)>,
}

impl Federation {
    /// `portal init` of each ministry `(id, name)` and of the central, under `root`; nothing
    /// runs yet.
    pub fn init(bin: &Path, root: &Path, members: &[(&str, &str)]) -> Result<Federation, String> {
        let init = |id: &str, name: &str| init_fast(bin, &root.join(id), id, name);
        let members = members.iter().map(|(id, name)| init(id, name)).collect::<Result<_, _>>()?;
        let central = init("chinh-phu", "Chính phủ")?;
        Ok(Federation { bin: bin.to_owned(), members, central, running: Vec::new() })
    }

    /// [`Federation::init`], every node served, every ministry added to the central.
    pub fn start(bin: &Path, root: &Path, members: &[(&str, &str)]) -> Result<Federation, String> {
        let mut f = Federation::init(bin, root, members)?;
        f.serve_all()?;
        f.add_members()?;
        Ok(f)
    }

    /// Serve every node that does not run yet, the central last.
    pub fn serve_all(&mut self) -> Result<(), String> {
        let ids: Vec<String> =
            self.members.iter().chain([&self.central]).map(|n| n.id.clone()).collect();
        for id in ids {
            if self.node(&id).is_none() {
                self.serve(&id)?;
            }
        }
        Ok(())
    }

    /// The central pins every ministry (`portal member add --pin`).
    pub fn add_members(&self) -> Result<(), String> {
        let members: Vec<&NodeDir> = self.members.iter().collect();
        add_members(&self.bin, &self.central, &members)
    }

    /// Node `id` (a ministry or the central).
    pub fn dir(&self, id: &str) -> &NodeDir {
        self.members
            .iter()
            .chain([&self.central])
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("no node {id} in the federation"))
    }

    /// Start `portal serve` for node `id` on its URL's address.
    pub fn serve(&mut self, id: &str) -> Result<&Node, String> {
        let data = self.dir(id).data.clone();
        let node = Node::spawn(&self.bin, &data, &[])?;
        self.running.push((id.to_owned(), node));
        Ok(&self.running.last().expect("just pushed").1)
    }

    /// The running process of node `id`, if it runs.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.running.iter().find(|(n, _)| n == id).map(|(_, node)| node)
    }

    /// Stop node `id` with SIGTERM; whether it exited cleanly (false if it did not run).
    pub fn stop(&mut self, id: &str) -> bool {
        match self.running.iter().position(|(n, _)| n == id) {
            Some(i) => self.running.remove(i).1.terminate(),
            None => false,
        }
    }

    /// The central's base URL.
    pub fn central_base(&self) -> &str {
        &self.central.url
    }

    /// Trust in the ministries' own keys (never the central's), as a third party holds it.
    pub fn member_trust(&self) -> portal_proto::envelope::TrustStore {
        trust_in(&self.members.iter().collect::<Vec<_>>())
    }

    /// Trust in the central's key alone (for its receipts and roster).
    pub fn central_trust(&self) -> portal_proto::envelope::TrustStore {
        trust_in(&[&self.central])
    }
}

/// A trust store pinning each node's key for its id.
pub fn trust_in(nodes: &[&NodeDir]) -> portal_proto::envelope::TrustStore {
    let mut trust = portal_proto::envelope::TrustStore::new();
    for n in nodes {
        let id = portal_proto::ids::NodeId::new(n.id.as_str()).expect("node ids are valid");
        trust.add(id, n.grant());
    }
    trust
}
