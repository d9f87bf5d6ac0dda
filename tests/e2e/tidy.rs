//! Tidy checks over every Rust file of the workspace (issue 13, "What it must show"): no
//! file over 1,000 lines except `jcs.rs`; no function over 120 lines in a `src/` directory;
//! no test function over 150 lines (a `#[test]` anywhere, or any function of a test
//! directory: `tests/e2e`, `crates/*/tests`). Functions are found by brace matching over the
//! text with strings, characters and comments blanked out, which is enough for this code.
//!
//! Every file is checked. The files listed in [`EXEMPT`] fail today and are being reworked on
//! other branches of the issue: they are reported, not asserted, until they are fixed; an
//! entry that no longer fails (or no longer exists) fails the test, so the list only shrinks.

use std::path::{Path, PathBuf};

use portal_tests::harness::workspace_root;

const MAX_FILE_LINES: usize = 1000;
const MAX_SRC_FN_LINES: usize = 120;
const MAX_TEST_FN_LINES: usize = 150;

/// Allowed over the file limit for good: RFC 8785's number formatting with its test tables.
const LONG_FILES_ALLOWED: &[&str] = &["crates/portal-proto/src/jcs.rs"];

/// Temporarily exempted (measured on this branch; each on another branch of issue 13):
/// files over 1,000 lines and files with a function over its limit. Remove an entry when its
/// file is fixed.
const EXEMPT: &[&str] = &[];

/// A function: where it starts, its name, its length in lines, and whether it is a test.
#[derive(Debug)]
struct Function {
    line: usize,
    name: String,
    lines: usize,
    test: bool,
}

/// Every `.rs` file below the workspace root, relative, skipping `target/` and hidden folders.
fn rust_files() -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" {
                    walk(root, &path, out);
                }
            } else if name.ends_with(".rs") {
                out.push(path.strip_prefix(root).expect("below the root").to_owned());
            }
        }
    }
    let root = workspace_root();
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort();
    out
}

