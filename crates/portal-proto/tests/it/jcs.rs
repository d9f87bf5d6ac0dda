//! RFC 8785 canonical JSON: upstream vectors, ES6 number formatting, strictness and properties.

use std::collections::BTreeMap;
use std::path::PathBuf;

use portal_proto::jcs::{
    self, JcsError, MAX_DEPTH, ParseErrorKind, canonicalize, check_canonical, format_number,
    to_canonical_vec,
};
use proptest::prelude::*;

fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/")).join(rel)
}

fn read(rel: &str) -> Vec<u8> {
    let path = testdata(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

const UPSTREAM_CASES: [&str; 6] = ["arrays", "french", "structures", "unicode", "values", "weird"];

#[test]
fn upstream_vectors_byte_exact() {
    for name in UPSTREAM_CASES {
        let input = read(&format!("jcs/input/{name}.json"));
        let expected = read(&format!("jcs/output/{name}.json"));
        let hex = String::from_utf8(read(&format!("jcs/outhex/{name}.txt"))).unwrap();
        let from_hex: Vec<u8> =
            hex.split_whitespace().map(|h| u8::from_str_radix(h, 16).unwrap()).collect();
        assert_eq!(from_hex, expected, "{name}: outhex and output disagree");

        let got = canonicalize(&input).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            got,
            expected,
            "{name}:\n got {}\nwant {}",
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&expected)
        );
        check_canonical(&expected).unwrap_or_else(|e| panic!("{name}: output rejected: {e}"));
        assert_eq!(canonicalize(&expected).unwrap(), expected, "{name}: not idempotent");
        assert_ne!(input, expected);
        assert!(
            matches!(check_canonical(&input), Err(JcsError::NotCanonical { .. })),
            "{name}: input accepted as canonical: {:?}",
            check_canonical(&input)
        );
    }
}

#[test]
fn es6_number_formatting_10k() {
    let text = String::from_utf8(read("jcs/es6testfile-10k.txt")).unwrap();
    let mut n = 0;
    for line in text.lines() {
        let (bits, expected) = line.split_once(',').unwrap();
        let f = f64::from_bits(u64::from_str_radix(bits, 16).unwrap());
        assert_eq!(format_number(f).unwrap(), expected, "bits {bits}");
        // The expected text is canonical JSON, and parsing it gives back the same value.
        check_canonical(expected.as_bytes()).unwrap_or_else(|e| panic!("{expected}: {e}"));
        assert_eq!(canonicalize(expected.as_bytes()).unwrap(), expected.as_bytes());
        if f != 0.0 {
            assert_eq!(expected.parse::<f64>().unwrap().to_bits(), f.to_bits());
        }
        n += 1;
    }
    assert_eq!(n, 10_000);
}

#[test]
fn format_number_special_values() {
    assert_eq!(format_number(-0.0).unwrap(), "0");
    assert_eq!(format_number(1e21).unwrap(), "1e+21");
    assert_eq!(format_number(1e20).unwrap(), "100000000000000000000");
    assert_eq!(format_number(1e-7).unwrap(), "1e-7");
    assert_eq!(format_number(1e-6).unwrap(), "0.000001");
    assert_eq!(format_number(9_007_199_254_740_991.0).unwrap(), "9007199254740991");
    assert_eq!(format_number(f64::NAN), Err(JcsError::NonFiniteNumber));
    assert_eq!(format_number(f64::INFINITY), Err(JcsError::NonFiniteNumber));
    assert_eq!(format_number(f64::NEG_INFINITY), Err(JcsError::NonFiniteNumber));
}

fn parse_kind(r: Result<(), JcsError>) -> Option<ParseErrorKind> {
    match r {
        Err(JcsError::Parse { kind, .. }) => Some(kind),
        _ => None,
    }
}

