//! nginx and wrk, installed with apt when missing (as root), else SKIPPED with the command.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::say;

pub(super) struct Tools {
    pub(super) nginx: Result<PathBuf, String>,
    pub(super) wrk: Result<PathBuf, String>,
}

fn find_bin(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// While it lives, Debian's maintainer scripts do not start services: installing nginx must not
/// leave a daemon on port 80 that this harness did not start as its own child. Only created
/// (and removed again) when the machine has no policy yet.
struct NoServiceStart(Option<PathBuf>);

impl NoServiceStart {
    fn new() -> NoServiceStart {
        let path = PathBuf::from("/usr/sbin/policy-rc.d");
        if path.exists() {
            return NoServiceStart(None);
        }
        if std::fs::write(
            &path,
            "#!/bin/sh\n# portal-bench: no service starts during install\nexit 101\n",
        )
        .is_err()
        {
            return NoServiceStart(None);
        }
        let _ = Command::new("chmod").arg("755").arg(&path).status();
        say!("wrote {} (exit 101) so apt starts no nginx service", path.display());
        NoServiceStart(Some(path))
    }
}

impl Drop for NoServiceStart {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
            say!("removed {}", p.display());
        }
    }
}

fn apt_candidate(package: &str) -> bool {
    Command::new("apt-cache").args(["policy", package]).output().is_ok_and(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .any(|l| l.trim().strip_prefix("Candidate:").is_some_and(|c| c.trim() != "(none)"))
    })
}

fn apt_install(packages: &[&'static str]) -> Result<(), String> {
    let command = format!("apt-get update && apt-get install -y {}", packages.join(" "));
    if !is_root() {
        return Err(format!("not root, so not installing; run `sudo sh -c '{command}'`"));
    }
    if find_bin("apt-get").is_none() {
        return Err(format!("no apt-get on this machine; install {}", packages.join(" ")));
    }
    say!("{} missing: running `{command}`", packages.join(" and "));
    let quiet = |args: &[&str]| {
        let out = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("apt-get: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            Err(format!("`apt-get {}` failed: {}", args.join(" "), err.trim()))
        }
    };
    quiet(&["update", "-q"])?;
    let (available, missing): (Vec<&str>, Vec<&str>) =
        packages.iter().partition(|p| apt_candidate(p));
    if !available.is_empty() {
        let _guard = NoServiceStart::new();
        let mut args = vec!["install", "-y", "-q"];
        args.extend(&available);
        quiet(&args)?;
        say!("installed {}", available.join(" "));
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} has no installation candidate (`apt-cache policy {}`); no other load generator \
             is wired in (oha from crates.io would need `cargo install oha`)",
            missing.join(" "),
            missing.join(" ")
        ))
    }
}

impl Tools {
    pub(super) fn find_or_install() -> Tools {
        let wanted: [(&str, &'static str); 2] = [("nginx", "nginx"), ("wrk", "wrk")];
        let missing: Vec<&'static str> =
            wanted.iter().filter(|(b, _)| find_bin(b).is_none()).map(|(_, p)| *p).collect();
        let install_error = if missing.is_empty() { None } else { apt_install(&missing).err() };
        let get = |bin: &str| {
            find_bin(bin).ok_or_else(|| match &install_error {
                Some(e) => format!("{bin} not found and not installed: {e}"),
                None => format!("{bin} not found; install it with `apt-get install -y {bin}`"),
            })
        };
        let tools = Tools { nginx: get("nginx"), wrk: get("wrk") };
        for (name, t) in [("nginx", &tools.nginx), ("wrk", &tools.wrk)] {
            match t {
                Ok(p) => say!("{name}: {}", p.display()),
                Err(e) => say!("{name}: {e}"),
            }
        }
        tools
    }
}
