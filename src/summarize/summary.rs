//! What a summary is: its sentences with spans and evidence, how it was made, and what a
//! deployment's summarizers are. The summarize service makes these; the gRPC layer maps them.
use precis_text::ByteSpan;
use serde::Serialize;

use super::extractive::Ranking;
use super::guard::{Evidence, GuardReport};

#[derive(Debug, Clone, Serialize)]
pub struct SummarySentence {
    pub text: String,
    /// `Article` sentences: their exact span in the article. `Generated` sentences: their span
    /// in `Summary::text` (they are not in the article; `evidence` links them to it).
    pub span: ByteSpan,
    /// Extractive: the ranking score in [0, 1]. Abstractive: the similarity of the best evidence.
    pub score: f32,
    pub origin: SentenceOrigin,
    /// The article sentences that support this one, best first. An extractive sentence is its
    /// own evidence (similarity 1).
    pub evidence: Vec<Evidence>,
}

/// Where a summary sentence comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SentenceOrigin {
    /// Copied from the article.
    Article,
    /// Written by an abstractive model.
    Generated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SummaryMethod {
    Extractive,
    Abstractive,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub text: String,
    pub sentences: Vec<SummarySentence>,
    pub method: SummaryMethod,
    /// Extractive: what ranked the sentences. Abstractive: what linked them to their evidence.
    pub ranking: Ranking,
    /// The model or algorithm that ranked or wrote the summary.
    pub engine: String,
    /// Present when an abstractive summary was written: what the faithfulness guard found and
    /// did. With `method` extractive, the guard rejected the abstractive summary (the report
    /// says why) and this extractive summary replaced it.
    pub guard: Option<GuardReport>,
    /// Model inputs the article was split into for the abstractive summary; 0 when none ran.
    pub chunks: usize,
}

/// One summarizer this deployment runs, for capabilities.
#[derive(Debug, Clone, Serialize)]
pub struct SummarizerInfo {
    /// ISO 639-1 code, or `*` for any language.
    pub language: String,
    pub method: SummaryMethod,
    pub ranking: Ranking,
    pub engine: String,
}
