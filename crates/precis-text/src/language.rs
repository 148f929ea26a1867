//! Language detection: lingua's models and whatlang combined.
//!
//! 1. **lingua's scores, for every language at once.** `NgramScorer` (`ngram_scorer.rs`)
//!    computes lingua's high-accuracy n-gram scores of all 75 languages in one pass over the
//!    text (one hash lookup per distinct n-gram prefix instead of one finite-state lookup per
//!    n-gram and language): the same sums lingua computes, about a hundred times faster.
//!    A text is read in steps of `EARLY_ANSWER_STEP_LETTERS` letters (whole words): when
//!    after a step the best language already leads by `EARLY_ANSWER_MARGIN` (odds of 20 to
//!    1), that is the answer and the rest is not read. Most sentences are that clear well
//!    before their end, and the rest would cost as much again; otherwise each step adds to the
//!    sums of the steps before, so at the end the scores are the whole text's, at no extra
//!    cost. A text whose beginning is clearly in one language and whose rest is in another is
//!    answered by its beginning. Text scored by trigrams alone (`TRIGRAMS_ONLY_FROM_LETTERS`
//!    letters) is read whole.
//! 2. **lingua's rules.** An alphabet written by one language names it (Greek, Hangul, …);
//!    Han text with kana is Japanese, Han alone Chinese; otherwise only the languages written
//!    in the text's main alphabet are ranked.
//! 3. **whatlang's vote in close calls.** When the two best languages are within a factor of
//!    two (the only case its vote can change), whatlang weighs those leaders and its pick's
//!    probability is multiplied by `1 + its confidence` (a product of two experts: it can
//!    settle a near tie but never overturn a clear answer). It votes only when it has a model
//!    of both of the two best languages (it would otherwise push Bosnian towards Croatian,
//!    Nynorsk towards Bokmål, …).
//! 4. **The letters of short text.** For a word or two (at most
//!    `MAX_WORDS_FOR_SHORT_TEXT_RULE` words), and for text under `MIN_SCORED_TRIGRAMS`
//!    trigrams whose best score does not lead by `SHORT_TEXT_CLEAR_MARGIN`, only the
//!    candidates (every language, or the scores' best `SHORT_TEXT_CANDIDATES`) that write the
//!    most of the text's letters stay in the running: a language whose model (almost) never
//!    sees `ū` or `ż` is not the language of a short text that has them. This is the part of
//!    lingua's character rules ("letters unique to a few languages") derived from its own
//!    models; on letters all ASCII it leaves the scores, so the answer is lingua's (a test
//!    checks this). whatlang votes as above.
//!
//! Text in which no alphabet dominates by lingua's count (as many Thai letters as Latin ones
//! in words of one alphabet, say) takes whatlang's script, which counts every letter; scripts
//! lingua does not know (Ethiopic, Kannada, …) are answered by whatlang alone.
//! Confidence is the probability scaled by how much evidence the text holds (letters seen), so
//! two letters never give a confident answer; under [`MIN_LETTERS`] letters the answer is
//! `und` unless the script belongs to one language only. Only the first [`MAX_SAMPLE_BYTES`]
//! of a text are read.
//!
//! Cost: lingua's models are finite-state maps compiled into the binary (nothing is
//! downloaded); the scorer's tables are built from them when the detector is made (about
//! 1.5 s, ~235 MB). [`LanguageDetector`] is `Send + Sync`: build it once and share it.

use std::collections::{HashMap, HashSet};

use lingua::Language;
use serde::Serialize;

use crate::ngram_scorer::{self, NgramScorer, ALPHABETS, HAN};

/// Code given when the language cannot be told.
pub const UNDETERMINED: &str = "und";

/// Fewer letters than this give `und`, except in a script used by one language only.
pub const MIN_LETTERS: usize = 3;

/// Only this many bytes from the start of a text are examined: language is a property of the
/// whole text and a few kilobytes settle it, so a 10 MB article costs no more than a short one.
pub const MAX_SAMPLE_BYTES: usize = 2048;

/// Alternatives less likely than this are noise (1e-200 and the like) and are not listed.
pub const MIN_ALTERNATIVE_CONFIDENCE: f64 = 0.001;

