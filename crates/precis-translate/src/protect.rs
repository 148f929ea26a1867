//! Protected terms: speakers' names, numbers and proper nouns are swapped for placeholders before
//! translation, put back afterwards, and every one that did not come back is reported.

use std::ops::Range;
use std::sync::LazyLock;

use precis_text::names::{is_capitalized, is_whole_word_at, whole_word_occurrences};
use regex::Regex;
use serde::Serialize;

use crate::engine::{placeholder, PlaceholderKind, PLACEHOLDER_CLOSE, PLACEHOLDER_OPEN};

/// Which terms besides the caller's names are protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ProtectionOptions {
    /// Digits with separators and an optional percent sign: `3.5`, `1,200`, `40%`.
    pub numbers: bool,
    /// Capitalized words that do not start a sentence (proper nouns, in the languages we serve).
    pub capitalized_words: bool,
}

impl Default for ProtectionOptions {
    fn default() -> Self {
        ProtectionOptions {
            numbers: true,
            capitalized_words: true,
        }
    }
}

/// A term kept out of the engine's hands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProtectedTerm {
    pub text: String,
    pub kind: PlaceholderKind,
}

/// A text with its protected terms replaced by placeholders; `terms[i]` is placeholder `i`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskedText {
    pub masked: String,
    pub terms: Vec<ProtectedTerm>,
}

/// A translation with its placeholders replaced by the original terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmaskedText {
    pub text: String,
    /// Terms whose placeholder the engine lost, each once, in order of first appearance.
    pub missing_terms: Vec<String>,
}

static NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b\d+(?:[.,]\d+)*(?:\s?%)?").unwrap_or_else(|error| unreachable!("{error}"))
});
/// Runs of capitalised words joined by single spaces. Its first letter, `\p{Lu}`, is what
/// `precis_text::names::is_capitalized` accepts but for a few non-letters (see there); unlike the
/// quotes and the guard it joins no particle ("de"): each run is protected on its own.
static CAPITALIZED_RUN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\p{Lu}[\p{L}\p{M}’'\-]*(?: \p{Lu}[\p{L}\p{M}’'\-]*)*")
        .unwrap_or_else(|error| unreachable!("{error}"))
});
static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"⟦\s*([TN])\s*(\d+)\s*⟧").unwrap_or_else(|error| unreachable!("{error}"))
});

/// English capitalizes these although they are common words every target language translates.
const ENGLISH_CAPITALIZED_COMMON_WORDS: &[&str] = &[
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Replaces the protected terms of `text` with placeholders.
///
/// `names` (speakers and other known names) are protected wherever they occur, as a whole and by
/// each capitalized part of three letters or more (a later "Psaki" for "Jen Psaki").
pub fn mask_terms(
    text: &str,
    source_language: &str,
    names: &[String],
    options: ProtectionOptions,
) -> MaskedText {
    let mut spans: Vec<(Range<usize>, PlaceholderKind)> = Vec::new();
    for range in name_occurrences(text, names) {
        add_if_free(&mut spans, range, PlaceholderKind::Name);
    }
    if options.numbers {
        for found in NUMBER.find_iter(text) {
            add_if_free(&mut spans, found.range(), PlaceholderKind::Number);
        }
    }
    if options.capitalized_words {
        for range in proper_noun_candidates(text, source_language) {
            add_if_free(&mut spans, range, PlaceholderKind::Name);
        }
    }
    spans.sort_by_key(|(range, _)| range.start);

    let mut masked = String::with_capacity(text.len());
    let mut terms = Vec::with_capacity(spans.len());
    let mut cursor = 0;
    for (range, kind) in spans {
        push_unmarked(&text[cursor..range.start], &mut masked);
        masked.push_str(&placeholder(kind, terms.len()));
        terms.push(ProtectedTerm {
            text: text[range.clone()].to_string(),
            kind,
        });
        cursor = range.end;
    }
    push_unmarked(&text[cursor..], &mut masked);
    MaskedText { masked, terms }
}

/// Copies article text, turning any placeholder bracket it happens to contain into a plain
/// bracket, so the article cannot forge a placeholder.
fn push_unmarked(text: &str, masked: &mut String) {
    for character in text.chars() {
        masked.push(match character {
            PLACEHOLDER_OPEN => '[',
            PLACEHOLDER_CLOSE => ']',
            other => other,
        });
    }
}

/// Puts the original terms back into a translation of `masked.masked` and lists the lost ones.
/// Placeholders with an index the text never had are dropped rather than shown to a reader.
pub fn unmask_terms(translated: &str, masked: &MaskedText) -> UnmaskedText {
    let mut seen = vec![false; masked.terms.len()];
    let text = PLACEHOLDER.replace_all(translated, |captures: &regex::Captures<'_>| {
        let index: Option<usize> = captures[2].parse().ok();
        match index.and_then(|index| masked.terms.get(index).map(|term| (index, term))) {
            Some((index, term)) => {
                seen[index] = true;
                term.text.clone()
            }
            None => String::new(),
        }
    });
    // Any stray bracket an engine split off a placeholder is ours, not the article's.
    let text: String = text
        .chars()
        .filter(|character| *character != PLACEHOLDER_OPEN && *character != PLACEHOLDER_CLOSE)
        .collect();
    let mut missing_terms: Vec<String> = Vec::new();
    for (term, seen) in masked.terms.iter().zip(seen) {
        if !seen && !text.contains(&term.text) && !missing_terms.contains(&term.text) {
            missing_terms.push(term.text.clone());
        }
    }
    UnmaskedText {
        text,
        missing_terms,
    }
}

