//! Extractive summaries through the pipeline: the real all-MiniLM-L6-v2 for English, the
//! lexical ranking for French and German, on articles the team wrote with a known answer
//! (the lead, the central facts; not the aside, not the restatement).
mod common;

use std::sync::atomic::Ordering;

use precis::pipeline::Pipeline;
use precis::summarize::extractive::{Ranking, SummaryLength};
use precis::summarize::{SentenceOrigin, Summary, SummaryMethod};
use precis::validate::{validate_summary, Limits};

/// Lead: the strike. Central facts: how many, why, what happens next. Aside: the weather and
/// a concert. Restatement: the last sentence repeats the lead.
const STRIKE: &str = "\
Nurses at the three public hospitals of Valmont walked out on Tuesday to demand higher pay and more staff on night shifts.

About 2,400 nurses joined the strike, according to their union, and only emergency wards stayed open.

The union says nurses have lost 12% of their pay to inflation since 2021 and that night shifts are often run by two nurses for forty patients.

The regional health minister said she would meet union leaders on Thursday and offered a 4% rise.

A jazz festival opened in the old town on the same evening, drawing a large crowd.

The union rejected the offer and said the strike would continue until the government agreed to hire more night staff.

Nurses in Valmont's three public hospitals went on strike on Tuesday over pay and staffing, the union said.
";

async fn summarize(
    pipeline: &Pipeline,
    text: &str,
    length: SummaryLength,
) -> (Summary, Vec<String>) {
    let request = validate_summary(text.to_string(), Some(length), &Limits::default()).unwrap();
    let digest = pipeline.digest(&request, None).await.unwrap();
    (digest.summary.unwrap(), digest.warnings)
}

fn texts(summary: &Summary) -> Vec<&str> {
    summary.sentences.iter().map(|s| s.text.as_str()).collect()
}

