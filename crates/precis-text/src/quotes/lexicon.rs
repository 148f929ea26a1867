//! Words of a text and the word classes quote attribution is built on, all looked up in
//! [`super::word_lists`]. Lists are sets built once; a word is lower-cased for the lists
//! written in lower case.

use std::collections::HashSet;
use std::sync::OnceLock;

use super::word_lists::{
    ADVERBS, AUXILIARIES, CONJUNCTIONS, CUE_AFTER_QUOTE_ONLY, CUE_POSTPOSITIONS, CUE_PREPOSITIONS,
    CUE_VERBS, DETERMINERS, FUNCTION_WORDS, INDEFINITE_ARTICLES, ORGANISATION_NOUNS, PERSON_NOUNS,
    PLURAL_PRONOUNS, PREPOSITIONS, PRONOUNS, ROLE_NOUNS, SCARE_MARKERS, SPEAKER_NAME_PARTICLES,
    TITLE_NOUNS, UNNAMED_MENTION_ARTICLES,
};
use crate::names::is_capitalized;
use crate::ByteSpan;

/// Longest word, in bytes, any lower-case list holds: longer words are not lower-cased.
const MAX_LISTED_WORD_BYTES: usize = 40;

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

/// A word in lower case, as the lists and reported titles are written.
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

/// A third-person or relative pronoun: the subject is someone named before.
pub(super) fn is_pronoun(word: &str) -> bool {
    static CELL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    in_lexicon(word, PRONOUNS, &CELL)
}

/// An auxiliary, kept with the cue verb after it ("a déclaré", "has said").
pub(super) fn is_auxiliary(word: &str) -> bool {
    static CELL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    in_lexicon(word, AUXILIARIES, &CELL)
}

/// An adverb that may stand between a subject and its verb ("also said").
pub(super) fn is_adverb(word: &str) -> bool {
    static CELL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    in_lexicon(word, ADVERBS, &CELL)
}

/// A determiner or possessive ("the", "son", "ihr"), which may open a role noun phrase.
pub(super) fn is_determiner(word: &str) -> bool {
    static CELL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    in_lexicon(word, DETERMINERS, &CELL)
}

/// An article that may open a mention of a person not named ("a", "une", "ein", "uma").
pub(super) fn is_unnamed_mention_article(word: &str) -> bool {
    static CELL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    in_lexicon(word, UNNAMED_MENTION_ARTICLES, &CELL)
}

/// A definite article ("the", "la", "der", "o"): a role noun after it may refer back.
pub(super) fn is_definite_article(word: &str) -> bool {
    const DEFINITE: &[&str] = &[
        "the", "le", "la", "les", "l'", "l’", "der", "die", "das", "den", "dem", "el", "los",
        "las", "il", "lo", "gli", "o", "os", "as",
    ];
    DEFINITE.contains(&lower(word).as_str())
}

/// A third-person plural pronoun ("they", "ils", "ellos"): several speakers.
pub(super) fn is_plural_pronoun(word: &str) -> bool {
    static CELL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    in_lexicon(word, PLURAL_PRONOUNS, &CELL)
}

/// An indefinite article ("a", "une", "uma"): a role after it is someone new.
pub(super) fn is_indefinite_article(word: &str) -> bool {
    static CELL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    in_lexicon(word, INDEFINITE_ARTICLES, &CELL)
}

/// A noun for a person known only as what they are ("woman", "bénévole", "Anwohner").
pub(super) fn is_person_noun(word: &str) -> bool {
    static CELL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    in_lexicon(word, PERSON_NOUNS, &CELL)
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
    // Hyphenated roles: "secretário-geral", "vice-president", "ex-ministre".
    if lower.contains('-')
        && lower
            .split('-')
            .any(|part| part.chars().count() >= 4 && roles.contains(part))
    {
        return true;
    }
    // Compounds: a role noun of at least 4 letters ending a longer word.
    lower.char_indices().skip(1).any(|(offset, _)| {
        let tail = &lower[offset..];
        tail.chars().count() >= 4 && roles.contains(tail)
    })
}

