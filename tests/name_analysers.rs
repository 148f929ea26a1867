//! The Apertium name analysers in the service's quote path (issue #17): the real analysers
//! scripts/setup installs change a speaker the rules got wrong, and an analyser that hangs or
//! cannot run leaves the rules to answer, within a bounded time, counted in the metrics.
mod common;
mod grpc_support;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use grpc_support::{digest_request, scrape, TestServer, PATIENCE};
use precis::config::NameAnalyserSettings;
use precis::grpc::ServeSettings;
use precis::names::NameAnalysers;
use precis::pipeline::Pipeline;
use precis::proto;
use precis_text::name_oracle::NameOracle;

/// An English article written for this test, where the rules alone take a city for the
/// speaker of its quote.
const PLACE_AS_SPEAKER: &str = "\
Ann Lee opened the new ferry terminal on Tuesday after two years of works on the quay.

\u{201c}We were cold on that quay for years,\u{201d} London said.
";

/// The speaker the rules alone give the article's one quote.
fn rules_speaker() -> Option<String> {
    let segmentation = precis_text::segment::segment(PLACE_AS_SPEAKER);
    let quotes =
        precis_text::quotes::extract_quotes_without_language(PLACE_AS_SPEAKER, &segmentation);
    assert_eq!(quotes.len(), 1, "{quotes:?}");
    quotes[0]
        .speaker
        .as_ref()
        .map(|speaker| speaker.name.clone())
}

fn speakers(quotes: &[proto::Quote]) -> Vec<Option<String>> {
    quotes
        .iter()
        .map(|quote| quote.speaker.as_ref().map(|speaker| speaker.name.clone()))
        .collect()
}

/// An executable shell script in a fresh temporary directory, standing in for lt-proc.
fn fake_lt_proc(name: &str, script: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("precis-lt-proc-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let program = dir.join("lt-proc");
    std::fs::write(&program, script).unwrap();
    let made_executable = Command::new("chmod").arg("+x").arg(&program).status();
    assert!(made_executable.is_ok_and(|status| status.success()));
    program
}

/// The value of a metric line that starts with `series`, or 0 when it is absent.
fn metric_value(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next())
        .map_or(0.0, |value| value.parse().unwrap())
}

#[test]
fn the_installed_analysers_cover_the_dev_set_languages_but_german() {
    let analysers = NameAnalysers::start(&NameAnalyserSettings::default());
    let languages = analysers.languages();
    for language in ["en", "es", "fr", "it", "pt", "ca", "nl"] {
        assert!(
            languages.iter().any(|l| l == language),
            "no {language} analyser in {languages:?}: run scripts/setup"
        );
    }
    let tags = analysers
        .tag_words("en", &["London", "John"])
        .expect("lt-proc answers");
    assert!(tags[0].only_place_or_organisation(), "{tags:?}");
    assert!(tags[1].person, "{tags:?}");
}

#[test]
fn disabled_or_missing_analysers_leave_the_rules_alone() {
    let off = NameAnalysers::start(&NameAnalyserSettings {
        enabled: false,
        ..NameAnalyserSettings::default()
    });
    assert!(off.languages().is_empty());
    assert_eq!(off.tag_words("en", &["London"]), None);
    let missing = NameAnalysers::start(&NameAnalyserSettings {
        program: "no-such-lt-proc-program".into(),
        ..NameAnalyserSettings::default()
    });
    assert!(missing.languages().is_empty());
    assert_eq!(missing.tag_words("en", &["London"]), None);
}

#[test]
fn an_analyser_that_dies_at_once_leaves_the_rules_to_answer() {
    let program = fake_lt_proc("dies", "#!/bin/sh\nexit 3\n");
    let analysers = NameAnalysers::start(&NameAnalyserSettings {
        program: program.clone(),
        timeout_ms: 300,
        ..NameAnalyserSettings::default()
    });
    assert!(analysers.languages().iter().any(|l| l == "en"));
    let detector = precis_text::language::LanguageDetector::new();
    let segmentation = precis_text::segment::segment(PLACE_AS_SPEAKER);
    for _ in 0..2 {
        let started = Instant::now();
        let quotes = analysers.extract_quotes(PLACE_AS_SPEAKER, &segmentation, &detector, "en");
        assert!(started.elapsed() < PATIENCE, "took {:?}", started.elapsed());
        assert_eq!(
            quotes[0].speaker.as_ref().map(|s| s.name.clone()),
            rules_speaker()
        );
    }
    std::fs::remove_dir_all(program.parent().unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_checks_speakers_with_the_analyser() {
    assert_eq!(rules_speaker().as_deref(), Some("London"));
    let server = TestServer::start(grpc_support::settings()).await;
    let connection = server.connect().await;
    let quotes = connection
        .precis()
        .extract_quotes(connection.request(proto::ExtractQuotesRequest {
            text: PLACE_AS_SPEAKER.to_string(),
            max_quotes: 0,
        }))
        .await
        .unwrap()
        .into_inner()
        .quotes;
    // The English analyser knows London only as a place: no speaker rather than a wrong one.
    assert_eq!(speakers(&quotes), [None]);
    let digest = connection
        .precis()
        .digest(connection.request(digest_request(PLACE_AS_SPEAKER)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(speakers(&digest.quotes), [None]);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_analyser_is_replaced_the_rules_answer_and_the_metrics_count_it() {
    let program = fake_lt_proc("hangs", "#!/bin/sh\nexec sleep 600\n");
    let mut runtime = common::runtime_settings();
    runtime.names = NameAnalyserSettings {
        program: program.clone(),
        timeout_ms: 300,
        ..NameAnalyserSettings::default()
    };
    let (pipeline, _) =
        tokio::task::block_in_place(|| Pipeline::load(&runtime)).expect("the pipeline loads");
    let pipeline = Arc::new(pipeline);
    let server = TestServer::start_with(
        ServeSettings::new(runtime),
        async move { Ok(pipeline) },
        true,
    )
    .await;
    server.wait_serving().await;
    let connection = server.connect().await;
    let fallbacks_series = "precis_name_analyser_fallbacks_total{language=\"en\"}";
    let before = metric_value(
        &scrape(server.metrics_address.unwrap()).await,
        fallbacks_series,
    );
    // Digests keep coming while the analyser hangs: each gets the rules' answer, at once or
    // within the reply bound, and once the pause after a failure is over a new child is tried.
    let trying_since = Instant::now();
    let mut digests = 0;
    let metrics = loop {
        let started = Instant::now();
        let digest = tokio::time::timeout(
            PATIENCE,
            connection
                .precis()
                .digest(connection.request(digest_request(PLACE_AS_SPEAKER))),
        )
        .await
        .expect("the digest answers while the analyser hangs")
        .unwrap()
        .into_inner();
        digests += 1;
        assert!(started.elapsed() < PATIENCE, "took {:?}", started.elapsed());
        // The rules' answer, as if there were no analyser.
        assert_eq!(speakers(&digest.quotes), [rules_speaker()]);
        let metrics = scrape(server.metrics_address.unwrap()).await;
        if digests >= 2 && metric_value(&metrics, "precis_name_analyser_restarts_total") >= 1.0 {
            break metrics;
        }
        assert!(
            trying_since.elapsed() < PATIENCE,
            "no new analyser child was tried after {digests} digests:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let after = metric_value(&metrics, fallbacks_series);
    assert!(after >= before + 2.0, "{before} -> {after} in\n{metrics}");
    server.stop().await.unwrap();
    std::fs::remove_dir_all(program.parent().unwrap()).unwrap();
}
