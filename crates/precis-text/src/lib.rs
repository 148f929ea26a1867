//! Model-free text analysis: language detection, segmentation with offsets, direct quotes,
//! what is written like a name.
//! Knows nothing of protobuf or of neural models.
//!
//! Every offset in this crate is a UTF-8 byte offset into the original text, half-open
//! (`[start, end)`), and always on a char boundary: `&text[span.start..span.end]` is valid.

use serde::Serialize;

pub mod attribution_score;
pub mod language;
mod lingua_models;
pub mod name_oracle;
pub mod names;
mod ngram_scorer;
pub mod quotes;
pub mod segment;

/// A half-open range of UTF-8 byte offsets into the analysed text, on char boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ByteSpan {
    pub start: usize,
    pub end: usize,
}

impl ByteSpan {
    pub fn new(start: usize, end: usize) -> Self {
        ByteSpan { start, end }
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start >= self.end
    }

    pub fn range(&self) -> std::ops::Range<usize> {
        self.start..self.end
    }

    /// The text this span covers.
    pub fn slice<'t>(&self, text: &'t str) -> &'t str {
        &text[self.range()]
    }

    pub fn contains(&self, offset: usize) -> bool {
        self.start <= offset && offset < self.end
    }
}
