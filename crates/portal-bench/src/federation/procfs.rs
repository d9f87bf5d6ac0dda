//! `/proc`: a process's memory (VmRSS, VmHWM…) and CPU time, by thread.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::RSS_EVERY;

pub(crate) fn proc_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

pub(crate) fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Samples a process every 100 ms on a thread: its VmRSS (keeping the largest) and the CPU
/// time of each of its threads, so that threads which exit before the end (tantivy's indexing
/// workers, the blocking pool) are still counted by name.
pub(crate) struct ProcSampler {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<Sampled>,
}

#[derive(Default)]
pub(crate) struct Sampled {
    pub(crate) max_rss_kib: u64,
    pub(crate) samples: usize,
    /// Thread id → (name, CPU ticks at the last sample).
    pub(crate) threads: BTreeMap<String, (String, u64)>,
}

impl ProcSampler {
    pub(crate) fn start(pid: u32) -> ProcSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let pid_s = pid.to_string();
        let handle = std::thread::spawn(move || {
            let mut out = Sampled::default();
            while !flag.load(Ordering::Relaxed) {
                if let Some(kib) = proc_kib(pid, "VmRSS") {
                    out.max_rss_kib = out.max_rss_kib.max(kib);
                    out.samples += 1;
                }
                out.threads.extend(cpu_snapshot(&pid_s).threads);
                std::thread::sleep(RSS_EVERY);
            }
            out
        });
        ProcSampler { stop, handle }
    }

    pub(crate) fn finish(self) -> Sampled {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_default()
    }
}

pub(crate) fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// (command name, utime + stime in clock ticks) from a `/proc/…/stat` file.
fn stat_ticks(path: &str) -> Option<(String, u64)> {
    let text = std::fs::read_to_string(path).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the command.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((comm, utime + stime))
}

/// CPU time so far of a process (all its threads, exited ones included) and of each of its
/// live threads, by thread id.
pub(crate) struct CpuSnapshot {
    pub(crate) total: u64,
    pub(crate) threads: BTreeMap<String, (String, u64)>,
}

pub(crate) fn cpu_snapshot(pid: &str) -> CpuSnapshot {
    let total = stat_ticks(&format!("/proc/{pid}/stat")).map_or(0, |(_, t)| t);
    let mut threads = BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for entry in dir.flatten() {
            let tid = entry.file_name().to_string_lossy().into_owned();
            if let Some(t) = stat_ticks(&format!("/proc/{pid}/task/{tid}/stat")) {
                threads.insert(tid, t);
            }
        }
    }
    CpuSnapshot { total, threads }
}

/// CPU seconds between two snapshots: the total, and by thread name, largest first. Threads
/// of `after` may include exited ones, as last sampled.
pub(crate) fn cpu_between(before: &CpuSnapshot, after: &CpuSnapshot) -> (f64, Vec<(String, f64)>) {
    let hz = clock_ticks();
    let mut by_name: BTreeMap<String, u64> = BTreeMap::new();
    for (tid, (name, ticks)) in &after.threads {
        let earlier = before.threads.get(tid).map_or(0, |(_, t)| *t);
        *by_name.entry(name.clone()).or_default() += ticks.saturating_sub(earlier);
    }
    let total = after.total.saturating_sub(before.total);
    let live: u64 = by_name.values().sum();
    let mut named: Vec<(String, f64)> =
        by_name.into_iter().filter(|(_, t)| *t > 0).map(|(n, t)| (n, t as f64 / hz)).collect();
    if total > live {
        named.push(("(threads that exited between samples)".into(), (total - live) as f64 / hz));
    }
    named.sort_by(|a, b| b.1.total_cmp(&a.1));
    (total as f64 / hz, named)
}

pub(crate) fn cpu_text(named: &[(String, f64)]) -> String {
    named.iter().take(8).map(|(n, s)| format!("{n} {s:.1} s")).collect::<Vec<_>>().join(", ")
}
