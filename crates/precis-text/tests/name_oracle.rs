//! The Apertium name oracle with the real `lt-proc` and analysers that `scripts/setup`
//! installs (Debian's apertium pair packages), and with stand-ins that die or hang.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use precis_text::name_oracle::{
    LtProcOracle, NameOracle, DEFAULT_APERTIUM_DIR, DEFAULT_REPLY_TIMEOUT,
    FIRST_PAUSE_AFTER_FAILURE, MAX_ANALYSER_BYTES, STARTUP_TIMEOUT_FACTOR,
};
use precis_text::quotes::{extract_quotes_with_names, extract_quotes_without_language};
use precis_text::segment::segment;

/// Generous bound for conditions on a loaded machine; hitting it fails the test.
const DEADLINE: Duration = Duration::from_secs(30);

fn installed() -> LtProcOracle {
    let oracle = LtProcOracle::discover(
        Path::new(DEFAULT_APERTIUM_DIR),
        "lt-proc",
        Duration::from_secs(10),
    );
    for language in ["en", "es", "fr", "it", "pt"] {
        assert!(
            oracle.languages().iter().any(|l| l == language),
            "no analyser for {language}: run scripts/setup"
        );
    }
    oracle
}

#[test]
fn the_analyser_tells_a_person_from_a_place() {
    let oracle = installed();
    let analyser = oracle.analyser_file("en");
    let tags = oracle
        .tag_words("en", &["John", "Madrid"])
        .expect("lt-proc answers");
    assert!(tags[0].person, "{tags:?} {analyser:?}");
    assert!(
        !tags[0].only_place_or_organisation(),
        "{tags:?} {analyser:?}"
    );
    assert!(
        tags[1].only_place_or_organisation(),
        "{tags:?} {analyser:?}"
    );
    assert_eq!(oracle.fallbacks(), 0);
}

#[test]
fn a_killed_child_is_restarted() {
    let oracle = installed();
    assert!(oracle.tag_words("en", &["John"]).is_some());
    let first = oracle.child_id("en").expect("a child runs");
    let killed = Command::new("kill")
        .arg("-9")
        .arg(first.to_string())
        .status();
    assert!(killed.is_ok_and(|status| status.success()));
    let started = Instant::now();
    loop {
        if let Some(tags) = oracle.tag_words("en", &["John"]) {
            assert!(tags[0].person);
            break;
        }
        assert!(started.elapsed() < DEADLINE, "no answer after the kill");
    }
    let second = oracle.child_id("en").expect("a child runs again");
    assert_ne!(first, second);
    assert!(oracle.restarts() >= 1, "the new child counts as a restart");
}

/// An Apertium directory with one empty analyser for English, run by `program`.
fn stand_in(name: &str, script: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("precis-oracle-{name}-{}", std::process::id()));
    let pair = dir.join("apertium-en-xx");
    std::fs::create_dir_all(&pair).unwrap();
    std::fs::write(pair.join("en-xx.automorf.bin"), b"").unwrap();
    let program = dir.join("fake-lt-proc");
    std::fs::write(&program, script).unwrap();
    let made_executable = Command::new("chmod").arg("+x").arg(&program).status();
    assert!(made_executable.is_ok_and(|status| status.success()));
    (dir, program)
}

