//! Paragraphs and sentences, with UTF-8 byte offsets into the original text.
//!
//! Paragraphs: when the text has blank lines, paragraphs are separated by blank lines (so a
//! paragraph wrapped over several lines stays whole); otherwise each non-empty line is a
//! paragraph. A line opening with a dialogue dash (— – ―) always starts a paragraph, and
//! U+2029 PARAGRAPH SEPARATOR always ends one. CRLF, CR and LF all end a line.
//!
//! Sentences: Unicode sentence boundaries (UAX #29, from `unicode-segmentation`) inside each
//! paragraph; they handle decimals, sentence ends inside closing quotes, CJK and Arabic
//! terminators. On top of them a boundary is removed when:
//! - the piece before it ends with a known abbreviation (`Mr.`, `Dr.`, `Nr.`, `z. B.`, …), an
//!   initial (`J.`), a dotted acronym (`U.S.`) or a short ordinal (`3.` as in `am 3. Oktober`);
//! - the piece after it starts in lower case or with inner punctuation (`"Why?" he asked.`);
//! - the piece before it does not end with a sentence terminator (a line wrapped inside a
//!   paragraph).
//!
//! Sentences are trimmed of surrounding whitespace, never overlap, and come in text order; every
//! non-whitespace character of the text is in exactly one sentence. All work is linear.

use std::ops::Range;

use serde::Serialize;
use unicode_segmentation::UnicodeSegmentation;

use crate::ByteSpan;

/// A paragraph and the sentences it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Paragraph {
    pub span: ByteSpan,
    /// Indices into [`Segmentation::sentences`].
    pub sentences: Range<usize>,
}

/// A sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sentence {
    pub span: ByteSpan,
    /// Index into [`Segmentation::paragraphs`].
    pub paragraph: usize,
}

/// Paragraphs and sentences of a text, both in text order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Segmentation {
    pub paragraphs: Vec<Paragraph>,
    pub sentences: Vec<Sentence>,
}

impl Segmentation {
    /// Index of the sentence holding byte `offset`, if any (binary search).
    pub fn sentence_at(&self, offset: usize) -> Option<usize> {
        let index = self.sentences.partition_point(|s| s.span.end <= offset);
        (index < self.sentences.len() && self.sentences[index].span.start <= offset)
            .then_some(index)
    }
}

/// Words that end with a period without ending the sentence, lower case, without the period.
/// Titles, honorifics and common short forms of English, French, German, Spanish, Italian and
/// Portuguese news text. Single letters (initials, `z. B.`) are handled apart.
const ABBREVIATIONS: &[&str] = &[
    // English
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "sr",
    "jr",
    "st",
    "mt",
    "gen",
    "col",
    "lt",
    "sgt",
    "capt",
    "cmdr",
    "adm",
    "gov",
    "sen",
    "rep",
    "pres",
    "rev",
    "hon",
    "fr",
    "vs",
    "no",
    "nos",
    "vol",
    "approx",
    "dept",
    "est",
    "fig",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "mon",
    "tue",
    "wed",
    "thu",
    "fri",
    "sat",
    "sun",
    "ave",
    "blvd",
    "e.g",
    "i.e",
    "cf",
    "al",
    // French
    "mme",
    "mmes",
    "mlle",
    "mlles",
    "me",
    "mgr",
    "pr",
    "ex",
    "env",
    "av",
    "apr.-j.-c",
    "cie",
    // German
    "nr",
    "bzw",
    "ca",
    "vgl",
    "usw",
    "sog",
    "hr",
    "fr",
    "frau",
    "str",
    "abs",
    "bsp",
    "inkl",
    "ggf",
    "mio",
    "mrd",
    "tsd",
    "evtl",
    "zb",
    "dt",
    "bspw",
    // Spanish, Portuguese, Italian
    "sra",
    "sres",
    "srta",
    "dña",
    "dª",
    "ud",
    "uds",
    "pág",
    "núm",
    "sig",
    "aprox",
    "ing",
    "lic",
    "arq",
    "sto",
    "sta",
    "sig",
    "dott",
    "sig.ra",
    "avv",
    "ing",
    "pag",
];

/// Splits `text` into paragraphs and sentences.
pub fn segment(text: &str) -> Segmentation {
    let mut segmentation = Segmentation::default();
    for paragraph in paragraph_spans(text) {
        let first_sentence = segmentation.sentences.len();
        let paragraph_index = segmentation.paragraphs.len();
        for span in sentence_spans(text, paragraph) {
            segmentation.sentences.push(Sentence {
                span,
                paragraph: paragraph_index,
            });
        }
        let last_sentence = segmentation.sentences.len();
        segmentation.paragraphs.push(Paragraph {
            span: paragraph,
            sentences: first_sentence..last_sentence,
        });
    }
    segmentation
}

/// A line of the text: its content span (without the line break) and whether a paragraph
/// separator (U+2029) ended it.
struct Line {
    span: ByteSpan,
    ends_paragraph: bool,
}

