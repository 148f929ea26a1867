//! A cheap quality signal for one translation: what the engines did not know, what was left in
//! the source language, whether the output reads as the target language, and how long the route
//! was, combined into one score in [0, 1].
//!
//! The score, documented once here (the proto and README point to it):
//!
//! ```text
//! coverage = 1 − min(1, 3 × unknown_word_share)     words the engines marked unknown
//! fidelity = 1 − min(1, 3 × source_word_share)      words copied from the original
//! language = confidence when precis detects the target language, 0 when it detects another,
//!            left out when the target is not a language precis detects or the text is too short
//! base     = (0.4 × coverage + 0.3 × fidelity + 0.3 × language) / (sum of the weights present)
//! score    = base × (1 − 0.1 × (route_hops − 1))    one pivot costs a tenth, two pivots a fifth
//! ```
//!
//! The same language in and out (no engine) scores 1. A third of the words unknown, or copied
//! from the original, takes that part to 0.

use std::collections::HashSet;

use serde::Serialize;

/// What precis's language detector says about a translation; computed by the caller, so this
/// crate stays free of the detector.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputDetection {
    /// ISO 639-1, or `und` when the text is too short or ambiguous.
    pub language: String,
    /// In [0, 1].
    pub confidence: f64,
}

/// Everything the score is made of, for one translated text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualityInputs<'a> {
    pub original: &'a str,
    pub translated: &'a str,
    /// Words some hop's engine marked as unknown (left as they were).
    pub unknown_words: &'a [String],
    /// Names and numbers kept out of the engine: never counted as left untranslated.
    pub protected_terms: &'a [String],
    pub target_language: &'a str,
    /// Engines along the route; 0 for the identity route.
    pub route_hops: usize,
    /// The detector's answer on `translated`; `None` when the target language is not one the
    /// detector knows (then the language part is left out).
    pub detection: Option<OutputDetection>,
}

/// The score and its parts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TranslationQuality {
    /// In [0, 1]; see the module documentation.
    pub score: f32,
    /// Share of the output's words that an engine did not know.
    pub unknown_word_share: f32,
    /// Share of the output's words copied unchanged from the original (lowercase words of four
    /// letters or more, names and unknown words excluded).
    pub source_word_share: f32,
    /// Those copied words.
    pub source_words_left: Vec<String>,
    /// The words some engine marked unknown.
    pub unknown_words: Vec<String>,
    /// What precis detects the output as (`und` when undetermined); `None` when the target
    /// language is not one precis detects.
    pub detected_language: Option<String>,
    /// The detector's confidence in `detected_language`; 0 when there is none.
    pub detection_confidence: f32,
    /// Whether precis detects the output as the target language; `None` when it cannot tell
    /// (target not detectable, or text too short).
    pub detected_as_target: Option<bool>,
    pub route_hops: u32,
}

const UNKNOWN_PENALTY: f32 = 3.0;
const SOURCE_WORD_PENALTY: f32 = 3.0;
const COVERAGE_WEIGHT: f32 = 0.4;
const FIDELITY_WEIGHT: f32 = 0.3;
const LANGUAGE_WEIGHT: f32 = 0.3;
const PIVOT_DISCOUNT: f32 = 0.1;
/// Shorter lowercase words are too often spelled alike across languages (`de`, `la`, `plan`).
const MIN_COPIED_WORD_CHARS: usize = 4;

