//! The Apertium engine for real: these tests need the packages `scripts/setup` installs and fail
//! (never skip) when they are missing.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use precis_translate::apertium::{self, ApertiumConfig, ApertiumEngine};
use precis_translate::{
    translate_article, FaithfulOptions, LanguagePair, QuoteToTranslate, Router, TranslateError,
    Translator,
};

fn installed_engines() -> Vec<Arc<ApertiumEngine>> {
    let config = ApertiumConfig::default();
    if let Err(error) = apertium::check_installation(&config) {
        panic!("Apertium is required for these tests ({error}). Run the project's setup script: scripts/setup");
    }
    apertium::start_installed(&config).unwrap_or_else(|error| {
        panic!("cannot start Apertium ({error}). Run the project's setup script: scripts/setup")
    })
}

fn engine_for(source: &str, target: &str) -> Arc<ApertiumEngine> {
    let pair = LanguagePair::new(source, target);
    installed_engines()
        .into_iter()
        .find(|engine| engine.info().pair == pair)
        .unwrap_or_else(|| {
            panic!("Apertium pair {pair} is not installed. Run the project's setup script: scripts/setup")
        })
}

fn router() -> Router {
    let mut router = Router::new();
    for engine in installed_engines() {
        router.register(engine);
    }
    router
}

fn soon() -> Option<Instant> {
    Some(Instant::now() + Duration::from_secs(30))
}

