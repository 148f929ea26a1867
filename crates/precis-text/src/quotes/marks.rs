//! Finding quotes by their marks: one linear pass per paragraph with a bounded stack of open
//! marks (a nested quote belongs to the outer one; a quote left open at a paragraph's end
//! continues when the next paragraph repeats its mark), and dialogue paragraphs opened by a
//! dash, with the narrator's words cut out.

use super::lexicon::{cue_kind, inverted_cue, is_auxiliary, words};
use crate::segment::{trim_span, Segmentation};
use crate::ByteSpan;

/// Closing marks accepted for each opening mark.
fn closers_for(open: char) -> &'static [char] {
    match open {
        '“' => &['”'],
        '„' => &['“', '”'],
        '«' => &['»'],
        '»' => &['«'],
        '‹' => &['›'],
        '›' => &['‹'],
        '‚' => &['‘', '’'],
        '‘' => &['’'],
        '「' => &['」'],
        '『' => &['』'],
        '"' => &['"'],
        '”' => &['”'],
        _ => &[],
    }
}

/// Dashes that introduce dialogue or cut the narrator's words out of it.
pub(super) fn is_dialogue_dash(c: char) -> bool {
    matches!(c, '—' | '–' | '―')
}

/// Maximum nesting of quote marks tracked; deeper marks are ignored (bounds the stack).
const MAX_NESTING: usize = 8;

/// Bytes after a comma of dialogue in which an incise's cue word is looked for.
const INCISE_LOOKAHEAD_BYTES: usize = 64;

/// How a found quote was marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MarkStyle {
    /// Opened and closed in one paragraph.
    Paired,
    /// Opened in an earlier paragraph, the mark repeated at each new one.
    MultiParagraph,
    /// A dialogue paragraph opened by a dash.
    Dialogue,
}

/// A quote found by its marks, before attribution.
#[derive(Debug, Clone, Copy)]
pub(super) struct RawQuote {
    /// The quoted words, without marks and surrounding spaces.
    pub(super) span: ByteSpan,
    /// With the marks, or from the dialogue dash.
    pub(super) outer: ByteSpan,
    pub(super) style: MarkStyle,
}

/// An open quote mark on the stack.
#[derive(Debug, Clone, Copy)]
struct OpenMark {
    mark: char,
    /// Offset of the opening mark.
    at: usize,
}

/// Every top-level quote of `text`, in text order; the spans do not overlap.
pub(super) fn find_quotes(text: &str, seg: &Segmentation) -> Vec<RawQuote> {
    let mut quotes = Vec::new();
    // The outermost quote carried over from the previous paragraph, if it continues.
    let mut carried: Option<OpenMark> = None;
    let mut previous_dialogue_accepted = false;
    let mut previous_paragraph_ends_with_colon = false;
    for (paragraph_index, paragraph) in seg.paragraphs.iter().enumerate() {
        let paragraph_text = paragraph.span.slice(text);
        let mut scan_from = paragraph.span.start;
        let mut stack: Vec<OpenMark> = Vec::new();
        let mut continued = false;
        if let Some(open) = carried.take() {
            // Continues only if this paragraph opens with the same mark (or its closer, the
            // French habit of » at the start of continued paragraphs).
            let first = paragraph_text.chars().next();
            if first.is_some_and(|c| c == open.mark || closers_for(open.mark).contains(&c)) {
                stack.push(open);
                scan_from += first.map_or(0, char::len_utf8);
                continued = true;
            }
        }
        let dialogue = !continued && paragraph_text.chars().next().is_some_and(is_dialogue_dash);
        if dialogue {
            let found = dialogue_quotes(text, paragraph.span);
            let accepted = !found.is_empty()
                && (found.iter().any(|(_, has_cue)| *has_cue)
                    || previous_dialogue_accepted
                    || previous_paragraph_ends_with_colon);
            if accepted {
                quotes.extend(found.into_iter().map(|(quote, _)| quote));
            }
            previous_dialogue_accepted = accepted;
        } else {
            previous_dialogue_accepted = false;
            scan_marks(
                text,
                scan_from,
                paragraph.span.end,
                &mut stack,
                &mut |open, close| {
                    // Only a quote carried over from an earlier paragraph opened before this one.
                    let style = if open.at < paragraph.span.start {
                        MarkStyle::MultiParagraph
                    } else {
                        MarkStyle::Paired
                    };
                    push_quote(text, &mut quotes, open.at, open.mark, close, style);
                },
            );
            // An open quote may continue in the next paragraph; otherwise it is dropped.
            if let Some(bottom) = stack.first() {
                if paragraph_index + 1 < seg.paragraphs.len() {
                    carried = Some(*bottom);
                }
            }
        }
        previous_paragraph_ends_with_colon = paragraph_text.trim_end().ends_with(':');
    }
    quotes
}

