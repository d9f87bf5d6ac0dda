//! wrk, the load generator: measured runs with exact totals, a check pass that inspects
//! every response, and the comparison of two sides in alternating rounds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{CONNECTIONS, WRK_THREADS, say, skip};
use crate::measure::{Row, median};

/// Exact totals from wrk's `done` hook. Defining only `done` keeps wrk on its fast path (no
/// per-response Lua), so the measured runs cost the load generator the same for both servers.
const SUMMARY_LUA: &str = r#"-- portal-bench: exact totals of a run
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "PORTAL-BENCH requests=%d bytes=%d connect=%d read=%d write=%d timeout=%d status=%d\n",
    summary.requests, summary.bytes, e.connect, e.read, e.write, e.timeout, e.status))
end
"#;

/// The check pass: every response's status and body length (args: status, length). Costs wrk
/// a Lua call per response, so it runs apart from the measured rounds.
const CHECK_LUA: &str = r#"-- portal-bench: count responses that are not exactly what we expect
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  want_status = tonumber(args[1]); want_len = tonumber(args[2])
  good = 0; wrong_status = 0; wrong_len = 0
end
function response(status, headers, body)
  if status ~= want_status then wrong_status = wrong_status + 1
  elseif #body ~= want_len then wrong_len = wrong_len + 1
  else good = good + 1 end
end
function done(summary, latency, requests)
  local g, s, l = 0, 0, 0
  for _, t in ipairs(threads) do
    g = g + t:get("good"); s = s + t:get("wrong_status"); l = l + t:get("wrong_len")
  end
  io.write(string.format("PORTAL-CHECK good=%d wrong_status=%d wrong_len=%d\n", g, s, l))
end
"#;

pub(super) struct Wrk {
    bin: PathBuf,
    summary_lua: PathBuf,
    check_lua: PathBuf,
    _dir: tempfile::TempDir,
}

/// One measured run.
#[derive(Clone, Copy, Default)]
struct Run {
    rps: f64,
    requests: u64,
    bytes: u64,
    socket_errors: u64,
    bad_status: u64,
}

fn keyed(line: &str) -> BTreeMap<&str, u64> {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| v.parse().ok().map(|v| (k, v)))
        .collect()
}

/// The `key=value` numbers of the line of wrk's output that starts with `prefix`, as a lookup
/// (0 for a key it lacks); an error naming `what` when there is no such line.
fn keyed_line<'a>(
    text: &'a str,
    prefix: &str,
    what: &str,
) -> Result<impl Fn(&str) -> u64 + 'a, String> {
    let values = text
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .map(keyed)
        .ok_or_else(|| format!("no {what} in wrk's output: {text}"))?;
    Ok(move |k: &str| values.get(k).copied().unwrap_or(0))
}

impl Wrk {
    pub(super) fn new(bin: PathBuf) -> Result<Wrk, String> {
        let dir = tempfile::Builder::new()
            .prefix("portal-bench-wrk-")
            .tempdir()
            .map_err(|e| format!("temporary directory: {e}"))?;
        let summary_lua = dir.path().join("summary.lua");
        let check_lua = dir.path().join("check.lua");
        std::fs::write(&summary_lua, SUMMARY_LUA).map_err(|e| e.to_string())?;
        std::fs::write(&check_lua, CHECK_LUA).map_err(|e| e.to_string())?;
        Ok(Wrk { bin, summary_lua, check_lua, _dir: dir })
    }