/// Scores one translation; see the module documentation for the formula.
pub fn assess_quality(inputs: &QualityInputs<'_>) -> TranslationQuality {
    let route_hops = u32::try_from(inputs.route_hops).unwrap_or(u32::MAX);
    if inputs.route_hops == 0 {
        return TranslationQuality {
            score: 1.0,
            unknown_word_share: 0.0,
            source_word_share: 0.0,
            source_words_left: Vec::new(),
            unknown_words: Vec::new(),
            detected_language: inputs.detection.as_ref().map(|d| d.language.clone()),
            detection_confidence: inputs
                .detection
                .as_ref()
                .map_or(0.0, |d| d.confidence as f32),
            detected_as_target: None,
            route_hops,
        };
    }
    let unknown: HashSet<String> = inputs
        .unknown_words
        .iter()
        .flat_map(|word| words(word))
        .map(str::to_lowercase)
        .collect();
    let protected: HashSet<String> = inputs
        .protected_terms
        .iter()
        .flat_map(|term| words(term))
        .map(str::to_lowercase)
        .collect();
    let original_words: HashSet<String> = words(inputs.original).map(str::to_lowercase).collect();

    let output_words: Vec<&str> = words(inputs.translated)
        .filter(|word| word.chars().any(char::is_alphabetic))
        .collect();
    let total = output_words.len().max(1) as f32;
    let mut unknown_count = 0usize;
    let mut source_words_left: Vec<String> = Vec::new();
    let mut source_count = 0usize;
    for word in &output_words {
        let lower = word.to_lowercase();
        if unknown.contains(&lower) {
            unknown_count += 1;
            continue;
        }
        let copied = word.chars().count() >= MIN_COPIED_WORD_CHARS
            && word.chars().next().is_some_and(char::is_lowercase)
            && word.chars().all(char::is_alphabetic)
            && !protected.contains(&lower)
            && original_words.contains(&lower);
        if copied {
            source_count += 1;
            if !source_words_left.contains(&lower) {
                source_words_left.push(lower);
            }
        }
    }
    let unknown_word_share = unknown_count as f32 / total;
    let source_word_share = source_count as f32 / total;

    let coverage = 1.0 - (UNKNOWN_PENALTY * unknown_word_share).min(1.0);
    let fidelity = 1.0 - (SOURCE_WORD_PENALTY * source_word_share).min(1.0);
    let mut weighted = COVERAGE_WEIGHT * coverage + FIDELITY_WEIGHT * fidelity;
    let mut weights = COVERAGE_WEIGHT + FIDELITY_WEIGHT;
    let detected_as_target = inputs
        .detection
        .as_ref()
        .filter(|detection| detection.language != "und")
        .map(|detection| detection.language == inputs.target_language);
    if let (Some(agrees), Some(detection)) = (detected_as_target, &inputs.detection) {
        let language = if agrees {
            detection.confidence.clamp(0.0, 1.0) as f32
        } else {
            0.0
        };
        weighted += LANGUAGE_WEIGHT * language;
        weights += LANGUAGE_WEIGHT;
    }
    let route_factor = 1.0 - PIVOT_DISCOUNT * (route_hops.saturating_sub(1)) as f32;
    let score = (weighted / weights * route_factor).clamp(0.0, 1.0);
    TranslationQuality {
        score,
        unknown_word_share,
        source_word_share,
        source_words_left,
        unknown_words: inputs.unknown_words.to_vec(),
        detected_language: inputs.detection.as_ref().map(|d| d.language.clone()),
        detection_confidence: inputs
            .detection
            .as_ref()
            .map_or(0.0, |d| d.confidence.clamp(0.0, 1.0) as f32),
        detected_as_target,
        route_hops,
    }
}

/// Runs of letters and digits.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs<'a>(
        original: &'a str,
        translated: &'a str,
        unknown_words: &'a [String],
        detection: Option<OutputDetection>,
    ) -> QualityInputs<'a> {
        QualityInputs {
            original,
            translated,
            unknown_words,
            protected_terms: &[],
            target_language: "fr",
            route_hops: 1,
            detection,
        }
    }

    fn french(confidence: f64) -> Option<OutputDetection> {
        Some(OutputDetection {
            language: "fr".into(),
            confidence,
        })
    }

    #[test]
    fn a_clean_direct_translation_detected_as_the_target_scores_its_confidence_weight() {
        let quality = assess_quality(&inputs(
            "The minister refused to answer.",
            "Le ministre a refusé de répondre.",
            &[],
            french(0.9),
        ));
        assert_eq!(quality.unknown_word_share, 0.0);
        assert_eq!(quality.source_word_share, 0.0);
        assert_eq!(quality.detected_as_target, Some(true));
        assert!((quality.score - (0.4 + 0.3 + 0.3 * 0.9)).abs() < 1e-6);
    }

    #[test]
    fn unknown_and_copied_words_and_another_language_lower_the_score() {
        let unknown = vec!["rehusado".to_string()];
        let quality = assess_quality(&inputs(
            "The minister refused the military offer.",
            "Le ministre a rehusado la offer militaire.",
            &unknown,
            Some(OutputDetection {
                language: "es".into(),
                confidence: 0.7,
            }),
        ));
        // 7 words: one unknown, one copied from the original ("offer").
        assert!((quality.unknown_word_share - 1.0 / 7.0).abs() < 1e-6);
        assert_eq!(quality.source_words_left, vec!["offer"]);
        assert_eq!(quality.detected_as_target, Some(false));
        let expected = 0.4 * (1.0 - 3.0 / 7.0) + 0.3 * (1.0 - 3.0 / 7.0);
        assert!((quality.score - expected).abs() < 1e-6, "{quality:?}");
    }

    #[test]
    fn names_are_not_words_left_untranslated() {
        let protected = vec!["Psaki".to_string(), "psaki".to_string()];
        let quality = assess_quality(&QualityInputs {
            protected_terms: &protected,
            ..inputs("psaki said it.", "psaki l'a dit.", &[], None)
        });
        assert!(quality.source_words_left.is_empty(), "{quality:?}");
    }

    #[test]
    fn pivots_discount_and_an_undetectable_target_leaves_the_language_part_out() {
        let one_hop = assess_quality(&inputs("a b", "c d", &[], None));
        assert_eq!(one_hop.detected_as_target, None);
        assert!((one_hop.score - 1.0).abs() < 1e-6);
        let two_pivots = assess_quality(&QualityInputs {
            route_hops: 3,
            ..inputs("a b", "c d", &[], None)
        });
        assert!((two_pivots.score - 0.8).abs() < 1e-6);
        let identity = assess_quality(&QualityInputs {
            route_hops: 0,
            ..inputs("a b", "a b", &[], None)
        });
        assert_eq!(identity.score, 1.0);
    }
}
