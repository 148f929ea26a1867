//! The project-owned BART generation (`torch-bart`) against rust-bert's, on the factory's tiny
//! random-weight BART: the same token ids and the same decoded text at greedy and at 4 beams,
//! alone and in a padded batch. A mechanics/equivalence check only: random weights make
//! meaningless text, and nothing here judges it.
mod common;

use precis::runtime::generation::{GenerationPath, GenerationSettings, SummarizationEngine};
use precis::runtime::{ModelEngine, ModelLocation, ModelRole, ModelSpec};
use rust_bert::bart::BartGenerator;
use rust_bert::pipelines::common::ModelType;

use common::rust_bert_reference::{
    assert_screened_as_expected, assert_screened_greedy_ids_equal, generate_config,
    screened_by_default, token_ids, Decoding,
};

fn tiny_bart() -> ModelSpec {
    ModelSpec {
        id: "tiny-bart".into(),
        role: ModelRole::Summarization,
        location: ModelLocation::Directory(common::test_model("tiny-bart")),
    }
}

/// Inputs of different lengths, so a batch of them is padded.
fn inputs() -> Vec<String> {
    [
        "The ferry to the island was cancelled on Tuesday after a storm damaged the pier.",
        "Council members voted to extend the library's opening hours.",
        "A local bakery donated two hundred loaves to the shelter, the third time this winter, \
         and said it would keep doing so while the cold lasts.",
    ]
    .iter()
    .map(|text| text.to_string())
    .collect()
}

/// rust-bert's generator with the summarization pipeline's decoding settings.
fn rust_bert_ids(settings: GenerationSettings, texts: &[String]) -> Vec<Vec<i64>> {
    let decoding = Decoding {
        min_length: settings.min_length,
        max_length: settings.max_length,
        beams: settings.num_beams,
        no_repeat_ngram: 3,
    };
    let dir = common::test_model("tiny-bart");
    let config = generate_config(ModelType::Bart, &dir, "merges.txt", &decoding);
    token_ids(&BartGenerator::new(config).unwrap(), texts)
}

fn check_same_tokens(settings: GenerationSettings) {
    let spec = tiny_bart();
    let mut ours =
        SummarizationEngine::load_on(&spec, settings, GenerationPath::TorchBart).unwrap();
    let mut theirs = SummarizationEngine::load(&spec, settings).unwrap();
    let texts = inputs();
    // One input at a time (no padding), then all together (padded batch).
    let mut cases: Vec<Vec<String>> = texts.iter().map(|text| vec![text.clone()]).collect();
    cases.push(texts.clone());
    for case in cases {
        let expected = rust_bert_ids(settings, &case);
        let (got, timings) = ours
            .generate_ids_timed(&case)
            .expect("the torch-bart path exposes its ids");
        assert_screened_as_expected(&timings, settings.num_beams);
        assert_eq!(
            got,
            expected,
            "token ids differ for {} input(s), {settings:?}",
            case.len()
        );
        assert_screened_greedy_ids_equal(settings.num_beams, &expected, || {
            ours.set_vocabulary_screen(true);
            let run = ours.generate_ids_timed(&case).expect("ids");
            ours.set_vocabulary_screen(screened_by_default(settings.num_beams));
            run
        });
        // Something was generated beyond the decoder start and forced BOS tokens.
        assert!(expected.iter().all(|ids| ids.len() > 3), "{expected:?}");
        let our_text: Vec<String> = ours
            .run_batch(case.clone())
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let their_text: Vec<String> = theirs
            .run_batch(case.clone())
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(our_text, their_text);
    }
}

#[test]
fn greedy_gives_rust_berts_tokens() {
    for (min_length, max_length) in [(10, 40), (1, 12)] {
        check_same_tokens(GenerationSettings {
            num_beams: 1,
            min_length,
            max_length,
        });
    }
}

#[test]
fn four_beams_give_rust_berts_tokens() {
    for (min_length, max_length) in [(10, 40), (1, 12)] {
        check_same_tokens(GenerationSettings {
            num_beams: 4,
            min_length,
            max_length,
        });
    }
}

#[test]
fn bart_variants_it_does_not_implement_are_refused() {
    // tiny-bart's files with a pre-norm config (mBART's layout), which this path does not run.
    let copy = tempfile::tempdir().unwrap();
    let source = common::test_model("tiny-bart");
    for entry in std::fs::read_dir(&source).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy.path().join(entry.file_name())).unwrap();
    }
    let config_path = copy.path().join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    config["normalize_before"] = serde_json::Value::Bool(true);
    std::fs::write(&config_path, config.to_string()).unwrap();
    let spec = ModelSpec {
        id: "tiny-bart-pre-norm".into(),
        role: ModelRole::Summarization,
        location: ModelLocation::Directory(copy.path().to_path_buf()),
    };
    let settings = GenerationSettings {
        num_beams: 1,
        min_length: 1,
        max_length: 8,
    };
    let message = SummarizationEngine::load_on(&spec, settings, GenerationPath::TorchBart)
        .err()
        .expect("a pre-norm BART is refused")
        .to_string();
    assert!(message.contains("pre-norm"), "{message}");
}
