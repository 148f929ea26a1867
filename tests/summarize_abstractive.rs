//! The abstractive path with the tiny random-weight BART of scripts/make_test_models.py, and
//! the guard at work on CONSTRUCTED model outputs (a scripted engine). The tiny model proves
//! loading, chunking, batching and deadlines; no test looks at the words it writes.
mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::gated::{wait_for_queue, wait_past, Gate, Gated};

use precis::config::{CatalogModel, SummarizerFlag};
use precis::error::PrecisError;
use precis::pipeline::Pipeline;
use precis::runtime::embeddings::EmbeddingService;
use precis::runtime::generation::{GenerationSettings, SummarizationEngine, SummarizerInput};
use precis::runtime::{ModelEngine, ModelLocation, ModelRole, ModelSpec, PoolConfig, WorkerPool};
use precis::summarize::extractive::{Ranking, SummaryLength};
use precis::summarize::guard::{GuardIssue, GuardOutcome};
use precis::summarize::service::{
    summarize, SummarizerService, Summarizers, SummaryRequest, TokenCount,
};
use precis::summarize::{SentenceOrigin, Summary, SummaryMethod};
use precis::validate::{validate_digest, DigestInput, Limits};

/// One language detector for the whole test binary (it takes a second or two to build).
fn detector() -> &'static precis_text::language::LanguageDetector {
    static DETECTOR: std::sync::OnceLock<precis_text::language::LanguageDetector> =
        std::sync::OnceLock::new();
    DETECTOR.get_or_init(precis_text::language::LanguageDetector::new)
}

fn tiny_bart_spec() -> ModelSpec {
    ModelSpec {
        id: "tiny-bart".into(),
        role: ModelRole::Summarization,
        location: ModelLocation::Directory(common::test_model("tiny-bart")),
    }
}

fn tiny_settings() -> GenerationSettings {
    GenerationSettings {
        num_beams: 1,
        min_length: 2,
        max_length: 16,
    }
}

