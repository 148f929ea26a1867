//! Language code validation: clients may send ISO 639-1 codes or BCP-47 tags; the API works in
//! ISO 639-1 primary languages.

use crate::error::TranslateError;

/// Validates a client's language code or BCP-47 tag and returns its ISO 639-1 code, lowercase.
///
/// `es`, `ES`, `es-ES`, `pt-BR`, `zh-Hant`, `sr-Latn-RS` → their primary subtag. A three-letter
/// primary subtag is accepted when ISO 639-1 has a code for it (`spa` → `es`), because Apertium
/// and some clients speak ISO 639-3.
pub fn normalize_language(code: &str) -> Result<String, TranslateError> {
    let invalid = |reason: &str| TranslateError::InvalidLanguage {
        code: code.to_string(),
        reason: reason.to_string(),
    };
    let trimmed = code.trim();
    if trimmed.is_empty() {
        return Err(invalid(
            "empty; expected an ISO 639-1 code such as \"es\" or a BCP-47 tag such as \"pt-BR\"",
        ));
    }
    // Underscores are a common POSIX-locale habit (pt_BR); BCP-47 spells them with hyphens.
    let tag_text = trimmed.replace('_', "-");
    let tag = oxilangtag::LanguageTag::parse(tag_text.as_str()).map_err(|error| {
        invalid(&format!(
            "not a BCP-47 language tag ({error}); expected e.g. \"es\", \"es-ES\" or \"pt-BR\""
        ))
    })?;
    let primary = tag.primary_language().to_ascii_lowercase();
    iso639_1_of(&primary).ok_or_else(|| {
        invalid(&format!(
            "primary language {primary:?} has no ISO 639-1 code; expected e.g. \"en\", \"es\", \"fr\""
        ))
    })
}

/// Maps an ISO 639-1 or ISO 639-3 code to ISO 639-1, if that language has one.
pub(crate) fn iso639_1_of(code: &str) -> Option<String> {
    let language = match code.len() {
        2 => isolang::Language::from_639_1(code),
        3 => isolang::Language::from_639_3(code),
        _ => None,
    }?;
    language.to_639_1().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_iso_codes_and_bcp47_tags() {
        for (input, expected) in [
            ("es", "es"),
            ("ES", "es"),
            ("es-ES", "es"),
            ("pt-BR", "pt"),
            ("pt_BR", "pt"),
            ("zh-Hant", "zh"),
            ("sr-Latn-RS", "sr"),
            (" en ", "en"),
            ("spa", "es"),
        ] {
            assert_eq!(
                normalize_language(input).as_deref(),
                Ok(expected),
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_garbage_with_a_reason() {
        for input in [
            "",
            "  ",
            "x",
            "qq",
            "english",
            "e$",
            "12",
            "x-private",
            "es--ES",
            "tlh",
        ] {
            match normalize_language(input) {
                Err(TranslateError::InvalidLanguage { code, reason }) => {
                    assert_eq!(code, input);
                    assert!(!reason.is_empty());
                }
                other => panic!("{input:?} should be rejected, got {other:?}"),
            }
        }
    }
}