fn add_if_free(
    spans: &mut Vec<(Range<usize>, PlaceholderKind)>,
    range: Range<usize>,
    kind: PlaceholderKind,
) {
    if range.is_empty() {
        return;
    }
    let overlaps = spans
        .iter()
        .any(|(taken, _)| taken.start < range.end && range.start < taken.end);
    if !overlaps {
        spans.push((range, kind));
    }
}

fn name_occurrences(text: &str, names: &[String]) -> Vec<Range<usize>> {
    let mut variants: Vec<&str> = Vec::new();
    for name in names {
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        variants.push(name);
        for part in name.split_whitespace() {
            if is_capitalized(part) && part.chars().count() >= 3 && part != name {
                variants.push(part);
            }
        }
    }
    // Longest first, so "Jen Psaki" wins over "Psaki" where both match.
    variants.sort_by_key(|variant| std::cmp::Reverse(variant.len()));
    variants.dedup();
    let mut found: Vec<Range<usize>> = Vec::new();
    for variant in variants {
        for range in whole_word_occurrences(text, variant) {
            let overlaps = found
                .iter()
                .any(|taken| taken.start < range.end && range.start < taken.end);
            if !overlaps {
                found.push(range);
            }
        }
    }
    found
}

/// Runs of capitalized words that are not the first word of a sentence. Which capitalised
/// words are names differs on purpose from the guard's and the quotes' choices (see
/// `precis_text::names`): here a name is kept from the engine, so words every language
/// translates (weekdays, months, demonyms) are left to it.
fn proper_noun_candidates(text: &str, source_language: &str) -> Vec<Range<usize>> {
    let mut candidates = Vec::new();
    for found in CAPITALIZED_RUN.find_iter(text) {
        if !is_whole_word_at(text, found.range()) {
            continue;
        }
        let mut words: Vec<Range<usize>> = Vec::new();
        let mut offset = found.start();
        for word in found.as_str().split(' ') {
            words.push(offset..offset + word.len());
            offset += word.len() + 1;
        }
        if starts_sentence(&text[..found.start()]) {
            words.remove(0);
        }
        // Split the run around words that are not names, keep the name-like stretches.
        let mut stretch: Option<Range<usize>> = None;
        for word in words {
            let keep = is_name_like(&text[word.clone()], source_language)
                && !is_english_demonym(text, &word, source_language);
            match (&mut stretch, keep) {
                (Some(open), true) => open.end = word.end,
                (None, true) => stretch = Some(word),
                (Some(_), false) => candidates.extend(stretch.take()),
                (None, false) => {}
            }
        }
        candidates.extend(stretch);
    }
    candidates
}

fn starts_sentence(before: &str) -> bool {
    match before.trim_end().chars().next_back() {
        None => true,
        Some(previous) => ".!?:;\"“”«»‘’'(—–-¡¿".contains(previous),
    }
}

