//! The engine contract every translator implements, neural or rule-based.

use std::time::Instant;

use serde::Serialize;

use crate::error::TranslateError;
use crate::pair::LanguagePair;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineKind {
    Neural,
    RuleBased,
}

/// What an engine is, shown to clients so they know which engine served a pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineInfo {
    /// Stable identifier such as `apertium/eng-spa` or `marian/opus-mt-en-es`.
    pub id: String,
    pub kind: EngineKind,
    pub pair: LanguagePair,
}

/// One translated text with what the engine could not translate.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct EngineOutput {
    pub text: String,
    /// Words the engine left untranslated because it does not know them (marker removed).
    pub unknown_words: Vec<String>,
}

/// A translation engine for one language pair.
///
/// Blocking: callers run it off the async runtime. `texts` is one batch: engines should translate
/// it in one pass (one model call, one pipeline round) and return exactly one output per input,
/// in order.
///
/// Protected terms arrive as placeholders, see [`placeholder`]; an engine must return every
/// placeholder it received unchanged (it may move it within the sentence).
pub trait Translator: Send + Sync {
    fn info(&self) -> &EngineInfo;

    fn translate_batch(
        &self,
        texts: &[String],
        deadline: Option<Instant>,
    ) -> Result<Vec<String>, TranslateError>;

    /// Like [`Translator::translate_batch`], also reporting unknown words. Engines that know which
    /// words they could not translate override this.
    fn translate_batch_annotated(
        &self,
        texts: &[String],
        deadline: Option<Instant>,
    ) -> Result<Vec<EngineOutput>, TranslateError> {
        let translated = self.translate_batch(texts, deadline)?;
        Ok(translated
            .into_iter()
            .map(|text| EngineOutput {
                text,
                unknown_words: Vec::new(),
            })
            .collect())
    }
}

/// What a protected term is, so an engine can keep the sentence grammatical around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaceholderKind {
    /// A name or other proper noun.
    Name,
    /// A number (digits, decimal and thousands separators, a percent sign).
    Number,
}

impl PlaceholderKind {
    fn letter(self) -> char {
        match self {
            PlaceholderKind::Name => 'T',
            PlaceholderKind::Number => 'N',
        }
    }
}

/// Opening and closing marks of a placeholder: mathematical white square brackets, which news text
/// practically never contains, so a placeholder cannot be confused with the article's own text.
pub const PLACEHOLDER_OPEN: char = '⟦';
pub const PLACEHOLDER_CLOSE: char = '⟧';

/// The placeholder for protected term number `index`: `⟦T3⟧` for a name, `⟦N3⟧` for a number.
pub fn placeholder(kind: PlaceholderKind, index: usize) -> String {
    format!(
        "{PLACEHOLDER_OPEN}{}{index}{PLACEHOLDER_CLOSE}",
        kind.letter()
    )
}

/// Parses the inside of a placeholder (`T3`, `N12`) into its kind and index.
pub fn parse_placeholder_body(body: &str) -> Option<(PlaceholderKind, usize)> {
    let mut chars = body.chars();
    let kind = match chars.next()? {
        'T' => PlaceholderKind::Name,
        'N' => PlaceholderKind::Number,
        _ => return None,
    };
    let digits = chars.as_str();
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    Some((kind, digits.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_round_trips() {
        let text = placeholder(PlaceholderKind::Number, 12);
        assert_eq!(text, "⟦N12⟧");
        let body = text
            .trim_start_matches(PLACEHOLDER_OPEN)
            .trim_end_matches(PLACEHOLDER_CLOSE);
        assert_eq!(
            parse_placeholder_body(body),
            Some((PlaceholderKind::Number, 12))
        );
        assert_eq!(parse_placeholder_body("X1"), None);
        assert_eq!(parse_placeholder_body("T"), None);
        assert_eq!(parse_placeholder_body("T1a"), None);
    }
}
