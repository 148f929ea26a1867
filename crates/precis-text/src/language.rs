//! Language detection: whatlang and lingua combined, as a cascade.
//!
//! lingua's high-accuracy scoring is the most accurate opinion on short text, but costs about
//! 60 µs per candidate language for a sentence (one finite-state lookup per n-gram, per order,
//! per language), over 2 ms with all 75. So the cheap opinions decide how much of it to run:
//!
//! 1. **Cheap opinions.** whatlang gives the script and its own pick (trigram profiles of its
//!    own); [`TrigramIndex`](crate::trigram_index) ranks all 75 lingua languages at once from
//!    lingua's own trigram probabilities, read once into one hash table (one lookup per trigram
//!    instead of one per trigram and language).
//! 2. **Agreement.** When both cheap opinions name the same language, that language has no
//!    close relative (see [`CLOSE_LANGUAGES`]), and the text holds at least
//!    [`MIN_FAST_TRIGRAMS`] trigrams, that is the answer, with the index's naive-Bayes posterior
//!    as confidence. whatlang knows 58 of the 75 languages, so a text in one it lacks never
//!    passes here.
//! 3. **lingua over candidates.** Otherwise lingua's high-accuracy scoring runs over the index's
//!    [`INDEX_CANDIDATES`] best languages, every close relative of the first, and whatlang's
//!    pick (a restricted lingua detector per candidate set, built once and kept). Chinese,
//!    Japanese and Korean, which lingua models by characters, go to lingua over those three.
//! 4. **lingua over every language** for text under [`MIN_INDEX_TRIGRAMS`] trigrams (a few
//!    words: too little for the index to rule languages out, and cheap for lingua).
//!
//! In stages 3 and 4 whatlang's pick multiplies lingua's probability of that language by
//! `1 + whatlang_confidence`: a product of two experts, so whatlang can settle a near tie of
//! lingua's but cannot overturn a clear lingua answer. It votes only when it has a model of
//! both of lingua's two best candidates (it would otherwise push Bosnian text towards Croatian,
//! Nynorsk towards Bokmål, …). Scripts lingua does not know (Ethiopic, Kannada, …) are answered
//! by whatlang alone. Confidence is the fused probability scaled by how much evidence the text
//! holds (letters seen), so two letters never give a confident answer; under [`MIN_LETTERS`]
//! letters the answer is `und` unless the script belongs to one language only.
//!
//! Cost: lingua's models are finite-state maps compiled into the binary (about 270 MB of the
//! binary; nothing is downloaded). "Preloading" them builds zero-copy views over those bytes;
//! the trigram index (about 1.1 million entries, ~15 MB) is read from them at construction, in
//! about 0.3 s. Resident memory grows as the model pages a text touches are read from the
//! binary. lingua's models live in its process-wide cache: restricted detectors cost nothing
//! more. [`LanguageDetector`] is `Send + Sync`: build it once and share it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use lingua::{Language, LanguageDetectorBuilder};
use serde::Serialize;

use crate::trigram_index::{self, TrigramIndex};

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

/// Fewer trigrams than this (about a short sentence; a pair of words has fewer) and the index
/// does not narrow the candidates: lingua scores every language (short text is cheap for it,
/// and a few trigrams are too little evidence to rule languages out).
const MIN_INDEX_TRIGRAMS: usize = 24;

/// The agreement of the index and whatlang answers alone only over at least this many trigrams
/// (about a short sentence); shorter text always goes to lingua.
const MIN_FAST_TRIGRAMS: usize = 24;

/// How many of the index's best languages lingua scores (besides close relatives and
/// whatlang's pick).
const INDEX_CANDIDATES: usize = 3;

/// Bound on the restricted lingua detectors kept (one per distinct candidate set).
const MAX_CACHED_DETECTORS: usize = 4096;

