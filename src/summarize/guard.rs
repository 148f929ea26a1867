//! The faithfulness guard: an abstractive summary reaches an editor only with each sentence
//! linked to the article sentences that support it, and with every name, number and quoted
//! phrase it states found in the article. A sentence that fails is dropped; when too little
//! survives, the caller serves the extractive summary instead. Either way the report says what
//! happened and why. The names, numbers and quoted phrases are pulled out of both texts by
//! `summarize::facts`.
//!
//! The checks are deliberately strict: dropping a faithful sentence costs a little summary,
//! letting an invented number or name through costs the newsroom's trust.
use serde::Serialize;

use crate::runtime::embeddings::{cosine, Embedding};
use crate::summarize::extractive::SimilarityMatrix;
use crate::summarize::facts::ArticleFacts;

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
            let mut issues = unsupported_claims(&facts, sentence);
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

/// The numbers, quoted phrases and names `sentence` states that the article does not, in that
/// order.
fn unsupported_claims(facts: &ArticleFacts, sentence: &str) -> Vec<GuardIssue> {
    let stated = facts.stated_in(sentence);
    let numbers = stated
        .numbers
        .into_iter()
        .filter(|number| !facts.has_number(number))
        .map(|value| GuardIssue::UnsupportedNumber { value });
    let quotes = stated
        .quoted_phrases
        .into_iter()
        .filter(|phrase| !facts.has_phrase(phrase))
        .map(|value| GuardIssue::UnsupportedQuote { value });
    let names = stated
        .names
        .into_iter()
        .filter(|name| !facts.has_name(name))
        .map(|value| GuardIssue::UnsupportedName { value });
    numbers.chain(quotes).chain(names).collect()
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
        let numbers_in = |sentence: &str| unsupported_claims(&facts, sentence);
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
        assert!(unsupported_claims(&german, "It costs 1,200 euros and 3.5 million.").is_empty());
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
            unsupported_claims(&facts, "Solberg praised the plan."),
            Vec::new(),
            "a surname alone is found inside the full name"
        );
        assert_eq!(
            unsupported_claims(&facts, "Olsen praised the plan."),
            vec![GuardIssue::UnsupportedName {
                value: "Olsen".into()
            }],
            "a lone unknown name opening a sentence is still a name"
        );
        assert!(
            unsupported_claims(&facts, "Engineers found cracks in the quay.").is_empty(),
            "a common word opening a sentence is not a name"
        );
    }

    #[test]
    fn quoted_words_must_be_verbatim() {
        let facts = ArticleFacts::new(ARTICLE);
        assert!(
            unsupported_claims(&facts, "The mayor called it “a new start for the harbour”.")
                .is_empty()
        );
        assert_eq!(
            unsupported_claims(
                &facts,
                "The mayor called it “a historic day for the harbour”."
            ),
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