/// Waits until `pid` has died: gone, or a zombie until the engine (its parent) reaps it. Fails the
/// test if it still runs after a generous while.
fn wait_until_dead(pid: u32) {
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return;
        };
        // The state follows the command name, which is in parentheses and may hold spaces.
        let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
        if state.is_some_and(|rest| rest.starts_with('Z') || rest.starts_with('X')) {
            return;
        }
        assert!(
            Instant::now() < until,
            "process {pid} still runs after SIGKILL"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn words_of(text: &str) -> Vec<String> {
    text.split(|character: char| !character.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

#[test]
fn discovers_the_pairs_setup_installs_in_iso639_1() {
    let modes = apertium::discover_modes(&ApertiumConfig::default())
        .unwrap_or_else(|error| panic!("{error}. Run the project's setup script: scripts/setup"));
    let pairs: Vec<String> = modes.iter().map(|mode| mode.pair.to_string()).collect();
    for expected in [
        "en→es", "es→en", "en→ca", "ca→en", "en→gl", "gl→en", "fr→es", "es→fr", "es→pt", "pt→es",
        "es→it", "it→es", // the first six packages
        "ca→sc", "es→oc", "fr→oc", "ca→it", "es→gl", "pt→gl", "ro→es", "en→hr", "en→sr", "sr→en",
        "ru→uk", "uk→ru", "id→ms", "af→nl", "ur→hi", "nb→nn",
        "sv→da", // scripts/apertium-pairs
    ] {
        assert!(
            pairs.iter().any(|pair| pair == expected),
            "{expected} not discovered among {pairs:?}; run scripts/setup"
        );
    }
    // Variants such as es-pt_BR or eng-cat_valencia are not separate pairs; a Catalan target
    // comes from eng-cat, not from one of its variants.
    assert!(
        modes
            .iter()
            .any(|mode| mode.name == "eng-cat" && mode.pair == LanguagePair::new("en", "ca")),
        "{pairs:?}"
    );
    let mut unique = pairs.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), pairs.len(), "{pairs:?}");
    let eng_spa = modes
        .iter()
        .find(|mode| mode.name == "eng-spa")
        .unwrap_or_else(|| panic!("eng-spa missing"));
    assert_eq!(eng_spa.pair, LanguagePair::new("en", "es"));
}

#[test]
fn english_to_spanish_output_is_spanish() {
    let engine = engine_for("en", "es");
    let texts = vec![
        "The government said the new school will open next week.".to_string(),
        "We need more water and food for the children.".to_string(),
        "The city council voted against the plan on Tuesday.".to_string(),
    ];
    let translated = engine
        .translate_batch(&texts, soon())
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(translated.len(), 3);
    let words: Vec<String> = translated.iter().flat_map(|text| words_of(text)).collect();
    for expected in [
        "gobierno",
        "escuela",
        "agua",
        "niños",
        "ayuntamiento",
        "martes",
    ] {
        assert!(
            words.contains(&expected.to_string()),
            "{expected:?} missing from {translated:?}"
        );
    }
    for english in ["government", "school", "water", "children"] {
        assert!(
            !words.contains(&english.to_string()),
            "{english:?} left in {translated:?}"
        );
    }
}

#[test]
fn names_and_numbers_survive_translation() {
    let router = router();
    let plan = router
        .plan("en", "es")
        .unwrap_or_else(|error| panic!("{error}"));
    let quotes = vec![
        QuoteToTranslate {
            text: "Said told reporters that 3.5 million people had left the region.".to_string(),
            speaker: Some("Edward Said".to_string()),
        },
        QuoteToTranslate {
            text: "Rose said that Will Smith and Mark Price will meet Hope Hicks in 2025, with 40% of the budget."
                .to_string(),
            speaker: Some("Rose Grant".to_string()),
        },
    ];
    let translation = translate_article(&plan, &quotes, None, &FaithfulOptions::default(), soon())
        .unwrap_or_else(|error| panic!("{error}"));
    let first = &translation.quotes[0];
    assert_eq!(first.original, quotes[0].text);
    assert!(
        first.translated.starts_with("Said "),
        "{}",
        first.translated
    );
    assert!(first.translated.contains("3.5"), "{}", first.translated);
    assert!(
        words_of(&first.translated).contains(&"millones".to_string()),
        "{}",
        first.translated
    );
    let second = &translation.quotes[1];
    for term in [
        "Rose",
        "Will Smith",
        "Mark Price",
        "Hope Hicks",
        "2025",
        "40%",
    ] {
        assert!(
            second.translated.contains(term),
            "{term:?} lost: {}",
            second.translated
        );
    }
    for translation in &translation.quotes {
        assert!(translation.missing_terms.is_empty(), "{translation:?}");
        assert!(!translation.translated.contains('⟦'), "{translation:?}");
    }
    // Without protection Apertium turns the name "Will Smith" into "el herrero": protection is
    // what keeps it.
    let unprotected = engine_for("en", "es")
        .translate_batch(
            &["They said that Will Smith met Mark Price.".to_string()],
            soon(),
        )
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(
        !unprotected[0].contains("Smith") && !unprotected[0].contains("Price"),
        "{unprotected:?}"
    );
}

#[test]
fn pivot_translates_english_to_portuguese_through_spanish() {
    let router = router();
    let plan = router
        .plan("en", "pt-BR")
        .unwrap_or_else(|error| panic!("{error}"));
    let hops: Vec<&str> = plan
        .route()
        .hops
        .iter()
        .map(|hop| hop.engine_id.as_str())
        .collect();
    assert_eq!(hops, vec!["apertium/eng-spa", "apertium/es-pt"]);
    let quotes = vec![QuoteToTranslate {
        text: "Kerry said the government needs 12 new schools.".to_string(),
        speaker: Some("John Kerry".to_string()),
    }];
    let translation = translate_article(&plan, &quotes, None, &FaithfulOptions::default(), soon())
        .unwrap_or_else(|error| panic!("{error}"));
    let translated = &translation.quotes[0].translated;
    let words = words_of(translated);
    assert!(translated.starts_with("Kerry"), "{translated}");
    assert!(translated.contains("12"), "{translated}");
    assert!(words.contains(&"governo".to_string()), "{translated}");
    assert!(words.contains(&"escolas".to_string()), "{translated}");
}

#[test]
fn pipeline_restarts_after_its_process_is_killed() {
    let engine = engine_for("en", "es");
    engine
        .warm_up(soon())
        .unwrap_or_else(|error| panic!("{error}"));
    let pids = engine.pipeline_pids();
    assert!(
        pids.len() > 3,
        "expected a multi-program pipeline, got {pids:?}"
    );
    let victim = pids[pids.len() / 2];
    let status = Command::new("kill")
        .args(["-9", &victim.to_string()])
        .status()
        .unwrap_or_else(|error| panic!("cannot run kill: {error}"));
    assert!(status.success());
    // The next batch finds the pipeline dead, not dying.
    wait_until_dead(victim);
    let translated = engine
        .translate_batch(&["The water is cold.".to_string()], soon())
        .unwrap_or_else(|error| panic!("no translation after restart: {error}"));
    assert!(
        words_of(&translated[0]).contains(&"agua".to_string()),
        "{translated:?}"
    );
    assert_eq!(engine.restart_count(), 1);
    let new_pids = engine.pipeline_pids();
    assert!(
        !new_pids.contains(&victim),
        "{new_pids:?} still has {victim}"
    );
}

#[test]
fn a_stuck_pipeline_is_an_engine_timeout_not_the_caller_s_deadline_and_is_replaced() {
    let config = ApertiumConfig {
        batch_timeout: Duration::from_secs(2),
        ..ApertiumConfig::default()
    };
    let mode = apertium::discover_modes(&config)
        .unwrap_or_else(|error| panic!("{error}. Run the project's setup script: scripts/setup"))
        .into_iter()
        .find(|mode| mode.name == "eng-spa")
        .unwrap_or_else(|| panic!("eng-spa is not installed. Run scripts/setup"));
    let engine = ApertiumEngine::start(&mode, &config).unwrap_or_else(|error| panic!("{error}"));
    engine
        .warm_up(soon())
        .unwrap_or_else(|error| panic!("{error}"));
    // A stopped process neither reads nor dies: the pipeline hangs, as a stuck one does.
    let pids = engine.pipeline_pids();
    let stuck = pids[pids.len() / 2];
    let status = Command::new("kill")
        .args(["-STOP", &stuck.to_string()])
        .status()
        .unwrap_or_else(|error| panic!("cannot run kill: {error}"));
    assert!(status.success());
    let started = Instant::now();
    // No caller deadline: only the engine's own limit can end this batch.
    let result = engine.translate_batch(&["The water is cold.".to_string()], None);
    assert_eq!(
        result,
        Err(TranslateError::EngineTimedOut {
            engine: "apertium/eng-spa".into(),
            waited_ms: 2000,
        })
    );
    let message = result.unwrap_err().to_string();
    assert!(message.contains("no answer within 2.0 s"), "{message}");
    // The caller gives up 5 s after the limit: an earlier answer came from the worker.
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
    // SIGKILL ends a stopped process too: the stuck pipeline is gone and a fresh one answers.
    wait_until_dead(stuck);
    let translated = engine
        .translate_batch(&["The water is cold.".to_string()], soon())
        .unwrap_or_else(|error| panic!("no translation after the restart: {error}"));
    assert!(
        words_of(&translated[0]).contains(&"agua".to_string()),
        "{translated:?}"
    );
    assert_eq!(engine.restart_count(), 1);
}

/// Bytes `pid` has read so far, from its input and its files (`rchar` in /proc/PID/io).
fn bytes_read(pid: u32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io"))
        .unwrap_or_else(|error| panic!("cannot read /proc/{pid}/io: {error}"));
    io.lines()
        .find_map(|line| line.strip_prefix("rchar:"))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or_else(|| panic!("no rchar in /proc/{pid}/io: {io}"))
}

#[test]
fn pipeline_killed_in_the_middle_of_a_batch_is_retried() {
    let engine = engine_for("en", "es");
    engine
        .warm_up(soon())
        .unwrap_or_else(|error| panic!("{error}"));
    let pids = engine.pipeline_pids();
    let read_before: Vec<u64> = pids.iter().map(|&pid| bytes_read(pid)).collect();
    // Seconds of work for Apertium, so the kill below lands while it is under way.
    let sentence = "The minister said that the government would build many new schools and hospitals in the northern provinces next year. ";
    let texts: Vec<String> = (0..500).map(|_| sentence.repeat(5)).collect();
    let batch = {
        let engine = Arc::clone(&engine);
        let texts = texts.clone();
        std::thread::spawn(move || {
            engine.translate_batch(&texts, Some(Instant::now() + Duration::from_secs(60)))
        })
    };
    // The batch is in the pipeline once its programs read it.
    let until = Instant::now() + Duration::from_secs(120);
    while pids
        .iter()
        .zip(&read_before)
        .all(|(&pid, &before)| bytes_read(pid) == before)
    {
        assert!(Instant::now() < until, "the pipeline never read the batch");
        std::thread::sleep(Duration::from_millis(1));
    }
    for pid in &pids {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
    let translated = batch
        .join()
        .expect("the caller thread ran")
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(translated.len(), texts.len());
    assert!(translated
        .iter()
        .all(|text| words_of(text).contains(&"escuelas".to_string())));
    assert_eq!(
        engine.restart_count(),
        1,
        "one fresh pipeline took over the batch cut in the middle"
    );
}

#[test]
fn a_deadline_in_the_past_is_deadline_exceeded_not_a_hang() {
    let engine = engine_for("en", "es");
    let started = Instant::now();
    let past = Instant::now()
        .checked_sub(Duration::from_millis(10))
        .unwrap_or_else(Instant::now);
    let result = engine.translate_batch(&["Hello.".to_string()], Some(past));
    assert_eq!(result, Err(TranslateError::DeadlineExceeded));
    // Generous for a loaded machine: the answer is the proof, the bound only catches a hang.
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_deadline_hit_mid_batch_kills_the_pipeline_and_the_next_batch_works() {
    let engine = engine_for("en", "es");
    engine
        .warm_up(soon())
        .unwrap_or_else(|error| panic!("{error}"));
    // 2.4 MB of text: Apertium needs well over ten seconds for all of it (2.5 s for a tenth of
    // it on a loaded 2-core machine). The deadline leaves time to reach the pipeline even on a
    // loaded machine, so the batch is cut in the middle, not refused before it starts.
    let sentence = "The minister said that the government would build many new schools and hospitals in the northern provinces next year. ";
    let texts: Vec<String> = (0..4000).map(|_| sentence.repeat(5)).collect();
    let budget = Duration::from_secs(2);
    let started = Instant::now();
    let result = engine.translate_batch(&texts, Some(Instant::now() + budget));
    assert_eq!(result, Err(TranslateError::DeadlineExceeded));
    // The caller itself gives up 5 s after the deadline: a reply before that came from the
    // worker stopping the batch.
    assert!(
        started.elapsed() < budget + Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let translated = engine
        .translate_batch(&["The water is cold.".to_string()], soon())
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(
        words_of(&translated[0]).contains(&"agua".to_string()),
        "{translated:?}"
    );
    assert_eq!(
        engine.restart_count(),
        1,
        "the pipeline killed mid-batch was replaced by a fresh one"
    );
}

#[test]
fn unsupported_pair_names_the_installed_pairs() {
    let router = router();
    match router.plan("en", "de") {
        Err(error @ TranslateError::UnsupportedPair { .. }) => {
            let message = error.to_string();
            assert!(message.contains("en→es"), "{message}");
            assert!(message.contains("es→pt"), "{message}");
            assert!(message.contains("from en to de"), "{message}");
        }
        other => panic!("expected UnsupportedPair, got {other:?}"),
    }
}

#[test]
fn unknown_word_markers_are_removed_and_reported() {
    let engine = engine_for("en", "es");
    let outputs = engine
        .translate_batch_annotated(
            &["The zorblax ate the cake.".to_string(), "  ".to_string()],
            soon(),
        )
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(outputs[0].text.contains("zorblax"), "{outputs:?}");
    assert!(!outputs[0].text.contains('*'), "{outputs:?}");
    assert_eq!(outputs[0].unknown_words, vec!["zorblax"]);
    // Blank input comes back as it was, without a round trip.
    assert_eq!(outputs[1].text, "  ");
}

#[test]
fn reserved_characters_and_many_segments_stay_aligned() {
    let engine = engine_for("en", "es");
    let texts = vec![
        "Prices rose [sic] by 5% ^ $ / @ < > { } \\ * # today.".to_string(),
        String::new(),
        "Line one.\nLine two.".to_string(),
        "The dog barks.".to_string(),
    ];
    let translated = engine
        .translate_batch(&texts, soon())
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(translated.len(), 4);
    for reserved in [
        "[sic]", "5%", "^", "$", "/", "@", "<", ">", "{", "}", "\\", "*", "#",
    ] {
        assert!(
            translated[0].contains(reserved),
            "{reserved:?} lost: {:?}",
            translated[0]
        );
    }
    assert_eq!(translated[1], "");
    assert!(translated[2].contains('\n'), "{:?}", translated[2]);
    assert!(
        words_of(&translated[3]).contains(&"perro".to_string()),
        "{:?}",
        translated[3]
    );
}

#[test]
fn french_to_english_pivots_through_spanish() {
    let router = router();
    let plan = router
        .plan("fr", "en")
        .unwrap_or_else(|error| panic!("{error}"));
    let hops: Vec<&str> = plan
        .route()
        .hops
        .iter()
        .map(|hop| hop.engine_id.as_str())
        .collect();
    assert_eq!(hops, vec!["apertium/fr-es", "apertium/spa-eng"]);
    let outputs = plan
        .translate_batch(
            &["Le ministre a parlé avec les enfants.".to_string()],
            soon(),
        )
        .unwrap_or_else(|error| panic!("{error}"));
    let words = words_of(&outputs[0].text);
    for expected in ["minister", "spoken"] {
        assert!(words.contains(&expected.to_string()), "{outputs:?}");
    }
}

#[test]
fn concurrent_callers_each_get_their_own_translations() {
    let engine = engine_for("en", "es");
    let callers: Vec<_> = (0..4)
        .map(|caller| {
            let engine = Arc::clone(&engine);
            std::thread::spawn(move || {
                for round in 0..5 {
                    let number = caller * 100 + round;
                    let texts = vec![
                        format!("The house number {number} is red."),
                        format!("The dog number {number} is old."),
                    ];
                    let translated = engine
                        .translate_batch(&texts, soon())
                        .unwrap_or_else(|error| panic!("{error}"));
                    let label = number.to_string();
                    assert!(
                        translated[0].contains(&label) && translated[0].contains("casa"),
                        "{translated:?}"
                    );
                    assert!(
                        translated[1].contains(&label) && translated[1].contains("perro"),
                        "{translated:?}"
                    );
                }
            })
        })
        .collect();
    for caller in callers {
        if caller.join().is_err() {
            panic!("a caller thread failed");
        }
    }
}
