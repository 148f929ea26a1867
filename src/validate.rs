//! The one validation step. Every request, from gRPC or the CLI, becomes a typed valid value here
//! before any work is queued: the pipeline and the services accept nothing else. Every rule
//! lives here once, and every message names the field and the limit.
use precis_translate::normalize_language;
use serde::Serialize;

use crate::error::PrecisError;
use crate::summarize::SummaryLength;

/// Limits applied before any work is queued.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_article_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_article_bytes: 256 * 1024,
        }
    }
}

/// A language code as a client sent it, parsed once: its ISO 639-1 code (BCP-47 tags such as
/// `pt-BR` give their primary subtag).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct LanguageCode(String);

impl LanguageCode {
    /// Parses `code` for the request field `field`; a malformed code is INVALID_ARGUMENT naming it.
    pub fn parse(field: &'static str, code: &str) -> Result<Self, PrecisError> {
        normalize_language(code)
            .map(Self)
            .map_err(|error| PrecisError::invalid(field, error.to_string()))
    }

    /// An optional field: empty or blank means "not given".
    fn optional(field: &'static str, code: &str) -> Result<Option<Self>, PrecisError> {
        if code.trim().is_empty() {
            Ok(None)
        } else {
            Self::parse(field, code).map(Some)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for LanguageCode {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// An article that passed validation: UTF-8, non-empty, within the size limit.
#[derive(Debug, Clone)]
pub struct ValidArticle {
    text: String,
}

impl ValidArticle {
    pub fn new(text: String, limits: &Limits) -> Result<Self, PrecisError> {
        Self::checked("text", text, limits)
    }

    fn checked(field: &'static str, text: String, limits: &Limits) -> Result<Self, PrecisError> {
        if text.len() > limits.max_article_bytes {
            return Err(PrecisError::invalid(
                field,
                format!(
                    "the article is {} bytes; the limit is {} bytes (UTF-8)",
                    text.len(),
                    limits.max_article_bytes
                ),
            ));
        }
        if text.trim().is_empty() {
            return Err(PrecisError::invalid(
                field,
                "the article is empty or only whitespace",
            ));
        }
        Ok(Self { text })
    }

    /// Reads raw bytes (a file, stdin): refuses invalid UTF-8 and names the first bad byte.
    pub fn from_bytes(bytes: Vec<u8>, limits: &Limits) -> Result<Self, PrecisError> {
        let text = String::from_utf8(bytes).map_err(|error| {
            PrecisError::invalid(
                "text",
                format!(
                    "the article is not valid UTF-8 (first invalid byte at offset {}); convert it to UTF-8 first",
                    error.utf8_error().valid_up_to()
                ),
            )
        })?;
        Self::new(text, limits)
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

/// A Digest as the client sent it, before validation. The gRPC layer and the CLI fill it.
#[derive(Debug, Clone, Default)]
pub struct DigestInput {
    pub text: String,
    pub language_hint: String,
    pub target_language: String,
    pub summary_length: Option<SummaryLength>,
    pub max_quotes: u32,
    pub skip_summary: bool,
    pub skip_quotes: bool,
    pub skip_translation: bool,
    /// 0: keep every translation.
    pub min_translation_quality: f32,
}

/// What the caller wants from a digest, every field checked.
#[derive(Debug, Clone, Default)]
pub struct DigestOptions {
    pub summary_length: SummaryLength,
    /// At most this many key quotes, by salience; 0 means all.
    pub max_quotes: usize,
    pub skip_summary: bool,
    pub skip_quotes: bool,
    /// Translate the summary and quotes into this language.
    pub target_language: Option<LanguageCode>,
    /// The client's idea of the article's language. Informational: detection always runs.
    pub language_hint: Option<LanguageCode>,
    /// Quotes whose translation scores below this stay untranslated (with a warning).
    pub min_translation_quality: Option<f32>,
}

/// A digest request that passed validation; only [`validate_digest`] and its siblings make one.
#[derive(Debug, Clone)]
pub struct ValidDigest {
    article: ValidArticle,
    options: DigestOptions,
}

impl ValidDigest {
    pub fn article(&self) -> &ValidArticle {
        &self.article
    }

    pub fn options(&self) -> &DigestOptions {
        &self.options
    }
}

/// Checks a whole Digest request.
pub fn validate_digest(input: DigestInput, limits: &Limits) -> Result<ValidDigest, PrecisError> {
    let options = DigestOptions {
        summary_length: validate_summary_length(input.summary_length)?,
        max_quotes: input.max_quotes as usize,
        skip_summary: input.skip_summary,
        skip_quotes: input.skip_quotes,
        // Checked even when skip_translation is set, so a malformed code is never accepted.
        target_language: LanguageCode::optional("target_language", &input.target_language)?
            .filter(|_| !input.skip_translation),
        language_hint: LanguageCode::optional("language_hint", &input.language_hint)?,
        min_translation_quality: validate_min_quality(input.min_translation_quality)?,
    };
    Ok(ValidDigest {
        article: ValidArticle::new(input.text, limits)?,
        options,
    })
}

/// A minimum translation score: in [0, 1]; 0 means none.
fn validate_min_quality(minimum: f32) -> Result<Option<f32>, PrecisError> {
    if !minimum.is_finite() || !(0.0..=1.0).contains(&minimum) {
        return Err(PrecisError::invalid(
            "min_translation_quality",
            format!("{minimum} is not a score: give a number from 0 (keep every translation) to 1"),
        ));
    }
    Ok(Some(minimum).filter(|minimum| *minimum > 0.0))
}

/// ExtractQuotes: a digest without the summary.
pub fn validate_quotes(
    text: String,
    max_quotes: u32,
    limits: &Limits,
) -> Result<ValidDigest, PrecisError> {
    validate_digest(
        DigestInput {
            text,
            max_quotes,
            skip_summary: true,
            ..DigestInput::default()
        },
        limits,
    )
}

/// Summarize: a digest without the quotes.
pub fn validate_summary(
    text: String,
    summary_length: Option<SummaryLength>,
    limits: &Limits,
) -> Result<ValidDigest, PrecisError> {
    validate_digest(
        DigestInput {
            text,
            summary_length,
            skip_quotes: true,
            ..DigestInput::default()
        },
        limits,
    )
}

/// Unset means the default length; zero counts and ratios outside (0, 1] are refused.
fn validate_summary_length(length: Option<SummaryLength>) -> Result<SummaryLength, PrecisError> {
    match length {
        None => Ok(SummaryLength::default()),
        Some(SummaryLength::Sentences(0) | SummaryLength::Words(0)) => Err(PrecisError::invalid(
            "summary_length",
            "sentences and words must be at least 1",
        )),
        Some(SummaryLength::Ratio(ratio)) if !(ratio > 0.0 && ratio <= 1.0) => Err(
            PrecisError::invalid("summary_length.ratio", format!("{ratio} is outside (0, 1]")),
        ),
        Some(length) => Ok(length),
    }
}

/// A Translate request as the client sent it.
#[derive(Debug, Clone, Default)]
pub struct TranslateInput {
    pub texts: Vec<String>,
    /// Empty: detected from the texts.
    pub source_language: String,
    pub target_language: String,
}

/// A Translate request that passed validation.
#[derive(Debug, Clone)]
pub struct ValidTranslate {
    texts: Vec<String>,
    source_language: Option<LanguageCode>,
    target_language: LanguageCode,
}

impl ValidTranslate {
    pub fn texts(&self) -> &[String] {
        &self.texts
    }

    pub fn into_texts(self) -> Vec<String> {
        self.texts
    }

    pub fn source_language(&self) -> Option<&LanguageCode> {
        self.source_language.as_ref()
    }

    pub fn target_language(&self) -> &LanguageCode {
        &self.target_language
    }
}

/// At least one text, all of them within the article limit together, both codes well formed
/// (the target is required).
pub fn validate_translate(
    input: TranslateInput,
    limits: &Limits,
) -> Result<ValidTranslate, PrecisError> {
    if input.texts.is_empty() {
        return Err(PrecisError::invalid("texts", "give at least one text"));
    }
    let total_bytes: usize = input.texts.iter().map(String::len).sum();
    if total_bytes > limits.max_article_bytes {
        return Err(PrecisError::invalid(
            "texts",
            format!(
                "the texts are {total_bytes} bytes together; the limit is {} bytes (UTF-8)",
                limits.max_article_bytes
            ),
        ));
    }
    Ok(ValidTranslate {
        target_language: LanguageCode::parse("target_language", &input.target_language)?,
        source_language: LanguageCode::optional("source_language", &input.source_language)?,
        texts: input.texts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(error: PrecisError) -> &'static str {
        match error {
            PrecisError::InvalidArgument { field, .. } => field,
            other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
        }
    }

    #[test]
    fn articles_name_the_field_and_the_limit() {
        let limits = Limits {
            max_article_bytes: 10,
        };
        let error = ValidArticle::new("x".repeat(11), &limits).unwrap_err();
        assert!(error.to_string().contains("limit is 10 bytes"), "{error}");
        let error = ValidArticle::new(" \n\t".into(), &limits).unwrap_err();
        assert!(error.to_string().contains("empty"), "{error}");
        let error = ValidArticle::from_bytes(vec![b'a', 0xff, b'b'], &limits).unwrap_err();
        assert!(error.to_string().contains("offset 1"), "{error}");
        assert!(ValidArticle::new("Hello.".into(), &limits).is_ok());
    }

    #[test]
    fn a_minimum_translation_quality_is_a_score_or_nothing() {
        let digest = |minimum: f32| {
            validate_digest(
                DigestInput {
                    text: "Hello.".into(),
                    min_translation_quality: minimum,
                    ..DigestInput::default()
                },
                &Limits::default(),
            )
        };
        assert_eq!(digest(0.0).unwrap().options().min_translation_quality, None);
        assert_eq!(
            digest(0.5).unwrap().options().min_translation_quality,
            Some(0.5)
        );
        for bad in [-0.1, 1.5, f32::NAN, f32::INFINITY] {
            let error = digest(bad).unwrap_err();
            assert!(error.to_string().contains("from 0"), "{error}");
            assert_eq!(field_of(error), "min_translation_quality");
        }
    }

    #[test]
    fn every_language_field_goes_through_one_parser() {
        let limits = Limits::default();
        let digest = |hint: &str, target: &str| {
            validate_digest(
                DigestInput {
                    text: "Hello.".into(),
                    language_hint: hint.into(),
                    target_language: target.into(),
                    ..DigestInput::default()
                },
                &limits,
            )
        };
        assert_eq!(field_of(digest("xx", "").unwrap_err()), "language_hint");
        assert_eq!(field_of(digest("", "xx").unwrap_err()), "target_language");
        let valid = digest("pt-BR", "ES").unwrap();
        assert_eq!(
            valid.options().language_hint.as_ref().unwrap().as_str(),
            "pt"
        );
        assert_eq!(
            valid.options().target_language.as_ref().unwrap().as_str(),
            "es"
        );
        let translate = |source: &str, target: &str| {
            validate_translate(
                TranslateInput {
                    texts: vec!["Hello.".into()],
                    source_language: source.into(),
                    target_language: target.into(),
                },
                &limits,
            )
        };
        assert_eq!(
            field_of(translate("xx", "es").unwrap_err()),
            "source_language"
        );
        assert_eq!(
            field_of(translate("en", "").unwrap_err()),
            "target_language"
        );
        assert_eq!(translate("", "es").unwrap().source_language(), None);
    }

    #[test]
    fn a_skipped_translation_still_checks_its_code() {
        let input = DigestInput {
            text: "Hello.".into(),
            target_language: "es".into(),
            skip_translation: true,
            ..DigestInput::default()
        };
        let valid = validate_digest(input.clone(), &Limits::default()).unwrap();
        assert_eq!(valid.options().target_language, None);
        let malformed = DigestInput {
            target_language: "not a code".into(),
            ..input
        };
        assert!(validate_digest(malformed, &Limits::default()).is_err());
    }

    #[test]
    fn summary_lengths_refuse_zero_and_ratios_outside_the_unit_interval() {
        assert_eq!(
            validate_summary_length(None).unwrap(),
            SummaryLength::Sentences(3)
        );
        assert_eq!(
            field_of(validate_summary_length(Some(SummaryLength::Words(0))).unwrap_err()),
            "summary_length"
        );
        for ratio in [0.0, -0.5, 1.5, f32::NAN] {
            let error = validate_summary_length(Some(SummaryLength::Ratio(ratio))).unwrap_err();
            assert_eq!(field_of(error), "summary_length.ratio", "{ratio}");
        }
        assert_eq!(
            validate_summary_length(Some(SummaryLength::Ratio(1.0))).unwrap(),
            SummaryLength::Ratio(1.0)
        );
    }

    #[test]
    fn translate_batches_need_a_text_and_stay_within_the_limit() {
        let limits = Limits {
            max_article_bytes: 8,
        };
        let input = |texts: Vec<&str>| TranslateInput {
            texts: texts.into_iter().map(String::from).collect(),
            source_language: String::new(),
            target_language: "es".into(),
        };
        assert_eq!(
            field_of(validate_translate(input(vec![]), &limits).unwrap_err()),
            "texts"
        );
        let error = validate_translate(input(vec!["12345", "6789"]), &limits).unwrap_err();
        assert!(error.to_string().contains("9 bytes together"), "{error}");
        assert!(validate_translate(input(vec!["1234", "5678"]), &limits).is_ok());
    }
}
