//! Ed25519 strict policy against Wycheproof, CCTV and RFC 8032 vectors; key ids and base64.

use std::path::PathBuf;

use portal_proto::crypto::{
    self, Base64Error, KeyError, KeyId, KeyIdError, PublicKey, SignatureError, Signer,
};

fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/")).join(rel)
}

fn read(rel: &str) -> Vec<u8> {
    let path = testdata(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length: {s}");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn verify(pk: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), String> {
    let key = PublicKey::from_bytes(pk).map_err(|e| format!("key: {e}"))?;
    key.verify(msg, sig).map_err(|e| format!("sig: {e}"))
}

/// Every Wycheproof Ed25519 case: "valid" ⇔ the key parses and the signature verifies.
#[test]
fn wycheproof_all_cases() {
    let doc: serde_json::Value =
        serde_json::from_slice(&read("wycheproof/ed25519_test.json")).unwrap();
    let (mut total, mut valid, mut mismatches) = (0, 0, Vec::new());
    for group in doc["testGroups"].as_array().unwrap() {
        let pk = hex(group["publicKey"]["pk"].as_str().unwrap());
        for t in group["tests"].as_array().unwrap() {
            let id = t["tcId"].as_u64().unwrap();
            let msg = hex(t["msg"].as_str().unwrap());
            let sig = hex(t["sig"].as_str().unwrap());
            let want_valid = match t["result"].as_str().unwrap() {
                "valid" => true,
                "invalid" => false,
                other => panic!("tcId {id}: unexpected result {other}"),
            };
            let got = verify(&pk, &msg, &sig);
            if got.is_ok() != want_valid {
                mismatches.push(format!(
                    "tcId {id} ({}): want valid={want_valid}, got {got:?}",
                    t["comment"]
                ));
            }
            total += 1;
            valid += usize::from(want_valid);
        }
    }
    assert!(mismatches.is_empty(), "policy disagrees with Wycheproof:\n{}", mismatches.join("\n"));
    assert_eq!((total, valid), (151, 88));
}

/// The flags that make the IPSP strict policy reject a CCTV vector.
///
/// Policy: A canonical and not small order (`PublicKey::from_bytes`), then
/// `verify_strict` (R canonical — it compares the re-encoded R' with the given
/// bytes — R not small order, S < ℓ, cofactorless equation). On the CCTV set:
/// * `low_order_A` → rejected by `from_bytes` (`SmallOrder`, or `NonCanonical`
///   for the alternative encodings; every `non_canonical_A` is also `low_order_A`);
/// * `low_order_R` → rejected by `verify_strict`'s small-order R check;
/// * `non_canonical_R` → rejected (R' is always canonical, so R' ≠ R bytes);
/// * `low_order_residue` → rejected: the torsion parts of R and [k]A do not
///   cancel, and the cofactorless equation sees them;
/// * `low_order_component_A` / `low_order_component_R` alone (mixed-order
///   points whose torsion parts cancel) → accepted: neither a blocklist nor
///   `is_small_order` can see them, and the equation holds;
/// * `reencoded_k` only occurs together with a non-canonical point → rejected.
///
/// So: accept ⇔ flags ∩ {low_order_A, low_order_R, non_canonical_A,
/// non_canonical_R, low_order_residue} = ∅. Result on the 914 vectors: 43
/// accepted (1 unflagged, 7 `low_order_component_A`, 35
/// `low_order_component_A`+`low_order_component_R`), 871 rejected.
const CCTV_REJECT_FLAGS: [&str; 5] =
    ["low_order_A", "low_order_R", "non_canonical_A", "non_canonical_R", "low_order_residue"];

#[test]
fn cctv_all_vectors() {
    let doc: serde_json::Value =
        serde_json::from_slice(&read("cctv-ed25519/ed25519vectors.json")).unwrap();
    let vectors = doc.as_array().unwrap();
    assert_eq!(vectors.len(), 914);
    let (mut accepted, mut rejected) = (0, 0);
    let mut accepted_flag_sets = std::collections::BTreeMap::<Vec<String>, usize>::new();
    for v in vectors {
        let n = v["number"].as_u64().unwrap();
        let pk = hex(v["key"].as_str().unwrap());
        let sig = hex(v["sig"].as_str().unwrap());
        let msg = v["msg"].as_str().unwrap().as_bytes();
        let mut flags: Vec<String> = match &v["flags"] {
            serde_json::Value::Null => Vec::new(),
            f => f.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_owned()).collect(),
        };
        flags.sort();
        let has = |f: &str| flags.iter().any(|x| x == f);

        // Key check alone: rejected exactly for low-order A, with the reason.
        let key = PublicKey::from_bytes(&pk);
        let want_key = if has("non_canonical_A") {
            Err(KeyError::NonCanonical)
        } else if has("low_order_A") {
            Err(KeyError::SmallOrder)
        } else {
            Ok(())
        };
        assert_eq!(key.map(|_| ()), want_key, "vector {n} {flags:?}");

        let want_accept = !CCTV_REJECT_FLAGS.iter().any(|f| has(f));
        let got = verify(&pk, msg, &sig);
        assert_eq!(got.is_ok(), want_accept, "vector {n} {flags:?}: {got:?}");
        if want_accept {
            accepted += 1;
            *accepted_flag_sets.entry(flags).or_default() += 1;
        } else {
            rejected += 1;
        }
    }
    assert_eq!((accepted, rejected), (43, 871));
    let sets: Vec<(Vec<String>, usize)> = accepted_flag_sets.into_iter().collect();
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        sets,
        vec![
            (s(&[]), 1),
            (s(&["low_order_component_A"]), 7),
            (s(&["low_order_component_A", "low_order_component_R"]), 35),
        ]
    );
}

