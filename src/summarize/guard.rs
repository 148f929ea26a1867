//! The faithfulness guard: an abstractive summary reaches an editor only with each sentence
//! linked to the article sentences that support it, and with every name, number and quoted
//! phrase it states found in the article. A sentence that fails is dropped; when too little
//! survives, the caller serves the extractive summary instead. Either way the report says what
//! happened and why.
//!
//! The checks are deliberately strict: dropping a faithful sentence costs a little summary,
//! letting an invented number or name through costs the newsroom's trust.
use std::collections::HashSet;

use serde::Serialize;
use unicode_segmentation::UnicodeSegmentation;

use crate::runtime::embeddings::{cosine, Embedding};
use crate::summarize::extractive::SimilarityMatrix;

/// How well each summary sentence is supported by each article sentence.
pub struct SupportMatrix {
    summary_len: usize,
    article_len: usize,
    values: Vec<f32>,
}

impl SupportMatrix {
    pub fn from_embeddings(summary: &[Embedding], article: &[Embedding]) -> Self {
        let values = summary
            .iter()
            .flat_map(|s| article.iter().map(move |a| cosine(s, a)))
            .collect();
        Self {
            summary_len: summary.len(),
            article_len: article.len(),
            values,
        }
    }

    /// TF-IDF cosine, with document frequencies over the article and the summary together.
    pub fn lexical(summary: &[&str], article: &[&str]) -> Self {
        let all: Vec<&str> = article.iter().chain(summary).copied().collect();
        let matrix = SimilarityMatrix::lexical(&all);
        let offset = article.len();
        let values = (0..summary.len())
            .flat_map(|s| (0..article.len()).map(move |a| (s, a)))
            .map(|(s, a)| matrix.get(offset + s, a))
            .collect();
        Self {
            summary_len: summary.len(),
            article_len: article.len(),
            values,
        }
    }

    pub fn get(&self, summary_sentence: usize, article_sentence: usize) -> f32 {
        self.values[summary_sentence * self.article_len + article_sentence]
    }

    pub fn summary_len(&self) -> usize {
        self.summary_len
    }
}

#[derive(Debug, Clone, Copy)]
pub struct GuardSettings {
    /// Below this similarity an article sentence is not evidence.
    pub min_support: f32,
    /// At most this many evidence sentences per summary sentence, best first.
    pub max_evidence: usize,
    /// If more than this share of the sentences fails, the model misread the article: the
    /// whole summary is replaced by the extractive one.
    pub max_dropped_share: f32,
}

impl GuardSettings {
    /// MiniLM cosines of a sentence and its paraphrase sit around 0.7-0.9 and of a sentence
    /// that merges two article sentences around 0.55-0.7; unrelated news sentences stay under
    /// 0.3. TF-IDF cosines are lower for the same relations (paraphrases share fewer exact
    /// words), so its cut-off is lower too.
    pub fn for_embeddings() -> Self {
        Self {
            min_support: 0.5,
            max_evidence: 2,
            max_dropped_share: 0.5,
        }
    }

    pub fn for_lexical() -> Self {
        Self {
            min_support: 0.2,
            ..Self::for_embeddings()
        }
    }
}

/// An article sentence that supports a summary sentence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// Index of the sentence in the article's segmentation.
    pub sentence_index: usize,
    /// Cosine similarity (embeddings or TF-IDF, as the summary's ranking says).
    pub similarity: f32,
}

/// Why a summary sentence was dropped.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GuardIssue {
    /// A number the article does not contain (in any of its usual spellings).
    UnsupportedNumber { value: String },
    /// A name (a capitalised word or run of words) the article does not contain.
    UnsupportedName { value: String },
    /// Quoted words that are not in the article verbatim.
    UnsupportedQuote { value: String },
    /// No article sentence is similar enough to support it.
    NoEvidence { best_similarity: f32 },
}

/// One sentence of the model's summary, as checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckedSentence {
    pub text: String,
    pub evidence: Vec<Evidence>,
    /// Empty when the sentence passed.
    pub issues: Vec<GuardIssue>,
}

