//! Model-free text analysis: language detection, segmentation with offsets, direct quotes.
//! Knows nothing of protobuf or of neural models.
