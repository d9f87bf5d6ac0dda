//! HTML sanitisation for feeds and item pages: one fixed allowlist, deterministic output.
//!
//! Every `content_html` that leaves a node in a feed goes through [`sanitize_html`]; a feed
//! verifier accepts the signed HTML itself or this function's output for it (SPEC.md §9.4).
//! Both sides must therefore produce the same bytes for the same input: the allowlist below is
//! part of the protocol and changes only with it.
//!
//! # Allowlist
//!
//! | element | attributes kept |
//! |---|---|
//! | `p`, `br`, `h2`–`h6`, `ul`, `ol`, `li`, `blockquote`, `hr`, `pre`, `code` | none |
//! | `strong`, `em`, `b`, `i`, `u`, `sub`, `sup` | none |
//! | `a` | `href` (`http`, `https`, `mailto` only); `rel="noopener noreferrer"` is always set |
//! | `img` | `src` (`http`, `https` only), `alt` |
//! | `abbr` | `title` |
//! | `figure`, `figcaption` | none |
//! | `table`, `caption`, `thead`, `tbody`, `tfoot`, `tr` | none |
//! | `th`, `td` | `colspan`, `rowspan` (1–3 ASCII digits) |
//!
//! Everything else is removed: other elements are unwrapped (their text stays), and the
//! elements in [`REMOVED_WITH_CONTENT`] (`script`, `style`, `iframe`, `object`, `embed`,
//! forms' text controls…) disappear with their content. No `style`, `class`, `id` or event
//! handler (`on*`) attribute survives, comments are dropped, and relative URLs are removed (a
//! federated record has no base URL). URLs with any other scheme (`javascript:`, `data:`,
//! `vbscript:`…) are removed, however they are spelled or encoded: the check is done on the
//! parsed URL.
//!
//! The output is HTML5 serialised by html5ever (through ammonia 4): well-formed, attributes in
//! source order, text escaped. It is deterministic for a given input and library version.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::LazyLock;

use ammonia::{Builder, UrlRelative};

/// The elements kept by [`sanitize_html`].
pub const ALLOWED_TAGS: [&str; 34] = [
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "code",
    "em",
    "figcaption",
    "figure",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
];

/// The elements removed together with everything inside them (their text is never shown).
pub const REMOVED_WITH_CONTENT: [&str; 17] = [
    "applet", "embed", "frame", "frameset", "iframe", "math", "noembed", "noframes", "noscript",
    "object", "script", "select", "style", "svg", "template", "textarea", "title",
];

/// URL schemes allowed in `a[href]`. `img[src]` additionally excludes `mailto`.
pub const ALLOWED_URL_SCHEMES: [&str; 3] = ["http", "https", "mailto"];

/// The `rel` value set on every link.
pub const LINK_REL: &str = "noopener noreferrer";

/// Block-level elements that separate words in [`html_to_text`].
const TEXT_BREAK_TAGS: [&str; 24] = [
    "blockquote",
    "br",
    "caption",
    "dd",
    "div",
    "dt",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "li",
    "ol",
    "p",
    "pre",
    "table",
    "td",
    "th",
    "tr",
    "ul",
];

static SANITIZER: LazyLock<Builder<'static>> = LazyLock::new(|| {
    let mut b = Builder::empty();
    b.tags(ALLOWED_TAGS.into_iter().collect())
        .clean_content_tags(REMOVED_WITH_CONTENT.into_iter().collect())
        .generic_attributes(HashSet::new())
        .tag_attributes(
            [
                ("a", HashSet::from(["href"])),
                ("img", HashSet::from(["src", "alt"])),
                ("abbr", HashSet::from(["title"])),
                ("th", HashSet::from(["colspan", "rowspan"])),
                ("td", HashSet::from(["colspan", "rowspan"])),
            ]
            .into_iter()
            .collect(),
        )
        .url_schemes(ALLOWED_URL_SCHEMES.into_iter().collect())
        .url_relative(UrlRelative::Deny)
        .link_rel(Some(LINK_REL))
        .strip_comments(true)
        .attribute_filter(filter_attribute);
    b
});