/// How many alternatives a [`Detection`] lists besides its answer.
const MAX_ALTERNATIVES: usize = 3;

/// Letters after which the evidence factor of the confidence reaches about 63%
/// (`1 - e^-1`); about 95% at three times that.
const EVIDENCE_SCALE_LETTERS: f64 = 8.0;

/// A text of fewer trigrams than this (a short sentence) whose scores are unclear is short
/// text: the letters it has that a language does not write matter most on such text.
const MIN_SCORED_TRIGRAMS: usize = 12;

/// Text of at most this many words (a word or two) is short text whatever its scores: its
/// letters (those a language does not write) weigh most there.
const MAX_WORDS_FOR_SHORT_TEXT_RULE: usize = 2;

/// Short unclear text is weighed among this many of the scores' best languages: the right
/// one is almost always among them.
pub(crate) const SHORT_TEXT_CANDIDATES: usize = 6;

/// On short text the scores answer alone only when their best language leads by this much.
const SHORT_TEXT_CLEAR_MARGIN: f64 = 2.0;

/// whatlang's vote multiplies a probability by at most 2: it can only change the answer when
/// the best language leads the second by less than this (natural log of their ratio).
const WHATLANG_CAN_DECIDE: f64 = std::f64::consts::LN_2;

// The cascade reads this many of the scores' best languages in order.
const _: () = assert!(
    SHORT_TEXT_CANDIDATES <= ngram_scorer::RANKED_IN_ORDER
        && MAX_ALTERNATIVES < ngram_scorer::RANKED_IN_ORDER
);

/// A language this many nats (natural log) behind the best is e^-40 ≈ 4e-18 times as likely:
/// below what an f64 sum beside the best's 1 can hold, so its exponential is not computed.
const NEGLIGIBLE_NATS: f64 = 40.0;

/// `e^(score - best)`: a language's likelihood relative to the best, 0 when negligible.
fn relative_likelihood(score: f64, best: f64) -> f64 {
    let behind = score - best;
    if behind < -NEGLIGIBLE_NATS {
        0.0
    } else {
        behind.exp()
    }
}

/// Which stage of the cascade answered (see [`LanguageDetector::detect_with_trace`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectionPath {
    /// No letters: `und` at once.
    NoLetters,
    /// The text is written in an alphabet of one language (Greek, Hangul, …), or in Han.
    SingleLanguageScript,
    /// lingua's n-gram scores gave a clear answer.
    Scores,
    /// lingua's n-gram scores of the text's beginning gave an answer so clear that the rest
    /// was not read.
    ScoresOfBeginning,
    /// lingua's n-gram scores were close: whatlang voted.
    ScoresAndWhatlang,
    /// A script lingua has no model of (Ethiopic, Kannada, …): whatlang's answer.
    WhatlangOnly,
    /// A word or two, or short text whose scores are unclear: the scores of the best
    /// candidates that write every letter of the text, whatlang voting.
    ShortText,
}

/// A supported language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LanguageInfo {
    pub iso639_1: String,
    pub iso639_3: String,
    pub name: String,
}

/// Another candidate language and its confidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alternative {
    pub iso639_1: String,
    pub confidence: f64,
}

/// The language of a text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    /// ISO 639-1 code, or `und` when the language cannot be told.
    pub iso639_1: String,
    /// ISO 639-3 code, or `und`.
    pub iso639_3: String,
    /// Dominant script (whatlang's name for it, e.g. `Latin`, `Cyrillic`), empty when the text
    /// has no letters.
    pub script: String,
    /// Confidence in [0, 1]; 0 for `und`.
    pub confidence: f64,
    /// The next most likely languages, most likely first.
    pub alternatives: Vec<Alternative>,
}

impl Detection {
    /// The answer for text whose language cannot be told.
    pub fn undetermined(script: &str) -> Self {
        Detection {
            iso639_1: UNDETERMINED.to_string(),
            iso639_3: UNDETERMINED.to_string(),
            script: script.to_string(),
            confidence: 0.0,
            alternatives: Vec::new(),
        }
    }

