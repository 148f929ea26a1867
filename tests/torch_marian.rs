//! The project-owned BART-family generation (`torch-bart`) on a Marian translation pair
//! against rust-bert's, on the factory's tiny random-weight Marian (en→es): the same token ids
//! and the same decoded text at greedy and at 4 beams, alone and in a padded batch, with the
//! settings precis's translation pipeline uses. A mechanics/equivalence check only: random
//! weights make meaningless text, and nothing here judges it.
mod common;

use precis::runtime::generation::{GenerationPath, GenerationSettings, TranslationEngine};
use precis::runtime::{ModelEngine, ModelLocation, ModelRole, ModelSpec};
use rust_bert::marian::MarianGenerator;
use rust_bert::pipelines::common::ModelType;

use common::rust_bert_reference::{
    assert_screened_as_expected, assert_screened_greedy_ids_equal, generate_config,
    quotes_of_different_lengths, screened_by_default, token_ids, Decoding,
};

fn tiny_marian() -> ModelSpec {
    ModelSpec {
        id: "tiny-marian-en-es".into(),
        role: ModelRole::Translation {
            source: "en".into(),
            target: "es".into(),
        },
        location: ModelLocation::Directory(common::test_model("tiny-marian-en-es")),
    }
}

/// rust-bert's Marian generator with the translation pipeline's decoding settings (no n-gram
/// ban, length penalty 1, early stopping).
fn rust_bert_ids(beams: i64, max_length: i64, texts: &[String]) -> Vec<Vec<i64>> {
    let decoding = Decoding {
        min_length: 0,
        max_length,
        beams,
        no_repeat_ngram: 0,
    };
    let dir = common::test_model("tiny-marian-en-es");
    let config = generate_config(ModelType::Marian, &dir, "source.spm", &decoding);
    token_ids(&MarianGenerator::new(config).unwrap(), texts)
}

fn check_same_tokens(beams: i64, max_length: i64) {
    let spec = tiny_marian();
    let settings = GenerationSettings {
        num_beams: beams,
        min_length: 0,
        max_length,
    };
    let mut ours = TranslationEngine::load_on(&spec, settings, GenerationPath::TorchBart).unwrap();
    let mut theirs = TranslationEngine::load(&spec, settings).unwrap();
    let texts = quotes_of_different_lengths();
    // One input at a time (no padding), then all together (padded batch).
    let mut cases: Vec<Vec<String>> = texts.iter().map(|text| vec![text.clone()]).collect();
    cases.push(texts.clone());
    for case in cases {
        let expected = rust_bert_ids(beams, max_length, &case);
        let (got, timings) = ours
            .generate_ids_timed(&case)
            .expect("the torch-bart path exposes its ids");
        assert_screened_as_expected(&timings, beams);
        assert_eq!(
            got,
            expected,
            "token ids differ for {} input(s), beams {beams}, max_length {max_length}",
            case.len()
        );
        assert_screened_greedy_ids_equal(beams, &expected, || {
            ours.set_vocabulary_screen(true);
            let run = ours.generate_ids_timed(&case).expect("ids");
            ours.set_vocabulary_screen(screened_by_default(beams));
            run
        });
        // Something was generated beyond the decoder start token.
        assert!(expected.iter().all(|ids| ids.len() > 2), "{expected:?}");
        let our_text = ours.run_batch(vec![case.clone()]).pop().unwrap().unwrap();
        let their_text = theirs.run_batch(vec![case.clone()]).pop().unwrap().unwrap();
        assert_eq!(our_text, their_text);
        assert_eq!(our_text.len(), case.len());
    }
}

#[test]
fn greedy_gives_rust_berts_tokens() {
    // 142: precis's translation maximum; 6: the forced EOS at the last step decides.
    for max_length in [142, 6] {
        check_same_tokens(1, max_length);
    }
}

#[test]
fn four_beams_give_rust_berts_tokens() {
    for max_length in [142, 6] {
        check_same_tokens(4, max_length);
    }
}

#[test]
fn a_pair_naming_no_engine_runs_on_torch_bart() {
    let settings = GenerationSettings {
        num_beams: 4,
        min_length: 0,
        max_length: 142,
    };
    let preferred =
        TranslationEngine::load_on(&tiny_marian(), settings, GenerationPath::Preferred).unwrap();
    assert!(
        preferred
            .generate_ids_timed(&quotes_of_different_lengths())
            .is_some(),
        "the preferred path of a Marian pair is torch-bart"
    );
    let opted_back = TranslationEngine::load(&tiny_marian(), settings).unwrap();
    assert!(opted_back
        .generate_ids_timed(&quotes_of_different_lengths())
        .is_none());
}
