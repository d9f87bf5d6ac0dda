//! Text analysis: the word tokenizer and the two analyzers registered on the index.
//!
//! Both analyzers split words the same way and drop the same over-long words, so the n-th
//! token of one is the n-th token of the other (same `position`, same offsets into the
//! original text). The query side pairs them by position.

use std::mem;
use std::str::CharIndices;

use tantivy::tokenizer::{
    LowerCaser, RemoveLongFilter, TextAnalyzer, Token, TokenFilter, TokenStream, Tokenizer,
};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

/// Name of the folding analyzer: words, lowercase, no diacritics, `đ` → `d`.
pub(crate) const FOLDED: &str = "portal_folded";
/// Name of the exact analyzer: words, lowercase, NFC; diacritics kept.
pub(crate) const EXACT: &str = "portal_exact";
/// Words longer than this (in UTF-8 bytes of the original text) are not indexed, and ignored
/// in queries.
pub(crate) const MAX_WORD_BYTES: usize = 80;

/// `words → drop long → fold diacritics → lowercase`.
pub(crate) fn folded_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(WordTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_WORD_BYTES + 1))
        .filter(FoldDiacritics)
        .filter(LowerCaser)
        .build()
}

/// `words → drop long → lowercase → NFC`.
pub(crate) fn exact_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(WordTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_WORD_BYTES + 1))
        .filter(LowerCaser)
        .filter(Nfc)
        .build()
}

/// A word character: a letter or digit of any script, or a combining mark following one
/// (so text typed in decomposed form, `o` + U+0323 + U+0302, stays one word).
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

/// Splits text into words: maximal runs of [`is_word_char`] starting with a letter or digit.
/// Everything else (spaces, punctuation, symbols, emoji, control characters) separates words.
#[derive(Clone, Default)]
pub(crate) struct WordTokenizer {
    token: Token,
}

pub(crate) struct WordTokenStream<'a> {
    text: &'a str,
    chars: CharIndices<'a>,
    token: &'a mut Token,
}

impl Tokenizer for WordTokenizer {
    type TokenStream<'a> = WordTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordTokenStream<'a> {
        self.token.reset();
        WordTokenStream { text, chars: text.char_indices(), token: &mut self.token }
    }
}

impl TokenStream for WordTokenStream<'_> {
    fn advance(&mut self) -> bool {
        self.token.text.clear();
        self.token.position = self.token.position.wrapping_add(1);
        while let Some((start, c)) = self.chars.next() {
            if !c.is_alphanumeric() {
                continue;
            }
            // The character that ends the word is a separator: consuming it is harmless.
            let end = loop {
                match self.chars.next() {
                    Some((_, c)) if is_word_char(c) => {}
                    Some((i, _)) => break i,
                    None => break self.text.len(),
                }
            };
            self.token.offset_from = start;
            self.token.offset_to = end;
            self.token.text.push_str(&self.text[start..end]);
            return true;
        }
        false
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

/// Writes `text` without diacritics into `out`: NFKD decomposition, combining marks dropped,
/// `đ`/`Đ` (which have no decomposition) mapped to `d`/`D`. Case is left alone.
pub(crate) fn fold_into(text: &str, out: &mut String) {
    out.clear();
    for c in text.nfkd() {
        match c {
            'đ' => out.push('d'),
            'Đ' => out.push('D'),
            c if is_combining_mark(c) => {}
            c => out.push(c),
        }
    }
}

/// Token filter applying [`fold_into`] to each token's text (offsets are untouched). A token
/// that would fold to nothing keeps its text.
#[derive(Clone, Debug)]
pub(crate) struct FoldDiacritics;

impl TokenFilter for FoldDiacritics {
    type Tokenizer<T: Tokenizer> = FoldDiacriticsFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> FoldDiacriticsFilter<T> {
        FoldDiacriticsFilter { inner: tokenizer, buffer: String::new() }
    }
}

#[derive(Clone)]
pub(crate) struct FoldDiacriticsFilter<T> {
    inner: T,
    buffer: String,
}

impl<T: Tokenizer> Tokenizer for FoldDiacriticsFilter<T> {
    type TokenStream<'a> = FoldDiacriticsStream<'a, T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        FoldDiacriticsStream { tail: self.inner.token_stream(text), buffer: &mut self.buffer }
    }
}

