//! The gRPC contract end to end: a server on an ephemeral loopback port, driven by a tonic
//! client (and, for deadlines, by a raw HTTP/2 client that leaves the deadline to the server).
mod common;
mod grpc_support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::gated::{wait_for_empty_queue, wait_for_queue};
use grpc_support::{
    assert_status, digest_request, finish_stream, open_stream, own_pipeline, scrape, settings,
    shared_pipeline, TestServer, HARBOUR_ARTICLE, PATIENCE, SPANISH_ARTICLE,
};
use precis::error::PrecisError;
use precis::proto;
use precis::proto::digest_stream_result::Result as ItemResult;
use precis::runtime::embeddings::{Embedding, EmbeddingEngine};
use precis::runtime::worker::PoolCounters;
use precis::runtime::WorkerPool;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

fn spanned(text: &str, span: Option<proto::Span>) -> &str {
    let span = span.expect("a span");
    &text[span.start as usize..span.end as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_returns_language_summary_quotes_and_translations() {
    let server = TestServer::start(settings()).await;
    let connection = server.connect().await;
    let request = proto::DigestRequest {
        target_language: "es".into(),
        client_id: "harbour-1".into(),
        summary_length: Some(proto::SummaryLength {
            length: Some(proto::summary_length::Length::Sentences(2)),
        }),
        ..digest_request(HARBOUR_ARTICLE)
    };
    let response = connection
        .precis()
        .digest(connection.request(request))
        .await
        .unwrap()
        .into_inner();

    assert_eq!(response.client_id, "harbour-1");
    let language = response.language.unwrap();
    assert_eq!(language.language, "en");
    assert!(language.confidence > 0.5, "{language:?}");

    let summary = response.summary.unwrap();
    assert_eq!(summary.sentences.len(), 2);
    assert_eq!(summary.method(), proto::SummaryMethod::Extractive);
    assert_eq!(summary.ranking(), proto::Ranking::Embeddings);
    assert_eq!(summary.engine, "all-MiniLM-L6-v2");
    for sentence in &summary.sentences {
        assert_eq!(spanned(HARBOUR_ARTICLE, sentence.span), sentence.text);
    }
    let translated = response.translated_summary.unwrap();
    assert_eq!(translated.target_language, "es");
    assert_eq!(translated.engine_kind(), proto::EngineKind::RuleBased);
    assert_eq!(translated.engines, ["apertium/eng-spa"]);
    assert_ne!(translated.text, summary.text);
    let quality = translated.quality.expect("every translation is scored");
    assert!(quality.score > 0.0 && quality.score <= 1.0, "{quality:?}");
    assert_eq!(quality.route_hops, 1);
    assert!(
        !quality.detected_language.is_empty(),
        "Spanish is detectable: {quality:?}"
    );

    assert_eq!(response.quotes.len(), 2, "{:#?}", response.quotes);
    let mayor = &response.quotes[0];
    assert_eq!(
        mayor.text,
        "We cannot let the port die while we argue about the bill,"
    );
    assert_eq!(spanned(HARBOUR_ARTICLE, mayor.span), mayor.text);
    assert!(mayor.speaker.as_ref().unwrap().name.contains("Ana Ruiz"));
    assert_eq!(mayor.cue, "said");
    let quote_translation = mayor.translation.as_ref().unwrap();
    assert_eq!(quote_translation.target_language, "es");
    assert!(!quote_translation.text.is_empty());

    let stages: Vec<&str> = response.timings.iter().map(|t| t.stage.as_str()).collect();
    assert_eq!(
        stages,
        ["language", "segment", "quotes", "summarize", "translate"]
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_single_part_calls_answer() {
    let server = TestServer::start(settings()).await;
    let connection = server.connect().await;
    let mut precis = connection.precis();

    let detected = precis
        .detect_language(connection.request(proto::DetectLanguageRequest {
            text: SPANISH_ARTICLE.into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(detected.language.unwrap().language, "es");

    let quotes = precis
        .extract_quotes(connection.request(proto::ExtractQuotesRequest {
            text: HARBOUR_ARTICLE.into(),
            max_quotes: 1,
        }))
        .await
        .unwrap()
        .into_inner()
        .quotes;
    assert_eq!(quotes.len(), 1, "max_quotes keeps the most salient");
    assert!(quotes[0].translation.is_none());

    let summarized = precis
        .summarize(connection.request(proto::SummarizeRequest {
            text: HARBOUR_ARTICLE.into(),
            summary_length: Some(proto::SummaryLength {
                length: Some(proto::summary_length::Length::Sentences(1)),
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summarized.language.unwrap().language, "en");
    assert_eq!(summarized.summary.unwrap().sentences.len(), 1);

    let texts = vec![
        "The council approved the plan.".to_string(),
        "Work starts in September.".to_string(),
    ];
    let translated = precis
        .translate(connection.request(proto::TranslateRequest {
            texts: texts.clone(),
            source_language: String::new(),
            target_language: "es".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(translated.source_language, "en", "detected from the texts");
    assert_eq!(translated.translations.len(), 2);
    for (original, translated) in texts.iter().zip(&translated.translations) {
        assert_eq!(&translated.original, original, "the original beside it");
        assert_eq!(translated.error, "", "no per-text error");
        let translation = translated.translation.as_ref().unwrap();
        assert_eq!(translation.engines, ["apertium/eng-spa"]);
        assert_ne!(&translation.text, original);
    }

    let capabilities = precis
        .get_capabilities(connection.request(proto::GetCapabilitiesRequest {}))
        .await
        .unwrap()
        .into_inner();
    for language in ["en", "es", "fr", "de"] {
        assert!(
            capabilities
                .detectable_languages
                .contains(&language.to_string()),
            "{language}"
        );
    }
    assert!(capabilities
        .summarizers
        .iter()
        .any(|s| s.language == "en" && s.engine == "all-MiniLM-L6-v2"));
    assert!(capabilities
        .summarizers
        .iter()
        .any(|s| s.language == "*" && s.ranking() == proto::Ranking::Lexical));
    let en_es = capabilities
        .translation_pairs
        .iter()
        .find(|pair| pair.source_language == "en" && pair.target_language == "es")
        .expect("en→es is served");
    assert_eq!(en_es.engine, "apertium/eng-spa");
    assert_eq!(en_es.engine_kind(), proto::EngineKind::RuleBased);
    assert!(en_es.preferred);
    let en_fr = capabilities
        .translation_routes
        .iter()
        .find(|route| route.source_language == "en" && route.target_language == "fr")
        .expect("en→fr is reachable");
    assert_eq!(en_fr.kind(), proto::RouteKind::OnePivot);
    assert_eq!(en_fr.engines, ["apertium/eng-spa", "apertium/es-fr"]);
    assert_eq!(en_fr.pivots, ["es"]);
    assert_eq!(en_fr.engine_kind(), proto::EngineKind::RuleBased);
    assert!(capabilities
        .translation_routes
        .iter()
        .any(|route| route.kind() == proto::RouteKind::Direct
            && route.source_language == "en"
            && route.target_language == "es"));
    let limits = capabilities.limits.unwrap();
    assert_eq!(limits.max_article_bytes, 256 * 1024);
    assert_eq!(
        limits.max_stream_in_flight,
        precis::grpc::defaults::MAX_STREAM_IN_FLIGHT as u32
    );
    assert_eq!(
        limits.max_concurrent_requests,
        precis::grpc::defaults::MAX_CONCURRENT_REQUESTS as u32
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_invalid_argument_with_the_reason() {
    let mut settings = settings();
    settings.max_message_bytes = 512 * 1024;
    let server = TestServer::start(settings).await;
    let connection = server.connect().await;
    let mut precis = connection.precis();

    // Empty text, on the full and on a single-part call.
    let status = precis
        .digest(connection.request(digest_request(" \n ")))
        .await
        .unwrap_err();
    assert_status(&status, Code::InvalidArgument, "empty");
    let status = precis
        .detect_language(connection.request(proto::DetectLanguageRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);

    // A minimum translation score outside [0, 1].
    let status = precis
        .digest(connection.request(proto::DigestRequest {
            target_language: "es".into(),
            min_translation_quality: 1.5,
            ..digest_request(HARBOUR_ARTICLE)
        }))
        .await
        .unwrap_err();
    assert_status(&status, Code::InvalidArgument, "min_translation_quality");

    // Over the article limit (but within the message limit): the limit is in the message.
    let oversize = "Word. ".repeat(300 * 1024 / 6);
    let status = precis
        .digest(connection.request(digest_request(&oversize)))
        .await
        .unwrap_err();
    assert_status(&status, Code::InvalidArgument, "the limit is 262144 bytes");

    // Over the message limit: refused by the codec before any work, with the limit.
    let huge = "Word. ".repeat(600 * 1024 / 6);
    let status = precis
        .digest(connection.request(digest_request(&huge)))
        .await
        .unwrap_err();
    assert_status(&status, Code::ResourceExhausted, "524288");

    // A malformed language code in any field of Digest: one parser, the field named.
    for (request, field) in [
        (
            proto::DigestRequest {
                target_language: "not a language".into(),
                ..digest_request(HARBOUR_ARTICLE)
            },
            "target_language",
        ),
        (
            proto::DigestRequest {
                language_hint: "xx".into(),
                ..digest_request(HARBOUR_ARTICLE)
            },
            "language_hint",
        ),
    ] {
        let status = precis
            .digest(connection.request(request))
            .await
            .unwrap_err();
        assert_status(&status, Code::InvalidArgument, field);
    }
    let status = precis
        .translate(connection.request(proto::TranslateRequest {
            texts: vec!["Hello.".into()],
            source_language: "en".into(),
            target_language: "qq".into(),
        }))
        .await
        .unwrap_err();
    assert_status(&status, Code::InvalidArgument, "\"qq\"");
    let status = precis
        .translate(connection.request(proto::TranslateRequest {
            texts: vec!["Hello.".into()],
            source_language: "english please".into(),
            target_language: "es".into(),
        }))
        .await
        .unwrap_err();
    assert_status(&status, Code::InvalidArgument, "source_language");

    // A summary length of zero.
    let status = precis
        .digest(connection.request(proto::DigestRequest {
            summary_length: Some(proto::SummaryLength {
                length: Some(proto::summary_length::Length::Sentences(0)),
            }),
            ..digest_request(HARBOUR_ARTICLE)
        }))
        .await
        .unwrap_err();
    assert_status(&status, Code::InvalidArgument, "summary_length");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_without_an_engine_warns_in_digest_and_fails_translate() {
    let server = TestServer::start(settings()).await;
    let connection = server.connect().await;
    let mut precis = connection.precis();

    let response = precis
        .digest(connection.request(proto::DigestRequest {
            target_language: "de".into(),
            ..digest_request(HARBOUR_ARTICLE)
        }))
        .await
        .expect("Digest still answers")
        .into_inner();
    assert!(response.translated_summary.is_none());
    assert!(response.quotes.iter().all(|q| q.translation.is_none()));
    assert!(
        response
            .warnings
            .iter()
            .any(|w| w.contains("no translation route from en to de")),
        "{:?}",
        response.warnings
    );

    let status = precis
        .translate(connection.request(proto::TranslateRequest {
            texts: vec!["The council approved the plan.".into()],
            source_language: "en".into(),
            target_language: "de".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status
            .message()
            .contains("no translation route from en to de"),
        "{}",
        status.message()
    );
    assert!(
        status.message().contains("en→es"),
        "lists the pairs that exist: {}",
        status.message()
    );
    server.stop().await.unwrap();
}

/// A client that sends `grpc-timeout` but keeps no timer of its own, as many foreign clients:
/// the answer is then the server's. (tonic's own client cancels locally when its timer fires.)
fn client_without_local_deadline(
    server: &TestServer,
) -> proto::precis_client::PrecisClient<
    hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        tonic::body::Body,
    >,
> {
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http();
    proto::precis_client::PrecisClient::with_origin(http, server.url().parse().unwrap())
}

fn with_timeout<T>(message: T, timeout: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("grpc-timeout", timeout.parse().unwrap());
    request
}

/// The jobs the pool dropped before they ran, for either reason.
fn dropped_jobs(counters: &PoolCounters) -> usize {
    counters.dropped_deadline.load(Ordering::SeqCst)
        + counters.dropped_caller_gone.load(Ordering::SeqCst)
}

/// A job bigger than a batch for the one embedding worker: it keeps the worker busy for
/// seconds, and the jobs queued behind it wait.
fn embedding_blocker(
    pool: &WorkerPool<EmbeddingEngine>,
    sentences: usize,
) -> oneshot::Receiver<Result<Vec<Embedding>, PrecisError>> {
    let long_sentence = "The regional government said the harbour works would be paid for by a fund that also covers roads, schools and the new hospital in the north of the province.";
    pool.submit(vec![long_sentence.to_string(); sentences], None)
        .unwrap()
}

/// Once every job queued before now has been taken by the one worker: a job queued now is
/// answered after them.
async fn wait_for_earlier_jobs(pool: &WorkerPool<EmbeddingEngine>) {
    let last = pool
        .submit(vec!["The ferry resumes.".into()], None)
        .unwrap();
    tokio::time::timeout(PATIENCE, last)
        .await
        .expect("the job queued last ran within the patience")
        .unwrap()
        .expect("the job queued last ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passed_deadline_is_deadline_exceeded_and_queued_model_work_is_dropped() {
    // A pipeline of its own: the drops counted below are this test's.
    let pipeline = own_pipeline();
    let server = TestServer::start_on(settings(), pipeline.clone()).await;
    let mut precis = client_without_local_deadline(&server);
    let embeddings = &pipeline.engines.summarize.embeddings.as_ref().unwrap().pool;
    let counters = embeddings.counters();
    assert_eq!(dropped_jobs(counters), 0, "nothing dropped before the test");

    // Already out of time on arrival: refused before any model work.
    let status = precis
        .digest(with_timeout(digest_request(HARBOUR_ARTICLE), "1n"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");

    // Out of time while queued: the one embedding worker is busy with a job bigger than a batch,
    // so the digest's embedding job waits behind it and its deadline passes in the queue.
    let blocker = embedding_blocker(embeddings, 400);
    let completed_before = counters.completed.load(Ordering::SeqCst);
    let started = Instant::now();
    let status = precis
        .digest(with_timeout(digest_request(HARBOUR_ARTICLE), "300m"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(
        status.message().contains("300ms"),
        "names the deadline: {}",
        status.message()
    );
    assert!(started.elapsed() < PATIENCE);
    blocker.await.unwrap().expect("the blocker ran");
    // The worker answers the blocker's reply, then looks at the expired job and drops it.
    wait_for_earlier_jobs(embeddings).await;
    assert_eq!(
        dropped_jobs(counters),
        1,
        "the digest's expired embedding job was dropped, never run"
    );
    assert_eq!(
        counters.completed.load(Ordering::SeqCst) - completed_before,
        2,
        "only the blocker and the job queued last ran"
    );
    server.stop().await.unwrap();
}

/// A stream's first request: a digest without summary, quick to answer.
fn opening_request() -> proto::DigestRequest {
    proto::DigestRequest {
        client_id: "opening".into(),
        skip_summary: true,
        ..digest_request(HARBOUR_ARTICLE)
    }
}

/// Retries a small call until the server admits it again (its one permit was released).
async fn wait_until_admitted(connection: &precis::grpc::client::Connection) {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let answer = connection
                .precis()
                .detect_language(connection.request(proto::DetectLanguageRequest {
                    text: "Bonjour à tous.".into(),
                }))
                .await;
            match answer {
                Ok(_) => return,
                Err(status) if status.code() == Code::ResourceExhausted => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                Err(status) => panic!("{status:?}"),
            }
        }
    })
    .await
    .expect("the permit is released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_server_answers_resource_exhausted_at_once() {
    let mut settings = settings();
    settings.max_concurrent_requests = 1;
    let server = TestServer::start(settings).await;
    let connection = server.connect().await;
    let (sender, mut results) = open_stream(&connection, opening_request()).await;

    let status = connection
        .precis()
        .detect_language(connection.request(proto::DetectLanguageRequest {
            text: "Bonjour à tous.".into(),
        }))
        .await
        .unwrap_err();
    assert_status(
        &status,
        Code::ResourceExhausted,
        "limit of 1 concurrent calls",
    );
    // Health is never limited.
    assert_eq!(server.health().await, ServingStatus::Serving);

    drop(sender);
    assert!(results.message().await.unwrap().is_none());
    // The permit is back once the stream ended.
    wait_until_admitted(&connection).await;
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_refuses_new_calls_and_finishes_the_ones_in_flight() {
    let mut server = TestServer::start(settings()).await;
    let connection = server.connect().await;
    let (sender, results) = open_stream(&connection, opening_request()).await;

    server.begin_shutdown();
    // Health goes NOT_SERVING first; watch for it rather than sleep.
    tokio::time::timeout(PATIENCE, async {
        while server.health().await != ServingStatus::NotServing {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    let status = connection
        .precis()
        .digest(connection.request(digest_request(HARBOUR_ARTICLE)))
        .await
        .unwrap_err();
    assert_status(&status, Code::Unavailable, "shutting down");

    // The call in flight still gets every answer.
    finish_stream(sender, results, "after-sigterm").await;
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_guard_every_call_but_health() {
    let key_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(key_file.path(), "# newsroom\nfile-key-2\n").unwrap();
    let mut settings = settings();
    settings.api_keys = Some("inline-key-1".into());
    settings.api_keys_file = Some(key_file.path().to_path_buf());
    let server = TestServer::start(settings).await;
    let detect = proto::DetectLanguageRequest {
        text: "Guten Morgen, liebe Leserinnen und Leser.".into(),
    };

    let anonymous = server.connect().await;
    let status = anonymous
        .precis()
        .detect_language(anonymous.request(detect.clone()))
        .await
        .unwrap_err();
    assert_status(&status, Code::Unauthenticated, "Bearer");

    let wrong = server.connect_with_key("guessed").await;
    let status = wrong
        .precis()
        .detect_language(wrong.request(detect.clone()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "the API key is not valid");

    for key in ["inline-key-1", "file-key-2"] {
        let allowed = server.connect_with_key(key).await;
        let language = allowed
            .precis()
            .detect_language(allowed.request(detect.clone()))
            .await
            .unwrap()
            .into_inner()
            .language
            .unwrap();
        assert_eq!(language.language, "de");
    }
    // Health needs no key.
    assert_eq!(server.health().await, ServingStatus::Serving);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_stream_answers_in_order_and_one_bad_item_fails_alone() {
    let server = TestServer::start(settings()).await;
    let connection = server.connect().await;
    let articles = [
        ("first", HARBOUR_ARTICLE),
        ("second", SPANISH_ARTICLE),
        ("empty", "   "),
        ("fourth", HARBOUR_ARTICLE),
        ("fifth", SPANISH_ARTICLE),
        ("sixth", HARBOUR_ARTICLE),
    ];
    let requests: Vec<proto::DigestRequest> = articles
        .iter()
        .map(|(id, text)| proto::DigestRequest {
            client_id: id.to_string(),
            target_language: "es".into(),
            ..digest_request(text)
        })
        .collect();
    let mut results = connection
        .precis()
        .digest_stream(connection.request(tokio_stream::iter(requests)))
        .await
        .unwrap()
        .into_inner();
    let mut received = Vec::new();
    while let Some(result) = results.message().await.unwrap() {
        received.push(result);
    }
    assert_eq!(received.len(), articles.len());
    for (position, (result, (id, _))) in received.iter().zip(&articles).enumerate() {
        assert_eq!(result.index as usize, position);
        assert_eq!(&result.client_id, id);
        match (&result.result, *id) {
            (Some(ItemResult::Error(error)), "empty") => {
                assert_eq!(error.code, Code::InvalidArgument as i32);
                assert!(error.message.contains("empty"), "{}", error.message);
            }
            (Some(ItemResult::Digest(digest)), _) => {
                assert_eq!(&digest.client_id, id);
                assert!(digest.summary.is_some());
            }
            (other, _) => panic!("{id}: {other:?}"),
        }
    }
    let spanish = match &received[1].result {
        Some(ItemResult::Digest(digest)) => digest,
        other => panic!("{other:?}"),
    };
    assert_eq!(spanish.language.as_ref().unwrap().language, "es");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_turns_serving_only_after_the_models_are_loaded_and_warm() {
    let (release, gate) = oneshot::channel::<()>();
    let pipeline = async move {
        // The test decides when "loading" ends.
        let _ = gate.await;
        Ok(shared_pipeline())
    };
    let server = TestServer::start_with(settings(), pipeline, false).await;
    let connection = server.connect().await;
    assert_eq!(server.health().await, ServingStatus::NotServing);
    let status = connection
        .precis()
        .digest(connection.request(digest_request(HARBOUR_ARTICLE)))
        .await
        .unwrap_err();
    assert_status(&status, Code::Unavailable, "starting");

    release.send(()).unwrap();
    server.wait_serving().await;
    connection
        .precis()
        .digest(connection.request(digest_request(HARBOUR_ARTICLE)))
        .await
        .expect("serving after warm-up");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_start_up_stops_the_server_with_the_reason() {
    let pipeline = async { anyhow::bail!("the model directory /nowhere is missing") };
    let server = TestServer::start_with(settings(), pipeline, false).await;
    let error = server.wait_stopped().await.unwrap_err();
    assert!(error.to_string().contains("/nowhere"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_metrics_count_calls_stages_and_failures() {
    let pipeline = shared_pipeline();
    let server = TestServer::start_with(settings(), async move { Ok(pipeline) }, true).await;
    server.wait_serving().await;
    let connection = server.connect().await;
    connection
        .precis()
        .digest(connection.request(digest_request(HARBOUR_ARTICLE)))
        .await
        .unwrap();
    let _ = connection
        .precis()
        .digest(connection.request(digest_request("")))
        .await
        .unwrap_err();

    let metrics = scrape(server.metrics_address.unwrap()).await;
    for expected in [
        "precis_requests_total{rpc=\"Digest\",code=\"OK\"}",
        "precis_requests_total{rpc=\"Digest\",code=\"INVALID_ARGUMENT\"}",
        "precis_request_seconds_bucket{rpc=\"Digest\",code=\"OK\",le=",
        "precis_stage_seconds_bucket{stage=\"summarize\",le=",
        "precis_failures_total{error=\"invalid_argument\"}",
        "precis_queue_depth{pool=\"embeddings\"}",
    ] {
        assert!(metrics.contains(expected), "{expected} in\n{metrics}");
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_stream_stops_working_when_the_client_goes_away() {
    let mut settings = settings();
    settings.max_concurrent_requests = 1;
    // A pipeline of its own: the drops counted below are this test's.
    let pipeline = own_pipeline();
    let server = TestServer::start_on(settings, pipeline.clone()).await;
    let connection = server.connect().await;

    // Hold the one embedding worker, so the stream's articles wait in the model queue.
    let embeddings = &pipeline.engines.summarize.embeddings.as_ref().unwrap().pool;
    let counters = embeddings.counters();
    assert_eq!(dropped_jobs(counters), 0, "nothing dropped before the test");
    let blocker = embedding_blocker(embeddings, 600);
    wait_for_empty_queue(embeddings).await;
    let completed_before = counters.completed.load(Ordering::SeqCst);

    let (sender, receiver) = mpsc::channel(8);
    for index in 0..4 {
        sender
            .send(proto::DigestRequest {
                client_id: format!("article-{index}"),
                ..digest_request(HARBOUR_ARTICLE)
            })
            .await
            .unwrap();
    }
    let results = connection
        .precis()
        .digest_stream(connection.request(ReceiverStream::new(receiver)))
        .await
        .unwrap()
        .into_inner();
    // The articles' embedding jobs wait behind the blocker before the client goes away.
    wait_for_queue(embeddings, 1).await;
    drop(results);
    drop(sender);

    blocker.await.unwrap().expect("the blocker ran");
    wait_for_earlier_jobs(embeddings).await;
    let gone = counters.dropped_caller_gone.load(Ordering::SeqCst);
    assert!(
        gone >= 1,
        "the abandoned articles' model jobs were dropped: {gone}"
    );
    assert_eq!(
        counters.dropped_deadline.load(Ordering::SeqCst),
        0,
        "dropped because the caller left, not for time"
    );
    assert_eq!(
        counters.completed.load(Ordering::SeqCst) - completed_before,
        2,
        "no article of the abandoned stream ran: only the blocker and the job queued last"
    );
    // And the call let go of its admission permit: the one slot is free again.
    wait_until_admitted(&connection).await;
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_is_served_when_a_certificate_is_configured() {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let directory = tempfile::tempdir().unwrap();
    let cert = directory.path().join("cert.pem");
    let key = directory.path().join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    let mut settings = settings();
    settings.tls_cert = Some(cert);
    settings.tls_key = Some(key);
    let server = TestServer::start(settings).await;
    assert!(server.url().starts_with("https://"));

    let connection = server.connect().await;
    let language = connection
        .precis()
        .detect_language(connection.request(proto::DetectLanguageRequest {
            text: "The council approved the plan on Monday.".into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .language
        .unwrap();
    assert_eq!(language.language, "en");
    // A plaintext client gets no answer from a TLS port.
    let plaintext = precis::grpc::client::Connection::connect(
        &format!("http://{}", server.address),
        None,
        None,
    )
    .await;
    if let Ok(plaintext) = plaintext {
        assert!(plaintext.serving_status().await.is_err());
    }
    server.stop().await.unwrap();
}