/// Inputs that are valid strict JSON but not canonical.
const NOT_CANONICAL: &[&str] = &[
    // whitespace
    " 1",
    "1 ",
    "1\n",
    "[1, 2]",
    "[ 1]",
    "{\"a\": 1}",
    "{\"a\" :1}",
    "{ }",
    // member order
    "{\"b\":1,\"a\":2}",
    "{\"aa\":1,\"a\":2}",
    "{\"\u{e000}\":1,\"\u{1f602}\":2}", // UTF-16: U+1F602 (D83D..) sorts before U+E000
    "{\"A\":1,\"\\n\":2}",
    "{\"]\":1,\"\\\\\":2}",
    // escapes
    "\"\\u0041\"",
    "\"\\/\"",
    "\"\\u001F\"",
    "\"\\u000a\"",
    "\"\\u0008\"",
    "\"\\u007f\"",
    "\"\\u20ac\"",
    "\"\\ud83d\\ude02\"",
    "\"\\u0022\"",
    "\"\\u005c\"",
    // numbers
    "1.0",
    "1e2",
    "1E2",
    "-0",
    "-0.0",
    "0.10",
    "1e21",
    "1E+21",
    "1.50e+300",
    "15e+299",
    "100e-2",
    "0.0000001",
    "9007199254740993",
    "12345678901234567890",
    "1e-400",
];

#[test]
fn rejects_non_canonical() {
    for s in NOT_CANONICAL {
        match check_canonical(s.as_bytes()) {
            Err(JcsError::NotCanonical { .. }) => {}
            other => panic!("{s:?}: expected NotCanonical, got {other:?}"),
        }
        assert!(canonicalize(s.as_bytes()).is_ok(), "{s:?} should be valid JSON");
    }
}

#[test]
fn not_canonical_offsets() {
    let off = |s: &str| match check_canonical(s.as_bytes()) {
        Err(JcsError::NotCanonical { offset }) => offset,
        other => panic!("{s:?}: {other:?}"),
    };
    assert_eq!(off("[1, 2]"), 3);
    assert_eq!(off("{\"b\":1,\"a\":2}"), 7);
    assert_eq!(off("[\"x\\/\"]"), 3);
    assert_eq!(off("[1,1.0]"), 3);
}

#[test]
fn error_accessors() {
    let e = check_canonical(b"[1, 2]").unwrap_err();
    assert_eq!((e.offset(), e.is_not_canonical()), (Some(3), true));
    let e = check_canonical(b"{\"a\":1,\"a\":1}").unwrap_err();
    assert_eq!((e.offset(), e.is_not_canonical()), (Some(7), true));
    let e = check_canonical(b"[1,]").unwrap_err();
    assert_eq!((e.offset(), e.is_not_canonical()), (Some(3), false));
    let e = check_canonical(b"[\"\\ud800\"]").unwrap_err();
    assert_eq!((e.offset(), e.is_not_canonical()), (Some(2), false));
    let e = jcs::check_canonical_with_limit(b"[]", 1).unwrap_err();
    assert_eq!((e.offset(), e.is_not_canonical()), (None, false));
    assert_eq!(JcsError::NonFiniteNumber.offset(), None);
}

#[test]
fn accepts_canonical() {
    for s in [
        "null",
        "true",
        "0",
        "-1",
        "[]",
        "{}",
        "\"\"",
        "[[[]]]",
        "{\"a\":{\"b\":[1,2,{\"c\":null}]},\"b\":false}",
        "{\"\u{1f602}\":1,\"\u{e000}\":2}",
        "{\"\\n\":1,\"A\":2}",
        "{\"\\\"\":1,\"#\":2}",
        "{\"[\":1,\"\\\\\":2,\"]\":3}",
        "\"\\u0000\\u001f\\u000b\\b\\t\\n\\f\\r\\\"\\\\/\u{7f}\u{80}\u{ffff}\u{10ffff}\"",
        "[1e+21,1e-7,0.000001,1.5,-1.5e+300,5e-324,9007199254740991,100000000000000000000]",
        "{\"a\":1,\"aa\":2,\"ab\":3,\"b\":4}",
    ] {
        check_canonical(s.as_bytes()).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        assert_eq!(canonicalize(s.as_bytes()).unwrap(), s.as_bytes(), "{s:?}");
    }
}