/// Groups of closely related languages, written much alike (same branch and script): within a
/// group neither cheap opinion is trusted, and lingua always weighs the whole group.
const CLOSE_LANGUAGES: &[&[Language]] = &[
    &[Language::Spanish, Language::Portuguese, Language::Catalan],
    &[Language::Italian, Language::Latin],
    &[
        Language::Danish,
        Language::Bokmal,
        Language::Nynorsk,
        Language::Swedish,
    ],
    &[Language::Dutch, Language::Afrikaans],
    &[
        Language::Bosnian,
        Language::Croatian,
        Language::Serbian,
        Language::Slovene,
    ],
    &[Language::Czech, Language::Slovak],
    &[Language::Russian, Language::Ukrainian, Language::Belarusian],
    &[Language::Bulgarian, Language::Macedonian, Language::Serbian],
    &[Language::Indonesian, Language::Malay],
    &[Language::Finnish, Language::Estonian],
    &[Language::Latvian, Language::Lithuanian],
    &[Language::Turkish, Language::Azerbaijani],
    &[Language::Zulu, Language::Xhosa],
    &[Language::Sotho, Language::Tswana],
    &[Language::Hindi, Language::Marathi],
    &[Language::Arabic, Language::Persian, Language::Urdu],
    &[Language::Chinese, Language::Japanese],
];

/// The close relatives of `language` (see [`CLOSE_LANGUAGES`]).
fn relatives(language: Language) -> impl Iterator<Item = Language> {
    CLOSE_LANGUAGES
        .iter()
        .filter(move |group| group.contains(&language))
        .flat_map(|group| group.iter().copied())
        .filter(move |other| *other != language)
}

/// Which stage of the cascade answered (see [`LanguageDetector::detect_with_trace`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectionPath {
    /// No letters: `und` at once.
    NoLetters,
    /// The trigram index and whatlang agreed on a language with no close relative.
    Agreement,
    /// lingua's high-accuracy scoring of this many candidate languages.
    Candidates(usize),
    /// lingua's high-accuracy scoring of every language (short text).
    AllLanguages,
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
    lingua: lingua::LanguageDetector,
    /// whatlang restricted to the languages lingua knows, so its vote always names a candidate.
    whatlang_shared: whatlang::Detector,
    /// whatlang's language → lingua's language.
    from_whatlang: HashMap<whatlang::Lang, Language>,
    /// The lingua languages whatlang has a model of.
    whatlang_languages: HashSet<Language>,
    /// lingua's trigrams of all languages in one table: the cheap first stage.
    index: TrigramIndex,
    /// lingua detectors restricted to a candidate set, built on first use.
    candidate_detectors: RwLock<HashMap<Vec<Language>, Arc<lingua::LanguageDetector>>>,
}

