//! The project-owned generation (`torch-bart`) on the pre-norm many-to-many families against
//! rust-bert's, on the factory's tiny random-weight hub repositories (M2M100, NLLB, mBART-50,
//! converted here as `precis models pull` converts them): the same token ids and the same
//! decoded text at greedy and at 4 beams, alone and in a padded batch, with the settings
//! precis's translation pipeline uses (the target language's token forced first). A
//! mechanics/equivalence check only: random weights make meaningless text, and nothing here
//! judges it.
mod common;

use std::path::{Path, PathBuf};

use precis::runtime::generation::{
    language_from_code, many_to_many_languages, nllb_tokenizer_for_rust_bert, GenerationPath,
    GenerationSettings, ManyToManyEngine, PairTexts, Precision,
};
use precis::runtime::registry::{convert_weights, Architecture};
use precis::runtime::{ModelEngine, ModelLocation, ModelRole, ModelSpec};
use rust_bert::m2m_100::M2M100Generator;
use rust_bert::mbart::MBartGenerator;
use rust_bert::pipelines::common::ModelType;
use rust_bert::pipelines::generation_utils::{GenerateOptions, LanguageGenerator};
use rust_bert::pipelines::translation::Language;
use rust_bert::resources::LocalResource;

use common::rust_bert_reference::{
    assert_screened_as_expected, assert_screened_greedy_ids_equal, generate_config,
    quotes_of_different_lengths, screened_by_default, Decoding,
};

