//! What a repository holds, from its config.json (`model_type`, `architectures`) and, for
//! Marian, its name: the architecture, the role precis gives it and the files it needs.
use std::path::Path;

use crate::runtime::registry::{Architecture, EmbeddingTokenizer, SENTENCEPIECE_FILE};

use super::{HubError, PulledRole};

/// What to fetch and how to serve it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoKind {
    pub architecture: Architecture,
    pub model_type: String,
    pub role: PulledRole,
    /// Besides config.json and the weights.
    pub required_files: Vec<&'static str>,
    /// Fetched when the repository has them.
    pub optional_files: Vec<&'static str>,
    /// Sentence embedders: the tokenizer the repository's files give (see [`with_listing`]).
    pub tokenizer: Option<EmbeddingTokenizer>,
}

/// What precis serves as a sentence embedder, for the refusals.
const EMBEDDER_LAYOUT: &str = "precis serves sentence-embedding models in the sentence-transformers layout (modules.json with Transformer, Pooling and optionally Normalize; 1_Pooling/config.json; sentence_bert_config.json; tokenizer_config.json): BERT with WordPiece (vocab.txt) or XLM-R's SentencePiece tokenizer (sentencepiece.bpe.model, as multilingual-e5-small), and xlm-roberta encoders with sentencepiece.bpe.model (as intfloat/multilingual-e5-base, sentence-transformers/paraphrase-xlm-r-multilingual-v1)";

/// Written by the test-model factory into a repository of random weights: kept, so that the
/// pulled model is flagged as a test model too.
const TEST_MODEL_MARKER: &str = crate::runtime::registry::TEST_MODEL_MARKER;