    pub fn is_undetermined(&self) -> bool {
        self.iso639_1 == UNDETERMINED
    }
}

/// Languages of scripts lingua does not cover, answered by whatlang alone:
/// (whatlang ISO 639-3, ISO 639-1, name).
const WHATLANG_ONLY: &[(&str, &str, &str)] = &[
    ("amh", "am", "Amharic"),
    ("kan", "kn", "Kannada"),
    ("mal", "ml", "Malayalam"),
    ("khm", "km", "Khmer"),
    ("mya", "my", "Burmese"),
    ("sin", "si", "Sinhala"),
    ("ori", "or", "Odia"),
];

/// whatlang codes that differ from lingua's ISO 639-3 code for the same language.
const WHATLANG_CODE_ALIASES: &[(&str, &str)] = &[("cmn", "zho"), ("pes", "fas")];

/// The lingua language that a whatlang language is, if lingua knows it.
pub fn lingua_language_of(lang: whatlang::Lang) -> Option<Language> {
    let code = WHATLANG_CODE_ALIASES
        .iter()
        .find(|(whatlang_code, _)| *whatlang_code == lang.code())
        .map_or(lang.code(), |(_, lingua_code)| lingua_code);
    code.parse::<lingua::IsoCode639_3>()
        .ok()
        .map(|iso_code| Language::from_iso_code_639_3(&iso_code))
}

/// Detects the language of articles and of short passages such as quotes.
pub struct LanguageDetector {
    /// whatlang restricted to the languages lingua knows, so its vote always names one.
    whatlang_all: whatlang::Detector,
    /// whatlang's language → lingua's language.
    from_whatlang: HashMap<whatlang::Lang, Language>,
    /// lingua's language → whatlang's language, for those whatlang has a model of.
    to_whatlang: HashMap<Language, whatlang::Lang>,
    /// The lingua languages whatlang has a model of.
    whatlang_languages: HashSet<Language>,
    /// lingua's n-gram scores of every language in one pass: the first stage.
    scorer: NgramScorer,
}

impl Default for LanguageDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl LanguageDetector {
    /// Builds the detector (see the module docs for the cost).
    pub fn new() -> Self {
        let from_whatlang: HashMap<whatlang::Lang, Language> = whatlang::Lang::all()
            .iter()
            .filter_map(|&lang| lingua_language_of(lang).map(|language| (lang, language)))
            .collect();
        LanguageDetector {
            whatlang_all: whatlang::Detector::with_allowlist(
                from_whatlang.keys().copied().collect(),
            ),
            whatlang_languages: from_whatlang.values().copied().collect(),
            to_whatlang: from_whatlang
                .iter()
                .map(|(lang, language)| (*language, *lang))
                .collect(),
            from_whatlang,
            scorer: NgramScorer::build(),
        }
    }

    /// Bytes held by the scorer's tables (most of the detector's memory).
    pub fn table_bytes(&self) -> usize {
        self.scorer.table_bytes()
    }

    /// Every language this detector can answer, sorted by ISO 639-1 code.
    pub fn supported_languages(&self) -> Vec<LanguageInfo> {
        let mut languages: Vec<LanguageInfo> = Language::all()
            .into_iter()
            .map(|language| LanguageInfo {
                iso639_1: language.iso_code_639_1().to_string(),
                iso639_3: language.iso_code_639_3().to_string(),
                name: language.to_string(),
            })
            .chain(
                WHATLANG_ONLY
                    .iter()
                    .map(|(iso639_3, iso639_1, name)| LanguageInfo {
                        iso639_1: iso639_1.to_string(),
                        iso639_3: iso639_3.to_string(),
                        name: name.to_string(),
                    }),
            )
            .collect();
        languages.sort_by(|a, b| a.iso639_1.cmp(&b.iso639_1));
        languages
    }

    /// Detects the language of `text`; `und` when it is too short or has no letters.
    pub fn detect(&self, text: &str) -> Detection {
        self.detect_with_trace(text).0
    }

