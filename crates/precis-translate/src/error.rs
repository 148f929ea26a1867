//! The one error type of the crate.

use serde::Serialize;

use crate::pair::LanguagePair;

/// Why a translation could not be done. Each variant maps to one gRPC status in the service:
/// `DeadlineExceeded` → DEADLINE_EXCEEDED, `EngineFailure` and `EngineTimedOut` → INTERNAL,
/// `UnsupportedPair` → FAILED_PRECONDITION, `InvalidLanguage` → INVALID_ARGUMENT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TranslateError {
    #[error("translation deadline exceeded")]
    DeadlineExceeded,

    #[error("translation engine {engine} failed: {detail}")]
    EngineFailure { engine: String, detail: String },

    /// The engine gave no answer within its own batch time limit, while the caller's deadline
    /// had not passed: a stuck engine, not a late caller.
    #[error(
        "translation engine {engine} gave no answer within {:.1} s (a stuck pipeline is killed and restarted)",
        *.waited_ms as f64 / 1000.0
    )]
    EngineTimedOut { engine: String, waited_ms: u64 },

    #[error(
        "no translation route from {source_language} to {target_language}; available pairs: {}",
        format_pairs(.available)
    )]
    UnsupportedPair {
        source_language: String,
        target_language: String,
        available: Vec<LanguagePair>,
    },

    #[error("invalid language code {code:?}: {reason}")]
    InvalidLanguage { code: String, reason: String },
}

impl TranslateError {
    pub(crate) fn engine_failure(engine: &str, detail: impl Into<String>) -> Self {
        TranslateError::EngineFailure {
            engine: engine.to_string(),
            detail: detail.into(),
        }
    }
}

fn format_pairs(pairs: &[LanguagePair]) -> String {
    if pairs.is_empty() {
        return "none (no translation engine is installed)".to_string();
    }
    pairs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