/// Whether a word names an organisation, body, place or document ("Association", "Regione",
/// German compounds such as "Bürgerinitiative"): a run holding one is no person's name.
pub(super) fn is_organisation(word: &str) -> bool {
    static CELL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    if word.len() > 40 {
        return false;
    }
    // Acronyms ("CGT", "UAGA", "NHS") name bodies, not people.
    let letters = word.chars().filter(|c| c.is_alphabetic()).count();
    if letters >= 2 && word.chars().all(|c| !c.is_alphabetic() || c.is_uppercase()) {
        return true;
    }
    let lower = lower(word.trim_end_matches('.'));
    let nouns = lexicon(ORGANISATION_NOUNS, &CELL);
    if nouns.contains(lower.as_str()) {
        return true;
    }
    // Compounds: a noun of at least 5 letters ending a longer word ("Gewerkschaft" is one,
    // "Landesregierung" ends with one).
    lower.char_indices().skip(1).any(|(offset, _)| {
        let tail = &lower[offset..];
        tail.chars().count() >= 5 && nouns.contains(tail)
    })
}

/// A conjunction that joins two names ("Mora y Pardo").
pub(super) fn is_conjunction(word: &str) -> bool {
    static CELL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    in_lexicon(word, CONJUNCTIONS, &CELL)
}

/// A noun or participle that makes the quote after it a title ("novel", "intitulé").
pub(super) fn is_title_noun(word: &str) -> bool {
    static CELL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    in_lexicon(word, TITLE_NOUNS, &CELL)
}

/// A word that holds the quote after it at a distance ("so-called", "cosiddetto").
pub(super) fn is_scare_marker(word: &str) -> bool {
    static CELL: OnceLock<HashSet<&'static str>> = OnceLock::new();
    in_lexicon(word, SCARE_MARKERS, &CELL)
}

