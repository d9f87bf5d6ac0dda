//! The map and the house's shape: ARCHITECTURE.md names only what exists and every crate that
//! does; crates depend only downwards; no import circle between the modules of any crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// The workspace's crates under `crates/`, by folder name (each folder is named like its crate).
fn crate_dirs() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("crates"))
        .expect("crates/ exists")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Every file in the tree (relative paths), skipping build output and git.
fn all_files() -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.filter_map(|e| e.ok()) {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name == "target" || name.starts_with('.') || name == "node_modules" {
                continue;
            }
            if p.is_dir() {
                walk(&p, base, out);
            } else if let Ok(rel) = p.strip_prefix(base) {
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(&root(), &root(), &mut out);
    out
}

/// The `code spans` of a Markdown text.
fn code_spans(text: &str) -> Vec<String> {
    let mut spans = Vec::new();
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find('`') {
            let after = &rest[start + 1..];
            let Some(end) = after.find('`') else { break };
            spans.push(after[..end].to_owned());
            rest = &after[end + 1..];
        }
    }
    spans
}

/// Whether a code span names a file: a path with a known extension, or a folder ending in `/`.
fn names_a_path(span: &str) -> bool {
    const EXT: [&str; 9] =
        [".rs", ".md", ".toml", ".html", ".css", ".json", ".yaml", ".conf", ".sh"];
    !span.contains(' ')
        && !span.contains('{')
        && !span.contains('*')
        && !span.starts_with('/')
        && !span.contains("://")
        && (EXT.iter().any(|e| span.ends_with(e)) || (span.ends_with('/') && span.len() > 1))
}

#[test]
fn architecture_md_names_only_files_and_crates_that_exist_and_every_crate() {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let files = all_files();
    let mut missing = Vec::new();
    for span in code_spans(&text) {
        let span = span.trim_end_matches(':').to_owned();
        // `DATA/…` is a node's data directory, `<room>` a placeholder: neither is in the tree.
        if span.starts_with("DATA/") || span.contains('<') {
            continue;
        }
        if span.starts_with("crates/portal") || span.starts_with("crates/xtask") {
            let name = span.trim_start_matches("crates/").split('/').next().unwrap_or_default();
            if !root().join("crates").join(name).is_dir() {
                missing.push(span.clone());
                continue;
            }
        }
        if !names_a_path(&span) {
            continue;
        }
        let exact = root().join(&span).exists();
        // A bare file name (`node.rs`) or a short path (`web/data.rs`) names a file somewhere
        // in the tree; the code map's headings say which crate.
        let somewhere = files.iter().any(|f| f == &span || f.ends_with(&format!("/{span}")))
            || (span.ends_with('/')
                && files.iter().any(|f| f.contains(&format!("/{span}")) || f.starts_with(&span)));
        if !exact && !somewhere {
            missing.push(span);
        }
    }
    assert!(missing.is_empty(), "ARCHITECTURE.md names files that do not exist: {missing:?}");
    let unmapped: Vec<String> =
        crate_dirs().into_iter().filter(|c| !text.contains(&format!("`crates/{c}`"))).collect();
    assert!(unmapped.is_empty(), "ARCHITECTURE.md's code map misses crates: {unmapped:?}");
}

/// The layers, bottom first: a crate may depend (normal dependencies) only on crates of lower
/// layers. ARCHITECTURE.md's "Dependencies" states the same order.
const LAYERS: &[&[&str]] = &[
    &["portal-proto"],
    &["portal-store", "portal-search", "portal-client", "portal-follow", "portal-http"],
    &["portal-publisher"],
    &["portal-hub", "portal-aggregator"],
    &["portal-web"],
    &["portal-server"],
    &["portal-tests"],
    &["portal", "portal-bench", "portal-examples", "xtask"],
];

fn layer(name: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&name))
}

