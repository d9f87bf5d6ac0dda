//! WebSub push (SPEC.md §10): the `X-Hub-Signature` HMAC, the RFC 9530 `Content-Digest` and the IPSP profile of RFC 9421 HTTP message signatures.
//!
//! A push is only a hint (the subscriber pulls the log whatever it finds), but a subscriber still
//! checks all three headers of a delivery:
//!
//! * [`verify_hub_signature`]: `X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, body)>`,
//!   compared in constant time;
//! * [`verify_content_digest`]: `Content-Digest: sha-256=:<base64 SHA-256(body)>:`;
//! * [`verify_request`]: the RFC 9421 signature labelled `ipsp`, which covers
//!   `("@method" "@target-uri" "content-type" "content-digest")` with the parameters `created`,
//!   `keyid`, `alg="ed25519"` and `tag="ipsp-websub"`, made by [`sign_request`].
//!
//! `Signature-Input`, `Signature` and `Content-Digest` are RFC 8941 dictionaries; this module
//! parses them itself (RFC 8941 §4.2, plus the RFC 9651 date and display-string items so that
//! other signatures in the same header never break ours). A header sent as several field lines
//! must be joined with `", "` by the caller, as RFC 9110 §5.3 says. Byte sequences that this
//! module reads (our signature, the `sha-256` digest) must be canonical padded base64, the IPSP
//! rule of SPEC.md §2.
//!
//! Nothing here reads the clock: `now` is an argument.

use std::collections::BTreeMap;
use std::fmt;

use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256};

use crate::crypto::{KeyId, PublicKey, Signer, decode_base64, encode_base64};
use crate::ids::hex_digit;

/// The RFC 9421 signature label of the IPSP profile.
pub const LABEL: &str = "ipsp";
/// The RFC 9421 `alg` parameter of the IPSP profile.
pub const ALG: &str = "ed25519";
/// The RFC 9421 `tag` parameter of the IPSP profile.
pub const TAG: &str = "ipsp-websub";
/// The covered components of the IPSP profile, in the order they are signed.
pub const COVERED_COMPONENTS: [&str; 4] =
    ["@method", "@target-uri", "content-type", "content-digest"];
/// The largest difference between `created` and the subscriber's clock that SPEC.md §10 allows
/// (5 minutes), in seconds: the usual `max_skew` for [`verify_request`].
pub const MAX_SKEW_SECONDS: u64 = 300;

/// Prefix of the only `X-Hub-Signature` form IPSP/1 uses.
const HUB_SIGNATURE_PREFIX: &str = "sha256=";