/// Every RFC 8032 / SUPERCOP sign.input line: key derivation, signature and verification.
#[test]
fn rfc8032_sign_input() {
    let text = String::from_utf8(read("rfc8032/sign.input")).unwrap();
    let mut n = 0;
    for (i, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split(':').collect();
        assert_eq!(fields.len(), 5, "line {}", i + 1);
        let sk = hex(fields[0]);
        let pk = hex(fields[1]);
        let msg = hex(fields[2]);
        let sig_msg = hex(fields[3]);
        let seed: [u8; 32] = sk[..32].try_into().unwrap();
        let want_sig: [u8; 64] = sig_msg[..64].try_into().unwrap();
        assert_eq!(&sig_msg[64..], msg.as_slice(), "line {}", i + 1);

        let signer = Signer::from_seed(seed);
        assert_eq!(signer.to_seed(), seed);
        assert_eq!(
            signer.public_key().as_bytes().as_slice(),
            pk.as_slice(),
            "line {}: public key",
            i + 1
        );
        assert_eq!(&sk[32..], pk.as_slice());
        assert_eq!(signer.sign(&msg), want_sig, "line {}: signature", i + 1);
        let key = PublicKey::from_bytes(&pk).unwrap();
        assert_eq!(key, signer.public_key());
        key.verify(&msg, &want_sig).unwrap();
        // Any single-bit change breaks it.
        let mut bad = want_sig;
        bad[i % 64] ^= 1 << (i % 8);
        assert_eq!(key.verify(&msg, &bad), Err(SignatureError::Invalid));
        n += 1;
    }
    assert_eq!(n, 128);
}

#[test]
fn signature_length_is_exact() {
    let signer = Signer::from_seed([7; 32]);
    let key = signer.public_key();
    let sig = signer.sign(b"m");
    assert_eq!(key.verify(b"m", &sig), Ok(()));
    assert_eq!(key.verify(b"m", &sig[..63]), Err(SignatureError::InvalidLength { len: 63 }));
    let mut long = sig.to_vec();
    long.push(0);
    assert_eq!(key.verify(b"m", &long), Err(SignatureError::InvalidLength { len: 65 }));
    assert_eq!(key.verify(b"m", &[]), Err(SignatureError::InvalidLength { len: 0 }));
    assert_eq!(key.verify(b"n", &sig), Err(SignatureError::Invalid));
}