/// Scans `text[from..to]` for quote marks, calling `emit(open, close_offset)` for each
/// top-level quote closed.
fn scan_marks(
    text: &str,
    from: usize,
    to: usize,
    stack: &mut Vec<OpenMark>,
    emit: &mut dyn FnMut(OpenMark, usize),
) {
    let slice = &text[from..to];
    let mut previous: Option<char> = text[..from].chars().next_back();
    let mut chars = slice.char_indices().peekable();
    while let Some((relative, c)) = chars.next() {
        let at = from + relative;
        let next = chars.peek().map(|&(_, next)| next);
        if let Some(depth) = closing_depth(stack, c, previous, next) {
            let open = stack[depth];
            stack.truncate(depth);
            if depth == 0 {
                emit(open, at);
            }
        } else if stack.len() < MAX_NESTING && can_open(c, previous, next) {
            stack.push(OpenMark { mark: c, at });
        }
        previous = Some(c);
    }
}

/// The depth of the open mark that `c` closes, searching from the innermost.
fn closing_depth(
    stack: &[OpenMark],
    c: char,
    previous: Option<char>,
    next: Option<char>,
) -> Option<usize> {
    if stack.is_empty() {
        return None;
    }
    let looks_like_opener =
        previous.is_none_or(char::is_whitespace) && next.is_some_and(char::is_alphanumeric);
    // An apostrophe inside a word ("don’t") closes nothing.
    if c == '’' && next.is_some_and(char::is_alphanumeric) {
        return None;
    }
    stack
        .iter()
        .rposition(|open| closers_for(open.mark).contains(&c))
        .filter(|&depth| {
            // A mark that looks like an opener (space before, word after) opens a nested quote
            // rather than closing: straight and Swedish marks, or a mark that is its own closer
            // below the innermost quote.
            let symmetric_below = stack[depth].mark == c && depth + 1 != stack.len();
            let ambiguous = matches!(c, '"' | '”') && previous.is_some();
            !(looks_like_opener && (symmetric_below || ambiguous))
        })
}

fn can_open(c: char, previous: Option<char>, next: Option<char>) -> bool {
    let after_boundary = previous.is_none_or(|p| {
        p.is_whitespace()
            || matches!(p, '(' | '[' | '{' | '—' | '–' | '-' | '/' | ':')
            || closers_for(p).is_empty() && is_quote_mark(p)
    });
    let before_content = next.is_some_and(|n| !n.is_whitespace());
    match c {
        '“' | '„' | '«' | '‹' | '‚' | '「' | '『' => next.is_some(),
        // Ambiguous marks open only at a word start.
        '"' | '‘' | '»' | '›' | '”' => after_boundary && before_content,
        _ => false,
    }
}

fn is_quote_mark(c: char) -> bool {
    !closers_for(c).is_empty() || matches!(c, '’' | '」' | '』')
}

/// Records a quote from its opening mark to its closing mark, trimmed of inner spaces.
fn push_quote(
    text: &str,
    quotes: &mut Vec<RawQuote>,
    open_at: usize,
    open_mark: char,
    close_at: usize,
    style: MarkStyle,
) {
    let close_len = text[close_at..].chars().next().map_or(0, char::len_utf8);
    let outer = ByteSpan::new(open_at, close_at + close_len);
    let span = trim_span(
        text,
        ByteSpan::new(open_at + open_mark.len_utf8(), close_at),
    );
    if span.is_empty() {
        return;
    }
    if open_mark == '«' && style == MarkStyle::Paired {
        if let Some((first_end, second_start)) = incise_split(text, span) {
            // « A, a rappelé X. B »: two quotes, the incise outside both.
            let first = trim_span(text, ByteSpan::new(span.start, first_end));
            let second = ByteSpan::new(second_start, span.end);
            if !first.is_empty() && !second.is_empty() {
                quotes.push(RawQuote {
                    span: first,
                    outer: ByteSpan::new(open_at, first_end),
                    style,
                });
                quotes.push(RawQuote {
                    span: second,
                    outer: ByteSpan::new(second_start, outer.end),
                    style,
                });
                return;
            }
        }
    }
    quotes.push(RawQuote { span, outer, style });
}