    /// [`detect`](Self::detect), and which stage of the cascade gave the answer.
    pub fn detect_with_trace(&self, text: &str) -> (Detection, DetectionPath) {
        let sample = prefix_on_char_boundary(text, MAX_SAMPLE_BYTES);
        let mut ranking = self.scorer.rank(sample);
        let letters = ranking.letters;
        if letters == 0 {
            return (Detection::undetermined(""), DetectionPath::NoLetters);
        }
        let alphabet = match ranking.alphabet {
            Some(alphabet) => alphabet,
            None => {
                // No alphabet dominates by lingua's count (as many letters of two, in words of
                // one alphabet) or none lingua knows: whatlang's script, which counts every
                // letter, names it, and the scores (of every language) are narrowed to it.
                let script = whatlang::detect_script(sample);
                let script_name = script.as_ref().map_or("", |script| script.name());
                let Some(alphabet) = ALPHABETS.iter().position(|(_, name)| *name == script_name)
                else {
                    let detection = self.detect_with_whatlang_only(sample, script_name, letters);
                    return (detection, DetectionPath::WhatlangOnly);
                };
                self.narrow_to_alphabet(&mut ranking, alphabet);
                alphabet
            }
        };
        let script_name = ALPHABETS[alphabet].1;

        // lingua's rules: an alphabet of one language names it; Han with kana is Japanese,
        // Han alone Chinese.
        let single = if alphabet == HAN {
            Some(if ranking.kana > 0 {
                Language::Japanese
            } else {
                Language::Chinese
            })
        } else if ranking.alphabet_languages == 1 {
            (0..self.scorer.language_count())
                .find(|index| self.scorer.writes(*index, alphabet))
                .map(|index| self.scorer.language(index))
        } else {
            None
        };
        if let Some(language) = single {
            let detection = single_language_detection(language, script_name, letters);
            return (detection, DetectionPath::SingleLanguageScript);
        }

        let margin = match ranking.ranked.as_slice() {
            [(_, best), (_, second), ..] => best - second,
            _ => f64::INFINITY,
        };
        let word_or_two = ranking.words <= MAX_WORDS_FOR_SHORT_TEXT_RULE;
        if word_or_two
            || (ranking.trigrams < MIN_SCORED_TRIGRAMS && margin < SHORT_TEXT_CLEAR_MARGIN)
        {
            // Short text: the best candidates that write every letter of it (as lingua's
            // character rules would narrow them), then whatlang's vote.
            let (considered, whatlang_info) = if word_or_two {
                let candidates = self.candidates_writing_the_letters(&ranking, usize::MAX);
                (candidates, self.whatlang_all.detect(sample))
            } else {
                let candidates =
                    self.candidates_writing_the_letters(&ranking, SHORT_TEXT_CANDIDATES);
                let languages: Vec<Language> = candidates
                    .iter()
                    .map(|(index, _)| self.scorer.language(*index))
                    .collect();
                let whatlang_info = self.whatlang_among(sample, &languages);
                (candidates, whatlang_info)
            };
            let values = self.softmax_of(&considered);
            let detection = self.fuse(values, sample, script_name, letters, whatlang_info.as_ref());
            return (detection, DetectionPath::ShortText);
        }
        let Some(&(_, best_score)) = ranking.ranked.first() else {
            let detection = self.detect_with_whatlang_only(sample, script_name, letters);
            return (detection, DetectionPath::WhatlangOnly);
        };
        let second_score = ranking
            .ranked
            .get(1)
            .map_or(f64::NEG_INFINITY, |(_, score)| *score);
        if best_score - second_score >= WHATLANG_CAN_DECIDE {
            let path = if ranking.stopped_early {
                DetectionPath::ScoresOfBeginning
            } else {
                DetectionPath::Scores
            };
            return (
                self.scorer_detection(&ranking.ranked, script_name, letters),
                path,
            );
        }
        // A close call: lingua's probabilities (its softmax of the scores) and whatlang's vote.
        let values: Vec<(Language, f64)> = ranking
            .ranked
            .iter()
            .map(|(index, score)| {
                (
                    self.scorer.language(*index),
                    relative_likelihood(*score, best_score),
                )
            })
            .collect();
        let leaders: Vec<Language> = ranking
            .ranked
            .iter()
            .filter(|(_, score)| best_score - score < WHATLANG_CAN_DECIDE)
            .map(|(index, _)| self.scorer.language(*index))
            .collect();
        let whatlang_info = self.whatlang_among(sample, &leaders);
        let detection = self.fuse(values, sample, script_name, letters, whatlang_info.as_ref());
        (detection, DetectionPath::ScoresAndWhatlang)
    }