/// The low-order encodings listed in the CCTV README, plus keys with y ≥ p.
#[test]
fn rejects_small_order_and_non_canonical_keys() {
    let small = [
        ("0000000000000000000000000000000000000000000000000000000000000000", KeyError::SmallOrder),
        (
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            KeyError::NonCanonical,
        ),
        ("0000000000000000000000000000000000000000000000000000000000000080", KeyError::SmallOrder),
        (
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            KeyError::NonCanonical,
        ),
        ("0100000000000000000000000000000000000000000000000000000000000000", KeyError::SmallOrder),
        (
            "0100000000000000000000000000000000000000000000000000000000000080",
            KeyError::NonCanonical,
        ),
        (
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            KeyError::NonCanonical,
        ),
        (
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            KeyError::NonCanonical,
        ),
        ("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", KeyError::SmallOrder),
        ("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", KeyError::SmallOrder),
        ("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", KeyError::SmallOrder),
        ("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", KeyError::SmallOrder),
        ("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", KeyError::SmallOrder),
        (
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            KeyError::NonCanonical,
        ),
    ];
    for (h, want) in small {
        assert_eq!(PublicKey::from_bytes(&hex(h)), Err(want), "{h}");
    }
    // y = p + k for k = 0..=18 (the only 255-bit values ≥ p), both sign bits:
    // never accepted; the ones that are curve points are NonCanonical.
    let mut non_canonical = 0;
    for k in 0u8..=18 {
        for sign in [0u8, 0x80] {
            let mut b = [0xffu8; 32];
            b[0] = 0xed + k;
            b[31] = 0x7f | sign;
            match PublicKey::from_bytes(&b) {
                Err(KeyError::NonCanonical) => non_canonical += 1,
                Err(KeyError::NotOnCurve) => {}
                other => panic!("y = p + {k}, sign {sign}: {other:?}"),
            }
        }
    }
    assert!(non_canonical > 4, "{non_canonical}");
    assert_eq!(PublicKey::from_bytes(&[1; 31]), Err(KeyError::InvalidLength { len: 31 }));
    assert_eq!(PublicKey::from_bytes(&[1; 33]), Err(KeyError::InvalidLength { len: 33 }));
}

#[test]
fn key_id() {
    // RFC 8032 TEST 1 public key; SHA-256 prefix computed independently.
    let pk = hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    let key = PublicKey::from_bytes(&pk).unwrap();
    let kid = key.key_id();
    assert_eq!(kid.to_string(), "21fe31dfa154a261");
    assert_eq!(format!("{kid:?}"), "KeyId(21fe31dfa154a261)");
    assert_eq!(KeyId::new("21fe31dfa154a261"), Ok(kid.clone()));
    assert_eq!("21fe31dfa154a261".parse::<KeyId>(), Ok(kid.clone()));
    assert_eq!(kid.as_bytes(), &[0x21, 0xfe, 0x31, 0xdf, 0xa1, 0x54, 0xa2, 0x61]);
    assert_eq!(KeyId::from_bytes(*kid.as_bytes()), kid);
    assert_eq!(KeyId::new("21FE31DFA154A261"), Err(KeyIdError::InvalidCharacter { offset: 2 }));
    assert_eq!(KeyId::new("21fe31dfa154a26"), Err(KeyIdError::InvalidLength { len: 15 }));
    assert_eq!(KeyId::new("21fe31dfa154a2610"), Err(KeyIdError::InvalidLength { len: 17 }));
    assert_eq!(KeyId::new("21fe31dfa154a26g"), Err(KeyIdError::InvalidCharacter { offset: 15 }));
    assert_eq!(KeyId::new("21fe31dfa154a2é"), Err(KeyIdError::InvalidCharacter { offset: 14 }));
    assert_eq!(serde_json::to_string(&kid).unwrap(), "\"21fe31dfa154a261\"");
    assert_eq!(serde_json::from_str::<KeyId>("\"21fe31dfa154a261\"").unwrap(), kid);
    assert!(serde_json::from_str::<KeyId>("\"21FE31DFA154A261\"").is_err());
    assert!(serde_json::from_str::<KeyId>("123").is_err());
    // Owned-string deserialisation path (serde_json::Value holds owned strings).
    let v = serde_json::Value::String("21fe31dfa154a261".to_owned());
    assert_eq!(serde_json::from_value::<KeyId>(v).unwrap(), kid);
}