#[test]
fn rejects_invalid_json() {
    use ParseErrorKind as K;
    let cases: &[(&[u8], ParseErrorKind, usize)] = &[
        (b"{\"a\":1,\"a\":2}", K::DuplicateKey, 7),
        (b"{\"a\":1,\"b\":2,\"a\":3}", K::DuplicateKey, 13),
        (b"{\"a\":1,\"\\u0061\":2}", K::DuplicateKey, 7),
        (b"[\"\\ud800\"]", K::LoneSurrogate, 2),
        (b"[\"\\udc00\"]", K::LoneSurrogate, 2),
        (b"[\"\\ud800\\u0041\"]", K::LoneSurrogate, 2),
        (b"[\"\\ud800\\ud800\"]", K::LoneSurrogate, 2),
        (b"[\"\\ud800x\"]", K::LoneSurrogate, 2),
        (b"[\"\\udc00\\ud800\"]", K::LoneSurrogate, 2),
        (b"[\"\\u12\"]", K::InvalidEscape, 6),
        (b"[\"\\x\"]", K::InvalidEscape, 3),
        (b"[\"\xff\"]", K::InvalidUtf8, 2),
        (b"[\"\xed\xa0\x80\"]", K::InvalidUtf8, 2), // UTF-8-encoded surrogate
        (b"[\"\xc0\xaf\"]", K::InvalidUtf8, 2),     // overlong
        (b"\xef\xbb\xbf[]", K::UnexpectedByte, 0),  // BOM
        (b"[\"a\x01\"]", K::ControlCharacter, 3),
        (b"[\"a\tb\"]", K::ControlCharacter, 3),
        (b"01", K::LeadingZero, 0),
        (b"-01", K::LeadingZero, 1),
        (b"[1.]", K::InvalidNumber, 3),
        (b"[1e]", K::InvalidNumber, 3),
        (b"-", K::UnexpectedEnd, 1),
        (b"[-a]", K::InvalidNumber, 2),
        (b"+1", K::UnexpectedByte, 0),
        (b".5", K::UnexpectedByte, 0),
        (b"1e400", K::NumberOutOfRange, 0),
        (b"[-1e309]", K::NumberOutOfRange, 1),
        (b"[1,]", K::UnexpectedByte, 3),
        (b"[1 2]", K::UnexpectedByte, 3),
        (b"{\"a\"}", K::UnexpectedByte, 4),
        (b"{a:1}", K::UnexpectedByte, 1),
        (b"{\"a\":1,}", K::UnexpectedByte, 7),
        (b"[1]x", K::TrailingData, 3),
        (b"[1] [2]", K::TrailingData, 4),
        (b"tru", K::UnexpectedEnd, 3),
        (b"nul1", K::UnexpectedByte, 3),
        (b"NaN", K::UnexpectedByte, 0),
        (b"", K::UnexpectedEnd, 0),
        (b"   ", K::UnexpectedEnd, 3),
        (b"[", K::UnexpectedEnd, 1),
        (b"\"abc", K::UnexpectedEnd, 4),
    ];
    for &(input, kind, offset) in cases {
        let want = Err(JcsError::Parse { offset, kind });
        assert_eq!(
            canonicalize(input).map(|_| ()),
            want,
            "canonicalize {:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(
            check_canonical(input),
            want,
            "check_canonical {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn nesting_limit() {
    let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let ok = nest(MAX_DEPTH);
    check_canonical(ok.as_bytes()).unwrap();
    canonicalize(ok.as_bytes()).unwrap();
    let deep = nest(MAX_DEPTH + 1);
    let want = Err(JcsError::Parse { offset: MAX_DEPTH, kind: ParseErrorKind::TooDeep });
    assert_eq!(check_canonical(deep.as_bytes()), want);
    assert_eq!(canonicalize(deep.as_bytes()).map(|_| ()), want);
    // Deep objects too, and far deeper input does not overflow the stack.
    let obj = format!("{}1{}", "{\"a\":".repeat(MAX_DEPTH + 1), "}".repeat(MAX_DEPTH + 1));
    assert_eq!(parse_kind(check_canonical(obj.as_bytes())), Some(ParseErrorKind::TooDeep));
    let huge = nest(100_000);
    assert_eq!(parse_kind(check_canonical(huge.as_bytes())), Some(ParseErrorKind::TooDeep));
}

#[test]
fn size_limit() {
    let s = b"[1,2,3]";
    assert_eq!(jcs::check_canonical_with_limit(s, 7), Ok(()));
    assert_eq!(jcs::check_canonical_with_limit(s, 6), Err(JcsError::TooLarge { len: 7, limit: 6 }));
    assert_eq!(jcs::canonicalize_with_limit(s, 6), Err(JcsError::TooLarge { len: 7, limit: 6 }));
    let big = format!("\"{}\"", "a".repeat(jcs::MAX_INPUT_LEN));
    assert!(matches!(check_canonical(big.as_bytes()), Err(JcsError::TooLarge { .. })));
    assert!(matches!(canonicalize(big.as_bytes()), Err(JcsError::TooLarge { .. })));
}

// ---------------------------------------------------------------------------
// to_canonical_vec
// ---------------------------------------------------------------------------

#[derive(serde::Serialize)]
struct Record<'a> {
    zeta: u64,
    alpha: &'a str,
    #[serde(rename = "\u{e000}")]
    private_use: bool,
    #[serde(rename = "\u{1f602}")]
    emoji: Option<u8>,
    list: Vec<Kind>,
    map: BTreeMap<String, f64>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "kebab-case")]
