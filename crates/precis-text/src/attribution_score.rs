//! Scores extracted quotes against a development set's expectations (`devdata/quotes`, read by
//! the `bench_attribution` binary): quote recall, speaker accuracy, wrong names, false quotes and
//! accuracy per confidence bucket. The rules are written out in `devdata/quotes/README.md`.

use serde::Deserialize;

use crate::quotes::{Quote, Speaker, SpeakerKind};

/// What a reader finds in one article: its direct quotes and the quoted words that are not quotes.
#[derive(Debug, Clone, Deserialize)]
pub struct ExpectedArticle {
    pub quotes: Vec<ExpectedQuote>,
    #[serde(default)]
    pub non_quotes: Vec<NonQuote>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ExpectedQuote {
    /// The words between the marks, verbatim.
    pub text: String,
    /// Who says it; `None` when the article names no one.
    #[serde(default)]
    pub speaker: Option<ExpectedSpeaker>,
    /// The role the article gives the speaker (informative, not scored).
    #[serde(default)]
    pub role: Option<String>,
    /// Labels of the constructions around the quote (informative, not scored).
    #[serde(default)]
    pub constructions: Vec<String>,
}

/// One name, or several when one plural cue gives the quote to several people.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ExpectedSpeaker {
    One(String),
    Several(Vec<String>),
}

impl ExpectedSpeaker {
    pub fn names(&self) -> &[String] {
        match self {
            ExpectedSpeaker::One(name) => std::slice::from_ref(name),
            ExpectedSpeaker::Several(names) => names,
        }
    }
}

/// Quoted words that are not a direct quote: a title or a scare quote.
#[derive(Debug, Clone, Deserialize)]
pub struct NonQuote {
    pub text: String,
    pub kind: String,
}

/// Confidence buckets of the calibration table: lower bounds, each up to the next.
pub const CONFIDENCE_BUCKETS: [f64; 4] = [0.0, 0.5, 0.7, 0.85];

/// The text two quotes are compared on: without surrounding whitespace and `, . ; :`.
pub fn comparable(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || matches!(c, ',' | '.' | ';' | ':'))
}

/// The words of a returned name, abbreviated honorifics ("Dr.", "Prof.") before it left out.
fn name_words(returned: &str) -> Vec<&str> {
    returned
        .split_whitespace()
        .skip_while(|word| word.ends_with('.'))
        .collect()
}

/// Whether a returned name is the expected person's: its words, abbreviated honorifics aside,
/// are a non-empty trailing part of the expected name, case-sensitively ("Rossi" or "Marco
/// Rossi" for "Marco Rossi").
pub fn name_matches(expected: &str, returned: &str) -> bool {
    let expected: Vec<&str> = expected.split_whitespace().collect();
    let returned = name_words(returned);
    !returned.is_empty() && expected.ends_with(&returned)
}

/// Whether a returned name points at the expected person but is not their name as written:
/// other words glued before the surname ("Gewerkschaft Jürgen Pohlmann"), or the name cut
/// short ("Maria" for "Maria do Céu Antunes").
pub fn name_is_garbled(expected: &str, returned: &str) -> bool {
    let expected: Vec<&str> = expected.split_whitespace().collect();
    let returned = name_words(returned);
    let Some(surname) = expected.last() else {
        return false;
    };
    !returned.is_empty()
        && !expected.ends_with(&returned)
        && (returned.last() == Some(surname) || expected.starts_with(&returned))
}

/// Whether the speaker returned for a quote carries a person's name.
fn is_name(speaker: &Speaker) -> bool {
    speaker.kind != SpeakerKind::TitleOnly
}

/// How the returned speaker of a found quote compares with the expected one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeakerVerdict {
    /// The expected person, or no name where the article names no one.
    Right,
    /// The speaker's name with other words glued to it, or cut short.
    GarbledName,
    /// A name that is not the speaker's: someone else, a place, an organisation, a word.
    WrongName,
    /// No name (a role or nothing) where the article names the speaker.
    NoName,
}

pub fn speaker_verdict(
    expected: Option<&ExpectedSpeaker>,
    returned: Option<&Speaker>,
) -> SpeakerVerdict {
    let returned_name = returned.filter(|speaker| is_name(speaker));
    match (expected, returned_name) {
        (None, None) => SpeakerVerdict::Right,
        (None, Some(_)) => SpeakerVerdict::WrongName,
        (Some(_), None) => SpeakerVerdict::NoName,
        (Some(expected), Some(speaker)) => {
            let names = expected.names();
            if names.iter().any(|name| name_matches(name, &speaker.name)) {
                SpeakerVerdict::Right
            } else if names
                .iter()
                .any(|name| name_is_garbled(name, &speaker.name))
            {
                SpeakerVerdict::GarbledName
            } else {
                SpeakerVerdict::WrongName
            }
        }
    }
}

/// What happened to one expected quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Missed,
    /// Found as the returned quote at this index, with this verdict on its speaker.
    Found(usize, SpeakerVerdict),
}

