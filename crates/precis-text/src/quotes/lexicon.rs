//! Words of a text and the word classes quote attribution is built on, all looked up in
//! [`super::word_lists`]. Lists are sets built once; a word is lower-cased for the lists
//! written in lower case.

use std::collections::HashSet;
use std::sync::OnceLock;

use super::word_lists::{
    ADVERBS, AUXILIARIES, CUE_AFTER_QUOTE_ONLY, CUE_POSTPOSITIONS, CUE_PREPOSITIONS, CUE_VERBS,
    DETERMINERS, FUNCTION_WORDS, PREPOSITIONS, PRONOUNS, ROLE_NOUNS, SPEAKER_NAME_PARTICLES,
};
use crate::names::is_capitalized;
use crate::ByteSpan;

/// Longest word, in bytes, any lower-case list holds: longer words are not lower-cased.
const MAX_LISTED_WORD_BYTES: usize = 24;

/// Words of `text` (alphanumeric runs, with inner `-`, `'`, `’` and `.` kept: `Amir-Abdollahian`,
/// `d'après`, `U.S`), as spans shifted by `base`.
pub(super) fn words(text: &str, base: usize) -> Vec<ByteSpan> {
    let mut words = Vec::new();
    let mut start: Option<usize> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((offset, c)) = chars.next() {
        let next_is_alphanumeric = chars.peek().is_some_and(|&(_, n)| n.is_alphanumeric());
        let inner = matches!(c, '-' | '\'' | '’' | '.') && start.is_some() && next_is_alphanumeric;
        if c.is_alphanumeric() || inner {
            start.get_or_insert(offset);
        } else if let Some(word_start) = start.take() {
            words.push(ByteSpan::new(base + word_start, base + offset));
        }
    }
    if let Some(word_start) = start {
        words.push(ByteSpan::new(base + word_start, base + text.len()));
    }
    words
}

fn lexicon(
    words: &'static [&'static str],
    cell: &'static OnceLock<HashSet<&'static str>>,
) -> &'static HashSet<&'static str> {
    cell.get_or_init(|| words.iter().copied().collect())
}

pub(super) fn lower(word: &str) -> String {
    word.to_lowercase()
}

fn in_lexicon(
    word: &str,
    list: &'static [&'static str],
    cell: &'static OnceLock<HashSet<&'static str>>,
) -> bool {
    // Long words are in none of the lists; skip lower-casing them.
    word.len() <= MAX_LISTED_WORD_BYTES && lexicon(list, cell).contains(lower(word).as_str())
}

pub(super) fn is_pronoun(word: &str) -> bool {
    static CELL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    in_lexicon(word, PRONOUNS, &CELL)
}

pub(super) fn is_auxiliary(word: &str) -> bool {
    static CELL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    in_lexicon(word, AUXILIARIES, &CELL)
}

pub(super) fn is_adverb(word: &str) -> bool {
    static CELL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    in_lexicon(word, ADVERBS, &CELL)
}

pub(super) fn is_determiner(word: &str) -> bool {
    static CELL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    in_lexicon(word, DETERMINERS, &CELL)
}

/// Whether a word is a role noun or honorific, including German compounds ending in one.
pub(super) fn is_role(word: &str) -> bool {
    static CELL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    if word.len() > 40 {
        return false;
    }
    let lower = lower(word.trim_end_matches('.'));
    let roles = lexicon(ROLE_NOUNS, &CELL);
    if roles.contains(lower.as_str()) {
        return true;
    }
    // Compounds: a role noun of at least 4 letters ending a longer word.
    lower.char_indices().skip(1).any(|(offset, _)| {
        let tail = &lower[offset..];
        tail.chars().count() >= 4 && roles.contains(tail)
    })
}

/// Possessive proper noun ("Iran's"), which qualifies a role rather than naming a speaker.
pub(super) fn is_possessive(word: &str) -> bool {
    word.ends_with("'s") || word.ends_with("’s")
}

/// How a cue word points at its speaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CueKind {
    /// A verb; its subject is before it, or after it in an inversion.
    Verb,
    /// The speaker follows ("according to", "selon", "según", German "so").
    Preposition,
    /// The speaker precedes ("X zufolge").
    Postposition,
}

/// The kind of cue `word` is, in any case ("Said" is a cue verb here; callers that need the
/// lower case check it).
pub(super) fn cue_kind(word: &str) -> Option<CueKind> {
    static VERBS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    static PREPOSITIONS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    static POSTPOSITIONS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    if in_lexicon(word, CUE_VERBS, &VERBS) {
        Some(CueKind::Verb)
    } else if in_lexicon(word, CUE_PREPOSITIONS, &PREPOSITIONS) {
        Some(CueKind::Preposition)
    } else if in_lexicon(word, CUE_POSTPOSITIONS, &POSTPOSITIONS) {
        Some(CueKind::Postposition)
    } else {
        None
    }
}

/// French inversions: "dit-il", "estime-t-elle", "a-t-il" (before a participle).
pub(super) fn inverted_cue(word: &str) -> bool {
    let mut parts = word.split('-');
    let first = parts.next().unwrap_or("");
    let last = word.rsplit('-').next().unwrap_or("");
    word.contains('-') && is_pronoun(last) && (cue_kind(first).is_some() || is_auxiliary(first))
}

/// German "so" (and the like), a cue only right after a closing quote mark: „…“, so Müller.
pub(super) fn is_cue_after_quote_only(word: &str) -> bool {
    static CELL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    in_lexicon(word, CUE_AFTER_QUOTE_ONLY, &CELL)
}

/// Prepositions that end a title leftwards ("ambassador in Iraq" has no title "in").
pub(super) fn is_preposition(word: &str) -> bool {
    PREPOSITIONS.contains(&word)
}

/// Function words that cannot head a subject noun phrase ("and said", "que dijo").
fn is_function_word(word: &str) -> bool {
    static CELL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    in_lexicon(word, FUNCTION_WORDS, &CELL)
}

/// A lower-case word that may head a subject noun phrase naming no person.
pub(super) fn is_content_noun_candidate(word: &str) -> bool {
    !is_capitalized(word)
        && word.chars().count() >= 4
        && word.chars().all(char::is_alphabetic)
        && !is_function_word(word)
        && !is_preposition(word)
        && !is_determiner(word)
        && !is_auxiliary(word)
        && !is_adverb(word)
        && cue_kind(word).is_none()
}

/// Words inside names that are written in lower case ("de", "von", "van", "al", "bin"): the
/// particles every name heuristic shares, and those only speakers' names need.
pub(super) fn is_name_particle(word: &str) -> bool {
    crate::names::is_name_particle(word) || SPEAKER_NAME_PARTICLES.contains(&word)
}