/// Words an incise inside guillemets may have ("a-t-elle expliqué", "a rappelé Paul Girardin").
const MAX_INCISE_WORDS: usize = 5;

/// French typesetting keeps the narrator's incise inside one pair of guillemets: « A, a
/// rappelé X. B ». Returns where the first part ends (after its comma) and where the second
/// starts, when the words after a comma are a cue (a cue verb, an auxiliary and a cue verb, or
/// an inversion) closed by a full stop or a comma within a few words, and words follow.
fn incise_split(text: &str, content: ByteSpan) -> Option<(usize, usize)> {
    let slice = content.slice(text);
    for (comma, _) in slice.match_indices(", ") {
        let after = comma + 2;
        let rest = &slice[after..];
        let window_end = rest
            .char_indices()
            .nth(INCISE_LOOKAHEAD_BYTES)
            .map_or(rest.len(), |(i, _)| i);
        let window = &rest[..window_end];
        let Some(stop) = window.find(['.', ',']) else {
            continue;
        };
        let incise = &window[..stop];
        let incise_words = words(incise, 0);
        let word = |i: usize| incise_words.get(i).map(|w| w.slice(incise));
        let Some(first) = word(0) else {
            continue;
        };
        let is_cue = |w: &str| {
            inverted_cue(w) || (cue_kind(w).is_some() && !crate::names::is_capitalized(w))
        };
        let opens_with_cue = is_cue(first) || (is_auxiliary(first) && word(1).is_some_and(is_cue));
        if !opens_with_cue
            || incise_words.len() > MAX_INCISE_WORDS
            || incise.contains(['«', '»', '"', '“', '”'])
        {
            continue;
        }
        let resume = after + stop + 1;
        let second = slice[resume..].trim_start();
        if second.is_empty() {
            continue;
        }
        return Some((content.start + comma + 1, content.end - second.len()));
    }
    None
}

/// Quotes of a dialogue paragraph opened by a dash; each with whether a cue word appears in
/// the narrator's words of the paragraph.
fn dialogue_quotes(text: &str, paragraph: ByteSpan) -> Vec<(RawQuote, bool)> {
    let paragraph_text = paragraph.slice(text);
    let mut spoken: Vec<ByteSpan> = Vec::new();
    let mut narration_has_cue = false;
    let mut segment_start =
        paragraph.start + paragraph_text.chars().next().map_or(0, char::len_utf8);
    let mut in_narration = false;
    let mut previous: Option<char> = None;
    for (relative, c) in paragraph_text.char_indices().skip(1) {
        let at = paragraph.start + relative;
        if is_dialogue_dash(c) {
            if !in_narration && previous.is_some_and(char::is_whitespace) {
                // Spanish: " —afirmó el ministro—": the narrator speaks until the next dash.
                spoken.push(ByteSpan::new(segment_start, at));
                in_narration = true;
                segment_start = at + c.len_utf8();
            } else if in_narration {
                narration_has_cue |= contains_cue(&text[segment_start..at]);
                in_narration = false;
                segment_start = at + c.len_utf8();
            }
        } else if c == ',' && !in_narration {
            // French: "— Je pars, dit-il." The narrator's incise follows a comma.
            // Only the first words matter; a bounded look keeps long paragraphs linear.
            let rest = crate::language::prefix_on_char_boundary(
                &text[at + 1..paragraph.end],
                INCISE_LOOKAHEAD_BYTES,
            );
            if first_word_is_cue(rest) {
                spoken.push(ByteSpan::new(segment_start, at));
                narration_has_cue = true;
                in_narration = true;
                segment_start = at + 1;
            }
        }
        previous = Some(c);
    }
    if in_narration {
        narration_has_cue |= contains_cue(&text[segment_start..paragraph.end]);
    } else {
        spoken.push(ByteSpan::new(segment_start, paragraph.end));
    }
    spoken
        .into_iter()
        .filter_map(|segment| {
            let span = trim_quote_content(text, segment);
            (!span.is_empty()).then_some((
                RawQuote {
                    span,
                    outer: ByteSpan::new(segment.start.min(span.start), span.end),
                    style: MarkStyle::Dialogue,
                },
                narration_has_cue,
            ))
        })
        .map(|(mut quote, has_cue)| {
            // The outer span starts at the dash that opened the segment when there is one.
            let before = &text[..quote.outer.start];
            if let Some(dash) = before
                .trim_end()
                .chars()
                .next_back()
                .filter(|&c| is_dialogue_dash(c))
            {
                quote.outer.start = before.trim_end().len() - dash.len_utf8();
            }
            (quote, has_cue)
        })
        .collect()
}