/// The comparison of one article's returned quotes with its expectations.
#[derive(Debug, Clone, PartialEq)]
pub struct ArticleScore {
    /// One per expected quote, in the expectations' order.
    pub outcomes: Vec<Outcome>,
    /// Indices of returned quotes that match no expected quote.
    pub false_quotes: Vec<usize>,
    /// Those of `false_quotes` that are listed non-quotes (titles, scare quotes).
    pub listed_non_quotes: Vec<usize>,
}

pub fn score_article(expected: &ExpectedArticle, returned: &[Quote]) -> ArticleScore {
    let mut matched = vec![false; returned.len()];
    let outcomes = expected
        .quotes
        .iter()
        .map(|quote| {
            let wanted = comparable(&quote.text);
            let found = returned.iter().enumerate().position(|(index, candidate)| {
                !matched[index] && comparable(&candidate.text) == wanted
            });
            match found {
                Some(index) => {
                    matched[index] = true;
                    let verdict =
                        speaker_verdict(quote.speaker.as_ref(), returned[index].speaker.as_ref());
                    Outcome::Found(index, verdict)
                }
                None => Outcome::Missed,
            }
        })
        .collect();
    let false_quotes: Vec<usize> = (0..returned.len())
        .filter(|&index| !matched[index])
        .collect();
    let listed_non_quotes = false_quotes
        .iter()
        .copied()
        .filter(|&index| {
            let text = comparable(&returned[index].text);
            expected
                .non_quotes
                .iter()
                .any(|non_quote| comparable(&non_quote.text) == text)
        })
        .collect();
    ArticleScore {
        outcomes,
        false_quotes,
        listed_non_quotes,
    }
}

/// Returned quotes and right answers in one confidence bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Bucket {
    pub quotes: usize,
    pub right: usize,
    pub confidence_sum: f64,
}

/// Counts over any number of articles.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    pub articles: usize,
    pub expected_quotes: usize,
    pub found: usize,
    pub speaker_right: usize,
    pub garbled_name: usize,
    pub wrong_name: usize,
    pub no_name: usize,
    pub false_quotes: usize,
    pub listed_non_quotes_returned: usize,
    pub listed_non_quotes: usize,
    /// One per [`CONFIDENCE_BUCKETS`] entry.
    pub buckets: [Bucket; 4],
}

/// The bucket a confidence falls in.
pub fn bucket_index(confidence: f64) -> usize {
    CONFIDENCE_BUCKETS
        .iter()
        .rposition(|&lower| confidence >= lower)
        .unwrap_or(0)
}

impl Tally {
    /// Adds one article's score; `returned` is what the score was computed on.
    pub fn add_article(
        &mut self,
        expected: &ExpectedArticle,
        returned: &[Quote],
        score: &ArticleScore,
    ) {
        self.articles += 1;
        self.expected_quotes += expected.quotes.len();
        self.listed_non_quotes += expected.non_quotes.len();
        self.false_quotes += score.false_quotes.len();
        self.listed_non_quotes_returned += score.listed_non_quotes.len();
        let mut right = vec![false; returned.len()];
        for outcome in &score.outcomes {
            if let Outcome::Found(index, verdict) = *outcome {
                self.found += 1;
                match verdict {
                    SpeakerVerdict::Right => {
                        self.speaker_right += 1;
                        right[index] = true;
                    }
                    SpeakerVerdict::GarbledName => self.garbled_name += 1,
                    SpeakerVerdict::WrongName => self.wrong_name += 1,
                    SpeakerVerdict::NoName => self.no_name += 1,
                }
            }
        }
        for (quote, right) in returned.iter().zip(right) {
            let bucket = &mut self.buckets[bucket_index(quote.confidence)];
            bucket.quotes += 1;
            bucket.right += usize::from(right);
            bucket.confidence_sum += quote.confidence;
        }
    }

    pub fn add(&mut self, other: &Tally) {
        self.articles += other.articles;
        self.expected_quotes += other.expected_quotes;
        self.found += other.found;
        self.speaker_right += other.speaker_right;
        self.garbled_name += other.garbled_name;
        self.wrong_name += other.wrong_name;
        self.no_name += other.no_name;
        self.false_quotes += other.false_quotes;
        self.listed_non_quotes_returned += other.listed_non_quotes_returned;
        self.listed_non_quotes += other.listed_non_quotes;
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            mine.quotes += theirs.quotes;
            mine.right += theirs.right;
            mine.confidence_sum += theirs.confidence_sum;
        }
    }

    /// Found quotes over expected quotes.
    pub fn recall(&self) -> f64 {
        ratio(self.found, self.expected_quotes)
    }

    /// Quotes with the right speaker over found quotes.
    pub fn speaker_accuracy(&self) -> f64 {
        ratio(self.speaker_right, self.found)
    }

    /// Quotes given a wrong name over found quotes.
    pub fn wrong_name_rate(&self) -> f64 {
        ratio(self.wrong_name, self.found)
    }
}

/// `part / whole`, 0 when there is no whole.
pub fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}