impl Default for LanguageDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl LanguageDetector {
    /// Builds the detector and preloads every lingua model (see the module docs for the cost).
    pub fn new() -> Self {
        let lingua = LanguageDetectorBuilder::from_all_languages()
            .with_preloaded_language_models()
            .build();
        let from_whatlang: HashMap<whatlang::Lang, Language> = whatlang::Lang::all()
            .iter()
            .filter_map(|&lang| lingua_language_of(lang).map(|language| (lang, language)))
            .collect();
        let whatlang_shared =
            whatlang::Detector::with_allowlist(from_whatlang.keys().copied().collect());
        LanguageDetector {
            lingua,
            whatlang_shared,
            whatlang_languages: from_whatlang.values().copied().collect(),
            from_whatlang,
            index: TrigramIndex::build(),
            candidate_detectors: RwLock::new(HashMap::new()),
        }
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
        let letters = sample.chars().filter(|c| c.is_alphabetic()).count();
        if letters == 0 {
            return (Detection::undetermined(""), DetectionPath::NoLetters);
        }
        let script = whatlang::detect_script(sample);
        let script_name = script.as_ref().map_or("", |script| script.name());
        let whatlang_info = self.whatlang_shared.detect(sample);
        let whatlang_pick = whatlang_info
            .as_ref()
            .and_then(|info| self.from_whatlang.get(&info.lang()).copied());

        if script.is_some_and(|script| {
            matches!(
                script,
                whatlang::Script::Mandarin
                    | whatlang::Script::Hiragana
                    | whatlang::Script::Katakana
                    | whatlang::Script::Hangul
            )
        }) {
            // lingua models these by characters, not trigrams: it weighs the three itself.
            let candidates = vec![Language::Chinese, Language::Japanese, Language::Korean];
            let values = match self.candidate_detector(candidates) {
                Some(detector) => detector.compute_language_confidence_values(sample),
                None => self.lingua.compute_language_confidence_values(sample),
            };
            let detection = self.fuse(values, sample, script_name, letters, whatlang_info.as_ref());
            return (detection, DetectionPath::Candidates(3));
        }
        let (ranked, trigrams) = self.index.rank(sample);
        let best = ranked
            .first()
            .filter(|(_, score)| score.is_finite())
            .map(|(index, _)| self.index.language(*index));
        let Some(best) = best.filter(|_| trigrams >= MIN_INDEX_TRIGRAMS) else {
            // Too few trigrams for the index to narrow anything: lingua over every language
            // (cheap on such short text).
            let values = self.lingua.compute_language_confidence_values(sample);
            let detection = self.fuse(values, sample, script_name, letters, whatlang_info.as_ref());
            return (detection, DetectionPath::AllLanguages);
        };

        // Stage 1: two independent cheap opinions agree (lingua's trigrams through the index,
        // whatlang's own profiles) on a language with no close relative, over a sentence's worth
        // of trigrams: that answer stands without lingua's full scoring.
        if trigrams >= MIN_FAST_TRIGRAMS
            && whatlang_pick == Some(best)
            && relatives(best).next().is_none()
        {
            return (
                self.index_detection(&ranked, script_name, letters),
                DetectionPath::Agreement,
            );
        }

        // Stage 2: lingua's high-accuracy scoring, but only of the index's best candidates, the
        // close relatives of its first, and whatlang's pick.
        let mut candidates: Vec<Language> = ranked
            .iter()
            .take(INDEX_CANDIDATES)
            .filter(|(_, score)| score.is_finite())
            .map(|(index, _)| self.index.language(*index))
            .chain(relatives(best))
            .chain(whatlang_pick)
            .collect();
        candidates.sort();
        candidates.dedup();
        let count = candidates.len();
        let values = match self.candidate_detector(candidates) {
            Some(detector) => detector.compute_language_confidence_values(sample),
            None => self.lingua.compute_language_confidence_values(sample),
        };
        let detection = self.fuse(values, sample, script_name, letters, whatlang_info.as_ref());
        (detection, DetectionPath::Candidates(count))
    }

    /// The answer of the trigram index alone: its naive-Bayes posterior over all languages.
    fn index_detection(
        &self,
        ranked: &[trigram_index::Ranked],
        script: &str,
        letters: usize,
    ) -> Detection {
        let top = ranked[0].1;
        let total: f64 = ranked
            .iter()
            .filter(|(_, score)| score.is_finite())
            .map(|(_, score)| (score - top).exp())
            .sum();
        let evidence = evidence_factor(letters);
        let confidence = |score: f64| ((score - top).exp() / total * evidence).clamp(0.0, 1.0);
        let best = self.index.language(ranked[0].0);
        Detection {
            iso639_1: best.iso_code_639_1().to_string(),
            iso639_3: best.iso_code_639_3().to_string(),
            script: script.to_string(),
            confidence: confidence(top),
            alternatives: ranked[1..]
                .iter()
                .take(MAX_ALTERNATIVES)
                .map(|(index, score)| Alternative {
                    iso639_1: self.index.language(*index).iso_code_639_1().to_string(),
                    confidence: confidence(*score),
                })
                .filter(|alternative| alternative.confidence >= MIN_ALTERNATIVE_CONFIDENCE)
                .collect(),
        }
    }

