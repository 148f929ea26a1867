//! The facts a text states that the summary guard checks against the article: numbers (in
//! every usual spelling), quoted phrases and names. Extraction only; what counts as a failure
//! is the guard's business.
use std::collections::HashSet;

use precis_text::names::{is_capitalized, is_name_particle, whole_word_occurrences};
use unicode_segmentation::UnicodeSegmentation;

/// The names, numbers and text of an article, prepared once for lookups.
pub struct ArticleFacts {
    /// The article with runs of whitespace and typographic quotes/apostrophes normalised.
    normalised: String,
    /// Every value every number in the article may stand for.
    numbers: HashSet<String>,
    /// Words the article writes in lower case, to tell a capitalised common word opening a
    /// summary sentence ("Engineers found…") from a name.
    lower_words: HashSet<String>,
}

/// The facts one sentence states that can be checked, each kind in the order written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatedFacts {
    /// Numerals as written ("3.5", "1,200").
    pub numbers: Vec<String>,
    /// Words inside double quotes, with typographic quotes made straight.
    pub quoted_phrases: Vec<String>,
    /// Runs of capitalised words, without leading determiners and titles.
    pub names: Vec<String>,
}

impl ArticleFacts {
    pub fn new(article: &str) -> Self {
        let normalised = normalise_text(article);
        let mut numbers = HashSet::new();
        for token in number_tokens(&normalised) {
            numbers.extend(number_values(&token));
        }
        for word in normalised.unicode_words() {
            if let Some(value) = number_word_value(&word.to_lowercase()) {
                numbers.insert(value.to_string());
            }
        }
        let lower_words = normalised
            .unicode_words()
            .filter(|word| word.chars().next().is_some_and(char::is_lowercase))
            .map(str::to_string)
            .collect();
        Self {
            normalised,
            numbers,
            lower_words,
        }
    }

    /// The facts `sentence` states. Whether a lone capitalised word opening it is a name
    /// depends on the article (see [`names`]).
    pub fn stated_in(&self, sentence: &str) -> StatedFacts {
        let sentence = normalise_text(sentence);
        StatedFacts {
            numbers: number_tokens(&sentence),
            quoted_phrases: quoted_phrases(&sentence),
            names: names(&sentence, &self.lower_words),
        }
    }

    /// Whether the article writes a number with a value `numeral` may stand for, in digits or
    /// in words ("2" is in "two years", "1,200" in "1.200").
    pub fn has_number(&self, numeral: &str) -> bool {
        number_values(numeral)
            .iter()
            .any(|value| self.numbers.contains(value))
    }

    /// Whether the article contains `phrase` (as [`StatedFacts::quoted_phrases`] gives it)
    /// verbatim, typography aside.
    pub fn has_phrase(&self, phrase: &str) -> bool {
        self.normalised.contains(phrase)
    }

    /// Whether the name occurs as whole words (so "Ann" is not found inside "Annual").
    pub fn has_name(&self, name: &str) -> bool {
        whole_word_occurrences(&self.normalised, name)
            .next()
            .is_some()
    }
}

/// Curly quotes and apostrophes become straight ones and whitespace runs one space, so a
/// summary's typography never decides a check.
fn normalise_text(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| match c {
            '\u{2018}' | '\u{2019}' | '\u{02BC}' => '\'',
            '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{00AB}' | '\u{00BB}' => '"',
            c => c,
        })
        .collect();
    mapped.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Numerals: a digit, then digits with single `.`/`,` between them ("3.5", "1,200", "1.200,50").
fn number_tokens(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_alphanumeric()) {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || (matches!(chars[i], '.' | ',')
                        && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
            {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else {
            i += 1;
        }
    }
    tokens
}

/// The values a numeral may stand for, as canonical decimal strings. A separator followed by
/// exactly three digits may group thousands ("1,200" in English, "1.200" in German) or mark
/// decimals ("1,200" in German); both readings are kept so articles in any convention match.
fn number_values(token: &str) -> Vec<String> {
    let mut values = Vec::new();
    let separators: Vec<(usize, char)> = token
        .char_indices()
        .filter(|(_, c)| matches!(c, '.' | ','))
        .collect();
    // Reading 1: every separator groups thousands.
    let groups: Vec<&str> = token.split(['.', ',']).collect();
    if groups.len() > 1 && groups[1..].iter().all(|g| g.len() == 3) {
        values.push(canonical(&groups.concat(), ""));
    }
    // Reading 2: the last separator is the decimal mark, earlier ones group thousands.
    match separators.last() {
        Some(&(index, _)) => {
            let whole: String = token[..index]
                .chars()
                .filter(char::is_ascii_digit)
                .collect();
            values.push(canonical(&whole, &token[index + 1..]));
        }
        None => values.push(canonical(token, "")),
    }
    values.dedup();
    values
}

fn canonical(whole: &str, fraction: &str) -> String {
    let whole = whole.trim_start_matches('0');
    let whole = if whole.is_empty() { "0" } else { whole };
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        whole.to_string()
    } else {
        format!("{whole}.{fraction}")
    }
}