    /// Keeps the languages of `ranking` written in `alphabet` (all were scored), in its order.
    fn narrow_to_alphabet(&self, ranking: &mut ngram_scorer::Ranking, alphabet: usize) {
        ranking
            .ranked
            .retain(|(index, _)| self.scorer.writes(*index, alphabet));
        ranking.ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranking.alphabet = Some(alphabet);
        ranking.alphabet_languages = self.scorer.languages_writing(alphabet);
    }

    /// The `count` best languages (all when `count` exceeds them), keeping only those that
    /// write the most of the text's letters, best first.
    fn candidates_writing_the_letters(
        &self,
        ranking: &ngram_scorer::Ranking,
        count: usize,
    ) -> Vec<ngram_scorer::Scored> {
        let best = &ranking.ranked[..count.min(ranking.ranked.len())];
        let fewest_unwritten = best
            .iter()
            .map(|(index, _)| ranking.unwritten_letters[*index])
            .min()
            .unwrap_or(0);
        let mut candidates: Vec<ngram_scorer::Scored> = best
            .iter()
            .copied()
            .filter(|(index, _)| ranking.unwritten_letters[*index] == fewest_unwritten)
            .collect();
        // Beyond the first few, the ranking is in no order.
        candidates.sort_by(|a, b| b.1.total_cmp(&a.1));
        candidates
    }

    /// lingua's probabilities (its softmax of the scores) of these languages, best first.
    fn softmax_of(&self, ranked: &[ngram_scorer::Scored]) -> Vec<(Language, f64)> {
        let Some(&(_, best)) = ranked.first() else {
            return Vec::new();
        };
        let total: f64 = ranked
            .iter()
            .map(|(_, score)| relative_likelihood(*score, best))
            .sum();
        ranked
            .iter()
            .map(|(index, score)| {
                (
                    self.scorer.language(*index),
                    relative_likelihood(*score, best) / total,
                )
            })
            .collect()
    }

    /// The scorer's answer alone: lingua's softmax over the languages' scores.
    fn scorer_detection(
        &self,
        ranked: &[ngram_scorer::Scored],
        script: &str,
        letters: usize,
    ) -> Detection {
        let top = ranked[0].1;
        let total: f64 = ranked
            .iter()
            .map(|(_, score)| relative_likelihood(*score, top))
            .sum();
        let evidence = evidence_factor(letters);
        let confidence =
            |score: f64| (relative_likelihood(score, top) / total * evidence).clamp(0.0, 1.0);
        let best = self.scorer.language(ranked[0].0);
        Detection {
            iso639_1: best.iso_code_639_1().to_string(),
            iso639_3: best.iso_code_639_3().to_string(),
            script: script.to_string(),
            confidence: confidence(top),
            alternatives: ranked[1..]
                .iter()
                .take(MAX_ALTERNATIVES)
                .map(|(index, score)| Alternative {
                    iso639_1: self.scorer.language(*index).iso_code_639_1().to_string(),
                    confidence: confidence(*score),
                })
                .filter(|alternative| alternative.confidence >= MIN_ALTERNATIVE_CONFIDENCE)
                .collect(),
        }
    }

    /// whatlang's pick among `candidates` (those it has a model of): it arbitrates between
    /// the scores' leaders, and weighing a few languages costs a fraction of weighing all.
    fn whatlang_among(&self, sample: &str, candidates: &[Language]) -> Option<whatlang::Info> {
        let allowed: Vec<whatlang::Lang> = candidates
            .iter()
            .filter_map(|language| self.to_whatlang.get(language).copied())
            .collect();
        if allowed.len() < 2 {
            return None;
        }
        whatlang::Detector::with_allowlist(allowed).detect(sample)
    }