enum Kind {
    KeyEvent,
    Item(u32),
    Pair(u8, u8),
    Roster { size: u16 },
}

#[test]
fn serialize_struct() {
    let r = Record {
        zeta: jcs::MAX_SAFE_INTEGER,
        alpha: "a\"b\\c\nd\u{1}/",
        private_use: true,
        emoji: None,
        list: vec![Kind::KeyEvent, Kind::Item(7), Kind::Pair(1, 2), Kind::Roster { size: 3 }],
        map: BTreeMap::from([
            ("b".to_owned(), 0.5),
            ("a".to_owned(), -0.0),
            ("c".to_owned(), 1e21),
        ]),
    };
    let out = to_canonical_vec(&r).unwrap();
    let want = concat!(
        r#"{"alpha":"a\"b\\c\nd\u0001/","list":["key-event",{"item":7},{"pair":[1,2]},{"roster":{"size":3}}],"#,
        r#""map":{"a":0,"b":0.5,"c":1e+21},"zeta":9007199254740991,"😂":null,"#,
        "\"\u{e000}\":true}"
    );
    assert_eq!(String::from_utf8(out.clone()).unwrap(), want);
    check_canonical(&out).unwrap();
    // Same bytes as canonicalising serde_json's rendering.
    assert_eq!(canonicalize(&serde_json::to_vec(&r).unwrap()).unwrap(), out);
}