#[test]
fn crates_depend_only_on_lower_layers_so_no_circle_between_crates() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(root())
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let packages = meta["packages"].as_array().expect("packages");
    let members: BTreeSet<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut problems = Vec::new();
    for p in packages {
        let name = p["name"].as_str().unwrap_or_default();
        let Some(own) = layer(name) else {
            problems.push(format!(
                "{name} is in no layer of this test (add it, and to ARCHITECTURE.md)"
            ));
            continue;
        };
        for d in p["dependencies"].as_array().into_iter().flatten() {
            let dep = d["name"].as_str().unwrap_or_default();
            let normal = d["kind"].is_null() || d["kind"] == "build";
            if !normal || !members.contains(dep) {
                continue;
            }
            match layer(dep) {
                Some(l) if l < own => {}
                _ => problems.push(format!("{name} depends on {dep}, which is not below it")),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The web portal reads through the aggregator's typed view, never the store.
    let web = std::fs::read_to_string(root().join("crates/portal-web/Cargo.toml")).expect("toml");
    assert!(!web.contains("portal-store"), "portal-web must not depend on portal-store");
}

/// A crate's modules: name (`node`, `web::pages`; `""` for the root) → source text without
/// comments.
fn modules(src: &Path) -> BTreeMap<String, String> {
    fn walk(dir: &Path, src: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.filter_map(|e| e.ok()) {
            let p = e.path();
            if p.is_dir() {
                walk(&p, src, out);
                continue;
            }
            if p.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let rel = p.strip_prefix(src).expect("below src").with_extension("");
            let mut parts: Vec<String> =
                rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            if parts.last().is_some_and(|l| l == "mod" || l == "lib" || l == "main") {
                parts.pop();
            }
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            let code: String = text
                .lines()
                .map(|l| l.split("//").next().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n");
            out.insert(parts.join("::"), code);
        }
    }
    let mut out = BTreeMap::new();
    walk(src, src, &mut out);
    out
}

/// The top-level module a module belongs to (`web::pages` → `web`).
fn top(module: &str) -> &str {
    module.split("::").next().unwrap_or_default()
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `code` refers to `name` as a path segment start (`name::`), not as part of a
/// longer identifier.
fn refers(code: &str, prefix: &str, name: &str) -> bool {
    let needle = format!("{prefix}{name}");
    code.match_indices(&needle).any(|(i, _)| {
        let before = code[..i].chars().next_back();
        let after = code[i + needle.len()..].chars().next();
        before.is_none_or(|c| !is_ident_char(c) && c != ':')
            && after.is_none_or(|c| !is_ident_char(c))
    })
}

/// Items the crate root re-exports, by the module they come from (`pub use node::{Node, …}`).
fn reexports(root_code: &str, tops: &BTreeSet<&str>) -> BTreeMap<String, String> {
    let mut reexports: BTreeMap<String, String> = BTreeMap::new();
    for line in root_code.lines().map(str::trim).filter(|l| l.starts_with("pub use ")) {
        let path = line.trim_start_matches("pub use ").trim_end_matches(';');
        let Some((module, items)) = path.split_once("::") else { continue };
        if !tops.contains(module) {
            continue;
        }
        let items = items.trim_start_matches('{').trim_end_matches('}');
        for item in items.split(',') {
            let item = item.trim().rsplit("::").next().unwrap_or_default().trim();
            let item = item.split(" as ").last().unwrap_or_default().trim();
            if !item.is_empty() {
                reexports.insert(item.to_owned(), module.to_owned());
            }
        }
    }
    reexports
}

/// Edges between the top-level modules of the crate at `src`: `a → b` when `a` names
/// `crate::b` (or, in the root, uses `b::` outside `mod` and `pub use` lines).
fn module_edges(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mods = modules(src);
    let tops: BTreeSet<&str> = mods.keys().map(|m| top(m)).filter(|t| !t.is_empty()).collect();
    let root_code = mods.get("").cloned().unwrap_or_default();
    let reexports = reexports(&root_code, &tops);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, code) in &mods {
        let from = top(module).to_owned();
        let code = if from.is_empty() {
            // The root's `mod` and `pub use` lines are its table of contents, not uses.
            code.lines()
                .filter(|l| {
                    let l = l.trim();
                    !(l.starts_with("mod ")
                        || l.starts_with("pub mod ")
                        || l.starts_with("pub use ")
                        || l.starts_with("pub(crate) mod "))
                })
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            code.clone()
        };
        for t in &tops {
            if *t == from {
                continue;
            }
            let uses = refers(&code, "crate::", t)
                || (from.is_empty() && refers(&code, "", t))
                || code.contains(&format!("use crate::{{{t}"))
                || code.contains(&format!(", {t}}}"))
                    && code.contains("use crate::{")
                    && refers(&code, "", t);
            if uses {
                edges.entry(from.clone()).or_default().insert((*t).to_owned());
            }
        }
        if !from.is_empty() {
            for (item, owner) in &reexports {
                if *owner != from && refers(&code, "crate::", item) {
                    edges.entry(from.clone()).or_default().insert(owner.clone());
                }
            }
            // An item defined in the root itself (`crate::init`) is a use of the root.
            let root_defines = |item: &str| {
                ["fn ", "struct ", "enum ", "const ", "static ", "type ", "trait "]
                    .iter()
                    .any(|k| refers(&root_code, k, item))
            };
            let mut rest = code.as_str();
            while let Some(i) = rest.find("crate::") {
                let after = &rest[i + 7..];
                let item: String = after.chars().take_while(|c| is_ident_char(*c)).collect();
                if !item.is_empty() && !tops.contains(item.as_str()) && root_defines(&item) {
                    edges.entry(from.clone()).or_default().insert(String::new());
                }
                rest = after;
            }
        }
    }
    edges
}

/// A circle in `edges`, if there is one.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(pos) = stack.iter().position(|s| s == n) {
            let mut cycle = stack[pos..].to_vec();
            cycle.push(n.to_owned());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_owned());
        for next in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for n in edges.keys() {
        if let Some(c) = visit(n, edges, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn no_import_circle_between_the_modules_of_any_crate() {
    let mut circles = Vec::new();
    let mut dirs: Vec<PathBuf> =
        crate_dirs().iter().map(|c| root().join("crates").join(c)).collect();
    dirs.push(root().join("tests"));
    dirs.push(root().join("examples"));
    for dir in dirs {
        for src in [dir.join("src"), dir.join("e2e"), dir.join("tests/it")] {
            if !src.is_dir() {
                continue;
            }
            if let Some(cycle) = find_cycle(&module_edges(&src)) {
                let named: Vec<String> = cycle
                    .iter()
                    .map(|m| if m.is_empty() { "(root)".into() } else { m.clone() })
                    .collect();
                circles.push(format!("{}: {}", src.display(), named.join(" → ")));
            }
        }
    }
    assert!(circles.is_empty(), "import circles:\n{}", circles.join("\n"));
}

#[test]
fn the_circle_finder_finds_a_circle_and_passes_a_tree() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    edges.entry("a".into()).or_default().insert("b".into());
    edges.entry("b".into()).or_default().insert("c".into());
    assert_eq!(find_cycle(&edges), None);
    edges.entry("c".into()).or_default().insert("a".into());
    assert_eq!(find_cycle(&edges), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
    assert!(refers("use crate::node::Node;", "crate::", "node"));
    assert!(!refers("use crate::nodes::Node;", "crate::", "node"));
    assert!(!refers("portal_publisher::node::now", "", "node"));
    assert!(refers("let n = node::open();", "", "node"));
}
