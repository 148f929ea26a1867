//! Language detection: whatlang and lingua combined.
//!
//! How the two are combined, and why:
//! - lingua (high-accuracy mode, all 75 languages, models preloaded) gives a probability for each
//!   candidate language; it already narrows candidates by script and by characters unique to a
//!   language, and is the more accurate of the two on short text.
//! - whatlang gives the script (reliably, for every script) and an independent trigram opinion
//!   with its own confidence. Its pick multiplies lingua's probability of that language by
//!   `1 + whatlang_confidence`: a product of two experts, so whatlang can settle a near tie of
//!   lingua's but cannot overturn a clear lingua answer. It votes only when it has a model of
//!   both of lingua's two best candidates (whatlang lacks 17 of lingua's 75 languages, and
//!   would otherwise push Bosnian text towards Croatian, Nynorsk towards Bokmål, …).
//! - Scripts lingua does not know (Ethiopic, Kannada, …) are answered by whatlang alone.
//! - Confidence is the fused probability scaled by how much evidence the text holds (letters
//!   seen), so two letters never give a confident answer; under [`MIN_LETTERS`] letters the
//!   answer is `und` unless the script belongs to one language only.
//!
//! Cost: lingua's models are finite-state maps compiled into the binary (about 270 MB of the
//! binary; nothing is downloaded). "Preloading" them at construction builds zero-copy views
//! over those bytes, so [`LanguageDetector::new`] takes milliseconds; resident memory then grows
//! as the model pages a text touches are read from the binary, up to about 240 MB over the
//! baseline once all 75 languages have been seen (VmHWM measured by `bench_langid`). The models
//! live in lingua's process-wide cache: a second detector costs nothing more.
//! [`LanguageDetector`] is `Send + Sync`: build it once and share it.

use std::collections::{HashMap, HashSet};

use lingua::{Language, LanguageDetectorBuilder};
use serde::Serialize;

/// Code given when the language cannot be told.
pub const UNDETERMINED: &str = "und";

/// Fewer letters than this give `und`, except in a script used by one language only.
pub const MIN_LETTERS: usize = 3;

/// Only this many bytes from the start of a text are examined: language is a property of the
/// whole text and a few kilobytes settle it, so a 10 MB article costs no more than a short one.
pub const MAX_SAMPLE_BYTES: usize = 2048;

/// How many alternatives a [`Detection`] lists besides its answer.
const MAX_ALTERNATIVES: usize = 3;

/// Letters after which the evidence factor of the confidence reaches about 63%
/// (`1 - e^-1`); about 95% at three times that.
const EVIDENCE_SCALE_LETTERS: f64 = 8.0;

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
        let sample = prefix_on_char_boundary(text, MAX_SAMPLE_BYTES);
        let letters = sample.chars().filter(|c| c.is_alphabetic()).count();
        if letters == 0 {
            return Detection::undetermined("");
        }
        let script = whatlang::detect_script(sample);
        let script_name = script.as_ref().map_or("", |script| script.name());

        let mut fused: Vec<(Language, f64)> = self
            .lingua
            .compute_language_confidence_values(sample)
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
            if let Some(info) = self.whatlang_shared.detect(sample) {
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
    fn prefix_respects_char_boundaries() {
        assert_eq!(prefix_on_char_boundary("aé", 2), "a");
        assert_eq!(prefix_on_char_boundary("abc", 10), "abc");
    }
}