/// Why a push delivery's headers were not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// `X-Hub-Signature` is not `sha256=` followed by 64 hex digits, or is not the HMAC-SHA256
    /// of the body under the subscription's secret.
    #[error("X-Hub-Signature is not the sha256 HMAC of the body")]
    BadHmac,
    /// `Content-Digest` is not an RFC 8941 dictionary holding a `sha-256` byte sequence equal to
    /// the SHA-256 of the body (missing, malformed and mismatching alike).
    #[error("Content-Digest has no sha-256 digest matching the body")]
    BadDigest,
    /// `Signature-Input` or `Signature` has no member labelled `ipsp`.
    #[error("no signature labelled `ipsp`")]
    MissingSignature,
    /// `Signature-Input` or `Signature` is not an RFC 8941 dictionary, or the `ipsp` member does
    /// not have the profile's shape (an inner list with `created` a non-negative integer, `keyid`
    /// an IPSP key id string and no parameters but `created`, `keyid`, `alg` and `tag`; a byte
    /// sequence of canonical padded base64). The text says what is wrong.
    #[error("malformed signature header: {0}")]
    MalformedSignatureHeader(String),
    /// The `ipsp` signature does not cover exactly
    /// `("@method" "@target-uri" "content-type" "content-digest")`, in that order and without
    /// component parameters.
    #[error("the signature does not cover exactly the IPSP components")]
    WrongCoveredComponents,
    /// The `alg` parameter is missing or is not the string `"ed25519"`.
    #[error("signature algorithm is not \"ed25519\"")]
    WrongAlgorithm,
    /// The `tag` parameter is missing or is not the string `"ipsp-websub"`.
    #[error("signature tag is not \"ipsp-websub\"")]
    WrongTag,
    /// `created` is more than the allowed skew before `now`.
    #[error("signature created at {created} is too old (now {now})")]
    Expired {
        /// The signature's `created` (Unix seconds).
        created: u64,
        /// The verifier's clock (Unix seconds).
        now: u64,
    },
    /// `created` is more than the allowed skew after `now`.
    #[error("signature created at {created} is in the future (now {now})")]
    Future {
        /// The signature's `created` (Unix seconds).
        created: u64,
        /// The verifier's clock (Unix seconds).
        now: u64,
    },
    /// A covered request value holds a control character (CR, LF, NUL, …: anything below
    /// U+0020 but TAB, or DEL), which would make the signature base ambiguous. The payload is
    /// the component's name.
    #[error("covered component {0} holds a control character")]
    InvalidComponentValue(&'static str),
    /// The key lookup knows no key for the signature's `keyid`.
    #[error("unknown signing key {0}")]
    UnknownKey(KeyId),
    /// The signature is not 64 bytes, or does not verify under the key over the signature base
    /// rebuilt from the request (a changed method, URI, content type, digest or parameter).
    #[error("signature verification failed")]
    BadSignature,
}

// ---------------------------------------------------------------------------
// X-Hub-Signature (WebSub §8, sha256 form)
// ---------------------------------------------------------------------------

/// A fresh HMAC-SHA256 keyed with `secret`.
fn hmac_sha256(secret: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length (longer ones are hashed first, RFC 2104 §2), so this
    // never fails whatever the secret.
    <Hmac<Sha256> as hmac::Mac>::new_from_slice(secret).expect("HMAC accepts keys of any length")
}

/// The `X-Hub-Signature` value for `body`: `sha256=` and the lowercase hex HMAC-SHA256 of the
/// body under the subscription's `hub.secret`.
pub fn hub_signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = hmac_sha256(secret);
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let mut out = String::with_capacity(HUB_SIGNATURE_PREFIX.len() + 2 * tag.len());
    out.push_str(HUB_SIGNATURE_PREFIX);
    for b in tag {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

/// Lowercase hex digits.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Checks an `X-Hub-Signature` value against `body`. Only the `sha256=` form is accepted,
/// followed by exactly 64 hex digits (either case); surrounding spaces and tabs are ignored.
/// The MAC is compared in constant time.
///
/// # Errors
/// [`PushError::BadHmac`] for any other form or any mismatch.
pub fn verify_hub_signature(
    secret: &[u8],
    body: &[u8],
    header_value: &str,
) -> Result<(), PushError> {
    let hex = header_value
        .trim_matches([' ', '\t'])
        .strip_prefix(HUB_SIGNATURE_PREFIX)
        .ok_or(PushError::BadHmac)?;
    let tag = decode_hex_32(hex.as_bytes()).ok_or(PushError::BadHmac)?;
    let mut mac = hmac_sha256(secret);
    mac.update(body);
    mac.verify_slice(&tag).map_err(|_| PushError::BadHmac)
}

/// Decodes exactly 64 hex digits (either case) into 32 bytes.
fn decode_hex_32(hex: &[u8]) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *o = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
    }
    Some(out)
}

// ---------------------------------------------------------------------------
// Content-Digest (RFC 9530)
// ---------------------------------------------------------------------------

/// The `Content-Digest` value for `body`: `sha-256=:<base64 SHA-256(body)>:` (RFC 9530 §2).
pub fn content_digest(body: &[u8]) -> String {
    format!("sha-256=:{}:", encode_base64(&Sha256::digest(body)))
}

