//! The real all-MiniLM-L6-v2 model, loaded through the runtime, on text the team wrote.
mod common;

use precis::pipeline::Pipeline;
use precis::runtime::embeddings::{cosine, EmbeddingEngine};
use precis::runtime::WorkerPool;
use precis::summarize::extractive::{Ranking, SummaryLength};
use precis::validate::{validate_digest, DigestInput, Limits};

fn embedding_pool() -> WorkerPool<EmbeddingEngine> {
    common::minilm_pool()
}

#[test]
fn paraphrases_embed_closer_than_unrelated_sentences() {
    let pool = embedding_pool();
    let sentences = vec![
        "The mayor opened the new bridge over the river on Saturday.".to_string(),
        "On Saturday the new river bridge was opened by the mayor.".to_string(),
        "Wheat prices fell sharply after a record harvest in Canada.".to_string(),
    ];
    let embeddings = pool.run_blocking(sentences, None).unwrap();
    assert_eq!(embeddings.len(), 3);
    assert_eq!(
        embeddings[0].len(),
        384,
        "MiniLM-L6 embeds in 384 dimensions"
    );
    let paraphrase = cosine(&embeddings[0], &embeddings[1]);
    let unrelated = cosine(&embeddings[0], &embeddings[2]);
    assert!(paraphrase > 0.7, "paraphrase cosine {paraphrase}");
    assert!(unrelated < 0.3, "unrelated cosine {unrelated}");
}

#[test]
fn batched_and_single_embeddings_agree() {
    let pool = embedding_pool();
    let one = pool
        .run_blocking(vec!["Rain is expected in the north.".to_string()], None)
        .unwrap();
    let many = pool
        .run_blocking(
            vec![
                "A much longer sentence about the harbour budget and its many delays over the years."
                    .to_string(),
                "Rain is expected in the north.".to_string(),
            ],
            None,
        )
        .unwrap();
    assert!(
        cosine(&one[0], &many[1]) > 0.999,
        "padding must not change an embedding"
    );
}

/// An article written by the team: the lead and the central facts should be picked, the aside
/// about the weather and the repeated fact should not.
const HARBOUR_ARTICLE: &str = "\
The city council of Port Elwyn approved a 40 million euro plan on Monday to rebuild the harbour's collapsing north quay.

The quay, built in 1962, was closed to ships in March after engineers found deep cracks in its concrete piles.

Fishing crews have since had to land their catch 30 kilometres away, and the local fish market has lost half its trade.

Council members voted 21 to 4 in favour of the plan, which will be paid for by the regional government and a European fund.

The weather on Monday was mild, with light winds from the west.

Work on the new quay is due to start in September and to finish within two years.

The council approved the 40 million euro harbour plan, members said after the vote.
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_picks_the_lead_and_central_facts_in_order() {
    let (pipeline, statuses) = Pipeline::load(&common::runtime_settings()).unwrap();
    assert!(statuses.iter().all(|s| s.ready), "{statuses:?}");
    let request = validate_digest(
        DigestInput {
            text: HARBOUR_ARTICLE.to_string(),
            summary_length: Some(SummaryLength::Sentences(3)),
            ..DigestInput::default()
        },
        &Limits::default(),
    )
    .unwrap();
    let digest = pipeline.digest(&request, None).await.unwrap();
    assert_eq!(digest.language.iso639_1, "en");
    let summary = digest.summary.unwrap();
    assert_eq!(summary.ranking, Ranking::Embeddings);
    assert_eq!(summary.engine, "all-MiniLM-L6-v2");
    assert_eq!(summary.sentences.len(), 3);
    for sentence in &summary.sentences {
        assert_eq!(
            &HARBOUR_ARTICLE[sentence.span.start..sentence.span.end],
            sentence.text
        );
    }
    assert!(summary
        .sentences
        .windows(2)
        .all(|w| w[0].span.start < w[1].span.start));
    let texts: Vec<&str> = summary.sentences.iter().map(|s| s.text.as_str()).collect();
    assert!(
        texts[0].starts_with("The city council of Port Elwyn approved"),
        "{texts:?}"
    );
    assert!(!texts.iter().any(|t| t.contains("weather")), "{texts:?}");
    assert!(
        !texts
            .iter()
            .any(|t| t.contains("members said after the vote")),
        "the restated lead is redundant: {texts:?}"
    );
}