/// A factory repository of scripts/make_many_to_many_models.py (run by scripts/setup).
fn factory_repo(name: &str) -> PathBuf {
    let dir = std::env::var_os("PRECIS_TEST_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| precis::config::default_models_dir().with_file_name("test-models"))
        .join("hub-many")
        .join(name);
    assert!(
        dir.join("config.json").is_file(),
        "test hub repository {} is missing: run scripts/setup (scripts/make_many_to_many_models.py)",
        dir.display()
    );
    dir
}

/// One tiny model converted as a pull converts it, with the two languages the tests use.
struct Converted {
    _dir: tempfile::TempDir,
    path: PathBuf,
    architecture: Architecture,
    languages: Vec<String>,
}

fn convert(name: &str, architecture: Architecture) -> Converted {
    let source = factory_repo(name);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let mut weights = Vec::new();
    for entry in std::fs::read_dir(&source).unwrap() {
        let entry = entry.unwrap();
        let file = entry.file_name().to_string_lossy().into_owned();
        std::fs::copy(entry.path(), path.join(&file)).unwrap();
        if file.ends_with(".safetensors") || file == "pytorch_model.bin" {
            weights.push(path.join(&file));
        }
    }
    convert_weights(&path, &weights, architecture).unwrap();
    if architecture == Architecture::Nllb {
        let tokenizer = path.join("tokenizer.json");
        if let Some(adjusted) =
            nllb_tokenizer_for_rust_bert(&std::fs::read(&tokenizer).unwrap()).unwrap()
        {
            std::fs::write(&tokenizer, adjusted).unwrap();
        }
    }
    let languages = many_to_many_languages(architecture, &path).unwrap();
    assert!(languages.len() >= 2, "{languages:?}");
    Converted {
        _dir: dir,
        path,
        architecture,
        languages,
    }
}

fn spec(model: &Converted) -> ModelSpec {
    ModelSpec {
        id: "tiny-many-to-many".into(),
        role: ModelRole::ManyToManyTranslation {
            languages: model.languages.clone(),
        },
        location: ModelLocation::Directory(model.path.clone()),
    }
}

/// rust-bert's generator of this family with the translation pipeline's decoding settings
/// and its preparation of a pair (the source language's prefix, the target's token forced
/// first), as `TranslationModel::translate` does it.
fn rust_bert_ids(
    model: &Converted,
    beams: i64,
    max_length: i64,
    source: Language,
    target: Language,
    texts: &[String],
) -> Vec<Vec<i64>> {
    let decoding = Decoding {
        min_length: 0,
        max_length,
        beams,
        no_repeat_ngram: 0,
    };
    let dir: &Path = &model.path;
    let (model_type, vocab, merges) = match model.architecture {
        Architecture::M2M100 => (
            ModelType::M2M100,
            "vocab.json",
            Some("sentencepiece.bpe.model"),
        ),
        Architecture::Nllb => (
            ModelType::NLLB,
            "tokenizer.json",
            Some("sentencepiece.bpe.model"),
        ),
        Architecture::MBart => (ModelType::MBart, "sentencepiece.bpe.model", None),
        other => panic!("not a many-to-many architecture: {other:?}"),
    };
    let mut config = generate_config(model_type, dir, "sentencepiece.bpe.model", &decoding);
    config.vocab_resource = Box::new(LocalResource::from(dir.join(vocab)));
    config.merges_resource =
        merges.map(|file| Box::new(LocalResource::from(dir.join(file))) as Box<_>);
    match model.architecture {
        Architecture::MBart => {
            pair_ids(&MBartGenerator::new(config).unwrap(), source, target, texts)
        }
        _ => pair_ids(
            &M2M100Generator::new(config).unwrap(),
            source,
            target,
            texts,
        ),
    }
}

/// `generator`'s token ids for `texts` from `source` to `target`, prepared as rust-bert's
/// `TranslationModel::translate` prepares them.
fn pair_ids(
    generator: &impl LanguageGenerator,
    source: Language,
    target: Language,
    texts: &[String],
) -> Vec<Vec<i64>> {
    let languages = std::collections::HashSet::from([source, target]);
    let (prefix, forced_bos) = generator
        .get_tokenizer()
        .get_prefix_and_forced_bos_id(Some(&source), Some(&target), &languages, &languages)
        .unwrap();
    assert!(forced_bos.is_some(), "the target language has a token");
    let prefix = prefix.unwrap_or_default();
    let prefixed: Vec<String> = texts.iter().map(|text| format!("{prefix}{text}")).collect();
    let options = GenerateOptions {
        forced_bos_token_id: forced_bos,
        ..Default::default()
    };
    tch::no_grad(|| generator.generate_indices(Some(&prefixed), Some(options)))
        .unwrap()
        .into_iter()
        .map(|output| output.indices)
        .collect()
}

fn check_same_tokens(model: &Converted, beams: i64, max_length: i64) {
    let spec = spec(model);
    let settings = GenerationSettings {
        num_beams: beams,
        min_length: 0,
        max_length,
    };
    let mut ours = ManyToManyEngine::load_on(&spec, settings, GenerationPath::TorchBart).unwrap();
    let mut theirs = ManyToManyEngine::load(&spec, settings).unwrap();
    let codes = &model.languages;
    // Both directions of one pair: the forced token differs between them.
    let pairs = [(&codes[0], &codes[1]), (&codes[1], &codes[0])];
    for (source_code, target_code) in pairs {
        let source = language_from_code(source_code).unwrap();
        let target = language_from_code(target_code).unwrap();
        let texts = quotes_of_different_lengths();
        let mut cases: Vec<Vec<String>> = texts.iter().map(|text| vec![text.clone()]).collect();
        cases.push(texts.clone());
        for case in cases {
            let expected = rust_bert_ids(model, beams, max_length, source, target, &case);
            let refs: Vec<&str> = case.iter().map(String::as_str).collect();
            let (got, timings) = ours
                .generate_ids_timed(&refs, source, target)
                .expect("the torch-bart path exposes its ids")
                .unwrap();
            assert_screened_as_expected(&timings, beams);
            assert_eq!(
                got,
                expected,
                "{:?} {source_code}→{target_code}: token ids differ for {} input(s), beams {beams}, max_length {max_length}",
                model.architecture,
                case.len()
            );
            assert_screened_greedy_ids_equal(beams, &expected, || {
                ours.set_vocabulary_screen(true);
                let run = ours
                    .generate_ids_timed(&refs, source, target)
                    .expect("ids")
                    .unwrap();
                ours.set_vocabulary_screen(screened_by_default(beams));
                run
            });
            // Something was generated beyond the decoder start and the language tokens.
            assert!(expected.iter().all(|ids| ids.len() > 3), "{expected:?}");
            let request = || PairTexts {
                source,
                target,
                texts: case.clone(),
            };
            let our_text = ours.run_batch(vec![request()]).pop().unwrap().unwrap();
            let their_text = theirs.run_batch(vec![request()]).pop().unwrap().unwrap();
            assert_eq!(our_text, their_text);
            assert_eq!(our_text.len(), case.len());
        }
    }
}

fn check_family(name: &str, architecture: Architecture) {
    let model = convert(name, architecture);
    // 142: precis's translation maximum; 6: a forced EOS at the last step (mBART) decides.
    for beams in [1, 4] {
        for max_length in [142, 6] {
            check_same_tokens(&model, beams, max_length);
        }
    }
}

#[test]
fn m2m100_gives_rust_berts_tokens_greedy_and_with_four_beams() {
    check_family("tiny-m2m100", Architecture::M2M100);
}

#[test]
fn nllb_gives_rust_berts_tokens_greedy_and_with_four_beams() {
    check_family("tiny-nllb", Architecture::Nllb);
}

#[test]
fn mbart50_gives_rust_berts_tokens_greedy_and_with_four_beams() {
    check_family("tiny-mbart50", Architecture::MBart);
}

#[test]
fn a_many_to_many_model_naming_no_engine_runs_on_torch_bart() {
    let model = convert("tiny-m2m100", Architecture::M2M100);
    let settings = GenerationSettings {
        num_beams: 4,
        min_length: 0,
        max_length: 142,
    };
    let source = language_from_code(&model.languages[0]).unwrap();
    let target = language_from_code(&model.languages[1]).unwrap();
    let preferred =
        ManyToManyEngine::load_on(&spec(&model), settings, GenerationPath::Preferred).unwrap();
    assert!(
        preferred
            .generate_ids_timed(&["A quote."], source, target)
            .is_some(),
        "the preferred path of an M2M100 model is torch-bart"
    );
    let opted_back = ManyToManyEngine::load(&spec(&model), settings).unwrap();
    assert!(opted_back
        .generate_ids_timed(&["A quote."], source, target)
        .is_none());
}

/// The opt-in bf16 weights through the real load and generation path. A MECHANICS check only:
/// the weights are random, so the agreement with fp32 it prints says nothing of quality, and
/// only the shape of the output is asserted (valid ids, the decoder start and the forced
/// target token first, nothing but padding after EOS, text for every input).
#[test]
fn bf16_weights_load_and_generate_well_formed_tokens() {
    let model = convert("tiny-m2m100", Architecture::M2M100);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.path.join("config.json")).unwrap())
            .unwrap();
    let vocab = config["vocab_size"].as_i64().unwrap();
    let (eos, pad) = (
        config["eos_token_id"].as_i64().unwrap_or(2),
        config["pad_token_id"].as_i64().unwrap_or(1),
    );
    let source = language_from_code(&model.languages[0]).unwrap();
    let target = language_from_code(&model.languages[1]).unwrap();
    let texts = quotes_of_different_lengths();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    for beams in [1, 4] {
        let settings = GenerationSettings {
            num_beams: beams,
            min_length: 0,
            max_length: 142,
        };
        let load = |precision| {
            ManyToManyEngine::load_on_in(
                &spec(&model),
                settings,
                GenerationPath::TorchBart,
                precision,
            )
            .unwrap()
        };
        let (fp32, mut bf16) = (load(Precision::Fp32), load(Precision::Bf16));
        let ids = |engine: &ManyToManyEngine| {
            engine
                .generate_ids_timed(&refs, source, target)
                .expect("the torch-bart path exposes its ids")
                .unwrap()
                .0
        };
        let (reference, got) = (ids(&fp32), ids(&bf16));
        assert_eq!(got.len(), texts.len());
        let (mut same, mut compared) = (0usize, 0usize);
        for (row, expected) in got.iter().zip(&reference) {
            assert!(row.len() > 2 && row.len() <= 142, "{row:?}");
            assert!(row.iter().all(|&id| (0..vocab).contains(&id)), "{row:?}");
            // The decoder start, then the target language's token, as fp32 has them.
            assert_eq!(row[..2], expected[..2], "{row:?}");
            if let Some(end) = row[1..].iter().position(|&id| id == eos) {
                assert!(row[end + 2..].iter().all(|&id| id == pad), "{row:?}");
            }
            same += row.iter().zip(expected).filter(|(a, b)| a == b).count();
            compared += row.len().max(expected.len());
        }
        eprintln!(
            "MECHANICS CHECK ONLY (random weights, not a quality measure): bf16 tokens equal to fp32's at {same} of {compared} positions, {beams} beam(s)"
        );
        let translated = bf16
            .run_batch(vec![PairTexts {
                source,
                target,
                texts: texts.clone(),
            }])
            .pop()
            .unwrap()
            .unwrap();
        assert_eq!(translated.len(), texts.len());
    }
    // Only torch-bart has another precision: rust-bert's pipeline refuses it.
    let settings = GenerationSettings {
        num_beams: 1,
        min_length: 0,
        max_length: 142,
    };
    let refused = ManyToManyEngine::load_on_in(
        &spec(&model),
        settings,
        GenerationPath::RustBert,
        Precision::Bf16,
    );
    let message = refused
        .err()
        .expect("bf16 on rust-bert's pipeline is refused")
        .to_string();
    assert!(message.contains("torch-bart"), "{message}");
}