/// A dialogue segment without surrounding spaces and the punctuation that joins it to the
/// narrator's words (". Lo haré" → "Lo haré").
fn trim_quote_content(text: &str, span: ByteSpan) -> ByteSpan {
    let slice = span.slice(text);
    let start_trim = slice.len()
        - slice
            .trim_start_matches(|c: char| c.is_whitespace() || matches!(c, '.' | ',' | ';'))
            .len();
    let end_trim = slice.len()
        - slice
            .trim_end_matches(|c: char| c.is_whitespace() || c == ',')
            .len();
    if start_trim + end_trim >= slice.len() {
        return ByteSpan::new(span.end, span.end);
    }
    ByteSpan::new(span.start + start_trim, span.end - end_trim)
}

fn contains_cue(text: &str) -> bool {
    words(text, 0)
        .iter()
        .any(|word| cue_kind(word.slice(text)).is_some() || inverted_cue(word.slice(text)))
}

fn first_word_is_cue(text: &str) -> bool {
    words(text, 0).first().is_some_and(|word| {
        let w = word.slice(text);
        inverted_cue(w) || cue_kind(w).is_some() || is_auxiliary(w)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::segment;

    /// Each quote found as (words, words with marks, style).
    fn found(text: &str) -> Vec<(&str, &str, MarkStyle)> {
        find_quotes(text, &segment(text))
            .into_iter()
            .map(|quote| (quote.span.slice(text), quote.outer.slice(text), quote.style))
            .collect()
    }

    #[test]
    fn paired_marks_of_many_presses() {
        let text = "Ann wrote “one two”, Luc « trois quatre », Jan „fünf sechs“, Kei 「七 八」 \
                    and Ola »ni ti«.";
        assert_eq!(
            found(text),
            [
                ("one two", "“one two”", MarkStyle::Paired),
                ("trois quatre", "« trois quatre »", MarkStyle::Paired),
                ("fünf sechs", "„fünf sechs“", MarkStyle::Paired),
                ("七 八", "「七 八」", MarkStyle::Paired),
                ("ni ti", "»ni ti«", MarkStyle::Paired),
            ]
        );
    }

    #[test]
    fn nested_quotes_belong_to_the_outer_one() {
        let text = "“He told me ‘never again’ twice,” she said.";
        assert_eq!(
            found(text),
            [(
                "He told me ‘never again’ twice,",
                "“He told me ‘never again’ twice,”",
                MarkStyle::Paired
            )]
        );
    }

    #[test]
    fn apostrophes_and_inch_marks_are_not_quotes() {
        assert_eq!(
            found("‘I don’t know,’ he said."),
            [("I don’t know,", "‘I don’t know,’", MarkStyle::Paired)]
        );
        assert_eq!(
            found("A 5\" screen. \"Yes, indeed,\" he said."),
            [("Yes, indeed,", "\"Yes, indeed,\"", MarkStyle::Paired)]
        );
    }

    #[test]
    fn a_quote_continues_where_the_next_paragraph_repeats_its_mark() {
        let text = "“The first paragraph ends open.\n\n“The second one closes,” she said.";
        assert_eq!(
            found(text),
            [(
                "The first paragraph ends open.\n\n“The second one closes,",
                text.trim_end_matches(" she said."),
                MarkStyle::MultiParagraph
            )]
        );
        // Without the repeated mark the open quote is dropped.
        assert!(found("“The first paragraph ends open.\n\nThe second does not go on.").is_empty());
        assert!(found("“Never closed at all.").is_empty());
    }

    #[test]
    fn spanish_dialogue_cuts_the_narrator_out() {
        let text = "—Lo haré mañana —afirmó el ministro—. No hay otra salida.";
        assert_eq!(
            found(text),
            [
                ("Lo haré mañana", "—Lo haré mañana", MarkStyle::Dialogue),
                (
                    "No hay otra salida.",
                    "—. No hay otra salida.",
                    MarkStyle::Dialogue
                ),
            ]
        );
    }

    #[test]
    fn french_dialogue_ends_at_the_incise() {
        assert_eq!(
            found("— Je pars demain, dit-il."),
            [("Je pars demain", "— Je pars demain", MarkStyle::Dialogue)]
        );
    }

    #[test]
    fn an_incise_inside_guillemets_cuts_the_quote_in_two() {
        assert_eq!(
            found("« Elle n'a jamais couru, a rappelé Paul. Elle écrit encore. »"),
            [
                (
                    "Elle n'a jamais couru,",
                    "« Elle n'a jamais couru,",
                    MarkStyle::Paired
                ),
                (
                    "Elle écrit encore.",
                    "Elle écrit encore. »",
                    MarkStyle::Paired
                ),
            ]
        );
        assert_eq!(
            found("« C'est trop cher, a-t-elle expliqué. On a perdu. »").len(),
            2
        );
        // A comma before words that are no cue, or an incise that ends the quote, cuts nothing.
        for text in [
            "« Il a plu, a été dit partout. Rien ne change. »",
            "« Le prix, la qualité, tout compte. »",
            "« Nous restons, a-t-il dit. »",
        ] {
            assert_eq!(found(text).len(), 1, "{text}");
        }
    }

    #[test]
    fn dash_paragraphs_are_dialogue_only_with_a_cue_a_colon_or_dialogue_before() {
        // A list with dashes is no dialogue.
        assert!(found("— Premier point de la liste\n\n— Second point de la liste").is_empty());
        let after_colon = "Il a répondu ceci :\n\n— Oui, bien sûr.";
        assert_eq!(
            found(after_colon),
            [("Oui, bien sûr.", "— Oui, bien sûr.", MarkStyle::Dialogue)]
        );
        let answer = "—¿Vendrás? —preguntó Ana.\n\n—Claro que sí.";
        assert_eq!(
            found(answer),
            [
                ("¿Vendrás?", "—¿Vendrás?", MarkStyle::Dialogue),
                ("Claro que sí.", "—Claro que sí.", MarkStyle::Dialogue),
            ]
        );
    }

    #[test]
    fn openers_and_closers() {
        assert_eq!(closers_for('„'), ['“', '”']);
        assert_eq!(closers_for('«'), ['»']);
        assert!(closers_for('a').is_empty());
        // Unambiguous openers open anywhere; ambiguous ones only at a word start.
        assert!(can_open('“', Some('x'), Some('a')));
        assert!(can_open('"', Some(' '), Some('Y')));
        assert!(can_open('"', None, Some('Y')));
        assert!(!can_open('"', Some('5'), Some(' ')));
        assert!(!can_open('"', Some(' '), Some(' ')));
        assert!(!can_open('’', Some(' '), Some('a')), "’ never opens");
        assert!(is_dialogue_dash('—') && is_dialogue_dash('–') && !is_dialogue_dash('-'));
    }

    #[test]
    fn an_apostrophe_inside_a_word_closes_nothing() {
        let stack = [OpenMark { mark: '‘', at: 0 }];
        assert_eq!(closing_depth(&stack, '’', Some('n'), Some('t')), None);
        assert_eq!(closing_depth(&stack, '’', Some(','), Some(' ')), Some(0));
        assert_eq!(closing_depth(&[], '”', Some('a'), None), None);
    }

    #[test]
    fn nesting_deeper_than_the_bound_is_ignored() {
        // 21 openers, of which only MAX_NESTING are tracked: MAX_NESTING closers close the
        // outermost quote. Were every opener tracked, nothing would close.
        let quoted = format!("{}x{}", "«".repeat(21), "»".repeat(MAX_NESTING));
        let text = format!("{quoted} end.");
        let quotes = find_quotes(&text, &segment(&text));
        assert_eq!(quotes.len(), 1, "{quotes:?}");
        assert_eq!(quotes[0].outer.slice(&text), quoted);
        let text = "«a «b «c» d» e» f.";
        assert_eq!(
            found(text),
            [("a «b «c» d» e", "«a «b «c» d» e»", MarkStyle::Paired)]
        );
    }
}