/// Decides from config.json. `languages` (from `--language`) sets what a summarizer or
/// embedder serves; English when empty.
pub fn classify(repo: &str, config: &[u8], languages: &[String]) -> Result<RepoKind, HubError> {
    let unusable = |reason: String| HubError::Unusable {
        repo: repo.into(),
        reason,
    };
    let config: serde_json::Value = serde_json::from_slice(config)
        .map_err(|error| unusable(format!("config.json is not valid JSON ({error})")))?;
    let model_type = config
        .get("model_type")
        .and_then(|t| t.as_str())
        .ok_or_else(|| unusable("config.json has no \"model_type\"".into()))?
        .to_string();
    let architectures: Vec<String> = config
        .get("architectures")
        .and_then(|a| a.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let unsupported = || HubError::Unsupported {
        repo: repo.into(),
        model_type: model_type.clone(),
        architectures: if architectures.is_empty() {
            "no architectures listed".into()
        } else {
            architectures.join(", ")
        },
    };
    let architecture = Architecture::from_model_type(&model_type).ok_or_else(unsupported)?;
    let generates = architectures.is_empty()
        || architectures
            .iter()
            .any(|a| a.ends_with("ForConditionalGeneration") || a.ends_with("MTModel"));
    let explicit_languages: Vec<String> =
        languages.iter().map(|l| l.to_ascii_lowercase()).collect();
    let languages = if explicit_languages.is_empty() {
        vec!["en".to_string()]
    } else {
        explicit_languages.clone()
    };
    let (role, required_files, optional_files): (PulledRole, Vec<&str>, Vec<&str>) =
        match architecture {
            Architecture::Marian if generates => {
                let (source, target) = marian_pair(repo).ok_or_else(|| {
                    unusable(format!(
                        "cannot tell a Marian model's language pair from the name '{repo}': precis serves single-pair models named …-SRC-TGT with two-letter codes (e.g. Helsinki-NLP/opus-mt-en-de); multi-target models (…-en-ROMANCE) need target tokens precis does not send"
                    ))
                })?;
                (
                    PulledRole::Translation { source, target },
                    vec!["vocab.json", "source.spm"],
                    vec!["target.spm", "tokenizer_config.json", TEST_MODEL_MARKER],
                )
            }
            Architecture::Bart if generates => (
                PulledRole::Summarization { languages },
                vec!["vocab.json", "merges.txt"],
                vec![TEST_MODEL_MARKER],
            ),
            Architecture::T5 | Architecture::LongT5 | Architecture::Pegasus if generates => (
                PulledRole::Summarization { languages },
                vec!["spiece.model"],
                vec![TEST_MODEL_MARKER],
            ),
            // The tokenizer file is chosen from the listing ([`with_listing`]); languages left
            // empty are read from the model card once it is fetched ([`prepare_embedder`]).
            Architecture::Bert | Architecture::XlmRoberta => {
                if !is_plain_encoder(&config) {
                    return Err(unsupported());
                }
                (
                    PulledRole::SentenceEmbeddings {
                        languages: explicit_languages,
                    },
                    vec![
                        "modules.json",
                        "tokenizer_config.json",
                        "sentence_bert_config.json",
                        "1_Pooling/config.json",
                    ],
                    vec![
                        "config_sentence_transformers.json",
                        "README.md",
                        "special_tokens_map.json",
                        TEST_MODEL_MARKER,
                    ],
                )
            }
            // Its languages are read from the tokenizer files once they are fetched.
            Architecture::MBart if generates => (
                PulledRole::ManyToManyTranslation {
                    languages: Vec::new(),
                },
                vec!["sentencepiece.bpe.model"],
                vec![
                    "tokenizer_config.json",
                    "special_tokens_map.json",
                    TEST_MODEL_MARKER,
                ],
            ),
            Architecture::M2M100 if generates => (
                PulledRole::ManyToManyTranslation {
                    languages: Vec::new(),
                },
                vec!["vocab.json", "sentencepiece.bpe.model"],
                vec![
                    "tokenizer_config.json",
                    "special_tokens_map.json",
                    TEST_MODEL_MARKER,
                ],
            ),
            _ => return Err(unsupported()),
        };
    Ok(RepoKind {
        architecture,
        model_type,
        role,
        required_files,
        optional_files,
        tokenizer: None,
    })
}

/// Refines a classification with the repository's file list: an `m2m_100` repository with
/// NLLB's tokenizer (`tokenizer.json`, no `vocab.json`) is NLLB; a sentence embedder's tokenizer
/// is WordPiece when it has `vocab.txt` (BERT only), else XLM-R's SentencePiece model. An
/// embedder without the sentence-transformers pooling files or a tokenizer precis reads is
/// refused here, before anything but config.json is fetched.
pub fn with_listing(
    repo: &str,
    mut kind: RepoKind,
    has_file: impl Fn(&str) -> bool,
) -> Result<RepoKind, HubError> {
    if kind.architecture == Architecture::M2M100
        && Architecture::of_files(&kind.model_type, &has_file) == Some(Architecture::Nllb)
    {
        kind.architecture = Architecture::Nllb;
        kind.required_files = vec!["tokenizer.json", "sentencepiece.bpe.model"];
    }
    if !matches!(kind.role, PulledRole::SentenceEmbeddings { .. }) {
        return Ok(kind);
    }
    let unusable = |reason: String| HubError::Unusable {
        repo: repo.into(),
        reason,
    };
    for file in ["modules.json", "1_Pooling/config.json"] {
        if !has_file(file) {
            return Err(unusable(format!(
                "a {} encoder without the sentence-transformers pooling configuration (no {file}); {EMBEDDER_LAYOUT}",
                kind.model_type
            )));
        }
    }
    let tokenizer = if kind.architecture == Architecture::Bert && has_file("vocab.txt") {
        EmbeddingTokenizer::WordPiece
    } else if has_file(SENTENCEPIECE_FILE) {
        EmbeddingTokenizer::XlmRobertaSentencePiece
    } else {
        return Err(unusable(format!(
            "no tokenizer precis reads (neither vocab.txt nor {SENTENCEPIECE_FILE}; tokenizer.json alone is not read); {EMBEDDER_LAYOUT}"
        )));
    };
    kind.required_files.push(match tokenizer {
        EmbeddingTokenizer::WordPiece => "vocab.txt",
        EmbeddingTokenizer::XlmRobertaSentencePiece => SENTENCEPIECE_FILE,
    });
    kind.tokenizer = Some(tokenizer);
    Ok(kind)
}

/// Readies a sentence embedder's staging directory once its small files are fetched and before
/// its weights are: refuses modules precis does not run and a SentencePiece model it cannot read
/// exactly, writes `text_input.json` (`--prompt`, else the repository's prompt, see
/// [`embedding_prompt`]) and settles the languages (`--language`, else the model card's, else
/// English for a WordPiece model).
pub fn prepare_embedder(
    repo: &str,
    kind: &mut RepoKind,
    staging: &Path,
    prompt_override: Option<&str>,
) -> Result<(), HubError> {
    let unusable = |reason: String| HubError::Unusable {
        repo: repo.into(),
        reason,
    };
    let read = |name: &str| std::fs::read(staging.join(name)).ok();
    check_modules(&read("modules.json").unwrap_or_default())
        .map_err(|reason| unusable(format!("modules.json: {reason}; {EMBEDDER_LAYOUT}")))?;
    let sentencepiece = kind.tokenizer == Some(EmbeddingTokenizer::XlmRobertaSentencePiece);
    if sentencepiece {
        crate::runtime::text_input::check_xlmr_sentencepiece(&staging.join(SENTENCEPIECE_FILE))
            .map_err(|reason| {
                unusable(format!("{SENTENCEPIECE_FILE}: {reason}; {EMBEDDER_LAYOUT}"))
            })?;
    }
    let prompt = match (prompt_override, read("config_sentence_transformers.json")) {
        (Some(prompt), _) => prompt.to_string(),
        (None, Some(text)) => embedding_prompt(&text)
            .map_err(|reason| unusable(format!("config_sentence_transformers.json: {reason}")))?,
        (None, None) => String::new(),
    };
    if sentencepiece || !prompt.is_empty() {
        crate::runtime::text_input::write_pulled_text_input(staging, &prompt).map_err(|error| {
            HubError::Io {
                path: staging.to_path_buf(),
                reason: error.to_string(),
            }
        })?;
    }
    if let PulledRole::SentenceEmbeddings { languages } = &mut kind.role {
        if languages.is_empty() {
            let card = read("README.md").unwrap_or_default();
            *languages = card_languages(&String::from_utf8_lossy(&card));
        }
        if languages.is_empty() {
            if sentencepiece {
                return Err(unusable(
                    "its model card names no language (ISO 639-1 codes under `language:`), so precis cannot tell which articles it should rank: pull it again with --language and the codes it serves (e.g. --language fr,de,es)".into(),
                ));
            }
            *languages = vec!["en".into()];
        }
    }
    Ok(())
}

/// The modules rust-bert's sentence-embedding pipeline runs here: the transformer, its pooling
/// and an optional normalization, in that order.
fn check_modules(modules: &[u8]) -> Result<(), String> {
    let modules: serde_json::Value =
        serde_json::from_slice(modules).map_err(|error| format!("not valid JSON ({error})"))?;
    let types: Vec<&str> = modules
        .as_array()
        .ok_or("not a list of modules")?
        .iter()
        .map(|module| module.get("type").and_then(|t| t.as_str()).unwrap_or("?"))
        .collect();
    let short: Vec<&str> = types
        .iter()
        .map(|t| t.rsplit('.').next().unwrap_or(t))
        .collect();
    let supported = matches!(
        short.as_slice(),
        ["Transformer", "Pooling"] | ["Transformer", "Pooling", "Normalize"]
    );
    if supported {
        Ok(())
    } else {
        Err(format!("it chains {}", types.join(" → ")))
    }
}

/// The prefix sentence-transformers' `prompts` give the text precis embeds. Summaries compare an
/// article's sentences with each other (centrality, redundancy, evidence, adequacy): a symmetric
/// task, for which e5's card prescribes its "query: " prompt. So: the prompt named by
/// `default_prompt_name` (what sentence-transformers itself applies), else the one named
/// `query`, else none.
pub fn embedding_prompt(config: &[u8]) -> Result<String, String> {
    let config: serde_json::Value =
        serde_json::from_slice(config).map_err(|error| format!("not valid JSON ({error})"))?;
    let prompts = config.get("prompts").and_then(|p| p.as_object());
    let Some(prompts) = prompts else {
        return Ok(String::new());
    };
    let name = config
        .get("default_prompt_name")
        .and_then(|n| n.as_str())
        .unwrap_or("query");
    match prompts.get(name) {
        None => Ok(String::new()),
        Some(prompt) => prompt
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("prompt '{name}' is not a string")),
    }
}