#[test]
fn a_hung_child_times_out_and_the_rules_answer() {
    let (dir, program) = stand_in("hung", "#!/bin/sh\nexec sleep 600\n");
    let timeout = Duration::from_millis(300);
    let oracle = LtProcOracle::discover(&dir, &program, timeout);
    assert_eq!(oracle.languages(), ["en"]);
    let text = "Ann Lee opened the hall in Milano. \u{201c}We were cold,\u{201d} Milano said.";
    let seg = segment(text);
    let started = Instant::now();
    let with_oracle = extract_quotes_with_names(text, &seg, "en", &oracle);
    let elapsed = started.elapsed();
    assert!(
        // A fresh child's first reply may take STARTUP_TIMEOUT_FACTOR times the bound.
        elapsed < timeout * STARTUP_TIMEOUT_FACTOR + Duration::from_secs(5),
        "took {elapsed:?}"
    );
    assert_eq!(oracle.fallbacks(), 1);
    assert_eq!(with_oracle, extract_quotes_without_language(text, &seg));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_failing_analyser_is_paused_then_tried_again() {
    let (dir, program) = stand_in("paused", "#!/bin/sh\nexec sleep 600\n");
    let oracle = LtProcOracle::discover(&dir, &program, Duration::from_millis(200));
    assert_eq!(
        oracle.tag_words("en", &["Ann"]),
        None,
        "the hung child fails"
    );
    assert_eq!(oracle.restarts(), 0);
    // Within the pause the rules answer alone: no child is started, nothing is waited for.
    assert_eq!(oracle.tag_words("en", &["Ann"]), None);
    assert_eq!(oracle.child_id("en"), None, "no child during the pause");
    assert_eq!(oracle.restarts(), 0);
    assert_eq!(oracle.fallbacks(), 2);
    // After the pause a new child is tried.
    let started = Instant::now();
    while oracle.restarts() == 0 {
        assert_eq!(oracle.tag_words("en", &["Ann"]), None);
        assert!(
            started.elapsed() < DEADLINE,
            "no new child after {:?} (first pause {FIRST_PAUSE_AFTER_FAILURE:?})",
            started.elapsed()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_place_taken_for_a_speaker_is_dropped() {
    let oracle = installed();
    let text = "Ann Lee opened the hall. \u{201c}We were cold,\u{201d} London said.";
    let seg = segment(text);
    let rules = extract_quotes_without_language(text, &seg);
    assert_eq!(
        rules[0].speaker.as_ref().map(|s| s.name.as_str()),
        Some("London")
    );
    let with_oracle = extract_quotes_with_names(text, &seg, "en", &oracle);
    assert_eq!(with_oracle[0].speaker, None);
    assert!(with_oracle[0].confidence < rules[0].confidence);
}

#[test]
fn a_body_name_glued_before_a_person_is_cut_off() {
    let oracle = installed();
    let text = "\u{ab}Le bollette pesano\u{bb}, ha detto il presidente dell'associazione degli \
                inquilini Tuttacasa Marco Bellini.";
    let seg = segment(text);
    let rules = extract_quotes_without_language(text, &seg);
    assert_eq!(
        rules[0].speaker.as_ref().map(|s| s.name.as_str()),
        Some("Tuttacasa Marco Bellini")
    );
    let with_oracle = extract_quotes_with_names(text, &seg, "it", &oracle);
    let speaker = with_oracle[0].speaker.as_ref().expect("a speaker");
    assert_eq!(speaker.name, "Marco Bellini");
    assert_eq!(speaker.span.slice(text), "Marco Bellini");
    // A three-word name that opens with a first name is left whole.
    let text = "\u{ab}Siamo pronti\u{bb}, ha detto Marco Bellini Rossi.";
    let seg = segment(text);
    let with_oracle = extract_quotes_with_names(text, &seg, "it", &oracle);
    assert_eq!(
        with_oracle[0].speaker.as_ref().map(|s| s.name.as_str()),
        Some("Marco Bellini Rossi")
    );
}

#[test]
fn the_default_reply_bound_is_short() {
    assert!(DEFAULT_REPLY_TIMEOUT <= Duration::from_secs(1));
}

#[test]
fn an_analyser_too_large_to_load_fast_is_passed_over_for_a_smaller_one() {
    let dir = std::env::temp_dir().join(format!("precis-oracle-sizes-{}", std::process::id()));
    let write = |pair: &str, file: &str, bytes: usize| {
        std::fs::create_dir_all(dir.join(pair)).unwrap();
        std::fs::write(dir.join(pair).join(file), vec![0u8; bytes]).unwrap();
    };
    let over = MAX_ANALYSER_BYTES as usize + 1;
    write("apertium-fra-oci", "fra-oci.automorf.bin", over);
    write("apertium-fra-cat", "fra-cat.automorf.bin", 2000);
    write("apertium-fr-es", "fr-es.automorf.bin", 1000);
    // Only one, too large: taken all the same.
    write("apertium-ita-oci", "ita-oci.automorf.bin", over);
    let oracle = LtProcOracle::discover(&dir, "lt-proc", DEFAULT_REPLY_TIMEOUT);
    assert_eq!(
        oracle.analyser_file("fr"),
        Some(dir.join("apertium-fra-cat").join("fra-cat.automorf.bin"))
    );
    assert_eq!(
        oracle.analyser_file("it"),
        Some(dir.join("apertium-ita-oci").join("ita-oci.automorf.bin"))
    );
    std::fs::remove_dir_all(dir).unwrap();
}
