//! A translation direction: the one type the engines, the router and the errors all name.

use std::fmt;

use serde::Serialize;

/// A translation direction, both sides ISO 639-1 (`en`, `es`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct LanguagePair {
    pub source: String,
    pub target: String,
}

impl LanguagePair {
    pub fn new(source: impl Into<String>, target: impl Into<String>) -> Self {
        LanguagePair {
            source: source.into(),
            target: target.into(),
        }
    }
}

impl fmt::Display for LanguagePair {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}→{}", self.source, self.target)
    }
}