/// The lines of `text`, lazily (a text of ten million line breaks allocates nothing).
fn lines(text: &str) -> impl Iterator<Item = Line> + '_ {
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    let mut finished = false;
    std::iter::from_fn(move || {
        if finished {
            return None;
        }
        while let Some((offset, c)) = chars.next() {
            if matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}' | '\u{85}') {
                let line = Line {
                    span: ByteSpan::new(start, offset),
                    ends_paragraph: c == '\u{2029}',
                };
                start = offset + c.len_utf8();
                if c == '\r' && chars.peek().map(|&(_, next)| next) == Some('\n') {
                    chars.next();
                    start += 1;
                }
                return Some(line);
            }
        }
        finished = true;
        Some(Line {
            span: ByteSpan::new(start, text.len()),
            ends_paragraph: false,
        })
    })
}

fn paragraph_spans(text: &str) -> Vec<ByteSpan> {
    let is_blank = |line: &Line| line.span.slice(text).trim().is_empty();
    // Blank lines separate paragraphs when the text uses them; otherwise every line is one.
    let blank_line_separated = lines(text)
        .skip_while(|line| is_blank(line))
        .any(|line| is_blank(&line));
    let mut paragraphs = Vec::new();
    let mut current: Option<ByteSpan> = None;
    for line in lines(text) {
        if is_blank(&line) {
            paragraphs.extend(current.take());
            continue;
        }
        // A line opening with a dash is a new line of dialogue, hence a new paragraph.
        let starts_dialogue = line
            .span
            .slice(text)
            .trim_start()
            .starts_with(['—', '–', '―']);
        match current.as_mut() {
            Some(span) if blank_line_separated && !starts_dialogue => span.end = line.span.end,
            _ => {
                paragraphs.extend(current.take());
                current = Some(line.span);
            }
        }
        if line.ends_paragraph {
            paragraphs.extend(current.take());
        }
    }
    paragraphs.extend(current);
    paragraphs
        .into_iter()
        .map(|span| trim_span(text, span))
        .filter(|span| !span.is_empty())
        .collect()
}

/// Sentences of one paragraph.
fn sentence_spans(text: &str, paragraph: ByteSpan) -> Vec<ByteSpan> {
    let paragraph_text = paragraph.slice(text);
    let pieces: Vec<ByteSpan> = paragraph_text
        .split_sentence_bound_indices()
        .map(|(offset, piece)| {
            ByteSpan::new(
                paragraph.start + offset,
                paragraph.start + offset + piece.len(),
            )
        })
        .collect();
    let mut sentences = Vec::new();
    let mut sentence_start = paragraph.start;
    for (index, piece) in pieces.iter().enumerate() {
        let next = pieces.get(index + 1);
        let ends_sentence = match next {
            None => true,
            Some(next) => {
                let before = piece.slice(text);
                let after = next.slice(text);
                !(ends_with_non_final_period(before)
                    || continues_sentence(after)
                    || !ends_with_terminator(before))
            }
        };
        if ends_sentence {
            let span = trim_span(text, ByteSpan::new(sentence_start, piece.end));
            if !span.is_empty() {
                sentences.push(span);
            }
            sentence_start = piece.end;
        }
    }
    sentences
}

/// Closing quotes and brackets that may follow a sentence terminator.
fn is_closing_punctuation(c: char) -> bool {
    matches!(
        c,
        '"' | '\''
            | '”'
            | '’'
            | '»'
            | '›'
            | '“'
            | '‘'
            | '」'
            | '』'
            | ')'
            | ']'
            | '}'
            | '）'
            | '】'
    )
}

fn is_sentence_terminator(c: char) -> bool {
    matches!(
        c,
        '.' | '!' | '?' | '…' | '。' | '！' | '？' | '؟' | '۔' | '।' | '॥' | '｡' | ';' | ':'
    ) || c == '\u{37e}' // Greek question mark
}

/// Whether `piece` ends, closing quotes and brackets aside, with a sentence terminator.
/// A colon or semicolon counts, so that UAX #29 boundaries after them (there are none by
/// default) are never merged away, but a line wrapped mid-sentence is.
fn ends_with_terminator(piece: &str) -> bool {
    piece
        .trim_end()
        .chars()
        .rev()
        .find(|&c| !is_closing_punctuation(c))
        .is_some_and(is_sentence_terminator)
}

/// Whether the piece after a boundary cannot start a sentence: lower case, or inner punctuation.
fn continues_sentence(piece: &str) -> bool {
    piece
        .trim_start()
        .chars()
        .next()
        .is_some_and(|c| c.is_lowercase() || matches!(c, ',' | ';' | ':' | ')' | '—' | '–'))
}