/// Spelled-out numbers an article may use where a summary writes digits ("two years" → "2").
fn number_word_value(word: &str) -> Option<u32> {
    const WORDS: [&str; 21] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
        "twenty",
    ];
    if let Some(index) = WORDS.iter().position(|w| *w == word) {
        return Some(index as u32);
    }
    match word {
        "thirty" => Some(30),
        "forty" => Some(40),
        "fifty" => Some(50),
        "hundred" => Some(100),
        "thousand" => Some(1000),
        _ => None,
    }
}

/// Phrases inside double quotes (after normalisation), at least one word long.
fn quoted_phrases(sentence: &str) -> Vec<String> {
    sentence
        .split('"')
        .skip(1)
        .step_by(2)
        .map(|phrase| {
            phrase
                .trim()
                .trim_end_matches([',', '.'])
                .trim()
                .to_string()
        })
        .filter(|phrase| phrase.unicode_words().next().is_some())
        .collect()
}

/// Words that start a sentence or a name without being part of the name.
const LEADING_WORDS: &[&str] = &[
    "A",
    "An",
    "The",
    "This",
    "That",
    "These",
    "Those",
    "It",
    "Its",
    "He",
    "She",
    "They",
    "We",
    "I",
    "You",
    "His",
    "Her",
    "Their",
    "Our",
    "In",
    "On",
    "At",
    "By",
    "For",
    "From",
    "To",
    "Of",
    "With",
    "After",
    "Before",
    "During",
    "Since",
    "Under",
    "Over",
    "And",
    "But",
    "Or",
    "As",
    "If",
    "When",
    "While",
    "Although",
    "Meanwhile",
    "However",
    "Also",
    "There",
    "Some",
    "Many",
    "Most",
    "All",
    "Both",
    "Each",
    "Every",
    "No",
    "Not",
    "Le",
    "La",
    "Les",
    "L",
    "Un",
    "Une",
    "Des",
    "Der",
    "Die",
    "Das",
    "Den",
    "Dem",
    "Ein",
    "Eine",
    "El",
    "Los",
    "Las",
    "Una",
    "Il",
    "Lo",
    "Gli",
    "O",
    "Os",
    "As",
    "Mr",
    "Mrs",
    "Ms",
    "Dr",
    "Mayor",
    "President",
    "Minister",
    "Prime",
    "Senator",
    "Chancellor",
    "Governor",
];

/// Lower-case words joined inside a name besides the shared particles ("Charles de Gaulle"):
/// "of" and "and" for organisations ("Bank of England", "Procter and Gamble"), which the guard
/// checks as well as people, and Portuguese "do", "dos".
const NAME_JOINERS_BEYOND_PARTICLES: &[&str] = &["of", "do", "dos", "and"];

/// Lower-case words allowed inside a name ("Bank of England", "Charles de Gaulle").
fn is_name_joiner(word: &str) -> bool {
    is_name_particle(word) || NAME_JOINERS_BEYOND_PARTICLES.contains(&word)
}

