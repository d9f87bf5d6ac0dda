//! The contract with the shell, and the crate's own boundary: no I/O crate, no clock, no
//! randomness in `src/`.

use portal_follow::{Action, Event, HandleError, Stored};

use crate::sim::{Shell, at, key, transport};

#[test]
fn an_event_the_follower_does_not_wait_for_is_refused_and_changes_nothing() {
    let mut shell = Shell::new("bo-y-te", &key(1));
    let mut f = shell.follower(shell.config());
    let stray = Event::LogPage(Err(transport("https://bo-y-te.example.gov.vn/api/v1/log")));
    assert_eq!(
        f.handle(at(0), stray),
        Err(HandleError::Unexpected { expected: "tick", got: "log-page" })
    );
    assert_eq!((f.poll_action(), f.is_idle()), (None, true));

    f.handle(at(0), Event::Tick).expect("idle");
    assert!(matches!(f.poll_action(), Some(Action::Health(_))));
    assert_eq!(f.poll_action(), Some(Action::LoadStored { from: 0, limit: 1000 }));
    assert_eq!(
        f.handle(at(0), Event::Tick),
        Err(HandleError::Unexpected { expected: "stored", got: "tick" })
    );
    assert_eq!(f.poll_action(), None);
    // Still waiting for the store: its answer goes on with the round.
    let stored = Stored { size: 0, checkpoint: None, entries: vec![] };
    f.handle(at(0), Event::Stored(Ok(stored))).expect("what it waits for");
    assert!(matches!(f.poll_action(), Some(Action::FetchDescriptor { .. })));
    let descriptor = shell.perform(
        at(0),
        Action::FetchDescriptor {
            base: shell.member.url.clone(),
            grants: shell.member.keys.clone(),
        },
    );
    f.handle(at(0), descriptor.expect("an answer")).expect("what it waits for");
    assert!(matches!(f.poll_action(), Some(Action::Health(h)) if h.heartbeat == Some(3600)));
    assert!(matches!(f.poll_action(), Some(Action::FetchLogPage { after: 0, .. })));
}

/// `[dependencies]` of the crate's manifest: the names only.
fn dependencies(manifest: &str) -> Vec<&str> {
    manifest
        .lines()
        .skip_while(|l| l.trim() != "[dependencies]")
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .filter_map(|l| {
            l.split(['.', '=', ' ']).next().filter(|n| !n.is_empty() && !n.starts_with('#'))
        })
        .collect()
}

#[test]
fn the_crate_depends_on_the_protocol_core_and_serialisation_only_and_reads_no_clock() {
    let manifest = include_str!("../../Cargo.toml");
    assert_eq!(dependencies(manifest), ["portal-proto", "serde", "serde_json", "thiserror"]);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).expect("src/ is readable") {
        let path = entry.expect("an entry").path();
        let source = std::fs::read_to_string(&path).expect("a source file");
        files += 1;
        // Code only: the documentation may say what the shell reads.
        let code: Vec<&str> =
            source.lines().filter(|l| !l.trim_start().starts_with("//")).collect();
        let banned = [
            "SystemTime",
            "Instant",
            "std::fs",
            "std::net",
            "std::thread",
            "std::env",
            "tokio",
            "rand::",
        ];
        for word in banned {
            assert!(!code.iter().any(|l| l.contains(word)), "{} names {word}", path.display());
        }
    }
    assert!(files >= 6, "the sources were read: {files}");
}
