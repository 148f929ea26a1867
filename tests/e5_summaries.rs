//! Summaries ranked by the real multilingual-e5-small on articles the team wrote (not the dev
//! articles of tests/devdata/ranking): the lead and both central facts, in article order, with
//! exact spans; the background sentence, the aside and the restated lead stay out; the response
//! names the model.
mod common;

use precis::pipeline::Pipeline;
use precis::summarize::extractive::{Ranking, SummaryLength};
use precis::validate::{validate_digest, DigestInput, Limits};

use common::e5_articles::{ARABIC, CHINESE, FRENCH, GERMAN, RUSSIAN};

async fn summary_of(pipeline: &Pipeline, article: &str) -> precis::summarize::Summary {
    let request = validate_digest(
        DigestInput {
            text: article.to_string(),
            summary_length: Some(SummaryLength::Sentences(3)),
            ..DigestInput::default()
        },
        &Limits::default(),
    )
    .unwrap();
    let digest = pipeline.digest(&request, None).await.unwrap();
    digest.summary.unwrap()
}

/// The summary is exactly the lead and the two central facts (`central`), in article order,
/// with exact spans: the background sentence after the lead, the weather aside and the closing
/// restatement of the lead stay out.
fn assert_picks(
    article: &str,
    summary: &precis::summarize::Summary,
    lead: &str,
    central: [&str; 2],
    background: &str,
    aside: &str,
    restated: &str,
) {
    assert_eq!(summary.ranking, Ranking::Embeddings);
    assert_eq!(summary.engine, "multilingual-e5-small");
    let texts: Vec<&str> = summary.sentences.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(texts.len(), 3, "{texts:?}");
    for sentence in &summary.sentences {
        assert_eq!(
            &article[sentence.span.start..sentence.span.end],
            sentence.text
        );
    }
    assert!(
        summary
            .sentences
            .windows(2)
            .all(|w| w[0].span.start < w[1].span.start),
        "{texts:?}"
    );
    println!("{texts:?}");
    assert!(texts[0].starts_with(lead), "lead: {texts:?}");
    assert!(
        texts[1].starts_with(central[0]),
        "first central fact: {texts:?}"
    );
    assert!(
        texts[2].starts_with(central[1]),
        "second central fact: {texts:?}"
    );
    assert!(
        !texts.iter().any(|t| t.starts_with(background)),
        "{texts:?}"
    );
    assert!(!texts.iter().any(|t| t.starts_with(aside)), "{texts:?}");
    assert!(!texts.iter().any(|t| t.starts_with(restated)), "{texts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn french_german_and_russian_summaries_pick_the_lead_and_central_facts() {
    let (pipeline, statuses) = Pipeline::load(&common::runtime_settings()).unwrap();
    assert!(statuses.iter().all(|s| s.ready), "{statuses:?}");

    let french = summary_of(&pipeline, FRENCH).await;
    assert_picks(
        FRENCH,
        &french,
        "La mairie de Port-Vallon a annoncé",
        ["Les travaux, estimés à 9 millions", "Pendant la fermeture"],
        "La piscine, inaugurée en 1975",
        "Il faisait beau",
        "La mairie a confirmé",
    );
    let german = summary_of(&pipeline, GERMAN).await;
    assert_picks(
        GERMAN,
        &german,
        "Die Stadt Hohenbrück hat am Freitag",
        [
            "Die 3,5 Kilometer lange Strecke",
            "Der Bau soll im Frühjahr",
        ],
        "Die Linie 4 ist die älteste",
        "Am Freitag schneite es",
        "Der Stadtrat stimmte",
    );
    let russian = summary_of(&pipeline, RUSSIAN).await;
    assert_picks(
        RUSSIAN,
        &russian,
        "Власти города Озёрска",
        ["Инженеры обнаружили", "Теперь жителям"],
        "Мост был построен",
        "В среду в Озёрске было солнечно",
        "Мост через Сеть закрыт",
    );
}

/// Two more scripts, on articles written after the weights were chosen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arabic_and_chinese_summaries_pick_the_lead_and_central_facts() {
    let (pipeline, statuses) = Pipeline::load(&common::runtime_settings()).unwrap();
    assert!(statuses.iter().all(|s| s.ready), "{statuses:?}");

    let arabic = summary_of(&pipeline, ARABIC).await;
    assert_picks(
        ARABIC,
        &arabic,
        "أعلنت بلدية مدينة الساحل",
        ["وقالت البلدية إن أعمال البناء", "وسينتقل نحو ثلاثمئة تاجر"],
        "بني السوق عام 1952",
        "كان الجو معتدلا",
        "سيغلق السوق المركزي",
    );
    let chinese = summary_of(&pipeline, CHINESE).await;
    assert_picks(
        CHINESE,
        &chinese,
        "东湖市政府周四宣布",
        ["改造工程预计投资", "闭馆期间"],
        "图书馆建于1983年",
        "周四东湖市阴天",
        "东湖市图书馆总馆将闭馆一年",
    );
}
