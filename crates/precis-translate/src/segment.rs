//! Splitting long texts on sentence boundaries before translation, and joining them back.

use std::ops::Range;

/// Sentence byte ranges of `text`, covering it without gaps.
///
/// The sentences are precis-text's (abbreviations, initials, decimals, CJK), so a quote is cut
/// for translation exactly where the rest of precis sees its sentences end; the whitespace
/// between two sentences goes with the first.
pub fn sentence_ranges(text: &str) -> Vec<Range<usize>> {
    let starts: Vec<usize> = precis_text::segment::segment(text)
        .sentences
        .iter()
        .map(|sentence| sentence.span.start)
        .collect();
    if starts.is_empty() {
        // No sentence found (blank text): the whole text is one piece.
        return std::iter::once(0..text.len())
            .filter(|range| !range.is_empty())
            .collect();
    }
    let mut ranges = Vec::with_capacity(starts.len());
    for (index, &start) in starts.iter().enumerate() {
        let start = if index == 0 { 0 } else { start };
        let end = starts.get(index + 1).copied().unwrap_or(text.len());
        ranges.push(start..end);
    }
    ranges
}

/// Pieces of a text sent to an engine separately, and the whitespace that joins them back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunks {
    /// Leading whitespace of the text, kept out of the engine.
    pub leading: String,
    /// Non-empty pieces, each trimmed, each a run of whole sentences.
    pub pieces: Vec<String>,
    /// `separators[i]` follows `pieces[i]` (the last one is the text's trailing whitespace).
    pub separators: Vec<String>,
}

impl Chunks {
    /// Puts translated pieces back together with the original whitespace between them.
    pub fn join(&self, translated_pieces: &[String]) -> String {
        let mut joined = self.leading.clone();
        for (piece, separator) in translated_pieces.iter().zip(&self.separators) {
            joined.push_str(piece);
            joined.push_str(separator);
        }
        joined
    }
}

/// Splits `text` into runs of whole sentences of at most `max_chars` characters each (a single
/// longer sentence stays whole: cutting inside a sentence would hurt the translation more).
pub fn chunk_text(text: &str, max_chars: usize) -> Chunks {
    let trimmed_start = text.len() - text.trim_start().len();
    let leading = text[..trimmed_start].to_string();
    let mut pieces = Vec::new();
    let mut separators = Vec::new();
    let mut current: Option<Range<usize>> = None;
    let mut current_chars = 0;
    for range in sentence_ranges(text) {
        if range.end <= trimmed_start {
            continue;
        }
        let range = range.start.max(trimmed_start)..range.end;
        let sentence_chars = text[range.clone()].chars().count();
        match current.as_mut() {
            Some(open) if current_chars + sentence_chars <= max_chars => {
                open.end = range.end;
                current_chars += sentence_chars;
            }
            Some(open) => {
                push_piece(text, open.clone(), &mut pieces, &mut separators);
                current = Some(range);
                current_chars = sentence_chars;
            }
            None => {
                current = Some(range);
                current_chars = sentence_chars;
            }
        }
    }
    if let Some(open) = current {
        push_piece(text, open, &mut pieces, &mut separators);
    }
    Chunks {
        leading,
        pieces,
        separators,
    }
}

fn push_piece(
    text: &str,
    range: Range<usize>,
    pieces: &mut Vec<String>,
    separators: &mut Vec<String>,
) {
    let slice = &text[range];
    let content = slice.trim_end();
    if content.is_empty() {
        // Whitespace only: attach to the previous separator so nothing is lost.
        if let Some(last) = separators.last_mut() {
            last.push_str(slice);
        }
        return;
    }
    pieces.push(content.to_string());
    separators.push(slice[content.len()..].to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_piece() {
        let chunks = chunk_text("  One. Two!  ", 100);
        assert_eq!(chunks.pieces, vec!["One. Two!"]);
        assert_eq!(chunks.join(&chunks.pieces), "  One. Two!  ");
    }

    #[test]
    fn long_text_splits_on_sentences_and_joins_back() {
        let text = "First sentence here. Second one is here.\nThird sentence follows. Last.";
        let chunks = chunk_text(text, 25);
        assert_eq!(
            chunks.pieces,
            vec![
                "First sentence here.",
                "Second one is here.",
                "Third sentence follows.",
                "Last."
            ]
        );
        assert_eq!(chunks.join(&chunks.pieces), text);
    }

    #[test]
    fn empty_and_blank_texts_have_no_pieces() {
        for text in ["", "   \n "] {
            let chunks = chunk_text(text, 10);
            assert!(chunks.pieces.is_empty());
            assert_eq!(chunks.join(&[]), text);
        }
    }
}