/// A word that opens a sentence but never names a person, whatever its case: determiners,
/// pronouns, conjunctions, prepositions and other function words ("El", "Il", "The", "Y").
pub(super) fn is_never_a_name(word: &str) -> bool {
    is_determiner(word)
        || is_pronoun(word)
        || is_function_word(word)
        || is_conjunction(word)
        || is_auxiliary(word)
        || is_adverb(word)
        || PREPOSITIONS.contains(&lower(word).as_str())
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
pub(super) fn is_function_word(word: &str) -> bool {
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

/// Elided articles and prepositions written onto the next word ("L'opposizione",
/// "dell'Istruzione", "d'élèves"), lower case, with both apostrophes.
const ELIDED_PREFIXES: &[&str] = &[
    "l'", "d'", "dell'", "all'", "nell'", "dall'", "sull'", "un'", "l’", "d’", "dell’", "all’",
    "nell’", "dall’", "sull’", "un’",
];

/// The word after an elided article or preposition ("opposizione" in "L'opposizione"), when
/// the word opens with one.
pub(super) fn elided_rest(word: &str) -> Option<&str> {
    ELIDED_PREFIXES.iter().find_map(|prefix| {
        let head = word.get(..prefix.len())?;
        let rest = &word[prefix.len()..];
        (head.to_lowercase() == *prefix && !rest.is_empty()).then_some(rest)
    })
}

/// A common noun behind an elided article ("L'opposizione", "l'association"): capitalised
/// only because it opens a sentence, it names no one.
pub(super) fn is_elided_common_noun(word: &str) -> bool {
    elided_rest(word).is_some_and(|rest| !is_capitalized(rest))
}

/// Words inside names that are written in lower case ("de", "von", "van", "al", "bin"): the
/// particles every name heuristic shares, and those only speakers' names need.
pub(super) fn is_name_particle(word: &str) -> bool {
    crate::names::is_name_particle(word) || SPEAKER_NAME_PARTICLES.contains(&word)
}

#[cfg(test)]
mod tests {
    use super::super::word_lists::LOWER_CASE_LISTS;
    use super::*;

    fn word_texts(text: &str) -> Vec<&str> {
        words(text, 0).iter().map(|word| word.slice(text)).collect()
    }

    #[test]
    fn words_keep_inner_hyphens_apostrophes_and_dots() {
        let text = "«Amir-Abdollahian», d'après l’U.S. envoy's 3.5% -- dit-il.";
        assert_eq!(
            word_texts(text),
            [
                "Amir-Abdollahian",
                "d'après",
                "l’U.S",
                "envoy's",
                "3.5",
                "dit-il"
            ]
        );
        assert!(words("", 0).is_empty());
        assert!(words("-- ' . ,", 0).is_empty());
    }

    #[test]
    fn word_spans_are_shifted_by_the_base() {
        let text = "Él dijo: ¡sí!";
        let spans = words(text, 100);
        let shifted_back: Vec<&str> = spans
            .iter()
            .map(|span| &text[span.start - 100..span.end - 100])
            .collect();
        assert_eq!(shifted_back, ["Él", "dijo", "sí"]);
        assert_eq!(spans[0], ByteSpan::new(100, 100 + "Él".len()));
    }

    #[test]
    fn every_lower_case_list_can_be_looked_up() {
        for &(name, list) in LOWER_CASE_LISTS {
            for &word in list {
                // A word that is not lower case, or longer than the lookup reads, never matches.
                assert_eq!(lower(word), word, "{name}: {word}");
                assert!(word.len() <= MAX_LISTED_WORD_BYTES, "{name}: {word}");
            }
        }
        for &verb in CUE_VERBS {
            assert_eq!(word_texts(verb), [verb], "a cue verb is one word");
            assert_eq!(cue_kind(verb), Some(CueKind::Verb), "{verb}");
        }
    }

    #[test]
    fn word_classes_ignore_case() {
        assert!(is_pronoun("She") && is_pronoun("ELLE") && is_pronoun("quien"));
        assert!(is_auxiliary("A") && is_auxiliary("has") && is_auxiliary("s’est"));
        assert!(is_adverb("También") && is_adverb("later"));
        assert!(is_determiner("The") && is_determiner("los") && is_determiner("their"));
        assert!(!is_pronoun("Hector") && !is_determiner("theme") && !is_adverb("late"));
    }

    #[test]
    fn roles_include_compounds_and_abbreviations() {
        for role in [
            "minister",
            "Minister",
            "Innenminister",
            "Bundeskanzlerin",
            "Vizepräsident",
            "porte-parole",
            "l'économiste",
            "Mr.",
            "Dr",
        ] {
            assert!(is_role(role), "{role}");
        }
        // "Adams" ends with "ms", but a compound's role has four letters at least.
        for word in ["Smith", "ministry", "chairs", "Adams", "Mrs.Smith", ""] {
            assert!(!is_role(word), "{word}");
        }
        let long_compound = format!("{}minister", "x".repeat(33));
        assert!(
            !is_role(&long_compound),
            "words over 40 bytes are never roles"
        );
    }

    #[test]
    fn possessives_qualify_a_role() {
        assert!(is_possessive("Iran's") && is_possessive("Iran’s"));
        assert!(!is_possessive("Iran") && !is_possessive("Paris"));
    }

    #[test]
    fn cue_kinds_tell_where_the_speaker_is() {
        assert_eq!(cue_kind("said"), Some(CueKind::Verb));
        assert_eq!(cue_kind("déclaré"), Some(CueKind::Verb));
        assert_eq!(
            cue_kind("Said"),
            Some(CueKind::Verb),
            "case is the caller's check"
        );
        assert_eq!(cue_kind("según"), Some(CueKind::Preposition));
        assert_eq!(cue_kind("d’après"), Some(CueKind::Preposition));
        assert_eq!(cue_kind("zufolge"), Some(CueKind::Postposition));
        assert_eq!(
            cue_kind("so"),
            None,
            "German so is a cue only after a quote"
        );
        assert_eq!(cue_kind("house"), None);
        assert!(is_cue_after_quote_only("so") && is_cue_after_quote_only("So"));
        assert!(!is_cue_after_quote_only("sagte"));
    }

    #[test]
    fn french_inversions_carry_their_pronoun() {
        for word in [
            "dit-il",
            "Dit-il",
            "estime-t-elle",
            "a-t-il",
            "ajoute-t-elle",
        ] {
            assert!(inverted_cue(word), "{word}");
        }
        for word in ["Jean-Pierre", "dit", "dit-on", "porte-parole", "il-dit"] {
            assert!(!inverted_cue(word), "{word}");
        }
    }

    #[test]
    fn prepositions_and_particles_match_as_written() {
        assert!(is_preposition("de") && is_preposition("für") && is_preposition("of"));
        assert!(!is_preposition("De") && !is_preposition("above"));
        assert!(
            is_name_particle("von") && is_name_particle("de"),
            "shared particles"
        );
        assert!(
            is_name_particle("al") && is_name_particle("ibn"),
            "speakers' particles"
        );
        assert!(!is_name_particle("of"), "a joiner of the guard only");
        assert!(!is_name_particle("Al"));
    }

    #[test]
    fn content_nouns_are_lower_case_words_of_no_other_class() {
        for noun in ["statement", "agency", "periodista"] {
            assert!(is_content_noun_candidate(noun), "{noun}");
        }
        // Each is left out for its own reason: capitalised, function word, adverb, cue verb,
        // preposition, auxiliary, determiner, too short, not only letters.
        for word in [
            "Agency", "that", "later", "said", "para", "have", "their", "bus", "co-op",
        ] {
            assert!(!is_content_noun_candidate(word), "{word}");
        }
    }
}