/// Names a sentence states: runs of capitalised words (with joiners inside), without leading
/// determiners or titles. A lone capitalised word opening the sentence is a name only when the
/// article never uses it in lower case ("Council" vs "council"): it is checked rather than
/// trusted, since "Johnson said…" opens sentences as often as "Officials said…". The price: a
/// summary sentence opening with a common word the article never uses is dropped.
fn names(sentence: &str, article_lower_words: &HashSet<String>) -> Vec<String> {
    let words: Vec<(usize, &str)> = sentence.unicode_word_indices().collect();
    let mut names = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if !is_capitalized(words[i].1) {
            i += 1;
            continue;
        }
        let mut end = i + 1;
        loop {
            if end < words.len() && is_capitalized(words[end].1) {
                end += 1;
            } else if end + 1 < words.len()
                && is_name_joiner(words[end].1)
                && is_capitalized(words[end + 1].1)
            {
                end += 2;
            } else {
                break;
            }
        }
        let mut start = i;
        while start < end && LEADING_WORDS.contains(&words[start].1) {
            start += 1;
        }
        if start < end {
            let opens_sentence = i == 0;
            let single = end - start == 1;
            let word = words[start].1;
            let common_word = article_lower_words.contains(&word.to_lowercase());
            if !(opens_sentence && start == 0 && single && common_word) {
                let (from, to) = (words[start].0, words[end - 1].0 + words[end - 1].1.len());
                names.push(sentence[from..to].trim_end_matches("'s").to_string());
            }
        }
        i = end;
    }
    names.retain(|name| !name.is_empty());
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_lower_words() -> HashSet<String> {
        HashSet::new()
    }

    #[test]
    fn typography_never_decides() {
        assert_eq!(
            normalise_text("«Un  nouveau»\n départ,  l’an “prochain”"),
            "\"Un nouveau\" départ, l'an \"prochain\""
        );
    }

    #[test]
    fn numerals_are_digits_with_single_separators() {
        assert_eq!(
            number_tokens("In 1962, 3.5 m deep, 1.200,50 euros, 40% and B52 or 7. Then 1..2"),
            ["1962", "3.5", "1.200,50", "40", "7", "1", "2"]
        );
        assert!(number_tokens("no digits here").is_empty());
    }

    #[test]
    fn a_numeral_stands_for_every_value_its_separators_allow() {
        assert_eq!(number_values("1962"), ["1962"]);
        assert_eq!(number_values("1,200"), ["1200", "1.2"]);
        assert_eq!(number_values("1.200"), ["1200", "1.2"]);
        assert_eq!(number_values("3.5"), ["3.5"]);
        assert_eq!(number_values("1.200,50"), ["1200.5"]);
        assert_eq!(number_values("1,200,000"), ["1200000", "1200"]);
        assert_eq!(number_values("007"), ["7"]);
        assert_eq!(number_values("0.50"), ["0.5"]);
    }

    #[test]
    fn small_numbers_in_words() {
        assert_eq!(number_word_value("two"), Some(2));
        assert_eq!(number_word_value("twenty"), Some(20));
        assert_eq!(number_word_value("fifty"), Some(50));
        assert_eq!(number_word_value("thousand"), Some(1000));
        assert_eq!(number_word_value("Two"), None, "callers lower-case first");
        assert_eq!(number_word_value("twentyone"), None);
    }

    #[test]
    fn quoted_phrases_are_inside_double_quotes() {
        assert_eq!(
            quoted_phrases("He called it \"a new start.\" and \"historic\", not \"\" or \" ,\""),
            ["a new start", "historic"]
        );
        // An unclosed quote runs to the end of the sentence.
        assert_eq!(quoted_phrases("An \"unclosed phrase."), ["unclosed phrase"]);
    }

    #[test]
    fn names_are_capitalised_runs_without_leading_words() {
        assert_eq!(
            names(
                "Mayor Henrik Dahl met the Bank of England, then Charles de Gaulle's heirs.",
                &no_lower_words()
            ),
            ["Henrik Dahl", "Bank of England", "Charles de Gaulle"]
        );
        assert_eq!(
            names("In 2014 The Guardian wrote.", &no_lower_words()),
            ["Guardian"]
        );
        assert_eq!(
            names("the 3rd day of may", &no_lower_words()),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_lone_word_opening_a_sentence_is_a_name_unless_the_article_writes_it_lower_case() {
        let article_lower: HashSet<String> = ["engineers".to_string()].into();
        assert!(names("Engineers found cracks.", &article_lower).is_empty());
        assert_eq!(names("Olsen found cracks.", &article_lower), ["Olsen"]);
        assert_eq!(
            names("Engineers Smith found cracks.", &article_lower),
            ["Engineers Smith"],
            "only a lone word is let off"
        );
        assert_eq!(
            names("Cracks worried Engineers.", &article_lower),
            ["Cracks", "Engineers"]
        );
    }

    #[test]
    fn article_facts_answer_lookups() {
        let facts = ArticleFacts::new(
            "Ann Lee said the quay, built in 1962, costs 1.200 euros over two years.",
        );
        assert!(facts.has_number("1962") && facts.has_number("1,200") && facts.has_number("2"));
        assert!(!facts.has_number("1963") && !facts.has_number("3"));
        assert!(facts.has_name("Lee") && facts.has_name("Ann Lee"));
        assert!(!facts.has_name("Le") && !facts.has_name("Ann Leeds"));
        assert!(facts.has_phrase("the quay, built in 1962"));
        assert!(!facts.has_phrase("the quay built in 1962"));
        let stated = facts.stated_in("Ann Lee said “the  quay” cost 1,200 euros in Oslo.");
        assert_eq!(
            stated,
            StatedFacts {
                numbers: vec!["1,200".into()],
                quoted_phrases: vec!["the quay".into()],
                names: vec!["Ann Lee".into(), "Oslo".into()],
            }
        );
    }
}