/// Checks a `Content-Digest` value against `body`. The header is an RFC 8941 dictionary and may
/// list several algorithms (`sha-512=:…:, sha-256=:…:`); the `sha-256` member must be present
/// and equal the SHA-256 of the body, the others are ignored.
///
/// # Errors
/// [`PushError::BadDigest`] if the header is not a dictionary, has no `sha-256` byte sequence
/// of canonical padded base64, or the digest differs.
pub fn verify_content_digest(header: &str, body: &[u8]) -> Result<(), PushError> {
    let dict = parse_dictionary(header).map_err(|_| PushError::BadDigest)?;
    let Some(Member::Item(Item { bare: Bare::Bytes(b64), .. })) = dict.get("sha-256") else {
        return Err(PushError::BadDigest);
    };
    let got = decode_base64(b64).map_err(|_| PushError::BadDigest)?;
    if got.as_slice() == Sha256::digest(body).as_slice() {
        Ok(())
    } else {
        Err(PushError::BadDigest)
    }
}

// ---------------------------------------------------------------------------
// RFC 9421, IPSP profile
// ---------------------------------------------------------------------------

/// The parts of a push delivery that the IPSP signature covers, as the HTTP layer sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedRequest<'a> {
    /// `@method`: the request method exactly as sent (case-sensitive; deliveries are `POST`).
    pub method: &'a str,
    /// `@target-uri`: the full absolute target URI as given (the subscription's callback URL).
    pub target_uri: &'a str,
    /// The `Content-Type` field value (surrounding spaces and tabs are stripped, RFC 9421 §2.1).
    pub content_type: &'a str,
    /// The `Content-Digest` field value (surrounding spaces and tabs are stripped).
    pub content_digest: &'a str,
}

impl<'a> SignedRequest<'a> {
    /// The covered components with their values, in signing order.
    fn components(&self) -> [(&'static str, &'a str); 4] {
        let [method, uri, ctype, digest] = COVERED_COMPONENTS;
        [
            (method, self.method),
            (uri, self.target_uri),
            (ctype, self.content_type.trim_matches([' ', '\t'])),
            (digest, self.content_digest.trim_matches([' ', '\t'])),
        ]
    }
}

/// The signature parameters of the IPSP profile. `alg` is always [`ALG`] and `tag` always
/// [`TAG`]. `Display` writes the RFC 8941 serialization used both in `Signature-Input` and as
/// the `@signature-params` value:
/// `("@method" "@target-uri" "content-type" "content-digest");created=…;keyid="…";alg="ed25519";tag="ipsp-websub"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureParams {
    /// Creation time, Unix seconds.
    pub created: u64,
    /// The signing node's key id.
    pub keyid: KeyId,
}

impl fmt::Display for SignatureParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_covered_components(f)?;
        write!(f, ";created={};keyid=\"{}\";alg=\"{ALG}\";tag=\"{TAG}\"", self.created, self.keyid)
    }
}

/// Writes `("@method" "@target-uri" "content-type" "content-digest")`.
fn write_covered_components(out: &mut impl fmt::Write) -> fmt::Result {
    out.write_char('(')?;
    for (i, c) in COVERED_COMPONENTS.iter().enumerate() {
        if i > 0 {
            out.write_char(' ')?;
        }
        write!(out, "\"{c}\"")?;
    }
    out.write_char(')')
}

/// The RFC 9421 §2.5 signature base for an ordered list of `(component name, value)` pairs and
/// the serialized signature parameters (the `@signature-params` value): one line
/// `"name": value` per component, each ending in LF, then `"@signature-params": params`, with no
/// trailing newline.
///
/// The names are written as given inside double quotes (plain lowercase names and derived
/// components such as `@method`; component parameters are not supported) and the values as
/// given: extracting and normalising them from a message (RFC 9421 §2.1–§2.2) is the caller's
/// part. [`signature_base`] is this function for the IPSP profile.
pub fn build_signature_base(components: &[(&str, &str)], signature_params: &str) -> String {
    let len = components.iter().map(|(n, v)| n.len() + v.len() + 5).sum::<usize>()
        + signature_params.len()
        + 22;
    let mut base = String::with_capacity(len);
    for (name, value) in components {
        base.push('"');
        base.push_str(name);
        base.push_str("\": ");
        base.push_str(value);
        base.push('\n');
    }
    base.push_str("\"@signature-params\": ");
    base.push_str(signature_params);
    base
}