/// The ISO 639-1 codes under `language:` in a model card's YAML front matter (`language: fr`,
/// `language: [fr, de]` or a `- fr` list); other entries (`multilingual`) are skipped.
pub fn card_languages(card: &str) -> Vec<String> {
    let mut lines = card.lines();
    if lines.next().map(str::trim) != Some("---") {
        return Vec::new();
    }
    let mut codes: Vec<String> = Vec::new();
    let mut in_list = false;
    for line in lines {
        if line.trim() == "---" {
            break;
        }
        let entries: Vec<&str> = if let Some(rest) = line.strip_prefix("language:") {
            in_list = rest.trim().is_empty();
            rest.trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .split(',')
                .collect()
        } else if in_list && line.trim_start().starts_with('-') {
            vec![line.trim_start().trim_start_matches('-')]
        } else {
            in_list = in_list && line.trim().is_empty();
            continue;
        };
        for entry in entries {
            let code = entry
                .trim()
                .trim_matches(|c| c == '"' || c == '\'')
                .to_ascii_lowercase();
            let iso = code.len() == 2 && code.chars().all(|c| c.is_ascii_lowercase());
            if iso && !codes.contains(&code) {
                codes.push(code);
            }
        }
    }
    codes
}

/// config.json as rust-bert needs it, where it differs from the hub's: rust-bert runs Marian
/// through its BART modules, which read `static_position_embeddings` (sinusoidal positions) and
/// `normalize_embedding` (no layernorm_embedding). Marian configs saved by older transformers
/// (a BartConfig then) carry both; newer ones carry neither, so they are added. `None` when the
/// config needs nothing.
pub fn rust_bert_config(architecture: Architecture, config: &[u8]) -> Option<Vec<u8>> {
    if architecture != Architecture::Marian {
        return None;
    }
    let mut config: serde_json::Value = serde_json::from_slice(config).ok()?;
    let object = config.as_object_mut()?;
    let mut changed = false;
    for (key, value) in [
        ("static_position_embeddings", true),
        ("normalize_embedding", false),
    ] {
        if !object.contains_key(key) {
            object.insert(key.into(), serde_json::Value::Bool(value));
            changed = true;
        }
    }
    changed.then(|| {
        let mut text = serde_json::to_vec_pretty(&config).unwrap_or_default();
        text.push(b'\n');
        text
    })
}

