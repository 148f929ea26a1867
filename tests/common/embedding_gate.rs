//! The accuracy gate of issue #14, shared by the tests of every faster embedding engine: the
//! sentences each engine's vectors are compared on (within cosine 0.99 of fp32), and the team's
//! articles on which it must choose the same summary sentences as fp32.
use precis::runtime::embeddings::{cosine, Embedding, EmbeddingEngine};
use precis::runtime::ModelEngine;
use precis::summarize::extractive::{
    select_sentences, ExtractiveWeights, SimilarityMatrix, SummaryLength,
};
use unicode_segmentation::UnicodeSegmentation;

/// English, short and long, plain and quoted, numbers and names: written for these tests, apart
/// from the sentences the int8 recipe was chosen on (scripts/export_onnx.py).
pub const ENGLISH_SENTENCES: &[&str] = &[
    "No.",
    "Not yet.",
    "Talks resume today.",
    "The ferry service was suspended for the weekend.",
    "Unemployment dropped to 6.1 percent in the second quarter.",
    "The senator denied the allegations in a brief written statement.",
    "\"This is the worst flooding I have seen in forty years,\" said one resident.",
    "Engineers will inspect every tunnel on the line before trains run again.",
    "The museum returned the bronze statues to the country they were taken from.",
    "A fire at a recycling plant sent thick smoke over the eastern suburbs overnight.",
    "The school board voted to delay the start of classes by half an hour.",
    "Researchers said the vaccine cut hospital admissions by two thirds in older adults.",
    "Opposition parties walked out of the chamber before the vote on the emergency decree.",
    "Fishermen say the new quotas, which take effect in January, will force many of the smaller boats in the fleet to stay in port for most of the year.",
    "The central bank raised its key rate by a quarter of a point on Thursday, its fifth increase in a row, and signalled that more could follow if wages keep rising.",
];

/// Twelve languages, one word to a long sentence; none is one a quantization script chose its
/// MatMuls on.
pub const MULTILINGUAL_SENTENCES: &[&str] = &[
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

/// Embeds `texts` as one request.
pub fn embed(engine: &mut EmbeddingEngine, texts: &[&str]) -> Vec<Embedding> {
    let input: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
    let mut results = engine.run_batch(vec![input]);
    assert_eq!(results.len(), 1);
    results.remove(0).expect("embedding succeeds")
}

/// Issue #14's gate on `sentences`: each alone and all in one batch (padded to the longest), the
/// lowest cosine between `fp32`'s vectors and `other`'s (named `label`) is at least 0.99.
/// Returns `other`'s vectors: alone, then batched.
pub fn assert_within_gate(
    label: &str,
    sentences: &[&str],
    fp32: &mut EmbeddingEngine,
    other: &mut EmbeddingEngine,
) -> (Vec<Embedding>, Vec<Embedding>) {
    let alone = |engine: &mut EmbeddingEngine| -> Vec<Embedding> {
        sentences.iter().flat_map(|t| embed(engine, &[t])).collect()
    };
    let (a, b) = (alone(fp32), alone(other));
    let (c, d) = (embed(fp32, sentences), embed(other, sentences));
    for (what, x, y) in [("alone", &a, &b), ("in one padded batch", &c, &d)] {
        let (worst, text) = super::worst_cosine(sentences, x, y);
        let mean = x.iter().zip(y).map(|(p, q)| cosine(p, q)).sum::<f32>() / x.len() as f32;
        println!("{label} vs fp32, {what}: lowest cosine {worst:.5} ({text:?}), mean {mean:.5}");
        assert!(
            worst >= 0.99,
            "{label} vs fp32 {what}: {worst} for {text:?}"
        );
    }
    (b, d)
}

/// The team's articles (tests/articles, tests/devdata/summaries): the English ones ranked by
/// embeddings.
pub fn english_team_articles() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut articles = Vec::new();
    for dir in ["articles", "devdata/summaries"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".txt") {
                articles.push((name, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    articles.sort();
    assert!(articles.len() >= 2, "the team's articles are in tests/");
    articles
}

/// The team's non-English articles: the five of tests/common/e5_articles.rs and those of
/// tests/devdata/summaries (one sentence a line after its label).
pub fn non_english_team_articles() -> Vec<(String, String)> {
    use super::e5_articles::{ARABIC, CHINESE, FRENCH, GERMAN, RUSSIAN};
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
    articles.extend(super::e5_articles::non_english_summary_devdata());
    assert!(articles.len() >= 10, "the team's articles are in tests/");
    articles
}

/// multilingual-e5-small's cut-offs in the default catalog.
pub fn e5_cutoffs() -> precis::runtime::embeddings::SimilarityCutoffs {
    let catalog: precis::config::Catalog = toml::from_str(precis::config::DEFAULT_CATALOG).unwrap();
    catalog
        .more_embeddings
        .iter()
        .find(|model| model.id == "multilingual-e5-small")
        .and_then(|model| model.similarity)
        .expect("the catalog sets e5's cut-offs")
}

/// The three sentences the summary ranking picks in `article` with `engine`'s vectors, with
/// cosines rescaled from `floor` and the ranking `weights`.
pub fn summary_picks(
    engine: &mut EmbeddingEngine,
    article: &str,
    floor: f32,
    weights: ExtractiveWeights,
) -> Vec<usize> {
    let segmentation = precis_text::segment::segment(article);
    let texts: Vec<&str> = segmentation
        .sentences
        .iter()
        .map(|s| article[s.span.start..s.span.end].trim())
        .collect();
    let words: Vec<usize> = texts.iter().map(|t| t.unicode_words().count()).collect();
    let vectors = embed(engine, &texts);
    select_sentences(
        &SimilarityMatrix::from_embeddings_above(&vectors, floor),
        &texts,
        &words,
        SummaryLength::Sentences(3),
        weights,
    )
    .into_iter()
    .map(|ranked| ranked.index)
    .collect()
}