static TEXT_EXTRACTOR: LazyLock<Builder<'static>> = LazyLock::new(|| {
    let mut b = Builder::empty();
    b.tags(TEXT_BREAK_TAGS.into_iter().collect())
        .clean_content_tags(REMOVED_WITH_CONTENT.into_iter().collect())
        .generic_attributes(HashSet::new())
        .tag_attributes(Default::default())
        .link_rel(None)
        .strip_comments(true);
    b
});

/// Extra rules ammonia's allowlist cannot state: images only over http(s), table spans only
/// as small numbers.
fn filter_attribute<'u>(element: &str, attribute: &str, value: &'u str) -> Option<Cow<'u, str>> {
    match (element, attribute) {
        ("img", "src") => {
            let v = value.trim_start_matches(|c: char| c.is_ascii_whitespace() || c.is_control());
            let lower = v.get(..8).unwrap_or(v).to_ascii_lowercase();
            (lower.starts_with("http://") || lower.starts_with("https://"))
                .then_some(Cow::Borrowed(value))
        }
        ("th" | "td", "colspan" | "rowspan") => {
            let ok = (1..=3).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit());
            ok.then_some(Cow::Borrowed(value))
        }
        _ => Some(Cow::Borrowed(value)),
    }
}

/// Sanitise untrusted HTML with the fixed allowlist described in the [module docs](self).
///
/// Deterministic: the same input always gives the same output. Idempotent in practice:
/// sanitising the output again returns it unchanged.
///
/// ```
/// use portal_proto::html::sanitize_html;
/// let out = sanitize_html(r#"<p onclick="x()">Hi <a href="javascript:alert(1)">there</a><script>x()</script></p>"#);
/// assert_eq!(out, r#"<p>Hi <a rel="noopener noreferrer">there</a></p>"#);
/// ```
pub fn sanitize_html(input: &str) -> String {
    SANITIZER.clean(input).to_string()
}