#[test]
fn base64_is_strict() {
    let signer = Signer::from_seed([9; 32]);
    let sig = signer.sign(b"hello");
    let text = crypto::signature_to_base64(&sig);
    assert_eq!(text.len(), 88);
    assert!(text.ends_with("=="));
    assert_eq!(crypto::signature_from_base64(&text), Ok(sig));
    // Missing padding, whitespace, URL-safe alphabet, wrong length.
    assert_eq!(
        crypto::signature_from_base64(text.trim_end_matches('=')),
        Err(SignatureError::Base64(Base64Error::Invalid))
    );
    assert!(crypto::signature_from_base64(&format!("{text}\n")).is_err());
    assert!(crypto::signature_from_base64(&format!(" {text}")).is_err());
    assert!(
        crypto::signature_from_base64(&text.replace('+', "-").replace('/', "_")).is_err()
            || !text.contains(['+', '/'])
    );
    assert_eq!(
        crypto::signature_from_base64(&crypto::encode_base64(&[0; 63])),
        Err(SignatureError::InvalidLength { len: 63 })
    );
    // Non-zero trailing bits: "AB==" and "AA==" would both decode to [0x00].
    assert_eq!(crypto::decode_base64("AA=="), Ok(vec![0]));
    assert_eq!(crypto::decode_base64("AB=="), Err(Base64Error::Invalid));
    assert_eq!(crypto::decode_base64("AAA="), Ok(vec![0, 0]));
    assert_eq!(crypto::decode_base64("AAB="), Err(Base64Error::Invalid));
    assert_eq!(crypto::decode_base64("AA"), Err(Base64Error::Invalid));
    assert_eq!(crypto::decode_base64("AA="), Err(Base64Error::Invalid));
    assert_eq!(crypto::decode_base64("AA==="), Err(Base64Error::Invalid));
    assert_eq!(crypto::decode_base64("AA==AA=="), Err(Base64Error::Invalid));
    assert_eq!(crypto::decode_base64(""), Ok(vec![]));
    assert_eq!(crypto::encode_base64(b"\xfb\xff"), "+/8=");
    assert_eq!(crypto::decode_base64("+/8="), Ok(b"\xfb\xff".to_vec()));
    assert_eq!(crypto::decode_base64("-_8="), Err(Base64Error::Invalid));

    // Fixed-length decoding.
    let h = crypto::encode_base64(&[7; 32]);
    assert_eq!(crypto::decode_base64_array::<32>(&h), Ok([7; 32]));
    assert_eq!(
        crypto::decode_base64_array::<64>(&h),
        Err(Base64Error::InvalidLength { expected: 64, len: 32 })
    );
    assert_eq!(
        crypto::decode_base64_array::<32>(h.trim_end_matches('=')),
        Err(Base64Error::Invalid)
    );

    // Public keys.
    let key = signer.public_key();
    let b64 = key.to_base64();
    assert_eq!(b64.len(), 44);
    assert_eq!(PublicKey::from_base64(&b64), Ok(key.clone()));
    assert_eq!(
        PublicKey::from_base64(b64.trim_end_matches('=')),
        Err(KeyError::Base64(Base64Error::Invalid))
    );
    assert_eq!(PublicKey::from_base64(&crypto::encode_base64(&[0; 32])), Err(KeyError::SmallOrder));
    assert_eq!(serde_json::to_string(&key).unwrap(), format!("\"{b64}\""));
    assert_eq!(serde_json::from_str::<PublicKey>(&format!("\"{b64}\"")).unwrap(), key);
    let zero = crypto::encode_base64(&[0; 32]);
    assert!(serde_json::from_str::<PublicKey>(&format!("\"{zero}\"")).is_err());
}

#[test]
fn signer_debug_hides_secret() {
    let seed = [0x5a; 32];
    let signer = Signer::from_seed(seed);
    let dbg = format!("{signer:?}");
    assert!(dbg.contains(&signer.public_key().to_base64()), "{dbg}");
    assert!(!dbg.contains("5a5a") && !dbg.contains("90, 90"), "{dbg}");
    assert!(!dbg.contains(&crypto::encode_base64(&seed)[..8]), "{dbg}");
}