/// A long article the team wrote: twenty short paragraphs about one harbour plan.
fn long_article() -> String {
    let facts = [
        "The city council of Port Elwyn approved a plan on Monday to rebuild the north quay.",
        "The quay was closed to ships in March after engineers found cracks in its piles.",
        "Fishing crews have since landed their catch in a town thirty kilometres away.",
        "The fish market says it has lost half of its trade since the closure.",
        "Council members voted twenty-one to four in favour of the plan.",
        "The regional government and a European fund will pay for the work.",
        "Work on the new quay is due to start in September.",
        "Engineers expect the rebuilding to take about two years.",
        "A temporary pontoon will let small boats land their catch from May.",
        "Residents asked for the old harbour crane to be kept as a monument.",
    ];
    (0..2)
        .flat_map(|round| {
            facts
                .iter()
                .map(move |fact| format!("{} (Part {}.)", fact, round + 1))
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn catalog_with_tiny_bart(dir: &std::path::Path, max_input_tokens: usize) -> std::path::PathBuf {
    let path = dir.join("catalog.toml");
    let text = format!(
        r#"
[embeddings]
id = "all-MiniLM-L6-v2"
path = "all-MiniLM-L6-v2"
languages = ["en"]

[summarization]
num_beams = 1
min_length = 2
max_length = 16
max_input_tokens = {max_input_tokens}

[summarization.models.en]
id = "tiny-bart"
path = "{}"
"#,
        common::test_model("tiny-bart").display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_summarizer_every_summary_is_extractive_and_capabilities_say_so() {
    let (pipeline, _) = Pipeline::load(&common::runtime_settings()).unwrap();
    let summarizers = pipeline.capabilities().summarizers;
    assert!(
        summarizers
            .iter()
            .all(|s| s.method == SummaryMethod::Extractive),
        "{summarizers:?}"
    );
    assert_eq!(summarizers[0].language, "en");
    assert_eq!(summarizers[0].ranking, Ranking::Embeddings);
    assert_eq!(summarizers.last().unwrap().language, "*");
    assert_eq!(summarizers.last().unwrap().ranking, Ranking::Lexical);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_summarizer_named_by_flag_loads_and_is_listed_first_for_its_language() {
    let mut settings = common::runtime_settings();
    settings.summarizers = vec![SummarizerFlag {
        language: "en".into(),
        model: CatalogModel {
            id: "tiny-bart".into(),
            path: Some(common::test_model("tiny-bart")),
            remote: None,
            languages: Vec::new(),
            similarity: None,
            engine: None,
        },
    }];
    let (pipeline, statuses) = Pipeline::load(&settings).unwrap();
    let status = statuses.iter().find(|s| s.id == "tiny-bart").unwrap();
    assert!(status.ready && status.test_model, "{status:?}");
    let first = &pipeline.capabilities().summarizers[0];
    assert_eq!(
        (first.language.as_str(), first.method, first.engine.as_str()),
        ("en", SummaryMethod::Abstractive, "tiny-bart")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_article_is_chunked_and_only_guarded_text_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::runtime_settings();
    settings.config = Some(catalog_with_tiny_bart(dir.path(), 96));
    let (pipeline, statuses) = Pipeline::load(&settings).unwrap();
    assert!(statuses.iter().all(|s| s.ready), "{statuses:?}");
    let text = long_article();
    let request = validate_digest(
        DigestInput {
            text: text.clone(),
            ..DigestInput::default()
        },
        &Limits::default(),
    )
    .unwrap();
    let digest = pipeline.digest(&request, None).await.unwrap();
    let summary = digest.summary.unwrap();
    assert!(
        summary.chunks >= 4,
        "20 sentences in inputs of 88 tokens: {}",
        summary.chunks
    );
    let guard = summary
        .guard
        .as_ref()
        .expect("the guard checked the model's output");
    assert!(
        digest
            .warnings
            .iter()
            .any(|w| w.contains("random-weight test model")),
        "{:?}",
        digest.warnings
    );
    match summary.method {
        // Whatever the random model wrote, only sentences that passed the guard are served…
        SummaryMethod::Abstractive => {
            assert_ne!(guard.outcome, GuardOutcome::FellBackToExtractive);
            for sentence in &summary.sentences {
                assert_eq!(sentence.origin, SentenceOrigin::Generated);
                assert!(!sentence.evidence.is_empty());
                assert!(guard.kept().any(|kept| kept.text == sentence.text));
            }
        }
        // …or the extractive summary, with exact article spans, replaces it.
        SummaryMethod::Extractive => {
            assert_eq!(guard.outcome, GuardOutcome::FellBackToExtractive);
            for sentence in &summary.sentences {
                assert_eq!(sentence.origin, SentenceOrigin::Article);
                assert_eq!(&text[sentence.span.start..sentence.span.end], sentence.text);
            }
        }
    }
}

/// A one-worker pool of the tiny BART behind a gate, and its summarizer service.
fn gated_tiny_bart() -> (
    Arc<WorkerPool<Gated<SummarizationEngine>>>,
    SummarizerService,
    Gate,
) {
    let (gate, hooks) = Gate::new();
    let config = PoolConfig {
        name: "summarization-test".into(),
        workers: 1,
        queue_capacity: 32,
        max_batch_cost: 8,
        torch_threads: 1,
    };
    let pool = Arc::new(
        WorkerPool::start(config, move || {
            Ok(hooks.wrap(SummarizationEngine::load(
                &tiny_bart_spec(),
                tiny_settings(),
            )?))
        })
        .unwrap(),
    );
    let service = SummarizerService {
        model_id: "tiny-bart".into(),
        pool: pool.clone(),
        tokens: Arc::new(SummarizerInput::load(&tiny_bart_spec()).unwrap()),
        chunk_tokens: 88,
        test_model: true,
    };
    (pool, service, gate)
}

fn summarizers_of(service: SummarizerService) -> Summarizers {
    let mut summarizers = Summarizers::default();
    summarizers.by_language.insert("en".into(), service);
    summarizers
}

/// The gated tiny BART with its one worker holding a job at the gate, so that the requests
/// that follow wait in the queue together; and that job's answer.
async fn tiny_bart_with_its_worker_busy() -> (
    Arc<WorkerPool<Gated<SummarizationEngine>>>,
    Summarizers,
    BusyJob,
    Gate,
) {
    let (pool, service, mut gate) = gated_tiny_bart();
    let busy = pool
        .submit("The harbour plan was approved.".into(), None)
        .unwrap();
    assert_eq!(
        gate.wait_for_batch_start().await,
        1,
        "the busy job runs alone"
    );
    (pool, summarizers_of(service), busy, gate)
}

/// The answer of the job that keeps the worker busy.
type BusyJob = tokio::sync::oneshot::Receiver<Result<String, PrecisError>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_share_one_batch() {
    let (pool, summarizers, busy, gate) = tiny_bart_with_its_worker_busy().await;
    let articles = [
        "The council approved the harbour plan on Monday. Work starts in September.",
        "The museum reopened after a renovation. Visitors queued for an hour.",
        "The ferry service resumes on Friday. Tickets go on sale today.",
    ];
    let prepared: Vec<_> = articles
        .iter()
        .map(|text| (precis_text::segment::segment(text), detector().detect(text)))
        .collect();
    let requests: Vec<SummaryRequest<'_>> = articles
        .iter()
        .zip(&prepared)
        .map(|(text, (segmentation, language))| SummaryRequest {
            text,
            segmentation,
            language,
            length: SummaryLength::Sentences(2),
            deadline: None,
        })
        .collect();
    let opener = async {
        // All three wait behind the busy job; then the worker takes them in one go.
        wait_for_queue(&pool, 3).await;
        gate.open(2);
    };
    let mut warnings = [Vec::new(), Vec::new(), Vec::new()];
    let [w0, w1, w2] = &mut warnings;
    let (a, b, c, ()) = tokio::join!(
        summarize(None, &summarizers, &requests[0], w0),
        summarize(None, &summarizers, &requests[1], w1),
        summarize(None, &summarizers, &requests[2], w2),
        opener,
    );
    busy.await.unwrap().unwrap();
    for summary in [a, b, c] {
        assert_eq!(summary.unwrap().chunks, 1);
    }
    assert_eq!(
        gate.batches(),
        vec![1, 3],
        "the three requests waiting together ran as one batch"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chunks_whose_deadline_passed_in_the_queue_never_run() {
    let (pool, summarizers, busy, gate) = tiny_bart_with_its_worker_busy().await;
    let text = long_article();
    let segmentation = precis_text::segment::segment(&text);
    let language = detector().detect(&text);
    let deadline = Instant::now() + Duration::from_millis(200);
    let request = SummaryRequest {
        text: &text,
        segmentation: &segmentation,
        language: &language,
        length: SummaryLength::Sentences(3),
        deadline: Some(deadline),
    };
    let opener = async {
        // The chunks are queued behind the busy job; let it finish only once they are due.
        wait_for_queue(&pool, 2).await;
        wait_past(deadline).await;
        gate.open(1);
    };
    let mut warnings = Vec::new();
    let (outcome, ()) = tokio::join!(
        summarize(None, &summarizers, &request, &mut warnings),
        opener
    );
    busy.await.unwrap().unwrap();
    assert!(
        matches!(outcome, Err(PrecisError::DeadlineExceeded(_))),
        "{outcome:?}"
    );
    // The first expired chunk ends the request; its other chunks are then either expired too
    // or abandoned by it when the worker reaches them. The worker may still be going through
    // them when the request has returned: a job queued after them runs once they are all done.
    let last = pool.submit("The ferry resumes.".into(), None).unwrap();
    gate.open(1);
    last.await.unwrap().expect("the job queued last ran");
    let counters = pool.counters();
    let dropped_deadline = counters.dropped_deadline.load(Ordering::Relaxed);
    let dropped = dropped_deadline + counters.dropped_caller_gone.load(Ordering::Relaxed);
    assert!(dropped_deadline >= 1, "{dropped_deadline}");
    assert!(
        dropped >= 2,
        "every chunk of the long article was dropped: {dropped}"
    );
    assert_eq!(
        gate.batches(),
        vec![1, 1],
        "only the busy job and the last one ran, no chunk"
    );
}

/// A "model" that answers a fixed, CONSTRUCTED summary: the guard's behaviour on a known text.
struct Scripted(&'static str);

impl ModelEngine for Scripted {
    type Input = String;
    type Output = String;
    fn run_batch(&mut self, inputs: Vec<String>) -> Vec<Result<String, PrecisError>> {
        inputs.iter().map(|_| Ok(self.0.to_string())).collect()
    }
}

struct Words;

impl TokenCount for Words {
    fn count_tokens(&self, text: &str) -> usize {
        text.split_whitespace().count()
    }
}

fn embedding_service() -> EmbeddingService {
    EmbeddingService {
        model_id: "all-MiniLM-L6-v2".into(),
        pool: common::minilm_pool(),
        languages: vec!["en".into()],
        cutoffs: Default::default(),
        head_start: 8192,
    }
}

fn scripted(summary: &'static str) -> Summarizers {
    let config = PoolConfig {
        name: "scripted".into(),
        workers: 1,
        queue_capacity: 8,
        max_batch_cost: 8,
        torch_threads: 1,
    };
    summarizers_of(SummarizerService {
        model_id: "scripted".into(),
        pool: Arc::new(WorkerPool::start(config, move || Ok(Scripted(summary))).unwrap()),
        tokens: Arc::new(Words),
        chunk_tokens: 1000,
        test_model: false,
    })
}

const HARBOUR: &str = "\
The city council of Port Elwyn approved a 40 million euro plan on Monday to rebuild the harbour's collapsing north quay.

The quay, built in 1962, was closed to ships in March after engineers found deep cracks in its concrete piles.

Mayor Ingrid Solberg called the vote \"a new start for the harbour\".

Work on the new quay is due to start in September and to finish within two years.
";

async fn summarize_harbour(
    summarizers: &Summarizers,
    embeddings: &EmbeddingService,
) -> (Summary, Vec<String>) {
    let segmentation = precis_text::segment::segment(HARBOUR);
    let language = detector().detect(HARBOUR);
    let request = SummaryRequest {
        text: HARBOUR,
        segmentation: &segmentation,
        language: &language,
        length: SummaryLength::Sentences(3),
        deadline: None,
    };
    let mut warnings = Vec::new();
    let summary = summarize(Some(embeddings), summarizers, &request, &mut warnings)
        .await
        .unwrap();
    (summary, warnings)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_drops_an_invented_number_and_keeps_the_faithful_paraphrase() {
    let embeddings = embedding_service();
    let summarizers = scripted(
        "Port Elwyn's council approved a 40 million euro plan to rebuild the harbour's north quay. \
         The rebuilt quay will cost 90 million euros and open in 2031.",
    );
    let (summary, warnings) = summarize_harbour(&summarizers, &embeddings).await;
    assert_eq!(summary.method, SummaryMethod::Abstractive);
    assert_eq!(summary.ranking, Ranking::Embeddings);
    assert_eq!(
        summary.text,
        "Port Elwyn's council approved a 40 million euro plan to rebuild the harbour's north quay."
    );
    assert_eq!(
        summary.sentences[0].evidence[0].sentence_index, 0,
        "the lead supports it"
    );
    let guard = summary.guard.unwrap();
    assert_eq!(guard.outcome, GuardOutcome::SentencesDropped);
    let dropped: Vec<_> = guard.dropped().collect();
    assert_eq!(dropped.len(), 1);
    assert!(dropped[0]
        .issues
        .contains(&GuardIssue::UnsupportedNumber { value: "90".into() }));
    assert!(
        warnings.iter().any(|w| w.contains("dropped")),
        "{warnings:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_nothing_survives_the_extractive_summary_is_served_and_the_report_says_why() {
    let embeddings = embedding_service();
    let summarizers = scripted(
        "Mayor Henrik Dahl said the harbour plan was a new start. \
         The quay was built in 1952 and closed in March.",
    );
    let (summary, warnings) = summarize_harbour(&summarizers, &embeddings).await;
    assert_eq!(summary.method, SummaryMethod::Extractive);
    assert_eq!(summary.engine, "all-MiniLM-L6-v2");
    assert!(summary.sentences[0]
        .text
        .starts_with("The city council of Port Elwyn approved"));
    let guard = summary.guard.unwrap();
    assert_eq!(guard.outcome, GuardOutcome::FellBackToExtractive);
    assert_eq!(guard.model, "scripted");
    assert!(guard.sentences[0]
        .issues
        .contains(&GuardIssue::UnsupportedName {
            value: "Henrik Dahl".into()
        }));
    assert!(guard.sentences[1]
        .issues
        .contains(&GuardIssue::UnsupportedNumber {
            value: "1952".into()
        }));
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("failed the faithfulness guard")),
        "{warnings:?}"
    );
}
