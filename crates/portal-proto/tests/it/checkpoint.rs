//! Checkpoint and signed-note tests: round trips, tampering, cosignatures, malformed
//! notes, and golang.org/x/mod/sumdb/note interop vectors.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use portal_proto::checkpoint::{
    ALG_COSIGNATURE_V1, ALG_ED25519, Checkpoint, CheckpointError, MAX_NOTE_BYTES, MAX_SIGNATURES,
    NoteSignature, NoteVerifier, SignedNote, VerifierKind, add_signature_line, cosign,
    cosignature_message, key_hash, open_checkpoint, open_note, sign_checkpoint, sign_note,
};
use portal_proto::crypto::Signer;
use portal_proto::merkle::{Hash, empty_root, leaf_hash};

const ORIGIN: &str = "ipsp/1/node-abc";
const WITNESS: &str = "witness.example/w1";

fn key(seed: u8) -> Signer {
    Signer::from_seed([seed; 32])
}

fn log_verifier(k: &Signer) -> NoteVerifier {
    NoteVerifier::ed25519(ORIGIN, k.public_key().as_bytes()).unwrap()
}

fn witness_verifier(k: &Signer) -> NoteVerifier {
    NoteVerifier::cosignature(WITNESS, k.public_key().as_bytes()).unwrap()
}

fn sample() -> Checkpoint {
    Checkpoint::with_time(ORIGIN, 20852163, leaf_hash(b"root"), 1_700_000_000)
}