    /// lingua's confidence values, with whatlang's vote, as a [`Detection`].
    fn fuse(
        &self,
        values: Vec<(Language, f64)>,
        sample: &str,
        script_name: &str,
        letters: usize,
        whatlang_info: Option<&whatlang::Info>,
    ) -> Detection {
        let mut fused: Vec<(Language, f64)> = values
            .into_iter()
            .filter(|(_, probability)| *probability > 0.0)
            .collect();
        if fused.is_empty() {
            return self.detect_with_whatlang_only(sample, script_name, letters);
        }
        fused.sort_by(|a, b| b.1.total_cmp(&a.1));
        // whatlang arbitrates lingua's two best candidates only when it knows both: it cannot
        // vote against a language it has no model of (Bosnian, Nynorsk, Malay, …).
        let whatlang_knows_both = fused
            .iter()
            .take(2)
            .all(|(language, _)| self.whatlang_languages.contains(language));
        if whatlang_knows_both {
            if let Some(info) = whatlang_info {
                if let Some(language) = self.from_whatlang.get(&info.lang()) {
                    for (candidate, probability) in fused.iter_mut() {
                        if candidate == language {
                            *probability *= 1.0 + info.confidence();
                        }
                    }
                }
            }
        }
        let total: f64 = fused.iter().map(|(_, probability)| probability).sum();
        fused.sort_by(|a, b| b.1.total_cmp(&a.1));

        let (best, best_probability) = fused[0];
        let single_language_script = fused.len() == 1 && best_probability >= total;
        if letters < MIN_LETTERS && !single_language_script {
            return Detection::undetermined(script_name);
        }
        let evidence = evidence_factor(letters);
        Detection {
            iso639_1: best.iso_code_639_1().to_string(),
            iso639_3: best.iso_code_639_3().to_string(),
            script: script_name.to_string(),
            confidence: (best_probability / total * evidence).clamp(0.0, 1.0),
            alternatives: fused[1..]
                .iter()
                .take(MAX_ALTERNATIVES)
                .map(|(language, probability)| Alternative {
                    iso639_1: language.iso_code_639_1().to_string(),
                    confidence: (probability / total * evidence).clamp(0.0, 1.0),
                })
                .filter(|alternative| alternative.confidence >= MIN_ALTERNATIVE_CONFIDENCE)
                .collect(),
        }
    }

    /// For scripts lingua has no model of: whatlang's answer, if it names a language we list.
    fn detect_with_whatlang_only(&self, sample: &str, script: &str, letters: usize) -> Detection {
        let Some(info) = whatlang::detect(sample) else {
            return Detection::undetermined(script);
        };
        let Some((iso639_3, iso639_1, _)) = WHATLANG_ONLY
            .iter()
            .find(|(code, _, _)| *code == info.lang().code())
        else {
            return Detection::undetermined(script);
        };
        Detection {
            iso639_1: iso639_1.to_string(),
            iso639_3: iso639_3.to_string(),
            script: script.to_string(),
            confidence: (info.confidence() * evidence_factor(letters)).clamp(0.0, 1.0),
            alternatives: Vec::new(),
        }
    }
}

/// The answer for text in an alphabet only one language is written in.
fn single_language_detection(language: Language, script: &str, letters: usize) -> Detection {
    Detection {
        iso639_1: language.iso_code_639_1().to_string(),
        iso639_3: language.iso_code_639_3().to_string(),
        script: script.to_string(),
        confidence: evidence_factor(letters),
        alternatives: Vec::new(),
    }
}

/// Share of confidence the amount of text allows: 0 with no letters, towards 1 with many.
fn evidence_factor(letters: usize) -> f64 {
    1.0 - (-(letters as f64) / EVIDENCE_SCALE_LETTERS).exp()
}

