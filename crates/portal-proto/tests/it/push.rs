//! Push (SPEC.md §10): X-Hub-Signature (RFC 4231 vector), Content-Digest (RFC 9530 example), RFC 9421 B.2.6 interop and the IPSP signature profile.

use portal_proto::crypto::{KeyId, PublicKey, Signer, decode_base64, encode_base64};
use portal_proto::push::{
    self, PushError, SignatureParams, SignedRequest, build_signature_base, content_digest,
    hub_signature, sign_request, signature_base, verify_content_digest, verify_hub_signature,
    verify_request,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// X-Hub-Signature
// ---------------------------------------------------------------------------

/// RFC 4231 §4.3, test case 2: HMAC-SHA-256 with key "Jefe".
const RFC4231_CASE2: &str =
    "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";

#[test]
fn hmac_rfc4231_known_answer() {
    assert_eq!(hub_signature(b"Jefe", b"what do ya want for nothing?"), RFC4231_CASE2);
    verify_hub_signature(b"Jefe", b"what do ya want for nothing?", RFC4231_CASE2).unwrap();
    // Upper-case hex digits and surrounding OWS are accepted.
    let upper = format!("sha256={}", RFC4231_CASE2["sha256=".len()..].to_uppercase());
    verify_hub_signature(b"Jefe", b"what do ya want for nothing?", &upper).unwrap();
    verify_hub_signature(b"Jefe", b"what do ya want for nothing?", &format!(" {RFC4231_CASE2}\t"))
        .unwrap();
}

#[test]
fn hmac_tampered_body_or_secret_fails() {
    let body = b"what do ya want for nothing?";
    assert_eq!(
        verify_hub_signature(b"Jefe", b"what do ya want for nothing!", RFC4231_CASE2),
        Err(PushError::BadHmac)
    );
    assert_eq!(verify_hub_signature(b"jefe", body, RFC4231_CASE2), Err(PushError::BadHmac));
    assert_eq!(verify_hub_signature(b"", body, RFC4231_CASE2), Err(PushError::BadHmac));
    // One flipped hex digit.
    let mut flipped = RFC4231_CASE2.to_owned();
    flipped.replace_range(10..11, "d");
    assert_eq!(verify_hub_signature(b"Jefe", body, &flipped), Err(PushError::BadHmac));
    // A long secret (hashed first by HMAC) round-trips too.
    let secret = [0xaa; 199];
    verify_hub_signature(&secret, body, &hub_signature(&secret, body)).unwrap();
}

#[test]
fn hmac_other_forms_fail() {
    let body = b"what do ya want for nothing?";
    let hex = &RFC4231_CASE2["sha256=".len()..];
    for bad in [
        String::new(),
        hex.to_owned(),
        format!("SHA256={hex}"),
        format!("sha256:{hex}"),
        format!("sha256 = {hex}"),
        format!("sha1={hex}"),
        format!("sha512={hex}"),
        format!("sha256={}", &hex[..63]),
        format!("sha256={hex}0"),
        format!("sha256={hex}00"),
        format!("sha256={}g", &hex[..63]),
        format!("sha256=0x{}", &hex[..62]),
        format!("sha256={hex}, sha1=00"),
        "sha256=".to_owned(),
        format!("sha256=é{}", &hex[..62]),
    ] {
        assert_eq!(verify_hub_signature(b"Jefe", body, &bad), Err(PushError::BadHmac), "{bad:?}");
    }
}

// ---------------------------------------------------------------------------
// Content-Digest
// ---------------------------------------------------------------------------

/// RFC 9530 Appendix B: the body `{"hello": "world"}` and its sha-256 Content-Digest.
const HELLO: &[u8] = br#"{"hello": "world"}"#;
const HELLO_SHA256: &str = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:";
/// The sha-512 digest of the same body (the Content-Digest of RFC 9421's test-request).
const HELLO_SHA512: &str = "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:";

#[test]
fn content_digest_rfc9530_example() {
    assert_eq!(content_digest(HELLO), HELLO_SHA256);
    verify_content_digest(HELLO_SHA256, HELLO).unwrap();
    // Several algorithms, in either order, with RFC 8941 whitespace (and parameters, ignored).
    for header in [
        format!("{HELLO_SHA512}, {HELLO_SHA256}"),
        format!("{HELLO_SHA256},{HELLO_SHA512}"),
        format!("  {HELLO_SHA512} ,\t{HELLO_SHA256}  "),
        format!("md5=:AAAA:, {HELLO_SHA256};x=1, unixsum=?1"),
        // A repeated key keeps its last value.
        format!("sha-256=:AAAA:, {HELLO_SHA256}"),
    ] {
        verify_content_digest(&header, HELLO).unwrap_or_else(|e| panic!("{header:?}: {e}"));
    }
}

#[test]
fn content_digest_mismatches_fail() {
    let other = content_digest(b"{}");
    for header in [
        other.clone(),
        format!("{HELLO_SHA256}, {other}"), // the last sha-256 wins
        HELLO_SHA512.to_owned(),
        String::new(),
        "sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=".to_owned(),
        "SHA-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:".to_owned(),
        "sha-256=\"X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=\"".to_owned(),
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE:".to_owned(), // no padding
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=".to_owned(), // unterminated
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:,".to_owned(), // trailing comma
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DB===:".to_owned(),
        "sha-256=:AAAA:".to_owned(), // wrong length
        "sha-256".to_owned(),
        "sha-256=(:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:)".to_owned(),
    ] {
        assert_eq!(verify_content_digest(&header, HELLO), Err(PushError::BadDigest), "{header:?}");
    }
}

// ---------------------------------------------------------------------------
// RFC 9421 Appendix B.2.6 interop
// ---------------------------------------------------------------------------

/// RFC 4648 §5 base64url without padding, through the strict standard decoder.
fn base64url(s: &str) -> Vec<u8> {
    let mut std = s.replace('-', "+").replace('_', "/");
    while !std.len().is_multiple_of(4) {
        std.push('=');
    }
    decode_base64(&std).unwrap()
}

/// RFC 9421 Appendix B.1.4, `test-key-ed25519`: the JWK `d` (seed) and `x` (public key).
const RFC9421_ED25519_D: &str = "n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU";
const RFC9421_ED25519_X: &str = "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs";

/// RFC 9421 Appendix B.2.6: the signature base (RFC 8792 line wrapping undone) and the
/// signature, over the test-request of Appendix B.2:
///
/// ```text
/// POST /foo?param=Value&Pet=dog HTTP/1.1
/// Host: example.com
/// Date: Tue, 20 Apr 2021 02:07:55 GMT
/// Content-Type: application/json
/// Content-Digest: sha-512=:WZDPaVn/…==:
/// Content-Length: 18
/// ```
const B26_PARAMS: &str = r#"("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519""#;
const B26_BASE: &str = concat!(
    "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n",
    "\"@method\": POST\n",
    "\"@path\": /foo\n",
    "\"@authority\": example.com\n",
    "\"content-type\": application/json\n",
    "\"content-length\": 18\n",
    "\"@signature-params\": (\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" \"content-length\");created=1618884473;keyid=\"test-key-ed25519\"",
);
const B26_SIGNATURE: &str =
    "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==";

fn rfc9421_signer() -> Signer {
    Signer::from_seed(base64url(RFC9421_ED25519_D).try_into().unwrap())
}

#[test]
fn rfc9421_b26_reproduced_byte_for_byte() {
    let signer = rfc9421_signer();
    assert_eq!(signer.public_key().as_bytes().as_slice(), base64url(RFC9421_ED25519_X));

    // The component values, extracted by hand from the test-request as RFC 9421 §2.1–§2.2 say.
    let base = build_signature_base(
        &[
            ("date", "Tue, 20 Apr 2021 02:07:55 GMT"),
            ("@method", "POST"),
            ("@path", "/foo"),
            ("@authority", "example.com"),
            ("content-type", "application/json"),
            ("content-length", "18"),
        ],
        B26_PARAMS,
    );
    assert_eq!(base, B26_BASE);

    let signature = signer.sign(base.as_bytes());
    assert_eq!(encode_base64(&signature), B26_SIGNATURE);
    signer.public_key().verify(base.as_bytes(), &decode_base64(B26_SIGNATURE).unwrap()).unwrap();
}

// ---------------------------------------------------------------------------
// IPSP profile
// ---------------------------------------------------------------------------

const NOW: u64 = 1_795_856_400;
const CALLBACK: &str = "https://sub.example.org/websub/callback?id=42";
const BODY: &[u8] = br#"{"entries":[],"checkpoint":"x"}"#;

fn node() -> Signer {
    Signer::from_seed([7; 32])
}

fn other_node() -> Signer {
    Signer::from_seed([8; 32])
}

/// A key lookup that knows `node()` and `other_node()`.
fn keys(kid: &KeyId) -> Option<PublicKey> {
    [node(), other_node()].into_iter().map(|s| s.public_key()).find(|k| &k.key_id() == kid)
}

fn verify(req: &SignedRequest<'_>, input: &str, sig: &str, now: u64) -> Result<KeyId, PushError> {
    verify_request(req, input, sig, &keys, now, push::MAX_SKEW_SECONDS)
}

/// Runs `f` with the delivery request for `BODY`.
fn with_request<T>(f: impl FnOnce(&SignedRequest<'_>) -> T) -> T {
    let digest = content_digest(BODY);
    let req = SignedRequest {
        method: "POST",
        target_uri: CALLBACK,
        content_type: "application/json",
        content_digest: &digest,
    };
    f(&req)
}

#[test]
fn ipsp_headers_and_base_are_exact() {
    with_request(|req| {
        let kid = node().public_key().key_id();
        let (input, sig) = sign_request(req, &node(), NOW);
        let params = format!(
            r#"("@method" "@target-uri" "content-type" "content-digest");created=1795856400;keyid="{kid}";alg="ed25519";tag="ipsp-websub""#
        );
        assert_eq!(input, format!("ipsp={params}"));
        let sp = SignatureParams { created: NOW, keyid: kid.clone() };
        assert_eq!(sp.to_string(), params);
        let base = signature_base(req, &sp);
        assert_eq!(
            base,
            format!(
                "\"@method\": POST\n\"@target-uri\": {CALLBACK}\n\"content-type\": application/json\n\"content-digest\": {}\n\"@signature-params\": {params}",
                content_digest(BODY)
            )
        );
        // Deterministic, and the signature is Ed25519 over exactly that base.
        assert_eq!(sign_request(req, &node(), NOW), (input.clone(), sig.clone()));
        let b64 = sig.strip_prefix("ipsp=:").and_then(|s| s.strip_suffix(':')).unwrap();
        node().public_key().verify(base.as_bytes(), &decode_base64(b64).unwrap()).unwrap();
    });
}

#[test]
fn ipsp_round_trip() {
    with_request(|req| {
        let (input, sig) = sign_request(req, &node(), NOW);
        assert_eq!(verify(req, &input, &sig, NOW), Ok(node().public_key().key_id()));
        let (input, sig) = sign_request(req, &other_node(), NOW - 10);
        assert_eq!(verify(req, &input, &sig, NOW), Ok(other_node().public_key().key_id()));
        // Surrounding field whitespace is not part of a field value (RFC 9421 §2.1).
        let padded = SignedRequest {
            content_type: " application/json\t",
            content_digest: &format!("{} ", req.content_digest),
            ..*req
        };
        assert!(verify(&padded, &input, &sig, NOW).is_ok());
    });
}

#[test]
fn ipsp_tampered_request_fails() {
    with_request(|req| {
        let (input, sig) = sign_request(req, &node(), NOW);
        let other_digest = content_digest(b"{}");
        for (what, bad) in [
            ("method", SignedRequest { method: "PUT", ..*req }),
            ("method case", SignedRequest { method: "post", ..*req }),
            (
                "uri",
                SignedRequest {
                    target_uri: "https://sub.example.org/websub/callback?id=43",
                    ..*req
                },
            ),
            (
                "uri scheme",
                SignedRequest {
                    target_uri: "http://sub.example.org/websub/callback?id=42",
                    ..*req
                },
            ),
            ("content-type", SignedRequest { content_type: "application/xml", ..*req }),
            ("content-digest", SignedRequest { content_digest: &other_digest, ..*req }),
        ] {
            assert_eq!(verify(&bad, &input, &sig, NOW), Err(PushError::BadSignature), "{what}");
        }
    });
}

/// Replaces `from` by `to` in a header, checking that it was there.
fn edit(header: &str, from: &str, to: &str) -> String {
    assert!(header.contains(from), "{from:?} not in {header:?}");
    header.replacen(from, to, 1)
}

#[test]
fn ipsp_tampered_headers_fail() {
    with_request(|req| {
        let (input, sig) = sign_request(req, &node(), NOW);
        let kid = node().public_key().key_id().to_string();
        let other_kid = other_node().public_key().key_id().to_string();
        let unknown = Signer::from_seed([9; 32]).public_key().key_id();
        let cases: Vec<(String, PushError)> = vec![
            (edit(&input, "created=1795856400", "created=1795856401"), PushError::BadSignature),
            (edit(&input, &kid, &other_kid), PushError::BadSignature),
            (edit(&input, &kid, &unknown.to_string()), PushError::UnknownKey(unknown.clone())),
            (edit(&input, "ipsp-websub", "ipsp-other"), PushError::WrongTag),
            (edit(&input, ";tag=\"ipsp-websub\"", ""), PushError::WrongTag),
            (edit(&input, "tag=\"ipsp-websub\"", "tag=ipsp-websub"), PushError::WrongTag),
            (edit(&input, "\"ed25519\"", "\"rsa-pss-sha512\""), PushError::WrongAlgorithm),
            (edit(&input, ";alg=\"ed25519\"", ""), PushError::WrongAlgorithm),
            (edit(&input, "\"@method\" ", ""), PushError::WrongCoveredComponents),
            (
                edit(&input, "\"@method\" \"@target-uri\"", "\"@target-uri\" \"@method\""),
                PushError::WrongCoveredComponents,
            ),
            (
                edit(&input, "\"content-digest\")", "\"content-digest\" \"content-length\")"),
                PushError::WrongCoveredComponents,
            ),
            (
                edit(&input, "\"content-digest\")", "\"content-digest\";sf)"),
                PushError::WrongCoveredComponents,
            ),
            (edit(&input, "\"@method\"", "\"@METHOD\""), PushError::WrongCoveredComponents),
            (
                edit(&input, "\"@method\"", "@method"),
                PushError::MalformedSignatureHeader(String::new()),
            ),
        ];
        for (header, want) in cases {
            let got = verify(req, &header, &sig, NOW);
            match want {
                PushError::MalformedSignatureHeader(_) => assert!(
                    matches!(got, Err(PushError::MalformedSignatureHeader(_))),
                    "{header}: {got:?}"
                ),
                want => assert_eq!(got, Err(want), "{header}"),
            }
        }
        // A signature byte changed, or a signature from another node under our key id.
        let mut raw = decode_base64(&sig["ipsp=:".len()..sig.len() - 1]).unwrap();
        raw[5] ^= 1;
        let flipped = format!("ipsp=:{}:", encode_base64(&raw));
        assert_eq!(verify(req, &input, &flipped, NOW), Err(PushError::BadSignature));
        let (_, other_sig) = sign_request(req, &other_node(), NOW);
        assert_eq!(verify(req, &input, &other_sig, NOW), Err(PushError::BadSignature));
        // A signature of the wrong length.
        assert_eq!(verify(req, &input, "ipsp=:AAAA:", NOW), Err(PushError::BadSignature));
    });
}

#[test]
fn ipsp_created_window_both_ways() {
    with_request(|req| {
        let skew = push::MAX_SKEW_SECONDS;
        for (created, ok) in [
            (NOW, true),
            (NOW - skew, true),
            (NOW + skew, true),
            (NOW - skew - 1, false),
            (NOW + skew + 1, false),
            (0, false),
        ] {
            let (input, sig) = sign_request(req, &node(), created);
            let got = verify(req, &input, &sig, NOW);
            match (ok, created < NOW) {
                (true, _) => assert!(got.is_ok(), "{created}: {got:?}"),
                (false, true) => assert_eq!(got, Err(PushError::Expired { created, now: NOW })),
                (false, false) => assert_eq!(got, Err(PushError::Future { created, now: NOW })),
            }
        }
        // Edges of the clock do not overflow.
        let (input, sig) = sign_request(req, &node(), 0);
        assert!(verify_request(req, &input, &sig, &keys, 0, u64::MAX).is_ok());
        assert!(verify_request(req, &input, &sig, &keys, u64::MAX, u64::MAX).is_ok());
        assert_eq!(
            verify_request(req, &input, &sig, &keys, u64::MAX, 0),
            Err(PushError::Expired { created: 0, now: u64::MAX })
        );
        let big = 999_999_999_999_999; // the largest RFC 8941 integer
        let (input, sig) = sign_request(req, &node(), big);
        assert!(verify_request(req, &input, &sig, &keys, big, 0).is_ok());
        // Beyond it the header does not parse.
        let (input, sig) = sign_request(req, &node(), big + 1);
        assert!(matches!(
            verify_request(req, &input, &sig, &keys, big + 1, 0),
            Err(PushError::MalformedSignatureHeader(_))
        ));
    });
}

#[test]
fn ipsp_unknown_key() {
    with_request(|req| {
        let stranger = Signer::from_seed([9; 32]);
        let (input, sig) = sign_request(req, &stranger, NOW);
        assert_eq!(
            verify(req, &input, &sig, NOW),
            Err(PushError::UnknownKey(stranger.public_key().key_id()))
        );
        let nobody = |_: &KeyId| -> Option<PublicKey> { None };
        let (input, sig) = sign_request(req, &node(), NOW);
        assert_eq!(
            verify_request(req, &input, &sig, &nobody, NOW, 300),
            Err(PushError::UnknownKey(node().public_key().key_id()))
        );
    });
}

#[test]
fn ipsp_other_labels_do_not_matter() {
    with_request(|req| {
        let (input, sig) = sign_request(req, &node(), NOW);
        let kid = node().public_key().key_id();
        let b26_input = format!("sig-b26={B26_PARAMS}");
        let b26_sig = format!("sig-b26=:{B26_SIGNATURE}:");
        for (i, s) in [
            (
                format!("sig2=(\"@method\");created=1;keyid=\"x\", {input}"),
                format!("sig2=:AAAA:, {sig}"),
            ),
            (format!("{input},sig2=(\"@authority\")"), format!("{sig},sig2=:YWJj:")),
            (format!("{b26_input}, {input}"), format!("{sig}, {b26_sig}")),
            // Lenient and exotic items elsewhere: unpadded base64, tokens, decimals, booleans,
            // RFC 9651 dates and display strings.
            (
                format!(
                    "a=1.5;b=?0;c=tok/en:x, d=@1659578233, e=%\"f%c3%bc\", f, {input}, g=(1 2.25 \"s\\\\\")"
                ),
                format!("{sig}, sig2=:YWJ:, sig3=:YW=J=:"),
            ),
            // Several field lines joined as RFC 9110 says.
            (format!("{input}, sig2=()"), format!("sig2=:AAAA:,{sig}")),
        ] {
            assert_eq!(verify(req, &i, &s, NOW), Ok(kid.clone()), "{i} / {s}");
        }
        // Without our label, in either header.
        assert_eq!(verify(req, &b26_input, &sig, NOW), Err(PushError::MissingSignature));
        assert_eq!(verify(req, &input, &b26_sig, NOW), Err(PushError::MissingSignature));
        assert_eq!(verify(req, "", "", NOW), Err(PushError::MissingSignature));
        assert_eq!(verify(req, &input, "", NOW), Err(PushError::MissingSignature));
        // Our label under another name is not ours.
        let renamed = edit(&input, "ipsp=", "ipsp2=");
        assert_eq!(verify(req, &renamed, &sig, NOW), Err(PushError::MissingSignature));
    });
}

#[test]
fn ipsp_received_params_are_what_is_verified() {
    // A signer that writes the parameters in another order, with RFC 8941 whitespace in the
    // inner list: the verifier rebuilds `@signature-params` from what it received, canonically.
    with_request(|req| {
        let signer = node();
        let kid = signer.public_key().key_id();
        let params = format!(
            r#"("@method" "@target-uri" "content-type" "content-digest");tag="ipsp-websub";keyid="{kid}";alg="ed25519";created={NOW}"#
        );
        let components = [
            ("@method", req.method),
            ("@target-uri", req.target_uri),
            ("content-type", req.content_type),
            ("content-digest", req.content_digest),
        ];
        let sig = signer.sign(build_signature_base(&components, &params).as_bytes());
        let sig = format!("ipsp=:{}:", encode_base64(&sig));
        assert_eq!(verify(req, &format!("ipsp={params}"), &sig, NOW), Ok(kid.clone()));
        let spaced = format!(
            r#"ipsp=(  "@method"  "@target-uri" "content-type"   "content-digest" );tag="ipsp-websub";  keyid="{kid}";alg="ed25519";created=0{NOW}"#
        );
        assert_eq!(verify(req, &spaced, &sig, NOW), Ok(kid.clone()));
        // A repeated parameter keeps its last value and its first place (RFC 8941 §4.2.3.2).
        let repeated = format!("ipsp={params};tag=\"ipsp-websub\"");
        assert_eq!(verify(req, &repeated, &sig, NOW), Ok(kid));
    });
}

#[test]
fn ipsp_malformed_headers_are_errors() {
    with_request(|req| {
        let (input, sig) = sign_request(req, &node(), NOW);
        let kid = node().public_key().key_id().to_string();
        let bad_inputs = [
            format!("{input},"),
            format!("{input} x"),
            format!("IPSP{}", &input[4..]),
            input.replacen('(', "", 1),
            input.replacen(')', "", 1),
            edit(&input, "created=1795856400", "created=-1795856400"),
            edit(&input, "created=1795856400", "created=1795856400.5"),
            edit(&input, "created=1795856400", "created=\"1795856400\""),
            edit(&input, "created=1795856400", "created=1234567890123456"),
            edit(&input, ";created=1795856400", ""),
            edit(&input, &kid, &kid.to_uppercase()),
            edit(&input, &kid, "test-key-ed25519"),
            edit(&input, &format!("\"{kid}\""), "abc"),
            edit(&input, &format!(";keyid=\"{kid}\""), ""),
            format!("{input};expires=1795856700"),
            format!("{input};nonce=\"abc\""),
            "ipsp=:AAAA:".to_owned(),
            "ipsp".to_owned(),
            edit(&input, "ipsp-websub\"", "ipsp-websub"),
            edit(&input, "\"@method\"", "\"@méthod\""),
        ];
        for bad in &bad_inputs {
            let got = verify(req, bad, &sig, NOW);
            assert!(matches!(got, Err(PushError::MalformedSignatureHeader(_))), "{bad}: {got:?}");
        }
        let b64 = &sig["ipsp=:".len()..sig.len() - 1];
        let bad_sigs = [
            format!("{sig},"),
            format!("ipsp={b64}"),
            format!("ipsp=\"{b64}\""),
            format!("ipsp=:{}:", b64.trim_end_matches('=')),
            format!("ipsp=:{b64}"),
            format!("ipsp=(:{b64}:)"),
            format!("ipsp=:{}-:", &b64[..b64.len() - 3]),
            "ipsp".to_owned(),
        ];
        for bad in &bad_sigs {
            let got = verify(req, &input, bad, NOW);
            assert!(matches!(got, Err(PushError::MalformedSignatureHeader(_))), "{bad}: {got:?}");
        }
    });
}

#[test]
fn ipsp_control_characters_in_values_are_refused() {
    with_request(|req| {
        // The signer signs whatever it is given; the verifier refuses an ambiguous base.
        for (name, bad) in [
            ("@method", SignedRequest { method: "POST\n", ..*req }),
            ("@target-uri", SignedRequest { target_uri: "https://a.example/\r\nx", ..*req }),
            ("content-type", SignedRequest { content_type: "application/json\n\"x\": y", ..*req }),
            ("content-digest", SignedRequest { content_digest: "sha-256=:\0:", ..*req }),
        ] {
            let (input, sig) = sign_request(&bad, &node(), NOW);
            assert_eq!(
                verify(&bad, &input, &sig, NOW),
                Err(PushError::InvalidComponentValue(name))
            );
        }
    });
}

/// Strings made of the characters that drive the RFC 8941 parser, around a valid header.
fn sf_soup() -> impl Strategy<Value = String> {
    proptest::string::string_regex(r#"[a-z0-9A-Z=,;:()"\\ \t@%?*./+\-é]{0,80}"#).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary header values never panic, and never verify.
    #[test]
    fn arbitrary_headers_never_panic(input in any::<String>(), sig in any::<String>(), digest in any::<String>()) {
        with_request(|req| {
            prop_assert!(verify(req, &input, &sig, NOW).is_err());
            prop_assert!(verify_content_digest(&digest, BODY).is_err());
            prop_assert!(verify_hub_signature(b"secret", BODY, &digest).is_err());
            Ok(())
        })?;
    }

    /// Structured-field-like noise spliced into a valid pair of headers never panics; when it
    /// still verifies, it is our key id.
    #[test]
    fn spliced_headers_never_panic(prefix in sf_soup(), suffix in sf_soup(), at in 0usize..200, soup in sf_soup()) {
        with_request(|req| {
            let (input, sig) = sign_request(req, &node(), NOW);
            let at = at.min(input.len());
            let spliced = format!("{prefix}{}{soup}{}{suffix}", &input[..at], &input[at..]);
            if let Ok(kid) = verify(req, &spliced, &sig, NOW) {
                prop_assert_eq!(kid, node().public_key().key_id());
            }
            let sig_at = at.min(sig.len());
            let spliced_sig = format!("{prefix}{}{soup}{}{suffix}", &sig[..sig_at], &sig[sig_at..]);
            let _ = verify(req, &input, &spliced_sig, NOW);
            let _ = verify_content_digest(&format!("{prefix}{soup}{}", content_digest(BODY)), BODY);
            Ok(())
        })?;
    }
}