#[test]
fn serialize_rejects_unsafe_values() {
    let unsafe_int = jcs::MAX_SAFE_INTEGER + 1;
    assert_eq!(
        to_canonical_vec(&unsafe_int),
        Err(JcsError::UnsafeInteger { value: i128::from(unsafe_int) })
    );
    assert!(matches!(to_canonical_vec(&i64::MIN), Err(JcsError::UnsafeInteger { .. })));
    assert!(matches!(to_canonical_vec(&u128::MAX), Err(JcsError::UnsafeInteger { .. })));
    assert!(to_canonical_vec(&-(jcs::MAX_SAFE_INTEGER as i64)).is_ok());
    assert_eq!(to_canonical_vec(&vec![1.0, f64::NAN]), Err(JcsError::NonFiniteNumber));
    assert_eq!(to_canonical_vec(&f32::INFINITY), Err(JcsError::NonFiniteNumber));
    let m = BTreeMap::from([((1, 2), 3)]);
    assert_eq!(to_canonical_vec(&m), Err(JcsError::NonStringKey));
    let m = BTreeMap::from([(10u64, "x"), (9, "y")]);
    assert_eq!(to_canonical_vec(&m).unwrap(), br#"{"10":"x","9":"y"}"#);

    #[derive(serde::Serialize)]
    struct Dup {
        a: u8,
        #[serde(flatten)]
        rest: BTreeMap<&'static str, u8>,
    }
    let d = Dup { a: 1, rest: BTreeMap::from([("a", 2)]) };
    assert_eq!(to_canonical_vec(&d), Err(JcsError::DuplicateKey { key: "a".to_owned() }));

    let mut deep = serde_json::Value::Null;
    for _ in 0..=MAX_DEPTH {
        deep = serde_json::Value::Array(vec![deep]);
    }
    assert_eq!(to_canonical_vec(&deep), Err(JcsError::TooDeep));
}

// ---------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------

/// A JSON value with object members in a definite (possibly unsorted) order.
#[derive(Debug, Clone)]
enum Tv {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Tv>),
    Obj(Vec<(String, Tv)>),
}

fn char_strategy() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range('a', 'e'),
        1 => proptest::char::range('\u{0}', '\u{1f}'),
        1 => prop::sample::select(vec!['"', '\\', '/', '\u{7f}', 'é', '€', '\u{2028}']),
        1 => proptest::char::range('\u{e000}', '\u{e002}'),
        1 => proptest::char::range('\u{fffd}', '\u{ffff}'),
        1 => proptest::char::range('\u{10000}', '\u{10002}'),
        1 => proptest::char::range('\u{1f600}', '\u{1f602}'),
        1 => proptest::char::range('\u{10fffe}', '\u{10ffff}'),
    ]
}

fn string_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec(char_strategy(), 0..5).prop_map(String::from_iter)
}

fn number_strategy() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-1000i64..1000).prop_map(|i| i as f64),
        (-(jcs::MAX_SAFE_INTEGER as i64)..=jcs::MAX_SAFE_INTEGER as i64).prop_map(|i| i as f64),
        any::<u64>().prop_map(f64::from_bits).prop_filter("finite", |f| f.is_finite()),
        prop::sample::select(vec![0.0, -0.0, 0.1, 1e21, 1e-7, 5e-324, f64::MAX, f64::MIN_POSITIVE]),
    ]
}

fn tv_strategy() -> impl Strategy<Value = Tv> {
    let leaf = prop_oneof![
        Just(Tv::Null),
        any::<bool>().prop_map(Tv::Bool),
        number_strategy().prop_map(Tv::Num),
        string_strategy().prop_map(Tv::Str),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Tv::Arr),
            prop::collection::btree_map(string_strategy(), inner, 0..6)
                .prop_map(|m| Tv::Obj(m.into_iter().collect())),
        ]
    })
}

/// Tiny deterministic PRNG for choosing textual variants.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Writes `v` as (generally non-canonical) JSON text: random whitespace,
/// random escaping, random number spelling, shuffled members.
fn write_messy(v: &Tv, rng: &mut Rng, out: &mut String) {
    let ws = |rng: &mut Rng, out: &mut String| {
        for _ in 0..rng.pick(3) {
            out.push([' ', '\n', '\t', '\r'][rng.pick(4) as usize]);
        }
    };
    ws(rng, out);
    match v {
        Tv::Null => out.push_str("null"),
        Tv::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Tv::Num(f) => match rng.pick(3) {
            0 => out.push_str(&format!("{f}")),
            1 => out.push_str(&format!("{f:e}")),
            _ => out.push_str(&format!("{:E}", f).replace("E", "E+").replace("E+-", "E-")),
        },
        Tv::Str(s) => write_messy_str(s, rng, out),
        Tv::Arr(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_messy(item, rng, out);
            }
            ws(rng, out);
            out.push(']');
        }
        Tv::Obj(members) => {
            let mut order: Vec<usize> = (0..members.len()).collect();
            for i in (1..order.len()).rev() {
                order.swap(i, rng.pick(i as u64 + 1) as usize);
            }
            out.push('{');
            for (n, &i) in order.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                ws(rng, out);
                write_messy_str(&members[i].0, rng, out);
                ws(rng, out);
                out.push(':');
                write_messy(&members[i].1, rng, out);
            }
            ws(rng, out);
            out.push('}');
        }
    }
}

