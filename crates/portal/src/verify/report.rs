//! What `portal verify` prints: one line per entry, the summary, `--json`, and the failure
//! that ends a run, with its exit code.

use super::*;

/// How the run ended, beyond its entries.
#[derive(Debug)]
pub(super) struct Failure {
    pub(super) exit: u8,
    pub(super) code: String,
    pub(super) message: String,
}

impl Failure {
    pub(super) fn usage(message: impl Into<String>) -> Failure {
        Failure { exit: EXIT_USAGE, code: "usage".into(), message: message.into() }
    }

    pub(super) fn unreadable(code: &str, message: impl Into<String>) -> Failure {
        Failure { exit: EXIT_UNREADABLE, code: code.into(), message: message.into() }
    }

    pub(super) fn rejected(code: &str, message: impl Into<String>) -> Failure {
        Failure { exit: EXIT_REJECTED, code: code.into(), message: message.into() }
    }

    pub(super) fn from_client(e: &ClientError) -> Failure {
        match e {
            // A body over the cap is refused content (`too-large`), not an unreachable input.
            ClientError::Fetch(FetchError::TooLarge { .. }) => {
                Failure::rejected("too-large", e.to_string())
            }
            ClientError::Fetch(f @ FetchError::Refused { reason, .. })
                if reason.contains("not a public address") =>
            {
                Failure::unreadable(
                    f.code(),
                    format!("{e} (for a node on this machine or network, add --allow-private)"),
                )
            }
            ClientError::Fetch(f) => Failure::unreadable(f.code(), e.to_string()),
            other => Failure::rejected(other.code(), other.to_string()),
        }
    }

    pub(super) fn from_rejection(r: &Rejection, context: &str) -> Failure {
        Failure::rejected(r.code(), format!("{context}: {r}"))
    }
}

/// One reported entry.
#[derive(Debug)]
pub(super) struct Line {
    pub(super) n: String,
    pub(super) kind: String,
    pub(super) origin: String,
    pub(super) id: String,
    pub(super) title: String,
    pub(super) result: Result<(), (String, String)>,
}

impl Line {
    pub(super) fn human(&self) -> String {
        let verdict = match &self.result {
            Ok(()) => "ok".to_owned(),
            Err((code, reason)) => format!("REJECTED {code}: {reason}"),
        };
        let what = [self.origin.as_str(), self.id.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        let title =
            if self.title.is_empty() { String::new() } else { format!(" {:?}", self.title) };
        format!("{:>6}  {:<10} {what}{title}  {verdict}", self.n, self.kind)
    }

    pub(super) fn json(&self) -> Value {
        let (verdict, code, reason) = match &self.result {
            Ok(()) => ("ok", Value::Null, Value::Null),
            Err((code, reason)) => ("rejected", json!(code), json!(reason)),
        };
        json!({"n": self.n, "kind": self.kind, "origin": self.origin, "id": self.id,
               "title": self.title, "verdict": verdict, "code": code, "reason": reason})
    }
}

/// What is reported, built up as the run goes.
pub(super) struct Report {
    pub(super) json: bool,
    pub(super) input: String,
    pub(super) kind: String,
    pub(super) trust: Value,
    pub(super) trust_line: Option<String>,
    pub(super) lines: Vec<Value>,
    pub(super) verified: u64,
    pub(super) rejected: u64,
    pub(super) checkpoint: Option<Value>,
    pub(super) notes: Vec<String>,
    pub(super) failure: Option<Failure>,
    pub(super) progress: ProgressBar,
    /// Set when another verifier (evidence bundles) reported and chose the exit status.
    pub(super) delegated: Option<i32>,
}

impl Report {
    pub(super) fn new(args: &VerifyArgs) -> Report {
        let progress = if args.json || !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} {pos}/{len} entries verified [{bar:30}] {per_sec} {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        };
        Report {
            json: args.json,
            input: args.target.clone(),
            kind: "unknown".into(),
            trust: Value::Null,
            trust_line: None,
            lines: Vec::new(),
            verified: 0,
            rejected: 0,
            checkpoint: None,
            notes: Vec::new(),
            failure: None,
            progress,
            delegated: None,
        }
    }

    pub(super) fn set_trust(&mut self, source: &TrustSource) {
        self.trust = source.json();
        let line = source.human();
        if !self.json {
            self.progress.suspend(|| println!("{line}"));
        }
        self.trust_line = Some(line);
    }

    pub(super) fn entry(&mut self, line: Line) {
        match &line.result {
            Ok(()) => self.verified += 1,
            Err(_) => self.rejected += 1,
        }
        if self.json {
            self.lines.push(line.json());
        } else {
            let text = line.human();
            self.progress.suspend(|| println!("{text}"));
        }
    }

    pub(super) fn note(&mut self, note: String) {
        if !self.json {
            self.progress.suspend(|| println!("{note}"));
        }
        self.notes.push(note);
    }

    pub(super) fn exit_code(&self) -> u8 {
        match &self.failure {
            Some(f) => f.exit,
            None if self.rejected > 0 => EXIT_REJECTED,
            None => EXIT_OK,
        }
    }

    pub(super) fn finish(self) -> i32 {
        let code = self.print();
        let _ = std::io::Write::flush(&mut std::io::stdout());
        code
    }

    pub(super) fn print(self) -> i32 {
        self.progress.finish_and_clear();
        if let Some(code) = self.delegated {
            return code;
        }
        let exit = self.exit_code();
        let result = match exit {
            EXIT_OK => "verified",
            EXIT_REJECTED => "rejected",
            _ => "error",
        };
        if self.json {
            let doc = json!({
                "input": self.input,
                "kind": self.kind,
                "trust": self.trust,
                "entries": self.lines,
                "checkpoint": self.checkpoint,
                "notes": self.notes,
                "summary": {"entries": self.verified + self.rejected, "verified": self.verified,
                            "rejected": self.rejected},
                "error": self.failure.as_ref().map(|f| json!({"code": f.code, "message": f.message})),
                "result": result,
                "exit_code": exit,
            });
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_else(|_| doc.to_string()));
        } else {
            if let Some(f) = &self.failure {
                let label = if f.exit == EXIT_REJECTED { "REJECTED" } else { "error" };
                println!("{label} {}: {}", f.code, f.message);
            }
            println!(
                "{}: {} ({}), {} entries: {} verified, {} rejected — {}",
                result,
                self.input,
                self.kind,
                self.verified + self.rejected,
                self.verified,
                self.rejected,
                match exit {
                    EXIT_OK => "exit 0",
                    EXIT_REJECTED => "exit 1 (rejected)",
                    EXIT_USAGE => "exit 2 (usage or unrecognised input)",
                    _ => "exit 3 (could not fetch or read the input)",
                }
            );
        }
        i32::from(exit)
    }
}