/// The RFC 9421 §2.5 signature base of an IPSP delivery:
///
/// ```text
/// "@method": POST
/// "@target-uri": https://sub.example/cb
/// "content-type": application/json
/// "content-digest": sha-256=:…:
/// "@signature-params": ("@method" "@target-uri" "content-type" "content-digest");created=…;keyid="…";alg="ed25519";tag="ipsp-websub"
/// ```
///
/// (no newline after the last line).
pub fn signature_base(req: &SignedRequest<'_>, params: &SignatureParams) -> String {
    build_signature_base(&req.components(), &params.to_string())
}

/// Signs a delivery with the node's key. Returns the `Signature-Input` and `Signature` header
/// values, both labelled `ipsp`:
/// `ipsp=("@method" …);created=…;keyid="…";alg="ed25519";tag="ipsp-websub"` and
/// `ipsp=:<base64 Ed25519 signature over the signature base>:`.
///
/// `created` is Unix seconds. A value with a control character (see
/// [`PushError::InvalidComponentValue`]) or a `created` above 999 999 999 999 999 (the largest
/// RFC 8941 integer) makes headers that [`verify_request`] refuses.
pub fn sign_request(req: &SignedRequest<'_>, signer: &Signer, created: u64) -> (String, String) {
    let params = SignatureParams { created, keyid: signer.public_key().key_id() };
    let signature = signer.sign(signature_base(req, &params).as_bytes());
    (format!("{LABEL}={params}"), format!("{LABEL}=:{}:", encode_base64(&signature)))
}