fn write_messy_str(s: &str, rng: &mut Rng, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        let must = (c as u32) < 0x20 || c == '"' || c == '\\';
        if must || rng.pick(4) == 0 {
            match (c, rng.pick(2)) {
                ('"', 0) => out.push_str("\\\""),
                ('\\', 0) => out.push_str("\\\\"),
                ('/', 0) => out.push_str("\\/"),
                ('\n', 0) => out.push_str("\\n"),
                ('\t', 0) => out.push_str("\\t"),
                _ => {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units) {
                        if rng.pick(2) == 0 {
                            out.push_str(&format!("\\u{u:04x}"));
                        } else {
                            out.push_str(&format!("\\u{u:04X}"));
                        }
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out.push('"');
}

/// Independent reference implementation of RFC 8785 output for a `Tv`.
fn reference_canonical(v: &Tv, out: &mut String) {
    match v {
        Tv::Null => out.push_str("null"),
        Tv::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Tv::Num(f) => out.push_str(&format_number(*f).unwrap()),
        Tv::Str(s) => reference_str(s, out),
        Tv::Arr(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                reference_canonical(item, out);
            }
            out.push(']');
        }
        Tv::Obj(members) => {
            let mut sorted: Vec<&(String, Tv)> = members.iter().collect();
            sorted.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                reference_str(k, out);
                out.push(':');
                reference_canonical(v, out);
            }
            out.push('}');
        }
    }
}

fn reference_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `check_canonical` must accept exactly the fixed points of `canonicalize`,
/// and report the same error when the input is not valid JSON.
fn assert_consistent(input: &[u8]) -> Result<(), TestCaseError> {
    let canon = canonicalize(input);
    let check = check_canonical(input);
    match &canon {
        Ok(c) if c.as_slice() == input => prop_assert_eq!(check, Ok(())),
        Ok(_) => prop_assert!(matches!(check, Err(JcsError::NotCanonical { .. })), "{:?}", check),
        Err(e) => prop_assert_eq!(check, Err(e.clone())),
    }
    if let Ok(c) = canon {
        prop_assert_eq!(check_canonical(&c), Ok(()));
        prop_assert_eq!(canonicalize(&c), Ok(c.clone()));
    }
    Ok(())
}

fn json_ish_bytes() -> impl Strategy<Value = Vec<u8>> {
    let tokens: Vec<&'static [u8]> = vec![
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b":",
        b"\"",
        b"\\",
        b" ",
        b"\n",
        b"0",
        b"1",
        b"9",
        b"-",
        b".",
        b"e",
        b"E",
        b"+",
        b"a",
        b"true",
        b"null",
        b"false",
        b"\\u",
        b"d800",
        b"dc00",
        b"00",
        b"1f",
        b"\\n",
        b"\\/",
        b"\x01",
        b"\xff",
        b"\xc3\xa9",
        b"\xee\x80\x80",
        b"\xf0\x9f\x98\x82",
        b"\"a\"",
        b"\"b\"",
        b"\"a\":",
        b"\"b\":",
    ];
    prop::collection::vec(prop::sample::select(tokens), 0..24).prop_map(|ts| ts.concat())
}