    fn run(
        &self,
        script: &Path,
        url: &str,
        header: Option<&str>,
        secs: u64,
        script_args: &[String],
    ) -> Result<String, String> {
        let mut c = Command::new(&self.bin);
        c.args(["-t", &WRK_THREADS.to_string(), "-c", &CONNECTIONS.to_string()])
            .args(["-d", &format!("{secs}s"), "--timeout", "10s", "-s"])
            .arg(script);
        if let Some(h) = header {
            c.args(["-H", h]);
        }
        c.arg(url);
        if !script_args.is_empty() {
            c.arg("--").args(script_args);
        }
        let out = c.stdin(Stdio::null()).output().map_err(|e| format!("wrk: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Err(format!(
                "wrk {url}: {}: {}{}",
                out.status,
                text.trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(text)
    }

    /// A measured run: Requests/sec as wrk prints it, and the exact totals.
    fn measure(&self, url: &str, header: Option<&str>, secs: u64) -> Result<Run, String> {
        let text = self.run(&self.summary_lua, url, header, secs, &[])?;
        let rps = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .ok_or_else(|| format!("no Requests/sec in wrk's output: {text}"))?;
        let get = keyed_line(&text, "PORTAL-BENCH ", "totals")?;
        Ok(Run {
            rps,
            requests: get("requests"),
            bytes: get("bytes"),
            socket_errors: get("connect") + get("read") + get("write") + get("timeout"),
            bad_status: get("status"),
        })
    }

    /// The check pass: (good, wrong status, wrong body length) over a 1 s run.
    fn check(
        &self,
        url: &str,
        header: Option<&str>,
        status: u16,
        len: usize,
    ) -> Result<(u64, u64, u64), String> {
        let args = [status.to_string(), len.to_string()];
        let text = self.run(&self.check_lua, url, header, 1, &args)?;
        let get = keyed_line(&text, "PORTAL-CHECK ", "counts")?;
        Ok((get("good"), get("wrong_status"), get("wrong_len")))
    }
}

/// One side of an HTTP comparison: where, and the header to send.
pub(super) struct Side<'a> {
    pub(super) who: &'static str,
    pub(super) url: String,
    pub(super) header: Option<&'a str>,
}

/// Check pass on both sides, then alternating measured rounds; ratio = first side / second.
pub(super) fn compare(
    mut r: Row,
    wrk: &Wrk,
    sides: [Side<'_>; 2],
    status: u16,
    body_len: usize,
    secs: u64,
    rounds: usize,
) -> Row {
    for s in &sides {
        match wrk.check(&s.url, s.header, status, body_len) {
            Ok((good, 0, 0)) if good > 0 => r.notes.push(format!(
                "{}: check pass (1 s, every response inspected): {good} responses, all \
                 {status} with {body_len}-byte bodies",
                s.who
            )),
            Ok((good, wrong_status, wrong_len)) => {
                return skip(
                    r,
                    format!(
                        "{} does not answer {status} with {body_len} bytes: {good} right, \
                         {wrong_status} with another status, {wrong_len} with another length",
                        s.who
                    ),
                );
            }
            Err(e) => return skip(r, e),
        }
    }
    let mut runs: [Vec<Run>; 2] = [Vec::new(), Vec::new()];
    let mut ratios = Vec::new();
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        let mut this = [Run::default(); 2];
        for i in order {
            match wrk.measure(&sides[i].url, sides[i].header, secs) {
                Ok(run) => this[i] = run,
                Err(e) => return skip(r, e),
            }
        }
        say!(
            "  round {}: {} {:.0} req/s, {} {:.0} req/s",
            round + 1,
            sides[0].who,
            this[0].rps,
            sides[1].who,
            this[1].rps
        );
        ratios.push(this[0].rps / this[1].rps);
        runs[0].push(this[0]);
        runs[1].push(this[1]);
    }
    for (s, runs) in sides.iter().zip(&runs) {
        let requests: u64 = runs.iter().map(|x| x.requests).sum();
        let bytes: u64 = runs.iter().map(|x| x.bytes).sum();
        let bad: u64 = runs.iter().map(|x| x.bad_status).sum();
        let socket: u64 = runs.iter().map(|x| x.socket_errors).sum();
        let per = bytes.checked_div(requests).unwrap_or(0);
        // Bytes read include headers: a 200 run reads at least the body per response; a 304 run
        // reads no body at all (well under one body per hundred responses).
        let bodies_ok = if status == 200 {
            requests > 0 && bytes >= requests * body_len as u64
        } else {
            requests > 0 && per < 1024
        };
        let verdict = if bad == 0 && socket == 0 && bodies_ok { "ok" } else { "CHECK FAILED" };
        let line = format!(
            "{}: measured runs: {requests} responses, {bad} non-2xx/3xx, {socket} socket errors, \
             {per} bytes read per response ({verdict})",
            s.who
        );
        if verdict != "ok" {
            say!("{}: {line}", r.name);
        }
        r.notes.push(line);
    }
    r.value = median(runs[0].iter().map(|x| x.rps).collect());
    r.reference = median(runs[1].iter().map(|x| x.rps).collect());
    r.ratio = median(ratios);
    r
}