fn is_name_like(word: &str, source_language: &str) -> bool {
    if word.chars().count() < 2 {
        // "I", "A": pronoun and article, not names.
        return false;
    }
    !(source_language == "en" && ENGLISH_CAPITALIZED_COMMON_WORDS.contains(&word))
}

/// "Iranian officials", "Chinese leaders": English capitalizes demonyms used as adjectives; they
/// must be translated, so a capitalized word ending like a demonym before a lowercase word is left.
fn is_english_demonym(text: &str, word: &Range<usize>, source_language: &str) -> bool {
    if source_language != "en" {
        return false;
    }
    let token = &text[word.clone()];
    let demonym_ending = ["an", "ese", "ish", "i"]
        .iter()
        .any(|ending| token.ends_with(ending));
    let next_word_lowercase = text[word.end..]
        .strip_prefix(' ')
        .and_then(|rest| rest.chars().next())
        .is_some_and(char::is_lowercase);
    demonym_ending && next_word_lowercase
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms_of(masked: &MaskedText) -> Vec<&str> {
        masked.terms.iter().map(|term| term.text.as_str()).collect()
    }

    #[test]
    fn masks_names_numbers_and_proper_nouns() {
        let names = vec!["Jen Psaki".to_string()];
        let masked = mask_terms(
            "On Monday Psaki said 3.5 million Iranian people and 40% of the White House staff agreed, as Jen Psaki told Reuters.",
            "en",
            &names,
            ProtectionOptions::default(),
        );
        assert_eq!(
            terms_of(&masked),
            vec!["Psaki", "3.5", "40%", "White House", "Jen Psaki", "Reuters"]
        );
        assert!(!masked.masked.contains("Psaki"));
        assert!(masked.masked.contains("Monday"), "{}", masked.masked);
        assert!(
            masked.masked.contains("Iranian people"),
            "{}",
            masked.masked
        );
        assert!(masked
            .masked
            .starts_with("On Monday ⟦T0⟧ said ⟦N1⟧ million"));
    }

    #[test]
    fn sentence_initial_capitals_are_not_proper_nouns() {
        let masked = mask_terms(
            "The minister left. \"We will stay,\" she said.",
            "en",
            &[],
            ProtectionOptions::default(),
        );
        assert!(masked.terms.is_empty(), "{:?}", masked.terms);
    }

    #[test]
    fn unmask_restores_moved_terms_and_reports_lost_ones() {
        let masked = mask_terms(
            "Said met Rose in 2014.",
            "en",
            &["Said".to_string(), "Rose".to_string()],
            ProtectionOptions::default(),
        );
        assert_eq!(masked.masked, "⟦T0⟧ met ⟦T1⟧ in ⟦N2⟧.");
        let restored = unmask_terms("En ⟦N2⟧, ⟦ T1 ⟧ se reunió con alguien ⟦T9⟧.", &masked);
        assert_eq!(restored.text, "En 2014, Rose se reunió con alguien .");
        assert_eq!(restored.missing_terms, vec!["Said"]);
    }

    #[test]
    fn article_text_cannot_forge_placeholders() {
        let masked = mask_terms("see ⟦T0⟧ here", "en", &[], ProtectionOptions::default());
        assert_eq!(masked.masked, "see [T0] here");
        assert!(masked.terms.is_empty());
    }

    #[test]
    fn names_are_protected_only_as_whole_words() {
        let only_names = ProtectionOptions {
            numbers: false,
            capitalized_words: false,
        };
        let masked = mask_terms(
            "Annual report by Ann, not Anne",
            "en",
            &["Ann".to_string()],
            only_names,
        );
        assert_eq!(terms_of(&masked), ["Ann"]);
        assert_eq!(masked.masked, "Annual report by ⟦T0⟧, not Anne");
    }

    #[test]
    fn text_without_terms_is_unchanged() {
        let options = ProtectionOptions::default();
        let masked = mask_terms("nothing to protect here", "en", &[], options);
        assert_eq!(masked.masked, "nothing to protect here");
        let restored = unmask_terms("nada que proteger", &masked);
        assert!(restored.missing_terms.is_empty());
    }
}
