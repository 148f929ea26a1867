//! multilingual-e5-small's selective int8 export (`engine = "onnxruntime-int8-mixed"`,
//! `scripts/quantize_e5_int8.py` via `scripts/setup-e5-int8`) against its fp32 export on ONNX
//! Runtime: issue #14's accuracy gate. Every test sentence (twelve languages, one word to a long
//! sentence, each alone and all in one batch) within cosine 0.99 of fp32, and the same three
//! summary sentences as fp32, with e5's catalog ranking, on the team's non-English articles.
//! None of these sentences is one the script chose its MatMuls on.
mod common;

use precis::runtime::embeddings::{cosine, EmbeddingEngine};
use precis::runtime::ModelEngine;
use precis::summarize::extractive::{
    select_sentences, ExtractiveWeights, SimilarityMatrix, SummaryLength,
};
use unicode_segmentation::UnicodeSegmentation;

const SENTENCES: &[&str] = &[
    "Oui.",
    "Nein.",
    "No.",
    "Нет.",
    "不。",
    "لا.",
    "Pronto.",
    "Talks resume today.",
    "Le gouvernement a présenté mercredi un plan de soutien aux éleveurs touchés par la sécheresse.",
    "Die Feuerwehr war mit mehr als hundert Einsatzkräften vor Ort.",
    "La empresa anunció el cierre de su fábrica en Valencia a finales de año.",
    "Il museo riaprirà al pubblico dopo due anni di lavori di restauro.",
    "A greve dos professores entra hoje na segunda semana.",
    "Полиция задержала двух подозреваемых в ограблении банка.",
    "أغلقت السلطات الطريق السريع بسبب الثلوج الكثيفة.",
    "地震发生后，当地学校全部停课。",
    "新しい空港ターミナルは来年三月に開業する予定だ。",
    "Gemeente en provincie trekken samen twaalf miljoen euro uit voor de nieuwe fietsbrug.",
    "Rada miasta przyjęła w czwartek nowy plan zagospodarowania przestrzennego, który przewiduje budowę trzech szkół, dwóch przychodni i parku wzdłuż rzeki, mimo protestów części mieszkańców.",
    "\"Nous ne reculerons pas\", a déclaré la dirigeante syndicale devant plusieurs centaines de manifestants réunis devant le ministère, avant d'annoncer une nouvelle journée d'action la semaine prochaine.",
];

fn engine(name: &str) -> EmbeddingEngine {
    common::load_embeddings_on(&common::e5_onnx_spec(), name).unwrap_or_else(|error| {
        panic!("{name} loads the e5 export (run scripts/setup: scripts/setup-e5-int8): {error}")
    })
}

fn embed(engine: &mut EmbeddingEngine, texts: &[&str]) -> Vec<Vec<f32>> {
    let input: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
    engine
        .run_batch(vec![input])
        .pop()
        .unwrap()
        .expect("embedding succeeds")
}

#[test]
fn int8_mixed_embeds_every_sentence_within_the_gate() {
    let mut fp32 = engine("onnxruntime");
    let mut mixed = engine("onnxruntime-int8-mixed");
    let alone = |engine: &mut EmbeddingEngine| -> Vec<Vec<f32>> {
        SENTENCES.iter().flat_map(|t| embed(engine, &[t])).collect()
    };
    let (a, b) = (alone(&mut fp32), alone(&mut mixed));
    let (c, d) = (embed(&mut fp32, SENTENCES), embed(&mut mixed, SENTENCES));
    for (what, x, y) in [("alone", &a, &b), ("in one batch", &c, &d)] {
        let (worst, text) = common::worst_cosine(SENTENCES, x, y);
        let mean = x.iter().zip(y).map(|(p, q)| cosine(p, q)).sum::<f32>() / x.len() as f32;
        println!("int8-mixed vs fp32, {what}: lowest cosine {worst} ({text:?}), mean {mean}");
        assert!(
            worst >= 0.99,
            "int8-mixed vs fp32 {what}: {worst} for {text:?}"
        );
    }
}

/// The team's non-English articles: the five of tests/common/e5_articles.rs and those of
/// tests/devdata/summaries (one sentence a line after its label).
fn team_articles() -> Vec<(String, String)> {
    use common::e5_articles::{ARABIC, CHINESE, FRENCH, GERMAN, RUSSIAN};
    let mut articles: Vec<(String, String)> = [
        ("fr", FRENCH),
        ("de", GERMAN),
        ("ru", RUSSIAN),
        ("ar", ARABIC),
        ("zh", CHINESE),
    ]
    .iter()
    .map(|(name, text)| (name.to_string(), text.to_string()))
    .collect();
    articles.extend(common::e5_articles::non_english_summary_devdata());
    assert!(articles.len() >= 10, "the team's articles are in tests/");
    articles
}

/// The three sentences e5's catalog ranking picks with `engine`'s vectors.
fn chosen(engine: &mut EmbeddingEngine, article: &str) -> Vec<usize> {
    let catalog: precis::config::Catalog = toml::from_str(precis::config::DEFAULT_CATALOG).unwrap();
    let cutoffs = catalog
        .more_embeddings
        .iter()
        .find(|model| model.id == "multilingual-e5-small")
        .and_then(|model| model.similarity)
        .expect("the catalog sets e5's cut-offs");
    let segmentation = precis_text::segment::segment(article);
    let texts: Vec<&str> = segmentation
        .sentences
        .iter()
        .map(|s| article[s.span.start..s.span.end].trim())
        .collect();
    let words: Vec<usize> = texts.iter().map(|t| t.unicode_words().count()).collect();
    let vectors = embed(engine, &texts);
    select_sentences(
        &SimilarityMatrix::from_embeddings_above(&vectors, cutoffs.floor),
        &texts,
        &words,
        SummaryLength::Sentences(3),
        ExtractiveWeights::for_embeddings(&cutoffs),
    )
    .into_iter()
    .map(|ranked| ranked.index)
    .collect()
}

#[test]
fn int8_mixed_chooses_the_same_summary_sentences_as_fp32() {
    let mut fp32 = engine("onnxruntime");
    let mut mixed = engine("onnxruntime-int8-mixed");
    for (name, article) in team_articles() {
        let expected = chosen(&mut fp32, &article);
        assert_eq!(expected.len(), 3, "{name}");
        assert_eq!(chosen(&mut mixed, &article), expected, "{name}");
    }
}
