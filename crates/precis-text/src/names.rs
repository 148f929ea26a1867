//! What is written like a name: the one implementation that quote attribution
//! ([`crate::quotes`]), the summary guard's facts and the protection of terms before translation
//! share, so that they agree on it.
//!
//! Shared: a word is written like a name when it starts with an upper-case letter
//! ([`is_capitalized`]); a name is found in a text only as whole words ([`is_whole_word_at`],
//! [`whole_word_occurrences`]); and the lower-case particles all of them join inside a name
//! ([`is_name_particle`]).
//!
//! Where they deliberately differ, because each answers a different question:
//! - Which capitalised words are not part of a name. Quotes split roles, honorifics,
//!   determiners and possessives off as the speaker's title, since the title is reported. The
//!   guard skips a short list of leading words and titles, and a lone word opening a sentence
//!   when the article writes it in lower case, since it only asks whether the article states the
//!   name. Protection skips every sentence's first word, and in English weekdays, months and
//!   demonyms before a lower-case word, since those must be translated (the guard checks them:
//!   an invented "Tuesday" is a wrong fact).
//! - Particles beyond [`NAME_PARTICLES`]: quotes also join `della`, `al`, `el`, `bin`, `ibn` so
//!   that a speaker's full name is reported; the guard also joins `of`, `and`, `do`, `dos`, so
//!   that "Bank of England" is checked as one name (a particle it does not join splits a name
//!   into parts that are each still checked). Protection joins none: it masks each capitalised
//!   run on its own and leaves a particle between two to the engine. Aligning these lists
//!   would change outputs, so each keeps its extras next to its code.
//! - Protection finds its runs with a regular expression whose first letter is `\p{Lu}`
//!   (upper-case letters); [`is_capitalized`] also accepts the few other upper-case characters
//!   (circled letters, Roman numerals), which never open a name in an article.

use std::ops::Range;

/// Lower-case particles inside names that every name heuristic joins: "Charles de Gaulle",
/// "Ursula von der Leyen", "Ortega y Gasset".
pub const NAME_PARTICLES: &[&str] = &[
    "de", "del", "di", "da", "du", "des", "la", "le", "von", "van", "der", "den", "y",
];

/// Whether `word` is written like a name: its first character is upper case ("Élodie",
/// "O'Neill", "U.S"; not "de", "3rd" or "").
pub fn is_capitalized(word: &str) -> bool {
    word.chars().next().is_some_and(char::is_uppercase)
}

/// Whether `word` is one of the [`NAME_PARTICLES`], as written (case-sensitive: a capitalised
/// "De" opening a sentence is no particle).
pub fn is_name_particle(word: &str) -> bool {
    NAME_PARTICLES.contains(&word)
}

/// Whether `text[range]` stands as whole words: no letter or digit touches it on either side,
/// so "Ann" is not found inside "Annual" nor "Psaki" inside "Psakis".
pub fn is_whole_word_at(text: &str, range: Range<usize>) -> bool {
    let before = text[..range.start].chars().next_back();
    let after = text[range.end..].chars().next();
    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
}

/// Where `name` occurs in `text` as whole words, in text order (occurrences do not overlap).
pub fn whole_word_occurrences<'t>(
    text: &'t str,
    name: &'t str,
) -> impl Iterator<Item = Range<usize>> + 't {
    text.match_indices(name)
        .map(|(start, found)| start..start + found.len())
        .filter(|range| is_whole_word_at(text, range.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_starts_with_an_upper_case_letter() {
        for word in [
            "Psaki",
            "Élodie",
            "O'Neill",
            "U.S",
            "Ørsted",
            "Μητσοτάκης",
            "Ⅻ",
        ] {
            assert!(is_capitalized(word), "{word}");
        }
        for word in ["de", "iPhone", "3rd", "1962", "", "'Neill", "«Bonjour", "ß"] {
            assert!(!is_capitalized(word), "{word}");
        }
    }

    #[test]
    fn particles_are_lower_case_and_matched_as_written() {
        assert!(is_name_particle("de"));
        assert!(is_name_particle("von"));
        assert!(
            !is_name_particle("De"),
            "a sentence's first word is no particle"
        );
        assert!(!is_name_particle("of"), "a particle of the guard only");
        assert!(!is_name_particle("al"), "a particle of quotes only");
        for particle in NAME_PARTICLES {
            assert!(!is_capitalized(particle), "{particle}");
        }
    }

    #[test]
    fn whole_words_are_not_touched_by_letters_or_digits() {
        let text = "Ann's Annual report, by Ann and Ann2, thanks Ann";
        let found: Vec<Range<usize>> = whole_word_occurrences(text, "Ann").collect();
        assert_eq!(found, vec![0..3, 24..27, 45..48]);
        assert!(found.iter().all(|range| &text[range.clone()] == "Ann"));
        assert!(is_whole_word_at("«Psaki»", "«".len().."«Psaki".len()));
        assert!(!is_whole_word_at("Psakis", 0..5));
        assert!(!is_whole_word_at("éPsaki", "é".len().."éPsaki".len()));
        assert_eq!(whole_word_occurrences("Jen Psaki", "Jen Psaki").count(), 1);
        assert_eq!(whole_word_occurrences("Annual", "Ann").count(), 0);
    }
}