/// A BERT or XLM-R config can be anything from a classifier to a sentence encoder; only the
/// plain encoder (BertModel, XLMRobertaModel, or no head named) is an embedder.
fn is_plain_encoder(config: &serde_json::Value) -> bool {
    let architectures = config.get("architectures").and_then(|a| a.as_array());
    match architectures {
        None => true,
        Some(list) => list
            .iter()
            .any(|a| matches!(a.as_str(), Some("BertModel" | "XLMRobertaModel"))),
    }
}

/// `…-en-de` → (en, de): the last two parts of the name, two-letter codes.
fn marian_pair(repo: &str) -> Option<(String, String)> {
    let name = repo.rsplit('/').next()?;
    let mut parts = name.rsplit('-');
    let target = parts.next()?;
    let source = parts.next()?;
    let code = |c: &str| c.len() == 2 && c.chars().all(|ch| ch.is_ascii_lowercase());
    (code(source) && code(target) && source != target)
        .then(|| (source.to_string(), target.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(model_type: &str, architecture: &str) -> Vec<u8> {
        serde_json::json!({"model_type": model_type, "architectures": [architecture]})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn a_marian_repository_translates_the_pair_its_name_gives() {
        let kind = classify(
            "Helsinki-NLP/opus-mt-en-de",
            &config("marian", "MarianMTModel"),
            &[],
        )
        .unwrap();
        assert_eq!(
            kind.role,
            PulledRole::Translation {
                source: "en".into(),
                target: "de".into()
            }
        );
        assert!(kind.required_files.contains(&"source.spm"));
        let error = classify(
            "Helsinki-NLP/opus-mt-en-ROMANCE",
            &config("marian", "MarianMTModel"),
            &[],
        )
        .unwrap_err();
        assert!(error.to_string().contains("multi-target"), "{error}");
    }

    #[test]
    fn a_marian_config_without_rust_bert_s_keys_gets_them() {
        let bare = config("marian", "MarianMTModel");
        let fixed = rust_bert_config(Architecture::Marian, &bare).unwrap();
        let fixed: serde_json::Value = serde_json::from_slice(&fixed).unwrap();
        assert_eq!(fixed["static_position_embeddings"], true);
        assert_eq!(fixed["normalize_embedding"], false);
        assert_eq!(fixed["model_type"], "marian");
        let complete = serde_json::to_vec(&fixed).unwrap();
        assert_eq!(rust_bert_config(Architecture::Marian, &complete), None);
        assert_eq!(rust_bert_config(Architecture::Bart, &bare), None);
    }

    #[test]
    fn summarizers_serve_english_unless_told_otherwise() {
        let kind = classify(
            "facebook/bart-large-cnn",
            &config("bart", "BartForConditionalGeneration"),
            &[],
        )
        .unwrap();
        assert_eq!(
            kind.role,
            PulledRole::Summarization {
                languages: vec!["en".into()]
            }
        );
        let kind = classify(
            "x/pegasus",
            &config("pegasus", "PegasusForConditionalGeneration"),
            &["DE".into()],
        )
        .unwrap();
        assert_eq!(
            kind.role,
            PulledRole::Summarization {
                languages: vec!["de".into()]
            }
        );
    }

    #[test]
    fn many_to_many_models_are_classified_and_nllb_is_told_by_its_tokenizer_files() {
        let kind = classify(
            "facebook/m2m100_418M",
            &config("m2m_100", "M2M100ForConditionalGeneration"),
            &[],
        )
        .unwrap();
        assert_eq!(kind.architecture, Architecture::M2M100);
        assert!(matches!(
            kind.role,
            PulledRole::ManyToManyTranslation { .. }
        ));
        assert_eq!(
            kind.required_files,
            ["vocab.json", "sentencepiece.bpe.model"]
        );
        // NLLB says m2m_100 too; its repository holds tokenizer.json and no vocab.json.
        let nllb = with_listing("x/nllb", kind.clone(), |file| {
            ["tokenizer.json", "sentencepiece.bpe.model"].contains(&file)
        })
        .unwrap();
        assert_eq!(nllb.architecture, Architecture::Nllb);
        assert_eq!(
            nllb.required_files,
            ["tokenizer.json", "sentencepiece.bpe.model"]
        );
        let m2m = with_listing("x/m2m", kind, |file| {
            ["vocab.json", "tokenizer.json"].contains(&file)
        })
        .unwrap();
        assert_eq!(m2m.architecture, Architecture::M2M100);
        let mbart = classify(
            "facebook/mbart-large-50-many-to-many-mmt",
            &config("mbart", "MBartForConditionalGeneration"),
            &[],
        )
        .unwrap();
        assert_eq!(mbart.architecture, Architecture::MBart);
        assert!(matches!(
            mbart.role,
            PulledRole::ManyToManyTranslation { .. }
        ));
    }

    #[test]
    fn xlmr_embedders_take_their_tokenizer_from_the_listing() {
        let kind = classify(
            "intfloat/multilingual-e5-base",
            &config("xlm-roberta", "XLMRobertaModel"),
            &[],
        )
        .unwrap();
        assert_eq!(kind.architecture, Architecture::XlmRoberta);
        let layout = ["modules.json", "1_Pooling/config.json", SENTENCEPIECE_FILE];
        let kind = with_listing("x/e5", kind, |file| layout.contains(&file)).unwrap();
        assert_eq!(
            kind.tokenizer,
            Some(EmbeddingTokenizer::XlmRobertaSentencePiece)
        );
        assert!(kind.required_files.contains(&SENTENCEPIECE_FILE));
        // BERT with vocab.txt stays WordPiece; an XLM-R classifier is no embedder.
        let bert = classify("x/minilm", &config("bert", "BertModel"), &[]).unwrap();
        let bert = with_listing("x/minilm", bert, |file| {
            ["modules.json", "1_Pooling/config.json", "vocab.txt"].contains(&file)
        })
        .unwrap();
        assert_eq!(bert.tokenizer, Some(EmbeddingTokenizer::WordPiece));
        assert!(classify(
            "x/xlmr-sst",
            &config("xlm-roberta", "XLMRobertaForSequenceClassification"),
            &[]
        )
        .is_err());
    }

    #[test]
    fn the_prompt_is_the_default_one_else_the_query_one() {
        let prompt = |text: &str| embedding_prompt(text.as_bytes()).unwrap();
        assert_eq!(
            prompt(
                r#"{"prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": null}"#
            ),
            "query: "
        );
        assert_eq!(
            prompt(r#"{"prompts": {"query": "q: ", "doc": "d: "}, "default_prompt_name": "doc"}"#),
            "d: "
        );
        assert_eq!(prompt(r#"{"prompts": {"passage": "passage: "}}"#), "");
        assert_eq!(prompt(r#"{"__version__": {}}"#), "");
        assert!(embedding_prompt(br#"{"prompts": {"query": 3}}"#).is_err());
    }

    #[test]
    fn a_model_card_s_languages_are_its_iso_639_1_codes() {
        let list = "---\nlicense: mit\nlanguage:\n- multilingual\n- en\n- \"fr\"\n- zh\ntags:\n- x\n- yy\n---\n# card";
        assert_eq!(card_languages(list), ["en", "fr", "zh"]);
        assert_eq!(card_languages("---\nlanguage: de\n---\n"), ["de"]);
        assert_eq!(
            card_languages("---\nlanguage: [es, pt]\n---\n"),
            ["es", "pt"]
        );
        assert!(card_languages("# no front matter\nlanguage: en\n").is_empty());
        assert!(card_languages("---\nlanguage: multilingual\n---\n").is_empty());
    }

    #[test]
    fn only_transformer_pooling_and_normalize_modules_are_run() {
        let module = |kind: &str| format!(r#"{{"type": "sentence_transformers.models.{kind}"}}"#);
        let chain = |kinds: &[&str]| {
            let list: Vec<String> = kinds.iter().map(|k| module(k)).collect();
            format!("[{}]", list.join(","))
        };
        assert!(check_modules(chain(&["Transformer", "Pooling"]).as_bytes()).is_ok());
        assert!(check_modules(chain(&["Transformer", "Pooling", "Normalize"]).as_bytes()).is_ok());
        let error =
            check_modules(chain(&["Transformer", "Pooling", "Dense", "Normalize"]).as_bytes())
                .unwrap_err();
        assert!(error.contains("Dense"), "{error}");
        assert!(check_modules(b"{}").is_err());
    }

    #[test]
    fn unsupported_architectures_are_named_with_the_supported_list() {
        let error = classify("openai/gpt2", &config("gpt2", "GPT2LMHeadModel"), &[]).unwrap_err();
        let message = error.to_string();
        for expected in [
            "'gpt2'",
            "GPT2LMHeadModel",
            "marian",
            "bart",
            "bert",
            "xlm-roberta",
        ] {
            assert!(message.contains(expected), "{expected}: {message}");
        }
        // A BART classifier has the right model_type but no generation head.
        let error = classify(
            "x/bart-mnli",
            &config("bart", "BartForSequenceClassification"),
            &[],
        )
        .unwrap_err();
        assert!(error.to_string().contains("BartForSequenceClassification"));
    }
}