    /// A lingua detector restricted to `candidates` (sorted), built once per set and kept.
    fn candidate_detector(
        &self,
        candidates: Vec<Language>,
    ) -> Option<Arc<lingua::LanguageDetector>> {
        if candidates.len() < 2 {
            // lingua built from one language answers by other rules; score against all.
            return None;
        }
        if let Ok(cache) = self.candidate_detectors.read() {
            if let Some(detector) = cache.get(&candidates) {
                return Some(Arc::clone(detector));
            }
        }
        // No preloading: the full detector has already put every model in lingua's
        // process-wide cache, which this one shares.
        let detector = Arc::new(LanguageDetectorBuilder::from_languages(&candidates).build());
        if let Ok(mut cache) = self.candidate_detectors.write() {
            if cache.len() < MAX_CACHED_DETECTORS {
                cache.insert(candidates, Arc::clone(&detector));
            }
        }
        Some(detector)
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
    fn clear_sentence_is_answered_by_the_cheap_agreement() {
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
            assert_eq!(path, DetectionPath::Agreement, "{text}");
            assert!(detection.confidence > 0.9, "{detection:?}");
        }
    }

    #[test]
    fn close_languages_go_to_lingua_with_their_whole_group() {
        let cases = [
            (
                "El ministro dijo el martes que las negociaciones con el sindicato se reanudarán la próxima semana.",
                "es",
                3,
            ),
            (
                "O ministro disse na terça-feira que as negociações com o sindicato serão retomadas na próxima semana.",
                "pt",
                3,
            ),
            (
                "Ministeren sagde tirsdag, at forhandlingerne med fagforeningen vil blive genoptaget i næste uge.",
                "da",
                4,
            ),
            (
                "Ministeren sa tirsdag at forhandlingene med fagforeningen vil bli gjenopptatt neste uke.",
                "nb",
                4,
            ),
        ];
        for (text, expected, group) in cases {
            let (detection, path) = detector().detect_with_trace(text);
            assert_eq!(detection.iso639_1, expected, "{text}");
            match path {
                DetectionPath::Candidates(count) => assert!(count >= group, "{text}: {path:?}"),
                other => panic!("{text}: expected lingua over candidates, got {other:?}"),
            }
        }
    }

    #[test]
    fn short_text_is_scored_against_every_language() {
        let (_, path) = detector().detect_with_trace("buenos días, señora");
        assert_eq!(path, DetectionPath::AllLanguages);
        let (detection, path) = detector().detect_with_trace("");
        assert_eq!(path, DetectionPath::NoLetters);
        assert!(detection.is_undetermined());
    }

    #[test]
    fn han_and_kana_text_is_told_apart_by_lingua() {
        let (chinese, _) = detector().detect_with_trace("部长周二表示，与工会的谈判将于下周恢复。");
        assert_eq!(chinese.iso639_1, "zh");
        let (japanese, _) =
            detector().detect_with_trace("大臣は火曜日、組合との交渉を来週再開すると述べた。");
        assert_eq!(japanese.iso639_1, "ja");
    }

    #[test]
    fn relatives_are_symmetric_and_exclude_the_language() {
        for group in CLOSE_LANGUAGES {
            for &language in group.iter() {
                let related: Vec<Language> = relatives(language).collect();
                assert!(!related.contains(&language));
                for other in group.iter().filter(|other| **other != language) {
                    assert!(related.contains(other));
                    assert!(relatives(*other).any(|back| back == language));
                }
            }
        }
        assert_eq!(relatives(Language::English).count(), 0);
    }

    #[test]
    fn prefix_respects_char_boundaries() {
        assert_eq!(prefix_on_char_boundary("aé", 2), "a");
        assert_eq!(prefix_on_char_boundary("abc", 10), "abc");
    }
}