/// Plain text of an HTML fragment, for snippets and search: tags removed (block elements
/// separate words), `script`/`style`-like elements dropped with their content, entities
/// decoded, runs of whitespace collapsed to one space, trimmed.
///
/// ```
/// use portal_proto::html::html_to_text;
/// assert_eq!(html_to_text("<p>Bộ Y tế</p><p>khuyến cáo &amp; <b>hướng dẫn</b></p>"), "Bộ Y tế khuyến cáo & hướng dẫn");
/// ```
pub fn html_to_text(input: &str) -> String {
    // After cleaning, only attribute-less break tags remain and every `<` in text is escaped
    // as `&lt;`, so a `<` always starts a tag and a `>` always ends it.
    let cleaned = TEXT_EXTRACTOR.clean(input).to_string();
    let mut raw = String::with_capacity(cleaned.len());
    let mut in_tag = false;
    for c in cleaned.chars() {
        match (in_tag, c) {
            (false, '<') => {
                in_tag = true;
                raw.push(' ');
            }
            (true, '>') => in_tag = false,
            (true, _) => {}
            (false, c) => raw.push(c),
        }
    }
    let decoded = decode_serialised_entities(&raw);
    let mut out = String::with_capacity(decoded.len());
    for word in decoded.split(|c: char| c.is_whitespace()).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Decode the entities the html5ever serialiser writes in text: `&amp;`, `&lt;`, `&gt;`,
/// `&quot;` and `&nbsp;` (a no-break space, which [`html_to_text`] then treats as a space).
fn decode_serialised_entities(s: &str) -> String {
    const ENTITIES: [(&str, char); 5] =
        [("&amp;", '&'), ("&lt;", '<'), ("&gt;", '>'), ("&quot;", '"'), ("&nbsp;", '\u{a0}')];
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos..];
        match ENTITIES.iter().find(|(name, _)| rest.starts_with(name)) {
            Some((name, c)) => {
                out.push(*c);
                rest = &rest[name.len()..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_allowlist() {
        let input = concat!(
            "<h2>Tiêu đề</h2><p>Đoạn <strong>một</strong> <em>hai</em> <b>b</b> <i>i</i> <u>u</u>",
            "<sub>1</sub><sup>2</sup> <abbr title=\"Bộ Y tế\">BYT</abbr></p>",
            "<ul><li>a</li></ul><ol><li>b</li></ol><blockquote>q</blockquote><hr>",
            "<pre><code>x &lt; y</code></pre>",
            "<figure><img src=\"https://moh.example/a.png\" alt=\"Ảnh\"><figcaption>c</figcaption></figure>",
            "<table><thead><tr><th colspan=\"2\">h</th></tr></thead><tbody><tr><td rowspan=\"1\">d</td></tr></tbody></table>",
            "<p><a href=\"mailto:a@b.vn\">m</a> <a href=\"https://moh.example/\">w</a></p>",
        );
        let expected = concat!(
            "<h2>Tiêu đề</h2><p>Đoạn <strong>một</strong> <em>hai</em> <b>b</b> <i>i</i> <u>u</u>",
            "<sub>1</sub><sup>2</sup> <abbr title=\"Bộ Y tế\">BYT</abbr></p>",
            "<ul><li>a</li></ul><ol><li>b</li></ol><blockquote>q</blockquote><hr>",
            "<pre><code>x &lt; y</code></pre>",
            "<figure><img src=\"https://moh.example/a.png\" alt=\"Ảnh\"><figcaption>c</figcaption></figure>",
            "<table><thead><tr><th colspan=\"2\">h</th></tr></thead><tbody><tr><td rowspan=\"1\">d</td></tr></tbody></table>",
            "<p><a href=\"mailto:a@b.vn\" rel=\"noopener noreferrer\">m</a> ",
            "<a href=\"https://moh.example/\" rel=\"noopener noreferrer\">w</a></p>",
        );
        assert_eq!(sanitize_html(input), expected);
        assert_eq!(sanitize_html(expected), expected, "idempotent");
    }

    #[test]
    fn removes_active_content() {
        let cases = [
            ("<script>alert(1)</script>ok", "ok"),
            ("<style>p{}</style>ok", "ok"),
            ("<iframe src=\"https://x\">t</iframe>ok", "ok"),
            ("<object data=\"x\">t</object>ok", "ok"),
            ("<embed src=\"x\">ok", "ok"),
            ("<form action=\"https://x\"><input name=a>ok</form>", "ok"),
            ("<p style=\"color:red\" class=\"c\" id=\"i\">ok</p>", "<p>ok</p>"),
            ("<img src=\"x.png\" onerror=\"alert(1)\">", "<img>"),
            ("<img src=\"data:image/png;base64,AAAA\">", "<img>"),
            ("<img src=\"mailto:a@b\">", "<img>"),
            ("<a href=\"JaVaScRiPt:alert(1)\">x</a>", "<a rel=\"noopener noreferrer\">x</a>"),
            ("<a href=\"java&#09;script:alert(1)\">x</a>", "<a rel=\"noopener noreferrer\">x</a>"),
            ("<a href=\"&#106;avascript:alert(1)\">x</a>", "<a rel=\"noopener noreferrer\">x</a>"),
            ("<a href=\"/relative\">x</a>", "<a rel=\"noopener noreferrer\">x</a>"),
            (
                "<a href=\"https://x/\" rel=\"opener\" target=\"_blank\">x</a>",
                "<a href=\"https://x/\" rel=\"noopener noreferrer\">x</a>",
            ),
            ("<!-- c -->ok", "ok"),
            ("<h1>t</h1>", "t"),
            ("<td colspan=\"9999\">x</td>", "x"),
            ("<svg><script>alert(1)</script></svg>ok", "ok"),
        ];
        for (input, expected) in cases {
            assert_eq!(sanitize_html(input), expected, "{input}");
        }
    }

    #[test]
    fn text_extraction() {
        assert_eq!(html_to_text("<p>a</p><p>b<br>c</p>"), "a b c");
        assert_eq!(html_to_text("x &lt;script&gt; &amp;&nbsp;y"), "x <script> & y");
        assert_eq!(html_to_text("<script>alert(1)</script><style>p{}</style>  t  "), "t");
        assert_eq!(html_to_text("<a href=\"https://x\">l</a>i<b>n</b>k"), "link");
        assert_eq!(html_to_text(""), "");
    }
}
