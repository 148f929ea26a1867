//! The whole digest with translation, on the shared sample article (read from ../shared at test
//! time, never copied into the repo) and on articles the team wrote.
mod common;

use precis::pipeline::{Digest, Pipeline};
use precis::validate::{validate_digest, DigestInput, Limits};
use precis_translate::EngineKind;

fn sample_article() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/samples/voa-iran-islamic-state.txt");
    std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "the shared sample article {} is missing: {error}",
            path.display()
        )
    })
}

fn pipeline() -> Pipeline {
    let (pipeline, statuses) = Pipeline::load(&common::runtime_settings()).unwrap();
    assert!(statuses.iter().all(|s| s.ready), "{statuses:?}");
    assert!(
        !pipeline.capabilities().translation_pairs.is_empty(),
        "no Apertium pair is installed: run scripts/setup"
    );
    pipeline
}

async fn digest_to(pipeline: &Pipeline, text: &str, target: &str) -> Digest {
    let request = validate_digest(
        DigestInput {
            text: text.to_string(),
            target_language: target.to_string(),
            ..DigestInput::default()
        },
        &Limits::default(),
    )
    .unwrap();
    pipeline.digest(&request, None).await.unwrap()
}

/// The surname of each speaker the quotes name ("Khamenei" for "Ayatollah Ali Khamenei").
fn speaker_surnames(digest: &Digest) -> Vec<String> {
    let mut surnames: Vec<String> = digest
        .quotes
        .iter()
        .filter_map(|key_quote| key_quote.quote.speaker.as_ref())
        .filter_map(|speaker| speaker.name.split_whitespace().last())
        .filter(|word| word.starts_with(char::is_uppercase))
        .map(str::to_string)
        .collect();
    surnames.sort();
    surnames.dedup();
    surnames
}

/// Each speaker's surname written in an original is written, unchanged, in its translation;
/// returns how many (original, surname) occurrences were checked.
fn assert_speakers_kept(originals_and_translations: &[(&str, &str)], surnames: &[String]) -> usize {
    let mut checked = 0;
    for (original, translated) in originals_and_translations {
        for surname in surnames {
            let written = original.matches(surname.as_str()).count();
            if written > 0 {
                assert_eq!(
                    translated.matches(surname.as_str()).count(),
                    written,
                    "{surname} as often in the translation as in the original:\n{original}\n{translated}"
                );
                checked += 1;
            }
        }
    }
    checked
}