/// Whether `piece` ends with a period that belongs to an abbreviation, initial, dotted
/// acronym or short ordinal rather than ending the sentence.
fn ends_with_non_final_period(piece: &str) -> bool {
    let trimmed = piece.trim_end();
    let Some(without_period) = trimmed.strip_suffix('.') else {
        return false;
    };
    // The word before the period: back to the last whitespace or opening punctuation.
    let word_start = without_period
        .char_indices()
        .rev()
        .find(|&(_, c)| c.is_whitespace() || matches!(c, '(' | '[' | '"' | '“' | '„' | '«' | '‹'))
        .map_or(0, |(offset, c)| offset + c.len_utf8());
    let word = &without_period[word_start..];
    if word.is_empty() {
        return false;
    }
    let letters = word.chars().filter(|c| c.is_alphabetic()).count();
    // Initials (`J.`), and the single letters of `z. B.`, `d. h.`, `M. Macron`.
    if letters == 1 && word.chars().count() == 1 {
        return true;
    }
    // Dotted acronyms: `U.S`, `U.N`, `e.g`.
    if word.contains('.') && word.split('.').all(|part| part.chars().count() <= 2) {
        return true;
    }
    // Ordinals such as `3.` or `12.` (German and Scandinavian dates); years stay sentence-final.
    if word.len() <= 2 && word.chars().all(|c| c.is_ascii_digit()) {
        return true;
    }
    let lower = word.to_lowercase();
    ABBREVIATIONS.contains(&lower.as_str())
}

/// `span` without leading and trailing whitespace (empty at `span.end` if all whitespace).
pub(crate) fn trim_span(text: &str, span: ByteSpan) -> ByteSpan {
    let slice = span.slice(text);
    let start = span.start + (slice.len() - slice.trim_start().len());
    let end = span.end - (slice.len() - slice.trim_end().len());
    if start >= end {
        ByteSpan::new(span.end, span.end)
    } else {
        ByteSpan::new(start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentences(text: &str) -> Vec<&str> {
        segment(text)
            .sentences
            .iter()
            .map(|s| s.span.slice(text))
            .collect()
    }

    #[test]
    fn abbreviations_and_initials_do_not_end_sentences() {
        assert_eq!(
            sentences("Mr. Smith met Dr. J. R. Jones in the U.S. Capitol. They talked."),
            [
                "Mr. Smith met Dr. J. R. Jones in the U.S. Capitol.",
                "They talked."
            ]
        );
        assert_eq!(
            sentences("Das gilt z. B. für Nr. 5 am 3. Oktober. Dann kam Sr. García."),
            [
                "Das gilt z. B. für Nr. 5 am 3. Oktober.",
                "Dann kam Sr. García."
            ]
        );
    }

    #[test]
    fn decimals_do_not_end_sentences() {
        assert_eq!(
            sentences("Growth was 3.5 percent. Prices rose."),
            ["Growth was 3.5 percent.", "Prices rose."]
        );
    }

    #[test]
    fn sentence_end_inside_quotes() {
        assert_eq!(
            sentences("He said: \"It is over.\" Then he left. \"Why?\" she asked."),
            [
                "He said: \"It is over.\"",
                "Then he left.",
                "\"Why?\" she asked."
            ]
        );
    }

    #[test]
    fn cjk_and_arabic_terminators() {
        assert_eq!(
            sentences("今日は晴れです。明日は雨！本当？"),
            ["今日は晴れです。", "明日は雨！", "本当？"]
        );
        assert_eq!(
            sentences("هل أنت بخير؟ نعم، أنا بخير."),
            ["هل أنت بخير؟", "نعم، أنا بخير."]
        );
    }

    #[test]
    fn crlf_paragraphs_and_wrapped_lines() {
        let text = "First line of a\r\nwrapped paragraph. Second.\r\n\r\nNext paragraph.\r\n";
        let segmentation = segment(text);
        assert_eq!(segmentation.paragraphs.len(), 2);
        assert_eq!(
            sentences(text),
            [
                "First line of a\r\nwrapped paragraph.",
                "Second.",
                "Next paragraph."
            ]
        );
        assert_eq!(segmentation.paragraphs[0].sentences, 0..2);
        assert_eq!(segmentation.paragraphs[1].sentences, 2..3);
        assert_eq!(segmentation.sentences[2].paragraph, 1);
    }

    #[test]
    fn lines_are_paragraphs_without_blank_lines() {
        let text = "Headline without period\nBody sentence one. Body two.";
        let segmentation = segment(text);
        assert_eq!(segmentation.paragraphs.len(), 2);
        assert_eq!(
            sentences(text),
            ["Headline without period", "Body sentence one.", "Body two."]
        );
    }

    #[test]
    fn sentence_at_finds_the_holding_sentence() {
        let text = "One. Two.";
        let segmentation = segment(text);
        assert_eq!(segmentation.sentence_at(0), Some(0));
        assert_eq!(segmentation.sentence_at(6), Some(1));
        assert_eq!(segmentation.sentence_at(4), None);
    }

    #[test]
    fn empty_and_blank_text_have_no_sentences() {
        assert_eq!(segment(""), Segmentation::default());
        assert_eq!(segment(" \n\r\n\t "), Segmentation::default());
    }
}
