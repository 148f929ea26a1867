//! Apertium's stream format: plain text in, plain text out.
//!
//! In: reserved characters are escaped; `*` and `#` (which Apertium cannot escape, and which it
//! uses as markers) travel in superblanks; each placeholder becomes a word-bound blank around a
//! stand-in word, so it moves with its word through reordering; the segment ends with an empty
//! superblank so the last word is flushed.
//!
//! Out: blanks are unwrapped, word-bound blanks turn back into placeholders, and the unknown-word
//! markers are removed, always, with the marked words reported: `*word` (not in the source
//! dictionary), `@word` (no bilingual entry), `#word` (no generated form; its tags are dropped).

use std::sync::LazyLock;

use regex::Regex;

use crate::engine::{parse_placeholder_body, placeholder, PlaceholderKind};

/// Stand-ins the analysers of every installed pair know as a proper noun and a numeral, so the
/// sentence around a placeholder stays grammatical (a bare unknown token breaks agreement and
/// capitalization in Apertium's transfer rules).
const NAME_STAND_IN: &str = "Pedro";
const NUMBER_STAND_IN: &str = "2";

/// Characters the stream format reserves; a backslash makes them literal.
const RESERVED: &[char] = &['\\', '[', ']', '^', '$', '/', '@', '<', '>', '{', '}'];

static PLACEHOLDER_IN_TEXT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"⟦([TN]\d+)⟧").unwrap_or_else(|error| unreachable!("{error}")));

/// Encodes one plain-text segment into stream format, without the null terminator.
pub(crate) fn encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len() + 16);
    let mut cursor = 0;
    for captures in PLACEHOLDER_IN_TEXT.captures_iter(text) {
        let (Some(whole), Some(body)) = (captures.get(0), captures.get(1)) else {
            continue;
        };
        let Some((kind, _)) = parse_placeholder_body(body.as_str()) else {
            continue;
        };
        escape_into(&text[cursor..whole.start()], &mut encoded);
        encoded.push_str("[[");
        encoded.push_str(body.as_str());
        encoded.push_str("]]");
        encoded.push_str(stand_in(kind));
        encoded.push_str("[[/]]");
        cursor = whole.end();
    }
    escape_into(&text[cursor..], &mut encoded);
    encoded.push_str("[]");
    encoded
}

fn stand_in(kind: PlaceholderKind) -> &'static str {
    match kind {
        PlaceholderKind::Name => NAME_STAND_IN,
        PlaceholderKind::Number => NUMBER_STAND_IN,
    }
}

fn escape_into(text: &str, encoded: &mut String) {
    for character in text.chars() {
        match character {
            // A NUL would end the segment early and desynchronize the null-flush protocol.
            '\0' => {}
            '*' | '#' => {
                encoded.push('[');
                encoded.push(character);
                encoded.push(']');
            }
            _ if RESERVED.contains(&character) => {
                encoded.push('\\');
                encoded.push(character);
            }
            _ => encoded.push(character),
        }
    }
}

/// A segment of pipeline output turned back into plain text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Decoded {
    pub text: String,
    pub unknown_words: Vec<String>,
}

/// Decodes one segment of pipeline output (without its null terminator).
pub(crate) fn decode(stream: &str) -> Decoded {
    let chars: Vec<char> = stream.chars().collect();
    let mut decoder = Decoder {
        chars: &chars,
        position: 0,
        output: Decoded::default(),
    };
    decoder.run(None);
    decoder.output
}

struct Decoder<'a> {
    chars: &'a [char],
    position: usize,
    output: Decoded,
}