pub(crate) struct FoldDiacriticsStream<'a, S> {
    tail: S,
    buffer: &'a mut String,
}

impl<S: TokenStream> TokenStream for FoldDiacriticsStream<'_, S> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        if !token.text.is_ascii() {
            fold_into(&token.text, self.buffer);
            if !self.buffer.is_empty() {
                mem::swap(&mut token.text, self.buffer);
            }
        }
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

/// Token filter putting each token's text in Unicode Normalization Form C, so precomposed and
/// decomposed input give the same exact term.
#[derive(Clone, Debug)]
pub(crate) struct Nfc;

impl TokenFilter for Nfc {
    type Tokenizer<T: Tokenizer> = NfcFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> NfcFilter<T> {
        NfcFilter { inner: tokenizer }
    }
}

#[derive(Clone)]
pub(crate) struct NfcFilter<T> {
    inner: T,
}

impl<T: Tokenizer> Tokenizer for NfcFilter<T> {
    type TokenStream<'a> = NfcStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        NfcStream { tail: self.inner.token_stream(text) }
    }
}

pub(crate) struct NfcStream<S> {
    tail: S,
}

impl<S: TokenStream> TokenStream for NfcStream<S> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        if !token.text.is_ascii() && is_nfc_quick(token.text.chars()) != IsNormalized::Yes {
            token.text = token.text.nfc().collect();
        }
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

/// Runs `analyzer` over `text`: `(position, term, original byte range)` for each token.
pub(crate) fn tokens(
    analyzer: &mut TextAnalyzer,
    text: &str,
) -> Vec<(usize, String, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while let Some(token) = stream.next() {
        out.push((token.position, token.text.clone(), token.offset_from..token.offset_to));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
        tokens(analyzer, text).into_iter().map(|(_, t, _)| t).collect()
    }

    #[test]
    fn folds_vietnamese_and_keeps_offsets() {
        let mut a = folded_analyzer();
        let text = "Bộ Giáo dục và Đào tạo";
        let toks = tokens(&mut a, text);
        let words: Vec<&str> = toks.iter().map(|(_, t, _)| t.as_str()).collect();
        assert_eq!(words, ["bo", "giao", "duc", "va", "dao", "tao"]);
        assert_eq!(&text[toks[4].2.clone()], "Đào");
        let positions: Vec<usize> = toks.iter().map(|(p, _, _)| *p).collect();
        assert_eq!(positions, [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn decomposed_input_is_one_word_and_folds_the_same() {
        let nfd: String = "Bộ Y TẾ".nfd().collect();
        assert_eq!(terms(&mut folded_analyzer(), &nfd), ["bo", "y", "te"]);
        assert_eq!(terms(&mut exact_analyzer(), &nfd), ["bộ", "y", "tế"]);
        assert_eq!(terms(&mut exact_analyzer(), "Bộ Y TẾ"), ["bộ", "y", "tế"]);
    }

    #[test]
    fn separators_and_long_words() {
        let long = "a".repeat(MAX_WORD_BYTES + 1);
        let text = format!("12/2026/TT-BTC \u{0} \"x:y\" 🎉 {long} ok");
        assert_eq!(
            terms(&mut folded_analyzer(), &text),
            ["12", "2026", "tt", "btc", "x", "y", "ok"]
        );
        // A leading combining mark is not a word on its own.
        assert!(terms(&mut folded_analyzer(), "\u{0301}\u{0323}").is_empty());
    }

    #[test]
    fn analyzers_stay_aligned() {
        let text = "Thông tư số 12/2026/TT-BTC của Bộ Tài chính, ĐÀ NẴNG ﬁ ß İstanbul";
        let f = tokens(&mut folded_analyzer(), text);
        let e = tokens(&mut exact_analyzer(), text);
        assert_eq!(f.len(), e.len());
        for (a, b) in f.iter().zip(&e) {
            assert_eq!((a.0, &a.2), (b.0, &b.2));
        }
    }
}
