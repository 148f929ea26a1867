//! Checks the language detector on the team's own development set (`devdata/langid`), never
//! on the evaluation data: accuracy of precis and of lingua alone, how often precis agrees
//! with lingua, which stage answered, and precis' throughput on one core; the same on the
//! lines' single words, word pairs and 3-, 4- and 5-word fragments (short text).
//!
//! `cargo run --release -p precis-text --example langid_dev [-- DIR]`. `PATHS_ONLY=1`: time per
//! stage only (any directory of `<code>.txt` files); `PRINT_FRAGMENT_ERRORS=1`: the fragments
//! precis gets wrong, on stderr; `ROUNDS=N`: rounds of the throughput run (default 20; with
//! `PATHS_ONLY`, passes over the lines, default 1).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use precis_text::language::LanguageDetector;

fn main() {
    let dir = std::env::args().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("devdata/langid"),
        PathBuf::from,
    );
    let mut samples: Vec<(String, String)> = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "txt"))
        .collect();
    entries.sort();
    for path in entries {
        let code = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or_default()
            .to_string();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
        samples.extend(
            text.lines()
                .filter(|line| !line.trim().is_empty())
                .map(|line| (code.clone(), line.to_string())),
        );
    }

    // Word pairs of the same lines (the second and third words, or the first two), for the
    // short-text path.
    let pairs: Vec<(String, String)> = samples
        .iter()
        .filter_map(|(code, line)| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let pair = words.get(1..3).or_else(|| words.get(0..2))?;
            Some((code.clone(), pair.join(" ")))
        })
        .collect();

    let started = Instant::now();
    let precis = LanguageDetector::new();
    let setup = started.elapsed();
    println!(
        "detector: built in {:.2} s, tables {} MB",
        setup.as_secs_f64(),
        precis.table_bytes() >> 20
    );
    if std::env::var_os("PATHS_ONLY").is_some() {
        // Speed per stage only (no accuracy): usable on any text.
        // `ROUNDS` repeats the pass (for a profiler: the tables' build then weighs little).
        let rounds: usize = std::env::var("ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(1);
        let mut per_path: BTreeMap<String, (usize, f64)> = BTreeMap::new();
        for _ in 0..rounds {
            for (_, line) in &samples {
                let started = Instant::now();
                let (_, path) = precis.detect_with_trace(line);
                let entry = per_path.entry(format!("{path:?}")).or_default();
                entry.0 += 1;
                entry.1 += started.elapsed().as_secs_f64();
            }
        }
        for (path, (count, seconds)) in per_path {
            println!(
                "{path}: {count} lines, {:.1} µs each, {:.3} s in all",
                seconds / count as f64 * 1e6,
                seconds
            );
        }
        return;
    }
    let lingua = lingua::LanguageDetectorBuilder::from_all_languages().build();

    let mut paths: BTreeMap<String, usize> = BTreeMap::new();
    let (mut precis_right, mut lingua_right, mut agree) = (0usize, 0usize, 0usize);
    let mut wrong: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (code, line) in &samples {
        let (detection, path) = precis.detect_with_trace(line);
        let lingua_code = lingua
            .detect_language_of(line.as_str())
            .map_or("und".to_string(), |language| {
                language.iso_code_639_1().to_string()
            });
        *paths.entry(format!("{path:?}")).or_default() += 1;
        precis_right += usize::from(detection.iso639_1 == *code);
        lingua_right += usize::from(lingua_code == *code);
        agree += usize::from(lingua_code == detection.iso639_1);
        if detection.iso639_1 != *code {
            wrong
                .entry(code.clone())
                .or_default()
                .push(format!("{} (lingua {lingua_code})", detection.iso639_1));
        }
    }

    let (mut pairs_precis, mut pairs_lingua) = (0usize, 0usize);
    for (code, pair) in &pairs {
        pairs_precis += usize::from(precis.detect(pair).iso639_1 == *code);
        pairs_lingua += usize::from(
            lingua
                .detect_language_of(pair.as_str())
                .is_some_and(|language| language.iso_code_639_1().to_string() == *code),
        );
    }
    let (mut singles, mut singles_precis, mut singles_lingua) = (0usize, 0usize, 0usize);
    for (code, line) in &samples {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(word) = words.get(1).or(words.first()) else {
            continue;
        };
        singles += 1;
        singles_precis += usize::from(precis.detect(word).iso639_1 == *code);
        singles_lingua += usize::from(
            lingua
                .detect_language_of(*word)
                .is_some_and(|language| language.iso_code_639_1().to_string() == *code),
        );
    }
    println!(
        "single words: precis {:.2}%  lingua {:.2}%",
        100.0 * singles_precis as f64 / singles as f64,
        100.0 * singles_lingua as f64 / singles as f64
    );
    println!(
        "word pairs: precis {:.2}%  lingua {:.2}%",
        100.0 * pairs_precis as f64 / pairs.len() as f64,
        100.0 * pairs_lingua as f64 / pairs.len() as f64
    );

    // Short fragments of the same lines (their first 3, 4 and 5 words): the short sentences
    // whose scores are often unclear.
    for words_in_fragment in 3..=5 {
        let (mut fragments, mut fragments_precis, mut fragments_lingua) = (0usize, 0usize, 0usize);
        let mut fragment_paths: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for (code, line) in &samples {
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.len() <= words_in_fragment {
                continue;
            }
            let fragment = words[..words_in_fragment].join(" ");
            let (detection, path) = precis.detect_with_trace(&fragment);
            let right = detection.iso639_1 == *code;
            if !right && std::env::var_os("PRINT_FRAGMENT_ERRORS").is_some() {
                eprintln!("{code}\t{}\t{path:?}\t{fragment}", detection.iso639_1);
            }
            let entry = fragment_paths.entry(format!("{path:?}")).or_default();
            entry.0 += 1;
            entry.1 += usize::from(right);
            fragments += 1;
            fragments_precis += usize::from(right);
            fragments_lingua += usize::from(
                lingua
                    .detect_language_of(fragment.as_str())
                    .is_some_and(|language| language.iso_code_639_1().to_string() == *code),
            );
        }
        println!(
            "{words_in_fragment}-word fragments: {fragments}, precis {:.2}%  lingua {:.2}%  (path: lines, right) {fragment_paths:?}",
            100.0 * fragments_precis as f64 / fragments as f64,
            100.0 * fragments_lingua as f64 / fragments as f64
        );
    }

    let bytes: usize = samples.iter().map(|(_, line)| line.len()).sum();
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let started = Instant::now();
    for _ in 0..rounds {
        for (_, line) in &samples {
            std::hint::black_box(precis.detect(line));
        }
    }
    let seconds = started.elapsed().as_secs_f64();

    let total = samples.len() as f64;
    println!("lines: {}", samples.len());
    println!("setup: {:.2} s", setup.as_secs_f64());
    println!(
        "accuracy: precis {:.2}%  lingua {:.2}%  precis = lingua on {:.2}%",
        100.0 * precis_right as f64 / total,
        100.0 * lingua_right as f64 / total,
        100.0 * agree as f64 / total
    );
    println!("paths: {paths:?}");
    println!(
        "throughput: {:.2} MB/s, {:.0} lines/s",
        (bytes * rounds) as f64 / seconds / 1e6,
        (samples.len() * rounds) as f64 / seconds
    );
    for (code, answers) in wrong {
        println!("  {code}: {}", answers.join(", "));
    }
}