fn rel(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

/// `src` with the contents of comments, strings and character literals replaced by spaces
/// (newlines kept), so that braces and `fn` in them are not seen.
fn blank(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let keep = |ch: char| if ch == '\n' { '\n' } else { ' ' };
    while i < c.len() {
        let start = i;
        if c[i] == '/' && at(&c, i + 1) == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if c[i] == '/' && at(&c, i + 1) == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && at(&c, i + 1) == Some('*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(&c, i + 1) == Some('/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if let Some(end) = raw_string_end(&c, i) {
            i = end;
        } else if c[i] == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c[i] == '\'' && at(&c, i + 1) == Some('\\') {
            i += 2;
            while i < c.len() && c[i] != '\'' {
                i += 1;
            }
            i += 1;
        } else if c[i] == '\'' && at(&c, i + 2) == Some('\'') {
            i += 3;
        } else {
            out.push(c[i]);
            i += 1;
            continue;
        }
        let end = i.min(c.len());
        out.extend(c[start..end].iter().map(|ch| keep(*ch)));
        i = end;
    }
    out
}

fn at(c: &[char], i: usize) -> Option<char> {
    c.get(i).copied()
}

/// The end of a raw string literal (`r"…"`, `r#"…"#`, `br"…"`) starting at `i`, if one does.
fn raw_string_end(c: &[char], i: usize) -> Option<usize> {
    let prev_is_ident = i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_');
    let mut j = i;
    if c.get(j) == Some(&'b') {
        j += 1;
    }
    if prev_is_ident || c.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let hashes = c[j..].iter().take_while(|ch| **ch == '#').count();
    j += hashes;
    if c.get(j) != Some(&'"') {
        return None;
    }
    j += 1;
    while j < c.len() {
        if c[j] == '"' && c[j + 1..].iter().take(hashes).filter(|ch| **ch == '#').count() == hashes
        {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(c.len())
}

/// Every function with a body in `src`, by brace matching.
fn functions(src: &str) -> Vec<Function> {
    let text = blank(src);
    let b: Vec<char> = text.chars().collect();
    // The line of each character, 1-based.
    let mut line_of = Vec::with_capacity(b.len() + 1);
    let mut line = 1;
    for ch in &b {
        line_of.push(line);
        if *ch == '\n' {
            line += 1;
        }
    }
    line_of.push(line);
    let line_at = |k: usize| line_of[k];
    let lines: Vec<&str> = src.lines().collect();
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut out = Vec::new();
    for k in 0..b.len().saturating_sub(3) {
        let boundary = k == 0 || !ident(b[k - 1]);
        if !(boundary && b[k] == 'f' && b[k + 1] == 'n' && b[k + 2].is_whitespace()) {
            continue;
        }
        let mut j = k + 2;
        while j < b.len() && b[j].is_whitespace() {
            j += 1;
        }
        let name: String = b[j..].iter().take_while(|ch| ident(**ch)).collect();
        if name.is_empty() {
            continue;
        }
        // The body's brace: the first `{` outside parentheses and brackets, unless a `;`
        // comes first (a declaration without a body).
        let mut depth = 0i32;
        let mut open = None;
        while j < b.len() {
            match b[j] {
                '(' | '[' => depth += 1,
                ')' | ']' => depth -= 1,
                ';' if depth == 0 => break,
                '{' if depth == 0 => {
                    open = Some(j);
                    break;
                }
                _ => {}
            }
            j += 1;
        }
        let Some(open) = open else { continue };
        let mut depth = 0;
        let mut close = open;
        for (n, ch) in b.iter().enumerate().skip(open) {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        close = n;
                        break;
                    }
                }
                _ => {}
            }
        }
        let line = line_at(k);
        let above = lines[..line - 1].iter().rev().take_while(|l| {
            let l = l.trim_start();
            l.starts_with("#[") || l.starts_with("///") || l.starts_with("//")
        });
        let test = above.into_iter().any(|l| l.contains("#[test]") || l.contains("::test"));
        out.push(Function { line, name, lines: line_at(close) - line + 1, test });
    }
    out
}

/// Whether `path` is test code: the end-to-end tests or a crate's integration tests.
fn in_test_directory(path: &str) -> bool {
    path.starts_with("tests/e2e/") || path.contains("/tests/")
}

/// The longest function so far of a kind: (lines, where).
type Longest = Option<(usize, String)>;

/// What breaks a rule, as `(path, what)`; and the longest src and test functions.
fn violations() -> (Vec<(String, String)>, [Longest; 2]) {
    let root = workspace_root();
    let mut out = Vec::new();
    let mut longest: [Longest; 2] = [None, None];
    for file in rust_files() {
        let path = rel(&file);
        let src = std::fs::read_to_string(root.join(&file)).expect("a readable source file");
        let n = src.lines().count();
        if n > MAX_FILE_LINES && !LONG_FILES_ALLOWED.contains(&path.as_str()) {
            out.push((path.clone(), format!("{n} lines (at most {MAX_FILE_LINES})")));
        }
        for f in functions(&src) {
            let test = f.test || in_test_directory(&path);
            let in_src = path.contains("src/") && !test;
            let limit = if test { MAX_TEST_FN_LINES } else { MAX_SRC_FN_LINES };
            let kind = usize::from(test);
            if (test || in_src) && longest[kind].as_ref().is_none_or(|(n, _)| f.lines > *n) {
                longest[kind] = Some((f.lines, format!("{path}:{} `{}`", f.line, f.name)));
            }
            if (test || in_src) && f.lines > limit {
                let kind = if test { "test function" } else { "function" };
                let what = format!("{kind} `{}` at line {}: {} lines", f.name, f.line, f.lines);
                out.push((path.clone(), format!("{what} (at most {limit})")));
            }
        }
    }
    (out, longest)
}

#[test]
fn no_long_files_or_functions_outside_the_temporary_exemptions() {
    let (all, [src, test]) = violations();
    eprintln!("tidy: the longest src function: {src:?}; the longest test function: {test:?}");
    for (path, what) in all.iter().filter(|(p, _)| EXEMPT.contains(&p.as_str())) {
        eprintln!("tidy: still failing (temporarily exempt): {path}: {what}");
    }
    let failing: Vec<String> = all
        .iter()
        .filter(|(p, _)| !EXEMPT.contains(&p.as_str()))
        .map(|(p, w)| format!("{p}: {w}"))
        .collect();
    assert!(failing.is_empty(), "split these:\n{}", failing.join("\n"));
    let stale: Vec<&&str> = EXEMPT.iter().filter(|e| !all.iter().any(|(p, _)| p == *e)).collect();
    assert!(stale.is_empty(), "these pass now: remove them from EXEMPT: {stale:?}");
}

#[test]
fn the_function_finder_sees_through_strings_comments_and_characters() {
    let src = "fn a() {\n    let s = \"}\";\n    let c = '}';\n    // }\n}\n\n#[test]\nfn b() -> &'static str {\n    r#\"{\"#\n}\nfn decl();\n";
    let found: Vec<(String, usize, bool)> =
        functions(src).into_iter().map(|f| (f.name, f.lines, f.test)).collect();
    assert_eq!(found, [("a".to_owned(), 5, false), ("b".to_owned(), 3, true)]);
}