/// Verifies the IPSP signature of a delivery and returns the key id that signed it.
///
/// `signature_input` and `signature` are the `Signature-Input` and `Signature` header values
/// (RFC 8941 dictionaries, which may hold other labels: only `ipsp` is read). The `ipsp`
/// signature must cover exactly [`COVERED_COMPONENTS`] in that order, carry exactly the
/// parameters `created`, `keyid`, `alg="ed25519"` and `tag="ipsp-websub"` (in any order), and
/// have `created` within `max_skew` seconds of `now` either way (SPEC.md §10:
/// [`MAX_SKEW_SECONDS`]). The signature base is rebuilt from the request's values and the
/// canonical serialization of the received parameters, then checked with [`PublicKey::verify`]
/// under the key that `keys` returns for `keyid`.
///
/// # Errors
/// In the order checked: [`PushError::MalformedSignatureHeader`] (a header is not a
/// dictionary), [`PushError::MissingSignature`], [`PushError::MalformedSignatureHeader`] (the
/// `ipsp` members' shape), [`PushError::WrongCoveredComponents`],
/// [`PushError::WrongAlgorithm`], [`PushError::WrongTag`],
/// [`PushError::MalformedSignatureHeader`] (parameters), [`PushError::Future`] /
/// [`PushError::Expired`], [`PushError::InvalidComponentValue`], [`PushError::UnknownKey`],
/// [`PushError::BadSignature`].
pub fn verify_request(
    req: &SignedRequest<'_>,
    signature_input: &str,
    signature: &str,
    keys: &dyn Fn(&KeyId) -> Option<PublicKey>,
    now: u64,
    max_skew: u64,
) -> Result<KeyId, PushError> {
    let malformed = PushError::MalformedSignatureHeader;
    let inputs = parse_dictionary(signature_input)
        .map_err(|e| malformed(format!("Signature-Input: {e}")))?;
    let signatures =
        parse_dictionary(signature).map_err(|e| malformed(format!("Signature: {e}")))?;
    let (Some(input), Some(sig)) = (inputs.get(LABEL), signatures.get(LABEL)) else {
        return Err(PushError::MissingSignature);
    };
    let Member::InnerList(items, params) = input else {
        return Err(malformed(format!("Signature-Input: `{LABEL}` is not an inner list")));
    };
    let Member::Item(Item { bare: Bare::Bytes(sig_b64), .. }) = sig else {
        return Err(malformed(format!("Signature: `{LABEL}` is not a byte sequence")));
    };
    let sig = decode_base64(sig_b64)
        .map_err(|_| malformed(format!("Signature: `{LABEL}` is not canonical padded base64")))?;

    let covers_profile = items.len() == COVERED_COMPONENTS.len()
        && items.iter().zip(COVERED_COMPONENTS).all(|(item, want)| {
            item.params.is_empty() && matches!(&item.bare, Bare::String(s) if s == want)
        });
    if !covers_profile {
        return Err(PushError::WrongCoveredComponents);
    }
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    if !matches!(param("alg"), Some(Bare::String(s)) if s == ALG) {
        return Err(PushError::WrongAlgorithm);
    }
    if !matches!(param("tag"), Some(Bare::String(s)) if s == TAG) {
        return Err(PushError::WrongTag);
    }
    if let Some((k, _)) =
        params.iter().find(|(k, _)| !matches!(k.as_str(), "created" | "keyid" | "alg" | "tag"))
    {
        return Err(malformed(format!("Signature-Input: unexpected parameter `{k}`")));
    }
    let created = match param("created") {
        Some(Bare::Integer(n)) => u64::try_from(*n)
            .map_err(|_| malformed("Signature-Input: `created` is negative".to_owned()))?,
        Some(_) => return Err(malformed("Signature-Input: `created` is not an integer".into())),
        None => return Err(malformed("Signature-Input: no `created` parameter".into())),
    };
    let keyid = match param("keyid") {
        Some(Bare::String(s)) => KeyId::new(s).map_err(|e| {
            malformed(format!("Signature-Input: `keyid` is not an IPSP key id: {e}"))
        })?,
        Some(_) => return Err(malformed("Signature-Input: `keyid` is not a string".into())),
        None => return Err(malformed("Signature-Input: no `keyid` parameter".into())),
    };

    if created > now.saturating_add(max_skew) {
        return Err(PushError::Future { created, now });
    }
    if created.saturating_add(max_skew) < now {
        return Err(PushError::Expired { created, now });
    }

    let components = req.components();
    for (name, value) in components {
        if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(PushError::InvalidComponentValue(name));
        }
    }

    let key = keys(&keyid).ok_or_else(|| PushError::UnknownKey(keyid.clone()))?;

    // The canonical RFC 8941 serialization of the received parameters, in received order.
    let mut serialized = String::new();
    // Writing into a String cannot fail.
    let _ = write_covered_components(&mut serialized);
    for (k, _) in params {
        serialized.push(';');
        serialized.push_str(k);
        serialized.push('=');
        match k.as_str() {
            "created" => serialized.push_str(&created.to_string()),
            "keyid" => serialized.push_str(&format!("\"{keyid}\"")),
            "alg" => serialized.push_str(&format!("\"{ALG}\"")),
            _ => serialized.push_str(&format!("\"{TAG}\"")),
        }
    }
    let base = build_signature_base(&components, &serialized);
    key.verify(base.as_bytes(), &sig).map_err(|_| PushError::BadSignature)?;
    Ok(keyid)
}

// ---------------------------------------------------------------------------
// RFC 8941 dictionaries (parsing only)
// ---------------------------------------------------------------------------

/// An RFC 8941 bare item. Only the payloads this module reads are kept; byte sequences keep
/// their base64 text (decoded only when read, so another label's lenient base64 never fails
/// the whole header).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Bare {
    /// An integer (at most 15 digits).
    Integer(i64),
    /// A string, unescaped.
    String(String),
    /// A byte sequence, as its base64 text.
    Bytes(String),
    /// A decimal, token, boolean, date or display string.
    Other,
}