impl CheckedSentence {
    pub fn passed(&self) -> bool {
        self.issues.is_empty()
    }
}

/// What the guard did with an abstractive summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardOutcome {
    /// Every sentence passed; the abstractive summary is served whole.
    Passed,
    /// Failing sentences were removed; the rest is served.
    SentencesDropped,
    /// Too much failed; the extractive summary is served instead.
    FellBackToExtractive,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuardReport {
    pub outcome: GuardOutcome,
    /// The abstractive model whose output was checked.
    pub model: String,
    /// Every sentence the model wrote, in order, with its evidence and issues.
    pub sentences: Vec<CheckedSentence>,
}

impl GuardReport {
    /// The sentences that passed, in order: what is served unless the outcome is a fallback.
    pub fn kept(&self) -> impl Iterator<Item = &CheckedSentence> {
        self.sentences.iter().filter(|s| s.passed())
    }

    pub fn dropped(&self) -> impl Iterator<Item = &CheckedSentence> {
        self.sentences.iter().filter(|s| !s.passed())
    }
}

/// Checks `summary_sentences` against the article. `article_sentences[i]` is the text of the
/// article's sentence `i`; `support` relates the two.
pub fn check(
    model: &str,
    article: &str,
    article_sentences: &[&str],
    summary_sentences: &[&str],
    support: &SupportMatrix,
    settings: GuardSettings,
) -> GuardReport {
    let facts = ArticleFacts::new(article);
    let sentences: Vec<CheckedSentence> = summary_sentences
        .iter()
        .enumerate()
        .map(|(index, sentence)| {
            let mut ranked: Vec<Evidence> = (0..article_sentences.len())
                .map(|a| Evidence {
                    sentence_index: a,
                    similarity: support.get(index, a),
                })
                .collect();
            ranked.sort_by(|x, y| y.similarity.total_cmp(&x.similarity));
            let best_similarity = ranked.first().map_or(0.0, |e| e.similarity);
            let evidence: Vec<Evidence> = ranked
                .into_iter()
                .filter(|e| e.similarity >= settings.min_support)
                .take(settings.max_evidence)
                .collect();
            let mut issues = facts.unsupported_claims(sentence);
            if evidence.is_empty() {
                issues.push(GuardIssue::NoEvidence { best_similarity });
            }
            CheckedSentence {
                text: sentence.to_string(),
                evidence,
                issues,
            }
        })
        .collect();
    let total = sentences.len();
    let kept = sentences.iter().filter(|s| s.passed()).count();
    let outcome = if kept == total && total > 0 {
        GuardOutcome::Passed
    } else if kept == 0 || (total - kept) as f32 > settings.max_dropped_share * total as f32 {
        GuardOutcome::FellBackToExtractive
    } else {
        GuardOutcome::SentencesDropped
    };
    GuardReport {
        outcome,
        model: model.to_string(),
        sentences,
    }
}

/// The names, numbers and text of an article, prepared once for lookups.
struct ArticleFacts {
    /// The article with runs of whitespace and typographic quotes/apostrophes normalised.
    normalised: String,
    /// Every value every number in the article may stand for.
    numbers: HashSet<String>,
    /// Words the article writes in lower case, to tell a capitalised common word opening a
    /// summary sentence ("Engineers found…") from a name.
    lower_words: HashSet<String>,
}