/// The longest prefix of `text` of at most `max_bytes` bytes that ends on a char boundary.
pub(crate) fn prefix_on_char_boundary(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn detector() -> &'static LanguageDetector {
        static DETECTOR: OnceLock<LanguageDetector> = OnceLock::new();
        DETECTOR.get_or_init(LanguageDetector::new)
    }

    #[test]
    fn detector_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<LanguageDetector>();
    }

    #[test]
    fn detects_common_languages_with_both_codes() {
        let cases = [
            (
                "The minister said the talks would resume next week in Geneva.",
                "en",
                "eng",
            ),
            (
                "Le ministre a déclaré que les négociations reprendraient la semaine prochaine.",
                "fr",
                "fra",
            ),
            (
                "Der Minister sagte, die Gespräche würden nächste Woche fortgesetzt.",
                "de",
                "deu",
            ),
            (
                "El ministro dijo que las conversaciones se reanudarán la próxima semana.",
                "es",
                "spa",
            ),
            (
                "Министр заявил, что переговоры возобновятся на следующей неделе.",
                "ru",
                "rus",
            ),
        ];
        for (text, iso639_1, iso639_3) in cases {
            let detection = detector().detect(text);
            assert_eq!(detection.iso639_1, iso639_1, "{text}");
            assert_eq!(detection.iso639_3, iso639_3, "{text}");
            assert!(detection.confidence > 0.5, "{detection:?}");
            assert!(detection.confidence <= 1.0);
        }
    }

    #[test]
    fn script_is_reported() {
        assert_eq!(detector().detect("Καλημέρα σας, φίλοι μου").script, "Greek");
        assert_eq!(
            detector().detect("Good morning, my friends").script,
            "Latin"
        );
    }

    #[test]
    fn too_short_or_letterless_text_is_undetermined() {
        for text in ["", "   ", "ok", "42", "😀", "!!", "\u{200b}\u{200b}"] {
            let detection = detector().detect(text);
            assert!(detection.is_undetermined(), "{text:?} gave {detection:?}");
            assert_eq!(detection.confidence, 0.0);
        }
    }

    #[test]
    fn short_text_is_never_confident() {
        let detection = detector().detect("oui");
        assert!(detection.confidence < 0.4, "{detection:?}");
    }

    #[test]
    fn alternatives_are_ranked_and_below_the_answer() {
        let detection = detector().detect("Det er en fin dag i dag");
        assert!(!detection.alternatives.is_empty());
        let mut previous = detection.confidence;
        for alternative in &detection.alternatives {
            assert!(alternative.confidence <= previous);
            assert!(alternative.confidence >= MIN_ALTERNATIVE_CONFIDENCE);
            previous = alternative.confidence;
        }
    }

    #[test]
    fn supported_languages_cover_lingua_and_map_whatlang() {
        let languages = detector().supported_languages();
        assert!(languages.len() >= 75);
        assert!(languages
            .iter()
            .any(|l| l.iso639_1 == "zu" && l.iso639_3 == "zul"));
        // Chinese and Persian have different ISO 639-3 codes in the two crates.
        assert_eq!(
            detector().from_whatlang[&whatlang::Lang::Cmn],
            Language::Chinese
        );
        assert_eq!(
            detector().from_whatlang[&whatlang::Lang::Pes],
            Language::Persian
        );
    }

    #[test]
    fn clear_sentence_is_answered_by_the_scores() {
        let cases = [
            (
                "The minister said on Tuesday that the talks with the union would resume next week.",
                "en",
            ),
            (
                "Der Minister sagte am Dienstag, die Gespräche mit der Gewerkschaft würden nächste Woche fortgesetzt.",
                "de",
            ),
            (
                "Minister powiedział we wtorek, że rozmowy ze związkowcami zostaną wznowione w przyszłym tygodniu.",
                "pl",
            ),
        ];
        for (text, expected) in cases {
            let (detection, path) = detector().detect_with_trace(text);
            assert_eq!(detection.iso639_1, expected, "{text}");
            assert!(
                matches!(
                    path,
                    DetectionPath::Scores | DetectionPath::ScoresOfBeginning
                ),
                "{text}: {path:?}"
            );
            assert!(detection.confidence > 0.9, "{detection:?}");
        }
    }

    #[test]
    fn close_languages_are_told_apart() {
        let cases = [
            (
                "El ministro dijo el martes que las negociaciones con el sindicato se reanudarán la próxima semana.",
                "es",
            ),
            (
                "O ministro disse na terça-feira que as negociações com o sindicato serão retomadas na próxima semana.",
                "pt",
            ),
            (
                "El ministre va dir dimarts que les negociacions amb el sindicat es reprendran la setmana vinent.",
                "ca",
            ),
            (
                "Ministeren sagde tirsdag, at forhandlingerne med fagforeningen vil blive genoptaget i næste uge.",
                "da",
            ),
            (
                "Ministeren sa tirsdag at forhandlingene med fagforeningen vil bli gjenopptatt neste uke.",
                "nb",
            ),
        ];
        for (text, expected) in cases {
            let (detection, path) = detector().detect_with_trace(text);
            assert_eq!(detection.iso639_1, expected, "{text}: {path:?}");
        }
    }

    #[test]
    fn short_text_is_weighed_by_its_letters() {
        let (detection, path) = detector().detect_with_trace("buenos días, señora");
        assert_eq!(path, DetectionPath::ShortText);
        assert_eq!(detection.iso639_1, "es");
        // Letters few languages write settle short text.
        for (text, expected) in [
            ("Ačiū, labai gražu", "lt"),
            ("Żółw śpi", "pl"),
            ("Cảm ơn bạn", "vi"),
            ("Dziękuję bardzo", "pl"),
            ("Ďakujem pekne", "sk"),
            ("Teşekkür ederim", "tr"),
        ] {
            let (detection, path) = detector().detect_with_trace(text);
            assert_eq!(detection.iso639_1, expected, "{text}: {path:?}");
        }
        let (detection, path) = detector().detect_with_trace("good morning");
        assert_eq!(path, DetectionPath::ShortText);
        assert_eq!(detection.iso639_1, "en");
        let (detection, path) = detector().detect_with_trace("");
        assert_eq!(path, DetectionPath::NoLetters);
        assert!(detection.is_undetermined());
    }

    #[test]
    fn alphabets_of_one_language_and_han_follow_lingua_rules() {
        let (chinese, path) =
            detector().detect_with_trace("部长周二表示，与工会的谈判将于下周恢复。");
        assert_eq!(chinese.iso639_1, "zh");
        assert_eq!(path, DetectionPath::SingleLanguageScript);
        let (japanese, _) =
            detector().detect_with_trace("大臣は火曜日、組合との交渉を来週再開すると述べた。");
        assert_eq!(japanese.iso639_1, "ja");
        let (greek, path) =
            detector().detect_with_trace("Ο καιρός ήταν καλός και τα παιδιά έπαιζαν.");
        assert_eq!(greek.iso639_1, "el");
        assert_eq!(path, DetectionPath::SingleLanguageScript);
        let (korean, _) = detector()
            .detect_with_trace("장관은 화요일 노조와의 협상이 다음 주에 재개될 것이라고 말했다.");
        assert_eq!(korean.iso639_1, "ko");
    }

    #[test]
    fn a_tie_of_alphabets_is_settled_by_whatlangs_script() {
        // As many Thai letters as Latin ones in words of one alphabet (lingua's count), but
        // more Thai letters in all (the last word mixes both): whatlang's script is Thai, a
        // language of its own.
        let text = "ภาษาไทย English Aไทย";
        let ranking = detector().scorer.rank(text);
        assert_eq!(ranking.alphabet, None, "{text}");
        let (detection, path) = detector().detect_with_trace(text);
        assert_eq!(detection.iso639_1, "th", "{detection:?}");
        assert_eq!(path, DetectionPath::SingleLanguageScript);
    }

    #[test]
    fn scripts_lingua_lacks_are_answered_by_whatlang() {
        let detection = detector().detect("ሰላም ለሁላችሁ ይሁን። ዛሬ ጥሩ ቀን ነው እና ሁሉም ሰው ደስተኛ ነው።");
        assert_eq!(detection.iso639_1, "am", "{detection:?}");
    }

    #[test]
    fn prefix_respects_char_boundaries() {
        assert_eq!(prefix_on_char_boundary("aé", 2), "a");
        assert_eq!(prefix_on_char_boundary("abc", 10), "abc");
    }
}