fn assert_exact_spans_in_order(text: &str, summary: &Summary) {
    for sentence in &summary.sentences {
        assert_eq!(&text[sentence.span.start..sentence.span.end], sentence.text);
        assert_eq!(sentence.origin, SentenceOrigin::Article);
        assert_eq!(
            sentence.evidence.len(),
            1,
            "an article sentence is its own evidence"
        );
    }
    assert!(summary
        .sentences
        .windows(2)
        .all(|pair| pair[0].span.end <= pair[1].span.start));
    assert_eq!(summary.method, SummaryMethod::Extractive);
    assert!(summary.guard.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minilm_picks_the_lead_and_central_facts_without_asides_or_repeats() {
    let (pipeline, _) = Pipeline::load(&common::runtime_settings()).unwrap();
    let embeddings = pipeline.engines.summarize.embeddings.as_ref().unwrap();
    let jobs_before = embeddings.pool.counters().completed.load(Ordering::Relaxed);
    let (summary, _) = summarize(&pipeline, STRIKE, SummaryLength::Sentences(3)).await;
    let jobs = embeddings.pool.counters().completed.load(Ordering::Relaxed) - jobs_before;
    let sentences = precis_text::segment::segment(STRIKE).sentences.len();
    assert!(
        (1..sentences).contains(&jobs),
        "the article is embedded in pieces of similar length, fewer than its {sentences} sentences: {jobs} jobs"
    );
    assert_eq!(summary.ranking, Ranking::Embeddings);
    assert_eq!(summary.engine, "all-MiniLM-L6-v2");
    assert_exact_spans_in_order(STRIKE, &summary);
    let chosen = texts(&summary);
    assert_eq!(chosen.len(), 3);
    assert!(
        chosen[0].starts_with("Nurses at the three public hospitals"),
        "{chosen:?}"
    );
    assert!(
        !chosen.iter().any(|t| t.contains("jazz")),
        "the aside: {chosen:?}"
    );
    assert!(
        !chosen
            .iter()
            .any(|t| t.contains("went on strike on Tuesday over pay")),
        "the restated lead repeats its meaning: {chosen:?}"
    );
    assert!(
        chosen
            .iter()
            .any(|t| t.contains("2,400") || t.contains("12%") || t.contains("rejected the offer")),
        "a central fact beside the lead: {chosen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn word_budget_and_ratio_set_the_length() {
    let (pipeline, _) = Pipeline::load(&common::runtime_settings()).unwrap();
    let (summary, _) = summarize(&pipeline, STRIKE, SummaryLength::Words(45)).await;
    let words: usize = summary
        .sentences
        .iter()
        .map(|s| s.text.split_whitespace().count())
        .sum();
    assert!(
        words <= 45 && !summary.sentences.is_empty(),
        "{words} words"
    );
    assert!(summary.sentences[0].text.starts_with("Nurses at the three"));
    let (summary, _) = summarize(&pipeline, STRIKE, SummaryLength::Ratio(0.3)).await;
    assert_eq!(summary.sentences.len(), 2, "30% of 7 sentences");
    assert_exact_spans_in_order(STRIKE, &summary);
}

/// Lead: the bridge closure. Central facts: why, the detour, the reopening. Aside: a football
/// result. Restatement: the last sentence repeats the lead.
const FRENCH: &str = "\
Le pont de Saint-Aubin sur la Loire sera fermé à la circulation pendant six mois à partir de lundi pour des travaux de réparation.

Les ingénieurs ont découvert des fissures dans deux piliers du pont lors d'une inspection en janvier.

Les automobilistes devront faire un détour de quinze kilomètres par le pont de Varennes, et des navettes gratuites seront mises en place pour les piétons.

La mairie prévoit de rouvrir le pont de Saint-Aubin en septembre si les travaux de réparation avancent comme prévu.

Le club de football local a gagné son match de samedi contre Tours.

La fermeture du pont de Saint-Aubin pour six mois de travaux commence lundi, a rappelé la mairie.
";

const GERMAN: &str = "\
Die Stadt Lindenau baut bis 2027 eine neue Straßenbahnlinie vom Bahnhof zum Universitätsklinikum.

Die Baukosten für die Straßenbahnlinie liegen nach Angaben der Stadt bei 180 Millionen Euro, den größten Teil zahlt das Land.

Während der Bauarbeiten wird die Hauptstraße in der Innenstadt für Autos gesperrt.

Die neue Straßenbahnlinie soll täglich rund 20.000 Fahrgäste zwischen Bahnhof und Klinikum befördern.

Im Stadtpark blühen in diesem Frühjahr besonders viele Tulpen.

Die Stadt Lindenau will bis 2027 eine Straßenbahnlinie zum Klinikum bauen, sagte ein Sprecher.
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn french_and_german_articles_get_a_sensible_lexical_summary() {
    // Lexical ranking is what a language gets when no embedding model serves it.
    let (pipeline, _) = Pipeline::load(&common::minilm_only_settings()).unwrap();
    for (text, lead, aside, restatement) in [
        (
            FRENCH,
            "Le pont de Saint-Aubin sur la Loire sera fermé",
            "football",
            "a rappelé la mairie",
        ),
        (
            GERMAN,
            "Die Stadt Lindenau baut bis 2027",
            "Tulpen",
            "sagte ein Sprecher",
        ),
    ] {
        let (summary, warnings) = summarize(&pipeline, text, SummaryLength::Sentences(3)).await;
        assert_eq!(summary.ranking, Ranking::Lexical, "{warnings:?}");
        assert_eq!(summary.engine, "tfidf-centrality");
        assert_exact_spans_in_order(text, &summary);
        let chosen = texts(&summary);
        assert_eq!(chosen.len(), 3);
        assert!(chosen[0].starts_with(lead), "{chosen:?}");
        assert!(!chosen.iter().any(|t| t.contains(aside)), "{chosen:?}");
        assert!(
            !chosen.iter().any(|t| t.contains(restatement)),
            "{chosen:?}"
        );
    }
}

/// The embedding jobs one summary of `text` takes.
async fn embedding_jobs(pipeline: &Pipeline, text: &str) -> usize {
    let counters = pipeline
        .engines
        .summarize
        .embeddings
        .as_ref()
        .unwrap()
        .pool
        .counters();
    let before = counters.completed.load(Ordering::Relaxed);
    let (summary, _) = summarize(pipeline, text, SummaryLength::Sentences(3)).await;
    assert_exact_spans_in_order(text, &summary);
    counters.completed.load(Ordering::Relaxed) - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_sentences_are_embedded_once() {
    let (pipeline, _) = Pipeline::load(&common::runtime_settings()).unwrap();
    let once = embedding_jobs(&pipeline, STRIKE).await;
    let thrice = format!("{STRIKE}\n{STRIKE}\n{STRIKE}");
    assert_eq!(
        embedding_jobs(&pipeline, &thrice).await,
        once,
        "three copies of the article cost the embedding jobs of one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_article_is_summarized_from_its_shortlist_with_exact_spans() {
    let (pipeline, _) = Pipeline::load(&common::runtime_settings()).unwrap();
    let mut text = STRIKE.to_string();
    let wards = [
        "cardiology",
        "maternity",
        "surgery",
        "oncology",
        "paediatrics",
    ];
    for i in 0..400 {
        text.push_str(&format!(
            "\nIn ward {i} of the {} unit, {} nurses covered the night shift and {} patients waited.\n",
            wards[i % wards.len()],
            2 + i % 7,
            10 + i
        ));
    }
    let sentences = precis_text::segment::segment(&text).sentences.len();
    assert!(
        sentences > precis::summarize::extractive::SHORTLIST_SENTENCES,
        "{sentences} sentences: long enough to be shortlisted"
    );
    let (summary, _) = summarize(&pipeline, &text, SummaryLength::Sentences(3)).await;
    assert_eq!(summary.ranking, Ranking::Embeddings);
    assert_eq!(summary.sentences.len(), 3);
    // Every chosen sentence maps back to its own place in the article, not the shortlist's.
    assert_exact_spans_in_order(&text, &summary);
}