fn mutate(mut bytes: Vec<u8>, ops: &[(u8, usize, u8)]) -> Vec<u8> {
    const ALPHABET: &[u8] = b"{}[],:\"\\ 019-.eE+au\x01\x7f\xc3\xa9";
    for &(op, pos, val) in ops {
        let b = ALPHABET[val as usize % ALPHABET.len()];
        let i = if bytes.is_empty() { 0 } else { pos % (bytes.len() + 1) };
        match op % 3 {
            0 if i < bytes.len() => {
                bytes.remove(i);
            }
            1 => bytes.insert(i, b),
            _ if i < bytes.len() => bytes[i] = b,
            _ => bytes.push(b),
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn canonical_form_is_independent_of_spelling(v in tv_strategy(), s1 in any::<u64>(), s2 in any::<u64>()) {
        let mut a = String::new();
        write_messy(&v, &mut Rng(s1 | 1), &mut a);
        let mut b = String::new();
        write_messy(&v, &mut Rng(s2 | 1), &mut b);
        let ca = canonicalize(a.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e} in {a:?}")))?;
        let cb = canonicalize(b.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e} in {b:?}")))?;
        prop_assert_eq!(&ca, &cb);
        let mut want = String::new();
        reference_canonical(&v, &mut want);
        prop_assert_eq!(String::from_utf8(ca.clone()).unwrap(), want);
        // Idempotent, accepted by the checker, and the messy texts are consistent.
        prop_assert_eq!(canonicalize(&ca), Ok(ca.clone()));
        prop_assert_eq!(check_canonical(&ca), Ok(()));
        assert_consistent(a.as_bytes())?;
        assert_consistent(b.as_bytes())?;
    }

    #[test]
    fn mutated_canonical_text_is_handled_consistently(
        v in tv_strategy(),
        ops in prop::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..4),
    ) {
        let mut c = String::new();
        reference_canonical(&v, &mut c);
        assert_consistent(&mutate(c.into_bytes(), &ops))?;
    }

    #[test]
    fn json_ish_bytes_are_handled_consistently(bytes in json_ish_bytes()) {
        assert_consistent(&bytes)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        assert_consistent(&bytes)?;
    }

    #[test]
    fn numbers_round_trip(bits in any::<u64>()) {
        let f = f64::from_bits(bits);
        if let Ok(s) = format_number(f) {
            prop_assert_eq!(s.parse::<f64>().unwrap(), f);
            prop_assert_eq!(check_canonical(s.as_bytes()), Ok(()));
            prop_assert_eq!(canonicalize(format!("{f:e}").as_bytes()), Ok(s.into_bytes()));
        } else {
            prop_assert!(!f.is_finite());
        }
    }

    #[test]
    fn to_canonical_vec_matches_canonicalize(v in tv_strategy()) {
        let json = tv_to_serde(&v);
        let out = to_canonical_vec(&json).unwrap();
        prop_assert_eq!(check_canonical(&out), Ok(()));
        prop_assert_eq!(canonicalize(&serde_json::to_vec(&json).unwrap()), Ok(out));
    }
}

fn tv_to_serde(v: &Tv) -> serde_json::Value {
    use serde_json::Value as V;
    match v {
        Tv::Null => V::Null,
        Tv::Bool(b) => V::Bool(*b),
        Tv::Num(f) => serde_json::Number::from_f64(*f).map_or(V::Null, V::Number),
        Tv::Str(s) => V::String(s.clone()),
        Tv::Arr(items) => V::Array(items.iter().map(tv_to_serde).collect()),
        Tv::Obj(members) => {
            V::Object(members.iter().map(|(k, v)| (k.clone(), tv_to_serde(v))).collect())
        }
    }
}

#[test]
fn check_canonical_member_finds_only_top_level_plain_strings() {
    use portal_proto::jcs::check_canonical_member;
    fn find(doc: &str) -> Option<&str> {
        check_canonical_member(doc.as_bytes(), 1 << 20, "type").unwrap().member
    }
    assert_eq!(find(r#"{"a":{"type":"inner"},"type":"item"}"#), Some("item"));
    assert_eq!(find(r#"{"a":{"type":"inner"}}"#), None, "nested members are not top-level");
    assert_eq!(find(r#"{"type":1}"#), None, "not a string");
    assert_eq!(find(r#"{"type":"a\"b"}"#), None, "escaped values are left to the full parser");
    assert_eq!(find(r#"["type","item"]"#), None);
    assert!(check_canonical_member(br#"{"type":"item", "x":1}"#, 1 << 20, "type").is_err());
}
