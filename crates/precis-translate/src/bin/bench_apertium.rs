//! Quotes per second through Apertium, English → Spanish, on nine quote-like sentences written for
//! this benchmark. Each round is one article: all nine quotes in one protected batch.
//!
//! Usage: `bench_apertium [rounds] [--show]` (default 50 rounds; `--show` prints the translations).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use precis_translate::apertium::{self, ApertiumConfig};
use precis_translate::{translate_article, FaithfulOptions, QuoteToTranslate, Router};

const QUOTES: [(&str, &str); 9] = [
    (
        "We will not raise taxes on working families this year.",
        "Maria Lopez",
    ),
    (
        "The bridge was closed after engineers found cracks in two of its supports.",
        "Tom Baker",
    ),
    (
        "Our hospitals treated more than 1,200 patients during the storm.",
        "Dr. Amina Yusuf",
    ),
    (
        "I have asked the police to investigate every complaint.",
        "Mayor Chen",
    ),
    (
        "Prices for bread and milk have risen by 8% since January.",
        "Olga Petrova",
    ),
    (
        "The talks in Geneva were difficult, but both sides want an agreement.",
        "Rose Hart",
    ),
    (
        "Nobody expected the river to rise so quickly.",
        "Said Karimi",
    ),
    (
        "We need 3.5 million dollars to rebuild the school.",
        "Ana Silva",
    ),
    (
        "This decision will protect the forest for the next generation.",
        "Will Fraser",
    ),
];

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let show = arguments.iter().any(|argument| argument == "--show");
    let rounds: usize = arguments
        .iter()
        .find_map(|argument| argument.parse().ok())
        .unwrap_or(50);
    let config = ApertiumConfig::default();
    let engines = match apertium::start_installed(&config) {
        Ok(engines) => engines,
        Err(error) => {
            eprintln!("cannot start Apertium: {error}; run the project's setup script");
            return ExitCode::FAILURE;
        }
    };
    let mut router = Router::new();
    for engine in &engines {
        router.register(engine.clone());
    }
    let plan = match router.plan("en", "es") {
        Ok(plan) => plan,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let quotes: Vec<QuoteToTranslate> = QUOTES
        .iter()
        .map(|(text, speaker)| QuoteToTranslate {
            text: text.to_string(),
            speaker: Some(speaker.to_string()),
        })
        .collect();
    let options = FaithfulOptions::default();
    let deadline = || Some(Instant::now() + Duration::from_secs(60));

    // The first batch starts the pipeline; it is timed separately.
    let started = Instant::now();
    let warm = match translate_article(&plan, &quotes, None, &options, deadline()) {
        Ok(warm) => warm,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let cold = started.elapsed();
    let missing: usize = warm
        .quotes
        .iter()
        .map(|quote| quote.missing_terms.len())
        .sum();

    let started = Instant::now();
    for _ in 0..rounds {
        if let Err(error) = translate_article(&plan, &quotes, None, &options, deadline()) {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    }
    let elapsed = started.elapsed();
    let translated_quotes = rounds * quotes.len();
    let route: Vec<&str> = plan
        .route()
        .hops
        .iter()
        .map(|hop| hop.engine_id.as_str())
        .collect();
    println!("engine: {}", route.join(" → "));
    println!(
        "first batch (pipeline start + 9 quotes): {:.1} ms",
        cold.as_secs_f64() * 1000.0
    );
    println!(
        "{translated_quotes} quotes in {rounds} batches of {}: {:.1} ms per batch, {:.0} quotes/s",
        quotes.len(),
        elapsed.as_secs_f64() * 1000.0 / rounds.max(1) as f64,
        translated_quotes as f64 / elapsed.as_secs_f64().max(f64::EPSILON)
    );
    println!("protected terms lost: {missing}");
    if show {
        for quote in &warm.quotes {
            println!("{:?} → {:?}", quote.original, quote.translated);
        }
    }
    ExitCode::SUCCESS
}