impl ArticleFacts {
    fn new(article: &str) -> Self {
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

    fn unsupported_claims(&self, sentence: &str) -> Vec<GuardIssue> {
        let sentence = normalise_text(sentence);
        let mut issues = Vec::new();
        for token in number_tokens(&sentence) {
            let values = number_values(&token);
            if !values.iter().any(|value| self.numbers.contains(value)) {
                issues.push(GuardIssue::UnsupportedNumber { value: token });
            }
        }
        for quote in quoted_phrases(&sentence) {
            if !self.normalised.contains(quote.as_str()) {
                issues.push(GuardIssue::UnsupportedQuote { value: quote });
            }
        }
        for name in names(&sentence, &self.lower_words) {
            if !self.contains_name(&name) {
                issues.push(GuardIssue::UnsupportedName { value: name });
            }
        }
        issues
    }

    /// The name occurs as whole words (so "Ann" is not found inside "Annual").
    fn contains_name(&self, name: &str) -> bool {
        self.normalised.match_indices(name).any(|(start, _)| {
            let before = self.normalised[..start].chars().next_back();
            let after = self.normalised[start + name.len()..].chars().next();
            !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
        })
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

/// Lower-case words allowed inside a name ("Bank of England", "Charles de Gaulle").
const NAME_JOINERS: &[&str] = &[
    "of", "de", "du", "des", "la", "le", "van", "von", "der", "den", "del", "da", "do", "dos",
    "di", "y", "and",
];

/// Names a sentence states: runs of capitalised words (with joiners inside), without leading
/// determiners or titles. A lone capitalised word opening the sentence is a name only when the
/// article never uses it in lower case ("Council" vs "council"): it is checked rather than
/// trusted, since "Johnson said…" opens sentences as often as "Officials said…". The price: a
/// summary sentence opening with a common word the article never uses is dropped.
fn names(sentence: &str, article_lower_words: &HashSet<String>) -> Vec<String> {
    let words: Vec<(usize, &str)> = sentence.unicode_word_indices().collect();
    let capitalised =
        |word: &str| word.chars().next().is_some_and(char::is_uppercase) && !is_numeral(word);
    let mut names = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if !capitalised(words[i].1) {
            i += 1;
            continue;
        }
        let mut end = i + 1;
        loop {
            if end < words.len() && capitalised(words[end].1) {
                end += 1;
            } else if end + 1 < words.len()
                && NAME_JOINERS.contains(&words[end].1)
                && capitalised(words[end + 1].1)
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

fn is_numeral(word: &str) -> bool {
    word.chars().next().is_some_and(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARTICLE: &str = "\
The city council of Port Elwyn approved a 40 million euro plan on Monday to rebuild the harbour's north quay. \
The quay, built in 1962, was closed in March after engineers found cracks 3.5 metres deep. \
Mayor Ingrid Solberg said the vote was \"a new start for the harbour\". \
About 1,200 fishing jobs depend on the port, and trade fell 40% this year. \
Work is due to start in September and to last two years.";

    fn article_sentences() -> Vec<&'static str> {
        vec![
            "The city council of Port Elwyn approved a 40 million euro plan on Monday to rebuild the harbour's north quay.",
            "The quay, built in 1962, was closed in March after engineers found cracks 3.5 metres deep.",
            "Mayor Ingrid Solberg said the vote was \"a new start for the harbour\".",
            "About 1,200 fishing jobs depend on the port, and trade fell 40% this year.",
            "Work is due to start in September and to last two years.",
        ]
    }

    fn guard(summary: &[&str]) -> GuardReport {
        let article = article_sentences();
        let support = SupportMatrix::lexical(summary, &article);
        check(
            "test-model",
            ARTICLE,
            &article,
            summary,
            &support,
            GuardSettings::for_lexical(),
        )
    }

    #[test]
    fn a_faithful_paraphrase_passes_with_its_evidence() {
        let report = guard(&[
            "Port Elwyn's council approved a 40 million euro plan to rebuild the north quay of the harbour.",
            "The work will start in September and last 2 years.",
        ]);
        assert_eq!(report.outcome, GuardOutcome::Passed, "{report:#?}");
        assert_eq!(report.sentences[0].evidence[0].sentence_index, 0);
        assert_eq!(report.sentences[1].evidence[0].sentence_index, 4);
    }

    #[test]
    fn an_invented_number_is_rejected() {
        let report = guard(&[
            "Port Elwyn's council approved a 45 million euro plan to rebuild the north quay of the harbour.",
            "The work will start in September and last two years.",
        ]);
        assert_eq!(
            report.sentences[0].issues,
            vec![GuardIssue::UnsupportedNumber { value: "45".into() }]
        );
        assert_eq!(report.outcome, GuardOutcome::SentencesDropped);
        assert_eq!(report.kept().count(), 1);
    }

    #[test]
    fn numbers_match_in_any_usual_spelling_and_only_then() {
        let facts = ArticleFacts::new(ARTICLE);
        let numbers_in = |sentence: &str| facts.unsupported_claims(sentence);
        assert!(numbers_in("Cracks were 3.5 metres deep.").is_empty());
        assert!(numbers_in("Some 1200 jobs depend on the port.").is_empty());
        assert!(numbers_in("Trade fell by 40 percent.").is_empty());
        assert_eq!(
            numbers_in("Cracks were 35 metres deep."),
            vec![GuardIssue::UnsupportedNumber { value: "35".into() }]
        );
        assert_eq!(
            numbers_in("Some 1,300 jobs depend on the port."),
            vec![GuardIssue::UnsupportedNumber {
                value: "1,300".into()
            }]
        );
        assert_eq!(
            numbers_in("The quay was built in 1963."),
            vec![GuardIssue::UnsupportedNumber {
                value: "1963".into()
            }]
        );
        let german = ArticleFacts::new("Der Hafen kostet 1.200 Euro und 3,5 Millionen.");
        assert!(german
            .unsupported_claims("It costs 1,200 euros and 3.5 million.")
            .is_empty());
    }

    #[test]
    fn an_invented_name_is_rejected_and_titles_do_not_count() {
        let report = guard(&[
            "Mayor Ingrid Solberg called the vote a new start for Port Elwyn's harbour.",
            "Mayor Henrik Dahl said the council approved a 40 million euro plan for the quay.",
        ]);
        assert!(report.sentences[0].passed(), "{report:#?}");
        assert_eq!(
            report.sentences[1].issues,
            vec![GuardIssue::UnsupportedName {
                value: "Henrik Dahl".into()
            }]
        );
        let facts = ArticleFacts::new(ARTICLE);
        assert_eq!(
            facts.unsupported_claims("Solberg praised the plan."),
            Vec::new(),
            "a surname alone is found inside the full name"
        );
        assert_eq!(
            facts.unsupported_claims("Olsen praised the plan."),
            vec![GuardIssue::UnsupportedName {
                value: "Olsen".into()
            }],
            "a lone unknown name opening a sentence is still a name"
        );
        assert!(
            facts
                .unsupported_claims("Engineers found cracks in the quay.")
                .is_empty(),
            "a common word opening a sentence is not a name"
        );
    }

    #[test]
    fn quoted_words_must_be_verbatim() {
        let facts = ArticleFacts::new(ARTICLE);
        assert!(facts
            .unsupported_claims("The mayor called it “a new start for the harbour”.")
            .is_empty());
        assert_eq!(
            facts.unsupported_claims("The mayor called it “a historic day for the harbour”."),
            vec![GuardIssue::UnsupportedQuote {
                value: "a historic day for the harbour".into()
            }]
        );
    }

    #[test]
    fn a_sentence_without_support_is_dropped_and_too_many_failures_fall_back() {
        let report = guard(&[
            "The region had heavy snow, and every school closed for a week.",
            "The council approved a plan to rebuild the north quay of the harbour.",
        ]);
        assert!(matches!(
            report.sentences[0].issues.as_slice(),
            [GuardIssue::NoEvidence { .. }]
        ));
        // One of two failed: not more than half, so the good one is kept.
        assert_eq!(report.outcome, GuardOutcome::SentencesDropped);
        let report = guard(&[
            "The region had heavy snow, and every school closed for a week.",
            "Mayor Henrik Dahl resigned.",
            "The council approved a plan to rebuild the north quay of the harbour.",
        ]);
        assert_eq!(report.outcome, GuardOutcome::FellBackToExtractive);
        assert_eq!(guard(&[]).outcome, GuardOutcome::FellBackToExtractive);
    }
}
