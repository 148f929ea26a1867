//! Summaries: extractive (always available), abstractive where a model is installed, the
//! guard that checks abstractive output against the article, and the stage that chooses.
pub mod abstractive;
pub mod extractive;
pub mod guard;
pub mod pull;
pub mod service;
