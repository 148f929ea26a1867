//! Summaries: extractive (always available) and, later, abstractive where a model is installed.
pub mod extractive;
