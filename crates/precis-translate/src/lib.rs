//! Translation plumbing that knows nothing of neural models or protobuf.
//!
//! - [`Translator`]: the blocking engine contract; neural engines live in the root crate.
//! - [`Router`]: a route graph over every engine, the cheapest route per pair (direct neural,
//!   direct rule-based, one pivot, two pivots), preferring English and Spanish as pivots.
//! - [`assess_quality`]: a cheap score in [0, 1] for one translation, with its parts.
//! - [`translate_article`]: quotes and summary in one batch, originals kept, names and numbers
//!   protected and checked.
//! - [`apertium`]: the rule-based engine, one null-flush pipeline per installed pair.

pub mod apertium;
mod engine;
mod error;
mod faithful;
mod language;
mod pair;
mod protect;
mod quality;
mod router;
pub mod segment;

pub use engine::{
    parse_placeholder_body, placeholder, EngineInfo, EngineKind, EngineOutput, PlaceholderKind,
    Translator, PLACEHOLDER_CLOSE, PLACEHOLDER_OPEN,
};
pub use error::TranslateError;
pub use faithful::{
    translate_article, translate_faithfully, ArticleTranslation, FaithfulOptions,
    FaithfulTranslation, QuoteToTranslate,
};
pub use language::normalize_language;
pub use pair::LanguagePair;
pub use protect::{
    mask_terms, unmask_terms, MaskedText, ProtectedTerm, ProtectionOptions, UnmaskedText,
};
pub use quality::{assess_quality, OutputDetection, QualityInputs, TranslationQuality};
pub use router::{
    Hop, PairCapability, ReachCounts, ReachablePair, Route, RouteKind, RoutePlan, Router,
    DEFAULT_PIVOTS, HOP_COST, QUALITY_EXTRA_MAX, RULE_BASED_EXTRA,
};