impl Decoder<'_> {
    fn peek(&self, offset: usize) -> Option<char> {
        self.chars.get(self.position + offset).copied()
    }

    fn starts_with(&self, pattern: &str) -> bool {
        pattern
            .chars()
            .enumerate()
            .all(|(offset, character)| self.peek(offset) == Some(character))
    }

    /// Decodes until `terminator` (not consumed) or the end.
    fn run(&mut self, terminator: Option<&str>) {
        while let Some(character) = self.peek(0) {
            if terminator.is_some_and(|terminator| self.starts_with(terminator)) {
                return;
            }
            match character {
                '\\' => {
                    if let Some(escaped) = self.peek(1) {
                        self.output.text.push(escaped);
                    }
                    self.position += 2;
                }
                '[' if self.starts_with("[[") => self.word_bound_blank(),
                '[' => {
                    self.position += 1;
                    let content = self.read_raw_until("]");
                    self.position += 1;
                    self.output.text.push_str(&unescape(&content));
                }
                '*' | '@' | '#' => self.marked_word(character),
                _ => {
                    self.output.text.push(character);
                    self.position += 1;
                }
            }
        }
    }

    /// `[[header]]content[[/]]`: our placeholders come back here.
    fn word_bound_blank(&mut self) {
        self.position += 2;
        let header = self.read_raw_until("]]");
        self.position += 2;
        if header == "/" {
            // A closing tag without its opening one: nothing to show.
            return;
        }
        let mut inner = Decoder {
            chars: self.chars,
            position: self.position,
            output: Decoded::default(),
        };
        inner.run(Some("[[/]]"));
        self.position = inner.position + "[[/]]".len();
        let content = inner.output;
        // Blanks merged by transfer read "T0; N1": the first placeholder names the word.
        let slot = header
            .split(';')
            .filter_map(|part| parse_placeholder_body(part.trim()))
            .next();
        match slot {
            Some((kind, index)) => {
                let marker = placeholder(kind, index);
                let stand_in = stand_in(kind);
                if content.text.contains(stand_in) {
                    self.output
                        .text
                        .push_str(&content.text.replacen(stand_in, &marker, 1));
                } else {
                    // The stand-in itself was translated or dropped: the slot still stands.
                    self.output.text.push_str(&marker);
                }
            }
            None => {
                self.output.text.push_str(&content.text);
                self.output.unknown_words.extend(content.unknown_words);
            }
        }
    }

    fn marked_word(&mut self, marker: char) {
        self.position += 1;
        let start = self.output.text.len();
        while let Some(character) = self.peek(0) {
            if character.is_alphanumeric() || character == '-' || character == '\'' {
                self.output.text.push(character);
                self.position += 1;
            } else {
                break;
            }
        }
        if marker == '#' {
            // A generation failure prints the lemma with its analysis tags: `#go\<vblex\>`.
            while self.starts_with("\\<") {
                let tag_end = self.chars[self.position..]
                    .windows(2)
                    .position(|pair| pair == ['\\', '>']);
                match tag_end {
                    Some(offset) => self.position += offset + 2,
                    None => break,
                }
            }
        }
        let word = self.output.text[start..].to_string();
        if !word.is_empty() && !self.output.unknown_words.contains(&word) {
            self.output.unknown_words.push(word);
        }
    }

    /// Raw characters up to an unescaped `delimiter` (not consumed), escapes kept.
    fn read_raw_until(&mut self, delimiter: &str) -> String {
        let mut raw = String::new();
        while self.peek(0).is_some() && !self.starts_with(delimiter) {
            if self.peek(0) == Some('\\') {
                raw.extend(self.peek(0));
                self.position += 1;
            }
            raw.extend(self.peek(0));
            self.position += 1;
        }
        raw
    }
}

fn unescape(raw: &str) -> String {
    let mut text = String::with_capacity(raw.len());
    let mut characters = raw.chars();
    while let Some(character) = characters.next() {
        if character == '\\' {
            text.extend(characters.next());
        } else {
            text.push(character);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_escapes_reserved_characters_and_wraps_placeholders() {
        assert_eq!(
            encode("⟦T0⟧ said [5] a*b #1 <x> \0"),
            "[[T0]]Pedro[[/]] said \\[5\\] a[*]b [#]1 \\<x\\> []"
        );
        assert_eq!(encode("⟦N3⟧ ⟦X1⟧"), "[[N3]]2[[/]] ⟦X1⟧[]");
    }

    #[test]
    fn decode_unwraps_blanks_placeholders_and_markers() {
        let decoded = decode(
            "[[T0]]Pedro[[/]] dijo que *Hicks y @foo \\[5\\] [*]x[*] #\\<prn\\> [[N1]]2[[/]] millones.[]",
        );
        assert_eq!(
            decoded.text,
            "⟦T0⟧ dijo que Hicks y foo [5] *x*  ⟦N1⟧ millones."
        );
        assert_eq!(decoded.unknown_words, vec!["Hicks", "foo"]);
    }

    #[test]
    fn decode_keeps_slot_when_stand_in_changed_or_shares_blank() {
        assert_eq!(decode("[[T2]]Pere[[/]] ha dit").text, "⟦T2⟧ ha dit");
        assert_eq!(decode("[[T2]]e Pedro[[/]].").text, "e ⟦T2⟧.");
        assert_eq!(decode("[[T2; T3]]Pedro[[/]]").text, "⟦T2⟧");
        assert_eq!(decode("[[t:b:x]]hola[[/]]").text, "hola");
    }

    #[test]
    fn decode_survives_truncated_input() {
        for broken in ["[[T0", "[[T0]]Pedro", "[abc", "\\", "#\\<prn", "*"] {
            let _ = decode(broken);
        }
    }
}