/// Every quote is translated, precis detects the translations (together) as `target`, and each
/// speaker's name written in the summary or a quote is written unchanged in its translation.
async fn assert_translated(target: &str) -> Digest {
    let pipeline = pipeline();
    let digest = digest_to(&pipeline, &sample_article(), target).await;
    assert_eq!(digest.quotes.len(), 9, "the sample has nine direct quotes");
    let mut translated_quotes = Vec::new();
    for key_quote in &digest.quotes {
        let translation = key_quote
            .translation
            .as_ref()
            .unwrap_or_else(|| panic!("quote not translated: {:?}", key_quote.quote.text));
        assert_eq!(translation.target_language, target);
        assert_eq!(translation.engine_kind, Some(EngineKind::RuleBased));
        assert!(!translation.engines.is_empty());
        assert_ne!(
            translation.text, key_quote.quote.text,
            "an actual translation"
        );
        assert!(translation.unpreserved_terms.is_empty(), "{translation:?}");
        translated_quotes.push(translation.text.clone());
    }
    let all = translated_quotes.join(" ");
    let detected = pipeline.detector().detect(&all);
    assert_eq!(detected.iso639_1, target, "{all}");
    // The longer quotes are each recognisably in the target language on their own.
    for text in translated_quotes
        .iter()
        .filter(|t| t.split_whitespace().count() >= 8)
    {
        assert_eq!(pipeline.detector().detect(text).iso639_1, target, "{text}");
    }
    let summary = digest
        .translated_summary
        .as_ref()
        .expect("the summary is translated");
    assert_eq!(
        pipeline.detector().detect(&summary.text).iso639_1,
        target,
        "{}",
        summary.text
    );
    let surnames = speaker_surnames(&digest);
    assert!(
        ["Khamenei", "Psaki", "Kerry"]
            .iter()
            .all(|name| surnames.iter().any(|s| s == name)),
        "{surnames:?}"
    );
    let mut pairs = vec![(
        digest.summary.as_ref().unwrap().text.as_str(),
        summary.text.as_str(),
    )];
    for key_quote in &digest.quotes {
        pairs.push((
            key_quote.quote.text.as_str(),
            key_quote.translation.as_ref().unwrap().text.as_str(),
        ));
    }
    let checked = assert_speakers_kept(&pairs, &surnames);
    assert!(
        checked >= 1,
        "the summary names a speaker, so a name is checked in the output: {}",
        digest.summary.as_ref().unwrap().text
    );
    digest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_to_spanish_translates_every_quote_and_keeps_speakers() {
    let digest = assert_translated("es").await;
    for key_quote in &digest.quotes {
        assert_eq!(
            key_quote.translation.as_ref().unwrap().engines,
            vec!["apertium/eng-spa"]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_to_catalan_uses_the_direct_pair() {
    let digest = assert_translated("ca").await;
    assert_eq!(
        digest.quotes[0].translation.as_ref().unwrap().engines,
        vec!["apertium/eng-cat"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_to_portuguese_pivots_through_spanish() {
    let digest = assert_translated("pt").await;
    let engines = &digest.quotes[0].translation.as_ref().unwrap().engines;
    assert_eq!(engines.len(), 2, "en→es→pt: {engines:?}");
    assert!(
        engines[0].contains("eng-spa") && engines[1].contains("es-pt"),
        "{engines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_to_german_keeps_quotes_untranslated_with_a_warning() {
    let pipeline = pipeline();
    let digest = digest_to(&pipeline, &sample_article(), "de").await;
    assert_eq!(digest.quotes.len(), 9);
    assert!(digest.quotes.iter().all(|q| q.translation.is_none()));
    assert!(digest.translated_summary.is_none());
    let warning = digest.warnings.join("\n");
    assert!(
        warning.contains("from en to de") && warning.contains("untranslated"),
        "{warning}"
    );
    assert!(
        warning.contains("en→es"),
        "the warning lists the pairs that exist: {warning}"
    );
    assert!(
        warning.contains("precis models pull Helsinki-NLP/opus-mt-en-de"),
        "the warning names the command that would add the pair: {warning}"
    );
    // …and the many-to-many model that serves it whatever the pair (tests/hub_pull.rs pulls
    // exactly that repository id and translates through it).
    assert!(
        warning.contains(&format!(
            "precis models pull {}",
            precis::translate::MANY_TO_MANY_SUGGESTION
        )),
        "{warning}"
    );
}

/// Every Romance language reachable from English, with what precis's detector can say of it.
const ROMANCE: [&str; 10] = ["es", "ca", "gl", "pt", "it", "fr", "ro", "oc", "an", "sc"];

/// Reachable, but below the bar below on the team's check of the sample (Aragonese, from
/// Spanish: 7 of 9 quotes score 0.6+, the others keep Spanish words Apertium's spa-arg does not
/// know). Every quote must still be translated with every name intact; the scores are printed.
const BELOW_THE_BAR: [&str; 1] = ["an"];

/// A score a translation with at most about one unknown or copied word in twenty reaches.
const CLEAN_SCORE: f32 = 0.6;

/// Each reachable Romance target: every quote translated (each speaker's name intact); precis
/// detects at least 8 of the 9 as the target where it detects that language, and where it does
/// not (Galician, Occitan…), the quality score stands in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_to_every_reachable_romance_target() {
    let pipeline = pipeline();
    let capabilities = pipeline.capabilities();
    let reachable: Vec<&str> = ROMANCE
        .into_iter()
        .filter(|target| {
            capabilities
                .translation_routes
                .iter()
                .any(|r| r.route.source == "en" && r.route.target == *target)
        })
        .collect();
    for required in ["es", "ca", "gl", "pt", "it", "fr", "oc"] {
        assert!(
            reachable.contains(&required),
            "en→{required} is not reachable: run scripts/setup ({reachable:?})"
        );
    }
    let detectable: Vec<String> = capabilities.detectable_languages.clone();
    let article = sample_article();
    let mut report = Vec::new();
    for target in &reachable {
        let digest = digest_to(&pipeline, &article, target).await;
        assert_eq!(digest.quotes.len(), 9, "the sample has nine direct quotes");
        let surnames = speaker_surnames(&digest);
        let summary = digest.summary.as_ref().expect("a summary");
        let translated_summary = digest
            .translated_summary
            .as_ref()
            .unwrap_or_else(|| panic!("{target}: the summary is translated"));
        let mut pairs = vec![(summary.text.as_str(), translated_summary.text.as_str())];
        let mut detected_as_target = 0;
        let mut scores = Vec::new();
        for key_quote in &digest.quotes {
            let translation = key_quote.translation.as_ref().unwrap_or_else(|| {
                panic!("{target}: quote not translated: {:?}", key_quote.quote.text)
            });
            assert_eq!(translation.target_language, *target);
            assert_ne!(translation.text, key_quote.quote.text, "{target}");
            assert!(translation.unpreserved_terms.is_empty(), "{translation:?}");
            pairs.push((key_quote.quote.text.as_str(), translation.text.as_str()));
            if pipeline.detector().detect(&translation.text).iso639_1 == *target {
                detected_as_target += 1;
            }
            let quality = translation
                .quality
                .as_ref()
                .expect("every translation is scored");
            assert!((0.0..=1.0).contains(&quality.score), "{quality:?}");
            assert_eq!(quality.route_hops as usize, translation.engines.len());
            scores.push(quality.score);
        }
        assert!(
            assert_speakers_kept(&pairs, &surnames) >= 1,
            "{target}: the summary names a speaker, so a name is checked"
        );
        let mean = scores.iter().sum::<f32>() / scores.len() as f32;
        if BELOW_THE_BAR.contains(target) {
            println!("{target} (below the bar, not asserted): scores {scores:.2?}");
        } else if detectable.iter().any(|language| language == target) {
            assert!(
                detected_as_target >= 8,
                "{target}: only {detected_as_target} of 9 quotes detected as {target}"
            );
        } else {
            // Not a language precis detects: the score (unknown and copied words, route
            // length) stands in, with the same bar: at least 8 of 9 look clean.
            let clean = scores.iter().filter(|score| **score >= CLEAN_SCORE).count();
            assert!(
                clean >= 8,
                "{target}: only {clean} of 9 score {CLEAN_SCORE}+: {scores:?}"
            );
        }
        report.push(format!(
            "{target}: {} detected {detected_as_target}/9, mean score {mean:.2}, scores {scores:.2?}",
            digest.quotes[0]
                .translation
                .as_ref()
                .unwrap()
                .engines
                .join(" → ")
        ));
    }
    println!("{}", report.join("\n"));
}

/// On the sample to French (through Spanish), the quotes whose translation keeps Spanish words
/// (words the French engine did not know) score below every clean one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_to_french_scores_translations_that_keep_spanish_words_lower() {
    let pipeline = pipeline();
    let digest = digest_to(&pipeline, &sample_article(), "fr").await;
    let mut with_leftovers = Vec::new();
    let mut clean = Vec::new();
    for key_quote in &digest.quotes {
        let translation = key_quote.translation.as_ref().expect("translated");
        let quality = translation.quality.as_ref().expect("scored");
        println!(
            "{:.2} unknown={:?} copied={:?} detected={:?} {:.2}",
            quality.score,
            quality.unknown_words,
            quality.source_words_left,
            quality.detected_language,
            quality.detection_confidence
        );
        if quality.unknown_words.is_empty() {
            clean.push(quality.score);
        } else {
            with_leftovers.push(quality.score);
        }
    }
    assert!(
        !with_leftovers.is_empty() && !clean.is_empty(),
        "the sample to French has both kinds: {with_leftovers:?} {clean:?}"
    );
    let worst_clean = clean.iter().cloned().fold(f32::INFINITY, f32::min);
    let best_with_leftovers = with_leftovers.iter().cloned().fold(0.0, f32::max);
    assert!(
        best_with_leftovers < worst_clean,
        "leftovers {with_leftovers:?} vs clean {clean:?}"
    );
    // The digest option leaves the low scorers untranslated, each with a warning.
    let request = validate_digest(
        DigestInput {
            text: sample_article(),
            target_language: "fr".to_string(),
            min_translation_quality: (best_with_leftovers + worst_clean) / 2.0,
            ..DigestInput::default()
        },
        &Limits::default(),
    )
    .unwrap();
    let filtered = pipeline.digest(&request, None).await.unwrap();
    let untranslated = filtered
        .quotes
        .iter()
        .filter(|q| q.translation.is_none())
        .count();
    assert_eq!(untranslated, with_leftovers.len());
    let warnings = filtered.warnings.join("\n");
    assert_eq!(
        warnings.matches("below the minimum").count(),
        with_leftovers.len(),
        "{warnings}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_language_target_is_a_no_op() {
    let pipeline = pipeline();
    let text = "The council approved the harbour plan on Monday. \
                \"This is a good day for the port,\" the mayor, Ana Ruiz, said after the vote.";
    let digest = digest_to(&pipeline, text, "en-GB").await;
    let translation = digest.quotes[0].translation.as_ref().unwrap();
    assert_eq!(translation.text, digest.quotes[0].quote.text);
    assert!(translation.engines.is_empty() && translation.engine_kind.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_target_language_is_an_invalid_argument() {
    let error = validate_digest(
        DigestInput {
            text: "The bridge opens on Saturday.".into(),
            target_language: "klingon!".into(),
            ..DigestInput::default()
        },
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(error.kind(), "invalid_argument", "{error}");
    assert!(error.to_string().contains("target_language"), "{error}");
}

/// The README's "9 of 9 with the right speaker": the sample's nine direct quotes, in article
/// order, each with the speaker the article gives it (read from the article; Massoum is only
/// paraphrased there). The quotes are checked by their speakers' order, so none of the
/// sample's words are kept in the repository.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_s_nine_quotes_each_have_the_speaker_the_article_names() {
    let expected = [
        "Khamenei",
        "Khamenei",
        "Khamenei",
        "Psaki",
        "Psaki",
        "Psaki",
        "Kerry",
        "Amir-Abdollahian",
        "Amir-Abdollahian",
    ];
    let pipeline = pipeline();
    let request = validate_digest(
        DigestInput {
            text: sample_article(),
            ..DigestInput::default()
        },
        &Limits::default(),
    )
    .unwrap();
    let digest = pipeline.digest(&request, None).await.unwrap();
    let speakers: Vec<Option<&str>> = digest
        .quotes
        .iter()
        .map(|key_quote| key_quote.quote.speaker.as_ref().map(|s| s.name.as_str()))
        .collect();
    assert_eq!(speakers.len(), expected.len(), "{speakers:#?}");
    for (index, (speaker, surname)) in speakers.iter().zip(expected).enumerate() {
        let speaker = speaker.unwrap_or_else(|| panic!("quote {index} has no speaker"));
        assert!(
            speaker.contains(surname),
            "quote {index} is attributed to {speaker:?}; the article says {surname}"
        );
    }
}