/// Parameters in received order, keys unique (a repeated key overwrites the value in place).
type Params = Vec<(String, Bare)>;

/// An item with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    /// The bare item.
    bare: Bare,
    /// Its parameters.
    params: Params,
}

/// A dictionary member value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Member {
    /// A single item.
    Item(Item),
    /// An inner list and its parameters.
    InnerList(Vec<Item>, Params),
}

/// Parses an RFC 8941 §4.2.2 dictionary (a repeated key keeps the last value).
fn parse_dictionary(input: &str) -> Result<BTreeMap<String, Member>, String> {
    let mut c = Cursor { src: input, pos: 0 };
    let mut dict = BTreeMap::new();
    c.skip_sp();
    if c.at_end() {
        return Ok(dict);
    }
    loop {
        let key = c.key()?;
        let member = if c.eat(b'=') {
            c.item_or_inner_list()?
        } else {
            Member::Item(Item { bare: Bare::Other, params: c.parameters()? })
        };
        dict.insert(key, member);
        c.skip_ows();
        if c.at_end() {
            return Ok(dict);
        }
        if !c.eat(b',') {
            return Err(c.err("expected ','"));
        }
        c.skip_ows();
        if c.at_end() {
            return Err(c.err("trailing ','"));
        }
    }
}

/// A position in a header value being parsed.
struct Cursor<'a> {
    /// The whole value.
    src: &'a str,
    /// Byte offset of the next character.
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn err(&self, what: &str) -> String {
        format!("{what} at byte {}", self.pos)
    }

    fn skip_sp(&mut self) {
        while self.eat(b' ') {}
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// Advances over bytes matching `pred`; returns the text passed over.
    fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> &str {
        let start = self.pos;
        while self.peek().is_some_and(&pred) {
            self.pos += 1;
        }
        // Only ASCII bytes are ever accepted by `pred`s here, so both ends are char boundaries.
        self.src.get(start..self.pos).unwrap_or_default()
    }

    /// RFC 8941 §4.2.3.3: `( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )`.
    fn key(&mut self) -> Result<String, String> {
        if !matches!(self.peek(), Some(b'a'..=b'z' | b'*')) {
            return Err(self.err("expected a key"));
        }
        Ok(self
            .take_while(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'*'))
            .to_owned())
    }

    fn item_or_inner_list(&mut self) -> Result<Member, String> {
        if self.peek() != Some(b'(') {
            return Ok(Member::Item(self.item()?));
        }
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_sp();
            match self.peek() {
                None => return Err(self.err("unterminated inner list")),
                Some(b')') => {
                    self.pos += 1;
                    return Ok(Member::InnerList(items, self.parameters()?));
                }
                Some(_) => {
                    items.push(self.item()?);
                    if !matches!(self.peek(), Some(b' ' | b')')) {
                        return Err(self.err("expected ' ' or ')' in an inner list"));
                    }
                }
            }
        }
    }

    fn item(&mut self) -> Result<Item, String> {
        let bare = self.bare_item()?;
        Ok(Item { bare, params: self.parameters()? })
    }

    /// RFC 8941 §4.2.3.2.
    fn parameters(&mut self) -> Result<Params, String> {
        let mut params: Params = Vec::new();
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        while self.eat(b';') {
            self.skip_sp();
            let key = self.key()?;
            let value = if self.eat(b'=') { self.bare_item()? } else { Bare::Other };
            match index.get(&key).and_then(|&i| params.get_mut(i)) {
                Some(slot) => slot.1 = value,
                None => {
                    index.insert(key.clone(), params.len());
                    params.push((key, value));
                }
            }
        }
        Ok(params)
    }

    fn bare_item(&mut self) -> Result<Bare, String> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'"') => self.string(),
            Some(b'A'..=b'Z' | b'a'..=b'z' | b'*') => {
                self.take_while(|b| is_tchar(b) || b == b':' || b == b'/');
                Ok(Bare::Other)
            }
            Some(b':') => self.byte_sequence(),
            Some(b'?') => {
                self.pos += 1;
                match self.bump() {
                    Some(b'0' | b'1') => Ok(Bare::Other),
                    _ => Err(self.err("expected ?0 or ?1")),
                }
            }
            Some(b'@') => {
                // RFC 9651 §4.2.9 date: "@" and an integer.
                self.pos += 1;
                match self.number()? {
                    Bare::Integer(_) => Ok(Bare::Other),
                    _ => Err(self.err("a date must be an integer")),
                }
            }
            Some(b'%') => self.display_string(),
            _ => Err(self.err("expected an item")),
        }
    }

    /// RFC 8941 §4.2.4: integers of at most 15 digits, decimals of at most 12.3 digits.
    fn number(&mut self) -> Result<Bare, String> {
        let negative = self.eat(b'-');
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.err("expected a digit"));
        }
        let int_part = self.take_while(|b| b.is_ascii_digit()).to_owned();
        if self.eat(b'.') {
            if int_part.len() > 12 {
                return Err(self.err("decimal with more than 12 integer digits"));
            }
            let frac = self.take_while(|b| b.is_ascii_digit()).len();
            if !(1..=3).contains(&frac) {
                return Err(self.err("decimal needs 1 to 3 fractional digits"));
            }
            return Ok(Bare::Other);
        }
        if int_part.len() > 15 {
            return Err(self.err("integer with more than 15 digits"));
        }
        let n: i64 = int_part.parse().map_err(|_| self.err("bad integer"))?;
        Ok(Bare::Integer(if negative { -n } else { n }))
    }

    /// RFC 8941 §4.2.5.
    fn string(&mut self) -> Result<Bare, String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => return Ok(Bare::String(out)),
                Some(b'\\') => match self.bump() {
                    Some(c @ (b'"' | b'\\')) => out.push(char::from(c)),
                    _ => return Err(self.err("bad escape in a string")),
                },
                Some(c @ 0x20..=0x7e) => out.push(char::from(c)),
                Some(_) => return Err(self.err("character outside printable ASCII in a string")),
            }
        }
    }

    /// RFC 8941 §4.2.7; the text is kept, not decoded.
    fn byte_sequence(&mut self) -> Result<Bare, String> {
        self.pos += 1;
        let b64 = self
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
            .to_owned();
        if !self.eat(b':') {
            return Err(self.err("unterminated byte sequence"));
        }
        Ok(Bare::Bytes(b64))
    }

    /// RFC 9651 §4.2.10: `%"…"` with `%xx` lowercase-hex escapes of UTF-8.
    fn display_string(&mut self) -> Result<Bare, String> {
        self.pos += 1;
        if !self.eat(b'"') {
            return Err(self.err("expected '\"' after '%'"));
        }
        let mut bytes = Vec::new();
        loop {
            match self.bump() {
                None => return Err(self.err("unterminated display string")),
                Some(b'"') => {
                    return String::from_utf8(bytes)
                        .map(|_| Bare::Other)
                        .map_err(|_| self.err("display string is not UTF-8"));
                }
                Some(b'%') => {
                    let hex = |c: Option<u8>| match c {
                        Some(c @ b'0'..=b'9') => Some(c - b'0'),
                        Some(c @ b'a'..=b'f') => Some(c - b'a' + 10),
                        _ => None,
                    };
                    match (hex(self.bump()), hex(self.bump())) {
                        (Some(h), Some(l)) => bytes.push((h << 4) | l),
                        _ => return Err(self.err("bad %-escape in a display string")),
                    }
                }
                Some(c @ 0x20..=0x7e) => bytes.push(c),
                Some(_) => return Err(self.err("character outside printable ASCII")),
            }
        }
    }
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