#[test]
fn body_format_and_parse() {
    let cp = sample();
    let body = cp.body();
    assert_eq!(
        body,
        format!("{ORIGIN}\n20852163\n{}\ntime 1700000000\n", BASE64.encode(leaf_hash(b"root")))
    );
    assert_eq!(Checkpoint::parse_body(&body).unwrap(), cp);
    assert_eq!(cp.time(), Some(1_700_000_000));
    let plain = Checkpoint::new(ORIGIN, 0, empty_root());
    assert_eq!(plain.time(), None);
    assert_eq!(
        plain.body(),
        format!("{ORIGIN}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
    );
    assert_eq!(Checkpoint::parse_body(&plain.body()).unwrap(), plain);
    // The C2SP example body.
    let c2sp =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    let parsed = Checkpoint::parse_body(c2sp).unwrap();
    assert_eq!(parsed.size, 20852163);
    assert_eq!(parsed.body(), c2sp);
}

#[test]
fn time_extension_must_be_canonical() {
    let mut cp = sample();
    for bad in ["time 01", "time ", "time -1", "time 1 ", "Time 1", "time 18446744073709551616"] {
        cp.extensions = vec![bad.to_owned()];
        assert_eq!(cp.time(), None, "{bad}");
    }
    cp.extensions = vec!["time 0".to_owned(), "other".to_owned()];
    assert_eq!(cp.time(), Some(0));
}

#[test]
fn malformed_bodies_are_rejected() {
    let root = BASE64.encode(leaf_hash(b"x"));
    let bad = [
        String::new(),
        format!("{ORIGIN}\n1\n{root}"),    // no final newline
        format!("\n1\n{root}\n"),          // empty origin
        format!("{ORIGIN}\n01\n{root}\n"), // leading zero
        format!("{ORIGIN}\n+1\n{root}\n"), // sign
        format!("{ORIGIN}\n\n{root}\n"),   // empty size
        format!("{ORIGIN}\n18446744073709551616\n{root}\n"), // overflow
        format!("{ORIGIN}\n1\n"),          // no root
        format!("{ORIGIN}\n1\n{}\n", BASE64.encode([0u8; 31])), // short root
        format!("{ORIGIN}\n1\n{}\n", &root[..43]), // unpadded
        format!("{ORIGIN}\n1\n{root}\n\n"), // empty extension line
        format!("{ORIGIN}\n1\n{root}\ntime 1\r\n"), // control character
        format!("{ORIGIN}\n1\n{}\n", BASE64.encode([0u8; 32]).replace("AA=", "AB=")), // non-canonical
    ];
    for b in &bad {
        assert!(Checkpoint::parse_body(b).is_err(), "{b:?}");
    }
    let many = format!("{ORIGIN}\n1\n{root}\n{}", "x\n".repeat(17));
    assert!(Checkpoint::parse_body(&many).is_err());
}

#[test]
fn sign_and_open_round_trip() {
    let log = key(1);
    let cp = sample();
    let note = sign_checkpoint(&cp, ORIGIN, &log).unwrap();
    assert!(note.starts_with(&format!("{}\n\u{2014} {ORIGIN} ", cp.body())));
    assert!(note.ends_with('\n'));
    let opened = open_checkpoint(&note, &[log_verifier(&log)]).unwrap();
    assert_eq!(opened.checkpoint, cp);
    assert_eq!(opened.checkpoint.time(), Some(1_700_000_000));
    assert!(opened.cosignatures.is_empty());
    assert!(opened.unknown_signatures.is_empty());
    assert_eq!(opened.note.format(), note);

    // Signature line layout: key hash (4, big-endian) ‖ Ed25519 signature (64).
    let sig = &opened.note.signatures[0];
    assert_eq!(sig.key_hash, key_hash(ORIGIN, ALG_ED25519, log.public_key().as_bytes()));
    assert_eq!(sig.signature.len(), 64);
    log.public_key().verify(cp.body().as_bytes(), &sig.signature).unwrap();
}

#[test]
fn tampered_notes_are_rejected() {
    let log = key(1);
    let cp = sample();
    let note = sign_checkpoint(&cp, ORIGIN, &log).unwrap();
    let verifiers = [log_verifier(&log)];

    let mut other = cp.clone();
    other.size += 1;
    let tampered_size = note.replacen("20852163", "20852164", 1);
    assert!(matches!(
        open_checkpoint(&tampered_size, &verifiers),
        Err(CheckpointError::InvalidSignature { .. })
    ));

    let tampered_root =
        note.replacen(&BASE64.encode(cp.root), &BASE64.encode(leaf_hash(b"evil")), 1);
    assert!(matches!(
        open_checkpoint(&tampered_root, &verifiers),
        Err(CheckpointError::InvalidSignature { .. })
    ));

    let tampered_time = note.replacen("time 1700000000", "time 1700000001", 1);
    assert!(matches!(
        open_checkpoint(&tampered_time, &verifiers),
        Err(CheckpointError::InvalidSignature { .. })
    ));

    // Flip one bit of the signature, keeping the line well-formed.
    let mut parsed = SignedNote::parse(&note).unwrap();
    parsed.signatures[0].signature[10] ^= 1;
    assert!(matches!(
        open_checkpoint(parsed.format(), &verifiers),
        Err(CheckpointError::InvalidSignature { .. })
    ));

    // Truncated signature from the known key: an error, not ignored.
    let mut parsed = SignedNote::parse(&note).unwrap();
    parsed.signatures[0].signature.truncate(63);
    assert!(matches!(
        open_checkpoint(parsed.format(), &verifiers),
        Err(CheckpointError::InvalidSignature { .. })
    ));

    // Same size and root but a different origin: signed by the right key, wrong origin.
    let elsewhere = Checkpoint::with_time("ipsp/1/other", cp.size, cp.root, 1_700_000_000);
    let note2 = sign_checkpoint(&elsewhere, ORIGIN, &log).unwrap();
    assert!(matches!(
        open_checkpoint(&note2, &verifiers),
        Err(CheckpointError::OriginMismatch { .. })
    ));
}

#[test]
fn wrong_key_is_rejected() {
    let cp = sample();
    let note = sign_checkpoint(&cp, ORIGIN, &key(1)).unwrap();
    // Same name, different key: key hash differs, so the line is unknown.
    let err = open_checkpoint(&note, &[log_verifier(&key(2))]).unwrap_err();
    assert!(matches!(err, CheckpointError::MissingLogSignature { .. }), "{err:?}");
    // No verifiers at all.
    assert_eq!(open_checkpoint(&note, &[]).unwrap_err(), CheckpointError::NoVerifiers);
    // A witness key only: still no log signature.
    assert!(open_checkpoint(&note, &[witness_verifier(&key(1))]).is_err());
}

#[test]
fn cosignature_round_trip() {
    let log = key(1);
    let witness = key(7);
    let cp = sample();
    let note = sign_checkpoint(&cp, ORIGIN, &log).unwrap();
    let t = 1_700_000_123u64;
    let line = cosign(&cp, WITNESS, &witness, t).unwrap();
    assert!(line.starts_with(&format!("\u{2014} {WITNESS} ")));
    assert!(line.ends_with('\n'));

    // Payload layout: key hash (4) ‖ timestamp (8, big-endian) ‖ Ed25519 signature (64).
    let b64 = line.trim_end().rsplit(' ').next().unwrap();
    let raw = BASE64.decode(b64).unwrap();
    assert_eq!(raw.len(), 76);
    let kh = key_hash(WITNESS, ALG_COSIGNATURE_V1, witness.public_key().as_bytes());
    assert_eq!(raw[..4], kh.to_be_bytes());
    assert_eq!(raw[4..12], t.to_be_bytes());
    let msg = format!("cosignature/v1\ntime {t}\n{}", cp.body());
    assert_eq!(cosignature_message(&cp.body(), t), msg);
    let sig = &raw[12..];
    witness.public_key().verify(msg.as_bytes(), sig).unwrap();

    let cosigned = add_signature_line(&note, &line).unwrap();
    let verifiers = [log_verifier(&log), witness_verifier(&witness)];
    let opened = open_checkpoint(&cosigned, &verifiers).unwrap();
    assert_eq!(opened.checkpoint, cp);
    assert_eq!(opened.cosignatures.len(), 1);
    assert_eq!(opened.cosignatures[0].name, WITNESS);
    assert_eq!(opened.cosignatures[0].key_hash, kh);
    assert_eq!(opened.cosignatures[0].kind, VerifierKind::Cosignature);
    assert_eq!(opened.cosignatures[0].timestamp, Some(t));

    // Without the witness verifier the cosignature is an unknown signature.
    let opened = open_checkpoint(&cosigned, &verifiers[..1]).unwrap();
    assert!(opened.cosignatures.is_empty());
    assert_eq!(opened.unknown_signatures.len(), 1);

    // Re-cosigning replaces the witness's earlier line.
    let line2 = cosign(&cp, WITNESS, &witness, t + 60).unwrap();
    let recosigned = add_signature_line(&cosigned, &line2).unwrap();
    assert_eq!(SignedNote::parse(&recosigned).unwrap().signatures.len(), 2);
    let opened = open_checkpoint(&recosigned, &verifiers).unwrap();
    assert_eq!(opened.cosignatures[0].timestamp, Some(t + 60));

    // A cosignature of another checkpoint, or with a changed timestamp, fails.
    let other = Checkpoint::with_time(ORIGIN, cp.size + 1, cp.root, 1_700_000_000);
    let wrong = add_signature_line(&note, &cosign(&other, WITNESS, &witness, t).unwrap()).unwrap();
    assert!(matches!(
        open_checkpoint(&wrong, &verifiers),
        Err(CheckpointError::InvalidSignature { .. })
    ));
    let mut parsed = SignedNote::parse(&cosigned).unwrap();
    parsed.signatures[1].signature[7] ^= 1;
    assert!(matches!(
        open_checkpoint(parsed.format(), &verifiers),
        Err(CheckpointError::InvalidSignature { .. })
    ));
    // A cosignature key cannot verify as a plain Ed25519 note signature (different key hash).
    let as_log = NoteVerifier::ed25519(WITNESS, witness.public_key().as_bytes()).unwrap();
    let opened = open_checkpoint(&cosigned, &[log_verifier(&log), as_log]).unwrap();
    assert!(opened.cosignatures.is_empty());
}

#[test]
fn cosignature_timestamp_limit() {
    let cp = sample();
    let w = key(7);
    assert!(cosign(&cp, WITNESS, &w, i64::MAX as u64).is_ok());
    assert_eq!(
        cosign(&cp, WITNESS, &w, i64::MAX as u64 + 1),
        Err(CheckpointError::TimestampOutOfRange(i64::MAX as u64 + 1))
    );
    assert_eq!(cosign(&cp, "bad name", &w, 1), Err(CheckpointError::InvalidKeyName));
}

#[test]
fn signing_rejects_invalid_input() {
    let k = key(1);
    assert_eq!(sign_checkpoint(&sample(), "has space", &k), Err(CheckpointError::InvalidKeyName));
    assert_eq!(sign_checkpoint(&sample(), "a+b", &k), Err(CheckpointError::InvalidKeyName));
    assert_eq!(sign_checkpoint(&sample(), "", &k), Err(CheckpointError::InvalidKeyName));
    let mut cp = sample();
    cp.origin = "two\nlines".to_owned();
    assert!(sign_checkpoint(&cp, ORIGIN, &k).is_err());
    let mut cp = sample();
    cp.extensions.push(String::new());
    assert!(sign_checkpoint(&cp, ORIGIN, &k).is_err());
    assert!(sign_note("no newline", "n", &k).is_err());
    assert!(sign_note("tab\there\n", "n", &k).is_err());
}

#[test]
fn malformed_notes_are_errors_not_panics() {
    let log = key(1);
    let note = sign_checkpoint(&sample(), ORIGIN, &log).unwrap();
    let verifiers = [log_verifier(&log)];
    let body = sample().body();
    let line = note[body.len() + 1..].to_owned();
    let b64 = line.trim_end().rsplit(' ').next().unwrap().to_owned();
    let oversize = format!("{}\n{line}", body.clone() + &"x".repeat(MAX_NOTE_BYTES));
    let bad: Vec<Vec<u8>> = vec![
        Vec::new(),
        body.clone().into_bytes(),                  // no signatures
        format!("{body}{line}").into_bytes(),       // no blank line
        note.as_bytes()[..note.len() - 1].to_vec(), // no trailing newline
        format!("{body}\n").into_bytes(),           // blank line only
        format!("{body}\n\u{2014} {ORIGIN} {}!\n", &b64[..b64.len() - 1]).into_bytes(), // bad base64
        format!("{body}\n\u{2014} {ORIGIN} {}\n", b64.trim_end_matches('=')).into_bytes(), // unpadded
        format!("{body}\n\u{2014} {ORIGIN} \n").into_bytes(), // empty signature
        format!("{body}\n\u{2014} {ORIGIN} AAAAAA==\n").into_bytes(), // 4 bytes only
        format!("{body}\n\u{2014} {ORIGIN}\n").into_bytes(),  // no space
        format!("{body}\n- {ORIGIN} {b64}\n").into_bytes(),   // hyphen, not em dash
        format!("{body}\n\u{2014}{ORIGIN} {b64}\n").into_bytes(), // no space after dash
        format!("{body}\n\u{2014} bad+name {b64}\n").into_bytes(), // plus in name
        format!("{note}Unexpected line.\n").into_bytes(),     // trailing junk line
        format!("{body}\n{line}\n").into_bytes(),             // empty last line
        [b"\xff".as_slice(), note.as_bytes()].concat(),       // invalid UTF-8
        format!("\x01{note}").into_bytes(),                   // control character
        note.replace('\n', "\r\n").into_bytes(),              // CRLF
        oversize.into_bytes(),                                // too large
        format!("{body}\n{}", line.repeat(MAX_SIGNATURES + 1)).into_bytes(), // too many
    ];
    for (i, b) in bad.iter().enumerate() {
        assert!(SignedNote::parse(b).is_err(), "case {i}");
        assert!(open_checkpoint(b, &verifiers).is_err(), "case {i}");
    }
    assert!(matches!(
        SignedNote::parse(&bad[bad.len() - 2]),
        Err(CheckpointError::TooLarge { .. })
    ));
    assert_eq!(SignedNote::parse(&bad[bad.len() - 1]), Err(CheckpointError::TooManySignatures));
    // Exactly the limit of (duplicate) signature lines is accepted; duplicates are ignored.
    let many = format!("{body}\n{}", line.repeat(MAX_SIGNATURES));
    assert_eq!(open_checkpoint(&many, &verifiers).unwrap().checkpoint, sample());
    // A signed text that is not a checkpoint body.
    let text_note = format!("hello\n\n{}", sign_note("hello\n", ORIGIN, &log).unwrap());
    assert!(matches!(
        open_checkpoint(&text_note, &verifiers),
        Err(CheckpointError::InvalidCheckpoint(_))
    ));
    assert!(add_signature_line(&note, "not a line").is_err());
}

#[test]
fn weak_and_noncanonical_public_keys_are_rejected() {
    // The identity point (small order), its non-canonical encoding y = p + 1, and y = 0
    // (a point of order 4).
    let identity = {
        let mut k = [0u8; 32];
        k[0] = 1;
        k
    };
    let mut identity_plus_p = [0xffu8; 32];
    identity_plus_p[0] = 0xee;
    identity_plus_p[31] = 0x7f;
    for k in [identity, identity_plus_p, [0u8; 32]] {
        assert_eq!(
            NoteVerifier::ed25519("n", &k).unwrap_err(),
            CheckpointError::InvalidPublicKey,
            "{k:?}"
        );
    }
    // Non-canonical encodings y + p (y < 19) of points that are not of small order: the
    // decoder accepts them, the strict policy does not, while the canonical y is fine.
    let mut found = 0;
    for y in 0u8..19 {
        for sign in [0u8, 0x80] {
            let mut enc = [0xffu8; 32];
            enc[0] = 0xed + y;
            enc[31] = 0x7f | sign;
            let Ok(vk) = ed25519_dalek::VerifyingKey::from_bytes(&enc) else {
                continue;
            };
            if vk.is_weak() {
                continue;
            }
            let mut canonical = [0u8; 32];
            canonical[0] = y;
            canonical[31] = sign;
            assert!(NoteVerifier::ed25519("n", &canonical).is_ok(), "y={y}");
            assert_eq!(
                NoteVerifier::ed25519("n", &enc).unwrap_err(),
                CheckpointError::InvalidPublicKey,
                "y={y}"
            );
            found += 1;
        }
    }
    assert!(found > 0);
    assert_eq!(
        NoteVerifier::ed25519("n", &[1u8; 31]).unwrap_err(),
        CheckpointError::InvalidPublicKey
    );
    assert_eq!(
        NoteVerifier::ed25519("bad name", key(1).public_key().as_bytes()).unwrap_err(),
        CheckpointError::InvalidKeyName
    );
}

#[test]
fn vkey_round_trip() {
    let k = key(3);
    for v in [
        NoteVerifier::ed25519(ORIGIN, k.public_key().as_bytes()).unwrap(),
        NoteVerifier::cosignature(WITNESS, k.public_key().as_bytes()).unwrap(),
    ] {
        let back = NoteVerifier::from_vkey(&v.to_vkey()).unwrap();
        assert_eq!(back, v);
        assert_eq!(back.public_key(), *k.public_key().as_bytes());
    }
}

// ---------------------------------------------------------------------------
// golang.org/x/mod/sumdb/note known vectors (note.go and note_test.go).
// ---------------------------------------------------------------------------

const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_SKEY_B64: &str = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n";
const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

fn peter_signer() -> Signer {
    let raw = BASE64.decode(PETER_SKEY_B64).unwrap();
    assert_eq!(raw[0], ALG_ED25519);
    Signer::from_seed(raw[1..].try_into().unwrap())
}

#[test]
fn go_vkeys() {
    let peter = NoteVerifier::from_vkey(PETER_VKEY).unwrap();
    assert_eq!(peter.name(), "PeterNeumann");
    assert_eq!(peter.key_hash(), 0xc74f20a3);
    assert_eq!(peter.kind(), VerifierKind::Ed25519);
    assert_eq!(peter.to_vkey(), PETER_VKEY);
    assert_eq!(peter.public_key(), *peter_signer().public_key().as_bytes());
    let enoch = NoteVerifier::from_vkey(ENOCH_VKEY).unwrap();
    assert_eq!(enoch.key_hash(), 0xaf0cfe78);

    // As in TestNewVerifier: every proper substring and every one-byte change fails.
    let b = PETER_VKEY.as_bytes();
    for i in 0..=b.len() {
        for j in i + 1..=b.len() {
            if i != 0 || j != b.len() {
                let s = String::from_utf8_lossy(&b[i..j]);
                assert!(NoteVerifier::from_vkey(&s).is_err(), "{s}");
            }
        }
    }
    let mut m = b.to_vec();
    for i in 0..m.len() {
        m[i] += 1;
        let s = String::from_utf8_lossy(&m).into_owned();
        assert!(NoteVerifier::from_vkey(&s).is_err(), "{s}");
        m[i] -= 1;
    }
    // Wrong key length and unknown algorithm, each with an adjusted key hash.
    assert!(
        NoteVerifier::from_vkey(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        )
        .is_err()
    );
    assert!(
        NoteVerifier::from_vkey(
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        )
        .is_err()
    );
}

#[test]
fn go_sign_vector() {
    let line = sign_note(GO_TEXT, "PeterNeumann", &peter_signer()).unwrap();
    assert_eq!(line, PETER_SIG);
    let note = SignedNote {
        text: GO_TEXT.to_owned(),
        signatures: vec![NoteSignature::parse_line(&line).unwrap()],
    };
    assert_eq!(note.format(), format!("{GO_TEXT}\n{PETER_SIG}"));
}

#[test]
fn go_open_vectors() {
    let peter = NoteVerifier::from_vkey(PETER_VKEY).unwrap();
    let enoch = NoteVerifier::from_vkey(ENOCH_VKEY).unwrap();
    let msg = format!("{GO_TEXT}\n{PETER_SIG}{ENOCH_SIG}");

    // One verified, one not.
    let n = open_note(&msg, std::slice::from_ref(&peter)).unwrap();
    assert_eq!(n.note.text, GO_TEXT);
    assert_eq!(n.verified.len(), 1);
    assert_eq!((n.verified[0].name.as_str(), n.verified[0].key_hash), ("PeterNeumann", 0xc74f20a3));
    assert_eq!(n.unknown_signatures.len(), 1);
    assert_eq!(n.unknown_signatures[0].name, "EnochRoot");
    assert_eq!(n.unknown_signatures[0].key_hash, 0xaf0cfe78);

    // Both verified, in order.
    let n = open_note(&msg, &[peter.clone(), enoch.clone()]).unwrap();
    let names: Vec<&str> = n.verified.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["PeterNeumann", "EnochRoot"]);
    assert!(n.unknown_signatures.is_empty());

    // Neither verified.
    assert_eq!(open_note(&msg, &[]).unwrap_err(), CheckpointError::NoVerifiedSignature);

    // Duplicated verifier: ambiguous when used, fine when unused.
    let dup = [enoch.clone(), peter.clone(), enoch.clone()];
    assert!(matches!(
        open_note(format!("{GO_TEXT}\n{ENOCH_SIG}"), &dup),
        Err(CheckpointError::AmbiguousVerifier { .. })
    ));
    assert!(open_note(format!("{GO_TEXT}\n{PETER_SIG}"), &dup).is_ok());

    // Too many signatures.
    let many = format!("{GO_TEXT}\n{}", PETER_SIG.repeat(101));
    assert_eq!(
        open_note(&many, std::slice::from_ref(&peter)).unwrap_err(),
        CheckpointError::TooManySignatures
    );

    // Invalid signature by a known key.
    let bad_peter = format!("{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    assert!(matches!(
        open_note(format!("{GO_TEXT}\n{bad_peter}"), std::slice::from_ref(&peter)),
        Err(CheckpointError::InvalidSignature { key_hash: 0xc74f20a3, .. })
    ));

    // Duplicated verified and unverified signatures.
    let bad_enoch = format!("{}ABCD{}", &ENOCH_SIG[..60], &ENOCH_SIG[60..]);
    let n = open_note(
        format!("{GO_TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}{bad_enoch}"),
        std::slice::from_ref(&peter),
    )
    .unwrap();
    assert_eq!(n.verified.len(), 1);
    assert_eq!(n.unknown_signatures.len(), 2);
    assert_eq!(n.unknown_signatures[1].to_line(), bad_enoch);

    // Invalid encodings (TestOpen badMsgs).
    let bad = [
        GO_TEXT.to_owned(),
        format!("{GO_TEXT}\n"),
        format!("{GO_TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
        format!("\x01{GO_TEXT}\n{PETER_SIG}"),
        format!(
            "{GO_TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
        ),
        format!("{GO_TEXT}\n{PETER_SIG}Unexpected line.\n"),
    ];
    for b in &bad {
        assert!(open_note(b, std::slice::from_ref(&peter)).is_err(), "{b:?}");
    }
    assert!(
        open_note([b"\xff".as_slice(), msg.as_bytes()].concat(), std::slice::from_ref(&peter))
            .is_err()
    );

    // verify_signature checks the line's name and key hash too.
    let sig = NoteSignature::parse_line(PETER_SIG).unwrap();
    assert_eq!(peter.verify_signature(GO_TEXT, &sig), Ok(None));
    assert!(enoch.verify_signature(GO_TEXT, &sig).is_err());
}

/// The leaf hash type is shared with the Merkle module.
#[test]
fn checkpoint_root_is_a_merkle_hash() {
    let h: Hash = sample().root;
    assert_eq!(h, leaf_hash(b"root"));
}
